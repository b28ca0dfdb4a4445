"""Scaled dot-product attention kernels (ops.attention) against the NumPy twin
(reference.attention), centred differences and torch.

Tolerances: the tolerance table of helpers (float64 rtol 1e-9, float32 rtol 2e-4, atol a share
of max|reference|), the reference in float64 on the float64 cast of the same inputs; gradient
checks in float64 by centred differences, error < 1e-7 of the gradient's scale; torch in
float64 to 1e-9.
"""

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout, assert_matches_reference, grad_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast.gradient_check import eval_numerical_gradient_array
from cs231n_fast.ops import attention as fast
from cs231n_fast.reference import attention as ref

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# (N, H, S, T, Dh, Dv): ones, odd sizes, S != T both ways, the course's head size, rows longer
# than the kernels' vector groups (T > 32).
CASES = [
    (1, 1, 1, 1, 1, 1),
    (1, 2, 3, 5, 7, 3),
    (2, 3, 5, 3, 4, 6),
    (3, 1, 9, 9, 1, 2),
    (2, 4, 16, 16, 64, 64),
    (1, 2, 37, 45, 13, 11),
]
IDS = ["x".join(map(str, c)) for c in CASES]
OPTIONS = ["plain", "causal", "mask", "bias", "mask+causal", "dropout"]


def _qkv(rng, case, dtype):
    n, h, s, t, dh, dv = case
    q = rng.standard_normal((n, h, s, dh)).astype(dtype)
    k = rng.standard_normal((n, h, t, dh)).astype(dtype)
    v = rng.standard_normal((n, h, t, dv)).astype(dtype)
    return q, k, v


def _options(rng, case, option, dtype=np.float64):
    """Keyword arguments of one masking/dropout option for ``case``."""
    n, h, s, t, _, _ = case
    kw = {}
    if "mask" in option:
        m = rng.random((s, t)) > 0.4
        m[:, 0] = True  # every query keeps a key (fully masked rows are tested on their own)
        kw["mask"] = m
    if "causal" in option:
        kw["causal"] = True
    if option == "bias":
        kw["bias"] = rng.standard_normal((h, s, t)).astype(dtype)
    if option == "dropout":
        kw["dropout_p"] = 0.3
        kw["rng"] = int(rng.integers(2**31))
    return kw


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def _run(mod, q, k, v, dout, **kw):
    out, cache = mod.sdpa_forward(q, k, v, **kw)
    return (out, *mod.sdpa_backward(dout, cache, **({"n_threads": kw["n_threads"]} if "n_threads" in kw else {})))


# --- equivalence with the twin --------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("option", OPTIONS)
def test_sdpa_matches_reference(rng, dtype, case, option):
    q, k, v = _qkv(rng, case, dtype)
    kw = _options(rng, case, option, dtype)
    dout = rng.standard_normal(case[:3] + (case[5],)).astype(dtype)
    got = _run(fast, q, k, v, dout, **kw)
    kw64 = {key: (np.asarray(val, np.float64) if key == "bias" else val) for key, val in kw.items()}
    want = _run(ref, *_f64(q, k, v, dout), **kw64)
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, want):
        assert_matches_reference(a, b, dtype, name)


_dims = st.integers(1, 9)


@FUZZ
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3), _dims, _dims, _dims, _dims),
       dt=st.sampled_from([np.float32, np.float64]),
       layouts=st.tuples(*[st.sampled_from(LAYOUTS)] * 4),
       option=st.sampled_from(OPTIONS + ["mask4d"]),
       seed=st.integers(0, 2**32 - 1))
