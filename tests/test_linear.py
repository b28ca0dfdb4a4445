"""Affine kernels (ops.linear, layers.affine_*, temporal affine) against the NumPy twin
(reference.linear), centred differences and torch."""

import math

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference, numerical_grad, rel_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast import layers, rnn_layers
from cs231n_fast.ops import linear
from cs231n_fast.reference import linear as ref

FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# (x shape, M): ones everywhere, odd sizes, k = 1..3 feature dims, several kernel blocks
# (D > 64 and M > 64 split the products), N below and above the row-block threshold.
CASES = [
    ((1, 1), 1),
    ((1, 7), 1),
    ((5, 1), 3),
    ((2, 3, 4), 5),
    ((3, 2, 1, 3), 4),
    ((67, 301), 259),
    ((150, 129), 77),
    ((33, 5, 5, 3), 130),
    ((100, 64), 10),
]
IDS = [f"x{xs}-M{m}".replace(" ", "") for xs, m in CASES]


def _inputs(rng, xs, m, dtype):
    d = math.prod(xs[1:])
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal((d, m)) / math.sqrt(d)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    return x, w, b


def _f64(*arrays):
    return [a.astype(np.float64) for a in arrays]


# --- equivalence with the twin --------------------------------------------------------------


@pytest.mark.parametrize("xs, m", CASES, ids=IDS)
@pytest.mark.parametrize("relu", [False, True], ids=["affine", "affine_relu"])
def test_affine_matches_reference(rng, dtype, xs, m, relu):
    x, w, b = _inputs(rng, xs, m, dtype)
    fwd, bwd = (linear.affine_relu_forward, linear.affine_relu_backward) if relu else (linear.affine_forward, linear.affine_backward)
    rfwd, rbwd = (ref.affine_relu_forward, ref.affine_relu_backward) if relu else (ref.affine_forward, ref.affine_backward)
    out, cache = fwd(x, w, b)
    rout, rcache = rfwd(*_f64(x, w, b))
    assert_matches_reference(out, rout, dtype, "out")
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = bwd(dout, cache)
    rdx, rdw, rdb = rbwd(dout.astype(np.float64), rcache)
    assert dx.shape == x.shape
    for got, want, what in ((dx, rdx, "dx"), (dw, rdw, "dw"), (db, rdb, "db")):
        assert_matches_reference(got, want, dtype, what)


@st.composite
def _problem(draw):
    k = draw(st.integers(1, 3))
    n = draw(st.sampled_from([1, 2, 3, 7, 31, 33, 70]))
    dims = tuple(draw(st.integers(1, 6)) for _ in range(k))
    if draw(st.booleans()):  # a wide feature dimension: several blocks of D
        dims = dims[:-1] + (draw(st.integers(60, 200)),)
    m = draw(st.sampled_from([1, 2, 5, 16, 63, 65, 130, 257]))
    return (n, *dims), m


@FUZZ
@given(problem=_problem(), seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["float32", "float64", "mixed", "int"]),
       kinds=st.tuples(*[st.sampled_from(LAYOUTS)] * 4), relu=st.booleans(), need_dx=st.booleans(),
       n_threads=st.sampled_from([None, 1, 2, 3]))
def test_affine_fuzz_matches_reference(problem, seed, mode, kinds, relu, need_dx, n_threads):
    xs, m = problem
    r = np.random.default_rng(seed)
    arrays = _inputs(r, xs, m, np.float64)
    dout = r.standard_normal((xs[0], m))
    if mode == "int":
        arrays = [np.round(2 * a).astype(np.int16) for a in arrays]
        dout = np.round(2 * dout).astype(np.int16)
    elif mode == "mixed":
        arrays = [arrays[0].astype(np.float32), *arrays[1:]]
        dout = dout.astype(np.float32)
    else:
        arrays = [a.astype(mode) for a in arrays]
        dout = dout.astype(mode)
    x, w, b = [as_layout(a, k) for a, k in zip(arrays, kinds)]
    dout = as_layout(dout, kinds[3])
    expected_dtype = np.dtype(np.float32 if mode == "float32" else np.float64)
    fwd = linear.affine_relu_forward if relu else linear.affine_forward
    bwd = linear.affine_relu_backward if relu else linear.affine_backward
    rfwd = ref.affine_relu_forward if relu else ref.affine_forward
    rbwd = ref.affine_relu_backward if relu else ref.affine_backward
    out, cache = fwd(x, w, b, n_threads=n_threads)
    rout, rcache = rfwd(*_f64(x, w, b))
    assert_matches_reference(out, rout, expected_dtype, "out")
    dx, dw, db = bwd(dout, cache, n_threads=n_threads, need_dx=need_dx)
    rdx, rdw, rdb = rbwd(dout.astype(np.float64), rcache)
    assert_matches_reference(dw, rdw, expected_dtype, "dw")
    assert_matches_reference(db, rdb, expected_dtype, "db")
    if need_dx:
        assert_matches_reference(dx, rdx, expected_dtype, "dx")
    else:
        assert dx is None


