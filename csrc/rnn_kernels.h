/* Elementwise micro-kernels for cs231n_fast._ext.rnn: exp, sigmoid, tanh and the fused LSTM /
 * vanilla-RNN forward pass over one row of gates.
 *
 * Why not libm: glibc's tanhf goes through a scalar expm1f and took as long as the step's GEMMs.
 * Here exp is evaluated only for arguments <= 0 (sigmoid needs exp(-|z|), tanh exp(-2|z|)) with
 * Cody-Waite range reduction and a Taylor polynomial (float: degree 7, double: degree 12), scaled
 * by 2^n in two steps so that subnormal results round once; tanh uses its Taylor series below
 * |z| < 1/8 (no cancellation) and (1 - e) / (1 + e) above (1 - e is exact there). Measured
 * against long double over [-100, 100]: sigmoid within 3 ulp, tanh within 4 ulp (float) and
 * 7 ulp (double, just above 1/8, where e's error is amplified by e / (1 - e) < 3.5). sigmoid(-inf) = 0, sigmoid(+inf) = 1, tanh(+-inf) = +-1, NaN
 * propagates, and nothing overflows or warns.
 *
 * Determinism: the vector loops (GCC/Clang generic vectors, 8 floats or 4 doubles) and the
 * scalar loops (tails, and the portable build with CS231N_FAST_SCALAR_KERNELS) perform the same
 * IEEE operations in the same order, selects are exact, and setup.py passes -ffp-contract=off,
 * so every element's result is bitwise the same whichever loop, clone (target_clones: AVX2 or
 * baseline) or block split computed it.
 */
#ifndef CS231N_FAST_RNN_KERNELS_H
#define CS231N_FAST_RNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(__SANITIZE_ADDRESS__)
#define CS_RNN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CS_RNN_CLONES
#endif

#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 9) && !defined(CS231N_FAST_SCALAR_KERNELS)
#define CS_RNN_VECTOR 1
#endif

/* ---- constants ---------------------------------------------------------------------------- */
#define CSF_LOG2E 1.44269504088896341f
#define CSF_SHIFT 12582912.0f            /* 1.5 * 2^23: adding it rounds to an integer */
#define CSF_LN2_HI 0.693145751953125f    /* 15 significant bits: n * LN2_HI is exact */
#define CSF_LN2_LO 1.428606765330187045e-06f
#define CSF_MIN_ARG (-104.0f)            /* below: exp rounds to 0 */
#define CSF_DOWN 5.42101086242752217e-20f /* 2^-64: results below 2^-126 round once, as subnormals */
#define CSF_TANH_SMALL 0.125f

#define CSD_LOG2E 1.44269504088896338700e+00
#define CSD_SHIFT 6755399441055744.0     /* 1.5 * 2^52 */
#define CSD_LN2_HI 6.93147180369123816490e-01
#define CSD_LN2_LO 1.90821492927058770002e-10
#define CSD_MIN_ARG (-746.0)
#define CSD_DOWN 2.93873587705571876992e-39 /* 2^-128 */
#define CSD_TANH_SMALL 0.125

/* exp(r) for |r| <= ln2/2, Horner from the highest Taylor term. (The first line's "(r) * 0 +"
 * broadcasts the constant when r is a vector; it is exact, and the scalar code does the same.) */
#define CSF_EXP_POLY(p, r)                                                                     \
    p = (r) * 0 + 1.98412698412698413e-4f;                                                               \
    p = p * (r) + 1.38888888888888889e-3f;                                                     \
    p = p * (r) + 8.33333333333333333e-3f;                                                     \
    p = p * (r) + 4.16666666666666667e-2f;                                                     \
    p = p * (r) + 1.66666666666666667e-1f;                                                     \
    p = p * (r) + 0.5f;                                                                        \
    p = p * (r) + 1.0f;                                                                        \
    p = p * (r) + 1.0f;

