"""The course's KNearestNeighbor drop-in and cross_validate_k.

The loop paths (num_loops=1, 2) and predict_labels follow the course; num_loops=0 runs on
cs231n_fast.knn.kneighbors. They must agree: always on data without distance ties, and on
small-integer data (exact distances, many ties) because every path breaks ties by the smaller
training index.
"""

import math

import numpy as np
import pytest

from cs231n_fast.classifiers import KNearestNeighbor, cross_validate_k
from cs231n_fast.reference import pairwise_distances

METRICS = ["l2", "l1"]


def _data(rng, n_train=40, n_test=12, d=6, n_classes=4, dtype=np.float64):
    X_train = rng.standard_normal((n_train, d)).astype(dtype)
    X_test = rng.standard_normal((n_test, d)).astype(dtype)
    y_train = rng.integers(0, n_classes, n_train)
    return X_train, y_train, X_test


def _trained(X, y, metric="l2", **kwargs):
    clf = KNearestNeighbor(metric, **kwargs)
    clf.train(X, y)
    return clf


def _blobs(rng, n_per_class, d=5, sep=4.0):
    """Two Gaussian blobs ``sep`` apart along every axis, labels 0 and 1, shuffled."""
    X = np.vstack([rng.standard_normal((n_per_class, d)), sep + rng.standard_normal((n_per_class, d))])
    y = np.repeat([0, 1], n_per_class)
    p = rng.permutation(len(y))
    return X[p], y[p]


# --- the three num_loops paths and the distance methods ------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_knn_predict_num_loops_agree(rng, dtype, metric):
    X_train, y_train, X_test = _data(rng, dtype=dtype)
    clf = _trained(X_train, y_train, metric)
    for k in (1, 3, 8, 40):
        fast = clf.predict(X_test, k=k)
        assert fast.shape == (12,)
        np.testing.assert_array_equal(clf.predict(X_test, k=k, num_loops=1), fast)
        np.testing.assert_array_equal(clf.predict(X_test, k=k, num_loops=2), fast)


@pytest.mark.parametrize("metric", METRICS)
def test_knn_compute_distances_agree(rng, metric):
    X_train, y_train, X_test = _data(rng, n_train=15, n_test=7)
    clf = _trained(X_train, y_train, metric)
    two = clf.compute_distances_two_loops(X_test)
    one = clf.compute_distances_one_loop(X_test)
    none = clf.compute_distances_no_loops(X_test)
    for D in (two, one, none):
        assert D.shape == (7, 15) and D.dtype == np.float64
    # Written out here, correctly rounded sums (math.fsum): no code under test is the oracle
    # (the methods may call reference.pairwise_distances, so it cannot be the oracle either).
    sq = metric == "l2"
    expected = np.array([[math.sqrt(math.fsum((a - b) ** 2)) if sq else math.fsum(np.abs(a - b))
                          for b in X_train] for a in X_test])
    np.testing.assert_allclose(two, expected, rtol=1e-12)
    np.testing.assert_allclose(one, expected, rtol=1e-12)
    if sq:  # the course's |x|^2 + |y|^2 - 2 x.y: accurate to eps * (|x|^2 + |y|^2) only
        np.testing.assert_allclose(none, expected, rtol=1e-9, atol=1e-7)
    else:
        np.testing.assert_allclose(none, expected, rtol=1e-12)


