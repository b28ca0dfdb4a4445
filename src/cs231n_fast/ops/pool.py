"""Validated max-pooling API over the Cython kernels."""

import numpy as np

from .._cache import PoolCache
from .._ext import pool as _k
from .._threads import work_threads
from .._validation import (
    as_contiguous,
    backward_args,
    cache_args,
    check_cache_out_shape,
    pool_args,
    result_dtype,
)

__all__ = ["maxpool_forward", "maxpool_backward"]


def _argmax(cache, plane):
    """The cached window maxima as int32, each checked to lie within its (H, W) plane (the
    kernel writes at them). The range is checked on the cached integers themselves, before
    the cast: narrowing first would wrap an int64 ``p - 2**32`` onto the valid ``p``."""
    argmax = np.asarray(cache.argmax)
    ok = argmax.shape == tuple(cache.out_shape) and argmax.dtype.kind in "iu"
    if ok and argmax.size:
        if argmax.dtype == np.int32:  # the forward's: one pass (negatives wrap to >= 2**31)
            ok = argmax.view(np.uint32).max() < plane
        else:
            ok = argmax.min() >= 0 and argmax.max() < plane
    if not ok:
        raise ValueError(
            f"cache is not the one maxpool_forward returned: its argmax must have shape "
            f"{tuple(cache.out_shape)} and hold plane positions in [0, {plane}) as integers; got "
            f"shape {argmax.shape}, dtype {argmax.dtype}"
        )
    return np.ascontiguousarray(argmax, dtype=np.int32)


def maxpool_forward(x, pool_height, pool_width, stride, *, n_threads=None):
    """Forward pass of max pooling (no padding).

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input, float32 or float64 (other real dtypes are computed in float64).
    pool_height, pool_width : int
        Window size, >= 1 and no larger than H and W.
    stride : int or (int, int)
        Step between windows (>= 1). Windows may overlap (stride < window) or not tile the input
        (trailing rows/columns that fit no window are ignored).
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
        ``OH = (H - pool_height) // sh + 1``; same dtype as the computation.
    cache : PoolCache
        Holds the position of each window's first maximum (row-major) for the backward pass.

    Notes
    -----
    A NaN in a window makes its output NaN (NaN propagates, as in ``np.max``). Parallel over
    the N * C planes; bitwise identical for any thread count.
    """
    x, (kh, kw), (sh, sw), (oh, ow) = pool_args(x, pool_height, pool_width, stride)
    n, c = x.shape[:2]
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, c, oh, ow), dtype=np.int32)
    if n:  # an empty batch gives an empty output
        nt = work_threads(n_threads, out.size * kh * kw)
        _k.maxpool_forward(x, out, argmax, kh, kw, sh, sw, nt)
    cache = PoolCache(x=x, pool=(kh, kw), stride=(sh, sw), out_shape=out.shape, argmax=argmax)
    return out, cache


def maxpool_backward(dout, cache, *, n_threads=None):
    """Backward pass of :func:`maxpool_forward`.

    Parameters
    ----------
    dout : array_like of shape (N, C, OH, OW)
        Upstream gradient; must match the forward output's shape.
    cache : PoolCache
        From :func:`maxpool_forward` (or the reference twin's).
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        Each window's gradient goes to its first maximum (row-major order); overlapping windows
        add. float32 when x and dout are float32, float64 otherwise.

    Notes
    -----
    Parallel over the N * C planes, one thread per plane: bitwise identical for any thread
    count.
    """
    dout = backward_args(dout, cache, PoolCache, "maxpool_forward", "(N, C, OH, OW)")
    x, _, _, (oh, ow) = cache_args("maxpool_forward", lambda: pool_args(cache.x, *cache.pool, cache.stride))
    check_cache_out_shape(cache, (*x.shape[:2], oh, ow), "maxpool_forward")
    dtype = result_dtype(x, dout)
    dout = as_contiguous(dout, dtype)
    argmax = _argmax(cache, x.shape[2] * x.shape[3])
    dx = np.empty(x.shape, dtype=dtype)
    if dx.size:
        nt = work_threads(n_threads, dx.size)
        _k.maxpool_backward(dout, argmax, dx, nt)
    return dx
