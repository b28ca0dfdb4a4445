"""Validated convolution API over the Cython kernels: im2col, col2im, conv forward/backward.

Every function validates in Python (see :mod:`cs231n_fast._validation`), applies the dtype
policy (all-float32 in -> float32 out, otherwise float64), makes inputs C-contiguous only when
needed, allocates fresh outputs and scratch, resolves threads, and then calls the kernel with
the GIL released. Inputs are never modified.
"""

import numpy as np

from .._cache import ConvCache
from .._ext import conv as _k
from .._threads import blas_single_thread, work_threads
from .._validation import (
    as_contiguous,
    backward_args,
    cache_args,
    check_cache_out_shape,
    col2im_args,
    conv_args,
    im2col_args,
    result_dtype,
)

__all__ = ["im2col", "col2im", "conv_forward", "conv_backward"]

_INT_MAX = np.iinfo(np.int32).max
#: Upper bound on the scratch the dw partial sums of conv_backward may take.
_DW_PART_BYTES = 64 << 20
#: Number of image chunks conv_backward sums dw over (fixed, so results do not depend on the
#: thread count).
_MAX_CHUNKS = 16


def _check_blas_dims(*dims):
    if max(dims) > _INT_MAX:
        raise ValueError(
            f"a matrix dimension of this convolution ({max(dims)}) exceeds the 2**31 - 1 "
            "that BLAS accepts; split the batch or the channels"
        )


def _pad_scratch(n_threads, x_shape, pad, dtype):
    """Zeroed per-thread buffers for one padded input plane (the kernels keep borders zero)."""
    h, w = x_shape[2] + 2 * pad[0], x_shape[3] + 2 * pad[1]
    return np.zeros((n_threads, h * w), dtype=dtype)


def _cols_scratch(n_threads, k, p, dtype):
    """Per-thread (k + 1, p) column buffers whose last row of ones carries the bias."""
    cols = np.empty((n_threads, k + 1, p), dtype=dtype)
    cols[:, k, :] = 1
    return cols


def im2col(x, kh, kw, stride=1, pad=0, *, n_threads=None):
    """Unfold every receptive field of ``x`` into a column.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input images, float32 or float64 (other real dtypes are computed in float64).
    kh, kw : int
        Window (filter) height and width, >= 1 and no larger than the padded input.
    stride, pad : int or (int, int), default 1 and 0
        Step between windows (>= 1) and zero padding on each side (>= 0), as ``(h, w)`` or one
        int for both.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum (see ``effective_n_threads``).

    Returns
    -------
    cols : ndarray of shape (N, C * kh * kw, OH * OW)
        ``cols[n, (c * kh + i) * kw + j, oy * OW + ox] = xpad[n, c, oy * sh + i, ox * sw + j]``
        with ``OH = (H + 2 * ph - kh) // sh + 1`` (windows that do not fit are dropped).

    Raises
    ------
    ValueError, TypeError
        On a wrong rank, zero-size dimension, bad geometry or unusable dtype.

    Notes
    -----
    Parallel over the N * C input planes; bitwise identical for any thread count.
    """
    x, (kh, kw), (sh, sw), (ph, pw), (oh, ow) = im2col_args(x, kh, kw, stride, pad)
    n, c = x.shape[:2]
    cols = np.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
    nt = work_threads(n_threads, cols.size)
    pads = _pad_scratch(nt, x.shape, (ph, pw), x.dtype)
    _k.im2col(x, cols, pads, kh, kw, sh, sw, ph, pw, oh, ow, nt)
    return cols


def col2im(cols, x_shape, kh, kw, stride=1, pad=0, *, n_threads=None):
    """Fold columns back into images, summing where windows overlap (the adjoint of im2col).

    Parameters
    ----------
    cols : array_like of shape (N, C * kh * kw, OH * OW)
        Columns in the layout :func:`im2col` returns.
    x_shape : tuple of 4 ints
        ``(N, C, H, W)`` of the images to rebuild.
    kh, kw, stride, pad, n_threads
        As in :func:`im2col`.

    Returns
    -------
    x : ndarray of shape x_shape
        Same dtype policy as :func:`im2col`.

    Notes
    -----
    Parallel over the N * C output planes, one thread per plane: overlapping windows add in
    a fixed order, so results are bitwise identical for any thread count.
    """
    cols, x_shape, (kh, kw), (sh, sw), (ph, pw), (oh, ow) = col2im_args(
        cols, x_shape, kh, kw, stride, pad
    )
    dx = np.empty(x_shape, dtype=cols.dtype)
    nt = work_threads(n_threads, cols.size)
    pads = _pad_scratch(nt, x_shape, (ph, pw), cols.dtype)
    _k.col2im(cols, dx, pads, kh, kw, sh, sw, ph, pw, oh, ow, nt)
    return dx


