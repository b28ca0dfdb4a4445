"""cs231n_fast.data_utils: the course's loaders, on small files written here in the real formats
(TinyImageNet's folder layout with JPEG/PNG images, the pickled models, imagenet_val_25.npz).
The CIFAR-10 loaders are those of cs231n_fast.data, tested in test_data.py."""

import inspect
import os
import pickle

import numpy as np
import pytest

from cs231n_fast import data
from cs231n_fast.data_utils import (
    IMAGENET_VAL_URL,
    TINY_IMAGENET_URL,
    get_CIFAR10_data,
    load_CIFAR10,
    load_CIFAR_batch,
    load_imagenet_val,
    load_models,
    load_pickle,
    load_tiny_imagenet,
)


def test_cifar_loaders_are_those_of_data():
    """One implementation, two module names (the course's and the package's)."""
    assert load_CIFAR_batch is data.load_CIFAR_batch
    assert load_CIFAR10 is data.load_CIFAR10
    assert get_CIFAR10_data is data.get_CIFAR10_data


def test_course_signatures():
    def params(f):
        return [
            (p.name, p.default)
            for p in inspect.signature(f).parameters.values()
            if p.kind is not p.KEYWORD_ONLY
        ]

    assert params(get_CIFAR10_data) == [
        ("num_training", 49000),
        ("num_validation", 1000),
        ("num_test", 1000),
        ("subtract_mean", True),
    ]
    assert params(load_tiny_imagenet) == [
        ("path", inspect.Parameter.empty),
        ("dtype", np.float32),
        ("subtract_mean", True),
    ]
    assert params(load_imagenet_val) == [("num", None)]
    assert params(load_models) == [("models_dir", inspect.Parameter.empty)]


def test_load_pickle_reads_python2_style_pickles(tmp_path):
    obj = {"model": [1, 2.5, "three"], "arr": np.arange(4)}
    path = tmp_path / "obj.pkl"
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    with open(path, "rb") as f:
        back = load_pickle(f)
    assert back["model"] == obj["model"]
    np.testing.assert_array_equal(back["arr"], obj["arr"])


# --- TinyImageNet -------------------------------------------------------------------------------

WNIDS = ["n01443537", "n01629819", "n01641577"]
WORDS = {
    "n01443537": "goldfish, Carassius auratus",
    "n01629819": "European fire salamander, Salamandra salamandra",
    "n01641577": "bullfrog, Rana catesbeiana",
    "n00001740": "entity",  # words.txt names every WordNet id, not only the dataset's
}
TRAIN_PER_CLASS = (2, 1, 3)


def _img(rng, grey=False):
    shape = (64, 64) if grey else (64, 64, 3)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


