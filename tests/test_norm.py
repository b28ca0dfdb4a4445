"""Normalisation layers (``cs231n_fast.ops.norm``, its twin ``reference.norm`` and the course
adapters in ``layers``): equivalence with the twin (hypothesis over shapes with 1s, dtypes and
layouts), float64 gradient checks of every backward, bitwise equality across thread counts,
bad inputs, no mutation, float64 agreement with PyTorch, and numerical stability (constant and
far-from-zero inputs).
"""

import copy

import numpy as np
import pytest
from helpers import ATOL, LAYOUTS, RTOL, as_layout, assert_matches_reference, numerical_grad, rel_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast import layers as L
from cs231n_fast._cache import NormCache
from cs231n_fast.ops import norm as N
from cs231n_fast.reference import norm as R

GRAD_RTOL = 1e-7
STEP = 1e-5


def fuzz(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


SEEDS = st.integers(0, 2**32 - 1)
LAYOUT = st.sampled_from(LAYOUTS)
THREADS = st.sampled_from([None, 1, 2, 3])
MODES = st.sampled_from(["float32", "float64", "mixed"])


def typed(arrays, mode):
    """float32 / float64 / the first array float32 and the rest float64 ("mixed")."""
    if mode == "mixed":
        return [a.astype(np.float32 if i == 0 else np.float64) for i, a in enumerate(arrays)]
    return [a.astype(mode) for a in arrays]


def policy(*arrays):
    return np.dtype(np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64)


def f64(arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def check_all(fast, ref, dtype, what):
    for i, (a, b) in enumerate(zip(fast, ref, strict=True)):
        assert_matches_reference(a, b, dtype, f"{what}[{i}]")


# --- equivalence with the twin ---------------------------------------------------------------


@fuzz(40)
@given(n=st.integers(1, 9), d=st.integers(1, 150), mode=MODES, train=st.booleans(),
       kinds=st.tuples(LAYOUT, LAYOUT), seed=SEEDS, n_threads=THREADS)
def test_batchnorm_fuzz_matches_reference(n, d, mode, train, kinds, seed, n_threads):
    rng = np.random.default_rng(seed)
    x, g, b, rm, dy = typed([rng.standard_normal((n, d)) * 3 + 2, rng.standard_normal(d), rng.standard_normal(d),
                             rng.standard_normal(d), rng.standard_normal((n, d))], mode)
    rv = rng.uniform(0.5, 2.0, d).astype(rm.dtype)
    kw = dict(mode="train" if train else "test", eps=1e-3, momentum=0.8)
    out, m, v, cache = N.batchnorm_forward(as_layout(x, kinds[0]), g, b, rm, rv, n_threads=n_threads, **kw)
    rout, rmm, rvv, rcache = R.batchnorm_forward(*f64([x, g, b, rm, rv]), **kw)
    dt = policy(x, g, b)
    check_all([out, m, v], [rout, rmm, rvv], dt, "forward")
    grads = N.batchnorm_backward(as_layout(dy, kinds[1]), cache, n_threads=n_threads)
    check_all(grads, R.batchnorm_backward(*f64([dy]), rcache), policy(dy, x.astype(dt)), "backward")


@fuzz(35)
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 7), st.integers(1, 9)), mode=MODES,
       train=st.booleans(), kinds=st.tuples(LAYOUT, LAYOUT), seed=SEEDS, n_threads=THREADS)
def test_spatial_batchnorm_fuzz_matches_reference(shape, mode, train, kinds, seed, n_threads):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x, g, b, rm, dy = typed([rng.standard_normal(shape) * 3 - 1, rng.standard_normal(c), rng.standard_normal(c),
                             rng.standard_normal(c), rng.standard_normal(shape)], mode)
    rv = rng.uniform(0.5, 2.0, c).astype(rm.dtype)
    kw = dict(mode="train" if train else "test", eps=1e-5, momentum=0.9)
    out, m, v, cache = N.spatial_batchnorm_forward(as_layout(x, kinds[0]), g, b, rm, rv, n_threads=n_threads, **kw)
    rout, rmm, rvv, rcache = R.spatial_batchnorm_forward(*f64([x, g, b, rm, rv]), **kw)
    dt = policy(x, g, b)
    check_all([out, m, v], [rout, rmm, rvv], dt, "forward")
    grads = N.spatial_batchnorm_backward(as_layout(dy, kinds[1]), cache, n_threads=n_threads)
    check_all(grads, R.spatial_batchnorm_backward(*f64([dy]), rcache), policy(dy, x.astype(dt)), "backward")


