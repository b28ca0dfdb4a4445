"""The models' fast paths (no input gradient, fused L2 term, fused affine + ReLU) give the
gradients of the full path written with the public course functions."""

import numpy as np
import pytest

from cs231n_fast import layer_utils as LU
from cs231n_fast import layers as L
from cs231n_fast import nn, rnn_layers
from cs231n_fast.classifiers.cnn import ThreeLayerConvNet
from cs231n_fast.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n_fast.classifiers.rnn import CaptioningRNN


def _l2(reg, params, grads, names):
    """The course's L2 term on top of the full path's gradients (NumPy)."""
    penalty = 0.0
    for name in names:
        w = params[name]
        penalty += 0.5 * reg * float(np.sum(w.astype(np.float64) ** 2))
        grads[name] = grads[name] + reg * w
    return penalty


def _assert_same(loss, grads, want_loss, want_grads, rel=1e-12):
    assert loss == pytest.approx(want_loss, rel=rel)
    assert sorted(grads) == sorted(want_grads)
    for k in want_grads:
        assert grads[k].dtype == want_grads[k].dtype, k
        np.testing.assert_array_equal(grads[k], want_grads[k], err_msg=k)


def _fc_full_path(model, X, y):
    p, L_ = model.params, model.num_layers
    X = X.astype(model.dtype)
    if model.use_dropout:
        model.dropout_param["mode"] = "train"
    for bn in model.bn_params:
        if model.normalization == "batchnorm":
            bn["mode"] = "train"
    fwd, bwd = {
        None: (LU.affine_relu_forward, LU.affine_relu_backward),
        "batchnorm": (LU.affine_bn_relu_forward, LU.affine_bn_relu_backward),
        "layernorm": (LU.affine_ln_relu_forward, LU.affine_ln_relu_backward),
    }[model.normalization]
    out, caches = X, []
    for i in range(1, L_):
        norm = () if model.normalization is None else (p[f"gamma{i}"], p[f"beta{i}"], model.bn_params[i - 1])
        out, cache = fwd(out, p[f"W{i}"], p[f"b{i}"], *norm)
        drop = None
        if model.use_dropout:
            out, drop = L.dropout_forward(out, model.dropout_param)
        caches.append((cache, drop))
    scores, last = L.affine_forward(out, p[f"W{L_}"], p[f"b{L_}"])
    loss, dscores = L.softmax_loss(scores, y)
    grads = {}
    dout, grads[f"W{L_}"], grads[f"b{L_}"] = L.affine_backward(dscores, last)
    for i in range(L_ - 1, 0, -1):
        cache, drop = caches[i - 1]
        if drop is not None:
            dout = L.dropout_backward(dout, drop)
        dout, grads[f"W{i}"], grads[f"b{i}"], *dn = bwd(dout, cache)
        assert dout is not None  # the public path computes dx, also of X
        if dn:
            grads[f"gamma{i}"], grads[f"beta{i}"] = dn
    loss += _l2(model.reg, p, grads, [f"W{i}" for i in range(1, L_ + 1)])
    return loss, grads


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("keep", [1, 0.5])
@pytest.mark.parametrize("hidden", [[20, 15], [], [7]], ids=["two-hidden", "softmax", "one-hidden"])
def test_fully_connected_net_grads_equal_the_full_path(rng, dtype, normalization, keep, hidden):
    model = FullyConnectedNet(hidden, input_dim=3 * 4 * 5, num_classes=6, dropout_keep_ratio=keep,
                              normalization=normalization, reg=0.3, weight_scale=0.1, dtype=dtype, seed=3)
    X = rng.standard_normal((9, 3, 4, 5))
    y = rng.integers(0, 6, 9)
    want_loss, want_grads = _fc_full_path(model, X, y)
    loss, grads = model.loss(X, y)
    _assert_same(loss, grads, want_loss, want_grads, rel=1e-12 if dtype == np.float64 else 1e-6)


