"""Forward + backward of the activations and dropout through the course API (cs231n_fast.layers)
against PyTorch, float32, interleaved settled rounds (issue 13).

    PYTHONPATH=src python benchmarks/activations_vs_torch.py [--threads 2] [--rounds 7] [--only relu,...]
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as TF

from cs231n_fast import layers as L


def _time(fn, budget=0.25):
    fn()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < budget:  # settle (warm pools, spinning threads)
        fn()
    reps, best = 0, float("inf")
    t_end = time.perf_counter() + budget
    while time.perf_counter() < t_end or reps < 3:
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
        reps += 1
    return best


def cases(shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    d = rng.standard_normal(shape).astype(np.float32)
    tx = torch.from_numpy(x).requires_grad_()
    td = torch.from_numpy(d)
    c = shape[1]
    alpha = np.full(c, 0.25, np.float32)
    talpha = torch.from_numpy(alpha.copy()).requires_grad_()

    def ours(fwd, bwd, *args):
        def run():
            _, cache = fwd(x, *args)
            bwd(d, cache)
        return run

    def theirs(f):
        def run():
            tx.grad = None
            talpha.grad = None
            f(tx).backward(td)
        return run

    n, dd = shape[0], int(np.prod(shape[1:]))
    mx = x.reshape(n, dd)[:, :512].copy()
    mw = rng.standard_normal((2, 512, 512)).astype(np.float32) * 0.05
    mb = np.zeros((2, 512), np.float32)
    tmx = torch.from_numpy(mx).requires_grad_()
    tmw = torch.from_numpy(mw).requires_grad_()
    tmb = torch.from_numpy(mb).requires_grad_()
    md = rng.standard_normal((n, 512)).astype(np.float32)
    tmd = torch.from_numpy(md)

    def maxout_ours():
        _, cache = L.maxout_forward(mx, mw, mb)
        L.maxout_backward(md, cache)

    def maxout_torch():
        for t in (tmx, tmw, tmb):
            t.grad = None
        z = torch.einsum("nd,kdm->nkm", tmx, tmw) + tmb
        z.max(dim=1).values.backward(tmd)

    param = {"mode": "train", "p": 0.5, "seed": 3}
    return {
        "relu": (ours(L.relu_forward, L.relu_backward), theirs(torch.relu)),
        "leaky_relu": (ours(L.leaky_relu_forward, L.leaky_relu_backward, 0.01), theirs(lambda t: TF.leaky_relu(t, 0.01))),
        "prelu": (ours(L.prelu_forward, L.prelu_backward, alpha), theirs(lambda t: TF.prelu(t, talpha))),
        "elu": (ours(L.elu_forward, L.elu_backward, 1.0), theirs(TF.elu)),
        "sigmoid": (ours(L.sigmoid_forward, L.sigmoid_backward), theirs(torch.sigmoid)),
        "tanh": (ours(L.tanh_forward, L.tanh_backward), theirs(torch.tanh)),
        "dropout": (ours(L.dropout_forward, L.dropout_backward, param), theirs(lambda t: TF.dropout(t, 0.5, True))),
        f"maxout ({n},512)x(2,512,512)": (maxout_ours, maxout_torch),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shape", default="64,64,32,32")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(a.threads)
    shape = tuple(int(s) for s in a.shape.split(","))
    cs = cases(shape, np.random.default_rng(0))
    only = [s for s in a.only.split(",") if s]
    print(f"shape {shape} float32, {a.threads} threads; best of each round, ratio = ours / torch")
    for name, (f_ours, f_torch) in cs.items():
        if only and not any(name.startswith(o) for o in only):
            continue
        ratios, to, tt = [], [], []
        for _ in range(a.rounds):
            o = _time(f_ours)
            t = _time(f_torch)
            to.append(o)
            tt.append(t)
            ratios.append(o / t)
        print(f"{name:32s} ours {1e3 * min(to):7.3f} ms  torch {1e3 * min(tt):7.3f} ms  "
              f"ratio of bests {min(to) / min(tt):.2f}; per round median {np.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
