"""One update of each rule: cs231n_fast.optim (course API, fused kernel) against torch.optim's
``step()`` on one parameter of the same shape, and against the course's NumPy code (the twin).

    PYTHONPATH=src python benchmarks/optim_vs_torch.py [--threads 2] [--rounds 5] [--dtype float32]
        [--rules adam,sgd] [--shapes 8192x100,64] [--min-call]

Interleaved settled rounds: in each round every implementation runs ~0.25 s untimed, then is
timed (best of 5 batches of calls); the ratio ours / torch is taken per round and the median
over rounds is printed, with the per-call times of the median round. torch updates in place;
ours writes new arrays (as the course's API does), the state carried from call to call.
"""

import argparse
import time

import numpy as np

from cs231n_fast import optim
from cs231n_fast.reference import optim as twin

SHAPES = [(64,), (512,), (3072, 512), (8192, 100)]
RULES = ["sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam"]
HYPER = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "nesterov_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "adagrad": {"learning_rate": 1e-2, "epsilon": 1e-8},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}


def torch_step(torch, name, w, dw):
    p = torch.nn.Parameter(torch.from_numpy(w.copy()))
    p.grad = torch.from_numpy(dw.copy())
    h = HYPER[name]
    if name == "sgd":
        opt = torch.optim.SGD([p], lr=h["learning_rate"])
    elif name in ("sgd_momentum", "nesterov_momentum"):
        opt = torch.optim.SGD([p], lr=h["learning_rate"], momentum=h["momentum"],
                              nesterov=name == "nesterov_momentum")
    elif name == "adagrad":
        opt = torch.optim.Adagrad([p], lr=h["learning_rate"], eps=h["epsilon"])
    elif name == "rmsprop":
        opt = torch.optim.RMSprop([p], lr=h["learning_rate"], alpha=h["decay_rate"],
                                  eps=h["epsilon"])
    else:
        opt = torch.optim.Adam([p], lr=h["learning_rate"], betas=(h["beta1"], h["beta2"]),
                               eps=h["epsilon"])
    opt.step()
    return opt.step


def ours_step(name, w, dw):
    rule = getattr(optim, name)
    config = dict(HYPER[name])
    rule(w, dw, config)

    def step():
        rule(w, dw, config)  # config carries the new state from call to call

    return step


def twin_step(name, w, dw):
    """The course's NumPy code (the twin), state carried."""
    h = dict(HYPER[name])
    fn = getattr(twin, name)
    state = {"velocity": None, "cache": None, "m": None, "v": None, "t": 0}

    def step():
        if name == "sgd":
            fn(w, dw, h["learning_rate"])
        elif name in ("sgd_momentum", "nesterov_momentum"):
            _, state["velocity"] = fn(w, dw, state["velocity"], h["learning_rate"], h["momentum"])
        elif name == "adagrad":
            _, state["cache"] = fn(w, dw, state["cache"], h["learning_rate"], h["epsilon"])
        elif name == "rmsprop":
            _, state["cache"] = fn(w, dw, state["cache"], h["learning_rate"], h["decay_rate"],
                                   h["epsilon"])
        else:
            state["t"] += 1
            _, state["m"], state["v"] = fn(w, dw, state["m"], state["v"], state["t"],
                                           h["learning_rate"], h["beta1"], h["beta2"],
                                           h["epsilon"])

    return step


def timed(fn, settle=0.25, batches=5, target=0.05):
    end = time.perf_counter() + settle
    calls = 0
    while time.perf_counter() < end:
        fn()
        calls += 1
    per = max(1, int(calls / settle * target))
    best = float("inf")
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(per):
            fn()
        best = min(best, (time.perf_counter() - t0) / per)
    return best


def min_call(fn, settle=0.25, calls=300):
    """The fastest single call of ``calls`` after settling: on a machine shared with other
    processes, a 2-thread OpenMP region that waits for a descheduled thread costs a whole
    time slice (tens of ms), which swamps batch means; the fastest call is the unloaded cost."""
    end = time.perf_counter() + settle
    while time.perf_counter() < end:
        fn()
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--shapes", default=None, help="e.g. 8192x100,64")
    ap.add_argument("--min-call", action="store_true",
                    help="time the fastest single call instead of the best batch mean")
    args = ap.parse_args()
    timer = min_call if args.min_call else timed
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    shapes = SHAPES if args.shapes is None else [
        tuple(int(d) for d in s.split("x")) for s in args.shapes.split(",")]
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, {dtype}, torch {torch.__version__}, median of "
          f"{args.rounds} interleaved rounds; times per call in us")
    with threadpool_limits(limits=args.threads, user_api="openmp"):
        for shape in shapes:
            w = rng.standard_normal(shape).astype(dtype)
            dw = rng.standard_normal(shape).astype(dtype)
            for name in args.rules.split(","):
                impls = {"ours": ours_step(name, w, dw), "torch": torch_step(torch, name, w, dw),
                         "numpy": twin_step(name, w, dw)}
                rounds = []
                for _ in range(args.rounds):
                    rounds.append({k: timer(f) for k, f in impls.items()})
                rounds.sort(key=lambda r: r["ours"] / r["torch"])
                mid = rounds[len(rounds) // 2]
                lo, hi = rounds[0], rounds[-1]
                print(f"{name:18s} {str(shape):12s} ours {mid['ours'] * 1e6:9.1f}  "
                      f"torch {mid['torch'] * 1e6:9.1f}  numpy {mid['numpy'] * 1e6:9.1f}  "
                      f"ours/torch {mid['ours'] / mid['torch']:.2f} "
                      f"[{lo['ours'] / lo['torch']:.2f}-{hi['ours'] / hi['torch']:.2f}]  "
                      f"numpy/torch {mid['numpy'] / mid['torch']:.2f}", flush=True)


if __name__ == "__main__":
    main()
