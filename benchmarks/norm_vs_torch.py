"""Forward + backward of the normalisation layers through the course API against PyTorch.

    PYTHONPATH=src python benchmarks/norm_vs_torch.py [--dtype float32] [--rounds 7] [--api course|ops]

2 threads for both (torch.set_num_threads(2), n_threads=None with OMP_NUM_THREADS=2), inputs
built outside the timed calls, each implementation run ~0.25 s untimed before each timed round
(settling), rounds interleaved; prints the median over rounds of each one's per-round time (median
or --stat min of its calls) and the ratio ours / torch.
"""

import argparse
import os
import time

import sys

# --threads T (default 2): both sides on T threads (set before OpenMP starts).
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
os.environ["OMP_NUM_THREADS"] = str(THREADS)

import numpy as np
import torch
import torch.nn.functional as F

from cs231n_fast import layers as L
from cs231n_fast.ops import norm as N


def cases(dtype, api):
    rng = np.random.default_rng(0)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    out = {}

    def bn_case(shape, spatial):
        c = shape[1]
        x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
        g, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        if api == "course":
            param = {"mode": "train"}
            fwd = L.spatial_batchnorm_forward if spatial else L.batchnorm_forward
            bwd = L.spatial_batchnorm_backward if spatial else L.batchnorm_backward_alt

            def ours():
                o, cache = fwd(x, g, b, param)
                return bwd(dy, cache)
        else:
            fwd = N.spatial_batchnorm_forward if spatial else N.batchnorm_forward
            bwd = N.spatial_batchnorm_backward if spatial else N.batchnorm_backward

            def ours():
                o, rm, rv, cache = fwd(x, g, b)
                return bwd(dy, cache)

        tx = torch.from_numpy(x).requires_grad_()
        tg, tb = torch.from_numpy(g).requires_grad_(), torch.from_numpy(b).requires_grad_()
        trm, trv = torch.zeros(c, dtype=tdt), torch.ones(c, dtype=tdt)
        tdy = torch.from_numpy(dy)

        def theirs():
            o = F.batch_norm(tx, trm, trv, tg, tb, training=True, momentum=0.1, eps=1e-5)
            return torch.autograd.grad(o, (tx, tg, tb), tdy)

        return ours, theirs

    def ln_case(shape):
        d = shape[1]
        x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
        g, b = rng.standard_normal(d).astype(dtype), rng.standard_normal(d).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        if api == "course":
            param = {}

            def ours():
                o, cache = L.layernorm_forward(x, g, b, param)
                return L.layernorm_backward(dy, cache)
        else:

            def ours():
                o, cache = N.layernorm_forward(x, g, b)
                return N.layernorm_backward(dy, cache)

        tx = torch.from_numpy(x).requires_grad_()
        tg, tb = torch.from_numpy(g).requires_grad_(), torch.from_numpy(b).requires_grad_()
        tdy = torch.from_numpy(dy)

        def theirs():
            o = F.layer_norm(tx, (d,), tg, tb, eps=1e-5)
            return torch.autograd.grad(o, (tx, tg, tb), tdy)

        return ours, theirs

    out["spatial_batchnorm train (64, 64, 32, 32)"] = bn_case((64, 64, 32, 32), True)
    out["batchnorm train (100, 512) alt"] = bn_case((100, 512), False)
    out["layernorm (100, 512)"] = ln_case((100, 512))
    return out


MIN = False


def timeit(f, settle=0.25, min_time=0.2):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < settle:
        f()
    reps, best = 0, []
    t0 = time.perf_counter()
    while True:
        t1 = time.perf_counter()
        f()
        best.append(time.perf_counter() - t1)
        reps += 1
        if time.perf_counter() - t0 > min_time and reps >= 5:
            break
    return float(np.min(best)) if MIN else float(np.median(best))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--api", default="course", choices=["course", "ops"])
    ap.add_argument("--only", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stat", default="median", choices=["median", "min"],
                    help="per round: median or minimum of the timed calls (min resists a loaded machine)")
    a = ap.parse_args()
    global MIN
    MIN = a.stat == "min"
    torch.set_num_threads(THREADS)
    dtype = np.dtype(a.dtype).type
    for name, (ours, theirs) in cases(dtype, a.api).items():
        if a.only and a.only not in name:
            continue
        ratios, to, tt = [], [], []
        for _ in range(a.rounds):
            o = timeit(ours)
            t = timeit(theirs)
            to.append(o)
            tt.append(t)
            ratios.append(o / t)
        print(f"{name:45s} ours {np.median(to) * 1e6:9.1f} us  torch {np.median(tt) * 1e6:9.1f} us  "
              f"ratio median {np.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
