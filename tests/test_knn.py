"""kNN kernels: pairwise L1/L2 distances and streaming top-k, against float64 brute force."""

import math
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
@pytest.mark.parametrize("nq, m", [(45, 300), (2100, 40), (30, 2600)], ids=["one-block", "row-blocks", "col-blocks"])
def test_pairwise_threads_bitwise_equal(rng, dtype, metric, nq, m):
    # L2 too: the Gram matrix is cut into blocks fixed by the shape (one per 512 rows of the
    # larger operand, up to 8), one single-threaded BLAS call each, so no bit may depend on
    # the thread count (the shapes give 1, 4 row blocks and 5 column blocks).
    xq = rng.standard_normal((nq, 77)).astype(dtype)
    xt = rng.standard_normal((m, 77)).astype(dtype)
    xq[:3] = xt[:3]  # self-distances: the exact recompute runs too
    one = knn.pairwise_distances(xq, xt, metric, n_threads=1)
    assert_matches_reference(one, brute(xq, xt, metric), dtype)
    for nt in (2, 3, 4):
        np.testing.assert_array_equal(knn.pairwise_distances(xq, xt, metric, n_threads=nt), one, err_msg=f"{nt} threads")


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
    # float64: the estimates overflow (|x|^2 + |y|^2 > DBL_MAX) but the answer's distances
    # do not; the exact recompute gets them right.
    x, y = np.array([[1e154, 0.0]]), np.array([[1.1e154, 0.0], [0.0, 1.0], [1e154, 1e150]])
    dist, idx = knn.kneighbors(x, y, 2)
    np.testing.assert_array_equal(idx, [[2, 0]])
    np.testing.assert_allclose(dist, [[1e150, 1e153]], rtol=1e-15)
    np.testing.assert_allclose(knn.pairwise_distances(x, y), [[1e153, 1e154, 1e150]], rtol=1e-15)


def test_knn_values_too_large_named_honestly():
    with pytest.raises(ValueError, match="X_train has values too large"):
        knn.kneighbors(np.zeros((1, 2)), np.array([[1e200, 0.0], [0.0, 0.0]]), 1)


# --- the edges of float64: squared distances that overflow, L1 on huge values --------------------


