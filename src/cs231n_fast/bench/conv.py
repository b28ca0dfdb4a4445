"""Convolution cases: forward + backward (dx, dw, db) of ours, the NumPy twin and torch's
``conv2d`` with autograd."""

from dataclasses import dataclass

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

import numpy as np


@dataclass(frozen=True)
class ConvCase:
    """One convolution benchmark: x (n, c, h, w) · w (f, c, kh, kw), stride, zero padding."""

    n: int
    c: int
    h: int
    w: int
    f: int
    kh: int
    kw: int
    stride: int
    pad: int
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)
    # Timed again against torch in settled, interleaved rounds (its ratio the paired median).
    paired: bool = False

    kernel = "conv"
    dtypes = DTYPES  # dtypes the case runs in (all), and those of the quick subset
    quick_dtypes = DTYPES
    impls = IMPLS  # implementations the case runs (all), and those of the quick subset
    quick_impls = IMPLS

    @property
    def id(self):
        return (
            f"conv-{self.n}x{self.c}x{self.h}x{self.w}-"
            f"f{self.f}k{_k(self.kh, self.kw)}s{self.stride}p{self.pad}"
        )

    @property
    def out_hw(self):
        return (
            (self.h + 2 * self.pad - self.kh) // self.stride + 1,
            (self.w + 2 * self.pad - self.kw) // self.stride + 1,
        )

    @property
    def out_shape(self):
        return (self.n, self.f) + self.out_hw

    def flops(self):
        """Nominal FLOPs of forward + backward (backward counted as twice the forward)."""
        oh, ow = self.out_hw
        forward = 2 * self.n * self.f * oh * ow * self.c * self.kh * self.kw
        return 3 * forward

    def gemm_flops(self):
        """FLOPs of the GEMMs of the im2col formulation: all of :meth:`flops`."""
        return self.flops()

    def work(self, dtype):
        return {"flops": self.flops()}



CONV_CASES = (
    ConvCase(64, 3, 32, 32, f=32, kh=3, kw=3, stride=1, pad=1, quick=True),
    # Issue 14's shape N=64, 32->64, 16x16 (the VGG-style network's) was already here.
    ConvCase(64, 32, 16, 16, f=64, kh=3, kw=3, stride=1, pad=1, paired=True),
    ConvCase(100, 3, 31, 31, f=25, kh=3, kw=3, stride=2, pad=1, quick=True),
    # The shapes networks train (issue 14), stride 1, "same" padding, paired with torch:
    # ThreeLayerConvNet's 7x7 first layer, then the VGG-style network's layers.
    ConvCase(50, 3, 32, 32, f=32, kh=7, kw=7, stride=1, pad=3, paired=True),
    ConvCase(64, 3, 32, 32, f=64, kh=3, kw=3, stride=1, pad=1, paired=True),
    ConvCase(64, 64, 32, 32, f=64, kh=3, kw=3, stride=1, pad=1, paired=True),
    ConvCase(64, 64, 16, 16, f=128, kh=3, kw=3, stride=1, pad=1, paired=True),
    ConvCase(64, 128, 16, 16, f=128, kh=3, kw=3, stride=1, pad=1, paired=True),
)


def inputs(case, dtype, seed=0):
    """``x, w, b, dout``, float32-representable (the same numbers in every dtype)."""
    normal = _normal_maker(np.random.default_rng(seed), dtype)
    return {
        "x": normal(case.n, case.c, case.h, case.w),
        "w": normal(case.f, case.c, case.kh, case.kw),
        "b": normal(case.f),
        "dout": normal(*case.out_shape),
    }


def numpy_runner(module, case, inputs, n_threads):
    """Forward + backward with ``module.conv_forward`` / ``conv_backward`` (ops or the twin)."""
    x, w, b, dout = inputs["x"], inputs["w"], inputs["b"], inputs["dout"]
    stride, pad = case.stride, case.pad
    forward, backward = module.conv_forward, module.conv_backward

    def call():
        out, cache = forward(x, w, b, stride, pad, n_threads=n_threads)
        dx, dw, db = backward(dout, cache, n_threads=n_threads)
        return out, dx, dw, db

    return call


def torch_runner(case, inputs):
    torch = _require_torch()
    functional = torch.nn.functional
    # Tensors share memory with the inputs; built once, outside the timed call.
    dout = torch.from_numpy(inputs["dout"])
    x = torch.from_numpy(inputs["x"]).requires_grad_(True)
    w = torch.from_numpy(inputs["w"]).requires_grad_(True)
    b = torch.from_numpy(inputs["b"]).requires_grad_(True)
    stride, pad = case.stride, case.pad

    def call():
        out = functional.conv2d(x, w, b, stride=stride, padding=pad)
        # autograd.grad returns fresh gradients (no accumulation into .grad across calls).
        dx, dw, db = torch.autograd.grad(out, (x, w, b), grad_outputs=dout)
        return out, dx, dw, db

    return call


def runner(case, impl, inputs, n_threads):
    return course_runner(numpy_runner, torch_runner, case, impl, inputs, n_threads)


def oracle(case, inputs):
    """The NumPy twin in float64 on the float64 cast of ``inputs``."""
    return twin_oracle(numpy_runner, case, inputs)


def names(case):
    return ("out", "dx", "dw", "db")


def check(case, outputs, expected, dtype, impl=None):
    return _check_outputs(names(case), outputs, expected, dtype)
