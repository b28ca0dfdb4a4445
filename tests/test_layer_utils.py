"""The course's sandwich layers (cs231n_fast.layer_utils): forward against plain NumPy, gradients
against centred differences, caches, dtypes, validation.

Expected values come from NumPy written out in this file (convolution through
``sliding_window_view``, pooling by window maxima, normalisation by its formula), never from
the code under test.
"""

import copy
import warnings
from typing import Callable, NamedTuple

import numpy as np
import pytest
from helpers import assert_matches_reference, grad_error, numerical_grad
from numpy.lib.stride_tricks import sliding_window_view

from cs231n_fast import fast_layers, layers
from cs231n_fast import layer_utils as LU
from cs231n_fast._cache import ConvCache, PoolCache
from cs231n_fast.layers import LayerCache

GRAD_RTOL = 1e-7  # max relative error of an analytic gradient against centred differences
STEP = 1e-5  # centred-difference step
# Every ReLU input, and the gap between the two largest positive values of every pooling
# window, is kept at least MARGIN from its kink: a step of STEP moves them by at most
# ~STEP * 10 here, so no kink is crossed.
MARGIN = 1e-3
# Centred differences carry an absolute noise of ~1e-10, so entries of a gradient near 0 say
# nothing; dout is redrawn until every gradient entry is exactly 0 (a dead unit, a pooled-away
# value) or at least GRAD_FLOOR in magnitude, as in test_layers.py.
GRAD_FLOOR = 1e-3
EPS = 1e-5  # the normalisations' default eps


# --- plain-NumPy forwards: (out, values that must keep MARGIN from a kink) ----------------------


