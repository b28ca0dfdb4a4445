"""Layer classes over the functional layers (cs231n_fast.nn.course_layers)."""

import numpy as np
import pytest
from helpers import grad_error, numerical_grad, rel_error, spaced

from cs231n_fast import layers as L
from cs231n_fast.nn import (
    ELU,
    Affine,
    BatchNorm,
    Dropout,
    Flatten,
    LayerNorm,
    LeakyReLU,
    Maxout,
    PReLU,
    ReLU,
    Sigmoid,
    SpatialBatchNorm,
    SpatialGroupNorm,
    Tanh,
)


def _gb(layer):
    return layer.params["gamma"], layer.params["beta"]


#: name -> (make(dtype), input shape, the functional forward the layer wraps, its backward)
CASES = {
    "affine": (
        lambda dt: Affine(12, 5, dtype=dt, seed=0), (4, 3, 4),
        lambda l, x: L.affine_forward(x, l.params["W"], l.params["b"]), L.affine_backward,
    ),
    "relu": (lambda dt: ReLU(), (4, 5), lambda l, x: L.relu_forward(x), L.relu_backward),
    "sigmoid": (lambda dt: Sigmoid(), (4, 5), lambda l, x: L.sigmoid_forward(x), L.sigmoid_backward),
    "tanh": (lambda dt: Tanh(), (4, 5), lambda l, x: L.tanh_forward(x), L.tanh_backward),
    "leaky_relu": (
        lambda dt: LeakyReLU(0.1), (4, 5),
        lambda l, x: L.leaky_relu_forward(x, 0.1), L.leaky_relu_backward,
    ),
    "elu": (lambda dt: ELU(0.7), (4, 5), lambda l, x: L.elu_forward(x, 0.7), L.elu_backward),
    "prelu_shared": (
        lambda dt: PReLU(dtype=dt), (4, 5),
        lambda l, x: L.prelu_forward(x, l.params["alpha"]), L.prelu_backward,
    ),
    "prelu_channels": (
        lambda dt: PReLU(3, dtype=dt), (2, 3, 2, 2),
        lambda l, x: L.prelu_forward(x, l.params["alpha"]), L.prelu_backward,
    ),
    "maxout": (
        lambda dt: Maxout(6, 4, pieces=3, dtype=dt, seed=0), (5, 2, 3),
        lambda l, x: L.maxout_forward(x, l.params["W"], l.params["b"]), L.maxout_backward,
    ),
    "batchnorm": (
        lambda dt: BatchNorm(5, dtype=dt), (6, 5),
        lambda l, x: L.batchnorm_forward(x, *_gb(l), {"mode": "train"}), L.batchnorm_backward_alt,
    ),
    "layernorm": (
        lambda dt: LayerNorm(5, eps=1e-3, dtype=dt), (4, 5),
        lambda l, x: L.layernorm_forward(x, *_gb(l), {"eps": 1e-3}), L.layernorm_backward,
    ),
    "spatial_batchnorm": (
        lambda dt: SpatialBatchNorm(3, dtype=dt), (2, 3, 3, 2),
        lambda l, x: L.spatial_batchnorm_forward(x, *_gb(l), {"mode": "train"}),
        L.spatial_batchnorm_backward,
    ),
    "spatial_groupnorm": (
        lambda dt: SpatialGroupNorm(4, 2, dtype=dt), (2, 4, 2, 3),
        lambda l, x: L.spatial_groupnorm_forward(x, *_gb(l), 2, {}), L.spatial_groupnorm_backward,
    ),
    "dropout": (
        lambda dt: Dropout(0.6, seed=3), (4, 5),
        lambda l, x: L.dropout_forward(x, {"p": 0.6, "mode": "train", "seed": 3}), L.dropout_backward,
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request):
    return CASES[request.param]


def _randomize(layer, rng, dtype):
    """Give every parameter random values (gammas positive), so none is a trivial 0 or 1."""
    for name, p in layer.params.items():
        value = rng.standard_normal(p.shape)
        layer.params[name] = (1 + np.abs(value) if name == "gamma" else value).astype(dtype)


def _input(rng, shape):
    """Distinct values 0.1 apart, none within 0.05 of 0: no tie or kink within a step."""
    return spaced(rng, shape, 0.1) + 0.05


def test_layers_match_functional(case, dtype, rng):
    make, shape, forward, backward = case
    layer = make(dtype)
    _randomize(layer, rng, dtype)
    x = _input(rng, shape).astype(dtype)
    out = layer(x)
    ref, cache = forward(layer, x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, ref)

    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = layer.backward(dout)
    grads = backward(dout, cache)
    ref_dx, ref_dparams = (grads[0], grads[1:]) if layer.params else (grads, ())
    np.testing.assert_array_equal(dx, ref_dx)
    assert list(layer.grads) == list(layer.params)
    assert len(ref_dparams) == len(layer.params)
    for name, ref_grad in zip(layer.params, ref_dparams):
        np.testing.assert_array_equal(layer.grads[name], ref_grad, err_msg=name)
        assert layer.grads[name].shape == layer.params[name].shape


def test_layers_backward_gradcheck(case, rng):
    make, shape, _, _ = case
    layer = make(np.float64)
    _randomize(layer, rng, np.float64)
    x = _input(rng, shape)
    dout = rng.standard_normal(layer.forward(x).shape)

    expected = {"x": numerical_grad(layer.forward, x, dout)}
    for name in list(layer.params):
        original = layer.params[name]

        def f(p, name=name):
            layer.params[name] = p
            return layer.forward(x)

        expected[name] = numerical_grad(f, original, dout)
        layer.params[name] = original

    layer.forward(x)
    actual = {"x": layer.backward(dout), **layer.grads}
    assert actual.keys() == expected.keys()
    for name, grad in expected.items():
        assert grad_error(actual[name], grad) < 1e-7, name  # vs the gradient's scale (helpers.grad_error)


@pytest.mark.parametrize("make", [case[0] for case in CASES.values()] + [lambda dt: Flatten()])
def test_layers_backward_before_forward_raises(make):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        make(np.float64).backward(np.zeros((2, 3)))


def test_layers_leave_inputs_unchanged(case, rng):
    make, shape, _, _ = case
    layer = make(np.float64)
    x = _input(rng, shape)
    x_copy = x.copy()
    out = layer(x)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    dx = layer.backward(dout)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dout, dout_copy)
    assert not np.shares_memory(out, x) and not np.shares_memory(dx, dout)


