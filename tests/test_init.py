"""Weight initialisation (cs231n_fast.init)."""

import math

import numpy as np
import pytest

from cs231n_fast.init import fans, he_normal, small_random, xavier_normal, xavier_uniform

INITS = [small_random, xavier_normal, xavier_uniform, he_normal]

#: Empirical standard deviations are compared within STD_RTOL on large draws. With n draws the
#: relative standard error of a sample std is about 1 / sqrt(2 n): 0.16% for n = 200 000, so
#: 1% is over 6 standard errors (and the seeded rng makes each test deterministic anyway).
STD_RTOL = 0.01
BIG = (400, 500)  # 200 000 draws; fan_in 400, fan_out 500


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4, 5)])
def test_init_shape_and_dtype(init, shape, dtype, rng):
    w = init(shape, dtype=dtype, seed=rng)
    assert w.shape == shape and w.dtype == dtype
    assert np.isfinite(w).all() and np.unique(w).size == w.size


@pytest.mark.parametrize("init", INITS)
def test_init_default_dtype_float32(init):
    assert init((2, 3)).dtype == np.float32
    assert init((2, 3), dtype=np.float16).dtype == np.float16


def test_small_random_int_and_empty_shapes():
    assert small_random(5, seed=0).shape == (5,)
    assert small_random((), seed=0).shape == ()
    assert small_random((0, 3), seed=0).shape == (0, 3)
    np.testing.assert_array_equal(small_random((2, 2), scale=0.0, seed=0), 0.0)


@pytest.mark.parametrize("init", INITS)
def test_init_seeded_reproducibility(init):
    a = init((4, 6), seed=123)
    np.testing.assert_array_equal(a, init((4, 6), seed=123))
    np.testing.assert_array_equal(a, init((4, 6), seed=np.random.default_rng(123)))
    assert not np.array_equal(a, init((4, 6), seed=124))
    gen = np.random.default_rng(5)
    assert not np.array_equal(init((4, 6), seed=gen), init((4, 6), seed=gen))  # gen advances
    # the draw is made in float64: the float32 result is the float64 one rounded
    w64 = init((4, 6), dtype=np.float64, seed=7)
    np.testing.assert_array_equal(init((4, 6), dtype=np.float32, seed=7), w64.astype(np.float32))


def test_small_random_std(rng):
    w = small_random(BIG, scale=0.05, dtype=np.float64, seed=rng)
    assert w.std() == pytest.approx(0.05, rel=STD_RTOL)
    assert abs(w.mean()) < 0.05 * 0.01  # 0.01 std = 4.5 standard errors of the mean


def test_xavier_normal_std(rng):
    w = xavier_normal(BIG, dtype=np.float64, seed=rng)
    expected = math.sqrt(2.0 / (400 + 500))
    assert w.std() == pytest.approx(expected, rel=STD_RTOL)
    assert abs(w.mean()) < expected * 0.01


def test_xavier_uniform_limit_and_std(rng):
    w = xavier_uniform(BIG, dtype=np.float64, seed=rng)
    limit = math.sqrt(6.0 / (400 + 500))
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.999 * limit  # 200 000 draws reach the ends of the interval
    assert w.min() < -0.999 * limit
    # Var(U(-a, a)) = a**2 / 3, the same as xavier_normal's 2 / (fan_in + fan_out)
    assert w.std() == pytest.approx(math.sqrt(2.0 / 900), rel=STD_RTOL)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0])
def test_he_normal_std(slope, rng):
    w = he_normal(BIG, negative_slope=slope, dtype=np.float64, seed=rng)
    assert w.std() == pytest.approx(math.sqrt(2.0 / ((1.0 + slope**2) * 400)), rel=STD_RTOL)


