"""Transposed convolution forward and forward+backward (dx, dw, db): ours vs torch's
conv_transpose2d (+ autograd), on DCGAN generator shapes (4x4 kernels, stride 2, pad 1: each
layer doubles the image side) and one 3x3 stride-1 layer.

Interleaved settled rounds at 2 threads (1 with CONV_BENCH_CPU=1, timed by process_time, a
proxy less disturbed by other jobs on a shared machine); prints the median ratio ours/torch
per shape and dtype, and checks the results agree first.
Usage: PYTHONPATH=src python benchmarks/conv_transpose_vs_torch.py [rounds] [shape indices]
"""
import os
import sys
import time

import numpy as np
import torch

from cs231n_fast import ops

# (N, C_in, C_out, H, W, k, stride, pad): DCGAN (Radford et al. 2016) for 64x64 images at batch
# 64, its 32x32 variant at batch 128, the course's MNIST DCGAN generator (batch 128), 3x3 s1.
SHAPES = [
    (64, 512, 256, 4, 4, 4, 2, 1),
    (64, 256, 128, 8, 8, 4, 2, 1),
    (64, 128, 64, 16, 16, 4, 2, 1),
    (64, 64, 3, 32, 32, 4, 2, 1),
    (128, 128, 64, 7, 7, 4, 2, 1),
    (128, 64, 1, 14, 14, 4, 2, 1),
    (64, 64, 64, 16, 16, 3, 1, 1),
]
CPU = os.environ.get("CONV_BENCH_CPU") == "1"
NT = 1 if CPU else 2
CLOCK = time.process_time if CPU else time.perf_counter
torch.set_num_threads(NT)


def ours_fwd(x, w, b, s, p):
    return ops.conv_transpose_forward(x, w, b, s, p, n_threads=NT)[0]


def ours_both(x, w, b, dout, s, p):
    out, cache = ops.conv_transpose_forward(x, w, b, s, p, n_threads=NT)
    return ops.conv_transpose_backward(dout, cache, n_threads=NT)


def torch_fwd(xt, wt, bt, s, p):
    with torch.no_grad():
        return torch.nn.functional.conv_transpose2d(xt, wt, bt, s, p)


def torch_both(xt, wt, bt, doutt, s, p):
    xt.grad = wt.grad = bt.grad = None
    torch.nn.functional.conv_transpose2d(xt, wt, bt, s, p).backward(doutt)


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


def _relerr(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    idx = [int(i) for i in sys.argv[2].split(",")] if len(sys.argv) > 2 else range(len(SHAPES))
    rng = np.random.default_rng(0)
    print(f"threads {NT}, clock {'process_time' if CPU else 'perf_counter'}")
    for i in idx:
        n, ci, co, h, wd, k, s, p = SHAPES[i]
        oh, ow = (h - 1) * s - 2 * p + k, (wd - 1) * s - 2 * p + k
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal((n, ci, h, wd)).astype(dtype)
            w = (rng.standard_normal((ci, co, k, k)) / np.sqrt(ci * k * k)).astype(dtype)
            b = rng.standard_normal(co).astype(dtype)
            dout = rng.standard_normal((n, co, oh, ow)).astype(dtype)
            xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
            doutt = torch.tensor(dout)
            torch_both(xt, wt, bt, doutt, s, p)
            err = max(_relerr(ours_fwd(x, w, b, s, p), torch_fwd(xt, wt, bt, s, p).numpy()),
                      *(_relerr(a, t.grad.numpy())
                        for a, t in zip(ours_both(x, w, b, dout, s, p), (xt, wt, bt))))
            assert err < (1e-4 if dtype == np.float32 else 1e-10), err
            for what, mine, theirs in (
                ("fwd", lambda: ours_fwd(x, w, b, s, p), lambda: torch_fwd(xt, wt, bt, s, p)),
                ("fwd+bwd", lambda: ours_both(x, w, b, dout, s, p),
                 lambda: torch_both(xt, wt, bt, doutt, s, p)),
            ):
                ratios, to, tt = [], [], []
                for _ in range(rounds):
                    a, t = timed(mine, 0.4), timed(theirs, 0.4)
                    ratios.append(a / t)
                    to.append(a)
                    tt.append(t)
                print(f"N={n} {ci}->{co} {h}x{wd}->{oh}x{ow} k{k} s{s} p{p} "
                      f"{np.dtype(dtype).name:7s} {what:7s}: ours {np.median(to) * 1e3:8.2f} ms "
                      f"torch {np.median(tt) * 1e3:8.2f} ms ratio med {np.median(ratios):.2f} "
                      f"[{min(ratios):.2f}-{max(ratios):.2f}] relerr {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
