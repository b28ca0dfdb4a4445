"""The course's ``layers`` module (cs231n_fast.layers): gradients, statistics, losses, validation.

Every backward is checked against float64 centred differences of its forward. Expected values
elsewhere come from hand computations or from NumPy written out in the test, never from the
code under test.
"""

import copy
import math
import warnings

import numpy as np
import pytest
from helpers import RTOL, assert_matches_reference, numerical_grad, rel_error, spaced

from cs231n_fast import layers as L
from cs231n_fast.reference import activations as R_act
from cs231n_fast.reference import linear as R_linear
from cs231n_fast.reference import losses as R_losses
from cs231n_fast.reference import norm as R_norm

GRAD_RTOL = 1e-7  # max relative error of an analytic gradient against centred differences
STEP = 1e-5  # centred-difference step; every kink below is at least 1e-3 away from the inputs
# Centred differences carry an absolute noise of ~1e-10 here (rounding in the forward, divided
# by 2 * STEP), so the elementwise relative error says nothing about gradient entries near 0.
# dout is therefore redrawn until every entry is exactly 0 (a structural zero, e.g. a dropped
# unit) or at least GRAD_FLOOR in magnitude; over 40 seeds the worst error was then 5e-8.
GRAD_FLOOR = 1e-3


def kinkfree(rng, shape):
    """Distinct values 0.25 apart, none closer than 0.125 to 0 (the kink of ReLU and friends)."""
    return spaced(rng, shape, 0.25) + 0.125


def maxout_inputs(rng):
    """x (4, 2, 3), w (3, 6, 5), b (3, 5) whose best two pieces are >= 1e-3 apart everywhere."""
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((3, 6, 5)), rng.standard_normal((3, 5))
    z = np.einsum("nd,kdm->nkm", x.reshape(4, 6), w) + b
    top = np.sort(z, axis=1)
    assert np.min(top[:, -1] - top[:, -2]) > 1e-3, "test data: two pieces nearly tie"
    assert len(np.unique(np.argmax(z, axis=1))) > 1, "test data: one piece wins everywhere"
    return [x, w, b]


def bn_param(rng, mode, d):
    param = {"mode": mode}
    if mode == "test":
        param.update(running_mean=rng.standard_normal(d), running_var=rng.uniform(0.5, 2.0, d))
    return param


def normalisation_inputs(rng, shape, param_shape, param):
    """Data with a non-zero mean and non-unit scale; gamma of either sign, |gamma| in [0.5, 1.5]
    (a gamma near 0 would make dx near 0), and beta."""
    x = 1.5 * rng.standard_normal(shape) + 2
    gamma = rng.choice([-1.0, 1.0], param_shape) * rng.uniform(0.5, 1.5, param_shape)
    return [x, gamma, rng.standard_normal(param_shape), param]


# id -> (forward, backward, make(rng) -> forward's arguments, number of gradients). The backward
# returns one gradient per leading argument, in order.
CASES = {
    "affine": (
        L.affine_forward,
        L.affine_backward,
        lambda r: [r.standard_normal((3, 2, 3)), r.standard_normal((6, 4)), r.standard_normal(4)],
        3,
    ),
    # A 1-D x is N examples of one feature (D = 1), as the course's x.reshape(N, -1) reads it.
    "affine_1d_x": (
        L.affine_forward,
        L.affine_backward,
        lambda r: [r.standard_normal(5), r.standard_normal((1, 4)), r.standard_normal(4)],
        3,
    ),
    "relu": (L.relu_forward, L.relu_backward, lambda r: [kinkfree(r, (3, 4))], 1),
    "batchnorm": (
        L.batchnorm_forward,
        L.batchnorm_backward,
        lambda r: normalisation_inputs(r, (5, 3), 3, bn_param(r, "train", 3)),
        3,
    ),
    "batchnorm_alt": (
        L.batchnorm_forward,
        L.batchnorm_backward_alt,
        lambda r: normalisation_inputs(r, (5, 3), 3, bn_param(r, "train", 3)),
        3,
    ),
    "batchnorm_test_mode": (
        L.batchnorm_forward,
        L.batchnorm_backward,
        lambda r: normalisation_inputs(r, (5, 3), 3, bn_param(r, "test", 3)),
        3,
    ),
    "batchnorm_alt_test_mode": (
        L.batchnorm_forward,
        L.batchnorm_backward_alt,
        lambda r: normalisation_inputs(r, (5, 3), 3, bn_param(r, "test", 3)),
        3,
    ),
    "layernorm": (
        L.layernorm_forward,
        L.layernorm_backward,
        lambda r: normalisation_inputs(r, (4, 5), 5, {}),
        3,
    ),
    "dropout": (
        L.dropout_forward,
        L.dropout_backward,
        lambda r: [r.standard_normal((4, 5)), {"mode": "train", "p": 0.6, "seed": 7}],
        1,
    ),
    "dropout_test_mode": (
        L.dropout_forward,
        L.dropout_backward,
        lambda r: [r.standard_normal((4, 5)), {"mode": "test", "p": 0.6}],
        1,
    ),
    "spatial_batchnorm": (
        L.spatial_batchnorm_forward,
        L.spatial_batchnorm_backward,
        lambda r: normalisation_inputs(r, (2, 3, 2, 2), 3, bn_param(r, "train", 3)),
        3,
    ),
    "spatial_groupnorm": (
        lambda x, gamma, beta, param: L.spatial_groupnorm_forward(x, gamma, beta, 2, param),
        L.spatial_groupnorm_backward,
        lambda r: normalisation_inputs(r, (2, 4, 2, 3), (1, 4, 1, 1), {"eps": 1e-5}),
        3,
    ),
    # Inputs in [-2, 2]: away from saturation, where the derivative is near 0 whatever dout.
    "sigmoid": (L.sigmoid_forward, L.sigmoid_backward, lambda r: [r.uniform(-2, 2, (3, 4))], 1),
    "tanh": (L.tanh_forward, L.tanh_backward, lambda r: [r.uniform(-2, 2, (3, 4))], 1),
    "leaky_relu": (L.leaky_relu_forward, L.leaky_relu_backward, lambda r: [kinkfree(r, (3, 4))], 1),
    "leaky_relu_alpha": (
        lambda x: L.leaky_relu_forward(x, alpha=0.2),
        L.leaky_relu_backward,
        lambda r: [kinkfree(r, (3, 4))],
        1,
    ),
    "prelu_scalar": (
        L.prelu_forward,
        L.prelu_backward,
        lambda r: [kinkfree(r, (3, 4)), np.array(0.2)],
        2,
    ),
    "prelu_per_channel": (
        L.prelu_forward,
        L.prelu_backward,
        lambda r: [kinkfree(r, (3, 4, 2)), r.uniform(0.0, 0.5, 4)],
        2,
    ),
    "elu": (
        lambda x: L.elu_forward(x, alpha=1.5),
        L.elu_backward,
        lambda r: [kinkfree(r, (3, 4))],
        1,
    ),
    "maxout": (L.maxout_forward, L.maxout_backward, maxout_inputs, 3),
}


