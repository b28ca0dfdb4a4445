"""Activations and inverted dropout in vectorised NumPy.

This is the readable twin of ``cs231n_fast.ops.activations``: same names, signatures,
validation, dtype policy and caches (``n_threads`` is accepted and ignored), so either backward
accepts either forward's cache. The argument checks and dropout's mask hash live here and the
fast module imports them, so the two cannot drift apart.

Dropout masks come from a counter-based hash of (key, element index) (:func:`dropout_keep`),
spelled here in NumPy's uint32 arithmetic and in ``csrc/activations_kernels.h`` in C: the twin's
masks are bitwise the fast kernel's.
"""

import math
import numbers

import numpy as np

from .. import _validation as v
from .._cache import ActivationCache

__all__ = [
    "relu_forward",
    "relu_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "prelu_forward",
    "prelu_backward",
    "elu_forward",
    "elu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "maxout_forward",
    "maxout_backward",
    "dropout_forward",
    "dropout_backward",
    "dropout_key",
    "dropout_keep",
]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_MODES = ("train", "test")


# --- argument checks, shared with ops.activations -----------------------------------------------


def as_float(x, name="x"):
    """``x`` as a C-contiguous array in the policy dtype (float32 stays float32, else float64)."""
    if type(x) is np.ndarray and (x.dtype is _F32 or x.dtype is _F64 or x.dtype in (_F32, _F64)):
        return x if x.flags.c_contiguous else np.asarray(x, order="C")
    x = v.as_array(name, x)
    return np.asarray(x, dtype=v.result_dtype(x), order="C")


def grad_args(dout, cache, producer, layout=None):
    """Validate ``dout`` against a ``cache`` made by ``producer``; return ``(dout, saved, dtype)``
    with ``dout`` C-contiguous in the compute dtype (float32 when the forward ran in float32 and
    ``dout`` is float32, else float64) and ``saved`` the cache's arrays (cast when needed)."""
    if type(cache) is not ActivationCache:
        raise TypeError(
            f"cache must be the ActivationCache returned by {producer}; got {type(cache).__name__}"
        )
    if cache.producer != producer:
        raise TypeError(f"cache must be the cache returned by {producer}; got one from {cache.producer}")
    if not (type(dout) is np.ndarray and dout.shape == cache.out_shape and dout.dtype.kind == "f"):
        dout = v.backward_args(dout, cache, ActivationCache, producer, layout or str(cache.out_shape))
    dtype = _F32 if (dout.dtype == _F32 and cache.dtype == _F32) else _F64
    saved = cache.saved
    if dtype != cache.dtype:
        saved = {
            k: a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for k, a in saved.items()
        }
    return np.asarray(dout, dtype=dtype, order="C"), saved, dtype


def slope(name, alpha):
    """A fixed slope (leaky ReLU, ELU): a finite real number."""
    return v.real_number(name, alpha)


def prelu_args(x, alpha):
    """``x`` and ``alpha`` as arrays in their compute dtype, and the channel count: 1 for a
    scalar alpha, C = x.shape[1] for alpha of shape (C,)."""
    x, alpha = v.as_array("x", x), v.as_array("alpha", alpha)
    if alpha.ndim != 0 and (alpha.ndim != 1 or x.ndim < 2 or alpha.shape[0] != x.shape[1]):
        channels = f"(C,) = ({x.shape[1]},)" if x.ndim >= 2 else "(C,) (for x with an axis 1)"
        raise ValueError(
            f"alpha must have shape () (one slope) or {channels} (one per channel, axis 1 of "
            f"x {x.shape}); got shape {alpha.shape}"
        )
    dtype = v.result_dtype(x, alpha)
    return np.asarray(x, dtype=dtype, order="C"), np.asarray(alpha, dtype=dtype, order="C")


def maxout_args(x, w, b):
    """``x`` as (N, D), ``w`` (K, D, M), ``b`` (K, M) in their compute dtype."""
    x = v.as_array("x", x)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, d_1, ..., d_k) with k >= 1; got shape {x.shape}")
    d = math.prod(x.shape[1:])
    w, b = v.as_array("w", w), v.as_array("b", b)
    v.check_ndim("w", w, 3, "(K, D, M)")
    v.check_nonempty("w", w, "(K, D, M)")
    k, _, m = w.shape
    v.check_shape("w", w, (k, d, m), f"(K, D, M) with D = {d}, the size of one example of x {x.shape}")
    v.check_ndim("b", b, 2, "(K, M)")
    v.check_shape("b", b, (k, m), f"(K, M), the piece count and output size of w {w.shape}")
    if k >= 2**31:
        raise ValueError(f"w must have fewer than 2**31 pieces; got {k}")
    dtype = v.result_dtype(x, w, b)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), b.astype(dtype, copy=False)


