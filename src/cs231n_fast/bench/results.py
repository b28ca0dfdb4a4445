"""One result row per case x dtype: ratios, rates, the GEMM peak share, the spread and the
noise flag; and the failures."""

from dataclasses import asdict

#: A row is flagged "noisy: rerun" (:func:`_with_spread`) when one of the implementations its
#: figures come from (ours, the reference, the peer), timed over at least
#: :data:`NOISY_MIN_SAMPLES` calls or rounds, has a median absolute deviation above
#: ``NOISY_MAD`` of its median, or a median above ``NOISY_MEDIAN_OVER_MIN`` times its fastest
#: call (most calls were slowed: something else was running); or when the paired per-round
#: ratios it reports have a median absolute deviation above ``NOISY_MAD`` of their median.
NOISY_MAD = 0.10
NOISY_MEDIAN_OVER_MIN = 1.5
NOISY_MIN_SAMPLES = 3


def _rate(case, dtype, ms):
    if ms is None or ms <= 0:
        return None
    work = case.work(dtype)
    if "flops" in work:
        return {"unit": "GFLOP/s", "value": work["flops"] / (ms * 1e-3) / 1e9}
    if "bytes" in work:
        return {"unit": "GB/s", "value": work["bytes"] / (ms * 1e-3) / 1e9}
    return None  # no nominal work (layers, training steps): the ratios are the figures


def _case_dtypes(case, dtypes, quick):
    return [d for d in dtypes if d in case.dtypes and (not quick or d in case.quick_dtypes)]


def _case_impls(case, impls, quick):
    return [i for i in impls if i in case.impls and (not quick or i in case.quick_impls)]


def _result(case, dtype, n_threads, entries, paired=None):
    def ms(impl):
        e = entries.get(impl)
        return e["median_ms"] if e and e.get("status") == "ok" else None

    ours, ref, torch = ms("fast"), ms("reference"), ms("torch")
    for impl, e in entries.items():
        if e.get("status") == "ok":
            e["rate"] = _rate(case, dtype, e["median_ms"])
    result = {
        "kernel": case.kernel,
        "case": case.id,
        "dtype": dtype,
        "n_threads": n_threads,
        "quick": case.quick,
        "params": asdict(case),
        "work": case.work(dtype),
        "impls": entries,
        "speedup_vs_reference": ref / ours if ours and ref else None,
        "peer": "torch" if "torch" in entries else None,
        "ratio_vs_peer": ours / torch if ours and torch else None,
        "ratio_vs_torch": ours / torch if ours and torch else None,
        "rate": _rate(case, dtype, ours),
    }
    if "six_matmuls" in entries:
        floor = ms("six_matmuls")
        result["ratio_vs_floor"] = ours / floor if ours and floor else None
    if paired:  # the paired medians replace the ratios of separately timed medians
        result["paired_ratios"] = paired
        result["unpaired_ratio_vs_peer"] = result["ratio_vs_peer"]
        if "torch" in paired:
            result["ratio_vs_peer"] = result["ratio_vs_torch"] = paired["torch"]["median"]
        if "six_matmuls" in paired:
            result["unpaired_ratio_vs_floor"] = result.get("ratio_vs_floor")
            result["ratio_vs_floor"] = paired["six_matmuls"]["median"]
    return result


def _with_gemm_share(case, result, peak):
    """``result`` with the GEMM peak of its dtype and, for a GEMM-bound case, the effective
    GFLOP/s and BLAS peak share of ours (row) and of every implementation that ran."""
    result["gemm_peak_gflops"] = peak
    gemm = case.gemm_flops()
    if not gemm:
        return result
    for e in result["impls"].values():
        if e.get("status") == "ok" and e["median_ms"] > 0:
            e["gflops"] = gemm / (e["median_ms"] * 1e-3) / 1e9
            e["blas_peak_share"] = e["gflops"] / peak if peak else None
    ours = result["impls"].get("fast", {})
    result["gflops"] = ours.get("gflops")
    result["blas_peak_share"] = ours.get("blas_peak_share")
    return result


def failures(results):
    """``(case, dtype, impl, status, reason)`` for every implementation that failed."""
    return [
        (r["case"], r["dtype"], impl, e["status"], e.get("reason", ""))
        for r in results
        for impl, e in r["impls"].items()
        if e["status"] in ("mismatch", "error")
    ]


def _noise(what, median, mad, low, samples):
    """Why a set of ``samples`` timings (or ratios) is noisy, or None."""
    if samples < NOISY_MIN_SAMPLES or not median or median <= 0:
        return None
    if mad / median > NOISY_MAD:
        return f"{what} MAD {100 * mad / median:.0f}% of the median"
    if low is not None and low > 0 and median / low > NOISY_MEDIAN_OVER_MIN:
        return f"{what} median {median / low:.1f}x the fastest"
    return None


def _with_spread(result):
    """``result`` with its ``spread`` (ours' timed calls: ``min_ms``, ``max_ms``, ``mad_pct``
    (median absolute deviation in % of the median), ``samples``; None when ours did not run)
    and ``noisy`` (the reasons to distrust the row, see :data:`NOISY_MAD`; empty when none)."""
    impls = result["impls"]
    ours = impls.get("fast", {})
    spread = None
    if ours.get("status") == "ok" and ours.get("median_ms"):
        median = ours["median_ms"]
        mad = ours.get("mad_ms")
        spread = {
            "min_ms": ours.get("min_ms"),
            "max_ms": ours.get("max_ms"),
            "mad_pct": None if mad is None else 100 * mad / median,
            "samples": ours.get("repeats"),
        }
    reasons = []
    for impl in dict.fromkeys(("fast", "reference", result.get("peer"))):
        e = impls.get(impl) if impl else None
        if not e or e.get("status") != "ok" or e.get("mad_ms") is None:
            continue
        name = "ours'" if impl == "fast" else f"{impl}'s"
        why = _noise(f"{name} calls ({e['min_ms']:.3g}-{e['max_ms']:.3g} ms)",
                     e["median_ms"], e["mad_ms"], e["min_ms"], e.get("repeats", 0))
        if why:
            reasons.append(why)
    paired = result.get("paired_ratios") or {}
    if result["kernel"] == "knn":  # the row reports the best peer's ratio only
        paired = {impl: p for impl, p in paired.items() if impl == result.get("peer")}
    for impl, p in paired.items():
        why = _noise(f"paired ours/{impl} ({p['min']:.2f}-{p['max']:.2f})",
                     p["median"], p["mad"], None, p["rounds"])
        if why:
            reasons.append(why)
    result["spread"] = spread
    result["noisy"] = reasons
    return result