def test_reference_and_fast_accept_each_others_caches(rng):
    x, w, b = _inputs(rng, (4, 3, 2), 5, np.float64)
    dout = rng.standard_normal((4, 5))
    _, fast_cache = linear.affine_relu_forward(x, w, b)
    _, ref_cache = ref.affine_relu_forward(x, w, b)
    for got, want in zip(ref.affine_relu_backward(dout, fast_cache), linear.affine_relu_backward(dout, ref_cache)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [((0, 3), 4), ((3, 0), 4), ((3, 2), 0)], ids=["N0", "D0", "M0"])
def test_affine_empty_dimensions_like_numpy(shape):
    xs, m = shape
    x = np.ones(xs)
    w = np.ones((xs[1], m))
    b = np.arange(m, dtype=float)
    out, cache = linear.affine_forward(x, w, b)
    np.testing.assert_array_equal(out, x @ w + b)
    dout = np.ones(out.shape)
    dx, dw, db = linear.affine_backward(dout, cache)
    np.testing.assert_array_equal(dx, dout @ w.T)
    np.testing.assert_array_equal(dw, x.T @ dout)
    np.testing.assert_array_equal(db, dout.sum(axis=0))
    out_l, cache_l = layers.affine_forward(x, w, b)
    np.testing.assert_array_equal(out_l, out)
    for got, want in zip(layers.affine_backward(dout, cache_l), (dx, dw, db)):
        np.testing.assert_array_equal(got, want)


def test_relu_nan_propagates_and_masks_like_numpy():
    x = np.array([[1.0, -1.0, 2.0]])
    w = np.eye(3)
    b = np.array([0.0, 0.0, np.nan])
    out, cache = linear.affine_relu_forward(x, w, b)
    np.testing.assert_array_equal(out, np.maximum(x @ w + b, 0))  # [1, 0, nan]
    dout = np.array([[np.nan, np.nan, 2.0]])
    _, _, db = linear.affine_relu_backward(dout, cache)
    np.testing.assert_array_equal(db, np.where(out > 0, dout, 0)[0])  # [nan, 0, 0]


# --- skip paths and the fused L2 term ---------------------------------------------------------


@pytest.mark.parametrize("relu", [False, True])
def test_need_dx_false_gives_the_same_dw_db(rng, dtype, relu):
    x, w, b = _inputs(rng, (37, 130), 70, dtype)
    fwd, bwd = (linear.affine_relu_forward, linear.affine_relu_backward) if relu else (linear.affine_forward, linear.affine_backward)
    out, cache = fwd(x, w, b)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = bwd(dout, cache)
    none, dw2, db2 = bwd(dout, cache, need_dx=False)
    assert none is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("reg", [0.0, 0.37])
def test_affine_backward_l2_is_dw_plus_reg_w(rng, dtype, relu, reg):
    x, w, b = _inputs(rng, (20, 3, 50), 90, dtype)
    fwd, bwd = (linear.affine_relu_forward, linear.affine_relu_backward) if relu else (linear.affine_forward, linear.affine_backward)
    out, cache = fwd(x, w, b)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dw, db = bwd(dout, cache)
    dx2, dw2, db2, penalty = linear.affine_backward_l2(dout, cache, reg)
    np.testing.assert_array_equal(dx2, dx)
    np.testing.assert_array_equal(db2, db)
    np.testing.assert_array_equal(dw2, dw + reg * w)  # same operations, same order
    assert dw2.dtype == dtype
    assert penalty == pytest.approx(0.5 * reg * np.sum(w.astype(np.float64) ** 2), rel=1e-13, abs=0)
    rdx, rdw, rdb, rpen = ref.affine_backward_l2(dout.astype(np.float64), ref.affine_relu_forward(*_f64(x, w, b))[1] if relu else ref.affine_forward(*_f64(x, w, b))[1], reg)
    assert_matches_reference(dw2, rdw, dtype, "dw")
    assert penalty == pytest.approx(rpen, rel=1e-12)


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (40000,), (70000, 3), (4, 3, 2, 2)])
def test_l2_penalty_matches_reference(rng, dtype, shape):
    w = rng.standard_normal(shape).astype(dtype)
    dw = rng.standard_normal(shape).astype(dtype)
    w0, dw0 = w.copy(), dw.copy()
    penalty, g = linear.l2_penalty(w, dw, 0.25)
    rpen, rg = ref.l2_penalty(w, dw, 0.25)
    np.testing.assert_array_equal(g, dw + 0.25 * w)
    assert g.dtype == dtype
    assert penalty == pytest.approx(rpen, rel=1e-12)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(dw, dw0)


