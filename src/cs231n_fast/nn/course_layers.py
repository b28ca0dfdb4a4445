"""Layer classes over the course's functional layers (:mod:`cs231n_fast.layers`).

One class per forward/backward pair of ``layers.py``: :class:`Affine`, the activations
(:class:`ReLU`, :class:`Sigmoid`, :class:`Tanh`, :class:`LeakyReLU`, :class:`PReLU`,
:class:`ELU`, :class:`Maxout`), the normalisations (:class:`BatchNorm`, :class:`LayerNorm`,
:class:`SpatialBatchNorm`, :class:`SpatialGroupNorm`), :class:`Dropout`, and :class:`Flatten`.
They compose into a :class:`~cs231n_fast.nn.Sequential` model that the course's ``Solver``
trains.

The same pattern as :mod:`cs231n_fast.nn.layers`: hyperparameters checked in ``__init__``,
parameters in ``params`` (keys ``"W"``, ``"b"``, ``"gamma"``, ``"beta"``, ``"alpha"``), their
gradients in ``grads`` (same keys, filled by ``backward``), ``backward`` before ``forward``
raises. Each forward and backward is one call of the functional layer, so the numbers, the
validation of ``x`` and ``dout`` and the dtype policy (float32 in, float32 out) are those of
:mod:`cs231n_fast.layers`; the computation is vectorised NumPy (no kernel backend, no threads).

Every layer has a mode: ``training`` is True after construction and after :meth:`train`, False
after :meth:`eval`. Only :class:`Dropout` and the batch normalisations behave differently
(train: drop units, batch statistics and running-average updates; eval: identity, running
statistics).
"""

import math

import numpy as np

from .. import init, layers
from .._validation import as_array, check_shape, positive_int, real_number, result_dtype
from .layers import _Layer, _TrainEval
from .._model import float_dtype

__all__ = [
    "Affine",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Maxout",
    "BatchNorm",
    "LayerNorm",
    "SpatialBatchNorm",
    "SpatialGroupNorm",
    "Dropout",
    "Flatten",
]


def _weights(shape, fan_in, weight_scale, dtype, seed):
    """He-normal weights (``std = sqrt(2 / fan_in)``), or ``N(0, weight_scale**2)`` if given."""
    if weight_scale is None:
        return init.he_normal(shape, fan_in=fan_in, dtype=dtype, seed=seed)
    return init.small_random(shape, weight_scale, dtype=dtype, seed=seed)


def _scale_shift(shape, dtype):
    """Normalisation parameters: ``gamma`` ones, ``beta`` zeros (the course's initialisation)."""
    return {"gamma": np.ones(shape, dtype=dtype), "beta": np.zeros(shape, dtype=dtype)}


def _eps(eps):
    return real_number("eps", eps, 0.0, low_open=True)


class _CourseLayer(_TrainEval, _Layer):
    """A layer over one forward/backward pair of :mod:`cs231n_fast.layers`.

    Subclasses set ``_forward``/``_backward`` and, when the forward takes more than ``x`` and
    the parameters (in ``params`` order), override :meth:`_args`. The backward's gradients
    after ``dx`` are those of ``params``, in order.
    """

    _forward = _backward = None
    _backends = {"fast": None}  # the functional layers: one implementation, no threads
    _runs_kernels = False

    def __init__(self):
        super().__init__("fast", None)
        self.training = True

    @property
    def _mode(self):
        """The course's ``mode`` for the current mode: 'train' or 'test'."""
        return "train" if self.training else "test"

    def _args(self):
        """The forward's arguments after ``x``."""
        return tuple(self.params.values())

    def forward(self, x):
        """x -> out; see the class docstring for the shapes."""
        out, self._cache = self._forward(x, *self._args())
        return out

    def backward(self, dout):
        """dout (of the forward output's shape) -> dx; fills ``grads``."""
        result = self._backward(dout, self._take_cache())
        if not self.params:
            return result
        dx, *dparams = result
        self.grads.update(zip(self.params, dparams))
        return dx

    def _describe(self):
        """The arguments shown by ``repr``."""
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self._describe()})"


