"""Benchmark cases, runners and timing, shared by ``benchmarks/`` and ``cs231n-fast bench``.

This module is the one place where benchmark shapes are defined: the pytest-benchmark suite
(``pytest benchmarks --benchmark-only``) parametrises over :data:`CASES`, and the command line
(``cs231n-fast bench``) times the same cases with :func:`run` and prints :func:`format_table`.
Two families of cases live here: conv and pool (forward + backward, below), and kNN (see
"kNN cases" further down).

Every conv or pool case is timed as one forward followed by one backward call with a fixed
``dout``, for three implementations at the same thread count:

``fast``
    :mod:`cs231n_fast.ops` (the Cython+OpenMP kernels).
``reference``
    :mod:`cs231n_fast.reference` (the pure-NumPy twin; slow, the oracle).
``torch``
    ``torch.nn.functional.conv2d`` / ``max_pool2d`` with autograd, when torch is importable.
    torch is a benchmark peer only, never a dependency of the package: it is imported lazily,
    and a missing torch skips that column.

Inputs are built outside the timed call from a seeded generator, with values exactly
representable in float32, so the float32 and float64 runs of a case see the same numbers and
one float64 reference result checks both. Before timing, each implementation's outputs are
compared once with that reference result (tolerance relative to ``max|reference|``, per dtype:
see :data:`RTOL`).

Throughput: for convolution the nominal FLOP count of the direct algorithm (forward
``2·N·F·OH·OW·C·KH·KW``, backward twice that); for pooling the nominal bytes moved (forward
reads ``x`` and writes ``out``, backward reads ``dout`` and writes ``dx``; index caches are not
counted). Neither depends on how an implementation computes the result.

kNN cases
---------
:data:`KNN_CASES` time :func:`cs231n_fast.knn.pairwise_distances`,
:func:`cs231n_fast.knn.kneighbors` and ``KNearestNeighbor.predict`` on the course workload
(5,000 training rows, 500 queries, 3,072 features) and a CIFAR-sized search (50,000 training
rows), against these implementations, each skipped when not importable and never a
dependency of the package:

``reference``
    :mod:`cs231n_fast.reference` (exact, float64 from row differences; about a minute per call
    on the course workload, one call timed). For ``predict`` it is the course's own vectorised
    path, ``compute_distances_no_loops`` + ``predict_labels``.
``scipy``
    ``scipy.spatial.distance.cdist`` (``euclidean``/``cityblock``; float64, one thread); for
    neighbours ``cdist`` + ``argpartition`` + a sort of the ``k`` kept.
``sklearn``
    ``sklearn.metrics.pairwise_distances(metric="euclidean"|"manhattan", n_jobs=n_threads)``;
    for neighbours ``NearestNeighbors(algorithm="brute").kneighbors`` and for ``predict``
    ``KNeighborsClassifier(algorithm="brute").predict``, fitted before the timed call.
``faiss``
    ``faiss.IndexFlatL2`` (``IndexFlat(d, METRIC_L1)`` for L1), built and filled before the
    timed ``index.search(queries, k)``; float32 only (a float64 case hands it float32 copies,
    made before the call, and checks it at float32 tolerance). Its squared L2 distances are
    square-rooted inside the call (``n_queries * k`` values, negligible).

Data are CIFAR-like: integers 0..255 (exact in float32, so one float64 oracle checks both
dtypes) drawn around ten class centres with a low-rank component and pixel noise, so the
nearest neighbours are meaningful and exact distance ties are rare. Before timing, every
implementation is checked once: distances (the ``k`` nearest, row by row, in ascending order)
within the dtype's tolerance of the oracle, which is the reference in float64 when it runs and
otherwise our own result in the case's dtype; labels of ``predict`` must agree on at least
:data:`MIN_LABEL_AGREEMENT` of the queries. ``agreement`` records the mean fraction of each
query's ``k`` neighbour indices (labels for ``predict``) that match ours; ours is measured
against the reference. Near-ties may legitimately be ordered differently by implementations
that round differently (faiss, float32 GEMM).

kNN timing is interleaved: after the checks, ours and the peers are called in rounds, one call
of each per round in rotating order, so a slow spell of the (shared, noisy) machine hits every
implementation alike; ``paired_ratio_vs_best_peer`` is the median over rounds of ours / the
best peer within the same round. Memory: for ``kneighbors`` and ``predict`` one extra call of
each implementation (for the slow reference, its one timed call) records ``extra_mb``, the peak
resident memory above the level before the call (the kernel's peak-RSS counter, reset through ``/proc/self/clear_refs``, together with a
sampling thread; Linux only, else ``None``). ``setup_mb`` is what building the runner kept
(faiss's copy of the training set, for instance).

This module imports no compiled code, no torch and no kNN peer at import time.
"""

import gc
import math
import os
import platform
import statistics
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

