/* Run-time instruction-set dispatch and deterministic reductions for the C loop bodies of the
 * kernel families (activations, norm, losses, optim, embedding, ...).
 *
 * Dispatch. A loop body marked CS_CLONES is compiled three times (AVX-512F, AVX2, baseline
 * x86-64) and the dynamic loader picks the best one the CPU has (GCC target_clones + ifunc).
 * Wheels therefore run on any x86-64 and use AVX-512 where present. The attribute is dropped
 * where ifunc is unavailable (clang, non-Linux, non-x86, C libraries other than glibc such as
 * musl, AddressSanitizer builds; see ifunc.h), leaving the baseline loop.
 *
 * Bitwise results whichever clone runs. setup.py compiles with -ffp-contract=off and never
 * -ffast-math, so the compiler may not reassociate, contract or reorder floating-point
 * operations: a vectorised loop computes every element with exactly the operations the source
 * spells, in the order it spells them. Consequences for kernel writers:
 *   - elementwise loops: any clone, any vector width, bitwise identical;
 *   - reductions (sums over a row, a channel, a batch): never `s += x[i]` over the whole loop
 *     (the compiler will not vectorise it, and a hand-vectorised version would depend on the
 *     vector width); accumulate into CS_LANES independent partial sums, lane i % CS_LANES, then
 *     add the lanes in a fixed order (cs_sum_lanes_*). The compiler vectorises the lane loop
 *     with whatever width the clone has, and the result is the same for all of them;
 *   - the partition of a reduction across threads must depend on the problem size only, never
 *     on the thread count (fixed chunks, reduced in order).
 * Transcendentals: use rnn_kernels.h's exp/sigmoid/tanh (bitwise the same in vector and scalar
 * form), never libm's in a loop meant to vectorise (libmvec differs from scalar libm).
 */
#ifndef CS231N_FAST_SIMD_H
#define CS231N_FAST_SIMD_H

#include <stddef.h>

#include "ifunc.h"

#if defined(CS_HAVE_IFUNC) && !defined(CS231N_FAST_SCALAR_KERNELS)
#define CS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CS_CLONES
#endif

/* Independent partial sums of a reduction (a multiple of every vector width in floats). */
#define CS_LANES 16

/* Sum of CS_LANES partial sums in a fixed pairwise order. */
static inline double cs_sum_lanes_d(const double *acc)
{
    double t[CS_LANES / 2];
    int k, m;
    for (k = 0; k < CS_LANES / 2; k++) t[k] = acc[k] + acc[k + CS_LANES / 2];
    for (m = CS_LANES / 4; m >= 1; m /= 2)
        for (k = 0; k < m; k++) t[k] = t[k] + t[k + m];
    return t[0];
}

static inline float cs_sum_lanes_f(const float *acc)
{
    float t[CS_LANES / 2];
    int k, m;
    for (k = 0; k < CS_LANES / 2; k++) t[k] = acc[k] + acc[k + CS_LANES / 2];
    for (m = CS_LANES / 4; m >= 1; m /= 2)
        for (k = 0; k < m; k++) t[k] = t[k] + t[k + m];
    return t[0];
}

#endif /* CS231N_FAST_SIMD_H */