class Affine(_CourseLayer):
    """Fully connected layer: ``x.reshape(N, D) @ W + b`` (``affine_forward``).

    Parameters
    ----------
    in_features, out_features : int
        D (the size of one example, ``d_1 * ... * d_k``) and M.
    weight_scale : float, optional
        Standard deviation of the Gaussian initial weights; default He, ``sqrt(2 / D)``.
    dtype : numpy dtype, default float32
    seed : int or numpy Generator, optional

    Attributes
    ----------
    params : dict with ``"W"`` of shape (D, M) and ``"b"`` of shape (M,) (zeros)
    grads : dict with the same keys, set by :meth:`backward`

    Inputs of shape (N, d_1, ..., d_k) are flattened to (N, D); ``backward`` returns ``dx`` of
    the input's shape.
    """

    _forward = staticmethod(layers.affine_forward)
    _backward = staticmethod(layers.affine_backward)

    def __init__(self, in_features, out_features, *, weight_scale=None, dtype=np.float32, seed=None):
        super().__init__()
        d = positive_int("in_features", in_features)
        m = positive_int("out_features", out_features)
        dtype = float_dtype(dtype)
        self.params = {
            "W": _weights((d, m), d, weight_scale, dtype, seed),
            "b": np.zeros(m, dtype=dtype),
        }
        self.grads = {"W": None, "b": None}

    def _backward_no_dx(self, dout):
        """:meth:`backward` without the input gradient (a model's first layer): fills
        ``grads``, returns None."""
        _, self.grads["W"], self.grads["b"], _ = layers._affine_backward(
            dout, self._take_cache(), need_dx=False
        )

    def _describe(self):
        d, m = self.params["W"].shape
        return f"{d}, {m}, dtype={self.params['W'].dtype}"


class ReLU(_CourseLayer):
    """Rectified linear unit ``max(0, x)``, elementwise (``relu_forward``)."""

    _forward = staticmethod(layers.relu_forward)
    _backward = staticmethod(layers.relu_backward)


class Sigmoid(_CourseLayer):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, elementwise (``sigmoid_forward``)."""

    _forward = staticmethod(layers.sigmoid_forward)
    _backward = staticmethod(layers.sigmoid_backward)


class Tanh(_CourseLayer):
    """Hyperbolic tangent, elementwise (``tanh_forward``)."""

    _forward = staticmethod(layers.tanh_forward)
    _backward = staticmethod(layers.tanh_backward)


class _FixedSlope(_CourseLayer):
    """An activation with a fixed hyperparameter ``alpha`` (not learned)."""

    def __init__(self, alpha):
        super().__init__()
        self.alpha = real_number("alpha", alpha)

    def _args(self):
        return (self.alpha,)

    def _describe(self):
        return f"alpha={self.alpha}"


class LeakyReLU(_FixedSlope):
    """Leaky ReLU: ``x`` where ``x > 0``, else ``alpha * x`` (``leaky_relu_forward``).

    Parameters
    ----------
    alpha : float, default 0.01
        The fixed slope for negative inputs.
    """

    _forward = staticmethod(layers.leaky_relu_forward)
    _backward = staticmethod(layers.leaky_relu_backward)

    def __init__(self, alpha=0.01):
        super().__init__(alpha)


class ELU(_FixedSlope):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``
    (``elu_forward``).

    Parameters
    ----------
    alpha : float, default 1.0
        Negative inputs saturate at ``-alpha``.
    """

    _forward = staticmethod(layers.elu_forward)
    _backward = staticmethod(layers.elu_backward)

    def __init__(self, alpha=1.0):
        super().__init__(alpha)