def as_tuple(grads):
    return grads if isinstance(grads, tuple) else (grads,)


def well_conditioned_dout(rng, shape, backward, cache):
    """``(dout, grads)``: a random dout whose gradients have no entry in (0, GRAD_FLOOR) in
    magnitude, and those gradients."""
    for _ in range(100):
        dout = rng.standard_normal(shape)
        grads = as_tuple(backward(dout, cache))
        if all(np.all((g == 0) | (np.abs(g) >= GRAD_FLOOR)) for g in grads):
            return dout, grads
    raise AssertionError("test data: no dout found with every gradient entry 0 or >= GRAD_FLOOR")


def cast_args(args, dtype):
    """A deep copy of the arguments with every float array (also inside dicts) cast to dtype."""

    def cast(a):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            return a.astype(dtype)
        if isinstance(a, dict):
            return {k: cast(val) for k, val in a.items()}
        return a

    return [cast(a) for a in copy.deepcopy(args)]


def arrays_in(args):
    """Every array among the arguments, also those inside dicts."""
    for a in args:
        if isinstance(a, np.ndarray):
            yield a
        elif isinstance(a, dict):
            yield from (val for val in a.values() if isinstance(val, np.ndarray))


# --- gradient checks ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_backward_gradcheck(rng, case):
    forward, backward, make, n_grads = CASES[case]
    args = make(rng)
    out, cache = forward(*args)
    dout, grads = well_conditioned_dout(rng, out.shape, backward, cache)
    assert len(grads) == n_grads
    for i, grad in enumerate(grads):

        def f(a, i=i):
            trial = list(args)
            trial[i] = a
            return forward(*trial)[0]

        num = numerical_grad(f, args[i], dout, h=STEP)
        assert grad.shape == np.shape(args[i]), f"gradient {i}"
        assert rel_error(grad, num) < GRAD_RTOL, f"gradient {i}: rel error {rel_error(grad, num):.2e}"


@pytest.mark.parametrize("loss_fn", [L.svm_loss, L.softmax_loss], ids=["svm", "softmax"])
def test_loss_gradcheck(rng, loss_fn):
    # Scores 0.3 apart: score differences are multiples of 0.3, so no hinge x_j - x_y + 1
    # lies within 0.1 of its kink (the softmax needs no spacing but gets the same data).
    x = spaced(rng, (5, 4), 0.3)
    y = rng.integers(0, 4, size=5)
    hinge = x - x[np.arange(5), y][:, None] + 1
    assert np.min(np.abs(hinge)) > 0.05
    loss, dx = loss_fn(x, y)
    num = numerical_grad(lambda a: loss_fn(a, y)[0], x, 1.0, h=STEP)
    assert rel_error(dx, num) < GRAD_RTOL


# --- batch, layer and group normalisation -------------------------------------------------------


@pytest.mark.parametrize("mode", ["train", "test"])
def test_batchnorm_backward_matches_alt(rng, dtype, mode):
    # Both backwards (one compiled closed form here) against the course's node-by-node walk
    # of the graph (reference.norm.batchnorm_backward_graph, an independent derivation) in
    # float64 on the same values; test mode: the running statistics are constants.
    x, gamma, beta, param = cast_args(normalisation_inputs(rng, (16, 7), 7, bn_param(rng, mode, 7)), dtype)
    _, cache = L.batchnorm_forward(x, gamma, beta, cast_args([param], dtype)[0])
    dout = rng.standard_normal((16, 7)).astype(dtype)
    p64 = cast_args([param], np.float64)[0]
    *_, ref_cache = R_norm.batchnorm_forward(*cast_args([x, gamma, beta], np.float64), p64.get("running_mean"),
                                             p64.get("running_var"), mode=mode)
    want = R_norm.batchnorm_backward_graph(dout.astype(np.float64), ref_cache)
    for backward in (L.batchnorm_backward, L.batchnorm_backward_alt):
        for g, w, what in zip(backward(dout, cache), want, ("dx", "dgamma", "dbeta")):
            assert_matches_reference(g, w, dtype, f"{backward.__name__} {what}")