def test_flatten_forward_backward(dtype, rng):
    layer = Flatten()
    x = rng.standard_normal((3, 2, 4, 5)).astype(dtype)
    out = layer(x)
    assert out.dtype == dtype and out.shape == (3, 40)
    np.testing.assert_array_equal(out, np.stack([xi.ravel() for xi in x]))
    assert not np.shares_memory(out, x)
    dout = rng.standard_normal((3, 40)).astype(dtype)
    dx = layer.backward(dout)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(dx.reshape(3, -1), dout)
    assert layer.params == {} and layer.grads == {}
    assert layer.backward(dout.astype(np.float64)).dtype == np.float64  # the dtype policy
    assert Flatten()(np.arange(6).reshape(2, 3)).dtype == np.float64


def test_flatten_backward_gradcheck(rng):
    layer = Flatten()
    x = rng.standard_normal((2, 3, 2))
    dout = rng.standard_normal((2, 6))
    expected = numerical_grad(layer.forward, x, dout)
    layer.forward(x)
    assert rel_error(layer.backward(dout), expected) < 1e-7


def test_dropout_train_eval(rng):
    x = rng.standard_normal((100, 100)) + 5.0  # no zeros
    layer = Dropout(0.25)
    out = layer(x)
    kept = out != 0
    assert 0.2 < kept.mean() < 0.3
    np.testing.assert_allclose(out[kept], x[kept] / 0.25, rtol=1e-15)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), kept / 0.25)
    assert not np.array_equal(layer(x) != 0, kept)  # a new mask on every call

    assert layer.eval() is layer and not layer.training
    out = layer(x)
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dout), dout)
    assert layer.train() is layer and layer.training

    np.random.seed(0)
    first = layer(x)
    np.random.seed(0)
    np.testing.assert_array_equal(layer(x), first)  # without a seed: NumPy's global state
    seeded = Dropout(0.25, seed=7)
    np.testing.assert_array_equal(seeded(x), seeded(x))  # the course's seed: a fixed mask