def test_sdpa_fuzz_matches_reference(shape, dt, layouts, option, seed):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dt)
    q, k, v = _qkv(rng, shape, dtype)
    dout = rng.standard_normal(shape[:3] + (shape[5],)).astype(dtype)
    if option == "mask4d":  # a full (N, H, S, T) mask, some rows fully masked
        kw = {"mask": rng.random((shape[0], shape[1], shape[2], shape[3])) > 0.5}
    else:
        kw = _options(rng, shape, option, dtype)
    ql, kl, vl, dl = (as_layout(a, lay) for a, lay in zip((q, k, v, dout), layouts))
    got = _run(fast, ql, kl, vl, dl, **kw)
    kw64 = {key: (np.asarray(val, np.float64) if key == "bias" else val) for key, val in kw.items()}
    want = _run(ref, *_f64(q, k, v, dout), **kw64)
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, want):
        assert_matches_reference(a, b, dtype, name)
    # layouts change nothing, to the bit
    again = _run(fast, q, k, v, dout, **kw)
    for a, b in zip(got, again):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sdpa_layouts_bitwise(rng, dtype, layout):
    case = (2, 3, 5, 7, 6, 4)
    q, k, v = _qkv(rng, case, dtype)
    dout = rng.standard_normal((2, 3, 5, 4)).astype(dtype)
    mask = rng.random((5, 7)) > 0.3
    base = _run(fast, q, k, v, dout, mask=as_layout(mask, "C"), causal=True)
    got = _run(fast, *(as_layout(a, layout) for a in (q, k, v, dout)), mask=as_layout(mask, layout), causal=True)
    for a, b in zip(got, base):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_sdpa_head_split_views_in_place(rng, dtype):
    """Multi-head attention's head split, x (N, S, H * Dh) viewed as (N, H, S, Dh), is read in
    place, and out and the gradients come back laid out so that merging the heads is free."""
    n, s, t, h, dh = 3, 5, 7, 4, 6
    xq = rng.standard_normal((n, s, h * dh)).astype(dtype)
    xk = rng.standard_normal((n, t, h * dh)).astype(dtype)
    xv = rng.standard_normal((n, t, h * dh)).astype(dtype)
    dx = rng.standard_normal((n, s, h * dh)).astype(dtype)

    def split(x):
        return x.reshape(x.shape[0], x.shape[1], h, dh).transpose(0, 2, 1, 3)

    q, k, v, dout = split(xq), split(xk), split(xv), split(dx)
    kw = dict(mask=rng.random((s, t)) > 0.3, dropout_p=0.2, rng=1)
    got = _run(fast, q, k, v, dout, **kw)
    want = _run(ref, *_f64(q, k, v, dout), **kw)
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, want):
        assert_matches_reference(a, b, dtype, name)
        assert a.transpose(0, 2, 1, 3).flags.c_contiguous, name  # (N, S, H, D) in memory
    _, cache = fast.sdpa_forward(q, k, v)
    assert np.shares_memory(cache.q, xq) and np.shares_memory(cache.v, xv)  # no copies
    # rows further apart than a row (every other position) are read in place as well
    big = rng.standard_normal((2, 3, 10, 4)).astype(dtype)
    sub = big[:, :, ::2]
    o1, c1 = fast.sdpa_forward(sub, sub, sub, causal=True)
    o2, _ = fast.sdpa_forward(sub.copy(), sub.copy(), sub.copy(), causal=True)
    assert np.shares_memory(c1.q, big)
    assert_matches_reference(o1, o2.astype(np.float64), dtype, "strided rows")
    # bitwise across thread counts in this layout too
    base = _run(fast, q, k, v, dout, n_threads=1, **kw)
    for a, b in zip(_run(fast, q, k, v, dout, n_threads=3, **kw), base):
        np.testing.assert_array_equal(a, b)


def test_sdpa_caches_interchange(rng):
    case = (2, 2, 4, 6, 3, 5)
    q, k, v = _qkv(rng, case, np.float64)
    dout = rng.standard_normal((2, 2, 4, 5))
    kw = {"causal": True, "dropout_p": 0.25, "rng": 3}
    _, fcache = fast.sdpa_forward(q, k, v, **kw)
    _, rcache = ref.sdpa_forward(q, k, v, **kw)
    np.testing.assert_array_equal(fcache.keep, rcache.keep)  # the same weights dropped
    for a, b in zip(fast.sdpa_backward(dout, rcache), ref.sdpa_backward(dout, fcache)):
        assert_matches_reference(a, b, np.float64)


