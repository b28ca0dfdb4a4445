"""Max-pooling kernels (cs231n_fast._ext.pool).

Callers (``cs231n_fast.ops.pool``) guarantee: C-contiguous arrays of one floating dtype, no
zero-size dimension, ``1 <= kh <= h``, ``1 <= kw <= w``, strides >= 1, ``oh``/``ow`` from
``(h - kh) // sh + 1``, planes of fewer than 2**31 elements (argmax is int32), outputs
allocated with the documented shapes, ``n_threads >= 1``.

Both kernels are partitioned statically over the n * c planes: one thread owns each output
plane, so overlapping windows never race and results are bitwise identical for any thread
count and for the build without OpenMP.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t
from libc.string cimport memset


cdef void _max_plane(const floating* src, floating* out, int32_t* arg,
                     Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw,
                     Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """Max and first argmax (row-major) of every window of one plane; NaN wins and propagates."""
    cdef Py_ssize_t y, x, i, j, base, idx, best_idx
    cdef floating best, v
    for y in range(oh):
        for x in range(ow):
            base = y * sh * w + x * sw
            best = src[base]
            best_idx = base
            for i in range(kh):
                for j in range(kw):
                    idx = base + i * w + j
                    v = src[idx]
                    # "v > best" keeps the first maximum; the second clause takes the first NaN
                    # (NaN compares false with everything, so it would otherwise be skipped).
                    if v > best or (v != v and best == best):
                        best = v
                        best_idx = idx
            out[y * ow + x] = best
            arg[y * ow + x] = <int32_t>best_idx


cdef void _max_plane_2x2s2(const floating* src, floating* out, int32_t* arg,
                           Py_ssize_t w, Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """The common 2x2 stride-2 window unrolled; same tie and NaN rules as ``_max_plane``."""
    cdef Py_ssize_t y, x, base, best_idx
    cdef floating best, v
    for y in range(oh):
        for x in range(ow):
            base = 2 * y * w + 2 * x
            best = src[base]
            best_idx = base
            v = src[base + 1]
            if v > best or (v != v and best == best):
                best = v
                best_idx = base + 1
            v = src[base + w]
            if v > best or (v != v and best == best):
                best = v
                best_idx = base + w
            v = src[base + w + 1]
            if v > best or (v != v and best == best):
                best = v
                best_idx = base + w + 1
            out[y * ow + x] = best
            arg[y * ow + x] = <int32_t>best_idx


def maxpool_forward(const floating[:, :, :, ::1] x,   # IN  (n, c, h, w)
                    floating[:, :, :, ::1] out,        # OUT (n, c, oh, ow)
                    int32_t[:, :, :, ::1] argmax,      # OUT (n, c, oh, ow), flat index in plane
                    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                    int n_threads):
    """Max over each window and the flat in-plane index of its first maximum."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], w = x.shape[3]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t t, ni, ci
    cdef bint fast2 = kh == 2 and kw == 2 and sh == 2 and sw == 2
    with nogil:
        for t in prange(n * c, schedule="static", num_threads=n_threads):
            ni = t // c
            ci = t % c
            if fast2:
                _max_plane_2x2s2(&x[ni, ci, 0, 0], &out[ni, ci, 0, 0], &argmax[ni, ci, 0, 0],
                                 w, oh, ow)
            else:
                _max_plane(&x[ni, ci, 0, 0], &out[ni, ci, 0, 0], &argmax[ni, ci, 0, 0],
                           w, kh, kw, sh, sw, oh, ow)


def maxpool_backward(const floating[:, :, :, ::1] dout,    # IN  (n, c, oh, ow)
                     const int32_t[:, :, :, ::1] argmax,    # IN  (n, c, oh, ow), each in [0, h*w)
                     floating[:, :, :, ::1] dx,             # OUT (n, c, h, w)
                     int n_threads):
    """Route each ``dout`` element to its window's maximum; overlaps add in row-major order."""
    cdef Py_ssize_t n = dx.shape[0], c = dx.shape[1], h = dx.shape[2], w = dx.shape[3]
    cdef Py_ssize_t p = dout.shape[2] * dout.shape[3]
    cdef Py_ssize_t t, ni, ci, q
    cdef floating* d
    cdef const floating* g
    cdef const int32_t* a
    with nogil:
        for t in prange(n * c, schedule="static", num_threads=n_threads):
            ni = t // c
            ci = t % c
            d = &dx[ni, ci, 0, 0]
            g = &dout[ni, ci, 0, 0]
            a = &argmax[ni, ci, 0, 0]
            memset(d, 0, h * w * sizeof(floating))
            for q in range(p):
                d[a[q]] += g[q]
