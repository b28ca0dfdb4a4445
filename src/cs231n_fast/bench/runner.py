"""The run: every selected case checked once, then timed; one result dict per case x dtype."""

import numpy as np

from ._common import (
    ALL_IMPLS,
    DEFAULT_KERNELS,
    DTYPES,
    KNN_PEERS,
    RTOL,
    _finite,
    _unavailable_reason,
    impl_available,
    thread_limits,
    torch_available,
)
from .cases import FAMILIES, check_result, get_cases, make_inputs, make_runner, reference_result
from .knn import _run_knn
from .layers import Unavailable
from .machine import _gemm_peak, gemm_timer
from .results import _case_dtypes, _case_impls, _result, _with_gemm_share, _with_spread
from .timing import (
    full_timers,
    knn_timers,
    layer_rounds,
    lstm_rounds,
    paired_ratios,
    quick_timers,
    step_timing,
    summarize,
)

#: Families whose every case is timed again in :class:`SettledRounds` (ours against the floor
#: and torch); a conv case is when its ``paired`` is set.
PAIRED_KERNELS = ("lstm", "layers", "models")


def plan(kernels=DEFAULT_KERNELS, quick=True, dtypes=DTYPES, impls=ALL_IMPLS):
    """What :func:`run` would time: ``[(case, dtypes, impls), ...]``, the cases of ``kernels``
    (the quick subset if ``quick``) with the dtypes and implementations each runs.

    A case whose own dtypes (or implementations) share none with ``dtypes`` (``impls``) is
    left out, so the list can be empty (e.g. ``kernels=("knn",), quick=True,
    dtypes=("float64",)``: the quick kNN cases are float32 only); :func:`describe_selection`
    says why. Bad names raise ``ValueError``.
    """
    dtypes = tuple(np.dtype(d).name for d in dtypes)
    for d in dtypes:
        if d not in RTOL:
            raise ValueError(f"dtypes must be among {tuple(RTOL)}; got {d!r}")
    for impl in impls:
        if impl not in ALL_IMPLS:
            raise ValueError(f"impls must be among {ALL_IMPLS}; got {impl!r}")
    plans = [(case, _case_dtypes(case, dtypes, quick), _case_impls(case, impls, quick))
             for case in get_cases(kernels, quick)]
    return [(case, ds, ims) for case, ds, ims in plans if ds and ims]


def describe_selection(kernels=DEFAULT_KERNELS, quick=True):
    """One line per kernel family: the dtypes and implementations its cases (the quick subset
    if ``quick``) can run, e.g. ``"knn: dtypes float32; impls fast, sklearn"``."""
    lines = []
    for kernel in kernels:
        cases = get_cases((kernel,), quick)
        ds = [d for d in DTYPES if any(d in _case_dtypes(c, DTYPES, quick) for c in cases)]
        ims = [i for i in ALL_IMPLS
               if any(i in _case_impls(c, ALL_IMPLS, quick) for c in cases)]
        if not cases:
            lines.append(f"{kernel}: no {'quick ' if quick else ''}cases")
        else:
            lines.append(f"{kernel}{' --quick' if quick else ''}: dtypes {', '.join(ds)}; "
                         f"impls {', '.join(ims)}")
    return lines


