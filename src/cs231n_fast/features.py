"""The course's ``cs231n/features.py`` (CS231n assignment 1): image features for the linear
classifiers and the two-layer net of ``features.ipynb``.

Drop-in: :func:`extract_features`, :func:`rgb2gray`, :func:`hog_feature` and
:func:`color_histogram_hsv` have the course's signatures and return values. The notebook's
cell runs unchanged::

    from cs231n_fast.features import *

    num_color_bins = 10  # Number of bins in the color histogram
    feature_fns = [hog_feature, lambda img: color_histogram_hsv(img, nbin=num_color_bins)]
    X_train_feats = extract_features(X_train, feature_fns, verbose=True)

What is faster: :func:`extract_features` recognises this module's :func:`hog_feature` and
:func:`color_histogram_hsv` among the feature functions -- as themselves, as
``functools.partial`` of them with keyword arguments, or as a plain function such as the
notebook's lambda whose only work is one call of them on its image with constant arguments
(checked on its bytecode, then on a dry run in which it can reach nothing but those
constants) -- and computes those features for the whole batch with the compiled kernels
(:mod:`cs231n_fast.ops.features`, images in parallel). Any other feature function is called
image by image, as the course does. The results are the same either way: the batch kernels
are the per-image functions' own.

Agreement with the course's functions: hue histograms exactly, HOG to rounding (see
:mod:`cs231n_fast.ops.features`). Where the course's code fails (a grayscale image in
``hog_feature``; an image size its HOG broadcasting rejects) these raise a ValueError saying
why, or, for grayscale images, compute the HOG of the image itself.
"""

import dis
import functools
import inspect
import types

import numpy as np

from .ops import features as _ops

__all__ = ["extract_features", "rgb2gray", "hog_feature", "color_histogram_hsv"]


def rgb2gray(rgb):
    """Convert RGB image to grayscale

    Parameters:
      rgb : RGB image

    Returns:
      gray : grayscale image

    (The course's weights 0.299, 0.587, 0.144, by ``np.dot`` over the last axis.)
    """
    return np.dot(rgb[..., :3], [0.299, 0.587, 0.144])


def _single(im):
    """``im`` as an array checked to be one image HOG can take."""
    im = _ops.pixels("im", im)
    if not (im.ndim == 2 or (im.ndim == 3 and (im.shape[2] == 1 or im.shape[2] >= 3))):
        raise ValueError(
            "im must be an image of shape (H, W, C) (RGB: C >= 3, grayscale: C == 1) or (H, W) "
            f"(grayscale); got shape {im.shape}"
        )
    return im


def hog_feature(im):
    """Compute Histogram of Gradient (HOG) feature for an image

       Modified from skimage.feature.hog
       http://pydoc.net/Python/scikits-image/0.4.2/skimage.feature.hog

     Reference:
       Histograms of Oriented Gradients for Human Detection
       Navneet Dalal and Bill Triggs, CVPR 2005

    Parameters:
      im : an input grayscale or rgb image

    Returns:
      feat: Histogram of Gradient (HOG) feature

    The compiled kernel on a batch of one (see :func:`cs231n_fast.ops.features.hog_features`):
    float64 of length ``9 * (H // 8) * (W // 8)``. Raises ValueError for image sizes the
    course's code fails on.
    """
    im = _single(im)
    cells = _ops.hog_cells(im.shape[0], im.shape[1], "im")
    a = im.reshape((1,) + im.shape[:2] + ((im.shape[2],) if im.ndim == 3 else (1,)))
    return _ops.hog_batch(a, cells)[0]


def color_histogram_hsv(im, nbin=10, xmin=0, xmax=255, normalized=True):
    """
    Compute color histogram for an image using hue.

    Inputs:
    - im: H x W x C array of pixel data for an RGB image.
    - nbin: Number of histogram bins. (default: 10)
    - xmin: Minimum pixel value (default: 0)
    - xmax: Maximum pixel value (default: 255)
    - normalized: Whether to normalize the histogram (default: True)

    Returns:
      1D vector of length nbin giving the color histogram over the hue of the
      input image.

    The compiled kernel on a batch of one (see
    :func:`cs231n_fast.ops.features.color_histograms_hsv`): float64, the course's values
    exactly. Raises ValueError for values outside ``[0, xmax]`` (as matplotlib does in the
    course's code).
    """
    im = _ops.pixels("im", im)
    if im.ndim != 3 or im.shape[2] != 3 or im.size == 0:
        raise ValueError(f"im must be a non-empty RGB image of shape (H, W, 3); got shape {im.shape}")
    bins = _ops.hsv_bins(nbin, xmin, xmax, normalized)
    return _ops.hsv_batch(im[np.newaxis], bins, xmin, xmax, name="im", single_image=True)[0]


