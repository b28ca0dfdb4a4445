"""Benchmark cases, runners and timing, shared by ``benchmarks/`` and ``cs231n-fast bench``.

This module is the one place where benchmark shapes are defined: the pytest-benchmark suite
(``pytest benchmarks --benchmark-only``) parametrises over :data:`CASES`, and the command line
(``cs231n-fast bench``) times the same cases with :func:`run`, prints :func:`format_table` and
draws :func:`plot_results`. Three families of cases live here: conv and pool (forward +
backward, below), LSTM (forward + backward of one step and of a sequence, see "LSTM cases")
and kNN (see "kNN cases" further down).

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
``2·N·F·OH·OW·C·KH·KW``, backward twice that, i.e. the products of the im2col formulation);
for pooling the nominal bytes moved (forward reads ``x`` and writes ``out``, backward reads
``dout`` and writes ``dx``; index caches are not counted). Neither depends on how an
implementation computes the result.

BLAS peak: the GEMM-bound cases (conv, LSTM, kNN with L2 distances; ``case.gemm_flops()`` is
not None) are also reported as a share of this machine's BLAS GEMM speed, measured in the same
run at the same thread count (:func:`gemm_peaks`: NumPy's ``matmul`` of
:data:`GEMM_PEAK_SHAPE`, median of a few calls after warm-up, once per dtype). The share is
``effective GFLOP/s / peak GFLOP/s``; a fused kernel with elementwise work between products
stays below 1. A share above 1 means fewer products than counted (e.g. a faster algorithm), or
a peak measured during a slow spell of a shared machine: compare it with the peak's own
timings in the JSON.

LSTM cases
----------
:data:`LSTM_CASES` time one LSTM step (``lstm_step_forward`` + ``lstm_step_backward``) and a
``T``-step sequence (``lstm_forward`` + ``lstm_backward``, upstream gradients of every hidden
state) in the course's layout (``Wx`` (D, 4H), ``Wh`` (H, 4H), gates ordered i, f, o, g):

``fast``, ``reference``
    :mod:`cs231n_fast.ops.rnn` and :mod:`cs231n_fast.reference`.
``six_matmuls``
    Step only: just the six products of a step in NumPy (``x Wx``, ``h Wh``, ``da Wx^T``,
    ``da Wh^T``, ``x^T da``, ``h^T da``), the floor a NumPy step cannot beat. It is not an
    LSTM: its check covers the shapes, dtypes and finiteness of the five results only.
``torch``
    ``torch.nn.LSTMCell`` (step) / ``torch.nn.LSTM(batch_first=True)`` (sequence) holding the
    same weights (rows reordered to torch's gate order i, f, g, o; ``bias_hh`` zero), forward
    and ``torch.autograd.grad`` for the same gradients as ours. Its results are mapped back to
    the course's layout for the check, outside the timed call.

Work: the FLOPs of the products, ``2·N·(D+H)·4H`` forward and twice that backward per step,
``T`` times that for a sequence.

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
resident memory above the level before the call (the kernel's peak-RSS counter, reset through
``/proc/self/clear_refs``, together with a sampling thread; Linux only, else ``None``).
``setup_mb`` is what building the runner kept (faiss's copy of the training set, for
instance).

LSTM timing is paired as well, since its targets are ratios (ours / the six NumPy products,
ours / torch): after each implementation has been timed on its own, :class:`SettledRounds`
times ours and the floor/peer again in rounds, each settling (see :data:`SETTLE_SECONDS`) and
then timing a few calls in turn; ``ratio_vs_floor`` and ``ratio_vs_peer`` of an LSTM row are
the medians of the per-round ratios (``paired_ratios`` holds median, min, max, mad, rounds).

This module imports no compiled code, no torch, no kNN peer and no matplotlib at import time.
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
    "LSTM_IMPLS",
    "KNN_IMPLS",
    "KNN_PEERS",
    "ALL_IMPLS",
    "TIMED_IMPLS",
    "KERNELS",
    "DTYPES",
    "RTOL",
    "MIN_LABEL_AGREEMENT",
    "ConvCase",
    "PoolCase",
    "LstmCase",
    "KnnCase",
    "CONV_CASES",
    "POOL_CASES",
    "LSTM_CASES",
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
    "SettledRounds",
    "lstm_rounds",
    "paired_ratios",
    "quick_timers",
    "full_timers",
    "knn_timers",
    "GEMM_PEAK_SHAPE",
    "gemm_timer",
    "gemm_peaks",
    "blas_info",
    "blas_vendor",
    "machine_info",
    "summarize",
    "run",
    "failures",
    "format_table",
    "PLOT_INSTALL_HINT",
    "require_matplotlib",
    "plot_results",
]

#: Implementations of the conv and pool cases, in table order.
IMPLS = ("fast", "reference", "torch")
#: Implementations of the LSTM cases, in table order (``six_matmuls``: the step's floor).
LSTM_IMPLS = ("fast", "reference", "six_matmuls", "torch")
#: Implementations of the kNN cases, in table order.
KNN_IMPLS = ("fast", "reference", "scipy", "sklearn", "faiss")
#: The kNN peers (libraries other than ours and the twin).
KNN_PEERS = ("scipy", "sklearn", "faiss")
#: Every implementation name any case knows (what ``--impls`` accepts).
ALL_IMPLS = ("fast", "reference", "six_matmuls", "torch", "scipy", "sklearn", "faiss")
#: Implementations timed one after the other with a :class:`Timer` (every non-kNN case).
TIMED_IMPLS = ("fast", "reference", "six_matmuls", "torch")
#: Kernel families with benchmark cases.
KERNELS = ("conv", "pool", "knn", "lstm")
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

    def gemm_flops(self):
        """FLOPs of the GEMMs of the im2col formulation: all of :meth:`flops`."""
        return self.flops()

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

    def gemm_flops(self):
        """None: pooling is bound by memory, not by products."""
        return None

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

    def gemm_flops(self):
        """FLOPs of the distance GEMM ``X_query X_train^T`` (L2); None for L1 (no GEMM)."""
        return 2 * self.n_query * self.n_train * self.d if self.metric == "l2" else None

    def work(self, dtype):
        return {"flops": self.flops()}


@dataclass(frozen=True)
class LstmCase:
    """One LSTM benchmark: batch ``n``, input size ``d``, hidden size ``h``.

    ``t=None`` is one step (``lstm_step_forward`` + ``lstm_step_backward``); an integer ``t``
    a sequence of ``t`` steps (``lstm_forward`` + ``lstm_backward``).
    """

    n: int
    d: int
    h: int
    t: Optional[int] = None
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "lstm"
    dtypes = DTYPES
    quick_dtypes = ("float32",)

    def __post_init__(self):
        if self.t is not None and self.t < 1:
            raise ValueError(f"t must be None (one step) or a positive int; got {self.t!r}")

    @property
    def step(self):
        """True for one step, False for a sequence."""
        return self.t is None

    @property
    def impls(self):
        """Implementations the case runs: the six-product floor is defined for a step only."""
        return LSTM_IMPLS if self.step else tuple(i for i in LSTM_IMPLS if i != "six_matmuls")

    quick_impls = impls

    @property
    def id(self):
        kind = "step" if self.step else f"seq{self.t}"
        return f"lstm-{kind}-n{self.n}-d{self.d}-h{self.h}"

    def flops(self):
        """FLOPs of the products: per step ``2·n·(d+h)·4h`` forward, twice that backward."""
        return 3 * 2 * self.n * (self.d + self.h) * 4 * self.h * (1 if self.step else self.t)

    def gemm_flops(self):
        """All of :meth:`flops`: the products are GEMMs."""
        return self.flops()

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
LSTM_CASES = (
    LstmCase(64, 256, 512, quick=True),
    LstmCase(64, 256, 512, t=16, quick=True),
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
CASES = {"conv": CONV_CASES, "pool": POOL_CASES, "knn": KNN_CASES, "lstm": LSTM_CASES}


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

    Conv: ``x, w, b, dout``; pool: ``x, dout``; LSTM: ``x, h0, c0, Wx, Wh, b`` and the
    upstream gradients ``dh`` (of ``next_h``, or of every hidden state of a sequence) and, for
    a step, ``dc`` (of ``next_c``); kNN: ``X_train, X_query`` and the integer labels
    ``y_train, y_query`` (see :func:`knn_data`). Values are float32-representable, so the same
    ``seed`` gives the same numbers in every dtype. Pool inputs are distinct (no ties), so
    every implementation routes the gradient to the same element.
    """
    if case.kernel == "knn":
        return _knn_inputs(case, dtype, seed)
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)

    def normal(*shape, scale=1.0):
        # A power-of-two scale keeps the float32 values exact.
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(dtype)

    if case.kernel == "lstm":
        return _lstm_inputs(case, normal)
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


