"""Recurrent layer classes (cs231n_fast.nn.recurrent) over the functional API."""

import numpy as np
import pytest
from helpers import assert_matches_reference, grad_error, numerical_grad

from cs231n_fast import rnn_layers
from cs231n_fast.nn import LSTM, RNN, Embedding, TemporalAffine

N, T, D, H = 3, 4, 5, 6

RECURRENT = {
    "rnn": (RNN, 1, rnn_layers.rnn_forward, rnn_layers.rnn_backward),
    "lstm": (LSTM, 4, rnn_layers.lstm_forward, rnn_layers.lstm_backward),
}


@pytest.fixture(params=sorted(RECURRENT))
def kind(request):
    return request.param


def _as64(layer):
    """A reference-backend twin of ``layer`` holding its parameters cast to float64."""
    twin = type(layer)(*_dims(layer), dtype=np.float64, backend="reference")
    twin.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    return twin


def _dims(layer):
    if isinstance(layer, (RNN, LSTM)):
        return layer.input_dim, layer.hidden_dim
    if isinstance(layer, Embedding):
        return layer.params["W"].shape
    return layer.params["w"].shape


def test_recurrent_layer_matches_functional_api(kind, dtype, rng):
    cls, gates, fwd, bwd = RECURRENT[kind]
    layer = cls(D, H, dtype=dtype, seed=0)
    layer.params["b"] = rng.standard_normal(gates * H).astype(dtype)  # a non-zero bias
    x = rng.standard_normal((N, T, D)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    h = layer(x, h0)
    ref, cache = fwd(x, h0, layer.params["Wx"], layer.params["Wh"], layer.params["b"])
    assert h.dtype == dtype and h.shape == (N, T, H)
    np.testing.assert_array_equal(h, ref)

    dh = rng.standard_normal((N, T, H)).astype(dtype)
    dx, dh0 = layer.backward(dh)
    rdx, rdh0, rdWx, rdWh, rdb = bwd(dh, cache)
    np.testing.assert_array_equal(dx, rdx)
    np.testing.assert_array_equal(dh0, rdh0)
    np.testing.assert_array_equal(layer.grads["Wx"], rdWx)
    np.testing.assert_array_equal(layer.grads["Wh"], rdWh)
    np.testing.assert_array_equal(layer.grads["b"], rdb)
    assert set(layer.grads) == set(layer.params) == {"Wx", "Wh", "b"}
    for k, p in layer.params.items():
        assert layer.grads[k].shape == p.shape and layer.grads[k].dtype == dtype, k
    assert dx.shape == x.shape and dx.dtype == dtype
    assert dh0.shape == h0.shape and dh0.dtype == dtype


def test_recurrent_param_shapes_and_init(kind):
    cls, gates, _, _ = RECURRENT[kind]
    layer = cls(200, 100, seed=1)
    p = layer.params
    assert p["Wx"].shape == (200, gates * 100) and p["Wh"].shape == (100, gates * 100)
    assert p["b"].shape == (gates * 100,) and not p["b"].any()
    assert all(a.dtype == np.float32 for a in p.values())
    assert abs(p["Wx"].std() - 1 / np.sqrt(200)) < 0.1 / np.sqrt(200)
    assert abs(p["Wh"].std() - 1 / np.sqrt(100)) < 0.1 / np.sqrt(100)
    again = cls(200, 100, seed=1)
    np.testing.assert_array_equal(again.params["Wh"], p["Wh"])
    assert not np.array_equal(cls(200, 100, seed=2).params["Wh"], p["Wh"])
    assert layer.grads == {"Wx": None, "Wh": None, "b": None}
    assert repr(layer) == f"{cls.__name__}(200, 100, dtype=float32, backend='fast')"
    assert repr(cls(2, 3, dtype=np.float64, backend="reference")) == (
        f"{cls.__name__}(2, 3, dtype=float64, backend='reference')"
    )


def test_recurrent_backends_agree(kind, dtype, rng):
    cls = RECURRENT[kind][0]
    fast = cls(D, H, dtype=dtype, seed=3)
    ref = _as64(fast)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    assert_matches_reference(fast(x, h0), ref(x.astype(np.float64), h0.astype(np.float64)), dtype, "h")
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    dx, dh0 = fast.backward(dh)
    rdx, rdh0 = ref.backward(dh.astype(np.float64))
    assert_matches_reference(dx, rdx, dtype, "dx")
    assert_matches_reference(dh0, rdh0, dtype, "dh0")
    for k in ("Wx", "Wh", "b"):
        assert_matches_reference(fast.grads[k], ref.grads[k], dtype, k)


def test_recurrent_default_h0_is_zeros(kind, rng):
    layer = RECURRENT[kind][0](D, H, dtype=np.float64, seed=4)
    x = rng.standard_normal((2, T, D))
    np.testing.assert_array_equal(layer(x), layer(x, np.zeros((2, H))))
    dx, dh0 = layer.backward(np.ones((2, T, H)))
    assert dx.shape == x.shape and dh0.shape == (2, H)


def test_lstm_forward_takes_c0(rng):
    layer = LSTM(D, H, dtype=np.float64, seed=5)
    x = rng.standard_normal((N, T, D))
    h0, c0 = rng.standard_normal((2, N, H))
    p = layer.params
    ref, cache = rnn_layers.lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"], c0)
    np.testing.assert_array_equal(layer(x, h0, c0), ref)
    assert not np.allclose(layer(x, h0), ref)  # c0 matters
    layer(x, h0, c0)
    dh = rng.standard_normal((N, T, H))
    dx, dh0 = layer.backward(dh)
    np.testing.assert_array_equal(dx, rnn_layers.lstm_backward(dh, cache)[0])


@pytest.mark.parametrize("wrt", ["x", "h0", "Wx", "Wh", "b"])
def test_recurrent_numerical_gradient(kind, wrt, rng):
    layer = RECURRENT[kind][0](3, 4, dtype=np.float64, seed=6)
    layer.params["b"] = 0.5 * rng.standard_normal(layer.params["b"].shape)
    inputs = {"x": rng.standard_normal((2, 3, 3)), "h0": rng.standard_normal((2, 4))}
    dh = rng.standard_normal((2, 3, 4))

    def f(value):
        if wrt in inputs:
            args = {**inputs, wrt: value}
        else:
            args = inputs
            layer.params[wrt] = value
        return layer(args["x"], args["h0"])

    start = inputs[wrt] if wrt in inputs else layer.params[wrt].copy()
    num = numerical_grad(f, start, dh)
    if wrt not in inputs:
        layer.params[wrt] = start
    layer(inputs["x"], inputs["h0"])
    dx, dh0 = layer.backward(dh)
    analytic = {"x": dx, "h0": dh0}.get(wrt, layer.grads.get(wrt))
    assert grad_error(analytic, num) < 1e-7, (wrt, grad_error(analytic, num))  # vs the gradient's scale (helpers.grad_error)


def test_embedding_matches_functional_and_reference(dtype, rng):
    layer = Embedding(7, 5, dtype=dtype, seed=0)
    W = layer.params["W"]
    assert W.shape == (7, 5) and W.dtype == dtype
    ids = rng.integers(0, 7, size=(N, T))
    out = layer(ids)
    ref, cache = rnn_layers.word_embedding_forward(ids, W)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out, W[ids])
    dout = rng.standard_normal((N, T, 5)).astype(dtype)
    assert layer.backward(dout) is None
    np.testing.assert_array_equal(layer.grads["W"], rnn_layers.word_embedding_backward(dout, cache))
    assert layer.grads["W"].shape == W.shape and layer.grads["W"].dtype == dtype
    twin = _as64(layer)
    assert_matches_reference(out, twin(ids), dtype, "out")
    twin.backward(dout.astype(np.float64))
    assert_matches_reference(layer.grads["W"], twin.grads["W"], dtype, "dW")
    expected = np.zeros((7, 5))
    np.add.at(expected, ids, dout.astype(np.float64))  # repeated ids accumulate
    assert_matches_reference(layer.grads["W"], expected, dtype, "dW by hand")


