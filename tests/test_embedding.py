"""Word embedding kernels (csrc/embedding.pyx): ops.temporal.word_embedding_forward/backward
against the twin (reference.rnn), the numerical gradient, PyTorch (float64), thread counts
(bitwise, for both partitions of the scatter-add), bad input and input immutability."""

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference, numerical_grad, rel_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast import reference, rnn_layers
from cs231n_fast._cache import EmbeddingCache
from cs231n_fast.ops import temporal


def fuzz(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def f64(a):
    return np.asarray(a, dtype=np.float64)


def skewed_ids(rng, n, t, v):
    """Ids with one very frequent word (as <NULL> in padded captions) and many unused ones."""
    ids = rng.integers(0, v, (n, t))
    ids[rng.random((n, t)) < 0.4] = min(2, v - 1)
    return ids


@fuzz(60)
@given(
    n=st.integers(1, 8),
    t=st.integers(1, 8),
    v=st.integers(1, 60),
    d=st.integers(1, 140),
    dtype=st.sampled_from([np.float32, np.float64]),
    layouts=st.tuples(*[st.sampled_from(LAYOUTS)] * 3),
    seed=st.integers(0, 2**32 - 1),
    n_threads=st.sampled_from([None, 1, 2, 3]),
)
def test_word_embedding_matches_reference(n, t, v, d, dtype, layouts, seed, n_threads):
    rng = np.random.default_rng(seed)
    ids = skewed_ids(rng, n, t, v)
    W = rng.standard_normal((v, d)).astype(dtype)
    dout = rng.standard_normal((n, t, d)).astype(dtype)
    lid, lw, ld = layouts
    out, cache = temporal.word_embedding_forward(as_layout(ids, lid), as_layout(W, lw), n_threads=n_threads)
    ref, ref_cache = reference.word_embedding_forward(ids, W)
    np.testing.assert_array_equal(out, ref)  # a gather: exact
    assert out.dtype == dtype and out.flags.c_contiguous and not np.shares_memory(out, W)
    dW = temporal.word_embedding_backward(as_layout(dout, ld), cache, n_threads=n_threads)
    assert_matches_reference(dW, reference.word_embedding_backward(f64(dout), ref_cache), dtype, "dW")


def test_word_embedding_backward_sums_in_order_of_occurrence(rng, dtype):
    # Every element of dW is dout[r0] + dout[r1] + ... over the word's positions in order, left
    # to right: the same bits as that loop.
    v, d = 7, 67
    ids = skewed_ids(rng, 9, 13, v)
    dout = rng.standard_normal((9, 13, d)).astype(dtype)
    _, cache = temporal.word_embedding_forward(ids, np.zeros((v, d), dtype))
    dW = temporal.word_embedding_backward(dout, cache)
    want = np.zeros((v, d), dtype)
    seen = np.zeros(v, bool)
    for r, word in enumerate(ids.reshape(-1)):
        row = dout.reshape(-1, d)[r]
        want[word] = want[word] + row if seen[word] else row
        seen[word] = True
    np.testing.assert_array_equal(dW, want)


def test_word_embedding_gradcheck(rng):
    n, t, v, d = 3, 4, 5, 6
    ids = rng.integers(0, v, (n, t))
    ids[0, :] = 1  # repeated word
    W = rng.standard_normal((v, d))
    dout = rng.standard_normal((n, t, d))
    _, cache = temporal.word_embedding_forward(ids, W)
    dW = temporal.word_embedding_backward(dout, cache)
    # Linear in W: exact for any step but for rounding, which h = 1e-3 keeps far below the
    # bound (rows of words that do not occur have a gradient of exactly 0).
    num = numerical_grad(lambda w: temporal.word_embedding_forward(ids, w)[0], W, dout, h=1e-3)
    assert rel_error(dW, num) < 1e-7


@pytest.mark.parametrize("v, d", [(1004, 256), (50, 300), (300, 20), (3, 1), (1, 64)])
def test_embedding_backward_kernel_bitwise_across_threads(rng, dtype, v, d):
    # The op runs the scatter-add on one thread below about a million element visits, so the
    # kernel's partitions (column blocks, vocabulary ranges) are driven directly here.
    from cs231n_fast._ext import embedding as kernel

    ids = skewed_ids(rng, 50, 16, v).reshape(-1).astype(np.intp)
    dout = rng.standard_normal((ids.size, d)).astype(dtype)
    want = reference.word_embedding_backward(dout.reshape(50, 16, d).astype(np.float64),
                                             reference.word_embedding_forward(ids.reshape(50, 16), np.zeros((v, d)))[1])
    results = []
    for k in (1, 2, 3, 4):
        dW = np.full((v, d), np.nan, dtype)
        kernel.embedding_backward(dout, ids, dW, np.empty(v, np.intp), np.empty(ids.size, np.intp), k)
        results.append(dW)
    assert_matches_reference(results[0], want, dtype, "dW")
    for dW in results[1:]:
        np.testing.assert_array_equal(dW, results[0])


@pytest.mark.parametrize("v, d", [(1004, 256), (50, 300), (300, 20), (3, 1), (1, 64)])
def test_word_embedding_bitwise_across_threads(rng, dtype, v, d):
    # d >= 64 per thread: column blocks; smaller d: vocabulary ranges. Either way every element
    # is summed in the same order.
    ids = skewed_ids(rng, 50, 16, v)
    W = rng.standard_normal((v, d)).astype(dtype)
    dout = rng.standard_normal((50, 16, d)).astype(dtype)
    results = []
    for k in (1, 2, 3, 4):
        out, cache = temporal.word_embedding_forward(ids, W, n_threads=k)
        results.append((out, temporal.word_embedding_backward(dout, cache, n_threads=k)))
    for out, dW in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_array_equal(dW, results[0][1])


@pytest.mark.parametrize("n, t, v, d", [(2, 3, 5, 4), (50, 16, 1004, 256)])
def test_word_embedding_matches_torch(rng, n, t, v, d):
    torch = pytest.importorskip("torch")
    ids = skewed_ids(rng, n, t, v)
    W = rng.standard_normal((v, d))
    dout = rng.standard_normal((n, t, d))
    tW = torch.tensor(W, requires_grad=True)
    tout = torch.nn.functional.embedding(torch.tensor(ids), tW)
    tout.backward(torch.tensor(dout))
    out, cache = temporal.word_embedding_forward(ids, W)
    dW = temporal.word_embedding_backward(dout, cache)
    np.testing.assert_array_equal(out, tout.detach().numpy())
    np.testing.assert_allclose(dW, tW.grad.numpy(), rtol=1e-9, atol=1e-9 * np.abs(dout).max())


def test_word_embedding_course_functions_are_the_ops(rng):
    ids = rng.integers(0, 9, (4, 5))
    W = rng.standard_normal((9, 3)).astype(np.float32)
    out, cache = rnn_layers.word_embedding_forward(ids, W)
    np.testing.assert_array_equal(out, temporal.word_embedding_forward(ids, W)[0])
    dout = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_array_equal(rnn_layers.word_embedding_backward(dout, cache), temporal.word_embedding_backward(dout, cache))


def test_word_embedding_dtypes(rng):
    ids = rng.integers(0, 6, (3, 4))
    W = rng.standard_normal((6, 5))
    for idt in (np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64, ">i4"):
        out, cache = temporal.word_embedding_forward(ids.astype(idt), W)
        np.testing.assert_array_equal(out, W[ids])
        assert cache.x.dtype == np.intp
    out, _ = temporal.word_embedding_forward(ids, np.arange(30).reshape(6, 5))  # integer table
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.arange(30).reshape(6, 5)[ids])
    out, cache = temporal.word_embedding_forward(ids, W.astype(np.float32))
    assert out.dtype == np.float32
    assert temporal.word_embedding_backward(np.ones((3, 4, 5), np.float32), cache).dtype == np.float32
    assert temporal.word_embedding_backward(np.ones((3, 4, 5), np.float64), cache).dtype == np.float64
    assert temporal.word_embedding_backward(np.ones((3, 4, 5), np.int32), cache).dtype == np.float64
    out, _ = temporal.word_embedding_forward(ids.tolist(), W.tolist())
    np.testing.assert_array_equal(out, W[ids])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_word_embedding_layouts_bitwise(rng, dtype, layout):
    ids = skewed_ids(rng, 4, 7, 11)
    W = rng.standard_normal((11, 70)).astype(dtype)
    dout = rng.standard_normal((4, 7, 70)).astype(dtype)
    out, cache = temporal.word_embedding_forward(ids, W)
    dW = temporal.word_embedding_backward(dout, cache)
    out2, cache2 = temporal.word_embedding_forward(as_layout(ids, layout), as_layout(W, layout))
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(temporal.word_embedding_backward(as_layout(dout, layout), cache2), dW)