__all__ = [
    "IMPLS",
    "KNN_IMPLS",
    "KNN_PEERS",
    "ALL_IMPLS",
    "KERNELS",
    "DTYPES",
    "RTOL",
    "MIN_LABEL_AGREEMENT",
    "ConvCase",
    "PoolCase",
    "KnnCase",
    "CONV_CASES",
    "POOL_CASES",
    "KNN_CASES",
    "CASES",
    "get_cases",
    "make_inputs",
    "make_runner",
    "reference_result",
    "knn_comparable",
    "check_result",
    "torch_available",
    "impl_available",
    "thread_limits",
    "neighbor_agreement",
    "peak_extra_rss",
    "Timer",
    "Rounds",
    "quick_timers",
    "full_timers",
    "knn_timers",
    "blas_info",
    "blas_vendor",
    "machine_info",
    "summarize",
    "run",
    "failures",
    "format_table",
]

#: Implementations of the conv and pool cases, in table order.
IMPLS = ("fast", "reference", "torch")
#: Implementations of the kNN cases, in table order.
KNN_IMPLS = ("fast", "reference", "scipy", "sklearn", "faiss")
#: The kNN peers (libraries other than ours and the twin).
KNN_PEERS = ("scipy", "sklearn", "faiss")
#: Every implementation name any case knows (what ``--impls`` accepts).
ALL_IMPLS = ("fast", "reference", "torch", "scipy", "sklearn", "faiss")
#: Kernel families with benchmark cases.
KERNELS = ("conv", "pool", "knn")
#: Dtypes benchmarked.
DTYPES = ("float32", "float64")
#: Relative tolerance per dtype; the absolute tolerance is ``rtol * max|reference|``.
RTOL = {"float32": 2e-4, "float64": 1e-9}
#: ``predict`` passes its check when at least this fraction of labels equals the oracle's.
MIN_LABEL_AGREEMENT = 0.95


# --- the case table --------------------------------------------------------------------------


def _k(kh, kw):
    return f"{kh}" if kh == kw else f"{kh}x{kw}"


@dataclass(frozen=True)
class ConvCase:
    """One convolution benchmark: x (n, c, h, w) · w (f, c, kh, kw), stride, zero padding."""

    n: int
    c: int
    h: int
    w: int
    f: int
    kh: int
    kw: int
    stride: int
    pad: int
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "conv"
    dtypes = DTYPES  # dtypes the case runs in (all), and those of the quick subset
    quick_dtypes = DTYPES
    impls = IMPLS  # implementations the case runs (all), and those of the quick subset
    quick_impls = IMPLS

    @property
    def id(self):
        return (
            f"conv-{self.n}x{self.c}x{self.h}x{self.w}-"
            f"f{self.f}k{_k(self.kh, self.kw)}s{self.stride}p{self.pad}"
        )

    @property
    def out_hw(self):
        return (
            (self.h + 2 * self.pad - self.kh) // self.stride + 1,
            (self.w + 2 * self.pad - self.kw) // self.stride + 1,
        )

    @property
    def out_shape(self):
        return (self.n, self.f) + self.out_hw

    def flops(self):
        """Nominal FLOPs of forward + backward (backward counted as twice the forward)."""
        oh, ow = self.out_hw
        forward = 2 * self.n * self.f * oh * ow * self.c * self.kh * self.kw
        return 3 * forward

    def work(self, dtype):
        return {"flops": self.flops()}


@dataclass(frozen=True)
class PoolCase:
    """One max-pool benchmark: x (n, c, h, w), window kh × kw, stride, no padding."""

    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    stride: int
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "pool"
    dtypes = DTYPES
    quick_dtypes = DTYPES
    impls = IMPLS
    quick_impls = IMPLS

    @property
    def id(self):
        return f"pool-{self.n}x{self.c}x{self.h}x{self.w}-k{_k(self.kh, self.kw)}s{self.stride}"

    @property
    def out_hw(self):
        return (
            (self.h - self.kh) // self.stride + 1,
            (self.w - self.kw) // self.stride + 1,
        )

    @property
    def out_shape(self):
        return (self.n, self.c) + self.out_hw

    def bytes_moved(self, dtype):
        """Nominal bytes of forward + backward: x and out, each read or written twice."""
        x_size = self.n * self.c * self.h * self.w
        out_size = math.prod(self.out_shape)
        return 2 * np.dtype(dtype).itemsize * (x_size + out_size)

    def work(self, dtype):
        return {"bytes": self.bytes_moved(dtype)}


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

    def work(self, dtype):
        return {"flops": self.flops()}


CONV_CASES = (
    ConvCase(64, 3, 32, 32, f=32, kh=3, kw=3, stride=1, pad=1, quick=True),
    ConvCase(64, 32, 16, 16, f=64, kh=3, kw=3, stride=1, pad=1),
    ConvCase(100, 3, 31, 31, f=25, kh=3, kw=3, stride=2, pad=1, quick=True),
)
POOL_CASES = (
    PoolCase(64, 32, 32, 32, kh=2, kw=2, stride=2),
    PoolCase(100, 3, 32, 32, kh=2, kw=2, stride=2, quick=True),
    PoolCase(64, 32, 32, 32, kh=3, kw=3, stride=2, quick=True),  # overlapping windows
)
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
#: Every case, by kernel family.
CASES = {"conv": CONV_CASES, "pool": POOL_CASES, "knn": KNN_CASES}


