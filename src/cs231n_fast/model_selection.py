"""Hyperparameter search and validation splits: the workflow of the CS231n notes.

The course notebooks tune learning rates and regularisation strengths by hand-written loops
over a validation set, and choose ``k`` for kNN by cross-validation (the notes, "Neural
Networks Part 3", *Hyperparameter optimization*; "Image classification", *Validation sets
for hyperparameter tuning*). This module packages those loops:

* :func:`grid_search` evaluates every combination of the listed values;
* :func:`random_search` samples ``n_iter`` combinations (the notes: "Prefer random search to
  grid search", after Bergstra and Bengio, "Random Search for Hyper-Parameter Optimization");
  learning rates and regularisation strengths are best searched in log space with
  :class:`LogUniform`, e.g. ``LogUniform(1e-6, 1e-3)`` for "10 ** uniform(-6, -3)";
* :func:`kfold_indices` and :func:`cross_val_score` do k-fold cross-validation (the folds of
  the kNN notebook, ``np.array_split`` of the, optionally shuffled, indices), and
  :func:`validation_split` holds out a validation set;
* both searches return a :class:`SearchResults`, the evaluated rows sorted best first, which
  prints as a table.

On a Dask cluster, pass ``client=`` (a ``dask.distributed.Client``) to the searches,
:func:`cross_val_score` or :func:`cs231n_fast.classifiers.cross_validate_k`: each trial is then
a task on the cluster's workers, with the same table as the local run; failed trials are
recorded instead of stopping the search, lost ones resubmitted (see :func:`grid_search` and
the user guide's page "Past one machine"). dask is an optional extra (``pip install
"cs231n_fast[dask]"``), imported only then.

The objective is yours: ``fit_score(params)`` trains a model with the hyperparameters in the
dict ``params`` and returns a number, higher is better (e.g. validation accuracy), or a dict
of metrics with the key ``"score"`` (the other entries are kept in the row, e.g. the training
accuracy). Nothing here is specific to one model.

Examples
--------
A made-up objective, best at a learning rate of 1e-4 (seeded, so the search is repeatable):

>>> import math
>>> from cs231n_fast.model_selection import LogUniform, random_search
>>> def fit_score(params):
...     return -abs(math.log10(params["learning_rate"]) + 4)
>>> results = random_search(fit_score, {"learning_rate": LogUniform(1e-6, 1e-2)}, n_iter=20, seed=0)
>>> len(results.rows), round(results.best_params["learning_rate"], 7)
(20, 0.0001465)

With the notebook's linear SVM and its validation split, the objective would be::

    def fit_score(params):
        svm = LinearSVM()
        svm.train(X_train, y_train, num_iters=1500, seed=0, **params)
        return np.mean(svm.predict(X_val) == y_val)

    results = random_search(fit_score, {"learning_rate": LogUniform(1e-7, 1e-5),
                                        "reg": LogUniform(1e3, 1e5)}, n_iter=20, seed=0)
    print(results)  # the table, best first

and on a cluster (the same rows)::

    from dask.distributed import Client
    results = random_search(fit_score, space, n_iter=200, seed=0, client=Client("tcp://scheduler:8786"),
                            progress=True)
"""

import itertools
import math
import numbers
from collections.abc import Mapping

import numpy as np

from . import _validation as v
from ._validation import real_number

__all__ = [
    "Uniform",
    "LogUniform",
    "SearchResults",
    "grid_search",
    "random_search",
    "kfold_indices",
    "cross_val_score",
    "validation_split",
]


# --- distributions for random search -------------------------------------------------------------


class _Distribution:
    """A hyperparameter distribution on the bounds ``low < high`` (finite)."""

    def __init__(self, low, high):
        self.low = real_number("low", low)
        self.high = real_number("high", high)
        if not self.low < self.high:
            raise ValueError(f"high must be > low; got low={low!r}, high={high!r}")

    def __repr__(self):
        return f"{type(self).__name__}({self.low!r}, {self.high!r})"

    def sample(self, rng):
        """One value (a float) drawn with the numpy Generator ``rng``."""
        raise NotImplementedError


