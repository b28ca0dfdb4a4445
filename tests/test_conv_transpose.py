"""Transposed convolution: ops.conv_transpose_forward/backward against the loop twin
(reference.conv_transpose_*), gradient checks, adjointness with conv_forward, torch, thread
counts, layouts, bad inputs, no mutation, and the nn.ConvTranspose2D layer.

Tolerances: the tests' table (helpers.RTOL/ATOL: float64 rtol 1e-9, float32 rtol 2e-4 with
atol 1e-5 * max|reference|), the reference in float64; gradient checks by centred
differences, error < 1e-7 relative to the gradient's largest entry (helpers.grad_error).
"""

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference, grad_error, numerical_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast import ops, reference
from cs231n_fast.nn import ConvTranspose2D, ConvTranspose2d

# (x shape (N, C_in, H, W), w shape (C_in, C_out, HH, WW), stride, pad, output_padding):
# non-square filters both ways round, strides 1-3, pads 0-2, output padding, (h, w) pairs,
# batch and channels of one, 1x1 filters, DCGAN's 4x4 stride 2 pad 1, kernel < stride (gaps).
CASES = [
    ((2, 3, 5, 4), (3, 4, 3, 2), 2, 1, 1),
    ((2, 3, 5, 4), (3, 4, 2, 3), 2, 1, 1),
    ((1, 2, 3, 3), (2, 3, 4, 4), 2, 1, 0),
    ((3, 4, 6, 5), (4, 2, 3, 3), 1, 0, 0),
    ((3, 4, 6, 5), (4, 2, 3, 3), 1, 1, 0),
    ((2, 1, 1, 1), (1, 1, 1, 1), 1, 0, 0),
    ((1, 1, 1, 1), (1, 3, 3, 3), 3, 0, 2),
    ((2, 3, 4, 4), (3, 2, 1, 1), 3, 0, 2),
    ((2, 2, 4, 5), (2, 3, 3, 2), (2, 3), (1, 0), (1, 2)),
    ((5, 3, 2, 2), (3, 6, 4, 4), 2, 1, 1),
    ((2, 16, 5, 5), (16, 16, 3, 3), 1, 1, 0),
    ((2, 3, 4, 3), (3, 2, 5, 5), 2, 2, 1),
]
IDS = [f"x{c[0]}-w{c[1]}-s{c[2]}-p{c[3]}-op{c[4]}".replace(" ", "") for c in CASES]


def _inputs(rng, xs, ws, dtype):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[1]).astype(dtype)
    return x, w, b


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


@pytest.mark.parametrize("xs, ws, stride, pad, op", CASES, ids=IDS)
def test_conv_transpose_matches_reference(rng, dtype, xs, ws, stride, pad, op):
    x, w, b = _inputs(rng, xs, ws, dtype)
    out, cache = ops.conv_transpose_forward(x, w, b, stride, pad, op)
    ref_out, ref_cache = reference.conv_transpose_forward(*_f64(x, w, b), stride, pad, op)
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (pad, pad) if np.isscalar(pad) else pad
    oph, opw = (op, op) if np.isscalar(op) else op
    assert out.shape == (xs[0], ws[1], (xs[2] - 1) * sh - 2 * ph + ws[2] + oph,
                         (xs[3] - 1) * sw - 2 * pw + ws[3] + opw)
    assert_matches_reference(out, ref_out, dtype, "out")
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = ops.conv_transpose_backward(dout, cache)
    ref_grads = reference.conv_transpose_backward(dout.astype(np.float64), ref_cache)
    for name, g, r in zip(("dx", "dw", "db"), grads, ref_grads):
        assert_matches_reference(g, r, dtype, name)


def test_conv_transpose_reference_matches_definition(rng):
    # The twin against the scatter definition written as six nested loops.
    x, w, b = _inputs(rng, (2, 2, 3, 2), (2, 3, 3, 2), np.float64)
    s, p, op = 2, 1, 1
    out, _ = reference.conv_transpose_forward(x, w, b, s, p, op)
    oh, ow = (3 - 1) * s - 2 * p + 3 + op, (2 - 1) * s - 2 * p + 2 + op
    full = np.zeros((2, 3, oh + 2 * p, ow + 2 * p))
    for n in range(2):
        for c in range(2):
            for i in range(3):
                for j in range(2):
                    for ki in range(3):
                        for kj in range(2):
                            full[n, :, i * s + ki, j * s + kj] += x[n, c, i, j] * w[c, :, ki, kj]
    expected = full[:, :, p : p + oh, p : p + ow] + b[:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs, ws, stride, pad, op", [CASES[i] for i in (0, 2, 6, 8, 11)],
                         ids=[IDS[i] for i in (0, 2, 6, 8, 11)])
