/* Packed-panel float GEMM for the LSTM/RNN sequence's recurrent products (cs231n_fast._ext.rnn).
 *
 * Why: OpenBLAS packs its B operand on every call, and a sequence multiplies by the same Wh at
 * every time step (h_{t-1} Wh forward, da_t Wh^T backward). Here B is packed once per sequence
 * call into panels of CS_GP = 16 columns (panel p holds B[k][16p .. 16p+15] for k = 0..K-1,
 * contiguous, zero padded past the last column), and every step multiplies straight out of the
 * panels. A (the step's h or da, M x K row-major, any leading dimension) is read in place.
 *
 * Arithmetic: every element of C is ONE chain of fused multiply-adds in k order,
 *     c = C[i][j] (or 0);  for k = 0 .. K-1:  c = fmaf(A[i][k], B[k][j], c);  C[i][j] = c,
 * whichever code path computes it: the AVX-512 and AVX2 micro-kernels (explicit FMA
 * instructions, vertical: one lane per column), the k blocking (a block resumes the chain from
 * C) and the portable loop (fmaf, used by the build with CS231N_FAST_SCALAR_KERNELS, by
 * non-GCC/non-x86 builds and on CPUs without AVX2+FMA). The results are therefore bitwise
 * identical for any register tiling, any column partition among threads (each column has one
 * writer), any instruction set and the scalar build.
 *
 * Tiling: AVX-512: 8 rows x 32 columns (two panels, 16 zmm accumulators); AVX2: 4 rows x 16
 * columns (one panel as two ymm). K is taken in blocks of CS_GKC so one panel block stays in L2
 * while the row tiles of A stream past it. Edge tiles (fewer rows, a partial last panel) run the
 * same kernels on a small copy of the C tile.
 */
#ifndef CS231N_FAST_RNN_GEMM_H
#define CS231N_FAST_RNN_GEMM_H

#include <stddef.h>
#include <string.h>
#include <math.h>
#include <stdlib.h>

#define CS_GP 16    /* columns per packed panel */
#ifndef CS_GKC
#define CS_GKC 512  /* k block (measured on Zen 4: 128 99, 256 107, 512 111, 1024 109 GFLOP/s) */
#endif

#if defined(__GNUC__) && defined(__x86_64__) && !defined(CS231N_FAST_SCALAR_KERNELS) \
    && (defined(__clang__) || __GNUC__ >= 9)
#define CS_GEMM_X86 1
#include <immintrin.h>
#endif

/* The team of the enclosing parallel region (one thread, and no barrier, without OpenMP). The
 * sequences' packed paths partition the hidden units by the team's size: their results do not
 * depend on the partition (see "Arithmetic" above; the elementwise row kernels are per element). */
#ifdef _OPENMP
#include <omp.h>
static inline int cs_team_size(void) { return omp_get_num_threads(); }
static inline int cs_team_rank(void) { return omp_get_thread_num(); }
static inline void cs_team_barrier(void)
{
#pragma omp barrier
}
#else
static inline int cs_team_size(void) { return 1; }
static inline int cs_team_rank(void) { return 0; }
static inline void cs_team_barrier(void) {}
#endif

/* Number of panels for n columns. */
static inline ptrdiff_t cs_gemm_panels(ptrdiff_t n) { return (n + CS_GP - 1) / CS_GP; }

/* Pack panels [p0, p1) of B (k x n). trans == 0: B[kk][j] = b[kk * ldb + j]; trans != 0: B is
 * given transposed, B[kk][j] = b[j * ldb + kk]. dst is the whole packed buffer
 * (cs_gemm_panels(n) * k * CS_GP floats). */
static void cs_gemm_pack_f(const float *b, ptrdiff_t ldb, int trans, ptrdiff_t k, ptrdiff_t n,
                           float *dst, ptrdiff_t p0, ptrdiff_t p1)
{
    ptrdiff_t p, kk, j;
    for (p = p0; p < p1; p++) {
        float *d = dst + p * k * CS_GP;
        ptrdiff_t j0 = p * CS_GP, w = n - j0 < CS_GP ? n - j0 : CS_GP;
        if (!trans) {
            for (kk = 0; kk < k; kk++) {
                memcpy(d + kk * CS_GP, b + kk * ldb + j0, (size_t)w * sizeof(float));
                for (j = w; j < CS_GP; j++) d[kk * CS_GP + j] = 0.0f;
            }
        } else {
            for (kk = 0; kk < k; kk++)
                for (j = w; j < CS_GP; j++) d[kk * CS_GP + j] = 0.0f;
            for (j = 0; j < w; j++) {
                const float *s = b + (j0 + j) * ldb;
                for (kk = 0; kk < k; kk++) d[kk * CS_GP + j] = s[kk];
            }
        }
    }
}