class Uniform(_Distribution):
    """Values drawn uniformly from ``[low, high)``.

    Parameters
    ----------
    low, high : float
        Finite bounds, ``low < high``.
    """

    def sample(self, rng):
        return float(rng.uniform(self.low, self.high))


class LogUniform(_Distribution):
    """Values whose logarithm is uniform: ``exp(uniform(log(low), log(high)))``.

    The notes' advice for learning rates and regularisation strengths, which act
    multiplicatively: ``LogUniform(1e-6, 1e-3)`` is ``10 ** uniform(-6, -3)``, every decade
    equally likely. Samples lie in ``[low, high]``.

    Parameters
    ----------
    low, high : float
        Finite bounds, ``0 < low < high``.
    """

    def __init__(self, low, high):
        real_number("low", low, 0.0, low_open=True)
        super().__init__(low, high)

    def sample(self, rng):
        x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return min(max(x, self.low), self.high)  # exp(log(b)) may round just outside


# --- results --------------------------------------------------------------------------------------


class SearchResults:
    """The rows of a hyperparameter search, sorted best first.

    Each row is a dict ``{"params": {...}, "score": float, **metrics}`` where ``metrics`` are
    the other entries of the dict returned by the objective, if any (e.g. ``std`` and
    ``fold_scores`` from :func:`cross_val_score`). Rows are sorted by decreasing score; ties
    keep the evaluation order and NaN scores (a diverged run) come last. A ``SearchResults``
    is a sequence of its rows: ``len(results)``, ``results[0]``, iteration.

    Attributes
    ----------
    rows : list of dict
    best_params : dict
        The params of the best row (a copy).
    best_score : float
    """

    def __init__(self, rows):
        self.rows = sorted(rows, key=lambda r: (math.isnan(r["score"]), -r["score"]))
        if not self.rows:
            raise ValueError("rows must hold at least one evaluated row; got none")

    @property
    def best_params(self):
        return dict(self.rows[0]["params"])

    @property
    def best_score(self):
        return self.rows[0]["score"]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self):
        return (
            f"SearchResults({len(self.rows)} rows, best_score={self.best_score!r}, "
            f"best_params={self.best_params!r})"
        )

    def __str__(self):
        """A table: rank, one column per hyperparameter, score, then the other scalar metrics."""
        params = list(dict.fromkeys(k for r in self.rows for k in r["params"]))
        metrics = list(dict.fromkeys(
            k for r in self.rows for k, val in r.items()
            if k not in ("params", "score") and isinstance(val, numbers.Real)
        ))
        if any("error" in r for r in self.rows):
            metrics.append("error")  # failed trials (on_error="record"): their error text
        header = ["rank", *params, "score", *metrics]
        body = [
            [str(i + 1), *(_cell(r["params"].get(k, "")) for k in params), _cell(r["score"]),
             *(_cell(r.get(k, "")) if k != "error" else _short(r.get(k, "")) for k in metrics)]
            for i, r in enumerate(self.rows)
        ]
        widths = [max(len(row[j]) for row in [header, *body]) for j in range(len(header))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in [header, *body]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _short(text, width=60):
    """The first line of ``text``, cut to ``width`` characters (an error in the table)."""
    line = str(text).splitlines()[0] if str(text) else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def _cell(value):
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_, numbers.Integral)):
        return f"{float(value):.4g}"
    return str(value)


