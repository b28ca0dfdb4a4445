"""Exact k-nearest-neighbour search: pairwise L1/L2 distances and streaming top-k.

Both functions validate in Python, apply the dtype policy (all-float32 in -> float32 out,
otherwise float64), and then run the kernels of ``cs231n_fast._ext.distances`` with the GIL
released; L2 Gram blocks come from BLAS (numpy's matmul), called between the kernels' parallel
regions with BLAS held to ``n_threads``.

Exactness. L2 through ``|x|^2 + |y|^2 - 2 x.y`` loses digits to cancellation when two points
are close relative to their norms (in float32 the self-distance comes out as a small positive
or negative number). Here:

* :func:`pairwise_distances` recomputes every entry whose Gram-based squared distance is below
  ``1e-2`` (float32) or ``1e-6`` (float64) of ``|x|^2 + |y|^2`` exactly, from the rows, in
  double: self-distances are exactly 0, and every other entry is accurate to its dtype.
* :func:`kneighbors` ranks candidates by the fast estimate, then recomputes the best
  ``2k + 8`` of each query exactly in double and sorts them by (distance, index). A rigorous
  bound on the estimate's rounding error proves that no row left out can reach the k-th
  distance; a query for which the proof fails (near-ties at the boundary) is redone by exact
  brute force. The answer is therefore the one a float64 computation gives, for float32 inputs
  too, with ties broken by the smaller training index.

Memory. :func:`kneighbors` never holds the query x train matrix: train rows are processed in
chunks and the per-chunk block is bounded by ``working_memory`` (MiB, default 32), so the
extra memory is that block plus O((queries + train) * 8 bytes) for norms and candidate lists.
Inputs are not copied when they are already C-contiguous in the compute dtype.

NaN and Inf are rejected with a ``ValueError`` naming the array (distances to them are
meaningless for neighbour search); the check rides on the squared-norm pass, so it costs no
extra pass for L2.
"""

import numbers

import numpy as np

from ._ext import distances as _k
from ._threads import blas_threads, effective_n_threads, work_threads
from ._validation import as_array, as_contiguous, check_ndim, check_nonempty, positive_int, result_dtype

__all__ = ["pairwise_distances", "kneighbors", "METRICS", "DEFAULT_WORKING_MEMORY"]

METRICS = ("l2", "l1")
#: Default bound, in MiB, on the distance block kneighbors holds at once.
DEFAULT_WORKING_MEMORY = 32
#: Train rows per chunk (before the working-memory bound): large enough for an efficient GEMM,
#: small enough that the block stays in the last-level cache for typical query counts.
_CHUNK_ROWS = 8192
#: Entries of pairwise L2 whose squared distance is below this share of |x|^2 + |y|^2 are
#: recomputed exactly (cancellation territory).
_REFINE = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-6}


def _matrix(name, a):
    a = as_array(name, a)
    check_ndim(name, a, 2, "(n_samples, n_features)")
    check_nonempty(name, a, "(n_samples, n_features)")
    return a


def _pair_args(x_name, x, y_name, y, metric):
    if not isinstance(metric, str) or metric.lower() not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    x, y = _matrix(x_name, x), _matrix(y_name, y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of features; got {x_name} "
            f"{x.shape} and {y_name} {y.shape}"
        )
    dtype = result_dtype(x, y)
    return as_contiguous(x, dtype), as_contiguous(y, dtype), metric.lower()


def _norms(name, a, n_threads):
    """Squared row norms in double; ValueError naming ``name`` if a row holds NaN or Inf."""
    out = np.empty(a.shape[0], dtype=np.float64)
    _k.sq_norms(a, out, n_threads)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise ValueError(f"{name} contains NaN or Inf (first in row {bad[0]}); kNN needs finite values")
    return out


