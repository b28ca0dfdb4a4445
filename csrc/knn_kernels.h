/* Distance micro-kernels for cs231n_fast._ext.distances.
 *
 * Every sum runs over a fixed number of lanes (8) in a fixed order and the lanes are combined
 * in a fixed tree, so a result depends only on the inputs: not on the thread count, not on the
 * instruction set the compiler picked. On x86-64 Linux with gcc and glibc (ifunc.h) each hot
 * function is built twice (target_clones: AVX2 and the baseline) and the loader picks one at
 * start-up; both perform the same IEEE operations per lane, so their results are bitwise
 * identical. (No FMA: "avx2" does not enable it, and setup.py passes -ffp-contract=off.)
 */
#ifndef CS231N_FAST_KNN_KERNELS_H
#define CS231N_FAST_KNN_KERNELS_H

#include <math.h>
#include <stddef.h>

#include "ifunc.h"

#if defined(CS_HAVE_IFUNC)
#define CS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CS_CLONES
#endif

#define CS_LANES 8

/* CS231N_FAST_SCALAR_KERNELS forces the portable loops (CI builds one variant that way and
 * checks that its results are bitwise identical). */
#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 9) && !defined(CS231N_FAST_SCALAR_KERNELS)
/* GCC/Clang vector extensions: one 8-lane vector per accumulator, so each lane is one
 * independent running sum (exactly what the portable loop below computes, but the compiler
 * cannot get the mapping wrong). Lowered to AVX2 or to pairs of SSE registers. */
#include <string.h>
#define CS_VECTOR 1
typedef float cs_v8f __attribute__((vector_size(32)));
typedef int cs_v8i __attribute__((vector_size(32)));
typedef double cs_v4d __attribute__((vector_size(32)));
typedef long long cs_v4l __attribute__((vector_size(32)));
typedef float cs_v4f __attribute__((vector_size(16)));

/* Eight double lanes as two 256-bit halves (lanes 0-3 and 4-7): wider generic vectors make
 * gcc spill. */
typedef struct { cs_v4d lo, hi; } cs_v8d;

static inline cs_v8f cs_ld_f(const float *p) { cs_v8f v; memcpy(&v, p, sizeof v); return v; }
static inline cs_v8f cs_abs_f(cs_v8f v) { return (cs_v8f)((cs_v8i)v & 0x7fffffff); }
static inline cs_v4d cs_ld4_d(const double *p) { cs_v4d v; memcpy(&v, p, sizeof v); return v; }
static inline cs_v4d cs_ld4_fd(const float *p)
{
    cs_v4f v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, cs_v4d);
}
static inline cs_v4d cs_abs4_d(cs_v4d v) { return (cs_v4d)((cs_v4l)v & 0x7fffffffffffffffLL); }
static inline cs_v8d cs_ld_d(const double *p) { cs_v8d v = {cs_ld4_d(p), cs_ld4_d(p + 4)}; return v; }
static inline cs_v8d cs_ld_fd(const float *p) { cs_v8d v = {cs_ld4_fd(p), cs_ld4_fd(p + 4)}; return v; }
static inline cs_v8d cs_sub_d(cs_v8d a, cs_v8d b) { cs_v8d v = {a.lo - b.lo, a.hi - b.hi}; return v; }
static inline cs_v8d cs_abs_d(cs_v8d a) { cs_v8d v = {cs_abs4_d(a.lo), cs_abs4_d(a.hi)}; return v; }
static inline cs_v8d cs_add_d(cs_v8d a, cs_v8d b) { cs_v8d v = {a.lo + b.lo, a.hi + b.hi}; return v; }
static inline cs_v8d cs_mul_d(cs_v8d a, cs_v8d b) { cs_v8d v = {a.lo * b.lo, a.hi * b.hi}; return v; }
static inline void cs_store_d(double *a, cs_v8d v) { memcpy(a, &v.lo, 32); memcpy(a + 4, &v.hi, 32); }
#endif

