"""Preprocessing transformers (fit on train, apply to other splits) and batch augmentation."""

import numpy as np
import pytest
from helpers import as_layout

from cs231n_fast.preprocessing import (
    PCA,
    ChannelMeanSubtraction,
    MeanImageSubtraction,
    MinMaxScale,
    Standardize,
    ZCAWhitening,
    color_jitter,
    horizontal_flip,
    random_crop,
)

TRANSFORMERS = [
    MeanImageSubtraction,
    ChannelMeanSubtraction,
    Standardize,
    MinMaxScale,
    lambda: PCA(whiten=True),
    ZCAWhitening,
]
TRANSFORMER_IDS = ["mean_image", "channel_mean", "standardize", "minmax", "pca", "zca"]


def _images(rng, n=30, c=3, h=4, w=5):
    """Images with different per-feature means and scales, as (N, C, H, W)."""
    return 3.0 + rng.standard_normal((1, c, h, w)) + rng.uniform(0.5, 2, (1, c, h, w)) * rng.standard_normal((n, c, h, w))


def _correlated(rng, n=400, d=6):
    """Correlated Gaussian data, covariance eigenvalues roughly in [0.5, 10], mean far from 0."""
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = np.linspace(0.7, 3.0, d)
    return 5.0 + (rng.standard_normal((n, d)) * scales) @ Q.T


def _cov(Z):
    Zc = Z - Z.mean(axis=0)
    return Zc.T @ Zc / len(Z)


# --- fitted statistics applied to another split ------------------------------------------------


def test_mean_image_subtraction_uses_train_mean(rng):
    X_train, X_val = _images(rng), _images(rng, n=7)
    t = MeanImageSubtraction().fit(X_train)
    out = t.transform(X_val)
    assert out.shape == X_val.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, X_val - X_train.mean(axis=0), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(t.fit_transform(X_train).mean(axis=0), 0.0, atol=1e-13)
    # Flattened rows with the same number of features (the course's (N, 3072) CIFAR rows).
    flat = t.transform(X_val.reshape(7, -1))
    assert flat.shape == (7, 60)
    np.testing.assert_allclose(flat, out.reshape(7, -1), rtol=1e-15)


def test_channel_mean_subtraction_uses_train_channel_means(rng):
    X_train, X_val = _images(rng), _images(rng, n=5, h=6, w=2)  # other image sizes are fine
    t = ChannelMeanSubtraction().fit(X_train)
    assert t.mean_.shape == (3,)
    out = t.transform(X_val)
    np.testing.assert_allclose(out, X_val - X_train.mean(axis=(0, 2, 3))[None, :, None, None], rtol=1e-13)
    np.testing.assert_allclose(t.transform(X_train).mean(axis=(0, 2, 3)), 0.0, atol=1e-13)


def test_standardize_zero_mean_unit_std(rng):
    X_train, X_val = _images(rng), _images(rng, n=9)
    t = Standardize().fit(X_train)
    Z = t.transform(X_train)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-7)
    expected = (X_val - X_train.mean(axis=0)) / X_train.std(axis=0)
    np.testing.assert_allclose(t.transform(X_val), expected, rtol=1e-7, atol=1e-9)


def test_standardize_constant_feature_maps_to_zero(rng):
    X = rng.standard_normal((10, 4))
    X[:, 2] = 7.0
    Z = Standardize().fit_transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[:, 2], 0.0)


