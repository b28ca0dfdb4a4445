"""The NumPy twin (reference.conv, reference.pool) against the course's loops (reference.naive).

Everything runs in float64, so the vectorised and the loop versions differ only by summation
order. The naive loops are themselves pinned by the course notebook's published values and by
centred-difference gradient checks, so agreement with them means something.
"""

import numpy as np
import pytest

from cs231n_fast._cache import ConvCache, PoolCache
from cs231n_fast.reference import (
    col2im,
    conv_backward,
    conv_backward_naive,
    conv_forward,
    conv_forward_naive,
    im2col,
    max_pool_backward_naive,
    max_pool_forward_naive,
    maxpool_backward,
    maxpool_forward,
)

RTOL = 1e-12


def assert_close(actual, desired):
    """float64 comparison: rtol 1e-12 with atol scaled to the data (outputs hold exact zeros)."""
    desired = np.asarray(desired)
    atol = RTOL * max(float(np.max(np.abs(desired))), 1.0) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=RTOL, atol=atol)


def numerical_grad(f, a, df, h=1e-5):
    """Centred-difference gradient of ``sum(f() * df)`` with respect to ``a`` (changed in place)."""
    grad = np.zeros_like(a)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = a[idx]
        a[idx] = old + h
        plus = np.sum(f() * df)
        a[idx] = old - h
        minus = np.sum(f() * df)
        a[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


# --- case tables ---------------------------------------------------------------------------------

# (N, C, H, W, F, HH, WW, stride, pad)
CONV_CASES = [
    pytest.param(2, 3, 7, 7, 4, 3, 3, 1, 1, id="3x3-s1-p1"),
    pytest.param(2, 3, 6, 6, 4, 2, 3, 1, 0, id="2x3-s1-p0-square-input"),
    pytest.param(2, 3, 6, 6, 4, 3, 2, 1, 0, id="3x2-s1-p0-square-input"),
    pytest.param(1, 1, 5, 7, 2, 2, 3, 2, 1, id="batch1-chan1-2x3-s2-p1"),
    pytest.param(2, 2, 8, 9, 3, 3, 3, 2, 0, id="3x3-s2-nontiling"),
    pytest.param(1, 2, 7, 8, 2, 4, 3, 3, 3, id="4x3-s3-p3-nontiling"),
    pytest.param(2, 2, 6, 5, 3, 3, 3, 2, 2, id="3x3-s2-p2"),
    pytest.param(3, 2, 4, 4, 2, 1, 1, 1, 0, id="1x1"),
    pytest.param(2, 2, 3, 4, 2, 5, 6, 1, 1, id="filter-equals-padded-input"),
    pytest.param(1, 1, 1, 1, 1, 1, 1, 1, 0, id="all-ones"),
]

# (N, C, H, W, kh, kw, stride)
POOL_CASES = [
    pytest.param(2, 3, 8, 8, 2, 2, 2, id="2x2-s2"),
    pytest.param(2, 2, 7, 9, 3, 3, 2, id="3x3-s2-overlapping"),
    pytest.param(1, 1, 5, 7, 2, 3, 1, id="batch1-chan1-2x3-s1-overlapping"),
    pytest.param(2, 2, 6, 6, 3, 2, 1, id="3x2-s1-square-input"),
    pytest.param(2, 3, 7, 7, 2, 2, 2, id="2x2-s2-nontiling"),
    pytest.param(1, 2, 9, 8, 2, 3, 3, id="2x3-s3-nontiling"),
    pytest.param(2, 2, 4, 5, 1, 1, 1, id="1x1"),
    pytest.param(1, 2, 4, 5, 4, 5, 1, id="window-equals-input"),
]


def conv_inputs(rng, N, C, H, W, F, HH, WW):
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, HH, WW))
    b = rng.standard_normal(F)
    return x, w, b


