"""Convolution kernels (cs231n_fast._ext.conv): im2col, col2im and fused conv forward/backward.

Layout. For one image the column matrix is ``cols[k, p]`` of shape (K, P) with
``K = c * kh * kw`` rows ordered (channel, filter row, filter col) and ``P = oh * ow`` columns
ordered (output row, output col). Standalone im2col/col2im use (N, K, P).

Callers (``cs231n_fast.ops.conv``) guarantee: C-contiguous arrays of one floating dtype, no
zero-size dimension, geometry already validated (stride >= 1, pad >= 0, window <= padded
input, every GEMM dimension < 2**31), outputs and scratch allocated with the documented shapes,
``1 <= n_threads``, and BLAS limited to one thread for the duration of the call. Nothing here
validates, raises or touches Python objects inside ``nogil``.

Determinism. Every output element has exactly one writer and every sum runs in a fixed order,
so results are bitwise identical for any thread count and for the build without OpenMP:
im2col/col2im are partitioned over (n, c) planes; the fused conv kernels over images, each
image's GEMMs run on one BLAS thread; dw and db are summed per fixed chunk of images (the
chunking depends on the problem, not on the thread count) and the chunks reduced in order.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline void _gemm(char transa, char transb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                       floating alpha, const floating* a, Py_ssize_t lda,
                       const floating* b, Py_ssize_t ldb,
                       floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    """Row-major ``C(m, n) = alpha * op(A) @ op(B) + beta * C`` through column-major BLAS.

    A row-major matrix is its column-major transpose, so compute ``C^T = op(B)^T op(A)^T``.
    """
    cdef int mm = <int>n, nn = <int>m, kk = <int>k
    cdef int la = <int>lda, lb = <int>ldb, lc = <int>ldc
    if floating is float:
        sgemm(&transb, &transa, &mm, &nn, &kk, &alpha, <float*>b, &lb, <float*>a, &la,
              &beta, c, &lc)
    else:
        dgemm(&transb, &transa, &mm, &nn, &kk, &alpha, <double*>b, &lb, <double*>a, &la,
              &beta, c, &lc)


cdef inline void _valid_range(Py_ssize_t j, Py_ssize_t pw, Py_ssize_t sw, Py_ssize_t w,
                              Py_ssize_t ow, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Output columns ``[lo, hi)`` whose input column ``x * sw - pw + j`` lies in ``[0, w)``."""
    cdef Py_ssize_t a, b
    a = 0 if pw - j <= 0 else (pw - j + sw - 1) // sw
    b = 0 if w - 1 + pw - j < 0 else (w - 1 + pw - j) // sw + 1
    if b > ow:
        b = ow
    if a > b:
        a = b
    lo[0] = a
    hi[0] = b


