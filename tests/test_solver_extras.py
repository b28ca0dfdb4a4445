"""Solver options beyond the course: lr_schedule (and lr_history), max_norm, parameter
averaging (Polyak/EMA); plus cs231n_fast.regularization and cs231n_fast.ensemble.

Tolerances: averages are accumulated in float64 by the Solver and here (explicitly, in another
order of operations), then cast to the parameters' float64 here: rtol 1e-12. Max-norm bounds
hold up to one rounding of the weights' dtype: c * (1 + 4 eps)."""

import numpy as np
import pytest

from cs231n_fast import ensemble, regularization, schedules
from cs231n_fast.classifiers.fc_net import FullyConnectedNet
from cs231n_fast.nn import (Affine, Conv2D, ConvTranspose2D, Embedding, Flatten, ReLU, Residual,
                            Sequential)
from cs231n_fast.solver import Solver


def _data(n=120, d=12, c=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((c, d)) * 2
    y = rng.integers(0, c, n)
    X = centers[y] + rng.standard_normal((n, d))
    return {"X_train": X[:80], "y_train": y[:80], "X_val": X[80:], "y_val": y[80:]}


def _net(seed=0, dtype=np.float64, **kw):
    return FullyConnectedNet([10], input_dim=12, num_classes=4, weight_scale=0.1, dtype=dtype,
                             seed=seed, **kw)


def _solver(model, data, **kw):
    opts = dict(update_rule="sgd", optim_config={"learning_rate": 0.05}, num_epochs=3,
                batch_size=20, verbose=False, seed=1, num_train_samples=None)
    opts.update(kw)
    return Solver(model, data, **opts)


def test_solver_without_new_options_is_the_course_loop():
    """Same losses, bit for bit, as the course's Solver loop written out here (sgd, lr_decay,
    minibatches from the seeded Generator), and the same accuracy checks."""
    data = _data()
    solver = _solver(_net(), data, lr_decay=0.9)
    solver.train()

    model, rng, lr = _net(), np.random.default_rng(1), 0.05
    losses = []
    for epoch in range(3):
        for _ in range(80 // 20):
            idx = rng.choice(80, 20)
            loss, grads = model.loss(data["X_train"][idx], data["y_train"][idx])
            losses.append(loss)
            for k in model.params:
                model.params[k] = model.params[k] - lr * grads[k]
        lr *= 0.9
    assert solver.loss_history == losses
    assert solver.lr_history == pytest.approx([0.05, 0.045, 0.0405], rel=1e-12)
    assert len(solver.val_acc_history) == 4  # first iteration + each epoch


def test_explicit_defaults_change_nothing():
    data = _data()
    a = _solver(_net(), data)
    a.train()
    b = _solver(_net(), data, lr_schedule=None, max_norm=None, average=None, ema_decay=0.999)
    b.train()
    assert a.loss_history == b.loss_history and a.val_acc_history == b.val_acc_history


def test_lr_schedule_sets_each_epochs_rate():
    sched = schedules.StepDecay(0.08, step_size=2, gamma=0.5)
    rates = []

    def rule(w, dw, config):
        rates.append(config["learning_rate"])
        return w - config["learning_rate"] * dw, config

    solver = _solver(_net(), _data(), update_rule=rule, optim_config={"learning_rate": 123.0},
                     num_epochs=5, lr_schedule=sched)
    solver.train()
    assert solver.lr_history == [sched(e) for e in range(5)]
    per_step = len(_net().params)  # the rule sees one config per parameter and step
    assert rates[:: per_step * 4] == [sched(e) for e in range(5)]


def test_exponential_schedule_equals_lr_decay():
    data = _data()
    a = _solver(_net(), data, lr_decay=0.9)
    a.train()
    b = _solver(_net(), data, lr_schedule=schedules.ExponentialDecay(0.05, 0.9))
    b.train()
    assert b.lr_history == pytest.approx(a.lr_history, rel=1e-12)
    np.testing.assert_allclose(b.loss_history, a.loss_history, rtol=1e-9)


def test_reduce_on_plateau_is_fed_the_validation_accuracy():
    sched = schedules.ReduceOnPlateau(0.05, factor=0.5, patience=0, threshold=0.0)
    solver = _solver(_net(), _data(), num_epochs=6, lr_schedule=sched)
    solver.train()
    assert sched.history == solver.val_acc_history[1:]  # one value per epoch end
    expected = schedules.ReduceOnPlateau(0.05, factor=0.5, patience=0, threshold=0.0)
    rates = [0.05] + [expected.step(a) for a in sched.history]
    assert solver.lr_history == rates[:6]
    # a new train() starts over
    solver._reset()
    assert sched.history == [] and solver.optim_configs["W1"]["learning_rate"] == 0.05


@pytest.mark.parametrize("kw,match", [
    ({"lr_schedule": schedules.Constant(0.1), "lr_decay": 0.9}, "lr_decay"),
    ({"max_norm": -1.0}, "max_norm"),
    ({"max_norm": 0}, "max_norm"),
    ({"average": "mean"}, "average"),
    ({"average": "ema", "ema_decay": 1.0}, "ema_decay"),
    ({"ema_decay": -0.1}, "ema_decay"),
])
def test_bad_options_raise_value_error(kw, match):
    with pytest.raises(ValueError, match=match):
        _solver(_net(), _data(), **kw)


def test_lr_schedule_must_be_callable():
    with pytest.raises(TypeError, match="lr_schedule"):
        _solver(_net(), _data(), lr_schedule=0.1)


def _norms_ok(w, c, axis):
    eps = np.finfo(w.dtype).eps
    return np.all(regularization.column_norms(w, axis) <= c * (1 + 4 * eps))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_norm_holds_after_every_update(dtype):
    c = 0.3
    model = Sequential(Conv2D(1, 3, 3, pad=1, dtype=dtype, seed=0), ReLU(), Flatten(),
                       Affine(3 * 4 * 4, 8, dtype=dtype, seed=1), ReLU(),
                       Affine(8, 4, dtype=dtype, seed=2))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 1, 4, 4)).astype(dtype)
    y = rng.integers(0, 4, 60)
    data = {"X_train": X[:40], "y_train": y[:40], "X_val": X[40:], "y_val": y[40:]}
    loss = model.loss
    seen = []

    def checked_loss(Xb, yb=None):
        if yb is not None and seen:  # parameters after the previous update
            p = model.params
            assert _norms_ok(p["0.w"], c, (1, 2, 3))
            assert _norms_ok(p["3.W"], c, 0) and _norms_ok(p["5.W"], c, 0)
        seen.append(yb is not None)
        return loss(Xb, yb)

    model.loss = checked_loss
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 0.05},
                    num_epochs=3, batch_size=10, verbose=False, seed=0, max_norm=c)
    solver.train()
    assert sum(seen) == 12
    p = model.params
    assert _norms_ok(p["0.w"], c, (1, 2, 3)) and _norms_ok(p["5.W"], c, 0)
    # the constraint binds (without it the weights are larger) and biases are not clamped
    free = Sequential(Conv2D(1, 3, 3, pad=1, dtype=dtype, seed=0), ReLU(), Flatten(),
                      Affine(3 * 4 * 4, 8, dtype=dtype, seed=1), ReLU(),
                      Affine(8, 4, dtype=dtype, seed=2))
    assert not _norms_ok(free.params["3.W"], c, 0)


