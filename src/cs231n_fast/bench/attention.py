"""Attention cases: the multi-head attention core, scaled dot-product attention forward +
backward, at the shapes of issue 16 (causal self-attention of the captioning Transformer's
decoder, and its cross-attention to the one image token).

``fast``
    :func:`cs231n_fast.ops.attention.sdpa_forward` + ``sdpa_backward``, at the run's thread
    count.
``reference``
    The NumPy twin, :mod:`cs231n_fast.reference.attention`.
``torch``
    ``torch.nn.functional.scaled_dot_product_attention`` with autograd
    (``torch.autograd.grad`` for the gradients of q, k and v), ``is_causal`` as ours.

Outputs ``(out, dq, dk, dv)``; the oracle is the twin in float64 on the float64 cast of the
inputs (float32-representable values, so one oracle checks both dtypes). Work: the FLOPs of the
seven products, ``2·N·H·S·T·(Dh + Dv)`` forward and ``2·N·H·S·T·(2·Dh + 3·Dv)`` backward.
``fast`` is paired with ``torch`` in interleaved rounds (the ratio column).
"""

from dataclasses import dataclass

import numpy as np

from ._common import DTYPES, IMPLS, _check_outputs, _normal_maker, _require_torch


@dataclass(frozen=True)
class AttentionCase:
    """One attention benchmark: q (n, h, s, d), k and v (n, h, t, d), causal or not."""

    n: int
    h: int
    s: int
    t: int
    d: int
    causal: bool = True
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "attention"
    dtypes = DTYPES
    quick_dtypes = ("float32",)
    impls = IMPLS
    quick_impls = IMPLS
    paired = True

    @property
    def id(self):
        return (f"sdpa-N{self.n}-H{self.h}-S{self.s}-T{self.t}-D{self.d}"
                f"{'-causal' if self.causal else ''}")

    def gemm_flops(self):
        """The products' FLOPs: 2 forward and 5 backward, each ``2·N·H·S·T·D``."""
        return 14 * self.n * self.h * self.s * self.t * self.d

    def work(self, dtype):
        return {"flops": self.gemm_flops()}


ATTENTION_CASES = (
    AttentionCase(128, 4, 16, 16, 64, quick=True),  # issue 16's larger model: E=256, 4 heads
    AttentionCase(25, 2, 16, 16, 128),  # the course notebook's CaptioningTransformer, batch 25
    AttentionCase(128, 4, 16, 1, 64, causal=False),  # the decoder's cross-attention
)


def inputs(case, dtype, seed=0):
    """``q, k, v, dout`` of ``dtype`` (float32-representable values)."""
    normal = _normal_maker(np.random.default_rng(seed), dtype)
    n, h, s, t, d = case.n, case.h, case.s, case.t, case.d
    return {"q": normal(n, h, s, d), "k": normal(n, h, t, d), "v": normal(n, h, t, d),
            "dout": normal(n, h, s, d)}


def _numpy_runner(mod, case, inputs, n_threads):
    q, k, v, dout = (inputs[key] for key in ("q", "k", "v", "dout"))

    def call():
        out, cache = mod.sdpa_forward(q, k, v, causal=case.causal, n_threads=n_threads)
        return (out, *mod.sdpa_backward(dout, cache, n_threads=n_threads))

    return call


def runner(case, impl, inputs, n_threads):
    if impl in ("fast", "reference"):
        from ..ops import attention as fast
        from ..reference import attention as twin

        return _numpy_runner(fast if impl == "fast" else twin, case, inputs, n_threads)
    if impl == "torch":
        torch = _require_torch()
        F = torch.nn.functional
        q, k, v = (torch.from_numpy(inputs[key]).requires_grad_() for key in ("q", "k", "v"))
        dout = torch.from_numpy(inputs["dout"])

        def call():
            out = F.scaled_dot_product_attention(q, k, v, is_causal=case.causal)
            return (out, *torch.autograd.grad(out, (q, k, v), dout))

        return call
    raise ValueError(f"impl must be one of {case.impls} for {case.id}; got {impl!r}")


def oracle(case, inputs):
    """The NumPy twin in float64 on the float64 cast of ``inputs``."""
    from ..reference import attention as twin

    inputs64 = {key: np.asarray(a, np.float64) for key, a in inputs.items()}
    return tuple(np.asarray(o, np.float64) for o in _numpy_runner(twin, case, inputs64, 1)())


def names(case):
    return ("out", "dq", "dk", "dv")


def check(case, outputs, expected, dtype, impl=None):
    return _check_outputs(names(case), outputs, expected, dtype)
