"""Validated affine (fully connected) layer API over the compiled kernels of ``_ext.linear``.

Same names, signatures and caches as the NumPy twin :mod:`cs231n_fast.reference.linear`, plus
a keyword ``n_threads`` (and ``need_dx`` on the backwards). Every function validates in Python
before native code runs, applies the dtype policy (all-float32 in -> float32 out, otherwise
float64; in a backward the cached arrays and ``dout`` all count), makes inputs C-contiguous
only when needed, allocates fresh outputs and calls the kernel with BLAS held to one thread
(the kernel deals fixed blocks of each product to its own threads). Inputs are never modified.

What is fused: the forward adds the bias (and applies the ReLU of :func:`affine_relu_forward`)
to each block of the output right after that block's product, while it is in cache; the
backward sums db (and masks ``dout`` by the ReLU) in one pass, then computes dw and dx by
blocks of input features; ``need_dx=False`` skips dx (a model's first layer: nobody needs the
gradient of the data), and :func:`affine_backward_l2` adds the L2 term ``reg * w`` to dw in the
same blocks and returns ``sum(w ** 2)``.

Results do not depend on the thread count: the blocks depend on the problem's shape only,
every output element has one writer and every sum a fixed order (tested bitwise, and checked
against the build without OpenMP in CI). Empty inputs (a zero-size dimension) are computed
with NumPy, as the course's code would.
"""

import math

import numpy as np

from .. import _memory
from .. import _validation as v
from .._cache import AffineCache
from .._ext import linear as _k
from .._threads import blas_single_thread, work_threads

__all__ = [
    "affine_forward",
    "affine_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_backward_l2",
    "l2_penalty",
]

_INT_MAX = np.iinfo(np.int32).max
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_EMPTY2 = {t: np.empty((0, 0), t) for t in (_F32, _F64)}
#: The kernels' specialisations per dtype, looked up once (Cython's dispatch on the fused type
#: of each call costs a few microseconds).
_FWD = {_F32: _k.affine_forward["float"], _F64: _k.affine_forward["double"]}
_BWD = {_F32: _k.affine_backward["float"], _F64: _k.affine_backward["double"]}
_L2 = {_F32: _k.l2_update["float"], _F64: _k.l2_update["double"]}
_EMPTY_SQ = np.empty(0, np.float64)
#: OpenBLAS runs a GEMM of at most this many multiply-adds (M * N * K) on one thread whatever
#: its thread count (interface/gemm.c: SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD); so does
#: every block of a problem this small, and the kernel skips holding BLAS to one thread (that
#: costs two calls into OpenBLAS, ~10 us, more than such a product).
_BLAS_SERIAL_MNK = 65536 * 4
#: Elements per chunk of :func:`l2_penalty` (fixed: the chunks' partial sums are added in order).
_L2_CHUNK = 1 << 15


