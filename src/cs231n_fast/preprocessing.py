"""Data preprocessing and augmentation from the CS231n notes.

The notes ("Neural Networks Part 2", *Data Preprocessing*) centre, normalise, decorrelate and
whiten the data with statistics computed **on the training set only** and then applied to the
validation and test sets ("any preprocessing statistics (e.g. the data mean) must only be
computed on the training data, and then applied to the validation / test data"). The
transformers here make that workflow explicit, in the style of scikit-learn:
``fit(X_train)`` computes the statistics and returns the transformer, ``transform(X)``
applies them to any split, ``fit_transform`` does both, ``inverse_transform`` undoes them.

===============================  ================================================================
:class:`MeanImageSubtraction`    subtract the mean image (assignment 1's ``X -= mean_image``)
:class:`ChannelMeanSubtraction`  subtract one mean per channel of (N, C, H, W) images
:class:`Standardize`             zero mean and unit variance per feature
:class:`MinMaxScale`             scale each feature to ``feature_range``, default [-1, 1]
:class:`PCA`                     project on the top ``n_components`` eigenvectors, whitened or not
:class:`ZCAWhitening`            whiten, then rotate back to the data's own axes
===============================  ================================================================

They take arrays of shape (N, ...) and treat each sample as a flat vector of features,
returning arrays of the input's shape (``PCA.transform`` returns (N, n_components)).
Statistics are computed in float64; the output follows the package's dtype policy (float32
in, float32 out; anything else float64).

The augmentation functions (the notes, "Neural Networks Part 2" and "Convolutional Neural
Networks", *data augmentation*) take a batch of shape (N, C, H, W), draw independent random
parameters for each image from ``seed`` (None, an int or a numpy Generator) and return a new
array: :func:`horizontal_flip`, :func:`random_crop` and :func:`color_jitter`.
"""

import numpy as np

from . import _validation as v
from ._validation import real_number

__all__ = [
    "MeanImageSubtraction",
    "ChannelMeanSubtraction",
    "Standardize",
    "MinMaxScale",
    "PCA",
    "ZCAWhitening",
    "horizontal_flip",
    "random_crop",
    "color_jitter",
]


def _samples(name, X, images=False):
    """``X`` as a real array with no zero-size axis, of shape (N, ...) with at least two
    dimensions, or of shape (N, C, H, W) with ``images``."""
    X = v.as_array(name, X)
    layout = "(N, C, H, W)" if images else "(N, ...)"
    if (images and X.ndim != 4) or X.ndim < 2:
        raise ValueError(f"{name} must be an array of shape {layout}; got shape {X.shape}")
    v.check_nonempty(name, X, layout)
    return X


def _as(a, like):
    """``a`` in the dtype of the array ``like``."""
    return a.astype(like.dtype, copy=False)


# --- fitted transformers --------------------------------------------------------------------------


class _Transformer:
    """Shared fit/transform plumbing: flattening, the fitted check, the dtype policy.

    Subclasses implement ``_fit(X2)`` on the float64 (N, D) matrix and ``_transform(X2)`` /
    ``_inverse(X2)`` on (N, D) (or (N, k)) matrices of the output dtype.
    """

    #: Samples ``fit`` needs (covariance-based transformers need two).
    _min_samples = 1

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self._hyperparameters().items())
        return f"{type(self).__name__}({args})"

    def _hyperparameters(self):
        return {}

    def fit(self, X):
        """Compute the statistics of the training data ``X`` of shape (N, ...); return self."""
        X = _samples("X", X)
        if X.shape[0] < self._min_samples:
            raise ValueError(
                f"X must hold at least {self._min_samples} samples to fit {type(self).__name__}; "
                f"got shape {X.shape}"
            )
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        self._fit(X.reshape(X.shape[0], -1).astype(np.float64))
        return self

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def _check_fitted(self, what):
        if not hasattr(self, "n_features_in_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit first (before {what})")

    def _flat(self, X, what, n_features=None):
        """Validate ``X`` for ``what`` against the fitted statistics (``n_features`` per sample,
        default ``n_features_in_``); return it as (N, D) in the output dtype, a new array the
        subclasses may work in place on."""
        self._check_fitted(what)
        n_features = self.n_features_in_ if n_features is None else n_features
        X = _samples("X", X)
        d = int(np.prod(X.shape[1:]))
        if d != n_features:
            raise ValueError(
                f"X must have {n_features} features per sample for this {type(self).__name__} "
                f"(in {what}); got shape {X.shape} with {d}"
            )
        return np.array(X.reshape(X.shape[0], -1), dtype=v.result_dtype(X))

    def transform(self, X):
        """Apply the fitted statistics to ``X`` of shape (N, ...); a new array of its shape."""
        X2 = self._flat(X, "transform")
        return self._transform(X2).reshape(np.shape(X))

    def inverse_transform(self, X):
        """Undo :meth:`transform`; a new array of the shape of ``X``."""
        X2 = self._flat(X, "inverse_transform")
        return self._inverse(X2).reshape(np.shape(X))