def _lstm_inputs(case, normal):
    n, d, h = case.n, case.d, case.h
    steps = () if case.step else (case.t,)

    def fan_in_scale(fan_in):
        # The power of two at or below 1/sqrt(fan_in): pre-activations of unit order, so the
        # gates are neither saturated nor linear.
        return 2.0 ** -math.ceil(math.log2(fan_in) / 2)

    inputs = {
        "x": normal(n, *steps, d),
        "h0": normal(n, h, scale=0.5),
        "c0": normal(n, h),
        "Wx": normal(d, 4 * h, scale=fan_in_scale(d)),
        "Wh": normal(h, 4 * h, scale=fan_in_scale(h)),
        "b": normal(4 * h, scale=0.25),
        "dh": normal(n, *steps, h),
    }
    if case.step:
        inputs["dc"] = normal(n, h)
    return inputs


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
    """True when ``impl`` can run: ours, the twin and NumPy's floor always, a peer when
    importable."""
    if impl in ("fast", "reference", "six_matmuls"):
        return True
    if impl not in _PEER_MODULES:
        raise ValueError(f"impl must be one of {ALL_IMPLS}; got {impl!r}")
    return _import_peer(impl) is not None


def _unavailable_reason(impl):
    return _torch_error if impl == "torch" else _peer_errors.get(impl)


