"""The bad-input table of ``test_bad_inputs.py``, runnable on its own in a subprocess.

One row per case: an id ("function: what is wrong"), a zero-argument call, and what the call
must do: :class:`Raises` (the exception type and a regex its message must match, starting
with the argument's name) or :class:`Returns` (a check of the documented result: NaN and Inf
propagating as in the NumPy twin, integers computed in float64, read-only inputs working...).

Every public function that reaches native code is covered: ``ops`` (im2col, col2im, conv and
max pool forward/backward), ``ops.rnn`` (the recurrent functions of ``rnn_layers`` are the
same objects; ``sigmoid``), the temporal half of ``rnn_layers``, ``knn.pairwise_distances``
(both metrics) and ``knn.kneighbors``, and every name of ``fast_layers`` and ``compat``.

``python _bad_input_cases.py`` runs every case in one interpreter and prints one JSON object
per case on stdout; each case's id goes to stderr before it runs, so that a crash names the
case that caused it. The arrays are built afresh inside every call: no case sees another's.
"""

import dataclasses
import json
import re
import sys

import numpy as np
from helpers import ATOL, RTOL, as_layout

from cs231n_fast import compat, fast_layers, knn, ops, reference, rnn_layers
from cs231n_fast.ops import rnn
from cs231n_fast.reference import conv_forward_naive, max_pool_forward_naive

# --- the table --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Raises:
    exc: type
    match: str


@dataclasses.dataclass(frozen=True)
class Returns:
    check: object  # check(result) raises AssertionError unless result is the documented one
    what: str


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    call: object
    expect: object


CASES = []


def case(cid, call, expect):
    CASES.append(Case(cid, call, expect))


def bad(cid, call, exc, match):
    case(cid, call, Raises(exc, match))


N_THREADS = r"^n_threads must be None or a positive int"

# --- inputs -------------------------------------------------------------------------------------

X4 = (2, 3, 6, 5)  # images for im2col, conv and pool
W4 = (4, 3, 3, 2)  # non-square filters
CP = {"stride": 1, "pad": 1}  # the conv geometry of most cases: output (2, 4, 6, 6)
PP = {"pool_height": 2, "pool_width": 3, "stride": 2}  # output (2, 3, 3, 2)


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _ro(a):
    return as_layout(a, "readonly")


def _with(a, index, value):
    a = np.array(a, dtype=np.float64)
    a[index] = value
    return a


def _x():
    return _r(*X4)


def _xnan():
    return _with(_x(), (0, 1, 2, 2), np.nan)


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _conv_args(**kw):
    """x, w, b of a valid convolution, with some replaced."""
    args = dict(x=_x(), w=_r(*W4, seed=1), b=_r(4, seed=2))
    args.update(kw)
    return args


def _conv_cache(dtype=np.float64):
    return ops.conv_forward(*(np.asarray(a, dtype) for a in _conv_args().values()), 1, 1)


def _pool_cache():
    return ops.maxpool_forward(_x(), 2, 3, 2)


def _arrays(result):
    """The arrays of a result: a forward's outputs without its cache, or a backward's grads."""
    return tuple(r for r in (result if isinstance(result, tuple) else (result,)) if isinstance(r, np.ndarray))


# --- documented results -------------------------------------------------------------------------


def _close(got, want, dtype):
    """``got`` has ``dtype`` and matches ``want`` within its tolerance, NaN and +-Inf included."""
    got, want = np.asarray(got), np.asarray(want, dtype=np.float64)
    assert got.dtype == np.dtype(dtype), f"dtype {got.dtype}, expected {np.dtype(dtype)}"
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
    for name, where in (("NaN", np.isnan), ("+Inf", np.isposinf), ("-Inf", np.isneginf)):
        np.testing.assert_array_equal(where(got), where(want), err_msg=f"{name} positions differ")
    finite = np.isfinite(want)
    rtol = RTOL[np.dtype(dtype)]
    scale = float(np.abs(want[finite]).max()) if finite.any() else 0.0
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=ATOL[np.dtype(dtype)] * scale)


def like(reference_call, dtype=np.float64):
    """The documented result: the arrays the NumPy twin returns for the same input."""

    def check(got):
        got, want = _arrays(got), _arrays(reference_call())
        assert len(got) == len(want), f"{len(got)} arrays, expected {len(want)}"
        for g, w in zip(got, want):
            _close(g, w, dtype)

    return Returns(check, "the reference's")


def propagates_nan(reference_call):
    """NaN in gives NaN out (as in NumPy), at the reference's positions."""
    same = like(reference_call).check

    def check(got):
        assert any(np.isnan(a).any() for a in _arrays(got)), "NaN did not propagate"
        same(got)

    return Returns(check, "NaN propagated as in the reference")


def pool_like(x, ph=2, pw=3, stride=2):
    """The reference's output and window positions (argmax) for this max pooling."""

    def check(got):
        want, want_cache = reference.maxpool_forward(_f64(x), ph, pw, stride)
        _close(got[0], want, got[0].dtype)
        np.testing.assert_array_equal(got[1].argmax, want_cache.argmax)

    return Returns(check, "the reference's output and argmax")


def dtype_is(dtype):
    def check(got):
        assert all(a.dtype == dtype for a in _arrays(got)), [a.dtype for a in _arrays(got)]

    return Returns(check, f"{np.dtype(dtype)} arrays")


def empty_like_input(shape):
    def check(got):
        assert got.shape == shape and got.dtype == np.float64, (got.shape, got.dtype)

    return Returns(check, f"an empty {shape} float64 array")


# --- ops.im2col / ops.col2im --------------------------------------------------------------------


def _im2col_cases():
    def c(what, call, exc, match):
        bad(f"im2col: {what}", call, exc, match)

    x = _x()
    c("x 3-D", lambda: ops.im2col(x[0], 3, 2), ValueError, r"^x must be a 4-D")
    c("x 5-D", lambda: ops.im2col(x[None], 3, 2), ValueError, r"^x must be a 4-D")
    c("x 0-D", lambda: ops.im2col(1.0, 1, 1), ValueError, r"^x must be a 4-D")
    c("x no images", lambda: ops.im2col(x[:0], 3, 2), ValueError, r"^x must have no zero-size")
    c("x zero width", lambda: ops.im2col(x[..., :0], 1, 1), ValueError, r"^x must have no zero-size")
    c("kh 0", lambda: ops.im2col(x, 0, 2), ValueError, r"^kh must be an int >= 1")
    c("kw -1", lambda: ops.im2col(x, 2, -1), ValueError, r"^kw must be an int >= 1")
    c("kh float", lambda: ops.im2col(x, 1.5, 2), TypeError, r"^kh must be an int")
    c("kw None", lambda: ops.im2col(x, 2, None), TypeError, r"^kw must be an int")
    c("kh larger than the padded input", lambda: ops.im2col(x, 9, 2, 1, 1), ValueError, r"^kh = 9 is larger")
    c("kw larger than the input", lambda: ops.im2col(x, 2, 6), ValueError, r"^kw = 6 is larger")
    c("stride 0", lambda: ops.im2col(x, 2, 2, 0), ValueError, r"^stride must be >= 1")
    c("stride (1, -1)", lambda: ops.im2col(x, 2, 2, (1, -1)), ValueError, r"^stride must be >= 1")
    c("stride triple", lambda: ops.im2col(x, 2, 2, (1, 1, 1)), ValueError, r"^stride must be an int or a pair")
    c("stride beyond int64", lambda: ops.im2col(x, 2, 2, 10**30), ValueError, r"^stride must be an int <=")
    c("pad -1", lambda: ops.im2col(x, 2, 2, 1, -1), ValueError, r"^pad must be >= 0")
    c("pad beyond int64", lambda: ops.im2col(x, 2, 2, 1, 2**70), ValueError, r"^pad must be an int <=")
    c("pad string", lambda: ops.im2col(x, 2, 2, 1, "1"), TypeError, r"^pad must be an int")
    c("x complex", lambda: ops.im2col(x + 0j, 2, 2), TypeError, r"^x must be a real numeric array.*complex")
    c("x object", lambda: ops.im2col(x.astype(object), 2, 2), TypeError, r"^x must be a real numeric array.*object")
    c("x strings", lambda: ops.im2col(x.astype(str), 2, 2), TypeError, r"^x must be a real numeric array.*string")
    c("x boolean", lambda: ops.im2col(x > 0, 2, 2), TypeError, r"^x must be a real numeric array.*boolean")
    c("x ragged", lambda: ops.im2col([[[[1.0, 2.0], [3.0]]]], 1, 1), TypeError, r"^x must be a real numeric array")
    c("n_threads 0", lambda: ops.im2col(x, 2, 2, n_threads=0), ValueError, N_THREADS)
    c("n_threads 2**31", lambda: ops.im2col(x, 2, 2, n_threads=2**31), ValueError, N_THREADS)
    c("n_threads float", lambda: ops.im2col(x, 2, 2, n_threads=2.0), TypeError, N_THREADS)
    c("n_threads bool", lambda: ops.im2col(x, 2, 2, n_threads=True), TypeError, N_THREADS)
    ints = np.arange(60).reshape(1, 3, 4, 5)
    case("im2col: x int", lambda: ops.im2col(ints, 2, 3, 1, 1), like(lambda: reference.im2col(_f64(ints), 2, 3, 1, 1)))
    half = x.astype(np.float16)
    case("im2col: x float16", lambda: ops.im2col(half, 2, 3), like(lambda: reference.im2col(_f64(half), 2, 3)))
    case("im2col: x read-only", lambda: ops.im2col(_ro(x), 3, 2, 2, 1), like(lambda: reference.im2col(x, 3, 2, 2, 1)))
    case("im2col: window = padded input", lambda: ops.im2col(x, 8, 7, 1, 1), like(lambda: reference.im2col(x, 8, 7, 1, 1)))
    case("im2col: NaN propagates", lambda: ops.im2col(_xnan(), 3, 2), propagates_nan(lambda: reference.im2col(_xnan(), 3, 2)))