class MeanImageSubtraction(_Transformer):
    """Subtract the mean training image: assignment 1's ``X_train -= mean_image``.

    Attributes
    ----------
    mean_ : ndarray of shape (D,)
        The mean of each feature over the training samples (float64), flat; reshape it to an
        image shape to show it (``mean_.reshape(32, 32, 3)`` for flattened CIFAR-10 rows).
    """

    def _fit(self, X2):
        self.mean_ = X2.mean(axis=0)

    def _transform(self, X2):
        X2 -= _as(self.mean_, X2)
        return X2

    def _inverse(self, X2):
        X2 += _as(self.mean_, X2)
        return X2


class ChannelMeanSubtraction(_Transformer):
    """Subtract one mean per colour channel from images of shape (N, C, H, W).

    An alternative to the mean image used by networks such as VGGNet (three numbers instead
    of a whole image). The images passed to ``transform`` must have the fitted number of
    channels ``C`` (stored as ``n_features_in_``); their height and width may differ from the
    training images'.

    Attributes
    ----------
    mean_ : ndarray of shape (C,)
        The mean of each channel over all training pixels (float64).
    """

    def fit(self, X):
        X = _samples("X", X, images=True)
        self.n_features_in_ = X.shape[1]  # channels: what transform must match
        self.mean_ = X.mean(axis=(0, 2, 3), dtype=np.float64)
        return self

    def _channels(self, X, what):
        self._check_fitted(what)
        X = _samples("X", X, images=True)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must have {self.n_features_in_} channels (N, C, H, W) as the fitted data "
                f"(in {what}); got shape {X.shape}"
            )
        X = np.array(X, dtype=v.result_dtype(X))
        return X, _as(self.mean_, X)[None, :, None, None]

    def transform(self, X):
        X, mean = self._channels(X, "transform")
        X -= mean
        return X

    def inverse_transform(self, X):
        X, mean = self._channels(X, "inverse_transform")
        X += mean
        return X


class Standardize(_Transformer):
    """Zero mean and unit variance per feature: ``(X - mean_) / scale_``.

    The notes' normalisation ``X /= np.std(X, axis=0)`` after centring, with
    ``scale_ = sqrt(var + eps)``: a constant feature maps to 0 instead of dividing by zero, and
    the others get a standard deviation of ``sqrt(var / (var + eps))``, 1 to within ``eps / var``.

    Parameters
    ----------
    eps : float, default 1e-8
        Added to the variance, ``>= 0`` (0 divides constant features by zero).

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (D,)
    """

    def __init__(self, eps=1e-8):
        self.eps = real_number("eps", eps, 0.0)

    def _hyperparameters(self):
        return {"eps": self.eps}

    def _fit(self, X2):
        self.mean_ = X2.mean(axis=0)
        self.scale_ = np.sqrt(X2.var(axis=0) + self.eps)

    def _transform(self, X2):
        X2 -= _as(self.mean_, X2)
        X2 /= _as(self.scale_, X2)
        return X2

    def _inverse(self, X2):
        X2 *= _as(self.scale_, X2)
        X2 += _as(self.mean_, X2)
        return X2


