"""Result and scratch arrays of the kernels, from a pool of reused memory (``_ext.memory``).

Arrays of at least :data:`POOL_MIN_BYTES` come from the pool: their memory goes back to it when
the last array using it is gone, and the next call asking for that size gets it without the
page faults of fresh memory (see ``csrc/memory.pyx``: 10-20% of an LSTM sequence's forward +
backward at N=64, T=16, H=512). Smaller arrays are plain ``numpy.empty`` (glibc reuses those
without faults). The arrays are ordinary writable C-contiguous ndarrays whose chain of ``base``
ends at a pool block; they pickle, copy and view as any other.
"""

import math

import numpy as np

from ._ext import memory as _mem

__all__ = ["POOL_MIN_BYTES", "empty", "release", "info", "set_max_bytes"]

#: Arrays smaller than this come from ``numpy.empty``.
POOL_MIN_BYTES = 1 << 20


def empty(shape, dtype):
    """An uninitialised C-contiguous array, from the pool when it is large."""
    dtype = np.dtype(dtype)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes < POOL_MIN_BYTES:
        return np.empty(shape, dtype)
    return np.frombuffer(_mem.Block(nbytes), dtype=dtype, count=count).reshape(shape)


def release():
    """Free the memory the pool keeps for reuse (arrays in use are unaffected)."""
    _mem.release()


def info():
    """``dict(blocks=..., bytes=..., max_bytes=..., enabled=...)`` of the pool."""
    blocks, held, cap, keeps = _mem.info()
    return dict(blocks=blocks, bytes=held, max_bytes=cap, enabled=keeps)


def set_max_bytes(n):
    """Cap the memory the pool keeps for reuse, in bytes (0 keeps none); returns the old cap."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"max_bytes must be a non-negative int; got {n!r} of type {type(n).__name__}")
    if n < 0:
        raise ValueError(f"max_bytes must be a non-negative int; got {n}")
    old = _mem.info()[2]
    _mem.set_max_bytes(int(n))
    return old
