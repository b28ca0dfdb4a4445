"""Layer cases: forward + backward of one course layer (or one optimiser update) at the shapes
of issue 13, through the course API, against PyTorch and the NumPy twin.

``fast``
    The course functions as a student calls them: :mod:`cs231n_fast.layers`,
    :mod:`cs231n_fast.rnn_layers` and :mod:`cs231n_fast.optim`, looked up by name at call
    time, so the family measures whatever those modules hold (NumPy today, compiled kernels
    after they land).
``reference``
    The NumPy twin, :mod:`cs231n_fast.reference`, where it holds every function the case
    calls under the course's name and with the course's positional parameters; otherwise the
    implementation is reported as skipped ("no twin").
``torch``
    The PyTorch counterpart with autograd (inputs and parameters requiring grad,
    ``torch.autograd.grad`` for the same gradients), or ``torch.optim.Adam.step`` for the
    update; its thread count is held to the run's by :func:`thread_limits`.

The check oracle is torch in float64 on the float64 cast of the inputs (float32-representable
values, so one oracle checks both dtypes); without torch, the course functions in float64.
Outputs whose torch layout differs (``nn.Linear``'s weight is ``(out, in)``) are mapped back to
the course's layout outside the timed call. Scalar losses are compared by value (the course
returns a Python or NumPy float, whose dtype is not the case's).
"""

import inspect
import math
from dataclasses import dataclass

import numpy as np

from ._common import (
    DTYPES,
    LAYER_IMPLS,
    RTOL,
    _as_numpy,
    _import_torch,
    _normal_maker,
    _require_torch,
)


class Unavailable(RuntimeError):
    """Raised by a runner that cannot run on this installation (reported as skipped)."""


#: The operations, with the shape shown in the case id.
LAYER_OPS = ("relu", "spatial_batchnorm", "word_embedding", "layernorm", "adam", "softmax_loss",
             "batchnorm", "affine", "temporal")


@dataclass(frozen=True)
class LayerCase:
    """One layer benchmark: ``op`` (one of :data:`LAYER_OPS`) at the shape ``shape``.

    Shapes: relu, spatial_batchnorm ``(N, C, H, W)``; word_embedding ``(N, T, V, W)``;
    layernorm, batchnorm, softmax_loss ``(N, D)``; adam the parameter's shape; affine
    ``(N, D, M)``; temporal (temporal_affine + temporal_softmax_loss with a mask)
    ``(N, T, D, V)``.
    """

    op: str
    shape: tuple
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "layers"
    dtypes = DTYPES
    quick_dtypes = ("float32",)
    impls = LAYER_IMPLS
    quick_impls = LAYER_IMPLS

    def __post_init__(self):
        if self.op not in LAYER_OPS:
            raise ValueError(f"op must be one of {LAYER_OPS}; got {self.op!r}")
        want = {"relu": 4, "spatial_batchnorm": 4, "word_embedding": 4, "layernorm": 2,
                "adam": 2, "softmax_loss": 2, "batchnorm": 2, "affine": 3, "temporal": 4}
        if len(self.shape) != want[self.op]:
            raise ValueError(f"shape of {self.op} must have {want[self.op]} entries; "
                             f"got {self.shape!r}")

    @property
    def id(self):
        return f"layers-{self.op}-{'x'.join(map(str, self.shape))}"

    def gemm_flops(self):
        """None: the ratios are the figures (affine's products are not the whole layer)."""
        return None

    def work(self, dtype):
        return {}


#: Issue 13's table, in its order; the quick subset takes the float32 rows of all of them.
LAYER_CASES = (
    LayerCase("relu", (64, 64, 32, 32), quick=True),
    LayerCase("spatial_batchnorm", (64, 64, 32, 32), quick=True),
    LayerCase("word_embedding", (50, 16, 1004, 256), quick=True),
    LayerCase("layernorm", (100, 512), quick=True),
    LayerCase("adam", (8192, 100), quick=True),
    LayerCase("softmax_loss", (1000, 1000), quick=True),
    LayerCase("batchnorm", (100, 512), quick=True),
    LayerCase("affine", (100, 3072, 512), quick=True),
    LayerCase("temporal", (50, 16, 512, 1004), quick=True),
)

#: Course hyperparameters used by the cases (the course's defaults).
BN_EPS, BN_MOMENTUM, LN_EPS = 1e-5, 0.9, 1e-5
ADAM = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
#: The Adam case starts from this iteration number, with non-zero moments.
ADAM_T0 = 3


# --- inputs ----------------------------------------------------------------------------------


