"""NumPy twin of :mod:`cs231n_fast.ops.features`, and the course's per-image functions.

Two layers, both computing exactly what the course's ``cs231n/features.py`` (CS231n
assignment 1) computes:

* the course's functions, one image per call, with the course's names and signatures:
  :func:`rgb2gray`, :func:`hog_feature`, :func:`color_histogram_hsv` and the per-image loop
  :func:`extract_features` (the benchmark's baseline: the course's own code, with
  :func:`rgb_to_hsv` below in place of matplotlib's);
* the batch twins of :mod:`cs231n_fast.ops.features`, same names and signatures
  (``n_threads`` is accepted and ignored): :func:`hog_features` and
  :func:`color_histograms_hsv`, vectorised over the images with the same NumPy and SciPy
  operations per pixel as the course, in chunks of :data:`CHUNK` images to bound the memory.

:func:`rgb_to_hsv` is ``matplotlib.colors.rgb_to_hsv`` (matplotlib 3.x, with its range checks)
written again in NumPy with the same operations in the same order, so nothing here needs
matplotlib; the tests compare it with matplotlib's when installed.

Written to be read, not to be fast. Validation is shared with ``ops.features`` (the same
errors for the same inputs), which also decides where the course's own code would fail.
"""

import numpy as np
from scipy.ndimage import uniform_filter

from ..ops.features import (
    CELL,
    ORIENTATIONS,
    hog_cells,
    hog_images,
    hsv_bins,
    hsv_images,
    pixels,
    range_error,
)

__all__ = [
    "rgb2gray",
    "rgb_to_hsv",
    "hog_feature",
    "color_histogram_hsv",
    "extract_features",
    "hog_features",
    "color_histograms_hsv",
]

#: Images per chunk of the batch twins (a few MB of float64 temporaries per 32 x 32 chunk).
CHUNK = 512


def rgb2gray(rgb):
    """Convert an RGB image to grayscale: the course's weights 0.299, 0.587, 0.144 (sic: the
    course's blue weight, not the 0.114 of ITU-R 601), by ``np.dot`` over the last axis."""
    return np.dot(rgb[..., :3], [0.299, 0.587, 0.144])


# --- matplotlib's rgb_to_hsv ------------------------------------------------------------------


def _hsv(arr):
    """HSV of an (..., 3) float array, no range check: matplotlib's arithmetic."""
    vmax = arr.max(-1)
    delta = np.ptp(arr, -1)
    sat = np.zeros_like(delta)
    lit = vmax > 0
    sat[lit] = delta[lit] / vmax[lit]
    hue = np.zeros_like(delta)
    coloured = delta > 0
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    # matplotlib's three masked assignments, in its order: a later case overwrites an earlier
    # one (blue wins over green over red when channels tie at the max).
    sel = (r == vmax) & coloured
    hue[sel] = (g[sel] - b[sel]) / delta[sel]
    sel = (g == vmax) & coloured
    hue[sel] = 2.0 + (b[sel] - r[sel]) / delta[sel]
    sel = (b == vmax) & coloured
    hue[sel] = 4.0 + (r[sel] - g[sel]) / delta[sel]
    out = np.empty_like(arr)
    out[..., 0] = (hue / 6.0) % 1.0
    out[..., 1] = sat
    out[..., 2] = vmax
    return out


def _as_hsv_input(arr):
    arr = np.asarray(arr)
    if arr.shape[-1] != 3:
        raise ValueError(f"arr must have 3 channels (R, G, B) in its last dimension; got shape {arr.shape}")
    # at least float32, as matplotlib (integers too)
    return np.asarray(arr, dtype=np.promote_types(arr.dtype, np.float32))


def rgb_to_hsv(arr):
    """``matplotlib.colors.rgb_to_hsv``: RGB values in [0, 1] of shape (..., 3) to HSV.

    Computed in float32 for float32 (and smaller) input, float64 otherwise, by the same
    operations as matplotlib's. Raises ValueError, as matplotlib does, if a pixel's largest
    channel exceeds 1 (a pixel with a NaN channel is not checked) or, unless the array holds a
    NaN, if a value is below 0.
    """
    shape = np.shape(arr)
    arr = np.atleast_2d(_as_hsv_input(arr))
    vmax = arr.max(-1)
    if np.any(vmax > 1):
        raise ValueError(f"arr must be in the range [0, 1]; found a maximum value of {vmax.max()}")
    if arr.min() < 0:
        raise ValueError(f"arr must be in the range [0, 1]; found a minimum value of {arr.min()}")
    return _hsv(arr).reshape(shape)


# --- the course's functions, one image per call ----------------------------------------------


