"""Validated vanilla-RNN and LSTM API over the compiled kernels of ``_ext.rnn``.

Same names, signatures and caches as the NumPy twin :mod:`cs231n_fast.reference.rnn` (and the
course's ``rnn_layers``), plus a keyword ``n_threads``. Every function validates in Python
(:func:`cs231n_fast._validation.recurrent_args`), applies the dtype policy (all-float32 in ->
float32 out, otherwise float64; in a backward the cached arrays and the upstream gradients all
count), makes inputs C-contiguous only when needed, allocates fresh outputs, and calls the
kernel with the GIL released and BLAS held to one thread (the kernels split every product
between their own threads). Inputs are never modified.

What is fused: a step forward is the products ``x Wx + h Wh`` (by blocks of columns) and then
one elementwise pass for the bias, the gates, the cell and the hidden state; a step backward is
one pass producing the pre-activation gradient and db, then the four products dx, dh, dWx, dWh
in equal units shared between the threads. Sequences compute the input products of all steps
as one product before the time loop and dWx, dWh, db and dx of all steps as one product each
after it (``csrc/rnn.pyx`` has the details). In float32 the per-step recurrent products
``h Wh`` and ``da Wh^T`` of a sequence run on Wh packed once per call (``csrc/rnn_gemm.h``,
AVX-512/AVX2/portable micro-kernels, one fused multiply-add chain in k order per element), and
the time loop is one parallel region with one barrier per step; float64 and the single steps
call BLAS (:data:`PACKED_RECURRENT` = False sends float32 sequences to BLAS too).

Results do not depend on the thread count: every output element has one writer and every sum
a fixed order (tested bitwise, and checked against the build without OpenMP in CI).
"""

import numpy as np

from .._cache import LSTMCache, LSTMStepCache, RNNCache, RNNStepCache
from .._ext import rnn as _k
from .. import _memory
from .._threads import blas_single_thread, work_threads
from .._validation import as_array, as_contiguous, recurrent_args, recurrent_dtype, recurrent_grad

__all__ = [
    "sigmoid",
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
]

_INT_MAX = np.iinfo(np.int32).max
#: Hidden units per block of work (the blocks are what threads share out).
_BLOCK = 256


#: Per dtype, the empty 2-D and 3-D arrays the kernels read as "not given" (nothing ever
#: writes into a zero-size array, so every call can share them).
_NONE = {np.dtype(t): (np.empty((0, 0), t), np.empty((0, 0, 0), t)) for t in (np.float32, np.float64)}


#: Sequences multiply float32 recurrent products from Wh packed once per call
#: (``rnn_gemm.h``); False sends them to BLAS at every step (for comparisons).
PACKED_RECURRENT = True
_NO_PACK = np.empty(0, np.float32)
_PANEL = 16  # columns per packed panel (CS_GP in rnn_gemm.h)


