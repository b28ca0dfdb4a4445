"""Layer classes: one responsibility each, as small as micrograd's ``nn.py``.

A layer holds its hyperparameters (checked in ``__init__``), its parameters in ``params`` and
their gradients in ``grads`` (same keys, filled by ``backward``). ``backend="fast"`` runs the
compiled kernels of :mod:`cs231n_fast.ops`; ``backend="reference"`` runs the NumPy twin.
"""

import numpy as np

from .. import ops, reference
from .._threads import effective_n_threads
from .._validation import pair, positive_int

__all__ = ["Conv2D", "ConvTranspose2D", "ConvTranspose2d", "MaxPool2D"]

class _Cached:
    """What every layer (and container) shares: ``layer(x)`` is ``layer.forward(x)``, and the
    backward takes the cache its forward left in ``_cache`` (None before the first forward)."""

    def _take_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def __call__(self, x):
        return self.forward(x)


class _TrainEval:
    """``train()``/``eval()`` of a layer with no children: set ``training``, return the
    layer."""

    def train(self):
        """Switch to training mode; returns the layer."""
        self.training = True
        return self

    def eval(self):
        """Switch to evaluation (test) mode; returns the layer."""
        self.training = False
        return self


class _Layer(_Cached):
    #: backend name -> the module of functions it runs (a class table, so that layers hold
    #: only the name and pickle, e.g. in a Solver checkpoint).
    _backends = {"fast": ops, "reference": reference}
    #: True for the layers whose "fast" backend runs the compiled, multi-threaded kernels.
    _runs_kernels = True
    #: False freezes the layer in a Sequential: its parameters are not trained and it runs in
    #: evaluation mode (see :mod:`cs231n_fast.nn.sequential`).
    trainable = True

    @property
    def runs_kernels(self):
        """True when this layer's forward and backward run the compiled kernels."""
        return self._runs_kernels and self.backend == "fast"

    def __init__(self, backend, n_threads):
        if backend not in self._backends:
            raise ValueError(f"backend must be one of {sorted(self._backends)}; got {backend!r}")
        self.backend = backend
        if n_threads is not None:
            effective_n_threads(n_threads)  # validate now, not at the first call
        self.n_threads = n_threads
        self.params = {}
        self.grads = {}
        self._cache = None

    @property
    def _ops(self):
        return self._backends[self.backend]


