"""Normalisation kernels (cs231n_fast._ext.norm): batch normalisation of (N, D) and (N, C, H, W)
inputs (train and test mode), layer normalisation of (N, D) rows and group normalisation of
(N, C, H, W) inputs, forward and backward.

Callers (``cs231n_fast.ops.norm``) guarantee: C-contiguous arrays of one floating dtype with the
documented shapes, no zero-size dimension, eps > 0, momentum in [0, 1], G a divisor of C,
outputs allocated, ``n_threads >= 1``.

Batch normalisation sees its input as (N, C, L): L = 1 for (N, D) data (C = D), L = H * W for
images, read in place (no transposed copy). With L = 1 the work unit is a block of
CS_NRM_COLS = 64 consecutive features, walked row by row with the loop over the block's
columns vectorised; with L > 1 it is one channel, its N runs of L values. Layer normalisation
is parallel over rows (its dgamma/dbeta over column blocks), group normalisation over the
N * G groups. Each unit is one prange iteration, the partition depends on the shape only, and
every output element has one writer: results are bitwise identical for any thread count and for
the build without OpenMP. Statistics are two-pass float64 sums (see norm_kernels.h).
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport sqrt

cdef extern from "norm_kernels.h" nogil:
    enum: CS_NRM_COLS
    void cs_nrm_stats_f(const float* x, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len, double* mean, double* var)
    void cs_nrm_stats_d(const double* x, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len, double* mean, double* var)
    void cs_nrm_apply_f(const float* x, float* out, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len,
                        float m, float iv, float g, float b)
    void cs_nrm_apply_d(const double* x, double* out, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len,
                        double m, double iv, double g, double b)
    void cs_nrm_gradsums_f(const float* x, const float* dy, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len,
                           float m, float iv, double* sums)
    void cs_nrm_gradsums_d(const double* x, const double* dy, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len,
                           double m, double iv, double* sums)
    void cs_nrm_dx_f(const float* x, const float* dy, float* dx, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len,
                     float m, float iv, float g, float A, float B, int batch_stats)
    void cs_nrm_dx_d(const double* x, const double* dy, double* dx, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len,
                     double m, double iv, double g, double A, double B, int batch_stats)
    void cs_nrm_row_apply_f(const float* x, float* out, Py_ssize_t len, float m, float iv, const float* g, const float* b)
    void cs_nrm_row_apply_d(const double* x, double* out, Py_ssize_t len, double m, double iv, const double* g, const double* b)
    void cs_nrm_row_dx_f(const float* x, const float* dy, const float* g, float* dx, Py_ssize_t len, float m, float iv)
    void cs_nrm_row_dx_d(const double* x, const double* dy, const double* g, double* dx, Py_ssize_t len, double m, double iv)
    void cs_nrm_cols_stats_f(const float* x, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc, double* mean, double* var)
    void cs_nrm_cols_stats_d(const double* x, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc, double* mean, double* var)
    void cs_nrm_cols_apply_f(const float* x, float* out, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc,
                             const float* m, const float* iv, const float* g, const float* b)
    void cs_nrm_cols_apply_d(const double* x, double* out, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc,
                             const double* m, const double* iv, const double* g, const double* b)
    void cs_nrm_cols_gradsums_f(const float* x, const float* dy, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc,
                                const float* m, const float* iv, int per_row, double* sdy, double* sdyxh)
    void cs_nrm_cols_gradsums_d(const double* x, const double* dy, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc,
                                const double* m, const double* iv, int per_row, double* sdy, double* sdyxh)
    void cs_nrm_cols_dx_f(const float* x, const float* dy, float* dx, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc,
                          const float* m, const float* iv, const float* g, const float* A, const float* B, int batch_stats)
    void cs_nrm_cols_dx_d(const double* x, const double* dy, double* dx, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc,
                          const double* m, const double* iv, const double* g, const double* A, const double* B, int batch_stats)


# --- type dispatch (compile-time branches on the fused type) ------------------------------------

cdef inline void _stats(const floating* x, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len,
                        double* m, double* v) noexcept nogil:
    if floating is float:
        cs_nrm_stats_f(x, nblk, stride, len, m, v)
    else:
        cs_nrm_stats_d(x, nblk, stride, len, m, v)


cdef inline void _apply(const floating* x, floating* out, Py_ssize_t nblk, Py_ssize_t stride, Py_ssize_t len,
                        floating m, floating iv, floating g, floating b) noexcept nogil:
    if floating is float:
        cs_nrm_apply_f(x, out, nblk, stride, len, m, iv, g, b)
    else:
        cs_nrm_apply_d(x, out, nblk, stride, len, m, iv, g, b)


cdef inline void _gradsums(const floating* x, const floating* dy, Py_ssize_t nblk, Py_ssize_t stride,
                           Py_ssize_t len, floating m, floating iv, double* sums) noexcept nogil:
    if floating is float:
        cs_nrm_gradsums_f(x, dy, nblk, stride, len, m, iv, sums)
    else:
        cs_nrm_gradsums_d(x, dy, nblk, stride, len, m, iv, sums)


cdef inline void _dx(const floating* x, const floating* dy, floating* dx, Py_ssize_t nblk, Py_ssize_t stride,
                     Py_ssize_t len, floating m, floating iv, floating g, floating A, floating B,
                     int batch_stats) noexcept nogil:
    if floating is float:
        cs_nrm_dx_f(x, dy, dx, nblk, stride, len, m, iv, g, A, B, batch_stats)
    else:
        cs_nrm_dx_d(x, dy, dx, nblk, stride, len, m, iv, g, A, B, batch_stats)


cdef inline void _cols_stats(const floating* x, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc,
                             double* m, double* v) noexcept nogil:
    if floating is float:
        cs_nrm_cols_stats_f(x, n, ld, nc, m, v)
    else:
        cs_nrm_cols_stats_d(x, n, ld, nc, m, v)


cdef inline void _cols_apply(const floating* x, floating* out, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nc,
                             const floating* m, const floating* iv, const floating* g,
                             const floating* b) noexcept nogil:
    if floating is float:
        cs_nrm_cols_apply_f(x, out, n, ld, nc, m, iv, g, b)
    else:
        cs_nrm_cols_apply_d(x, out, n, ld, nc, m, iv, g, b)


cdef inline void _cols_gradsums(const floating* x, const floating* dy, Py_ssize_t n, Py_ssize_t ld,
                                Py_ssize_t nc, const floating* m, const floating* iv, int per_row,
                                double* sdy, double* sdyxh) noexcept nogil:
    if floating is float:
        cs_nrm_cols_gradsums_f(x, dy, n, ld, nc, m, iv, per_row, sdy, sdyxh)
    else:
        cs_nrm_cols_gradsums_d(x, dy, n, ld, nc, m, iv, per_row, sdy, sdyxh)


cdef inline void _cols_dx(const floating* x, const floating* dy, floating* dx, Py_ssize_t n, Py_ssize_t ld,
                          Py_ssize_t nc, const floating* m, const floating* iv, const floating* g,
                          const floating* A, const floating* B, int batch_stats) noexcept nogil:
    if floating is float:
        cs_nrm_cols_dx_f(x, dy, dx, n, ld, nc, m, iv, g, A, B, batch_stats)
    else:
        cs_nrm_cols_dx_d(x, dy, dx, n, ld, nc, m, iv, g, A, B, batch_stats)


# --- batch normalisation: x seen as (N, C, L) ------------------------------------------------------

cdef inline Py_ssize_t _bn_units(Py_ssize_t c, Py_ssize_t l) noexcept nogil:
    """Work units: column blocks when L == 1, else channels."""
    return (c + CS_NRM_COLS - 1) // CS_NRM_COLS if l == 1 else c


cdef inline void _bn_finish(Py_ssize_t j, double md, double vd, double eps, floating mom, floating omm,
                            const floating* rm, const floating* rv, floating* mean, floating* var,
                            floating* ivar, floating* new_mean, floating* new_var) noexcept nogil:
    """One feature's batch statistics in the compute dtype, and its running averages updated as
    the course does (``momentum * running + (1 - momentum) * batch``, in the compute dtype)."""
    mean[j] = <floating>md
    var[j] = <floating>vd
    ivar[j] = <floating>(1.0 / sqrt(vd + eps))
    new_mean[j] = mom * rm[j] + omm * mean[j]
    new_var[j] = mom * rv[j] + omm * var[j]


cdef void _bn_train_unit(Py_ssize_t u, const floating* x, const floating* gamma, const floating* beta,
                         const floating* rm, const floating* rv, floating* out, floating* mean,
                         floating* var, floating* ivar, floating* new_mean, floating* new_var,
                         Py_ssize_t n, Py_ssize_t c, Py_ssize_t l, double eps, double momentum) noexcept nogil:
    cdef double md[CS_NRM_COLS]
    cdef double vd[CS_NRM_COLS]
    cdef floating mom = <floating>momentum, omm = <floating>(1.0 - momentum)
    cdef Py_ssize_t j0, nc, j
    if l == 1:
        j0 = u * CS_NRM_COLS
        nc = min(<Py_ssize_t>CS_NRM_COLS, c - j0)
        _cols_stats(x + j0, n, c, nc, md, vd)
        for j in range(nc):
            _bn_finish(j0 + j, md[j], vd[j], eps, mom, omm, rm, rv, mean, var, ivar, new_mean, new_var)
        _cols_apply(x + j0, out + j0, n, c, nc, mean + j0, ivar + j0, gamma + j0, beta + j0)
    else:
        _stats(x + u * l, n, c * l, l, &md[0], &vd[0])
        _bn_finish(u, md[0], vd[0], eps, mom, omm, rm, rv, mean, var, ivar, new_mean, new_var)
        _apply(x + u * l, out + u * l, n, c * l, l, mean[u], ivar[u], gamma[u], beta[u])


def bn_train_forward(const floating[:, :, ::1] x,    # IN (N, C, L)
                     const floating[::1] gamma,      # IN (C,)
                     const floating[::1] beta,       # IN (C,)
                     const floating[::1] running_mean,  # IN (C,)
                     const floating[::1] running_var,   # IN (C,)
                     floating[:, :, ::1] out,        # OUT (N, C, L)
                     floating[::1] mean,             # OUT (C,) batch mean
                     floating[::1] var,              # OUT (C,) biased batch variance
                     floating[::1] ivar,             # OUT (C,) 1 / sqrt(var + eps)
                     floating[::1] new_mean,         # OUT (C,) updated running mean
                     floating[::1] new_var,          # OUT (C,) updated running variance
                     double eps, double momentum, int n_threads):
    """Train-mode batch normalisation over axes 0 and 2 of (N, C, L)."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], u
    cdef Py_ssize_t units = _bn_units(c, l)
    with nogil:
        for u in prange(units, schedule="static", num_threads=n_threads):
            _bn_train_unit(u, &x[0, 0, 0], &gamma[0], &beta[0], &running_mean[0], &running_var[0],
                           &out[0, 0, 0], &mean[0], &var[0], &ivar[0], &new_mean[0], &new_var[0],
                           n, c, l, eps, momentum)