@fuzz(35)
@given(n=st.integers(1, 9), d=st.integers(1, 150), mode=MODES, kinds=st.tuples(LAYOUT, LAYOUT), seed=SEEDS,
       n_threads=THREADS)
def test_layernorm_fuzz_matches_reference(n, d, mode, kinds, seed, n_threads):
    rng = np.random.default_rng(seed)
    x, g, b, dy = typed([rng.standard_normal((n, d)) * 2 + 3, rng.standard_normal(d), rng.standard_normal(d),
                         rng.standard_normal((n, d))], mode)
    out, cache = N.layernorm_forward(as_layout(x, kinds[0]), g, b, eps=1e-4, n_threads=n_threads)
    rout, rcache = R.layernorm_forward(*f64([x, g, b]), eps=1e-4)
    dt = policy(x, g, b)
    assert_matches_reference(out, rout, dt, "out")
    grads = N.layernorm_backward(as_layout(dy, kinds[1]), cache, n_threads=n_threads)
    check_all(grads, R.layernorm_backward(*f64([dy]), rcache), policy(dy, x.astype(dt)), "backward")


@fuzz(35)
@given(n=st.integers(1, 4), g=st.integers(1, 4), cpg=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 7),
       course_shape=st.booleans(), mode=MODES, kinds=st.tuples(LAYOUT, LAYOUT), seed=SEEDS, n_threads=THREADS)
def test_spatial_groupnorm_fuzz_matches_reference(n, g, cpg, h, w, course_shape, mode, kinds, seed, n_threads):
    rng = np.random.default_rng(seed)
    c = g * cpg
    pshape = (1, c, 1, 1) if course_shape else (c,)
    x, gm, bt, dy = typed([rng.standard_normal((n, c, h, w)) * 2 + 1, rng.standard_normal(pshape),
                           rng.standard_normal(pshape), rng.standard_normal((n, c, h, w))], mode)
    out, cache = N.spatial_groupnorm_forward(as_layout(x, kinds[0]), gm, bt, g, n_threads=n_threads)
    rout, rcache = R.spatial_groupnorm_forward(*f64([x, gm, bt]), g)
    dt = policy(x, gm, bt)
    assert_matches_reference(out, rout, dt, "out")
    grads = N.spatial_groupnorm_backward(as_layout(dy, kinds[1]), cache, n_threads=n_threads)
    assert grads[1].shape == grads[2].shape == pshape
    check_all(grads, R.spatial_groupnorm_backward(*f64([dy]), rcache), policy(dy, x.astype(dt)), "backward")


def test_either_backward_accepts_either_cache(rng):
    x, g, b, dy = rng.standard_normal((6, 5)), rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal((6, 5))
    *_, fast = N.batchnorm_forward(x, g, b)
    *_, ref = R.batchnorm_forward(x, g, b)
    for a, c in zip(N.batchnorm_backward(dy, ref), R.batchnorm_backward(dy, fast)):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


# --- the course's checks --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["train", "test"])
def test_batchnorm_backward_matches_graph_walk(rng, dtype, mode):
    # The notebook compares batchnorm_backward (graph walk) with batchnorm_backward_alt (closed
    # form); the compiled closed form is checked against the twin's graph walk here.
    x = (rng.standard_normal((16, 7)) * 4 + 3).astype(dtype)
    g, b, dy = rng.standard_normal(7).astype(dtype), rng.standard_normal(7).astype(dtype), rng.standard_normal((16, 7))
    rv = rng.uniform(0.5, 2, 7)
    *_, cache = N.batchnorm_forward(x, g, b, np.zeros(7), rv, mode=mode)
    *_, cache64 = R.batchnorm_forward(*f64([x, g, b]), np.zeros(7), rv, mode=mode)
    fast = N.batchnorm_backward(dy.astype(dtype), cache)
    check_all(fast, R.batchnorm_backward_graph(dy, cache64), dtype, "graph")


