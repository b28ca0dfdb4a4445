"""Drop-in for the course's ``cs231n/classifiers/cnn.py`` (assignment 2).

Same class name, constructor arguments and defaults, parameter names and initialisation, and
the same ``loss(X, y=None)`` as the course's ``ThreeLayerConvNet``, so the ``Solver`` and the
notebook run unchanged. The convolution and the pooling run on the compiled kernels (through
:func:`cs231n_fast.layer_utils.conv_relu_pool_forward`); as with the course's file,
``from cs231n_fast.classifiers.cnn import *`` also gives every layer. Differences, all in the
user's favour:

* keyword-only ``seed`` makes the initialisation reproducible without touching NumPy's global
  random state (the weights are those the course's code draws after ``np.random.seed(seed)``);
* keyword-only ``backend="reference"`` runs the same network on the NumPy twin
  (:mod:`cs231n_fast.reference`) instead of the compiled kernels, for speed comparisons;
* constructor arguments are checked (``ValueError``/``TypeError`` naming them): ``input_dim``
  must be three ints ``(C, H, W)`` with H, W >= 2 (for the 2x2 pool), ``filter_size`` an odd
  int (so that the padding keeps the input's size, which the course assumes);
* ``loss`` checks ``X`` against ``input_dim`` and ``y`` against ``num_classes`` before any
  computation;
* a float32 model computes in float32 throughout (``X`` is cast to the model's dtype) and
  returns float32 scores and gradients; the loss is a Python float.

The fast kernels' thread count is not a parameter here (``fast_layers`` takes none); set it
with ``OMP_NUM_THREADS`` or threadpoolctl.
"""

import numpy as np

from .. import _validation as v
from .. import layer_utils
from ..layer_utils import *  # noqa: F403  (re-exported, as the course's module does)
from ..layer_utils import (
    _KERNELS,
    _affine_relu_backward,
    _conv_relu_pool_backward,
    _conv_relu_pool_forward,
    affine_forward,
    affine_relu_forward,
    softmax_loss,
)
from .._model import float_dtype, hyperparameters, l2_penalty, labels, weight_source
from ..layers import _affine_backward
from .._threads import holds_blas_single_thread

__all__ = ["ThreeLayerConvNet"] + layer_utils.__all__


def _input_dim(input_dim):
    """``input_dim`` as a tuple ``(C, H, W)`` of ints, C >= 1 and H, W >= 2."""
    msg = f"input_dim must be a tuple (C, H, W) of 3 ints, C >= 1 and H, W >= 2; got {input_dim!r}"
    if isinstance(input_dim, (str, bytes)) or not hasattr(input_dim, "__len__"):
        raise TypeError(msg)
    if len(input_dim) != 3:
        raise ValueError(msg)
    c, h, w = (v.positive_int("input_dim", d) for d in input_dim)
    if h < 2 or w < 2:
        raise ValueError(msg)
    return c, h, w