def test_embedding_init_and_repr():
    layer = Embedding(300, 200, seed=0)
    assert abs(layer.params["W"].std() - 0.01) < 0.001
    assert repr(layer) == "Embedding(300, 200, dtype=float32, backend='fast')"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        layer(np.array([[0, 300]]))  # a word id outside the vocabulary


def test_temporal_affine_matches_functional_and_reference(dtype, rng):
    layer = TemporalAffine(D, 7, dtype=dtype, seed=0)
    layer.params["b"] = rng.standard_normal(7).astype(dtype)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    out = layer(x)
    ref, cache = rnn_layers.temporal_affine_forward(x, layer.params["w"], layer.params["b"])
    np.testing.assert_array_equal(out, ref)
    assert out.shape == (N, T, 7) and out.dtype == dtype
    dout = rng.standard_normal((N, T, 7)).astype(dtype)
    dx = layer.backward(dout)
    rdx, rdw, rdb = rnn_layers.temporal_affine_backward(dout, cache)
    np.testing.assert_array_equal(dx, rdx)
    np.testing.assert_array_equal(layer.grads["w"], rdw)
    np.testing.assert_array_equal(layer.grads["b"], rdb)
    for k, p in layer.params.items():
        assert layer.grads[k].shape == p.shape and layer.grads[k].dtype == dtype
    twin = _as64(layer)
    x64 = x.astype(np.float64)
    assert_matches_reference(out, twin(x64), dtype, "out")
    assert_matches_reference(out, x64 @ twin.params["w"] + twin.params["b"], dtype, "out by hand")
    assert_matches_reference(dx, twin.backward(dout.astype(np.float64)), dtype, "dx")
    assert_matches_reference(layer.grads["w"], twin.grads["w"], dtype, "dw")