def _score(out, name):
    """An objective's return value as ``(score, other metrics)``: a real number, or a dict
    with the key ``"score"`` whose other entries are the metrics."""
    metrics = {}
    if isinstance(out, Mapping):
        if "score" not in out:
            raise ValueError(f"{name} returned a dict without the key 'score'; got keys {list(out)}")
        metrics = {k: val for k, val in out.items() if k != "score"}
        out = out["score"]
    if isinstance(out, np.ndarray) and out.ndim == 0:
        out = out[()]
    if isinstance(out, (bool, np.bool_)) or not isinstance(out, numbers.Real):
        raise TypeError(
            f"{name} must return a real number (higher is better) or a dict with the key "
            f"'score'; got {out!r} of type {type(out).__name__}"
        )
    return float(out), metrics


def _evaluate(fit_score, params):
    """Call the objective on a copy of ``params``; return the row ``{"params", "score", ...}``."""
    score, metrics = _score(fit_score(dict(params)), "fit_score")
    return {"params": dict(params), "score": score, **metrics}


def _check_on_error(on_error, client):
    if on_error is None:
        return "raise" if client is None else "record"
    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error must be None, 'raise' or 'record'; got {on_error!r}")
    return on_error


def _progress_reporter(progress):
    """``progress`` as a function ``(n_done, n_total, row)``, or None."""
    if progress is None or progress is False:
        return None
    if progress is True:
        def report(done, total, row):
            params = ", ".join(f"{k}={_cell(val)}" for k, val in row["params"].items())
            tail = f"  {row['error']}" if "error" in row else ""
            print(f"[{done}/{total}] score={_cell(row['score'])}  {params}{tail}", flush=True)

        return report
    if callable(progress):
        return progress
    raise TypeError(f"progress must be None, a bool or a callable; got {progress!r}")


def _failed_row(params, message):
    return {"params": dict(params), "score": math.nan, "error": message}


def _run_trials(fit_score, params_iter, total, client, on_error, progress, retries):
    """Evaluate ``fit_score`` on each params dict; the rows in evaluation order."""
    if client is not None:
        from . import _distributed

        _distributed.check_client(client, "a search with client=")
        retries = _distributed.check_retries(retries)
    mode = _check_on_error(on_error, client)
    report = _progress_reporter(progress)
    rows = [None] * total
    done = 0

    def finish(i, row):
        nonlocal done
        rows[i] = row
        done += 1
        if report is not None:
            report(done, total, row)

    if client is None:
        for i, params in enumerate(params_iter):
            if mode == "raise":
                row = _evaluate(fit_score, params)
            else:
                try:
                    row = _evaluate(fit_score, params)
                except Exception as e:
                    row = _failed_row(params, f"{type(e).__name__}: {e}")
            finish(i, row)
        return rows

    param_list = list(params_iter)

    def on_outcome(i, outcome):
        if outcome[0] == "ok":
            return finish(i, outcome[1])
        exc, message = outcome[1], outcome[2]
        if mode == "raise":
            if outcome[0] == "lost":
                raise RuntimeError(f"trial {i} (params {param_list[i]!r}) was {message}") from exc
            if exc is not None:
                raise exc
            raise RuntimeError(f"trial {i} (params {param_list[i]!r}) failed: {message}\n{outcome[3]}")
        finish(i, _failed_row(param_list[i], message))

    _distributed.run_on_cluster(client, _evaluate, fit_score, [(p,) for p in param_list],
                                retries=retries, on_outcome=on_outcome, label="cs231n-trial")
    return rows


def _check_callable(name, f):
    if not callable(f):
        raise TypeError(f"{name} must be callable; got {type(f).__name__}")


def _check_space(space, allow_distributions):
    """``space`` as a dict of name -> list of values (or a distribution, for random search)."""
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of hyperparameter names to lists of values; got {space!r}")
    if not space:
        raise ValueError("space must name at least one hyperparameter; got an empty dict")
    checked = {}
    for key, values in space.items():
        if allow_distributions and isinstance(values, _Distribution):
            checked[key] = values
            continue
        if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__"):
            kinds = "a list of values or a Uniform/LogUniform" if allow_distributions else "a list of values"
            raise TypeError(f"space[{key!r}] must be {kinds}; got {values!r}")
        values = list(values)
        if not values:
            raise ValueError(f"space[{key!r}] must hold at least one value; got none")
        checked[key] = values
    return checked