def test_l2_penalty_gradcheck(rng):
    w = rng.standard_normal((4, 3))
    penalty, g = linear.l2_penalty(w, np.zeros_like(w), 0.3)
    num = numerical_grad(lambda v: np.array(linear.l2_penalty(v, np.zeros_like(v), 0.3)[0]), w, np.array(1.0))
    assert rel_error(g, num) < 1e-7


# --- gradient checks (float64, centred differences) -------------------------------------------


@pytest.mark.parametrize("xs, m", [((4, 5), 3), ((3, 2, 3), 4), ((1, 1), 1), ((2, 9), 1)])
def test_affine_backward_gradcheck(rng, xs, m):
    x, w, b = _inputs(rng, xs, m, np.float64)
    out, cache = linear.affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = linear.affine_backward(dout, cache)
    # Linear in each argument: exact for any step but for rounding, which h = 1e-3 keeps far
    # below the bound (at 1e-6 the rounding of entries near 0 came within 2x of it).
    h = 1e-3
    assert rel_error(dx, numerical_grad(lambda v: linear.affine_forward(v, w, b)[0], x, dout, h)) < 1e-7
    assert rel_error(dw, numerical_grad(lambda v: linear.affine_forward(x, v, b)[0], w, dout, h)) < 1e-7
    assert rel_error(db, numerical_grad(lambda v: linear.affine_forward(x, w, v)[0], b, dout, h)) < 1e-7


@pytest.mark.parametrize("xs, m", [((4, 5), 6), ((3, 2, 3), 4), ((1, 9), 5)])
def test_affine_relu_backward_gradcheck(rng, xs, m):
    # Small weights and inputs, biases of +-(0.5..1.5): pre-activations stay far from the kink.
    x, w, b = _inputs(rng, xs, m, np.float64)
    x, w = 0.1 * x, 0.1 * w
    b = rng.choice([-1.0, 1.0], m) * (0.5 + rng.random(m))
    out, cache = linear.affine_relu_forward(x, w, b)
    assert (out == 0).any() and (out > 0).any()
    dout = rng.standard_normal(out.shape)
    dx, dw, db = linear.affine_relu_backward(dout, cache)
    f = linear.affine_relu_forward
    # Piecewise linear with every pre-activation >= 0.3 from the kink (|x @ w| < 0.2 here): a
    # step of 1e-3 crosses none, and the difference is exact but for rounding.
    pre = x.reshape(x.shape[0], -1) @ w + b
    assert np.min(np.abs(pre)) > 0.3
    h = 1e-3
    assert rel_error(dx, numerical_grad(lambda v: f(v, w, b)[0], x, dout, h)) < 1e-7
    assert rel_error(dw, numerical_grad(lambda v: f(x, v, b)[0], w, dout, h)) < 1e-7
    assert rel_error(db, numerical_grad(lambda v: f(x, w, v)[0], b, dout, h)) < 1e-7


def test_temporal_affine_backward_gradcheck(rng):
    x = rng.standard_normal((2, 3, 4))
    w = rng.standard_normal((4, 5))
    b = rng.standard_normal(5)
    out, cache = rnn_layers.temporal_affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = rnn_layers.temporal_affine_backward(dout, cache)
    f = rnn_layers.temporal_affine_forward
    h = 1e-3  # linear in each argument (see test_affine_backward_gradcheck)
    assert rel_error(dx, numerical_grad(lambda v: f(v, w, b)[0], x, dout, h)) < 1e-7
    assert rel_error(dw, numerical_grad(lambda v: f(x, v, b)[0], w, dout, h)) < 1e-7
    assert rel_error(db, numerical_grad(lambda v: f(x, w, v)[0], b, dout, h)) < 1e-7


# --- thread-count independence ---------------------------------------------------------------


