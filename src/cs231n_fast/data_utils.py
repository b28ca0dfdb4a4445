"""Drop-in for the course's ``cs231n/data_utils.py`` (assignments 1-3).

``from cs231n_fast.data_utils import load_CIFAR10`` (or ``get_CIFAR10_data``,
``load_imagenet_val``, ...) replaces ``from cs231n.data_utils import ...``: the course's names,
arguments, defaults and return values.

* ``load_CIFAR_batch``, ``load_CIFAR10`` and ``get_CIFAR10_data`` are those of
  :mod:`cs231n_fast.data` (see there: a restricted unpickler, clear errors naming a missing
  or damaged batch, a keyword ``root``, by default ``$CS231N_CIFAR10_ROOT`` or
  ``cs231n/datasets/cifar-10-batches-py`` relative to the working directory, where the
  course's notebooks run and its ``get_datasets.sh`` puts CIFAR-10);
* ``load_imagenet_val(num=None)`` reads ``cs231n/datasets/imagenet_val_25.npz`` (or the
  keyword ``path``); its ``label_map`` (a pickled dict) is read by a restricted unpickler that
  builds only arrays, dicts, lists, strings and numbers, where the course unpickles anything;
* ``load_tiny_imagenet`` reads the TinyImageNet folder layout, images decoded by Pillow (the
  course uses imageio, which uses Pillow for JPEG; an ``ImportError`` says how to install it);
  the test images are read in sorted file-name order (the course takes ``os.listdir``'s,
  which depends on the file system);
* ``load_models`` unpickles every model file of a directory as the course does (only from
  trusted sources: unpickling runs code), also skipping sub-directories and empty files;
* ``load_pickle`` and ``imread`` are the course's helpers.

Every missing file raises ``FileNotFoundError`` naming it and saying where to get it.
"""

import os
import pickle
import zipfile

import numpy as np

from ._validation import positive_int
from .data import _BatchUnpickler, get_CIFAR10_data, load_CIFAR10, load_CIFAR_batch
from .image_utils import imread

__all__ = [
    "load_pickle",
    "load_CIFAR_batch",
    "load_CIFAR10",
    "get_CIFAR10_data",
    "load_tiny_imagenet",
    "load_models",
    "load_imagenet_val",
    "imread",
    "IMAGENET_VAL_URL",
    "DEFAULT_IMAGENET_VAL_PATH",
    "TINY_IMAGENET_URL",
]

#: Where the course's ``get_imagenet_val.sh`` downloads the 25 ImageNet validation images from.
IMAGENET_VAL_URL = "http://cs231n.stanford.edu/imagenet_val_25.npz"

#: The file :func:`load_imagenet_val` reads by default (relative to the working directory).
DEFAULT_IMAGENET_VAL_PATH = os.path.join("cs231n", "datasets", "imagenet_val_25.npz")

#: TinyImageNet-200, in the layout :func:`load_tiny_imagenet` reads.
TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"

_TINY_SIZE = 64  # TinyImageNet images are 64 x 64


def load_pickle(f):
    """Unpickle one object from the open binary file ``f`` (Python 2 pickles included).

    As the course's helper: ``pickle.load(f, encoding="latin1")``. Unpickling can run
    arbitrary code: only load files from a trusted source.
    """
    return pickle.load(f, encoding="latin1")


# --- TinyImageNet ------------------------------------------------------------------------------


def _open_text(path, what):
    try:
        return open(path, "r")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"TinyImageNet {what} {os.fspath(path)!r} not found. A TinyImageNet directory (e.g. "
            f"tiny-imagenet-200 from {TINY_IMAGENET_URL}, unzipped) holds wnids.txt, words.txt, "
            "train/<wnid>/<wnid>_boxes.txt, train/<wnid>/images/, val/val_annotations.txt, "
            "val/images/ and test/images/"
        ) from None