def _hog_image(im):
    """The image's gray version (the course's rgb2gray; a grayscale image as itself)."""
    im = pixels("im", im)
    if im.ndim == 3 and im.shape[2] >= 3:
        return rgb2gray(im)
    if im.ndim == 2 or (im.ndim == 3 and im.shape[2] == 1):
        return np.asarray(im.reshape(im.shape[:2]), dtype=np.float64)
    raise ValueError(
        f"im must be an image of shape (H, W, C) (RGB: C >= 3, grayscale: C == 1) or (H, W); "
        f"got shape {im.shape}"
    )


def hog_feature(im):
    """Compute the Histogram of Oriented Gradients (HOG) feature of one image (the course's).

    Modified from skimage.feature.hog (Dalal and Triggs, CVPR 2005) by the course: 9
    orientation bins over 0-180 degrees, 8 x 8 pixel cells, no block normalisation.

    Parameters
    ----------
    im : array_like of shape (H, W, C) or (H, W)
        An RGB image (C >= 3) or a grayscale one (C == 1, or 2-D; the course's own code fails
        on those). ``H x W`` must be a size the course handles (see
        :func:`cs231n_fast.ops.features.hog_cells`).

    Returns
    -------
    ndarray of shape (9 * (H // 8) * (W // 8),), float64
        The HOG feature.
    """
    image = _hog_image(im)
    sx, sy = image.shape
    n_cellsx, n_cellsy = hog_cells(sx, sy)
    gx = np.zeros(image.shape)
    gy = np.zeros(image.shape)
    gx[:, :-1] = np.diff(image, n=1, axis=1)
    gy[:-1, :] = np.diff(image, n=1, axis=0)
    grad_mag = np.sqrt(gx**2 + gy**2)
    grad_ori = np.arctan2(gy, (gx + 1e-15)) * (180 / np.pi) + 90
    orientation_histogram = np.zeros((n_cellsx, n_cellsy, ORIENTATIONS))
    for i in range(ORIENTATIONS):
        # the pixels whose orientation lies in [20 i, 20 (i + 1)) and is > 0, as the course
        # selects them (np.where on the orientation, then "> 0")
        temp_ori = np.where(grad_ori < 180 / ORIENTATIONS * (i + 1), grad_ori, 0)
        temp_ori = np.where(grad_ori >= 180 / ORIENTATIONS * i, temp_ori, 0)
        temp_mag = np.where(temp_ori > 0, grad_mag, 0)
        orientation_histogram[:, :, i] = uniform_filter(temp_mag, size=(CELL, CELL))[
            CELL // 2 :: CELL, CELL // 2 :: CELL
        ].T
    return orientation_histogram.ravel()


def color_histogram_hsv(im, nbin=10, xmin=0, xmax=255, normalized=True):
    """Compute the color histogram of one image over its hue (the course's).

    Parameters
    ----------
    im : array_like of shape (H, W, 3)
        An RGB image with values in ``[0, xmax]``.
    nbin : int, default 10
        Number of histogram bins.
    xmin, xmax : real, default 0 and 255
        Minimum and maximum pixel value.
    normalized : bool, default True
        Whether to normalize the histogram.

    Returns
    -------
    ndarray of shape (nbin,), float64
        The color histogram over the hue of the image.
    """
    im = pixels("im", im)
    if im.ndim != 3 or im.shape[2] != 3 or im.size == 0:
        raise ValueError(f"im must be a non-empty RGB image of shape (H, W, 3); got shape {im.shape}")
    nbin, bins, _, normalized = hsv_bins(nbin, xmin, xmax, normalized)
    q = _as_hsv_input(im / xmax)  # what rgb_to_hsv(im / xmax) computes on, and its checks
    above = bool(np.any(q.max(-1) > 1))
    if above or q.min() < 0:
        raise range_error("im", None, above, xmax)
    hsv = _hsv(q) * xmax
    imhist, bin_edges = np.histogram(hsv[:, :, 0], bins=bins, density=normalized)
    imhist = imhist * np.diff(bin_edges)
    return imhist


def extract_features(imgs, feature_fns, verbose=False):
    """The course's feature extraction: every feature function on every image, in a loop.

    Parameters
    ----------
    imgs : ndarray of shape (N, H, W, C)
        Pixel data of N images.
    feature_fns : list of callables
        k feature functions, the i-th taking one (squeezed) H x W x C image and returning a
        1-D array of length F_i.
    verbose : bool, default False
        Print progress every 1000 images.

    Returns
    -------
    ndarray of shape (N, F_1 + ... + F_k), float64
        Each row the concatenated features of one image (an empty array when N == 0).
    """
    num_images = imgs.shape[0]
    if num_images == 0:
        return np.array([])

    # the first image determines the feature dimensions
    feature_dims = []
    first_image_features = []
    for feature_fn in feature_fns:
        feats = feature_fn(imgs[0].squeeze())
        if len(feats.shape) != 1:
            raise ValueError(
                f"feature functions must return a 1-D array; {feature_fn!r} returned shape {feats.shape}"
            )
        feature_dims.append(feats.size)
        first_image_features.append(feats)

    total_feature_dim = sum(feature_dims)
    imgs_features = np.zeros((num_images, total_feature_dim))
    imgs_features[0] = np.hstack(first_image_features).T

    for i in range(1, num_images):
        idx = 0
        for feature_fn, feature_dim in zip(feature_fns, feature_dims):
            next_idx = idx + feature_dim
            imgs_features[i, idx:next_idx] = feature_fn(imgs[i].squeeze())
            idx = next_idx
        if verbose and i % 1000 == 999:
            print("Done extracting features for %d / %d images" % (i + 1, num_images))

    return imgs_features


