"""Shared machinery of the benchmark families: names, tolerances, peers, thread limits.

Nothing here imports compiled code, torch or a kNN peer at import time.
"""

import math
from contextlib import ExitStack, contextmanager

import numpy as np

#: Implementations of the conv and pool cases, in table order.
IMPLS = ("fast", "reference", "torch")
#: Implementations of the LSTM cases, in table order (``six_matmuls``: the step's floor).
LSTM_IMPLS = ("fast", "reference", "six_matmuls", "torch")
#: Implementations of the kNN cases, in table order.
KNN_IMPLS = ("fast", "reference", "scipy", "sklearn", "faiss")
#: The kNN peers (libraries other than ours and the twin).
KNN_PEERS = ("scipy", "sklearn", "faiss")
#: Every implementation name any case knows (what ``--impls`` accepts).
ALL_IMPLS = ("fast", "reference", "six_matmuls", "torch", "scipy", "sklearn", "faiss")
#: Implementations timed one after the other with a :class:`Timer` (every non-kNN case).
TIMED_IMPLS = ("fast", "reference", "six_matmuls", "torch")
#: Implementations of the layer cases (``reference``: the NumPy twin, where one exists with
#: the course function's signature) and of the training-step cases.
LAYER_IMPLS = ("fast", "reference", "torch")
MODEL_IMPLS = ("fast", "torch")
#: Kernel families with benchmark cases (what ``--kernels`` accepts).
KERNELS = ("conv", "pool", "knn", "lstm", "layers", "models", "features", "detection",
           "attention")
#: The families a run takes by default: ``layers`` and ``models`` are opt-in (a quick run of
#: them takes a few minutes; the default quick run stays under a minute on 2 cores), and so are
#: ``features`` (the course's per-image loop takes about a second per call), ``detection``
#: (box IoU and NMS, beyond the course) and ``attention``.
DEFAULT_KERNELS = ("conv", "pool", "knn", "lstm")
#: Dtypes benchmarked.
DTYPES = ("float32", "float64")
#: Relative tolerance per dtype; the absolute tolerance is ``rtol * max|reference|``.
RTOL = {"float32": 2e-4, "float64": 1e-9}
#: ``predict`` passes its check when at least this fraction of labels equals the oracle's.
MIN_LABEL_AGREEMENT = 0.95


def _k(kh, kw):
    return f"{kh}" if kh == kw else f"{kh}x{kw}"



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


#: Modules each optional implementation needs; importing them also loads their BLAS and
#: OpenMP libraries, which must happen before :func:`thread_limits` limits them.
_PEER_MODULES = {
    "torch": ("torch",),
    "scipy": ("scipy.spatial.distance",),
    "sklearn": ("sklearn.metrics", "sklearn.neighbors"),
    "faiss": ("faiss",),
}
_peer_errors = {}


def _import_peer(impl):
    """The first module ``impl`` needs, imported, or None (the reason kept for the table)."""
    if impl == "torch":
        return _import_torch()
    if impl in _peer_errors:
        return None
    import importlib

    try:
        modules = [importlib.import_module(m) for m in _PEER_MODULES[impl]]
    except Exception as exc:  # ImportError, or a broken install raising something else
        _peer_errors[impl] = f"{impl} is not importable ({type(exc).__name__}: {exc})"
        return None
    return modules[0]


def impl_available(impl):
    """True when ``impl`` can run: ours, the twin and NumPy's floor always, a peer when
    importable."""
    if impl in ("fast", "reference", "six_matmuls"):
        return True
    if impl not in _PEER_MODULES:
        raise ValueError(f"impl must be one of {ALL_IMPLS}; got {impl!r}")
    return _import_peer(impl) is not None


def _unavailable_reason(impl):
    return _torch_error if impl == "torch" else _peer_errors.get(impl)