class MinMaxScale(_Transformer):
    """Scale each feature linearly so its training minimum and maximum map to ``feature_range``.

    The notes: "normalizes each dimension so that the min and max along the dimension is -1
    and 1 respectively". A constant feature maps to the lower bound. Other splits may fall
    outside the range; values are not clipped.

    Parameters
    ----------
    feature_range : (float, float), default (-1, 1)
        ``(low, high)`` with ``low < high``.

    Attributes
    ----------
    data_min_, data_max_ : ndarray of shape (D,)
    """

    def __init__(self, feature_range=(-1, 1)):
        try:
            low, high = feature_range
        except (TypeError, ValueError):
            raise TypeError(f"feature_range must be a pair (low, high); got {feature_range!r}") from None
        low = real_number("feature_range", low)
        high = real_number("feature_range", high)
        if not low < high:
            raise ValueError(f"feature_range must be (low, high) with low < high; got {feature_range!r}")
        self.feature_range = (low, high)

    def _hyperparameters(self):
        return {"feature_range": self.feature_range}

    def _fit(self, X2):
        self.data_min_ = X2.min(axis=0)
        self.data_max_ = X2.max(axis=0)
        data_range = self.data_max_ - self.data_min_
        low, high = self.feature_range
        self._scale = (high - low) / np.where(data_range > 0, data_range, 1.0)

    def _transform(self, X2):
        X2 -= _as(self.data_min_, X2)
        X2 *= _as(self._scale, X2)
        X2 += X2.dtype.type(self.feature_range[0])
        return X2

    def _inverse(self, X2):
        X2 -= X2.dtype.type(self.feature_range[0])
        X2 /= _as(self._scale, X2)
        X2 += _as(self.data_min_, X2)
        return X2


def _covariance_svd(X2):
    """Centre ``X2`` (N, D) and return ``mean, U, S`` of the SVD of its covariance.

    As in the notes: ``cov = X.T.dot(X) / N``, ``U, S, V = np.linalg.svd(cov)``; the columns of
    ``U`` are the eigenvectors, ``S`` the eigenvalues (variances along them) in decreasing
    order. Each column's sign is fixed (its largest-magnitude entry positive) so the result
    does not depend on the LAPACK build.
    """
    mean = X2.mean(axis=0)
    Xc = X2 - mean
    cov = Xc.T.dot(Xc) / Xc.shape[0]
    U, S, _ = np.linalg.svd(cov)
    signs = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(U.shape[1])])
    return mean, U * np.where(signs == 0, 1.0, signs), S


class PCA(_Transformer):
    """Principal component analysis as in the notes: project the centred data on the top
    eigenvectors of its covariance.

    ``transform`` returns ``Xrot_reduced = (X - mean_).dot(U[:, :k])`` of shape (N, k); with
    ``whiten=True`` each component is divided by ``sqrt(S + eps)``, its standard deviation, so
    the output has (nearly) identity covariance. ``inverse_transform`` maps (N, k) back to
    the data space; with all components it reconstructs the input exactly (up to rounding),
    with fewer the nearest point of the k-dimensional subspace.

    Parameters
    ----------
    n_components : int or None
        ``k``, the number of components kept, ``1 <= k <= D``; None keeps all ``D``.
    whiten : bool, default False
    eps : float, default 1e-5
        Added to the eigenvalues before the square root when whitening (the notes' ``1e-5``);
        ``> 0``.

    Attributes
    ----------
    mean_ : ndarray of shape (D,)
    components_ : ndarray of shape (D, k)
        ``U[:, :k]``, the eigenvectors of the covariance, in decreasing order of variance.
    explained_variance_ : ndarray of shape (k,)
        ``S[:k]``, the variance of the data along each component.
    """

    _min_samples = 2

    def __init__(self, n_components=None, whiten=False, eps=1e-5):
        self.n_components = None if n_components is None else v.positive_int("n_components", n_components)
        self.whiten = bool(whiten)
        self.eps = real_number("eps", eps, 0.0, low_open=True)

    def _hyperparameters(self):
        return {"n_components": self.n_components, "whiten": self.whiten, "eps": self.eps}

    def _fit(self, X2):
        d = X2.shape[1]
        k = d if self.n_components is None else self.n_components
        if k > d:
            raise ValueError(f"n_components must be <= the number of features of X ({d}); got {k}")
        self.mean_, U, S = _covariance_svd(X2)
        self.components_ = U[:, :k]
        self.explained_variance_ = S[:k]
        self._std = np.sqrt(self.explained_variance_ + self.eps)

    def transform(self, X):
        """Project ``X`` of shape (N, ...) on the components: a new array of shape (N, k)."""
        X2 = self._flat(X, "transform")
        X2 -= _as(self.mean_, X2)
        Z = X2.dot(_as(self.components_, X2))
        if self.whiten:
            Z /= _as(self._std, Z)
        return Z

    def inverse_transform(self, X):
        """Map ``X`` of shape (N, k) back to the data space: a new array of shape (N, D)."""
        self._check_fitted("inverse_transform")
        Z = self._flat(X, "inverse_transform", self.components_.shape[1])
        if self.whiten:
            Z *= _as(self._std, Z)
        X2 = Z.dot(_as(self.components_.T, Z))
        X2 += _as(self.mean_, X2)
        return X2


