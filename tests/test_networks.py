"""The course's networks: TwoLayerNet and FullyConnectedNet (classifiers.fc_net) and
ThreeLayerConvNet (classifiers.cnn).

Scores are checked against plain-NumPy forwards written out here, gradients against centred
differences of the loss, and training end to end with the Solver on the embedded digits.
"""

import copy
import math
import warnings

import numpy as np
import pytest
from helpers import assert_matches_reference, numerical_grad, rel_error
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from cs231n_fast import layer_utils
from cs231n_fast.classifiers.cnn import ThreeLayerConvNet
from cs231n_fast.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n_fast.data import get_digits_data
from cs231n_fast.solver import Solver
from cs231n_fast.reference.activations import dropout_keep, dropout_key

STEP = 2e-6  # centred-difference step
# Gradient check of a scalar loss: |analytic - numeric| <= GRAD_RTOL * (|analytic| + |numeric|)
# + GRAD_ATOL elementwise. The absolute part is the centred differences' own error: rounding
# of a loss of ~1 (~1e-16 / STEP) plus truncation (~STEP**2 * |f'''|), measured at up to
# ~1e-10 here (with STEP = 1e-5 the truncation reached 2e-9 on one draw, batchnorm over 4
# examples with dropout: W2's numeric gradient moved by 2e-9 at 1e-5 and 1.8e-8 at 3e-5,
# quadratically, and agreed with the analytic one to 4e-11 at 1e-6). Unlike a layer's dout,
# the loss cannot be redrawn until every gradient entry is large, so entries below ~1e-2 are
# checked to this absolute bound; larger ones to a relative error < 1e-7.
GRAD_RTOL = 1e-7
GRAD_ATOL = 1e-9
# Every ReLU input, and the gap between the two largest positive values of every pooling
# window, keeps at least MARGIN from its kink (a step of STEP moves them by ~STEP * 10 at most).
MARGIN = 1e-3
EPS = 1e-5  # the normalisations' default eps


@pytest.fixture(autouse=True)
def one_thread():
    """One BLAS and OpenMP thread. These matrices are tiny, so threads only add overhead (a
    lot of it when other processes compete for the cores), and BLAS rounding, which depends
    on its thread count, is then the same on every run: the training tests are reproducible."""
    with threadpool_limits(1):
        yield


# --- plain-NumPy forwards -----------------------------------------------------------------------


def np_fc_forward(model, X, train):
    """Scores of a FullyConnectedNet (or TwoLayerNet) and the input of every ReLU."""
    p = model.params
    num_layers = getattr(model, "num_layers", 2)
    normalization = getattr(model, "normalization", None)
    dropout = getattr(model, "use_dropout", False) and train
    out, relu_in = X.reshape(X.shape[0], -1), []
    for i in range(1, num_layers):
        a = out @ p[f"W{i}"] + p[f"b{i}"]
        if normalization == "batchnorm" and train:
            a = (a - a.mean(0)) / np.sqrt(a.var(0) + EPS) * p[f"gamma{i}"] + p[f"beta{i}"]
        elif normalization == "batchnorm":
            stats = model.bn_params[i - 1]
            a = (a - stats["running_mean"]) / np.sqrt(stats["running_var"] + EPS) * p[f"gamma{i}"] + p[f"beta{i}"]
        elif normalization == "layernorm":
            mean, var = a.mean(1, keepdims=True), a.var(1, keepdims=True)
            a = (a - mean) / np.sqrt(var + EPS) * p[f"gamma{i}"] + p[f"beta{i}"]
        relu_in.append(a)
        out = np.maximum(a, 0)
        if dropout:  # the counter-based mask of (seed, element index), spelled in NumPy
            keep = model.dropout_param["p"]
            out = out * dropout_keep(out.shape, dropout_key(model.dropout_param["seed"]), keep) / keep
    return out @ p[f"W{num_layers}"] + p[f"b{num_layers}"], relu_in


