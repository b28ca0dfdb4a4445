# cython: language_level=3
"""Affine (fully connected) kernels (cs231n_fast._ext.linear): forward with the bias (and an
optional ReLU) fused into the product's output pass, backward with an optional input gradient,
db in the same region, and the L2 term of the weights fused into dw's blocks.

Layout (row-major, the course's): x (N, D), w (D, M), b (M,), out (N, M). The temporal affine
layer is the same kernel on the (N * T, D) view of its input.

Work split. Forward: ``out`` in blocks of ``rb`` rows by ``cb`` columns, dealt statically to the
threads; each block is one single-threaded BLAS product ``x[rows] @ w[:, cols]`` followed, while
the block is in cache, by ``+ b`` (and ``max(., 0)``). Backward: first ``db`` (and, for the fused
ReLU, the masked gradient ``da``) by column blocks of ``cw`` columns, each column summed over the
rows in order; after the region's barrier, dw and dx by blocks of ``dk`` of the D input
features: ``dw[ks] = x[:, ks]^T @ da`` and ``dx[:, ks] = da @ w[ks]^T`` (one BLAS call each), and
when asked ``dw[ks] += reg * w[ks]`` with the block's sum of squares of ``w``, while ``dw[ks]``
(a contiguous range) is in cache.

Callers (``cs231n_fast.ops.linear``) guarantee: C-contiguous arrays of one floating dtype with
the documented shapes, no zero-size dimension, every product dimension < 2**31, block sizes
>= 1, ``1 <= n_threads`` and BLAS held to one thread for the whole call. Nothing here
validates, raises or touches Python objects inside ``nogil``.

Determinism. Every output element has exactly one writer and every sum a fixed order; the
blocks depend on the problem's shape only (the callers' ``_plan``), never on the thread count,
so results are bitwise identical for any ``n_threads`` and for the build without OpenMP. (They
may depend on the block shape through BLAS's own blocking, which is why it is fixed.)
"""

from cython cimport floating
from cython.parallel cimport parallel, prange

from blas cimport cs_set_gemm64, gemm


cdef extern from "linear_kernels.h" nogil:
    void cs_bias_act_f(float* out, Py_ssize_t ld, Py_ssize_t rows, Py_ssize_t cols,
                       const float* b, int relu)
    void cs_bias_act_d(double* out, Py_ssize_t ld, Py_ssize_t rows, Py_ssize_t cols,
                       const double* b, int relu)
    void cs_colsum_f(const float* dout, const float* act, float* da, Py_ssize_t ld,
                     Py_ssize_t rows, Py_ssize_t cols, float* db)
    void cs_colsum_d(const double* dout, const double* act, double* da, Py_ssize_t ld,
                     Py_ssize_t rows, Py_ssize_t cols, double* db)
    double cs_l2_f(float* out, const float* g, const float* w, Py_ssize_t n, float reg)
    double cs_l2_d(double* out, const double* g, const double* w, Py_ssize_t n, double reg)


cdef inline void _bias_act(floating* out, Py_ssize_t ld, Py_ssize_t rows, Py_ssize_t cols,
                           const floating* b, int relu) noexcept nogil:
    if floating is float:
        cs_bias_act_f(out, ld, rows, cols, b, relu)
    else:
        cs_bias_act_d(out, ld, rows, cols, b, relu)


cdef inline void _colsum(const floating* dout, const floating* act, floating* da, Py_ssize_t ld,
                         Py_ssize_t rows, Py_ssize_t cols, floating* db) noexcept nogil:
    if floating is float:
        cs_colsum_f(dout, act, da, ld, rows, cols, db)
    else:
        cs_colsum_d(dout, act, da, ld, rows, cols, db)


cdef inline double _l2(floating* out, const floating* g, const floating* w, Py_ssize_t n,
                       floating reg) noexcept nogil:
    if floating is float:
        return cs_l2_f(out, g, w, n, reg)
    else:
        return cs_l2_d(out, g, w, n, reg)


