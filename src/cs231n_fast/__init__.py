"""cs231n_fast: fast, tested Cython+OpenMP kernels for from-scratch deep learning in NumPy.

The functional API lives in :mod:`cs231n_fast.ops`, its pure-NumPy twin in
:mod:`cs231n_fast.reference`, layer classes in :mod:`cs231n_fast.nn`, and the course's
drop-in modules in :mod:`cs231n_fast.fast_layers`, :mod:`cs231n_fast.layers` and
:mod:`cs231n_fast.compat`.
"""

__version__ = "0.1.0"

#: Every compiled module (csrc/<name>.pyx); one line each, so families add theirs independently.
_EXT_MODULES = (
    "openmp_info",
    "memory",
    "conv",
    "pool",
    "distances",
    "rnn",
    "activations",
    "linear",
    "losses",
    "embedding",
    "optim",
    "norm",
    "features",
    "detection",
    "attention",
)

try:
    import importlib as _importlib

    _ext_modules = [_importlib.import_module(f"._ext.{_m}", __name__) for _m in _EXT_MODULES]
except ImportError as exc:  # a missing or stale build must fail here, never later
    raise ImportError(
        "cs231n_fast's compiled kernels could not be imported "
        f"({exc}). The package was installed without its extensions or they are stale: "
        "reinstall from a clean source tree with `pip install --force-reinstall --no-cache-dir .` "
        "(a C compiler is needed), or rebuild in place with `pip install -e .`."
    ) from exc

from . import _blas  # noqa: E402

# Every module with GEMMs takes its BLAS entry points at import.
_blas.select(tuple(_m for _m in _ext_modules if hasattr(_m, "_use_gemm64")))


def blas_single_thread():
    """Context manager holding the BLAS the kernels call (NumPy's OpenBLAS) to one thread.

    Wrap a training step of your own that mixes the kernels with NumPy products (affine
    layers, say): after a multi-threaded NumPy product, OpenBLAS's idle threads spin for about
    0.1 s, and kernels run in that window share their cores with them (on 2 cores the course's
    models ran 1.6-1.8x faster held). The course models of this package do it themselves.
    Nested and concurrent uses share one limit; the last to leave restores the thread count.
    """
    from ._threads import blas_single_thread as hold

    return hold()


def release_memory():
    """Free the memory the kernels keep for reuse.

    Large results of the recurrent kernels (1 MiB and more) come from a pool: when the last
    array using a block is gone, the block waits (up to 256 MiB in all) for the next call of
    that size, which then skips the page faults of fresh memory (10-20% of an LSTM sequence's
    time). Arrays still in use are unaffected. See also :func:`memory_info`.
    """
    from . import _memory

    _memory.release()


def memory_info():
    """``dict(blocks=, bytes=, max_bytes=, enabled=)``: what the kernels' memory pool holds."""
    from . import _memory

    return _memory.info()


def show_config(file=None):
    """Print the version, OpenMP status, kernel thread count and the BLAS numpy/scipy use."""
    import platform
    import sys

    import numpy as np

    from ._threads import effective_n_threads, openmp_enabled

    lines = [
        f"cs231n_fast {__version__}",
        f"python      {platform.python_version()} ({sys.platform})",
        f"numpy       {np.__version__}",
        f"OpenMP      {'enabled' if openmp_enabled() else 'disabled (kernels run on one thread)'}",
        f"threads     {effective_n_threads()} (kernels, n_threads=None)",
        f"gemm        {_blas.gemm_library()}",
        "pool        {blocks} blocks, {bytes} bytes held (cap {max_bytes})".format(**memory_info()),
    ]
    try:
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            lines.append(
                f"{lib.get('user_api', '?'):11} {lib.get('internal_api', '?')} "
                f"{lib.get('version', '')} threads={lib.get('num_threads')} "
                f"({lib.get('filepath', '')})"
            )
    except ImportError:  # threadpoolctl is a dependency; keep show_config usable regardless
        lines.append("blas        (threadpoolctl not installed)")
    print("\n".join(lines), file=file)
