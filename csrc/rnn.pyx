# cython: language_level=3
"""Recurrent kernels (cs231n_fast._ext.rnn): vanilla-RNN and LSTM steps and sequences.

Layout (row-major, the course's): x (N, D) per step or (N, T, D) per sequence; hidden and cell
states (N, H) or (N, T, H); Wx (D, G*H), Wh (H, G*H), b (G*H,) with G = 1 gate block for the
vanilla RNN and G = 4 for the LSTM, whose gate blocks are i, f, o, g (H columns each). The
gate arrays hold pre-activations while the products are summed and the activated gates
afterwards: sigmoid(a) for i, f, o and tanh(a) for g.

Work split. Forward: the products ``a = x Wx + h Wh`` by ``nb`` blocks of whole columns of
``a`` (two wide single-threaded BLAS calls per block), then, after the region's barrier, the
fused elementwise pass by ``nb`` blocks of hidden units [j0, j1) (its gate columns
``q*H + [j0, j1)``). Measured against one region in which each thread ran the products of its
own hidden units' gate columns (eight narrow calls) and their elementwise pass: 1.2% faster
for the step, 0.8% for the sequence, on 2 cores. Step backward: the fused pass writes the
block's pre-activation gradient and db; then a second region deals out the products dx, dh
(column blocks) and dWx, dWh (row blocks) in units of equal size. Sequences do the input
products of all time steps as one product before the time loop (forward) and the weight
gradients and dx of all steps as one product each after it (backward); only the recurrent
products ``h Wh`` and ``da Wh^T`` run per step.

float32 sequences (``whp`` non-empty): the recurrent products multiply from Wh packed once per
call into 16-column panels (rnn_gemm.h), and the time loop is one parallel region in which each
thread owns whole panels of hidden units, so a step needs one barrier instead of two regions
(``_seq_forward_packed``, ``_seq_backward_packed``). OpenBLAS repacks Wh at every step; the
packed product ran at 100-108 GFLOP/s on one Zen 4 core against OpenBLAS's 62-80 at this shape,
and the partition of the units may follow the team's size because the packed product's bits
do not depend on it (nor do the per-element row kernels').

Callers (``cs231n_fast.ops.rnn``) guarantee: C-contiguous arrays of one floating dtype with the
documented shapes, no zero-size dimension, every product dimension and leading dimension
< 2**31, ``1 <= nb``, ``1 <= n_threads`` and BLAS held to one thread for the whole call.
Nothing here validates, raises or touches Python objects inside ``nogil``.

Determinism. Every output element has exactly one writer and every sum runs in a fixed
order (db sums rows in order; BLAS on one thread); results do not depend on ``n_threads``.
They may depend on ``nb`` through BLAS's blocking of a product's columns, so the callers choose
``nb`` from the problem's size only (and the step backward's units, ``_unit_blocks``, depend on
the problem only too).
"""

from cython cimport floating
from cython.parallel cimport parallel, prange

from blas cimport cs_set_gemm64, gemm


# --- elementwise (rnn_kernels.h: vectorised exp/sigmoid/tanh, see its header comment) -------

cdef extern from "rnn_kernels.h" nogil:
    void cs_lstm_row_f(float* a, const float* b, const float* cp, float* cn, float* tc,
                       float* hn, Py_ssize_t hd, Py_ssize_t j0, Py_ssize_t j1)
    void cs_lstm_row_d(double* a, const double* b, const double* cp, double* cn, double* tc,
                       double* hn, Py_ssize_t hd, Py_ssize_t j0, Py_ssize_t j1)
    void cs_rnn_row_f(const float* a, const float* b, float* hn, Py_ssize_t j0, Py_ssize_t j1)
    void cs_rnn_row_d(const double* a, const double* b, double* hn, Py_ssize_t j0, Py_ssize_t j1)
    void cs_lstm_bwd_row_f(const float* up, const float* rec, const float* dcin, float* dcout,
                           const float* g, const float* cp, const float* tc, float* da,
                           Py_ssize_t hd, Py_ssize_t j0, Py_ssize_t j1)
    void cs_lstm_bwd_row_d(const double* up, const double* rec, const double* dcin, double* dcout,
                           const double* g, const double* cp, const double* tc, double* da,
                           Py_ssize_t hd, Py_ssize_t j0, Py_ssize_t j1)
    void cs_rnn_bwd_row_f(const float* up, const float* rec, const float* hn, float* da,
                          Py_ssize_t j0, Py_ssize_t j1)
    void cs_rnn_bwd_row_d(const double* up, const double* rec, const double* hn, double* da,
                          Py_ssize_t j0, Py_ssize_t j1)
    void cs_add_row_f(float* acc, const float* x, Py_ssize_t j0, Py_ssize_t j1)
    void cs_add_row_d(double* acc, const double* x, Py_ssize_t j0, Py_ssize_t j1)
    void cs_sigmoid_f(const float* z, float* out, Py_ssize_t n)
    void cs_sigmoid_d(const double* z, double* out, Py_ssize_t n)
    void cs_tanh_f(const float* z, float* out, Py_ssize_t n)
    void cs_tanh_d(const double* z, double* out, Py_ssize_t n)


