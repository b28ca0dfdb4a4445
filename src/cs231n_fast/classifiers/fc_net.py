"""Drop-in for the course's ``cs231n/classifiers/fc_net.py`` (assignments 1 and 2).

Same class names, constructor arguments and defaults, attributes (``params``, ``reg``,
``num_layers``, ``normalization``, ``use_dropout``, ``dropout_param``, ``bn_params``, ...),
parameter names and initialisation, and the same ``loss(X, y=None)`` as the course's
``TwoLayerNet`` and ``FullyConnectedNet``, so the ``Solver`` and the notebooks run unchanged.
The layers are those of :mod:`cs231n_fast.layers` and :mod:`cs231n_fast.layer_utils`; as with
the course's file, ``from cs231n_fast.classifiers.fc_net import *`` also gives every layer.
Differences, all in the user's favour:

* ``seed`` makes the initialisation reproducible without touching NumPy's global random state:
  the weights are then those the course's code draws after ``np.random.seed(seed)``. It is a
  keyword-only addition to ``TwoLayerNet``; ``FullyConnectedNet`` has the course's ``seed``
  (which seeds the dropout masks) and also draws its weights from it;
* constructor arguments are checked (``ValueError``/``TypeError`` naming them), among them an
  unknown ``normalization`` and a ``dropout_keep_ratio`` outside (0, 1];
* ``loss`` checks ``X`` against the first layer and ``y`` against the number of classes
  before any computation, and changes no state (dropout or batchnorm mode) when they are bad;
* a float32 model computes in float32 throughout (``X`` is cast to the model's dtype) and
  returns float32 scores and gradients; the loss is a Python float.
"""

import math

import numpy as np

from .. import _validation as v
from .. import layer_utils
from ..layer_utils import *  # noqa: F403  (re-exported, as the course's module does)
from .._model import float_dtype, hyperparameters, l2_sum, labels, weight_source
from .._threads import holds_blas_single_thread
from ..layer_utils import (
    _affine_bn_relu_backward,
    _affine_ln_relu_backward,
    _affine_relu_backward,
)
from ..layers import _affine_backward
from ..layer_utils import (
    affine_bn_relu_forward,
    affine_forward,
    affine_ln_relu_forward,
    affine_relu_forward,
    dropout_backward,
    dropout_forward,
    softmax_loss,
)

__all__ = ["TwoLayerNet", "FullyConnectedNet"] + layer_utils.__all__

#: normalization -> the forward of one hidden layer {affine - [norm] - relu} (the backwards
#: are the private need_dx/reg variants, chosen in ``loss``).
_HIDDEN_LAYERS = {
    None: affine_relu_forward,
    "batchnorm": affine_bn_relu_forward,
    "layernorm": affine_ln_relu_forward,
}

#: normalization -> the backward the networks use: the same gradients, plus the options of
#: ``layers._affine_backward`` (``need_dx=False`` for the first layer, whose input gradient
#: nobody needs; ``reg`` adds the L2 term to dW in the affine kernel's pass and returns
#: ``sum(W ** 2)`` last).
_HIDDEN_BACKWARD = {
    None: _affine_relu_backward,
    "batchnorm": _affine_bn_relu_backward,
    "layernorm": _affine_ln_relu_backward,
}


def _fc_batch(X, input_dim, dtype=None):
    """``X`` of shape (N, d_1, ..., d_k), N >= 1, d_1 * ... * d_k = input_dim, cast to
    ``dtype`` if given."""
    X = v.as_array("X", X)
    if X.ndim < 2 or X.shape[0] == 0 or math.prod(X.shape[1:]) != input_dim:
        raise ValueError(
            f"X must have shape (N, d_1, ..., d_k) with N >= 1 and d_1 * ... * d_k = "
            f"input_dim = {input_dim}; got shape {X.shape}"
        )
    return X if dtype is None else X.astype(dtype, copy=False)


# --- the networks -------------------------------------------------------------------------------