def inputs(case, dtype, seed=0):
    """The arrays of one call; floats float32-representable (the same numbers in every
    dtype), word ids and labels int64, masks bool."""
    rng = np.random.default_rng(seed)
    arrays = _float32_inputs(case, rng)
    # Built in float32, then cast: sums and products are rounded once, in float32.
    return {k: (a.astype(dtype) if a.dtype == np.float32 else a) for k, a in arrays.items()}


def _float32_inputs(case, rng):
    normal = _normal_maker(rng, np.float32)
    op, s = case.op, case.shape
    if op == "relu":
        return {"x": normal(*s), "dout": normal(*s)}
    if op in ("spatial_batchnorm", "batchnorm", "layernorm"):
        d = s[1]
        return {"x": normal(*s), "gamma": 1 + normal(d, scale=0.25), "beta": normal(d, scale=0.25),
                "dout": normal(*s)}
    if op == "word_embedding":
        n, t, v, w = s
        return {"x": rng.integers(0, v, size=(n, t)).astype(np.int64), "W": normal(v, w),
                "dout": normal(n, t, w)}
    if op == "adam":
        m = normal(*s, scale=0.125)
        v = np.abs(normal(*s, scale=0.125))
        return {"w": normal(*s), "dw": normal(*s), "m": m, "v": v}
    if op == "softmax_loss":
        n, c = s
        return {"x": normal(n, c), "y": rng.integers(0, c, size=n).astype(np.int64)}
    if op == "affine":
        n, d, m = s
        return {"x": normal(n, d), "w": normal(d, m, scale=2.0**-6), "b": normal(m),
                "dout": normal(n, m)}
    n, t, d, v = s  # temporal
    return {"x": normal(n, t, d), "w": normal(d, v, scale=2.0**-5), "b": normal(v),
            "y": rng.integers(0, v, size=(n, t)).astype(np.int64),
            "mask": rng.random((n, t)) < 0.75}


# --- ours and the twin -----------------------------------------------------------------------

#: The course functions each operation calls, and the course module holding them.
_FUNCTIONS = {
    "relu": ("layers", ("relu_forward", "relu_backward")),
    "spatial_batchnorm": ("layers", ("spatial_batchnorm_forward", "spatial_batchnorm_backward")),
    "word_embedding": ("rnn_layers", ("word_embedding_forward", "word_embedding_backward")),
    "layernorm": ("layers", ("layernorm_forward", "layernorm_backward")),
    "adam": ("optim", ("adam",)),
    "softmax_loss": ("layers", ("softmax_loss",)),
    "batchnorm": ("layers", ("batchnorm_forward", "batchnorm_backward_alt")),
    "affine": ("layers", ("affine_forward", "affine_backward")),
    "temporal": ("rnn_layers", ("temporal_affine_forward", "temporal_softmax_loss",
                                "temporal_affine_backward")),
}


