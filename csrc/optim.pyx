# cython: language_level=3
# distutils: extra_compile_args = -fno-math-errno
"""Fused first-order update rules (cs231n_fast._ext.optim): sgd, sgd_momentum,
nesterov_momentum, adagrad, rmsprop and adam, each one pass over flat arrays that reads the
weights, the gradient and the old state and writes the new weights and the new state.

``-fno-math-errno`` (this module only) lets GCC vectorise sqrt; see optim_kernels.h.

Callers (``cs231n_fast.ops.optim``) guarantee: C-contiguous 1-D arrays (flattened) of one
floating dtype and one length ``n``; the outputs freshly allocated (aliasing no input);
``n_threads >= 1``; hyperparameters already checked and the derived constants (1 - beta1,
1 - beta1**t, 1 + momentum, ...) computed in double, as the course's NumPy code computes them
(each is rounded once to the array's type here, as NumPy rounds a Python float).

Partition: fixed chunks of ``_CHUNK`` elements, dealt statically to the threads. Every element
is computed by one thread with the same operations whatever the chunk or thread, so the
results are bitwise identical for any thread count, any clone (AVX-512/AVX2/baseline) and the
build without OpenMP.
"""

from cython cimport floating
from cython.parallel cimport prange

cdef extern from "optim_kernels.h" nogil:
    void cs_sgd_f(const float* w, const float* dw, float* nw, float lr, Py_ssize_t n)
    void cs_sgd_d(const double* w, const double* dw, double* nw, double lr, Py_ssize_t n)
    void cs_sgd_momentum_f(const float* w, const float* dw, const float* vel, float* nw,
                           float* vo, float lr, float mu, Py_ssize_t n)
    void cs_sgd_momentum_d(const double* w, const double* dw, const double* vel, double* nw,
                           double* vo, double lr, double mu, Py_ssize_t n)
    void cs_nesterov_momentum_f(const float* w, const float* dw, const float* vel, float* nw,
                                float* vo, float lr, float mu, float onepmu, Py_ssize_t n)
    void cs_nesterov_momentum_d(const double* w, const double* dw, const double* vel,
                                double* nw, double* vo, double lr, double mu, double onepmu,
                                Py_ssize_t n)
    void cs_adagrad_f(const float* w, const float* dw, const float* cache, float* nw,
                      float* co, float lr, float eps, Py_ssize_t n)
    void cs_adagrad_d(const double* w, const double* dw, const double* cache, double* nw,
                      double* co, double lr, double eps, Py_ssize_t n)
    void cs_rmsprop_f(const float* w, const float* dw, const float* cache, float* nw,
                      float* co, float lr, float rho, float omrho, float eps, Py_ssize_t n)
    void cs_rmsprop_d(const double* w, const double* dw, const double* cache, double* nw,
                      double* co, double lr, double rho, double omrho, double eps, Py_ssize_t n)
    void cs_adam_f(const float* w, const float* dw, const float* m, const float* v, float* nw,
                   float* mo, float* vo, float lr, float b1, float omb1, float b2, float omb2,
                   float c1, float c2, float eps, Py_ssize_t n)
    void cs_adam_d(const double* w, const double* dw, const double* m, const double* v,
                   double* nw, double* mo, double* vo, double lr, double b1, double omb1,
                   double b2, double omb2, double c1, double c2, double eps, Py_ssize_t n)
    double cs_sumsq_f(const float* x, Py_ssize_t n)
    double cs_sumsq_d(const double* x, Py_ssize_t n)


cdef enum:
    # Elements per chunk (whole vectors of every width; 32 KiB of float32 per stream, so a
    # chunk's 4-7 streams stay within L2 while the hardware prefetchers run ahead).
    _CHUNK = 8192


cdef inline Py_ssize_t _chunks(Py_ssize_t n) noexcept nogil:
    return (n + _CHUNK - 1) // _CHUNK


