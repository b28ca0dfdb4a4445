"""Validated image features over the compiled kernels (``cs231n_fast._ext.features``).

The course's HOG descriptor and hue histogram (CS231n assignment 1, ``cs231n/features.py``)
computed for a whole batch of images at once, images in parallel, instead of one call per
image:

* :func:`hog_features` -- ``hog_feature`` of every image: (N, 9 * cells) float64;
* :func:`color_histograms_hsv` -- ``color_histogram_hsv`` of every image: (N, nbin) float64.

The NumPy twin with the same names and signatures is :mod:`cs231n_fast.reference.features`;
the course's module, ``extract_features`` included, is :mod:`cs231n_fast.features`.

Agreement with the course's functions (see ``csrc/features_kernels.h`` for why):

* hue histograms are the course's exactly (the same IEEE operations on every pixel, the same
  bin rule), in float32 where the course computes in float32 (float32 images) and float64
  otherwise;
* HOG descriptors agree with the course's to rounding: the gray image, gradients, magnitudes
  and orientation bins are the course's (the gray value is NumPy's on CPUs with FMA, bitwise),
  and only the cell averages are summed in another order than SciPy's running
  ``uniform_filter`` (measured within 1e-15 of the largest value; the tests hold it to 1e-12
  of the largest value).

Common to both functions:

* ``imgs`` is any array of real numbers (booleans and integers included: they are converted
  exactly as NumPy converts them in the course's code) in any memory layout; nothing is
  written into it.
* ``n_threads``: threads for the kernels, default OpenMP's current maximum; batches below
  :data:`cs231n_fast._threads.SERIAL_WORK` pixels run on one thread. Results are bitwise
  identical for any thread count (one image per thread, fixed order).
"""

import math
import numbers
import operator

import numpy as np

from .._ext import features as _k
from .._memory import empty
from .._threads import work_threads

__all__ = ["hog_features", "color_histograms_hsv"]

_U8 = np.dtype(np.uint8)
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
#: Pixel dtypes the kernels read directly.
_HOG_PIXELS = (_U8, _F32, _F64)
#: Orientation bins and cell side of the course's HOG.
ORIENTATIONS = 9
CELL = 8


# --- validation (shared with reference.features and the course module) -----------------------


def pixels(name, a):
    """``np.asarray(a)``; TypeError naming ``name`` unless it holds real numbers or booleans."""
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be an array of pixel values; could not convert it: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real pixel values (integers, floats or booleans); "
            f"got dtype {arr.dtype}"
        )
    return arr


def hog_cells(h, w, name="im"):
    """``(A, B)``: the course's HOG cell grid of an ``h`` x ``w`` image (descriptor length
    ``9 * A * B``), A = h // 8 and B = w // 8.

    The course samples its 8 x 8 window averages at rows and columns 4, 12, 20, ... and stores
    them transposed into the (A, B) grid; NumPy accepts that only when the transposed samples
    broadcast to the grid. That holds for every square-celled image whose height and width
    leave at most 4 pixels beyond the last whole cell (32 x 32, 36 x 33, ...) and for images
    too small for a cell (then the descriptor is empty); anything else makes the course's
    ``hog_feature`` raise, and this a ValueError saying so.
    """
    a, b = h // CELL, w // CELL
    cols, rows = len(range(4, w, CELL)), len(range(4, h, CELL))
    if (cols == a or cols == 1) and (rows == b or rows == 1):
        return a, b
    raise ValueError(
        f"{name} is {h} x {w} pixels: the course's hog_feature only handles images whose 8 x 8 "
        "cell grid is square (h // 8 == w // 8) with at most 4 pixels beyond the last whole "
        "cell in each direction (e.g. 32 x 32), or images smaller than a cell "
        f"(its window samples would be {cols} x {rows} for a {a} x {b} cell grid)"
    )


