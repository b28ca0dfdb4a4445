"""Every kernel family at element indices past 2**31 (``-m slow``; CI runs them in its own stage).

A kernel that computes an offset in a 32-bit int goes wrong only past 2**31 elements, so each
test here runs one family on arrays of more than 2**31 elements (float32; uint8 images for the
features) and checks the results
at offsets beyond 2**31 against the NumPy twins (or a formula) on a small slice.

Memory. Large inputs are ``np.zeros`` (calloc): pages never written read as the kernel's shared
zero page and take no memory; random values are written only where the test looks. Only
outputs of that size take memory (8 GiB for 2**31 float32). Each test asserts that its peak
resident memory (``VmHWM``, reset first) stays within those outputs plus 1 GiB, so a hidden
full-size copy in the validation or the kernel fails it, and skips when the machine has less
memory available than that (none needs more than 9.5 GiB; the development machine and CI have
24 GiB).

Not covered at full size: the dropout hash's high index half (elements past 2**32: a 16 GiB
output); adam, momentum and rmsprop (two or three outputs of 8 GiB) share the chunk loop of
sgd, which is covered; svm_loss shares softmax_loss's row loop.
"""

import contextlib
import math
import sys

import numpy as np
import pytest
from helpers import assert_matches_reference

from cs231n_fast import knn, ops, reference
from cs231n_fast.ops import activations as fast_act
from cs231n_fast.ops import conv as fast_conv
from cs231n_fast.ops import features as fast_features
from cs231n_fast.ops import linear as fast_linear
from cs231n_fast.ops import losses as fast_losses
from cs231n_fast.ops import norm as fast_norm
from cs231n_fast.ops import optim as fast_optim
from cs231n_fast.ops import rnn as fast_rnn
from cs231n_fast.ops import temporal
from cs231n_fast.reference import activations as ref_act
from cs231n_fast.reference import features as ref_features
from cs231n_fast.reference import norm as ref_norm

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)"),
]

GIB = 2**30
#: (N, C, H, W) images of 2,148,532,224 > 2**31 elements; plane (-1, -1) starts at 2**31 exactly.
IMAGES = (3, 683, 1024, 1024)
#: (N, D) rows of 2**31 + 1024 elements; the last row starts at 2**31.
ROWS = (2**21 + 1, 1024)


def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _available_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return 0.0


@contextlib.contextmanager
def peak_within(outputs_gib):
    """Skip unless ``outputs_gib + 1`` GiB are available; then check that the block's peak
    resident memory grows by at most that much."""
    if _available_gib() < outputs_gib + 1.5:
        pytest.skip(f"needs {outputs_gib + 1.5:.1f} GiB of available memory")
    base = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to the current RSS
        f.write("5")
    yield
    grew = (_status_kib("VmHWM") - base) / 2**20
    assert grew <= outputs_gib + 1, f"peak resident memory grew by {grew:.2f} GiB"


def sparse(shape, rng, *where, dtype=np.float32):
    """Zeros of ``shape`` (untouched pages: no memory) with standard normal values at ``where``."""
    a = np.zeros(shape, dtype)
    for index in where:
        a[index] = rng.standard_normal(a[index].shape)
    return a


def past_2_31(a, index):
    """The flat offset of ``a[index]``'s first element (asserting it is past 2**31)."""
    first = np.ravel_multi_index(tuple(i % s for i, s in zip(index, a.shape)) + (0,) * (a.ndim - len(index)), a.shape)
    assert first >= 2**31, first
    return first


def f64(a):
    return np.asarray(a, np.float64)


# --- conv: im2col, col2im, the im2col + GEMM convolution, Winograd -------------------------------


def test_im2col_col2im_past_2_31(rng):
    x = sparse(IMAGES, rng, (0, 0), (-1, -2), (-1, -1))
    past_2_31(x, (-1, -1))
    with peak_within(8.0 + 1.1):
        cols = ops.im2col(x, 2, 2, 8)  # (3, 2732, 16384): windows 2x2 every 8 pixels
        np.testing.assert_array_equal(cols[-1, -8:], reference.im2col(x[-1:, -2:], 2, 2, 8)[0])
        np.testing.assert_array_equal(cols[0, :4], reference.im2col(x[:1, :1], 2, 2, 8)[0])
        dcols = np.zeros_like(cols)
        dcols[-1, -8:] = rng.standard_normal((8, cols.shape[2]))
        del cols
        dx = ops.col2im(dcols, IMAGES, 2, 2, 8)
        np.testing.assert_array_equal(dx[-1, -2:], reference.col2im(dcols[-1:, -8:], (1, 2, 1024, 1024), 2, 2, 8)[0])
        assert not dx[-1, -3].any() and not dx[1, 341].any()


