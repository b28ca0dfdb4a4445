"""The NumPy twin of the recurrent and sequence layers (reference.rnn).

Pinned by centred-difference gradient checks (float64, every input of every backward), the
course notebook's published forward values, hand-written scalar loops, and the relations
between the step and sequence functions. The compiled kernels are tested against this module,
so it has to be right on its own.
"""

import math

import numpy as np
import pytest
from helpers import numerical_grad, rel_error

from cs231n_fast._cache import (
    EmbeddingCache,
    LSTMCache,
    RNNCache,
    TemporalAffineCache,
)
from cs231n_fast.reference import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    sigmoid,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

N, T, D, H, V, M = 3, 4, 5, 6, 7, 8

#: max |analytic - numerical| / max |numerical|; centred differences with h = 1e-6 in float64
#: are good to ~1e-9 here, a wrong gradient is off by O(1).
GRAD_TOL = 1e-7


def assert_grad(analytic, numeric, what):
    assert analytic.shape == numeric.shape, f"{what}: shape {analytic.shape} != {numeric.shape}"
    scale = float(np.max(np.abs(numeric)))
    assert scale > 1e-6, f"{what}: degenerate test, numerical gradient is ~0"
    err = float(np.max(np.abs(analytic - numeric))) / scale
    rel = rel_error(analytic, numeric)
    assert err < GRAD_TOL, f"{what}: scaled error {err:.3e} (rel_error {rel:.3e})"


def check_gradients(forward, inputs, douts, grads):
    """Compare each analytic gradient in ``grads`` (name -> array) with the numerical gradient
    of ``sum_k sum(forward(**inputs)[k] * douts[k])`` with respect to ``inputs[name]``."""
    for name, analytic in grads.items():

        def f(a, name=name):
            outs = forward(**{**inputs, name: a})
            return sum(np.sum(o * d) for o, d in zip(outs, douts))

        assert_grad(analytic, numerical_grad(f, inputs[name], 1.0), name)


def rnn_params(rng, gates, seq=True, scale=0.5):
    x = rng.standard_normal((N, T, D) if seq else (N, D))
    h0 = rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, gates * H)) * scale
    Wh = rng.standard_normal((H, gates * H)) * scale
    b = rng.standard_normal(gates * H) * scale
    return x, h0, Wx, Wh, b


# --- numerical gradient checks -------------------------------------------------------------------


def test_rnn_step_backward_gradcheck(rng):
    x, h, Wx, Wh, b = rnn_params(rng, 1, seq=False)
    next_h, cache = rnn_step_forward(x, h, Wx, Wh, b)
    dnext_h = rng.standard_normal(next_h.shape)
    dx, dh, dWx, dWh, db = rnn_step_backward(dnext_h, cache)
    check_gradients(
        lambda **k: (rnn_step_forward(**k)[0],),
        dict(x=x, prev_h=h, Wx=Wx, Wh=Wh, b=b),
        [dnext_h],
        dict(x=dx, prev_h=dh, Wx=dWx, Wh=dWh, b=db),
    )


def test_rnn_backward_gradcheck(rng):
    x, h0, Wx, Wh, b = rnn_params(rng, 1)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    dh = rng.standard_normal(h.shape)
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
    check_gradients(
        lambda **k: (rnn_forward(**k)[0],),
        dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b),
        [dh],
        dict(x=dx, h0=dh0, Wx=dWx, Wh=dWh, b=db),
    )


def test_lstm_step_backward_gradcheck(rng):
    x, h, Wx, Wh, b = rnn_params(rng, 4, seq=False)
    c = rng.standard_normal((N, H))
    next_h, next_c, cache = lstm_step_forward(x, h, c, Wx, Wh, b)
    dnext_h = rng.standard_normal(next_h.shape)
    dnext_c = rng.standard_normal(next_c.shape)
    dx, dh, dc, dWx, dWh, db = lstm_step_backward(dnext_h, dnext_c, cache)
    check_gradients(
        lambda **k: lstm_step_forward(**k)[:2],
        dict(x=x, prev_h=h, prev_c=c, Wx=Wx, Wh=Wh, b=b),
        [dnext_h, dnext_c],
        dict(x=dx, prev_h=dh, prev_c=dc, Wx=dWx, Wh=dWh, b=db),
    )


@pytest.mark.parametrize("with_c0", [False, True], ids=["c0-none", "c0-given"])
def test_lstm_backward_gradcheck(rng, with_c0):
    x, h0, Wx, Wh, b = rnn_params(rng, 4)
    c0 = rng.standard_normal((N, H)) if with_c0 else None
    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    dh = rng.standard_normal(h.shape)
    dx, dh0, dWx, dWh, db = lstm_backward(dh, cache)
    check_gradients(
        lambda **k: (lstm_forward(**k, c0=c0)[0],),
        dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b),
        [dh],
        dict(x=dx, h0=dh0, Wx=dWx, Wh=dWh, b=db),
    )


