"""Validated functional API over the compiled kernels.

Same names and signatures as the pure-NumPy twin :mod:`cs231n_fast.reference`.
"""

from .conv import (
    col2im,
    conv_backward,
    conv_forward,
    conv_transpose_backward,
    conv_transpose_forward,
    im2col,
)
from .pool import maxpool_backward, maxpool_forward

__all__ = [
    "im2col",
    "col2im",
    "conv_forward",
    "conv_backward",
    "conv_transpose_forward",
    "conv_transpose_backward",
    "maxpool_forward",
    "maxpool_backward",
]