cdef void _bn_test_unit(Py_ssize_t u, const floating* x, const floating* gamma, const floating* beta,
                        const floating* rm, const floating* rv, floating* out, floating* ivar,
                        Py_ssize_t n, Py_ssize_t c, Py_ssize_t l, double eps) noexcept nogil:
    cdef Py_ssize_t j0, nc, j
    if l == 1:
        j0 = u * CS_NRM_COLS
        nc = min(<Py_ssize_t>CS_NRM_COLS, c - j0)
        for j in range(j0, j0 + nc):
            ivar[j] = <floating>(1.0 / sqrt(<double>rv[j] + eps))
        _cols_apply(x + j0, out + j0, n, c, nc, rm + j0, ivar + j0, gamma + j0, beta + j0)
    else:
        ivar[u] = <floating>(1.0 / sqrt(<double>rv[u] + eps))
        _apply(x + u * l, out + u * l, n, c * l, l, rm[u], ivar[u], gamma[u], beta[u])


def bn_test_forward(const floating[:, :, ::1] x,        # IN (N, C, L)
                    const floating[::1] gamma,          # IN (C,)
                    const floating[::1] beta,           # IN (C,)
                    const floating[::1] running_mean,   # IN (C,)
                    const floating[::1] running_var,    # IN (C,)
                    floating[:, :, ::1] out,            # OUT (N, C, L)
                    floating[::1] ivar,                 # OUT (C,) 1 / sqrt(running_var + eps)
                    double eps, int n_threads):
    """Test-mode batch normalisation with the running statistics."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], u
    cdef Py_ssize_t units = _bn_units(c, l)
    with nogil:
        for u in prange(units, schedule="static", num_threads=n_threads):
            _bn_test_unit(u, &x[0, 0, 0], &gamma[0], &beta[0], &running_mean[0], &running_var[0],
                          &out[0, 0, 0], &ivar[0], n, c, l, eps)


cdef void _bn_backward_unit(Py_ssize_t u, const floating* x, const floating* dy, const floating* gamma,
                            const floating* mean, const floating* ivar, floating* dx, floating* dgamma,
                            floating* dbeta, Py_ssize_t n, Py_ssize_t c, Py_ssize_t l,
                            int batch_stats) noexcept nogil:
    cdef double sdy[CS_NRM_COLS]
    cdef double sdyxh[CS_NRM_COLS]
    cdef floating A[CS_NRM_COLS]
    cdef floating B[CS_NRM_COLS]
    cdef double cnt = <double>n * <double>l
    cdef Py_ssize_t j0, nc, j
    if l == 1:
        j0 = u * CS_NRM_COLS
        nc = min(<Py_ssize_t>CS_NRM_COLS, c - j0)
        _cols_gradsums(x + j0, dy + j0, n, c, nc, mean + j0, ivar + j0, 0, sdy, sdyxh)
        for j in range(nc):
            dbeta[j0 + j] = <floating>sdy[j]
            dgamma[j0 + j] = <floating>sdyxh[j]
            A[j] = <floating>(<double>gamma[j0 + j] * sdy[j] / cnt)
            B[j] = <floating>(<double>gamma[j0 + j] * sdyxh[j] / cnt)
        _cols_dx(x + j0, dy + j0, dx + j0, n, c, nc, mean + j0, ivar + j0, gamma + j0, A, B, batch_stats)
    else:
        _gradsums(x + u * l, dy + u * l, n, c * l, l, mean[u], ivar[u], sdy)
        dbeta[u] = <floating>sdy[0]
        dgamma[u] = <floating>sdy[1]
        _dx(x + u * l, dy + u * l, dx + u * l, n, c * l, l, mean[u], ivar[u], gamma[u],
            <floating>(<double>gamma[u] * sdy[0] / cnt), <floating>(<double>gamma[u] * sdy[1] / cnt),
            batch_stats)


def bn_backward(const floating[:, :, ::1] x,       # IN (N, C, L) the forward's input
                const floating[:, :, ::1] dout,    # IN (N, C, L)
                const floating[::1] gamma,         # IN (C,)
                const floating[::1] mean,          # IN (C,) the statistics the forward used
                const floating[::1] ivar,          # IN (C,)
                floating[:, :, ::1] dx,            # OUT (N, C, L)
                floating[::1] dgamma,              # OUT (C,)
                floating[::1] dbeta,               # OUT (C,)
                bint batch_stats, int n_threads):
    """Batch-normalisation backward; ``batch_stats`` false: the statistics were constants."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], u
    cdef Py_ssize_t units = _bn_units(c, l)
    cdef int bs = batch_stats
    with nogil:
        for u in prange(units, schedule="static", num_threads=n_threads):
            _bn_backward_unit(u, &x[0, 0, 0], &dout[0, 0, 0], &gamma[0], &mean[0], &ivar[0],
                              &dx[0, 0, 0], &dgamma[0], &dbeta[0], n, c, l, bs)