# --- the batch twins of ops.features ----------------------------------------------------------


def hog_features(imgs, *, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.features.hog_features`: the course's HOG of every image.

    The course's per-image operations on a chunk of images at once: the gray images by
    ``np.dot``, gradients by ``np.diff``, orientations by ``np.arctan2``, and per orientation
    ``scipy.ndimage.uniform_filter`` with size (1, 8, 8) (SciPy skips size-1 axes, so each
    image is filtered exactly as on its own), sampled and transposed as the course does.
    """
    a, (ncx, ncy) = hog_images(imgs)
    n, h, w, c = a.shape
    out = np.zeros((n, ORIENTATIONS * ncx * ncy))
    if out.size == 0:
        return out
    s = CELL // 2
    for start in range(0, n, CHUNK):
        x = a[start : start + CHUNK]
        gray = rgb2gray(x) if c >= 3 else np.asarray(x[..., 0], dtype=np.float64)
        gx = np.zeros(gray.shape)
        gy = np.zeros(gray.shape)
        gx[:, :, :-1] = np.diff(gray, n=1, axis=2)
        gy[:, :-1, :] = np.diff(gray, n=1, axis=1)
        mag = np.sqrt(gx**2 + gy**2)
        ori = np.arctan2(gy, (gx + 1e-15)) * (180 / np.pi) + 90
        hist = np.zeros((len(x), ncx, ncy, ORIENTATIONS))
        for i in range(ORIENTATIONS):
            inside = (ori < 180 / ORIENTATIONS * (i + 1)) & (ori >= 180 / ORIENTATIONS * i) & (ori > 0)
            means = uniform_filter(np.where(inside, mag, 0), size=(1, CELL, CELL))
            hist[..., i] = means[:, s::CELL, s::CELL].transpose(0, 2, 1)
        out[start : start + CHUNK] = hist.reshape(len(x), -1)
    return out


def color_histograms_hsv(imgs, nbin=10, xmin=0, xmax=255, normalized=True, *, n_threads=None,
                         _name="imgs", _single_image=False):
    """Twin of :func:`cs231n_fast.ops.features.color_histograms_hsv`: the course's hue
    histogram of every image.

    Each chunk's hue by :func:`rgb_to_hsv`'s arithmetic on ``imgs / xmax`` (the range checked
    image by image, as the course's per-image calls do), times ``xmax``; bins found with
    ``np.searchsorted`` under ``np.histogram``'s rule (``edges[j] <= v < edges[j + 1]``, the
    last bin closed) and counted per image with ``np.bincount``; then the course's
    ``density * widths``.
    """
    a = hsv_images(imgs)
    nbin, edges, widths, normalized = hsv_bins(nbin, xmin, xmax, normalized)
    n, h, w, _ = a.shape
    out = np.zeros((n, nbin))
    for start in range(0, n, CHUNK):
        q = _as_hsv_input(a[start : start + CHUNK] / xmax)
        m = len(q)
        # matplotlib's checks, per image: a pixel's max > 1; a min < 0 unless a NaN is present
        above = np.any(q.max(-1) > 1, axis=(1, 2))
        below = q.reshape(m, -1).min(axis=1) < 0
        bad = np.flatnonzero(above | below)
        if bad.size:
            where = None if _single_image else start + int(bad[0])
            raise range_error(_name, where, bool(above[bad[0]]), xmax)
        if nbin == 0:
            continue
        v = (_hsv(q)[..., 0] * xmax).reshape(m, -1)
        inside = (v >= edges[0]) & (v <= edges[-1])
        j = np.minimum(np.searchsorted(edges, v, side="right") - 1, nbin - 1)
        rows = np.broadcast_to(np.arange(m)[:, None], v.shape)
        counts = np.bincount((rows * nbin + j)[inside], minlength=m * nbin).reshape(m, nbin)
        if normalized:
            with np.errstate(invalid="ignore", divide="ignore"):
                hist = counts / widths / counts.sum(axis=1, keepdims=True)
        else:
            hist = counts
        out[start : start + m] = hist * widths
    return out