cdef extern from "rnn_gemm.h" nogil:
    Py_ssize_t cs_gemm_panels(Py_ssize_t n)
    void cs_gemm_pack_f(const float* b, Py_ssize_t ldb, int trans, Py_ssize_t k, Py_ssize_t n,
                        float* dst, Py_ssize_t p0, Py_ssize_t p1)
    void cs_gemm_init()
    int cs_team_size()
    int cs_team_rank()
    void cs_team_barrier()
    void cs_gemm_packed_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a,
                          Py_ssize_t rsa, Py_ssize_t csa, const float* bp, float* c,
                          Py_ssize_t ldc, int zero, Py_ssize_t p0, Py_ssize_t p1)


cdef enum:
    _CHUNK = 4096  # elements per chunk of the flat elementwise kernels (whole vectors)


def activation(int which, const floating[::1] z not None, floating[::1] out not None,
               int n_threads):
    """out = sigmoid(z) (which == 0) or tanh(z) (which == 1), elementwise over flat arrays."""
    cdef Py_ssize_t n = z.shape[0], nc = (n + _CHUNK - 1) // _CHUNK, k, lo, m
    with nogil:
        for k in prange(nc, schedule="static", num_threads=n_threads):
            lo = k * _CHUNK
            m = n - lo if n - lo < _CHUNK else _CHUNK
            if floating is float:
                if which == 0:
                    cs_sigmoid_f(&z[lo], &out[lo], m)
                else:
                    cs_tanh_f(&z[lo], &out[lo], m)
            else:
                if which == 0:
                    cs_sigmoid_d(&z[lo], &out[lo], m)
                else:
                    cs_tanh_d(&z[lo], &out[lo], m)


cdef inline Py_ssize_t _bstart(Py_ssize_t k, Py_ssize_t nb, Py_ssize_t total) noexcept nogil:
    """Start of block ``k`` of ``nb`` over ``[0, total)`` (block k is [_bstart(k), _bstart(k+1))).

    Blocks start on multiples of 16 columns (whole SIMD vectors and BLAS micro-tiles) when they
    are wide enough; trailing blocks may then be empty.
    """
    cdef Py_ssize_t w = (total + nb - 1) // nb
    if total >= 32 * nb:
        w = (w + 15) // 16 * 16
    return k * w if k * w < total else total


# --- fused-type entry points to rnn_kernels.h's row kernels ------------------------------------

cdef inline const floating* _row(const floating* p, Py_ssize_t r, Py_ssize_t ld) noexcept nogil:
    """Row ``r`` of a matrix ``ld`` apart, or NULL for a NULL matrix (an absent operand)."""
    return (p + r * ld) if p != NULL else NULL


