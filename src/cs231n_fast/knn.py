"""Exact k-nearest-neighbour search: pairwise L1/L2 distances and streaming top-k.

Both functions validate in Python, apply the dtype policy (all-float32 in -> float32 out,
otherwise float64), and then run the kernels of ``cs231n_fast._ext.distances`` with the GIL
released; L2 Gram blocks come from BLAS (numpy's matmul), called between the kernels' parallel
regions with BLAS held to ``n_threads``.

Exactness. L2 through ``|x|^2 + |y|^2 - 2 x.y`` loses digits to cancellation when two points
are close relative to their norms (in float32 the self-distance comes out as a small positive
or negative number). Here:

* :func:`pairwise_distances` recomputes every entry whose Gram-based squared distance is below
  a share ``rel`` of ``|x|^2 + |y|^2`` directly from the rows, in double (differences first,
  then squares: self-distances are exactly 0, and these entries carry only the rounding of a
  d-term double sum, relative error below ``d * 2**-53`` before the final rounding to the
  output dtype). ``rel`` depends on the dtype and on d (``_refine``) and is chosen from
  Higham's bound on the Gram product's rounding so that every other entry has a relative
  error of at most **1e-2 in float32** and **1e-10 in float64**: rel is 1e-2 (float32) and
  1e-4 (float64) for small d and grows with d (at d = 3,072: 1.1e-2 and 6.2e-3; at
  d = 100,000: 0.37 and 0.20). Those are worst-case guarantees, for any BLAS. Measured at
  d = 3,072 on pairs just above the threshold (OpenBLAS), the largest errors were 1.5e-5
  (150 ulp) in float32 and 5e-14 in float64 on random data, 4.6e-5 and 4.7e-13 on constant
  rows (whose products all round alike). So float32 distances are *not* accurate to the last
  digits of float32: use float64 inputs, or :func:`kneighbors`, when that matters.
* :func:`kneighbors` ranks candidates by the fast estimate, then recomputes the best
  ``2k + 8`` of each query exactly in double and sorts them by (distance, index). A rigorous
  bound on the estimate's rounding error proves that no row left out can reach the k-th
  distance; a query for which the proof fails (near-ties at the boundary) is redone by exact
  brute force. The answer is therefore the one a float64 computation gives, for float32 inputs
  too, with ties broken by the smaller training index.

Memory. :func:`kneighbors` never holds the query x train matrix: train rows are processed in
chunks and the blocks of estimates (one per thread) are bounded together by
``working_memory`` (MiB, default 32); beyond them it holds O(queries * k) candidate lists.
Inputs are not copied when they are already C-contiguous in the compute dtype.

Dask. :func:`kneighbors` also takes a training set given as a ``dask.array`` chunked by rows
(larger than one machine's memory, or already on a cluster): each chunk is searched by the same
kernels where it lives and the partial answers are merged exactly, so the NumPy results are
those of the NumPy call (see its Notes). dask is imported only when such an array is given.

NaN and Inf are rejected with a ``ValueError`` naming the array (distances to them are
meaningless for neighbour search); the check rides on the squared-norm pass that streams
with the train chunks, so it costs no extra pass over the data. L2 works with squared
distances in double: float64 values so large that a squared norm overflows (beyond ~1.3e154)
raise a ``ValueError`` ("values too large for squared distances"), and so does a squared
distance that overflows where it decides the answer (any entry of ``pairwise_distances``, the
k-th neighbour of ``kneighbors``); smaller squared distances are computed exactly even when
``|x|^2 + |y|^2`` overflows. L1 squares nothing and takes any finite values; an L1 distance
beyond the dtype's range is inf, ranked (as a float64 computation ranks it) after every finite
one, ties by the smaller index.

BLAS. The GEMMs pass dimensions as C ``int`` when they go to SciPy's BLAS (LP64, e.g.
``CS231N_FAST_BLAS=scipy``): a feature count, a train row count (``pairwise_distances``'s
leading dimension) or a block of query rows beyond 2**31 - 1 raises a ``ValueError`` before
any native code runs, whichever BLAS is selected.
"""

import sys

import numpy as np

from ._ext import distances as _k
from ._threads import blas_single_thread, effective_n_threads, work_threads
from ._validation import KNN_METRICS, check_k, check_metric, check_working_memory, pairwise_args

