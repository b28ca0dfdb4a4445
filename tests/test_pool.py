"""Max-pooling kernels against the NumPy twin and the course's naive loops."""

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference, numerical_grad, rel_error, spaced

from cs231n_fast import ops, reference
from cs231n_fast.reference import max_pool_backward_naive, max_pool_forward_naive

# (x shape, pool_height, pool_width, stride): tiling, non-square (both ways round), overlapping,
# non-tiling, window = input, 1x1, (h, w) strides, batch and channel of one.
CASES = [
    ((2, 3, 8, 8), 2, 2, 2),
    ((2, 3, 7, 9), 2, 3, 2),
    ((2, 3, 7, 9), 3, 2, 2),
    ((2, 2, 9, 9), 3, 3, 2),
    ((1, 1, 7, 7), 3, 3, 1),
    ((3, 2, 11, 10), 4, 3, 3),
    ((1, 1, 5, 6), 5, 6, 1),
    ((2, 2, 4, 4), 1, 1, 1),
    ((2, 3, 9, 8), 2, 3, (3, 1)),
    ((1, 4, 10, 7), 3, 2, (1, 2)),
]
IDS = [f"x{c[0]}-{c[1]}x{c[2]}-s{c[3]}".replace(" ", "") for c in CASES]


@pytest.mark.parametrize("xs, ph, pw, stride", CASES, ids=IDS)
def test_maxpool_forward_backward_match_reference(rng, dtype, xs, ph, pw, stride):
    x = rng.standard_normal(xs).astype(dtype)
    out, cache = ops.maxpool_forward(x, ph, pw, stride)
    ref, ref_cache = reference.maxpool_forward(x.astype(np.float64), ph, pw, stride)
    assert_matches_reference(out, ref, dtype, "out")
    np.testing.assert_array_equal(cache.argmax, ref_cache.argmax)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = ops.maxpool_backward(dout, cache)
    assert_matches_reference(dx, reference.maxpool_backward(dout.astype(np.float64), ref_cache), dtype, "dx")


@pytest.mark.parametrize("xs, ph, pw, stride", [c for c in CASES if np.isscalar(c[3])], ids=[i for c, i in zip(CASES, IDS) if np.isscalar(c[3])])
def test_maxpool_forward_backward_match_naive(rng, xs, ph, pw, stride):
    x = rng.standard_normal(xs)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = ops.maxpool_forward(x, ph, pw, stride)
    nout, ncache = max_pool_forward_naive(x, param)
    np.testing.assert_array_equal(out, nout)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(ops.maxpool_backward(dout, cache), max_pool_backward_naive(dout, ncache), rtol=1e-14)


@pytest.mark.parametrize("ph, pw, stride", [(2, 2, 2), (3, 3, 2), (2, 3, 1)])
def test_maxpool_backward_ties_go_to_first_maximum(ph, pw, stride):
    x = np.zeros((1, 1, 6, 7))  # all-zero windows, as after a ReLU
    out, cache = ops.maxpool_forward(x, ph, pw, stride)
    dout = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    dx = ops.maxpool_backward(dout, cache)
    expected = np.zeros_like(x)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            expected[0, 0, i * stride, j * stride] += dout[0, 0, i, j]  # top-left of each window
    np.testing.assert_array_equal(dx, expected)
    _, ncache = max_pool_forward_naive(x, {"pool_height": ph, "pool_width": pw, "stride": stride})
    np.testing.assert_array_equal(dx, max_pool_backward_naive(dout, ncache))


def test_maxpool_forward_tie_later_in_window_is_not_taken():
    x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])
    _, cache = ops.maxpool_forward(x, 2, 2, 2)
    assert cache.argmax[0, 0, 0, 0] == 1  # the first 3 in row-major order
    np.testing.assert_array_equal(ops.maxpool_backward(np.ones((1, 1, 1, 1)), cache)[0, 0], [[0, 1], [0, 0]])


@pytest.mark.parametrize("ph, pw, stride", [(2, 2, 2), (3, 3, 2), (2, 3, 1)])
def test_maxpool_nan_propagates(dtype, ph, pw, stride):
    x = np.arange(42, dtype=dtype).reshape(1, 1, 6, 7)
    x[0, 0, 2, 3] = np.nan
    x[0, 0, 3, 3] = np.nan
    out, cache = ops.maxpool_forward(x, ph, pw, stride)
    ref, ref_cache = reference.maxpool_forward(x, ph, pw, stride)
    np.testing.assert_array_equal(out, ref)  # assert_array_equal treats NaN == NaN
    np.testing.assert_array_equal(cache.argmax, ref_cache.argmax)
    assert np.isnan(out).any()


@pytest.mark.parametrize("xs, ph, pw, stride", [((2, 2, 6, 6), 2, 2, 2), ((1, 2, 7, 6), 3, 2, (2, 1)), ((2, 1, 5, 5), 3, 3, 1)])
def test_maxpool_backward_gradcheck(rng, xs, ph, pw, stride):
    # Values spaced 0.01 apart, step 1e-6: no tie or kink lies within the step.
    x = spaced(rng, xs)
    out, cache = ops.maxpool_forward(x, ph, pw, stride)
    dout = rng.standard_normal(out.shape)
    dx = ops.maxpool_backward(dout, cache)
    num = numerical_grad(lambda v: ops.maxpool_forward(v, ph, pw, stride)[0], x, dout)
    assert rel_error(dx, num) < 1e-7


@pytest.mark.parametrize("layout", LAYOUTS)
def test_maxpool_layouts_bitwise_equal(rng, dtype, layout):
    x = rng.standard_normal((3, 4, 9, 8)).astype(dtype)
    out, cache = ops.maxpool_forward(x, 3, 2, 2)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = ops.maxpool_backward(dout, cache)
    out2, cache2 = ops.maxpool_forward(as_layout(x, layout), 3, 2, 2)
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(ops.maxpool_backward(as_layout(dout, layout), cache2), dx)


