"""Benchmark cases, runners and timing, shared by ``benchmarks/`` and ``cs231n-fast bench``.

This package is the one place where benchmark shapes are defined: the pytest-benchmark suite
(``pytest benchmarks --benchmark-only``) parametrises over :data:`CASES`, and the command line
(``cs231n-fast bench``) times the same cases with :func:`run`, prints :func:`format_table` and
draws :func:`plot_results`. Seven families of cases live here, one module each: conv and pool
(forward + backward, below), LSTM (forward + backward of one step and of a sequence, see
"LSTM cases"), kNN (see "kNN cases" further down), layers (forward + backward of one course
layer, :mod:`cs231n_fast.bench.layers`) and models (a whole training step of a course network,
:mod:`cs231n_fast.bench.models`). ``layers`` and ``models`` are opt-in (not in
:data:`DEFAULT_KERNELS`): ``cs231n-fast bench --kernels layers,models``; so is ``features``
(the HOG + hue-histogram features of assignment 1's ``features.ipynb``, ours against the
course's per-image loop, :mod:`cs231n_fast.bench.features`): ``--kernels features``; so is
``detection`` (NMS and box IoU against their NumPy twin,
:mod:`cs231n_fast.bench.detection`): ``--kernels detection``; and so is ``attention`` (scaled
dot-product attention forward + backward against torch, :mod:`cs231n_fast.bench.attention`): ``--kernels attention``. The common machinery
lives in ``_common`` (names, tolerances, peers, thread limits), ``timing`` (timers, settled
rounds, paired ratios), ``machine`` (GEMM peak, memory, machine information), ``cases`` (the
table and the dispatch to the families), ``runner`` (:func:`run`), ``results`` and ``report``
(tables and chart). ``cs231n_fast.benchmarking`` re-exports all of it.

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

Layer and training-step cases
-----------------------------
:data:`LAYER_CASES` (issue 13's layers at its shapes) and :data:`MODEL_CASES` (the whole
training step of ThreeLayerConvNet, a VGG-style ``nn.Sequential`` with and without spatial
batch normalisation, FullyConnectedNet with batchnorm and dropout, CaptioningRNN with an
LSTM, the course's CaptioningTransformer at its notebook's shape and a larger one) run ours
through the course API against the same computation in PyTorch (and, for layers, the NumPy
twin where one exists under the course's name and signature); each is
checked once against torch in float64 before timing and then timed, like the LSTM rows, in
:class:`SettledRounds` against torch, whose median per-round ratio is the row's
``ratio_vs_torch``. Conv cases with ``paired=True`` (issue 14's six shapes) are paired with
torch the same way. See the two modules' docstrings for what exactly each side computes.

This package imports no compiled code, no torch, no kNN peer and no matplotlib at import time.
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

from ._common import (
    ALL_IMPLS,
    DEFAULT_KERNELS,
    DTYPES,
    IMPLS,
    KERNELS,
    KNN_IMPLS,
    KNN_PEERS,
    LAYER_IMPLS,
    LSTM_IMPLS,
    MIN_LABEL_AGREEMENT,
    MODEL_IMPLS,
    RTOL,
    TIMED_IMPLS,
    _as_numpy,
    _import_peer,
    _import_torch,
    _rel_err,
    impl_available,
    thread_limits,
    torch_available,
)
from .cases import (
    CASES,
    FAMILIES,
    check_result,
    get_cases,
    make_inputs,
    make_runner,
    output_names,
    reference_result,
)
from .attention import ATTENTION_CASES, AttentionCase
from .conv import CONV_CASES, ConvCase
from .detection import DETECTION_CASES, DetectionCase
from .features import FEATURES_CASES, FeaturesCase
from .knn import KNN_CASES, KNN_CLASSES, KnnCase, knn_comparable, knn_data, neighbor_agreement
from .layers import LAYER_CASES, LAYER_OPS, LayerCase, Unavailable
from .lstm import LSTM_CASES, LstmCase, _gate_swap
from .machine import (
    GEMM_PEAK_SHAPE,
    blas_info,
    blas_vendor,
    gemm_peaks,
    gemm_timer,
    machine_info,
    peak_extra_rss,
)
from .models import MODEL_CASES, MODEL_NETS, ModelCase
from .pool import POOL_CASES, PoolCase
from .report import (
    PLOT_INSTALL_HINT,
    _format_knn,
    _format_summary,
    NOISY_NOTE,
    chart_data,
    format_table,
    plot_results,
    require_matplotlib,
)
from .results import NOISY_MAD, NOISY_MEDIAN_OVER_MIN, NOISY_MIN_SAMPLES, failures
from .runner import PAIRED_KERNELS, describe_selection, plan, run
from .timing import (
    SETTLE_SECONDS,
    Rounds,
    SettledRounds,
    Timer,
    full_timers,
    knn_timers,
    layer_rounds,
    lstm_rounds,
    paired_ratios,
    quick_timers,
    step_timing,
    summarize,
)

__all__ = [
    "IMPLS",
    "LSTM_IMPLS",
    "KNN_IMPLS",
    "KNN_PEERS",
    "LAYER_IMPLS",
    "MODEL_IMPLS",
    "ALL_IMPLS",
    "TIMED_IMPLS",
    "KERNELS",
    "DEFAULT_KERNELS",
    "DTYPES",
    "RTOL",
    "MIN_LABEL_AGREEMENT",
    "ConvCase",
    "PoolCase",
    "LstmCase",
    "KnnCase",
    "LayerCase",
    "ModelCase",
    "FeaturesCase",
    "DetectionCase",
    "CONV_CASES",
    "POOL_CASES",
    "LSTM_CASES",
    "KNN_CASES",
    "LAYER_CASES",
    "MODEL_CASES",
    "FEATURES_CASES",
    "DETECTION_CASES",
    "AttentionCase",
    "ATTENTION_CASES",
    "LAYER_OPS",
    "MODEL_NETS",
    "CASES",
    "FAMILIES",
    "PAIRED_KERNELS",
    "Unavailable",
    "get_cases",
    "make_inputs",
    "make_runner",
    "reference_result",
    "output_names",
    "knn_comparable",
    "knn_data",
    "check_result",
    "torch_available",
    "impl_available",
    "thread_limits",
    "neighbor_agreement",
    "peak_extra_rss",
    "Timer",
    "Rounds",
    "SettledRounds",
    "SETTLE_SECONDS",
    "lstm_rounds",
    "layer_rounds",
    "paired_ratios",
    "quick_timers",
    "full_timers",
    "knn_timers",
    "step_timing",
    "summarize",
    "GEMM_PEAK_SHAPE",
    "gemm_timer",
    "gemm_peaks",
    "blas_info",
    "blas_vendor",
    "machine_info",
    "run",
    "plan",
    "describe_selection",
    "failures",
    "NOISY_MAD",
    "NOISY_MEDIAN_OVER_MIN",
    "NOISY_MIN_SAMPLES",
    "format_table",
    "PLOT_INSTALL_HINT",
    "require_matplotlib",
    "plot_results",
    "chart_data",
    "NOISY_NOTE",
]
