/* Winograd F(2x2, 3x3) tile transforms for cs231n_fast._ext.conv (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016).
 *
 * A 3x3 stride-1 correlation is computed on 2x2 output tiles: every 4x4 input tile d (stride 2,
 * overlapping by 2) becomes V = B^T d B, every filter g becomes U = G g G^T (done in NumPy, in
 * float64), and for each of the 16 transformed positions xi the product M_xi = U_xi V_xi is one
 * GEMM (F x C) . (C x tiles); the output tile is Y = A^T M A. 16 products of C multiply-adds
 * per 2x2 outputs instead of 4 * 9: 2.25x fewer multiplications.
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * The weight gradient stays in the transformed domain: dM = A dY A^T per output tile (the
 * adjoint of the output transform), dU_xi = sum over tiles dM_xi V_xi^T (one GEMM per xi), and
 * dw = G^T dU G (NumPy). The input gradient is the same forward algorithm applied to dout with
 * the flipped, channel-transposed filters and padding 2 - pad.
 *
 * Speed (measured on Zen 4, 16x16 and 32x32 planes): the 16 rows of a transformed plane are
 * written `stride` apart, and the callers keep `stride` off multiples of 4 KiB (conv.pyx
 * _WPAD): 16 streams 4 KiB apart share one L1 set and the transforms ran 2-3x slower. With GCC
 * or Clang the transforms are written on generic vectors (CS_WINO_VEC: a vector of tiles of a
 * tile row at a time, even/odd columns split by shuffles in registers; the input transform
 * reads the padded plane as four polyphase planes so that every load is contiguous): a
 * further 1.4-3.6x over the plain loops, which remain for other compilers and the scalar
 * build. Both compute every element with the same operations in the same order.
 *
 * Layout: a transformed plane is 16 rows xi = 4 i + j, each `stride` apart, holding the tiles
 * (ty, tx) of one image-channel plane at ty * tw + tx. Every loop here is elementwise (adds and
 * subtractions in the order spelled, no reductions), -ffp-contract=off is set by setup.py, so
 * each value is bitwise the same in every clone (AVX-512, AVX2, baseline) and in the scalar
 * build. The inner loops run over tx (stride-2 loads or stores, contiguous in the other
 * operand) so the compiler vectorises them.
 */
#ifndef CS231N_FAST_CONV_WINOGRAD_H
#define CS231N_FAST_CONV_WINOGRAD_H

#include <stddef.h>
#include <string.h>
#include "simd.h"

/* Tiles per inner chunk: the temporaries stay in L1. */
#define CS_WINO_CH 64

/* U = G g G^T (4 x 4, row-major, xi = 4 a + b) of the 3 x 3 filter g given in double, element */
/* (i, j) at g[3 i + j]; G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. The operations and     */
/* their order are those of the NumPy version this replaced (ops.conv._wino_u_numpy), so the  */
/* bits are the same.                                                                         */
static inline void cs_wino_filter(const double *g, double *u)
{
    double t[4][3];
    int a, j;
    for (j = 0; j < 3; j++) {
        t[0][j] = g[j];
        t[1][j] = 0.5 * ((g[j] + g[3 + j]) + g[6 + j]);
        t[2][j] = 0.5 * ((g[j] - g[3 + j]) + g[6 + j]);
        t[3][j] = g[6 + j];
    }
    for (a = 0; a < 4; a++) {
        u[4 * a] = t[a][0];
        u[4 * a + 1] = 0.5 * ((t[a][0] + t[a][1]) + t[a][2]);
        u[4 * a + 2] = 0.5 * ((t[a][0] - t[a][1]) + t[a][2]);
        u[4 * a + 3] = t[a][2];
    }
}