def np_conv(x, w, b, stride, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,fcij->nfhw", win, w) + b[:, None, None]


def np_pool(x, ph, pw, stride):
    """Max pooling, and the gap between the two largest values of every window whose maximum
    is positive (windows of ReLU outputs that are all zero have no gradient to misroute)."""
    win = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    win = win.reshape(*win.shape[:4], ph * pw)
    top2 = np.sort(win, axis=-1)[..., -2:]
    live = top2[..., 1] > 0
    return top2[..., 1], (top2[..., 1] - top2[..., 0])[live]


def np_norm(a, gamma, beta, axis, mean=None, var=None):
    if mean is None:
        mean, var = a.mean(axis=axis, keepdims=True), a.var(axis=axis, keepdims=True)
    return (a - mean) / np.sqrt(var + EPS) * gamma + beta


def np_affine_relu(x, w, b):
    a = x.reshape(x.shape[0], -1) @ w + b
    return np.maximum(a, 0), [a]


def np_affine_bn_relu(x, w, b, gamma, beta, bn_param):
    a = x.reshape(x.shape[0], -1) @ w + b
    if bn_param["mode"] == "train":
        an = np_norm(a, gamma, beta, 0)
    else:
        an = np_norm(a, gamma, beta, 0, bn_param["running_mean"], bn_param["running_var"])
    return np.maximum(an, 0), [an]


def np_affine_ln_relu(x, w, b, gamma, beta, ln_param):
    an = np_norm(x.reshape(x.shape[0], -1) @ w + b, gamma, beta, 1)
    return np.maximum(an, 0), [an]


def np_conv_relu(x, w, b, conv_param):
    a = np_conv(x, w, b, conv_param["stride"], conv_param["pad"])
    return np.maximum(a, 0), [a]


def np_conv_bn_relu(x, w, b, gamma, beta, conv_param, bn_param):
    a = np_conv(x, w, b, conv_param["stride"], conv_param["pad"])
    an = np_norm(a, gamma[:, None, None], beta[:, None, None], (0, 2, 3))
    return np.maximum(an, 0), [an]


def np_conv_relu_pool(x, w, b, conv_param, pool_param):
    a = np_conv(x, w, b, conv_param["stride"], conv_param["pad"])
    ph, pw, stride = (pool_param[k] for k in ("pool_height", "pool_width", "stride"))
    out, gaps = np_pool(np.maximum(a, 0), ph, pw, stride)
    return out, [a, gaps]


# --- cases --------------------------------------------------------------------------------------


def _signed(rng, shape):
    """Values of either sign with magnitude in [0.5, 1.5] (a gamma near 0 would flatten dx)."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape)


def _running(rng, d):
    return {"mode": "test", "running_mean": rng.standard_normal(d), "running_var": rng.uniform(0.5, 2, d)}


class Case(NamedTuple):
    """A sandwich layer under test. The backward returns one gradient per leading argument of
    the forward, in order; ``zero_grads`` lists those that are identically zero (the bias
    before a batch normalisation: the normalisation subtracts it out again)."""

    forward: Callable
    backward: Callable
    oracle: Callable  # the plain-NumPy forward: (out, values to keep MARGIN from a kink)
    make: Callable  # rng -> the forward's arguments
    n_grads: int
    zero_grads: tuple = ()


CONV = {"stride": 1, "pad": 1}
CASES = {
    "affine_relu": Case(
        LU.affine_relu_forward, LU.affine_relu_backward, np_affine_relu,
        lambda r: [r.standard_normal((4, 2, 3)), r.standard_normal((6, 5)), r.standard_normal(5)],
        3,
    ),
    "affine_bn_relu": Case(
        LU.affine_bn_relu_forward, LU.affine_bn_relu_backward, np_affine_bn_relu,
        lambda r: [r.standard_normal((5, 4)) + 1, r.standard_normal((4, 3)), r.standard_normal(3),
                   _signed(r, 3), r.standard_normal(3), {"mode": "train"}],
        5, zero_grads=(2,),
    ),
    "affine_bn_relu_test_mode": Case(
        LU.affine_bn_relu_forward, LU.affine_bn_relu_backward, np_affine_bn_relu,
        lambda r: [r.standard_normal((5, 4)), r.standard_normal((4, 3)), r.standard_normal(3),
                   _signed(r, 3), r.standard_normal(3), _running(r, 3)],
        5,
    ),
    "affine_ln_relu": Case(
        LU.affine_ln_relu_forward, LU.affine_ln_relu_backward, np_affine_ln_relu,
        lambda r: [r.standard_normal((3, 4)), r.standard_normal((4, 5)), r.standard_normal(5),
                   _signed(r, 5), r.standard_normal(5), {}],
        5,
    ),
    "conv_relu": Case(
        LU.conv_relu_forward, LU.conv_relu_backward, np_conv_relu,
        lambda r: [r.standard_normal((2, 2, 4, 5)), r.standard_normal((3, 2, 3, 3)), r.standard_normal(3),
                   {"stride": 2, "pad": 1}],
        3,
    ),
    "conv_bn_relu": Case(
        LU.conv_bn_relu_forward, LU.conv_bn_relu_backward, np_conv_bn_relu,
        lambda r: [r.standard_normal((2, 2, 3, 3)), r.standard_normal((3, 2, 3, 3)), r.standard_normal(3),
                   _signed(r, 3), r.standard_normal(3), dict(CONV), {"mode": "train"}],
        5, zero_grads=(2,),
    ),
    "conv_relu_pool": Case(
        LU.conv_relu_pool_forward, LU.conv_relu_pool_backward, np_conv_relu_pool,
        lambda r: [r.standard_normal((2, 2, 4, 4)), r.standard_normal((3, 2, 3, 3)), r.standard_normal(3),
                   dict(CONV), {"pool_height": 2, "pool_width": 2, "stride": 2}],
        3,
    ),
    "conv_relu_pool_overlapping": Case(  # non-square, overlapping windows; no padding
        LU.conv_relu_pool_forward, LU.conv_relu_pool_backward, np_conv_relu_pool,
        lambda r: [r.standard_normal((2, 1, 5, 6)), r.standard_normal((2, 1, 2, 3)), r.standard_normal(2),
                   {"stride": 1, "pad": 0}, {"pool_height": 3, "pool_width": 2, "stride": 1}],
        3,
    ),
}  # fmt: skip


def kink_free_args(rng, case):
    """Arguments for ``case`` whose ReLU inputs and pooling gaps all keep MARGIN from a kink."""
    for _ in range(100):
        args = CASES[case].make(rng)
        _, watched = CASES[case].oracle(*copy.deepcopy(args))
        if all(np.min(np.abs(a)) > MARGIN for a in watched if a.size):
            return args
    raise AssertionError("test data: no draw kept every kink MARGIN away")


def well_conditioned_dout(rng, shape, backward, cache, zero_grads=()):
    """``(dout, grads)``: a random dout whose gradients (but those in ``zero_grads``) have no
    entry in (0, GRAD_FLOOR) in magnitude, and those gradients."""
    for _ in range(100):
        dout = rng.standard_normal(shape)
        grads = backward(dout, cache)
        checked = [g for i, g in enumerate(grads) if i not in zero_grads]
        if all(np.all((g == 0) | (np.abs(g) >= GRAD_FLOOR)) for g in checked):
            return dout, grads
    raise AssertionError("test data: no dout found with every gradient entry 0 or >= GRAD_FLOOR")


def cast_args(args, dtype):
    return [a.astype(dtype) if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args]


# --- forward and gradients ----------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_sandwich_forward_matches_numpy(rng, case):
    args = kink_free_args(rng, case)
    out, _ = CASES[case].forward(*copy.deepcopy(args))
    expected, _ = CASES[case].oracle(*args)
    assert_matches_reference(out, expected, np.float64, case)


@pytest.mark.parametrize("case", list(CASES))
def test_sandwich_backward_gradcheck(rng, case):
    forward, backward, _, _, n_grads, zero_grads = CASES[case]
    args = kink_free_args(rng, case)
    out, cache = forward(*copy.deepcopy(args))
    dout, grads = well_conditioned_dout(rng, out.shape, backward, cache, zero_grads)
    assert len(grads) == n_grads
    for i, grad in enumerate(grads):

        def f(a, i=i):
            trial = copy.deepcopy(args)
            trial[i] = a
            return forward(*trial)[0]

        num = numerical_grad(f, args[i], dout, h=STEP)
        assert grad.shape == np.shape(args[i]), f"gradient {i}"
        if i in zero_grads:  # both are rounding noise around 0: bounds, not a relative error
            assert np.max(np.abs(grad)) < 1e-12 and np.max(np.abs(num)) < 1e-8, f"gradient {i}"
        else:
            err = grad_error(grad, num)  # vs the gradient's scale (helpers.grad_error)
            assert err < GRAD_RTOL, f"gradient {i}: error {err:.2e}"


@pytest.mark.parametrize("case", list(CASES))
def test_sandwich_dtype_follows_inputs(rng, dtype, case):
    forward, backward = CASES[case].forward, CASES[case].backward
    args = cast_args(kink_free_args(rng, case), dtype)
    out, cache = forward(*args)
    grads = backward(np.ones_like(out), cache)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in grads)


@pytest.mark.parametrize("case", list(CASES))
def test_sandwich_inputs_unchanged(rng, case):
    forward, backward = CASES[case].forward, CASES[case].backward
    args = kink_free_args(rng, case)
    arrays = [a.copy() for a in args if isinstance(a, np.ndarray)]
    out, cache = forward(*args)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()
    backward(dout, cache)
    for before, after in zip(arrays, (a for a in args if isinstance(a, np.ndarray))):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(dout, dout_copy)


# --- caches and state ---------------------------------------------------------------------------


def _producer(sub):
    return sub.producer if isinstance(sub, LayerCache) else type(sub)


@pytest.mark.parametrize(
    "case, parts",
    [
        ("affine_relu", ["affine_forward", "relu_forward"]),
        ("affine_bn_relu", ["affine_forward", "batchnorm_forward", "relu_forward"]),
        ("affine_ln_relu", ["affine_forward", "layernorm_forward", "relu_forward"]),
        ("conv_relu", [ConvCache, "relu_forward"]),
        ("conv_bn_relu", [ConvCache, "spatial_batchnorm_forward", "relu_forward"]),
        ("conv_relu_pool", [ConvCache, "relu_forward", PoolCache]),
    ],
)
def test_sandwich_cache_is_tuple_of_subcaches(rng, case, parts):
    _, cache = CASES[case].forward(*kink_free_args(rng, case))
    assert isinstance(cache, tuple)
    assert [_producer(sub) for sub in cache] == parts


@pytest.mark.parametrize(
    "forward, make",
    [
        (LU.affine_bn_relu_forward, lambda x, p: (x, np.eye(3), np.zeros(3), np.ones(3), np.zeros(3), p)),
        (
            LU.conv_bn_relu_forward,
            lambda x, p: (x.reshape(8, 3, 1, 1), np.eye(3).reshape(3, 3, 1, 1), np.zeros(3), np.ones(3),
                          np.zeros(3), {"stride": 1, "pad": 0}, p),
        ),
    ],
    ids=["affine_bn_relu", "conv_bn_relu"],
)  # fmt: skip
def test_sandwich_bn_running_stats_updated_in_bn_param(rng, forward, make):
    # Identity weights: the batchnorm sees x itself, so the running statistics after one train
    # step are (1 - momentum) times the batch mean and variance of x.
    x = rng.standard_normal((8, 3)) * 2 + 1
    bn_param = {"mode": "train", "momentum": 0.5}
    forward(*make(x, bn_param))
    np.testing.assert_allclose(bn_param["running_mean"], 0.5 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], 0.5 * x.var(axis=0), rtol=1e-12)


def test_conv_relu_pool_reference_kernels_match_fast(rng, dtype):
    # The "reference" kernels (the NumPy twin) that ThreeLayerConvNet(backend="reference") uses.
    args = cast_args(kink_free_args(rng, "conv_relu_pool"), dtype)
    fast, ref = LU._KERNELS["fast"], LU._KERNELS["reference"]
    out, cache = LU._conv_relu_pool_forward(*args, fast)
    out_ref, cache_ref = LU._conv_relu_pool_forward(*args, ref)
    assert_matches_reference(out, out_ref, dtype, "out")
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = LU._conv_relu_pool_backward(dout, cache, fast)
    grads_ref = LU._conv_relu_pool_backward(dout, cache_ref, ref)
    for g, g_ref, what in zip(grads, grads_ref, ("dx", "dw", "db")):
        assert_matches_reference(g, g_ref, dtype, what)


# --- validation ---------------------------------------------------------------------------------


def _x(*shape):
    return np.zeros(shape)


def _cache_of(case):
    return CASES[case].forward(*CASES[case].make(np.random.default_rng(0)))[1]


POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
NO_WIDTH = {"pool_height": 2, "stride": 2}
BAD = [
    (lambda: LU.affine_relu_forward(_x(2, 3), _x(4, 5), _x(5)), ValueError, "w must have shape"),
    (lambda: LU.affine_relu_forward(_x(2, 3), _x(3, 5), _x(4)), ValueError, "b must have shape"),
    (lambda: LU.affine_relu_forward(_x(2, 3).astype(complex), _x(3, 5), _x(5)), TypeError, "x must be"),
    (lambda: LU.affine_bn_relu_forward(_x(2, 3), _x(3, 4), _x(4), _x(3), _x(4), {"mode": "train"}), ValueError,
     "gamma"),
    (lambda: LU.affine_bn_relu_forward(_x(2, 3), _x(3, 4), _x(4), _x(4), _x(4), {}), ValueError, "mode"),
    (lambda: LU.affine_bn_relu_forward(_x(2, 3), _x(3, 4), _x(4), _x(4), _x(4), None), TypeError, "bn_param"),
    (lambda: LU.affine_ln_relu_forward(_x(2, 3), _x(3, 4), _x(4), _x(4), _x(5), {}), ValueError, "beta"),
    (lambda: LU.affine_ln_relu_forward(_x(2, 3), _x(3, 4), _x(4), _x(4), _x(4), None), TypeError, "ln_param"),
    (lambda: LU.conv_relu_forward(_x(2, 3, 4, 4), _x(2, 2, 3, 3), _x(2), CONV), ValueError, "w must have shape"),
    (lambda: LU.conv_relu_forward(_x(2, 3, 4, 4), _x(2, 3, 3, 3), _x(2), {"pad": 1}), ValueError, "conv_param"),
    (lambda: LU.conv_relu_forward(_x(2, 3, 4), _x(2, 3, 3, 3), _x(2), CONV), ValueError, "x must be"),
    (lambda: LU.conv_bn_relu_forward(_x(2, 3, 4, 4), _x(2, 3, 3, 3), _x(2), _x(3), _x(2), CONV, {"mode": "train"}),
     ValueError, "gamma"),
    (lambda: LU.conv_bn_relu_forward(_x(2, 3, 4, 4), _x(2, 3, 3, 3), _x(2), _x(2), _x(2), CONV, {}), ValueError,
     "mode"),
    (lambda: LU.conv_relu_pool_forward(_x(2, 3, 4, 4), _x(2, 3, 3, 3), _x(2), CONV, NO_WIDTH), ValueError,
     "pool_param"),
    (lambda: LU.conv_relu_pool_forward(_x(2, 3, 4, 4), _x(2, 3, 3, 3), _x(3), CONV, POOL), ValueError, "b must"),
    (lambda: LU.conv_relu_pool_forward(_x(2, 3, 4, 4), _x(2, 3, 3, 3), _x(2), CONV, [2, 2, 2]), TypeError,
     "pool_param"),
    # backwards: dout against the forward output, cache against its forward
    (lambda: LU.affine_relu_backward(_x(4, 3), _cache_of("affine_relu")), ValueError, "dout"),
    (lambda: LU.conv_relu_pool_backward(_x(2, 3, 4, 4), _cache_of("conv_relu_pool")), ValueError, "dout"),
    (lambda: LU.affine_relu_backward(_x(4, 5), _cache_of("affine_bn_relu")), TypeError, "cache"),
    (lambda: LU.affine_bn_relu_backward(_x(5, 3), _cache_of("affine_relu")), TypeError, "cache"),
    (lambda: LU.affine_ln_relu_backward(_x(3, 5), None), TypeError, "cache"),
    (lambda: LU.conv_relu_backward(_x(2, 3, 2, 3), list(_cache_of("conv_relu"))), TypeError, "cache"),
    (lambda: LU.conv_bn_relu_backward(_x(2, 3, 3, 3), _cache_of("conv_relu_pool")), TypeError, "cache"),
    (lambda: LU.conv_relu_pool_backward(_x(2, 3, 2, 2), _cache_of("conv_relu")), TypeError, "cache"),
]  # fmt: skip


@pytest.mark.parametrize("call, exc, match", BAD)
def test_layer_utils_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_layer_utils_star_import_gives_course_names():
    course = {
        "affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
        "conv_bn_relu_forward", "conv_bn_relu_backward", "conv_relu_pool_forward",
        "conv_relu_pool_backward",
    }  # fmt: skip
    ours = {
        "affine_bn_relu_forward", "affine_bn_relu_backward", "affine_ln_relu_forward",
        "affine_ln_relu_backward",
    }  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        namespace = {}
        exec("from cs231n_fast.layer_utils import *", namespace)
    # The course's module starts with star imports of layers and fast_layers, re-exported.
    expected = course | ours | set(layers.__all__) | set(fast_layers.__all__)
    assert expected <= set(namespace)
    assert all(callable(getattr(LU, name)) for name in LU.__all__)