def test_max_norm_uses_the_axes_layers_declare():
    """A transposed convolution's output channel f has its incoming weights in w[:, f] (not
    w[f], an input channel's outgoing weights); an embedding has one vector per row. The
    Solver clamps those, also inside a container, and the name rule elsewhere."""
    c = 0.5
    up = ConvTranspose2D(2, 4, 3, stride=2, pad=1, weight_scale=1.0, dtype=np.float64, seed=0)
    inner = ConvTranspose2D(4, 4, 3, pad=1, weight_scale=1.0, dtype=np.float64, seed=1)
    model = Sequential(up, Residual(Sequential(inner)), Flatten(),
                       Affine(4 * 5 * 5, 3, weight_scale=1.0, dtype=np.float64, seed=2))
    assert model.max_norm_axes() == {"0.w": (0, 2, 3), "1.block.0.w": (0, 2, 3)}
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2, 3, 3))
    y = rng.integers(0, 3, 20)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1e-3}, num_epochs=1,
           batch_size=10, verbose=False, seed=0, max_norm=c).train()
    p = model.params
    for key in ("0.w", "1.block.0.w"):
        assert _norms_ok(p[key], c, (0, 2, 3))
        # per output channel, so some input channel keeps a norm above c (4 output channels
        # of norm <= c share it): the old per-input-channel rule would have clamped it
        assert not _norms_ok(p[key], c, (1, 2, 3))
    assert _norms_ok(p["3.W"], c, 0)
    # a frozen layer declares nothing (it is not in params)
    model.layers[0].trainable = False
    assert model.max_norm_axes() == {"1.block.0.w": (0, 2, 3)}

    emb = Embedding(6, 4, dtype=np.float64, seed=0)
    emb.params["W"] *= 100.0
    assert regularization.layer_max_norm_axes(emb) == {"W": 1}
    assert Sequential(emb).max_norm_axes() == {"0.W": 1}


