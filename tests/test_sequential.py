"""Sequential models of layer classes, trained by the Solver (cs231n_fast.nn.sequential)."""

import pickle

import numpy as np
import pytest
from helpers import grad_error, numerical_grad

from cs231n_fast import layers as L
from cs231n_fast import ops
from cs231n_fast.data import get_digits_data
from cs231n_fast.nn import (
    LSTM,
    ELU,
    Affine,
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    Maxout,
    PReLU,
    ReLU,
    Sequential,
    Sigmoid,
    SpatialBatchNorm,
    SpatialGroupNorm,
    Tanh,
)
from cs231n_fast.solver import Solver

F64 = {"dtype": np.float64}


def _dense_model(**kwargs):
    return Sequential(
        Flatten(), BatchNorm(6, **F64), Affine(6, 8, seed=0, **F64), ReLU(), Dropout(0.7, seed=1),
        Affine(8, 7, seed=2, **F64), LayerNorm(7, **F64), PReLU(7, **F64), Tanh(),
        Maxout(7, 6, pieces=2, seed=3, **F64), ELU(), Affine(6, 4, seed=4, **F64), **kwargs,
    )  # fmt: skip


def _conv_model(**kwargs):
    return Sequential(
        Conv2D(2, 4, 3, pad=1, seed=0, **F64), LeakyReLU(0.1), SpatialBatchNorm(4, **F64),
        Sigmoid(), MaxPool2D(2), SpatialGroupNorm(4, 2, **F64), Flatten(),
        Affine(16, 3, seed=1, **F64), **kwargs,
    )  # fmt: skip


def _randomize(model, rng):
    """Non-trivial biases, scales and shifts (the initial ones are zeros and ones)."""
    for key, p in model.params.items():
        if key.rsplit(".", 1)[-1] in ("b", "beta", "gamma", "alpha"):
            model.params[key] = 0.5 * rng.standard_normal(p.shape) + (key.endswith("gamma"))


def _scaled_error(actual, expected):
    """Max absolute error over the array's scale: the course's element-wise ``rel_error`` with
    an absolute floor at ``max|expected|``.

    The numerical gradient of a scalar loss carries rounding noise of about 1e-16 * loss / h
    in every element, so elements whose gradient is tiny (not kinks: deep products of small
    factors) have element-wise relative errors up to 1e-5 even when the backward is exact.
    """
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def _check_loss_gradients(model, X, y):
    loss, grads = model.loss(X, y)
    assert grads.keys() == model.params.keys()
    for key, value in model.params.items():

        def f(p, key=key):
            model.params[key] = p
            return model.loss(X, y)[0]

        expected = numerical_grad(f, value, 1.0)
        model.params[key] = value
        assert grads[key].shape == value.shape
        assert _scaled_error(grads[key], expected) < 1e-7, key
    assert model.loss(X, y)[0] == loss  # the parameters are back


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_sequential_loss_gradcheck_dense(reg, rng):
    model = _dense_model(reg=reg)
    _randomize(model, rng)
    _check_loss_gradients(model, rng.standard_normal((6, 2, 3)), rng.integers(0, 4, 6))


def test_sequential_loss_gradcheck_conv(rng):
    model = _conv_model(reg=0.1)
    _randomize(model, rng)
    _check_loss_gradients(model, rng.standard_normal((3, 2, 4, 4)), rng.integers(0, 3, 3))


def test_sequential_backward_input_gradcheck(rng):
    model = _conv_model()
    X = rng.standard_normal((2, 2, 4, 4))
    dout = rng.standard_normal((2, 3))
    expected = numerical_grad(model.forward, X, dout)
    model.forward(X)
    assert grad_error(model.backward(dout), expected) < 1e-7  # vs the gradient's scale (helpers.grad_error)