class ZCAWhitening(_Transformer):
    """ZCA ("zero-phase") whitening: whiten, then rotate back to the data's axes.

    ``transform`` computes ``(X - mean_).dot(W)`` with the symmetric matrix
    ``W = U.dot(diag(1 / sqrt(S + eps))).dot(U.T)`` from the notes' ``U, S, V = svd(cov)``: the
    output has (nearly) identity covariance, like PCA whitening, but of all whitening matrices
    it stays closest to the input (for images it still looks like an edge-enhanced image).

    Parameters
    ----------
    eps : float, default 1e-5
        Added to the eigenvalues; ``> 0``. Larger values whiten low-variance directions less
        (less noise amplification).

    Attributes
    ----------
    mean_ : ndarray of shape (D,)
    whitening_ : ndarray of shape (D, D)
        ``W`` above; ``inverse_transform`` uses ``U.dot(diag(sqrt(S + eps))).dot(U.T)``.
    """

    _min_samples = 2

    def __init__(self, eps=1e-5):
        self.eps = real_number("eps", eps, 0.0, low_open=True)

    def _hyperparameters(self):
        return {"eps": self.eps}

    def _fit(self, X2):
        self.mean_, U, S = _covariance_svd(X2)
        std = np.sqrt(S + self.eps)
        self.whitening_ = (U / std).dot(U.T)
        self._coloring = (U * std).dot(U.T)

    def _transform(self, X2):
        X2 -= _as(self.mean_, X2)
        return X2.dot(_as(self.whitening_, X2))

    def _inverse(self, X2):
        X2 = X2.dot(_as(self._coloring, X2))
        X2 += _as(self.mean_, X2)
        return X2


# --- augmentation ---------------------------------------------------------------------------------


def horizontal_flip(x, p=0.5, seed=None):
    """Flip each image left-right with probability ``p``.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
    p : float in [0, 1], default 0.5
        ``p = 1`` flips every image, ``p = 0`` none.
    seed : None, int or numpy Generator
        One uniform draw per image from ``np.random.default_rng(seed)``.

    Returns
    -------
    ndarray of shape (N, C, H, W)
        A new array of ``x``'s dtype (integer images stay integer).
    """
    x = _samples("x", x, images=True)
    p = real_number("p", p, 0.0, 1.0)
    flip = np.random.default_rng(seed).random(x.shape[0]) < p
    out = np.array(x)
    out[flip] = x[flip, :, :, ::-1]
    return out


