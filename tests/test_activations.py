"""Activations and inverted dropout: cs231n_fast.ops.activations against its NumPy twin
(cs231n_fast.reference.activations), gradient checks, thread-count determinism, bad inputs,
no mutation, float64 agreement with torch, and dropout's statistics and mask contract."""

import numpy as np
import pytest
from helpers import ATOL, LAYOUTS, RTOL, as_layout, assert_matches_reference, grad_error, numerical_grad, rel_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast.ops import activations as F
from cs231n_fast.reference import activations as R

CHUNK = 16384  # the kernels' chunk (csrc/activations.pyx)

# name -> (forward args after x, whether the backward returns a tuple)
ELEMENTWISE = {
    "relu": (),
    "leaky_relu": (0.1,),
    "elu": (1.3,),
    "sigmoid": (),
    "tanh": (),
}


def _fwd(mod, name):
    return getattr(mod, f"{name}_forward")


def _bwd(mod, name):
    return getattr(mod, f"{name}_backward")


def _as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def _settings(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


SHAPES = st.lists(st.integers(1, 7), min_size=1, max_size=4).map(tuple)


def _draw_values(seed, shape, dtype, scale=3.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


# --- equivalence with the twin ------------------------------------------------------------------


@_settings(60)
@given(name=st.sampled_from(sorted(ELEMENTWISE)), shape=SHAPES, dtype=st.sampled_from([np.float32, np.float64]),
       layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**32 - 1), nt=st.sampled_from([None, 1, 2, 3]))
def test_elementwise_matches_twin(name, shape, dtype, layout, seed, nt):
    x = _draw_values(seed, shape, dtype)
    d = _draw_values(seed + 1, shape, dtype, 1.0)
    args = ELEMENTWISE[name]
    out, cache = _fwd(F, name)(as_layout(x, layout), *args, n_threads=nt)
    dx = _bwd(F, name)(as_layout(d, layout), cache, n_threads=nt)
    ref_out, ref_cache = _fwd(R, name)(x.astype(np.float64), *args)
    ref_dx = _bwd(R, name)(d.astype(np.float64), ref_cache)
    assert_matches_reference(out, ref_out, dtype, f"{name} out")
    assert_matches_reference(dx, ref_dx, dtype, f"{name} dx")


@_settings(40)
@given(shape=st.lists(st.integers(1, 6), min_size=2, max_size=4).map(tuple), per_channel=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), layout=st.sampled_from(LAYOUTS),
       seed=st.integers(0, 2**32 - 1))
def test_prelu_matches_twin(shape, per_channel, dtype, layout, seed):
    x = _draw_values(seed, shape, dtype)
    d = _draw_values(seed + 1, shape, dtype, 1.0)
    alpha = (np.random.default_rng(seed).uniform(0.05, 0.5, shape[1] if per_channel else ())).astype(dtype)
    out, cache = F.prelu_forward(as_layout(x, layout), alpha)
    dx, dalpha = F.prelu_backward(as_layout(d, layout), cache)
    r_out, r_cache = R.prelu_forward(x.astype(np.float64), alpha.astype(np.float64))
    r_dx, r_dalpha = R.prelu_backward(d.astype(np.float64), r_cache)
    assert_matches_reference(out, r_out, dtype, "out")
    assert_matches_reference(dx, r_dx, dtype, "dx")
    assert dalpha.shape == alpha.shape
    # dalpha is a sum: compare to the scale of its terms, not of the (possibly cancelled) sum
    scale = float(np.sum(np.abs(d.astype(np.float64) * x)))
    np.testing.assert_allclose(dalpha, r_dalpha, rtol=RTOL[np.dtype(dtype)], atol=ATOL[np.dtype(dtype)] * scale)


@_settings(30)
@given(n=st.integers(1, 6), d=st.integers(1, 7), k=st.integers(1, 4), m=st.integers(1, 6),
       dtype=st.sampled_from([np.float32, np.float64]), layout=st.sampled_from(LAYOUTS),
       seed=st.integers(0, 2**32 - 1))
