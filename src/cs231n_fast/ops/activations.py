"""Validated activation, dropout and maxout API over the Cython kernels (``_ext.activations``).

Same names, signatures, validation and caches as the NumPy twin
:mod:`cs231n_fast.reference.activations` (whose argument checks and dropout hash this module
reuses). Every function takes a keyword ``n_threads`` (default: OpenMP's current maximum;
small inputs run on one thread). Results are bitwise identical for any thread count: the
kernels work in fixed chunks of the flat array (see ``csrc/activations.pyx``).

Large outputs come from :mod:`cs231n_fast._memory`'s pool (no page faults on reuse). Inputs are
never written to; caches refer to the forward's input when it was already C-contiguous in the
compute dtype, as the course's tuples do.
"""

import numpy as np

from .. import _memory
from .._cache import ActivationCache
from .._ext import activations as _k
from .._threads import work_threads
from ..reference.activations import (
    as_float,
    dropout_args,
    dropout_key,
    dropout_threshold,
    grad_args,
    maxout_args,
    prelu_args,
    slope,
)

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
]

_RELU, _SIGMOID, _TANH, _ELU, _LEAKY = _k.RELU, _k.SIGMOID, _k.TANH, _k.ELU, _k.LEAKY
_CHUNK = _k.CHUNK
_POOL_MIN_BYTES = _memory.POOL_MIN_BYTES
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _typed(fn):
    """The float and double specialisations of a fused kernel, by dtype: calling one directly
    skips Cython's run-time signature matching (1-3 us a call)."""
    return {_F32: fn["float"], _F64: fn["double"]}


_UNARY, _BINARY, _DROPOUT = _typed(_k.unary), _typed(_k.binary), _typed(_k.dropout)
_PRELU_F, _PRELU_B = _typed(_k.prelu_forward), _typed(_k.prelu_backward)
_MAXOUT_F, _MAXOUT_B = _typed(_k.maxout_forward), _typed(_k.maxout_scatter)


# Maxout's passes sit between BLAS calls whose idle threads keep spinning for a while: an OpenMP
# team started then competes with them for the cores (measured on 2 busy cores, (64, 512) x
# (2, 512, 512): forward 1.4 ms on one thread, 56 ms on two). So they run on one thread below
# 2**(15 + _MAXOUT_SHIFT) = 2M elements, where the pass is a small part of the products anyway.
_MAXOUT_SHIFT = 6


def _unary(op, producer, x, a, n_threads, save_out):
    x = as_float(x)
    out = _memory.empty(x.shape, x.dtype)
    _UNARY[x.dtype](op, x.reshape(-1), out.reshape(-1), a, work_threads(n_threads, x.size))
    saved = {"out": out} if save_out else {"x": x}
    if op == _ELU or op == _LEAKY:
        saved["alpha"] = a
    return out, ActivationCache(producer, out.shape, out.dtype, saved)


def _binary(op, producer, dout, cache, n_threads, key):
    dout, s, dtype = grad_args(dout, cache, producer)
    dx = _memory.empty(dout.shape, dtype)
    _BINARY[dtype](op, s[key].reshape(-1), dout.reshape(-1), dx.reshape(-1), s.get("alpha", 0.0),
                   work_threads(n_threads, dx.size))
    return dx


def relu_forward(x, *, n_threads=None):
    """Rectified linear unit, ``max(0, x)`` elementwise.

    Parameters
    ----------
    x : array_like of any shape
        float32 stays float32; other real dtypes are computed in float64.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    out : ndarray of the shape of x
        ``max(0, x)`` as ``numpy.maximum(x, 0)`` computes it (NaN stays NaN).
    cache : ActivationCache
        x, for :func:`relu_backward`.
    """
    return _unary(_RELU, "relu_forward", x, 0.0, n_threads, False)


def relu_backward(dout, cache, *, n_threads=None):
    """Gradient of :func:`relu_forward`: ``dout`` where ``x > 0``, else 0 (also at 0 and NaN).

    Parameters
    ----------
    dout : array_like of the forward output's shape
    cache : ActivationCache
        From :func:`relu_forward`.
    n_threads : int, optional

    Returns
    -------
    dx : ndarray
        float32 when the forward ran in float32 and dout is float32, else float64.
    """
    return _binary(_RELU, "relu_forward", dout, cache, n_threads, "x")


def leaky_relu_forward(x, alpha=0.01, *, n_threads=None):
    """Leaky ReLU: ``x`` where ``x > 0``, else ``alpha * x`` (alpha a finite number, rounded to
    the compute dtype)."""
    return _unary(_LEAKY, "leaky_relu_forward", x, slope("alpha", alpha), n_threads, False)


def leaky_relu_backward(dout, cache, *, n_threads=None):
    """Gradient of :func:`leaky_relu_forward`: ``dout`` where ``x > 0``, else ``alpha * dout``."""
    return _binary(_LEAKY, "leaky_relu_forward", dout, cache, n_threads, "x")


