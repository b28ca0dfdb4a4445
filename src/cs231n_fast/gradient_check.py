"""Drop-in replacement for the course's ``cs231n/gradient_check.py``, plus ``rel_error``.

Numerical gradients by centred differences, ``(f(x + h) - f(x - h)) / (2 h)``, one entry of
``x`` at a time, for checking analytic gradients as in the CS231n notes ("Gradient checks").
As in the course, ``x`` is perturbed *in place* (so that ``f`` may close over it) and each
entry is restored after its two evaluations; here it is restored even when ``f`` raises.

Same names, arguments and printed lines as the course's file. Differences:

* :func:`grad_check_sparse` also returns the relative errors it prints (the course returns
  None), takes an optional ``seed``, and guards the relative error against 0 / 0;
* ``x`` must be a writeable float32/float64 ndarray (an integer ``x`` would truncate the step
  ``h``), and ``f``'s outputs and ``df``/``analytic_grad`` are checked for shape (everything
  the course's functions compute right passes: ``df`` that broadcasts to ``f(x)``'s shape,
  such as a scalar, an ``f`` returning a one-element array, a negative ``h``,
  ``num_checks=0``);
* :func:`rel_error`, defined in every assignment notebook, lives here too.

``eval_numerical_gradient_blobs`` and ``eval_numerical_gradient_net`` serve the course's old
Caffe-style layers: "blobs" are objects with arrays ``vals`` (values) and ``diffs``
(gradients), and a layer ``f(*inputs, output)`` writes its result into ``output.vals``.
"""

import math
import numbers

import numpy as np

from ._validation import as_array, check_shape, positive_int

__all__ = [
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "eval_numerical_gradient_blobs",
    "eval_numerical_gradient_net",
    "grad_check_sparse",
    "rel_error",
]


def _check_x(x, name="x"):
    """``x`` must be a writeable ndarray of a float dtype that can represent a small step."""
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy array of floats (it is perturbed in place); got {type(x).__name__}"
        )
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        raise TypeError(
            f"{name} must be a float32 or float64 array (the step h would be truncated or lost); "
            f"got dtype {x.dtype}"
        )
    if not x.flags.writeable:
        raise ValueError(
            f"{name} must be writeable (it is perturbed in place and restored); got a read-only array"
        )


def _check_h(h):
    """``h`` as a float: finite and not 0 (a negative step gives the same centred difference,
    as in the course)."""
    if isinstance(h, (bool, np.bool_)) or not isinstance(h, numbers.Real):
        raise TypeError(f"h must be a real number; got {h!r} of type {type(h).__name__}")
    if not (math.isfinite(h) and h != 0):
        raise ValueError(f"h must be a finite number other than 0; got {h!r}")
    return float(h)


def _scalar(value):
    """``f``'s return value as a float; ValueError unless it is a real scalar (or a
    one-element array, which the course's ``grad[ix] = ...`` takes too)."""
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "fiu":
        raise ValueError(
            f"f must return a real scalar; got {type(value).__name__} of shape {np.shape(value)}"
        )
    return float(arr.reshape(()))


def _plus_minus(f, x, ix, h, read):
    """``(read(f(x + h e_ix)), read(f(x - h e_ix)))``, perturbing ``x[ix]`` in place.

    ``read`` turns an output of ``f`` into a value that survives the next call (a float, or
    a copy of an array ``f`` may reuse). ``x[ix]`` is restored even if ``f`` raises.
    """
    oldval = x[ix]
    try:
        x[ix] = oldval + h  # increment by h
        fxph = read(f(x))  # evaluate f(x + h)
        x[ix] = oldval - h
        fxmh = read(f(x))  # evaluate f(x - h)
    finally:
        x[ix] = oldval  # restore
    return fxph, fxmh


