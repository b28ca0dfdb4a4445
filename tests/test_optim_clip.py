"""Gradient clipping by global norm (cs231n_fast.optim.clip_grad_norm)."""

import math
import types

import numpy as np
import pytest

from cs231n_fast.optim import clip_grad_norm


def _grads(rng, dtype, scale=1.0):
    return {
        "W": (scale * rng.standard_normal((4, 5))).astype(dtype),
        "b": (scale * rng.standard_normal(5)).astype(dtype),
        "Wh": (scale * rng.standard_normal((3, 3, 2))).astype(dtype),
    }


def _norm64(grads):
    return math.sqrt(sum(float(np.sum(np.asarray(g, np.float64) ** 2)) for g in grads.values()))


def _snapshot(grads):
    return {k: np.array(g, copy=True) for k, g in grads.items()}


def test_clip_scales_to_max_norm(dtype, rng):
    grads = _grads(rng, dtype, scale=10.0)
    before = _snapshot(grads)
    total_expected = _norm64(grads)
    assert total_expected > 5.0
    clipped, total = clip_grad_norm(grads, 5.0)
    assert isinstance(total, float)
    assert total == pytest.approx(total_expected, rel=1e-12)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    assert _norm64(clipped) == pytest.approx(5.0, rel=tol)
    assert list(clipped) == list(grads)
    for k, g in grads.items():
        assert clipped[k].dtype == dtype and clipped[k].shape == g.shape, k
        np.testing.assert_allclose(clipped[k], g.astype(np.float64) * (5.0 / total_expected),
                                   rtol=tol, atol=0)
        np.testing.assert_array_equal(g, before[k])  # the input is not modified
        assert not np.shares_memory(clipped[k], g)


def test_clip_below_threshold_is_identity_on_new_arrays(dtype, rng):
    grads = _grads(rng, dtype, scale=0.1)
    before = _snapshot(grads)
    clipped, total = clip_grad_norm(grads, 100.0)
    assert total == pytest.approx(_norm64(grads), rel=1e-12)
    assert clipped is not grads and list(clipped) == list(grads)
    for k, g in grads.items():
        assert clipped[k].dtype == dtype
        np.testing.assert_array_equal(clipped[k], g)
        assert clipped[k] is not g and not np.shares_memory(clipped[k], g)
        clipped[k][...] = 0  # the copies are independent of the input
        np.testing.assert_array_equal(g, before[k])


def test_clip_at_exactly_max_norm_leaves_values(rng):
    grads = {"a": np.array([3.0, 4.0])}
    clipped, total = clip_grad_norm(grads, 5.0)
    assert total == 5.0
    np.testing.assert_array_equal(clipped["a"], [3.0, 4.0])
    clipped, total = clip_grad_norm(grads, 2.5)
    np.testing.assert_allclose(clipped["a"], [1.5, 2.0], rtol=1e-15)


def test_clip_mixed_dtypes_and_mappings(rng):
    grads = types.MappingProxyType({
        "w32": rng.standard_normal((3, 3)).astype(np.float32),
        "w64": rng.standard_normal(4),
        "w16": np.array([100.0, -50.0], dtype=np.float16),
        "scalar": np.float64(7.0),
    })
    clipped, total = clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(_norm64(grads), rel=1e-12)
    assert {k: c.dtype for k, c in clipped.items()} == {k: np.asarray(g).dtype for k, g in grads.items()}
    assert clipped["scalar"].shape == () and isinstance(clipped["scalar"], np.ndarray)
    assert _norm64(clipped) == pytest.approx(1.0, rel=1e-3)  # float16 precision
    assert clip_grad_norm({}, 1.0) == ({}, 0.0)


def test_clip_total_norm_accumulates_in_float64():
    # Squares of 1e20 overflow float32 (max ~3.4e38); the float64 total is exact.
    grads = {"a": np.full(4, 1e20, dtype=np.float32)}
    clipped, total = clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(2e20, rel=1e-7)
    np.testing.assert_allclose(clipped["a"], 0.5, rtol=1e-6)
    assert clipped["a"].dtype == np.float32


def test_clip_huge_finite_float64_does_not_overflow():
    grads = {"a": np.array([1e200, -1e200]), "b": np.array([1e200])}
    clipped, total = clip_grad_norm(grads, 3.0)
    assert total == pytest.approx(math.sqrt(3) * 1e200, rel=1e-12)
    np.testing.assert_allclose(clipped["a"], [math.sqrt(3), -math.sqrt(3)], rtol=1e-12)


def test_clip_layer_grads(rng):
    from cs231n_fast.nn import RNN

    layer = RNN(3, 4, dtype=np.float64, seed=0)
    layer(rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4)))
    layer.backward(100 * rng.standard_normal((2, 5, 4)))
    clipped, total = clip_grad_norm(layer.grads, 1.0)
    assert total > 1.0 and set(clipped) == {"Wx", "Wh", "b"}
    assert _norm64(clipped) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("max_norm", [0, 0.0, -1.0, float("nan"), float("inf"), -np.inf, "5", None, True,
                                      np.array([1.0, 2.0])])
def test_clip_bad_max_norm(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm({"a": np.ones(3)}, max_norm)


def test_clip_accepts_numpy_scalar_max_norm():
    clipped, total = clip_grad_norm({"a": np.array([6.0, 8.0])}, np.float32(5.0))
    np.testing.assert_allclose(clipped["a"], [3.0, 4.0], rtol=1e-15)
    assert total == 10.0


@pytest.mark.parametrize(
    "grads, match",
    [
        ([np.ones(3)], "grads must be a mapping"),
        (np.ones(3), "grads must be a mapping"),
        ({"W": None}, "grads\\['W'\\]"),
        ({"W": np.ones(2), "idx": np.array([1, 2])}, "grads\\['idx'\\]"),
        ({"flag": np.array([True])}, "grads\\['flag'\\]"),
        ({"z": np.array([1j])}, "grads\\['z'\\]"),
    ],
)
def test_clip_bad_grads_type(grads, match):
    with pytest.raises(TypeError, match=match):
        clip_grad_norm(grads, 1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_clip_non_finite_gradient_names_key(bad, dtype):
    grads = {"W": np.ones((2, 2), dtype), "b": np.array([1.0, bad], dtype)}
    with pytest.raises(ValueError, match="grads\\['b'\\]"):
        clip_grad_norm(grads, 1.0)
