"""T=16 LSTM sequence forward + backward (N=64, D=256, H=512) against ``torch.nn.LSTM``, paired.

Three implementations in interleaved rounds (order reversed every other round), each run
~0.25 s untimed before it is timed: ours with the packed recurrent product (float32 default),
ours with BLAS at every step (``ops.rnn.PACKED_RECURRENT = False``; float64 always takes this
path) and torch. Per round the minimum of ``--reps`` calls; the ratios are per round, and the
median and range over rounds are printed.

    PYTHONPATH=$PWD/src python benchmarks/lstm_seq_vs_torch.py --dtype float32 --threads 2
    PYTHONPATH=$PWD/src python benchmarks/lstm_seq_vs_torch.py --threads 1 --cpu-time

``--cpu-time`` times process CPU time instead of wall time (meaningful on one thread: it is much
less sensitive to other tenants of a shared machine than wall time).
"""

import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cpu-time", action="store_true")
    args = ap.parse_args()

    import torch

    from cs231n_fast import benchmarking
    from cs231n_fast.ops import rnn

    torch.set_num_threads(args.threads)
    dt, nt = np.dtype(args.dtype), args.threads
    n, t, d, h = 64, 16, 256, 512
    rng = np.random.default_rng(0)
    inputs = dict(x=rng.standard_normal((n, t, d)), h0=rng.standard_normal((n, h)),
                  c0=np.zeros((n, h)), Wx=rng.standard_normal((d, 4 * h)) / 16,
                  Wh=rng.standard_normal((h, 4 * h)) / 23, b=rng.standard_normal(4 * h),
                  dh=rng.standard_normal((n, t, h)))
    inputs = {k: v.astype(dt) for k, v in inputs.items()}

    class Case:
        kernel, step = "lstm", False

    Case.d, Case.h = d, h
    torch_call = benchmarking._torch_lstm(torch, Case, inputs)

    def ours(packed):
        x, h0, c0, Wx, Wh, b, dh = (inputs[k] for k in ("x", "h0", "c0", "Wx", "Wh", "b", "dh"))

        def call():
            rnn.PACKED_RECURRENT = packed
            try:
                out, cache = rnn.lstm_forward(x, h0, Wx, Wh, b, c0, n_threads=nt)
                return rnn.lstm_backward(dh, cache, n_threads=nt)
            finally:
                rnn.PACKED_RECURRENT = True

        return call

    impls = {"packed": ours(True), "blas": ours(False), "torch": torch_call}
    clock = time.process_time if args.cpu_time else time.perf_counter

    def timed(f):
        end = time.perf_counter() + 0.25
        while time.perf_counter() < end:
            f()
        best = float("inf")
        for _ in range(args.reps):
            t0 = clock()
            f()
            best = min(best, clock() - t0)
        return best

    res = {k: [] for k in impls}
    for r in range(args.rounds):
        for k in (list(impls) if r % 2 == 0 else list(impls)[::-1]):
            res[k].append(timed(impls[k]))
        print(r, {k: f"{v[-1] * 1e3:.1f} ms" for k, v in res.items()}, flush=True)
    a = {k: np.array(v) for k, v in res.items()}
    what = "CPU time" if args.cpu_time else "wall time"
    for x, y in (("packed", "torch"), ("blas", "torch"), ("packed", "blas")):
        q = a[x] / a[y]
        print(f"{dt} {nt} thread(s), {what}: {x}/{y} median {np.median(q):.3f} "
              f"(range {q.min():.3f}-{q.max():.3f}, {args.rounds} rounds)")


if __name__ == "__main__":
    main()
