"""Drop-in for the course's ``cs231n/classifiers/k_nearest_neighbor.py`` (assignment 1).

Same class name, methods, arguments and results as the course's ``KNearestNeighbor``. The
three ``compute_distances_*`` methods and ``predict_labels`` keep the course's semantics
(float64 distance matrices; two loops, one loop, no loops), so the notebook's comparisons
between them still run. Differences, all in the user's favour:

* ``predict(X, k, num_loops=0)`` does not build the ``(num_test, num_train)`` matrix: it asks
  :func:`cs231n_fast.knn.kneighbors` for the ``k`` nearest training rows of each test row
  (exact, streaming, multi-threaded) and votes on their labels. The labels equal those of
  ``predict_labels(compute_distances_no_loops(X), k)`` whenever no two training rows are at the
  same distance from a test row (and with ties too, when both compute the tied distances
  exactly: both break them by the smaller training index);
* ``KNearestNeighbor(metric="l1")`` uses the Manhattan distance throughout;
* ties in the vote go to the smaller label, as the course's ``np.argmax(np.bincount(...))``
  does, and ties in distance to the smaller training index (a stable sort);
* bad inputs raise ``ValueError``/``TypeError`` naming the argument, and ``predict`` before
  ``train`` raises ``RuntimeError``;
* predicted labels have the dtype of the training labels (the course returns float64).

:func:`cross_validate_k` is the notebook's ``k``-fold cross-validation over ``k_choices``,
searching neighbours once per fold for the largest ``k``.
"""

import numpy as np

from .. import _validation as v
from .. import knn
from .._threads import effective_n_threads
from ..reference import knn as ref

__all__ = ["KNearestNeighbor", "cross_validate_k"]

#: Upper bound on the entries of the (rows, classes) vote table counted at once.
_VOTE_BLOCK = 1 << 22


