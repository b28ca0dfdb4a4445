/* The kernels of activations_kernels.h for one floating type: CS_T (the type), CS_F(name) (name
 * with the type's suffix), CS_K(name) (the type's constant) and, in vector builds, CS_V/CS_VI/
 * CS_NV (rnn_kernels.h's vector of CS_NV elements and its integer view). No include guard on
 * purpose. Every range [0, n) is one chunk or row of activations.pyx; inputs and outputs never
 * overlap. */

/* ---- ReLU, leaky ReLU, PReLU ---------------------------------------------------------------- */

/* out = max(x, 0) as numpy.maximum(x, 0) computes it: NaN stays NaN, -0 becomes +0. */
CS_CLONES static void CS_F(cs_act_relu)(const CS_T *restrict x, CS_T *restrict out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] <= (CS_T)0 ? (CS_T)0 : x[i];
}

/* dx = dout where x > 0, else 0 (0 at x == 0 and at NaN). */
CS_CLONES static void CS_F(cs_act_relu_bwd)(const CS_T *restrict x, const CS_T *restrict d,
                                            CS_T *restrict dx, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = x[i] > (CS_T)0 ? d[i] : (CS_T)0;
}

/* out = x where x > 0, else a * x (NaN propagates through a * x). */
CS_CLONES static void CS_F(cs_act_leaky)(const CS_T *restrict x, CS_T *restrict out, ptrdiff_t n,
                                         CS_T a)
{
    for (ptrdiff_t i = 0; i < n; i++) out[i] = x[i] > (CS_T)0 ? x[i] : a * x[i];
}

CS_CLONES static void CS_F(cs_act_leaky_bwd)(const CS_T *restrict x, const CS_T *restrict d,
                                             CS_T *restrict dx, ptrdiff_t n, CS_T a)
{
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = x[i] > (CS_T)0 ? d[i] : a * d[i];
}

/* The leaky backward plus this range's share of the slope gradient, sum(dout * x) over x <= 0
 * (NaN included, as numpy.where(x > 0, 0, dout * x) has it), in double: CS_LANES partial sums
 * (lane i % CS_LANES) added in simd.h's fixed order, so the bits depend on n only. */
/* The product is computed unconditionally and masked with integer operations (x > 0: +0.0, an
 * exact select): written as a select, GCC sinks the float -> double conversions (which could
 * trap) into a branch, and the random signs of x then cost a misprediction every other element
 * (60 ms instead of ~3 for 4M floats). */
#define CS_PRELU_BWD_STEP(j, l)                                                                \
    {                                                                                          \
        CS_T xv = x[j], dv = d[j], ad = a * dv;                                                \
        double pr = (double)dv * (double)xv;                                                   \
        uint64_t pu, keep = (uint64_t)0 - (uint64_t)(xv <= (CS_T)0 || xv != xv);               \
        memcpy(&pu, &pr, sizeof pu);                                                           \
        pu &= keep;                                                                            \
        memcpy(&pr, &pu, sizeof pr);                                                           \
        dx[j] = xv > (CS_T)0 ? dv : ad;                                                        \
        acc[l] += pr;                                                                          \
    }
CS_CLONES static double CS_F(cs_act_prelu_bwd)(const CS_T *restrict x, const CS_T *restrict d,
                                               CS_T *restrict dx, ptrdiff_t n, CS_T a)
{
    double acc[CS_LANES];
    ptrdiff_t i = 0;
    int l;
    for (l = 0; l < CS_LANES; l++) acc[l] = 0.0;
    for (; i + CS_LANES <= n; i += CS_LANES)
        for (l = 0; l < CS_LANES; l++) CS_PRELU_BWD_STEP(i + l, l)
    for (l = 0; i + l < n; l++) CS_PRELU_BWD_STEP(i + l, l)
    return cs_sum_lanes_d(acc);
}
#undef CS_PRELU_BWD_STEP

/* ---- sigmoid and tanh ------------------------------------------------------------------------ */

/* rnn_kernels.h's cs_sigmoid / cs_tanh with the wide vectors (bitwise the same results). */
CS_CLONES static void CS_F(cs_act_sigmoid)(const CS_T *restrict z, CS_T *restrict out, ptrdiff_t n)
{
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
    i = CS_W(cs_map_vectors)(CS_W(cs_sigmoid4), z, out, n);
#endif
    for (; i < n; i++) out[i] = CS_F(cs_sigmoid_s)(z[i]);
}

CS_CLONES static void CS_F(cs_act_tanh)(const CS_T *restrict z, CS_T *restrict out, ptrdiff_t n)
{
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
    i = CS_W(cs_map_vectors)(CS_W(cs_tanh4), z, out, n);
#endif
    for (; i < n; i++) out[i] = CS_F(cs_tanh_s)(z[i]);
}

CS_CLONES static void CS_F(cs_act_sigmoid_bwd)(const CS_T *restrict y, const CS_T *restrict d,
                                               CS_T *restrict dx, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = d[i] * y[i] * ((CS_T)1 - y[i]);
}

CS_CLONES static void CS_F(cs_act_tanh_bwd)(const CS_T *restrict y, const CS_T *restrict d,
                                            CS_T *restrict dx, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = d[i] * ((CS_T)1 - y[i] * y[i]);
}

/* ---- ELU ------------------------------------------------------------------------------------- */

/* expm1(r) for r <= 0 or NaN (see activations_kernels.h) */
static inline CS_T CS_F(cs_expm1n)(CS_T r)
{
    CS_T p;
    CS_K(EM1_COEFS)(CS_H_FIRST, CS_H_STEP)
    return r > CS_K(EM1_SMALL) ? r + r * (r * p) : CS_F(cs_expn)(r) - (CS_T)1;
}

