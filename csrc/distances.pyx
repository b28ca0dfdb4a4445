"""Distance and top-k kernels for kNN (cs231n_fast._ext.distances).

Callers (``cs231n_fast.knn``) guarantee: C-contiguous 2-D arrays of one floating dtype with the
same number of columns ``d >= 1`` and at least one row, finite values, outputs and scratch
allocated with the documented shapes, ``n_threads >= 1``; candidate lists hold valid row
indices. Nothing here validates or raises.

Partitions (all ``schedule="static"``) give every output element exactly one writer, and every
sum runs in a fixed order (``knn_kernels.h``), so results are bitwise identical for any thread
count. The L2 Gram matrix comes from BLAS on one thread per fixed block (``gram``), so it too is
bitwise identical for any thread count.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.math cimport INFINITY, sqrt
from libc.stdint cimport int64_t, uint8_t

from blas cimport cs_set_gemm64, gemm


cdef extern from "knn_kernels.h" nogil:
    void cs_l1_4_f(const float* y, const float* x0, const float* x1, const float* x2,
                   const float* x3, Py_ssize_t d, float* out)
    void cs_l1_4_d(const double* y, const double* x0, const double* x1, const double* x2,
                   const double* x3, Py_ssize_t d, double* out)
    double cs_exact_f(const float* x, const float* y, Py_ssize_t d, int sq)
    double cs_exact_d(const double* x, const double* y, Py_ssize_t d, int sq)
    double cs_sqnorm_f(const float* x, Py_ssize_t d)
    double cs_sqnorm_d(const double* x, Py_ssize_t d)
    double cs_finite_f(const float* x, Py_ssize_t d)
    double cs_finite_d(const double* x, Py_ssize_t d)


cdef enum:
    # Train rows per L1 tile: 32 rows of 3,072 float32 (384 KiB) stay in a 512 KiB L2.
    TILE_ROWS = 32


cdef inline double _exact(const floating* x, const floating* y, Py_ssize_t d, int sq) noexcept nogil:
    if floating is float:
        return cs_exact_f(x, y, d, sq)
    else:
        return cs_exact_d(x, y, d, sq)


cdef inline void _insert(double* bd, int64_t* bi, Py_ssize_t kk, double v, int64_t j) noexcept nogil:
    """Insert (v, j) into the ascending list bd/bi of length kk if it beats the last entry.

    Empty slots (index -1) lose to anything, +inf included. Candidates arrive in increasing j,
    so an equal value already listed wins (smaller index).
    """
    cdef Py_ssize_t p = kk - 1
    if bi[p] != -1 and not v < bd[p]:
        return
    while p > 0 and (bi[p - 1] == -1 or v < bd[p - 1]):
        bd[p] = bd[p - 1]
        bi[p] = bi[p - 1]
        p -= 1
    bd[p] = v
    bi[p] = j


cdef inline double _trusted(double v) noexcept nogil:
    """An estimate that overflowed into NaN is unknown: rank it first, so it is either checked
    exactly as a candidate or, crowding the list, makes the query fail over to brute force."""
    return -INFINITY if v != v else v


cdef inline double _row_check(const floating* x, Py_ssize_t d, bint squares) noexcept nogil:
    """The squared norm of a row in double (``squares``), else 0 for a finite row; either way
    NaN or Inf in the row make the result non-finite (a squared norm may also overflow)."""
    if floating is float:
        return cs_sqnorm_f(x, d) if squares else cs_finite_f(x, d)
    else:
        return cs_sqnorm_d(x, d) if squares else cs_finite_d(x, d)


def sq_norms(const floating[:, ::1] x,  # IN  (n, d)
             double[::1] out,             # OUT (n,)
             bint squares,                # squared norms, else 0 per finite row (L1)
             int n_threads):
    """Squared row norms in double, or with ``squares`` false 0 for each finite row; a NaN or
    Inf in a row makes its entry non-finite."""
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            out[i] = _row_check(&x[i, 0], d, squares)


def l1_distances(const floating[:, ::1] x,  # IN  (nq, d)
                 const floating[:, ::1] y,  # IN  (m, d)
                 floating[:, ::1] out,      # OUT (nq, m)
                 int n_threads):
    """L1 distances, summed in the input type over 8 fixed lanes.

    Tiles of 4 query rows x TILE_ROWS train rows, ordered train-block-major so that a thread's
    consecutive tiles reuse the train block from its cache; one thread writes each tile.
    """
    cdef Py_ssize_t nq = x.shape[0], m = y.shape[0], d = x.shape[1]
    cdef Py_ssize_t n_qb = (nq + 3) // 4, n_yb = (m + TILE_ROWS - 1) // TILE_ROWS
    cdef Py_ssize_t t
    with nogil:
        for t in prange(n_qb * n_yb, schedule="static", num_threads=n_threads):
            _l1_tile(&x[0, 0], &y[0, 0], &out[0, 0], nq, m, d,
                     (t % n_qb) * 4, (t // n_qb) * TILE_ROWS)


cdef void _l1_tile(const floating* x, const floating* y, floating* out,
                   Py_ssize_t nq, Py_ssize_t m, Py_ssize_t d,
                   Py_ssize_t q0, Py_ssize_t j0) noexcept nogil:
    """One tile: rows q0..q0+3 of x against rows j0..j0+TILE_ROWS-1 of y (clipped)."""
    cdef const floating* xr[4]
    cdef floating res[4]
    cdef Py_ssize_t r, j, q, j1 = j0 + TILE_ROWS if j0 + TILE_ROWS < m else m
    for r in range(4):
        # Pad a short last query block with its first row; those results are dropped.
        xr[r] = x + (q0 + r if q0 + r < nq else q0) * d
    for j in range(j0, j1):
        if floating is float:
            cs_l1_4_f(y + j * d, xr[0], xr[1], xr[2], xr[3], d, res)
        else:
            cs_l1_4_d(y + j * d, xr[0], xr[1], xr[2], xr[3], d, res)
        for q in range(4):
            if q0 + q < nq:
                out[(q0 + q) * m + j] = res[q]


def gram(const floating[:, ::1] x,   # IN  (nq, d)
         const floating[:, ::1] y,   # IN  (m, d)
         floating[:, ::1] g,         # OUT (nq, m) x @ y.T
         Py_ssize_t nb, bint by_rows, int n_threads):
    """``g = x @ y.T`` as ``nb`` fixed blocks of g's rows (``by_rows``) or columns, one BLAS
    call on one thread per block.

    The blocks depend on the caller's ``nb`` only, never on ``n_threads``, so the result is
    bitwise identical for any thread count (a BLAS call's rounding may depend on its own
    thread count and on how a product is split, which is why the split is fixed). Callers
    hold BLAS to one thread.
    """
    cdef Py_ssize_t nq = x.shape[0], m = y.shape[0], d = x.shape[1], total = nq if by_rows else m
    cdef Py_ssize_t k, j0, j1
    with nogil:
        for k in prange(nb, schedule="static", num_threads=n_threads):
            j0 = k * total // nb
            j1 = (k + 1) * total // nb
            if j1 <= j0:
                continue
            if by_rows:
                gemm(c"N", c"T", j1 - j0, m, d, 1, &x[j0, 0], d, &y[0, 0], d, 0, &g[j0, 0], m)
            else:
                gemm(c"N", c"T", nq, j1 - j0, d, 1, &x[0, 0], d, &y[j0, 0], d, 0, &g[0, j0], m)


def l2_finalize(floating[:, ::1] g,             # IN x @ y.T (nq, m); OUT distances
                const floating[:, ::1] x,       # IN  (nq, d)
                const floating[:, ::1] y,       # IN  (m, d)
                const double[::1] xn,           # IN  (nq,) squared norms
                const double[::1] yn,           # IN  (m,) squared norms
                double rel,
                uint8_t[::1] overflow,          # OUT (nq,) 1: a squared distance of the row overflows
                int n_threads):
    """Turn a Gram matrix into L2 distances in place: ``sqrt(xn + yn - 2 g)``.

    Where ``xn + yn - 2 g < rel * (xn + yn)`` cancellation may have eaten the digits (a point
    and itself, near-duplicates), and where the Gram entry or ``xn + yn`` overflowed, the
    squared distance is recomputed directly from the rows in double (``_exact``); the caller
    picks ``rel`` so that the other entries meet its error bound (``knn._refine``). A squared
    distance that overflows even then (float64 inputs only) is flagged in ``overflow``. Rows
    of the output are partitioned over threads.
    """
    cdef Py_ssize_t nq = g.shape[0], m = g.shape[1], d = x.shape[1], i, j
    cdef double s, d2
    with nogil:
        for i in prange(nq, schedule="static", num_threads=n_threads):
            overflow[i] = 0
            for j in range(m):
                s = xn[i] + yn[j]
                d2 = s - 2.0 * <double>g[i, j]
                # "not d2 >= ..." also catches a Gram entry that overflowed (inf or NaN).
                if not (d2 >= rel * s) or d2 > 1.7976931348623157e308:
                    d2 = _exact(&x[i, 0], &y[j, 0], d, 1)
                    if d2 > 1.7976931348623157e308:
                        overflow[i] = 1
                g[i, j] = <floating>sqrt(d2)


def search(const floating[:, ::1] x,       # IN  (nq, d) queries
           const floating[:, ::1] y,       # IN  (m, d) train rows
           const double[::1] xn,           # IN  (nq,) squared query norms (gram only)
           bint gram,                      # L2 through a Gram block, else L1
           Py_ssize_t chunk,               # train rows per chunk
           double[:, :, ::1] best_d,       # OUT (n_threads, nq, kk) ascending estimates
           int64_t[:, :, ::1] best_i,      # OUT (n_threads, nq, kk) their indices, -1 = empty
           floating[:, ::1] blocks,        # SCRATCH (n_threads, nq * chunk)
           double[:, ::1] yns,             # SCRATCH (n_threads, chunk)
           uint8_t[::1] bad,               # OUT (n_chunks,) 1: NaN/Inf (or overflow) in the chunk
           double[::1] yn_max,             # OUT (n_chunks,) max squared norm in the chunk
           int n_threads):
    """Stream the train chunks past all queries; keep per-thread best-kk estimates per query.

    One parallel region, partitioned statically over train chunks: a thread computes its
    chunk's squared norms (which also catch NaN/Inf), the (nq, chunk) block of estimates (a
    GEMM on one BLAS thread for L2 — all queries at once, so packing the chunk is amortised
    over every query — or the L1 kernel) in its private scratch, and merges the block into
    its own candidate lists; the caller merges the threads' lists. For L1 the "norms" are
    the finiteness check alone (0 per finite row: L1 must not refuse values whose squares
    overflow). The caller holds BLAS to
    one thread, so the OpenMP and BLAS pools never take turns on the cores.
    """
    cdef Py_ssize_t nq = x.shape[0], m = y.shape[0], d = x.shape[1], kk = best_d.shape[2]
    cdef Py_ssize_t n_chunks = (m + chunk - 1) // chunk
    cdef Py_ssize_t c, j0, mc, i, j
    cdef floating* blk
    cdef double* ynb
    cdef double* bd
    cdef int64_t* bi
    cdef double v, s, mx
    with nogil, parallel(num_threads=n_threads):
        blk = &blocks[threadid(), 0]
        ynb = &yns[threadid(), 0]
        bd = &best_d[threadid(), 0, 0]
        bi = &best_i[threadid(), 0, 0]
        for c in prange(n_chunks, schedule="static"):
            j0 = c * chunk
            mc = chunk if j0 + chunk <= m else m - j0
            s = 0
            mx = 0
            for j in range(mc):
                ynb[j] = _row_check(&y[j0 + j, 0], d, gram)  # L1 squares nothing
                s = s + ynb[j] * 0.0  # NaN unless every norm is finite
                mx = ynb[j] if ynb[j] > mx else mx
            yn_max[c] = mx
            bad[c] = s != 0.0
            if s != 0.0:
                continue
            if gram:
                gemm(c"N", c"T", nq, mc, d, 1, &x[0, 0], d, &y[j0, 0], d, 0, blk, mc)
            else:
                for i in range((nq + 3) // 4):
                    for j in range((mc + TILE_ROWS - 1) // TILE_ROWS):
                        _l1_tile(&x[0, 0], &y[j0, 0], blk, nq, mc, d, 4 * i, j * TILE_ROWS)
            for i in range(nq):
                for j in range(mc):
                    if gram:
                        v = _trusted(xn[i] + ynb[j] - 2.0 * <double>blk[i * mc + j])
                    else:
                        v = _trusted(blk[i * mc + j])
                    _insert(bd + i * kk, bi + i * kk, kk, v, j0 + j)


def rerank(const floating[:, ::1] x,       # IN  (nq, d)
           const floating[:, ::1] y,       # IN  (m, d)
           const double[:, ::1] best_d,    # IN  (nq, kk) estimates, ascending
           const int64_t[:, ::1] best_i,   # IN  (nq, kk) candidate indices, none empty
           Py_ssize_t n_cand,              # candidates per query: min(kk, m)
           bint sq,                        # squared L2 (then output sqrt) or L1
           const double[::1] margin,       # IN  (nq,) bound on |estimate - exact| for query i
           double rel_margin,              # plus rel_margin * estimate (L1's relative bound)
           double[:, ::1] scratch_d,       # SCRATCH (nq, kk)
           int64_t[:, ::1] scratch_i,      # SCRATCH (nq, kk)
           floating[:, ::1] out_d,         # OUT (nq, k)
           int64_t[:, ::1] out_i,          # OUT (nq, k)
           uint8_t[::1] failed,            # OUT (nq,) 1 where the candidates may miss a neighbour
           int n_threads):
    """Exact distances of each query's candidates, sorted by (distance, index), first k kept.

    Every train row left out had an estimate >= the last candidate's, ``e_last``; its exact
    value is then >= ``e_last - margin - rel_margin * e_last``. If that lower bound is not
    strictly above the k-th exact distance, a left-out row might belong to the answer (or tie
    it) and the query is flagged for the exact fallback. Parallel over queries.
    """
    cdef Py_ssize_t nq = x.shape[0], d = x.shape[1], k = out_d.shape[1], i, c, p
    cdef double v, e_last, kth
    cdef int64_t j
    with nogil:
        for i in prange(nq, schedule="static", num_threads=n_threads):
            for c in range(n_cand):
                j = best_i[i, c]
                v = _exact(&x[i, 0], &y[j, 0], d, sq)
                # Insertion sort by (exact value, index).
                p = c
                while p > 0 and (v < scratch_d[i, p - 1] or
                                 (v == scratch_d[i, p - 1] and j < scratch_i[i, p - 1])):
                    scratch_d[i, p] = scratch_d[i, p - 1]
                    scratch_i[i, p] = scratch_i[i, p - 1]
                    p = p - 1
                scratch_d[i, p] = v
                scratch_i[i, p] = j
            for c in range(k):
                out_d[i, c] = <floating>(sqrt(scratch_d[i, c]) if sq else scratch_d[i, c])
                out_i[i, c] = scratch_i[i, c]
            failed[i] = 0
            if n_cand < y.shape[0]:
                e_last = best_d[i, n_cand - 1]
                kth = scratch_d[i, k - 1]
                # An infinite estimate (float32 Gram overflow) proves nothing either.
                if not (e_last - margin[i] - rel_margin * e_last > kth) or e_last == INFINITY:
                    failed[i] = 1


def exact_topk(const floating[:, ::1] x,   # IN  (nq, d)
               const floating[:, ::1] y,   # IN  (m, d)
               bint sq,
               double[:, ::1] best_d,      # SCRATCH (nq, k)
               int64_t[:, ::1] best_i,     # SCRATCH (nq, k), filled with -1 (empty) by the caller
               floating[:, ::1] out_d,     # OUT (nq, k)
               int64_t[:, ::1] out_i,      # OUT (nq, k)
               int n_threads):
    """Brute-force exact k nearest rows in double (the fallback). Parallel over queries."""
    cdef Py_ssize_t nq = x.shape[0], m = y.shape[0], d = x.shape[1], k = out_d.shape[1]
    cdef Py_ssize_t i, j, c
    with nogil:
        for i in prange(nq, schedule="static", num_threads=n_threads):
            for j in range(m):
                _insert(&best_d[i, 0], &best_i[i, 0], k, _exact(&x[i, 0], &y[j, 0], d, sq), j)
            for c in range(k):
                out_d[i, c] = <floating>(sqrt(best_d[i, c]) if sq else best_d[i, c])
                out_i[i, c] = best_i[i, c]


def _use_gemm64(size_t sgemm64, size_t dgemm64):
    """Route this module's GEMMs to these ILP64 entry points (0, 0: scipy's BLAS)."""
    cs_set_gemm64(sgemm64, dgemm64)
