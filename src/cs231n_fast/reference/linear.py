"""NumPy twin of :mod:`cs231n_fast.ops.linear`: the affine layer, the fused affine + ReLU and the
L2 penalty, with the same names, signatures, validation and caches (``n_threads`` is accepted
and ignored), written to be read. The oracle of ``tests/test_linear.py``."""

import numpy as np

from .. import _validation as v
from .._cache import AffineCache
from ..ops.linear import _affine_args, _grad_args

__all__ = [
    "affine_forward",
    "affine_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_backward_l2",
    "l2_penalty",
]


def affine_forward(x, w, b, *, n_threads=None):
    """``out = x.reshape(N, D) @ w + b``; returns ``(out, cache)``."""
    x, x2, w, b = _affine_args(x, w, b)
    out = x2 @ w + b
    return out, AffineCache(x2, w, b, x.shape, None, "affine_forward", out.shape)


def affine_relu_forward(x, w, b, *, n_threads=None):
    """``out = max(0, x.reshape(N, D) @ w + b)``; the cache keeps ``out`` for the mask."""
    x, x2, w, b = _affine_args(x, w, b)
    out = np.maximum(x2 @ w + b, 0)
    return out, AffineCache(x2, w, b, x.shape, out, "affine_relu_forward", out.shape)


def _gradients(dout, x2, w, act, need_dx):
    g = dout if act is None else np.where(act > 0, dout, 0)
    dx = g @ w.T if need_dx else None
    return dx, x2.T @ g, g.sum(axis=0)


def _shaped(dx, cache):
    return None if dx is None else dx.reshape(cache.x_shape)


def affine_backward(dout, cache, *, n_threads=None, need_dx=True):
    """``(dx, dw, db)`` of :func:`affine_forward`: ``dout @ w.T``, ``x.T @ dout``, ``dout.sum(0)``."""
    dout, x2, w, act = _grad_args(dout, cache, ("affine_forward",))
    dx, dw, db = _gradients(dout, x2, w, act, need_dx)
    return _shaped(dx, cache), dw, db


def affine_relu_backward(dout, cache, *, n_threads=None, need_dx=True):
    """As :func:`affine_backward` with ``dout`` first masked by ``out > 0``."""
    dout, x2, w, act = _grad_args(dout, cache, ("affine_relu_forward",))
    dx, dw, db = _gradients(dout, x2, w, act, need_dx)
    return _shaped(dx, cache), dw, db


def affine_backward_l2(dout, cache, reg, *, n_threads=None, need_dx=True):
    """The backward of the cache's forward with ``reg * w`` added to dw; also returns
    ``0.5 * reg * sum(w ** 2)``."""
    reg = v.real_number("reg", reg)
    dout, x2, w, act = _grad_args(dout, cache, ("affine_forward", "affine_relu_forward"))
    dx, dw, db = _gradients(dout, x2, w, act, need_dx)
    return _shaped(dx, cache), dw + reg * w, db, 0.5 * reg * float(np.sum(w.astype(np.float64) ** 2))


def l2_penalty(w, dw, reg, *, n_threads=None):
    """``(0.5 * reg * sum(w ** 2), dw + reg * w)``."""
    w, dw = v.as_array("w", w), v.as_array("dw", dw)
    v.check_shape("dw", dw, w.shape, "the shape of w")
    reg = v.real_number("reg", reg)
    dt = v.result_dtype(w, dw)
    w, dw = w.astype(dt), dw.astype(dt)
    return 0.5 * reg * float(np.sum(w.astype(np.float64) ** 2)), dw + reg * w