def test_running_average_update_is_the_course_formula(rng, dtype):
    x = (rng.standard_normal((20, 70)) * 2 + 1).astype(dtype)
    rm, rv = rng.standard_normal(70).astype(dtype), rng.uniform(1, 2, 70).astype(dtype)
    for momentum in (0.9, 0.0, 1.0, 0.37):
        _, m, v, cache = N.batchnorm_forward(x, np.ones(70, dtype), np.zeros(70, dtype), rm, rv, momentum=momentum)
        np.testing.assert_array_equal(m, momentum * rm + (1 - momentum) * cache.mean, strict=True)
        np.testing.assert_array_equal(v, momentum * rv + (1 - momentum) * cache.var, strict=True)


def test_layers_batchnorm_bn_param_semantics(rng, dtype):
    x = rng.standard_normal((8, 3)).astype(dtype)
    g, b = np.ones(3, dtype), np.zeros(3, dtype)
    rm, rv = np.zeros(3), np.ones(3)  # float64 given, cast to the compute dtype
    param = {"mode": "train", "running_mean": rm, "running_var": rv}
    L.batchnorm_forward(x, g, b, param)
    assert param["running_mean"] is not rm and param["running_mean"].dtype == dtype
    np.testing.assert_array_equal(rm, 0)  # not written to
    np.testing.assert_array_equal(rv, 1)
    expected = (0.1 * x.astype(np.float64).mean(axis=0)).astype(dtype)
    np.testing.assert_allclose(param["running_mean"], expected, rtol=RTOL[np.dtype(dtype)])
    param["mode"] = "test"
    kept = param["running_mean"]
    out, cache = L.batchnorm_forward(x, g, b, param)
    assert param["running_mean"] is kept  # test mode: unchanged, no copy
    dx, _, _ = L.batchnorm_backward_alt(np.ones_like(out), cache)  # test-mode backward: constants
    iv = 1 / np.sqrt(param["running_var"].astype(np.float64) + 1e-5)
    np.testing.assert_allclose(dx, np.broadcast_to(iv, dx.shape), rtol=RTOL[np.dtype(dtype)])


# --- gradient checks -----------------------------------------------------------------------------


def _bn_grad_case(spatial, mode):
    fwd = N.spatial_batchnorm_forward if spatial else N.batchnorm_forward
    bwd = N.spatial_batchnorm_backward if spatial else N.batchnorm_backward
    shape = (2, 3, 2, 3) if spatial else (5, 4)
    c = shape[1]

    def make(rng):
        rv = rng.uniform(0.5, 2.0, c)
        rm = rng.standard_normal(c)
        f = lambda x, g, b: fwd(x, g, b, rm, rv, mode=mode, eps=1e-5)  # noqa: E731
        return f, [rng.standard_normal(shape) * 1.5 + 2, rng.uniform(0.5, 2, c) * rng.choice([-1, 1], c),
                   rng.standard_normal(c)]

    return make, bwd


GRAD_CASES = {
    "batchnorm_train": _bn_grad_case(False, "train"),
    "batchnorm_test": _bn_grad_case(False, "test"),
    "spatial_batchnorm_train": _bn_grad_case(True, "train"),
    "spatial_batchnorm_test": _bn_grad_case(True, "test"),
    "layernorm": (lambda r: (lambda x, g, b: N.layernorm_forward(x, g, b),
                             [r.standard_normal((4, 5)) * 2 - 1, r.standard_normal(5), r.standard_normal(5)]),
                  N.layernorm_backward),
    "layernorm_d1": (lambda r: (lambda x, g, b: N.layernorm_forward(x, g, b),
                                [r.standard_normal((3, 1)), r.standard_normal(1), r.standard_normal(1)]),
                     N.layernorm_backward),
    "spatial_groupnorm": (lambda r: (lambda x, g, b: N.spatial_groupnorm_forward(x, g, b, 2),
                                     [r.standard_normal((2, 4, 2, 3)) + 1, r.standard_normal((1, 4, 1, 1)),
                                      r.standard_normal((1, 4, 1, 1))]),
                          N.spatial_groupnorm_backward),
}