class TwoLayerNet:
    """A two-layer fully-connected neural network with ReLU nonlinearity and softmax loss that
    uses a modular layer design.

    We assume an input dimension of D, a hidden dimension of H, and perform classification
    over C classes. The architecture is affine - relu - affine - softmax.

    Note that this class does not implement gradient descent; instead, it will interact with a
    separate Solver object that is responsible for running optimization.

    The learnable parameters of the model are stored in the dictionary self.params that maps
    parameter names to numpy arrays.

    Parameters
    ----------
    input_dim : int, default 3 * 32 * 32
        An integer giving the size of the input.
    hidden_dim : int, default 100
        An integer giving the size of the hidden layer.
    num_classes : int, default 10
        An integer giving the number of classes to classify.
    weight_scale : float, default 1e-3
        Scalar giving the standard deviation for random initialization of the weights.
    reg : float, default 0.0
        Scalar giving L2 regularization strength.
    seed : None or int, keyword-only
        Draw the initial weights from ``np.random.RandomState(seed)`` (the numbers
        ``np.random.seed(seed)`` would give) instead of NumPy's global state.

    Attributes
    ----------
    params : dict
        ``W1`` (D, H) and ``W2`` (H, C) drawn from a Gaussian centred at 0 with standard
        deviation ``weight_scale``; ``b1`` (H,) and ``b2`` (C,) zero. float64, as the course.
    reg : float

    Raises
    ------
    TypeError, ValueError
        For a dimension that is not an int >= 1, a non-finite ``weight_scale``, a
        negative or non-finite ``reg``, or a bad ``seed``.
    """

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3,
                 reg=0.0, *, seed=None):
        d = v.positive_int("input_dim", input_dim)
        h = v.positive_int("hidden_dim", hidden_dim)
        c = v.positive_int("num_classes", num_classes)
        weight_scale, self.reg = hyperparameters(weight_scale, reg)
        source = weight_source(seed)
        self.params = {
            "W1": weight_scale * source.randn(d, h),
            "b1": np.zeros(h),
            "W2": weight_scale * source.randn(h, c),
            "b2": np.zeros(c),
        }

    @holds_blas_single_thread()
    def loss(self, X, y=None):
        """Compute loss and gradient for a minibatch of data.

        Parameters
        ----------
        X : array_like of shape (N, d_1, ..., d_k)
            Input data, d_1 * ... * d_k = D.
        y : array_like of int, shape (N,), optional
            Labels; y[i] gives the label for X[i], in [0, C).

        Returns
        -------
        scores : ndarray of shape (N, C)
            If y is None: a test-time forward pass; scores[i, c] is the classification score
            for X[i] and class c.
        (loss, grads) : (float, dict)
            If y is given: the softmax loss plus ``0.5 * reg * (sum(W1**2) + sum(W2**2))``, and
            a dictionary with the same keys as self.params mapping parameter names to
            gradients of the loss with respect to those parameters.

        Raises
        ------
        ValueError, TypeError
            If ``X`` does not match ``W1`` or ``y`` is not N labels in [0, C).
        """
        p = self.params
        X = _fc_batch(X, p["W1"].shape[0])
        if y is not None:
            y = labels(y, X.shape[0], p["W2"].shape[1])

        hidden, cache1 = affine_relu_forward(X, p["W1"], p["b1"])
        scores, cache2 = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        # The L2 term's gradient is added to each dW in the affine kernel's pass (reg * W);
        # the first layer's input gradient is not computed.
        reg = self.reg
        dhidden, grads["W2"], grads["b2"], sq2 = _affine_backward(dscores, cache2, True, reg)
        _, grads["W1"], grads["b1"], sq1 = _affine_relu_backward(dhidden, cache1, False, reg)
        loss += l2_sum(reg, (sq1, sq2))
        return loss, {k: grads[k] for k in p}


