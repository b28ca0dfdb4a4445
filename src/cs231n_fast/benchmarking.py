"""Benchmark cases, runners and timing, shared by ``benchmarks/`` and ``cs231n-fast bench``.

This module is the one place where benchmark shapes are defined: the pytest-benchmark suite
(``pytest benchmarks --benchmark-only``) parametrises over :data:`CASES`, and the command line
(``cs231n-fast bench``) times the same cases with :func:`run` and prints :func:`format_table`.

Every case is timed as one forward followed by one backward call with a fixed ``dout``, for
three implementations at the same thread count:

``fast``
    :mod:`cs231n_fast.ops` (the Cython+OpenMP kernels).
``reference``
    :mod:`cs231n_fast.reference` (the pure-NumPy twin; slow, the oracle).
``torch``
    ``torch.nn.functional.conv2d`` / ``max_pool2d`` with autograd, when torch is importable.
    torch is a benchmark peer only, never a dependency of the package: it is imported lazily,
    and a missing torch skips that column.

Inputs are built outside the timed call from a seeded generator, with values exactly
representable in float32, so the float32 and float64 runs of a case see the same numbers and
one float64 reference result checks both. Before timing, each implementation's outputs are
compared once with that reference result (tolerance relative to ``max|reference|``, per dtype:
see :data:`RTOL`).

Throughput: for convolution the nominal FLOP count of the direct algorithm (forward
``2·N·F·OH·OW·C·KH·KW``, backward twice that); for pooling the nominal bytes moved (forward
reads ``x`` and writes ``out``, backward reads ``dout`` and writes ``dx``; index caches are not
counted). Neither depends on how an implementation computes the result.

This module imports no compiled code and no torch at import time.
"""

import gc
import math
import os
import platform
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

__all__ = [
    "IMPLS",
    "KERNELS",
    "DTYPES",
    "RTOL",
    "ConvCase",
    "PoolCase",
    "CONV_CASES",
    "POOL_CASES",
    "CASES",
    "get_cases",
    "make_inputs",
    "make_runner",
    "reference_result",
    "check_result",
    "torch_available",
    "thread_limits",
    "Timer",
    "quick_timers",
    "full_timers",
    "blas_info",
    "blas_vendor",
    "machine_info",
    "summarize",
    "run",
    "failures",
    "format_table",
]

#: Implementations, in table order.
IMPLS = ("fast", "reference", "torch")
#: Kernel families with benchmark cases.
KERNELS = ("conv", "pool")
#: Dtypes benchmarked.
DTYPES = ("float32", "float64")
#: Relative tolerance per dtype; the absolute tolerance is ``rtol * max|reference|``.
RTOL = {"float32": 2e-4, "float64": 1e-9}


# --- the case table --------------------------------------------------------------------------


def _k(kh, kw):
    return f"{kh}" if kh == kw else f"{kh}x{kw}"


@dataclass(frozen=True)
class ConvCase:
    """One convolution benchmark: x (n, c, h, w) · w (f, c, kh, kw), stride, zero padding."""

    n: int
    c: int
    h: int
    w: int
    f: int
    kh: int
    kw: int
    stride: int
    pad: int
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "conv"

    @property
    def id(self):
        return (
            f"conv-{self.n}x{self.c}x{self.h}x{self.w}-"
            f"f{self.f}k{_k(self.kh, self.kw)}s{self.stride}p{self.pad}"
        )

    @property
    def out_hw(self):
        return (
            (self.h + 2 * self.pad - self.kh) // self.stride + 1,
            (self.w + 2 * self.pad - self.kw) // self.stride + 1,
        )

    @property
    def out_shape(self):
        return (self.n, self.f) + self.out_hw

    def flops(self):
        """Nominal FLOPs of forward + backward (backward counted as twice the forward)."""
        oh, ow = self.out_hw
        forward = 2 * self.n * self.f * oh * ow * self.c * self.kh * self.kw
        return 3 * forward

    def work(self, dtype):
        return {"flops": self.flops()}


@dataclass(frozen=True)
class PoolCase:
    """One max-pool benchmark: x (n, c, h, w), window kh × kw, stride, no padding."""

    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    stride: int
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "pool"

    @property
    def id(self):
        return f"pool-{self.n}x{self.c}x{self.h}x{self.w}-k{_k(self.kh, self.kw)}s{self.stride}"

    @property
    def out_hw(self):
        return (
            (self.h - self.kh) // self.stride + 1,
            (self.w - self.kw) // self.stride + 1,
        )

    @property
    def out_shape(self):
        return (self.n, self.c) + self.out_hw

    def bytes_moved(self, dtype):
        """Nominal bytes of forward + backward: x and out, each read or written twice."""
        x_size = self.n * self.c * self.h * self.w
        out_size = math.prod(self.out_shape)
        return 2 * np.dtype(dtype).itemsize * (x_size + out_size)

    def work(self, dtype):
        return {"bytes": self.bytes_moved(dtype)}


