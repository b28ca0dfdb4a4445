"""The course-facing drop-ins: fast_layers, layers, compat (im2col_cython and friends)."""

import numpy as np
import pytest

from cs231n_fast import fast_layers, layers
from cs231n_fast.compat import col2im_6d_cython, col2im_cython, im2col_cython


# The course's own fast_layers code, verbatim in substance, running on our compat functions.
def course_conv_forward_im2col(x, w, b, conv_param):
    N, C, H, W = x.shape
    num_filters, _, filter_height, filter_width = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    out_height = (H + 2 * pad - filter_height) // stride + 1
    out_width = (W + 2 * pad - filter_width) // stride + 1
    x_cols = im2col_cython(x, w.shape[2], w.shape[3], pad, stride)
    res = w.reshape((w.shape[0], -1)).dot(x_cols) + b.reshape(-1, 1)
    out = res.reshape(w.shape[0], out_height, out_width, x.shape[0]).transpose(3, 0, 1, 2)
    return out, (x, w, b, conv_param, x_cols)


def course_conv_backward_im2col(dout, cache):
    x, w, b, conv_param, x_cols = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    db = np.sum(dout, axis=(0, 2, 3))
    num_filters, _, filter_height, filter_width = w.shape
    dout_reshaped = dout.transpose(1, 2, 3, 0).reshape(num_filters, -1)
    dw = dout_reshaped.dot(x_cols.T).reshape(w.shape)
    dx_cols = w.reshape(num_filters, -1).T.dot(dout_reshaped)
    dx = col2im_cython(dx_cols, *x.shape, filter_height, filter_width, pad, stride)
    return dx, dw, db


def course_conv_backward_strides(dout, x, w, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, out_h, out_w = dout.shape
    dout_reshaped = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dx_cols = w.reshape(F, -1).T.dot(dout_reshaped)
    dx_cols.shape = (C, HH, WW, N, out_h, out_w)
    return col2im_6d_cython(dx_cols, N, C, H, W, HH, WW, pad, stride)


@pytest.mark.parametrize(
    "xs, ws, stride, pad",
    [((2, 3, 7, 9), (4, 3, 2, 3), 1, 1), ((3, 2, 8, 7), (5, 2, 3, 2), 2, 2), ((1, 1, 6, 6), (2, 1, 3, 3), 3, 0)],
)
def test_compat_course_pipelines_match_naive(rng, xs, ws, stride, pad):
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    param = {"stride": stride, "pad": pad}
    ref, ref_cache = layers.conv_forward_naive(x, w, b, param)
    out, cache = course_conv_forward_im2col(x, w, b, param)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    want = layers.conv_backward_naive(dout, ref_cache)
    for got, exp in zip(course_conv_backward_im2col(dout, cache), want):
        np.testing.assert_allclose(got, exp, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(course_conv_backward_strides(dout, x, w, param), want[0], rtol=1e-10, atol=1e-12)


def test_compat_im2col_cython_layout_by_definition(rng):
    x = rng.standard_normal((2, 2, 5, 4))
    fh, fw, pad, stride = 3, 2, 1, 2
    cols = im2col_cython(x, fh, fw, pad, stride)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (5 + 2 - 3) // 2 + 1, (4 + 2 - 2) // 2 + 1
    assert cols.shape == (2 * fh * fw, oh * ow * 2)
    for c in range(2):
        for ii in range(fh):
            for jj in range(fw):
                for yy in range(oh):
                    for xx in range(ow):
                        for i in range(2):
                            row = (c * fh + ii) * fw + jj
                            col = yy * ow * 2 + xx * 2 + i
                            assert cols[row, col] == xp[i, c, stride * yy + ii, stride * xx + jj]


def test_compat_bad_input(rng):
    with pytest.raises(ValueError, match=r"cols must have shape \(C \* field_height"):
        col2im_cython(np.zeros((5, 5)), 1, 1, 3, 3, 2, 2, 0, 1)
    with pytest.raises(ValueError, match=r"cols must have shape \(C, HH, WW, N, OH, OW\)"):
        col2im_6d_cython(np.zeros((1, 2, 2, 1, 2, 3)), 1, 1, 3, 3, 2, 2, 0, 1)
    with pytest.raises(ValueError, match="field_height = 5 is larger"):
        col2im_cython(np.zeros((4, 4)), 1, 1, 3, 3, 5, 2, 0, 1)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        col2im_cython(np.zeros((4, 4)), 1, 1, 3, 3, 2, 2, 0, 0)


FAST_CONV = [
    (fast_layers.conv_forward_fast, fast_layers.conv_backward_fast),
    (fast_layers.conv_forward_im2col, fast_layers.conv_backward_im2col),
    (fast_layers.conv_forward_strides, fast_layers.conv_backward_strides),
]


@pytest.mark.parametrize("fwd, bwd", FAST_CONV, ids=["fast", "im2col", "strides"])
def test_fast_layers_conv_matches_naive(rng, fwd, bwd):
    # Non-tiling geometry: the course's im2col/strides versions asserted it away.
    x, w, b = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    param = {"stride": 2, "pad": 1}
    out, cache = fwd(x, w, b, param)
    ref, ref_cache = layers.conv_forward_naive(x, w, b, param)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for got, exp in zip(bwd(dout, cache), layers.conv_backward_naive(dout, ref_cache)):
        np.testing.assert_allclose(got, exp, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "fwd, bwd",
    [
        (fast_layers.max_pool_forward_fast, fast_layers.max_pool_backward_fast),
        (fast_layers.max_pool_forward_reshape, fast_layers.max_pool_backward_reshape),
        (fast_layers.max_pool_forward_im2col, fast_layers.max_pool_backward_im2col),
    ],
    ids=["fast", "reshape", "im2col"],
)
@pytest.mark.parametrize("ph, pw, stride", [(2, 2, 2), (3, 3, 2), (2, 3, 3)])
def test_fast_layers_pool_matches_naive(rng, fwd, bwd, ph, pw, stride):
    x = rng.standard_normal((2, 3, 9, 10)).astype(np.float32)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = fwd(x, param)
    assert out.dtype == np.float32
    ref, ref_cache = layers.max_pool_forward_naive(x, param)
    np.testing.assert_array_equal(out, ref)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_allclose(bwd(dout, cache), layers.max_pool_backward_naive(dout, ref_cache), rtol=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x, w, b: fast_layers.conv_forward_fast(x, w, b, {"pad": 1}), "conv_param is missing key 'stride'"),
        (lambda x, w, b: fast_layers.conv_forward_fast(x, w, b, {"stride": 1}), "conv_param is missing key 'pad'"),
        (lambda x, w, b: fast_layers.max_pool_forward_fast(x, {"pool_height": 2, "stride": 2}), "pool_param is missing key 'pool_width'"),
        (lambda x, w, b: fast_layers.max_pool_forward_fast(x, {"pool_width": 2, "stride": 2}), "pool_param is missing key 'pool_height'"),
        (lambda x, w, b: fast_layers.max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2}), "pool_param is missing key 'stride'"),
    ],
)
def test_fast_layers_missing_keys(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.zeros((1, 2, 4, 4)), np.zeros((2, 2, 3, 3)), np.zeros(2))


def test_fast_layers_param_not_a_dict():
    with pytest.raises(TypeError, match="conv_param must be a dict"):
        fast_layers.conv_forward_fast(np.zeros((1, 2, 4, 4)), np.zeros((2, 2, 3, 3)), np.zeros(2), [1, 1])
    with pytest.raises(TypeError, match="pool_param must be a dict"):
        fast_layers.max_pool_forward_fast(np.zeros((1, 2, 4, 4)), None)
