"""Image features (issue 15): cs231n_fast.features (the course's module), ops.features (the
batch kernels) and reference.features (the NumPy twin), against the course's own functions.

The oracle is the course's ``cs231n/features.py`` (CS231n assignment 1, 2022), transcribed
below with the same NumPy/SciPy/matplotlib calls in the same order (``course_*``); it uses
matplotlib's ``rgb_to_hsv`` when matplotlib is installed, else the twin's (itself compared
with matplotlib's below whenever matplotlib is there).

Tolerances: hue histograms must be the course's exactly (the kernels perform the same IEEE
operations; ``assert_array_equal``). HOG descriptors: ``|ours - course| <= 1e-12 * max|course|``
(HOG_RTOL): the kernels sum each cell directly where SciPy's ``uniform_filter`` keeps running
sums (measured differences ~5e-16 of the largest value).

What the HOG equivalence must not depend on (it must pass on any x86-64 and any BLAS):
  - NumPy's gray value comes from the BLAS dot kernel (fused or not): two different pixels
    whose gray values are equal in exact arithmetic (299 dr + 587 dg + 144 db == 0) could
    round to equal or 1 ulp apart, putting a gradient of exactly 0 or 1e-14 into the course's
    arctan2. Random integer images are redrawn until no neighbours form such a pair
    (``no_gray_near_ties``); equal pixels give exactly equal grays in any implementation.
  - NumPy's arctan2 is SVML's on AVX-512 machines (within an ulp of libm's): where gx == 0
    exactly (flat rows) and |gy| is large, the course's orientation is within an ulp of 0 or
    180 degrees and its inclusion depends on that ulp. Tests against np.arctan2 keep |gy| at
    such pixels below 0.5 (a margin of several ulps); the large steps of real flat regions
    are tested against the course's formula with libm's atan2 (``math.atan2``), which is the
    function the kernels call there.
"""

import functools
import math

import numpy as np
import pytest
from helpers import as_layout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.ndimage import uniform_filter

from cs231n_fast import features
from cs231n_fast.features import color_histogram_hsv, extract_features, hog_feature, rgb2gray
from cs231n_fast.ops import features as ops
from cs231n_fast.reference import features as twin

try:
    from matplotlib.colors import rgb_to_hsv as _mpl_rgb_to_hsv
except ImportError:  # matplotlib is an optional extra
    _mpl_rgb_to_hsv = None

HOG_RTOL = 1e-12
LAYOUTS = ("C", "F", "sliced", "negative", "readonly")


# --- the course's functions (the oracle) ---------------------------------------------------------


def course_rgb2gray(rgb):
    return np.dot(rgb[..., :3], [0.299, 0.587, 0.144])


def course_hog_feature(im, arctan2=np.arctan2):
    """The course's hog_feature; ``arctan2`` replaceable (see the module docstring)."""
    if im.ndim == 3:
        image = course_rgb2gray(im)
    else:
        image = np.at_least_2d(im)  # sic: the course's code fails on 2-D images

    sx, sy = image.shape
    orientations = 9
    cx, cy = (8, 8)

    gx = np.zeros(image.shape)
    gy = np.zeros(image.shape)
    gx[:, :-1] = np.diff(image, n=1, axis=1)
    gy[:-1, :] = np.diff(image, n=1, axis=0)
    grad_mag = np.sqrt(gx**2 + gy**2)
    grad_ori = arctan2(gy, (gx + 1e-15)) * (180 / np.pi) + 90

    n_cellsx = int(np.floor(sx / cx))
    n_cellsy = int(np.floor(sy / cy))
    orientation_histogram = np.zeros((n_cellsx, n_cellsy, orientations))
    for i in range(orientations):
        temp_ori = np.where(grad_ori < 180 / orientations * (i + 1), grad_ori, 0)
        temp_ori = np.where(grad_ori >= 180 / orientations * i, temp_ori, 0)
        cond2 = temp_ori > 0
        temp_mag = np.where(cond2, grad_mag, 0)
        orientation_histogram[:, :, i] = uniform_filter(temp_mag, size=(cx, cy))[
            round(cx / 2) :: cx, round(cy / 2) :: cy
        ].T

    return orientation_histogram.ravel()


