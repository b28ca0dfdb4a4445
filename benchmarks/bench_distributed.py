"""Dask back end: search throughput and kNN over a training set split across 2 workers.

Run as a script (not a pytest-benchmark file)::

    python benchmarks/bench_distributed.py                      # the figures of the closing note
    python benchmarks/bench_distributed.py --trials 8 --n-train 20000   # a quick check

1. **Search throughput**, trials per minute: a random search whose trial trains the course's
   ``Softmax`` (minibatch SGD, seeded) on a small synthetic problem and scores it on a
   validation split; run locally (one process, the kernels and BLAS on every core) and with
   ``client=`` on a ``LocalCluster`` of ``--workers`` single-threaded worker processes. The
   two result tables are checked equal. Cluster start-up is not timed; each mode runs a
   warm-up first, then the modes alternate for ``--repeats`` rounds and the best is reported.
2. **kNN**: ``kneighbors(X_query, X_train, k)`` with ``X_train`` a float32 ``dask.array``
   (``--n-train`` x ``--dim``, generated on the workers and persisted there, chunked by rows
   into ``2 * workers`` chunks) against ``--n-query`` queries; time of the distributed call,
   the chunk bytes each worker holds, and each worker process's peak RSS during the call
   (``VmHWM`` of ``/proc/self/status``, reset just before with ``/proc/self/clear_refs``;
   Linux only) and its increase over the RSS before the call. Then the same search on NumPy
   in this process, timed, and the results checked identical.

Dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (config
``distributed.nanny.pre-spawn-environ``), which returns freed memory to the OS sooner but also
turns off glibc's adaptive mmap threshold: every NumPy temporary above 128 KiB is then mapped
and unmapped again, page faults included. Measured here, it doubled the CPU time of one
Softmax trial (0.07 -> 0.14 s). ``--glibc-malloc`` starts the workers without it.

Numbers from a shared machine are noisy: compare runs of the same machine and load.
"""

import argparse
import logging
import os
import time

import numpy as np


