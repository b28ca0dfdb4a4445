"""The kNN twin (reference.pairwise_distances, reference.kneighbors) against brute force and the
course's three distance functions (reference.compute_distances_*).

Brute force here means one pair at a time in Python floats over float64 casts of the inputs:
slow and obviously right. Exact ties are made with small integers, whose distances (squared,
for L2) every method computes exactly.
"""

import math

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference

from cs231n_fast.reference import (
    compute_distances_no_loops,
    compute_distances_one_loop,
    compute_distances_two_loops,
    kneighbors,
    pairwise_distances,
)

METRICS = ["l2", "l1"]
# (n, m, d): single rows and features, d below, at and off a multiple of 8, more rows than d.
SHAPES = [(1, 1, 1), (3, 5, 1), (4, 7, 8), (6, 9, 13), (2, 30, 3), (11, 4, 20)]


def brute_force(X, Y, metric):
    """Distances pair by pair in Python floats (float64), no NumPy arithmetic."""
    X = np.asarray(X, dtype=np.float64).tolist()
    Y = np.asarray(Y, dtype=np.float64).tolist()
    if metric == "l2":
        dist = lambda a, b: math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b)))  # noqa: E731
    else:
        dist = lambda a, b: sum(abs(p - q) for p, q in zip(a, b))  # noqa: E731
    return np.array([[dist(a, b) for b in Y] for a in X]).reshape(len(X), len(Y))


def brute_kneighbors(X, Y, k, metric):
    """Sort each row of the brute-force matrix by (distance, index); keep k."""
    D = brute_force(X, Y, metric)
    idx = np.arange(D.shape[1])
    order = np.array([np.lexsort((idx, row))[:k] for row in D])
    return np.take_along_axis(D, order, axis=1), order


# --- pairwise_distances ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n, m, d", SHAPES)
def test_pairwise_distances_matches_brute_force(rng, dtype, metric, n, m, d):
    X = rng.standard_normal((n, d)).astype(dtype)
    Y = rng.standard_normal((m, d)).astype(dtype)
    D = pairwise_distances(X, Y, metric)
    assert D.shape == (n, m)
    assert_matches_reference(D, brute_force(X, Y, metric), dtype, metric)


@pytest.mark.parametrize("n, m, d", SHAPES)
def test_pairwise_distances_l2_matches_course_functions(rng, n, m, d):
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((m, d))
    D = pairwise_distances(X, Y)
    np.testing.assert_allclose(compute_distances_two_loops(X, Y), D, rtol=1e-12)
    np.testing.assert_allclose(compute_distances_one_loop(X, Y), D, rtol=1e-12)
    # The Gram formula cancels: its error is ~eps * (|x|^2 + |y|^2) in the squared distance.
    np.testing.assert_allclose(compute_distances_no_loops(X, Y), D, rtol=1e-9, atol=1e-7)


def test_pairwise_distances_self_distance_exactly_zero(rng, dtype):
    X = (1e3 + rng.standard_normal((6, 5))).astype(dtype)  # large norms: Gram formulas cancel
    for metric in METRICS:
        D = pairwise_distances(X, X, metric)
        np.testing.assert_array_equal(np.diag(D), 0)
        assert (D[~np.eye(6, dtype=bool)] > 0).all()


def test_pairwise_distances_small_case_by_hand():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    Y = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 2.0]])
    r2, r5, r13 = math.sqrt(2), math.sqrt(5), math.sqrt(13)
    np.testing.assert_array_equal(pairwise_distances(X, Y, "l2"), [[5, 0, r5], [r13, r2, r5]])
    np.testing.assert_array_equal(pairwise_distances(X, Y, "l1"), [[7, 0, 3], [5, 2, 3]])
    np.testing.assert_array_equal(pairwise_distances(X, Y, "L1"), pairwise_distances(X, Y, "l1"))


# --- the course's three functions -----------------------------------------------------------------


