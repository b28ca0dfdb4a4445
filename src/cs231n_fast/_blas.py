"""Which BLAS library the kernels' GEMMs call.

The kernels reach BLAS through scipy's ``cython_blas`` by default. NumPy's wheels bundle their
own OpenBLAS (ILP64, symbols ``scipy_sgemm_64_``/``scipy_dgemm_64_``), often a newer release:
on this project's machine OpenBLAS 0.3.31 in NumPy against 0.3.30 in SciPy, 7-21% faster on
the LSTM step's products with bitwise-equal results. At import the kernels are pointed at
NumPy's OpenBLAS when it is there; otherwise (NumPy built on another BLAS, an LP64 build, a
platform where the library cannot be found) they keep SciPy's.

The environment variable ``CS231N_FAST_BLAS`` chooses: ``auto`` (default), ``numpy`` (NumPy's
OpenBLAS or an ImportError saying why not) or ``scipy``. Either way every GEMM of a kernel is
a single-threaded call on a fixed block, so results stay bitwise identical for any thread
count; they may differ in the last bits between the two libraries.
"""

import ctypes
import glob
import os

import numpy as np

__all__ = ["CHOICES", "gemm_library", "gemm_thread_control", "select"]

CHOICES = ("auto", "numpy", "scipy")

_selected = "scipy's BLAS (cython_blas)"
#: ``(get, set)`` of the thread count of the library the GEMMs call, when it is one we can
#: reach directly (NumPy's OpenBLAS); None otherwise (then threadpoolctl limits every BLAS).
_thread_control = None


def gemm_library():
    """A one-line description of the library the kernels' GEMMs call."""
    return _selected


def gemm_thread_control():
    """``(get_num_threads, set_num_threads)`` of the library the kernels' GEMMs call, as
    ctypes functions, or None when that library is reached only through scipy (then
    :func:`cs231n_fast._threads.blas_single_thread` limits every BLAS with threadpoolctl)."""
    return _thread_control


def _numpy_openblas():
    """``(sgemm, dgemm, description, (get_num_threads, set_num_threads))`` of NumPy's bundled
    ILP64 OpenBLAS (GEMM addresses and ctypes functions), or a reason string why there is none."""
    blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    name, version = blas.get("name", "?"), blas.get("version", "?")
    if name != "scipy-openblas" or "USE64BITINT" not in blas.get("openblas configuration", ""):
        return f"numpy is built on {name} {version}, not its bundled ILP64 OpenBLAS"
    # Where the wheels keep it: numpy.libs beside the package (Linux, Windows), numpy/.dylibs (macOS).
    here = os.path.dirname(np.__file__)
    places = (os.path.join(os.path.dirname(here), "numpy.libs"), os.path.join(here, ".dylibs"))
    paths = [p for place in places for p in sorted(glob.glob(os.path.join(place, "*openblas64*")))]
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            s, d = lib.scipy_sgemm_64_, lib.scipy_dgemm_64_
        except (OSError, AttributeError):
            continue
        addr = [ctypes.cast(f, ctypes.c_void_p).value for f in (s, d)]
        try:
            get, put = lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
        except AttributeError:
            continue
        get.restype, get.argtypes = ctypes.c_int, []
        put.restype, put.argtypes = None, [ctypes.c_int]
        desc = f"numpy's OpenBLAS {version} (ILP64, {os.path.basename(path)})"
        return addr[0], addr[1], desc, (get, put)
    return f"numpy's OpenBLAS {version} library was not found in {' or '.join(places)}"


def select(modules, choice=None):
    """Point the GEMMs of the compiled ``modules`` at the library ``choice`` (default: the
    ``CS231N_FAST_BLAS`` environment variable, else "auto"); return its description."""
    global _selected, _thread_control
    choice = (choice or os.environ.get("CS231N_FAST_BLAS") or "auto").strip().lower()
    if choice not in CHOICES:
        raise ImportError(
            f"CS231N_FAST_BLAS must be one of {', '.join(CHOICES)}; got {choice!r}"
        )
    found = _numpy_openblas() if choice != "scipy" else "CS231N_FAST_BLAS=scipy"
    if isinstance(found, str):
        if choice == "numpy":
            raise ImportError(f"CS231N_FAST_BLAS=numpy, but {found}")
        sgemm = dgemm = 0
        _thread_control = None
        _selected = f"scipy's BLAS (cython_blas); {found}" if choice == "auto" else "scipy's BLAS (cython_blas)"
    else:
        sgemm, dgemm, _selected, _thread_control = found
    for m in modules:
        m._use_gemm64(sgemm, dgemm)
    return _selected