def course_color_histogram_hsv(im, nbin=10, xmin=0, xmax=255, normalized=True):
    rgb_to_hsv = _mpl_rgb_to_hsv or twin.rgb_to_hsv
    bins = np.linspace(xmin, xmax, nbin + 1)
    hsv = rgb_to_hsv(im / xmax) * xmax
    imhist, bin_edges = np.histogram(hsv[:, :, 0], bins=bins, density=normalized)
    imhist = imhist * np.diff(bin_edges)
    return imhist


def course_extract_features(imgs, feature_fns, verbose=False):
    num_images = imgs.shape[0]
    if num_images == 0:
        return np.array([])

    feature_dims = []
    first_image_features = []
    for feature_fn in feature_fns:
        feats = feature_fn(imgs[0].squeeze())
        assert len(feats.shape) == 1, "Feature functions must be one-dimensional"
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


def libm_arctan2(y, x):
    return np.vectorize(math.atan2, otypes=[np.float64])(y, x)


# --- inputs ----------------------------------------------------------------------------------------


def no_gray_near_ties(rng, x):
    """Redraw pixels of integer images (N, H, W, 3) until no horizontal or vertical neighbours
    differ in colour but not in 299 r + 587 g + 144 b (see the module docstring)."""
    x = np.array(x)
    for _ in range(100):
        key = x[..., :3].astype(np.int64) @ np.array([299, 587, 144])
        bad = np.zeros(key.shape, bool)
        for axis in (1, 2):
            same_key = np.diff(key, axis=axis) == 0
            same_rgb = np.all(np.diff(x[..., :3].astype(np.int64), axis=axis) == 0, axis=-1)
            tie = same_key & ~same_rgb
            lead = [slice(None)] * 3
            lead[axis] = slice(1, None)
            bad[tuple(lead)] |= tie
        if not bad.any():
            return x
        x[bad] = rng.integers(0, 256, (int(bad.sum()),) + x.shape[3:])
    raise AssertionError("could not remove the near-ties")