def elu_forward(x, alpha=1.0, *, n_threads=None):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * expm1(x)``.

    ``expm1`` is evaluated at ``min(x, 0)`` only (no overflow), with a polynomial near 0 (no
    cancellation): within 6 ulp of the exact value (measured: at most 5.0 ulp in float32 and
    float64 over 1e7 points of [-40, 5] and of +-[1e-8, 1]; ``numpy.expm1``: 2.4 and 0.5).
    """
    return _unary(_ELU, "elu_forward", x, slope("alpha", alpha), n_threads, False)


def elu_backward(dout, cache, *, n_threads=None):
    """Gradient of :func:`elu_forward`: ``dout`` where ``x > 0``, else ``dout * alpha * exp(x)``."""
    return _binary(_ELU, "elu_forward", dout, cache, n_threads, "x")


def sigmoid_forward(x, *, n_threads=None):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` from ``exp(-|x|)`` only: exactly 0 and 1 at the
    extremes, no overflow or warning. The cache holds the output."""
    return _unary(_SIGMOID, "sigmoid_forward", x, 0.0, n_threads, True)


def sigmoid_backward(dout, cache, *, n_threads=None):
    """Gradient of :func:`sigmoid_forward`: ``dout * out * (1 - out)``."""
    return _binary(_SIGMOID, "sigmoid_forward", dout, cache, n_threads, "out")


def tanh_forward(x, *, n_threads=None):
    """Hyperbolic tangent elementwise; the cache holds the output.

    Within 8 ulp of the exact value (measured over 1e7 points of [-20, 20] and of +-[1e-8, 1]:
    at most 4.0 ulp in float32, 6.9 in float64; ``numpy.tanh``: 1.4 and 1.2)."""
    return _unary(_TANH, "tanh_forward", x, 0.0, n_threads, True)


def tanh_backward(dout, cache, *, n_threads=None):
    """Gradient of :func:`tanh_forward`: ``dout * (1 - out ** 2)``."""
    return _binary(_TANH, "tanh_forward", dout, cache, n_threads, "out")


