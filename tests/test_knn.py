"""kNN kernels: pairwise L1/L2 distances and streaming top-k, against float64 brute force."""

import tracemalloc

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference

from cs231n_fast import knn


def brute(xq, xt, metric):
    """Float64 distances by direct differences: the oracle."""
    xq, xt = np.asarray(xq, np.float64), np.asarray(xt, np.float64)
    diff = xq[:, None, :] - xt[None, :, :]
    return np.sqrt((diff**2).sum(-1)) if metric == "l2" else np.abs(diff).sum(-1)


def brute_knn(xq, xt, k, metric):
    dist = brute(xq, xt, metric)
    idx = np.argsort(dist, axis=1, kind="stable")[:, :k]  # stable: ties by smaller index
    return np.take_along_axis(dist, idx, 1), idx


METRICS = ["l2", "l1"]
# (n_query, n_train, d): ones everywhere, d below / not a multiple of the 8 lanes, tiles that
# do not divide (4 queries x 32 train rows).
SHAPES = [(1, 1, 1), (1, 9, 3), (5, 33, 8), (7, 70, 13), (13, 130, 37), (4, 64, 100), (2, 3, 257)]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("nq, m, d", SHAPES)
def test_pairwise_distances_match_brute_force(rng, dtype, metric, nq, m, d):
    xq = rng.standard_normal((nq, d)).astype(dtype)
    xt = rng.standard_normal((m, d)).astype(dtype)
    got = knn.pairwise_distances(xq, xt, metric)
    assert got.shape == (nq, m)
    assert_matches_reference(got, brute(xq, xt, metric), dtype, metric)


@pytest.mark.parametrize("metric", METRICS)
def test_pairwise_self_distance_exactly_zero(rng, dtype, metric):
    # Large common offset: |x|^2 + |y|^2 - 2 x.y cancels catastrophically in float32.
    x = (1000 + rng.integers(0, 256, (40, 300))).astype(dtype)
    got = knn.pairwise_distances(x, x, metric)
    np.testing.assert_array_equal(np.diag(got), 0)
    assert (got >= 0).all() and np.isfinite(got).all()
    assert_matches_reference(got, brute(x, x, metric), dtype)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("nq, m, d", SHAPES)
def test_kneighbors_match_brute_force(rng, dtype, metric, nq, m, d):
    xq = rng.standard_normal((nq, d)).astype(dtype)
    xt = rng.standard_normal((m, d)).astype(dtype)
    for k in sorted({1, min(3, m), m}):
        dist, idx = knn.kneighbors(xq, xt, k, metric)
        bd, bi = brute_knn(xq, xt, k, metric)
        assert idx.dtype == np.int64 and dist.dtype == dtype and dist.shape == (nq, k)
        np.testing.assert_array_equal(idx, bi)
        assert_matches_reference(dist, bd, dtype, f"k={k}")


@pytest.mark.parametrize("metric", METRICS)
def test_kneighbors_ties_and_duplicates_by_smaller_index(rng, dtype, metric):
    xt = rng.integers(0, 3, (200, 6)).astype(dtype)  # many exact ties and duplicate rows
    xt[50] = xt[10]
    xq = np.concatenate([xt[:4], rng.integers(0, 3, (30, 6)).astype(dtype)])
    dist, idx = knn.kneighbors(xq, xt, 25, metric, working_memory=0.001)
    bd, bi = brute_knn(xq, xt, 25, metric)
    np.testing.assert_array_equal(idx, bi)
    np.testing.assert_array_equal(dist, bd.astype(dtype))
    assert idx[0, 0] == 0 and dist[0, 0] == 0


@pytest.mark.parametrize("metric", METRICS)
def test_kneighbors_float32_ranks_like_float64(rng, metric):
    # Near-duplicates on a large offset: the float32 Gram estimate cannot tell them apart,
    # the answer must still be float64's.
    base = 500 + rng.integers(0, 256, (1, 512)).astype(np.float64)
    xt = base + rng.integers(0, 3, (300, 512)) * (rng.random((300, 512)) < 0.01)
    xq = base + rng.integers(0, 3, (20, 512)) * (rng.random((20, 512)) < 0.01)
    dist, idx = knn.kneighbors(xq.astype(np.float32), xt.astype(np.float32), 10, metric)
    bd, bi = brute_knn(xq, xt, 10, metric)
    np.testing.assert_array_equal(idx, bi)
    assert_matches_reference(dist, bd, np.float32)


