"""Validated first-order update rules over the fused kernels (``cs231n_fast._ext.optim``).

Each rule reads the weights, the gradient and the old optimiser state and returns the new
weights and the new state, all fresh arrays, in one pass over memory (the course's NumPy code
makes 4-12 passes and as many temporaries). The formulas are the course's, in the course's
order (see ``csrc/optim_kernels.h``); :mod:`cs231n_fast.reference.optim` is the NumPy twin with
the same names and signatures, and :mod:`cs231n_fast.optim` the course's drop-in
``rule(w, dw, config)`` API over these functions.

Common to every function:

* ``w`` is a real array of any shape (0-d and empty included; integers are updated in
  float64); ``dw`` and each state array have ``w``'s shape (any real dtype, any memory
  layout). A state array may be None,
  meaning zeros (the course's default on the first call).
* Dtype policy: float32 when ``w``, ``dw`` and the given state arrays are all float32, else
  float64; every result is C-contiguous in that dtype.
* Nothing is written into an input.
* ``n_threads``: threads for the kernel, default OpenMP's current maximum; arrays below
  :data:`cs231n_fast._threads.SERIAL_WORK` elements of work run on one thread. Results are
  bitwise identical for any thread count (the kernels are elementwise).
"""

import math
import numbers

import numpy as np

from .. import _memory
from .._ext import optim as _k
from .._threads import SERIAL_WORK, work_threads
from .._validation import as_array, check_shape, result_dtype

__all__ = [
    "sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam", "sum_of_squares",
]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_INF = math.inf
_POOL_MIN_BYTES = _memory.POOL_MIN_BYTES

#: Allowed range of each hyperparameter: (words for the message, test). The tests reject NaN
#: (every comparison with NaN is false) and infinities. Every value the course's formulas
#: compute with is allowed: a learning rate of 0 (no step), momentum or decay rate 1 ("between
#: 0 and 1" in the course's docstrings). Refused: a negative learning rate (ascent), epsilon
#: <= 0 (0 / 0 where a gradient and its history are zero), beta1 or beta2 of 1 (Adam's bias
#: correction divides by 1 - beta ** t = 0).
RANGES = {
    "learning_rate": (">= 0", lambda v: 0.0 <= v < _INF),
    "epsilon": ("> 0", lambda v: 0.0 < v < _INF),
    "momentum": ("in [0, 1]", lambda v: 0.0 <= v <= 1.0),
    "decay_rate": ("in [0, 1]", lambda v: 0.0 <= v <= 1.0),
    "beta1": ("in [0, 1)", lambda v: 0.0 <= v < 1.0),
    "beta2": ("in [0, 1)", lambda v: 0.0 <= v < 1.0),
}


# --- validation (shared with reference.optim and the course adapter cs231n_fast.optim) -------


def hyperparameter(key, value, label="{}"):
    """``value`` as a float checked against :data:`RANGES` [key]; messages name
    ``label.format(key)`` (e.g. ``"config[{!r}]"`` for the course's config dict)."""
    if type(value) is float and RANGES[key][1](value):
        return value
    name = label.format(key)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number; got {value!r} of type {type(value).__name__}"
        )
    x = float(value)
    words, ok = RANGES[key]
    if not ok(x):
        raise ValueError(f"{name} must be a finite number {words}; got {value!r}")
    return x


