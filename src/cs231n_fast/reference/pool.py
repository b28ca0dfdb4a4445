"""Max pooling in vectorised NumPy.

This is the readable twin of ``cs231n_fast.ops.pool``: same names, signatures, validation,
dtype policy and cache, written to be read rather than to be fast. The fast kernels are tested
against it, and it is tested against the course's plain loops in ``reference.naive``.

Windows may overlap (stride smaller than the window) and need not tile the input (rows and
columns past the last window are ignored). There is no padding.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import _validation as v
from .._cache import PoolCache

__all__ = ["maxpool_forward", "maxpool_backward"]


def _window_max(x, kh, kw, sh, sw, oh, ow):
    """Each window's maximum, and the flat (H, W)-plane index of its first maximum."""
    n, c, h, w = x.shape
    # (N, C, H - kh + 1, W - kw + 1, kh, kw) view of every window at stride 1; keep every
    # sh-th row and sw-th column of window origins, then flatten each window row-major.
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    windows = windows.reshape(n, c, oh, ow, kh * kw)
    # max propagates NaN, and argmax returns the first NaN if there is one, else the first
    # occurrence of the maximum: exactly the documented tie and NaN rule.
    out = windows.max(axis=-1)
    k = windows.argmax(axis=-1)
    # Window-local offset k = i * kw + j  ->  plane index (oy * sh + i) * W + (ox * sw + j).
    oy = np.arange(oh)[:, None]
    ox = np.arange(ow)[None, :]
    rows = oy * sh + k // kw
    cols = ox * sw + k % kw
    argmax = (rows * w + cols).astype(np.int32)
    return out, argmax


def maxpool_forward(x, pool_height, pool_width, stride, *, n_threads=None):
    """Max pooling forward pass.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input; float32 stays float32, any other real dtype is computed in float64.
    pool_height, pool_width : int
        Window height ``kh`` and width ``kw``, each >= 1 and no larger than the input.
    stride : int or (int, int)
        Step between windows ``(sh, sw)`` (an int applies to both); each >= 1.
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.maxpool_forward`` and ignored.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
        ``out[n, c, oy, ox] = max(x[n, c, oy*sh : oy*sh + kh, ox*sw : ox*sw + kw])`` with
        ``OH = (H - kh) // sh + 1`` and ``OW = (W - kw) // sw + 1``. A NaN in a window makes
        its output NaN.
    cache : PoolCache
        The input, geometry and, in ``argmax`` (int32, shape (N, C, OH, OW)), the flat index
        ``row * W + col`` of each window's first maximum in row-major order (its first NaN if
        it has one).

    Raises
    ------
    TypeError
        If ``x`` is not a real numeric array, or a parameter is not an int.
    ValueError
        If ``x`` is not 4-D or is empty, or a parameter is out of range.

    Notes
    -----
    Builds a copy of every window, ``kh * kw / (sh * sw)`` times the size of ``x``.
    """
    x, (kh, kw), (sh, sw), (oh, ow) = v.pool_args(x, pool_height, pool_width, stride)
    out, argmax = _window_max(x, kh, kw, sh, sw, oh, ow)
    n, c = x.shape[:2]
    cache = PoolCache(x=x, pool=(kh, kw), stride=(sh, sw), out_shape=(n, c, oh, ow), argmax=argmax)
    return out, cache


def maxpool_backward(dout, cache, *, n_threads=None):
    """Max pooling backward pass: route each window's gradient to its first maximum.

    Parameters
    ----------
    dout : array_like of shape (N, C, OH, OW)
        Upstream gradient, shaped like the output of the forward call that made ``cache``.
    cache : PoolCache
        From ``maxpool_forward`` (this one or ``cs231n_fast.ops.maxpool_forward``).
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.maxpool_backward`` and ignored.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        Zero except at window maxima; where overlapping windows share a maximum their
        gradients add up. float32 if ``x`` and ``dout`` are both float32, else float64.

    Raises
    ------
    TypeError
        If ``cache`` is not a ``PoolCache`` or ``dout`` is not a real numeric array.
    ValueError
        If ``dout`` does not have the forward output's shape.

    Notes
    -----
    Contributions to one element are added in row-major window order (``np.add.at`` is
    unbuffered, so repeated indices accumulate).
    """
    dout = v.backward_args(dout, cache, PoolCache, "maxpool_forward", "(N, C, OH, OW)")
    dtype = v.result_dtype(cache.x, dout)
    n, c, h, w = cache.x.shape
    _, _, oh, ow = cache.out_shape
    argmax = cache.argmax

    dx = np.zeros((n * c, h * w), dtype=dtype)
    plane = np.arange(n * c)[:, None]  # (N*C, 1), broadcast against (N*C, OH*OW) positions
    grads = dout.reshape(n * c, oh * ow).astype(dtype)
    np.add.at(dx, (plane, argmax.reshape(n * c, oh * ow)), grads)
    return dx.reshape(n, c, h, w)
