"""Max-pool cases: forward + backward of ours, the NumPy twin and torch's ``max_pool2d``."""

import math
from dataclasses import dataclass

import numpy as np

from ._common import (
    DTYPES,
    IMPLS,
    _check_outputs,
    _k,
    _normal_maker,
    _require_torch,
    course_runner,
    twin_oracle,
)


@dataclass(frozen=True)
class PoolCase:
    """One max-pool benchmark: x (n, c, h, w), window kh × kw, stride, no padding."""

    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    stride: int
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "pool"
    dtypes = DTYPES
    quick_dtypes = DTYPES
    impls = IMPLS
    quick_impls = IMPLS

    @property
    def id(self):
        return f"pool-{self.n}x{self.c}x{self.h}x{self.w}-k{_k(self.kh, self.kw)}s{self.stride}"

    @property
    def out_hw(self):
        return (
            (self.h - self.kh) // self.stride + 1,
            (self.w - self.kw) // self.stride + 1,
        )

    @property
    def out_shape(self):
        return (self.n, self.c) + self.out_hw

    def bytes_moved(self, dtype):
        """Nominal bytes of forward + backward: x and out, each read or written twice."""
        x_size = self.n * self.c * self.h * self.w
        out_size = math.prod(self.out_shape)
        return 2 * np.dtype(dtype).itemsize * (x_size + out_size)

    def gemm_flops(self):
        """None: pooling is bound by memory, not by products."""
        return None

    def work(self, dtype):
        return {"bytes": self.bytes_moved(dtype)}



POOL_CASES = (
    PoolCase(64, 32, 32, 32, kh=2, kw=2, stride=2),
    PoolCase(100, 3, 32, 32, kh=2, kw=2, stride=2, quick=True),
    PoolCase(64, 32, 32, 32, kh=3, kw=3, stride=2, quick=True),  # overlapping windows
)


def inputs(case, dtype, seed=0):
    """``x, dout``: ``x`` distinct (no ties), so every implementation routes the gradient to
    the same element; float32-representable."""
    rng = np.random.default_rng(seed)
    normal = _normal_maker(rng, dtype)
    size = case.n * case.c * case.h * case.w
    assert size < 2**24, "pool inputs must be distinct float32 integers"
    # A permutation of distinct integers scaled by a power of two: exact and tie-free.
    x = (rng.permutation(size) - size // 2).astype(np.float32) * np.float32(2.0**-20)
    return {
        "x": x.reshape(case.n, case.c, case.h, case.w).astype(dtype),
        "dout": normal(*case.out_shape),
    }


def numpy_runner(module, case, inputs, n_threads):
    x, dout = inputs["x"], inputs["dout"]
    kh, kw, stride = case.kh, case.kw, case.stride
    forward, backward = module.maxpool_forward, module.maxpool_backward

    def call():
        out, cache = forward(x, kh, kw, stride, n_threads=n_threads)
        dx = backward(dout, cache, n_threads=n_threads)
        return out, dx

    return call


def torch_runner(case, inputs):
    torch = _require_torch()
    functional = torch.nn.functional
    dout = torch.from_numpy(inputs["dout"])
    x = torch.from_numpy(inputs["x"]).requires_grad_(True)
    kernel_size, stride = (case.kh, case.kw), case.stride

    def call():
        out = functional.max_pool2d(x, kernel_size, stride=stride)
        (dx,) = torch.autograd.grad(out, (x,), grad_outputs=dout)
        return out, dx

    return call


def runner(case, impl, inputs, n_threads):
    return course_runner(numpy_runner, torch_runner, case, impl, inputs, n_threads)


def oracle(case, inputs):
    """The NumPy twin in float64 on the float64 cast of ``inputs``."""
    return twin_oracle(numpy_runner, case, inputs)


def names(case):
    return ("out", "dx")


def check(case, outputs, expected, dtype, impl=None):
    return _check_outputs(names(case), outputs, expected, dtype)
