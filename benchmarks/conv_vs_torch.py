"""Conv forward+backward (dx, dw, db) of issue 14's six shapes: ours vs torch conv2d+autograd.

Interleaved settled rounds at 2 threads; prints median ratio per shape and dtype.
Usage: PYTHONPATH=src python benchmarks/conv_vs_torch.py [rounds] [shape indices, e.g. 0,2]
CONV_BENCH_CPU=1: one thread each and CPU time (process_time) instead of wall time, a proxy
that a machine shared with other jobs disturbs much less.
"""
import os
import sys
import time

import numpy as np
import torch

from cs231n_fast import ops

SHAPES = [(50, 3, 32, 32, 32, 7), (64, 3, 64, 32, 32, 3), (64, 64, 64, 32, 32, 3),
          (64, 64, 128, 16, 16, 3), (64, 128, 128, 16, 16, 3), (64, 32, 64, 16, 16, 3)]
CPU = os.environ.get("CONV_BENCH_CPU") == "1"
NT = 1 if CPU else 2
CLOCK = time.process_time if CPU else time.perf_counter
torch.set_num_threads(NT)


def ours(x, w, b, dout, pad):
    out, cache = ops.conv_forward(x, w, b, 1, pad, n_threads=NT)
    return ops.conv_backward(dout, cache, n_threads=NT)


def theirs(xt, wt, bt, doutt, pad):
    xt.grad = wt.grad = bt.grad = None
    y = torch.nn.functional.conv2d(xt, wt, bt, 1, pad)
    y.backward(doutt)


def timed(fn, budget):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.25:  # settle
        fn()
    ts = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < budget or len(ts) < 3:
        s = CLOCK()
        fn()
        ts.append(CLOCK() - s)
    return min(ts)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    idx = [int(i) for i in sys.argv[2].split(",")] if len(sys.argv) > 2 else range(len(SHAPES))
    rng = np.random.default_rng(0)
    for i in idx:
        n, c, f, h, wd, k = SHAPES[i]
        pad = k // 2
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal((n, c, h, wd)).astype(dtype)
            w = (rng.standard_normal((f, c, k, k)) / np.sqrt(c * k * k)).astype(dtype)
            b = rng.standard_normal(f).astype(dtype)
            dout = rng.standard_normal((n, f, h, wd)).astype(dtype)
            xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
            doutt = torch.tensor(dout)
            theirs(xt, wt, bt, doutt, pad)
            dx, dw, db = ours(x, w, b, dout, pad)
            err = max(np.abs(dx - xt.grad.numpy()).max() / np.abs(xt.grad.numpy()).max(),
                      np.abs(dw - wt.grad.numpy()).max() / np.abs(wt.grad.numpy()).max())
            ratios, to, tt = [], [], []
            for _ in range(rounds):
                a = timed(lambda: ours(x, w, b, dout, pad), 0.4)
                t = timed(lambda: theirs(xt, wt, bt, doutt, pad), 0.4)
                ratios.append(a / t); to.append(a); tt.append(t)
            print(f"N={n} {c}->{f} {h}x{wd} {k}x{k} {np.dtype(dtype).name}: ours {np.median(to)*1e3:7.2f} ms "
                  f"torch {np.median(tt)*1e3:7.2f} ms ratio med {np.median(ratios):.2f} "
                  f"[{min(ratios):.2f}-{max(ratios):.2f}] relerr {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