#define CS_COMBINE(a) \
    ((((a)[0] + (a)[4]) + ((a)[2] + (a)[6])) + (((a)[1] + (a)[5]) + ((a)[3] + (a)[7])))

/* Tail: the last d % 8 elements go to lanes 0.. in order, after the main loop (same in both
 * code paths). */
#define CS_TAIL_L1(T, ABS, acc, x, y)                                                          \
    for (l = 0; k + l < d; l++) (acc)[l] += ABS((x)[k + l] - (y)[k + l]);

/* L1 distances of one row y to four rows x0..x3, accumulated in the input type. */
#ifdef CS_VECTOR
CS_CLONES static void cs_l1_4_f(const float *y, const float *x0, const float *x1, const float *x2,
                                const float *x3, ptrdiff_t d, float *out)
{
    cs_v8f v0 = {0}, v1 = {0}, v2 = {0}, v3 = {0};
    float a0[CS_LANES], a1[CS_LANES], a2[CS_LANES], a3[CS_LANES];
    ptrdiff_t k = 0;
    int l;
    for (; k + CS_LANES <= d; k += CS_LANES) {
        cs_v8f yy = cs_ld_f(y + k);
        v0 += cs_abs_f(cs_ld_f(x0 + k) - yy);
        v1 += cs_abs_f(cs_ld_f(x1 + k) - yy);
        v2 += cs_abs_f(cs_ld_f(x2 + k) - yy);
        v3 += cs_abs_f(cs_ld_f(x3 + k) - yy);
    }
    memcpy(a0, &v0, sizeof v0); memcpy(a1, &v1, sizeof v1);
    memcpy(a2, &v2, sizeof v2); memcpy(a3, &v3, sizeof v3);
    CS_TAIL_L1(float, fabsf, a0, x0, y) CS_TAIL_L1(float, fabsf, a1, x1, y)
    CS_TAIL_L1(float, fabsf, a2, x2, y) CS_TAIL_L1(float, fabsf, a3, x3, y)
    out[0] = CS_COMBINE(a0); out[1] = CS_COMBINE(a1);
    out[2] = CS_COMBINE(a2); out[3] = CS_COMBINE(a3);
}

CS_CLONES static void cs_l1_4_d(const double *y, const double *x0, const double *x1,
                                const double *x2, const double *x3, ptrdiff_t d, double *out)
{
    cs_v8d z = {{0}, {0}}, v0 = z, v1 = z, v2 = z, v3 = z;
    double a0[CS_LANES], a1[CS_LANES], a2[CS_LANES], a3[CS_LANES];
    ptrdiff_t k = 0;
    int l;
    for (; k + CS_LANES <= d; k += CS_LANES) {
        cs_v8d yy = cs_ld_d(y + k);
        v0 = cs_add_d(v0, cs_abs_d(cs_sub_d(cs_ld_d(x0 + k), yy)));
        v1 = cs_add_d(v1, cs_abs_d(cs_sub_d(cs_ld_d(x1 + k), yy)));
        v2 = cs_add_d(v2, cs_abs_d(cs_sub_d(cs_ld_d(x2 + k), yy)));
        v3 = cs_add_d(v3, cs_abs_d(cs_sub_d(cs_ld_d(x3 + k), yy)));
    }
    cs_store_d(a0, v0); cs_store_d(a1, v1); cs_store_d(a2, v2); cs_store_d(a3, v3);
    CS_TAIL_L1(double, fabs, a0, x0, y) CS_TAIL_L1(double, fabs, a1, x1, y)
    CS_TAIL_L1(double, fabs, a2, x2, y) CS_TAIL_L1(double, fabs, a3, x3, y)
    out[0] = CS_COMBINE(a0); out[1] = CS_COMBINE(a1);
    out[2] = CS_COMBINE(a2); out[3] = CS_COMBINE(a3);
}
#else
#define CS_DEFINE_L1_4(NAME, T, ABS)                                                           \
    static void NAME(const T *y, const T *x0, const T *x1, const T *x2, const T *x3,           \
                     ptrdiff_t d, T *out)                                                      \
    {                                                                                          \
        T a0[CS_LANES] = {0}, a1[CS_LANES] = {0}, a2[CS_LANES] = {0}, a3[CS_LANES] = {0};      \
        ptrdiff_t k = 0;                                                                       \
        int l;                                                                                 \
        for (; k + CS_LANES <= d; k += CS_LANES)                                               \
            for (l = 0; l < CS_LANES; l++) {                                                   \
                T v = y[k + l];                                                                \
                a0[l] += ABS(x0[k + l] - v); a1[l] += ABS(x1[k + l] - v);                      \
                a2[l] += ABS(x2[k + l] - v); a3[l] += ABS(x3[k + l] - v);                      \
            }                                                                                  \
        CS_TAIL_L1(T, ABS, a0, x0, y) CS_TAIL_L1(T, ABS, a1, x1, y)                            \
        CS_TAIL_L1(T, ABS, a2, x2, y) CS_TAIL_L1(T, ABS, a3, x3, y)                            \
        out[0] = CS_COMBINE(a0); out[1] = CS_COMBINE(a1);                                      \
        out[2] = CS_COMBINE(a2); out[3] = CS_COMBINE(a3);                                      \
    }