def _col2im_cases():
    def c(what, call, exc, match):
        bad(f"col2im: {what}", call, exc, match)

    cols = ops.im2col(_x(), 3, 2, 1, 1)  # (2, 18, 36)
    c("cols 2-D", lambda: ops.col2im(cols[0], X4, 3, 2, 1, 1), ValueError, r"^cols must be a 3-D")
    c("cols wrong shape", lambda: ops.col2im(cols[:, 1:], X4, 3, 2, 1, 1), ValueError, r"^cols must have shape \(2, 18, 36\)")
    c("cols zero-size", lambda: ops.col2im(cols[..., :0], X4, 3, 2, 1, 1), ValueError, r"^cols must have shape")
    c("cols complex", lambda: ops.col2im(cols + 0j, X4, 3, 2, 1, 1), TypeError, r"^cols must be a real numeric array.*complex")
    c("cols object", lambda: ops.col2im(cols.astype(object), X4, 3, 2, 1, 1), TypeError, r"^cols must be a real numeric array.*object")
    c("x_shape of 3 ints", lambda: ops.col2im(cols, X4[1:], 3, 2, 1, 1), ValueError, r"^x_shape must be a tuple of 4 positive ints")
    c("x_shape with a zero", lambda: ops.col2im(cols, (2, 3, 0, 5), 3, 2, 1, 1), ValueError, r"^x_shape must be a tuple of 4 positive ints")
    c("x_shape negative", lambda: ops.col2im(cols, (2, 3, -6, 5), 3, 2, 1, 1), ValueError, r"^x_shape must be a tuple of 4 positive ints")
    c("x_shape floats", lambda: ops.col2im(cols, (2.0, 3, 6, 5), 3, 2, 1, 1), TypeError, r"^x_shape must be a tuple of 4 positive ints")
    c("x_shape None", lambda: ops.col2im(cols, None, 3, 2, 1, 1), TypeError, r"^x_shape must be a tuple of 4 positive ints")
    c("x_shape huge", lambda: ops.col2im(cols, (2, 3, 10**30, 5), 3, 2, 1, 1), ValueError, r"^cols must have shape")
    c("kh larger than the padded input", lambda: ops.col2im(cols, X4, 9, 2, 1, 1), ValueError, r"^kh = 9 is larger")
    c("stride 0", lambda: ops.col2im(cols, X4, 3, 2, 0, 1), ValueError, r"^stride must be >= 1")
    c("pad -2", lambda: ops.col2im(cols, X4, 3, 2, 1, -2), ValueError, r"^pad must be >= 0")
    c("n_threads -1", lambda: ops.col2im(cols, X4, 3, 2, 1, 1, n_threads=-1), ValueError, N_THREADS)
    ones = np.ones(cols.shape, np.int32)
    case("col2im: cols int", lambda: ops.col2im(ones, X4, 3, 2, 1, 1), like(lambda: reference.col2im(_f64(ones), X4, 3, 2, 1, 1)))
    case("col2im: cols read-only", lambda: ops.col2im(_ro(cols), X4, 3, 2, 1, 1), like(lambda: reference.col2im(cols, X4, 3, 2, 1, 1)))
    nan = _with(cols, (1, 4, 7), np.nan)
    case("col2im: NaN propagates", lambda: ops.col2im(nan, X4, 3, 2, 1, 1), propagates_nan(lambda: reference.col2im(nan, X4, 3, 2, 1, 1)))


# --- ops.conv_forward / ops.conv_backward -------------------------------------------------------


def _conv_forward_cases():
    def fwd(stride=1, pad=1, n_threads=None, **kw):
        return ops.conv_forward(*_conv_args(**kw).values(), stride, pad, n_threads=n_threads)

    def ref(**kw):
        return reference.conv_forward(*(_f64(a) for a in _conv_args(**kw).values()), 1, 1)

    def c(what, kw, exc, match):
        bad(f"conv_forward: {what}", lambda: fwd(**kw), exc, match)

    x = _x()
    c("x 3-D", dict(x=x[0]), ValueError, r"^x must be a 4-D")
    c("w 5-D", dict(w=_r(1, *W4)), ValueError, r"^w must be a 4-D")
    c("b 0-D", dict(b=0.0), ValueError, r"^b must be a 1-D")
    c("b 2-D", dict(b=_r(4, 1)), ValueError, r"^b must be a 1-D")
    c("channels differ", dict(w=_r(4, 2, 3, 2)), ValueError, r"^w must have shape \(F, C, HH, WW\) with C = 3")
    c("bias length", dict(b=_r(5)), ValueError, r"^b must have shape \(F,\) = \(4,\)")
    c("x no channels", dict(x=np.zeros((2, 0, 6, 5)), w=np.zeros((4, 0, 3, 2))), ValueError, r"^x must have no zero-size")
    c("w no filters", dict(w=np.zeros((0, 3, 3, 2)), b=np.zeros(0)), ValueError, r"^w must have no zero-size")
    c("stride 0", dict(stride=0), ValueError, r"^stride must be >= 1")
    c("stride (-2, 1)", dict(stride=(-2, 1)), ValueError, r"^stride must be >= 1")
    c("stride float", dict(stride=1.0), TypeError, r"^stride must be an int")
    c("stride beyond int64", dict(stride=10**30), ValueError, r"^stride must be an int <=")
    c("pad -1", dict(pad=-1), ValueError, r"^pad must be >= 0")
    c("pad None", dict(pad=None), TypeError, r"^pad must be an int")
    c("filter taller than the padded input", dict(w=_r(4, 3, 9, 2)), ValueError, r"^filter height HH = 9 is larger")
    c("filter wider than the input", dict(w=_r(4, 3, 3, 6), pad=0), ValueError, r"^filter width WW = 6 is larger")
    c("x complex", dict(x=x + 0j), TypeError, r"^x must be a real numeric array.*complex")
    c("w object", dict(w=_r(*W4).astype(object)), TypeError, r"^w must be a real numeric array.*object")
    c("b strings", dict(b=np.array(list("abcd"))), TypeError, r"^b must be a real numeric array.*string")
    c("x boolean", dict(x=x > 0), TypeError, r"^x must be a real numeric array.*boolean")
    c("n_threads 0", dict(n_threads=0), ValueError, N_THREADS)
    c("n_threads string", dict(n_threads="2"), TypeError, N_THREADS)
    ints = dict(x=np.arange(180).reshape(X4) % 7, w=np.ones(W4, np.int8), b=np.arange(4))
    case("conv_forward: ints", lambda: fwd(**ints), like(lambda: ref(**ints)))
    case("conv_forward: float32 and float64 mixed", lambda: fwd(x=x.astype(np.float32)), like(lambda: ref(x=x.astype(np.float32))))
    case("conv_forward: read-only", lambda: fwd(**{k: _ro(a) for k, a in _conv_args().items()}), like(ref))
    case("conv_forward: NaN in x propagates", lambda: fwd(x=_xnan()), propagates_nan(lambda: ref(x=_xnan())))
    inf = _with(x, (0, 0, 0, 0), np.inf)
    case("conv_forward: Inf in x", lambda: fwd(x=inf), like(lambda: ref(x=inf)))
    w_nan = _with(_r(*W4, seed=1), (2, 0, 0, 0), np.nan)
    case("conv_forward: NaN in w propagates", lambda: fwd(w=w_nan), propagates_nan(lambda: ref(w=w_nan)))


def _conv_backward_cases():
    def bwd(dout=lambda o: o, cache=lambda c: c, **kw):
        out, c = _conv_cache()
        return ops.conv_backward(dout(out), cache(c), **kw)

    def ref(dout=lambda o: o):
        out, c = reference.conv_forward(*_conv_args().values(), 1, 1)
        return reference.conv_backward(dout(out), c)

    def c(what, kw, exc, match):
        bad(f"conv_backward: {what}", lambda: bwd(**kw), exc, match)

    def replace(**fields):
        return lambda c: dataclasses.replace(c, **fields)

    c("dout wrong shape", dict(dout=lambda o: o[:, :, :-1]), ValueError, r"^dout must have shape \(2, 4, 6, 6\)")
    c("dout 3-D", dict(dout=lambda o: o[0]), ValueError, r"^dout must be a 4-D")
    c("dout zero-size", dict(dout=lambda o: o[:0]), ValueError, r"^dout must have shape")
    c("dout complex", dict(dout=lambda o: o + 0j), TypeError, r"^dout must be a real numeric array.*complex")
    c("dout strings", dict(dout=lambda o: o.astype(str)), TypeError, r"^dout must be a real numeric array")
    c("cache None", dict(cache=lambda c: None), TypeError, r"^cache must be the ConvCache returned by conv_forward")
    c("the course's tuple cache", dict(cache=lambda c: conv_forward_naive(*_conv_args().values(), CP)[1]), TypeError, r"^cache must be the ConvCache")
    c("cache of maxpool_forward", dict(cache=lambda c: _pool_cache()[1]), TypeError, r"^cache must be the ConvCache")
    c("cache of lstm_forward", dict(cache=lambda c: _rnn_call(rnn, "lstm", False, _rnn_args("lstm", False))[1]), TypeError, r"^cache must be the ConvCache")
    c("cache with out_shape altered", dict(dout=lambda o: np.zeros((2, 4, 9, 9)), cache=replace(out_shape=(2, 4, 9, 9))),
      ValueError, r"^cache is not the one conv_forward returned")
    c("cache with w of other channels", dict(cache=replace(w=np.zeros((4, 1, 3, 2)))),
      ValueError, r"^cache does not hold a valid conv_forward call: w must have shape")
    c("cache with stride altered", dict(cache=replace(stride=(1, 3))), ValueError, r"^cache is not the one conv_forward returned")
    c("cache with a 3-D x", dict(cache=lambda c: dataclasses.replace(c, x=c.x[0])),
      ValueError, r"^cache does not hold a valid conv_forward call: x must be a 4-D")
    c("n_threads 0", dict(n_threads=0), ValueError, N_THREADS)
    case("conv_backward: cache of reference.conv_forward",
         lambda: ops.conv_backward(*reference.conv_forward(*_conv_args().values(), 1, 1)), like(ref))
    case("conv_backward: dout int", lambda: bwd(dout=lambda o: np.ones(o.shape, np.int64)), like(lambda: ref(lambda o: np.ones(o.shape))))
    case("conv_backward: dout read-only", lambda: bwd(dout=_ro), like(ref))
    case("conv_backward: float64 dout, float32 cache", lambda: ops.conv_backward(np.ones((2, 4, 6, 6)), _conv_cache(np.float32)[1]),
         dtype_is(np.float64))

    def nan(o):
        return _with(o, (0, 1, 2, 2), np.nan)

    case("conv_backward: NaN in dout propagates", lambda: bwd(dout=nan), propagates_nan(lambda: ref(nan)))


