"""LSTM forward + backward: fast vs reference vs the six NumPy products vs torch.

Cases (issue 4): one LSTM step at N=64, D=256, H=512 and a T=16 sequence at the same sizes,
float32 and float64. Peers:

* ``reference``: the NumPy twin (:mod:`cs231n_fast.reference.rnn`), BLAS on the bench threads;
* ``six_matmuls``: only the step's six products in NumPy (x Wx, h Wh, da Wx^T, da Wh^T,
  x^T da, h^T da) — the floor a NumPy step cannot beat; step case only;
* ``torch``: ``torch.nn.LSTMCell`` (step) / ``torch.nn.LSTM(batch_first=True)`` (sequence),
  forward + backward with the same upstream gradients, when torch is importable.

Run: ``pytest benchmarks/bench_rnn.py --benchmark-only [--bench-threads N]``. Nothing here
asserts a speed; outputs of the fast path are checked against the reference once per case.
"""

import numpy as np
import pytest

from cs231n_fast import benchmarking as bm
from cs231n_fast import reference
from cs231n_fast.ops import rnn as fast

N, D, H, T = 64, 256, 512, 16
CASES = ("step", "seq16")
IMPLS = ("fast", "reference", "six_matmuls", "torch")


def _inputs(case, dtype):
    rng = np.random.default_rng(0)
    t = 1 if case == "step" else T
    x = rng.standard_normal((N, t, D)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    c0 = rng.standard_normal((N, H)).astype(dtype)
    Wx = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(dtype)
    Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(dtype)
    b = np.zeros(4 * H, dtype)
    dh = rng.standard_normal((N, t, H)).astype(dtype)
    dc = rng.standard_normal((N, H)).astype(dtype)
    return x, h0, c0, Wx, Wh, b, dh, dc


def _runner(case, impl, inp, n_threads):
    x, h0, c0, Wx, Wh, b, dh, dc = inp
    if impl in ("fast", "reference"):
        mod = fast if impl == "fast" else reference
        kw = {"n_threads": n_threads} if impl == "fast" else {}
        if case == "step":
            def run():
                nh, nc, cache = mod.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b, **kw)
                return (nh, nc) + tuple(mod.lstm_step_backward(dh[:, 0], dc, cache, **kw))
        else:
            def run():
                h, cache = mod.lstm_forward(x, h0, Wx, Wh, b, c0, **kw)
                return (h,) + tuple(mod.lstm_backward(dh, cache, **kw))
        return run
    if impl == "six_matmuls":
        if case != "step":
            pytest.skip("the six-product floor is defined for one step")
        xs, da = x[:, 0], np.ascontiguousarray(np.tile(dh[:, 0], 4))

        def run():
            a = xs @ Wx
            a += h0 @ Wh
            return a, da @ Wx.T, da @ Wh.T, xs.T @ da, h0.T @ da
        return run
    torch = bm._import_torch()
    tdt = torch.float32 if x.dtype == np.float32 else torch.float64
    if case == "step":
        mod = torch.nn.LSTMCell(D, H).to(tdt)
    else:
        mod = torch.nn.LSTM(D, H, batch_first=True).to(tdt)
    tx = torch.from_numpy(x[:, 0] if case == "step" else x).requires_grad_()
    th = torch.from_numpy(h0).requires_grad_()
    tc = torch.from_numpy(c0).requires_grad_()
    tdh, tdc = torch.from_numpy(np.ascontiguousarray(dh[:, 0] if case == "step" else dh)), torch.from_numpy(dc)

    def run():
        if case == "step":
            hn, cn = mod(tx, (th, tc))
            torch.autograd.backward([hn, cn], [tdh, tdc])
        else:
            out, _ = mod(tx, (th[None], tc[None]))
            out.backward(tdh)
        return tx.grad
    return run


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_lstm_forward_backward(benchmark, bench_threads, case, dtype, impl):
    if impl == "torch" and not bm.torch_available():
        pytest.skip("torch is not installed (pip install torch==2.13.0)")
    inp = _inputs(case, np.dtype(dtype))
    run = _runner(case, impl, inp, bench_threads)
    benchmark.group = f"lstm-{case}-{dtype}"
    benchmark.extra_info.update(N=N, D=D, H=H, T=1 if case == "step" else T, threads=bench_threads)
    with bm.thread_limits(bench_threads, torch=impl == "torch"):
        out = benchmark(run)
    if impl == "fast":
        want = _runner(case, "reference", tuple(a.astype(np.float64) for a in inp), bench_threads)()
        rtol = 1e-9 if dtype == "float64" else 2e-3
        for got, exp in zip(out, want):
            scale = float(np.max(np.abs(exp)))
            np.testing.assert_allclose(got, exp, rtol=rtol, atol=rtol * scale)