def test_kneighbors_fallback_gives_exact_answer(rng):
    # Norms so large that the rigorous error bound cannot separate candidates: every query
    # takes the exact fallback, and the result is still the brute-force one.
    xt = 1e4 + rng.standard_normal((100, 64)).astype(np.float32) * 1e-2
    xq = 1e4 + rng.standard_normal((6, 64)).astype(np.float32) * 1e-2
    dist, idx = knn.kneighbors(xq, xt, 5)
    assert knn._stats["fallbacks"] == 6
    bd, bi = brute_knn(xq, xt, 5, "l2")
    np.testing.assert_array_equal(idx, bi)
    assert_matches_reference(dist, bd, np.float32)
    knn.kneighbors(rng.standard_normal((6, 64)), rng.standard_normal((100, 64)), 5)
    assert knn._stats["fallbacks"] == 0


@pytest.mark.parametrize("metric", METRICS)
def test_kneighbors_working_memory_and_threads_do_not_change_results(rng, dtype, metric):
    xq = rng.standard_normal((37, 40)).astype(dtype)
    xt = rng.standard_normal((3000, 40)).astype(dtype)
    ref = knn.kneighbors(xq, xt, 7, metric)
    for wm, nt in [(0.001, 1), (0.05, 2), (None, 3), (1000, 2)]:
        got = knn.kneighbors(xq, xt, 7, metric, working_memory=wm, n_threads=nt)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