# --- searches -------------------------------------------------------------------------------------


def grid_search(fit_score, space, *, client=None, on_error=None, progress=None, retries=2):
    """Evaluate ``fit_score`` on every combination of the values in ``space``.

    Parameters
    ----------
    fit_score : callable
        ``fit_score(params) -> score``: trains with the hyperparameters in the dict ``params``
        and returns a number, higher is better, or a dict of metrics with the key ``"score"``.
        It gets a fresh dict on each call.
    space : dict of str to list
        Each hyperparameter's candidate values, e.g. ``{"learning_rate": [1e-7, 1e-6],
        "reg": [2.5e4, 5e4]}``.
    client : dask.distributed.Client, optional
        Run each trial as a task on this client's cluster (see *Distributed* below); default
        None runs them one after another in this process.
    on_error : {"raise", "record"}, optional
        What an exception raised by ``fit_score`` does: ``"raise"`` stops the search and
        raises it; ``"record"`` records the trial with score NaN and its error text
        (``"TypeName: message"``) under the key ``"error"`` and goes on. Default: ``"raise"``
        locally, ``"record"`` with a ``client``.
    progress : bool or callable, optional
        ``True`` prints one line per finished trial; a callable is called as
        ``progress(n_done, n_total, row)`` as each trial finishes (in completion order).
    retries : int, default 2
        With a ``client``: how many more times a trial whose workers died is submitted again
        after Dask gives up on it (``KilledWorker``); a trial still lost is recorded with the
        error ``"lost: KilledWorker: ..."`` (or raised with ``on_error="raise"``).

    Returns
    -------
    SearchResults
        One row per combination (``prod(len(values))`` calls), best first.

    Raises
    ------
    TypeError
        If ``fit_score`` is not callable or returns something else than a number or a dict
        with ``"score"``; if ``space`` is not a non-empty dict of lists.
    ValueError
        If a list in ``space`` is empty.

    Notes
    -----
    Combinations are evaluated in ``itertools.product`` order of ``space``'s keys (the last
    key varies fastest).

    Distributed. With ``client``, ``fit_score`` (and what it holds) is sent to the cluster
    once and each trial runs as a task; the rows are gathered in the order of the local search,
    so the table is the local one when ``fit_score`` is deterministic given ``params``: seed its
    own randomness (e.g. ``seed=0``, or a ``"seed"`` entry in ``space``), not from global state.
    Each task holds the kernels' and BLAS threads to its share of its worker's threads.
    """
    _check_callable("fit_score", fit_score)
    space = _check_space(space, allow_distributions=False)
    keys = list(space)
    combos = [dict(zip(keys, combo)) for combo in itertools.product(*space.values())]
    return SearchResults(_run_trials(fit_score, combos, len(combos), client, on_error, progress, retries))


