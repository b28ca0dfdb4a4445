"""``cs231n-fast train`` (``cs231n_fast.__main__``) and its logic (``cs231n_fast.training``).

Runs are short (one epoch, often on a subset of the digits) and use the CLI's default of one
thread for the digits; no assertion depends on timings beyond their being positive.
"""

import math
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from cs231n_fast import training
from cs231n_fast.__main__ import main
from cs231n_fast._threads import effective_n_threads
from cs231n_fast.data import CIFAR10_URL, get_digits_data

NUMBER = r"(\d+(?:\.\d+)?)"
EPOCH_LINE = re.compile(
    rf"^epoch +(\d+)/(\d+): loss {NUMBER}, train acc {NUMBER}, val acc {NUMBER}, {NUMBER} s$",
    re.M,
)
BEST_LINE = re.compile(
    rf"^best val acc {NUMBER} \(epoch (\d+)\), test acc {NUMBER} \(best params\)$", re.M
)
TOTAL_LINE = re.compile(rf"^total {NUMBER} s, {NUMBER} samples/s \((\d+) training samples", re.M)
TIMING_LINE = re.compile(rf"^  (fast|reference) +{NUMBER} s$", re.M)
SPEEDUP_LINE = re.compile(rf"^  speed-up +{NUMBER}x \(reference / fast\)$", re.M)

DIGITS_TRAIN = get_digits_data()["X_train"].shape[0]  # 1297: 1797 minus 250 val and 250 test


def _epochs(out):
    """[(epoch, num_epochs, loss, train_acc, val_acc, seconds)] of the per-epoch lines."""
    return [(int(e), int(n), *map(float, rest)) for e, n, *rest in EPOCH_LINE.findall(out)]


def _summary(out):
    """(best_val_acc, best_epoch, test_acc, total_seconds, samples_per_second, samples)."""
    (best, epoch, test), = BEST_LINE.findall(out)  # fmt: skip
    (total, rate, samples), = TOTAL_LINE.findall(out)  # fmt: skip
    return float(best), int(epoch), float(test), float(total), float(rate), int(samples)


def _run(capsys, *argv):
    assert main(["train", *argv]) == 0
    return capsys.readouterr()


# --- runs -----------------------------------------------------------------------------------


