"""Is the LSTM sequence bound by its products? GFLOP/s of ours and torch.nn.LSTM against a
large SGEMM on the same threads.

The T=16 sequence (N=64, D=256, H=512) forward + backward is 9.66 GFLOP of products (x Wx,
16 h Wh, 16 da Wh^T, dWx, dWh, dx). Prints the best of 12 interleaved rounds of ours, torch
(input and h0 requiring grad) and a 2048^3 SGEMM by NumPy's OpenBLAS and by torch.
Usage: python benchmarks/lstm_gemm_peak.py [threads]   (needs torch)
"""
import sys
import time

import numpy as np
import torch

from cs231n_fast.ops import rnn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
N, T, D, H = 64, 16, 256, 512
rng = np.random.default_rng(0)
x = rng.standard_normal((N, T, D)).astype(np.float32)
h0 = rng.standard_normal((N, H)).astype(np.float32)
Wx = (rng.standard_normal((D, 4 * H)) * 0.05).astype(np.float32)
Wh = (rng.standard_normal((H, 4 * H)) * 0.05).astype(np.float32)
b = np.zeros(4 * H, np.float32)
dh = rng.standard_normal((N, T, H)).astype(np.float32)
lstm = torch.nn.LSTM(D, H, batch_first=True)
xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
c0t, dht = torch.zeros(1, N, H), torch.tensor(dh)
A = rng.standard_normal((2048, 2048)).astype(np.float32)
B = rng.standard_normal((2048, 2048)).astype(np.float32)
At, Bt = torch.tensor(A), torch.tensor(B)


def ours():
    _, cache = rnn.lstm_forward(x, h0, Wx, Wh, b, n_threads=threads)
    rnn.lstm_backward(dh, cache, n_threads=threads)


def peer():
    lstm.zero_grad()
    xt.grad = h0t.grad = None
    out, _ = lstm(xt, (h0t, c0t))
    out.backward(dht)


calls = {"ours": ours, "torch nn.LSTM": peer, "numpy sgemm 2048^3": lambda: A @ B,
         "torch sgemm 2048^3": lambda: At @ Bt}
flops = {"ours": 9.66e9, "torch nn.LSTM": 9.66e9}
for f in calls.values():
    f()
best = dict.fromkeys(calls, float("inf"))
for _ in range(12):
    for name, f in calls.items():
        t0 = time.perf_counter()
        f()
        best[name] = min(best[name], time.perf_counter() - t0)
for name, s in best.items():
    gf = flops.get(name, 2 * 2048.0 ** 3) / s / 1e9
    print(f"{name:20s} {s * 1e3:8.2f} ms  {gf:6.1f} GFLOP/s")
print(f"ours / torch: {best['ours'] / best['torch nn.LSTM']:.3f}")
