"""Exact k-nearest-neighbour search: pairwise L1/L2 distances and streaming top-k.

Both functions validate in Python, apply the dtype policy (all-float32 in -> float32 out,
otherwise float64), and then run the kernels of ``cs231n_fast._ext.distances`` with the GIL
released; L2 Gram blocks come from BLAS (numpy's matmul), called between the kernels' parallel
regions with BLAS held to ``n_threads``.

Exactness. L2 through ``|x|^2 + |y|^2 - 2 x.y`` loses digits to cancellation when two points
are close relative to their norms (in float32 the self-distance comes out as a small positive
or negative number). Here:

* :func:`pairwise_distances` recomputes every entry whose Gram-based squared distance is below
  ``1e-2`` (float32) or ``1e-4`` (float64) of ``|x|^2 + |y|^2`` exactly, from the rows, in
  double: self-distances are exactly 0, and every other entry is accurate to its dtype.
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

NaN and Inf are rejected with a ``ValueError`` naming the array (distances to them are
meaningless for neighbour search); the check rides on the squared-norm pass that streams
with the train chunks, so it costs no extra pass over the data.
"""

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
#: Entries of pairwise L2 whose squared distance is below this share of |x|^2 + |y|^2 are
#: recomputed exactly (cancellation territory).
_REFINE = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-4}

#: The L2 Gram matrix is split into at most this many fixed blocks of at least this many rows
#: of the larger operand, each one single-threaded BLAS call: the split depends on the shapes
#: only, so the result does not depend on the thread count.
_GRAM_BLOCKS = 8
_GRAM_BLOCK_ROWS = 512


def _norms(name, a, n_threads):
    """Squared row norms in double; ValueError naming ``name`` for NaN or Inf (or overflow)."""
    out = np.empty(a.shape[0], dtype=np.float64)
    _k.sq_norms(a, out, n_threads)
    if not np.isfinite(out).all():
        _raise_nonfinite(name, a, out)
    return out


def _raise_nonfinite(name, a, norms=None):
    if norms is None:
        norms = np.empty(a.shape[0], dtype=np.float64)
        _k.sq_norms(a, norms, 1)
    row = int(np.flatnonzero(~np.isfinite(norms))[0])
    if np.isfinite(a[row]).all():
        raise ValueError(
            f"{name} has values too large for squared distances in float64 (row {row}'s "
            "squared norm overflows); rescale the data"
        )
    raise ValueError(f"{name} contains NaN or Inf (first in row {row}); kNN needs finite values")


def _gamma(n, dtype):
    """Higham's gamma_n = n u / (1 - n u): bound on the relative error of an n-term sum."""
    u = np.finfo(dtype).eps / 2
    return n * u / (1 - n * u)


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
    recomputes cancellation-prone entries exactly (self-distance is exactly 0); the GEMM is cut
    into fixed blocks, one single-threaded BLAS call each, shared out between the threads. L1: a
    blocked kernel summing over 8 fixed lanes. Both are bitwise identical for any thread count.
    """
    metric = check_metric(metric)
    X, Y = pairwise_args(X, Y, metric, check_finite_values=False)
    nt = effective_n_threads(n_threads)
    xn, yn = _norms("X", X, nt), _norms("Y", Y, nt)
    nt = work_threads(nt, X.shape[0] * Y.shape[0] * X.shape[1])
    if metric == "l1":
        out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
        _k.l1_distances(X, Y, out, nt)
        return out
    out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
    by_rows = X.shape[0] > Y.shape[0]
    nb = max(1, min(_GRAM_BLOCKS, max(X.shape[0], Y.shape[0]) // _GRAM_BLOCK_ROWS))
    with blas_single_thread():  # overflowed entries are redone exactly by l2_finalize
        _k.gram(X, Y, out, nb, by_rows, min(nt, nb))
    _k.l2_finalize(out, X, Y, xn, yn, _REFINE[X.dtype], nt)
    return out


def kneighbors(X_query, X_train, k, metric="l2", *, n_threads=None, working_memory=None):
    """The ``k`` nearest training rows of every query row, exactly, in bounded memory.

    Parameters
    ----------
    X_query : array_like of shape (n_queries, d)
    X_train : array_like of shape (n_train, d)
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
    """
    metric = check_metric(metric)
    Xq, Xt = pairwise_args(X_query, X_train, metric, "X_query", "X_train", check_finite_values=False)
    nq, m, d = Xq.shape[0], Xt.shape[0], Xq.shape[1]
    k = check_k(k, m)
    wm_items = check_working_memory(working_memory, DEFAULT_WORKING_MEMORY) * (1 << 20) / Xq.itemsize
    nt = effective_n_threads(n_threads)
    xn = _norms("X_query", Xq, nt)
    dtype = Xq.dtype
    kk = min(m, 2 * k + 8)
    gram = metric == "l2"
    chunk = int(max(1, min(m, _CHUNK_ROWS)))
    nt = min(work_threads(nt, nq * m * d), -(-m // chunk))
    # Each thread holds one block of qb queries x chunk train rows: nt * qb * chunk <= budget.
    chunk = int(max(1, min(chunk, wm_items // nt)))
    qb = int(max(1, min(nq, wm_items // (nt * chunk))))

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
            _raise_nonfinite("X_train", Xt)
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
    _k.rerank(Xq, Xt, best_d, best_i, kk, gram, margin, rel_margin, np.empty((nq, kk)),
              np.empty((nq, kk), dtype=np.int64), out_d, out_i, failed, work_threads(nt, nq * kk * d))
    redo = np.flatnonzero(failed)
    if redo.size:
        xr = np.ascontiguousarray(Xq[redo])
        rd = np.empty((redo.size, k), dtype=dtype)
        ri = np.empty((redo.size, k), dtype=np.int64)
        _k.exact_topk(xr, Xt, gram, np.empty((redo.size, k)), np.full((redo.size, k), -1, dtype=np.int64),
                      rd, ri, work_threads(nt, redo.size * m * d))
        out_d[redo], out_i[redo] = rd, ri
    _stats["fallbacks"] = int(redo.size)
    return out_d, out_i


#: Diagnostics of the last kneighbors call (queries redone by the exact fallback).
_stats = {"fallbacks": 0}