def _positional(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def _functions(case, impl):
    """The functions ``case`` calls for ``impl``: the course's, or the twin's of the same names
    and positional parameters (else :class:`Unavailable`)."""
    import importlib

    module_name, names = _FUNCTIONS[case.op]
    course = importlib.import_module(f"cs231n_fast.{module_name}")
    fns = {name: getattr(course, name) for name in names}
    if impl == "fast":
        return fns
    from .. import reference

    twin = {}
    for name in names:
        fn = getattr(reference, name, None)
        if fn is None:
            raise Unavailable(f"no NumPy twin: cs231n_fast.reference has no {name}")
        if _positional(fn) != _positional(fns[name]):
            raise Unavailable(f"no NumPy twin with the course signature: reference.{name}"
                              f"{inspect.signature(fn)} is not {module_name}.{name}"
                              f"{inspect.signature(fns[name])}")
        twin[name] = fn
    return twin


def _course_runner(case, fns, a):
    """Forward + backward of ``case`` with the course functions ``fns`` on the inputs ``a``."""
    op = case.op
    if op == "relu":
        forward, backward = fns["relu_forward"], fns["relu_backward"]
        x, dout = a["x"], a["dout"]

        def call():
            out, cache = forward(x)
            return out, backward(dout, cache)

        return call
    if op in ("spatial_batchnorm", "batchnorm", "layernorm"):
        forward, backward = (fns[n] for n in _FUNCTIONS[op][1])
        x, gamma, beta, dout = a["x"], a["gamma"], a["beta"], a["dout"]
        if op == "layernorm":
            param = {"eps": LN_EPS}
        else:  # running statistics live in the dict across calls, as in training
            param = {"mode": "train", "eps": BN_EPS, "momentum": BN_MOMENTUM}

        def call():
            out, cache = forward(x, gamma, beta, param)
            return (out,) + tuple(backward(dout, cache))

        return call
    if op == "word_embedding":
        forward, backward = fns["word_embedding_forward"], fns["word_embedding_backward"]
        x, W, dout = a["x"], a["W"], a["dout"]

        def call():
            out, cache = forward(x, W)
            return out, backward(dout, cache)

        return call
    if op == "adam":
        adam = fns["adam"]
        w, dw = a["w"], a["dw"]
        start = dict(ADAM, m=a["m"], v=a["v"], t=ADAM_T0)

        def call():
            # The same update each call, from a fresh copy of the state (the rule returns new
            # moment arrays; it writes into none of its inputs).
            next_w, config = adam(w, dw, dict(start))
            return next_w, config["m"], config["v"]

        return call
    if op == "softmax_loss":
        softmax_loss = fns["softmax_loss"]
        x, y = a["x"], a["y"]
        return lambda: tuple(softmax_loss(x, y))
    if op == "affine":
        forward, backward = fns["affine_forward"], fns["affine_backward"]
        x, w, b, dout = a["x"], a["w"], a["b"], a["dout"]

        def call():
            out, cache = forward(x, w, b)
            return (out,) + tuple(backward(dout, cache))

        return call
    forward = fns["temporal_affine_forward"]
    loss_fn = fns["temporal_softmax_loss"]
    backward = fns["temporal_affine_backward"]
    x, w, b, y, mask = a["x"], a["w"], a["b"], a["y"], a["mask"]

    def call():
        scores, cache = forward(x, w, b)
        loss, dscores = loss_fn(scores, y, mask)
        return (loss,) + tuple(backward(dscores, cache))

    return call


# --- torch -----------------------------------------------------------------------------------


def _torch_runner(case, a):
    torch = _require_torch()
    F = torch.nn.functional
    op = case.op

    def leaf(array):
        # A copy: torch's in-place updates (Adam, running statistics) never reach the inputs.
        return torch.from_numpy(np.array(array)).requires_grad_(True)

    def const(array):
        return torch.from_numpy(np.array(array))

    grad = torch.autograd.grad
    if op == "relu":
        x, dout = leaf(a["x"]), const(a["dout"])

        def call():
            out = torch.relu(x)
            return (out,) + grad(out, (x,), grad_outputs=dout)

        return call
    if op in ("spatial_batchnorm", "batchnorm"):
        x, gamma, beta, dout = leaf(a["x"]), leaf(a["gamma"]), leaf(a["beta"]), const(a["dout"])
        d = a["gamma"].shape[0]
        running_mean = torch.zeros(d, dtype=x.dtype)
        running_var = torch.ones(d, dtype=x.dtype)

        def call():
            out = F.batch_norm(x, running_mean, running_var, gamma, beta, training=True,
                               momentum=1 - BN_MOMENTUM, eps=BN_EPS)
            return (out,) + grad(out, (x, gamma, beta), grad_outputs=dout)

        return call
    if op == "layernorm":
        x, gamma, beta, dout = leaf(a["x"]), leaf(a["gamma"]), leaf(a["beta"]), const(a["dout"])
        shape = (a["x"].shape[1],)

        def call():
            out = F.layer_norm(x, shape, gamma, beta, eps=LN_EPS)
            return (out,) + grad(out, (x, gamma, beta), grad_outputs=dout)

        return call
    if op == "word_embedding":
        ids, W, dout = const(a["x"]), leaf(a["W"]), const(a["dout"])

        def call():
            out = F.embedding(ids, W)
            return (out,) + grad(out, (W,), grad_outputs=dout)

        return call
    if op == "adam":
        w = torch.from_numpy(np.array(a["w"]))
        w.grad = torch.from_numpy(np.array(a["dw"]))
        optimizer = torch.optim.Adam([w], lr=ADAM["learning_rate"],
                                     betas=(ADAM["beta1"], ADAM["beta2"]), eps=ADAM["epsilon"])
        state = {"step": torch.tensor(float(ADAM_T0)), "exp_avg": const(a["m"]),
                 "exp_avg_sq": const(a["v"])}
        optimizer.state[w] = state

        def call():
            optimizer.step()
            return w, state["exp_avg"], state["exp_avg_sq"]

        return call
    if op == "softmax_loss":
        x, y = leaf(a["x"]), const(a["y"])

        def call():
            loss = F.cross_entropy(x, y)
            return (loss,) + grad(loss, (x,))

        return call
    if op == "affine":
        # nn.Linear's layout: the weight (out, in); the check transposes its gradient back.
        x, weight, b, dout = leaf(a["x"]), leaf(a["w"].T), leaf(a["b"]), const(a["dout"])

        def call():
            out = F.linear(x, weight, b)
            return (out,) + grad(out, (x, weight, b), grad_outputs=dout)

        return call
    x, weight, b = leaf(a["x"]), leaf(a["w"].T), leaf(a["b"])
    n, t, _ = a["x"].shape
    v = a["w"].shape[1]
    y = const(a["y"]).reshape(n * t)
    mask = torch.from_numpy(a["mask"].reshape(n * t).astype(a["x"].dtype))

    def call():
        scores = F.linear(x, weight, b)
        losses = F.cross_entropy(scores.reshape(n * t, v), y, reduction="none")
        loss = (losses * mask).sum() / n  # the course: summed over unmasked steps, / N
        return (loss,) + grad(loss, (x, weight, b))

    return call


def _from_torch(case, outputs):
    """torch's outputs as NumPy arrays in the course's layout (weights of affine layers
    transposed back)."""
    outputs = [_as_numpy(o) for o in outputs]
    if case.op in ("affine", "temporal"):
        outputs[2] = outputs[2].T
    return tuple(outputs)


# --- the family's interface ------------------------------------------------------------------


def runner(case, impl, inputs, n_threads):
    """Forward + backward (or one update) of ``case``; ``n_threads`` is not passed: the course
    functions take none (they use their defaults, held by :func:`thread_limits`)."""
    if impl == "torch":
        return _torch_runner(case, inputs)
    return _course_runner(case, _functions(case, impl), inputs)


def oracle(case, inputs):
    """torch in float64 on the float64 cast of ``inputs`` (the course functions in float64
    without torch), in the course's layout."""
    inputs64 = {k: (a.astype(np.float64) if a.dtype.kind == "f" else a) for k, a in inputs.items()}
    if _import_torch() is not None:
        outputs = _from_torch(case, _torch_runner(case, inputs64)())
    else:
        outputs = _course_runner(case, _functions(case, "fast"), inputs64)()
    return tuple(np.asarray(_as_numpy(o), dtype=np.float64) for o in outputs)


def names(case):
    return {
        "relu": ("out", "dx"),
        "spatial_batchnorm": ("out", "dx", "dgamma", "dbeta"),
        "batchnorm": ("out", "dx", "dgamma", "dbeta"),
        "layernorm": ("out", "dx", "dgamma", "dbeta"),
        "word_embedding": ("out", "dW"),
        "adam": ("next_w", "m", "v"),
        "softmax_loss": ("loss", "dx"),
        "affine": ("out", "dx", "dw", "db"),
        "temporal": ("loss", "dx", "dw", "db"),
    }[case.op]


def _check_scalars_and_arrays(output_names, outputs, expected, dtype, rtol=None, floor=0.0):
    """``(ok, max_rel_err, message)`` of ``outputs`` against the float64 ``expected``.

    An output named ``loss`` is compared by value (no dtype asked of a scalar); the others
    must have the expected shape and ``dtype``. The error of an array is ``max|got - exp|``
    over ``max(max|exp|, floor * F)``, ``F`` the largest ``max|exp|`` of all arrays: with
    ``floor > 0`` a gradient that is zero up to rounding (a bias before batch normalisation)
    is measured against the step's gradients, not against its own rounding noise.
    """
    if len(outputs) != len(expected):
        return False, math.inf, f"{len(outputs)} outputs, expected {len(expected)}"
    dtype = np.dtype(dtype)
    rtol = RTOL[dtype.name] if rtol is None else rtol
    arrays = [float(np.max(np.abs(e))) for n, e in zip(output_names, expected)
              if n != "loss" and np.size(e)]
    largest = max(arrays, default=0.0)
    worst, problems = 0.0, []
    for name, got, exp in zip(output_names, outputs, expected):
        got = _as_numpy(got)
        if name == "loss":
            got = np.asarray(got, dtype=np.float64)
            if got.size != 1:
                problems.append(f"loss: {got.size} values, expected a scalar")
                continue
            got, exp = got.reshape(()), np.asarray(exp).reshape(())
        elif got.shape != exp.shape:
            problems.append(f"{name}: shape {got.shape}, expected {exp.shape}")
            continue
        elif got.dtype != dtype:
            problems.append(f"{name}: dtype {got.dtype}, expected {dtype}")
        scale = max(float(np.max(np.abs(exp))) if exp.size else 0.0, floor * largest) or 1.0
        err = float(np.max(np.abs(got.astype(np.float64) - exp))) / scale if exp.size else 0.0
        err = err if math.isfinite(err) else math.inf
        worst = max(worst, err)
        if err > rtol:
            problems.append(f"{name}: max error {err:.3g} × max|ref| > rtol {rtol:g}")
    return not problems, worst, "; ".join(problems)


def check(case, outputs, expected, dtype, impl=None):
    """Outputs of ``impl`` against the oracle (torch's first mapped to the course layout)."""
    if impl == "torch":
        outputs = _from_torch(case, outputs)
    return _check_scalars_and_arrays(names(case), outputs, expected, dtype)
