/* The elementwise kernels of rnn_kernels.h for one floating type; rnn_kernels.h includes this
 * file once per type, with CS_T (the type), CS_I/CS_U (same-size signed/unsigned ints),
 * CS_F(name) (name with the type's suffix, _f or _d), CS_K(name) (the type's constant) and, for
 * vector builds, CS_V/CS_VI/CS_VU (vector of CS_NV elements and its integer views). No include
 * guard on purpose. */

/* ---- scalar -------------------------------------------------------------------------------- */

static inline CS_T CS_F(cs_expn)(CS_T x) /* exp(x) for x <= 0 (or NaN) */
{
    CS_T xc = x < CS_K(MIN_ARG) ? CS_K(MIN_ARG) : x, t, n, r, p, s;
    CS_I ti;
    t = xc * CS_K(LOG2E) + CS_K(SHIFT);
    n = t - CS_K(SHIFT);
    r = (xc - n * CS_K(LN2_HI)) - n * CS_K(LN2_LO);
    CS_K(EXP_COEFS)(CS_H_FIRST, CS_H_STEP)
    memcpy(&ti, &t, sizeof ti);
    ti = (CS_I)((CS_U)(ti - CS_K(SHIFT_BITS) + CS_K(EXP_BIAS)) << CS_K(MANT));
    memcpy(&s, &ti, sizeof s);
    p = (p * s) * CS_K(DOWN);
    return x < CS_K(MIN_ARG) ? (CS_T)0 : p;
}

static inline CS_T CS_F(cs_abs_s)(CS_T z)
{
    CS_U u;
    memcpy(&u, &z, sizeof u);
    u &= (CS_U)CS_K(ABS_MASK);
    memcpy(&z, &u, sizeof z);
    return z;
}

static inline CS_T CS_F(cs_sigmoid_s)(CS_T z)
{
    CS_T e = CS_F(cs_expn)(-CS_F(cs_abs_s)(z));
    return (z >= (CS_T)0 ? (CS_T)1 : e) / ((CS_T)1 + e);
}

static inline CS_T CS_F(cs_tanh_s)(CS_T z)
{
    CS_T a = CS_F(cs_abs_s)(z), e = CS_F(cs_expn)(-(a + a)), r = a * a, p, big, res;
    CS_U u, sg;
    CS_K(TANH_COEFS)(CS_H_FIRST, CS_H_STEP)
    big = ((CS_T)1 - e) / ((CS_T)1 + e);
    res = a < CS_K(TANH_SMALL) ? a + a * (r * p) : big;
    memcpy(&sg, &z, sizeof sg);
    memcpy(&u, &res, sizeof u);
    u |= sg & (CS_U)CS_K(SIGN_MASK);
    memcpy(&res, &u, sizeof res);
    return res;
}

/* ---- vector: CS_NS streams at a time --------------------------------------------------------- */
#ifdef CS_RNN_VECTOR

CS_VINLINE CS_V CS_F(cs_ldv)(const CS_T *p) { CS_V v; memcpy(&v, p, sizeof v); return v; }
CS_VINLINE void CS_F(cs_stv)(CS_T *p, CS_V v) { memcpy(p, &v, sizeof v); }
/* m ? a : b, lane by lane (m all-ones or all-zeros per lane) */
CS_VINLINE CS_V CS_F(cs_sel)(CS_VI m, CS_V a, CS_V b) { return (CS_V)(((CS_VI)a & m) | ((CS_VI)b & ~m)); }
CS_VINLINE CS_V CS_F(cs_abs_v)(CS_V z) { return (CS_V)((CS_VI)z & CS_K(ABS_MASK)); }

