/* Elementwise micro-kernels for cs231n_fast._ext.rnn: exp, sigmoid, tanh and the fused LSTM /
 * vanilla-RNN forward pass over one row of gates.
 *
 * Why not libm: glibc's tanhf goes through a scalar expm1f and took as long as the step's GEMMs.
 * Here exp is evaluated only for arguments <= 0 (sigmoid needs exp(-|z|), tanh exp(-2|z|)) with
 * Cody-Waite range reduction and a Taylor polynomial (float: degree 7, double: degree 12), scaled
 * by 2^n in two steps so that subnormal results round once; tanh uses its Taylor series below
 * |z| < 1/8 (no cancellation) and (1 - e) / (1 + e) above (1 - e is exact there). Measured
 * against long double over [-100, 100]: sigmoid within 3 ulp, tanh within 4 ulp (float) and
 * 7 ulp (double, just above 1/8, where e's error is amplified by e / (1 - e) < 3.5).
 * sigmoid(-inf) = 0, sigmoid(+inf) = 1, tanh(+-inf) = +-1, NaN propagates, and nothing
 * overflows or warns.
 *
 * Speed: the exp polynomial is a serial chain of multiply-adds, so the vector code evaluates
 * CS_NS = 4 vectors ("streams") at once, one polynomial step for all four before the next (an
 * LSTM row's four gates, or four consecutive vectors of an array): the FP pipes then have
 * independent work every cycle. The fused LSTM row went from 8.1 to 4.7 ns per hidden unit (float,
 * AVX2, one core).
 *
 * Determinism: the vector loops (GCC/Clang generic vectors, 8 floats or 4 doubles) and the
 * scalar loops (tails, and the portable build with CS231N_FAST_SCALAR_KERNELS) perform the same
 * IEEE operations in the same order for every element, selects are exact, and setup.py passes
 * -ffp-contract=off, so every element's result is bitwise the same whichever loop, stream, clone
 * (target_clones: AVX2 or baseline) or block split computed it.
 *
 * The float and double kernels are one source, rnn_kernels_impl.h, included once per type.
 */
#ifndef CS231N_FAST_RNN_KERNELS_H
#define CS231N_FAST_RNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ifunc.h"

#if defined(CS_HAVE_IFUNC)
#define CS_RNN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CS_RNN_CLONES
#endif

#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 9) && !defined(CS231N_FAST_SCALAR_KERNELS)
#define CS_RNN_VECTOR 1
/* Vectors evaluated together by the stream functions (see "Speed" above). The LSTM row kernel's
 * streams are its four gates, so this is 4. */
#define CS_NS 4
/* The vector helpers are always inlined: the streams must stay in registers, and a helper taking
 * another as an argument (cs_map_vectors) must see it as a constant (not inlining it made the
 * array sigmoid 3x slower). */
#define CS_VINLINE static inline __attribute__((always_inline))
#endif

/* ---- constants (CSF_: float, CSD_: double) ------------------------------------------------- */
#define CSF_LOG2E 1.44269504088896341f
#define CSF_SHIFT 12582912.0f            /* 1.5 * 2^23: adding it rounds to an integer */
#define CSF_LN2_HI 0.693145751953125f    /* 15 significant bits: n * LN2_HI is exact */
#define CSF_LN2_LO 1.428606765330187045e-06f
#define CSF_MIN_ARG (-104.0f)            /* below: exp rounds to 0 */
#define CSF_DOWN 5.42101086242752217e-20f /* 2^-64: results below 2^-126 round once, as subnormals */
#define CSF_TANH_SMALL 0.125f
#define CSF_SHIFT_BITS 0x4B400000        /* the bits of CSF_SHIFT */
#define CSF_EXP_BIAS (127 + 64)          /* exponent bias, plus the 64 CSF_DOWN takes off again */
#define CSF_MANT 23
#define CSF_ABS_MASK ((int32_t)0x7fffffff)
#define CSF_SIGN_MASK ((int32_t)0x80000000u)

#define CSD_LOG2E 1.44269504088896338700e+00
#define CSD_SHIFT 6755399441055744.0     /* 1.5 * 2^52 */
#define CSD_LN2_HI 6.93147180369123816490e-01
#define CSD_LN2_LO 1.90821492927058770002e-10
#define CSD_MIN_ARG (-746.0)
#define CSD_DOWN 2.93873587705571876992e-39 /* 2^-128 */
#define CSD_TANH_SMALL 0.125
#define CSD_SHIFT_BITS 0x4338000000000000LL
#define CSD_EXP_BIAS (1023 + 128)
#define CSD_MANT 52
#define CSD_ABS_MASK ((int64_t)0x7fffffffffffffffLL)
#define CSD_SIGN_MASK ((int64_t)0x8000000000000000ULL)

