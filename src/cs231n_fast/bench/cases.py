"""The case table of every family and the dispatch to the family modules.

Each family module (:mod:`.conv`, :mod:`.pool`, :mod:`.lstm`, :mod:`.knn`, :mod:`.layers`,
:mod:`.models`, :mod:`.features`, :mod:`.detection`, :mod:`.attention`) provides
``inputs(case, dtype, seed)``, ``runner(case, impl, inputs, n_threads)``, ``oracle(case, inputs)``,
``names(case)`` and ``check(case, outputs, expected, dtype, impl)``; the functions here pick the module by ``case.kernel``.
"""

from . import attention, conv, detection, features, knn, layers, lstm, models, pool
from ._common import DEFAULT_KERNELS
from .attention import ATTENTION_CASES
from .conv import CONV_CASES
from .detection import DETECTION_CASES
from .features import FEATURES_CASES
from .knn import KNN_CASES
from .layers import LAYER_CASES
from .lstm import LSTM_CASES
from .models import MODEL_CASES
from .pool import POOL_CASES

#: The module of each family.
FAMILIES = {"conv": conv, "pool": pool, "knn": knn, "lstm": lstm, "layers": layers,
            "models": models, "features": features, "detection": detection,
            "attention": attention}
#: Every case, by kernel family.
CASES = {"conv": CONV_CASES, "pool": POOL_CASES, "knn": KNN_CASES, "lstm": LSTM_CASES,
         "layers": LAYER_CASES, "models": MODEL_CASES, "features": FEATURES_CASES,
         "detection": DETECTION_CASES, "attention": ATTENTION_CASES}


def get_cases(kernels=DEFAULT_KERNELS, quick=False):
    """The cases of ``kernels`` (all of them, or the quick subset), in table order."""
    out = []
    for kernel in kernels:
        if kernel not in CASES:
            raise ValueError(f"kernels must be among {tuple(CASES)}; got {kernel!r}")
        out.extend(c for c in CASES[kernel] if c.quick or not quick)
    return out


def make_inputs(case, dtype, seed=0):
    """Arrays for one forward + backward call of ``case``, C-contiguous, of ``dtype``.

    Conv: ``x, w, b, dout``; pool: ``x, dout``; LSTM: ``x, h0, c0, Wx, Wh, b`` and the
    upstream gradients ``dh`` (of ``next_h``, or of every hidden state of a sequence) and, for
    a step, ``dc`` (of ``next_c``); kNN: ``X_train, X_query`` and the integer labels
    ``y_train, y_query`` (see :func:`knn_data`). Values are float32-representable, so the same
    ``seed`` gives the same numbers in every dtype. Pool inputs are distinct (no ties), so
    every implementation routes the gradient to the same element.
    """
    return FAMILIES[case.kernel].inputs(case, dtype, seed)


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
    if case.kernel != "knn" and impl not in case.impls:
        raise ValueError(f"impl must be one of {case.impls} for {case.id}; got {impl!r}")
    return FAMILIES[case.kernel].runner(case, impl, inputs, n_threads)


def reference_result(case, inputs):
    """The oracle: the NumPy twin in float64 on the float64 cast of ``inputs``.

    For a kNN case without ``reference`` among its implementations (too slow there) this is
    None, and callers check against our own result instead.
    """
    return FAMILIES[case.kernel].oracle(case, inputs)


def output_names(case):
    """The names of the outputs a runner of ``case`` returns, in order."""
    return FAMILIES[case.kernel].names(case)


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
    return FAMILIES[case.kernel].check(case, outputs, expected, dtype, impl)
