"""Hyperparameter search (grid, random), k-fold cross-validation and validation splits."""

import math
import re

import numpy as np
import pytest

from cs231n_fast.model_selection import (
    LogUniform,
    SearchResults,
    Uniform,
    cross_val_score,
    grid_search,
    kfold_indices,
    random_search,
    validation_split,
)


class _Recorder:
    """An objective that records its calls; score = -(lr - 3)**2 - (reg - 1)**2."""

    def __init__(self):
        self.calls = []

    def __call__(self, params):
        self.calls.append(dict(params))
        return -((params["lr"] - 3) ** 2) - (params["reg"] - 1) ** 2


# --- grid search ----------------------------------------------------------------------------------


def test_grid_search_visits_every_combination_once():
    f = _Recorder()
    space = {"lr": [1, 2, 3], "reg": [0, 1], "kind": ["a", "b"]}
    results = grid_search(f, space)
    visited = [(c["lr"], c["reg"], c["kind"]) for c in f.calls]
    expected = [(lr, reg, k) for lr in [1, 2, 3] for reg in [0, 1] for k in ["a", "b"]]
    assert visited == expected  # product order, the last key fastest
    assert len(results) == 12
    assert sorted((r["params"]["lr"], r["params"]["reg"], r["params"]["kind"]) for r in results) == sorted(expected)


def test_grid_search_best_row_and_sorted():
    results = grid_search(_Recorder(), {"lr": [1.0, 2.0, 3.0, 4.0], "reg": [0.5, 1.0, 2.0]})
    assert results.best_params == {"lr": 3.0, "reg": 1.0}
    assert results.best_score == 0.0
    assert results[0] is results.rows[0]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] == -(1.0 - 3) ** 2 - (2.0 - 1) ** 2
    best = results.best_params
    best["lr"] = 99  # a copy
    assert results.best_params["lr"] == 3.0


def test_grid_search_metrics_dict_and_params_copied():
    def fit_score(params):
        out = {"score": params["a"], "train_acc": 2 * params["a"]}
        params["a"] = "mutated"  # the objective gets its own dict
        return out

    results = grid_search(fit_score, {"a": [0.25, 0.75]})
    assert [r["params"]["a"] for r in results] == [0.75, 0.25]
    assert results[0] == {"params": {"a": 0.75}, "score": 0.75, "train_acc": 1.5}


def test_search_results_nan_scores_last_and_ties_stable():
    rows = [{"params": {"i": i}, "score": s} for i, s in enumerate([0.5, float("nan"), 0.9, 0.5])]
    results = SearchResults(rows)
    assert [r["params"]["i"] for r in results] == [2, 0, 3, 1]


def test_search_results_table():
    results = grid_search(lambda p: {"score": p["lr"] * 10, "std": 0.125}, {"lr": [1e-3, 2e-3], "act": ["relu"]})
    lines = str(results).splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["rank", "lr", "act", "score", "std"]
    assert lines[2].split() == ["1", "0.002", "relu", "0.02", "0.125"]
    assert lines[3].split()[:2] == ["2", "0.001"]
    assert "best_score=0.02" in repr(results)


# --- random search --------------------------------------------------------------------------------


def test_random_search_seeded_and_inside_bounds():
    space = {"lr": LogUniform(1e-6, 1e-2), "reg": Uniform(-1.0, 2.0), "hidden": [16, 32, 64]}

    def run(seed):
        calls = []
        random_search(lambda p: calls.append(p) or 0.0, space, n_iter=40, seed=seed)
        return calls

    calls = run(0)
    assert len(calls) == 40
    assert run(0) == calls
    assert run(np.random.default_rng(0)) == calls
    assert run(1) != calls
    for p in calls:
        assert 1e-6 <= p["lr"] <= 1e-2 and -1.0 <= p["reg"] < 2.0 and p["hidden"] in (16, 32, 64)
        assert isinstance(p["lr"], float)
    assert {p["hidden"] for p in calls} == {16, 32, 64}