class ThreeLayerConvNet:
    """A three-layer convolutional network with the following architecture::

        conv - relu - 2x2 max pool - affine - relu - affine - softmax

    The network operates on minibatches of data that have shape (N, C, H, W) consisting of N
    images, each with height H and width W and with C input channels. The convolution has
    stride 1 and zero padding ``(filter_size - 1) // 2``, which preserves the input's spatial
    size; the pool has stride 2, so the hidden affine layer sees
    ``num_filters * (H // 2) * (W // 2)`` values per image.

    Parameters
    ----------
    input_dim : tuple of 3 ints, default (3, 32, 32)
        Tuple (C, H, W) giving size of input data; H, W >= 2.
    num_filters : int, default 32
        Number of filters to use in the convolutional layer.
    filter_size : int, default 7
        Width/height of filters to use in the convolutional layer; odd.
    hidden_dim : int, default 100
        Number of units to use in the fully-connected hidden layer.
    num_classes : int, default 10
        Number of scores to produce from the final affine layer.
    weight_scale : float, default 1e-3
        Scalar giving standard deviation for random initialization of weights.
    reg : float, default 0.0
        Scalar giving L2 regularization strength.
    dtype : np.float32 or np.float64
        numpy datatype to use for computation (other floating dtypes, such as float16, are
        taken too: the parameters are stored in it and computed with in float64).
    seed : None or int in [0, 2**32 - 1], keyword-only
        Draw the initial weights from ``np.random.RandomState(seed)`` instead of NumPy's
        global state.
    backend : {"fast", "reference"}, keyword-only
        "fast" (default): the compiled convolution and pooling kernels of
        :mod:`cs231n_fast.fast_layers`; "reference": the NumPy twin, same results up to
        rounding, much slower.

    Attributes
    ----------
    params : dict
        ``W1`` (F, C, filter_size, filter_size), ``W2`` (F * (H // 2) * (W // 2), hidden_dim)
        and ``W3`` (hidden_dim, num_classes) drawn from a Gaussian of standard deviation
        ``weight_scale``; ``b1`` (F,), ``b2`` (hidden_dim,), ``b3`` (num_classes,) zero; all
        of ``dtype``.
    reg, dtype
    input_dim : tuple (C, H, W)
    backend : str

    Raises
    ------
    ValueError
        For a bad ``input_dim``, an even ``filter_size``, a dimension < 1, a non-finite
        ``weight_scale``, a negative or non-finite ``reg``, a bad ``seed`` or an unknown ``backend``.
    TypeError
        For non-integer dimensions or ``seed``, or a ``dtype`` that is not floating.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32, *, seed=None,
                 backend="fast"):
        C, H, W = _input_dim(input_dim)
        F = v.positive_int("num_filters", num_filters)
        fs = v.positive_int("filter_size", filter_size)
        if fs % 2 == 0:
            raise ValueError(
                f"filter_size must be odd, so that padding (filter_size - 1) // 2 preserves the "
                f"input size; got {fs}"
            )
        hidden = v.positive_int("hidden_dim", hidden_dim)
        classes = v.positive_int("num_classes", num_classes)
        weight_scale, reg = hyperparameters(weight_scale, reg)
        dtype = float_dtype(dtype, any_float=True)
        if not (isinstance(backend, str) and backend in _KERNELS):
            raise ValueError(f"backend must be one of {sorted(_KERNELS)}; got {backend!r}")
        source = weight_source(seed)

        self.params = {}
        self.reg = reg
        self.dtype = dtype
        self.input_dim = (C, H, W)
        self.backend = backend

        self.params["W1"] = weight_scale * source.randn(F, C, fs, fs)
        self.params["b1"] = np.zeros(F)
        self.params["W2"] = weight_scale * source.randn(F * (H // 2) * (W // 2), hidden)
        self.params["b2"] = np.zeros(hidden)
        self.params["W3"] = weight_scale * source.randn(hidden, classes)
        self.params["b3"] = np.zeros(classes)

        for k, val in self.params.items():
            self.params[k] = val.astype(dtype)

    def _images(self, X):
        X = v.as_array("X", X)
        if X.ndim != 4 or X.shape[0] == 0 or X.shape[1:] != self.input_dim:
            raise ValueError(
                f"X must have shape (N, C, H, W) with N >= 1 and (C, H, W) = input_dim = "
                f"{self.input_dim}; got shape {X.shape}"
            )
        return X.astype(self.dtype, copy=False)

    @holds_blas_single_thread(lambda self: self.backend == "fast")
    def loss(self, X, y=None):
        """Evaluate loss and gradient for the three-layer convolutional network.

        Input / output: Same API as TwoLayerNet in fc_net.py. With the fast backend, NumPy's
        products (the affine layers) run on one BLAS thread beside the kernels' threads (see
        :func:`cs231n_fast.blas_single_thread`).

        Parameters
        ----------
        X : array_like of shape (N, C, H, W)
            Input images, (C, H, W) = input_dim; cast to the model's dtype.
        y : array_like of int, shape (N,), optional
            Labels in [0, num_classes).

        Returns
        -------
        scores : ndarray of shape (N, num_classes)
            If y is None.
        (loss, grads) : (float, dict)
            If y is given: the softmax loss plus ``0.5 * reg * sum(W ** 2)`` over W1, W2 and
            W3, and the gradients of the loss, with the keys of self.params.

        Raises
        ------
        ValueError, TypeError
            If ``X`` does not have the shape ``(N, *input_dim)`` or ``y`` is not N labels in
            [0, num_classes).
        """
        p = self.params
        X = self._images(X)
        if y is not None:
            y = labels(y, X.shape[0], p["W3"].shape[1])
        kernels = _KERNELS[self.backend]

        # pass conv_param to the forward pass for the convolutional layer
        # Padding and stride chosen to preserve the input spatial size
        filter_size = p["W1"].shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}

        # pass pool_param to the forward pass for the max-pooling layer
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        out1, cache1 = _conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param, kernels)
        out2, cache2 = affine_relu_forward(out1, p["W2"], p["b2"])
        scores, cache3 = affine_forward(out2, p["W3"], p["b3"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        # The L2 term's gradient is added to dW3 and dW2 in the affine kernel's pass and to dW1
        # in one pass over it; the images' gradient is not computed.
        reg = self.reg
        dout2, grads["W3"], grads["b3"], sq3 = _affine_backward(dscores, cache3, True, reg)
        dout1, grads["W2"], grads["b2"], sq2 = _affine_relu_backward(dout2, cache2, True, reg)
        _, grads["W1"], grads["b1"] = _conv_relu_pool_backward(dout1, cache1, kernels, need_dx=False)
        pen1 = l2_penalty(reg, p, grads, ("W1",), inplace=True)
        loss += (pen1 + 0.5 * reg * sq2) + 0.5 * reg * sq3  # W1, W2, W3 in order, as before
        return loss, {k: grads[k] for k in p}