def run(quick=True, dtypes=DTYPES, n_threads=None, impls=ALL_IMPLS, kernels=DEFAULT_KERNELS,
        repeat=None, seed=0, progress=None, gemm_peaks=None):
    """Benchmark every selected case; one result dict per case × dtype.

    Parameters
    ----------
    quick : bool
        Only the quick subset, with short timing budgets (under a minute on 2 cores).
    dtypes : sequence of {"float32", "float64"}
        A case runs in those of its own dtypes (and quick dtypes) that are listed here.
    n_threads : int or None
        Thread count for every implementation; None resolves with
        :func:`cs231n_fast._threads.effective_n_threads`.
    impls : sequence of names in :data:`ALL_IMPLS`
        A case runs those of its own implementations (and quick implementations) listed
        here; optional ones that are not importable are reported as skipped.
    kernels : sequence of {"conv", "pool", "knn", "lstm", "layers", "models"}
        Default: :data:`DEFAULT_KERNELS` (``layers`` and ``models`` are opt-in).
    repeat : int or None
        Fixed count of timed calls per implementation (kNN: of rounds; for smoke tests);
        None sizes the count from a time budget.
    seed : int
        Seed of the input generator.
    progress : callable or None
        Called with a short message before each case (e.g. ``print`` to stderr).
    gemm_peaks : dict or None
        BLAS GEMM peaks by dtype, records as :func:`gemm_peaks` returns them. Before the
        first case, the peak of every dtype of a GEMM-bound case that is missing here is
        measured (at ``n_threads``, with :func:`gemm_timer`) and stored into this dict, so a
        caller passing one gets the measurements back.

    Returns
    -------
    list of dict
        Keys: ``kernel, case, dtype, n_threads, params, work, impls`` (per implementation:
        ``status`` ``"ok"``, ``"skipped"``, ``"mismatch"`` or ``"error"``, timings in ms,
        ``max_rel_err``, ``rate``), ``speedup_vs_reference`` (reference ms / ours ms),
        ``peer`` (torch; for kNN the fastest peer) and ``ratio_vs_peer`` (ours ms / its ms;
        for kNN the paired ratio where there is one), ``ratio_vs_torch`` (ours ms / torch ms),
        ``rate`` (ours, GFLOP/s or GB/s), ``gemm_peak_gflops`` (the BLAS GEMM peak of the
        row's dtype, None if not measured). GEMM-bound rows (``case.gemm_flops()`` not None)
        add ``gflops`` (ours, effective: GEMM FLOPs per second) and ``blas_peak_share``
        (``gflops`` / the peak), and each implementation that ran its own ``gflops`` and
        ``blas_peak_share``. LSTM step rows add ``ratio_vs_floor`` (ours ms / six_matmuls
        ms). LSTM rows also add ``paired_ratios`` (per floor/peer: median, min, max, mad,
        rounds of :class:`SettledRounds`); their ``ratio_vs_floor``, ``ratio_vs_peer`` and
        ``ratio_vs_torch`` are then those medians (``unpaired_ratio_vs_*``: of the medians);
        so do the rows of ``layers`` and ``models`` and the conv rows whose case has
        ``paired`` set (ours against torch). Layer and model rows have ``rate`` None (no
        nominal work); an implementation that cannot run on this installation (a layer
        without a NumPy twin) has status ``"skipped"`` with the reason. kNN results add,
        per implementation, ``agreement`` (with ``agreement_with``),
        ``extra_mb``, ``setup_mb``, ``spread_pct``, ``checked_against``; and per case
        ``best_peer``, ``ratio_vs_best_peer`` (ours ms / its ms, medians),
        ``paired_ratio_vs_best_peer`` (median over interleaved rounds), ``ratios_vs_peers``,
        ``paired_ratios`` (per peer: median, min, max, mad, rounds), ``agreement_min``.
    """
    from .._threads import effective_n_threads

    plans = plan(kernels, quick, dtypes, impls)
    n_threads = effective_n_threads(n_threads)
    timers = (quick_timers if quick else full_timers)(repeat)
    rounds, reference_timer = knn_timers(quick, repeat)
    settled = lstm_rounds(quick, repeat)
    step_timers, step_settled = step_timing(quick, repeat)
    rounds_of = {"models": step_settled, "layers": layer_rounds(quick, repeat)}
    used = {impl for _, _, ims in plans for impl in ims}
    want_torch = "torch" in used and torch_available()
    any_knn = any(case.kernel == "knn" for case, _, _ in plans)
    # The course functions and models of the layer and step cases take no n_threads: their
    # default (OpenMP's maximum) is held to the run's count, as for KNearestNeighbor().
    any_course_api = any(case.kernel in ("layers", "models") for case, _, _ in plans)
    peers = [p for p in KNN_PEERS if p in used and impl_available(p)]

    gemm_peaks = {} if gemm_peaks is None else gemm_peaks
    gemm_dtypes = {d: None for case, ds, _ in plans if case.gemm_flops() for d in ds}

    def say(message):
        if progress is not None:
            progress(message)

    results = []
    with thread_limits(n_threads, torch=want_torch, openmp=any_knn or any_course_api,
                       peers=peers):
        for dtype in gemm_dtypes:
            if dtype not in gemm_peaks:
                say(f"BLAS GEMM peak, {dtype}")
                gemm_peaks[dtype] = _gemm_peak(dtype, n_threads, gemm_timer(quick, repeat))

        def add(case, result):
            peak = gemm_peaks.get(result["dtype"])
            results.append(_with_spread(_with_gemm_share(case, result, peak and peak["gflops"])))

        for case, case_dtypes, case_impls in plans:
            if case.kernel == "knn":
                state = {}  # the case's float64 oracle, shared by its dtypes
                for dtype in case_dtypes:
                    say(f"{case.id} {dtype}")
                    add(case, _run_knn(case, dtype, case_impls, n_threads, rounds,
                                       reference_timer, seed, state, say))
                continue
            expected = None
            for dtype in case_dtypes:
                say(f"{case.id} {dtype}")
                inputs = make_inputs(case, dtype, seed)
                if expected is None:  # float32-representable inputs: one oracle for all dtypes
                    expected = reference_result(case, inputs)
                entries = {}
                for impl in case_impls:
                    if impl == "torch" and not want_torch:
                        entries[impl] = {"status": "skipped",
                                         "reason": _unavailable_reason("torch")}
                        continue
                    entries[impl] = _bench_impl(
                        case, impl, inputs, expected, dtype, n_threads,
                        (step_timers if case.kernel == "models" else timers)[impl]
                    )
                paired = None
                if _is_paired(case):
                    paired = _paired(case, inputs, entries, n_threads,
                                     rounds_of.get(case.kernel, settled))
                add(case, _result(case, dtype, n_threads, entries, paired))
    return results


