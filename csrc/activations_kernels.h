/* Elementwise micro-kernels for cs231n_fast._ext.activations: ReLU, leaky ReLU / PReLU (with
 * the PReLU slope gradient), ELU, the sigmoid/tanh backwards, inverted dropout from a
 * counter-based hash, and maxout's max/argmax and gradient scatter.
 *
 * Every function works on one contiguous range handed over by activations.pyx (a fixed-size
 * chunk, or one row), so the results do not depend on how ranges are dealt to threads.
 * Vectorisation: the branch-free loops (selects, products, the 32-bit hash) are left to the
 * compiler's vectoriser in the CS_CLONES copies (simd.h); ELU needs exp, taken from
 * rnn_kernels.h (bitwise the same in its vector and scalar forms), whose stream loops
 * (CS_FOR_GROUPS) run it four vectors at a time. setup.py compiles with -ffp-contract=off, so
 * every element is computed with exactly the operations spelled here whichever clone, vector
 * width or tail loop computes it: bitwise identical results in every build.
 *
 * The float and double kernels are one source, activations_kernels_impl.h, included per type.
 */
#ifndef CS231N_FAST_ACTIVATIONS_KERNELS_H
#define CS231N_FAST_ACTIVATIONS_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "simd.h"
#include "rnn_kernels.h"

/* Dropout's hash: a bijective 32-bit mixer (Wellons' "lowbias32": xorshift-multiply, two
 * rounds), applied twice with two 32-bit keys. keep(i) for the element index i = hi * 2^32 + lo:
 *   h = mix(mix(lo ^ k0) ^ k1 ^ (hi * 0x9E3779B9)),  keep when (h >> 8) < threshold,
 * threshold = ceil(p * 2^24), i.e. a uniform draw u = (h >> 8) / 2^24 in [0, 1) below p. Only
 * 32-bit integer operations: they vectorise with AVX2 and AVX-512F alike (a 64-bit multiply
 * has no AVX-512F or AVX2 instruction). reference/activations.py spells the same hash in NumPy. */
static inline uint32_t cs_mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* ELU's expm1 for x <= 0: a Taylor polynomial above -1/8 (where exp(x) - 1 would cancel),
 * exp(x) - 1 below (cancellation there at most amplifies exp's error by 1/(1 - e^-1/8) < 8.5).
 * Coefficients 1/k!, highest first, for expm1(x) = x + x^2 * P(x); the next term is below
 * 1e-9 (float) / 3e-19 (double) relative. */
#define CSF_EM1_COEFS(FIRST, STEP)                                                             \
    FIRST(1.98412698412698413e-4f) STEP(1.38888888888888889e-3f) STEP(8.33333333333333333e-3f) \
    STEP(4.16666666666666667e-2f) STEP(1.66666666666666667e-1f) STEP(0.5f)
#define CSD_EM1_COEFS(FIRST, STEP)                                                             \
    FIRST(2.08767569878680989792e-09) STEP(2.50521083854417187751e-08)                         \
    STEP(2.75573192239858906526e-07) STEP(2.75573192239858906526e-06)                          \
    STEP(2.48015873015873015873e-05) STEP(1.98412698412698412698e-04)                          \
    STEP(1.38888888888888888889e-03) STEP(8.33333333333333333333e-03)                          \
    STEP(4.16666666666666666667e-02) STEP(1.66666666666666666667e-01) STEP(0.5)
#define CSF_EM1_SMALL (-0.125f)
#define CSD_EM1_SMALL (-0.125)

/* Wide vectors. rnn_kernels.h's helpers use 32-byte vectors (its clones stop at AVX2); the
 * transcendental loops here (sigmoid, tanh, ELU) instantiate the same helpers once more with
 * 64-byte vectors (suffixes _fw, _dw), one zmm register in the AVX-512 clone (two ymm / four
 * xmm in the others). Every element still goes through the same operations in the same order
 * as in the scalar code, so the results stay bitwise identical to rnn_kernels.h's and to the
 * scalar build. Measured on Zen 4 (AVX-512), one thread, 4M floats: sigmoid 2.8 -> 2.2 ms,
 * tanh 4.1 -> 3.0 ms, ELU 7-9 -> 3.1 ms. */
#ifdef CS_RNN_VECTOR
typedef float cs_vfw __attribute__((vector_size(64)));
typedef int32_t cs_vfwi __attribute__((vector_size(64)));
typedef uint32_t cs_vfwu __attribute__((vector_size(64)));
typedef double cs_vdw __attribute__((vector_size(64)));
typedef int64_t cs_vdwi __attribute__((vector_size(64)));
typedef uint64_t cs_vdwu __attribute__((vector_size(64)));

#define CS_T float
#define CS_I int32_t
#define CS_U uint32_t
#define CS_F(name) CS_CAT(name, _fw)
#define CS_K(name) CS_CAT(CSF_, name)
#define CS_V cs_vfw
#define CS_VI cs_vfwi
#define CS_VU cs_vfwu
#define CS_NV 16
#include "rnn_kernels_impl.h"

#define CS_T double
#define CS_I int64_t
#define CS_U uint64_t
#define CS_F(name) CS_CAT(name, _dw)
#define CS_K(name) CS_CAT(CSD_, name)
#define CS_V cs_vdw
#define CS_VI cs_vdwi
#define CS_VU cs_vdwu
#define CS_NV 8
#include "rnn_kernels_impl.h"
#endif

/* ---- float --------------------------------------------------------------------------------- */
#define CS_T float
#define CS_F(name) CS_CAT(name, _f)
#define CS_W(name) CS_CAT(name, _fw)
#define CS_K(name) CS_CAT(CSF_, name)
#ifdef CS_RNN_VECTOR
#define CS_V cs_vfw
#define CS_VI cs_vfwi
#define CS_NV 16
#endif
#include "activations_kernels_impl.h"

/* ---- double -------------------------------------------------------------------------------- */
#define CS_T double
#define CS_F(name) CS_CAT(name, _d)
#define CS_W(name) CS_CAT(name, _dw)
#define CS_K(name) CS_CAT(CSD_, name)
#ifdef CS_RNN_VECTOR
#define CS_V cs_vdw
#define CS_VI cs_vdwi
#define CS_NV 8
#endif
#include "activations_kernels_impl.h"

#endif /* CS231N_FAST_ACTIVATIONS_KERNELS_H */