#ifdef CS_RNN_VECTOR
/* m <= CS_NS vectors of ELU forward (backward when bwd) at x (and d), the same operations as the
 * scalar loops below. */
CS_VINLINE void CS_W(cs_elu4)(const CS_T *x, const CS_T *d, CS_T *out, int m, CS_T alpha, int bwd)
{
    const CS_V zero = {0}, small = CS_K(EM1_SMALL) - (CS_V){0};
    CS_V v[CS_NS], xm[CS_NS], e[CS_NS], g[CS_NS];
    int k;
    CS_W(cs_ld4)(v, x, m);
    for (k = 0; k < CS_NS; k++) {
        xm[k] = CS_W(cs_sel)(v[k] > zero, zero, v[k]);
        e[k] = xm[k];
    }
    CS_W(cs_expn4)(e);
    if (bwd) {
        CS_W(cs_ld4)(g, d, m);
        for (k = 0; k < CS_NS; k++) v[k] = CS_W(cs_sel)(v[k] > zero, g[k], g[k] * (alpha * e[k]));
    } else {
        for (k = 0; k < CS_NS; k++) {
            CS_V r = xm[k], p;
            CS_K(EM1_COEFS)(CS_H_FIRST, CS_H_STEP)
            p = CS_W(cs_sel)(r > small, r + r * (r * p), e[k] - (CS_T)1);
            v[k] = CS_W(cs_sel)(v[k] > zero, v[k], alpha * p);
        }
    }
    CS_W(cs_st4)(out, v, m);
}
#endif

/* out = x where x > 0, else alpha * expm1(min(x, 0)) */
CS_CLONES static void CS_F(cs_act_elu)(const CS_T *restrict x, CS_T *restrict out, ptrdiff_t n,
                                       CS_T alpha)
{
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
#define CS_GROUP(j, m) CS_W(cs_elu4)(x + (j), NULL, out + (j), (m), alpha, 0)
    CS_FOR_GROUPS(i, n, CS_GROUP);
#undef CS_GROUP
#endif
    for (; i < n; i++) {
        CS_T xm = x[i] > (CS_T)0 ? (CS_T)0 : x[i];
        out[i] = x[i] > (CS_T)0 ? x[i] : alpha * CS_F(cs_expm1n)(xm);
    }
}

/* dx = dout where x > 0, else dout * (alpha * exp(min(x, 0))) */
CS_CLONES static void CS_F(cs_act_elu_bwd)(const CS_T *restrict x, const CS_T *restrict d,
                                           CS_T *restrict dx, ptrdiff_t n, CS_T alpha)
{
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
#define CS_GROUP(j, m) CS_W(cs_elu4)(x + (j), d + (j), dx + (j), (m), alpha, 1)
    CS_FOR_GROUPS(i, n, CS_GROUP);
#undef CS_GROUP
#endif
    for (; i < n; i++) {
        CS_T xm = x[i] > (CS_T)0 ? (CS_T)0 : x[i];
        dx[i] = x[i] > (CS_T)0 ? d[i] : d[i] * (alpha * CS_F(cs_expn)(xm));
    }
}

/* ---- inverted dropout ------------------------------------------------------------------------ */

/* out[i] = x[i] * (keep ? scale : 0) for the elements lo0 + i of a 2^32 block whose key is
 * (k0, kh) (activations_kernels.h); the multiplication keeps numpy's x * mask semantics (an inf or
 * NaN dropped gives NaN). */
CS_CLONES static void CS_F(cs_act_dropout)(const CS_T *restrict x, CS_T *restrict out, ptrdiff_t n,
                                           uint32_t lo0, uint32_t k0, uint32_t kh, uint32_t thr,
                                           CS_T scale)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        uint32_t h = cs_mix32(cs_mix32((lo0 + (uint32_t)i) ^ k0) ^ kh);
        out[i] = x[i] * ((h >> 8) < thr ? scale : (CS_T)0);
    }
}

/* ---- maxout ---------------------------------------------------------------------------------- */

/* One row: out[j] = max_q (z[q*m + j] + b[q*m + j]) and piece[j] its first maximal q (a NaN
 * counts as the maximum, as in numpy.argmax). */
CS_CLONES static void CS_F(cs_act_maxout_row)(const CS_T *restrict z, const CS_T *restrict b,
                                              CS_T *restrict out, int32_t *restrict piece,
                                              ptrdiff_t k, ptrdiff_t m)
{
    for (ptrdiff_t j = 0; j < m; j++) {
        out[j] = z[j] + b[j];
        piece[j] = 0;
    }
    for (ptrdiff_t q = 1; q < k; q++) {
        const CS_T *zq = z + q * m, *bq = b + q * m;
        for (ptrdiff_t j = 0; j < m; j++) {
            CS_T v = zq[j] + bq[j], best = out[j];
            int take = (v > best) | ((v != v) & (best == best));
            out[j] = take ? v : best;
            piece[j] = take ? (int32_t)q : piece[j];
        }
    }
}

/* One row of the scatter: dz[q*m + j] = dout[j] where piece[j] == q, else 0. */
CS_CLONES static void CS_F(cs_act_maxout_bwd_row)(const CS_T *restrict d,
                                                  const int32_t *restrict piece,
                                                  CS_T *restrict dz, ptrdiff_t k, ptrdiff_t m)
{
    for (ptrdiff_t q = 0; q < k; q++)
        for (ptrdiff_t j = 0; j < m; j++) dz[q * m + j] = piece[j] == (int32_t)q ? d[j] : (CS_T)0;
}

#undef CS_T
#undef CS_F
#undef CS_W
#undef CS_K
#undef CS_V
#undef CS_VI
#undef CS_NV
