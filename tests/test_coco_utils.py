"""cs231n_fast.coco_utils: the course's COCO captioning loaders on a small dataset written here
in the real format (captions and features .h5, vocabulary .json, URL .txt files). Only the
tests that read .h5 files need h5py (an optional extra); they skip without it."""

import json
import sys

import numpy as np
import pytest

from cs231n_fast.coco_utils import (
    BASE_DIR,
    COCO_CAPTIONING_URL,
    decode_captions,
    load_coco_data,
    sample_coco_minibatch,
)

VOCAB = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "on", "the", "mat", "runs", "sits"]
T = 9  # caption length with <START>/<END>/<NULL> padding (the course's files use 17)


def make_coco(rng, n_train=40, n_val=12, n_train_img=15, n_val_img=6, d_pca=8, d_full=16):
    """A dataset dict as load_coco_data returns it."""

    def captions(n):
        c = np.zeros((n, T), dtype=np.int32)  # <NULL> padding
        for row in c:
            length = rng.integers(2, T - 2)
            row[0] = 1
            row[1 : 1 + length] = rng.integers(3, len(VOCAB), size=length)
            row[1 + length] = 2
        return c

    return {
        "train_captions": captions(n_train),
        "train_image_idxs": rng.integers(0, n_train_img, size=n_train).astype(np.int32),
        "val_captions": captions(n_val),
        "val_image_idxs": rng.integers(0, n_val_img, size=n_val).astype(np.int32),
        "train_features": rng.standard_normal((n_train_img, d_pca)).astype(np.float32),
        "val_features": rng.standard_normal((n_val_img, d_pca)).astype(np.float32),
        "train_features_full": rng.standard_normal((n_train_img, d_full)).astype(np.float32),
        "val_features_full": rng.standard_normal((n_val_img, d_full)).astype(np.float32),
        "idx_to_word": list(VOCAB),
        "word_to_idx": {w: i for i, w in enumerate(VOCAB)},
        "train_urls": np.array([f"http://images.cocodataset.org/train2014/{i:06d}.jpg" for i in range(n_train_img)]),
        "val_urls": np.array([f"http://images.cocodataset.org/val2014/{i:06d}.jpg" for i in range(n_val_img)]),
    }


def write_coco(base, d, h5py):
    """Write ``d`` as the course's coco_captioning directory."""
    base.mkdir(parents=True, exist_ok=True)
    with h5py.File(base / "coco2014_captions.h5", "w") as f:
        for k in ("train_captions", "train_image_idxs", "val_captions", "val_image_idxs"):
            f.create_dataset(k, data=d[k])
    for split in ("train", "val"):
        with h5py.File(base / f"{split}2014_vgg16_fc7_pca.h5", "w") as f:
            f.create_dataset("features", data=d[f"{split}_features"])
        with h5py.File(base / f"{split}2014_vgg16_fc7.h5", "w") as f:
            f.create_dataset("features", data=d[f"{split}_features_full"])
        (base / f"{split}2014_urls.txt").write_text("".join(u + "\n" for u in d[f"{split}_urls"]))
    (base / "coco2014_vocab.json").write_text(
        json.dumps({"idx_to_word": d["idx_to_word"], "word_to_idx": d["word_to_idx"]})
    )
    return base


@pytest.fixture
def coco_dir(tmp_path, rng):
    h5py = pytest.importorskip("h5py")
    d = make_coco(rng)
    return write_coco(tmp_path / "coco_captioning", d, h5py), d


@pytest.mark.parametrize("pca", [True, False])
def test_load_coco_data_reads_the_courses_files(coco_dir, pca, capsys):
    base, d = coco_dir
    data = load_coco_data(base, pca_features=pca)
    assert str(base) in capsys.readouterr().out  # the course prints "base dir <dir>"
    assert set(data) == {
        "train_captions", "train_image_idxs", "val_captions", "val_image_idxs", "train_features",
        "val_features", "idx_to_word", "word_to_idx", "train_urls", "val_urls",
    }  # fmt: skip
    for k in ("train_captions", "train_image_idxs", "val_captions", "val_image_idxs", "train_urls", "val_urls"):
        np.testing.assert_array_equal(data[k], d[k])
        assert data[k].dtype.kind == d[k].dtype.kind
    suffix = "" if pca else "_full"
    for split in ("train", "val"):
        np.testing.assert_array_equal(data[f"{split}_features"], d[f"{split}_features{suffix}"])
    assert data["idx_to_word"] == VOCAB and data["word_to_idx"] == d["word_to_idx"]


