"""Drop-in for the course's ``cs231n/coco_utils.py`` (assignment 3, image captioning).

``load_coco_data``, ``decode_captions`` and ``sample_coco_minibatch`` keep the course's names,
arguments, defaults and return values. ``load_coco_data`` reads the course's real files, as its
``cs231n/datasets/get_coco_captioning.sh`` unpacks them into ``coco_captioning/``:

* ``coco2014_captions.h5``: ``train_captions``/``val_captions`` (N, 17) word ids,
  ``train_image_idxs``/``val_image_idxs`` (N,) the image of each caption (every array of the
  file is loaded, under its own name);
* ``train2014_vgg16_fc7.h5`` / ``val2014_vgg16_fc7.h5`` (``features``, 4096 per image) or, with
  ``pca_features=True`` (the default), the ``*_pca.h5`` files (512 per image);
* ``coco2014_vocab.json``: ``idx_to_word`` (a list) and ``word_to_idx`` (a dict);
* ``train2014_urls.txt`` / ``val2014_urls.txt``: one image URL a line.

The ``.h5`` files need h5py, an optional dependency: ``pip install cs231n_fast[coco]`` (or
``pip install h5py``); without it :func:`load_coco_data` raises an ``ImportError`` saying so.
Differences, all in the user's favour:

* ``base_dir`` defaults to :data:`BASE_DIR`, ``cs231n/datasets/coco_captioning`` relative to
  the working directory (where the course's notebooks run; the course's default is that folder
  next to its own file); a missing directory or file raises ``FileNotFoundError`` naming it and
  saying how to download the data;
* ``sample_coco_minibatch`` takes a keyword ``rng`` (a ``np.random.Generator``) for
  reproducible minibatches; by default it draws from ``np.random`` as the course does;
* missing keys, bad splits and non-positive sizes raise ``ValueError``/``TypeError`` naming
  them.
"""

import json
import os

import numpy as np

from ._validation import positive_int

__all__ = ["BASE_DIR", "COCO_CAPTIONING_URL", "load_coco_data", "decode_captions", "sample_coco_minibatch"]

#: The directory :func:`load_coco_data` reads by default (relative to the working directory).
BASE_DIR = os.path.join("cs231n", "datasets", "coco_captioning")

#: Where the course's ``get_coco_captioning.sh`` downloads the captioning data from.
COCO_CAPTIONING_URL = "http://cs231n.stanford.edu/coco_captioning.zip"


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "load_coco_data reads the course's .h5 files with h5py, an optional dependency of "
            "cs231n_fast: `pip install cs231n_fast[coco]` (or `pip install h5py`)"
        ) from None
    return h5py


def _coco_file(base_dir, name):
    path = os.path.join(base_dir, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"COCO captioning file {path!r} not found. The course's data is downloaded by "
            f"cs231n/datasets/get_coco_captioning.sh: `wget {COCO_CAPTIONING_URL} && unzip "
            "coco_captioning.zip` (in cs231n/datasets/) creates coco_captioning/ with "
            "coco2014_captions.h5, coco2014_vocab.json, {train,val}2014_vgg16_fc7[_pca].h5 and "
            "{train,val}2014_urls.txt; pass that directory as base_dir"
        )
    return path


def _read_urls(path):
    with open(path, "r") as f:
        return np.asarray([line.strip() for line in f])


def load_coco_data(base_dir=BASE_DIR, max_train=None, pca_features=True):
    """Load the COCO captioning data the course ships.

    Parameters
    ----------
    base_dir : str or os.PathLike, default :data:`BASE_DIR`
        The ``coco_captioning`` directory.
    max_train : int, optional
        Keep only this many training captions, drawn at random with replacement (with
        ``np.random.randint``, as in the course); the features and URLs are kept whole.
    pca_features : bool, default True
        Read the PCA-reduced image features (``*_vgg16_fc7_pca.h5``) instead of the full fc7
        features.

    Returns
    -------
    data : dict
        Every array of ``coco2014_captions.h5`` under its name (``train_captions``,
        ``train_image_idxs``, ``val_captions``, ``val_image_idxs``), ``train_features`` and
        ``val_features`` (n_images, D), the entries of ``coco2014_vocab.json``
        (``idx_to_word``: list, ``word_to_idx``: dict) and ``train_urls``/``val_urls`` (string
        arrays, one per image).

    Raises
    ------
    ImportError
        If h5py is not installed.
    FileNotFoundError
        If ``base_dir`` or one of its files is missing (the message says how to get them).
    ValueError, TypeError
        If ``max_train`` is not an int >= 1, or the captions file lacks ``train_captions`` or
        ``train_image_idxs`` when ``max_train`` is given.
    """
    if max_train is not None:
        max_train = positive_int("max_train", max_train)
    if not os.path.isdir(base_dir):
        raise FileNotFoundError(
            f"COCO captioning directory {os.fspath(base_dir)!r} does not exist (absolute path "
            f"{os.path.abspath(base_dir)!r}). Download it as the course's "
            f"cs231n/datasets/get_coco_captioning.sh does: `wget {COCO_CAPTIONING_URL} && unzip "
            "coco_captioning.zip`, then pass the coco_captioning directory as base_dir"
        )
    suffix = "_pca" if pca_features else ""
    names = {
        "captions": "coco2014_captions.h5",
        "train_features": f"train2014_vgg16_fc7{suffix}.h5",
        "val_features": f"val2014_vgg16_fc7{suffix}.h5",
        "vocab": "coco2014_vocab.json",
        "train_urls": "train2014_urls.txt",
        "val_urls": "val2014_urls.txt",
    }
    paths = {key: _coco_file(base_dir, name) for key, name in names.items()}  # all, before reading
    h5py = _h5py()

    print("base dir ", base_dir)
    data = {}
    with h5py.File(paths["captions"], "r") as f:
        for k, v in f.items():
            data[k] = np.asarray(v)

    for split in ("train", "val"):
        key = f"{split}_features"
        with h5py.File(paths[key], "r") as f:
            if "features" not in f:
                raise ValueError(
                    f"{paths[key]!r} has no dataset 'features' (has {sorted(f.keys())})"
                )
            data[key] = np.asarray(f["features"])

    with open(paths["vocab"], "r") as f:
        dict_data = json.load(f)
        for k, v in dict_data.items():
            data[k] = v

    data["train_urls"] = _read_urls(paths["train_urls"])
    data["val_urls"] = _read_urls(paths["val_urls"])

    # Maybe subsample the training data
    if max_train is not None:
        for key in ("train_captions", "train_image_idxs"):
            if key not in data:
                raise ValueError(f"{paths['captions']!r} has no dataset {key!r}")
        num_train = data["train_captions"].shape[0]
        mask = np.random.randint(num_train, size=max_train)
        data["train_captions"] = data["train_captions"][mask]
        data["train_image_idxs"] = data["train_image_idxs"][mask]
    return data


