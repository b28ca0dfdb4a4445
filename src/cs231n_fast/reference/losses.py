"""Classification losses in plain NumPy: the twin of :mod:`cs231n_fast.ops.losses`.

Same names, signatures, validation (shared with ``ops.losses``, so both accept and reject
exactly the same input) and dtype policy; ``n_threads`` is accepted and ignored. Written to be
read: these are the course's vectorised versions (CS231n assignment 1/2, ``layers.py``), with
the per-sample losses summed in float64.
"""

import numpy as np

from ..ops.losses import loss_args

__all__ = ["softmax_loss", "svm_loss"]


def softmax_loss(x, y, *, n_threads=None):
    """Softmax (cross-entropy) loss and its gradient, averaged over the samples.

    Parameters
    ----------
    x : array_like of shape (N, C)
        Scores.
    y : array_like of int, shape (N,)
        Labels, each in ``[0, C)``.
    n_threads : ignored

    Returns
    -------
    loss : float
        ``mean_i -log softmax(x[i])[y[i]]``.
    dx : ndarray of shape (N, C)
        ``(softmax(x) - onehot(y)) / N``.
    """
    x, y = loss_args(x, y)
    n = x.shape[0]
    rows = np.arange(n)
    with np.errstate(under="ignore"):  # exp of very negative scores is 0, as it should be
        # Subtracting each row's maximum changes no probability and keeps exp from overflowing.
        shifted = x - x.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        log_probs = shifted - np.log(sums)
        loss = -float(np.sum(log_probs[rows, y], dtype=np.float64)) / n
        dx = exp / sums
    dx[rows, y] -= 1
    dx /= n
    return loss, dx


def svm_loss(x, y, *, n_threads=None):
    """Multiclass SVM (hinge) loss with margin 1 and its gradient, averaged over the samples.

    Parameters
    ----------
    x : array_like of shape (N, C)
        Scores.
    y : array_like of int, shape (N,)
        Labels, each in ``[0, C)``.
    n_threads : ignored

    Returns
    -------
    loss : float
        ``mean_i sum_{j != y[i]} max(0, x[i, j] - x[i, y[i]] + 1)``.
    dx : ndarray of shape (N, C)
        ``1 / N`` where the margin is positive (0 counts as inactive), minus the number of
        positive margins over N at the correct class.
    """
    x, y = loss_args(x, y)
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(x - x[rows, y][:, None] + 1, 0)
    margins[rows, y] = 0  # the correct class is not a margin
    loss = float(np.sum(margins, dtype=np.float64)) / n
    active = margins > 0
    dx = active.astype(x.dtype)
    dx[rows, y] -= active.sum(axis=1)
    dx /= n
    return loss, dx
