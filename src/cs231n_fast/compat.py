"""The functions the course's ``fast_layers.py`` imports from its hand-built ``im2col_cython``.

Replace ``from .im2col_cython import col2im_cython, im2col_cython`` (and ``col2im_6d_cython``)
with ``from cs231n_fast.compat import ...``: same names, arguments and layouts, compiled at
install time. One deliberate difference: the course's ``im2col_cython`` computes the row index
as ``c * fw * fh + ii * field_height + jj``, which is wrong for non-square filters; here the row
is ``(c * field_height + ii) * field_width + jj``, the layout ``w.reshape(F, -1)`` expects.

Layouts (as in the course):

* ``im2col_cython`` returns ``cols`` of shape ``(C * fh * fw, OH * OW * N)``, columns ordered
  (output row, output column, image);
* ``col2im_cython`` takes that layout back to ``(N, C, H, W)``;
* ``col2im_6d_cython`` takes ``cols`` of shape ``(C, HH, WW, N, OH, OW)``.
"""

from . import ops
from ._validation import as_array, check_ndim, output_size, positive_int

__all__ = ["im2col_cython", "col2im_cython", "col2im_6d_cython"]


def im2col_cython(x, field_height, field_width, padding, stride):
    """Columns of shape (C * field_height * field_width, OH * OW * N) in the course's order."""
    cols = ops.im2col(x, field_height, field_width, stride, padding)
    n, k, p = cols.shape
    return cols.transpose(1, 2, 0).reshape(k, p * n)


def col2im_cython(cols, N, C, H, W, field_height, field_width, padding, stride):
    """Inverse layout of :func:`im2col_cython`: sum columns back into (N, C, H, W)."""
    N, C, H, W = (positive_int(name, v) for name, v in zip("NCHW", (N, C, H, W)))
    kh = positive_int("field_height", field_height)
    kw = positive_int("field_width", field_width)
    padding = positive_int("padding", padding, 0)
    stride = positive_int("stride", stride)
    cols = as_array("cols", cols)
    check_ndim("cols", cols, 2, "(C * field_height * field_width, OH * OW * N)")
    k = C * kh * kw
    p = output_size("field_height", H, kh, stride, padding, "height")
    p *= output_size("field_width", W, kw, stride, padding, "width")
    if cols.shape != (k, p * N):
        raise ValueError(
            f"cols must have shape (C * field_height * field_width, OH * OW * N) = {(k, p * N)}; "
            f"got {cols.shape}"
        )
    per_image = cols.reshape(k, p, N).transpose(2, 0, 1)
    return ops.col2im(per_image, (N, C, H, W), kh, kw, stride, padding)


def col2im_6d_cython(cols, N, C, H, W, HH, WW, pad, stride):
    """Sum columns of shape (C, HH, WW, N, OH, OW) back into (N, C, H, W)."""
    N, C, H, W = (positive_int(name, v) for name, v in zip("NCHW", (N, C, H, W)))
    HH, WW = positive_int("HH", HH), positive_int("WW", WW)
    pad, stride = positive_int("pad", pad, 0), positive_int("stride", stride)
    cols = as_array("cols", cols)
    oh = output_size("HH", H, HH, stride, pad, "height")
    ow = output_size("WW", W, WW, stride, pad, "width")
    if cols.shape != (C, HH, WW, N, oh, ow):
        raise ValueError(
            f"cols must have shape (C, HH, WW, N, OH, OW) = {(C, HH, WW, N, oh, ow)}; got {cols.shape}"
        )
    per_image = cols.transpose(3, 0, 1, 2, 4, 5).reshape(N, C * HH * WW, oh * ow)
    return ops.col2im(per_image, (N, C, H, W), HH, WW, stride, pad)
