"""Validated scaled dot-product attention over the compiled kernels of ``_ext.attention``.

Same names, signatures and cache as the NumPy twin :mod:`cs231n_fast.reference.attention`, plus
the keyword ``n_threads``. Both functions validate in Python before native code runs, apply the
dtype policy (all-float32 in -> float32 out, otherwise float64), make inputs C-contiguous only
when needed and allocate fresh outputs; inputs are never modified.

Shapes: queries ``q`` (N, H, S, Dh), keys ``k`` (N, H, T, Dh), values ``v`` (N, H, T, Dv) -- N
the batch, H the heads, S the query positions, T the key positions. ``out`` is (N, H, S, Dv).

Masks, as the course's ``MultiHeadAttention`` and PyTorch read them:

- ``mask``: broadcastable to (N, H, S, T) (the course passes (S, T)), boolean or numbers;
  ``mask[..., i, j] == 0`` (False) means query ``i`` may **not** attend to key ``j`` (the course
  applies it as ``masked_fill(mask == 0, -inf)``; for PyTorch's boolean ``attn_mask`` True also
  means "may attend").
- ``bias``: a float array broadcastable to (N, H, S, T) added to the scaled scores (PyTorch's
  float ``attn_mask``, ALiBi, relative-position terms). ``-inf`` entries mask.
- ``causal=True``: query ``i`` attends to keys ``j <= i`` only (the top-left aligned lower
  triangle, as PyTorch's ``is_causal`` and the course's ``torch.tril`` mask).

A query whose keys are all masked has no softmax: its attention weights, its output row and its
gradients are **zeros** (PyTorch and the course give NaN there).

Attention dropout (the course's ``self.attn_drop`` on the softmax weights in train mode):
``dropout_p`` is the probability of *dropping* a weight (``torch.nn.Dropout``'s ``p``); the kept
ones are scaled by ``1 / (1 - dropout_p)``. The keep mask is either given (``dropout_mask``, a
boolean array of shape (N, H, S, T), True = keep) or drawn in Python as
``rng.random((N, H, S, T)) >= dropout_p`` (``rng`` a seed or ``np.random.Generator``; without it
NumPy's global random state, ``np.random.random_sample``), so the twin and the kernel drop the
same weights for the same ``rng``.
"""

import math
import numbers

import numpy as np

from .. import _memory
from .. import _validation as v
from .._ext import attention as _k
from .._threads import blas_single_thread, effective_n_threads, work_threads

__all__ = ["sdpa_forward", "sdpa_backward", "AttentionCache"]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_INT_MAX = np.iinfo(np.int32).max
#: The kernels' specialisations per dtype, looked up once (Cython's dispatch on the fused type
#: of each call costs a few microseconds).
_FWD = {_F32: _k.sdpa_forward["float"], _F64: _k.sdpa_forward["double"]}
_BWD = {_F32: _k.sdpa_backward["float"], _F64: _k.sdpa_backward["double"]}
_NO_ADD = {t: np.empty((0, 0, 0), t) for t in (_F32, _F64)}
_NO_KEEP = np.empty((0, 0, 0), np.uint8)
_EMPTY_SCRATCH = {t: np.empty((1, 1), t) for t in (_F32, _F64)}
#: Products of at most this many multiply-adds run on one OpenBLAS thread whatever its setting
#: (see ops/linear.py); every block's product here is smaller for the course's shapes, so
#: holding BLAS to one thread (two calls into OpenBLAS) is skipped then.
_BLAS_SERIAL_MNK = 65536 * 4


