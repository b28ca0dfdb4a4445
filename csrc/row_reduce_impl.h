/* Row reductions shared by the losses and attention softmaxes, for one floating type: included
 * by losses_kernels_impl.h and attention_kernels_impl.h (once per type, with their CS_T, CS_F,
 * CS_SUM_LANES and, for vector builds, CS_V/CS_NV and rnn_kernels.h's cs_ldv/cs_stv). No include
 * guard on purpose. Both give the same bits in vector and scalar form: the maximum is exact
 * (order-free), the sum adds element i into lane i % CS_LANES and the lanes in a fixed order. */

/* Largest element, NaN skipped (-inf for a row of NaN or of -inf). */
static inline __attribute__((always_inline)) CS_T CS_F(cs_row_max)(const CS_T *x, ptrdiff_t c)
{
    CS_T acc[CS_LANES], m;
    ptrdiff_t i = 0;
    int l;
#ifdef CS_RNN_VECTOR
    CS_V va[CS_LANES / CS_NV];
    for (l = 0; l < CS_LANES / CS_NV; l++) va[l] = -(CS_T)INFINITY - (CS_V){0};
    for (; i + CS_LANES <= c; i += CS_LANES)
        for (l = 0; l < CS_LANES / CS_NV; l++) {
            CS_V v = CS_F(cs_ldv)(x + i + l * CS_NV);
            va[l] = CS_F(cs_sel)(v > va[l], v, va[l]);
        }
    for (l = 0; l < CS_LANES / CS_NV; l++) CS_F(cs_stv)(acc + l * CS_NV, va[l]);
#else
    for (l = 0; l < CS_LANES; l++) acc[l] = -(CS_T)INFINITY;
    for (; i + CS_LANES <= c; i += CS_LANES)
        for (l = 0; l < CS_LANES; l++) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
#endif
    for (l = 0; i + l < c; l++) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
    m = acc[0];
    for (l = 1; l < CS_LANES; l++) m = acc[l] > m ? acc[l] : m;
    return m;
}

/* Sum in CS_LANES partial sums (lane i % CS_LANES) added in a fixed order (the vector form adds
 * the same elements into the same lanes in the same order). */
static inline __attribute__((always_inline)) CS_T CS_F(cs_row_sum)(const CS_T *x, ptrdiff_t c)
{
    CS_T acc[CS_LANES];
    ptrdiff_t i = 0;
    int l;
#ifdef CS_RNN_VECTOR
    CS_V va[CS_LANES / CS_NV];
    for (l = 0; l < CS_LANES / CS_NV; l++) va[l] = (CS_V){0};
    for (; i + CS_LANES <= c; i += CS_LANES)
        for (l = 0; l < CS_LANES / CS_NV; l++) va[l] = va[l] + CS_F(cs_ldv)(x + i + l * CS_NV);
    for (l = 0; l < CS_LANES / CS_NV; l++) CS_F(cs_stv)(acc + l * CS_NV, va[l]);
#else
    for (l = 0; l < CS_LANES; l++) acc[l] = 0;
    for (; i + CS_LANES <= c; i += CS_LANES)
        for (l = 0; l < CS_LANES; l++) acc[l] += x[i + l];
#endif
    for (l = 0; i + l < c; l++) acc[l] += x[i + l];
    return CS_SUM_LANES(acc);
}
