"""Convolution kernels (im2col, col2im, conv forward/backward) against the NumPy twin."""

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference, numerical_grad, rel_error, spaced

from cs231n_fast import ops, reference
from cs231n_fast.reference import conv_backward_naive, conv_forward_naive

# (x shape, w shape, stride, pad): non-square filters both ways round, strides 1-3, pads 0-3,
# (h, w) pairs, non-tiling geometry, batch and channel of one, 1x1 filters, filter = input,
# more images than dw chunks.
CASES = [
    ((2, 3, 7, 9), (4, 3, 2, 3), 1, 1),
    ((2, 3, 7, 9), (4, 3, 3, 2), 1, 1),
    ((3, 2, 8, 7), (5, 2, 3, 2), 2, 2),
    ((1, 1, 5, 5), (1, 1, 5, 5), 3, 3),
    ((2, 3, 6, 6), (2, 3, 3, 3), (1, 2), (0, 1)),
    ((1, 4, 10, 11), (3, 4, 4, 3), 3, 0),
    ((4, 2, 5, 5), (3, 2, 1, 1), 1, 0),
    ((2, 1, 1, 1), (2, 1, 1, 1), 1, 0),
    ((3, 3, 9, 9), (2, 3, 3, 3), 2, 3),
    ((17, 5, 6, 4), (7, 5, 3, 3), 1, 1),
    ((2, 2, 4, 4), (3, 2, 2, 2), (3, 1), (2, 0)),
]
IDS = [f"x{c[0]}-w{c[1]}-s{c[2]}-p{c[3]}".replace(" ", "") for c in CASES]


def _inputs(rng, xs, ws, dtype):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    return x, w, b


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


@pytest.mark.parametrize("xs, ws, stride, pad", CASES, ids=IDS)
def test_conv_forward_backward_match_reference(rng, dtype, xs, ws, stride, pad):
    x, w, b = _inputs(rng, xs, ws, dtype)
    out, cache = ops.conv_forward(x, w, b, stride, pad)
    ref_out, ref_cache = reference.conv_forward(*_f64(x, w, b), stride, pad)
    assert_matches_reference(out, ref_out, dtype, "out")
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = ops.conv_backward(dout, cache)
    rdx, rdw, rdb = reference.conv_backward(dout.astype(np.float64), ref_cache)
    assert_matches_reference(dx, rdx, dtype, "dx")
    assert_matches_reference(dw, rdw, dtype, "dw")
    assert_matches_reference(db, rdb, dtype, "db")


