"""Multi-head attention core forward + backward (scaled dot-product attention) against torch,
paired.

Implementations, in interleaved rounds (order reversed every other round), each run ~0.25 s
untimed before it is timed: ours (``ops.attention.sdpa_forward`` + ``sdpa_backward``), torch's
``F.scaled_dot_product_attention`` with autograd, and torch written as the course's
``MultiHeadAttention`` writes it (``q @ k^T / sqrt(Dh)``, ``masked_fill``, ``softmax``, ``@ v``)
with autograd. Per round the minimum of ``--reps`` calls; the ratios are per round, and the
median and range over rounds are printed.

Shapes (N, H, S, T, Dh), causal self-attention as in the captioning Transformer's decoder:
``large`` N=128, H=4, S=T=16, Dh=64 (E=256, the issue's larger model); ``notebook`` N=25, H=2,
S=T=16, Dh=128 (the course notebook's CaptioningTransformer, wordvec_dim=256, num_heads=2,
batch 25); ``cross`` the decoder's cross-attention to the one image token (T=1) at the large
shape.

    PYTHONPATH=$PWD/src python benchmarks/attention_vs_torch.py --dtype float32 --threads 2
    PYTHONPATH=$PWD/src python benchmarks/attention_vs_torch.py --threads 1 --cpu-time

``--cpu-time`` times process CPU time instead of wall time (meaningful on one thread: much less
sensitive to other tenants of a shared machine than wall time).
"""

import argparse
import time

import numpy as np

SHAPES = {
    "large": (128, 4, 16, 16, 64, True),
    "notebook": (25, 2, 16, 16, 128, True),
    "cross": (128, 4, 16, 1, 64, False),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--cpu-time", action="store_true")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F

    from cs231n_fast.ops import attention

    torch.set_num_threads(args.threads)
    dt, nt = np.dtype(args.dtype), args.threads
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

    for shape_name in args.shapes.split(","):
        n, h, s, t, dh, causal = SHAPES[shape_name]
        rng = np.random.default_rng(0)
        q = rng.standard_normal((n, h, s, dh)).astype(dt)
        k = rng.standard_normal((n, h, t, dh)).astype(dt)
        v = rng.standard_normal((n, h, t, dh)).astype(dt)
        dout = rng.standard_normal((n, h, s, dh)).astype(dt)
        tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
        tdout = torch.tensor(dout)
        tmask = torch.tril(torch.ones(s, t)) if causal else None

        def ours():
            out, cache = attention.sdpa_forward(q, k, v, causal=causal, n_threads=nt)
            return attention.sdpa_backward(dout, cache, n_threads=nt)

        def torch_sdpa():
            tq.grad = tk.grad = tv.grad = None
            out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
            out.backward(tdout)

        def torch_course():
            tq.grad = tk.grad = tv.grad = None
            sc = (tq @ tk.transpose(2, 3)) / (dh ** 0.5)
            if tmask is not None:
                sc = sc.masked_fill(tmask == 0, float("-inf"))
            out = torch.softmax(sc, dim=-1) @ tv
            out.backward(tdout)

        # one check before timing: same gradients as torch
        torch_sdpa()
        for a, b in zip(ours(), (tq.grad, tk.grad, tv.grad)):
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-3, atol=1e-4)

        impls = {"ours": ours, "torch_sdpa": torch_sdpa, "torch_course": torch_course}
        res = {key: [] for key in impls}
        for r in range(args.rounds):
            for key in (list(impls) if r % 2 == 0 else list(impls)[::-1]):
                res[key].append(timed(impls[key]))
            print(shape_name, r, {key: f"{val[-1] * 1e3:.3f} ms" for key, val in res.items()}, flush=True)
        a = {key: np.array(val) for key, val in res.items()}
        for x, y in (("ours", "torch_sdpa"), ("ours", "torch_course")):
            ratio = a[x] / a[y]
            print(f"{shape_name} (N, H, S, T, Dh) = {(n, h, s, t, dh)} causal={causal} {dt} {nt} thread(s): "
                  f"{x}/{y} median {np.median(ratio):.3f} (range {ratio.min():.3f}-{ratio.max():.3f}, "
                  f"{args.rounds} rounds, {'CPU' if args.cpu_time else 'wall'} time; ours {np.median(a[x]) * 1e3:.3f} ms)", flush=True)


if __name__ == "__main__":
    main()
