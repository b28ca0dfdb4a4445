/* Box IoU and greedy non-maximum suppression for cs231n_fast._ext.detection.
 *
 * Boxes are (x1, y1, x2, y2). Every IoU is computed with the operations of torchvision's
 * formulas, in their order and in the boxes' type:
 *     w = max(0, min(ax2, bx2) - max(ax1, bx1)), h likewise, inter = w * h,
 *     iou = inter / ((area_a + area_b) - inter),   area = (x2 - x1) * (y2 - y1),
 * so two zero-area boxes give 0 / 0 = NaN (as torchvision), which no threshold comparison
 * passes. max and min keep their first operand on ties (as std::max/min and np.maximum/minimum),
 * which can only change the sign of a zero, never a non-zero value or a comparison.
 *
 * Determinism: no reductions over floating-point values (the only sum is an integer count);
 * setup.py compiles with -ffp-contract=off and division is correctly rounded in scalar and
 * vector form, so every IoU has the same bits whichever clone (AVX-512, AVX2, baseline), vector
 * width or thread computes it.
 *
 * The float and double kernels are one source, detection_kernels_impl.h, included once per
 * type.
 */
#ifndef CS231N_FAST_DETECTION_KERNELS_H
#define CS231N_FAST_DETECTION_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "simd.h"

/* Stable LSD radix sort of n (key, value) pairs by increasing key, in place (k, v), with
 * scratch tk, tv of n entries each: one counting pass for all eight 8-bit digits, then one
 * scatter pass per digit, skipping digits that are the same in every key (the upper half of
 * keys made from float32 scores, the exponent byte of scores in [0, 1), ...). Equal keys keep
 * their order. Integer work only: deterministic. */
static void cs_radix_sort_u64(uint64_t *restrict k, int64_t *restrict v, uint64_t *restrict tk,
                              int64_t *restrict tv, ptrdiff_t n)
{
    static const int DIGITS = 8;
    ptrdiff_t count[8][256] = {{0}};
    for (ptrdiff_t i = 0; i < n; i++) {
        uint64_t key = k[i];
        for (int d = 0; d < DIGITS; d++)
            count[d][(key >> (8 * d)) & 255]++;
    }
    uint64_t *src_k = k, *dst_k = tk;
    int64_t *src_v = v, *dst_v = tv;
    for (int d = 0; d < DIGITS; d++) {
        ptrdiff_t *c = count[d], pos = 0;
        if (n == 0 || c[(k[0] >> (8 * d)) & 255] == n)
            continue; /* one value of this digit: the pass would not move anything */
        for (int b = 0; b < 256; b++) {
            ptrdiff_t t = c[b];
            c[b] = pos;
            pos += t;
        }
        for (ptrdiff_t i = 0; i < n; i++) {
            ptrdiff_t p = c[(src_k[i] >> (8 * d)) & 255]++;
            dst_k[p] = src_k[i];
            dst_v[p] = src_v[i];
        }
        uint64_t *sk = src_k;
        int64_t *sv = src_v;
        src_k = dst_k;
        src_v = dst_v;
        dst_k = sk;
        dst_v = sv;
    }
    if (src_k != k) {
        for (ptrdiff_t i = 0; i < n; i++) {
            k[i] = src_k[i];
            v[i] = src_v[i];
        }
    }
}

/* Sort keys putting float scores in decreasing order, NaN first: ascending key order is NaN
 * (key 0), +inf, ..., -inf; -0.0 and 0.0 get one key (equal scores). */
static inline uint64_t cs_desc_key_f(float x)
{
    union { float f; uint32_t u; } c;
    if (x != x)
        return 0;
    c.f = x == 0 ? 0.0f : x;
    uint32_t asc = (c.u & 0x80000000u) ? ~c.u : (c.u | 0x80000000u);
    return (uint64_t)(uint32_t)~asc; /* +inf: 0x007FFFFF > 0 */
}

static inline uint64_t cs_desc_key_d(double x)
{
    union { double f; uint64_t u; } c;
    if (x != x)
        return 0;
    c.f = x == 0 ? 0.0 : x;
    uint64_t asc = (c.u & 0x8000000000000000ull) ? ~c.u : (c.u | 0x8000000000000000ull);
    return ~asc; /* +inf: 0x000FFFFFFFFFFFFF > 0 */
}

#define CS_T float
#define CS_I int32_t
#define CS_F(name) name##_f
#include "detection_kernels_impl.h"

#define CS_T double
#define CS_I int64_t
#define CS_F(name) name##_d
#include "detection_kernels_impl.h"

#endif /* CS231N_FAST_DETECTION_KERNELS_H */
