"""pytest-benchmark suite: ``pytest benchmarks --benchmark-only [--benchmark-json=FILE]``.

Outside the default test run (pytest's ``testpaths`` is ``tests``). The cases come from
:mod:`cs231n_fast.benchmarking`, the table the ``cs231n-fast bench`` command uses too; this file
adds the options, the session-wide reference results and the fixture that checks and times one
implementation.

Options
-------
``--bench-threads N``
    Thread count for every implementation (default 2).
``--bench-quick``
    Only the quick subset: the quick cases, in their quick dtypes and implementations.

One benchmark group per kernel × case × dtype holds ``fast``, ``reference`` and ``torch``
(skipped when torch is not importable; the LSTM step adds ``six_matmuls``), so ratios read off
one table. The timed call is forward + backward; the inputs are built before it, and the
result is checked once against the float64 reference before timing. ``--benchmark-json``
output records, with the machine information, this machine's BLAS GEMM peak per dtype at the
bench thread count (``cs231n_fast.gemm_peak_gflops``); a benchmark's ``extra_info`` holds
its case's ``gemm_flops`` (None when the case is not GEMM-bound), so ``gemm_flops`` / time /
peak is its share of the peak.
"""

import math

import pytest

from cs231n_fast import benchmarking as bm

#: Seconds of timed rounds to aim for per benchmark, and the bounds on the round count. The
#: reference is slow: it gets its minimum of rounds on the large cases.
BUDGET = {"fast": 2.0, "six_matmuls": 2.0, "torch": 2.0, "reference": 1.5}
MIN_ROUNDS = {"fast": 5, "six_matmuls": 5, "torch": 5, "reference": 2}
MAX_ROUNDS = 200


def pytest_addoption(parser):
    group = parser.getgroup("cs231n_fast benchmarks")
    group.addoption(
        "--bench-threads",
        type=int,
        default=2,
        metavar="N",
        help="thread count for fast, reference (BLAS) and torch (default 2)",
    )
    group.addoption(
        "--bench-quick",
        action="store_true",
        default=False,
        help="benchmark only the quick subset of cases",
    )


def pytest_configure(config):
    n = config.getoption("--bench-threads")
    if n is not None and n < 1:
        raise pytest.UsageError(f"--bench-threads must be a positive int; got {n}")


def _in_quick_subset(params):
    case = params.get("case")
    if case is None:
        return True
    return (case.quick
            and params.get("dtype", case.quick_dtypes[0]) in case.quick_dtypes
            and params.get("impl", case.quick_impls[0]) in case.quick_impls)


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--bench-quick"):
        return
    keep, drop = [], []
    for item in items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        (keep if _in_quick_subset(params) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_benchmark_update_machine_info(config, machine_info):
    """Add CPU model, BLAS, thread settings, versions and the BLAS GEMM peak per dtype to
    ``--benchmark-json`` output."""
    n_threads = config.getoption("--bench-threads")
    info = bm.machine_info(n_threads)
    peaks = bm.gemm_peaks(bm.DTYPES, n_threads, quick=config.getoption("--bench-quick"))
    info["gemm_peak_gflops"] = {dtype: peak["gflops"] for dtype, peak in peaks.items()}
    info["gemm_peak"] = peaks
    machine_info["cs231n_fast"] = info


@pytest.fixture(scope="session")
def bench_threads(pytestconfig):
    return pytestconfig.getoption("--bench-threads")


@pytest.fixture(scope="session")
def blas_vendor():
    return bm.blas_vendor()


@pytest.fixture(scope="session")
def oracle():
    """``oracle(case)``: the float64 reference outputs, computed once per case per session.

    Inputs are float32-representable, so one result checks both dtypes.
    """
    results = {}

    def get(case):
        if case.id not in results:
            results[case.id] = bm.reference_result(case, bm.make_inputs(case, "float64"))
        return results[case.id]

    return get


@pytest.fixture
def bench_case(benchmark, bench_threads, blas_vendor, oracle):
    """``bench_case(case, dtype, impl)``: check one implementation once, then time it."""

    def run(case, dtype, impl):
        if impl == "torch":
            pytest.importorskip("torch")
        benchmark.group = f"{case.id} {dtype}"
        inputs = bm.make_inputs(case, dtype)
        expected = oracle(case)
        # The course API (layers, models) takes no n_threads: hold OpenMP's default to the count.
        course_api = case.kernel in ("layers", "models")
        with bm.thread_limits(bench_threads, torch=impl == "torch", openmp=course_api):
            try:
                call = bm.make_runner(case, impl, inputs, bench_threads)
                # The FC net's step is checked without dropout (see cs231n_fast.bench.models).
                check_runner = getattr(bm.FAMILIES[case.kernel], "check_runner", None)
                checked = check_runner and check_runner(case, impl, inputs, bench_threads)
            except bm.Unavailable as exc:  # e.g. no NumPy twin of this layer yet
                pytest.skip(str(exc))
            ok, err, message = bm.check_result(case, (checked or call)(), expected, dtype,
                                               impl=impl)
            assert ok, f"{impl} on {case.id} {dtype}: {message}"
            # Settle (bm.SETTLE_SECONDS: let the previous implementation's spinning BLAS and
            # OpenMP threads go idle), then one more call sizes the round count.
            t = bm.Timer(warmup=0, repeat=1, settle=0 if impl == "reference" else bm.SETTLE_SECONDS)(call)[0]
            rounds = math.ceil(BUDGET[impl] / max(t, 1e-9))
            rounds = min(max(rounds, MIN_ROUNDS[impl]), MAX_ROUNDS)
            benchmark.extra_info.update(
                impl=impl,
                case=case.id,
                dtype=dtype,
                n_threads=bench_threads,
                blas=blas_vendor,
                max_rel_err=err if math.isfinite(err) else None,
                gemm_flops=case.gemm_flops(),
                **case.work(dtype),
            )
            benchmark.pedantic(call, rounds=rounds, iterations=1, warmup_rounds=0)

    return run
