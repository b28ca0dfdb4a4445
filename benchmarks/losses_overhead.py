"""Python overhead of the loss and embedding ops: the validated call against the bare kernel
call on the same prepared arrays (fastest of many calls, one thread).

    PYTHONPATH=src python benchmarks/losses_overhead.py
"""

import time

import numpy as np

from cs231n_fast import layers
from cs231n_fast._ext import embedding as E
from cs231n_fast._ext import losses as K
from cs231n_fast.ops import losses, temporal


def fastest(f, reps=3000):
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best * 1e6


def row(name, op, kernel):
    a, b = fastest(op), fastest(kernel)
    print(f"{name:48s} op {a:7.1f} us  kernel {b:7.1f} us  overhead {a - b:5.1f} us ({(a - b) / a:4.0%})")


def main():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1004, (50, 16)).astype(np.int32)
    W = rng.standard_normal((1004, 256)).astype(np.float32)
    dout = rng.standard_normal((50, 16, 256)).astype(np.float32)
    _, cache = temporal.word_embedding_forward(ids, W)
    flat = cache.x.reshape(-1)
    out = np.empty((800, 256), np.float32)
    dW = np.empty((1004, 256), np.float32)
    ends, order = np.empty(1004, np.intp), np.empty(800, np.intp)
    row("word_embedding_forward (50, 16), V=1004, D=256",
        lambda: temporal.word_embedding_forward(ids, W, n_threads=1),
        lambda: E.embedding_forward(W, flat, out, 1))
    row("word_embedding_backward",
        lambda: temporal.word_embedding_backward(dout, cache, n_threads=1),
        lambda: E.embedding_backward(dout.reshape(800, 256), flat, dW, ends, order, 1))
    for n, c in ((100, 10), (1000, 1000)):
        x = rng.standard_normal((n, c)).astype(np.float32)
        y = rng.integers(0, c, n)
        yp = y.astype(np.intp)
        dx, rl = np.empty_like(x), np.empty(n)
        reps = 3000 if n * c < 10**5 else 100
        a = fastest(lambda: layers.softmax_loss(x, y), reps)
        b = fastest(lambda: K.row_losses(0, x, yp, None, dx, rl, float(n), 1), reps)
        print(f"{'layers.softmax_loss ' + str((n, c)) + ' (default threads)':48s} op {a:7.1f} us  "
              f"kernel(1 thread) {b:7.1f} us")
        row(f"ops.losses.softmax_loss {(n, c)}", lambda: losses.softmax_loss(x, y, n_threads=1),
            lambda: K.row_losses(0, x, yp, None, dx, rl, float(n), 1))
    xs = rng.standard_normal((50, 16, 1004)).astype(np.float32)
    ys = rng.integers(0, 1004, (50, 16))
    mask = rng.random((50, 16)) < 0.8
    dxs, rl = np.empty((800, 1004), np.float32), np.empty(800)
    keep = mask.view(np.uint8).reshape(-1)
    row("temporal_softmax_loss (50, 16, 1004)",
        lambda: temporal.temporal_softmax_loss(xs, ys, mask, n_threads=1),
        lambda: K.row_losses(0, xs.reshape(800, 1004), ys.reshape(-1), keep, dxs, rl, 50.0, 1))


if __name__ == "__main__":
    main()