# --- layer normalisation: rows of (N, D) -------------------------------------------------------------

cdef void _ln_row(Py_ssize_t i, const floating* x, const floating* gamma, const floating* beta,
                  floating* out, floating* mean, floating* ivar, Py_ssize_t d, double eps) noexcept nogil:
    cdef double md, vd
    _stats(x + i * d, 1, 0, d, &md, &vd)
    mean[i] = <floating>md
    ivar[i] = <floating>(1.0 / sqrt(vd + eps))
    if floating is float:
        cs_nrm_row_apply_f(x + i * d, out + i * d, d, mean[i], ivar[i], gamma, beta)
    else:
        cs_nrm_row_apply_d(x + i * d, out + i * d, d, mean[i], ivar[i], gamma, beta)


def ln_forward(const floating[:, ::1] x,      # IN (N, D)
               const floating[::1] gamma,     # IN (D,)
               const floating[::1] beta,      # IN (D,)
               floating[:, ::1] out,          # OUT (N, D)
               floating[::1] mean,            # OUT (N,)
               floating[::1] ivar,            # OUT (N,)
               double eps, int n_threads):
    """Layer normalisation of each row; parallel over rows."""
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            _ln_row(i, &x[0, 0], &gamma[0], &beta[0], &out[0, 0], &mean[0], &ivar[0], d, eps)


