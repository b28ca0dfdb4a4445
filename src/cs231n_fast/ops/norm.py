"""Validated normalisation layers over the Cython kernels (``_ext.norm``): batch normalisation of
(N, D) and (N, C, H, W) inputs, layer normalisation, spatial group normalisation.

Statistics are computed in two passes (mean, then the mean of squared deviations from it) with
float64 accumulation for float32 and float64 inputs alike; the variance is the biased one, as in
the course. The forward caches the input, the mean and ``ivar = 1 / sqrt(var + eps)``; the
backward recomputes ``xhat = (x - mean) * ivar`` (one array written by the forward instead of
two). Results are bitwise identical for any ``n_threads``.

Dtype policy: float32 if x, gamma and beta are all float32, else float64; running statistics
are cast to that dtype. Inputs are never written to; outputs are fresh arrays.
"""

import numpy as np

from .._cache import NormCache
from .._ext import norm as _k
from .._memory import empty
from .._threads import work_threads
from .._validation import (
    as_array,
    check_ndim,
    check_nonempty,
    check_shape,
    positive_int,
    real_number,
    result_dtype,
)

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
]

_MODES = ("train", "test")
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)

def _check_mode(mode, name="mode"):
    if mode != "train" and mode != "test":
        raise ValueError(f"{name} must be 'train' or 'test'; got {mode!r}")
    return mode == "train"


def _scalars(eps, momentum, eps_name="eps", momentum_name="momentum"):
    eps = real_number(eps_name, eps, 0.0, low_open=True)
    if momentum is not None:
        momentum = real_number(momentum_name, momentum, 0.0, 1.0)
    return eps, momentum


def _input(x, ndim, layout):
    x = as_array("x", x)
    if x.ndim != ndim:
        check_ndim("x", x, ndim, layout)
    if x.size == 0:
        check_nonempty("x", x, layout)
    return x


def _params(x, gamma, beta, shape, why, gamma_name="gamma", beta_name="beta"):
    gamma, beta = as_array(gamma_name, gamma), as_array(beta_name, beta)
    if gamma.shape != shape:
        check_shape(gamma_name, gamma, shape, why)
    if beta.shape != shape:
        check_shape(beta_name, beta, shape, why)
    return gamma, beta


def _running(stat, name, c, dtype):
    """A running statistic (None: zeros, as the course) of shape (C,), contiguous in ``dtype``."""
    if stat is None:
        return np.zeros(c, dtype)
    stat = as_array(name, stat)
    if stat.shape != (c,):
        check_shape(name, stat, (c,), "one per feature (channel) of x")
    return np.ascontiguousarray(stat, dtype)


# --- batch normalisation (shared by the (N, D) and (N, C, H, W) forms) -----------------------------


def _bn_forward(kind, x, gamma, beta, running_mean, running_var, train, eps, momentum, n_threads,
                names=("running_mean", "running_var")):
    """x validated (2-D or 4-D), gamma/beta validated (C,); scalars validated."""
    dtype = result_dtype(x, gamma, beta)
    shape = x.shape
    n, c = shape[0], shape[1]
    l = x.size // (n * c)
    x = np.ascontiguousarray(x, dtype)
    gamma = np.ascontiguousarray(gamma, dtype)
    beta = np.ascontiguousarray(beta, dtype)
    running_mean = _running(running_mean, names[0], c, dtype)
    running_var = _running(running_var, names[1], c, dtype)
    out = empty(shape, dtype)
    nt = work_threads(n_threads, x.size)
    x3, out3 = x.reshape(n, c, l), out.reshape(n, c, l)
    if train:
        # Five (C,) results as rows of one allocation (rows never overlap).
        ivar, mean, var, new_mean, new_var = np.empty((5, c), dtype)
        _k.bn_train_forward(x3, gamma, beta, running_mean, running_var, out3, mean, var, ivar,
                            new_mean, new_var, eps, momentum, nt)
    else:
        ivar = np.empty(c, dtype)
        _k.bn_test_forward(x3, gamma, beta, running_mean, running_var, out3, ivar, eps, nt)
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean, running_var
    cache = NormCache(kind, x, gamma, mean, var, ivar, eps, train, 0, shape)
    return out, new_mean, new_var, cache