/* x[k] = exp(x[k]) for x <= 0 (or NaN), the CS_NS streams' steps interleaved. */
CS_VINLINE void CS_F(cs_expn4)(CS_V x[CS_NS])
{
    const CS_V lo = CS_K(MIN_ARG) - (CS_V){0}, zero = {0};
    CS_VI small[CS_NS];
    CS_V xc[CS_NS], t[CS_NS], r[CS_NS], p[CS_NS], n;
    int k;
    for (k = 0; k < CS_NS; k++) {
        small[k] = x[k] < lo;
        xc[k] = CS_F(cs_sel)(small[k], lo, x[k]);
        t[k] = xc[k] * CS_K(LOG2E) + CS_K(SHIFT);
        n = t[k] - CS_K(SHIFT);
        r[k] = (xc[k] - n * CS_K(LN2_HI)) - n * CS_K(LN2_LO);
    }
    CS_K(EXP_COEFS)(CS_H4_FIRST, CS_H4_STEP)
    for (k = 0; k < CS_NS; k++) {
        CS_VI ti = (CS_VI)((CS_VU)((CS_VI)t[k] - CS_K(SHIFT_BITS) + CS_K(EXP_BIAS)) << CS_K(MANT));
        x[k] = CS_F(cs_sel)(small[k], zero, (p[k] * (CS_V)ti) * CS_K(DOWN));
    }
}

/* sigmoid(z) from e = exp(-|z|) */
CS_VINLINE CS_V CS_F(cs_sigmoid_fin)(CS_V z, CS_V e)
{
    const CS_V one = (CS_T)1 - (CS_V){0}, zero = {0};
    return CS_F(cs_sel)(z >= zero, one, e) / ((CS_T)1 + e);
}

/* tanh(z) from a = |z| and e = exp(-2a) */
CS_VINLINE CS_V CS_F(cs_tanh_fin)(CS_V z, CS_V a, CS_V e)
{
    const CS_V thr = CS_K(TANH_SMALL) - (CS_V){0};
    CS_V r = a * a, p, big, res;
    CS_K(TANH_COEFS)(CS_H_FIRST, CS_H_STEP)
    big = ((CS_T)1 - e) / ((CS_T)1 + e);
    res = CS_F(cs_sel)(a < thr, a + a * (r * p), big);
    return (CS_V)((CS_VI)res | ((CS_VI)z & CS_K(SIGN_MASK)));
}

CS_VINLINE void CS_F(cs_sigmoid4)(CS_V z[CS_NS]) /* in place */
{
    CS_V e[CS_NS];
    int k;
    for (k = 0; k < CS_NS; k++) e[k] = -CS_F(cs_abs_v)(z[k]);
    CS_F(cs_expn4)(e);
    for (k = 0; k < CS_NS; k++) z[k] = CS_F(cs_sigmoid_fin)(z[k], e[k]);
}

CS_VINLINE void CS_F(cs_tanh4)(CS_V z[CS_NS]) /* in place */
{
    CS_V a[CS_NS], e[CS_NS];
    int k;
    for (k = 0; k < CS_NS; k++) {
        a[k] = CS_F(cs_abs_v)(z[k]);
        e[k] = -(a[k] + a[k]);
    }
    CS_F(cs_expn4)(e);
    for (k = 0; k < CS_NS; k++) z[k] = CS_F(cs_tanh_fin)(z[k], a[k], e[k]);
}

/* v[k] = the k-th vector at p for k < m, zeros above (computed on, never stored). */
CS_VINLINE void CS_F(cs_ld4)(CS_V v[CS_NS], const CS_T *p, int m)
{
    int k;
    for (k = 0; k < CS_NS; k++) v[k] = k < m ? CS_F(cs_ldv)(p + k * CS_NV) : (CS_V){0};
}

CS_VINLINE void CS_F(cs_st4)(CS_T *p, const CS_V v[CS_NS], int m)
{
    int k;
    for (k = 0; k < m; k++) CS_F(cs_stv)(p + k * CS_NV, v[k]);
}

/* Runs GROUP(i, m) over the whole vectors of the contiguous range [i, n): m = CS_NS vectors at a
 * time (a constant, so the compiler unrolls), then once with the m < CS_NS vectors left. The
 * caller finishes the last n - i < CS_NV elements with scalar code. */