def _tiny_image(path, dtype):
    """One TinyImageNet image as a (3, 64, 64) array of ``dtype``; grey-scale is repeated."""
    try:
        img = imread(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"TinyImageNet image {os.fspath(path)!r} not found (it is listed by the dataset's "
            "annotation files); the download may be incomplete"
        ) from None
    if img.ndim == 2:
        ## grayscale file
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[:2] != (_TINY_SIZE, _TINY_SIZE) or img.shape[2] not in (1, 3):
        raise ValueError(
            f"TinyImageNet image {os.fspath(path)!r} must be {_TINY_SIZE} x {_TINY_SIZE} grey-scale "
            f"or RGB; got an array of shape {img.shape}"
        )
    out = np.empty((3, _TINY_SIZE, _TINY_SIZE), dtype=dtype)
    out[...] = img.transpose(2, 0, 1)
    return out


def _label(wnid_to_label, wnid, where):
    try:
        return wnid_to_label[wnid]
    except KeyError:
        raise ValueError(f"{where} names the class {wnid!r}, which is not in wnids.txt") from None


def load_tiny_imagenet(path, dtype=np.float32, subtract_mean=True):
    """
    Load TinyImageNet. Each of TinyImageNet-100-A, TinyImageNet-100-B, and
    TinyImageNet-200 have the same directory structure, so this can be used
    to load any of them.

    Parameters
    ----------
    path : str or os.PathLike
        The directory to load (holding ``wnids.txt``, ``words.txt``, ``train/``, ``val/``
        and ``test/``).
    dtype : numpy dtype, default np.float32
        Datatype used to load the data.
    subtract_mean : bool, default True
        Whether to subtract the mean training image.

    Returns
    -------
    data : dict
        - ``class_names``: a list where ``class_names[i]`` is a list of strings giving the
          WordNet names for class i in the loaded dataset.
        - ``X_train``: (N_tr, 3, 64, 64) array of training images
        - ``y_train``: (N_tr,) array of training labels (int64)
        - ``X_val``: (N_val, 3, 64, 64) array of validation images
        - ``y_val``: (N_val,) array of validation labels
        - ``X_test``: (N_test, 3, 64, 64) array of testing images, in file-name order.
        - ``y_test``: (N_test,) array of test labels; if test labels are not available
          (``test/test_annotations.txt`` is absent, as in student code) then None.
        - ``mean_image``: (3, 64, 64) array giving the mean training image.

    Raises
    ------
    FileNotFoundError
        If the directory, an annotation file or a listed image is missing (the message names
        it and where the dataset comes from).
    ValueError
        If an image is not 64 x 64 grey-scale or RGB, or an annotation names a class that is
        not in ``wnids.txt``.
    ImportError
        If Pillow (which decodes the images) is not installed.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"TinyImageNet directory {os.fspath(path)!r} does not exist (absolute path "
            f"{os.path.abspath(path)!r}); download and unzip {TINY_IMAGENET_URL}"
        )
    # First load wnids
    with _open_text(os.path.join(path, "wnids.txt"), "class list") as f:
        wnids = [x.strip() for x in f if x.strip()]

    # Map wnids to integer labels
    wnid_to_label = {wnid: i for i, wnid in enumerate(wnids)}

    # Use words.txt to get names for each class
    with _open_text(os.path.join(path, "words.txt"), "class-name file") as f:
        wnid_to_words = dict(line.split("\t", 1) for line in f if "\t" in line)
        for wnid, words in wnid_to_words.items():
            wnid_to_words[wnid] = [w.strip() for w in words.split(",")]
    missing = [wnid for wnid in wnids if wnid not in wnid_to_words]
    if missing:
        raise ValueError(f"words.txt has no names for the classes {missing[:5]} of wnids.txt")
    class_names = [wnid_to_words[wnid] for wnid in wnids]

    # Next load training data.
    X_train = []
    y_train = []
    for i, wnid in enumerate(wnids):
        if (i + 1) % 20 == 0:
            print("loading training data for synset %d / %d" % (i + 1, len(wnids)))
        # To figure out the filenames we need to open the boxes file
        boxes_file = os.path.join(path, "train", wnid, "%s_boxes.txt" % wnid)
        with _open_text(boxes_file, "box file") as f:
            filenames = [x.split("\t")[0] for x in f if x.strip()]
        num_images = len(filenames)

        X_train_block = np.zeros((num_images, 3, _TINY_SIZE, _TINY_SIZE), dtype=dtype)
        y_train_block = wnid_to_label[wnid] * np.ones(num_images, dtype=np.int64)
        for j, img_file in enumerate(filenames):
            X_train_block[j] = _tiny_image(os.path.join(path, "train", wnid, "images", img_file), dtype)
        X_train.append(X_train_block)
        y_train.append(y_train_block)

    # We need to concatenate all training data
    X_train = np.concatenate(X_train, axis=0)
    y_train = np.concatenate(y_train, axis=0)
    if X_train.shape[0] == 0:
        raise ValueError(f"TinyImageNet directory {os.fspath(path)!r} lists no training image")

    # Next load validation data
    annotations = os.path.join(path, "val", "val_annotations.txt")
    with _open_text(annotations, "validation annotations") as f:
        img_files = []
        val_wnids = []
        for line in f:
            if not line.strip():
                continue
            img_file, wnid = line.split("\t")[:2]
            img_files.append(img_file)
            val_wnids.append(wnid.strip())
    num_val = len(img_files)
    y_val = np.array([_label(wnid_to_label, w, annotations) for w in val_wnids], dtype=np.int64)
    X_val = np.zeros((num_val, 3, _TINY_SIZE, _TINY_SIZE), dtype=dtype)
    for i, img_file in enumerate(img_files):
        X_val[i] = _tiny_image(os.path.join(path, "val", "images", img_file), dtype)

    # Next load test images
    # Students won't have test labels, so we need to iterate over files in the
    # images directory.
    test_dir = os.path.join(path, "test", "images")
    if not os.path.isdir(test_dir):
        raise FileNotFoundError(
            f"TinyImageNet test image directory {test_dir!r} not found; a TinyImageNet "
            f"directory (from {TINY_IMAGENET_URL}) holds test/images/"
        )
    img_files = sorted(os.listdir(test_dir))
    X_test = np.zeros((len(img_files), 3, _TINY_SIZE, _TINY_SIZE), dtype=dtype)
    for i, img_file in enumerate(img_files):
        X_test[i] = _tiny_image(os.path.join(test_dir, img_file), dtype)

    y_test = None
    y_test_file = os.path.join(path, "test", "test_annotations.txt")
    if os.path.isfile(y_test_file):
        with open(y_test_file, "r") as f:
            img_file_to_wnid = {}
            for line in f:
                if not line.strip():
                    continue
                line = line.split("\t")
                img_file_to_wnid[line[0]] = line[1].strip()
        unlabelled = [name for name in img_files if name not in img_file_to_wnid]
        if unlabelled:
            raise ValueError(f"{y_test_file!r} has no label for the test images {unlabelled[:5]}")
        y_test = [_label(wnid_to_label, img_file_to_wnid[name], y_test_file) for name in img_files]
        y_test = np.array(y_test, dtype=np.int64)

    mean_image = X_train.mean(axis=0)
    if subtract_mean:
        X_train -= mean_image[None]
        X_val -= mean_image[None]
        X_test -= mean_image[None]

    return {
        "class_names": class_names,
        "X_train": X_train,
        "y_train": y_train,
        "X_val": X_val,
        "y_val": y_val,
        "X_test": X_test,
        "y_test": y_test,
        "mean_image": mean_image,
    }


# --- saved models ------------------------------------------------------------------------------


def load_models(models_dir):
    """
    Load saved models from disk. This will attempt to unpickle all files in a
    directory; any files that give errors on unpickling (such as README.txt)
    will be skipped.

    Unpickling runs code: only load models from a trusted source.

    Parameters
    ----------
    models_dir : str or os.PathLike
        A directory containing model files. Each model file is a pickled dictionary with a
        ``'model'`` field.

    Returns
    -------
    models : dict
        Model file name -> ``unpickled['model']``. Files that are not pickles (a README, an
        empty file) and sub-directories are skipped.

    Raises
    ------
    FileNotFoundError
        If ``models_dir`` is not a directory.
    ValueError
        If a pickle is not a dict with a ``'model'`` field (the message names the file).
    """
    if not os.path.isdir(models_dir):
        raise FileNotFoundError(
            f"models directory {os.fspath(models_dir)!r} does not exist or is not a directory "
            f"(absolute path {os.path.abspath(models_dir)!r})"
        )
    models = {}
    for model_file in sorted(os.listdir(models_dir)):
        full = os.path.join(models_dir, model_file)
        if not os.path.isfile(full):
            continue
        with open(full, "rb") as f:
            try:
                obj = load_pickle(f)
            except (pickle.UnpicklingError, EOFError):
                continue
        if not isinstance(obj, dict) or "model" not in obj:
            what = f"a dict with keys {sorted(map(str, obj))}" if isinstance(obj, dict) else type(obj).__name__
            raise ValueError(
                f"model file {full!r} must hold a pickled dict with a 'model' field; it holds {what}"
            )
        models[model_file] = obj["model"]
    return models


# --- ImageNet validation images -----------------------------------------------------------------


class _NpzUnpickler(_BatchUnpickler):
    """The CIFAR batch unpickler (NumPy arrays and built-in containers only), with a message
    naming the ``.npz`` member instead of a CIFAR batch."""

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}; only NumPy arrays, dicts, lists, strings and "
                "numbers are loaded"
            ) from None


def _npz_member(archive, name, path):
    """Member ``name`` (``name.npy``) of the open ``zipfile`` ``archive`` as an array;
    object arrays are unpickled by :class:`_NpzUnpickler`."""
    member = name + ".npy"
    if member not in archive.namelist():
        raise ValueError(
            f"{os.fspath(path)!r} is not the course's imagenet_val_25.npz: it has no array "
            f"{name!r} (arrays: {sorted(n[:-4] for n in archive.namelist() if n.endswith('.npy'))})"
        )
    with archive.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        if not dtype.hasobject:
            fp.seek(0)
            return np.lib.format.read_array(fp, allow_pickle=False)
        try:
            return _NpzUnpickler(fp, encoding="latin1").load()
        except Exception as exc:
            raise ValueError(f"cannot read {name!r} of {os.fspath(path)!r}: {exc}") from None


def load_imagenet_val(num=None, *, path=None):
    """Load a handful of validation images from ImageNet.

    Parameters
    ----------
    num : int, optional
        Number of images to load (max of 25); None loads all.
    path : str or os.PathLike, optional, keyword-only
        The ``imagenet_val_25.npz`` file; default :data:`DEFAULT_IMAGENET_VAL_PATH`
        (``cs231n/datasets/imagenet_val_25.npz`` relative to the working directory, where
        the course's ``get_imagenet_val.sh`` puts it).

    Returns
    -------
    X : ndarray of shape (num, 224, 224, 3)
        The images, as stored (uint8).
    y : ndarray of shape (num,)
        Integer image labels.
    class_names : dict
        Integer label -> class name.

    Raises
    ------
    FileNotFoundError
        If the file does not exist (the message says how to download it).
    ValueError
        If the file is not the course's ``.npz`` (a missing array, a ``label_map`` that is not
        a dict or holds other objects), or ``num`` < 0.
    TypeError
        If ``num`` is not an int.
    """
    if num is not None:
        num = positive_int("num", num, 0)
    imagenet_fn = DEFAULT_IMAGENET_VAL_PATH if path is None else path
    if not os.path.isfile(imagenet_fn):
        raise FileNotFoundError(
            f"ImageNet validation file {os.fspath(imagenet_fn)!r} not found (absolute path "
            f"{os.path.abspath(imagenet_fn)!r}). Download it as the course's "
            f"cs231n/datasets/get_imagenet_val.sh does: `cd cs231n/datasets && wget "
            f"{IMAGENET_VAL_URL}`, then run from the assignment's directory or pass path="
        )
    try:
        archive = zipfile.ZipFile(imagenet_fn)
    except zipfile.BadZipFile:
        raise ValueError(f"{os.fspath(imagenet_fn)!r} is not an .npz file (not a zip archive)") from None
    with archive:
        X = _npz_member(archive, "X", imagenet_fn)
        y = _npz_member(archive, "y", imagenet_fn)
        label_map = _npz_member(archive, "label_map", imagenet_fn)
    class_names = label_map.item() if isinstance(label_map, np.ndarray) and label_map.size == 1 else label_map
    if not isinstance(class_names, dict):
        raise ValueError(
            f"'label_map' of {os.fspath(imagenet_fn)!r} must hold a dict (label -> class name); "
            f"got {type(class_names).__name__}"
        )
    if num is not None:
        X = X[:num]
        y = y[:num]
    return X, y, class_names
