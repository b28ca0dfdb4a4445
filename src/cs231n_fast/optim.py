"""Drop-in replacement for the course's ``cs231n/optim.py``, plus gradient clipping and L-BFGS.

This file implements various first-order update rules that are commonly used for training
neural networks. Each update rule accepts current weights and the gradient of the loss with
respect to those weights and produces the next set of weights. Each update rule has the same
interface::

    def update(w, dw, config=None):

Inputs:
  - w: A numpy array giving the current weights.
  - dw: A numpy array of the same shape as w giving the gradient of the loss with respect
    to w.
  - config: A dictionary containing hyperparameter values such as learning rate, momentum,
    etc. If the update rule requires caching values over many iterations, then config will
    also hold these cached values.

Returns:
  - next_w: The next point after the update.
  - config: The config dictionary to be passed to the next iteration of the update rule.

NOTE: For most update rules, the default learning rate will probably not perform well;
however the default values of the other hyperparameters should work well for a variety of
different problems.

Rules: :func:`sgd`, :func:`sgd_momentum`, :func:`nesterov_momentum`, :func:`adagrad`,
:func:`rmsprop`, :func:`adam` (the course's names, config keys and defaults; the formulas of
the CS231n notes "Neural Networks Part 3"). :func:`get_update_rule` looks one up by name, as
the Solver does with ``getattr(optim, name)``. Differences from the course, all in the user's
favour:

* ``w`` and ``dw`` are never written into; ``next_w`` is a new array of ``w``'s dtype
  (float64 for integer weights).
  The config dict *is* the optimiser state, as in the course: missing hyperparameters are
  added with ``setdefault`` and the state entries (``velocity``, ``cache``, ``m``, ``v``,
  ``t``) are replaced by new arrays on every call. The config is changed only by a call
  that succeeds.
* Arithmetic runs in float32 when ``w``, ``dw`` and the state arrays are all float32, and
  in float64 otherwise (the package's dtype policy); new state arrays are stored in that
  dtype.
* Bad input raises: ``dw`` or a state array of another shape than ``w``, non-numeric
  arrays, hyperparameters that are not finite or out of range (each message names the key;
  the ranges admit every value the course's formulas compute with, e.g. a learning rate of
  0 or a momentum of 1, and refuse those that would divide by zero or ascend).
* Each rule is one fused compiled pass (:mod:`cs231n_fast.ops.optim`) that writes ``next_w``
  and the new state together, with the course's formulas in the course's order (the NumPy
  code they replace is :mod:`cs231n_fast.reference.optim`); bitwise the same for any thread
  count. A call costs a few microseconds on top of the pass, so the many tiny parameters of a
  network (biases, gamma, beta) stay cheap.

Also here: :func:`clip_grad_norm`, gradient clipping by global norm for training recurrent
networks (the CS231n RNN notes; Pascanu, Mikolov and Bengio, "On the difficulty of training
recurrent neural networks", ICML 2013), and :func:`lbfgs`, full-batch L-BFGS through SciPy
for small problems (the notes' "Second order methods").
"""

import math
import numbers
from collections.abc import Mapping, MutableMapping

import numpy as np

from ._validation import as_array, check_shape, positive_int, result_dtype
from .ops import optim as _ops

__all__ = [
    "sgd",
    "sgd_momentum",
    "nesterov_momentum",
    "adagrad",
    "rmsprop",
    "adam",
    "get_update_rule",
    "lbfgs",
    "clip_grad_norm",
]


# --- first-order update rules --------------------------------------------------------------

def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


# The rules below are adapters: they read the config, validate (messages name the config's
# keys), call the fused kernels of cs231n_fast.ops.optim (one pass writing next_w and the new
# state), and store the defaults and the new state in the config. The common case (ndarrays of
# one float dtype and shape) costs a few attribute reads and dict look-ups on top of the kernel.

_KEY = "config[{!r}]"  # how messages name a config entry
_INF = math.inf


