"""Every shape, dtype and parameter check of the public API, in one place.

All checks run in Python before any native code: bad shapes and values raise ``ValueError``,
unusable dtypes raise ``TypeError``, and every message names the argument, what was expected
and what arrived.

Dtype policy (one rule for every function): if every floating input is float32 the
computation and the result are float32; any other real input (float64, float16, integers), or
a float32/float64 mix, is computed in float64. Complex, boolean, object and string arrays raise
``TypeError``.
"""

import math
import numbers
import operator
from collections.abc import Mapping

import numpy as np

__all__ = [
    "as_array",
    "result_dtype",
    "as_contiguous",
    "check_ndim",
    "check_shape",
    "check_nonempty",
    "check_nonempty_sample",
    "pair",
    "positive_int",
    "output_size",
    "im2col_args",
    "col2im_args",
    "conv_args",
    "conv_transpose_args",
    "pool_args",
    "backward_args",
    "cache_args",
    "check_cache_out_shape",
]


def as_array(name, a):
    """``np.asarray(a)`` with a ``TypeError`` naming ``name`` for unusable dtypes."""
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be a real numeric array; could not convert it: {exc}") from None
    kind = arr.dtype.kind
    if kind not in "fiu":
        what = {
            "c": "complex",
            "b": "boolean",
            "O": "object",
            "U": "string",
            "S": "bytes",
            "V": "structured/void",
            "M": "datetime",
            "m": "timedelta",
        }.get(kind, kind)
        raise TypeError(
            f"{name} must be a real numeric array (float32 or float64, or integers); "
            f"got dtype {arr.dtype} ({what})"
        )
    return arr