def np_cnn_forward(model, X, train=True):
    """Scores of a ThreeLayerConvNet, the ReLU inputs and the pooling windows' top-2 gaps."""
    p = model.params
    fs = p["W1"].shape[2]
    pad = (fs - 1) // 2
    xp = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    a1 = np.einsum("nchwij,fcij->nfhw", sliding_window_view(xp, (fs, fs), axis=(2, 3)), p["W1"])
    a1 = a1 + p["b1"][:, None, None]
    n, f, h, w = a1.shape
    r = np.maximum(a1, 0)[:, :, : h // 2 * 2, : w // 2 * 2]
    windows = r.reshape(n, f, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, f, h // 2, w // 2, 4)
    top2 = np.sort(windows, axis=-1)[..., -2:]
    gaps = (top2[..., 1] - top2[..., 0])[top2[..., 1] > 0]
    a2 = top2[..., 1].reshape(n, -1) @ p["W2"] + p["b2"]
    scores = np.maximum(a2, 0) @ p["W3"] + p["b3"]
    return scores, [a1, a2, gaps]


def oracle(model):
    return np_cnn_forward if isinstance(model, ThreeLayerConvNet) else np_fc_forward


# --- models for the checks ----------------------------------------------------------------------

# FullyConnectedNet variants: (normalization, dropout_keep_ratio)
FC_VARIANTS = {
    "plain": (None, 1),
    "batchnorm": ("batchnorm", 1),
    "layernorm": ("layernorm", 1),
    "dropout": (None, 0.6),
    "batchnorm_dropout": ("batchnorm", 0.7),
}


def small_model(kind, reg=0.0, dtype=np.float64, seed=0, **kw):
    """A small model and the (N, ...) input shape and class count that go with it."""
    if kind == "two_layer":
        return TwoLayerNet(6, 7, 4, weight_scale=0.5, reg=reg, seed=seed), (4, 6), 4
    if kind == "cnn":
        m = ThreeLayerConvNet((2, 4, 4), num_filters=3, filter_size=3, hidden_dim=5, num_classes=3,
                              weight_scale=0.5, reg=reg, dtype=dtype, seed=seed, **kw)
        return m, (2, 2, 4, 4), 3
    normalization, keep = FC_VARIANTS[kind]
    m = FullyConnectedNet([7, 5], input_dim=6, num_classes=4, dropout_keep_ratio=keep,
                          normalization=normalization, reg=reg, weight_scale=0.5, dtype=dtype, seed=seed)
    return m, (4, 2, 3), 4


def kink_free(rng, kind, reg=0.0, **kw):
    """A small model with random biases, gammas and betas (zero biases would put every ReLU of
    a dead layer's successors exactly at its kink), and data ``(X, y)``, such that every ReLU
    input and pooling gap keeps MARGIN from its kink."""
    for attempt in range(100):
        model, shape, c = small_model(kind, reg, seed=attempt, **kw)
        for k, val in model.params.items():
            if not k.startswith("W"):
                sign = rng.choice([-1.0, 1.0], val.shape)
                model.params[k] = (sign * rng.uniform(0.5, 1.5, val.shape)).astype(val.dtype)
        X, y = rng.standard_normal(shape), rng.integers(0, c, shape[0])
        _, watched = oracle(model)(model, X, train=True)
        if all(np.min(np.abs(a)) > MARGIN for a in watched if a.size):
            return model, X, y
    raise AssertionError("test data: no draw kept every kink MARGIN away")


def batchnorm_biases(model):
    """The biases that feed a batch normalisation, whose gradient is identically zero."""
    if getattr(model, "normalization", None) != "batchnorm":
        return set()
    return {f"b{i}" for i in range(1, model.num_layers)}


def numerical_loss_grads(model, X, y):
    """Centred-difference gradient of ``model.loss(X, y)[0]`` for every parameter."""
    grads = {}
    for name, param in list(model.params.items()):

        def f(a, name=name):
            model.params[name] = a
            return model.loss(X, y)[0]

        grads[name] = numerical_grad(f, param, 1.0, h=STEP)
        model.params[name] = param
    return grads


def assert_gradients_match(grads, num):
    assert grads.keys() == num.keys()
    for name, g in grads.items():
        assert g.shape == num[name].shape, name
        bound = GRAD_RTOL * (np.abs(g) + np.abs(num[name])) + GRAD_ATOL
        err = np.abs(g - num[name])
        assert np.all(err <= bound), f"{name}: rel error {rel_error(g, num[name]):.2e}, abs {err.max():.2e}"


ALL_KINDS = ["two_layer", *FC_VARIANTS, "cnn"]


# --- gradients ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reg", [0.0, 0.7], ids=["reg0", "reg"])
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_network_loss_gradcheck(rng, kind, reg):
    model, X, y = kink_free(rng, kind, reg)
    loss, grads = model.loss(X, y)
    assert isinstance(loss, float)
    assert_gradients_match(grads, numerical_loss_grads(model, X, y))


def test_fc_net_no_hidden_layers_gradcheck(rng):
    # hidden_dims=[]: a softmax classifier, affine - softmax.
    model = FullyConnectedNet([], input_dim=6, num_classes=4, reg=0.3, weight_scale=0.5, dtype=np.float64, seed=0)
    X, y = rng.standard_normal((5, 6)), rng.integers(0, 4, 5)
    assert set(model.params) == {"W1", "b1"}
    _, grads = model.loss(X, y)
    assert_gradients_match(grads, numerical_loss_grads(model, X, y))


@pytest.mark.parametrize("kind", ["batchnorm", "batchnorm_dropout"])
def test_fc_net_batchnorm_bias_gradient_is_zero(rng, kind):
    # Batch normalisation subtracts the batch mean, so the bias before it has no effect.
    model, X, y = kink_free(rng, kind)
    _, grads = model.loss(X, y)
    assert len(batchnorm_biases(model)) == model.num_layers - 1
    for b in batchnorm_biases(model):
        assert np.max(np.abs(grads[b])) < 1e-12
    assert np.max(np.abs(grads[f"b{model.num_layers}"])) > 1e-3


def test_network_regularization_adds_half_reg_sum_of_squared_weights(rng):
    for kind in ALL_KINDS:
        model, X, y = kink_free(rng, kind)
        loss0, grads0 = model.loss(X, y)
        model.reg = 0.7
        loss, grads = model.loss(X, y)
        weights = [k for k in model.params if k.startswith("W")]
        penalty = 0.5 * 0.7 * sum(np.sum(model.params[k] ** 2) for k in weights)
        assert loss == pytest.approx(loss0 + penalty, rel=1e-12), kind
        for k, g in grads.items():  # only the weights are regularised
            extra = 0.7 * model.params[k] if k in weights else 0
            np.testing.assert_allclose(g, grads0[k] + extra, rtol=1e-12, atol=1e-15, err_msg=f"{kind} {k}")


# --- forward, modes and dtypes ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_network_train_loss_matches_numpy(rng, kind):
    model, X, y = kink_free(rng, kind)
    scores, _ = oracle(model)(model, X, train=True)
    shifted = scores - scores.max(axis=1, keepdims=True)
    expected = np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y])
    assert model.loss(X, y)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_network_loss_without_y_returns_test_scores(rng, kind):
    model, X, y = kink_free(rng, kind)
    model.loss(X, y)  # a train step first: batchnorm then has running statistics
    scores = model.loss(X)
    expected, _ = oracle(model)(model, X, train=False)  # dropout off, batchnorm on running stats
    assert scores.shape == (X.shape[0], expected.shape[1])
    assert_matches_reference(scores, expected, np.float64, kind)
    if getattr(model, "use_dropout", False):
        assert model.dropout_param["mode"] == "test"
    if getattr(model, "normalization", None) == "batchnorm":
        assert all(bn_param["mode"] == "test" for bn_param in model.bn_params)