def test_conv_transpose_backward_gradcheck(rng, xs, ws, stride, pad, op):
    x, w, b = _inputs(rng, xs, ws, np.float64)
    out, cache = ops.conv_transpose_forward(x, w, b, stride, pad, op)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = ops.conv_transpose_backward(dout, cache)
    fwd = ops.conv_transpose_forward
    assert grad_error(dx, numerical_grad(lambda v: fwd(v, w, b, stride, pad, op)[0], x, dout)) < 1e-7
    assert grad_error(dw, numerical_grad(lambda v: fwd(x, v, b, stride, pad, op)[0], w, dout)) < 1e-7
    assert grad_error(db, numerical_grad(lambda v: fwd(x, w, v, stride, pad, op)[0], b, dout)) < 1e-7


@pytest.mark.parametrize("xs, ws, stride, pad, op", CASES, ids=IDS)
def test_conv_transpose_is_adjoint_of_conv(rng, xs, ws, stride, pad, op):
    # <conv(z), y> == <z, conv_transpose(y)> with the same filters and no bias:
    # w (C_in, C_out, HH, WW) is a conv filter bank from C_out to C_in channels.
    y, w, _ = _inputs(rng, xs, ws, np.float64)
    zero_in, zero_out = np.zeros(ws[0]), np.zeros(ws[1])
    ty, _ = ops.conv_transpose_forward(y, w, zero_out, stride, pad, op)
    z = rng.standard_normal(ty.shape)
    cz, _ = ops.conv_forward(z, w, zero_in, stride, pad)
    assert cz.shape == y.shape
    lhs, rhs = np.vdot(cz, y), np.vdot(z, ty)
    assert abs(lhs - rhs) <= 1e-12 * (np.abs(cz).sum() * np.abs(y).max() + 1)


@pytest.mark.parametrize("xs, ws, stride, pad, op", CASES, ids=IDS)
def test_conv_transpose_matches_torch(rng, xs, ws, stride, pad, op):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w, b = _inputs(rng, xs, ws, np.float64)
    out, cache = ops.conv_transpose_forward(x, w, b, stride, pad, op)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = F.conv_transpose2d(tx, tw, tb, stride=stride, padding=pad, output_padding=op)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-9, atol=1e-9)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    for g, t in zip(ops.conv_transpose_backward(dout, cache), (tx, tw, tb)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-9)
    # float32 against torch's float32, the float32 table's tolerance
    x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
    out32, _ = ops.conv_transpose_forward(x32, w32, b32, stride, pad, op)
    t32 = F.conv_transpose2d(*(torch.tensor(a) for a in (x32, w32, b32)), stride=stride,
                             padding=pad, output_padding=op).numpy()
    np.testing.assert_allclose(out32, t32, rtol=2e-4, atol=1e-5 * np.abs(t32).max())