class AttentionCache:
    """What :func:`sdpa_backward` needs from a forward call (this module's or the twin's).

    Attributes
    ----------
    q, k, v : ndarray
        The inputs in the compute dtype: the caller's arrays when the kernels read them in
        place (see :func:`sdpa_forward`'s Notes), else C-contiguous copies.
    p : ndarray of shape (N, H, S, T)
        The softmax weights (before dropout); zero rows for fully masked queries.
    keep : ndarray of bool of shape (N, H, S, T), or None
        The dropout keep mask (None without dropout).
    scale, dropout_scale : float
        The scores' scale and the kept weights' scale ``1 / (1 - dropout_p)``.
    out_shape : tuple
        The forward output's shape (N, H, S, Dv).
    producer : str
        The function that made the cache.
    """

    __slots__ = ("q", "k", "v", "p", "keep", "scale", "dropout_scale", "out_shape", "producer")

    def __init__(self, q, k, v, p, keep, scale, dropout_scale, out_shape, producer):
        self.q, self.k, self.v, self.p, self.keep = q, k, v, p, keep
        self.scale, self.dropout_scale = scale, dropout_scale
        self.out_shape, self.producer = tuple(out_shape), producer

    def __repr__(self):
        return (f"AttentionCache(out_shape={self.out_shape}, dtype={self.q.dtype}, "
                f"dropout={self.keep is not None}, producer={self.producer!r})")


class _Args:
    __slots__ = ("q", "k", "v", "add", "keep", "scale", "dropout_scale")


def _broadcast4(name, a, shape):
    """``a`` viewed with 4 dimensions; ValueError unless it broadcasts to ``shape``."""
    if a.ndim > 4 or any(d not in (1, e) for d, e in zip(a.shape[::-1], shape[::-1])):
        raise ValueError(
            f"{name} must be broadcastable to (N, H, S, T) = {shape} (the course passes (S, T)); "
            f"got shape {a.shape}"
        )
    return a.reshape((1,) * (4 - a.ndim) + a.shape)


def _additive(mask, bias, causal, shape, dt):
    """The mask, bias and causal mask as one additive array of shape (bn, bh, S, T), bn in {1, N}
    and bh in {1, H}, ``-inf`` where masked; None when there is nothing to add."""
    n, h, s, t = shape
    if mask is None and bias is None and not causal:
        return None
    lead = [1, 1]
    if mask is not None:
        lead = [max(a, b) for a, b in zip(lead, mask.shape[:2])]
    if bias is not None:
        lead = [max(a, b) for a, b in zip(lead, bias.shape[:2])]
    add = np.zeros((*lead, s, t), dt)
    if bias is not None:
        add += bias
    if mask is not None:
        add[np.broadcast_to(mask == 0, add.shape)] = -np.inf
    if causal:
        add[..., np.triu(np.ones((s, t), bool), 1)] = -np.inf
    return add


def _usable(a, dt):
    """``a`` itself when the kernels can read it in place -- dtype ``dt``, aligned, positive
    strides, a contiguous last dimension and rows at least a row apart (a C array, or the
    (N, H, S, D) view of an (N, S, H, D) array that multi-head attention makes) -- else a
    C-contiguous copy."""
    if a.dtype == dt and a.flags.aligned:
        s0, s1, s2, s3 = a.strides
        if s3 == dt.itemsize and s2 >= a.shape[3] * s3 and s0 > 0 and s1 > 0:
            return a
    return np.ascontiguousarray(a, dt)


def _empty_like(a, last, dt):
    """A new (N, H, R, ``last``) array laid out as ``a`` (N, H, R, D): heads inside rows,
    (N, R, H, last) in memory, when ``a`` is laid out so; else C-contiguous."""
    n, h, r, _ = a.shape
    if a.strides[1] < a.strides[2] and h > 1 and r > 1:
        return _memory.empty((n, r, h, last), dt).transpose(0, 2, 1, 3)
    return _memory.empty((n, h, r, last), dt)