def _numpy_module(impl, case):
    """The module holding ``case``'s functions for ``impl`` ``"fast"`` or ``"reference"``."""
    if impl == "reference":
        from . import reference

        return reference
    if case.kernel == "lstm":
        from .ops import rnn

        return rnn
    from . import ops

    return ops


def _numpy_impl(module, case, inputs, n_threads):
    if case.kernel == "lstm":
        return _lstm_impl(module, case, inputs, n_threads)
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


def _lstm_impl(module, case, inputs, n_threads):
    x, h0, c0, Wx, Wh, b, dh = (inputs[k] for k in ("x", "h0", "c0", "Wx", "Wh", "b", "dh"))
    if case.step:
        dc = inputs["dc"]
        forward, backward = module.lstm_step_forward, module.lstm_step_backward

        def call():
            next_h, next_c, cache = forward(x, h0, c0, Wx, Wh, b, n_threads=n_threads)
            return (next_h, next_c) + tuple(backward(dh, dc, cache, n_threads=n_threads))

        return call

    forward, backward = module.lstm_forward, module.lstm_backward

    def call():
        h, cache = forward(x, h0, Wx, Wh, b, c0, n_threads=n_threads)
        return (h,) + tuple(backward(dh, cache, n_threads=n_threads))

    return call


def _six_matmuls(case, inputs):
    """The six products of an LSTM step alone, in NumPy: the floor of a NumPy step."""
    x, h0, Wx, Wh = inputs["x"], inputs["h0"], inputs["Wx"], inputs["Wh"]
    # A stand-in for the pre-activation gradient (N, 4H), built before the timed call.
    da = np.tile(inputs["dh"], 4)

    def call():
        a = x @ Wx
        a += h0 @ Wh
        return a, da @ Wx.T, da @ Wh.T, x.T @ da, h0.T @ da

    return call


def _gate_swap(hidden):
    """Row order mapping the course's gate blocks (i, f, o, g) to torch's (i, f, g, o).

    It swaps the last two blocks of ``hidden`` rows, so it also maps torch's order back.
    """
    blocks = np.arange(4 * hidden).reshape(4, hidden)
    return blocks[[0, 1, 3, 2]].ravel()


