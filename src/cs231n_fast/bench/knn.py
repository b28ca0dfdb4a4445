"""kNN cases: pairwise distances, k nearest neighbours and ``KNearestNeighbor.predict`` of ours,
the NumPy twin, scipy, scikit-learn and faiss, timed in interleaved rounds (see the package
docstring)."""

import math
import statistics
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._common import (
    DTYPES,
    KNN_IMPLS,
    KNN_PEERS,
    MIN_LABEL_AGREEMENT,
    RTOL,
    _as_numpy,
    _finite,
    _import_peer,
    _mb,
    _rel_err,
    _unavailable_reason,
    impl_available,
)
from .machine import _malloc_trim, _rss_bytes, peak_extra_rss
from .results import _result
from .timing import summarize


@dataclass(frozen=True)
class KnnCase:
    """One kNN benchmark: ``n_query`` queries against ``n_train`` training rows of ``d`` features.

    ``op`` is ``"pairwise"`` (the full distance matrix), ``"kneighbors"`` (the ``k`` nearest,
    sorted) or ``"predict"`` (``KNearestNeighbor.predict(k=k)``: neighbours and a vote over
    ten classes). ``dtypes`` and ``impls`` restrict the case; ``quick_dtypes`` and
    ``quick_impls`` restrict it further in the quick subset.
    """

    op: str
    metric: str
    n_train: int
    n_query: int
    d: int
    k: Optional[int] = None
    dtypes: tuple = DTYPES
    impls: tuple = KNN_IMPLS
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)
    quick_dtypes: tuple = ("float32",)
    quick_impls: tuple = ("fast", "sklearn")

    kernel = "knn"

    def __post_init__(self):
        if self.op not in ("pairwise", "kneighbors", "predict"):
            raise ValueError(f"op must be pairwise, kneighbors or predict; got {self.op!r}")
        if self.metric not in ("l2", "l1"):
            raise ValueError(f"metric must be l2 or l1; got {self.metric!r}")
        if (self.k is None) != (self.op == "pairwise"):
            raise ValueError("k is required for kneighbors and predict, and only for them")

    @property
    def id(self):
        k = "" if self.k is None else f"-k{self.k}"
        return f"knn-{self.op}-{self.metric}{k}-q{self.n_query}-t{self.n_train}-d{self.d}"

    def flops(self):
        """Nominal operations: ``2·q·t·d`` for L2 (as one GEMM), ``3·q·t·d`` for L1."""
        return (2 if self.metric == "l2" else 3) * self.n_query * self.n_train * self.d

    def gemm_flops(self):
        """FLOPs of the distance GEMM ``X_query X_train^T`` (L2); None for L1 (no GEMM)."""
        return 2 * self.n_query * self.n_train * self.d if self.metric == "l2" else None

    def work(self, dtype):
        return {"flops": self.flops()}



_COURSE = dict(n_train=5_000, n_query=500, d=3_072)  # CS231n assignment 1's subsample
_PAIRWISE_IMPLS = ("fast", "reference", "scipy", "sklearn")  # faiss has no full-matrix call
KNN_CASES = (
    KnnCase("pairwise", "l2", **_COURSE, impls=_PAIRWISE_IMPLS, quick=True),
    KnnCase("pairwise", "l1", **_COURSE, impls=_PAIRWISE_IMPLS, quick=True),
    KnnCase("kneighbors", "l2", **_COURSE, k=10),
    KnnCase("kneighbors", "l1", **_COURSE, k=10),
    # CIFAR-10's full training set. The reference would hold a 1.2 GB difference block per
    # query and take ~10 min a call, scipy's single-threaded cdist ~45 s a call: both left out.
    KnnCase("kneighbors", "l2", n_train=50_000, n_query=500, d=3_072, k=10,
            dtypes=("float32",), impls=("fast", "sklearn", "faiss")),
    KnnCase("predict", "l2", **_COURSE, k=10),
)


KNN_CLASSES = 10