def test_knn_compute_distances_float32_in_float64_out(rng):
    X_train, y_train, X_test = _data(rng, n_train=10, n_test=3, dtype=np.float32)
    clf = _trained(X_train, y_train)
    D = clf.compute_distances_one_loop(X_test)
    assert D.dtype == np.float64
    expected = pairwise_distances(X_test.astype(np.float64), X_train.astype(np.float64))
    np.testing.assert_allclose(D, expected, rtol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_knn_fast_path_matches_full_matrix(rng, dtype, metric):
    X_train, y_train, X_test = _data(rng, n_train=300, n_test=50, d=10, n_classes=5, dtype=dtype)
    clf = _trained(X_train, y_train, metric)
    dists = clf.compute_distances_no_loops(X_test)
    for k in (1, 2, 5, 10, 299):
        np.testing.assert_array_equal(clf.predict(X_test, k=k), clf.predict_labels(dists, k=k), err_msg=f"k={k}")


@pytest.mark.parametrize("metric", METRICS)
def test_knn_fast_path_matches_full_matrix_with_ties(rng, metric):
    # Small integers: every method computes the distances exactly, so ties are real ties and
    # must be broken the same way (smaller training index) by every path.
    X_train = rng.integers(-2, 3, (60, 3))
    X_test = rng.integers(-2, 3, (25, 3))
    y_train = rng.integers(0, 3, 60)
    clf = _trained(X_train, y_train, metric)
    dists = clf.compute_distances_two_loops(X_test)
    assert (np.sort(dists, axis=1)[:, 1:] == np.sort(dists, axis=1)[:, :-1]).any()  # ties exist
    for k in (1, 2, 4, 7, 60):
        expected = clf.predict_labels(dists, k=k)
        np.testing.assert_array_equal(clf.predict(X_test, k=k), expected, err_msg=f"k={k}")
        np.testing.assert_array_equal(clf.predict(X_test, k=k, num_loops=1), expected)
        np.testing.assert_array_equal(clf.predict_labels(clf.compute_distances_no_loops(X_test), k=k), expected)


def test_knn_predict_thread_counts_equal(rng, n_threads):
    X_train, y_train, X_test = _data(rng, n_train=500, n_test=40, d=16)
    expected = _trained(X_train, y_train, n_threads=1).predict(X_test, k=5)
    np.testing.assert_array_equal(_trained(X_train, y_train, n_threads=n_threads).predict(X_test, k=5), expected)


# --- predict_labels: vote and tie rules on hand-made distances -----------------------------------


def test_knn_predict_labels_vote_by_hand():
    clf = _trained(np.zeros((5, 2)), [2, 0, 0, 1, 2])
    dists = np.array([[0.1, 0.5, 0.2, 0.3, 0.4]])
    # nearest first: train 0 (label 2), 2 (0), 3 (1), 4 (2), 1 (0)
    assert clf.predict_labels(dists, k=1).tolist() == [2]
    assert clf.predict_labels(dists, k=2).tolist() == [0]  # 2 vs 0: tie, smaller label
    assert clf.predict_labels(dists, k=3).tolist() == [0]  # 2, 0, 1: three-way tie
    assert clf.predict_labels(dists, k=4).tolist() == [2]  # 2 twice
    assert clf.predict_labels(dists, k=5).tolist() == [0]  # 0 twice, 2 twice


def test_knn_predict_labels_distance_ties_by_smaller_index():
    clf = _trained(np.zeros((5, 1)), [5, 3, 7, 1, 1])
    # train 1 is nearest; 0, 3 and 4 tie for second: the stable order takes train 0 (label 5).
    dists = np.array([[0.2, 0.1, 0.3, 0.2, 0.2], [1.0, 1.0, 1.0, 1.0, 1.0]])
    assert clf.predict_labels(dists, k=2).tolist() == [3, 3]  # [3, 5] and [5, 3]: smaller label
    assert clf.predict_labels(dists, k=1).tolist() == [3, 5]
    assert clf.predict_labels(dists, k=3).tolist() == [1, 3]  # [3, 5, 1] and [5, 3, 7]
    assert clf.predict_labels(dists, k=4).tolist() == [1, 1]


def test_knn_predict_labels_matches_course_loop(rng):
    y_train = rng.integers(0, 6, 30)
    clf = _trained(np.zeros((30, 1)), y_train)
    dists = rng.integers(0, 5, (20, 30)).astype(float)  # many distance ties
    for k in (1, 4, 9, 30):
        course = [np.argmax(np.bincount(y_train[np.argsort(row, kind="stable")[:k]])) for row in dists]
        np.testing.assert_array_equal(clf.predict_labels(dists, k=k), course)


def test_knn_labels_any_nonnegative_ints(rng):
    # Sparse, large labels are voted over their distinct values; the result keeps y's dtype.
    X = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    for y, dtype in (([10**12, 10**12, 3, 3, 3], np.int64), (np.array([200, 200, 7, 7, 7], np.uint8), np.uint8)):
        clf = _trained(X, y)
        pred = clf.predict(np.array([[0.4], [11.2]]), k=2)
        assert pred.dtype == dtype
        assert pred.tolist() == [y[0], y[2]]
        assert clf.predict(np.array([[6.0]]), k=4).tolist() == [y[2]]  # 0, 1, 10, 11: tie -> smaller


def test_knn_metric_l1_changes_the_answer():
    X = np.array([[3.0, 0.0], [2.0, 2.0]])
    q = np.zeros((1, 2))
    assert _trained(X, [0, 1], "l1").predict(q).tolist() == [0]
    assert _trained(X, [0, 1], "l2").predict(q).tolist() == [1]
    for num_loops in (1, 2):
        assert _trained(X, [0, 1], "L1").predict(q, num_loops=num_loops).tolist() == [0]


def test_knn_learns_two_blobs(rng):
    X, y = _blobs(rng, 100)
    X_test, y_test = _blobs(rng, 50)
    clf = _trained(X[:150], y[:150])
    for k in (1, 5):
        assert np.mean(clf.predict(X_test, k=k) == y_test) > 0.95
    assert np.mean(clf.predict(X_test[:20], k=3, num_loops=1) == y_test[:20]) > 0.9


def test_knn_train_does_not_modify_inputs(rng):
    X_train, y_train, X_test = _data(rng)
    copies = X_train.copy(), y_train.copy(), X_test.copy()
    clf = _trained(X_train, y_train)
    clf.predict(X_test, k=3)
    clf.predict(X_test, k=3, num_loops=1)
    for a, c in zip((X_train, y_train, X_test), copies):
        np.testing.assert_array_equal(a, c)


# --- bad input -------------------------------------------------------------------------------------


BAD_TRAIN = [
    ("X 1-D", lambda X, y: (X[:, 0], y), ValueError, "X must be a 2-D"),
    ("X empty", lambda X, y: (X[:0], y[:0]), ValueError, "X must have no zero-size"),
    ("X NaN", lambda X, y: (np.where(np.eye(4, 3, dtype=bool), np.nan, X), y), ValueError, "X contains NaN or Inf"),
    ("X complex", lambda X, y: (X.astype(complex), y), TypeError, "X must be a real numeric array"),
    ("y negative", lambda X, y: (X, np.array([0, 1, -1, 2])), ValueError, "y must hold non-negative integer"),
    ("y float", lambda X, y: (X, y.astype(float)), TypeError, "y must hold non-negative integer.*float64"),
    ("y float fractional", lambda X, y: (X, [0.5, 1, 1, 0]), TypeError, "y must hold non-negative integer"),
    ("y bool", lambda X, y: (X, y.astype(bool)), TypeError, "y must hold non-negative integer"),
    ("y strings", lambda X, y: (X, np.array(["a", "b", "a", "b"])), TypeError, "y must hold non-negative integer"),
    ("y 2-D", lambda X, y: (X, y[:, None]), ValueError, "y must be a 1-D"),
    ("y too short", lambda X, y: (X, y[:3]), ValueError, r"y must have one label per sample \(4\); got 3"),
]


@pytest.mark.parametrize("case, make, exc, match", BAD_TRAIN, ids=[r[0] for r in BAD_TRAIN])
def test_knn_train_bad_input(case, make, exc, match):
    X, y = np.arange(12.0).reshape(4, 3), np.array([0, 1, 1, 2])
    with pytest.raises(exc, match=match):
        KNearestNeighbor().train(*make(X, y))


@pytest.mark.parametrize(
    "call",
    [
        lambda c, X: c.predict(X),
        lambda c, X: c.predict(X, num_loops=2),
        lambda c, X: c.compute_distances_two_loops(X),
        lambda c, X: c.compute_distances_one_loop(X),
        lambda c, X: c.compute_distances_no_loops(X),
        lambda c, X: c.predict_labels(np.zeros((2, 3))),
    ],
)
def test_knn_use_before_train(call):
    with pytest.raises(RuntimeError, match=r"not trained: call train\(X, y\)"):
        call(KNearestNeighbor(), np.zeros((2, 3)))


BAD_PREDICT = [
    ("k 0", lambda c, X: c.predict(X, k=0), ValueError, "k must be an int >= 1"),
    ("k > n_train", lambda c, X: c.predict(X, k=5), ValueError, r"k must be <= the number of training rows \(4\)"),
    ("k > n_train loops", lambda c, X: c.predict(X, k=5, num_loops=1), ValueError, "k must be <="),
    ("k float", lambda c, X: c.predict(X, k=1.0), TypeError, "k must be an int"),
    ("num_loops 3", lambda c, X: c.predict(X, num_loops=3), ValueError, "Invalid value 3 for num_loops"),
    ("num_loops -1", lambda c, X: c.predict(X, num_loops=-1), ValueError, "num_loops must be an int >= 0"),
    ("X features", lambda c, X: c.predict(X[:, :2]), ValueError, "X and X_train must have the same number"),
    ("X features loops", lambda c, X: c.compute_distances_two_loops(X[:, :2]), ValueError, "X and X_train must have"),
    ("X 1-D", lambda c, X: c.predict(X[0]), ValueError, "X must be a 2-D"),
    ("X Inf", lambda c, X: c.predict(np.full((2, 3), np.inf)), ValueError, "X contains NaN or Inf"),
    ("X strings", lambda c, X: c.predict(X.astype(str)), TypeError, "X must be a real numeric array"),
    ("dists columns", lambda c, X: c.predict_labels(np.zeros((2, 3))), ValueError, "dists must have shape.*= 4"),
    ("dists 1-D", lambda c, X: c.predict_labels(np.zeros(4)), ValueError, "dists must be a 2-D"),
    ("dists k", lambda c, X: c.predict_labels(np.zeros((2, 4)), k=5), ValueError, "k must be <="),
    ("dists complex", lambda c, X: c.predict_labels(np.zeros((2, 4), complex)), TypeError, "dists must be"),
]


@pytest.mark.parametrize("case, call, exc, match", BAD_PREDICT, ids=[r[0] for r in BAD_PREDICT])
def test_knn_predict_bad_input(case, call, exc, match):
    clf = _trained(np.arange(12.0).reshape(4, 3), [0, 1, 1, 2])
    with pytest.raises(exc, match=match):
        call(clf, np.ones((2, 3)))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(metric="cosine"), ValueError, "metric must be one of"),
        (dict(n_threads=0), ValueError, "n_threads must be None or a positive int"),
        (dict(n_threads=1.5), TypeError, "n_threads must be None or a positive int"),
    ],
)
def test_knn_init_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        KNearestNeighbor(**kwargs)