#define CSD_EXP_POLY(p, r)                                                                     \
    p = (r) * 0 + 2.08767569878680989792e-09;                                                            \
    p = p * (r) + 2.50521083854417187751e-08;                                                  \
    p = p * (r) + 2.75573192239858906526e-07;                                                  \
    p = p * (r) + 2.75573192239858906526e-06;                                                  \
    p = p * (r) + 2.48015873015873015873e-05;                                                  \
    p = p * (r) + 1.98412698412698412698e-04;                                                  \
    p = p * (r) + 1.38888888888888888889e-03;                                                  \
    p = p * (r) + 8.33333333333333333333e-03;                                                  \
    p = p * (r) + 4.16666666666666666667e-02;                                                  \
    p = p * (r) + 1.66666666666666666667e-01;                                                  \
    p = p * (r) + 0.5;                                                                         \
    p = p * (r) + 1.0;                                                                         \
    p = p * (r) + 1.0;

/* tanh(a) / a - 1 as a polynomial in a^2 for 0 <= a < 1/8 (Taylor; next term below 1e-9 / 1e-16
 * relative). */
#define CSF_TANH_POLY(q, z2)                                                                   \
    q = (z2) * 0 + 2.18694885361552028e-2f;                                                               \
    q = q * (z2) - 5.39682539682539683e-2f;                                                    \
    q = q * (z2) + 1.33333333333333333e-1f;                                                    \
    q = q * (z2) - 3.33333333333333333e-1f;

#define CSD_TANH_POLY(q, z2)                                                                   \
    q = (z2) * 0 + -1.45583438705131826824e-03;                                                           \
    q = q * (z2) + 3.59212803657248101694e-03;                                                 \
    q = q * (z2) - 8.86323552990219656886e-03;                                                 \
    q = q * (z2) + 2.18694885361552028219e-02;                                                 \
    q = q * (z2) - 5.39682539682539682540e-02;                                                 \
    q = q * (z2) + 1.33333333333333333333e-01;                                                 \
    q = q * (z2) - 3.33333333333333333333e-01;

/* ---- scalar ------------------------------------------------------------------------------- */

static inline float cs_expn_f(float x) /* exp(x) for x <= 0 (or NaN) */
{
    float xc = x < CSF_MIN_ARG ? CSF_MIN_ARG : x, t, n, r, p, s;
    int32_t ti;
    t = xc * CSF_LOG2E + CSF_SHIFT;
    n = t - CSF_SHIFT;
    r = (xc - n * CSF_LN2_HI) - n * CSF_LN2_LO;
    CSF_EXP_POLY(p, r)
    memcpy(&ti, &t, 4);
    ti = (int32_t)((uint32_t)(ti - 0x4B400000 + 127 + 64) << 23);
    memcpy(&s, &ti, 4);
    p = (p * s) * CSF_DOWN;
    return x < CSF_MIN_ARG ? 0.0f : p;
}

static inline double cs_expn_d(double x)
{
    double xc = x < CSD_MIN_ARG ? CSD_MIN_ARG : x, t, n, r, p, s;
    int64_t ti;
    t = xc * CSD_LOG2E + CSD_SHIFT;
    n = t - CSD_SHIFT;
    r = (xc - n * CSD_LN2_HI) - n * CSD_LN2_LO;
    CSD_EXP_POLY(p, r)
    memcpy(&ti, &t, 8);
    ti = (int64_t)((uint64_t)(ti - 0x4338000000000000LL + 1023 + 128) << 52);
    memcpy(&s, &ti, 8);
    p = (p * s) * CSD_DOWN;
    return x < CSD_MIN_ARG ? 0.0 : p;
}

static inline float cs_abs_sf(float z) { uint32_t u; memcpy(&u, &z, 4); u &= 0x7fffffffu; memcpy(&z, &u, 4); return z; }
static inline double cs_abs_sd(double z) { uint64_t u; memcpy(&u, &z, 8); u &= 0x7fffffffffffffffULL; memcpy(&z, &u, 8); return z; }

static inline float cs_sigmoid_sf(float z)
{
    float e = cs_expn_f(-cs_abs_sf(z));
    return (z >= 0.0f ? 1.0f : e) / (1.0f + e);
}

static inline double cs_sigmoid_sd(double z)
{
    double e = cs_expn_d(-cs_abs_sd(z));
    return (z >= 0.0 ? 1.0 : e) / (1.0 + e);
}