def _torch_lstm(torch, case, inputs):
    tensor = torch.from_numpy
    x = tensor(inputs["x"]).requires_grad_(True)
    shape = dict(input_size=case.d, hidden_size=case.h, dtype=x.dtype)
    if case.step:
        module = torch.nn.LSTMCell(**shape)
    else:
        module = torch.nn.LSTM(**shape, batch_first=True)
    weight_ih, weight_hh, bias_ih, bias_hh = module.parameters()
    order = torch.from_numpy(_gate_swap(case.h))
    with torch.no_grad():
        weight_ih.copy_(tensor(inputs["Wx"]).T[order])
        weight_hh.copy_(tensor(inputs["Wh"]).T[order])
        bias_ih.copy_(tensor(inputs["b"])[order])
        bias_hh.zero_()
    dh = tensor(inputs["dh"])
    if case.step:
        h0 = tensor(inputs["h0"]).requires_grad_(True)
        c0 = tensor(inputs["c0"]).requires_grad_(True)
        dc = tensor(inputs["dc"])
        wrt = (x, h0, c0, weight_ih, weight_hh, bias_ih)

        def call():
            next_h, next_c = module(x, (h0, c0))
            grads = torch.autograd.grad((next_h, next_c), wrt, grad_outputs=(dh, dc))
            return (next_h, next_c) + grads

        return call

    h0 = tensor(inputs["h0"]).unsqueeze(0).requires_grad_(True)  # (layers, N, H)
    c0 = tensor(inputs["c0"]).unsqueeze(0)  # no gradient: the course returns none for c0
    wrt = (x, h0, weight_ih, weight_hh, bias_ih)

    def call():
        h, _ = module(x, (h0, c0))
        return (h,) + torch.autograd.grad(h, wrt, grad_outputs=dh)

    return call


def _lstm_from_torch(case, outputs):
    """torch's LSTM results (see :func:`_torch_lstm`) in the course's layout, as NumPy."""
    *states, dh0, dw_ih, dw_hh, db = (_as_numpy(o) for o in outputs)
    order = _gate_swap(case.h)
    if not case.step:
        dh0 = dh0[0]
    return (*states, dh0, dw_ih[order].T, dw_hh[order].T, db[order])