cdef void _ln_dx_row(Py_ssize_t i, const floating* x, const floating* dy, const floating* gamma,
                     const floating* mean, const floating* ivar, floating* dx, Py_ssize_t d) noexcept nogil:
    if floating is float:
        cs_nrm_row_dx_f(x + i * d, dy + i * d, gamma, dx + i * d, d, mean[i], ivar[i])
    else:
        cs_nrm_row_dx_d(x + i * d, dy + i * d, gamma, dx + i * d, d, mean[i], ivar[i])


cdef void _ln_param_block(Py_ssize_t u, const floating* x, const floating* dy, const floating* mean,
                          const floating* ivar, floating* dgamma, floating* dbeta, Py_ssize_t n,
                          Py_ssize_t d) noexcept nogil:
    cdef double sdy[CS_NRM_COLS]
    cdef double sdyxh[CS_NRM_COLS]
    cdef Py_ssize_t j0 = u * CS_NRM_COLS, nc = min(<Py_ssize_t>CS_NRM_COLS, d - j0), j
    _cols_gradsums(x + j0, dy + j0, n, d, nc, mean, ivar, 1, sdy, sdyxh)
    for j in range(nc):
        dbeta[j0 + j] = <floating>sdy[j]
        dgamma[j0 + j] = <floating>sdyxh[j]


