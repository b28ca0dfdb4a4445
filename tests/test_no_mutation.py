"""No public function writes into its inputs, and outputs are fresh arrays.

For every public function of ``ops`` (conv, pool, the recurrent functions and ``sigmoid`` of
``ops.rnn``, the temporal layers of ``ops.temporal``), ``knn``, ``fast_layers`` (every name),
``compat``, ``rnn_layers`` (the same objects as ``ops.rnn`` and ``ops.temporal``), the course's
loop versions in ``layers`` (``conv_forward_naive`` ...) and the ``nn`` layers: the arguments are
deep-copied, the function called, and every argument compared with its copy, bitwise. A
forward/backward pair is checked as a whole: backward reuses the forward's cache, which refers
to the forward's inputs and outputs (no copy is made when they are already contiguous in the
compute dtype), so after backward the forward's inputs and outputs, the cache and the upstream
gradients must all be unchanged; backward called a second time must give the same bits; and no
output may share memory with an input. Inputs are C-contiguous (the no-copy path) or read-only
(any write raises), in float32 and float64.
"""

import copy
import dataclasses

import numpy as np
import pytest
from helpers import as_layout

from cs231n_fast import compat, fast_layers, knn, layers, nn, ops, rnn_layers
from cs231n_fast.ops import rnn, temporal

# --- comparing and walking arguments ------------------------------------------------------------


def assert_same(got, want, path="args"):
    """``got`` equals its earlier deep copy ``want``, arrays bitwise (NaN == NaN)."""
    if isinstance(want, np.ndarray):
        np.testing.assert_array_equal(got, want, strict=True, err_msg=f"{path} was modified")
    elif isinstance(want, (tuple, list)):
        assert len(got) == len(want), f"{path} changed length"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, dict):
        assert got.keys() == want.keys(), f"{path} changed keys"
        for k in want:
            assert_same(got[k], want[k], f"{path}[{k!r}]")
    elif dataclasses.is_dataclass(want):
        for f in dataclasses.fields(want):
            assert_same(getattr(got, f.name), getattr(want, f.name), f"{path}.{f.name}")
    else:
        assert got == want, f"{path} changed from {want!r} to {got!r}"