def _make_problem(n, d, classes, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((d, classes))
    X = rng.standard_normal((n, d)).astype(np.float64)
    y = np.argmax(X @ W + 2.0 * rng.standard_normal((n, classes)), axis=1)
    return X[: n * 4 // 5], y[: n * 4 // 5], X[n * 4 // 5 :], y[n * 4 // 5 :]


def make_objective(n, d, classes, iters):
    X_tr, y_tr, X_va, y_va = _make_problem(n, d, classes)

    def fit_score(params):
        from cs231n_fast.classifiers import Softmax

        t = time.perf_counter()
        model = Softmax()
        model.train(X_tr, y_tr, learning_rate=params["learning_rate"], reg=params["reg"],
                    num_iters=iters, batch_size=200, seed=0)
        score = float(np.mean(model.predict(X_va) == y_va))
        return {"score": score, "seconds": time.perf_counter() - t}

    return fit_score


def bench_search(client, args):
    from cs231n_fast.model_selection import LogUniform, random_search

    fit_score = make_objective(args.search_n, args.search_d, 10, args.search_iters)
    space = {"learning_rate": LogUniform(1e-4, 1e-1), "reg": LogUniform(1e-5, 1e-1)}
    random_search(fit_score, space, 1, seed=99)  # warm-up
    random_search(fit_score, space, args.workers, seed=99, client=client)  # warm-up (imports)
    t_local, t_dist = [], []
    for _ in range(args.repeats):  # the two modes alternate: a change of load hits both
        t = time.perf_counter()
        local = random_search(fit_score, space, args.trials, seed=0)
        t_local.append(time.perf_counter() - t)
        t = time.perf_counter()
        dist = random_search(fit_score, space, args.trials, seed=0, client=client)
        t_dist.append(time.perf_counter() - t)
    t_local, t_dist = min(t_local), min(t_dist)
    def table(res):
        return [(r["params"], r["score"]) for r in res]

    same = table(dist) == table(local)
    in_local = np.mean([r["seconds"] for r in local])
    in_dist = np.mean([r["seconds"] for r in dist])
    print(f"search: {args.trials} trials of Softmax.train ({args.search_n * 4 // 5} x "
          f"{args.search_d}, {args.search_iters} SGD steps), best of {args.repeats}")
    print(f"  local (1 process, all cores) : {t_local:7.2f} s  {60 * args.trials / t_local:8.1f} trials/min")
    print(f"  {args.workers} workers x 1 thread      : {t_dist:7.2f} s  {60 * args.trials / t_dist:8.1f} trials/min"
          f"  (x{t_local / t_dist:.2f})")
    print(f"  time inside a trial, mean: local {in_local:.3f} s, on a worker {in_dist:.3f} s "
          f"(the rest of a worker's time is Dask's per-task overhead)")
    print(f"  distributed table == local table: {same}")
    return same


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    return _rss()


def _rss():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, val = line.split(":")
                out[key] = int(val.split()[0]) * 1024
    return out


def bench_knn(client, args):
    import dask.array as da
    from distributed import wait

    from cs231n_fast.knn import kneighbors

    n_chunks = 2 * args.workers
    rows = -(-args.n_train // n_chunks)
    X_train = da.random.default_rng(1).standard_normal((args.n_train, args.dim), chunks=(rows, args.dim),
                                                       dtype=np.float32)
    X_train = X_train.persist()
    wait(X_train)
    X_query = np.random.default_rng(2).standard_normal((args.n_query, args.dim)).astype(np.float32)
    held = {}
    for key, workers in client.who_has(X_train).items():
        for w in workers:
            held[w] = held.get(w, 0) + rows * args.dim * 4
    kneighbors(X_query[:8], X_train, args.k)  # warm-up
    X_local = X_train.compute()
    kneighbors(X_query[:8], X_local, args.k)
    t_dist, t_local, peaks = [], [], []
    for _ in range(args.repeats):
        before = client.run(_reset_peak)
        t = time.perf_counter()
        d1, i1 = kneighbors(X_query, X_train, args.k)
        t_dist.append(time.perf_counter() - t)
        after = client.run(_rss)
        peaks.append((before, after))
        t = time.perf_counter()
        d0, i0 = kneighbors(X_query, X_local, args.k)
        t_local.append(time.perf_counter() - t)
    t_dist, t_local = min(t_dist), min(t_local)
    before, after = peaks[-1]
    same = np.array_equal(d0, d1) and np.array_equal(i0, i1)
    mib = 1 << 20
    print(f"kNN: {args.n_train} x {args.dim} float32 train in {n_chunks} chunks over "
          f"{args.workers} workers, {args.n_query} queries, k = {args.k}")
    print(f"  distributed: {t_dist:7.2f} s   local NumPy (this process, all cores): {t_local:7.2f} s"
          f"   (best of {args.repeats})")
    for w in sorted(after):
        b, a = before[w], after[w]
        print(f"  worker {w}: chunks held {held.get(w, 0) / mib:7.1f} MiB, RSS before {b['VmRSS'] / mib:7.1f} MiB, "
              f"peak during call {a['VmHWM'] / mib:7.1f} MiB (+{(a['VmHWM'] - b['VmRSS']) / mib:.1f})")
    print(f"  distributed result == local result (indices and distances): {same}")
    return same


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--search-n", type=int, default=5000)
    p.add_argument("--search-d", type=int, default=256)
    p.add_argument("--search-iters", type=int, default=300)
    p.add_argument("--n-train", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--n-query", type=int, default=1000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3, help="alternating rounds; the best is reported")
    p.add_argument("--glibc-malloc", action="store_true",
                   help="start the workers without Dask's MALLOC_TRIM_THRESHOLD_=65536 (see the docstring)")
    p.add_argument("--skip-search", action="store_true")
    p.add_argument("--skip-knn", action="store_true")
    args = p.parse_args(argv)

    from distributed import Client, LocalCluster

    from cs231n_fast._threads import effective_n_threads

    import dask

    print(f"machine: {os.cpu_count()} CPUs; local runs use {effective_n_threads()} threads")
    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    if args.glibc_malloc:
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
    print(f"worker environment set by the nanny: {env}")
    ok = True
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}), LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        if not args.skip_search:
            ok &= bench_search(client, args)
        if not args.skip_knn:
            ok &= bench_knn(client, args)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