__all__ = ["pairwise_distances", "kneighbors", "METRICS", "DEFAULT_WORKING_MEMORY"]

METRICS = KNN_METRICS
#: Default bound, in MiB, on the distance block kneighbors holds at once.
DEFAULT_WORKING_MEMORY = 32
#: Train rows per chunk: enough for an efficient GEMM, few enough that the chunk (12 MiB at
#: 3,072 float32 features) is still in the last-level cache when the GEMM reads it after the
#: norm pass. Queries are split into blocks when the block would exceed working_memory.
_CHUNK_ROWS = 1024
#: Guaranteed bound on the relative error of an L2 distance of pairwise_distances, per dtype
#: (the module docstring states it; _refine picks the recompute threshold that meets it).
_L2_MAX_REL_ERROR = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-10}
#: Smallest recompute threshold (below it too few near-duplicates would be recomputed).
_REFINE_MIN = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-4}
#: Largest value a GEMM dimension or leading dimension may take (SciPy's BLAS takes C ints).
_INT_MAX = np.iinfo(np.int32).max

#: The L2 Gram matrix is split into at most this many fixed blocks of at least this many rows
#: of the larger operand, each one single-threaded BLAS call: the split depends on the shapes
#: only, so the result does not depend on the thread count.
_GRAM_BLOCKS = 8
_GRAM_BLOCK_ROWS = 512


def _norms(name, a, n_threads, squares=True):
    """Squared row norms in double (``squares``; for L1, zeros: only the check is wanted);
    ValueError naming ``name`` for NaN or Inf, or for a squared norm that overflows."""
    out = np.empty(a.shape[0], dtype=np.float64)
    _k.sq_norms(a, out, squares, min(work_threads(n_threads, a.size), a.shape[0]))
    if not np.isfinite(out).all():
        _raise_nonfinite(name, a, out)
    return out


def _raise_nonfinite(name, a, norms=None, squares=True, row_offset=0):
    if norms is None:
        norms = np.empty(a.shape[0], dtype=np.float64)
        _k.sq_norms(a, norms, squares, 1)
    row = int(np.flatnonzero(~np.isfinite(norms))[0])
    finite = np.isfinite(a[row]).all()
    row += row_offset
    if finite:  # only a squared norm can be non-finite for finite values
        raise ValueError(
            f"{name} has values too large for squared distances in float64 (row {row}'s "
            "squared norm overflows); rescale the data"
        )
    raise ValueError(f"{name} contains NaN or Inf (first in row {row}); kNN needs finite values")


def _raise_overflow(names, rows, X, Y):
    """ValueError for a squared distance that overflows float64 (its norms did not)."""
    i = int(rows[0])
    d2 = np.array([_sq_dist(X[i], y) for y in Y])
    j = int(np.flatnonzero(~np.isfinite(d2))[0])
    raise ValueError(
        f"{names[0]} and {names[1]} have values too large for squared distances in float64 (the "
        f"squared distance between {names[0]} row {i} and {names[1]} row {j} overflows); "
        "rescale the data"
    )


def _sq_dist(x, y):
    """The squared L2 distance of two rows in double, overflowing to inf (no warning)."""
    with np.errstate(over="ignore"):
        diff = x.astype(np.float64) - y
        return float(np.dot(diff, diff))


def _check_blas_dims(what, *dims):
    if max(dims) > _INT_MAX:
        raise ValueError(
            f"{what} has a matrix dimension ({max(dims)}) beyond the 2**31 - 1 that BLAS "
            "accepts; split the data"
        )


def _gamma(n, dtype):
    """Higham's gamma_n = n u / (1 - n u): bound on the relative error of an n-term sum."""
    u = np.finfo(dtype).eps / 2
    return n * u / (1 - n * u)