def test_word_embedding_inputs_unchanged(rng):
    ids = rng.integers(0, 6, (3, 4)).astype(np.int32)
    W = rng.standard_normal((6, 65)).astype(np.float32)
    dout = rng.standard_normal((3, 4, 65)).astype(np.float32)
    before = [a.copy() for a in (ids, W, dout)]
    out, cache = temporal.word_embedding_forward(ids, W)
    dW = temporal.word_embedding_backward(dout, cache)
    for a, b in zip((ids, W, dout), before):
        np.testing.assert_array_equal(a, b)
    assert not np.shares_memory(out, W) and not np.shares_memory(dW, dout)
    out[:] = 0
    np.testing.assert_array_equal(W, before[1])


def test_word_embedding_accepts_reference_cache(rng):
    ids = rng.integers(0, 6, (2, 3))
    W = rng.standard_normal((6, 4))
    dout = rng.standard_normal((2, 3, 4))
    _, ref_cache = reference.word_embedding_forward(ids, W)
    _, ops_cache = temporal.word_embedding_forward(ids, W)
    np.testing.assert_array_equal(temporal.word_embedding_backward(dout, ref_cache),
                                  reference.word_embedding_backward(dout, ops_cache))


# --- bad input ------------------------------------------------------------------------------------

_IDS = np.array([[0, 1, 4], [2, 3, 0]])
_W = np.zeros((5, 4))