def test_batchnorm_forward_train_statistics(rng):
    # Data far from zero mean / unit variance. After gamma = 1, beta = 0 each feature has mean 0
    # and std sqrt(var / (var + eps)) = 1 - O(eps / var); with var >= 4 that is within 2e-6 of 1.
    x = rng.standard_normal((200, 3)) * np.array([2.0, 5.0, 11.0]) + np.array([12.0, -7.0, 0.5])
    out, _ = L.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, rtol=2e-6)
    # gamma and beta then set each feature's std and mean.
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 4.0])
    out, _ = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=2e-6)


def test_batchnorm_forward_test_mode_uses_running_stats(rng):
    x = rng.standard_normal((6, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = np.array([0.5, -1.0, 2.0]), np.array([4.0, 0.25, 1.0])
    param = {"mode": "test", "eps": 1e-3, "running_mean": running_mean, "running_var": running_var}
    out, _ = L.batchnorm_forward(x, gamma, beta, param)
    expected = np.empty_like(x)
    for j in range(3):
        expected[:, j] = gamma[j] * (x[:, j] - running_mean[j]) / math.sqrt(running_var[j] + 1e-3) + beta[j]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(param["running_mean"], [0.5, -1.0, 2.0])  # no update in test mode
    np.testing.assert_array_equal(param["running_var"], [4.0, 0.25, 1.0])


def test_batchnorm_forward_running_stats_converge(rng):
    # The course notebook's check: after training on batches of N(12, 5^2) data, test mode on
    # fresh data gives means near 0 and stds near 1 (tolerance 0.1, several sampling sigmas).
    param = {"mode": "train"}
    for _ in range(60):
        L.batchnorm_forward(5 * rng.standard_normal((100, 4)) + 12, np.ones(4), np.zeros(4), param)
    param["mode"] = "test"
    out, _ = L.batchnorm_forward(5 * rng.standard_normal((2000, 4)) + 12, np.ones(4), np.zeros(4), param)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=0.1)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=0.1)


def test_batchnorm_forward_running_stats_update_by_hand():
    # Two samples: batch mean (2, 4), biased batch variance (1, 4).
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    gamma, beta = np.ones(2), np.zeros(2)
    param = {"mode": "train"}  # absent stats start at zero; default momentum 0.9
    L.batchnorm_forward(x, gamma, beta, param)
    np.testing.assert_allclose(param["running_mean"], [0.2, 0.4], rtol=1e-15)
    np.testing.assert_allclose(param["running_var"], [0.1, 0.4], rtol=1e-15)
    old_mean, old_var = np.array([10.0, 20.0]), np.array([1.0, 1.0])
    param = {"mode": "train", "momentum": 0.5, "running_mean": old_mean, "running_var": old_var}
    L.batchnorm_forward(x, gamma, beta, param)
    np.testing.assert_allclose(param["running_mean"], [6.0, 12.0], rtol=1e-15)  # .5 * old + .5 * batch
    np.testing.assert_allclose(param["running_var"], [1.0, 2.5], rtol=1e-15)
    np.testing.assert_array_equal(old_mean, [10.0, 20.0])  # replaced in the dict, not written to
    np.testing.assert_array_equal(old_var, [1.0, 1.0])


def test_batchnorm_forward_creates_running_stats_in_compute_dtype(dtype):
    param = {"mode": "test"}
    out, _ = L.batchnorm_forward(np.ones((2, 3), dtype), np.ones(3, dtype), np.zeros(3, dtype), param)
    for key in ("running_mean", "running_var"):
        assert param[key].shape == (3,) and param[key].dtype == dtype
        assert not param[key].any()


def test_layernorm_forward_statistics(rng):
    x = rng.standard_normal((5, 40)) * rng.uniform(2, 10, (5, 1)) + rng.uniform(-10, 10, (5, 1))
    out, _ = L.layernorm_forward(x, np.ones(40), np.zeros(40), {})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=1), 1, rtol=2e-6)


def test_spatial_batchnorm_forward_statistics(rng):
    x = rng.standard_normal((4, 3, 5, 6)) * np.array([2.0, 4.0, 8.0])[:, None, None] + 3
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    out, _ = L.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=2e-6)


def test_spatial_groupnorm_forward_statistics(rng):
    n, c, g = 3, 6, 3
    x = rng.standard_normal((n, c, 4, 5)) * 3 + rng.uniform(-5, 5, (n, c, 1, 1))
    out, cache = L.spatial_groupnorm_forward(x, np.ones((1, c, 1, 1)), np.zeros((1, c, 1, 1)), g, {})
    groups = out.reshape(n, g, -1)  # each group: c // g consecutive channels of one sample
    np.testing.assert_allclose(groups.mean(axis=2), 0, atol=1e-12)
    np.testing.assert_allclose(groups.std(axis=2), 1, rtol=2e-6)
    _, dgamma, dbeta = L.spatial_groupnorm_backward(np.ones_like(out), cache)
    assert dgamma.shape == dbeta.shape == (1, c, 1, 1)


