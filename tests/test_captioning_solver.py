"""cs231n_fast.captioning_solver: the course's CaptioningSolver training our CaptioningRNN on a
small captioning dataset (the dict load_coco_data returns, built in memory; one end-to-end test
reads it from the real file format and needs h5py)."""

import io

import numpy as np
import pytest

from cs231n_fast import optim
from cs231n_fast.captioning_solver import CaptioningSolver
from cs231n_fast.classifiers.rnn import CaptioningRNN
from cs231n_fast.coco_utils import decode_captions, load_coco_data, sample_coco_minibatch
from test_coco_utils import VOCAB, make_coco, write_coco


def _model(data, cell_type="rnn", seed=0, dtype=np.float32, wordvec_dim=8, hidden_dim=16):
    return CaptioningRNN(
        data["word_to_idx"],
        input_dim=data["train_features"].shape[1],
        wordvec_dim=wordvec_dim,
        hidden_dim=hidden_dim,
        cell_type=cell_type,
        dtype=dtype,
        seed=seed,
    )


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_solver_overfits_small_data(rng, cell_type):
    """The notebooks' "overfit small data" run, scaled down: the loss falls far."""
    data = make_coco(rng, n_train=20, n_train_img=20)
    data["train_image_idxs"] = np.arange(20, dtype=np.int32)  # one caption per image: learnable
    model = _model(data, cell_type, wordvec_dim=16, hidden_dim=32)
    solver = CaptioningSolver(
        model, data, update_rule="adam", num_epochs=60, batch_size=10,
        optim_config={"learning_rate": 1e-2}, lr_decay=0.995, verbose=False, seed=1,
    )  # fmt: skip
    solver.train()
    losses = np.array(solver.loss_history, dtype=np.float64)
    assert losses.shape == (60 * 2,)
    assert np.all(np.isfinite(losses))
    assert losses[-10:].mean() < 0.2 * losses[:2].mean()
    # the trained parameters stay in the model (the course keeps no best_params)
    assert solver.best_params == {} and model.params["W_vocab"].dtype == np.float32


def test_captioning_solver_defaults_are_the_courses(rng):
    data = make_coco(rng)
    solver = CaptioningSolver(_model(data), data)
    assert solver.update_rule is optim.sgd
    assert (solver.lr_decay, solver.batch_size, solver.num_epochs, solver.print_every) == (1.0, 100, 10, 10)
    assert solver.verbose is True and solver.optim_config == {}
    assert solver.epoch == 0 and solver.best_val_acc == 0
    assert solver.loss_history == solver.train_acc_history == solver.val_acc_history == []
    assert set(solver.optim_configs) == set(solver.model.params)
    assert solver.check_accuracy(np.zeros((2, 3)), np.zeros(2)) == 0.0  # the course's placeholder


class _Recorder:
    """A model with one parameter; its loss records the minibatches and returns grads of 1."""

    def __init__(self):
        self.params = {"W": np.zeros(3)}
        self.calls = []

    def loss(self, features, captions):
        self.calls.append((features.copy(), captions.copy()))
        return float(self.params["W"].sum()), {"W": np.ones(3)}


def test_captioning_solver_schedule_minibatches_and_updates(rng):
    data = make_coco(rng, n_train=30)
    model = _Recorder()
    solver = CaptioningSolver(
        model, data, update_rule="sgd", optim_config={"learning_rate": 0.5}, lr_decay=0.5,
        batch_size=10, num_epochs=3, verbose=False,
    )  # fmt: skip
    solver.train()
    assert len(model.calls) == len(solver.loss_history) == 9 and solver.epoch == 3
    # each minibatch pairs captions with the features of their images
    for features, captions in model.calls:
        assert features.shape == (10, data["train_features"].shape[1]) and captions.shape == (10, 9)
        for f, c in zip(features, captions):
            rows = np.flatnonzero((data["train_captions"] == c).all(axis=1))
            assert any(np.array_equal(f, data["train_features"][data["train_image_idxs"][r]]) for r in rows)
    # sgd with the learning rate halved after each epoch: 3 steps at 0.5, 0.25, 0.125
    np.testing.assert_allclose(model.params["W"], -(3 * 0.5 + 3 * 0.25 + 3 * 0.125))
    assert solver.optim_configs["W"]["learning_rate"] == 0.5 * 0.5**3
    assert solver.optim_config == {"learning_rate": 0.5}  # the caller's dict is not modified


def test_captioning_solver_seed_and_global_state(rng):
    data = make_coco(rng)

    def run(**kwargs):
        s = CaptioningSolver(_model(data, seed=2), data, update_rule="adam", batch_size=8, num_epochs=2,
                             optim_config={"learning_rate": 1e-2}, verbose=False, **kwargs)  # fmt: skip
        s.train()
        return s.loss_history

    assert run(seed=4) == run(seed=4)
    np.random.seed(9)
    a = run()
    np.random.seed(9)
    assert run() == a  # without seed: np.random, as the course's sample_coco_minibatch


def test_captioning_solver_draws_like_sample_coco_minibatch(rng):
    """Minibatch t is sample_coco_minibatch's t-th draw from the same random state."""
    data = make_coco(rng, n_train=30)
    model = _Recorder()
    CaptioningSolver(model, data, batch_size=10, num_epochs=1, verbose=False, seed=6).train()
    g = np.random.default_rng(6)
    for features, captions in model.calls:
        c, f, _ = sample_coco_minibatch(data, 10, "train", rng=g)
        np.testing.assert_array_equal(captions, c)
        np.testing.assert_array_equal(features, f)