class Conv2D(_Layer):
    """2-D convolution (cross-correlation) with bias.

    Parameters
    ----------
    in_channels, out_channels : int
        C and F.
    kernel_size : int or (int, int)
        Filter height and width.
    stride, pad : int or (int, int), default 1 and 0
    weight_scale : float, optional
        Standard deviation of the Gaussian initial weights; default He, ``sqrt(2 / fan_in)``.
    dtype : numpy dtype, default float32
    seed : int or numpy Generator, optional
    backend : {"fast", "reference"}
    n_threads : int, optional
        Passed to the kernels.

    Attributes
    ----------
    params : dict with ``"w"`` of shape (F, C, HH, WW) and ``"b"`` of shape (F,)
    grads : dict with the same keys, set by :meth:`backward`
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0, *,
                 weight_scale=None, dtype=np.float32, seed=None, backend="fast", n_threads=None):
        super().__init__(backend, n_threads)
        c = positive_int("in_channels", in_channels)
        f = positive_int("out_channels", out_channels)
        kh, kw = pair("kernel_size", kernel_size, 1)
        self.stride = pair("stride", stride, 1)
        self.pad = pair("pad", pad, 0)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64; got {dtype}")
        if weight_scale is None:
            weight_scale = np.sqrt(2.0 / (c * kh * kw))
        rng = np.random.default_rng(seed)
        self.params = {
            "w": (weight_scale * rng.standard_normal((f, c, kh, kw))).astype(dtype),
            "b": np.zeros(f, dtype=dtype),
        }
        self.grads = {"w": None, "b": None}

    def forward(self, x):
        """x of shape (N, C, H, W) -> out of shape (N, F, OH, OW)."""
        out, self._cache = self._ops.conv_forward(
            x, self.params["w"], self.params["b"], self.stride, self.pad, n_threads=self.n_threads
        )
        return out

    def backward(self, dout):
        """dout of shape (N, F, OH, OW) -> dx; fills ``grads["w"]`` and ``grads["b"]``."""
        dx, dw, db = self._ops.conv_backward(dout, self._take_cache(), n_threads=self.n_threads)
        self.grads["w"], self.grads["b"] = dw, db
        return dx

    def _backward_no_dx(self, dout):
        """:meth:`backward` without the input gradient (a model's first layer): fills
        ``grads``, returns None."""
        from .._model import conv_backward_no_dx

        self.grads["w"], self.grads["b"] = conv_backward_no_dx(
            dout, self._take_cache(), self.backend, self.n_threads
        )

    def __repr__(self):
        f, c, kh, kw = self.params["w"].shape
        return (
            f"Conv2D({c}, {f}, kernel_size=({kh}, {kw}), stride={self.stride}, pad={self.pad}, "
            f"dtype={self.params['w'].dtype}, backend={self.backend!r})"
        )


class ConvTranspose2D(_Layer):
    """2-D transposed convolution with bias (torch's ``ConvTranspose2d``): upsamples by the
    stride, as in a DCGAN generator.

    Parameters
    ----------
    in_channels, out_channels : int
        C_in and C_out.
    kernel_size : int or (int, int)
        Filter height and width.
    stride, pad, output_padding : int or (int, int), default 1, 0 and 0
        As in :func:`cs231n_fast.ops.conv_transpose_forward`: the output has
        ``(H - 1) * stride - 2 * pad + kernel_size + output_padding`` rows.
    weight_scale : float, optional
        Standard deviation of the Gaussian initial weights; default
        ``sqrt(2 / (C_in * HH * WW / (sh * sw)))`` (He, counting the inputs that reach one
        output pixel).
    dtype : numpy dtype, default float32
    seed : int or numpy Generator, optional
    backend : {"fast", "reference"}
    n_threads : int, optional
        Passed to the kernels.

    Attributes
    ----------
    params : dict with ``"w"`` of shape (C_in, C_out, HH, WW) and ``"b"`` of shape (C_out,)
    grads : dict with the same keys, set by :meth:`backward`

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.nn import ConvTranspose2D
    >>> up = ConvTranspose2D(8, 4, kernel_size=4, stride=2, pad=1, seed=0)
    >>> up.forward(np.zeros((2, 8, 4, 4), np.float32)).shape
    (2, 4, 8, 8)
    """

    #: Output channel ``f``'s incoming weights are ``w[:, f]`` (not ``w[f]`` as for a
    #: convolution): the axes of the Solver's ``max_norm`` (:mod:`cs231n_fast.regularization`).
    max_norm_axes = {"w": (0, 2, 3)}

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad=0,
                 output_padding=0, *, weight_scale=None, dtype=np.float32, seed=None,
                 backend="fast", n_threads=None):
        super().__init__(backend, n_threads)
        c = positive_int("in_channels", in_channels)
        f = positive_int("out_channels", out_channels)
        kh, kw = pair("kernel_size", kernel_size, 1)
        self.stride = pair("stride", stride, 1)
        self.pad = pair("pad", pad, 0)
        self.output_padding = pair("output_padding", output_padding, 0)
        if any(o >= s for o, s in zip(self.output_padding, self.stride)):
            raise ValueError(
                f"output_padding must be smaller than the stride {self.stride} on each axis; "
                f"got {self.output_padding}"
            )
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64; got {dtype}")
        if weight_scale is None:
            weight_scale = np.sqrt(2.0 * self.stride[0] * self.stride[1] / (c * kh * kw))
        rng = np.random.default_rng(seed)
        self.params = {
            "w": (weight_scale * rng.standard_normal((c, f, kh, kw))).astype(dtype),
            "b": np.zeros(f, dtype=dtype),
        }
        self.grads = {"w": None, "b": None}

    def forward(self, x):
        """x of shape (N, C_in, H, W) -> out of shape (N, C_out, OH, OW)."""
        out, self._cache = self._ops.conv_transpose_forward(
            x, self.params["w"], self.params["b"], self.stride, self.pad, self.output_padding,
            n_threads=self.n_threads,
        )
        return out

    def backward(self, dout):
        """dout of shape (N, C_out, OH, OW) -> dx; fills ``grads["w"]`` and ``grads["b"]``."""
        dx, dw, db = self._ops.conv_transpose_backward(dout, self._take_cache(),
                                                       n_threads=self.n_threads)
        self.grads["w"], self.grads["b"] = dw, db
        return dx

    def __repr__(self):
        c, f, kh, kw = self.params["w"].shape
        return (
            f"ConvTranspose2D({c}, {f}, kernel_size=({kh}, {kw}), stride={self.stride}, "
            f"pad={self.pad}, output_padding={self.output_padding}, "
            f"dtype={self.params['w'].dtype}, backend={self.backend!r})"
        )


#: torch's spelling of :class:`ConvTranspose2D`.
ConvTranspose2d = ConvTranspose2D


class MaxPool2D(_Layer):
    """Max pooling without padding; the gradient goes to each window's first maximum.

    Parameters
    ----------
    pool_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Default: the window size (non-overlapping windows).
    backend : {"fast", "reference"}
    n_threads : int, optional
    """

    def __init__(self, pool_size, stride=None, *, backend="fast", n_threads=None):
        super().__init__(backend, n_threads)
        self.pool_size = pair("pool_size", pool_size, 1)
        self.stride = self.pool_size if stride is None else pair("stride", stride, 1)

    def forward(self, x):
        """x of shape (N, C, H, W) -> out of shape (N, C, OH, OW)."""
        out, self._cache = self._ops.maxpool_forward(
            x, self.pool_size[0], self.pool_size[1], self.stride, n_threads=self.n_threads
        )
        return out

    def backward(self, dout):
        """dout of shape (N, C, OH, OW) -> dx of shape (N, C, H, W)."""
        return self._ops.maxpool_backward(dout, self._take_cache(), n_threads=self.n_threads)

    def __repr__(self):
        return f"MaxPool2D(pool_size={self.pool_size}, stride={self.stride}, backend={self.backend!r})"