def _vote(neighbours, n_classes):
    """Majority class of each row of ``neighbours`` (class codes ``0 .. n_classes - 1``).

    A tie between classes goes to the smaller code, as ``np.argmax(np.bincount(row))`` does.
    Rows are counted in blocks so the count table stays bounded for many classes.
    """
    n, k = neighbours.shape
    winners = np.empty(n, dtype=np.intp)
    rows = max(1, _VOTE_BLOCK // n_classes)
    for r0 in range(0, n, rows):
        block = neighbours[r0 : r0 + rows]
        b = block.shape[0]
        # One bincount over all rows: row i's votes land in bins i * n_classes + code.
        flat = (np.arange(b)[:, None] * n_classes + block).ravel()
        counts = np.bincount(flat, minlength=b * n_classes).reshape(b, n_classes)
        winners[r0 : r0 + b] = np.argmax(counts, axis=1)
    return winners


def _dask_train_matrix(X):
    """A dask array training set checked without computing it: 2-D, known non-empty shape, real."""
    if X.ndim != 2 or any(np.isnan(c) for c in X.chunks[0]) or 0 in X.shape:
        raise ValueError(
            "X must be a non-empty 2-D array (num_train, D) with known chunk sizes; got a dask "
            f"array of shape {X.shape} (call X.compute_chunk_sizes() for unknown sizes)"
        )
    v.sample_matrix("X", np.zeros((1, X.shape[1]), dtype=X.dtype))  # the dtype check
    return X


class KNearestNeighbor:
    """a kNN classifier with L2 distance (or L1 with ``metric="l1"``)

    Parameters
    ----------
    metric : {"l2", "l1"}, default "l2"
        Euclidean (the course's) or Manhattan distance.
    n_threads : int or None, default None
        Threads for ``predict(num_loops=0)``; default OpenMP's current maximum.
    """

    def __init__(self, metric="l2", n_threads=None):
        self.metric = v.check_metric(metric)
        effective_n_threads(n_threads)  # validate now rather than at the first predict
        self.n_threads = n_threads
        self.X_train = None
        self.y_train = None

    def __repr__(self):
        return f"KNearestNeighbor(metric={self.metric!r}, n_threads={self.n_threads!r})"

    def train(self, X, y):
        """
        Train the classifier. For k-nearest neighbors this is just
        memorizing the training data.

        Inputs:

        - X: A numpy array of shape (num_train, D) containing the training data
          consisting of num_train samples each of dimension D (real numbers, no NaN or Inf).
          A dask array chunked by rows stays where it is: predict(X, k) then searches each
          chunk on its worker (cs231n_fast.knn.kneighbors) with the same results.
        - y: A numpy array of shape (N,) containing the training labels, where
             y[i] is the label for X[i] (non-negative integers).
        """
        if knn._is_dask_array(X):  # kept on its cluster; NaN/Inf are found by predict
            X = _dask_train_matrix(X)
            if knn._is_dask_array(y):
                y = y.compute()
        else:
            X = v.sample_matrix("X", X)
        y = v.class_labels("y", y, X.shape[0])
        self.X_train = X
        self.y_train = y
        # Sorted distinct labels and each sample's position among them: votes are counted
        # over these codes, and the order keeps "ties go to the smaller label".
        self._classes, self._codes = np.unique(y, return_inverse=True)

    def _check_trained(self, what):
        if self.X_train is None:
            raise RuntimeError(f"KNearestNeighbor is not trained: call train(X, y) before {what}")

    def _test_data(self, X, what):
        """``X`` validated against the training data, as float64 (the course's precision)."""
        if knn._is_dask_array(self.X_train):
            raise TypeError(
                f"{what} needs the training set in memory, and X_train is a dask array: use "
                "predict(X, k) (num_loops=0), which searches the chunks where they are, or "
                "train on X_train.compute()"
            )
        X, _ = v.pairwise_args(X, self.X_train, self.metric, "X", "X_train")
        return X.astype(np.float64, copy=False)

    def predict(self, X, k=1, num_loops=0):
        """
        Predict labels for test data using this classifier.

        Inputs:

        - X: A numpy array of shape (num_test, D) containing test data consisting
             of num_test samples each of dimension D.
        - k: The number of nearest neighbors that vote for the predicted labels.
        - num_loops: Determines which implementation to use to compute distances
          between training points and testing points: 1 or 2 build the distance matrix
          with one or two Python loops and call predict_labels; 0 (the default) finds
          the k nearest neighbours directly with cs231n_fast.knn.kneighbors.

        Returns:

        - y: A numpy array of shape (num_test,) containing predicted labels for the
          test data, where y[i] is the predicted label for the test point X[i].
        """
        self._check_trained("predict")
        k = v.check_k(k, self.X_train.shape[0])
        num_loops = v.positive_int("num_loops", num_loops, minimum=0)
        if num_loops == 0 and knn._is_dask_array(self.X_train):
            _, indices = knn.kneighbors(X, self.X_train, k, self.metric, n_threads=self.n_threads)
            return self._classes[_vote(self._codes[indices], len(self._classes))]
        if num_loops == 0:
            X, X_train = v.pairwise_args(X, self.X_train, self.metric, "X", "X_train")
            _, indices = knn.kneighbors(X, X_train, k, self.metric, n_threads=self.n_threads)
            return self._classes[_vote(self._codes[indices], len(self._classes))]
        if num_loops == 1:
            dists = self.compute_distances_one_loop(X)
        elif num_loops == 2:
            dists = self.compute_distances_two_loops(X)
        else:
            raise ValueError(f"Invalid value {num_loops} for num_loops (expected 0, 1 or 2)")
        return self.predict_labels(dists, k=k)

    def compute_distances_two_loops(self, X):
        """
        Compute the distance between each test point in X and each training point
        in self.X_train using a nested loop over both the training data and the
        test data.

        Inputs:

        - X: A numpy array of shape (num_test, D) containing test data.

        Returns:

        - dists: A numpy array of shape (num_test, num_train) where dists[i, j]
          is the Euclidean distance between the ith test point and the jth training
          point (the Manhattan distance with metric="l1"), float64.
        """
        self._check_trained("compute_distances_two_loops")
        X = self._test_data(X, "compute_distances_two_loops")
        if self.metric == "l2":
            return ref.compute_distances_two_loops(X, self.X_train)
        X_train = self.X_train.astype(np.float64, copy=False)
        dists = np.zeros((X.shape[0], X_train.shape[0]))
        for i in range(X.shape[0]):
            for j in range(X_train.shape[0]):
                dists[i, j] = np.sum(np.abs(X[i] - X_train[j]))
        return dists

    def compute_distances_one_loop(self, X):
        """
        Compute the distance between each test point in X and each training point
        in self.X_train using a single loop over the test data.

        Input / Output: Same as compute_distances_two_loops
        """
        self._check_trained("compute_distances_one_loop")
        X = self._test_data(X, "compute_distances_one_loop")
        if self.metric == "l2":
            return ref.compute_distances_one_loop(X, self.X_train)
        X_train = self.X_train.astype(np.float64, copy=False)
        dists = np.zeros((X.shape[0], X_train.shape[0]))
        for i in range(X.shape[0]):
            dists[i, :] = np.sum(np.abs(X_train - X[i]), axis=1)
        return dists

    def compute_distances_no_loops(self, X):
        """
        Compute the distance between each test point in X and each training point
        in self.X_train using no explicit loops.

        Input / Output: Same as compute_distances_two_loops

        For L2 this is the course's ``|x|^2 + |y|^2 - 2 x.y`` formula (one matrix product),
        clipped at 0 before the square root; L1 has no such formula and is computed from
        broadcast differences (cs231n_fast.reference.pairwise_distances).
        """
        self._check_trained("compute_distances_no_loops")
        X = self._test_data(X, "compute_distances_no_loops")
        if self.metric == "l2":
            return ref.compute_distances_no_loops(X, self.X_train)
        return ref.pairwise_distances(X, self.X_train, "l1")

    def predict_labels(self, dists, k=1):
        """
        Given a matrix of distances between test points and training points,
        predict a label for each test point.

        Inputs:

        - dists: A numpy array of shape (num_test, num_train) where dists[i, j]
          gives the distance betwen the ith test point and the jth training point.
        - k: The number of nearest neighbors that vote.

        Returns:

        - y: A numpy array of shape (num_test,) containing predicted labels for the
          test data, where y[i] is the predicted label for the test point X[i].

        The k nearest are found with a stable sort, so among equal distances the smaller
        training index comes first; a tie in the vote goes to the smaller label.
        """
        self._check_trained("predict_labels")
        dists = v.as_array("dists", dists)
        num_train = self.X_train.shape[0]
        v.check_ndim("dists", dists, 2, "(num_test, num_train)")
        if dists.shape[1] != num_train:
            raise ValueError(
                f"dists must have shape (num_test, num_train) with num_train = {num_train} "
                f"training points; got shape {dists.shape}"
            )
        k = v.check_k(k, num_train)
        closest = np.argsort(dists, axis=1, kind="stable")[:, :k]  # (num_test, k) train rows
        return self._classes[_vote(self._codes[closest], len(self._classes))]


def cross_validate_k(X, y, k_choices, num_folds=5, metric="l2", n_threads=None, *, client=None):
    """Accuracy of a kNN classifier for each ``k`` by ``num_folds``-fold cross-validation.

    As in the course notebook: ``np.array_split`` the data into ``num_folds`` consecutive
    folds; for each fold, train on the other folds (stacked in order) and measure the
    accuracy on the held-out one.

    Parameters
    ----------
    X : array_like of shape (N, D)
        Samples; real numbers, no NaN or Inf.
    y : array_like of shape (N,)
        Non-negative integer labels.
    k_choices : iterable of int
        The ``k`` values to evaluate, each ``>= 1`` and no larger than the training rows of
        every split (``N`` minus the largest fold).
    num_folds : int, default 5
        ``2 <= num_folds <= N``.
    metric : {"l2", "l1"}, default "l2"
    n_threads : int or None, default None
        Threads for the neighbour search (with ``client``: default each task's share of its
        worker's threads).
    client : dask.distributed.Client, optional
        Search the folds as tasks on this client's cluster (``X`` and the labels are sent
        once); the accuracies equal the local ones. Errors are raised as locally.

    Returns
    -------
    k_to_accuracies : dict
        ``{k: [accuracy on fold 0, ..., accuracy on fold num_folds - 1]}`` (floats in
        [0, 1]), keys in the order of ``k_choices``.

    Raises
    ------
    TypeError, ValueError
        For bad inputs, naming the argument.

    Notes
    -----
    Per fold, one :func:`cs231n_fast.knn.kneighbors` search for ``max(k_choices)``
    neighbours; every ``k`` then votes among the first ``k`` of them. The predictions equal
    ``KNearestNeighbor.predict(X_val, k)`` after ``train`` on the other folds.
    """
    metric = v.check_metric(metric)
    effective_n_threads(n_threads)
    X = v.sample_matrix("X", X)
    y = v.class_labels("y", y, X.shape[0])
    n = X.shape[0]
    num_folds = v.positive_int("num_folds", num_folds, minimum=2)
    if num_folds > n:
        raise ValueError(f"num_folds must be <= the number of samples ({n}); got {num_folds}")
    folds = np.array_split(np.arange(n), num_folds)
    min_train = n - max(len(f) for f in folds)

    try:
        k_choices = list(k_choices)
    except TypeError:
        raise TypeError(f"k_choices must be an iterable of ints; got {k_choices!r}") from None
    if not k_choices:
        raise ValueError("k_choices must hold at least one k; got none")
    ks = [v.positive_int("k_choices", k) for k in k_choices]
    if max(ks) > min_train:
        raise ValueError(
            f"k_choices must hold ints <= {min_train}, the training rows of the smallest "
            f"training split ({n} samples in {num_folds} folds); got {max(ks)}"
        )

    classes, codes = np.unique(y, return_inverse=True)
    shared = (X, codes, len(classes), ks, metric, n_threads)
    splits = [(np.concatenate(folds[:i] + folds[i + 1 :]), val) for i, val in enumerate(folds)]
    if client is None:
        per_fold = [_fold_accuracies(shared, train, val) for train, val in splits]
    else:
        from ..model_selection import run_folds

        per_fold = run_folds(client, _fold_accuracies, shared, splits, "cs231n-cross_validate_k-fold")
    return {k: [acc[j] for acc in per_fold] for j, k in enumerate(ks)}


def _fold_accuracies(shared, train, val):
    """Accuracy on fold ``val`` of every k (in order), training on the rows ``train``."""
    X, codes, n_classes, ks, metric, n_threads = shared
    _, indices = knn.kneighbors(X[val], X[train], max(ks), metric, n_threads=n_threads)
    neighbours = codes[train][indices]  # (fold size, max k) class codes, nearest first
    return [float(np.mean(_vote(neighbours[:, :k], n_classes) == codes[val])) for k in ks]