cdef inline Py_ssize_t _len(Py_ssize_t k, Py_ssize_t n) noexcept nogil:
    return n - k * _CHUNK if n - k * _CHUNK < _CHUNK else _CHUNK


# Each entry point runs the chunks in a plain loop on one thread (no OpenMP team for the many
# tiny parameters of a network: biases, gamma, beta) or in a static prange otherwise.

def sgd(const floating[::1] w not None, const floating[::1] dw not None,
        floating[::1] nw not None,  # OUT
        double lr, int n_threads):
    """nw = w - lr * dw."""
    cdef Py_ssize_t n = w.shape[0], nc = _chunks(n), k, lo
    if n == 0:
        return
    with nogil:
        if n_threads == 1 or nc == 1:
            if floating is float:
                cs_sgd_f(&w[0], &dw[0], &nw[0], <float>lr, n)
            else:
                cs_sgd_d(&w[0], &dw[0], &nw[0], lr, n)
        else:
            for k in prange(nc, schedule="static", num_threads=n_threads):
                lo = k * _CHUNK
                if floating is float:
                    cs_sgd_f(&w[lo], &dw[lo], &nw[lo], <float>lr, _len(k, n))
                else:
                    cs_sgd_d(&w[lo], &dw[lo], &nw[lo], lr, _len(k, n))


def sgd_momentum(const floating[::1] w not None, const floating[::1] dw not None,
                 const floating[::1] vel not None,
                 floating[::1] nw not None,  # OUT
                 floating[::1] vo not None,  # OUT
                 double lr, double mu, bint nesterov, int n_threads):
    """Momentum (``nesterov`` false) or Nesterov momentum: vo, nw from w, dw, vel."""
    cdef Py_ssize_t n = w.shape[0], nc = _chunks(n), k, lo
    cdef double onepmu = 1 + mu
    if n == 0:
        return
    with nogil:
        if n_threads == 1 or nc == 1:
            _momentum(&w[0], &dw[0], &vel[0], &nw[0], &vo[0], lr, mu, onepmu, nesterov, n)
        else:
            for k in prange(nc, schedule="static", num_threads=n_threads):
                lo = k * _CHUNK
                _momentum(&w[lo], &dw[lo], &vel[lo], &nw[lo], &vo[lo], lr, mu, onepmu,
                          nesterov, _len(k, n))


cdef inline void _momentum(const floating* w, const floating* dw, const floating* vel,
                           floating* nw, floating* vo, double lr, double mu, double onepmu,
                           bint nesterov, Py_ssize_t n) noexcept nogil:
    if floating is float:
        if nesterov:
            cs_nesterov_momentum_f(w, dw, vel, nw, vo, <float>lr, <float>mu, <float>onepmu, n)
        else:
            cs_sgd_momentum_f(w, dw, vel, nw, vo, <float>lr, <float>mu, n)
    else:
        if nesterov:
            cs_nesterov_momentum_d(w, dw, vel, nw, vo, lr, mu, onepmu, n)
        else:
            cs_sgd_momentum_d(w, dw, vel, nw, vo, lr, mu, n)


def adagrad_rmsprop(const floating[::1] w not None, const floating[::1] dw not None,
                    const floating[::1] cache not None,
                    floating[::1] nw not None,  # OUT
                    floating[::1] co not None,  # OUT
                    double lr, double rho, double eps, bint rms, int n_threads):
    """Adagrad (``rms`` false; ``rho`` unused) or RMSProp with decay rate ``rho``."""
    cdef Py_ssize_t n = w.shape[0], nc = _chunks(n), k, lo
    cdef double omrho = 1 - rho
    if n == 0:
        return
    with nogil:
        if n_threads == 1 or nc == 1:
            _adagrad_rmsprop(&w[0], &dw[0], &cache[0], &nw[0], &co[0], lr, rho, omrho, eps,
                             rms, n)
        else:
            for k in prange(nc, schedule="static", num_threads=n_threads):
                lo = k * _CHUNK
                _adagrad_rmsprop(&w[lo], &dw[lo], &cache[lo], &nw[lo], &co[lo], lr, rho, omrho,
                                 eps, rms, _len(k, n))