# --- recognising the batchable feature functions ----------------------------------------------

#: Bytecode instructions a recognised plain function may contain (CPython 3.9-3.13 names):
#: loads of its arguments, constants, globals and closure cells, arithmetic, calls, return.
#: No attribute access, subscripts, stores, jumps, imports or nested code.
_SAFE_OPS = frozenset({
    "RESUME", "NOP", "CACHE", "EXTENDED_ARG", "COPY_FREE_VARS", "PUSH_NULL", "PRECALL",
    "KW_NAMES", "CALL", "CALL_KW", "CALL_FUNCTION", "CALL_FUNCTION_KW",
    "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_LOAD_FAST", "LOAD_CONST", "LOAD_SMALL_INT",
    "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_CLOSURE",
    "BINARY_OP", "BINARY_ADD", "BINARY_SUBTRACT", "BINARY_MULTIPLY", "BINARY_TRUE_DIVIDE",
    "BINARY_FLOOR_DIVIDE", "BINARY_POWER", "UNARY_NEGATIVE", "UNARY_POSITIVE",
    "RETURN_VALUE", "RETURN_CONST",
})
_PLAIN = (int, float, bool, type(None), np.integer, np.floating, np.bool_)
_FUNCTION_FLAGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS | inspect.CO_GENERATOR | \
    inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


class _Image:
    """The stand-in image of a dry run: supports nothing."""

    __slots__ = ()

    def __eq__(self, other):
        raise TypeError("the dry run's image supports no operation")

    __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = None

    def __bool__(self):
        raise TypeError("the dry run's image supports no operation")


def _ours():
    return {hog_feature: "hog", color_histogram_hsv: "hsv"}


def _bound(kind, fn, args, kwargs):
    """``(kind, keyword arguments)`` for a call ``fn(image, *args, **kwargs)`` of ours, or None
    when it does not bind to the signature."""
    try:
        bound = inspect.signature(fn).bind(None, *args, **kwargs)
    except TypeError:
        return None
    params = dict(bound.arguments)
    params.pop("im", None)
    return kind, params


def _dry_run(fn, ours):
    """``(kind, kwargs)`` when the plain function ``fn`` does nothing but call one of ours on
    its image with constant arguments, else None."""
    code = fn.__code__
    if code.co_flags & _FUNCTION_FLAGS or code.co_argcount < 1:
        return None
    if code.co_argcount - len(fn.__defaults__ or ()) > 1:
        return None
    kwdefaults = fn.__kwdefaults__ or {}
    kwonly = code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
    if any(name not in kwdefaults for name in kwonly):
        return None
    if any(isinstance(c, types.CodeType) for c in code.co_consts):
        return None
    names = set()
    try:
        for ins in dis.get_instructions(code):
            if ins.opname not in _SAFE_OPS:
                return None
            if ins.opname == "LOAD_GLOBAL":
                names.add(ins.argval)
    except Exception:  # an unusual code object: not ours
        return None
    calls = []
    token = object()

    def recorder(kind, target):
        def record(*args, **kwargs):
            calls.append((kind, target, args, kwargs))
            return token
        return record

    def stand_in(value):
        """The value a dry run sees for a global or a closure cell (None: not allowed)."""
        if isinstance(value, _PLAIN):
            return value
        for target, kind in ours.items():
            if value is target:
                return recorder(kind, target)
        return None

    builtins = fn.__builtins__ if isinstance(fn.__builtins__, dict) else vars(fn.__builtins__)
    sandbox = {"__builtins__": {}}
    for name in names:
        if name in fn.__globals__:
            value = fn.__globals__[name]
        elif name in builtins:
            value = builtins[name]
        else:
            return None
        seen = stand_in(value)
        if seen is None:
            return None
        sandbox[name] = seen
    cells = []
    for cell in fn.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            return None
        seen = stand_in(value)
        if seen is None:
            return None
        cells.append(types.CellType(seen))
    for value in list(fn.__defaults__ or ()) + list(kwdefaults.values()):
        if not isinstance(value, _PLAIN):
            return None
    probe = types.FunctionType(code, sandbox, code.co_name, fn.__defaults__, tuple(cells) or None)
    probe.__kwdefaults__ = dict(kwdefaults) or None
    image = _Image()
    try:
        result = probe(image)
    except Exception:
        return None
    if result is not token or len(calls) != 1:
        return None
    kind, target, args, kwargs = calls[0]
    if args and args[0] is image:
        return _bound(kind, target, args[1:], kwargs)
    if not args and kwargs.get("im") is image:
        rest = dict(kwargs)
        del rest["im"]
        return _bound(kind, target, (), rest)
    return None