def arrays_in(obj):
    """Every array reachable from ``obj`` through tuples, lists, dicts and dataclasses."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in arrays_in(o)]
    if isinstance(obj, dict):
        return [a for o in obj.values() for a in arrays_in(o)]
    if dataclasses.is_dataclass(obj):
        return [a for f in dataclasses.fields(obj) for a in arrays_in(getattr(obj, f.name))]
    return []


def outputs(result):
    """The arrays a call returns (not those inside its cache)."""
    return [r for r in (result if isinstance(result, tuple) else (result,)) if isinstance(r, np.ndarray)]


def assert_fresh(result, *inputs):
    for out in outputs(result):
        for a in arrays_in(inputs):
            assert not np.shares_memory(out, a), "an output shares memory with an input"


def assert_equal_results(a, b):
    for x, y in zip(outputs(a), outputs(b), strict=True):
        np.testing.assert_array_equal(x, y, strict=True)


def laid_out(args, layout):
    return [as_layout(a, layout) if isinstance(a, np.ndarray) else a for a in args]


# --- the functions ------------------------------------------------------------------------------


def _conv_inputs(rng, dt):
    return [rng.standard_normal(s).astype(dt) for s in [(2, 3, 7, 6), (4, 3, 3, 2), (4,)]]


def _rnn_inputs(kind, step):
    def make(rng, dt):
        g = 4 if kind == "lstm" else 1
        n, t, d, h = 2, 3, 4, 5
        a = [rng.standard_normal((n, d) if step else (n, t, d)), rng.standard_normal((n, h))]
        if kind == "lstm":
            a.append(rng.standard_normal((n, h)))  # prev_c of a step, c0 of a sequence
        a += [rng.standard_normal((d, g * h)) * 0.3, rng.standard_normal((h, g * h)) * 0.3, rng.standard_normal(g * h)]
        a = [x.astype(dt) for x in a]
        if kind == "lstm" and not step:  # lstm_forward(x, h0, Wx, Wh, b, c0)
            a = a[:2] + a[3:] + a[2:3]
        return a
    return make


@dataclasses.dataclass(frozen=True)
class Call:
    """A forward (or single) function, its inputs, and its backward if it has one."""

    name: str
    forward: object
    inputs: object  # inputs(rng, dtype) -> list of arguments
    backward: object = None  # backward(*upstream gradients, cache)


CP, PP = {"stride": 2, "pad": (1, 0)}, {"pool_height": 2, "pool_width": 3, "stride": 2}
CALLS = [
    Call("ops.im2col", lambda x: ops.im2col(x, 3, 2, 2, 1), lambda r, dt: [r.standard_normal((2, 3, 7, 6)).astype(dt)]),
    Call("ops.col2im", lambda c: ops.col2im(c, (2, 3, 7, 6), 3, 2, 2, 1), lambda r, dt: [r.standard_normal((2, 18, 16)).astype(dt)]),
    Call("ops.conv_forward", lambda x, w, b: ops.conv_forward(x, w, b, 2, (1, 0)), _conv_inputs, ops.conv_backward),
    Call("ops.conv_transpose_forward", lambda x, w, b: ops.conv_transpose_forward(x, w, b, 2, (1, 0), 1),
         lambda r, dt: [r.standard_normal(s).astype(dt) for s in [(2, 3, 4, 5), (3, 4, 3, 2), (4,)]],
         ops.conv_transpose_backward),
    Call("ops.maxpool_forward", lambda x: ops.maxpool_forward(x, 2, 3, 1), lambda r, dt: [np.round(r.standard_normal((2, 3, 7, 6)), 1).astype(dt)],
         ops.maxpool_backward),
    Call("knn.pairwise_distances l2", lambda q, t: knn.pairwise_distances(q, t), lambda r, dt: [r.standard_normal((5, 8)).astype(dt), r.standard_normal((30, 8)).astype(dt)]),
    Call("knn.pairwise_distances l1", lambda q, t: knn.pairwise_distances(q, t, "l1"), lambda r, dt: [r.standard_normal((5, 8)).astype(dt), r.standard_normal((30, 8)).astype(dt)]),
    Call("knn.kneighbors l2", lambda q, t: knn.kneighbors(q, t, 4), lambda r, dt: [r.standard_normal((5, 8)).astype(dt), r.standard_normal((30, 8)).astype(dt)]),
    Call("knn.kneighbors l1", lambda q, t: knn.kneighbors(q, t, 4, "l1", working_memory=1e-3), lambda r, dt: [r.standard_normal((5, 8)).astype(dt), r.standard_normal((30, 8)).astype(dt)]),
    Call("ops.rnn.sigmoid", rnn.sigmoid, lambda r, dt: [(r.standard_normal((3, 50)) * 30).astype(dt)]),
    Call("ops.rnn.rnn_step_forward", rnn.rnn_step_forward, _rnn_inputs("rnn", True), rnn.rnn_step_backward),
    Call("ops.rnn.rnn_forward", rnn.rnn_forward, _rnn_inputs("rnn", False), rnn.rnn_backward),
    Call("ops.rnn.lstm_step_forward", rnn.lstm_step_forward, _rnn_inputs("lstm", True), rnn.lstm_step_backward),
    Call("ops.rnn.lstm_forward", rnn.lstm_forward, _rnn_inputs("lstm", False), rnn.lstm_backward),
    Call("ops.temporal.word_embedding_forward", temporal.word_embedding_forward,
         lambda r, dt: [r.integers(0, 6, (2, 3)), r.standard_normal((6, 4)).astype(dt)], temporal.word_embedding_backward),
    Call("ops.temporal.temporal_affine_forward", temporal.temporal_affine_forward,
         lambda r, dt: [r.standard_normal(s).astype(dt) for s in [(2, 3, 4), (4, 5), (5,)]], temporal.temporal_affine_backward),
    Call("ops.temporal.temporal_softmax_loss", temporal.temporal_softmax_loss,
         lambda r, dt: [r.standard_normal((2, 3, 5)).astype(dt), r.integers(0, 5, (2, 3)), r.random((2, 3)) < 0.7]),
    Call("compat.im2col_cython", lambda x: compat.im2col_cython(x, 3, 2, 1, 2), lambda r, dt: [r.standard_normal((2, 3, 7, 6)).astype(dt)]),
    Call("compat.col2im_cython", lambda c: compat.col2im_cython(c, 2, 3, 7, 6, 3, 2, 1, 2), lambda r, dt: [r.standard_normal((18, 32)).astype(dt)]),
    Call("compat.col2im_6d_cython", lambda c: compat.col2im_6d_cython(c, 2, 3, 7, 6, 3, 2, 1, 2),
         lambda r, dt: [r.standard_normal((3, 3, 2, 2, 4, 4)).astype(dt)]),
    Call("layers.conv_forward_naive", lambda x, w, b, p: layers.conv_forward_naive(x, w, b, p),
         lambda r, dt: [*_conv_inputs(r, dt), {"stride": 2, "pad": 1}], layers.conv_backward_naive),
    Call("layers.max_pool_forward_naive", layers.max_pool_forward_naive, lambda r, dt: [r.standard_normal((2, 3, 7, 6)).astype(dt), PP],
         layers.max_pool_backward_naive),
]
for _f, _b in [("conv_forward_fast", "conv_backward_fast"), ("conv_forward_im2col", "conv_backward_im2col"),
               ("conv_forward_strides", "conv_backward_strides")]:
    CALLS.append(Call(f"fast_layers.{_f}", getattr(fast_layers, _f), lambda r, dt: [*_conv_inputs(r, dt), CP], getattr(fast_layers, _b)))
for _f, _b in [("max_pool_forward_fast", "max_pool_backward_fast"), ("max_pool_forward_reshape", "max_pool_backward_reshape"),
               ("max_pool_forward_im2col", "max_pool_backward_im2col")]:
    CALLS.append(Call(f"fast_layers.{_f}", getattr(fast_layers, _f), lambda r, dt: [r.standard_normal((2, 3, 7, 6)).astype(dt), PP],
                      getattr(fast_layers, _b)))
# the course's NumPy im2col helpers (fast_layers re-exports them) and rnn_layers' affine layer
CALLS += [
    Call("fast_layers.get_im2col_indices", lambda: fast_layers.get_im2col_indices((2, 3, 7, 6), 3, 2, 1, 2), lambda r, dt: []),
    Call("fast_layers.im2col_indices", lambda x: fast_layers.im2col_indices(x, 3, 2, 1, 2), lambda r, dt: [r.standard_normal((2, 3, 7, 6)).astype(dt)]),
    Call("fast_layers.col2im_indices", lambda c: fast_layers.col2im_indices(c, (2, 3, 7, 6), 3, 2, 1, 2),
         lambda r, dt: [r.standard_normal((18, 32)).astype(dt)]),
    Call("rnn_layers.affine_forward", rnn_layers.affine_forward,
         lambda r, dt: [r.standard_normal((2, 3, 2)).astype(dt), r.standard_normal((6, 4)).astype(dt), r.standard_normal(4).astype(dt)],
         rnn_layers.affine_backward),
]


def test_no_mutation_table_covers_every_public_function():
    tested = {c.forward for c in CALLS} | {c.backward for c in CALLS}
    names = {c.name.split()[0] for c in CALLS}
    for module, prefix in [(ops, "ops"), (compat, "compat"), (fast_layers, "fast_layers")]:
        for name in module.__all__:
            assert getattr(module, name) in tested or f"{prefix}.{name}" in names, f"{prefix}.{name}"
    for name in rnn_layers.__all__:  # the same objects as ops.rnn and ops.temporal
        assert getattr(rnn_layers, name) in tested or f"ops.rnn.{name}" in names, f"rnn_layers.{name}"
    for name in ("conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive"):
        assert getattr(layers, name) in tested or f"layers.{name}" in names, f"layers.{name}"
    assert {"knn.pairwise_distances", "knn.kneighbors"} <= names


@pytest.mark.parametrize("layout", ["C", "readonly"])
@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
def test_public_function_inputs_unchanged(rng, dtype, layout, call):
    args = laid_out(call.inputs(rng, dtype), layout)
    saved = copy.deepcopy(args)
    result = call.forward(*args)
    assert_same(args, saved)
    assert_fresh(result, args)
    assert_equal_results(call.forward(*args), result)
    if call.backward is None:
        return
    *_, cache = result
    grads = laid_out([rng.standard_normal(o.shape).astype(o.dtype) for o in outputs(result)], layout)
    saved = copy.deepcopy((args, result, grads))
    back = call.backward(*grads, cache)
    assert_same((args, result, grads), saved)  # inputs, forward outputs, cache and gradients
    assert_fresh(back, args, result, grads)
    assert_equal_results(call.backward(*grads, cache), back)  # the cache can be reused


# --- nn layers --------------------------------------------------------------------------------

LAYERS = {
    "Conv2D": (lambda dt, be: nn.Conv2D(3, 4, (3, 2), stride=2, pad=1, dtype=dt, seed=0, backend=be), lambda r, dt: [r.standard_normal((2, 3, 7, 6)).astype(dt)]),
    "ConvTranspose2D": (lambda dt, be: nn.ConvTranspose2D(3, 4, (3, 2), stride=2, pad=1, output_padding=1, dtype=dt, seed=0, backend=be),
                        lambda r, dt: [r.standard_normal((2, 3, 4, 5)).astype(dt)]),
    "MaxPool2D": (lambda dt, be: nn.MaxPool2D((2, 3), stride=1, backend=be), lambda r, dt: [r.standard_normal((2, 3, 7, 6)).astype(dt)]),
    "RNN": (lambda dt, be: nn.RNN(4, 5, dtype=dt, seed=0, backend=be), lambda r, dt: [r.standard_normal((2, 3, 4)).astype(dt), r.standard_normal((2, 5)).astype(dt)]),
    "LSTM": (lambda dt, be: nn.LSTM(4, 5, dtype=dt, seed=0, backend=be),
             lambda r, dt: [r.standard_normal((2, 3, 4)).astype(dt), r.standard_normal((2, 5)).astype(dt), r.standard_normal((2, 5)).astype(dt)]),
    "Embedding": (lambda dt, be: nn.Embedding(6, 4, dtype=dt, seed=0, backend=be), lambda r, dt: [r.integers(0, 6, (2, 3))]),
    "TemporalAffine": (lambda dt, be: nn.TemporalAffine(4, 5, dtype=dt, seed=0, backend=be), lambda r, dt: [r.standard_normal((2, 3, 4)).astype(dt)]),
}


@pytest.mark.parametrize("backend", ["fast", "reference"])
@pytest.mark.parametrize("layout", ["C", "readonly"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_nn_layer_forward_backward_inputs_unchanged(rng, dtype, layout, name, backend):
    make_layer, make_inputs = LAYERS[name]
    layer = make_layer(dtype, backend)
    args = laid_out(make_inputs(rng, dtype), layout)
    params = copy.deepcopy(layer.params)
    saved = copy.deepcopy(args)
    out = layer.forward(*args)
    assert_same(args, saved)
    assert_same(layer.params, params, "params")
    assert_fresh(out, args, layer.params)
    dout = as_layout(rng.standard_normal(out.shape).astype(out.dtype), layout)
    saved = copy.deepcopy((args, out, dout, layer._cache))
    back = layer.backward(dout)
    assert_same((args, out, dout, layer._cache), saved)
    assert_same(layer.params, params, "params")  # backward fills grads only
    assert_fresh(back, args, out, dout, layer.params)
    assert_fresh(tuple(layer.grads.values()), args, out, dout, layer.params)


def test_no_mutation_checks_can_fail():
    a = np.arange(6.0)
    saved = copy.deepcopy([a, {"stride": 1}])
    a[2] = np.nan
    with pytest.raises(AssertionError, match=r"args\[0\] was modified"):
        assert_same([a, {"stride": 1}], saved)
    with pytest.raises(AssertionError, match=r"args\[1\]\['stride'\] changed"):
        assert_same([np.arange(6.0), {"stride": 2}], [np.arange(6.0), {"stride": 1}])
    with pytest.raises(AssertionError, match="shares memory"):
        assert_fresh((a[::2], None), [a])
