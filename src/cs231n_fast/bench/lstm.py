"""LSTM cases: one step and a sequence, forward + backward, of ours, the NumPy twin, the six
NumPy products of a step (the floor) and torch's ``LSTMCell`` / ``LSTM``."""

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._common import DTYPES, LSTM_IMPLS, _as_numpy, _check_outputs, _normal_maker, _require_torch


@dataclass(frozen=True)
class LstmCase:
    """One LSTM benchmark: batch ``n``, input size ``d``, hidden size ``h``.

    ``t=None`` is one step (``lstm_step_forward`` + ``lstm_step_backward``); an integer ``t``
    a sequence of ``t`` steps (``lstm_forward`` + ``lstm_backward``).
    """

    n: int
    d: int
    h: int
    t: Optional[int] = None
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "lstm"
    dtypes = DTYPES
    quick_dtypes = ("float32",)

    def __post_init__(self):
        if self.t is not None and self.t < 1:
            raise ValueError(f"t must be None (one step) or a positive int; got {self.t!r}")

    @property
    def step(self):
        """True for one step, False for a sequence."""
        return self.t is None

    @property
    def impls(self):
        """Implementations the case runs: the six-product floor is defined for a step only."""
        return LSTM_IMPLS if self.step else tuple(i for i in LSTM_IMPLS if i != "six_matmuls")

    quick_impls = impls

    @property
    def id(self):
        kind = "step" if self.step else f"seq{self.t}"
        return f"lstm-{kind}-n{self.n}-d{self.d}-h{self.h}"

    def flops(self):
        """FLOPs of the products: per step ``2·n·(d+h)·4h`` forward, twice that backward."""
        return 3 * 2 * self.n * (self.d + self.h) * 4 * self.h * (1 if self.step else self.t)

    def gemm_flops(self):
        """All of :meth:`flops`: the products are GEMMs."""
        return self.flops()

    def work(self, dtype):
        return {"flops": self.flops()}


LSTM_CASES = (
    LstmCase(64, 256, 512, quick=True),
    LstmCase(64, 256, 512, t=16, quick=True),
)


def _lstm_inputs(case, normal):
    n, d, h = case.n, case.d, case.h
    steps = () if case.step else (case.t,)

    def fan_in_scale(fan_in):
        # The power of two at or below 1/sqrt(fan_in): pre-activations of unit order, so the
        # gates are neither saturated nor linear.
        return 2.0 ** -math.ceil(math.log2(fan_in) / 2)

    inputs = {
        "x": normal(n, *steps, d),
        "h0": normal(n, h, scale=0.5),
        "c0": normal(n, h),
        "Wx": normal(d, 4 * h, scale=fan_in_scale(d)),
        "Wh": normal(h, 4 * h, scale=fan_in_scale(h)),
        "b": normal(4 * h, scale=0.25),
        "dh": normal(n, *steps, h),
    }
    if case.step:
        inputs["dc"] = normal(n, h)
    return inputs



def _lstm_impl(module, case, inputs, n_threads):
    x, h0, c0, Wx, Wh, b, dh = (inputs[k] for k in ("x", "h0", "c0", "Wx", "Wh", "b", "dh"))
    if case.step:
        dc = inputs["dc"]
        forward, backward = module.lstm_step_forward, module.lstm_step_backward

        def call():
            next_h, next_c, cache = forward(x, h0, c0, Wx, Wh, b, n_threads=n_threads)
            return (next_h, next_c) + tuple(backward(dh, dc, cache, n_threads=n_threads))

        return call

    forward, backward = module.lstm_forward, module.lstm_backward

    def call():
        h, cache = forward(x, h0, Wx, Wh, b, c0, n_threads=n_threads)
        return (h,) + tuple(backward(dh, cache, n_threads=n_threads))

    return call


def _six_matmuls(case, inputs):
    """The six products of an LSTM step alone, in NumPy: the floor of a NumPy step."""
    x, h0, Wx, Wh = inputs["x"], inputs["h0"], inputs["Wx"], inputs["Wh"]
    # A stand-in for the pre-activation gradient (N, 4H), built before the timed call.
    da = np.tile(inputs["dh"], 4)

    def call():
        a = x @ Wx
        a += h0 @ Wh
        return a, da @ Wx.T, da @ Wh.T, x.T @ da, h0.T @ da

    return call


def _gate_swap(hidden):
    """Row order mapping the course's gate blocks (i, f, o, g) to torch's (i, f, g, o).

    It swaps the last two blocks of ``hidden`` rows, so it also maps torch's order back.
    """
    blocks = np.arange(4 * hidden).reshape(4, hidden)
    return blocks[[0, 1, 3, 2]].ravel()


