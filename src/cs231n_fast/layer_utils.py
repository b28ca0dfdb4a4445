"""Drop-in replacement for the CS231n assignment 2 ``layer_utils`` module.

Same names, arguments and return values as the course's ``cs231n/layer_utils.py``: "sandwich"
layers that chain a few layers of :mod:`cs231n_fast.layers` (affine, ReLU, batch and layer
normalisation) and of :mod:`cs231n_fast.fast_layers` (convolution and max pooling on the
compiled kernels). Every forward returns ``(out, cache)`` with ``cache`` a tuple of the
sub-layers' caches, in forward order, as the course's; every backward takes ``(dout, cache)``
and returns the gradients in the order of the forward's array arguments. Besides the course's
``affine_relu``, ``conv_relu``, ``conv_bn_relu`` and ``conv_relu_pool`` there are
``affine_bn_relu`` and ``affine_ln_relu``, which the course leaves to the student (they make
``FullyConnectedNet`` read like the course's solution). As with the course's module,
``from cs231n_fast.layer_utils import *`` also gives every name of :mod:`cs231n_fast.layers`
and :mod:`cs231n_fast.fast_layers`.

``affine_relu`` runs as one kernel (:func:`cs231n_fast.ops.linear.affine_relu_forward`: the
ReLU applied to each output block right after its product; backward: the mask applied in the
pass that sums db), with the course's cache structure (the ReLU's sub-cache keeps the ReLU's
output, whose mask is that of its input). The private ``_*_backward`` variants take the
options the networks use: ``need_dx=False`` for a first layer (no input gradient; for the
convolutions through :func:`cs231n_fast._model.conv_backward_no_dx`) and, for the affine ones,
``reg`` (the L2 term added to dW in the affine kernel's pass, ``sum(W ** 2)`` returned last).

The sub-layers validate their inputs (messages name the argument); a backward given anything
but its forward's cache tuple raises ``TypeError`` naming ``cache``. Dtype policy as in
:mod:`cs231n_fast.layers`: float32 in gives float32 out, anything else float64.
"""

from typing import Callable, NamedTuple

from . import fast_layers, layers, reference
from ._cache import ActivationCache
from ._model import conv_backward_no_dx
from .layers import LayerCache, _affine_backward, _backward_args
from .ops import linear as _linear

