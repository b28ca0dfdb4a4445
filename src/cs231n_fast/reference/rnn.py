"""Recurrent and sequence layers in plain NumPy: the layers of CS231n assignment 3.

This is the readable twin of ``cs231n_fast.ops.rnn`` and ``cs231n_fast.ops.temporal``: same
names, signatures, validation, dtype policy and caches, written to be read rather than to be
fast. The compiled kernels are tested against it, and it is tested against numerical gradients
and the course notebook's published values.

The layers, for a minibatch of N sequences of T steps, input size D and hidden size H:

* vanilla RNN step: ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``;
* LSTM step: ``a = x @ Wx + prev_h @ Wh + b`` is split into four blocks of H columns, in the
  course's order input, forget, output, block input: ``i, f, o = sigmoid(a_i), sigmoid(a_f),
  sigmoid(a_o)``, ``g = tanh(a_g)``; then ``next_c = f * prev_c + i * g`` and
  ``next_h = o * tanh(next_c)``;
* ``rnn_forward``/``lstm_forward`` run the step over the T time steps (a Python loop calling
  the step function) and the backwards run the step backwards in reverse time order, adding
  each step's ``dprev_h`` (and ``dprev_c``) to the upstream gradient of the step before;
* word embedding (a row lookup), temporal affine (one affine layer shared by every step) and
  the temporal softmax loss (cross-entropy summed over the unmasked steps, averaged over N).

Every function validates its arguments before computing (the recurrent ones with
``_validation.recurrent_args``/``recurrent_grad``, the others with the helpers of
``ops.temporal``, so both implementations accept and reject exactly the same input). float32
in gives float32 out; any other real dtype is computed in float64 (for a backward, the cached
arrays and the upstream gradients all count). Inputs are never modified. The backwards read only
the fields of the cache, so they accept caches of either forward.
"""

import numpy as np

from .. import _validation as v
from .._cache import (
    EmbeddingCache,
    LSTMCache,
    LSTMStepCache,
    RNNCache,
    RNNStepCache,
    TemporalAffineCache,
)

# The temporal layers share their validation with ops.temporal, so that both accept and reject
# exactly the same input.
from ..ops.temporal import (
    _affine_args,
    _affine_grad,
    _embedding_args,
    _embedding_grad,
    _softmax_loss_args,
)

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
    "word_embedding_forward",
    "word_embedding_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
]


def sigmoid(x):
    """Numerically stable logistic function ``1 / (1 + exp(-x))``.

    Only ``exp(-|x|)`` is ever computed, which lies in (0, 1]: nothing overflows, and for large
    ``|x|`` the result is exactly 0 or 1 (the harmless underflow of ``exp`` is silenced, so this
    also runs under ``np.errstate(all="raise")``).

    Parameters
    ----------
    x : array_like
        Real numbers; float32 stays float32, any other real dtype is computed in float64.

    Returns
    -------
    ndarray (a NumPy scalar for a scalar input)
        ``sigmoid(x)``, elementwise; NaN stays NaN.
    """
    x = v.as_array("x", x)
    x = x.astype(v.result_dtype(x), copy=False)
    with np.errstate(under="ignore"):
        z = np.exp(-np.abs(x))  # exp(-|x|) in (0, 1]
        # x >= 0: 1 / (1 + exp(-x));  x < 0: exp(x) / (1 + exp(x)), the same value.
        out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out[()] if out.ndim == 0 else out


def _cache_arrays(cache, dtype, *names):
    """The named fields of a recurrent cache as arrays of the backward's ``dtype`` (see
    ``_validation.recurrent_dtype``); no copy when a field already has it."""
    return [np.asarray(getattr(cache, name), dtype=dtype) for name in names]


# --- vanilla RNN --------------------------------------------------------------------------------