class PReLU(_CourseLayer):
    """Parametric ReLU: ``x`` where ``x > 0``, else ``alpha * x`` with a learned ``alpha``
    (``prelu_forward``).

    Parameters
    ----------
    num_channels : int, optional
        C: one slope per channel (axis 1 of the input). Default: one slope for every element.
    init : float, default 0.25
        The initial slope (He et al., 2015).
    dtype : numpy dtype, default float32

    Attributes
    ----------
    params : dict with ``"alpha"`` of shape (C,) or ()
    grads : dict with the same key, set by :meth:`backward`
    """

    _forward = staticmethod(layers.prelu_forward)
    _backward = staticmethod(layers.prelu_backward)

    def __init__(self, num_channels=None, init=0.25, *, dtype=np.float32):
        super().__init__()
        shape = () if num_channels is None else (positive_int("num_channels", num_channels),)
        self.params = {"alpha": np.full(shape, real_number("init", init), dtype=float_dtype(dtype))}
        self.grads = {"alpha": None}

    def _describe(self):
        alpha = self.params["alpha"]
        channels = f"{alpha.shape[0]}, " if alpha.ndim else ""
        return f"{channels}dtype={alpha.dtype}"


class Maxout(_CourseLayer):
    """Maxout of K affine pieces: ``max_k(x.reshape(N, D) @ W[k] + b[k])`` (``maxout_forward``).

    Parameters
    ----------
    in_features, out_features : int
        D (the size of one example) and M.
    pieces : int, default 2
        K.
    weight_scale : float, optional
        Standard deviation of the Gaussian initial weights; default He, ``sqrt(2 / D)``.
    dtype : numpy dtype, default float32
    seed : int or numpy Generator, optional

    Attributes
    ----------
    params : dict with ``"W"`` of shape (K, D, M) and ``"b"`` of shape (K, M) (zeros)
    grads : dict with the same keys, set by :meth:`backward`
    """

    _forward = staticmethod(layers.maxout_forward)
    _backward = staticmethod(layers.maxout_backward)

    def __init__(self, in_features, out_features, pieces=2, *, weight_scale=None, dtype=np.float32,
                 seed=None):
        super().__init__()
        d = positive_int("in_features", in_features)
        m = positive_int("out_features", out_features)
        k = positive_int("pieces", pieces)
        dtype = float_dtype(dtype)
        self.params = {
            "W": _weights((k, d, m), d, weight_scale, dtype, seed),
            "b": np.zeros((k, m), dtype=dtype),
        }
        self.grads = {"W": None, "b": None}

    def _describe(self):
        k, d, m = self.params["W"].shape
        return f"{d}, {m}, pieces={k}, dtype={self.params['W'].dtype}"


class _BatchNormBase(_CourseLayer):
    """Batch normalisation over a course ``bn_param`` dict holding the running statistics."""

    def __init__(self, size_name, size, eps, momentum, dtype):
        super().__init__()
        c = positive_int(size_name, size)
        dtype = float_dtype(dtype)
        self.params = _scale_shift(c, dtype)
        self.grads = {"gamma": None, "beta": None}
        self.bn_param = {
            "eps": _eps(eps),
            "momentum": real_number("momentum", momentum, 0.0, 1.0),
            "running_mean": np.zeros(c, dtype=dtype),
            "running_var": np.zeros(c, dtype=dtype),
        }

    def _args(self):
        self.bn_param["mode"] = self._mode
        return (self.params["gamma"], self.params["beta"], self.bn_param)

    @property
    def buffers(self):
        """The running statistics, ``{"running_mean": ..., "running_var": ...}`` (live arrays,
        saved and loaded with the model's parameters)."""
        return {key: self.bn_param[key] for key in ("running_mean", "running_var")}

    @property
    def running_mean(self):
        """The running mean of each feature (channel), updated by forwards in training mode."""
        return self.bn_param["running_mean"]

    @property
    def running_var(self):
        """The running variance of each feature (channel)."""
        return self.bn_param["running_var"]

    def _describe(self):
        gamma = self.params["gamma"]
        return (
            f"{gamma.shape[0]}, eps={self.bn_param['eps']}, momentum={self.bn_param['momentum']}, "
            f"dtype={gamma.dtype}"
        )