def knn_data(n, d, seed=0, n_classes=KNN_CLASSES):
    """CIFAR-like samples: ``(X, y)``, X of shape (n, d) float32 holding integers 0..255.

    Each row is a class centre plus a rank-16 component plus pixel noise, rounded and clipped
    to 0..255: distances spread widely (the nearest neighbours stand apart from the bulk) and
    the within-class spread exceeds the between-class one, so a kNN vote is right well above
    chance but far from always, as on CIFAR-10. ``y`` holds the classes, int64.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    centres = rng.uniform(-48.0, 48.0, size=(n_classes, d)).astype(np.float32)
    factors = rng.standard_normal((n, 16), dtype=np.float32)
    basis = rng.standard_normal((16, d), dtype=np.float32) * np.float32(12.0)
    x = factors @ basis
    x += centres[y]
    x += np.float32(128.0)
    noise = rng.standard_normal((n, d), dtype=np.float32)
    noise *= np.float32(16.0)
    x += noise
    del noise
    np.rint(x, out=x)
    np.clip(x, 0.0, 255.0, out=x)
    return x, y


def _knn_inputs(case, dtype, seed):
    x, y = knn_data(case.n_train + case.n_query, case.d, seed)
    t = case.n_train
    # Slices of one C-contiguous block are C-contiguous; astype copies only for float64.
    return {
        "X_train": x[:t].astype(dtype, copy=False),
        "X_query": x[t:].astype(dtype, copy=False),
        "y_train": y[:t],
        "y_query": y[t:],
    }



def _vote(neighbor_labels):
    """Majority label of each row; a tie goes to the smaller label (the course's bincount)."""
    n, k = neighbor_labels.shape
    n_classes = int(neighbor_labels.max()) + 1
    flat = (np.arange(n)[:, None] * n_classes + neighbor_labels).ravel()
    return np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes).argmax(axis=1)


def _topk(D, k):
    """The ``k`` smallest entries of each row of ``D`` and their columns, ascending."""
    if k < D.shape[1]:
        idx = np.argpartition(D, k - 1, axis=1)[:, :k]
    else:
        idx = np.broadcast_to(np.arange(D.shape[1]), D.shape).copy()
    dist = np.take_along_axis(D, idx, axis=1)
    order = np.argsort(dist, axis=1, kind="stable")
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _knn_runner(case, impl, inputs, n_threads):
    Xt, Xq, y = inputs["X_train"], inputs["X_query"], inputs["y_train"]
    k, metric, op = case.k, case.metric, case.op
    if impl not in case.impls:
        raise ValueError(f"{case.id} does not run {impl!r} (its implementations: {case.impls})")

    if impl in ("fast", "reference"):
        if impl == "fast":
            from .. import knn as module
        else:
            from .. import reference as module
        if op == "pairwise":
            pairwise = module.pairwise_distances
            return lambda: (pairwise(Xq, Xt, metric, n_threads=n_threads),)
        if op == "kneighbors":
            kneighbors = module.kneighbors
            return lambda: tuple(kneighbors(Xq, Xt, k, metric, n_threads=n_threads))
        from ..classifiers import KNearestNeighbor

        try:
            clf = KNearestNeighbor(metric=metric, n_threads=n_threads)
        except TypeError:  # a classifier without those options
            clf = KNearestNeighbor()
        clf.train(Xt, y)
        if impl == "fast":
            return lambda: (clf.predict(Xq, k=k),)
        # The course's vectorised route: the full float64 matrix, then sort and vote.
        return lambda: (clf.predict_labels(clf.compute_distances_no_loops(Xq), k=k),)

    if _import_peer(impl) is None:
        raise RuntimeError(_unavailable_reason(impl))

    if impl == "scipy":
        from scipy.spatial.distance import cdist

        name = {"l2": "euclidean", "l1": "cityblock"}[metric]
        if op == "pairwise":
            return lambda: (cdist(Xq, Xt, name),)

        def search():
            return _topk(cdist(Xq, Xt, name), k)

    elif impl == "sklearn":
        name = {"l2": "euclidean", "l1": "manhattan"}[metric]
        if op == "pairwise":
            from sklearn.metrics import pairwise_distances

            return lambda: (pairwise_distances(Xq, Xt, metric=name, n_jobs=n_threads),)
        from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

        if op == "predict":
            clf = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric=name,
                                       n_jobs=n_threads).fit(Xt, y)
            return lambda: (clf.predict(Xq),)
        nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=name,
                              n_jobs=n_threads).fit(Xt)

        def search():
            return tuple(nn.kneighbors(Xq))

    elif impl == "faiss":
        import faiss

        if op == "pairwise":
            raise ValueError("faiss is not a peer of pairwise distances")
        xt = np.ascontiguousarray(Xt, dtype=np.float32)
        xq = np.ascontiguousarray(Xq, dtype=np.float32)
        if metric == "l2":
            index = faiss.IndexFlatL2(case.d)
        else:
            index = faiss.IndexFlat(case.d, faiss.METRIC_L1)
        index.add(xt)
        del xt  # the index holds its own copy

        def search():
            D, I = index.search(xq, k)
            if metric == "l2":  # faiss reports squared distances
                np.sqrt(np.maximum(D, 0, out=D), out=D)
            return D, I

    else:
        raise ValueError(f"impl must be one of {KNN_IMPLS}; got {impl!r}")

    if op == "kneighbors":
        return search
    return lambda: (_vote(y[search()[1]]),)



