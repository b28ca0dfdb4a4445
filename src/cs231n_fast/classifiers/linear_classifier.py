"""Drop-in for the course's ``cs231n/classifiers/linear_classifier.py`` (assignment 1).

Same class names, methods, arguments and results as the course's ``LinearClassifier``,
``LinearSVM`` and ``Softmax``: ``train`` runs minibatch stochastic gradient descent with
batches sampled with replacement and returns the loss history; ``predict`` returns the class of
the highest score. With ``seed=None`` the random draws come from NumPy's global state exactly as
the course's (``np.random.randn`` for the lazy initialisation ``0.001 * randn(D, C)``, then
``np.random.choice(num_train, batch_size)`` per iteration), so a notebook's ``np.random.seed``
still fixes the result. Additions, keyword-only in ``train``:

* ``penalty`` and ``l1_ratio``: L1 or elastic-net regularisation instead of the course's L2
  (see :func:`.linear_svm.regularization`);
* ``seed`` (int or numpy Generator): draws from ``np.random.default_rng(seed)`` instead, so
  training is reproducible without touching the global state.

Bad inputs raise ``ValueError``/``TypeError`` naming the argument (``X`` and ``y`` of different
lengths, ``X`` whose dimension does not match a trained ``W``, ``num_iters < 1``...);
``predict`` before ``train`` raises ``RuntimeError``. As in the course, the number of classes is
``C = max(y) + 1``, so labels must be ``0 .. C-1``, and a ``batch_size`` larger than the
training set is allowed (sampling is with replacement). Float32 data trains a float32 ``W``.
"""

import numpy as np

from .. import _validation as v
from .._validation import real_number
from .linear_svm import check_penalty, svm_loss_naive, svm_loss_vectorized
from .softmax import softmax_loss_naive, softmax_loss_vectorized

# The course's module star-imports linear_svm and softmax; their losses come along.
__all__ = [
    "LinearClassifier",
    "LinearSVM",
    "Softmax",
    "svm_loss_naive",
    "svm_loss_vectorized",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
]