def random_images(rng, n, h, w, dtype, c=3):
    """Random images of ``dtype``: integers 0..255 (tie-free) or floats in [0, 255)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.random((n, h, w, c)) * 255).astype(dtype)
    return no_gray_near_ties(rng, rng.integers(0, 256, (n, h, w, c))).astype(dtype)


def flat_images(rng, n, h, w, step):
    """CIFAR-like images: constant 4 x 4 blocks of random colours (flat rows and columns,
    gx == 0 and gy == 0 exactly), block colours differing by up to ``step`` per channel."""
    base = rng.integers(0, 256 - 2 * step - 1, (n, 1, 1, 3))
    blocks = base + rng.integers(0, step + 1, (n, (h + 3) // 4, (w + 3) // 4, 3))
    return np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2)[:, :h, :w].astype(np.float64)


def assert_hog_close(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == np.float64 and got.shape == want.shape, (got.dtype, got.shape, want.shape)
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=HOG_RTOL, atol=HOG_RTOL * scale, err_msg=what)


def course_hogs(x, arctan2=np.arctan2):
    return np.array([course_hog_feature(im, arctan2) for im in x]).reshape(len(x), -1)


def course_hists(x, **kw):
    nbin = kw.get("nbin", 10)
    return np.array([course_color_histogram_hsv(im, **kw) for im in x]).reshape(len(x), nbin)


# --- HOG -----------------------------------------------------------------------------------------

#: Image sizes the course's HOG handles (square cell grid, <= 4 pixels beyond the last cell).
HOG_SIZES = [(32, 32), (8, 8), (12, 9), (9, 12), (17, 20), (36, 33), (40, 44), (64, 64)]
#: Sizes too small for a cell: an empty descriptor, as the course's.
EMPTY_SIZES = [(5, 5), (7, 12), (4, 3), (1, 1)]


@pytest.mark.parametrize("dt", [np.uint8, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("h, w", HOG_SIZES + EMPTY_SIZES)
def test_hog_features_match_course(rng, dt, h, w):
    x = random_images(rng, 5, h, w, dt)
    want = course_hogs(x)
    assert_hog_close(ops.hog_features(x), want, "ops")
    assert_hog_close(np.array([hog_feature(im) for im in x]).reshape(want.shape), want, "course module")
    # the twin performs the course's NumPy operations: bitwise equal on any machine
    np.testing.assert_array_equal(twin.hog_features(x), want)
    np.testing.assert_array_equal(np.array([twin.hog_feature(im) for im in x]).reshape(want.shape), want)


@pytest.mark.parametrize("dt", [np.uint8, np.float64])
def test_hog_features_flat_regions_small_steps_match_course(rng, dt):
    # gx == 0 and gy == 0 on most pixels; steps of at most one unit per channel
    x = flat_images(rng, 12, 32, 32, step=1).astype(dt)
    assert np.mean(np.diff(x, axis=2) == 0) > 0.5
    assert_hog_close(ops.hog_features(x), course_hogs(x))


def test_hog_features_flat_regions_large_steps_match_course_formula(rng):
    # Real images: flat rows with large vertical jumps, where the course's bin is decided
    # within an ulp of 0 or 180 degrees: the kernels reproduce the formula with libm's atan2.
    x = flat_images(rng, 12, 32, 32, step=120)
    gray = course_rgb2gray(x)
    jumps = (np.diff(gray, axis=2)[:, :-1, :] == 0) & (np.abs(np.diff(gray, axis=1))[:, :, :-1] > 9)
    assert jumps.sum() > 100  # the case is exercised
    assert_hog_close(ops.hog_features(x), course_hogs(x, libm_arctan2))


def test_hog_features_constant_and_extreme_images_match_course(rng):
    x = np.zeros((4, 16, 16, 3))
    x[1] = 255
    x[2, :, 8:] = 255  # one vertical edge: gx != 0, gy == 0
    x[3, 8:] = 255  # one horizontal edge: gx == 0, gy != 0 (ori at 180 degrees)
    assert_hog_close(ops.hog_features(x), course_hogs(x, libm_arctan2))
    assert np.all(ops.hog_features(x[:2]) == 0)


def test_hog_features_rgba_uses_the_first_three_channels(rng):
    x = random_images(rng, 3, 16, 16, np.float64, c=4)
    want = course_hogs(x)
    assert_hog_close(ops.hog_features(x), want)
    assert_hog_close(ops.hog_features(x[..., :3]), want)


def test_hog_features_grayscale(rng):
    # The course's hog_feature fails on 2-D images; ours takes them as their own gray image:
    # the same as an RGB image whose three channels are that image divided by the weights' sum.
    g = rng.random((3, 24, 24)) * 200
    got = ops.hog_features(g)
    np.testing.assert_array_equal(got, ops.hog_features(g[..., None]))
    np.testing.assert_array_equal(got[1], hog_feature(g[1]))
    np.testing.assert_array_equal(got[1], hog_feature(g[1][..., None]))
    assert_hog_close(got, twin.hog_features(g))
    with pytest.raises(AttributeError):  # the course's own code on a 2-D image
        course_hog_feature(g[0])


@pytest.mark.parametrize("h, w", [(h, w) for h in range(0, 21) for w in range(0, 21)])
def test_hog_sizes_accepted_exactly_where_the_course_computes(h, w):
    im = np.arange(h * w * 3, dtype=np.float64).reshape(h, w, 3) % 251
    try:
        want = course_hog_feature(im)
    except ValueError:  # NumPy's broadcasting error in the course's code
        with pytest.raises(ValueError, match="^im is .* pixels: the course's hog_feature"):
            hog_feature(im)
        with pytest.raises(ValueError, match="^imgs is"):
            ops.hog_features(im[None])
        return
    assert_hog_close(hog_feature(im), want)
    assert_hog_close(ops.hog_features(im[None])[0], want)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_hog_features_any_layout(rng, layout):
    x = random_images(rng, 4, 17, 19, np.float64)
    want = ops.hog_features(x)
    np.testing.assert_array_equal(ops.hog_features(as_layout(x, layout)), want)


def test_hog_features_dtypes_as_numpy_converts_them(rng):
    x = random_images(rng, 4, 16, 16, np.uint8)
    want = ops.hog_features(x)
    for dt in (np.int16, np.uint16, np.int32, np.float16, np.float32, np.float64):
        np.testing.assert_array_equal(ops.hog_features(x.astype(dt)), want, err_msg=str(dt))
    b = x > 127
    assert_hog_close(ops.hog_features(b), course_hogs(b))


def test_hog_features_infinite_magnitudes_reproduce_the_course(rng):
    # Magnitudes that overflow make the course's running-sum filter produce NaN along the
    # line; such images are recomputed the course's way.
    x = random_images(rng, 3, 16, 16, np.float64)
    x[0, 5, 6] = 1e308
    x[1, 2, 3, 1] = np.inf
    x[2, 9, 9, 2] = np.nan
    with np.errstate(all="ignore"):
        want = course_hogs(x)
        got = ops.hog_features(x)
    assert np.isnan(want[:2]).any()
    scale = np.max(np.abs(want[np.isfinite(want)]))
    np.testing.assert_allclose(got, want, rtol=HOG_RTOL, atol=HOG_RTOL * scale)


@pytest.mark.parametrize("dt", [np.uint8, np.float32, np.float64])
def test_hog_features_bitwise_identical_across_thread_counts(rng, dt):
    x = random_images(rng, 23, 32, 32, dt)
    x[:5, 10:20] = x[:5, 10:11]  # some flat regions (the atan2 path)
    runs = [ops.hog_features(x, n_threads=t) for t in (1, 2, 3, 4, 1)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


# --- hue histogram -------------------------------------------------------------------------------

HSV_PARAMS = [
    {},
    dict(nbin=7),
    dict(nbin=1),
    dict(nbin=13, xmin=40, xmax=255, normalized=False),
    dict(nbin=10, xmin=0.5, xmax=255.5),
    dict(nbin=10, xmax=np.float32(300)),  # float32 bins, as np.linspace makes them
    dict(nbin=6, xmax=np.float64(255)),  # a float64 scalar: float32 images divide in float64
]


@pytest.mark.parametrize("kw", HSV_PARAMS, ids=lambda kw: ",".join(f"{k}={v!r}" for k, v in kw.items()) or "defaults")
@pytest.mark.parametrize("dt", [np.uint8, np.float32, np.float64, np.int16])
def test_color_histograms_hsv_match_course_exactly(rng, dt, kw):
    x = random_images(rng, 9, 13, 11, dt)
    x[0, :3] = 0  # black: delta == 0
    x[1, 2:5] = x[1, 2:5, :, :1]  # gray pixels
    x[2, ..., 1] = x[2, ..., 0]  # ties at the max: matplotlib's order decides
    want = course_hists(x, **kw)
    np.testing.assert_array_equal(ops.color_histograms_hsv(x, **kw), want)
    np.testing.assert_array_equal(twin.color_histograms_hsv(x, **kw), want)
    single = np.array([color_histogram_hsv(im, **kw) for im in x])
    np.testing.assert_array_equal(single.reshape(want.shape), want)
    np.testing.assert_array_equal(np.array([twin.color_histogram_hsv(im, **kw) for im in x]).reshape(want.shape), want)


@pytest.mark.parametrize("h, w", [(1, 1), (1, 7), (5, 1), (3, 5), (32, 32), (31, 33)])
def test_color_histograms_hsv_odd_sizes(rng, h, w):
    x = random_images(rng, 3, h, w, np.float32)
    np.testing.assert_array_equal(ops.color_histograms_hsv(x), course_hists(x))


def test_color_histograms_hsv_float16_divides_in_float16(rng):
    x = (rng.random((4, 8, 8, 3)) * 255).astype(np.float16)
    np.testing.assert_array_equal(ops.color_histograms_hsv(x), course_hists(x))
    np.testing.assert_array_equal(ops.color_histograms_hsv(x, xmax=np.float32(255)),
                                  course_hists(x, xmax=np.float32(255)))


def test_color_histograms_hsv_values_on_bin_edges(rng):
    # Hues landing exactly on edges (the course's integers make many): one above the other.
    x = np.array([[[[255, 0, 0], [255, 255, 0], [0, 255, 0], [0, 255, 255], [0, 0, 255],
                    [255, 0, 255], [255, 51, 0], [255, 0, 51]]]], dtype=np.float64)
    for nbin in (1, 2, 3, 5, 6, 10, 12, 30):
        np.testing.assert_array_equal(ops.color_histograms_hsv(x, nbin=nbin), course_hists(x, nbin=nbin))
        np.testing.assert_array_equal(ops.color_histograms_hsv(x.astype(np.float32), nbin=nbin),
                                      course_hists(x.astype(np.float32), nbin=nbin))


def test_color_histograms_hsv_no_pixel_in_range_is_nan_as_the_course():
    x = np.zeros((2, 4, 4, 3))
    x[1, ..., 0] = 255  # red: hue 0
    with np.errstate(invalid="ignore", divide="ignore"):
        want = course_hists(x, xmin=100, xmax=255)
    got = ops.color_histograms_hsv(x, xmin=100, xmax=255)
    assert np.isnan(want).all()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ops.color_histograms_hsv(x, xmin=100, xmax=255, normalized=False), 0)


def test_color_histograms_hsv_nan_pixels_follow_matplotlib(rng):
    x = random_images(rng, 3, 6, 6, np.float64)
    x[0, 1, 1, 2] = np.nan  # hue 0 for that pixel
    x[1, 2, 2] = np.nan
    x[2, 0, 0, 0] = np.nan
    x[2, 3, 3, 1] = -5.0  # a NaN in the image disables matplotlib's minimum check
    want = course_hists(x)
    np.testing.assert_array_equal(ops.color_histograms_hsv(x), want)
    np.testing.assert_array_equal(twin.color_histograms_hsv(x), want)


def test_color_histograms_hsv_zero_bins_is_empty_as_the_course(rng):
    x = random_images(rng, 2, 4, 4, np.uint8)
    assert course_color_histogram_hsv(x[0], nbin=0).shape == (0,)
    assert ops.color_histograms_hsv(x, nbin=0).shape == (2, 0)
    assert color_histogram_hsv(x[0], nbin=0).shape == (0,)
    with pytest.raises(ValueError, match=r"^imgs\[1\] / xmax must lie in \[0, 1\]"):
        ops.color_histograms_hsv(np.stack([x[0], x[1] + 300.0]), nbin=0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_color_histograms_hsv_any_layout(rng, layout):
    x = random_images(rng, 4, 9, 7, np.float32)
    want = ops.color_histograms_hsv(x)
    np.testing.assert_array_equal(ops.color_histograms_hsv(as_layout(x, layout)), want)


@pytest.mark.parametrize("dt", [np.uint8, np.float32, np.float64])
def test_color_histograms_hsv_bitwise_identical_across_thread_counts(rng, dt):
    x = random_images(rng, 37, 32, 32, dt)
    runs = [ops.color_histograms_hsv(x, nbin=17, n_threads=t) for t in (1, 2, 3, 4, 1)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 6),
    side=st.integers(8, 44),
    extra=st.integers(0, 4),
    dtype=st.sampled_from([np.uint8, np.float32, np.float64]),
    layout=st.sampled_from(LAYOUTS),
    nbin=st.integers(0, 25),
    seed=st.integers(0, 2**32 - 1),
    n_threads=st.sampled_from([None, 1, 2, 3]),
)
def test_features_match_twin_fuzz(n, side, extra, dtype, layout, nbin, seed, n_threads):
    rng = np.random.default_rng(seed)
    h = side // 8 * 8 + min(extra, 4)
    x = as_layout(random_images(rng, n, h, h - min(extra, 2), dtype), layout)
    assert_hog_close(ops.hog_features(x, n_threads=n_threads), twin.hog_features(x))
    np.testing.assert_array_equal(ops.color_histograms_hsv(x, nbin=nbin, n_threads=n_threads),
                                  twin.color_histograms_hsv(x, nbin=nbin))


# --- rgb_to_hsv: the twin against matplotlib ------------------------------------------------------


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64, np.uint8, np.int64])
def test_rgb_to_hsv_matches_matplotlib(rng, dt):
    mpl = pytest.importorskip("matplotlib.colors")
    x = rng.random((7, 9, 3))
    x[0, :4] = x[0, :4, :1]  # gray
    x[1, :, 1] = x[1, :, 0]  # ties at the max
    x[2, :2] = 0
    x[3, 0] = [1, 0, 0]
    x = (x > 0.5).astype(dt) if np.dtype(dt).kind in "iu" else x.astype(dt)
    want = mpl.rgb_to_hsv(x)
    got = twin.rgb_to_hsv(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(twin.rgb_to_hsv(x[0, 0]), mpl.rgb_to_hsv(x[0, 0]))  # 1-D


def test_rgb_to_hsv_errors_as_matplotlib():
    mpl = pytest.importorskip("matplotlib.colors")
    for bad in (np.full((2, 3), 1.5), np.full((2, 3), -0.5), np.ones((2, 4))):
        with pytest.raises(ValueError):
            mpl.rgb_to_hsv(bad)
        with pytest.raises(ValueError, match="^arr must"):
            twin.rgb_to_hsv(bad)
    nan_and_negative = np.array([[np.nan, 0.2, 0.3], [-0.5, 0.1, 0.2]])
    np.testing.assert_array_equal(twin.rgb_to_hsv(nan_and_negative), mpl.rgb_to_hsv(nan_and_negative))


def test_rgb2gray_is_the_course_formula(rng):
    x = rng.random((4, 5, 3))
    np.testing.assert_array_equal(rgb2gray(x), course_rgb2gray(x))
    np.testing.assert_array_equal(twin.rgb2gray(x), course_rgb2gray(x))


# --- extract_features --------------------------------------------------------------------------------


def test_extract_features_notebook_cell_matches_course(rng, capsys):
    x = random_images(rng, 30, 32, 32, np.float64)  # load_CIFAR10 gives float64 images
    num_color_bins = 10
    feature_fns = [hog_feature, lambda img: color_histogram_hsv(img, nbin=num_color_bins)]
    course_fns = [course_hog_feature, lambda img: course_color_histogram_hsv(img, nbin=num_color_bins)]
    got = extract_features(x, feature_fns, verbose=True)
    want = course_extract_features(x, course_fns)
    assert got.shape == want.shape == (30, 144 + 10)
    assert_hog_close(got[:, :144], want[:, :144])
    np.testing.assert_array_equal(got[:, 144:], want[:, 144:])
    assert capsys.readouterr().out == ""  # fewer than 1000 images


def test_extract_features_verbose_prints_as_the_course(capsys):
    x = np.zeros((2001, 8, 8, 3))
    extract_features(x, [hog_feature], verbose=True)
    ours = capsys.readouterr().out
    course_extract_features(x, [lambda im: np.zeros(1)], verbose=True)
    assert ours == capsys.readouterr().out == (
        "Done extracting features for 1000 / 2001 images\nDone extracting features for 2000 / 2001 images\n")


def _counting(monkeypatch):
    calls = {"hog": 0, "hsv": 0}
    hog, hsv = ops.hog_batch, ops.hsv_batch

    def count_hog(a, *args, **kw):
        calls["hog"] += 1
        return hog(a, *args, **kw)

    def count_hsv(a, *args, **kw):
        calls["hsv"] += 1
        return hsv(a, *args, **kw)

    monkeypatch.setattr(ops, "hog_batch", count_hog)
    monkeypatch.setattr(ops, "hsv_batch", count_hsv)
    return calls


NBINS = 6  # a global read by the feature functions below, as in the notebook


def _def_fn(img, k=4):
    return color_histogram_hsv(img, nbin=k, xmax=255.0)


def _closure(k):
    return lambda img: color_histogram_hsv(img, nbin=k, normalized=False)


BATCHED = {
    "hog": (hog_feature, "hog", {}),
    "hsv": (color_histogram_hsv, "hsv", {}),
    "notebook lambda": (lambda img: color_histogram_hsv(img, nbin=NBINS), "hsv", {"nbin": NBINS}),
    "arithmetic": (lambda img: color_histogram_hsv(img, nbin=NBINS * 2 - 1), "hsv", {"nbin": 11}),
    "keyword image": (lambda img: color_histogram_hsv(im=img, nbin=3), "hsv", {"nbin": 3}),
    "def with default": (_def_fn, "hsv", {"nbin": 4, "xmax": 255.0}),
    "closure": (_closure(5), "hsv", {"nbin": 5, "normalized": False}),
    "partial": (functools.partial(color_histogram_hsv, nbin=8, xmin=3), "hsv", {"nbin": 8, "xmin": 3}),
    "partial hog": (functools.partial(hog_feature), "hog", {}),
    "hog lambda": (lambda img: hog_feature(img), "hog", {}),
}


@pytest.mark.parametrize("name", list(BATCHED))
def test_extract_features_batches_our_functions(rng, monkeypatch, name):
    fn, kind, kwargs = BATCHED[name]
    assert features._batch_plan(fn) == (kind, kwargs)
    x = random_images(rng, 7, 16, 16, np.float64)
    want = np.array([fn(im) for im in x])
    calls = _counting(monkeypatch)
    got = extract_features(x, [fn])
    assert calls[kind] == 1  # one batch call for the 7 images
    np.testing.assert_array_equal(got, want)


def test_extract_features_other_functions_run_per_image_unchanged(rng, monkeypatch):
    seen = []
    unsafe = {
        "side effect": lambda img: (seen.append(1), color_histogram_hsv(img))[1],
        "transformed image": lambda img: color_histogram_hsv(img / 2),
        "transformed result": lambda img: color_histogram_hsv(img) * 2,
        "attribute": lambda img: features.color_histogram_hsv(img),
        "two calls": lambda img: hog_feature(img) + hog_feature(img),
        "branch on the image": lambda img: hog_feature(img) if img is not None else None,
        "builtin": lambda img: color_histogram_hsv(img, nbin=len("abc")),
        "course's own": course_hog_feature,
        "partial of another function": functools.partial(course_color_histogram_hsv, nbin=4),
        "user feature": lambda img: img.mean(axis=(0, 1)),
    }
    x = random_images(rng, 5, 16, 16, np.float64)
    for name, fn in unsafe.items():
        assert features._batch_plan(fn) is None, name
    fns = list(unsafe.values())
    want = np.hstack([np.array([np.asarray(fn(im)) for im in x]).reshape(5, -1) for fn in fns])
    calls = _counting(monkeypatch)
    got = extract_features(x, fns)
    assert_hog_close(got, want)
    assert len(seen) == 2 * 5  # called once per image above, once here: never by a dry run
    assert calls["hsv"] == 5 * 5  # five functions call color_histogram_hsv once per image
    assert calls["hog"] == 5 * 3  # "two calls" twice, "branch" once


def test_extract_features_mixed_and_squeezed_images(rng):
    x = random_images(rng, 6, 16, 16, np.uint8)
    fns = [hog_feature, lambda img: img.reshape(-1)[:5].astype(float), color_histogram_hsv]
    got = extract_features(x, fns)
    want = course_extract_features(x, [course_hog_feature, fns[1], course_color_histogram_hsv])
    assert_hog_close(got, want)
    # grayscale (N, H, W, 1): the course squeezes each image to (H, W)
    g = x[..., :1]
    np.testing.assert_array_equal(extract_features(g, [hog_feature]),
                                  np.array([hog_feature(im.squeeze()) for im in g]))


def test_extract_features_empty_batch_and_batch_of_one(rng):
    assert extract_features(np.zeros((0, 32, 32, 3)), [hog_feature]).shape == (0,)
    x = random_images(rng, 1, 32, 32, np.float64)
    got = extract_features(x, [hog_feature, color_histogram_hsv])
    want = course_extract_features(x, [course_hog_feature, course_color_histogram_hsv])
    assert got.shape == (1, 154)
    assert_hog_close(got, want)


# --- bad input ------------------------------------------------------------------------------------

_X = np.zeros((2, 16, 16, 3))
BAD = [
    ("hog 2-D", lambda: ops.hog_features(np.zeros((16, 16))), ValueError, r"^imgs must be a batch of images"),
    ("hog 5-D", lambda: ops.hog_features(_X[None]), ValueError, r"^imgs must be a batch of images"),
    ("hog 2 channels", lambda: ops.hog_features(_X[..., :2]), ValueError, r"^imgs must have C == 1"),
    ("hog size", lambda: ops.hog_features(np.zeros((1, 37, 37, 3))), ValueError, r"^imgs is 37 x 37 pixels"),
    ("hog non-square cells", lambda: ops.hog_features(np.zeros((1, 16, 24, 3))), ValueError, r"^imgs is 16 x 24"),
    ("hog complex", lambda: ops.hog_features(_X.astype(complex)), TypeError, r"^imgs must hold real pixel"),
    ("hog strings", lambda: ops.hog_features([["a"]]), TypeError, r"^imgs must hold real pixel"),
    ("hog ragged", lambda: ops.hog_features([[1, 2], [3]]), TypeError, r"^imgs must be an array"),
    ("hog n_threads 0", lambda: ops.hog_features(_X, n_threads=0), ValueError, r"^n_threads must be"),
    ("hog n_threads float", lambda: ops.hog_features(_X, n_threads=1.5), TypeError, r"^n_threads must be"),
    ("hsv 3-D", lambda: ops.color_histograms_hsv(_X[0]), ValueError, r"^imgs must be a batch of RGB"),
    ("hsv 4 channels", lambda: ops.color_histograms_hsv(np.zeros((2, 4, 4, 4))), ValueError, r"^imgs must be a batch of RGB"),
    ("hsv empty image", lambda: ops.color_histograms_hsv(_X[:, :0]), ValueError, r"^imgs must hold images of at least"),
    ("hsv above xmax", lambda: ops.color_histograms_hsv(np.stack([_X[0], _X[1] + 256])), ValueError,
     r"^imgs\[1\] / xmax must lie in \[0, 1\].*above xmax"),
    ("hsv negative", lambda: ops.color_histograms_hsv(_X - 1), ValueError, r"^imgs\[0\] / xmax .*below 0"),
    ("hsv infinite", lambda: ops.color_histograms_hsv(_X + np.inf), ValueError, r"^imgs\[0\] / xmax .*above"),
    ("hsv nbin -1", lambda: ops.color_histograms_hsv(_X, nbin=-1), ValueError, r"^nbin must be an int >= 0"),
    ("hsv nbin float", lambda: ops.color_histograms_hsv(_X, nbin=2.5), TypeError, r"^nbin must be an int"),
    ("hsv xmin >= xmax", lambda: ops.color_histograms_hsv(_X, xmin=255), ValueError, r"^xmin must be less than xmax"),
    ("hsv xmax 0", lambda: ops.color_histograms_hsv(-_X, xmin=-1, xmax=0), ValueError, r"^xmax must be non-zero"),
    ("hsv xmax inf", lambda: ops.color_histograms_hsv(_X, xmax=np.inf), ValueError, r"^xmax must be a finite"),
    ("hsv xmin string", lambda: ops.color_histograms_hsv(_X, xmin="0"), TypeError, r"^xmin must be a real"),
    ("hsv complex", lambda: ops.color_histograms_hsv(_X.astype(complex)), TypeError, r"^imgs must hold real"),
    ("hsv n_threads -1", lambda: ops.color_histograms_hsv(_X, n_threads=-1), ValueError, r"^n_threads must be"),
    ("hog_feature 4-D", lambda: hog_feature(_X), ValueError, r"^im must be an image"),
    ("hog_feature size", lambda: hog_feature(np.zeros((32, 40, 3))), ValueError, r"^im is 32 x 40 pixels"),
    ("hog_feature object", lambda: hog_feature(np.array([[None]])), TypeError, r"^im must hold real"),
    ("color_histogram_hsv 2-D", lambda: color_histogram_hsv(_X[0, ..., 0]), ValueError, r"^im must be a non-empty RGB"),
    ("color_histogram_hsv range", lambda: color_histogram_hsv(_X[0] + 300), ValueError, r"^im / xmax must lie in"),
    ("color_histogram_hsv nbin", lambda: color_histogram_hsv(_X[0], nbin=None), TypeError, r"^nbin must be an int"),
    ("extract_features 2-D feature", lambda: extract_features(_X, [lambda im: np.zeros((2, 2))]), ValueError,
     r"^feature functions must return a 1-D array"),
    ("extract_features bad batch", lambda: extract_features(_X + 300, [color_histogram_hsv]), ValueError,
     r"^imgs\[0\] / xmax must lie"),
]


@pytest.mark.parametrize("call, exc, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_features_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_twin_raises_the_same_errors():
    for call, exc, match in [
        (lambda: twin.hog_features(np.zeros((1, 37, 37, 3))), ValueError, r"^imgs is 37 x 37"),
        (lambda: twin.color_histograms_hsv(np.stack([_X[0], _X[1] + 256])), ValueError, r"^imgs\[1\] / xmax"),
        (lambda: twin.color_histograms_hsv(_X, nbin=-1), ValueError, r"^nbin must be"),
        (lambda: twin.hog_feature(np.zeros((32, 40, 3))), ValueError, r"^im is 32 x 40"),
        (lambda: twin.color_histogram_hsv(_X[0] - 1), ValueError, r"^im / xmax must lie"),
    ]:
        with pytest.raises(exc, match=match):
            call()


# --- no mutation, fresh outputs -------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["C", "negative", "readonly"])
def test_features_inputs_unchanged_and_outputs_fresh(rng, layout):
    x = as_layout(random_images(rng, 3, 16, 16, np.float32), layout)
    saved = x.copy()
    outs = [ops.hog_features(x), ops.color_histograms_hsv(x), hog_feature(x[0]), color_histogram_hsv(x[0]),
            extract_features(x, [hog_feature, color_histogram_hsv, lambda im: im.ravel()[:3]]),
            twin.hog_features(x), twin.color_histograms_hsv(x)]
    np.testing.assert_array_equal(x, saved)
    assert x.dtype == saved.dtype
    for out in outs:
        assert out.dtype == np.float64
        assert not np.shares_memory(out, x)
        assert out.flags.writeable
