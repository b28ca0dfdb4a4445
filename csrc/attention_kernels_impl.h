/* The row kernels of attention_kernels.h for one floating type; included once per type with
 * CS_T, CS_F(name), CS_SUM_LANES and, for vector builds, CS_V/CS_VI/CS_NV (rnn_kernels.h's vector
 * type, its integer view and its length). No include guard on purpose. */

#include "row_reduce_impl.h"

/* Sum of a[i] * b[i] in CS_LANES partial sums (lane i % CS_LANES) added in a fixed order. */
CS_AINLINE CS_T CS_F(cs_attn_row_dot)(const CS_T *a, const CS_T *b, ptrdiff_t c)
{
    CS_T acc[CS_LANES];
    ptrdiff_t i = 0;
    int l;
#ifdef CS_RNN_VECTOR
    CS_V va[CS_LANES / CS_NV];
    for (l = 0; l < CS_LANES / CS_NV; l++) va[l] = (CS_V){0};
    for (; i + CS_LANES <= c; i += CS_LANES)
        for (l = 0; l < CS_LANES / CS_NV; l++)
            va[l] = va[l] + CS_F(cs_ldv)(a + i + l * CS_NV) * CS_F(cs_ldv)(b + i + l * CS_NV);
    for (l = 0; l < CS_LANES / CS_NV; l++) CS_F(cs_stv)(acc + l * CS_NV, va[l]);
#else
    for (l = 0; l < CS_LANES; l++) acc[l] = 0;
    for (; i + CS_LANES <= c; i += CS_LANES)
        for (l = 0; l < CS_LANES; l++) acc[l] += a[i + l] * b[i + l];
#endif
    for (l = 0; i + l < c; l++) acc[l] += a[i + l] * b[i + l];
    return CS_SUM_LANES(acc);
}

#ifdef CS_RNN_VECTOR
/* e[j] = exp(x[j] - m) for the k <= CS_NS vectors at x (the scalar loop's operations). */
CS_AINLINE void CS_F(cs_attn_exp_shift4)(CS_T *x, CS_T m, int k)
{
    CS_V v[CS_NS];
    int s;
    CS_F(cs_ld4)(v, x, k);
    for (s = 0; s < CS_NS; s++) v[s] = v[s] - m;
    CS_F(cs_expn4)(v);
    CS_F(cs_st4)(x, v, k);
}
#endif

/* Softmax of rows x rows of c scores at s (leading dimension c), in place, after the additive
 * mask add (same layout; NULL: none). See the header's comment. */
CS_CLONES static void CS_F(cs_attn_softmax)(CS_T *s, const CS_T *add, ptrdiff_t rows, ptrdiff_t c)
{
    ptrdiff_t r, i;
    for (r = 0; r < rows; r++) {
        CS_T *x = s + r * c, m, inv;
        if (add != NULL) {
            const CS_T *a = add + r * c;
            for (i = 0; i < c; i++) x[i] = a[i] == -(CS_T)INFINITY ? a[i] : x[i] + a[i];
        }
        m = CS_F(cs_row_max)(x, c);
        if (m == -(CS_T)INFINITY) {
            /* every key masked (and no NaN, which the maximum skips but must propagate): no
             * softmax, zero weights */
            for (i = 0; i < c && x[i] == x[i]; i++) {
            }
            if (i == c) {
                for (i = 0; i < c; i++) x[i] = 0;
                continue;
            }
        }
        i = 0;
#ifdef CS_RNN_VECTOR
#define CS_GROUP(j, k) CS_F(cs_attn_exp_shift4)(x + (j), m, (k))
        CS_FOR_GROUPS(i, c, CS_GROUP);
#undef CS_GROUP
#endif
        for (; i < c; i++) x[i] = CS_F(cs_expn)(x[i] - m);
        inv = (CS_T)1 / CS_F(cs_row_sum)(x, c);
        for (i = 0; i < c; i++) x[i] = x[i] * inv;
    }
}

/* out[i] = (p[i] * keep[i]) * d for n elements: the attention dropout's kept, scaled weights. */
CS_CLONES static void CS_F(cs_attn_dropout)(const CS_T *p, const uint8_t *keep, CS_T d, CS_T *out,
                                            ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) out[i] = (p[i] * (CS_T)keep[i]) * d;
}

/* The softmax's backward over rows x c, in place in dp: with dropout (keep != NULL) first
 * dp = dp * (keep * d); then per row r = sum(p * dp) and dp = p * (dp - r). */
CS_CLONES static void CS_F(cs_attn_softmax_bwd)(const CS_T *p, CS_T *dp, const uint8_t *keep, CS_T d,
                                                ptrdiff_t rows, ptrdiff_t c)
{
    ptrdiff_t r, i;
    for (r = 0; r < rows; r++) {
        const CS_T *pr = p + r * c;
        CS_T *g = dp + r * c, t;
        if (keep != NULL) {
            const uint8_t *kr = keep + r * c;
            for (i = 0; i < c; i++) g[i] = g[i] * ((CS_T)kr[i] * d);
        }
        t = CS_F(cs_attn_row_dot)(pr, g, c);
        for (i = 0; i < c; i++) g[i] = pr[i] * (g[i] - t);
    }
}

#undef CS_T
#undef CS_F
#undef CS_SUM_LANES
#ifdef CS_RNN_VECTOR
#undef CS_V
#undef CS_VI
#undef CS_NV
#endif