def _torch_lstm(torch, case, inputs):
    tensor = torch.from_numpy
    x = tensor(inputs["x"]).requires_grad_(True)
    shape = dict(input_size=case.d, hidden_size=case.h, dtype=x.dtype)
    if case.step:
        module = torch.nn.LSTMCell(**shape)
    else:
        module = torch.nn.LSTM(**shape, batch_first=True)
    weight_ih, weight_hh, bias_ih, bias_hh = module.parameters()
    order = torch.from_numpy(_gate_swap(case.h))
    with torch.no_grad():
        weight_ih.copy_(tensor(inputs["Wx"]).T[order])
        weight_hh.copy_(tensor(inputs["Wh"]).T[order])
        bias_ih.copy_(tensor(inputs["b"])[order])
        bias_hh.zero_()
    dh = tensor(inputs["dh"])
    if case.step:
        h0 = tensor(inputs["h0"]).requires_grad_(True)
        c0 = tensor(inputs["c0"]).requires_grad_(True)
        dc = tensor(inputs["dc"])
        wrt = (x, h0, c0, weight_ih, weight_hh, bias_ih)

        def call():
            next_h, next_c = module(x, (h0, c0))
            grads = torch.autograd.grad((next_h, next_c), wrt, grad_outputs=(dh, dc))
            return (next_h, next_c) + grads

        return call

    h0 = tensor(inputs["h0"]).unsqueeze(0).requires_grad_(True)  # (layers, N, H)
    c0 = tensor(inputs["c0"]).unsqueeze(0)  # no gradient: the course returns none for c0
    wrt = (x, h0, weight_ih, weight_hh, bias_ih)

    def call():
        h, _ = module(x, (h0, c0))
        return (h,) + torch.autograd.grad(h, wrt, grad_outputs=dh)

    return call


def _lstm_from_torch(case, outputs):
    """torch's LSTM results (see :func:`_torch_lstm`) in the course's layout, as NumPy."""
    *states, dh0, dw_ih, dw_hh, db = (_as_numpy(o) for o in outputs)
    order = _gate_swap(case.h)
    if not case.step:
        dh0 = dh0[0]
    return (*states, dh0, dw_ih[order].T, dw_hh[order].T, db[order])


def _check_floor(case, outputs, dtype):
    """The check of ``six_matmuls``: five finite products of the right shapes and dtype."""
    n, d, h = case.n, case.d, case.h
    shapes = {"a": (n, 4 * h), "dx": (n, d), "dprev_h": (n, h), "dWx": (d, 4 * h),
              "dWh": (h, 4 * h)}
    if len(outputs) != len(shapes):
        return False, math.nan, f"{len(outputs)} outputs, expected {len(shapes)}"
    problems = []
    for (name, shape), got in zip(shapes.items(), outputs):
        got = _as_numpy(got)
        if got.shape != shape:
            problems.append(f"{name}: shape {got.shape}, expected {shape}")
        elif got.dtype != dtype:
            problems.append(f"{name}: dtype {got.dtype}, expected {dtype}")
        elif not np.isfinite(got).all():
            problems.append(f"{name}: not finite")
    return not problems, math.nan, "; ".join(problems)


def inputs(case, dtype, seed=0):
    """``x, h0, c0, Wx, Wh, b`` and the upstream gradients ``dh`` (and ``dc`` for a step)."""
    return _lstm_inputs(case, _normal_maker(np.random.default_rng(seed), dtype))


def runner(case, impl, inputs, n_threads):
    if impl == "fast":
        from ..ops import rnn

        return _lstm_impl(rnn, case, inputs, n_threads)
    if impl == "reference":
        from .. import reference

        return _lstm_impl(reference, case, inputs, n_threads)
    if impl == "six_matmuls":
        return _six_matmuls(case, inputs)
    return _torch_lstm(_require_torch(), case, inputs)


def oracle(case, inputs):
    from .. import reference

    inputs64 = {k: np.asarray(a, dtype=np.float64) for k, a in inputs.items()}
    outputs = _lstm_impl(reference, case, inputs64, 1)()
    return tuple(np.asarray(o, dtype=np.float64) for o in outputs)


def names(case):
    if case.step:
        return ("next_h", "next_c", "dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
    return ("h", "dx", "dh0", "dWx", "dWh", "db")


def check(case, outputs, expected, dtype, impl=None):
    dtype = np.dtype(dtype)
    if impl == "six_matmuls":
        return _check_floor(case, outputs, dtype)
    if impl == "torch":
        outputs = _lstm_from_torch(case, outputs)
    return _check_outputs(names(case), outputs, expected, dtype)