@pytest.mark.parametrize("metric", METRICS)
def test_pairwise_threads_l1_bitwise_equal(rng, dtype, metric):
    xq = rng.standard_normal((45, 77)).astype(dtype)
    xt = rng.standard_normal((300, 77)).astype(dtype)
    one = knn.pairwise_distances(xq, xt, metric, n_threads=1)
    for nt in (2, 3):
        got = knn.pairwise_distances(xq, xt, metric, n_threads=nt)
        if metric == "l1":
            np.testing.assert_array_equal(got, one)
        else:  # the Gram matrix comes from BLAS, whose rounding may follow its thread count
            assert_matches_reference(got, one.astype(np.float64), dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("metric", METRICS)
def test_knn_layouts(rng, dtype, layout, metric):
    xq = rng.standard_normal((9, 20)).astype(dtype)
    xt = rng.standard_normal((50, 20)).astype(dtype)
    lq, lt = as_layout(xq, layout), as_layout(xt, layout)
    np.testing.assert_array_equal(knn.pairwise_distances(lq, lt, metric), knn.pairwise_distances(xq, xt, metric))
    for a, b in zip(knn.kneighbors(lq, lt, 4, metric), knn.kneighbors(xq, xt, 4, metric)):
        np.testing.assert_array_equal(a, b)


def test_knn_inputs_unchanged_and_dtype_policy(rng):
    xq = rng.standard_normal((5, 9)).astype(np.float32)
    xt = rng.standard_normal((20, 9)).astype(np.float32)
    cq, ct = xq.copy(), xt.copy()
    assert knn.pairwise_distances(xq, xt).dtype == np.float32
    assert knn.kneighbors(xq, xt, 3)[0].dtype == np.float32
    np.testing.assert_array_equal(xq, cq)
    np.testing.assert_array_equal(xt, ct)
    assert knn.pairwise_distances(xq, xt.astype(np.float64)).dtype == np.float64
    assert knn.kneighbors(xq.astype(np.int64), xt, 3, "l1")[0].dtype == np.float64
    assert knn.pairwise_distances(xq.astype(np.uint8), xt.astype(np.uint8)).dtype == np.float64


def test_kneighbors_extra_memory_bounded(rng):
    # tracemalloc sees numpy's allocations: the peak beyond the inputs is the distance block
    # (bounded by working_memory) plus O(queries * k) lists and O(train) norms.
    xt = rng.standard_normal((20000, 128)).astype(np.float32)
    xq = rng.standard_normal((300, 128)).astype(np.float32)
    for metric in METRICS:
        tracemalloc.start()
        knn.kneighbors(xq, xt, 10, metric, working_memory=1)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # 1 MiB block + norms (160 KB) + candidate lists (300 * 28 * 16 B x 2) + outputs.
        assert peak < 2.5 * 2**20, f"{metric}: peak {peak / 2**20:.2f} MiB"
    full = 300 * 20000 * 4
    assert full > 20 * 2**20  # the matrix the streaming version never holds


@pytest.mark.slow
def test_kneighbors_cifar_sized_extra_rss_under_128mb():
    """2,000 x 50,000 x 3,072 float32 (run with -m slow): extra peak RSS < 128 MiB."""
    import threading

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    rng = np.random.default_rng(0)
    xt = rng.integers(0, 256, (50000, 3072), dtype=np.uint8).astype(np.float32)
    xq = rng.integers(0, 256, (2000, 3072), dtype=np.uint8).astype(np.float32)
    base, peak, done = rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            done.wait(0.005)

    t = threading.Thread(target=sample)
    t.start()
    try:
        dist, idx = knn.kneighbors(xq, xt, 10)
    finally:
        done.set()
        t.join()
    assert idx.shape == (2000, 10)
    assert peak[0] - base < 128 * 2**20, f"extra RSS {(peak[0] - base) / 2**20:.1f} MiB"


BAD = [
    ("X 1-D", lambda q, t: (q[0], t), ValueError, "X_query must be a 2-D"),
    ("train 3-D", lambda q, t: (q, t[None]), ValueError, "X_train must be a 2-D"),
    ("features", lambda q, t: (q, t[:, :-1]), ValueError, "same number of features"),
    ("empty", lambda q, t: (q[:0], t), ValueError, "X_query must have no zero-size"),
    ("NaN query", lambda q, t: (np.where(q == q[1, 2], np.nan, q), t), ValueError, "X_query contains NaN or Inf"),
    ("Inf train", lambda q, t: (q, np.where(t == t[3, 1], np.inf, t)), ValueError, "X_train contains NaN or Inf"),
    ("complex", lambda q, t: (q.astype(complex), t), TypeError, "X_query must be a real numeric"),
    ("strings", lambda q, t: (q, t.astype(str)), TypeError, "X_train must be a real numeric"),
]


@pytest.mark.parametrize("case, make, exc, match", BAD, ids=[b[0] for b in BAD])
def test_kneighbors_bad_input(rng, case, make, exc, match):
    q, t = rng.standard_normal((4, 5)), rng.standard_normal((10, 5))
    with pytest.raises(exc, match=match):
        knn.kneighbors(*make(q, t), 3)
    with pytest.raises(exc, match=match.replace("X_query", "X").replace("X_train", "Y")):
        knn.pairwise_distances(*make(q, t))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(k=0), ValueError, "k must be an int >= 1"),
        (dict(k=11), ValueError, r"k must be <= the number of training rows \(10\)"),
        (dict(k=2.0), TypeError, "k must be an int"),
        (dict(k=2, metric="cosine"), ValueError, "metric must be one of"),
        (dict(k=2, working_memory=0), ValueError, "working_memory"),
        (dict(k=2, working_memory="1"), TypeError, "working_memory"),
        (dict(k=2, working_memory=float("inf")), ValueError, "working_memory"),
        (dict(k=2, n_threads=0), ValueError, "n_threads"),
    ],
)
def test_kneighbors_bad_parameters(rng, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        knn.kneighbors(rng.standard_normal((4, 5)), rng.standard_normal((10, 5)), **kwargs)


def test_knn_huge_values_overflowing_the_estimates():
    # A float32 Gram entry that overflows must not lose candidates or return index -1.
    x = np.array([[1e20]], np.float32)
    y = np.array([[-1e20], [1.0]], np.float32)
    dist, idx = knn.kneighbors(x, y, 2)
    np.testing.assert_array_equal(idx, [[1, 0]])
    np.testing.assert_allclose(dist, [[1e20, 2e20]], rtol=1e-6)
    np.testing.assert_allclose(knn.pairwise_distances(x, y), [[2e20, 1e20]], rtol=1e-6)
    # L1 beyond float32's range: the float32 result is inf, and the neighbour is still found.
    dist, idx = knn.kneighbors(np.array([[3e38]], np.float32), np.array([[-3e38], [0.0]], np.float32), 2, "l1")
    np.testing.assert_array_equal(idx, [[1, 0]])
    assert dist[0, 0] == np.float32(3e38) and np.isinf(dist[0, 1])
    # float64: the squared distance overflows to inf, the order is still right.
    dist, idx = knn.kneighbors(np.array([[1e154, 0.0]]), np.array([[-1e154, 0.0], [0.0, 1.0]]), 2)
    np.testing.assert_array_equal(idx, [[1, 0]])
    assert np.isinf(dist[0, 1])


def test_knn_values_too_large_named_honestly():
    with pytest.raises(ValueError, match="X_train has values too large"):
        knn.kneighbors(np.zeros((1, 2)), np.array([[1e200, 0.0], [0.0, 0.0]]), 1)
