"""Normalisation layers in vectorised NumPy: the readable twin of ``cs231n_fast.ops.norm``.

Same names, signatures, validation, dtype policy and cache (:class:`~cs231n_fast._cache.NormCache`)
as ``ops.norm``, so either backward accepts either forward's cache; ``n_threads`` is accepted and
ignored. The arithmetic is the course's (the NumPy code ``layers.py`` held before the kernels):
statistics in two passes in the compute dtype, ``xhat = (x - mean) * ivar``,
``out = gamma * xhat + beta`` and the closed-form backward
``dx = ivar * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))``. Also here:
:func:`batchnorm_backward_graph`, the course's node-by-node walk of the batch-normalisation graph,
an independent derivation the closed form is tested against (the notebook's check).
"""

import numpy as np

from .._cache import NormCache
from ..ops.norm import _cache_args, _check_mode, _groups, _input, _params, _running, _scalars
from .._validation import as_array, check_shape, real_number, result_dtype

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_graph",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
]


def _standardize(x, axis, eps):
    """Two-pass statistics over ``axis`` (kept as size-1 dims): ``(mean, var, ivar, xhat)``."""
    mean = x.mean(axis=axis, keepdims=True)
    xmu = x - mean
    var = np.mean(xmu * xmu, axis=axis, keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    return mean, var, ivar, xmu * ivar


def _standardize_backward(dxhat, xhat, ivar, axis):
    """Gradient through ``xhat = (x - mean(x)) / sqrt(var(x) + eps)`` over ``axis``."""
    return ivar * (
        dxhat
        - dxhat.mean(axis=axis, keepdims=True)
        - xhat * np.mean(dxhat * xhat, axis=axis, keepdims=True)
    )


# --- batch normalisation ----------------------------------------------------------------------


def _bn_axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _bn_forward(kind, x, gamma, beta, running_mean, running_var, train, eps, momentum):
    dtype = result_dtype(x, gamma, beta)
    x, gamma, beta = (np.ascontiguousarray(a, dtype) for a in (x, gamma, beta))
    c = x.shape[1]
    running_mean = _running(running_mean, "running_mean", c, dtype)
    running_var = _running(running_var, "running_var", c, dtype)
    axes = _bn_axes(x)
    bshape = (1, c) + (1,) * (x.ndim - 2)  # broadcast a (C,) array over x
    if train:
        mean, var, ivar, xhat = _standardize(x, axes, eps)
        mean, var, ivar = mean.reshape(c), var.reshape(c), ivar.reshape(c)
        new_mean = momentum * running_mean + (1 - momentum) * mean
        new_var = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
        ivar = 1 / np.sqrt(running_var + eps)
        xhat = (x - mean.reshape(bshape)) * ivar.reshape(bshape)
        new_mean, new_var = running_mean, running_var
    out = gamma.reshape(bshape) * xhat + beta.reshape(bshape)
    return out, new_mean, new_var, NormCache(kind, x, gamma, mean, var, ivar, eps, train, 0, x.shape)


def _bn_backward(kind, dout, cache, layout):
    dout, x, gamma, mean, ivar = _cache_args(dout, cache, kind, layout)
    axes = _bn_axes(x)
    bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    xhat = (x - mean.reshape(bshape)) * ivar.reshape(bshape)
    dgamma, dbeta = np.sum(dout * xhat, axis=axes), np.sum(dout, axis=axes)
    dxhat = dout * gamma.reshape(bshape)
    if cache.batch_stats:
        dx = _standardize_backward(dxhat, xhat, ivar.reshape(bshape), axes)
    else:  # test mode: the running statistics are constants
        dx = dxhat * ivar.reshape(bshape)
    return dx, dgamma, dbeta


def batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None, *, mode="train", eps=1e-5,
                      momentum=0.9, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.norm.batchnorm_forward`."""
    train = _check_mode(mode)
    eps, momentum = _scalars(eps, momentum)
    x = _input(x, 2, "(N, D)")
    gamma, beta = _params(x, gamma, beta, (x.shape[1],), "(D,), one per feature of x")
    return _bn_forward("batchnorm", x, gamma, beta, running_mean, running_var, train, eps, momentum)


def batchnorm_backward(dout, cache, *, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.norm.batchnorm_backward` (the closed form)."""
    return _bn_backward("batchnorm", dout, cache, "(N, D)")


def batchnorm_backward_graph(dout, cache, *, n_threads=None):
    """Batch-normalisation backward by walking the forward's graph backwards node by node.

    Forward: xmu = x - mean, sq = xmu ** 2, var = mean(sq), std = sqrt(var + eps),
    ivar = 1 / std, xhat = xmu * ivar, out = gamma * xhat + beta. The same gradients as
    :func:`batchnorm_backward`, derived independently (the course's ``batchnorm_backward``).
    """
    dout, x, gamma, mean, ivar = _cache_args(dout, cache, "batchnorm", "(N, D)")
    n = x.shape[0]
    xmu = x - mean
    xhat = xmu * ivar
    dgamma, dbeta = np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
    dxhat = dout * gamma
    if not cache.batch_stats:
        return dxhat * ivar, dgamma, dbeta
    std = np.sqrt(np.asarray(cache.var, x.dtype) + cache.eps)
    divar = np.sum(dxhat * xmu, axis=0, keepdims=True)
    dxmu = dxhat * ivar  # the direct path xhat <- xmu
    dstd = -divar / (std * std)
    dvar = 0.5 * dstd / std
    dsq = dvar / n  # the same for every sample
    dxmu = dxmu + 2 * xmu * dsq  # the path xmu <- sq <- var
    dmean = -np.sum(dxmu, axis=0, keepdims=True)
    return dxmu + dmean / n, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None, *, mode="train",
                              eps=1e-5, momentum=0.9, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.norm.spatial_batchnorm_forward` (statistics over the
    axes (0, 2, 3))."""
    train = _check_mode(mode)
    eps, momentum = _scalars(eps, momentum)
    x = _input(x, 4, "(N, C, H, W)")
    gamma, beta = _params(x, gamma, beta, (x.shape[1],), "(C,), one per channel of x")
    return _bn_forward("spatial_batchnorm", x, gamma, beta, running_mean, running_var, train, eps, momentum)


def spatial_batchnorm_backward(dout, cache, *, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.norm.spatial_batchnorm_backward`."""
    return _bn_backward("spatial_batchnorm", dout, cache, "(N, C, H, W)")


# --- layer normalisation ------------------------------------------------------------------------


def layernorm_forward(x, gamma, beta, *, eps=1e-5, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.norm.layernorm_forward`."""
    eps = real_number("eps", eps, 0.0, low_open=True)
    x = _input(x, 2, "(N, D)")
    gamma, beta = _params(x, gamma, beta, (x.shape[1],), "(D,), one per feature of x")
    dtype = result_dtype(x, gamma, beta)
    x, gamma, beta = (np.ascontiguousarray(a, dtype) for a in (x, gamma, beta))
    mean, var, ivar, xhat = _standardize(x, 1, eps)
    out = gamma * xhat + beta
    cache = NormCache("layernorm", x, gamma, mean[:, 0], var[:, 0], ivar[:, 0], eps, True, 0, x.shape)
    return out, cache


def layernorm_backward(dout, cache, *, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.norm.layernorm_backward`."""
    dout, x, gamma, mean, ivar = _cache_args(dout, cache, "layernorm", "(N, D)")
    xhat = (x - mean[:, None]) * ivar[:, None]
    dgamma, dbeta = np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
    return _standardize_backward(dout * gamma, xhat, ivar[:, None], axis=1), dgamma, dbeta


# --- spatial group normalisation ----------------------------------------------------------------


def spatial_groupnorm_forward(x, gamma, beta, G, *, eps=1e-5, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.norm.spatial_groupnorm_forward`."""
    eps = real_number("eps", eps, 0.0, low_open=True)
    x = _input(x, 4, "(N, C, H, W)")
    n, c = x.shape[:2]
    G = _groups(G, c, x.shape)
    gamma, beta = as_array("gamma", gamma), as_array("beta", beta)
    if gamma.shape not in ((1, c, 1, 1), (c,)):
        check_shape("gamma", gamma, (1, c, 1, 1), "(1, C, 1, 1) or (C,), one per channel of x")
    if beta.shape != gamma.shape:
        check_shape("beta", beta, gamma.shape, "the shape of gamma, one per channel of x")
    dtype = result_dtype(x, gamma, beta)
    x, gamma, beta = (np.ascontiguousarray(a, dtype) for a in (x, gamma, beta))
    mean, var, ivar, xhat = _standardize(x.reshape(n, G, -1), 2, eps)
    out = gamma.reshape(1, c, 1, 1) * xhat.reshape(x.shape) + beta.reshape(1, c, 1, 1)
    cache = NormCache("spatial_groupnorm", x, gamma, mean.reshape(-1), var.reshape(-1), ivar.reshape(-1), eps,
                      True, G, x.shape)
    return out, cache


def spatial_groupnorm_backward(dout, cache, *, n_threads=None):
    """Twin of :func:`cs231n_fast.ops.norm.spatial_groupnorm_backward`."""
    dout, x, gamma, mean, ivar = _cache_args(dout, cache, "spatial_groupnorm", "(N, C, H, W)")
    n, c = x.shape[:2]
    G = cache.groups
    xg = x.reshape(n, G, -1)
    xhat = (xg - mean.reshape(n, G, 1)) * ivar.reshape(n, G, 1)
    dout_g = dout.reshape(n, G, -1)
    dxhat = (dout * gamma.reshape(1, c, 1, 1)).reshape(n, G, -1)
    dx = _standardize_backward(dxhat, xhat, ivar.reshape(n, G, 1), axis=2).reshape(x.shape)
    prod = (dout_g * xhat).reshape(x.shape)
    dgamma = prod.sum(axis=(0, 2, 3)).reshape(gamma.shape)
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(gamma.shape)
    return dx, dgamma, dbeta