def rnn_step_forward(x, prev_h, Wx, Wh, b, *, n_threads=None):
    """One time step of a vanilla RNN with a tanh nonlinearity.

    Parameters
    ----------
    x : array_like of shape (N, D)
        Input of this step.
    prev_h : array_like of shape (N, H)
        Hidden state of the previous step.
    Wx : array_like of shape (D, H)
        Input-to-hidden weights.
    Wh : array_like of shape (H, H)
        Hidden-to-hidden weights.
    b : array_like of shape (H,)
        Biases.
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.rnn_step_forward`` and ignored.

    Returns
    -------
    next_h : ndarray of shape (N, H)
        ``tanh(x @ Wx + prev_h @ Wh + b)``; float32 if every input is float32, else float64.
    cache : RNNStepCache
        For ``rnn_step_backward``.

    Raises
    ------
    TypeError
        If an argument is not a real numeric array.
    ValueError
        If the shapes do not fit together as above, or ``x`` or ``prev_h`` is empty.
    """
    x, prev_h, _, Wx, Wh, b = v.recurrent_args("rnn", x, prev_h, Wx, Wh, b, step=True)
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    cache = RNNStepCache(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, next_h=next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache, *, n_threads=None):
    """Backward pass of one vanilla-RNN step.

    Parameters
    ----------
    dnext_h : array_like of shape (N, H)
        Upstream gradient of ``next_h``.
    cache : RNNStepCache
        From ``rnn_step_forward``.
    n_threads : int or None, default None
        Accepted and ignored.

    Returns
    -------
    dx : ndarray of shape (N, D)
    dprev_h : ndarray of shape (N, H)
    dWx : ndarray of shape (D, H)
    dWh : ndarray of shape (H, H)
    db : ndarray of shape (H,)
        float32 if the cached arrays and ``dnext_h`` are all float32, else float64: a float64
        or integer ``dnext_h`` with a float32 cache gives float64 gradients.

    Raises
    ------
    TypeError
        If ``cache`` is not an ``RNNStepCache`` or ``dnext_h`` not a real numeric array.
    ValueError
        If ``dnext_h`` does not have the shape (N, H) of ``next_h``.
    """
    dnext_h = v.recurrent_grad(
        "dnext_h", dnext_h, cache, RNNStepCache, "rnn_step_forward", "(N, H)"
    )
    dtype = v.recurrent_dtype(cache, dnext_h)
    dnext_h = dnext_h.astype(dtype, copy=False)
    x, prev_h, Wx, Wh, next_h = _cache_arrays(cache, dtype, "x", "prev_h", "Wx", "Wh", "next_h")
    # tanh'(a) = 1 - tanh(a)**2, and tanh(a) is the step's output.
    da = dnext_h * (1 - next_h**2)  # (N, H): gradient of the pre-activation
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b, *, n_threads=None):
    """Run a vanilla RNN over whole sequences.

    Parameters
    ----------
    x : array_like of shape (N, T, D)
        Input sequences.
    h0 : array_like of shape (N, H)
        Initial hidden state.
    Wx : array_like of shape (D, H)
    Wh : array_like of shape (H, H)
    b : array_like of shape (H,)
        Weights and biases, as in ``rnn_step_forward``.
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.rnn_forward`` and ignored.

    Returns
    -------
    h : ndarray of shape (N, T, H)
        Hidden state of every step: ``h[:, t] = rnn_step_forward(x[:, t], h[:, t - 1], ...)``
        with ``h[:, -1]`` read as ``h0``. float32 if every input is float32, else float64.
    cache : RNNCache
        For ``rnn_backward``; ``cache.h`` is the returned ``h``.

    Raises
    ------
    TypeError
        If an argument is not a real numeric array.
    ValueError
        If the shapes do not fit together, or ``x`` or ``h0`` is empty.
    """
    x, h0, _, Wx, Wh, b = v.recurrent_args("rnn", x, h0, Wx, Wh, b, step=False)
    n, t_steps, _ = x.shape
    h = np.empty((n, t_steps, h0.shape[1]), dtype=x.dtype)
    prev_h = h0
    for t in range(t_steps):
        prev_h, _ = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
    return h, RNNCache(x=x, h0=h0, Wx=Wx, Wh=Wh, h=h)