def test_train_digits_prints_epoch_lines_and_summary(capsys):
    captured = _run(capsys, "--epochs", "2")
    out = captured.out
    sizes = f"{DIGITS_TRAIN} train / 250 val / 250 test images of 1x8x8"
    assert f"train convnet on digits: {sizes}" in out
    assert "backend fast; 1 thread" in out  # the digits' default thread count
    epochs = _epochs(out)
    assert [(e, n) for e, n, *_ in epochs] == [(1, 2), (2, 2)]
    for _, _, loss, train_acc, val_acc, seconds in epochs:
        assert loss > 0 and seconds > 0
        assert 0 <= train_acc <= 1 and 0 <= val_acc <= 1
    best, best_epoch, test, total, rate, samples = _summary(out)
    assert 0 <= best <= 1 and 0 <= test <= 1
    assert best == max(val for *_, val, _ in epochs) or best_epoch == 0
    assert 0 <= best_epoch <= 2
    assert best > 0.5  # it learns: chance is 0.1, one epoch reaches ~0.87
    assert samples == 2 * (DIGITS_TRAIN // 50) * 50  # epochs x steps x batch size
    assert total > 0 and rate > 0
    assert "epoch 2 / 2 [" in captured.err  # the Solver's progress bar


def test_train_quiet_prints_only_the_summary(capsys):
    captured = _run(capsys, "--epochs", "1", "--num-train", "100", "--quiet")
    assert captured.err == ""
    assert _epochs(captured.out) == []
    assert "train convnet" not in captured.out
    best, _, test, *_ = _summary(captured.out)
    assert 0 <= best <= 1 and 0 <= test <= 1


def test_train_compare_prints_speedup(capsys):
    out = _run(capsys, "--epochs", "1", "--num-train", "500", "--compare", "--quiet").out
    seconds = {backend: float(s) for backend, s in TIMING_LINE.findall(out)}
    assert set(seconds) == {"fast", "reference"}
    assert all(s > 0 for s in seconds.values())
    (speedup,) = map(float, SPEEDUP_LINE.findall(out))
    assert speedup > 0
    # Printed to 3 decimals (seconds) and 1 (speed-up): equal up to that rounding. The fast
    # epoch can take a few milliseconds, where the seconds' rounding alone moves the ratio by
    # several percent, so bound it by the extremes the printed seconds allow.
    ref, fast = seconds["reference"], seconds["fast"]
    low = (ref - 5e-4) / (fast + 5e-4)
    high = (ref + 5e-4) / max(fast - 5e-4, 1e-9)
    assert low - 0.05 - 1e-9 <= speedup <= high + 0.05 + 1e-9
    assert "best of 3 rounds" in out


def test_train_fc_model(capsys):
    out = _run(capsys, "--model", "fc", "--epochs", "1", "--compare").out
    assert "train fc on digits" in out and "no conv/pool" in out
    (epoch,) = _epochs(out)
    assert epoch[:2] == (1, 1) and 0 <= epoch[3] <= 1 and 0 <= epoch[4] <= 1
    best, _, test, *_ = _summary(out)
    assert 0.5 < best <= 1 and 0 <= test <= 1
    assert "nothing to compare" in out and not SPEEDUP_LINE.search(out)


@pytest.mark.parametrize("backend, reference_calls", [("reference", True), ("fast", False)])
def test_train_backend_selects_kernels(capsys, monkeypatch, backend, reference_calls):
    import cs231n_fast.reference as reference

    calls = {"conv_forward": 0, "maxpool_forward": 0}
    for name in calls:

        def spy(*args, name=name, real=getattr(reference, name), **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(reference, name, spy)
    out = _run(capsys, "--backend", backend, "--epochs", "1", "--num-train", "200").out
    assert f"200 train / 250 val / 250 test images of 1x8x8; backend {backend}" in out
    assert len(_epochs(out)) == 1
    best, _, test, *_ = _summary(out)
    assert 0 <= best <= 1 and 0 <= test <= 1
    assert all((n > 0) == reference_calls for n in calls.values()), calls


@pytest.mark.parametrize("argv, limit", [([], 1), (["--threads", "2"], 2)])
def test_train_threads_limits_the_run(capsys, monkeypatch, argv, limit):
    seen = []
    real = training.limit_threads

    def spy(n_threads):
        seen.append(n_threads)
        return real(n_threads)

    monkeypatch.setattr(training, "limit_threads", spy)
    _run(capsys, "--epochs", "1", "--num-train", "100", "--quiet", *argv)
    assert seen == [limit]


def test_limit_threads_holds_blas_and_openmp():
    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    with training.limit_threads(1):
        assert {i["num_threads"] for i in threadpool_info()} == {1}
        assert {i["user_api"] for i in threadpool_info()} >= {"blas"}
        assert effective_n_threads() == 1
    with training.limit_threads(None):
        assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before


def test_train_runs_as_module():
    proc = subprocess.run(
        [sys.executable, "-m", "cs231n_fast", "train", "--epochs", "1", "--num-train", "300"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(_epochs(proc.stdout)) == 1
    best, _, test, *_ = _summary(proc.stdout)
    assert 0 <= best <= 1 and 0 <= test <= 1
    assert "epoch 1 / 1 [" in proc.stderr  # not a terminal: one finished bar line per epoch


# --- CIFAR-10 ----------------------------------------------------------------------------------

CIFAR_TRAIN_BATCH = 230  # x 5 batches: room for 1000 validation images and a few to train on
CIFAR_TEST = 1000


def _write_batch(path, rng, n):
    """A CIFAR-10 batch in the real format: uint8 rows of channel-major 3x32x32 images."""
    batch = {"data": rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8),
             "labels": [int(v) for v in rng.integers(0, 10, size=n)]}  # fmt: skip
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


@pytest.fixture
def cifar_root(tmp_path, rng):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for b in range(1, 6):
        _write_batch(root / f"data_batch_{b}", rng, CIFAR_TRAIN_BATCH)
    _write_batch(root / "test_batch", rng, CIFAR_TEST)
    return root


def test_train_cifar10_from_root(capsys, cifar_root):
    out = _run(capsys, "--data", "cifar10", "--root", str(cifar_root), "--model", "fc",
               "--num-train", "100").out  # fmt: skip
    assert "train fc on cifar10: 100 train / 1000 val / 1000 test images of 3x32x32" in out
    assert "1 epoch;" in out  # the CIFAR-10 default
    (epoch,) = _epochs(out)
    assert 0 <= epoch[3] <= 1 and 0 <= epoch[4] <= 1
    best, _, test, *_ = _summary(out)
    assert 0 <= best <= 1 and 0 <= test <= 1


def _usage_error(capsys, argv, usage="usage: cs231n-fast train"):
    """Run ``argv``, expect argparse's exit status 2 and ``usage``; return stderr."""
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was trained
    assert usage in captured.err
    return captured.err


@pytest.mark.parametrize("how", ["--root", "environment"])
def test_train_cifar10_missing_root_exits_2_with_download_hint(capsys, monkeypatch, tmp_path, how):
    missing = tmp_path / "no-such-dir"
    argv = ["train", "--data", "cifar10"]
    if how == "--root":
        argv += ["--root", str(missing)]
    else:
        monkeypatch.setenv("CS231N_CIFAR10_ROOT", str(missing))
    err = _usage_error(capsys, argv)
    (message,) = [line for line in err.splitlines() if "error:" in line]  # one line
    assert "--data cifar10" in message and str(missing) in message
    assert "does not exist" in message and CIFAR10_URL in message


@pytest.mark.parametrize("damage", ["missing batch", "damaged batch"])
def test_train_cifar10_bad_batches_exit_2_naming_the_file(capsys, cifar_root, damage):
    path = cifar_root / "data_batch_3"
    if damage == "missing batch":
        path.unlink()
    else:
        path.write_bytes(b"not a pickle")
    err = _usage_error(capsys, ["train", "--data", "cifar10", "--root", str(cifar_root)])
    assert "data_batch_3" in err


# --- argument errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "two"], "--epochs"),
        (["--data", "foo"], "foo"),
        (["--model", "resnet"], "resnet"),
        (["--backend", "torch"], "torch"),
        (["--lr", "-1"], "--lr"),
        (["--lr", "0"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--lr", "fast"], "--lr"),
        (["--batch-size", "0"], "--batch-size"),
        (["--threads", "0"], "--threads"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**32)], "--seed"),
        (["--num-train", "0"], "--num-train"),
        (["--num-train", str(DIGITS_TRAIN + 1)], "--num-train"),
        (["--data", "cifar10", "--num-train", "49001", "--root", "/no-such-dir"], "--num-train"),
        (["--root", "/tmp"], "--root"),  # digits need none
        (["--model", "fc", "--backend", "reference"], "--backend"),
    ],
)
def test_train_rejects_bad_arguments(capsys, argv, expected):
    assert expected in _usage_error(capsys, ["train", *argv])


def test_train_rejects_unknown_option(capsys):
    # argparse reports options no subcommand knows with the main parser's usage.
    err = _usage_error(capsys, ["train", "--frobnicate"], usage="usage: cs231n-fast")
    assert "unrecognized arguments: --frobnicate" in err


def test_train_help_states_defaults(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["train", "--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    assert "usage: cs231n-fast train" in out
    for text in ("--data", "--root", "--model", "--epochs", "--backend", "--compare",
                 "--batch-size", "--lr", "--threads", "--seed", "--num-train", "--quiet",
                 "10 for digits, 1 for cifar10", "0.003 for digits", "CS231N_CIFAR10_ROOT"):
        assert text in out, text


# --- the training module -----------------------------------------------------------------------


def test_train_result_matches_the_best_parameters():
    data = training.load_data("digits", num_train=200)
    model = training.build_model("convnet", "digits", (1, 8, 8), seed=1)
    seen = []
    with training.limit_threads(1):
        result = training.train(model, data, epochs=2, batch_size=50, learning_rate=3e-3,
                                seed=1, progress=False, on_epoch=seen.append)
    assert seen == result.epochs
    assert [e.epoch for e in result.epochs] == [1, 2]
    for e in result.epochs:
        assert 0 < e.step_seconds <= e.seconds
    assert result.samples == 2 * 4 * 50
    assert result.samples_per_second == pytest.approx(result.samples / result.step_seconds)
    assert result.best_val_acc >= max(e.val_acc for e in result.epochs)
    if result.best_epoch:
        assert result.epochs[result.best_epoch - 1].val_acc == result.best_val_acc
    # The model ends with the best parameters; the test accuracy is theirs.
    predicted = np.argmax(model.loss(data["X_test"]), axis=1)
    assert result.test_acc == pytest.approx(np.mean(predicted == data["y_test"]))


def test_load_data_digits_subset_is_float32_prefix():
    full = get_digits_data()
    data = training.load_data("digits", num_train=10)
    assert data["X_train"].dtype == np.float32
    np.testing.assert_array_equal(data["X_train"], full["X_train"][:10])
    np.testing.assert_array_equal(data["y_train"], full["y_train"][:10])
    for split in ("val", "test"):
        np.testing.assert_array_equal(data[f"X_{split}"], full[f"X_{split}"])
    assert training.available_train("digits") == DIGITS_TRAIN
    assert training.available_train("cifar10") == 49_000


def test_build_model_architectures():
    convnet = training.build_model("convnet", "digits", (1, 8, 8), backend="reference")
    assert convnet.params["W1"].shape == (32, 1, 3, 3) and convnet.backend == "reference"
    course = training.build_model("convnet", "cifar10", (3, 32, 32))
    assert course.params["W1"].shape == (32, 3, 7, 7) and course.params["W3"].shape == (500, 10)
    assert course.reg == 1e-3
    fc = training.build_model("fc", "digits", (1, 8, 8))
    assert fc.params["W1"].shape == (64, 100) and fc.normalization == "batchnorm"
    assert fc.num_layers == 3
    for model in (convnet, course, fc):
        assert all(p.dtype == np.float32 for p in model.params.values())
    assert math.isclose(float(np.std(convnet.params["W1"])), 0.1, rel_tol=0.3)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: training.build_model("resnet", "digits", (1, 8, 8)), ValueError, "model_name"),
        (lambda: training.build_model("convnet", "mnist", (1, 8, 8)), ValueError, "data_name"),
        (lambda: training.build_model("convnet", "digits", (1, 8, 8), backend="torch"),
         ValueError, "backend"),
        (lambda: training.build_model("fc", "digits", (1, 8, 8), backend="reference"),
         ValueError, "backend"),
        (lambda: training.load_data("mnist"), ValueError, "data_name"),
        (lambda: training.load_data("digits", num_train=0), ValueError, "num_train"),
        (lambda: training.load_data("digits", num_train=DIGITS_TRAIN + 1), ValueError, "num_train"),
        (lambda: training.available_train("mnist"), ValueError, "data_name"),
        (lambda: training.compare_backends("fc", "digits", {}, batch_size=50, learning_rate=1e-3),
         ValueError, "model_name"),
    ],
)  # fmt: skip
def test_training_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
