"""The fused update-rule kernels (cs231n_fast.ops.optim) against their NumPy twin
(cs231n_fast.reference.optim), torch.optim and themselves across thread counts; the course
adapter (cs231n_fast.optim) over several steps. test_optim.py holds the course's checks."""

import math

import numpy as np
import pytest
from helpers import as_layout, assert_matches_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast import optim
from cs231n_fast.ops import optim as fast
from cs231n_fast.reference import optim as ref

RULES = ["sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam"]
#: State arrays of each ops function, in argument order.
STATES = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "nesterov_momentum": ("velocity",),
    "adagrad": ("cache",),
    "rmsprop": ("cache",),
    "adam": ("m", "v"),
}
#: Hyperparameters of each ops function, in argument order (adam's t first).
HYPER = {
    "sgd": ("learning_rate",),
    "sgd_momentum": ("learning_rate", "momentum"),
    "nesterov_momentum": ("learning_rate", "momentum"),
    "adagrad": ("learning_rate", "epsilon"),
    "rmsprop": ("learning_rate", "decay_rate", "epsilon"),
    "adam": ("t", "learning_rate", "beta1", "beta2", "epsilon"),
}
#: Values used where a test does not draw them.
DEFAULTS = {"learning_rate": 1e-2, "momentum": 0.9, "decay_rate": 0.99, "epsilon": 1e-8,
            "beta1": 0.9, "beta2": 0.999, "t": 3}
CHUNK = 8192  # optim.pyx's _CHUNK: sizes around its multiples cross chunk boundaries


def call(module, name, w, dw, states, hyper, **kw):
    """``module.<name>`` with the states and hyperparameters in argument order; always a tuple
    (next_w, *new_states)."""
    args = [states.get(k) for k in STATES[name]] + [hyper[k] for k in HYPER[name]]
    out = getattr(module, name)(w, dw, *args, **kw)
    return out if isinstance(out, tuple) else (out,)


def make_state(rng, name, shape):
    """Plausible state: any sign for velocity and m, nonnegative caches and v."""
    s = {}
    for key in STATES[name]:
        a = rng.standard_normal(shape)
        s[key] = np.abs(a) if key in ("cache", "v") else a
    return s


def f64(d):
    return {k: None if v is None else np.asarray(v, dtype=np.float64) for k, v in d.items()}


# --- equivalence with the twin (hypothesis) -------------------------------------------------

SHAPES = st.one_of(
    st.just(()),
    st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple),
    st.sampled_from([(0,), (3, 0), (CHUNK - 1,), (CHUNK + 1,), (2, CHUNK + 3), (3, 5471)]),
)
LAYOUT = st.sampled_from(["C", "F", "sliced", "negative", "readonly"])
MODES = st.sampled_from(["float32", "float64", "mixed", "int_dw"])


