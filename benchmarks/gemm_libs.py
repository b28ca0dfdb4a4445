"""Single-thread GEMM throughput of the candidate BLAS libraries at the conv paths' shapes.

Row-major C(m, n) = A(m, k) B(k, n) through each library's cblas_?gemm via ctypes (CPU time,
best of interleaved rounds). Libraries: numpy's bundled OpenBLAS (ILP64), scipy-openblas32,
MKL (mkl wheel, sequential layer), BLIS (blis wheel, its numpy gemm, one thread).
Usage: LD_LIBRARY_PATH=/tmp/mkllib python benchmarks/gemm_libs.py  (paths below are where the wheels were unpacked)
"""
import os

os.environ.setdefault("MKL_THREADING_LAYER", "SEQUENTIAL")
os.environ.setdefault("BLIS_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import ctypes  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

libs = {}
np_lib = [f for f in os.listdir(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs")) if "openblas" in f][0]
libs["openblas64 (numpy)"] = (ctypes.CDLL(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", np_lib)), "scipy_cblas_{}gemm64_", ctypes.c_int64)
try:
    libs["scipy-openblas32"] = (ctypes.CDLL("/tmp/gemmlibs/scipy_openblas32/lib/libscipy_openblas.so"), "scipy_cblas_{}gemm", ctypes.c_int)
except OSError as e:
    print(e)
try:
    libs["mkl"] = (ctypes.CDLL("/tmp/mkllib/libmkl_rt.so.3"), "cblas_{}gemm", ctypes.c_int)
except OSError as e:
    print(e)
sys.path.insert(0, "/tmp/gemmlibs")
try:
    import blis.py as blis_py
except ImportError:
    blis_py = None

SHAPES = [(64, 64, 256), (128, 128, 128), (128, 64, 128), (64, 32, 128), (64, 256, 64), (64, 576, 1024),
          (32, 147, 1024), (128, 1152, 256), (576, 64, 1024)]


def call(lib, name, it, a, b, c):
    m, k = a.shape
    n = b.shape[1]
    f = getattr(lib, name.format("s" if a.dtype == np.float32 else "d"))
    ct = ctypes.c_float if a.dtype == np.float32 else ctypes.c_double
    p = lambda x: x.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    args = (it(101), it(111), it(111), it(m), it(n), it(k), ct(1), p(a), it(k), p(b), it(n), ct(0), p(c), it(n))
    return lambda: f(*args)


def best(fn, reps=20):
    fn()
    t = []
    for _ in range(5):
        s = time.process_time()
        for _ in range(reps):
            fn()
        t.append((time.process_time() - s) / reps)
    return min(t)


for dt in (np.float32, np.float64):
    for m, k, n in SHAPES:
        a = np.random.rand(m, k).astype(dt); b = np.random.rand(k, n).astype(dt); c = np.empty((m, n), dt)
        fns = {name: call(lib, nm, it, a, b, c) for name, (lib, nm, it) in libs.items()}
        if blis_py is not None:
            fns["blis"] = lambda: blis_py.gemm(a, b, out=c)
        res = {name: 1e9 for name in fns}
        for _ in range(2):
            for name, fn in fns.items():
                res[name] = min(res[name], best(fn))
        print(np.dtype(dt).name, (m, k, n), "  ".join(f"{nm}: {2*m*k*n/t/1e9:5.1f}" for nm, t in res.items()), "GF/s", flush=True)
