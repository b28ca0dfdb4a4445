"""Property-based equivalence of the compiled kernels and their NumPy twin (hypothesis).

Every example draws a problem (shapes with 1s, non-square windows, strides 1-3, pads 0-3,
overlapping and non-tiling windows), a dtype mode (all float32; all float64; a float32/float64
mix, computed in float64; integers, computed in float64 and full of ties), a memory layout per
array (C, Fortran, sliced, negative strides, read-only), a thread count and a seed for the
values, and compares ``cs231n_fast`` with ``cs231n_fast.reference`` run in float64 on the
float64 cast of the same inputs, within ``helpers.RTOL`` (float64 1e-9, float32 2e-4 of the
largest reference value). Copies (im2col, pooling outputs, window positions, neighbour
indices) must match exactly.

Examples per kernel (``derandomize=True``: the same examples on every run; no database):

=====================================  ========
im2col + col2im                        35
conv forward + backward                40
max pool forward + backward            40
pairwise distances (L2 and L1)         35
kneighbors (L2 and L1)                 35
vanilla RNN step forward + backward    25
LSTM step forward + backward           25
vanilla RNN sequence fwd + bwd         25
LSTM sequence forward + backward       25
sigmoid                                25
=====================================  ========

310 examples in all. The values come from a NumPy generator seeded by the example (hypothesis
draws the seed), since drawing arrays element by element would spend the budget on values
rather than on shapes, layouts and geometry.
"""

import numpy as np
from helpers import LAYOUTS, RTOL, as_layout, assert_matches_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast import knn, ops, reference
from cs231n_fast.ops import rnn


def fuzz(n):
    """Deterministic hypothesis settings with a budget of ``n`` examples."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


SEEDS = st.integers(0, 2**32 - 1)
LAYOUT = st.sampled_from(LAYOUTS)
THREADS = st.sampled_from([None, 1, 2, 3])
#: How the inputs are typed: the first array float32 and the others float64 in "mixed".
MODES = st.sampled_from(["float32", "float64", "mixed", "int"])


def layouts(n):
    return st.tuples(*[LAYOUT] * n)


def typed(arrays, mode):
    """The arrays in a dtype mode."""
    if mode == "int":  # small integers: many exact ties
        return [np.round(2 * a).astype(np.int16) for a in arrays]
    if mode == "mixed":
        return [a.astype(np.float32 if i == 0 else np.float64) for i, a in enumerate(arrays)]
    return [a.astype(mode) for a in arrays]


def policy(*arrays):
    """The documented dtype policy: float32 if every input is float32, else float64."""
    return np.dtype(np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64)


def single(mode):
    """The mode of a function's only array (a mix needs two arrays: use float64)."""
    return "float64" if mode == "mixed" else mode


def laid_out(arrays, kinds):
    return [as_layout(a, k) for a, k in zip(arrays, kinds)]


def f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def as_given(value, h, w):
    """An int when ``h == w`` (and the draw says so), else the pair ``(h, w)``."""
    return h if value and h == w else (h, w)