/* ---- portable: the reference order ------------------------------------------------------- */
static void cs_gemm_tile_scalar(ptrdiff_t mr, ptrdiff_t w, ptrdiff_t kc, const float *a,
                                ptrdiff_t rsa, ptrdiff_t csa, const float *bp, float *c,
                                ptrdiff_t ldc)
{
    ptrdiff_t i, j, kk;
    for (i = 0; i < mr; i++) {
        float acc[CS_GP];
        for (j = 0; j < w; j++) acc[j] = c[i * ldc + j];
        for (kk = 0; kk < kc; kk++) {
            float av = a[i * rsa + kk * csa];
            for (j = 0; j < w; j++) acc[j] = fmaf(av, bp[kk * CS_GP + j], acc[j]);
        }
        for (j = 0; j < w; j++) c[i * ldc + j] = acc[j];
    }
}

#ifdef CS_GEMM_X86
/* C tile (mr x 16 nv) += A (mr x kc) B (kc x 16 nv) from nv panels b0, b1; mr, nv constant
 * after inlining. */
static inline __attribute__((always_inline, target("avx512f"))) void
cs_gemm_k512(const int mr, const int nv, ptrdiff_t kc, const float *a, ptrdiff_t rsa,
             ptrdiff_t csa, const float *b0, const float *b1, float *c, ptrdiff_t ldc)
{
    __m512 acc0[8], acc1[8];
    ptrdiff_t kk;
    int i;
#pragma GCC unroll 8
    for (i = 0; i < mr; i++) {
        acc0[i] = _mm512_loadu_ps(c + i * ldc);
        if (nv == 2) acc1[i] = _mm512_loadu_ps(c + i * ldc + CS_GP);
    }
    for (kk = 0; kk < kc; kk++) {
        __m512 v0 = _mm512_loadu_ps(b0 + kk * CS_GP), v1;
        if (nv == 2) v1 = _mm512_loadu_ps(b1 + kk * CS_GP);
#pragma GCC unroll 8
        for (i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[i * rsa + kk * csa]);
            acc0[i] = _mm512_fmadd_ps(av, v0, acc0[i]);
            if (nv == 2) acc1[i] = _mm512_fmadd_ps(av, v1, acc1[i]);
        }
    }
#pragma GCC unroll 8
    for (i = 0; i < mr; i++) {
        _mm512_storeu_ps(c + i * ldc, acc0[i]);
        if (nv == 2) _mm512_storeu_ps(c + i * ldc + CS_GP, acc1[i]);
    }
}

#define CS_K512_CASE(m)                                                                       \
    case m:                                                                                   \
        if (nv == 2) cs_gemm_k512(m, 2, kc, a, rsa, csa, b0, b1, c, ldc);                     \
        else cs_gemm_k512(m, 1, kc, a, rsa, csa, b0, b1, c, ldc);                             \
        break;

static __attribute__((target("avx512f"), noinline)) void
cs_gemm_tile512(int mr, int nv, ptrdiff_t kc, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                const float *b0, const float *b1, float *c, ptrdiff_t ldc)
{
    switch (mr) {
        CS_K512_CASE(1) CS_K512_CASE(2) CS_K512_CASE(3) CS_K512_CASE(4)
        CS_K512_CASE(5) CS_K512_CASE(6) CS_K512_CASE(7) CS_K512_CASE(8)
    }
}