def rnn_backward(dh, cache, *, n_threads=None):
    """Backward pass of ``rnn_forward``.

    Parameters
    ----------
    dh : array_like of shape (N, T, H)
        Upstream gradient of every hidden state (from the layer above, not through time).
    cache : RNNCache
        From ``rnn_forward``.
    n_threads : int or None, default None
        Accepted and ignored.

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dh0 : ndarray of shape (N, H)
    dWx : ndarray of shape (D, H)
    dWh : ndarray of shape (H, H)
    db : ndarray of shape (H,)
        float32 if the cached arrays and ``dh`` are all float32, else float64: a float64 or
        integer ``dh`` with a float32 cache gives float64 gradients.

    Raises
    ------
    TypeError
        If ``cache`` is not an ``RNNCache`` or ``dh`` not a real numeric array.
    ValueError
        If ``dh`` does not have the shape (N, T, H) of ``h``.
    """
    dh = v.recurrent_grad("dh", dh, cache, RNNCache, "rnn_forward", "(N, T, H)")
    dtype = v.recurrent_dtype(cache, dh)
    dh = dh.astype(dtype, copy=False)
    x, h0, Wx, Wh, h = _cache_arrays(cache, dtype, "x", "h0", "Wx", "Wh", "h")
    t_steps = x.shape[1]
    dx = np.empty_like(x)
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros(Wh.shape[1], dtype=dtype)
    dprev_h = np.zeros_like(h0)  # gradient reaching h[:, t] from step t + 1
    for t in reversed(range(t_steps)):
        step = RNNStepCache(
            x=x[:, t],
            prev_h=h0 if t == 0 else h[:, t - 1],
            Wx=Wx,
            Wh=Wh,
            next_h=h[:, t],
        )
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, step)
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# --- LSTM ---------------------------------------------------------------------------------------


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, *, n_threads=None):
    """One time step of an LSTM.

    Parameters
    ----------
    x : array_like of shape (N, D)
        Input of this step.
    prev_h : array_like of shape (N, H)
        Hidden state of the previous step.
    prev_c : array_like of shape (N, H)
        Cell state of the previous step.
    Wx : array_like of shape (D, 4H)
        Input-to-gates weights, four blocks of H columns in the order i, f, o, g.
    Wh : array_like of shape (H, 4H)
        Hidden-to-gates weights, same blocks.
    b : array_like of shape (4H,)
        Biases, same blocks.
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.lstm_step_forward`` and ignored.

    Returns
    -------
    next_h : ndarray of shape (N, H)
        ``o * tanh(next_c)``.
    next_c : ndarray of shape (N, H)
        ``f * prev_c + i * g``.
    cache : LSTMStepCache
        For ``lstm_step_backward``: the inputs, the activated gates ``[i, f, o, g]`` (N, 4H),
        ``next_c`` and ``tanh(next_c)``.

    Both outputs are float32 if every input is float32, else float64.

    Raises
    ------
    TypeError
        If an argument is not a real numeric array (``prev_c`` may not be None).
    ValueError
        If the shapes do not fit together as above, or ``x`` or ``prev_h`` is empty.
    """
    x, prev_h, prev_c, Wx, Wh, b = v.recurrent_args("lstm", x, prev_h, Wx, Wh, b, prev_c, step=True)
    hidden = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H) pre-activations
    gates = np.empty_like(a)
    gates[:, : 3 * hidden] = sigmoid(a[:, : 3 * hidden])  # i, f, o
    gates[:, 3 * hidden :] = np.tanh(a[:, 3 * hidden :])  # g
    i, f, o, g = np.split(gates, 4, axis=1)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = LSTMStepCache(
        x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, gates=gates, next_c=next_c, tanh_c=tanh_c
    )
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache, *, n_threads=None):
    """Backward pass of one LSTM step.

    Parameters
    ----------
    dnext_h : array_like of shape (N, H)
        Upstream gradient of ``next_h``.
    dnext_c : array_like of shape (N, H)
        Upstream gradient of ``next_c``.
    cache : LSTMStepCache
        From ``lstm_step_forward``.
    n_threads : int or None, default None
        Accepted and ignored.

    Returns
    -------
    dx : ndarray of shape (N, D)
    dprev_h : ndarray of shape (N, H)
    dprev_c : ndarray of shape (N, H)
    dWx : ndarray of shape (D, 4H)
    dWh : ndarray of shape (H, 4H)
    db : ndarray of shape (4H,)
        float32 if the cached arrays, ``dnext_h`` and ``dnext_c`` are all float32, else
        float64: one float64 or integer upstream gradient with a float32 cache gives float64
        gradients.

    Raises
    ------
    TypeError
        If ``cache`` is not an ``LSTMStepCache`` or a gradient is not a real numeric array.
    ValueError
        If ``dnext_h`` or ``dnext_c`` does not have the shape (N, H).
    """
    producer = "lstm_step_forward"
    dnext_h = v.recurrent_grad("dnext_h", dnext_h, cache, LSTMStepCache, producer, "(N, H)")
    dnext_c = v.recurrent_grad("dnext_c", dnext_c, cache, LSTMStepCache, producer, "(N, H)")
    dtype = v.recurrent_dtype(cache, dnext_h, dnext_c)
    dnext_h, dnext_c = dnext_h.astype(dtype, copy=False), dnext_c.astype(dtype, copy=False)
    x, prev_h, prev_c, Wx, Wh, gates, tanh_c = _cache_arrays(
        cache, dtype, "x", "prev_h", "prev_c", "Wx", "Wh", "gates", "tanh_c"
    )
    i, f, o, g = np.split(gates, 4, axis=1)

    # next_h = o * tanh(next_c): the cell state gets gradient from next_h and from upstream.
    do = dnext_h * tanh_c
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)
    # next_c = f * prev_c + i * g
    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f
    # Through the nonlinearities: sigmoid' = s * (1 - s), tanh' = 1 - t**2.
    da = np.concatenate(
        [di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)], axis=1
    )  # (N, 4H)

    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b, c0=None, *, n_threads=None):
    """Run an LSTM over whole sequences.

    Parameters
    ----------
    x : array_like of shape (N, T, D)
        Input sequences.
    h0 : array_like of shape (N, H)
        Initial hidden state.
    Wx : array_like of shape (D, 4H)
    Wh : array_like of shape (H, 4H)
    b : array_like of shape (4H,)
        Weights and biases, as in ``lstm_step_forward``.
    c0 : array_like of shape (N, H) or None, default None
        Initial cell state; None means zeros, as in the course.
    n_threads : int or None, default None
        Accepted for signature parity with ``cs231n_fast.ops.lstm_forward`` and ignored.

    Returns
    -------
    h : ndarray of shape (N, T, H)
        Hidden state of every step. float32 if every input is float32, else float64.
    cache : LSTMCache
        For ``lstm_backward``: the inputs (``c0`` as an array, zeros when it was None) and,
        for every step, the hidden and cell states, the activated gates and ``tanh(c)``.

    Raises
    ------
    TypeError
        If an argument is not a real numeric array.
    ValueError
        If the shapes do not fit together, or ``x`` or ``h0`` is empty.
    """
    x, h0, c0, Wx, Wh, b = v.recurrent_args("lstm", x, h0, Wx, Wh, b, c0, step=False)
    if c0 is None:
        c0 = np.zeros_like(h0)
    n, t_steps, _ = x.shape
    hidden = h0.shape[1]
    h = np.empty((n, t_steps, hidden), dtype=x.dtype)
    c = np.empty((n, t_steps, hidden), dtype=x.dtype)
    gates = np.empty((n, t_steps, 4 * hidden), dtype=x.dtype)
    tanh_c = np.empty((n, t_steps, hidden), dtype=x.dtype)
    prev_h, prev_c = h0, c0
    for t in range(t_steps):
        prev_h, prev_c, step = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t], c[:, t], gates[:, t], tanh_c[:, t] = prev_h, prev_c, step.gates, step.tanh_c
    cache = LSTMCache(x=x, h0=h0, c0=c0, Wx=Wx, Wh=Wh, h=h, c=c, gates=gates, tanh_c=tanh_c)
    return h, cache


