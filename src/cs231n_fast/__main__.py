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
``train``
    Train a course network (``ThreeLayerConvNet`` or ``FullyConnectedNet``) with the
    ``Solver`` on the embedded 8x8 digits (default, no download) or CIFAR-10, showing the
    Solver's progress bar on stderr and, on stdout, one line per epoch (loss, train and
    validation accuracy, time) and a summary (best validation accuracy, test accuracy of the
    best parameters, total time, samples/s); ``--compare`` also times one epoch on each
    backend (fast kernels, NumPy reference) and prints the speed-up. The logic lives in
    :mod:`cs231n_fast.training`. ``--model vae`` or ``--model gan`` instead trains a
    generative model of the digits (:mod:`cs231n_fast.generative`) and writes a PNG grid of
    64 samples (``--out``, default ``samples.png``).
``info``
    Print the version, OpenMP status, thread count and BLAS (:func:`cs231n_fast.show_config`).

Each subcommand is one ``_add_<name>`` function registering its parser and one ``_cmd_<name>``
handler returning the exit code, so new subcommands and options slot in without touching the
others. Exit codes: 0 on success, 2 for a usage error (argparse's ``parser.error``: bad
arguments, with the option meant for a near miss such as ``--dataset``; and anything found
wrong before a run starts, e.g. a missing CIFAR-10 directory, or ``bench`` options that select
no case), 1 when ``bench`` finds a failed implementation.
"""

import argparse
import json
import math
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


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32 - 1], got {value}")
    return value


# --- bench -----------------------------------------------------------------------------------


#: Wall time of each ``bench`` mode on 2 cores, measured once on the project's shared 2-vCPU
#: VM at the lowest priority (nice 19) while other work ran, so approximate and on the slow
#: side (a quieter machine ran --quick in 25 s); also in the README and the benchmarks guide:
#: re-measure when the cases change.
BENCH_RUN_TIMES = (
    ("--quick", "50 s"),
    ("--kernels layers,models --quick", "70 s"),
    ("(no option: conv, pool, knn, lstm, every case)", "48 min"),
    ("--kernels layers,models", "15 min"),
    ("pytest benchmarks --benchmark-only (the pytest-benchmark suite)", "27 min"),
)


def _add_bench(subparsers):
    from .benchmarking import ALL_IMPLS, DEFAULT_KERNELS, DTYPES, KERNELS

    p = subparsers.add_parser(
        "bench",
        epilog=(
            "Expected run time on 2 cores (approximate: measured once at low priority on a "
            "busy shared VM; a quiet machine is faster): "
            + "; ".join(f"{mode}: about {time}" for mode, time in BENCH_RUN_TIMES)
            + ". Options that select no case are a usage error (exit status 2)."
        ),
        help="time the conv, pool, kNN and LSTM kernels, the course layers and whole training "
             "steps against the NumPy reference and peers",
        description=(
            "Time forward + backward of each conv, pool and LSTM case (one step, and a "
            "16-step sequence) for ours (fast), the NumPy reference and torch (when "
            "importable), all at the same thread count, after checking each result once "
            "against the reference; the LSTM step also times its six NumPy products alone "
            "(six_matmuls, the floor of a NumPy step), and ours is timed again against the "
            "floor and torch in settled, interleaved rounds whose median per-round ratio is "
            "reported. kNN cases (pairwise distances, k "
            "nearest neighbours, KNearestNeighbor.predict) compare ours with the reference "
            "and scipy, scikit-learn and faiss (each when importable), timed in interleaved "
            "rounds. The summary table has one row per kernel x case x dtype: median ms of "
            "ours and the spread of ours' calls (mad: median absolute deviation, in % of the "
            "median), the reference and the peer (torch; kNN: the fastest peer), speed-up over "
            "the reference, ours/peer ratio, throughput (effective GFLOP/s; GB/s for pool) "
            "and, for GEMM-bound cases (conv, lstm, kNN L2), the share of this machine's BLAS "
            "GEMM peak, measured in the same run at the same thread count; a row whose timings "
            "scattered is flagged 'noisy: rerun', with the reasons below the table. A second "
            "table details the kNN peers: ratio, neighbour agreement with ours, and peak extra "
            "memory of one call. Opt-in families: layers (forward + backward of each course "
            "layer of issue 13 at its shape, through the course API, against torch with "
            "autograd and the NumPy twin where one exists) and models (a whole training step "
            "-- loss, every gradient, Adam on every parameter -- of the course networks "
            "against the same network in torch); both, and conv's paired shapes, are timed "
            "against torch in settled, interleaved rounds whose median per-round ratio is "
            "reported. Opt-in family features: the HOG + hue-histogram features of assignment "
            "1's features.ipynb over a batch of images, ours against the course's per-image loop. "
            "Opt-in family detection: NMS and box IoU on 10,000 clustered boxes against their "
            "vectorised NumPy twin."
        ),
    )
    p.add_argument("--quick", action="store_true",
                   help="only the quick subset of cases with short timing budgets (under a "
                        "minute for the default kernels)")
    p.add_argument("--dtype", choices=DTYPES, action="append", dest="dtypes",
                   help="dtype to benchmark (repeatable; default: both)")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="thread count for every implementation (default: the kernels' "
                        "default, OpenMP's maximum capped at the usable CPUs)")
    p.add_argument("--kernels", type=_comma_list(KERNELS, "kernel"), default=DEFAULT_KERNELS,
                   metavar="LIST",
                   help=f"comma-separated kernels among {','.join(KERNELS)} (default: "
                        f"{','.join(DEFAULT_KERNELS)}; layers, models, features, detection and attention are opt-in)")
    p.add_argument("--impls", type=_comma_list(ALL_IMPLS, "implementation"), default=ALL_IMPLS,
                   metavar="LIST",
                   help="comma-separated implementations; each case runs those it knows "
                        f"(default: {','.join(ALL_IMPLS)})")
    p.add_argument("--json", metavar="PATH", default=None,
                   help="also write the results and machine information as JSON to PATH")
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="also draw a PNG bar chart of the speed-ups of ours over the "
                        "reference and over the peer (higher is better in both) to PATH (needs "
                        'matplotlib: pip install "cs231n_fast[plot]")')
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


def _selection_text(args, bm, dtypes):
    """The selecting options of a ``bench`` command line, as given."""
    parts = [f"--kernels {','.join(args.kernels)}"]
    if args.quick:
        parts.append("--quick")
    if args.dtypes:
        parts.append(" ".join(f"--dtype {d}" for d in dtypes))
    if tuple(args.impls) != tuple(bm.ALL_IMPLS):
        parts.append(f"--impls {','.join(args.impls)}")
    return " ".join(parts)


def _check_selection(args, bm, dtypes):
    """A usage error (exit 2) when the options select no case; a note on stderr for each
    requested kernel family that selects none while others do."""
    selected = {case.kernel for case, _, _ in bm.plan(args.kernels, args.quick, dtypes,
                                                      args.impls)}
    if not selected:
        what = "\n  ".join(bm.describe_selection(args.kernels, args.quick))
        args.parser.error(
            f"{_selection_text(args, bm, dtypes)} selects no benchmark case; what each family "
            f"can run:\n  {what}"
        )
    for kernel in args.kernels:
        if kernel not in selected:
            (line,) = bm.describe_selection((kernel,), args.quick)
            print(f"note: no {kernel} case matches the options ({line})", file=sys.stderr)


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
    dtypes = tuple(dict.fromkeys(args.dtypes)) if args.dtypes else bm.DTYPES
    _check_selection(args, bm, dtypes)
    # Taken before the run, so the load average shows what else the machine was doing.
    machine = bm.machine_info(args.threads) if args.json else None
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


# --- train -----------------------------------------------------------------------------------


def _per_dataset(attribute, fmt="{}"):
    """A default of :data:`cs231n_fast.training.DEFAULTS` for --help: 'V' when every dataset
    has the same, else 'V1 for digits, V2 for cifar10'."""
    from .training import DEFAULTS

    values = {name: fmt.format(getattr(d, attribute)) for name, d in DEFAULTS.items()}
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    return ", ".join(f"{value} for {name}" for name, value in values.items())


def _add_train(subparsers):
    from .generative import MODELS as GENERATIVE_MODELS
    from .training import BACKENDS, DATASETS, MODELS

    p = subparsers.add_parser(
        "train",
        help="train a course network with the Solver (embedded digits by default)",
        description=(
            "Train ThreeLayerConvNet (convnet) or FullyConnectedNet (fc: two hidden layers of "
            "100 with batch normalisation) with the course's Solver and Adam, on the embedded "
            "8x8 handwritten digits (default; no download) or CIFAR-10. The Solver's progress "
            "bar goes to stderr; stdout gets one line per epoch (mean loss, train and "
            "validation accuracy, wall time) and a summary: the best validation accuracy, the "
            "test accuracy of the best parameters, the total time and the training samples/s. "
            "Defaults per dataset: digits trains a convnet with 32 3x3 filters and 100 hidden "
            "units for 10 epochs (batch 50, learning rate 3e-3 decayed by 0.9 per epoch, one "
            "thread) to about 97% validation accuracy in a few seconds; cifar10 uses the "
            "course's notebook settings (32 7x7 filters, 500 hidden units, reg 1e-3; one "
            "epoch, batch 50, learning rate 1e-3, all usable CPUs). Exit status 0 on success, "
            "2 for bad arguments or a missing or damaged CIFAR-10 directory (reported before "
            "training)."
        ),
    )
    p.add_argument("--data", choices=DATASETS, default="digits",
                   help="dataset (default: digits, embedded in the package)")
    p.add_argument("--root", metavar="PATH", default=None,
                   help="CIFAR-10 directory cifar-10-batches-py (default: $CS231N_CIFAR10_ROOT, "
                        "else cs231n/datasets/cifar-10-batches-py); only with --data cifar10")
    p.add_argument("--model", choices=MODELS + GENERATIVE_MODELS, default="convnet",
                   help="convnet: ThreeLayerConvNet; fc: FullyConnectedNet [100, 100] with "
                        "batchnorm; vae, gan: a generative model of the digits "
                        "(cs231n_fast.generative) that writes a PNG grid of samples, see --out "
                        "(default: convnet)")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="only with --model vae or gan: the PNG grid of 64 samples to write "
                        "(default: samples.png)")
    p.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                   help=f"epochs (default: {_per_dataset('epochs')})")
    p.add_argument("--backend", choices=BACKENDS, default="fast",
                   help="the convnet's conv and pool: fast (compiled kernels) or reference "
                        "(the NumPy twin); the fc model has only fast (default: fast)")
    p.add_argument("--compare", action="store_true",
                   help="after training, time one epoch on each backend (fresh models with "
                        "the same initial weights and minibatches; interleaved rounds, each "
                        f"backend's best kept: {_per_dataset('compare_rounds')}) and print their "
                        "step times and the speed-up of fast over reference; for fc, which has "
                        "no conv or pool, say the backends are identical (slow for cifar10: the "
                        "reference runs a whole epoch; combine with --num-train)")
    p.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                   help=f"minibatch size (default: {_per_dataset('batch_size')})")
    p.add_argument("--lr", type=_positive_float, default=None, metavar="X",
                   help=f"Adam's learning rate (default: {_per_dataset('learning_rate', '{:g}')}"
                        "), multiplied after each epoch by "
                        f"{_per_dataset('lr_decay', '{:g}')}")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="limit BLAS and OpenMP to N threads for the run (default: 1 for digits, "
                        "whose 8x8 images make products too small to share; all usable CPUs "
                        "for cifar10)")
    p.add_argument("--seed", type=_seed, default=0, metavar="S",
                   help="seed of the initial weights and the minibatches (default: 0)")
    p.add_argument("--num-train", type=_positive_int, default=None, metavar="N",
                   help="train on the first N training images only (default: all: 1297 for "
                        "digits, 49000 for cifar10)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar, header or epoch lines: print only the summary (and "
                        "the comparison)")
    p.set_defaults(func=_cmd_train, parser=p)


def _cmd_train(args):
    from . import training
    from ._threads import effective_n_threads

    parser = args.parser
    if args.model in ("vae", "gan"):
        return _cmd_train_generative(args)
    if args.out is not None:
        parser.error(f"argument --out: only used with --model vae or gan, not {args.model}")
    if args.root is not None and args.data != "cifar10":
        parser.error("argument --root: only used with --data cifar10")
    if args.backend != "fast" and not training.has_backends(args.model):
        parser.error(
            f"argument --backend: {args.backend} needs --model convnet ({args.model} has no "
            "convolution or pooling, so it only runs one way)"
        )
    available = training.available_train(args.data)
    if args.num_train is not None and args.num_train > available:
        parser.error(f"argument --num-train: at most {available} for --data {args.data}, got "
                     f"{args.num_train}")
    try:
        data = training.load_data(args.data, root=args.root, num_train=args.num_train)
    except (FileNotFoundError, ValueError) as exc:  # no or damaged CIFAR-10 files
        parser.error(f"--data {args.data}: {exc}")

    defaults = training.DEFAULTS[args.data]

    def given(value, default):
        return default if value is None else value

    options = dict(
        epochs=given(args.epochs, defaults.epochs),
        batch_size=given(args.batch_size, defaults.batch_size),
        learning_rate=given(args.lr, defaults.learning_rate),
        lr_decay=defaults.lr_decay,
        seed=args.seed,
    )
    progress = not args.quiet
    with training.limit_threads(given(args.threads, defaults.n_threads)):
        if progress:
            print(training.format_header(args.model, args.data, data, backend=args.backend,
                                         n_threads=effective_n_threads(), **options), flush=True)
        model = training.build_model(args.model, args.data, data["X_train"].shape[1:],
                                     backend=args.backend, seed=args.seed)
        result = training.train(
            model, data, progress=progress, **options,
            on_epoch=(lambda stats: print(training.format_epoch(stats), flush=True))
            if progress else None,
        )  # fmt: skip
        print(training.format_summary(result), flush=True)
        if args.compare:
            print(_compare_backends(args, data, options, defaults.compare_rounds))
    return 0


def _cmd_train_generative(args):
    """``train --model vae|gan``: fit on all 1797 digits (or --num-train), write --out."""
    import time

    import numpy as np

    from . import generative, training
    from ._threads import effective_n_threads
    from .data import load_digits

    parser = args.parser
    for option, bad in (("--data", args.data != "digits"), ("--root", args.root is not None),
                        ("--compare", args.compare), ("--backend", args.backend != "fast")):
        if bad:
            parser.error(f"argument {option}: not used with --model {args.model}, which trains "
                         "on the embedded digits with the fast kernels")
    out = "samples.png" if args.out is None else args.out
    if not out.lower().endswith(".png"):
        parser.error(f"argument --out: must name a .png file; got {out!r}")
    _check_writable(args, "--out", out)
    X, _ = load_digits()
    if args.num_train is not None:
        if args.num_train > X.shape[0]:
            parser.error(f"argument --num-train: at most {X.shape[0]} for --model {args.model}, "
                         f"got {args.num_train}")
        X = X[: args.num_train]
    d = generative.DEFAULTS[args.model]
    epochs = d["epochs"] if args.epochs is None else args.epochs
    batch_size = d["batch_size"] if args.batch_size is None else args.batch_size
    lr = d["learning_rate"] if args.lr is None else args.lr
    progress = not args.quiet
    start = time.perf_counter()
    last = [start]

    def on_epoch(epoch, losses):
        now = time.perf_counter()
        print(generative.format_epoch(epoch, epochs, losses, now - last[0]), flush=True)
        last[0] = now

    with training.limit_threads(1 if args.threads is None else args.threads):
        if progress:
            print(f"train {args.model} on digits: {X.shape[0]} images of 1x8x8; "
                  f"{effective_n_threads()} thread(s)\nadam, learning rate {lr:g}; batch size "
                  f"{batch_size}; {epochs} epoch(s); seed {args.seed}", flush=True)
        model = generative.build_model(args.model, seed=args.seed)
        history = generative.fit(model, X, epochs=epochs, batch_size=batch_size,
                                 learning_rate=lr, seed=args.seed,
                                 on_epoch=on_epoch if progress else None,
                                 n_threads=None)  # limited above, to --threads
        grid = generative.sample_grid(model.sample(64, seed=args.seed), nrow=8, scale=4)
    generative.write_png(out, grid)
    final = ", ".join(f"{k.replace('_', ' ')} {v[-1]:.4f}" for k, v in history.items())
    print(f"final {final}; total {time.perf_counter() - start:.2f} s\n"
          f"wrote {out}: 64 samples, {grid.shape[1]}x{grid.shape[0]} pixels", flush=True)
    return 0


def _compare_backends(args, data, options, rounds):
    """The --compare report: one epoch on each backend, timed after the run."""
    from . import training

    if not training.has_backends(args.model):
        return (f"compare backends: the {args.model} model has no convolution or pooling, so "
                "the fast and reference backends run the same NumPy code (nothing to compare)")
    if not args.quiet:
        print(f"timing one epoch on each backend, {rounds} round(s)", file=sys.stderr,
              flush=True)
    seconds = training.compare_backends(
        args.model, args.data, data, batch_size=options["batch_size"],
        learning_rate=options["learning_rate"], seed=args.seed, rounds=rounds,
        progress=not args.quiet,
    )  # fmt: skip
    return training.format_comparison(seconds, rounds)


# --- info ------------------------------------------------------------------------------------


def _add_info(subparsers):
    p = subparsers.add_parser(
        "info",
        help="print version, OpenMP status, threads and BLAS",
        description="Print the version, OpenMP status, kernel thread count and loaded BLAS.",
    )
    p.set_defaults(func=_cmd_info, parser=p)


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
        description=(
            "Fast Cython+OpenMP kernels for CS231n: benchmarks, training runs and build "
            "information."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_bench(subparsers)
    _add_train(subparsers)
    _add_info(subparsers)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Invalid arguments make argparse print usage and raise ``SystemExit(2)``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    commands = tuple(next(a.choices for a in parser._actions
                          if isinstance(a, argparse._SubParsersAction)))
    if argv and not argv[0].startswith("-") and argv[0] not in commands:
        import difflib

        near = difflib.get_close_matches(argv[0], commands, n=1, cutoff=0.5)
        parser.error(f"unknown command {argv[0]!r} (choose from {', '.join(commands)})"
                     + (f"; did you mean {near[0]}?" if near else ""))
    args, extras = parser.parse_known_args(argv)
    if extras:
        args.parser.error(_unrecognized(args.parser, extras))
    args.argv = argv
    return args.func(args)


def _unrecognized(parser, extras):
    """argparse's "unrecognized arguments" message, with the option meant for each near miss
    (``--dataset`` -> ``--data``)."""
    import difflib

    options = sorted({o for action in parser._actions for o in action.option_strings
                      if o.startswith("--")})
    hints = []
    for arg in extras:
        if not arg.startswith("--"):
            continue
        name = arg.split("=", 1)[0]
        # A longer spelling of an option (--dataset, --kernel-list) or a near miss (--thread).
        matches = [o for o in options if name.startswith(o) and len(o) > 3]
        matches = matches or difflib.get_close_matches(name, options, n=2, cutoff=0.6)
        if matches:
            hints.append(f"{name}: did you mean {' or '.join(matches)}?")
    message = f"unrecognized arguments: {' '.join(extras)}"
    return message + ("; " + "; ".join(hints) if hints else "")


if __name__ == "__main__":
    sys.exit(main())
