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
    ptrdiff_t wp = 2 * tw + 2;                                                                  \
    cs_wino_pad_##SFX(src, h, w, ph, pw, pad, 2 * th + 2, wp);                                  \
    cs_wino_in_rows_##SFX(pad, wp, th, tw, v, stride);                                          \
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
        cs_wino_out_rows_##SFX(m, stride, bias, th, tw, dst, ow);                               \
        return;                                                                                 \
    }                                                                                           \
    cs_wino_out_rows_##SFX(m, stride, bias, th, tw, buf, 2 * tw);                               \
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
    if (oh == 2 * th && ow == 2 * tw) {                                                         \
        cs_wino_dy_rows_##SFX(src, ow, th, tw, m, stride);                                      \
        return;                                                                                 \
    }                                                                                           \
    cs_wino_pad_##SFX(src, oh, ow, 0, 0, buf, 2 * th, 2 * tw);                                  \
    cs_wino_dy_rows_##SFX(buf, 2 * tw, th, tw, m, stride);                                      \
}

CS_WINO_TEMPLATE(float, f)
CS_WINO_TEMPLATE(double, d)
#undef CS_WINO_TEMPLATE

#endif /* CS231N_FAST_CONV_WINOGRAD_H */