def test_load_coco_data_max_train_keeps_caption_image_pairs(coco_dir):
    base, d = coco_dir
    np.random.seed(3)
    data = load_coco_data(base, max_train=25)
    assert data["train_captions"].shape == (25, T) and data["train_image_idxs"].shape == (25,)
    pairs = {(tuple(c), i) for c, i in zip(d["train_captions"], d["train_image_idxs"])}
    assert all((tuple(c), i) in pairs for c, i in zip(data["train_captions"], data["train_image_idxs"]))
    np.testing.assert_array_equal(data["val_captions"], d["val_captions"])  # val untouched
    assert data["train_features"].shape[0] == d["train_features"].shape[0]  # features kept whole
    np.random.seed(3)
    again = load_coco_data(base, max_train=25)
    np.testing.assert_array_equal(again["train_captions"], data["train_captions"])


def test_load_coco_data_missing_files(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=COCO_CAPTIONING_URL):
        load_coco_data(tmp_path / "absent")
    monkeypatch.chdir(tmp_path)  # the default is the course's folder, relative to the notebook
    with pytest.raises(FileNotFoundError, match="coco_captioning"):
        load_coco_data()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "coco2014_captions.h5").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="train2014_vgg16_fc7_pca.h5"):
        load_coco_data(tmp_path / "c")
    with pytest.raises(FileNotFoundError, match=r"train2014_vgg16_fc7\.h5"):
        load_coco_data(tmp_path / "c", pca_features=False)
    with pytest.raises(ValueError, match="max_train"):
        load_coco_data(tmp_path / "c", max_train=0)


def test_without_h5py_load_coco_data_says_how_to_install(tmp_path, monkeypatch):
    for name in (
        "coco2014_captions.h5", "train2014_vgg16_fc7_pca.h5", "val2014_vgg16_fc7_pca.h5",
        "coco2014_vocab.json", "train2014_urls.txt", "val2014_urls.txt",
    ):  # fmt: skip
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"cs231n_fast\[coco\]"):
        load_coco_data(tmp_path)


def test_base_dir_is_the_courses_folder():
    assert BASE_DIR.replace("\\", "/") == "cs231n/datasets/coco_captioning"


# --- decode_captions ----------------------------------------------------------------------------


def test_decode_captions():
    w = {word: i for i, word in enumerate(VOCAB)}
    c = np.array(
        [
            [w["<START>"], w["a"], w["cat"], w["<END>"], w["dog"], w["<NULL>"]],
            [w["<START>"], w["the"], w["<NULL>"], w["dog"], w["runs"], w["sits"]],
        ]
    )
    # <NULL> words are left out; a caption stops after its first <END>
    assert decode_captions(c, VOCAB) == ["<START> a cat <END>", "<START> the dog runs sits"]
    assert decode_captions(c[0], VOCAB) == "<START> a cat <END>"  # 1-D in, one string out
    assert decode_captions(c, dict(enumerate(VOCAB))) == decode_captions(c, VOCAB)


def test_decode_captions_bad_input():
    with pytest.raises(ValueError, match=r"captions\[0, 1\]"):
        decode_captions(np.array([[1, 99]]), VOCAB)
    with pytest.raises(TypeError, match="captions"):
        decode_captions(np.array([[1.0, 2.0]]), VOCAB)
    with pytest.raises(ValueError, match="captions"):
        decode_captions(np.zeros((1, 2, 3), dtype=int), VOCAB)


# --- sample_coco_minibatch ----------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "val"])
def test_sample_coco_minibatch_pairs_captions_with_their_images(rng, split):
    d = make_coco(rng)
    captions, features, urls = sample_coco_minibatch(d, batch_size=30, split=split, rng=rng)
    assert captions.shape == (30, T) and features.shape == (30, 8) and urls.shape == (30,)
    for c, f, u in zip(captions, features, urls):
        rows = np.flatnonzero((d[f"{split}_captions"] == c).all(axis=1))
        assert rows.size  # a caption of the split
        idx = d[f"{split}_image_idxs"][rows]
        assert any(np.array_equal(f, d[f"{split}_features"][i]) and u == d[f"{split}_urls"][i] for i in idx)


def test_sample_coco_minibatch_random_state(rng):
    d = make_coco(rng)
    a = sample_coco_minibatch(d, 7, rng=np.random.default_rng(5))
    b = sample_coco_minibatch(d, 7, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.random.seed(11)  # without rng: NumPy's global state, as the course
    a = sample_coco_minibatch(d, 7)
    np.random.seed(11)
    b = sample_coco_minibatch(d, 7)
    np.testing.assert_array_equal(a[1], b[1])


BAD = [
    ("batch_size", lambda d: sample_coco_minibatch(d, 0), ValueError),
    ("batch_size", lambda d: sample_coco_minibatch(d, 2.0), TypeError),
    ("test_captions", lambda d: sample_coco_minibatch(d, 2, split="test"), ValueError),
    ("rng", lambda d: sample_coco_minibatch(d, 2, rng=3), TypeError),
    ("train_urls", lambda d: sample_coco_minibatch({k: v for k, v in d.items() if k != "train_urls"}), ValueError),
]


@pytest.mark.parametrize("name, call, exc", BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
def test_sample_coco_minibatch_bad_input(rng, name, call, exc):
    with pytest.raises(exc, match=name):
        call(make_coco(rng))