def get_cases(kernels=KERNELS, quick=False):
    """The cases of ``kernels`` (all of them, or the quick subset), in table order."""
    out = []
    for kernel in kernels:
        if kernel not in CASES:
            raise ValueError(f"kernels must be among {tuple(CASES)}; got {kernel!r}")
        out.extend(c for c in CASES[kernel] if c.quick or not quick)
    return out


# --- inputs ----------------------------------------------------------------------------------


def make_inputs(case, dtype, seed=0):
    """Arrays for one forward + backward call of ``case``, C-contiguous, of ``dtype``.

    Conv: ``x, w, b, dout``; pool: ``x, dout``; kNN: ``X_train, X_query`` and the integer
    labels ``y_train, y_query`` (see :func:`knn_data`). Values are float32-representable, so
    the same ``seed`` gives the same numbers in every dtype. Pool inputs are distinct (no
    ties), so every implementation routes the gradient to the same element.
    """
    if case.kernel == "knn":
        return _knn_inputs(case, dtype, seed)
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype)

    if case.kernel == "conv":
        return {
            "x": normal(case.n, case.c, case.h, case.w),
            "w": normal(case.f, case.c, case.kh, case.kw),
            "b": normal(case.f),
            "dout": normal(*case.out_shape),
        }
    size = case.n * case.c * case.h * case.w
    assert size < 2**24, "pool inputs must be distinct float32 integers"
    # A permutation of distinct integers scaled by a power of two: exact and tie-free.
    x = (rng.permutation(size) - size // 2).astype(np.float32) * np.float32(2.0**-20)
    return {
        "x": x.reshape(case.n, case.c, case.h, case.w).astype(dtype),
        "dout": normal(*case.out_shape),
    }


#: Classes of the kNN data (CIFAR-10 has ten).
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


# --- implementations -------------------------------------------------------------------------

_torch = None
_torch_error = None


def _import_torch():
    global _torch, _torch_error
    if _torch is None and _torch_error is None:
        try:
            import torch
        except Exception as exc:  # ImportError, or a broken install raising something else
            _torch_error = f"torch is not importable ({type(exc).__name__}: {exc})"
        else:
            _torch = torch
    return _torch


def torch_available():
    """True when torch can be imported (imports it on first call)."""
    return _import_torch() is not None


#: Modules each optional implementation needs; importing them also loads their BLAS and
#: OpenMP libraries, which must happen before :func:`thread_limits` limits them.
_PEER_MODULES = {
    "torch": ("torch",),
    "scipy": ("scipy.spatial.distance",),
    "sklearn": ("sklearn.metrics", "sklearn.neighbors"),
    "faiss": ("faiss",),
}
_peer_errors = {}


def _import_peer(impl):
    """The first module ``impl`` needs, imported, or None (the reason kept for the table)."""
    if impl == "torch":
        return _import_torch()
    if impl in _peer_errors:
        return None
    import importlib

    try:
        modules = [importlib.import_module(m) for m in _PEER_MODULES[impl]]
    except Exception as exc:  # ImportError, or a broken install raising something else
        _peer_errors[impl] = f"{impl} is not importable ({type(exc).__name__}: {exc})"
        return None
    return modules[0]


def impl_available(impl):
    """True when ``impl`` can run: ours and the twin always, a peer when importable."""
    if impl in ("fast", "reference"):
        return True
    if impl not in _PEER_MODULES:
        raise ValueError(f"impl must be one of {ALL_IMPLS}; got {impl!r}")
    return _import_peer(impl) is not None


def _unavailable_reason(impl):
    return _torch_error if impl == "torch" else _peer_errors.get(impl)


def _numpy_impl(module, case, inputs, n_threads):
    if case.kernel == "conv":
        x, w, b, dout = inputs["x"], inputs["w"], inputs["b"], inputs["dout"]
        stride, pad = case.stride, case.pad
        forward, backward = module.conv_forward, module.conv_backward

        def call():
            out, cache = forward(x, w, b, stride, pad, n_threads=n_threads)
            dx, dw, db = backward(dout, cache, n_threads=n_threads)
            return out, dx, dw, db

        return call

    x, dout = inputs["x"], inputs["dout"]
    kh, kw, stride = case.kh, case.kw, case.stride
    forward, backward = module.maxpool_forward, module.maxpool_backward

    def call():
        out, cache = forward(x, kh, kw, stride, n_threads=n_threads)
        dx = backward(dout, cache, n_threads=n_threads)
        return out, dx

    return call


def _torch_impl(case, inputs):
    torch = _import_torch()
    if torch is None:
        raise RuntimeError(_torch_error)
    functional = torch.nn.functional
    # Tensors share memory with the inputs; built once, outside the timed call.
    dout = torch.from_numpy(inputs["dout"])
    x = torch.from_numpy(inputs["x"]).requires_grad_(True)
    if case.kernel == "conv":
        w = torch.from_numpy(inputs["w"]).requires_grad_(True)
        b = torch.from_numpy(inputs["b"]).requires_grad_(True)
        stride, pad = case.stride, case.pad

        def call():
            out = functional.conv2d(x, w, b, stride=stride, padding=pad)
            # autograd.grad returns fresh gradients (no accumulation into .grad across calls).
            dx, dw, db = torch.autograd.grad(out, (x, w, b), grad_outputs=dout)
            return out, dx, dw, db

        return call

    kernel_size, stride = (case.kh, case.kw), case.stride

    def call():
        out = functional.max_pool2d(x, kernel_size, stride=stride)
        (dx,) = torch.autograd.grad(out, (x,), grad_outputs=dout)
        return out, dx

    return call


def make_runner(case, impl, inputs, n_threads):
    """A zero-argument callable running forward then backward of ``case`` with ``impl``.

    It returns the outputs ``(out, dx, dw, db)`` (conv) or ``(out, dx)`` (pool) as arrays or,
    for torch, tensors (see :func:`check_result`). ``n_threads`` is passed to ``fast`` and
    ``reference``; torch's and BLAS's thread counts are set by :func:`thread_limits`.

    For a kNN case the callable runs one ``pairwise`` / ``kneighbors`` / ``predict`` call and
    returns ``(D,)``, ``(distances, indices)`` or ``(labels,)``; any state (a fitted
    scikit-learn estimator, a filled faiss index, a trained classifier) is built here, before
    the timed call. ``impl`` is then one of :data:`KNN_IMPLS`.
    """
    if case.kernel == "knn":
        return _knn_runner(case, impl, inputs, n_threads)
    if impl == "fast":
        from . import ops

        return _numpy_impl(ops, case, inputs, n_threads)
    if impl == "reference":
        from . import reference

        return _numpy_impl(reference, case, inputs, n_threads)
    if impl == "torch":
        return _torch_impl(case, inputs)
    raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")


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
            from . import knn as module
        else:
            from . import reference as module
        if op == "pairwise":
            pairwise = module.pairwise_distances
            return lambda: (pairwise(Xq, Xt, metric, n_threads=n_threads),)
        if op == "kneighbors":
            kneighbors = module.kneighbors
            return lambda: tuple(kneighbors(Xq, Xt, k, metric, n_threads=n_threads))
        from .classifiers import KNearestNeighbor

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


@contextmanager
def thread_limits(n_threads, torch=False, openmp=False, peers=()):
    """Hold BLAS (and torch, OpenMP, the kNN ``peers``) to ``n_threads`` for the duration.

    The kernels get ``n_threads`` as an argument; the NumPy twin's BLAS calls and torch's
    intra-op pool are limited here so every implementation runs on the same thread count.
    ``openmp`` also limits every loaded OpenMP runtime (scikit-learn's neighbour search, and
    ours where ``n_threads`` cannot be passed, as in ``KNearestNeighbor()``); ``peers`` (names
    among :data:`KNN_PEERS`) are imported first, so their libraries are loaded and limited
    too, and faiss gets ``faiss.omp_set_num_threads``. The previous settings are restored on
    exit.
    """
    from threadpoolctl import threadpool_limits

    torch_mod = _import_torch() if torch else None  # load its libraries before limiting
    previous = torch_mod.get_num_threads() if torch_mod is not None else None
    loaded = {p: _import_peer(p) for p in peers}
    faiss_mod = loaded.get("faiss")
    faiss_previous = faiss_mod.omp_get_max_threads() if faiss_mod is not None else None
    try:
        if torch_mod is not None:
            torch_mod.set_num_threads(n_threads)
        if faiss_mod is not None:
            faiss_mod.omp_set_num_threads(n_threads)
        with ExitStack() as stack:
            stack.enter_context(threadpool_limits(limits=n_threads, user_api="blas"))
            if openmp:
                stack.enter_context(threadpool_limits(limits=n_threads, user_api="openmp"))
            yield
    finally:
        if previous is not None:
            torch_mod.set_num_threads(previous)
        if faiss_previous is not None:
            faiss_mod.omp_set_num_threads(faiss_previous)


# --- correctness -----------------------------------------------------------------------------


def _as_numpy(a):
    if hasattr(a, "detach"):  # a torch tensor
        return a.detach().cpu().numpy()
    return np.asarray(a)


def reference_result(case, inputs):
    """The oracle: the NumPy twin in float64 on the float64 cast of ``inputs``.

    For a kNN case without ``reference`` among its implementations (too slow there) this is
    None, and callers check against our own result instead.
    """
    from . import reference

    if case.kernel == "knn":
        if "reference" not in case.impls:
            return None
        inputs64 = {k: (np.asarray(a, dtype=np.float64) if k.startswith("X") else a)
                    for k, a in inputs.items()}
        outputs = _knn_runner(case, "reference", inputs64, 1)()
        return knn_comparable(case, outputs)
    inputs64 = {k: np.asarray(a, dtype=np.float64) for k, a in inputs.items()}
    outputs = _numpy_impl(reference, case, inputs64, 1)()
    return tuple(np.asarray(o, dtype=np.float64) for o in outputs)


def knn_comparable(case, outputs):
    """kNN outputs as an oracle for :func:`check_result`: distances float64, indices and
    labels int64 (e.g. our own result, where the reference does not run)."""
    outputs = tuple(_as_numpy(o) for o in outputs)
    if case.op == "pairwise":
        return (outputs[0].astype(np.float64),)
    if case.op == "kneighbors":
        return outputs[0].astype(np.float64), outputs[1].astype(np.int64)
    return (outputs[0].astype(np.int64),)


def output_names(case):
    if case.kernel == "knn":
        return {"pairwise": ("D",), "kneighbors": ("distances", "indices"),
                "predict": ("labels",)}[case.op]
    return ("out", "dx", "dw", "db") if case.kernel == "conv" else ("out", "dx")


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
        return False, math.inf, f"{output_names(case)[0]}: shape {got.shape}, expected {exp.shape}"
    if want_dtype and got.dtype != dtype:
        problems.append(f"{output_names(case)[0]}: dtype {got.dtype}, expected {dtype}")
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
        problems.append(f"{output_names(case)[0]}: max error {err:.3g} × max|ref| > rtol {rtol:g}")
    return not problems, worst, "; ".join(problems)


def _rel_err(got, exp):
    """``max|got - exp| / max|exp|`` in float64 (inf when not finite)."""
    scale = float(np.max(np.abs(exp))) or 1.0
    err = float(np.max(np.abs(got.astype(np.float64) - exp))) / scale
    return err if math.isfinite(err) else math.inf


def check_result(case, outputs, expected, dtype, impl=None):
    """Compare one run's outputs with :func:`reference_result`.

    Returns ``(ok, max_rel_err, message)``: ``max_rel_err`` is the largest
    ``max|got - expected| / max|expected|`` over the outputs, ``ok`` whether each is within
    ``RTOL[dtype]`` and has the expected shape and dtype.

    kNN cases compare distances only (each row sorted, so near-ties ordered differently still
    pass; see :func:`neighbor_agreement` for the indices), and labels of ``predict`` by their
    agreement (at least :data:`MIN_LABEL_AGREEMENT`). ``expected`` then comes from
    :func:`reference_result` or our own run (converted to float64 distances, int64 indices
    and labels). ``impl`` names the implementation: peers may return other dtypes, and
    faiss is held to float32's tolerance.
    """
    if case.kernel == "knn":
        return _check_knn(case, outputs, expected, dtype, impl)
    dtype = np.dtype(dtype)
    rtol = RTOL[dtype.name]
    worst, problems = 0.0, []
    for name, got, exp in zip(output_names(case), outputs, expected):
        got = _as_numpy(got)
        if got.shape != exp.shape:
            problems.append(f"{name}: shape {got.shape}, expected {exp.shape}")
            continue
        if got.dtype != dtype:
            problems.append(f"{name}: dtype {got.dtype}, expected {dtype}")
        err = _rel_err(got, exp)
        worst = max(worst, err)
        if err > rtol:
            problems.append(f"{name}: max error {err:.3g} × max|ref| > rtol {rtol:g}")
    return not problems, worst, "; ".join(problems)


# --- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timer:
    """Wall-clock timer: ``warmup`` untimed calls, then repeats timed with ``perf_counter``.

    With ``repeat`` set, exactly that many timed calls. Otherwise the first timed call sets the
    count: enough calls to fill ``budget`` seconds, clamped to ``[min_repeat, max_repeat]``.
    The garbage collector is paused while timing. Report the median (:func:`summarize`).
    """

    warmup: int = 1
    repeat: Optional[int] = None
    budget: float = 1.0
    min_repeat: int = 3
    max_repeat: int = 50

    def __call__(self, fn):
        """Seconds per timed call of ``fn``, as a list."""
        for _ in range(self.warmup):
            fn()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            times = []
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
            if self.repeat is not None:
                n = self.repeat
            else:
                n = math.ceil(self.budget / max(times[0], 1e-9))
                n = min(max(n, self.min_repeat), self.max_repeat)
            for _ in range(n - 1):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        finally:
            if gc_was_enabled:
                gc.enable()
        return times


@dataclass(frozen=True)
class Rounds:
    """Interleaved wall-clock timing of several implementations (the kNN cases).

    Each round calls every implementation once, in an order rotated by one each round, so a
    slow spell of a shared machine lands on all of them; per-round ratios are then paired
    measurements. With ``repeat`` set, exactly that many rounds; otherwise enough rounds to
    fill ``budget`` seconds (estimated from ``round_seconds``), clamped to
    ``[min_rounds, max_rounds]``. No warm-up: the kNN checks have already called each
    implementation once or twice. The garbage collector is paused while timing.
    """

    repeat: Optional[int] = None
    budget: float = 15.0
    min_rounds: int = 3
    max_rounds: int = 20

    def count(self, round_seconds):
        if self.repeat is not None:
            return self.repeat
        n = math.ceil(self.budget / max(round_seconds, 1e-9))
        return min(max(n, self.min_rounds), self.max_rounds)

    def __call__(self, calls, round_seconds):
        """``{name: [seconds per round]}`` for the callables in ``calls`` (a dict)."""
        names = list(calls)
        times = {name: [] for name in names}
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for r in range(self.count(round_seconds)):
                shift = r % len(names) if names else 0
                for name in names[shift:] + names[:shift]:
                    fn = calls[name]
                    t0 = time.perf_counter()
                    fn()  # the result is dropped at once, before the next call
                    times[name].append(time.perf_counter() - t0)
        finally:
            if gc_was_enabled:
                gc.enable()
        return times


def knn_timers(quick, repeat=None):
    """``(rounds, reference_timer)`` for the kNN cases.

    Ours and the peers are timed in :class:`Rounds`; the reference separately and little (it
    takes about a minute per call on the course workload): its check call is timed and counts
    as the first of ``repeat`` calls; with ``repeat`` unset, that one call is all.
    """
    if repeat is not None:
        return Rounds(repeat=repeat), (Timer(warmup=0, repeat=repeat - 1) if repeat > 1 else None)
    if quick:
        return Rounds(budget=3.0, min_rounds=1, max_rounds=10), None
    return Rounds(budget=15.0, min_rounds=3, max_rounds=20), None


def summarize(times):
    """Median, min and mean (ms) and the count of a list of seconds."""
    return {
        "median_ms": 1e3 * statistics.median(times),
        "min_ms": 1e3 * min(times),
        "mean_ms": 1e3 * statistics.fmean(times),
        "repeats": len(times),
    }


def quick_timers(repeat=None):
    """Per-implementation timers for the quick run (well under a minute in all)."""
    if repeat is not None:
        return {impl: Timer(warmup=0, repeat=repeat) for impl in IMPLS}
    peer = Timer(warmup=2, budget=0.4, min_repeat=3, max_repeat=50)
    # The correctness call has already warmed the reference up; it is slow, time it little.
    return {"fast": peer, "torch": peer, "reference": Timer(warmup=0, budget=0.3, min_repeat=1)}


def full_timers(repeat=None):
    """Per-implementation timers for the full run."""
    if repeat is not None:
        return {impl: Timer(warmup=1, repeat=repeat) for impl in IMPLS}
    peer = Timer(warmup=2, budget=1.0, min_repeat=5, max_repeat=100)
    return {"fast": peer, "torch": peer, "reference": Timer(warmup=0, budget=1.5, min_repeat=3)}


# --- memory ----------------------------------------------------------------------------------


def _rss_bytes():
    """Current resident set size from ``/proc/self/statm``, or None off Linux."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _hwm_bytes():
    """The kernel's peak-RSS counter (``VmHWM``), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_hwm():
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _malloc_trim():
    """Hand freed heap memory back to the system (glibc), so the baseline RSS is honest."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_extra_rss(fn, interval=0.0005, timed=False):
    """Run ``fn()``; return ``(result, extra_bytes)``, the peak RSS above the level before.

    The peak is the larger of the kernel's ``VmHWM`` (reset just before the call) and what a
    background thread sampling ``/proc/self/statm`` every ``interval`` seconds saw. The result
    of ``fn`` counts while the call runs (it is part of what the call allocates).
    ``extra_bytes`` is None off Linux. With ``timed``, ``(result, extra_bytes, seconds)``:
    the wall time of ``fn()`` alone (the sampler runs alongside, so a little slower).
    """
    gc.collect()
    _malloc_trim()
    before = _rss_bytes()
    if before is None:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        return (result, None, seconds) if timed else (result, None)
    hwm = _reset_hwm()
    before = _rss_bytes()
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.wait(interval):
            now = _rss_bytes()
            if now is not None and now > peak[0]:
                peak[0] = now

    sampler = threading.Thread(target=sample, name="peak_extra_rss", daemon=True)
    sampler.start()
    try:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    finally:
        stop.set()
        sampler.join()
    candidates = [peak[0], _rss_bytes() or 0]
    if hwm:
        candidates.append(_hwm_bytes() or 0)
    extra = max(0, max(candidates) - before)
    return (result, extra, seconds) if timed else (result, extra)


# --- machine information ---------------------------------------------------------------------


def blas_info():
    """threadpoolctl's records of the loaded BLAS libraries (importing numpy loads its own)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {k: lib.get(k) for k in ("internal_api", "version", "threading_layer", "architecture",
                                 "num_threads", "prefix", "filepath")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]