def result_dtype(*arrays):
    """The computation dtype for these arrays: float32 if all are float32, else float64."""
    if arrays and all(a.dtype == np.float32 for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_contiguous(a, dtype):
    """C-contiguous array of ``dtype``; copies only when needed, never writes into ``a``."""
    return np.ascontiguousarray(a, dtype=dtype)


def check_ndim(name, a, ndim, layout):
    """Raise ValueError unless ``a.ndim == ndim``; ``layout`` reads like "(N, C, H, W)"."""
    if a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array of shape {layout}; got shape {a.shape}")


def check_shape(name, a, expected, why=""):
    """Raise ValueError unless ``a.shape == expected``."""
    expected = tuple(int(e) for e in expected)
    if tuple(a.shape) != expected:
        extra = f" ({why})" if why else ""
        raise ValueError(f"{name} must have shape {expected}{extra}; got shape {a.shape}")


def check_nonempty(name, a, layout):
    """Raise ValueError if any dimension of ``a`` is zero."""
    if a.size == 0:
        raise ValueError(f"{name} must have no zero-size dimension ({layout}); got shape {a.shape}")


def check_nonempty_sample(name, a, layout):
    """Raise ValueError if a dimension of ``a`` other than the first (the batch) is zero: an
    empty batch is computed (to empty outputs), as the course's layers do."""
    if 0 in a.shape[1:]:
        raise ValueError(
            f"{name} must have no zero-size dimension after the batch ({layout}); got shape {a.shape}"
        )


#: Largest geometry int the kernels take (a C ``Py_ssize_t``).
_INDEX_MAX = int(np.iinfo(np.intp).max)


def _as_int(name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {v!r} of type {type(v).__name__}")
    v = operator.index(v)
    if v > _INDEX_MAX:
        raise ValueError(f"{name} must be an int <= {_INDEX_MAX}; got {v}")
    return v


def positive_int(name, v, minimum=1):
    """``v`` as an int, checked to be >= ``minimum``."""
    v = _as_int(name, v)
    if v < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {v}")
    return v


def pair(name, v, minimum):
    """An int or a length-2 sequence of ints, each >= ``minimum``, as a tuple ``(h, w)``."""
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v[()]
    if isinstance(v, (tuple, list, np.ndarray)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w) of ints; got {v!r}")
        h, w = (_as_int(name, e) for e in v)
    else:
        h = w = _as_int(name, v)
    if h < minimum or w < minimum:
        raise ValueError(f"{name} must be >= {minimum} (an int or a pair (h, w)); got {v!r}")
    return h, w


def output_size(name, size, window, stride, pad, dim):
    """Output length along one axis; ValueError when the window exceeds the padded input."""
    padded = size + 2 * pad
    if window > padded:
        raise ValueError(
            f"{name} = {window} is larger than the padded input {dim} {padded} "
            f"(input {dim} {size} + 2 * pad {pad})"
        )
    return (padded - window) // stride + 1


# --- whole-call validation shared by ops/ (fast) and reference/ (NumPy twin) -----------------


def _window(x_shape, kh, kw, stride, pad):
    kh = positive_int("kh", kh)
    kw = positive_int("kw", kw)
    sh, sw = pair("stride", stride, 1)
    ph, pw = pair("pad", pad, 0)
    oh = output_size("kh", x_shape[2], kh, sh, ph, "height")
    ow = output_size("kw", x_shape[3], kw, sw, pw, "width")
    return (kh, kw), (sh, sw), (ph, pw), (oh, ow)


def im2col_args(x, kh, kw, stride, pad):
    """Validate an ``im2col`` call; return contiguous ``x`` and ``(kh, kw), (sh, sw), (ph, pw),
    (oh, ow)``."""
    x = as_array("x", x)
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_nonempty("x", x, "(N, C, H, W)")
    geometry = _window(x.shape, kh, kw, stride, pad)
    return (as_contiguous(x, result_dtype(x)), *geometry)


def col2im_args(cols, x_shape, kh, kw, stride, pad):
    """Validate a ``col2im`` call; return contiguous ``cols``, ``x_shape`` as a tuple and the
    geometry as :func:`im2col_args` does."""
    msg = f"x_shape must be a tuple of 4 positive ints (N, C, H, W); got {x_shape!r}"
    try:
        shape = tuple(operator.index(d) for d in x_shape)
    except TypeError:
        raise TypeError(msg) from None
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(msg)
    geometry = _window(shape, kh, kw, stride, pad)
    (kh, kw), _, _, (oh, ow) = geometry
    cols = as_array("cols", cols)
    check_ndim("cols", cols, 3, "(N, C * kh * kw, OH * OW)")
    check_shape("cols", cols, (shape[0], shape[1] * kh * kw, oh * ow), f"im2col of x_shape {shape}")
    return (as_contiguous(cols, result_dtype(cols)), shape, *geometry)


def conv_args(x, w, b, stride, pad):
    """Validate a convolution call; return contiguous ``x, w, b`` and its geometry.

    Returns ``(x, w, b, (sh, sw), (ph, pw), (oh, ow))`` with the arrays cast to the policy dtype.
    """
    x, w, b = as_array("x", x), as_array("w", w), as_array("b", b)
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_ndim("w", w, 4, "(F, C, HH, WW)")
    check_ndim("b", b, 1, "(F,)")
    check_nonempty_sample("x", x, "(N, C, H, W)")
    check_nonempty("w", w, "(F, C, HH, WW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"w must have shape (F, C, HH, WW) with C = {x.shape[1]} channels as in x "
            f"{x.shape}; got w of shape {w.shape}"
        )
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape (F,) = ({w.shape[0]},) to match w {w.shape}; got {b.shape}")
    sh, sw = pair("stride", stride, 1)
    ph, pw = pair("pad", pad, 0)
    oh = output_size("filter height HH", x.shape[2], w.shape[2], sh, ph, "height")
    ow = output_size("filter width WW", x.shape[3], w.shape[3], sw, pw, "width")
    dtype = result_dtype(x, w, b)
    return (
        as_contiguous(x, dtype),
        as_contiguous(w, dtype),
        as_contiguous(b, dtype),
        (sh, sw),
        (ph, pw),
        (oh, ow),
    )


def conv_transpose_args(x, w, b, stride, pad, output_padding):
    """Validate a transposed-convolution call; return contiguous ``x, w, b`` and its geometry.

    ``w`` has shape (C_in, C_out, HH, WW); ``b`` may be None (no bias: zeros). Returns
    ``(x, w, b, (sh, sw), (ph, pw), (oph, opw), (oh, ow))`` with the arrays cast to the policy
    dtype and ``OH = (H - 1) * sh - 2 * ph + HH + oph`` (likewise OW), as torch's
    ``conv_transpose2d``: ``output_padding`` must be smaller than the stride and the output
    must have at least one row and column.
    """
    x, w = as_array("x", x), as_array("w", w)
    check_ndim("x", x, 4, "(N, C_in, H, W)")
    check_ndim("w", w, 4, "(C_in, C_out, HH, WW)")
    check_nonempty_sample("x", x, "(N, C_in, H, W)")
    check_nonempty("w", w, "(C_in, C_out, HH, WW)")
    if w.shape[0] != x.shape[1]:
        raise ValueError(
            f"w must have shape (C_in, C_out, HH, WW) with C_in = {x.shape[1]} channels as in "
            f"x {x.shape}; got w of shape {w.shape}"
        )
    if b is None:
        b = np.zeros(w.shape[1], dtype=result_dtype(x, w))
    b = as_array("b", b)
    check_ndim("b", b, 1, "(C_out,)")
    if b.shape != (w.shape[1],):
        raise ValueError(
            f"b must have shape (C_out,) = ({w.shape[1]},) to match w {w.shape}; got {b.shape}"
        )
    sh, sw = pair("stride", stride, 1)
    ph, pw = pair("pad", pad, 0)
    oph, opw = pair("output_padding", output_padding, 0)
    if oph >= sh or opw >= sw:
        raise ValueError(
            f"output_padding must be smaller than the stride {(sh, sw)} on each axis; "
            f"got {(oph, opw)}"
        )
    oh = (x.shape[2] - 1) * sh - 2 * ph + w.shape[2] + oph
    ow = (x.shape[3] - 1) * sw - 2 * pw + w.shape[3] + opw
    if oh < 1 or ow < 1:
        raise ValueError(
            f"pad {(ph, pw)} is too large: the output (H - 1) * stride - 2 * pad + kernel + "
            f"output_padding would be {(oh, ow)} for x {x.shape} and w {w.shape}"
        )
    dtype = result_dtype(x, w, b)
    return (
        as_contiguous(x, dtype),
        as_contiguous(w, dtype),
        as_contiguous(b, dtype),
        (sh, sw),
        (ph, pw),
        (oph, opw),
        (oh, ow),
    )


def pool_args(x, pool_height, pool_width, stride):
    """Validate a max-pool call; return contiguous ``x``, ``(kh, kw)``, ``(sh, sw)``, ``(oh, ow)``."""
    x = as_array("x", x)
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_nonempty_sample("x", x, "(N, C, H, W)")
    kh = positive_int("pool_height", pool_height)
    kw = positive_int("pool_width", pool_width)
    sh, sw = pair("stride", stride, 1)
    oh = output_size("pool_height", x.shape[2], kh, sh, 0, "height")
    ow = output_size("pool_width", x.shape[3], kw, sw, 0, "width")
    if x.shape[2] * x.shape[3] > np.iinfo(np.int32).max:
        raise ValueError(f"x planes of more than 2**31 - 1 elements are not supported; got {x.shape}")
    return as_contiguous(x, result_dtype(x)), (kh, kw), (sh, sw), (oh, ow)


def backward_args(dout, cache, cache_type, producer, layout):
    """Validate ``dout`` against a forward cache and return it as an array.

    ``cache_type`` is the expected cache class, ``producer`` the forward function's name and
    ``layout`` the shape in words (e.g. "(N, F, OH, OW)"), used in the messages.
    """
    if not isinstance(cache, cache_type):
        raise TypeError(
            f"cache must be the {cache_type.__name__} returned by {producer}; "
            f"got {type(cache).__name__}"
        )
    dout = as_array("dout", dout)
    check_ndim("dout", dout, len(cache.out_shape), layout)
    check_shape("dout", dout, cache.out_shape, f"the output shape of the {producer} call that made cache")
    return dout


def cache_args(producer, check):
    """``check()``: a forward's validation run again on a cache's fields, naming the cache.

    Backwards whose kernels index by the cached arrays and geometry call it (with
    :func:`check_cache_out_shape`), so that a cache altered after its forward call raises here
    instead of reaching native code.
    """
    try:
        return check()
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"cache does not hold a valid {producer} call: {exc}") from None


def check_cache_out_shape(cache, out_shape, producer):
    """Raise ValueError unless ``cache.out_shape`` is the shape its arrays and geometry give."""
    out_shape = tuple(int(d) for d in out_shape)
    if tuple(cache.out_shape) != out_shape:
        raise ValueError(
            f"cache is not the one {producer} returned: its out_shape {tuple(cache.out_shape)} "
            f"disagrees with its arrays and geometry, which give {out_shape}"
        )


# --- k-nearest neighbours: shared by knn (fast), reference.knn and classifiers ---------------

#: Metrics understood by the kNN functions: Euclidean and Manhattan distance.
KNN_METRICS = ("l2", "l1")


def check_metric(metric):
    """``metric`` as one of :data:`KNN_METRICS` (case-insensitive), lower-cased."""
    if not isinstance(metric, str) or metric.lower() not in KNN_METRICS:
        raise ValueError(f"metric must be one of {KNN_METRICS}; got {metric!r}")
    return metric.lower()


def check_finite(name, a):
    """Raise ValueError naming ``name`` (and the first bad row) if ``a`` holds NaN or Inf."""
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        row = int(np.flatnonzero(~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1))[0])
        raise ValueError(f"{name} contains NaN or Inf (first in row {row}); kNN needs finite values")