static inline float cs_tanh_sf(float z)
{
    float a = cs_abs_sf(z), e = cs_expn_f(-(a + a)), z2 = a * a, q, big, res;
    uint32_t u, sg;
    CSF_TANH_POLY(q, z2)
    big = (1.0f - e) / (1.0f + e);
    res = a < CSF_TANH_SMALL ? a + a * (z2 * q) : big;
    memcpy(&sg, &z, 4);
    memcpy(&u, &res, 4);
    u |= sg & 0x80000000u;
    memcpy(&res, &u, 4);
    return res;
}

static inline double cs_tanh_sd(double z)
{
    double a = cs_abs_sd(z), e = cs_expn_d(-(a + a)), z2 = a * a, q, big, res;
    uint64_t u, sg;
    CSD_TANH_POLY(q, z2)
    big = (1.0 - e) / (1.0 + e);
    res = a < CSD_TANH_SMALL ? a + a * (z2 * q) : big;
    memcpy(&sg, &z, 8);
    memcpy(&u, &res, 8);
    u |= sg & 0x8000000000000000ULL;
    memcpy(&res, &u, 8);
    return res;
}

/* ---- vector ------------------------------------------------------------------------------- */
#ifdef CS_RNN_VECTOR
typedef float cs_vf __attribute__((vector_size(32)));
typedef int32_t cs_vfi __attribute__((vector_size(32)));
typedef uint32_t cs_vfu __attribute__((vector_size(32)));
typedef double cs_vd __attribute__((vector_size(32)));
typedef int64_t cs_vdi __attribute__((vector_size(32)));
typedef uint64_t cs_vdu __attribute__((vector_size(32)));
#define CS_VF_N 8
#define CS_VD_N 4

static inline cs_vf cs_ldv_f(const float *p) { cs_vf v; memcpy(&v, p, sizeof v); return v; }
static inline void cs_stv_f(float *p, cs_vf v) { memcpy(p, &v, sizeof v); }
static inline cs_vd cs_ldv_d(const double *p) { cs_vd v; memcpy(&v, p, sizeof v); return v; }
static inline void cs_stv_d(double *p, cs_vd v) { memcpy(p, &v, sizeof v); }
/* m ? a : b, lane by lane (m all-ones or all-zeros per lane) */
static inline cs_vf cs_sel_f(cs_vfi m, cs_vf a, cs_vf b) { return (cs_vf)(((cs_vfi)a & m) | ((cs_vfi)b & ~m)); }
static inline cs_vd cs_sel_d(cs_vdi m, cs_vd a, cs_vd b) { return (cs_vd)(((cs_vdi)a & m) | ((cs_vdi)b & ~m)); }

static inline cs_vf cs_expn_vf(cs_vf x)
{
    const cs_vf lo = CSF_MIN_ARG - (cs_vf){0}, zero = {0};
    cs_vfi small = x < lo;
    cs_vf xc = cs_sel_f(small, lo, x), t, n, r, p;
    cs_vfi ti;
    t = xc * CSF_LOG2E + CSF_SHIFT;
    n = t - CSF_SHIFT;
    r = (xc - n * CSF_LN2_HI) - n * CSF_LN2_LO;
    CSF_EXP_POLY(p, r)
    ti = (cs_vfi)((cs_vfu)((cs_vfi)t - 0x4B400000 + 127 + 64) << 23);
    p = (p * (cs_vf)ti) * CSF_DOWN;
    return cs_sel_f(small, zero, p);
}

static inline cs_vd cs_expn_vd(cs_vd x)
{
    const cs_vd lo = CSD_MIN_ARG - (cs_vd){0}, zero = {0};
    cs_vdi small = x < lo;
    cs_vd xc = cs_sel_d(small, lo, x), t, n, r, p;
    cs_vdi ti;
    t = xc * CSD_LOG2E + CSD_SHIFT;
    n = t - CSD_SHIFT;
    r = (xc - n * CSD_LN2_HI) - n * CSD_LN2_LO;
    CSD_EXP_POLY(p, r)
    ti = (cs_vdi)((cs_vdu)((cs_vdi)t - 0x4338000000000000LL + 1023 + 128) << 52);
    p = (p * (cs_vd)ti) * CSD_DOWN;
    return cs_sel_d(small, zero, p);
}

static inline cs_vf cs_abs_vf(cs_vf z) { return (cs_vf)((cs_vfi)z & 0x7fffffff); }
static inline cs_vd cs_abs_vd(cs_vd z) { return (cs_vd)((cs_vdi)z & 0x7fffffffffffffffLL); }