@pytest.mark.parametrize(
    "make, forward, shape",
    [
        (lambda: BatchNorm(4, momentum=0.8, dtype=np.float64), L.batchnorm_forward, (10, 4)),
        (lambda: SpatialBatchNorm(3, eps=1e-3, momentum=0.7, dtype=np.float64),
         L.spatial_batchnorm_forward, (4, 3, 2, 3)),
    ],
    ids=["batchnorm", "spatial_batchnorm"],
)
def test_batchnorm_train_eval(make, forward, shape, rng):
    layer = make()
    _randomize(layer, rng, np.float64)
    bn_param = {k: layer.bn_param[k] for k in ("eps", "momentum")}
    for _ in range(3):  # training mode: batch statistics, running averages updated
        x = rng.standard_normal(shape) * 3 + 2
        np.testing.assert_array_equal(layer(x), forward(x, *_gb(layer), {**bn_param, "mode": "train"})[0])
        bn_param["mode"] = "train"
        forward(x, *_gb(layer), bn_param)
        np.testing.assert_array_equal(layer.running_mean, bn_param["running_mean"])
        np.testing.assert_array_equal(layer.running_var, bn_param["running_var"])
    assert layer.running_mean.any() and layer.running_var.any()

    layer.eval()
    x = rng.standard_normal(shape)
    out = layer(x)
    # evaluation mode: a fixed per-channel affine map of the running statistics
    channels = (1, -1) + (1,) * (len(shape) - 2)
    mean, var = layer.running_mean.reshape(channels), layer.running_var.reshape(channels)
    gamma, beta = (p.reshape(channels) for p in _gb(layer))
    expected = gamma * (x - mean) / np.sqrt(var + layer.bn_param["eps"]) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(layer.running_mean, bn_param["running_mean"])  # not updated
    dout = rng.standard_normal(shape)
    np.testing.assert_allclose(
        layer.backward(dout), dout * gamma / np.sqrt(var + layer.bn_param["eps"]), rtol=1e-12
    )


def test_layers_without_mode_dependence_agree_in_both_modes(rng):
    x = _input(rng, (2, 4, 2, 3))
    for layer in (ReLU(), PReLU(4), LayerNorm(24), SpatialGroupNorm(4, 2), Flatten()):
        xi = x.reshape(2, -1) if isinstance(layer, LayerNorm) else x
        np.testing.assert_array_equal(layer.train()(xi), layer.eval()(xi))


def test_layers_initialisation(rng):
    layer = Affine(200, 100, seed=0)
    W = layer.params["W"]
    assert W.dtype == np.float32 and W.shape == (200, 100)
    assert abs(W.std() / np.sqrt(2 / 200) - 1) < 0.05  # He
    assert not layer.params["b"].any() and layer.params["b"].shape == (100,)
    np.testing.assert_array_equal(Affine(200, 100, seed=0).params["W"], W)  # seeded
    assert Affine(3, 2, weight_scale=0.0).params["W"].max() == 0.0
    assert abs(Affine(300, 100, weight_scale=1e-2, seed=1).params["W"].std() / 1e-2 - 1) < 0.05

    maxout = Maxout(50, 40, pieces=3, dtype=np.float64, seed=2)
    assert maxout.params["W"].shape == (3, 50, 40) and maxout.params["b"].shape == (3, 40)
    assert abs(maxout.params["W"].std() / np.sqrt(2 / 50) - 1) < 0.05

    assert PReLU().params["alpha"].shape == () and PReLU().params["alpha"] == np.float32(0.25)
    np.testing.assert_array_equal(PReLU(3, init=0.1).params["alpha"], np.float32([0.1] * 3))
    for norm, shape in ((BatchNorm(4), (4,)), (LayerNorm(4), (4,)), (SpatialBatchNorm(4), (4,)),
                        (SpatialGroupNorm(4, 2), (1, 4, 1, 1))):
        assert norm.params["gamma"].shape == shape and (norm.params["gamma"] == 1).all()
        assert norm.params["beta"].shape == shape and not norm.params["beta"].any()
    assert not BatchNorm(4).running_mean.any() and not BatchNorm(4).running_var.any()