def test_sequential_forward_backward_match_layers(rng):
    layers = [Affine(12, 6, seed=0), ReLU(), Affine(6, 3, seed=1)]
    model = Sequential(*layers)
    assert model.layers == tuple(layers)
    X = rng.standard_normal((4, 3, 4)).astype(np.float32)
    h1, c1 = L.affine_forward(X, layers[0].params["W"], layers[0].params["b"])
    h2, c2 = L.relu_forward(h1)
    out, c3 = L.affine_forward(h2, layers[2].params["W"], layers[2].params["b"])
    np.testing.assert_array_equal(model(X), out)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dh2, dW3, db3 = L.affine_backward(dout, c3)
    dX, dW1, db1 = L.affine_backward(L.relu_backward(dh2, c2), c1)
    np.testing.assert_array_equal(model.backward(dout), dX)
    expected = {"0.W": dW1, "0.b": db1, "2.W": dW3, "2.b": db3}
    assert model.grads.keys() == expected.keys()
    for key, grad in expected.items():
        np.testing.assert_array_equal(model.grads[key], grad, err_msg=key)


@pytest.mark.parametrize("loss, loss_fn", [("softmax", L.softmax_loss), ("svm", L.svm_loss)])
def test_sequential_loss_matches_course_loss_and_reg(loss, loss_fn, rng):
    reg = 0.7
    model = Sequential(Affine(5, 6, seed=0, **F64), ReLU(), Affine(6, 4, seed=1, **F64), loss=loss, reg=reg)
    _randomize(model, rng)  # non-zero biases, which must not be decayed
    plain = Sequential(*model.layers, loss=loss)
    X, y = rng.standard_normal((8, 5)), rng.integers(0, 4, 8)
    scores = model.loss(X)
    data_loss, dscores = loss_fn(scores, y)
    penalty = 0.5 * reg * sum(np.sum(model.params[k] ** 2) for k in ("0.W", "2.W"))
    total, grads = model.loss(X, y)
    np.testing.assert_allclose(total, data_loss + penalty, rtol=1e-12)
    plain_loss, plain_grads = plain.loss(X, y)
    assert plain_loss == data_loss
    np.testing.assert_array_equal(plain.backward(dscores), model.backward(dscores))
    for key, grad in plain_grads.items():  # only the weights are decayed
        decay = reg * model.params[key] if key.endswith("W") else 0
        np.testing.assert_allclose(grads[key], grad + decay, rtol=1e-12, atol=1e-15, err_msg=key)


def test_sequential_scores_in_eval_mode(rng):
    model = Sequential(Affine(5, 6, seed=0, **F64), BatchNorm(6, **F64), ReLU(), Dropout(0.5),
                       Affine(6, 3, seed=1, **F64))
    X, y = rng.standard_normal((10, 5)), rng.integers(0, 3, 10)
    for _ in range(3):
        model.loss(X, y)  # training mode: updates the running statistics
    bn = model.layers[1]
    assert bn.running_mean.any()
    scores = model.loss(X)
    np.testing.assert_array_equal(model.loss(X), scores)  # no dropout: deterministic
    assert model.training and all(layer.training for layer in model.layers if hasattr(layer, "training"))
    # the same numbers by hand: running statistics, no dropout
    W1, b1, W2, b2 = (model.params[k] for k in ("0.W", "0.b", "4.W", "4.b"))
    h = (X @ W1 + b1 - bn.running_mean) / np.sqrt(bn.running_var + 1e-5)
    h = np.maximum(h * model.params["1.gamma"] + model.params["1.beta"], 0)
    np.testing.assert_allclose(scores, h @ W2 + b2, rtol=1e-12, atol=1e-12)

    assert model.eval() is model and not model.training
    assert not model.layers[3].training and not bn.training
    np.testing.assert_array_equal(model(X), scores)
    model.loss(X, y)
    assert not model.training and not bn.training  # the mode is restored after loss
    assert model.train() is model and model.layers[3].training