def test_knn_float64_squared_distance_overflow_raises():
    # No squared norm overflows (1.21e308 < DBL_MAX) but both squared distances do (4.41e308,
    # 4e308): ranking them as two infinities would return row 0; the nearest is row 1.
    x, y = np.array([[-1.0e154]]), np.array([[1.1e154], [1.0e154]])
    with pytest.raises(ValueError, match="too large for squared distances in float64"):
        knn.kneighbors(x, y, 1)
    with pytest.raises(ValueError, match="X_query row 0 and X_train row 0"):
        knn.kneighbors(x, y, 2)
    with pytest.raises(ValueError, match="too large for squared distances in float64.*X row 0 and Y row 0"):
        knn.pairwise_distances(x, y)
    # Only a k-th distance that overflows is ambiguous: k = 1 below is answered exactly.
    dist, idx = knn.kneighbors(np.array([[1e154, 0.0]]), np.array([[-1e154, 0.0], [0.0, 1.0]]), 1)
    np.testing.assert_array_equal(idx, [[1]])
    np.testing.assert_allclose(dist, [[1e154]], rtol=1e-15)
    with pytest.raises(ValueError, match="X_query row 0 and X_train row 0"):
        knn.kneighbors(np.array([[1e154, 0.0]]), np.array([[-1e154, 0.0], [0.0, 1.0]]), 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_knn_l1_accepts_values_too_large_for_squares(dtype):
    # L1 squares nothing: values whose squares overflow float64 (1e200) must be handled; in
    # float32 (3e38, squares fine in double) the same code paths run.
    big = 1e200 if dtype == np.float64 else 3e38
    x = np.array([[big / 2]], dtype)
    y = np.array([[2 * (big / 2)], [-(big / 2)], [big / 4]], dtype)
    ref = brute(x, y, "l1")
    np.testing.assert_array_equal(knn.pairwise_distances(x, y, "l1"), ref.astype(dtype))
    dist, idx = knn.kneighbors(x, y, 3, "l1")
    np.testing.assert_array_equal(idx, [[2, 0, 1]])
    np.testing.assert_array_equal(dist, np.sort(ref, axis=1).astype(dtype))
    # Many rows, several chunks and threads: still exact.
    rng = np.random.default_rng(5)
    xt = (rng.standard_normal((3000, 7)) * (big / 64)).astype(dtype)
    xq = (rng.standard_normal((9, 7)) * (big / 64)).astype(dtype)
    bd, bi = brute_knn(xq, xt, 4, "l1")
    for nt in (1, 2):
        dist, idx = knn.kneighbors(xq, xt, 4, "l1", n_threads=nt, working_memory=0.01)
        np.testing.assert_array_equal(idx, bi)
        assert_matches_reference(dist, bd, dtype)
    # NaN and Inf are still refused, by name.
    with pytest.raises(ValueError, match="X_train contains NaN or Inf"):
        knn.kneighbors(x, np.array([[big], [np.inf]], dtype), 1, "l1")
    with pytest.raises(ValueError, match="Y contains NaN or Inf"):
        knn.pairwise_distances(x, np.array([[big], [np.nan]], dtype), "l1")
    with pytest.raises(ValueError, match="X_query contains NaN or Inf"):
        knn.kneighbors(np.array([[np.nan]], dtype), y, 1, "l1")


# --- accuracy of pairwise L2 against its documented bound --------------------------------------


def exact_l2(x, y):
    """The L2 distance of each row pair to within 2 ulp of double: the difference and the
    square round once each (relative 2**-53), math.fsum adds exactly, sqrt rounds once."""
    diff = np.asarray(x, np.float64) - np.asarray(y, np.float64)
    return np.array([math.sqrt(math.fsum(t)) for t in diff * diff])


def _near_pairs(rng, d, dtype, ratios):
    """Rows x and y, one pair per target ``|x - y|^2 / (|x|^2 + |y|^2)`` in ``ratios``, twice:
    constant rows (whose products all round alike: the Gram product's worst case) and
    pixel-like rows (values k / 255)."""
    xs, ys = [], []
    for r in ratios:
        # Constant rows c and c +- t: |x - y|^2 = d t^2 and |x|^2 + |y|^2 = d (2 c^2 + t^2).
        c = 0.7
        xs.append(np.full(d, c))
        ys.append(c + rng.choice([-1.0, 1.0], d) * c * np.sqrt(2 * r / (1 - r)))
        x = rng.integers(0, 256, d) / 255
        xs.append(x)
        ys.append(x + rng.standard_normal(d) * np.sqrt(2 * r * np.dot(x, x) / d))
    x, y = np.array(xs, dtype), np.array(ys, dtype)
    ref = exact_l2(x, y)
    assert (ref > 0).all()
    return x, y, ref


@pytest.mark.parametrize("d", [37, 3072, 100_003])
def test_pairwise_l2_error_within_documented_bound(rng, dtype, d):
    # The module docstring guarantees every pairwise L2 distance to 1e-2 (float32) and 1e-10
    # (float64) relative: a kept Gram entry is bounded through the recompute threshold, a
    # recomputed one is a direct double sum. Pairs straddle every threshold in use (1e-4 ..
    # 0.4) and reach far below and above them.
    bound = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-10}[dtype]
    ratios = np.concatenate([np.geomspace(1e-6, 0.9, 21), [1.02e-4, 1.02e-3, 1.02e-2]])
    x, y, ref = _near_pairs(rng, d, dtype, ratios)
    if d < 10_000:
        got = np.diag(knn.pairwise_distances(x, y)).astype(np.float64)
    else:  # one pair per call: the full matrix would recompute most entries at this d
        got = np.array([knn.pairwise_distances(a[None], b[None])[0, 0] for a, b in zip(x, y)], np.float64)
    err = np.abs(got - ref) / ref
    assert err.max() <= bound, f"worst relative error {err.max():.3g} at ratio index {err.argmax()}"
    # The pairs are hard enough to exercise the bound: every distance from the Gram matrix
    # (no recompute) would miss it by far.
    g = np.einsum("ij,ij->i", x, y, dtype=np.float64) if dtype == np.float64 else np.einsum("ij,ij->i", x, y)
    sq = np.einsum("ij,ij->i", x.astype(np.float64), x) + np.einsum("ij,ij->i", y.astype(np.float64), y)
    raw = np.sqrt(np.maximum(sq - 2 * g.astype(np.float64), 0))
    assert (np.abs(raw - ref) / ref).max() > bound


def test_knn_blas_dimensions_checked_before_native_code(monkeypatch):
    # With SciPy's BLAS the GEMM dimensions are C ints; the limit is lowered here so that the
    # checks can be seen at small sizes (the real one, 2**31 - 1, needs > 8 GiB inputs).
    monkeypatch.setattr(knn, "_INT_MAX", 40)
    rng = np.random.default_rng(0)
    small, wide = rng.standard_normal((3, 5)), rng.standard_normal((3, 41))
    many = rng.standard_normal((41, 5))
    with pytest.raises(ValueError, match=r"pairwise_distances has a matrix dimension \(41\) beyond the 2\*\*31 - 1"):
        knn.pairwise_distances(wide, wide)  # d
    with pytest.raises(ValueError, match=r"pairwise_distances has a matrix dimension \(41\)"):
        knn.pairwise_distances(small, many)  # Y's rows: the output's leading dimension
    with pytest.raises(ValueError, match=r"pairwise_distances has a matrix dimension \(41\)"):
        knn.pairwise_distances(many, small)  # X's rows, one block
    with pytest.raises(ValueError, match=r"kneighbors has a matrix dimension \(41\)"):
        knn.kneighbors(wide, wide, 1)
    with pytest.raises(ValueError, match=r"kneighbors has a matrix dimension \(41\)"):
        knn.kneighbors(many, small, 1, working_memory=1)  # a block of 41 query rows
    # L1 calls no BLAS, and kneighbors streams the train rows in chunks: no limit there.
    assert_matches_reference(knn.pairwise_distances(wide, wide, "l1"), brute(wide, wide, "l1"), np.float64)
    np.testing.assert_array_equal(knn.kneighbors(small, many, 2, working_memory=20 * 8 / 2**20)[1],
                                  brute_knn(small, many, 2, "l2")[1])