class FullyConnectedNet:
    """Class for a multi-layer fully connected neural network.

    Network contains an arbitrary number of hidden layers, ReLU nonlinearities, and a softmax
    loss function. This will also implement dropout and batch/layer normalization as options.
    For a network with L layers, the architecture will be::

        {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

    where batch/layer normalization and dropout are optional and the {...} block is repeated
    L - 1 times.

    Learnable parameters are stored in the self.params dictionary and will be learned using
    the Solver class.

    Parameters
    ----------
    hidden_dims : sequence of int
        A list of integers giving the size of each hidden layer (may be empty: a softmax
        classifier).
    input_dim : int, default 3 * 32 * 32
        An integer giving the size of the input.
    num_classes : int, default 10
        An integer giving the number of classes to classify.
    dropout_keep_ratio : float, default 1
        Scalar between 0 and 1 giving dropout strength, the probability of keeping a unit,
        in (0, 1]. If dropout_keep_ratio=1 then the network does not use dropout at all.
    normalization : {None, "batchnorm", "layernorm"}
        What type of normalization the network should use (None, the default: none).
    reg : float, default 0.0
        Scalar giving L2 regularization strength.
    weight_scale : float, default 1e-2
        Scalar giving the standard deviation for random initialization of the weights.
    dtype : np.float32 or np.float64
        A numpy datatype object; all computations will be performed using this datatype.
        float32 is faster but less accurate, so you should use float64 for numeric gradient
        checking. Other floating dtypes (float16) are taken too: the parameters are stored in
        it and computed with in float64.
    seed : None or int in [0, 2**32 - 1]
        If not None, then pass this random seed to the dropout layers. This will make the
        dropout layers deterministic so we can gradient check the model. Here it also seeds
        the initial weights (``np.random.RandomState(seed)``); with None they come from
        NumPy's global state, as in the course.

    Attributes
    ----------
    params : dict
        ``W1`` .. ``WL`` (weights drawn from a Gaussian of standard deviation
        ``weight_scale``), ``b1`` .. ``bL`` (zeros) and, with normalization, ``gamma1`` ..
        ``gamma{L-1}`` (ones) and ``beta1`` .. ``beta{L-1}`` (zeros), all of ``dtype``.
    num_layers : int
        L, ``len(hidden_dims) + 1``.
    normalization, use_dropout, reg, dtype
    dropout_param : dict
        ``{"mode": ..., "p": dropout_keep_ratio}`` (and ``"seed"``) when using dropout, else
        empty; shared by every dropout layer.
    bn_params : list of dict
        One parameter dict per normalised layer (``{"mode": ...}`` holding the running
        statistics for batchnorm, ``{}`` for layernorm), else empty.

    Raises
    ------
    ValueError
        For an unknown ``normalization``, ``dropout_keep_ratio`` outside (0, 1], a dimension
        < 1, a non-finite ``weight_scale``, a negative or
        non-finite ``reg``, or a bad ``seed``.
    TypeError
        For ``hidden_dims`` not a sequence, a non-integer dimension or ``seed``, a
        non-numeric ``dropout_keep_ratio``, ``weight_scale`` or ``reg``, or a ``dtype`` that is
        not floating.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__iter__"):
            raise TypeError(f"hidden_dims must be a list of ints; got {hidden_dims!r}")
        hidden_dims = [v.positive_int(f"hidden_dims[{j}]", h) for j, h in enumerate(hidden_dims)]
        dims = [v.positive_int("input_dim", input_dim), *hidden_dims]
        dims.append(v.positive_int("num_classes", num_classes))
        known = normalization is None or (
            isinstance(normalization, str) and normalization in _HIDDEN_LAYERS
        )
        if not known:
            raise ValueError(
                f"normalization must be None, 'batchnorm' or 'layernorm'; got {normalization!r}"
            )
        keep = v.real_number("dropout_keep_ratio", dropout_keep_ratio, 0.0, 1.0, low_open=True)
        weight_scale, reg = hyperparameters(weight_scale, reg)
        dtype = float_dtype(dtype, any_float=True)
        source = weight_source(seed)

        self.normalization = normalization
        self.use_dropout = keep != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        for i in range(1, self.num_layers + 1):
            fan_in, fan_out = dims[i - 1], dims[i]
            self.params[f"W{i}"] = weight_scale * source.randn(fan_in, fan_out)
            self.params[f"b{i}"] = np.zeros(fan_out)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(fan_out)
                self.params[f"beta{i}"] = np.zeros(fan_out)

        # When using dropout we need to pass a dropout_param dictionary to each dropout layer
        # so that the layer knows the dropout probability and the mode (train / test). The
        # same dropout_param is passed to each dropout layer.
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        # With batch normalization we need to keep track of running means and variances, so
        # we need to pass a special bn_param object to each batch normalization layer:
        # self.bn_params[0] to the first, self.bn_params[1] to the second, etc.
        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        # Cast all parameters to the correct datatype.
        for k, val in self.params.items():
            self.params[k] = val.astype(dtype)

    @holds_blas_single_thread()
    def loss(self, X, y=None):
        """Compute loss and gradient for the fully connected net.

        Parameters
        ----------
        X : array_like of shape (N, d_1, ..., d_k)
            Input data, d_1 * ... * d_k = input_dim; cast to the model's dtype.
        y : array_like of int, shape (N,), optional
            Labels; y[i] gives the label for X[i], in [0, num_classes).

        Returns
        -------
        scores : ndarray of shape (N, C)
            If y is None: a test-time forward pass (dropout off, batchnorm on its running
            statistics); scores[i, c] is the classification score for X[i] and class c.
        (loss, grads) : (float, dict)
            If y is given: a training-time forward and backward pass. The softmax loss plus
            ``0.5 * reg * sum(W ** 2)`` over the weights W1 .. WL (not the biases, gammas or
            betas), and a dictionary with the same keys as self.params mapping parameter
            names to gradients of the loss with respect to those parameters.

        Notes
        -----
        Sets ``dropout_param["mode"]`` and each batchnorm ``bn_param["mode"]`` to "test" or
        "train", and in train mode updates the batchnorm running statistics, as the course.

        Raises
        ------
        ValueError, TypeError
            If ``X`` does not match ``W1`` or ``y`` is not N labels in [0, num_classes); then
            no state has changed.
        """
        p = self.params
        L = self.num_layers
        X = _fc_batch(X, p["W1"].shape[0], self.dtype)
        if y is not None:
            y = labels(y, X.shape[0], p[f"W{L}"].shape[1])
        mode = "test" if y is None else "train"

        # Set train/test mode for batchnorm params and dropout param since they behave
        # differently during training and testing.
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode

        # Forward pass: {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine.
        hidden_forward = _HIDDEN_LAYERS[self.normalization]
        out, caches = X, []
        for i in range(1, L):
            norm = () if self.normalization is None else (
                p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]
            )
            out, cache = hidden_forward(out, p[f"W{i}"], p[f"b{i}"], *norm)
            drop_cache = None
            if self.use_dropout:
                out, drop_cache = dropout_forward(out, self.dropout_param)
            caches.append((cache, drop_cache))
        scores, last_cache = affine_forward(out, p[f"W{L}"], p[f"b{L}"])

        # If test mode return early.
        if mode == "test":
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        # The L2 term's gradient is added to each dW in the affine kernel's pass (reg * W), and
        # the first layer's input gradient (that of X) is not computed.
        reg = self.reg
        sums = [0.0] * (L + 1)
        dout, grads[f"W{L}"], grads[f"b{L}"], sums[L] = _affine_backward(dscores, last_cache, L > 1, reg)
        hidden_backward = _HIDDEN_BACKWARD[self.normalization]
        for i in range(L - 1, 0, -1):
            cache, drop_cache = caches[i - 1]
            if drop_cache is not None:
                dout = dropout_backward(dout, drop_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"], *dnorm, sums[i] = hidden_backward(dout, cache, i > 1, reg)
            if dnorm:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dnorm
        loss += l2_sum(reg, sums[1:])
        return loss, {k: grads[k] for k in p}
