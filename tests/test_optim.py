"""Update rules, get_update_rule and lbfgs (cs231n_fast.optim); clip_grad_norm is in
test_optim_clip.py."""

import math

import numpy as np
import pytest

from cs231n_fast import optim
from cs231n_fast.optim import adam, get_update_rule, lbfgs, rmsprop, sgd, sgd_momentum

RULES = ["sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam"]

#: The course's defaults, written out (not read from the implementation).
DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "nesterov_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "adagrad": {"learning_rate": 1e-2, "epsilon": 1e-8},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
STATE = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "nesterov_momentum": ("velocity",),
    "adagrad": ("cache",),
    "rmsprop": ("cache",),
    "adam": ("m", "v"),
}
#: Non-default hyperparameters for the hand-computed steps.
HYPER = {
    "sgd": {"learning_rate": 0.1},
    "sgd_momentum": {"learning_rate": 0.1, "momentum": 0.9},
    "nesterov_momentum": {"learning_rate": 0.1, "momentum": 0.9},
    "adagrad": {"learning_rate": 0.1, "epsilon": 1e-8},
    "rmsprop": {"learning_rate": 0.1, "decay_rate": 0.9, "epsilon": 1e-8},
    "adam": {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.99, "epsilon": 1e-8},
}


def scalar_step(name, hp, w, dw, s):
    """One update of a single float, the formulas written out with Python floats."""
    lr = hp["learning_rate"]
    if name == "sgd":
        return w - lr * dw, {}
    if name == "sgd_momentum":
        v = hp["momentum"] * s.get("velocity", 0.0) - lr * dw
        return w + v, {"velocity": v}
    if name == "nesterov_momentum":
        mu, v_prev = hp["momentum"], s.get("velocity", 0.0)
        v = mu * v_prev - lr * dw
        return w - mu * v_prev + (1 + mu) * v, {"velocity": v}
    if name == "adagrad":
        cache = s.get("cache", 0.0) + dw * dw
        return w - lr * dw / (math.sqrt(cache) + hp["epsilon"]), {"cache": cache}
    if name == "rmsprop":
        rho = hp["decay_rate"]
        cache = rho * s.get("cache", 0.0) + (1 - rho) * dw * dw
        return w - lr * dw / (math.sqrt(cache) + hp["epsilon"]), {"cache": cache}
    if name == "adam":
        b1, b2, t = hp["beta1"], hp["beta2"], s.get("t", 0) + 1
        m = b1 * s.get("m", 0.0) + (1 - b1) * dw
        v = b2 * s.get("v", 0.0) + (1 - b2) * dw * dw
        mt, vt = m / (1 - b1**t), v / (1 - b2**t)
        return w - lr * mt / (math.sqrt(vt) + hp["epsilon"]), {"m": m, "v": v, "t": t}
    raise AssertionError(name)


def reference_steps(name, hp, w, dws):
    """Apply ``scalar_step`` entry by entry for each gradient in ``dws``; per-step results."""
    w = [float(e) for e in np.ravel(w)]
    states = [{} for _ in w]
    out = []
    for dw in dws:
        steps = [scalar_step(name, hp, wi, float(di), si)
                 for wi, di, si in zip(w, np.ravel(dw), states)]
        w = [nw for nw, _ in steps]
        states = [s for _, s in steps]
        out.append((np.array(w), {k: np.array([s[k] for s in states]) for k in STATE[name]}))
    return out


# --- the course's check values (FullyConnectedNets.ipynb) ------------------------------------

N, D = 4, 5
W_CHECK = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
DW_CHECK = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
A_CHECK = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
COURSE_TOL = 1e-8  # the notebook prints its expected values with 8 decimals


