"""Freezing layers of nn.Sequential (trainable / freeze / unfreeze) and saving / loading a
model's parameters and buffers (cs231n_fast.serialization, Sequential.save/load)."""

import numpy as np
import pytest

from cs231n_fast import serialization
from cs231n_fast.classifiers.cnn import ThreeLayerConvNet
from cs231n_fast.classifiers.fc_net import FullyConnectedNet
from cs231n_fast.nn import (Affine, BatchNorm, Conv2D, Dropout, Flatten, MaxPool2D, ReLU,
                            Sequential, SpatialBatchNorm)
from cs231n_fast.solver import Solver


def _data(seed=0, n=80):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return {"X_train": X[:60], "y_train": y[:60], "X_val": X[60:], "y_val": y[60:]}


def _model(seed=0):
    return Sequential(
        Conv2D(1, 4, 3, pad=1, seed=seed), SpatialBatchNorm(4), ReLU(), MaxPool2D(2), Flatten(),
        Affine(36, 16, seed=seed + 1), BatchNorm(16), ReLU(), Dropout(0.7, seed=seed),
        Affine(16, 3, seed=seed + 2),
    )


def _train(model, data, epochs=2):
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                    num_epochs=epochs, batch_size=20, verbose=False, seed=0)
    solver.train()
    return solver


def _snapshot(model):
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}


def test_freeze_leaves_frozen_params_and_buffers_bitwise_unchanged():
    data = _data()
    model = _model()
    _train(model, data)  # running statistics no longer zeros
    model.freeze(-1)
    assert list(model.params) == ["9.W", "9.b"] and list(model.grads) == ["9.W", "9.b"]
    before = _snapshot(model)
    solver = _train(model, data, epochs=3)
    after = model.state_dict()
    for k, v in before.items():
        if k.startswith("9."):
            assert not np.array_equal(v, after[k]), k  # the trainable layer did train
        else:
            assert np.array_equal(v, after[k]), k
    assert set(solver.optim_configs) == {"9.W", "9.b"}


def test_trainable_flag_on_one_layer():
    model = _model()
    model.layers[5].trainable = False
    assert "5.W" not in model.params and "0.w" in model.params
    before = model.layers[5].params["W"].copy()
    _train(model, _data())
    assert np.array_equal(model.layers[5].params["W"], before)


def test_frozen_layers_run_in_eval_mode_and_unfreeze_restores():
    model = _model().freeze(5)
    model.train()
    assert [getattr(layer, "training", None) for layer in model.layers[:5]] == [
        None, False, False, None, False]  # conv and pool have no mode
    assert model.layers[6].training and model.layers[8].training
    model.unfreeze().train()
    assert model.layers[1].training
    assert len(model.params) == 2 + 2 + 2 + 2 + 2  # conv, sbn, affine, bn, affine
    model.freeze()
    assert model.params == {} and model.grads == {}


def test_frozen_prefix_is_not_run_backward():
    """Only the layers after the frozen ones run backward: a frozen layer whose backward
    raises does not break training."""
    model = _model().freeze(-1)

    def boom(dout):
        raise AssertionError("frozen layer run backward")

    for layer in model.layers[:-1]:
        layer.backward = boom
    loss, grads = model.loss(_data()["X_train"][:5], _data()["y_train"][:5])
    assert set(grads) == {"9.W", "9.b"} and np.isfinite(loss)


def test_nested_sequential_freezing_and_state():
    inner = Sequential(Affine(36, 8, seed=0), BatchNorm(8), ReLU())
    model = Sequential(Conv2D(1, 4, 3, pad=1, seed=1), MaxPool2D(2), Flatten(), inner,
                       Affine(8, 3, seed=2))
    inner.freeze(1)  # the inner affine only
    assert "3.0.W" not in model.params and "3.1.gamma" in model.params
    assert {"3.0.W", "3.1.running_mean", "3.1.running_var"} <= set(model.state_dict())
    inner.trainable = False
    assert not any(k.startswith("3.") for k in model.params)
    other = Sequential(Conv2D(1, 4, 3, pad=1, seed=5), MaxPool2D(2), Flatten(),
                       Sequential(Affine(36, 8, seed=6), BatchNorm(8), ReLU()),
                       Affine(8, 3, seed=7))
    other.load_state_dict(model.state_dict())
    X = _data()["X_val"]
    np.testing.assert_array_equal(other.loss(X), model.loss(X))


def test_freeze_bad_input():
    with pytest.raises(TypeError, match="upto"):
        _model().freeze(2.5)


# --- save / load ----------------------------------------------------------------------------

def test_sequential_save_load_round_trip(tmp_path):
    data = _data()
    model = _model()
    _train(model, data)
    path = tmp_path / "model.npz"
    model.save(path)
    fresh = _model(seed=9)
    assert not np.array_equal(fresh.loss(data["X_val"]), model.loss(data["X_val"]))
    assert fresh.load(path) is fresh
    for k, v in model.state_dict().items():
        got = fresh.state_dict()[k]
        assert np.array_equal(got, v) and got.dtype == v.dtype, k
    np.testing.assert_array_equal(fresh.loss(data["X_val"]), model.loss(data["X_val"]))
    # the loaded arrays are copies: training one model does not move the other
    _train(fresh, data, epochs=1)
    assert not np.array_equal(fresh.params["9.W"], model.params["9.W"])


