# cython: language_level=3
"""Classification losses (cs231n_fast._ext.losses): softmax cross-entropy and multiclass SVM.

Both take an (R, C) matrix of scores, one correct class per row and a divisor ``n`` (the batch
size: the course averages over samples, and the temporal softmax loss over the N sequences,
not over its N * T rows), and write the gradient of ``sum(row losses) / n`` into ``dx``. The
row kernels are in losses_kernels.h (one call per row: max, exponentials, sum, gradient).

Callers (``cs231n_fast.ops.losses``, ``cs231n_fast.ops.temporal``) guarantee: C-contiguous
arrays of one floating dtype with the documented shapes, R >= 1, 1 <= C < 2**31, every label in
[0, C) (at masked-out rows too), ``keep`` of length R or None, ``row_loss`` of length R,
``n >= 1``, ``n_threads >= 1``. Nothing here validates, raises or touches Python objects inside
``nogil``.

Parallel over rows (static schedule): each row of ``dx`` and ``row_loss`` has one writer, and
the row losses are then summed in a fixed order (CS_LANES partial sums), so the results are
bitwise identical for any thread count and for the build without OpenMP.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset


cdef extern from "losses_kernels.h" nogil:
    double cs_softmax_row_f(const float* x, float* dx, Py_ssize_t c, Py_ssize_t y, float n)
    double cs_softmax_row_d(const double* x, double* dx, Py_ssize_t c, Py_ssize_t y, double n)
    double cs_svm_row_f(const float* x, float* dx, Py_ssize_t c, Py_ssize_t y, float n)
    double cs_svm_row_d(const double* x, double* dx, Py_ssize_t c, Py_ssize_t y, double n)
    double cs_sum_d(const double* a, Py_ssize_t n)


cdef inline double _row(int kind, const floating* x, floating* dx, Py_ssize_t c, Py_ssize_t y,
                        floating n) noexcept nogil:
    if floating is float:
        if kind == 0:
            return cs_softmax_row_f(x, dx, c, y, n)
        return cs_svm_row_f(x, dx, c, y, n)
    else:
        if kind == 0:
            return cs_softmax_row_d(x, dx, c, y, n)
        return cs_svm_row_d(x, dx, c, y, n)


def row_losses(int kind,
               const floating[:, ::1] x not None,       # IN  (R, C) scores
               const Py_ssize_t[::1] y not None,        # IN  (R,) correct classes in [0, C)
               const unsigned char[::1] keep,           # IN  (R,) 0/1 row mask, or None: all rows
               floating[:, ::1] dx not None,            # OUT (R, C) gradient of sum(loss) / n
               double[::1] row_loss not None,           # OUT (R,) scratch: each row's loss
               double n, int n_threads):
    """Loss and gradient of ``kind`` 0 (softmax) or 1 (SVM) over the rows of ``x``.

    Returns the sum of the row losses (not divided by ``n``); masked-out rows (``keep[r] == 0``)
    are never read, count 0 and get a zero gradient.
    """
    cdef Py_ssize_t rows = x.shape[0], c = x.shape[1], r
    cdef const unsigned char* kp = &keep[0] if keep is not None and keep.shape[0] > 0 else NULL
    cdef floating nd = <floating>n
    cdef double total = 0.0
    if rows == 0:  # T = 0 (the course's loss is 0): nothing to index, even in the checked build
        return total
    with nogil:
        for r in prange(rows, schedule="static", num_threads=n_threads):
            if kp != NULL and kp[r] == 0:
                memset(&dx[r, 0], 0, c * sizeof(floating))
                row_loss[r] = 0
            else:
                row_loss[r] = _row(kind, &x[r, 0], &dx[r, 0], c, y[r], nd)
        total = cs_sum_d(&row_loss[0], rows)
    return total
