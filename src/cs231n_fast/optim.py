"""Optimisation helpers; the future drop-in for the course's ``cs231n/optim.py``.

The course's update rules (``sgd``, ``sgd_momentum``, ``rmsprop``, ``adam``) will be added to
this module in a later release. For now it holds :func:`clip_grad_norm`, gradient clipping by
global norm for training recurrent networks (the CS231n RNN notes; Pascanu, Mikolov and
Bengio, "On the difficulty of training recurrent neural networks", ICML 2013).
"""

import math
import numbers
from collections.abc import Mapping

import numpy as np

__all__ = ["clip_grad_norm"]


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
    whatever the gradients' dtype. If it exceeds ``max_norm`` every gradient is multiplied by
    ``max_norm / total_norm`` (one factor for all, so the update keeps its direction);
    otherwise the gradients are returned unchanged (as copies).

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
    >>> loss, grads = model.loss(features, captions)          # doctest: +SKIP
    >>> grads, norm = clip_grad_norm(grads, max_norm=5.0)     # doctest: +SKIP
    """
    max_norm = _check_max_norm(max_norm)
    if not isinstance(grads, Mapping):
        raise TypeError(
            f"grads must be a mapping of names to gradient arrays; got {type(grads).__name__}"
        )
    arrays = {key: _as_grad(key, g) for key, g in grads.items()}

    sumsq = 0.0
    for key, g in arrays.items():
        flat = g.reshape(-1).astype(np.float64, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            s = float(np.dot(flat, flat))
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
            flat = g.reshape(-1).astype(np.float64) / big
            sumsq += float(np.dot(flat, flat))
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