def test_fc_net_modes_and_running_stats(rng):
    model, X, y = kink_free(rng, "batchnorm_dropout")
    assert model.use_dropout and model.dropout_param == {"mode": "train", "p": 0.7, "seed": 0}
    model.loss(X, y)
    assert model.dropout_param["mode"] == "train"
    first = [dict(bn) for bn in model.bn_params]
    for bn in first:  # one step from zeros with the default momentum 0.9
        assert bn["mode"] == "train" and np.any(bn["running_mean"] != 0)
    model.loss(X)  # test mode: running statistics untouched
    for bn, before in zip(model.bn_params, first):
        np.testing.assert_array_equal(bn["running_mean"], before["running_mean"])
        np.testing.assert_array_equal(bn["running_var"], before["running_var"])


@pytest.mark.parametrize("kind", ["two_layer", "plain", "cnn"])
def test_network_initial_loss_is_log_num_classes(rng, kind):
    # Weights of std 1e-3 give scores ~1e-5: the softmax is nearly uniform, loss ~ log(C).
    if kind == "two_layer":
        model, X = TwoLayerNet(64, 20, 10, seed=1), rng.standard_normal((20, 64))
    elif kind == "plain":
        model, X = FullyConnectedNet([20, 20], 64, 10, weight_scale=1e-3, seed=1), rng.standard_normal((20, 64))
    else:
        model, X = ThreeLayerConvNet((1, 8, 8), 8, 3, 20, seed=1), rng.standard_normal((20, 1, 8, 8))
    y = rng.integers(0, 10, 20)
    loss, _ = model.loss(X, y)
    assert abs(loss - math.log(10)) < 1e-3
    # The course's sanity check: regularisation makes the loss go up.
    model.reg = 0.5
    assert model.loss(X, y)[0] > loss