/* AVX2: tile mr x 16 (one panel, two ymm). */
static inline __attribute__((always_inline, target("avx2,fma"))) void
cs_gemm_k256(const int mr, ptrdiff_t kc, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
             const float *b0, float *c, ptrdiff_t ldc)
{
    __m256 acc0[6], acc1[6];
    ptrdiff_t kk;
    int i;
#pragma GCC unroll 6
    for (i = 0; i < mr; i++) {
        acc0[i] = _mm256_loadu_ps(c + i * ldc);
        acc1[i] = _mm256_loadu_ps(c + i * ldc + 8);
    }
    for (kk = 0; kk < kc; kk++) {
        __m256 v0 = _mm256_loadu_ps(b0 + kk * CS_GP), v1 = _mm256_loadu_ps(b0 + kk * CS_GP + 8);
#pragma GCC unroll 6
        for (i = 0; i < mr; i++) {
            __m256 av = _mm256_broadcast_ss(a + i * rsa + kk * csa);
            acc0[i] = _mm256_fmadd_ps(av, v0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(av, v1, acc1[i]);
        }
    }
#pragma GCC unroll 6
    for (i = 0; i < mr; i++) {
        _mm256_storeu_ps(c + i * ldc, acc0[i]);
        _mm256_storeu_ps(c + i * ldc + 8, acc1[i]);
    }
}

#define CS_K256_CASE(m) case m: cs_gemm_k256(m, kc, a, rsa, csa, b0, c, ldc); break;

static __attribute__((target("avx2,fma"), noinline)) void
cs_gemm_tile256(int mr, ptrdiff_t kc, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                const float *b0, float *c, ptrdiff_t ldc)
{
    switch (mr) {
        CS_K256_CASE(1) CS_K256_CASE(2) CS_K256_CASE(3) CS_K256_CASE(4) CS_K256_CASE(5)
        CS_K256_CASE(6)
    }
}

/* 2: AVX-512F, 1: AVX2 + FMA, 0: portable; the environment variable CS231N_FAST_GEMM_ISA
 * ("avx2" or "portable", read once) caps it, so that the tests can run every path on one CPU. */
static inline int cs_gemm_isa(void)
{
    static int isa = -1;
    if (isa < 0) {
        const char *cap = getenv("CS231N_FAST_GEMM_ISA");
        int hw;
        __builtin_cpu_init();
        hw = __builtin_cpu_supports("avx512f") ? 2
             : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
        if (cap && strcmp(cap, "portable") == 0) hw = 0;
        else if (cap && strcmp(cap, "avx2") == 0 && hw > 1) hw = 1;
        isa = hw;
    }
    return isa;
}
#endif /* CS_GEMM_X86 */

/* Resolve the instruction set once, on the calling thread (the kernels call this before their
 * parallel regions, so the threads only ever read the cached value). */
static inline void cs_gemm_init(void)
{
#ifdef CS_GEMM_X86
    (void)cs_gemm_isa();
#endif
}

/* C[:, 16 p0 .. min(16 p1, n)) = (zero ? 0 : C) + A B over panels [p0, p1) of the packed B
 * (k x n, cs_gemm_pack_f). A is m x k with element (i, kk) at a[i * rsa + kk * csa] (a
 * row-major matrix: rsa = its leading dimension, csa = 1; its transpose: rsa = 1, csa = ld);
 * C is m x n (ldc). One thread's share of a product: different threads take disjoint panel
 * ranges. Rows go in blocks of CS_GMC so a block of A (CS_GMC x CS_GKC) stays in L2 while the
 * panels pass. */
#define CS_GMC 128
static void cs_gemm_packed_f(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                             ptrdiff_t rsa, ptrdiff_t csa, const float *bp, float *c,
                             ptrdiff_t ldc, int zero, ptrdiff_t p0, ptrdiff_t p1)
{
    ptrdiff_t k0, kc, p, i, r, j, np_, w, mrmax, i0, i1, m1;
    int isa = 0;
    float tile[8 * 2 * CS_GP];
    if (p1 <= p0 || m <= 0) return;
    if (zero) {
        ptrdiff_t c0 = p0 * CS_GP, c1 = p1 * CS_GP < n ? p1 * CS_GP : n;
        for (i = 0; i < m; i++) memset(c + i * ldc + c0, 0, (size_t)(c1 - c0) * sizeof(float));
    }
#ifdef CS_GEMM_X86
    isa = cs_gemm_isa();
#endif
    mrmax = isa == 2 ? 8 : (isa == 1 ? 6 : 8);
    for (i1 = 0; i1 < m; i1 += CS_GMC) {
      m1 = m - i1 < CS_GMC ? m : i1 + CS_GMC;
      for (k0 = 0; k0 < k; k0 += CS_GKC) {
        kc = k - k0 < CS_GKC ? k - k0 : CS_GKC;
        for (p = p0; p < p1; p += np_) {
            np_ = (isa == 2 && p + 1 < p1) ? 2 : 1;
            w = n - p * CS_GP;
            if (w > np_ * CS_GP) w = np_ * CS_GP;
            const float *b0 = bp + p * k * CS_GP + k0 * CS_GP;
            const float *b1 = b0 + k * CS_GP;
            for (i0 = i1; i0 < m1; i0 += mrmax) {
                ptrdiff_t mr = m1 - i0 < mrmax ? m1 - i0 : mrmax;
                const float *ai = a + i0 * rsa + k0 * csa;
                float *ci = c + i0 * ldc + p * CS_GP;
                if (isa == 0) {
                    cs_gemm_tile_scalar(mr, w, kc, ai, rsa, csa, b0, ci, ldc);
                    continue;
                }
#ifdef CS_GEMM_X86
                {
                    int full = w == np_ * CS_GP;
                    float *ct = ci;
                    ptrdiff_t ldt = ldc;
                    if (!full) {  /* a partial last panel: run on a copy of the tile */
                        ct = tile, ldt = np_ * CS_GP;
                        for (r = 0; r < mr; r++)
                            for (j = 0; j < ldt; j++)
                                tile[r * ldt + j] = j < w ? ci[r * ldc + j] : 0.0f;
                    }
                    if (isa == 2)
                        cs_gemm_tile512((int)mr, (int)np_, kc, ai, rsa, csa, b0, b1, ct, ldt);
                    else
                        cs_gemm_tile256((int)mr, kc, ai, rsa, csa, b0, ct, ldt);
                    if (!full)
                        for (r = 0; r < mr; r++)
                            for (j = 0; j < w; j++) ci[r * ldc + j] = tile[r * ldt + j];
                }
#endif
            }
        }
      }
    }
}

#endif /* CS231N_FAST_RNN_GEMM_H */
