# Header-only: row-major GEMM (cimported by conv.pyx, distances.pyx and rnn.pyx; no compiled
# module needs another at run time). It calls scipy's cython_blas, or the ILP64 entry points
# that cs231n_fast._blas hands each module at import through its _use_gemm64 (NumPy's bundled
# OpenBLAS when there is one).

from cython cimport floating
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef extern from "blas_dispatch.h" nogil:
    ctypedef void (*cs_sgemm64_t)(const char*, const char*, const int64_t*, const int64_t*,
                                  const int64_t*, const float*, const float*, const int64_t*,
                                  const float*, const int64_t*, const float*, float*,
                                  const int64_t*)
    ctypedef void (*cs_dgemm64_t)(const char*, const char*, const int64_t*, const int64_t*,
                                  const int64_t*, const double*, const double*, const int64_t*,
                                  const double*, const int64_t*, const double*, double*,
                                  const int64_t*)
    cs_sgemm64_t cs_sgemm64
    cs_dgemm64_t cs_dgemm64
    void cs_set_gemm64(size_t s, size_t d)


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
    cdef int64_t m64 = n, n64 = m, k64 = k, la64 = lda, lb64 = ldb, lc64 = ldc
    if floating is float:
        if cs_sgemm64 != NULL:
            cs_sgemm64(&transb, &transa, &m64, &n64, &k64, &alpha, <float*>b, &lb64,
                       <float*>a, &la64, &beta, c, &lc64)
            return
    else:
        if cs_dgemm64 != NULL:
            cs_dgemm64(&transb, &transa, &m64, &n64, &k64, &alpha, <double*>b, &lb64,
                       <double*>a, &la64, &beta, c, &lc64)
            return
    if floating is float:
        sgemm(&transb, &transa, &mm, &nn, &kk, &alpha, <float*>b, &lb, <float*>a, &la,
              &beta, c, &lc)
    else:
        dgemm(&transb, &transa, &mm, &nn, &kk, &alpha, <double*>b, &lb, <double*>a, &la,
              &beta, c, &lc)
