"""First-order update rules in plain NumPy: the readable twin of ``cs231n_fast.ops.optim``.

Same names, signatures, validation and dtype policy as the fast functions (``n_threads`` is
accepted and ignored); the bodies are the course's NumPy expressions (``cs231n/optim.py`` and
the CS231n notes "Neural Networks Part 3"), which the fused kernels follow term by term.
"""

import numpy as np

from ..ops.optim import hyperparameter, iteration, update_arrays

__all__ = ["sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam"]


def _state(s, w):
    return np.zeros_like(w) if s is None else s


def _fresh(a, dtype):
    """A new C-contiguous array of ``dtype`` (the results never share memory with inputs)."""
    return np.array(a, dtype=dtype, order="C", copy=True)


def sgd(w, dw, learning_rate, *, n_threads=None):
    """``next_w = w - learning_rate * dw``; see :func:`cs231n_fast.ops.optim.sgd`."""
    lr = hyperparameter("learning_rate", learning_rate)
    w, dw, _, dtype = update_arrays(w, dw, (), ())
    return _fresh(w - lr * dw, dtype)


def sgd_momentum(w, dw, velocity, learning_rate, momentum, *, n_threads=None):
    """Momentum; see :func:`cs231n_fast.ops.optim.sgd_momentum`."""
    lr = hyperparameter("learning_rate", learning_rate)
    mu = hyperparameter("momentum", momentum)
    w, dw, (velocity,), dtype = update_arrays(w, dw, (velocity,), ("velocity",))
    v = mu * _state(velocity, w) - lr * dw
    next_w = w + v
    return _fresh(next_w, dtype), _fresh(v, dtype)


def nesterov_momentum(w, dw, velocity, learning_rate, momentum, *, n_threads=None):
    """Nesterov momentum; see :func:`cs231n_fast.ops.optim.nesterov_momentum`."""
    lr = hyperparameter("learning_rate", learning_rate)
    mu = hyperparameter("momentum", momentum)
    w, dw, (velocity,), dtype = update_arrays(w, dw, (velocity,), ("velocity",))
    v_prev = _state(velocity, w)
    v = mu * v_prev - lr * dw
    next_w = w - mu * v_prev + (1 + mu) * v
    return _fresh(next_w, dtype), _fresh(v, dtype)


def adagrad(w, dw, cache, learning_rate, epsilon, *, n_threads=None):
    """Adagrad; see :func:`cs231n_fast.ops.optim.adagrad`."""
    lr = hyperparameter("learning_rate", learning_rate)
    eps = hyperparameter("epsilon", epsilon)
    w, dw, (cache,), dtype = update_arrays(w, dw, (cache,), ("cache",))
    cache = _state(cache, w) + dw * dw
    next_w = w - lr * dw / (np.sqrt(cache) + eps)
    return _fresh(next_w, dtype), _fresh(cache, dtype)


def rmsprop(w, dw, cache, learning_rate, decay_rate, epsilon, *, n_threads=None):
    """RMSProp; see :func:`cs231n_fast.ops.optim.rmsprop`."""
    lr = hyperparameter("learning_rate", learning_rate)
    rho = hyperparameter("decay_rate", decay_rate)
    eps = hyperparameter("epsilon", epsilon)
    w, dw, (cache,), dtype = update_arrays(w, dw, (cache,), ("cache",))
    cache = rho * _state(cache, w) + (1 - rho) * (dw * dw)
    next_w = w - lr * dw / (np.sqrt(cache) + eps)
    return _fresh(next_w, dtype), _fresh(cache, dtype)


def adam(w, dw, m, v, t, learning_rate, beta1, beta2, epsilon, *, n_threads=None):
    """Adam with the course's bias correction; see :func:`cs231n_fast.ops.optim.adam`."""
    lr = hyperparameter("learning_rate", learning_rate)
    b1 = hyperparameter("beta1", beta1)
    b2 = hyperparameter("beta2", beta2)
    eps = hyperparameter("epsilon", epsilon)
    t = iteration(t)
    w, dw, (m, v), dtype = update_arrays(w, dw, (m, v), ("m", "v"))
    m = b1 * _state(m, w) + (1 - b1) * dw
    v = b2 * _state(v, w) + (1 - b2) * (dw * dw)
    mt = m / (1 - b1**t)
    vt = v / (1 - b2**t)
    next_w = w - lr * mt / (np.sqrt(vt) + eps)
    return _fresh(next_w, dtype), _fresh(m, dtype), _fresh(v, dtype)