# --- dropout ------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.25, 0.5, 0.8])
def test_dropout_forward_train_mean_matches_test(rng, p):
    # 250 000 inputs around 1: the mean of x * mask has relative standard error
    # sqrt((1 - p) / p) / 500 <= 0.0035; the tolerance, 0.02, is more than 5 of those.
    x = rng.uniform(0.5, 1.5, (500, 500))
    train, _ = L.dropout_forward(x, {"mode": "train", "p": p, "seed": 1})
    test, _ = L.dropout_forward(x, {"mode": "test", "p": p})
    assert train.mean() == pytest.approx(test.mean(), rel=0.02)
    kept = train != 0
    assert kept.mean() == pytest.approx(p, abs=0.005)  # sampling sigma <= 0.001
    np.testing.assert_allclose(train[kept], x[kept] / p, rtol=1e-15)
    np.testing.assert_array_equal(test, x)


def test_dropout_forward_seed_reproducible(rng):
    x = rng.standard_normal((30, 40))
    state = np.random.get_state()
    a, _ = L.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 123})
    b, _ = L.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 123})
    c, _ = L.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 124})
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a != 0, c != 0)
    # NumPy's global random state left alone, and the mask is the counter-based hash of
    # (seed, element index) that reference.activations spells in NumPy (not NumPy's stream).
    after = np.random.get_state()
    assert all(np.array_equal(s, t) for s, t in zip(state, after))
    from cs231n_fast.reference.activations import dropout_keep, dropout_key

    np.testing.assert_array_equal(a != 0, dropout_keep((30, 40), dropout_key(123), 0.5))


def test_dropout_forward_seed_none_is_unseeded(rng):
    # The course calls np.random.seed(dropout_param["seed"]) when the key is present, and
    # np.random.seed(None) is a fresh draw: a None seed means "no seed", as an absent key does
    # (the mask's key then comes from NumPy's global state).
    x = rng.standard_normal((30, 40))
    np.random.seed(5)
    a, cache = L.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": None})
    np.random.seed(5)
    b, _ = L.dropout_forward(x, {"mode": "train", "p": 0.5})
    np.testing.assert_array_equal(a, b)
    kept = a != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(L.dropout_backward(np.ones_like(x), cache), kept / 0.5)


@pytest.mark.parametrize("p", [0, 0.0, None, 2.5])
def test_dropout_forward_test_mode_ignores_p(rng, p):
    # The course's test mode returns x without using p's value (a FullyConnectedNet built with
    # any keep ratio evaluates in test mode); train mode checks it.
    x = rng.standard_normal((3, 4))
    out, cache = L.dropout_forward(x, {"mode": "test", "p": p})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(L.dropout_backward(x, cache), x)
    with pytest.raises((TypeError, ValueError), match="p"):
        L.dropout_forward(x, {"mode": "train", "p": p})


def test_dropout_forward_p1_is_identity(rng):
    x = rng.standard_normal((7, 9))
    out, cache = L.dropout_forward(x, {"mode": "train", "p": 1.0})
    np.testing.assert_array_equal(out, x)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(L.dropout_backward(dout, cache), dout)


def test_dropout_forward_test_mode_returns_copy(rng):
    x = rng.standard_normal((3, 4))
    out, cache = L.dropout_forward(x, {"mode": "test", "p": 0.3})
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)
    dout = rng.standard_normal(x.shape)
    dx = L.dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx, dout)
    assert not np.shares_memory(dx, dout)


# --- losses -------------------------------------------------------------------------------------


def test_svm_loss_course_notes_example():
    # CS231n notes, linear classification: rows are the classes cat, car, frog; columns the
    # images of a cat, a car and a frog. Per-image losses 2.9, 0 and 12.9 (so (5.1 - 3.2 + 1),
    # nothing, and (2.2 + 3.1 + 1) + (2.5 + 3.1 + 1)).
    scores = np.array([[3.2, 1.3, 2.2], [5.1, 4.9, 2.5], [-1.7, 2.0, -3.1]])
    loss, dx = L.svm_loss(scores.T, np.array([0, 1, 2]))
    assert loss == pytest.approx((2.9 + 0 + 12.9) / 3, rel=1e-12)
    expected = np.array([[-1, 1, 0], [0, 0, 0], [1, 1, -2]]) / 3
    np.testing.assert_allclose(dx, expected, rtol=1e-15)


def test_svm_loss_zero_scores():
    # Every wrong class violates the margin by exactly 1.
    loss, dx = L.svm_loss(np.zeros((4, 5)), np.array([0, 1, 2, 3]))
    assert loss == pytest.approx(4.0, rel=1e-15)
    assert np.all(dx[np.arange(4), [0, 1, 2, 3]] == -4 / 4)


@pytest.mark.parametrize("c", [2, 5, 10])
def test_softmax_loss_zero_scores_is_log_c(c):
    n = 4
    y = np.arange(n) % c
    loss, dx = L.softmax_loss(np.zeros((n, c)), y)
    assert loss == pytest.approx(math.log(c), rel=1e-13)
    expected = np.full((n, c), 1 / c)
    expected[np.arange(n), y] -= 1
    np.testing.assert_allclose(dx, expected / n, rtol=1e-13)