def blas_vendor():
    """numpy's BLAS as one string, e.g. ``"openblas 0.3.29 (pthreads, Haswell)"``."""
    libs = blas_info()
    if not libs:
        return "unknown"
    # numpy's own BLAS lives under numpy's tree (numpy.libs, scipy_openblas); prefer it over
    # libraries loaded by torch or scipy.
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    ours = [lib for lib in libs if "numpy" in (lib.get("filepath") or "")]
    ours = ours or [lib for lib in libs if (lib.get("filepath") or "").startswith(numpy_dir)]
    lib = (ours or libs)[0]
    details = ", ".join(str(d) for d in (lib.get("threading_layer"), lib.get("architecture")) if d)
    text = f"{lib.get('internal_api')} {lib.get('version') or ''}".strip()
    return f"{text} ({details})" if details else text


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _physical_cores():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return None
    cores = set()
    for block in text.strip().split("\n\n"):
        fields = dict(
            (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in block.splitlines())
        )
        if "core id" in fields:
            cores.add((fields.get("physical id"), fields["core id"]))
    return len(cores) or None


def _version(dist):
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info(n_threads=None):
    """CPU, cores, thread settings, BLAS and versions: what a benchmark result depends on."""
    from . import __version__

    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        from ._threads import openmp_enabled

        openmp = bool(openmp_enabled())
    except Exception:  # keep machine_info usable from a broken build; the bench fails anyway
        openmp = None
    env_keys = (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
        "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
    )
    return {
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": _physical_cores(),
        "usable_cpus": usable,
        "n_threads": n_threads,
        # Other work on the machine skews timings badly (OpenMP teams wait for descheduled
        # threads); a load average near the core count before a run marks it as noisy.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "openmp": openmp,
        "blas": blas_vendor(),
        "blas_libraries": blas_info(),
        "env": {k: os.environ[k] for k in env_keys if k in os.environ},
        "versions": {
            "python": platform.python_version(),
            "cs231n_fast": __version__,
            "numpy": np.__version__,
            "threadpoolctl": _version("threadpoolctl"),
            "torch": _version("torch"),
            "scipy": _version("scipy"),
            "scikit-learn": _version("scikit-learn"),
            "faiss-cpu": _version("faiss-cpu"),
        },
    }