def ln_backward(const floating[:, ::1] x,      # IN (N, D) the forward's input
                const floating[:, ::1] dout,   # IN (N, D)
                const floating[::1] gamma,     # IN (D,)
                const floating[::1] mean,      # IN (N,)
                const floating[::1] ivar,      # IN (N,)
                floating[:, ::1] dx,           # OUT (N, D)
                floating[::1] dgamma,          # OUT (D,)
                floating[::1] dbeta,           # OUT (D,)
                int n_threads):
    """Layer-normalisation backward: dx parallel over rows, then dgamma/dbeta over column
    blocks (column sums in row order), in one parallel region."""
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], i, u
    cdef Py_ssize_t blocks = (d + CS_NRM_COLS - 1) // CS_NRM_COLS
    with nogil, parallel(num_threads=n_threads):
        for i in prange(n, schedule="static"):
            _ln_dx_row(i, &x[0, 0], &dout[0, 0], &gamma[0], &mean[0], &ivar[0], &dx[0, 0], d)
        for u in prange(blocks, schedule="static"):
            _ln_param_block(u, &x[0, 0], &dout[0, 0], &mean[0], &ivar[0], &dgamma[0], &dbeta[0], n, d)


# --- group normalisation: (N, C, L) with G groups of C / G channels -------------------------------------

