/* The kernels of norm_kernels.h for one floating type CS_T, names suffixed by CS_F(name).
 * No include guard on purpose (included once per type). */

/* ---- blocks: nblk runs of len contiguous values, run b at x + b * stride ------------------
 * (spatial batchnorm: one channel, nblk = N runs of H * W; layernorm and groupnorm: one run) */

/* The two halves of the partial sums added lane by lane, then the lanes pairwise. */
static inline double CS_F(cs_nrm_total)(const double *parts)
{
    double t[CS_LANES];
    int k;
    for (k = 0; k < CS_LANES; k++) t[k] = parts[k] + parts[k + CS_LANES];
    return cs_sum_lanes_d(t);
}

/* Reductions over runs: blocks of P consecutive elements added lane by lane into P partial sums
 * (the compiler vectorises the lane loop at whatever width the clone has; the sums do not
 * depend on it), the tail of a run (fewer than P) into partial sums 0, 1, ... */

/* parts[i % 32] += x[i] over the runs; sq: += (x[i] - m)^2 in float64. */
static inline __attribute__((always_inline)) void CS_F(cs_nrm_sum_runs)(const CS_T *restrict x, ptrdiff_t nblk,
                                                                      ptrdiff_t stride, ptrdiff_t len, int sq,
                                                                      double m, double *parts)
{
    ptrdiff_t b, i;
    for (b = 0; b < nblk; b++) {
        const CS_T *restrict p = x + b * stride;
        i = 0;
        if (sq) {
            int k;
            for (; i + CS_NRM_PARTS <= len; i += CS_NRM_PARTS)
                for (k = 0; k < CS_NRM_PARTS; k++) {
                    double d = (double)p[i + k] - m;
                    parts[k] += d * d;
                }
            for (; i < len; i++) {
                double d = (double)p[i] - m;
                parts[i % CS_NRM_PARTS] += d * d;
            }
        } else {
            int k;
            for (; i + CS_NRM_PARTS <= len; i += CS_NRM_PARTS)
                for (k = 0; k < CS_NRM_PARTS; k++) parts[k] += (double)p[i + k];
            for (; i < len; i++) parts[i % CS_NRM_PARTS] += (double)p[i];
        }
    }
}

/* Mean and biased variance of all nblk * len values, two passes in float64. */
CS_CLONES static void CS_F(cs_nrm_stats)(const CS_T *restrict x, ptrdiff_t nblk, ptrdiff_t stride,
                                         ptrdiff_t len, double *mean, double *var)
{
    double parts[CS_NRM_PARTS], m, cnt = (double)nblk * (double)len;
    int k;
    for (k = 0; k < CS_NRM_PARTS; k++) parts[k] = 0.0;
    CS_F(cs_nrm_sum_runs)(x, nblk, stride, len, 0, 0.0, parts);
    m = CS_F(cs_nrm_total)(parts) / cnt;
    for (k = 0; k < CS_NRM_PARTS; k++) parts[k] = 0.0;
    CS_F(cs_nrm_sum_runs)(x, nblk, stride, len, 1, m, parts);
    *mean = m;
    *var = CS_F(cs_nrm_total)(parts) / cnt;
}

/* The backward's two sums over runs: pa[i % 16] += s, pc[i % 16] += s * xhat, with
 * xhat = (x - m) * iv and s = dy (gw == NULL) or dy * gw[i] (layernorm's dxhat), values of the
 * compute dtype widened to float64. */

static inline __attribute__((always_inline)) void CS_F(cs_nrm_grad_runs)(
    const CS_T *restrict x, const CS_T *restrict dy, const CS_T *restrict gw, ptrdiff_t nblk,
    ptrdiff_t stride, ptrdiff_t len, CS_T m, CS_T iv, double *pa, double *pc)
{
    ptrdiff_t b, i;
    for (b = 0; b < nblk; b++) {
        const CS_T *restrict p = x + b * stride, *restrict q = dy + b * stride;
        i = 0;
        {
            /* Two lane loops over the run (it is in L1 for the second), each with one set of
             * partial sums: the compiler vectorises those, not one loop feeding two sets. */
            ptrdiff_t i0 = i;
            int k;
            for (; i + CS_LANES <= len; i += CS_LANES)
                for (k = 0; k < CS_LANES; k++) {
                    CS_T s = gw ? q[i + k] * gw[i + k] : q[i + k];
                    pa[k] += (double)s;
                }
            for (; i < len; i++) pa[i % CS_LANES] += (double)(gw ? q[i] * gw[i] : q[i]);
            for (i = i0; i + CS_LANES <= len; i += CS_LANES)
                for (k = 0; k < CS_LANES; k++) {
                    CS_T xh = (p[i + k] - m) * iv, s = gw ? q[i + k] * gw[i + k] : q[i + k];
                    pc[k] += (double)s * (double)xh;
                }
            for (; i < len; i++) {
                CS_T xh = (p[i] - m) * iv, s = gw ? q[i] * gw[i] : q[i];
                pc[i % CS_LANES] += (double)s * (double)xh;
            }
        }
    }
}