def test_conv_gemm_forward_backward_past_2_31(rng):
    x = sparse(IMAGES, rng, (0, 0), (-1, -2), (-1, -1))
    w, b = rng.standard_normal((2, 683, 2, 2)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    with peak_within(8.0 + 0.2):
        out, cache = ops.conv_forward(x, w, b, 8, 0)  # (3, 2, 128, 128), C * 4 = 2732 per window
        want, _ = reference.conv_forward(f64(x[-1:, -2:]), w[:, -2:], b, 8, 0)
        assert_matches_reference(out[-1:], want, np.float32, "out, last image")
        assert_matches_reference(out[1], np.broadcast_to(b[:, None, None], (2, 128, 128)), np.float32, "zero image")
        dout = sparse(out.shape, rng, (-1,), (0,))
        del out
        dx, dw, db = ops.conv_backward(dout, cache)
        _, rcache = reference.conv_forward(f64(x[-1:, -2:]), w[:, -2:], b, 8, 0)
        rdx, rdw, _ = reference.conv_backward(f64(dout[-1:]), rcache)
        _, rcache0 = reference.conv_forward(f64(x[:1, :1]), w[:, :1], b, 8, 0)
        _, rdw0, _ = reference.conv_backward(f64(dout[:1]), rcache0)
        assert_matches_reference(dx[-1:, -2:], rdx, np.float32, "dx past 2**31")
        assert_matches_reference(dw[:, -2:], rdw, np.float32, "dw of the last planes")
        assert_matches_reference(dw[:, :1], rdw0, np.float32, "dw of the first plane")
        assert not dw[:, 1:-2].any() and not dx[1].any()
        assert_matches_reference(db, f64(dout).sum(axis=(0, 2, 3)), np.float32, "db")


def test_conv_winograd_forward_backward_past_2_31(rng, monkeypatch):
    import test_conv  # its Winograd error bounds

    # (n, 16, 64, 64): image n - 1 starts at 2**31. Two filters (Winograd forced: the heuristic
    # wants 16) keep the work and the output (1 GiB) small.
    n, c = 2**15 + 1, 16
    x = sparse((n, c, 64, 64), rng, (slice(-2, None),), (0,))
    past_2_31(x, (-1,))
    w, b = rng.standard_normal((2, c, 3, 3)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    monkeypatch.setattr(fast_conv, "_ALGO", "winograd")
    with peak_within(1.0 + 0.3):
        out, cache = ops.conv_forward(x, w, b, 1, 0)
        for sl in (slice(-2, None), slice(0, 1)):
            want, _ = reference.conv_forward(f64(x[sl]), w, b, 1, 0)
            assert np.all(np.abs(out[sl] - want) <= test_conv._wino_forward_bound(x[sl], w, b, 0, 0))
        dout = sparse(out.shape, rng, (slice(-2, None),))
        del out
        _, dw, db = ops.conv_backward(dout, cache, need_dx=False)
        _, rcache = reference.conv_forward(f64(x[-2:]), w, b, 1, 0)
        _, rdw, rdb = reference.conv_backward(f64(dout[-2:]), rcache)
        assert np.all(np.abs(dw - rdw) <= test_conv._wino_dw_bound(x[-2:], dout[-2:], 0, 0))
        assert_matches_reference(db, rdb, np.float32, "db")


# --- max pooling ----------------------------------------------------------------------------------


def test_maxpool_forward_backward_past_2_31(rng):
    x = sparse(IMAGES, rng, (0, 0), (-1, -1))
    x[-1, -1, 1023, 1022] = 7.0e3
    x[-1, -1, 0, 0] = np.nan
    past_2_31(x, (-1, -1))
    with peak_within(8.0 + 1.1):  # out and argmax: 4x4 windows, 1/16 each
        out, cache = ops.maxpool_forward(x, 4, 4, 4)
        want, rcache = reference.maxpool_forward(x[-1:, -1:], 4, 4, 4)
        np.testing.assert_array_equal(out[-1:, -1:], want)
        np.testing.assert_array_equal(cache.argmax[-1:, -1:], rcache.argmax)
        assert out[-1, -1, 255, 255] == 7.0e3 and np.isnan(out[-1, -1, 0, 0])
        assert cache.argmax[-1, -1, 255, 255] == 1023 * 1024 + 1022
        dout = sparse(out.shape, rng, (-1, -1), (0, 0))
        del out
        dx = ops.maxpool_backward(dout, cache)
        np.testing.assert_array_equal(dx[-1:, -1:], reference.maxpool_backward(dout[-1:, -1:], rcache))
        _, rcache0 = reference.maxpool_forward(x[:1, :1], 4, 4, 4)
        np.testing.assert_array_equal(dx[:1, :1], reference.maxpool_backward(dout[:1, :1], rcache0))
        assert not dx[1, 341].any()


# --- kNN --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_knn_past_2_31(rng, metric):
    q = rng.standard_normal((3, 1024)).astype(np.float32)
    xt = np.zeros(ROWS, np.float32)
    past_2_31(xt, (-1,))
    # Query 0's two nearest rows and query 1's nearest lie past 2**31; query 2's nearest is in
    # the middle and its second the first of the many zero rows (ties: the smallest index).
    planted = {ROWS[0] - 1: q[0], ROWS[0] - 3: q[0], ROWS[0] - 2: q[1], 2**20: q[2]}
    for row, base in planted.items():
        xt[row] = base + 0.01 * (1 + (row == ROWS[0] - 3)) * rng.standard_normal(1024)
    with peak_within(0.2):
        dist, idx = knn.kneighbors(q, xt, 2, metric)
        np.testing.assert_array_equal(idx, [[ROWS[0] - 1, ROWS[0] - 3], [ROWS[0] - 2, 0], [2**20, 0]])
        rows = xt[idx.ravel()].reshape(3, 2, 1024)
        diff = f64(q)[:, None, :] - f64(rows)
        want = np.sqrt((diff**2).sum(-1)) if metric == "l2" else np.abs(diff).sum(-1)
        assert_matches_reference(dist, want, np.float32)
        d = knn.pairwise_distances(xt, q, metric)  # (2**21 + 1, 3): row blocks of X past 2**31
        diff = f64(xt[-3:])[:, None, :] - f64(q)
        want = np.sqrt((diff**2).sum(-1)) if metric == "l2" else np.abs(diff).sum(-1)
        assert_matches_reference(d[-3:], want, np.float32, "last rows")
        norms = np.linalg.norm(f64(q), axis=1) if metric == "l2" else np.abs(f64(q)).sum(1)
        assert_matches_reference(d[7], norms, np.float32, "a zero row")


# --- affine layer ------------------------------------------------------------------------------------


def test_affine_forward_backward_past_2_31(rng):
    x = sparse(ROWS, rng, (slice(-2, None),), (0,))
    w, b = rng.standard_normal((1024, 8)).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    with peak_within(8.0 + 0.2):
        out, cache = fast_linear.affine_forward(x, w, b)
        assert_matches_reference(out[-2:], f64(x[-2:]) @ w + b, np.float32, "out past 2**31")
        assert_matches_reference(out[5], f64(b), np.float32, "a zero row")
        dout = sparse(out.shape, rng, (slice(-2, None),), (slice(0, 2),))
        del out
        dx, dw, db = fast_linear.affine_backward(dout, cache)
        assert_matches_reference(dx[-2:], f64(dout[-2:]) @ w.T, np.float32, "dx past 2**31")
        assert_matches_reference(dw, f64(x[-2:]).T @ dout[-2:] + f64(x[:1]).T @ dout[:1], np.float32, "dw")
        assert_matches_reference(db, f64(dout).sum(0), np.float32, "db")


# --- recurrent layers ---------------------------------------------------------------------------


def test_lstm_and_rnn_sequences_past_2_31(rng):
    # x (2, 16385, 65536): the last two steps of sequence 1 start past 2**31. Only 128 features
    # (sel) are nonzero, so x Wx = x[..., sel] Wx[sel] and the twin runs on those alone.
    n, t, d, hd = 2, 16385, 65536, 4
    sel = np.r_[0:64, d - 64 : d]
    x = np.zeros((n, t, d), np.float32)
    past_2_31(x, (1, t - 2))
    x[1, -3:, sel] = rng.standard_normal((128, 3))
    x[0, :2, sel] = rng.standard_normal((128, 2))
    h0 = rng.standard_normal((n, hd)).astype(np.float32)
    wx = (0.05 * rng.standard_normal((d, 4 * hd))).astype(np.float32)
    wh = (0.3 * rng.standard_normal((hd, 4 * hd))).astype(np.float32)
    b = (0.1 * rng.standard_normal(4 * hd)).astype(np.float32)
    xs = f64(x[:, :, sel])
    with peak_within(8.0 + 0.3):
        h, cache = fast_rnn.lstm_forward(x, h0, wx, wh, b)
        rh, rcache = reference.lstm_forward(xs, h0, wx[sel], wh, b)
        assert_matches_reference(h[:, -4:], rh[:, -4:], np.float32, "h, last steps")
        assert_matches_reference(h[:, :3], rh[:, :3], np.float32, "h, first steps")
        dh = rng.standard_normal(h.shape).astype(np.float32)
        dx, dh0, dwx, dwh, db = fast_rnn.lstm_backward(dh, cache)
        rdx, rdh0, rdwx, rdwh, rdb = reference.lstm_backward(f64(dh), rcache)
        assert_matches_reference(dx[1, -3:][:, sel], rdx[1, -3:], np.float32, "dx past 2**31")
        assert_matches_reference(dx[0, :3][:, sel], rdx[0, :3], np.float32, "dx, first steps")
        assert_matches_reference(dwx[sel], rdwx, np.float32, "dWx")
        assert not dwx[64:-64].any()
        for got, want, what in ((dh0, rdh0, "dh0"), (dwh, rdwh, "dWh"), (db, rdb, "db")):
            assert_matches_reference(got, want, np.float32, what)
        del dx
        # The vanilla RNN's products over the same x (forward only: its backward writes the
        # same (N, T, D) dx through the same code as the LSTM's).
        h, _ = fast_rnn.rnn_forward(x, h0, wx[:, :hd], wh[:, :hd], b[:hd])
        rh, _ = reference.rnn_forward(xs, h0, wx[sel, :hd], wh[:, :hd], b[:hd])
        assert_matches_reference(h[:, -4:], rh[:, -4:], np.float32, "rnn h, last steps")


def test_lstm_step_past_2_31(rng):
    x = sparse((2**15 + 1, 65536), rng, (slice(-2, None),))
    past_2_31(x, (-1,))
    h, c = rng.standard_normal((2, 2**15 + 1, 4)).astype(np.float32)
    wx = (0.05 * rng.standard_normal((65536, 16))).astype(np.float32)
    wh, b = rng.standard_normal((4, 16)).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    with peak_within(0.1):
        nh, nc, _ = fast_rnn.lstm_step_forward(x, h, c, wx, wh, b)
        rnh, rnc, _ = reference.lstm_step_forward(f64(x[-2:]), h[-2:], c[-2:], wx, wh, b)
        assert_matches_reference(nh[-2:], rnh, np.float32, "next_h")
        assert_matches_reference(nc[-2:], rnc, np.float32, "next_c")


# --- activations -------------------------------------------------------------------------------


def _dropout_keep_at(indices, seed, p):
    """The twin's keep-mask formula (reference.activations.dropout_keep) at flat ``indices``."""
    k0, k1 = ref_act.dropout_key(seed)
    i = np.asarray(indices, np.uint64)
    lo = (i & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi = (i >> np.uint64(32)).astype(np.uint32)
    h = ref_act._mix32(ref_act._mix32(lo ^ np.uint32(k0)) ^ (np.uint32(k1) ^ (hi * np.uint32(0x9E3779B9))))
    return (h >> np.uint32(8)) < ref_act.dropout_threshold(p)


def test_activations_past_2_31(rng):
    size = 2**31 + 3 * 16384 + 5  # several chunks past 2**31, and a short last one
    x = sparse((size,), rng, (slice(-70000, None),), (slice(0, 100),))
    with peak_within(8.0 + 0.2):
        out, _ = fast_act.dropout_forward(x, 0.6, "train", seed=11)
        tail = np.arange(size - 70000, size)
        want = np.where(_dropout_keep_at(tail, 11, 0.6), x[-70000:] / np.float32(0.6), np.float32(0))
        np.testing.assert_allclose(out[-70000:], want, rtol=1e-6)
        assert 0.55 < np.mean(_dropout_keep_at(tail, 11, 0.6)) < 0.65
        del out
        out, cache = fast_act.relu_forward(x)
        np.testing.assert_array_equal(out[-70000:], np.maximum(x[-70000:], 0))
        del out
        dout = sparse((size,), rng, (slice(-70000, None),))
        dx = fast_act.relu_backward(dout, cache)
        np.testing.assert_array_equal(dx[-70000:], np.where(x[-70000:] > 0, dout[-70000:], 0))
        del dx, dout
        alpha = rng.uniform(0, 0.5, 683).astype(np.float32)
        xi = sparse(IMAGES, rng, (-1, -1), (0, 0))
        out, _ = fast_act.prelu_forward(xi, alpha)
        np.testing.assert_array_equal(out[-1, -1], np.where(xi[-1, -1] > 0, xi[-1, -1], alpha[-1] * xi[-1, -1]))
        np.testing.assert_array_equal(out[0, 0], np.where(xi[0, 0] > 0, xi[0, 0], alpha[0] * xi[0, 0]))


def test_maxout_past_2_31(rng):
    x = sparse(ROWS, rng, (slice(-2, None),))
    w, b = rng.standard_normal((3, 1024, 5)).astype(np.float32), rng.standard_normal((3, 5)).astype(np.float32)
    with peak_within(0.3):
        out, _ = fast_act.maxout_forward(x, w, b)
        want, _ = ref_act.maxout_forward(f64(x[-2:]), w, b)
        assert_matches_reference(out[-2:], want, np.float32)


# --- word embedding, softmax loss ---------------------------------------------------------------


def test_word_embedding_past_2_31(rng):
    vocab = ROWS[0]
    W = sparse(ROWS, rng, (-1,), (5,))
    ids = np.array([[vocab - 1, 5, vocab - 1], [0, vocab - 1, 5]])
    with peak_within(8.0 + 0.1):
        out, cache = temporal.word_embedding_forward(ids, W)
        np.testing.assert_array_equal(out, W[ids])
        dout = rng.standard_normal(out.shape).astype(np.float32)
        dW = temporal.word_embedding_backward(dout, cache)
        assert_matches_reference(dW[-1], f64(dout[ids == vocab - 1]).sum(0), np.float32, "row past 2**31")
        assert_matches_reference(dW[5], f64(dout[ids == 5]).sum(0), np.float32, "row 5")
        assert not dW[1:5].any() and not dW[6:-1].any()


def test_softmax_loss_past_2_31(rng):
    x = sparse(ROWS, rng, (slice(-2, None),))
    y = rng.integers(0, 1024, ROWS[0])
    with peak_within(8.0 + 0.1):
        loss, dx = fast_losses.softmax_loss(x, y)
        rloss, rdx = reference.softmax_loss(f64(x[-2:]), y[-2:])
        n = ROWS[0]
        assert loss == pytest.approx(((n - 2) * math.log(1024) + 2 * rloss) / n, rel=1e-6)
        assert_matches_reference(dx[-2:], rdx * 2 / n, np.float32, "dx past 2**31")
        zero_row = np.full(1024, 1 / 1024) / n
        zero_row[y[7]] -= 1 / n
        assert_matches_reference(dx[7], zero_row, np.float32, "a zero row")


# --- normalisation ---------------------------------------------------------------------------------


def test_batchnorm_layernorm_past_2_31(rng):
    x = sparse(IMAGES, rng, (0, -1), (-1, -1), (-1, -2))
    gamma, beta = rng.standard_normal(683).astype(np.float32), rng.standard_normal(683).astype(np.float32)
    with peak_within(8.0 + 0.2):
        out, _, _, cache = fast_norm.spatial_batchnorm_forward(x, gamma, beta)
        rout, _, _, rcache = ref_norm.spatial_batchnorm_forward(f64(x[:, -2:]), gamma[-2:], beta[-2:])
        assert_matches_reference(out[:, -2:], rout, np.float32, "channels past 2**31")
        dout = sparse(IMAGES, rng, (slice(None), -1), (-1, -2))
        del out
        dx, dgamma, dbeta = fast_norm.spatial_batchnorm_backward(dout, cache)
        rdx, rdgamma, rdbeta = ref_norm.spatial_batchnorm_backward(f64(dout[:, -2:]), rcache)
        assert_matches_reference(dx[:, -2:], rdx, np.float32, "dx")
        assert_matches_reference(dgamma[-2:], rdgamma, np.float32, "dgamma")
        assert_matches_reference(dbeta[-2:], rdbeta, np.float32, "dbeta")
        del dx, dout
        xr = sparse(ROWS, rng, (slice(-2, None),))
        g, bt = rng.standard_normal(1024).astype(np.float32), rng.standard_normal(1024).astype(np.float32)
        out, _ = fast_norm.layernorm_forward(xr, g, bt)
        rout, _ = ref_norm.layernorm_forward(f64(xr[-2:]), g, bt)
        assert_matches_reference(out[-2:], rout, np.float32, "layernorm rows past 2**31")
        np.testing.assert_array_equal(out[9], bt)  # a zero row: xhat = 0


# --- update rules ------------------------------------------------------------------------------------


def test_sgd_sum_of_squares_l2_penalty_past_2_31(rng):
    size = 2**31 + 8192 * 3 + 7
    w = sparse((size,), rng, (slice(-20000, None),), (slice(0, 10),))
    dw = sparse((size,), rng, (slice(-20000, None),))
    with peak_within(8.0 + 0.1):
        next_w = fast_optim.sgd(w, dw, 0.1)
        assert_matches_reference(next_w[-20000:], f64(w[-20000:]) - 0.1 * f64(dw[-20000:]), np.float32)
        np.testing.assert_array_equal(next_w[:10], w[:10])
        del next_w
        want = math.fsum(f64(w[-20000:]) ** 2) + math.fsum(f64(w[:10]) ** 2)
        assert fast_optim.sum_of_squares(w) == pytest.approx(want, rel=1e-12)
        penalty, dw2 = fast_linear.l2_penalty(w, dw, 0.5)
        assert penalty == pytest.approx(0.25 * want, rel=1e-12)
        assert_matches_reference(dw2[-20000:], f64(dw[-20000:]) + 0.5 * f64(w[-20000:]), np.float32)


# --- image features --------------------------------------------------------------------------------


def test_image_features_past_2_31(rng):
    # HOG reads the first three of C channels: 1,024 channels make 2049 images of 32 x 32 pass
    # 2**31 elements with little work. The hue histogram takes exactly 3 channels: 699,052
    # such images.
    hog_imgs = np.zeros((2049, 32, 32, 1024), np.uint8)
    hog_imgs[-2:, :, :, :3] = rng.integers(0, 256, (2, 32, 32, 3))
    past_2_31(hog_imgs, (-1,))
    hsv_imgs = np.zeros((2**31 // 3072 + 2, 32, 32, 3), np.uint8)
    hsv_imgs[-2:] = rng.integers(0, 256, (2, 32, 32, 3))
    past_2_31(hsv_imgs, (-1,))
    with peak_within(0.2):
        hog = fast_features.hog_features(hog_imgs)
        want = ref_features.hog_features(hog_imgs[-2:, :, :, :3])
        np.testing.assert_allclose(hog[-2:], want, rtol=0, atol=1e-12 * np.abs(want).max())
        assert not hog[:-2].any()
        hist = fast_features.color_histograms_hsv(hsv_imgs)
        np.testing.assert_array_equal(hist[-2:], ref_features.color_histograms_hsv(hsv_imgs[-2:]))
        np.testing.assert_array_equal(hist[5], np.eye(10)[0])  # black: every hue 0