@pytest.mark.parametrize("xs, ws, stride, pad", [c for c in CASES if np.isscalar(c[2])][:6])
def test_conv_forward_backward_match_naive(rng, xs, ws, stride, pad):
    x, w, b = _inputs(rng, xs, ws, np.float64)
    param = {"stride": stride, "pad": pad}
    out, cache = ops.conv_forward(x, w, b, stride, pad)
    nout, ncache = conv_forward_naive(x, w, b, param)
    np.testing.assert_allclose(out, nout, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for got, want in zip(ops.conv_backward(dout, cache), conv_backward_naive(dout, ncache)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_conv_forward_nonsquare_filter_orientation_matters(rng):
    # Guards against the course's im2col bug (row index used the filter height twice).
    x = rng.standard_normal((1, 1, 5, 6))
    w23 = rng.standard_normal((1, 1, 2, 3))
    b = np.zeros(1)
    out, _ = ops.conv_forward(x, w23, b)
    expected = np.array(
        [[np.sum(x[0, 0, i : i + 2, j : j + 3] * w23[0, 0]) for j in range(4)] for i in range(4)]
    )
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-12)
    # The same six weights as a 3x2 filter: another answer, also checked by hand (a kernel
    # that swapped kh and kw would read one of the two filters the wrong way round).
    w32 = w23.reshape(1, 1, 3, 2)
    out32, _ = ops.conv_forward(x, w32, b)
    expected32 = np.array(
        [[np.sum(x[0, 0, i : i + 3, j : j + 2] * w32[0, 0]) for j in range(5)] for i in range(3)]
    )
    np.testing.assert_allclose(out32[0, 0], expected32, rtol=1e-12)


@pytest.mark.parametrize("xs, ws, stride, pad", CASES, ids=IDS)
def test_im2col_col2im_match_reference(rng, dtype, xs, ws, stride, pad):
    x = rng.standard_normal(xs).astype(dtype)
    kh, kw = ws[2:]
    cols = ops.im2col(x, kh, kw, stride, pad)
    np.testing.assert_array_equal(cols, reference.im2col(x, kh, kw, stride, pad))
    assert cols.dtype == dtype
    dcols = rng.standard_normal(cols.shape).astype(dtype)
    back = ops.col2im(dcols, xs, kh, kw, stride, pad)
    assert_matches_reference(back, reference.col2im(dcols.astype(np.float64), xs, kh, kw, stride, pad), dtype)


def test_im2col_col2im_adjoint(rng):
    x = rng.standard_normal((2, 3, 7, 8))
    cols = ops.im2col(x, 3, 2, (2, 1), (1, 2))
    c = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * ops.col2im(c, x.shape, 3, 2, (2, 1), (1, 2)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_im2col_small_case_by_hand():
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    cols = ops.im2col(x, 2, 2, 1, 0)
    # windows (0,0) (0,1) (1,0) (1,1) are columns; rows are (i, j) = (0,0) (0,1) (1,0) (1,1)
    expected = np.array([[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]], dtype=float)
    np.testing.assert_array_equal(cols[0], expected)
    padded = ops.im2col(x, 2, 2, 2, 1)  # windows at padded (0,0) (0,2) (2,0) (2,2)
    np.testing.assert_array_equal(padded[0, 0], [0, 0, 0, 4])
    np.testing.assert_array_equal(padded[0, 3], [0, 2, 6, 8])


# --- gradient checks (float64, centred differences; conv is linear, so exact up to rounding)


@pytest.mark.parametrize(
    "xs, ws, stride, pad",
    [((2, 3, 5, 6), (3, 3, 2, 3), 1, 1), ((1, 2, 7, 5), (2, 2, 3, 2), (2, 1), (1, 2)), ((2, 1, 4, 4), (1, 1, 4, 4), 1, 0)],
)
def test_conv_backward_gradcheck(rng, xs, ws, stride, pad):
    x, w, b = _inputs(rng, xs, ws, np.float64)
    out, cache = ops.conv_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = ops.conv_backward(dout, cache)
    fwd = lambda x_, w_, b_: ops.conv_forward(x_, w_, b_, stride, pad)[0]  # noqa: E731
    # Linear in each argument: the centred difference is exact for any step but for rounding,
    # which a step of 1e-3 keeps ~1e-10 (at 1e-6 it reached 1.7e-7 with other BLAS kernels).
    h = 1e-3
    assert rel_error(dx, numerical_grad(lambda v: fwd(v, w, b), x, dout, h)) < 1e-7
    assert rel_error(dw, numerical_grad(lambda v: fwd(x, v, b), w, dout, h)) < 1e-7
    assert rel_error(db, numerical_grad(lambda v: fwd(x, w, v), b, dout, h)) < 1e-7


# --- invariants: layouts, threads, dtypes, no mutation


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_layouts_bitwise_equal(rng, dtype, layout):
    x, w, b = _inputs(rng, (3, 4, 7, 6), (5, 4, 3, 2), dtype)
    out, cache = ops.conv_forward(x, w, b, 2, 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = ops.conv_backward(dout, cache)
    lx, lw, lb, ld = (as_layout(a, layout) for a in (x, w, b, dout))
    out2, cache2 = ops.conv_forward(lx, lw, lb, 2, 1)
    np.testing.assert_array_equal(out2, out)
    for g2, g in zip(ops.conv_backward(ld, cache2), grads):
        np.testing.assert_array_equal(g2, g)
    np.testing.assert_array_equal(ops.im2col(lx, 3, 2, 2, 1), ops.im2col(x, 3, 2, 2, 1))


def test_conv_threads_bitwise_equal(rng, dtype):
    # Big enough to clear the serial-work threshold, odd batch so chunks are uneven.
    x, w, b = _inputs(rng, (19, 8, 12, 11), (6, 8, 3, 3), dtype)
    results = []
    for nt in (1, 2, 3):
        out, cache = ops.conv_forward(x, w, b, 1, 1, n_threads=nt)
        dout = np.linspace(-1, 1, out.size).reshape(out.shape).astype(dtype)
        cols = ops.im2col(x, 3, 3, 1, 1, n_threads=nt)
        back = ops.col2im(cols, x.shape, 3, 3, 1, 1, n_threads=nt)
        results.append((out, *ops.conv_backward(dout, cache, n_threads=nt), cols, back))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


def test_conv_inputs_unchanged(rng, dtype):
    x, w, b = _inputs(rng, (2, 3, 6, 5), (4, 3, 3, 3), dtype)
    copies = [a.copy() for a in (x, w, b)]
    out, cache = ops.conv_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dcopy = dout.copy()
    ops.conv_backward(dout, cache)
    cols = ops.im2col(x, 3, 3)
    ccopy = cols.copy()
    ops.col2im(cols, x.shape, 3, 3)
    for a, c in zip((x, w, b, dout, cols), (*copies, dcopy, ccopy)):
        np.testing.assert_array_equal(a, c)


RTOL_FOR = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize(
    "dtypes, expected",
    [
        ((np.float32, np.float32, np.float32), np.float32),
        ((np.float64, np.float64, np.float64), np.float64),
        ((np.float32, np.float64, np.float32), np.float64),
        ((np.int64, np.int64, np.int64), np.float64),
        ((np.float16, np.float32, np.float32), np.float64),
        ((np.uint8, np.float32, np.float32), np.float64),
    ],
)
def test_conv_dtype_policy(rng, dtypes, expected):
    x, w, b = (rng.integers(-3, 4, s).astype(t) if np.dtype(t).kind != "u" else rng.integers(0, 4, s).astype(t)
               for s, t in zip([(2, 2, 5, 5), (3, 2, 3, 3), (3,)], dtypes))
    out, cache = ops.conv_forward(x, w, b, 1, 1)
    assert out.dtype == expected
    ref, _ = reference.conv_forward(*_f64(x, w, b), 1, 1)
    np.testing.assert_allclose(out, ref, rtol=RTOL_FOR[expected])
    grads = ops.conv_backward(np.ones(out.shape, dtype=expected), cache)
    assert all(g.dtype == expected for g in grads)



def test_conv_nan_propagates(rng):
    x, w, b = _inputs(rng, (1, 1, 5, 5), (1, 1, 3, 3), np.float64)
    x[0, 0, 2, 2] = np.nan
    out, _ = ops.conv_forward(x, w, b, 1, 0)
    assert np.isnan(out).all()  # every 3x3 window of a 5x5 input covers the centre


def test_conv_float32_accuracy_on_spaced_values(rng):
    x = spaced(rng, (2, 3, 8, 8), 0.01).astype(np.float32)
    w = spaced(rng, (4, 3, 3, 3), 0.01).astype(np.float32)
    b = np.zeros(4, np.float32)
    out, _ = ops.conv_forward(x, w, b, 1, 1)
    ref, _ = reference.conv_forward(*_f64(x, w, b), 1, 1)
    assert_matches_reference(out, ref, np.float32)


# --- bad input: one row per case, the message names the argument


def _good():
    return np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4)


BAD_FORWARD = [
    ("x 3-D", lambda x, w, b: (x[0], w, b, 1, 1), ValueError, "x must be a 4-D"),
    ("w 3-D", lambda x, w, b: (x, w[0], b, 1, 1), ValueError, "w must be a 4-D"),
    ("b 2-D", lambda x, w, b: (x, w, b[None], 1, 1), ValueError, "b must be a 1-D"),
    ("channels", lambda x, w, b: (x, np.zeros((4, 2, 3, 3)), b, 1, 1), ValueError, "w must have shape.*C = 3"),
    ("bias length", lambda x, w, b: (x, w, np.zeros(3), 1, 1), ValueError, r"b must have shape \(F,\)"),
    ("stride 0", lambda x, w, b: (x, w, b, 0, 1), ValueError, "stride must be >= 1"),
    ("stride pair 0", lambda x, w, b: (x, w, b, (1, 0), 1), ValueError, "stride must be >= 1"),
    ("stride triple", lambda x, w, b: (x, w, b, (1, 1, 1), 1), ValueError, "stride must be an int or a pair"),
    ("stride float", lambda x, w, b: (x, w, b, 1.5, 1), TypeError, "stride must be an int"),
    ("stride bool", lambda x, w, b: (x, w, b, True, 1), TypeError, "stride must be an int"),
    ("pad -1", lambda x, w, b: (x, w, b, 1, -1), ValueError, "pad must be >= 0"),
    ("filter too big", lambda x, w, b: (x, np.zeros((4, 3, 8, 3)), b, 1, 1), ValueError, "filter height HH = 8 is larger"),
    ("filter too wide", lambda x, w, b: (x, np.zeros((4, 3, 3, 6)), b, 1, 0), ValueError, "filter width WW = 6 is larger"),
    ("x complex", lambda x, w, b: (x.astype(complex), w, b, 1, 1), TypeError, "x must be a real numeric array.*complex"),
    ("w object", lambda x, w, b: (x, w.astype(object), b, 1, 1), TypeError, "w must be a real numeric array.*object"),
    ("b strings", lambda x, w, b: (x, w, np.array(["a"] * 4), 1, 1), TypeError, "b must be a real numeric array"),
    ("x bool", lambda x, w, b: (x.astype(bool), w, b, 1, 1), TypeError, "x must be a real numeric array.*boolean"),
    ("x empty image", lambda x, w, b: (np.zeros((2, 3, 0, 5)), w, b, 1, 1), ValueError, "x must have no zero-size"),
    ("w no filters", lambda x, w, b: (x, np.zeros((0, 3, 3, 3)), np.zeros(0), 1, 1), ValueError, "w must have no zero-size"),
]


@pytest.mark.parametrize("case, make, exc, match", BAD_FORWARD, ids=[r[0] for r in BAD_FORWARD])
@pytest.mark.parametrize("impl", [ops, reference], ids=["fast", "reference"])
def test_conv_forward_bad_input(impl, case, make, exc, match):
    with pytest.raises(exc, match=match):
        impl.conv_forward(*make(*_good()))


@pytest.mark.parametrize("impl", [ops, reference], ids=["fast", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c, f", [(3, 4), (16, 16)])  # the im2col and Winograd shapes
def test_conv_empty_batch(impl, dtype, c, f):
    # An empty batch (N = 0) is computed, as the course's layers do: an empty output and zero
    # gradients for w and b.
    x, w, b = np.zeros((0, c, 6, 5), dtype), np.ones((f, c, 3, 3), dtype), np.ones(f, dtype)
    out, cache = impl.conv_forward(x, w, b, 1, 1)
    assert out.shape == (0, f, 6, 5) and out.dtype == dtype
    dx, dw, db = impl.conv_backward(out, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == (f,)
    assert dx.dtype == dw.dtype == db.dtype == dtype
    assert not dw.any() and not db.any()


@pytest.mark.parametrize(
    "n_threads, exc", [(0, ValueError), (-1, ValueError), (1.0, TypeError), ("2", TypeError)]
)
def test_conv_forward_bad_n_threads(n_threads, exc):
    with pytest.raises(exc, match="n_threads"):
        ops.conv_forward(*_good(), 1, 1, n_threads=n_threads)


def test_conv_backward_bad_input():
    out, cache = ops.conv_forward(*_good(), 1, 1)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 5, 5\)"):
        ops.conv_backward(np.zeros((2, 4, 5, 4)), cache)
    with pytest.raises(ValueError, match="dout must be a 4-D"):
        ops.conv_backward(np.zeros((4, 5, 5)), cache)
    with pytest.raises(TypeError, match="dout must be a real numeric"):
        ops.conv_backward(out.astype(complex), cache)
    with pytest.raises(TypeError, match="cache must be the ConvCache"):
        ops.conv_backward(out, (None, None))
    _, pool_cache = ops.maxpool_forward(np.zeros((2, 4, 4, 4)), 2, 2, 2)
    with pytest.raises(TypeError, match="cache must be the ConvCache"):
        ops.conv_backward(out, pool_cache)


def test_im2col_col2im_bad_input():
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match="kh must be an int >= 1"):
        ops.im2col(x, 0, 3)
    with pytest.raises(ValueError, match="kw = 7 is larger"):
        ops.im2col(x, 3, 7, 1, 0)
    with pytest.raises(ValueError, match="x must be a 4-D"):
        ops.im2col(x[0], 3, 3)
    cols = ops.im2col(x, 3, 3, 1, 1)
    with pytest.raises(ValueError, match=r"cols must have shape \(2, 27, 25\)"):
        ops.col2im(cols[:, :-1], x.shape, 3, 3, 1, 1)
    with pytest.raises(ValueError, match="x_shape must be a tuple of 4 positive ints"):
        ops.col2im(cols, (2, 3, 5), 3, 3, 1, 1)
    with pytest.raises(TypeError, match="x_shape must be a tuple of 4 positive ints"):
        ops.col2im(cols, (2, 3, 5, 5.0), 3, 3, 1, 1)


@pytest.mark.parametrize("xs, ws, stride, pad", CASES, ids=IDS)
def test_conv_backward_need_dx_false_bitwise(rng, dtype, xs, ws, stride, pad):
    x, w, b = _inputs(rng, xs, ws, dtype)
    out, cache = ops.conv_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = ops.conv_backward(dout, cache)
    for nt in (1, 2, 3):
        none, dw2, db2 = ops.conv_backward(dout, cache, n_threads=nt, need_dx=False)
        assert none is None
        np.testing.assert_array_equal(dw2, dw)
        np.testing.assert_array_equal(db2, db)
    rnone, rdw, rdb = reference.conv_backward(dout, cache, need_dx=False)
    assert rnone is None
    assert_matches_reference(dw, rdw.astype(np.float64), dtype, "dw")


# --- Winograd F(2x2, 3x3): 3x3 stride-1 layers (the default for >= 16 channels; forced here
# for smaller ones through ops.conv._ALGO)
#
# Float32 error bound (first order, Higham-style; u = 2**-24), tested elementwise below:
#   forward  |y - y*| <= (C + 10) u S + 2 u |b|,   S = sum_c |A^T| (|G||g||G^T| o |B^T||d||B|) |A|
#       (input transform 2 rounded adds, filter transform rounded once from float64, the
#        C-term GEMM, output transform 5 adds incl. the bias);
#   dx       the same with dout for d, the flipped filters, F for C, no bias;
#   dw       |dw - dw*| <= (T + 8) u sum_tiles |G^T| (|A||dY||A^T| o |B^T||d||B|) |G|,
#       T = tiles summed in float32 (bounded here by all N * tiles of the problem).
# The im2col + GEMM path's bound is (C*9 + 2) u sum |w||x|; Winograd's S is at most a small
# multiple of sum |w||x| (the transforms' coefficients are 0, +-1/2, +-1), measured errors are
# 1e-7 to 5e-7 of max|ref| at C <= 128.

from cs231n_fast.ops import conv as _conv_ops  # noqa: E402

_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=float)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=float)
_U32 = 2.0**-24


def _abs_tiles(x, ph, pw, oh, ow, size, step):
    n, c, h, w = x.shape
    th, tw = -(-oh // 2), -(-ow // 2)
    hp, wp = 2 * th + size - 2, 2 * tw + size - 2
    xp = np.zeros((n, c, hp + h + 2 * ph, wp + w + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + w] = np.abs(x)
    xp = xp[:, :, :hp, :wp]
    win = np.lib.stride_tricks.sliding_window_view(xp, (size, size), axis=(2, 3))
    return win[:, :, ::step, ::step][:, :, :th, :tw]  # (N, C, th, tw, size, size)


def _abs_v(x, ph, pw, oh, ow):
    d = _abs_tiles(np.asarray(x, float), ph, pw, oh, ow, 4, 2)
    return np.einsum("ik,nctukl,jl->nctuij", np.abs(_BT), d, np.abs(_BT))


def _wino_forward_bound(x, w, b, ph, pw):
    n, c, h, wd = x.shape
    oh, ow = h + 2 * ph - 2, wd + 2 * pw - 2
    u = np.einsum("ia,fcab,jb->fcij", np.abs(_G), np.abs(np.asarray(w, float)), np.abs(_G))
    m = np.einsum("nctuij,fcij->nftuij", _abs_v(x, ph, pw, oh, ow), u)
    y = np.einsum("ai,nftuij,bj->nftuab", np.abs(_AT), m, np.abs(_AT))
    f, th, tw = y.shape[1:4]
    y = y.transpose(0, 1, 2, 4, 3, 5).reshape(n, f, 2 * th, 2 * tw)[:, :, :oh, :ow]
    return (c + 10) * _U32 * y + 2 * _U32 * np.abs(np.asarray(b, float))[:, None, None]


def _wino_dw_bound(x, dout, ph, pw):
    oh, ow = dout.shape[2:]
    v = _abs_v(x, ph, pw, oh, ow)
    dy = _abs_tiles(np.asarray(dout, float), 0, 0, oh, ow, 2, 2)
    dm = np.einsum("ia,nftuab,jb->nftuij", np.abs(_AT.T), dy, np.abs(_AT.T))
    du = np.einsum("nftuij,nctuij->fcij", dm, v)
    t = dout.shape[0] * v.shape[2] * v.shape[3]
    return (t + 8) * _U32 * np.einsum("ia,fcij,jb->fcab", np.abs(_G), du, np.abs(_G))


@pytest.fixture
def winograd(monkeypatch):
    monkeypatch.setattr(_conv_ops, "_ALGO", "winograd")


# (x shape, F, pad): odd and even sizes, batch of one, 1x1 and 2x2 inputs, pads 0-2 per axis,
# channels not multiples of any vector width, several blocks of images.
WINO_CASES = [
    ((2, 3, 7, 9), 4, 1),
    ((1, 1, 1, 1), 2, 1),
    ((3, 2, 6, 5), 3, 0),
    ((2, 5, 4, 7), 6, 2),
    ((1, 4, 2, 3), 3, (2, 0)),
    ((2, 3, 5, 8), 2, (0, 1)),
    ((19, 17, 6, 7), 18, 1),
    ((40, 2, 3, 3), 3, 1),
]
WINO_IDS = [f"x{c[0]}-f{c[1]}-p{c[2]}".replace(" ", "") for c in WINO_CASES]


@pytest.mark.parametrize("xs, f, pad", WINO_CASES, ids=WINO_IDS)
def test_conv_winograd_match_reference(rng, dtype, winograd, xs, f, pad):
    x, w, b = _inputs(rng, xs, (f, xs[1], 3, 3), dtype)
    out, cache = ops.conv_forward(x, w, b, 1, pad)
    ref_out, ref_cache = reference.conv_forward(*_f64(x, w, b), 1, pad)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = ops.conv_backward(dout, cache)
    rdx, rdw, rdb = reference.conv_backward(dout.astype(np.float64), ref_cache)
    if dtype == np.float64:
        for got, want, what in ((out, ref_out, "out"), (dx, rdx, "dx"), (dw, rdw, "dw"), (db, rdb, "db")):
            assert got.dtype == dtype
            assert_matches_reference(got, want, dtype, what)
        return
    ph, pw = (pad, pad) if np.isscalar(pad) else pad
    assert np.all(np.abs(out - ref_out) <= _wino_forward_bound(x, w, b, ph, pw))
    wflip = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    assert np.all(np.abs(dx - rdx) <= _wino_forward_bound(dout, wflip, np.zeros(xs[1]), 2 - ph, 2 - pw))
    assert np.all(np.abs(dw - rdw) <= _wino_dw_bound(x, dout, ph, pw))
    assert_matches_reference(db, rdb, dtype, "db")


def test_conv_winograd_bound_is_tight_enough_to_fail(rng):
    # The bound must be far below the values themselves, or the test above could not fail.
    x, w, b = _inputs(rng, (2, 16, 8, 8), (16, 16, 3, 3), np.float32)
    ref, _ = reference.conv_forward(*_f64(x, w, b), 1, 1)
    bound = _wino_forward_bound(x, w, b, 1, 1)
    assert np.max(bound) < 1e-4 * np.max(np.abs(ref))
    assert np.max(bound) > 0


@pytest.mark.parametrize("flip", [False, True])
def test_conv_winograd_filter_transform_is_the_numpy_one_bitwise(rng, dtype, flip):
    # The compiled G g G^T (wino_filter) does the NumPy version's operations in its order.
    w = rng.standard_normal((5, 7, 3, 3)).astype(dtype)
    got = np.empty((16, 7, 5) if flip else (16, 5, 7), dtype=dtype)
    _conv_ops._k.wino_filter(w, got, flip, 2)
    g = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1] if flip else w
    np.testing.assert_array_equal(got, _conv_ops._wino_u(g, dtype))


def test_conv_winograd_filter_grad_is_the_numpy_one_bitwise(rng, dtype):
    # wino_grad_finish: chunks reduced in order in double, then G^T dU G as _wino_dw does.
    part = rng.standard_normal((3, 16, 5, 7)).astype(dtype)
    dbp = rng.standard_normal((3, 5))
    dw, db = np.empty((5, 7, 3, 3), dtype=dtype), np.empty(5, dtype=dtype)
    _conv_ops._k.wino_grad_finish(part, dbp, dw, db, 2)
    du = part[0].astype(np.float64)
    for i in range(1, 3):
        du += part[i]
    np.testing.assert_array_equal(dw, _conv_ops._wino_dw(du).astype(dtype))
    np.testing.assert_array_equal(db, ((dbp[0] + dbp[1]) + dbp[2]).astype(dtype))


def test_conv_winograd_is_default_for_middle_layers():
    pick = _conv_ops._algorithm
    assert pick(64, 64, 3, 3, 1, 1, 1, 1, 32, 32) == "winograd"
    assert pick(128, 128, 3, 3, 1, 1, 1, 1, 16, 16) == "winograd"
    assert pick(3, 64, 3, 3, 1, 1, 1, 1, 32, 32) == "gemm"  # few input channels
    assert pick(64, 64, 3, 3, 2, 2, 1, 1, 16, 16) == "gemm"  # strided
    assert pick(64, 64, 5, 5, 1, 1, 2, 2, 32, 32) == "gemm"  # not 3x3
    assert pick(64, 64, 3, 3, 1, 1, 3, 3, 36, 36) == "gemm"  # pad > 2


def test_conv_winograd_default_path_matches_gemm(rng, monkeypatch):
    x, w, b = _inputs(rng, (5, 16, 9, 8), (20, 16, 3, 3), np.float64)
    assert _conv_ops._algorithm(16, 20, 3, 3, 1, 1, 1, 1, 9, 8) == "winograd"
    out, cache = ops.conv_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape)
    grads = ops.conv_backward(dout, cache)
    monkeypatch.setattr(_conv_ops, "_ALGO", "gemm")
    gout, gcache = ops.conv_forward(x, w, b, 1, 1)
    np.testing.assert_allclose(out, gout, rtol=1e-12, atol=1e-12 * np.abs(gout).max())
    for a, g in zip(grads, ops.conv_backward(dout, gcache)):
        np.testing.assert_allclose(a, g, rtol=1e-12, atol=1e-12 * np.abs(g).max())


def test_conv_winograd_gradcheck(rng, winograd):
    x, w, b = _inputs(rng, (2, 3, 5, 6), (4, 3, 3, 3), np.float64)
    out, cache = ops.conv_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = ops.conv_backward(dout, cache)
    fwd = lambda x_, w_, b_: ops.conv_forward(x_, w_, b_, 1, 1)[0]  # noqa: E731
    h = 1e-3  # linear in each argument (see test_conv_backward_gradcheck)
    assert rel_error(dx, numerical_grad(lambda v: fwd(v, w, b), x, dout, h)) < 1e-7
    assert rel_error(dw, numerical_grad(lambda v: fwd(x, v, b), w, dout, h)) < 1e-7
    assert rel_error(db, numerical_grad(lambda v: fwd(x, w, v), b, dout, h)) < 1e-7


def test_conv_winograd_threads_bitwise_equal(rng, dtype):
    # Default path (16 channels): odd batch, several blocks and uneven dw chunks.
    x, w, b = _inputs(rng, (37, 16, 9, 7), (17, 16, 3, 3), dtype)
    assert _conv_ops._algorithm(16, 17, 3, 3, 1, 1, 1, 1, 9, 7) == "winograd"
    results = []
    for nt in (1, 2, 3):
        out, cache = ops.conv_forward(x, w, b, 1, 1, n_threads=nt)
        dout = np.linspace(-1, 1, out.size).reshape(out.shape).astype(dtype)
        _, dw1, db1 = ops.conv_backward(dout, cache, n_threads=nt, need_dx=False)
        results.append((out, *ops.conv_backward(dout, cache, n_threads=nt), dw1, db1))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)
    np.testing.assert_array_equal(results[0][2], results[0][4])  # need_dx=False: same dw
    np.testing.assert_array_equal(results[0][3], results[0][5])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_winograd_layouts_bitwise_equal(rng, dtype, winograd, layout):
    x, w, b = _inputs(rng, (3, 4, 7, 6), (5, 4, 3, 3), dtype)
    out, cache = ops.conv_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = ops.conv_backward(dout, cache)
    lx, lw, lb, ld = (as_layout(a, layout) for a in (x, w, b, dout))
    out2, cache2 = ops.conv_forward(lx, lw, lb, 1, 1)
    np.testing.assert_array_equal(out2, out)
    for g2, g in zip(ops.conv_backward(ld, cache2), grads):
        np.testing.assert_array_equal(g2, g)
    for a, c in zip((lx, lw, lb, ld), (x, w, b, dout)):
        np.testing.assert_array_equal(a, c)  # inputs unchanged


