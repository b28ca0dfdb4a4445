"""Exact k-nearest-neighbour search in plain NumPy, and the course's three L2 distance functions.

:func:`pairwise_distances` and :func:`kneighbors` are the readable twins of
``cs231n_fast.knn``: same names, signatures, validation and dtype policy (``n_threads`` is
accepted and ignored). They are the oracle the fast versions are tested against, so they take
the most direct route: every distance is summed in float64 from the differences of the two
rows, ``sqrt(sum((x - y)**2))`` or ``sum(|x - y|)``, never through ``|x|^2 + |y|^2 - 2 x.y``.
Queries are processed a few rows at a time so the ``(rows, n_train, d)`` block of differences
stays within a fixed memory budget.

``compute_distances_two_loops``, ``compute_distances_one_loop`` and
``compute_distances_no_loops`` are the course's versions (CS231n assignment 1,
``k_nearest_neighbor.py``) as plain functions of ``(X_test, X_train)``: float64 results, two
Python loops, one loop, and the ``|x|^2 + |y|^2 - 2 x.y`` formula. They share no arithmetic
with the two functions above, so agreement between them is evidence, not a tautology.
"""

import numpy as np

from .. import _validation as v

__all__ = [
    "pairwise_distances",
    "kneighbors",
    "compute_distances_two_loops",
    "compute_distances_one_loop",
    "compute_distances_no_loops",
]

#: Default bound, in MiB, on the block of float64 differences held at once (as in the fast
#: module's ``working_memory``).
DEFAULT_WORKING_MEMORY = 32