@pytest.mark.parametrize(
    "layer, text",
    [
        (Affine(12, 5), "Affine(12, 5, dtype=float32)"),
        (Maxout(6, 4, pieces=3, dtype=np.float64), "Maxout(6, 4, pieces=3, dtype=float64)"),
        (ReLU(), "ReLU()"),
        (Sigmoid(), "Sigmoid()"),
        (Tanh(), "Tanh()"),
        (LeakyReLU(), "LeakyReLU(alpha=0.01)"),
        (ELU(), "ELU(alpha=1.0)"),
        (PReLU(), "PReLU(dtype=float32)"),
        (PReLU(3), "PReLU(3, dtype=float32)"),
        (BatchNorm(4), "BatchNorm(4, eps=1e-05, momentum=0.9, dtype=float32)"),
        (SpatialBatchNorm(3, momentum=0.5), "SpatialBatchNorm(3, eps=1e-05, momentum=0.5, dtype=float32)"),
        (LayerNorm(4), "LayerNorm(4, eps=1e-05, dtype=float32)"),
        (SpatialGroupNorm(6, 3), "SpatialGroupNorm(6, groups=3, eps=1e-05, dtype=float32)"),
        (Dropout(), "Dropout(keep_prob=0.5)"),
        (Dropout(0.8, seed=1), "Dropout(keep_prob=0.8, seed=1)"),
        (Flatten(), "Flatten()"),
    ],
)
def test_layers_repr(layer, text):
    assert repr(layer) == text


def _forward(layer, shape):
    return lambda: layer.forward(np.ones(shape))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: Affine(0, 3), ValueError, "in_features"),
        (lambda: Affine(3, 0), ValueError, "out_features"),
        (lambda: Affine(3, 2.5), TypeError, "out_features"),
        (lambda: Affine(3, 2, dtype=np.int32), TypeError, "dtype"),
        (lambda: Affine(3, 2, weight_scale=-1.0), ValueError, "scale"),
        (lambda: Affine(3, 2, seed=-1), ValueError, "seed"),
        (lambda: LeakyReLU(float("nan")), ValueError, "alpha"),
        (lambda: ELU("1"), TypeError, "alpha"),
        (lambda: PReLU(0), ValueError, "num_channels"),
        (lambda: PReLU(init=np.inf), ValueError, "init"),
        (lambda: Maxout(4, 3, pieces=0), ValueError, "pieces"),
        (lambda: BatchNorm(0), ValueError, "num_features"),
        (lambda: BatchNorm(3, eps=0.0), ValueError, "eps"),
        (lambda: BatchNorm(3, momentum=1.5), ValueError, "momentum"),
        (lambda: SpatialBatchNorm(-2), ValueError, "num_channels"),
        (lambda: LayerNorm(3, eps=-1e-5), ValueError, "eps"),
        (lambda: LayerNorm(3, dtype=np.complex64), TypeError, "dtype"),
        (lambda: SpatialGroupNorm(6, 4), ValueError, "groups"),
        (lambda: SpatialGroupNorm(6, 0), ValueError, "groups"),
        (lambda: Dropout(0.0), ValueError, "keep_prob"),
        (lambda: Dropout(1.5), ValueError, "keep_prob"),
        (lambda: Dropout(seed=-1), ValueError, "seed"),
        (lambda: Dropout(seed=2**32), ValueError, "seed"),
        (_forward(Affine(12, 5), (2, 10)), ValueError, "one example of x"),
        (_forward(Maxout(12, 5), (2, 3, 3)), ValueError, "one example of x"),
        (_forward(BatchNorm(5), (2, 4)), ValueError, "one per feature of x"),
        (_forward(BatchNorm(5), (2, 5, 1)), ValueError, "x must be a 2-D"),
        (_forward(LayerNorm(5), (2, 4)), ValueError, "one per feature of x"),
        (_forward(SpatialBatchNorm(3), (2, 4, 2, 2)), ValueError, "one per channel of x"),
        (_forward(SpatialGroupNorm(4, 2), (2, 4, 2)), ValueError, "x must be a 4-D"),
        (_forward(PReLU(3), (2, 4)), ValueError, "alpha"),
        (_forward(Flatten(), (3,)), ValueError, "x must have shape"),
        (lambda: Flatten().forward(np.array(["a", "b"]).reshape(1, 2)), TypeError, "x"),
    ],
)
def test_layers_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("layer, shape", [(Affine(6, 4), (2, 6)), (Flatten(), (2, 2, 3)), (ReLU(), (2, 3))])
def test_layers_backward_bad_dout(layer, shape):
    out = layer(np.ones(shape))
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones((out.shape[0] + 1,) + out.shape[1:]))
