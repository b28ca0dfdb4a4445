"""The course's Solver (cs231n_fast.solver): training loop, best parameters, checkpoints, output."""

import io
import os
import pickle

import numpy as np
import pytest

from cs231n_fast import optim
from cs231n_fast.solver import Solver


class SoftmaxRegression:
    """A linear softmax classifier with the course's model API (params, loss)."""

    def __init__(self, dim, num_classes, rng):
        self.params = {
            "W": 0.01 * rng.standard_normal((dim, num_classes)),
            "b": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        X = X.reshape(X.shape[0], -1)
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        n = X.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), y].mean()
        dscores = np.exp(log_probs)
        dscores[np.arange(n), y] -= 1
        dscores /= n
        return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


class WindowModel:
    """One parameter ``w`` that every sgd step with learning rate 1 raises by exactly 1.

    It predicts class 1 while ``lo < w < hi`` and class 0 otherwise, so with all labels 1 the
    validation accuracy is 1 exactly at the checks where ``w`` lies in the window.
    """

    def __init__(self, lo, hi):
        self.params = {"w": np.zeros(1)}
        self.lo, self.hi = lo, hi

    def loss(self, X, y=None):
        w = self.params["w"][0]
        scores = np.zeros((X.shape[0], 2))
        scores[:, 1 if self.lo < w < self.hi else 0] = 1.0
        if y is None:
            return scores
        return 0.0, {"w": -np.ones(1)}


def inplace_sgd(w, dw, config):
    """The course's sgd, which writes into ``w``."""
    w -= config["learning_rate"] * dw
    return w, config


class RecordingSgd:
    """sgd that records the learning rate of every call."""

    def __init__(self):
        self.learning_rates = []

    def __call__(self, w, dw, config):
        self.learning_rates.append(config["learning_rate"])
        return w - config["learning_rate"] * dw, config


def _blobs(rng, n_per_class, num_classes=3, dim=4):
    """Linearly separable classes: tight clusters around distant centres."""
    centres = 4.0 * np.eye(num_classes, dim)
    y = np.repeat(np.arange(num_classes), n_per_class)
    X = centres[y] + 0.3 * rng.standard_normal((y.size, dim))
    return X, y


def _data(rng, n_train=30, n_val=12):
    X, y = _blobs(rng, (n_train + n_val) // 3)
    order = rng.permutation(y.size)
    X, y = X[order], y[order]
    train, val = slice(0, n_train), slice(n_train, None)
    return {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val]}


def _window_data(n=4):
    ones = np.ones(n, dtype=np.int64)
    return {"X_train": np.zeros((n, 1)), "y_train": ones, "X_val": np.zeros((n, 1)), "y_val": ones}


def _snapshot(params):
    return {k: np.array(v, copy=True) for k, v in params.items()}


# --- training ------------------------------------------------------------------------------------