def test_max_norm_on_torch_layout_linear_clamps_rows():
    """transformer_layers.Linear holds weight (out, in) applied as x @ weight.T: unit j's
    incoming weights are the row weight[j], which the Solver must clamp (not the columns)."""
    from cs231n_fast.transformer_layers import Embedding as TorchEmbedding, Linear

    c = 0.3
    model = Sequential(Linear(6, 8, dtype=np.float64, seed=0), ReLU(),
                       Linear(8, 3, dtype=np.float64, seed=1))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    y = rng.integers(0, 3, 40)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 0.1}, num_epochs=1,
           batch_size=10, verbose=False, seed=0, max_norm=c).train()
    for key in ("0.weight", "2.weight"):
        assert _norms_ok(model.params[key], c, 1)
    assert not _norms_ok(model.params["0.weight"], c, 0)  # columns are not what is bounded
    assert regularization.layer_max_norm_axes(TorchEmbedding(5, 4)) == {"weight": 1}


def test_max_norm_functions():
    W = np.array([[3.0, 0.1, 0.0], [4.0, 0.1, 0.0]])
    out = regularization.max_norm(W, 1.0, axis=0)
    np.testing.assert_allclose(out, [[0.6, 0.1, 0.0], [0.8, 0.1, 0.0]], rtol=1e-15)
    assert W[0, 0] == 3.0  # max_norm makes a new array
    same = regularization.max_norm_(W, 1.0, axis=0)
    assert same is W and np.array_equal(W, out)
    w = np.random.default_rng(0).standard_normal((5, 2, 3, 3)).astype(np.float32)
    clamped = regularization.max_norm(w, 0.5, axis=(1, 2, 3))
    norms = np.sqrt((w.astype(np.float64) ** 2).sum(axis=(1, 2, 3)))
    for f in range(5):  # each filter scaled by min(1, c / norm)
        np.testing.assert_allclose(clamped[f], w[f] * min(1.0, 0.5 / norms[f]), rtol=1e-6)
    assert clamped.dtype == np.float32
    assert regularization.max_norm_axis("W1", W) == 0
    assert regularization.max_norm_axis("0.w", w) == (1, 2, 3)
    assert regularization.max_norm_axis("b1", W[0]) is None
    assert regularization.max_norm_axis("gamma1", W[0]) is None


@pytest.mark.parametrize("call,exc,match", [
    (lambda: regularization.max_norm(np.ones((2, 2)), -1.0), ValueError, "c"),
    (lambda: regularization.max_norm(np.ones((2, 2)), 1.0, axis=2), ValueError, "axis"),
    (lambda: regularization.max_norm(np.ones((2, 2), dtype=int), 1.0), TypeError, "w"),
    (lambda: regularization.max_norm_(np.broadcast_to(np.ones(2), (2, 2)), 1.0),
     ValueError, "writeable"),
])
def test_max_norm_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("mode,decay", [("polyak", 0.999), ("ema", 0.9), ("ema", 0.5)])
def test_averaging_equals_explicit_average(mode, decay):
    data = _data()
    model = _net()
    snapshots = []
    loss = model.loss

    def recording_loss(Xb, yb=None):
        if yb is not None and snapshots is not None:
            snapshots.append({k: v.copy() for k, v in model.params.items()})
        return loss(Xb, yb)

    model.loss = recording_loss
    solver = _solver(model, data, average=mode, ema_decay=decay)
    for t in range(12):  # the steps of train(), without its final swap to best_params
        solver._step()
    snapshots.append({k: v.copy() for k, v in model.params.items()})
    after_updates = snapshots[1:]  # the parameters after updates 1 .. 12
    for k in model.params:
        stack = np.stack([s[k] for s in after_updates])
        if mode == "polyak":
            expected = stack.mean(axis=0)
        else:  # avg_1 = w_1, avg_t = decay avg_{t-1} + (1 - decay) w_t, written as a sum
            n = len(stack)
            weights = np.array([decay ** (n - 1)] + [(1 - decay) * decay ** (n - 1 - i)
                                                      for i in range(1, n)])
            expected = np.tensordot(weights, stack, axes=1)
        np.testing.assert_allclose(solver.averaged_params[k], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["polyak", "ema"])