class BatchNorm(_BatchNormBase):
    """Batch normalisation of (N, D) inputs (``batchnorm_forward``, ``batchnorm_backward_alt``).

    Training mode normalises with the batch statistics and updates the running averages
    (``running = momentum * running + (1 - momentum) * batch``); evaluation mode normalises
    with the running averages.

    Parameters
    ----------
    num_features : int
        D.
    eps : float, default 1e-5
        Added to the variance, > 0.
    momentum : float, default 0.9
        Of the running averages, in [0, 1].
    dtype : numpy dtype, default float32

    Attributes
    ----------
    params : dict with ``"gamma"`` (D,) (ones) and ``"beta"`` (D,) (zeros)
    grads : dict with the same keys, set by :meth:`backward`
    bn_param : dict
        The course's ``bn_param``: ``eps``, ``momentum``, ``mode``, ``running_mean``,
        ``running_var`` (zeros at first; also the properties of the same names).
    """

    _forward = staticmethod(layers.batchnorm_forward)
    _backward = staticmethod(layers.batchnorm_backward_alt)

    def __init__(self, num_features, eps=1e-5, momentum=0.9, *, dtype=np.float32):
        super().__init__("num_features", num_features, eps, momentum, dtype)


class SpatialBatchNorm(_BatchNormBase):
    """Batch normalisation of each channel of (N, C, H, W) inputs over its N * H * W values
    (``spatial_batchnorm_forward``).

    Parameters, attributes and modes as :class:`BatchNorm`, with ``num_channels`` C in place of
    D.
    """

    _forward = staticmethod(layers.spatial_batchnorm_forward)
    _backward = staticmethod(layers.spatial_batchnorm_backward)

    def __init__(self, num_channels, eps=1e-5, momentum=0.9, *, dtype=np.float32):
        super().__init__("num_channels", num_channels, eps, momentum, dtype)


class LayerNorm(_CourseLayer):
    """Layer normalisation of each example of (N, D) inputs (``layernorm_forward``).

    The same in both modes.

    Parameters
    ----------
    num_features : int
        D.
    eps : float, default 1e-5
    dtype : numpy dtype, default float32

    Attributes
    ----------
    params : dict with ``"gamma"`` (D,) (ones) and ``"beta"`` (D,) (zeros)
    grads : dict with the same keys, set by :meth:`backward`
    """

    _forward = staticmethod(layers.layernorm_forward)
    _backward = staticmethod(layers.layernorm_backward)

    def __init__(self, num_features, eps=1e-5, *, dtype=np.float32):
        super().__init__()
        self.params = _scale_shift(positive_int("num_features", num_features), float_dtype(dtype))
        self.grads = {"gamma": None, "beta": None}
        self.ln_param = {"eps": _eps(eps)}

    def _args(self):
        return (self.params["gamma"], self.params["beta"], self.ln_param)

    def _describe(self):
        gamma = self.params["gamma"]
        return f"{gamma.shape[0]}, eps={self.ln_param['eps']}, dtype={gamma.dtype}"