def random_search(fit_score, space, n_iter, seed=None, *, client=None, on_error=None, progress=None,
                  retries=2):
    """Evaluate ``fit_score`` on ``n_iter`` hyperparameter combinations drawn at random.

    Parameters
    ----------
    fit_score : callable
        As in :func:`grid_search`.
    space : dict of str to list, Uniform or LogUniform
        A list is sampled uniformly (each value equally likely); a :class:`Uniform` or
        :class:`LogUniform` is sampled from its distribution. Use :class:`LogUniform` for
        learning rates and regularisation strengths.
    n_iter : int
        Number of combinations to evaluate, ``>= 1``. Draws are independent, so a
        combination may repeat when ``space`` holds only lists.
    seed : None, int or numpy Generator
        Seeds the draws (``np.random.default_rng(seed)``); the same seed gives the same
        combinations, locally or on a cluster (they are drawn on the calling machine).
    client, on_error, progress, retries
        As in :func:`grid_search`: run the trials on a Dask cluster, what an exception raised
        by ``fit_score`` does, report progress, resubmit trials lost with their workers.

    Returns
    -------
    SearchResults
        ``n_iter`` rows, best first.

    Raises
    ------
    TypeError, ValueError
        As :func:`grid_search`, and for ``n_iter`` that is not an int ``>= 1``.

    Notes
    -----
    Each iteration draws one value per key, in the order of ``space``'s keys.

    Distributed. With ``client``, ``fit_score`` (and what it holds) is sent to the cluster
    once and each trial runs as a task; the rows are gathered in the order of the local search,
    so with the same ``seed`` the table is the local one when ``fit_score`` is deterministic
    given ``params``: seed its own randomness (e.g. ``seed=0``, or a ``"seed"`` entry in
    ``space``), not from global state.
    Each task holds the kernels' and BLAS threads to its share of its worker's threads.
    """
    _check_callable("fit_score", fit_score)
    space = _check_space(space, allow_distributions=True)
    n_iter = v.positive_int("n_iter", n_iter)
    rng = np.random.default_rng(seed)
    draws = (
        {
            key: values.sample(rng) if isinstance(values, _Distribution) else values[int(rng.integers(len(values)))]
            for key, values in space.items()
        }
        for _ in range(n_iter)
    )
    if client is not None:  # all drawn up front, in the same order
        draws = list(draws)
    return SearchResults(_run_trials(fit_score, draws, n_iter, client, on_error, progress, retries))


# --- validation splits ----------------------------------------------------------------------------