def _torch_impl(case, inputs):
    torch = _import_torch()
    if torch is None:
        raise RuntimeError(_torch_error)
    if case.kernel == "lstm":
        return _torch_lstm(torch, case, inputs)
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

    It returns the outputs ``(out, dx, dw, db)`` (conv), ``(out, dx)`` (pool),
    ``(next_h, next_c, dx, dprev_h, dprev_c, dWx, dWh, db)`` (LSTM step) or
    ``(h, dx, dh0, dWx, dWh, db)`` (LSTM sequence) as arrays or, for torch, tensors (for the
    LSTM in torch's layout; see :func:`check_result`). ``six_matmuls`` (LSTM step only)
    returns its five products. ``n_threads`` is passed to ``fast`` and ``reference``;
    torch's and BLAS's thread counts are set by :func:`thread_limits`.

    For a kNN case the callable runs one ``pairwise`` / ``kneighbors`` / ``predict`` call and
    returns ``(D,)``, ``(distances, indices)`` or ``(labels,)``; any state (a fitted
    scikit-learn estimator, a filled faiss index, a trained classifier) is built here, before
    the timed call. ``impl`` is then one of :data:`KNN_IMPLS`.
    """
    if case.kernel == "knn":
        return _knn_runner(case, impl, inputs, n_threads)
    if impl not in case.impls:
        raise ValueError(f"impl must be one of {case.impls} for {case.id}; got {impl!r}")
    if impl in ("fast", "reference"):
        return _numpy_impl(_numpy_module(impl, case), case, inputs, n_threads)
    if impl == "six_matmuls":
        return _six_matmuls(case, inputs)
    return _torch_impl(case, inputs)


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
    if case.kernel == "lstm":
        if case.step:
            return ("next_h", "next_c", "dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
        return ("h", "dx", "dh0", "dWx", "dWh", "db")
    return ("out", "dx", "dw", "db") if case.kernel == "conv" else ("out", "dx")


def _check_floor(case, outputs, dtype):
    """The check of ``six_matmuls``: five finite products of the right shapes and dtype."""
    n, d, h = case.n, case.d, case.h
    shapes = {"a": (n, 4 * h), "dx": (n, d), "dprev_h": (n, h), "dWx": (d, 4 * h),
              "dWh": (h, 4 * h)}
    if len(outputs) != len(shapes):
        return False, math.nan, f"{len(outputs)} outputs, expected {len(shapes)}"
    problems = []
    for (name, shape), got in zip(shapes.items(), outputs):
        got = _as_numpy(got)
        if got.shape != shape:
            problems.append(f"{name}: shape {got.shape}, expected {shape}")
        elif got.dtype != dtype:
            problems.append(f"{name}: dtype {got.dtype}, expected {dtype}")
        elif not np.isfinite(got).all():
            problems.append(f"{name}: not finite")
    return not problems, math.nan, "; ".join(problems)


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

    LSTM cases need ``impl`` for two implementations: torch's results are first mapped to
    the course's layout, and ``six_matmuls`` (not an LSTM) is checked for the shapes, dtype
    and finiteness of its products only (``max_rel_err`` is then NaN).
    """
    if case.kernel == "knn":
        return _check_knn(case, outputs, expected, dtype, impl)
    dtype = np.dtype(dtype)
    if case.kernel == "lstm" and impl == "six_matmuls":
        return _check_floor(case, outputs, dtype)
    if case.kernel == "lstm" and impl == "torch":
        outputs = _lstm_from_torch(case, outputs)
    if len(outputs) != len(expected):
        return False, math.inf, f"{len(outputs)} outputs, expected {len(expected)}"
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


#: Seconds an implementation runs untimed before it is timed (``Timer.settle``). After a
#: multithreaded call OpenBLAS's idle threads spin for about 2**28 cycles (~0.1 s) and GNU
#: OpenMP's for a while too; on a 2-core machine whatever runs next in that window gets about
#: one core: measured, the LSTM step ran 2x slower for ~0.1 s after NumPy's threaded products,
#: and NumPy's products after our kernels' first calls. Settling first times each
#: implementation as a loop of its own calls would run (steady state), not its neighbour's
#: leftovers.
SETTLE_SECONDS = 0.25


@dataclass(frozen=True)
class Timer:
    """Wall-clock timer: ``warmup`` untimed calls, then repeats timed with ``perf_counter``.

    ``settle`` seconds: keep making untimed calls after the warm-up until that long has passed
    since it began (see :data:`SETTLE_SECONDS`). With ``repeat`` set, exactly that many timed
    calls. Otherwise the first timed call sets the count: enough calls to fill ``budget``
    seconds, clamped to ``[min_repeat, max_repeat]``. The garbage collector is paused while
    timing. Report the median (:func:`summarize`).
    """

    warmup: int = 1
    repeat: Optional[int] = None
    budget: float = 1.0
    min_repeat: int = 3
    max_repeat: int = 50
    settle: float = 0.0

    def __call__(self, fn):
        """Seconds per timed call of ``fn``, as a list."""
        start = time.perf_counter()
        for _ in range(self.warmup):
            fn()
        while time.perf_counter() - start < self.settle:
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


@dataclass(frozen=True)
class SettledRounds:
    """Paired timing of several implementations of a layer case (the LSTM cases).

    Each round takes the implementations in an order rotated by one per round; each settles
    (untimed calls for ``settle`` seconds, so the previous one's spinning threads are idle)
    and then makes ``calls`` timed calls, whose median is its time for the round. Per-round
    ratios are paired measurements: a slow spell of a shared machine lasting a round lands on
    every implementation of it. The garbage collector is paused while timing.
    """

    rounds: int = 10
    calls: int = 5
    settle: float = SETTLE_SECONDS

    def __call__(self, calls):
        """``{name: [seconds per round]}`` for the callables in ``calls`` (a dict)."""
        names = list(calls)
        times = {name: [] for name in names}
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for r in range(self.rounds):
                shift = r % len(names) if names else 0
                for name in names[shift:] + names[:shift]:
                    fn = calls[name]
                    start = time.perf_counter()
                    while time.perf_counter() - start < self.settle:
                        fn()
                    one = []
                    for _ in range(self.calls):
                        t0 = time.perf_counter()
                        fn()
                        one.append(time.perf_counter() - t0)
                    times[name].append(statistics.median(one))
        finally:
            if gc_was_enabled:
                gc.enable()
        return times


def lstm_rounds(quick, repeat=None):
    """The :class:`SettledRounds` of the LSTM cases (``repeat``: that many one-call rounds,
    unsettled, for smoke tests)."""
    if repeat is not None:
        return SettledRounds(rounds=repeat, calls=1, settle=0.0)
    if quick:
        return SettledRounds(rounds=4, calls=3)
    return SettledRounds(rounds=10, calls=5)


def paired_ratios(times, ours="fast"):
    """``{impl: {median, min, max, mad, rounds}}`` of the per-round ratios ours / impl."""
    out = {}
    for impl, ts in times.items():
        if impl == ours:
            continue
        ratios = [a / b for a, b in zip(times[ours], ts) if b > 0]
        if not ratios:
            continue
        median = statistics.median(ratios)
        out[impl] = {"median": median, "min": min(ratios), "max": max(ratios),
                     "mad": statistics.median(abs(x - median) for x in ratios),
                     "rounds": len(ratios)}
    return out


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


def _timers(peer, reference):
    return {impl: reference if impl == "reference" else peer for impl in TIMED_IMPLS}


def quick_timers(repeat=None):
    """Per-implementation timers for the quick run (well under a minute in all)."""
    if repeat is not None:
        return _timers(Timer(warmup=0, repeat=repeat), Timer(warmup=0, repeat=repeat))
    # The correctness call has already warmed the reference up; it is slow, time it little.
    return _timers(Timer(warmup=2, budget=0.4, min_repeat=3, max_repeat=50, settle=SETTLE_SECONDS),
                   Timer(warmup=0, budget=0.3, min_repeat=1))


def full_timers(repeat=None):
    """Per-implementation timers for the full run."""
    if repeat is not None:
        return _timers(Timer(warmup=1, repeat=repeat), Timer(warmup=1, repeat=repeat))
    return _timers(Timer(warmup=2, budget=1.0, min_repeat=5, max_repeat=100, settle=SETTLE_SECONDS),
                   Timer(warmup=0, budget=1.5, min_repeat=3))


# --- the machine's BLAS GEMM peak ------------------------------------------------------------

#: Shape ``(m, k, n)`` of the product timed as this machine's BLAS GEMM peak: square and large
#: enough for BLAS to reach its top speed, small enough to time in a fraction of a second.
GEMM_PEAK_SHAPE = (1024, 1024, 1024)


def gemm_timer(quick, repeat=None):
    """The timer of :func:`gemm_peaks`: a few calls after warm-up, fewer in the quick run."""
    if repeat is not None:
        return Timer(warmup=1, repeat=repeat)
    if quick:
        return Timer(warmup=1, budget=0.3, min_repeat=3, max_repeat=10, settle=SETTLE_SECONDS)
    return Timer(warmup=2, budget=1.0, min_repeat=5, max_repeat=30, settle=SETTLE_SECONDS)


def _gemm_peak(dtype, n_threads, timer):
    """Time NumPy's ``matmul`` of :data:`GEMM_PEAK_SHAPE` in ``dtype`` under the current
    BLAS thread limit (``n_threads`` is recorded only)."""
    m, k, n = GEMM_PEAK_SHAPE
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32).astype(dtype)
    b = rng.standard_normal((k, n), dtype=np.float32).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    stats = summarize(timer(lambda: np.matmul(a, b, out=out)))
    gflops = 2 * m * k * n / (stats["median_ms"] * 1e-3) / 1e9
    return {"dtype": np.dtype(dtype).name, "shape": [m, k, n], "n_threads": n_threads,
            "gflops": gflops, **stats}