def conv_out_shape(N, H, W, F, HH, WW, stride, pad):
    return (N, F, (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1)


def pool_out_shape(N, C, H, W, kh, kw, stride):
    return (N, C, (H - kh) // stride + 1, (W - kw) // stride + 1)


# --- the naive oracles: pinned by the course's published values and by gradient checks -----------


def test_conv_forward_naive_course_values():
    # The values the CS231n assignment-2 notebook checks conv_forward_naive against.
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, cache = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    correct_out = np.array(
        [
            [
                [[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                [[0.50813986, 0.54309974], [0.64082444, 0.67101435]],
            ],
            [
                [[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                [[2.36270298, 2.36904306], [2.38090835, 2.38247847]],
            ],
        ]
    )
    np.testing.assert_allclose(out, correct_out, rtol=0, atol=1e-8)
    assert cache[0] is x and cache[1] is w and cache[2] is b and cache[3] == {"stride": 2, "pad": 1}


def test_max_pool_forward_naive_course_values():
    # The values the CS231n assignment-2 notebook checks max_pool_forward_naive against.
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    pool_param = {"pool_width": 2, "pool_height": 2, "stride": 2}
    out, cache = max_pool_forward_naive(x, pool_param)
    correct_out = np.array(
        [
            [
                [[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]],
            ],
            [
                [[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                [[0.32631579, 0.34105263], [0.38526316, 0.4]],
            ],
        ]
    )
    np.testing.assert_allclose(out, correct_out, rtol=0, atol=1e-8)
    assert cache[0] is x and cache[1] is pool_param


@pytest.mark.parametrize(
    "N, C, H, W, F, HH, WW, stride, pad",
    [
        pytest.param(2, 2, 5, 5, 3, 2, 3, 1, 1, id="2x3-s1-p1"),
        pytest.param(1, 2, 6, 5, 2, 3, 3, 2, 2, id="3x3-s2-p2-nontiling"),
    ],
)
def test_conv_backward_naive_gradcheck(N, C, H, W, F, HH, WW, stride, pad):
    rng = np.random.default_rng(101)
    x, w, b = conv_inputs(rng, N, C, H, W, F, HH, WW)
    conv_param = {"stride": stride, "pad": pad}
    dout = rng.standard_normal(conv_out_shape(N, H, W, F, HH, WW, stride, pad))
    _, cache = conv_forward_naive(x, w, b, conv_param)
    dx, dw, db = conv_backward_naive(dout, cache)

    def fwd():
        return conv_forward_naive(x, w, b, conv_param)[0]

    assert rel_error(dx, numerical_grad(fwd, x, dout)) < 1e-7
    assert rel_error(dw, numerical_grad(fwd, w, dout)) < 1e-7
    assert rel_error(db, numerical_grad(fwd, b, dout)) < 1e-7


def test_max_pool_backward_naive_gradcheck():
    rng = np.random.default_rng(102)
    # Distinct values spaced 0.01 apart: no tie or kink lies within the step h = 1e-5.
    x = (rng.permutation(2 * 2 * 7 * 7) * 0.01).reshape(2, 2, 7, 7)
    pool_param = {"pool_height": 3, "pool_width": 2, "stride": 2}  # overlapping rows, non-tiling
    dout = rng.standard_normal(pool_out_shape(2, 2, 7, 7, 3, 2, 2))
    _, cache = max_pool_forward_naive(x, pool_param)
    dx = max_pool_backward_naive(dout, cache)
    dx_num = numerical_grad(lambda: max_pool_forward_naive(x, pool_param)[0], x, dout)
    assert rel_error(dx, dx_num) < 1e-7


ONE_FILTER = (np.ones((1, 1, 1, 1)), np.ones(1))


@pytest.mark.parametrize(
    "func, args, key",
    [
        (conv_forward_naive, lambda x: (x, *ONE_FILTER, {"pad": 0}), "'stride'"),
        (conv_forward_naive, lambda x: (x, *ONE_FILTER, {"stride": 1}), "'pad'"),
        (max_pool_forward_naive, lambda x: (x, {"pool_width": 2, "stride": 2}), "'pool_height'"),
        (max_pool_forward_naive, lambda x: (x, {"pool_height": 2, "stride": 2}), "'pool_width'"),
        (max_pool_forward_naive, lambda x: (x, {"pool_height": 2, "pool_width": 2}), "'stride'"),
    ],
)
def test_naive_forward_missing_key(func, args, key):
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=f"_param is missing key {key}"):
        func(*args(x))


# --- im2col / col2im -----------------------------------------------------------------------------


def test_im2col_hand_checked_nonsquare():
    x = np.arange(12, dtype=np.float64).reshape(1, 1, 3, 4)
    # cols[0, i*3 + j, oy*2 + ox] = x[oy + i, ox + j] = 4*(oy + i) + ox + j
    expected = np.array(
        [
            [0, 1, 4, 5],  # (i, j) = (0, 0)
            [1, 2, 5, 6],  # (0, 1)
            [2, 3, 6, 7],  # (0, 2)
            [4, 5, 8, 9],  # (1, 0)
            [5, 6, 9, 10],  # (1, 1)
            [6, 7, 10, 11],  # (1, 2)
        ],
        dtype=np.float64,
    )[None]
    np.testing.assert_array_equal(im2col(x, 2, 3), expected)


def test_im2col_hand_checked_channels_stride_pad():
    x = np.stack([np.arange(9.0), 10 + np.arange(9.0)]).reshape(1, 2, 3, 3)
    # Padded to 5x5; 2x2 windows start at padded (0, 0), (0, 2), (2, 0), (2, 2); the last padded
    # row and column are never read (non-tiling). Row (c*2 + i)*2 + j, column oy*2 + ox.
    expected = np.array(
        [
            [0, 0, 0, 4],  # c=0 (0, 0)
            [0, 0, 3, 5],  # c=0 (0, 1)
            [0, 1, 0, 7],  # c=0 (1, 0)
            [0, 2, 6, 8],  # c=0 (1, 1)
            [0, 0, 0, 14],  # c=1 (0, 0)
            [0, 0, 13, 15],  # c=1 (0, 1)
            [0, 11, 0, 17],  # c=1 (1, 0)
            [10, 12, 16, 18],  # c=1 (1, 1)
        ],
        dtype=np.float64,
    )[None]
    np.testing.assert_array_equal(im2col(x, 2, 2, stride=2, pad=1), expected)


def test_im2col_pair_geometry():
    rng = np.random.default_rng(201)
    x = rng.standard_normal((2, 3, 7, 8))
    kh, kw, (sh, sw), (ph, pw) = 3, 2, (2, 3), (1, 2)
    cols = im2col(x, kh, kw, stride=(sh, sw), pad=(ph, pw))
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (7 + 2 * ph - kh) // sh + 1, (8 + 2 * pw - kw) // sw + 1
    assert cols.shape == (2, 3 * kh * kw, oh * ow)
    for c in range(3):
        for i in range(kh):
            for j in range(kw):
                for oy in range(oh):
                    for ox in range(ow):
                        assert cols[:, (c * kh + i) * kw + j, oy * ow + ox].tolist() == (
                            xpad[:, c, oy * sh + i, ox * sw + j].tolist()
                        )


@pytest.mark.parametrize(
    "shape, kh, kw, stride, pad",
    [
        ((2, 3, 7, 7), 3, 3, 1, 1),
        ((2, 2, 6, 6), 2, 3, 1, 0),
        ((1, 1, 8, 9), 3, 3, 2, 0),  # non-tiling
        ((2, 2, 7, 8), 4, 3, 3, 3),
        ((1, 2, 7, 8), 3, 2, (2, 3), (1, 2)),
        ((1, 2, 5, 5), 1, 1, 2, 0),
    ],
)
def test_col2im_adjoint_of_im2col(shape, kh, kw, stride, pad):
    rng = np.random.default_rng(202)
    x = rng.standard_normal(shape)
    cols_shape = im2col(x, kh, kw, stride, pad).shape
    c = rng.standard_normal(cols_shape)
    lhs = np.vdot(im2col(x, kh, kw, stride, pad), c)
    rhs = np.vdot(x, col2im(c, shape, kh, kw, stride, pad))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_col2im_overlaps_accumulate():
    # 3x3 windows, stride 1, pad 1 on a 3x3 image: element (y, x) is read by as many windows as
    # there are filter offsets keeping it in range, i.e. 9 at the centre, 4 in the corners.
    cols = np.ones((1, 9, 9))
    dx = col2im(cols, (1, 1, 3, 3), 3, 3, stride=1, pad=1)
    np.testing.assert_array_equal(dx[0, 0], [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


# --- convolution: reference vs naive -------------------------------------------------------------


@pytest.mark.parametrize("N, C, H, W, F, HH, WW, stride, pad", CONV_CASES)
def test_conv_forward_matches_naive(N, C, H, W, F, HH, WW, stride, pad):
    rng = np.random.default_rng(301)
    x, w, b = conv_inputs(rng, N, C, H, W, F, HH, WW)
    expected, _ = conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    out, cache = conv_forward(x, w, b, stride, pad)
    assert out.shape == conv_out_shape(N, H, W, F, HH, WW, stride, pad)
    assert_close(out, expected)
    assert isinstance(cache, ConvCache)
    assert cache.out_shape == out.shape
    assert cache.stride == (stride, stride) and cache.pad == (pad, pad)


@pytest.mark.parametrize("N, C, H, W, F, HH, WW, stride, pad", CONV_CASES)
def test_conv_backward_matches_naive(N, C, H, W, F, HH, WW, stride, pad):
    rng = np.random.default_rng(302)
    x, w, b = conv_inputs(rng, N, C, H, W, F, HH, WW)
    dout = rng.standard_normal(conv_out_shape(N, H, W, F, HH, WW, stride, pad))
    _, naive_cache = conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    dx_ref, dw_ref, db_ref = conv_backward_naive(dout, naive_cache)
    _, cache = conv_forward(x, w, b, stride, pad)
    dx, dw, db = conv_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert_close(dx, dx_ref)
    assert_close(dw, dw_ref)
    assert_close(db, db_ref)


def test_conv_forward_nonsquare_filter_orientation():
    # On a square input a 2x3 filter and its 3x2 transpose give different output shapes, and
    # transposing the filter without transposing the image changes the values: the reference
    # must agree with the loops on both, and the two answers must differ.
    rng = np.random.default_rng(303)
    x = rng.standard_normal((1, 2, 5, 5))
    w = rng.standard_normal((2, 2, 2, 3))
    b = np.zeros(2)
    out, _ = conv_forward(x, w, b)
    out_t, _ = conv_forward(x, w.transpose(0, 1, 3, 2), b)
    assert out.shape == (1, 2, 4, 3) and out_t.shape == (1, 2, 3, 4)
    assert_close(out, conv_forward_naive(x, w, b, {"stride": 1, "pad": 0})[0])
    w_t = w.transpose(0, 1, 3, 2)
    assert_close(out_t, conv_forward_naive(x, w_t, b, {"stride": 1, "pad": 0})[0])
    # conv(x, w) transposed is conv(x.T, w.T); conv(x, w.T) is something else.
    out_tt, _ = conv_forward(x.transpose(0, 1, 3, 2), w.transpose(0, 1, 3, 2), b)
    assert_close(out_tt.transpose(0, 1, 3, 2), out)
    assert not np.allclose(out_t, out_tt)


def test_conv_forward_pair_stride_pad():
    # Pairs are the reference's extension; check them against the naive loops on an input
    # pre-padded by hand and filtered by the loops with stride 1, then subsampled.
    rng = np.random.default_rng(304)
    x, w, b = conv_inputs(rng, 2, 2, 7, 8, 3, 3, 2)
    (sh, sw), (ph, pw) = (2, 3), (1, 2)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dense, _ = conv_forward_naive(xpad, w, b, {"stride": 1, "pad": 0})
    out, cache = conv_forward(x, w, b, stride=(sh, sw), pad=(ph, pw))
    assert_close(out, dense[:, :, ::sh, ::sw])
    assert cache.stride == (sh, sw) and cache.pad == (ph, pw)


def test_conv_backward_pair_stride_pad():
    # Same construction as above, backwards: the strided dout scattered into a dense stride-1
    # dout (zeros elsewhere), through the loops on the hand-padded input, then cropped.
    rng = np.random.default_rng(305)
    x, w, b = conv_inputs(rng, 2, 2, 7, 8, 3, 3, 2)
    (sh, sw), (ph, pw) = (2, 3), (1, 2)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dense_out, dense_cache = conv_forward_naive(xpad, w, b, {"stride": 1, "pad": 0})
    out, cache = conv_forward(x, w, b, stride=(sh, sw), pad=(ph, pw))
    dout = rng.standard_normal(out.shape)
    dense_dout = np.zeros(dense_out.shape)
    dense_dout[:, :, ::sh, ::sw] = dout
    dxpad_ref, dw_ref, db_ref = conv_backward_naive(dense_dout, dense_cache)
    dx, dw, db = conv_backward(dout, cache)
    assert_close(dx, dxpad_ref[:, :, ph : ph + 7, pw : pw + 8])
    assert_close(dw, dw_ref)
    assert_close(db, db_ref)


# --- max pooling: reference vs naive -------------------------------------------------------------


@pytest.mark.parametrize("N, C, H, W, kh, kw, stride", POOL_CASES)
def test_maxpool_forward_matches_naive(N, C, H, W, kh, kw, stride):
    rng = np.random.default_rng(401)
    x = rng.standard_normal((N, C, H, W))
    expected, _ = max_pool_forward_naive(x, {"pool_height": kh, "pool_width": kw, "stride": stride})
    out, cache = maxpool_forward(x, kh, kw, stride)
    assert out.shape == pool_out_shape(N, C, H, W, kh, kw, stride)
    np.testing.assert_array_equal(out, expected)  # a max is exact
    assert isinstance(cache, PoolCache)
    assert cache.argmax.dtype == np.int32 and cache.argmax.shape == out.shape
    # argmax points at the value that was output.
    flat = x.reshape(N, C, H * W)
    picked = np.take_along_axis(flat, cache.argmax.reshape(N, C, -1).astype(np.intp), axis=2)
    np.testing.assert_array_equal(picked.reshape(out.shape), out)


@pytest.mark.parametrize("N, C, H, W, kh, kw, stride", POOL_CASES)
def test_maxpool_backward_matches_naive(N, C, H, W, kh, kw, stride):
    rng = np.random.default_rng(402)
    x = rng.standard_normal((N, C, H, W))
    dout = rng.standard_normal(pool_out_shape(N, C, H, W, kh, kw, stride))
    pool_param = {"pool_height": kh, "pool_width": kw, "stride": stride}
    _, naive_cache = max_pool_forward_naive(x, pool_param)
    expected = max_pool_backward_naive(dout, naive_cache)
    _, cache = maxpool_forward(x, kh, kw, stride)
    dx = maxpool_backward(dout, cache)
    assert dx.shape == x.shape
    assert_close(dx, expected)


@pytest.mark.parametrize("kh, kw, stride", [(2, 2, 2), (3, 3, 2), (2, 3, 1), (3, 2, 3)])
def test_maxpool_backward_ties_match_naive(kh, kw, stride):
    # Small integers: most windows hold several maxima, and overlapping windows share them.
    rng = np.random.default_rng(403)
    x = rng.integers(0, 3, size=(2, 2, 8, 7)).astype(np.float64)
    dout = rng.standard_normal(pool_out_shape(2, 2, 8, 7, kh, kw, stride))
    pool_param = {"pool_height": kh, "pool_width": kw, "stride": stride}
    _, naive_cache = max_pool_forward_naive(x, pool_param)
    expected = max_pool_backward_naive(dout, naive_cache)
    _, cache = maxpool_forward(x, kh, kw, stride)
    assert_close(maxpool_backward(dout, cache), expected)


def test_maxpool_backward_ties_first_element():
    # All zeros, 3x3 windows, stride 2 on 5x5: windows start at (0,0), (0,2), (2,0), (2,2) and
    # every element ties, so each window's gradient goes to its top-left corner.
    x = np.zeros((1, 1, 5, 5))
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, cache = maxpool_forward(x, 3, 3, 2)
    np.testing.assert_array_equal(out, np.zeros((1, 1, 2, 2)))
    np.testing.assert_array_equal(cache.argmax, [[[[0, 2], [10, 12]]]])
    expected = np.zeros((1, 1, 5, 5))
    expected[0, 0, 0, 0] = 1.0
    expected[0, 0, 0, 2] = 2.0
    expected[0, 0, 2, 0] = 3.0
    expected[0, 0, 2, 2] = 4.0
    np.testing.assert_array_equal(maxpool_backward(dout, cache), expected)
    naive_cache = (x, {"pool_height": 3, "pool_width": 3, "stride": 2})
    np.testing.assert_array_equal(max_pool_backward_naive(dout, naive_cache), expected)


def test_maxpool_backward_overlap_accumulates():
    # 1x5 row, 1x3 windows at stride 1: the peak in the middle is every window's maximum.
    x = np.array([[[[0.0, 1.0, 5.0, 1.0, 0.0]]]])
    dout = np.array([[[[1.0, 10.0, 100.0]]]])
    _, cache = maxpool_forward(x, 1, 3, 1)
    np.testing.assert_array_equal(maxpool_backward(dout, cache), [[[[0.0, 0.0, 111.0, 0.0, 0.0]]]])


def test_maxpool_forward_nan_propagates():
    rng = np.random.default_rng(404)
    x = rng.standard_normal((1, 2, 6, 6))
    x[0, 0, 1, 2] = np.nan  # in window (0, 1)
    x[0, 1, 4, 4] = np.nan
    x[0, 1, 5, 5] = np.nan  # second NaN in the same window: argmax is the first (4, 4)
    x[0, 1, 5, 4] = 1e9  # a huge value after the NaN must not win
    out, cache = maxpool_forward(x, 2, 2, 2)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    expected, naive_cache = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(out, expected)  # NaNs compare equal position-wise here
    nan_mask = np.zeros(out.shape, dtype=bool)
    nan_mask[0, 0, 0, 1] = True
    nan_mask[0, 1, 2, 2] = True
    np.testing.assert_array_equal(np.isnan(out), nan_mask)
    assert cache.argmax[0, 0, 0, 1] == 1 * 6 + 2
    assert cache.argmax[0, 1, 2, 2] == 4 * 6 + 4
    # and backward routes those windows' gradient to the NaN
    dout = np.ones(out.shape)
    dx = maxpool_backward(dout, cache)
    assert dx[0, 0, 1, 2] == 1 and dx[0, 1, 4, 4] == 1 and dx[0, 1, 5, 4] == 0
    assert_close(dx, max_pool_backward_naive(dout, naive_cache))


def test_maxpool_forward_nan_overlapping():
    # With overlapping 3x3 s2 windows one NaN poisons every window that contains it.
    rng = np.random.default_rng(405)
    x = rng.standard_normal((1, 1, 7, 7))
    x[0, 0, 2, 2] = np.nan  # shared by the four windows starting at rows/cols 0 and 2
    out, cache = maxpool_forward(x, 3, 3, 2)
    expected = np.zeros((3, 3), dtype=bool)
    expected[:2, :2] = True
    np.testing.assert_array_equal(np.isnan(out[0, 0]), expected)
    np.testing.assert_array_equal(cache.argmax[0, 0][expected], 2 * 7 + 2)


def test_maxpool_backward_pair_stride():
    rng = np.random.default_rng(406)
    x = rng.standard_normal((2, 2, 9, 10))
    # Stride (2, 3) equals the stride-1 naive result subsampled.
    dense, _ = max_pool_forward_naive(x, {"pool_height": 3, "pool_width": 2, "stride": 1})
    out, cache = maxpool_forward(x, 3, 2, (2, 3))
    np.testing.assert_array_equal(out, dense[:, :, ::2, ::3])
    assert cache.stride == (2, 3) and cache.pool == (3, 2)
    # Backward: the strided dout scattered into a dense stride-1 dout, zeros elsewhere.
    dout = rng.standard_normal(out.shape)
    dense_dout = np.zeros(dense.shape)
    dense_dout[:, :, ::2, ::3] = dout
    dense_cache = (x, {"pool_height": 3, "pool_width": 2, "stride": 1})
    expected = max_pool_backward_naive(dense_dout, dense_cache)
    assert_close(maxpool_backward(dout, cache), expected)


# --- invariants: inputs unchanged, fresh outputs, dtype policy, cache checks -------------------


def test_conv_forward_inputs_not_modified():
    rng = np.random.default_rng(501)
    x, w, b = conv_inputs(rng, 2, 3, 6, 7, 2, 3, 2)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    out, cache = conv_forward(x, w, b, 2, 1)
    dout = rng.standard_normal(out.shape)
    dout0 = dout.copy()
    dx, dw, db = conv_backward(dout, cache)
    cols = im2col(x, 3, 2, 2, 1)
    cols0 = cols.copy()
    dxc = col2im(cols, x.shape, 3, 2, 2, 1)
    for a, a0 in [(x, x0), (w, w0), (b, b0), (dout, dout0), (cols, cols0)]:
        np.testing.assert_array_equal(a, a0)
    for result in (out, dx, dw, db, cols, dxc):
        for given in (x, w, b, dout):
            assert not np.shares_memory(result, given)


def test_maxpool_forward_inputs_not_modified():
    rng = np.random.default_rng(502)
    x = rng.standard_normal((2, 2, 7, 7))
    x0 = x.copy()
    out, cache = maxpool_forward(x, 3, 3, 2)
    dout = rng.standard_normal(out.shape)
    dout0 = dout.copy()
    argmax0 = cache.argmax.copy()
    dx = maxpool_backward(dout, cache)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, dout0)
    np.testing.assert_array_equal(cache.argmax, argmax0)
    for result in (out, dx):
        assert not np.shares_memory(result, x) and not np.shares_memory(result, dout)


def test_naive_inputs_not_modified():
    rng = np.random.default_rng(503)
    x, w, b = conv_inputs(rng, 1, 2, 5, 5, 2, 3, 3)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    out, cache = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    dout = rng.standard_normal(out.shape)
    dout0 = dout.copy()
    conv_backward_naive(dout, cache)
    pout, pcache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    pdout = rng.standard_normal(pout.shape)
    pdout0 = pdout.copy()
    max_pool_backward_naive(pdout, pcache)
    for a, a0 in [(x, x0), (w, w0), (b, b0), (dout, dout0), (pdout, pdout0)]:
        np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize(
    "x_dtype, w_dtype, dout_dtype, expected",
    [
        (np.float32, np.float32, np.float32, np.float32),
        (np.float64, np.float64, np.float64, np.float64),
        (np.float32, np.float64, np.float32, np.float64),
        (np.float32, np.float32, np.float64, np.float64),
        (np.int64, np.int64, np.int64, np.float64),
        (np.float16, np.float32, np.float32, np.float64),
    ],
)
def test_conv_forward_dtype_policy(x_dtype, w_dtype, dout_dtype, expected):
    rng = np.random.default_rng(504)
    x = (rng.standard_normal((1, 2, 5, 5)) * 4).astype(x_dtype)
    w = (rng.standard_normal((2, 2, 3, 3)) * 4).astype(w_dtype)
    b = np.ones(2, dtype=w_dtype)
    out, cache = conv_forward(x, w, b, 1, 1)
    forward_dtype = np.float32 if (x_dtype == w_dtype == np.float32) else np.float64
    assert out.dtype == forward_dtype and cache.x.dtype == forward_dtype
    dx, dw, db = conv_backward(np.ones(out.shape, dtype=dout_dtype), cache)
    assert dx.dtype == dw.dtype == db.dtype == expected
    cols = im2col(x, 3, 3)
    assert cols.dtype == (np.float32 if x_dtype == np.float32 else np.float64)
    assert col2im(cols, x.shape, 3, 3).dtype == cols.dtype


@pytest.mark.parametrize(
    "x_dtype, dout_dtype, expected",
    [
        (np.float32, np.float32, np.float32),
        (np.float64, np.float64, np.float64),
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float64),
        (np.int32, np.int32, np.float64),
    ],
)
def test_maxpool_forward_dtype_policy(x_dtype, dout_dtype, expected):
    x = np.arange(2 * 2 * 4 * 4).reshape(2, 2, 4, 4).astype(x_dtype)
    out, cache = maxpool_forward(x, 2, 2, 2)
    assert out.dtype == (np.float32 if x_dtype == np.float32 else np.float64)
    dx = maxpool_backward(np.ones(out.shape, dtype=dout_dtype), cache)
    assert dx.dtype == expected


def test_conv_backward_rejects_wrong_dout_and_cache():
    rng = np.random.default_rng(505)
    x, w, b = conv_inputs(rng, 1, 2, 5, 5, 2, 3, 3)
    out, cache = conv_forward(x, w, b)
    with pytest.raises(ValueError, match="dout"):
        conv_backward(np.ones((1, 2, 3, 4)), cache)
    with pytest.raises(TypeError, match="cache"):
        conv_backward(np.ones(out.shape), (x, w, b, {"stride": 1, "pad": 0}))
    _, pool_cache = maxpool_forward(x, 2, 2, 2)
    with pytest.raises(TypeError, match="cache"):
        maxpool_backward(np.ones(out.shape), cache)
    with pytest.raises(ValueError, match="dout"):
        maxpool_backward(np.ones(out.shape), pool_cache)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda x: im2col(x, 0, 2), ValueError, "kh"),
        (lambda x: im2col(x, 2, 9), ValueError, "kw"),
        (lambda x: col2im(np.ones((1, 8, 16)), x.shape, 7, 2), ValueError, "kh"),
        (lambda x: im2col(x, 2, 2, stride=0), ValueError, "stride"),
        (lambda x: im2col(x, 2, 2, pad=-1), ValueError, "pad"),
        (lambda x: im2col(x[0], 2, 2), ValueError, "x"),
        (lambda x: col2im(np.ones((1, 8, 9)), x.shape, 2, 2), ValueError, "cols"),
        (lambda x: col2im(np.ones((1, 8, 16)), (1, 2, 5), 2, 2), ValueError, "x_shape"),
        (lambda x: col2im(np.ones((1, 8, 16)), (1, 2, 5, 5.0), 2, 2), TypeError, "x_shape"),
    ],
)
def test_im2col_bad_input(call, exc, match):
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(exc, match=match):
        call(x)
