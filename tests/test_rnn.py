"""Compiled vanilla-RNN/LSTM kernels (cs231n_fast.ops.rnn) against the NumPy twin.

Tolerances: tests.helpers.RTOL per dtype (float64 1e-9, float32 2e-4, relative to the largest
reference value), the reference running in float64 on the same inputs. Gradients of the fast
backwards are also checked numerically (float64, centred differences).
"""

import numpy as np
import pytest

from cs231n_fast import reference, rnn_layers
from cs231n_fast.ops import rnn as fast

from helpers import as_layout, assert_matches_reference, grad_error, numerical_grad

SHAPES = [  # (N, T, D, H)
    (1, 1, 1, 1),
    (2, 3, 4, 5),
    (3, 5, 7, 40),
    (1, 4, 3, 129),  # more than one block of hidden units, ragged last block
    (5, 2, 33, 260),
]


def _params(rng, kind, n, t, d, h, dtype, scale=0.5):
    g = 4 if kind == "lstm" else 1
    x = rng.standard_normal((n, t, d))
    h0 = rng.standard_normal((n, h))
    Wx = rng.standard_normal((d, g * h)) * scale / np.sqrt(d)
    Wh = rng.standard_normal((h, g * h)) * scale / np.sqrt(h)
    b = rng.standard_normal(g * h) * 0.3
    return [a.astype(dtype) for a in (x, h0, Wx, Wh, b)]


def _f64(arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_sequence_matches_reference(rng, dtype, kind, shape):
    args = _params(rng, kind, *shape, dtype)
    fwd, bwd = (fast.lstm_forward, fast.lstm_backward) if kind == "lstm" else (fast.rnn_forward, fast.rnn_backward)
    rfwd, rbwd = (reference.lstm_forward, reference.lstm_backward) if kind == "lstm" else (reference.rnn_forward, reference.rnn_backward)
    h, cache = fwd(*args)
    rh, rcache = rfwd(*_f64(args))
    assert_matches_reference(h, rh, dtype, "h")
    dh = rng.standard_normal(h.shape).astype(dtype)
    grads = bwd(dh, cache)
    rgrads = rbwd(dh.astype(np.float64), rcache)
    for name, g, r in zip(("dx", "dh0", "dWx", "dWh", "db"), grads, rgrads):
        assert_matches_reference(g, r, dtype, name)


@pytest.mark.parametrize("shape", SHAPES)
def test_lstm_step_matches_reference(rng, dtype, shape):
    n, _, d, h = shape
    x, h0, Wx, Wh, b = _params(rng, "lstm", n, 1, d, h, dtype)
    x = x[:, 0]
    c = rng.standard_normal((n, h)).astype(dtype)
    nh, nc, cache = fast.lstm_step_forward(x, h0, c, Wx, Wh, b)
    rnh, rnc, rcache = reference.lstm_step_forward(*_f64([x, h0, c, Wx, Wh, b]))
    assert_matches_reference(nh, rnh, dtype, "next_h")
    assert_matches_reference(nc, rnc, dtype, "next_c")
    dnh, dnc = (rng.standard_normal((n, h)).astype(dtype) for _ in range(2))
    grads = fast.lstm_step_backward(dnh, dnc, cache)
    rgrads = reference.lstm_step_backward(dnh.astype(np.float64), dnc.astype(np.float64), rcache)
    for name, g, r in zip(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), grads, rgrads):
        assert_matches_reference(g, r, dtype, name)


@pytest.mark.parametrize("shape", SHAPES)
def test_rnn_step_matches_reference(rng, dtype, shape):
    n, _, d, h = shape
    x, h0, Wx, Wh, b = _params(rng, "rnn", n, 1, d, h, dtype)
    x = x[:, 0]
    nh, cache = fast.rnn_step_forward(x, h0, Wx, Wh, b)
    rnh, rcache = reference.rnn_step_forward(*_f64([x, h0, Wx, Wh, b]))
    assert_matches_reference(nh, rnh, dtype, "next_h")
    dnh = rng.standard_normal((n, h)).astype(dtype)
    for name, g, r in zip(("dx", "dprev_h", "dWx", "dWh", "db"),
                          fast.rnn_step_backward(dnh, cache),
                          reference.rnn_step_backward(dnh.astype(np.float64), rcache)):
        assert_matches_reference(g, r, dtype, name)


