"""Drop-in replacement for the CS231n assignments' ``layers`` module (``cs231n/layers.py``).

Same names, arguments, dict keys and return values as the course's file (assignments 1 and 2):
affine, ReLU, batch/layer/spatial-batch/spatial-group normalisation, dropout, the SVM and
softmax losses and the plain-loop convolution and max pooling; switch with
``from cs231n_fast.layers import *``. Every forward returns ``(out, cache)`` and every backward
takes ``(dout, cache)``. Also here, for the activations of the course notes: sigmoid, tanh,
leaky ReLU, PReLU, ELU and maxout, each with a forward and a backward.

Every layer here except the plain-loop ``*_naive`` ones is a thin adapter over a compiled kernel
(:mod:`cs231n_fast.ops.linear`, ``.activations``, ``.norm``, ``.losses``), parallel and bitwise
identical for any thread count; the NumPy twins are in :mod:`cs231n_fast.reference`.
Differences from the course, all in the user's favour:

* ``float32`` in gives ``float32`` out; other real dtypes (or a float32/float64 mix) are
  computed in ``float64``. Losses come back as Python floats, summed in float64.
* Bad shapes, labels, modes and hyperparameters raise a ``ValueError`` or ``TypeError`` naming
  the argument (or the dict key) before any computation; a missing required dict key raises a
  ``ValueError`` naming it; ``dout`` must have the shape of the forward output.
* Caches are :class:`LayerCache` objects rather than tuples: pass them back unchanged. Like the
  course's tuples they refer to the forward call's inputs when no cast was needed.
* Normalisation statistics are computed in two passes (mean, then the mean of squared deviations) accumulated in float64, results
  bitwise identical for any thread count. Batch normalisation can also be back-propagated in
  test mode (running statistics are then constants).
* Dropout masks are a counter-based hash of (seed, element index), not NumPy's
  ``np.random.rand`` stream: a seeded mask is reproducible for any thread count, each element
  is kept with probability p (see ``dropout_forward``).
* Inputs are never written to and outputs are fresh arrays (``dropout_forward`` in test mode
  returns a copy of ``x`` where the course returns ``x`` itself). The only state changed is
  the course's: the running statistics in ``bn_param``.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import _validation as v
from ._validation import real_number
from .fast_layers import _get
from .ops import activations as _act
from .ops import linear as _linear
from .ops import losses as _losses
from .ops import norm as _norm
from .reference.naive import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
    "svm_loss",
    "softmax_loss",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "prelu_forward",
    "prelu_backward",
    "elu_forward",
    "elu_backward",
    "maxout_forward",
    "maxout_backward",
]

_MODES = ("train", "test")


@dataclass(frozen=True, repr=False)
class LayerCache:
    """What a backward needs from its forward call.

    ``producer`` names the forward function, ``out_shape`` is the shape of its output (the
    shape ``dout`` must have), ``dtype`` its compute dtype and ``saved`` the arrays and numbers
    it kept, as the course's cache tuples do.
    """

    producer: str
    out_shape: tuple
    dtype: np.dtype
    saved: dict

    def __repr__(self):
        return f"LayerCache({self.producer}, out_shape={self.out_shape}, dtype={self.dtype})"


# --- validation ---------------------------------------------------------------------------------


def _option(params, name, key, default):
    """``params.get(key, default)``; a TypeError naming ``name`` if ``params`` is not a dict."""
    if not isinstance(params, Mapping):
        raise TypeError(f"{name} must be a dict; got {type(params).__name__}")
    return params.get(key, default)


def _mode(params, name):
    """The required ``params['mode']``: 'train' or 'test'."""
    mode = _get(params, name, "mode")
    if not (isinstance(mode, str) and mode in _MODES):
        raise ValueError(f"{name}['mode'] must be 'train' or 'test'; got {mode!r}")
    return mode


def _eps(params, name):
    """``params['eps']`` (default 1e-5), a finite number > 0."""
    eps = _option(params, name, "eps", 1e-5)
    return real_number(f"{name}['eps']", eps, 0.0, low_open=True)

def _matrix(x, layout):
    """``x`` as a non-empty 2-D array, e.g. of layout "(N, D)", in its own dtype."""
    x = v.as_array("x", x)
    v.check_ndim("x", x, 2, layout)
    v.check_nonempty("x", x, layout)
    return x


def _images(x):
    """``x`` as a non-empty 4-D array of layout (N, C, H, W), in its own dtype."""
    x = v.as_array("x", x)
    v.check_ndim("x", x, 4, "(N, C, H, W)")
    v.check_nonempty("x", x, "(N, C, H, W)")
    return x
def _backward_args(dout, cache, producer, layout=None):
    """Validate ``dout`` against a ``cache`` made by ``producer``.

    Returns ``(dout, saved)`` with ``dout`` and the cached floating arrays in the compute dtype:
    float32 if the forward ran in float32 and ``dout`` is float32, else float64. ``layout``
    describes the expected shape in words; default the forward output's shape.
    """
    if isinstance(cache, LayerCache) and cache.producer != producer:
        raise TypeError(f"cache must be the cache returned by {producer}; got one from {cache.producer}")
    if layout is None and isinstance(cache, LayerCache):
        layout = str(cache.out_shape)
    dout = v.backward_args(dout, cache, LayerCache, producer, layout)
    dtype = v.result_dtype(dout, cache)  # reads only the .dtype of each
    saved = {
        key: val.astype(dtype, copy=False) if isinstance(val, np.ndarray) and val.dtype.kind == "f" else val
        for key, val in cache.saved.items()
    }
    return dout.astype(dtype, copy=False), saved


# --- affine and ReLU ----------------------------------------------------------------------------


def affine_forward(x, w, b):
    """Computes the forward pass for an affine (fully connected) layer.

    The input x has shape (N, d_1, ..., d_k) and contains a minibatch of N examples, where each
    example x[i] has shape (d_1, ..., d_k). We will reshape each input into a vector of
    dimension D = d_1 * ... * d_k, and then transform it to an output vector of dimension M.

    Parameters
    ----------
    x : array_like of shape (N, d_1, ..., d_k)
        Input data.
    w : array_like of shape (D, M)
        Weights.
    b : array_like of shape (M,)
        Biases.

    Returns
    -------
    out : ndarray of shape (N, M)
        ``x.reshape(N, D) @ w + b``; float32 if all inputs are float32, else float64.
    cache : LayerCache
        (x, w, b), for ``affine_backward``.

    Raises
    ------
    TypeError
        If an argument is not a real numeric array.
    ValueError
        If ``x`` has fewer than 2 dimensions, ``w`` is not (D, M) or ``b`` is not (M,).
    """
    x, x2, w, b = _linear._affine_args(x, w, b)
    out = _linear._forward(x2, w, b, False, None)
    return out, LayerCache("affine_forward", out.shape, out.dtype, {"x": x, "w": w, "b": b})


def affine_backward(dout, cache):
    """Computes the backward pass for an affine (fully connected) layer.

    Parameters
    ----------
    dout : array_like of shape (N, M)
        Upstream derivative.
    cache : LayerCache
        From ``affine_forward``.

    Returns
    -------
    dx : ndarray of shape (N, d1, ..., d_k)
        Gradient with respect to x.
    dw : ndarray of shape (D, M)
        Gradient with respect to w.
    db : ndarray of shape (M,)
        Gradient with respect to b.
    """
    dx, dw, db, _ = _affine_backward(dout, cache)
    return dx, dw, db


def _affine_backward(dout, cache, need_dx=True, reg=None, act=None):
    """``affine_backward`` with the model paths' options: ``need_dx=False`` skips dx (None in
    its place); ``reg`` adds ``reg * w`` to dw in the same pass and returns ``sum(w ** 2)`` as
    a fourth value (else None); ``act``, the output of a ReLU applied to this layer's output,
    masks ``dout`` (``act > 0``) in the pass that sums db (the fused ``affine_relu``)."""
    if (
        type(cache) is LayerCache and cache.producer == "affine_forward"
        and type(dout) is np.ndarray and dout.shape == cache.out_shape and dout.dtype == cache.dtype
    ):  # the common case, checked with a few compares: dout of the forward's shape and dtype
        s = cache.saved
        dout = np.ascontiguousarray(dout)
    else:
        dout, s = _backward_args(dout, cache, "affine_forward", "(N, M)")
    x, w = s["x"], s["w"]
    if x.dtype != dout.dtype or w.dtype != dout.dtype:
        x, w = x.astype(dout.dtype), w.astype(dout.dtype)
    if w.ndim != 2 or x.shape[0] != dout.shape[0] or w.shape[1] != dout.shape[1] or (
        math.prod(x.shape[1:]) != w.shape[0] or (act is not None and act.shape != dout.shape)
    ):
        raise ValueError("cache is not the one affine_forward returned: its arrays disagree in shape")
    x2 = np.ascontiguousarray(x).reshape(x.shape[0], w.shape[0])
    if act is not None:
        act = np.ascontiguousarray(act, dout.dtype)
    dx, dw, db, sumsq = _linear._backward(dout, x2, np.ascontiguousarray(w), act, need_dx, reg, None)
    return (None if dx is None else dx.reshape(x.shape)), dw, db, sumsq


def relu_forward(x):
    """Computes the forward pass for a layer of rectified linear units (ReLUs).

    Parameters
    ----------
    x : array_like of any shape
        Inputs.

    Returns
    -------
    out : ndarray of the same shape as x
        ``max(0, x)``.
    cache : LayerCache
        x, for ``relu_backward``.
    """
    return _wrap(_act.relu_forward(x))


def relu_backward(dout, cache):
    """Computes the backward pass for a layer of rectified linear units (ReLUs).

    Parameters
    ----------
    dout : array_like
        Upstream derivatives, of the shape of the forward output.
    cache : LayerCache
        From ``relu_forward``.

    Returns
    -------
    dx : ndarray
        Gradient with respect to x: ``dout`` where ``x > 0``, else 0 (0 at ``x == 0`` too).
    """
    return _act.relu_backward(dout, _op_cache(cache, "relu_forward"))


# --- batch and layer normalisation --------------------------------------------------------------


def _running_stat(bn_param, key, d):
    """``bn_param[key]`` checked to be (D,), or None if absent (the op starts it at zeros)."""
    stat = bn_param.get(key)
    if stat is None:
        return None
    name = f"bn_param['{key}']"
    stat = v.as_array(name, stat)
    if stat.shape != (d,):
        v.check_shape(name, stat, (d,), "(D,), one per feature of x")
    return stat


def _norm_params(gamma, beta, shape, why):
    """``gamma`` and ``beta`` as arrays checked to have ``shape``."""
    gamma, beta = v.as_array("gamma", gamma), v.as_array("beta", beta)
    if gamma.shape != shape:
        v.check_shape("gamma", gamma, shape, why)
    if beta.shape != shape:
        v.check_shape("beta", beta, shape, why)
    return gamma, beta


def _norm_eps(params, name):
    """``params['eps']`` (default 1e-5) validated: a plain float in (0, inf) passes at once (the
    common case, per call of a training loop), anything else goes through ``_eps``."""
    if type(params) is dict:
        eps = params.get("eps", 1e-5)
        if type(eps) is float and 0.0 < eps < math.inf:
            return eps
    return _eps(params, name)


def _bn_param(bn_param):
    """The train flag, eps and momentum of a ``bn_param`` dict, validated."""
    if type(bn_param) is dict:  # fast path: plain values as the course passes them
        mode, eps, momentum = bn_param.get("mode"), bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
        if (
            type(mode) is str
            and (mode == "train" or mode == "test")
            and type(eps) is float
            and 0.0 < eps < math.inf
            and type(momentum) is float
            and 0.0 <= momentum <= 1.0
        ):
            return mode == "train", eps, momentum
    train = _mode(bn_param, "bn_param") == "train"
    eps = _eps(bn_param, "bn_param")
    momentum = real_number("bn_param['momentum']", bn_param.get("momentum", 0.9), 0.0, 1.0)
    return train, eps, momentum


def _batchnorm(producer, kind, x, gamma, beta, bn_param, why):
    """A validated (spatial) batchnorm forward through ``ops.norm``; updates ``bn_param``."""
    train, eps, momentum = _bn_param(bn_param)
    c = x.shape[1]
    gamma, beta = _norm_params(gamma, beta, (c,), why)
    running_mean = _running_stat(bn_param, "running_mean", c)
    running_var = _running_stat(bn_param, "running_var", c)
    out, running_mean, running_var, cache = _norm._bn_forward(
        kind, x, gamma, beta, running_mean, running_var, train, eps, momentum, None
    )
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, LayerCache(producer, out.shape, out.dtype, {"norm": cache})


def _norm_cache(dout, cache, producer, layout):
    """The ``ops.norm`` cache inside a LayerCache made by ``producer`` (else the course's errors)."""
    if type(cache) is LayerCache and cache.producer == producer and "norm" in cache.saved:
        return cache.saved["norm"]
    _backward_args(dout, cache, producer, layout)  # raises for a cache of another layer
    raise TypeError(f"cache must be the cache returned by {producer}; got one without its statistics")


def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass for batch normalization.

    During training the sample mean and (uncorrected) sample variance are computed from
    minibatch statistics and used to normalize the incoming data. During training we also keep
    an exponentially decaying running mean of the mean and variance of each feature, and these
    averages are used to normalize data at test-time.

    At each timestep we update the running averages for mean and variance using an exponential
    decay based on the momentum parameter::

        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var

    Note that the batch normalization paper suggests a different test-time behavior: they
    compute sample mean and variance for each feature using a large number of training images
    rather than using a running average. For this implementation we have chosen to use running
    averages instead since they do not require an additional estimation step; the torch7
    implementation of batch normalization also uses running averages.

    Parameters
    ----------
    x : array_like of shape (N, D)
        Data.
    gamma : array_like of shape (D,)
        Scale parameter.
    beta : array_like of shape (D,)
        Shift parameter.
    bn_param : dict
        Dictionary with the following keys:

        - mode: 'train' or 'test'; required
        - eps: Constant for numeric stability (default 1e-5, must be > 0)
        - momentum: Constant for running mean / variance (default 0.9, in [0, 1])
        - running_mean: Array of shape (D,) giving running mean of features
        - running_var: Array of shape (D,) giving running variance of features

        Absent running statistics start as zeros. On return ``bn_param['running_mean']`` and
        ``bn_param['running_var']`` hold the (in train mode: updated) running statistics, as
        new arrays in the compute dtype; the arrays passed in are not written to.

    Returns
    -------
    out : ndarray of shape (N, D)
        ``gamma * xhat + beta``; float32 if x, gamma and beta are float32, else float64.
    cache : LayerCache
        For ``batchnorm_backward`` and ``batchnorm_backward_alt`` (either mode).

    Raises
    ------
    TypeError
        If an array argument is not real numeric, ``bn_param`` is not a dict or a
        hyperparameter is not a number.
    ValueError
        If ``x`` is not a non-empty (N, D) array, ``gamma``, ``beta`` or a running statistic
        is not (D,), 'mode' is missing or neither 'train' nor 'test', or eps/momentum are out
        of range.
    """
    x = _matrix(x, "(N, D)")
    return _batchnorm("batchnorm_forward", "batchnorm", x, gamma, beta, bn_param, "(D,), one per feature of x")


def batchnorm_backward(dout, cache):
    """Backward pass for batch normalization.

    The course computes it by walking the computational graph of batch normalization
    backwards, one node at a time. The gradients are the same as those of the simplified
    expression, so here both backward functions run the compiled closed form
    (``ops.norm.batchnorm_backward``); the graph walk is kept as
    ``reference.norm.batchnorm_backward_graph``, against which the tests check it.

    Parameters
    ----------
    dout : array_like of shape (N, D)
        Upstream derivatives.
    cache : LayerCache
        From ``batchnorm_forward`` (train mode; test mode, where the statistics are the
        constant running averages, is supported too).

    Returns
    -------
    dx : ndarray of shape (N, D)
        Gradient with respect to inputs x.
    dgamma : ndarray of shape (D,)
        Gradient with respect to scale parameter gamma.
    dbeta : ndarray of shape (D,)
        Gradient with respect to shift parameter beta.
    """
    return _norm._bn_backward("batchnorm", dout, _norm_cache(dout, cache, "batchnorm_forward", "(N, D)"), None, "(N, D)")


def batchnorm_backward_alt(dout, cache):
    """Alternative backward pass for batch normalization.

    The gradient with respect to x simplified on paper to one expression::

        dx = ivar / N * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

    with ``dxhat = dout * gamma`` and ``ivar = 1 / sqrt(var + eps)``. Inputs and outputs are
    the same as ``batchnorm_backward``. One compiled pass computes the sums (in float64), a
    second dx; ``xhat`` is recomputed from the cached mean and ivar.
    """
    return _norm._bn_backward("batchnorm", dout, _norm_cache(dout, cache, "batchnorm_forward", "(N, D)"), None, "(N, D)")


def layernorm_forward(x, gamma, beta, ln_param):
    """Forward pass for layer normalization.

    During both training and test-time, the incoming data is normalized per data-point, before
    being scaled by gamma and beta parameters identical to that of batch normalization.

    Note that in contrast to batch normalization, the behavior during train and test-time for
    layer normalization are identical, and we do not need to keep track of running averages of
    any sort.

    Parameters
    ----------
    x : array_like of shape (N, D)
        Data.
    gamma : array_like of shape (D,)
        Scale parameter.
    beta : array_like of shape (D,)
        Shift parameter.
    ln_param : dict
        Dictionary with the following key (others, such as 'mode', are ignored):

        - eps: Constant for numeric stability (default 1e-5, must be > 0)

    Returns
    -------
    out : ndarray of shape (N, D)
    cache : LayerCache
        For ``layernorm_backward``.
    """
    eps = _norm_eps(ln_param, "ln_param")
    x = _matrix(x, "(N, D)")
    gamma, beta = _norm_params(gamma, beta, (x.shape[1],), "(D,), one per feature of x")
    out, cache = _norm._ln_forward(x, gamma, beta, eps, None)
    return out, LayerCache("layernorm_forward", out.shape, out.dtype, {"norm": cache})


def layernorm_backward(dout, cache):
    """Backward pass for layer normalization.

    Parameters
    ----------
    dout : array_like of shape (N, D)
        Upstream derivatives.
    cache : LayerCache
        From ``layernorm_forward``.

    Returns
    -------
    dx : ndarray of shape (N, D)
        Gradient with respect to inputs x.
    dgamma : ndarray of shape (D,)
        Gradient with respect to scale parameter gamma.
    dbeta : ndarray of shape (D,)
        Gradient with respect to shift parameter beta.
    """
    return _norm.layernorm_backward(dout, _norm_cache(dout, cache, "layernorm_forward", "(N, D)"))


# --- dropout ------------------------------------------------------------------------------------


def _seed(dropout_param):
    """``dropout_param['seed']`` (an int in [0, 2**32 - 1], the seeds ``np.random.seed`` takes),
    or None when absent or None (the course's ``np.random.seed(None)`` is an unseeded draw)."""
    if dropout_param.get("seed") is None:
        return None
    seed = v.positive_int("dropout_param['seed']", dropout_param["seed"], minimum=0)
    if seed >= 2**32:
        raise ValueError(f"dropout_param['seed'] must be an int in [0, 2**32 - 1]; got {seed}")
    return seed


def _wrap(result):
    """An ops.activations ``(out, cache)`` with the cache wrapped in a :class:`LayerCache`."""
    out, c = result
    return out, LayerCache(c.producer, c.out_shape, c.dtype, {"op": c})


def _op_cache(cache, producer):
    """The ops.activations cache inside a ``cache`` made by ``producer``."""
    if not isinstance(cache, LayerCache):
        raise TypeError(f"cache must be the LayerCache returned by {producer}; got {type(cache).__name__}")
    if cache.producer != producer:
        raise TypeError(f"cache must be the cache returned by {producer}; got one from {cache.producer}")
    return cache.saved["op"]


def dropout_forward(x, dropout_param):
    """Forward pass for inverted dropout.

    Note that this is different from the vanilla version of dropout. Here, p is the probability
    of keeping a neuron output, as opposed to the probability of dropping a neuron output.

    Parameters
    ----------
    x : array_like of any shape
        Input data.
    dropout_param : dict
        A dictionary with the following keys:

        - p: Dropout parameter. We keep each neuron output with probability p; required, in
          (0, 1] (p = 1 keeps everything) in train mode; not used in test mode.
        - mode: 'test' or 'train'; required. If the mode is train, then perform dropout; if
          the mode is test, then just return the input.
        - seed: Seed for the random number generator. Passing seed makes this function
          deterministic, which is needed for gradient checking but not in real networks
          (None, like an absent seed, means unseeded).
          The seed keys the mask and NumPy's global random state is left alone. Without a
          seed the key is drawn from the global state (``np.random.seed`` makes a whole run
          reproducible).

    Returns
    -------
    out : ndarray of the same shape as x
        Train mode: ``x * mask`` with ``mask = keep / p``; test mode: a copy of x.
    cache : LayerCache
        The mask's key, for ``dropout_backward`` (which regenerates the mask).

    Notes
    -----
    The masks are not NumPy's stream: the course draws ``np.random.rand(*x.shape) < p``; here
    element ``i`` (flat, row-major) is kept when a counter-based hash of (key, i) falls below
    ``p`` (see ``cs231n_fast.reference.activations.dropout_keep``, which spells it in NumPy).
    Each element is still kept independently with probability ``p`` (to 2**-24), and a seeded
    mask is reproducible and the same for any thread count; but a given seed gives a different
    mask than ``np.random.seed(seed); np.random.rand(...) < p`` does.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric, ``dropout_param`` is not a dict or 'p' is not a number.
    ValueError
        If 'p' or 'mode' is missing, 'p' is outside (0, 1] in train mode, 'mode' is neither
        'train' nor 'test', or 'seed' is not an int in [0, 2**32 - 1].
    """
    p = _get(dropout_param, "dropout_param", "p")
    mode = _mode(dropout_param, "dropout_param")
    # Test mode returns x without using p (the course reads the key, not its value).
    p = real_number("dropout_param['p']", p, 0.0, 1.0, low_open=True) if mode == "train" else 1.0
    return _wrap(_act.dropout_forward(x, p, mode, _seed(dropout_param)))


def dropout_backward(dout, cache):
    """Backward pass for inverted dropout.

    Parameters
    ----------
    dout : array_like
        Upstream derivatives, of any shape (that of the forward output).
    cache : LayerCache
        From ``dropout_forward``.

    Returns
    -------
    dx : ndarray
        ``dout * mask`` in train mode, a copy of ``dout`` in test mode.
    """
    return _act.dropout_backward(dout, _op_cache(cache, "dropout_forward"))


# --- spatial normalisation ----------------------------------------------------------------------


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Computes the forward pass for spatial batch normalization.

    Batch normalization over the N * H * W values of each channel: the vanilla version of batch
    normalization applied to ``x`` reshaped to (N * H * W, C).

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input data.
    gamma : array_like of shape (C,)
        Scale parameter.
    beta : array_like of shape (C,)
        Shift parameter.
    bn_param : dict
        Dictionary with the following keys, as for ``batchnorm_forward`` (D = C):

        - mode: 'train' or 'test'; required
        - eps: Constant for numeric stability
        - momentum: Constant for running mean / variance. momentum=0 means that old
          information is discarded completely at every time step, while momentum=1 means that
          new information is never incorporated. The default of momentum=0.9 should work well
          in most situations.
        - running_mean: Array of shape (C,) giving running mean of features
        - running_var: Array of shape (C,) giving running variance of features

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    cache : LayerCache
        For ``spatial_batchnorm_backward``.
    """
    x = _images(x)
    return _batchnorm(
        "spatial_batchnorm_forward", "spatial_batchnorm", x, gamma, beta, bn_param, "(C,), one per channel of x"
    )


def spatial_batchnorm_backward(dout, cache):
    """Computes the backward pass for spatial batch normalization.

    Parameters
    ----------
    dout : array_like of shape (N, C, H, W)
        Upstream derivatives.
    cache : LayerCache
        From ``spatial_batchnorm_forward``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        Gradient with respect to inputs.
    dgamma : ndarray of shape (C,)
        Gradient with respect to scale parameter.
    dbeta : ndarray of shape (C,)
        Gradient with respect to shift parameter.
    """
    norm_cache = _norm_cache(dout, cache, "spatial_batchnorm_forward", "(N, C, H, W)")
    return _norm._bn_backward("spatial_batchnorm", dout, norm_cache, None, "(N, C, H, W)")


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Computes the forward pass for spatial group normalization.

    In contrast to layer normalization, group normalization splits each entry in the data into
    G contiguous pieces, which it then normalizes independently. Per-feature shifting and
    scaling are then applied to the data, in a manner identical to that of batch normalization
    and layer normalization.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input data.
    gamma : array_like of shape (1, C, 1, 1)
        Scale parameter.
    beta : array_like of shape (1, C, 1, 1)
        Shift parameter.
    G : int
        Integer number of groups to split into, should be a divisor of C.
    gn_param : dict
        Dictionary with the following key:

        - eps: Constant for numeric stability (default 1e-5, must be > 0)

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    cache : LayerCache
        For ``spatial_groupnorm_backward``.

    Raises
    ------
    ValueError
        Also if ``G`` is not a positive divisor of C.
    """
    eps = _norm_eps(gn_param, "gn_param")
    x = _images(x)
    n, c = x.shape[:2]
    G = v.positive_int("G", G)
    if c % G:
        raise ValueError(f"G must divide the number of channels C = {c} of x {x.shape}; got G = {G}")
    gamma, beta = _norm_params(gamma, beta, (1, c, 1, 1), "(1, C, 1, 1), one per channel of x")
    out, cache = _norm._gn_forward(x, gamma, beta, G, eps, None)
    return out, LayerCache("spatial_groupnorm_forward", out.shape, out.dtype, {"norm": cache})


def spatial_groupnorm_backward(dout, cache):
    """Computes the backward pass for spatial group normalization.

    Parameters
    ----------
    dout : array_like of shape (N, C, H, W)
        Upstream derivatives.
    cache : LayerCache
        From ``spatial_groupnorm_forward``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
        Gradient with respect to inputs.
    dgamma : ndarray of shape (1, C, 1, 1)
        Gradient with respect to scale parameter.
    dbeta : ndarray of shape (1, C, 1, 1)
        Gradient with respect to shift parameter.
    """
    norm_cache = _norm_cache(dout, cache, "spatial_groupnorm_forward", "(N, C, H, W)")
    return _norm.spatial_groupnorm_backward(dout, norm_cache)


# --- losses -------------------------------------------------------------------------------------


def svm_loss(x, y):
    """Computes the loss and gradient using for multiclass SVM classification.

    The multiclass hinge loss with margin 1: for each sample
    ``sum over j != y of max(0, x[j] - x[y] + 1)``, averaged over the N samples.

    Parameters
    ----------
    x : array_like of shape (N, C)
        Input data, where x[i, j] is the score for the jth class for the ith input.
    y : array_like of int, shape (N,)
        Vector of labels, where y[i] is the label for x[i] and 0 <= y[i] < C.

    Returns
    -------
    loss : float
        Scalar giving the loss (summed in float64).
    dx : ndarray of shape (N, C)
        Gradient of the loss with respect to x; a margin of exactly 0 counts as inactive.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric or ``y`` not integer.
    ValueError
        If ``x`` is not a non-empty (N, C) array, or ``y`` is not (N,) or holds a label outside
        [0, C).
    """
    return _losses.svm_loss(x, y)


def softmax_loss(x, y):
    """Computes the loss and gradient for softmax classification.

    Parameters
    ----------
    x : array_like of shape (N, C)
        Input data, where x[i, j] is the score for the jth class for the ith input.
    y : array_like of int, shape (N,)
        Vector of labels, where y[i] is the label for x[i] and 0 <= y[i] < C.

    Returns
    -------
    loss : float
        Scalar giving the mean cross-entropy loss (summed in float64).
    dx : ndarray of shape (N, C)
        Gradient of the loss with respect to x.

    Raises
    ------
    As ``svm_loss``.

    Notes
    -----
    Scores are shifted by their row maximum before exponentiating, so large scores (such as
    [123, 456, 789]) neither overflow nor change the loss. Computed by
    :func:`cs231n_fast.ops.losses.softmax_loss` (compiled, parallel over rows).
    """
    return _losses.softmax_loss(x, y)


# --- activations of the course notes ------------------------------------------------------------


def sigmoid_forward(x):
    """Forward pass for the logistic sigmoid ``1 / (1 + exp(-x))``, elementwise.

    Numerically stable: only ``exp(-|x|)`` is evaluated, so ``sigmoid_forward(1000)`` is
    exactly 1 and ``sigmoid_forward(-1000)`` exactly 0, with no warning.

    Parameters
    ----------
    x : array_like of any shape

    Returns
    -------
    out : ndarray of the same shape as x
    cache : LayerCache
        out, for ``sigmoid_backward``.
    """
    return _wrap(_act.sigmoid_forward(x))


def sigmoid_backward(dout, cache):
    """Backward pass for the sigmoid: ``dx = dout * out * (1 - out)``."""
    return _act.sigmoid_backward(dout, _op_cache(cache, "sigmoid_forward"))


def tanh_forward(x):
    """Forward pass for the hyperbolic tangent, elementwise.

    Parameters
    ----------
    x : array_like of any shape

    Returns
    -------
    out : ndarray of the same shape as x
    cache : LayerCache
        out, for ``tanh_backward``.
    """
    return _wrap(_act.tanh_forward(x))


def tanh_backward(dout, cache):
    """Backward pass for tanh: ``dx = dout * (1 - out ** 2)``."""
    return _act.tanh_backward(dout, _op_cache(cache, "tanh_forward"))


def leaky_relu_forward(x, alpha=0.01):
    """Forward pass for the leaky ReLU: ``x`` where ``x > 0``, else ``alpha * x``.

    Parameters
    ----------
    x : array_like of any shape
    alpha : float, default 0.01
        The slope for negative inputs (the course notes' small constant), a finite number.

    Returns
    -------
    out : ndarray of the same shape as x
    cache : LayerCache
        (x, alpha), for ``leaky_relu_backward``.
    """
    return _wrap(_act.leaky_relu_forward(x, alpha))


def leaky_relu_backward(dout, cache):
    """Backward pass for the leaky ReLU: ``dout`` where ``x > 0``, else ``alpha * dout``."""
    return _act.leaky_relu_backward(dout, _op_cache(cache, "leaky_relu_forward"))


def prelu_forward(x, alpha):
    """Forward pass for the parametric ReLU: ``x`` where ``x > 0``, else ``alpha * x``.

    The slope ``alpha`` is learned (He et al., 2015).

    Parameters
    ----------
    x : array_like of any shape; (N, C, ...) for a per-channel ``alpha``
    alpha : array_like of shape () or (C,)
        One slope for every element, or one per channel (axis 1 of ``x``).

    Returns
    -------
    out : ndarray of the same shape as x
        float32 if x and alpha are float32, else float64.
    cache : LayerCache
        (x, alpha), for ``prelu_backward``.
    """
    return _wrap(_act.prelu_forward(x, alpha))


def prelu_backward(dout, cache):
    """Backward pass for the parametric ReLU.

    Parameters
    ----------
    dout : array_like
        Upstream derivatives, of the shape of x.
    cache : LayerCache
        From ``prelu_forward``.

    Returns
    -------
    dx : ndarray of the shape of x
        ``dout`` where ``x > 0``, else ``alpha * dout``.
    dalpha : ndarray of the shape of alpha
        ``sum(dout * x)`` over the elements with ``x <= 0`` (per channel for a per-channel
        alpha).
    """
    return _act.prelu_backward(dout, _op_cache(cache, "prelu_forward"))


def elu_forward(x, alpha=1.0):
    """Forward pass for the exponential linear unit: ``x`` where ``x > 0``, else
    ``alpha * (exp(x) - 1)``.

    Parameters
    ----------
    x : array_like of any shape
    alpha : float, default 1.0
        The saturation value for negative inputs is ``-alpha``; a finite number.

    Returns
    -------
    out : ndarray of the same shape as x
    cache : LayerCache
        (x, alpha), for ``elu_backward``.

    Notes
    -----
    ``expm1`` is evaluated only at ``min(x, 0)``: no overflow for large positive inputs.
    """
    return _wrap(_act.elu_forward(x, alpha))


def elu_backward(dout, cache):
    """Backward pass for the ELU: ``dout`` where ``x > 0``, else ``dout * alpha * exp(x)``."""
    return _act.elu_backward(dout, _op_cache(cache, "elu_forward"))


def maxout_forward(x, w, b):
    """Forward pass for a maxout layer of K affine pieces: ``out = max_k(x @ w[k] + b[k])``.

    Parameters
    ----------
    x : array_like of shape (N, d_1, ..., d_k)
        Input data, reshaped to (N, D) with D = d_1 * ... * d_k as in ``affine_forward``.
    w : array_like of shape (K, D, M)
        Weights of the K pieces.
    b : array_like of shape (K, M)
        Biases of the K pieces.

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : LayerCache
        (x, w, the winning piece of every output), for ``maxout_backward``.

    Notes
    -----
    One BLAS product for all K pieces. Where several pieces tie for the maximum the first (the
    lowest k) wins, and the backward sends the whole gradient to it.
    """
    return _wrap(_act.maxout_forward(x, w, b))


def maxout_backward(dout, cache):
    """Backward pass for a maxout layer; each output's gradient goes to its first maximal piece.

    Parameters
    ----------
    dout : array_like of shape (N, M)
        Upstream derivatives.
    cache : LayerCache
        From ``maxout_forward``.

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k)
    dw : ndarray of shape (K, D, M)
    db : ndarray of shape (K, M)
    """
    return _act.maxout_backward(dout, _op_cache(cache, "maxout_forward"))
