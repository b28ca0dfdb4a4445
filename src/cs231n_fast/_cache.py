"""Forward caches shared by the fast kernels and the NumPy twin.

A cache records everything its backward needs and the forward call's output shape, so that
``backward`` can check ``dout`` before any native code runs. The fast and reference forwards
produce the same cache types, so either backward accepts either cache.

Like the course's tuples, a cache refers to the forward call's input arrays when they were
already contiguous in the compute dtype (no copy is made): changing ``x`` or ``w`` in place
between forward and backward changes the gradients.
"""

from dataclasses import dataclass
import numpy as np


@dataclass(frozen=True, repr=False)
class ConvCache:
    """What a convolution backward needs: inputs (contiguous, compute dtype) and geometry."""

    x: np.ndarray  # (N, C, H, W)
    w: np.ndarray  # (F, C, HH, WW)
    b: np.ndarray  # (F,)
    stride: tuple  # (sh, sw)
    pad: tuple  # (ph, pw)
    out_shape: tuple  # (N, F, oh, ow)

    def __repr__(self):
        return (
            f"ConvCache(x={self.x.shape}, w={self.w.shape}, stride={self.stride}, "
            f"pad={self.pad}, out_shape={self.out_shape}, dtype={self.x.dtype})"
        )


@dataclass(frozen=True, repr=False)
class PoolCache:
    """What a max-pool backward needs: the input and the position of each window's maximum.

    ``argmax[n, c, i, j]`` is the flat index ``row * W + col`` within the (H, W) plane of
    ``x[n, c]`` of the first maximum (row-major order) of output window (i, j); a NaN counts as
    the maximum (NaN propagates).
    """

    x: np.ndarray  # (N, C, H, W)
    pool: tuple  # (kh, kw)
    stride: tuple  # (sh, sw)
    out_shape: tuple  # (N, C, oh, ow)
    argmax: np.ndarray  # (N, C, oh, ow) int32

    def __repr__(self):
        return (
            f"PoolCache(x={self.x.shape}, pool={self.pool}, stride={self.stride}, "
            f"out_shape={self.out_shape}, dtype={self.x.dtype})"
        )