def conv_forward(x, w, b, stride=1, pad=0, *, n_threads=None):
    """Forward pass of a 2-D convolution (cross-correlation, as in CS231n).

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input images.
    w : array_like of shape (F, C, HH, WW)
        Filters; HH and WW may differ.
    b : array_like of shape (F,)
        Biases.
    stride, pad : int or (int, int), default 1 and 0
        Step (>= 1) and zero padding (>= 0), one int or ``(h, w)``.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW)
        ``OH = (H + 2 * ph - HH) // sh + 1`` and likewise OW. float32 when x, w and b are all
        float32, float64 otherwise.
    cache : ConvCache
        For :func:`conv_backward`.

    Raises
    ------
    ValueError
        Wrong rank, zero-size dimension, channel mismatch, wrong bias length, stride < 1,
        pad < 0, filter larger than the padded input.
    TypeError
        Complex, boolean, object or string arrays; non-int geometry.

    Notes
    -----
    Per image: im2col into a per-thread buffer, then one GEMM (BLAS, held to one thread)
    ``[w | b] @ [cols; 1]`` writing straight into ``out``. Images are spread over ``n_threads`` OpenMP threads, so the
    result is bitwise identical for any thread count. Cost ``2 N F OH OW C HH WW`` flops.
    """
    x, w, b, (sh, sw), (ph, pw), (oh, ow) = conv_args(x, w, b, stride, pad)
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    k, p = c * kh * kw, oh * ow
    _check_blas_dims(k + 1, p, f)
    out = np.empty((n, f, oh, ow), dtype=x.dtype)
    nt = min(work_threads(n_threads, n * f * k * p), n)
    wb = np.concatenate([w.reshape(f, k), b[:, None]], axis=1)
    cols = _cols_scratch(nt, k, p, x.dtype)
    pads = _pad_scratch(nt, x.shape, (ph, pw), x.dtype)
    with blas_single_thread():
        _k.conv_forward(x, wb, out, cols, pads, kh, kw, sh, sw, ph, pw, nt)
    cache = ConvCache(x=x, w=w, b=b, stride=(sh, sw), pad=(ph, pw), out_shape=out.shape)
    return out, cache


def conv_backward(dout, cache, *, n_threads=None, need_dx=True):
    """Backward pass of :func:`conv_forward`.

    Parameters
    ----------
    dout : array_like of shape (N, F, OH, OW)
        Upstream gradient; must match the forward output's shape.
    cache : ConvCache
        From :func:`conv_forward` (or :func:`cs231n_fast.reference.conv_forward`).
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.
    need_dx : bool, default True
        False skips the input gradient (the ``w^T @ dout`` GEMM and col2im), for a network's
        first layer whose input needs no gradient; ``dx`` is then returned as ``None``. dw and
        db are bitwise the same either way.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None when ``need_dx`` is False
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
        float32 when the cached arrays and ``dout`` are float32, float64 otherwise.

    Notes
    -----
    Per image: rebuild the columns, ``[dw | db] += dout[i] @ [cols; 1]^T`` (one GEMM),
    ``dcols = w^T @ dout[i]``, col2im into ``dx[i]``. dw and db are summed over up to 16 fixed
    chunks of images and the chunks reduced in order, so results are bitwise identical for any
    thread count (each image's GEMMs run on one BLAS thread).
    """
    dout = backward_args(dout, cache, ConvCache, "conv_forward", "(N, F, OH, OW)")
    x, w, _, (sh, sw), (ph, pw), (oh, ow) = cache_args(
        "conv_forward", lambda: conv_args(cache.x, cache.w, cache.b, cache.stride, cache.pad)
    )
    check_cache_out_shape(cache, (x.shape[0], w.shape[0], oh, ow), "conv_forward")
    dtype = result_dtype(x, w, dout)
    x, w = as_contiguous(x, dtype), as_contiguous(w, dtype)
    dout = as_contiguous(dout, dtype)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    k, p = c * kh * kw, oh * ow
    # Chunks of consecutive images; how many depends on the problem only, never on threads.
    n_chunks = max(1, min(n, _MAX_CHUNKS, _DW_PART_BYTES // (f * (k + 1) * dtype.itemsize)))
    chunk = -(-n // n_chunks)
    n_chunks = -(-n // chunk)
    nt = min(work_threads(n_threads, n * f * k * p), n_chunks)
    need_dx = bool(need_dx)
    dx = np.empty(x.shape if need_dx else (1, 1, 1, 1), dtype=dtype)
    dw = np.empty(w.shape, dtype=dtype)
    db = np.empty(f, dtype=dtype)
    dwb_part = np.empty((n_chunks, f, k + 1), dtype=dtype)
    cols = _cols_scratch(nt, k, p, dtype)
    dcols = np.empty((nt, k, p) if need_dx else (1, 1, 1), dtype=dtype)
    pads = _pad_scratch(nt * 2, x.shape, (ph, pw), dtype).reshape(nt, 2, -1)
    with blas_single_thread():
        _k.conv_backward(x, w.reshape(f, k), dout, dx, dw.reshape(f, k), db, dwb_part, cols,
                         dcols, pads, kh, kw, sh, sw, ph, pw, nt, need_dx)
    return (dx if need_dx else None), dw, db