@pytest.mark.parametrize("feature_range", [(-1, 1), (0, 1), (2.5, 4.0)])
def test_minmax_scale_range(rng, feature_range):
    X_train, X_val = _images(rng), _images(rng, n=6)
    low, high = feature_range
    t = MinMaxScale(feature_range).fit(X_train)
    Z = t.transform(X_train)
    np.testing.assert_allclose(Z.min(axis=0), low, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(Z.max(axis=0), high, rtol=1e-14, atol=1e-14)
    lo, hi = X_train.min(axis=0), X_train.max(axis=0)
    np.testing.assert_allclose(t.transform(X_val), low + (X_val - lo) / (hi - lo) * (high - low), rtol=1e-12)


def test_minmax_scale_constant_feature_maps_to_low(rng):
    X = rng.standard_normal((5, 3))
    X[:, 1] = -2.0
    Z = MinMaxScale().fit_transform(X)
    np.testing.assert_array_equal(Z[:, 1], -1.0)


@pytest.mark.parametrize("make", TRANSFORMERS, ids=TRANSFORMER_IDS)
def test_transformer_inverse_transform_round_trip(rng, make):
    X_train, X_val = _images(rng, n=80), _images(rng, n=5)
    t = make().fit(X_train)
    Z = t.transform(X_val)
    back = t.inverse_transform(Z)
    assert back.shape == X_val.shape if not isinstance(t, PCA) else back.shape == (5, 60)
    np.testing.assert_allclose(back.reshape(X_val.shape), X_val, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("make", TRANSFORMERS, ids=TRANSFORMER_IDS)
def test_transformer_dtype_policy_and_inputs_unchanged(rng, make, layout):
    X = _images(rng, n=40)
    X32 = as_layout(X.astype(np.float32), layout)
    before = np.array(X32)
    t = make().fit(X32)
    out = t.transform(X32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(X32, before)
    assert not np.shares_memory(out, X32)
    ref = make().fit(X32.astype(np.float64)).transform(X32.astype(np.float64))
    if isinstance(t, (PCA, ZCAWhitening)):
        # A product (x - mean) @ A in float32 (A: the components over their std, or W): its
        # error is at most (D + 4) u sum_k (|x_k| + |mean_k|) |A_kj| plus a few roundings of
        # the result (u = 2**-24, Higham's bound). Whitened components of near-zero variance
        # are noise amplified ~300x; a relative tolerance there failed 1 seed in 300.
        np.testing.assert_array_less(np.abs(out - ref), _float32_product_bound(t, X32, ref))
    else:  # elementwise: a few roundings of each entry
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert t.transform(np.round(X).astype(np.int16)).dtype == np.float64


def _float32_product_bound(t, X32, ref):
    """Bound on |float32 transform - float64 transform| of PCA and ZCA (see the caller)."""
    u = 2.0**-24
    X2 = np.asarray(X32, np.float64).reshape(X32.shape[0], -1)
    magnitude = np.abs(X2) + np.abs(t.mean_)
    if isinstance(t, PCA):
        A = np.abs(t.components_) / (np.sqrt(t.explained_variance_ + t.eps) if t.whiten else 1.0)
    else:
        A = np.abs(t.whitening_)
    bound = (X2.shape[1] + 4) * u * (magnitude @ A) + 4 * u * np.abs(ref.reshape(X2.shape[0], -1))
    return bound.reshape(ref.shape)


# --- PCA and whitening --------------------------------------------------------------------------


def test_pca_matches_notes_recipe(rng):
    X = _correlated(rng)
    t = PCA(3).fit(X)
    Z = t.transform(X)
    assert Z.shape == (400, 3) and t.components_.shape == (6, 3)
    # The notes: X -= mean; cov = X.T.dot(X) / N; U, S, V = svd(cov); Xrot_reduced = X.dot(U[:, :3])
    Xc = X - X.mean(axis=0)
    U, S, _ = np.linalg.svd(Xc.T @ Xc / len(X))
    expected = Xc @ U[:, :3]
    signs = np.sign(np.sum(Z * expected, axis=0))  # eigenvectors are defined up to sign
    np.testing.assert_allclose(Z, expected * signs, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(t.explained_variance_, S[:3], rtol=1e-12)
    np.testing.assert_allclose(_cov(Z), np.diag(S[:3]), atol=1e-9)  # decorrelated


def test_pca_all_components_reconstructs_input(rng):
    X = _correlated(rng, n=50)
    t = PCA().fit(X)
    Z = t.transform(X)
    assert Z.shape == X.shape
    np.testing.assert_allclose(t.inverse_transform(Z), X, rtol=1e-12, atol=1e-12)


def test_pca_reduced_reconstruction_is_projection(rng):
    X = _correlated(rng, n=60)
    t = PCA(2).fit(X)
    recon = t.inverse_transform(t.transform(X))
    residual = recon - X
    np.testing.assert_allclose(residual @ t.components_, 0.0, atol=1e-10)  # orthogonal to the subspace
    assert np.linalg.norm(residual) > 0.1


def test_pca_whitened_covariance_is_identity(rng):
    X = _correlated(rng)
    Z = PCA(4, whiten=True).fit_transform(X)
    # Each variance is S / (S + eps) with S >= ~0.4, eps = 1e-5.
    np.testing.assert_allclose(_cov(Z), np.eye(4), atol=1e-4)


def test_zca_covariance_is_identity_and_matrix_symmetric(rng):
    X = _correlated(rng)
    t = ZCAWhitening().fit(X)
    Z = t.transform(X)
    assert Z.shape == X.shape
    np.testing.assert_allclose(_cov(Z), np.eye(6), atol=1e-4)
    np.testing.assert_allclose(t.whitening_, t.whitening_.T, rtol=0, atol=1e-13)


def test_zca_stays_closest_to_input_orientation(rng):
    # Of all whitenings Z Q (Q orthogonal), ZCA maximises the match trace(Z.T Xc) with the
    # centred input; each output feature is positively correlated with its input feature.
    X = _correlated(rng)
    Xc = X - X.mean(axis=0)
    Z = ZCAWhitening().fit_transform(X)
    match = np.trace(Z.T @ Xc)
    assert np.all(np.diag(Z.T @ Xc) > 0)
    pca_white = PCA(whiten=True).fit_transform(X)
    assert match > np.trace(pca_white.T @ Xc) + 1.0
    for _ in range(20):
        Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
        assert match >= np.trace((Z @ Q).T @ Xc)


# --- transformer errors --------------------------------------------------------------------------


@pytest.mark.parametrize("make", TRANSFORMERS, ids=TRANSFORMER_IDS)
@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_transformer_before_fit_raises(make, method):
    with pytest.raises(RuntimeError, match="call fit first"):
        getattr(make(), method)(np.zeros((2, 3, 4, 5)))


@pytest.mark.parametrize("make", TRANSFORMERS, ids=TRANSFORMER_IDS)
def test_transformer_feature_mismatch_raises(rng, make):
    t = make().fit(_images(rng, n=20))
    with pytest.raises(ValueError, match="X must have"):
        t.transform(np.zeros((2, 2, 4, 5)))
    with pytest.raises(ValueError, match="X must"):
        t.transform(np.zeros(60))


_BAD_TRANSFORMERS = [
    (ValueError, "eps", lambda: Standardize(eps=-1.0)),
    (TypeError, "eps", lambda: Standardize(eps="small")),
    (ValueError, "feature_range", lambda: MinMaxScale((1, 0))),
    (ValueError, "feature_range", lambda: MinMaxScale((0, float("inf")))),
    (TypeError, "feature_range", lambda: MinMaxScale(5)),
    (TypeError, "feature_range", lambda: MinMaxScale((0, 1, 2))),
    (ValueError, "n_components", lambda: PCA(0)),
    (TypeError, "n_components", lambda: PCA(2.0)),
    (ValueError, "eps", lambda: PCA(2, whiten=True, eps=0.0)),
    (ValueError, "eps", lambda: ZCAWhitening(eps=-1e-5)),
    (ValueError, "n_components", lambda: PCA(7).fit(np.ones((4, 6)))),
    (ValueError, "X", lambda: PCA(2).fit(np.ones((1, 6)))),
    (ValueError, "X", lambda: ZCAWhitening().fit(np.ones((1, 6)))),
    (ValueError, "X", lambda: MeanImageSubtraction().fit(np.ones(6))),
    (ValueError, "X", lambda: Standardize().fit(np.ones((0, 6)))),
    (TypeError, "X", lambda: MinMaxScale().fit(np.ones((3, 6), dtype=bool))),
    (ValueError, "X", lambda: ChannelMeanSubtraction().fit(np.ones((3, 6)))),
    (ValueError, "X", lambda: ChannelMeanSubtraction().fit(np.ones((3, 2, 4, 4))).transform(np.ones((1, 3, 4, 4)))),
]


@pytest.mark.parametrize("exc, match, call", _BAD_TRANSFORMERS,
                         ids=[f"{m}-{i}" for i, (_, m, _) in enumerate(_BAD_TRANSFORMERS)])
def test_transformer_bad_input(exc, match, call):
    with pytest.raises(exc, match=match):
        call()


def test_transformer_repr_shows_hyperparameters():
    assert repr(PCA(3, whiten=True)) == "PCA(n_components=3, whiten=True, eps=1e-05)"
    assert repr(MinMaxScale((0, 1))) == "MinMaxScale(feature_range=(0.0, 1.0))"
    assert repr(MeanImageSubtraction()) == "MeanImageSubtraction()"


# --- augmentation --------------------------------------------------------------------------------


def test_horizontal_flip_p1_flips_all_p0_none(rng):
    x = rng.integers(0, 256, (4, 3, 5, 6)).astype(np.uint8)
    flipped = horizontal_flip(x, p=1.0, seed=0)
    assert flipped.dtype == np.uint8
    np.testing.assert_array_equal(flipped, x[:, :, :, ::-1])
    same = horizontal_flip(x, p=0.0, seed=0)
    np.testing.assert_array_equal(same, x)
    assert not np.shares_memory(same, x)


def test_horizontal_flip_per_image_and_seeded(rng):
    x = rng.standard_normal((40, 2, 3, 4))
    out = horizontal_flip(x, seed=3)
    flipped = [np.array_equal(o, xi[:, :, ::-1]) for o, xi in zip(out, x)]
    kept = [np.array_equal(o, xi) for o, xi in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept))  # each image is exactly one of the two
    assert 5 < sum(flipped) < 35
    np.testing.assert_array_equal(horizontal_flip(x, seed=3), out)
    np.testing.assert_array_equal(horizontal_flip(x, seed=np.random.default_rng(3)), out)
    assert not np.array_equal(horizontal_flip(x, seed=4), out)


def test_random_crop_full_size_no_padding_is_identity(rng):
    x = rng.standard_normal((3, 2, 5, 5))
    out = random_crop(x, 5, seed=0)
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)


def test_random_crop_full_padded_size_is_zero_padding(rng):
    x = rng.integers(1, 9, (2, 3, 4, 5)).astype(np.int32)
    out = random_crop(x, (8, 7), padding=(2, 1), seed=0)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.pad(x, ((0, 0), (0, 0), (2, 2), (1, 1))))


def test_random_crop_windows_of_padded_images(rng):
    x = rng.standard_normal((12, 2, 6, 7))
    out = random_crop(x, (4, 5), padding=2, seed=11)
    assert out.shape == (12, 2, 4, 5)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    corners = set()
    for i in range(12):
        found = [(t, l) for t in range(7) for l in range(7)
                 if np.array_equal(out[i], padded[i, :, t : t + 4, l : l + 5])]
        assert len(found) == 1, i  # every channel from one window of the same image
        corners.add(found[0])
    assert len(corners) > 3  # positions vary per image
    np.testing.assert_array_equal(random_crop(x, (4, 5), padding=2, seed=11), out)
    assert not np.array_equal(random_crop(x, (4, 5), padding=2, seed=12), out)


def test_color_jitter_zero_is_identity(rng):
    x = rng.standard_normal((3, 3, 4, 4)).astype(np.float32)
    out = color_jitter(x, seed=0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x)
    assert color_jitter(x.astype(np.uint8), seed=0).dtype == np.float64


def test_color_jitter_brightness_scales_each_image(rng):
    x = rng.uniform(0.1, 1.0, (20, 3, 4, 4))
    out = color_jitter(x, brightness=0.4, seed=1)
    ratio = out / x
    factors = ratio[:, 0, 0, 0]
    np.testing.assert_allclose(ratio, factors[:, None, None, None] * np.ones_like(x), rtol=1e-13)
    assert np.all((factors >= 0.6) & (factors <= 1.4)) and np.ptp(factors) > 0.1


def _luma(x):
    return 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]