static inline cs_vf cs_sigmoid_vf(cs_vf z)
{
    const cs_vf one = 1.0f - (cs_vf){0}, zero = {0};
    cs_vf e = cs_expn_vf(-cs_abs_vf(z));
    return cs_sel_f(z >= zero, one, e) / (1.0f + e);
}

static inline cs_vd cs_sigmoid_vd(cs_vd z)
{
    const cs_vd one = 1.0 - (cs_vd){0}, zero = {0};
    cs_vd e = cs_expn_vd(-cs_abs_vd(z));
    return cs_sel_d(z >= zero, one, e) / (1.0 + e);
}

static inline cs_vf cs_tanh_vf(cs_vf z)
{
    const cs_vf thr = CSF_TANH_SMALL - (cs_vf){0};
    cs_vf a = cs_abs_vf(z), e = cs_expn_vf(-(a + a)), z2 = a * a, q, big, res;
    CSF_TANH_POLY(q, z2)
    big = (1.0f - e) / (1.0f + e);
    res = cs_sel_f(a < thr, a + a * (z2 * q), big);
    return (cs_vf)((cs_vfi)res | ((cs_vfi)z & (int32_t)0x80000000u));
}

static inline cs_vd cs_tanh_vd(cs_vd z)
{
    const cs_vd thr = CSD_TANH_SMALL - (cs_vd){0};
    cs_vd a = cs_abs_vd(z), e = cs_expn_vd(-(a + a)), z2 = a * a, q, big, res;
    CSD_TANH_POLY(q, z2)
    big = (1.0 - e) / (1.0 + e);
    res = cs_sel_d(a < thr, a + a * (z2 * q), big);
    return (cs_vd)((cs_vdi)res | ((cs_vdi)z & (int64_t)0x8000000000000000ULL));
}
#endif

/* ---- row kernels -------------------------------------------------------------------------- */
/* One LSTM row, hidden units [j0, j1): a holds the row's 4H pre-activations (bias not yet
 * added) and receives the activated gates; cp (the previous cell row) may be NULL for zeros. */
#define CS_LSTM_ROW(T, SIG, TANH)                                                              \
    {                                                                                          \
        T vi = SIG(a[j] + b[j]), vf = SIG(a[hd + j] + b[hd + j]);                              \
        T vo = SIG(a[2 * hd + j] + b[2 * hd + j]), vg = TANH(a[3 * hd + j] + b[3 * hd + j]);   \
        T c = cp ? vf * cp[j] + vi * vg : vi * vg, t = TANH(c);                                \
        a[j] = vi; a[hd + j] = vf; a[2 * hd + j] = vo; a[3 * hd + j] = vg;                     \
        cn[j] = c; tc[j] = t; hn[j] = vo * t;                                                  \
    }

#define CS_LSTM_VROW(V, LD, ST, SIG, TANH)                                                     \
    {                                                                                          \
        V vi = SIG(LD(a + j) + LD(b + j)), vf = SIG(LD(a + hd + j) + LD(b + hd + j));          \
        V vo = SIG(LD(a + 2 * hd + j) + LD(b + 2 * hd + j));                                   \
        V vg = TANH(LD(a + 3 * hd + j) + LD(b + 3 * hd + j));                                  \
        V c = cp ? vf * LD(cp + j) + vi * vg : vi * vg, t = TANH(c);                           \
        ST(a + j, vi); ST(a + hd + j, vf); ST(a + 2 * hd + j, vo); ST(a + 3 * hd + j, vg);     \
        ST(cn + j, c); ST(tc + j, t); ST(hn + j, vo * t);                                      \
    }

CS_RNN_CLONES static void cs_lstm_row_f(float *a, const float *b, const float *cp, float *cn,
                                        float *tc, float *hn, ptrdiff_t hd, ptrdiff_t j0,
                                        ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    for (; j + CS_VF_N <= j1; j += CS_VF_N) CS_LSTM_VROW(cs_vf, cs_ldv_f, cs_stv_f, cs_sigmoid_vf, cs_tanh_vf)
#endif
    for (; j < j1; j++) CS_LSTM_ROW(float, cs_sigmoid_sf, cs_tanh_sf)
}