class SpatialGroupNorm(_CourseLayer):
    """Group normalisation of (N, C, H, W) inputs: each example's channels in G contiguous
    groups, each normalised over its values (``spatial_groupnorm_forward``).

    The same in both modes.

    Parameters
    ----------
    num_channels : int
        C.
    groups : int
        G, a divisor of C.
    eps : float, default 1e-5
    dtype : numpy dtype, default float32

    Attributes
    ----------
    params : dict with ``"gamma"`` (1, C, 1, 1) (ones) and ``"beta"`` (1, C, 1, 1) (zeros),
        the course's shapes
    grads : dict with the same keys, set by :meth:`backward`
    """

    _forward = staticmethod(layers.spatial_groupnorm_forward)
    _backward = staticmethod(layers.spatial_groupnorm_backward)

    def __init__(self, num_channels, groups, eps=1e-5, *, dtype=np.float32):
        super().__init__()
        c = positive_int("num_channels", num_channels)
        self.groups = positive_int("groups", groups)
        if c % self.groups:
            raise ValueError(f"groups must divide num_channels = {c}; got groups = {self.groups}")
        self.params = _scale_shift((1, c, 1, 1), float_dtype(dtype))
        self.grads = {"gamma": None, "beta": None}
        self.gn_param = {"eps": _eps(eps)}

    def _args(self):
        return (self.params["gamma"], self.params["beta"], self.groups, self.gn_param)

    def _describe(self):
        gamma = self.params["gamma"]
        eps = self.gn_param["eps"]
        return f"{gamma.shape[1]}, groups={self.groups}, eps={eps}, dtype={gamma.dtype}"


class Dropout(_CourseLayer):
    """Inverted dropout (``dropout_forward``): in training mode each unit is kept with
    probability ``keep_prob`` and scaled by ``1 / keep_prob``; in evaluation mode the identity.

    Parameters
    ----------
    keep_prob : float, default 0.5
        The course's ``p``, the probability of keeping a unit, in (0, 1].
    seed : int, optional
        The course's ``dropout_param['seed']``: every forward then uses the same mask, which
        gradient checks need and real training does not. Default: masks from NumPy's global
        random state (``np.random.seed`` makes a run reproducible).

    Attributes
    ----------
    dropout_param : dict
        The course's ``dropout_param``: ``p``, ``mode`` and (if given) ``seed``.
    """

    _forward = staticmethod(layers.dropout_forward)
    _backward = staticmethod(layers.dropout_backward)

    def __init__(self, keep_prob=0.5, seed=None):
        super().__init__()
        self.dropout_param = {"p": real_number("keep_prob", keep_prob, 0.0, 1.0, low_open=True)}
        if seed is not None:
            seed = positive_int("seed", seed, minimum=0)
            if seed >= 2**32:
                raise ValueError(f"seed must be None or an int in [0, 2**32 - 1]; got {seed}")
            self.dropout_param["seed"] = seed

    def _args(self):
        self.dropout_param["mode"] = self._mode
        return (self.dropout_param,)

    def _describe(self):
        seed = self.dropout_param.get("seed")
        return f"keep_prob={self.dropout_param['p']}" + ("" if seed is None else f", seed={seed}")


class Flatten(_CourseLayer):
    """(N, d_1, ..., d_k) -> (N, d_1 * ... * d_k), e.g. between convolutions and an
    :class:`Affine` that should see the features as a matrix. No parameters.

    Outputs are fresh arrays in the dtype policy (float32 stays float32, others float64).
    """

    def forward(self, x):
        """x of shape (N, d_1, ..., d_k), k >= 1 -> out of shape (N, D)."""
        x = as_array("x", x)
        if x.ndim < 2:
            raise ValueError(f"x must have shape (N, d_1, ..., d_k) with k >= 1; got shape {x.shape}")
        out = np.array(x.reshape(x.shape[0], -1), dtype=result_dtype(x))
        self._cache = (x.shape, out.dtype)
        return out

    def backward(self, dout):
        """dout of shape (N, D) -> dx of the forward input's shape."""
        shape, dtype = self._take_cache()
        dout = as_array("dout", dout)
        check_shape("dout", dout, (shape[0], math.prod(shape[1:])), "the shape of the forward output")
        # the dtype policy: float32 only if the forward ran in float32 and dout is float32
        return np.array(dout.reshape(shape), dtype=dtype if dout.dtype == dtype else np.float64)