def test_color_jitter_contrast_keeps_mean_gray(rng):
    x = rng.uniform(0, 1, (15, 3, 5, 5))
    out = color_jitter(x, contrast=0.5, seed=2)
    mean_gray = _luma(x).mean(axis=(1, 2))[:, None, None, None]
    np.testing.assert_allclose(_luma(out).mean(axis=(1, 2)), mean_gray.ravel(), rtol=1e-12)
    c = (out - mean_gray) / (x - mean_gray)  # the per-image contrast factor
    np.testing.assert_allclose(c, c[:, :1, :1, :1] * np.ones_like(x), rtol=1e-9)
    assert np.all((c >= 0.5) & (c <= 1.5))


def test_color_jitter_saturation_keeps_luma(rng):
    x = rng.uniform(0, 1, (15, 3, 5, 5))
    out = color_jitter(x, saturation=1.0, seed=3)  # factors in [0, 2]
    gray = _luma(x)[:, None]
    np.testing.assert_allclose(_luma(out), _luma(x), rtol=1e-12)
    s = (out - gray) / (x - gray)
    np.testing.assert_allclose(s, s[:, :1, :1, :1] * np.ones_like(x), rtol=1e-8)
    assert np.all((s >= 0) & (s <= 2))
    # Other channel counts blend with the channel mean.
    x4 = rng.uniform(0, 1, (5, 4, 3, 3))
    out4 = color_jitter(x4, saturation=0.5, seed=3)
    np.testing.assert_allclose(out4.mean(axis=1), x4.mean(axis=1), rtol=1e-12)