def test_course_models_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 16))
    y = rng.integers(0, 3, 40)
    data = {"X_train": X[:30], "y_train": y[:30], "X_val": X[30:], "y_val": y[30:]}
    net = FullyConnectedNet([8, 8], input_dim=16, num_classes=3, normalization="batchnorm",
                            dtype=np.float64, seed=0)
    Solver(net, data, num_epochs=2, batch_size=10, verbose=False, seed=0,
           optim_config={"learning_rate": 1e-2}).train()
    state = serialization.state_dict(net)
    assert {"params.W1", "params.gamma2", "bn_params.0.running_mean",
            "bn_params.1.running_var"} <= set(state)
    serialization.save(net, tmp_path / "fc.npz")
    fresh = FullyConnectedNet([8, 8], input_dim=16, num_classes=3, normalization="batchnorm",
                              dtype=np.float64, seed=1)  # never run: no running statistics
    serialization.load(fresh, tmp_path / "fc.npz")
    np.testing.assert_array_equal(fresh.loss(X), net.loss(X))
    for i in range(2):
        for key in ("running_mean", "running_var"):
            assert np.array_equal(fresh.bn_params[i][key], net.bn_params[i][key])

    conv = ThreeLayerConvNet((1, 6, 6), num_filters=2, filter_size=3, hidden_dim=5,
                             num_classes=3, seed=0)
    serialization.save(conv, tmp_path / "conv")  # NumPy adds .npz
    other = ThreeLayerConvNet((1, 6, 6), num_filters=2, filter_size=3, hidden_dim=5,
                              num_classes=3, seed=1)
    serialization.load(other, tmp_path / "conv.npz")
    Xc = _data()["X_val"]
    np.testing.assert_array_equal(other.loss(Xc), conv.loss(Xc))


def test_mismatched_architectures_raise_clear_errors(tmp_path):
    model = _model()
    model.save(tmp_path / "m.npz")
    smaller = Sequential(Conv2D(1, 4, 3, pad=1), SpatialBatchNorm(4), ReLU(), MaxPool2D(2),
                         Flatten(), Affine(36, 3))
    with pytest.raises(ValueError, match=r"unexpected keys \['6.beta'"):
        smaller.load(tmp_path / "m.npz")
    wider = Sequential(*_model().layers[:-1], Affine(16, 5))
    before = {k: v.copy() for k, v in wider.state_dict().items()}
    with pytest.raises(ValueError, match=r"state\['9.W'\] has shape \(16, 3\).*\(16, 5\)"):
        wider.load(tmp_path / "m.npz")
    for k, v in wider.state_dict().items():  # all or nothing: nothing was written
        assert np.array_equal(v, before[k]), k
    state = dict(model.state_dict())
    del state["1.running_var"]
    with pytest.raises(ValueError, match=r"missing keys \['1.running_var'\]"):
        _model().load_state_dict(state)

    net = FullyConnectedNet([8], input_dim=16, num_classes=3, seed=0)
    serialization.save(net, tmp_path / "fc.npz")
    deeper = FullyConnectedNet([8, 8], input_dim=16, num_classes=3, seed=0)
    with pytest.raises(ValueError, match=r"missing keys \['params.W3', 'params.b3'\]"):
        serialization.load(deeper, tmp_path / "fc.npz")
    wide = FullyConnectedNet([9], input_dim=16, num_classes=3, seed=0)
    with pytest.raises(ValueError, match=r"params.W1"):
        serialization.load(wide, tmp_path / "fc.npz")
    bn = FullyConnectedNet([8], input_dim=16, num_classes=3, normalization="batchnorm", seed=0)
    with pytest.raises(ValueError, match=r"missing keys \['params.gamma1', 'params.beta1'\]"):
        serialization.load(bn, tmp_path / "fc.npz")
    with pytest.raises(ValueError, match=r"unexpected keys \['params.gamma1'"):
        serialization.load_state_dict(
            net, {**serialization.state_dict(net), "params.gamma1": np.ones(8)})


def test_serialization_bad_inputs():
    with pytest.raises(TypeError, match="state"):
        _model().load_state_dict([("0.w", np.zeros(3))])
    with pytest.raises(TypeError, match="params"):
        serialization.state_dict(object())


def test_params_snapshot_pickles_and_copies_as_a_plain_dict():
    import copy
    import pickle

    from cs231n_fast import nn as _nn

    model = _nn.Sequential(_nn.Affine(4, 3, seed=0), _nn.ReLU(), _nn.Affine(3, 2, seed=1))
    for clone in (pickle.loads(pickle.dumps(model.params)), copy.deepcopy(model.params)):
        assert type(clone) is dict and clone.keys() == model.params.keys()
        for k, a in model.params.items():
            np.testing.assert_array_equal(clone[k], a)
    res = _nn.Residual(_nn.Sequential(_nn.Affine(4, 4, seed=2), _nn.ReLU()))
    clone = pickle.loads(pickle.dumps(res.params))
    assert type(clone) is dict and clone.keys() == res.params.keys()
