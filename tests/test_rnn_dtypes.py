"""The dtype rule of the recurrent backwards, compiled (ops.rnn) and NumPy twin (reference).

A backward computes, and returns its gradients, in float32 when the cache and every upstream
gradient are float32, and in float64 otherwise (``_validation.result_dtype``, as for the conv
and pool backwards). A float64 gradient of a float32 cache is therefore not rounded to float32:
the result is the float64 backward of the cache's (float32) values converted to float64.
"""

import dataclasses
import tracemalloc

import numpy as np
import pytest

from cs231n_fast import reference
from cs231n_fast.ops import rnn as fast

from helpers import assert_matches_reference

KINDS = ["rnn_step", "rnn", "lstm_step", "lstm"]
IMPLS = {"fast": fast, "reference": reference}
SHAPES = [  # (N, T, D, H); H = 260 is more than one block of hidden units for the kernels
    (2, 3, 4, 5),
    (3, 2, 7, 260),
]
#: float64 results of two computations that should agree to rounding.
RTOL64 = 1e-12


def _forward(rng, kind, dtype, n, t, d, h):
    """Shapes of the upstream gradients and the cache of one forward call in ``dtype``."""
    g = 4 if kind.startswith("lstm") else 1
    step = kind.endswith("_step")
    arrays = [rng.standard_normal((n, d) if step else (n, t, d)), rng.standard_normal((n, h))]
    if kind == "lstm_step":
        arrays.append(rng.standard_normal((n, h)))  # prev_c
    arrays += [rng.standard_normal((d, g * h)) * 0.5 / np.sqrt(d),
               rng.standard_normal((h, g * h)) * 0.5 / np.sqrt(h), rng.standard_normal(g * h) * 0.3]
    if kind == "lstm":
        arrays.append(rng.standard_normal((n, h)))  # c0
    *outs, cache = getattr(fast, kind + "_forward")(*(a.astype(dtype) for a in arrays))
    return [o.shape for o in outs], cache


def _backward(impl, kind):
    return getattr(IMPLS[impl], kind + "_backward")


def _arrays(cache):
    """``{field: array}`` of a recurrent cache (every field is an array)."""
    return {f.name: getattr(cache, f.name) for f in dataclasses.fields(cache)}


def _as_float64(cache):
    """The cache with every array converted to float64 (exactly: float32 values fit)."""
    return dataclasses.replace(cache, **{k: a.astype(np.float64) for k, a in _arrays(cache).items()})


def _assert_close64(got, want, what):
    assert got.dtype == np.float64, f"{what}: dtype {got.dtype}"
    scale = float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=RTOL64, atol=RTOL64 * scale, err_msg=what)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", KINDS)
def test_recurrent_backward_float32_cache_float64_grad_gives_float64(rng, kind, impl, shape):
    shapes, cache = _forward(rng, kind, np.float32, *shape)
    grads = [rng.standard_normal(s) for s in shapes]  # float64 values no float32 holds
    grad_copies = [g.copy() for g in grads]
    cache_copies = {k: a.copy() for k, a in _arrays(cache).items()}
    got = _backward(impl, kind)(*grads, cache)
    cache64 = _as_float64(cache)
    # The promotion is exactly the float64 backward of the cache converted to float64 ...
    same = _backward(impl, kind)(*grads, cache64)
    # ... and agrees with the other implementation to float64 rounding.
    want = _backward("reference", kind)(*grads, cache64)
    assert len(got) == len(want)
    for i, (g, s, w) in enumerate(zip(got, same, want)):
        _assert_close64(g, w, f"{impl} {kind} output {i}")
        np.testing.assert_array_equal(g, s, err_msg=f"{impl} {kind} output {i}")
    for g, c in zip(grads, grad_copies):
        np.testing.assert_array_equal(g, c)
    for k, c in cache_copies.items():
        assert getattr(cache, k).dtype == np.float32, k
        np.testing.assert_array_equal(getattr(cache, k), c, err_msg=k)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", KINDS)
def test_recurrent_backward_float32_stays_float32(rng, kind, impl, shape):
    shapes, cache = _forward(rng, kind, np.float32, *shape)
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    got = _backward(impl, kind)(*grads, cache)
    want = _backward("reference", kind)(*(g.astype(np.float64) for g in grads), _as_float64(cache))
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_matches_reference(g, w, np.float32, f"{impl} {kind} output {i}")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", KINDS)
def test_recurrent_backward_float64_cache_float32_grad_gives_float64(rng, kind, impl):
    shapes, cache = _forward(rng, kind, np.float64, *SHAPES[0])
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    got = _backward(impl, kind)(*grads, cache)
    want = _backward("reference", kind)(*(g.astype(np.float64) for g in grads), cache)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        _assert_close64(g, w, f"{impl} {kind} output {i}")


@pytest.mark.parametrize("float64_grad", [0, 1], ids=["dnext_h", "dnext_c"])
@pytest.mark.parametrize("impl", IMPLS)
def test_lstm_step_backward_one_float64_grad_gives_float64(rng, impl, float64_grad):
    shapes, cache = _forward(rng, "lstm_step", np.float32, *SHAPES[1])
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads[float64_grad] = rng.standard_normal(shapes[float64_grad])
    got = _backward(impl, "lstm_step")(*grads, cache)
    want = reference.lstm_step_backward(*(g.astype(np.float64) for g in grads), _as_float64(cache))
    assert len(got) == len(want) == 6
    for i, (g, w) in enumerate(zip(got, want)):
        _assert_close64(g, w, f"{impl} output {i}")


@pytest.mark.parametrize("grad_dtype", [np.int16, np.int64, np.float16])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", KINDS)
def test_recurrent_backward_other_real_grad_gives_float64(rng, kind, impl, grad_dtype):
    # NumPy's own promotion would keep int16 * float32 and float16 * float32 in float32.
    shapes, cache = _forward(rng, kind, np.float32, *SHAPES[0])
    grads = [(4 * rng.standard_normal(s)).astype(grad_dtype) for s in shapes]
    got = _backward(impl, kind)(*grads, cache)
    want = _backward("reference", kind)(*(g.astype(np.float64) for g in grads), _as_float64(cache))
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        _assert_close64(g, w, f"{impl} {kind} output {i}")


def _traced_peak(f):
    """Peak bytes NumPy allocates during ``f()`` (tracemalloc sees NumPy's array data; the
    kernels' large results come from the untraced memory pool)."""
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_recurrent_backward_float32_path_copies_no_cache_array(rng, kind):
    # Every cache array is at least 1 MiB, so a copy of any one of them shows in the peak.
    shapes, cache = _forward(rng, kind, np.float32, 512, 2, 512, 512)
    smallest = min(a.nbytes for a in _arrays(cache).values())
    backward = _backward("fast", kind)
    grads32 = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads64 = [g.astype(np.float64) for g in grads32]
    backward(*grads32, cache)  # warm the memory pool with the float32 results' sizes
    peak32 = _traced_peak(lambda: backward(*grads32, cache))
    assert peak32 < smallest, f"float32 backward allocated {peak32} bytes (cache arrays >= {smallest})"
    # Control: the same measurement does see the promoted path's float64 copies.
    backward(*grads64, cache)
    assert _traced_peak(lambda: backward(*grads64, cache)) > smallest