@pytest.mark.parametrize("kind", ["plain", "batchnorm", "layernorm", "dropout", "cnn"])
def test_network_float32_model_gives_float32(rng, kind):
    model, shape, c = small_model(kind, dtype=np.float32)
    X, y = rng.standard_normal(shape), rng.integers(0, c, shape[0])  # float64 X is cast
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert model.loss(X).dtype == np.float32
    loss, grads = model.loss(X, y)
    assert isinstance(loss, float)
    assert all(grads[k].dtype == np.float32 for k in model.params)
    # and agrees with the float64 computation on the same parameters
    model64, _, _ = small_model(kind, dtype=np.float64)
    model64.params = {k: p.astype(np.float64) for k, p in model.params.items()}
    loss64, grads64 = model64.loss(X, y)
    assert loss == pytest.approx(loss64, rel=1e-5)
    for k in grads:
        if k in batchnorm_biases(model):  # rounding noise around 0 in either dtype
            assert np.max(np.abs(grads[k])) < 1e-6
        else:
            assert_matches_reference(grads[k], grads64[k], np.float32, k)


def test_network_loss_leaves_inputs_unchanged(rng):
    for kind in ALL_KINDS:
        model, X, y = kink_free(rng, kind)
        params = {k: p.copy() for k, p in model.params.items()}
        X_copy, y_copy = X.copy(), y.copy()
        model.loss(X, y)
        model.loss(X)
        np.testing.assert_array_equal(X, X_copy)
        np.testing.assert_array_equal(y, y_copy)
        for k, p in params.items():
            np.testing.assert_array_equal(model.params[k], p)


# --- initialisation -----------------------------------------------------------------------------


