"""The non-recurrent sequence layers of CS231n assignment 3.

Word embedding, temporal affine and temporal softmax loss: same names, signatures and return
values as the course's ``rnn_layers.py`` (plus a keyword-only ``n_threads`` for the compiled
ones), validation before any computation, the library's dtype policy (float32 in gives float32
out; other real dtypes are computed in float64) and small cache objects
(:mod:`cs231n_fast._cache`). Their readable twins live in :mod:`cs231n_fast.reference.rnn`,
which imports the validation helpers of this module so that the two never disagree on what
they accept.

The word embedding (a row gather, and a deterministic scatter-add for its gradient:
``csrc/embedding.pyx``) and the temporal softmax loss (one call per row for max, exponentials,
sum and gradient: ``csrc/losses.pyx``) are compiled kernels, parallel and bitwise identical for
any thread count. The temporal affine layer runs on the affine kernel of
:mod:`cs231n_fast.ops.linear` (on the (N * T, D) view of its input).

The layers run once per training step beside kernels of tens of microseconds, so their
validation is lean: the common case is a few attribute compares and one ``max`` over the ids
(an unsigned view, which catches negative ids too); the detailed checks that build the
messages run only when that fails.
"""

import numpy as np

from .. import _validation as v
from .._cache import EmbeddingCache, TemporalAffineCache
from . import linear as _linear
from .._ext import embedding as _emb
from .._ext import losses as _loss
from .._memory import empty
from .._threads import work_threads

#: The scatter-add's team start costs about what 30 x SERIAL_WORK element visits take.
_EMB_BWD_SERIAL_FACTOR = 32

__all__ = [
    "word_embedding_forward",
    "word_embedding_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_INTP = np.dtype(np.intp)
_BOOL = np.dtype(bool)
#: Unsigned views of the integer dtypes: one ``max`` of the view checks 0 <= id < V (a negative
#: id becomes a huge unsigned one).
_UNSIGNED = {np.dtype(f"{k}{s}"): np.dtype(f"u{s}") for k in "iu" for s in (1, 2, 4, 8)}


# --- validation shared with reference.rnn (private, but imported there) ------------------------


def _ids_ok(ids, vocab):
    """True when ``ids`` is a non-empty 2-D array of a native integer dtype with every id in
    ``[0, vocab)``: attribute compares and one ``max`` (the quick check; no message built)."""
    unsigned = _UNSIGNED.get(ids.dtype)
    return (
        unsigned is not None
        and ids.ndim == 2
        and ids.size > 0
        and int(ids.view(unsigned).max()) < vocab
    )


def _word_ids(name, x, vocab, scores_shape=None):
    """The (N, T) word ids ``x`` as a C-contiguous intp array, each in ``[0, vocab)``; with
    ``scores_shape`` (that of the (N, T, V) scores), also checked to have shape (N, T).

    The quick check (:func:`_ids_ok`) passes the common case; otherwise the detailed checks of
    ``_validation.word_ids`` run, raising with their messages (or passing, for an unusual dtype
    such as a non-native byte order).
    """
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if not _ids_ok(x, vocab) or (scores_shape is not None and x.shape != scores_shape[:2]):
        x = v.word_ids(name, x, vocab)
        if scores_shape is None:
            v.check_nonempty(name, x, "(N, T)")
        else:
            why = f"(N, T), the batch and time sizes of x {scores_shape}"
            v.check_shape(name, x, scores_shape[:2], why)
    if x.dtype != _INTP or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=_INTP)
    return x


def _embedding_args(x, W):
    """Validate a ``word_embedding_forward`` call.

    Returns ``(ids, W, dtype)``: ``ids`` the (N, T) word ids as C-contiguous intp (no copy when
    ``x`` already is), ``W`` as an array in its own dtype and layout (not cast: the caller
    gathers rows first and casts only those) and ``dtype`` the result dtype (float32 for a
    float32 table, else float64).
    """
    W = v.as_array("W", W)
    if W.ndim != 2 or W.size == 0:
        v.check_ndim("W", W, 2, "(V, D)")
        v.check_nonempty("W", W, "(V, D)")
    ids = _word_ids("x", x, W.shape[0])
    return ids, W, (_F32 if W.dtype == _F32 else _F64)


