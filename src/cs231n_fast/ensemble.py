"""Model ensembles and parameter averaging (the CS231n notes, "Neural Networks Part 3":
*model ensembles*).

* :func:`ensemble_predict` averages the class probabilities (softmax of the scores) of several
  independently trained models; :func:`ensemble_accuracy` scores that average.
* :class:`ParameterAverage` keeps a running average of parameter snapshots over training,
  Polyak's (the mean of all iterates) or exponential (EMA); the ``Solver`` uses it for its
  ``average=`` option.

Examples
--------
>>> import numpy as np
>>> from cs231n_fast.ensemble import ensemble_predict
>>> class Fixed:
...     def __init__(self, scores): self.scores = np.asarray(scores, dtype=float)
...     def loss(self, X, y=None): return self.scores[: len(X)]
>>> p = ensemble_predict([Fixed([[0.0, 0.0]]), Fixed([[0.0, np.log(3.0)]])], np.zeros((1, 4)))
>>> np.round(p, 6)
array([[0.375, 0.625]])
"""

import math
import numbers

import numpy as np

from ._validation import positive_int

__all__ = ["softmax", "ensemble_predict", "ensemble_accuracy", "ParameterAverage"]

AVERAGE_MODES = ("polyak", "ema")


def softmax(scores):
    """Row-wise softmax of (N, C) scores, computed stably in float64."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores must have shape (N, C); got shape {s.shape}")
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


def _scores_of(model):
    loss = getattr(model, "loss", None)
    if callable(loss):
        return loss
    if callable(model):
        return model
    raise TypeError(
        f"each model must have a method loss(X) returning scores (the course's models, "
        f"nn.Sequential) or be callable; got {type(model).__name__}"
    )


def _check_models(models, weights):
    try:
        models = list(models)
    except TypeError:
        raise TypeError(
            f"models must be a sequence of models; got {type(models).__name__}"
        ) from None
    if not models:
        raise ValueError("models must be a non-empty sequence of models")
    fns = [_scores_of(m) for m in models]
    if weights is None:
        w = np.full(len(models), 1.0 / len(models))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(models),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                f"weights must be {len(models)} finite numbers >= 0 with a positive sum; got "
                f"{weights!r}"
            )
        w = w / w.sum()
    return fns, w


def ensemble_predict(models, X, *, batch_size=100, weights=None):
    """The average class probabilities of several models.

    Parameters
    ----------
    models : sequence of models
        Each with ``loss(X)`` returning scores of shape (N, C) (the course's models,
        :class:`~cs231n_fast.nn.Sequential`, which evaluates in test mode) or a callable
        ``X -> scores``. All must have the same classes.
    X : array_like of shape (N, ...)
        Inputs, given to every model in batches of ``batch_size``.
    batch_size : int, default 100
    weights : sequence of float, optional
        One weight >= 0 per model (normalised to sum 1); default equal weights.

    Returns
    -------
    probs : ndarray of shape (N, C), float64
        ``sum_m weights[m] * softmax(scores_m)``.

    Raises
    ------
    ValueError
        No model; models giving different score shapes; bad ``weights`` or ``batch_size``.
    TypeError
        A model without ``loss`` that is not callable.
    """
    fns, w = _check_models(models, weights)
    batch_size = positive_int("batch_size", batch_size)
    X = np.asarray(X)
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"X must be an array of shape (N, ...) with N >= 1; got {X.shape}")
    out = []
    for start in range(0, X.shape[0], batch_size):
        xb = X[start : start + batch_size]
        probs = None
        for i, (fn, wi) in enumerate(zip(fns, w)):
            p = softmax(fn(xb))
            if p.shape[0] != xb.shape[0]:
                raise ValueError(
                    f"models[{i}] gave {p.shape[0]} rows of scores for {xb.shape[0]} inputs"
                )
            if probs is None:
                probs = wi * p
            elif p.shape != probs.shape:
                raise ValueError(
                    f"models[{i}] gave scores of shape {p.shape}; models[0] gave {probs.shape}"
                )
            else:
                probs += wi * p
        out.append(probs)
    return np.concatenate(out, axis=0)


def ensemble_accuracy(models, X, y, *, batch_size=100, weights=None):
    """The fraction of ``X`` whose most probable class under :func:`ensemble_predict` is ``y``."""
    probs = ensemble_predict(models, X, batch_size=batch_size, weights=weights)
    y = np.asarray(y)
    if y.shape != (probs.shape[0],):
        raise ValueError(f"y must have shape ({probs.shape[0]},); got {y.shape}")
    return float(np.mean(np.argmax(probs, axis=1) == y))


class ParameterAverage:
    """A running average of parameter snapshots.

    Call :meth:`update` with the parameters after each update of training; :attr:`params`
    holds the average, accumulated in float64 and returned in each parameter's dtype.

    * ``"polyak"``: ``avg_t = avg_{t-1} + (w_t - avg_{t-1}) / t``, the mean of ``w_1 .. w_t``;
    * ``"ema"``: ``avg_1 = w_1``, ``avg_t = decay * avg_{t-1} + (1 - decay) * w_t``.

    Parameters
    ----------
    mode : {"polyak", "ema"}
    decay : float, default 0.999
        The EMA decay, in [0, 1) (not used by Polyak).

    Attributes
    ----------
    count : int
        Snapshots averaged so far.

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.ensemble import ParameterAverage
    >>> avg = ParameterAverage("polyak")
    >>> for v in (1.0, 2.0, 6.0):
    ...     avg.update({"w": np.array([v])})
    >>> avg.params["w"]
    array([3.])
    """

    def __init__(self, mode="polyak", decay=0.999):
        if mode not in AVERAGE_MODES:
            raise ValueError(f"average must be one of {AVERAGE_MODES}; got {mode!r}")
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not (
            math.isfinite(decay) and 0.0 <= decay < 1.0
        ):
            raise ValueError(f"ema_decay must be a finite number in [0, 1); got {decay!r}")
        self.mode = mode
        self.decay = float(decay)
        self.reset()

    def reset(self):
        """Forget every snapshot."""
        self.count = 0
        self._sums = {}
        self._dtypes = {}

    def update(self, params):
        """Fold the snapshot ``params`` (name -> array; the same names every time) in."""
        if self.count and set(params) != set(self._sums):
            raise ValueError(
                f"params must have the keys of the first snapshot {sorted(self._sums)}; got "
                f"{sorted(params)}"
            )
        self.count += 1
        for k, w in params.items():
            w64 = np.asarray(w, dtype=np.float64)
            if self.count == 1:
                self._sums[k] = w64.copy()
                self._dtypes[k] = np.asarray(w).dtype
            elif self.mode == "polyak":
                avg = self._sums[k]
                avg += (w64 - avg) / self.count
            else:
                avg = self._sums[k]
                avg *= self.decay
                avg += (1.0 - self.decay) * w64

    @property
    def params(self):
        """The averaged parameters (new arrays, each in its parameter's dtype); {} before the
        first :meth:`update`."""
        return {k: v.astype(self._dtypes[k]) for k, v in self._sums.items()}
