"""Command line: ``cs231n-fast`` (or ``python -m cs231n_fast``).

Subcommands
-----------
``bench``
    Time forward + backward of the conv, pool and LSTM cases for ``fast`` (ours),
    ``reference`` (the NumPy twin) and ``torch`` (plus, for the LSTM step, ``six_matmuls``:
    its six products alone), and the kNN cases (distances, neighbours, ``predict``) for ours,
    the twin, scipy, scikit-learn and faiss, at one thread count, together with this
    machine's BLAS GEMM peak, and print the tables; ``--json`` also writes the results with
    machine information, ``--plot`` a PNG chart (needs matplotlib: the ``plot`` extra). The
    cases live in :mod:`cs231n_fast.benchmarking`.
``info``
    Print the version, OpenMP status, thread count and BLAS (:func:`cs231n_fast.show_config`).

Each subcommand is one ``_add_<name>`` function registering its parser and one ``_cmd_<name>``
handler returning the exit code, so new subcommands and options slot in without touching the
others.
"""

import argparse
import json
import os
import sys
from datetime import datetime, timezone


def _comma_list(choices, what):
    """An argparse type: a comma-separated subset of ``choices``, order kept, no repeats."""

    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {what}")
        bad = [t for t in items if t not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"invalid {what} {', '.join(map(repr, bad))} (choose from {', '.join(choices)})"
            )
        return tuple(dict.fromkeys(items))

    return parse


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


# --- bench -----------------------------------------------------------------------------------


def _add_bench(subparsers):
    from .benchmarking import ALL_IMPLS, DTYPES, KERNELS

    p = subparsers.add_parser(
        "bench",
        help="time the conv, pool, kNN and LSTM kernels against the NumPy reference and peers",
        description=(
            "Time forward + backward of each conv, pool and LSTM case (one step, and a "
            "16-step sequence) for ours (fast), the NumPy reference and torch (when "
            "importable), all at the same thread count, after checking each result once "
            "against the reference; the LSTM step also times its six NumPy products alone "
            "(six_matmuls, the floor of a NumPy step). kNN cases (pairwise distances, k "
            "nearest neighbours, KNearestNeighbor.predict) compare ours with the reference "
            "and scipy, scikit-learn and faiss (each when importable), timed in interleaved "
            "rounds. The summary table has one row per kernel x case x dtype: median ms of "
            "ours, the reference and the peer (torch; kNN: the fastest peer), speed-up over "
            "the reference, ours/peer ratio, throughput (effective GFLOP/s; GB/s for pool) "
            "and, for GEMM-bound cases (conv, lstm, kNN L2), the share of this machine's BLAS "
            "GEMM peak, measured in the same run at the same thread count. A second table "
            "details the kNN peers: ratio, neighbour agreement with ours, and peak extra "
            "memory of one call."
        ),
    )
    p.add_argument("--quick", action="store_true",
                   help="only the quick subset of cases with short timing budgets (< 1 min)")
    p.add_argument("--dtype", choices=DTYPES, action="append", dest="dtypes",
                   help="dtype to benchmark (repeatable; default: both)")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="thread count for every implementation (default: the kernels' "
                        "default, OpenMP's maximum capped at the usable CPUs)")
    p.add_argument("--kernels", type=_comma_list(KERNELS, "kernel"), default=KERNELS,
                   metavar="LIST", help=f"comma-separated kernels (default: {','.join(KERNELS)})")
    p.add_argument("--impls", type=_comma_list(ALL_IMPLS, "implementation"), default=ALL_IMPLS,
                   metavar="LIST",
                   help="comma-separated implementations; each case runs those it knows "
                        f"(default: {','.join(ALL_IMPLS)})")
    p.add_argument("--json", metavar="PATH", default=None,
                   help="also write the results and machine information as JSON to PATH")
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="also draw a PNG bar chart of the speed-ups over the reference and "
                        "the ours/peer ratios to PATH (needs matplotlib: "
                        'pip install "cs231n_fast[plot]")')
    p.add_argument("--repeat", type=_positive_int, default=None, metavar="N",
                   help="time exactly N calls per implementation (kNN: N rounds) instead of "
                        "filling a time budget (for smoke tests, e.g. --repeat 1; timings get "
                        "noisy)")
    p.add_argument("--seed", type=int, default=0, help="seed of the input generator (default 0)")
    p.set_defaults(func=_cmd_bench, parser=p)


def _check_writable(args, option, path):
    """Exit with a usage error now, not after the run, if ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        args.parser.error(f"argument {option}: cannot write to {path!r}")


def _cmd_bench(args):
    from . import benchmarking as bm

    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path:
            _check_writable(args, option, path)
    if args.plot:
        try:
            bm.require_matplotlib()
        except ImportError as exc:
            args.parser.error(f"argument --plot: {exc}")
    # Taken before the run, so the load average shows what else the machine was doing.
    machine = bm.machine_info(args.threads) if args.json else None
    dtypes = tuple(dict.fromkeys(args.dtypes)) if args.dtypes else bm.DTYPES
    gemm_peaks = {}  # filled by the run: the BLAS GEMM peak of each dtype it needs
    results = bm.run(
        quick=args.quick,
        dtypes=dtypes,
        n_threads=args.threads,
        impls=args.impls,
        kernels=args.kernels,
        repeat=args.repeat,
        seed=args.seed,
        progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True),
        gemm_peaks=gemm_peaks,
    )
    print(bm.format_table(results))
    if args.plot:
        bm.plot_results(results, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.json:
        n_threads = results[0]["n_threads"] if results else args.threads
        document = {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": ["cs231n-fast"] + list(args.argv),
            "config": {
                "quick": args.quick,
                "dtypes": list(dtypes),
                "n_threads": n_threads,
                "kernels": list(args.kernels),
                "impls": list(args.impls),
                "repeat": args.repeat,
                "seed": args.seed,
            },
            "machine": {
                **machine,
                "n_threads": n_threads,
                "gemm_peak_gflops": {d: p["gflops"] for d, p in gemm_peaks.items()},
            },
            "gemm_peak": gemm_peaks,
            "results": results,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2, allow_nan=False, default=str)
            f.write("\n")
        print(f"wrote {args.json}", file=sys.stderr)
    failed = bm.failures(results)
    if failed:
        print(f"{len(failed)} implementation run(s) failed their correctness check or raised",
              file=sys.stderr)
        return 1
    return 0


# --- info ------------------------------------------------------------------------------------


def _add_info(subparsers):
    p = subparsers.add_parser(
        "info",
        help="print version, OpenMP status, threads and BLAS",
        description="Print the version, OpenMP status, kernel thread count and loaded BLAS.",
    )
    p.set_defaults(func=_cmd_info)


def _cmd_info(args):
    from . import show_config

    show_config()
    return 0


# --- entry point -----------------------------------------------------------------------------


def build_parser():
    """The ``cs231n-fast`` argument parser with every subcommand."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="cs231n-fast",
        description="Fast Cython+OpenMP kernels for CS231n: benchmarks and build information.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_bench(subparsers)
    _add_info(subparsers)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Invalid arguments make argparse print usage and raise ``SystemExit(2)``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
