"""Thread-count resolution and BLAS limiting for the kernels.

Model: scikit-learn's ``sklearn/utils/_openmp_helpers.pyx``.
"""

import contextlib
import functools
import numbers
import os
import threading

from ._ext import openmp_info

__all__ = ["effective_n_threads", "work_threads", "openmp_enabled", "blas_threads", "blas_single_thread",
           "holds_blas_single_thread"]

#: Below this many multiply-adds (or element visits) a kernel runs on one thread: starting a
#: team costs more than it saves. Results do not depend on it (kernels are deterministic).
SERIAL_WORK = 1 << 15

#: The largest ``n_threads`` accepted: far beyond any machine this runs on, small enough for
#: the C int OpenMP takes.
MAX_THREADS = 1 << 12


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return openmp_info.openmp_enabled()


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def effective_n_threads(n_threads=None):
    """Resolve the ``n_threads`` argument of a kernel-backed function.

    ``None`` means OpenMP's current maximum (which reflects ``OMP_NUM_THREADS`` and limits
    set with threadpoolctl), capped at the CPUs available to the process when
    ``OMP_NUM_THREADS`` is unset. A positive int is used as given. Without OpenMP the answer
    is always 1.

    Raises
    ------
    TypeError
        If ``n_threads`` is not None or an int.
    ValueError
        If ``n_threads`` < 1 or > :data:`MAX_THREADS`.
    """
    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
            raise TypeError(f"n_threads must be None or a positive int; got {n_threads!r}")
        if not 1 <= n_threads <= MAX_THREADS:
            raise ValueError(
                f"n_threads must be None or a positive int <= {MAX_THREADS}; got {n_threads}"
            )
    if not openmp_info.openmp_enabled():
        return 1
    if n_threads is not None:
        return int(n_threads)
    n = openmp_info.max_threads()
    # The cap changes n only when n exceeds the CPUs, so the environment (the slower look-up)
    # is read only then. Nothing is cached: threadpoolctl, the environment and the affinity
    # mask may all change between calls.
    if n > 1:
        cpus = _cpu_count()
        if n > cpus and not os.environ.get("OMP_NUM_THREADS"):
            n = cpus
    return max(1, n)


def work_threads(n_threads, work):
    """``n_threads`` resolved, or 1 when ``work`` is below :data:`SERIAL_WORK`."""
    if n_threads is None and work < SERIAL_WORK:  # the common small call: nothing to resolve
        return 1
    n = effective_n_threads(n_threads)
    return 1 if work < SERIAL_WORK else n


_controller = None
_blas_lock = threading.Lock()
_blas_users = 0
_blas_restore = None


def blas_threads(n):
    """Context manager holding every loaded BLAS to ``n`` threads for the duration."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=n, user_api="blas")


def _free_blas_control():
    """Let any Python thread change OpenBLAS's (process-wide) thread count next.

    threadpoolctl >= 3.6 gives the first thread that limits a pthreads OpenBLAS sole control
    of it and silently ignores limits set from other threads: a kernel called from a worker
    thread would then run OpenBLAS's threads inside its own. Our changes are serialised by
    ``_blas_lock``, so taking control for each of them is safe.
    """
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:  # threadpoolctl < 3.0
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def _limit_blas_to_one():
    """Hold the BLAS the kernels call to one thread; return a function undoing it (or None).

    When the kernels' GEMMs go to NumPy's OpenBLAS (:mod:`cs231n_fast._blas`) that one library
    is set directly, a few microseconds; the other BLAS libraries in the process never run
    inside a kernel. Otherwise threadpoolctl limits every BLAS (about 60 us).
    """
    from . import _blas

    control = _blas.gemm_thread_control()
    if control is not None:
        get, put = control
        before = get()
        if before == 1:
            return None
        put(1)
        return lambda: put(before)
    _free_blas_control()
    limiter = blas_threads(1)
    _free_blas_control()

    def restore():
        _free_blas_control()
        limiter.restore_original_limits()
        _free_blas_control()

    return restore


class _BlasSingleThread:
    __slots__ = ()

    def __enter__(self):
        global _blas_users, _blas_restore
        with _blas_lock:
            if _blas_users == 0:
                _blas_restore = _limit_blas_to_one()
            _blas_users += 1
        return self

    def __exit__(self, *exc):
        global _blas_users, _blas_restore
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                restore, _blas_restore = _blas_restore, None
                if restore is not None:
                    restore()
        return False


_BLAS_SINGLE_THREAD = _BlasSingleThread()


def blas_single_thread():
    """Context manager holding the BLAS the kernels call to one thread.

    Kernels that call BLAS from inside their own parallel region use it so that the two
    thread pools never nest (model: ``sklearn/metrics/_pairwise_distances_reduction``).
    BLAS's thread count is process-wide, so overlapping uses from several Python threads
    share one limit: the first to enter sets it, the last to leave restores the original.

    Consequence for other threads: while any thread is inside, a NumPy product that another
    Python thread runs (on the BLAS limited: NumPy's OpenBLAS, or every BLAS when
    threadpoolctl is the limiter) also runs on one thread. It is slower, and its result can
    differ in the last bits from the same product run outside, since a BLAS may round
    differently on 1 and N threads (OpenBLAS does for some shapes).
    """
    return _BLAS_SINGLE_THREAD


def holds_blas_single_thread(uses_kernels=lambda self: True):
    """Decorator for a model's methods that mix the kernels with NumPy's own products.

    The method runs inside :func:`blas_single_thread` when ``uses_kernels(self)`` is true, so
    its NumPy products (affine layers, the vocabulary projection) run on one BLAS thread
    beside the kernels' OpenMP threads. Why: after a multi-threaded NumPy product, OpenBLAS's
    idle workers spin for about 0.1 s, and the kernels that follow share their cores with them.
    Measured on 2 cores: ``CaptioningRNN.loss`` (N=100, T=17, H=512, V=1004, LSTM) 300 ->
    170-190 ms; ``ThreeLayerConvNet.loss`` (50 CIFAR-sized images) 83-86 -> 47-51 ms.
    """

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            with blas_single_thread() if uses_kernels(self) else contextlib.nullcontext():
                return method(self, *args, **kwargs)

        return wrapper

    return decorate