@pytest.mark.parametrize("layout", ["F", "sliced", "negative", "readonly"])
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_layouts_give_identical_results(rng, kind, layout):
    args = _params(rng, kind, 3, 4, 6, 20, np.float64)
    fwd = fast.lstm_forward if kind == "lstm" else fast.rnn_forward
    want, _ = fwd(*args)
    copies = [a.copy() for a in args]
    laid = [as_layout(a, layout) for a in args]
    got, _ = fwd(*laid)
    np.testing.assert_array_equal(got, want)
    for a, c in zip(laid, copies):
        np.testing.assert_array_equal(a, c)  # inputs not modified


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_bitwise_identical_across_thread_counts(rng, kind):
    args = _params(rng, kind, 7, 5, 48, 300, np.float32)
    fwd, bwd = (fast.lstm_forward, fast.lstm_backward) if kind == "lstm" else (fast.rnn_forward, fast.rnn_backward)
    results = []
    for nt in (1, 2, 3):
        h, cache = fwd(*args, n_threads=nt)
        dh = np.linspace(-1, 1, h.size, dtype=np.float32).reshape(h.shape)
        results.append((h, *bwd(dh, cache, n_threads=nt)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_sequence_gradients_numerically(rng, kind):
    x, h0, Wx, Wh, b = _params(rng, kind, 2, 3, 4, 5, np.float64, scale=1.0)
    fwd, bwd = (fast.lstm_forward, fast.lstm_backward) if kind == "lstm" else (fast.rnn_forward, fast.rnn_backward)
    h, cache = fwd(x, h0, Wx, Wh, b)
    dh = rng.standard_normal(h.shape)
    dx, dh0, dWx, dWh, db = bwd(dh, cache)
    checks = {
        "x": (dx, lambda v: fwd(v, h0, Wx, Wh, b)[0], x),
        "h0": (dh0, lambda v: fwd(x, v, Wx, Wh, b)[0], h0),
        "Wx": (dWx, lambda v: fwd(x, h0, v, Wh, b)[0], Wx),
        "Wh": (dWh, lambda v: fwd(x, h0, Wx, v, b)[0], Wh),
        "b": (db, lambda v: fwd(x, h0, Wx, Wh, v)[0], b),
    }
    for name, (analytic, f, v) in checks.items():
        assert grad_error(analytic, numerical_grad(f, v, dh)) < 1e-6, name  # vs the gradient's scale (helpers.grad_error)


def test_lstm_step_gradients_numerically(rng):
    x, h0, Wx, Wh, b = _params(rng, "lstm", 3, 1, 4, 5, np.float64, scale=1.0)
    x = x[:, 0]
    c = rng.standard_normal(h0.shape)
    nh, nc, cache = fast.lstm_step_forward(x, h0, c, Wx, Wh, b)
    dnh, dnc = rng.standard_normal(nh.shape), rng.standard_normal(nc.shape)
    grads = fast.lstm_step_backward(dnh, dnc, cache)
    args = [x, h0, c, Wx, Wh, b]
    for i, name in enumerate(("x", "prev_h", "prev_c", "Wx", "Wh", "b")):
        def f(v, i=i):
            a = list(args)
            a[i] = v
            out_h, out_c, _ = fast.lstm_step_forward(*a)
            return np.concatenate([out_h, out_c], axis=1)
        num = numerical_grad(f, args[i], np.concatenate([dnh, dnc], axis=1))
        assert grad_error(grads[i], num) < 1e-6, name  # vs the gradient's scale (helpers.grad_error)


def test_lstm_c0_matches_explicit_steps(rng):
    x, h0, Wx, Wh, b = _params(rng, "lstm", 2, 3, 4, 6, np.float64)
    c0 = rng.standard_normal(h0.shape)
    h, cache = fast.lstm_forward(x, h0, Wx, Wh, b, c0)
    ph, pc = h0, c0
    for t in range(3):
        ph, pc, _ = reference.lstm_step_forward(x[:, t], ph, pc, Wx, Wh, b)
        np.testing.assert_allclose(h[:, t], ph, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cache.c[:, -1], pc, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("with_c0", [False, True], ids=["c0-none", "c0-given"])
def test_lstm_backward_return_dc0(rng, dtype, with_c0):
    """dc0 matches the reference and, in float64, the numerical gradient with respect to c0."""
    x, h0, Wx, Wh, b = _params(rng, "lstm", 3, 4, 5, 7, dtype)
    c0 = rng.standard_normal(h0.shape).astype(dtype) if with_c0 else None
    h, cache = fast.lstm_forward(x, h0, Wx, Wh, b, c0)
    dh = rng.standard_normal(h.shape).astype(dtype)
    grads = fast.lstm_backward(dh, cache, return_dc0=True)
    assert len(grads) == 6 and len(fast.lstm_backward(dh, cache)) == 5
    for a, b_ in zip(grads[:5], fast.lstm_backward(dh, cache)):
        np.testing.assert_array_equal(a, b_)
    _, rcache = reference.lstm_forward(*_f64([x, h0, Wx, Wh, b]), None if c0 is None else c0.astype(np.float64))
    rgrads = reference.lstm_backward(dh.astype(np.float64), rcache, return_dc0=True)
    assert_matches_reference(grads[5], rgrads[5], dtype, "dc0")
    if dtype == np.float64:
        c_at = np.zeros_like(h0) if c0 is None else c0
        num = numerical_grad(lambda v: fast.lstm_forward(x, h0, Wx, Wh, b, v)[0], c_at, dh)
        assert grad_error(grads[5], num) < 1e-6  # vs the gradient's scale (helpers.grad_error)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_sigmoid_is_stable_and_accurate(dt):
    z = np.array([-1000, -104, -90, -30, -1, -1e-8, 0, 1e-8, 1, 30, 90, 1000], dtype=dt)
    with np.errstate(all="raise"):
        s = fast.sigmoid(z)
    assert s.dtype == dt
    with np.errstate(over="ignore"):
        want = 1 / (1 + np.exp(-z.astype(np.longdouble)))
    # within 4 ulp of the correctly rounded value (subnormals: within 2 of the smallest step)
    np.testing.assert_allclose(s, want.astype(dt), rtol=4 * np.finfo(dt).eps,
                               atol=2 * np.finfo(dt).smallest_subnormal)
    assert s[0] == 0 and s[-1] == 1 and fast.sigmoid(np.array([0.0]))[0] == 0.5
    assert np.isnan(fast.sigmoid(np.array([np.nan], dtype=dt))[0])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gates_saturate_without_overflow(dt):
    """Pre-activations of +-1000 give exact 0/1 gates and no warnings."""
    n, d, h = 2, 3, 4
    x = np.full((n, d), 1000, dtype=dt)
    Wx = np.tile(np.array([1, -1], dtype=dt), (d, 2 * h))[:, : 4 * h]
    with np.errstate(all="raise"):
        nh, nc, cache = fast.lstm_step_forward(x, np.zeros((n, h), dt), np.ones((n, h), dt), Wx, np.zeros((h, 4 * h), dt), np.zeros(4 * h, dt))
    assert np.all(np.isfinite(nh)) and np.all(np.isin(cache.gates, [0, 1, -1]))


def test_drop_in_module_uses_the_fast_kernels():
    assert rnn_layers.lstm_forward is fast.lstm_forward
    assert rnn_layers.rnn_step_backward is fast.rnn_step_backward


@pytest.mark.parametrize(
    "args, match",
    [
        (dict(h0=np.zeros((3, 5))), "h0 must have shape"),
        (dict(Wx=np.zeros((4, 5))), "Wx must have shape"),
        (dict(Wh=np.zeros((5, 4))), "Wh must have shape"),
        (dict(b=np.zeros(6)), "b must have shape"),
        (dict(x=np.zeros((2, 4))), "x must be a 3-D array"),
        (dict(x=np.zeros((2, 0, 4))), "x"),
    ],
)
def test_bad_input(args, match):
    good = dict(x=np.zeros((2, 3, 4)), h0=np.zeros((2, 5)), Wx=np.zeros((4, 20)), Wh=np.zeros((5, 20)), b=np.zeros(20))
    good.update(args)
    with pytest.raises(ValueError, match=match):
        fast.lstm_forward(**good)


def test_bad_gradient_and_cache():
    h, cache = fast.rnn_forward(np.zeros((2, 3, 4)), np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5))
    with pytest.raises(ValueError, match="dh must have shape"):
        fast.rnn_backward(np.zeros((2, 3, 4)), cache)
    with pytest.raises(TypeError, match="cache must be the LSTMCache"):
        fast.lstm_backward(np.zeros((2, 3, 5)), cache)
    with pytest.raises(TypeError, match="dh must be a real numeric array"):
        fast.rnn_backward(np.zeros((2, 3, 5), dtype=complex), cache)


@pytest.mark.parametrize("module", [fast, reference], ids=["fast", "reference"])
def test_lstm_step_requires_prev_c(module):
    with pytest.raises(TypeError, match="prev_c must be an array"):
        module.lstm_step_forward(np.zeros((2, 3)), np.zeros((2, 4)), None, np.zeros((3, 16)),
                                 np.zeros((4, 16)), np.zeros(16))


def test_kernels_reject_none_buffers():
    from cs231n_fast._ext import rnn as k

    z = np.zeros(4)
    with pytest.raises(TypeError):
        k.activation(0, z, None, 1)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_sequence_blas_leading_dimension_checked_in_backward(monkeypatch, rng, kind):
    # The sequence kernels address one time step's rows of a (N, T, G*H) array with the
    # leading dimension T * G * H, a C int for SciPy's BLAS. The fast forward checks it; the
    # backward must too, as its cache may come from the reference forward (no checks). The
    # limit is lowered so the check can be seen at small sizes: 3 * 4 = 12 > 5 while every
    # matrix dimension (N * T = 3, D = 2, G * H = 4 or 1... ) stays <= 5.
    g, hd = (1, 4) if kind == "rnn" else (4, 1)
    x, h0 = rng.standard_normal((1, 3, 2)), rng.standard_normal((1, hd))
    wx, wh, b = rng.standard_normal((2, g * hd)), rng.standard_normal((hd, g * hd)), rng.standard_normal(g * hd)
    forward = reference.rnn_forward if kind == "rnn" else reference.lstm_forward
    backward = fast.rnn_backward if kind == "rnn" else fast.lstm_backward
    h, cache = forward(x, h0, wx, wh, b)
    monkeypatch.setattr(fast, "_INT_MAX", 5)
    match = r"T \* 4 = 12 exceeds the 2\*\*31 - 1 that BLAS accepts as a row stride"
    with pytest.raises(ValueError, match=match):
        (fast.rnn_forward if kind == "rnn" else fast.lstm_forward)(x, h0, wx, wh, b)
    with pytest.raises(ValueError, match=match):
        backward(rng.standard_normal(h.shape), cache)