def sample_matrix(name, a, check_finite_values=True):
    """A non-empty 2-D ``(n_samples, n_features)`` real array, C-contiguous in its policy dtype.

    Raises TypeError for unusable dtypes, ValueError for another ndim, an empty array, or
    (unless ``check_finite_values`` is false) NaN or Inf.
    """
    a = as_array(name, a)
    check_ndim(name, a, 2, "(n_samples, n_features)")
    check_nonempty(name, a, "(n_samples, n_features)")
    a = as_contiguous(a, result_dtype(a))
    if check_finite_values:
        check_finite(name, a)
    return a


def pairwise_args(X, Y, metric, x_name="X", y_name="Y", *, check_finite_values=True):
    """Validate a kNN call on two sample matrices; return ``(X, Y)`` contiguous in the policy dtype.

    Checks, in this order: ``metric`` is known (see :func:`check_metric`); both arrays are real
    numeric (TypeError), 2-D and non-empty; they have the same number of features; then, after
    the cast to the common dtype (float32 if both are float32, else float64), that they hold no
    NaN or Inf (skip with ``check_finite_values=False`` when a later pass checks for free).
    Messages use ``x_name`` and ``y_name``. Copies only when the layout or dtype requires it.
    """
    check_metric(metric)
    X, Y = as_array(x_name, X), as_array(y_name, Y)
    for name, a in ((x_name, X), (y_name, Y)):
        check_ndim(name, a, 2, "(n_samples, n_features)")
        check_nonempty(name, a, "(n_samples, n_features)")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of features; got {x_name} "
            f"{X.shape} and {y_name} {Y.shape}"
        )
    dtype = result_dtype(X, Y)
    X, Y = as_contiguous(X, dtype), as_contiguous(Y, dtype)
    if check_finite_values:
        check_finite(x_name, X)
        check_finite(y_name, Y)
    return X, Y


