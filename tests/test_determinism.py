"""Bitwise reproducibility of every kernel across thread counts and repeated runs.

The family tests compare ``n_threads`` 1, 2 and 3 once for conv, pooling, kneighbors, pairwise
L1 and the RNN/LSTM sequences (at H = 300, one block of hidden units, so those recurrent runs
never split). Here every kernel -- im2col, col2im, conv forward and backward, max pool forward
and backward, pairwise L1 and L2, kneighbors (L2, L1), the vanilla RNN and LSTM steps and
sequences forward and backward, sigmoid -- runs at ``n_threads`` 1, 2, 3, 4 (over-subscribed on
a 2-core machine) and None (the default), each twice, in float32 and float64, and every result
must equal the first bitwise (same dtype, same bits, NaN included).

Each problem is sized to cross the serial-work threshold and to split into at least 4 parts:
8 x 6 = 48 image planes (im2col, col2im, pooling), 9 images (conv forward and backward), 5 train
chunks of 1,024 rows (kneighbors), H = 1,024 hidden units = 4 blocks of 256 (recurrent),
100,000 elements (sigmoid).

Pairwise L2's Gram matrix is a GEMM cut into fixed blocks, each one single-threaded BLAS call
(OpenBLAS's multi-threaded SGEMM rounds differently with 1 and 2 threads, so one multi-threaded
call would not be reproducible).
"""

import numpy as np
import pytest

from cs231n_fast import knn, ops
from cs231n_fast.ops import rnn

#: Every count twice: once in order, once again after all the others.
THREADS = (1, 2, 3, 4, None) * 2


def assert_reproducible(run):
    """``run(n_threads)`` returns a tuple of arrays; every call must return the same bits."""
    first = run(1)
    for n_threads in THREADS:
        again = run(n_threads)
        assert len(again) == len(first)
        for i, (a, b) in enumerate(zip(first, again)):
            np.testing.assert_array_equal(b, a, strict=True, err_msg=f"output {i}, n_threads={n_threads}")


@pytest.fixture
def images(rng, dtype):
    """(8, 6, 21, 19) images with many ties (rounded to one decimal) and a NaN."""
    x = np.round(rng.standard_normal((8, 6, 21, 19)), 1).astype(dtype)
    x[3, 2, 7, 5] = np.nan
    return x


def test_im2col_col2im_bitwise_reproducible(images):
    def run(nt):
        cols = ops.im2col(images, 3, 2, (2, 1), (1, 2), n_threads=nt)
        return cols, ops.col2im(cols, images.shape, 3, 2, (2, 1), (1, 2), n_threads=nt)

    assert_reproducible(run)


def test_conv_forward_backward_bitwise_reproducible(rng, dtype):
    x = rng.standard_normal((9, 6, 14, 13)).astype(dtype)
    w = rng.standard_normal((5, 6, 3, 2)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    dout = rng.standard_normal((9, 5, 14, 12)).astype(dtype)

    def run(nt):
        out, cache = ops.conv_forward(x, w, b, 1, (1, 0), n_threads=nt)
        return (out, *ops.conv_backward(dout, cache, n_threads=nt))

    assert_reproducible(run)


def test_maxpool_forward_backward_bitwise_reproducible(images, rng):
    dout = rng.standard_normal((8, 6, 10, 18)).astype(images.dtype)

    def run(nt):
        out, cache = ops.maxpool_forward(images, 3, 2, (2, 1), n_threads=nt)  # overlapping windows
        return out, cache.argmax, ops.maxpool_backward(dout, cache, n_threads=nt)

    assert_reproducible(run)


@pytest.fixture
def samples(rng, dtype):
    """40 queries and 4,500 train rows (5 chunks of 1,024), with exact duplicates and ties."""
    xt = rng.integers(-3, 4, (4500, 24)).astype(dtype)
    xq = np.concatenate([xt[:5], rng.standard_normal((35, 24)).astype(dtype)])
    return xq, xt


def test_pairwise_l1_bitwise_reproducible(samples):
    assert_reproducible(lambda nt: (knn.pairwise_distances(*samples, "l1", n_threads=nt),))


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shapes", [(64, 4096), (4096, 64)], ids=["column-blocks", "row-blocks"])
def test_pairwise_l2_bitwise_reproducible(rng, dt, shapes):
    """The Gram GEMM is cut into fixed blocks (8 here, in either direction), one single-threaded
    BLAS call each; multi-threaded OpenBLAS SGEMM would round differently with 1 and 2 threads."""
    xq = rng.standard_normal((shapes[0], 64)).astype(dt)
    xt = rng.standard_normal((shapes[1], 64)).astype(dt)
    assert_reproducible(lambda nt: (knn.pairwise_distances(xq, xt, "l2", n_threads=nt),))


@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_kneighbors_bitwise_reproducible(samples, metric):
    assert_reproducible(lambda nt: knn.kneighbors(*samples, 7, metric, n_threads=nt))


def _recurrent(rng, dtype, kind, step, n=3, t=2, d=16, h=1024):
    """Inputs and upstream gradients of one recurrent function, H = 1,024 (4 blocks of 256)."""
    g = 4 if kind == "lstm" else 1
    x = rng.standard_normal((n, d) if step else (n, t, d))
    args = [x, rng.standard_normal((n, h))]
    if kind == "lstm" and step:
        args.append(rng.standard_normal((n, h)))
    args += [rng.standard_normal((d, g * h)) / np.sqrt(d), rng.standard_normal((h, g * h)) / np.sqrt(h),
             rng.standard_normal(g * h)]
    grads = [rng.standard_normal((n, h) if step else (n, t, h)) for _ in range(2 if kind == "lstm" and step else 1)]
    return [a.astype(dtype) for a in args], [a.astype(dtype) for a in grads]


@pytest.mark.parametrize("kind, step", [("rnn", True), ("rnn", False), ("lstm", True), ("lstm", False)],
                         ids=["rnn_step", "rnn", "lstm_step", "lstm"])
def test_recurrent_forward_backward_bitwise_reproducible(rng, dtype, kind, step):
    args, grads = _recurrent(rng, dtype, kind, step)
    suffix = f"{kind}_{'step_' if step else ''}"
    forward, backward = getattr(rnn, suffix + "forward"), getattr(rnn, suffix + "backward")

    def run(nt):
        *outs, cache = forward(*args, n_threads=nt)
        return (*outs, *backward(*grads, cache, n_threads=nt))

    assert_reproducible(run)


def test_sigmoid_bitwise_reproducible(rng, dtype):
    z = (rng.standard_normal(100_000) * 20).astype(dtype)
    z[:5] = [np.nan, np.inf, -np.inf, 0.0, 1e4]
    assert_reproducible(lambda nt: (rnn.sigmoid(z, n_threads=nt),))
