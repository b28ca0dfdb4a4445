"""Dataset loaders (cs231n_fast.data): CIFAR-10 files in the real format, the embedded digits."""

import gzip
import os
import pickle
from importlib import resources

import numpy as np
import pytest

from cs231n_fast.data import (
    CIFAR10_URL,
    get_CIFAR10_data,
    get_digits_data,
    load_CIFAR10,
    load_CIFAR_batch,
    load_digits,
)

TRAIN_SIZES = (3, 2, 4, 3, 3)  # images per data_batch_1..5 (15 in all)
TEST_SIZE = 5


def _write_batch(path, images, labels, protocol=2):
    """Write a batch as CIFAR-10 does: rows of channel-major (3, 32, 32) uint8 images."""
    batch = {
        "batch_label": "testing batch",
        "labels": [int(v) for v in labels],
        "data": np.asarray(images, dtype=np.uint8).reshape(len(images), 3 * 32 * 32),
        "filenames": [f"img_{i}.png" for i in range(len(images))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


def _random_images(rng, n):
    return rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)


@pytest.fixture
def cifar_root(tmp_path, rng):
    """A CIFAR-10 directory of small batches; returns (root, train images, labels, test ...)."""
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    images = _random_images(rng, sum(TRAIN_SIZES))
    labels = rng.integers(0, 10, size=images.shape[0])
    start = 0
    for b, n in enumerate(TRAIN_SIZES, start=1):
        _write_batch(root / f"data_batch_{b}", images[start : start + n], labels[start : start + n])
        start += n
    test_images = _random_images(rng, TEST_SIZE)
    test_labels = rng.integers(0, 10, size=TEST_SIZE)
    _write_batch(root / "test_batch", test_images, test_labels)
    return root, images, labels, test_images, test_labels


# --- CIFAR-10 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_load_CIFAR_batch_pixel_lands_at_row_col_channel(tmp_path, protocol):
    # One bright pixel per image, at distinct (channel, row, col) with row != col, so that a
    # wrong reshape or transpose moves it.
    spots = [(0, 1, 30), (1, 7, 2), (2, 31, 0), (2, 0, 31)]
    data = np.zeros((len(spots), 3 * 32 * 32), dtype=np.uint8)
    for i, (c, r, k) in enumerate(spots):
        data[i, c * 1024 + r * 32 + k] = 200 + i
    path = tmp_path / "data_batch_1"
    _write_batch(path, data.reshape(-1, 3, 32, 32), [3, 1, 4, 1], protocol=protocol)

    X, Y = load_CIFAR_batch(path)
    assert X.shape == (len(spots), 32, 32, 3) and X.dtype == np.float64
    for i, (c, r, k) in enumerate(spots):
        assert X[i, r, k, c] == 200 + i
        assert X[i].sum() == 200 + i
    assert Y.dtype.kind == "i"
    np.testing.assert_array_equal(Y, [3, 1, 4, 1])


def test_load_CIFAR10_concatenates_batches_in_order(cifar_root):
    root, images, labels, test_images, test_labels = cifar_root
    Xtr, Ytr, Xte, Yte = load_CIFAR10(root)
    assert Xtr.shape == (sum(TRAIN_SIZES), 32, 32, 3) and Xtr.dtype == np.float64
    assert Xte.shape == (TEST_SIZE, 32, 32, 3) and Xte.dtype == np.float64
    # The course's own expression, channels last.
    np.testing.assert_array_equal(Xtr, images.transpose(0, 2, 3, 1).astype(float))
    np.testing.assert_array_equal(Xte, test_images.transpose(0, 2, 3, 1).astype(float))
    np.testing.assert_array_equal(Ytr, labels)
    np.testing.assert_array_equal(Yte, test_labels)


def test_get_CIFAR10_data_shapes_and_splits(cifar_root):
    root, images, labels, test_images, test_labels = cifar_root
    data = get_CIFAR10_data(num_training=8, num_validation=4, num_test=2, root=root)
    assert sorted(data) == ["X_test", "X_train", "X_val", "y_test", "y_train", "y_val"]
    for split, n in (("train", 8), ("val", 4), ("test", 2)):
        assert data[f"X_{split}"].shape == (n, 3, 32, 32), split
        assert data[f"X_{split}"].dtype == np.float64
        assert data[f"y_{split}"].shape == (n,)
    np.testing.assert_array_equal(data["y_train"], labels[:8])
    np.testing.assert_array_equal(data["y_val"], labels[8:12])
    np.testing.assert_array_equal(data["y_test"], test_labels[:2])


def test_get_CIFAR10_data_subtracts_training_mean(cifar_root):
    root, images, labels, test_images, _ = cifar_root
    data = get_CIFAR10_data(num_training=8, num_validation=4, num_test=2, root=root)
    # As the course computes it: mean over float64 channels-last images, then transposed.
    mean = images[:8].transpose(0, 2, 3, 1).astype(float).mean(axis=0).transpose(2, 0, 1)
    np.testing.assert_array_equal(data["X_train"], images[:8] - mean)
    np.testing.assert_array_equal(data["X_val"], images[8:12] - mean)
    np.testing.assert_array_equal(data["X_test"], test_images[:2] - mean)
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-10)


