"""Memory: repeated calls do not grow the process, and arrays of more than 2**31 elements work.

Each kernel family runs in a fresh interpreter (so that no other test's allocations count):
20 warm-up rounds, then 300 rounds, reading ``VmHWM`` (peak resident set) and ``VmRSS`` from
``/proc/self/status`` before and after the 300. A round calls every function of the family
once (forward and backward). The peak and the resident set may grow by at most 8 MiB in the
300 rounds: every round allocates at least 96 KiB of outputs that it drops, so a leak of one
output per round would add 28 MiB or more. The reference counts of the inputs must not move
either (a leaked buffer acquisition keeps its array alive).

Measured on the development machine (2 cores, 24 GiB): growth of 0 to 0.4 MiB for every family.

Arrays of more than 2**31 elements, for every kernel family: ``test_large_index.py``
(``-m slow``).
"""

import json
import os
import subprocess
import sys

import pytest

LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux only)")

#: MiB the peak and the resident set may grow in the 300 measured rounds.
BOUND_MIB = 8

RUNNER = r'''
import gc, json, sys
import numpy as np
from cs231n_fast import knn, ops
from cs231n_fast.ops import rnn


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # MiB


rng = np.random.default_rng(0)
x, w, b = rng.standard_normal((4, 8, 24, 24)), rng.standard_normal((8, 8, 3, 3)), rng.standard_normal(8)
xq, xt = rng.standard_normal((100, 32)), rng.standard_normal((500, 32))
seq = [rng.standard_normal((8, 10, 32)), rng.standard_normal((8, 64)), rng.standard_normal((32, 256)) * 0.2,
       rng.standard_normal((64, 256)) * 0.1, rng.standard_normal(256)]
z = rng.standard_normal(50_000)


def conv():
    out, cache = ops.conv_forward(x, w, b, 1, 1, n_threads=2)
    ops.conv_backward(out, cache, n_threads=2)


def im2col():
    ops.col2im(ops.im2col(x, 3, 3, 1, 1, n_threads=2), x.shape, 3, 3, 1, 1, n_threads=2)


def pool():
    out, cache = ops.maxpool_forward(x, 2, 2, 2, n_threads=2)
    ops.maxpool_backward(out, cache, n_threads=2)


def knn_():
    knn.pairwise_distances(xq, xt, "l2", n_threads=2)
    knn.pairwise_distances(xq, xt, "l1", n_threads=2)
    knn.kneighbors(xq, xt, 5, "l2", n_threads=2)
    knn.kneighbors(xq, xt, 5, "l1", n_threads=2)


def recurrent():
    h, cache = rnn.lstm_forward(*seq, n_threads=2)
    rnn.lstm_backward(h, cache, n_threads=2)
    h, cache = rnn.rnn_forward(seq[0], seq[1], seq[2][:, :64], seq[3][:, :64], seq[4][:64], n_threads=2)
    rnn.rnn_backward(h, cache, n_threads=2)
    nh, nc, cache = rnn.lstm_step_forward(seq[0][:, 0], seq[1], seq[1], *seq[2:], n_threads=2)
    rnn.lstm_step_backward(nh, nc, cache, n_threads=2)
    nh, cache = rnn.rnn_step_forward(seq[0][:, 0], seq[1], seq[2][:, :64], seq[3][:, :64], seq[4][:64], n_threads=2)
    rnn.rnn_step_backward(nh, cache, n_threads=2)


def sigmoid():
    rnn.sigmoid(z, n_threads=2)


family = {"conv": conv, "im2col": im2col, "pool": pool, "knn": knn_, "recurrent": recurrent, "sigmoid": sigmoid}[sys.argv[1]]
inputs = [x, w, b, xq, xt, z, *seq]
for _ in range(20):
    family()
gc.collect()
before = {"hwm": status("VmHWM"), "rss": status("VmRSS"), "refs": [sys.getrefcount(a) for a in inputs]}
for _ in range(300):
    family()
gc.collect()
after = {"hwm": status("VmHWM"), "rss": status("VmRSS"), "refs": [sys.getrefcount(a) for a in inputs]}
print(json.dumps({"before": before, "after": after}))
'''

FAMILIES = ["conv", "im2col", "pool", "knn", "recurrent", "sigmoid"]
#: Idle OpenMP threads sleep instead of spinning: on a loaded 2-core machine a spinning team of 2
#: makes each small call wait for a time slice (10-40 ms instead of 0.1-1 ms). Under the
#: AddressSanitizer build (CI's debug run) freed memory skips ASan's quarantine, which would
#: otherwise hold up to 256 MiB of it and show as growth.
ENV = {
    **os.environ,
    "OMP_WAIT_POLICY": "passive",
    "ASAN_OPTIONS": ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0"])),
}


def run(family, runner=RUNNER):
    proc = subprocess.run([sys.executable, "-c", runner, family], capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@LINUX_ONLY
@pytest.mark.parametrize("family", FAMILIES)
def test_kernels_repeated_calls_memory_bounded(family):
    m = run(family)
    before, after = m["before"], m["after"]
    assert after["refs"] == before["refs"], "an input's reference count grew: a buffer is leaked"
    for key in ("hwm", "rss"):
        growth = after[key] - before[key]
        assert growth <= BOUND_MIB, f"{family}: Vm{key.upper()} grew by {growth:.1f} MiB in 300 rounds"


def test_memory_runner_detects_a_leak():
    # The measurement can fail: the same runner with a family that keeps every output.
    leaky = RUNNER.replace('"sigmoid": sigmoid}', '"sigmoid": sigmoid, "leak": lambda: kept.append(rnn.sigmoid(z))}')
    leaky = leaky.replace("family = {", "kept = []\nfamily = {")
    m = run("leak", leaky)
    assert m["after"]["rss"] - m["before"]["rss"] > BOUND_MIB  # 300 x 390 KiB kept