cdef inline void _rnn_row(const floating* a, const floating* b, floating* hn,
                          Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    if floating is float:
        cs_rnn_row_f(a, b, hn, j0, j1)
    else:
        cs_rnn_row_d(a, b, hn, j0, j1)


cdef inline void _lstm_row(floating* a, const floating* b, const floating* cp, floating* cn,
                           floating* tc, floating* hn, Py_ssize_t hd,
                           Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    if floating is float:
        cs_lstm_row_f(a, b, cp, cn, tc, hn, hd, j0, j1)
    else:
        cs_lstm_row_d(a, b, cp, cn, tc, hn, hd, j0, j1)


cdef inline void _rnn_bwd_row(const floating* up, const floating* rec, const floating* hn,
                              floating* da, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    if floating is float:
        cs_rnn_bwd_row_f(up, rec, hn, da, j0, j1)
    else:
        cs_rnn_bwd_row_d(up, rec, hn, da, j0, j1)


cdef inline void _lstm_bwd_row(const floating* up, const floating* rec, const floating* dcin,
                               floating* dcout, const floating* g, const floating* cp,
                               const floating* tc, floating* da, Py_ssize_t hd,
                               Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    if floating is float:
        cs_lstm_bwd_row_f(up, rec, dcin, dcout, g, cp, tc, da, hd, j0, j1)
    else:
        cs_lstm_bwd_row_d(up, rec, dcin, dcout, g, cp, tc, da, hd, j0, j1)


# --- forward ----------------------------------------------------------------------------------

cdef void _fwd_elem(int g, Py_ssize_t n, Py_ssize_t hd,
                    const floating* cp, Py_ssize_t ldcp, const floating* b,
                    floating* a, Py_ssize_t lda,
                    floating* cn, floating* tc, floating* hn, Py_ssize_t ldo,
                    Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """The fused elementwise pass of one step for hidden units [j0, j1): bias, gates, cell and
    hidden state, from the summed products in ``a``.

    ``cp`` NULL means a zero previous cell. ``cn``/``tc`` are only used by the LSTM (g == 4).
    """
    cdef Py_ssize_t r
    if j1 <= j0:
        return
    for r in range(n):
        if g == 1:
            _rnn_row(a + r * lda, b, hn + r * ldo, j0, j1)
        else:
            _lstm_row(a + r * lda, b, _row(cp, r, ldcp), cn + r * ldo, tc + r * ldo,
                      hn + r * ldo, hd, j0, j1)


def step_forward(int g,
                 const floating[:, ::1] x not None,      # IN  (N, D)
                 const floating[:, ::1] hp not None,     # IN  (N, H)
                 const floating[:, ::1] cp not None,     # IN  (N, H) LSTM, or (0, 0) for none/RNN
                 const floating[:, ::1] wx not None,     # IN  (D, G*H)
                 const floating[:, ::1] wh not None,     # IN  (H, G*H)
                 const floating[::1] b not None,         # IN  (G*H,)
                 floating[:, ::1] a not None,            # OUT (N, G*H) activated gates (LSTM) / scratch
                 floating[:, ::1] cn not None,           # OUT (N, H) next cell (LSTM) or (0, 0)
                 floating[:, ::1] tc not None,           # OUT (N, H) tanh(next cell) (LSTM) or (0, 0)
                 floating[:, ::1] hn not None,           # OUT (N, H) next hidden state
                 Py_ssize_t nb, int n_threads):
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], hd = hp.shape[1], k, j0, j1
    cdef const floating* cptr = &cp[0, 0] if cp.shape[0] else NULL
    cdef floating* cnp = &cn[0, 0] if cn.shape[0] else NULL
    cdef floating* tcp = &tc[0, 0] if tc.shape[0] else NULL
    cdef Py_ssize_t gh = g * hd
    with nogil:
        # a = x Wx + prev_h Wh, by blocks of whole columns (two wide products per block).
        for k in prange(nb, schedule="static", num_threads=n_threads):
            j0 = _bstart(k, nb, gh)
            j1 = _bstart(k + 1, nb, gh)
            if j1 > j0:
                gemm(c"N", c"N", n, j1 - j0, d, 1, &x[0, 0], d, &wx[0, 0] + j0, gh,
                     0, &a[0, 0] + j0, gh)
                gemm(c"N", c"N", n, j1 - j0, hd, 1, &hp[0, 0], hd, &wh[0, 0] + j0, gh,
                     1, &a[0, 0] + j0, gh)
        for k in prange(nb, schedule="static", num_threads=n_threads):
            j0 = _bstart(k, nb, hd)
            j1 = _bstart(k + 1, nb, hd)
            _fwd_elem(g, n, hd, cptr, hd, &b[0], &a[0, 0], gh, cnp, tcp, &hn[0, 0], hd, j0, j1)


def seq_forward(int g,
                const floating[:, :, ::1] x not None,    # IN  (N, T, D)
                const floating[:, ::1] h0 not None,      # IN  (N, H)
                const floating[:, ::1] c0 not None,      # IN  (N, H) LSTM, or (0, 0) for zeros/RNN
                const floating[:, ::1] wx not None,      # IN  (D, G*H)
                const floating[:, ::1] wh not None,      # IN  (H, G*H)
                const floating[::1] b not None,          # IN  (G*H,)
                floating[:, :, ::1] a not None,          # OUT (N, T, G*H) activated gates (LSTM) / scratch
                floating[:, :, ::1] c not None,          # OUT (N, T, H) cells (LSTM) or (0, 0, 0)
                floating[:, :, ::1] tc not None,         # OUT (N, T, H) tanh(cells) (LSTM) or (0, 0, 0)
                floating[:, :, ::1] h not None,          # OUT (N, T, H) hidden states
                float[::1] whp not None,                 # OUT scratch: packed Wh (float32), or (0,): BLAS
                Py_ssize_t nb, int n_threads):
    cdef Py_ssize_t n = x.shape[0], tt = x.shape[1], d = x.shape[2], hd = h0.shape[1]
    cdef Py_ssize_t gh = g * hd, t, k, j0, j1
    cdef const floating* hp
    cdef const floating* cp
    cdef Py_ssize_t ldh, ldcp
    cdef bint lstm = g == 4
    cdef bint packed = floating is float and whp.shape[0] > 0
    with nogil:
        cs_gemm_init()
        # Input products of every time step at once: a[(n, t), :] = x[(n, t), :] Wx.
        for k in prange(nb, schedule="static", num_threads=n_threads):
            j0 = _bstart(k, nb, gh)
            j1 = _bstart(k + 1, nb, gh)
            if j1 > j0:
                gemm(c"N", c"N", n * tt, j1 - j0, d, 1, &x[0, 0, 0], d, &wx[0, 0] + j0, gh,
                     0, &a[0, 0, 0] + j0, gh)
        if packed:
            _seq_forward_packed(g, n, tt, hd, <const float*>&h0[0, 0],
                                <const float*>&c0[0, 0] if c0.shape[0] else NULL,
                                <const float*>&wh[0, 0], <const float*>&b[0], <float*>&a[0, 0, 0],
                                <float*>&c[0, 0, 0] if lstm else NULL,
                                <float*>&tc[0, 0, 0] if lstm else NULL,
                                <float*>&h[0, 0, 0], &whp[0], n_threads)
        for t in range(tt):
            if packed:
                break
            if t == 0:
                hp, ldh = &h0[0, 0], hd
                cp, ldcp = (&c0[0, 0] if c0.shape[0] else NULL), hd
            else:
                hp, ldh = &h[0, t - 1, 0], tt * hd
                cp, ldcp = (&c[0, t - 1, 0] if lstm else NULL), tt * hd
            for k in prange(nb, schedule="static", num_threads=n_threads):
                j0 = _bstart(k, nb, gh)
                j1 = _bstart(k + 1, nb, gh)
                if j1 > j0:
                    gemm(c"N", c"N", n, j1 - j0, hd, 1, hp, ldh, &wh[0, 0] + j0, gh,
                         1, &a[0, t, 0] + j0, tt * gh)
            for k in prange(nb, schedule="static", num_threads=n_threads):
                j0 = _bstart(k, nb, hd)
                j1 = _bstart(k + 1, nb, hd)
                _fwd_elem(g, n, hd, cp, ldcp, &b[0], &a[0, t, 0], tt * gh,
                          &c[0, t, 0] if lstm else NULL, &tc[0, t, 0] if lstm else NULL,
                          &h[0, t, 0], tt * hd, j0, j1)


cdef inline Py_ssize_t _team_panel(Py_ssize_t hd, int r) noexcept nogil:
    """First 16-unit panel of hidden units of team member ``r`` (``r`` = team size: the end)."""
    return r * cs_gemm_panels(hd) // cs_team_size()


cdef void _seq_forward_packed(int g, Py_ssize_t n, Py_ssize_t tt, Py_ssize_t hd,
                              const float* h0, const float* c0, const float* wh, const float* b,
                              float* a, float* c, float* tc, float* h, float* whp,
                              int n_threads) noexcept nogil:
    """The time loop of seq_forward with Wh packed (float32, rnn_gemm.h); ``a`` holds x Wx.

    Each thread owns a range of whole 16-unit panels of hidden units [j0, j1): it packs the
    columns q*H + [j0, j1) of every gate block q of Wh (for its own use only), and at every step
    computes those columns of ``h_{t-1} Wh`` and then the elementwise pass of its units, which
    reads nothing else. So a step needs one barrier (h_t complete before step t+1's product).
    The results do not depend on the partition, hence not on the thread count.
    """
    cdef Py_ssize_t gh = g * hd, npan = cs_gemm_panels(hd), psz = npan * 16 * hd
    cdef Py_ssize_t p0, p1, j0, j1, t, q, ldh, ldcp
    cdef const float* hp
    cdef const float* cp
    with parallel(num_threads=n_threads):
        # This thread's panels [p0, p1) of hidden units, units [j0, j1). (Assigned here, not
        # through pointers, so that Cython makes them private to the thread.)
        p0 = _team_panel(hd, cs_team_rank())
        p1 = _team_panel(hd, cs_team_rank() + 1)
        j0 = p0 * 16
        j1 = p1 * 16 if p1 * 16 < hd else hd
        for q in range(g):
            cs_gemm_pack_f(wh + q * hd, gh, 0, hd, hd, whp + q * psz, p0, p1)
        for t in range(tt):
            if t == 0:
                hp, ldh, cp, ldcp = h0, hd, c0, hd
            else:
                hp, ldh = h + (t - 1) * hd, tt * hd
                cp, ldcp = (c + (t - 1) * hd if g == 4 else NULL), tt * hd
            if j1 > j0:
                for q in range(g):
                    cs_gemm_packed_f(n, hd, hd, hp, ldh, 1, whp + q * psz,
                                     a + t * gh + q * hd, tt * gh, 0, p0, p1)
                _fwd_elem(g, n, hd, cp, ldcp, b, a + t * gh, tt * gh,
                          c + t * hd if g == 4 else NULL, tc + t * hd if g == 4 else NULL,
                          h + t * hd, tt * hd, j0, j1)
            cs_team_barrier()


# --- backward ---------------------------------------------------------------------------------

cdef void _bwd_elem(int g, Py_ssize_t n, Py_ssize_t hd,
                    const floating* dh_up, Py_ssize_t ldu,
                    const floating* dh_rec, Py_ssize_t ldr,
                    const floating* dc_in, floating* dc_out, Py_ssize_t lddc,
                    const floating* gates, Py_ssize_t ldg,
                    const floating* cp, Py_ssize_t ldcp,
                    const floating* tc, const floating* hn, Py_ssize_t ldo,
                    floating* da, Py_ssize_t ldda,
                    Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """Pre-activation gradient of hidden units [j0, j1) for one step.

    The hidden-state gradient is ``dh_up + dh_rec`` (``dh_rec`` may be NULL: zero). LSTM: the
    incoming cell gradient is ``dc_in`` (NULL: zero), the outgoing one (to the previous cell)
    goes to ``dc_out`` (may alias ``dc_in``); ``cp`` NULL means a zero previous cell. RNN:
    ``hn`` is the step's output. The arithmetic is rnn_kernels.h's (vectorised, same bits).
    """
    cdef Py_ssize_t r
    for r in range(n):
        if g == 1:
            _rnn_bwd_row(dh_up + r * ldu, _row(dh_rec, r, ldr), hn + r * ldo, da + r * ldda,
                         j0, j1)
        else:
            _lstm_bwd_row(dh_up + r * ldu, _row(dh_rec, r, ldr), _row(dc_in, r, lddc),
                          dc_out + r * lddc, gates + r * ldg, _row(cp, r, ldcp), tc + r * ldo,
                          da + r * ldda, hd, j0, j1)


cdef void _col_sums(Py_ssize_t m, const floating* da, Py_ssize_t ldda, floating* db,
                    Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """db[c0:c1] = the sum of da's m rows over those columns, rows in order."""
    cdef Py_ssize_t r, j
    for j in range(c0, c1):
        db[j] = 0
    for r in range(m):
        if floating is float:
            cs_add_row_f(db, da + r * ldda, c0, c1)
        else:
            cs_add_row_d(db, da + r * ldda, c0, c1)


cdef void _weight_grads(Py_ssize_t m, Py_ssize_t d, Py_ssize_t hd, Py_ssize_t gh,
                        const floating* x, const floating* hp, const floating* da,
                        floating* dwx, floating* dwh, floating* db,
                        Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Columns [c0, c1) of dWx = x^T da, dWh = hp^T da and db = sum of da's rows, over m rows
    (x (m, d), hp (m, hd), da (m, gh), all contiguous)."""
    cdef Py_ssize_t w = c1 - c0
    if w <= 0:
        return
    gemm(c"T", c"N", d, w, m, 1, x, d, da + c0, gh, 0, dwx + c0, gh)
    gemm(c"T", c"N", hd, w, m, 1, hp, hd, da + c0, gh, 0, dwh + c0, gh)
    _col_sums(m, da, gh, db, c0, c1)


cdef inline void _input_grad_cols(Py_ssize_t m, Py_ssize_t gh, const floating* da, Py_ssize_t ldda,
                                  const floating* w, floating* out, Py_ssize_t ldo,
                                  Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Columns [c0, c1) of ``out = da W^T`` over m rows: the gradient of a product's input
    (dx with W = Wx, dh with W = Wh; W has G*H columns)."""
    if c1 > c0:
        gemm(c"N", c"T", m, c1 - c0, gh, 1, da, ldda, w + c0 * gh, gh, 0, out + c0, ldo)


cdef inline Py_ssize_t _unit_blocks(Py_ssize_t w) noexcept nogil:
    """Blocks of about 256 a dimension of ``w`` is cut into for the step backward's products
    (1 to 8; a function of the problem only, so results do not depend on the thread count)."""
    cdef Py_ssize_t b = w // 256
    return 1 if b < 1 else (8 if b > 8 else b)


cdef void _step_grad_unit(Py_ssize_t k, Py_ssize_t nbx, Py_ssize_t nbh,
                          Py_ssize_t n, Py_ssize_t d, Py_ssize_t hd, Py_ssize_t gh,
                          const floating* x, const floating* hp, const floating* da,
                          const floating* wx, const floating* wh,
                          floating* dx, floating* dhp, floating* dwx, floating* dwh) noexcept nogil:
    """Unit ``k`` of a step's products, in the order: columns blocks of dx = da Wx^T (nbx),
    of dprev_h = da Wh^T (nbh), row blocks of dWx = x^T da (nbx), of dWh = prev_h^T da (nbh).
    Row blocks of the weight gradients are contiguous, and each is one product over all G*H
    columns."""
    cdef bint weight = k >= nbx + nbh, hidden
    cdef Py_ssize_t lo, hi, nbk, dim
    if weight:
        k -= nbx + nbh
    hidden = k >= nbx
    if hidden:
        k -= nbx
    nbk, dim = (nbh, hd) if hidden else (nbx, d)
    lo, hi = _bstart(k, nbk, dim), _bstart(k + 1, nbk, dim)
    if hi <= lo:
        return
    if weight:  # rows [lo, hi) of dW = src^T da
        gemm(c"T", c"N", hi - lo, gh, n, 1, (hp if hidden else x) + lo, dim, da, gh,
             0, (dwh if hidden else dwx) + lo * gh, gh)
    else:  # columns [lo, hi) of d(src) = da W^T
        _input_grad_cols(n, gh, da, gh, wh if hidden else wx, dhp if hidden else dx, dim, lo, hi)


def step_backward(int g,
                  const floating[:, ::1] dnh not None,    # IN  (N, H)
                  const floating[:, ::1] dnc not None,    # IN  (N, H) LSTM, or (0, 0)
                  const floating[:, ::1] x not None,      # IN  (N, D)
                  const floating[:, ::1] hp not None,     # IN  (N, H)
                  const floating[:, ::1] cp not None,     # IN  (N, H) LSTM, or (0, 0)
                  const floating[:, ::1] wx not None,     # IN  (D, G*H)
                  const floating[:, ::1] wh not None,     # IN  (H, G*H)
                  const floating[:, ::1] gates not None,  # IN  (N, 4H) LSTM, or (0, 0)
                  const floating[:, ::1] tc not None,     # IN  (N, H) LSTM, or (0, 0)
                  const floating[:, ::1] hn not None,     # IN  (N, H) RNN output, or (0, 0)
                  floating[:, ::1] da not None,           # OUT (N, G*H) scratch: pre-activation grads
                  floating[:, ::1] dx not None,           # OUT (N, D)
                  floating[:, ::1] dhp not None,          # OUT (N, H)
                  floating[:, ::1] dcp not None,          # OUT (N, H) LSTM, or (0, 0)
                  floating[:, ::1] dwx not None,          # OUT (D, G*H)
                  floating[:, ::1] dwh not None,          # OUT (H, G*H)
                  floating[::1] db not None,              # OUT (G*H,)
                  Py_ssize_t nb, int n_threads):
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], hd = hp.shape[1], gh = g * hd
    cdef Py_ssize_t k, q, j0, j1
    cdef Py_ssize_t nbx = _unit_blocks(d), nbh = _unit_blocks(hd)
    cdef bint lstm = g == 4
    with nogil:
        # Pre-activation gradient and db, by blocks of hidden units.
        for k in prange(nb, schedule="static", num_threads=n_threads):
            j0 = _bstart(k, nb, hd)
            j1 = _bstart(k + 1, nb, hd)
            if j1 > j0:
                _bwd_elem(g, n, hd, &dnh[0, 0], hd, NULL, 0,
                          &dnc[0, 0] if lstm else NULL, &dcp[0, 0] if lstm else NULL, hd,
                          &gates[0, 0] if lstm else NULL, gh,
                          &cp[0, 0] if lstm else NULL, hd,
                          &tc[0, 0] if lstm else NULL, &hn[0, 0] if not lstm else NULL, hd,
                          &da[0, 0], gh, j0, j1)
                for q in range(g):
                    _col_sums(n, &da[0, 0], gh, &db[0], q * hd + j0, q * hd + j1)
        # The four products in units of equal cost (~256 columns of dx/dh or rows of dWx/dWh,
        # each a full product over the other dimension), dealt out round-robin.
        for k in prange(2 * (nbx + nbh), schedule="static", chunksize=1, num_threads=n_threads):
            _step_grad_unit(k, nbx, nbh, n, d, hd, gh, &x[0, 0], &hp[0, 0], &da[0, 0],
                            &wx[0, 0], &wh[0, 0], &dx[0, 0], &dhp[0, 0], &dwx[0, 0], &dwh[0, 0])


cdef void _seq_backward_packed(int g, Py_ssize_t n, Py_ssize_t tt, Py_ssize_t hd,
                               const float* dh, const float* c0, const float* c, const float* wh,
                               const float* gates, const float* tc, const float* h, float* da,
                               float* dcarry, float* dh0, float* whp,
                               int n_threads) noexcept nogil:
    """The time loop of seq_backward with Wh^T packed (float32, rnn_gemm.h).

    Each thread owns whole 16-unit panels of hidden units [j0, j1): it packs those columns of
    Wh^T (for its own use only); at every step it writes the pre-activation gradient of its
    units (the columns q*H + [j0, j1) of da_t, reading only its own columns of dh0 and dcarry),
    waits for the others (da_t complete), then computes its columns of dh0 = da_t Wh^T, which
    only it reads next. One barrier per step; results do not depend on the partition.
    """
    cdef Py_ssize_t gh = g * hd, p0, p1, j0, j1, t, ldcp
    cdef const float* rec
    cdef const float* dcin
    cdef const float* cp
    with parallel(num_threads=n_threads):
        # This thread's panels [p0, p1) of hidden units, units [j0, j1). (Assigned here, not
        # through pointers, so that Cython makes them private to the thread.)
        p0 = _team_panel(hd, cs_team_rank())
        p1 = _team_panel(hd, cs_team_rank() + 1)
        j0 = p0 * 16
        j1 = p1 * 16 if p1 * 16 < hd else hd
        cs_gemm_pack_f(wh, gh, 1, gh, hd, whp, p0, p1)
        for t in range(tt - 1, -1, -1):
            rec = dh0 if t < tt - 1 else NULL
            dcin = dcarry if (g == 4 and t < tt - 1) else NULL
            if g != 4:
                cp, ldcp = NULL, 0
            elif t > 0:
                cp, ldcp = c + (t - 1) * hd, tt * hd
            else:
                cp, ldcp = c0, hd
            if j1 > j0:
                _bwd_elem(g, n, hd, dh + t * hd, tt * hd, rec, hd, dcin, dcarry, hd,
                          gates + t * gh if g == 4 else NULL, tt * gh, cp, ldcp,
                          tc + t * hd if g == 4 else NULL, h + t * hd if g != 4 else NULL,
                          tt * hd, da + t * gh, tt * gh, j0, j1)
            cs_team_barrier()
            cs_gemm_packed_f(n, hd, gh, da + t * gh, tt * gh, 1, whp, dh0, hd, 1, p0, p1)


cdef void _input_grad_packed(Py_ssize_t m, Py_ssize_t d, Py_ssize_t gh, const float* da,
                             const float* wx, float* dx, float* wp, int n_threads) noexcept nogil:
    """dx = da Wx^T over all m = N*T rows with Wx^T packed (float32): each thread packs and
    computes its own 16-column panels of dx (9-13% faster than OpenBLAS on one Zen 4 core at
    1024 x 2048 x 256, packing included)."""
    cdef Py_ssize_t p0, p1
    with parallel(num_threads=n_threads):
        p0 = _team_panel(d, cs_team_rank())
        p1 = _team_panel(d, cs_team_rank() + 1)
        cs_gemm_pack_f(wx, gh, 1, gh, d, wp, p0, p1)
        cs_gemm_packed_f(m, d, gh, da, gh, 1, wp, dx, d, 1, p0, p1)


def seq_backward(int g,
                 const floating[:, :, ::1] dh not None,    # IN  (N, T, H) upstream grads of every h
                 const floating[:, :, ::1] x not None,     # IN  (N, T, D)
                 const floating[:, :, ::1] hprev not None, # IN  (N, T, H) h0, h[:, 0], ..., h[:, T-2]
                 const floating[:, ::1] c0 not None,       # IN  (N, H) LSTM initial cell, or (0, 0): zeros
                 const floating[:, :, ::1] c not None,     # IN  (N, T, H) LSTM cells, or (0, 0, 0)
                 const floating[:, ::1] wx not None,       # IN  (D, G*H)
                 const floating[:, ::1] wh not None,       # IN  (H, G*H)
                 const floating[:, :, ::1] gates not None, # IN  (N, T, 4H) LSTM, or (0, 0, 0)
                 const floating[:, :, ::1] tc not None,    # IN  (N, T, H) LSTM, or (0, 0, 0)
                 const floating[:, :, ::1] h not None,     # IN  (N, T, H) hidden states (RNN backward)
                 floating[:, :, ::1] da not None,          # OUT (N, T, G*H) scratch
                 floating[:, ::1] dcarry not None,         # OUT (N, H) LSTM scratch (cell grad), or (0, 0)
                 floating[:, :, ::1] dx not None,          # OUT (N, T, D)
                 floating[:, ::1] dh0 not None,            # OUT (N, H)
                 floating[:, ::1] dwx not None,            # OUT (D, G*H)
                 floating[:, ::1] dwh not None,            # OUT (H, G*H)
                 floating[::1] db not None,                # OUT (G*H,)
                 float[::1] whp not None,                  # OUT scratch: packed Wh^T, then Wx^T (float32), or (0,): BLAS
                 Py_ssize_t nb, int n_threads):
    cdef Py_ssize_t n = x.shape[0], tt = x.shape[1], d = x.shape[2], hd = dh0.shape[1]
    cdef Py_ssize_t gh = g * hd, t, k, j0, j1
    cdef bint lstm = g == 4
    cdef const floating* rec
    cdef const floating* dcin
    cdef const floating* cp
    cdef Py_ssize_t ldcp
    cdef bint packed = floating is float and whp.shape[0] > 0
    with nogil:
        cs_gemm_init()
        if packed:
            _seq_backward_packed(g, n, tt, hd, <const float*>&dh[0, 0, 0],
                                 <const float*>&c0[0, 0] if (lstm and c0.shape[0]) else NULL,
                                 <const float*>&c[0, 0, 0] if lstm else NULL,
                                 <const float*>&wh[0, 0],
                                 <const float*>&gates[0, 0, 0] if lstm else NULL,
                                 <const float*>&tc[0, 0, 0] if lstm else NULL,
                                 <const float*>&h[0, 0, 0], <float*>&da[0, 0, 0],
                                 <float*>&dcarry[0, 0] if lstm else NULL, <float*>&dh0[0, 0],
                                 &whp[0], n_threads)
        for t in range(tt - 1, -1, -1):
            if packed:
                break
            # dh0 carries the recurrent gradient from step t + 1 into step t.
            rec = &dh0[0, 0] if t < tt - 1 else NULL
            dcin = &dcarry[0, 0] if (lstm and t < tt - 1) else NULL
            if not lstm:
                cp, ldcp = NULL, 0
            elif t > 0:
                cp, ldcp = &c[0, t - 1, 0], tt * hd
            else:
                cp, ldcp = (&c0[0, 0] if c0.shape[0] else NULL), hd
            for k in prange(nb, schedule="static", num_threads=n_threads):
                j0 = _bstart(k, nb, hd)
                j1 = _bstart(k + 1, nb, hd)
                if j1 > j0:
                    _bwd_elem(g, n, hd, &dh[0, t, 0], tt * hd, rec, hd,
                              dcin, &dcarry[0, 0] if lstm else NULL, hd,
                              &gates[0, t, 0] if lstm else NULL, tt * gh, cp, ldcp,
                              &tc[0, t, 0] if lstm else NULL, &h[0, t, 0] if not lstm else NULL,
                              tt * hd, &da[0, t, 0], tt * gh, j0, j1)
            for k in prange(nb, schedule="static", num_threads=n_threads):
                j0 = _bstart(k, nb, hd)
                j1 = _bstart(k + 1, nb, hd)
                _input_grad_cols(n, gh, &da[0, t, 0], tt * gh, &wh[0, 0], &dh0[0, 0], hd,
                                 j0, j1)
        # All time steps at once: weight gradients and dx.
        for k in prange(nb, schedule="static", num_threads=n_threads):
            j0 = _bstart(k, nb, gh)
            j1 = _bstart(k + 1, nb, gh)
            _weight_grads(n * tt, d, hd, gh, &x[0, 0, 0], &hprev[0, 0, 0], &da[0, 0, 0],
                          &dwx[0, 0], &dwh[0, 0], &db[0], j0, j1)
        if packed:  # the loop is over: whp now holds Wx^T packed (the caller sized it for both)
            _input_grad_packed(n * tt, d, gh, <const float*>&da[0, 0, 0],
                               <const float*>&wx[0, 0], <float*>&dx[0, 0, 0], &whp[0], n_threads)
        else:
            for k in prange(nb, schedule="static", num_threads=n_threads):
                j0 = _bstart(k, nb, d)
                j1 = _bstart(k + 1, nb, d)
                _input_grad_cols(n * tt, gh, &da[0, 0, 0], gh, &wx[0, 0], &dx[0, 0, 0], d,
                                 j0, j1)


def _use_gemm64(size_t sgemm64, size_t dgemm64):
    """Route this module's GEMMs to these ILP64 entry points (0, 0: scipy's BLAS)."""
    cs_set_gemm64(sgemm64, dgemm64)