# --- ops.conv_transpose_forward / ops.conv_transpose_backward ----------------------------------


def _conv_transpose_args(**kw):
    """x, w (C_in = 3, C_out = 4, non-square), b of a valid transposed convolution."""
    args = dict(x=_x(), w=_r(3, 4, 3, 2, seed=1), b=_r(4, seed=2))
    args.update(kw)
    return args


def _conv_transpose_cases():
    def fwd(stride=2, pad=1, output_padding=1, n_threads=None, **kw):
        return ops.conv_transpose_forward(*_conv_transpose_args(**kw).values(), stride, pad,
                                          output_padding, n_threads=n_threads)

    def ref(**kw):
        return reference.conv_transpose_forward(
            *(_f64(a) for a in _conv_transpose_args(**kw).values()), 2, 1, 1)

    def c(what, kw, exc, match):
        bad(f"conv_transpose_forward: {what}", lambda: fwd(**kw), exc, match)

    x = _x()
    c("x 3-D", dict(x=x[0]), ValueError, r"^x must be a 4-D")
    c("w 3-D", dict(w=_r(3, 4, 3)), ValueError, r"^w must be a 4-D")
    c("channels differ", dict(w=_r(4, 4, 3, 2)), ValueError, r"^w must have shape \(C_in, C_out, HH, WW\) with C_in = 3")
    c("bias length", dict(b=_r(3)), ValueError, r"^b must have shape \(C_out,\) = \(4,\)")
    c("stride 0", dict(stride=0), ValueError, r"^stride must be >= 1")
    c("pad -1", dict(pad=-1), ValueError, r"^pad must be >= 0")
    c("output_padding = stride", dict(output_padding=2), ValueError, r"^output_padding must be smaller than the stride")
    c("pad crops everything", dict(pad=9), ValueError, r"^pad \(9, 9\) is too large")
    c("x complex", dict(x=x + 0j), TypeError, r"^x must be a real numeric array.*complex")
    c("n_threads 0", dict(n_threads=0), ValueError, N_THREADS)
    case("conv_transpose_forward: b None", lambda: fwd(b=None), like(lambda: ref(b=np.zeros(4))))
    case("conv_transpose_forward: read-only", lambda: fwd(**{k: _ro(a) for k, a in _conv_transpose_args().items()}), like(ref))
    case("conv_transpose_forward: NaN in x propagates", lambda: fwd(x=_xnan()), propagates_nan(lambda: ref(x=_xnan())))

    def bwd(dout=lambda o: o, cache=lambda c: c):
        out, c = fwd()
        return ops.conv_transpose_backward(dout(out), cache(c))

    def b(what, kw, exc, match):
        bad(f"conv_transpose_backward: {what}", lambda: bwd(**kw), exc, match)

    b("dout wrong shape", dict(dout=lambda o: o[:, :, :-1]), ValueError, r"^dout must have shape \(2, 4, 12, 9\)")
    b("dout complex", dict(dout=lambda o: o + 0j), TypeError, r"^dout must be a real numeric array.*complex")
    b("cache of conv_forward", dict(cache=lambda c: _conv_cache()[1]), TypeError, r"^cache must be the ConvTransposeCache")
    b("cache with out_shape altered", dict(dout=lambda o: np.zeros((2, 4, 9, 9)), cache=lambda c: dataclasses.replace(c, out_shape=(2, 4, 9, 9))),
      ValueError, r"^cache is not the one conv_transpose_forward returned")

    def rbwd():
        out, c = ref()
        return reference.conv_transpose_backward(out, c)

    case("conv_transpose_backward: dout read-only", lambda: bwd(dout=_ro), like(rbwd))


# --- ops.maxpool_forward / ops.maxpool_backward -------------------------------------------------


def _maxpool_forward_cases():
    def c(what, call, exc, match):
        bad(f"maxpool_forward: {what}", call, exc, match)

    x = _x()
    c("x 3-D", lambda: ops.maxpool_forward(x[0], 2, 2, 2), ValueError, r"^x must be a 4-D")
    c("x a 2-D list", lambda: ops.maxpool_forward([[1.0, 2.0]], 1, 1, 1), ValueError, r"^x must be a 4-D")
    c("x no channels", lambda: ops.maxpool_forward(np.zeros((2, 0, 6, 5)), 2, 2, 2), ValueError, r"^x must have no zero-size")
    c("x zero height", lambda: ops.maxpool_forward(np.zeros((2, 3, 0, 5)), 1, 1, 1), ValueError, r"^x must have no zero-size")
    c("pool_height 0", lambda: ops.maxpool_forward(x, 0, 2, 2), ValueError, r"^pool_height must be an int >= 1")
    c("pool_width -3", lambda: ops.maxpool_forward(x, 2, -3, 2), ValueError, r"^pool_width must be an int >= 1")
    c("pool_width float", lambda: ops.maxpool_forward(x, 2, 2.0, 2), TypeError, r"^pool_width must be an int")
    c("pool_height None", lambda: ops.maxpool_forward(x, None, 2, 2), TypeError, r"^pool_height must be an int")
    c("pool_height larger than the input", lambda: ops.maxpool_forward(x, 7, 2, 2), ValueError, r"^pool_height = 7 is larger")
    c("pool_width larger than the input", lambda: ops.maxpool_forward(x, 2, 6, 2), ValueError, r"^pool_width = 6 is larger")
    c("stride 0", lambda: ops.maxpool_forward(x, 2, 2, 0), ValueError, r"^stride must be >= 1")
    c("stride (-1, 1)", lambda: ops.maxpool_forward(x, 2, 2, (-1, 1)), ValueError, r"^stride must be >= 1")
    c("stride triple", lambda: ops.maxpool_forward(x, 2, 2, (1, 2, 3)), ValueError, r"^stride must be an int or a pair")
    c("stride beyond int64", lambda: ops.maxpool_forward(x, 2, 2, 10**30), ValueError, r"^stride must be an int <=")
    c("x complex", lambda: ops.maxpool_forward(x.astype(np.complex64), 2, 2, 2), TypeError, r"^x must be a real numeric array.*complex")
    c("x object", lambda: ops.maxpool_forward(x.astype(object), 2, 2, 2), TypeError, r"^x must be a real numeric array.*object")
    c("x bytes", lambda: ops.maxpool_forward(x.astype(bytes), 2, 2, 2), TypeError, r"^x must be a real numeric array.*bytes")
    c("x datetime", lambda: ops.maxpool_forward(np.zeros(X4, "M8[s]"), 2, 2, 2), TypeError, r"^x must be a real numeric array.*datetime")
    c("n_threads 0", lambda: ops.maxpool_forward(x, 2, 2, 2, n_threads=0), ValueError, N_THREADS)
    c("n_threads 2**31", lambda: ops.maxpool_forward(x, 2, 2, 2, n_threads=2**31), ValueError, N_THREADS)
    ints = (np.arange(180) % 11).reshape(X4).astype(np.int16)
    case("maxpool_forward: x int16", lambda: ops.maxpool_forward(ints, 2, 3, 2), pool_like(ints))
    big = np.full((1, 1, 2, 3), 2**64 - 1, np.uint64)
    case("maxpool_forward: x uint64 near 2**64", lambda: ops.maxpool_forward(big, 2, 3, 2), pool_like(big))
    case("maxpool_forward: x read-only", lambda: ops.maxpool_forward(_ro(x), 2, 3, 2), pool_like(x))
    nan = _xnan()

    def nan_check(got):
        assert np.isnan(got[0]).any(), "NaN did not propagate"
        pool_like(nan).check(got)

    case("maxpool_forward: NaN propagates", lambda: ops.maxpool_forward(nan, 2, 3, 2), Returns(nan_check, "NaN propagated as in the reference"))
    inf = _with(_with(x, (1, 2, 4, 1), np.inf), (0, 0, 0, 0), -np.inf)
    case("maxpool_forward: +-Inf", lambda: ops.maxpool_forward(inf, 2, 3, 1), pool_like(inf, 2, 3, 1))
    case("maxpool_forward: window = input", lambda: ops.maxpool_forward(x, 6, 5, 1), pool_like(x, 6, 5, 1))
    case("maxpool_forward: stride larger than the input", lambda: ops.maxpool_forward(x, 2, 2, 50), pool_like(x, 2, 2, 50))