def _packed_scratch(dt, g, hd, d=0):
    """Scratch for Wh (H x G*H) packed in 16-column panels per gate block (forward), or for
    Wh^T and then Wx^T (backward, pass ``d``); or the empty array (BLAS at every step) when not
    float32."""
    if dt != np.float32 or not PACKED_RECURRENT:
        return _NO_PACK
    cols = max(hd, d)
    return _memory.empty(g * hd * ((cols + _PANEL - 1) // _PANEL * _PANEL), dtype=np.float32)


def _plan(n_threads, n_rows, d, hd, g):
    """``(threads, blocks)`` for a problem; raises if a BLAS dimension would overflow an int.

    The number of blocks depends on the problem only (one per 256 hidden units, 1 to 8), never
    on the thread count: OpenBLAS does not always give bitwise-equal columns for different
    column splits of one product, so a fixed split keeps results independent of ``n_threads``
    and equal to the build without OpenMP.
    """
    big = max(n_rows, d, g * hd)
    if big > _INT_MAX:
        raise ValueError(
            f"a matrix dimension of this recurrent layer ({big}) exceeds the 2**31 - 1 that "
            "BLAS accepts; split the batch"
        )
    nb = max(1, min(8, hd // _BLOCK))
    nt = min(nb, work_threads(n_threads, n_rows * (d + hd) * g * hd))
    return nt, nb


def _check_ld(t, cols):
    if t * cols > _INT_MAX:
        raise ValueError(
            f"T * {cols} = {t * cols} exceeds the 2**31 - 1 that BLAS accepts as a row stride; "
            "split the sequence"
        )


def _fields(cache, dtype, *names):
    """The named cache arrays, C-contiguous in ``dtype`` (copied only when they are not).

    ``recurrent_grad`` checked the fields' ``shape``s; an array whose ``shape`` disagrees with
    the array it converts to (a subclass that overrides it) is refused here, before native code
    sees it.
    """
    out = []
    for name in names:
        field = getattr(cache, name)
        arr = as_contiguous(field, dtype)
        if arr.shape != field.shape:
            raise ValueError(
                f"cache is not the one its forward returned: its {name} converts to an array of "
                f"shape {arr.shape}, not the {field.shape} it reports"
            )
        out.append(arr)
    return out


def sigmoid(x, *, n_threads=None):
    """Numerically stable logistic function ``1 / (1 + exp(-x))``, elementwise.

    Only ``exp(-|x|)`` is ever evaluated, so large inputs of either sign neither overflow nor
    warn: ``sigmoid(-1000) == 0`` and ``sigmoid(1000) == 1``. float32 stays float32; other
    real dtypes are computed in float64. Returns a new array of ``x``'s shape.
    """
    x = as_array("x", x)
    dt = np.dtype(np.float32) if x.dtype == np.float32 else np.dtype(np.float64)
    flat = as_contiguous(x, dt).reshape(-1)
    out = np.empty_like(flat)
    if flat.size:
        _k.activation(0, flat, out, work_threads(n_threads, 16 * flat.size))
    return out.reshape(x.shape)


# --- vanilla RNN ------------------------------------------------------------------------------


def rnn_step_forward(x, prev_h, Wx, Wh, b, *, n_threads=None):
    """One vanilla-RNN step: ``next_h = tanh(x Wx + prev_h Wh + b)``.

    Parameters
    ----------
    x : array_like (N, D)
    prev_h : array_like (N, H)
    Wx : array_like (D, H)
    Wh : array_like (H, H)
    b : array_like (H,)
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

    Returns
    -------
    next_h : ndarray (N, H)
    cache : RNNStepCache
        For :func:`rnn_step_backward`. It refers to ``next_h``: modify a copy of it, not it.
    """
    x, h, _, Wx, Wh, b = recurrent_args("rnn", x, prev_h, Wx, Wh, b, step=True)
    n, d = x.shape
    hd = h.shape[1]
    nt, nb = _plan(n_threads, n, d, hd, 1)
    dt = x.dtype
    a = _memory.empty((n, hd), dtype=dt)
    next_h = _memory.empty((n, hd), dtype=dt)
    e = _NONE[dt][0]
    with blas_single_thread():
        _k.step_forward(1, x, h, e, Wx, Wh, b, a, e, e, next_h, nb, nt)
    return next_h, RNNStepCache(x=x, prev_h=h, Wx=Wx, Wh=Wh, next_h=next_h)


def rnn_step_backward(dnext_h, cache, *, n_threads=None):
    """Backward of :func:`rnn_step_forward`.

    Returns ``(dx, dprev_h, dWx, dWh, db)`` with the shapes of ``x, prev_h, Wx, Wh, b``,
    float32 if the cache and ``dnext_h`` are float32, else float64.
    """
    dnh = recurrent_grad("dnext_h", dnext_h, cache, RNNStepCache, "rnn_step_forward", "(N, H)")
    dt = recurrent_dtype(cache, dnh)
    dnh = as_contiguous(dnh, dt)
    x, hp, Wx, Wh, hn = _fields(cache, dt, "x", "prev_h", "Wx", "Wh", "next_h")
    n, d = x.shape
    hd = hp.shape[1]
    nt, nb = _plan(n_threads, n, d, hd, 1)
    dx, dprev_h = _memory.empty((n, d), dtype=dt), _memory.empty((n, hd), dtype=dt)
    dWx, dWh, db = _memory.empty((d, hd), dtype=dt), _memory.empty((hd, hd), dtype=dt), _memory.empty(hd, dtype=dt)
    e = _NONE[dt][0]
    da = _memory.empty((n, hd), dtype=dt)
    with blas_single_thread():
        _k.step_backward(1, dnh, e, x, hp, e, Wx, Wh, e, e, hn,
                         da, dx, dprev_h, e, dWx, dWh, db, nb, nt)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b, *, n_threads=None):
    """A vanilla RNN over a whole sequence.

    Parameters
    ----------
    x : array_like (N, T, D)
    h0 : array_like (N, H)
        Initial hidden state.
    Wx, Wh, b : array_like (D, H), (H, H), (H,)
    n_threads : int, optional

    Returns
    -------
    h : ndarray (N, T, H)
        Hidden states of every time step.
    cache : RNNCache
        For :func:`rnn_backward`. It refers to ``h``: modify a copy of it, not it.
    """
    x, h0, _, Wx, Wh, b = recurrent_args("rnn", x, h0, Wx, Wh, b, step=False)
    n, t, d = x.shape
    hd = h0.shape[1]
    nt, nb = _plan(n_threads, n * t, d, hd, 1)
    _check_ld(t, max(d, hd))
    dt = x.dtype
    a = _memory.empty((n, t, hd), dtype=dt)
    h = _memory.empty((n, t, hd), dtype=dt)
    e, e3 = _NONE[dt]
    with blas_single_thread():
        _k.seq_forward(1, x, h0, e, Wx, Wh, b, a, e3, e3, h, _packed_scratch(dt, 1, hd), nb, nt)
    return h, RNNCache(x=x, h0=h0, Wx=Wx, Wh=Wh, h=h)


def _shifted(h0, h, hprev):
    """Fill ``hprev`` (N, T, H) with the previous hidden states h0, h[:, 0], ..., h[:, T-2]."""
    hprev[:, 0] = h0
    hprev[:, 1:] = h[:, :-1]


def rnn_backward(dh, cache, *, n_threads=None):
    """Backward of :func:`rnn_forward`.

    ``dh`` (N, T, H) is the upstream gradient of every hidden state. Returns
    ``(dx, dh0, dWx, dWh, db)`` with the shapes of ``x, h0, Wx, Wh, b``, float32 if the cache
    and ``dh`` are float32, else float64.
    """
    dh = recurrent_grad("dh", dh, cache, RNNCache, "rnn_forward", "(N, T, H)")
    dt = recurrent_dtype(cache, dh)
    dh = as_contiguous(dh, dt)
    x, h0, Wx, Wh, h = _fields(cache, dt, "x", "h0", "Wx", "Wh", "h")
    n, t, d = x.shape
    hd = h0.shape[1]
    nt, nb = _plan(n_threads, n * t, d, hd, 1)
    _check_ld(t, max(d, hd))  # as in the forward: the cache may come from the reference's
    dx, dh0 = _memory.empty((n, t, d), dtype=dt), _memory.empty((n, hd), dtype=dt)
    dWx, dWh, db = _memory.empty((d, hd), dtype=dt), _memory.empty((hd, hd), dtype=dt), _memory.empty(hd, dtype=dt)
    e, e3 = _NONE[dt]
    da, hprev = _memory.empty((n, t, hd), dt), _memory.empty((n, t, hd), dt)
    with blas_single_thread():
        _shifted(h0, h, hprev)
        _k.seq_backward(1, dh, x, hprev, e, e3, Wx, Wh, e3, e3, h,
                        da, e, dx, dh0, dWx, dWh, db, _packed_scratch(dt, 1, hd, d), nb, nt)
    return dx, dh0, dWx, dWh, db


# --- LSTM -------------------------------------------------------------------------------------


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, *, n_threads=None):
    """One LSTM step (the course's gate order: input, forget, output, block input).

    ``a = x Wx + prev_h Wh + b``; ``i, f, o = sigmoid`` of the first three H-column blocks of
    ``a``, ``g = tanh`` of the last; ``next_c = f * prev_c + i * g``;
    ``next_h = o * tanh(next_c)``.

    Parameters
    ----------
    x : array_like (N, D)
    prev_h, prev_c : array_like (N, H)
    Wx : array_like (D, 4H)
    Wh : array_like (H, 4H)
    b : array_like (4H,)
    n_threads : int, optional

    Returns
    -------
    next_h, next_c : ndarray (N, H)
    cache : LSTMStepCache
        For :func:`lstm_step_backward`. It refers to ``next_c``: modify a copy of it, not it.
    """
    x, h, c, Wx, Wh, b = recurrent_args("lstm", x, prev_h, Wx, Wh, b, prev_c, step=True)
    n, d = x.shape
    hd = h.shape[1]
    nt, nb = _plan(n_threads, n, d, hd, 4)
    dt = x.dtype
    gates = _memory.empty((n, 4 * hd), dtype=dt)
    next_c, tanh_c, next_h = (_memory.empty((n, hd), dtype=dt) for _ in range(3))
    with blas_single_thread():
        _k.step_forward(4, x, h, c, Wx, Wh, b, gates, next_c, tanh_c, next_h, nb, nt)
    cache = LSTMStepCache(x=x, prev_h=h, prev_c=c, Wx=Wx, Wh=Wh, gates=gates,
                          next_c=next_c, tanh_c=tanh_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache, *, n_threads=None):
    """Backward of :func:`lstm_step_forward`.

    Returns ``(dx, dprev_h, dprev_c, dWx, dWh, db)`` with the shapes of
    ``x, prev_h, prev_c, Wx, Wh, b``, float32 if the cache, ``dnext_h`` and ``dnext_c`` are all
    float32, else float64.
    """
    dnh = recurrent_grad("dnext_h", dnext_h, cache, LSTMStepCache, "lstm_step_forward", "(N, H)")
    dnc = recurrent_grad("dnext_c", dnext_c, cache, LSTMStepCache, "lstm_step_forward", "(N, H)",
                         check_cache=False)
    dt = recurrent_dtype(cache, dnh, dnc)
    dnh, dnc = as_contiguous(dnh, dt), as_contiguous(dnc, dt)
    x, hp, cp, Wx, Wh, gates, tc = _fields(
        cache, dt, "x", "prev_h", "prev_c", "Wx", "Wh", "gates", "tanh_c"
    )
    n, d = x.shape
    hd = hp.shape[1]
    nt, nb = _plan(n_threads, n, d, hd, 4)
    dx = _memory.empty((n, d), dtype=dt)
    dprev_h, dprev_c = _memory.empty((n, hd), dtype=dt), _memory.empty((n, hd), dtype=dt)
    dWx, dWh = _memory.empty((d, 4 * hd), dtype=dt), _memory.empty((hd, 4 * hd), dtype=dt)
    db = _memory.empty(4 * hd, dtype=dt)
    e = _NONE[dt][0]
    da = _memory.empty((n, 4 * hd), dtype=dt)
    with blas_single_thread():
        _k.step_backward(4, dnh, dnc, x, hp, cp, Wx, Wh, gates, tc, e,
                         da, dx, dprev_h, dprev_c, dWx, dWh, db, nb, nt)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b, c0=None, *, n_threads=None):
    """An LSTM over a whole sequence.

    Parameters
    ----------
    x : array_like (N, T, D)
    h0 : array_like (N, H)
        Initial hidden state.
    Wx, Wh, b : array_like (D, 4H), (H, 4H), (4H,)
    c0 : array_like (N, H), optional
        Initial cell state; default zeros, as in the course.
    n_threads : int, optional

    Returns
    -------
    h : ndarray (N, T, H)
        Hidden states of every time step (the last cell state is ``cache.c[:, -1]``).
    cache : LSTMCache
        For :func:`lstm_backward`.
    """
    x, h0, c0, Wx, Wh, b = recurrent_args("lstm", x, h0, Wx, Wh, b, c0, step=False)
    n, t, d = x.shape
    hd = h0.shape[1]
    nt, nb = _plan(n_threads, n * t, d, hd, 4)
    _check_ld(t, max(d, 4 * hd))
    dt = x.dtype
    if c0 is None:
        c0 = np.zeros((n, hd), dtype=dt)
    gates = _memory.empty((n, t, 4 * hd), dtype=dt)
    c, tanh_c, h = (_memory.empty((n, t, hd), dtype=dt) for _ in range(3))
    with blas_single_thread():
        _k.seq_forward(4, x, h0, c0, Wx, Wh, b, gates, c, tanh_c, h,
                       _packed_scratch(dt, 4, hd), nb, nt)
    cache = LSTMCache(x=x, h0=h0, c0=c0, Wx=Wx, Wh=Wh, h=h, c=c, gates=gates, tanh_c=tanh_c)
    return h, cache


def lstm_backward(dh, cache, *, n_threads=None, return_dc0=False):
    """Backward of :func:`lstm_forward`.

    ``dh`` (N, T, H) is the upstream gradient of every hidden state. Returns
    ``(dx, dh0, dWx, dWh, db)`` with the shapes of ``x, h0, Wx, Wh, b``, and with
    ``return_dc0=True`` also ``dc0`` (N, H), the gradient of the initial cell state. All
    float32 if the cache and ``dh`` are float32, else float64.
    """
    dh = recurrent_grad("dh", dh, cache, LSTMCache, "lstm_forward", "(N, T, H)")
    dt = recurrent_dtype(cache, dh)
    dh = as_contiguous(dh, dt)
    x, h0, c0, Wx, Wh, h, c, gates, tc = _fields(
        cache, dt, "x", "h0", "c0", "Wx", "Wh", "h", "c", "gates", "tanh_c"
    )
    n, t, d = x.shape
    hd = h0.shape[1]
    nt, nb = _plan(n_threads, n * t, d, hd, 4)
    _check_ld(t, max(d, 4 * hd))  # as in the forward: the cache may come from the reference's
    dcarry = _memory.empty((n, hd), dtype=dt)
    dx, dh0 = _memory.empty((n, t, d), dtype=dt), _memory.empty((n, hd), dtype=dt)
    dWx, dWh = _memory.empty((d, 4 * hd), dtype=dt), _memory.empty((hd, 4 * hd), dtype=dt)
    db = _memory.empty(4 * hd, dtype=dt)
    da, hprev = _memory.empty((n, t, 4 * hd), dt), _memory.empty((n, t, hd), dt)
    with blas_single_thread():
        _shifted(h0, h, hprev)
        _k.seq_backward(4, dh, x, hprev, c0, c, Wx, Wh, gates, tc, h,
                        da, dcarry, dx, dh0, dWx, dWh, db, _packed_scratch(dt, 4, hd, d),
                        nb, nt)
    if return_dc0:  # after the loop the carried cell gradient is that of c0
        return dx, dh0, dWx, dWh, db, dcarry
    return dx, dh0, dWx, dWh, db