@pytest.mark.filterwarnings("error")
def test_softmax_loss_large_scores_stable():
    y = np.array([0, 1, 2])
    big, dbig = L.softmax_loss(np.tile([123.0, 456.0, 789.0], (3, 1)), y)
    small, dsmall = L.softmax_loss(np.tile([0.0, 333.0, 666.0], (3, 1)), y)
    assert math.isfinite(big) and np.isfinite(dbig).all()
    assert big == small  # identical after the shift by the row maximum
    np.testing.assert_array_equal(dbig, dsmall)
    # Independent value: mean over labels of logsumexp(s) - s_y, with logsumexp(s) = 666 + ...
    s = np.array([0.0, 333.0, 666.0])
    lse = np.logaddexp.reduce(s)
    assert big == pytest.approx(np.mean(lse - s), rel=1e-13)


# --- activations --------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_sigmoid_forward_extremes_exact(dtype):
    with np.errstate(all="raise"):
        out, cache = L.sigmoid_forward(np.array([1000.0, -1000.0, 0.0], dtype))
        dx = L.sigmoid_backward(np.ones(3, dtype), cache)
    assert out.dtype == dtype
    assert out[0] == 1 and out[1] == 0 and out[2] == 0.5
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.25])


def test_prelu_forward_scalar_matches_leaky_relu(rng):
    x = rng.standard_normal((3, 4, 2))
    prelu, _ = L.prelu_forward(x, np.array(0.3))
    leaky, _ = L.leaky_relu_forward(x, alpha=0.3)
    np.testing.assert_array_equal(prelu, leaky)
    # Per-channel slopes act on axis 1 only.
    slopes = np.array([0.0, 0.1, 0.2, 0.3])
    out, _ = L.prelu_forward(x, slopes)
    for ch in range(4):
        np.testing.assert_array_equal(out[:, ch], np.where(x[:, ch] > 0, x[:, ch], slopes[ch] * x[:, ch]))


@pytest.mark.filterwarnings("error")
def test_elu_forward_large_inputs_no_overflow():
    out, cache = L.elu_forward(np.array([1000.0, -1000.0, 0.0]), alpha=2.0)
    np.testing.assert_array_equal(out, [1000.0, -2.0, 0.0])
    np.testing.assert_array_equal(L.elu_backward(np.ones(3), cache), [1.0, 0.0, 2.0])


def test_maxout_backward_ties_go_to_first_piece(rng):
    x = rng.standard_normal((4, 3))
    w = np.repeat(rng.standard_normal((1, 3, 5)), 3, axis=0)  # three identical pieces
    b = np.zeros((3, 5))
    out, cache = L.maxout_forward(x, w, b)
    # The layer's products (one GEMM over all pieces) and NumPy's are different BLAS calls:
    # elementwise they agree to rounding relative to the largest term, not to each element
    # (an element near 0 by cancellation has a large relative error): float64 tolerance
    # 1e-12 with atol = 1e-12 * max|reference|.
    def close(got, want):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())

    close(out, x @ w[0])
    dout = rng.standard_normal((4, 5))
    dx, dw, db = L.maxout_backward(dout, cache)
    close(dw[0], x.T @ dout)
    close(db[0], dout.sum(axis=0))
    assert not dw[1:].any() and not db[1:].any()
    close(dx, dout @ w[0].T)


# --- invariants over every layer ----------------------------------------------------------------


def _twin_case(forward, backward):
    """An oracle from the NumPy twins (``cs231n_fast.reference``): ``forward(*args)`` returns
    ``(out, cache)`` (extra values dropped), ``backward(dout, cache)`` the gradients."""

    def run(args, dout):
        out, *rest = forward(*args)
        return out, as_tuple(backward(dout, rest[-1]))

    return run


def _bn_twin(kind, graph=False):
    def forward(x, gamma, beta, param):
        f = R_norm.batchnorm_forward if kind == "batchnorm" else R_norm.spatial_batchnorm_forward
        return f(x, gamma, beta, param.get("running_mean"), param.get("running_var"), mode=param["mode"])

    backward = (R_norm.batchnorm_backward_graph if graph else
                R_norm.batchnorm_backward if kind == "batchnorm" else R_norm.spatial_batchnorm_backward)
    return _twin_case(forward, backward)