def _maxpool_backward_cases():
    def bwd(dout=lambda o: o, cache=lambda c: c, **kw):
        out, c = _pool_cache()
        return ops.maxpool_backward(dout(out), cache(c), **kw)

    def ref(dout=lambda o: o):
        out, c = reference.maxpool_forward(_x(), 2, 3, 2)
        return reference.maxpool_backward(dout(out), c)

    def c(what, kw, exc, match):
        bad(f"maxpool_backward: {what}", lambda: bwd(**kw), exc, match)

    def replace(make):
        return lambda c: dataclasses.replace(c, **make(c))

    tampered = r"^cache is not the one maxpool_forward returned"
    c("dout wrong shape", dict(dout=lambda o: o[..., :1]), ValueError, r"^dout must have shape \(2, 3, 3, 2\)")
    c("dout 5-D", dict(dout=lambda o: o[None]), ValueError, r"^dout must be a 4-D")
    c("dout object", dict(dout=lambda o: o.astype(object)), TypeError, r"^dout must be a real numeric array.*object")
    c("cache a dict", dict(cache=lambda c: {"x": 1}), TypeError, r"^cache must be the PoolCache returned by maxpool_forward")
    c("the course's tuple cache", dict(cache=lambda c: max_pool_forward_naive(_x(), PP)[1]), TypeError, r"^cache must be the PoolCache")
    c("cache of conv_forward", dict(cache=lambda c: _conv_cache()[1]), TypeError, r"^cache must be the PoolCache")
    c("cache with argmax outside its plane", dict(cache=replace(lambda c: dict(argmax=c.argmax + 10**6))), ValueError, tampered + ": its argmax")
    c("cache with negative argmax", dict(cache=replace(lambda c: dict(argmax=c.argmax - 10**6))), ValueError, tampered + ": its argmax")
    c("cache with argmax of another shape", dict(cache=replace(lambda c: dict(argmax=c.argmax[..., :1]))), ValueError, tampered + ": its argmax")
    # int64 positions that wrap to valid int32 ones (argmax - 2**32): checked before the cast.
    c("cache with int64 argmax - 2**32", dict(cache=replace(lambda c: dict(argmax=c.argmax.astype(np.int64) - 2**32))),
      ValueError, tampered + ": its argmax")
    c("cache with int64 argmax + 2**32", dict(cache=replace(lambda c: dict(argmax=c.argmax.astype(np.int64) + 2**32))),
      ValueError, tampered + ": its argmax")
    c("cache with float argmax", dict(cache=replace(lambda c: dict(argmax=c.argmax + 0.5))), ValueError, tampered + ": its argmax")
    c("cache with pool altered", dict(cache=replace(lambda c: dict(pool=(1, 1)))), ValueError, tampered)
    c("cache with a smaller x", dict(cache=replace(lambda c: dict(x=c.x[..., :3, :3]))), ValueError, tampered)
    c("cache with pool not a pair", dict(cache=replace(lambda c: dict(pool=2))), TypeError, r"^cache does not hold a valid maxpool_forward call")
    c("n_threads 0", dict(n_threads=0), ValueError, N_THREADS)
    case("maxpool_backward: cache of reference.maxpool_forward", lambda: ops.maxpool_backward(*reference.maxpool_forward(_x(), 2, 3, 2)), like(ref))
    case("maxpool_backward: dout int", lambda: bwd(dout=lambda o: np.full(o.shape, 3, np.int8)), like(lambda: ref(lambda o: np.full(o.shape, 3.0))))
    case("maxpool_backward: dout read-only", lambda: bwd(dout=_ro), like(ref))

    def nan(o):
        return _with(o, (1, 2, 0, 1), np.nan)

    case("maxpool_backward: NaN in dout propagates", lambda: bwd(dout=nan), propagates_nan(lambda: ref(nan)))


# --- ops.rnn: vanilla RNN and LSTM, step and sequence (rnn_layers exports the same objects) -----

RNN_KINDS = [("rnn", True), ("rnn", False), ("lstm", True), ("lstm", False)]


def _rnn_args(kind, step, **kw):
    """Valid arguments (N = 2, T = 3, D = 4, H = 5) of a recurrent forward, some replaced.

    Keys: x, h (prev_h or h0), c (prev_c of an LSTM step, or c0 when given), Wx, Wh, b.
    """
    g = 4 if kind == "lstm" else 1
    args = dict(
        x=_r(2, 4) if step else _r(2, 3, 4),
        h=_r(2, 5, seed=1),
        Wx=_r(4, g * 5, seed=2) * 0.3,
        Wh=_r(5, g * 5, seed=3) * 0.3,
        b=_r(g * 5, seed=4),
    )
    if kind == "lstm" and step:
        args["c"] = _r(2, 5, seed=5)
    args.update(kw)
    return args


def _rnn_call(module, kind, step, a, **kw):
    f = getattr(module, f"{kind}_{'step_' if step else ''}forward")
    if kind == "lstm" and step:
        return f(a["x"], a["h"], a["c"], a["Wx"], a["Wh"], a["b"], **kw)
    if kind == "lstm" and "c" in a:
        return f(a["x"], a["h"], a["Wx"], a["Wh"], a["b"], a["c"], **kw)
    return f(a["x"], a["h"], a["Wx"], a["Wh"], a["b"], **kw)


def _rnn_forward_cases(kind, step):
    name = f"{kind}_{'step_' if step else ''}forward"
    h = "prev_h" if step else "h0"
    layout, rank = (r"\(N, D\)", "2-D") if step else (r"\(N, T, D\)", "3-D")
    gh = (4 if kind == "lstm" else 1) * 5  # the G*H columns of Wx, Wh and b
    x = _rnn_args(kind, step)["x"]
    x_nan = _with(x, (1,) + (0,) * (x.ndim - 1), np.nan)

    def call(n_threads=None, **kw):
        return _rnn_call(rnn, kind, step, _rnn_args(kind, step, **kw), n_threads=n_threads)

    def ref(**kw):
        return _rnn_call(reference, kind, step, {k: _f64(v) for k, v in _rnn_args(kind, step, **kw).items()})

    def c(what, kw, exc, match):
        bad(f"{name}: {what}", lambda: call(**kw), exc, match)

    c("x of wrong rank", dict(x=x[..., None]), ValueError, rf"^x must be a {rank} array of shape {layout}")
    c("x no samples", dict(x=x[:0]), ValueError, r"^x must have no zero-size")
    c("x zero features", dict(x=x[..., :0]), ValueError, r"^x must have no zero-size")
    c(f"{h} 1-D", dict(h=np.zeros(5)), ValueError, rf"^{h} must be a 2-D")
    c(f"{h} of another batch size", dict(h=np.zeros((3, 5))), ValueError, rf"^{h} must have shape \(N, H\) with the batch size N = 2")
    c(f"{h} no hidden units", dict(h=np.zeros((2, 0))), ValueError, rf"^{h} must have no zero-size")
    c("Wx of another D", dict(Wx=np.zeros((3, gh))), ValueError, rf"^Wx must have shape \(4, {gh}\)")
    c("Wx of another number of gates", dict(Wx=np.zeros((4, 25 - gh))), ValueError, rf"^Wx must have shape \(4, {gh}\)")
    c("Wh not (H, G*H)", dict(Wh=np.zeros((4, gh))), ValueError, rf"^Wh must have shape \(5, {gh}\)")
    c("Wh 1-D", dict(Wh=np.zeros(5)), ValueError, r"^Wh must be a 2-D")
    c("b of wrong length", dict(b=np.zeros(7)), ValueError, rf"^b must have shape \({gh},\)")
    c("b 2-D", dict(b=np.zeros((1, gh))), ValueError, r"^b must be a 1-D")
    c("x complex", dict(x=x + 0j), TypeError, r"^x must be a real numeric array.*complex")
    c(f"{h} strings", dict(h=np.full((2, 5), "a")), TypeError, rf"^{h} must be a real numeric array.*string")
    c("Wh object", dict(Wh=np.zeros((5, gh), object)), TypeError, r"^Wh must be a real numeric array.*object")
    c("b boolean", dict(b=np.zeros(gh, bool)), TypeError, r"^b must be a real numeric array.*boolean")
    c("n_threads 0", dict(n_threads=0), ValueError, N_THREADS)
    case(f"{name}: ints", lambda: call(x=np.round(x).astype(np.int32)), like(lambda: ref(x=np.round(x))))
    case(f"{name}: float32 and float64 mixed", lambda: call(x=x.astype(np.float32)), like(lambda: ref(x=x.astype(np.float32))))
    case(f"{name}: read-only", lambda: call(**{k: _ro(v) for k, v in _rnn_args(kind, step).items()}), like(ref))
    case(f"{name}: NaN in x propagates", lambda: call(x=x_nan), propagates_nan(lambda: ref(x=x_nan)))
    case(f"{name}: huge pre-activations saturate", lambda: call(x=x * 1e30), like(lambda: ref(x=x * 1e30)))


def _lstm_cell_state_cases():
    step = _rnn_args("lstm", True)
    bad("lstm_step_forward: prev_c None", lambda: rnn.lstm_step_forward(step["x"], step["h"], None, step["Wx"], step["Wh"], step["b"]),
        TypeError, r"^prev_c must be an array")
    bad("lstm_step_forward: prev_c wrong shape", lambda: _rnn_call(rnn, "lstm", True, _rnn_args("lstm", True, c=np.zeros((2, 4)))),
        ValueError, r"^prev_c must have shape \(2, 5\)")
    bad("lstm_step_forward: prev_c complex", lambda: _rnn_call(rnn, "lstm", True, _rnn_args("lstm", True, c=np.zeros((2, 5), complex))),
        TypeError, r"^prev_c must be a real numeric array")
    bad("lstm_forward: c0 wrong shape", lambda: _rnn_call(rnn, "lstm", False, _rnn_args("lstm", False, c=np.zeros((5, 2)))),
        ValueError, r"^c0 must have shape \(2, 5\)")
    bad("lstm_forward: c0 object", lambda: _rnn_call(rnn, "lstm", False, _rnn_args("lstm", False, c=np.zeros((2, 5), object))),
        TypeError, r"^c0 must be a real numeric array")
    c0 = _r(2, 5, seed=9)
    case("lstm_forward: c0 given", lambda: _rnn_call(rnn, "lstm", False, _rnn_args("lstm", False, c=c0)),
         like(lambda: _rnn_call(reference, "lstm", False, _rnn_args("lstm", False, c=c0))))


#: For each recurrent backward: a forward whose cache is of the wrong type, and the expected type.
_OTHER_CACHE = {
    ("rnn", True): ("rnn", False, "RNNStepCache"),
    ("rnn", False): ("lstm", False, "RNNCache"),
    ("lstm", True): ("rnn", True, "LSTMStepCache"),
    ("lstm", False): ("lstm", True, "LSTMCache"),
}
#: For each recurrent cache: a field and a wrong-shaped replacement for it.
_TAMPER = {
    ("rnn", True): ("Wx", lambda c: np.zeros((7, 5))),
    ("rnn", False): ("h0", lambda c: np.zeros((3, 5))),
    ("lstm", True): ("gates", lambda c: c.gates[:, :5]),
    ("lstm", False): ("c", lambda c: c.c[:, :1]),
}


