# Header-only: the only file that touches omp.h. Every OpenMP call sits under #ifdef _OPENMP so
# the same generated C compiles with and without OpenMP (then the kernels run on one thread).

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static inline int cs231n_openmp_enabled(void) { return 1; }
    static inline int cs231n_omp_get_max_threads(void) { return omp_get_max_threads(); }
    #else
    static inline int cs231n_openmp_enabled(void) { return 0; }
    static inline int cs231n_omp_get_max_threads(void) { return 1; }
    #endif
    """
    int cs231n_openmp_enabled() noexcept nogil
    int cs231n_omp_get_max_threads() noexcept nogil