/* dw = G^T dU G (3 x 3, row-major) of the transformed-domain gradient d (xi = 4 a + b), in   */
/* the operations and order of the NumPy version this replaced (ops.conv._wino_dw_numpy).     */
static inline void cs_wino_filter_grad(const double *d, double *dw)
{
    double t[3][4];
    int b, r;
    for (b = 0; b < 4; b++) {
        t[0][b] = d[b] + 0.5 * (d[4 + b] + d[8 + b]);
        t[1][b] = 0.5 * (d[4 + b] - d[8 + b]);
        t[2][b] = 0.5 * (d[4 + b] + d[8 + b]) + d[12 + b];
    }
    for (r = 0; r < 3; r++) {
        dw[3 * r] = t[r][0] + 0.5 * (t[r][1] + t[r][2]);
        dw[3 * r + 1] = 0.5 * (t[r][1] - t[r][2]);
        dw[3 * r + 2] = 0.5 * (t[r][1] + t[r][2]) + t[r][3];
    }
}

/* Vectorised transforms (GCC/Clang generic vectors of 32 bytes: 8 floats or 4 doubles, one
 * vector of tiles of a tile row at a time, even/odd columns split by shuffles in registers).
 * They perform exactly the operations of the generic loops below, element by element, so
 * every result is bitwise the same either way (the build with CS231N_FAST_SCALAR_KERNELS and
 * non-GNU compilers use the generic loops; CI compares the two builds bitwise). */
#if defined(__GNUC__) && !defined(CS231N_FAST_SCALAR_KERNELS)
#define CS_WINO_VEC 1
typedef float cs_wv_f __attribute__((vector_size(32)));
typedef double cs_wv_d __attribute__((vector_size(32)));
typedef int cs_wi_f __attribute__((vector_size(32)));
typedef long long cs_wi_d __attribute__((vector_size(32)));
#define CS_WVL_f 8
#define CS_WVL_d 4
#if defined(__clang__)
#define CS_WSHUF(T, a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define CS_WSHUF(T, a, b, ...) __builtin_shuffle(a, b, (cs_wi_##T){__VA_ARGS__})
#endif
#define CS_WEVEN_f(a, b) CS_WSHUF(f, a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define CS_WODD_f(a, b) CS_WSHUF(f, a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#define CS_WILO_f(a, b) CS_WSHUF(f, a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define CS_WIHI_f(a, b) CS_WSHUF(f, a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#define CS_WEVEN_d(a, b) CS_WSHUF(d, a, b, 0, 2, 4, 6)
#define CS_WODD_d(a, b) CS_WSHUF(d, a, b, 1, 3, 5, 7)
#define CS_WILO_d(a, b) CS_WSHUF(d, a, b, 0, 4, 1, 5)
#define CS_WIHI_d(a, b) CS_WSHUF(d, a, b, 2, 6, 3, 7)
#endif