/* out = ((x - m) * iv) * g + b, one scale and shift for all blocks. */
CS_CLONES static void CS_F(cs_nrm_apply)(const CS_T *restrict x, CS_T *restrict out, ptrdiff_t nblk,
                                         ptrdiff_t stride, ptrdiff_t len, CS_T m, CS_T iv, CS_T g,
                                         CS_T b)
{
    ptrdiff_t j, i;
    for (j = 0; j < nblk; j++) {
        const CS_T *restrict p = x + j * stride;
        CS_T *restrict o = out + j * stride;
        for (i = 0; i < len; i++) o[i] = ((p[i] - m) * iv) * g + b;
    }
}

/* sums[0] = sum of dy, sums[1] = sum of dy * xhat, xhat = (x - m) * iv (in CS_T). */
CS_CLONES static void CS_F(cs_nrm_gradsums)(const CS_T *restrict x, const CS_T *restrict dy,
                                            ptrdiff_t nblk, ptrdiff_t stride, ptrdiff_t len, CS_T m,
                                            CS_T iv, double *sums)
{
    double pa[CS_LANES], pc[CS_LANES];
    int k;
    for (k = 0; k < CS_LANES; k++) pa[k] = pc[k] = 0.0;
    CS_F(cs_nrm_grad_runs)(x, dy, NULL, nblk, stride, len, m, iv, pa, pc);
    sums[0] = cs_sum_lanes_d(pa);
    sums[1] = cs_sum_lanes_d(pc);
}

/* dx = iv * (dy * g - A - xhat * B); with batch_stats == 0: dx = (dy * g) * iv. */
CS_CLONES static void CS_F(cs_nrm_dx)(const CS_T *restrict x, const CS_T *restrict dy,
                                      CS_T *restrict dx, ptrdiff_t nblk, ptrdiff_t stride,
                                      ptrdiff_t len, CS_T m, CS_T iv, CS_T g, CS_T A, CS_T B,
                                      int batch_stats)
{
    ptrdiff_t j, i;
    for (j = 0; j < nblk; j++) {
        const CS_T *restrict p = x + j * stride, *restrict q = dy + j * stride;
        CS_T *restrict o = dx + j * stride;
        if (batch_stats)
            for (i = 0; i < len; i++) o[i] = iv * ((q[i] * g - A) - ((p[i] - m) * iv) * B);
        else
            for (i = 0; i < len; i++) o[i] = (q[i] * g) * iv;
    }
}

/* ---- rows with per-element scale and shift (layernorm) ---------------------------------- */

/* out = ((x - m) * iv) * g[i] + b[i] over one row. */
CS_CLONES static void CS_F(cs_nrm_row_apply)(const CS_T *restrict x, CS_T *restrict out, ptrdiff_t len,
                                             CS_T m, CS_T iv, const CS_T *restrict g,
                                             const CS_T *restrict b)
{
    ptrdiff_t i;
    for (i = 0; i < len; i++) out[i] = ((x[i] - m) * iv) * g[i] + b[i];
}

/* dx of one row: dxhat = dy * g, A = mean(dxhat), B = mean(dxhat * xhat) (float64 sums),
 * dx = iv * (dxhat - A - xhat * B). */
CS_CLONES static void CS_F(cs_nrm_row_dx)(const CS_T *restrict x, const CS_T *restrict dy,
                                          const CS_T *restrict g, CS_T *restrict dx, ptrdiff_t len,
                                          CS_T m, CS_T iv)
{
    double pa[CS_LANES], pc[CS_LANES];
    ptrdiff_t i;
    int k;
    CS_T A, B;
    for (k = 0; k < CS_LANES; k++) pa[k] = pc[k] = 0.0;
    CS_F(cs_nrm_grad_runs)(x, dy, g, 1, 0, len, m, iv, pa, pc);
    A = (CS_T)(cs_sum_lanes_d(pa) / (double)len);
    B = (CS_T)(cs_sum_lanes_d(pc) / (double)len);
    for (i = 0; i < len; i++) dx[i] = iv * ((dy[i] * g[i] - A) - ((x[i] - m) * iv) * B);
}