def test_two_layer_net_course_notebook_values():
    # The course's notebook check: fixed parameters, expected scores and losses as published.
    N, D, H, C = 3, 5, 50, 7
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3, seed=231)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    correct_scores = np.asarray([
        [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
        [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
        [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319],
    ])  # fmt: skip
    assert np.abs(model.loss(X) - correct_scores).sum() < 1e-6
    y = np.asarray([0, 5, 1])
    assert abs(model.loss(X, y)[0] - 3.4702243556) < 1e-10
    model.reg = 1.0
    assert abs(model.loss(X, y)[0] - 26.5948426952) < 1e-10


def test_two_layer_net_init(rng):
    model = TwoLayerNet(input_dim=300, hidden_dim=200, num_classes=7, weight_scale=1e-2, reg=0.1, seed=3)
    p = model.params
    assert list(p) == ["W1", "b1", "W2", "b2"] and model.reg == 0.1
    assert {k: v.shape for k, v in p.items()} == {"W1": (300, 200), "b1": (200,), "W2": (200, 7), "b2": (7,)}
    assert all(v.dtype == np.float64 for v in p.values())
    assert abs(p["W1"].std() - 1e-2) < 1e-3 and abs(p["W2"].std() - 1e-2) < 1e-3
    assert not p["b1"].any() and not p["b2"].any()


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: TwoLayerNet(20, 10, 5, seed=seed),
        lambda seed: FullyConnectedNet([10, 8], 20, 5, normalization="layernorm", seed=seed),
        lambda seed: ThreeLayerConvNet((2, 6, 6), 4, 3, 10, 5, seed=seed),
    ],
    ids=["two_layer", "fc_net", "cnn"],
)
def test_network_seed_draws_course_weights_from_private_state(make):
    # seed=s gives the weights the course's code (np.random) draws after np.random.seed(s), and
    # leaves the global state alone; seed=None draws from the global state, as the course.
    np.random.seed(5)
    state = np.random.get_state()
    seeded = make(231)
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(state, after))
    np.random.seed(231)
    unseeded = make(None)
    assert list(seeded.params) == list(unseeded.params)
    for k in seeded.params:
        np.testing.assert_array_equal(seeded.params[k], unseeded.params[k])
    again = make(None)
    assert not np.array_equal(again.params["W1"], seeded.params["W1"])


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fc_net_init_params_and_attributes(normalization):
    model = FullyConnectedNet([5, 4, 3], input_dim=6, num_classes=2, normalization=normalization,
                              weight_scale=0.3, reg=0.2, seed=1)
    p = model.params
    dims = [6, 5, 4, 3, 2]
    expected = {}
    for i in range(1, 5):
        expected[f"W{i}"], expected[f"b{i}"] = (dims[i - 1], dims[i]), (dims[i],)
        if normalization and i < 4:
            expected[f"gamma{i}"], expected[f"beta{i}"] = (dims[i],), (dims[i],)
    assert {k: v.shape for k, v in p.items()} == expected
    assert all(v.dtype == np.float32 for v in p.values())
    for k, v in p.items():
        if k.startswith("gamma"):
            assert np.all(v == 1)
        elif not k.startswith("W"):
            assert not v.any()
    assert model.num_layers == 4 and model.reg == 0.2 and model.dtype == np.float32
    assert model.normalization == normalization
    assert model.use_dropout is False and model.dropout_param == {}
    bn_params = {None: [], "batchnorm": [{"mode": "train"}] * 3, "layernorm": [{}] * 3}[normalization]
    assert model.bn_params == bn_params
    assert len({id(bn) for bn in model.bn_params}) == len(model.bn_params)  # one dict per layer
    drop = FullyConnectedNet([5], input_dim=6, dropout_keep_ratio=0.5)
    assert drop.use_dropout and drop.dropout_param == {"mode": "train", "p": 0.5}


