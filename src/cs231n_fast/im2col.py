"""Drop-in for the course's ``cs231n/im2col.py`` (assignment 2): im2col by fancy indexing.

``get_im2col_indices``, ``im2col_indices`` and ``col2im_indices`` keep the course's names,
arguments, defaults, layouts and dtypes (the input's dtype is kept; nothing is cast), and are
pure NumPy as in the course. The compiled equivalents are :func:`cs231n_fast.ops.im2col` /
:func:`cs231n_fast.ops.col2im` (layout ``(N, C * kh * kw, OH * OW)``) and
:func:`cs231n_fast.compat.im2col_cython` (this module's layout). Differences, all in the
user's favour:

* the course's file computes the output size with ``/``, a float that NumPy 2 refuses as an
  ``arange`` length in these index computations; here it is ``//``;
* the course asserts that the windows tile the padded input exactly (and checks the width
  against ``field_height``); here any geometry works: windows that do not fit are dropped,
  ``OH = (H + 2 * padding - field_height) // stride + 1``, as in the course's naive layers;
* bad geometry (a window larger than the padded input, ``stride < 1``, ``padding < 0``, a
  ``cols`` of the wrong shape) raises ``ValueError`` naming the argument instead of an
  ``AssertionError`` or an ``IndexError`` from deep in NumPy.
"""

import numpy as np

from ._validation import check_ndim, output_size, positive_int

__all__ = ["get_im2col_indices", "im2col_indices", "col2im_indices"]


def _shape4(name, shape):
    try:
        dims = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of 4 ints (N, C, H, W); got {shape!r}") from None
    if len(dims) != 4 or min(dims) < 1:
        raise ValueError(f"{name} must be a tuple of 4 positive ints (N, C, H, W); got {shape!r}")
    return dims


def _geometry(x_shape, field_height, field_width, padding, stride):
    """``(field_height, field_width, padding, stride, out_height, out_width)``, validated."""
    _, _, H, W = x_shape
    field_height = positive_int("field_height", field_height)
    field_width = positive_int("field_width", field_width)
    padding = positive_int("padding", padding, 0)
    stride = positive_int("stride", stride)
    out_height = output_size("field_height", H, field_height, stride, padding, "height")
    out_width = output_size("field_width", W, field_width, stride, padding, "width")
    return field_height, field_width, padding, stride, out_height, out_width


def get_im2col_indices(x_shape, field_height, field_width, padding=1, stride=1):
    """The fancy indices ``(k, i, j)`` that gather every receptive field of a padded input.

    Parameters
    ----------
    x_shape : tuple of 4 ints
        ``(N, C, H, W)`` of the (unpadded) input.
    field_height, field_width : int
        Window height and width, >= 1 and no larger than the padded input.
    padding : int, default 1
        Zero padding on each side, >= 0.
    stride : int, default 1
        Step between windows, >= 1.

    Returns
    -------
    k : ndarray of shape (C * field_height * field_width, 1)
        The channel of each row.
    i, j : ndarray of shape (C * field_height * field_width, OH * OW)
        Row and column in the padded input of each (row, window) pair; row
        ``(c * field_height + ii) * field_width + jj``, window ``oy * OW + ox``.

    Raises
    ------
    ValueError, TypeError
        On a malformed ``x_shape`` or bad geometry (the message names the argument).
    """
    N, C, H, W = _shape4("x_shape", x_shape)
    field_height, field_width, padding, stride, out_height, out_width = _geometry(
        (N, C, H, W), field_height, field_width, padding, stride
    )

    i0 = np.repeat(np.arange(field_height), field_width)
    i0 = np.tile(i0, C)
    i1 = stride * np.repeat(np.arange(out_height), out_width)
    j0 = np.tile(np.arange(field_width), field_height * C)
    j1 = stride * np.tile(np.arange(out_width), out_height)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)

    k = np.repeat(np.arange(C), field_height * field_width).reshape(-1, 1)

    return (k, i, j)


def im2col_indices(x, field_height, field_width, padding=1, stride=1):
    """An implementation of im2col based on some fancy indexing.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input images, any dtype (kept).
    field_height, field_width, padding, stride
        As in :func:`get_im2col_indices`.

    Returns
    -------
    cols : ndarray of shape (C * field_height * field_width, OH * OW * N)
        Columns ordered (window, image): ``cols[r, (oy * OW + ox) * N + n]``, ``x``'s dtype.

    Raises
    ------
    ValueError, TypeError
        If ``x`` is not 4-D or the geometry is bad.
    """
    x = np.asarray(x)
    check_ndim("x", x, 4, "(N, C, H, W)")
    # Zero-pad the input
    p = positive_int("padding", padding, 0)
    k, i, j = get_im2col_indices(x.shape, field_height, field_width, p, stride)
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="constant")

    cols = x_padded[:, k, i, j]
    C = x.shape[1]
    cols = cols.transpose(1, 2, 0).reshape(field_height * field_width * C, -1)
    return cols


def col2im_indices(cols, x_shape, field_height=3, field_width=3, padding=1, stride=1):
    """An implementation of col2im based on fancy indexing and np.add.at.

    The adjoint of :func:`im2col_indices`: every column entry is added back to the input
    position it was gathered from, so overlapping windows sum.

    Parameters
    ----------
    cols : array_like of shape (C * field_height * field_width, OH * OW * N)
        Columns in the layout :func:`im2col_indices` returns.
    x_shape : tuple of 4 ints
        ``(N, C, H, W)`` of the images to rebuild.
    field_height, field_width : int, default 3
    padding : int, default 1
    stride : int, default 1

    Returns
    -------
    x : ndarray of shape x_shape
        ``cols``' dtype.

    Raises
    ------
    ValueError, TypeError
        On a malformed ``x_shape``, bad geometry or a ``cols`` of the wrong shape.
    """
    N, C, H, W = _shape4("x_shape", x_shape)
    k, i, j = get_im2col_indices((N, C, H, W), field_height, field_width, padding, stride)
    cols = np.asarray(cols)
    expected = (C * field_height * field_width, i.shape[1] * N)
    if cols.shape != expected:
        raise ValueError(
            f"cols must have shape (C * field_height * field_width, OH * OW * N) = {expected} "
            f"for x_shape {(N, C, H, W)}; got {cols.shape}"
        )
    H_padded, W_padded = H + 2 * padding, W + 2 * padding
    x_padded = np.zeros((N, C, H_padded, W_padded), dtype=cols.dtype)
    cols_reshaped = cols.reshape(C * field_height * field_width, -1, N)
    cols_reshaped = cols_reshaped.transpose(2, 0, 1)
    np.add.at(x_padded, (slice(None), k, i, j), cols_reshaped)
    if padding == 0:
        return x_padded
    return x_padded[:, :, padding:-padding, padding:-padding]