/* ---- column blocks of an (n, ld) matrix, nc <= CS_NRM_COLS columns from x ---------------
 * Rows are walked in order; each column keeps its own float64 sum, so the loop over the
 * columns vectorises and every column's sum is in row order. */

CS_CLONES static void CS_F(cs_nrm_cols_stats)(const CS_T *restrict x, ptrdiff_t n, ptrdiff_t ld,
                                              ptrdiff_t nc, double *restrict mean,
                                              double *restrict var)
{
    double acc[CS_NRM_COLS];
    ptrdiff_t i, j;
    for (j = 0; j < nc; j++) acc[j] = 0.0;
    for (i = 0; i < n; i++)
        for (j = 0; j < nc; j++) acc[j] += (double)x[i * ld + j];
    for (j = 0; j < nc; j++) {
        mean[j] = acc[j] / (double)n;
        acc[j] = 0.0;
    }
    for (i = 0; i < n; i++)
        for (j = 0; j < nc; j++) {
            double d = (double)x[i * ld + j] - mean[j];
            acc[j] += d * d;
        }
    for (j = 0; j < nc; j++) var[j] = acc[j] / (double)n;
}

CS_CLONES static void CS_F(cs_nrm_cols_apply)(const CS_T *restrict x, CS_T *restrict out, ptrdiff_t n,
                                              ptrdiff_t ld, ptrdiff_t nc, const CS_T *restrict m,
                                              const CS_T *restrict iv, const CS_T *restrict g,
                                              const CS_T *restrict b)
{
    ptrdiff_t i, j;
    for (i = 0; i < n; i++) {
        const CS_T *restrict p = x + i * ld;
        CS_T *restrict o = out + i * ld;
        for (j = 0; j < nc; j++) o[j] = ((p[j] - m[j]) * iv[j]) * g[j] + b[j];
    }
}

/* Column sums of dy and dy * xhat. Per-column statistics (batchnorm: m, iv indexed by column,
 * per_row == 0) or per-row statistics (layernorm's dgamma: m, iv indexed by row). */
CS_CLONES static void CS_F(cs_nrm_cols_gradsums)(const CS_T *restrict x, const CS_T *restrict dy,
                                                 ptrdiff_t n, ptrdiff_t ld, ptrdiff_t nc,
                                                 const CS_T *restrict m, const CS_T *restrict iv,
                                                 int per_row, double *restrict sdy,
                                                 double *restrict sdyxh)
{
    ptrdiff_t i, j;
    for (j = 0; j < nc; j++) sdy[j] = sdyxh[j] = 0.0;
    if (per_row) {
        for (i = 0; i < n; i++) {
            const CS_T *restrict p = x + i * ld, *restrict q = dy + i * ld;
            CS_T mi = m[i], ivi = iv[i];
            for (j = 0; j < nc; j++) {
                CS_T xh = (p[j] - mi) * ivi;
                sdy[j] += (double)q[j];
                sdyxh[j] += (double)q[j] * (double)xh;
            }
        }
    } else {
        for (i = 0; i < n; i++) {
            const CS_T *restrict p = x + i * ld, *restrict q = dy + i * ld;
            for (j = 0; j < nc; j++) {
                CS_T xh = (p[j] - m[j]) * iv[j];
                sdy[j] += (double)q[j];
                sdyxh[j] += (double)q[j] * (double)xh;
            }
        }
    }
}

/* dx of a column block, per-column constants (see cs_nrm_dx). */
CS_CLONES static void CS_F(cs_nrm_cols_dx)(const CS_T *restrict x, const CS_T *restrict dy,
                                           CS_T *restrict dx, ptrdiff_t n, ptrdiff_t ld, ptrdiff_t nc,
                                           const CS_T *restrict m, const CS_T *restrict iv,
                                           const CS_T *restrict g, const CS_T *restrict A,
                                           const CS_T *restrict B, int batch_stats)
{
    ptrdiff_t i, j;
    for (i = 0; i < n; i++) {
        const CS_T *restrict p = x + i * ld, *restrict q = dy + i * ld;
        CS_T *restrict o = dx + i * ld;
        if (batch_stats)
            for (j = 0; j < nc; j++) o[j] = iv[j] * ((q[j] * g[j] - A[j]) - ((p[j] - m[j]) * iv[j]) * B[j]);
        else
            for (j = 0; j < nc; j++) o[j] = (q[j] * g[j]) * iv[j];
    }
}

#undef CS_T
#undef CS_F
