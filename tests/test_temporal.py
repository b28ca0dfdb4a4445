"""ops.temporal (word embedding, temporal affine, temporal softmax loss) against reference.rnn.

The reference runs in float64 on the float64 cast of the same inputs; results must agree within
tests.helpers.RTOL for the dtype. Both implementations share their validation, and the bad-input
cases check that they raise the same errors.
"""

import math

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference

from cs231n_fast import reference
from cs231n_fast._cache import EmbeddingCache, TemporalAffineCache
from cs231n_fast.ops import temporal

IMPLS = [pytest.param(temporal, id="ops"), pytest.param(reference, id="reference")]

# (N, T, D, V): a typical minibatch, one sample of one step, a vocabulary larger than N * T
# (most words unused) and one smaller (every word repeated).
SHAPES = [(3, 5, 4, 11), (1, 1, 3, 2), (2, 3, 4, 50), (4, 6, 3, 3)]
SHAPE_IDS = ["3x5", "1x1", "big-V", "small-V"]


def f64(a):
    return np.asarray(a, dtype=np.float64)


def assert_loss_matches(actual, expected, dtype):
    assert isinstance(actual, float)
    rtol = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-9}[np.dtype(dtype)]
    assert actual == pytest.approx(expected, rel=rtol, abs=rtol)


# --- against the reference -----------------------------------------------------------------------


@pytest.mark.parametrize("n, t, d, v", SHAPES, ids=SHAPE_IDS)
def test_word_embedding_matches_reference(rng, dtype, n, t, d, v):
    ids = rng.integers(0, v, size=(n, t))
    W = rng.standard_normal((v, d)).astype(dtype)
    out, cache = temporal.word_embedding_forward(ids, W)
    ref_out, ref_cache = reference.word_embedding_forward(ids, f64(W))
    assert_matches_reference(out, ref_out, dtype, "out")
    assert isinstance(cache, EmbeddingCache) and cache.W_shape == (v, d) and cache.dtype == dtype
    dout = rng.standard_normal(out.shape).astype(dtype)
    dW = temporal.word_embedding_backward(dout, cache)
    assert_matches_reference(dW, reference.word_embedding_backward(f64(dout), ref_cache), dtype, "dW")


def test_word_embedding_backward_repeated_ids(rng, dtype):
    v, d = 9, 4
    ids = np.array([[3, 3, 3, 1], [3, 0, 1, 3]])  # word 3 five times, 2 and 4..8 never
    dout = rng.standard_normal((2, 4, d)).astype(dtype)
    _, cache = temporal.word_embedding_forward(ids, np.zeros((v, d), dtype))
    dW = temporal.word_embedding_backward(dout, cache)
    expected = np.zeros((v, d))
    for n in range(2):
        for t in range(4):
            expected[ids[n, t]] += f64(dout[n, t])
    assert_matches_reference(dW, expected, dtype, "dW")
    assert not dW[[2, 4, 5, 6, 7, 8]].any()
    # Every position the same word: one row holds the sum of everything.
    _, cache = temporal.word_embedding_forward(np.full((2, 4), 7), np.zeros((v, d), dtype))
    dW = temporal.word_embedding_backward(dout, cache)
    assert_matches_reference(dW[7], f64(dout).sum(axis=(0, 1)), dtype, "dW[7]")
    assert not np.delete(dW, 7, axis=0).any()