# --- gradient checks ------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["plain", "mask+causal", "bias", "dropout"])
@pytest.mark.parametrize("mod", [fast, ref], ids=["fast", "reference"])
def test_sdpa_backward_gradcheck(rng, option, mod):
    case = (2, 2, 3, 4, 3, 2)
    q, k, v = _qkv(rng, case, np.float64)
    dout = rng.standard_normal((2, 2, 3, 2))
    kw = _options(rng, case, option)
    if option == "dropout":  # the same weights dropped at every evaluation
        kw = {"dropout_p": 0.3, "dropout_mask": rng.random((2, 2, 3, 4)) >= 0.3}
    out, cache = mod.sdpa_forward(q, k, v, **kw)
    grads = mod.sdpa_backward(dout, cache)
    fns = (lambda x: mod.sdpa_forward(x, k, v, **kw)[0],
           lambda x: mod.sdpa_forward(q, x, v, **kw)[0],
           lambda x: mod.sdpa_forward(q, k, x, **kw)[0])
    for name, f, x, g in zip(("dq", "dk", "dv"), fns, (q, k, v), grads):
        num = eval_numerical_gradient_array(f, x.copy(), dout, h=1e-6)
        assert grad_error(g, num) < 1e-7, name


# --- masks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mod", [fast, ref], ids=["fast", "reference"])
def test_sdpa_causal_future_never_influences_past(rng, dtype, mod):
    """Changing the key and value at position j changes no output row i < j (causal), and
    does change rows i >= j; the gradient of row i reaches no key or value j > i."""
    n, h, s, dh = 2, 3, 7, 5
    q, k, v = _qkv(rng, (n, h, s, s, dh, dh), dtype)
    out, _ = mod.sdpa_forward(q, k, v, causal=True)
    for j in range(s):
        k2, v2 = k.copy(), v.copy()
        k2[:, :, j] += (10 * rng.standard_normal((n, h, dh))).astype(dtype)
        v2[:, :, j] += (10 * rng.standard_normal((n, h, dh))).astype(dtype)
        out2, _ = mod.sdpa_forward(q, k2, v2, causal=True)
        np.testing.assert_array_equal(out2[:, :, :j], out[:, :, :j])
        assert np.all(np.any(out2[:, :, j:] != out[:, :, j:], axis=-1))
    _, cache = mod.sdpa_forward(q, k, v, causal=True)
    for i in range(s):
        dout = np.zeros((n, h, s, dh), dtype)
        dout[:, :, i] = 1
        dq, dk, dv = mod.sdpa_backward(dout, cache)
        assert not np.any(dk[:, :, i + 1:]) and not np.any(dv[:, :, i + 1:])
        assert np.any(dv[:, :, : i + 1])