@pytest.mark.parametrize("update_rule, learning_rate", [("sgd", 0.5), ("adam", 0.05)])
def test_solver_train_overfits_separable_data(rng, update_rule, learning_rate):
    data = _data(rng)
    model = SoftmaxRegression(4, 3, rng)
    solver = Solver(
        model,
        data,
        update_rule=update_rule,
        optim_config={"learning_rate": learning_rate},
        batch_size=10,
        num_epochs=20,
        verbose=False,
        seed=0,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert solver.check_accuracy(data["X_train"], data["y_train"]) == 1.0
    assert len(solver.loss_history) == 20 * 3
    first = solver.loss_history[0]
    assert first == pytest.approx(np.log(3), rel=0.1)  # near-zero weights: uniform scores
    assert np.mean(solver.loss_history[-5:]) < 0.2 * first


def test_solver_train_histories_follow_course_schedule(rng):
    data = _data(rng)  # 30 training images, batch 10: 3 iterations per epoch
    solver = Solver(SoftmaxRegression(4, 3, rng), data, batch_size=10, num_epochs=4, verbose=False)
    solver.train()
    assert solver.epoch == 4
    assert len(solver.loss_history) == 12
    # checks at the first iteration and at the end of every epoch
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 5
    assert solver.best_val_acc == max(solver.val_acc_history)


@pytest.mark.parametrize("update_rule", [inplace_sgd, "sgd"], ids=["inplace", "optim.sgd"])
def test_solver_best_params_from_best_validation_epoch(update_rule):
    # w after the checks: 1, 2, 3, 4; only w = 2 lies in the window (1.5, 2.5).
    model = WindowModel(1.5, 2.5)
    solver = Solver(
        model,
        _window_data(),
        update_rule=update_rule,
        optim_config={"learning_rate": 1.0},
        batch_size=4,
        num_epochs=4,
        verbose=False,
    )
    solver.train()
    assert solver.val_acc_history == [0.0, 1.0, 0.0, 0.0]
    assert solver.best_val_acc == 1.0
    np.testing.assert_array_equal(solver.best_params["w"], [2.0])
    np.testing.assert_array_equal(model.params["w"], [2.0])
    # The model holds copies: training on (or writing into them) leaves best_params alone.
    assert model.params["w"] is not solver.best_params["w"]
    model.params["w"] += 10
    np.testing.assert_array_equal(solver.best_params["w"], [2.0])


def test_solver_best_params_kept_when_val_acc_never_positive():
    model = WindowModel(100.0, 200.0)  # never in the window: validation accuracy stays 0
    solver = Solver(
        model,
        _window_data(),
        update_rule=inplace_sgd,
        optim_config={"learning_rate": 1.0},
        batch_size=4,
        num_epochs=3,
        verbose=False,
    )
    solver.train()
    assert solver.val_acc_history == [0.0, 0.0, 0.0]
    assert solver.best_val_acc == 0
    np.testing.assert_array_equal(model.params["w"], [1.0])  # the first check's parameters


def test_solver_lr_decay_per_epoch_for_every_param(rng):
    data = _data(rng, n_train=21)  # batch 10: 2 iterations per epoch (the course floors)
    rule = RecordingSgd()
    config = {"learning_rate": 1.0}
    solver = Solver(
        SoftmaxRegression(4, 3, rng),
        data,
        update_rule=rule,
        optim_config=config,
        lr_decay=0.5,
        batch_size=10,
        num_epochs=3,
        verbose=False,
    )
    solver.train()
    # two parameters (W, b) per step, two steps per epoch
    assert rule.learning_rates == [1.0] * 4 + [0.5] * 4 + [0.25] * 4
    assert solver.optim_configs["W"]["learning_rate"] == 0.125
    assert solver.optim_configs["b"]["learning_rate"] == 0.125
    assert config == {"learning_rate": 1.0}  # the caller's dict is not modified


def test_solver_optim_config_copied_per_param(rng):
    model = SoftmaxRegression(4, 3, rng)
    config = {"learning_rate": 0.1, "momentum": 0.9}
    solver = Solver(
        model,
        _data(rng),
        update_rule="sgd_momentum",
        optim_config=config,
        num_epochs=2,
        verbose=False,
    )
    assert solver.optim_configs["W"] is not solver.optim_configs["b"]
    solver.train()
    assert solver.update_rule is optim.sgd_momentum
    assert solver.optim_configs["W"]["velocity"].shape == model.params["W"].shape
    assert solver.optim_configs["b"]["velocity"].shape == model.params["b"].shape
    assert config == {"learning_rate": 0.1, "momentum": 0.9}


def test_solver_seed_reproducible(rng):
    data = _data(rng)
    start = SoftmaxRegression(4, 3, rng).params

    def run(seed):
        model = SoftmaxRegression(4, 3, rng)
        model.params = _snapshot(start)
        solver = Solver(
            model, data, batch_size=5, num_epochs=2, num_train_samples=7, verbose=False, seed=seed
        )
        solver.train()
        return solver

    a, b, c = run(3), run(3), run(4)
    assert a.loss_history == b.loss_history
    assert a.train_acc_history == b.train_acc_history
    for k in start:
        np.testing.assert_array_equal(a.model.params[k], b.model.params[k])
    assert a.loss_history != c.loss_history


def test_solver_without_seed_uses_numpy_global_state(rng):
    # Without seed= the minibatches are the course's np.random.choice(num_train, batch_size)
    # draws from NumPy's global state: after np.random.seed(123) exactly these six batches.
    data = _data(rng)
    np.random.seed(123)
    expected = [np.random.choice(30, 5) for _ in range(6)]
    batches = []

    class Recording(SoftmaxRegression):
        def loss(self, X, y=None):
            if y is not None:  # a training step (check_accuracy passes no labels)
                batches.append((X.copy(), y.copy()))
            return super().loss(X, y)

    np.random.seed(123)
    Solver(Recording(4, 3, rng), data, batch_size=5, num_epochs=1, verbose=False).train()
    assert len(batches) == len(expected)
    for (X, y), idx in zip(batches, expected):
        np.testing.assert_array_equal(X, data["X_train"][idx])
        np.testing.assert_array_equal(y, data["y_train"][idx])


def test_solver_check_accuracy_matches_argmax(rng):
    model = SoftmaxRegression(4, 3, rng)
    model.params["W"] = rng.standard_normal((4, 3))
    X, y = _blobs(rng, 4)
    expected = np.mean(np.argmax(X @ model.params["W"] + model.params["b"], axis=1) == y)
    solver = Solver(model, _data(rng), verbose=False)
    for batch_size in (1, 5, 100):
        assert solver.check_accuracy(X, y, batch_size=batch_size) == pytest.approx(expected)
    sub = Solver(model, _data(rng), verbose=False, seed=1).check_accuracy(X, y, num_samples=5)
    assert sub * 5 == pytest.approx(round(sub * 5))  # an accuracy over 5 samples


# --- checkpoints ---------------------------------------------------------------------------------


def test_solver_checkpoints_written_and_loadable(rng, tmp_path):
    data = _data(rng, n_train=20)  # batch 10: 2 iterations per epoch
    name = tmp_path / "ckpt"
    solver = Solver(
        SoftmaxRegression(4, 3, rng),
        data,
        batch_size=10,
        num_epochs=2,
        checkpoint_name=str(name),
        verbose=False,
    )
    solver.train()
    course_keys = {
        "model",
        "update_rule",
        "lr_decay",
        "optim_config",
        "batch_size",
        "num_train_samples",
        "num_val_samples",
        "epoch",
        "loss_history",
        "train_acc_history",
        "val_acc_history",
    }
    # checks at iteration 1 (epoch 0), then at the end of epochs 1 and 2
    assert sorted(os.listdir(tmp_path)) == [f"ckpt_epoch_{e}.pkl" for e in range(3)]  # no .tmp
    for epoch, n_losses in ((0, 1), (1, 2), (2, 4)):
        with open(f"{name}_epoch_{epoch}.pkl", "rb") as f:
            checkpoint = pickle.load(f)
        assert set(checkpoint) == course_keys
        assert checkpoint["epoch"] == epoch
        assert len(checkpoint["loss_history"]) == n_losses
        assert checkpoint["loss_history"] == solver.loss_history[:n_losses]
        assert checkpoint["update_rule"] is optim.sgd
        assert checkpoint["batch_size"] == 10
        assert set(checkpoint["model"].params) == {"W", "b"}


# --- output ---------------------------------------------------------------------------------------


def test_solver_verbose_prints_course_lines(rng, capsys, tmp_path):
    data = _data(rng, n_train=20)  # 2 iterations per epoch, 4 in all
    solver = Solver(
        SoftmaxRegression(4, 3, rng),
        data,
        batch_size=10,
        num_epochs=2,
        print_every=1,
        checkpoint_name=str(tmp_path / "run"),
    )
    solver.train()
    out, err = capsys.readouterr()
    loss, tr, va = solver.loss_history, solver.train_acc_history, solver.val_acc_history

    def epoch_line(i, epoch):
        return "(Epoch %d / 2) train acc: %f; val_acc: %f" % (epoch, tr[i], va[i])

    def saving(epoch):
        return 'Saving checkpoint to "%s"' % f"{tmp_path / 'run'}_epoch_{epoch}.pkl"

    assert out.splitlines() == [
        "(Iteration 1 / 4) loss: %f" % loss[0],
        saving(0),
        epoch_line(0, 0),
        "(Iteration 2 / 4) loss: %f" % loss[1],
        saving(1),
        epoch_line(1, 1),
        "(Iteration 3 / 4) loss: %f" % loss[2],
        "(Iteration 4 / 4) loss: %f" % loss[3],
        saving(2),
        epoch_line(2, 2),
    ]
    # stderr is not a terminal here: one finished progress line per epoch, no carriage returns
    lines = err.splitlines()
    assert len(lines) == 2 and "\r" not in err
    assert lines[0].startswith("epoch 1 / 2 [" + "#" * 30 + "] 2/2 it")
    assert lines[1].startswith("epoch 2 / 2 [")


def test_solver_print_every(rng, capsys):
    data = _data(rng, n_train=30)  # batch 5: 6 iterations per epoch, 12 in all
    Solver(SoftmaxRegression(4, 3, rng), data, batch_size=5, num_epochs=2, print_every=5).train()
    out = capsys.readouterr().out
    printed = [line.split(")")[0] for line in out.splitlines() if line.startswith("(Iteration")]
    assert printed == ["(Iteration 1 / 12", "(Iteration 6 / 12", "(Iteration 11 / 12"]


def test_solver_quiet_when_not_verbose(rng, capsys):
    Solver(SoftmaxRegression(4, 3, rng), _data(rng), num_epochs=2, verbose=False).train()
    out, err = capsys.readouterr()
    assert out == "" and err == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_solver_progress_bar_redrawn_on_terminal(rng, capsys, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    data = _data(rng, n_train=30)  # batch 10: 3 iterations per epoch
    Solver(SoftmaxRegression(4, 3, rng), data, batch_size=10, num_epochs=2, print_every=100).train()
    text = terminal.getvalue()
    assert "\r" in text
    assert text.count("\n") == 2  # one finished bar per epoch
    finished = [line.rsplit("\r", 1)[-1] for line in text.split("\n")[:2]]
    assert finished[0].startswith("epoch 1 / 2 [" + "#" * 30 + "] 3/3 it")
    assert finished[1].startswith("epoch 2 / 2 [" + "#" * 30 + "] 3/3 it")
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("(Iteration 1 / 6) loss: ")


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"learning_rate": 0.1}, ValueError, 'Unrecognized arguments "learning_rate"'),
        ({"foo": 1, "bar": 2}, ValueError, 'Unrecognized arguments "foo", "bar"'),
        ({"update_rule": "sgd_nesterov"}, ValueError, "update_rule"),
        ({"update_rule": 3}, TypeError, "update_rule"),
        ({"optim_config": [("learning_rate", 1.0)]}, TypeError, "optim_config"),
        ({"lr_decay": -0.5}, ValueError, "lr_decay"),
        ({"lr_decay": float("nan")}, ValueError, "lr_decay"),
        ({"lr_decay": "0.9"}, ValueError, "lr_decay"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"num_epochs": 0}, ValueError, "num_epochs"),
        ({"num_epochs": -3}, ValueError, "num_epochs"),
        ({"num_train_samples": 0}, ValueError, "num_train_samples"),
        ({"num_val_samples": -1}, ValueError, "num_val_samples"),
        ({"checkpoint_name": 3}, TypeError, "checkpoint_name"),
        ({"print_every": 0}, ValueError, "print_every"),  # verbose (the default) divides by it
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
    ],
)
def test_solver_bad_options(rng, kwargs, error, match):
    with pytest.raises(error, match=match):
        Solver(SoftmaxRegression(4, 3, rng), _data(rng), **kwargs)