def lstm_backward(dh, cache, *, n_threads=None, return_dc0=False):
    """Backward pass of ``lstm_forward``.

    Parameters
    ----------
    dh : array_like of shape (N, T, H)
        Upstream gradient of every hidden state (from the layer above, not through time).
    cache : LSTMCache
        From ``lstm_forward``.
    n_threads : int or None, default None
        Accepted and ignored.
    return_dc0 : bool, default False
        Also return the gradient of the initial cell state ``c0`` (zeros when the forward
        call was given none), e.g. to carry gradients across chunks of a long sequence.

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dh0 : ndarray of shape (N, H)
    dWx : ndarray of shape (D, 4H)
    dWh : ndarray of shape (H, 4H)
    db : ndarray of shape (4H,)
        float32 if the cached arrays and ``dh`` are all float32, else float64: a float64 or
        integer ``dh`` with a float32 cache gives float64 gradients.
    dc0 : ndarray of shape (N, H)
        Only with ``return_dc0=True``, appended to the tuple; the course's signature has no
        gradient of the initial cell state.

    Raises
    ------
    TypeError
        If ``cache`` is not an ``LSTMCache`` or ``dh`` not a real numeric array.
    ValueError
        If ``dh`` does not have the shape (N, T, H) of ``h``.
    """
    dh = v.recurrent_grad(
        "dh", dh, cache, LSTMCache, "lstm_forward", "(N, T, H)"
    )
    dtype = v.recurrent_dtype(cache, dh)
    dh = dh.astype(dtype, copy=False)
    x, h0, c0, Wx, Wh, h, c, gates, tanh_c = _cache_arrays(
        cache, dtype, "x", "h0", "c0", "Wx", "Wh", "h", "c", "gates", "tanh_c"
    )
    t_steps = x.shape[1]
    dx = np.empty_like(x)
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros(Wh.shape[1], dtype=dtype)
    dprev_h = np.zeros_like(h0)  # gradients reaching h[:, t] and c[:, t] from step t + 1
    dprev_c = np.zeros_like(c0)
    for t in reversed(range(t_steps)):
        step = LSTMStepCache(
            x=x[:, t],
            prev_h=h0 if t == 0 else h[:, t - 1],
            prev_c=c0 if t == 0 else c[:, t - 1],
            Wx=Wx,
            Wh=Wh,
            gates=gates[:, t],
            next_c=c[:, t],
            tanh_c=tanh_c[:, t],
        )
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, step
        )
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    if return_dc0:
        return dx, dprev_h, dWx, dWh, db, dprev_c
    return dx, dprev_h, dWx, dWh, db


