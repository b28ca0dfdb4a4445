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


def _geometry(h, w, fh, fw, padding, stride, names):
    """The course's int geometry checked under its own argument ``names`` (filter height, filter
    width, padding, stride); returns ``(fh, fw, padding, stride, oh, ow)``."""
    fh_name, fw_name, pad_name, stride_name = names
    fh, fw = positive_int(fh_name, fh), positive_int(fw_name, fw)
    padding, stride = positive_int(pad_name, padding, 0), positive_int(stride_name, stride)
    oh = output_size(fh_name, h, fh, stride, padding, "height")
    ow = output_size(fw_name, w, fw, stride, padding, "width")
    return fh, fw, padding, stride, oh, ow


_IM2COL_NAMES = ("field_height", "field_width", "padding", "stride")


def im2col_cython(x, field_height, field_width, padding, stride):
    """Columns of shape (C * field_height * field_width, OH * OW * N) in the course's order."""
    x = as_array("x", x)
    check_ndim("x", x, 4, "(N, C, H, W)")
    h, w = x.shape[2:]
    fh, fw, padding, stride, _, _ = _geometry(h, w, field_height, field_width, padding, stride, _IM2COL_NAMES)
    cols = ops.im2col(x, fh, fw, stride, padding)
    n, k, p = cols.shape
    return cols.transpose(1, 2, 0).reshape(k, p * n)


def col2im_cython(cols, N, C, H, W, field_height, field_width, padding, stride):
    """Inverse layout of :func:`im2col_cython`: sum columns back into (N, C, H, W)."""
    N, C, H, W = (positive_int(name, v) for name, v in zip("NCHW", (N, C, H, W)))
    kh, kw, padding, stride, oh, ow = _geometry(H, W, field_height, field_width, padding, stride, _IM2COL_NAMES)
    cols = as_array("cols", cols)
    check_ndim("cols", cols, 2, "(C * field_height * field_width, OH * OW * N)")
    k, p = C * kh * kw, oh * ow
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
    HH, WW, pad, stride, oh, ow = _geometry(H, W, HH, WW, pad, stride, ("HH", "WW", "pad", "stride"))
    cols = as_array("cols", cols)
    if cols.shape != (C, HH, WW, N, oh, ow):
        raise ValueError(
            f"cols must have shape (C, HH, WW, N, OH, OW) = {(C, HH, WW, N, oh, ow)}; got {cols.shape}"
        )
    per_image = cols.transpose(3, 0, 1, 2, 4, 5).reshape(N, C * HH * WW, oh * ow)
    return ops.col2im(per_image, (N, C, H, W), HH, WW, stride, pad)
