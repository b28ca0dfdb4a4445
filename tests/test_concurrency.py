"""Kernels under concurrency: Python threads, the GIL, and child processes.

* Several Python threads calling a mix of kernels at once (each with its own ``n_threads``)
  finish and agree bitwise with the same calls made one after the other.
* Each kernel releases the GIL: while it runs in a worker thread (``n_threads=1``), the main
  thread keeps executing Python code. The main thread time-stamps its loop; some stamp must
  fall in the middle half of the native call. A call that holds the GIL (``sorted`` of a list of
  ints, all in C) gets no stamp there, which shows the measurement can fail.
* A child process started with ``spawn`` after the parent ran an OpenMP team of 2 threads
  computes the same results with 2 threads; a ``fork`` child works when it runs its kernels on
  one thread. (A ``fork`` child entering a team of 2 threads hangs with GNU OpenMP, as the
  README documents: use ``spawn`` or ``forkserver``.) Both run in a subprocess with a timeout.
"""

import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from helpers import assert_matches_reference
from threadpoolctl import OpenBLASController, threadpool_info, threadpool_limits

from cs231n_fast import _blas, knn, ops
from cs231n_fast._threads import blas_single_thread
from cs231n_fast.ops import rnn


def _blas_threads():
    """Thread counts of the BLAS the kernels call: NumPy's OpenBLAS when they call it directly
    (then only that library is limited), else every BLAS with a process-wide pool (a BLAS
    threaded with OpenMP, like faiss's, has per-thread limits, and a call from inside a
    kernel's OpenMP team runs serially anyway, as a nested region)."""
    control = _blas.gemm_thread_control()
    if control is not None:
        return [control[0]()]
    libs = [lib for lib in threadpool_info() if lib["user_api"] == "blas" and lib.get("threading_layer") != "openmp"]
    assert libs, "no BLAS found"
    return sorted({lib["num_threads"] for lib in libs})


def _set_blas_threads(n):
    """Set BLAS's thread count without leaving this thread in sole control of it (threadpoolctl
    lets only one "controlling" thread change a pthreads OpenBLAS)."""
    threadpool_limits(limits=n, user_api="blas")
    OpenBLASController.clear_controlling_thread(force=True)


@pytest.fixture
def restore_blas_threads():
    """Put BLAS's thread count back as it was (concurrent kernel calls may leave it at 1)."""
    before = max(_blas_threads())
    yield before
    _set_blas_threads(before)


def _tasks(rng):
    """name -> zero-argument call returning a tuple of arrays; inputs are made once, here."""
    x = rng.standard_normal((6, 4, 18, 17))
    w, b = rng.standard_normal((5, 4, 3, 2)), rng.standard_normal(5)
    dout = rng.standard_normal((6, 5, 18, 16))
    pool_dout = rng.standard_normal((6, 4, 8, 16))
    xq, xt = rng.standard_normal((30, 20)), rng.standard_normal((2500, 20))
    n, t, d, h = 3, 4, 8, 520  # two blocks of hidden units
    seq = [rng.standard_normal((n, t, d)), rng.standard_normal((n, h)), rng.standard_normal((d, 4 * h)) * 0.3,
           rng.standard_normal((h, 4 * h)) * 0.05, rng.standard_normal(4 * h)]
    dh = rng.standard_normal((n, t, h))
    z = rng.standard_normal(50_000) * 10

    def conv(nt):
        out, cache = ops.conv_forward(x, w, b, 1, (1, 0), n_threads=nt)
        return (out, *ops.conv_backward(dout, cache, n_threads=nt))

    def pool(nt):
        out, cache = ops.maxpool_forward(x, 3, 2, (2, 1), n_threads=nt)
        return out, ops.maxpool_backward(pool_dout, cache, n_threads=nt)

    def cols(nt):
        c = ops.im2col(x, 3, 3, 1, 1, n_threads=nt)
        return c, ops.col2im(c, x.shape, 3, 3, 1, 1, n_threads=nt)

    def lstm(nt):
        hs, cache = rnn.lstm_forward(*seq, n_threads=nt)
        return (hs, *rnn.lstm_backward(dh, cache, n_threads=nt))

    return {
        "conv": conv,
        "pool": pool,
        "im2col": cols,
        "kneighbors_l2": lambda nt: knn.kneighbors(xq, xt, 5, n_threads=nt),
        "kneighbors_l1": lambda nt: knn.kneighbors(xq, xt, 5, "l1", n_threads=nt),
        "pairwise_l1": lambda nt: (knn.pairwise_distances(xq, xt, "l1", n_threads=nt),),
        "lstm": lstm,
        "sigmoid": lambda nt: (rnn.sigmoid(z, n_threads=nt),),
    }