def test_conv_winograd_nan_propagates(rng, winograd):
    x, w, b = _inputs(rng, (1, 2, 5, 5), (2, 2, 3, 3), np.float64)
    x[0, 1, 2, 2] = np.nan
    out, cache = ops.conv_forward(x, w, b, 1, 0)
    assert np.isnan(out).all()
    _, dw, _ = ops.conv_backward(np.ones_like(out), cache)
    assert np.isnan(dw[:, 1]).all() and not np.isnan(dw[:, 0]).any()


@pytest.mark.parametrize("torch_dtype", ["float64"])
def test_conv_winograd_agrees_with_torch(rng, torch_dtype):
    torch = pytest.importorskip("torch")
    x, w, b = _inputs(rng, (4, 16, 8, 9), (24, 16, 3, 3), np.float64)
    out, cache = ops.conv_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = ops.conv_backward(dout, cache)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt, 1, 1)
    yt.backward(torch.tensor(dout))
    for got, want in ((out, yt.detach()), (dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
        want = want.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


@pytest.mark.parametrize("algo", ["gemm", "winograd"])
def test_conv_blas_dimensions_checked_in_forward_and_backward(monkeypatch, rng, algo):
    # SciPy's BLAS takes C ints: every GEMM dimension is checked before native code, in the
    # backward too, whose cache may come from the reference forward (which checks nothing).
    # The limit is lowered so the checks can be seen at small sizes.
    c = 16 if algo == "winograd" else 2
    x, w, b = rng.standard_normal((2, c, 6, 6)), rng.standard_normal((16, c, 3, 3)), rng.standard_normal(16)
    monkeypatch.setattr(_conv_ops, "_ALGO", algo)
    monkeypatch.setattr(_conv_ops, "_INT_MAX", 15 if algo == "gemm" else 2047)  # (19, 16, 16) or 16 * 16 * 8
    dout = rng.standard_normal((2, 16, 4, 4))
    _, ref_cache = reference.conv_forward(x, w, b)
    for call in (lambda: ops.conv_forward(x, w, b), lambda: ops.conv_backward(dout, ref_cache),
                 lambda: ops.conv_backward(dout, ref_cache, need_dx=False)):
        with pytest.raises(ValueError, match=r"a matrix dimension of this convolution \(\d+\) exceeds the 2\*\*31 - 1"):
            call()