def hog_images(imgs, name="imgs"):
    """``(imgs, (A, B))``: the batch as an (N, H, W, C) array (a grayscale (N, H, W) batch gets
    C = 1; C is 1 or at least 3, the first three channels being R, G, B) and its cell grid."""
    a = pixels(name, imgs)
    if a.ndim == 3:
        a = a[..., np.newaxis]
    elif a.ndim != 4:
        raise ValueError(
            f"{name} must be a batch of images of shape (N, H, W, C) (RGB: C >= 3, grayscale: "
            f"C == 1) or (N, H, W) (grayscale); got shape {a.shape}"
        )
    if a.shape[3] != 1 and a.shape[3] < 3:
        raise ValueError(
            f"{name} must have C == 1 (grayscale) or C >= 3 (R, G, B first) channels in its "
            f"last dimension; got shape {a.shape}"
        )
    return a, hog_cells(a.shape[1], a.shape[2], name)


def hsv_bins(nbin, xmin, xmax, normalized):
    """The histogram parameters checked: ``(nbin, edges, widths, normalized)`` with ``edges``
    ``np.linspace(xmin, xmax, nbin + 1)`` as the course computes it (its dtype kept: float32 if
    ``xmax`` is a float32 scalar) and ``widths`` its ``np.diff``.

    Stricter than the course only where its result is not a histogram: ``xmin >= xmax``
    (NumPy raises for decreasing bins; equal ones give NaN), ``xmax == 0`` (the image is
    divided by it), non-finite bounds.
    """
    if not isinstance(nbin, numbers.Integral):
        raise TypeError(
            f"nbin must be an int (the number of bins); got {nbin!r} of type {type(nbin).__name__}"
        )
    nbin = operator.index(nbin)
    if nbin < 0:
        raise ValueError(f"nbin must be an int >= 0 (the number of bins); got {nbin}")
    for key, value in (("xmin", xmin), ("xmax", xmax)):
        if not isinstance(value, numbers.Real):
            raise TypeError(f"{key} must be a real number; got {value!r} of type {type(value).__name__}")
        if not math.isfinite(float(value)):
            raise ValueError(f"{key} must be a finite number; got {value!r}")
    if not float(xmin) < float(xmax):
        raise ValueError(
            f"xmin must be less than xmax (the histogram's range); got xmin={xmin!r}, xmax={xmax!r}"
        )
    if float(xmax) == 0.0:
        raise ValueError("xmax must be non-zero: the course divides the image by it")
    edges = np.linspace(xmin, xmax, nbin + 1)
    return nbin, edges, np.diff(edges), bool(normalized)


def hsv_images(imgs, name="imgs"):
    """The batch as an (N, H, W, 3) array with H * W >= 1 (matplotlib's ``rgb_to_hsv`` needs 3
    channels; the course's histogram of an empty image fails)."""
    a = pixels(name, imgs)
    if a.ndim != 4 or a.shape[3] != 3:
        raise ValueError(f"{name} must be a batch of RGB images of shape (N, H, W, 3); got shape {a.shape}")
    if a.shape[1] == 0 or a.shape[2] == 0:
        raise ValueError(f"{name} must hold images of at least one pixel; got shape {a.shape}")
    return a


def range_error(name, index, above, xmax):
    """The ValueError for an image outside matplotlib's ``rgb_to_hsv`` domain."""
    where = "" if index is None else f"[{index}]"
    what = "above xmax" if above else "below 0"
    return ValueError(
        f"{name}{where} / xmax must lie in [0, 1] (the domain of matplotlib.colors.rgb_to_hsv, "
        f"which the course's color_histogram_hsv calls): the image has values {what} "
        f"(xmax = {xmax!r})"
    )


# --- HOG --------------------------------------------------------------------------------------