def _rnn_backward_cases(kind, step):
    suffix = f"{kind}_{'step_' if step else ''}"
    name, producer = suffix + "backward", suffix + "forward"
    grad = "dnext_h" if step else "dh"
    other_kind, other_step, cache_type = _OTHER_CACHE[(kind, step)]
    field, tamper = _TAMPER[(kind, step)]

    def call(grads=lambda o: o, cache=lambda c: c, **kw):
        *outs, c = _rnn_call(rnn, kind, step, _rnn_args(kind, step))
        return getattr(rnn, name)(*grads(tuple(outs)), cache(c), **kw)

    def ref(grads=lambda o: o):
        *outs, c = _rnn_call(reference, kind, step, _rnn_args(kind, step))
        return getattr(reference, name)(*grads(tuple(outs)), c)

    def first(f):  # apply f to the first upstream gradient only
        return lambda o: (f(o[0]),) + o[1:]

    def c(what, kw, exc, match):
        bad(f"{name}: {what}", lambda: call(**kw), exc, match)

    c(f"{grad} wrong shape", dict(grads=first(lambda a: a[:1])), ValueError, rf"^{grad} must have shape")
    c(f"{grad} of wrong rank", dict(grads=first(lambda a: a[..., None])), ValueError, rf"^{grad} must be a")
    c(f"{grad} complex", dict(grads=first(lambda a: a + 0j)), TypeError, rf"^{grad} must be a real numeric array.*complex")
    c("cache None", dict(cache=lambda c: None), TypeError, rf"^cache must be the {cache_type} returned by {producer}")
    c(f"cache of {other_kind}_{'step_' if other_step else ''}forward",
      dict(cache=lambda c: _rnn_call(rnn, other_kind, other_step, _rnn_args(other_kind, other_step))[-1]),
      TypeError, rf"^cache must be the {cache_type}")
    c("cache of conv_forward", dict(cache=lambda c: _conv_cache()[1]), TypeError, rf"^cache must be the {cache_type}")
    c(f"cache with {field} replaced", dict(cache=lambda c: dataclasses.replace(c, **{field: tamper(c)})),
      ValueError, rf"^cache is not the one {producer} returned: its {field} has shape")
    c("n_threads 0", dict(n_threads=0), ValueError, N_THREADS)

    def from_reference():
        *outs, c = _rnn_call(reference, kind, step, _rnn_args(kind, step))
        return getattr(rnn, name)(*outs, c)

    def ones(o):
        return tuple(np.ones(a.shape, np.int16) for a in o)

    def nan(a):
        return _with(a, (0,) * a.ndim, np.nan)

    case(f"{name}: cache of the reference", from_reference, like(ref))
    case(f"{name}: {grad} int", lambda: call(grads=ones), like(lambda: ref(lambda o: tuple(_f64(a) for a in ones(o)))))
    case(f"{name}: {grad} read-only", lambda: call(grads=lambda o: tuple(_ro(a) for a in o)), like(ref))
    case(f"{name}: NaN in {grad} propagates", lambda: call(grads=first(nan)), propagates_nan(lambda: ref(first(nan))))
    if kind == "lstm" and step:
        bad(f"{name}: dnext_c wrong shape", lambda: call(grads=lambda o: (o[0], o[1][:, :2])), ValueError, r"^dnext_c must have shape \(2, 5\)")
        bad(f"{name}: dnext_c strings", lambda: call(grads=lambda o: (o[0], o[1].astype(str))), TypeError, r"^dnext_c must be a real numeric array")


def _sigmoid_cases():
    def c(what, call, exc, match):
        bad(f"sigmoid: {what}", call, exc, match)

    c("complex", lambda: rnn.sigmoid(np.zeros(3, complex)), TypeError, r"^x must be a real numeric array.*complex")
    c("object", lambda: rnn.sigmoid(np.zeros(3, object)), TypeError, r"^x must be a real numeric array.*object")
    c("string", lambda: rnn.sigmoid("0.5"), TypeError, r"^x must be a real numeric array.*string")
    c("ragged", lambda: rnn.sigmoid([[1.0], [1.0, 2.0]]), TypeError, r"^x must be a real numeric array")
    c("n_threads 0", lambda: rnn.sigmoid(_x(), n_threads=0), ValueError, N_THREADS)
    z = np.array([-1e300, -1000.0, -30.0, 0.0, 30.0, 1000.0, 1e300, np.inf, -np.inf, np.nan])
    z32 = np.array([-3e38, -100.0, -30.0, 0.0, 30.0, 100.0, 3e38, np.inf, -np.inf, np.nan], np.float32)
    case("sigmoid: extremes, Inf and NaN", lambda: rnn.sigmoid(z), like(lambda: reference.sigmoid(z)))
    case("sigmoid: float32 extremes", lambda: rnn.sigmoid(z32), like(lambda: reference.sigmoid(z32), np.float32))
    case("sigmoid: empty", lambda: rnn.sigmoid(np.zeros((0, 3))), empty_like_input((0, 3)))
    case("sigmoid: 0-D", lambda: rnn.sigmoid(2.0), like(lambda: np.asarray(reference.sigmoid(2.0))))
    case("sigmoid: int", lambda: rnn.sigmoid(np.arange(-5, 5)), like(lambda: reference.sigmoid(np.arange(-5.0, 5.0))))
    case("sigmoid: read-only", lambda: rnn.sigmoid(_ro(_x())), like(lambda: reference.sigmoid(_x())))
    case("sigmoid: negative strides", lambda: rnn.sigmoid(_x()[:, ::2, ::-1]), like(lambda: reference.sigmoid(_x()[:, ::2, ::-1])))


# --- rnn_layers: the temporal layers (vectorised NumPy, validated the same way) -----------------


def _temporal_cases():
    ids, emb, scores = np.array([[0, 3, 1], [2, 2, 4]]), _r(5, 3), _r(2, 3, 5)
    every = np.ones((2, 3), bool)
    x3, w, b = _r(2, 3, 4), _r(4, 3), _r(3)
    L = rnn_layers
    bad("word_embedding_forward: x float", lambda: L.word_embedding_forward(ids.astype(float), emb), TypeError, r"^x must be an integer array")
    bad("word_embedding_forward: x 1-D", lambda: L.word_embedding_forward(ids[0], emb), ValueError, r"^x must be a 2-D")
    bad("word_embedding_forward: id too large", lambda: L.word_embedding_forward(ids + 1, emb), ValueError, r"^x holds word id 5, outside the vocabulary")
    bad("word_embedding_forward: negative id", lambda: L.word_embedding_forward(ids - 1, emb), ValueError, r"^x holds word id -1")
    bad("word_embedding_forward: x empty", lambda: L.word_embedding_forward(ids[:, :0], emb), ValueError, r"^x must have no zero-size")
    bad("word_embedding_forward: W 1-D", lambda: L.word_embedding_forward(ids, emb[0]), ValueError, r"^W must be a 2-D")
    bad("word_embedding_forward: W empty", lambda: L.word_embedding_forward(ids, emb[:, :0]), ValueError, r"^W must have no zero-size")
    bad("word_embedding_forward: W complex", lambda: L.word_embedding_forward(ids, emb + 0j), TypeError, r"^W must be a real numeric array")
    case("word_embedding_forward: read-only", lambda: L.word_embedding_forward(_ro(ids), _ro(emb)), like(lambda: reference.word_embedding_forward(ids, emb)))
    bad("word_embedding_backward: dout wrong shape", lambda: L.word_embedding_backward(np.zeros((2, 3, 4)), L.word_embedding_forward(ids, emb)[1]),
        ValueError, r"^dout must have shape \(2, 3, 3\)")
    bad("word_embedding_backward: cache of temporal_affine_forward", lambda: L.word_embedding_backward(np.zeros((2, 3, 3)), L.temporal_affine_forward(x3, w, b)[1]),
        TypeError, r"^cache must be the EmbeddingCache")
    bad("temporal_affine_forward: x 2-D", lambda: L.temporal_affine_forward(x3[0], w, b), ValueError, r"^x must be a 3-D")
    bad("temporal_affine_forward: w of another D", lambda: L.temporal_affine_forward(x3, _r(5, 3), b), ValueError, r"^w must have shape \(D, M\) with D = 4")
    bad("temporal_affine_forward: b of another M", lambda: L.temporal_affine_forward(x3, w, b[:2]), ValueError, r"^b must have shape \(M,\) = \(3,\)")
    bad("temporal_affine_forward: x complex", lambda: L.temporal_affine_forward(x3 + 0j, w, b), TypeError, r"^x must be a real numeric array")
    bad("temporal_affine_backward: dout wrong shape", lambda: L.temporal_affine_backward(np.zeros((2, 3, 4)), L.temporal_affine_forward(x3, w, b)[1]),
        ValueError, r"^dout must have shape \(2, 3, 3\)")
    bad("temporal_affine_backward: cache of word_embedding_forward", lambda: L.temporal_affine_backward(np.zeros((2, 3, 3)), L.word_embedding_forward(ids, emb)[1]),
        TypeError, r"^cache must be the TemporalAffineCache")
    bad("temporal_softmax_loss: y float", lambda: L.temporal_softmax_loss(scores, ids.astype(float), every), TypeError, r"^y must be an integer array")
    bad("temporal_softmax_loss: y out of range", lambda: L.temporal_softmax_loss(scores, ids + 1, every), ValueError, r"^y holds word id 5")
    bad("temporal_softmax_loss: y wrong shape", lambda: L.temporal_softmax_loss(scores, ids[:, :2], every[:, :2]), ValueError, r"^y must have shape \(2, 3\)")
    bad("temporal_softmax_loss: mask wrong shape", lambda: L.temporal_softmax_loss(scores, ids, np.ones((3, 2), bool)), ValueError, r"^mask must have shape \(2, 3\)")
    bad("temporal_softmax_loss: mask holds 2", lambda: L.temporal_softmax_loss(scores, ids, np.full((2, 3), 2)), ValueError, r"^mask must hold only booleans or the numbers 0 and 1")
    bad("temporal_softmax_loss: mask holds 0.5", lambda: L.temporal_softmax_loss(scores, ids, np.full((2, 3), 0.5)), ValueError, r"^mask must hold only booleans or the numbers 0 and 1")
    bad("temporal_softmax_loss: mask holds NaN", lambda: L.temporal_softmax_loss(scores, ids, np.full((2, 3), np.nan)), ValueError, r"^mask must hold only booleans or the numbers 0 and 1")
    bad("temporal_softmax_loss: mask string", lambda: L.temporal_softmax_loss(scores, ids, np.full((2, 3), "1")), TypeError, r"^mask must be a boolean array")
    half = np.array([[1, 0, 1], [0, 1, 1]])
    case("temporal_softmax_loss: float mask of 0/1 (the course's mask_flat * log(...))",
         lambda: L.temporal_softmax_loss(scores, ids, half.astype(np.float32))[1],
         like(lambda: reference.temporal_softmax_loss(scores, ids, half.astype(bool))[1]))
    bad("temporal_softmax_loss: x complex", lambda: L.temporal_softmax_loss(scores + 0j, ids, every), TypeError, r"^x must be a real numeric array")
    mask = np.array([[1, 1, 1], [1, 1, 0]], bool)

    def masked_out_nan_never_read(got):
        loss, dx = reference.temporal_softmax_loss(_with(scores, (1, 2), 0.0), ids, mask)
        np.testing.assert_allclose(got[0], loss, rtol=1e-12)
        np.testing.assert_allclose(got[1], dx, rtol=1e-12, atol=1e-15)

    case("temporal_softmax_loss: NaN at masked-out positions is never read",
         lambda: L.temporal_softmax_loss(_with(scores, (1, 2), np.nan), ids, mask),
         Returns(masked_out_nan_never_read, "the loss and gradient without the masked-out scores"))