def random_crop(x, size, padding=0, seed=None):
    """Pad each image with zeros, then crop a ``size`` window at a random position.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
    size : int or (int, int)
        Crop height and width ``(ch, cw)``, at most the padded ``H + 2 * ph`` and
        ``W + 2 * pw``.
    padding : int or (int, int), default 0
        Zeros added on each side, ``(ph, pw) >= 0``.
    seed : None, int or numpy Generator
        Each image's top-left corner is drawn uniformly among the ``H + 2 ph - ch + 1`` rows
        and ``W + 2 pw - cw + 1`` columns (rows first, for all images, then columns).

    Returns
    -------
    ndarray of shape (N, C, ch, cw)
        A new array of ``x``'s dtype.
    """
    x = _samples("x", x, images=True)
    ch, cw = v.pair("size", size, 1)
    ph, pw = v.pair("padding", padding, 0)
    n, c, h, w = x.shape
    if ch > h + 2 * ph or cw > w + 2 * pw:
        raise ValueError(
            f"size must be <= the padded image size ({h + 2 * ph}, {w + 2 * pw}) (x of shape "
            f"{x.shape}, padding ({ph}, {pw})); got ({ch}, {cw})"
        )
    rng = np.random.default_rng(seed)
    top = rng.integers(0, h + 2 * ph - ch + 1, n)
    left = rng.integers(0, w + 2 * pw - cw + 1, n)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    rows = (top[:, None] + np.arange(ch))[:, None, :, None]  # (N, 1, ch, 1)
    cols = (left[:, None] + np.arange(cw))[:, None, None, :]  # (N, 1, 1, cw)
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]


#: ITU-R BT.601 luma weights of R, G, B (the grayscale of torchvision and PIL).
_LUMA = np.array([0.299, 0.587, 0.114])


def color_jitter(x, brightness=0.0, contrast=0.0, saturation=0.0, seed=None):
    """Randomly change the brightness, contrast and saturation of each image.

    For each image three factors are drawn uniformly: ``b`` in ``[max(0, 1 - brightness),
    1 + brightness]``, ``c`` in ``[max(0, 1 - contrast), 1 + contrast]`` and ``s`` in
    ``[max(0, 1 - saturation), 1 + saturation]`` (torchvision's ``ColorJitter`` ranges; a
    parameter of 0 gives the factor 1, no change). Then, in this fixed order:

    * brightness: ``x = b * x``;
    * contrast: ``x = c * x + (1 - c) * mean(gray(x))``, blending with the image's mean gray
      level;
    * saturation: ``x = s * x + (1 - s) * gray(x)``, blending with the image's grayscale
      version (``s = 0`` makes it gray).

    ``gray`` is the ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` for C = 3 channels (in RGB
    order) and the mean over channels otherwise. Values are not clipped, so the function works
    on centred or normalised data too; clip to your data's range if you need it.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
    brightness, contrast, saturation : float >= 0, default 0
    seed : None, int or numpy Generator
        The factors come from ``np.random.default_rng(seed)``: N brightness factors, then N
        contrast, then N saturation factors (always all three, so one parameter's value does
        not change the draws of the others).

    Returns
    -------
    ndarray of shape (N, C, H, W)
        A new array, float32 for float32 input and float64 otherwise.
    """
    x = _samples("x", x, images=True)
    amounts = {
        "brightness": real_number("brightness", brightness, 0.0),
        "contrast": real_number("contrast", contrast, 0.0),
        "saturation": real_number("saturation", saturation, 0.0),
    }
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    b, c, s = (rng.uniform(max(0.0, 1.0 - a), 1.0 + a, n)[:, None, None, None] for a in amounts.values())
    out = np.array(x, dtype=v.result_dtype(x))
    weights = _LUMA if x.shape[1] == 3 else np.full(x.shape[1], 1.0 / x.shape[1])
    weights = weights.astype(out.dtype)[None, :, None, None]

    def gray(img):
        return np.sum(img * weights, axis=1, keepdims=True)  # (N, 1, H, W)

    if amounts["brightness"]:
        out *= b.astype(out.dtype)
    if amounts["contrast"]:
        c = c.astype(out.dtype)
        out = c * out + (1 - c) * gray(out).mean(axis=(2, 3), keepdims=True)
    if amounts["saturation"]:
        s = s.astype(out.dtype)
        out = s * out + (1 - s) * gray(out)
    return out
