"""The float32 sequences' packed recurrent product (csrc/rnn_gemm.h) and their one-barrier time
loop (csrc/rnn.pyx, ``_seq_forward_packed`` / ``_seq_backward_packed``).

float32 ``rnn_forward``/``lstm_forward`` and their backwards multiply ``h Wh`` and ``da Wh^T``
from Wh packed once per call into 16-column panels; every element is one chain of fused
multiply-adds in k order, so the results must not depend on the thread count (the hidden units
are split by the team's size), on the register tiling (partial panels, partial row tiles) or on
the instruction set (the CI fingerprint compares the portable build bitwise). Tolerances:
tests.helpers.RTOL (float32 2e-4 relative to the largest float64 reference value).
"""

import numpy as np
import pytest

from cs231n_fast import reference
from cs231n_fast.ops import rnn as fast

from helpers import assert_matches_reference

# (N, T, D, H): batch of one, N not a multiple of the row tiles (8 / 6), H around and not a
# multiple of the 16-column panels, H wide enough for 2 and 3 threads (blocks of 256 units).
SHAPES = [
    (1, 1, 1, 1),
    (1, 3, 5, 17),
    (3, 2, 7, 15),
    (9, 4, 13, 33),
    (13, 3, 20, 100),
    (1, 2, 9, 520),
    (7, 3, 11, 517),
    (10, 2, 5, 777),
]


def _params(rng, kind, n, t, d, h, scale=0.5):
    g = 4 if kind == "lstm" else 1
    x = rng.standard_normal((n, t, d))
    h0 = rng.standard_normal((n, h))
    Wx = rng.standard_normal((d, g * h)) * scale / np.sqrt(d)
    Wh = rng.standard_normal((h, g * h)) * scale / np.sqrt(h)
    b = rng.standard_normal(g * h) * 0.3
    return [a.astype(np.float32) for a in (x, h0, Wx, Wh, b)]


def _pair(kind):
    if kind == "lstm":
        return fast.lstm_forward, fast.lstm_backward, reference.lstm_forward, reference.lstm_backward
    return fast.rnn_forward, fast.rnn_backward, reference.rnn_forward, reference.rnn_backward


def _run(kind, args, dh=None, **kw):
    fwd, bwd, _, _ = _pair(kind)
    h, cache = fwd(*args, **kw)
    if dh is None:
        dh = np.linspace(-1, 1, h.size, dtype=np.float32).reshape(h.shape)
    return (h, *bwd(dh, cache, **kw))


@pytest.fixture
def blas_path():
    """Run the body with the BLAS-per-step path, restoring the packed one afterwards."""
    fast.PACKED_RECURRENT = False
    yield
    fast.PACKED_RECURRENT = True


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_packed_sequence_matches_reference(rng, kind, shape):
    assert fast.PACKED_RECURRENT
    args = _params(rng, kind, *shape)
    _, _, rfwd, rbwd = _pair(kind)
    got = _run(kind, args)
    rh, rcache = rfwd(*(a.astype(np.float64) for a in args))
    dh = np.linspace(-1, 1, rh.size).reshape(rh.shape).astype(np.float32).astype(np.float64)
    want = (rh, *rbwd(dh, rcache))
    for name, g, r in zip(("h", "dx", "dh0", "dWx", "dWh", "db"), got, want):
        assert g.dtype == np.float32
        assert_matches_reference(g, r, np.float32, name)


@pytest.mark.parametrize("shape", [(7, 3, 11, 517), (10, 2, 5, 777), (1, 2, 9, 520)],
                         ids=["517", "777", "N1"])
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_packed_bitwise_identical_across_thread_counts(rng, kind, shape):
    args = _params(rng, kind, *shape)
    results = [_run(kind, args, n_threads=nt) for nt in (1, 2, 3, 4)]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_packed_agrees_with_blas_path(rng, kind, blas_path):
    """The BLAS-per-step path (float64's, and float32's with PACKED_RECURRENT off) and the
    packed one agree within the float32 tolerance, and the switch really changes the path."""
    args = _params(rng, kind, 9, 4, 13, 517)
    blas = _run(kind, args, n_threads=2)
    fast.PACKED_RECURRENT = True
    packed = _run(kind, args, n_threads=2)
    assert any(not np.array_equal(a, b) for a, b in zip(blas, packed))
    for name, a, b in zip(("h", "dx", "dh0", "dWx", "dWh", "db"), packed, blas):
        assert_matches_reference(a, b.astype(np.float64), np.float32, name)