def test_two_layer_net_grads_equal_the_full_path(rng):
    model = TwoLayerNet(input_dim=30, hidden_dim=17, num_classes=4, weight_scale=0.1, reg=0.7, seed=1)
    X = rng.standard_normal((6, 5, 6))
    y = rng.integers(0, 4, 6)
    p = model.params
    h, c1 = LU.affine_relu_forward(X, p["W1"], p["b1"])
    s, c2 = L.affine_forward(h, p["W2"], p["b2"])
    want_loss, ds = L.softmax_loss(s, y)
    want = {}
    dh, want["W2"], want["b2"] = L.affine_backward(ds, c2)
    dx, want["W1"], want["b1"] = LU.affine_relu_backward(dh, c1)
    assert dx.shape == X.shape
    want_loss += _l2(0.7, p, want, ["W1", "W2"])
    loss, grads = model.loss(X, y)
    _assert_same(loss, grads, want_loss, want)


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_three_layer_convnet_grads_equal_the_full_path(rng, dtype, backend):
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=9,
                              num_classes=5, weight_scale=0.1, reg=0.2, dtype=dtype, seed=2, backend=backend)
    X = rng.standard_normal((3, 3, 8, 8)).astype(dtype)
    y = rng.integers(0, 5, 3)
    p = model.params
    kernels = LU._KERNELS[backend]
    conv, pool = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    o1, c1 = LU._conv_relu_pool_forward(X, p["W1"], p["b1"], conv, pool, kernels)
    o2, c2 = LU.affine_relu_forward(o1, p["W2"], p["b2"])
    s, c3 = L.affine_forward(o2, p["W3"], p["b3"])
    want_loss, ds = L.softmax_loss(s, y)
    want = {}
    d2, want["W3"], want["b3"] = L.affine_backward(ds, c3)
    d1, want["W2"], want["b2"] = LU.affine_relu_backward(d2, c2)
    dx, want["W1"], want["b1"] = LU._conv_relu_pool_backward(d1, c1, kernels)
    assert dx.shape == X.shape
    want_loss += _l2(0.2, p, want, ["W1", "W2", "W3"])
    loss, grads = model.loss(X, y)
    _assert_same(loss, grads, want_loss, want, rel=1e-12 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("first", ["affine", "conv", "relu-first"])
def test_sequential_loss_grads_equal_the_full_backward(rng, first):
    if first == "conv":
        layers = [nn.Conv2D(2, 3, 3, pad=1, dtype=np.float64, seed=0), nn.ReLU(), nn.Flatten(),
                  nn.Affine(3 * 4 * 4, 5, dtype=np.float64, seed=1)]
        X = rng.standard_normal((4, 2, 4, 4))
    elif first == "affine":
        layers = [nn.Affine(32, 6, dtype=np.float64, seed=0), nn.ReLU(), nn.Affine(6, 5, dtype=np.float64, seed=1)]
        X = rng.standard_normal((4, 2, 4, 4))
    else:
        layers = [nn.Flatten(), nn.ReLU(), nn.Affine(32, 5, dtype=np.float64, seed=1)]
        X = rng.standard_normal((4, 2, 4, 4))
    model = nn.Sequential(*layers, reg=0.4)
    y = rng.integers(0, 5, 4)
    scores = model.forward(X)
    want_loss, ds = L.softmax_loss(scores, y)
    dx = model.backward(ds)
    assert dx.shape == X.shape
    want = {k: g.copy() for k, g in model.grads.items()}
    params = model.params
    names = [k for k in params if k.rsplit(".", 1)[-1] in ("W", "w")]
    want_loss += _l2(0.4, params, want, names)
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for k in want:
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-13, atol=1e-15, err_msg=k)


def test_captioning_rnn_grads_equal_the_full_path(rng):
    words = ["<NULL>", "<START>", "<END>", "a", "b", "c", "d"]
    w2i = {w: i for i, w in enumerate(words)}
    model = CaptioningRNN(w2i, input_dim=6, wordvec_dim=5, hidden_dim=8, cell_type="lstm", dtype=np.float64, seed=0)
    features = rng.standard_normal((3, 6))
    captions = rng.integers(0, len(words), size=(3, 6))
    p = model.params
    cin, cout = captions[:, :-1], captions[:, 1:]
    mask = cout != w2i["<NULL>"]
    h0 = features @ p["W_proj"] + p["b_proj"]
    x, ce = rnn_layers.word_embedding_forward(cin, p["W_embed"])
    h, cr = rnn_layers.lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    s, cv = rnn_layers.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    want_loss, ds = rnn_layers.temporal_softmax_loss(s, cout, mask)
    want = {}
    dh, want["W_vocab"], want["b_vocab"] = rnn_layers.temporal_affine_backward(ds, cv)
    dx, dh0, want["Wx"], want["Wh"], want["b"] = rnn_layers.lstm_backward(dh, cr)
    want["W_embed"] = rnn_layers.word_embedding_backward(dx, ce)
    want["W_proj"] = features.T @ dh0
    want["b_proj"] = dh0.sum(axis=0)
    loss, grads = model.loss(features, captions)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for k in want:
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-10, atol=1e-13, err_msg=k)


def test_models_do_not_compute_the_input_gradient(rng, monkeypatch):
    """The first layer's backward runs with need_dx=False (no dx product at all)."""
    from cs231n_fast.ops import linear

    seen = []
    real = linear._backward

    def spy(dout, x2, w, act, need_dx, reg, n_threads):
        seen.append((x2.shape, need_dx))
        return real(dout, x2, w, act, need_dx, reg, n_threads)

    monkeypatch.setattr(linear, "_backward", spy)
    model = FullyConnectedNet([7, 6], input_dim=12, num_classes=3, normalization="batchnorm", dtype=np.float64, seed=0)
    model.loss(rng.standard_normal((5, 12)), np.array([0, 1, 2, 0, 1]))
    assert seen == [((5, 6), True), ((5, 7), True), ((5, 12), False)]
    seen.clear()
    features = rng.standard_normal((2, 6))
    cap = CaptioningRNN({"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3}, input_dim=6, wordvec_dim=4,
                        hidden_dim=5, cell_type="rnn", dtype=np.float64, seed=0)
    cap.loss(features, np.array([[1, 3, 2], [1, 3, 3]]))
    assert ((2, 6), False) in seen  # the projection of the features


@pytest.mark.parametrize("dtype", [np.float16, np.dtype(">f8"), np.float32, np.float64])
def test_l2_penalty_any_float_dtype(dtype):
    # float16 and byte-swapped weights have no kernel: they take NumPy's path (not a KeyError).
    from cs231n_fast._model import l2_penalty

    w = np.arange(6, dtype=np.float64).reshape(2, 3).astype(dtype)
    g = np.ones((2, 3), dtype=dtype)
    grads = {"W1": g}
    penalty = l2_penalty(0.1, {"W1": w}, grads, ["W1"])
    assert penalty == pytest.approx(0.5 * 0.1 * 55.0, rel=1e-3)
    np.testing.assert_allclose(grads["W1"].astype(np.float64), 1 + 0.1 * np.arange(6).reshape(2, 3), rtol=1e-3)