def _row_chunks(n_rows, n_train, n_features, working_memory):
    """Slices of query rows whose ``(rows, n_train, n_features)`` float64 block fits the budget."""
    per_row = 8 * n_train * n_features
    rows = max(1, int(working_memory * 2**20) // per_row)
    return [slice(i, min(i + rows, n_rows)) for i in range(0, n_rows, rows)]


def _distance_keys(X, Y, metric, rows, working_memory=DEFAULT_WORKING_MEMORY):
    """float64 squared L2 (``metric == "l2"``) or L1 distances of ``X[rows]`` to every row of ``Y``.

    Summed from the float64 differences of the rows: the same numbers a direct double-precision
    computation gives, whatever the input dtype. Train rows are taken in slices so that the
    block of differences stays within ``working_memory`` MiB even for a single query row.
    """
    xr = X[rows].astype(np.float64)
    keys = np.empty((xr.shape[0], Y.shape[0]))
    cols = max(1, int(working_memory * 2**20) // (8 * xr.shape[0] * X.shape[1]))
    for j in range(0, Y.shape[0], cols):
        diff = xr[:, None, :] - Y[None, j : j + cols, :].astype(np.float64)
        keys[:, j : j + cols] = np.sum(diff * diff, axis=-1) if metric == "l2" else np.sum(np.abs(diff), axis=-1)
    return keys


def pairwise_distances(X, Y, metric="l2", *, n_threads=None):
    """Distances between every row of ``X`` and every row of ``Y``.

    Parameters
    ----------
    X : array_like of shape (n, d)
    Y : array_like of shape (m, d)
        Real numeric arrays with the same number of features ``d``, no NaN or Inf.
    metric : {"l2", "l1"}, default "l2"
        Euclidean or Manhattan distance (case-insensitive).
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.knn.pairwise_distances`` and ignored.

    Returns
    -------
    D : ndarray of shape (n, m)
        ``D[i, j]`` is the distance between ``X[i]`` and ``Y[j]``, computed in float64 from
        the differences of the rows and returned as float32 when ``X`` and ``Y`` are both
        float32, else as float64. A row's distance to an identical row is exactly 0.

    Raises
    ------
    TypeError
        If ``X`` or ``Y`` is complex, boolean, object or string.
    ValueError
        If ``X`` or ``Y`` is not 2-D, is empty or holds NaN or Inf, if the feature counts
        differ, or if ``metric`` is unknown.

    Notes
    -----
    Costs ``3 n m d`` flops and a ``(rows, m, d)`` float64 block of differences, with ``rows``
    chosen to keep that block under 32 MiB.
    """
    metric = v.check_metric(metric)
    X, Y = v.pairwise_args(X, Y, metric, "X", "Y")
    D = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
    for rows in _row_chunks(X.shape[0], Y.shape[0], X.shape[1], DEFAULT_WORKING_MEMORY):
        keys = _distance_keys(X, Y, metric, rows)
        D[rows] = np.sqrt(keys) if metric == "l2" else keys
    return D


def kneighbors(X_query, X_train, k, metric="l2", *, n_threads=None, working_memory=None):
    """The ``k`` nearest training rows of every query row, exactly.

    Parameters
    ----------
    X_query : array_like of shape (n_queries, d)
    X_train : array_like of shape (n_train, d)
        Real numeric arrays with the same number of features ``d``, no NaN or Inf.
    k : int
        Number of neighbours, ``1 <= k <= n_train``.
    metric : {"l2", "l1"}, default "l2"
        Euclidean or Manhattan distance (case-insensitive).
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.knn.kneighbors`` and ignored.
    working_memory : float or None, default None
        Bound in MiB on the float64 block of differences held at once (default 32).

    Returns
    -------
    distances : ndarray of shape (n_queries, k)
        Each row ascending; float32 when both inputs are float32, else float64.
    indices : ndarray of shape (n_queries, k), int64
        Rows of ``X_train``. The ranking is by the float64 distance (squared, for L2) summed
        from the differences of the rows, ties going to the smaller training index; for
        float32 inputs that is the ranking a float64 computation gives, and two returned
        float32 distances may be equal without their indices being ascending.

    Raises
    ------
    TypeError
        Unusable dtypes; ``k`` not an int; ``working_memory`` not a number.
    ValueError
        Not 2-D, empty, NaN or Inf, feature counts differ, unknown metric, ``k`` out of range,
        ``working_memory`` not > 0.

    Notes
    -----
    Forms each query's full row of distances (``n_train`` float64 values) and orders it with a
    stable sort, so equal distances keep the order of their indices. Cost ``O(n_queries *
    n_train * (d + log n_train))``.
    """
    metric = v.check_metric(metric)
    Xq, Xt = v.pairwise_args(X_query, X_train, metric, "X_query", "X_train")
    k = v.check_k(k, Xt.shape[0])
    working_memory = v.check_working_memory(working_memory, DEFAULT_WORKING_MEMORY)
    distances = np.empty((Xq.shape[0], k), dtype=Xq.dtype)
    indices = np.empty((Xq.shape[0], k), dtype=np.int64)
    for rows in _row_chunks(Xq.shape[0], Xt.shape[0], Xq.shape[1], working_memory):
        keys = _distance_keys(Xq, Xt, metric, rows, working_memory)
        # A stable sort keeps equal keys in index order: ties go to the smaller train index.
        order = np.argsort(keys, axis=1, kind="stable")[:, :k]
        nearest = np.take_along_axis(keys, order, axis=1)
        distances[rows] = np.sqrt(nearest) if metric == "l2" else nearest
        indices[rows] = order
    return distances, indices


# --- the course's three versions (CS231n assignment 1, k_nearest_neighbor.py) -----------------


def _course_args(X_test, X_train):
    X_test, X_train = v.pairwise_args(X_test, X_train, "l2", "X_test", "X_train")
    return X_test.astype(np.float64), X_train.astype(np.float64)


def compute_distances_two_loops(X_test, X_train):
    """
    Compute the distance between each test point in X_test and each training point
    in X_train using a nested loop over both the training data and the
    test data.

    Inputs:

    - X_test: A numpy array of shape (num_test, D) containing test data.
    - X_train: A numpy array of shape (num_train, D) containing training data.

    Returns:

    - dists: A numpy array of shape (num_test, num_train) where dists[i, j]
      is the Euclidean distance between the ith test point and the jth training
      point (float64).
    """
    X_test, X_train = _course_args(X_test, X_train)
    num_test = X_test.shape[0]
    num_train = X_train.shape[0]
    dists = np.zeros((num_test, num_train))
    for i in range(num_test):
        for j in range(num_train):
            dists[i, j] = np.sqrt(np.sum(np.square(X_test[i] - X_train[j])))
    return dists


def compute_distances_one_loop(X_test, X_train):
    """
    Compute the distance between each test point in X_test and each training point
    in X_train using a single loop over the test data.

    Input / Output: Same as compute_distances_two_loops
    """
    X_test, X_train = _course_args(X_test, X_train)
    num_test = X_test.shape[0]
    num_train = X_train.shape[0]
    dists = np.zeros((num_test, num_train))
    for i in range(num_test):
        dists[i, :] = np.sqrt(np.sum(np.square(X_train - X_test[i]), axis=1))
    return dists


def compute_distances_no_loops(X_test, X_train):
    """
    Compute the distance between each test point in X_test and each training point
    in X_train using no explicit loops.

    Input / Output: Same as compute_distances_two_loops

    Uses ``|x - y|^2 = |x|^2 + |y|^2 - 2 x.y``: one matrix multiplication and two broadcast
    sums. Rounding can make a squared distance slightly negative when two points are close
    relative to their norms, so it is clipped at 0 before the square root; the result is
    accurate to about ``eps * (|x|^2 + |y|^2)`` in the squared distance, not to ``eps`` of the
    distance itself.
    """
    X_test, X_train = _course_args(X_test, X_train)
    test_sq = np.sum(np.square(X_test), axis=1)[:, np.newaxis]  # (num_test, 1)
    train_sq = np.sum(np.square(X_train), axis=1)[np.newaxis, :]  # (1, num_train)
    sq = test_sq + train_sq - 2.0 * (X_test @ X_train.T)
    return np.sqrt(np.maximum(sq, 0.0))