def _config(config):
    if config is None:
        return {}
    if type(config) is dict or isinstance(config, MutableMapping):
        return config
    raise TypeError(f"config must be a dict or None; got {type(config).__name__}")


def _hps(config, spec):
    """The hyperparameters ``spec = ((key, default, unit), ...)`` of ``config`` as floats, each
    in (0, inf) or, when ``unit``, in [0, 1). The common case (a float in range) is checked
    inline; anything else (including the edges the rules also allow, such as a learning rate
    of 0 or a momentum of 1: see ``cs231n_fast.ops.optim.RANGES``) goes through :func:`cs231n_fast.ops.optim.hyperparameter`, which
    converts or raises naming ``config[key]``."""
    get = config.get
    out = []
    for key, default, unit in spec:
        v = get(key, default)
        if type(v) is not float or not ((0.0 <= v < 1.0) if unit else (0.0 < v < _INF)):
            v = _ops.hyperparameter(key, v, _KEY)
        out.append(v)
    return out


def _iteration_number(config):
    """``config["t"]`` (default 0), Adam's iteration count, as an int >= 0."""
    t = config.get("t", 0)
    if type(t) is int and t >= 0:
        return t
    return _ops.iteration(t, _KEY.format("t"), minimum=0)


def _arrays(w, dw, config, keys):
    """``(w, dw, states, dtype)`` checked (see :func:`cs231n_fast.ops.optim.update_arrays`)."""
    return _ops.update_arrays(w, dw, [config.get(key) for key in keys], keys, _KEY)


def _done(config, spec, next_w, w, dtype):
    """Add the missing hyperparameters to ``config`` (the caller has stored the new state);
    ``(next_w, config)`` with ``next_w`` in ``w``'s dtype when that is a float dtype (the
    computation's unless ``w`` is float16, or ``dw`` or a state is not of ``w``'s dtype);
    integer weights come back in the computation's float64."""
    for key, default, _ in spec:
        if key not in config:
            config[key] = default
    if type(w) is not np.ndarray or w.dtype is not dtype:
        out = np.asarray(w).dtype
        if out != dtype and out.kind == "f":
            next_w = next_w.astype(out)
    return next_w, config


# (key, default, in [0, 1) rather than (0, inf)) of each rule's hyperparameters.
_SGD = (("learning_rate", 1e-2, False),)
_MOMENTUM = (("learning_rate", 1e-2, False), ("momentum", 0.9, True))
_ADAGRAD = (("learning_rate", 1e-2, False), ("epsilon", 1e-8, False))
_RMSPROP = (("learning_rate", 1e-2, False), ("decay_rate", 0.99, True), ("epsilon", 1e-8, False))
_ADAM = (("learning_rate", 1e-3, False), ("beta1", 0.9, True), ("beta2", 0.999, True),
         ("epsilon", 1e-8, False))


def sgd(w, dw, config=None):
    """Performs vanilla stochastic gradient descent.

    ``next_w = w - learning_rate * dw``.

    config format:

    - learning_rate: Scalar learning rate (default 1e-2).

    Parameters
    ----------
    w : ndarray of real numbers
        The current weights (not modified). Integer weights are updated in float64 (the
        course's ``w - ...`` would give float64 too).
    dw : ndarray of the shape of ``w``
        The gradient of the loss with respect to ``w``.
    config : dict, optional
        Hyperparameters; missing ones are added with their defaults.

    Returns
    -------
    next_w : ndarray
        The updated weights, a new array of ``w``'s shape and dtype.
    config : dict
        The same dict, to be passed to the next call.

    Raises
    ------
    TypeError
        If ``w`` is not a real numeric array, ``config`` not a dict, or a hyperparameter
        not a real number.
    ValueError
        If ``dw`` has another shape than ``w``, or a hyperparameter is not finite or out of
        range (the message names the key).
    """
    config = _config(config)
    (lr,) = _hps(config, _SGD)
    wa, dw, _, dtype = _arrays(w, dw, config, ())
    next_w = _ops.run_sgd(wa, dw, dtype, lr, None)
    return _done(config, _SGD, next_w, w, dtype)