# --- cross_validate_k ------------------------------------------------------------------------------


def _naive_cross_validation(X, y, k_choices, num_folds, metric):
    """The notebook's loop: array_split, vstack the other folds, full distances, predict_labels."""
    X_folds = np.array_split(X, num_folds)
    y_folds = np.array_split(y, num_folds)
    k_to_accuracies = {}
    for k in k_choices:
        k_to_accuracies[k] = []
        for i in range(num_folds):
            clf = KNearestNeighbor(metric)
            clf.train(np.vstack(X_folds[:i] + X_folds[i + 1 :]), np.hstack(y_folds[:i] + y_folds[i + 1 :]))
            y_pred = clf.predict_labels(clf.compute_distances_one_loop(X_folds[i]), k=k)
            k_to_accuracies[k].append(float(np.sum(y_pred == y_folds[i])) / len(y_folds[i]))
    return k_to_accuracies


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n, num_folds", [(23, 5), (20, 2), (9, 9)])
def test_cross_validate_k_matches_naive_loop(rng, metric, n, num_folds):
    X = rng.standard_normal((n, 4))
    y = rng.integers(0, 3, n)
    k_choices = [k for k in (1, 3, 5, 8) if k <= n - -(-n // num_folds)]
    result = cross_validate_k(X, y, k_choices, num_folds=num_folds, metric=metric)
    assert list(result) == k_choices
    assert all(len(accs) == num_folds for accs in result.values())
    assert all(isinstance(a, float) and 0 <= a <= 1 for accs in result.values() for a in accs)
    assert result == _naive_cross_validation(X, y, k_choices, num_folds, metric)


def test_cross_validate_k_integer_ties_match_naive_loop(rng):
    X = rng.integers(-1, 2, (30, 2))
    y = rng.integers(0, 4, 30)
    k_choices = [1, 2, 3, 6, 10]
    assert cross_validate_k(X, y, k_choices, num_folds=3) == _naive_cross_validation(X, y, k_choices, 3, "l2")


def test_cross_validate_k_two_blobs(rng):
    X, y = _blobs(rng, 60)
    result = cross_validate_k(X, y, [1, 3, 5, 10, 20], num_folds=4)
    for k, accs in result.items():
        assert np.mean(accs) > 0.9, k


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(num_folds=1), ValueError, "num_folds must be an int >= 2"),
        (dict(num_folds=11), ValueError, r"num_folds must be <= the number of samples \(10\)"),
        (dict(num_folds=2.0), TypeError, "num_folds must be an int"),
        (dict(k_choices=[]), ValueError, "k_choices must hold at least one k"),
        (dict(k_choices=5), TypeError, "k_choices must be an iterable of ints"),
        (dict(k_choices=[1, 0]), ValueError, "k_choices must be an int >= 1"),
        (dict(k_choices=[1, 2.5]), TypeError, "k_choices must be an int"),
        # 10 samples in 3 folds of 4, 3, 3: the smallest training split has 6 rows.
        (dict(k_choices=[1, 7], num_folds=3), ValueError, "k_choices must hold ints <= 6"),
        (dict(metric="l3"), ValueError, "metric must be one of"),
        (dict(n_threads=-1), ValueError, "n_threads must be None or a positive int"),
        (dict(y=np.arange(10) - 1), ValueError, "y must hold non-negative integer"),
        (dict(y=np.zeros(9, int)), ValueError, "y must have one label per sample"),
        (dict(X=np.zeros(10)), ValueError, "X must be a 2-D"),
    ],
)
def test_cross_validate_k_bad_input(kwargs, exc, match):
    args = dict(X=np.arange(20.0).reshape(10, 2), y=np.arange(10) % 2, k_choices=[1, 3], num_folds=5)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        cross_validate_k(**args)


def test_cross_validate_k_largest_allowed_k(rng):
    X = rng.standard_normal((10, 2))
    y = rng.integers(0, 2, 10)
    result = cross_validate_k(X, y, [6], num_folds=3)  # folds of 4, 3, 3
    assert result == _naive_cross_validation(X, y, [6], 3, "l2")