def _cache_args(dout, cache, kind, layout):
    """``dout`` checked against a ``kind`` cache; returns dout, x, gamma, mean, ivar in the
    compute dtype (float32 when the forward ran in float32 and dout is float32)."""
    if not isinstance(cache, NormCache) or cache.kind != kind:
        got = f"a {cache.kind} cache" if isinstance(cache, NormCache) else type(cache).__name__
        raise TypeError(f"cache must be the NormCache returned by {kind}_forward; got {got}")
    dout = as_array("dout", dout)
    if dout.shape != cache.out_shape:
        check_ndim("dout", dout, len(cache.out_shape), layout)
        check_shape("dout", dout, cache.out_shape, f"the output shape of the {kind}_forward call that made cache")
    x = cache.x
    if not isinstance(x, np.ndarray) or x.shape != cache.out_shape:
        raise ValueError(f"cache is not the one {kind}_forward returned: its x does not have shape {cache.out_shape}")
    for a in (cache.gamma, cache.mean, cache.ivar):
        if not isinstance(a, np.ndarray) or a.dtype != x.dtype or not a.flags.c_contiguous or not x.flags.c_contiguous:
            raise ValueError(f"cache is not the one {kind}_forward returned: its arrays must be contiguous in x's dtype")
    dtype = result_dtype(dout, x)
    if dtype == x.dtype:  # the forward's arrays are contiguous in its dtype already
        return np.ascontiguousarray(dout, dtype), x, cache.gamma, cache.mean, cache.ivar
    return [np.ascontiguousarray(a, dtype) for a in (dout, x, cache.gamma, cache.mean, cache.ivar)]


def _bn_backward(kind, dout, cache, n_threads, layout):
    dout, x, gamma, mean, ivar = _cache_args(dout, cache, kind, layout)
    shape = x.shape
    n, c = shape[0], shape[1]
    l = x.size // (n * c)
    if gamma.shape != (c,) or mean.shape != (c,) or ivar.shape != (c,):
        raise ValueError(f"cache is not the one {kind}_forward returned: its gamma, mean and ivar must have shape ({c},)")
    dx = empty(shape, x.dtype)
    dgamma, dbeta = np.empty(c, x.dtype), np.empty(c, x.dtype)
    nt = work_threads(n_threads, x.size)
    _k.bn_backward(x.reshape(n, c, l), dout.reshape(n, c, l), gamma, mean, ivar, dx.reshape(n, c, l),
                   dgamma, dbeta, bool(cache.batch_stats), nt)
    return dx, dgamma, dbeta


def batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None, *, mode="train", eps=1e-5,
                      momentum=0.9, n_threads=None):
    """Batch normalisation of (N, D) data over the batch.

    Parameters
    ----------
    x : array_like of shape (N, D)
    gamma, beta : array_like of shape (D,)
        Scale and shift.
    running_mean, running_var : array_like of shape (D,), optional
        Running statistics (default zeros). Not written to.
    mode : {"train", "test"}
        "train" normalises with the batch mean and biased variance and updates the running
        statistics, ``momentum * running + (1 - momentum) * batch`` in the compute dtype (the
        course's formula); "test" normalises with the running statistics.
    eps : float, default 1e-5
        Added to the variance, > 0.
    momentum : float, default 0.9
        In [0, 1].
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    out : ndarray of shape (N, D)
        ``gamma * (x - mean) / sqrt(var + eps) + beta``.
    running_mean, running_var : ndarray of shape (D,)
        New arrays in train mode; in test mode the running statistics as given (cast to the
        compute dtype, copied only if needed).
    cache : NormCache
        For :func:`batchnorm_backward`.

    Notes
    -----
    Parallel over blocks of 64 features; within a block the rows are walked in order with the
    loop over the block's features vectorised (each feature's float64 sums in row order).
    Bitwise identical for any thread count.
    """
    train = _check_mode(mode)
    eps, momentum = _scalars(eps, momentum)
    x = _input(x, 2, "(N, D)")
    gamma, beta = _params(x, gamma, beta, (x.shape[1],), "(D,), one per feature of x")
    return _bn_forward("batchnorm", x, gamma, beta, running_mean, running_var, train, eps, momentum, n_threads)


