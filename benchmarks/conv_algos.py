"""Our conv algorithms against each other (min of interleaved runs), forward and backward apart.

Usage: PYTHONPATH=src python benchmarks/conv_algos.py [shape indices] [n_threads]
"""
import sys
import time

import numpy as np

from cs231n_fast import ops
from cs231n_fast.ops import conv as oc

SHAPES = [(50, 3, 32, 32, 32, 7), (64, 3, 64, 32, 32, 3), (64, 64, 64, 32, 32, 3),
          (64, 64, 128, 16, 16, 3), (64, 128, 128, 16, 16, 3), (64, 32, 64, 16, 16, 3)]


CLOCK = time.process_time


def best(fn, reps=5):
    fn()
    ts = []
    for _ in range(reps):
        s = CLOCK(); fn(); ts.append(CLOCK() - s)
    return min(ts)


idx = [int(i) for i in sys.argv[1].split(",")] if len(sys.argv) > 1 else range(2, 6)
nt = int(sys.argv[2]) if len(sys.argv) > 2 else 2
algos = sys.argv[3].split(",") if len(sys.argv) > 3 else ["gemm", "winograd"]
rng = np.random.default_rng(0)
for i in idx:
    n, c, f, h, w, k = SHAPES[i]
    for dt in (np.float32, np.float64):
        x = rng.standard_normal((n, c, h, w)).astype(dt)
        wt = rng.standard_normal((f, c, k, k)).astype(dt)
        b = rng.standard_normal(f).astype(dt)
        d = rng.standard_normal((n, f, h, w)).astype(dt)
        res = {a: [1e9, 1e9] for a in algos}
        for _ in range(3):
            for a in algos:
                oc._ALGO = a
                _, cache = ops.conv_forward(x, wt, b, 1, k // 2, n_threads=nt)
                tf = best(lambda: ops.conv_forward(x, wt, b, 1, k // 2, n_threads=nt))
                tb = best(lambda: ops.conv_backward(d, cache, n_threads=nt))
                res[a] = [min(res[a][0], tf), min(res[a][1], tb)]
        oc._ALGO = None
        print(SHAPES[i], np.dtype(dt).name, "  ".join(f"{a}: fwd {v[0]*1e3:6.2f} bwd {v[1]*1e3:6.2f}" for a, v in res.items()), flush=True)
