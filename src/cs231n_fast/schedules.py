"""Learning-rate schedules: small objects that map an epoch to a learning rate.

The CS231n notes ("Neural Networks Part 3", *annealing the learning rate*) decay the rate
during training: step decay (e.g. halve it every few epochs), exponential decay and 1/t decay.
This module has those, the cosine schedule, a linear warm-up around any of them, and
reduce-on-plateau on the validation accuracy. They work on their own or as the ``Solver``'s
``lr_schedule=`` option (which sets the rate of every parameter at the start of each epoch and
records it in ``solver.lr_history``).

**Unit: epochs.** A schedule is called with ``t``, the number of *completed* epochs (0 during
the first epoch), and returns the learning rate to use next. ``t`` may be fractional (e.g.
``iteration / iterations_per_epoch``) to change the rate within an epoch in your own loop; the
Solver calls it once per epoch with integers.

Formulas, with ``lr`` the initial rate:

* :class:`StepDecay`: ``lr * gamma ** floor(t / step_size)``;
* :class:`ExponentialDecay`: ``lr * gamma ** t`` (the notes' ``lr * exp(-k t)`` with
  ``gamma = exp(-k)``);
* :class:`InverseTimeDecay`: ``lr / (1 + k * t)``;
* :class:`Cosine`: ``min_lr + (lr - min_lr) * (1 + cos(pi * min(t, T_max) / T_max)) / 2``;
* :class:`LinearWarmup`: ``s(0) * (start_factor + (1 - start_factor) * t / warmup)`` for
  ``t < warmup``, then ``s(t - warmup)`` (``s`` the wrapped schedule);
* :class:`ReduceOnPlateau`: ``lr``, multiplied by ``factor`` (not below ``min_lr``) whenever
  the monitored metric (fed by :meth:`ReduceOnPlateau.step`) has not improved for more than
  ``patience`` epochs.

Examples
--------
>>> from cs231n_fast.schedules import StepDecay, Cosine, LinearWarmup
>>> s = StepDecay(0.1, step_size=2, gamma=0.5)
>>> [s(t) for t in range(5)]
[0.1, 0.1, 0.05, 0.05, 0.025]
>>> round(Cosine(1.0, T_max=4)(2), 12)
0.5
>>> w = LinearWarmup(StepDecay(0.1, step_size=10), warmup=2)
>>> [round(w(t), 12) for t in range(4)]
[0.0, 0.05, 0.1, 0.1]
"""

import math
import numbers

__all__ = [
    "Schedule",
    "Constant",
    "StepDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "Cosine",
    "LinearWarmup",
    "ReduceOnPlateau",
]


