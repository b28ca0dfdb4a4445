"""The pool the kernels' large results come from (cs231n_fast._memory, csrc/memory.pyx)."""

import pickle
import threading

import numpy as np
import pytest

import cs231n_fast
from cs231n_fast import _memory
from cs231n_fast._ext import memory as _mem
from cs231n_fast.ops import rnn

BIG = (512, 1024)  # 2 MiB of float32: from the pool
SMALL = (16, 16)


@pytest.fixture(autouse=True)
def fresh_pool():
    """Each test starts from an empty pool with the default cap, and leaves it so."""
    _memory.release()
    cap = _memory.info()["max_bytes"]
    yield
    _memory.set_max_bytes(cap)
    _memory.release()


def _addr(a):
    return a.__array_interface__["data"][0]


def _block(a):
    """The pool Block at the end of ``a``'s chain of bases, or None."""
    while isinstance(a, (np.ndarray, memoryview)):
        a = a.base if isinstance(a, np.ndarray) else a.obj
    return a if isinstance(a, _mem.Block) else None


def test_large_arrays_come_from_the_pool_small_ones_from_numpy():
    a = _memory.empty(BIG, np.float32)
    assert a.shape == BIG and a.dtype == np.float32
    assert a.flags.c_contiguous and a.flags.writeable
    assert _block(a) is not None
    assert _addr(a) % 64 == 0
    s = _memory.empty(SMALL, np.float64)
    assert s.shape == SMALL and s.dtype == np.float64 and s.base is None
    n = _memory.empty(300_000, "float64")  # an int shape
    assert n.shape == (300_000,) and _block(n) is not None


KEEPS = _memory.info()["enabled"]  # False only in the AddressSanitizer build, which keeps nothing


def test_freed_block_is_reused_by_the_next_request_of_that_size():
    a = _memory.empty(BIG, np.float32)
    where = _addr(a)
    del a
    if not KEEPS:
        assert _memory.info()["blocks"] == 0 and _memory.info()["bytes"] == 0
        return
    assert _memory.info()["blocks"] == 1
    b = _memory.empty(BIG, np.float32)
    assert _addr(b) == where
    assert _memory.info()["blocks"] == 0


def test_a_view_keeps_the_memory_out_of_the_pool():
    a = _memory.empty(BIG, np.float32)
    a[...] = 7.0
    col = a[:, 3]  # views keep the chain of bases to the Block alive
    flat = a.reshape(-1)[::5]
    del a
    assert _memory.info()["blocks"] == 0
    b = _memory.empty(BIG, np.float32)
    b[...] = -1.0
    assert np.all(col == 7.0) and np.all(flat == 7.0)
    assert not np.shares_memory(b, col)


def test_release_and_cap():
    arrays = [_memory.empty(BIG, np.float32) for _ in range(3)]
    del arrays
    if not KEEPS:
        assert _memory.info()["blocks"] == 0
        return
    info = _memory.info()
    assert info["blocks"] == 3 and info["bytes"] == 3 * 2 * 2**20
    _memory.set_max_bytes(5 * 2**20)  # drops the oldest beyond the cap
    assert _memory.info()["blocks"] == 2
    _memory.release()
    assert _memory.info()["blocks"] == 0 and _memory.info()["bytes"] == 0
    _memory.set_max_bytes(0)
    a = _memory.empty(BIG, np.float32)
    del a
    assert _memory.info()["blocks"] == 0


def test_set_max_bytes_rejects_bad_values():
    with pytest.raises(ValueError, match="max_bytes"):
        _memory.set_max_bytes(-1)
    for bad in (1.5, "1", True, None):
        with pytest.raises(TypeError, match="max_bytes"):
            _memory.set_max_bytes(bad)


def test_block_rejects_negative_size():
    with pytest.raises(ValueError, match="nbytes"):
        _mem.Block(-1)


def test_pooled_arrays_pickle_and_copy_like_any_array():
    a = _memory.empty(BIG, np.float32)
    a[...] = np.arange(a.size, dtype=np.float32).reshape(BIG)
    b = pickle.loads(pickle.dumps(a))
    assert np.array_equal(a, b) and b.flags.writeable
    c = a.copy()
    assert c.base is None and np.array_equal(a, c)


def test_many_threads_allocating_and_freeing_keep_their_contents():
    errors = []

    def work(k):
        try:
            for i in range(50):
                a = _memory.empty((256 + 16 * (i % 3), 1024), np.float32)
                a[...] = k
                if not np.all(a == k):
                    errors.append((k, i))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_kernel_results_from_the_pool_are_independent_arrays(rng):
    n, t, d, h = 64, 16, 32, 256  # gates (N, T, 4H) float32: 4 MiB, from the pool
    x = rng.standard_normal((n, t, d)).astype(np.float32)
    h0 = rng.standard_normal((n, h)).astype(np.float32)
    Wx = (rng.standard_normal((d, 4 * h)) * 0.1).astype(np.float32)
    Wh = (rng.standard_normal((h, 4 * h)) * 0.1).astype(np.float32)
    b = np.zeros(4 * h, np.float32)
    dh = rng.standard_normal((n, t, h)).astype(np.float32)
    out1, cache1 = rnn.lstm_forward(x, h0, Wx, Wh, b)
    grads1 = rnn.lstm_backward(dh, cache1)
    keep = [out1.copy()] + [g.copy() for g in grads1]
    assert _block(cache1.gates) is not None
    # A second call must not hand out memory the first call's results still use ...
    out2, cache2 = rnn.lstm_forward(x * 2, h0, Wx, Wh, b)
    grads2 = rnn.lstm_backward(dh * 3, cache2)
    for a, want in zip([out1, *grads1], keep):
        assert np.array_equal(a, want)
    for a in [out2, cache2.gates, cache2.c, *grads2]:
        for other in [out1, cache1.gates, cache1.c, cache1.h, *grads1]:
            assert not np.shares_memory(a, other)
    # ... and after the first results are gone, the same call gives the same bits.
    del out1, cache1, grads1
    out3, cache3 = rnn.lstm_forward(x * 2, h0, Wx, Wh, b)
    assert np.array_equal(out3, out2)
    for g3, g2 in zip(rnn.lstm_backward(dh * 3, cache3), grads2):
        assert np.array_equal(g3, g2)


def test_public_release_memory_and_memory_info():
    a = _memory.empty(BIG, np.float32)
    del a
    assert cs231n_fast.memory_info()["blocks"] == (1 if KEEPS else 0)
    cs231n_fast.release_memory()
    cap = _memory.info()["max_bytes"]
    assert cs231n_fast.memory_info() == dict(blocks=0, bytes=0, max_bytes=cap, enabled=KEEPS)