def test_sequential_params_write_back(rng):
    conv = Conv2D(1, 2, 3, seed=0, **F64)
    affine = Affine(8, 3, seed=1, **F64)
    model = Sequential(conv, ReLU(), MaxPool2D(2), Flatten(), affine)
    params = model.params
    assert isinstance(params, dict) and list(params) == ["0.w", "0.b", "4.W", "4.b"]
    assert params["0.w"] is conv.params["w"] and params["4.W"] is affine.params["W"]

    new_w = rng.standard_normal((2, 1, 3, 3))
    model.params["0.w"] = new_w  # as the Solver does
    assert conv.params["w"] is new_w and model.params["0.w"] is new_w
    X = rng.standard_normal((2, 1, 6, 6))
    h, _ = ops.conv_forward(X, new_w, conv.params["b"], 1, 0)
    h, _ = ops.maxpool_forward(np.maximum(h, 0), 2, 2, 2)
    np.testing.assert_allclose(model(X), h.reshape(2, -1) @ affine.params["W"], rtol=1e-12)

    model.params["4.b"] = np.ones(3, dtype=np.float32)  # cast to the parameter's dtype
    assert affine.params["b"].dtype == np.float64 and (affine.params["b"] == 1).all()

    replacement = {k: np.full_like(v, 0.5) for k, v in model.params.items()}
    model.params = replacement  # as Solver.train() does at the end
    for key, value in replacement.items():
        assert model.params[key] is value
    assert conv.params["b"] is replacement["0.b"]

    with pytest.raises(ValueError, match="0.w"):
        model.params.update({"0.b": np.zeros(2), "0.w": np.zeros((2, 1, 2, 2))})
    assert conv.params["b"] is replacement["0.b"]  # all or nothing


def test_sequential_nested_params_write_back(rng):
    inner = Sequential(Affine(4, 3, seed=0), ReLU())
    model = Sequential(Affine(5, 4, seed=1), inner, Affine(3, 2, seed=2))
    assert list(model.params) == ["0.W", "0.b", "1.0.W", "1.0.b", "2.W", "2.b"]
    new = rng.standard_normal((4, 3)).astype(np.float32)
    model.params["1.0.W"] = new
    assert inner.layers[0].params["W"] is new
    _, grads = model.loss(rng.standard_normal((3, 5)), np.array([0, 1, 1]))
    assert grads.keys() == model.params.keys()


def _train(model, data, **options):
    initial = {k: v.copy() for k, v in model.params.items()}
    layer_arrays = [dict(layer.params) for layer in model.layers]
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 5e-3},
                    batch_size=50, verbose=False, seed=0, **options)
    solver.train()
    history = np.array(solver.loss_history)
    assert history[-5:].mean() < 0.5 * history[:5].mean()
    for layer, before in zip(model.layers, layer_arrays):
        for name, array in layer.params.items():
            assert array is not before[name]  # replaced by the updates
    for key, value in model.params.items():
        assert not np.array_equal(value, initial[key]), key
        np.testing.assert_array_equal(value, solver.best_params[key])
        assert value.dtype == np.float32
    assert solver.best_val_acc > 0.6
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc
    return solver


@pytest.fixture(scope="module")
def digits():
    return get_digits_data(num_validation=200, num_test=0)


def test_sequential_solver_trains_mlp(digits):
    model = Sequential(Affine(64, 32, seed=0), ReLU(), Affine(32, 10, seed=1), reg=1e-3)
    _train(model, digits, num_epochs=2)


def test_sequential_solver_trains_mlp_batchnorm_dropout(digits):
    model = Sequential(Affine(64, 32, seed=0), BatchNorm(32), ReLU(), Dropout(0.8),
                       Affine(32, 10, seed=1))
    np.random.seed(0)  # the dropout masks
    _train(model, digits, num_epochs=2)
    assert model.layers[1].running_var.any()


def test_sequential_solver_trains_convnet(digits):
    model = Sequential(Conv2D(1, 4, 3, pad=1, seed=0), ReLU(), MaxPool2D(2), Flatten(),
                       Affine(64, 10, seed=1), loss="svm")
    _train(model, digits, num_epochs=2)