def _n_samples(X, y):
    """Validate that ``X`` and ``y`` are arrays with the same number of rows; return it."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError(f"X must be an array of shape (N, ...) with N >= 1 samples; got shape {X.shape}")
    if y.ndim < 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per sample of X ({X.shape[0]}); got shape {y.shape}")
    return X, y


def kfold_indices(n, k, shuffle=True, seed=None):
    """Train/validation index arrays for ``k``-fold cross-validation of ``n`` samples.

    The (optionally shuffled) indices ``0 .. n-1`` are cut into ``k`` consecutive folds with
    ``np.array_split`` (sizes differ by at most one, as in the course's kNN notebook); split
    ``i`` validates on fold ``i`` and trains on the other folds, concatenated in order.

    Parameters
    ----------
    n : int
        Number of samples, ``>= 2``.
    k : int
        Number of folds, ``2 <= k <= n``.
    shuffle : bool, default True
        Permute the indices first; with ``False`` the folds are consecutive blocks.
    seed : None, int or numpy Generator
        Seeds the permutation.

    Returns
    -------
    list of (train_idx, val_idx)
        ``k`` pairs of intp arrays. The ``val_idx`` partition ``0 .. n-1``; each ``train_idx``
        is the complement of its ``val_idx``.
    """
    n = v.positive_int("n", n, minimum=2)
    k = v.positive_int("k", k, minimum=2)
    if k > n:
        raise ValueError(f"k must be <= the number of samples n = {n}; got {k}")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    folds = np.array_split(order, k)
    return [(np.concatenate(folds[:i] + folds[i + 1 :]), folds[i]) for i in range(k)]


def cross_val_score(fit_score_on_split, X, y, k=5, seed=None, *, client=None):
    """Mean validation score over ``k`` folds (shuffled with ``seed``).

    Parameters
    ----------
    fit_score_on_split : callable
        ``fit_score_on_split(X_train, y_train, X_val, y_val) -> score``: trains on the
        training part and returns a number (higher is better) or a dict with ``"score"``.
    X : array_like of shape (N, ...)
    y : array_like of shape (N,)
    k : int, default 5
        Number of folds, ``2 <= k <= N``.
    seed : None, int or numpy Generator
        Seeds the shuffle of :func:`kfold_indices`.
    client : dask.distributed.Client, optional
        Fit the folds as tasks on this client's cluster (``X`` and ``y`` are sent once); the
        result equals the local one when ``fit_score_on_split`` is deterministic. An exception
        in a fold is raised, as locally; a fold lost with its workers is submitted again
        (twice, after Dask's own reruns) and then raises ``RuntimeError``.

    Returns
    -------
    dict
        ``{"score": mean over folds, "std": standard deviation over folds, "fold_scores":
        [score of fold 0, ...]}``; return it from an objective to get these columns in a
        search's rows.
    """
    _check_callable("fit_score_on_split", fit_score_on_split)
    X, y = _n_samples(X, y)
    k = v.positive_int("k", k, minimum=2)
    if k > X.shape[0]:
        raise ValueError(f"k must be <= the number of samples ({X.shape[0]}); got {k}")
    splits = kfold_indices(X.shape[0], k, shuffle=True, seed=seed)
    if client is None:
        scores = []
        for train, val in splits:
            score, _ = _score(fit_score_on_split(X[train], y[train], X[val], y[val]), "fit_score_on_split")
            scores.append(score)
    else:
        scores = run_folds(client, _fold_score, (fit_score_on_split, X, y), splits, "cs231n-fold")
    return {"score": float(np.mean(scores)), "std": float(np.std(scores)), "fold_scores": scores}


def _fold_score(shared, train, val):
    fit, X, y = shared
    return _score(fit(X[train], y[train], X[val], y[val]), "fit_score_on_split")[0]


def run_folds(client, func, shared, arg_list, label):
    """``[func(shared, *args) for args in arg_list]`` as tasks on ``client``; exceptions raised."""
    from . import _distributed

    _distributed.check_client(client, f"{label.split('-')[-1]}s with client=")
    out = [None] * len(arg_list)

    def on_outcome(i, outcome):
        if outcome[0] == "ok":
            out[i] = outcome[1]
            return
        exc, message = outcome[1], outcome[2]
        if outcome[0] == "lost":
            raise RuntimeError(f"fold {i} was {message}") from exc
        if exc is not None:
            raise exc
        raise RuntimeError(f"fold {i} failed: {message}\n{outcome[3]}")

    _distributed.run_on_cluster(client, func, shared, arg_list, retries=2, on_outcome=on_outcome, label=label)
    return out


def validation_split(X, y, num_validation, shuffle=True, seed=None):
    """Hold out ``num_validation`` samples for validation.

    Parameters
    ----------
    X : array_like of shape (N, ...)
    y : array_like of shape (N,)
    num_validation : int or float
        An int ``1 <= num_validation < N`` counts samples; a float in ``(0, 1)`` is a fraction
        of ``N`` (rounded to the nearest count, halves up; at least one). At least one sample
        must be left for training.
    shuffle : bool, default True
        Pick the validation samples at random; with ``False`` they are the last
        ``num_validation`` rows, as the course's data loader takes ``X_val`` from the rows
        after the training ones.
    seed : None, int or numpy Generator
        Seeds the shuffle.

    Returns
    -------
    X_train, y_train, X_val, y_val : ndarray
        New arrays (rows of the inputs, in the course's order of names).
    """
    X, y = _n_samples(X, y)
    n = X.shape[0]
    if isinstance(num_validation, numbers.Integral) and not isinstance(num_validation, (bool, np.bool_)):
        count = v.positive_int("num_validation", num_validation)
    else:
        frac = real_number("num_validation", num_validation, 0.0, 1.0, low_open=True, high_open=True)
        count = max(1, math.floor(frac * n + 0.5))
    if count >= n:
        raise ValueError(
            f"num_validation must leave at least one training sample of the {n}; got {num_validation!r}"
        )
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    train, val = order[: n - count], order[n - count :]
    return X[train], y[train], X[val], y[val]
