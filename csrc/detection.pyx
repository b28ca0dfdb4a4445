# cython: language_level=3
"""Box IoU and non-maximum suppression (cs231n_fast._ext.detection).

Callers (``cs231n_fast.detection``) guarantee: boxes C-contiguous of shape (n, 4) in one
floating dtype with finite coordinates; ``order`` a permutation of ``range(n)`` (the boxes in
decreasing score order, grouped by class for the batched case) cut into segments by
``bounds`` (``bounds[0] == 0``, non-decreasing, ``bounds[-1] == n``); outputs and scratch
allocated with the documented shapes; ``thr`` the IoU threshold already rounded down to the
boxes' type; ``n_threads >= 1``. Nothing here validates or raises.

Partitions (``schedule="static"``): ``box_iou`` gives each row of the output to one thread;
``nms`` gives each segment (a class of ``batched_nms``, or all boxes) to one thread, which
owns that segment's part of the scratch and of ``keep``. The IoU loops are elementwise
(``detection_kernels.h``), so results are bitwise identical for any thread count, any clone
(AVX-512/AVX2/baseline) and the build without OpenMP.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint64_t


cdef extern from "detection_kernels.h" nogil:
    void cs_iou_row_f(float ax1, float ay1, float ax2, float ay2, float aarea,
                      const float* x1, const float* y1, const float* x2, const float* y2,
                      const float* area, float* out, Py_ssize_t m)
    void cs_iou_row_d(double ax1, double ay1, double ax2, double ay2, double aarea,
                      const double* x1, const double* y1, const double* x2, const double* y2,
                      const double* area, double* out, Py_ssize_t m)
    void cs_radix_sort_u64(uint64_t* k, int64_t* v, uint64_t* tk, int64_t* tv, Py_ssize_t n)
    uint64_t cs_desc_key_f(float x)
    uint64_t cs_desc_key_d(double x)
    Py_ssize_t cs_nms_f(float* x1, float* y1, float* x2, float* y2, float* area, int64_t* idx,
                        int32_t* supp, Py_ssize_t n, float thr, int64_t* keep)
    Py_ssize_t cs_nms_d(double* x1, double* y1, double* x2, double* y2, double* area,
                        int64_t* idx, int64_t* supp, Py_ssize_t n, double thr, int64_t* keep)


cdef void _soa(const floating[:, ::1] boxes, const int64_t* order, Py_ssize_t n,
               floating[:, ::1] soa) noexcept nogil:
    """soa[:, p] = (x1, y1, x2, y2, area) of box order[p] (order NULL: box p), p < n."""
    cdef Py_ssize_t p, i
    for p in range(n):
        i = order[p] if order != NULL else p
        soa[0, p] = boxes[i, 0]
        soa[1, p] = boxes[i, 1]
        soa[2, p] = boxes[i, 2]
        soa[3, p] = boxes[i, 3]
        soa[4, p] = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])


def box_iou(const floating[:, ::1] boxes1,  # IN  (n, 4)
            const floating[:, ::1] boxes2,  # IN  (m, 4)
            floating[:, ::1] soa,           # SCRATCH (5, m): boxes2 as x1, y1, x2, y2, area
            floating[:, ::1] out,           # OUT (n, m)
            int n_threads):
    """IoU of every pair; rows of ``out`` in parallel, one thread per row."""
    cdef Py_ssize_t n = boxes1.shape[0], m = boxes2.shape[0], i
    cdef floating a
    if n == 0 or m == 0:
        return
    with nogil:
        _soa(boxes2, NULL, m, soa)
        for i in prange(n, schedule="static", num_threads=n_threads):
            a = (boxes1[i, 2] - boxes1[i, 0]) * (boxes1[i, 3] - boxes1[i, 1])
            if floating is float:
                cs_iou_row_f(boxes1[i, 0], boxes1[i, 1], boxes1[i, 2], boxes1[i, 3], a,
                             &soa[0, 0], &soa[1, 0], &soa[2, 0], &soa[3, 0], &soa[4, 0],
                             &out[i, 0], m)
            else:
                cs_iou_row_d(boxes1[i, 0], boxes1[i, 1], boxes1[i, 2], boxes1[i, 3], a,
                             &soa[0, 0], &soa[1, 0], &soa[2, 0], &soa[3, 0], &soa[4, 0],
                             &out[i, 0], m)


def descending_order(const floating[::1] scores,  # IN  (n,)
                     int64_t[::1] order,              # OUT (n,)
                     uint64_t[::1] keys,              # SCRATCH (n,)
                     uint64_t[::1] tmp_keys,          # SCRATCH (n,)
                     int64_t[::1] tmp_order):         # SCRATCH (n,)
    """Indices of ``scores`` by decreasing score, NaN first, equal scores by increasing index
    (a stable radix sort of order-preserving integer keys; serial)."""
    cdef Py_ssize_t n = scores.shape[0], i
    if n == 0:
        return
    with nogil:
        for i in range(n):
            if floating is float:
                keys[i] = cs_desc_key_f(scores[i])
            else:
                keys[i] = cs_desc_key_d(scores[i])
            order[i] = i
        cs_radix_sort_u64(&keys[0], &order[0], &tmp_keys[0], &tmp_order[0], n)


def nms(const floating[:, ::1] boxes,  # IN  (n, 4)
        const int64_t[::1] order,      # IN  (n,) boxes by segment, each in decreasing score
        const int64_t[::1] bounds,     # IN  (s + 1,) segment s is order[bounds[s]:bounds[s+1]]
        floating thr,                  # IoU threshold rounded down to the boxes' type
        floating[:, ::1] soa,          # SCRATCH (5, n)
        int64_t[::1] idx,              # SCRATCH (n,)
        floating[::1] supp_buf,        # SCRATCH (n,) zeros, reinterpreted as int flags
        int64_t[::1] keep,             # OUT (n,) segment s keeps keep[bounds[s]:][:count[s]]
        int64_t[::1] count,            # OUT (s,)
        int n_threads):
    """Greedy NMS of each segment independently; segments in parallel, one thread each."""
    cdef Py_ssize_t n = boxes.shape[0], n_seg = bounds.shape[0] - 1, s, p, b0, b1
    if n == 0:
        return
    with nogil:
        for p in range(n):
            idx[p] = order[p]
        _soa(boxes, &order[0], n, soa)
        for s in prange(n_seg, schedule="static", num_threads=n_threads):
            b0 = bounds[s]
            b1 = bounds[s + 1]
            if b1 == b0:
                count[s] = 0
            elif floating is float:
                count[s] = cs_nms_f(&soa[0, b0], &soa[1, b0], &soa[2, b0], &soa[3, b0],
                                    &soa[4, b0], &idx[b0], <int32_t*>&supp_buf[b0], b1 - b0,
                                    thr, &keep[b0])
            else:
                count[s] = cs_nms_d(&soa[0, b0], &soa[1, b0], &soa[2, b0], &soa[3, b0],
                                    &soa[4, b0], &idx[b0], <int64_t*>&supp_buf[b0], b1 - b0,
                                    thr, &keep[b0])