def _refine(d, dtype):
    """The share ``rel`` of ``|x|^2 + |y|^2`` below which pairwise L2 recomputes an entry.

    An entry kept from the Gram matrix has ``d2^ = fl(fl(xn + yn) - 2 g^)`` with
    ``|g^ - x.y| <= gamma_d(dtype) sum|x_k y_k| <= gamma_d(dtype) s / 2`` (any summation order,
    with or without FMA) and double norms good to ``gamma_{d+2}(double)``: ``|d2^ - d2| <= G s``
    with ``G = gamma_d(dtype) + 2 gamma_{d+2}(double)``. Kept entries have
    ``d2^ >= rel s``, so ``d2 >= (rel - G - 2u) s`` and the relative error of ``d2`` is at most
    ``G / (rel - G - 2u) + 2u``; the square root takes at most 0.6 of it (for errors <= 1/2),
    then itself and the cast to ``dtype`` round once each. ``rel`` is the smallest value (but
    not below ``_REFINE_MIN``) for which that total is ``_L2_MAX_REL_ERROR[dtype]``, plus 1%.
    """
    dtype = np.dtype(dtype)
    u = np.finfo(np.float64).eps / 2
    g = _gamma(d, dtype) + 2 * _gamma(d + 2, np.float64)
    room = (_L2_MAX_REL_ERROR[dtype] - u - np.finfo(dtype).eps / 2) / 0.6 - 2 * u
    return max(_REFINE_MIN[dtype], 1.01 * (g + 2 * u + g / room))


def _merge(part_d, part_i, best_d, best_i):
    """Merge per-thread candidate lists (nt, nq, kk) into the best kk by (estimate, index)."""
    nt, nq, kk = part_d.shape
    d = part_d.transpose(1, 0, 2).reshape(nq, nt * kk)
    i = part_i.transpose(1, 0, 2).reshape(nq, nt * kk)
    key = np.where(i < 0, np.iinfo(np.int64).max, i)  # empty slots after everything
    order = np.lexsort((key, d), axis=-1)[:, :kk]
    best_d[...] = np.take_along_axis(d, order, 1)
    best_i[...] = np.take_along_axis(i, order, 1)