def sgd_momentum(w, dw, config=None):
    """Performs stochastic gradient descent with momentum.

    ``v = momentum * v - learning_rate * dw; next_w = w + v``.

    config format:

    - learning_rate: Scalar learning rate (default 1e-2).
    - momentum: Scalar between 0 and 1 giving the momentum value (default 0.9).
      Setting momentum = 0 reduces to sgd.
    - velocity: A numpy array of the same shape as w and dw used to store a moving
      average of the gradients (default zeros).

    Parameters, returns and errors as in :func:`sgd`; ``momentum`` must be in [0, 1] and a
    given ``velocity`` must have the shape of ``w``.
    """
    return _momentum(w, dw, config, False)


def nesterov_momentum(w, dw, config=None):
    """Performs stochastic gradient descent with Nesterov momentum.

    The form of the CS231n notes, written in terms of the weights themselves rather than
    the look-ahead point (``dw`` is the gradient at ``w``)::

        v_prev = v
        v = momentum * v - learning_rate * dw
        next_w = w - momentum * v_prev + (1 + momentum) * v

    config format: as :func:`sgd_momentum` (``learning_rate`` 1e-2, ``momentum`` 0.9,
    ``velocity`` zeros). Parameters, returns and errors as in :func:`sgd_momentum`.
    """
    return _momentum(w, dw, config, True)


def _momentum(w, dw, config, nesterov):
    config = _config(config)
    lr, mu = _hps(config, _MOMENTUM)
    wa, dw, (vel,), dtype = _arrays(w, dw, config, ("velocity",))
    next_w, config["velocity"] = _ops.run_momentum(wa, dw, vel, dtype, lr, mu, nesterov, None)
    return _done(config, _MOMENTUM, next_w, w, dtype)


def adagrad(w, dw, config=None):
    """Uses the Adagrad update rule: per-parameter learning rates scaled by the history of
    squared gradients.

    ``cache = cache + dw**2; next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)``.

    config format:

    - learning_rate: Scalar learning rate (default 1e-2).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - cache: Sum of the squared gradients so far (default zeros).

    Parameters, returns and errors as in :func:`sgd`.
    """
    config = _config(config)
    lr, eps = _hps(config, _ADAGRAD)
    wa, dw, (cache,), dtype = _arrays(w, dw, config, ("cache",))
    next_w, config["cache"] = _ops.run_adagrad_rmsprop(wa, dw, cache, dtype, lr, 0.0, eps,
                                                       False, None)
    return _done(config, _ADAGRAD, next_w, w, dtype)


def rmsprop(w, dw, config=None):
    """Uses the RMSProp update rule, which uses a moving average of squared gradient values
    to set adaptive per-parameter learning rates.

    ``cache = decay_rate * cache + (1 - decay_rate) * dw**2;``
    ``next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)``.

    config format:

    - learning_rate: Scalar learning rate (default 1e-2).
    - decay_rate: Scalar between 0 and 1 giving the decay rate for the squared gradient
      cache (default 0.99).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - cache: Moving average of second moments of gradients (default zeros).

    Parameters, returns and errors as in :func:`sgd`.
    """
    config = _config(config)
    lr, rho, eps = _hps(config, _RMSPROP)
    wa, dw, (cache,), dtype = _arrays(w, dw, config, ("cache",))
    next_w, config["cache"] = _ops.run_adagrad_rmsprop(wa, dw, cache, dtype, lr, rho, eps,
                                                       True, None)
    return _done(config, _RMSPROP, next_w, w, dtype)