def knn_comparable(case, outputs):
    """kNN outputs as an oracle for :func:`check_result`: distances float64, indices and
    labels int64 (e.g. our own result, where the reference does not run)."""
    outputs = tuple(_as_numpy(o) for o in outputs)
    if case.op == "pairwise":
        return (outputs[0].astype(np.float64),)
    if case.op == "kneighbors":
        return outputs[0].astype(np.float64), outputs[1].astype(np.int64)
    return (outputs[0].astype(np.int64),)



def neighbor_agreement(case, outputs, baseline):
    """Agreement of kNN ``outputs`` with ``baseline`` (both as the runners return them).

    ``kneighbors``: the mean over queries of the fraction of the ``k`` neighbour indices the
    two share (order within the ``k`` ignored); ``predict``: the fraction of equal labels;
    ``pairwise``: None.
    """
    if case.kernel != "knn" or case.op == "pairwise":
        return None
    if case.op == "predict":
        got, exp = np.asarray(outputs[0]).ravel(), np.asarray(baseline[0]).ravel()
        if got.shape != exp.shape:
            return 0.0
        return float(np.mean(got.astype(np.int64) == exp.astype(np.int64)))
    got, exp = np.asarray(outputs[1]), np.asarray(baseline[1])
    if got.shape != exp.shape or got.ndim != 2:
        return 0.0
    shared = (got[:, :, None] == exp[:, None, :]).any(axis=2).sum(axis=1)
    return float(np.mean(shared / got.shape[1]))


def _check_knn(case, outputs, expected, dtype, impl):
    """kNN flavour of :func:`check_result`: distances (sorted per row) and labels."""
    dtype = np.dtype(dtype)
    # faiss computes in float32 whatever the case's dtype.
    rtol = RTOL["float32" if impl == "faiss" else dtype.name]
    # Peers return their own dtypes (scipy always float64); only ours and the twin must
    # follow the package's dtype policy.
    want_dtype = impl in (None, "fast", "reference")
    worst, problems = 0.0, []
    got_all = tuple(_as_numpy(o) for o in outputs)
    if len(got_all) != len(expected):
        return False, math.inf, f"{len(got_all)} outputs, expected {len(expected)}"
    if case.op == "predict":
        got, exp = got_all[0], expected[0]
        if got.shape != exp.shape:
            return False, math.inf, f"labels: shape {got.shape}, expected {exp.shape}"
        agree = neighbor_agreement(case, got_all, expected)
        if agree < MIN_LABEL_AGREEMENT:
            problems.append(f"labels: {agree:.3f} agree, below {MIN_LABEL_AGREEMENT}")
        return not problems, math.nan, "; ".join(problems)  # no distances: no error figure
    got, exp = got_all[0], expected[0]
    if got.shape != exp.shape:
        return False, math.inf, f"{names(case)[0]}: shape {got.shape}, expected {exp.shape}"
    if want_dtype and got.dtype != dtype:
        problems.append(f"{names(case)[0]}: dtype {got.dtype}, expected {dtype}")
    if case.op == "kneighbors":
        idx = got_all[1]
        if idx.shape != exp.shape:
            problems.append(f"indices: shape {idx.shape}, expected {exp.shape}")
        elif idx.size and (idx.min() < 0 or idx.max() >= case.n_train):
            problems.append(f"indices: outside [0, {case.n_train})")
        # Near-ties may be ordered differently: compare the sorted distances of each row.
        got = np.sort(got.astype(np.float64), axis=1)
    err = _rel_err(got, exp)
    worst = max(worst, err)
    if err > rtol:
        problems.append(f"{names(case)[0]}: max error {err:.3g} × max|ref| > rtol {rtol:g}")
    return not problems, worst, "; ".join(problems)



