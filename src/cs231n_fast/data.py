"""Drop-in for the course's ``cs231n/data_utils.py`` (the CIFAR-10 loaders), plus an offline
dataset.

``load_CIFAR_batch``, ``load_CIFAR10`` and ``get_CIFAR10_data`` keep the course's names,
arguments, return values and preprocessing (assignment 2's ``get_CIFAR10_data``: the first
``num_training`` training images, the next ``num_validation`` as the validation set, the first
``num_test`` test images; the training mean image subtracted; channels first). Differences, all
in the user's favour:

* ``get_CIFAR10_data`` takes a keyword ``root``; by default it reads the directory named by the
  environment variable ``CS231N_CIFAR10_ROOT``, else ``cs231n/datasets/cifar-10-batches-py``
  relative to the working directory (where the course's notebooks run);
* a missing directory or batch raises ``FileNotFoundError`` saying how to download CIFAR-10,
  a damaged batch raises ``ValueError`` naming the file and the problem;
* batches are unpickled by a restricted unpickler that builds only the dict of NumPy arrays,
  lists and strings a CIFAR-10 batch holds and refuses every other Python object. Unpickling
  is still not a safe way to read untrusted data: use batches from a trusted source only
  (the official archive, http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz);
* ``get_CIFAR10_data`` converts to float64 only the images it returns, so it needs about a
  third of the course version's memory; the values are identical;
* labels are int64 on every platform.

:func:`load_digits` and :func:`get_digits_data` serve the UCI handwritten digits (1797 images
of 8 x 8 pixels, embedded in the package) in the same layout, for training and tests without
a download.
"""

import codecs
import functools
import gzip
import os
import pickle
from importlib import resources

import numpy as np

from ._validation import make_rng, positive_int

__all__ = [
    "load_CIFAR_batch",
    "load_CIFAR10",
    "get_CIFAR10_data",
    "load_digits",
    "get_digits_data",
    "CIFAR10_URL",
    "DEFAULT_CIFAR10_ROOT",
]

#: Where the course's ``get_datasets.sh`` downloads CIFAR-10 (python version) from.
CIFAR10_URL = "http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

#: The CIFAR-10 directory used when neither ``root`` nor ``CS231N_CIFAR10_ROOT`` is given.
DEFAULT_CIFAR10_ROOT = os.path.join("cs231n", "datasets", "cifar-10-batches-py")

_CIFAR_SHAPE = (3, 32, 32)  # each row of a batch's 'data': the R, G, B planes, row-major
_CIFAR_PIXELS = 3 * 32 * 32
_CIFAR_CLASSES = 10
_TRAIN_BATCHES = tuple(f"data_batch_{b}" for b in range(1, 6))
_TEST_BATCH = "test_batch"


# --- CIFAR-10 ----------------------------------------------------------------------------------


