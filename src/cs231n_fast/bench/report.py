"""The results as text tables (:func:`format_table`) and as a PNG chart (:func:`plot_results`)."""

import math

from . import machine
from ._common import KNN_PEERS
from .machine import _cpu_model, blas_vendor
from .results import NOISY_MAD, NOISY_MEDIAN_OVER_MIN, failures

#: The flag of a row whose timings scattered (see :data:`.results.NOISY_MAD`).
NOISY_NOTE = "noisy: rerun"


def _cell_ms(r, impl):
    e = r["impls"].get(impl)
    if e is None:
        return "-"
    if e["status"] == "ok":
        return f"{e['median_ms']:.2f}"
    return {"skipped": "n/a", "mismatch": "WRONG", "error": "ERROR"}[e["status"]]


def _layout(header, rows, left):
    """Fixed-width lines: the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]

    def line(row):
        return "  ".join(
            str(v).ljust(wd) if i < left else str(v).rjust(wd)
            for i, (v, wd) in enumerate(zip(row, widths))
        ).rstrip()

    return [line(header), line(["-" * wd for wd in widths])] + [line(row) for row in rows]


def _fmt(value, spec, suffix=""):
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _format_summary(results):
    """One row per case × dtype of every kernel: ours against the reference and the peer."""
    header = ("kernel", "case", "dtype", "ours ms", "mad", "ref ms", "peer", "peer ms",
              "vs ref", "ours/peer", "ours rate", "% peak", "note")
    rows, floors, noisy = [], [], []
    for r in results:
        rate, share, peer = r["rate"], r.get("blas_peak_share"), r.get("peer")
        spread = r.get("spread") or {}
        mad = spread.get("mad_pct")
        rows.append((
            r["kernel"], r["case"], r["dtype"],
            _cell_ms(r, "fast"),
            "-" if mad is None or (spread.get("samples") or 0) < 2 else f"{mad:.0f}%",
            _cell_ms(r, "reference"),
            peer or "-", _cell_ms(r, peer) if peer else "-",
            _fmt(r["speedup_vs_reference"], ".1f", "x"),
            _fmt(r.get("ratio_vs_peer"), ".2f"),
            f"{rate['value']:.1f} {rate['unit']}" if rate else "-",
            _fmt(None if share is None else 100 * share, ".0f", "%"),
            NOISY_NOTE if r.get("noisy") else "",
        ))
        if r.get("noisy"):
            noisy.append(f"{NOISY_NOTE}: {r['case']} {r['dtype']}: {'; '.join(r['noisy'])}")
        if r.get("ratio_vs_floor") is not None:
            floors.append(f"floor of {r['case']} {r['dtype']}: six_matmuls "
                          f"{_cell_ms(r, 'six_matmuls')} ms, ours/floor "
                          f"{r['ratio_vs_floor']:.2f}")
        # kNN rows have their own paired table (format_knn); these are the settled LSTM rounds.
        for impl, p in (r.get("paired_ratios") or {} if r["kernel"] != "knn" else {}).items():
            floors.append(f"paired {r['case']} {r['dtype']}: ours/{impl} median "
                          f"{p['median']:.3f} (range {p['min']:.3f}-{p['max']:.3f}, "
                          f"{p['rounds']} settled rounds)")
    out = _layout(header, rows, left=3)
    threads = sorted({r["n_threads"] for r in results})
    peaks = {r["dtype"]: r["gemm_peak_gflops"] for r in results
             if r.get("gemm_peak_gflops") is not None}
    out.append("")
    out.append(
        f"threads: {', '.join(map(str, threads)) or '-'}; median of repeats (conv, pool, "
        "lstm, layers: forward + backward; models: a whole training step); vs ref = reference ms / ours ms; ours/peer < 1: ours "
        "faster (peer: torch; kNN: the fastest of scipy, sklearn, faiss; kNN, lstm, layers, "
        "models and the conv rows listed as paired below: median of paired rounds)"
    )
    out.append(
        "mad: median absolute deviation of ours' timed calls, in % of their median. "
        f"{NOISY_NOTE}: the calls or paired rounds behind a figure of the row scattered "
        f"(MAD above {100 * NOISY_MAD:.0f}% of the median, or the median above "
        f"{NOISY_MEDIAN_OVER_MIN:g}x the fastest call): something else was using the CPU; "
        "rerun on a quieter machine (without --quick for more repeats)"
    )
    if peaks:
        m, k, n = machine.GEMM_PEAK_SHAPE
        figures = ", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in sorted(peaks.items()))
        out.append(
            f"BLAS GEMM peak (numpy matmul {m}x{k}x{n}, same threads, median): {figures}; "
            "% peak = ours effective GFLOP/s / the peak of the row's dtype (GEMM-bound "
            "cases: conv, lstm, kNN L2)"
        )
    return out + floors + noisy


def _format_knn(results):
    """One row per kNN case × dtype × peer; ours, the reference and ours' memory on the first."""
    header = ("case", "dtype", "ours ms", "ref ms", "vs ref", "ours MB",
              "peer", "peer ms", "ours/peer", "mad", "agree", "peer MB")

    def mb(e):
        return f"{e['extra_mb']:.0f}" if e and e.get("extra_mb") is not None else "-"

    rows, notes = [], []
    for r in results:
        speedup = r["speedup_vs_reference"]
        ours = r["impls"].get("fast")
        first = [r["case"], r["dtype"], _cell_ms(r, "fast"), _cell_ms(r, "reference"),
                 f"{speedup:.1f}x" if speedup else "-", mb(ours)]
        peers = [p for p in KNN_PEERS if p in r["impls"]] or [None]
        for i, peer in enumerate(peers):
            lead = first if i == 0 else [""] * len(first)
            if peer is None:
                rows.append(tuple(lead) + ("-",) * 6)
                continue
            e = r["impls"][peer]
            paired = r["paired_ratios"].get(peer)
            ratio = paired["median"] if paired else r["ratios_vs_peers"].get(peer)
            spread = "-"
            if paired and paired["rounds"] > 1 and paired["median"] > 0:
                spread = f"{100 * paired['mad'] / paired['median']:.0f}%"
            agree = e.get("agreement")
            rows.append(tuple(lead) + (
                peer + ("*" if peer == r.get("best_peer") else ""),
                _cell_ms(r, peer),
                f"{ratio:.2f}" if ratio else "-",
                spread,
                f"{agree:.3f}" if agree is not None else "-",
                mb(e),
            ))
        if ours and ours.get("agreement") is not None and ours["agreement"] < 1:
            notes.append(f"note: ours shares {ours['agreement']:.4f} of neighbours/labels with "
                         f"the reference on {r['case']} {r['dtype']}")
    out = _layout(header, rows, left=2)
    threads = sorted({r["n_threads"] for r in results})
    out.append("")
    out.append(
        f"threads: {', '.join(map(str, threads)) or '-'}; ours/peer = median over interleaved "
        "rounds of ours ms / peer ms (< 1: ours faster; * the fastest peer), mad = its median "
        "absolute deviation over rounds; "
        "ref ms: one call; agree = share of the k neighbour indices (predict: labels) equal to "
        "ours; MB = peak RSS above the level before one call"
    )
    return out + notes


