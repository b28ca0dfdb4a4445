"""One result row per case x dtype: ratios, rates, the GEMM peak share; and the failures."""

from dataclasses import asdict


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