def batchnorm_backward(dout, cache, *, n_threads=None):
    """Backward pass of :func:`batchnorm_forward`.

    Returns ``(dx, dgamma, dbeta)``. After a train-mode forward, ``dx`` goes through the batch
    statistics: ``dx = ivar * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`` with
    ``dxhat = dout * gamma`` (the course's closed form); after a test-mode forward the statistics
    are constants and ``dx = dout * gamma * ivar``. ``dgamma = sum(dout * xhat)``,
    ``dbeta = sum(dout)``, summed in float64. Bitwise identical for any thread count.
    """
    return _bn_backward("batchnorm", dout, cache, n_threads, "(N, D)")


def spatial_batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None, *, mode="train",
                              eps=1e-5, momentum=0.9, n_threads=None):
    """Batch normalisation of each channel of (N, C, H, W) data over its N * H * W values.

    As :func:`batchnorm_forward` with D = C; gamma, beta and the running statistics are (C,).
    The NCHW input is read in place (no transposed copy): parallel over channels, each
    channel's N runs of H * W values summed into 16 float64 partial sums. Bitwise identical for
    any thread count.
    """
    train = _check_mode(mode)
    eps, momentum = _scalars(eps, momentum)
    x = _input(x, 4, "(N, C, H, W)")
    gamma, beta = _params(x, gamma, beta, (x.shape[1],), "(C,), one per channel of x")
    return _bn_forward("spatial_batchnorm", x, gamma, beta, running_mean, running_var, train, eps, momentum,
                       n_threads)


def spatial_batchnorm_backward(dout, cache, *, n_threads=None):
    """Backward pass of :func:`spatial_batchnorm_forward`: ``(dx, dgamma, dbeta)``, dgamma and
    dbeta of shape (C,). Parallel over channels; bitwise identical for any thread count."""
    return _bn_backward("spatial_batchnorm", dout, cache, n_threads, "(N, C, H, W)")


# --- layer normalisation ------------------------------------------------------------------------


def _ln_forward(x, gamma, beta, eps, n_threads):
    dtype = result_dtype(x, gamma, beta)
    n, d = x.shape
    x = np.ascontiguousarray(x, dtype)
    gamma = np.ascontiguousarray(gamma, dtype)
    beta = np.ascontiguousarray(beta, dtype)
    out = empty((n, d), dtype)
    mean, ivar = np.empty(n, dtype), np.empty(n, dtype)
    nt = work_threads(n_threads, x.size)
    _k.ln_forward(x, gamma, beta, out, mean, ivar, eps, nt)
    return out, NormCache("layernorm", x, gamma, mean, None, ivar, eps, True, 0, (n, d))


def layernorm_forward(x, gamma, beta, *, eps=1e-5, n_threads=None):
    """Layer normalisation of each row of (N, D) data.

    Parameters
    ----------
    x : array_like of shape (N, D)
    gamma, beta : array_like of shape (D,)
    eps : float, default 1e-5
        Added to each row's (biased) variance, > 0.
    n_threads : int, optional

    Returns
    -------
    out : ndarray of shape (N, D)
    cache : NormCache
        For :func:`layernorm_backward`.

    Notes
    -----
    Parallel over rows; each row's statistics are two-pass float64 sums. Bitwise identical for
    any thread count.
    """
    eps = real_number("eps", eps, 0.0, low_open=True)
    x = _input(x, 2, "(N, D)")
    gamma, beta = _params(x, gamma, beta, (x.shape[1],), "(D,), one per feature of x")
    return _ln_forward(x, gamma, beta, eps, n_threads)


def layernorm_backward(dout, cache, *, n_threads=None):
    """Backward pass of :func:`layernorm_forward`: ``(dx, dgamma, dbeta)``.

    dx is parallel over rows, dgamma and dbeta over blocks of 64 columns (column sums in row
    order, float64), in one parallel region. Bitwise identical for any thread count.
    """
    dout, x, gamma, mean, ivar = _cache_args(dout, cache, "layernorm", "(N, D)")
    n, d = x.shape
    if gamma.shape != (d,) or mean.shape != (n,) or ivar.shape != (n,):
        raise ValueError("cache is not the one layernorm_forward returned: its gamma, mean or ivar has the wrong shape")
    dx = empty((n, d), x.dtype)
    dgamma, dbeta = np.empty(d, x.dtype), np.empty(d, x.dtype)
    nt = work_threads(n_threads, x.size)
    _k.ln_backward(x, dout, gamma, mean, ivar, dx, dgamma, dbeta, nt)
    return dx, dgamma, dbeta