def test_sdpa_causal_equals_tril_mask(rng, dtype):
    """causal=True is the course's torch.tril mask, also for S != T."""
    for s, t in ((5, 5), (4, 7), (7, 4)):
        q, k, v = _qkv(rng, (2, 2, s, t, 3, 3), dtype)
        a, _ = fast.sdpa_forward(q, k, v, causal=True)
        b, _ = fast.sdpa_forward(q, k, v, np.tril(np.ones((s, t))))
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mod", [fast, ref], ids=["fast", "reference"])
def test_sdpa_fully_masked_rows_are_zero(rng, dtype, mod):
    q, k, v = _qkv(rng, (2, 2, 4, 5, 3, 3), dtype)
    mask = np.ones((4, 5), bool)
    mask[2] = False  # query 2 may attend to nothing
    out, cache = mod.sdpa_forward(q, k, v, mask)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dq, dk, dv = mod.sdpa_backward(dout, cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dq))
    assert not np.any(out[:, :, 2]) and not np.any(cache.p[:, :, 2]) and not np.any(dq[:, :, 2])
    # the other rows are those of attention without the dead query
    keep = [0, 1, 3]
    o2, c2 = mod.sdpa_forward(q[:, :, keep], k, v)
    np.testing.assert_allclose(out[:, :, keep], o2, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    # masking every key of every query also works: zeros
    out0, c0 = mod.sdpa_forward(q, k, v, np.zeros((4, 5)))
    assert not np.any(out0) and not any(np.any(g) for g in mod.sdpa_backward(dout, c0))


def test_sdpa_mask_broadcasting(rng):
    """(S, T), (H, S, T), (N, 1, S, T) masks and biases equal their broadcast (N, H, S, T) form."""
    n, h, s, t = 2, 3, 4, 5
    q, k, v = _qkv(rng, (n, h, s, t, 3, 2), np.float64)
    full = rng.random((n, h, s, t)) > 0.3
    full[..., 0] = True
    for shape in ((s, t), (h, s, t), (n, 1, s, t), (1, h, 1, t), (t,)):
        m = rng.random(shape) > 0.3
        m[..., 0] = True
        a, _ = fast.sdpa_forward(q, k, v, m)
        b, _ = fast.sdpa_forward(q, k, v, np.broadcast_to(m, (n, h, s, t)).copy())
        np.testing.assert_array_equal(a, b)
        bias = rng.standard_normal(shape)
        a, _ = fast.sdpa_forward(q, k, v, bias=bias)
        b, _ = fast.sdpa_forward(q, k, v, bias=np.broadcast_to(bias, (n, h, s, t)).copy())
        np.testing.assert_array_equal(a, b)
    # numeric 0/1 masks read as booleans; -inf in a bias masks
    m = (rng.random((s, t)) > 0.3)
    m[:, 0] = True
    a, _ = fast.sdpa_forward(q, k, v, m)
    b, _ = fast.sdpa_forward(q, k, v, m.astype(np.int64))
    c, _ = fast.sdpa_forward(q, k, v, bias=np.where(m, 0.0, -np.inf))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_sdpa_nan_propagates(rng, dtype):
    q, k, v = _qkv(rng, (1, 1, 3, 4, 2, 2), dtype)
    q[0, 0, 1, 0] = np.nan
    for mod in (fast, ref):
        out, _ = mod.sdpa_forward(q, k, v, np.array([[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 1]]))
        assert np.all(np.isnan(out[0, 0, 1])) and np.all(np.isfinite(out[0, 0, [0, 2]]))


# --- dropout --------------------------------------------------------------------------------


def test_sdpa_dropout_mask_and_scale(rng, dtype):
    case = (2, 3, 4, 5, 3, 2)
    q, k, v = _qkv(rng, case, dtype)
    out, cache = fast.sdpa_forward(q, k, v, dropout_p=0.4, rng=7)
    keep = np.random.default_rng(7).random((2, 3, 4, 5)) >= 0.4
    np.testing.assert_array_equal(cache.keep, keep)
    plain, pc = fast.sdpa_forward(q, k, v)
    want = (pc.p.astype(np.float64) * keep / 0.6) @ v.astype(np.float64)
    assert_matches_reference(out, want, dtype, "out")
    given_mask, _ = fast.sdpa_forward(q, k, v, dropout_p=0.4, dropout_mask=keep)
    np.testing.assert_array_equal(given_mask, out)
    # a Generator is used and advanced; the global state is used without rng
    g = np.random.default_rng(7)
    a, _ = fast.sdpa_forward(q, k, v, dropout_p=0.4, rng=g)
    np.testing.assert_array_equal(a, out)
    np.random.seed(11)
    b, bc = fast.sdpa_forward(q, k, v, dropout_p=0.4)
    np.random.seed(11)
    np.testing.assert_array_equal(bc.keep, np.random.random_sample((2, 3, 4, 5)) >= 0.4)
    # p = 1 drops everything
    z, zc = fast.sdpa_forward(q, k, v, dropout_p=1.0, rng=0)
    assert not np.any(z) and not any(np.any(gr) for gr in fast.sdpa_backward(np.ones_like(z), zc))


# --- determinism, dtypes, empties -----------------------------------------------------------


@pytest.mark.parametrize("case", [(3, 5, 16, 16, 64, 32), (2, 2, 80, 96, 48, 40)], ids=["course", "blas-held"])
@pytest.mark.parametrize("option", ["plain", "mask+causal", "dropout"])
def test_sdpa_bitwise_across_thread_counts(rng, dtype, option, case):
    """Also at a shape whose products are large enough that BLAS is held to one thread."""
    q, k, v = _qkv(rng, case, dtype)
    dout = rng.standard_normal(case[:3] + (case[5],)).astype(dtype)
    kw = _options(rng, case, option, dtype)
    base = _run(fast, q, k, v, dout, n_threads=1, **kw)
    for nt in (2, 3):
        for a, b in zip(_run(fast, q, k, v, dout, n_threads=nt, **kw), base):
            np.testing.assert_array_equal(a, b)


def test_sdpa_dtypes(rng):
    q, k, v = _qkv(rng, (1, 2, 3, 4, 5, 6), np.float32)
    out, cache = fast.sdpa_forward(q, k, v)
    assert out.dtype == np.float32 and cache.p.dtype == np.float32
    assert all(g.dtype == np.float32 for g in fast.sdpa_backward(np.ones(out.shape, np.float32), cache))
    assert all(g.dtype == np.float64 for g in fast.sdpa_backward(np.ones(out.shape), cache))
    assert fast.sdpa_forward(q, k.astype(np.float64), v)[0].dtype == np.float64
    assert fast.sdpa_forward(q, k, v, bias=np.zeros((3, 4)))[0].dtype == np.float64
    assert fast.sdpa_forward(q, k, v, mask=np.ones((3, 4)))[0].dtype == np.float32  # a mask is no input
    ints = [np.arange(24).reshape(1, 2, 3, 4) % 5, np.arange(32).reshape(1, 2, 4, 4) % 3,
            np.arange(24).reshape(1, 2, 4, 3)]
    out, _ = fast.sdpa_forward(*ints)
    assert out.dtype == np.float64
    assert_matches_reference(out, ref.sdpa_forward(*_f64(*ints))[0], np.float64)


def test_sdpa_scratch_is_per_block_not_per_requested_thread(rng, monkeypatch):
    """Each thread has S * T (forward, with dropout) or 2 * S * T (backward) scratch; with more
    threads than (batch, head) blocks the extra ones would idle, so no more rows are allocated
    than there are blocks (the default n_threads is every core: 64 cores and one block of
    S = T = 2048 would otherwise take 2 GiB of float32 scratch instead of 32 MiB)."""
    rows = []
    scratch = fast._scratch

    def recording(n, size, dt):
        rows.append(n)
        return scratch(n, size, dt)

    monkeypatch.setattr(fast, "_scratch", recording)
    q, k, v = _qkv(rng, (1, 2, 64, 64, 8, 8), np.float64)  # 2 blocks, work above the serial cutoff
    dout = rng.standard_normal(q.shape)
    kw = {"dropout_p": 0.2, "rng": 4}
    base = _run(fast, q, k, v, dout, n_threads=1, **kw)
    rows.clear()
    got = _run(fast, q, k, v, dout, n_threads=16, **kw)
    assert rows and max(rows) <= 2, rows
    for a, b in zip(got, base):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(0, 2, 3, 4, 5, 6), (2, 0, 3, 4, 5, 6), (2, 2, 0, 4, 5, 6),
                                   (2, 2, 3, 0, 5, 6), (2, 2, 3, 4, 5, 0)])
