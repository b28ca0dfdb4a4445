"""The machine a benchmark ran on: BLAS GEMM peak, memory of a call, CPU, BLAS and versions."""

import gc
import os
import platform
import threading
import time

import numpy as np

from ._common import DTYPES, thread_limits
from .timing import SETTLE_SECONDS, Timer, summarize

# --- the machine's BLAS GEMM peak ------------------------------------------------------------

#: Shape ``(m, k, n)`` of the product timed as this machine's BLAS GEMM peak: square and large
#: enough for BLAS to reach its top speed, small enough to time in a fraction of a second.
GEMM_PEAK_SHAPE = (1024, 1024, 1024)


def gemm_timer(quick, repeat=None):
    """The timer of :func:`gemm_peaks`: a few calls after warm-up, fewer in the quick run."""
    if repeat is not None:
        return Timer(warmup=1, repeat=repeat)
    if quick:
        return Timer(warmup=1, budget=0.3, min_repeat=3, max_repeat=10, settle=SETTLE_SECONDS)
    return Timer(warmup=2, budget=1.0, min_repeat=5, max_repeat=30, settle=SETTLE_SECONDS)


def _gemm_peak(dtype, n_threads, timer):
    """Time NumPy's ``matmul`` of :data:`GEMM_PEAK_SHAPE` in ``dtype`` under the current
    BLAS thread limit (``n_threads`` is recorded only)."""
    m, k, n = GEMM_PEAK_SHAPE
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32).astype(dtype)
    b = rng.standard_normal((k, n), dtype=np.float32).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    stats = summarize(timer(lambda: np.matmul(a, b, out=out)))
    gflops = 2 * m * k * n / (stats["median_ms"] * 1e-3) / 1e9
    return {"dtype": np.dtype(dtype).name, "shape": [m, k, n], "n_threads": n_threads,
            "gflops": gflops, **stats}


def gemm_peaks(dtypes=DTYPES, n_threads=None, quick=False, repeat=None):
    """This machine's BLAS GEMM speed per dtype, at ``n_threads`` BLAS threads.

    Times NumPy's ``matmul`` of :data:`GEMM_PEAK_SHAPE` (``out=`` preallocated) with
    :func:`gemm_timer` and returns ``{dtype: record}``, each record holding ``gflops``
    (``2·m·k·n`` over the median time), ``shape``, ``n_threads`` and the timings of
    :func:`summarize`. :func:`run` measures these itself for the dtypes of its GEMM-bound
    cases; the benchmark suite records them with the machine information.
    """
    from .._threads import effective_n_threads

    n_threads = effective_n_threads(n_threads)
    timer = gemm_timer(quick, repeat)
    with thread_limits(n_threads):
        return {np.dtype(d).name: _gemm_peak(np.dtype(d).name, n_threads, timer) for d in dtypes}


# --- memory ----------------------------------------------------------------------------------


def _rss_bytes():
    """Current resident set size from ``/proc/self/statm``, or None off Linux."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _hwm_bytes():
    """The kernel's peak-RSS counter (``VmHWM``), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_hwm():
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _malloc_trim():
    """Hand freed heap memory back to the system (glibc), so the baseline RSS is honest."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_extra_rss(fn, interval=0.0005, timed=False):
    """Run ``fn()``; return ``(result, extra_bytes)``, the peak RSS above the level before.

    The peak is the larger of the kernel's ``VmHWM`` (reset just before the call) and what a
    background thread sampling ``/proc/self/statm`` every ``interval`` seconds saw. The result
    of ``fn`` counts while the call runs (it is part of what the call allocates).
    ``extra_bytes`` is None off Linux. With ``timed``, ``(result, extra_bytes, seconds)``:
    the wall time of ``fn()`` alone (the sampler runs alongside, so a little slower).
    """
    gc.collect()
    _malloc_trim()
    before = _rss_bytes()
    if before is None:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        return (result, None, seconds) if timed else (result, None)
    hwm = _reset_hwm()
    before = _rss_bytes()
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.wait(interval):
            now = _rss_bytes()
            if now is not None and now > peak[0]:
                peak[0] = now

    sampler = threading.Thread(target=sample, name="peak_extra_rss", daemon=True)
    sampler.start()
    try:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    finally:
        stop.set()
        sampler.join()
    candidates = [peak[0], _rss_bytes() or 0]
    if hwm:
        candidates.append(_hwm_bytes() or 0)
    extra = max(0, max(candidates) - before)
    return (result, extra, seconds) if timed else (result, extra)


# --- machine information ---------------------------------------------------------------------


def blas_info():
    """threadpoolctl's records of the loaded BLAS libraries (importing numpy loads its own)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {k: lib.get(k) for k in ("internal_api", "version", "threading_layer", "architecture",
                                 "num_threads", "prefix", "filepath")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]


def blas_vendor():
    """numpy's BLAS as one string, e.g. ``"openblas 0.3.29 (pthreads, Haswell)"``."""
    libs = blas_info()
    if not libs:
        return "unknown"
    # numpy's own BLAS lives under numpy's tree (numpy.libs, scipy_openblas); prefer it over
    # libraries loaded by torch or scipy.
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    ours = [lib for lib in libs if "numpy" in (lib.get("filepath") or "")]
    ours = ours or [lib for lib in libs if (lib.get("filepath") or "").startswith(numpy_dir)]
    lib = (ours or libs)[0]
    details = ", ".join(str(d) for d in (lib.get("threading_layer"), lib.get("architecture")) if d)
    text = f"{lib.get('internal_api')} {lib.get('version') or ''}".strip()
    return f"{text} ({details})" if details else text


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _physical_cores():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return None
    cores = set()
    for block in text.strip().split("\n\n"):
        pairs = (line.partition(":") for line in block.splitlines())
        fields = {k.strip(): v.strip() for k, _, v in pairs}
        if "core id" in fields:
            cores.add((fields.get("physical id"), fields["core id"]))
    return len(cores) or None


def _version(dist):
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info(n_threads=None):
    """CPU, cores, thread settings, BLAS and versions: what a benchmark result depends on."""
    from .. import __version__

    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        from .._threads import openmp_enabled

        openmp = bool(openmp_enabled())
    except Exception:  # keep machine_info usable from a broken build; the bench fails anyway
        openmp = None
    env_keys = (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
        "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
    )
    return {
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": _physical_cores(),
        "usable_cpus": usable,
        "n_threads": n_threads,
        # Other work on the machine skews timings badly (OpenMP teams wait for descheduled
        # threads); a load average near the core count before a run marks it as noisy.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "openmp": openmp,
        "blas": blas_vendor(),
        "blas_libraries": blas_info(),
        "env": {k: os.environ[k] for k in env_keys if k in os.environ},
        "versions": {
            "python": platform.python_version(),
            "cs231n_fast": __version__,
            "numpy": np.__version__,
            "threadpoolctl": _version("threadpoolctl"),
            "torch": _version("torch"),
            "scipy": _version("scipy"),
            "scikit-learn": _version("scikit-learn"),
            "faiss-cpu": _version("faiss-cpu"),
        },
    }