def test_checks_and_best_params_use_the_averaged_parameters(mode):
    data = _data()
    solver = _solver(_net(), data, average=mode, ema_decay=0.8, num_val_samples=None)
    solver.train()
    assert solver.best_val_acc == max(solver.val_acc_history)
    # the model ends with the best (averaged) parameters: its accuracy is the best check's
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc
    # check_accuracy(averaged=True) runs the averaged parameters and restores the model's
    model_params = {k: v.copy() for k, v in solver.model.params.items()}
    acc = solver.check_accuracy(data["X_val"], data["y_val"], averaged=True)
    twin = _net()
    twin.params = solver.averaged_params
    scores = twin.loss(data["X_val"])
    assert acc == float(np.mean(np.argmax(scores, axis=1) == data["y_val"]))
    for k, v in solver.model.params.items():
        assert np.array_equal(v, model_params[k])


def test_check_accuracy_averaged_needs_averaging():
    solver = _solver(_net(), _data())
    with pytest.raises(ValueError, match="average"):
        solver.check_accuracy(_data()["X_val"], _data()["y_val"], averaged=True)


def test_averaging_works_with_sequential_and_max_norm():
    data = _data()
    model = Sequential(Affine(12, 10, seed=0, dtype=np.float64), ReLU(),
                       Affine(10, 4, seed=1, dtype=np.float64))
    solver = _solver(model, data, average="polyak", max_norm=1.0)
    solver.train()
    assert set(solver.averaged_params) == set(model.params)
    # the average of clamped iterates is clamped too (the ball is convex)
    assert _norms_ok(solver.averaged_params["0.W"], 1.0, 0)


# --- ensembles ------------------------------------------------------------------------------

def test_ensemble_of_identical_models_is_the_model():
    data = _data()
    model = _net(seed=3)
    single = ensemble.softmax(model.loss(data["X_val"]))
    probs = ensemble.ensemble_predict([model, model, model], data["X_val"], batch_size=7)
    np.testing.assert_allclose(probs, single, rtol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    acc = ensemble.ensemble_accuracy([model], data["X_val"], data["y_val"])
    assert acc == float(np.mean(np.argmax(single, axis=1) == data["y_val"]))


def test_ensemble_averages_probabilities_with_weights():
    data = _data()
    a, b = _net(seed=1), Sequential(Affine(12, 4, seed=0, dtype=np.float64))
    pa, pb = ensemble.softmax(a.loss(data["X_val"])), ensemble.softmax(b.loss(data["X_val"]))
    np.testing.assert_allclose(ensemble.ensemble_predict([a, b], data["X_val"]), (pa + pb) / 2,
                               rtol=1e-12)
    np.testing.assert_allclose(
        ensemble.ensemble_predict([a, b], data["X_val"], weights=[3, 1]), 0.75 * pa + 0.25 * pb,
        rtol=1e-12)


class _Scores:
    def __init__(self, c):
        self.c = c

    def loss(self, X, y=None):
        return np.zeros((len(X), self.c))


@pytest.mark.parametrize("call,exc,match", [
    (lambda m, X: ensemble.ensemble_predict([], X), ValueError, "models"),
    (lambda m, X: ensemble.ensemble_predict(m, X), TypeError, "sequence of models"),
    (lambda m, X: ensemble.ensemble_predict([m, object()], X), TypeError, "model"),
    (lambda m, X: ensemble.ensemble_predict([m], X, weights=[1, 2]), ValueError, "weights"),
    (lambda m, X: ensemble.ensemble_predict([m], X, weights=[-1]), ValueError, "weights"),
    (lambda m, X: ensemble.ensemble_predict([m, _Scores(5)], X), ValueError, "shape"),
    (lambda m, X: ensemble.ensemble_accuracy([m], X, np.zeros(3)), ValueError, "y"),
])
def test_ensemble_bad_inputs(call, exc, match):
    X = _data()["X_val"]
    with pytest.raises(exc, match=match):
        call(_net(), X)


def test_parameter_average_bad_inputs():
    with pytest.raises(ValueError, match="average"):
        ensemble.ParameterAverage("swa")
    avg = ensemble.ParameterAverage("ema", 0.5)
    avg.update({"w": np.zeros(2)})
    with pytest.raises(ValueError, match="keys"):
        avg.update({"v": np.zeros(2)})
