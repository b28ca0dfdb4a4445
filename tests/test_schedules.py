"""Learning-rate schedules (cs231n_fast.schedules): each formula against its definition
computed here, ReduceOnPlateau's rules traced step by step, and bad inputs.

Tolerance: the schedules compute in Python floats; values are compared with
``pytest.approx(rel=1e-12)`` against the same formula written independently here."""

import math

import pytest

from cs231n_fast import schedules as S

EPOCHS = [0, 1, 2, 3, 4, 5, 7, 10, 2.5]


@pytest.mark.parametrize("lr,step,gamma", [(0.1, 2, 0.5), (1e-3, 3, 0.1), (2.0, 1, 1.0)])
def test_step_decay(lr, step, gamma):
    s = S.StepDecay(lr, step_size=step, gamma=gamma)
    for t in EPOCHS:
        assert s(t) == pytest.approx(lr * gamma ** (int(t) // step), rel=1e-12)
    # constant within a step, one factor gamma between steps
    assert s(step - 1) == s(0) == lr
    assert s(step) == pytest.approx(lr * gamma, rel=1e-12)


@pytest.mark.parametrize("lr,gamma", [(0.1, 0.5), (3e-3, 0.95)])
def test_exponential_decay(lr, gamma):
    s = S.ExponentialDecay(lr, gamma)
    for t in EPOCHS:
        assert s(t) == pytest.approx(lr * math.exp(t * math.log(gamma)), rel=1e-12)
    for t in range(5):  # each epoch multiplies by gamma, as the Solver's lr_decay does
        assert s(t + 1) == pytest.approx(s(t) * gamma, rel=1e-12)


@pytest.mark.parametrize("lr,k", [(0.1, 0.5), (1.0, 0.0), (1e-2, 3.0)])
def test_inverse_time_decay(lr, k):
    s = S.InverseTimeDecay(lr, k)
    for t in EPOCHS:
        assert s(t) * (1 + k * t) == pytest.approx(lr, rel=1e-12)


@pytest.mark.parametrize("lr,T,min_lr", [(1.0, 4, 0.0), (0.1, 10, 1e-3), (0.5, 3.5, 0.5)])
def test_cosine(lr, T, min_lr):
    s = S.Cosine(lr, T_max=T, min_lr=min_lr)
    assert s(0) == pytest.approx(lr, rel=1e-12)
    assert s(T) == pytest.approx(min_lr, rel=1e-12, abs=1e-15)
    assert s(T + 5) == pytest.approx(min_lr, rel=1e-12, abs=1e-15)
    assert s(T / 2) == pytest.approx((lr + min_lr) / 2, rel=1e-12)
    for t in EPOCHS:
        tt = min(t, T)
        expected = min_lr + (lr - min_lr) * (1 + math.cos(math.pi * tt / T)) / 2
        assert s(t) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    values = [s(t) for t in range(12)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # never increases


@pytest.mark.parametrize("start", [0.0, 0.25])
def test_linear_warmup_then_inner_schedule_shifted(start):
    inner = S.StepDecay(0.2, step_size=2, gamma=0.5)
    w = S.LinearWarmup(inner, warmup=4, start_factor=start)
    for t in (0, 1, 2, 3, 0.5):
        assert w(t) == pytest.approx(0.2 * (start + (1 - start) * t / 4), rel=1e-12, abs=1e-15)
    for t in (4, 5, 6, 9):
        assert w(t) == inner(t - 4)
    assert S.LinearWarmup(0.3, warmup=2)(5) == 0.3  # a number: constant after warm-up


def _plateau_reference(lr, metrics, factor, patience, threshold, cooldown, min_lr, mode, tmode):
    """The rules of the docstring, written out independently."""
    best = -math.inf if mode == "max" else math.inf
    bad = cool = 0
    out = []
    for m in metrics:
        if mode == "max":
            better = m > (best * (1 + threshold) if tmode == "rel" else best + threshold)
        else:
            better = m < (best * (1 - threshold) if tmode == "rel" else best - threshold)
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            lr, cool, bad = max(lr * factor, min_lr), cooldown, 0
        out.append(lr)
    return out


@pytest.mark.parametrize("patience,cooldown,threshold,tmode,min_lr,mode", [
    (0, 0, 0.0, "rel", 0.0, "max"),
    (1, 0, 1e-4, "rel", 0.0, "max"),
    (2, 1, 0.01, "abs", 0.0, "max"),
    (1, 2, 0.0, "abs", 0.02, "max"),
    (1, 0, 1e-3, "rel", 0.0, "min"),
])
def test_reduce_on_plateau_matches_its_rules(patience, cooldown, threshold, tmode, min_lr, mode):
    metrics = [0.5, 0.6, 0.6, 0.605, 0.6, 0.59, 0.7, 0.7, 0.7, 0.7, 0.7, 0.71, 0.7, 0.7, 0.7]
    s = S.ReduceOnPlateau(0.1, mode=mode, factor=0.5, patience=patience, threshold=threshold,
                          threshold_mode=tmode, cooldown=cooldown, min_lr=min_lr)
    got = [s.step(m) for m in metrics]
    assert got == _plateau_reference(0.1, metrics, 0.5, patience, threshold, cooldown, min_lr,
                                     mode, tmode)
    assert s.history == metrics
    assert s(100) == got[-1]  # the epoch does not matter, only the metrics fed
    assert s.reset()(0) == 0.1 and s.history == []


def test_reduce_on_plateau_hand_traced():
    s = S.ReduceOnPlateau(1.0, factor=0.1, patience=2, min_lr=0.005)
    # improvement, then bad epochs 1, 2 (tolerated), 3 (> patience: reduce), ...
    got = [s.step(m) for m in (0.5, 0.4, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3)]
    assert got == pytest.approx([1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.005])


@pytest.mark.parametrize("make,match", [
    (lambda: S.StepDecay(-0.1, 2), "lr"),
    (lambda: S.StepDecay(0.0, 2), "lr"),
    (lambda: S.StepDecay(float("nan"), 2), "lr"),
    (lambda: S.StepDecay(0.1, 0), "step_size"),
    (lambda: S.StepDecay(0.1, 2, gamma=1.5), "gamma"),
    (lambda: S.StepDecay(0.1, 2, gamma=0.0), "gamma"),
    (lambda: S.ExponentialDecay(0.1, gamma=-0.5), "gamma"),
    (lambda: S.InverseTimeDecay(0.1, k=-1), "k"),
    (lambda: S.Cosine(0.1, T_max=0), "T_max"),
    (lambda: S.Cosine(0.1, T_max=5, min_lr=0.2), "min_lr"),
    (lambda: S.LinearWarmup(S.Constant(0.1), warmup=0), "warmup"),
    (lambda: S.LinearWarmup(S.Constant(0.1), warmup=2, start_factor=2), "start_factor"),
    (lambda: S.ReduceOnPlateau(0.1, mode="maximum"), "mode"),
    (lambda: S.ReduceOnPlateau(0.1, factor=1.0), "factor"),
    (lambda: S.ReduceOnPlateau(0.1, patience=-1), "patience"),
    (lambda: S.ReduceOnPlateau(0.1, threshold=-1e-3), "threshold"),
    (lambda: S.ReduceOnPlateau(0.1, threshold_mode="relative"), "threshold_mode"),
    (lambda: S.ReduceOnPlateau(0.1, cooldown=-2), "cooldown"),
    (lambda: S.StepDecay(0.1, 2)(-1), "t"),
    (lambda: S.ReduceOnPlateau(0.1).step(float("inf")), "metric"),
])
def test_bad_inputs_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make,match", [
    (lambda: S.StepDecay("0.1", 2), "lr"),
    (lambda: S.StepDecay(0.1, 2.5), "step_size"),
    (lambda: S.LinearWarmup(S.ReduceOnPlateau(0.1), warmup=2), "schedule"),
    (lambda: S.LinearWarmup("fast", warmup=2), "schedule"),
])
def test_bad_types_raise_type_error(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_repr_names_the_arguments():
    assert repr(S.StepDecay(0.1, 3, 0.5)) == "StepDecay(lr=0.1, step_size=3, gamma=0.5)"