def format_table(results):
    """The results as fixed-width text tables, one row per kernel × case × dtype.

    Every row appears in the summary table (ours, reference and peer ms, speed-up over the
    reference, ours/peer, ours' rate and share of the BLAS GEMM peak; the peaks and the LSTM
    floors below it); kNN rows also get a detail table, one row per peer.
    """
    knn = [r for r in results if r["kernel"] == "knn"]
    blocks = [_format_summary(results)]
    if knn:
        blocks.append(_format_knn(knn))
    out = []
    for i, block in enumerate(blocks):
        if i:
            out.append("")
        out += block
    for case, dtype, impl, status, reason in failures(results):
        out.append(f"{status.upper()}: {impl} on {case} {dtype}: {reason}")
    return "\n".join(out)


# --- the chart -------------------------------------------------------------------------------

#: How to get what :func:`plot_results` needs.
PLOT_INSTALL_HINT = 'pip install "cs231n_fast[plot]"'


def require_matplotlib():
    """Import what :func:`plot_results` needs: ``(Figure, FigureCanvasAgg)``.

    Raises
    ------
    ImportError
        If matplotlib is not importable; the message says how to install it.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            f"plotting needs matplotlib, which is not importable ({exc}); "
            f"install it with: {PLOT_INSTALL_HINT}"
        ) from exc
    return Figure, FigureCanvasAgg


_FASTER, _SLOWER = "#2a9d8f", "#e76f51"  # bar colours: ours faster / ours slower


def _why_missing(r, impl, what):
    """Why a row has no speed-up over ``impl`` (the reference or the peer) in the chart."""
    ours = r["impls"].get("fast")
    if ours is None or ours.get("status") != "ok":
        return "ours did not run" if ours is None else f"ours {ours['status']}"
    if impl is None:
        if r["kernel"] == "knn":
            tried = [p for p in KNN_PEERS if p in r["impls"]]
            return ("no kNN peer ran (" + ", ".join(tried) + " not importable)" if tried
                    else "no kNN peer in this run")
        return f"no {what} in this run"
    e = r["impls"].get(impl)
    if e is None:
        return f"no {what} in this run"
    if e.get("status") == "skipped":
        return f"{impl} skipped"
    if e.get("status") in ("mismatch", "error"):
        return f"{impl} {e['status']}"
    return "n/a"


def chart_data(results):
    """What :func:`plot_results` draws: ``(labels, panels)``, one label per row of
    ``results`` (every family, in order) and two panels, each ``(title, xlabel, values,
    notes)`` with one value per row: the speed-up of ours over the NumPy reference
    (reference ms / ours ms) and over the peer (peer ms / ours ms, the inverse of the table's
    ours/peer). Both read the same way: above 1, ours is faster. A missing value is None and
    its note says why (e.g. "no reference in this run", "torch skipped"). A row flagged
    noisy (see :data:`NOISY_NOTE`) has "(noisy)" in its label."""
    labels = [f"{r['kernel']}  {r['case']}  {r['dtype']}" + ("  (noisy)" if r.get("noisy") else "")
              for r in results]
    versus_ref, ref_notes, versus_peer, peer_notes = [], [], [], []
    for r in results:
        speedup = r.get("speedup_vs_reference")
        versus_ref.append(speedup if speedup else None)
        ref_notes.append("" if speedup else _why_missing(r, "reference", "reference"))
        ratio, peer = r.get("ratio_vs_peer"), r.get("peer")
        if ratio and ratio > 0:
            versus_peer.append(1.0 / ratio)
            peer_notes.append(f" vs {peer}")
        else:
            versus_peer.append(None)
            peer_notes.append(_why_missing(r, peer, "peer"))
    panels = [
        ("Speed-up over the NumPy reference", "reference ms / ours ms  (> 1: ours faster)",
         versus_ref, ref_notes),
        ("Speed-up over the peer (torch; kNN: the fastest of scipy, scikit-learn, faiss)",
         "peer ms / ours ms  (> 1: ours faster)", versus_peer, peer_notes),
    ]
    return labels, panels


def _ratio_panel(ax, values, notes, title, xlabel):
    """Horizontal bars from 1 to each value on a log axis (right of 1: ours faster), each
    annotated; a missing value gets its note instead."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    present = [v for v in values if v is not None and v > 0]
    lo, hi = math.log10(min(present + [1.0])), math.log10(max(present + [1.0]))
    pad = max(0.6, 0.3 * (hi - lo))  # decades of room on each side for the annotations
    ax.set_xscale("log")
    ax.set_xlim(10 ** (lo - pad), 10 ** (hi + pad))
    for y, (value, note) in enumerate(zip(values, notes)):
        if value is None or value <= 0:
            ax.text(1.0, y, f"  n/a: {note}", va="center", ha="left", fontsize=8, color="0.45")
            continue
        ax.barh(y, value - 1.0, left=1.0, height=0.62, color=_FASTER if value > 1 else _SLOWER)
        figure = f"{value:.2g}" if value < 0.1 else f"{value:.2f}" if value < 10 else f"{value:.0f}"
        ax.text(value, y, f" {figure}{note} ", va="center",
                ha="left" if value >= 1 else "right", fontsize=8)
    ax.axvline(1.0, color="0.2", linewidth=1.0)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    # Label 1-2-5 steps on a narrow axis (a few decades), powers of ten on a wide one.
    subs = (1.0, 2.0, 5.0) if hi - lo + 2 * pad <= 3 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", which="major", color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)