#: case -> oracle(args, dout) -> (out, grads): the same layer computed by the NumPy twins in
#: float64 (independent code: reference/activations.py, linear.py, norm.py), so the float64
#: results of the compiled layers are checked too, not compared with themselves.
TWINS = {
    "affine": _twin_case(R_linear.affine_forward, R_linear.affine_backward),
    "affine_1d_x": _twin_case(R_linear.affine_forward, R_linear.affine_backward),
    "relu": _twin_case(R_act.relu_forward, R_act.relu_backward),
    "batchnorm": _bn_twin("batchnorm", graph=True),
    "batchnorm_alt": _bn_twin("batchnorm"),
    "batchnorm_test_mode": _bn_twin("batchnorm", graph=True),
    "batchnorm_alt_test_mode": _bn_twin("batchnorm"),
    "layernorm": _twin_case(lambda x, g, b, p: R_norm.layernorm_forward(x, g, b), R_norm.layernorm_backward),
    "dropout": _twin_case(lambda x, p: R_act.dropout_forward(x, p["p"], p["mode"], p["seed"]), R_act.dropout_backward),
    "dropout_test_mode": _twin_case(lambda x, p: R_act.dropout_forward(x, p["p"], p["mode"]), R_act.dropout_backward),
    "spatial_batchnorm": _bn_twin("spatial_batchnorm"),
    "spatial_groupnorm": _twin_case(lambda x, g, b, p: R_norm.spatial_groupnorm_forward(x, g, b, 2, eps=p["eps"]),
                                    R_norm.spatial_groupnorm_backward),
    "sigmoid": _twin_case(R_act.sigmoid_forward, R_act.sigmoid_backward),
    "tanh": _twin_case(R_act.tanh_forward, R_act.tanh_backward),
    "leaky_relu": _twin_case(R_act.leaky_relu_forward, R_act.leaky_relu_backward),
    "leaky_relu_alpha": _twin_case(lambda x: R_act.leaky_relu_forward(x, alpha=0.2), R_act.leaky_relu_backward),
    "prelu_scalar": _twin_case(R_act.prelu_forward, R_act.prelu_backward),
    "prelu_per_channel": _twin_case(R_act.prelu_forward, R_act.prelu_backward),
    "elu": _twin_case(lambda x: R_act.elu_forward(x, alpha=1.5), R_act.elu_backward),
    "maxout": _twin_case(R_act.maxout_forward, R_act.maxout_backward),
}


def test_every_case_has_a_twin():
    assert set(TWINS) == set(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_forward_backward_dtype(rng, case, dtype):
    # Against the NumPy twin in float64, on the float64 cast of the very inputs the layer gets
    # (for float32: the float32-rounded values), so each dtype is held to its own tolerance.
    forward, backward, make, _ = CASES[case]
    args = cast_args(make(rng), dtype)
    out, cache = forward(*cast_args(args, dtype))
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads = as_tuple(backward(dout, cache))
    ref_out, ref_grads = TWINS[case](cast_args(args, np.float64), dout.astype(np.float64))
    assert out.dtype == dtype
    assert_matches_reference(out, ref_out, dtype, "out")
    assert len(grads) == len(ref_grads)
    for i, (g, ref) in enumerate(zip(grads, ref_grads)):
        assert_matches_reference(g, ref, dtype, f"gradient {i}")


@pytest.mark.parametrize("case", ["affine", "relu", "batchnorm", "sigmoid", "maxout"])
def test_forward_backward_mixed_and_integer_inputs_give_float64(rng, case):
    forward, backward, make, _ = CASES[case]
    args = cast_args(make(rng), np.float32)
    args[0] = args[0].astype(np.float64)  # a float32/float64 mix
    out, cache = forward(*args)
    assert out.dtype == np.float64
    assert all(g.dtype == np.float64 for g in as_tuple(backward(np.ones(out.shape, np.float32), cache)))
    out32, cache32 = forward(*cast_args(make(rng), np.float32))
    assert all(g.dtype == np.float64 for g in as_tuple(backward(np.ones(out32.shape), cache32)))
    out, _ = forward(*([np.round(args[0] * 4).astype(np.int64)] + args[1:]))
    assert out.dtype == np.float64


@pytest.mark.parametrize("loss_fn, twin", [(L.svm_loss, R_losses.svm_loss), (L.softmax_loss, R_losses.softmax_loss)],
                         ids=["svm", "softmax"])
def test_loss_dtype(rng, loss_fn, twin, dtype):
    # Against the NumPy twin (the course's vectorised losses) in float64 on the same values.
    x = rng.standard_normal((6, 4)).astype(dtype)
    y = rng.integers(0, 4, 6)
    ref_loss, ref_dx = twin(x.astype(np.float64), y)
    loss, dx = loss_fn(x, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(ref_loss, rel=RTOL[dtype])
    assert_matches_reference(dx, ref_dx, dtype, "dx")


@pytest.mark.parametrize("loss_fn", [L.svm_loss, L.softmax_loss], ids=["svm", "softmax"])
def test_loss_inputs_unchanged(rng, loss_fn):
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    x.setflags(write=False)
    y.setflags(write=False)
    x_before, y_before = x.copy(), y.copy()
    _, dx = loss_fn(x, y)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)
    assert dx.flags.writeable and not np.shares_memory(dx, x)


@pytest.mark.parametrize("case", list(CASES))
def test_forward_backward_inputs_unchanged(rng, case):
    forward, backward, make, _ = CASES[case]
    args = make(rng)
    arrays = list(arrays_in(args))
    for a in arrays:
        a.setflags(write=False)  # a write would raise
    before = [a.copy() for a in arrays]
    out, cache = forward(*args)
    dout = rng.standard_normal(out.shape)
    dout.setflags(write=False)
    dout_before = dout.copy()
    grads = as_tuple(backward(dout, cache))
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dout, dout_before)
    for res in (out, *grads):  # fresh, writable outputs
        assert res.flags.writeable
        assert not any(np.shares_memory(res, a) for a in [*arrays, dout])


# --- bad input ----------------------------------------------------------------------------------


def _x(*shape):
    return np.zeros(shape)


def _backward(backward, dout_shape, forward, *args):
    """A call of ``backward`` with zeros of ``dout_shape`` and the cache of ``forward(*args)``
    (run on a copy of the arguments: the forward may add running statistics to a dict)."""
    return lambda: backward(_x(*dout_shape), forward(*copy.deepcopy(args))[1])


