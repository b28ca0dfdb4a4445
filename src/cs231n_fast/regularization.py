"""Max-norm regularisation: clamp each unit's incoming weight vector to an L2 norm ``c``.

The CS231n notes ("Neural Networks Part 2", *max norm constraints*): after every parameter
update, each unit's incoming weight vector ``w`` is rescaled to ``w * c / ||w||`` when
``||w|| > c`` (and left alone otherwise), so the weights cannot grow without bound even with a
high learning rate.

Which vector is "a unit's incoming weights" depends on the layout:

* affine weights of the course, ``W`` of shape (D, M) applied as ``x @ W``: unit ``j``'s
  weights are the column ``W[:, j]`` (``axis=0``);
* convolution filters of shape (F, C, HH, WW): each filter ``w[f]`` is one unit
  (``axis=(1, 2, 3)``);
* Maxout weights of shape (k, D, M): each piece's column ``W[p, :, j]`` (``axis=1``).

:func:`max_norm_axis` gives that axis from a parameter's name and shape (the rule the
``Solver``'s ``max_norm=`` option uses): names whose last component (after the last ``.``)
starts with ``W`` or ``w`` -- ``W1``, ``W2``, ``0.W``, ``3.w``, ``Wx`` -- of 2, 3 or 4
dimensions. Biases, batch-normalisation scales and shifts and every other parameter are left
alone. A layer whose weights are laid out otherwise declares their axes in ``max_norm_axes``
(a dict parameter name -> axes, None for "not constrained"): a transposed convolution's
``w`` (C_in, C_out, HH, WW) has output unit ``f``'s weights in ``w[:, f]`` (``(0, 2, 3)``), an
embedding's ``W`` (V, D) one vector per row (``1``). ``Sequential`` and the graph containers
collect them under their prefixed names (:func:`layer_max_norm_axes`), and the ``Solver``
uses them before the name rule.

Examples
--------
>>> import numpy as np
>>> from cs231n_fast.regularization import max_norm
>>> W = np.array([[3.0, 0.1], [4.0, 0.1]])
>>> max_norm(W, 1.0, axis=0)
array([[0.6, 0.1],
       [0.8, 0.1]])
"""

import math
import numbers

import numpy as np

__all__ = ["max_norm", "max_norm_", "max_norm_axis", "column_norms", "layer_max_norm_axes"]


def _check_c(c):
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not (math.isfinite(c) and c > 0):
        raise ValueError(f"c (the max-norm bound) must be a finite number > 0; got {c!r}")
    return float(c)


def _check_w(w, name="w"):
    if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point ndarray; got {type(w).__name__}"
                        + (f" of dtype {w.dtype}" if isinstance(w, np.ndarray) else ""))
    return w


def _axes(w, axis):
    if axis is None:
        return tuple(range(w.ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -w.ndim <= a < w.ndim:
            raise ValueError(f"axis must be ints in [-{w.ndim}, {w.ndim}) for w of shape "
                             f"{w.shape}; got {axis!r}")
        out.append(int(a) % w.ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis has a repeated axis: {axis!r}")
    return tuple(out)


def column_norms(w, axis=0):
    """The L2 norm of each unit's weights: ``sqrt(sum(w ** 2, axis, keepdims=True))`` in float64."""
    w = _check_w(np.asarray(w))
    return np.sqrt(np.sum(np.square(w, dtype=np.float64), axis=_axes(w, axis), keepdims=True))


def _scale(w, c, axis):
    norms = column_norms(w, axis)
    # c / norm only where the norm exceeds c; elsewhere 1 (norm 0 included)
    return np.where(norms > c, c / np.maximum(norms, c), 1.0)


def max_norm(w, c, axis=0):
    """``w`` with each unit's weights rescaled to L2 norm at most ``c`` (a new array).

    Parameters
    ----------
    w : ndarray of floats
        The weights.
    c : float
        The bound, > 0.
    axis : int or tuple of int or None, default 0
        The axes of one unit's incoming weights (0 for the course's affine ``W`` (D, M);
        ``(1, 2, 3)`` for conv filters (F, C, HH, WW); None: the whole array).

    Returns
    -------
    ndarray
        Of ``w``'s shape and dtype: ``w * min(1, c / norm)`` per unit, the scale computed in
        float64. Norms are then ``<= c`` up to the rounding of ``w``'s dtype.

    Raises
    ------
    ValueError
        ``c`` not a finite number > 0; a bad ``axis``.
    TypeError
        ``w`` not a floating-point ndarray.
    """
    c = _check_c(c)
    w = _check_w(w)
    return (w * _scale(w, c, axis)).astype(w.dtype, copy=False)


def max_norm_(w, c, axis=0):
    """:func:`max_norm` in place: rescales the units of ``w`` whose norm exceeds ``c``;
    returns ``w``. ``w`` must be writeable."""
    c = _check_c(c)
    w = _check_w(w)
    if not w.flags.writeable:
        raise ValueError("w must be writeable for max_norm_ (use max_norm for a new array)")
    scale = _scale(w, c, axis)
    np.multiply(w, scale, out=w, casting="unsafe")
    return w


def max_norm_axis(name, w):
    """The axes of one unit's incoming weights for parameter ``name``, or None if max-norm does
    not apply to it (see the module docstring for the rule)."""
    last = str(name).rsplit(".", 1)[-1]
    if not last[:1] in ("W", "w"):
        return None
    ndim = np.ndim(w)
    if ndim == 2:
        return 0
    if ndim == 3:
        return 1
    if ndim == 4:
        return (1, 2, 3)
    return None


def layer_max_norm_axes(layer):
    """The declared max-norm axes of a layer or model, parameter name -> axes (or None).

    ``layer.max_norm_axes`` is a dict (a layer's own declaration) or a method returning one
    (``Sequential`` and the graph containers, whose names carry their prefixes); {} if the
    layer declares nothing (the name rule of :func:`max_norm_axis` then applies).
    """
    axes = getattr(layer, "max_norm_axes", None)
    if callable(axes):
        axes = axes()
    return dict(axes) if axes else {}
