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


# --- recurrent layers -------------------------------------------------------------------------
# Gate order everywhere is the course's: input, forget, output, block input (i, f, o, g), each a
# block of H columns of the (N, 4H) gate arrays. Gates are stored *after* their nonlinearity
# (sigmoid for i, f, o; tanh for g), which is all the backward needs.


@dataclass(frozen=True, repr=False)
class RNNStepCache:
    """What one vanilla-RNN step backward needs (``next_h = tanh(x Wx + prev_h Wh + b)``)."""

    x: np.ndarray  # (N, D)
    prev_h: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    next_h: np.ndarray  # (N, H): the step's output, whose derivative is 1 - next_h**2

    @property
    def out_shape(self):
        """Shape of the output whose gradient the backward takes: next_h, (N, H)."""
        return self.next_h.shape

    def __repr__(self):
        return f"RNNStepCache(x={self.x.shape}, prev_h={self.prev_h.shape}, dtype={self.x.dtype})"


@dataclass(frozen=True, repr=False)
class LSTMStepCache:
    """What one LSTM step backward needs."""

    x: np.ndarray  # (N, D)
    prev_h: np.ndarray  # (N, H)
    prev_c: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    gates: np.ndarray  # (N, 4H): [sigmoid(a_i), sigmoid(a_f), sigmoid(a_o), tanh(a_g)]
    next_c: np.ndarray  # (N, H)
    tanh_c: np.ndarray  # (N, H): tanh(next_c)

    @property
    def out_shape(self):
        """Shape of next_h and next_c, (N, H), whose gradients the backward takes."""
        return self.next_c.shape

    def __repr__(self):
        return f"LSTMStepCache(x={self.x.shape}, prev_h={self.prev_h.shape}, dtype={self.x.dtype})"


@dataclass(frozen=True, repr=False)
class RNNCache:
    """What a vanilla-RNN sequence backward needs."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    h: np.ndarray  # (N, T, H): the hidden states the forward returned

    @property
    def out_shape(self):
        """Shape of h, (N, T, H), whose gradient the backward takes."""
        return self.h.shape

    def __repr__(self):
        return f"RNNCache(x={self.x.shape}, h0={self.h0.shape}, dtype={self.x.dtype})"


@dataclass(frozen=True, repr=False)
class LSTMCache:
    """What an LSTM sequence backward needs (``c0`` is zero in the course's ``lstm_forward``)."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    c0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    h: np.ndarray  # (N, T, H): the hidden states the forward returned
    c: np.ndarray  # (N, T, H): the cell states
    gates: np.ndarray  # (N, T, 4H): activated gates of every step, as in LSTMStepCache
    tanh_c: np.ndarray  # (N, T, H): tanh(c)

    @property
    def out_shape(self):
        """Shape of h, (N, T, H), whose gradient the backward takes."""
        return self.h.shape

    def __repr__(self):
        return f"LSTMCache(x={self.x.shape}, h0={self.h0.shape}, dtype={self.x.dtype})"


@dataclass(frozen=True, repr=False)
class EmbeddingCache:
    """What ``word_embedding_backward`` needs: the word ids and the table's shape and dtype."""

    x: np.ndarray  # (N, T) integer word ids, each in [0, V)
    W_shape: tuple  # (V, D)
    dtype: np.dtype

    def __repr__(self):
        return f"EmbeddingCache(x={self.x.shape}, W_shape={self.W_shape}, dtype={self.dtype})"


@dataclass(frozen=True, repr=False)
class TemporalAffineCache:
    """What ``temporal_affine_backward`` needs."""

    x: np.ndarray  # (N, T, D)
    w: np.ndarray  # (D, M)
    b: np.ndarray  # (M,)
    out_shape: tuple  # (N, T, M)

    def __repr__(self):
        return f"TemporalAffineCache(x={self.x.shape}, w={self.w.shape}, dtype={self.x.dtype})"


# --- activations and dropout ------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ActivationCache:
    """What an activation's (or dropout's, or maxout's) backward needs.

    ``producer`` names the forward function (``relu_forward``, ...), ``out_shape`` is the shape
    ``dout`` must have, ``dtype`` the compute dtype and ``saved`` the arrays and numbers kept
    (contiguous, in ``dtype``): ``x`` or the output ``out``, slopes, dropout's mask key, ...
    ``cs231n_fast.ops.activations`` and ``cs231n_fast.reference.activations`` make the same
    caches, so either backward accepts either's cache.
    """

    producer: str
    out_shape: tuple
    dtype: np.dtype
    saved: dict

    def __repr__(self):
        return f"ActivationCache({self.producer}, out_shape={self.out_shape}, dtype={self.dtype})"


# --- affine -----------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class AffineCache:
    """What an affine (or fused affine + ReLU) backward needs.

    ``x`` is the (N, D) matrix view of the input (contiguous, compute dtype) and ``x_shape``
    the input's own shape (N, d_1, ..., d_k), the shape of ``dx``. ``act`` is the fused ReLU's
    output (its mask is ``act > 0``), None for a plain affine layer; ``producer`` names the
    forward that made the cache.
    """

    x: np.ndarray  # (N, D)
    w: np.ndarray  # (D, M)
    b: np.ndarray  # (M,)
    x_shape: tuple  # (N, d_1, ..., d_k)
    act: object  # (N, M) ndarray or None
    producer: str
    out_shape: tuple  # (N, M)

    def __repr__(self):
        return (
            f"AffineCache({self.producer}, x={self.x_shape}, w={self.w.shape}, "
            f"dtype={self.x.dtype})"
        )
# --- normalisation layers ---------------------------------------------------------------------


@dataclass(frozen=True, repr=False, slots=True)
class NormCache:
    """What a normalisation backward needs (``ops.norm`` and ``reference.norm``).

    ``kind`` is the forward's name ("batchnorm", "spatial_batchnorm", "layernorm",
    "spatial_groupnorm"); ``x`` its input (contiguous, compute dtype); ``mean`` and ``ivar`` the
    statistics it normalised with, ``ivar = 1 / sqrt(var + eps)`` (per feature or channel for
    batch normalisation, per row for layer normalisation, (N * G,) per group for group
    normalisation). ``xhat = (x - mean) * ivar`` is recomputed by the backward, not stored.
    ``batch_stats`` is false for batch normalisation in test mode (the statistics are then
    constants). ``groups`` is G (group normalisation) or 0.
    """

    kind: str
    x: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    ivar: np.ndarray
    eps: float
    batch_stats: bool
    groups: int
    out_shape: tuple

    def __repr__(self):
        return f"NormCache({self.kind}, x={self.x.shape}, dtype={self.x.dtype})"


@dataclass(frozen=True, repr=False)
class ConvTransposeCache:
    """What a transposed-convolution backward needs: inputs (contiguous, compute dtype) and
    geometry. ``w`` has shape (C_in, C_out, HH, WW), as torch's ``ConvTranspose2d``."""

    x: np.ndarray  # (N, C_in, H, W)
    w: np.ndarray  # (C_in, C_out, HH, WW)
    b: np.ndarray  # (C_out,)
    stride: tuple  # (sh, sw)
    pad: tuple  # (ph, pw)
    output_padding: tuple  # (oph, opw)
    out_shape: tuple  # (N, C_out, OH, OW)

    def __repr__(self):
        return (
            f"ConvTransposeCache(x={self.x.shape}, w={self.w.shape}, stride={self.stride}, "
            f"pad={self.pad}, output_padding={self.output_padding}, "
            f"out_shape={self.out_shape}, dtype={self.x.dtype})"
        )