def _bn(param, x=(2, 3), gamma=(3,), beta=(3,)):
    return lambda: L.batchnorm_forward(_x(*x), _x(*gamma), _x(*beta), copy.deepcopy(param))


def _gn(G, param=None, gamma=(1, 6, 1, 1), beta=(1, 6, 1, 1)):
    param = {} if param is None else param
    return lambda: L.spatial_groupnorm_forward(_x(2, 6, 3, 3), _x(*gamma), _x(*beta), G, param)


def _drop(param):
    return lambda: L.dropout_forward(_x(2, 3), param)


TRAIN = {"mode": "train"}  # copied before every use
GN_ARGS = (_x(2, 6, 3, 3), _x(1, 6, 1, 1), _x(1, 6, 1, 1), 2, {})
P_KEY = r"\['p'\]"  # the message names dropout_param['p']

BAD = [
    # affine and ReLU
    (lambda: L.affine_forward(_x(2, 3), _x(4, 5), _x(5)), ValueError, "w must have shape"),
    (lambda: L.affine_forward(_x(2, 3), _x(3, 5, 1), _x(5)), ValueError, "w must be"),
    (lambda: L.affine_forward(_x(2, 3), _x(3, 5), _x(4)), ValueError, "b must have shape"),
    (lambda: L.affine_forward(np.array(1.0), _x(1, 5), _x(5)), ValueError, "x must have shape"),
    (lambda: L.affine_forward(_x(2, 3).astype(complex), _x(3, 5), _x(5)), TypeError, "x must be"),
    (_backward(L.affine_backward, (2, 4), L.affine_forward, _x(2, 3), _x(3, 5), _x(5)), ValueError, "dout"),
    (_backward(L.affine_backward, (2, 5), L.relu_forward, _x(2, 5)), TypeError, "cache"),
    (lambda: L.relu_backward(_x(2, 5), (_x(2, 5),)), TypeError, "cache"),
    (_backward(L.relu_backward, (5, 2), L.relu_forward, _x(2, 5)), ValueError, "dout"),
    # batchnorm
    (_bn({}), ValueError, "mode"),
    (_bn({"mode": "eval"}), ValueError, "mode"),
    (_bn(None), TypeError, "bn_param"),
    (_bn(TRAIN, gamma=(4,)), ValueError, "gamma"),
    (_bn(TRAIN, beta=(1, 3)), ValueError, "beta"),
    (_bn(TRAIN, x=(2, 3, 1)), ValueError, "x must be"),
    (_bn(TRAIN, x=(0, 3)), ValueError, "x must have"),
    (_bn({"mode": "train", "eps": 0}), ValueError, "eps"),
    (_bn({"mode": "train", "momentum": 1.5}), ValueError, "momentum"),
    (_bn({"mode": "train", "momentum": "0.9"}), TypeError, "momentum"),
    (_bn({"mode": "test", "running_mean": _x(2)}), ValueError, "running_mean"),
    (_bn({"mode": "test", "running_var": _x(3, 1)}), ValueError, "running_var"),
    (_backward(L.batchnorm_backward, (3, 2), L.batchnorm_forward, _x(2, 3), _x(3), _x(3), TRAIN), ValueError, "dout"),
    (_backward(L.batchnorm_backward_alt, (2, 3), L.layernorm_forward, _x(2, 3), _x(3), _x(3), {}), TypeError, "cache"),
    # layernorm
    (lambda: L.layernorm_forward(_x(2, 3), _x(2), _x(3), {}), ValueError, "gamma"),
    (lambda: L.layernorm_forward(_x(2, 3), _x(3), _x(3), {"eps": -1e-5}), ValueError, "eps"),
    (lambda: L.layernorm_forward(_x(2, 3), _x(3), _x(3), None), TypeError, "ln_param"),
    (_backward(L.layernorm_backward, (2, 4), L.layernorm_forward, _x(2, 3), _x(3), _x(3), {}), ValueError, "dout"),
    # dropout
    (_drop({"mode": "train"}), ValueError, "'p'"),
    (_drop({"mode": "train", "p": 0}), ValueError, P_KEY),
    (_drop({"mode": "train", "p": 1.5}), ValueError, P_KEY),
    (_drop({"mode": "train", "p": -0.5}), ValueError, P_KEY),
    (_drop({"mode": "train", "p": float("nan")}), ValueError, P_KEY),
    (_drop({"mode": "train", "p": "0.5"}), TypeError, P_KEY),
    (_drop({"p": 0.5}), ValueError, "mode"),
    (_drop({"mode": "Train", "p": 0.5}), ValueError, "mode"),
    (_drop({"mode": "train", "p": 0.5, "seed": -1}), ValueError, "seed"),
    (_drop({"mode": "train", "p": 0.5, "seed": 2**32}), ValueError, "seed"),
    (_drop({"mode": "train", "p": 0.5, "seed": 1.5}), TypeError, "seed"),
    (_drop([("mode", "train"), ("p", 0.5)]), TypeError, "dropout_param"),
    (
        _backward(L.dropout_backward, (3, 2), L.dropout_forward, _x(2, 3), {"mode": "test", "p": 0.5}),
        ValueError,
        "dout",
    ),
    # spatial batchnorm
    (lambda: L.spatial_batchnorm_forward(_x(2, 3, 4), _x(3), _x(3), dict(TRAIN)), ValueError, "x must be"),
    (lambda: L.spatial_batchnorm_forward(_x(2, 3, 4, 4), _x(1, 3, 1, 1), _x(3), dict(TRAIN)), ValueError, "gamma"),
    (lambda: L.spatial_batchnorm_forward(_x(2, 3, 4, 4), _x(3), _x(3), {"mode": "valid"}), ValueError, "mode"),
    (
        _backward(
            L.spatial_batchnorm_backward, (2, 3, 4, 5), L.spatial_batchnorm_forward, _x(2, 3, 4, 4), _x(3), _x(3), TRAIN
        ),
        ValueError,
        "dout",
    ),
    # spatial groupnorm
    (_gn(4), ValueError, "G must divide"),
    (_gn(0), ValueError, "G must"),
    (_gn(2.0), TypeError, "G must"),
    (_gn(2, gamma=(6,)), ValueError, "gamma"),
    (_gn(2, beta=(1, 3, 1, 1)), ValueError, "beta"),
    (_gn(2, {"eps": float("inf")}), ValueError, "eps"),
    (_gn(2, []), TypeError, "gn_param"),
    (
        _backward(L.spatial_groupnorm_backward, (2, 6, 3, 4), L.spatial_groupnorm_forward, *GN_ARGS),
        ValueError,
        "dout",
    ),
    # losses
    (lambda: L.svm_loss(_x(3, 4), np.array([0, 1, 4])), ValueError, "y must hold class labels in"),
    (lambda: L.svm_loss(_x(3, 4), np.array([0, -1, 2])), ValueError, "y must"),
    (lambda: L.svm_loss(_x(3, 4), np.array([0.0, 1.0, 2.0])), TypeError, "y must"),
    (lambda: L.svm_loss(_x(3, 4), np.array([0, 1])), ValueError, "y must"),
    (lambda: L.svm_loss(_x(3, 4), np.array([[0, 1, 2]])), ValueError, "y must"),
    (lambda: L.svm_loss(_x(4), np.array([0, 1, 2, 3])), ValueError, "x must be"),
    (lambda: L.softmax_loss(_x(3, 4), np.array([0, 1, 4])), ValueError, "y must hold class labels in"),
    (lambda: L.softmax_loss(_x(3, 0), np.array([0, 0, 0])), ValueError, "x must have"),
    (lambda: L.softmax_loss(_x(3, 4).astype(str), np.array([0, 0, 0])), TypeError, "x must be"),
    # activations
    (lambda: L.sigmoid_forward(_x(3).astype(object)), TypeError, "x must be"),
    (_backward(L.sigmoid_backward, (4,), L.sigmoid_forward, _x(3)), ValueError, "dout"),
    (_backward(L.tanh_backward, (3, 1), L.tanh_forward, _x(3)), ValueError, "dout"),
    (lambda: L.leaky_relu_forward(_x(3), alpha=float("nan")), ValueError, "alpha"),
    (lambda: L.leaky_relu_forward(_x(3), alpha=None), TypeError, "alpha"),
    (lambda: L.elu_forward(_x(3), alpha="1"), TypeError, "alpha"),
    (lambda: L.prelu_forward(_x(2, 3), _x(2)), ValueError, "alpha"),
    (lambda: L.prelu_forward(_x(3), _x(3)), ValueError, "alpha"),
    (lambda: L.prelu_forward(_x(2, 3), _x(3, 1)), ValueError, "alpha"),
    (_backward(L.prelu_backward, (2, 4), L.prelu_forward, _x(2, 3), _x(3)), ValueError, "dout"),
    (lambda: L.maxout_forward(_x(2, 3), _x(3, 5), _x(1, 5)), ValueError, "w must be"),
    (lambda: L.maxout_forward(_x(2, 3), _x(2, 4, 5), _x(2, 5)), ValueError, "w must have shape"),
    (lambda: L.maxout_forward(_x(2, 3), _x(0, 3, 5), _x(0, 5)), ValueError, "w must have"),
    (lambda: L.maxout_forward(_x(2, 3), _x(2, 3, 5), _x(5)), ValueError, "b must be"),
    (lambda: L.maxout_forward(_x(2, 3), _x(2, 3, 5), _x(3, 5)), ValueError, "b must have shape"),
    (_backward(L.maxout_backward, (2, 4), L.maxout_forward, _x(2, 3), _x(2, 3, 5), _x(2, 5)), ValueError, "dout"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_layers_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_layers_bad_input_leaves_bn_param_alone():
    param = {"mode": "train", "running_mean": np.zeros(3)}
    with pytest.raises(ValueError, match="gamma"):
        L.batchnorm_forward(_x(2, 3), _x(4), _x(3), param)
    assert set(param) == {"mode", "running_mean"}


def test_layers_module_exports():
    course = {
        "affine_forward", "affine_backward", "relu_forward", "relu_backward", "batchnorm_forward",
        "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward",
        "dropout_forward", "dropout_backward", "conv_forward_naive", "conv_backward_naive",
        "max_pool_forward_naive", "max_pool_backward_naive", "spatial_batchnorm_forward",
        "spatial_batchnorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward",
        "svm_loss", "softmax_loss",
    }  # fmt: skip
    assert course <= set(L.__all__)
    assert all(callable(getattr(L, name)) for name in L.__all__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        namespace = {}
        exec("from cs231n_fast.layers import *", namespace)
    assert course <= set(namespace)
