"""Helpers shared by the models (``classifiers`` networks and ``nn.Sequential``): weight
sources, dtypes, hyperparameters, labels and the L2 penalty."""

import numpy as np

from . import _validation as v

__all__ = [
    "weight_source",
    "float_dtype",
    "hyperparameters",
    "labels",
    "l2_penalty",
    "l2_sum",
    "conv_backward_no_dx",
]


def weight_source(seed):
    """What initial weights are drawn from (anything with ``randn``).

    None: NumPy's global state, as the course's ``np.random.randn``. An int in [0, 2**32 - 1]:
    a private ``np.random.RandomState(seed)``, which draws the numbers ``np.random.seed(seed)``
    followed by the course's code would, and leaves the global state alone.
    """
    if seed is None:
        return np.random
    seed = v.positive_int("seed", seed, minimum=0)
    if seed >= 2**32:
        raise ValueError(f"seed must be None or an int in [0, 2**32 - 1]; got {seed}")
    return np.random.RandomState(seed)


def float_dtype(dtype, any_float=False):
    """``dtype`` as float32 or float64 (with ``any_float``, any floating dtype, such as the
    float16 the course's models also take); TypeError naming ``dtype`` otherwise."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if any_float and dt is not None and dt.kind == "f":
        return dt
    if dt not in (np.float32, np.float64):
        what = "a floating dtype" if any_float else "np.float32 or np.float64"
        raise TypeError(f"dtype must be {what}; got {dtype!r}")
    return dt


def hyperparameters(weight_scale, reg):
    """``weight_scale`` (any finite float: its sign does not change the Gaussian
    initialisation's distribution) and ``reg`` (finite, >= 0) as floats."""
    return v.real_number("weight_scale", weight_scale), v.real_number("reg", reg, 0)


def labels(y, n, num_classes):
    """``y`` checked to hold one class label in [0, num_classes) for each of the ``n`` samples."""
    y = v.class_labels("y", y, n)
    if y.max() >= num_classes:
        raise ValueError(
            f"y must hold class labels in [0, num_classes) = [0, {num_classes}); "
            f"got {int(y.max())}"
        )
    return y


def l2_penalty(reg, params, grads, names, *, inplace=False):
    """``0.5 * reg * sum(W ** 2)`` over the weights ``params[name]``; adds its gradient
    ``reg * W`` to each ``grads[name]``: as new arrays, or into the arrays themselves with
    ``inplace=True`` (for gradients the caller just computed and nobody else holds).

    One pass per weight (:func:`cs231n_fast.ops.linear._l2`: the squares summed in float64 by
    fixed chunks, ``g + reg * w`` written in the same pass); a weight whose gradient has
    another dtype or shape takes NumPy's path.
    """
    from .ops.linear import _l2

    penalty = 0.0
    for name in names:
        w, g = params[name], grads[name]
        if (
            isinstance(w, np.ndarray) and isinstance(g, np.ndarray) and w.dtype == g.dtype
            and w.dtype in (np.float32, np.float64) and w.dtype.isnative and w.shape == g.shape
            and w.flags.c_contiguous and g.flags.c_contiguous
        ):
            out = g if (inplace and g.flags.writeable) else np.empty_like(g)
            penalty += 0.5 * reg * _l2(w, g, out, reg)
            grads[name] = out
        else:
            penalty += 0.5 * reg * float(np.sum(w * w, dtype=np.float64))
            grads[name] = grads[name] + reg * w
    return penalty


def l2_sum(reg, sums):
    """``0.5 * reg * sum(W ** 2)`` from the per-weight sums of squares ``sums``, added in order
    as :func:`l2_penalty` adds them."""
    penalty = 0.0
    for s in sums:
        penalty += 0.5 * reg * s
    return penalty


def conv_backward_no_dx(dout, cache, backend="fast", n_threads=None):
    """``(dw, db)`` of a convolution, without its input gradient (a model's first layer).

    The one place every model path that skips the convolution's dx goes through: the fast
    backend skips the ``w^T @ dout`` products and col2im (``need_dx=False``).
    """
    if backend == "reference":
        from .reference import conv_backward

        _, dw, db = conv_backward(dout, cache, need_dx=False)
    else:
        from .ops.conv import conv_backward

        _, dw, db = conv_backward(dout, cache, n_threads=n_threads, need_dx=False)
    return dw, db
