/* One type's detection kernels; included by detection_kernels.h with CS_T (float or double),
 * CS_I (the signed integer of CS_T's width: suppression flags, so that flag and IoU vectors
 * have the same lane count) and CS_F (name suffix) defined, which it undefines at the end. No
 * include guard on purpose.
 *
 * Boxes b are held as structure of arrays: x1, y1, x2, y2 and area, each contiguous, so the
 * loops over b vectorise. */

/* out[j] = IoU(a, b_j) for j < m: one row of box_iou. */
CS_CLONES static void CS_F(cs_iou_row)(
    CS_T ax1, CS_T ay1, CS_T ax2, CS_T ay2, CS_T aarea,
    const CS_T *restrict x1, const CS_T *restrict y1, const CS_T *restrict x2,
    const CS_T *restrict y2, const CS_T *restrict area, CS_T *restrict out, ptrdiff_t m)
{
    for (ptrdiff_t j = 0; j < m; j++) {
        CS_T lx = ax1 >= x1[j] ? ax1 : x1[j];
        CS_T ly = ay1 >= y1[j] ? ay1 : y1[j];
        CS_T rx = ax2 <= x2[j] ? ax2 : x2[j];
        CS_T ry = ay2 <= y2[j] ? ay2 : y2[j];
        CS_T w = rx - lx, h = ry - ly;
        w = w >= 0 ? w : 0;
        h = h >= 0 ? h : 0;
        CS_T inter = w * h;
        out[j] = inter / ((aarea + area[j]) - inter);
    }
}

/* supp[j] |= IoU(a, b_j) > thr for j < m; returns how many flags went from 0 to 1.
 * ``thr`` is the caller's threshold rounded down to CS_T (the largest CS_T <= it), so that the
 * comparison in CS_T gives the answer of the exact comparison (as torchvision compares the
 * float IoU with a double threshold). Suppressed boxes are recomputed (branch-free loop); their
 * flag stays 1. */
CS_CLONES static ptrdiff_t CS_F(cs_suppress)(
    CS_T ax1, CS_T ay1, CS_T ax2, CS_T ay2, CS_T aarea,
    const CS_T *restrict x1, const CS_T *restrict y1, const CS_T *restrict x2,
    const CS_T *restrict y2, const CS_T *restrict area, CS_I *restrict supp, CS_T thr,
    ptrdiff_t m)
{
    CS_I fresh = 0;
    for (ptrdiff_t j = 0; j < m; j++) {
        CS_T lx = ax1 >= x1[j] ? ax1 : x1[j];
        CS_T ly = ay1 >= y1[j] ? ay1 : y1[j];
        CS_T rx = ax2 <= x2[j] ? ax2 : x2[j];
        CS_T ry = ay2 <= y2[j] ? ay2 : y2[j];
        CS_T w = rx - lx, h = ry - ly;
        w = w >= 0 ? w : 0;
        h = h >= 0 ? h : 0;
        CS_T inter = w * h;
        CS_T iou = inter / ((aarea + area[j]) - inter);
        CS_I s = iou > thr ? 1 : 0;
        fresh += s & (supp[j] ^ 1);
        supp[j] |= s;
    }
    return (ptrdiff_t)fresh;
}

/* Greedy NMS over n boxes already in decreasing score order (structure of arrays, scratch: the
 * arrays are compacted in place), idx their original indices, supp n zeroed flags. Writes the
 * kept original indices to keep in order and returns their count.
 *
 * The sequence of kept boxes is torchvision's: a box is kept when no kept box before it
 * overlaps it by IoU > thr. Each kept box flags the boxes after it; when a quarter or more of
 * the boxes still ahead are flagged, they are dropped (the arrays compacted), so later passes
 * scan only live boxes. */
static ptrdiff_t CS_F(cs_nms)(
    CS_T *restrict x1, CS_T *restrict y1, CS_T *restrict x2, CS_T *restrict y2,
    CS_T *restrict area, int64_t *restrict idx, CS_I *restrict supp, ptrdiff_t n, CS_T thr,
    int64_t *restrict keep)
{
    ptrdiff_t k = 0, m = n, dead = 0; /* dead: flagged boxes in (i, m) */
    for (ptrdiff_t i = 0; i < m; i++) {
        if (supp[i]) {
            dead--;
            continue;
        }
        keep[k++] = idx[i];
        ptrdiff_t rest = m - i - 1;
        if (rest == 0)
            break;
        /* chunks of at most 2**30 boxes: cs_suppress counts in CS_I (int32_t for float) */
        for (ptrdiff_t j0 = i + 1; j0 < m; j0 += (ptrdiff_t)1 << 30) {
            ptrdiff_t len = m - j0 < ((ptrdiff_t)1 << 30) ? m - j0 : ((ptrdiff_t)1 << 30);
            dead += CS_F(cs_suppress)(x1[i], y1[i], x2[i], y2[i], area[i], x1 + j0, y1 + j0,
                                      x2 + j0, y2 + j0, area + j0, supp + j0, thr, len);
        }
        if (rest >= 32 && 4 * dead >= rest) {
            ptrdiff_t w = i + 1;
            for (ptrdiff_t j = i + 1; j < m; j++) {
                CS_I s = supp[j];
                x1[w] = x1[j];
                y1[w] = y1[j];
                x2[w] = x2[j];
                y2[w] = y2[j];
                area[w] = area[j];
                idx[w] = idx[j];
                supp[w] = 0;
                w += 1 - s;
            }
            m = w;
            dead = 0;
        }
    }
    return k;
}

#undef CS_T
#undef CS_I
#undef CS_F