def _gamma(n, dtype):
    """Higham's gamma_n = n u / (1 - n u): bound on the relative error of an n-term sum."""
    u = np.finfo(dtype).eps / 2
    return n * u / (1 - n * u)


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
    recomputes cancellation-prone entries exactly (self-distance is exactly 0). L1: a blocked
    kernel summing over 8 fixed lanes, bitwise identical for any thread count. The L2 GEMM may
    round differently with BLAS's thread count.
    """
    X, Y, metric = _pair_args("X", X, "Y", Y, metric)
    nt = effective_n_threads(n_threads)
    xn, yn = _norms("X", X, nt), _norms("Y", Y, nt)
    nt = work_threads(nt, X.shape[0] * Y.shape[0] * X.shape[1])
    if metric == "l1":
        out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
        _k.l1_distances(X, Y, out, nt)
        return out
    with blas_threads(nt):
        out = X @ Y.T
    _k.l2_finalize(out, X, Y, xn, yn, _REFINE[X.dtype], nt)
    return out


def _working_memory(working_memory):
    if working_memory is None:
        return DEFAULT_WORKING_MEMORY
    if isinstance(working_memory, bool) or not isinstance(working_memory, numbers.Real) or not working_memory > 0:
        raise ValueError(f"working_memory must be a positive number of MiB; got {working_memory!r}")
    return float(working_memory)


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
    Train rows stream through in chunks: per chunk one BLAS GEMM (L2) or the L1 kernel
    fills a block, and a parallel pass merges it into each query's best ``2k + 8`` estimates.
    The candidates are then ranked exactly in double, with a proof (or an exact fallback) that
    nothing outside them belongs to the answer; see the module docstring. Results do not depend
    on the thread count or the working memory.
    """
    Xq, Xt, metric = _pair_args("X_query", X_query, "X_train", X_train, metric)
    k = positive_int("k", k)
    nq, m, d = Xq.shape[0], Xt.shape[0], Xq.shape[1]
    if k > m:
        raise ValueError(f"k must be <= the number of training rows ({m}); got {k}")
    wm_bytes = _working_memory(working_memory) * (1 << 20)
    nt = effective_n_threads(n_threads)
    xn, yn = _norms("X_query", Xq, nt), _norms("X_train", Xt, nt)
    dtype, item = Xq.dtype, Xq.dtype.itemsize
    chunk = min(m, _CHUNK_ROWS)
    qblock = int(min(nq, max(1, wm_bytes // (item * chunk))))
    if qblock == nq:  # all queries fit: grow the chunk up to the memory bound
        chunk = int(min(m, max(chunk, wm_bytes // (item * nq))))
    kk = min(m, 2 * k + 8)
    gram = metric == "l2"

    # Rounding-error bounds of the estimates (see rerank's docstring).
    u = np.finfo(dtype).eps / 2
    slack = 8 * np.finfo(np.float64).eps  # the double arithmetic on top
    if gram:
        margin_coef = _gamma(d, dtype) + 2 * u + slack
        rel_margin = 1e-12
    else:
        margin_coef = 0.0
        rel_margin = 2 * _gamma(-(-d // 8) + 3, dtype) + 1e-12
    yn_max = float(yn.max())

    out_d = np.empty((nq, k), dtype=dtype)
    out_i = np.empty((nq, k), dtype=np.int64)
    failed = np.zeros(nq, dtype=np.uint8)
    buf = np.empty(qblock * chunk, dtype=dtype)
    for q0 in range(0, nq, qblock):
        q1 = min(nq, q0 + qblock)
        b = q1 - q0
        xq, xnb = Xq[q0:q1], xn[q0:q1]
        best_d = np.full((b, kk), np.inf)
        best_i = np.full((b, kk), -1, dtype=np.int64)
        for j0 in range(0, m, chunk):
            j1 = min(m, j0 + chunk)
            block = buf[: b * (j1 - j0)].reshape(b, j1 - j0)
            nt_blk = work_threads(nt, b * (j1 - j0) * d)
            if gram:
                with blas_threads(nt_blk):
                    np.matmul(xq, Xt[j0:j1].T, out=block)
            else:
                _k.l1_distances(xq, Xt[j0:j1], block, nt_blk)
            _k.topk_update(block, xnb, yn[j0:j1], gram, j0, best_d, best_i, work_threads(nt, block.size))
        margin = margin_coef * (xnb + yn_max)
        _k.rerank(xq, Xt, best_d, best_i, kk, gram, margin, rel_margin,
                  np.empty((b, kk)), np.empty((b, kk), dtype=np.int64),
                  out_d[q0:q1], out_i[q0:q1], failed[q0:q1], work_threads(nt, b * kk * d))
    redo = np.flatnonzero(failed)
    if redo.size:
        xr = np.ascontiguousarray(Xq[redo])
        rd = np.empty((redo.size, k), dtype=dtype)
        ri = np.empty((redo.size, k), dtype=np.int64)
        _k.exact_topk(xr, Xt, gram, np.full((redo.size, k), np.inf), np.full((redo.size, k), -1, dtype=np.int64),
                      rd, ri, work_threads(nt, redo.size * m * d))
        out_d[redo], out_i[redo] = rd, ri
    _stats["fallbacks"] = int(redo.size)
    return out_d, out_i


#: Diagnostics of the last kneighbors call (queries redone by the exact fallback).
_stats = {"fallbacks": 0}