def test_sdpa_empty(rng, shape):
    q, k, v = _qkv(rng, shape, np.float64)
    out, cache = fast.sdpa_forward(q, k, v, causal=True)
    assert out.shape == shape[:3] + (shape[5],)
    assert not np.any(out)  # no keys (T = 0): every row fully masked, zeros
    grads = fast.sdpa_backward(np.ones(out.shape), cache)
    assert [g.shape for g in grads] == [q.shape, k.shape, v.shape]
    with pytest.raises(ValueError, match="n_threads"):
        fast.sdpa_forward(q, k, v, n_threads=0)
    with pytest.raises(ValueError, match="n_threads"):
        fast.sdpa_backward(np.ones(out.shape), cache, n_threads=0)


def test_sdpa_no_mutation(rng, dtype):
    case = (2, 2, 4, 5, 3, 2)
    q, k, v = _qkv(rng, case, dtype)
    dout = rng.standard_normal((2, 2, 4, 2)).astype(dtype)
    mask = rng.random((4, 5)) > 0.5
    bias = rng.standard_normal((4, 5)).astype(dtype)
    keep = rng.random((2, 2, 4, 5)) > 0.3
    before = [a.copy() for a in (q, k, v, dout, mask, bias, keep)]
    for mod in (fast, ref):
        out, cache = mod.sdpa_forward(q, k, v, mask, bias=bias, causal=True, dropout_p=0.3, dropout_mask=keep)
        p = cache.p.copy()
        mod.sdpa_backward(dout, cache)
        np.testing.assert_array_equal(cache.p, p)
        for a, b in zip((q, k, v, dout, mask, bias, keep), before):
            np.testing.assert_array_equal(a, b)