# --- knn.pairwise_distances / knn.kneighbors ----------------------------------------------------


def _knn_pair():
    return _r(4, 5), _r(10, 5, seed=1)


#: (what, make(query, train) -> (query, train), exception, message in kneighbors' names)
_KNN_BAD = [
    ("query 1-D", lambda q, t: (q[0], t), ValueError, r"^X_query must be a 2-D"),
    ("train 3-D", lambda q, t: (q, t[None]), ValueError, r"^X_train must be a 2-D"),
    ("query 0-D", lambda q, t: (1.0, t), ValueError, r"^X_query must be a 2-D"),
    ("features differ", lambda q, t: (q, t[:, :-1]), ValueError, r"^X_query and X_train must have the same number of features"),
    ("no query rows", lambda q, t: (q[:0], t), ValueError, r"^X_query must have no zero-size"),
    ("no features", lambda q, t: (q[:, :0], t[:, :0]), ValueError, r"^X_query must have no zero-size"),
    ("no train rows", lambda q, t: (q, t[:0]), ValueError, r"^X_train must have no zero-size"),
    ("NaN in query", lambda q, t: (_with(q, (2, 1), np.nan), t), ValueError, r"^X_query contains NaN or Inf \(first in row 2\)"),
    ("+Inf in train", lambda q, t: (q, _with(t, (7, 0), np.inf)), ValueError, r"^X_train contains NaN or Inf \(first in row 7\)"),
    ("-Inf in float32 train", lambda q, t: (q.astype(np.float32), _with(t, (3, 4), -np.inf).astype(np.float32)),
     ValueError, r"^X_train contains NaN or Inf \(first in row 3\)"),
    ("values too large", lambda q, t: (q, _with(t, (5, 0), 1e200)), ValueError, r"^X_train has values too large"),
    ("query complex", lambda q, t: (q + 0j, t), TypeError, r"^X_query must be a real numeric array.*complex"),
    ("train strings", lambda q, t: (q, t.astype(str)), TypeError, r"^X_train must be a real numeric array.*string"),
    ("train object", lambda q, t: (q, t.astype(object)), TypeError, r"^X_train must be a real numeric array.*object"),
    ("query boolean", lambda q, t: (q > 0, t), TypeError, r"^X_query must be a real numeric array.*boolean"),
]

#: kneighbors' own parameters: (what, keyword arguments, exception, message)
_KNN_PARAMS = [
    ("k 0", dict(k=0), ValueError, r"^k must be an int >= 1"),
    ("k > n_train", dict(k=11), ValueError, r"^k must be <= the number of training rows \(10\)"),
    ("k float", dict(k=2.0), TypeError, r"^k must be an int"),
    ("k bool", dict(k=True), TypeError, r"^k must be an int"),
    ("k None", dict(k=None), TypeError, r"^k must be an int"),
    ("k beyond int64", dict(k=10**30), ValueError, r"^k must be an int <="),
    ("metric cosine", dict(k=2, metric="cosine"), ValueError, r"^metric must be one of"),
    ("metric None", dict(k=2, metric=None), ValueError, r"^metric must be one of"),
    ("working_memory 0", dict(k=2, working_memory=0), ValueError, r"^working_memory must be a finite number"),
    ("working_memory NaN", dict(k=2, working_memory=float("nan")), ValueError, r"^working_memory must be a finite number"),
    ("working_memory string", dict(k=2, working_memory="1"), TypeError, r"^working_memory must be None or a number"),
    ("working_memory bool", dict(k=2, working_memory=True), TypeError, r"^working_memory must be None or a number"),
    ("n_threads 0", dict(k=2, n_threads=0), ValueError, N_THREADS),
    ("n_threads float", dict(k=2, n_threads=1.0), TypeError, N_THREADS),
]


def _same_neighbours(reference_call):
    """The twin's distances (within tolerance) and indices (exactly)."""

    def check(got):
        dist, idx = reference_call()
        _close(got[0], dist, np.float64)
        np.testing.assert_array_equal(got[1], idx)

    return Returns(check, "the reference's distances and indices")


def _knn_cases():
    for what, make, exc, match in _KNN_BAD:
        pw_match = match.replace("X_query", "X").replace("X_train", "Y")
        bad(f"kneighbors: {what}", lambda make=make: knn.kneighbors(*make(*_knn_pair()), 3), exc, match)
        bad(f"pairwise_distances l2: {what}", lambda make=make: knn.pairwise_distances(*make(*_knn_pair())), exc, pw_match)
        if what == "values too large":  # for squares: L1 squares nothing and takes them
            case("pairwise_distances l1: values too large for squares",
                 lambda make=make: knn.pairwise_distances(*make(*_knn_pair()), "l1"),
                 like(lambda make=make: reference.pairwise_distances(*make(*_knn_pair()), "l1")))
            case("kneighbors l1: values too large for squares",
                 lambda make=make: knn.kneighbors(*make(*_knn_pair()), 3, "l1"),
                 _same_neighbours(lambda make=make: reference.kneighbors(*make(*_knn_pair()), 3, "l1")))
            continue
        bad(f"pairwise_distances l1: {what}", lambda make=make: knn.pairwise_distances(*make(*_knn_pair()), "l1"), exc, pw_match)
    for what, kw, exc, match in _KNN_PARAMS:
        bad(f"kneighbors: {what}", lambda kw=kw: knn.kneighbors(*_knn_pair(), **kw), exc, match)
    bad("pairwise_distances: metric 2", lambda: knn.pairwise_distances(*_knn_pair(), 2), ValueError, r"^metric must be one of")
    bad("pairwise_distances: n_threads -1", lambda: knn.pairwise_distances(*_knn_pair(), n_threads=-1), ValueError, N_THREADS)
    case("pairwise_distances: metric 'L1' (any case)", lambda: knn.pairwise_distances(*_knn_pair(), "L1"),
         like(lambda: reference.pairwise_distances(*_knn_pair(), "l1")))
    for metric in ("l2", "l1"):
        _knn_result_cases(metric)


def _knn_result_cases(metric):
    q, t = _knn_pair()
    qi, ti = np.round(q * 3), np.round(t * 3)  # integer-valued: exact ties

    def neighbours(q, t, k=3):
        def check(got):
            dist, idx = reference.kneighbors(q, t, k, metric)
            _close(got[0], dist, np.float64)
            np.testing.assert_array_equal(got[1], idx)

        return Returns(check, "the reference's distances and indices")

    case(f"kneighbors {metric}: ints with ties", lambda: knn.kneighbors(qi.astype(np.int16), ti.astype(np.int16), 3, metric), neighbours(qi, ti))
    case(f"kneighbors {metric}: read-only", lambda: knn.kneighbors(_ro(q), _ro(t), 3, metric), neighbours(q, t))
    case(f"kneighbors {metric}: k = n_train", lambda: knn.kneighbors(q, t, 10, metric), neighbours(q, t, 10))
    case(f"kneighbors {metric}: tiny working_memory", lambda: knn.kneighbors(q, t, 3, metric, working_memory=1e-9), neighbours(q, t))
    case(f"pairwise_distances {metric}: ints", lambda: knn.pairwise_distances(qi.astype(np.int64), ti.astype(np.int64), metric),
         like(lambda: reference.pairwise_distances(qi, ti, metric)))
    q32, t32 = q.astype(np.float32), t.astype(np.float32)
    case(f"pairwise_distances {metric}: read-only float32", lambda: knn.pairwise_distances(_ro(q32), _ro(t32), metric),
         like(lambda: reference.pairwise_distances(q32, t32, metric), np.float32))


# --- fast_layers: every name, the course's alias names too --------------------------------------

CONV_PAIRS = [("conv_forward_fast", "conv_backward_fast"), ("conv_forward_im2col", "conv_backward_im2col"),
              ("conv_forward_strides", "conv_backward_strides")]
POOL_PAIRS = [("max_pool_forward_fast", "max_pool_backward_fast"), ("max_pool_forward_reshape", "max_pool_backward_reshape"),
              ("max_pool_forward_im2col", "max_pool_backward_im2col")]