def test_log_uniform_is_uniform_in_log_space():
    gen = np.random.default_rng(0)
    d = LogUniform(1e-6, 1e-2)
    logs = np.log10([d.sample(gen) for _ in range(4000)])
    # Each decade gets a quarter of the samples (a uniform on [1e-6, 1e-2] would put 99% in
    # the last one).
    counts = np.histogram(logs, bins=[-6, -5, -4, -3, -2])[0]
    np.testing.assert_allclose(counts / 4000, 0.25, atol=0.03)
    u = Uniform(1e-6, 1e-2)
    linear = np.array([u.sample(gen) for _ in range(1000)])
    assert np.mean(linear > 1e-3) > 0.85


def test_random_search_finds_best_row():
    results = random_search(_Recorder(), {"lr": [1, 3, 5], "reg": Uniform(0.0, 2.0)}, n_iter=30, seed=2)
    assert len(results) == 30
    assert results.best_score == max(r["score"] for r in results)
    assert results.best_params["lr"] == 3
    assert abs(results.best_params["reg"] - 1.0) < 0.2


# --- k-fold and validation splits -----------------------------------------------------------------


@pytest.mark.parametrize("n, k", [(10, 3), (7, 7), (2, 2), (23, 5)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_kfold_indices_partition(n, k, shuffle):
    splits = kfold_indices(n, k, shuffle=shuffle, seed=0)
    assert len(splits) == k
    vals = [val for _, val in splits]
    np.testing.assert_array_equal(np.sort(np.concatenate(vals)), np.arange(n))
    sizes = [len(val) for val in vals]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n
    for train, val in splits:
        assert len(np.intersect1d(train, val)) == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(n))
    if not shuffle:  # the course's consecutive np.array_split folds
        for (_, val), block in zip(splits, np.array_split(np.arange(n), k)):
            np.testing.assert_array_equal(val, block)


def test_kfold_indices_seeded():
    a = kfold_indices(20, 4, seed=1)
    b = kfold_indices(20, 4, seed=1)
    c = kfold_indices(20, 4, seed=2)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_cross_val_score_folds_and_statistics():
    X = np.arange(10.0)[:, None] * np.ones((1, 3))
    y = np.arange(10) * 10
    seen = []

    def fit_score_on_split(X_train, y_train, X_val, y_val):
        np.testing.assert_array_equal(X_train[:, 0] * 10, y_train)  # rows stay aligned
        np.testing.assert_array_equal(X_val[:, 0] * 10, y_val)
        assert len(np.intersect1d(y_train, y_val)) == 0 and len(y_train) + len(y_val) == 10
        seen.extend(y_val.tolist())
        return float(len(y_val))

    out = cross_val_score(fit_score_on_split, X, y, k=3, seed=0)
    assert sorted(seen) == y.tolist()
    assert sorted(out["fold_scores"]) == [3.0, 3.0, 4.0]
    assert out["score"] == pytest.approx(10 / 3, rel=1e-15)
    assert out["std"] == pytest.approx(math.sqrt(((4 - 10 / 3) ** 2 + 2 * (3 - 10 / 3) ** 2) / 3), rel=1e-12)


def test_cross_val_score_as_search_objective(rng):
    X = rng.standard_normal((30, 2))
    y = (X[:, 0] > 0).astype(int)

    def make(params):
        def fit_score_on_split(X_train, y_train, X_val, y_val):
            return float(np.mean((X_val[:, 0] > params["threshold"]) == y_val))
        return cross_val_score(fit_score_on_split, X, y, k=5, seed=0)

    results = grid_search(make, {"threshold": [-5.0, 0.0, 5.0]})
    assert results.best_params == {"threshold": 0.0} and results.best_score == 1.0
    assert results[0]["std"] == 0.0 and results[0]["fold_scores"] == [1.0] * 5
    assert str(results).splitlines()[0].split() == ["rank", "threshold", "score", "std"]


def test_validation_split_sizes_and_alignment(rng):
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    X_train, y_train, X_val, y_val = validation_split(X, y, 3, seed=0)
    assert X_train.shape == (7, 2) and X_val.shape == (3, 2)
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)
    np.testing.assert_array_equal(X_val[:, 0], 2 * y_val)
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_val])), y)
    again = validation_split(X, y, 3, seed=0)
    np.testing.assert_array_equal(again[3], y_val)
    _, y_train, _, y_val = validation_split(X, y, 0.25, shuffle=False)
    np.testing.assert_array_equal(y_val, [7, 8, 9])  # 0.25 * 10 = 2.5 rounds up; the last rows
    np.testing.assert_array_equal(y_train, np.arange(7))
    assert len(validation_split(X, y, 0.01)[3]) == 1