#ifdef CS_WINO_VEC
#define CS_WINO_VEC_TEMPLATE(T, SFX)                                                             \
/* Plane src (h, w) padded by (ph, pw) into its four polyphase planes P[2 r + c] (padded rows  */ \
/* of parity r, columns of parity c), each (th + 1) x (tw + 1): padded element (y, x) at       */ \
/* P[2 (y & 1) + (x & 1)][(y >> 1) (tw + 1) + (x >> 1)]; clipped to (2 th + 2) x (2 tw + 2).   */ \
static void cs_wino_poly_##SFX(const T *src, ptrdiff_t h, ptrdiff_t w, ptrdiff_t ph,           \
                               ptrdiff_t pw, ptrdiff_t th, ptrdiff_t tw, T *P)                  \
{                                                                                               \
    const ptrdiff_t W = tw + 1, PS = (th + 1) * W, hp = 2 * th + 2;                             \
    ptrdiff_t y, b, be0, be1, bo0, bo1;                                                         \
    memset(P, 0, (size_t)(4 * PS) * sizeof(T));                                                 \
    /* columns: even padded column 2b holds x = 2b - pw, odd 2b + 1 holds x = 2b + 1 - pw */   \
    be0 = pw > 0 ? (pw + 1) / 2 : 0;                                                            \
    be1 = w - 1 + pw >= 0 ? (w - 1 + pw) / 2 + 1 : 0;                                           \
    bo0 = pw > 1 ? pw / 2 : 0;                                                                  \
    bo1 = w - 2 + pw >= 0 ? (w - 2 + pw) / 2 + 1 : 0;                                           \
    if (be1 > W) be1 = W;                                                                       \
    if (bo1 > W) bo1 = W;                                                                       \
    for (y = ph < 0 ? -ph : 0; y < h && y + ph < hp; y++) {                                     \
        const ptrdiff_t py = y + ph;                                                            \
        T *re = P + 2 * (py & 1) * PS + (py >> 1) * W, *ro = re + PS;                           \
        const T *sr = src + y * w;                                                              \
        for (b = be0; b < be1; b++) re[b] = sr[2 * b - pw];                                     \
        for (b = bo0; b < bo1; b++) ro[b] = sr[2 * b + 1 - pw];                                 \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* V = B^T d B from the polyphase planes P: a vector of tiles of a tile row at a time, the    */ \
/* even and odd columns of the row combinations loaded straight from P (at j and j + 1).      */ \
/* Operations as cs_wino_in_rows. A short last vector reads past its row (P has slack) and    */ \
/* stores only its tiles.                                                                     */ \
CS_CLONES static void cs_wino_in_vec_##SFX(const T *restrict P, ptrdiff_t th, ptrdiff_t tw,     \
                                           T *restrict v, ptrdiff_t stride)                     \
{                                                                                               \
    typedef cs_wv_##SFX VT;                                                                     \
    const ptrdiff_t W = tw + 1, PS = (th + 1) * W, L = CS_WVL_##SFX;                            \
    ptrdiff_t ty, j0, k, nt;                                                                    \
    for (ty = 0; ty < th; ty++) {                                                               \
        const T *ee = P + ty * W, *eo = P + PS + ty * W;          /* rows 2ty, 2ty + 2 */       \
        const T *oe = P + 2 * PS + ty * W, *oo = P + 3 * PS + ty * W; /* rows 2ty + 1, + 3 */   \
        for (j0 = 0; j0 < tw; j0 += L) {                                                        \
            VT qe[2][4], qo[2][4], o[16], r0, r1, r2, r3;                                       \
            int sh;                                                                             \
            for (sh = 0; sh < 2; sh++) {                                                        \
                const ptrdiff_t j = j0 + sh;                                                    \
                memcpy(&r0, ee + j, sizeof(VT)); memcpy(&r1, oe + j, sizeof(VT));               \
                memcpy(&r2, ee + W + j, sizeof(VT)); memcpy(&r3, oe + W + j, sizeof(VT));       \
                qe[sh][0] = r0 - r2; qe[sh][1] = r1 + r2;                                       \
                qe[sh][2] = r2 - r1; qe[sh][3] = r1 - r3;                                       \
                memcpy(&r0, eo + j, sizeof(VT)); memcpy(&r1, oo + j, sizeof(VT));               \
                memcpy(&r2, eo + W + j, sizeof(VT)); memcpy(&r3, oo + W + j, sizeof(VT));       \
                qo[sh][0] = r0 - r2; qo[sh][1] = r1 + r2;                                       \
                qo[sh][2] = r2 - r1; qo[sh][3] = r1 - r3;                                       \
            }                                                                                   \
            for (k = 0; k < 4; k++) {                                                           \
                o[4 * k] = qe[0][k] - qe[1][k];                                                 \
                o[4 * k + 1] = qo[0][k] + qe[1][k];                                             \
                o[4 * k + 2] = qe[1][k] - qo[0][k];                                             \
                o[4 * k + 3] = qo[0][k] - qo[1][k];                                             \
            }                                                                                   \
            nt = tw - j0 < L ? tw - j0 : L;                                                     \
            if (nt == L)                                                                        \
                for (k = 0; k < 16; k++) memcpy(v + k * stride + ty * tw + j0, &o[k], sizeof(VT)); \
            else                                                                                \
                for (k = 0; k < 16; k++)                                                        \
                    memcpy(v + k * stride + ty * tw + j0, &o[k], (size_t)nt * sizeof(T));      \
        }                                                                                       \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* Y = A^T M A (+ bias) into y (2 th, 2 tw), a vector of tiles at a time, the even and odd    */ \
/* output columns interleaved by shuffles. Operations as cs_wino_out_rows. A short last       */ \
/* vector reads past its row of m (slack) and stores only its tiles.                          */ \
CS_CLONES static void cs_wino_out_vec_##SFX(const T *restrict m, ptrdiff_t stride, T bias,      \
                                            ptrdiff_t th, ptrdiff_t tw, T *restrict y,          \
                                            ptrdiff_t wy)                                       \
{                                                                                               \
    typedef cs_wv_##SFX VT;                                                                     \
    const ptrdiff_t L = CS_WVL_##SFX;                                                           \
    ptrdiff_t ty, j0, j, nt;                                                                    \
    for (ty = 0; ty < th; ty++) {                                                               \
        for (j0 = 0; j0 < tw; j0 += L) {                                                        \
            const T *q = m + ty * tw + j0;                                                      \
            T *y0 = y + 2 * ty * wy + 2 * j0, *y1 = y0 + wy;                                    \
            VT sv[8], q0, q1, q2, q3, e, od, z[4];                                              \
            for (j = 0; j < 4; j++) {                                                           \
                memcpy(&q0, q + j * stride, sizeof(VT));                                        \
                memcpy(&q1, q + (4 + j) * stride, sizeof(VT));                                  \
                memcpy(&q2, q + (8 + j) * stride, sizeof(VT));                                  \
                memcpy(&q3, q + (12 + j) * stride, sizeof(VT));                                 \
                sv[j] = q0 + q1 + q2;                                                           \
                sv[4 + j] = q1 - q2 - q3;                                                       \
            }                                                                                   \
            e = sv[0] + sv[1] + sv[2] + bias;                                                   \
            od = sv[1] - sv[2] - sv[3] + bias;                                                  \
            z[0] = CS_WILO_##SFX(e, od); z[1] = CS_WIHI_##SFX(e, od);                           \
            e = sv[4] + sv[5] + sv[6] + bias;                                                   \
            od = sv[5] - sv[6] - sv[7] + bias;                                                  \
            z[2] = CS_WILO_##SFX(e, od); z[3] = CS_WIHI_##SFX(e, od);                           \
            nt = tw - j0 < L ? tw - j0 : L;                                                     \
            if (nt == L) {                                                                      \
                memcpy(y0, &z[0], 2 * sizeof(VT));                                              \
                memcpy(y1, &z[2], 2 * sizeof(VT));                                              \
            } else {                                                                            \
                memcpy(y0, &z[0], (size_t)(2 * nt) * sizeof(T));                                \
                memcpy(y1, &z[2], (size_t)(2 * nt) * sizeof(T));                                \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* dM = A dY A^T, a vector of tiles at a time, the even/odd columns of the tile rows split by */ \
/* shuffles. Operations as cs_wino_dy_rows. A short last vector reads past its rows (the      */ \
/* caller guarantees slack) and stores only its tiles.                                        */ \
CS_CLONES static void cs_wino_dy_vec_##SFX(const T *restrict dy, ptrdiff_t wy, ptrdiff_t th,    \
                                           ptrdiff_t tw, T *restrict m, ptrdiff_t stride)       \
{                                                                                               \
    typedef cs_wv_##SFX VT;                                                                     \
    const ptrdiff_t L = CS_WVL_##SFX;                                                           \
    ptrdiff_t ty, j0, k, nt;                                                                    \
    for (ty = 0; ty < th; ty++) {                                                               \
        for (j0 = 0; j0 < tw; j0 += L) {                                                        \
            const T *a = dy + 2 * ty * wy + 2 * j0, *b = a + wy;                                \
            VT a0, a1, u0, u1, w0, w1, r0, r1, o[16];                                           \
            memcpy(&a0, a, sizeof(VT)); memcpy(&a1, a + L, sizeof(VT));                         \
            u0 = CS_WEVEN_##SFX(a0, a1); u1 = CS_WODD_##SFX(a0, a1);                            \
            memcpy(&a0, b, sizeof(VT)); memcpy(&a1, b + L, sizeof(VT));                         \
            w0 = CS_WEVEN_##SFX(a0, a1); w1 = CS_WODD_##SFX(a0, a1);                            \
            for (k = 0; k < 4; k++) {                                                           \
                r0 = k == 0 ? u0 : k == 1 ? u0 + w0 : k == 2 ? u0 - w0 : -w0;                   \
                r1 = k == 0 ? u1 : k == 1 ? u1 + w1 : k == 2 ? u1 - w1 : -w1;                   \
                o[4 * k] = r0;                                                                  \
                o[4 * k + 1] = r0 + r1;                                                         \
                o[4 * k + 2] = r0 - r1;                                                         \
                o[4 * k + 3] = -r1;                                                             \
            }                                                                                   \
            nt = tw - j0 < L ? tw - j0 : L;                                                     \
            if (nt == L)                                                                        \
                for (k = 0; k < 16; k++) memcpy(m + k * stride + ty * tw + j0, &o[k], sizeof(VT)); \
            else                                                                                \
                for (k = 0; k < 16; k++)                                                        \
                    memcpy(m + k * stride + ty * tw + j0, &o[k], (size_t)nt * sizeof(T));      \
        }                                                                                       \
    }                                                                                           \
}

CS_WINO_VEC_TEMPLATE(float, f)
CS_WINO_VEC_TEMPLATE(double, d)
#undef CS_WINO_VEC_TEMPLATE
#endif /* CS_WINO_VEC */

#define CS_WINO_TEMPLATE(T, SFX)                                                                 \
/* Copy plane src (h, w) into the zeroed buffer pad of (hp, wp) at offset (ph, pw), clipped.  */ \
static void cs_wino_pad_##SFX(const T *src, ptrdiff_t h, ptrdiff_t w, ptrdiff_t ph,            \
                              ptrdiff_t pw, T *pad, ptrdiff_t hp, ptrdiff_t wp)                 \
{                                                                                               \
    ptrdiff_t y, y0 = ph < 0 ? -ph : 0, x0 = pw < 0 ? -pw : 0, len;                            \
    memset(pad, 0, (size_t)(hp * wp) * sizeof(T));                                              \
    len = w - x0;                                                                               \
    if (len > wp - (pw + x0)) len = wp - (pw + x0);                                             \
    if (len <= 0) return;                                                                       \
    for (y = y0; y < h && y + ph < hp; y++)                                                     \
        memcpy(pad + (y + ph) * wp + pw + x0, src + y * w + x0, (size_t)len * sizeof(T));       \
}                                                                                               \
                                                                                                \
/* V = B^T d B for every 4x4 tile (stride 2) of the padded plane pad ((2 th + 2) x wp).      */ \
/* Two passes per tile row, each a simple loop the compiler vectorises: the row combinations  */ \
/* of B^T over CS_WINO_CH tiles' columns into q (4 rows, contiguous), then the column         */ \
/* combinations of B from q's even/odd columns into the 16 outputs.                           */ \
CS_CLONES static void cs_wino_in_rows_##SFX(const T *restrict pad, ptrdiff_t wp, ptrdiff_t th,  \
                                            ptrdiff_t tw, T *restrict v, ptrdiff_t stride)      \
{                                                                                               \
    T q[4][2 * CS_WINO_CH + 2];                                                                 \
    ptrdiff_t ty, t0, tx, x, k, nt;                                                             \
    for (ty = 0; ty < th; ty++) {                                                               \
        const T *r0 = pad + 2 * ty * wp, *r1 = r0 + wp, *r2 = r1 + wp, *r3 = r2 + wp;          \
        for (t0 = 0; t0 < tw; t0 += CS_WINO_CH) {                                               \
            const ptrdiff_t x0 = 2 * t0;                                                        \
            nt = tw - t0 < CS_WINO_CH ? tw - t0 : CS_WINO_CH;                                   \
            for (x = 0; x < 2 * nt + 2; x++) {                                                  \
                q[0][x] = r0[x0 + x] - r2[x0 + x];                                              \
                q[1][x] = r1[x0 + x] + r2[x0 + x];                                              \
                q[2][x] = r2[x0 + x] - r1[x0 + x];                                              \
                q[3][x] = r1[x0 + x] - r3[x0 + x];                                              \
            }                                                                                   \
            for (k = 0; k < 4; k++) {                                                           \
                const T *restrict a = q[k];                                                     \
                T *restrict o0 = v + (4 * k) * stride + ty * tw + t0;                           \
                T *restrict o1 = o0 + stride, *restrict o2 = o1 + stride;                       \
                T *restrict o3 = o2 + stride;                                                   \
                for (tx = 0; tx < nt; tx++) {                                                   \
                    o0[tx] = a[2 * tx] - a[2 * tx + 2];                                         \
                    o1[tx] = a[2 * tx + 1] + a[2 * tx + 2];                                     \
                    o2[tx] = a[2 * tx + 2] - a[2 * tx + 1];                                     \
                    o3[tx] = a[2 * tx + 1] - a[2 * tx + 3];                                     \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* Input transform of one plane src (h, w) padded by (ph, pw), tiles th x tw.                 */ \
static void cs_wino_input_##SFX(const T *src, ptrdiff_t h, ptrdiff_t w, ptrdiff_t ph,          \
                                ptrdiff_t pw, ptrdiff_t th, ptrdiff_t tw, T *pad, T *v,         \
                                ptrdiff_t stride)                                               \
{                                                                                               \
    CS_WINO_INPUT_##SFX(src, h, w, ph, pw, th, tw, pad, v, stride);                             \
}                                                                                               \
                                                                                                \
/* Y = A^T M A (+ bias) into the buffer y (2 th, 2 tw): the column combinations of A^T into  */ \
/* contiguous temporaries, then the row combinations stored interleaved.                      */ \
CS_CLONES static void cs_wino_out_rows_##SFX(const T *restrict m, ptrdiff_t stride, T bias,     \
                                             ptrdiff_t th, ptrdiff_t tw, T *restrict y,         \
                                             ptrdiff_t wy)                                      \
{                                                                                               \
    T s[8][CS_WINO_CH];                                                                         \
    ptrdiff_t ty, t0, tx, j, nt;                                                                \
    for (ty = 0; ty < th; ty++) {                                                               \
        for (t0 = 0; t0 < tw; t0 += CS_WINO_CH) {                                               \
            const T *q = m + ty * tw + t0;                                                      \
            T *restrict y0 = y + 2 * ty * wy + 2 * t0, *restrict y1 = y0 + wy;                  \
            nt = tw - t0 < CS_WINO_CH ? tw - t0 : CS_WINO_CH;                                   \
            for (j = 0; j < 4; j++) {                                                           \
                const T *restrict q0 = q + j * stride, *restrict q1 = q0 + 4 * stride;          \
                const T *restrict q2 = q1 + 4 * stride, *restrict q3 = q2 + 4 * stride;         \
                T *restrict a = s[j], *restrict b = s[4 + j];                                   \
                for (tx = 0; tx < nt; tx++) {                                                   \
                    a[tx] = q0[tx] + q1[tx] + q2[tx];                                           \
                    b[tx] = q1[tx] - q2[tx] - q3[tx];                                           \
                }                                                                               \
            }                                                                                   \
            for (tx = 0; tx < nt; tx++) {                                                       \
                y0[2 * tx] = s[0][tx] + s[1][tx] + s[2][tx] + bias;                             \
                y0[2 * tx + 1] = s[1][tx] - s[2][tx] - s[3][tx] + bias;                         \
            }                                                                                   \
            for (tx = 0; tx < nt; tx++) {                                                       \
                y1[2 * tx] = s[4][tx] + s[5][tx] + s[6][tx] + bias;                             \
                y1[2 * tx + 1] = s[5][tx] - s[6][tx] - s[7][tx] + bias;                         \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* Output transform of one plane into dst (oh, ow); buf (2 th * 2 tw) for odd sizes.          */ \
static void cs_wino_output_##SFX(const T *m, ptrdiff_t stride, T bias, ptrdiff_t th,            \
                                 ptrdiff_t tw, T *dst, ptrdiff_t oh, ptrdiff_t ow, T *buf)      \
{                                                                                               \
    ptrdiff_t y;                                                                                \
    if (oh == 2 * th && ow == 2 * tw) {                                                         \
        CS_WINO_OUT_##SFX(m, stride, bias, th, tw, dst, ow);                                    \
        return;                                                                                 \
    }                                                                                           \
    CS_WINO_OUT_##SFX(m, stride, bias, th, tw, buf, 2 * tw);                                    \
    for (y = 0; y < oh; y++)                                                                    \
        memcpy(dst + y * ow, buf + y * 2 * tw, (size_t)ow * sizeof(T));                        \
}                                                                                               \
                                                                                                \
/* dM = A dY A^T for every 2x2 tile of the zero-extended plane dy (2 th, 2 tw): the tile     */ \
/* rows' even/odd columns split into contiguous temporaries, then 16 simple output loops.     */ \
CS_CLONES static void cs_wino_dy_rows_##SFX(const T *restrict dy, ptrdiff_t wy, ptrdiff_t th,   \
                                            ptrdiff_t tw, T *restrict m, ptrdiff_t stride)      \
{                                                                                               \
    T e[4][CS_WINO_CH];                                                                         \
    ptrdiff_t ty, t0, tx, i, nt;                                                                \
    for (ty = 0; ty < th; ty++) {                                                               \
        for (t0 = 0; t0 < tw; t0 += CS_WINO_CH) {                                               \
            const T *restrict a = dy + 2 * ty * wy + 2 * t0, *restrict b = a + wy;              \
            nt = tw - t0 < CS_WINO_CH ? tw - t0 : CS_WINO_CH;                                   \
            for (tx = 0; tx < nt; tx++) {                                                       \
                e[0][tx] = a[2 * tx]; e[1][tx] = a[2 * tx + 1];                                 \
                e[2][tx] = b[2 * tx]; e[3][tx] = b[2 * tx + 1];                                 \
            }                                                                                   \
            for (i = 0; i < 4; i++) {                                                           \
                /* rows of A dY: (y0), (y0 + y1), (y0 - y1), (-y1) of the tile's two rows */   \
                T r0[CS_WINO_CH], r1[CS_WINO_CH];                                               \
                T *restrict o0 = m + 4 * i * stride + ty * tw + t0;                             \
                T *restrict o1 = o0 + stride, *restrict o2 = o1 + stride;                       \
                T *restrict o3 = o2 + stride;                                                   \
                for (tx = 0; tx < nt; tx++) {                                                   \
                    T u0 = e[0][tx], u1 = e[1][tx], w0 = e[2][tx], w1 = e[3][tx];               \
                    r0[tx] = i == 0 ? u0 : i == 1 ? u0 + w0 : i == 2 ? u0 - w0 : -w0;           \
                    r1[tx] = i == 0 ? u1 : i == 1 ? u1 + w1 : i == 2 ? u1 - w1 : -w1;           \
                }                                                                               \
                for (tx = 0; tx < nt; tx++) {                                                   \
                    o0[tx] = r0[tx];                                                            \
                    o1[tx] = r0[tx] + r1[tx];                                                   \
                    o2[tx] = r0[tx] - r1[tx];                                                   \
                    o3[tx] = -r1[tx];                                                           \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
}                                                                                               \
                                                                                                \
/* Sum of a plane's n elements in double, CS_LANES partial sums (lane i % CS_LANES) added in a */ \
/* fixed order: the same bits in every clone and the scalar build (db of the Winograd path).  */ \
CS_CLONES static double cs_wino_plane_sum_##SFX(const T *restrict p, ptrdiff_t n)             \
{                                                                                               \
    double acc[CS_LANES];                                                                       \
    ptrdiff_t i, k, n0 = n - n % CS_LANES;                                                      \
    for (k = 0; k < CS_LANES; k++) acc[k] = 0.0;                                                \
    for (i = 0; i < n0; i += CS_LANES)                                                          \
        for (k = 0; k < CS_LANES; k++) acc[k] += (double)p[i + k];                              \
    for (i = n0; i < n; i++) acc[i - n0] += (double)p[i];                                       \
    return cs_sum_lanes_d(acc);                                                                 \
}                                                                                               \
                                                                                                \
/* Adjoint output transform of one dout plane (oh, ow); buf holds (2 th, 2 tw).               */ \
static void cs_wino_dy_##SFX(const T *src, ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t th,            \
                             ptrdiff_t tw, T *buf, T *m, ptrdiff_t stride)                      \
{                                                                                               \
    if (oh == 2 * th && ow == 2 * tw && tw % CS_WINO_DY_WHOLE == 0) {                           \
        CS_WINO_DY_##SFX(src, ow, th, tw, m, stride);                                           \
        return;                                                                                 \
    }                                                                                           \
    cs_wino_pad_##SFX(src, oh, ow, 0, 0, buf, 2 * th, 2 * tw);                                  \
    CS_WINO_DY_##SFX(buf, 2 * tw, th, tw, m, stride);                                           \
}

#ifdef CS_WINO_VEC
#define CS_WINO_INPUT_f(src, h, w, ph, pw, th, tw, pad, v, stride)                               \
    (cs_wino_poly_f(src, h, w, ph, pw, th, tw, pad), cs_wino_in_vec_f(pad, th, tw, v, stride))
#define CS_WINO_INPUT_d(src, h, w, ph, pw, th, tw, pad, v, stride)                               \
    (cs_wino_poly_d(src, h, w, ph, pw, th, tw, pad), cs_wino_in_vec_d(pad, th, tw, v, stride))
#define CS_WINO_OUT_f cs_wino_out_vec_f
#define CS_WINO_OUT_d cs_wino_out_vec_d
#define CS_WINO_DY_f cs_wino_dy_vec_f
#define CS_WINO_DY_d cs_wino_dy_vec_d
/* dout planes are read in place only when no vector reads past them: tw a multiple of 8
 * tiles (the float and the double vector width both divide it). */
#define CS_WINO_DY_WHOLE 8
#else
#define CS_WINO_INPUT_f(src, h, w, ph, pw, th, tw, pad, v, stride)                               \
    (cs_wino_pad_f(src, h, w, ph, pw, pad, 2 * (th) + 2, 2 * (tw) + 2),                         \
     cs_wino_in_rows_f(pad, 2 * (tw) + 2, th, tw, v, stride))
#define CS_WINO_INPUT_d(src, h, w, ph, pw, th, tw, pad, v, stride)                               \
    (cs_wino_pad_d(src, h, w, ph, pw, pad, 2 * (th) + 2, 2 * (tw) + 2),                         \
     cs_wino_in_rows_d(pad, 2 * (tw) + 2, th, tw, v, stride))
#define CS_WINO_OUT_f cs_wino_out_rows_f
#define CS_WINO_OUT_d cs_wino_out_rows_d
#define CS_WINO_DY_f cs_wino_dy_rows_f
#define CS_WINO_DY_d cs_wino_dy_rows_d
#define CS_WINO_DY_WHOLE 1
#endif

CS_WINO_TEMPLATE(float, f)
CS_WINO_TEMPLATE(double, d)
#undef CS_WINO_TEMPLATE

#endif /* CS231N_FAST_CONV_WINOGRAD_H */