def test_maxout_matches_twin(n, d, k, m, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(dtype)
    w = rng.standard_normal((k, d, m)).astype(dtype)
    b = rng.standard_normal((k, m)).astype(dtype)
    dout = rng.standard_normal((n, m)).astype(dtype)
    out, cache = F.maxout_forward(as_layout(x, layout), as_layout(w, layout), as_layout(b, layout))
    grads = F.maxout_backward(as_layout(dout, layout), cache)
    r_out, r_cache = R.maxout_forward(*(a.astype(np.float64) for a in (x, w, b)))
    r_grads = R.maxout_backward(dout.astype(np.float64), r_cache)
    assert_matches_reference(out, r_out, dtype, "out")
    for g, rg, what in zip(grads, r_grads, ("dx", "dw", "db")):
        assert_matches_reference(g, rg, dtype, what)


@_settings(40)
@given(shape=SHAPES, dtype=st.sampled_from([np.float32, np.float64]), layout=st.sampled_from(LAYOUTS),
       seed=st.integers(0, 2**32 - 1), p=st.floats(0.01, 1.0), nt=st.sampled_from([None, 1, 2, 3]))
def test_dropout_matches_twin_bitwise(shape, dtype, layout, seed, p, nt):
    x = _draw_values(seed, shape, dtype)
    d = _draw_values(seed + 1, shape, dtype)
    out, cache = F.dropout_forward(as_layout(x, layout), p, "train", seed % 2**32, n_threads=nt)
    dx = F.dropout_backward(as_layout(d, layout), cache, n_threads=nt)
    r_out, r_cache = R.dropout_forward(x, p, "train", seed % 2**32)
    np.testing.assert_array_equal(out, r_out)
    np.testing.assert_array_equal(dx, R.dropout_backward(d, r_cache))
    assert out.dtype == dx.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE) + ["prelu", "dropout"])
def test_across_chunks_matches_twin(name, dtype):
    # 6 chunks and tails: chunk boundaries are invisible in the results.
    rng = np.random.default_rng(7)
    shape = (2, 3, CHUNK + 7)  # per-channel planes of 2 chunks each
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    d = rng.standard_normal(shape).astype(dtype)
    if name == "prelu":
        args = (np.array([0.1, 0.2, 0.3], dtype),)
    elif name == "dropout":
        args = (0.6, "train", 11)
    else:
        args = ELEMENTWISE[name]
    out, cache = _fwd(F, name)(x, *args)
    r_out, r_cache = _fwd(R, name)(x.astype(np.float64) if name != "dropout" else x, *args)
    g = _as_tuple(_bwd(F, name)(d, cache))
    rg = _as_tuple(_bwd(R, name)(d.astype(np.float64) if name != "dropout" else d, r_cache))
    if name == "dropout":
        np.testing.assert_array_equal(out, r_out)
        np.testing.assert_array_equal(g[0], rg[0])
        return
    assert_matches_reference(out, r_out, dtype, "out")
    assert_matches_reference(g[0], rg[0], dtype, "dx")
    if name == "prelu":
        scale = float(np.sum(np.abs(d.astype(np.float64) * x)))
        np.testing.assert_allclose(g[1], rg[1], rtol=RTOL[np.dtype(dtype)], atol=ATOL[np.dtype(dtype)] * scale)