# --- the run and its table -------------------------------------------------------------------


def _bench_impl(case, impl, inputs, expected, dtype, n_threads, timer):
    """Check ``impl`` once, then time it; the result entry for one implementation."""
    try:
        call = make_runner(case, impl, inputs, n_threads)
        ok, err, message = check_result(case, call(), expected, dtype)
    except Exception as exc:  # report it in the table and the exit code, keep going
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    err = err if math.isfinite(err) else None  # keep the JSON standard
    if not ok:
        return {"status": "mismatch", "reason": message, "max_rel_err": err}
    times = timer(call)
    return {"status": "ok", "max_rel_err": err, **summarize(times),
            "times_ms": [1e3 * t for t in times]}


def _rate(case, dtype, ms):
    if ms is None or ms <= 0:
        return None
    work = case.work(dtype)
    if "flops" in work:
        return {"unit": "GFLOP/s", "value": work["flops"] / (ms * 1e-3) / 1e9}
    return {"unit": "GB/s", "value": work["bytes"] / (ms * 1e-3) / 1e9}


def _case_dtypes(case, dtypes, quick):
    return [d for d in dtypes if d in case.dtypes and (not quick or d in case.quick_dtypes)]


def _case_impls(case, impls, quick):
    return [i for i in impls if i in case.impls and (not quick or i in case.quick_impls)]