def check_k(k, n_train):
    """``k`` as an int with ``1 <= k <= n_train`` (the number of training rows)."""
    k = positive_int("k", k)
    if k > n_train:
        raise ValueError(f"k must be <= the number of training rows ({n_train}); got {k}")
    return k


def check_working_memory(working_memory, default):
    """``working_memory`` in MiB as a float: ``default`` for None, else a finite number > 0."""
    if working_memory is None:
        return float(default)
    if isinstance(working_memory, (bool, np.bool_)) or not isinstance(working_memory, numbers.Real):
        raise TypeError(f"working_memory must be None or a number of MiB; got {working_memory!r}")
    if not (np.isfinite(working_memory) and working_memory > 0):
        raise ValueError(f"working_memory must be a finite number of MiB > 0; got {working_memory!r}")
    return float(working_memory)


def class_labels(name, y, n_samples):
    """Validate class labels: a 1-D array of ``n_samples`` non-negative integers.

    Integer dtypes only (TypeError for floats, even integral-valued ones, booleans and the
    rest); ValueError for another ndim or length, or a negative label.
    """
    try:
        y = np.asarray(y)
    except Exception as exc:
        raise TypeError(f"{name} must be an array of non-negative integer labels: {exc}") from None
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold non-negative integer class labels; got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of shape (n_samples,); got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"{name} must have one label per sample ({n_samples}); got {y.shape[0]}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} must hold non-negative integer class labels; got {int(y.min())}")
    return y


