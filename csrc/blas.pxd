# Header-only: row-major GEMM on scipy's BLAS (cimported by conv.pyx and distances.pyx; no
# compiled module needs another at run time).

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline void gemm(char transa, char transb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      floating alpha, const floating* a, Py_ssize_t lda,
                      const floating* b, Py_ssize_t ldb,
                      floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    """Row-major ``C(m, n) = alpha * op(A) @ op(B) + beta * C`` through column-major BLAS.

    A row-major matrix is its column-major transpose, so compute ``C^T = op(B)^T op(A)^T``.
    Callers guarantee every dimension and leading dimension fits in an int.
    """
    cdef int mm = <int>n, nn = <int>m, kk = <int>k
    cdef int la = <int>lda, lb = <int>ldb, lc = <int>ldc
    if floating is float:
        sgemm(&transb, &transa, &mm, &nn, &kk, &alpha, <float*>b, &lb, <float*>a, &la,
              &beta, c, &lc)
    else:
        dgemm(&transb, &transa, &mm, &nn, &kk, &alpha, <double*>b, &lb, <double*>a, &la,
              &beta, c, &lc)