def _run_knn(case, dtype, impls, n_threads, rounds, reference_timer, seed, state, say):
    """Check, measure and time one kNN case × dtype; its result dict (see :func:`run`)."""
    inputs = _knn_inputs(case, dtype, seed)
    order = [impl for impl in KNN_IMPLS if impl in impls]  # ours and the twin first
    measure = case.op != "pairwise"
    if "reference" in order and "oracle" not in state:
        say(f"{case.id}: float64 reference (the oracle; slow)")
        try:
            # reference_result, with the float64 cast outside the timed, measured call.
            inputs64 = {k: (np.asarray(a, dtype=np.float64) if k.startswith("X") else a)
                        for k, a in inputs.items()}
            call64 = _knn_runner(case, "reference", inputs64, 1)
            outputs64, extra64, state["oracle_seconds"] = _timed_call(call64, measure)
            state["oracle"], state["oracle_extra"] = knn_comparable(case, outputs64), extra64
            del inputs64, call64, outputs64
        except Exception as exc:  # reported as the reference's error, the others still run
            state["oracle"] = None
            state["oracle_error"] = f"{type(exc).__name__}: {exc}"
    oracle = state.get("oracle")
    expected, source = (oracle, "reference") if oracle is not None else (None, None)

    entries, calls, first_seconds, ours = {}, {}, {}, None
    for impl in order:
        if not impl_available(impl):
            entries[impl] = {"status": "skipped", "reason": _unavailable_reason(impl)}
            continue
        if impl == "reference" and oracle is None and "oracle_error" in state:
            entries[impl] = {"status": "error", "reason": state["oracle_error"]}
            continue
        entry = {"computes_in": "float32"} if impl == "faiss" else {}
        try:
            _malloc_trim()
            rss0 = _rss_bytes()
            call = _knn_runner(case, impl, inputs, n_threads)
            rss1 = _rss_bytes()
            entry["setup_mb"] = _mb(rss1 - rss0) if rss0 is not None and rss1 is not None else None
            extra = None
            if impl == "reference" and dtype == "float64" and oracle is not None:
                # The oracle call was this very call (float64 inputs): reuse it, its time and
                # its memory.
                outputs, seconds, extra = oracle, state["oracle_seconds"], state["oracle_extra"]
            elif impl == "reference":
                # A minute a call: the check call is also the timed and the measured one.
                outputs, extra, seconds = _timed_call(call, measure)
            else:
                t0 = time.perf_counter()
                outputs = call()
                seconds = time.perf_counter() - t0
        except Exception as exc:  # report it in the table and the exit code, keep going
            entries[impl] = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
            continue
        if expected is None:  # no oracle: the first result is the baseline (normally ours)
            expected, source = knn_comparable(case, outputs), impl
            ok, err, message = True, None, ""
            entry["checked_against"] = None
        else:
            ok, err, message = _check_knn(case, outputs, expected, dtype, impl)
            entry["checked_against"] = source
        entry["max_rel_err"] = _finite(err)
        if impl == "fast":
            if oracle is not None:
                entry["agreement"] = neighbor_agreement(case, outputs, oracle)
                entry["agreement_with"] = "reference"
            if ok:
                ours = outputs
        else:
            baseline, with_ = (ours, "fast") if ours is not None else (expected, source)
            if with_ != impl:
                entry["agreement"] = neighbor_agreement(case, outputs, baseline)
                entry["agreement_with"] = with_
        del outputs
        if not ok:
            entry.update(status="mismatch", reason=message)
            entries[impl] = entry
            continue
        if measure and impl != "reference":  # a later call than the first: warm
            try:
                _, extra = peak_extra_rss(call)
            except Exception as exc:
                entries[impl] = {**entry, "status": "error",
                                 "reason": f"{type(exc).__name__}: {exc}"}
                continue
        if measure:
            entry["extra_mb"] = _mb(extra)
        entries[impl] = entry
        if impl == "reference":
            times = [seconds] + (reference_timer(call) if reference_timer is not None else [])
            entry.update(status="ok", **_knn_summary(times))
            del call
        else:
            calls[impl] = call
            first_seconds[impl] = seconds

    paired = {}
    if calls:
        say(f"{case.id} {dtype}: timing {', '.join(calls)} in rounds")
        times = rounds(calls, sum(first_seconds.values()))
        for impl, ts in times.items():
            entries[impl].update(status="ok", **_knn_summary(ts))
        for peer in KNN_PEERS:
            if "fast" in times and peer in times:
                ratios = [a / b for a, b in zip(times["fast"], times[peer]) if b > 0]
                if ratios:
                    median = statistics.median(ratios)
                    paired[peer] = {"median": median, "min": min(ratios), "max": max(ratios),
                                    # median absolute deviation: spread robust to one bad round
                                    "mad": statistics.median(abs(x - median) for x in ratios),
                                    "rounds": len(ratios)}
    calls.clear()  # drop the runners (a faiss index holds a copy of the training set)
    return _knn_result(case, dtype, n_threads, entries, paired)