# The course's module begins with ``from .layers import *`` and ``from .fast_layers import *``,
# so that a star import of it (or of the classifiers built on it) also gives every layer; so
# does this one (see ``__all__``).
from .fast_layers import *  # noqa: F403
from .fast_layers import (
    _get,
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from .layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from .layers import *  # noqa: F403

__all__ = [
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_bn_relu_forward",
    "affine_bn_relu_backward",
    "affine_ln_relu_forward",
    "affine_ln_relu_backward",
    "conv_relu_forward",
    "conv_relu_backward",
    "conv_bn_relu_forward",
    "conv_bn_relu_backward",
    "conv_relu_pool_forward",
    "conv_relu_pool_backward",
]
__all__ += layers.__all__ + fast_layers.__all__


def _unpack(cache, size, producer):
    """The ``size`` sub-caches of a sandwich cache; TypeError naming ``cache`` otherwise."""
    if not isinstance(cache, tuple) or len(cache) != size:
        got = f"a tuple of {len(cache)}" if isinstance(cache, tuple) else type(cache).__name__
        raise TypeError(
            f"cache must be the tuple of {size} sub-caches returned by {producer}; got {got}"
        )
    return cache


# --- convolution and pooling kernels ----------------------------------------------------------


class _Kernels(NamedTuple):
    """Convolution and max-pool layers with the ``fast_layers`` signatures (parameter dicts)."""

    conv_forward: Callable
    conv_backward: Callable
    pool_forward: Callable
    pool_backward: Callable


def _reference_conv_forward(x, w, b, conv_param):
    stride = _get(conv_param, "conv_param", "stride")
    pad = _get(conv_param, "conv_param", "pad")
    return reference.conv_forward(x, w, b, stride, pad)


def _reference_pool_forward(x, pool_param):
    ph = _get(pool_param, "pool_param", "pool_height")
    pw = _get(pool_param, "pool_param", "pool_width")
    stride = _get(pool_param, "pool_param", "stride")
    return reference.maxpool_forward(x, ph, pw, stride)


#: The layers the sandwiches run on: "fast" (compiled kernels, what the public functions use)
#: and "reference" (the NumPy twin :mod:`cs231n_fast.reference`, same caches, for comparisons).
_KERNELS = {
    "fast": _Kernels(
        conv_forward_fast, conv_backward_fast, max_pool_forward_fast, max_pool_backward_fast
    ),
    "reference": _Kernels(
        _reference_conv_forward,
        reference.conv_backward,
        _reference_pool_forward,
        reference.maxpool_backward,
    ),
}


# --- fully connected ------------------------------------------------------------------------


def affine_relu_forward(x, w, b):
    """Convenience layer that performs an affine transform followed by a ReLU.

    Parameters
    ----------
    x : array_like of shape (N, d_1, ..., d_k)
        Input to the affine layer.
    w : array_like of shape (D, M)
        Weights for the affine layer, D = d_1 * ... * d_k.
    b : array_like of shape (M,)
        Biases for the affine layer.

    Returns
    -------
    out : ndarray of shape (N, M)
        Output from the ReLU.
    cache : tuple
        ``(fc_cache, relu_cache)``, to give to the backward pass.
    """
    # One kernel: the ReLU is applied to each output block right after its product (no pass
    # over memory for it). The caches are those of the two layers, as the course's: the
    # ReLU's keeps its output, whose mask (out > 0) is that of its input.
    x, x2, w, b = _linear._affine_args(x, w, b)
    out = _linear._forward(x2, w, b, True, None)
    fc_cache = LayerCache("affine_forward", out.shape, out.dtype, {"x": x, "w": w, "b": b})
    relu = ActivationCache("relu_forward", out.shape, out.dtype, {"x": out})
    cache = (fc_cache, LayerCache("relu_forward", out.shape, out.dtype, {"op": relu}))
    return out, cache


def affine_relu_backward(dout, cache):
    """Backward pass for the affine-relu convenience layer.

    Parameters
    ----------
    dout : array_like of shape (N, M)
        Upstream derivatives.
    cache : tuple
        From ``affine_relu_forward``.

    Returns
    -------
    dx : ndarray of shape (N, d_1, ..., d_k)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
    """
    return _affine_relu_backward(dout, cache)[:3]


def _affine_relu_backward(dout, cache, need_dx=True, reg=None):
    """``affine_relu_backward`` with the model options of ``layers._affine_backward``
    (``need_dx``, ``reg``); returns ``(dx, dw, db, sumsq)``. The ReLU's mask is applied in the
    kernel's pass that sums db."""
    fc_cache, relu_cache = _unpack(cache, 2, "affine_relu_forward")
    if not (isinstance(relu_cache, LayerCache) and relu_cache.producer == "relu_forward"):
        _backward_args(dout, relu_cache, "relu_forward")  # raises TypeError naming cache
    # dout is validated (and cast) against the affine cache, whose output the ReLU's has.
    return _affine_backward(dout, fc_cache, need_dx, reg, act=relu_cache.saved["op"].saved["x"])


def affine_bn_relu_forward(x, w, b, gamma, beta, bn_param):
    """Convenience layer that performs an affine transform, batch normalization and a ReLU.

    Parameters
    ----------
    x, w, b
        As for ``affine_relu_forward``.
    gamma, beta : array_like of shape (M,)
        Scale and shift parameters of the batch normalization.
    bn_param : dict
        As for ``layers.batchnorm_forward`` ('mode' required; the running statistics in it
        are updated in train mode).

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : tuple
        ``(fc_cache, bn_cache, relu_cache)``.
    """
    a, fc_cache = affine_forward(x, w, b)
    an, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    cache = (fc_cache, bn_cache, relu_cache)
    return out, cache


def affine_bn_relu_backward(dout, cache):
    """Backward pass for the affine-batchnorm-relu convenience layer.

    Returns
    -------
    dx, dw, db
        As for ``affine_relu_backward``.
    dgamma, dbeta : ndarray of shape (M,)
    """
    return _affine_bn_relu_backward(dout, cache)[:5]


def _affine_bn_relu_backward(dout, cache, need_dx=True, reg=None):
    """With the model options (``need_dx``, ``reg``); returns ``(dx, dw, db, dgamma, dbeta,
    sumsq)``."""
    fc_cache, bn_cache, relu_cache = _unpack(cache, 3, "affine_bn_relu_forward")
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = batchnorm_backward_alt(dan, bn_cache)
    dx, dw, db, sumsq = _affine_backward(da, fc_cache, need_dx, reg)
    return dx, dw, db, dgamma, dbeta, sumsq


def affine_ln_relu_forward(x, w, b, gamma, beta, ln_param):
    """Convenience layer that performs an affine transform, layer normalization and a ReLU.

    Parameters
    ----------
    x, w, b
        As for ``affine_relu_forward``.
    gamma, beta : array_like of shape (M,)
        Scale and shift parameters of the layer normalization.
    ln_param : dict
        As for ``layers.layernorm_forward`` (optional 'eps').

    Returns
    -------
    out : ndarray of shape (N, M)
    cache : tuple
        ``(fc_cache, ln_cache, relu_cache)``.
    """
    a, fc_cache = affine_forward(x, w, b)
    an, ln_cache = layernorm_forward(a, gamma, beta, ln_param)
    out, relu_cache = relu_forward(an)
    cache = (fc_cache, ln_cache, relu_cache)
    return out, cache


def affine_ln_relu_backward(dout, cache):
    """Backward pass for the affine-layernorm-relu convenience layer.

    Returns
    -------
    dx, dw, db
        As for ``affine_relu_backward``.
    dgamma, dbeta : ndarray of shape (M,)
    """
    return _affine_ln_relu_backward(dout, cache)[:5]


def _affine_ln_relu_backward(dout, cache, need_dx=True, reg=None):
    """With the model options (``need_dx``, ``reg``); returns ``(dx, dw, db, dgamma, dbeta,
    sumsq)``."""
    fc_cache, ln_cache, relu_cache = _unpack(cache, 3, "affine_ln_relu_forward")
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = layernorm_backward(dan, ln_cache)
    dx, dw, db, sumsq = _affine_backward(da, fc_cache, need_dx, reg)
    return dx, dw, db, dgamma, dbeta, sumsq


# --- convolutional --------------------------------------------------------------------------


def conv_relu_forward(x, w, b, conv_param):
    """A convenience layer that performs a convolution followed by a ReLU.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
        Input to the convolutional layer.
    w : array_like of shape (F, C, HH, WW)
    b : array_like of shape (F,)
        Weights for the convolutional layer.
    conv_param : dict
        'stride' and 'pad', as for ``fast_layers.conv_forward_fast``.

    Returns
    -------
    out : ndarray of shape (N, F, H', W')
        Output from the ReLU.
    cache : tuple
        ``(conv_cache, relu_cache)``, to give to the backward pass.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    cache = (conv_cache, relu_cache)
    return out, cache


def conv_relu_backward(dout, cache):
    """Backward pass for the conv-relu convenience layer.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    return _conv_relu_backward(dout, cache)


def _conv_relu_backward(dout, cache, need_dx=True):
    """``need_dx=False``: dx is not computed (None), for a model's first layer."""
    conv_cache, relu_cache = _unpack(cache, 2, "conv_relu_forward")
    da = relu_backward(dout, relu_cache)
    if not need_dx:
        return (None, *conv_backward_no_dx(da, conv_cache))
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Convenience layer that performs a convolution, spatial batchnorm and a ReLU.

    Parameters
    ----------
    x, w, b, conv_param
        As for ``conv_relu_forward``.
    gamma, beta : array_like of shape (F,)
        Scale and shift parameters of the spatial batch normalization.
    bn_param : dict
        As for ``layers.spatial_batchnorm_forward``.

    Returns
    -------
    out : ndarray of shape (N, F, H', W')
    cache : tuple
        ``(conv_cache, bn_cache, relu_cache)``.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    cache = (conv_cache, bn_cache, relu_cache)
    return out, cache


def conv_bn_relu_backward(dout, cache):
    """Backward pass for the conv-bn-relu convenience layer.

    Returns
    -------
    dx, dw, db
        As for ``conv_relu_backward``.
    dgamma, dbeta : ndarray of shape (F,)
    """
    return _conv_bn_relu_backward(dout, cache)


def _conv_bn_relu_backward(dout, cache, need_dx=True):
    """``need_dx=False``: dx is not computed (None), for a model's first layer."""
    conv_cache, bn_cache, relu_cache = _unpack(cache, 3, "conv_bn_relu_forward")
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    if not need_dx:
        return (None, *conv_backward_no_dx(da, conv_cache), dgamma, dbeta)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db, dgamma, dbeta


def _conv_relu_pool_forward(x, w, b, conv_param, pool_param, kernels):
    a, conv_cache = kernels.conv_forward(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = kernels.pool_forward(s, pool_param)
    cache = (conv_cache, relu_cache, pool_cache)
    return out, cache


def _conv_relu_pool_backward(dout, cache, kernels, need_dx=True):
    """``need_dx=False``: dx is not computed (None), for a model's first layer."""
    conv_cache, relu_cache, pool_cache = _unpack(cache, 3, "conv_relu_pool_forward")
    ds = kernels.pool_backward(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    if not need_dx:
        backend = "reference" if kernels is _KERNELS["reference"] else "fast"
        return (None, *conv_backward_no_dx(da, conv_cache, backend))
    dx, dw, db = kernels.conv_backward(da, conv_cache)
    return dx, dw, db


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convenience layer that performs a convolution, a ReLU, and a pool.

    Parameters
    ----------
    x, w, b, conv_param
        As for ``conv_relu_forward``.
    pool_param : dict
        'pool_height', 'pool_width' and 'stride', as for
        ``fast_layers.max_pool_forward_fast``.

    Returns
    -------
    out : ndarray of shape (N, F, H'', W'')
        Output from the pooling layer.
    cache : tuple
        ``(conv_cache, relu_cache, pool_cache)``, to give to the backward pass.
    """
    return _conv_relu_pool_forward(x, w, b, conv_param, pool_param, _KERNELS["fast"])


def conv_relu_pool_backward(dout, cache):
    """Backward pass for the conv-relu-pool convenience layer.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (F, C, HH, WW)
    db : ndarray of shape (F,)
    """
    return _conv_relu_pool_backward(dout, cache, _KERNELS["fast"])