# --- spatial group normalisation ----------------------------------------------------------------


def _groups(G, c, shape):
    G = positive_int("G", G)
    if c % G:
        raise ValueError(f"G must divide the number of channels C = {c} of x {shape}; got G = {G}")
    return G


def _gn_forward(x, gamma, beta, G, eps, n_threads):
    dtype = result_dtype(x, gamma, beta)
    shape = x.shape
    n, c = shape[0], shape[1]
    l = x.size // (n * c)
    x = np.ascontiguousarray(x, dtype)
    gamma_c = np.ascontiguousarray(gamma, dtype).reshape(c)
    beta_c = np.ascontiguousarray(beta, dtype).reshape(c)
    out = empty(shape, dtype)
    mean, ivar = np.empty(n * G, dtype), np.empty(n * G, dtype)
    nt = work_threads(n_threads, x.size)
    _k.gn_forward(x.reshape(n, c, l), gamma_c, beta_c, out.reshape(n, c, l), mean, ivar, G, eps, nt)
    gamma = gamma_c.reshape(gamma.shape)
    return out, NormCache("spatial_groupnorm", x, gamma, mean, None, ivar, eps, True, G, shape)


def spatial_groupnorm_forward(x, gamma, beta, G, *, eps=1e-5, n_threads=None):
    """Group normalisation of (N, C, H, W) data: each example's C channels in G groups of C / G
    consecutive channels, each group normalised over its (C / G) * H * W values, then scaled and
    shifted per channel.

    Parameters
    ----------
    x : array_like of shape (N, C, H, W)
    gamma, beta : array_like of shape (1, C, 1, 1) (the course's) or (C,)
    G : int
        Number of groups, a divisor of C.
    eps : float, default 1e-5
    n_threads : int, optional

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    cache : NormCache
        For :func:`spatial_groupnorm_backward`.

    Notes
    -----
    Parallel over the N * G groups (each a contiguous run of x); two-pass float64 statistics.
    Bitwise identical for any thread count.
    """
    eps = real_number("eps", eps, 0.0, low_open=True)
    x = _input(x, 4, "(N, C, H, W)")
    c = x.shape[1]
    G = _groups(G, c, x.shape)
    gamma, beta = as_array("gamma", gamma), as_array("beta", beta)
    if gamma.shape not in ((1, c, 1, 1), (c,)):
        check_shape("gamma", gamma, (1, c, 1, 1), "(1, C, 1, 1) or (C,), one per channel of x")
    if beta.shape != gamma.shape:
        check_shape("beta", beta, gamma.shape, "the shape of gamma, one per channel of x")
    return _gn_forward(x, gamma, beta, G, eps, n_threads)


def spatial_groupnorm_backward(dout, cache, *, n_threads=None):
    """Backward pass of :func:`spatial_groupnorm_forward`: ``(dx, dgamma, dbeta)``, dgamma and
    dbeta in gamma's shape.

    Parallel over groups: each channel's float64 sums of dout and dout * xhat per example, then
    dx; dgamma and dbeta add those sums over the batch in order. Bitwise identical for any
    thread count.
    """
    dout, x, gamma, mean, ivar = _cache_args(dout, cache, "spatial_groupnorm", "(N, C, H, W)")
    shape = x.shape
    n, c = shape[0], shape[1]
    l = x.size // (n * c)
    G = cache.groups
    if not (isinstance(G, int) and G >= 1 and c % G == 0) or gamma.size != c or mean.shape != (n * G,) \
            or ivar.shape != (n * G,):
        raise ValueError("cache is not the one spatial_groupnorm_forward returned: its groups, gamma, mean or "
                         "ivar disagree with x")
    dx = empty(shape, x.dtype)
    dgamma, dbeta = np.empty(c, x.dtype), np.empty(c, x.dtype)
    sums = np.empty((n, c, 2), np.float64)
    nt = work_threads(n_threads, x.size)
    _k.gn_backward(x.reshape(n, c, l), dout.reshape(n, c, l), gamma.reshape(c), mean, ivar,
                   dx.reshape(n, c, l), dgamma, dbeta, sums, G, nt)
    return dx, dgamma.reshape(gamma.shape), dbeta.reshape(gamma.shape)