def hog_features(imgs, *, n_threads=None):
    """The course's HOG descriptor (``hog_feature``) of every image of a batch.

    Parameters
    ----------
    imgs : array_like of shape (N, H, W, C) or (N, H, W)
        RGB images (C >= 3; the first three channels are R, G, B, as the course's
        ``rgb2gray`` reads them) or grayscale ones (C == 1, or no channel axis), any real
        dtype. ``H x W`` must be an image size the course's ``hog_feature`` handles (see
        :func:`hog_cells`), e.g. 32 x 32.
    n_threads : int, optional
        Threads for the kernel (images in parallel); default OpenMP's current maximum.

    Returns
    -------
    ndarray of shape (N, 9 * A * B), float64
        Row ``i`` is ``hog_feature(imgs[i])``: for cell ``(a, b)`` and orientation bin ``k``,
        entry ``(a * B + b) * 9 + k`` is the mean over the 64 pixels of rows ``8b..8b+7`` and
        columns ``8a..8a+7`` (the course's transpose) of the gradient magnitudes whose
        orientation falls in bin ``k`` (20 degrees each).

    Raises
    ------
    TypeError
        If ``imgs`` does not hold real numbers.
    ValueError
        If ``imgs`` is not 3-D or 4-D, has 2 channels, or its image size is one the course's
        ``hog_feature`` fails on.

    Notes
    -----
    Computed in float64 as the course computes (see the module docstring for the agreement).
    A grayscale image is taken as its own gray image (the course's ``hog_feature`` fails on
    2-D input: ``np.at_least_2d`` does not exist). An image whose descriptor would hold an
    infinity (pixel values near the float64 limit, or infinite) is recomputed by the NumPy
    twin, reproducing the NaN the course's running-sum filter makes of it.
    """
    a, cells = hog_images(imgs)
    return hog_batch(a, cells, n_threads)


def hog_batch(a, cells, n_threads=None):
    """:func:`hog_features` of a batch already checked by :func:`hog_images`."""
    ca, cb = cells
    n, h, w, c = a.shape
    nfeat = ORIENTATIONS * ca * cb
    if n == 0 or nfeat == 0:
        return np.zeros((n, nfeat))
    dtype = a.dtype
    if dtype.kind == "b":
        a = a.view(_U8) if dtype.itemsize == 1 else a.astype(_U8)
    elif dtype not in _HOG_PIXELS:
        if dtype.kind == "f" and dtype.itemsize > 8:  # long double: NumPy computes in it
            from ..reference import features as twin

            return twin.hog_features(a)
        a = a.astype(_F64)  # exact for every other integer and float dtype, as np.dot does
    a = np.ascontiguousarray(a)
    out = empty((n, nfeat), _F64)
    bad = np.zeros(n, np.int8)
    threads = work_threads(n_threads, n * h * w)
    scratch = np.empty((threads, _k.hog_scratch(h, w, ca)))
    _k.hog(a, out, bad, scratch, ca, threads)
    redo = np.flatnonzero(bad)
    if redo.size:
        from ..reference import features as twin

        out[redo] = twin.hog_features(a[redo])
    return out


# --- hue histogram ----------------------------------------------------------------------------


def _hsv_plan(dtype, xmax):
    """How the kernel reproduces ``rgb_to_hsv(im / xmax) * xmax`` for pixels of ``dtype``:
    ``(pixel dtype, single, prescale, div, mult)``, or None when only the twin can (a long
    double quotient, or a product of another type than the quotient's)."""
    with np.errstate(all="ignore"):
        quotient = (np.zeros(1, dtype) / xmax).dtype
        work = np.promote_types(quotient, _F32)  # matplotlib computes in at least float32
        if work not in (_F32, _F64) or (np.zeros(1, work) * xmax).dtype != work:
            return None
        try:
            mult = float(np.array(xmax, dtype=work))
            div = float(np.array(xmax, dtype=quotient)) if quotient == work else 1.0
        except (OverflowError, TypeError, ValueError):
            return None
    if quotient == _F16:  # the course divides in float16, then matplotlib takes float32
        return _F32, True, True, div, mult
    keep = (_U8, _F32) if work == _F32 else (_U8, _F32, _F64)
    pix = dtype if dtype in keep else work
    return pix, work == _F32, False, div, mult