cdef inline void _adagrad_rmsprop(const floating* w, const floating* dw, const floating* cache,
                                  floating* nw, floating* co, double lr, double rho,
                                  double omrho, double eps, bint rms,
                                  Py_ssize_t n) noexcept nogil:
    if floating is float:
        if rms:
            cs_rmsprop_f(w, dw, cache, nw, co, <float>lr, <float>rho, <float>omrho, <float>eps, n)
        else:
            cs_adagrad_f(w, dw, cache, nw, co, <float>lr, <float>eps, n)
    else:
        if rms:
            cs_rmsprop_d(w, dw, cache, nw, co, lr, rho, omrho, eps, n)
        else:
            cs_adagrad_d(w, dw, cache, nw, co, lr, eps, n)


def adam(const floating[::1] w not None, const floating[::1] dw not None,
         const floating[::1] m not None, const floating[::1] v not None,
         floating[::1] nw not None,  # OUT
         floating[::1] mo not None,  # OUT
         floating[::1] vo not None,  # OUT
         double lr, double b1, double b2, double c1, double c2, double eps, int n_threads):
    """The course's Adam step; ``c1 = 1 - b1**t``, ``c2 = 1 - b2**t`` with t incremented."""
    cdef Py_ssize_t n = w.shape[0], nc = _chunks(n), k, lo
    cdef double omb1 = 1 - b1, omb2 = 1 - b2
    if n == 0:
        return
    with nogil:
        if n_threads == 1 or nc == 1:
            _adam(&w[0], &dw[0], &m[0], &v[0], &nw[0], &mo[0], &vo[0],
                  lr, b1, omb1, b2, omb2, c1, c2, eps, n)
        else:
            for k in prange(nc, schedule="static", num_threads=n_threads):
                lo = k * _CHUNK
                _adam(&w[lo], &dw[lo], &m[lo], &v[lo], &nw[lo], &mo[lo], &vo[lo],
                      lr, b1, omb1, b2, omb2, c1, c2, eps, _len(k, n))


cdef inline void _adam(const floating* w, const floating* dw, const floating* m,
                       const floating* v, floating* nw, floating* mo, floating* vo,
                       double lr, double b1, double omb1, double b2, double omb2,
                       double c1, double c2, double eps, Py_ssize_t n) noexcept nogil:
    if floating is float:
        cs_adam_f(w, dw, m, v, nw, mo, vo, <float>lr, <float>b1, <float>omb1, <float>b2,
                  <float>omb2, <float>c1, <float>c2, <float>eps, n)
    else:
        cs_adam_d(w, dw, m, v, nw, mo, vo, lr, b1, omb1, b2, omb2, c1, c2, eps, n)


def sumsq(const floating[::1] x not None, double[::1] partial not None,  # OUT (scratch)
          int n_threads):
    """Sum of the squares of ``x`` in double, in a fixed order: each chunk of ``_CHUNK``
    elements by cs_sumsq (fixed lanes), the chunk sums then added in chunk order. Bitwise the
    same for any thread count and clone. ``partial`` has at least ``ceil(n / _CHUNK)``
    elements."""
    cdef Py_ssize_t n = x.shape[0], nc = _chunks(n), k, lo
    cdef double total = 0.0
    if n == 0:
        return 0.0
    with nogil:
        if n_threads == 1 or nc == 1:
            for k in range(nc):
                partial[k] = _sumsq(&x[k * _CHUNK], _len(k, n))
        else:
            for k in prange(nc, schedule="static", num_threads=n_threads):
                partial[k] = _sumsq(&x[k * _CHUNK], _len(k, n))
        for k in range(nc):
            total = total + partial[k]
    return total


cdef inline double _sumsq(const floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return cs_sumsq_f(x, n)
    else:
        return cs_sumsq_d(x, n)


def chunk_size():
    """Elements per chunk (the partition of every kernel here)."""
    return _CHUNK
