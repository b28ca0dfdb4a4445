"""Vectorised NumPy versions of the non-recurrent sequence layers of CS231n assignment 3.

Word embedding, temporal affine and temporal softmax loss: same names, signatures and return
values as the course's ``rnn_layers.py``, plus validation before any computation, the library's
dtype policy (float32 in gives float32 out; other real dtypes are computed in float64) and
small cache objects (:mod:`cs231n_fast._cache`). Their readable twins live in
:mod:`cs231n_fast.reference.rnn`, which imports the validation helpers of this module so that
the two never disagree on what they accept.

The temporal affine layer runs on the affine kernel of :mod:`cs231n_fast.ops.linear` (on the
(N * T, D) view of its input); the others are a handful of whole-array NumPy operations (a sort
and a segmented sum for the embedding gradient, in-place softmax arithmetic written straight
into ``dx``).
"""

import numpy as np

from .. import _validation as v
from .._cache import EmbeddingCache, TemporalAffineCache
from . import linear as _linear

__all__ = [
    "word_embedding_forward",
    "word_embedding_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


# --- validation shared with reference.rnn (private, but imported there) ------------------------


def _policy_dtype(*dtypes):
    """float32 if every dtype is float32, else float64 (the rule of ``_validation``)."""
    return _F32 if all(np.dtype(d) == _F32 for d in dtypes) else _F64


def _embedding_args(x, W):
    """Validate a ``word_embedding_forward`` call.

    Returns ``(ids, W, dtype)``: ``ids`` the (N, T) word ids as intp (no copy when ``x`` is
    already intp), ``W`` as an array in its own dtype and layout (not cast: the caller gathers
    rows first and casts only those) and ``dtype`` the result dtype (float32 for a float32
    table, else float64).
    """
    W = v.as_array("W", W)
    v.check_ndim("W", W, 2, "(V, D)")
    v.check_nonempty("W", W, "(V, D)")
    ids = v.word_ids("x", x, W.shape[0])
    v.check_nonempty("x", ids, "(N, T)")
    return ids, W, v.result_dtype(W)


def _embedding_grad(dout, cache):
    """Validate a ``word_embedding_backward`` call; return ``(dout, dtype)``.

    ``dout`` comes back as an array in its own dtype and layout; ``dtype`` is the dtype of
    ``dW``: float32 if the table and ``dout`` are both float32, else float64.
    """
    if not isinstance(cache, EmbeddingCache):
        raise TypeError(
            "cache must be the EmbeddingCache returned by word_embedding_forward; "
            f"got {type(cache).__name__}"
        )
    dout = v.as_array("dout", dout)
    v.check_ndim("dout", dout, 3, "(N, T, D)")
    v.check_shape(
        "dout",
        dout,
        (*cache.x.shape, cache.W_shape[1]),
        "(N, T, D), the output shape of the word_embedding_forward call that made cache",
    )
    return dout, _policy_dtype(cache.dtype, dout.dtype)


def _affine_args(x, w, b):
    """Validate a ``temporal_affine_forward`` call; return ``x, w, b`` C-contiguous in the
    policy dtype (copies only when the layout or dtype requires it)."""
    x, w, b = v.as_array("x", x), v.as_array("w", w), v.as_array("b", b)
    v.check_ndim("x", x, 3, "(N, T, D)")
    v.check_ndim("w", w, 2, "(D, M)")
    v.check_ndim("b", b, 1, "(M,)")
    v.check_nonempty("x", x, "(N, T, D)")
    v.check_nonempty("w", w, "(D, M)")
    d = x.shape[2]
    if w.shape[0] != d:
        raise ValueError(
            f"w must have shape (D, M) with D = {d} as in x {x.shape}; got w of shape {w.shape}"
        )
    m = w.shape[1]
    if b.shape != (m,):
        raise ValueError(f"b must have shape (M,) = ({m},) to match w {w.shape}; got {b.shape}")
    dtype = v.result_dtype(x, w, b)
    return v.as_contiguous(x, dtype), v.as_contiguous(w, dtype), v.as_contiguous(b, dtype)


def _affine_grad(dout, cache):
    """Validate a ``temporal_affine_backward`` call.

    Returns ``(dout, x, w)`` C-contiguous in the policy dtype of the cached arrays and ``dout``
    (the cached arrays are cast only when ``dout`` is float64 and they are float32).
    """
    dout = v.backward_args(dout, cache, TemporalAffineCache, "temporal_affine_forward", "(N, T, M)")
    dtype = v.result_dtype(cache.x, cache.w, cache.b, dout)
    return (
        v.as_contiguous(dout, dtype),
        v.as_contiguous(cache.x, dtype),
        v.as_contiguous(cache.w, dtype),
    )


def _mask(mask, shape):
    """The (N, T) boolean mask: bool, or integers that are all 0 or 1."""
    try:
        mask = np.asarray(mask)
    except Exception as exc:
        raise TypeError(f"mask must be a boolean array of shape (N, T): {exc}") from None
    kind = mask.dtype.kind
    if kind not in "biu":
        raise TypeError(
            f"mask must be a boolean array of shape (N, T) (integers 0/1 are accepted too); "
            f"got dtype {mask.dtype}"
        )
    v.check_ndim("mask", mask, 2, "(N, T)")
    v.check_shape("mask", mask, shape, "(N, T), the shape of y")
    if kind != "b":
        if mask.size and (mask.min() < 0 or mask.max() > 1):
            bad = int(mask.min()) if mask.min() < 0 else int(mask.max())
            raise ValueError(f"mask must hold only booleans or the integers 0 and 1; got {bad}")
        mask = mask.astype(bool)
    return mask


def _softmax_loss_args(x, y, mask):
    """Validate a ``temporal_softmax_loss`` call.

    Returns ``(x, y, mask)``: ``x`` (N, T, V) in the policy dtype (any layout, never copied
    unless it must be cast), ``y`` the (N, T) correct ids as intp, each in ``[0, V)`` (masked
    positions included), and ``mask`` the (N, T) boolean mask.
    """
    x = v.as_array("x", x)
    v.check_ndim("x", x, 3, "(N, T, V)")
    v.check_nonempty("x", x, "(N, T, V)")
    y = v.word_ids("y", y, x.shape[2])
    v.check_shape("y", y, x.shape[:2], f"(N, T), the batch and time sizes of x {x.shape}")
    mask = _mask(mask, y.shape)
    return x.astype(v.result_dtype(x), copy=False), y, mask


# --- public API ---------------------------------------------------------------------------------


def word_embedding_forward(x, W):
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
    out = np.take(W, ids, axis=0)  # gathers rows straight from W, whatever its layout
    if out.dtype != dtype:  # cast the gathered rows, not the whole table
        out = out.astype(dtype)
    return out, EmbeddingCache(x=ids, W_shape=tuple(W.shape), dtype=dtype)


def word_embedding_backward(dout, cache):
    """Gradient of the word embedding with respect to the table ``W``.

    Parameters
    ----------
    dout : array_like of shape (N, T, D)
        Upstream gradient of the forward output.
    cache : EmbeddingCache
        From ``word_embedding_forward`` (this one or ``cs231n_fast.reference``'s).

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

    Notes
    -----
    The N * T rows of ``dout`` are ordered by word id with a stable sort and each run of equal
    ids is summed with ``np.add.reduceat``, in order of occurrence; ``dW`` is zero-filled once
    and written only at the words that occur.
    """
    dout, dtype = _embedding_grad(dout, cache)
    vocab, d = cache.W_shape
    ids = cache.x.reshape(-1)
    rows = np.asarray(dout, dtype=dtype).reshape(ids.size, d)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    dW = np.zeros((vocab, d), dtype=dtype)
    dW[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return dW


def temporal_affine_forward(x, w, b):
    """Affine layer applied at every time step: ``out[n, t] = x[n, t] @ w + b``.

    Parameters
    ----------
    x : array_like of shape (N, T, D)
        Input sequences.
    w : array_like of shape (D, M)
        Weights.
    b : array_like of shape (M,)
        Biases.

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

    Notes
    -----
    The affine kernel (:mod:`cs231n_fast.ops.linear`) on the (N * T, D) view of ``x``: fixed
    blocks of the product, the bias added to each block right after its product.
    """
    x, w, b = _affine_args(x, w, b)
    n, t, d = x.shape
    m = w.shape[1]
    out = _linear._forward(x.reshape(n * t, d), w, b, False, None)
    return out.reshape(n, t, m), TemporalAffineCache(x=x, w=w, b=b, out_shape=(n, t, m))


def temporal_affine_backward(dout, cache):
    """Backward pass of ``temporal_affine_forward``.

    Parameters
    ----------
    dout : array_like of shape (N, T, M)
        Upstream gradient.
    cache : TemporalAffineCache
        From ``temporal_affine_forward`` (this one or ``cs231n_fast.reference``'s).

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
    if x.shape[:2] != dout.shape[:2] or w.shape[0] != d:
        raise ValueError("cache is not the one temporal_affine_forward returned: its arrays disagree in shape")
    dx, dw, db, _ = _linear._backward(dout.reshape(n * t, m), x.reshape(n * t, d), w, None, True, None, None)
    return dx.reshape(n, t, d), dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
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
        Gradient of ``loss`` with respect to ``x``; exactly zero at masked-out positions.
        float32 for float32 ``x``, else float64.

    Raises
    ------
    TypeError
        If ``x`` is not real numeric, ``y`` not integer, or ``mask`` neither boolean nor integer.
    ValueError
        If shapes disagree, ``x`` is empty, an id is outside ``[0, V)`` or ``mask`` holds
        values other than 0 and 1.

    Notes
    -----
    The softmax is computed in place in ``dx`` and only at the positions that count (ufunc
    ``where=``), after subtracting each row's maximum; scores at masked-out positions are never
    read (they may be NaN or Inf). At the correct word ``p - 1`` is computed as minus the sum
    of the other probabilities, which keeps its relative precision when ``p`` is close to 1.
    The per-position losses are computed and summed in float64.
    """
    x, y, mask = _softmax_loss_args(x, y, mask)
    n, t, vocab = x.shape
    scores = x.reshape(n * t, vocab)  # never written; a copy only for non-contiguous x
    keep = mask.reshape(-1)
    rows = np.flatnonzero(keep)  # the positions that count ...
    cols = y.reshape(-1)[rows]  # ... and their correct words
    where = keep[:, None]
    dx = np.zeros((n * t, vocab), dtype=x.dtype)
    with np.errstate(under="ignore"):  # exp of very negative scores and tiny p / N flush to 0
        np.subtract(scores, scores.max(axis=1, keepdims=True), out=dx, where=where)
        shifted_y = dx[rows, cols].astype(np.float64)  # shifted score of the correct word
        np.exp(dx, out=dx, where=where)
        dx[rows, cols] = 0
        others = dx.sum(axis=1)  # sum of exp over the other words (0 in rows that do not count)
        total = others.copy()
        total[rows] += np.exp(shifted_y).astype(x.dtype)
        # -log p_y = log(sum of exp) - shifted score, per counted row, in float64.
        loss = float(np.sum(np.log(others[rows] + np.exp(shifted_y)) - shifted_y)) / n
        total[~keep] = 1  # rows that do not count stay zero; keep their divisor harmless
        total *= n
        np.divide(dx, total[:, None], out=dx, where=where)  # p_k / N for the other words
        # p_y - 1 = -(sum of the other probabilities): no cancellation when p_y is close to 1.
        dx[rows, cols] = -others[rows] / total[rows]
    if verbose:
        print("dx_flat: ", dx.shape)
    return loss, dx.reshape(n, t, vocab)