def _embedding_grad(dout, cache):
    """Validate a ``word_embedding_backward`` call; return ``(dout, dtype)``.

    ``dout`` comes back as an array in its own dtype and layout; ``dtype`` is the dtype of
    ``dW``: float32 if the table and ``dout`` are both float32, else float64. The cache's ids
    are checked again (a cache altered after its forward call must not reach the kernel, which
    writes at them).
    """
    if not isinstance(cache, EmbeddingCache):
        raise TypeError(
            "cache must be the EmbeddingCache returned by word_embedding_forward; "
            f"got {type(cache).__name__}"
        )
    dout = v.as_array("dout", dout)
    ids, (vocab, d) = cache.x, cache.W_shape
    if not isinstance(ids, np.ndarray) or not _ids_ok(ids, vocab):
        raise ValueError(
            "cache is not the one word_embedding_forward returned: its x must be a non-empty "
            f"(N, T) integer array of word ids in [0, {vocab})"
        )
    if dout.shape != (*ids.shape, d):
        v.check_ndim("dout", dout, 3, "(N, T, D)")
        v.check_shape(
            "dout",
            dout,
            (*ids.shape, d),
            "(N, T, D), the output shape of the word_embedding_forward call that made cache",
        )
    return dout, (_F32 if cache.dtype == _F32 and dout.dtype == _F32 else _F64)


def _affine_args(x, w, b):
    """Validate a ``temporal_affine_forward`` call; return ``x, w, b`` C-contiguous in the
    policy dtype (copies only when the layout or dtype requires it)."""
    x, w, b = v.as_array("x", x), v.as_array("w", w), v.as_array("b", b)
    v.check_ndim("x", x, 3, "(N, T, D)")
    v.check_ndim("w", w, 2, "(D, M)")
    v.check_ndim("b", b, 1, "(M,)")
    # Zero-size dimensions are computed (to empty outputs and zero gradients), as the course's
    # x.reshape(N * T, D).dot(w) does.
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
    """The (N, T) boolean mask: bool, or integers or floats that are all 0 or 1 (the course's
    ``mask_flat * log(...)`` computes with those too)."""
    if type(mask) is np.ndarray and mask.dtype == _BOOL and mask.shape == shape:
        return mask
    try:
        mask = np.asarray(mask)
    except Exception as exc:
        raise TypeError(f"mask must be a boolean array of shape (N, T): {exc}") from None
    kind = mask.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"mask must be a boolean array of shape (N, T) (numbers 0/1 are accepted too); "
            f"got dtype {mask.dtype}"
        )
    v.check_ndim("mask", mask, 2, "(N, T)")
    v.check_shape("mask", mask, shape, "(N, T), the shape of y")
    if kind != "b":
        keep = mask == 1
        if not np.all(keep | (mask == 0)):
            bad = mask[~(keep | (mask == 0))].flat[0].item()
            raise ValueError(
                f"mask must hold only booleans or the numbers 0 and 1 (a weighted loss is not "
                f"supported); got {bad!r}"
            )
        mask = keep
    return mask


def _softmax_loss_args(x, y, mask):
    """Validate a ``temporal_softmax_loss`` call.

    Returns ``(x, y, mask)``: ``x`` (N, T, V) in the policy dtype (any layout, never copied
    unless it must be cast), ``y`` the (N, T) correct ids as intp, each in ``[0, V)`` (masked
    positions included), and ``mask`` the (N, T) boolean mask.
    """
    x = v.as_array("x", x)
    if x.ndim != 3 or x.size == 0:
        v.check_ndim("x", x, 3, "(N, T, V)")
        if x.shape[0] == 0 or x.shape[2] == 0:  # T = 0 is a loss of 0, as in the course
            raise ValueError(
                f"x must have N >= 1 sequences (the loss is averaged over N) and V >= 1 words "
                f"(N, T, V); got shape {x.shape}"
            )
    y = _word_ids("y", y, x.shape[2], x.shape)
    mask = _mask(mask, y.shape)
    return x.astype(_F32 if x.dtype == _F32 else _F64, copy=False), y, mask


# --- public API ---------------------------------------------------------------------------------


