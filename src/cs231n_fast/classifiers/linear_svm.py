"""Drop-in for the course's ``cs231n/classifiers/linear_svm.py`` (assignment 1).

Same names, arguments and results as the course's ``svm_loss_naive`` and
``svm_loss_vectorized``: the multiclass SVM (hinge) loss with margin ``delta = 1``, averaged
over the minibatch, plus ``reg * sum(W * W)``, and its gradient with respect to ``W``.
Additions, all keyword-only and off by default:

* ``penalty="l1"`` or ``"elastic"`` (with ``l1_ratio``) replace the L2 penalty (the notes,
  "Linear classification", *Regularization*, and "Neural Networks Part 2", *L1
  regularization*, *Elastic net regularization*); see :func:`regularization`;
* bad inputs raise ``ValueError``/``TypeError`` naming the argument (including a label
  ``y[i] >= C``).

Dtypes: float32 ``W`` and ``X`` compute in float32 and return a float32 ``dW``; anything else
computes in float64. The loss is a Python float.

The validation and the penalty here are shared with :mod:`.softmax`.
"""

import numpy as np

from .. import _validation as v
from .._validation import real_number

__all__ = ["svm_loss_naive", "svm_loss_vectorized", "regularization"]

#: The penalties understood by the loss functions and ``LinearClassifier.train``.
PENALTIES = ("l2", "l1", "elastic")


def check_penalty(reg, penalty, l1_ratio):
    """Validate the regularisation arguments; return ``(reg, penalty, l1_ratio)``."""
    reg = real_number("reg", reg, 0.0)
    if not isinstance(penalty, str) or penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}; got {penalty!r}")
    l1_ratio = real_number("l1_ratio", l1_ratio, 0.0, 1.0)
    return reg, penalty, l1_ratio


def regularization(W, reg, *, penalty="l2", l1_ratio=0.5):
    """The regularisation loss ``reg * R(W)`` and its (sub)gradient with respect to ``W``.

    In the notes' terms, with ``lambda = reg``:

    * ``"l2"`` (the course's default): ``R(W) = sum(W * W)``, gradient ``2 * reg * W``
      (the course keeps no factor 1/2, hence the 2);
    * ``"l1"``: ``R(W) = sum(|W|)``, subgradient ``reg * sign(W)`` (``sign(0) = 0``); it drives
      weights to exactly zero, a sparse ``W``;
    * ``"elastic"``: ``R(W) = l1_ratio * sum(|W|) + (1 - l1_ratio) * sum(W * W)``, the
      notes' elastic net ``lambda1 |w| + lambda2 w**2`` with ``lambda1 = reg * l1_ratio`` and
      ``lambda2 = reg * (1 - l1_ratio)``; ``l1_ratio = 0`` is ``"l2"`` and ``1`` is ``"l1"``.

    Parameters
    ----------
    W : array_like
        Weights, any shape; float32 stays float32, anything else computes in float64.
    reg : float
        Regularisation strength ``>= 0``.
    penalty : {"l2", "l1", "elastic"}
    l1_ratio : float in [0, 1]
        The L1 share of an elastic-net penalty (ignored otherwise).

    Returns
    -------
    loss : float
    dW : ndarray like ``W``
    """
    W = v.as_array("W", W)
    W = W.astype(v.result_dtype(W), copy=False)
    reg, penalty, l1_ratio = check_penalty(reg, penalty, l1_ratio)
    l1 = {"l2": 0.0, "l1": 1.0, "elastic": l1_ratio}[penalty]
    loss = 0.0
    dW = np.zeros_like(W)
    if l1 < 1.0:
        loss += reg * (1.0 - l1) * float(np.sum(W * W))
        dW += W.dtype.type(2.0 * reg * (1.0 - l1)) * W
    if l1 > 0.0:
        loss += reg * l1 * float(np.sum(np.abs(W)))
        dW += W.dtype.type(reg * l1) * np.sign(W)
    return loss, dW