__all__ += [
    "KNN_METRICS",
    "check_metric",
    "check_finite",
    "sample_matrix",
    "pairwise_args",
    "check_k",
    "check_working_memory",
    "class_labels",
]


# --- recurrent layers: shared by ops.rnn (fast) and reference.rnn -------------------------------
#
# These run once or twice per time step of a training loop, beside kernels of about a
# millisecond, so each check runs as one cheap comparison of shapes first; the detailed checks,
# which build the messages, run only when that comparison fails (and then raise).

#: Gate blocks per hidden unit: the vanilla RNN has one (tanh), the LSTM four (i, f, o, g).
RNN_GATES = {"rnn": 1, "lstm": 4}


def recurrent_args(kind, x, h0, Wx, Wh, b, c0=None, *, step):
    """Validate a vanilla-RNN/LSTM call and return its arrays contiguous in the policy dtype.

    ``kind`` is "rnn" or "lstm". For a single step (``step=True``) ``x`` is (N, D) and the state
    arguments are called ``prev_h``/``prev_c``; for a sequence ``x`` is (N, T, D) and they are
    ``h0``/``c0``. ``c0`` may be None (then only for a sequence: it means zeros and comes back as
    None). Returns ``(x, h0, c0, Wx, Wh, b)``; ``Wx`` must be (D, G*H), ``Wh`` (H, G*H) and
    ``b`` (G*H,) with G = 1 for "rnn" and 4 for "lstm". An LSTM step requires ``prev_c``.
    """
    g = RNN_GATES[kind]
    hname, cname = ("prev_h", "prev_c") if step else ("h0", "c0")
    if kind == "lstm" and step and c0 is None:
        raise TypeError("prev_c must be an array of shape (N, H), the previous cell state; got None")
    x = as_array("x", x)
    h0 = as_array(hname, h0)
    Wx, Wh, b = as_array("Wx", Wx), as_array("Wh", Wh), as_array("b", b)
    if c0 is not None:
        c0 = as_array(cname, c0)
    if not _recurrent_shapes_agree(g, step, x, h0, c0, Wx, Wh, b):
        _check_recurrent_shapes(g, step, hname, cname, x, h0, c0, Wx, Wh, b)
    dt = result_dtype(x, h0, Wx, Wh, b) if c0 is None else result_dtype(x, h0, Wx, Wh, b, c0)
    return (
        as_contiguous(x, dt),
        as_contiguous(h0, dt),
        None if c0 is None else as_contiguous(c0, dt),
        as_contiguous(Wx, dt),
        as_contiguous(Wh, dt),
        as_contiguous(b, dt),
    )


def _recurrent_shapes_agree(g, step, x, h0, c0, Wx, Wh, b):
    """True exactly when :func:`_check_recurrent_shapes` passes: plain tuple comparisons, no
    message built (``c0`` may be None)."""
    xs, hs = x.shape, h0.shape
    if len(xs) != (2 if step else 3) or len(hs) != 2 or 0 in xs or 0 in hs or hs[0] != xs[0]:
        return False
    h = hs[1]
    return (
        Wx.shape == (xs[-1], g * h)
        and Wh.shape == (h, g * h)
        and b.shape == (g * h,)
        and (c0 is None or c0.shape == hs)
    )


def _check_recurrent_shapes(g, step, hname, cname, x, h0, c0, Wx, Wh, b):
    """The shape checks of :func:`recurrent_args` one by one, raising ValueError at the first
    that fails with a message naming the argument (``c0`` may be None)."""
    gh = "H" if g == 1 else "4H"
    if step:
        check_ndim("x", x, 2, "(N, D)")
    else:
        check_ndim("x", x, 3, "(N, T, D)")
    check_ndim(hname, h0, 2, "(N, H)")
    check_nonempty("x", x, "(N, D)" if step else "(N, T, D)")
    check_nonempty(hname, h0, "(N, H)")
    n, d, h = x.shape[0], x.shape[-1], h0.shape[1]
    if h0.shape[0] != n:
        raise ValueError(
            f"{hname} must have shape (N, H) with the batch size N = {n} of x; got {h0.shape}"
        )
    if c0 is not None:
        check_shape(cname, c0, (n, h), f"(N, H), the shape of {hname}")
    check_ndim("Wx", Wx, 2, f"(D, {gh})")
    check_shape("Wx", Wx, (d, g * h), f"(D, {gh}) for x with D = {d} and {hname} with H = {h}")
    check_ndim("Wh", Wh, 2, f"(H, {gh})")
    check_shape("Wh", Wh, (h, g * h), f"(H, {gh}) for {hname} with H = {h}")
    check_ndim("b", b, 1, f"({gh},)")
    check_shape("b", b, (g * h,), f"({gh},) for {hname} with H = {h}")


