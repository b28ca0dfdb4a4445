# cython: language_level=3
"""Scaled dot-product attention kernels (cs231n_fast._ext.attention): forward and backward over
blocks of (batch, head), with an additive mask (the caller folds the boolean mask, the causal
mask and any bias into it, -inf where masked), attention dropout by a given keep mask, and the
softmax weights stored for the backward.

Layout (row-major, C-contiguous): the caller flattens (N, H) into B = N * H blocks: q (B, S, Dh),
k (B, T, Dh), v (B, T, Dv), p (B, S, T), out (B, S, Dv). The additive mask ``add`` is (BA, S, T)
with BA = bn * bh, bn in {1, N} and bh in {1, H} (broadcast over the batch and/or heads): block
b = n * H + h reads ``add[(n if bn > 1 else 0) * bh + (h if bh > 1 else 0)]``.

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

Callers (``cs231n_fast.ops.attention``) guarantee: C-contiguous arrays of one floating dtype
with these shapes, no zero-size dimension, every product dimension < 2**31, scratch rows of at
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


def sdpa_forward(const floating[:, :, ::1] q,     # IN  (B, S, Dh)
                 const floating[:, :, ::1] k,     # IN  (B, T, Dh)
                 const floating[:, :, ::1] v,     # IN  (B, T, Dv)
                 const floating[:, :, ::1] add,   # IN  (bn * bh, S, T), or (0, 0, 0): none
                 const uint8_t[:, :, ::1] keep,   # IN  (B, S, T) dropout keep mask, or (0, 0, 0)
                 floating[:, :, ::1] p,           # OUT (B, S, T) softmax weights
                 floating[:, :, ::1] out,         # OUT (B, S, Dv)
                 floating[:, ::1] scratch,        # SCRATCH (>= n_threads, >= S * T) with dropout
                 Py_ssize_t heads, Py_ssize_t bn, Py_ssize_t bh,
                 double scale, double drop_scale, int n_threads):
    """``p = softmax(scale * q @ k^T + add)``, ``out = ((p * keep) * drop_scale) @ v`` per block."""
    cdef Py_ssize_t nb = q.shape[0], s = q.shape[1], dh = q.shape[2]
    cdef Py_ssize_t t = k.shape[1], dv = v.shape[2]
    cdef bint masked = add.shape[0] > 0, dropout = keep.shape[0] > 0
    cdef floating sc = <floating>scale, ds = <floating>drop_scale
    cdef Py_ssize_t b
    cdef floating* pd
    cdef const floating* a
    with nogil, parallel(num_threads=n_threads):
        pd = &scratch[threadid(), 0] if dropout else <floating*>0
        for b in prange(nb, schedule="static"):
            gemm(c"N", c"T", s, t, dh, sc, &q[b, 0, 0], dh, &k[b, 0, 0], dh, 0, &p[b, 0, 0], t)
            a = &add[_add_block(b, heads, bn, bh), 0, 0] if masked else <const floating*>0
            _softmax(&p[b, 0, 0], a, s, t)
            if dropout:
                _dropout(&p[b, 0, 0], &keep[b, 0, 0], ds, pd, s * t)
                gemm(c"N", c"N", s, dv, t, 1, pd, t, &v[b, 0, 0], dv, 0, &out[b, 0, 0], dv)
            else:
                gemm(c"N", c"N", s, dv, t, 1, &p[b, 0, 0], t, &v[b, 0, 0], dv, 0, &out[b, 0, 0], dv)


def sdpa_backward(const floating[:, :, ::1] q,     # IN  (B, S, Dh)
                  const floating[:, :, ::1] k,     # IN  (B, T, Dh)
                  const floating[:, :, ::1] v,     # IN  (B, T, Dv)
                  const floating[:, :, ::1] p,     # IN  (B, S, T) the forward's softmax weights
                  const uint8_t[:, :, ::1] keep,   # IN  (B, S, T) dropout keep mask, or (0, 0, 0)
                  const floating[:, :, ::1] dout,  # IN  (B, S, Dv)
                  floating[:, :, ::1] dq,          # OUT (B, S, Dh)
                  floating[:, :, ::1] dk,          # OUT (B, T, Dh)
                  floating[:, :, ::1] dvo,         # OUT (B, T, Dv)
                  floating[:, ::1] scratch,        # SCRATCH (>= n_threads, 2 * ld)
                  Py_ssize_t ld,                   # scratch offset of the second buffer (>= S * T)
                  double scale, double drop_scale, int n_threads):
    """Gradients of ``sdpa_forward``; see the module docstring for the partition."""
    cdef Py_ssize_t nb = q.shape[0], s = q.shape[1], dh = q.shape[2]
    cdef Py_ssize_t t = k.shape[1], dv = v.shape[2]
    cdef bint dropout = keep.shape[0] > 0
    cdef floating sc = <floating>scale, ds = <floating>drop_scale
    cdef Py_ssize_t b
    cdef floating* g
    cdef floating* pd
    with nogil, parallel(num_threads=n_threads):
        g = &scratch[threadid(), 0]
        pd = g + ld
        for b in prange(nb, schedule="static"):
            gemm(c"N", c"T", s, t, dv, 1, &dout[b, 0, 0], dv, &v[b, 0, 0], dv, 0, g, t)
            if dropout:
                _dropout(&p[b, 0, 0], &keep[b, 0, 0], ds, pd, s * t)
                gemm(c"T", c"N", t, dv, s, 1, pd, t, &dout[b, 0, 0], dv, 0, &dvo[b, 0, 0], dv)
                _softmax_bwd(&p[b, 0, 0], g, &keep[b, 0, 0], ds, s, t)
            else:
                gemm(c"T", c"N", t, dv, s, 1, &p[b, 0, 0], t, &dout[b, 0, 0], dv, 0, &dvo[b, 0, 0], dv)
                _softmax_bwd(&p[b, 0, 0], g, <const uint8_t*>0, ds, s, t)
            gemm(c"N", c"N", s, dh, t, sc, g, t, &k[b, 0, 0], dh, 0, &dq[b, 0, 0], dh)
            gemm(c"T", c"N", t, dh, s, sc, g, t, &q[b, 0, 0], dh, 0, &dk[b, 0, 0], dh)


def _use_gemm64(size_t sgemm64, size_t dgemm64):
    """Route this module's GEMMs to these ILP64 entry points (0, 0: scipy's BLAS)."""
    cs_set_gemm64(sgemm64, dgemm64)