def decode_captions(captions, idx_to_word):
    """Turn word ids into strings.

    Parameters
    ----------
    captions : array_like of ints, shape (T,) or (N, T)
        Word ids.
    idx_to_word : list or dict
        Word id -> word (``data['idx_to_word']``).

    Returns
    -------
    str or list of str
        For each caption, its words up to and including the first ``<END>``, ``<NULL>``
        words left out, joined by spaces; a single string for a 1-D ``captions``.

    Raises
    ------
    ValueError
        If ``captions`` is not 1-D or 2-D, or holds an id ``idx_to_word`` does not have.
    TypeError
        If ``captions`` does not hold integers.
    """
    captions = np.asarray(captions)
    if captions.dtype.kind not in "iu":
        raise TypeError(f"captions must be an array of integer word ids; got dtype {captions.dtype}")
    singleton = False
    if captions.ndim == 1:
        singleton = True
        captions = captions[None]
    if captions.ndim != 2:
        raise ValueError(f"captions must have shape (T,) or (N, T); got {captions.shape}")
    decoded = []
    N, T = captions.shape
    for i in range(N):
        words = []
        for t in range(T):
            try:
                word = idx_to_word[captions[i, t]]
            except (IndexError, KeyError):
                raise ValueError(
                    f"captions[{i}, {t}] = {captions[i, t]} is not a word id of idx_to_word "
                    f"({len(idx_to_word)} words)"
                ) from None
            if word != "<NULL>":
                words.append(word)
            if word == "<END>":
                break
        decoded.append(" ".join(words))
    if singleton:
        decoded = decoded[0]
    return decoded


def sample_coco_minibatch(data, batch_size=100, split="train", *, rng=None):
    """Draw a random minibatch of captions with their image features and URLs.

    Parameters
    ----------
    data : dict
        As :func:`load_coco_data` returns it: needs ``<split>_captions``,
        ``<split>_image_idxs``, ``<split>_features`` and ``<split>_urls``.
    batch_size : int, default 100
        Captions to draw (with replacement, as in the course).
    split : str, default 'train'
        ``'train'`` or ``'val'`` (any split whose keys ``data`` has).
    rng : numpy.random.Generator, optional, keyword-only
        Where the draw comes from; default ``np.random`` (NumPy's global state), as in the
        course.

    Returns
    -------
    captions : ndarray of shape (batch_size, T)
    image_features : ndarray of shape (batch_size, D)
    urls : ndarray of shape (batch_size,)

    Raises
    ------
    ValueError
        If a key is missing, the split holds no caption, or ``batch_size`` < 1.
    TypeError
        If ``batch_size`` is not an int or ``rng`` not a Generator.
    """
    batch_size = positive_int("batch_size", batch_size)
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None; got {type(rng).__name__}")
    keys = [f"{split}_{what}" for what in ("captions", "image_idxs", "features", "urls")]
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(
            f"data has no key {missing[0]!r} for split={split!r} (keys: {sorted(map(str, data))})"
        )
    split_size = data["%s_captions" % split].shape[0]
    if split_size == 0:
        raise ValueError(f"data[{keys[0]!r}] holds no caption")
    mask = (np.random if rng is None else rng).choice(split_size, batch_size)
    captions = data["%s_captions" % split][mask]
    image_idxs = data["%s_image_idxs" % split][mask]
    image_features = data["%s_features" % split][image_idxs]
    urls = data["%s_urls" % split][image_idxs]
    return captions, image_features, urls
