"""Python overhead of the course models' training step: the same step at tiny sizes (where the
arithmetic is negligible, so the time is the per-call validation, dispatch and allocation) next
to the step at the issue's sizes. Usage:

    PYTHONPATH=src python benchmarks/overhead_models.py

Prints the minimum over repeated runs (ms) and, per model, a cProfile of the tiny step: the
Python functions that take the time.
"""

import cProfile
import pstats
import time

import numpy as np

from cs231n_fast.classifiers.fc_net import FullyConnectedNet
from cs231n_fast.classifiers.rnn import CaptioningRNN


def best(fn, budget=1.0):
    for _ in range(3):
        fn()
    times, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < budget or len(times) < 5:
        s = time.perf_counter()
        fn()
        times.append(time.perf_counter() - s)
    return min(times) * 1e3


def fc_step(n, d, hidden):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, 10, n)
    model = FullyConnectedNet(hidden, input_dim=d, num_classes=10, dropout_keep_ratio=0.5,
                              normalization="batchnorm", reg=1e-3, weight_scale=5e-2, seed=0)
    return lambda: model.loss(X, y)


def captioning(n, t, v, w, h, d=512):
    rng = np.random.default_rng(0)
    words = {"<NULL>": 0, "<START>": 1, "<END>": 2}
    words.update({f"w{i}": i for i in range(3, v)})
    model = CaptioningRNN(words, input_dim=d, wordvec_dim=w, hidden_dim=h, cell_type="lstm", seed=0)
    feats = rng.standard_normal((n, d)).astype(np.float32)
    caps = rng.integers(0, v, (n, t + 1))
    return lambda: model.loss(feats, caps)


if __name__ == "__main__":
    cases = [
        ("FullyConnectedNet [512,256,128,64] bn+dropout N=100 loss", fc_step(100, 3072, [512, 256, 128, 64]),
         fc_step(2, 6, [5, 4, 3, 2])),
        ("CaptioningRNN.loss N=50 T=16 V=1004 W=256 H=512", captioning(50, 16, 1004, 256, 512),
         captioning(2, 16, 5, 3, 4, d=6)),
    ]
    for name, full, tiny in cases:
        a, b = best(full), best(tiny)
        print(f"{name}: full {a:.3f} ms, same calls at tiny sizes {b:.3f} ms ({100 * b / a:.1f}%)")
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(200):
            tiny()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