def gemm_peaks(dtypes=DTYPES, n_threads=None, quick=False, repeat=None):
    """This machine's BLAS GEMM speed per dtype, at ``n_threads`` BLAS threads.

    Times NumPy's ``matmul`` of :data:`GEMM_PEAK_SHAPE` (``out=`` preallocated) with
    :func:`gemm_timer` and returns ``{dtype: record}``, each record holding ``gflops``
    (``2·m·k·n`` over the median time), ``shape``, ``n_threads`` and the timings of
    :func:`summarize`. :func:`run` measures these itself for the dtypes of its GEMM-bound
    cases; the benchmark suite records them with the machine information.
    """
    from ._threads import effective_n_threads

    n_threads = effective_n_threads(n_threads)
    timer = gemm_timer(quick, repeat)
    with thread_limits(n_threads):
        return {np.dtype(d).name: _gemm_peak(np.dtype(d).name, n_threads, timer) for d in dtypes}


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
        pairs = (line.partition(":") for line in block.splitlines())
        fields = {k.strip(): v.strip() for k, _, v in pairs}
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
        ok, err, message = check_result(case, call(), expected, dtype, impl=impl)
    except Exception as exc:  # report it in the table and the exit code, keep going
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    err = _finite(err)  # keep the JSON standard
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
    kernels : sequence of {"conv", "pool", "knn", "lstm"}
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
        ``ratio_vs_torch`` are then those medians (``unpaired_ratio_vs_*``: of the medians). kNN results add, per implementation, ``agreement`` (with ``agreement_with``),
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
    settled = lstm_rounds(quick, repeat)
    plans = [(case, _case_dtypes(case, dtypes, quick), _case_impls(case, impls, quick))
             for case in cases]
    plans = [(case, ds, ims) for case, ds, ims in plans if ds and ims]
    used = {impl for _, _, ims in plans for impl in ims}
    want_torch = "torch" in used and torch_available()
    any_knn = any(case.kernel == "knn" for case, _, _ in plans)
    peers = [p for p in KNN_PEERS if p in used and impl_available(p)]

    gemm_peaks = {} if gemm_peaks is None else gemm_peaks
    gemm_dtypes = {d: None for case, ds, _ in plans if case.gemm_flops() for d in ds}

    def say(message):
        if progress is not None:
            progress(message)

    results = []
    with thread_limits(n_threads, torch=want_torch, openmp=any_knn, peers=peers):
        for dtype in gemm_dtypes:
            if dtype not in gemm_peaks:
                say(f"BLAS GEMM peak, {dtype}")
                gemm_peaks[dtype] = _gemm_peak(dtype, n_threads, gemm_timer(quick, repeat))

        def add(case, result):
            peak = gemm_peaks.get(result["dtype"])
            results.append(_with_gemm_share(case, result, peak and peak["gflops"]))

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
                        entries[impl] = {"status": "skipped", "reason": _torch_error}
                        continue
                    entries[impl] = _bench_impl(
                        case, impl, inputs, expected, dtype, n_threads, timers[impl]
                    )
                paired = None
                if case.kernel == "lstm":
                    paired = _paired_lstm(case, inputs, entries, n_threads, settled)
                add(case, _result(case, dtype, n_threads, entries, paired))
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


