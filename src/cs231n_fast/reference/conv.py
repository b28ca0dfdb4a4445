"""Convolution in vectorised NumPy: im2col, col2im and the conv forward/backward built on them.

This is the readable twin of ``cs231n_fast.ops.conv``: same names, signatures, validation,
dtype policy and cache, written to be read rather than to be fast. The fast kernels are tested
against it, and it is tested against the course's plain loops in ``reference.naive``.

The column layout shared with the fast kernels: for an input of shape (N, C, H, W), a filter
of shape (kh, kw), stride (sh, sw) and zero padding (ph, pw),

    cols[n, (c * kh + i) * kw + j, oy * ow + ox] = xpad[n, c, oy * sh + i, ox * sw + j]

so each column holds one receptive field, flattened in (channel, filter row, filter column)
order, and the columns run over output positions in row-major order.
"""

import numpy as np

from .. import _validation as v
from .._cache import ConvCache, ConvTransposeCache

__all__ = ["im2col", "col2im", "conv_forward", "conv_backward", "conv_transpose_forward",
           "conv_transpose_backward"]


# --- helpers: _im2col and _col2im trust their caller (contiguous arrays in the compute dtype,
# validated geometry) --------------------------------------------------------------------------


def _im2col(x, kh, kw, sh, sw, ph, pw, oh, ow):
    n, c = x.shape[:2]
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    # One strided slice per filter offset (i, j): it picks that offset of every window at once.
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xpad[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
    return cols.reshape(n, c * kh * kw, oh * ow)


def _col2im(cols, x_shape, kh, kw, sh, sw, ph, pw, oh, ow):
    n, c, h, w = x_shape
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    dxpad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    # The adjoint of _im2col: the same slices, now added into (windows overlap when the stride
    # is smaller than the filter, and their contributions accumulate).
    for i in range(kh):
        for j in range(kw):
            dxpad[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += cols[:, :, i, j]
    # Gradient that lands on the padding belongs to no input element: crop it.
    return np.ascontiguousarray(dxpad[:, :, ph : ph + h, pw : pw + w])


# --- public API ---------------------------------------------------------------------------------


def im2col(x, kh, kw, stride=1, pad=0, *, n_threads=None):
    """Unfold every receptive field of ``x`` into a column.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input; float32 stays float32, any other real dtype is computed in float64.
    kh, kw : int
        Filter height and width, each >= 1 and no larger than the padded input.
    stride : int or (int, int), default 1
        Step between windows, ``sh`` and ``sw`` (an int applies to both); each >= 1.
    pad : int or (int, int), default 0
        Zero padding ``ph`` and ``pw`` added on both sides of each spatial axis; each >= 0.
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.im2col`` and ignored.

    Returns
    -------
    cols : ndarray of shape (N, C * kh * kw, OH * OW)
        ``cols[n, (c * kh + i) * kw + j, oy * OW + ox] = xpad[n, c, oy * sh + i, ox * sw + j]``
        where ``xpad`` is ``x`` zero-padded by ``(ph, pw)``,
        ``OH = (H + 2 * ph - kh) // sh + 1`` and ``OW = (W + 2 * pw - kw) // sw + 1``. Windows
        need not tile the input: rows and columns past the last window are never read.

    Raises
    ------
    TypeError
        If ``x`` is not a real numeric array, or a parameter is not an int.
    ValueError
        If ``x`` is not 4-D or is empty, or a parameter is out of range.

    Notes
    -----
    Memory is ``C * kh * kw`` times the output plane per sample, and one slice copy is made per
    filter offset.
    """
    x, (kh, kw), (sh, sw), (ph, pw), (oh, ow) = v.im2col_args(x, kh, kw, stride, pad)
    return _im2col(x, kh, kw, sh, sw, ph, pw, oh, ow)


def col2im(cols, x_shape, kh, kw, stride=1, pad=0, *, n_threads=None):
    """Fold columns back onto an image, adding where windows overlap: the adjoint of ``im2col``.

    Parameters
    ----------
    cols : array_like of shape (N, C * kh * kw, OH * OW)
        Columns in the layout ``im2col`` produces; float32 stays float32, any other real dtype
        is computed in float64.
    x_shape : tuple of 4 ints
        The shape (N, C, H, W) of the image the columns came from.
    kh, kw : int
        Filter height and width.
    stride : int or (int, int), default 1
        Step between windows ``(sh, sw)``.
    pad : int or (int, int), default 0
        Zero padding ``(ph, pw)``; whatever lands on the padding is dropped.
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.col2im`` and ignored.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        ``dx[n, c, y, x]`` is the sum of every column entry that ``im2col`` would have read
        from ``x[n, c, y, x]``; so ``<im2col(x), cols> == <x, col2im(cols)>``.

    Raises
    ------
    TypeError
        If ``cols`` is not a real numeric array, or a parameter is not an int.
    ValueError
        If ``x_shape`` is not four positive ints, ``cols`` does not have the shape ``im2col``
        gives for it, or a parameter is out of range.

    Notes
    -----
    Contributions to one element are added in (i, j) filter-offset order.
    """
    cols, x_shape, (kh, kw), (sh, sw), (ph, pw), (oh, ow) = v.col2im_args(
        cols, x_shape, kh, kw, stride, pad
    )
    return _col2im(cols, x_shape, kh, kw, sh, sw, ph, pw, oh, ow)


def conv_forward(x, w, b, stride=1, pad=0, *, n_threads=None):
    """Convolution (cross-correlation) forward pass, as im2col followed by one matmul.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input images.
    w : array_like of shape (F, C, HH, WW)
        Filters.
    b : array_like of shape (F,)
        Biases.
    stride : int or (int, int), default 1
        Step between windows ``(sh, sw)``; each >= 1.
    pad : int or (int, int), default 0
        Zero padding ``(ph, pw)`` on both sides; each >= 0.
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.conv_forward`` and ignored.

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW)
        ``out[n, f, oy, ox] = sum(xpad[n, :, oy*sh : oy*sh+HH, ox*sw : ox*sw+WW] * w[f]) + b[f]``
        with ``OH = (H + 2 * ph - HH) // sh + 1`` and ``OW = (W + 2 * pw - WW) // sw + 1``.
        float32 if ``x``, ``w`` and ``b`` are all float32, else float64.
    cache : ConvCache
        The inputs (contiguous, in the compute dtype) and geometry, for ``conv_backward``.

    Raises
    ------
    TypeError
        If an array is not real numeric, or ``stride``/``pad`` is not an int or pair of ints.
    ValueError
        If shapes disagree (channels, bias length), an array is empty, ``stride < 1``,
        ``pad < 0``, or the filter is larger than the padded input.

    Notes
    -----
    The matmul goes to BLAS, whose rounding may vary with its thread count.
    """
    x, w, b, (sh, sw), (ph, pw), (oh, ow) = v.conv_args(x, w, b, stride, pad)
    n = x.shape[0]
    f, _, kh, kw = w.shape
    cols = _im2col(x, kh, kw, sh, sw, ph, pw, oh, ow)  # (N, C*kh*kw, OH*OW)
    out = np.matmul(w.reshape(f, -1), cols)  # (F, C*kh*kw) @ (N, C*kh*kw, P) -> (N, F, P)
    out += b[:, None]
    out = out.reshape(n, f, oh, ow)
    cache = ConvCache(x=x, w=w, b=b, stride=(sh, sw), pad=(ph, pw), out_shape=(n, f, oh, ow))
    return out, cache


def conv_backward(dout, cache, *, n_threads=None, need_dx=True):
    """Convolution backward pass.

    Parameters
    ----------
    dout : array_like of shape (N, F, OH, OW)
        Upstream gradient, shaped like the output of the forward call that made ``cache``.
    cache : ConvCache
        From ``conv_forward`` (this one or ``cs231n_fast.ops.conv_forward``).
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.conv_backward`` and ignored.
    need_dx : bool, default True
        False skips the input gradient and returns ``None`` in its place.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), or None when ``need_dx`` is False
        Gradient with respect to ``x``.
    dw : ndarray of shape (F, C, HH, WW)
        Gradient with respect to ``w``.
    db : ndarray of shape (F,)
        Gradient with respect to ``b``.

    All three are float32 if the cached arrays and ``dout`` are all float32, else float64.

    Raises
    ------
    TypeError
        If ``cache`` is not a ``ConvCache`` or ``dout`` is not a real numeric array.
    ValueError
        If ``dout`` does not have the forward output's shape.

    Notes
    -----
    ``dw`` sums per-sample matmuls over the batch; ``dx`` is ``col2im`` of ``w.T @ dout``. The
    matmuls go to BLAS, whose rounding may vary with its thread count.
    """
    dout = v.backward_args(dout, cache, ConvCache, "conv_forward", "(N, F, OH, OW)")
    dtype = v.result_dtype(cache.x, cache.w, cache.b, dout)
    x = v.as_contiguous(cache.x, dtype)
    w = v.as_contiguous(cache.w, dtype)
    dout = v.as_contiguous(dout, dtype)
    (sh, sw), (ph, pw) = cache.stride, cache.pad
    n, f, oh, ow = cache.out_shape
    kh, kw = w.shape[2:]

    dout_cols = dout.reshape(n, f, oh * ow)  # (N, F, P)
    db = dout.sum(axis=(0, 2, 3))

    cols = _im2col(x, kh, kw, sh, sw, ph, pw, oh, ow)  # (N, C*kh*kw, P)
    dw = np.matmul(dout_cols, cols.transpose(0, 2, 1)).sum(axis=0)  # sum_n dout[n] @ cols[n].T
    dw = dw.reshape(w.shape)
    if not need_dx:
        return None, dw, db

    dcols = np.matmul(w.reshape(f, -1).T, dout_cols)  # (C*kh*kw, F) @ (N, F, P) -> (N, C*kh*kw, P)
    dx = _col2im(dcols, x.shape, kh, kw, sh, sw, ph, pw, oh, ow)
    return dx, dw, db


# --- transposed convolution: loops over input pixels, written to be read ------------------------


def conv_transpose_forward(x, w, b, stride=1, pad=0, output_padding=0, *, n_threads=None):
    """Transposed convolution forward pass, one input pixel at a time.

    Parameters
    ----------
    x : array_like of shape (N, C_in, H, W)
    w : array_like of shape (C_in, C_out, HH, WW)
        As torch's ``ConvTranspose2d.weight``.
    b : array_like of shape (C_out,), or None
    stride, pad, output_padding : int or (int, int), default 1, 0 and 0
        As in ``cs231n_fast.ops.conv_transpose_forward``.
    n_threads : int or None, default None
        Accepted for signature parity and ignored.

    Returns
    -------
    out : ndarray of shape (N, C_out, OH, OW)
        ``OH = (H - 1) * sh - 2 * ph + HH + oph``: every input pixel ``x[n, :, i, j]`` adds
        ``sum_c x[n, c, i, j] * w[c]`` to the window of the padded output at
        ``(i * sh, j * sw)``; the padding is then cropped and ``b`` added.
    cache : ConvTransposeCache
    """
    x, w, b, (sh, sw), (ph, pw), (oph, opw), (oh, ow) = v.conv_transpose_args(
        x, w, b, stride, pad, output_padding
    )
    n, _, h, wd = x.shape
    co, kh, kw = w.shape[1:]
    # The full (uncropped) output, plus output_padding rows/columns at the bottom/right.
    full = np.zeros((n, co, oh + 2 * ph, ow + 2 * pw), dtype=x.dtype)
    for i in range(h):
        for j in range(wd):
            # (N, C_in) . (C_in, C_out, HH, WW) -> (N, C_out, HH, WW): this pixel's stamp.
            stamp = np.tensordot(x[:, :, i, j], w, axes=(1, 0))
            full[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += stamp
    out = full[:, :, ph : ph + oh, pw : pw + ow] + b[:, None, None]
    cache = ConvTransposeCache(x=x, w=w, b=b, stride=(sh, sw), pad=(ph, pw),
                               output_padding=(oph, opw), out_shape=(n, co, oh, ow))
    return np.ascontiguousarray(out), cache


def conv_transpose_backward(dout, cache, *, n_threads=None, need_dx=True):
    """Transposed convolution backward pass, one input pixel at a time.

    Parameters
    ----------
    dout : array_like of shape (N, C_out, OH, OW)
    cache : ConvTransposeCache
        From either ``conv_transpose_forward``.
    n_threads : int or None, default None
        Accepted for signature parity and ignored.
    need_dx : bool, default True
        False returns None in place of ``dx``.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W), or None
    dw : ndarray of shape (C_in, C_out, HH, WW)
    db : ndarray of shape (C_out,)
        The forward pass read backwards: each input pixel's window of the padded ``dout``
        gives ``dx[n, :, i, j] = sum(window * w)`` and ``dw += x[n, :, i, j] (x) window``.
    """
    dout = v.backward_args(dout, cache, ConvTransposeCache, "conv_transpose_forward",
                           "(N, C_out, OH, OW)")
    dtype = v.result_dtype(cache.x, cache.w, cache.b, dout)
    x = v.as_contiguous(cache.x, dtype)
    w = v.as_contiguous(cache.w, dtype)
    dout = v.as_contiguous(dout, dtype)
    (sh, sw), (ph, pw) = cache.stride, cache.pad
    n, _, h, wd = x.shape
    kh, kw = w.shape[2:]
    dfull = np.pad(dout, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dx = np.zeros(x.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    for i in range(h):
        for j in range(wd):
            window = dfull[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]  # (N, C_out, HH, WW)
            dx[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
            dw += np.tensordot(x[:, :, i, j], window, axes=(0, 0))
    db = dout.sum(axis=(0, 2, 3))
    return (dx if need_dx else None), dw, db