def _pickle_globals():
    """The only globals a CIFAR-10 batch pickle may name, mapped to the objects to build.

    A batch is a dict of ``str`` keys, lists of ints and strings, and NumPy arrays. Arrays
    pickle through NumPy's array/dtype/scalar constructors (under ``numpy.core`` for files
    written by NumPy 1, ``numpy._core`` for NumPy 2), and bytes written with protocol 2 by
    Python 3 through ``_codecs.encode``. The objects are taken from NumPy's own pickling so
    this stays right across NumPy versions.
    """
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    frombuffer = np.ndarray.__reduce_ex__(np.zeros(1), 5)[0]
    scalar = np.uint8(0).__reduce__()[0]
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    allowed[("_codecs", "encode")] = codecs.encode
    return allowed


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals of :func:`_pickle_globals`."""

    _allowed = _pickle_globals()

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}, which a CIFAR-10 batch never contains "
                "(only a dict of NumPy arrays, lists and strings is loaded)"
            ) from None


def _missing_root_error(root):
    return FileNotFoundError(
        f"CIFAR-10 directory {os.fspath(root)!r} does not exist or is not a directory "
        f"(absolute path {os.path.abspath(root)!r}). Download and extract CIFAR-10 (python "
        f"version) as the course's cs231n/datasets/get_datasets.sh does: "
        f"`wget {CIFAR10_URL} && tar -xzvf cifar-10-python.tar.gz` creates "
        "cifar-10-batches-py/. Then pass that directory as root (ROOT), or set the "
        "environment variable CS231N_CIFAR10_ROOT."
    )


def _read_batch(filename):
    """Read and check one CIFAR-10 batch file.

    Returns the raw ``data`` (N, 3072) uint8 array, each row the channel-major (3, 32, 32)
    image, and the labels as an int64 array (N,).
    """
    try:
        f = open(filename, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"CIFAR-10 batch file {os.fspath(filename)!r} not found; a CIFAR-10 directory "
            f"holds {', '.join(_TRAIN_BATCHES)} and {_TEST_BATCH} (from {CIFAR10_URL})"
        ) from None
    with f:
        try:
            batch = _BatchUnpickler(f, encoding="latin1").load()
        except OSError:
            raise
        except Exception as exc:  # truncated, not a pickle, or a forbidden object
            raise ValueError(
                f"{os.fspath(filename)!r} is not a valid CIFAR-10 batch: cannot unpickle it ({exc})"
            ) from None

    def bad(problem):
        return ValueError(f"{os.fspath(filename)!r} is not a valid CIFAR-10 batch: {problem}")

    if not isinstance(batch, dict):
        raise bad(f"expected a pickled dict, got {type(batch).__name__}")
    missing = [key for key in ("data", "labels") if key not in batch]
    if missing:
        raise bad(f"the dict has no key {missing[0]!r} (keys: {sorted(map(str, batch))})")
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        what = f"dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise bad(f"'data' must be a uint8 array of shape (N, {_CIFAR_PIXELS}); got {what}")
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] != _CIFAR_PIXELS:
        raise bad(f"'data' must have shape (N, {_CIFAR_PIXELS}) with N >= 1; got {data.shape}")
    try:
        y = np.asarray(labels)
    except Exception as exc:
        raise bad(f"'labels' is not a sequence of ints ({exc})") from None
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise bad(f"'labels' must be a list of N ints; got dtype {y.dtype}, shape {y.shape}")
    if y.shape[0] != data.shape[0]:
        raise bad(f"'labels' has {y.shape[0]} entries but 'data' has {data.shape[0]} images")
    if y.min() < 0 or y.max() >= _CIFAR_CLASSES:
        bad_label = int(y.min()) if y.min() < 0 else int(y.max())
        raise bad(f"'labels' must lie in 0..{_CIFAR_CLASSES - 1}; got {bad_label}")
    return data, y.astype(np.int64)


def _to_nhwc_float(data):
    """Raw (N, 3072) uint8 rows as a C-contiguous float64 array (N, 32, 32, 3)."""
    images = data.reshape(-1, *_CIFAR_SHAPE).transpose(0, 2, 3, 1)
    return images.astype(np.float64, order="C")


def _load_raw(root):
    """The raw training and test data of a CIFAR-10 directory: ``data, y, data_test, y_test``."""
    if not os.path.isdir(root):
        raise _missing_root_error(root)
    paths = [os.path.join(root, name) for name in (*_TRAIN_BATCHES, _TEST_BATCH)]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:  # checked before reading anything: fail in a moment, not after four batches
        raise FileNotFoundError(
            f"CIFAR-10 batch file {missing[0]!r} not found (missing: "
            f"{', '.join(os.path.basename(p) for p in missing)}); {os.fspath(root)!r} should "
            f"hold {', '.join(_TRAIN_BATCHES)} and {_TEST_BATCH}, extracted from {CIFAR10_URL}"
        )
    train = [_read_batch(p) for p in paths[:-1]]
    data_test, y_test = _read_batch(paths[-1])
    data = np.concatenate([d for d, _ in train])
    y = np.concatenate([labels for _, labels in train])
    return data, y, data_test, y_test


def load_CIFAR_batch(filename):
    """load single batch of cifar

    Parameters
    ----------
    filename : str or os.PathLike
        A CIFAR-10 batch file (``data_batch_1`` ... ``data_batch_5``, ``test_batch``): a pickled
        dict whose ``'data'`` is a uint8 array (N, 3072), each row an image's red, green and
        blue 32 x 32 planes in row-major order, and whose ``'labels'`` are N ints in 0..9.
        Unpickling is unsafe for untrusted files: only load batches from a trusted source.

    Returns
    -------
    X : ndarray of shape (N, 32, 32, 3), float64
        The images, channels last, pixel values 0..255.
    Y : ndarray of shape (N,), int64
        The labels.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a CIFAR-10 batch (not a pickle, a pickle of other objects, a missing key,
        a wrong ``'data'`` shape or dtype, labels of the wrong length or outside 0..9); the
        message names the file and the problem.
    """
    data, y = _read_batch(filename)
    return _to_nhwc_float(data), y


def load_CIFAR10(ROOT):
    """load all of cifar

    Parameters
    ----------
    ROOT : str or os.PathLike
        The extracted ``cifar-10-batches-py`` directory, holding ``data_batch_1`` ...
        ``data_batch_5`` and ``test_batch`` (from trusted sources only: see
        :func:`load_CIFAR_batch`).

    Returns
    -------
    Xtr : ndarray of shape (50000, 32, 32, 3), float64
        The training images (the five batches in order), channels last.
    Ytr : ndarray of shape (50000,), int64
    Xte : ndarray of shape (10000, 32, 32, 3), float64
        The test images.
    Yte : ndarray of shape (10000,), int64

    Raises
    ------
    FileNotFoundError
        If ``ROOT`` is not a directory (the message says how to download CIFAR-10) or a batch
        file is missing (the message names it).
    ValueError
        If a batch is damaged (see :func:`load_CIFAR_batch`).
    """
    data, Ytr, data_test, Yte = _load_raw(ROOT)
    return _to_nhwc_float(data), Ytr, _to_nhwc_float(data_test), Yte


def _check_available(name, value, available, what):
    if value > available:
        raise ValueError(f"{name} must be <= {available} ({what}); got {value}")


def get_CIFAR10_data(
    num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True, *, root=None
):
    """
    Load the CIFAR-10 dataset from disk and perform preprocessing to prepare
    it for classifiers. These are the same steps as we used for the SVM, but
    condensed to a single function.

    The validation set is the ``num_validation`` training images after the first
    ``num_training``; the test set is the first ``num_test`` test images.

    Parameters
    ----------
    num_training : int, default 49000
        Number of training images, >= 1.
    num_validation : int, default 1000
        Number of validation images, >= 0; ``num_training + num_validation <= 50000``.
    num_test : int, default 1000
        Number of test images, 0..10000.
    subtract_mean : bool, default True
        Subtract the mean image of the returned training set from all three sets.
    root : str or os.PathLike, optional, keyword-only
        The ``cifar-10-batches-py`` directory. Default: the environment variable
        ``CS231N_CIFAR10_ROOT`` if set, else :data:`DEFAULT_CIFAR10_ROOT`
        (``cs231n/datasets/cifar-10-batches-py``) relative to the working directory.

    Returns
    -------
    data : dict
        ``'X_train'``, ``'X_val'``, ``'X_test'``: float64 arrays of shape (n, 3, 32, 32)
        (channels first); ``'y_train'``, ``'y_val'``, ``'y_test'``: int64 label arrays (n,).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_CIFAR10`; ``ValueError`` also when a count is negative (or
        ``num_training`` is 0) or larger than the images available.
    TypeError
        If a count is not an int.
    """
    if root is None:
        root = os.environ.get("CS231N_CIFAR10_ROOT") or DEFAULT_CIFAR10_ROOT
    num_training = positive_int("num_training", num_training)
    num_validation = positive_int("num_validation", num_validation, 0)
    num_test = positive_int("num_test", num_test, 0)
    data, y, data_test, y_test = _load_raw(root)
    _check_available("num_training", num_training, data.shape[0], "the training images available")
    _check_available(
        "num_validation",
        num_validation,
        data.shape[0] - num_training,
        f"the training images left after num_training = {num_training}",
    )
    _check_available("num_test", num_test, data_test.shape[0], "the test images available")

    train = slice(0, num_training)
    val = slice(num_training, num_training + num_validation)
    test = slice(0, num_test)
    # The raw rows already are channel-major images. Sums of integer pixels are exact in float64,
    # so this mean equals the course's mean of the float64 training images bit for bit.
    mean = data[train].mean(axis=0, dtype=np.float64) if subtract_mean else np.zeros(_CIFAR_PIXELS)

    def images(raw):
        return (raw - mean).reshape(-1, *_CIFAR_SHAPE)

    return {
        "X_train": images(data[train]),
        "y_train": y[train].copy(),
        "X_val": images(data[val]),
        "y_val": y[val].copy(),
        "X_test": images(data_test[test]),
        "y_test": y_test[test].copy(),
    }


# --- handwritten digits (embedded) --------------------------------------------------------------

_DIGITS_SHAPE = (1, 8, 8)
_DIGITS_LEVELS = 16  # pixel values are counts 0..16 of set bits in 4 x 4 blocks


@functools.lru_cache(maxsize=1)
def _digits_table():
    """The embedded digits as a read-only int64 array (1797, 65): 64 pixels, then the label."""
    resource = resources.files("cs231n_fast").joinpath("_data", "digits.csv.gz")
    with resource.open("rb") as raw, gzip.open(raw, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 65:  # a damaged installation, not a user error
        raise RuntimeError(f"the embedded digits data has shape {table.shape}, expected (1797, 65)")
    table.setflags(write=False)
    return table


def _float_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise TypeError(
            f"dtype must be a floating dtype such as np.float32 or np.float64; got {dtype!r}"
        )
    return dt


def load_digits(*, dtype=np.float32):
    """The embedded UCI handwritten digits, scaled to [0, 1].

    1797 grey-scale images of 8 x 8 pixels, about 180 of each digit 0..9 (E. Alpaydin and
    C. Kaynak, UCI "Optical Recognition of Handwritten Digits", test set, CC BY 4.0; the copy
    scikit-learn ships). No download is needed.

    Parameters
    ----------
    dtype : floating dtype, default np.float32, keyword-only

    Returns
    -------
    X : ndarray of shape (1797, 1, 8, 8), ``dtype``
        The images (one channel), pixel value / 16.
    y : ndarray of shape (1797,), int64
        The digits, 0..9.

    Raises
    ------
    TypeError
        If ``dtype`` is not a floating dtype.
    """
    dt = _float_dtype(dtype)
    table = _digits_table()
    X = np.divide(table[:, :-1], _DIGITS_LEVELS, dtype=dt).reshape(-1, *_DIGITS_SHAPE)
    return X, table[:, -1].copy()


def _stratified_draw(y, pool, size, rng):
    """Draw ``size`` of the indices ``pool`` at random, the classes ``y`` as equal as possible.

    The pool is shuffled, then the classes take turns: the k-th member of every class comes
    before the (k+1)-th of any class. Returns ``(drawn, rest)``; ``drawn`` is in that order.
    """
    order = rng.permutation(pool)
    labels = y[order]
    rank = np.empty(order.shape[0], dtype=np.intp)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = np.arange(members.size)
    order = order[np.argsort(rank, kind="stable")]
    return order[:size], order[size:]


def get_digits_data(num_validation=250, num_test=250, subtract_mean=True, seed=0, dtype=np.float32):
    """The embedded digits (:func:`load_digits`) split like :func:`get_CIFAR10_data`.

    The test and validation sets are drawn at random, stratified by class (each holds the
    digits as equally as its size allows); the training set is the rest (1297 images by
    default). The same ``seed`` gives the same split.

    Parameters
    ----------
    num_validation : int, default 250
        Number of validation images, >= 0.
    num_test : int, default 250
        Number of test images, >= 0; ``num_validation + num_test <= 1796``.
    subtract_mean : bool, default True
        Subtract the mean image of the training set from all three sets.
    seed : int or None, default 0
        Seed of the split; None draws a fresh one.
    dtype : floating dtype, default np.float32

    Returns
    -------
    data : dict
        ``'X_train'``, ``'X_val'``, ``'X_test'``: arrays of shape (n, 1, 8, 8) and ``dtype``;
        ``'y_train'``, ``'y_val'``, ``'y_test'``: int64 label arrays (n,).

    Raises
    ------
    ValueError
        If a count is negative, or together they leave no training image.
    TypeError
        If a count or ``seed`` is not an int, or ``dtype`` is not a floating dtype.
    """
    X, y = load_digits(dtype=dtype)
    num_validation = positive_int("num_validation", num_validation, 0)
    num_test = positive_int("num_test", num_test, 0)
    if num_validation + num_test >= y.shape[0]:
        raise ValueError(
            f"num_validation + num_test must be < {y.shape[0]} (the digits available) to leave "
            f"training images; got {num_validation} + {num_test}"
        )
    rng = make_rng(seed)
    test, rest = _stratified_draw(y, np.arange(y.shape[0]), num_test, rng)
    val, train = _stratified_draw(y, rest, num_validation, rng)
    splits = {"train": train, "val": val, "test": test}
    data = {}
    mean = None
    if subtract_mean:
        mean = X[splits["train"]].mean(axis=0, dtype=np.float64).astype(X.dtype)
    for split in ("train", "val", "test"):
        images = X[splits[split]]  # fancy indexing: a fresh array
        if mean is not None:
            images -= mean
        data[f"X_{split}"] = images
        data[f"y_{split}"] = y[splits[split]]
    return data