def test_word_embedding_backward_gradcheck(rng):
    ids = rng.integers(0, V, size=(N, T))
    ids[0, :2] = ids[1, 3] = 2  # repeated ids must accumulate
    W = rng.standard_normal((V, D))
    out, cache = word_embedding_forward(ids, W)
    dout = rng.standard_normal(out.shape)
    dW = word_embedding_backward(dout, cache)
    check_gradients(lambda W: (word_embedding_forward(ids, W)[0],), dict(W=W), [dout], dict(W=dW))


def test_temporal_affine_backward_gradcheck(rng):
    x = rng.standard_normal((N, T, D))
    w = rng.standard_normal((D, M))
    b = rng.standard_normal(M)
    out, cache = temporal_affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = temporal_affine_backward(dout, cache)
    check_gradients(
        lambda **k: (temporal_affine_forward(**k)[0],),
        dict(x=x, w=w, b=b),
        [dout],
        dict(x=dx, w=dw, b=db),
    )


def test_temporal_softmax_loss_gradcheck(rng):
    x = rng.standard_normal((N, T, V))
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) < 0.7
    mask[0, 0], mask[0, 1] = True, False
    loss, dx = temporal_softmax_loss(x, y, mask)
    num = numerical_grad(lambda a: temporal_softmax_loss(a, y, mask)[0], x, 1.0)
    assert_grad(dx, num, "x")


# --- forward values ----------------------------------------------------------------------------
# The course notebook's published values (assignment 3, RNN_Captioning / LSTM_Captioning), printed
# to 8 decimals.