def _bench_impl(case, impl, inputs, expected, dtype, n_threads, timer):
    """Check ``impl`` once, then time it; the result entry for one implementation."""
    try:
        call = make_runner(case, impl, inputs, n_threads)
        # A family may check a variant of the timed call (the FC net without dropout, whose
        # masks no two implementations share); otherwise the first call is the one checked.
        check_runner = getattr(FAMILIES[case.kernel], "check_runner", None)
        check_call = check_runner(case, impl, inputs, n_threads) if check_runner else None
        outputs = (check_call or call)()
        del check_call
        ok, err, message = check_result(case, outputs, expected, dtype, impl=impl)
        del outputs
    except Unavailable as exc:  # e.g. no NumPy twin of this layer yet
        return {"status": "skipped", "reason": str(exc)}
    except Exception as exc:  # report it in the table and the exit code, keep going
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    err = _finite(err)  # keep the JSON standard
    if not ok:
        return {"status": "mismatch", "reason": message, "max_rel_err": err}
    times = timer(call)
    return {"status": "ok", "max_rel_err": err, **summarize(times),
            "times_ms": [1e3 * t for t in times]}




def _is_paired(case):
    return case.kernel in PAIRED_KERNELS or getattr(case, "paired", False)


def _paired(case, inputs, entries, n_threads, settled):
    """Ours against the floor and torch in :class:`SettledRounds` (those that ran and passed
    their check); ``{impl: ratio record}`` or None when there is nothing to pair."""
    names = [i for i in ("fast", "six_matmuls", "torch")
             if entries.get(i, {}).get("status") == "ok"]
    if "fast" not in names or len(names) < 2:
        return None
    calls = {impl: make_runner(case, impl, inputs, n_threads) for impl in names}
    return paired_ratios(settled(calls))


#: The former name of :func:`_paired` (LSTM cases only then).
_paired_lstm = _paired