def test_temporal_affine_init_and_repr():
    layer = TemporalAffine(400, 50, dtype=np.float64, seed=0)
    assert abs(layer.params["w"].std() - 0.05) < 0.005 and not layer.params["b"].any()
    assert repr(layer) == "TemporalAffine(400, 50, dtype=float64, backend='fast')"


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: RNN(0, 4), ValueError, "input_dim"),
        (lambda: RNN(4, 0), ValueError, "hidden_dim"),
        (lambda: LSTM(4, -1), ValueError, "hidden_dim"),
        (lambda: LSTM(2.5, 4), TypeError, "input_dim"),
        (lambda: RNN(4, 4, dtype=np.int32), TypeError, "dtype"),
        (lambda: LSTM(4, 4, dtype=np.float16), TypeError, "dtype"),
        (lambda: RNN(4, 4, backend="gpu"), ValueError, "backend"),
        (lambda: LSTM(4, 4, n_threads=0), ValueError, "n_threads"),
        (lambda: Embedding(0, 4), ValueError, "vocab_size"),
        (lambda: Embedding(4, 0), ValueError, "embed_dim"),
        (lambda: Embedding(4, 4, dtype=np.int64), TypeError, "dtype"),
        (lambda: TemporalAffine(0, 4), ValueError, "input_dim"),
        (lambda: TemporalAffine(4, True), TypeError, "output_dim"),
        (lambda: TemporalAffine(4, 4, backend="torch"), ValueError, "backend"),
    ],
)
def test_recurrent_layers_bad_hyperparameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize(
    "layer, dout",
    [
        (RNN(2, 3), np.zeros((1, 1, 3), np.float32)),
        (LSTM(2, 3), np.zeros((1, 1, 3), np.float32)),
        (Embedding(4, 3), np.zeros((1, 1, 3), np.float32)),
        (TemporalAffine(2, 3), np.zeros((1, 1, 3), np.float32)),
    ],
    ids=["rnn", "lstm", "embedding", "affine"],
)
def test_recurrent_layers_backward_before_forward_raises(layer, dout):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(dout)


def test_recurrent_forward_rejects_wrong_input_dim(kind):
    layer = RECURRENT[kind][0](3, 4)
    with pytest.raises(ValueError, match="Wx"):
        layer(np.zeros((2, 5, 4), np.float32), np.zeros((2, 4), np.float32))
