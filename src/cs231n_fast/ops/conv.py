"""Validated convolution API over the Cython kernels: im2col, col2im, conv forward/backward.

Every function validates in Python (see :mod:`cs231n_fast._validation`), applies the dtype
policy (all-float32 in -> float32 out, otherwise float64), makes inputs C-contiguous only when
needed, allocates fresh outputs and scratch, resolves threads, and then calls the kernel with
the GIL released. Inputs are never modified.
"""

import numpy as np

from .._cache import ConvCache, ConvTransposeCache
from .._memory import empty as _empty
from .._ext import conv as _k
from .._threads import blas_single_thread, work_threads
from .._validation import (
    as_contiguous,
    backward_args,
    cache_args,
    check_cache_out_shape,
    col2im_args,
    conv_args,
    conv_transpose_args,
    im2col_args,
    result_dtype,
)

__all__ = ["im2col", "col2im", "conv_forward", "conv_backward", "conv_transpose_forward",
           "conv_transpose_backward"]

_INT_MAX = np.iinfo(np.int32).max
#: Upper bound on the scratch the dw partial sums of conv_backward may take.
_DW_PART_BYTES = 64 << 20
#: Number of image chunks conv_backward sums dw over (fixed, so results do not depend on the
#: thread count).
_MAX_CHUNKS = 16


#: Algorithm override for tests and benchmarks: None (heuristic), "gemm" or "winograd".
_ALGO = None
#: Winograd blocks hold about this many 2x2 output tiles (several images' tiles in one GEMM
#: per transformed position). Results do not depend on it for a given problem.
_WINO_TILES = 128
#: Winograd only pays off with enough channels: each of its 16 GEMMs has C (or F) as its inner
#: dimension, and at C = 3 the transforms cost more than the products they save.
_WINO_MIN_CHANNELS = 16


def _algorithm(c, f, kh, kw, sh, sw, ph, pw, oh, ow):
    """The algorithm for one convolution shape: "winograd" for 3x3 stride-1 layers with pad
    <= 2 (backward data uses pad 2 - pad) and at least 16 input and output channels, "gemm"
    (im2col + BLAS) otherwise. A pure function of the shape, so forward and backward agree
    and results never depend on the thread count."""
    if _ALGO is not None:
        ok = (kh, kw, sh, sw) == (3, 3, 1, 1) and 0 <= ph <= 2 and 0 <= pw <= 2
        return _ALGO if ok or _ALGO == "gemm" else "gemm"
    if ((kh, kw, sh, sw) == (3, 3, 1, 1) and ph <= 2 and pw <= 2
            and min(c, f) >= _WINO_MIN_CHANNELS):
        return "winograd"
    return "gemm"


def _wino_u(g, dtype):
    """G g G^T over the last two axes, (..., 3, 3) -> (16, ...) float64 then ``dtype``.

    G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. Elementwise NumPy in float64 (no BLAS, so
    the bits are fixed); exact but for the halvings' and sums' last-bit rounding. The readable
    form of the compiled ``wino_filter`` (conv_winograd.h ``cs_wino_filter``), which does the
    same operations in the same order (tests compare them bitwise)."""
    g = np.asarray(g, dtype=np.float64)

    def rows(a):  # G @ a along axis -2
        a0, a1, a2 = a[..., 0, :], a[..., 1, :], a[..., 2, :]
        return np.stack([a0, 0.5 * (a0 + a1 + a2), 0.5 * (a0 - a1 + a2), a2], axis=-2)

    t = rows(g)  # (..., 4, 3)
    u = rows(np.swapaxes(t, -1, -2))  # (..., 4(j), 4(i))
    u = np.swapaxes(u, -1, -2)  # (..., 4, 4)
    lead = u.shape[:-2]
    u = np.moveaxis(u.reshape(*lead, 16), -1, 0)
    return np.ascontiguousarray(u, dtype=dtype)