def color_histograms_hsv(imgs, nbin=10, xmin=0, xmax=255, normalized=True, *, n_threads=None):
    """The course's hue histogram (``color_histogram_hsv``) of every image of a batch.

    Parameters
    ----------
    imgs : array_like of shape (N, H, W, 3)
        RGB images, any real dtype, values in ``[0, xmax]`` (matplotlib's ``rgb_to_hsv``,
        which the course calls on ``im / xmax``, accepts nothing else).
    nbin : int, default 10
        Number of histogram bins (0 gives an empty histogram, as the course's).
    xmin, xmax : real, default 0 and 255
        The histogram's range (bins ``np.linspace(xmin, xmax, nbin + 1)``), ``xmax`` also the
        pixel scale; ``xmin < xmax``, ``xmax != 0``.
    normalized : bool, default True
        Bin counts divided by the number of counted pixels (the course's ``density=True``
        times the bin widths); otherwise the counts times the bin widths, as the course.
    n_threads : int, optional
        Threads for the kernel (images in parallel); default OpenMP's current maximum.

    Returns
    -------
    ndarray of shape (N, nbin), float64
        Row ``i`` is ``color_histogram_hsv(imgs[i], nbin, xmin, xmax, normalized)``.

    Raises
    ------
    TypeError
        If ``imgs`` does not hold real numbers, or a parameter has the wrong type.
    ValueError
        If ``imgs`` is not (N, H, W, 3) with images of at least one pixel, if an image has
        values outside ``[0, xmax]`` (naming the first such image), or for the parameter
        values listed under :func:`hsv_bins`.

    Notes
    -----
    The hue is computed in the course's type (float32 for float32 images, float64 for
    integers and float64; float16 images are divided in float16 as NumPy does) with the same
    IEEE operations as matplotlib's ``rgb_to_hsv`` and counted with ``np.histogram``'s rule,
    so the histograms are the course's exactly. Normalised histograms of images with no
    pixel in the range ``[xmin, xmax]`` are NaN, as the course's.
    """
    a = hsv_images(imgs)
    return hsv_batch(a, hsv_bins(nbin, xmin, xmax, normalized), xmin, xmax, n_threads)


def hsv_batch(a, bins, xmin, xmax, n_threads=None, name="imgs", single_image=False):
    """:func:`color_histograms_hsv` of a batch checked by :func:`hsv_images` with the
    parameters ``bins`` checked by :func:`hsv_bins`; range errors name ``name`` (and the image's
    index unless ``single_image``)."""
    nbin, edges, widths, normalized = bins
    n, h, w, _ = a.shape
    plan = _hsv_plan(a.dtype, xmax)
    if n == 0:
        return np.zeros((0, nbin))
    if plan is None or edges.dtype not in (_F16, _F32, _F64):
        from ..reference import features as twin

        return twin.color_histograms_hsv(a, nbin, xmin, xmax, normalized, _name=name,
                                         _single_image=single_image)
    pix, single, prescale, div, mult = plan
    if prescale:
        a = np.ascontiguousarray(a / xmax, dtype=_F32)
    else:
        a = np.ascontiguousarray(a, dtype=pix)
    if nbin == 0:  # no bins, but the course's range check still runs
        edges, widths = np.zeros(2), np.ones(1)
    out = empty((n, max(nbin, 1)), _F64)
    status = np.zeros(n, np.int8)
    threads = work_threads(n_threads, n * h * w)
    _k.hue_histogram(a, single, div, mult, edges.astype(_F64), widths.astype(_F64), nbin,
                     normalized, out, status, threads)
    bad = np.flatnonzero(status)
    if bad.size:
        raise range_error(name, None if single_image else int(bad[0]), status[bad[0]] == 1, xmax)
    return out if nbin else np.zeros((n, 0))
