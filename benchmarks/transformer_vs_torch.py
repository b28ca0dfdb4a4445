"""CaptioningTransformer training step (loss, gradients, Adam update) against the course's
model in PyTorch, same weights, paired.

The step is what ``CaptioningSolver`` / ``CaptioningSolverTransformer`` run per minibatch:
ours ``model.loss(features, captions)`` then :func:`cs231n_fast.optim.adam` on every parameter;
torch the course's ``CaptioningTransformer`` (``cs231n_fast.bench.models.torch_course_modules``, loaded
with our weights), ``transformer_temporal_softmax_loss``, ``zero_grad``, ``backward`` and
``torch.optim.Adam.step``. Both in training mode (dropout 0.1 on, as the course trains).

Shapes: ``--shape large`` (default) N=128, T=16 (captions of 17 words), E=256, 4 heads,
2 layers, D=512, V=1004; ``--shape notebook`` the course's Transformer_Captioning notebook
(N=25, T=16, E=256, 2 heads, 2 layers, D=512, V=1004). Interleaved rounds (order reversed
every other round), each implementation run ~0.5 s untimed before it is timed; per round the
minimum of ``--reps`` steps; the ratio per round, median and range printed.

    PYTHONPATH=$PWD/src python benchmarks/transformer_vs_torch.py --threads 2
    PYTHONPATH=$PWD/src python benchmarks/transformer_vs_torch.py --shape notebook
    PYTHONPATH=$PWD/src python benchmarks/transformer_vs_torch.py --threads 1 --cpu-time
"""

import argparse
import os
import time

import numpy as np

SHAPES = {"large": dict(n=128, heads=4), "notebook": dict(n=25, heads=2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="large", choices=sorted(SHAPES))
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile our step and exit")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time process CPU time (with --threads 1: less sensitive to other tenants)")
    args = ap.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from cs231n_fast import optim
    from cs231n_fast.bench.models import torch_course_modules
    from cs231n_fast.classifiers.transformer import CaptioningTransformer

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    sh = SHAPES[args.shape]
    n, t, e, d, v, layers = sh["n"], 16, 256, 512, 1004, 2
    dt = np.dtype(args.dtype)
    tdt = torch.float32 if dt == np.float32 else torch.float64
    vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{i}": i for i in range(3, v)}}
    rng = np.random.default_rng(0)
    features = rng.standard_normal((n, d)).astype(dt)
    captions = rng.integers(3, v, (n, t + 1))
    captions[:, 0] = 1
    for row in captions:  # captions of varied length, <END> then <NULL> padding
        end = rng.integers(5, t + 1)
        row[end] = 2
        row[end + 1:] = 0

    ours = CaptioningTransformer(vocab, d, e, num_heads=sh["heads"], num_layers=layers, max_length=30,
                                 dtype=dt, seed=0)
    _, TCT, tloss = torch_course_modules(torch)
    torch.manual_seed(0)
    tm = TCT(vocab, d, e, num_heads=sh["heads"], num_layers=layers, max_length=30).to(tdt)
    ours.load_state_dict({k: p.detach().numpy() for k, p in tm.state_dict().items()})
    topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    configs = {k: {"learning_rate": 1e-3} for k in ours.params}

    def ours_step():
        loss, grads = ours.loss(features, captions)
        for k, w in ours.params.items():
            ours.params[k], configs[k] = optim.adam(w, grads[k], configs[k])
        return loss

    tf = torch.tensor(features)
    tin, tout = torch.tensor(captions[:, :-1]), torch.tensor(captions[:, 1:])
    tmask = (tout != 0).long()

    def torch_step():
        loss = tloss(tm(tf, tin), tout, tmask)
        topt.zero_grad()
        loss.backward()
        topt.step()
        return loss.item()

    # same loss on the same weights in eval mode (a check, not timed)
    ours.eval(), tm.eval()
    with torch.no_grad():
        lt = tloss(tm(tf, tin), tout, tmask).item()
    lo = ours.loss(features, captions)[0]
    assert abs(lo - lt) <= 1e-4 * abs(lt), (lo, lt)
    ours.train(), tm.train()

    if args.profile:
        import cProfile
        import pstats

        ours_step()
        prof = cProfile.Profile(time.process_time)
        prof.runctx("for _ in range(3): ours_step()", globals(), locals())
        prof.dump_stats("/tmp/transformer_step.prof")
        pstats.Stats("/tmp/transformer_step.prof").sort_stats("tottime").print_stats(25)
        return

    impls = {"ours": ours_step, "torch": torch_step}

    clock = time.process_time if args.cpu_time else time.perf_counter

    def timed(f):
        end = time.perf_counter() + 0.5
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
        print(r, {k: f"{x[-1] * 1e3:.1f} ms" for k, x in res.items()}, flush=True)
    q = np.array(res["ours"]) / np.array(res["torch"])
    print(f"{args.shape} N={n} T={t} E={e} heads={sh['heads']} layers={layers} {dt} {args.threads} thread(s): "
          f"ours/torch median {np.median(q):.3f} (range {q.min():.3f}-{q.max():.3f}, {args.rounds} rounds)")


if __name__ == "__main__":
    main()
