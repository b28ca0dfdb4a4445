"""Graph pieces and model builders (cs231n_fast.nn.graph, cs231n_fast.nn.models): Residual and
Parallel against their definitions and numerical gradients, the builders' shapes and training,
and a small ResNet against the ThreeLayerConvNet on the embedded digits.

Tolerances: gradient checks run in float64 against centred differences (h = 1e-6) and ask
``grad_error < 1e-7`` (max error over the gradient's scale, tests/helpers.py); equalities of a
container with the same layers called by hand are exact (the same operations in the same
order).
"""

import pickle

import numpy as np
import pytest
from helpers import grad_error, numerical_grad

from cs231n_fast.classifiers.cnn import ThreeLayerConvNet
from cs231n_fast.data import get_digits_data
from cs231n_fast.nn import (
    Affine,
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    MaxPool2D,
    Parallel,
    ReLU,
    Residual,
    Sequential,
    SpatialBatchNorm,
    Tanh,
    ZeroPad2D,
    models,
)
from cs231n_fast.solver import Solver
from cs231n_fast.training import limit_threads

F64 = {"dtype": np.float64}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Every kernel on one thread, as `cs231n-fast train` runs the digits: the arrays here are
    tiny, and threads only wait for each other (the kernels' results do not depend on the
    thread count: tests/test_determinism.py)."""
    with limit_threads(1):
        yield


GRAD_TOL = 1e-7  # float64, vs the gradient's scale


def _conv(cin, cout, k, seed, **kw):
    return Conv2D(cin, cout, k, pad=kw.pop("pad", k // 2), seed=seed, **F64, **kw)


def _randomize(layer, rng):
    """Non-trivial biases, scales and shifts (the initial ones are zeros and ones)."""
    for key, p in layer.params.items():
        if key.rsplit(".", 1)[-1] in ("b", "beta", "gamma"):
            layer.params[key] = 0.5 * rng.standard_normal(p.shape) + key.endswith("gamma")


def _assert_grad_close(analytic, numeric, what, tol=GRAD_TOL):
    if np.max(np.abs(numeric)) < 1e-6:  # a bias before batch norm: its gradient is exactly 0
        assert np.max(np.abs(analytic)) < 1e-9, what
    else:
        assert grad_error(analytic, numeric) < tol, what


def _check_gradients(layer, x, rng):
    """Numerical gradients of ``sum(layer.forward(x) * dout)`` w.r.t. x and every parameter
    against ``backward``; the parameters are written back through ``layer.params``."""
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    grads = layer.grads
    assert grads.keys() == layer.params.keys()
    assert grad_error(dx, numerical_grad(layer.forward, x, dout)) < GRAD_TOL, "x"
    for key, value in layer.params.items():

        def f(p, key=key):
            layer.params[key] = p
            return layer.forward(x)

        expected = numerical_grad(f, value, dout)
        layer.params[key] = value
        assert grads[key].shape == value.shape
        _assert_grad_close(grads[key], expected, key)
    np.testing.assert_array_equal(layer.forward(x), out)  # the parameters are back


# --- Residual ---------------------------------------------------------------------------------


def _conv_block(c, seed):
    return Sequential(_conv(c, c, 3, seed), SpatialBatchNorm(c, **F64), ReLU(),
                      _conv(c, c, 3, seed + 1), SpatialBatchNorm(c, **F64))  # fmt: skip


def test_residual_identity_gradcheck(rng):
    res = Residual(_conv_block(3, 0), post=ReLU())
    _randomize(res, rng)
    _check_gradients(res, rng.standard_normal((2, 3, 4, 4)), rng)


def test_residual_conv_projection_gradcheck(rng):
    block = Sequential(_conv(3, 5, 3, 0, stride=2), SpatialBatchNorm(5, **F64), ReLU(),
                       _conv(5, 5, 3, 1))  # fmt: skip
    res = Residual(block, _conv(3, 5, 1, 2, stride=2), post=Tanh())
    _randomize(res, rng)
    assert res.forward(np.zeros((2, 3, 5, 5))).shape == (2, 5, 3, 3)
    _check_gradients(res, rng.standard_normal((2, 3, 5, 5)), rng)


def test_residual_affine_projection_gradcheck(rng):
    res = Residual(Sequential(Affine(4, 6, seed=0, **F64), Tanh(), Affine(6, 3, seed=1, **F64)),
                   Affine(4, 3, seed=2, **F64))  # fmt: skip
    _randomize(res, rng)
    _check_gradients(res, rng.standard_normal((5, 4)), rng)


def test_residual_nested_gradcheck(rng):
    inner = Residual(Sequential(_conv(2, 2, 3, 0), Tanh()))
    outer = Residual(Sequential(inner, _conv(2, 4, 1, 1)), Sequential(_conv(2, 4, 1, 2)),
                     post=ReLU())  # fmt: skip
    _randomize(outer, rng)
    assert list(outer.params) == ["block.0.block.0.w", "block.0.block.0.b", "block.1.w",
                                  "block.1.b", "shortcut.0.w", "shortcut.0.b"]  # fmt: skip
    _check_gradients(outer, rng.standard_normal((2, 2, 3, 3)), rng)


@pytest.mark.parametrize("post", [False, True])
def test_residual_identity_equals_block_plus_x(dtype, post, rng):
    block = Sequential(Affine(6, 6, seed=0, dtype=dtype), ReLU(), Affine(6, 6, seed=1, dtype=dtype))
    res = Residual(block, post=ReLU() if post else None)
    x = rng.standard_normal((4, 6)).astype(dtype)
    expected = block.forward(x) + x
    if post:
        expected = np.maximum(expected, 0)
    out = res.forward(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    dout = rng.standard_normal((4, 6)).astype(dtype)
    dx = res.backward(dout)
    assert dx.dtype == dtype
    dsum = dout * (expected > 0) if post else dout
    block.forward(x)
    np.testing.assert_array_equal(dx, block.backward(dsum) + dsum)
    assert res.grads.keys() == {"block.0.W", "block.0.b", "block.2.W", "block.2.b"}
    for key, grad in block.grads.items():
        np.testing.assert_array_equal(res.grads[f"block.{key}"], grad)


def test_residual_does_not_mutate_input(rng):
    res = Residual(Sequential(Affine(3, 3, seed=0), ReLU()))
    x = rng.standard_normal((2, 3)).astype(np.float32)
    dout = rng.standard_normal((2, 3)).astype(np.float32)
    x0, d0 = x.copy(), dout.copy()
    res.forward(x)
    res.backward(dout)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


# --- Parallel ---------------------------------------------------------------------------------


def test_parallel_concat_order_and_split(dtype, rng):
    a, b = Affine(4, 2, seed=0, dtype=dtype), Affine(4, 3, seed=1, dtype=dtype)
    par = Parallel(a, b, axis=-1)
    x = rng.standard_normal((5, 4)).astype(dtype)
    out = par.forward(x)
    assert out.shape == (5, 5) and out.dtype == dtype
    np.testing.assert_array_equal(out[:, :2], a.forward(x))
    np.testing.assert_array_equal(out[:, 2:], b.forward(x))
    dout = rng.standard_normal((5, 5)).astype(dtype)
    par.forward(x)
    dx = par.backward(dout)
    assert dx.dtype == dtype
    ga, gb = dict(a.grads), dict(b.grads)
    a.forward(x)
    b.forward(x)
    np.testing.assert_array_equal(dx, a.backward(dout[:, :2]) + b.backward(dout[:, 2:]))
    np.testing.assert_array_equal(ga["W"], a.grads["W"])
    np.testing.assert_array_equal(gb["b"], b.grads["b"])
    assert list(par.params) == ["0.W", "0.b", "1.W", "1.b"]


def test_parallel_concatenates_channels(rng):
    branches = [_conv(3, 2, 1, 0), _conv(3, 4, 3, 1), Sequential(ZeroPad2D(1), MaxPool2D(3, stride=1))]
    par = Parallel(*branches)
    x = rng.standard_normal((2, 3, 5, 6))
    out = par.forward(x)
    assert out.shape == (2, 2 + 4 + 3, 5, 6)
    np.testing.assert_array_equal(out[:, :2], branches[0].forward(x))
    np.testing.assert_array_equal(out[:, 2:6], branches[1].forward(x))
    np.testing.assert_array_equal(out[:, 6:], branches[2].forward(x))


def test_parallel_inception_gradcheck(rng):
    par = Parallel(
        _conv(3, 2, 1, 0),
        Sequential(_conv(3, 2, 1, 1), SpatialBatchNorm(2, **F64), ReLU(), _conv(2, 3, 3, 2)),
        Sequential(ZeroPad2D(1), MaxPool2D(3, stride=1), _conv(3, 2, 1, 3)),
        Residual(Sequential(_conv(3, 3, 3, 4), Tanh())),
    )
    _randomize(par, rng)
    _check_gradients(par, rng.standard_normal((2, 3, 4, 4)), rng)


def test_residual_of_parallel_in_sequential_loss_gradcheck(rng):
    # Residual(Parallel) inside a Sequential: the Solver's path (model.loss, model.params).
    res = Residual(Parallel(_conv(4, 2, 1, 0), _conv(4, 2, 3, 1)), post=ReLU())
    model = Sequential(_conv(2, 4, 3, 2), res, GlobalAvgPool2D(), Affine(4, 3, seed=3, **F64), reg=0.1)
    _randomize(model, rng)
    X, y = rng.standard_normal((3, 2, 4, 4)), rng.integers(0, 3, 3)
    loss, grads = model.loss(X, y)
    assert list(grads) == list(model.params) == [
        "0.w", "0.b", "1.block.0.w", "1.block.0.b", "1.block.1.w", "1.block.1.b", "3.W", "3.b"]
    for key, value in model.params.items():

        def f(p, key=key):
            model.params[key] = p
            return model.loss(X, y)[0]

        expected = numerical_grad(f, value, 1.0)
        model.params[key] = value
        _assert_grad_close(grads[key], expected, key)
    # reg decays the nested filters too (parameters named w)
    plain = Sequential(*model.layers)
    _, plain_grads = plain.loss(X, y)
    w = model.params["1.block.1.w"]
    np.testing.assert_allclose(grads["1.block.1.w"], plain_grads["1.block.1.w"] + 0.1 * w, rtol=1e-12)


@pytest.mark.parametrize("layer, shape", [(GlobalAvgPool2D(), (2, 3, 3, 4)), (ZeroPad2D((1, 2)), (2, 2, 3, 2))])
def test_pool_and_pad_gradcheck(layer, shape, rng):
    x = rng.standard_normal(shape)
    out = layer.forward(x)
    assert out.shape == ((2, 3) if isinstance(layer, GlobalAvgPool2D) else (2, 2, 5, 6))
    _check_gradients(layer, x, rng)


def test_global_avg_pool_and_pad_dtypes(dtype, rng):
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    for layer in (GlobalAvgPool2D(), ZeroPad2D(1)):
        out = layer.forward(x)
        assert out.dtype == dtype
        assert layer.backward(np.ones_like(out)).dtype == dtype
    np.testing.assert_allclose(GlobalAvgPool2D().forward(x), x.mean(axis=(2, 3)), rtol=1e-6)


# --- the protocol: parameters, modes, nesting ---------------------------------------------------


def test_params_write_through_nested(rng):
    conv = _conv(2, 2, 3, 0)
    model = Sequential(Residual(Sequential(conv, ReLU())), Flatten(), Affine(8, 2, seed=1, **F64))
    key = "0.block.0.w"
    assert key in model.params
    new = rng.standard_normal(conv.params["w"].shape)
    model.params[key] = new
    np.testing.assert_array_equal(conv.params["w"], new)
    model.params = {k: np.zeros_like(v) for k, v in model.params.items()}
    assert not conv.params["w"].any()
    with pytest.raises(ValueError, match="shape"):
        model.params[key] = np.zeros((1, 1))
    with pytest.raises(ValueError, match="no parameter"):
        model.layers[0].params["block.9.w"] = new


def test_mode_propagates_to_nested_layers():
    bn, drop = SpatialBatchNorm(2), Dropout(0.5)
    par = Parallel(Residual(Sequential(bn, ReLU())), drop)
    model = Sequential(par, GlobalAvgPool2D(), Affine(4, 2))
    model.eval()
    assert not par.training and not bn.training and not drop.training
    model.train()
    assert par.training and bn.training and drop.training
    # loss(X) is evaluated in test mode: batch norm with its running statistics (zeros: the
    # first forward ran nothing in training mode), the model's mode unchanged afterwards
    X = np.ones((3, 2, 2, 2), np.float32)
    model.loss(X)
    assert bn.training and not np.any(bn.running_mean)
    model.loss(X, np.zeros(3, int))
    assert np.any(bn.running_mean)


def test_containers_pickle_and_report_kernels(rng):
    model = models.small_resnet((1, 8, 8), widths=(4, 8), seed=0)
    assert model._uses_kernels()  # conv layers nested in Residual blocks run the kernels
    assert model.layers[3].runs_kernels and not Residual(Affine(2, 2)).runs_kernels
    X = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.loss(X), model.loss(X))
    assert "Residual(" in repr(model) and "Parallel(" in repr(models.inception_net((1, 8, 8)))


def test_frozen_child_leaves_params_and_runs_in_eval(rng):
    # the freezing protocol of Sequential (a layer's ``trainable`` flag) inside containers
    block_bn = SpatialBatchNorm(2, **F64)
    block = Sequential(_conv(2, 2, 3, 0), block_bn)
    shortcut = _conv(2, 2, 1, 1)
    res = Residual(block, shortcut)
    block.trainable = False
    assert list(res.params) == list(res.grads) == ["shortcut.w", "shortcut.b"]
    res.train()
    assert res.training and not block_bn.training  # frozen: evaluation mode, stats unchanged
    x = rng.standard_normal((2, 2, 3, 3))
    out = res.forward(x)
    dx = res.backward(np.ones_like(out))
    assert dx.shape == x.shape and not np.any(block_bn.running_mean)
    par = Parallel(Affine(2, 2), Affine(2, 3))
    par.branches[0].trainable = False
    assert list(par.params) == ["1.W", "1.b"]


def test_state_dict_round_trip_with_buffers(rng):
    # batch norm as a direct child: its running statistics are its ``buffers``
    def build(seed):
        return Parallel(Residual(SpatialBatchNorm(2, **F64), _conv(2, 2, 3, seed), post=ReLU()),
                        _conv(2, 3, 1, seed + 1))  # fmt: skip

    a, b = build(0), build(10)
    x = rng.standard_normal((3, 2, 4, 4))
    a.forward(x)  # training mode: batch norm's running statistics move
    state = a.state_dict()
    assert {"1.w", "0.block.running_mean", "0.block.running_var"} <= set(state)
    assert set(a.params) <= set(state) and np.any(state["0.block.running_mean"])
    a.layers[0].block.trainable = False
    assert set(a.state_dict()) == set(state)  # frozen parameters are saved too
    b.load_state_dict({k: np.array(v) for k, v in state.items()})
    for key, value in state.items():
        np.testing.assert_array_equal(b.state_dict()[key], value, err_msg=key)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    with pytest.raises(ValueError, match="missing keys"):
        b.load_state_dict({k: v for k, v in state.items() if k != "1.w"})
    with pytest.raises(ValueError, match="state"):
        b.load_state_dict({**state, "1.w": np.zeros(2)})
    with pytest.raises(TypeError, match="state must be a dict"):
        b.load_state_dict([1, 2])


def test_backward_before_forward_raises():
    for layer in (Residual(Affine(2, 2)), Parallel(Affine(2, 2)), GlobalAvgPool2D(), ZeroPad2D(1)):
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(np.zeros((1, 2)))


# --- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: Residual("conv"), TypeError, "block must be a layer"),
        (lambda: Residual(Affine(2, 2), shortcut=np.eye(2)), TypeError, "shortcut must be a layer"),
        (lambda: Residual(Affine(2, 2), post=np.maximum), TypeError, "post must be a layer"),
        (lambda: Residual(None), TypeError, "block must be a layer"),
        (lambda: Parallel(), ValueError, "at least one branch"),
        (lambda: Parallel(Affine(2, 2), [ReLU()]), TypeError, r"branches\[1\] must be a layer"),
        (lambda: Parallel(Affine(2, 2), axis=0), ValueError, "batch axis"),
        (lambda: Parallel(Affine(2, 2), axis=1.0), TypeError, "axis must be an int"),
        (lambda: Parallel(Affine(2, 2), axis=True), TypeError, "axis must be an int"),
        (lambda: ZeroPad2D(-1), ValueError, "pad"),
    ],
)
def test_bad_construction(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_same_layer_twice_raises():
    a = Affine(2, 2)
    with pytest.raises(ValueError, match="same Affine object"):
        Residual(a, a)
    with pytest.raises(ValueError, match="same Affine object"):
        Parallel(a, ReLU(), a)


def test_same_layer_nested_twice_raises():
    """A layer object reused inside a block (a shared ReLU) would overwrite the cache of its
    first use and give wrong gradients silently: refused at any depth, naming both places."""
    relu = ReLU()
    block = Sequential(Affine(5, 5), relu)
    with pytest.raises(ValueError, match=r"layers\[1\] and layers\[2\]\.block\[1\] are the same ReLU"):
        Sequential(Affine(6, 5), relu, Residual(block), Affine(5, 3))
    with pytest.raises(ValueError, match=r"block\[1\] and shortcut are the same ReLU"):
        Residual(block, relu)
    affine = Affine(4, 4)
    with pytest.raises(ValueError, match=r"0\.block and 1\[0\] are the same Affine"):
        Parallel(Residual(affine), Sequential(affine))
    # distinct objects (and the same class) are fine
    Sequential(Affine(6, 5), ReLU(), Residual(Sequential(Affine(5, 5), ReLU())), Affine(5, 3))


def test_residual_shape_mismatch_without_projection_names_fix(rng):
    res = Residual(Sequential(Conv2D(3, 6, 3, stride=2, pad=1), ReLU()))
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match=r"identity shortcut.*\(2, 3, 8, 8\).*projection shortcut"):
        res.forward(x)
    bad = Residual(Affine(4, 3), shortcut=Affine(4, 2))
    with pytest.raises(ValueError, match=r"shortcut's has shape \(2, 2\)"):
        bad.forward(np.ones((2, 4), np.float32))


def test_parallel_mismatched_branches_and_axis(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    with pytest.raises(ValueError, match=r"branches\[1\].*\(2, 4, 4, 4\)"):
        Parallel(Conv2D(3, 2, 3, pad=1), Conv2D(3, 4, 3)).forward(x)
    with pytest.raises(ValueError, match="axis"):
        Parallel(Affine(108, 2), axis=2).forward(x)  # 2-D outputs
    with pytest.raises(ValueError, match="axis"):
        Parallel(Affine(108, 2), axis=-2).forward(x)  # the batch axis, counted from the end


def test_dout_shape_checked(rng):
    res, par = Residual(Affine(3, 3)), Parallel(Affine(3, 2), Affine(3, 2))
    x = rng.standard_normal((2, 3))
    res.forward(x)
    par.forward(x)
    with pytest.raises(ValueError, match="dout must have shape"):
        res.backward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="dout must have shape"):
        par.backward(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="x must be"):
        res.forward(np.array(["a", "b"]))


# --- builders -----------------------------------------------------------------------------------

BUILDERS = [models.lenet5, models.small_vgg, models.small_resnet, models.inception_net]
#: Small widths for the CPU-bound tests; the defaults are checked for shape only.
SMALL = {
    "lenet5": {},
    "small_vgg": dict(widths=(4, 8), hidden_dim=16),
    "small_resnet": dict(widths=(4, 8)),
    "inception_net": dict(stem_width=4, modules=((2, (2, 4), (2, 2), 2), (4, (2, 4), (2, 2), 2))),
}


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_builder_forward_shape(build, shape, rng):
    model = build(shape, num_classes=7, seed=0)
    X = rng.standard_normal((2, *shape)).astype(np.float32)
    scores = model.loss(X)
    assert scores.shape == (2, 7) and scores.dtype == np.float32
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert len(set(model.params)) == len(model.params)


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
def test_builder_reference_backend_matches_fast(build, rng):
    # the same weights (same seed) on the NumPy twin's convolutions and poolings; float64
    fast = build((1, 8, 8), seed=5, dtype=np.float64, **SMALL[build.__name__])
    ref = build((1, 8, 8), seed=5, dtype=np.float64, backend="reference", **SMALL[build.__name__])
    X, y = rng.standard_normal((3, 1, 8, 8)), np.array([0, 1, 2])
    np.testing.assert_allclose(ref.loss(X), fast.loss(X), rtol=1e-9, atol=1e-12)
    (lf, gf), (lr, gr) = fast.loss(X, y), ref.loss(X, y)
    np.testing.assert_allclose(lr, lf, rtol=1e-9)
    # atol against the largest gradient: the biases before batch norm have gradients of pure
    # rounding noise (exactly 0 in exact arithmetic)
    scale = max(float(np.abs(g).max()) for g in gf.values())
    for key in gf:
        np.testing.assert_allclose(gr[key], gf[key], rtol=1e-7, atol=1e-10 * scale, err_msg=key)


def test_lenet5_layer_sizes():
    model = models.lenet5()  # the paper's 1x32x32
    n = sum(v.size for v in model.params.values())
    assert n == 61706  # 156 + 2416 + 48120 + 10164 + 850
    assert model.params["7.W"].shape == (400, 120)
    assert models.lenet5((1, 8, 8)).params["7.W"].shape == (64, 120)  # pad 2: 16 x 2 x 2


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_builder_solver_step_reduces_loss(build, shape, rng):
    X = rng.standard_normal((6, *shape)).astype(np.float32)
    y = np.arange(6) % 3
    model = build(shape, num_classes=3, seed=1, **SMALL[build.__name__])
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-4},
                    batch_size=6, verbose=False, seed=0)  # fmt: skip
    masks = []
    choice = solver._choice
    solver._choice = lambda n, b: masks.append(choice(n, b)) or masks[-1]
    solver._step()
    after, _ = model.loss(X[masks[0]], y[masks[0]])
    assert after < solver.loss_history[0]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__)
def test_builder_float64_gradcheck_spot(build, rng):
    # float64 models: the loss gradient of the first and last parameters against centred
    # differences (a spot check of the assembled graph; each piece is checked above)
    model = build((1, 8, 8), num_classes=3, seed=2, dtype=np.float64, **SMALL[build.__name__])
    assert all(v.dtype == np.float64 for v in model.params.values())
    X, y = rng.standard_normal((3, 1, 8, 8)), np.array([0, 1, 2])
    _, grads = model.loss(X, y)
    keys = list(model.params)
    for key in (keys[0], keys[-1]):
        value = model.params[key]

        def f(p, key=key):
            model.params[key] = p
            return model.loss(X, y)[0]

        expected = numerical_grad(f, value, 1.0)
        model.params[key] = value
        _assert_grad_close(grads[key], expected, key, 1e-6)


def test_builders_are_seeded():
    a, b = models.small_resnet((1, 8, 8), seed=3), models.small_resnet((1, 8, 8), seed=3)
    for key, value in a.params.items():
        np.testing.assert_array_equal(value, b.params[key])
    c = models.small_resnet((1, 8, 8), seed=4)
    assert not np.array_equal(a.params["0.w"], c.params["0.w"])


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: models.lenet5((8, 8)), ValueError, "input_shape"),
        (lambda: models.lenet5("1x8x8"), TypeError, "input_shape"),
        (lambda: models.lenet5((1, 0, 8)), ValueError, r"input_shape\[1\]"),
        (lambda: models.lenet5((1, 8, 8), pad=0), ValueError, "too small"),
        (lambda: models.lenet5(num_classes=0), ValueError, "num_classes"),
        (lambda: models.small_vgg(widths=()), TypeError, "widths"),
        (lambda: models.small_vgg(widths=(8, 0)), ValueError, r"widths\[1\]"),
        (lambda: models.small_resnet(dtype=np.int32), TypeError, "dtype"),
        (lambda: models.small_resnet(blocks_per_stage=0), ValueError, "blocks_per_stage"),
        (lambda: models.small_resnet(reg=-1), ValueError, "reg"),
        (lambda: models.small_resnet(backend="torch"), ValueError, "backend"),
        (lambda: models.inception_net(modules=((1, 2, 3, 4),)), TypeError, r"modules\[0\]"),
        (lambda: models.inception_net(modules=()), TypeError, "modules"),
    ],
)
def test_builder_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# --- a residual network on the embedded digits -------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return get_digits_data()  # 1297 train / 250 val / 250 test images (1, 8, 8), seed 0


def _digits_accuracy(model, data):
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 3e-3},
                    lr_decay=0.9, num_epochs=EPOCHS, batch_size=50, num_train_samples=None,
                    verbose=False, seed=0)  # fmt: skip
    solver.train()
    return solver.best_val_acc, solver.check_accuracy(data["X_test"], data["y_test"])


EPOCHS = 10  # the budget of `cs231n-fast train` on the digits and of tests/test_networks.py


def test_small_resnet_matches_three_layer_convnet_on_digits(digits):
    # Same budget for both (10 epochs of Adam, lr 3e-3 decayed by 0.9 per epoch, batch 50,
    # one thread as `cs231n-fast train` on the digits). The ThreeLayerConvNet is the
    # configuration of `cs231n-fast train` (tests/test_networks.py: val 0.976, test 0.976).
    cnn = ThreeLayerConvNet((1, 8, 8), num_filters=32, filter_size=3, hidden_dim=100,
                            weight_scale=0.1, seed=0)  # fmt: skip
    cnn_val, cnn_test = _digits_accuracy(cnn, digits)
    resnet = models.small_resnet((1, 8, 8), widths=RESNET_WIDTHS, seed=0)
    res_val, res_test = _digits_accuracy(resnet, digits)
    print(f"digits: ThreeLayerConvNet val {cnn_val:.3f} test {cnn_test:.3f}; "
          f"small_resnet{RESNET_WIDTHS} val {res_val:.3f} test {res_test:.3f}")  # fmt: skip
    assert cnn_val >= 0.95 and cnn_test >= 0.94  # the baseline did learn
    assert res_test >= cnn_test
    assert res_val >= cnn_val


RESNET_WIDTHS = (16, 32, 64)  # the default