def test_course_distance_functions_agree(rng):
    X_test = rng.standard_normal((7, 12))
    X_train = rng.standard_normal((15, 12))
    two = compute_distances_two_loops(X_test, X_train)
    one = compute_distances_one_loop(X_test, X_train)
    none = compute_distances_no_loops(X_test, X_train)
    for D in (two, one, none):
        assert D.shape == (7, 15) and D.dtype == np.float64
    # The notebook's check: Frobenius norm of the difference.
    assert np.linalg.norm(two - one, ord="fro") < 1e-12
    assert np.linalg.norm(two - none, ord="fro") < 1e-9


def test_course_no_loops_clips_cancellation_at_zero(rng):
    # Points far from the origin and close together: |x|^2 + |y|^2 - 2 x.y can round below 0.
    X = 1e8 + rng.standard_normal((20, 3)) * 1e-4
    D = compute_distances_no_loops(X, X)
    assert not np.isnan(D).any()
    assert (D >= 0).all()


def test_course_functions_return_float64(rng):
    X = rng.standard_normal((3, 4)).astype(np.float32)
    Y = rng.integers(-3, 4, (5, 4))
    for f in (compute_distances_two_loops, compute_distances_one_loop, compute_distances_no_loops):
        assert f(X, Y).dtype == np.float64


# --- kneighbors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n, m, d", SHAPES)
def test_kneighbors_matches_brute_force(rng, dtype, metric, n, m, d):
    X = rng.standard_normal((n, d)).astype(dtype)
    Y = rng.standard_normal((m, d)).astype(dtype)
    for k in sorted({1, min(3, m), m}):
        dist, idx = kneighbors(X, Y, k, metric)
        bd, bi = brute_kneighbors(X, Y, k, metric)
        assert idx.dtype == np.int64 and idx.shape == (n, k)
        np.testing.assert_array_equal(idx, bi)
        assert_matches_reference(dist, bd, dtype, f"{metric} k={k}")


@pytest.mark.parametrize("metric", METRICS)
def test_kneighbors_integer_ties_by_smaller_index(rng, metric):
    # Small integers: exact distances and many exact ties.
    X = rng.integers(-2, 3, (15, 3))
    Y = rng.integers(-2, 3, (40, 3))
    for k in (1, 4, 40):
        dist, idx = kneighbors(X, Y, k, metric)
        bd, bi = brute_kneighbors(X, Y, k, metric)
        np.testing.assert_array_equal(idx, bi)
        np.testing.assert_array_equal(dist, bd)
        # Within each run of equal distances the indices ascend.
        same = dist[:, 1:] == dist[:, :-1]
        assert (idx[:, 1:][same] > idx[:, :-1][same]).all()


def test_kneighbors_small_case_by_hand():
    Y = np.array([[0.0], [2.0], [-2.0], [1.0], [1.0]])
    dist, idx = kneighbors(np.array([[0.0], [1.0]]), Y, 5)
    np.testing.assert_array_equal(idx, [[0, 3, 4, 1, 2], [3, 4, 0, 1, 2]])
    np.testing.assert_array_equal(dist, [[0, 1, 1, 2, 2], [0, 0, 1, 1, 3]])
    # The metric changes the order: (3, 0) is nearer in L1, (2, 2) in L2.
    Y2 = np.array([[3.0, 0.0], [2.0, 2.0]])
    q = np.zeros((1, 2))
    np.testing.assert_array_equal(kneighbors(q, Y2, 2, "l1")[1], [[0, 1]])
    np.testing.assert_array_equal(kneighbors(q, Y2, 2, "l2")[1], [[1, 0]])
    np.testing.assert_array_equal(kneighbors(q, Y2, 1, "l2")[0], [[math.sqrt(8)]])


def test_kneighbors_float32_ranked_in_float64():
    # Squared distances 2**48 + 1 (row 0) and 2**48 (row 1) are equal in float32, distinct in
    # float64: the float64 ranking puts row 1 first, and the float32 distances come out equal.
    q = np.zeros((1, 2), dtype=np.float32)
    Y = np.array([[2.0**24, 1.0], [2.0**24, 0.0]], dtype=np.float32)
    dist, idx = kneighbors(q, Y, 2)
    np.testing.assert_array_equal(idx, [[1, 0]])
    assert dist.dtype == np.float32
    np.testing.assert_array_equal(dist, [[2.0**24, 2.0**24]])
    np.testing.assert_array_equal(kneighbors(q, Y, 2, "l1")[1], [[1, 0]])


