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
The Winograd F(2x2, 3x3) kernels (``wino_forward``, ``wino_backward``; transforms in
conv_winograd.h) follow the same rules over fixed blocks of images.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.string cimport memcpy, memset

from blas cimport cs_set_gemm64, gemm


cdef void _im2col_plane(const floating* src, floating* dst, floating* pad,
                        Py_ssize_t h, Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw,
                        Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """Write the ``kh * kw`` rows (each ``oh * ow`` long) of one input plane ``src`` (h, w).

    With padding the plane is first copied into the interior of ``pad``, a thread-private
    (h + 2ph, w + 2pw) buffer whose border the caller zeroed once; then every row is a plain
    strided copy with no bounds logic in the inner loop.
    """
    cdef Py_ssize_t i, j, y, x, wp = w + 2 * pw
    cdef floating* row
    cdef const floating* s
    cdef const floating* base = src
    if ph or pw:
        for y in range(h):
            memcpy(pad + (y + ph) * wp + pw, src + y * w, w * sizeof(floating))
        base = pad
    for i in range(kh):
        for j in range(kw):
            row = dst + (i * kw + j) * oh * ow
            for y in range(oh):
                s = base + (y * sh + i) * wp + j
                if sw == 1:
                    for x in range(ow):
                        row[x] = s[x]
                else:
                    for x in range(ow):
                        row[x] = s[x * sw]
                row += ow


cdef void _col2im_plane(const floating* src, floating* dst, floating* pad,
                        Py_ssize_t h, Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw,
                        Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw,
                        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """Scatter-add the ``kh * kw`` rows of one channel into the plane ``dst`` (h, w).

    Sums run in the fixed order (i, j, y, x) into a zeroed padded buffer (``pad``, thread
    private, (h + 2ph, w + 2pw)) or, without padding, into ``dst`` itself; the interior is then
    copied out. The caller owns the whole plane.
    """
    cdef Py_ssize_t i, j, y, x, hp = h + 2 * ph, wp = w + 2 * pw
    cdef const floating* row = src
    cdef floating* d
    cdef floating* acc = pad if (ph or pw) else dst
    memset(acc, 0, hp * wp * sizeof(floating))
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                d = acc + (y * sh + i) * wp + j
                if sw == 1:
                    for x in range(ow):
                        d[x] += row[x]
                else:
                    for x in range(ow):
                        d[x * sw] += row[x]
                row += ow
    if ph or pw:
        for y in range(h):
            memcpy(dst + y * w, pad + (y + ph) * wp + pw, w * sizeof(floating))


def im2col(const floating[:, :, :, ::1] x,   # IN  (n, c, h, w)
           floating[:, :, ::1] cols,          # OUT (n, c * kh * kw, oh * ow)
           floating[:, ::1] pads,             # SCRATCH (n_threads, (h + 2ph) * (w + 2pw)), zeroed
           Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t oh, Py_ssize_t ow,
           int n_threads):
    """Fill ``cols`` from ``x``. Parallel over the n * c input planes (static)."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t t, ni, ci
    cdef floating* pb
    with nogil, parallel(num_threads=n_threads):
        pb = &pads[threadid(), 0]
        for t in prange(n * c, schedule="static"):
            ni = t // c
            ci = t % c
            _im2col_plane(&x[ni, ci, 0, 0], &cols[ni, ci * kh * kw, 0], pb,
                          h, w, kh, kw, sh, sw, ph, pw, oh, ow)


def col2im(const floating[:, :, ::1] cols,  # IN  (n, c * kh * kw, oh * ow)
           floating[:, :, :, ::1] dx,        # OUT (n, c, h, w), any contents
           floating[:, ::1] pads,            # SCRATCH (n_threads, (h + 2ph) * (w + 2pw))
           Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
           Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t oh, Py_ssize_t ow,
           int n_threads):
    """Scatter-add ``cols`` into ``dx``. Parallel over the n * c output planes (static):
    one thread owns each plane, so overlapping windows never race."""
    cdef Py_ssize_t n = dx.shape[0], c = dx.shape[1], h = dx.shape[2], w = dx.shape[3]
    cdef Py_ssize_t t, ni, ci
    cdef floating* pb
    with nogil, parallel(num_threads=n_threads):
        pb = &pads[threadid(), 0]
        for t in prange(n * c, schedule="static"):
            ni = t // c
            ci = t % c
            _col2im_plane(&cols[ni, ci * kh * kw, 0], &dx[ni, ci, 0, 0], pb,
                          h, w, kh, kw, sh, sw, ph, pw, oh, ow)


def conv_forward(const floating[:, :, :, ::1] x,  # IN  (n, c, h, w)
                 const floating[:, ::1] wb,        # IN  (f, c * kh * kw + 1): [w.reshape(f, -1) | b]
                 floating[:, :, :, ::1] out,       # OUT (n, f, oh, ow)
                 floating[:, :, ::1] scratch,      # SCRATCH (n_threads, c*kh*kw + 1, oh*ow), last row 1
                 floating[:, ::1] pads,            # SCRATCH (n_threads, (h+2ph) * (w+2pw)), zeroed
                 Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                 Py_ssize_t ph, Py_ssize_t pw, int n_threads):
    """``out[i] = [w | b] @ [im2col(x[i]); 1]`` for each image.

    The bias rides in the GEMM as an extra column of ``wb`` against a row of ones in the
    column buffer (set by the caller and never overwritten), so no separate bias pass.
    Parallel over images (static); each thread builds one image's columns in its own scratch
    slice while they are hot in cache and runs that image's GEMM on one BLAS thread, writing
    straight into ``out[i]`` (already NCHW: no transpose).
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t f = wb.shape[0], ke = wb.shape[1]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t p = oh * ow
    cdef Py_ssize_t ni, ci
    cdef floating* buf
    cdef floating* pb
    with nogil, parallel(num_threads=n_threads):
        buf = &scratch[threadid(), 0, 0]
        pb = &pads[threadid(), 0]
        for ni in prange(n, schedule="static"):
            for ci in range(c):
                _im2col_plane(&x[ni, ci, 0, 0], buf + ci * kh * kw * p, pb,
                              h, w, kh, kw, sh, sw, ph, pw, oh, ow)
            gemm(c"N", c"N", f, p, ke, 1, &wb[0, 0], ke, buf, p, 0, &out[ni, 0, 0, 0], p)


def conv_backward(const floating[:, :, :, ::1] x,     # IN  (n, c, h, w)
                  const floating[:, ::1] wt,           # IN  (f, c * kh * kw)
                  const floating[:, :, :, ::1] dout,   # IN  (n, f, oh, ow)
                  floating[:, :, :, ::1] dx,           # OUT (n, c, h, w)
                  floating[:, ::1] dw,                 # OUT (f, c * kh * kw)
                  floating[::1] db,                    # OUT (f,)
                  floating[:, :, ::1] dwb_part,        # SCRATCH (n_chunks, f, c * kh * kw + 1)
                  floating[:, :, ::1] cols_buf,        # SCRATCH (n_threads, c*kh*kw + 1, oh*ow), last row 1
                  floating[:, :, ::1] dcols_buf,       # SCRATCH (n_threads, c*kh*kw, oh*ow)
                  floating[:, :, ::1] pads,            # SCRATCH (n_threads, 2, (h+2ph)*(w+2pw)), zeroed
                  Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                  Py_ssize_t ph, Py_ssize_t pw, int n_threads, bint need_dx=True):
    """Gradients of ``conv_forward``.

    With ``need_dx`` false, ``dx`` and ``dcols_buf`` are not touched (the caller may pass
    1-element dummies) and the ``w^T @ dout`` GEMM and col2im are skipped; dw and db are
    computed by exactly the same operations, so they are bitwise those of the full path.

    Images are split into ``n_chunks = dwb_part.shape[0]`` consecutive chunks of equal size
    (the last may be shorter); chunks are distributed statically over threads. For each image
    a thread rebuilds its columns (cheaper than caching N * K * P values) and adds
    ``dout[i] @ [cols; 1]^T`` to its chunk's partial, whose last column is then db's share;
    it computes ``dcols = w^T @ dout[i]`` and scatters it into ``dx[i]``, which it owns. The
    partials are reduced in chunk order, one writer per element.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t f = wt.shape[0], kk = wt.shape[1], ke = kk + 1
    cdef Py_ssize_t oh = dout.shape[2], ow = dout.shape[3]
    cdef Py_ssize_t p = oh * ow
    cdef Py_ssize_t n_chunks = dwb_part.shape[0]
    cdef Py_ssize_t chunk = (n + n_chunks - 1) // n_chunks
    cdef Py_ssize_t ch, ni, ci, fi, e, stop
    cdef floating* cols
    cdef floating* dcols
    cdef floating* pin
    cdef floating* pout
    cdef floating* part
    cdef const floating* d
    cdef floating s
    with nogil:
        with parallel(num_threads=n_threads):
            cols = &cols_buf[threadid(), 0, 0]
            dcols = &dcols_buf[threadid(), 0, 0]
            pin = &pads[threadid(), 0, 0]  # im2col's: border stays zero
            pout = &pads[threadid(), 1, 0]  # col2im's accumulator
            for ch in prange(n_chunks, schedule="static"):
                part = &dwb_part[ch, 0, 0]
                stop = (ch + 1) * chunk
                if stop > n:
                    stop = n
                for ni in range(ch * chunk, stop):
                    d = &dout[ni, 0, 0, 0]
                    for ci in range(c):
                        _im2col_plane(&x[ni, ci, 0, 0], cols + ci * kh * kw * p, pin,
                                      h, w, kh, kw, sh, sw, ph, pw, oh, ow)
                    # beta = 0 for the chunk's first image: no separate zeroing pass.
                    gemm(c"N", c"T", f, ke, p, 1, d, p, cols, p,
                          0 if ni == ch * chunk else 1, part, ke)
                    if not need_dx:
                        continue
                    gemm(c"T", c"N", kk, p, f, 1, &wt[0, 0], kk, d, p, 0, dcols, p)
                    for ci in range(c):
                        _col2im_plane(dcols + ci * kh * kw * p, &dx[ni, ci, 0, 0], pout,
                                      h, w, kh, kw, sh, sw, ph, pw, oh, ow)
        for e in prange(f * ke, schedule="static", num_threads=n_threads):
            s = 0
            for ch in range(n_chunks):
                s = s + dwb_part[ch, e // ke, e % ke]
            if e % ke == kk:
                db[e // ke] = s
            else:
                dw[e // ke, e % ke] = s


def _use_gemm64(size_t sgemm64, size_t dgemm64):
    """Route this module's GEMMs to these ILP64 entry points (0, 0: scipy's BLAS)."""
    cs_set_gemm64(sgemm64, dgemm64)


# ---- Winograd F(2x2, 3x3) (transforms in conv_winograd.h) ---------------------------------

cdef extern from "conv_winograd.h" nogil:
    void cs_wino_input_f(const float* src, Py_ssize_t h, Py_ssize_t w, Py_ssize_t ph,
                         Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw, float* pad, float* v,
                         Py_ssize_t stride)
    void cs_wino_input_d(const double* src, Py_ssize_t h, Py_ssize_t w, Py_ssize_t ph,
                         Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw, double* pad, double* v,
                         Py_ssize_t stride)
    void cs_wino_output_f(const float* m, Py_ssize_t stride, float bias, Py_ssize_t th,
                          Py_ssize_t tw, float* dst, Py_ssize_t oh, Py_ssize_t ow, float* buf)
    void cs_wino_output_d(const double* m, Py_ssize_t stride, double bias, Py_ssize_t th,
                          Py_ssize_t tw, double* dst, Py_ssize_t oh, Py_ssize_t ow, double* buf)
    double cs_wino_plane_sum_f(const float* p, Py_ssize_t n)
    double cs_wino_plane_sum_d(const double* p, Py_ssize_t n)
    void cs_wino_filter(const double* g, double* u)
    void cs_wino_filter_grad(const double* d, double* dw)
    void cs_wino_dy_f(const float* src, Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t th,
                      Py_ssize_t tw, float* buf, float* m, Py_ssize_t stride)
    void cs_wino_dy_d(const double* src, Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t th,
                      Py_ssize_t tw, double* buf, double* m, Py_ssize_t stride)


cdef inline void _wino_input(const floating* src, Py_ssize_t h, Py_ssize_t w, Py_ssize_t ph,
                             Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw, floating* pad,
                             floating* v, Py_ssize_t stride) noexcept nogil:
    if floating is float:
        cs_wino_input_f(src, h, w, ph, pw, th, tw, pad, v, stride)
    else:
        cs_wino_input_d(src, h, w, ph, pw, th, tw, pad, v, stride)


cdef inline void _wino_output(const floating* m, Py_ssize_t stride, floating bias,
                              Py_ssize_t th, Py_ssize_t tw, floating* dst, Py_ssize_t oh,
                              Py_ssize_t ow, floating* buf) noexcept nogil:
    if floating is float:
        cs_wino_output_f(m, stride, bias, th, tw, dst, oh, ow, buf)
    else:
        cs_wino_output_d(m, stride, bias, th, tw, dst, oh, ow, buf)


cdef inline void _wino_dy(const floating* src, Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t th,
                          Py_ssize_t tw, floating* buf, floating* m,
                          Py_ssize_t stride) noexcept nogil:
    if floating is float:
        cs_wino_dy_f(src, oh, ow, th, tw, buf, m, stride)
    else:
        cs_wino_dy_d(src, oh, ow, th, tw, buf, m, stride)


# The 16 transformed planes of a block (rows xi of v and m) lie c * t + _WPAD (f * t + _WPAD)
# elements apart: c * t is often a multiple of 4 KiB, and 16 streams that far apart fall in
# one L1 set (and alias in the store buffer): the transforms ran 2-3x slower (measured on Zen
# 4, 16x16 and 32x32 planes). ops.conv sizes the buffers with wino_row_pad().
cdef enum:
    _WPAD = 16


def wino_row_pad():
    """Elements between consecutive transformed planes of a Winograd block, past their data."""
    return _WPAD


cdef inline double _plane_sum(const floating* p, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return cs_wino_plane_sum_f(p, n)
    else:
        return cs_wino_plane_sum_d(p, n)


cdef void _wino_filter_row(const floating* w, Py_ssize_t f, Py_ssize_t c, Py_ssize_t fi,
                           bint flip, floating* u) noexcept nogil:
    """Transforms of filter row ``fi`` of w (f, c, 3, 3): U of w[fi, ci] at u[xi, fi, ci]
    (u: 16 x f x c), or with ``flip`` the transform of w[fi, ci] rotated by 180 degrees at
    u[xi, ci, fi] (u: 16 x c x f: the filters of the input gradient)."""
    cdef double g[9]
    cdef double uu[16]
    cdef Py_ssize_t ci, k, xi
    cdef const floating* src
    for ci in range(c):
        src = w + (fi * c + ci) * 9
        for k in range(9):
            g[k] = src[8 - k] if flip else src[k]
        cs_wino_filter(g, uu)
        for xi in range(16):
            if flip:
                u[(xi * c + ci) * f + fi] = <floating>uu[xi]
            else:
                u[(xi * f + fi) * c + ci] = <floating>uu[xi]


def wino_filter(const floating[:, :, :, ::1] w,  # IN  (f, c, 3, 3)
                floating[:, :, ::1] u,            # OUT (16, f, c), or (16, c, f) with flip
                bint flip, int n_threads):
    """Winograd filter transforms U = G g G^T, computed in double and rounded once (with
    ``flip``: of the filters rotated by 180 degrees, channels transposed: the input
    gradient's). Parallel over filters; every element has one writer."""
    cdef Py_ssize_t f = w.shape[0], c = w.shape[1], fi
    with nogil:
        for fi in prange(f, schedule="static", num_threads=n_threads):
            _wino_filter_row(&w[0, 0, 0, 0], f, c, fi, flip, &u[0, 0, 0])


cdef void _wino_grad_row(const floating* part, Py_ssize_t n_chunks, Py_ssize_t f,
                         Py_ssize_t c, Py_ssize_t fi, floating* dw) noexcept nogil:
    """dw[fi] = G^T (sum of the chunks' partials, in order, in double) G."""
    cdef double d[16]
    cdef double o[9]
    cdef Py_ssize_t ci, ch, xi, k, plane = 16 * f * c
    for ci in range(c):
        for xi in range(16):
            d[xi] = part[(xi * f + fi) * c + ci]
        for ch in range(1, n_chunks):
            for xi in range(16):
                d[xi] += part[ch * plane + (xi * f + fi) * c + ci]
        cs_wino_filter_grad(d, o)
        for k in range(9):
            dw[(fi * c + ci) * 9 + k] = <floating>o[k]


def wino_grad_finish(const floating[:, :, :, ::1] du_part,  # IN  (n_chunks, 16, f, c)
                     const double[:, ::1] db_part,          # IN  (n_chunks, f)
                     floating[:, :, :, ::1] dw,             # OUT (f, c, 3, 3)
                     floating[::1] db,                      # OUT (f,)
                     int n_threads):
    """dw = G^T dU G and db from the chunks' partials of ``wino_backward``, each reduced
    over the chunks in order in double and rounded once. Parallel over filters."""
    cdef Py_ssize_t n_chunks = du_part.shape[0], f = du_part.shape[2], c = du_part.shape[3]
    cdef Py_ssize_t fi, ch
    cdef double s
    with nogil:
        for fi in prange(f, schedule="static", num_threads=n_threads):
            _wino_grad_row(&du_part[0, 0, 0, 0], n_chunks, f, c, fi, &dw[0, 0, 0, 0])
            s = db_part[0, fi]
            for ch in range(1, n_chunks):
                s = s + db_part[ch, fi]
            db[fi] = <floating>s


cdef void _wino_block(const floating* x, Py_ssize_t nimg, Py_ssize_t c, Py_ssize_t h,
                      Py_ssize_t w, const floating* u, Py_ssize_t f, const floating* bias,
                      floating* out, Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t ph,
                      Py_ssize_t pw, floating* v, floating* m, floating* pad,
                      floating* buf) noexcept nogil:
    """Winograd correlation of ``nimg`` consecutive images ``x`` (nimg, c, h, w) with the
    transformed filters ``u`` (16, f, c) into ``out`` (nimg, f, oh, ow) (+ ``bias`` unless NULL).

    ``v`` (16, c, t) and ``m`` (16, f, t) hold the block's t = nimg * th * tw tiles, image
    major, so each of the 16 products is one GEMM over all of the block's tiles."""
    cdef Py_ssize_t th = (oh + 1) // 2, tw = (ow + 1) // 2
    cdef Py_ssize_t nt = th * tw, t = nimg * nt
    cdef Py_ssize_t i, ci, fi, xi
    cdef floating bv
    for i in range(nimg):
        for ci in range(c):
            _wino_input(x + (i * c + ci) * h * w, h, w, ph, pw, th, tw, pad,
                        v + ci * t + i * nt, c * t + _WPAD)
    for xi in range(16):
        gemm(c"N", c"N", f, t, c, 1, u + xi * f * c, c, v + xi * (c * t + _WPAD), t, 0,
             m + xi * (f * t + _WPAD), t)
    for i in range(nimg):
        for fi in range(f):
            bv = 0 if bias == NULL else bias[fi]
            _wino_output(m + fi * t + i * nt, f * t + _WPAD, bv, th, tw,
                         out + (i * f + fi) * oh * ow, oh, ow, buf)


def wino_forward(const floating[:, :, :, ::1] x,  # IN  (n, c, h, w)
                 const floating[:, :, ::1] u,      # IN  (16, f, c): G g G^T
                 const floating[::1] b,            # IN  (f,), or (0,) for no bias
                 floating[:, :, :, ::1] out,       # OUT (n, f, oh, ow)
                 floating[:, ::1] vbuf,            # SCRATCH (n_threads, 16 * (c * t + row pad)), t = bimg * th * tw
                 floating[:, ::1] mbuf,            # SCRATCH (n_threads, 16 * (f * t + row pad))
                 floating[:, ::1] pbuf,            # SCRATCH (n_threads, 2 pad planes + slack)
                 Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t bimg, int n_threads):
    """3x3 stride-1 correlation by Winograd F(2x2, 3x3); ``oh = h + 2 ph - 2``.

    Parallel over blocks of ``bimg`` consecutive images (static; ``bimg`` is chosen from the
    problem size, never the thread count); each block's 16 GEMMs run on one BLAS thread and
    every output element is written once, so results are bitwise identical for any thread
    count. Also the input gradient: ``x`` = dout, ``u`` from the flipped transposed filters,
    padding 2 - pad, no bias.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t f = u.shape[1], oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t nblk = (n + bimg - 1) // bimg, blk, i0, nimg
    cdef const floating* bias = &b[0] if b.shape[0] > 0 else NULL
    cdef Py_ssize_t psz = pbuf.shape[1] // 2
    with nogil, parallel(num_threads=n_threads):
        for blk in prange(nblk, schedule="static"):
            i0 = blk * bimg
            nimg = bimg if i0 + bimg <= n else n - i0
            _wino_block(&x[i0, 0, 0, 0], nimg, c, h, w, &u[0, 0, 0], f, bias,
                        &out[i0, 0, 0, 0], oh, ow, ph, pw, &vbuf[threadid(), 0],
                        &mbuf[threadid(), 0], &pbuf[threadid(), 0], &pbuf[threadid(), psz])


def wino_backward(const floating[:, :, :, ::1] x,     # IN  (n, c, h, w)
                  const floating[:, :, ::1] ut,        # IN  (16, c, f): transform of flipped w^T
                  const floating[:, :, :, ::1] dout,   # IN  (n, f, oh, ow)
                  floating[:, :, :, ::1] dx,           # OUT (n, c, h, w) (unused without need_dx)
                  floating[:, :, :, ::1] du_part,      # OUT (n_chunks, 16, f, c)
                  double[:, ::1] db_part,              # OUT (n_chunks, f), zeroed by the caller
                  floating[:, ::1] vbuf,               # SCRATCH (nt, 16 * (c * t + row pad)), t = bimg * th * tw
                  floating[:, ::1] mbuf,               # SCRATCH (nt, 16 * (f * t + row pad))
                  floating[:, ::1] v2buf,              # SCRATCH (nt, 16 * (f * t2 + row pad)), t2 = bimg * th2 * tw2
                  floating[:, ::1] m2buf,              # SCRATCH (nt, 16 * (c * t2 + row pad))
                  floating[:, ::1] pbuf,               # SCRATCH (nt, 2 pad planes + slack)
                  Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t bimg, int n_threads,
                  bint need_dx):
    """Winograd gradients: ``du_part[chunk, xi] = sum over the chunk's tiles dM_xi V_xi^T``
    and ``db_part[chunk, fi]`` += the sums of the chunk's dout planes, image by image
    (``wino_grad_finish`` reduces both) and, with ``need_dx``, ``dx`` by the forward
    algorithm on dout with the flipped filters (padding 2 - pad).

    Images are split into ``n_chunks`` consecutive chunks of equal size (fixed by the
    problem); a chunk is processed in blocks of at most ``bimg`` images, whose tiles form
    one GEMM per xi accumulating into the chunk's partial in a fixed order. Chunks are
    distributed statically over threads; each writes only its partial and its images' dx.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t f = dout.shape[1], oh = dout.shape[2], ow = dout.shape[3]
    cdef Py_ssize_t th = (oh + 1) // 2, tw = (ow + 1) // 2, nt1 = th * tw
    cdef Py_ssize_t n_chunks = du_part.shape[0]
    cdef Py_ssize_t chunk = (n + n_chunks - 1) // n_chunks
    cdef Py_ssize_t ch, i0, stop, nimg, i, ci, fi, xi, t
    cdef Py_ssize_t psz = pbuf.shape[1] // 2
    cdef floating* v
    cdef floating* m
    cdef floating* pad
    cdef floating* part
    with nogil, parallel(num_threads=n_threads):
        v = &vbuf[threadid(), 0]
        m = &mbuf[threadid(), 0]
        pad = &pbuf[threadid(), 0]
        for ch in prange(n_chunks, schedule="static"):
            part = &du_part[ch, 0, 0, 0]
            stop = (ch + 1) * chunk
            if stop > n:
                stop = n
            i0 = ch * chunk
            while i0 < stop:
                nimg = bimg if i0 + bimg <= stop else stop - i0
                t = nimg * nt1
                for i in range(nimg):
                    for ci in range(c):
                        _wino_input(&x[i0 + i, ci, 0, 0], h, w, ph, pw, th, tw, pad,
                                    v + ci * t + i * nt1, c * t + _WPAD)
                    for fi in range(f):
                        _wino_dy(&dout[i0 + i, fi, 0, 0], oh, ow, th, tw, pad,
                                 m + fi * t + i * nt1, f * t + _WPAD)
                        db_part[ch, fi] += _plane_sum(&dout[i0 + i, fi, 0, 0], oh * ow)
                for xi in range(16):
                    gemm(c"N", c"T", f, c, t, 1, m + xi * (f * t + _WPAD), t,
                         v + xi * (c * t + _WPAD), t,
                         0 if i0 == ch * chunk else 1, part + xi * f * c, c)
                if need_dx:
                    _wino_block(&dout[i0, 0, 0, 0], nimg, f, oh, ow, &ut[0, 0, 0], c,
                                <const floating*>NULL, &dx[i0, 0, 0, 0], h, w, 2 - ph, 2 - pw,
                                &v2buf[threadid(), 0], &m2buf[threadid(), 0], pad, pad + psz)
                i0 = i0 + nimg


def conv_transpose_forward(const floating[:, :, :, ::1] x,  # IN  (n, ci, h, w)
                           const floating[:, ::1] wt,        # IN  (ci, co * kh * kw)
                           const floating[::1] b,            # IN  (co,)
                           floating[:, :, :, ::1] out,       # OUT (n, co, oh, ow), any contents
                           floating[:, :, ::1] cols_buf,     # SCRATCH (n_threads, co*kh*kw, h*w)
                           floating[:, ::1] pads,            # SCRATCH (n_threads, (oh+2ph)*(ow+2pw))
                           Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                           Py_ssize_t ph, Py_ssize_t pw, int n_threads):
    """Transposed convolution: ``out[i] = col2im(w^T @ x[i]) + b`` for each image.

    The adjoint of ``conv_forward`` (without bias) with filters ``w`` of shape (ci, co, kh,
    kw): the input gradient path of ``conv_backward`` with ``x`` in the role of ``dout``.
    ``out`` may have up to ``sh - 1`` (``sw - 1``) rows (columns) past the last window (the
    output padding); ``_col2im_plane`` zeroes the whole plane first, so they hold the bias.
    Parallel over images (static); each image's GEMM runs on one BLAS thread into the thread's
    column buffer and its planes are scattered by that thread alone, so results are bitwise
    identical for any thread count.
    """
    cdef Py_ssize_t n = x.shape[0], ci = x.shape[1], h = x.shape[2], w = x.shape[3]
    cdef Py_ssize_t kk = wt.shape[1], co = out.shape[1], oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t p = h * w, q = oh * ow
    cdef Py_ssize_t ni, c, e
    cdef floating bias
    cdef floating* cols
    cdef floating* pb
    cdef floating* o
    with nogil, parallel(num_threads=n_threads):
        cols = &cols_buf[threadid(), 0, 0]
        pb = &pads[threadid(), 0]
        for ni in prange(n, schedule="static"):
            gemm(c"T", c"N", kk, p, ci, 1, &wt[0, 0], kk, &x[ni, 0, 0, 0], p, 0, cols, p)
            for c in range(co):
                o = &out[ni, c, 0, 0]
                _col2im_plane(cols + c * kh * kw * p, o, pb, oh, ow, kh, kw, sh, sw, ph, pw, h, w)
                bias = b[c]
                for e in range(q):
                    o[e] = o[e] + bias