@pytest.fixture
def tiny(tmp_path, rng):
    """A TinyImageNet directory; returns (path, expected arrays)."""
    Image = pytest.importorskip("PIL.Image")
    root = tmp_path / "tiny-imagenet-3"
    root.mkdir()
    (root / "wnids.txt").write_text("".join(w + "\n" for w in WNIDS))
    (root / "words.txt").write_text("".join(f"{k}\t{v}\n" for k, v in WORDS.items()))
    train, train_y = [], []
    for label, (wnid, n) in enumerate(zip(WNIDS, TRAIN_PER_CLASS)):
        d = root / "train" / wnid / "images"
        d.mkdir(parents=True)
        lines = []
        for j in range(n):
            name = f"{wnid}_{j}.JPEG"
            grey = label == 1  # one grey-scale class: its images are repeated over 3 channels
            Image.fromarray(_img(rng, grey)).save(d / name, format="JPEG", quality=90)
            decoded = np.asarray(Image.open(d / name))  # JPEG is lossy: expect what Pillow decodes
            train.append(np.repeat(decoded[None], 3, 0) if grey else decoded.transpose(2, 0, 1))
            train_y.append(label)
            lines.append(f"{name}\t0\t0\t63\t63\n")
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(lines))
    (root / "val" / "images").mkdir(parents=True)
    val, val_y, lines = [], [], []
    for i, label in enumerate([2, 0, 2, 1]):
        name = f"val_{i}.png"  # lossless: exact values
        a = _img(rng)
        Image.fromarray(a).save(root / "val" / "images" / name)
        val.append(a.transpose(2, 0, 1))
        val_y.append(label)
        lines.append(f"{name}\t{WNIDS[label]}\t0\t0\t63\t63\n")
    (root / "val" / "val_annotations.txt").write_text("".join(lines))
    (root / "test" / "images").mkdir(parents=True)
    test = {}
    for name in ["test_2.png", "test_0.png", "test_1.png"]:
        a = _img(rng)
        Image.fromarray(a).save(root / "test" / "images" / name)
        test[name] = a.transpose(2, 0, 1)
    expected = {
        "X_train": np.array(train, dtype=np.float64),
        "y_train": np.array(train_y),
        "X_val": np.array(val, dtype=np.float64),
        "y_val": np.array(val_y),
        "X_test": np.array([test[k] for k in sorted(test)], dtype=np.float64),
    }
    return root, expected


def test_load_tiny_imagenet_reads_every_split(tiny, capsys):
    root, exp = tiny
    d = load_tiny_imagenet(root, subtract_mean=False)
    assert d["class_names"] == [[w.strip() for w in WORDS[wnid].split(",")] for wnid in WNIDS]
    for key in ("X_train", "X_val", "X_test"):
        assert d[key].dtype == np.float32 and d[key].shape[1:] == (3, 64, 64)
        np.testing.assert_array_equal(d[key], exp[key])
    for key in ("y_train", "y_val"):
        assert d[key].dtype == np.int64
        np.testing.assert_array_equal(d[key], exp[key])
    assert d["y_test"] is None  # no test/test_annotations.txt, as in student copies
    np.testing.assert_allclose(d["mean_image"], exp["X_train"].mean(axis=0), rtol=2e-6)


def test_load_tiny_imagenet_subtracts_the_training_mean(tiny):
    root, exp = tiny
    d = load_tiny_imagenet(root, dtype=np.float64)
    mean = exp["X_train"].mean(axis=0)
    np.testing.assert_allclose(d["mean_image"], mean, rtol=1e-12)
    for key in ("X_train", "X_val", "X_test"):
        assert d[key].dtype == np.float64
        np.testing.assert_allclose(d[key], exp[key] - mean, rtol=1e-12, atol=1e-9)


def test_load_tiny_imagenet_test_labels(tiny):
    root, exp = tiny
    labels = {"test_0.png": 1, "test_1.png": 2, "test_2.png": 0}
    (root / "test" / "test_annotations.txt").write_text(
        "".join(f"{k}\t{WNIDS[v]}\t0\t0\t63\t63\n" for k, v in labels.items())
    )
    d = load_tiny_imagenet(root)
    np.testing.assert_array_equal(d["y_test"], [labels[k] for k in sorted(labels)])


def test_load_tiny_imagenet_errors(tiny, tmp_path):
    root, _ = tiny
    with pytest.raises(FileNotFoundError, match=TINY_IMAGENET_URL):
        load_tiny_imagenet(tmp_path / "absent")
    os.remove(root / "val" / "images" / "val_1.png")
    with pytest.raises(FileNotFoundError, match="val_1.png"):
        load_tiny_imagenet(root)
    os.remove(root / "wnids.txt")
    with pytest.raises(FileNotFoundError, match="wnids.txt"):
        load_tiny_imagenet(root)