@pytest.mark.parametrize("xs, m", [((67, 301), 259), ((150, 129), 77), ((100, 3072), 512)], ids=["ragged", "rows", "issue"])
def test_affine_bitwise_for_any_thread_count(rng, dtype, xs, m):
    x, w, b = _inputs(rng, xs, m, dtype)
    dout = rng.standard_normal((xs[0], m)).astype(dtype)
    results = []
    for nt in (1, 2, 3):
        out, cache = linear.affine_forward(x, w, b, n_threads=nt)
        rout, rcache = linear.affine_relu_forward(x, w, b, n_threads=nt)
        res = [out, rout, *linear.affine_backward(dout, cache, n_threads=nt)]
        res += linear.affine_relu_backward(dout, rcache, n_threads=nt)
        _, dw, db, pen = linear.affine_backward_l2(dout, rcache, 0.1, n_threads=nt, need_dx=False)
        pen2, g = linear.l2_penalty(np.tile(w, (30, 1)), np.tile(dw, (30, 1)), 0.2, n_threads=nt)
        res += [dw, db, np.array([pen, pen2]), g]
        results.append(res)
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


def test_temporal_affine_bitwise_for_any_thread_count(rng, dtype):
    from cs231n_fast.ops import temporal

    x = rng.standard_normal((5, 16, 200)).astype(dtype)
    w = rng.standard_normal((200, 301)).astype(dtype)
    b = rng.standard_normal(301).astype(dtype)
    dout = rng.standard_normal((5, 16, 301)).astype(dtype)
    from cs231n_fast import _threads

    results = []
    for nt in (1, 2, 3):
        real = _threads.effective_n_threads
        try:
            _threads.effective_n_threads = lambda n=None, _nt=nt: _nt
            out, cache = temporal.temporal_affine_forward(x, w, b)
            results.append([out, *temporal.temporal_affine_backward(dout, cache)])
        finally:
            _threads.effective_n_threads = real
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


# --- layouts, mutation, course adapters ----------------------------------------------------------


def test_affine_layouts_give_the_same_bits(rng, dtype, layout):
    x, w, b = _inputs(rng, (9, 4, 20), 70, dtype)
    dout = rng.standard_normal((9, 70)).astype(dtype)
    out, cache = linear.affine_relu_forward(x, w, b)
    grads = linear.affine_relu_backward(dout, cache)
    lx, lw, lb, ld = (as_layout(a, layout) for a in (x, w, b, dout))
    copies = [a.copy() for a in (lx, lw, lb, ld)]
    out2, cache2 = linear.affine_relu_forward(lx, lw, lb)
    grads2 = linear.affine_relu_backward(ld, cache2)
    np.testing.assert_array_equal(out2, out)
    for a, b_ in zip(grads2, grads):
        np.testing.assert_array_equal(a, b_)
    for before, after in zip(copies, (lx, lw, lb, ld)):
        np.testing.assert_array_equal(before, after)


