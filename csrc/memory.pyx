# cython: language_level=3
"""Pooled memory for the large arrays the kernels return (cs231n_fast._ext.memory).

Why. A training step allocates the same big arrays every iteration (an LSTM sequence's gates,
cells and hidden states, its gradients) and frees them when the next iteration replaces
them. glibc serves blocks this size with fresh ``mmap`` pages and returns them with
``munmap`` on free, so every iteration page-faults all of them in again: measured 4,000-5,300
minor faults and 10-20% of an LSTM sequence's forward + backward (N=64, T=16, D=256, H=512,
float32) on a 2-core machine.

What. :class:`Block` is a writable buffer over memory from this pool; arrays are made on it
with ``numpy.frombuffer`` and keep it alive (NumPy keeps the exporter as the array's base,
and views of views keep that same base), so the memory goes back to the pool only when the
last array using it is gone. The pool keeps freed blocks (page-rounded sizes, 64-byte
aligned) for reuse by a request of the same size up to a quarter smaller, at most
``MAX_BLOCKS`` of them and ``max_bytes`` in all, dropping the oldest first; :func:`release`
frees them all. Everything here runs with the GIL held (the interpreter's deallocation of a
Block does too), which serialises the pool.

A build with AddressSanitizer never keeps blocks (every block is freed at once), so a use
after free is still caught.
"""

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_WRITABLE
from libc.stdlib cimport free
from libc.string cimport memmove


cdef extern from *:
    """
    #include <stdlib.h>
    #if defined(__SANITIZE_ADDRESS__)
    #define CS_POOL_KEEP 0
    #elif defined(__has_feature)
    #if __has_feature(address_sanitizer)
    #define CS_POOL_KEEP 0
    #endif
    #endif
    #ifndef CS_POOL_KEEP
    #define CS_POOL_KEEP 1
    #endif
    static void *cs_aligned_alloc(size_t n) {
    #if defined(_WIN32)
        return _aligned_malloc(n, 64);
    #else
        void *p = NULL;
        return posix_memalign(&p, 64, n) == 0 ? p : NULL;
    #endif
    }
    static void cs_aligned_free(void *p) {
    #if defined(_WIN32)
        _aligned_free(p);
    #else
        free(p);
    #endif
    }
    """
    const int CS_POOL_KEEP
    void* cs_aligned_alloc(size_t n) nogil
    void cs_aligned_free(void* p) nogil


cdef enum:
    MAX_BLOCKS = 32
    _PAGE = 4096

cdef void* _ptrs[MAX_BLOCKS]
cdef size_t _sizes[MAX_BLOCKS]
cdef int _count = 0
cdef size_t _held = 0
cdef size_t _max_bytes = 256 << 20
cdef char _format[2]
_format[0] = b"B"
_format[1] = 0


cdef void _drop(int i) noexcept:
    """Remove entry ``i`` from the pool (not freeing it), keeping the others in age order."""
    global _count, _held
    _held -= _sizes[i]
    memmove(&_ptrs[i], &_ptrs[i + 1], (_count - i - 1) * sizeof(void*))
    memmove(&_sizes[i], &_sizes[i + 1], (_count - i - 1) * sizeof(size_t))
    _count -= 1


cdef void* _take(size_t size) noexcept:
    """A block of exactly ``size`` (page-rounded) bytes or more (up to 5/4 of it) from the pool,
    else a new one; NULL if out of memory."""
    cdef int i, best = -1
    for i in range(_count):
        if _sizes[i] >= size and _sizes[i] - size <= size // 4:
            if best < 0 or _sizes[i] < _sizes[best]:
                best = i
    if best >= 0:
        p = _ptrs[best]
        _drop(best)
        return p
    return cs_aligned_alloc(size)


cdef void _give(void* p, size_t size) noexcept:
    global _count, _held
    if not CS_POOL_KEEP or size > _max_bytes:
        cs_aligned_free(p)
        return
    while _count > 0 and (_count == MAX_BLOCKS or _held + size > _max_bytes):
        cs_aligned_free(_ptrs[0])  # the oldest
        _drop(0)
    _ptrs[_count] = p
    _sizes[_count] = size
    _count += 1
    _held += size


cdef class Block:
    """``nbytes`` of writable, 64-byte aligned, uninitialised memory from the pool."""

    cdef void* ptr
    cdef size_t size  # capacity (page-rounded)
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t shape0
    cdef Py_ssize_t stride0

    def __cinit__(self, Py_ssize_t nbytes):
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0; got {nbytes}")
        self.size = (<size_t>nbytes + _PAGE - 1) // _PAGE * _PAGE
        if self.size == 0:
            self.size = _PAGE
        self.ptr = _take(self.size)
        if self.ptr == NULL:
            raise MemoryError(f"could not allocate {nbytes} bytes")
        self.nbytes = nbytes
        self.shape0 = nbytes
        self.stride0 = 1

    def __dealloc__(self):
        if self.ptr != NULL:
            _give(self.ptr, self.size)
            self.ptr = NULL

    def __getbuffer__(self, Py_buffer* buf, int flags):
        buf.buf = self.ptr
        buf.obj = self
        buf.len = self.nbytes
        buf.readonly = 0
        buf.itemsize = 1
        buf.format = _format if (flags & PyBUF_FORMAT) else NULL
        buf.ndim = 1
        buf.shape = &self.shape0
        buf.strides = &self.stride0
        buf.suboffsets = NULL
        buf.internal = NULL

    def __releasebuffer__(self, Py_buffer* buf):
        pass


def release():
    """Free every block the pool holds (blocks in use are unaffected)."""
    while _count > 0:
        cs_aligned_free(_ptrs[0])
        _drop(0)


def info():
    """``(blocks held, bytes held, max bytes, keeps blocks)``."""
    return _count, _held, _max_bytes, bool(CS_POOL_KEEP)


def set_max_bytes(size_t n):
    """Cap the bytes the pool holds (0: hold nothing); frees the oldest blocks beyond it."""
    global _max_bytes
    _max_bytes = n
    while _count > 0 and _held > _max_bytes:
        cs_aligned_free(_ptrs[0])
        _drop(0)