def adam(w, dw, config=None):
    """Uses the Adam update rule, which incorporates moving averages of both the gradient
    and its square and a bias correction term.

    As in the course, the iteration number is incremented *before* it is used::

        t = t + 1
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw**2
        mt = m / (1 - beta1**t)
        vt = v / (1 - beta2**t)
        next_w = w - learning_rate * mt / (sqrt(vt) + epsilon)

    so the first step from zero state moves each weight by about ``learning_rate`` against
    the sign of its gradient.

    config format:

    - learning_rate: Scalar learning rate (default 1e-3).
    - beta1: Decay rate for moving average of first moment of gradient (default 0.9).
    - beta2: Decay rate for moving average of second moment of gradient (default 0.999).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - m: Moving average of gradient (default zeros).
    - v: Moving average of squared gradient (default zeros).
    - t: Iteration number (default 0; an int >= 0).

    Parameters, returns and errors as in :func:`sgd`.
    """
    config = _config(config)
    lr, b1, b2, eps = _hps(config, _ADAM)
    t = _iteration_number(config) + 1
    wa, dw, (m, v), dtype = _arrays(w, dw, config, ("m", "v"))
    next_w, config["m"], config["v"] = _ops.run_adam(wa, dw, m, v, dtype, t, lr, b1, b2, eps,
                                                     None)
    config["t"] = t
    return _done(config, _ADAM, next_w, w, dtype)


_UPDATE_RULES = {
    rule.__name__: rule
    for rule in (sgd, sgd_momentum, nesterov_momentum, adagrad, rmsprop, adam)
}


def get_update_rule(name):
    """The update rule called ``name``, e.g. ``get_update_rule("adam") is adam``.

    Parameters
    ----------
    name : str
        One of "sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam".

    Returns
    -------
    rule : callable
        ``rule(w, dw, config=None) -> (next_w, config)``.

    Raises
    ------
    ValueError
        If ``name`` is not one of the rules (the message lists them).
    """
    if not isinstance(name, str) or name not in _UPDATE_RULES:
        raise ValueError(
            f"name must be an update rule, one of {sorted(_UPDATE_RULES)}; got {name!r}"
        )
    return _UPDATE_RULES[name]


# --- L-BFGS for small full-batch problems ---------------------------------------------------


def _check_tol(tol):
    if not _is_real(tol) or not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0; got {tol!r}")
    return float(tol)