def test_sgd_momentum_course_check_values():
    config = {"learning_rate": 1e-3, "velocity": A_CHECK}
    next_w, config = sgd_momentum(W_CHECK, DW_CHECK, config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    np.testing.assert_allclose(next_w, expected_next_w, rtol=0, atol=COURSE_TOL)
    np.testing.assert_allclose(config["velocity"], expected_velocity, rtol=0, atol=COURSE_TOL)


def test_rmsprop_course_check_values():
    config = {"learning_rate": 1e-2, "cache": A_CHECK}
    next_w, config = rmsprop(W_CHECK, DW_CHECK, config=config)
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    np.testing.assert_allclose(next_w, expected_next_w, rtol=0, atol=COURSE_TOL)
    np.testing.assert_allclose(config["cache"], expected_cache, rtol=0, atol=COURSE_TOL)


def test_adam_course_check_values():
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "m": A_CHECK, "v": v, "t": 5}
    next_w, config = adam(W_CHECK, DW_CHECK, config=config)
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    np.testing.assert_allclose(next_w, expected_next_w, rtol=0, atol=COURSE_TOL)
    np.testing.assert_allclose(config["v"], expected_v, rtol=0, atol=COURSE_TOL)
    np.testing.assert_allclose(config["m"], expected_m, rtol=0, atol=COURSE_TOL)
    assert config["t"] == 6


# --- hand-computed two-step values -------------------------------------------------------------

#: w = 1.0, dw = 0.5 then -1.0, hyperparameters HYPER; worked by hand (see each comment).
BY_HAND = {
    # 1 - 0.1 * 0.5; 0.95 + 0.1
    "sgd": (0.95, 1.05),
    # v = -0.05, w = 0.95; v = 0.9 * -0.05 + 0.1 = 0.055, w = 1.005
    "sgd_momentum": (0.95, 1.005),
    # v = -0.05, w = 1 + 1.9 * -0.05 = 0.905; v = 0.055, w = 0.905 + 0.045 + 1.9 * 0.055
    "nesterov_momentum": (0.905, 1.0545),
    # cache 0.25, w = 1 - 0.05 / 0.5; cache 1.25, w = 0.9 + 0.1 / sqrt(1.25)
    "adagrad": (0.900000002, 0.9894427202999916),
    # cache 0.025, w = 1 - 0.05 / 0.158114; cache 0.1225, w = 0.683772 + 0.1 / 0.35
    "rmsprop": (0.6837722539831608, 0.9694865315341814),
    # t=1: mt = 0.5, vt = 0.25, w = 0.9; t=2: m = -0.055, v = 0.012475, mt = -0.055 / 0.19,
    # vt = 0.012475 / 0.0199, w = 0.9 + 0.1 * 0.289474 / 0.791760
    "adam": (0.900000002, 0.9365607728717226),
}