def _wino_dw(du):
    """G^T dU G: (16, F, C) float64 -> (F, C, 3, 3). The readable form of the compiled
    ``wino_grad_finish`` (``cs_wino_filter_grad``), same operations and order."""
    f, c = du.shape[1:]
    d = np.moveaxis(du.reshape(4, 4, f, c), (0, 1), (-2, -1))  # (F, C, 4, 4)

    def rows(a):  # G^T @ a along axis -2
        a0, a1, a2, a3 = a[..., 0, :], a[..., 1, :], a[..., 2, :], a[..., 3, :]
        return np.stack([a0 + 0.5 * (a1 + a2), 0.5 * (a1 - a2), 0.5 * (a1 + a2) + a3], axis=-2)

    t = rows(d)  # (F, C, 3, 4)
    return np.swapaxes(rows(np.swapaxes(t, -1, -2)), -1, -2)


def _wino_geometry(n, oh, ow):
    """Tiles per image and images per block (from the problem size only)."""
    tiles = ((oh + 1) // 2) * ((ow + 1) // 2)
    return tiles, max(1, min(n, -(-_WINO_TILES // tiles)))


#: Elements past the data that the vectorised transforms may read (a short last vector of
#: tiles is computed whole, only its tiles stored): slack at the end of every scratch buffer.
_WINO_SLACK = 32
#: Elements between the transformed planes of a block (``wino_row_pad`` in csrc/conv.pyx).
_WINO_ROW_PAD = _k.wino_row_pad()


def _wino_pad_len(*planes):
    """Per-thread pad scratch: two buffers, each fits any of the (th, tw) tile grids given
    (as a padded plane, or its four polyphase planes: the same size), plus read slack."""
    return 2 * max((2 * th + 2) * (2 * tw + 2) for th, tw in planes) + _WINO_SLACK


def _wino_scratch(nt, planes, t, dtype):
    """Per-thread (nt, 16 transformed planes of ``planes`` x ``t`` tiles, row padded)."""
    return _empty((nt, 16 * (planes * t + _WINO_ROW_PAD) + _WINO_SLACK), dtype)


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
        Wrong rank, zero-size dimension (but N: an empty batch gives an empty output),
        channel mismatch, wrong bias length, stride < 1, pad < 0, filter larger than the
        padded input.
    TypeError
        Complex, boolean, object or string arrays; non-int geometry.

    Notes
    -----
    Two algorithms, chosen from the shape alone (``_algorithm``; the same choice in backward):

    - Winograd F(2x2, 3x3) for 3x3 stride-1 layers with pad <= 2 and at least 16 input and
      output channels: blocks of images (~128 2x2 output tiles each) are transformed (C
      loops, AVX-512/AVX2/baseline at run time), multiplied by the transformed filters as 16
      GEMMs (F x C) . (C x tiles), and transformed back with the bias. 2.25x fewer
      multiplications; float32 error within a small multiple of the direct method's (bound
      stated in tests/test_conv.py), float64 within about 1e-15 of max|out| (measured 4e-16
      to 1.4e-15 at C = 16 to 256, the im2col path 8e-16 to 1.2e-15).
    - otherwise per image: im2col into a per-thread buffer, then one GEMM ``[w | b] @ [cols; 1]``
      writing straight into ``out``. Cost ``2 N F OH OW C HH WW`` flops.

    Work is split by problem size (images or image blocks) over ``n_threads`` OpenMP threads,
    each GEMM on one BLAS thread, so the result is bitwise identical for any thread count.
    Measured on AMD EPYC Zen 4: several images' columns in one im2col GEMM did not run faster
    than one image's (OpenBLAS reaches ~80 GF/s at (64 x 576) . (576 x 1024) already and is
    slower at larger N), so the im2col path stays per image.
    """
    x, w, b, (sh, sw), (ph, pw), (oh, ow) = conv_args(x, w, b, stride, pad)
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    k, p = c * kh * kw, oh * ow
    _check_blas_dims(k + 1, p, f)
    if n == 0:  # an empty batch: an empty output, as the course's layers give
        out = np.zeros((0, f, oh, ow), x.dtype)
        return out, ConvCache(x=x, w=w, b=b, stride=(sh, sw), pad=(ph, pw), out_shape=out.shape)
    out = _empty((n, f, oh, ow), x.dtype)
    if _algorithm(c, f, kh, kw, sh, sw, ph, pw, oh, ow) == "winograd":
        tiles, bimg = _wino_geometry(n, oh, ow)
        nblk = -(-n // bimg)
        nt = min(work_threads(n_threads, n * f * k * p), nblk)
        t = bimg * tiles
        _check_blas_dims(t, 16 * max(c, f) * t)
        u = _empty((16, f, c), x.dtype)
        _k.wino_filter(w, u, False, nt)
        vb = _wino_scratch(nt, c, t, x.dtype)
        mb = _wino_scratch(nt, f, t, x.dtype)
        pb = np.empty((nt, _wino_pad_len(((oh + 1) // 2, (ow + 1) // 2))), dtype=x.dtype)
        with blas_single_thread():
            _k.wino_forward(x, u, b, out, vb, mb, pb, ph, pw, bimg, nt)
        cache = ConvCache(x=x, w=w, b=b, stride=(sh, sw), pad=(ph, pw), out_shape=out.shape)
        return out, cache
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
    The algorithm of :func:`conv_forward` for this shape. im2col path, per image: rebuild the
    columns, ``[dw | db] += dout[i] @ [cols; 1]^T`` (one GEMM), ``dcols = w^T @ dout[i]``,
    col2im into ``dx[i]``. Winograd path, per block of images: ``dU_xi += dM_xi V_xi^T`` with
    ``dM = A dY A^T`` (the weight gradient in the transformed domain, ``dw = G^T dU G`` at the
    end, in float64) and ``dx`` by the forward algorithm applied to ``dout`` with the flipped,
    channel-transposed filters and padding ``2 - pad``; ``db`` is summed in float64. dw (and
    db) are summed over up to 16 fixed chunks of images and the chunks reduced in order, so
    results are bitwise identical for any thread count (every GEMM runs on one BLAS thread).
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
    _check_blas_dims(k + 1, p, f)  # as in the forward: the cache may come from the reference's
    if n == 0:  # an empty batch: zero gradients
        dx = np.zeros(x.shape, dtype) if need_dx else None
        return dx, np.zeros(w.shape, dtype), np.zeros(f, dtype)
    # Chunks of consecutive images; how many depends on the problem only, never on threads.
    n_chunks = max(1, min(n, _MAX_CHUNKS, _DW_PART_BYTES // (f * (k + 1) * dtype.itemsize)))
    chunk = -(-n // n_chunks)
    n_chunks = -(-n // chunk)
    nt = min(work_threads(n_threads, n * f * k * p), n_chunks)
    need_dx = bool(need_dx)
    if _algorithm(c, f, kh, kw, sh, sw, ph, pw, oh, ow) == "winograd":
        return _wino_backward(x, w, dout, (ph, pw), n_threads, need_dx)
    dx = _empty(x.shape if need_dx else (1, 1, 1, 1), dtype)
    dw = np.empty(w.shape, dtype=dtype)
    db = np.empty(f, dtype=dtype)
    dwb_part = _empty((n_chunks, f, k + 1), dtype)
    cols = _cols_scratch(nt, k, p, dtype)
    # One row per thread even when unused: the kernel takes each thread's row before it knows
    # whether dx is wanted (an index past the first axis is an error in the checked build).
    dcols = _empty((nt, k, p) if need_dx else (nt, 1, 1), dtype)
    pads = _pad_scratch(nt * 2, x.shape, (ph, pw), dtype).reshape(nt, 2, -1)
    with blas_single_thread():
        _k.conv_backward(x, w.reshape(f, k), dout, dx, dw.reshape(f, k), db, dwb_part, cols,
                         dcols, pads, kh, kw, sh, sw, ph, pw, nt, need_dx)
    return (dx if need_dx else None), dw, db


def _wino_backward(x, w, dout, pad, n_threads, need_dx):
    """conv_backward by Winograd F(2x2, 3x3): see ``wino_backward`` in csrc/conv.pyx."""
    dtype = x.dtype
    n, c, h, wd = x.shape
    f = w.shape[0]
    oh, ow = dout.shape[2:]
    ph, pw = pad
    tiles, bimg = _wino_geometry(n, oh, ow)
    tiles2 = ((h + 1) // 2) * ((wd + 1) // 2)
    n_chunks = max(1, min(n, _MAX_CHUNKS, _DW_PART_BYTES // (16 * f * c * dtype.itemsize)))
    chunk = -(-n // n_chunks)
    n_chunks = -(-n // chunk)
    bimg = min(bimg, chunk)
    nt = min(work_threads(n_threads, n * f * c * 9 * oh * ow), n_chunks)
    t, t2 = bimg * tiles, bimg * tiles2
    _check_blas_dims(t, t2, 16 * max(c, f) * max(t, t2))
    dx = _empty(x.shape if need_dx else (1, 1, 1, 1), dtype)
    du_part = _empty((n_chunks, 16, f, c), dtype)
    db_part = np.zeros((n_chunks, f), dtype=np.float64)
    vb = _wino_scratch(nt, c, t, dtype)
    mb = _wino_scratch(nt, f, t, dtype)
    v2 = _wino_scratch(nt, f, t2, dtype) if need_dx else _empty((nt, 1), dtype)
    m2 = _wino_scratch(nt, c, t2, dtype) if need_dx else _empty((nt, 1), dtype)
    pb = np.empty((nt, _wino_pad_len(((oh + 1) // 2, (ow + 1) // 2),
                                     ((h + 1) // 2, (wd + 1) // 2))), dtype=dtype)
    # dx = correlation of dout with the flipped filters, channels swapped, padding 2 - pad.
    ut = _empty((16, c, f) if need_dx else (16, 1, 1), dtype)
    if need_dx:
        _k.wino_filter(w, ut, True, nt)
    with blas_single_thread():
        _k.wino_backward(x, ut, dout, dx, du_part, db_part, vb, mb, v2, m2, pb, ph, pw, bimg,
                         nt, need_dx)
    dw, db = np.empty(w.shape, dtype=dtype), np.empty(f, dtype=dtype)
    # dw = G^T (chunks' partials reduced in order, in double) G; db likewise.
    _k.wino_grad_finish(du_part, db_part, dw, db, nt)
    return (dx if need_dx else None), dw, db


def conv_transpose_forward(x, w, b, stride=1, pad=0, output_padding=0, *, n_threads=None):
    """Forward pass of a 2-D transposed convolution (torch's ``conv_transpose2d``).

    The adjoint of :func:`conv_forward` (without its bias) with the same filters: each input
    pixel scatters ``x[n, :, i, j] @ w`` (a (C_out, HH, WW) patch) into the output at
    ``(i * sh - ph, j * sw - pw)``. It upsamples by the stride, as a DCGAN generator does.

    Parameters
    ----------
    x : array_like of shape (N, C_in, H, W)
        Input images.
    w : array_like of shape (C_in, C_out, HH, WW)
        Filters, laid out as torch's ``ConvTranspose2d.weight`` (input channels first).
    b : array_like of shape (C_out,), or None
        Biases; None for none.
    stride, pad : int or (int, int), default 1 and 0
        Stride (>= 1) and padding (>= 0) of the convolution this is the transpose of: ``pad``
        rows and columns are cropped from each side of the full output.
    output_padding : int or (int, int), default 0
        Rows (columns) added at the bottom (right), each smaller than the stride: picks one of
        the ``stride`` input sizes a strided convolution maps to the same output size.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    out : ndarray of shape (N, C_out, OH, OW)
        ``OH = (H - 1) * sh - 2 * ph + HH + oph``, likewise OW. float32 when x, w and b are all
        float32, float64 otherwise.
    cache : ConvTransposeCache
        For :func:`conv_transpose_backward`.

    Raises
    ------
    ValueError
        Wrong rank, zero-size dimension (but N), channel mismatch, wrong bias length,
        stride < 1, pad < 0, output_padding not in [0, stride), an empty output.
    TypeError
        Complex, boolean, object or string arrays; non-int geometry.

    Notes
    -----
    Per image, ``cols = w.reshape(C_in, -1)^T @ x[i]`` (one GEMM, (C_out HH WW) x (H W)) and
    col2im of ``cols`` into ``out[i]`` plus the bias: the input-gradient path of
    :func:`conv_backward`. Parallel over images, each GEMM on one BLAS thread, so results are
    bitwise identical for any thread count. Cost ``2 N C_in C_out HH WW H W`` flops.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.ops import conv_transpose_forward
    >>> x = np.ones((1, 2, 4, 4), np.float32)
    >>> w = np.ones((2, 3, 4, 4), np.float32)
    >>> out, cache = conv_transpose_forward(x, w, None, stride=2, pad=1)
    >>> out.shape
    (1, 3, 8, 8)
    """
    x, w, b, (sh, sw), (ph, pw), (oph, opw), (oh, ow) = conv_transpose_args(
        x, w, b, stride, pad, output_padding
    )
    n, ci, h, wd = x.shape
    co, kh, kw = w.shape[1:]
    kk, p = co * kh * kw, h * wd
    _check_blas_dims(kk, p, ci)
    cache = ConvTransposeCache(x=x, w=w, b=b, stride=(sh, sw), pad=(ph, pw),
                               output_padding=(oph, opw), out_shape=(n, co, oh, ow))
    if n == 0:
        return np.zeros((0, co, oh, ow), x.dtype), cache
    out = _empty((n, co, oh, ow), x.dtype)
    nt = min(work_threads(n_threads, n * ci * kk * p), n)
    cols = _empty((nt, kk, p), x.dtype)
    pads = np.empty((nt, (oh + 2 * ph) * (ow + 2 * pw)), dtype=x.dtype)  # zeroed per plane
    with blas_single_thread():
        _k.conv_transpose_forward(x, w.reshape(ci, kk), b, out, cols, pads, kh, kw, sh, sw,
                                  ph, pw, nt)
    return out, cache


def conv_transpose_backward(dout, cache, *, n_threads=None, need_dx=True):
    """Backward pass of :func:`conv_transpose_forward`.

    Parameters
    ----------
    dout : array_like of shape (N, C_out, OH, OW)
        Upstream gradient; must match the forward output's shape.
    cache : ConvTransposeCache
        From :func:`conv_transpose_forward` (or its twin in :mod:`cs231n_fast.reference`).
    n_threads : int, optional
        Threads for the kernels; default OpenMP's current maximum.
    need_dx : bool, default True
        False skips the input gradient and returns None in its place.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W), or None when ``need_dx`` is False
    dw : ndarray of shape (C_in, C_out, HH, WW)
    db : ndarray of shape (C_out,)
        float32 when the cached arrays and ``dout`` are float32, float64 otherwise.

    Notes
    -----
    A transposed convolution's gradients are convolutions: ``dx = conv(dout, w)`` (stride and
    pad of the forward, no bias) by :func:`conv_forward`, and ``dw`` is the filter gradient of
    that same convolution with ``x`` as its upstream gradient, by :func:`conv_backward` with
    ``need_dx=False`` (im2col of ``dout`` and one GEMM per image). ``db`` sums ``dout`` over
    (N, OH, OW) in float64. Rows of ``dout`` in the output padding reach only ``db``. Both
    kernels are bitwise identical for any thread count.
    """
    dout = backward_args(dout, cache, ConvTransposeCache, "conv_transpose_forward",
                         "(N, C_out, OH, OW)")
    x, w, _, stride, pad, _, (oh, ow) = cache_args(
        "conv_transpose_forward",
        lambda: conv_transpose_args(cache.x, cache.w, cache.b, cache.stride, cache.pad,
                                    cache.output_padding),
    )
    check_cache_out_shape(cache, (x.shape[0], w.shape[1], oh, ow), "conv_transpose_forward")
    dtype = result_dtype(x, w, dout)
    x, w = as_contiguous(x, dtype), as_contiguous(w, dtype)
    dout = as_contiguous(dout, dtype)
    zero = np.zeros(w.shape[0], dtype=dtype)
    dx = conv_forward(dout, w, zero, stride, pad, n_threads=n_threads)[0] if need_dx else None
    conv_cache = ConvCache(x=dout, w=w, b=zero, stride=stride, pad=pad, out_shape=x.shape)
    _, dw, _ = conv_backward(x, conv_cache, n_threads=n_threads, need_dx=False)
    db = dout.sum(axis=(0, 2, 3), dtype=np.float64).astype(dtype)
    return dx, dw, db