def test_packed_lstm_c0_and_dc0(rng):
    """c0 given and the returned dc0 go through the packed loop's first / last step."""
    args = _params(rng, "lstm", 5, 3, 7, 530)
    c0 = rng.standard_normal((5, 530)).astype(np.float32)
    h, cache = fast.lstm_forward(*args, c0, n_threads=2)
    dh = rng.standard_normal(h.shape).astype(np.float32)
    got = fast.lstm_backward(dh, cache, n_threads=2, return_dc0=True)
    one = fast.lstm_backward(dh, fast.lstm_forward(*args, c0, n_threads=1)[1], n_threads=1,
                             return_dc0=True)
    for a, b in zip(got, one):
        np.testing.assert_array_equal(a, b)
    # dc0 against float64 by differences of the loss sum(h * dh) in c0 (central, two points).
    x64 = [a.astype(np.float64) for a in args]
    rh, rcache = reference.lstm_forward(*x64, c0.astype(np.float64))
    want = reference.lstm_backward(dh.astype(np.float64), rcache)
    for name, g, r in zip(("dx", "dh0", "dWx", "dWh", "db"), got[:5], want):
        assert_matches_reference(g, r, np.float32, name)
    eps = 1e-6
    for i, j in ((0, 0), (4, 529)):
        cp, cm = c0.astype(np.float64), c0.astype(np.float64)
        cp[i, j] += eps
        cm[i, j] -= eps
        fp = (reference.lstm_forward(*x64, cp)[0] * dh).sum()
        fm = (reference.lstm_forward(*x64, cm)[0] * dh).sum()
        assert abs(got[5][i, j] - (fp - fm) / (2 * eps)) <= 2e-4 * max(1.0, abs(got[5]).max())


def test_packed_propagates_nan(rng):
    """A NaN in Wh reaches exactly the outputs NumPy's reach (zero padding swallows nothing)."""
    args = _params(rng, "rnn", 3, 2, 4, 37)
    args[3][5, 36] = np.nan  # the last column: it lives in the partial last panel
    h = fast.rnn_forward(*args)[0]
    want = reference.rnn_forward(*(a.astype(np.float64) for a in args))[0]
    assert np.isnan(h[:, 0, 36]).all() and np.isfinite(h[:, 0, :36]).all()
    np.testing.assert_array_equal(np.isnan(h), np.isnan(want))


def test_packed_inputs_unchanged(rng):
    args = _params(rng, "lstm", 4, 3, 6, 517)
    copies = [a.copy() for a in args]
    h, cache = fast.lstm_forward(*args, n_threads=2)
    dh = rng.standard_normal(h.shape).astype(np.float32)
    dh_copy = dh.copy()
    fast.lstm_backward(dh, cache, n_threads=2)
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(dh, dh_copy)


_ISA_SCRIPT = """
import sys
import numpy as np
from cs231n_fast.ops import rnn
rng = np.random.default_rng(7)
out = {}
for kind, g in (("rnn", 1), ("lstm", 4)):
    n, t, d, h = 9, 3, 5, 517
    x = rng.standard_normal((n, t, d)).astype(np.float32)
    h0 = rng.standard_normal((n, h)).astype(np.float32)
    wx = (rng.standard_normal((d, g * h)) / 3).astype(np.float32)
    wh = (rng.standard_normal((h, g * h)) / 23).astype(np.float32)
    b = rng.standard_normal(g * h).astype(np.float32)
    fwd, bwd = getattr(rnn, kind + "_forward"), getattr(rnn, kind + "_backward")
    y, cache = fwd(x, h0, wx, wh, b, n_threads=2)
    grads = bwd(np.linspace(-1, 1, y.size, dtype=np.float32).reshape(y.shape), cache, n_threads=2)
    out.update({f"{kind}{i}": v for i, v in enumerate((y,) + tuple(grads))})
np.savez(sys.argv[1], **out)
"""


@pytest.mark.parametrize("isa", ["avx2", "portable"])
def test_every_instruction_set_gives_the_same_bits(tmp_path, isa):
    """The AVX-512, AVX2 and portable (fmaf) micro-kernels compute the same fma chains: capped
    by CS231N_FAST_GEMM_ISA (read once per process), each path gives the default's bits. (On a
    CPU without AVX-512 or AVX2 the cap changes nothing and the test is trivially true.)"""
    import os
    import subprocess
    import sys

    files = {}
    for cap in ("", isa):
        env = dict(os.environ, CS231N_FAST_GEMM_ISA=cap)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        path = tmp_path / f"out_{cap or 'default'}.npz"
        subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(path)], env=env, check=True)
        files[cap] = np.load(path)
    default, capped = files[""], files[isa]
    assert sorted(default.files) == sorted(capped.files) and len(default.files) == 12
    for k in default.files:
        np.testing.assert_array_equal(default[k], capped[k], err_msg=k)
