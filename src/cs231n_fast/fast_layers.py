"""Drop-in replacement for the CS231n assignment's ``fast_layers`` module.

Same names, arguments and return values as the course's file; every function runs on the
compiled kernels of :mod:`cs231n_fast.ops`. Differences, all in the user's favour:

* nothing to compile by hand (``pip install`` builds the kernels) and no silent fallback;
* any geometry works: non-square filters and pools, windows that do not tile the input
  (trailing rows/columns that fit no window are ignored, as in ``conv_forward_naive``),
  overlapping pools;
* ``float32`` in gives ``float32`` out; other real dtypes are computed in ``float64``;
* caches are :class:`~cs231n_fast._cache.ConvCache` / ``PoolCache`` objects, not tuples.

The ``_im2col``, ``_strides``, ``_reshape`` variants of the course are kept as names so that
notebooks comparing them still run; here they all use the same (fastest) kernels.
The NumPy index helpers of :mod:`cs231n_fast.im2col` (``get_im2col_indices``, ``im2col_indices``,
``col2im_indices``) are re-exported, as the course's ``from .im2col import *`` does.
"""

from collections.abc import Mapping

from . import im2col as _im2col
from . import ops
from .im2col import *  # noqa: F403  (re-exported, as the course's module does)

__all__ = [
    "conv_forward_fast",
    "conv_backward_fast",
    "conv_forward_im2col",
    "conv_backward_im2col",
    "conv_forward_strides",
    "conv_backward_strides",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
    "max_pool_forward_reshape",
    "max_pool_backward_reshape",
    "max_pool_forward_im2col",
    "max_pool_backward_im2col",
]
__all__ += _im2col.__all__  # the course's fast_layers star-imports its im2col module


def _get(params, name, key):
    if not isinstance(params, Mapping):
        raise TypeError(f"{name} must be a dict; got {type(params).__name__}")
    if key not in params:
        raise ValueError(f"{name} is missing key '{key}' (has {sorted(params)})")
    return params[key]


def conv_forward_fast(x, w, b, conv_param):
    """A fast implementation of the forward pass for a convolutional layer.

    Inputs:
    - x: Input data of shape (N, C, H, W)
    - w: Filter weights of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: A dictionary with the following keys:
      - 'stride': The number of pixels between adjacent receptive fields in the
        horizontal and vertical directions (an int, or a pair (sh, sw)).
      - 'pad': The number of pixels that will be used to zero-pad the input (an int, or a
        pair (ph, pw)).

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W') where H' and W' are given by
      H' = 1 + (H + 2 * pad - HH) // stride
      W' = 1 + (W + 2 * pad - WW) // stride
    - cache: (x, w, b, conv_param) as a ConvCache
    """
    stride = _get(conv_param, "conv_param", "stride")
    pad = _get(conv_param, "conv_param", "pad")
    return ops.conv_forward(x, w, b, stride, pad)


def conv_backward_fast(dout, cache):
    """A fast implementation of the backward pass for a convolutional layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W').
    - cache: The cache returned by conv_forward_fast.

    Returns a tuple of:
    - dx: Gradient with respect to x
    - dw: Gradient with respect to w
    - db: Gradient with respect to b
    """
    return ops.conv_backward(dout, cache)


def max_pool_forward_fast(x, pool_param):
    """A fast implementation of the forward pass for a max-pooling layer.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - pool_param: dictionary with the following keys:
      - 'pool_height': The height of each pooling region
      - 'pool_width': The width of each pooling region
      - 'stride': The distance between adjacent pooling regions

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W') where H' = 1 + (H - pool_height) // stride
    - cache: a PoolCache
    """
    ph = _get(pool_param, "pool_param", "pool_height")
    pw = _get(pool_param, "pool_param", "pool_width")
    stride = _get(pool_param, "pool_param", "stride")
    return ops.maxpool_forward(x, ph, pw, stride)


def max_pool_backward_fast(dout, cache):
    """A fast implementation of the backward pass for a max-pooling layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W')
    - cache: The cache returned by max_pool_forward_fast.

    Returns:
    - dx: Gradient with respect to x; each window's gradient goes to its first maximum.
    """
    return ops.maxpool_backward(dout, cache)


# The course's alternative implementations, kept as names for notebooks that compare them.
conv_forward_im2col = conv_forward_fast
conv_backward_im2col = conv_backward_fast
conv_forward_strides = conv_forward_fast
conv_backward_strides = conv_backward_fast
max_pool_forward_reshape = max_pool_forward_fast
max_pool_backward_reshape = max_pool_backward_fast
max_pool_forward_im2col = max_pool_forward_fast
max_pool_backward_im2col = max_pool_backward_fast