def test_color_jitter_seeded_and_draws_independent(rng):
    x = rng.uniform(0, 1, (6, 3, 4, 4))
    a = color_jitter(x, 0.3, 0.3, 0.3, seed=5)
    np.testing.assert_array_equal(color_jitter(x, 0.3, 0.3, 0.3, seed=5), a)
    assert not np.array_equal(color_jitter(x, 0.3, 0.3, 0.3, seed=6), a)
    # The brightness factors do not depend on whether contrast is jittered.
    b_only = color_jitter(x, brightness=0.3, seed=5)
    b_only_again = color_jitter(x, brightness=0.3, saturation=0.0, contrast=0.0, seed=5)
    np.testing.assert_array_equal(b_only, b_only_again)


_BAD_AUGMENT = [
    (ValueError, "x", lambda x: horizontal_flip(x[0])),
    (ValueError, "x", lambda x: random_crop(x[None], 2)),
    (TypeError, "x", lambda x: color_jitter(x.astype(complex))),
    (ValueError, "x", lambda x: horizontal_flip(x[:0])),
    (ValueError, "p", lambda x: horizontal_flip(x, p=1.5)),
    (ValueError, "p", lambda x: horizontal_flip(x, p=-0.1)),
    (TypeError, "p", lambda x: horizontal_flip(x, p="half")),
    (ValueError, "size", lambda x: random_crop(x, 6)),
    (ValueError, "size", lambda x: random_crop(x, 0)),
    (ValueError, "size", lambda x: random_crop(x, (5, 6), padding=(0, 0))),
    (ValueError, "padding", lambda x: random_crop(x, 3, padding=-1)),
    (TypeError, "padding", lambda x: random_crop(x, 3, padding=1.5)),
    (ValueError, "brightness", lambda x: color_jitter(x, brightness=-0.1)),
    (ValueError, "contrast", lambda x: color_jitter(x, contrast=float("nan"))),
    (TypeError, "saturation", lambda x: color_jitter(x, saturation=None)),
]


@pytest.mark.parametrize("exc, match, call", _BAD_AUGMENT, ids=[f"{m}-{i}" for i, (_, m, _) in enumerate(_BAD_AUGMENT)])
def test_augmentation_bad_input(exc, match, call):
    with pytest.raises(exc, match=match):
        call(np.ones((2, 3, 5, 5)))