#define CS_FOR_GROUPS(i, n, GROUP)                                                             \
    do {                                                                                       \
        for (; (i) + CS_NS * CS_NV <= (n); (i) += CS_NS * CS_NV) GROUP((i), CS_NS);            \
        if ((i) + CS_NV <= (n)) {                                                              \
            int m_ = (int)(((n) - (i)) / CS_NV);                                               \
            GROUP((i), m_);                                                                    \
            (i) += m_ * CS_NV;                                                                 \
        }                                                                                      \
    } while (0)

/* Group bodies (m <= CS_NS vectors from each pointer). */
CS_VINLINE void CS_F(cs_lstm_out4)(const CS_T *cn, const CS_T *o, CS_T *tc, CS_T *hn, int m)
{
    CS_V t[CS_NS], h[CS_NS];
    int k;
    CS_F(cs_ld4)(t, cn, m);
    CS_F(cs_ld4)(h, o, m);
    CS_F(cs_tanh4)(t);
    CS_F(cs_st4)(tc, t, m);
    for (k = 0; k < CS_NS; k++) h[k] = h[k] * t[k];
    CS_F(cs_st4)(hn, h, m);
}

CS_VINLINE void CS_F(cs_rnn_out4)(const CS_T *a, const CS_T *b, CS_T *hn, int m)
{
    CS_V z[CS_NS], bb[CS_NS];
    int k;
    CS_F(cs_ld4)(z, a, m);
    CS_F(cs_ld4)(bb, b, m);
    for (k = 0; k < CS_NS; k++) z[k] = z[k] + bb[k];
    CS_F(cs_tanh4)(z);
    CS_F(cs_st4)(hn, z, m);
}
#endif /* CS_RNN_VECTOR */

/* ---- row kernels --------------------------------------------------------------------------- */

/* One LSTM row, hidden units [j0, j1): a holds the row's 4H pre-activations (bias not yet
 * added) and receives the activated gates (i, f, o, g); cp (the previous cell row) may be NULL
 * for zeros. First the gates and the cell (the four gates of a vector of units are the four
 * streams), then tanh(cell) and the hidden state over the whole range. */
CS_RNN_CLONES static void CS_F(cs_lstm_row)(CS_T *a, const CS_T *b, const CS_T *cp, CS_T *cn,
                                            CS_T *tc, CS_T *hn, ptrdiff_t hd, ptrdiff_t j0,
                                            ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    int k;
    for (; j + CS_NV <= j1; j += CS_NV) {
        CS_V z[CS_NS], ab[CS_NS], e[CS_NS], s[CS_NS];
        /* gate k's pre-activations; exp(-|z|) for the sigmoids i, f, o, exp(-2|z|) for tanh g */
        for (k = 0; k < CS_NS; k++) {
            z[k] = CS_F(cs_ldv)(a + k * hd + j) + CS_F(cs_ldv)(b + k * hd + j);
            ab[k] = CS_F(cs_abs_v)(z[k]);
            e[k] = k < 3 ? -ab[k] : -(ab[k] + ab[k]);
        }
        CS_F(cs_expn4)(e);
        for (k = 0; k < 3; k++) s[k] = CS_F(cs_sigmoid_fin)(z[k], e[k]);
        s[3] = CS_F(cs_tanh_fin)(z[3], ab[3], e[3]);
        for (k = 0; k < CS_NS; k++) CS_F(cs_stv)(a + k * hd + j, s[k]);
        CS_F(cs_stv)(cn + j, cp ? s[1] * CS_F(cs_ldv)(cp + j) + s[0] * s[3] : s[0] * s[3]);
    }
#endif
    for (; j < j1; j++) {
        CS_T vi = CS_F(cs_sigmoid_s)(a[j] + b[j]), vf = CS_F(cs_sigmoid_s)(a[hd + j] + b[hd + j]);
        CS_T vo = CS_F(cs_sigmoid_s)(a[2 * hd + j] + b[2 * hd + j]);
        CS_T vg = CS_F(cs_tanh_s)(a[3 * hd + j] + b[3 * hd + j]);
        a[j] = vi; a[hd + j] = vf; a[2 * hd + j] = vo; a[3 * hd + j] = vg;
        cn[j] = cp ? vf * cp[j] + vi * vg : vi * vg;
    }
    j = j0;
#ifdef CS_RNN_VECTOR
#define CS_GROUP(i, m) CS_F(cs_lstm_out4)(cn + (i), a + 2 * hd + (i), tc + (i), hn + (i), (m))
    CS_FOR_GROUPS(j, j1, CS_GROUP);
#undef CS_GROUP
#endif
    for (; j < j1; j++) {
        CS_T t = CS_F(cs_tanh_s)(cn[j]);
        tc[j] = t;
        hn[j] = a[2 * hd + j] * t;
    }
}