cdef void _gn_group(Py_ssize_t u, const floating* x, const floating* gamma, const floating* beta,
                    floating* out, floating* mean, floating* ivar, Py_ssize_t c, Py_ssize_t l,
                    Py_ssize_t groups, double eps) noexcept nogil:
    cdef Py_ssize_t n = u // groups, g = u % groups, cpg = c // groups, k, ch
    cdef double md, vd
    cdef Py_ssize_t start = (n * c + g * cpg) * l
    _stats(x + start, 1, 0, cpg * l, &md, &vd)
    mean[u] = <floating>md
    ivar[u] = <floating>(1.0 / sqrt(vd + eps))
    for k in range(cpg):
        ch = g * cpg + k
        _apply(x + start + k * l, out + start + k * l, 1, 0, l, mean[u], ivar[u], gamma[ch], beta[ch])


def gn_forward(const floating[:, :, ::1] x,    # IN (N, C, L)
               const floating[::1] gamma,      # IN (C,)
               const floating[::1] beta,       # IN (C,)
               floating[:, :, ::1] out,        # OUT (N, C, L)
               floating[::1] mean,             # OUT (N * G,)
               floating[::1] ivar,             # OUT (N * G,)
               Py_ssize_t groups, double eps, int n_threads):
    """Group normalisation; parallel over the N * G groups (each a contiguous run)."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], u
    with nogil:
        for u in prange(n * groups, schedule="static", num_threads=n_threads):
            _gn_group(u, &x[0, 0, 0], &gamma[0], &beta[0], &out[0, 0, 0], &mean[0], &ivar[0],
                      c, l, groups, eps)


cdef void _gn_backward_group(Py_ssize_t u, const floating* x, const floating* dy, const floating* gamma,
                             const floating* mean, const floating* ivar, floating* dx, double* sums,
                             Py_ssize_t c, Py_ssize_t l, Py_ssize_t groups) noexcept nogil:
    cdef Py_ssize_t n = u // groups, g = u % groups, cpg = c // groups, k, ch
    cdef Py_ssize_t start = (n * c + g * cpg) * l
    cdef double sa = 0.0, sb = 0.0, cnt = <double>cpg * <double>l
    cdef floating m = mean[u], iv = ivar[u], A, B
    for k in range(cpg):
        ch = g * cpg + k
        _gradsums(x + start + k * l, dy + start + k * l, 1, 0, l, m, iv, sums + 2 * (n * c + ch))
        sa = sa + <double>gamma[ch] * sums[2 * (n * c + ch)]
        sb = sb + <double>gamma[ch] * sums[2 * (n * c + ch) + 1]
    A = <floating>(sa / cnt)
    B = <floating>(sb / cnt)
    for k in range(cpg):
        ch = g * cpg + k
        _dx(x + start + k * l, dy + start + k * l, dx + start + k * l, 1, 0, l, m, iv, gamma[ch], A, B, 1)


def gn_backward(const floating[:, :, ::1] x,     # IN (N, C, L) the forward's input
                const floating[:, :, ::1] dout,  # IN (N, C, L)
                const floating[::1] gamma,       # IN (C,)
                const floating[::1] mean,        # IN (N * G,)
                const floating[::1] ivar,        # IN (N * G,)
                floating[:, :, ::1] dx,          # OUT (N, C, L)
                floating[::1] dgamma,            # OUT (C,)
                floating[::1] dbeta,             # OUT (C,)
                double[:, :, ::1] sums,          # SCRATCH (N, C, 2)
                Py_ssize_t groups, int n_threads):
    """Group-normalisation backward: per group, each channel's sums of dout and dout * xhat
    (kept in ``sums``), then dx; dgamma and dbeta add those sums over the batch in order."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], l = x.shape[2], u, i, ch
    cdef double a, b
    with nogil:
        for u in prange(n * groups, schedule="static", num_threads=n_threads):
            _gn_backward_group(u, &x[0, 0, 0], &dout[0, 0, 0], &gamma[0], &mean[0], &ivar[0],
                               &dx[0, 0, 0], &sums[0, 0, 0], c, l, groups)
        for ch in range(c):
            a = 0.0
            b = 0.0
            for i in range(n):
                a = a + sums[i, ch, 0]
                b = b + sums[i, ch, 1]
            dbeta[ch] = <floating>a
            dgamma[ch] = <floating>b