def test_load_tiny_imagenet_bad_contents(tiny):
    Image = pytest.importorskip("PIL.Image")
    root, _ = tiny
    ann = root / "val" / "val_annotations.txt"
    good = ann.read_text()
    ann.write_text(good + "val_0.png\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(ValueError, match="n99999999"):
        load_tiny_imagenet(root)
    ann.write_text(good)
    Image.fromarray(np.zeros((32, 64, 3), dtype=np.uint8)).save(root / "test" / "images" / "test_1.png")
    with pytest.raises(ValueError, match="test_1.png"):
        load_tiny_imagenet(root)


# --- saved models -------------------------------------------------------------------------------


def test_load_models(tmp_path):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    for name, model in [("net_a.pkl", {"W1": [1.0, 2.0]}), ("net_b", ("a", 3))]:
        with open(models_dir / name, "wb") as f:
            pickle.dump({"model": model, "history": [0.5]}, f)
    (models_dir / "README.txt").write_text("Pretrained models for the assignment.\n")
    (models_dir / "empty").write_bytes(b"")
    (models_dir / "subdir").mkdir()
    models = load_models(models_dir)
    assert models == {"net_a.pkl": {"W1": [1.0, 2.0]}, "net_b": ("a", 3)}


def test_load_models_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        load_models(tmp_path / "absent")
    with open(tmp_path / "weights.pkl", "wb") as f:
        pickle.dump({"params": 1}, f)
    with pytest.raises(ValueError, match="weights.pkl.*'model'"):
        load_models(tmp_path)


# --- ImageNet validation images -----------------------------------------------------------------

LABELS = {0: "tench, Tinca tinca", 7: "cock", 409: "analog clock"}


def _write_imagenet_val(path, rng, n=5, compressed=False, label_map=None):
    X = rng.integers(0, 256, size=(n, 224, 224, 3), dtype=np.uint8)
    y = rng.choice(list(LABELS), size=n)
    save = np.savez_compressed if compressed else np.savez
    save(path, X=X, y=y, label_map=np.array(LABELS if label_map is None else label_map, dtype=object))
    return X, y


@pytest.mark.parametrize("compressed", [False, True])
def test_load_imagenet_val(tmp_path, rng, compressed):
    path = tmp_path / "imagenet_val_25.npz"
    X, y = _write_imagenet_val(path, rng, compressed=compressed)
    X_, y_, names = load_imagenet_val(path=path)
    np.testing.assert_array_equal(X_, X)
    np.testing.assert_array_equal(y_, y)
    assert X_.dtype == np.uint8 and names == LABELS
    X3, y3, _ = load_imagenet_val(3, path=path)
    np.testing.assert_array_equal(X3, X[:3])
    np.testing.assert_array_equal(y3, y[:3])


def test_load_imagenet_val_default_path_is_the_courses(tmp_path, rng, monkeypatch):
    target = tmp_path / "cs231n" / "datasets"
    target.mkdir(parents=True)
    X, _ = _write_imagenet_val(target / "imagenet_val_25.npz", rng, n=2)
    monkeypatch.chdir(tmp_path)  # where the notebooks run: the assignment's directory
    np.testing.assert_array_equal(load_imagenet_val()[0], X)


def test_load_imagenet_val_missing_file_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="imagenet_val_25.npz") as info:
        load_imagenet_val()
    assert IMAGENET_VAL_URL in str(info.value)


class _NotAllowed:
    pass


def test_load_imagenet_val_refuses_other_objects(tmp_path, rng):
    path = tmp_path / "evil.npz"
    _write_imagenet_val(path, rng, n=1, label_map={0: _NotAllowed()})
    with pytest.raises(ValueError, match="label_map"):
        load_imagenet_val(path=path)
    np.savez(tmp_path / "other.npz", X=np.zeros((1, 2, 2, 3)), y=np.zeros(1))
    with pytest.raises(ValueError, match="label_map"):
        load_imagenet_val(path=tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="text.npz"):
        load_imagenet_val(path=tmp_path / "text.npz")
    with pytest.raises(ValueError, match="num"):
        load_imagenet_val(-1, path=path)

