"""The course's plain-loop convolution and max pooling, kept as test oracles.

Signatures and semantics follow CS231n assignment 2 (``layers.py``): parameters arrive in
``conv_param`` / ``pool_param`` dicts, caches are tuples, and every output element is computed
by an explicit loop. Nothing here shares code with ``reference.conv`` or ``reference.pool``, so
an agreement between the two is evidence rather than a tautology. Results are float64.

Two deliberate differences from the usual student solution: a missing dict key raises a
``ValueError`` naming it, and output sizes use floor division, so windows need not tile the
input (rows and columns past the last window are ignored).
"""

import numpy as np

__all__ = [
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
]


def _param(params, name, key):
    """``params[key]``, or a ValueError naming the dict and the missing key."""
    try:
        return params[key]
    except KeyError:
        raise ValueError(f"{name} is missing key {key!r}") from None


def conv_forward_naive(x, w, b, conv_param):
    """
    A naive implementation of the forward pass for a convolutional layer.

    The input consists of N data points, each with C channels, height H and
    width W. We convolve each input with F different filters, where each filter
    spans all C channels and has height HH and width WW.

    Input:

    - x: Input data of shape (N, C, H, W)
    - w: Filter weights of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: A dictionary with the following keys:

      - 'stride': The number of pixels between adjacent receptive fields in the
        horizontal and vertical directions.
      - 'pad': The number of pixels that will be used to zero-pad the input.

    During padding, 'pad' zeros should be placed symmetrically (i.e equally on both sides)
    along the height and width axes of the input.

    Returns a tuple of:

    - out: Output data, of shape (N, F, H', W') where H' and W' are given by
      H' = 1 + (H + 2 * pad - HH) // stride
      W' = 1 + (W + 2 * pad - WW) // stride
    - cache: (x, w, b, conv_param)
    """
    stride = _param(conv_param, "conv_param", "stride")
    pad = _param(conv_param, "conv_param", "pad")
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride, j * stride
                    window = x_pad[n, :, h0 : h0 + HH, w0 : w0 + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]

    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """
    A naive implementation of the backward pass for a convolutional layer.

    Inputs:

    - dout: Upstream derivatives.
    - cache: A tuple of (x, w, b, conv_param) as in conv_forward_naive

    Returns a tuple of:

    - dx: Gradient with respect to x
    - dw: Gradient with respect to w
    - db: Gradient with respect to b
    """
    x, w, b, conv_param = cache
    stride = _param(conv_param, "conv_param", "stride")
    pad = _param(conv_param, "conv_param", "pad")
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(b.shape)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride, j * stride
                    g = dout[n, f, i, j]
                    db[f] += g
                    dw[f] += x_pad[n, :, h0 : h0 + HH, w0 : w0 + WW] * g
                    dx_pad[n, :, h0 : h0 + HH, w0 : w0 + WW] += w[f] * g

    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """
    A naive implementation of the forward pass for a max-pooling layer.

    Inputs:

    - x: Input data, of shape (N, C, H, W)
    - pool_param: dictionary with the following keys:

      - 'pool_height': The height of each pooling region
      - 'pool_width': The width of each pooling region
      - 'stride': The distance between adjacent pooling regions

    No padding is necessary here, eg you can assume:

      - (H - pool_height) % stride == 0
      - (W - pool_width) % stride == 0

    (here those are not required: H' and W' round down).

    Returns a tuple of:

    - out: Output data, of shape (N, C, H', W') where H' and W' are given by
      H' = 1 + (H - pool_height) // stride
      W' = 1 + (W - pool_width) // stride
    - cache: (x, pool_param)
    """
    pool_height = _param(pool_param, "pool_param", "pool_height")
    pool_width = _param(pool_param, "pool_param", "pool_width")
    stride = _param(pool_param, "pool_param", "stride")
    N, C, H, W = x.shape
    H_out = 1 + (H - pool_height) // stride
    W_out = 1 + (W - pool_width) // stride

    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride, j * stride
                    out[n, c, i, j] = np.max(x[n, c, h0 : h0 + pool_height, w0 : w0 + pool_width])

    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """
    A naive implementation of the backward pass for a max-pooling layer.

    Inputs:

    - dout: Upstream derivatives
    - cache: A tuple of (x, pool_param) as in the forward pass.

    Returns:

    - dx: Gradient with respect to x

    Each window's gradient goes to its first maximum in row-major order (np.argmax of the
    flattened window; its first NaN if it holds one); overlapping windows accumulate.
    """
    x, pool_param = cache
    pool_height = _param(pool_param, "pool_param", "pool_height")
    pool_width = _param(pool_param, "pool_param", "pool_width")
    stride = _param(pool_param, "pool_param", "stride")
    N, C, H, W = x.shape
    _, _, H_out, W_out = dout.shape

    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0, w0 = i * stride, j * stride
                    window = x[n, c, h0 : h0 + pool_height, w0 : w0 + pool_width]
                    k = np.argmax(window)
                    di, dj = divmod(k, pool_width)
                    dx[n, c, h0 + di, w0 + dj] += dout[n, c, i, j]
    return dx
