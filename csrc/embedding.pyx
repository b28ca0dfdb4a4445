# cython: language_level=3
"""Word embedding kernels (cs231n_fast._ext.embedding): the row gather and its scatter-add.

Callers (``cs231n_fast.ops.temporal``) guarantee: ids C-contiguous intp, each in [0, V); the
table (forward) of one floating dtype, any strides; dout, dW, ends and order C-contiguous with
the documented shapes; no zero-size dimension; ``n_threads >= 1``. Nothing here validates,
raises or touches Python objects inside ``nogil``.

Determinism. The forward copies rows. The backward is a scatter-add without atomics: the R ids
are sorted by a stable counting sort (serial, O(R + V)), so the occurrences of each word are
listed in the order they occur; then every element of dW is written by exactly one thread, as
``dout[r0] + dout[r1] + ...`` over those occurrences in that order (or 0 for a word that does
not occur). An element's value therefore depends on nothing but the ids and dout: the
partition of dW among threads (column blocks, or vocabulary ranges balanced by the number of
rows they add) may follow the thread count, and the results are still bitwise identical for
any thread count and for the build without OpenMP.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset


def embedding_forward(const floating[:, :] W not None,     # IN  (V, D), any strides
                      const Py_ssize_t[::1] ids not None,  # IN  (R,) word ids in [0, V)
                      floating[:, ::1] out not None,       # OUT (R, D)
                      int n_threads):
    """``out[r] = W[ids[r]]``; parallel over rows."""
    cdef Py_ssize_t rows = ids.shape[0], d = W.shape[1], r, j
    cdef bint unit = W.strides[1] == sizeof(floating)
    with nogil:
        for r in prange(rows, schedule="static", num_threads=n_threads):
            if unit:
                memcpy(&out[r, 0], &W[ids[r], 0], d * sizeof(floating))
            else:
                for j in range(d):
                    out[r, j] = W[ids[r], j]


cdef inline Py_ssize_t _vocab_split(const Py_ssize_t* ends, Py_ssize_t vocab, Py_ssize_t rows,
                                    Py_ssize_t k, Py_ssize_t parts) noexcept nogil:
    """Start of vocabulary range ``k`` of ``parts``: the first word v whose cost before it,
    ``start(v) + v`` (rows added plus rows written before v), reaches ``k / parts`` of the
    total ``rows + vocab``; ``ends`` is non-decreasing, so this is a binary search."""
    cdef Py_ssize_t goal = (rows + vocab) * k // parts, lo = 0, hi = vocab, mid, before
    while lo < hi:  # first v in [0, vocab] with cost(v) >= goal (cost(vocab) = rows + vocab)
        mid = (lo + hi) // 2
        before = ends[mid - 1] if mid > 0 else 0
        if before + mid >= goal:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef void _scatter(const floating* dout, floating* dW, const Py_ssize_t* ends,
                   const Py_ssize_t* order, Py_ssize_t d, Py_ssize_t v0, Py_ssize_t v1,
                   Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """dW[v, j0:j1] for v in [v0, v1): the sum of the rows of dout listed for v, in order."""
    cdef Py_ssize_t v, k, j, start
    cdef Py_ssize_t w = j1 - j0
    cdef floating* dst
    cdef const floating* src
    for v in range(v0, v1):
        start = ends[v - 1] if v > 0 else 0
        dst = dW + v * d + j0
        if start == ends[v]:
            memset(dst, 0, w * sizeof(floating))
            continue
        memcpy(dst, dout + order[start] * d + j0, w * sizeof(floating))
        for k in range(start + 1, ends[v]):
            src = dout + order[k] * d + j0
            for j in range(w):
                dst[j] = dst[j] + src[j]


def embedding_backward(const floating[:, ::1] dout not None,  # IN  (R, D) upstream rows
                       const Py_ssize_t[::1] ids not None,     # IN  (R,) word ids in [0, V)
                       floating[:, ::1] dW not None,           # OUT (V, D)
                       Py_ssize_t[::1] ends not None,          # SCRATCH (V,)
                       Py_ssize_t[::1] order not None,         # SCRATCH (R,)
                       int n_threads):
    """``dW[v] = sum of dout[r] over r with ids[r] == v``, in increasing r; zero elsewhere.

    Partition: with D of at least 64 columns per thread each thread owns a block of columns
    (whole cache lines) of every row, whatever the ids; otherwise each owns a range of words
    holding about the same number of rows to add and write.
    """
    cdef Py_ssize_t rows = ids.shape[0], vocab = dW.shape[0], d = dW.shape[1]
    cdef Py_ssize_t r, v, k, acc, parts, cb, vp, cw, j0, j1
    cdef Py_ssize_t* e = &ends[0]
    cdef Py_ssize_t* o = &order[0]
    with nogil:
        # Stable counting sort: e[v] = end of v's occurrences in o once they are placed.
        memset(e, 0, vocab * sizeof(Py_ssize_t))
        for r in range(rows):
            e[ids[r]] += 1
        acc = 0
        for v in range(vocab):  # e[v] = start of v
            k = e[v]
            e[v] = acc
            acc = acc + k
        for r in range(rows):  # advances e[v] to the end of v
            o[e[ids[r]]] = r
            e[ids[r]] += 1
        parts = n_threads
        cb = d // 64
        if cb > parts:
            cb = parts
        if cb < 1:
            cb = 1
        vp = parts // cb
        parts = cb * vp
        cw = (d + cb - 1) // cb
        if cb > 1:
            cw = (cw + 15) // 16 * 16  # whole 64-byte lines of float (two of double)
        for k in prange(parts, schedule="static", num_threads=n_threads):
            j0 = (k % cb) * cw
            j1 = j0 + cw
            if j0 > d:
                j0 = d
            if j1 > d:
                j1 = d
            if j1 > j0:
                _scatter(&dout[0, 0], &dW[0, 0], e, o, d,
                         _vocab_split(e, vocab, rows, k // cb, vp),
                         _vocab_split(e, vocab, rows, k // cb + 1, vp), j0, j1)