def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
    """A naive implementation of numerical gradient of f at x.

    - f should be a function that takes a single argument
    - x is the point (numpy array) to evaluate the gradient at

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a real scalar (e.g. a loss).
    x : ndarray, float32 or float64, writeable
        The point. Each entry is perturbed in place by ``+h`` and ``-h`` and then restored.
    verbose : bool, default True
        Print each index and its partial derivative, as the course does.
    h : float, default 1e-5
        The step (finite, not 0).

    Returns
    -------
    grad : ndarray of ``x``'s shape and dtype
        ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)``.

    Raises
    ------
    TypeError
        If ``x`` is not a float32/float64 ndarray, or ``h`` not a number.
    ValueError
        If ``x`` is read-only, ``h`` is 0 or not finite, or ``f`` returns neither a scalar
        nor a one-element array.
    """
    _check_x(x)
    h = _check_h(h)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):  # iterate over all indexes in x
        fxph, fxmh = _plus_minus(f, x, ix, h, _scalar)
        grad[ix] = (fxph - fxmh) / (2 * h)  # the slope, by the centred formula
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Evaluate a numeric gradient for a function that accepts a numpy array and returns a
    numpy array.

    The gradient is that of ``sum(f(x) * df)``: ``df`` is the upstream gradient of ``f``'s
    output, as in a layer's backward pass.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns an array of ``df``'s shape. Its output is copied, so ``f`` may
        return a buffer it reuses.
    x : ndarray, float32 or float64, writeable
        The point; perturbed in place and restored.
    df : ndarray
        Upstream gradient, of the shape of ``f(x)`` or one that broadcasts to it (a scalar
        ``df`` gives the gradient of ``df * sum(f(x))``), as in the course's
        ``np.sum((pos - neg) * df)``.
    h : float, default 1e-5
        The step (finite, not 0).

    Returns
    -------
    grad : ndarray of ``x``'s shape and dtype

    Raises
    ------
    TypeError
        If ``x`` is not a float32/float64 ndarray, ``df`` or ``f(x)`` not a real array.
    ValueError
        If ``x`` is read-only, ``h`` is 0 or not finite, or ``df`` does not broadcast to the
        shape of ``f(x)``.
    """
    _check_x(x)
    h = _check_h(h)
    df = as_array("df", df)

    def read(out):
        out = np.array(as_array("f(x)", out), copy=True)
        if df.shape != out.shape:
            try:
                fits = np.broadcast_shapes(df.shape, out.shape) == out.shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(
                    f"df must have the shape of f(x) {out.shape} (or one that broadcasts to "
                    f"it); got shape {df.shape}"
                )
        return out

    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        pos, neg = _plus_minus(f, x, ix, h, read)
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def _blob_arrays(name, blob):
    """``blob.vals, blob.diffs``; TypeError/ValueError naming ``name`` unless both are arrays
    of one shape."""
    if not (hasattr(blob, "vals") and hasattr(blob, "diffs")):
        raise TypeError(
            f"{name} must be a blob with array attributes vals and diffs; got {type(blob).__name__}"
        )
    vals, diffs = blob.vals, np.asarray(blob.diffs)
    if not isinstance(vals, np.ndarray):
        raise TypeError(f"{name}.vals must be a numpy array; got {type(vals).__name__}")
    check_shape(f"{name}.diffs", diffs, vals.shape, f"the shape of {name}.vals")
    return vals, diffs


def eval_numerical_gradient_blobs(f, inputs, output, h=1e-5):
    """
    Compute numeric gradients for a function that operates on input
    and output blobs.

    We assume that f accepts several input blobs as arguments, followed by a
    blob where outputs will be written. For example, f might be called like::

        f(x, w, out)

    where x and w are input Blobs, and the result of f will be written to out.

    Parameters
    ----------
    f : callable
        ``f(*inputs, output)`` writes its result into ``output.vals``.
    inputs : tuple of blobs
        Each with ``vals`` (a writeable float32/float64 array, perturbed in place and
        restored) and ``diffs`` of the same shape.
    output : blob
        ``output.vals`` holds ``f``'s result after each call; ``output.diffs`` is the
        upstream gradient.
    h : float, default 1e-5
        The step.

    Returns
    -------
    numeric_diffs : list of ndarray
        For each input, the gradient of ``sum(output.vals * output.diffs)`` with respect to
        its ``vals``, of the shape and dtype of its ``diffs``.

    Raises
    ------
    TypeError, ValueError
        If a blob lacks ``vals``/``diffs`` or they differ in shape, an input's ``vals`` is not
        a writeable float array, or ``h`` is not finite and > 0.
    """
    h = _check_h(h)
    inputs = tuple(inputs)
    for n, blob in enumerate(inputs):
        vals, _ = _blob_arrays(f"inputs[{n}]", blob)
        _check_x(vals, f"inputs[{n}].vals")
    _blob_arrays("output", output)

    def call(_):
        f(*(inputs + (output,)))
        vals, _ = _blob_arrays("output", output)
        return np.copy(vals)

    numeric_diffs = []
    for input_blob in inputs:
        diff = np.zeros_like(input_blob.diffs)
        for idx in np.ndindex(input_blob.vals.shape):
            pos, neg = _plus_minus(call, input_blob.vals, idx, h, lambda out: out)
            diff[idx] = np.sum((pos - neg) * output.diffs) / (2.0 * h)
        numeric_diffs.append(diff)
    return numeric_diffs


def eval_numerical_gradient_net(net, inputs, output, h=1e-5):
    """Numeric gradients of a net whose ``forward()`` reads ``inputs`` and writes ``output``.

    :func:`eval_numerical_gradient_blobs` with ``f`` calling ``net.forward()``.
    """
    return eval_numerical_gradient_blobs(lambda *args: net.forward(), inputs, output, h=h)


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None):
    """Sample a few random elements and only return numerical in these dimensions.

    For each of ``num_checks`` random indices ``i`` of ``x``, compares the centred
    difference of ``f`` along ``i`` with ``analytic_grad[i]`` and prints the course's line
    ``numerical: %f analytic: %f, relative error: %e``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a real scalar.
    x : ndarray, float32 or float64, writeable, not empty
        The point; perturbed in place and restored.
    analytic_grad : ndarray of ``x``'s shape
        The gradient to check.
    num_checks : int, default 10
        How many random entries to check (indices are drawn with replacement); 0 checks
        none, as in the course.
    h : float, default 1e-5
        The step (finite, not 0).
    seed : None, int or numpy.random.Generator
        Seeds the choice of indices (``np.random.default_rng(seed)``); None draws fresh ones.

    Returns
    -------
    errors : list of float
        The relative errors ``|num - ana| / max(1e-8, |num| + |ana|)``, in the order printed
        (the course returns None and divides by ``|num| + |ana|`` alone, giving NaN for two
        zeros).

    Raises
    ------
    TypeError
        If ``x`` is not a float32/float64 ndarray, ``h`` or ``num_checks`` of the wrong type.
    ValueError
        If ``x`` is read-only or empty, ``analytic_grad`` has another shape, ``num_checks``
        < 0, ``h`` 0 or not finite, or ``f`` returns neither a scalar nor a one-element
        array.
    """
    _check_x(x)
    h = _check_h(h)
    if x.size == 0:
        raise ValueError(f"x must not be empty; got shape {x.shape}")
    analytic_grad = as_array("analytic_grad", analytic_grad)
    check_shape("analytic_grad", analytic_grad, x.shape, "the shape of x")
    num_checks = positive_int("num_checks", num_checks, minimum=0)
    rng = np.random.default_rng(seed)

    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        fxph, fxmh = _plus_minus(f, x, ix, h, _scalar)
        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = float(analytic_grad[ix])
        error = rel_error(grad_numerical, grad_analytic)
        print(
            "numerical: %f analytic: %f, relative error: %e"
            % (grad_numerical, grad_analytic, error)
        )
        errors.append(error)
    return errors


def rel_error(x, y):
    """Returns relative error: ``max(|x - y| / max(1e-8, |x| + |y|))``.

    The helper of every assignment notebook.

    Parameters
    ----------
    x, y : array_like of real numbers, not empty
        Of the same shape, or one of a shape that broadcasts to the other's (e.g. a scalar).
        Shapes that would broadcast to a third, larger shape, such as (N,) and (N, 1), are
        rejected: comparing them is almost always a bug.

    Returns
    -------
    float
        The largest element-wise relative error.

    Raises
    ------
    TypeError
        If ``x`` or ``y`` is not a real numeric array.
    ValueError
        If the shapes do not match as described, or the arrays are empty.
    """
    x, y = as_array("x", x), as_array("y", y)
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        shape = None
    if shape not in (x.shape, y.shape):
        raise ValueError(
            f"x and y must have the same shape (or one broadcast to the other's); "
            f"got x {x.shape} and y {y.shape}"
        )
    if x.size == 0 or y.size == 0:
        raise ValueError(f"x and y must not be empty; got x {x.shape} and y {y.shape}")
    x, y = x.astype(np.float64), y.astype(np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