def test_course_affine_matches_ops_and_keeps_its_cache(rng, dtype):
    x, w, b = _inputs(rng, (6, 2, 5), 7, dtype)
    out, cache = layers.affine_forward(x, w, b)
    assert cache.producer == "affine_forward"
    fout, fcache = linear.affine_forward(x, w, b)
    np.testing.assert_array_equal(out, fout)
    dout = rng.standard_normal(out.shape).astype(dtype)
    for a, b_ in zip(layers.affine_backward(dout, cache), linear.affine_backward(dout, fcache)):
        np.testing.assert_array_equal(a, b_)
    # float64 dout on a float32 forward: computed in float64
    dx, dw, db = layers.affine_backward(dout.astype(np.float64), cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float64


def test_layer_utils_affine_relu_is_the_fused_kernel(rng, dtype):
    from cs231n_fast import layer_utils

    x, w, b = _inputs(rng, (8, 30), 20, dtype)
    out, cache = layer_utils.affine_relu_forward(x, w, b)
    fout, fcache = linear.affine_relu_forward(x, w, b)
    np.testing.assert_array_equal(out, fout)
    dout = rng.standard_normal(out.shape).astype(dtype)
    for a, b_ in zip(layer_utils.affine_relu_backward(dout, cache), linear.affine_relu_backward(dout, fcache)):
        np.testing.assert_array_equal(a, b_)
    # the unfused composition of the course's layers gives the same values
    a, c1 = layers.affine_forward(x, w, b)
    r, c2 = layers.relu_forward(a)
    assert_matches_reference(out, r.astype(np.float64), dtype, "out")
    da = layers.relu_backward(dout, c2)
    for got, want in zip(layer_utils.affine_relu_backward(dout, cache), layers.affine_backward(da, c1)):
        assert_matches_reference(got, want.astype(np.float64), dtype)


# --- bad input ------------------------------------------------------------------------------------

_x = np.ones((2, 3))
_w = np.ones((3, 4))
_b = np.ones(4)
_out, _cache = linear.affine_forward(_x, _w, _b)
_rout, _rcache = linear.affine_relu_forward(_x, _w, _b)

BAD = [
    (lambda: linear.affine_forward(np.array(1.0), _w, _b), ValueError, "x must have shape"),
    (lambda: linear.affine_forward(_x, np.ones((4, 4)), _b), ValueError, "w must have shape"),
    (lambda: linear.affine_forward(_x, np.ones((3, 4, 1)), _b), ValueError, "w must be a 2-D"),
    (lambda: linear.affine_forward(_x, _w, np.ones(5)), ValueError, "b must have shape"),
    (lambda: linear.affine_forward(_x, _w, np.ones((4, 1))), ValueError, "b must be a 1-D"),
    (lambda: linear.affine_forward(_x + 0j, _w, _b), TypeError, "x must be a real"),
    (lambda: linear.affine_forward(_x, _w.astype(object), _b), TypeError, "w must be a real"),
    (lambda: linear.affine_forward(_x, _w, np.array(["a"] * 4)), TypeError, "b must be a real"),
    (lambda: linear.affine_relu_forward(_x, np.ones((2, 4)), _b), ValueError, "w must have shape"),
    (lambda: linear.affine_backward(np.ones((2, 5)), _cache), ValueError, "dout must have shape"),
    (lambda: linear.affine_backward(np.ones(8), _cache), ValueError, "dout must be a 2-D"),
    (lambda: linear.affine_backward(np.ones((2, 4)) + 0j, _cache), TypeError, "dout must be a real"),
    (lambda: linear.affine_backward(np.ones((2, 4)), None), TypeError, "cache"),
    (lambda: linear.affine_backward(np.ones((2, 4)), _rcache), TypeError, "cache"),
    (lambda: linear.affine_relu_backward(np.ones((2, 4)), _cache), TypeError, "cache"),
    (lambda: linear.affine_backward_l2(np.ones((2, 4)), _cache, float("nan")), ValueError, "reg"),
    (lambda: linear.affine_backward_l2(np.ones((2, 4)), _cache, "1"), TypeError, "reg"),
    (lambda: linear.l2_penalty(_w, np.ones((4, 3)), 0.1), ValueError, "dw must have shape"),
    (lambda: linear.l2_penalty(_w + 0j, _w, 0.1), TypeError, "w must be a real"),
    (lambda: linear.affine_forward(_x, _w, _b, n_threads=0), ValueError, "n_threads"),
    (lambda: linear.affine_backward(np.ones((2, 4)), _cache, n_threads=-1), ValueError, "n_threads"),
    (lambda: layers.affine_backward(np.ones((2, 4)), layers.relu_forward(np.ones((2, 4)))[1]), TypeError, "cache"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_linear_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_affine_backward_refuses_a_tampered_cache():
    out, cache = layers.affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))
    cache.saved["x"] = np.ones((5, 3))
    with pytest.raises(ValueError, match="cache"):
        layers.affine_backward(np.ones((2, 4)), cache)


# --- torch (float64 oracle) ----------------------------------------------------------------------


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("xs, m", [((5, 7), 3), ((4, 3, 2, 5), 66), ((100, 300), 130)])
def test_affine_agrees_with_torch_float64(rng, relu, xs, m):
    torch = pytest.importorskip("torch")
    x, w, b = _inputs(rng, xs, m, np.float64)
    dout = rng.standard_normal((xs[0], m))
    fwd, bwd = (linear.affine_relu_forward, linear.affine_relu_backward) if relu else (linear.affine_forward, linear.affine_backward)
    out, cache = fwd(x, w, b)
    dx, dw, db = bwd(dout, cache)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w.T.copy(), requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    tout = torch.nn.functional.linear(tx.reshape(xs[0], -1), tw, tb)
    if relu:
        tout = torch.relu(tout)
    tout.backward(torch.tensor(dout))
    for got, want in ((out, tout.detach().numpy()), (dx, tx.grad.numpy()), (dw, tw.grad.numpy().T), (db, tb.grad.numpy())):
        scale = float(np.max(np.abs(want)))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)