def test_captioning_solver_verbose_output(rng, capsys):
    data = make_coco(rng, n_train=30)  # batch 10: 3 iterations per epoch, 6 in all
    solver = CaptioningSolver(_model(data), data, batch_size=10, num_epochs=2, print_every=2,
                              optim_config={"learning_rate": 1e-3})  # fmt: skip
    solver.train()
    out, err = capsys.readouterr()
    loss = solver.loss_history
    assert out.splitlines() == ["(Iteration %d / 6) loss: %f" % (t + 1, loss[t]) for t in (0, 2, 4)]
    lines = err.splitlines()  # not a terminal: one finished progress line per epoch
    assert len(lines) == 2 and "\r" not in err
    assert lines[0].startswith("epoch 1 / 2 [" + "#" * 30 + "] 3/3 it")
    assert lines[1].startswith("epoch 2 / 2 [" + "#" * 30 + "] 3/3 it")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_captioning_solver_progress_bar_on_terminal(rng, capsys, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    data = make_coco(rng, n_train=30)
    CaptioningSolver(_model(data), data, batch_size=10, num_epochs=2, print_every=100,
                     optim_config={"learning_rate": 1e-3}).train()  # fmt: skip
    text = terminal.getvalue()
    assert "\r" in text and text.count("\n") == 2
    assert capsys.readouterr().out.startswith("(Iteration 1 / 6) loss: ")


def test_captioning_solver_quiet(rng, capsys):
    data = make_coco(rng)
    CaptioningSolver(_model(data), data, num_epochs=1, batch_size=20, verbose=False,
                     optim_config={"learning_rate": 1e-3}).train()  # fmt: skip
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"learning_rate": 0.1}, ValueError, 'Unrecognized arguments "learning_rate"'),
        ({"num_train_samples": 10}, ValueError, 'Unrecognized arguments "num_train_samples"'),
        ({"update_rule": "sgd_nesterov"}, ValueError, "update_rule"),
        ({"update_rule": 3}, TypeError, "update_rule"),
        ({"optim_config": [("learning_rate", 1.0)]}, TypeError, "optim_config"),
        ({"lr_decay": -0.5}, ValueError, "lr_decay"),
        ({"lr_decay": float("nan")}, ValueError, "lr_decay"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"num_epochs": 0}, ValueError, "num_epochs"),
        ({"print_every": 0, "verbose": True}, ValueError, "print_every"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_captioning_solver_bad_options(rng, kwargs, error, match):
    data = make_coco(rng)
    with pytest.raises(error, match=match):
        CaptioningSolver(_model(data), data, **kwargs)


def test_captioning_solver_options_as_permissive_as_solver(rng):
    # The course's solvers run lr_decay = 0 and read print_every only when verbose; the two
    # solvers share those checks (solver._check_lr_decay, _check_print_every).
    data = make_coco(rng)
    solver = CaptioningSolver(_model(data), data, lr_decay=0, print_every=0, verbose=False)
    assert (solver.lr_decay, solver.print_every) == (0, 0)


@pytest.mark.parametrize("key", ["train_captions", "train_image_idxs", "train_features", "train_urls"])
def test_captioning_solver_bad_data(rng, key):
    data = make_coco(rng)
    model = _model(data)
    with pytest.raises(ValueError, match=key):
        CaptioningSolver(model, {k: v for k, v in data.items() if k != key})
    with pytest.raises(TypeError, match="data"):
        CaptioningSolver(model, list(data.items()))
    with pytest.raises(ValueError, match="train_captions"):
        CaptioningSolver(model, {**data, "train_captions": data["train_captions"][:0]})


class _NoLoss:
    params = {"W": np.zeros(3)}


def test_captioning_solver_bad_model(rng):
    data = make_coco(rng)
    with pytest.raises(TypeError, match=r"loss\(features, captions\)"):
        CaptioningSolver(_NoLoss(), data)
    with pytest.raises(TypeError, match="params"):
        CaptioningSolver(object(), data)


def test_captioning_pipeline_from_the_courses_files(tmp_path, rng, capsys):
    """load_coco_data -> CaptioningSolver -> sample -> decode_captions, as the notebook does."""
    h5py = pytest.importorskip("h5py")
    base = write_coco(tmp_path / "coco_captioning", make_coco(rng, n_train=40), h5py)
    np.random.seed(0)
    small_data = load_coco_data(base, max_train=30)
    model = CaptioningRNN(
        cell_type="lstm", word_to_idx=small_data["word_to_idx"],
        input_dim=small_data["train_features"].shape[1], hidden_dim=16, wordvec_dim=8,
    )  # fmt: skip
    solver = CaptioningSolver(model, small_data, update_rule="adam", num_epochs=3, batch_size=10,
                              optim_config={"learning_rate": 5e-3}, lr_decay=0.95, print_every=10)  # fmt: skip
    solver.train()
    assert len(solver.loss_history) == 9
    for split in ("train", "val"):
        gt_captions, features, urls = sample_coco_minibatch(small_data, split=split, batch_size=2)
        gt = decode_captions(gt_captions, small_data["idx_to_word"])
        sampled = decode_captions(model.sample(features), small_data["idx_to_word"])
        assert len(gt) == len(sampled) == len(urls) == 2
        assert all(isinstance(s, str) and set(s.split()) <= set(VOCAB) for s in sampled)