cdef void _im2col_plane(const floating* src, floating* dst,
                        Py_ssize_t h, Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw,
                        Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """Write the ``kh * kw`` rows (each ``oh * ow`` long) of one input plane ``src`` (h, w)."""
    cdef Py_ssize_t i, j, y, x, iy, lo, hi
    cdef floating* row
    cdef const floating* s
    for i in range(kh):
        for j in range(kw):
            _valid_range(j, pw, sw, w, ow, &lo, &hi)
            for y in range(oh):
                row = dst + ((i * kw + j) * oh + y) * ow
                iy = y * sh - ph + i
                if iy < 0 or iy >= h:
                    memset(row, 0, ow * sizeof(floating))
                    continue
                s = src + iy * w + j - pw  # s[x * sw] is valid for lo <= x < hi
                for x in range(lo):
                    row[x] = 0
                if sw == 1:
                    memcpy(row + lo, s + lo, (hi - lo) * sizeof(floating))
                else:
                    for x in range(lo, hi):
                        row[x] = s[x * sw]
                for x in range(hi, ow):
                    row[x] = 0


cdef void _col2im_plane(const floating* src, floating* dst,
                        Py_ssize_t h, Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw,
                        Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """Scatter-add the ``kh * kw`` rows of one channel into the zeroed plane ``dst`` (h, w).

    Sums run in the fixed order (i, j, y, x); the caller owns the whole plane.
    """
    cdef Py_ssize_t i, j, y, x, iy, lo, hi
    cdef const floating* row
    cdef floating* d
    for i in range(kh):
        for j in range(kw):
            _valid_range(j, pw, sw, w, ow, &lo, &hi)
            for y in range(oh):
                iy = y * sh - ph + i
                if iy < 0 or iy >= h:
                    continue
                row = src + ((i * kw + j) * oh + y) * ow
                d = dst + iy * w + j - pw  # d[x * sw] is valid for lo <= x < hi
                if sw == 1:
                    for x in range(lo, hi):
                        d[x] += row[x]
                else:
                    for x in range(lo, hi):
                        d[x * sw] += row[x]


def im2col(const floating[:, :, :, ::1] x,   # IN  (n, c, h, w)
           floating[:, :, ::1] cols,          # OUT (n, c * kh * kw, oh * ow)
           Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t oh, Py_ssize_t ow,
           int n_threads):
    """Fill ``cols`` from ``x``. Parallel over the n * c input planes (static)."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t t, ni, ci
    with nogil:
        for t in prange(n * c, schedule="static", num_threads=n_threads):
            ni = t // c
            ci = t % c
            _im2col_plane(&x[ni, ci, 0, 0], &cols[ni, ci * kh * kw, 0],
                          h, w, kh, kw, sh, sw, ph, pw, oh, ow)


def col2im(const floating[:, :, ::1] cols,  # IN  (n, c * kh * kw, oh * ow)
           floating[:, :, :, ::1] dx,        # OUT (n, c, h, w), any contents (zeroed here)
           Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t oh, Py_ssize_t ow,
           int n_threads):
    """Scatter-add ``cols`` into ``dx``. Parallel over the n * c output planes (static):
    one thread owns each plane, so overlapping windows never race."""
    cdef Py_ssize_t n = dx.shape[0], c = dx.shape[1], h = dx.shape[2], w = dx.shape[3]
    cdef Py_ssize_t t, ni, ci
    with nogil:
        for t in prange(n * c, schedule="static", num_threads=n_threads):
            ni = t // c
            ci = t % c
            memset(&dx[ni, ci, 0, 0], 0, h * w * sizeof(floating))
            _col2im_plane(&cols[ni, ci * kh * kw, 0], &dx[ni, ci, 0, 0],
                          h, w, kh, kw, sh, sw, ph, pw, oh, ow)


def conv_forward(const floating[:, :, :, ::1] x,  # IN  (n, c, h, w)
                 const floating[:, :, :, ::1] wt,  # IN  (f, c, kh, kw)
                 const floating[::1] b,            # IN  (f,)
                 floating[:, :, :, ::1] out,       # OUT (n, f, oh, ow)
                 floating[:, :, ::1] scratch,      # SCRATCH (n_threads, c * kh * kw, oh * ow)
                 Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                 int n_threads):
    """``out[i] = w @ im2col(x[i]) + b`` for each image.

    Parallel over images (static); each thread builds one image's columns in its own scratch
    slice while they are hot in cache and runs that image's GEMM on one BLAS thread, writing
    straight into ``out[i]`` (already NCHW: no transpose).
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t f = wt.shape[0], kh = wt.shape[2], kw = wt.shape[3]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t kk = c * kh * kw, p = oh * ow
    cdef Py_ssize_t ni, ci, fi, q
    cdef floating* buf
    cdef floating* o
    cdef floating bias
    with nogil, parallel(num_threads=n_threads):
        buf = &scratch[threadid(), 0, 0]
        for ni in prange(n, schedule="static"):
            for ci in range(c):
                _im2col_plane(&x[ni, ci, 0, 0], buf + ci * kh * kw * p,
                              h, w, kh, kw, sh, sw, ph, pw, oh, ow)
            o = &out[ni, 0, 0, 0]
            for fi in range(f):
                bias = b[fi]
                for q in range(p):
                    o[fi * p + q] = bias
            _gemm(c"N", c"N", f, p, kk, 1, &wt[0, 0, 0, 0], kk, buf, p, 1, o, p)


def conv_backward(const floating[:, :, :, ::1] x,     # IN  (n, c, h, w)
                  const floating[:, :, :, ::1] wt,     # IN  (f, c, kh, kw)
                  const floating[:, :, :, ::1] dout,   # IN  (n, f, oh, ow)
                  floating[:, :, :, ::1] dx,           # OUT (n, c, h, w)
                  floating[:, ::1] dw,                 # OUT (f, c * kh * kw)
                  floating[::1] db,                    # OUT (f,)
                  floating[:, :, ::1] dw_part,         # SCRATCH (n_chunks, f, c * kh * kw)
                  floating[:, ::1] db_part,            # SCRATCH (n_chunks, f)
                  floating[:, :, :, ::1] scratch,      # SCRATCH (n_threads, 2, c*kh*kw, oh*ow)
                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                  int n_threads):
    """Gradients of ``conv_forward``.

    Images are split into ``n_chunks = dw_part.shape[0]`` consecutive chunks of equal size
    (the last may be shorter or empty); chunks are distributed statically over threads. For
    each image a thread rebuilds its columns (cheaper than caching N * K * P values), adds
    ``dout[i] @ cols^T`` to its chunk's dw partial and ``dout[i]`` row sums to the db partial,
    computes ``dcols = w^T @ dout[i]`` and scatters it into ``dx[i]``, which it owns. The
    partials are then reduced in chunk order, one writer per element.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t f = wt.shape[0], kh = wt.shape[2], kw = wt.shape[3]
    cdef Py_ssize_t oh = dout.shape[2], ow = dout.shape[3]
    cdef Py_ssize_t kk = c * kh * kw, p = oh * ow
    cdef Py_ssize_t n_chunks = dw_part.shape[0]
    cdef Py_ssize_t chunk = (n + n_chunks - 1) // n_chunks
    cdef Py_ssize_t ch, ni, ci, fi, q, e, stop
    cdef floating* cols
    cdef floating* dcols
    cdef floating* dwp
    cdef floating* dbp
    cdef const floating* d
    cdef floating s
    with nogil:
        with parallel(num_threads=n_threads):
            cols = &scratch[threadid(), 0, 0, 0]
            dcols = &scratch[threadid(), 1, 0, 0]
            for ch in prange(n_chunks, schedule="static"):
                dwp = &dw_part[ch, 0, 0]
                dbp = &db_part[ch, 0]
                memset(dwp, 0, f * kk * sizeof(floating))
                memset(dbp, 0, f * sizeof(floating))
                stop = (ch + 1) * chunk
                if stop > n:
                    stop = n
                for ni in range(ch * chunk, stop):
                    d = &dout[ni, 0, 0, 0]
                    for ci in range(c):
                        _im2col_plane(&x[ni, ci, 0, 0], cols + ci * kh * kw * p,
                                      h, w, kh, kw, sh, sw, ph, pw, oh, ow)
                    _gemm(c"N", c"T", f, kk, p, 1, d, p, cols, p, 1, dwp, kk)
                    for fi in range(f):
                        s = 0
                        for q in range(p):
                            s = s + d[fi * p + q]
                        dbp[fi] = dbp[fi] + s
                    _gemm(c"T", c"N", kk, p, f, 1, &wt[0, 0, 0, 0], kk, d, p, 0, dcols, p)
                    memset(&dx[ni, 0, 0, 0], 0, c * h * w * sizeof(floating))
                    for ci in range(c):
                        _col2im_plane(dcols + ci * kh * kw * p, &dx[ni, ci, 0, 0],
                                      h, w, kh, kw, sh, sw, ph, pw, oh, ow)
        for e in prange(f * kk, schedule="static", num_threads=n_threads):
            s = 0
            for ch in range(n_chunks):
                s = s + dw_part[ch, e // kk, e % kk]
            dw[e // kk, e % kk] = s
        for fi in range(f):
            s = 0
            for ch in range(n_chunks):
                s = s + db_part[ch, fi]
            db[fi] = s