def _planes(x, alpha):
    """Plane size S for the kernels: x.size for one slope, prod(x.shape[2:]) per channel."""
    if alpha.ndim == 0:
        return max(x.size, 1)
    return max(x.size // (x.shape[0] * x.shape[1]), 1) if x.size else 1


def prelu_forward(x, alpha, *, n_threads=None):
    """Parametric ReLU: ``x`` where ``x > 0``, else ``alpha * x``.

    Parameters
    ----------
    x : array_like of any shape; (N, C, ...) for a per-channel alpha
    alpha : array_like of shape () or (C,)
        One slope, or one per channel (axis 1 of x).
    n_threads : int, optional

    Returns
    -------
    out : ndarray of the shape of x
        float32 if x and alpha are float32, else float64.
    cache : ActivationCache
        (x, alpha), for :func:`prelu_backward`.
    """
    x, alpha = prelu_args(x, alpha)
    out = _memory.empty(x.shape, x.dtype)
    _PRELU_F[x.dtype](x.reshape(-1), alpha.reshape(-1), out.reshape(-1), _planes(x, alpha),
                      work_threads(n_threads, x.size))
    return out, ActivationCache("prelu_forward", out.shape, out.dtype, {"x": x, "alpha": alpha})


def prelu_backward(dout, cache, *, n_threads=None):
    """Gradient of :func:`prelu_forward`.

    Returns
    -------
    dx : ndarray of the shape of x
        ``dout`` where ``x > 0``, else ``alpha * dout``.
    dalpha : ndarray of the shape of alpha
        ``sum(dout * x)`` over the elements with ``x <= 0`` (per channel for a per-channel
        alpha).

    Notes
    -----
    One pass: each fixed chunk of a plane writes its dx and one partial sum of dalpha
    (accumulated in float64 in a fixed lane order); the partials are then added in a fixed
    order. Bitwise identical for any thread count.
    """
    dout, s, dtype = grad_args(dout, cache, "prelu_forward")
    x, alpha = s["x"], s["alpha"]
    size = x.size
    sp = _planes(x, alpha)
    planes = size // sp if size else 0
    nq = -(-sp // _CHUNK)
    partial = np.empty(planes * nq)
    dx = _memory.empty(x.shape, dtype)
    _PRELU_B[dtype](x.reshape(-1), dout.reshape(-1), alpha.reshape(-1), dx.reshape(-1), partial,
                    sp, work_threads(n_threads, size))
    if alpha.ndim == 0:
        dalpha = np.asarray(partial.sum(), dtype=dtype)
    else:
        c = alpha.shape[0]
        dalpha = partial.reshape(-1, c, nq).sum(axis=(0, 2)).astype(dtype)
    return dx, dalpha


def maxout_forward(x, w, b, *, n_threads=None):
    """Maxout of K affine pieces: ``out = max_k(x.reshape(N, D) @ w[k] + b[k])``.

    Parameters
    ----------
    x : array_like of shape (N, d_1, ..., d_k)
    w : array_like of shape (K, D, M)
    b : array_like of shape (K, M)
    n_threads : int, optional
        Threads for the max/argmax pass (serial below 2M elements of ``x @ w``); the product
        is one NumPy/BLAS call.

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : ActivationCache
        x, the weights as one (D, K*M) matrix, K and the first maximal piece of every output.

    Notes
    -----
    One product for all K pieces; the bias, the maximum and the argmax in one pass of the
    kernel. Ties (and NaN) go to the first maximal piece.
    """
    x, w, b = maxout_args(x, w, b)
    k, d, m = w.shape
    n = x.shape[0]
    wt = np.ascontiguousarray(w.transpose(1, 0, 2).reshape(d, k * m))
    z = np.ascontiguousarray(x.reshape(n, d) @ wt)
    out = _memory.empty((n, m), x.dtype)
    piece = np.empty((n, m), np.int32)
    _MAXOUT_F[x.dtype](z, np.ascontiguousarray(b).reshape(-1), out, piece, k,
                       work_threads(n_threads, z.size >> _MAXOUT_SHIFT))
    return out, ActivationCache("maxout_forward", out.shape, out.dtype,
                                {"x": x, "wt": wt, "k": k, "piece": piece})


def maxout_backward(dout, cache, *, n_threads=None):
    """Gradient of :func:`maxout_forward`: ``(dx, dw, db)``; each output's gradient goes to its
    first maximal piece (one scatter pass, then two products)."""
    dout, s, dtype = grad_args(dout, cache, "maxout_forward", "(N, M)")
    x, wt, k, piece = s["x"], s["wt"], s["k"], s["piece"]
    d = wt.shape[0]
    n, m = dout.shape
    if not (type(piece) is np.ndarray and piece.dtype == np.int32 and piece.shape == (n, m)
            and piece.flags.c_contiguous and wt.shape == (d, k * m)):
        raise ValueError("cache is not the one maxout_forward returned: its piece or weights "
                         "disagree with its output shape")
    dz = _memory.empty((n, k * m), dtype)
    _MAXOUT_B[dtype](dout, piece, dz, k, work_threads(n_threads, dz.size >> _MAXOUT_SHIFT))
    dx = (dz @ wt.T).reshape(x.shape)
    dw = np.ascontiguousarray((x.reshape(n, d).T @ dz).reshape(d, k, m).transpose(1, 0, 2))
    return dx, dw, dz.sum(axis=0).reshape(k, m)


def dropout_forward(x, p, mode="train", seed=None, *, n_threads=None):
    """Inverted dropout: keep each element with probability ``p`` and scale the kept by ``1/p``.

    Parameters
    ----------
    x : array_like of any shape
    p : float in (0, 1]
        Keep probability (1 keeps everything).
    mode : {'train', 'test'}
        'test' returns a copy of x.
    seed : int in [0, 2**32 - 1], optional
        Key of the mask. Without it the key is drawn from NumPy's global random state
        (``np.random.seed`` makes a run reproducible).
    n_threads : int, optional

    Returns
    -------
    out : ndarray of the shape of x
        ``x * mask`` with ``mask = keep / p`` in train mode.
    cache : ActivationCache
        The mask's key and p (the backward regenerates the mask: no mask array is stored).

    Notes
    -----
    The mask is a pure function of (key, flat element index): a counter-based hash
    (:func:`cs231n_fast.reference.activations.dropout_keep`), so a seeded mask is reproducible
    and identical for any thread count and chunking. It is *not* the mask NumPy's
    ``RandomState(seed).rand(*x.shape) < p`` gives (the course's); it keeps each element
    independently with probability ``p`` (to 2**-24).
    """
    p, mode, seed = dropout_args(p, mode, seed)
    x = as_float(x)
    if mode == "test":
        out = _memory.empty(x.shape, x.dtype)
        np.copyto(out, x)
        return out, ActivationCache("dropout_forward", out.shape, out.dtype, {"key": None, "p": p})
    key = dropout_key(seed)
    out = _memory.empty(x.shape, x.dtype)
    _DROPOUT[x.dtype](x.reshape(-1), out.reshape(-1), key[0], key[1], dropout_threshold(p), 1 / p,
                      work_threads(n_threads, x.size))
    return out, ActivationCache("dropout_forward", out.shape, out.dtype, {"key": key, "p": p})


def dropout_backward(dout, cache, *, n_threads=None):
    """Gradient of :func:`dropout_forward`: ``dout * mask`` (the mask regenerated from the
    cached key, in the same pass), or a copy of dout in test mode."""
    dout, s, dtype = grad_args(dout, cache, "dropout_forward")
    dx = _memory.empty(dout.shape, dtype)
    key = s["key"]
    if key is None:
        np.copyto(dx, dout)
        return dx
    p = s["p"]
    _DROPOUT[dtype](dout.reshape(-1), dx.reshape(-1), key[0], key[1], dropout_threshold(p), 1 / p,
                    work_threads(n_threads, dx.size))
    return dx