/* One vanilla-RNN row: hn[j] = tanh(a[j] + b[j]) for j in [j0, j1). */
CS_RNN_CLONES static void CS_F(cs_rnn_row)(const CS_T *a, const CS_T *b, CS_T *hn, ptrdiff_t j0,
                                           ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
#define CS_GROUP(i, m) CS_F(cs_rnn_out4)(a + (i), b + (i), hn + (i), (m))
    CS_FOR_GROUPS(j, j1, CS_GROUP);
#undef CS_GROUP
#endif
    for (; j < j1; j++) hn[j] = CS_F(cs_tanh_s)(a[j] + b[j]);
}

/* Backward of one LSTM row, hidden units [j0, j1): the pre-activation gradient da (4H, gate
 * order i, f, o, g) from the upstream hidden-state gradient up (+ rec, the recurrent one, when
 * not NULL), the incoming cell gradient dcin (NULL: zero), the activated gates g, the previous
 * cell cp (NULL: zero) and tanh of the cell tc; writes the previous cell's gradient to dcout
 * (which may be dcin: each element is read before it is written). */
#define CS_LSTM_BWD_ROW(T, LD, ST, ONE, ZERO)                                                  \
    {                                                                                          \
        T dh = LD(up + j), vi, vf, vo, vg, t, dc, c_prev;                                      \
        if (rec) dh = dh + LD(rec + j);                                                        \
        vi = LD(g + j); vf = LD(g + hd + j); vo = LD(g + 2 * hd + j); vg = LD(g + 3 * hd + j); \
        t = LD(tc + j);                                                                        \
        dc = dh * vo * (ONE - t * t);                                                          \
        if (dcin) dc = LD(dcin + j) + dc;                                                      \
        c_prev = cp ? LD(cp + j) : ZERO;                                                       \
        ST(da + j, dc * vg * vi * (ONE - vi));                                                 \
        ST(da + hd + j, dc * c_prev * vf * (ONE - vf));                                        \
        ST(da + 2 * hd + j, dh * t * vo * (ONE - vo));                                         \
        ST(da + 3 * hd + j, dc * vi * (ONE - vg * vg));                                        \
        ST(dcout + j, dc * vf);                                                                \
    }

CS_RNN_CLONES static void CS_F(cs_lstm_bwd_row)(const CS_T *up, const CS_T *rec, const CS_T *dcin,
                                                CS_T *dcout, const CS_T *g, const CS_T *cp,
                                                const CS_T *tc, CS_T *da, ptrdiff_t hd,
                                                ptrdiff_t j0, ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    const CS_V one = (CS_T)1 - (CS_V){0}, zero = {0};
    for (; j + CS_NV <= j1; j += CS_NV) CS_LSTM_BWD_ROW(CS_V, CS_F(cs_ldv), CS_F(cs_stv), one, zero)
#endif
    for (; j < j1; j++) CS_LSTM_BWD_ROW(CS_T, CS_SCALAR_LD, CS_SCALAR_ST, (CS_T)1, (CS_T)0)
}
#undef CS_LSTM_BWD_ROW

