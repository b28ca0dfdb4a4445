"""Numerical gradients and rel_error (cs231n_fast.gradient_check)."""

import re

import numpy as np
import pytest

from cs231n_fast.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)

COURSE_LINE = re.compile(
    r"^numerical: -?\d+\.\d{6} analytic: -?\d+\.\d{6}, relative error: \d\.\d{6}e[+-]\d\d$"
)


def away_from_zero(rng, shape):
    """Entries in +-[0.5, 2], so relative errors are not dominated by tiny gradients."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def test_eval_numerical_gradient_sum_of_squares(rng):
    x = away_from_zero(rng, (3, 4))
    x_before = x.copy()
    grad = eval_numerical_gradient(lambda v: np.sum(v**2), x, verbose=False)
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert rel_error(grad, 2 * x) < 1e-7
    np.testing.assert_array_equal(x, x_before)  # every entry restored exactly


def test_eval_numerical_gradient_cubic_and_h(rng):
    x = away_from_zero(rng, (5,))
    grad = eval_numerical_gradient(lambda v: np.sum(v**3), x, verbose=False, h=1e-6)
    assert rel_error(grad, 3 * x**2) < 1e-7
    # the centred difference of a cubic is exact up to h**2: 3 x**2 + h**2
    grad = eval_numerical_gradient(lambda v: np.sum(v**3), x, verbose=False, h=0.1)
    np.testing.assert_allclose(grad, 3 * x**2 + 0.01, rtol=1e-10)


def test_eval_numerical_gradient_perturbs_x_in_place(rng):
    # like the course, f may ignore its argument and read the array it closes over
    x = away_from_zero(rng, (2, 3))
    w = rng.standard_normal((2, 3))
    grad = eval_numerical_gradient(lambda _: float(np.sum(w * x)), x, verbose=False)
    assert rel_error(grad, w) < 1e-7


def test_eval_numerical_gradient_verbose_prints(rng, capsys):
    x = away_from_zero(rng, (2, 2))
    grad = eval_numerical_gradient(lambda v: np.sum(v**2), x)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{ix} {grad[ix]}" for ix in [(0, 0), (0, 1), (1, 0), (1, 1)]]
    eval_numerical_gradient(lambda v: np.sum(v**2), x, verbose=False)
    assert capsys.readouterr().out == ""


def test_eval_numerical_gradient_float32(rng):
    x = away_from_zero(rng, (4,)).astype(np.float32)
    grad = eval_numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x,
                                   verbose=False, h=1e-2)
    assert grad.dtype == np.float32
    # float32 x + h is rounded to x's precision (~1e-7 * |x|), which 2h = 0.02 amplifies
    assert rel_error(grad, 2 * x.astype(np.float64)) < 1e-4


def test_eval_numerical_gradient_restores_x_when_f_raises(rng):
    x = away_from_zero(rng, (3,))
    x_before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:  # the second evaluation of the second entry
            raise RuntimeError("boom")
        return float(np.sum(v))

    with pytest.raises(RuntimeError, match="boom"):
        eval_numerical_gradient(f, x, verbose=False)
    np.testing.assert_array_equal(x, x_before)


def test_eval_numerical_gradient_array_matrix_product(rng):
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((4, 5))
    df = rng.standard_normal((3, 5))
    x_before = x.copy()
    dx = eval_numerical_gradient_array(lambda v: v @ w, x, df)
    assert dx.shape == x.shape
    assert rel_error(dx, df @ w.T) < 1e-7
    dw = eval_numerical_gradient_array(lambda v: x @ v, w, df)
    assert rel_error(dw, x.T @ df) < 1e-7
    np.testing.assert_array_equal(x, x_before)


def test_eval_numerical_gradient_array_copies_reused_output(rng):
    # f returns the same buffer every time: the +h output must be copied before the -h call
    x = away_from_zero(rng, (2, 3))
    out = np.empty((2, 3))

    def f(v):
        np.multiply(v, v, out=out)
        return out

    df = rng.standard_normal((2, 3))
    dx = eval_numerical_gradient_array(f, x, df)
    assert rel_error(dx, 2 * x * df) < 1e-7


def test_grad_check_sparse_correct_gradient(rng, capsys):
    x = away_from_zero(rng, (4, 5))
    x_before = x.copy()
    errors = grad_check_sparse(lambda v: np.sum(v**2), x, 2 * x, num_checks=7, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert len(errors) == 7 and all(isinstance(e, float) for e in errors)
    assert max(errors) < 1e-7
    assert len(lines) == 7 and all(COURSE_LINE.match(line) for line in lines), lines
    np.testing.assert_array_equal(x, x_before)


def test_grad_check_sparse_wrong_gradient(rng, capsys):
    x = away_from_zero(rng, (4, 5))
    errors = grad_check_sparse(lambda v: np.sum(v**2), x, 3 * x, seed=1)
    assert len(errors) == 10
    assert min(errors) == pytest.approx(0.2, rel=1e-6)  # |2x - 3x| / (|2x| + |3x|)
    errors = grad_check_sparse(lambda v: np.sum(v**2), x, -2 * x, num_checks=3, seed=1)
    assert min(errors) == pytest.approx(1.0, rel=1e-6)


def test_grad_check_sparse_seed_reproducible(rng, capsys):
    x = away_from_zero(rng, (6, 7))
    g = rng.standard_normal((6, 7))  # a wrong gradient: each index shows a different error
    first = grad_check_sparse(lambda v: np.sum(v**2), x, g, seed=3)
    out_first = capsys.readouterr().out
    again = grad_check_sparse(lambda v: np.sum(v**2), x, g, seed=np.random.default_rng(3))
    assert again == first and capsys.readouterr().out == out_first
    other = grad_check_sparse(lambda v: np.sum(v**2), x, g, seed=4)
    assert other != first


def test_grad_check_sparse_zero_gradients_no_nan(capsys):
    x = np.ones(3)
    errors = grad_check_sparse(lambda v: 5.0, x, np.zeros(3), num_checks=2, seed=0)
    assert errors == [0.0, 0.0]


@pytest.mark.parametrize(
    "x, y, expected",
    [
        (1.0, 1.0, 0.0),
        (1.0, 3.0, 0.5),  # 2 / 4
        ([1.0, -1.0], [1.0, 1.0], 1.0),  # 2 / 2 in the second entry
        ([0.0, 0.0], [0.0, 0.0], 0.0),
        ([1e-9], [0.0], 0.1),  # |x - y| / 1e-8 below the floor
        ([[2.0, 4.0], [1.0, 1.0]], [[2.0, 3.0], [1.0, 1.0]], 1.0 / 7.0),
        ([1.0, 2.0, 4.0], 2.0, 1.0 / 3.0),  # a scalar broadcasts: max(1/3, 0, 2/6)
        (np.array([1, 2]), np.array([1.0, 2.5]), 0.5 / 4.5),  # integers are fine
    ],
)
def test_rel_error_values(x, y, expected):
    value = rel_error(x, y)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)


def _f(v):
    return float(np.sum(v**2))


X = np.ones((2, 3))


def _readonly():
    a = np.ones((2, 3))
    a.setflags(write=False)
    return a


def test_gradient_check_accepts_what_the_course_computes(rng):
    # Inputs the course's functions take and compute right: a scalar or broadcasting df
    # (np.sum((pos - neg) * df)), an f returning a one-element array (grad[ix] = ... takes it),
    # a negative step (the same centred difference), num_checks=0 (nothing checked).
    x = rng.standard_normal((2, 3))
    w = rng.standard_normal(3)
    grad = eval_numerical_gradient_array(lambda v: v * w, x.copy(), 2.0)
    assert rel_error(grad, 2.0 * np.broadcast_to(w, x.shape)) < 1e-7
    row = rng.standard_normal(3)
    grad = eval_numerical_gradient_array(lambda v: v * w, x.copy(), row)
    assert rel_error(grad, np.broadcast_to(row * w, x.shape)) < 1e-7
    grad = eval_numerical_gradient(lambda v: np.array([np.sum(v**2)]), x.copy(), verbose=False)
    assert rel_error(grad, 2 * x) < 1e-7
    grad = eval_numerical_gradient(lambda v: np.sum(v**3), x.copy(), verbose=False, h=-1e-5)
    assert rel_error(grad, 3 * x**2) < 1e-7
    assert grad_check_sparse(lambda v: np.sum(v**2), x.copy(), 2 * x, num_checks=0) == []


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: eval_numerical_gradient(_f, np.ones((2, 3), int)), TypeError, "x must"),
        (lambda: eval_numerical_gradient(_f, np.ones(3, np.float16)), TypeError, "x must"),
        (lambda: eval_numerical_gradient(_f, [1.0, 2.0]), TypeError, "x must"),
        (lambda: eval_numerical_gradient(_f, _readonly()), ValueError, "x must"),
        (lambda: eval_numerical_gradient(_f, X.copy(), h=0.0), ValueError, "h must"),
        (lambda: eval_numerical_gradient(_f, X.copy(), h=float("nan")), ValueError, "h must"),
        (lambda: eval_numerical_gradient(_f, X.copy(), h="1e-5"), TypeError, "h must"),
        (lambda: eval_numerical_gradient(lambda v: v, X.copy()), ValueError, "f must"),
        (lambda: eval_numerical_gradient(lambda v: "a", X.copy()), ValueError, "f must"),
        (lambda: eval_numerical_gradient_array(lambda v: v, np.ones(3, int), np.ones(3)),
         TypeError, "x must"),
        (lambda: eval_numerical_gradient_array(lambda v: v, X.copy(), np.ones((3, 2))),
         ValueError, "df"),
        (lambda: eval_numerical_gradient_array(lambda v: v, X.copy(), np.ones((2, 3), complex)),
         TypeError, "df"),
        (lambda: eval_numerical_gradient_array(lambda v: v, X.copy(), X, h=-0.0),
         ValueError, "h must"),
        (lambda: eval_numerical_gradient_array(lambda v: v, X.copy(), np.ones((2, 2, 3))),
         ValueError, "df"),  # broadcasts, but to a shape larger than f(x)'s
        (lambda: eval_numerical_gradient(lambda v: v[:2], X.copy()), ValueError, "f must"),
        (lambda: grad_check_sparse(_f, np.ones((2, 3), int), X), TypeError, "x must"),
        (lambda: grad_check_sparse(_f, X.copy(), np.ones((3, 2))), ValueError, "analytic_grad"),
        (lambda: grad_check_sparse(_f, np.ones((0, 3)), np.ones((0, 3))), ValueError, "x must"),
        (lambda: grad_check_sparse(_f, X.copy(), X, num_checks=-1), ValueError, "num_checks"),
        (lambda: grad_check_sparse(_f, X.copy(), X, num_checks=2.0), TypeError, "num_checks"),
        (lambda: grad_check_sparse(_f, X.copy(), X, h=0), ValueError, "h must"),
        (lambda: grad_check_sparse(lambda v: v, X.copy(), X), ValueError, "f must"),
        (lambda: rel_error(np.ones(3), np.ones((3, 1))), ValueError, "x and y"),
        (lambda: rel_error(np.ones(3), np.ones(4)), ValueError, "x and y"),
        (lambda: rel_error(np.ones(0), np.ones(0)), ValueError, "x and y"),
        (lambda: rel_error(np.ones(2, complex), np.ones(2)), TypeError, "x must"),
        (lambda: rel_error(np.ones(2), "ab"), TypeError, "y must"),
    ],
)
def test_gradient_check_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- the course's blob helpers ---------------------------------------------------------------


class _Blob:
    """The course's Caffe-style blob: values and their gradient."""

    def __init__(self, vals):
        self.vals = vals
        self.diffs = np.zeros_like(vals)


