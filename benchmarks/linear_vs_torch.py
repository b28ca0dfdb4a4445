"""Affine layer, temporal affine + softmax loss and FullyConnectedNet training step against
PyTorch (2 threads, interleaved settled rounds). Usage:

    PYTHONPATH=src python benchmarks/linear_vs_torch.py [affine] [temporal] [fcnet] [f32|f64] [rounds=5] [cpu]

Prints the best time per call of ours and torch's and their ratio, per round and overall
(rounds interleaved, each implementation run ~0.25 s untimed before it is timed). ``cpu``: one
thread for both and the calling thread's CPU time (``time.thread_time``) instead of wall time,
a measure that holds on a machine shared with other jobs.
"""

import os
import sys
import time

CPU = "cpu" in sys.argv
if CPU:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np
import torch

import cs231n_fast  # noqa: F401
from cs231n_fast import layers, rnn_layers
from cs231n_fast.classifiers.fc_net import FullyConnectedNet
from cs231n_fast.optim import adam

torch.set_num_threads(1 if CPU else 2)
CLOCK = time.thread_time if CPU else time.perf_counter


def timeit(fn, settle=0.25, budget=0.5):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < settle:
        fn()
    times = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < budget or len(times) < 5:
        s = CLOCK()
        fn()
        times.append(CLOCK() - s)
    return float(np.min(times))


def compare(name, ours, theirs, rounds):
    ratios = []
    for r in range(rounds):
        a = timeit(ours)
        b = timeit(theirs)
        ratios.append(a / b)
        print(f"  {name} round {r}: ours {a * 1e3:.3f} ms, torch {b * 1e3:.3f} ms, ratio {a / b:.2f}")
    print(f"{name}: median ratio {np.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
    sys.stdout.flush()


def affine(dtype, rounds):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 3072)).astype(dtype)
    w = (rng.standard_normal((3072, 512)) * 0.01).astype(dtype)
    b = rng.standard_normal(512).astype(dtype)
    dout = rng.standard_normal((100, 512)).astype(dtype)

    def ours():
        out, cache = layers.affine_forward(x, w, b)
        return layers.affine_backward(dout, cache)

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w.T.copy(), requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    td = torch.tensor(dout)

    def theirs():
        tx.grad = tw.grad = tb.grad = None
        out = torch.nn.functional.linear(tx, tw, tb)
        out.backward(td)

    compare(f"affine (100,3072)x(3072,512) {np.dtype(dtype).name}", ours, theirs, rounds)


def temporal(dtype, rounds):
    rng = np.random.default_rng(0)
    N, T, D, V = 50, 16, 512, 1004
    x = rng.standard_normal((N, T, D)).astype(dtype)
    w = (rng.standard_normal((D, V)) * 0.01).astype(dtype)
    b = np.zeros(V, dtype)
    y = rng.integers(0, V, (N, T))
    mask = rng.random((N, T)) > 0.2

    def ours():
        out, cache = rnn_layers.temporal_affine_forward(x, w, b)
        loss, dout = rnn_layers.temporal_softmax_loss(out, y, mask)
        return rnn_layers.temporal_affine_backward(dout, cache)

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w.T.copy(), requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    ty = torch.tensor(y.reshape(-1))
    tm = torch.tensor(mask.reshape(-1))

    def theirs():
        tx.grad = tw.grad = tb.grad = None
        out = torch.nn.functional.linear(tx, tw, tb).reshape(N * T, V)
        loss = (torch.nn.functional.cross_entropy(out, ty, reduction="none") * tm).sum() / N
        loss.backward()

    compare(f"temporal_affine+softmax (50,16,512)x(512,1004) {np.dtype(dtype).name}", ours, theirs, rounds)


def fcnet(dtype, rounds):
    rng = np.random.default_rng(0)
    N, D, C, hidden = 100, 3072, 10, [512, 256, 128, 64]
    X = rng.standard_normal((N, D)).astype(dtype)
    y = rng.integers(0, C, N)
    reg = 1e-3
    model = FullyConnectedNet(hidden, input_dim=D, num_classes=C, dropout_keep_ratio=0.5,
                              normalization="batchnorm", reg=reg, weight_scale=5e-2, dtype=dtype,
                              seed=0)
    configs = {k: {"learning_rate": 1e-4} for k in model.params}

    def ours():
        loss, grads = model.loss(X, y)
        for k, p in model.params.items():
            model.params[k], configs[k] = adam(p, grads[k], configs[k])

    tdt = torch.float32 if dtype == np.float32 else torch.float64
    mods, dims = [], [D, *hidden]
    for i in range(len(hidden)):
        mods += [torch.nn.Linear(dims[i], dims[i + 1]), torch.nn.BatchNorm1d(dims[i + 1]),
                 torch.nn.ReLU(), torch.nn.Dropout(0.5)]
    mods.append(torch.nn.Linear(dims[-1], C))
    net = torch.nn.Sequential(*mods).to(tdt).train()
    weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    lossf = torch.nn.CrossEntropyLoss()
    tX, ty = torch.tensor(X), torch.tensor(y)

    def theirs():
        opt.zero_grad()
        loss = lossf(net(tX), ty) + 0.5 * reg * sum((w * w).sum() for w in weights)
        loss.backward()
        opt.step()

    compare(f"FullyConnectedNet step {np.dtype(dtype).name}", ours, theirs, rounds)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("rounds=") and a != "cpu"]
    rounds = next((int(a[7:]) for a in sys.argv[1:] if a.startswith("rounds=")), 5)
    which = args or ["affine", "temporal", "fcnet"]
    dtypes = [np.float32] if "f32" in which else [np.float64] if "f64" in which else [np.float32, np.float64]
    for name in ("affine", "temporal", "fcnet"):
        if name in which:
            for dt in dtypes:
                globals()[name](dt, rounds)