@pytest.mark.parametrize("ph, pw, stride", [(2, 2, 2), (3, 3, 2), (3, 3, 1)])
def test_maxpool_threads_bitwise_equal(rng, dtype, ph, pw, stride):
    x = np.round(rng.standard_normal((9, 7, 33, 31)), 1).astype(dtype)  # many ties
    results = []
    for nt in (1, 2, 3):
        out, cache = ops.maxpool_forward(x, ph, pw, stride, n_threads=nt)
        dout = np.linspace(-1, 1, out.size).reshape(out.shape).astype(dtype)
        results.append((out, cache.argmax, ops.maxpool_backward(dout, cache, n_threads=nt)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_maxpool_inputs_unchanged_and_dtypes(rng, dtype):
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    xc = x.copy()
    out, cache = ops.maxpool_forward(x, 2, 2, 2)
    assert out.dtype == dtype
    dout = rng.standard_normal(out.shape).astype(dtype)
    dc = dout.copy()
    dx = ops.maxpool_backward(dout, cache)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(dout, dc)
    assert ops.maxpool_backward(dout.astype(np.float64), cache).dtype == np.float64
    assert ops.maxpool_forward(x.astype(np.int16), 2, 2, 2)[0].dtype == np.float64


BAD = [
    ("x 3-D", lambda x: (x[0], 2, 2, 2), ValueError, "x must be a 4-D"),
    ("x no channels", lambda x: (x[:, :0], 2, 2, 2), ValueError, "x must have no zero-size"),
    ("pool_height 0", lambda x: (x, 0, 2, 2), ValueError, "pool_height must be an int >= 1"),
    ("pool_width float", lambda x: (x, 2, 2.0, 2), TypeError, "pool_width must be an int"),
    ("stride 0", lambda x: (x, 2, 2, 0), ValueError, "stride must be >= 1"),
    ("stride -1", lambda x: (x, 2, 2, (-1, 1)), ValueError, "stride must be >= 1"),
    ("window too tall", lambda x: (x, 7, 2, 2), ValueError, "pool_height = 7 is larger"),
    ("window too wide", lambda x: (x, 2, 9, 2), ValueError, "pool_width = 9 is larger"),
    ("x complex", lambda x: (x.astype(np.complex64), 2, 2, 2), TypeError, "x must be a real numeric array"),
    ("x strings", lambda x: (x.astype(str), 2, 2, 2), TypeError, "x must be a real numeric array"),
    ("x object", lambda x: (x.astype(object), 2, 2, 2), TypeError, "x must be a real numeric array"),
]


@pytest.mark.parametrize("case, make, exc, match", BAD, ids=[r[0] for r in BAD])
@pytest.mark.parametrize("impl", [ops, reference], ids=["fast", "reference"])
def test_maxpool_forward_bad_input(impl, case, make, exc, match):
    with pytest.raises(exc, match=match):
        impl.maxpool_forward(*make(np.zeros((2, 3, 6, 6))))


@pytest.mark.parametrize("impl", [ops, reference], ids=["fast", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxpool_empty_batch(impl, dtype):
    # An empty batch (N = 0) gives an empty output and an empty dx, as the course's layers do.
    x = np.zeros((0, 3, 6, 5), dtype)
    out, cache = impl.maxpool_forward(x, 2, 2, 2)
    assert out.shape == (0, 3, 3, 2) and out.dtype == dtype
    dx = impl.maxpool_backward(out, cache)
    assert dx.shape == x.shape and dx.dtype == dtype


def test_maxpool_backward_bad_input():
    out, cache = ops.maxpool_forward(np.zeros((2, 3, 6, 6)), 2, 2, 2)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 3, 3\)"):
        ops.maxpool_backward(np.zeros((2, 3, 3, 2)), cache)
    with pytest.raises(TypeError, match="cache must be the PoolCache"):
        ops.maxpool_backward(out, {"x": 1})
    _, conv_cache = ops.conv_forward(np.zeros((2, 3, 3, 3)), np.zeros((3, 3, 1, 1)), np.zeros(3))
    with pytest.raises(TypeError, match="cache must be the PoolCache"):
        ops.maxpool_backward(out, conv_cache)
    with pytest.raises(ValueError, match="n_threads"):
        ops.maxpool_backward(out, cache, n_threads=0)


def test_maxpool_backward_checks_argmax_before_narrowing_it(rng):
    # The kernel reads int32 positions. A cache whose int64 argmax wraps to valid int32 values
    # (argmax +- 2**32) must be refused, not narrowed into a silently wrong dx; integer
    # positions of any width that are in range give the same dx as the int32 ones.
    import dataclasses

    x = rng.standard_normal((2, 3, 6, 5))
    out, cache = ops.maxpool_forward(x, 2, 2, 2)
    dout = rng.standard_normal(out.shape)
    want = ops.maxpool_backward(dout, cache)
    for shift in (-(2**32), 2**32, 2**33 + 1 - 2**32):
        doctored = dataclasses.replace(cache, argmax=cache.argmax.astype(np.int64) + shift)
        with pytest.raises(ValueError, match="its argmax must .* hold plane positions in"):
            ops.maxpool_backward(dout, doctored)
    for dt in (np.int64, np.uint16, np.int16):
        same = dataclasses.replace(cache, argmax=cache.argmax.astype(dt))
        np.testing.assert_array_equal(ops.maxpool_backward(dout, same), want)
    with pytest.raises(ValueError, match="its argmax must"):
        ops.maxpool_backward(dout, dataclasses.replace(cache, argmax=cache.argmax.astype(np.float64)))