def test_eval_numerical_gradient_blobs_matrix_product(rng):
    from cs231n_fast.gradient_check import eval_numerical_gradient_blobs

    x, w = _Blob(away_from_zero(rng, (3, 4))), _Blob(away_from_zero(rng, (4, 2)))
    out = _Blob(np.zeros((3, 2)))
    out.diffs = rng.standard_normal((3, 2))
    x_before, w_before = x.vals.copy(), w.vals.copy()

    def f(x, w, out):  # a layer writes into its output blob
        out.vals[...] = x.vals @ w.vals

    dx, dw = eval_numerical_gradient_blobs(f, (x, w), out)
    assert rel_error(dx, out.diffs @ w.vals.T) < 1e-7
    assert rel_error(dw, x.vals.T @ out.diffs) < 1e-7
    assert dx.shape == x.vals.shape and dw.shape == w.vals.shape
    np.testing.assert_array_equal(x.vals, x_before)  # restored
    np.testing.assert_array_equal(w.vals, w_before)


def test_eval_numerical_gradient_net_calls_forward(rng):
    from cs231n_fast.gradient_check import eval_numerical_gradient_net

    x = _Blob(away_from_zero(rng, (5,)))
    out = _Blob(np.zeros(5))
    out.diffs = np.ones(5)

    class Net:
        def forward(self):
            out.vals[...] = np.sin(x.vals)

    (dx,) = eval_numerical_gradient_net(Net(), [x], out)
    assert rel_error(dx, np.cos(x.vals)) < 1e-7


def test_eval_numerical_gradient_blobs_bad_input():
    from cs231n_fast.gradient_check import eval_numerical_gradient_blobs

    out = _Blob(np.zeros(2))
    with pytest.raises(TypeError, match=r"inputs\[0\]"):
        eval_numerical_gradient_blobs(lambda *a: None, (np.zeros(2),), out)
    bad = _Blob(np.zeros(2))
    bad.diffs = np.zeros(3)
    with pytest.raises(ValueError, match=r"inputs\[0\]\.diffs"):
        eval_numerical_gradient_blobs(lambda *a: None, (bad,), out)
    with pytest.raises(TypeError, match=r"inputs\[0\]\.vals must be"):
        eval_numerical_gradient_blobs(lambda *a: None, (_Blob(np.zeros(2, dtype=int)),), out)
    with pytest.raises(TypeError, match="output"):
        eval_numerical_gradient_blobs(lambda *a: None, (_Blob(np.zeros(2)),), np.zeros(2))