@st.composite
def windows(draw, max_pad=3):
    """(n, c, h, w) images and a window: (kh, kw), stride, pad (as an int or a pair)."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, max_pad)), draw(st.integers(0, max_pad))
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 6))
    w = draw(st.integers(max(1, kw - 2 * pw), kw + 6))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    as_int = draw(st.booleans())
    return (n, c, h, w), (kh, kw), as_given(as_int, sh, sw), as_given(as_int, ph, pw)


# --- convolution ------------------------------------------------------------------------------


@fuzz(35)
@given(geometry=windows(), mode=MODES, kinds=layouts(2), seed=SEEDS, n_threads=THREADS)
def test_im2col_col2im_fuzz_match_reference(geometry, mode, kinds, seed, n_threads):
    xs, (kh, kw), stride, pad = geometry
    rng = np.random.default_rng(seed)
    (x,) = typed([rng.standard_normal(xs)], single(mode))
    cols = ops.im2col(as_layout(x, kinds[0]), kh, kw, stride, pad, n_threads=n_threads)
    assert cols.dtype == policy(x)
    np.testing.assert_array_equal(cols, reference.im2col(*f64(x), kh, kw, stride, pad))
    (dcols,) = typed([rng.standard_normal(cols.shape)], single(mode))
    back = ops.col2im(as_layout(dcols, kinds[1]), xs, kh, kw, stride, pad, n_threads=n_threads)
    assert_matches_reference(back, reference.col2im(*f64(dcols), xs, kh, kw, stride, pad), policy(dcols), "col2im")


@fuzz(40)
@given(geometry=windows(), f=st.integers(1, 4), mode=MODES, kinds=layouts(4), seed=SEEDS, n_threads=THREADS)
def test_conv_forward_backward_fuzz_match_reference(geometry, f, mode, kinds, seed, n_threads):
    (n, c, h, w), (kh, kw), stride, pad = geometry
    rng = np.random.default_rng(seed)
    arrays = typed([rng.standard_normal(s) for s in [(n, c, h, w), (f, c, kh, kw), (f,)]], mode)
    out, cache = ops.conv_forward(*laid_out(arrays, kinds), stride, pad, n_threads=n_threads)
    ref, ref_cache = reference.conv_forward(*f64(*arrays), stride, pad)
    assert_matches_reference(out, ref, policy(*arrays), "out")
    (dout,) = typed([rng.standard_normal(out.shape)], single(mode))
    grads = ops.conv_backward(as_layout(dout, kinds[3]), cache, n_threads=n_threads)
    for name, got, want in zip(("dx", "dw", "db"), grads, reference.conv_backward(*f64(dout), ref_cache)):
        assert_matches_reference(got, want, policy(*arrays, dout), name)


# --- max pooling ------------------------------------------------------------------------------


@fuzz(40)
@given(geometry=windows(max_pad=0), mode=MODES, kinds=layouts(2), seed=SEEDS, n_threads=THREADS)
def test_maxpool_forward_backward_fuzz_match_reference(geometry, mode, kinds, seed, n_threads):
    xs, (kh, kw), stride, _ = geometry
    rng = np.random.default_rng(seed)
    (x,) = typed([rng.standard_normal(xs)], mode)  # "mixed": a float32 x ...
    out, cache = ops.maxpool_forward(as_layout(x, kinds[0]), kh, kw, stride, n_threads=n_threads)
    ref, ref_cache = reference.maxpool_forward(*f64(x), kh, kw, stride)
    assert out.dtype == policy(x)
    np.testing.assert_array_equal(out, ref)  # a maximum is a copy: exact
    np.testing.assert_array_equal(cache.argmax, ref_cache.argmax)  # ties: the first in row-major order
    (dout,) = typed([rng.standard_normal(out.shape)], single(mode))  # ... and a float64 dout
    dx = ops.maxpool_backward(as_layout(dout, kinds[1]), cache, n_threads=n_threads)
    assert_matches_reference(dx, reference.maxpool_backward(*f64(dout), ref_cache), policy(x, dout), "dx")


# --- k-nearest neighbours ---------------------------------------------------------------------

KNN_SHAPES = st.tuples(st.integers(1, 6), st.integers(1, 40), st.integers(1, 20))  # (n, m, d)


@fuzz(35)
@given(shape=KNN_SHAPES, metric=st.sampled_from(["l2", "l1"]), mode=MODES, kinds=layouts(2),
       seed=SEEDS, n_threads=THREADS)
def test_pairwise_distances_fuzz_match_reference(shape, metric, mode, kinds, seed, n_threads):
    n, m, d = shape
    rng = np.random.default_rng(seed)
    xq, xt = typed([rng.standard_normal((n, d)), rng.standard_normal((m, d))], mode)
    got = knn.pairwise_distances(*laid_out([xq, xt], kinds), metric, n_threads=n_threads)
    assert_matches_reference(got, reference.pairwise_distances(*f64(xq, xt), metric), policy(xq, xt), metric)


@fuzz(35)
@given(shape=KNN_SHAPES, k=st.floats(0, 1), metric=st.sampled_from(["l2", "l1"]), mode=MODES,
       kinds=layouts(2), working_memory=st.sampled_from([None, 1e-4, 0.01]), seed=SEEDS, n_threads=THREADS)
def test_kneighbors_fuzz_match_reference(shape, k, metric, mode, kinds, working_memory, seed, n_threads):
    n, m, d = shape
    k = 1 + int(k * (m - 1))
    rng = np.random.default_rng(seed)
    xq, xt = typed([rng.standard_normal((n, d)), rng.standard_normal((m, d))], mode)
    dist, idx = knn.kneighbors(*laid_out([xq, xt], kinds), k, metric, n_threads=n_threads,
                               working_memory=working_memory)
    want_dist, want_idx = reference.kneighbors(*f64(xq, xt), k, metric)
    np.testing.assert_array_equal(idx, want_idx)  # ranked as in float64, ties to the smaller index
    assert_matches_reference(dist, want_dist, policy(xq, xt), metric)


# --- recurrent layers -------------------------------------------------------------------------

#: Hidden sizes: small, and a few that split into several blocks of 256 units (ragged last).
HIDDEN = st.one_of(st.integers(1, 8), st.sampled_from([257, 513]))
RNN_MODES = st.sampled_from(["float32", "float64", "mixed"])
RNN_SHAPES = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), HIDDEN)  # (N, T, D, H)


def recurrent_inputs(rng, kind, n, t, d, h, step):
    """x, h0 (and c0 for an LSTM step), Wx, Wh, b, scaled so that the gates do not saturate."""
    g = 4 if kind == "lstm" else 1
    arrays = [rng.standard_normal((n, d) if step else (n, t, d)), rng.standard_normal((n, h))]
    if kind == "lstm" and step:
        arrays.append(rng.standard_normal((n, h)))
    arrays += [rng.standard_normal((d, g * h)) * 0.5 / np.sqrt(d),
               rng.standard_normal((h, g * h)) * 0.5 / np.sqrt(h), rng.standard_normal(g * h) * 0.3]
    return arrays


def check_recurrent(kind, step, shape, mode, kinds, seed, n_threads):
    """Forward and backward of one recurrent function against the twin.

    The backward follows the dtype policy over the cache and its upstream gradients, which are
    of the other float dtype (float64 for a float32 cache and vice versa): its gradients are
    always float64, as accurate as the forward's dtype (a float32 cache holds rounded values).
    """
    suffix = f"{kind}_{'step_' if step else ''}"
    rng = np.random.default_rng(seed)
    arrays = typed(recurrent_inputs(rng, kind, *shape, step), mode)
    dtype = policy(*arrays)
    *outs, cache = getattr(rnn, suffix + "forward")(*laid_out(arrays, kinds), n_threads=n_threads)
    *ref_outs, ref_cache = getattr(reference, suffix + "forward")(*f64(*arrays))
    for got, want in zip(outs, ref_outs):
        assert_matches_reference(got, want, dtype, suffix + "forward")
    # Upstream gradients of the other float dtype (float64 for a float32 cache and vice versa).
    grads = typed([rng.standard_normal(o.shape) for o in outs], "float32" if dtype == np.float64 else "float64")
    got = getattr(rnn, suffix + "backward")(*laid_out(grads, kinds[::-1]), cache, n_threads=n_threads)
    want = getattr(reference, suffix + "backward")(*f64(*grads), ref_cache)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        what = f"{suffix}backward output {i}"
        assert g.dtype == policy(cache.x, *grads) == np.float64, what
        assert_matches_reference(g.astype(dtype), w, dtype, what)


@fuzz(25)
@given(shape=RNN_SHAPES, mode=RNN_MODES, kinds=layouts(5), seed=SEEDS, n_threads=THREADS)
def test_rnn_step_fuzz_match_reference(shape, mode, kinds, seed, n_threads):
    check_recurrent("rnn", True, shape, mode, kinds, seed, n_threads)


@fuzz(25)
@given(shape=RNN_SHAPES, mode=RNN_MODES, kinds=layouts(6), seed=SEEDS, n_threads=THREADS)
def test_lstm_step_fuzz_match_reference(shape, mode, kinds, seed, n_threads):
    check_recurrent("lstm", True, shape, mode, kinds, seed, n_threads)


@fuzz(25)
@given(shape=RNN_SHAPES, mode=RNN_MODES, kinds=layouts(5), seed=SEEDS, n_threads=THREADS)
def test_rnn_sequence_fuzz_match_reference(shape, mode, kinds, seed, n_threads):
    check_recurrent("rnn", False, shape, mode, kinds, seed, n_threads)


@fuzz(25)
@given(shape=RNN_SHAPES, mode=RNN_MODES, kinds=layouts(5), seed=SEEDS, n_threads=THREADS)
def test_lstm_sequence_fuzz_match_reference(shape, mode, kinds, seed, n_threads):
    check_recurrent("lstm", False, shape, mode, kinds, seed, n_threads)


@fuzz(25)
@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=3), scale=st.sampled_from([1, 10, 100, 1e4]),
       mode=st.sampled_from(["float32", "float64", "int"]), kind=LAYOUT, seed=SEEDS, n_threads=THREADS)
def test_sigmoid_fuzz_match_reference(shape, scale, mode, kind, seed, n_threads):
    (z,) = typed([np.random.default_rng(seed).standard_normal(shape) * scale], mode)
    got = rnn.sigmoid(as_layout(z, kind), n_threads=n_threads)
    want = reference.sigmoid(*f64(z))
    dtype = policy(z)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=np.finfo(dtype).tiny)