@pytest.mark.parametrize("H, W", [(8, 8), (5, 7)])
def test_cnn_init_shapes(H, W):
    model = ThreeLayerConvNet((3, H, W), num_filters=6, filter_size=5, hidden_dim=11, num_classes=4, seed=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"W1": (6, 3, 5, 5), "b1": (6,), "W2": (6 * (H // 2) * (W // 2), 11), "b2": (11,),
                      "W3": (11, 4), "b3": (4,)}  # fmt: skip
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert model.input_dim == (3, H, W) and model.backend == "fast" and model.reg == 0.0


def test_cnn_odd_input_size_scores_match_numpy(rng):
    model = ThreeLayerConvNet((2, 5, 7), num_filters=3, filter_size=3, hidden_dim=6, num_classes=4,
                              weight_scale=0.3, dtype=np.float64, seed=0)
    X = rng.standard_normal((3, 2, 5, 7))
    assert_matches_reference(model.loss(X), np_cnn_forward(model, X)[0], np.float64)


# --- backends -----------------------------------------------------------------------------------


def test_cnn_reference_backend_matches_fast(rng, dtype):
    fast, shape, c = small_model("cnn", reg=0.3, dtype=dtype)
    ref, _, _ = small_model("cnn", reg=0.3, dtype=dtype, backend="reference")
    assert ref.backend == "reference"
    for k in fast.params:
        np.testing.assert_array_equal(fast.params[k], ref.params[k])
    X, y = rng.standard_normal(shape).astype(dtype), rng.integers(0, c, shape[0])
    assert_matches_reference(fast.loss(X), ref.loss(X).astype(np.float64), dtype, "scores")
    loss, grads = fast.loss(X, y)
    loss_ref, grads_ref = ref.loss(X, y)
    assert loss == pytest.approx(loss_ref, rel={np.float64: 1e-12, np.float32: 1e-5}[dtype.type])
    for k in grads:
        assert_matches_reference(grads[k], grads_ref[k].astype(np.float64), dtype, k)


@pytest.mark.parametrize("backend, calls", [("reference", 1), ("fast", 0)])
def test_cnn_backend_selects_kernels(rng, monkeypatch, backend, calls):
    import cs231n_fast.reference as reference

    counts = {"conv_forward": 0, "maxpool_forward": 0}
    for name in counts:

        def spy(*args, name=name, real=getattr(reference, name), **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(reference, name, spy)
    model, shape, c = small_model("cnn", backend=backend)
    model.loss(rng.standard_normal(shape), rng.integers(0, c, shape[0]))
    assert counts == {"conv_forward": calls, "maxpool_forward": calls}


# --- bad input ----------------------------------------------------------------------------------

BAD_INIT = [
    (lambda: TwoLayerNet(input_dim=0), ValueError, "input_dim"),
    (lambda: TwoLayerNet(hidden_dim=2.5), TypeError, "hidden_dim"),
    (lambda: TwoLayerNet(num_classes=-1), ValueError, "num_classes"),
    (lambda: TwoLayerNet(weight_scale=float("nan")), ValueError, "weight_scale"),
    (lambda: TwoLayerNet(reg=float("nan")), ValueError, "reg"),
    (lambda: TwoLayerNet(reg="0.1"), TypeError, "reg"),
    (lambda: TwoLayerNet(seed=-1), ValueError, "seed"),
    (lambda: TwoLayerNet(seed=2**32), ValueError, "seed"),
    (lambda: TwoLayerNet(seed=1.5), TypeError, "seed"),
    (lambda: TwoLayerNet(10, 5, 3, 1e-3, 0.0, 1), TypeError, "positional"),  # seed is keyword-only
    (lambda: FullyConnectedNet("32"), TypeError, "hidden_dims"),
    (lambda: FullyConnectedNet(5), TypeError, "hidden_dims"),
    (lambda: FullyConnectedNet([5, 0]), ValueError, r"hidden_dims\[1\]"),
    (lambda: FullyConnectedNet([5], normalization="groupnorm"), ValueError, "normalization"),
    (lambda: FullyConnectedNet([5], normalization="BatchNorm"), ValueError, "normalization"),
    (lambda: FullyConnectedNet([5], normalization=["batchnorm"]), ValueError, "normalization"),
    (lambda: FullyConnectedNet([5], dropout_keep_ratio=0), ValueError, "dropout_keep_ratio"),
    (lambda: FullyConnectedNet([5], dropout_keep_ratio=1.5), ValueError, "dropout_keep_ratio"),
    (lambda: FullyConnectedNet([5], dropout_keep_ratio=-0.5), ValueError, "dropout_keep_ratio"),
    (lambda: FullyConnectedNet([5], dropout_keep_ratio=None), TypeError, "dropout_keep_ratio"),
    (lambda: FullyConnectedNet([5], dtype=np.int32), TypeError, "dtype"),
    (lambda: FullyConnectedNet([5], dtype=object), TypeError, "dtype"),
    (lambda: FullyConnectedNet([5], dtype="int64"), TypeError, "dtype"),
    (lambda: FullyConnectedNet([5], seed=-3), ValueError, "seed"),
    (lambda: FullyConnectedNet([5], input_dim=0), ValueError, "input_dim"),
    (lambda: FullyConnectedNet([5], weight_scale=float("inf")), ValueError, "weight_scale"),
    (lambda: ThreeLayerConvNet(input_dim=(3, 32)), ValueError, "input_dim"),
    (lambda: ThreeLayerConvNet(input_dim=(3, 1, 8)), ValueError, "input_dim"),
    (lambda: ThreeLayerConvNet(input_dim=(0, 8, 8)), ValueError, "input_dim"),
    (lambda: ThreeLayerConvNet(input_dim=(3, 8.0, 8)), TypeError, "input_dim"),
    (lambda: ThreeLayerConvNet(input_dim=32), TypeError, "input_dim"),
    (lambda: ThreeLayerConvNet(filter_size=4), ValueError, "filter_size"),
    (lambda: ThreeLayerConvNet(filter_size=0), ValueError, "filter_size"),
    (lambda: ThreeLayerConvNet(num_filters=0), ValueError, "num_filters"),
    (lambda: ThreeLayerConvNet(hidden_dim=0), ValueError, "hidden_dim"),
    (lambda: ThreeLayerConvNet(num_classes=0), ValueError, "num_classes"),
    (lambda: ThreeLayerConvNet(weight_scale="1e-3"), TypeError, "weight_scale"),
    (lambda: ThreeLayerConvNet(reg=-1), ValueError, "reg"),
    (lambda: ThreeLayerConvNet(dtype=np.complex64), TypeError, "dtype"),
    (lambda: ThreeLayerConvNet(backend="torch"), ValueError, "backend"),
    (lambda: ThreeLayerConvNet(backend=None), ValueError, "backend"),
    (lambda: ThreeLayerConvNet(seed="0"), TypeError, "seed"),
]


@pytest.mark.parametrize("make", [
    lambda **kw: TwoLayerNet(6, 5, 4, seed=3, **kw),
    lambda **kw: FullyConnectedNet([5, 4], input_dim=6, num_classes=3, seed=3, **kw),
    lambda **kw: ThreeLayerConvNet((2, 4, 4), num_filters=3, filter_size=3, hidden_dim=5,
                                   num_classes=3, seed=3, **kw),
])
def test_network_negative_weight_scale_is_the_course_initialisation(make):
    # The course draws weight_scale * randn(...): a negative scale is the same Gaussian,
    # the weights of the positive scale negated.
    pos, neg = make(weight_scale=2e-2), make(weight_scale=-2e-2)
    assert pos.params.keys() == neg.params.keys()
    for k in pos.params:
        if k.startswith("W"):
            np.testing.assert_array_equal(neg.params[k], -pos.params[k])


@pytest.mark.parametrize("kind", ["batchnorm", "layernorm", "cnn"])
def test_network_float16_model_computes_in_float64(rng, kind):
    # The course's models take any numpy float dtype (params are cast with astype(dtype)); a
    # float16 model here stores float16 parameters and computes in float64 on their values.
    half, shape, c = small_model(kind, dtype=np.float16)
    assert half.dtype == np.float16
    assert all(p.dtype == np.float16 for p in half.params.values())
    wide = copy.deepcopy(half)
    wide.dtype = np.dtype(np.float64)
    wide.params = {k: p.astype(np.float64) for k, p in half.params.items()}
    X, y = rng.standard_normal(shape), rng.integers(0, c, shape[0])
    loss, grads = half.loss(X, y)
    want_loss, want_grads = wide.loss(X.astype(np.float16).astype(np.float64), y)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for k in want_grads:
        assert grads[k].dtype == np.float64
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("call, exc, match", BAD_INIT)
def test_network_init_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# kind -> (good X shape, number of classes)
SHAPES = {"two_layer": ((4, 6), 4), "batchnorm": ((4, 2, 3), 4), "cnn": ((2, 2, 4, 4), 3)}
BAD_LOSS = [
    ("two_layer", (4, 7), None, ValueError, "X must have shape"),
    ("two_layer", (6,), None, ValueError, "X must have shape"),
    ("batchnorm", (0, 6), None, ValueError, "X must have shape"),
    ("batchnorm", (4, 3, 3), None, ValueError, "X must have shape"),
    ("cnn", (2, 2, 4, 5), None, ValueError, "X must have shape"),
    ("cnn", (2, 4, 4, 2), None, ValueError, "X must have shape"),
    ("cnn", (2, 32), None, ValueError, "X must have shape"),
    ("cnn", "complex", None, TypeError, "X must be"),
    ("two_layer", None, [0, 1, 2, 4], ValueError, r"y must hold class labels in \[0, num_classes\)"),
    ("batchnorm", None, [0, 1, -1, 2], ValueError, "y must"),
    ("batchnorm", None, [0, 1, 2], ValueError, "y must"),
    ("cnn", None, [0.0, 1.0], TypeError, "y must"),
    ("cnn", None, [[0, 1]], ValueError, "y must"),
    ("cnn", None, [0, 3], ValueError, "y must hold class labels"),
]


@pytest.mark.parametrize("kind, X_shape, y, exc, match", BAD_LOSS)
def test_network_loss_bad_input(rng, kind, X_shape, y, exc, match):
    model, _, _ = small_model(kind)
    good_shape, c = SHAPES[kind]
    if X_shape is None:
        X_shape = good_shape
    X = rng.standard_normal(good_shape).astype(complex) if X_shape == "complex" else rng.standard_normal(X_shape)
    if y is None and X_shape == good_shape:
        y = rng.integers(0, c, good_shape[0])
    modes = [dict(bn) for bn in getattr(model, "bn_params", [])]
    with pytest.raises(exc, match=match):
        model.loss(X, y)
    assert [dict(bn) for bn in getattr(model, "bn_params", [])] == modes  # no state changed


def test_network_star_imports_give_course_names():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fc, cnn = {}, {}
        exec("from cs231n_fast.classifiers.fc_net import *", fc)
        exec("from cs231n_fast.classifiers.cnn import *", cnn)
    # The course's modules star-import layers and layer_utils: notebooks rely on it.
    assert {"TwoLayerNet", "FullyConnectedNet", *layer_utils.__all__} <= set(fc)
    assert {"ThreeLayerConvNet", *layer_utils.__all__} <= set(cnn)
    assert {"affine_forward", "softmax_loss", "batchnorm_forward", "conv_relu_pool_forward"} <= set(fc)


# --- end to end: the Solver on the embedded digits ----------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return get_digits_data()  # 1297 train / 250 val / 250 test images (1, 8, 8), seed 0


def _small_data(digits):
    """The first 50 training images (5 of each digit) and the validation set."""
    return {"X_train": digits["X_train"][:50], "y_train": digits["y_train"][:50],
            "X_val": digits["X_val"], "y_val": digits["y_val"]}  # fmt: skip


def _train(model, data, **options):
    solver = Solver(model, data, update_rule="adam", verbose=False, seed=0, **options)
    solver.train()
    return solver


def test_cnn_solver_overfits_small_data(digits):
    model = ThreeLayerConvNet((1, 8, 8), num_filters=16, filter_size=3, hidden_dim=64, weight_scale=0.1, seed=0)
    solver = _train(model, _small_data(digits), optim_config={"learning_rate": 5e-3}, num_epochs=25, batch_size=10)
    assert solver.train_acc_history[-1] == 1.0  # all 50, at the last iteration
    assert solver.loss_history[-1] < 0.1 < solver.loss_history[0]


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fc_net_solver_overfits_small_data(digits, normalization):
    model = FullyConnectedNet([64, 64], input_dim=64, normalization=normalization, weight_scale=0.1, seed=0)
    solver = _train(model, _small_data(digits), optim_config={"learning_rate": 5e-3}, num_epochs=25, batch_size=10)
    assert solver.train_acc_history[-1] == 1.0
    assert solver.loss_history[-1] < 0.1 < solver.loss_history[0]


def test_cnn_solver_learns_digits(digits):
    # 10 epochs of Adam on the 1297 training digits (~1.3 s). Measured: best validation
    # accuracy 0.976 (0.972-0.98 over model/solver seeds 0-5), test accuracy 0.976.
    model = ThreeLayerConvNet((1, 8, 8), num_filters=32, filter_size=3, hidden_dim=100, weight_scale=0.1, seed=0)
    solver = _train(model, digits, optim_config={"learning_rate": 3e-3}, lr_decay=0.9, num_epochs=10,
                    batch_size=50, num_train_samples=None)  # fmt: skip
    assert solver.best_val_acc >= 0.95
    assert solver.check_accuracy(digits["X_test"], digits["y_test"]) >= 0.94
    assert solver.val_acc_history[0] < 0.5  # it did learn