def recurrent_grad(name, dout, cache, cache_type, producer, layout, *, check_cache=True):
    """Validate one upstream gradient of a recurrent backward; return it as an array, uncast.

    The expected shape is ``cache.out_shape`` (the forward output it is the gradient of), read
    only once the cache's type is checked; ``layout`` is that shape in words, e.g. "(N, H)".
    ``check_cache=False`` skips re-checking a cache an earlier call in the same backward checked.
    The caller casts the gradients and the cache's arrays to :func:`recurrent_dtype` of them all.
    """
    if not isinstance(cache, cache_type):
        raise TypeError(
            f"cache must be the {cache_type.__name__} returned by {producer}; "
            f"got {type(cache).__name__}"
        )
    if check_cache:
        _check_recurrent_cache(cache, producer)
    dout = as_array(name, dout)
    out_shape = cache.out_shape
    if dout.shape != out_shape:
        check_ndim(name, dout, len(out_shape), layout)
        why = f"{layout}, the shape of the {producer} output it is the gradient of"
        check_shape(name, dout, out_shape, why)
    return dout


def recurrent_dtype(cache, *grads):
    """The dtype a recurrent backward computes and returns its gradients in.

    :func:`result_dtype` over the cache's dtype (that of ``cache.x``: a forward stores all its
    arrays in one dtype) and every upstream gradient, as for the other backwards: a float64 or
    integer gradient of a float32 cache gives float64 gradients instead of being rounded.
    """
    return result_dtype(cache.x, *grads)


#: Shapes of the fields of each recurrent cache, in symbols bound by the first field that has
#: them ("4H" is four times H).
_RECURRENT_CACHE_SHAPES = {
    "RNNStepCache": dict(x="N D", prev_h="N H", Wx="D H", Wh="H H", next_h="N H"),
    "LSTMStepCache": dict(x="N D", prev_h="N H", prev_c="N H", Wx="D 4H", Wh="H 4H",
                          gates="N 4H", next_c="N H", tanh_c="N H"),
    "RNNCache": dict(x="N T D", h0="N H", Wx="D H", Wh="H H", h="N T H"),
    "LSTMCache": dict(x="N T D", h0="N H", c0="N H", Wx="D 4H", Wh="H 4H", h="N T H",
                      c="N T H", gates="N T 4H", tanh_c="N T H"),
}


def _compile_cache_shapes(spec):
    """``{field: "N 4H"}`` -> ``(fields, [(field, layout, ((symbol, factor), ...)), ...])``, where
    ``fields(cache)`` is the tuple of the cache's fields in that order."""
    out = []
    for field, symbols in spec.items():
        want = symbols.split()
        parts = tuple((sym[1:], 4) if sym.startswith("4") else (sym, 1) for sym in want)
        out.append((field, want, parts))
    return operator.attrgetter(*spec), out


_RECURRENT_CACHE_CHECKS = {name: _compile_cache_shapes(spec) for name, spec in _RECURRENT_CACHE_SHAPES.items()}

#: ``(cache type name, field shapes...)`` of caches that passed :func:`_check_recurrent_cache`.
#: The verdict depends on the shapes only, so a training loop, whose caches repeat a few
#: combinations, pays one set look-up per check. Emptied when it reaches the cap.
_ACCEPTED_CACHE_SHAPES = set()
_ACCEPTED_CACHE_SHAPES_MAX = 256