def _blocks(size, nb):
    """The length of ``nb`` near-equal blocks of ``size`` (a multiple of 8 unless one block)."""
    if nb <= 1:
        return size
    per = -(-size // nb)
    return min(size, -(-per // 8) * 8)


def _n_blocks(work):
    """How many blocks a product of ``work`` multiply-adds is split into: 2 up to 2**29 (every
    layer of the course's networks), 4 up to 2**31, then 8. Measured on one thread, each extra
    block costs 2-10% (another packing of the shared operand, smaller products); two keep two
    threads busy. Depends on the problem only, never on the thread count."""
    return 2 if work < 1 << 29 else 4 if work < 1 << 31 else 8


def _forward_plan(n, d, m):
    """``(rb, cb)``: row and column block sizes of the forward's output. Columns first (``w``
    is usually the larger operand); rows when there are too few columns (< 64 per block)."""
    nb = _n_blocks(n * d * m)
    nbc = max(1, min(nb, m // 64))
    nbr = max(1, min(nb // nbc, n // 32))
    return _blocks(n, nbr), _blocks(m, nbc)


_PLANS = {}


def _plan(n, d, m):
    """``(rb, cb, dk, cw)`` for a problem: the forward's output blocks, the backward's blocks of
    D and of db's columns; remembered per shape (a model calls the same few shapes each step).
    Raises if a BLAS dimension would overflow an int."""
    plan = _PLANS.get((n, d, m))
    if plan is None:
        _check_blas(n, d, m)
        if len(_PLANS) > 4096:
            _PLANS.clear()
        nb = _n_blocks(n * d * m)
        plan = (*_forward_plan(n, d, m), _blocks(d, max(1, min(nb, d // 64))), _blocks(m, max(1, min(nb, m // 64))))
        _PLANS[n, d, m] = plan
    return plan


def _check_blas(*dims):
    big = max(dims)
    if big > _INT_MAX:
        raise ValueError(
            f"a matrix dimension of this affine layer ({big}) exceeds the 2**31 - 1 that BLAS "
            "accepts; split the batch"
        )


# --- validation ---------------------------------------------------------------------------------


def _affine_args(x, w, b):
    """Validate an affine forward; return ``(x, x2, w, b)``: ``x`` in the compute dtype (its own
    shape), ``x2`` its (N, D) C-contiguous matrix view, ``w`` and ``b`` C-contiguous."""
    x = v.as_array("x", x)
    if x.ndim < 1:
        raise ValueError(f"x must have shape (N, d_1, ..., d_k); got a 0-d array of shape {x.shape}")
    # A 1-D x is N examples of one feature (D = 1), as the course's x.reshape(N, -1) reads it.
    d = math.prod(x.shape[1:]) if x.ndim != 2 else x.shape[1]
    w = v.as_array("w", w)
    b = v.as_array("b", b)
    if w.ndim != 2:
        v.check_ndim("w", w, 2, "(D, M)")
    if w.shape[0] != d:
        one = "; for a single example of shape (D,) pass x[None]" if x.ndim == 1 else ""
        v.check_shape("w", w, (d, w.shape[1]), f"(D, M) with D = {d}, the size of one example of x {x.shape}{one}")
    if b.shape != w.shape[1:]:
        v.check_ndim("b", b, 1, "(M,)")
        v.check_shape("b", b, w.shape[1:], f"(M,), the output size of w {w.shape}")
    dt = _F32 if (x.dtype == _F32 and w.dtype == _F32 and b.dtype == _F32) else _F64
    x = np.ascontiguousarray(x, dt)
    return x, x.reshape(x.shape[0], d), np.ascontiguousarray(w, dt), np.ascontiguousarray(b, dt)


def _forward(x2, w, b, relu, n_threads):
    """``x2 @ w + b`` (and its ReLU) for validated, contiguous, same-dtype arrays."""
    n, d = x2.shape
    m = w.shape[1]
    if n == 0 or d == 0 or m == 0:  # nothing for a kernel to do: NumPy, as the course
        out = x2 @ w + b
        return np.maximum(out, 0) if relu else out
    rb, cb, _, _ = _plan(n, d, m)
    nt = work_threads(n_threads, n * d * m)
    out = _memory.empty((n, m), x2.dtype)
    kernel = _FWD[x2.dtype]
    if n * d * m <= _BLAS_SERIAL_MNK:
        kernel(x2, w, b, out, rb, cb, relu, nt)
    else:
        with blas_single_thread():
            kernel(x2, w, b, out, rb, cb, relu, nt)
    return out


def _backward(dout, x2, w, act, need_dx, reg, n_threads):
    """``(dx2, dw, db, sumsq)`` for validated, contiguous, same-dtype arrays; ``dx2`` None
    unless ``need_dx``; with ``reg`` not None, ``dw`` includes ``reg * w`` and ``sumsq`` is
    ``sum(w ** 2)`` (float), else None."""
    n, d = x2.shape
    m = w.shape[1]
    dt = x2.dtype
    if n == 0 or d == 0 or m == 0:
        g = dout if act is None else np.where(act > 0, dout, 0)
        dw = x2.T @ g
        sumsq = None
        if reg is not None:
            dw = dw + reg * w
            sumsq = float(np.sum(w * w, dtype=np.float64))
        return (g @ w.T if need_dx else None), dw, g.sum(axis=0), sumsq
    _, _, dk, cw = _plan(n, d, m)
    nt = work_threads(n_threads, n * d * m)
    empty = _EMPTY2[dt]
    dw = _memory.empty((d, m), dt)
    db = np.empty(m, dt)
    dx = _memory.empty((n, d), dt) if need_dx else empty
    da = empty if act is None else _memory.empty((n, m), dt)
    sq = _EMPTY_SQ if reg is None else np.empty(-(-d // dk), np.float64)
    args = (x2, w, dout, empty if act is None else act, da, dx, dw, db, sq,
            0.0 if reg is None else reg, cw, dk, nt)
    kernel = _BWD[dt]
    if n * d * m <= _BLAS_SERIAL_MNK:
        kernel(*args)
    else:
        with blas_single_thread():
            kernel(*args)
    sumsq = None if reg is None else math.fsum(sq.tolist()) if sq.size > 1 else float(sq[0])
    return (dx if need_dx else None), dw, db, sumsq


def _grad_args(dout, cache, producers):
    """Validate a backward's ``dout`` and ``cache``; return ``(dout, x2, w, act)`` contiguous in
    the compute dtype (float32 when the cache and ``dout`` are float32, else float64)."""
    if not isinstance(cache, AffineCache) or cache.producer not in producers:
        got = cache.producer if isinstance(cache, AffineCache) else type(cache).__name__
        raise TypeError(f"cache must be the AffineCache returned by {producers[0]}; got {got}")
    dout = v.as_array("dout", dout)
    if dout.shape != cache.out_shape:
        v.check_ndim("dout", dout, 2, "(N, M)")
        v.check_shape("dout", dout, cache.out_shape, f"the output shape of the {cache.producer} call that made cache")
    x2, w, act = cache.x, cache.w, cache.act
    n, m = cache.out_shape
    if x2.ndim != 2 or x2.shape[0] != n or w.shape != (x2.shape[1], m) or (
        act is not None and act.shape != (n, m)
    ):
        raise ValueError(f"cache is not the one {cache.producer} returned: its arrays disagree in shape")
    dt = _F32 if (dout.dtype == _F32 and x2.dtype == _F32) else _F64
    cast = np.ascontiguousarray
    return cast(dout, dt), cast(x2, dt), cast(w, dt), (None if act is None else cast(act, dt))


# --- public API ---------------------------------------------------------------------------------


def affine_forward(x, w, b, *, n_threads=None):
    """Forward pass of an affine (fully connected) layer: ``x.reshape(N, D) @ w + b``.

    Parameters
    ----------
    x : array_like of shape (N, d_1, ..., d_k)
        Input; each example is flattened to D = d_1 * ... * d_k values.
    w : array_like of shape (D, M)
        Weights.
    b : array_like of shape (M,)
        Biases.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    out : ndarray of shape (N, M)
        float32 if ``x``, ``w`` and ``b`` are all float32, else float64.
    cache : AffineCache
        For :func:`affine_backward`.

    Raises
    ------
    TypeError
        If an argument is not a real numeric array.
    ValueError
        If ``x`` has fewer than 2 dimensions, ``w`` is not (D, M) or ``b`` is not (M,).

    Notes
    -----
    The product runs by fixed blocks of the output (one BLAS thread each, shared between the
    kernel's threads), the bias is added to each block right after its product.
    """
    x, x2, w, b = _affine_args(x, w, b)
    out = _forward(x2, w, b, False, n_threads)
    return out, AffineCache(x2, w, b, x.shape, None, "affine_forward", out.shape)


def affine_relu_forward(x, w, b, *, n_threads=None):
    """``max(0, x.reshape(N, D) @ w + b)``: an affine layer and a ReLU in one pass.

    Parameters and errors as :func:`affine_forward`. The ReLU is applied to each output block
    right after its product (NaN propagates, as ``np.maximum``).

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : AffineCache
        For :func:`affine_relu_backward`. It refers to ``out`` (the ReLU's mask is
        ``out > 0``): modify a copy of ``out``, not ``out``.
    """
    x, x2, w, b = _affine_args(x, w, b)
    out = _forward(x2, w, b, True, n_threads)
    return out, AffineCache(x2, w, b, x.shape, out, "affine_relu_forward", out.shape)


def affine_backward(dout, cache, *, n_threads=None, need_dx=True):
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : array_like of shape (N, M)
        Upstream derivative.
    cache : AffineCache
        From :func:`affine_forward` (this module's or the twin's).
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.
    need_dx : bool, default True
        False skips the input gradient (its product is a third of the work) and returns None
        in its place.

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k), or None
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
        float32 if the cached arrays and ``dout`` are float32, else float64.

    Raises
    ------
    TypeError
        If ``cache`` is not an affine forward's cache or ``dout`` not a real numeric array.
    ValueError
        If ``dout`` does not have the forward output's shape.
    """
    dout, x2, w, act = _grad_args(dout, cache, ("affine_forward",))
    dx, dw, db, _ = _backward(dout, x2, w, act, need_dx, None, n_threads)
    return (None if dx is None else dx.reshape(cache.x_shape)), dw, db


def affine_relu_backward(dout, cache, *, n_threads=None, need_dx=True):
    """Backward pass of :func:`affine_relu_forward`: ``dout`` masked by ``out > 0`` (in the same
    pass as db), then as :func:`affine_backward`."""
    dout, x2, w, act = _grad_args(dout, cache, ("affine_relu_forward",))
    dx, dw, db, _ = _backward(dout, x2, w, act, need_dx, None, n_threads)
    return (None if dx is None else dx.reshape(cache.x_shape)), dw, db


def affine_backward_l2(dout, cache, reg, *, n_threads=None, need_dx=True):
    """:func:`affine_backward` (or :func:`affine_relu_backward`, by the cache) with the L2
    penalty of the weights fused into dw's blocks.

    Returns ``(dx, dw, db, penalty)`` with ``dw`` including ``reg * w`` and ``penalty =
    0.5 * reg * sum(w ** 2)`` (a float; the squares summed in float64).
    """
    reg = v.real_number("reg", reg)
    dout, x2, w, act = _grad_args(dout, cache, ("affine_forward", "affine_relu_forward"))
    dx, dw, db, sumsq = _backward(dout, x2, w, act, need_dx, reg, n_threads)
    return (None if dx is None else dx.reshape(cache.x_shape)), dw, db, 0.5 * reg * sumsq


def _l2(w, g, out, reg, n_threads=None):
    """``out[...] = g + reg * w`` (``out`` may be ``g``: in place) for C-contiguous arrays of one
    shape and dtype; returns ``sum(w ** 2)`` in float64, summed by fixed chunks in order."""
    wf, gf, of = w.reshape(-1), g.reshape(-1), out.reshape(-1)
    n = wf.size
    if n == 0:
        return 0.0
    nb = -(-n // _L2_CHUNK)
    sq = np.empty(nb, np.float64)
    _L2[w.dtype](gf, wf, of, sq, reg, _L2_CHUNK, work_threads(n_threads, n) if nb > 1 else 1)
    return math.fsum(sq.tolist()) if nb > 1 else float(sq[0])


def l2_penalty(w, dw, reg, *, n_threads=None):
    """The L2 penalty ``0.5 * reg * sum(w ** 2)`` and ``dw + reg * w``, in one pass.

    Parameters
    ----------
    w : array_like
        Weights.
    dw : array_like of w's shape
        Their gradient so far (not modified).
    reg : float
        Regularisation strength.

    Returns
    -------
    penalty : float
        Squares summed in float64.
    dw : ndarray
        A new array, float32 if ``w`` and ``dw`` are float32, else float64.
    """
    w, dw = v.as_array("w", w), v.as_array("dw", dw)
    v.check_shape("dw", dw, w.shape, "the shape of w")
    reg = v.real_number("reg", reg)
    dt = v.result_dtype(w, dw)
    w, dw = np.ascontiguousarray(w, dt), np.ascontiguousarray(dw, dt)
    out = np.empty_like(w)
    return 0.5 * reg * _l2(w, dw, out, reg, n_threads), out