@pytest.mark.parametrize("case", list(GRAD_CASES))
def test_norm_backward_gradcheck(rng, case):
    make, backward = GRAD_CASES[case]
    forward, args = make(rng)
    out, cache = forward(*args)[0], forward(*args)[-1]
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    for i, grad in enumerate(grads):

        def f(a, i=i):
            trial = list(args)
            trial[i] = a
            return forward(*trial)[0]

        num = numerical_grad(f, args[i], dout, h=STEP)
        assert grad.shape == np.shape(args[i])
        # Entries that are structurally zero (layernorm with D = 1) have centred differences of
        # rounding size only: compare in absolute terms there.
        if np.max(np.abs(num)) < 1e-6:
            assert np.max(np.abs(grad)) < 1e-6, f"gradient {i}"
        else:
            assert rel_error(grad, num) < GRAD_RTOL, f"gradient {i}: rel error {rel_error(grad, num):.2e}"


# --- thread counts ----------------------------------------------------------------------------------


def _all_outputs(rng, dtype, n_threads):
    r = np.random.default_rng(7)
    res = []
    for fwd, bwd, shape, train in [
        (N.batchnorm_forward, N.batchnorm_backward, (300, 203), "train"),
        (N.batchnorm_forward, N.batchnorm_backward, (300, 203), "test"),
        (N.spatial_batchnorm_forward, N.spatial_batchnorm_backward, (4, 10, 31, 29), "train"),
        (N.spatial_batchnorm_forward, N.spatial_batchnorm_backward, (4, 10, 31, 29), "test"),
    ]:
        c = shape[1]
        x = (r.standard_normal(shape) * 3 + 1).astype(dtype)
        out, m, v, cache = fwd(x, r.standard_normal(c).astype(dtype), r.standard_normal(c).astype(dtype),
                               r.standard_normal(c).astype(dtype), r.uniform(1, 2, c).astype(dtype), mode=train,
                               n_threads=n_threads)
        res += [out, m, v, *bwd(r.standard_normal(shape).astype(dtype), cache, n_threads=n_threads)]
    x = r.standard_normal((157, 301)).astype(dtype)
    out, cache = N.layernorm_forward(x, r.standard_normal(301).astype(dtype), r.standard_normal(301).astype(dtype),
                                     n_threads=n_threads)
    res += [out, *N.layernorm_backward(r.standard_normal(x.shape).astype(dtype), cache, n_threads=n_threads)]
    x = r.standard_normal((5, 12, 25, 23)).astype(dtype)
    out, cache = N.spatial_groupnorm_forward(x, r.standard_normal(12).astype(dtype), r.standard_normal(12).astype(dtype),
                                             3, n_threads=n_threads)
    res += [out, *N.spatial_groupnorm_backward(r.standard_normal(x.shape).astype(dtype), cache, n_threads=n_threads)]
    return res


def test_norm_bitwise_identical_for_any_thread_count(rng, dtype):
    one = _all_outputs(rng, dtype, 1)
    for nt in (2, 3):
        for a, b in zip(one, _all_outputs(rng, dtype, nt), strict=True):
            np.testing.assert_array_equal(a, b, strict=True)


def test_norm_layouts_give_identical_bits(rng, dtype, layout):
    x = rng.standard_normal((6, 5, 4, 3)).astype(dtype)
    g, b, dy = rng.standard_normal(5).astype(dtype), rng.standard_normal(5).astype(dtype), rng.standard_normal(x.shape)
    base = N.spatial_batchnorm_forward(x, g, b)
    other = N.spatial_batchnorm_forward(as_layout(x, layout), as_layout(g, layout), as_layout(b, layout))
    for a, c in zip(base[:3], other[:3]):
        np.testing.assert_array_equal(a, c, strict=True)
    dy = dy.astype(dtype)
    for a, c in zip(N.spatial_batchnorm_backward(dy, base[3]), N.spatial_batchnorm_backward(as_layout(dy, layout), other[3])):
        np.testing.assert_array_equal(a, c, strict=True)


# --- bad inputs ---------------------------------------------------------------------------------------


def _x(*shape):
    return np.zeros(shape)