def test_rnn_step_forward_course_values():
    n, d, h = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=n * d).reshape(n, d)
    prev_h = np.linspace(-0.2, 0.5, num=n * h).reshape(n, h)
    Wx = np.linspace(-0.1, 0.9, num=d * h).reshape(d, h)
    Wh = np.linspace(-0.3, 0.7, num=h * h).reshape(h, h)
    b = np.linspace(-0.2, 0.4, num=h)
    next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
    expected = [
        [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
        [0.66854692, 0.79562378, 0.87755553, 0.92795967],
        [0.97934501, 0.99144213, 0.99646691, 0.99854353],
    ]
    np.testing.assert_allclose(next_h, expected, rtol=0, atol=1e-8)


def test_rnn_forward_course_values():
    n, t, d, h = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=n * t * d).reshape(n, t, d)
    h0 = np.linspace(-0.3, 0.1, num=n * h).reshape(n, h)
    Wx = np.linspace(-0.2, 0.4, num=d * h).reshape(d, h)
    Wh = np.linspace(-0.4, 0.1, num=h * h).reshape(h, h)
    b = np.linspace(-0.7, 0.1, num=h)
    out, _ = rnn_forward(x, h0, Wx, Wh, b)
    expected = [
        [
            [-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
            [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
            [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525],
        ],
        [
            [-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
            [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
            [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043],
        ],
    ]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-8)


def test_lstm_step_forward_course_values():
    n, d, h = 3, 4, 5
    x = np.linspace(-0.4, 1.2, num=n * d).reshape(n, d)
    prev_h = np.linspace(-0.3, 0.7, num=n * h).reshape(n, h)
    prev_c = np.linspace(-0.4, 0.9, num=n * h).reshape(n, h)
    Wx = np.linspace(-2.1, 1.3, num=4 * d * h).reshape(d, 4 * h)
    Wh = np.linspace(-0.7, 2.2, num=4 * h * h).reshape(h, 4 * h)
    b = np.linspace(0.3, 0.7, num=4 * h)
    next_h, next_c, _ = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    expected_h = [
        [0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
        [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
        [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299],
    ]
    expected_c = [
        [0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
        [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
        [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676],
    ]
    np.testing.assert_allclose(next_h, expected_h, rtol=0, atol=1e-8)
    np.testing.assert_allclose(next_c, expected_c, rtol=0, atol=1e-8)


def test_lstm_forward_course_values():
    n, d, h, t = 2, 5, 4, 3
    x = np.linspace(-0.4, 0.6, num=n * t * d).reshape(n, t, d)
    h0 = np.linspace(-0.4, 0.8, num=n * h).reshape(n, h)
    Wx = np.linspace(-0.2, 0.9, num=4 * d * h).reshape(d, 4 * h)
    Wh = np.linspace(-0.3, 0.6, num=4 * h * h).reshape(h, 4 * h)
    b = np.linspace(0.2, 0.7, num=4 * h)
    out, _ = lstm_forward(x, h0, Wx, Wh, b)
    expected = [
        [
            [0.01764008, 0.01823233, 0.01882671, 0.0194232],
            [0.11287491, 0.12146228, 0.13018446, 0.13902939],
            [0.31358768, 0.33338627, 0.35304453, 0.37250975],
        ],
        [
            [0.45767879, 0.4761092, 0.4936887, 0.51041945],
            [0.6704845, 0.69350089, 0.71486014, 0.7346449],
            [0.81733511, 0.83677871, 0.85403753, 0.86935314],
        ],
    ]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-8)


def test_rnn_step_forward_matches_scalar_formula(rng):
    n, d, h = 2, 3, 2
    x, prev_h = rng.standard_normal((n, d)), rng.standard_normal((n, h))
    Wx, Wh, b = rng.standard_normal((d, h)), rng.standard_normal((h, h)), rng.standard_normal(h)
    next_h, cache = rnn_step_forward(x, prev_h, Wx, Wh, b)
    for i in range(n):
        for j in range(h):
            a = b[j] + sum(x[i, k] * Wx[k, j] for k in range(d))
            a += sum(prev_h[i, k] * Wh[k, j] for k in range(h))
            assert next_h[i, j] == pytest.approx(math.tanh(a), rel=1e-13, abs=1e-15)
    assert cache.next_h is next_h


def test_lstm_step_forward_matches_scalar_formula(rng):
    n, d, h = 2, 3, 2
    x, prev_h, prev_c = (rng.standard_normal(s) for s in ((n, d), (n, h), (n, h)))
    Wx, Wh = rng.standard_normal((d, 4 * h)), rng.standard_normal((h, 4 * h))
    b = rng.standard_normal(4 * h)
    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)

    def logistic(z):
        return 1.0 / (1.0 + math.exp(-z))

    for i in range(n):
        a = [
            b[j]
            + sum(x[i, k] * Wx[k, j] for k in range(d))
            + sum(prev_h[i, k] * Wh[k, j] for k in range(h))
            for j in range(4 * h)
        ]
        for j in range(h):
            ig, fg, og = logistic(a[j]), logistic(a[h + j]), logistic(a[2 * h + j])
            gg = math.tanh(a[3 * h + j])
            c = fg * prev_c[i, j] + ig * gg
            assert next_c[i, j] == pytest.approx(c, rel=1e-13, abs=1e-15)
            assert next_h[i, j] == pytest.approx(og * math.tanh(c), rel=1e-13, abs=1e-15)
            gates = cache.gates[i, [j, h + j, 2 * h + j, 3 * h + j]]
            np.testing.assert_allclose(gates, [ig, fg, og, gg], rtol=1e-13)
            assert cache.tanh_c[i, j] == pytest.approx(math.tanh(c), rel=1e-13, abs=1e-15)


def test_rnn_forward_is_a_loop_of_steps(rng):
    x, h0, Wx, Wh, b = rnn_params(rng, 1)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    assert isinstance(cache, RNNCache) and cache.h is h
    prev = h0
    for t in range(T):
        prev, _ = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        np.testing.assert_array_equal(h[:, t], prev)
    # ... and the backward is the step backward run in reverse time.
    dh = rng.standard_normal(h.shape)
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
    dprev = np.zeros((N, H))
    sums = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for t in reversed(range(T)):
        prev_h = h0 if t == 0 else h[:, t - 1]
        _, step = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        dx_t, dprev, *dparams = rnn_step_backward(dh[:, t] + dprev, step)
        np.testing.assert_allclose(dx[:, t], dx_t, rtol=1e-13, atol=1e-15)
        for s, g in zip(sums, dparams):
            s += g
    np.testing.assert_allclose(dh0, dprev, rtol=1e-13, atol=1e-15)
    for got, want in zip((dWx, dWh, db), sums):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_lstm_forward_is_a_loop_of_steps(rng):
    x, h0, Wx, Wh, b = rnn_params(rng, 4)
    c0 = rng.standard_normal((N, H))
    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    assert isinstance(cache, LSTMCache) and cache.h is h
    prev_h, prev_c = h0, c0
    for t in range(T):
        prev_h, prev_c, step = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        np.testing.assert_array_equal(h[:, t], prev_h)
        np.testing.assert_array_equal(cache.c[:, t], prev_c)
        np.testing.assert_array_equal(cache.gates[:, t], step.gates)
        np.testing.assert_array_equal(cache.tanh_c[:, t], step.tanh_c)
    np.testing.assert_array_equal(cache.c0, c0)


def test_lstm_c0_none_means_zeros(rng):
    x, h0, Wx, Wh, b = rnn_params(rng, 4)
    h_none, cache_none = lstm_forward(x, h0, Wx, Wh, b)
    h_zero, cache_zero = lstm_forward(x, h0, Wx, Wh, b, c0=np.zeros((N, H)))
    np.testing.assert_array_equal(h_none, h_zero)
    assert isinstance(cache_none.c0, np.ndarray)
    assert cache_none.c0.shape == (N, H) and cache_none.c0.dtype == np.float64
    assert not cache_none.c0.any()
    dh = rng.standard_normal(h_none.shape)
    for a, b_ in zip(lstm_backward(dh, cache_none), lstm_backward(dh, cache_zero)):
        np.testing.assert_array_equal(a, b_)
    # A non-zero c0 does change the result (so the argument is not ignored).
    h_c, _ = lstm_forward(x, h0, Wx, Wh, b, c0=np.ones((N, H)))
    assert not np.allclose(h_c, h_none)


# --- sigmoid -----------------------------------------------------------------------------------


def test_sigmoid_extremes_without_warnings():
    x = np.array([-1000.0, -745.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(all="raise"):
        s = sigmoid(x)
        s32 = sigmoid(x.astype(np.float32))
    assert s[0] == 0.0 and s[3] == 0.5 and s[-1] == 1.0 and s[-2] == 1.0
    assert 0 < s[2] < 1e-21
    assert s32[0] == 0.0 and s32[3] == 0.5 and s32[-1] == 1.0
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(s32))


def test_sigmoid_values_and_dtypes(rng):
    x = rng.uniform(-30, 30, size=(4, 5))
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(sigmoid(x) + sigmoid(-x), 1.0, rtol=1e-15)  # symmetry
    assert sigmoid(x).dtype == np.float64
    # float32 against float64 on the float32 values themselves: rounding x to float32 alone
    # moves sigmoid by up to |x| * 2**-24 relative (1.8e-6 at |x| = 30), which a comparison
    # with the float64 x charged to the function (0.5% of seeds failed). What is left is
    # NumPy's float32 exp (a few ulp, its SIMD variant chosen per CPU) and two roundings:
    # measured at most 2.8e-7 over 4e7 points; rtol 1e-6 leaves 3.6x.
    x32 = np.concatenate([x.ravel(), rng.uniform(-30, 30, 100_000)]).astype(np.float32)
    s32 = sigmoid(x32)
    assert s32.dtype == np.float32
    x64 = x32.astype(np.float64)
    np.testing.assert_allclose(s32, 1 / (1 + np.exp(-x64)), rtol=1e-6, atol=0)
    assert sigmoid(np.arange(-2, 3)).dtype == np.float64  # integers -> float64
    assert sigmoid(0.0) == 0.5 and np.ndim(sigmoid(0.0)) == 0
    assert np.isnan(sigmoid(np.array([np.nan])))[0]
    x_copy = x.copy()
    sigmoid(x)
    np.testing.assert_array_equal(x, x_copy)
    with pytest.raises(TypeError, match="x must be a real numeric"):
        sigmoid(np.array([1 + 2j]))


# --- word embedding and temporal affine ------------------------------------------------------


def test_word_embedding_forward_values_and_repeated_ids():
    x = np.array([[0, 3, 1, 2], [2, 1, 0, 3]])
    W = np.linspace(0, 1, num=5 * 3).reshape(5, 3)
    out, cache = word_embedding_forward(x, W)
    assert out.shape == (2, 4, 3)
    for n in range(2):
        for t in range(4):
            np.testing.assert_array_equal(out[n, t], W[x[n, t]])
    assert isinstance(cache, EmbeddingCache) and cache.W_shape == (5, 3)

    dout = np.arange(2 * 4 * 3, dtype=np.float64).reshape(2, 4, 3)
    dW = word_embedding_backward(dout, cache)
    for i in range(5):
        expected = np.zeros(3)
        for n in range(2):
            for t in range(4):
                if x[n, t] == i:
                    expected += dout[n, t]
        np.testing.assert_array_equal(dW[i], expected)
    assert not dW[4].any()  # word 4 never occurs


def test_temporal_affine_forward_values(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    out, cache = temporal_affine_forward(x, w, b)
    assert isinstance(cache, TemporalAffineCache) and cache.out_shape == (2, 3, 5)
    for n in range(2):
        for t in range(3):
            np.testing.assert_allclose(out[n, t], x[n, t] @ w + b, rtol=1e-13)


# --- temporal softmax loss -----------------------------------------------------------------------


def softmax_loss_loop(x, y, mask):
    """The definition, one position at a time, with math.exp/math.log."""
    n_, t_, v_ = x.shape
    loss = 0.0
    dx = np.zeros_like(x, dtype=np.float64)
    for n in range(n_):
        for t in range(t_):
            if not mask[n, t]:
                continue
            m = max(x[n, t])
            z = [math.exp(s - m) for s in x[n, t]]
            total = sum(z)
            loss -= math.log(z[y[n, t]] / total) / n_
            for k in range(v_):
                dx[n, t, k] = (z[k] / total - (k == y[n, t])) / n_
    return loss, dx


def test_temporal_softmax_loss_matches_loop(rng):
    x = rng.standard_normal((N, T, V)) * 3
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) < 0.6
    mask[1, 2] = True
    loss, dx = temporal_softmax_loss(x, y, mask)
    want_loss, want_dx = softmax_loss_loop(x, y, mask)
    assert isinstance(loss, float)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n, t, v", [(3, 4, 7), (100, 1, 10), (2, 10, 10)])
def test_temporal_softmax_loss_uniform_scores(rng, n, t, v):
    y = rng.integers(0, v, size=(n, t))
    loss, dx = temporal_softmax_loss(np.zeros((n, t, v)), y, np.ones((n, t), dtype=bool))
    assert loss == pytest.approx(t * math.log(v), rel=1e-12)
    onehot = np.eye(v)[y]
    np.testing.assert_allclose(dx, (1 / v - onehot) / n, rtol=1e-12)
    # Half the positions masked: half the loss.
    mask = np.zeros((n, t), dtype=bool)
    mask.reshape(-1)[::2] = True
    loss_half, _ = temporal_softmax_loss(np.zeros((n, t, v)), y, mask)
    assert loss_half == pytest.approx(mask.sum() / n * math.log(v), rel=1e-12)


def test_temporal_softmax_loss_mask_semantics(rng):
    x = rng.standard_normal((N, T, V))
    y = rng.integers(0, V, size=(N, T))
    mask = np.ones((N, T), dtype=bool)
    mask[0, 1] = mask[2, 3] = mask[2, 0] = False
    loss, dx = temporal_softmax_loss(x, y, mask)
    assert not dx[~mask].any()  # exactly zero where the mask is false
    assert np.all(np.abs(dx[mask]).sum(axis=-1) > 0)
    # Whatever the scores at masked positions, the loss and the other gradients do not change.
    x2 = x.copy()
    x2[~mask] = rng.standard_normal((int((~mask).sum()), V)) * 100
    loss2, dx2 = temporal_softmax_loss(x2, y, mask)
    assert loss2 == loss
    np.testing.assert_array_equal(dx2, dx)
    # 0/1 integers and floats mean the same as booleans (the course's mask_flat * log(...)
    # computes with any of them); an all-false mask gives no loss at all.
    for dtype in (np.int64, np.uint8, np.float64, np.float32):
        loss_num, dx_num = temporal_softmax_loss(x, y, mask.astype(dtype))
        assert loss_num == loss
        np.testing.assert_array_equal(dx_num, dx)
    loss0, dx0 = temporal_softmax_loss(x, y, np.zeros((N, T), dtype=bool))
    assert loss0 == 0.0 and not dx0.any()


def test_temporal_softmax_loss_is_stable_for_huge_scores(rng):
    x = rng.standard_normal((N, T, V))
    y = rng.integers(0, V, size=(N, T))
    mask = np.ones((N, T), dtype=bool)
    loss, dx = temporal_softmax_loss(x, y, mask)
    for dtype in (np.float64, np.float32):
        with np.errstate(all="raise"):
            loss_big, dx_big = temporal_softmax_loss((x + 1e4).astype(dtype), y, mask)
        # Shifting every score by a constant changes nothing (up to the rounding of x + 1e4).
        tol = 1e-9 if dtype == np.float64 else 1e-2
        assert loss_big == pytest.approx(loss, rel=tol)
        np.testing.assert_allclose(dx_big, dx, rtol=tol, atol=tol)
    with np.errstate(all="raise"):
        spread = np.where(np.arange(V) == 0, 1e4, -1e4) * np.ones((N, T, 1))
        loss_s, dx_s = temporal_softmax_loss(spread, np.zeros((N, T), int), mask)
    assert loss_s == 0.0 and not dx_s.any()


def test_temporal_softmax_loss_verbose(capsys):
    args = np.zeros((2, 3, 4)), np.zeros((2, 3), int), np.ones((2, 3), bool)
    temporal_softmax_loss(*args, verbose=True)
    assert "(6, 4)" in capsys.readouterr().out
    temporal_softmax_loss(*args)
    assert capsys.readouterr().out == ""


# --- dtypes, caches, inputs unchanged ------------------------------------------------------------


def run_everything(rng, dtype, gdtype=None):
    """Call every forward and backward once; return {name: array} of all outputs and the inputs."""
    gdtype = gdtype or dtype
    x, h0, Wx, Wh, b = (a.astype(dtype) for a in rnn_params(rng, 1))
    xl, h0l, Wxl, Whl, bl = (a.astype(dtype) for a in rnn_params(rng, 4))
    c0 = rng.standard_normal((N, H)).astype(dtype)
    ids = rng.integers(0, V, size=(N, T))
    W = rng.standard_normal((V, D)).astype(dtype)
    w_aff, b_aff = rng.standard_normal((H, M)).astype(dtype), rng.standard_normal(M).astype(dtype)
    y, mask = rng.integers(0, M, size=(N, T)), rng.random((N, T)) < 0.7
    inputs = [x, h0, Wx, Wh, b, xl, h0l, Wxl, Whl, bl, c0, ids, W, w_aff, b_aff, y, mask]
    copies = [a.copy() for a in inputs]

    def g(shape):
        return rng.standard_normal(shape).astype(gdtype)

    out = {}
    out["rnn_step"], c = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    names = ["rs_dx", "rs_dh", "rs_dWx", "rs_dWh", "rs_db"]
    out.update(zip(names, rnn_step_backward(g((N, H)), c)))
    out["rnn"], c = rnn_forward(x, h0, Wx, Wh, b)
    out.update(zip(["r_dx", "r_dh0", "r_dWx", "r_dWh", "r_db"], rnn_backward(g((N, T, H)), c)))
    out["lstm_step_h"], out["lstm_step_c"], c = lstm_step_forward(xl[:, 0], h0l, c0, Wxl, Whl, bl)
    names = ["ls_dx", "ls_dh", "ls_dc", "ls_dWx", "ls_dWh", "ls_db"]
    out.update(zip(names, lstm_step_backward(g((N, H)), g((N, H)), c)))
    out["lstm"], c = lstm_forward(xl, h0l, Wxl, Whl, bl, c0)
    out.update(zip(["l_dx", "l_dh0", "l_dWx", "l_dWh", "l_db"], lstm_backward(g((N, T, H)), c)))
    out["embed"], c = word_embedding_forward(ids, W)
    out["e_dW"] = word_embedding_backward(g((N, T, D)), c)
    out["affine"], c = temporal_affine_forward(out["rnn"], w_aff, b_aff)
    out.update(zip(["a_dx", "a_dw", "a_db"], temporal_affine_backward(g((N, T, M)), c)))
    _, out["loss_dx"] = temporal_softmax_loss(out["affine"], y, mask)
    return out, inputs, copies


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(rng, dtype):
    out, _, _ = run_everything(rng, dtype)
    for name, a in out.items():
        assert a.dtype == dtype, name


def test_float32_caches_and_mixed_inputs(rng):
    x, h0, Wx, Wh, b = (a.astype(np.float32) for a in rnn_params(rng, 4))
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    for field in ("x", "h0", "c0", "Wx", "Wh", "h", "c", "gates", "tanh_c"):
        assert getattr(cache, field).dtype == np.float32, field
    # One float64 input (here c0) and everything is computed in float64.
    h64, cache64 = lstm_forward(x, h0, Wx, Wh, b, c0=np.zeros((N, H)))
    assert h64.dtype == np.float64 and cache64.x.dtype == np.float64
    np.testing.assert_allclose(h64, h, rtol=1e-5, atol=1e-6)
    # Integer inputs are computed in float64.
    out, _ = rnn_step_forward(np.ones((2, 3), int), np.zeros((2, 4), int), np.ones((3, 4), int),
                              np.ones((4, 4), int), np.zeros(4, int))
    assert out.dtype == np.float64
    emb, c = word_embedding_forward(np.array([[1, 2]]), np.arange(12).reshape(4, 3))
    assert emb.dtype == np.float64 and c.dtype == np.float64


def test_inputs_not_modified(rng):
    _, inputs, copies = run_everything(rng, np.float64)
    for a, c in zip(inputs, copies):
        np.testing.assert_array_equal(a, c)


def test_backward_inputs_not_modified(rng):
    x, h0, Wx, Wh, b = rnn_params(rng, 4)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    dh = rng.standard_normal(h.shape)
    dh_copy, h_copy, c_copy = dh.copy(), h.copy(), cache.c.copy()
    lstm_backward(dh, cache)
    np.testing.assert_array_equal(dh, dh_copy)
    np.testing.assert_array_equal(cache.h, h_copy)
    np.testing.assert_array_equal(cache.c, c_copy)
    scores = rng.standard_normal((N, T, V))
    scores_copy = scores.copy()
    temporal_softmax_loss(scores, rng.integers(0, V, (N, T)), np.ones((N, T), bool))
    np.testing.assert_array_equal(scores, scores_copy)


# --- bad input -----------------------------------------------------------------------------------


def _bad_cases():
    rng = np.random.default_rng(0)
    x, h0, Wx, Wh, b = rnn_params(rng, 4)
    x1, h1, Wx1, Wh1, b1 = rnn_params(rng, 1)
    c = np.zeros((N, H))
    ids = rng.integers(0, V, (N, T))
    W = rng.standard_normal((V, D))
    s = rng.standard_normal((N, T, V))
    mask = np.ones((N, T), bool)
    return [
        # recurrent forwards
        (
            "rnn-h0-batch",
            lambda: rnn_forward(x1, h1[:2], Wx1, Wh1, b1),
            ValueError,
            r"h0 must have shape \(N, H\) with the batch size N = 3",
        ),
        (
            "rnn-x-2d",
            lambda: rnn_forward(x1[:, 0], h1, Wx1, Wh1, b1),
            ValueError,
            r"x must be a 3-D array of shape \(N, T, D\)",
        ),
        (
            "rnn-step-x-3d",
            lambda: rnn_step_forward(x1, h1, Wx1, Wh1, b1),
            ValueError,
            r"x must be a 2-D array of shape \(N, D\)",
        ),
        (
            "rnn-step-prev_h-batch",
            lambda: rnn_step_forward(x1[:, 0], h1[:1], Wx1, Wh1, b1),
            ValueError,
            r"prev_h must have shape \(N, H\)",
        ),
        (
            "rnn-Wx",
            lambda: rnn_forward(x1, h1, Wx1[:-1], Wh1, b1),
            ValueError,
            r"Wx must have shape \(5, 6\)",
        ),
        (
            "lstm-Wx-3H",
            lambda: lstm_forward(x, h0, Wx[:, : 3 * H], Wh, b),
            ValueError,
            r"Wx must have shape \(5, 24\) \(\(D, 4H\)",
        ),
        (
            "lstm-Wh-HxH",
            lambda: lstm_forward(x, h0, Wx, Wh[:, :H], b),
            ValueError,
            r"Wh must have shape \(6, 24\) \(\(H, 4H\)",
        ),
        (
            "lstm-b-H",
            lambda: lstm_forward(x, h0, Wx, Wh, b[:H]),
            ValueError,
            r"b must have shape \(24,\) \(\(4H,\)",
        ),
        (
            "lstm-b-2d",
            lambda: lstm_forward(x, h0, Wx, Wh, b[None]),
            ValueError,
            r"b must be a 1-D array",
        ),
        (
            "lstm-c0-shape",
            lambda: lstm_forward(x, h0, Wx, Wh, b, c[:, :2]),
            ValueError,
            r"c0 must have shape \(3, 6\)",
        ),
        (
            "lstm-step-prev_c-none",
            lambda: lstm_step_forward(x[:, 0], h0, None, Wx, Wh, b),
            TypeError,
            "prev_c must be an array",
        ),
        (
            "lstm-step-prev_c-shape",
            lambda: lstm_step_forward(x[:, 0], h0, c[:2], Wx, Wh, b),
            ValueError,
            r"prev_c must have shape \(3, 6\)",
        ),
        (
            "lstm-x-complex",
            lambda: lstm_forward(x + 0j, h0, Wx, Wh, b),
            TypeError,
            "x must be a real numeric array",
        ),
        (
            "lstm-h0-bool",
            lambda: lstm_forward(x, h0 > 0, Wx, Wh, b),
            TypeError,
            "h0 must be a real numeric array",
        ),
        (
            "lstm-x-empty",
            lambda: lstm_forward(x[:, :0], h0, Wx, Wh, b),
            ValueError,
            "x must have no zero-size dimension",
        ),
        # recurrent backwards
        (
            "rnn-dh-shape",
            lambda: rnn_backward(np.zeros((N, T - 1, H)), rnn_forward(x1, h1, Wx1, Wh1, b1)[1]),
            ValueError,
            r"dh must have shape \(3, 4, 6\)",
        ),
        (
            "rnn-wrong-cache",
            lambda: rnn_backward(np.zeros((N, T, H)), lstm_forward(x, h0, Wx, Wh, b)[1]),
            TypeError,
            "cache must be the RNNCache returned by rnn_forward; got LSTMCache",
        ),
        (
            "rnn-step-tuple-cache",
            lambda: rnn_step_backward(np.zeros((N, H)), (x1, h1)),
            TypeError,
            "cache must be the RNNStepCache returned by rnn_step_forward; got tuple",
        ),
        (
            "lstm-dh-2d",
            lambda: lstm_backward(np.zeros((N, H)), lstm_forward(x, h0, Wx, Wh, b)[1]),
            ValueError,
            r"dh must be a 3-D array of shape \(N, T, H\)",
        ),
        (
            "lstm-wrong-cache",
            lambda: lstm_backward(np.zeros((N, T, H)), rnn_forward(x1, h1, Wx1, Wh1, b1)[1]),
            TypeError,
            "cache must be the LSTMCache",
        ),
        (
            "lstm-step-dnext_c",
            lambda: lstm_step_backward(np.zeros((N, H)), np.zeros((N, H + 1)), lstm_step_forward(x[:, 0], h0, c, Wx, Wh, b)[2]),
            ValueError,
            r"dnext_c must have shape \(3, 6\)",
        ),
        (
            "lstm-step-dnext_h-complex",
            lambda: lstm_step_backward(np.zeros((N, H), complex), np.zeros((N, H)), lstm_step_forward(x[:, 0], h0, c, Wx, Wh, b)[2]),
            TypeError,
            "dnext_h must be a real numeric",
        ),
        (
            "lstm-step-rnn-cache",
            lambda: lstm_step_backward(np.zeros((N, H)), np.zeros((N, H)), rnn_step_forward(x1[:, 0], h1, Wx1, Wh1, b1)[1]),
            TypeError,
            "cache must be the LSTMStepCache",
        ),
        # embedding
        (
            "embed-id-too-big",
            lambda: word_embedding_forward(np.full((N, T), V), W),
            ValueError,
            rf"x holds word id {V}, outside the vocabulary \[0, {V}\)",
        ),
        (
            "embed-id-negative",
            lambda: word_embedding_forward(ids - ids.max() - 1, W),
            ValueError,
            r"x holds word id -\d+, outside the vocabulary",
        ),
        (
            "embed-float-ids",
            lambda: word_embedding_forward(ids.astype(float), W),
            TypeError,
            "x must be an integer array of word ids",
        ),
        (
            "embed-ids-1d",
            lambda: word_embedding_forward(ids[0], W),
            ValueError,
            r"x must be a 2-D array of shape \(N, T\)",
        ),
        (
            "embed-W-1d",
            lambda: word_embedding_forward(ids, W[0]),
            ValueError,
            r"W must be a 2-D array of shape \(V, D\)",
        ),
        (
            "embed-dout-shape",
            lambda: word_embedding_backward(np.zeros((N, T, D + 1)), word_embedding_forward(ids, W)[1]),
            ValueError,
            r"dout must have shape \(3, 4, 5\)",
        ),
        (
            "embed-wrong-cache",
            lambda: word_embedding_backward(np.zeros((N, T, D)), temporal_affine_forward(s, W, np.zeros(D))[1]),
            TypeError,
            "cache must be the EmbeddingCache returned by word_embedding_forward",
        ),
        # temporal affine
        (
            "affine-w-rows",
            lambda: temporal_affine_forward(s, W.T, np.zeros(V)),
            ValueError,
            rf"w must have shape \(D, M\) with D = {V}",
        ),
        (
            "affine-b",
            lambda: temporal_affine_forward(s, W, np.zeros(V)),
            ValueError,
            rf"b must have shape \(M,\) = \({D},\)",
        ),
        (
            "affine-x-2d",
            lambda: temporal_affine_forward(s[0], W, np.zeros(D)),
            ValueError,
            r"x must be a 3-D array of shape \(N, T, D\)",
        ),
        (
            "affine-dout-shape",
            lambda: temporal_affine_backward(np.zeros((N, T, D + 1)), temporal_affine_forward(s, W, np.zeros(D))[1]),
            ValueError,
            r"dout must have shape \(3, 4, 5\)",
        ),
        (
            "affine-wrong-cache",
            lambda: temporal_affine_backward(np.zeros((N, T, D)), word_embedding_forward(ids, W)[1]),
            TypeError,
            "cache must be the TemporalAffineCache",
        ),
        # softmax loss
        (
            "loss-mask-shape",
            lambda: temporal_softmax_loss(s, ids, mask[:, :2]),
            ValueError,
            r"mask must have shape \(3, 4\)",
        ),
        (
            "loss-mask-1d",
            lambda: temporal_softmax_loss(s, ids, mask.ravel()),
            ValueError,
            r"mask must be a 2-D array",
        ),
        (
            "loss-mask-float-weights",
            lambda: temporal_softmax_loss(s, ids, mask * 0.25),
            ValueError,
            "mask must hold only booleans or the numbers 0 and 1",
        ),
        (
            "loss-mask-int-2",
            lambda: temporal_softmax_loss(s, ids, mask.astype(int) * 2),
            ValueError,
            r"mask must hold only booleans or the numbers 0 and 1 \(a weighted loss is not supported\); got 2",
        ),
        (
            "loss-y-shape",
            lambda: temporal_softmax_loss(s, ids[:, :2], mask),
            ValueError,
            r"y must have shape \(3, 4\)",
        ),
        (
            "loss-y-range",
            lambda: temporal_softmax_loss(s, ids + V, mask),
            ValueError,
            r"y holds word id \d+, outside the vocabulary \[0, 7\)",
        ),
        (
            "loss-y-float",
            lambda: temporal_softmax_loss(s, ids.astype(float), mask),
            TypeError,
            "y must be an integer array",
        ),
        (
            "loss-x-2d",
            lambda: temporal_softmax_loss(s[0], ids, mask),
            ValueError,
            r"x must be a 3-D array of shape \(N, T, V\)",
        ),
    ]


BAD = _bad_cases()


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