def test_solver_accepts_what_the_course_runs(rng):
    # Options and data the course's Solver runs with: float labels holding class numbers (it
    # only indexes and compares them), uint8/int32 labels, lr_decay = 0 (learning stops after
    # the first epoch), print_every = 0 when quiet (never read).
    class FloatLabels(SoftmaxRegression):  # a model that takes class numbers as floats
        def loss(self, X, y=None):
            return super().loss(X, None if y is None else y.astype(np.intp))

    data = _data(rng)
    for y_dtype in (np.float64, np.uint8, np.int32):
        labelled = {**data, "y_train": data["y_train"].astype(y_dtype),
                    "y_val": data["y_val"].astype(y_dtype)}
        model = FloatLabels(4, 3, np.random.default_rng(1))
        solver = Solver(model, labelled, num_epochs=1, batch_size=10, verbose=False, seed=0)
        solver.train()
        assert solver.val_acc_history and 0.0 <= solver.best_val_acc <= 1.0
        assert solver.check_accuracy(labelled["X_val"], labelled["y_val"].tolist()) >= 0.0
    recorder = RecordingSgd()
    solver = Solver(SoftmaxRegression(4, 3, rng), data, update_rule=recorder, lr_decay=0,
                    optim_config={"learning_rate": 0.1}, num_epochs=2, batch_size=len(data["y_train"]),
                    verbose=False, print_every=0)
    solver.train()
    assert set(recorder.learning_rates) == {0.1, 0.0}
    assert recorder.learning_rates[-1] == 0.0


