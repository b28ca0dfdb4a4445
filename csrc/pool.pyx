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


cdef inline bint _takes(floating v, floating best) noexcept nogil:
    """True when ``v`` replaces ``best``: strictly greater (so the first maximum is kept), or
    the first NaN (NaN compares false with everything, so it would otherwise be skipped)."""
    return (v > best) | ((v != v) & (best == best))


cdef void _max_plane(const floating* src, floating* out, int32_t* arg,
                     Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw,
                     Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """Max and first argmax (row-major) of every window of one plane; NaN wins and propagates.

    The exact scalar path, used for planes that hold a NaN.
    """
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
                    if _takes(v, best):
                        best = v
                        best_idx = idx
            out[y * ow + x] = best
            arg[y * ow + x] = <int32_t>best_idx


cdef bint _has_nan(const floating* src, Py_ssize_t size) noexcept nogil:
    """Whether the plane holds a NaN (an integer OR reduction, which the compiler vectorises)."""
    cdef Py_ssize_t i
    cdef int found = 0
    for i in range(size):
        found |= src[i] != src[i]
    return found != 0


cdef void _max_plane_rows(const floating* src, floating* out, int32_t* arg,
                          Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw,
                          Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """``_max_plane`` for planes without NaN, vectorised along each output row.

    Each output row starts from its windows' first elements; every other window offset
    (i, j), in row-major order, then replaces the running maximum where strictly greater. The
    inner loop over output columns is a compare and two blends, with no branch.
    """
    cdef Py_ssize_t y, x, i, j
    cdef int32_t off, step = <int32_t>sw
    cdef const floating* s
    cdef floating* o
    cdef int32_t* a
    cdef floating v, m
    cdef int32_t t
    for y in range(oh):
        o = out + y * ow
        a = arg + y * ow
        s = src + y * sh * w
        off = <int32_t>(y * sh * w)
        for x in range(ow):
            o[x] = s[x * sw]
            a[x] = off + <int32_t>x * step
        for i in range(kh):
            for j in range(kw):
                if i == 0 and j == 0:
                    continue
                s = src + (y * sh + i) * w + j
                off = <int32_t>((y * sh + i) * w + j)
                for x in range(ow):
                    v = s[x * sw]
                    m = o[x]
                    # 0 or -1 (all bits): select without a branch so the loop vectorises.
                    t = -<int32_t>(v > m)
                    o[x] = v if v > m else m
                    a[x] = a[x] ^ (t & ((off + <int32_t>x * step) ^ a[x]))


def maxpool_forward(const floating[:, :, :, ::1] x,   # IN  (n, c, h, w)
                    floating[:, :, :, ::1] out,        # OUT (n, c, oh, ow)
                    int32_t[:, :, :, ::1] argmax,      # OUT (n, c, oh, ow), flat index in plane
                    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                    int n_threads):
    """Max over each window and the flat in-plane index of its first maximum."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], w = x.shape[3]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3]
    cdef Py_ssize_t h = x.shape[2]
    cdef Py_ssize_t t, ni, ci
    with nogil:
        for t in prange(n * c, schedule="static", num_threads=n_threads):
            ni = t // c
            ci = t % c
            if _has_nan(&x[ni, ci, 0, 0], h * w):
                _max_plane(&x[ni, ci, 0, 0], &out[ni, ci, 0, 0], &argmax[ni, ci, 0, 0],
                           w, kh, kw, sh, sw, oh, ow)
            else:
                _max_plane_rows(&x[ni, ci, 0, 0], &out[ni, ci, 0, 0], &argmax[ni, ci, 0, 0],
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
