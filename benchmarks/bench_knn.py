"""kNN: ours vs reference vs scipy, scikit-learn and faiss, one group per case × dtype.

The cases are :data:`cs231n_fast.benchmarking.KNN_CASES`, the table ``cs231n-fast bench``
uses: pairwise L2/L1 distances, ``kneighbors`` (k = 10) and ``KNearestNeighbor.predict`` on
the course workload (5,000 × 3,072 training rows, 500 queries), and ``kneighbors`` against
CIFAR-10's 50,000 training rows (float32; ours, scikit-learn and faiss only). Peers are
skipped when not importable; they are benchmark peers, never dependencies.

Each test checks its implementation once before timing: distances (sorted per row) within
the dtype's tolerance of the float64 reference when the case runs the reference (in the
quick subset it does not), else of our own result; ``predict`` labels by agreement. The
extra info records ``agreement`` (share of neighbour indices, or labels, equal to ours; ours
is measured against the reference), ``extra_mb`` (peak RSS above the level before one call,
``kneighbors`` and ``predict`` only; not for the reference), thread count and BLAS. The
reference takes about a minute per call on the course workload: it is timed in one round,
whose result is the one checked.

pytest-benchmark times the implementations one after the other, not interleaved: on a
shared machine prefer ``cs231n-fast bench --kernels knn``, whose rounds are paired.
"""

import math

import pytest

from cs231n_fast import benchmarking as bm

#: Seconds of timed rounds to aim for, and the bounds on the round count.
BUDGET = 3.0
MIN_ROUNDS = 3
MAX_ROUNDS = 50
#: The module whose import decides whether a peer runs.
PEER_MODULES = {"scipy": "scipy.spatial.distance", "sklearn": "sklearn.neighbors",
                "faiss": "faiss"}

PARAMS = [
    pytest.param(case, dtype, impl, id=f"{case.id}-{dtype}-{impl}")
    for case in bm.KNN_CASES
    for dtype in case.dtypes
    for impl in case.impls
]


def _in_quick_subset(case, dtype, impl):
    return dtype in case.quick_dtypes and impl in case.quick_impls


class _Baselines:
    """Inputs, the float64 oracle and our own result, cached for the case × dtype at hand.

    One case × dtype at a time (the parameters are ordered so): the 50,000-row inputs alone
    take 600 MB.
    """

    def __init__(self, n_threads, quick):
        self.n_threads, self.quick = n_threads, quick
        self._key, self._inputs, self._ours = None, None, None
        self._oracle_case, self._oracle = None, None

    def inputs(self, case, dtype):
        if self._key != (case.id, dtype):
            self._key, self._inputs, self._ours = None, None, None
            self._inputs = bm.make_inputs(case, dtype)
            self._key = (case.id, dtype)
        return self._inputs

    def ours(self, case, dtype):
        """Our result on this case × dtype (what the peers' agreement is measured against)."""
        inputs = self.inputs(case, dtype)
        if self._ours is None:
            self._ours = bm.make_runner(case, "fast", inputs, self.n_threads)()
        return self._ours

    def expected(self, case, dtype):
        """``(expected, source)``: the float64 reference when the case runs it, else ours."""
        impls = case.quick_impls if self.quick else case.impls
        if "reference" in impls:
            if self._oracle_case != case.id:
                self._oracle_case, self._oracle = None, None
                self._oracle = bm.reference_result(case, self.inputs(case, dtype))
                self._oracle_case = case.id
            return self._oracle, "reference"
        return bm.knn_comparable(case, self.ours(case, dtype)), "fast"


@pytest.fixture(scope="module")
def baselines(pytestconfig, bench_threads):
    return _Baselines(bench_threads, pytestconfig.getoption("--bench-quick"))


@pytest.mark.parametrize("case, dtype, impl", PARAMS)
def test_knn(benchmark, pytestconfig, bench_threads, blas_vendor, baselines, case, dtype, impl):
    if pytestconfig.getoption("--bench-quick") and not _in_quick_subset(case, dtype, impl):
        pytest.skip("not in the quick subset")
    if impl in PEER_MODULES:
        pytest.importorskip(PEER_MODULES[impl])
    benchmark.group = f"{case.id} {dtype}"
    peers = [impl] if impl in bm.KNN_PEERS else []
    with bm.thread_limits(bench_threads, openmp=True, peers=peers):
        inputs = baselines.inputs(case, dtype)
        expected, source = baselines.expected(case, dtype)
        call = bm.make_runner(case, impl, inputs, bench_threads)
        extra_mb = None
        if impl == "reference":
            # About a minute per call on the course workload: its one timed round is also the
            # checked one (checked right after), and its memory is left to the CLI.
            outputs = benchmark.pedantic(call, rounds=1, iterations=1, warmup_rounds=0)
        else:
            outputs = call()
        ok, err, message = bm.check_result(case, outputs, expected, dtype, impl=impl)
        assert ok, f"{impl} on {case.id} {dtype}: {message}"
        if impl == "fast":
            agreement = bm.neighbor_agreement(case, outputs, expected) if source != "fast" else None
            agreement_with = source if agreement is not None else None
        else:
            agreement = bm.neighbor_agreement(case, outputs, baselines.ours(case, dtype))
            agreement_with = "fast"
        del outputs
        if impl != "reference":
            if case.op != "pairwise":
                _, extra = bm.peak_extra_rss(call)
                extra_mb = None if extra is None else extra / 2**20
            # One more call sizes the round count (the first may include one-time setup).
            t = bm.Timer(warmup=0, repeat=1)(call)[0]
            rounds = min(max(math.ceil(BUDGET / max(t, 1e-9)), MIN_ROUNDS), MAX_ROUNDS)
        benchmark.extra_info.update(
            impl=impl,
            case=case.id,
            dtype=dtype,
            n_threads=bench_threads,
            blas=blas_vendor,
            checked_against=source,
            max_rel_err=err if err is not None and math.isfinite(err) else None,
            agreement=agreement,
            agreement_with=agreement_with,
            extra_mb=extra_mb,
            computes_in="float32" if impl == "faiss" else dtype,
            **case.work(dtype),
        )
        if impl != "reference":
            benchmark.pedantic(call, rounds=rounds, iterations=1, warmup_rounds=0)