def _without(data, key):
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda d: _without(d, "X_train"), ValueError, "X_train"),
        (lambda d: _without(d, "y_train"), ValueError, "y_train"),
        (lambda d: _without(d, "X_val"), ValueError, "X_val"),
        (lambda d: _without(d, "y_val"), ValueError, "y_val"),
        (lambda d: {**d, "y_train": d["y_train"][:-1]}, ValueError, "y_train"),
        (lambda d: {**d, "y_val": d["y_val"][1:]}, ValueError, "y_val"),
        (lambda d: {**d, "y_val": d["y_val"].astype(str)}, TypeError, "y_val"),
        (lambda d: {**d, "y_val": d["y_val"][:, None]}, ValueError, "y_val"),
        (
            lambda d: {**d, "X_train": d["X_train"][:0], "y_train": d["y_train"][:0]},
            ValueError,
            "X_train",
        ),
        (lambda d: list(d.items()), TypeError, "data"),
    ],
)
def test_solver_bad_data(rng, change, error, match):
    with pytest.raises(error, match=match):
        Solver(SoftmaxRegression(4, 3, rng), change(_data(rng)))


class _NoParams:
    def loss(self, X, y=None):
        return np.zeros((X.shape[0], 3))


class _ListParams(_NoParams):
    params = [np.zeros(3)]