def _fast_conv_cases(fname, bname):
    fwd, bwd = getattr(fast_layers, fname), getattr(fast_layers, bname)
    x, w, b = _conv_args().values()
    bad(f"{fname}: conv_param None", lambda: fwd(x, w, b, None), TypeError, r"^conv_param must be a dict")
    bad(f"{fname}: conv_param without pad", lambda: fwd(x, w, b, {"stride": 1}), ValueError, r"^conv_param is missing key 'pad'")
    bad(f"{fname}: conv_param without stride", lambda: fwd(x, w, b, {"pad": 1}), ValueError, r"^conv_param is missing key 'stride'")
    bad(f"{fname}: stride 0", lambda: fwd(x, w, b, {"stride": 0, "pad": 1}), ValueError, r"^stride must be >= 1")
    bad(f"{fname}: x 2-D", lambda: fwd(x[0, 0], w, b, CP), ValueError, r"^x must be a 4-D")
    bad(f"{fname}: w complex", lambda: fwd(x, w + 0j, b, CP), TypeError, r"^w must be a real numeric array")
    case(f"{fname}: read-only", lambda: fwd(_ro(x), _ro(w), _ro(b), CP), like(lambda: reference.conv_forward(x, w, b, 1, 1)))
    bad(f"{bname}: dout wrong shape", lambda: bwd(np.zeros((2, 4, 6, 5)), fwd(x, w, b, CP)[1]), ValueError, r"^dout must have shape \(2, 4, 6, 6\)")
    bad(f"{bname}: cache of max_pool_forward_fast", lambda: bwd(np.zeros((2, 4, 6, 6)), fast_layers.max_pool_forward_fast(x, PP)[1]),
        TypeError, r"^cache must be the ConvCache")
    bad(f"{bname}: the course's tuple cache", lambda: bwd(np.zeros((2, 4, 6, 6)), (x, w, b, CP)), TypeError, r"^cache must be the ConvCache")


def _fast_pool_cases(fname, bname):
    fwd, bwd = getattr(fast_layers, fname), getattr(fast_layers, bname)
    x, nan = _x(), _xnan()
    bad(f"{fname}: pool_param a list", lambda: fwd(x, [2, 3, 2]), TypeError, r"^pool_param must be a dict")
    bad(f"{fname}: pool_param without pool_width", lambda: fwd(x, {"pool_height": 2, "stride": 2}), ValueError, r"^pool_param is missing key 'pool_width'")
    bad(f"{fname}: pool_height 0", lambda: fwd(x, dict(PP, pool_height=0)), ValueError, r"^pool_height must be an int >= 1")
    bad(f"{fname}: pool larger than the input", lambda: fwd(x, dict(PP, pool_width=9)), ValueError, r"^pool_width = 9 is larger")
    bad(f"{fname}: x strings", lambda: fwd(x.astype(str), PP), TypeError, r"^x must be a real numeric array")
    case(f"{fname}: NaN propagates", lambda: fwd(nan, PP), propagates_nan(lambda: reference.maxpool_forward(nan, 2, 3, 2)))
    bad(f"{bname}: dout wrong shape", lambda: bwd(np.zeros((2, 3, 2, 2)), fwd(x, PP)[1]), ValueError, r"^dout must have shape \(2, 3, 3, 2\)")
    bad(f"{bname}: cache of conv_forward_fast", lambda: bwd(np.zeros((2, 3, 3, 2)), fast_layers.conv_forward_fast(*_conv_args().values(), CP)[1]),
        TypeError, r"^cache must be the PoolCache")


# --- compat: the course's im2col_cython family --------------------------------------------------


def _compat_cases():
    x = _x()
    cols = compat.im2col_cython(x, 3, 2, 1, 1)  # (18, 72)

    def c2i(what, call, exc, match):
        bad(f"col2im_cython: {what}", call, exc, match)

    bad("im2col_cython: x 3-D", lambda: compat.im2col_cython(x[0], 3, 2, 1, 1), ValueError, r"^x must be a 4-D")
    bad("im2col_cython: field_height 0", lambda: compat.im2col_cython(x, 0, 2, 1, 1), ValueError, r"^field_height must be an int >= 1")
    bad("im2col_cython: field_width larger than the padded input", lambda: compat.im2col_cython(x, 3, 8, 1, 1), ValueError, r"^field_width = 8 is larger")
    bad("im2col_cython: padding -1", lambda: compat.im2col_cython(x, 3, 2, -1, 1), ValueError, r"^padding must be an int >= 0")
    bad("im2col_cython: stride 0", lambda: compat.im2col_cython(x, 3, 2, 1, 0), ValueError, r"^stride must be an int >= 1")
    bad("im2col_cython: x complex", lambda: compat.im2col_cython(x + 0j, 3, 2, 1, 1), TypeError, r"^x must be a real numeric array")
    bad("im2col_cython: field_height a pair", lambda: compat.im2col_cython(x, (3, 2), 2, 1, 1), TypeError, r"^field_height must be an int")
    ints = np.arange(180).reshape(X4)
    case("im2col_cython: x int", lambda: compat.im2col_cython(ints, 3, 2, 1, 1),
         like(lambda: reference.im2col(_f64(ints), 3, 2, 1, 1).transpose(1, 2, 0).reshape(18, -1)))
    c2i("N 0", lambda: compat.col2im_cython(cols, 0, 3, 6, 5, 3, 2, 1, 1), ValueError, r"^N must be an int >= 1")
    c2i("C float", lambda: compat.col2im_cython(cols, 2, 3.0, 6, 5, 3, 2, 1, 1), TypeError, r"^C must be an int")
    c2i("field_width 0", lambda: compat.col2im_cython(cols, 2, 3, 6, 5, 3, 0, 1, 1), ValueError, r"^field_width must be an int >= 1")
    c2i("field_height larger than the padded input", lambda: compat.col2im_cython(cols, 2, 3, 6, 5, 9, 2, 1, 1), ValueError, r"^field_height = 9 is larger")
    c2i("padding -1", lambda: compat.col2im_cython(cols, 2, 3, 6, 5, 3, 2, -1, 1), ValueError, r"^padding must be an int >= 0")
    c2i("stride 0", lambda: compat.col2im_cython(cols, 2, 3, 6, 5, 3, 2, 1, 0), ValueError, r"^stride must be an int >= 1")
    c2i("cols 3-D", lambda: compat.col2im_cython(cols[None], 2, 3, 6, 5, 3, 2, 1, 1), ValueError, r"^cols must be a 2-D")
    c2i("cols wrong shape", lambda: compat.col2im_cython(cols[:, 1:], 2, 3, 6, 5, 3, 2, 1, 1), ValueError,
        r"^cols must have shape \(C \* field_height \* field_width, OH \* OW \* N\) = \(18, 72\)")
    c2i("cols complex", lambda: compat.col2im_cython(cols + 0j, 2, 3, 6, 5, 3, 2, 1, 1), TypeError, r"^cols must be a real numeric array")
    case("col2im_cython: read-only", lambda: compat.col2im_cython(_ro(cols), 2, 3, 6, 5, 3, 2, 1, 1),
         like(lambda: reference.col2im(reference.im2col(x, 3, 2, 1, 1), X4, 3, 2, 1, 1)))

    cols6 = _r(3, 3, 2, 2, 6, 6)  # (C, HH, WW, N, OH, OW)

    def c6(what, call, exc, match):
        bad(f"col2im_6d_cython: {what}", call, exc, match)

    c6("cols wrong shape", lambda: compat.col2im_6d_cython(cols6[..., 1:], 2, 3, 6, 5, 3, 2, 1, 1), ValueError,
       r"^cols must have shape \(C, HH, WW, N, OH, OW\) = \(3, 3, 2, 2, 6, 6\)")
    c6("cols 2-D", lambda: compat.col2im_6d_cython(cols6.reshape(18, 72), 2, 3, 6, 5, 3, 2, 1, 1), ValueError, r"^cols must have shape")
    c6("HH 0", lambda: compat.col2im_6d_cython(cols6, 2, 3, 6, 5, 0, 2, 1, 1), ValueError, r"^HH must be an int >= 1")
    c6("WW larger than the padded input", lambda: compat.col2im_6d_cython(cols6, 2, 3, 6, 5, 3, 8, 1, 1), ValueError, r"^WW = 8 is larger")
    c6("pad -1", lambda: compat.col2im_6d_cython(cols6, 2, 3, 6, 5, 3, 2, -1, 1), ValueError, r"^pad must be an int >= 0")
    c6("stride 0", lambda: compat.col2im_6d_cython(cols6, 2, 3, 6, 5, 3, 2, 1, 0), ValueError, r"^stride must be an int >= 1")
    c6("W None", lambda: compat.col2im_6d_cython(cols6, 2, 3, 6, None, 3, 2, 1, 1), TypeError, r"^W must be an int")
    c6("cols object", lambda: compat.col2im_6d_cython(cols6.astype(object), 2, 3, 6, 5, 3, 2, 1, 1), TypeError, r"^cols must be a real numeric array")
    case("col2im_6d_cython: read-only", lambda: compat.col2im_6d_cython(_ro(cols6), 2, 3, 6, 5, 3, 2, 1, 1),
         like(lambda: reference.col2im(cols6.transpose(3, 0, 1, 2, 4, 5).reshape(2, 18, 36), X4, 3, 2, 1, 1)))


# --- build the table ----------------------------------------------------------------------------

_im2col_cases()
_col2im_cases()
_conv_forward_cases()
_conv_backward_cases()
_conv_transpose_cases()
_maxpool_forward_cases()
_maxpool_backward_cases()
for _kind, _step in RNN_KINDS:
    _rnn_forward_cases(_kind, _step)
    _rnn_backward_cases(_kind, _step)
_lstm_cell_state_cases()
_sigmoid_cases()
_temporal_cases()
_knn_cases()
for _pair in CONV_PAIRS:
    _fast_conv_cases(*_pair)
for _pair in POOL_PAIRS:
    _fast_pool_cases(*_pair)
_compat_cases()

# --- ops.linear: affine, fused affine + ReLU, L2 term (the linear family) ----------------------