@pytest.mark.parametrize("metric", METRICS)
def test_kneighbors_consistent_with_pairwise(rng, metric):
    X = rng.standard_normal((9, 6))
    Y = rng.standard_normal((25, 6))
    D = pairwise_distances(X, Y, metric)
    dist, idx = kneighbors(X, Y, 7, metric)
    np.testing.assert_array_equal(dist, np.take_along_axis(D, idx, axis=1))
    np.testing.assert_array_equal(idx, np.argsort(D, axis=1, kind="stable")[:, :7])


@pytest.mark.parametrize("metric", METRICS)
def test_kneighbors_working_memory_does_not_change_result(rng, metric):
    X = rng.standard_normal((13, 7))
    Y = rng.standard_normal((31, 7))
    expected = kneighbors(X, Y, 5, metric)
    for wm in (1e-6, 0.002, 1, 1e3):  # one query row per block up to all at once
        for a, b in zip(kneighbors(X, Y, 5, metric, working_memory=wm), expected):
            np.testing.assert_array_equal(a, b)


# --- invariants: dtypes, layouts, no mutation -----------------------------------------------------


@pytest.mark.parametrize(
    "tx, ty, expected",
    [
        (np.float32, np.float32, np.float32),
        (np.float64, np.float64, np.float64),
        (np.float32, np.float64, np.float64),
        (np.int64, np.int64, np.float64),
        (np.float16, np.float32, np.float64),
        (np.uint8, np.float32, np.float64),
    ],
)
def test_knn_reference_dtype_policy(rng, tx, ty, expected):
    X = rng.integers(0, 5, (4, 3)).astype(tx)
    Y = rng.integers(0, 5, (6, 3)).astype(ty)
    for metric in METRICS:
        D = pairwise_distances(X, Y, metric)
        assert D.dtype == expected
        np.testing.assert_allclose(D, brute_force(X, Y, metric), rtol=1e-6)
        dist, idx = kneighbors(X, Y, 2, metric)
        assert dist.dtype == expected and idx.dtype == np.int64


@pytest.mark.parametrize("layout", LAYOUTS)
def test_knn_reference_layouts_equal(rng, dtype, layout):
    X = rng.standard_normal((5, 6)).astype(dtype)
    Y = rng.standard_normal((8, 6)).astype(dtype)
    lx, ly = as_layout(X, layout), as_layout(Y, layout)
    for metric in METRICS:
        np.testing.assert_array_equal(pairwise_distances(lx, ly, metric), pairwise_distances(X, Y, metric))
        for a, b in zip(kneighbors(lx, ly, 3, metric), kneighbors(X, Y, 3, metric)):
            np.testing.assert_array_equal(a, b)


def test_knn_reference_inputs_unchanged(rng, dtype):
    X = rng.standard_normal((4, 5)).astype(dtype)
    Y = rng.standard_normal((6, 5)).astype(dtype)
    copies = X.copy(), Y.copy()
    pairwise_distances(X, Y)
    kneighbors(X, Y, 3, "l1")
    compute_distances_no_loops(X, Y)
    compute_distances_two_loops(X, Y)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(Y, copies[1])


# --- bad input: one row per case, the message names the argument ----------------------------------


def _good():
    return np.zeros((3, 4)), np.ones((5, 4))


def _with(a, i, value):
    a = a.copy()
    a.flat[i] = value
    return a


