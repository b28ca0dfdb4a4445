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
CS_CLONES static void cs_wino_in_rows_##SFX(const T *restrict pad, ptrdiff_t wp, ptrdiff_t th,  \
                                            ptrdiff_t tw, T *restrict v, ptrdiff_t stride)      \
{                                                                                               \
    ptrdiff_t ty, tx;                                                                           \
    for (ty = 0; ty < th; ty++) {                                                               \
        const T *r0 = pad + 2 * ty * wp, *r1 = r0 + wp, *r2 = r1 + wp, *r3 = r2 + wp;          \
        T *o = v + ty * tw;                                                                     \
        for (tx = 0; tx < tw; tx++) {                                                           \
            const ptrdiff_t c = 2 * tx;                                                         \
            T a0 = r0[c] - r2[c], a1 = r0[c + 1] - r2[c + 1];                                   \
            T a2 = r0[c + 2] - r2[c + 2], a3 = r0[c + 3] - r2[c + 3];                           \
            T b0 = r1[c] + r2[c], b1 = r1[c + 1] + r2[c + 1];                                   \
            T b2 = r1[c + 2] + r2[c + 2], b3 = r1[c + 3] + r2[c + 3];                           \
            T e0 = r2[c] - r1[c], e1 = r2[c + 1] - r1[c + 1];                                   \
            T e2 = r2[c + 2] - r1[c + 2], e3 = r2[c + 3] - r1[c + 3];                           \
            T f0 = r1[c] - r3[c], f1 = r1[c + 1] - r3[c + 1];                                   \
            T f2 = r1[c + 2] - r3[c + 2], f3 = r1[c + 3] - r3[c + 3];                           \
            o[0 * stride + tx] = a0 - a2;  o[1 * stride + tx] = a1 + a2;                        \
            o[2 * stride + tx] = a2 - a1;  o[3 * stride + tx] = a1 - a3;                        \
            o[4 * stride + tx] = b0 - b2;  o[5 * stride + tx] = b1 + b2;                        \
            o[6 * stride + tx] = b2 - b1;  o[7 * stride + tx] = b1 - b3;                        \
            o[8 * stride + tx] = e0 - e2;  o[9 * stride + tx] = e1 + e2;                        \
            o[10 * stride + tx] = e2 - e1; o[11 * stride + tx] = e1 - e3;                       \
            o[12 * stride + tx] = f0 - f2; o[13 * stride + tx] = f1 + f2;                       \
            o[14 * stride + tx] = f2 - f1; o[15 * stride + tx] = f1 - f3;                       \
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
/* Y = A^T M A (+ bias) into the buffer y (2 th, 2 tw).                                       */ \
CS_CLONES static void cs_wino_out_rows_##SFX(const T *restrict m, ptrdiff_t stride, T bias,     \
                                             ptrdiff_t th, ptrdiff_t tw, T *restrict y,         \
                                             ptrdiff_t wy)                                      \
{                                                                                               \
    ptrdiff_t ty, tx;                                                                           \
    for (ty = 0; ty < th; ty++) {                                                               \
        const T *q = m + ty * tw;                                                               \
        T *y0 = y + 2 * ty * wy, *y1 = y0 + wy;                                                 \
        for (tx = 0; tx < tw; tx++) {                                                           \
            T s00 = q[0 * stride + tx] + q[4 * stride + tx] + q[8 * stride + tx];               \
            T s01 = q[1 * stride + tx] + q[5 * stride + tx] + q[9 * stride + tx];               \
            T s02 = q[2 * stride + tx] + q[6 * stride + tx] + q[10 * stride + tx];              \
            T s03 = q[3 * stride + tx] + q[7 * stride + tx] + q[11 * stride + tx];              \
            T s10 = q[4 * stride + tx] - q[8 * stride + tx] - q[12 * stride + tx];              \
            T s11 = q[5 * stride + tx] - q[9 * stride + tx] - q[13 * stride + tx];              \
            T s12 = q[6 * stride + tx] - q[10 * stride + tx] - q[14 * stride + tx];             \
            T s13 = q[7 * stride + tx] - q[11 * stride + tx] - q[15 * stride + tx];             \
            y0[2 * tx] = s00 + s01 + s02 + bias;                                                \
            y0[2 * tx + 1] = s01 - s02 - s03 + bias;                                            \
            y1[2 * tx] = s10 + s11 + s12 + bias;                                                \
            y1[2 * tx + 1] = s11 - s12 - s13 + bias;                                            \
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
/* dM = A dY A^T for every 2x2 tile of the zero-extended plane dy (2 th, 2 tw).               */ \
CS_CLONES static void cs_wino_dy_rows_##SFX(const T *restrict dy, ptrdiff_t wy, ptrdiff_t th,   \
                                            ptrdiff_t tw, T *restrict m, ptrdiff_t stride)      \
{                                                                                               \
    ptrdiff_t ty, tx;                                                                           \
    for (ty = 0; ty < th; ty++) {                                                               \
        const T *a = dy + 2 * ty * wy, *b = a + wy;                                             \
        T *o = m + ty * tw;                                                                     \
        for (tx = 0; tx < tw; tx++) {                                                           \
            T y00 = a[2 * tx], y01 = a[2 * tx + 1], y10 = b[2 * tx], y11 = b[2 * tx + 1];       \
            T p0 = y00 + y10, p1 = y01 + y11, n0 = y00 - y10, n1 = y01 - y11;                   \
            o[0 * stride + tx] = y00;  o[1 * stride + tx] = y00 + y01;                          \
            o[2 * stride + tx] = y00 - y01; o[3 * stride + tx] = -y01;                          \
            o[4 * stride + tx] = p0;   o[5 * stride + tx] = p0 + p1;                            \
            o[6 * stride + tx] = p0 - p1; o[7 * stride + tx] = -p1;                             \
            o[8 * stride + tx] = n0;   o[9 * stride + tx] = n0 + n1;                            \
            o[10 * stride + tx] = n0 - n1; o[11 * stride + tx] = -n1;                           \
            o[12 * stride + tx] = -y10; o[13 * stride + tx] = -y10 - y11;                       \
            o[14 * stride + tx] = y11 - y10; o[15 * stride + tx] = y11;                         \
        }                                                                                       \
    }                                                                                           \
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