def _check_recurrent_cache(cache, producer):
    """Raise unless a recurrent cache holds arrays of consistent shapes (a cache altered after
    its forward call must not reach native code): TypeError for a field that is not a NumPy
    array, ValueError for shapes that disagree.

    Shapes already accepted (:data:`_ACCEPTED_CACHE_SHAPES`) pass at once; others are checked
    field by field.
    """
    name = type(cache).__name__
    fields, checks = _RECURRENT_CACHE_CHECKS[name]
    values = fields(cache)
    for (field, _, _), value in zip(checks, values):
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"cache is not the one {producer} returned: its {field} is a "
                f"{type(value).__name__}, not a NumPy array"
            )
    key = (name, *[a.shape for a in values])
    if key in _ACCEPTED_CACHE_SHAPES:
        return
    sizes = {}
    for (field, want, parts), value in zip(checks, values):
        shape = value.shape
        ok = len(shape) == len(parts)
        if ok:
            for (sym, factor), size in zip(parts, shape):
                known = sizes.get(sym)
                if known is None:
                    known = sizes[sym] = size // factor
                if size != factor * known:
                    ok = False
                    break
        if not ok:
            raise ValueError(
                f"cache is not the one {producer} returned: its {field} has shape {shape}, "
                f"which disagrees with ({', '.join(want)}) of its other arrays"
            )
    if len(_ACCEPTED_CACHE_SHAPES) >= _ACCEPTED_CACHE_SHAPES_MAX:
        _ACCEPTED_CACHE_SHAPES.clear()
    _ACCEPTED_CACHE_SHAPES.add(key)


def word_ids(name, x, vocab_size, ndim=2, layout="(N, T)"):
    """Integer word ids of the given rank, each in ``[0, vocab_size)``, as an intp array."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of word ids {layout}; got dtype {x.dtype}")
    check_ndim(name, x, ndim, layout)
    if x.size:
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi >= vocab_size:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"{name} holds word id {bad}, outside the vocabulary [0, {vocab_size}) "
                f"(V = {vocab_size} rows of the embedding/score matrix)"
            )
    return x.astype(np.intp, copy=False)


# --- scalars and seeds: shared by the course toolkit (optim, init, data, solver, ...) ----------


def real_number(name, value, low=-math.inf, high=math.inf, *, low_open=False, high_open=False):
    """``value`` as a finite float in the interval from ``low`` to ``high``.

    The bounds are inclusive unless ``low_open``/``high_open``. TypeError for anything but a
    real number (booleans included), ValueError for NaN, infinities and values outside.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} of type {type(value).__name__}")
    x = float(value)
    below = x <= low if low_open else x < low
    above = x >= high if high_open else x > high
    if not math.isfinite(x) or below or above:
        if math.isinf(high):
            where = f"{'>' if low_open else '>='} {low:g}" if math.isfinite(low) else ""
        else:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a finite number {where}".rstrip() + f"; got {value!r}")
    return x


def make_rng(seed, name="seed"):
    """A numpy Generator from ``seed``: None (fresh entropy), an int >= 0, or a Generator
    (used and advanced as is)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be None, an int >= 0 or a numpy Generator; got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be None, an int >= 0 or a numpy Generator; got {seed}")
    return np.random.default_rng(int(seed))


__all__ += ["real_number", "make_rng"]


def check_state_keys(state, keys, owner, required=None):
    """Raise unless ``state`` is a mapping whose keys are those of ``keys``.

    Parameters
    ----------
    state : object
        The ``state`` argument of a ``load_state_dict``.
    keys : collection of str
        The keys the model knows.
    owner : str
        What the model is called in the message (``"model"``, ``"container"``).
    required : callable or None
        ``required(key)`` says whether ``state`` must have ``key``; None: every key is needed.

    Raises
    ------
    TypeError
        If ``state`` is not a mapping.
    ValueError
        Keys missing or unknown (another architecture), listed.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict of name -> array; got {type(state).__name__}")
    missing = [k for k in keys if k not in state and (required is None or required(k))]
    unknown = sorted(str(k) for k in state if k not in keys)
    if missing or unknown:
        raise ValueError(
            f"state does not match the {owner}'s architecture: missing keys "
            f"{missing}, unexpected keys {unknown}"
        )


def check_state_shape(key, value, shape):
    """Raise ValueError unless ``state[key]`` (the array ``value``) has the model's ``shape``."""
    if value.shape != shape:
        raise ValueError(
            f"state[{key!r}] has shape {value.shape}; the model's {key!r} has shape {shape}"
        )


__all__ += ["check_state_keys", "check_state_shape"]
