"""Drop-in for the course's ``cs231n/classifiers/softmax.py`` (assignment 1).

Same names, arguments and results as the course's ``softmax_loss_naive`` and
``softmax_loss_vectorized``: the cross-entropy loss of the softmax of the scores ``X.dot(W)``,
averaged over the minibatch, plus ``reg * sum(W * W)``, and its gradient with respect to
``W``. The scores are shifted by their row maximum before exponentiating (the notes,
"Linear classification", *Practical issues: Numeric stability*), so large scores do not
overflow. The keyword-only ``penalty`` and ``l1_ratio``, the validation and the dtype policy
are those of :mod:`.linear_svm` (see :func:`.linear_svm.regularization`).
"""

import numpy as np

from .linear_svm import loss_args, regularization

__all__ = ["softmax_loss_naive", "softmax_loss_vectorized"]


def softmax_loss_naive(W, X, y, reg, *, penalty="l2", l1_ratio=0.5):
    """
    Softmax loss function, naive implementation (with loops)

    Inputs have dimension D, there are C classes, and we operate on minibatches
    of N examples.

    Inputs:

    - W: A numpy array of shape (D, C) containing weights.
    - X: A numpy array of shape (N, D) containing a minibatch of data.
    - y: A numpy array of shape (N,) containing training labels; y[i] = c means
      that X[i] has label c, where 0 <= c < C.
    - reg: (float) regularization strength
    - penalty: (keyword) "l2" (the course's reg * sum(W * W)), "l1" or "elastic";
      see linear_svm.regularization.
    - l1_ratio: (keyword) the L1 share of the "elastic" penalty, in [0, 1].

    Returns a tuple of:

    - loss as single float
    - gradient with respect to weights W; an array of same shape as W

    L_i = -log(p_{y_i}) with p = exp(s) / sum(exp(s)), s = X[i].dot(W) - max; the gradient of
    L_i with respect to column j of W is (p_j - [j == y_i]) * X[i].
    """
    W, X, y, reg, penalty, l1_ratio = loss_args(W, X, y, reg, penalty, l1_ratio)
    # Initialize the loss and gradient to zero.
    loss = 0.0
    dW = np.zeros_like(W)

    num_classes = W.shape[1]
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)  # numeric stability: the largest exponent is 0
        exp_scores = np.exp(scores)
        probs = exp_scores / np.sum(exp_scores)
        loss -= float(scores[y[i]] - np.log(np.sum(exp_scores)))
        for j in range(num_classes):
            dW[:, j] += (probs[j] - (j == y[i])) * X[i]

    loss /= num_train
    dW /= num_train

    reg_loss, reg_dW = regularization(W, reg, penalty=penalty, l1_ratio=l1_ratio)
    return loss + reg_loss, dW + reg_dW


def softmax_loss_vectorized(W, X, y, reg, *, penalty="l2", l1_ratio=0.5):
    """
    Softmax loss function, vectorized version.

    Inputs and outputs are the same as softmax_loss_naive.

    Two matrix products (scores X.dot(W), gradient X.T.dot(probs - one_hot)) and O(N * C)
    elementwise work; no Python loop.
    """
    W, X, y, reg, penalty, l1_ratio = loss_args(W, X, y, reg, penalty, l1_ratio)
    num_train = X.shape[0]
    rows = np.arange(num_train)

    scores = X.dot(W)
    scores -= scores.max(axis=1, keepdims=True)  # numeric stability: the largest exponent is 0
    exp_scores = np.exp(scores)
    sum_exp = exp_scores.sum(axis=1)
    # -log p_{y_i} = log(sum_j exp(s_j)) - s_{y_i}, without forming log(p) for every class.
    loss = float(np.sum(np.log(sum_exp) - scores[rows, y])) / num_train

    dscores = exp_scores / sum_exp[:, None]  # probabilities
    dscores[rows, y] -= 1
    dW = X.T.dot(dscores) / W.dtype.type(num_train)

    reg_loss, reg_dW = regularization(W, reg, penalty=penalty, l1_ratio=l1_ratio)
    return loss + reg_loss, dW + reg_dW
