# cython: language_level=3
"""Activation and dropout kernels (cs231n_fast._ext.activations).

Elementwise forward and backward passes of ReLU, leaky ReLU, PReLU (with its slope gradient),
ELU, sigmoid and tanh, inverted dropout with a counter-based mask, and maxout's max/argmax and
gradient scatter (its products stay with BLAS, in ``cs231n_fast.ops.activations``). The C loop
bodies are in activations_kernels.h (sigmoid/tanh/exp from rnn_kernels.h).

Work split. Flat arrays go in fixed chunks of ``_CHUNK`` elements (the last one shorter), dealt
to threads by a static ``prange``; PReLU works on the planes of an (N, C, S) view, each plane cut
into chunks of ``_CHUNK``, so that every chunk has one slope. Maxout goes by rows. Every output
element has exactly one writer, and the one reduction (PReLU's slope gradient) leaves one
partial sum per chunk, computed in a fixed order within the chunk; the caller adds the partials
in a fixed order. The chunks depend on the problem's size only, never on ``n_threads``, so the
results are bitwise identical for any thread count and for the build without OpenMP.

Callers (``cs231n_fast.ops.activations``) guarantee: C-contiguous arrays of one floating dtype
with the documented shapes, ``1 <= n_threads``; for PReLU ``n == planes * s``, ``c >= 1`` and
``partial`` of length ``planes * ceil(s / _CHUNK)``; for maxout ``z`` of shape (N, K*M) with
``K <= 2**31 - 1``. Nothing here validates, raises or touches Python objects inside ``nogil``.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, uint32_t, uint64_t


cdef extern from "activations_kernels.h" nogil:
    void cs_act_sigmoid_f(const float* z, float* out, Py_ssize_t n)
    void cs_act_sigmoid_d(const double* z, double* out, Py_ssize_t n)
    void cs_act_tanh_f(const float* z, float* out, Py_ssize_t n)
    void cs_act_tanh_d(const double* z, double* out, Py_ssize_t n)
    void cs_act_relu_f(const float* x, float* out, Py_ssize_t n)
    void cs_act_relu_d(const double* x, double* out, Py_ssize_t n)
    void cs_act_relu_bwd_f(const float* x, const float* d, float* dx, Py_ssize_t n)
    void cs_act_relu_bwd_d(const double* x, const double* d, double* dx, Py_ssize_t n)
    void cs_act_leaky_f(const float* x, float* out, Py_ssize_t n, float a)
    void cs_act_leaky_d(const double* x, double* out, Py_ssize_t n, double a)
    void cs_act_leaky_bwd_f(const float* x, const float* d, float* dx, Py_ssize_t n, float a)
    void cs_act_leaky_bwd_d(const double* x, const double* d, double* dx, Py_ssize_t n, double a)
    double cs_act_prelu_bwd_f(const float* x, const float* d, float* dx, Py_ssize_t n, float a)
    double cs_act_prelu_bwd_d(const double* x, const double* d, double* dx, Py_ssize_t n, double a)
    void cs_act_sigmoid_bwd_f(const float* y, const float* d, float* dx, Py_ssize_t n)
    void cs_act_sigmoid_bwd_d(const double* y, const double* d, double* dx, Py_ssize_t n)
    void cs_act_tanh_bwd_f(const float* y, const float* d, float* dx, Py_ssize_t n)
    void cs_act_tanh_bwd_d(const double* y, const double* d, double* dx, Py_ssize_t n)
    void cs_act_elu_f(const float* x, float* out, Py_ssize_t n, float alpha)
    void cs_act_elu_d(const double* x, double* out, Py_ssize_t n, double alpha)
    void cs_act_elu_bwd_f(const float* x, const float* d, float* dx, Py_ssize_t n, float alpha)
    void cs_act_elu_bwd_d(const double* x, const double* d, double* dx, Py_ssize_t n, double alpha)
    void cs_act_dropout_f(const float* x, float* out, Py_ssize_t n, uint32_t lo0, uint32_t k0,
                          uint32_t kh, uint32_t thr, float scale)
    void cs_act_dropout_d(const double* x, double* out, Py_ssize_t n, uint32_t lo0, uint32_t k0,
                          uint32_t kh, uint32_t thr, double scale)
    void cs_act_maxout_row_f(const float* z, const float* b, float* out, int32_t* piece,
                             Py_ssize_t k, Py_ssize_t m)
    void cs_act_maxout_row_d(const double* z, const double* b, double* out, int32_t* piece,
                             Py_ssize_t k, Py_ssize_t m)
    void cs_act_maxout_bwd_row_f(const float* d, const int32_t* piece, float* dz, Py_ssize_t k,
                                 Py_ssize_t m)
    void cs_act_maxout_bwd_row_d(const double* d, const int32_t* piece, double* dz, Py_ssize_t k,
                                 Py_ssize_t m)


cdef enum:
    # Elements per chunk: 64 KiB of float32, a power of two (so that a dropout chunk never
    # straddles a 2^32 boundary of the element index, whose high half keys the hash).
    _CHUNK = 16384

CHUNK = _CHUNK

# Operation codes of unary() and binary().
RELU = 0
SIGMOID = 1
TANH = 2
ELU = 3
LEAKY = 4


def unary(int op, const floating[::1] x not None, floating[::1] out not None, double a,
          int n_threads):
    """out = f(x) elementwise over flat arrays: op RELU, SIGMOID, TANH, ELU (alpha a) or
    LEAKY (slope a)."""
    cdef Py_ssize_t n = x.shape[0], nc = (n + _CHUNK - 1) // _CHUNK, k, lo, m
    with nogil:
        for k in prange(nc, schedule="static", num_threads=n_threads):
            lo = k * _CHUNK
            m = n - lo if n - lo < _CHUNK else _CHUNK
            if floating is float:
                if op == 0:
                    cs_act_relu_f(&x[lo], &out[lo], m)
                elif op == 1:
                    cs_act_sigmoid_f(&x[lo], &out[lo], m)
                elif op == 2:
                    cs_act_tanh_f(&x[lo], &out[lo], m)
                elif op == 3:
                    cs_act_elu_f(&x[lo], &out[lo], m, <float>a)
                else:
                    cs_act_leaky_f(&x[lo], &out[lo], m, <float>a)
            else:
                if op == 0:
                    cs_act_relu_d(&x[lo], &out[lo], m)
                elif op == 1:
                    cs_act_sigmoid_d(&x[lo], &out[lo], m)
                elif op == 2:
                    cs_act_tanh_d(&x[lo], &out[lo], m)
                elif op == 3:
                    cs_act_elu_d(&x[lo], &out[lo], m, a)
                else:
                    cs_act_leaky_d(&x[lo], &out[lo], m, a)


def binary(int op, const floating[::1] s not None, const floating[::1] d not None,
           floating[::1] dx not None, double a, int n_threads):
    """dx = backward of op at the saved array s (x for RELU, ELU, LEAKY; the output for SIGMOID
    and TANH) with upstream gradient d, elementwise over flat arrays."""
    cdef Py_ssize_t n = s.shape[0], nc = (n + _CHUNK - 1) // _CHUNK, k, lo, m
    with nogil:
        for k in prange(nc, schedule="static", num_threads=n_threads):
            lo = k * _CHUNK
            m = n - lo if n - lo < _CHUNK else _CHUNK
            if floating is float:
                if op == 0:
                    cs_act_relu_bwd_f(&s[lo], &d[lo], &dx[lo], m)
                elif op == 1:
                    cs_act_sigmoid_bwd_f(&s[lo], &d[lo], &dx[lo], m)
                elif op == 2:
                    cs_act_tanh_bwd_f(&s[lo], &d[lo], &dx[lo], m)
                elif op == 3:
                    cs_act_elu_bwd_f(&s[lo], &d[lo], &dx[lo], m, <float>a)
                else:
                    cs_act_leaky_bwd_f(&s[lo], &d[lo], &dx[lo], m, <float>a)
            else:
                if op == 0:
                    cs_act_relu_bwd_d(&s[lo], &d[lo], &dx[lo], m)
                elif op == 1:
                    cs_act_sigmoid_bwd_d(&s[lo], &d[lo], &dx[lo], m)
                elif op == 2:
                    cs_act_tanh_bwd_d(&s[lo], &d[lo], &dx[lo], m)
                elif op == 3:
                    cs_act_elu_bwd_d(&s[lo], &d[lo], &dx[lo], m, a)
                else:
                    cs_act_leaky_bwd_d(&s[lo], &d[lo], &dx[lo], m, a)


def prelu_forward(const floating[::1] x not None, const floating[::1] alpha not None,
                  floating[::1] out not None, Py_ssize_t s, int n_threads):
    """out = x where x > 0, else alpha[p % c] * x, for the planes p of s elements of x
    (c = len(alpha))."""
    cdef Py_ssize_t c = alpha.shape[0], nq = (s + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t planes = x.shape[0] // s, t, p, lo, m
    with nogil:
        for t in prange(planes * nq, schedule="static", num_threads=n_threads):
            p = t // nq
            lo = (t - p * nq) * _CHUNK
            m = s - lo if s - lo < _CHUNK else _CHUNK
            if floating is float:
                cs_act_leaky_f(&x[p * s + lo], &out[p * s + lo], m, alpha[p % c])
            else:
                cs_act_leaky_d(&x[p * s + lo], &out[p * s + lo], m, alpha[p % c])


def prelu_backward(const floating[::1] x not None, const floating[::1] d not None,
                   const floating[::1] alpha not None, floating[::1] dx not None,
                   double[::1] partial not None, Py_ssize_t s, int n_threads):
    """dx (the leaky backward with slope alpha[p % c] on plane p) and, for chunk q of plane p,
    partial[p * ceil(s / CHUNK) + q] = sum of d * x over its elements with x <= 0."""
    cdef Py_ssize_t c = alpha.shape[0], nq = (s + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t planes = x.shape[0] // s, t, p, lo, m
    with nogil:
        for t in prange(planes * nq, schedule="static", num_threads=n_threads):
            p = t // nq
            lo = (t - p * nq) * _CHUNK
            m = s - lo if s - lo < _CHUNK else _CHUNK
            if floating is float:
                partial[t] = cs_act_prelu_bwd_f(&x[p * s + lo], &d[p * s + lo], &dx[p * s + lo],
                                                m, alpha[p % c])
            else:
                partial[t] = cs_act_prelu_bwd_d(&x[p * s + lo], &d[p * s + lo], &dx[p * s + lo],
                                                m, alpha[p % c])


def dropout(const floating[::1] x not None, floating[::1] out not None, uint32_t k0, uint32_t k1,
            uint32_t thr, double scale, int n_threads):
    """out = x * (scale if element i is kept else 0), kept when the hash of (k0, k1, i) is below
    thr (activations_kernels.h). Forward and backward alike (x is then dout)."""
    cdef Py_ssize_t n = x.shape[0], nc = (n + _CHUNK - 1) // _CHUNK, k, lo, m
    cdef uint64_t start
    cdef uint32_t kh
    with nogil:
        for k in prange(nc, schedule="static", num_threads=n_threads):
            lo = k * _CHUNK
            m = n - lo if n - lo < _CHUNK else _CHUNK
            start = <uint64_t>lo
            kh = k1 ^ (<uint32_t>(start >> 32) * <uint32_t>0x9E3779B9)
            if floating is float:
                cs_act_dropout_f(&x[lo], &out[lo], m, <uint32_t>start, k0, kh, thr, <float>scale)
            else:
                cs_act_dropout_d(&x[lo], &out[lo], m, <uint32_t>start, k0, kh, thr, scale)


def maxout_forward(const floating[:, ::1] z not None, const floating[::1] b not None,
                   floating[:, ::1] out not None, int32_t[:, ::1] piece not None, Py_ssize_t k,
                   int n_threads):
    """out[i, j] = max_q (z[i, q*M + j] + b[q*M + j]), piece[i, j] its first maximal q (a NaN
    is the maximum); z (N, K*M), b (K*M,), out and piece (N, M). Parallel over rows."""
    cdef Py_ssize_t n = z.shape[0], mm = out.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                cs_act_maxout_row_f(&z[i, 0], &b[0], &out[i, 0], &piece[i, 0], k, mm)
            else:
                cs_act_maxout_row_d(&z[i, 0], &b[0], &out[i, 0], &piece[i, 0], k, mm)


def maxout_scatter(const floating[:, ::1] d not None, const int32_t[:, ::1] piece not None,
                   floating[:, ::1] dz not None, Py_ssize_t k, int n_threads):
    """dz[i, q*M + j] = d[i, j] where piece[i, j] == q, else 0; d and piece (N, M), dz
    (N, K*M). Parallel over rows."""
    cdef Py_ssize_t n = d.shape[0], mm = d.shape[1], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            if floating is float:
                cs_act_maxout_bwd_row_f(&d[i, 0], &piece[i, 0], &dz[i, 0], k, mm)
            else:
                cs_act_maxout_bwd_row_d(&d[i, 0], &piece[i, 0], &dz[i, 0], k, mm)
