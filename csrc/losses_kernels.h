/* Row kernels of cs231n_fast._ext.losses: the softmax (cross-entropy) and multiclass SVM losses
 * of one row of scores, with their gradient, in one call per row.
 *
 * Softmax. Three passes over the row, which stays in L1 after the first: the maximum m
 * (CS_LANES running maxima: exact, so their order does not matter; a NaN is skipped here and
 * reaches every result through its exponential), e_k = exp(x_k - m) written into dx
 * (rnn_kernels.h's exp for arguments <= 0: x_k - m is <= 0 or NaN, exactly the domain of
 * cs_expn, which returns 0 below its cut-off and never overflows; the vector and scalar forms
 * give the same bits), then the sum of the e_k over k != y in CS_LANES partial sums (simd.h:
 * bits independent of the vector width) and the scaling dx_k = e_k / ((sum + e_y) N). The
 * correct class's gradient p_y - 1 is computed as -(sum over the others) / ((sum + e_y) N),
 * which keeps its relative precision when p_y is close to 1; the row's loss -log p_y is
 * log1p(others) when y holds the maximum (e_y = 1) and log(others + e_y) - (x_y - m) otherwise,
 * in double (others in the score type).
 *
 * SVM. Margins x_k - x_y + 1 written into dx (the correct class's set to 0), then one lane pass
 * turning them into the loss terms max(0, margin) (summed in double lanes; NaN propagates as in
 * np.maximum), the count of positive margins, and the gradient 1/N where the margin is
 * positive; the correct class gets -count / N. Same operations as the NumPy version, so the
 * gradient is bitwise NumPy's.
 *
 * Every element's result is computed with the same operations whichever clone (CS_CLONES),
 * vector width or scalar build runs (-ffp-contract=off), so the kernels are bitwise identical
 * across machines' instruction sets, thread counts and the portable build.
 */
#ifndef CS231N_FAST_LOSSES_KERNELS_H
#define CS231N_FAST_LOSSES_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "simd.h"
/* Only the exp of rnn_kernels.h is used here; its other static kernels are not. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wpsabi"
#include "rnn_kernels.h"
#pragma GCC diagnostic pop

#define CS_LINLINE static inline __attribute__((always_inline))

/* Sum of n doubles in CS_LANES partial sums, lane i % CS_LANES, then the lanes in a fixed
 * order: the per-row losses of a whole batch, the same bits for any thread count. */
CS_CLONES static double cs_sum_d(const double *a, ptrdiff_t n)
{
    double acc[CS_LANES];
    ptrdiff_t i = 0;
    int l;
    for (l = 0; l < CS_LANES; l++) acc[l] = 0;
    for (; i + CS_LANES <= n; i += CS_LANES)
        for (l = 0; l < CS_LANES; l++) acc[l] += a[i + l];
    for (l = 0; i + l < n; l++) acc[l] += a[i + l];
    return cs_sum_lanes_d(acc);
}

/* ---- float ---------------------------------------------------------------------------------- */
#define CS_T float
#define CS_F(name) CS_CAT(name, _f)
#define CS_SUM_LANES cs_sum_lanes_f
#ifdef CS_RNN_VECTOR
#define CS_V cs_vf
#define CS_VI cs_vfi
#define CS_NV 8
typedef float cs_vf4 __attribute__((vector_size(16)));
/* acc[2l], acc[2l + 1] += the halves of the 8 floats v, converted to double (exact). */
#define CS_ADD_D(acc, l, v)                                                                    \
    do {                                                                                       \
        cs_vf4 h_[2];                                                                          \
        memcpy(h_, &(v), sizeof h_);                                                           \
        (acc)[2 * (l)] += __builtin_convertvector(h_[0], cs_vd);                               \
        (acc)[2 * (l) + 1] += __builtin_convertvector(h_[1], cs_vd);                           \
    } while (0)
#endif
#include "losses_kernels_impl.h"

/* ---- double --------------------------------------------------------------------------------- */
#define CS_T double
#define CS_F(name) CS_CAT(name, _d)
#define CS_SUM_LANES cs_sum_lanes_d
#ifdef CS_RNN_VECTOR
#define CS_V cs_vd
#define CS_VI cs_vdi
#define CS_NV 4
#define CS_ADD_D(acc, l, v) ((acc)[l] += (v))
#endif
#include "losses_kernels_impl.h"

#endif /* CS231N_FAST_LOSSES_KERNELS_H */