def _linear_cases():
    from cs231n_fast.ops import linear
    from cs231n_fast.reference import linear as rlinear

    x, w, b, dout = _r(2, 3, 2), _r(6, 4), _r(4), _r(2, 4)
    for name in ("affine_forward", "affine_relu_forward"):
        f, rf = getattr(linear, name), getattr(rlinear, name)
        fid = f"linear.{name}"
        bad(f"{fid}: x 0-d", lambda f=f: f(x[0, 0, 0], w, b), ValueError, r"^x must have shape \(N, d_1, ..., d_k\)")
        bad(f"{fid}: x 1-D (N examples of D = 1) with w of another D", lambda f=f: f(x[0, 0], w, b), ValueError,
            r"^w must have shape \(1, 4\).*pass x\[None\]")
        case(f"{fid}: x 1-D, D = 1 (the course's x.reshape(N, -1))", lambda f=f: f(x[0, 0], w[:1], b)[0],
             like(lambda rf=rf: rf(x[0, 0][:, None], w[:1], b)[0]))
        bad(f"{fid}: w of another D", lambda f=f: f(x, _r(5, 4), b), ValueError, r"^w must have shape \(6, 4\)")
        bad(f"{fid}: w 3-D", lambda f=f: f(x, _r(6, 4, 1), b), ValueError, r"^w must be a 2-D")
        bad(f"{fid}: b of another M", lambda f=f: f(x, w, b[:3]), ValueError, r"^b must have shape \(4,\)")
        bad(f"{fid}: x complex", lambda f=f: f(x + 0j, w, b), TypeError, r"^x must be a real numeric array")
        bad(f"{fid}: w object", lambda f=f: f(x, w.astype(object), b), TypeError, r"^w must be a real numeric array")
        bad(f"{fid}: n_threads 0", lambda f=f: f(x, w, b, n_threads=0), ValueError, r"^n_threads must be")
        case(f"{fid}: NaN in x", lambda f=f: f(_with(x, (0, 1, 1), np.nan), w, b)[0],
             propagates_nan(lambda rf=rf: rf(_with(x, (0, 1, 1), np.nan), w, b)[0]))
        case(f"{fid}: int inputs", lambda f=f: f(np.arange(12).reshape(2, 6), np.ones((6, 4), int), np.arange(4))[0],
             like(lambda rf=rf: rf(np.arange(12.0).reshape(2, 6), np.ones((6, 4)), np.arange(4.0))[0]))
        case(f"{fid}: read-only, negative strides", lambda f=f: f(_ro(x)[:, ::-1], _ro(w), b)[0],
             like(lambda rf=rf: rf(x[:, ::-1], w, b)[0]))
        case(f"{fid}: float32", lambda f=f: f(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32))[0],
             dtype_is(np.float32))
    for name, fwd in (("affine_backward", linear.affine_forward), ("affine_relu_backward", linear.affine_relu_forward)):
        f, rf = getattr(linear, name), getattr(rlinear, name)
        fid = f"linear.{name}"
        bad(f"{fid}: dout wrong shape", lambda f=f, fwd=fwd: f(_r(2, 5), fwd(x, w, b)[1]), ValueError, r"^dout must have shape \(2, 4\)")
        bad(f"{fid}: dout 3-D", lambda f=f, fwd=fwd: f(_r(2, 4, 1), fwd(x, w, b)[1]), ValueError, r"^dout must be a 2-D")
        bad(f"{fid}: dout complex", lambda f=f, fwd=fwd: f(dout + 0j, fwd(x, w, b)[1]), TypeError, r"^dout must be a real numeric array")
        bad(f"{fid}: cache None", lambda f=f: f(dout, None), TypeError, r"^cache must be the AffineCache")
        bad(f"{fid}: cache of a conv", lambda f=f: f(dout, _conv_cache()), TypeError, r"^cache must be the AffineCache")
        case(f"{fid}: NaN in dout", lambda f=f, fwd=fwd: f(_with(dout, (1, 2), np.nan), fwd(x, w, b)[1]),
             like(lambda rf=rf, fwd=fwd: rf(_with(dout, (1, 2), np.nan), fwd(x, w, b)[1])))
        case(f"{fid}: need_dx False", lambda f=f, fwd=fwd: f(dout, fwd(x, w, b)[1], need_dx=False)[1:],
             like(lambda rf=rf, fwd=fwd: rf(dout, fwd(x, w, b)[1])[1:]))
    bad("linear.affine_backward: cache of affine_relu_forward", lambda: linear.affine_backward(dout, linear.affine_relu_forward(x, w, b)[1]),
        TypeError, r"^cache must be the AffineCache returned by affine_forward")
    bad("linear.affine_backward_l2: reg NaN", lambda: linear.affine_backward_l2(dout, linear.affine_forward(x, w, b)[1], np.nan), ValueError, r"^reg must be")
    bad("linear.affine_backward_l2: reg string", lambda: linear.affine_backward_l2(dout, linear.affine_forward(x, w, b)[1], "1"), TypeError, r"^reg must be")
    bad("linear.affine_backward_l2: cache None", lambda: linear.affine_backward_l2(dout, None, 0.1), TypeError, r"^cache must be the AffineCache")
    case("linear.affine_backward_l2: documented", lambda: linear.affine_backward_l2(dout, linear.affine_forward(x, w, b)[1], 0.1)[:3],
         like(lambda: rlinear.affine_backward_l2(dout, rlinear.affine_forward(x, w, b)[1], 0.1)[:3]))
    bad("linear.l2_penalty: dw of another shape", lambda: linear.l2_penalty(w, w.T, 0.1), ValueError, r"^dw must have shape \(6, 4\)")
    bad("linear.l2_penalty: w complex", lambda: linear.l2_penalty(w + 0j, w, 0.1), TypeError, r"^w must be a real numeric array")
    bad("linear.l2_penalty: reg Inf", lambda: linear.l2_penalty(w, w, np.inf), ValueError, r"^reg must be")
    case("linear.l2_penalty: NaN in w", lambda: linear.l2_penalty(_with(w, (0, 0), np.nan), w, 0.1)[1],
         propagates_nan(lambda: rlinear.l2_penalty(_with(w, (0, 0), np.nan), w, 0.1)[1]))


_linear_cases()

# --- re-exported course helpers: fast_layers' im2col index helpers (NumPy), rnn_layers' affine ---


def _course_reexport_cases():
    x = _x()
    cols = fast_layers.im2col_indices(x, 3, 2, 1, 1)  # (18, 72)
    bad("get_im2col_indices: x_shape 3 ints", lambda: fast_layers.get_im2col_indices((2, 6, 5), 3, 2), ValueError, r"^x_shape must be a tuple of 4")
    bad("get_im2col_indices: x_shape None", lambda: fast_layers.get_im2col_indices(None, 3, 2), TypeError, r"^x_shape must be a tuple of 4")
    bad("get_im2col_indices: field_height 0", lambda: fast_layers.get_im2col_indices(X4, 0, 2), ValueError, r"^field_height must be an int >= 1")
    bad("im2col_indices: x 3-D", lambda: fast_layers.im2col_indices(x[0], 3, 2), ValueError, r"^x must be a 4-D")
    bad("im2col_indices: field_width larger than the padded input", lambda: fast_layers.im2col_indices(x, 3, 8, 1, 1), ValueError, r"^field_width = 8 is larger")
    bad("im2col_indices: padding -1", lambda: fast_layers.im2col_indices(x, 3, 2, -1, 1), ValueError, r"^padding must be an int >= 0")
    bad("im2col_indices: stride 0", lambda: fast_layers.im2col_indices(x, 3, 2, 1, 0), ValueError, r"^stride must be an int >= 1")
    case("im2col_indices: read-only, negative strides", lambda: fast_layers.im2col_indices(_ro(x)[:, ::-1], 3, 2, 1, 1),
         like(lambda: reference.im2col(x[:, ::-1], 3, 2, 1, 1).transpose(1, 2, 0).reshape(18, -1)))
    bad("col2im_indices: cols wrong shape", lambda: fast_layers.col2im_indices(cols[:, 1:], X4, 3, 2, 1, 1), ValueError,
        r"^cols must have shape \(C \* field_height \* field_width, OH \* OW \* N\) = \(18, 72\)")
    bad("col2im_indices: stride 0", lambda: fast_layers.col2im_indices(cols, X4, 3, 2, 1, 0), ValueError, r"^stride must be an int >= 1")
    case("col2im_indices: read-only", lambda: fast_layers.col2im_indices(_ro(cols), X4, 3, 2, 1, 1),
         like(lambda: reference.col2im(reference.im2col(x, 3, 2, 1, 1), X4, 3, 2, 1, 1)))
    xa, w, b, dout = _r(2, 3, 2), _r(6, 4), _r(4), _r(2, 4)
    bad("affine_forward: w of another D", lambda: rnn_layers.affine_forward(xa, _r(5, 4), b), ValueError, r"^w must have shape \(6, 4\)")
    bad("affine_forward: x complex", lambda: rnn_layers.affine_forward(xa + 0j, w, b), TypeError, r"^x must be a real numeric array")
    bad("affine_backward: dout wrong shape", lambda: rnn_layers.affine_backward(_r(2, 5), rnn_layers.affine_forward(xa, w, b)[1]),
        ValueError, r"^dout must have shape \(2, 4\)")
    bad("affine_backward: cache None", lambda: rnn_layers.affine_backward(dout, None), TypeError, r"^cache must be the LayerCache returned by affine_forward")


_course_reexport_cases()

# --- running it ---------------------------------------------------------------------------------


def check(c):
    """Run one case; ``None`` if it behaved as documented, else what it did instead."""
    try:
        result = c.call()
    except Exception as exc:  # noqa: BLE001  any exception is an outcome to report
        if isinstance(c.expect, Raises) and isinstance(exc, c.expect.exc) and re.search(c.expect.match, str(exc)):
            return None
        return f"raised {type(exc).__name__}: {exc}"
    if isinstance(c.expect, Raises):
        return f"returned {type(result).__name__} instead of raising {c.expect.exc.__name__}"
    try:
        c.expect.check(result)
    except AssertionError as exc:
        return f"result is not {c.expect.what}: {exc}"
    return None


def main():
    """Run every case in this interpreter: one JSON line per case on stdout."""
    for c in CASES:
        print(c.id, file=sys.stderr, flush=True)
        print(json.dumps({"id": c.id, "problem": check(c)}), flush=True)


if __name__ == "__main__":
    main()
