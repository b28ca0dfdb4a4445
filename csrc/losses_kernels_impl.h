/* The row kernels of losses_kernels.h for one floating type; included once per type with CS_T,
 * CS_F(name) (the name with the type's suffix), CS_SUM_LANES and, for vector builds, CS_V/CS_NV
 * (rnn_kernels.h's vector type and its length). No include guard on purpose. */

#include "row_reduce_impl.h"

#ifdef CS_RNN_VECTOR
/* e[j] = exp(x[j] - m) for the k <= CS_NS vectors at x (the scalar loop's operations). */
CS_LINLINE void CS_F(cs_exp_shift4)(const CS_T *x, CS_T *e, CS_T m, int k)
{
    CS_V v[CS_NS];
    int s;
    CS_F(cs_ld4)(v, x, k);
    for (s = 0; s < CS_NS; s++) v[s] = v[s] - m;
    CS_F(cs_expn4)(v);
    CS_F(cs_st4)(e, v, k);
}
#endif

/* One row of the softmax loss: x (c scores), correct class y, divisor n (the batch size).
 * Writes dx = (softmax(x) - onehot(y)) / n and returns -log softmax(x)[y] (not divided). */
CS_CLONES static double CS_F(cs_softmax_row)(const CS_T *x, CS_T *dx, ptrdiff_t c, ptrdiff_t y,
                                             CS_T n)
{
    const CS_T m = CS_F(cs_row_max)(x, c);
    CS_T ey, others, inv, sy;
    ptrdiff_t i = 0;
#ifdef CS_RNN_VECTOR
#define CS_GROUP(j, k) CS_F(cs_exp_shift4)(x + (j), dx + (j), m, (k))
    CS_FOR_GROUPS(i, c, CS_GROUP);
#undef CS_GROUP
#endif
    for (; i < c; i++) dx[i] = CS_F(cs_expn)(x[i] - m);
    ey = dx[y];
    dx[y] = 0;
    others = CS_F(cs_row_sum)(dx, c);
    inv = (CS_T)1 / ((others + ey) * n);
    for (i = 0; i < c; i++) dx[i] = dx[i] * inv;
    dx[y] = -others * inv;
    sy = x[y] - m;
    if (sy == 0) return log1p((double)others);
    return log((double)others + cs_expn_d((double)sy)) - (double)sy;
}

/* One row of the multiclass SVM loss (margin 1): writes dx (1/n where x_k - x_y + 1 > 0, k != y;
 * -count/n at y) and returns the row's sum of max(0, x_k - x_y + 1) over k != y (not divided),
 * the terms added in double into CS_LANES partial sums. Requires c < 2**31 (int32 counts). */
CS_CLONES static double CS_F(cs_svm_row)(const CS_T *x, CS_T *dx, ptrdiff_t c, ptrdiff_t y, CS_T n)
{
    const CS_T sy = x[y], step = (CS_T)1 / n;
    double acc[CS_LANES];
    int32_t cnt[CS_LANES], count = 0;
    ptrdiff_t i;
    int l;
    for (i = 0; i < c; i++) dx[i] = (x[i] - sy) + (CS_T)1;
    dx[y] = 0;
    for (l = 0; l < CS_LANES; l++) {
        acc[l] = 0;
        cnt[l] = 0;
    }
    i = 0;
#ifdef CS_RNN_VECTOR
    {
        /* The scalar lane loop below, CS_NV lanes at a time: the margins' loss terms (NaN kept,
         * as np.maximum does) go to double lanes (CS_ADD_D: converted, CS_NV / 4 double vectors
         * per score vector), the positive margins are counted (a true compare is -1) and
         * replaced by the gradient. */
        const CS_V zero = {0}, stepv = step - (CS_V){0};
        cs_vd dacc[CS_LANES / 4];
        CS_VI cv[CS_LANES / CS_NV];
        for (l = 0; l < CS_LANES / 4; l++) dacc[l] = (cs_vd){0};
        for (l = 0; l < CS_LANES / CS_NV; l++) cv[l] = (CS_VI){0};
        for (; i + CS_LANES <= c; i += CS_LANES)
            for (l = 0; l < CS_LANES / CS_NV; l++) {
                CS_V mg = CS_F(cs_ldv)(dx + i + l * CS_NV);
                CS_VI pos = mg > zero;
                CS_V term = CS_F(cs_sel)(mg < zero, zero, mg);
                CS_ADD_D(dacc, l, term);
                cv[l] = cv[l] - pos;
                CS_F(cs_stv)(dx + i + l * CS_NV, CS_F(cs_sel)(pos, stepv, zero));
            }
        for (l = 0; l < CS_LANES / 4; l++) memcpy(acc + 4 * l, &dacc[l], sizeof dacc[l]);
        for (l = 0; l < CS_LANES; l++) cnt[l] = (int32_t)cv[l / CS_NV][l % CS_NV];
    }
#endif
#define CS_SVM_LANE(j, l)                                                                      \
    {                                                                                          \
        CS_T mg = dx[j];                                                                       \
        acc[l] += (double)(mg < 0 ? (CS_T)0 : mg);                                             \
        cnt[l] += mg > 0;                                                                      \
        dx[j] = mg > 0 ? step : (CS_T)0;                                                       \
    }
    for (; i + CS_LANES <= c; i += CS_LANES)
        for (l = 0; l < CS_LANES; l++) CS_SVM_LANE(i + l, l)
    for (l = 0; i + l < c; l++) CS_SVM_LANE(i + l, l)
#undef CS_SVM_LANE
    for (l = 0; l < CS_LANES; l++) count += cnt[l];
    dx[y] = -(CS_T)count / n;
    return cs_sum_lanes_d(acc);
}

/* The instantiation's parameters end here (losses_kernels.h sets them again for the next type). */
#undef CS_T
#undef CS_F
#undef CS_SUM_LANES
#undef CS_V
#undef CS_VI
#undef CS_NV
#undef CS_ADD_D
