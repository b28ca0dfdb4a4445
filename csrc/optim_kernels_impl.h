/* One type's update kernels; included by optim_kernels.h with CS_T (float or double), CS_F
 * (name suffix) and CS_SQRT defined, which it undefines at the end. No include guard on
 * purpose. Pointers are to chunk starts; outputs are fresh arrays that alias no input (inputs
 * may alias each other: they are only read). */

/* next_w = w - learning_rate * dw */
CS_CLONES static void CS_F(cs_sgd)(const CS_T *restrict w, const CS_T *restrict dw,
                                                  CS_T *restrict nw, CS_T lr, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        nw[i] = w[i] - lr * dw[i];
}

/* v = momentum * v - learning_rate * dw; next_w = w + v */
CS_CLONES static void CS_F(cs_sgd_momentum)(
    const CS_T *restrict w, const CS_T *restrict dw, const CS_T *restrict vel,
    CS_T *restrict nw, CS_T *restrict vo, CS_T lr, CS_T mu, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        CS_T v = mu * vel[i] - lr * dw[i];
        vo[i] = v;
        nw[i] = w[i] + v;
    }
}

/* v = momentum * v_prev - learning_rate * dw; next_w = w - momentum * v_prev + (1 + momentum) * v
 * (onepmu = 1 + momentum, rounded once as NumPy rounds the Python float) */
CS_CLONES static void CS_F(cs_nesterov_momentum)(
    const CS_T *restrict w, const CS_T *restrict dw, const CS_T *restrict vel,
    CS_T *restrict nw, CS_T *restrict vo, CS_T lr, CS_T mu, CS_T onepmu, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        CS_T vp = vel[i];
        CS_T v = mu * vp - lr * dw[i];
        vo[i] = v;
        nw[i] = (w[i] - mu * vp) + onepmu * v;
    }
}

/* cache = cache + dw**2; next_w = w - learning_rate * dw / (sqrt(cache) + epsilon) */
CS_CLONES static void CS_F(cs_adagrad)(
    const CS_T *restrict w, const CS_T *restrict dw, const CS_T *restrict cache,
    CS_T *restrict nw, CS_T *restrict co, CS_T lr, CS_T eps, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        CS_T g = dw[i];
        CS_T c = cache[i] + g * g;
        co[i] = c;
        nw[i] = w[i] - (lr * g) / (CS_SQRT(c) + eps);
    }
}

/* cache = decay_rate * cache + (1 - decay_rate) * dw**2;
 * next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)   (omrho = 1 - decay_rate) */
CS_CLONES static void CS_F(cs_rmsprop)(
    const CS_T *restrict w, const CS_T *restrict dw, const CS_T *restrict cache,
    CS_T *restrict nw, CS_T *restrict co, CS_T lr, CS_T rho, CS_T omrho, CS_T eps, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        CS_T g = dw[i];
        CS_T c = rho * cache[i] + omrho * (g * g);
        co[i] = c;
        nw[i] = w[i] - (lr * g) / (CS_SQRT(c) + eps);
    }
}

/* The course's Adam with t already incremented: m = beta1 * m + (1 - beta1) * dw;
 * v = beta2 * v + (1 - beta2) * dw**2; mt = m / (1 - beta1**t); vt = v / (1 - beta2**t);
 * next_w = w - learning_rate * mt / (sqrt(vt) + epsilon).
 * omb1 = 1 - beta1, omb2 = 1 - beta2, c1 = 1 - beta1**t, c2 = 1 - beta2**t (each rounded once).
 * The divisions by c1 and c2 stay divisions (not multiplications by reciprocals): that is the
 * course's arithmetic, and the loop is bound by memory, not by the divider. */
CS_CLONES static void CS_F(cs_adam)(
    const CS_T *restrict w, const CS_T *restrict dw, const CS_T *restrict m,
    const CS_T *restrict v, CS_T *restrict nw, CS_T *restrict mo, CS_T *restrict vo,
    CS_T lr, CS_T b1, CS_T omb1, CS_T b2, CS_T omb2, CS_T c1, CS_T c2, CS_T eps, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        CS_T g = dw[i];
        CS_T mn = b1 * m[i] + omb1 * g;
        CS_T vn = b2 * v[i] + omb2 * (g * g);
        mo[i] = mn;
        vo[i] = vn;
        nw[i] = w[i] - (lr * (mn / c1)) / (CS_SQRT(vn / c2) + eps);
    }
}

/* Sum of squares of x[0, n) in double, in a fixed order: element i goes to lane i % CS_LANES
 * (each lane's sum runs in index order), then the lanes are added pairwise (cs_sum_lanes_d).
 * The compiler vectorises the lane loop at whatever width the clone has; the bits do not
 * depend on it (see simd.h). Squares of float32 values are exact in double. */
CS_CLONES static double CS_F(cs_sumsq)(const CS_T *restrict x, ptrdiff_t n)
{
    double acc[CS_LANES];
    ptrdiff_t i, nb = n / CS_LANES * CS_LANES;
    int k;
    for (k = 0; k < CS_LANES; k++) acc[k] = 0.0;
    for (i = 0; i < nb; i += CS_LANES)
        for (k = 0; k < CS_LANES; k++) {
            double v = (double)x[i + k];
            acc[k] += v * v;
        }
    for (k = 0; i < n; i++, k++) {
        double v = (double)x[i];
        acc[k] += v * v;
    }
    return cs_sum_lanes_d(acc);
}

#undef CS_T
#undef CS_F
#undef CS_SQRT