CS_DEFINE_L1_4(cs_l1_4_f, float, fabsf)
CS_DEFINE_L1_4(cs_l1_4_d, double, fabs)
#endif

/* Exact distance of one pair in double: differences of float inputs are exact in double and
 * the sums carry double rounding only. sq: 1 for squared L2, 0 for L1. */
#ifdef CS_VECTOR
#define CS_DEFINE_EXACT(NAME, T, LDD)                                                          \
    CS_CLONES static double NAME(const T *x, const T *y, ptrdiff_t d, int sq)                  \
    {                                                                                          \
        cs_v8d v = {{0}, {0}};                                                                 \
        double a[CS_LANES];                                                                    \
        ptrdiff_t k = 0;                                                                       \
        int l;                                                                                 \
        if (sq) {                                                                              \
            for (; k + CS_LANES <= d; k += CS_LANES) {                                         \
                cs_v8d t = cs_sub_d(LDD(x + k), LDD(y + k));                                   \
                v = cs_add_d(v, cs_mul_d(t, t));                                               \
            }                                                                                  \
        } else {                                                                               \
            for (; k + CS_LANES <= d; k += CS_LANES)                                           \
                v = cs_add_d(v, cs_abs_d(cs_sub_d(LDD(x + k), LDD(y + k))));                   \
        }                                                                                      \
        cs_store_d(a, v);                                                                      \
        for (l = 0; k + l < d; l++) {                                                          \
            double t = (double)x[k + l] - (double)y[k + l];                                    \
            a[l] += sq ? t * t : fabs(t);                                                      \
        }                                                                                      \
        return CS_COMBINE(a);                                                                  \
    }
CS_DEFINE_EXACT(cs_exact_f, float, cs_ld_fd)
CS_DEFINE_EXACT(cs_exact_d, double, cs_ld_d)

#define CS_DEFINE_SQNORM(NAME, T, LDD)                                                         \
    CS_CLONES static double NAME(const T *x, ptrdiff_t d)                                      \
    {                                                                                          \
        cs_v8d v = {{0}, {0}};                                                                 \
        double a[CS_LANES];                                                                    \
        ptrdiff_t k = 0;                                                                       \
        int l;                                                                                 \
        for (; k + CS_LANES <= d; k += CS_LANES) {                                             \
            cs_v8d t = LDD(x + k);                                                             \
            v = cs_add_d(v, cs_mul_d(t, t));                                                   \
        }                                                                                      \
        cs_store_d(a, v);                                                                      \
        for (l = 0; k + l < d; l++) a[l] += (double)x[k + l] * (double)x[k + l];               \
        return CS_COMBINE(a);                                                                  \
    }