def lbfgs(loss_fn, w0, *, max_iter=100, tol=1e-6, m=10):
    """Minimise ``loss_fn`` with L-BFGS from ``w0``, for small full-batch problems.

    L-BFGS builds a low-rank approximation of the inverse Hessian from the last ``m``
    steps and gradients, so it often needs far fewer iterations than the first-order rules
    above, but it wants the exact loss and gradient of the whole data set (a noisy
    mini-batch gradient breaks its curvature estimate and line search). This is the
    "Second order methods" paragraph of the CS231n notes: use it when the data fit in one
    batch, e.g. a linear classifier on a small data set, or to fit a tiny network to
    sanity-check a loss.

    It runs ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` without bounds on the
    flattened float64 vector of ``w0``.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(w) -> (loss, grad)``: the loss, a real scalar, and its gradient, an array
        of ``w``'s shape. ``w`` is a float64 array of ``w0``'s shape, a fresh copy on each
        call (the function may keep or change it).
    w0 : ndarray of real numbers, any shape, not empty
        The starting point (not modified).
    max_iter : int, default 100
        The largest number of iterations (each makes one or more calls of ``loss_fn``).
    tol : float, default 1e-6
        Converged when the largest absolute gradient entry is ``<= tol``. The run also stops
        (converged) once an iteration lowers the loss by less than float64 machine epsilon
        times ``max(|loss|, 1)``, i.e. when no further progress is possible.
    m : int, default 10
        The number of step/gradient pairs kept for the inverse-Hessian approximation.

    Returns
    -------
    w_opt : ndarray
        The last iterate, of ``w0``'s shape; float32 if ``w0`` is float32, else float64.
    info : dict
        ``"loss"`` (float, the loss at ``w_opt``), ``"n_iter"`` (int, iterations run),
        ``"n_evals"`` (int, calls of ``loss_fn``), ``"converged"`` (bool, False when
        ``max_iter`` was reached or the line search failed away from a flat point; a line search
        that fails where the gradient is within ``sqrt(eps) * max(|loss|, 1)`` of zero is the
        "no further progress" stop above) and ``"message"`` (str, SciPy's
        reason for stopping).

    Raises
    ------
    TypeError
        If ``loss_fn`` is not callable or does not return a pair ``(loss, grad)``, or ``w0``
        is not a real array.
    ValueError
        If ``w0`` is empty, ``grad`` has another shape than ``w0``, ``loss`` is not a scalar,
        or ``max_iter``, ``tol`` or ``m`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.optim import lbfgs
    >>> A = np.array([[3.0, 1.0], [1.0, 2.0]]); b = np.array([1.0, -1.0])
    >>> w, info = lbfgs(lambda w: (0.5 * w @ A @ w - b @ w, A @ w - b), np.zeros(2))
    >>> bool(info["converged"]), np.allclose(w, np.linalg.solve(A, b))
    (True, True)
    """
    from scipy.optimize import minimize  # keeps scipy off the import path of the update rules

    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be callable, loss_fn(w) -> (loss, grad); got {type(loss_fn).__name__}"
        )
    w0 = as_array("w0", w0)
    if w0.size == 0:
        raise ValueError(f"w0 must not be empty; got shape {w0.shape}")
    max_iter = positive_int("max_iter", max_iter)
    m = positive_int("m", m)
    tol = _check_tol(tol)
    shape = w0.shape

    def fun(x):
        out = loss_fn(x.reshape(shape).copy())
        if not isinstance(out, tuple) or len(out) != 2:
            raise TypeError(f"loss_fn must return a pair (loss, grad); got {type(out).__name__}")
        loss, grad = np.asarray(out[0]), as_array("grad returned by loss_fn", out[1])
        if loss.ndim != 0 or loss.dtype.kind not in "fiu":
            raise ValueError(f"loss returned by loss_fn must be a real scalar; got {out[0]!r}")
        check_shape("grad returned by loss_fn", grad, shape, "the shape of w0")
        return float(loss), grad.astype(np.float64).ravel()

    res = minimize(
        fun,
        w0.astype(np.float64).ravel(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "maxcor": m, "gtol": tol, "ftol": np.finfo(np.float64).eps},
    )
    info = {
        "loss": float(res.fun),
        "n_iter": int(res.nit),
        "n_evals": int(res.nfev),
        "converged": bool(res.success) or _flat_at_rounding(res),
        "message": str(res.message),
    }
    return res.x.reshape(shape).astype(result_dtype(w0)), info


def _flat_at_rounding(res):
    """Whether an L-BFGS-B line search failed only because the loss cannot be lowered any further
    in float64: the gradient is within ``sqrt(eps) * max(|loss|, 1)`` of zero, where one more
    step would change the loss by less than its rounding (SciPy 1.17 reports such a stop as
    ``ABNORMAL`` when ``ftol`` is machine epsilon; earlier releases as a relative reduction)."""
    jac = getattr(res, "jac", None)
    if jac is None or not str(res.message).startswith("ABNORMAL"):
        return False
    scale = max(abs(float(res.fun)), 1.0)
    return bool(np.all(np.isfinite(jac)) and np.max(np.abs(jac)) <= math.sqrt(np.finfo(np.float64).eps) * scale)


# --- gradient clipping ----------------------------------------------------------------------


def _check_max_norm(max_norm):
    if (
        isinstance(max_norm, (bool, np.bool_))
        or not isinstance(max_norm, numbers.Real)
        or not math.isfinite(max_norm)
        or not max_norm > 0
    ):
        raise ValueError(f"max_norm must be a finite number > 0; got {max_norm!r}")
    return float(max_norm)


def _as_grad(key, g):
    try:
        arr = np.asarray(g)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"grads[{key!r}] must be a floating-point array: {exc}") from None
    if arr.dtype.kind != "f":
        raise TypeError(
            f"grads[{key!r}] must be a floating-point array; got "
            f"{type(g).__name__ if arr.dtype == object else 'dtype ' + str(arr.dtype)}"
        )
    return arr