def dropout_args(p, mode, seed):
    """``(p, mode, seed)`` checked: p in (0, 1], mode 'train' or 'test', seed None or an int in
    [0, 2**32 - 1] (the seeds ``np.random.seed`` takes)."""
    p = v.real_number("p", p, 0.0, 1.0, low_open=True)
    if not (isinstance(mode, str) and mode in _MODES):
        raise ValueError(f"mode must be 'train' or 'test'; got {mode!r}")
    if seed is not None:
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be None or an int in [0, 2**32 - 1]; got {seed!r}")
        if not 0 <= seed < 2**32:
            raise ValueError(f"seed must be an int in [0, 2**32 - 1]; got {seed}")
    return p, mode, seed


# --- dropout's counter-based masks --------------------------------------------------------------

_M64 = (1 << 64) - 1


def dropout_key(seed):
    """The two 32-bit hash keys of a dropout mask.

    With a seed: splitmix64's output for it (low, high halves), so nearby seeds give unrelated
    masks. Without (None): two draws from NumPy's global random state (``np.random.seed`` makes
    a run reproducible; the state advances as the course's ``np.random.rand`` would advance it,
    though by a different amount).
    """
    if seed is None:
        k = np.random.randint(0, 2**32, size=2, dtype=np.int64)
        return int(k[0]), int(k[1])
    z = (int(seed) + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    z ^= z >> 31
    return z & 0xFFFFFFFF, z >> 32


def dropout_threshold(p):
    """Keep when the hash's top 24 bits are below ceil(p * 2**24): probability p up to 2**-24."""
    return min(1 << 24, math.ceil(p * (1 << 24)))


def _mix32(h):
    """Wellons' lowbias32 on a uint32 array (a bijection; wrapping uint32 arithmetic)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x7FEB352D)
    h = h ^ (h >> np.uint32(15))
    h = h * np.uint32(0x846CA68B)
    return h ^ (h >> np.uint32(16))


def dropout_keep(shape, key, p):
    """The boolean keep-mask of ``shape`` for ``key = (k0, k1)`` and keep probability ``p``.

    Element ``i`` (flat, row-major; ``i = hi * 2**32 + lo``) is kept when
    ``mix(mix(lo ^ k0) ^ k1 ^ (hi * 0x9E3779B9)) >> 8 < ceil(p * 2**24)``, ``mix`` being
    :func:`_mix32`: a pure function of (key, index), so the mask does not depend on threads or
    chunking.
    """
    i = np.arange(math.prod(shape), dtype=np.uint64)
    lo = (i & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi = (i >> np.uint64(32)).astype(np.uint32)
    kh = np.uint32(key[1]) ^ (hi * np.uint32(0x9E3779B9))
    h = _mix32(_mix32(lo ^ np.uint32(key[0])) ^ kh)
    return ((h >> np.uint32(8)) < dropout_threshold(p)).reshape(shape)


# --- the twin -----------------------------------------------------------------------------------


def _cache(producer, result, **saved):
    return ActivationCache(producer, result.shape, result.dtype, saved)


def relu_forward(x, *, n_threads=None):
    """``max(0, x)`` elementwise (NaN stays NaN); cache holds x."""
    x = as_float(x)
    out = np.maximum(x, 0)
    return out, _cache("relu_forward", out, x=x)


def relu_backward(dout, cache, *, n_threads=None):
    """``dout`` where ``x > 0``, else 0."""
    dout, s, _ = grad_args(dout, cache, "relu_forward")
    return np.where(s["x"] > 0, dout, 0).astype(dout.dtype, copy=False)


def leaky_relu_forward(x, alpha=0.01, *, n_threads=None):
    """``x`` where ``x > 0``, else ``alpha * x``."""
    alpha = slope("alpha", alpha)
    x = as_float(x)
    out = np.where(x > 0, x, x.dtype.type(alpha) * x)
    return out, _cache("leaky_relu_forward", out, x=x, alpha=alpha)


def leaky_relu_backward(dout, cache, *, n_threads=None):
    """``dout`` where ``x > 0``, else ``alpha * dout``."""
    dout, s, dtype = grad_args(dout, cache, "leaky_relu_forward")
    return np.where(s["x"] > 0, dout, dtype.type(s["alpha"]) * dout)


def _per_channel(x, alpha):
    return alpha if alpha.ndim == 0 else alpha.reshape(alpha.shape + (1,) * (x.ndim - 2))


def prelu_forward(x, alpha, *, n_threads=None):
    """``x`` where ``x > 0``, else ``alpha * x``; alpha of shape () or (C,) (axis 1 of x)."""
    x, alpha = prelu_args(x, alpha)
    out = np.where(x > 0, x, _per_channel(x, alpha) * x)
    return out, _cache("prelu_forward", out, x=x, alpha=alpha)


def prelu_backward(dout, cache, *, n_threads=None):
    """``(dx, dalpha)``: dx as the leaky ReLU's; dalpha the sum of ``dout * x`` over ``x <= 0``
    (per channel for a per-channel alpha)."""
    dout, s, _ = grad_args(dout, cache, "prelu_forward")
    x, alpha = s["x"], s["alpha"]
    positive = x > 0
    dx = np.where(positive, dout, _per_channel(x, alpha) * dout)
    axes = tuple(i for i in range(x.ndim) if alpha.ndim == 0 or i != 1)
    dalpha = np.asarray(np.sum(np.where(positive, 0, dout * x), axis=axes), dtype=dout.dtype)
    return dx, dalpha


def elu_forward(x, alpha=1.0, *, n_threads=None):
    """``x`` where ``x > 0``, else ``alpha * expm1(x)`` (expm1 evaluated at ``min(x, 0)``)."""
    alpha = slope("alpha", alpha)
    x = as_float(x)
    out = np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))
    return out, _cache("elu_forward", out, x=x, alpha=alpha)


def elu_backward(dout, cache, *, n_threads=None):
    """``dout`` where ``x > 0``, else ``dout * alpha * exp(x)``."""
    dout, s, dtype = grad_args(dout, cache, "elu_forward")
    x = s["x"]
    return np.where(x > 0, dout, dout * (dtype.type(s["alpha"]) * np.exp(np.minimum(x, 0))))


def sigmoid_forward(x, *, n_threads=None):
    """``1 / (1 + exp(-x))`` from ``exp(-|x|)`` only (no overflow); cache holds the output."""
    x = as_float(x)
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1, e) / (1 + e)
    return out, _cache("sigmoid_forward", out, out=out)


def sigmoid_backward(dout, cache, *, n_threads=None):
    """``dout * out * (1 - out)``."""
    dout, s, _ = grad_args(dout, cache, "sigmoid_forward")
    out = s["out"]
    return dout * out * (1 - out)


def tanh_forward(x, *, n_threads=None):
    """``tanh(x)``; cache holds the output."""
    out = np.tanh(as_float(x))
    return out, _cache("tanh_forward", out, out=out)


def tanh_backward(dout, cache, *, n_threads=None):
    """``dout * (1 - out ** 2)``."""
    dout, s, _ = grad_args(dout, cache, "tanh_forward")
    out = s["out"]
    return dout * (1 - out * out)


def maxout_forward(x, w, b, *, n_threads=None):
    """``max_k(x.reshape(N, D) @ w[k] + b[k])``, of shape (N, M); ties and NaN go to the first
    maximal piece."""
    x, w, b = maxout_args(x, w, b)
    k, d, m = w.shape
    n = x.shape[0]
    wt = np.ascontiguousarray(w.transpose(1, 0, 2).reshape(d, k * m))
    z = (x.reshape(n, d) @ wt).reshape(n, k, m) + b
    piece = np.argmax(z, axis=1).astype(np.int32)  # (N, M)
    out = np.take_along_axis(z, piece[:, None, :], axis=1)[:, 0, :]
    return out, _cache("maxout_forward", out, x=x, wt=wt, k=k, piece=piece)


def maxout_backward(dout, cache, *, n_threads=None):
    """``(dx, dw, db)``; each output's gradient goes to its first maximal piece."""
    dout, s, _ = grad_args(dout, cache, "maxout_forward", "(N, M)")
    x, wt, k, piece = s["x"], s["wt"], s["k"], s["piece"]
    d = wt.shape[0]
    n, m = dout.shape
    dz = np.where(piece[:, None, :] == np.arange(k)[:, None], dout[:, None, :], 0).astype(dout.dtype)
    dz2 = dz.reshape(n, k * m)
    dx = (dz2 @ wt.T).reshape(x.shape)
    dw = np.ascontiguousarray((x.reshape(n, d).T @ dz2).reshape(d, k, m).transpose(1, 0, 2))
    return dx, dw, dz.sum(axis=0)


def dropout_forward(x, p, mode="train", seed=None, *, n_threads=None):
    """Inverted dropout: train mode ``x * mask`` with ``mask = keep / p`` (:func:`dropout_keep`,
    key from :func:`dropout_key`); test mode a copy of x."""
    p, mode, seed = dropout_args(p, mode, seed)
    x = as_float(x)
    if mode == "test":
        out = x.copy()
        return out, _cache("dropout_forward", out, key=None, p=p)
    key = dropout_key(seed)
    mask = np.where(dropout_keep(x.shape, key, p), x.dtype.type(1 / p), x.dtype.type(0))
    out = x * mask
    return out, _cache("dropout_forward", out, key=key, p=p)


def dropout_backward(dout, cache, *, n_threads=None):
    """``dout * mask`` (the forward's mask, regenerated from its key); a copy in test mode."""
    dout, s, dtype = grad_args(dout, cache, "dropout_forward")
    if s["key"] is None:
        return dout.copy()
    p = s["p"]
    return dout * np.where(dropout_keep(dout.shape, s["key"], p), dtype.type(1 / p), dtype.type(0))