class _NoLoss:
    params = {"W": np.zeros((4, 3))}


@pytest.mark.parametrize(
    "model, match", [(_NoParams(), "params"), (_ListParams(), "params"), (_NoLoss(), "loss")]
)
def test_solver_bad_model(rng, model, match):
    with pytest.raises(TypeError, match=match):
        Solver(model, _data(rng))


def test_solver_step_missing_gradient(rng):
    model = SoftmaxRegression(4, 3, rng)
    full_loss = model.loss

    def loss_without_b(X, y=None):
        if y is None:
            return full_loss(X)
        loss, grads = full_loss(X, y)
        return loss, {"W": grads["W"]}

    model.loss = loss_without_b
    solver = Solver(model, _data(rng), verbose=False)
    with pytest.raises(ValueError, match="grads.*b|b.*grads"):
        solver.train()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": None}, TypeError, "batch_size"),
    ],
)
def test_solver_check_accuracy_bad_input(rng, kwargs, error, match):
    data = _data(rng)
    solver = Solver(SoftmaxRegression(4, 3, rng), data, verbose=False)
    with pytest.raises(error, match=match):
        solver.check_accuracy(data["X_val"], data["y_val"], **kwargs)


def test_solver_check_accuracy_label_mismatch(rng):
    data = _data(rng)
    solver = Solver(SoftmaxRegression(4, 3, rng), data, verbose=False)
    with pytest.raises(ValueError, match="y"):
        solver.check_accuracy(data["X_val"], data["y_val"][:-1])


def test_solver_does_not_modify_data(rng):
    data = _data(rng)
    before = _snapshot(data)
    Solver(SoftmaxRegression(4, 3, rng), data, num_epochs=2, verbose=False).train()
    for key, value in before.items():
        np.testing.assert_array_equal(data[key], value, err_msg=key)