@contextmanager
def thread_limits(n_threads, torch=False, openmp=False, peers=()):
    """Hold BLAS (and torch, OpenMP, the kNN ``peers``) to ``n_threads`` for the duration.

    The kernels get ``n_threads`` as an argument; the NumPy twin's BLAS calls and torch's
    intra-op pool are limited here so every implementation runs on the same thread count.
    ``openmp`` also limits every loaded OpenMP runtime (scikit-learn's neighbour search, and
    ours where ``n_threads`` cannot be passed, as in ``KNearestNeighbor()``); ``peers`` (names
    among :data:`KNN_PEERS`) are imported first, so their libraries are loaded and limited
    too, and faiss gets ``faiss.omp_set_num_threads``. The previous settings are restored on
    exit.
    """
    from threadpoolctl import threadpool_limits

    torch_mod = _import_torch() if torch else None  # load its libraries before limiting
    previous = torch_mod.get_num_threads() if torch_mod is not None else None
    loaded = {p: _import_peer(p) for p in peers}
    faiss_mod = loaded.get("faiss")
    faiss_previous = faiss_mod.omp_get_max_threads() if faiss_mod is not None else None
    try:
        if torch_mod is not None:
            torch_mod.set_num_threads(n_threads)
        if faiss_mod is not None:
            faiss_mod.omp_set_num_threads(n_threads)
        with ExitStack() as stack:
            stack.enter_context(threadpool_limits(limits=n_threads, user_api="blas"))
            if openmp:
                stack.enter_context(threadpool_limits(limits=n_threads, user_api="openmp"))
            yield
    finally:
        if previous is not None:
            torch_mod.set_num_threads(previous)
        if faiss_previous is not None:
            faiss_mod.omp_set_num_threads(faiss_previous)



def _as_numpy(a):
    if hasattr(a, "detach"):  # a torch tensor
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _rel_err(got, exp):
    """``max|got - exp| / max|exp|`` in float64 (inf when not finite)."""
    scale = float(np.max(np.abs(exp))) or 1.0
    err = float(np.max(np.abs(got.astype(np.float64) - exp))) / scale
    return err if math.isfinite(err) else math.inf


def _finite(x):
    return x if x is not None and math.isfinite(x) else None


def _mb(nbytes):
    return None if nbytes is None else nbytes / 2**20


def _normal_maker(rng, dtype):
    """``normal(*shape, scale=1.0)``: float32 standard normals times ``scale`` (a power of two
    keeps them exact), cast to ``dtype``: the same numbers in every dtype for one seed."""
    dtype = np.dtype(dtype)

    def normal(*shape, scale=1.0):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(dtype)

    return normal


def _check_outputs(names, outputs, expected, dtype):
    """``(ok, max_rel_err, message)``: each of ``outputs`` (arrays or tensors) against the
    float64 ``expected`` of the same name: shape, ``dtype`` and error within ``RTOL``."""
    dtype = np.dtype(dtype)
    if len(outputs) != len(expected):
        return False, math.inf, f"{len(outputs)} outputs, expected {len(expected)}"
    rtol = RTOL[dtype.name]
    worst, problems = 0.0, []
    for name, got, exp in zip(names, outputs, expected):
        got = _as_numpy(got)
        if got.shape != exp.shape:
            problems.append(f"{name}: shape {got.shape}, expected {exp.shape}")
            continue
        if got.dtype != dtype:
            problems.append(f"{name}: dtype {got.dtype}, expected {dtype}")
        err = _rel_err(got, exp)
        worst = max(worst, err)
        if err > rtol:
            problems.append(f"{name}: max error {err:.3g} × max|ref| > rtol {rtol:g}")
    return not problems, worst, "; ".join(problems)


def _require_torch():
    torch = _import_torch()
    if torch is None:
        raise RuntimeError(_torch_error)
    return torch


def course_runner(numpy_runner, torch_runner, case, impl, inputs, n_threads):
    """The callable for ``impl`` of a conv or pool case: ``numpy_runner`` over ``ops`` ("fast")
    or the NumPy twin ("reference"), else ``torch_runner``."""
    if impl in ("fast", "reference"):
        from .. import ops, reference

        return numpy_runner(ops if impl == "fast" else reference, case, inputs, n_threads)
    return torch_runner(case, inputs)


def twin_oracle(numpy_runner, case, inputs):
    """The NumPy twin in float64 on the float64 cast of ``inputs``."""
    from .. import reference

    inputs64 = {k: np.asarray(a, dtype=np.float64) for k, a in inputs.items()}
    outputs = numpy_runner(reference, case, inputs64, 1)()
    return tuple(np.asarray(o, dtype=np.float64) for o in outputs)