CONV_CASES = (
    ConvCase(64, 3, 32, 32, f=32, kh=3, kw=3, stride=1, pad=1, quick=True),
    ConvCase(64, 32, 16, 16, f=64, kh=3, kw=3, stride=1, pad=1),
    ConvCase(100, 3, 31, 31, f=25, kh=3, kw=3, stride=2, pad=1, quick=True),
)
POOL_CASES = (
    PoolCase(64, 32, 32, 32, kh=2, kw=2, stride=2),
    PoolCase(100, 3, 32, 32, kh=2, kw=2, stride=2, quick=True),
    PoolCase(64, 32, 32, 32, kh=3, kw=3, stride=2, quick=True),  # overlapping windows
)
#: Every case, by kernel family.
CASES = {"conv": CONV_CASES, "pool": POOL_CASES}


def get_cases(kernels=KERNELS, quick=False):
    """The cases of ``kernels`` (all of them, or the quick subset), in table order."""
    out = []
    for kernel in kernels:
        if kernel not in CASES:
            raise ValueError(f"kernels must be among {tuple(CASES)}; got {kernel!r}")
        out.extend(c for c in CASES[kernel] if c.quick or not quick)
    return out


# --- inputs ----------------------------------------------------------------------------------


def make_inputs(case, dtype, seed=0):
    """Arrays for one forward + backward call of ``case``, C-contiguous, of ``dtype``.

    Conv: ``x, w, b, dout``; pool: ``x, dout``. Values are float32-representable, so the same
    ``seed`` gives the same numbers in every dtype. Pool inputs are distinct (no ties), so
    every implementation routes the gradient to the same element.
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype)

    if case.kernel == "conv":
        return {
            "x": normal(case.n, case.c, case.h, case.w),
            "w": normal(case.f, case.c, case.kh, case.kw),
            "b": normal(case.f),
            "dout": normal(*case.out_shape),
        }
    size = case.n * case.c * case.h * case.w
    assert size < 2**24, "pool inputs must be distinct float32 integers"
    # A permutation of distinct integers scaled by a power of two: exact and tie-free.
    x = (rng.permutation(size) - size // 2).astype(np.float32) * np.float32(2.0**-20)
    return {
        "x": x.reshape(case.n, case.c, case.h, case.w).astype(dtype),
        "dout": normal(*case.out_shape),
    }


# --- implementations -------------------------------------------------------------------------

_torch = None
_torch_error = None


def _import_torch():
    global _torch, _torch_error
    if _torch is None and _torch_error is None:
        try:
            import torch
        except Exception as exc:  # ImportError, or a broken install raising something else
            _torch_error = f"torch is not importable ({type(exc).__name__}: {exc})"
        else:
            _torch = torch
    return _torch


def torch_available():
    """True when torch can be imported (imports it on first call)."""
    return _import_torch() is not None


def _numpy_impl(module, case, inputs, n_threads):
    if case.kernel == "conv":
        x, w, b, dout = inputs["x"], inputs["w"], inputs["b"], inputs["dout"]
        stride, pad = case.stride, case.pad
        forward, backward = module.conv_forward, module.conv_backward

        def call():
            out, cache = forward(x, w, b, stride, pad, n_threads=n_threads)
            dx, dw, db = backward(dout, cache, n_threads=n_threads)
            return out, dx, dw, db

        return call

    x, dout = inputs["x"], inputs["dout"]
    kh, kw, stride = case.kh, case.kw, case.stride
    forward, backward = module.maxpool_forward, module.maxpool_backward

    def call():
        out, cache = forward(x, kh, kw, stride, n_threads=n_threads)
        dx = backward(dout, cache, n_threads=n_threads)
        return out, dx

    return call


def _torch_impl(case, inputs):
    torch = _import_torch()
    if torch is None:
        raise RuntimeError(_torch_error)
    functional = torch.nn.functional
    # Tensors share memory with the inputs; built once, outside the timed call.
    dout = torch.from_numpy(inputs["dout"])
    x = torch.from_numpy(inputs["x"]).requires_grad_(True)
    if case.kernel == "conv":
        w = torch.from_numpy(inputs["w"]).requires_grad_(True)
        b = torch.from_numpy(inputs["b"]).requires_grad_(True)
        stride, pad = case.stride, case.pad

        def call():
            out = functional.conv2d(x, w, b, stride=stride, padding=pad)
            # autograd.grad returns fresh gradients (no accumulation into .grad across calls).
            dx, dw, db = torch.autograd.grad(out, (x, w, b), grad_outputs=dout)
            return out, dx, dw, db

        return call

    kernel_size, stride = (case.kh, case.kw), case.stride

    def call():
        out = functional.max_pool2d(x, kernel_size, stride=stride)
        (dx,) = torch.autograd.grad(out, (x,), grad_outputs=dout)
        return out, dx

    return call


def make_runner(case, impl, inputs, n_threads):
    """A zero-argument callable running forward then backward of ``case`` with ``impl``.

    It returns the outputs ``(out, dx, dw, db)`` (conv) or ``(out, dx)`` (pool) as arrays or,
    for torch, tensors (see :func:`check_result`). ``n_threads`` is passed to ``fast`` and
    ``reference``; torch's and BLAS's thread counts are set by :func:`thread_limits`.
    """
    if impl == "fast":
        from . import ops

        return _numpy_impl(ops, case, inputs, n_threads)
    if impl == "reference":
        from . import reference

        return _numpy_impl(reference, case, inputs, n_threads)
    if impl == "torch":
        return _torch_impl(case, inputs)
    raise ValueError(f"impl must be one of {IMPLS}; got {impl!r}")


@contextmanager
def thread_limits(n_threads, torch=False):
    """Hold BLAS (and torch, when ``torch``) to ``n_threads`` for the duration.

    The kernels get ``n_threads`` as an argument; the NumPy twin's BLAS calls and torch's
    intra-op pool are limited here so every implementation runs on the same thread count.
    The previous settings are restored on exit.
    """
    from threadpoolctl import threadpool_limits

    torch_mod = _import_torch() if torch else None  # load its libraries before limiting
    previous = torch_mod.get_num_threads() if torch_mod is not None else None
    try:
        if torch_mod is not None:
            torch_mod.set_num_threads(n_threads)
        with threadpool_limits(limits=n_threads, user_api="blas"):
            yield
    finally:
        if previous is not None:
            torch_mod.set_num_threads(previous)


# --- correctness -----------------------------------------------------------------------------


def _as_numpy(a):
    if hasattr(a, "detach"):  # a torch tensor
        return a.detach().cpu().numpy()
    return np.asarray(a)


def reference_result(case, inputs):
    """The oracle: the NumPy twin in float64 on the float64 cast of ``inputs``."""
    from . import reference

    inputs64 = {k: np.asarray(a, dtype=np.float64) for k, a in inputs.items()}
    outputs = _numpy_impl(reference, case, inputs64, 1)()
    return tuple(np.asarray(o, dtype=np.float64) for o in outputs)


def output_names(case):
    return ("out", "dx", "dw", "db") if case.kernel == "conv" else ("out", "dx")


def check_result(case, outputs, expected, dtype):
    """Compare one run's outputs with :func:`reference_result`.

    Returns ``(ok, max_rel_err, message)``: ``max_rel_err`` is the largest
    ``max|got - expected| / max|expected|`` over the outputs, ``ok`` whether each is within
    ``RTOL[dtype]`` and has the expected shape and dtype.
    """
    dtype = np.dtype(dtype)
    rtol = RTOL[dtype.name]
    worst, problems = 0.0, []
    for name, got, exp in zip(output_names(case), outputs, expected):
        got = _as_numpy(got)
        if got.shape != exp.shape:
            problems.append(f"{name}: shape {got.shape}, expected {exp.shape}")
            continue
        if got.dtype != dtype:
            problems.append(f"{name}: dtype {got.dtype}, expected {dtype}")
        scale = float(np.max(np.abs(exp))) or 1.0
        err = float(np.max(np.abs(got.astype(np.float64) - exp))) / scale
        if not math.isfinite(err):
            err = math.inf
        worst = max(worst, err)
        if err > rtol:
            problems.append(f"{name}: max error {err:.3g} × max|ref| > rtol {rtol:g}")
    return not problems, worst, "; ".join(problems)


# --- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timer:
    """Wall-clock timer: ``warmup`` untimed calls, then repeats timed with ``perf_counter``.

    With ``repeat`` set, exactly that many timed calls. Otherwise the first timed call sets the
    count: enough calls to fill ``budget`` seconds, clamped to ``[min_repeat, max_repeat]``.
    The garbage collector is paused while timing. Report the median (:func:`summarize`).
    """

    warmup: int = 1
    repeat: Optional[int] = None
    budget: float = 1.0
    min_repeat: int = 3
    max_repeat: int = 50

    def __call__(self, fn):
        """Seconds per timed call of ``fn``, as a list."""
        for _ in range(self.warmup):
            fn()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            times = []
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
            if self.repeat is not None:
                n = self.repeat
            else:
                n = math.ceil(self.budget / max(times[0], 1e-9))
                n = min(max(n, self.min_repeat), self.max_repeat)
            for _ in range(n - 1):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        finally:
            if gc_was_enabled:
                gc.enable()
        return times


def summarize(times):
    """Median, min and mean (ms) and the count of a list of seconds."""
    return {
        "median_ms": 1e3 * statistics.median(times),
        "min_ms": 1e3 * min(times),
        "mean_ms": 1e3 * statistics.fmean(times),
        "repeats": len(times),
    }


def quick_timers(repeat=None):
    """Per-implementation timers for the quick run (well under a minute in all)."""
    if repeat is not None:
        return {impl: Timer(warmup=0, repeat=repeat) for impl in IMPLS}
    peer = Timer(warmup=2, budget=0.4, min_repeat=3, max_repeat=50)
    # The correctness call has already warmed the reference up; it is slow, time it little.
    return {"fast": peer, "torch": peer, "reference": Timer(warmup=0, budget=0.3, min_repeat=1)}


def full_timers(repeat=None):
    """Per-implementation timers for the full run."""
    if repeat is not None:
        return {impl: Timer(warmup=1, repeat=repeat) for impl in IMPLS}
    peer = Timer(warmup=2, budget=1.0, min_repeat=5, max_repeat=100)
    return {"fast": peer, "torch": peer, "reference": Timer(warmup=0, budget=1.5, min_repeat=3)}


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
        fields = dict(
            (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in block.splitlines())
        )
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
    from . import __version__

    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        from ._threads import openmp_enabled

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
        },
    }


# --- the run and its table -------------------------------------------------------------------


def _bench_impl(case, impl, inputs, expected, dtype, n_threads, timer):
    """Check ``impl`` once, then time it; the result entry for one implementation."""
    try:
        call = make_runner(case, impl, inputs, n_threads)
        ok, err, message = check_result(case, call(), expected, dtype)
    except Exception as exc:  # report it in the table and the exit code, keep going
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    err = err if math.isfinite(err) else None  # keep the JSON standard
    if not ok:
        return {"status": "mismatch", "reason": message, "max_rel_err": err}
    times = timer(call)
    return {"status": "ok", "max_rel_err": err, **summarize(times),
            "times_ms": [1e3 * t for t in times]}


def _rate(case, dtype, ms):
    if ms is None or ms <= 0:
        return None
    work = case.work(dtype)
    if "flops" in work:
        return {"unit": "GFLOP/s", "value": work["flops"] / (ms * 1e-3) / 1e9}
    return {"unit": "GB/s", "value": work["bytes"] / (ms * 1e-3) / 1e9}


def run(quick=True, dtypes=DTYPES, n_threads=None, impls=IMPLS, kernels=KERNELS,
        repeat=None, seed=0, progress=None):
    """Benchmark forward + backward of every selected case; one result dict per case × dtype.

    Parameters
    ----------
    quick : bool
        Only the quick subset, with short timing budgets (under a minute on 2 cores).
    dtypes : sequence of {"float32", "float64"}
    n_threads : int or None
        Thread count for every implementation; None resolves with
        :func:`cs231n_fast._threads.effective_n_threads`.
    impls : sequence of {"fast", "reference", "torch"}
        torch is reported as skipped when not importable.
    kernels : sequence of {"conv", "pool"}
    repeat : int or None
        Fixed count of timed calls per implementation (for smoke tests); None sizes the count
        from a time budget.
    seed : int
        Seed of the input generator.
    progress : callable or None
        Called with a short message before each case (e.g. ``print`` to stderr).

    Returns
    -------
    list of dict
        Keys: ``kernel, case, dtype, n_threads, params, work, impls`` (per implementation:
        ``status`` ``"ok"``, ``"skipped"``, ``"mismatch"`` or ``"error"``, timings in ms,
        ``max_rel_err``), ``speedup_vs_reference`` (reference ms / ours ms),
        ``ratio_vs_torch`` (ours ms / torch ms) and ``rate`` (ours, GFLOP/s or GB/s).
    """
    from ._threads import effective_n_threads

    dtypes = tuple(np.dtype(d).name for d in dtypes)
    for d in dtypes:
        if d not in RTOL:
            raise ValueError(f"dtypes must be among {tuple(RTOL)}; got {d!r}")
    for impl in impls:
        if impl not in IMPLS:
            raise ValueError(f"impls must be among {IMPLS}; got {impl!r}")
    cases = get_cases(kernels, quick)
    n_threads = effective_n_threads(n_threads)
    timers = (quick_timers if quick else full_timers)(repeat)
    want_torch = "torch" in impls and torch_available()

    results = []
    with thread_limits(n_threads, torch=want_torch):
        for case in cases:
            expected = None
            for dtype in dtypes:
                if progress is not None:
                    progress(f"{case.id} {dtype}")
                inputs = make_inputs(case, dtype, seed)
                if expected is None:  # float32-representable inputs: one oracle for all dtypes
                    expected = reference_result(case, inputs)
                entries = {}
                for impl in impls:
                    if impl == "torch" and not want_torch:
                        entries[impl] = {"status": "skipped", "reason": _torch_error}
                        continue
                    entries[impl] = _bench_impl(
                        case, impl, inputs, expected, dtype, n_threads, timers[impl]
                    )
                results.append(_result(case, dtype, n_threads, entries))
    return results


def _result(case, dtype, n_threads, entries):
    def ms(impl):
        e = entries.get(impl)
        return e["median_ms"] if e and e.get("status") == "ok" else None

    ours, ref, torch = ms("fast"), ms("reference"), ms("torch")
    for impl, e in entries.items():
        if e.get("status") == "ok":
            e["rate"] = _rate(case, dtype, e["median_ms"])
    return {
        "kernel": case.kernel,
        "case": case.id,
        "dtype": dtype,
        "n_threads": n_threads,
        "quick": case.quick,
        "params": asdict(case),
        "work": case.work(dtype),
        "impls": entries,
        "speedup_vs_reference": ref / ours if ours and ref else None,
        "ratio_vs_torch": ours / torch if ours and torch else None,
        "rate": _rate(case, dtype, ours),
    }


def failures(results):
    """``(case, dtype, impl, status, reason)`` for every implementation that failed."""
    return [
        (r["case"], r["dtype"], impl, e["status"], e.get("reason", ""))
        for r in results
        for impl, e in r["impls"].items()
        if e["status"] in ("mismatch", "error")
    ]


def format_table(results):
    """The results as a fixed-width text table, one row per kernel × case × dtype."""
    header = ("kernel", "case", "dtype", "ours ms", "ref ms", "torch ms",
              "vs ref", "ours/torch", "ours rate")

    def cell_ms(r, impl):
        e = r["impls"].get(impl)
        if e is None:
            return "-"
        if e["status"] == "ok":
            return f"{e['median_ms']:.2f}"
        return {"skipped": "n/a", "mismatch": "WRONG", "error": "ERROR"}[e["status"]]

    rows = []
    for r in results:
        speedup, ratio, rate = r["speedup_vs_reference"], r["ratio_vs_torch"], r["rate"]
        rows.append((
            r["kernel"], r["case"], r["dtype"],
            cell_ms(r, "fast"), cell_ms(r, "reference"), cell_ms(r, "torch"),
            f"{speedup:.1f}x" if speedup else "-",
            f"{ratio:.2f}" if ratio else "-",
            f"{rate['value']:.1f} {rate['unit']}" if rate else "-",
        ))
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    left = 3  # kernel, case, dtype left-aligned; numbers right-aligned

    def line(row):
        return "  ".join(
            str(v).ljust(wd) if i < left else str(v).rjust(wd)
            for i, (v, wd) in enumerate(zip(row, widths))
        ).rstrip()

    out = [line(header), line(["-" * wd for wd in widths])]
    out += [line(row) for row in rows]
    threads = sorted({r["n_threads"] for r in results})
    out.append("")
    out.append(
        f"threads: {', '.join(map(str, threads)) or '-'}; median of repeats, forward + backward; "
        "vs ref = reference ms / ours ms; ours/torch < 1: ours faster"
    )
    for case, dtype, impl, status, reason in failures(results):
        out.append(f"{status.upper()}: {impl} on {case} {dtype}: {reason}")
    return "\n".join(out)

