"""Image-feature cases: the features of ``features.ipynb`` (CS231n assignment 1) -- HOG plus a
10-bin hue histogram of every image -- for ours and the course's per-image loop.

``fast``
    :func:`cs231n_fast.ops.features.hog_features` and
    :func:`~cs231n_fast.ops.features.color_histograms_hsv` on the whole batch, side by side as
    :func:`cs231n_fast.features.extract_features` assembles them when given the notebook's
    ``[hog_feature, lambda img: color_histogram_hsv(img, nbin=num_color_bins)]`` (which it
    recognises and sends to these two calls), at the run's thread count.
``reference``
    The course's code as the course runs it: :func:`cs231n_fast.reference.features.extract_features`
    (the course's loop over the images) with the twin's per-image ``hog_feature`` and
    ``color_histogram_hsv`` (the course's functions; matplotlib's ``rgb_to_hsv`` replaced by
    the twin's, the same operations). Single-threaded NumPy, as the course.

Issue 15's target: ``fast`` at least 20x faster than ``reference`` on 1,000 32 x 32 images
(``speedup_vs_reference`` of the quick case).

Inputs are CIFAR-like float64 images (``load_CIFAR10`` gives float64): integers 0..255, half
of them piecewise flat (4 x 4 blocks, so many gradients are exactly 0 as in real images: the
kernels' slow path), half smooth with noise. The oracle is the NumPy batch twin
(:func:`cs231n_fast.reference.features.hog_features` and ``color_histograms_hsv``) on the
same inputs. Only float64 is benchmarked: the hue histogram of float32 images is computed in
float32 by the course, a different (equally exact) result than the float64 oracle's.
"""

from dataclasses import dataclass

import numpy as np

from ._common import _check_outputs


@dataclass(frozen=True)
class FeaturesCase:
    """One feature-extraction benchmark: ``n`` RGB images of ``h`` x ``w`` pixels, HOG plus a
    hue histogram of ``nbin`` bins."""

    n: int
    h: int = 32
    w: int = 32
    nbin: int = 10
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "features"
    dtypes = ("float64",)
    quick_dtypes = ("float64",)
    impls = ("fast", "reference")
    quick_impls = ("fast", "reference")

    @property
    def id(self):
        return f"features-{self.n}x{self.h}x{self.w}x3-hog+hsv{self.nbin}"

    def bytes_moved(self, dtype):
        """Nominal bytes: the images read once."""
        return self.n * self.h * self.w * 3 * np.dtype(dtype).itemsize

    def gemm_flops(self):
        """None: no products."""
        return None

    def work(self, dtype):
        return {"bytes": self.bytes_moved(dtype)}


FEATURES_CASES = (
    FeaturesCase(1000, quick=True),  # issue 15's target
    FeaturesCase(5000),
)


def images(n, h, w, seed=0):
    """CIFAR-like float64 images with integer values 0..255 (see the module docstring)."""
    rng = np.random.default_rng(seed)
    half = n // 2
    blocks = rng.integers(0, 256, (half, (h + 3) // 4, (w + 3) // 4, 3))
    flat = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2)[:, :h, :w]
    coarse = rng.random((n - half, (h + 7) // 8 + 1, (w + 7) // 8 + 1, 3)) * 255
    smooth = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)[:, :h, :w]
    smooth = np.clip(np.round(smooth + rng.normal(0, 12, smooth.shape)), 0, 255)
    return np.concatenate([flat, smooth]).astype(np.float64)


def inputs(case, dtype, seed=0):
    """``x``: (n, h, w, 3) images of ``dtype`` (integer values, exact in every dtype)."""
    return {"x": images(case.n, case.h, case.w, seed).astype(dtype)}


def runner(case, impl, inputs, n_threads):
    x, nbin = inputs["x"], case.nbin
    if impl == "fast":
        from ..ops import features as ops

        def call():
            return (np.hstack([ops.hog_features(x, n_threads=n_threads),
                               ops.color_histograms_hsv(x, nbin, n_threads=n_threads)]),)

        return call
    if impl == "reference":
        from ..reference import features as twin

        fns = [twin.hog_feature, lambda img: twin.color_histogram_hsv(img, nbin=nbin)]

        def call():
            return (twin.extract_features(x, fns),)

        return call
    raise ValueError(f"impl must be one of {case.impls} for {case.id}; got {impl!r}")


def oracle(case, inputs):
    """The NumPy batch twin on ``inputs``."""
    from ..reference import features as twin

    x = inputs["x"]
    return (np.hstack([twin.hog_features(x), twin.color_histograms_hsv(x, case.nbin)]),)


def names(case):
    return ("features",)


def check(case, outputs, expected, dtype, impl=None):
    return _check_outputs(names(case), outputs, expected, dtype)