/* Backward of one vanilla-RNN row: da[j] = (up[j] (+ rec[j])) * (1 - hn[j]^2). */
#define CS_RNN_BWD_ROW(T, LD, ST, ONE)                                                         \
    {                                                                                          \
        T dh = LD(up + j), t = LD(hn + j);                                                     \
        if (rec) dh = dh + LD(rec + j);                                                        \
        ST(da + j, dh * (ONE - t * t));                                                        \
    }

CS_RNN_CLONES static void CS_F(cs_rnn_bwd_row)(const CS_T *up, const CS_T *rec, const CS_T *hn,
                                               CS_T *da, ptrdiff_t j0, ptrdiff_t j1)
{
    ptrdiff_t j = j0;
#ifdef CS_RNN_VECTOR
    const CS_V one = (CS_T)1 - (CS_V){0};
    for (; j + CS_NV <= j1; j += CS_NV) CS_RNN_BWD_ROW(CS_V, CS_F(cs_ldv), CS_F(cs_stv), one)
#endif
    for (; j < j1; j++) CS_RNN_BWD_ROW(CS_T, CS_SCALAR_LD, CS_SCALAR_ST, (CS_T)1)
}
#undef CS_RNN_BWD_ROW

/* acc[j] += x[j] for j in [j0, j1) (column sums of a matrix, one row at a time: every element's
 * sum runs over the rows in order, however the loop is vectorised). */
static void CS_F(cs_add_row)(CS_T *restrict acc, const CS_T *restrict x, ptrdiff_t j0, ptrdiff_t j1)
{
    for (ptrdiff_t j = j0; j < j1; j++) acc[j] += x[j];
}

#ifdef CS_RNN_VECTOR
/* out[i] = f(z[i]) over the whole vectors of [0, n), fn4 being f on CS_NS vectors in place (a
 * constant at every call, so the compiler inlines it); returns where the scalar tail starts. */
CS_VINLINE ptrdiff_t CS_F(cs_map_vectors)(void (*fn4)(CS_V *), const CS_T *z, CS_T *out,
                                             ptrdiff_t n)
{
    ptrdiff_t i = 0;
#define CS_GROUP(j, m)                                                                         \
    do {                                                                                       \
        CS_V v[CS_NS];                                                                         \
        CS_F(cs_ld4)(v, z + (j), (m));                                                         \
        fn4(v);                                                                                \
        CS_F(cs_st4)(out + (j), v, (m));                                                       \
    } while (0)
    CS_FOR_GROUPS(i, n, CS_GROUP);
#undef CS_GROUP
    return i;
}
#define CS_MAP_VECTORS(fn4, z, out, n) CS_F(cs_map_vectors)(fn4, z, out, n)
#else
#define CS_MAP_VECTORS(fn4, z, out, n) 0
#endif

/* out[i] = sigmoid(z[i]) for i in [0, n). */
CS_RNN_CLONES static void CS_F(cs_sigmoid)(const CS_T *z, CS_T *out, ptrdiff_t n)
{
    ptrdiff_t i = CS_MAP_VECTORS(CS_F(cs_sigmoid4), z, out, n);
    for (; i < n; i++) out[i] = CS_F(cs_sigmoid_s)(z[i]);
}

/* out[i] = tanh(z[i]) for i in [0, n). */
CS_RNN_CLONES static void CS_F(cs_tanh)(const CS_T *z, CS_T *out, ptrdiff_t n)
{
    ptrdiff_t i = CS_MAP_VECTORS(CS_F(cs_tanh4), z, out, n);
    for (; i < n; i++) out[i] = CS_F(cs_tanh_s)(z[i]);
}
#undef CS_MAP_VECTORS

/* The instantiation's parameters end here (rnn_kernels.h sets them again for the next type). */
#undef CS_T
#undef CS_I
#undef CS_U
#undef CS_F
#undef CS_K
#undef CS_V
#undef CS_VI
#undef CS_VU
#undef CS_NV
