/* Elementwise passes of the affine kernels (csrc/linear.pyx), written once for float and double.
 *
 * Each runs on one block of a row-major matrix while it is hot in cache after (or before) the
 * block's GEMM, so the bias, the ReLU, db and the L2 term cost no separate pass over memory.
 * CS_CLONES (simd.h) compiles every body for AVX-512, AVX2 and baseline x86-64; with
 * -ffp-contract=off every clone computes the same operations in the same order, so results are
 * bitwise identical whichever runs:
 *   - bias/ReLU and the masked copy are elementwise;
 *   - db sums the rows of its column block in row order (one partial per column: the loop over
 *     columns vectorises, the order of each column's sum is fixed);
 *   - the sum of squares uses CS_LANES independent partial sums (lane i % CS_LANES) added in a
 *     fixed order (cs_sum_lanes_d), accumulated in double for both dtypes.
 * NaN propagates as in NumPy: max(0, NaN) is NaN (np.maximum), and the ReLU backward selects
 * (np.where(out > 0, dout, 0)), so a NaN upstream gradient at a dead unit gives 0, as the
 * course's relu_backward.
 */
#ifndef CS231N_FAST_LINEAR_KERNELS_H
#define CS231N_FAST_LINEAR_KERNELS_H

#include <stddef.h>
#include "simd.h"

#define CS_LINEAR_KERNELS(T, SFX)                                                              \
    /* out[i, j] += b[j] (then max(., 0) when relu) on a rows x cols block, row stride ld. */  \
    CS_CLONES static void cs_bias_act_##SFX(T *out, ptrdiff_t ld, ptrdiff_t rows,              \
                                            ptrdiff_t cols, const T *b, int relu)             \
    {                                                                                          \
        ptrdiff_t i, j;                                                                        \
        for (i = 0; i < rows; i++) {                                                           \
            T *o = out + i * ld;                                                               \
            if (relu) {                                                                        \
                for (j = 0; j < cols; j++) {                                                   \
                    T v = o[j] + b[j];                                                         \
                    o[j] = v < 0 ? (T)0 : v; /* NaN stays NaN, as np.maximum */                \
                }                                                                              \
            } else {                                                                           \
                for (j = 0; j < cols; j++) o[j] = o[j] + b[j];                                 \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* db[j] = sum over rows, in row order, of g[i, j], where g = dout (act NULL) or           \
     * g = (act > 0 ? dout : 0), then written to da. A rows x cols block, row strides ld. */  \
    CS_CLONES static void cs_colsum_##SFX(const T *dout, const T *act, T *da, ptrdiff_t ld,    \
                                          ptrdiff_t rows, ptrdiff_t cols, T *db)               \
    {                                                                                          \
        ptrdiff_t i, j;                                                                        \
        for (j = 0; j < cols; j++) db[j] = 0;                                                  \
        for (i = 0; i < rows; i++) {                                                           \
            const T *d = dout + i * ld;                                                        \
            if (act) {                                                                         \
                const T *a = act + i * ld;                                                     \
                T *g = da + i * ld;                                                            \
                for (j = 0; j < cols; j++) {                                                   \
                    T v = a[j] > 0 ? d[j] : (T)0;                                              \
                    g[j] = v;                                                                  \
                    db[j] = db[j] + v;                                                         \
                }                                                                              \
            } else {                                                                           \
                for (j = 0; j < cols; j++) db[j] = db[j] + d[j];                               \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* out[i] = g[i] + reg * w[i] over n contiguous elements (out may be g); returns the sum  \
     * of w[i]^2 (double, fixed lanes and order). */                                           \
    CS_CLONES static double cs_l2_##SFX(T *out, const T *g, const T *w, ptrdiff_t n, T reg)    \
    {                                                                                          \
        double acc[CS_LANES];                                                                  \
        ptrdiff_t i, l, full = n - n % CS_LANES;                                               \
        for (l = 0; l < CS_LANES; l++) acc[l] = 0;                                             \
        for (i = 0; i < full; i += CS_LANES) {                                                 \
            for (l = 0; l < CS_LANES; l++) {                                                   \
                double v = (double)w[i + l];                                                   \
                acc[l] = acc[l] + v * v;                                                       \
                out[i + l] = g[i + l] + reg * w[i + l];                                          \
            }                                                                                  \
        }                                                                                      \
        for (l = 0; i + l < n; l++) {                                                          \
            double v = (double)w[i + l];                                                       \
            acc[l] = acc[l] + v * v;                                                           \
            out[i + l] = g[i + l] + reg * w[i + l];                                              \
        }                                                                                      \
        return cs_sum_lanes_d(acc);                                                            \
    }

CS_LINEAR_KERNELS(float, f)
CS_LINEAR_KERNELS(double, d)

#undef CS_LINEAR_KERNELS

#endif /* CS231N_FAST_LINEAR_KERNELS_H */