@pytest.mark.parametrize("name", RULES)
def test_update_rules_two_steps_by_hand(name):
    rule = get_update_rule(name)
    config = dict(HYPER[name])
    w1, config = rule(np.array([1.0]), np.array([0.5]), config)
    w2, config = rule(w1, np.array([-1.0]), config)
    expected = BY_HAND[name]
    np.testing.assert_allclose([w1[0], w2[0]], expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", RULES)
def test_update_rules_two_steps_match_formula(name, dtype, rng):
    rule = get_update_rule(name)
    w = rng.uniform(-1, 1, (2, 3)).astype(dtype)
    dws = [rng.uniform(-1, 1, (2, 3)).astype(dtype) for _ in range(2)]
    config = dict(HYPER[name])
    expected = reference_steps(name, HYPER[name], w.astype(np.float64),
                               [d.astype(np.float64) for d in dws])
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for dw, (exp_w, exp_state) in zip(dws, expected):
        returned_config = config
        w, config = rule(w, dw, config)
        assert config is returned_config  # the same dict carries the state
        assert w.dtype == dtype and w.shape == (2, 3)
        np.testing.assert_allclose(w.ravel(), exp_w, rtol=rtol, atol=rtol)
        for key in STATE[name]:
            assert config[key].dtype == dtype, key
            np.testing.assert_allclose(config[key].ravel(), exp_state[key], rtol=rtol, atol=rtol)
    if name == "adam":
        assert config["t"] == 2


@pytest.mark.parametrize("name", RULES)
def test_update_rules_config_defaults(name, rng):
    w, dw = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    for config in (None, {}):
        next_w, out = get_update_rule(name)(w, dw, config)
        if config is not None:
            assert out is config
        for key, value in DEFAULTS[name].items():
            assert out[key] == value, key
        for key in STATE[name]:
            assert out[key].shape == w.shape, key
        expected = reference_steps(name, DEFAULTS[name], w, [dw])[0][0]
        np.testing.assert_allclose(next_w.ravel(), expected, rtol=1e-12)
    if name == "adam":
        assert out["t"] == 1


@pytest.mark.parametrize("name", RULES)
def test_update_rules_keep_user_hyperparameters(name, rng):
    w, dw = rng.standard_normal(4), rng.standard_normal(4)
    config = {key: np.float32(value) for key, value in HYPER[name].items()}
    before = dict(config)
    get_update_rule(name)(w, dw, config)
    for key, value in before.items():
        assert config[key] is value, key


@pytest.mark.parametrize("name", RULES)
def test_update_rules_inputs_unchanged(name, rng):
    w, dw = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    state = {key: np.abs(rng.standard_normal((3, 4))) for key in STATE[name]}
    config = dict(HYPER[name], **state)
    copies = [np.array(a, copy=True) for a in (w, dw, *state.values())]
    for _ in range(2):  # the second call sees the state arrays the first call stored
        next_w, config = get_update_rule(name)(w, dw, config)
        assert not np.shares_memory(next_w, w) and not np.shares_memory(next_w, dw)
    for a, c in zip((w, dw, *state.values()), copies):
        np.testing.assert_array_equal(a, c)
    for key in STATE[name]:
        assert config[key] is not state[key]


@pytest.mark.parametrize("name", RULES)
def test_update_rules_readonly_inputs(name, rng):
    w, dw = rng.standard_normal(5), rng.standard_normal(5)
    w.setflags(write=False)
    dw.setflags(write=False)
    next_w, _ = get_update_rule(name)(w, dw)
    assert next_w.flags.writeable


@pytest.mark.parametrize("name", RULES)
def test_update_rules_dtype(name, rng):
    w32 = rng.standard_normal(6).astype(np.float32)
    dw32 = rng.standard_normal(6).astype(np.float32)
    rule = get_update_rule(name)
    next_w, config = rule(w32, dw32)
    assert next_w.dtype == np.float32
    assert all(config[k].dtype == np.float32 for k in STATE[name])
    next_w, config = rule(next_w, dw32, config)  # carried float32 state stays float32
    assert next_w.dtype == np.float32
    assert all(config[k].dtype == np.float32 for k in STATE[name])
    # a float64 gradient: computed in float64, next_w keeps w's dtype
    next_w, config = rule(w32, dw32.astype(np.float64))
    assert next_w.dtype == np.float32
    assert all(config[k].dtype == np.float64 for k in STATE[name])
    # integer gradients are fine, float16 weights stay float16
    next_w, _ = rule(w32.astype(np.float16), np.arange(6))
    assert next_w.dtype == np.float16


def test_adam_first_step_is_learning_rate_times_sign(rng):
    w = rng.standard_normal((4, 5))
    dw = rng.uniform(0.1, 3.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
    lr = 1e-3
    next_w, config = adam(w, dw)
    # mt = dw and vt = dw**2 at t = 1, so the step is lr * dw / (|dw| + eps)
    np.testing.assert_allclose(w - next_w, lr * np.sign(dw), rtol=1e-6)
    assert config["t"] == 1


@pytest.mark.parametrize(
    "name, lr",
    [("sgd", 0.2), ("sgd_momentum", 0.05), ("nesterov_momentum", 0.05), ("adagrad", 0.5),
     ("rmsprop", 0.01), ("adam", 0.05)],
)
def test_update_rules_decrease_convex_quadratic(name, lr, rng):
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    a = q @ np.diag([0.5, 0.8, 1.0, 1.5, 2.0]) @ q.T
    b = rng.standard_normal(5)

    def f(w):
        return 0.5 * w @ a @ w - b @ w

    f_min = f(np.linalg.solve(a, b))
    w = rng.standard_normal(5)
    gap0 = f(w) - f_min
    rule, config = get_update_rule(name), {"learning_rate": lr}
    for _ in range(300):
        w, config = rule(w, a @ w - b, config)
    assert f(w) - f_min < 1e-2 * gap0


def test_get_update_rule_names():
    for name in RULES:
        rule = get_update_rule(name)
        assert rule is getattr(optim, name) and rule.__name__ == name


@pytest.mark.parametrize("name", ["SGD", "momentum", "", None, 3, sgd])
def test_get_update_rule_unknown(name):
    with pytest.raises(ValueError, match=r"name must be.*'adam'.*'sgd_momentum'"):
        get_update_rule(name)


W2 = np.ones((2, 3))


@pytest.mark.parametrize(
    "name, w, dw, config, exc, match",
    [
        ("sgd", W2, np.ones((3, 2)), None, ValueError, "dw"),
        ("sgd", W2, np.ones(6), None, ValueError, "dw"),
        ("sgd", np.ones((2, 3), complex), W2, None, TypeError, "w must"),
        ("sgd", W2, np.ones((2, 3), complex), None, TypeError, "dw"),
        ("sgd", W2, W2, [("learning_rate", 1)], TypeError, "config"),
        ("sgd", W2, W2, {"learning_rate": -1e-3}, ValueError, "learning_rate"),
        ("sgd", W2, W2, {"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ("sgd", W2, W2, {"learning_rate": float("inf")}, ValueError, "learning_rate"),
        ("sgd", W2, W2, {"learning_rate": "1e-3"}, TypeError, "learning_rate"),
        ("sgd", W2, W2, {"learning_rate": True}, TypeError, "learning_rate"),
        ("sgd_momentum", W2, W2, {"momentum": 1.01}, ValueError, "momentum"),
        ("sgd_momentum", W2, W2, {"momentum": -0.1}, ValueError, "momentum"),
        ("nesterov_momentum", W2, W2, {"momentum": 1.5}, ValueError, "momentum"),
        ("sgd_momentum", W2, W2, {"velocity": np.zeros((3, 2))}, ValueError, "velocity"),
        ("nesterov_momentum", W2, W2, {"velocity": np.zeros(6)}, ValueError, "velocity"),
        ("sgd_momentum", W2, W2, {"velocity": "zeros"}, TypeError, "velocity"),
        ("adagrad", W2, W2, {"epsilon": 0.0}, ValueError, "epsilon"),
        ("adagrad", W2, W2, {"cache": np.zeros((1, 3))}, ValueError, "cache"),
        ("rmsprop", W2, W2, {"decay_rate": 1.5}, ValueError, "decay_rate"),
        ("rmsprop", W2, W2, {"decay_rate": -0.5}, ValueError, "decay_rate"),
        ("rmsprop", W2, W2, {"epsilon": -1e-8}, ValueError, "epsilon"),
        ("rmsprop", W2, W2, {"cache": np.zeros((2, 3, 1))}, ValueError, "cache"),
        ("adam", W2, W2, {"beta1": 1.0}, ValueError, "beta1"),
        ("adam", W2, W2, {"beta2": 1.0}, ValueError, "beta2"),
        ("adam", W2, W2, {"beta2": -0.1}, ValueError, "beta2"),
        ("adam", W2, W2, {"epsilon": float("nan")}, ValueError, "epsilon"),
        ("adam", W2, W2, {"m": np.zeros(3)}, ValueError, "'m'"),
        ("adam", W2, W2, {"v": np.zeros((3, 2))}, ValueError, "'v'"),
        ("adam", W2, W2, {"t": -1}, ValueError, "'t'"),
        ("adam", W2, W2, {"t": 1.5}, TypeError, "'t'"),
        ("adam", W2, W2, {"t": float("inf")}, TypeError, "'t'"),
    ],
)
def test_update_rules_bad_input(name, w, dw, config, exc, match):
    before = dict(config) if isinstance(config, dict) else None
    with pytest.raises(exc, match=match):
        get_update_rule(name)(w, dw, config)
    if before is not None:
        assert config == before  # a failed call leaves the config alone


@pytest.mark.parametrize(
    "name, config",
    [
        ("sgd", {"learning_rate": 0}),  # a learning rate of 0: no step
        ("sgd_momentum", {"learning_rate": 0.1, "momentum": 1}),  # "between 0 and 1"
        ("nesterov_momentum", {"learning_rate": 0.1, "momentum": 1.0}),
        ("rmsprop", {"learning_rate": 0.1, "decay_rate": 1}),
        ("adam", {"t": 3.0}),  # an integral float iteration count (the course's t += 1 works)
        ("adam", {"learning_rate": 0.0, "t": np.int32(2)}),
    ],
)
def test_update_rules_accept_what_the_course_computes(name, config):
    # Values the course's update rules compute with (edges of the documented ranges) give the
    # course's formulas, written out with Python floats in scalar_step, not a ValueError.
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    got, cfg = get_update_rule(name)(w, dw, dict(config))
    hp = {**DEFAULTS[name], **{k: float(v) for k, v in config.items() if k != "t"}}
    state = {"t": int(config["t"])} if "t" in config else {}
    want = [scalar_step(name, hp, wi, di, dict(state))[0] for wi, di in zip(w.ravel(), dw.ravel())]
    np.testing.assert_allclose(got.ravel(), want, rtol=1e-12, atol=1e-15)
    if name == "adam":
        assert cfg["t"] == int(config["t"]) + 1 and type(cfg["t"]) is int


@pytest.mark.parametrize("name", RULES)
def test_update_rules_integer_weights_update_in_float64(name):
    # The course's rules compute w - ... on integer weights in float64 (a list of ints, or an
    # int array for every rule but sgd's in-place w -=); here every rule does, returning float64.
    w_int = np.array([[1, -2, 3], [0, 5, -1]])
    dw = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    got, cfg = get_update_rule(name)(w_int, dw, {"learning_rate": 0.1})
    want, _ = get_update_rule(name)(w_int.astype(np.float64), dw, {"learning_rate": 0.1})
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    got_list, _ = get_update_rule(name)(w_int.tolist(), dw, {"learning_rate": 0.1})
    np.testing.assert_array_equal(got_list, want)


# --- L-BFGS --------------------------------------------------------------------------------------


def rosenbrock(w):
    """Rosenbrock's function of an array of any shape and its gradient, written out."""
    x = w.ravel()
    loss = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return loss, g.reshape(w.shape)


def test_lbfgs_quadratic_minimum(rng):
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = q @ np.diag(np.linspace(0.5, 20.0, 6)) @ q.T
    b = rng.standard_normal((2, 3))
    shapes = []

    def loss_fn(w):
        shapes.append(w.shape)
        x = w.ravel()
        return 0.5 * x @ a @ x - b.ravel() @ x, (a @ x - b.ravel()).reshape(2, 3)

    w0 = rng.standard_normal((2, 3))
    w0_copy = w0.copy()
    # tol (the gradient's max-norm at the stop) far above the loss's rounding: one more step
    # along a gradient g lowers the loss by about |g|**2 / (2 * 20) (20 is the largest
    # curvature), 2.5e-14 at g = 1e-6, a hundred times the loss's rounding (eps * |loss|), so
    # L-BFGS-B stops on its gradient test whatever the last bits of the BLAS products in
    # loss_fn. (At tol=1e-10 it stops where the line search can no longer see a decrease, and
    # whether that counts as converged depended on those bits: 24 of 900 seed x rounding
    # variants were reported as not converged.)
    tol = 1e-6
    w, info = lbfgs(loss_fn, w0, tol=tol)
    expected = np.linalg.solve(a, b.ravel()).reshape(2, 3)
    assert w.shape == (2, 3) and w.dtype == np.float64
    # |w - w*| <= |g|_2 / (smallest curvature 0.5) <= sqrt(6) * tol / 0.5
    np.testing.assert_allclose(w, expected, rtol=0, atol=np.sqrt(6) * tol / 0.5)
    assert info["converged"] is True
    assert set(info) == {"loss", "n_iter", "n_evals", "converged", "message"}
    assert info["loss"] == pytest.approx(loss_fn(w)[0], rel=1e-12)
    assert 0 < info["n_iter"] <= 100 and info["n_evals"] >= info["n_iter"]
    assert isinstance(info["message"], str)
    assert set(shapes) == {(2, 3)}
    np.testing.assert_array_equal(w0, w0_copy)


def test_lbfgs_flat_at_rounding_is_converged():
    # An L-BFGS-B line search that fails (ABNORMAL) where the gradient is within
    # sqrt(eps) * max(|loss|, 1) of zero is the documented "no further progress" stop; one
    # that fails with a larger gradient, or another message, is not.
    from scipy.optimize import OptimizeResult

    from cs231n_fast.optim import _flat_at_rounding

    tiny = np.sqrt(np.finfo(np.float64).eps)
    assert _flat_at_rounding(OptimizeResult(message="ABNORMAL: ", fun=-2.0, jac=np.full(3, 1.5 * tiny)))
    assert not _flat_at_rounding(OptimizeResult(message="ABNORMAL: ", fun=-2.0, jac=np.full(3, 3 * tiny)))
    assert not _flat_at_rounding(OptimizeResult(message="ABNORMAL: ", fun=0.5, jac=np.array([np.nan])))
    assert not _flat_at_rounding(OptimizeResult(message="STOP: TOTAL NO. OF ITERATIONS", fun=0.0,
                                                jac=np.zeros(3)))


@pytest.mark.parametrize("w0", [[-1.2, 1.0], [[-1.2, 1.0], [0.5, -0.3]]])
def test_lbfgs_rosenbrock(w0):
    w0 = np.array(w0)
    w, info = lbfgs(rosenbrock, w0, max_iter=500)
    assert info["converged"]
    np.testing.assert_allclose(w, np.ones_like(w0), rtol=0, atol=1e-6)
    assert info["loss"] < 1e-12


def test_lbfgs_max_iter_not_converged():
    w, info = lbfgs(rosenbrock, np.array([-1.2, 1.0]), max_iter=3)
    assert info["converged"] is False and info["n_iter"] == 3
    assert info["loss"] < rosenbrock(np.array([-1.2, 1.0]))[0]


def test_lbfgs_float32_and_inputs_to_loss_fn(rng):
    seen = []

    def loss_fn(w):
        seen.append(w.dtype)
        w[...] = w  # the function gets its own copy; writing into it is allowed
        return float(np.sum((w - 3.0) ** 2)), 2.0 * (w - 3.0)

    w, info = lbfgs(loss_fn, np.zeros(4, np.float32), m=3)
    assert w.dtype == np.float32 and set(seen) == {np.dtype(np.float64)}
    np.testing.assert_allclose(w, 3.0, rtol=1e-6)


def _good(w):
    return float(np.sum(w**2)), 2 * w


@pytest.mark.parametrize(
    "loss_fn, w0, kwargs, exc, match",
    [
        ("f", np.ones(2), {}, TypeError, "loss_fn"),
        (_good, np.ones(0), {}, ValueError, "w0"),
        (_good, np.ones(2, complex), {}, TypeError, "w0"),
        (_good, np.ones(2), {"max_iter": 0}, ValueError, "max_iter"),
        (_good, np.ones(2), {"max_iter": 2.5}, TypeError, "max_iter"),
        (_good, np.ones(2), {"tol": 0.0}, ValueError, "tol"),
        (_good, np.ones(2), {"tol": float("nan")}, ValueError, "tol"),
        (_good, np.ones(2), {"m": 0}, ValueError, "m must"),
        (lambda w: float(np.sum(w**2)), np.ones(2), {}, TypeError, "loss_fn"),
        (lambda w: (w, 2 * w), np.ones(2), {}, ValueError, "loss"),
        (lambda w: (1.0, np.ones(3)), np.ones(2), {}, ValueError, "grad"),
    ],
)
def test_lbfgs_bad_input(loss_fn, w0, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        lbfgs(loss_fn, w0, **kwargs)


def test_lbfgs_wrong_gradient_is_not_converged():
    """A line search that fails because the gradient is wrong (not because the loss is flat at
    rounding level) is reported as not converged."""

    def loss_fn(w):
        return float(np.sum(w**2)), -2 * w  # the gradient's sign is wrong: no descent direction

    w, info = lbfgs(loss_fn, np.ones((2, 3)))
    assert info["converged"] is False
    assert info["message"].startswith("ABNORMAL")
    assert np.max(np.abs(w)) > 1e-3