CS_RNN_CLONES static void cs_lstm_row_d(double *a, const double *b, const double *cp, double *cn,
                                        double *tc, double *hn, ptrdiff_t hd, ptrdiff_t j0,
                                        ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    for (; j + CS_VD_N <= j1; j += CS_VD_N) CS_LSTM_VROW(cs_vd, cs_ldv_d, cs_stv_d, cs_sigmoid_vd, cs_tanh_vd)
#endif
    for (; j < j1; j++) CS_LSTM_ROW(double, cs_sigmoid_sd, cs_tanh_sd)
}

/* One vanilla-RNN row: hn[j] = tanh(a[j] + b[j]) for j in [j0, j1). */
CS_RNN_CLONES static void cs_rnn_row_f(const float *a, const float *b, float *hn, ptrdiff_t j0,
                                       ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    for (; j + CS_VF_N <= j1; j += CS_VF_N) cs_stv_f(hn + j, cs_tanh_vf(cs_ldv_f(a + j) + cs_ldv_f(b + j)));
#endif
    for (; j < j1; j++) hn[j] = cs_tanh_sf(a[j] + b[j]);
}

CS_RNN_CLONES static void cs_rnn_row_d(const double *a, const double *b, double *hn, ptrdiff_t j0,
                                       ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    for (; j + CS_VD_N <= j1; j += CS_VD_N) cs_stv_d(hn + j, cs_tanh_vd(cs_ldv_d(a + j) + cs_ldv_d(b + j)));
#endif
    for (; j < j1; j++) hn[j] = cs_tanh_sd(a[j] + b[j]);
}

/* Backward of one LSTM row, hidden units [j0, j1): the pre-activation gradient da (4H, gate
 * order i, f, o, g) from the upstream hidden-state gradient up (+ rec, the recurrent one, when
 * not NULL), the incoming cell gradient dcin (NULL: zero), the activated gates g, the previous
 * cell cp (NULL: zero) and tanh of the cell tc; writes the previous cell's gradient to dcout
 * (which may be dcin: each element is read before it is written). */
#define CS_LSTM_BWD_ROW(T, LD, ST, ONE, ZERO)                                                  \
    {                                                                                          \
        T dh = LD(up + j), vi, vf, vo, vg, t, dc, c_prev;                                      \
        if (rec) dh = dh + LD(rec + j);                                                        \
        vi = LD(g + j); vf = LD(g + hd + j); vo = LD(g + 2 * hd + j); vg = LD(g + 3 * hd + j); \
        t = LD(tc + j);                                                                        \
        dc = dh * vo * (ONE - t * t);                                                          \
        if (dcin) dc = LD(dcin + j) + dc;                                                      \
        c_prev = cp ? LD(cp + j) : ZERO;                                                       \
        ST(da + j, dc * vg * vi * (ONE - vi));                                                 \
        ST(da + hd + j, dc * c_prev * vf * (ONE - vf));                                        \
        ST(da + 2 * hd + j, dh * t * vo * (ONE - vo));                                         \
        ST(da + 3 * hd + j, dc * vi * (ONE - vg * vg));                                        \
        ST(dcout + j, dc * vf);                                                                \
    }

#define CS_SLD(p) (*(p))
#define CS_SST(p, v) (*(p) = (v))

CS_RNN_CLONES static void cs_lstm_bwd_row_f(const float *up, const float *rec, const float *dcin,
                                            float *dcout, const float *g, const float *cp,
                                            const float *tc, float *da, ptrdiff_t hd,
                                            ptrdiff_t j0, ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    const cs_vf one = 1.0f - (cs_vf){0}, zero = {0};
    for (; j + CS_VF_N <= j1; j += CS_VF_N) CS_LSTM_BWD_ROW(cs_vf, cs_ldv_f, cs_stv_f, one, zero)
#endif
    for (; j < j1; j++) CS_LSTM_BWD_ROW(float, CS_SLD, CS_SST, 1.0f, 0.0f)
}