def _raise_if_called(*args):
    raise AssertionError("the objective must not be called")


_BAD = [
    (TypeError, "fit_score", lambda: grid_search("f", {"a": [1]})),
    (TypeError, "space", lambda: grid_search(_raise_if_called, [("a", [1])])),
    (ValueError, "space", lambda: grid_search(_raise_if_called, {})),
    (ValueError, "space\\['a'\\]", lambda: grid_search(_raise_if_called, {"a": []})),
    (TypeError, "space\\['a'\\]", lambda: grid_search(_raise_if_called, {"a": "abc"})),
    (TypeError, "space\\['a'\\]", lambda: grid_search(_raise_if_called, {"a": 0.1})),
    (TypeError, "space\\['a'\\]", lambda: grid_search(_raise_if_called, {"a": Uniform(0, 1)})),
    (TypeError, "fit_score", lambda: grid_search(lambda p: "high", {"a": [1]})),
    (TypeError, "fit_score", lambda: grid_search(lambda p: None, {"a": [1]})),
    (TypeError, "fit_score", lambda: grid_search(lambda p: True, {"a": [1]})),
    (ValueError, "score", lambda: grid_search(lambda p: {"acc": 1.0}, {"a": [1]})),
    (ValueError, "n_iter", lambda: random_search(_raise_if_called, {"a": [1]}, 0)),
    (TypeError, "n_iter", lambda: random_search(_raise_if_called, {"a": [1]}, 2.0)),
    (TypeError, "space\\['a'\\]", lambda: random_search(_raise_if_called, {"a": (0, 1).__iter__()}, 2)),
    (ValueError, "low", lambda: LogUniform(0.0, 1.0)),
    (ValueError, "low", lambda: LogUniform(-1.0, 1.0)),
    (ValueError, "high", lambda: Uniform(2.0, 1.0)),
    (ValueError, "high", lambda: LogUniform(1e-3, 1e-3)),
    (ValueError, "low", lambda: Uniform(float("nan"), 1.0)),
    (ValueError, "high", lambda: Uniform(0.0, float("inf"))),
    (TypeError, "low", lambda: Uniform("0", 1.0)),
    (ValueError, "rows", lambda: SearchResults([])),
    (ValueError, "k", lambda: kfold_indices(10, 1)),
    (ValueError, "k", lambda: kfold_indices(10, 11)),
    (TypeError, "k", lambda: kfold_indices(10, 2.0)),
    (ValueError, "n", lambda: kfold_indices(1, 2)),
    (TypeError, "fit_score_on_split", lambda: cross_val_score(None, np.zeros((4, 2)), np.zeros(4))),
    (ValueError, "y", lambda: cross_val_score(_raise_if_called, np.zeros((4, 2)), np.zeros(3), k=2)),
    (ValueError, "X", lambda: cross_val_score(_raise_if_called, np.zeros((0, 2)), np.zeros(0), k=2)),
    (ValueError, "k", lambda: cross_val_score(_raise_if_called, np.zeros((4, 2)), np.zeros(4), k=5)),
    (TypeError, "fit_score_on_split", lambda: cross_val_score(lambda *a: "x", np.zeros((4, 2)), np.zeros(4), k=2)),
    (ValueError, "num_validation", lambda: validation_split(np.zeros((4, 2)), np.zeros(4), 0)),
    (ValueError, "num_validation", lambda: validation_split(np.zeros((4, 2)), np.zeros(4), 4)),
    (ValueError, "num_validation", lambda: validation_split(np.zeros((4, 2)), np.zeros(4), 1.0)),
    (ValueError, "num_validation", lambda: validation_split(np.zeros((4, 2)), np.zeros(4), 0.9)),
    (TypeError, "num_validation", lambda: validation_split(np.zeros((4, 2)), np.zeros(4), "1")),
    (ValueError, "y", lambda: validation_split(np.zeros((4, 2)), np.zeros(5), 1)),
]


@pytest.mark.parametrize("exc, match, call", _BAD,
                         ids=[f"{i}-{re.sub(r'[^a-z_]', '', m)}" for i, (_, m, _) in enumerate(_BAD)])
def test_model_selection_bad_input(exc, match, call):
    with pytest.raises(exc, match=match):
        call()
