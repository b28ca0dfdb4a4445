"""Validated classification losses over the Cython kernels (``cs231n_fast._ext.losses``).

``softmax_loss`` (cross-entropy) and ``svm_loss`` (multiclass hinge, margin 1) of an (N, C)
matrix of scores, each returning the mean loss over the N samples as a Python float and its
gradient. One kernel call per loss: every row is read once from memory and its gradient written
once (max, exponentials, sum and gradient of a row in one call while the row sits in L1),
rows in parallel, the per-row losses summed in float64 in a fixed order. The NumPy twin is
:mod:`cs231n_fast.reference.losses`; ``layers.softmax_loss`` and ``layers.svm_loss`` are the
course's names for these.
"""

import numpy as np

from .. import _validation as v
from .._ext import losses as _k
from .._memory import empty
from .._threads import work_threads

__all__ = ["softmax_loss", "svm_loss"]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_INTP = np.dtype(np.intp)
#: Unsigned views of the integer dtypes: one ``max`` of the view checks 0 <= label < C (a
#: negative label becomes a huge unsigned one).
_UNSIGNED = {np.dtype(f"{k}{s}"): np.dtype(f"u{s}") for k in "iu" for s in (1, 2, 4, 8)}
#: Largest number of classes the kernels take (the SVM counts active margins in int32).
_MAX_CLASSES = (1 << 31) - 1


def _check_scores(x):
    """The detailed checks of ``x`` (run only when the quick one fails), raising."""
    v.check_ndim("x", x, 2, "(N, C)")
    v.check_nonempty("x", x, "(N, C)")
    raise ValueError(f"x must have fewer than 2**31 columns (C); got shape {x.shape}")


def _labels(y, n, c, shape):
    """The detailed checks of ``y`` (when the quick one fails: a bad label, or an unusual
    dtype such as a non-native byte order), with the messages of ``_validation.class_labels``
    and the label range; returns ``y`` when it passes."""
    y = v.class_labels("y", y, n)
    if y.max() >= c:
        raise ValueError(
            f"y must hold class labels in [0, C) = [0, {c}) for the C columns of x {shape}; "
            f"got {int(y.max())}"
        )
    return y


def loss_args(x, y):
    """Validate a loss call on (N, C) scores and (N,) labels.

    Returns ``(x, y)``: ``x`` C-contiguous in the policy dtype (float32 stays float32, any other
    real dtype becomes float64; copied only when needed) and ``y`` C-contiguous intp labels,
    each in ``[0, C)``. The common case costs a few attribute reads and one ``max`` over the
    labels; messages are built only on failure.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric or ``y`` not an integer array.
    ValueError
        If ``x`` is not a non-empty (N, C) array, or ``y`` is not (N,) or holds a label outside
        ``[0, C)``.
    """
    x = v.as_array("x", x)
    shape = x.shape
    if len(shape) != 2 or 0 in shape or shape[1] > _MAX_CLASSES:
        _check_scores(x)
    n, c = shape
    if type(y) is not np.ndarray:
        try:
            y = np.asarray(y)
        except Exception:
            v.class_labels("y", y, n)  # raises the TypeError
    unsigned = _UNSIGNED.get(y.dtype)
    if unsigned is None or y.shape != (n,) or y.view(unsigned).max() >= c:
        y = _labels(y, n, c, shape)
    dtype = _F32 if x.dtype == _F32 else _F64
    if not x.flags.c_contiguous or x.dtype != dtype:
        x = np.ascontiguousarray(x, dtype=dtype)
    if y.dtype != _INTP or not y.flags.c_contiguous:
        y = np.ascontiguousarray(y, dtype=_INTP)
    return x, y


def _run(kind, x, y, n_threads):
    n, c = x.shape
    dx = empty((n, c), x.dtype)
    total = _k.row_losses(kind, x, y, None, dx, np.empty(n), float(n), work_threads(n_threads, n * c))
    return float(total) / n, dx


def softmax_loss(x, y, *, n_threads=None):
    """Softmax (cross-entropy) loss and its gradient, averaged over the samples.

    Parameters
    ----------
    x : array_like of shape (N, C)
        Scores; ``x[i, j]`` is the score of class j for sample i. float32 stays float32; any
        other real dtype is computed in float64.
    y : array_like of int, shape (N,)
        Labels, each in ``[0, C)``.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    loss : float
        ``mean_i -log softmax(x[i])[y[i]]``, each row's term in float64, summed in float64.
    dx : ndarray of shape (N, C)
        ``(softmax(x) - onehot(y)) / N``, in the computation dtype.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric or ``y`` not an integer array.
    ValueError
        If ``x`` is not a non-empty (N, C) array, or ``y`` is not (N,) or holds a label outside
        ``[0, C)``.

    Notes
    -----
    Each row is shifted by its maximum before exponentiating (no overflow: scores of 1e4 and
    -1e4 give exact zeros and ones), and ``p_y - 1`` is computed as minus the sum of the other
    probabilities, which keeps its relative precision when ``p_y`` is close to 1. The
    exponential is the library's own (``csrc/rnn_kernels.h``; measured within 1.2 ulp of the
    exact value in float32 and 2.6 ulp in float64; the same bits in its vector and scalar
    forms). A NaN score makes its row's gradient
    and the loss NaN. Parallel over rows; bitwise identical for any thread count.
    """
    x, y = loss_args(x, y)
    return _run(0, x, y, n_threads)


def svm_loss(x, y, *, n_threads=None):
    """Multiclass SVM (hinge) loss with margin 1 and its gradient, averaged over the samples.

    Parameters
    ----------
    x : array_like of shape (N, C)
        Scores; ``x[i, j]`` is the score of class j for sample i. float32 stays float32; any
        other real dtype is computed in float64.
    y : array_like of int, shape (N,)
        Labels, each in ``[0, C)``.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    loss : float
        ``mean_i sum_{j != y[i]} max(0, x[i, j] - x[i, y[i]] + 1)``, the margins computed in the
        computation dtype and summed in float64.
    dx : ndarray of shape (N, C)
        ``1 / N`` where the margin is positive (a margin of exactly 0 counts as inactive),
        ``-(number of positive margins) / N`` at the correct class, 0 elsewhere.

    Raises
    ------
    As :func:`softmax_loss`.

    Notes
    -----
    The margins, the gradient's values and their rounding are NumPy's (``(x - x_y) + 1``,
    ``1 / N``, ``-count / N``): the gradient is bitwise that of the vectorised NumPy version.
    A NaN margin makes the loss NaN and counts as inactive. Parallel over rows; bitwise
    identical for any thread count.
    """
    x, y = loss_args(x, y)
    return _run(1, x, y, n_threads)
