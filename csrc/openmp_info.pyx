"""Build-time OpenMP status of the compiled kernels (cs231n_fast._ext.openmp_info)."""

from omp cimport cs231n_openmp_enabled, cs231n_omp_get_max_threads


def openmp_enabled():
    """True when the extensions were compiled with OpenMP."""
    return bool(cs231n_openmp_enabled())


def max_threads():
    """OpenMP's current maximum team size in the calling thread (1 without OpenMP).

    Reflects ``OMP_NUM_THREADS`` and any limit set through threadpoolctl.
    """
    return int(cs231n_omp_get_max_threads())