def run(quick=True, dtypes=DTYPES, n_threads=None, impls=ALL_IMPLS, kernels=KERNELS,
        repeat=None, seed=0, progress=None):
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
    kernels : sequence of {"conv", "pool", "knn"}
    repeat : int or None
        Fixed count of timed calls per implementation (kNN: of rounds; for smoke tests);
        None sizes the count from a time budget.
    seed : int
        Seed of the input generator.
    progress : callable or None
        Called with a short message before each case (e.g. ``print`` to stderr).

    Returns
    -------
    list of dict
        Keys: ``kernel, case, dtype, n_threads, params, work, impls`` (per implementation:
        ``status`` ``"ok"``, ``"skipped"``, ``"mismatch"`` or ``"error"``, timings in ms,
        ``max_rel_err``), ``speedup_vs_reference`` (reference ms / ours ms),
        ``ratio_vs_torch`` (ours ms / torch ms) and ``rate`` (ours, GFLOP/s or GB/s).
        kNN results add, per implementation, ``agreement`` (with ``agreement_with``),
        ``extra_mb``, ``setup_mb``, ``spread_pct``, ``checked_against``; and per case
        ``best_peer``, ``ratio_vs_best_peer`` (ours ms / its ms, medians),
        ``paired_ratio_vs_best_peer`` (median over interleaved rounds), ``ratios_vs_peers``,
        ``paired_ratios`` (per peer: median, min, max, mad, rounds), ``agreement_min``.
    """
    from ._threads import effective_n_threads

    dtypes = tuple(np.dtype(d).name for d in dtypes)
    for d in dtypes:
        if d not in RTOL:
            raise ValueError(f"dtypes must be among {tuple(RTOL)}; got {d!r}")
    for impl in impls:
        if impl not in ALL_IMPLS:
            raise ValueError(f"impls must be among {ALL_IMPLS}; got {impl!r}")
    cases = get_cases(kernels, quick)
    n_threads = effective_n_threads(n_threads)
    timers = (quick_timers if quick else full_timers)(repeat)
    rounds, reference_timer = knn_timers(quick, repeat)
    plans = [(case, _case_dtypes(case, dtypes, quick), _case_impls(case, impls, quick))
             for case in cases]
    plans = [(case, ds, ims) for case, ds, ims in plans if ds and ims]
    used = {impl for _, _, ims in plans for impl in ims}
    want_torch = "torch" in used and torch_available()
    any_knn = any(case.kernel == "knn" for case, _, _ in plans)
    peers = [p for p in KNN_PEERS if p in used and impl_available(p)]

    def say(message):
        if progress is not None:
            progress(message)

    results = []
    with thread_limits(n_threads, torch=want_torch, openmp=any_knn, peers=peers):
        for case, case_dtypes, case_impls in plans:
            if case.kernel == "knn":
                state = {}  # the case's float64 oracle, shared by its dtypes
                for dtype in case_dtypes:
                    say(f"{case.id} {dtype}")
                    results.append(_run_knn(case, dtype, case_impls, n_threads, rounds,
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
                        entries[impl] = {"status": "skipped", "reason": _torch_error}
                        continue
                    entries[impl] = _bench_impl(
                        case, impl, inputs, expected, dtype, n_threads, timers[impl]
                    )
                results.append(_result(case, dtype, n_threads, entries))
    return results


def _finite(x):
    return x if x is not None and math.isfinite(x) else None


def _mb(nbytes):
    return None if nbytes is None else nbytes / 2**20


def _run_knn(case, dtype, impls, n_threads, rounds, reference_timer, seed, state, say):
    """Check, measure and time one kNN case × dtype; its result dict (see :func:`run`)."""
    inputs = make_inputs(case, dtype, seed)
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
            call = make_runner(case, impl, inputs, n_threads)
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
            ok, err, message = check_result(case, outputs, expected, dtype, impl=impl)
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
    result.update(
        best_peer=best,
        ratio_vs_best_peer=ours / peer_ms[best] if ours and best else None,
        paired_ratio_vs_best_peer=paired[best]["median"] if best in paired else None,
        ratios_vs_peers={p: ours / m for p, m in peer_ms.items()} if ours else {},
        paired_ratios=paired,
        agreement_min=min(agreements) if agreements else None,
    )
    return result


def _result(case, dtype, n_threads, entries):
    def ms(impl):
        e = entries.get(impl)
        return e["median_ms"] if e and e.get("status") == "ok" else None

    ours, ref, torch = ms("fast"), ms("reference"), ms("torch")
    for impl, e in entries.items():
        if e.get("status") == "ok":
            e["rate"] = _rate(case, dtype, e["median_ms"])
    return {
        "kernel": case.kernel,
        "case": case.id,
        "dtype": dtype,
        "n_threads": n_threads,
        "quick": case.quick,
        "params": asdict(case),
        "work": case.work(dtype),
        "impls": entries,
        "speedup_vs_reference": ref / ours if ours and ref else None,
        "ratio_vs_torch": ours / torch if ours and torch else None,
        "rate": _rate(case, dtype, ours),
    }


def failures(results):
    """``(case, dtype, impl, status, reason)`` for every implementation that failed."""
    return [
        (r["case"], r["dtype"], impl, e["status"], e.get("reason", ""))
        for r in results
        for impl, e in r["impls"].items()
        if e["status"] in ("mismatch", "error")
    ]


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


def _format_forward_backward(results):
    header = ("kernel", "case", "dtype", "ours ms", "ref ms", "torch ms",
              "vs ref", "ours/torch", "ours rate")
    rows = []
    for r in results:
        speedup, ratio, rate = r["speedup_vs_reference"], r["ratio_vs_torch"], r["rate"]
        rows.append((
            r["kernel"], r["case"], r["dtype"],
            _cell_ms(r, "fast"), _cell_ms(r, "reference"), _cell_ms(r, "torch"),
            f"{speedup:.1f}x" if speedup else "-",
            f"{ratio:.2f}" if ratio else "-",
            f"{rate['value']:.1f} {rate['unit']}" if rate else "-",
        ))
    out = _layout(header, rows, left=3)
    threads = sorted({r["n_threads"] for r in results})
    out.append("")
    out.append(
        f"threads: {', '.join(map(str, threads)) or '-'}; median of repeats, forward + backward; "
        "vs ref = reference ms / ours ms; ours/torch < 1: ours faster"
    )
    return out


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

    Conv and pool rows share one table; kNN rows get their own, one row per peer.
    """
    knn = [r for r in results if r["kernel"] == "knn"]
    other = [r for r in results if r["kernel"] != "knn"]
    blocks = []
    if other or not knn:
        blocks.append(_format_forward_backward(other))
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