# --- bad inputs -----------------------------------------------------------------------------

_Q = np.zeros((2, 3, 4, 5))
_K = np.zeros((2, 3, 6, 5))
_V = np.zeros((2, 3, 6, 7))
BAD = [
    ("q ndim", dict(q=np.zeros((3, 4, 5))), ValueError, "q"),
    ("k ndim", dict(k=np.zeros((3, 6, 5))), ValueError, "k"),
    ("v ndim", dict(v=np.zeros((3, 6, 7))), ValueError, "v"),
    ("k batch", dict(k=np.zeros((1, 3, 6, 5))), ValueError, "k"),
    ("k heads", dict(k=np.zeros((2, 2, 6, 5))), ValueError, "k"),
    ("k head size", dict(k=np.zeros((2, 3, 6, 4))), ValueError, "k"),
    ("v length", dict(v=np.zeros((2, 3, 5, 7))), ValueError, "v"),
    ("q Dh 0", dict(q=np.zeros((2, 3, 4, 0)), k=np.zeros((2, 3, 6, 0))), ValueError, "q"),
    ("q complex", dict(q=_Q.astype(complex)), TypeError, "q"),
    ("k string", dict(k=np.full((2, 3, 6, 5), "a")), TypeError, "k"),
    ("mask shape", dict(mask=np.ones((4, 5))), ValueError, "mask"),
    ("mask 5d", dict(mask=np.ones((1, 2, 3, 4, 6))), ValueError, "mask"),
    ("mask dtype", dict(mask=np.full((4, 6), "x")), TypeError, "mask"),
    ("mask additive", dict(mask=np.where(np.eye(4, 6) > 0, 0.0, -np.inf)), ValueError, "bias="),
    ("bias shape", dict(bias=np.ones((3, 6))), ValueError, "bias"),
    ("bias complex", dict(bias=np.ones((4, 6), complex)), TypeError, "bias"),
    ("causal int", dict(causal=1), TypeError, "causal"),
    ("scale nan", dict(scale=float("nan")), ValueError, "scale"),
    ("scale str", dict(scale="1"), TypeError, "scale"),
    ("dropout_p > 1", dict(dropout_p=1.5), ValueError, "dropout_p"),
    ("dropout_p < 0", dict(dropout_p=-0.1), ValueError, "dropout_p"),
    ("dropout_mask shape", dict(dropout_p=0.5, dropout_mask=np.ones((4, 6), bool)), ValueError, "dropout_mask"),
    ("dropout_mask without p", dict(dropout_mask=np.ones((2, 3, 4, 6), bool)), ValueError, "dropout_mask"),
    ("rng", dict(dropout_p=0.5, rng="seed"), TypeError, "rng"),
    ("rng negative", dict(dropout_p=0.5, rng=-1), ValueError, "rng"),
    ("n_threads 0", dict(n_threads=0), ValueError, "n_threads"),
    ("n_threads float", dict(n_threads=1.5), TypeError, "n_threads"),
]


# The twin shares the validation but accepts and ignores n_threads (by design).
_BAD_BOTH = [(m, *b) for m in ("fast", "reference") for b in BAD if m == "fast" or "n_threads" not in b[1]]


@pytest.mark.parametrize("mod, name, kw, exc, match", _BAD_BOTH, ids=[f"{b[0]}-{b[1]}" for b in _BAD_BOTH])
def test_sdpa_forward_bad_inputs(mod, name, kw, exc, match):
    mod = fast if mod == "fast" else ref
    args = dict(q=_Q, k=_K, v=_V)
    args.update(kw)
    with pytest.raises(exc, match=match):
        mod.sdpa_forward(**args)