def test_get_CIFAR10_data_without_mean_subtraction(cifar_root):
    root, images, _, test_images, _ = cifar_root
    data = get_CIFAR10_data(5, 10, 5, subtract_mean=False, root=root)
    np.testing.assert_array_equal(data["X_train"], images[:5])
    np.testing.assert_array_equal(data["X_val"], images[5:15])
    np.testing.assert_array_equal(data["X_test"], test_images)


def test_get_CIFAR10_data_root_from_environment(cifar_root, monkeypatch):
    root, images, *_ = cifar_root
    monkeypatch.setenv("CS231N_CIFAR10_ROOT", str(root))
    data = get_CIFAR10_data(num_training=3, num_validation=1, num_test=1, subtract_mean=False)
    np.testing.assert_array_equal(data["X_train"], images[:3])


def test_get_CIFAR10_data_default_root_is_course_directory(cifar_root, tmp_path, monkeypatch):
    root, images, *_ = cifar_root
    monkeypatch.delenv("CS231N_CIFAR10_ROOT", raising=False)
    workdir = tmp_path / "assignment2"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        get_CIFAR10_data(num_training=3, num_validation=1, num_test=1)
    (workdir / "cs231n" / "datasets").mkdir(parents=True)
    os.rename(root, workdir / "cs231n" / "datasets" / "cifar-10-batches-py")
    data = get_CIFAR10_data(num_training=3, num_validation=1, num_test=1, subtract_mean=False)
    np.testing.assert_array_equal(data["X_train"], images[:3])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_training": 16}, ValueError, "num_training"),
        ({"num_training": 0}, ValueError, "num_training"),
        ({"num_training": 2.0}, TypeError, "num_training"),
        ({"num_training": 12, "num_validation": 4}, ValueError, "num_validation"),
        ({"num_validation": -1}, ValueError, "num_validation"),
        ({"num_test": 6}, ValueError, "num_test"),
        ({"num_test": -1}, ValueError, "num_test"),
    ],
)
def test_get_CIFAR10_data_bad_counts(cifar_root, kwargs, error, match):
    args = {"num_training": 8, "num_validation": 2, "num_test": 2, **kwargs}
    with pytest.raises(error, match=match):
        get_CIFAR10_data(**args, root=cifar_root[0])


def test_load_CIFAR10_missing_root_says_how_to_download(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="ROOT|root") as exc:
        load_CIFAR10(missing)
    assert str(missing) in str(exc.value)
    assert CIFAR10_URL in str(exc.value) and "get_datasets.sh" in str(exc.value)