def _cache():
    return temporal.word_embedding_forward(_IDS, _W)[1]


BAD = [
    ("id-V", lambda m: m.word_embedding_forward(_IDS + 1, _W), ValueError, r"^x holds word id 5, outside the vocabulary \[0, 5\)"),
    ("id-negative", lambda m: m.word_embedding_forward(_IDS - 1, _W), ValueError, r"^x holds word id -1, outside the vocabulary"),
    ("id-huge-uint", lambda m: m.word_embedding_forward(_IDS.astype(np.uint64) + 2**63, _W), ValueError, r"^x holds word id 9223372036854775812, outside"),
    ("ids-float", lambda m: m.word_embedding_forward(_IDS * 1.0, _W), TypeError, r"^x must be an integer array of word ids"),
    ("ids-bool", lambda m: m.word_embedding_forward(_IDS > 0, _W), TypeError, r"^x must be an integer array of word ids"),
    ("ids-1d", lambda m: m.word_embedding_forward(_IDS[0], _W), ValueError, r"^x must be a 2-D array of shape \(N, T\)"),
    ("ids-3d", lambda m: m.word_embedding_forward(_IDS[None], _W), ValueError, r"^x must be a 2-D array of shape \(N, T\)"),
    ("ids-empty", lambda m: m.word_embedding_forward(_IDS[:, :0], _W), ValueError, r"^x must have no zero-size dimension"),
    ("W-1d", lambda m: m.word_embedding_forward(_IDS, _W[0]), ValueError, r"^W must be a 2-D array of shape \(V, D\)"),
    ("W-empty", lambda m: m.word_embedding_forward(_IDS, _W[:, :0]), ValueError, r"^W must have no zero-size dimension"),
    ("W-complex", lambda m: m.word_embedding_forward(_IDS, _W + 0j), TypeError, r"^W must be a real numeric array"),
    ("dout-shape", lambda m: m.word_embedding_backward(np.zeros((2, 3, 5)), _cache()), ValueError, r"^dout must have shape \(2, 3, 4\)"),
    ("dout-2d", lambda m: m.word_embedding_backward(np.zeros((6, 4)), _cache()), ValueError, r"^dout must be a 3-D array"),
    ("dout-complex", lambda m: m.word_embedding_backward(np.zeros((2, 3, 4), complex), _cache()), TypeError, r"^dout must be a real numeric array"),
    ("cache-tuple", lambda m: m.word_embedding_backward(np.zeros((2, 3, 4)), (_IDS, _W)), TypeError,
     r"^cache must be the EmbeddingCache returned by word_embedding_forward; got tuple"),
    ("cache-bad-ids", lambda m: m.word_embedding_backward(np.zeros((2, 3, 4)), EmbeddingCache(x=_IDS + 3, W_shape=(5, 4), dtype=np.dtype(np.float64))),
     ValueError, r"^cache is not the one word_embedding_forward returned"),
    ("cache-ids-list", lambda m: m.word_embedding_backward(np.zeros((2, 3, 4)), EmbeddingCache(x=_IDS.tolist(), W_shape=(5, 4), dtype=np.dtype(np.float64))),
     ValueError, r"^cache is not the one word_embedding_forward returned"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_word_embedding_bad_input(call, exc, match):
    with pytest.raises(exc, match=match) as info:
        call(temporal)
    with pytest.raises(exc) as other:  # the twin raises the same error
        call(reference)
    assert str(other.value) == str(info.value)


@pytest.mark.parametrize("n_threads, exc", [(0, ValueError), (1.0, TypeError)])
def test_word_embedding_bad_n_threads(n_threads, exc):
    with pytest.raises(exc, match="n_threads"):
        temporal.word_embedding_forward(_IDS, _W, n_threads=n_threads)
    with pytest.raises(exc, match="n_threads"):
        temporal.word_embedding_backward(np.zeros((2, 3, 4)), _cache(), n_threads=n_threads)