def _paired_lstm(case, inputs, entries, n_threads, settled):
    """Ours against the floor and torch in :class:`SettledRounds` (those that ran and passed
    their check); ``{impl: ratio record}`` or None when there is nothing to pair."""
    names = [i for i in ("fast", "six_matmuls", "torch")
             if entries.get(i, {}).get("status") == "ok"]
    if "fast" not in names or len(names) < 2:
        return None
    calls = {impl: make_runner(case, impl, inputs, n_threads) for impl in names}
    return paired_ratios(settled(calls))


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
    header = ("kernel", "case", "dtype", "ours ms", "ref ms", "peer", "peer ms",
              "vs ref", "ours/peer", "ours rate", "% peak")
    rows, floors = [], []
    for r in results:
        rate, share, peer = r["rate"], r.get("blas_peak_share"), r.get("peer")
        rows.append((
            r["kernel"], r["case"], r["dtype"],
            _cell_ms(r, "fast"), _cell_ms(r, "reference"),
            peer or "-", _cell_ms(r, peer) if peer else "-",
            _fmt(r["speedup_vs_reference"], ".1f", "x"),
            _fmt(r.get("ratio_vs_peer"), ".2f"),
            f"{rate['value']:.1f} {rate['unit']}" if rate else "-",
            _fmt(None if share is None else 100 * share, ".0f", "%"),
        ))
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
        "lstm: forward + backward); vs ref = reference ms / ours ms; ours/peer < 1: ours "
        "faster (peer: torch; kNN: the fastest of scipy, sklearn, faiss; kNN and lstm: "
        "median of paired rounds)"
    )
    if peaks:
        m, k, n = GEMM_PEAK_SHAPE
        figures = ", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in sorted(peaks.items()))
        out.append(
            f"BLAS GEMM peak (numpy matmul {m}x{k}x{n}, same threads, median): {figures}; "
            "% peak = ours effective GFLOP/s / the peak of the row's dtype (GEMM-bound "
            "cases: conv, lstm, kNN L2)"
        )
    return out + floors


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