def test_load_CIFAR10_missing_batch_named(cifar_root):
    root = cifar_root[0]
    os.remove(root / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_CIFAR10(root)


def test_load_CIFAR_batch_missing_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_9"):
        load_CIFAR_batch(tmp_path / "data_batch_9")


class _Exploit:
    """Unpickling this creates a directory: the proof that arbitrary code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _valid_batch(n=2):
    return {"data": np.zeros((n, 3072), np.uint8), "labels": [0] * n}


def _corrupt_cases(tmp_path):
    """(contents as bytes, expected message fragment) for each kind of damage."""

    def pickled(obj):
        return pickle.dumps(obj, protocol=2)

    truncated = pickled(_valid_batch())[:100]
    zeros = np.zeros
    return {
        "not a pickle": (b"this is not a pickle\n", "cannot unpickle"),
        "empty": (b"", "cannot unpickle"),
        "truncated": (truncated, "cannot unpickle"),
        "not a dict": (pickled([1, 2, 3]), "dict"),
        "no data": (pickled({"labels": [0, 1]}), "'data'"),
        "no labels": (pickled({"data": np.zeros((2, 3072), np.uint8)}), "'labels'"),
        "data columns": (pickled({"data": zeros((2, 3000), np.uint8), "labels": [0, 1]}), "shape"),
        "data 3-D": (pickled({"data": zeros((2, 3, 1024), np.uint8), "labels": [0, 1]}), "shape"),
        "data dtype": (pickled({"data": zeros((2, 3072), np.float32), "labels": [0, 1]}), "uint8"),
        "data list": (pickled({"data": [[0] * 3072] * 2, "labels": [0, 1]}), "uint8"),
        "labels short": (pickled({**_valid_batch(3), "labels": [0, 1]}), "2 entries"),
        "labels too big": (pickled({**_valid_batch(2), "labels": [0, 10]}), "0..9"),
        "labels negative": (pickled({**_valid_batch(2), "labels": [-1, 0]}), "0..9"),
        "labels strings": (pickled({**_valid_batch(2), "labels": ["a", "b"]}), "labels"),
        "other objects": (pickled(_Exploit(str(tmp_path / "pwned"))), "refers to"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "not a pickle",
        "empty",
        "truncated",
        "not a dict",
        "no data",
        "no labels",
        "data columns",
        "data 3-D",
        "data dtype",
        "data list",
        "labels short",
        "labels too big",
        "labels negative",
        "labels strings",
        "other objects",
    ],
)
def test_load_CIFAR_batch_corrupt_raises_naming_file(tmp_path, case):
    contents, fragment = _corrupt_cases(tmp_path)[case]
    path = tmp_path / "data_batch_1"
    path.write_bytes(contents)
    with pytest.raises(ValueError, match=fragment) as exc:
        load_CIFAR_batch(path)
    assert str(path) in str(exc.value)
    assert not (tmp_path / "pwned").exists()


def test_load_CIFAR10_corrupt_test_batch_named(cifar_root):
    root = cifar_root[0]
    (root / "test_batch").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="test_batch"):
        load_CIFAR10(root)


# --- digits ------------------------------------------------------------------------------------


def _first_csv_row():
    path = resources.files("cs231n_fast").joinpath("_data", "digits.csv.gz")
    with path.open("rb") as raw, gzip.open(raw, "rt") as f:
        return [int(v) for v in f.readline().split(",")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_digits_shapes_dtype_range(dtype):
    X, y = load_digits(dtype=dtype)
    assert X.shape == (1797, 1, 8, 8) and X.dtype == dtype
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))  # the 17 levels 0/16 .. 16/16
    row = _first_csv_row()
    np.testing.assert_array_equal(X[0].ravel() * 16, row[:64])
    assert y[0] == row[64]


def test_load_digits_labels_balanced():
    _, y = load_digits()
    counts = np.bincount(y)
    assert counts.shape == (10,)
    assert counts.min() >= 170 and counts.max() - counts.min() <= 10


def test_load_digits_returns_fresh_arrays():
    X, y = load_digits()
    X[:] = -1
    y[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_load_digits_default_float32():
    X, _ = load_digits()
    assert X.dtype == np.float32


def test_get_digits_data_split_sizes():
    data = get_digits_data()
    assert sorted(data) == ["X_test", "X_train", "X_val", "y_test", "y_train", "y_val"]
    for split, n in (("train", 1297), ("val", 250), ("test", 250)):
        assert data[f"X_{split}"].shape == (n, 1, 8, 8) and data[f"X_{split}"].dtype == np.float32
        assert data[f"y_{split}"].shape == (n,) and data[f"y_{split}"].dtype == np.int64
    other = get_digits_data(num_validation=100, num_test=0)
    assert other["X_train"].shape[0] == 1697 and other["X_val"].shape[0] == 100
    assert other["X_test"].shape == (0, 1, 8, 8)


def test_get_digits_data_stratified():
    data = get_digits_data(num_validation=250, num_test=133)
    np.testing.assert_array_equal(np.bincount(data["y_val"], minlength=10), 25)
    test_counts = np.bincount(data["y_test"], minlength=10)
    assert test_counts.sum() == 133 and test_counts.max() - test_counts.min() <= 1


def _rows(X, y):
    """Images with their labels as sorted byte strings (a multiset to compare)."""
    return sorted(x.tobytes() + bytes([label]) for x, label in zip(X, y))


def test_get_digits_data_partitions_the_dataset():
    X, y = load_digits()
    data = get_digits_data(num_validation=300, num_test=200, subtract_mean=False, seed=5)
    parts = [(data[f"X_{s}"], data[f"y_{s}"]) for s in ("train", "val", "test")]
    combined = _rows(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    assert combined == _rows(X, y)


def test_get_digits_data_seeded_reproducible():
    a = get_digits_data(seed=7)
    b = get_digits_data(seed=7)
    c = get_digits_data(seed=8)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert not np.array_equal(a["y_val"], c["y_val"])


def test_get_digits_data_subtracts_training_mean():
    raw = get_digits_data(subtract_mean=False, seed=3, dtype=np.float64)
    centred = get_digits_data(subtract_mean=True, seed=3, dtype=np.float64)
    mean = raw["X_train"].mean(axis=0)
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(centred[f"X_{split}"], raw[f"X_{split}"] - mean, atol=1e-15)
        np.testing.assert_array_equal(centred[f"y_{split}"], raw[f"y_{split}"])
    np.testing.assert_allclose(centred["X_train"].mean(axis=0), 0.0, atol=1e-14)
    f32 = get_digits_data(seed=3)
    assert f32["X_val"].dtype == np.float32
    np.testing.assert_allclose(f32["X_train"].mean(axis=0), 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_validation": -1}, ValueError, "num_validation"),
        ({"num_validation": 1.5}, TypeError, "num_validation"),
        ({"num_test": -2}, ValueError, "num_test"),
        ({"num_test": "10"}, TypeError, "num_test"),
        ({"num_validation": 1000, "num_test": 797}, ValueError, "num_validation"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"dtype": np.int32}, TypeError, "dtype"),
        ({"dtype": "not a dtype"}, TypeError, "dtype"),
    ],
)
def test_get_digits_data_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        get_digits_data(**kwargs)


def test_load_digits_bad_dtype():
    with pytest.raises(TypeError, match="dtype"):
        load_digits(dtype=np.int64)