class LinearClassifier(object):
    """Base class of the linear classifiers; subclasses define :meth:`loss`."""

    def __init__(self):
        self.W = None

    def __repr__(self):
        shape = None if self.W is None else self.W.shape
        return f"{type(self).__name__}(W shape={shape})"

    def train(
        self,
        X,
        y,
        learning_rate=1e-3,
        reg=1e-5,
        num_iters=100,
        batch_size=200,
        verbose=False,
        *,
        penalty="l2",
        l1_ratio=0.5,
        seed=None,
    ):
        """
        Train this linear classifier using stochastic gradient descent.

        Inputs:

        - X: A numpy array of shape (N, D) containing training data; there are N
          training samples each of dimension D.
        - y: A numpy array of shape (N,) containing training labels; y[i] = c
          means that X[i] has label 0 <= c < C for C classes.
        - learning_rate: (float) learning rate for optimization (>= 0).
        - reg: (float) regularization strength.
        - num_iters: (integer) number of steps to take when optimizing (0 only
          initialises W, as in the course)
        - batch_size: (integer) number of training examples to use at each step.
        - verbose: (boolean) If true, print progress during optimization.
        - penalty: (keyword) "l2" (the course's), "l1" or "elastic".
        - l1_ratio: (keyword) the L1 share of the "elastic" penalty, in [0, 1].
        - seed: (keyword) None to draw from np.random's global state as the course
          does, or an int / numpy Generator for np.random.default_rng(seed).

        Outputs:
        A list containing the value of the loss function at each training iteration.

        W is initialised on the first call only (0.001 * randn(D, C) with C = max(y) + 1,
        in the dtype of X: float32 stays float32); later calls continue from it, and need
        data of the same dimension D and labels below its C.
        """
        X = v.sample_matrix("X", X, check_finite_values=False)
        y = v.class_labels("y", y, X.shape[0])
        learning_rate = real_number("learning_rate", learning_rate, 0.0)  # 0: no step, as the course
        reg, penalty, l1_ratio = check_penalty(reg, penalty, l1_ratio)
        num_iters = v.positive_int("num_iters", num_iters, minimum=0)  # 0: only initialise W
        batch_size = v.positive_int("batch_size", batch_size)
        # np.random's module functions draw from the global RandomState, as the course does.
        rng = np.random if seed is None else np.random.default_rng(seed)

        num_train, dim = X.shape
        num_classes = int(np.max(y)) + 1  # assume y takes values 0...K-1 where K is number of classes
        if self.W is None:
            # lazily initialize W
            self.W = (0.001 * rng.standard_normal((dim, num_classes))).astype(X.dtype)
        else:
            self._check_data(X, "train")
            if num_classes > self.W.shape[1]:
                raise ValueError(
                    f"y must hold labels in [0, C) = [0, {self.W.shape[1]}) for the trained W "
                    f"of shape {self.W.shape}; got {num_classes - 1}"
                )

        # Run stochastic gradient descent to optimize W
        loss_history = []
        for it in range(num_iters):
            batch = rng.choice(num_train, batch_size, replace=True)
            X_batch = X[batch]
            y_batch = y[batch]

            # evaluate loss and gradient
            loss, grad = self.loss(X_batch, y_batch, reg, penalty=penalty, l1_ratio=l1_ratio)
            loss_history.append(loss)

            # perform parameter update (a new array: a W set by the caller is not modified)
            self.W = self.W - self.W.dtype.type(learning_rate) * grad

            if verbose and it % 100 == 0:
                print("iteration %d / %d: loss %f" % (it, num_iters, loss))

        return loss_history

    def _check_data(self, X, what):
        if X.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"X must have shape (N, D) with D = {self.W.shape[0]} as the trained W "
                f"{self.W.shape}; got X of shape {X.shape} in {what}"
            )

    def predict(self, X):
        """
        Use the trained weights of this linear classifier to predict labels for
        data points.

        Inputs:

        - X: A numpy array of shape (N, D) containing training data; there are N
          training samples each of dimension D.

        Returns:

        - y_pred: Predicted labels for the data in X. y_pred is a 1-dimensional
          array of length N, and each element is an integer giving the predicted
          class.

        Ties between scores go to the smaller class (np.argmax).
        """
        if self.W is None:
            raise RuntimeError(f"{type(self).__name__} is not trained: call train(X, y) before predict")
        X = v.sample_matrix("X", X, check_finite_values=False)
        self._check_data(X, "predict")
        dtype = v.result_dtype(X, self.W)
        return np.argmax(X.astype(dtype, copy=False).dot(self.W.astype(dtype, copy=False)), axis=1)

    def loss(self, X_batch, y_batch, reg, *, penalty="l2", l1_ratio=0.5):
        """
        Compute the loss function and its derivative.
        Subclasses will override this.

        Inputs:

        - X_batch: A numpy array of shape (N, D) containing a minibatch of N
          data points; each point has dimension D.
        - y_batch: A numpy array of shape (N,) containing labels for the minibatch.
        - reg: (float) regularization strength.
        - penalty, l1_ratio: (keyword) the regularization, as in train; overrides
          must accept them.

        Returns: A tuple containing:

        - loss as a single float
        - gradient with respect to self.W; an array of the same shape as W
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override loss(X_batch, y_batch, reg, *, penalty, l1_ratio); "
            "use LinearSVM or Softmax"
        )


class LinearSVM(LinearClassifier):
    """ A subclass that uses the Multiclass SVM loss function """

    def loss(self, X_batch, y_batch, reg, *, penalty="l2", l1_ratio=0.5):
        return svm_loss_vectorized(self.W, X_batch, y_batch, reg, penalty=penalty, l1_ratio=l1_ratio)


class Softmax(LinearClassifier):
    """ A subclass that uses the Softmax + Cross-entropy loss function """

    def loss(self, X_batch, y_batch, reg, *, penalty="l2", l1_ratio=0.5):
        return softmax_loss_vectorized(self.W, X_batch, y_batch, reg, penalty=penalty, l1_ratio=l1_ratio)