def test_kernels_concurrent_threads_match_serial(rng, restore_blas_threads):
    tasks = _tasks(rng)
    serial = {name: run(1) for name, run in tasks.items()}
    jobs = [(name, nt) for name in tasks for nt in (1, 2, 1, 2)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [(name, pool.submit(tasks[name], nt)) for name, nt in jobs]
        results = [(name, f.result(timeout=120)) for name, f in futures]
    assert len(results) == 4 * len(tasks)
    for name, got in results:
        for a, b in zip(got, serial[name]):
            np.testing.assert_array_equal(a, b, strict=True, err_msg=name)


def test_pairwise_l2_concurrent_threads_match_serial(rng, restore_blas_threads):
    xq, xt = rng.standard_normal((40, 32)), rng.standard_normal((800, 32))
    want = knn.pairwise_distances(xq, xt, n_threads=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda nt: knn.pairwise_distances(xq, xt, n_threads=nt), [1, 2] * 4))
    for g in got:
        assert_matches_reference(g, want, np.float64)


def test_blas_single_thread_overlapping_calls_keep_and_restore_the_limit(restore_blas_threads):
    # The order two overlapping kernel calls in two Python threads can take:
    # A limits, B limits, A restores, B restores.
    _set_blas_threads(2)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with blas_single_thread():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with blas_single_thread():
            b_in.set()
            a_out.wait(10)
            seen["inside B after A left"] = _blas_threads()

    threads = [threading.Thread(target=f) for f in (a, b)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    seen["after both"] = _blas_threads()
    assert seen == {"inside B after A left": [1], "after both": [2]}


def test_blas_single_thread_from_a_worker_after_a_plain_limit_in_the_main_thread(restore_blas_threads):
    # threadpoolctl >= 3.6 leaves the main thread in sole control of a pthreads OpenBLAS after a
    # plain threadpool_limits() call and ignores limits from other threads; the kernels' limit
    # must still hold in a worker thread, and the main thread's limit come back afterwards.
    threadpool_limits(limits=2, user_api="blas")
    seen = {}

    def worker():
        with blas_single_thread():
            seen["inside"] = _blas_threads()

    th = threading.Thread(target=worker)
    th.start()
    th.join(30)
    seen["after"] = _blas_threads()
    assert seen == {"inside": [1], "after": [2]}


# --- the GIL ------------------------------------------------------------------------------------


def _main_thread_progress(call):
    """Run ``call`` in a worker while this thread loops; count the loop's time stamps that fall
    in the middle half of the call (the first and last quarters hold the Python around it)."""
    stamps, span = [], []
    started, done = threading.Event(), threading.Event()

    def worker():
        started.set()
        t0 = time.perf_counter()
        call()
        span.extend((t0, time.perf_counter()))
        done.set()

    th = threading.Thread(target=worker)
    th.start()
    started.wait()
    i = 0
    while not done.is_set():
        i += 1
        if i % 64 == 0:
            stamps.append(time.perf_counter())
    th.join()
    t0, t1 = span
    quarter = (t1 - t0) / 4
    return sum(t0 + quarter < s < t1 - quarter for s in stamps)


# Builders: each makes its inputs, then returns a call of about 0.1 s on one thread.


def _gil_im2col(rng):
    x = rng.standard_normal((8, 16, 64, 64))
    return lambda: ops.im2col(x, 5, 5, 1, 2, n_threads=1)


def _conv_problem(rng):
    return rng.standard_normal((16, 16, 64, 64)), rng.standard_normal((32, 16, 3, 3)), np.zeros(32)


def _gil_conv_forward(rng):
    x, w, b = _conv_problem(rng)
    return lambda: ops.conv_forward(x, w, b, 1, 1, n_threads=1)


def _gil_conv_backward(rng):
    out, cache = ops.conv_forward(*_conv_problem(rng), 1, 1)
    return lambda: ops.conv_backward(out, cache, n_threads=1)


def _gil_maxpool_forward(rng):
    x = rng.standard_normal((16, 32, 64, 64))
    return lambda: ops.maxpool_forward(x, 5, 5, 1, n_threads=1)


def _gil_kneighbors(rng):
    q, t = rng.standard_normal((600, 128)), rng.standard_normal((10000, 128))
    return lambda: knn.kneighbors(q, t, 5, n_threads=1)


def _gil_pairwise(metric, n_queries, n_train):
    def build(rng):
        q, t = rng.standard_normal((n_queries, 128)), rng.standard_normal((n_train, 128))
        return lambda: knn.pairwise_distances(q, t, metric, n_threads=1)
    return build


def _lstm_problem(rng):
    return [rng.standard_normal((8, 40, 64)), np.zeros((8, 512)), rng.standard_normal((64, 2048)) * 0.1,
            rng.standard_normal((512, 2048)) * 0.05, np.zeros(2048)]


def _gil_lstm_forward(rng):
    args = _lstm_problem(rng)
    return lambda: rnn.lstm_forward(*args, n_threads=1)


def _gil_lstm_backward(rng):
    h, cache = rnn.lstm_forward(*_lstm_problem(rng))
    return lambda: rnn.lstm_backward(h, cache, n_threads=1)


def _gil_sigmoid(rng):
    z = rng.standard_normal(8_000_000)
    return lambda: rnn.sigmoid(z, n_threads=1)


GIL_CALLS = {
    "im2col": _gil_im2col,
    "conv_forward": _gil_conv_forward,
    "conv_backward": _gil_conv_backward,
    "maxpool_forward": _gil_maxpool_forward,
    "kneighbors": _gil_kneighbors,
    "pairwise_distances_l1": _gil_pairwise("l1", 200, 20000),
    "pairwise_distances_l2": _gil_pairwise("l2", 600, 10000),
    "lstm_forward": _gil_lstm_forward,
    "lstm_backward": _gil_lstm_backward,
    "sigmoid": _gil_sigmoid,
}


@pytest.mark.parametrize("name", list(GIL_CALLS))
def test_kernel_releases_the_gil(rng, name):
    call = GIL_CALLS[name](rng)
    assert _main_thread_progress(call) > 0, f"{name} held the GIL for its whole run"


def test_gil_holding_call_blocks_the_main_thread():
    # The control: sorting ints runs entirely in C without releasing the GIL.
    values = np.random.default_rng(1).permutation(600_000).tolist()
    assert _main_thread_progress(lambda: sorted(values)) == 0


# --- child processes after OpenMP ---------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import multiprocessing as mp
    import sys

    import numpy as np

    from cs231n_fast import ops


    def work(n_threads):
        x = (np.arange(8 * 8 * 40 * 40) % 23).reshape(8, 8, 40, 40) * 0.5
        w = np.cos(np.arange(6 * 8 * 3 * 3)).reshape(6, 8, 3, 3)
        out, cache = ops.conv_forward(x, w, np.zeros(6), 1, 1, n_threads=n_threads)
        pooled, _ = ops.maxpool_forward(x, 2, 2, 2, n_threads=n_threads)
        return [out.tobytes(), ops.conv_backward(out, cache, n_threads=n_threads)[0].tobytes(), pooled.tobytes()]


    def child(queue, n_threads):
        queue.put(work(n_threads))


    if __name__ == "__main__":
        method, n_threads = sys.argv[1], int(sys.argv[2])
        parent = work(2)  # the parent has run OpenMP teams of 2 threads
        ctx = mp.get_context(method)
        queue = ctx.Queue()
        p = ctx.Process(target=child, args=(queue, n_threads))
        p.start()
        got = queue.get(timeout=50)
        p.join(10)
        assert p.exitcode == 0, p.exitcode
        assert got == parent, "the child's results differ from the parent's"
        print("ok")
    """
)


POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="fork and forkserver do not exist on Windows")


@pytest.mark.parametrize("method, n_threads", [("spawn", 2), pytest.param("forkserver", 2, marks=POSIX_ONLY),
                                               pytest.param("fork", 1, marks=POSIX_ONLY)])
def test_child_process_after_openmp_computes_the_same(tmp_path, method, n_threads):
    script = tmp_path / "child_after_openmp.py"
    script.write_text(CHILD)
    proc = subprocess.run([sys.executable, str(script), method, str(n_threads)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