# --- word embedding, temporal affine, temporal softmax loss -------------------------------------


def word_embedding_forward(x, W, *, n_threads=None):
    """Look up the word vectors of a minibatch of sequences.

    Parameters
    ----------
    x : array_like of int, shape (N, T)
        Word ids, each in ``[0, V)``.
    W : array_like of shape (V, D)
        Word vectors, one row per word of the vocabulary.

    Returns
    -------
    out : ndarray of shape (N, T, D)
        ``out[n, t] = W[x[n, t]]``; float32 for a float32 ``W``, else float64.
    cache : EmbeddingCache
        The ids and the table's shape and dtype, for ``word_embedding_backward``.

    Raises
    ------
    TypeError
        If ``x`` is not an integer array or ``W`` not a real numeric one.
    ValueError
        If ``x`` is not 2-D or is empty, ``W`` is not 2-D or is empty, or an id is outside
        ``[0, V)``.
    """
    ids, W, dtype = _embedding_args(x, W)
    out = W.astype(dtype, copy=False)[ids]  # integer-array indexing picks one row per id
    return out, EmbeddingCache(x=ids, W_shape=tuple(W.shape), dtype=dtype)


def word_embedding_backward(dout, cache, *, n_threads=None):
    """Gradient of the word embedding with respect to the table ``W``.

    Parameters
    ----------
    dout : array_like of shape (N, T, D)
        Upstream gradient of the forward output.
    cache : EmbeddingCache
        From ``word_embedding_forward``.

    Returns
    -------
    dW : ndarray of shape (V, D)
        ``dW[i]`` is the sum of ``dout[n, t]`` over every position with ``x[n, t] == i`` (zero
        for words that do not occur). float32 if the table and ``dout`` are float32, else
        float64.

    Raises
    ------
    TypeError
        If ``cache`` is not an ``EmbeddingCache`` or ``dout`` not a real numeric array.
    ValueError
        If ``dout`` does not have the shape (N, T, D) of the forward output.
    """
    dout, dtype = _embedding_grad(dout, cache)
    dW = np.zeros(cache.W_shape, dtype=dtype)
    # np.add.at accumulates repeated ids (dW[ids] += dout would keep only one of them).
    np.add.at(dW, cache.x, dout.astype(dtype, copy=False))
    return dW


def temporal_affine_forward(x, w, b):
    """Affine layer applied at every time step: ``out[n, t] = x[n, t] @ w + b``.

    Parameters
    ----------
    x : array_like of shape (N, T, D)
    w : array_like of shape (D, M)
    b : array_like of shape (M,)

    Returns
    -------
    out : ndarray of shape (N, T, M)
        float32 if ``x``, ``w`` and ``b`` are all float32, else float64.
    cache : TemporalAffineCache
        The inputs (contiguous, in the compute dtype), for ``temporal_affine_backward``.

    Raises
    ------
    TypeError
        If an argument is not a real numeric array.
    ValueError
        If ``x`` is not 3-D, ``w`` is not (D, M) for the D of ``x``, ``b`` is not (M,), or ``x``
        or ``w`` is empty.
    """
    x, w, b = _affine_args(x, w, b)
    n, t, d = x.shape
    m = w.shape[1]
    # Every (n, t) position is one row of an ordinary affine layer.
    out = (x.reshape(n * t, d) @ w + b).reshape(n, t, m)
    return out, TemporalAffineCache(x=x, w=w, b=b, out_shape=(n, t, m))