def pairwise_distances(X, Y, metric="l2", *, n_threads=None):
    """Distances between every row of ``X`` and every row of ``Y``.

    Parameters
    ----------
    X : array_like of shape (n, d)
    Y : array_like of shape (m, d)
    metric : {"l2", "l1"}, default "l2"
        Euclidean or Manhattan distance.
    n_threads : int, optional
        Threads for the kernels and BLAS; default OpenMP's current maximum.

    Returns
    -------
    D : ndarray of shape (n, m)
        float32 when X and Y are both float32, float64 otherwise.

    Raises
    ------
    ValueError
        Not 2-D, empty, feature counts differ, NaN or Inf, unknown metric.
    TypeError
        Complex, boolean, object or string arrays.

    Notes
    -----
    L2: one BLAS GEMM, then a fused pass that forms ``sqrt(|x|^2 + |y|^2 - 2 x.y)`` and
    recomputes cancellation-prone entries directly from the rows (self-distance is exactly 0);
    every entry's relative error is at most 1e-2 (float32) or 1e-10 (float64), see the module
    docstring for the threshold and measured errors. The GEMM is cut into fixed blocks, one
    single-threaded BLAS call each, shared out between the threads. L1: a blocked kernel
    summing over 8 fixed lanes in the input dtype. Both are bitwise identical for any thread
    count.

    float64 values whose squared distances overflow raise ``ValueError`` (L2 only); an L1
    distance beyond the dtype's range is inf.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.knn import pairwise_distances
    >>> pairwise_distances(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0]]))
    array([[5.        ],
           [3.60555128]])
    >>> pairwise_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), "l1")
    array([[7.]])
    """
    metric = check_metric(metric)
    X, Y = pairwise_args(X, Y, metric, check_finite_values=False)
    nt = effective_n_threads(n_threads)
    gram = metric == "l2"
    xn, yn = _norms("X", X, nt, gram), _norms("Y", Y, nt, gram)
    nt = work_threads(nt, X.shape[0] * Y.shape[0] * X.shape[1])
    out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
    if not gram:
        _k.l1_distances(X, Y, out, nt)
        return out
    by_rows = X.shape[0] > Y.shape[0]
    nb = max(1, min(_GRAM_BLOCKS, max(X.shape[0], Y.shape[0]) // _GRAM_BLOCK_ROWS))
    # gemm(block of X rows or all of them, block of Y rows or all, d); Y's row count is also
    # the output's leading dimension.
    _check_blas_dims("pairwise_distances", X.shape[1], Y.shape[0], -(-X.shape[0] // nb) if by_rows else X.shape[0])
    with blas_single_thread():  # overflowed entries are redone exactly by l2_finalize
        _k.gram(X, Y, out, nb, by_rows, min(nt, nb))
    overflow = np.empty(X.shape[0], dtype=np.uint8)
    _k.l2_finalize(out, X, Y, xn, yn, _refine(X.shape[1], X.dtype), overflow, nt)
    if overflow.any():
        _raise_overflow(("X", "Y"), np.flatnonzero(overflow), X, Y)
    return out


def kneighbors(X_query, X_train, k, metric="l2", *, n_threads=None, working_memory=None):
    """The ``k`` nearest training rows of every query row, exactly, in bounded memory.

    Parameters
    ----------
    X_query : array_like of shape (n_queries, d)
    X_train : array_like or dask.array.Array of shape (n_train, d)
        A ``dask.array`` chunked by rows is searched where its chunks are (see Notes); the
        result is the NumPy call's, bit for bit.
    k : int
        1 <= k <= n_train.
    metric : {"l2", "l1"}, default "l2"
    n_threads : int, optional
        Threads for the kernels and BLAS; default OpenMP's current maximum.
    working_memory : float, optional
        Bound in MiB on the distance block held at once (default 32).

    Returns
    -------
    distances : ndarray of shape (n_queries, k)
        Ascending in each row; float32 when both inputs are float32, float64 otherwise.
    indices : ndarray of shape (n_queries, k), int64
        Rows of ``X_train``; equal distances are ordered by the smaller index.

    Raises
    ------
    ValueError
        Not 2-D, empty, feature counts differ, NaN or Inf, unknown metric, k out of range,
        non-positive working_memory.
    TypeError
        Unusable dtypes; non-int k.

    Notes
    -----
    One parallel region over blocks of queries: each thread streams every train chunk past its
    block, computes the chunk's norms (the NaN/Inf check), fills its private block of estimates
    with a GEMM on one BLAS thread (L2) or the L1 kernel, and merges it into its queries' best
    ``2k + 8`` estimates. BLAS and OpenMP therefore never take turns on the cores.
    The candidates are then ranked exactly in double, with a proof (or an exact fallback) that
    nothing outside them belongs to the answer; see the module docstring. Results do not depend
    on the thread count or the working memory.

    float64 L2: a k-th neighbour whose squared distance overflows raises ``ValueError`` (the
    order among overflowed distances is unknown); nearer answers are exact.

    A ``dask.array`` ``X_train`` (dask is imported only then): each row chunk's top-k runs
    as one task on the cluster of the current ``dask.distributed`` client (dask's default
    scheduler without one), with the query set a single shared input of the graph (sent to
    each worker once) and the kernels' and BLAS threads held to the task's share of its
    worker's threads; the partial lists are merged in a tree by exact double distance, then
    global row index, which is the order of the NumPy call. A task holds its chunk, the queries
    and ``working_memory``. ``n_threads`` given is used in every task.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.knn import kneighbors
    >>> train = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0], [0.0, 1.0]])
    >>> distances, indices = kneighbors(np.array([[0.1, 0.0]]), train, 3)
    >>> indices
    array([[0, 2, 3]])
    >>> distances.round(4)
    array([[0.1  , 0.9  , 1.005]])
    """
    if _is_dask_array(X_train) or _is_dask_array(X_query):
        from ._distributed import kneighbors_dask  # imports dask: only for dask inputs

        return kneighbors_dask(X_query, X_train, k, metric, n_threads=n_threads,
                               working_memory=working_memory)
    metric = check_metric(metric)
    Xq, Xt = pairwise_args(X_query, X_train, metric, "X_query", "X_train", check_finite_values=False)
    k = check_k(k, Xt.shape[0])
    wm = check_working_memory(working_memory, DEFAULT_WORKING_MEMORY)
    out_d, out_i, _ = _kneighbors(Xq, Xt, k, metric == "l2", effective_n_threads(n_threads), wm)
    return out_d, out_i


def _is_dask_array(a):
    """True for a ``dask.array.Array``; never imports dask (no dask.array loaded, no such array)."""
    mod = sys.modules.get("dask.array")
    return mod is not None and isinstance(a, mod.Array)


def _kneighbors(Xq, Xt, k, gram, nt, working_memory, row_offset=0, check_overflow=True):
    """The search on validated contiguous inputs of one dtype: ``(distances, indices, keys)``.

    ``keys`` (nq, k) are the exact double values (squared for L2) the answer is sorted by,
    with the indices; a search over row chunks merges partial answers on ``(keys, indices)``
    into exactly the answer over all rows. ``row_offset`` shifts the train row numbers in
    error messages (a chunk of a larger array); ``check_overflow=False`` leaves the float64
    overflow check of the k-th neighbour to the caller (a chunk's k-th is not the answer's).
    """
    nq, m, d = Xq.shape[0], Xt.shape[0], Xq.shape[1]
    wm_items = working_memory * (1 << 20) / Xq.itemsize
    xn = _norms("X_query", Xq, nt, gram)
    dtype = Xq.dtype
    kk = min(m, 2 * k + 8)
    chunk = int(max(1, min(m, _CHUNK_ROWS)))
    nt = min(work_threads(nt, nq * m * d), -(-m // chunk))
    # Each thread holds one block of qb queries x chunk train rows: nt * qb * chunk <= budget.
    chunk = int(max(1, min(chunk, wm_items // nt)))
    qb = int(max(1, min(nq, wm_items // (nt * chunk))))
    if gram:  # gemm(qb queries, chunk train rows, d), leading dimensions d and chunk
        _check_blas_dims("kneighbors", d, qb, chunk)

    best_d = np.empty((nq, kk))
    best_i = np.empty((nq, kk), dtype=np.int64)
    n_chunks = -(-m // chunk)
    bad = np.zeros(n_chunks, dtype=np.uint8)
    yn_max = np.zeros(n_chunks)
    blocks = np.empty((nt, qb * chunk), dtype)
    yns = np.empty((nt, chunk))
    for q0 in range(0, nq, qb):
        q1 = min(nq, q0 + qb)
        pd = np.full((nt, q1 - q0, kk), np.inf)
        pi = np.full((nt, q1 - q0, kk), -1, dtype=np.int64)
        with blas_single_thread():
            _k.search(Xq[q0:q1], Xt, xn[q0:q1], gram, chunk, pd, pi, blocks, yns, bad, yn_max, nt)
        if bad.any():
            _raise_nonfinite("X_train", Xt, squares=gram, row_offset=row_offset)
        _merge(pd, pi, best_d[q0:q1], best_i[q0:q1])

    # Rounding-error bounds of the estimates (see rerank's docstring).
    u = np.finfo(dtype).eps / 2
    slack = 8 * np.finfo(np.float64).eps  # the double arithmetic on top
    if gram:
        with np.errstate(over="ignore"):  # an infinite margin just sends the query to brute force
            margin = (_gamma(d, dtype) + 2 * u + slack) * (xn + yn_max.max())
        rel_margin = 1e-12
    else:
        margin = np.zeros(nq)
        rel_margin = 2 * _gamma(-(-d // 8) + 3, dtype) + 1e-12
    out_d = np.empty((nq, k), dtype=dtype)
    out_i = np.empty((nq, k), dtype=np.int64)
    failed = np.zeros(nq, dtype=np.uint8)
    keys = np.empty((nq, kk))
    _k.rerank(Xq, Xt, best_d, best_i, kk, gram, margin, rel_margin, keys,
              np.empty((nq, kk), dtype=np.int64), out_d, out_i, failed, work_threads(nt, nq * kk * d))
    keys = keys[:, :k]
    redo = np.flatnonzero(failed)
    if redo.size:
        xr = np.ascontiguousarray(Xq[redo])
        rd = np.empty((redo.size, k), dtype=dtype)
        ri = np.empty((redo.size, k), dtype=np.int64)
        rkeys = np.empty((redo.size, k))
        _k.exact_topk(xr, Xt, gram, rkeys, np.full((redo.size, k), -1, dtype=np.int64),
                      rd, ri, work_threads(nt, redo.size * m * d))
        out_d[redo], out_i[redo], keys[redo] = rd, ri, rkeys
    _stats["fallbacks"] = int(redo.size)
    if check_overflow and gram and dtype == np.float64 and np.isinf(out_d[:, -1]).any():
        # The k-th squared distance overflowed: the order among overflowed rows is unknown.
        _raise_overflow(("X_query", "X_train"), np.flatnonzero(np.isinf(out_d[:, -1])), Xq, Xt)
    return out_d, out_i, keys


#: Diagnostics of the last kneighbors call (queries redone by the exact fallback).
_stats = {"fallbacks": 0}