def affine_forward(const floating[:, ::1] x,   # IN  (n, d)
                   const floating[:, ::1] w,   # IN  (d, m)
                   const floating[::1] b,      # IN  (m,)
                   floating[:, ::1] out,       # OUT (n, m)
                   Py_ssize_t rb, Py_ssize_t cb, bint relu, int n_threads):
    """``out = x @ w + b`` (``max(., 0)`` of it when ``relu``), by ``rb`` x ``cb`` blocks."""
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], m = w.shape[1]
    cdef Py_ssize_t nbr = (n + rb - 1) // rb, nbc = (m + cb - 1) // cb
    cdef Py_ssize_t blk, r0, c0, rows, cols
    with nogil:
        for blk in prange(nbr * nbc, schedule="static", num_threads=n_threads):
            r0 = (blk // nbc) * rb
            c0 = (blk % nbc) * cb
            rows = min(rb, n - r0)
            cols = min(cb, m - c0)
            gemm(c"N", c"N", rows, cols, d, 1, &x[r0, 0], d, &w[0, c0], m, 0, &out[r0, c0], m)
            _bias_act(&out[r0, c0], m, rows, cols, &b[c0], relu)


def affine_backward(const floating[:, ::1] x,     # IN  (n, d)
                    const floating[:, ::1] w,     # IN  (d, m)
                    const floating[:, ::1] dout,  # IN  (n, m)
                    const floating[:, ::1] act,   # IN  (n, m) the fused ReLU's output, or (0, 0)
                    floating[:, ::1] da,          # SCRATCH (n, m) when act is given, else (0, 0)
                    floating[:, ::1] dx,          # OUT (n, d), or (0, 0): not computed
                    floating[:, ::1] dw,          # OUT (d, m)
                    floating[::1] db,             # OUT (m,)
                    double[::1] sq,               # OUT (ceil(d / dk),) when l2, else (0,)
                    double reg,
                    Py_ssize_t cw, Py_ssize_t dk, int n_threads):
    """Gradients of ``affine_forward``; see the module docstring for the partition.

    With ``act`` given the upstream gradient is first masked (``act > 0``) into ``da``.
    With ``sq`` non-empty, ``dw[ks] += reg * w[ks]`` and ``sq[k] = sum(w[ks] ** 2)``.
    """
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], m = w.shape[1]
    cdef Py_ssize_t nbc = (m + cw - 1) // cw, nbd = (d + dk - 1) // dk
    cdef bint relu = act.shape[0] > 0, need_dx = dx.shape[0] > 0, l2 = sq.shape[0] > 0
    cdef Py_ssize_t blk, c0, cols, k0, kk
    cdef const floating* g = &da[0, 0] if relu else &dout[0, 0]
    cdef floating r = <floating>reg
    with nogil, parallel(num_threads=n_threads):
        for blk in prange(nbc, schedule="static"):
            c0 = blk * cw
            cols = min(cw, m - c0)
            if relu:
                _colsum(&dout[0, c0], &act[0, c0], &da[0, c0], m, n, cols, &db[c0])
            else:
                _colsum(&dout[0, c0], <const floating*>0, <floating*>0, m, n, cols, &db[c0])
        # (the loop's implicit barrier: da is complete before the products read it)
        for blk in prange(nbd, schedule="static"):
            k0 = blk * dk
            kk = min(dk, d - k0)
            gemm(c"T", c"N", kk, m, n, 1, &x[0, k0], d, g, m, 0, &dw[k0, 0], m)
            if l2:
                sq[blk] = _l2(&dw[k0, 0], &dw[k0, 0], &w[k0, 0], kk * m, r)
            if need_dx:
                gemm(c"N", c"T", n, kk, m, 1, g, m, &w[k0, 0], m, 0, &dx[0, k0], d)


def l2_update(const floating[::1] g,   # IN  (n,) (may be out itself)
              const floating[::1] w,   # IN  (n,)
              floating[::1] out,       # OUT (n,): g + reg * w
              double[::1] sq,          # OUT (ceil(n / chunk),) sums of w ** 2 per chunk
              double reg, Py_ssize_t chunk, int n_threads):
    """``out = g + reg * w`` and the chunks' sums of squares of ``w``, one pass."""
    cdef Py_ssize_t n = w.shape[0], nb = (n + chunk - 1) // chunk, blk, i0
    cdef floating r = <floating>reg
    with nogil:
        for blk in prange(nb, schedule="static", num_threads=n_threads):
            i0 = blk * chunk
            sq[blk] = _l2(&out[i0], &g[i0], &w[i0], min(chunk, n - i0), r)


def _use_gemm64(size_t sgemm64, size_t dgemm64):
    """Route this module's GEMMs to these ILP64 entry points (0, 0: scipy's BLAS)."""
    cs_set_gemm64(sgemm64, dgemm64)