CS_DEFINE_SQNORM(cs_sqnorm_f, float, cs_ld_fd)
CS_DEFINE_SQNORM(cs_sqnorm_d, double, cs_ld_d)

/* 0 when every element of the row is finite, NaN otherwise (x * 0 is 0 for finite x and NaN
 * for NaN or +-Inf, and cannot overflow): the finiteness check of L1, which squares nothing. */
#define CS_DEFINE_FINITE(NAME, T, LDD)                                                         \
    CS_CLONES static double NAME(const T *x, ptrdiff_t d)                                      \
    {                                                                                          \
        cs_v8d v = {{0}, {0}}, z = {{0}, {0}};                                                 \
        double a[CS_LANES];                                                                    \
        ptrdiff_t k = 0;                                                                       \
        int l;                                                                                 \
        for (; k + CS_LANES <= d; k += CS_LANES) v = cs_add_d(v, cs_mul_d(LDD(x + k), z));     \
        cs_store_d(a, v);                                                                      \
        for (l = 0; k + l < d; l++) a[l] += (double)x[k + l] * 0.0;                            \
        return CS_COMBINE(a);                                                                  \
    }
CS_DEFINE_FINITE(cs_finite_f, float, cs_ld_fd)
CS_DEFINE_FINITE(cs_finite_d, double, cs_ld_d)
#else
#define CS_DEFINE_EXACT(NAME, T)                                                               \
    static double NAME(const T *x, const T *y, ptrdiff_t d, int sq)                            \
    {                                                                                          \
        double a[CS_LANES] = {0};                                                              \
        ptrdiff_t k = 0;                                                                       \
        int l;                                                                                 \
        for (; k + CS_LANES <= d; k += CS_LANES)                                               \
            for (l = 0; l < CS_LANES; l++) {                                                   \
                double t = (double)x[k + l] - (double)y[k + l];                                \
                a[l] += sq ? t * t : fabs(t);                                                  \
            }                                                                                  \
        for (l = 0; k + l < d; l++) {                                                          \
            double t = (double)x[k + l] - (double)y[k + l];                                    \
            a[l] += sq ? t * t : fabs(t);                                                      \
        }                                                                                      \
        return CS_COMBINE(a);                                                                  \
    }
CS_DEFINE_EXACT(cs_exact_f, float)
CS_DEFINE_EXACT(cs_exact_d, double)

#define CS_DEFINE_SQNORM(NAME, T)                                                              \
    static double NAME(const T *x, ptrdiff_t d)                                                \
    {                                                                                          \
        double a[CS_LANES] = {0};                                                              \
        ptrdiff_t k = 0;                                                                       \
        int l;                                                                                 \
        for (; k + CS_LANES <= d; k += CS_LANES)                                               \
            for (l = 0; l < CS_LANES; l++) a[l] += (double)x[k + l] * (double)x[k + l];        \
        for (l = 0; k + l < d; l++) a[l] += (double)x[k + l] * (double)x[k + l];               \
        return CS_COMBINE(a);                                                                  \
    }
CS_DEFINE_SQNORM(cs_sqnorm_f, float)
CS_DEFINE_SQNORM(cs_sqnorm_d, double)

#define CS_DEFINE_FINITE(NAME, T)                                                              \
    static double NAME(const T *x, ptrdiff_t d)                                                \
    {                                                                                          \
        double a[CS_LANES] = {0};                                                              \
        ptrdiff_t k = 0;                                                                       \
        int l;                                                                                 \
        for (; k + CS_LANES <= d; k += CS_LANES)                                               \
            for (l = 0; l < CS_LANES; l++) a[l] += (double)x[k + l] * 0.0;                     \
        for (l = 0; k + l < d; l++) a[l] += (double)x[k + l] * 0.0;                            \
        return CS_COMBINE(a);                                                                  \
    }
CS_DEFINE_FINITE(cs_finite_f, float)
CS_DEFINE_FINITE(cs_finite_d, double)
#endif

#endif