def _batch_plan(fn):
    """``("hog" | "hsv", kwargs)`` when ``fn`` computes one of ours on its image, else None."""
    ours = _ours()
    try:
        if fn in ours:
            return ours[fn], {}
    except TypeError:  # an unhashable callable
        return None
    if isinstance(fn, functools.partial):
        if fn.func in ours and not fn.args:
            return _bound(ours[fn.func], fn.func, (), dict(fn.keywords))
        return None
    if isinstance(fn, types.FunctionType):
        return _dry_run(fn, ours)
    return None


def _batch(imgs, kind, kwargs):
    """The features ``kind`` of every image, or None when the images are not a batch the
    kernels take as the per-image calls would see them (``imgs[i].squeeze()`` must be
    ``imgs[i]``)."""
    if not isinstance(imgs, np.ndarray) or imgs.dtype.kind not in "biuf":
        return None
    if kind == "hog":
        if imgs.ndim not in (3, 4) or 1 in imgs.shape[1:3] or (imgs.ndim == 4 and imgs.shape[3] in (0, 2)):
            return None
        a, cells = _ops.hog_images(imgs)
        return _ops.hog_batch(a, cells)
    if imgs.ndim != 4 or imgs.shape[3] != 3 or 1 in imgs.shape[1:3] or 0 in imgs.shape[1:3]:
        return None
    return _ops.color_histograms_hsv(imgs, **kwargs)


def extract_features(imgs, feature_fns, verbose=False):
    """
    Given pixel data for images and several feature functions that can operate on
    single images, apply all feature functions to all images, concatenating the
    feature vectors for each image and storing the features for all images in
    a single matrix.

    Inputs:
    - imgs: N x H X W X C array of pixel data for N images.
    - feature_fns: List of k feature functions. The ith feature function should
      take as input an H x W x D array and return a (one-dimensional) array of
      length F_i.
    - verbose: Boolean; if true, print progress.

    Returns:
    An array of shape (N, F_1 + ... + F_k) where each column is the concatenation
    of all features for a single image.

    This module's :func:`hog_feature` and :func:`color_histogram_hsv` (also wrapped in a
    ``functools.partial`` or a lambda such as ``lambda img: color_histogram_hsv(img,
    nbin=num_color_bins)``) are computed for the whole batch at once by the compiled kernels;
    any other function is called on each ``imgs[i].squeeze()`` as in the course. A feature
    function must return a 1-D array (ValueError otherwise; the course asserts it).
    """
    if not hasattr(imgs, "shape"):
        imgs = np.asarray(imgs)
    num_images = imgs.shape[0]
    if num_images == 0:
        return np.array([])
    feature_fns = list(feature_fns)

    blocks = [None] * len(feature_fns)
    for k, fn in enumerate(feature_fns):
        plan = _batch_plan(fn)
        if plan is not None:
            blocks[k] = _batch(imgs, *plan)
    looped = [k for k, block in enumerate(blocks) if block is None]

    # The course's loop for the other functions: the first image sets their dimensions.
    dims = {}
    first = {}
    for k in looped:
        feats = np.asarray(feature_fns[k](imgs[0].squeeze()))
        if feats.ndim != 1:
            raise ValueError(
                f"feature functions must return a 1-D array; {feature_fns[k]!r} returned shape "
                f"{feats.shape} for the first image"
            )
        dims[k] = feats.size
        first[k] = feats
    for k, block in enumerate(blocks):
        if block is not None:
            dims[k] = block.shape[1]
    offsets = np.cumsum([0] + [dims[k] for k in range(len(feature_fns))])
    imgs_features = np.zeros((num_images, int(offsets[-1])))
    for k, block in enumerate(blocks):
        if block is not None:
            imgs_features[:, offsets[k]:offsets[k + 1]] = block
    for k in looped:
        imgs_features[0, offsets[k]:offsets[k + 1]] = first[k]

    for i in range(1, num_images):
        for k in looped:
            imgs_features[i, offsets[k]:offsets[k + 1]] = feature_fns[k](imgs[i].squeeze())
        if verbose and i % 1000 == 999:
            print("Done extracting features for %d / %d images" % (i + 1, num_images))

    return imgs_features