def _real(name, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float in the given interval; ValueError/TypeError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ValueError(f"{name} must be a finite number in {interval}; got {value!r}")
    return value


def _count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def _lr(lr, name="lr"):
    return _real(name, lr, 0.0, low_open=True)


def _epoch(t):
    return _real("t (completed epochs)", t, 0.0)


class Schedule:
    """Base class: ``schedule(t) -> learning rate`` for ``t`` completed epochs.

    Subclasses set ``lr`` (the initial rate) and implement :meth:`rate`; ``__call__`` checks
    ``t`` (a finite number >= 0) and returns a float.
    """

    lr = None

    def __call__(self, t):
        return float(self.rate(_epoch(t)))

    def rate(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def reset(self):
        """Forget any state (only :class:`ReduceOnPlateau` has some); returns the schedule."""
        return self

    def _fields(self):
        return {"lr": self.lr}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._fields().items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``lr`` at every epoch.

    Parameters
    ----------
    lr : float
        The learning rate, > 0.
    """

    def __init__(self, lr):
        self.lr = _lr(lr)

    def rate(self, t):
        return self.lr


class StepDecay(Schedule):
    """Step decay: ``lr * gamma ** floor(t / step_size)``.

    Parameters
    ----------
    lr : float
        Initial learning rate, > 0.
    step_size : int
        Epochs between two decays, >= 1.
    gamma : float, default 0.1
        Factor of each decay, in (0, 1] (the notes' "halve it every few epochs": 0.5).

    Raises
    ------
    ValueError
        ``lr`` <= 0, ``step_size`` < 1, ``gamma`` outside (0, 1].
    """

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr = _lr(lr)
        self.step_size = _count("step_size", step_size)
        self.gamma = _real("gamma", gamma, 0.0, 1.0, low_open=True)

    def rate(self, t):
        return self.lr * self.gamma ** math.floor(t / self.step_size)

    def _fields(self):
        return {"lr": self.lr, "step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """Exponential decay: ``lr * gamma ** t``.

    The notes write it ``lr * exp(-k t)``: the same with ``gamma = exp(-k)``.

    Parameters
    ----------
    lr : float
        Initial learning rate, > 0.
    gamma : float
        Factor per epoch, in (0, 1].
    """

    def __init__(self, lr, gamma):
        self.lr = _lr(lr)
        self.gamma = _real("gamma", gamma, 0.0, 1.0, low_open=True)

    def rate(self, t):
        return self.lr * self.gamma**t

    def _fields(self):
        return {"lr": self.lr, "gamma": self.gamma}


class InverseTimeDecay(Schedule):
    """1/t decay: ``lr / (1 + k * t)``.

    Parameters
    ----------
    lr : float
        Initial learning rate, > 0.
    k : float
        Decay rate per epoch, >= 0 (0: constant).
    """

    def __init__(self, lr, k):
        self.lr = _lr(lr)
        self.k = _real("k", k, 0.0)

    def rate(self, t):
        return self.lr / (1.0 + self.k * t)

    def _fields(self):
        return {"lr": self.lr, "k": self.k}


class Cosine(Schedule):
    """Cosine annealing: ``min_lr + (lr - min_lr) * (1 + cos(pi * min(t, T_max) / T_max)) / 2``.

    From ``lr`` at ``t = 0`` down to ``min_lr`` at ``t = T_max``, then ``min_lr`` (no restart).

    Parameters
    ----------
    lr : float
        Initial learning rate, > 0.
    T_max : int or float
        Epochs of the half cosine, > 0 (typically the number of epochs of the run).
    min_lr : float, default 0.0
        Final learning rate, in [0, lr].
    """

    def __init__(self, lr, T_max, min_lr=0.0):
        self.lr = _lr(lr)
        self.T_max = _real("T_max", T_max, 0.0, low_open=True)
        self.min_lr = _real("min_lr", min_lr, 0.0, self.lr)

    def rate(self, t):
        frac = min(t, self.T_max) / self.T_max
        return self.min_lr + (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * frac)) / 2.0

    def _fields(self):
        return {"lr": self.lr, "T_max": self.T_max, "min_lr": self.min_lr}


class LinearWarmup(Schedule):
    """Linear warm-up before another schedule.

    ``s(0) * (start_factor + (1 - start_factor) * t / warmup)`` for ``t < warmup``, then
    ``s(t - warmup)``: the wrapped schedule ``s`` starts when the warm-up ends.

    Parameters
    ----------
    schedule : Schedule or float
        The schedule after the warm-up (an epoch-indexed one: not :class:`ReduceOnPlateau`);
        a number means :class:`Constant`.
    warmup : int or float
        Epochs of warm-up, > 0.
    start_factor : float, default 0.0
        Fraction of ``s(0)`` at ``t = 0``, in [0, 1].
    """

    def __init__(self, schedule, warmup, start_factor=0.0):
        if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool):
            schedule = Constant(schedule)
        if isinstance(schedule, ReduceOnPlateau) or not callable(schedule):
            raise TypeError(
                "schedule must be an epoch-indexed schedule (StepDecay, Cosine, ...) or a "
                f"number; got {schedule!r}"
            )
        self.schedule = schedule
        self.warmup = _real("warmup", warmup, 0.0, low_open=True)
        self.start_factor = _real("start_factor", start_factor, 0.0, 1.0)
        self.lr = float(schedule(0))

    def rate(self, t):
        if t < self.warmup:
            return self.lr * (self.start_factor + (1.0 - self.start_factor) * t / self.warmup)
        return self.schedule(t - self.warmup)

    def reset(self):
        reset = getattr(self.schedule, "reset", None)
        if callable(reset):
            reset()
        return self

    def _fields(self):
        return {"schedule": self.schedule, "warmup": self.warmup, "start_factor": self.start_factor}


class ReduceOnPlateau(Schedule):
    """Reduce the learning rate when a monitored metric stops improving.

    Fed one value per epoch with :meth:`step` (the Solver feeds it the validation accuracy of
    each epoch's check); ``schedule(t)`` returns the current rate whatever ``t``. The rules are
    those of PyTorch's ``ReduceLROnPlateau``:

    * ``metric`` improves on ``best`` when ``metric > best * (1 + threshold)`` (mode 'max',
      threshold_mode 'rel'), ``metric > best + threshold`` ('max', 'abs'),
      ``metric < best * (1 - threshold)`` ('min', 'rel') or ``metric < best - threshold``
      ('min', 'abs'); then ``best = metric`` and the count of bad epochs is reset to 0,
      otherwise it grows by one;
    * during the ``cooldown`` epochs after a reduction, bad epochs are not counted;
    * when the count of bad epochs exceeds ``patience``, ``lr = max(lr * factor, min_lr)``, the
      count is reset and the cooldown starts.

    Parameters
    ----------
    lr : float
        Initial learning rate, > 0.
    mode : {"max", "min"}, default "max"
        "max" for an accuracy, "min" for a loss.
    factor : float, default 0.1
        In (0, 1).
    patience : int, default 10
        Bad epochs tolerated before a reduction, >= 0.
    threshold : float, default 1e-4
        Smallest improvement that counts, >= 0.
    threshold_mode : {"rel", "abs"}, default "rel"
    cooldown : int, default 0
        Epochs after a reduction during which bad epochs are not counted, >= 0.
    min_lr : float, default 0.0
        Lower bound of the rate, in [0, lr].

    Attributes
    ----------
    current_lr : float
        The rate now (what ``schedule(t)`` returns).
    best : float
        The best metric seen.
    num_bad_epochs : int
    history : list of float
        The metrics given to :meth:`step`.

    Examples
    --------
    >>> from cs231n_fast.schedules import ReduceOnPlateau
    >>> s = ReduceOnPlateau(0.1, factor=0.5, patience=1)
    >>> [s.step(acc) for acc in (0.5, 0.6, 0.6, 0.6, 0.6)]
    [0.1, 0.1, 0.1, 0.05, 0.05]
    """

    def __init__(self, lr, mode="max", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0):
        self.lr = _lr(lr)
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min'; got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs'; got {threshold_mode!r}")
        self.mode = mode
        self.threshold_mode = threshold_mode
        self.factor = _real("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
        self.patience = _count("patience", patience, 0)
        self.threshold = _real("threshold", threshold, 0.0)
        self.cooldown = _count("cooldown", cooldown, 0)
        self.min_lr = _real("min_lr", min_lr, 0.0, self.lr)
        self.reset()

    def reset(self):
        """Back to the initial rate, no metric seen; returns the schedule."""
        self.current_lr = self.lr
        self.best = -math.inf if self.mode == "max" else math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.history = []
        return self

    def _improves(self, metric):
        rel = self.threshold_mode == "rel"
        t, best = self.threshold, self.best
        if self.mode == "max":
            return metric > (best * (1.0 + t) if rel else best + t)
        return metric < (best * (1.0 - t) if rel else best - t)

    def step(self, metric):
        """Record one epoch's ``metric`` (a finite number); returns the rate for the next epoch."""
        metric = _real("metric", metric)
        self.history.append(metric)
        if self._improves(metric):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self.current_lr = max(self.current_lr * self.factor, self.min_lr)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.current_lr

    def rate(self, t):
        return self.current_lr

    def _fields(self):
        return {"lr": self.lr, "mode": self.mode, "factor": self.factor,
                "patience": self.patience, "threshold": self.threshold,
                "threshold_mode": self.threshold_mode, "cooldown": self.cooldown,
                "min_lr": self.min_lr}