def _forward_args(q, k, v_, mask, bias, causal, scale, dropout_p, dropout_mask, rng):
    """Validate a forward call; return an :class:`_Args` with q, k, v in the compute dtype (in
    place or copied, :func:`_usable`), the additive mask (or None), the keep mask (or None) and both scales."""
    q = v.as_array("q", q)
    k = v.as_array("k", k)
    v_ = v.as_array("v", v_)
    if q.ndim != 4:
        v.check_ndim("q", q, 4, "(N, H, S, Dh)")
    if k.ndim != 4:
        v.check_ndim("k", k, 4, "(N, H, T, Dh)")
    if v_.ndim != 4:
        v.check_ndim("v", v_, 4, "(N, H, T, Dv)")
    n, h, s, dh = q.shape
    t = k.shape[2]
    if k.shape != (n, h, t, dh):
        v.check_shape("k", k, (n, h, t, dh), f"(N, H, T, Dh) with N, H, Dh of q {q.shape}")
    if v_.shape[:3] != (n, h, t):
        v.check_shape("v", v_, (n, h, t, v_.shape[3]), f"(N, H, T, Dv) with N, H, T of q {q.shape} and k {k.shape}")
    if dh == 0:
        raise ValueError(f"q must have Dh >= 1 (the last dimension, the head size); got shape {q.shape}")
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be a bool; got {causal!r}")
    if scale is None:
        scale = 1.0 / math.sqrt(dh)
    else:
        scale = v.real_number("scale", scale)
    dropout_p = v.real_number("dropout_p", dropout_p, 0.0, 1.0)
    arrays = [q, k, v_]
    if bias is not None:
        bias = v.as_array("bias", bias)
        bias = _broadcast4("bias", bias, (n, h, s, t))
        arrays.append(bias)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biuf":
            raise TypeError(f"mask must be a boolean or real numeric array (0 = may not attend); got dtype {mask.dtype}")
        if mask.dtype.kind == "f" and np.isneginf(mask).any():
            raise ValueError("mask holds -inf: it looks like an additive mask (0 = attend, -inf = "
                             "masked), which mask would read inverted (0 = may not attend); "
                             "pass it as bias= instead")
        mask = _broadcast4("mask", mask, (n, h, s, t))
    dt = _F32 if all(a.dtype == _F32 for a in arrays) else _F64
    a = _Args()
    a.q = _usable(q, dt)
    a.k = _usable(k, dt)
    a.v = _usable(v_, dt)
    a.add = _additive(mask, bias, bool(causal), (n, h, s, t), dt)
    a.scale = scale
    a.keep = None
    a.dropout_scale = 1.0
    if dropout_mask is not None:
        if dropout_p == 0.0:
            raise ValueError("dropout_mask is given but dropout_p is 0: pass dropout_p > 0 (the "
                             "probability the mask was drawn with) or no mask")
        keep = np.asarray(dropout_mask)
        if keep.dtype.kind not in "biuf":
            raise TypeError(f"dropout_mask must be a boolean array (True = keep); got dtype {keep.dtype}")
        if keep.shape != (n, h, s, t):
            v.check_shape("dropout_mask", keep, (n, h, s, t), "(N, H, S, T), True where a weight is kept")
        a.keep = np.ascontiguousarray(keep != 0)
    elif dropout_p > 0.0:
        if rng is None:
            a.keep = np.random.random_sample((n, h, s, t)) >= dropout_p
        else:
            a.keep = v.make_rng(rng, "rng").random((n, h, s, t)) >= dropout_p
    elif rng is not None:
        v.make_rng(rng, "rng")  # validated even when unused
    if a.keep is not None:
        a.dropout_scale = 0.0 if dropout_p == 1.0 else 1.0 / (1.0 - dropout_p)
    return a


def _backward_args(dout, cache):
    """Validate a backward call; return ``(dout, q, k, v, p, keep)`` contiguous in the compute
    dtype (float32 when the cache and ``dout`` are float32, else float64)."""
    if not isinstance(cache, AttentionCache):
        raise TypeError(f"cache must be the AttentionCache returned by sdpa_forward; got {type(cache).__name__}")
    dout = v.as_array("dout", dout)
    if dout.shape != cache.out_shape:
        v.check_ndim("dout", dout, 4, "(N, H, S, Dv)")
        v.check_shape("dout", dout, cache.out_shape, "the output shape of the sdpa_forward call that made cache")
    q, k, v_, p = cache.q, cache.k, cache.v, cache.p
    n, h, s, dv = cache.out_shape
    if q.shape[:3] != (n, h, s) or k.shape != (n, h, k.shape[2], q.shape[3]) or \
            v_.shape != (n, h, k.shape[2], dv) or p.shape != (n, h, s, k.shape[2]):
        raise ValueError("cache is not the one sdpa_forward returned: its arrays disagree in shape")
    dt = _F32 if (dout.dtype == _F32 and q.dtype == _F32) else _F64
    return (_usable(dout, dt), _usable(q, dt), _usable(k, dt), _usable(v_, dt),
            np.ascontiguousarray(p, dt), cache.keep)