def clip_grad_norm(grads, max_norm):
    """Scale a dict of gradients so that their global L2 norm is at most ``max_norm``.

    The global norm is ``sqrt(sum over every array g of sum(g ** 2))``, accumulated in float64
    whatever the gradients' dtype, in a fixed order (the same bits for any thread count; see
    :func:`cs231n_fast.ops.optim.sum_of_squares`). If it exceeds ``max_norm`` every gradient
    is multiplied by ``max_norm / total_norm`` (one factor for all, so the update keeps its
    direction); otherwise the gradients are returned unchanged (as copies).

    Parameters
    ----------
    grads : Mapping of str to ndarray
        Floating-point gradient arrays of any shapes, e.g. a model's or a layer's ``grads``.
        Neither the mapping nor its arrays are modified.
    max_norm : float
        The largest allowed global norm; a finite number > 0.

    Returns
    -------
    clipped : dict
        A new dict with the same keys, in the same order, each a new array of the same shape
        and dtype as the input gradient.
    total_norm : float
        The global norm of the input gradients (before clipping).

    Raises
    ------
    TypeError
        If ``grads`` is not a mapping, or one of its values is not a floating-point array
        (the message names the key).
    ValueError
        If ``max_norm`` is not a finite number > 0, or a gradient holds NaN or Inf (the message
        names the key).

    Examples
    --------
    In a training step, ``grads, norm = clip_grad_norm(model.loss(X, y)[1], max_norm=5.0)``.
    Here the global norm is ``sqrt(4 * 3**2 + 4**2) = sqrt(52)``, so every gradient is scaled
    by ``5 / sqrt(52)``:

    >>> import numpy as np
    >>> from cs231n_fast.optim import clip_grad_norm
    >>> clipped, norm = clip_grad_norm({"W": np.full((2, 2), 3.0), "b": np.array([4.0, 0.0])}, 5.0)
    >>> round(norm, 4), round(float(np.sqrt(sum(np.sum(g * g) for g in clipped.values()))), 12)
    (7.2111, 5.0)
    """
    max_norm = _check_max_norm(max_norm)
    if not isinstance(grads, Mapping):
        raise TypeError(
            f"grads must be a mapping of names to gradient arrays; got {type(grads).__name__}"
        )
    arrays = {key: _as_grad(key, g) for key, g in grads.items()}

    sumsq = 0.0
    for key, g in arrays.items():
        # fixed-order float64 sum of squares (ops.optim.sum_of_squares; no BLAS threads)
        s = _ops.sum_of_squares(g)
        if not math.isfinite(s) and not np.isfinite(g).all():
            raise ValueError(f"grads[{key!r}] contains NaN or Inf; the gradient norm is not finite")
        sumsq += s
    if math.isfinite(sumsq):
        total = math.sqrt(sumsq)
    else:
        # Finite entries whose squares overflow float64: measure relative to the largest entry.
        big = max(float(np.max(np.abs(g))) for g in arrays.values() if g.size)
        sumsq = 0.0
        for g in arrays.values():
            sumsq += _ops.sum_of_squares(g.astype(np.float64) / big)
        total = big * math.sqrt(sumsq)
        if not math.isfinite(total):
            raise ValueError("the global norm of grads overflows float64")

    if total > max_norm:
        scale = max_norm / total
        clipped = {key: _scaled(g, scale) for key, g in arrays.items()}
    else:
        clipped = {key: np.array(g, copy=True) for key, g in arrays.items()}
    return clipped, total


def _scaled(g, scale):
    """A new array ``g * scale`` of ``g``'s dtype."""
    if g.dtype.itemsize >= 4:  # float32 and wider: the factor rounded to g's precision is enough
        return np.asarray(np.multiply(g, g.dtype.type(scale)))
    return np.asarray(np.multiply(g, scale, dtype=np.float64)).astype(g.dtype)  # float16