def test_he_normal_relu_and_leaky_literal_stds(rng):
    # fan_in 50: ReLU std = sqrt(2 / 50) = 0.2; slope 1 (linear) std = sqrt(1 / 50)
    w = he_normal((50, 4000), seed=rng, dtype=np.float64)
    assert w.std() == pytest.approx(0.2, rel=STD_RTOL)
    w = he_normal((50, 4000), negative_slope=1.0, seed=rng, dtype=np.float64)
    assert w.std() == pytest.approx(math.sqrt(0.02), rel=STD_RTOL)


def test_init_conv_fans(rng):
    # (F, C, HH, WW) = (64, 8, 5, 5): fan_in = 200, fan_out = 1600; 12 800 draws, so the
    # relative standard error is 0.6% and the tolerance 3%
    shape = (64, 8, 5, 5)
    assert fans(shape) == (200, 1600)
    w = he_normal(shape, seed=rng, dtype=np.float64)
    assert w.std() == pytest.approx(math.sqrt(2.0 / 200), rel=0.03)
    w = xavier_normal(shape, seed=rng, dtype=np.float64)
    assert w.std() == pytest.approx(math.sqrt(2.0 / 1800), rel=0.03)


def test_init_explicit_fans(rng):
    w = xavier_normal(BIG, fan_in=10, fan_out=40, seed=rng, dtype=np.float64)
    assert w.std() == pytest.approx(0.2, rel=STD_RTOL)  # sqrt(2 / 50)
    w = xavier_uniform((100_000,), fan_in=3, fan_out=3, seed=rng)
    assert np.abs(w).max() <= 1.0  # sqrt(6 / 6)
    w = he_normal((8, 4, 6), fan_in=8, seed=rng)  # 3-D: fans only explicit
    assert w.shape == (8, 4, 6)
    w = xavier_normal(BIG, fan_in=100, seed=rng, dtype=np.float64)  # fan_out from the shape
    assert w.std() == pytest.approx(math.sqrt(2.0 / 600), rel=STD_RTOL)


def test_fans_values():
    assert fans((3, 7)) == (3, 7)
    assert fans([2, 3, 4, 5]) == (3 * 4 * 5, 2 * 4 * 5)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: small_random((2, -1)), ValueError, "shape"),
        (lambda: small_random((2, 1.5)), TypeError, "shape"),
        (lambda: small_random("2x3"), TypeError, "shape"),
        (lambda: small_random((2, 3), scale=-0.1), ValueError, "scale"),
        (lambda: small_random((2, 3), scale=float("nan")), ValueError, "scale"),
        (lambda: small_random((2, 3), scale="big"), TypeError, "scale"),
        (lambda: small_random((2, 3), dtype=np.int32), TypeError, "dtype"),
        (lambda: small_random((2, 3), dtype="not a dtype"), TypeError, "dtype"),
        (lambda: small_random((2, 3), seed=-1), ValueError, "seed"),
        (lambda: small_random((2, 3), seed=1.5), TypeError, "seed"),
        (lambda: small_random((2, 3), seed=True), TypeError, "seed"),
        (lambda: xavier_normal((2, 3, 4)), ValueError, "fan_in"),
        (lambda: xavier_normal((2, 3, 4), fan_in=3), ValueError, "fan_out"),
        (lambda: xavier_normal((2, 3), fan_in=0), ValueError, "fan_in"),
        (lambda: xavier_uniform((2, 3), fan_out=-4), ValueError, "fan_out"),
        (lambda: xavier_uniform((2, 3), fan_out=4.0), TypeError, "fan_out"),
        (lambda: xavier_uniform((0, 3)), ValueError, "fan_in"),
        (lambda: he_normal(5), ValueError, "fan_in"),
        (lambda: he_normal((2, 3), negative_slope=-0.1), ValueError, "negative_slope"),
        (lambda: he_normal((2, 3), negative_slope=float("inf")), ValueError, "negative_slope"),
        (lambda: he_normal((2, 3), dtype=complex), TypeError, "dtype"),
        (lambda: fans((1, 2, 3)), ValueError, "shape"),
    ],
)
def test_init_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