/* Polynomial coefficients, highest degree first, as X-macros: FIRST(c) starts Horner's scheme
 * (p = r * 0 + c: the multiplication broadcasts a vector's NaNs like the later steps do), each
 * STEP(c) is p = p * r + c.
 * exp(r) for |r| <= ln2/2: Taylor. */
#define CSF_EXP_COEFS(FIRST, STEP)                                                             \
    FIRST(1.98412698412698413e-4f) STEP(1.38888888888888889e-3f) STEP(8.33333333333333333e-3f) \
    STEP(4.16666666666666667e-2f) STEP(1.66666666666666667e-1f) STEP(0.5f) STEP(1.0f) STEP(1.0f)

#define CSD_EXP_COEFS(FIRST, STEP)                                                             \
    FIRST(2.08767569878680989792e-09) STEP(2.50521083854417187751e-08)                         \
    STEP(2.75573192239858906526e-07) STEP(2.75573192239858906526e-06)                          \
    STEP(2.48015873015873015873e-05) STEP(1.98412698412698412698e-04)                          \
    STEP(1.38888888888888888889e-03) STEP(8.33333333333333333333e-03)                          \
    STEP(4.16666666666666666667e-02) STEP(1.66666666666666666667e-01) STEP(0.5) STEP(1.0)      \
    STEP(1.0)

/* tanh(a) / a - 1 as a polynomial in a^2 for 0 <= a < 1/8 (Taylor; next term below 1e-9 / 1e-16
 * relative). */
#define CSF_TANH_COEFS(FIRST, STEP)                                                            \
    FIRST(2.18694885361552028e-2f) STEP(-5.39682539682539683e-2f)                              \
    STEP(1.33333333333333333e-1f) STEP(-3.33333333333333333e-1f)

#define CSD_TANH_COEFS(FIRST, STEP)                                                            \
    FIRST(-1.45583438705131826824e-03) STEP(3.59212803657248101694e-03)                        \
    STEP(-8.86323552990219656886e-03) STEP(2.18694885361552028219e-02)                         \
    STEP(-5.39682539682539682540e-02) STEP(1.33333333333333333333e-01)                         \
    STEP(-3.33333333333333333333e-01)

/* Horner steps on one value p in r, or on CS_NS streams p[k] in r[k] (k declared by the caller). */
#define CS_H_FIRST(c) p = r * 0 + (c);
#define CS_H_STEP(c) p = p * r + (c);
#define CS_H4_FIRST(c) for (k = 0; k < CS_NS; k++) p[k] = r[k] * 0 + (c);
#define CS_H4_STEP(c) for (k = 0; k < CS_NS; k++) p[k] = p[k] * r[k] + (c);

#define CS_CAT_(a, b) a##b
#define CS_CAT(a, b) CS_CAT_(a, b)
#define CS_SCALAR_LD(p) (*(p))
#define CS_SCALAR_ST(p, v) (*(p) = (v))

/* ---- float --------------------------------------------------------------------------------- */
#define CS_T float
#define CS_I int32_t
#define CS_U uint32_t
#define CS_F(name) CS_CAT(name, _f)  /* cs_lstm_row -> cs_lstm_row_f */
#define CS_K(name) CS_CAT(CSF_, name) /* LOG2E -> CSF_LOG2E */
#ifdef CS_RNN_VECTOR
typedef float cs_vf __attribute__((vector_size(32)));
typedef int32_t cs_vfi __attribute__((vector_size(32)));
typedef uint32_t cs_vfu __attribute__((vector_size(32)));
#define CS_V cs_vf
#define CS_VI cs_vfi
#define CS_VU cs_vfu
#define CS_NV 8
#endif
#include "rnn_kernels_impl.h"

/* ---- double -------------------------------------------------------------------------------- */
#define CS_T double
#define CS_I int64_t
#define CS_U uint64_t
#define CS_F(name) CS_CAT(name, _d)
#define CS_K(name) CS_CAT(CSD_, name)
#ifdef CS_RNN_VECTOR
typedef double cs_vd __attribute__((vector_size(32)));
typedef int64_t cs_vdi __attribute__((vector_size(32)));
typedef uint64_t cs_vdu __attribute__((vector_size(32)));
#define CS_V cs_vd
#define CS_VI cs_vdi
#define CS_VU cs_vdu
#define CS_NV 4
#endif
#include "rnn_kernels_impl.h"

#endif /* CS231N_FAST_RNN_KERNELS_H */