def iteration(t, name="t", minimum=1):
    """``t`` (an Adam iteration number) as an int >= ``minimum``; an integral float such as
    3.0 (which the course's ``t += 1`` and ``beta ** t`` compute with) is taken as its int."""
    if type(t) is int and t >= minimum:
        return t
    if isinstance(t, numbers.Real) and not isinstance(t, (numbers.Integral, np.bool_)):
        if math.isfinite(t) and float(t).is_integer():
            t = int(t)
    if not isinstance(t, numbers.Integral) or isinstance(t, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int (the iteration number); got {t!r}")
    if t < minimum:
        raise ValueError(f"{name} must be an int >= {minimum} (the iteration number); got {t!r}")
    return int(t)


def update_arrays(w, dw, states, keys, label="{}"):
    """Check ``w``, ``dw`` and the state arrays (None: zeros) of one update.

    Returns ``(w, dw, states, dtype)``: the arrays as ndarrays of the policy dtype (layout
    unchanged; None stays None). ``keys`` name the states in messages through ``label``.
    The common case (ndarrays of one float dtype and one shape) costs a few attribute reads.
    """
    if type(w) is np.ndarray and type(dw) is np.ndarray:
        dt = w.dtype
        if (dt is _F32 or dt is _F64) and dw.dtype is dt and dw.shape == w.shape:
            for s in states:
                if s is not None and (type(s) is not np.ndarray or s.dtype is not dt
                                      or s.shape != w.shape):
                    break
            else:
                return w, dw, states, dt
    w = as_array("w", w)  # integer weights are updated in float64, as the course's w - ... does
    dw = as_array("dw", dw)
    check_shape("dw", dw, w.shape, "the shape of w")
    checked = []
    for key, s in zip(keys, states):
        if s is not None:
            name = label.format(key)
            s = as_array(name, s)
            check_shape(name, s, w.shape, "the shape of w")
        checked.append(s)
    dtype = result_dtype(w, dw, *(s for s in checked if s is not None))
    cast = [None if s is None else np.asarray(s, dtype=dtype) for s in checked]
    return np.asarray(w, dtype=dtype), np.asarray(dw, dtype=dtype), cast, dtype


# --- kernel calls on checked arrays -----------------------------------------------------------
# The work passed to _threads is in element visits (SERIAL_WORK's unit), weighted by the
# rule's streams and arithmetic: sgd 1, momentum 2, adagrad/rmsprop 3, adam 4 per element.


def _kernels(fused):
    """The float and double specialisations of a fused kernel, by dtype (skips Cython's
    run-time signature matching on each call)."""
    sig = fused.__signatures__
    return {_F32: sig["float"], _F64: sig["double"]}


_SGD = _kernels(_k.sgd)
_MOMENTUM = _kernels(_k.sgd_momentum)
_ADAGRAD_RMSPROP = _kernels(_k.adagrad_rmsprop)
_ADAM = _kernels(_k.adam)

# The run_* functions call the kernels on checked arrays of ``dtype`` (any layout: ravel() is
# a view of a C-contiguous array and a contiguous C-ordered copy of any other; a state of None
# is zeros) and return the new arrays in ``w``'s shape. No validation: the public functions
# below and the course adapter (cs231n_fast.optim) validate first. Written flat (no helper
# calls on the common path): the course's networks call them for every parameter of every
# step, most of them tiny.


def run_sgd(w, dw, dtype, lr, n_threads):
    n = w.size
    nw = np.empty(n, dtype) if n * dtype.itemsize < _POOL_MIN_BYTES else _memory.empty(n, dtype)
    nt = 1 if n_threads is None and n < SERIAL_WORK else work_threads(n_threads, n)
    _SGD[dtype](w.ravel(), dw.ravel(), nw, lr, nt)
    return nw.reshape(w.shape)


def run_momentum(w, dw, vel, dtype, lr, mu, nesterov, n_threads):
    n, shape = w.size, w.shape
    new = np.empty if n * dtype.itemsize < _POOL_MIN_BYTES else _memory.empty
    nw, vo = new(n, dtype), new(n, dtype)
    vel = np.zeros(n, dtype) if vel is None else vel.ravel()
    nt = 1 if n_threads is None and 2 * n < SERIAL_WORK else work_threads(n_threads, 2 * n)
    _MOMENTUM[dtype](w.ravel(), dw.ravel(), vel, nw, vo, lr, mu, nesterov, nt)
    return nw.reshape(shape), vo.reshape(shape)


def run_adagrad_rmsprop(w, dw, cache, dtype, lr, rho, eps, rms, n_threads):
    n, shape = w.size, w.shape
    new = np.empty if n * dtype.itemsize < _POOL_MIN_BYTES else _memory.empty
    nw, co = new(n, dtype), new(n, dtype)
    cache = np.zeros(n, dtype) if cache is None else cache.ravel()
    nt = 1 if n_threads is None and 3 * n < SERIAL_WORK else work_threads(n_threads, 3 * n)
    _ADAGRAD_RMSPROP[dtype](w.ravel(), dw.ravel(), cache, nw, co, lr, rho, eps, rms, nt)
    return nw.reshape(shape), co.reshape(shape)


def run_adam(w, dw, m, v, dtype, t, lr, b1, b2, eps, n_threads):
    n, shape = w.size, w.shape
    new = np.empty if n * dtype.itemsize < _POOL_MIN_BYTES else _memory.empty
    nw, mo, vo = new(n, dtype), new(n, dtype), new(n, dtype)
    m = np.zeros(n, dtype) if m is None else m.ravel()
    v = np.zeros(n, dtype) if v is None else v.ravel()
    nt = 1 if n_threads is None and 4 * n < SERIAL_WORK else work_threads(n_threads, 4 * n)
    _ADAM[dtype](w.ravel(), dw.ravel(), m, v, nw, mo, vo, lr, b1, b2, 1 - b1**t, 1 - b2**t,
                 eps, nt)
    return nw.reshape(shape), mo.reshape(shape), vo.reshape(shape)


# --- public API ------------------------------------------------------------------------------


def sgd(w, dw, learning_rate, *, n_threads=None):
    """Vanilla stochastic gradient descent: ``next_w = w - learning_rate * dw``.

    Parameters
    ----------
    w : array_like of real numbers, any shape
        The current weights (not modified; integers are updated in float64).
    dw : array_like of the shape of ``w``
        The gradient of the loss with respect to ``w``.
    learning_rate : float
        A finite number >= 0.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    next_w : ndarray
        The updated weights, a new C-contiguous array of ``w``'s shape (policy dtype).

    Raises
    ------
    TypeError
        If ``w`` or ``dw`` is not a real numeric array, or ``learning_rate`` not a real
        number.
    ValueError
        If ``dw`` has another shape than ``w`` or ``learning_rate`` is out of range.
    """
    lr = hyperparameter("learning_rate", learning_rate)
    w, dw, _, dtype = update_arrays(w, dw, (), ())
    return run_sgd(w, dw, dtype, lr, n_threads)


def sgd_momentum(w, dw, velocity, learning_rate, momentum, *, n_threads=None):
    """Stochastic gradient descent with momentum.

    As the course writes it::

        v = momentum * velocity - learning_rate * dw
        next_w = w + v

    Parameters
    ----------
    w, dw : as in :func:`sgd`
    velocity : array_like of the shape of ``w``, or None
        The velocity of the previous step (None: zeros).
    learning_rate : float
        A finite number >= 0.
    momentum : float
        In [0, 1].
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    next_w, velocity : ndarray
        New arrays of ``w``'s shape in the policy dtype.

    Raises
    ------
    TypeError, ValueError
        As :func:`sgd`, and for a ``velocity`` of another shape or a ``momentum`` outside
        [0, 1].
    """
    lr = hyperparameter("learning_rate", learning_rate)
    mu = hyperparameter("momentum", momentum)
    w, dw, (vel,), dtype = update_arrays(w, dw, (velocity,), ("velocity",))
    return run_momentum(w, dw, vel, dtype, lr, mu, False, n_threads)


def nesterov_momentum(w, dw, velocity, learning_rate, momentum, *, n_threads=None):
    """Stochastic gradient descent with Nesterov momentum, in the CS231n notes' form::

        v = momentum * velocity - learning_rate * dw
        next_w = w - momentum * velocity + (1 + momentum) * v

    Parameters, returns and errors as in :func:`sgd_momentum`.
    """
    lr = hyperparameter("learning_rate", learning_rate)
    mu = hyperparameter("momentum", momentum)
    w, dw, (vel,), dtype = update_arrays(w, dw, (velocity,), ("velocity",))
    return run_momentum(w, dw, vel, dtype, lr, mu, True, n_threads)


def adagrad(w, dw, cache, learning_rate, epsilon, *, n_threads=None):
    """Adagrad.

    As the course writes it::

        cache = cache + dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Parameters
    ----------
    w, dw : as in :func:`sgd`
    cache : array_like of the shape of ``w``, or None
        The sum of the squared gradients so far (None: zeros).
    learning_rate, epsilon : float
        Finite numbers, learning_rate >= 0 and epsilon > 0.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    next_w, cache : ndarray
        New arrays of ``w``'s shape in the policy dtype.

    Raises
    ------
    TypeError, ValueError
        As :func:`sgd`, and for a ``cache`` of another shape or an ``epsilon`` <= 0.
    """
    lr = hyperparameter("learning_rate", learning_rate)
    eps = hyperparameter("epsilon", epsilon)
    w, dw, (c,), dtype = update_arrays(w, dw, (cache,), ("cache",))
    return run_adagrad_rmsprop(w, dw, c, dtype, lr, 0.0, eps, False, n_threads)


def rmsprop(w, dw, cache, learning_rate, decay_rate, epsilon, *, n_threads=None):
    """RMSProp::

        cache = decay_rate * cache + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Parameters, returns and errors as in :func:`adagrad`; ``decay_rate`` is in [0, 1].
    """
    lr = hyperparameter("learning_rate", learning_rate)
    rho = hyperparameter("decay_rate", decay_rate)
    eps = hyperparameter("epsilon", epsilon)
    w, dw, (c,), dtype = update_arrays(w, dw, (cache,), ("cache",))
    return run_adagrad_rmsprop(w, dw, c, dtype, lr, rho, eps, True, n_threads)


def adam(w, dw, m, v, t, learning_rate, beta1, beta2, epsilon, *, n_threads=None):
    """Adam, with the course's bias correction.

    As the course writes it::

        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw**2
        mt = m / (1 - beta1**t)
        vt = v / (1 - beta2**t)
        next_w = w - learning_rate * mt / (sqrt(vt) + epsilon)

    Parameters
    ----------
    w, dw : as in :func:`sgd`
    m, v : array_like of the shape of ``w``, or None
        The moving averages of the gradient and of its square (None: zeros).
    t : int
        The number of this update, >= 1 (the course's ``config["t"]`` after its increment:
        the first update has ``t = 1``).
    learning_rate, epsilon : float
        Finite numbers, learning_rate >= 0 and epsilon > 0.
    beta1, beta2 : float
        In [0, 1).
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    next_w, m, v : ndarray
        New arrays of ``w``'s shape in the policy dtype.

    Raises
    ------
    TypeError, ValueError
        As :func:`sgd`, and for ``m`` or ``v`` of another shape, ``t`` not an int >= 1,
        ``beta1``/``beta2`` outside [0, 1) or ``epsilon`` <= 0.
    """
    lr = hyperparameter("learning_rate", learning_rate)
    b1 = hyperparameter("beta1", beta1)
    b2 = hyperparameter("beta2", beta2)
    eps = hyperparameter("epsilon", epsilon)
    t = iteration(t)
    w, dw, (m, v), dtype = update_arrays(w, dw, (m, v), ("m", "v"))
    return run_adam(w, dw, m, v, dtype, t, lr, b1, b2, eps, n_threads)


def sum_of_squares(x, *, n_threads=None):
    """``sum(x ** 2)`` accumulated in float64, in a fixed order.

    Parameters
    ----------
    x : array_like of real numbers, any shape
        float32 and float64 arrays are summed by the kernel; other real dtypes are cast to
        float64 first.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    float
        The sum; inf or NaN if ``x`` holds them or the sum overflows.

    Notes
    -----
    Fixed chunks of the flattened array, each summed in 16 fixed lanes, the chunk sums added in
    chunk order: bitwise the same for any thread count and instruction set (unlike a BLAS dot
    product, whose order depends on the CPU, and whose threads fight the kernels' for cores).
    """
    x = as_array("x", x)
    dtype = x.dtype if (x.dtype is _F32 or x.dtype is _F64) else _F64
    flat = np.ascontiguousarray(x, dtype=dtype).ravel()
    n = flat.size
    partial = np.empty(max(1, -(-n // _k.chunk_size())))
    nt = 1 if n_threads is None and n < SERIAL_WORK else work_threads(n_threads, n)
    return float(_SUMSQ[dtype](flat, partial, nt))


_SUMSQ = _kernels(_k.sumsq)