def _timed_call(call, measure):
    """``(outputs, extra_bytes or None, seconds)`` of one call, its memory measured if asked."""
    if measure:
        return peak_extra_rss(call, timed=True)
    t0 = time.perf_counter()
    outputs = call()
    return outputs, None, time.perf_counter() - t0


def _knn_summary(times):
    out = summarize(times)
    out["times_ms"] = [1e3 * t for t in times]
    # Noise: the spread of the timed calls relative to their median.
    out["spread_pct"] = 100 * (max(times) - min(times)) / max(statistics.median(times), 1e-12)
    return out


def _knn_result(case, dtype, n_threads, entries, paired):
    result = _result(case, dtype, n_threads, entries)

    def ms(impl):
        e = entries.get(impl)
        return e["median_ms"] if e and e.get("status") == "ok" else None

    ours = ms("fast")
    peer_ms = {p: ms(p) for p in KNN_PEERS if ms(p)}
    best = min(peer_ms, key=peer_ms.get) if peer_ms else None
    agreements = [e["agreement"] for e in entries.values() if e.get("agreement") is not None]
    ratio = ours / peer_ms[best] if ours and best else None
    paired_ratio = paired[best]["median"] if best in paired else None
    result.update(
        peer=best,
        ratio_vs_peer=paired_ratio if paired_ratio is not None else ratio,
        best_peer=best,
        ratio_vs_best_peer=ratio,
        paired_ratio_vs_best_peer=paired_ratio,
        ratios_vs_peers={p: ours / m for p, m in peer_ms.items()} if ours else {},
        paired_ratios=paired,
        agreement_min=min(agreements) if agreements else None,
    )
    return result


def inputs(case, dtype, seed=0):
    """``X_train, X_query`` and the integer labels ``y_train, y_query`` (see :func:`knn_data`)."""
    return _knn_inputs(case, dtype, seed)


def runner(case, impl, inputs, n_threads):
    return _knn_runner(case, impl, inputs, n_threads)


def oracle(case, inputs):
    """The reference in float64, or None when the case does not run it (too slow there)."""
    if "reference" not in case.impls:
        return None
    inputs64 = {k: (np.asarray(a, dtype=np.float64) if k.startswith("X") else a)
                for k, a in inputs.items()}
    outputs = _knn_runner(case, "reference", inputs64, 1)()
    return knn_comparable(case, outputs)


def names(case):
    return {"pairwise": ("D",), "kneighbors": ("distances", "indices"),
            "predict": ("labels",)}[case.op]


def check(case, outputs, expected, dtype, impl=None):
    return _check_knn(case, outputs, expected, dtype, impl)