CS_RNN_CLONES static void cs_lstm_bwd_row_d(const double *up, const double *rec, const double *dcin,
                                            double *dcout, const double *g, const double *cp,
                                            const double *tc, double *da, ptrdiff_t hd,
                                            ptrdiff_t j0, ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    const cs_vd one = 1.0 - (cs_vd){0}, zero = {0};
    for (; j + CS_VD_N <= j1; j += CS_VD_N) CS_LSTM_BWD_ROW(cs_vd, cs_ldv_d, cs_stv_d, one, zero)
#endif
    for (; j < j1; j++) CS_LSTM_BWD_ROW(double, CS_SLD, CS_SST, 1.0, 0.0)
}

/* Backward of one vanilla-RNN row: da[j] = (up[j] (+ rec[j])) * (1 - hn[j]^2). */
#define CS_RNN_BWD_ROW(T, LD, ST, ONE)                                                         \
    {                                                                                          \
        T dh = LD(up + j), t = LD(hn + j);                                                     \
        if (rec) dh = dh + LD(rec + j);                                                        \
        ST(da + j, dh * (ONE - t * t));                                                        \
    }

CS_RNN_CLONES static void cs_rnn_bwd_row_f(const float *up, const float *rec, const float *hn,
                                           float *da, ptrdiff_t j0, ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    const cs_vf one = 1.0f - (cs_vf){0};
    for (; j + CS_VF_N <= j1; j += CS_VF_N) CS_RNN_BWD_ROW(cs_vf, cs_ldv_f, cs_stv_f, one)
#endif
    for (; j < j1; j++) CS_RNN_BWD_ROW(float, CS_SLD, CS_SST, 1.0f)
}

CS_RNN_CLONES static void cs_rnn_bwd_row_d(const double *up, const double *rec, const double *hn,
                                           double *da, ptrdiff_t j0, ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    const cs_vd one = 1.0 - (cs_vd){0};
    for (; j + CS_VD_N <= j1; j += CS_VD_N) CS_RNN_BWD_ROW(cs_vd, cs_ldv_d, cs_stv_d, one)
#endif
    for (; j < j1; j++) CS_RNN_BWD_ROW(double, CS_SLD, CS_SST, 1.0)
}

/* acc[j] += x[j] for j in [j0, j1) (column sums of a matrix, one row at a time: every element's
 * sum runs over the rows in order, however the loop is vectorised). */
static void cs_add_row_f(float *restrict acc, const float *restrict x, ptrdiff_t j0, ptrdiff_t j1)
{
    for (ptrdiff_t j = j0; j < j1; j++) acc[j] += x[j];
}

static void cs_add_row_d(double *restrict acc, const double *restrict x, ptrdiff_t j0, ptrdiff_t j1)
{
    for (ptrdiff_t j = j0; j < j1; j++) acc[j] += x[j];
}

/* out[i] = sigmoid(z[i]) / tanh(z[i]) for i in [0, n). */
CS_RNN_CLONES static void cs_sigmoid_f(const float *z, float *out, ptrdiff_t n)
{
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
    for (; i + CS_VF_N <= n; i += CS_VF_N) cs_stv_f(out + i, cs_sigmoid_vf(cs_ldv_f(z + i)));
#endif
    for (; i < n; i++) out[i] = cs_sigmoid_sf(z[i]);
}

CS_RNN_CLONES static void cs_sigmoid_d(const double *z, double *out, ptrdiff_t n)
{
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
    for (; i + CS_VD_N <= n; i += CS_VD_N) cs_stv_d(out + i, cs_sigmoid_vd(cs_ldv_d(z + i)));
#endif
    for (; i < n; i++) out[i] = cs_sigmoid_sd(z[i]);
}

CS_RNN_CLONES static void cs_tanh_f(const float *z, float *out, ptrdiff_t n)
{
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
    for (; i + CS_VF_N <= n; i += CS_VF_N) cs_stv_f(out + i, cs_tanh_vf(cs_ldv_f(z + i)));
#endif
    for (; i < n; i++) out[i] = cs_tanh_sf(z[i]);
}

CS_RNN_CLONES static void cs_tanh_d(const double *z, double *out, ptrdiff_t n)
{
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
    for (; i + CS_VD_N <= n; i += CS_VD_N) cs_stv_d(out + i, cs_tanh_vd(cs_ldv_d(z + i)));
#endif
    for (; i < n; i++) out[i] = cs_tanh_sd(z[i]);
}

#endif /* CS231N_FAST_RNN_KERNELS_H */