def _scratch(rows, size, dt):
    """``rows`` scratch rows of >= ``size`` elements, each starting on a 64-byte boundary (so
    every thread's buffers are aligned alike, whatever BLAS does with alignment)."""
    per = -(-size * dt.itemsize // 64) * 64 // dt.itemsize
    raw = np.empty(rows * per * dt.itemsize + 64, np.uint8)
    off = -raw.ctypes.data % 64
    return raw[off:off + rows * per * dt.itemsize].view(dt).reshape(rows, per)


def _check_blas(*dims):
    big = max(dims)
    if big > _INT_MAX:
        raise ValueError(f"an attention dimension ({big}) exceeds the 2**31 - 1 that BLAS accepts")


def _run(kernel, args, mnk):
    if mnk <= _BLAS_SERIAL_MNK:
        kernel(*args)
    else:
        with blas_single_thread():
            kernel(*args)


def _forward(a, n_threads):
    """``(out, p)`` for validated arguments: the kernel, or NumPy for zero-size shapes."""
    q, k, v_ = a.q, a.k, a.v
    n, h, s, dh = q.shape
    t, dv = k.shape[2], v_.shape[3]
    dt = q.dtype
    if 0 in (n, h, s, t, dv):  # nothing for a kernel to do: the twin's NumPy
        from ..reference.attention import _attend

        effective_n_threads(n_threads)  # validated all the same
        return _attend(a)
    _check_blas(s, t, dh, dv, s * t)
    nb = n * h
    work = nb * s * t * (dh + dv)
    # one block per thread at most: more threads would idle, each with its own S * T scratch
    nt = min(work_threads(n_threads, work), nb)
    p = _memory.empty((n, h, s, t), dt)
    out = _empty_like(q, dv, dt)
    if a.add is None:
        add, bn, bh = _NO_ADD[dt], 1, 1
    else:
        bn, bh = a.add.shape[:2]
        add = a.add.reshape(bn * bh, s, t)
    keep = _NO_KEEP if a.keep is None else a.keep.reshape(nb, s, t).view(np.uint8)
    scratch = _EMPTY_SCRATCH[dt] if a.keep is None else _scratch(nt, s * t, dt)
    args = (q, k, v_, add, keep, p.reshape(nb, s, t), out, scratch, bn, bh, a.scale,
            a.dropout_scale, nt)
    _run(_FWD[dt], args, s * t * max(dh, dv))
    return out, p


def _backward(dout, q, k, v_, p, keep, scale, dropout_scale, n_threads):
    """``(dq, dk, dv)`` for validated, contiguous, same-dtype arrays."""
    n, h, s, dh = q.shape
    t, dv = k.shape[2], v_.shape[3]
    dt = q.dtype
    if 0 in (n, h, s, t, dv):
        from ..reference.attention import _gradients

        effective_n_threads(n_threads)  # validated all the same
        return _gradients(dout, q, k, v_, p, keep, scale, dropout_scale)
    _check_blas(s, t, dh, dv, s * t)
    nb = n * h
    work = nb * s * t * (2 * dh + 3 * dv)
    nt = min(work_threads(n_threads, work), nb)  # scratch of 2 * S * T per thread: no idle ones
    dq = _empty_like(q, dh, dt)
    dk = _empty_like(k, dh, dt)
    dvo = _empty_like(v_, dv, dt)
    ld = -(-s * t * dt.itemsize // 64) * 64 // dt.itemsize
    scratch = _scratch(nt, 2 * ld, dt)
    kp = _NO_KEEP if keep is None else keep.reshape(nb, s, t).view(np.uint8)
    args = (q, k, v_, p.reshape(nb, s, t), kp, dout, dq, dk, dvo, scratch, ld, scale,
            dropout_scale, nt)
    _run(_BWD[dt], args, s * t * max(dh, dv))
    return dq, dk, dvo


def sdpa_forward(q, k, v, mask=None, *, bias=None, causal=False, scale=None, dropout_p=0.0,
                 dropout_mask=None, rng=None, n_threads=None):
    """Scaled dot-product attention: ``softmax(scale * q @ k^T + mask) @ v`` per batch and head.

    Parameters
    ----------
    q : array_like of shape (N, H, S, Dh)
        Queries.
    k : array_like of shape (N, H, T, Dh)
        Keys.
    v : array_like of shape (N, H, T, Dv)
        Values.
    mask : array_like broadcastable to (N, H, S, T), optional
        Boolean or 0/1: ``mask[..., i, j] == 0`` means query ``i`` may not attend to key ``j``
        (the course's ``attn_mask``, (S, T)).
    bias : array_like broadcastable to (N, H, S, T), optional
        Added to the scaled scores before the softmax (``-inf`` masks).
    causal : bool, default False
        Mask every key ``j > i`` for query ``i``.
    scale : float, optional
        Scale of the scores; default ``1 / sqrt(Dh)``.
    dropout_p : float in [0, 1], default 0
        Probability of dropping an attention weight (train mode); 0 turns dropout off.
    dropout_mask : array_like of bool of shape (N, H, S, T), optional
        The keep mask to use (True = keep) when ``dropout_p > 0``; default: drawn from ``rng``.
    rng : None, int or numpy.random.Generator, optional
        Source of the keep mask when ``dropout_p > 0`` and no ``dropout_mask`` is given:
        ``keep = rng.random((N, H, S, T)) >= dropout_p``; None draws from NumPy's global state.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    out : ndarray of shape (N, H, S, Dv)
        float32 if ``q``, ``k``, ``v`` (and ``bias``) are all float32, else float64.
    cache : AttentionCache
        For :func:`sdpa_backward`; holds the softmax weights (N, H, S, T).

    Raises
    ------
    TypeError
        If an array is not real numeric, ``causal`` not a bool or ``rng`` not a seed/Generator.
    ValueError
        If shapes disagree (see above), a mask does not broadcast to (N, H, S, T), ``scale`` is
        not finite, ``dropout_p`` is outside [0, 1] or ``n_threads`` < 1.

    Notes
    -----
    Queries whose keys are all masked get zero weights, a zero output row and zero gradients.

    Layout: inputs with a contiguous last dimension and positive strides are read in place
    (others are copied). When ``q`` is the (N, H, S, Dh) view of an (N, S, H, Dh) array --
    ``x.reshape(N, S, H, Dh).transpose(0, 2, 1, 3)``, how multi-head attention splits its
    heads -- ``out`` is allocated as (N, S, H, Dv) and returned as its (N, H, S, Dv) view, so
    merging the heads back, ``out.transpose(0, 2, 1, 3).reshape(N, S, H * Dv)``, copies
    nothing; the backward's gradients follow the layouts of ``q``, ``k`` and ``v`` likewise.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.ops.attention import sdpa_forward, sdpa_backward
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = (rng.standard_normal((2, 4, 5, 8)) for _ in range(3))
    >>> out, cache = sdpa_forward(q, k, v, causal=True)
    >>> out.shape
    (2, 4, 5, 8)
    >>> bool(np.allclose(out[:, :, 0], v[:, :, 0]))  # the first query sees only the first key
    True
    >>> dq, dk, dv = sdpa_backward(np.ones_like(out), cache)
    """
    a = _forward_args(q, k, v, mask, bias, causal, scale, dropout_p, dropout_mask, rng)
    out, p = _forward(a, n_threads)
    return out, AttentionCache(a.q, a.k, a.v, p, a.keep, a.scale, a.dropout_scale, out.shape,
                               "sdpa_forward")


def sdpa_backward(dout, cache, *, n_threads=None):
    """Backward pass of :func:`sdpa_forward`.

    Parameters
    ----------
    dout : array_like of shape (N, H, S, Dv)
        Upstream derivative.
    cache : AttentionCache
        From :func:`sdpa_forward` (this module's or the twin's).
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    dq : ndarray of shape (N, H, S, Dh)
    dk : ndarray of shape (N, H, T, Dh)
    dv : ndarray of shape (N, H, T, Dv)
        float32 if the cache and ``dout`` are float32, else float64.

    Raises
    ------
    TypeError
        If ``cache`` is not an :class:`AttentionCache` or ``dout`` not a real numeric array.
    ValueError
        If ``dout`` does not have the forward output's shape.
    """
    dout, q, k, v_, p, keep = _backward_args(dout, cache)
    return _backward(dout, q, k, v_, p, keep, cache.scale, cache.dropout_scale, n_threads)