def plot_results(results, path, title=None):
    """Write a PNG bar chart of ``results`` (as :func:`run` returns them) to ``path``.

    One horizontal bar per row (case × dtype, every family) in two panels on log axes, each
    with a line at 1 and read the same way, right of 1 (green) when ours is faster: the
    speed-up over the NumPy reference (reference ms / ours ms) and over the peer (peer ms /
    ours ms, the peer named), as :func:`chart_data` computes them. Bars are annotated with
    their values; a missing figure reads "n/a" with the reason. Drawn with matplotlib's Agg
    canvas, without pyplot, so no display and no global state is touched.

    Raises
    ------
    ImportError
        If matplotlib is not importable (see :func:`require_matplotlib`).
    """
    Figure, FigureCanvasAgg = require_matplotlib()
    labels, panels = chart_data(results)

    fig = Figure(figsize=(15, 1.8 + 0.36 * max(len(results), 1)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), sharey=True)
    for ax, (panel_title, xlabel, values, notes) in zip(axes, panels):
        _ratio_panel(ax, values, notes, panel_title, xlabel)
    left = axes[0]
    left.set_yticks(range(len(results)), labels, fontsize=8)
    left.set_ylim(len(results) - 0.5, -0.5)  # first case on top
    if not results:
        left.text(1.0, 0.0, "no results", ha="center", va="center")
    if title is None:
        threads = ", ".join(map(str, sorted({r["n_threads"] for r in results}))) or "-"
        title = f"cs231n-fast bench: {threads} thread(s), {_cpu_model()}, {blas_vendor()}"
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, format="png", dpi=110)