def word_embedding_forward(x, W, *, n_threads=None):
    """Look up the word vectors of a minibatch of sequences.

    Parameters
    ----------
    x : array_like of int, shape (N, T)
        Word ids, each in ``[0, V)``.
    W : array_like of shape (V, D)
        Word vectors, one row per word of the vocabulary.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

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

    Notes
    -----
    A float32 or float64 table is gathered by the kernel straight from ``W`` whatever its
    layout (parallel over the N * T rows); a table of another dtype has its gathered rows cast,
    never the whole table.
    """
    ids, W, dtype = _embedding_args(x, W)
    n, t = ids.shape
    d = W.shape[1]
    if W.dtype != dtype:  # cast the gathered rows, not the whole table
        out = np.take(W, ids, axis=0).astype(dtype)
    else:
        out = empty((n, t, d), dtype)
        _emb.embedding_forward(W, ids.reshape(n * t), out.reshape(n * t, d), work_threads(n_threads, n * t * d))
    return out, EmbeddingCache(x=ids, W_shape=W.shape, dtype=dtype)


def word_embedding_backward(dout, cache, *, n_threads=None):
    """Gradient of the word embedding with respect to the table ``W``.

    Parameters
    ----------
    dout : array_like of shape (N, T, D)
        Upstream gradient of the forward output.
    cache : EmbeddingCache
        From ``word_embedding_forward`` (this one or ``cs231n_fast.reference``'s).
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

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
        If ``dout`` does not have the shape (N, T, D) of the forward output, or the cache's ids
        are not word ids of its table.

    Notes
    -----
    A deterministic scatter-add without atomics: the N * T ids are ordered by a stable
    counting sort, and each row of ``dW`` is written once, by one thread, as the sum of its
    words' rows of ``dout`` in order of occurrence (zeros for words that do not occur). Bitwise
    identical for any thread count.
    """
    dout, dtype = _embedding_grad(dout, cache)
    vocab, d = cache.W_shape
    ids = cache.x
    if ids.dtype != _INTP or not ids.flags.c_contiguous:
        ids = np.ascontiguousarray(ids, dtype=_INTP)
    rows = ids.size
    ids = ids.reshape(rows)
    if dout.dtype != dtype or not dout.flags.c_contiguous:
        dout = np.ascontiguousarray(dout, dtype=dtype)
    dW = empty((vocab, d), dtype)
    _emb.embedding_backward(
        dout.reshape(rows, d),
        ids,
        dW,
        np.empty(vocab, _INTP),
        np.empty(rows, _INTP),
        # A team pays off only from about a million element visits (measured: 800 ids, V=1004,
        # D=256 took 38 us on one thread and 40 us on two; 1600 x 1004 x 512: 117 vs 82 us).
        work_threads(n_threads, (rows + vocab) * d // _EMB_BWD_SERIAL_FACTOR),
    )
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


def temporal_softmax_loss(x, y, mask, verbose=False, *, n_threads=None):
    """Softmax cross-entropy summed over time and averaged over the minibatch, with a mask.

    Parameters
    ----------
    x : array_like of shape (N, T, V)
        Scores over the vocabulary at every time step.
    y : array_like of int, shape (N, T)
        Correct word ids, each in ``[0, V)`` (at masked-out positions too).
    mask : array_like of bool, shape (N, T)
        Which positions count towards the loss (integers or floats 0/1 are accepted too).
    verbose : bool, default False
        Print the shape of the flattened gradient, as the course's version does.
    n_threads : int, optional
        Threads for the kernel; default OpenMP's current maximum.

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
        If ``x`` is not real numeric, ``y`` not integer, or ``mask`` neither boolean nor real.
    ValueError
        If shapes disagree, ``x`` is empty, an id is outside ``[0, V)`` or ``mask`` holds
        values other than 0 and 1.

    Notes
    -----
    One kernel call (``csrc/losses.pyx``, parallel over the N * T positions) computes each
    counted row's maximum, exponentials, sum and gradient while the row sits in L1; rows that
    do not count are never read (their scores may be NaN or Inf) and get a zero gradient. At
    the correct word ``p - 1`` is computed as minus the sum of the other probabilities, which
    keeps its relative precision when ``p`` is close to 1. The per-position losses are computed
    in float64 and summed in a fixed order: bitwise identical for any thread count.
    """
    x, y, mask = _softmax_loss_args(x, y, mask)
    n, t, vocab = x.shape
    rows = n * t
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    keep = mask if mask.flags.c_contiguous else np.ascontiguousarray(mask)
    dx = empty((n, t, vocab), x.dtype)
    total = _loss.row_losses(
        0,
        x.reshape(rows, vocab),
        y.reshape(rows),
        keep.view(np.uint8).reshape(rows),
        dx.reshape(rows, vocab),
        np.empty(rows),
        float(n),
        work_threads(n_threads, rows * vocab),
    )
    if verbose:
        print("dx_flat: ", (rows, vocab))
    return float(total) / n, dx