def loss_args(W, X, y, reg, penalty, l1_ratio):
    """Validate a linear classifier loss call; return ``(W, X, y, reg, penalty, l1_ratio)``.

    ``W`` (D, C) and ``X`` (N, D) come back C-contiguous in the policy dtype, ``y`` as intp
    labels, each checked to be in ``[0, C)``.
    """
    W, X = v.as_array("W", W), v.as_array("X", X)
    v.check_ndim("W", W, 2, "(D, C)")
    v.check_ndim("X", X, 2, "(N, D)")
    v.check_nonempty("W", W, "(D, C)")
    v.check_nonempty("X", X, "(N, D)")
    if X.shape[1] != W.shape[0]:
        raise ValueError(
            f"X must have shape (N, D) with D = {W.shape[0]} as in W {W.shape}; got X of shape {X.shape}"
        )
    y = v.class_labels("y", y, X.shape[0])
    if y.max() >= W.shape[1]:
        raise ValueError(
            f"y must hold labels in [0, C) = [0, {W.shape[1]}) for W of shape {W.shape}; "
            f"got {int(y.max())}"
        )
    reg, penalty, l1_ratio = check_penalty(reg, penalty, l1_ratio)
    dtype = v.result_dtype(W, X)
    return (v.as_contiguous(W, dtype), v.as_contiguous(X, dtype), y.astype(np.intp, copy=False),
            reg, penalty, l1_ratio)


def svm_loss_naive(W, X, y, reg, *, penalty="l2", l1_ratio=0.5):
    """
    Structured SVM loss function, naive implementation (with loops).

    Inputs have dimension D, there are C classes, and we operate on minibatches
    of N examples.

    Inputs:

    - W: A numpy array of shape (D, C) containing weights.
    - X: A numpy array of shape (N, D) containing a minibatch of data.
    - y: A numpy array of shape (N,) containing training labels; y[i] = c means
      that X[i] has label c, where 0 <= c < C.
    - reg: (float) regularization strength
    - penalty: (keyword) "l2" (the course's reg * sum(W * W)), "l1" or "elastic";
      see regularization.
    - l1_ratio: (keyword) the L1 share of the "elastic" penalty, in [0, 1].

    Returns a tuple of:

    - loss as single float
    - gradient with respect to weights W; an array of same shape as W

    The data loss is (1/N) sum_i sum_{j != y_i} max(0, s_j - s_{y_i} + 1) with s = X[i].dot(W);
    each positive margin adds X[i] to column j of the gradient and subtracts it from column
    y_i. A margin of exactly 0 contributes neither loss nor gradient.
    """
    W, X, y, reg, penalty, l1_ratio = loss_args(W, X, y, reg, penalty, l1_ratio)
    dW = np.zeros(W.shape, dtype=W.dtype)  # initialize the gradient as zero

    # compute the loss and the gradient
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1  # note delta = 1
            if margin > 0:
                loss += float(margin)
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]

    # Right now the loss is a sum over all training examples, but we want it
    # to be an average instead so we divide by num_train.
    loss /= num_train
    dW /= num_train

    # Add regularization to the loss.
    reg_loss, reg_dW = regularization(W, reg, penalty=penalty, l1_ratio=l1_ratio)
    return loss + reg_loss, dW + reg_dW


def svm_loss_vectorized(W, X, y, reg, *, penalty="l2", l1_ratio=0.5):
    """
    Structured SVM loss function, vectorized implementation.

    Inputs and outputs are the same as svm_loss_naive.

    Two matrix products (scores X.dot(W), gradient X.T.dot(coefficients)) and O(N * C)
    elementwise work; no Python loop.
    """
    W, X, y, reg, penalty, l1_ratio = loss_args(W, X, y, reg, penalty, l1_ratio)
    num_train = X.shape[0]
    rows = np.arange(num_train)

    scores = X.dot(W)  # (N, C)
    margins = scores - scores[rows, y][:, None] + 1  # note delta = 1
    margins[rows, y] = 0
    positive = margins > 0
    loss = float(np.sum(margins, where=positive)) / num_train

    # dL_i/ds_j is 1 for each positive margin j and -(number of positive margins) for y_i.
    coeff = positive.astype(W.dtype)
    coeff[rows, y] = -positive.sum(axis=1)
    dW = X.T.dot(coeff) / W.dtype.type(num_train)

    reg_loss, reg_dW = regularization(W, reg, penalty=penalty, l1_ratio=l1_ratio)
    return loss + reg_loss, dW + reg_dW