def temporal_affine_backward(dout, cache):
    """Backward pass of ``temporal_affine_forward``.

    Parameters
    ----------
    dout : array_like of shape (N, T, M)
        Upstream gradient.
    cache : TemporalAffineCache
        From ``temporal_affine_forward``.

    Returns
    -------
    dx : ndarray of shape (N, T, D)
    dw : ndarray of shape (D, M)
    db : ndarray of shape (M,)
        float32 if the cached arrays and ``dout`` are all float32, else float64.

    Raises
    ------
    TypeError
        If ``cache`` is not a ``TemporalAffineCache`` or ``dout`` not a real numeric array.
    ValueError
        If ``dout`` does not have the forward output's shape.
    """
    dout, x, w = _affine_grad(dout, cache)
    n, t, d = x.shape
    m = w.shape[1]
    dout_rows = dout.reshape(n * t, m)
    x_rows = x.reshape(n * t, d)
    dx = (dout_rows @ w.T).reshape(n, t, d)
    dw = x_rows.T @ dout_rows  # sums over every (n, t) position
    db = dout_rows.sum(axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False, *, n_threads=None):
    """Softmax cross-entropy summed over time and averaged over the minibatch, with a mask.

    Parameters
    ----------
    x : array_like of shape (N, T, V)
        Scores over the vocabulary at every time step.
    y : array_like of int, shape (N, T)
        Correct word ids, each in ``[0, V)`` (at masked-out positions too).
    mask : array_like of bool, shape (N, T)
        Which positions count towards the loss (integers 0/1 are accepted too).
    verbose : bool, default False
        Print the shape of the flattened gradient, as the course's version does.

    Returns
    -------
    loss : float
        ``-sum(mask[n, t] * log(softmax(x[n, t])[y[n, t]])) / N``.
    dx : ndarray of shape (N, T, V)
        Gradient of ``loss`` with respect to ``x``: ``(softmax(x) - onehot(y)) / N`` where the
        mask is true, exactly zero elsewhere. float32 for float32 ``x``, else float64.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric, ``y`` not integer, or ``mask`` neither boolean nor real.
    ValueError
        If shapes disagree, ``x`` is empty, an id is outside ``[0, V)`` or ``mask`` holds
        values other than 0 and 1.
    """
    x, y, mask = _softmax_loss_args(x, y, mask)
    n, t, vocab = x.shape
    x_flat = x.reshape(n * t, vocab)
    y_flat = y.reshape(n * t)
    mask_flat = mask.reshape(n * t)
    rows = np.arange(n * t)

    # Underflow is harmless here: exp of a very negative score is 0, as it should be.
    with np.errstate(under="ignore"):
        # Subtracting each row's maximum changes no probability and keeps exp from overflowing.
        shifted = x_flat - x_flat.max(axis=1, keepdims=True)
        exp_shifted = np.exp(shifted)
        sums = exp_shifted.sum(axis=1, keepdims=True)
        log_probs = shifted - np.log(sums)

        correct_log_probs = log_probs[rows, y_flat]
        loss = -float(np.sum(correct_log_probs[mask_flat], dtype=np.float64)) / n

        # d loss / d x = (softmax - onehot(y)) / N. At the correct word, p - 1 is written as
        # minus the sum of the other words' probabilities: the same value, but without the
        # cancellation of 1 - p when p is close to 1 (a confident, correct prediction).
        is_correct = np.arange(vocab) == y_flat[:, None]  # (N * T, V) one-hot
        exp_others = np.where(is_correct, 0, exp_shifted).sum(axis=1, keepdims=True)
        dx_flat = np.where(is_correct, -exp_others, exp_shifted) / sums / n
    dx_flat[~mask_flat] = 0  # positions that do not count get no gradient
    if verbose:
        print("dx_flat: ", dx_flat.shape)
    return loss, dx_flat.reshape(n, t, vocab)