@pytest.mark.parametrize("n, t, d, v", SHAPES, ids=SHAPE_IDS)
def test_temporal_affine_matches_reference(rng, dtype, n, t, d, v):
    m = v
    x = rng.standard_normal((n, t, d)).astype(dtype)
    w = rng.standard_normal((d, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    out, cache = temporal.temporal_affine_forward(x, w, b)
    ref_out, ref_cache = reference.temporal_affine_forward(f64(x), f64(w), f64(b))
    assert_matches_reference(out, ref_out, dtype, "out")
    assert isinstance(cache, TemporalAffineCache) and cache.out_shape == (n, t, m)
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = temporal.temporal_affine_backward(dout, cache)
    ref_grads = reference.temporal_affine_backward(f64(dout), ref_cache)
    for name, g, r in zip(("dx", "dw", "db"), grads, ref_grads):
        assert_matches_reference(g, r, dtype, name)


@pytest.mark.parametrize("n, t, d, v", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("mask_kind", ["all", "some", "none"])
def test_temporal_softmax_loss_matches_reference(rng, dtype, n, t, d, v, mask_kind):
    x = (rng.standard_normal((n, t, v)) * 3).astype(dtype)
    y = rng.integers(0, v, size=(n, t))
    mask = {
        "all": np.ones((n, t), bool),
        "some": rng.random((n, t)) < 0.6,
        "none": np.zeros((n, t), bool),
    }[mask_kind]
    loss, dx = temporal.temporal_softmax_loss(x, y, mask)
    ref_loss, ref_dx = reference.temporal_softmax_loss(f64(x), y, mask)
    assert_loss_matches(loss, ref_loss, dtype)
    assert_matches_reference(dx, ref_dx, dtype, "dx")
    assert not dx[~mask].any()


def test_temporal_softmax_loss_uniform_scores(dtype):
    n, t, v = 4, 3, 10
    y = np.arange(n * t).reshape(n, t) % v
    loss, dx = temporal.temporal_softmax_loss(np.zeros((n, t, v), dtype), y, np.ones((n, t), bool))
    assert_loss_matches(loss, t * math.log(v), dtype)
    assert_matches_reference(dx, (1 / v - np.eye(v)[y]) / n, dtype, "dx")


@pytest.mark.parametrize("impl", IMPLS)
def test_temporal_softmax_loss_confident_predictions_keep_precision(rng, dtype, impl):
    # The correct word's score leads by 10-14: p_y is within 1e-4..1e-6 of 1, and p_y - 1
    # computed from p_y would keep only a few digits in float32.
    n, t, v = 2, 3, 5
    x = rng.standard_normal((n, t, v))
    y = rng.integers(0, v, size=(n, t))
    x[np.arange(n)[:, None], np.arange(t), y] += rng.uniform(10, 14, size=(n, t))
    mask = np.ones((n, t), bool)
    loss, dx = impl.temporal_softmax_loss(x.astype(dtype), y, mask)
    # Exact formulas: 1 - p_y = r / (1 + r) with r = sum over the others of exp(x_k - x_y).
    shifted = x - np.take_along_axis(x, y[..., None], axis=-1)
    r = np.where(np.arange(v) == y[..., None], 0, np.exp(shifted)).sum(axis=-1)
    is_y = np.arange(v) == y[..., None]
    want_dx = np.where(is_y, -(r / (1 + r))[..., None], np.exp(shifted) / (1 + r)[..., None]) / n
    want_loss = np.log1p(r).sum() / n
    rtol = 1e-12 if dtype == np.float64 else 2e-4
    assert loss == pytest.approx(want_loss, rel=rtol)
    # Elementwise relative precision, even though every |dx| is tiny.
    np.testing.assert_allclose(dx, want_dx, rtol=rtol)


def test_temporal_softmax_loss_ignores_garbage_at_masked_positions(rng, dtype):
    n, t, v = 3, 4, 6
    x = rng.standard_normal((n, t, v)).astype(dtype)
    y = rng.integers(0, v, size=(n, t))
    mask = np.ones((n, t), bool)
    mask[0, 1] = mask[2, 2] = mask[1, 0] = False
    loss, dx = temporal.temporal_softmax_loss(x, y, mask)
    bad = x.copy()
    bad[0, 1] = np.nan
    bad[2, 2] = np.inf
    bad[1, 0] = -np.inf
    with np.errstate(all="raise"):  # masked rows are never computed: no warning at all
        loss_bad, dx_bad = temporal.temporal_softmax_loss(bad, y, mask)
        # Huge spreads underflow exp to exactly zero, silently.
        huge = np.where(np.arange(v) == 0, 1e4, -1e4).astype(dtype) * np.ones((n, t, 1), dtype)
        loss_huge, dx_huge = temporal.temporal_softmax_loss(huge, np.zeros((n, t), int), mask)
    assert loss_bad == loss
    np.testing.assert_array_equal(dx_bad, dx)
    assert loss_huge == 0.0 and not dx_huge.any()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("n, t, d, m", [(0, 3, 4, 5), (2, 0, 4, 5), (2, 3, 0, 5), (2, 3, 4, 0)])
def test_temporal_affine_empty_dimensions(impl, n, t, d, m):
    # The course's x.reshape(N * T, D).dot(w) + b computes zero-size problems: empty outputs,
    # the bias where D = 0, zero gradients.
    x, w, b = np.ones((n, t, d)), np.ones((d, m)), np.arange(float(m))
    out, cache = impl.temporal_affine_forward(x, w, b)
    np.testing.assert_array_equal(out, np.broadcast_to(d + b, (n, t, m)))
    dout = np.ones((n, t, m))
    dx, dw, db = impl.temporal_affine_backward(dout, cache)
    np.testing.assert_array_equal(dx, np.full((n, t, d), float(m)))
    np.testing.assert_array_equal(dw, np.full((d, m), float(n * t)))
    np.testing.assert_array_equal(db, np.full(m, float(n * t)))


@pytest.mark.parametrize("impl", IMPLS)
def test_temporal_softmax_loss_no_time_steps(impl):
    # T = 0: the course's loss is -sum([]) / N = 0 and dx is empty.
    loss, dx = impl.temporal_softmax_loss(np.zeros((2, 0, 5)), np.zeros((2, 0), int), np.zeros((2, 0), bool))
    assert loss == 0.0 and dx.shape == (2, 0, 5)


def test_caches_are_interchangeable(rng):
    ids = rng.integers(0, 6, size=(2, 3))
    W = rng.standard_normal((6, 4))
    dout = rng.standard_normal((2, 3, 4))
    _, c_ops = temporal.word_embedding_forward(ids, W)
    _, c_ref = reference.word_embedding_forward(ids, W)
    np.testing.assert_allclose(
        temporal.word_embedding_backward(dout, c_ref),
        reference.word_embedding_backward(dout, c_ops),
        rtol=1e-15,
    )
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    _, a_ops = temporal.temporal_affine_forward(x, w, b)
    _, a_ref = reference.temporal_affine_forward(x, w, b)
    dout = rng.standard_normal((2, 3, 5))
    ops_grads = temporal.temporal_affine_backward(dout, a_ref)
    for g, r in zip(ops_grads, reference.temporal_affine_backward(dout, a_ops)):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)


# --- layouts, dtypes, inputs unchanged ----------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(rng, dtype, layout):
    n, t, d, v = 3, 4, 5, 7
    ids = rng.integers(0, v, size=(n, t))
    W = rng.standard_normal((v, d)).astype(dtype)
    x = rng.standard_normal((n, t, d)).astype(dtype)
    w = rng.standard_normal((d, v)).astype(dtype)
    b = rng.standard_normal(v).astype(dtype)
    dout_e = rng.standard_normal((n, t, d)).astype(dtype)
    dout_a = rng.standard_normal((n, t, v)).astype(dtype)
    mask = rng.random((n, t)) < 0.7
    L = lambda a: as_layout(a, layout)  # noqa: E731

    out, cache = temporal.word_embedding_forward(L(ids), L(W))
    ref, ref_cache = reference.word_embedding_forward(ids, f64(W))
    assert_matches_reference(out, ref, dtype, "embed out")
    dW = temporal.word_embedding_backward(L(dout_e), cache)
    assert_matches_reference(dW, reference.word_embedding_backward(f64(dout_e), ref_cache), dtype, "dW")

    out, cache = temporal.temporal_affine_forward(L(x), L(w), L(b))
    ref, ref_cache = reference.temporal_affine_forward(f64(x), f64(w), f64(b))
    assert_matches_reference(out, ref, dtype, "affine out")
    grads = temporal.temporal_affine_backward(L(dout_a), cache)
    ref_grads = reference.temporal_affine_backward(f64(dout_a), ref_cache)
    for name, g, r in zip(("dx", "dw", "db"), grads, ref_grads):
        assert_matches_reference(g, r, dtype, name)

    loss, dx = temporal.temporal_softmax_loss(L(dout_a), L(ids), L(mask))
    ref_loss, ref_dx = reference.temporal_softmax_loss(f64(dout_a), ids, mask)
    assert_loss_matches(loss, ref_loss, dtype)
    assert_matches_reference(dx, ref_dx, dtype, "loss dx")


@pytest.mark.parametrize("impl", IMPLS)
def test_dtype_policy(rng, impl):
    f32, f64_ = np.float32, np.float64
    ids = rng.integers(0, 5, size=(2, 3))
    W32 = rng.standard_normal((5, 4)).astype(f32)
    out, cache = impl.word_embedding_forward(ids, W32)
    assert out.dtype == f32 and cache.dtype == f32
    assert impl.word_embedding_backward(np.ones((2, 3, 4), f32), cache).dtype == f32
    assert impl.word_embedding_backward(np.ones((2, 3, 4), f64_), cache).dtype == f64_
    out, cache = impl.word_embedding_forward(ids, np.arange(20).reshape(5, 4))  # integer table
    assert out.dtype == f64_ and cache.dtype == f64_
    np.testing.assert_array_equal(out, np.arange(20).reshape(5, 4)[ids])
    out, cache = impl.word_embedding_forward(ids, W32.astype(np.float16))
    assert out.dtype == f64_

    x = rng.standard_normal((2, 3, 4)).astype(f32)
    w, b = rng.standard_normal((4, 5)).astype(f32), np.zeros(5, f32)
    out, cache = impl.temporal_affine_forward(x, w, b)
    assert out.dtype == f32 and cache.x.dtype == f32
    assert all(g.dtype == f32 for g in impl.temporal_affine_backward(np.ones((2, 3, 5), f32), cache))
    assert all(g.dtype == f64_ for g in impl.temporal_affine_backward(np.ones((2, 3, 5), f64_), cache))
    out, _ = impl.temporal_affine_forward(x, w, b.astype(f64_))  # one float64 input
    assert out.dtype == f64_

    loss, dx = impl.temporal_softmax_loss(x, np.zeros((2, 3), np.int32), np.ones((2, 3), np.uint8))
    assert dx.dtype == f32 and isinstance(loss, float)
    int_scores = np.zeros((2, 3, 4), np.int64)
    loss, dx = impl.temporal_softmax_loss(int_scores, np.zeros((2, 3), int), np.ones((2, 3), bool))
    assert dx.dtype == f64_ and loss == pytest.approx(3 * math.log(4))


@pytest.mark.parametrize("impl", IMPLS)
def test_inputs_not_modified(rng, impl):
    ids = rng.integers(0, 6, size=(3, 4))
    W = rng.standard_normal((6, 5))
    x = rng.standard_normal((3, 4, 5))
    w, b = rng.standard_normal((5, 6)), rng.standard_normal(6)
    dout_a = rng.standard_normal((3, 4, 6))
    mask = np.ones((3, 4), bool)
    mask[0, 0] = False
    arrays = [ids, W, x, w, b, dout_a, mask]
    copies = [a.copy() for a in arrays]
    emb, cache = impl.word_embedding_forward(ids, W)
    impl.word_embedding_backward(x, cache)
    out, cache = impl.temporal_affine_forward(x, w, b)
    impl.temporal_affine_backward(dout_a, cache)
    impl.temporal_softmax_loss(dout_a, ids, mask)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)
    emb[:] = 0  # the output is a fresh array, not a view of W
    np.testing.assert_array_equal(W, copies[1])


# --- bad input: both implementations, same errors ------------------------------------------------


def _bad_cases():
    rng = np.random.default_rng(1)
    n, t, d, v = 2, 3, 4, 5
    ids = rng.integers(0, v, (n, t))
    W = rng.standard_normal((v, d))
    x = rng.standard_normal((n, t, d))
    s = rng.standard_normal((n, t, v))
    mask = np.ones((n, t), bool)
    return [
        (
            "embed-id-V",
            lambda m: m.word_embedding_forward(np.full((n, t), v), W),
            ValueError,
            r"x holds word id 5, outside the vocabulary \[0, 5\)",
        ),
        (
            "embed-id-negative",
            lambda m: m.word_embedding_forward(-np.ones((n, t), int), W),
            ValueError,
            r"x holds word id -1, outside the vocabulary",
        ),
        (
            "embed-float-ids",
            lambda m: m.word_embedding_forward(ids.astype(np.float32), W),
            TypeError,
            "x must be an integer array of word ids",
        ),
        (
            "embed-ids-3d",
            lambda m: m.word_embedding_forward(ids[None], W),
            ValueError,
            r"x must be a 2-D array of shape \(N, T\)",
        ),
        (
            "embed-ids-empty",
            lambda m: m.word_embedding_forward(ids[:, :0], W),
            ValueError,
            "x must have no zero-size dimension",
        ),
        (
            "embed-W-3d",
            lambda m: m.word_embedding_forward(ids, W[None]),
            ValueError,
            r"W must be a 2-D array of shape \(V, D\)",
        ),
        (
            "embed-W-complex",
            lambda m: m.word_embedding_forward(ids, W + 0j),
            TypeError,
            "W must be a real numeric array",
        ),
        (
            "embed-dout-shape",
            lambda m: m.word_embedding_backward(np.zeros((n, t + 1, d)), m.word_embedding_forward(ids, W)[1]),
            ValueError,
            r"dout must have shape \(2, 3, 4\)",
        ),
        (
            "embed-cache-tuple",
            lambda m: m.word_embedding_backward(x, (ids, W)),
            TypeError,
            "cache must be the EmbeddingCache returned by word_embedding_forward; got tuple",
        ),
        (
            "affine-w-D",
            lambda m: m.temporal_affine_forward(x, W, np.zeros(d)),
            ValueError,
            r"w must have shape \(D, M\) with D = 4 as in x \(2, 3, 4\); got w of shape \(5, 4\)",
        ),
        (
            "affine-b-M",
            lambda m: m.temporal_affine_forward(x, W.T, np.zeros(d)),
            ValueError,
            r"b must have shape \(M,\) = \(5,\)",
        ),
        (
            "affine-w-1d",
            lambda m: m.temporal_affine_forward(x, W[0], np.zeros(d)),
            ValueError,
            r"w must be a 2-D array of shape \(D, M\)",
        ),
        (
            "affine-x-4d",
            lambda m: m.temporal_affine_forward(x[None], W.T, np.zeros(v)),
            ValueError,
            r"x must be a 3-D array of shape \(N, T, D\)",
        ),
        (
            "affine-dout-shape",
            lambda m: m.temporal_affine_backward(x, m.temporal_affine_forward(x, W.T, np.zeros(v))[1]),
            ValueError,
            r"dout must have shape \(2, 3, 5\)",
        ),
        (
            "affine-cache-emb",
            lambda m: m.temporal_affine_backward(s, m.word_embedding_forward(ids, W)[1]),
            TypeError,
            "cache must be the TemporalAffineCache",
        ),
        (
            "loss-mask-shape",
            lambda m: m.temporal_softmax_loss(s, ids, mask.T),
            ValueError,
            r"mask must have shape \(2, 3\)",
        ),
        (
            "loss-mask-float-weights",
            lambda m: m.temporal_softmax_loss(s, ids, mask * 0.5),
            ValueError,
            "mask must hold only booleans or the numbers 0 and 1",
        ),
        (
            "loss-mask-string",
            lambda m: m.temporal_softmax_loss(s, ids, mask.astype(str)),
            TypeError,
            "mask must be a boolean array",
        ),
        (
            "loss-mask-negative",
            lambda m: m.temporal_softmax_loss(s, ids, -mask.astype(int)),
            ValueError,
            r"mask must hold only booleans or the numbers 0 and 1 \(a weighted loss is not supported\); got -1",
        ),
        (
            "loss-y-shape",
            lambda m: m.temporal_softmax_loss(s, ids.T, mask),
            ValueError,
            r"y must have shape \(2, 3\)",
        ),
        (
            "loss-y-range",
            lambda m: m.temporal_softmax_loss(s, ids * 0 + v, mask),
            ValueError,
            r"y holds word id 5, outside the vocabulary \[0, 5\)",
        ),
        (
            "loss-y-negative",
            lambda m: m.temporal_softmax_loss(s, ids * 0 - 2, mask),
            ValueError,
            r"y holds word id -2",
        ),
        (
            "loss-y-float",
            lambda m: m.temporal_softmax_loss(s, ids.astype(float), mask),
            TypeError,
            "y must be an integer array",
        ),
        (
            "loss-x-bool",
            lambda m: m.temporal_softmax_loss(s > 0, ids, mask),
            TypeError,
            "x must be a real numeric array",
        ),
        (
            "loss-x-no-words",
            lambda m: m.temporal_softmax_loss(s[:, :, :0], ids, mask),
            ValueError,
            r"x must have N >= 1 sequences .* and V >= 1 words",
        ),
        (
            "loss-x-no-sequences",
            lambda m: m.temporal_softmax_loss(s[:0], ids[:0], mask[:0]),
            ValueError,
            r"x must have N >= 1 sequences",
        ),
    ]


BAD = _bad_cases()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input(impl, call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call(impl)
    other = reference if impl is temporal else temporal
    with pytest.raises(exc) as other_info:
        call(other)
    assert str(info.value) == str(other_info.value)