def test_conv_transpose_threads_bitwise_equal(rng, dtype):
    # Big enough for several threads, odd batch; 3x3 stride 1 with 16 channels makes the
    # backward's conv take the Winograd path, 4x4 stride 2 the im2col path.
    for xs, ws, s, p, op in (((19, 16, 6, 5), (16, 16, 3, 3), 1, 1, 0),
                             ((13, 8, 5, 4), (8, 6, 4, 4), 2, 1, 1)):
        x, w, b = _inputs(rng, xs, ws, dtype)
        results = []
        for nt in (1, 2, 3):
            out, cache = ops.conv_transpose_forward(x, w, b, s, p, op, n_threads=nt)
            dout = np.linspace(-1, 1, out.size).reshape(out.shape).astype(dtype)
            results.append((out, *ops.conv_transpose_backward(dout, cache, n_threads=nt)))
        for other in results[1:]:
            for a, b_ in zip(results[0], other):
                np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv_transpose_layouts_bitwise_equal(rng, dtype, layout):
    x, w, b = _inputs(rng, (3, 4, 5, 4), (4, 3, 3, 4), dtype)
    out, cache = ops.conv_transpose_forward(x, w, b, 2, 1, 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = ops.conv_transpose_backward(dout, cache)
    lx, lw, lb, ld = (as_layout(a, layout) for a in (x, w, b, dout))
    out2, cache2 = ops.conv_transpose_forward(lx, lw, lb, 2, 1, 1)
    np.testing.assert_array_equal(out2, out)
    for g2, g in zip(ops.conv_transpose_backward(ld, cache2), grads):
        np.testing.assert_array_equal(g2, g)


def _hyp_settings(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@_hyp_settings(40)
@given(
    n=st.integers(1, 3), ci=st.integers(1, 4), co=st.integers(1, 4),
    h=st.integers(1, 5), w=st.integers(1, 5), kh=st.integers(1, 4), kw=st.integers(1, 4),
    sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
    data=st.data(), fortran=st.booleans(), f32=st.booleans(),
)
def test_conv_transpose_hypothesis(n, ci, co, h, w, kh, kw, sh, sw, ph, pw, data, fortran, f32):
    oph = data.draw(st.integers(0, sh - 1))
    opw = data.draw(st.integers(0, sw - 1))
    oh, ow = (h - 1) * sh - 2 * ph + kh + oph, (w - 1) * sw - 2 * pw + kw + opw
    if oh < 1 or ow < 1:  # not a valid call: the bad-input tests cover it
        return
    dtype = np.dtype(np.float32 if f32 else np.float64)
    rng = np.random.default_rng(n * 1000 + ci * 100 + h * 10 + w)
    x, wt, b = _inputs(rng, (n, ci, h, w), (ci, co, kh, kw), dtype)
    if fortran:
        x, wt = np.asfortranarray(x), np.asfortranarray(wt)
    else:  # a strided view
        x = as_layout(x, "sliced")
    geometry = ((sh, sw), (ph, pw), (oph, opw))
    out, cache = ops.conv_transpose_forward(x, wt, b, *geometry)
    ref, ref_cache = reference.conv_transpose_forward(*_f64(x, wt, b), *geometry)
    assert_matches_reference(out, ref, dtype, "out")
    dout = rng.standard_normal(out.shape).astype(dtype)
    for name, g, r in zip(("dx", "dw", "db"), ops.conv_transpose_backward(dout, cache),
                          reference.conv_transpose_backward(dout.astype(np.float64), ref_cache)):
        assert_matches_reference(g, r, dtype, name)


def test_conv_transpose_dtype_policy(rng):
    x, w, b = _inputs(rng, (2, 2, 3, 3), (2, 3, 3, 3), np.float32)
    assert ops.conv_transpose_forward(x, w, b, 2, 1)[0].dtype == np.float32
    assert ops.conv_transpose_forward(x, w.astype(np.float64), b, 2, 1)[0].dtype == np.float64
    assert ops.conv_transpose_forward(x.astype(np.int64), w, b, 2, 1)[0].dtype == np.float64
    out, cache = ops.conv_transpose_forward(x, w, None, 2, 1)  # no bias
    ref, _ = reference.conv_transpose_forward(x, w, np.zeros(3, np.float32), 2, 1)
    np.testing.assert_array_equal(out, ops.conv_transpose_forward(x, w, np.zeros(3, np.float32), 2, 1)[0])
    assert_matches_reference(out, ref.astype(np.float64), np.float32, "no bias")
    dx, dw, db = ops.conv_transpose_backward(np.ones(out.shape, np.float64), cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float64


def test_conv_transpose_empty_batch():
    x, w, b = np.zeros((0, 2, 3, 3)), np.ones((2, 3, 3, 3)), np.zeros(3)
    out, cache = ops.conv_transpose_forward(x, w, b, 2, 1, 1)
    assert out.shape == (0, 3, 6, 6)
    dx, dw, db = ops.conv_transpose_backward(out, cache)
    assert dx.shape == x.shape and not dw.any() and not db.any()


def test_conv_transpose_inputs_unchanged(rng, dtype):
    x, w, b = _inputs(rng, (2, 3, 4, 5), (3, 2, 3, 3), dtype)
    copies = [a.copy() for a in (x, w, b)]
    out, cache = ops.conv_transpose_forward(x, w, b, 2, 1, 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dcopy = dout.copy()
    ops.conv_transpose_backward(dout, cache)
    for a, c in zip((x, w, b, dout), (*copies, dcopy)):
        np.testing.assert_array_equal(a, c)


def _good():
    return np.zeros((2, 3, 4, 4)), np.zeros((3, 2, 3, 3)), np.zeros(2)


@pytest.mark.parametrize("args, exc, match", [
    ((np.zeros((3, 4, 4)), np.zeros((3, 2, 3, 3)), np.zeros(2), 1, 0, 0), ValueError, "x must be a 4-D"),
    ((np.zeros((2, 3, 4, 4)), np.zeros((3, 2, 3)), np.zeros(2), 1, 0, 0), ValueError, "w must be a 4-D"),
    ((np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 3, 3)), np.zeros(3), 1, 0, 0), ValueError, "C_in = 3"),
    ((*_good()[:2], np.zeros(3), 1, 0, 0), ValueError, r"b must have shape \(C_out,\)"),
    ((*_good()[:2], np.zeros((2, 1)), 1, 0, 0), ValueError, "b must be a 1-D"),
    ((*_good(), 0, 0, 0), ValueError, "stride"),
    ((*_good(), 1, -1, 0), ValueError, "pad"),
    ((*_good(), 2, 0, 2), ValueError, "output_padding must be smaller than the stride"),
    ((*_good(), 1, 0, 1), ValueError, "output_padding must be smaller than the stride"),
    ((*_good(), 1, 0, -1), ValueError, "output_padding"),
    ((*_good(), 1, 5, 0), ValueError, "pad .* is too large"),
    ((*_good(), 1.5, 0, 0), TypeError, "stride"),
    ((np.zeros((2, 3, 4, 4), complex), *_good()[1:], 1, 0, 0), TypeError, "x must be a real"),
    ((np.zeros((2, 3, 0, 4)), *_good()[1:], 1, 0, 0), ValueError, "x must have no zero-size"),
    ((np.zeros((2, 3, 4, 4)), np.zeros((3, 0, 3, 3)), np.zeros(0), 1, 0, 0), ValueError, "w must have no zero-size"),
])
@pytest.mark.parametrize("module", [ops, reference], ids=["ops", "reference"])
def test_conv_transpose_forward_bad_input(module, args, exc, match):
    with pytest.raises(exc, match=match):
        module.conv_transpose_forward(*args)


def test_conv_transpose_backward_bad_input():
    out, cache = ops.conv_transpose_forward(*_good(), 2, 1, 1)
    assert out.shape == (2, 2, 8, 8)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 2, 8, 8\)"):
        ops.conv_transpose_backward(np.zeros((2, 2, 8, 7)), cache)
    with pytest.raises(ValueError, match="dout must be a 4-D"):
        ops.conv_transpose_backward(np.zeros((2, 8, 8)), cache)
    with pytest.raises(TypeError, match="dout must be a real numeric"):
        ops.conv_transpose_backward(out.astype(complex), cache)
    _, conv_cache = ops.conv_forward(np.zeros((2, 2, 8, 8)), np.zeros((3, 2, 3, 3)), np.zeros(3), 2, 1)
    with pytest.raises(TypeError, match="cache must be the ConvTransposeCache"):
        ops.conv_transpose_backward(out, conv_cache)
    with pytest.raises(ValueError, match="n_threads"):
        ops.conv_transpose_forward(*_good(), 2, 1, 1, n_threads=0)


def test_conv_transpose_layer(rng, dtype):
    layer = ConvTranspose2D(3, 2, 4, stride=2, pad=1, dtype=dtype, seed=0)
    assert ConvTranspose2d is ConvTranspose2D
    assert layer.params["w"].shape == (3, 2, 4, 4) and layer.params["w"].dtype == dtype
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    out = layer.forward(x)
    assert out.shape == (2, 2, 8, 8)
    ref = ConvTranspose2D(3, 2, 4, stride=2, pad=1, dtype=dtype, seed=0, backend="reference")
    assert_matches_reference(out, ref.forward(x.astype(np.float64)).astype(np.float64), dtype, "layer")
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = layer.backward(dout)
    rdx = ref.backward(dout)
    assert dx.shape == x.shape
    for k in ("w", "b"):
        assert layer.grads[k].shape == layer.params[k].shape
        np.testing.assert_allclose(layer.grads[k], ref.grads[k], rtol=1e-4 if dtype == np.float32 else 1e-9,
                                   atol=1e-4 if dtype == np.float32 else 1e-9)
    np.testing.assert_allclose(dx, rdx, rtol=1e-4, atol=1e-4)
    assert "ConvTranspose2D(3, 2, kernel_size=(4, 4)" in repr(layer)
    with pytest.raises(RuntimeError, match="before forward"):
        ConvTranspose2D(3, 2, 4).backward(dout)
    with pytest.raises(ValueError, match="output_padding"):
        ConvTranspose2D(3, 2, 4, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="in_channels"):
        ConvTranspose2D(0, 2, 4)