BAD_PAIRWISE = [
    ("X 1-D", lambda X, Y: (X[0], Y), ValueError, "X must be a 2-D"),
    ("Y 3-D", lambda X, Y: (X, Y[None]), ValueError, "Y must be a 2-D"),
    ("X no rows", lambda X, Y: (X[:0], Y), ValueError, "X must have no zero-size"),
    ("Y no features", lambda X, Y: (X[:, :0], Y[:, :0]), ValueError, "X must have no zero-size"),
    ("features differ", lambda X, Y: (X, Y[:, :3]), ValueError, "X and Y must have the same number of features"),
    ("X NaN", lambda X, Y: (_with(X, 5, np.nan), Y), ValueError, r"X contains NaN or Inf \(first in row 1\)"),
    ("Y Inf", lambda X, Y: (X, _with(Y, 0, -np.inf)), ValueError, "Y contains NaN or Inf"),
    ("X float16 Inf", lambda X, Y: (_with(X, 0, np.inf).astype(np.float16), Y), ValueError, "X contains NaN or Inf"),
    ("X complex", lambda X, Y: (X.astype(complex), Y), TypeError, "X must be a real numeric array.*complex"),
    ("Y bool", lambda X, Y: (X, Y.astype(bool)), TypeError, "Y must be a real numeric array.*boolean"),
    ("X object", lambda X, Y: (X.astype(object), Y), TypeError, "X must be a real numeric array.*object"),
    ("Y strings", lambda X, Y: (X, np.full((5, 4), "a")), TypeError, "Y must be a real numeric array"),
    ("X ragged", lambda X, Y: ([[1.0], [1.0, 2.0]], Y), TypeError, "X must be a real numeric array"),
]


@pytest.mark.parametrize("case, make, exc, match", BAD_PAIRWISE, ids=[r[0] for r in BAD_PAIRWISE])
def test_pairwise_distances_bad_input(case, make, exc, match):
    with pytest.raises(exc, match=match):
        pairwise_distances(*make(*_good()))


@pytest.mark.parametrize("metric", ["cosine", "", None, 2])
def test_knn_reference_bad_metric(metric):
    X, Y = _good()
    with pytest.raises(ValueError, match="metric must be one of"):
        pairwise_distances(X, Y, metric)
    with pytest.raises(ValueError, match="metric must be one of"):
        kneighbors(X, Y, 1, metric)


BAD_KNEIGHBORS = [
    ("k 0", dict(k=0), ValueError, "k must be an int >= 1"),
    ("k -1", dict(k=-1), ValueError, "k must be an int >= 1"),
    ("k > n_train", dict(k=6), ValueError, r"k must be <= the number of training rows \(5\)"),
    ("k float", dict(k=2.0), TypeError, "k must be an int"),
    ("k bool", dict(k=True), TypeError, "k must be an int"),
    ("k None", dict(k=None), TypeError, "k must be an int"),
    ("working_memory 0", dict(k=1, working_memory=0), ValueError, "working_memory must be"),
    ("working_memory -1", dict(k=1, working_memory=-1), ValueError, "working_memory must be"),
    ("working_memory nan", dict(k=1, working_memory=float("nan")), ValueError, "working_memory must be"),
    ("working_memory str", dict(k=1, working_memory="32"), TypeError, "working_memory must be"),
]


@pytest.mark.parametrize("case, kwargs, exc, match", BAD_KNEIGHBORS, ids=[r[0] for r in BAD_KNEIGHBORS])
def test_kneighbors_bad_input(case, kwargs, exc, match):
    X, Y = _good()
    with pytest.raises(exc, match=match):
        kneighbors(X, Y, **kwargs)


def test_kneighbors_bad_arrays_named():
    X, Y = _good()
    with pytest.raises(ValueError, match="X_query and X_train must have the same number of features"):
        kneighbors(X, Y[:, :2], 1)
    with pytest.raises(ValueError, match="X_train contains NaN or Inf"):
        kneighbors(X, _with(Y, 3, np.nan), 1)
    with pytest.raises(TypeError, match="X_query must be a real numeric array"):
        kneighbors(X.astype(complex), Y, 1)


@pytest.mark.parametrize(
    "f", [compute_distances_two_loops, compute_distances_one_loop, compute_distances_no_loops]
)
def test_course_distance_functions_bad_input(f):
    X, Y = _good()
    with pytest.raises(ValueError, match="X_test and X_train must have the same number of features"):
        f(X, Y[:, :2])
    with pytest.raises(ValueError, match="X_train must be a 2-D"):
        f(X, Y[0])
