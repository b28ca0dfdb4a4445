"""Weight initialisation from the CS231n notes ("Neural Networks Part 2: Setting up the data
and the loss", section "Weight Initialization").

Every function returns a new array of the given ``shape`` and ``dtype`` (float32 by default)
drawn from ``np.random.default_rng(seed)``. The draw is made in float64 and then rounded, so
the same seed gives the same numbers, up to rounding, in every dtype.

Formulas, with the notes' reasoning in one line each:

* :func:`small_random` ``N(0, scale**2)``: break the symmetry of an all-zero start with small
  random numbers (the notes' ``0.01 * np.random.randn(D, H)``).
* :func:`xavier_normal` ``N(0, 2 / (fan_in + fan_out))``: a unit's output variance is
  ``fan_in * Var(w)`` times its input's, so ``Var(w) = 1 / fan_in`` keeps it constant going
  forward and ``1 / fan_out`` going backward; Glorot and Bengio (2010) compromise on
  ``2 / (fan_in + fan_out)``.
* :func:`xavier_uniform` ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``: the same variance,
  since ``Var(U(-a, a)) = a**2 / 3``.
* :func:`he_normal` ``N(0, 2 / ((1 + negative_slope**2) * fan_in))``: a ReLU zeroes half of
  its inputs, halving the variance, which a factor 2 restores (He et al., 2015); a leaky ReLU
  of slope ``a`` keeps ``(1 + a**2) / 2`` of it.

Fans are inferred from the shape for the layouts of the course: a fully connected weight
``(D, M)`` has ``fan_in = D`` and ``fan_out = M``; a convolution filter bank ``(F, C, HH, WW)``
has ``fan_in = C * HH * WW`` and ``fan_out = F * HH * WW``. For other shapes (and to override,
e.g. for the RNN's ``Wx`` of shape ``(D, 4H)``) pass ``fan_in``/``fan_out``. Biases are
initialised to zero, as in the notes (``np.zeros``).
"""

import math
import numbers

import numpy as np

from ._validation import make_rng, positive_int, real_number

__all__ = ["small_random", "xavier_normal", "xavier_uniform", "he_normal", "fans"]