def _bwd(backward, dout_shape, forward, *args, **kw):
    return lambda: backward(_x(*dout_shape), forward(*args, **kw)[-1])


BN = (_x(2, 3), _x(3), _x(3))
SBN = (_x(2, 3, 4, 4), _x(3), _x(3))
GN = (_x(2, 6, 3, 3), _x(1, 6, 1, 1), _x(1, 6, 1, 1))

BAD = [
    # batchnorm
    (lambda: N.batchnorm_forward(_x(2, 3, 1), _x(3), _x(3)), ValueError, "x must be a 2-D"),
    (lambda: N.batchnorm_forward(_x(0, 3), _x(3), _x(3)), ValueError, "x must have no zero-size"),
    (lambda: N.batchnorm_forward(_x(2, 3).astype(complex), _x(3), _x(3)), TypeError, "x must be"),
    (lambda: N.batchnorm_forward(_x(2, 3), _x(4), _x(3)), ValueError, "gamma"),
    (lambda: N.batchnorm_forward(_x(2, 3), _x(3), _x(1, 3)), ValueError, "beta"),
    (lambda: N.batchnorm_forward(*BN, _x(2)), ValueError, "running_mean"),
    (lambda: N.batchnorm_forward(*BN, None, _x(3, 1)), ValueError, "running_var"),
    (lambda: N.batchnorm_forward(*BN, mode="eval"), ValueError, "mode"),
    (lambda: N.batchnorm_forward(*BN, mode=None), ValueError, "mode"),
    (lambda: N.batchnorm_forward(*BN, eps=0), ValueError, "eps"),
    (lambda: N.batchnorm_forward(*BN, eps=float("nan")), ValueError, "eps"),
    (lambda: N.batchnorm_forward(*BN, eps="1e-5"), TypeError, "eps"),
    (lambda: N.batchnorm_forward(*BN, momentum=1.5), ValueError, "momentum"),
    (lambda: N.batchnorm_forward(*BN, momentum=-0.1), ValueError, "momentum"),
    (lambda: N.batchnorm_forward(*BN, n_threads=0), ValueError, "n_threads"),
    (_bwd(N.batchnorm_backward, (3, 2), N.batchnorm_forward, *BN), ValueError, "dout"),
    (_bwd(N.batchnorm_backward, (2, 3, 1), N.batchnorm_forward, *BN), ValueError, "dout"),
    (_bwd(N.batchnorm_backward, (2, 3), N.layernorm_forward, *BN), TypeError, "cache"),
    (lambda: N.batchnorm_backward(_x(2, 3), ("x", "gamma")), TypeError, "cache"),
    # spatial batchnorm
    (lambda: N.spatial_batchnorm_forward(_x(2, 3, 4), _x(3), _x(3)), ValueError, "x must be a 4-D"),
    (lambda: N.spatial_batchnorm_forward(_x(2, 3, 4, 4), _x(1, 3, 1, 1), _x(3)), ValueError, "gamma"),
    (lambda: N.spatial_batchnorm_forward(*SBN, mode="valid"), ValueError, "mode"),
    (_bwd(N.spatial_batchnorm_backward, (2, 3, 4, 5), N.spatial_batchnorm_forward, *SBN), ValueError, "dout"),
    (_bwd(N.spatial_batchnorm_backward, (2, 3), N.batchnorm_forward, *BN), TypeError, "cache"),
    # layernorm
    (lambda: N.layernorm_forward(_x(2, 3), _x(2), _x(3)), ValueError, "gamma"),
    (lambda: N.layernorm_forward(_x(2, 3), _x(3), _x(3), eps=-1e-5), ValueError, "eps"),
    (lambda: N.layernorm_forward(_x(3), _x(3), _x(3)), ValueError, "x must be"),
    (_bwd(N.layernorm_backward, (2, 4), N.layernorm_forward, *BN), ValueError, "dout"),
    (_bwd(N.layernorm_backward, (2, 3), N.batchnorm_forward, *BN), TypeError, "cache"),
    # groupnorm
    (lambda: N.spatial_groupnorm_forward(*GN, 4), ValueError, "G must divide"),
    (lambda: N.spatial_groupnorm_forward(*GN, 0), ValueError, "G must"),
    (lambda: N.spatial_groupnorm_forward(*GN, 2.0), TypeError, "G must"),
    (lambda: N.spatial_groupnorm_forward(_x(2, 6, 3, 3), _x(1, 6, 1), _x(1, 6, 1, 1), 2), ValueError, "gamma"),
    (lambda: N.spatial_groupnorm_forward(_x(2, 6, 3, 3), _x(6), _x(1, 6, 1, 1), 2), ValueError, "beta"),
    (lambda: N.spatial_groupnorm_forward(*GN, 2, eps=float("inf")), ValueError, "eps"),
    (_bwd(N.spatial_groupnorm_backward, (2, 6, 3, 4), N.spatial_groupnorm_forward, *GN, 2), ValueError, "dout"),
    (_bwd(N.spatial_groupnorm_backward, (2, 3, 4, 4), N.spatial_batchnorm_forward, *SBN), TypeError, "cache"),
    # course adapters: a cache from another layer, bad dict entries
    (lambda: L.spatial_batchnorm_backward(_x(2, 3), L.layernorm_forward(*BN, {})[1]), TypeError, "cache"),
    (lambda: L.spatial_groupnorm_backward(_x(2, 6, 3, 3), L.spatial_batchnorm_forward(
        _x(2, 6, 3, 3), _x(6), _x(6), {"mode": "train"})[1]), TypeError, "cache"),
    (lambda: L.layernorm_backward(_x(2, 3), (np.zeros(3),)), TypeError, "cache"),
    (lambda: L.batchnorm_forward(*BN, {"mode": "train", "momentum": None}), TypeError, "momentum"),
    (lambda: L.spatial_batchnorm_forward(*SBN, {"mode": "train", "running_var": _x(4)}), ValueError, "running_var"),
    (lambda: L.spatial_batchnorm_forward(*SBN, {"mode": "train", "eps": 0.0}), ValueError, "eps"),
    (lambda: L.spatial_groupnorm_forward(_x(2, 6, 3, 3), _x(6), _x(6), 2, {}), ValueError, "gamma"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_norm_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_norm_backward_rejects_an_altered_cache(rng):
    *_, cache = N.batchnorm_forward(rng.standard_normal((4, 3)), np.ones(3), np.zeros(3))
    bad = NormCache(cache.kind, cache.x, np.ones(5), cache.mean, cache.var, cache.ivar, cache.eps, True, 0,
                    cache.out_shape)
    with pytest.raises(ValueError, match="cache"):
        N.batchnorm_backward(np.ones((4, 3)), bad)
    _, gcache = N.spatial_groupnorm_forward(rng.standard_normal((2, 4, 2, 2)), np.ones(4), np.zeros(4), 2)
    bad = NormCache(gcache.kind, gcache.x, gcache.gamma, gcache.mean, None, gcache.ivar, gcache.eps, True, 3,
                    gcache.out_shape)
    with pytest.raises(ValueError, match="cache"):
        N.spatial_groupnorm_backward(np.ones((2, 4, 2, 2)), bad)


# --- no mutation ----------------------------------------------------------------------------------


def _snapshot(obj):
    return copy.deepcopy(obj)


def _same(a, b):
    if isinstance(b, np.ndarray):
        np.testing.assert_array_equal(a, b, strict=True)
    elif isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in b:
            _same(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        for p, q in zip(a, b, strict=True):
            _same(p, q)


MUTATION_CASES = {
    "batchnorm": (lambda x, g, b, p: L.batchnorm_forward(x, g, b, p), L.batchnorm_backward_alt, (6, 4), (4,), True),
    "batchnorm_graph": (lambda x, g, b, p: L.batchnorm_forward(x, g, b, p), L.batchnorm_backward, (6, 4), (4,), True),
    "spatial_batchnorm": (L.spatial_batchnorm_forward, L.spatial_batchnorm_backward, (2, 4, 3, 5), (4,), True),
    "layernorm": (L.layernorm_forward, L.layernorm_backward, (6, 4), (4,), False),
    "spatial_groupnorm": (lambda x, g, b, p: L.spatial_groupnorm_forward(x, g, b, 2, p), L.spatial_groupnorm_backward,
                          (2, 4, 3, 5), (1, 4, 1, 1), False),
}


@pytest.mark.parametrize("layout", ["C", "readonly"])
@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("case", list(MUTATION_CASES))
def test_norm_inputs_unchanged(rng, dtype, layout, mode, case):
    forward, backward, shape, pshape, has_stats = MUTATION_CASES[case]
    c = pshape[0] if len(pshape) == 1 else pshape[1]
    x, g, b = (as_layout(rng.standard_normal(s).astype(dtype), layout) for s in (shape, pshape, pshape))
    param = {"mode": mode}
    if has_stats:
        param.update(running_mean=as_layout(rng.standard_normal(c).astype(dtype), layout),
                     running_var=as_layout(rng.uniform(1, 2, c).astype(dtype), layout))
    old_stats = {k: v for k, v in param.items() if isinstance(v, np.ndarray)}
    args = [x, g, b]
    saved = _snapshot((args, old_stats))
    out, cache = forward(x, g, b, param)
    _same((args, old_stats), saved)
    if has_stats and mode == "train":
        assert param["running_mean"] is not old_stats["running_mean"]
        assert not np.shares_memory(param["running_mean"], old_stats["running_mean"])
    for a in (x, g, b):
        assert not np.shares_memory(out, a)
    dout = as_layout(rng.standard_normal(out.shape).astype(dtype), layout)
    saved = _snapshot((args, out, dout, cache.saved["norm"].x))
    grads = backward(dout, cache)
    _same((args, out, dout, cache.saved["norm"].x), saved)
    for grad in grads:
        for a in (x, g, b, dout, out):
            assert not np.shares_memory(grad, a)
    again = backward(dout, cache)
    for p, q in zip(grads, again):
        np.testing.assert_array_equal(p, q, strict=True)


# --- stability ---------------------------------------------------------------------------------------


def test_constant_input_normalises_to_beta(dtype):
    x = np.full((50, 3), 7.3, dtype)
    g, b = np.array([1.0, 2.0, -3.0], dtype), np.array([0.5, -1.0, 2.0], dtype)
    # float32 values sum exactly in float64, so the mean is exact and the variance 0; a float64
    # 7.3 * 50 rounds, leaving deviations of ~1e-15 (times ivar = 1 / sqrt(eps) ~ 316).
    tol = 0 if dtype == np.float32 else 1e-11
    out, m, v, cache = N.batchnorm_forward(x, g, b)
    assert np.all(cache.var <= tol**2)
    np.testing.assert_allclose(out, np.broadcast_to(b, out.shape), rtol=0, atol=tol)
    dx, dg, db = N.batchnorm_backward(np.ones_like(x), cache)
    assert np.all(np.isfinite(dx)) and np.all(np.abs(dg) <= 50 * tol)
    out, cache = N.layernorm_forward(np.full((4, 9), -2.3, dtype), np.ones(9, dtype), np.zeros(9, dtype))
    np.testing.assert_allclose(out, 0, rtol=0, atol=tol)
    out, cache = N.spatial_groupnorm_forward(np.full((2, 4, 3, 3), 1e3 + 0.1, dtype), np.ones(4, dtype),
                                             np.zeros(4, dtype), 2)
    np.testing.assert_allclose(out, 0, rtol=0, atol=tol * 1e3)


@pytest.mark.parametrize("offset", [1e3, 1e4])
def test_large_offset_statistics_are_accurate(rng, dtype, offset):
    # Unit-variance data far from zero: a one-pass E[x^2] - E[x]^2 in the input dtype would lose
    # every digit of the variance (float32: offset^2 = 1e8 > 2^24); the two float64 passes lose none.
    if dtype == np.float32 and offset > 1e3:
        offset = 1e3  # x itself holds only ~4 digits of the deviation at 1e4 in float32
    x = (rng.standard_normal((64, 5, 4, 4)) + offset).astype(dtype)
    g, b = np.ones(5, dtype), np.zeros(5, dtype)
    out, m, v, cache = N.spatial_batchnorm_forward(x, g, b)
    x64 = x.astype(np.float64)
    var = x64.var(axis=(0, 2, 3))
    assert_matches_reference(cache.var, var, dtype, "var")
    assert_matches_reference(out, (x64 - x64.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(var + 1e-5)[:, None, None],
                             dtype, "out")
    out, cache = N.layernorm_forward(x.reshape(64, -1), np.ones(80, dtype), np.zeros(80, dtype))
    xr = x64.reshape(64, -1)
    # The mean, rounded to the input dtype, is off by up to half an ulp of the offset, and so
    # is every x - mean: an absolute error of u * offset * ivar in the output (u = 2**-24 in
    # float32; ivar ~ 1 here).
    ivar = 1 / np.sqrt(xr.var(1, keepdims=True) + 1e-5)
    want = (xr - xr.mean(1, keepdims=True)) * ivar
    atol = max(2 * (np.finfo(dtype).eps / 2) * offset * ivar.max(), ATOL[np.dtype(dtype)] * np.abs(want).max())
    assert_matches_reference(out, want, dtype, "layernorm", atol=atol)


def test_nan_propagates_to_its_feature_only(dtype):
    x = np.arange(12, dtype=dtype).reshape(4, 3)
    x[1, 1] = np.nan
    out, m, v, cache = N.batchnorm_forward(x, np.ones(3, dtype), np.zeros(3, dtype))
    assert np.all(np.isnan(out[:, 1])) and np.all(np.isfinite(out[:, [0, 2]]))
    out, cache = N.layernorm_forward(x, np.ones(3, dtype), np.zeros(3, dtype))
    assert np.all(np.isnan(out[1])) and np.all(np.isfinite(out[[0, 2, 3]]))


# --- PyTorch, float64 ------------------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(50, 7), (3, 6, 5, 4)])
def test_batchnorm_matches_torch_float64(rng, shape):
    torch = _torch()
    F = torch.nn.functional
    c = shape[1]
    x, g, b, dy = (rng.standard_normal(shape) * 2 + 1, rng.standard_normal(c), rng.standard_normal(c),
                   rng.standard_normal(shape))
    rm = rng.standard_normal(c)
    fwd, bwd = ((N.batchnorm_forward, N.batchnorm_backward) if len(shape) == 2
                else (N.spatial_batchnorm_forward, N.spatial_batchnorm_backward))
    out, new_mean, _, cache = fwd(x, g, b, rm, np.ones(c), momentum=0.9)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    trm, trv = torch.tensor(rm), torch.ones(c, dtype=torch.float64)
    tout = F.batch_norm(tx, trm, trv, tg, tb, training=True, momentum=0.1, eps=1e-5)
    tout.backward(torch.tensor(dy))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(new_mean, trm.numpy(), rtol=1e-9, atol=1e-12)  # torch's momentum is 1 - ours
    for ours, theirs in zip(bwd(dy, cache), (tx.grad, tg.grad, tb.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-9 * float(np.abs(theirs.numpy()).max()))


def test_layernorm_and_groupnorm_match_torch_float64(rng):
    torch = _torch()
    F = torch.nn.functional
    x, g, b, dy = rng.standard_normal((9, 33)) * 3, rng.standard_normal(33), rng.standard_normal(33), rng.standard_normal((9, 33))
    out, cache = N.layernorm_forward(x, g, b)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    tout = F.layer_norm(tx, (33,), tg, tb, eps=1e-5)
    tout.backward(torch.tensor(dy))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-9, atol=1e-9)
    for ours, theirs in zip(N.layernorm_backward(dy, cache), (tx.grad, tg.grad, tb.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-9 * float(np.abs(theirs.numpy()).max()))
    x, g, b = rng.standard_normal((3, 6, 5, 4)) + 2, rng.standard_normal(6), rng.standard_normal(6)
    dy = rng.standard_normal(x.shape)
    out, cache = N.spatial_groupnorm_forward(x, g, b, 3)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    tout = F.group_norm(tx, 3, tg, tb, eps=1e-5)
    tout.backward(torch.tensor(dy))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-9, atol=1e-9)
    for ours, theirs in zip(N.spatial_groupnorm_backward(dy, cache), (tx.grad, tg.grad, tb.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-9 * float(np.abs(theirs.numpy()).max()))
