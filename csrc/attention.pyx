# cython: language_level=3
"""Scaled dot-product attention kernels (cs231n_fast._ext.attention): forward and backward over
blocks of (batch, head), with an additive mask (the caller folds the boolean mask, the causal
mask and any bias into it, -inf where masked), attention dropout by a given keep mask, and the
softmax weights stored for the backward.

Layout: q (N, H, S, Dh), k (N, H, T, Dh), v (N, H, T, Dv), out (N, H, S, Dv) and the gradients
are 4-D with a contiguous last dimension and otherwise any positive strides (the leading
dimension of block (n, h)'s products is the array's row stride: an (N, S, H, Dh) array viewed
as (N, H, S, Dh), as multi-head attention splits its heads, is read and written in place).
The B = N * H blocks are numbered b = n * H + h; p is (B, S, T) C-contiguous. The additive mask
``add`` is (BA, S, T) with BA = bn * bh, bn in {1, N} and bh in {1, H} (broadcast over the batch
and/or heads): block b reads ``add[(n if bn > 1 else 0) * bh + (h if bh > 1 else 0)]``.

Work split. One block per iteration of a static ``prange`` over B; a block is computed entirely
by one thread, with single-threaded BLAS products (the caller holds BLAS to one thread):

- forward: ``p[b] = scale * q[b] @ k[b]^T`` (one GEMM, straight into the cache array), the
  masked stable softmax of its rows in place (attention_kernels.h), with dropout the kept,
  scaled weights ``pd = (p * keep) * d`` in the thread's scratch, and ``out[b] = pd @ v[b]``;
- backward: ``dp = dout[b] @ v[b]^T`` in scratch, ``dv[b] = pd^T @ dout[b]`` (pd = p without
  dropout, else rebuilt in scratch), ``ds = p * (dp * keep * d - rowsum(...))`` in place
  (attention_kernels.h), ``dq[b] = scale * ds @ k[b]`` and ``dk[b] = scale * ds^T @ q[b]``.

Scratch is per thread (``threadid()``): rows of the scratch array, each starting on a 64-byte
boundary so every thread's buffers are aligned alike.

Callers (``cs231n_fast.ops.attention``) guarantee: arrays of one floating dtype with these
shapes, aligned, a contiguous last dimension and row strides >= the row length (> 0), no zero-size dimension, every product dimension < 2**31, scratch rows of at
least S * T (forward) or 2 * S * T (backward) elements, ``1 <= n_threads <= scratch.shape[0]``
and BLAS held to one thread. Nothing here validates, raises or touches Python objects in nogil.

Determinism. Every output element has exactly one writer (its block's thread) and every sum a
fixed order; the partition depends on B only, so results are bitwise identical for any
``n_threads`` and for the build without OpenMP.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.stdint cimport uint8_t

from blas cimport cs_set_gemm64, gemm


cdef extern from "attention_kernels.h" nogil:
    void cs_attn_softmax_f(float* s, const float* add, Py_ssize_t rows, Py_ssize_t c)
    void cs_attn_softmax_d(double* s, const double* add, Py_ssize_t rows, Py_ssize_t c)
    void cs_attn_dropout_f(const float* p, const uint8_t* keep, float d, float* out, Py_ssize_t n)
    void cs_attn_dropout_d(const double* p, const uint8_t* keep, double d, double* out, Py_ssize_t n)
    void cs_attn_softmax_bwd_f(const float* p, float* dp, const uint8_t* keep, float d,
                               Py_ssize_t rows, Py_ssize_t c)
    void cs_attn_softmax_bwd_d(const double* p, double* dp, const uint8_t* keep, double d,
                               Py_ssize_t rows, Py_ssize_t c)


cdef inline void _softmax(floating* s, const floating* add, Py_ssize_t rows,
                          Py_ssize_t c) noexcept nogil:
    if floating is float:
        cs_attn_softmax_f(s, add, rows, c)
    else:
        cs_attn_softmax_d(s, add, rows, c)


cdef inline void _dropout(const floating* p, const uint8_t* keep, floating d, floating* out,
                          Py_ssize_t n) noexcept nogil:
    if floating is float:
        cs_attn_dropout_f(p, keep, d, out, n)
    else:
        cs_attn_dropout_d(p, keep, d, out, n)


cdef inline void _softmax_bwd(const floating* p, floating* dp, const uint8_t* keep, floating d,
                              Py_ssize_t rows, Py_ssize_t c) noexcept nogil:
    if floating is float:
        cs_attn_softmax_bwd_f(p, dp, keep, d, rows, c)
    else:
        cs_attn_softmax_bwd_d(p, dp, keep, d, rows, c)


cdef inline Py_ssize_t _add_block(Py_ssize_t b, Py_ssize_t heads, Py_ssize_t bn,
                                  Py_ssize_t bh) noexcept nogil:
    return (b // heads if bn > 1 else 0) * bh + (b % heads if bh > 1 else 0)


def sdpa_forward(const floating[:, :, :, :] q,     # IN  (N, H, S, Dh), rows strided
                 const floating[:, :, :, :] k,     # IN  (N, H, T, Dh), rows strided
                 const floating[:, :, :, :] v,     # IN  (N, H, T, Dv), rows strided
                 const floating[:, :, ::1] add,      # IN  (bn * bh, S, T), or (0, 0, 0): none
                 const uint8_t[:, :, ::1] keep,      # IN  (N * H, S, T) keep mask, or (0, 0, 0)
                 floating[:, :, ::1] p,              # OUT (N * H, S, T) softmax weights
                 floating[:, :, :, :] out,         # OUT (N, H, S, Dv), rows strided
                 floating[:, ::1] scratch,           # SCRATCH (>= n_threads, >= S * T) with dropout
                 Py_ssize_t bn, Py_ssize_t bh,
                 double scale, double drop_scale, int n_threads):
    """``p = softmax(scale * q @ k^T + add)``, ``out = ((p * keep) * drop_scale) @ v`` per block.

    The 4-D arrays may have any (positive) strides but the last (the caller guarantees a
    contiguous last dimension; the memoryviews are typed fully strided because Cython's
    ``[:, :, :, ::1]`` demands a C-contiguous array): block (n, h) is the matrix at
    ``&a[n, h, 0, 0]`` with rows ``a.strides[2]`` apart (the leading dimension of its GEMMs), so
    the heads of an (N, S, H, Dh) array viewed as (N, H, S, Dh) are read in place.
    """
    cdef Py_ssize_t heads = q.shape[1], nb = q.shape[0] * q.shape[1]
    cdef Py_ssize_t s = q.shape[2], dh = q.shape[3], t = k.shape[2], dv = v.shape[3]
    cdef Py_ssize_t lq = q.strides[2] // sizeof(floating), lk = k.strides[2] // sizeof(floating)
    cdef Py_ssize_t lv = v.strides[2] // sizeof(floating), lo = out.strides[2] // sizeof(floating)
    cdef bint masked = add.shape[0] > 0, dropout = keep.shape[0] > 0
    cdef floating sc = <floating>scale, ds = <floating>drop_scale
    cdef Py_ssize_t b, n, h
    cdef floating* pd
    cdef const floating* a
    with nogil, parallel(num_threads=n_threads):
        pd = &scratch[threadid(), 0] if dropout else <floating*>0
        for b in prange(nb, schedule="static"):
            n = b // heads
            h = b % heads
            gemm(c"N", c"T", s, t, dh, sc, &q[n, h, 0, 0], lq, &k[n, h, 0, 0], lk, 0, &p[b, 0, 0], t)
            a = &add[_add_block(b, heads, bn, bh), 0, 0] if masked else <const floating*>0
            _softmax(&p[b, 0, 0], a, s, t)
            if dropout:
                _dropout(&p[b, 0, 0], &keep[b, 0, 0], ds, pd, s * t)
                gemm(c"N", c"N", s, dv, t, 1, pd, t, &v[n, h, 0, 0], lv, 0, &out[n, h, 0, 0], lo)
            else:
                gemm(c"N", c"N", s, dv, t, 1, &p[b, 0, 0], t, &v[n, h, 0, 0], lv, 0, &out[n, h, 0, 0], lo)


def sdpa_backward(const floating[:, :, :, :] q,     # IN  (N, H, S, Dh), rows strided
                  const floating[:, :, :, :] k,     # IN  (N, H, T, Dh), rows strided
                  const floating[:, :, :, :] v,     # IN  (N, H, T, Dv), rows strided
                  const floating[:, :, ::1] p,        # IN  (N * H, S, T) the forward's weights
                  const uint8_t[:, :, ::1] keep,      # IN  (N * H, S, T) keep mask, or (0, 0, 0)
                  const floating[:, :, :, :] dout,  # IN  (N, H, S, Dv), rows strided
                  floating[:, :, :, :] dq,          # OUT (N, H, S, Dh), rows strided
                  floating[:, :, :, :] dk,          # OUT (N, H, T, Dh), rows strided
                  floating[:, :, :, :] dvo,         # OUT (N, H, T, Dv), rows strided
                  floating[:, ::1] scratch,           # SCRATCH (>= n_threads, 2 * ld)
                  Py_ssize_t ld,                      # scratch offset of the second buffer (>= S * T)
                  double scale, double drop_scale, int n_threads):
    """Gradients of ``sdpa_forward``; see the module docstring for the partition (strides as
    ``sdpa_forward``'s)."""
    cdef Py_ssize_t heads = q.shape[1], nb = q.shape[0] * q.shape[1]
    cdef Py_ssize_t s = q.shape[2], dh = q.shape[3], t = k.shape[2], dv = v.shape[3]
    cdef Py_ssize_t lq = q.strides[2] // sizeof(floating), lk = k.strides[2] // sizeof(floating)
    cdef Py_ssize_t lv = v.strides[2] // sizeof(floating), lg = dout.strides[2] // sizeof(floating)
    cdef Py_ssize_t ldq = dq.strides[2] // sizeof(floating), ldk = dk.strides[2] // sizeof(floating)
    cdef Py_ssize_t ldv = dvo.strides[2] // sizeof(floating)
    cdef bint dropout = keep.shape[0] > 0
    cdef floating sc = <floating>scale, ds = <floating>drop_scale
    cdef Py_ssize_t b, n, h
    cdef floating* g
    cdef floating* pd
    with nogil, parallel(num_threads=n_threads):
        g = &scratch[threadid(), 0]
        pd = g + ld
        for b in prange(nb, schedule="static"):
            n = b // heads
            h = b % heads
            gemm(c"N", c"T", s, t, dv, 1, &dout[n, h, 0, 0], lg, &v[n, h, 0, 0], lv, 0, g, t)
            if dropout:
                _dropout(&p[b, 0, 0], &keep[b, 0, 0], ds, pd, s * t)
                gemm(c"T", c"N", t, dv, s, 1, pd, t, &dout[n, h, 0, 0], lg, 0, &dvo[n, h, 0, 0], ldv)
                _softmax_bwd(&p[b, 0, 0], g, &keep[b, 0, 0], ds, s, t)
            else:
                gemm(c"T", c"N", t, dv, s, 1, &p[b, 0, 0], t, &dout[n, h, 0, 0], lg, 0, &dvo[n, h, 0, 0], ldv)
                _softmax_bwd(&p[b, 0, 0], g, <const uint8_t*>0, ds, s, t)
            gemm(c"N", c"N", s, dh, t, sc, g, t, &k[n, h, 0, 0], lk, 0, &dq[n, h, 0, 0], ldq)
            gemm(c"T", c"N", t, dh, s, sc, g, t, &q[n, h, 0, 0], lq, 0, &dk[n, h, 0, 0], ldk)


def _use_gemm64(size_t sgemm64, size_t dgemm64):
    """Route this module's GEMMs to these ILP64 entry points (0, 0: scipy's BLAS)."""
    cs_set_gemm64(sgemm64, dgemm64)