def _shape(shape):
    """``shape`` (an int or a sequence of ints >= 0) as a tuple."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be an int or a tuple of ints; got {shape!r}")
    return tuple(positive_int("shape", d, minimum=0) for d in shape)


def _dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"dtype must be a floating-point dtype such as np.float32; got {dtype!r}"
        ) from None
    if dt.kind != "f":
        raise TypeError(f"dtype must be a floating-point dtype such as np.float32; got {dt}")
    return dt


def fans(shape):
    """``(fan_in, fan_out)`` of a weight of this shape, in the course's layouts.

    ``(D, M)`` (fully connected, ``x @ w``): ``(D, M)``. ``(F, C, HH, WW)`` (convolution):
    ``(C * HH * WW, F * HH * WW)``.

    Raises
    ------
    ValueError
        For any other number of dimensions (then pass the fans explicitly).
    """
    shape = _shape(shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        f, c, hh, ww = shape
        return c * hh * ww, f * hh * ww
    raise ValueError(
        f"shape must be 2-D (D, M) or 4-D (F, C, HH, WW) to infer fan_in and fan_out; got "
        f"{shape}: pass fan_in (and fan_out) explicitly"
    )


def _fan(name, given, shape, which):
    """An explicit fan, checked, or the one inferred from ``shape`` (``which`` 0 in, 1 out)."""
    if given is not None:
        return positive_int(name, given)
    inferred = fans(shape)[which]
    if inferred < 1:
        raise ValueError(f"{name} inferred from shape {shape} is 0; a weight needs {name} >= 1")
    return inferred


def _normal(shape, std, dtype, seed):
    return (std * make_rng(seed).standard_normal(shape)).astype(dtype)


def small_random(shape, scale=0.01, *, dtype=np.float32, seed=None):
    """Gaussian weights of standard deviation ``scale``: ``scale * randn(*shape)``.

    Fine for small networks; in deep ones the activations shrink layer after layer (see
    :func:`he_normal`).

    Parameters
    ----------
    shape : int or tuple of int
    scale : float, default 0.01
        The standard deviation, finite and >= 0.
    dtype : floating dtype, default float32
    seed : None, int >= 0 or numpy.random.Generator
        A Generator is used (and advanced) as is.

    Returns
    -------
    ndarray of ``shape`` and ``dtype``

    Raises
    ------
    TypeError
        If ``shape`` is not an int or tuple of ints, ``dtype`` not a float dtype, ``seed`` of
        another type.
    ValueError
        If a dimension, ``scale`` or ``seed`` is negative, or ``scale`` not finite.
    """
    shape, dtype = _shape(shape), _dtype(dtype)
    return _normal(shape, real_number("scale", scale, 0), dtype, seed)


def xavier_normal(shape, *, fan_in=None, fan_out=None, dtype=np.float32, seed=None):
    """Glorot/Xavier normal weights: ``N(0, std**2)``, ``std = sqrt(2 / (fan_in + fan_out))``.

    Parameters
    ----------
    shape : int or tuple of int
    fan_in, fan_out : int >= 1, optional
        Inferred from a 2-D ``(D, M)`` or 4-D ``(F, C, HH, WW)`` shape when omitted
        (see :func:`fans`).
    dtype : floating dtype, default float32
    seed : None, int >= 0 or numpy.random.Generator

    Returns
    -------
    ndarray of ``shape`` and ``dtype``

    Raises
    ------
    TypeError, ValueError
        As :func:`small_random`; ValueError also for a fan < 1 or one that cannot be inferred.
    """
    shape, dtype = _shape(shape), _dtype(dtype)
    n = _fan("fan_in", fan_in, shape, 0) + _fan("fan_out", fan_out, shape, 1)
    return _normal(shape, math.sqrt(2.0 / n), dtype, seed)


def xavier_uniform(shape, *, fan_in=None, fan_out=None, dtype=np.float32, seed=None):
    """Glorot/Xavier uniform weights: ``U(-limit, limit)``,
    ``limit = sqrt(6 / (fan_in + fan_out))``.

    Same variance, ``2 / (fan_in + fan_out)``, as :func:`xavier_normal`. Parameters, returns
    and errors as in :func:`xavier_normal`.
    """
    shape, dtype = _shape(shape), _dtype(dtype)
    n = _fan("fan_in", fan_in, shape, 0) + _fan("fan_out", fan_out, shape, 1)
    limit = math.sqrt(6.0 / n)
    return make_rng(seed).uniform(-limit, limit, shape).astype(dtype)


def he_normal(shape, *, negative_slope=0.0, fan_in=None, dtype=np.float32, seed=None):
    """He (Kaiming) normal weights for (leaky) ReLU networks:
    ``N(0, std**2)``, ``std = sqrt(2 / ((1 + negative_slope**2) * fan_in))``.

    With ``negative_slope = 0`` (ReLU) this is the notes' recommendation
    ``np.random.randn(n) * sqrt(2.0 / n)``.

    Parameters
    ----------
    shape : int or tuple of int
    negative_slope : float, default 0.0
        The slope ``a`` of a leaky ReLU for negative inputs, finite and >= 0.
    fan_in : int >= 1, optional
        Inferred from a 2-D or 4-D shape when omitted (see :func:`fans`).
    dtype : floating dtype, default float32
    seed : None, int >= 0 or numpy.random.Generator

    Returns
    -------
    ndarray of ``shape`` and ``dtype``

    Raises
    ------
    TypeError, ValueError
        As :func:`xavier_normal`; also for a negative or non-finite ``negative_slope``.
    """
    shape, dtype = _shape(shape), _dtype(dtype)
    a = real_number("negative_slope", negative_slope, 0)
    n = _fan("fan_in", fan_in, shape, 0)
    return _normal(shape, math.sqrt(2.0 / ((1.0 + a * a) * n)), dtype, seed)