def _ratio_panel(ax, values, notes, higher_is_faster, title, xlabel):
    """Horizontal bars from 1 to each value on a log axis, each annotated."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    present = [v for v in values if v is not None and v > 0]
    lo, hi = math.log10(min(present + [1.0])), math.log10(max(present + [1.0]))
    pad = max(0.6, 0.3 * (hi - lo))  # decades of room on each side for the annotations
    ax.set_xscale("log")
    ax.set_xlim(10 ** (lo - pad), 10 ** (hi + pad))
    for y, (value, note) in enumerate(zip(values, notes)):
        if value is None or value <= 0:
            ax.text(1.0, y, "  n/a", va="center", ha="left", fontsize=8, color="0.45")
            continue
        faster = value > 1 if higher_is_faster else value < 1
        ax.barh(y, value - 1.0, left=1.0, height=0.62, color=_FASTER if faster else _SLOWER)
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

    One horizontal bar per case × dtype in two panels on log axes, each with a line at 1:
    the speed-up over the NumPy reference (reference ms / ours ms; right of 1: ours faster)
    and ours relative to the peer (ours ms / peer ms, the peer named; left of 1: ours
    faster). Bars are annotated with their values; a missing figure reads "n/a". Drawn with
    matplotlib's Agg canvas, without pyplot, so no display and no global state is touched.

    Raises
    ------
    ImportError
        If matplotlib is not importable (see :func:`require_matplotlib`).
    """
    Figure, FigureCanvasAgg = require_matplotlib()
    labels = [f"{r['case']}  {r['dtype']}" for r in results]
    speedups = [r.get("speedup_vs_reference") for r in results]
    ratios = [r.get("ratio_vs_peer") for r in results]
    peers = [f" vs {r['peer']}" if r.get("peer") else "" for r in results]

    fig = Figure(figsize=(14, 1.8 + 0.36 * max(len(results), 1)), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, sharey=True)
    _ratio_panel(left, speedups, [""] * len(results), True,
                 "Speed-up over the NumPy reference",
                 "reference ms / ours ms  (> 1: ours faster)")
    _ratio_panel(right, ratios, peers, False,
                 "Ours relative to the peer (torch; kNN: fastest peer)",
                 "ours ms / peer ms  (< 1: ours faster)")
    left.set_yticks(range(len(results)), labels, fontsize=8)
    left.set_ylim(len(results) - 0.5, -0.5)  # first case on top
    if not results:
        left.text(1.0, 0.0, "no results", ha="center", va="center")
    if title is None:
        threads = ", ".join(map(str, sorted({r["n_threads"] for r in results}))) or "-"
        title = f"cs231n-fast bench: {threads} thread(s), {_cpu_model()}, {blas_vendor()}"
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, format="png", dpi=110)