def fuzz(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def laid(a, layout):
    if a.ndim == 0 or a.size == 0:  # (as_layout's ascontiguousarray makes 0-d arrays 1-d)
        a = np.array(a, copy=True)
        a.setflags(write=layout != "readonly")
        return a
    return as_layout(a, layout)


@pytest.mark.parametrize("name", RULES)
@fuzz(30)
@given(
    shape=SHAPES,
    mode=MODES,
    layouts=st.tuples(LAYOUT, LAYOUT, LAYOUT, LAYOUT),
    given_state=st.booleans(),
    lr=st.floats(1e-6, 10.0),
    rate=st.floats(0.0, 0.999),
    rate2=st.floats(0.0, 0.9999),
    eps=st.sampled_from([1e-8, 1e-4, 0.5]),
    t=st.integers(1, 2000),
    n_threads=st.sampled_from([None, 1, 2, 3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_update_rules_match_reference(name, shape, mode, layouts, given_state, lr, rate, rate2,
                                      eps, t, n_threads, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape)
    dw = rng.standard_normal(shape)
    states = make_state(rng, name, shape) if given_state else dict.fromkeys(STATES[name])
    wdt = np.float32 if mode in ("float32", "mixed") else np.float64
    sdt = np.float32 if mode == "float32" else np.float64
    w = w.astype(wdt)
    dw = np.round(4 * dw).astype(np.int16) if mode == "int_dw" else dw.astype(sdt)
    states = {k: None if s is None else s.astype(sdt) for k, s in states.items()}
    hyper = {"learning_rate": lr, "momentum": rate, "decay_rate": rate, "epsilon": eps,
             "beta1": rate, "beta2": rate2, "t": t}
    arrays = [w, dw] + [s for s in states.values() if s is not None]
    expected_dtype = np.dtype(np.float32 if all(a.dtype == np.float32 for a in arrays)
                              else np.float64)
    w_in, dw_in = laid(w, layouts[0]), laid(dw, layouts[1])
    st_in = {k: None if s is None else laid(s, layouts[2 + i])
             for i, (k, s) in enumerate(states.items())}
    before = [np.array(a, copy=True) for a in (w_in, dw_in, *st_in.values()) if a is not None]

    got = call(fast, name, w_in, dw_in, st_in, hyper, n_threads=n_threads)
    expected = call(ref, name, w.astype(np.float64), dw.astype(np.float64), f64(states), hyper)
    assert len(got) == len(expected) == 1 + len(STATES[name])
    for what, g, e in zip(("next_w",) + STATES[name], got, expected):
        assert g.flags.c_contiguous, what
        assert_matches_reference(g, e, expected_dtype, f"{name} {what}")
        for a in (w_in, dw_in, *st_in.values()):
            assert a is None or not np.shares_memory(g, a), what
    for a, b in zip((a for a in (w_in, dw_in, *st_in.values()) if a is not None), before):
        np.testing.assert_array_equal(a, b)  # inputs untouched


@pytest.mark.parametrize("name", RULES)
def test_update_rules_same_dtype_twin_agrees(name, dtype, rng):
    """Twin and kernel in the same dtype: the same formula in the same order, so they agree
    far inside the tolerance (here within 2 ulp of the result's magnitude)."""
    shape = (37, 300)
    w, dw = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    states = {k: s.astype(dtype) for k, s in make_state(rng, name, shape).items()}
    hyper = dict(DEFAULTS, learning_rate=0.05)
    for g, e in zip(call(fast, name, w, dw, states, hyper), call(ref, name, w, dw, states, hyper)):
        assert g.dtype == e.dtype == dtype
        spacing = np.spacing(np.maximum(np.abs(e), np.finfo(dtype).tiny).astype(dtype))
        assert np.all(np.abs(g - e) <= 2 * spacing)


# --- several steps through the course API ---------------------------------------------------

COURSE_HYPER = {
    "sgd": {"learning_rate": 0.05},
    "sgd_momentum": {"learning_rate": 0.05, "momentum": 0.8},
    "nesterov_momentum": {"learning_rate": 0.05, "momentum": 0.8},
    "adagrad": {"learning_rate": 0.05, "epsilon": 1e-6},
    "rmsprop": {"learning_rate": 0.01, "decay_rate": 0.95, "epsilon": 1e-6},
    "adam": {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6},
}


def twin_step(name, w, dw, config):
    """One step of the course API computed with the NumPy twin (float64)."""
    hyper = dict(DEFAULTS, **config)
    hyper["t"] = config.get("t", 0) + 1
    states = {k: config.get(k) for k in STATES[name]}
    out = call(ref, name, w, dw, f64(states), hyper)
    new = dict(config, **dict(zip(STATES[name], out[1:])))
    if name == "adam":
        new["t"] = hyper["t"]
    return out[0], new


@pytest.mark.parametrize("name", RULES)
def test_course_rules_several_steps_match_twin(name, dtype, rng):
    shape = (CHUNK + 57,)  # two chunks
    w = rng.standard_normal(shape).astype(dtype)
    w_ref = w.astype(np.float64)
    config, config_ref = dict(COURSE_HYPER[name]), dict(COURSE_HYPER[name])
    for step in range(6):
        dw = rng.standard_normal(shape).astype(dtype)
        w, config = getattr(optim, name)(w, dw, config)
        w_ref, config_ref = twin_step(name, w_ref, dw.astype(np.float64), config_ref)
        # float32 errors grow a little with each step; 2e-4 of the largest value still holds
        assert_matches_reference(w, w_ref, dtype, f"{name} step {step} next_w")
        for key in STATES[name]:
            assert_matches_reference(config[key], config_ref[key], dtype, f"{name} {key}")
    if name == "adam":
        assert config["t"] == 6


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("w", [1.5, np.float64(1.5), np.array(1.5), [0.5, -1.0], np.ones((0, 3)),
                               np.ones((2, 1, 3), np.float16)],
                         ids=["float", "np.float64", "0-d", "list", "empty", "float16"])
def test_course_rules_accept_what_numpy_did(name, w, rng):
    """Scalars, lists, empty and float16 weights work as with the course's NumPy code: next_w
    has w's shape and dtype (float64 for Python numbers and lists)."""
    w_arr = np.asarray(w)
    dw = rng.standard_normal(w_arr.shape)
    next_w, config = getattr(optim, name)(w, dw, dict(COURSE_HYPER[name]))
    expected, _ = twin_step(name, w_arr.astype(np.float64), dw, dict(COURSE_HYPER[name]))
    assert next_w.shape == w_arr.shape and next_w.dtype == w_arr.dtype
    rtol = 1e-3 if w_arr.dtype == np.float16 else 1e-12
    np.testing.assert_allclose(next_w, expected.astype(w_arr.dtype), rtol=rtol, atol=rtol)
    for key in STATES[name]:
        assert config[key].shape == w_arr.shape and config[key].dtype == np.float64


@pytest.mark.parametrize("name", RULES)
def test_course_rules_state_arrays_new_and_inputs_unchanged(name, dtype, rng):
    shape = (CHUNK * 2 + 5,)
    w, dw = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    state = {k: s.astype(dtype) for k, s in make_state(rng, name, shape).items()}
    config = dict(COURSE_HYPER[name], **state)
    copies = {k: a.copy() for k, a in dict(w=w, dw=dw, **state).items()}
    next_w, config = getattr(optim, name)(w, dw, config)
    for k, a in dict(w=w, dw=dw, **state).items():
        np.testing.assert_array_equal(a, copies[k], err_msg=k)
    for key in STATES[name]:
        assert config[key] is not state[key]
        for a in (w, dw, next_w, *state.values()):
            assert not np.shares_memory(config[key], a), key
        assert config[key].dtype == dtype and config[key].flags.writeable


# --- thread-count determinism -----------------------------------------------------------------


@pytest.mark.parametrize("name", RULES)
def test_update_rules_bitwise_across_thread_counts(name, dtype, rng):
    shape = (5, CHUNK - 3)  # 5 chunks with a ragged last one
    w, dw = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    states = {k: s.astype(dtype) for k, s in make_state(rng, name, shape).items()}
    results = [call(fast, name, w, dw, states, DEFAULTS, n_threads=nt) for nt in (1, 2, 3)]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", RULES)
def test_update_rules_special_values(name, dtype):
    """NaN and Inf propagate as in the twin (same dtype); a zero gradient on zero state is a
    no-op step."""
    w = np.array([1.0, np.nan, 2.0, np.inf, -1.0, 0.0], dtype)
    dw = np.array([np.nan, 1.0, np.inf, 1.0, 0.0, 0.0], dtype)
    with np.errstate(all="ignore"):
        got = call(fast, name, w, dw, {}, DEFAULTS)
        expected = call(ref, name, w, dw, {}, DEFAULTS)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    assert got[0][5] == 0.0  # w = dw = 0 with zero state stays 0


# --- float64 agreement with torch.optim ---------------------------------------------------------


def _torch_optimizer(torch, name, p, hyper):
    lr = hyper["learning_rate"]
    if name == "sgd":
        return torch.optim.SGD([p], lr=lr)
    if name in ("sgd_momentum", "nesterov_momentum"):
        return torch.optim.SGD([p], lr=lr, momentum=hyper["momentum"],
                               nesterov=name == "nesterov_momentum")
    if name == "adagrad":
        return torch.optim.Adagrad([p], lr=lr, eps=hyper["epsilon"])
    if name == "rmsprop":
        return torch.optim.RMSprop([p], lr=lr, alpha=hyper["decay_rate"], eps=hyper["epsilon"])
    return torch.optim.Adam([p], lr=lr, betas=(hyper["beta1"], hyper["beta2"]),
                            eps=hyper["epsilon"])


@pytest.mark.parametrize("name", RULES)
def test_update_rules_match_torch_float64(name, rng):
    """Every rule is mathematically torch's over a run at constant learning rate:
    torch's momentum buffer b relates to the course's velocity as v = -learning_rate * b (and
    Nesterov's update w - lr * (g + mu * b) is the notes' form); Adagrad, RMSprop (alpha =
    decay_rate) and Adam (t incremented before use; torch divides sqrt(v) by sqrt(1 - beta2**t)
    where the course takes sqrt(v / (1 - beta2**t))) are the same formulas."""
    torch = pytest.importorskip("torch")
    shape = (7, 33)
    w = rng.standard_normal(shape)
    hyper = dict(COURSE_HYPER[name])
    p = torch.nn.Parameter(torch.tensor(w, dtype=torch.float64))
    opt = _torch_optimizer(torch, name, p, hyper)
    config = dict(hyper)
    for step in range(5):
        dw = rng.standard_normal(shape)
        w, config = getattr(optim, name)(w, dw, config)
        p.grad = torch.tensor(dw)
        opt.step()
        expected = p.detach().numpy()
        np.testing.assert_allclose(w, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max(),
                                   err_msg=f"{name} step {step}")
        state = opt.state[p]
        if name in ("sgd_momentum", "nesterov_momentum"):
            vel = -hyper["learning_rate"] * state["momentum_buffer"].numpy()
            np.testing.assert_allclose(config["velocity"], vel, rtol=1e-9,
                                       atol=1e-9 * np.abs(vel).max())
        elif name == "adagrad":
            np.testing.assert_allclose(config["cache"], state["sum"].numpy(), rtol=1e-9)
        elif name == "rmsprop":
            np.testing.assert_allclose(config["cache"], state["square_avg"].numpy(), rtol=1e-9)
        elif name == "adam":
            np.testing.assert_allclose(config["m"], state["exp_avg"].numpy(), rtol=1e-9,
                                       atol=1e-12)
            np.testing.assert_allclose(config["v"], state["exp_avg_sq"].numpy(), rtol=1e-9)


# --- bad input --------------------------------------------------------------------------------

W = np.ones((2, 3))
BAD = [
    # (rule, overrides of w / dw / states / hyperparameters / n_threads, exception, match)
    ("sgd", {"dw": np.ones((3, 2))}, ValueError, "dw"),
    ("sgd", {"dw": np.ones(6)}, ValueError, "dw"),
    ("sgd", {"w": np.ones((2, 3), complex)}, TypeError, "w must"),
    ("sgd", {"dw": np.ones((2, 3), complex)}, TypeError, "dw"),
    ("sgd", {"dw": np.array([["a"] * 3] * 2)}, TypeError, "dw"),
    ("sgd", {"learning_rate": -1e-3}, ValueError, "learning_rate"),
    ("sgd", {"learning_rate": float("inf")}, ValueError, "learning_rate"),
    ("sgd", {"learning_rate": float("nan")}, ValueError, "learning_rate"),
    ("sgd", {"learning_rate": "0.1"}, TypeError, "learning_rate"),
    ("sgd", {"learning_rate": True}, TypeError, "learning_rate"),
    ("sgd", {"n_threads": 0}, ValueError, "n_threads"),
    ("sgd", {"n_threads": 1.5}, TypeError, "n_threads"),
    ("sgd_momentum", {"velocity": np.zeros((3, 2))}, ValueError, "velocity"),
    ("sgd_momentum", {"velocity": np.zeros((2, 3), complex)}, TypeError, "velocity"),
    ("sgd_momentum", {"momentum": 1.01}, ValueError, "momentum"),
    ("sgd_momentum", {"momentum": -0.1}, ValueError, "momentum"),
    ("nesterov_momentum", {"velocity": np.zeros(6)}, ValueError, "velocity"),
    ("nesterov_momentum", {"momentum": float("nan")}, ValueError, "momentum"),
    ("adagrad", {"cache": np.zeros((1, 3))}, ValueError, "cache"),
    ("adagrad", {"epsilon": 0.0}, ValueError, "epsilon"),
    ("adagrad", {"epsilon": None}, TypeError, "epsilon"),
    ("rmsprop", {"cache": np.zeros((2, 3, 1))}, ValueError, "cache"),
    ("rmsprop", {"decay_rate": 1.5}, ValueError, "decay_rate"),
    ("rmsprop", {"decay_rate": -0.5}, ValueError, "decay_rate"),
    ("adam", {"m": np.zeros(3)}, ValueError, "m must"),
    ("adam", {"v": np.zeros((3, 2))}, ValueError, "v must"),
    ("adam", {"v": "zeros"}, TypeError, "v must"),
    ("adam", {"beta1": 1.0}, ValueError, "beta1"),
    ("adam", {"beta2": -0.1}, ValueError, "beta2"),
    ("adam", {"epsilon": -1e-8}, ValueError, "epsilon"),
    ("adam", {"t": 0}, ValueError, "t must"),
    ("adam", {"t": 1.5}, TypeError, "t must"),
    ("adam", {"t": True}, TypeError, "t must"),
]


@pytest.mark.parametrize(
    "module, name, override, exc, match",
    [(fast, *row) for row in BAD]
    # the twin accepts and ignores n_threads
    + [(ref, *row) for row in BAD if "n_threads" not in row[1]],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_update_rules_bad_input(module, name, override, exc, match):
    args = {"w": W, "dw": W, **DEFAULTS, **dict.fromkeys(STATES[name]), **override}
    kw = {"n_threads": args.pop("n_threads")} if "n_threads" in args else {}
    states = {k: args[k] for k in STATES[name]}
    with pytest.raises(exc, match=match):
        call(module, name, args["w"], args["dw"], states, args, **kw)


@pytest.mark.parametrize("name, config, exc, match", [
    ("sgd", {"learning_rate": np.nan}, ValueError, r"config\['learning_rate'\]"),
    ("sgd_momentum", {"velocity": np.zeros((2, 3), complex)}, TypeError, r"config\['velocity'\]"),
    ("adagrad", {"cache": np.zeros(5)}, ValueError, r"config\['cache'\]"),
    ("adam", {"t": np.int64(-2)}, ValueError, r"config\['t'\]"),
    ("adam", {"m": np.zeros((2, 3)), "v": np.zeros((2, 4))}, ValueError, r"config\['v'\]"),
])
def test_course_rules_bad_config_names_the_key(name, config, exc, match):
    before = dict(config)
    with pytest.raises(exc, match=match):
        getattr(optim, name)(W, W, config)
    assert config.keys() == before.keys()
    assert all(config[k] is before[k] for k in before)  # a failed call leaves it alone


# --- sum of squares (clip_grad_norm's norm) -----------------------------------------------------


@pytest.mark.parametrize("shape", [(), (0,), (1,), (15,), (17,), (CHUNK + 1,), (3, CHUNK + 5),
                                   (4, 5, 6)])
def test_sum_of_squares_matches_exact_sum(shape, dtype, layout, rng):
    x = rng.standard_normal(shape).astype(dtype)
    xin = laid(x, layout)
    got = fast.sum_of_squares(xin)
    exact = math.fsum((x.astype(np.float64).ravel() ** 2).tolist())
    assert isinstance(got, float)
    assert got == pytest.approx(exact, rel=1e-13, abs=0.0)
    np.testing.assert_array_equal(xin, x)


def test_sum_of_squares_bitwise_across_thread_counts(dtype, rng):
    x = rng.standard_normal((7, CHUNK - 1)).astype(dtype)
    sums = [fast.sum_of_squares(x, n_threads=nt) for nt in (1, 2, 3)]
    assert sums[0] == sums[1] == sums[2]
    assert fast.sum_of_squares(x[::-1]) == pytest.approx(sums[0], rel=1e-13)


def test_sum_of_squares_special_values_and_dtypes():
    assert math.isnan(fast.sum_of_squares(np.array([1.0, np.nan])))
    assert fast.sum_of_squares(np.array([np.inf, 1.0], np.float32)) == np.inf
    assert fast.sum_of_squares(np.array([1e300, 1e300])) == np.inf  # overflow is inf, no warning
    assert fast.sum_of_squares(np.array([3, 4], np.int16)) == 25.0
    assert fast.sum_of_squares(np.array([1.5], np.float16)) == 2.25
    with pytest.raises(TypeError, match="x"):
        fast.sum_of_squares(np.array([1j]))
    with pytest.raises(ValueError, match="n_threads"):
        fast.sum_of_squares(np.ones(3), n_threads=0)