# --- special values -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_as_numpy(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1000.0, -1000.0], dtype)
    for name, args in ELEMENTWISE.items():
        with np.errstate(all="raise"):  # the kernels neither overflow nor warn
            out, cache = _fwd(F, name)(x, *args)
            _bwd(F, name)(np.ones_like(x), cache)
        with np.errstate(all="ignore"):
            ref, _ = _fwd(R, name)(x, *args)
        if True:
            np.testing.assert_array_equal(np.isnan(out), np.isnan(ref), err_msg=name)
            ok = ~np.isnan(ref)
            np.testing.assert_allclose(out[ok], ref[ok], rtol=RTOL[np.dtype(dtype)], err_msg=name)
    out, _ = F.relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))  # bitwise, signed zeros included
    assert not np.signbit(out[4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elu_forward_accurate_near_zero(dtype):
    # expm1 near 0 by a polynomial: no cancellation (exp(x) - 1 would lose all digits here).
    x = -np.logspace(-20, 1.5, 2000)
    out, _ = F.elu_forward(x.astype(dtype), alpha=1.0)
    expected = np.expm1(x.astype(dtype).astype(np.float64))
    np.testing.assert_allclose(out, expected, rtol={np.float32: 6e-7, np.float64: 1e-15}[dtype])


def test_maxout_ties_and_nan_go_to_first_piece():
    x = np.ones((1, 1))
    w = np.array([[[1.0, 2.0, np.nan]], [[1.0, 3.0, np.nan]], [[0.5, 3.0, 1.0]]])
    b = np.zeros((3, 3))
    out, cache = F.maxout_forward(x, w, b)
    np.testing.assert_array_equal(out[0, :2], [1.0, 3.0])
    assert np.isnan(out[0, 2])
    np.testing.assert_array_equal(cache.saved["piece"], [[0, 1, 0]])
    _, _, db = F.maxout_backward(np.ones((1, 3)), cache)
    np.testing.assert_array_equal(db, [[1, 0, 1], [0, 1, 0], [0, 0, 0]])


# --- gradient checks ----------------------------------------------------------------------------


def _kinkfree(rng, shape):
    """Values at least 0.05 from 0 (the kink of every ReLU-like activation)."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.05, 2.0, shape)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_backward_gradcheck(rng, name):
    x = _kinkfree(rng, (3, 4, 5))
    dout = rng.standard_normal(x.shape)
    args = ELEMENTWISE[name]
    _, cache = _fwd(F, name)(x, *args)
    dx = _bwd(F, name)(dout, cache)
    num = numerical_grad(lambda a: _fwd(F, name)(a, *args)[0], x, dout)
    assert grad_error(dx, num) < 1e-7  # vs the gradient's scale (helpers.grad_error)


@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_backward_gradcheck(rng, per_channel):
    x = _kinkfree(rng, (4, 3, 2, 5))
    alpha = rng.uniform(0.1, 0.4, 3 if per_channel else ())
    dout = rng.standard_normal(x.shape)
    _, cache = F.prelu_forward(x, alpha)
    dx, dalpha = F.prelu_backward(dout, cache)
    # piecewise linear, kinks >= 0.05 away: a large step has no truncation error and little
    # rounding error
    assert rel_error(dx, numerical_grad(lambda a: F.prelu_forward(a, alpha)[0], x, dout, h=1e-3)) < 1e-7
    num_alpha = numerical_grad(lambda a: F.prelu_forward(x, a)[0], alpha, dout, h=1e-3)
    assert rel_error(dalpha, num_alpha) < 1e-7


def test_maxout_backward_gradcheck(rng):
    n, d, k, m = 4, 5, 3, 6
    x, w, b = rng.standard_normal((n, d)), rng.standard_normal((k, d, m)), rng.standard_normal((k, m))
    # the winning piece leads the others by at least 0.1: no tie within the step
    z = (x @ w.transpose(1, 0, 2).reshape(d, k * m)).reshape(n, k, m) + b
    top2 = np.sort(z, axis=1)[:, -2:, :]
    assert np.min(top2[:, 1] - top2[:, 0]) > 1e-3  # no tie within the step: locally linear
    dout = rng.standard_normal((n, m))
    _, cache = F.maxout_forward(x, w, b)
    dx, dw, db = F.maxout_backward(dout, cache)
    h = 1e-5
    assert rel_error(dx, numerical_grad(lambda a: F.maxout_forward(a, w, b)[0], x, dout, h)) < 1e-7
    assert rel_error(dw, numerical_grad(lambda a: F.maxout_forward(x, a, b)[0], w, dout, h)) < 1e-7
    assert rel_error(db, numerical_grad(lambda a: F.maxout_forward(x, w, a)[0], b, dout, h)) < 1e-7


@pytest.mark.parametrize("p", [0.3, 0.8])
def test_dropout_backward_gradcheck(rng, p):
    x = rng.standard_normal((10, 10)) + 10
    dout = rng.standard_normal(x.shape)
    _, cache = F.dropout_forward(x, p, "train", seed=123)
    dx = F.dropout_backward(dout, cache)
    num = numerical_grad(lambda a: F.dropout_forward(a, p, "train", seed=123)[0], x, dout, h=1e-3)  # linear
    assert rel_error(dx, num) < 1e-7


# --- thread-count determinism -------------------------------------------------------------------


def _all_results(x, d, nt):
    dtype = x.dtype
    res = []
    for name, args in ELEMENTWISE.items():
        out, cache = _fwd(F, name)(x, *args, n_threads=nt)
        res += [out, _bwd(F, name)(d, cache, n_threads=nt)]
    for alpha in (np.array(0.2, dtype), np.linspace(0.1, 0.3, x.shape[1]).astype(dtype)):
        out, cache = F.prelu_forward(x, alpha, n_threads=nt)
        res += [out, *F.prelu_backward(d, cache, n_threads=nt)]
    out, cache = F.dropout_forward(x, 0.4, "train", 5, n_threads=nt)
    res += [out, F.dropout_backward(d, cache, n_threads=nt)]
    # maxout's passes go parallel from 2M elements of x @ w on: (2048, 2 * 520)
    x2 = x.reshape(-1)[: 2048 * 8].reshape(2048, 8)
    w = np.linspace(-1, 1, 2 * 8 * 520).reshape(2, 8, 520).astype(dtype)
    b = np.zeros((2, 520), dtype)
    out, cache = F.maxout_forward(x2, w, b, n_threads=nt)
    res += [out, *F.maxout_backward(d.reshape(-1)[: 2048 * 520].reshape(2048, 520), cache, n_threads=nt)]
    return res


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_identical_for_any_thread_count(rng, dtype):
    shape = (128, 3, 7, 23 * 20)  # many chunks, above the serial threshold
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    d = rng.standard_normal(shape).astype(dtype)
    one = _all_results(x, d, 1)
    for nt in (2, 3):
        for a, b in zip(one, _all_results(x, d, nt)):
            np.testing.assert_array_equal(a, b)


# --- bad inputs ---------------------------------------------------------------------------------


def _x(*shape):
    return np.arange(1.0, 1.0 + np.prod(shape, dtype=int)).reshape(shape)


def _relu_cache():
    return F.relu_forward(_x(2, 3))[1]


BAD = [
    (lambda: F.relu_forward(_x(3).astype(object)), TypeError, "x must be"),
    (lambda: F.relu_forward(_x(3).astype(complex)), TypeError, "x must be"),
    (lambda: F.relu_forward(_x(3), n_threads=0), ValueError, "n_threads"),
    (lambda: F.relu_forward(_x(3), n_threads=1.5), TypeError, "n_threads"),
    (lambda: F.relu_backward(_x(3, 2), _relu_cache()), ValueError, "dout"),
    (lambda: F.relu_backward(_x(2, 3).astype(object), _relu_cache()), TypeError, "dout"),
    (lambda: F.relu_backward(_x(2, 3), (_x(2, 3),)), TypeError, "cache"),
    (lambda: F.tanh_backward(_x(2, 3), _relu_cache()), TypeError, "cache"),
    (lambda: F.leaky_relu_forward(_x(3), alpha=float("nan")), ValueError, "alpha"),
    (lambda: F.leaky_relu_forward(_x(3), alpha=None), TypeError, "alpha"),
    (lambda: F.elu_forward(_x(3), alpha="1"), TypeError, "alpha"),
    (lambda: F.elu_forward(_x(3), alpha=float("inf")), ValueError, "alpha"),
    (lambda: F.prelu_forward(_x(2, 3), _x(2)), ValueError, "alpha"),
    (lambda: F.prelu_forward(_x(3), _x(3)), ValueError, "alpha"),
    (lambda: F.prelu_forward(_x(2, 3), _x(3, 1)), ValueError, "alpha"),
    (lambda: F.prelu_forward(_x(2, 3), np.array(["a"])), TypeError, "alpha"),
    (lambda: F.maxout_forward(_x(2), _x(1, 2, 3), _x(1, 3)), ValueError, "x must"),
    (lambda: F.maxout_forward(_x(2, 3), _x(3, 5), _x(1, 5)), ValueError, "w must be"),
    (lambda: F.maxout_forward(_x(2, 3), _x(2, 4, 5), _x(2, 5)), ValueError, "w must have shape"),
    (lambda: F.maxout_forward(_x(2, 3), _x(2, 3, 5), _x(5)), ValueError, "b must be"),
    (lambda: F.maxout_forward(_x(2, 3), _x(2, 3, 5), _x(3, 5)), ValueError, "b must have shape"),
    (lambda: F.maxout_backward(_x(2, 4), F.maxout_forward(_x(2, 3), _x(2, 3, 5), _x(2, 5))[1]), ValueError, "dout"),
    (lambda: F.dropout_forward(_x(3), 0.0), ValueError, "p"),
    (lambda: F.dropout_forward(_x(3), 1.5), ValueError, "p"),
    (lambda: F.dropout_forward(_x(3), "0.5"), TypeError, "p"),
    (lambda: F.dropout_forward(_x(3), 0.5, "eval"), ValueError, "mode"),
    (lambda: F.dropout_forward(_x(3), 0.5, None), ValueError, "mode"),
    (lambda: F.dropout_forward(_x(3), 0.5, "train", -1), ValueError, "seed"),
    (lambda: F.dropout_forward(_x(3), 0.5, "train", 2**32), ValueError, "seed"),
    (lambda: F.dropout_forward(_x(3), 0.5, "train", 1.0), TypeError, "seed"),
    (lambda: F.dropout_backward(_x(4), F.dropout_forward(_x(3), 0.5, "train", 1)[1]), ValueError, "dout"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[f"case{i}" for i in range(len(BAD))])
def test_bad_input_raises(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- no mutation, fresh outputs ----------------------------------------------------------------


def test_inputs_unchanged_and_outputs_fresh(rng):
    x = _kinkfree(rng, (4, 3, 5))
    d = rng.standard_normal(x.shape)
    alpha = np.array([0.1, 0.2, 0.3])
    calls = [(name, ELEMENTWISE[name]) for name in ELEMENTWISE] + [("prelu", (alpha,)), ("dropout", (0.5, "train", 3)),
                                                                  ("dropout", (0.5, "test"))]
    for name, args in calls:
        xs, ds, argsc = x.copy(), d.copy(), [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        for ro in (False, True):
            xi, di = as_layout(x, "readonly" if ro else "C"), as_layout(d, "readonly" if ro else "C")
            out, cache = _fwd(F, name)(xi, *args)
            g = _as_tuple(_bwd(F, name)(di, cache))
            assert not np.shares_memory(out, xi) and not np.shares_memory(g[0], di), name
            if name not in ("sigmoid", "tanh"):  # those cache their output, as the course does
                out[...] = 7  # writing the result must not touch the cache's inputs
            g2 = _as_tuple(_bwd(F, name)(di, cache))
            for a, b in zip(g, g2):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(x, xs)
        np.testing.assert_array_equal(d, ds)
        for a, b in zip(args, argsc):
            np.testing.assert_array_equal(a, b)


# --- torch, float64 ----------------------------------------------------------------------------


def test_float64_agrees_with_torch(rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = _kinkfree(rng, (6, 4, 5, 3)) * 3
    d = rng.standard_normal(x.shape)
    alpha = rng.uniform(0.1, 0.4, 4)
    cases = {
        "relu": ((), lambda t: torch.relu(t)),
        "leaky_relu": ((0.1,), lambda t: tf.leaky_relu(t, 0.1)),
        "elu": ((1.3,), lambda t: tf.elu(t, 1.3)),
        "sigmoid": ((), torch.sigmoid),
        "tanh": ((), torch.tanh),
    }
    for name, (args, tfn) in cases.items():
        tx = torch.tensor(x, requires_grad=True)
        tout = tfn(tx)
        tout.backward(torch.tensor(d))
        out, cache = _fwd(F, name)(x, *args)
        dx = _bwd(F, name)(d, cache)
        for a, b in ((out, tout.detach().numpy()), (dx, tx.grad.numpy())):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.max(np.abs(b)), err_msg=name)
    tx = torch.tensor(x, requires_grad=True)
    ta = torch.tensor(alpha, requires_grad=True)
    tout = tf.prelu(tx, ta)
    tout.backward(torch.tensor(d))
    out, cache = F.prelu_forward(x, alpha)
    dx, dalpha = F.prelu_backward(d, cache)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(dalpha, ta.grad.numpy(), rtol=1e-9, atol=1e-9 * np.sum(np.abs(d * x)))


# --- dropout: statistics and the mask contract --------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.8, 0.99])
def test_dropout_statistics(rng, p):
    x = rng.uniform(0.5, 1.5, (500, 500))
    out, _ = F.dropout_forward(x, p, "train", 42)
    kept = out != 0
    sigma = np.sqrt(p * (1 - p) / x.size)
    assert abs(kept.mean() - p) < 5 * sigma + 1e-12
    assert out.mean() == pytest.approx(x.mean(), rel=0.02)
    np.testing.assert_allclose(out[kept], x[kept] / p, rtol=1e-15)
    # rows and columns are kept independently: no row or column far from p
    assert np.max(np.abs(kept.mean(axis=0) - p)) < 6 * np.sqrt(p * (1 - p) / 500) + 1e-12
    assert np.max(np.abs(kept.mean(axis=1) - p)) < 6 * np.sqrt(p * (1 - p) / 500) + 1e-12


def test_dropout_nearby_seeds_uncorrelated():
    shape = (200, 500)
    masks = [R.dropout_keep(shape, R.dropout_key(s), 0.5).ravel().astype(float) for s in range(5)]
    for a in range(5):
        for b in range(a + 1, 5):
            assert abs(np.corrcoef(masks[a], masks[b])[0, 1]) < 5 / np.sqrt(masks[a].size)


def test_dropout_mask_is_a_function_of_seed_and_index(rng):
    # A prefix of a larger array gets the same mask as the smaller array: no dependence on the
    # array size, chunking or thread count, only on (seed, flat index).
    big = R.dropout_keep((3 * CHUNK + 11,), R.dropout_key(9), 0.3)
    small = R.dropout_keep((CHUNK + 5,), R.dropout_key(9), 0.3)
    np.testing.assert_array_equal(big[: small.size], small)
    x = np.ones(big.size, np.float32)
    out, _ = F.dropout_forward(x, 0.3, "train", 9, n_threads=3)
    np.testing.assert_array_equal(out != 0, big)
    assert R.dropout_keep((10,), R.dropout_key(0), 1.0).all()


def test_dropout_unseeded_uses_numpy_global_state(rng):
    x = rng.standard_normal((40, 50))
    np.random.seed(5)
    a, _ = F.dropout_forward(x, 0.5)
    b, _ = F.dropout_forward(x, 0.5)
    np.random.seed(5)
    a2, _ = F.dropout_forward(x, 0.5)
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a != 0, b != 0)


def test_dropout_seeded_leaves_global_state_alone(rng):
    x = rng.standard_normal((4, 5))
    state = np.random.get_state()
    F.dropout_forward(x, 0.5, "train", 3)
    after = np.random.get_state()
    assert all(np.array_equal(s, t) for s, t in zip(state, after))


def test_dropout_test_mode_copies(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out, cache = F.dropout_forward(x, 0.3, "test")
    np.testing.assert_array_equal(out, x)
    assert out.dtype == np.float32 and not np.shares_memory(out, x)
    d = rng.standard_normal(x.shape).astype(np.float32)
    dx = F.dropout_backward(d, cache)
    np.testing.assert_array_equal(dx, d)


def test_caches_interchangeable_with_twin(rng):
    x = _kinkfree(rng, (3, 4))
    d = rng.standard_normal(x.shape)
    for name, args in ELEMENTWISE.items():
        _, c_fast = _fwd(F, name)(x, *args)
        _, c_ref = _fwd(R, name)(x, *args)
        assert_matches_reference(_bwd(F, name)(d, c_ref), _bwd(R, name)(d, c_fast), np.float64, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transcendentals_within_documented_ulp(dtype):
    # The docstrings' bounds (tanh 8 ulp, ELU 6 ulp; the library's exp, seen through ELU's
    # derivative, 3 ulp) against the exact value: float64 arithmetic for float32 results,
    # the platform's extended precision for float64 ones.
    if dtype == np.float64 and np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("no extended-precision long double to hold the exact float64 values")
    exact_t = np.float64 if dtype == np.float32 else np.longdouble
    rng = np.random.default_rng(0)
    wide = rng.uniform(-40, 5, 200_000)
    small = rng.uniform(-1, 1, 200_000) * 10.0 ** rng.uniform(-8, 0, 200_000)
    x = np.concatenate([wide, small]).astype(dtype)
    xe = x.astype(exact_t)

    def ulps(got, exact):
        return np.abs(got.astype(exact_t) - exact) / np.spacing(np.abs(exact).astype(dtype)).astype(exact_t)

    assert ulps(F.tanh_forward(x)[0], np.tanh(xe)).max() <= 8
    assert ulps(F.elu_forward(x, 1.0)[0], np.where(xe > 0, xe, np.expm1(np.minimum(xe, 0)))).max() <= 6
    neg = x[x <= 0]
    _, cache = F.elu_forward(neg, 1.0)
    e = np.exp(neg.astype(exact_t))
    normal = e >= np.finfo(dtype).tiny  # subnormal results: absolute, not ulp, accuracy
    assert ulps(F.elu_backward(np.ones_like(neg), cache), e)[normal].max() <= 3