@pytest.mark.parametrize("mod", [fast, ref], ids=["fast", "reference"])
def test_sdpa_backward_bad_inputs(mod):
    out, cache = fast.sdpa_forward(_Q, _K, _V)
    with pytest.raises(ValueError, match="dout"):
        mod.sdpa_backward(np.zeros((2, 3, 4, 6)), cache)
    with pytest.raises(ValueError, match="dout"):
        mod.sdpa_backward(np.zeros((2, 3, 4)), cache)
    with pytest.raises(TypeError, match="dout"):
        mod.sdpa_backward(np.zeros(out.shape, complex), cache)
    with pytest.raises(TypeError, match="cache"):
        mod.sdpa_backward(np.zeros(out.shape), (1, 2, 3))
    if mod is fast:
        with pytest.raises(ValueError, match="n_threads"):
            mod.sdpa_backward(np.zeros(out.shape), cache, n_threads=-1)


# --- torch ----------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["plain", "causal", "mask", "bias", "scale", "dropout"])
@pytest.mark.parametrize("st_", [(5, 5), (4, 7)], ids=["S=T", "S<T"])
def test_sdpa_matches_torch(rng, option, st_):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    s, t = st_
    case = (2, 3, s, t, 6, 4)
    q, k, v = _qkv(rng, case, np.float64)
    dout = rng.standard_normal((2, 3, s, 4))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    kw, tkw = {}, {}
    if option == "causal":
        kw["causal"] = True
        mask = torch.ones(s, t, dtype=torch.bool).tril()  # what is_causal means (top-left)
        tkw["attn_mask"] = mask
    if option == "mask":
        m = rng.random((s, t)) > 0.4
        m[:, 0] = True
        kw["mask"] = m
        tkw["attn_mask"] = torch.tensor(m)
    if option == "bias":
        b = rng.standard_normal((3, s, t))
        kw["bias"] = b
        tkw["attn_mask"] = torch.tensor(b)
    if option == "scale":
        kw["scale"] = tkw["scale"] = 0.37
    if option == "dropout":  # the course's explicit code: softmax, dropout, @ value
        keep = rng.random((2, 3, s, t)) >= 0.2
        kw.update(dropout_p=0.2, dropout_mask=keep)
        att = torch.softmax(tq @ tk.transpose(-2, -1) / np.sqrt(6), dim=-1)
        tout = (att * torch.tensor(keep) / 0.8) @ tv
    else:
        tout = F.scaled_dot_product_attention(tq, tk, tv, **tkw)
    tout.backward(torch.tensor(dout))
    out, cache = fast.sdpa_forward(q, k, v, **kw)
    grads = fast.sdpa_backward(dout, cache)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    for g, tg in zip(grads, (tq, tk, tv)):
        np.testing.assert_allclose(g, tg.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_sdpa_matches_course_masked_fill(rng):
    """The course's MultiHeadAttention core: (q @ k^T) / sqrt(Dh), masked_fill(mask == 0, -inf),
    softmax, @ v."""
    torch = pytest.importorskip("torch")
    q, k, v = _qkv(rng, (2, 4, 6, 6, 8, 8), np.float64)
    mask = torch.tril(torch.ones(6, 6))
    tq, tk, tv = (torch.tensor(a) for a in (q, k, v))
    scores = (tq @ tk.transpose(2, 3)) / np.sqrt(8)
    scores = scores.masked_fill(mask == 0, float("-inf"))
    want = torch.softmax(scores, dim=-1) @ tv
    out, _ = fast.sdpa_forward(q, k, v, mask.numpy())
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-9, atol=1e-12)


# --- benchmark family -------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["fast", "reference", "torch"])
def test_sdpa_bench_family_checks(impl):
    """``cs231n-fast bench --kernels attention``: every implementation passes its check."""
    from cs231n_fast import bench

    if impl == "torch":
        pytest.importorskip("torch")
    case = bench.AttentionCase(2, 3, 5, 7, 4)
    for dtype in ("float32", "float64"):
        inputs = bench.make_inputs(case, dtype)
        expected = bench.reference_result(case, inputs)
        outputs = bench.make_runner(case, impl, inputs, 2)()
        ok, err, message = bench.check_result(case, outputs, expected, dtype, impl=impl)
        assert ok, message