def test_sequential_pickle_roundtrip(rng):
    """What the Solver's checkpoints need (layers of cs231n_fast.nn.course_layers)."""
    model = Sequential(Flatten(), BatchNorm(12), ReLU(), Dropout(0.5), Affine(12, 3, seed=0))
    X = rng.standard_normal((4, 3, 4)).astype(np.float32)
    model.loss(X, np.array([0, 1, 2, 0]))  # caches and running statistics
    clone = pickle.loads(pickle.dumps(model))
    assert repr(clone) == repr(model)
    np.testing.assert_array_equal(clone.layers[1].running_var, model.layers[1].running_var)
    np.testing.assert_array_equal(clone.loss(X), model.loss(X))


def test_sequential_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Sequential(Affine(3, 2), ReLU()).backward(np.zeros((2, 2)))


def test_sequential_repr():
    model = Sequential(Affine(4, 3), ReLU(), loss="svm", reg=0.5)
    assert repr(model) == (
        "Sequential(\n  (0): Affine(4, 3, dtype=float32)\n  (1): ReLU()\n  loss='svm', reg=0.5\n)"
    )


def _loss(model, X_shape, y):
    return lambda: model.loss(np.ones(X_shape), np.asarray(y))


def _set(key, value):
    def call():
        model = Sequential(Affine(3, 2))
        model.params[key] = value
    return call


def _assign(value):
    def call():
        Sequential(Affine(3, 2)).params = value
    return call


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: Sequential(), ValueError, "layers"),
        (lambda: Sequential(ReLU(), "relu"), TypeError, r"layers\[1\]"),
        (lambda: Sequential(*[ReLU()] * 2), ValueError, r"layers\[0\] and layers\[1\]"),
        (lambda: Sequential(ReLU(), loss="hinge"), ValueError, "loss"),
        (lambda: Sequential(ReLU(), loss=None), ValueError, "loss"),
        (lambda: Sequential(ReLU(), reg=-1.0), ValueError, "reg"),
        (lambda: Sequential(ReLU(), reg="0"), TypeError, "reg"),
        (_loss(Sequential(Affine(3, 2)), (4, 3), [0, 1, 1]), ValueError, "y"),
        (_loss(Sequential(Affine(3, 2)), (3, 3), [0, 1, 2]), ValueError, "y"),
        (_loss(Sequential(Affine(3, 2)), (3, 3), [0.0, 1.0, 1.0]), TypeError, "y"),
        (_loss(Sequential(ReLU()), (2, 1, 3), [0, 1]), ValueError, "scores"),
        (_loss(Sequential(Affine(3, 2)), (3, 4), [0, 1, 1]), ValueError, "x"),
        (_set("0.w", np.zeros((3, 2))), ValueError, "params"),
        (_set("0.W", np.zeros((2, 3))), ValueError, "0.W"),
        (_set("0.b", "ab"), TypeError, "0.b"),
        (_assign({"0.W": np.zeros((3, 2))}), ValueError, "0.b"),
        (_assign({"0.W": np.zeros((3, 2)), "0.b": np.zeros(2), "1.W": 0}), ValueError, "1.W"),
        (_assign([np.zeros((3, 2)), np.zeros(2)]), TypeError, "params"),
    ],
)
def test_sequential_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_kernel_layers_pickle_for_solver_checkpoints(rng):
    """Conv2D, MaxPool2D and the recurrent layers hold their backend by name, so models that
    contain them pickle (the Solver's checkpoints) and still run after a round trip."""
    for backend in ("fast", "reference"):
        conv = Conv2D(1, 2, 3, pad=1, seed=0, backend=backend)
        model = Sequential(conv, ReLU(), MaxPool2D(2, backend=backend), Flatten(),
                              Affine(2 * 2 * 2, 3, seed=0))
        x = rng.standard_normal((2, 1, 4, 4)).astype(np.float32)
        copy = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(copy.loss(x), model.loss(x))
        lstm = pickle.loads(pickle.dumps(LSTM(3, 4, seed=0, backend=backend)))
        assert lstm.backend == backend and lstm(rng.standard_normal((2, 5, 3))).shape == (2, 5, 4)
