/* Optional ILP64 GEMM entry points (e.g. NumPy's bundled OpenBLAS), set at import by
 * cs231n_fast._blas; NULL means scipy's cython_blas. Each extension module has its own copy
 * (static), set through its _use_gemm64(). */
#ifndef CS231N_FAST_BLAS_DISPATCH_H
#define CS231N_FAST_BLAS_DISPATCH_H
#include <stdint.h>

typedef void (*cs_sgemm64_t)(const char*, const char*, const int64_t*, const int64_t*,
                             const int64_t*, const float*, const float*, const int64_t*,
                             const float*, const int64_t*, const float*, float*,
                             const int64_t*);
typedef void (*cs_dgemm64_t)(const char*, const char*, const int64_t*, const int64_t*,
                             const int64_t*, const double*, const double*, const int64_t*,
                             const double*, const int64_t*, const double*, double*,
                             const int64_t*);
static cs_sgemm64_t cs_sgemm64 = 0;
static cs_dgemm64_t cs_dgemm64 = 0;

static void cs_set_gemm64(size_t s, size_t d) {
    cs_sgemm64 = (cs_sgemm64_t)s;
    cs_dgemm64 = (cs_dgemm64_t)d;
}
#endif
