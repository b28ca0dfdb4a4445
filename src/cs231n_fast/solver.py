"""Drop-in for the course's ``cs231n/solver.py`` (assignments 2 and 3).

Same class, constructor options and defaults, methods, attributes, printed lines and
checkpoint format as the course's ``Solver``. Differences, all in the user's favour:

* options and data are checked up front: an unknown option, a missing data key, a length
  mismatch between images and labels, a non-positive ``batch_size``/``num_epochs`` or a model
  without ``params``/``loss`` raise ``ValueError``/``TypeError`` naming them;
* ``seed=`` (keyword) makes a run reproducible: minibatches and accuracy subsamples then come
  from a private ``np.random.Generator`` instead of NumPy's global state;
* ``update_rule`` may also be a callable ``rule(w, dw, config) -> (next_w, config)``;
* a run never loses the best parameters it has seen: ``best_params`` holds copies (an update
  rule that writes into its weights cannot alter them), the parameters of the first check are
  kept even when no validation accuracy exceeds 0 (the course then ends with empty
  ``params``), and the model gets copies of ``best_params`` at the end of ``train()``;
* ``verbose`` also shows a progress bar of each epoch on stderr (redrawn in place on a
  terminal, one line per epoch otherwise);
* checkpoints are written to a temporary file first and then renamed, so an interrupted run
  never leaves a truncated ``.pkl``.

Options beyond the course (all off by default; without them a run is the course's, number for
number): ``lr_schedule=`` (a schedule of :mod:`cs231n_fast.schedules`), ``max_norm=`` (the
max-norm constraint of :mod:`cs231n_fast.regularization` after every update), ``average=``
and ``ema_decay=`` (Polyak or exponential averaging of the parameters,
:class:`cs231n_fast.ensemble.ParameterAverage`). Every run records the learning rate of each
epoch in ``lr_history``.
"""

import copy
import math
import numbers
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np

from . import optim
from .ensemble import ParameterAverage
from .regularization import layer_max_norm_axes, max_norm_, max_norm_axis
from ._validation import check_ndim, make_rng, positive_int

__all__ = ["Solver"]

#: The course's options and defaults, in the course's order.
_DEFAULTS = {
    "update_rule": "sgd",
    "optim_config": {},
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "print_every": 10,
    "verbose": True,
    "seed": None,
    # beyond the course (see the class docstring)
    "lr_schedule": None,
    "max_norm": None,
    "average": None,
    "ema_decay": 0.999,
}


def _check_lr_decay(lr_decay):
    """``lr_decay`` as the course's solvers use it: any finite real >= 0 (0 stops after an epoch)."""
    if (
        isinstance(lr_decay, (bool, np.bool_))
        or not isinstance(lr_decay, numbers.Real)
        or not (math.isfinite(lr_decay) and lr_decay >= 0)
    ):
        raise ValueError(f"lr_decay must be a finite number >= 0; got {lr_decay!r}")
    return lr_decay


def _check_print_every(print_every, verbose):
    """Checked only when verbose: the course's quiet runs never divide by it."""
    return positive_int("print_every", print_every) if verbose else print_every


def _resolve_update_rule(update_rule):
    """The update function for a name in :mod:`cs231n_fast.optim`, or a callable as is."""
    if callable(update_rule):
        return update_rule
    if not isinstance(update_rule, str):
        raise TypeError(
            f"update_rule must be the name of an update rule in optim or a callable; got "
            f"{update_rule!r}"
        )
    try:
        return optim.get_update_rule(update_rule)
    except ValueError as exc:
        raise ValueError(f'Invalid update_rule "{update_rule}" ({exc})') from None


def _check_lr_schedule(lr_schedule, lr_decay):
    if lr_schedule is None:
        return None
    if not callable(lr_schedule):
        raise TypeError(
            "lr_schedule must be a schedule of cs231n_fast.schedules or a callable "
            f"epoch -> learning rate; got {lr_schedule!r}"
        )
    if lr_decay != 1.0:
        raise ValueError(
            f"give either lr_decay (got {lr_decay}) or lr_schedule, not both: use "
            "schedules.ExponentialDecay(lr, gamma=lr_decay) for the decay"
        )
    return lr_schedule


def _check_max_norm(c):
    if c is None:
        return None
    if isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Real) or not (
        math.isfinite(c) and c > 0
    ):
        raise ValueError(f"max_norm must be None or a finite number > 0; got {c!r}")
    return float(c)


def _learning_rate(name, lr):
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real) or not (
        math.isfinite(lr) and lr >= 0
    ):
        raise ValueError(f"{name} must return a finite learning rate >= 0; got {lr!r}")
    return float(lr)


def _optional_count(name, value):
    return None if value is None else positive_int(name, value)


def _check_model(model):
    params = getattr(model, "params", None)
    if not isinstance(params, dict):
        raise TypeError(
            "model must have a dict attribute params (parameter name -> array), as the course's "
            f"models do; got {type(model).__name__} with params {type(params).__name__}"
        )
    if not callable(getattr(model, "loss", None)):
        raise TypeError(
            f"model must have a method loss(X, y=None); {type(model).__name__} has none"
        )


def _labels(name, y, n):
    """``y`` as a 1-D array of ``n`` real labels.

    The Solver itself only indexes the labels and compares them with predicted classes, so it
    takes any real dtype (ints of any width, or floats holding class numbers), as the course's
    does; whether the values suit the model is for ``model.loss`` to check. A length other
    than ``n`` or another ndim (an (N, 1) or one-hot y would broadcast in the accuracy) raise.
    """
    try:
        y = np.asarray(y)
    except Exception as exc:
        raise TypeError(f"{name} must be an array of labels: {exc}") from None
    if y.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold numeric class labels; got dtype {y.dtype}")
    check_ndim(name, y, 1, "(N,)")
    if y.shape[0] != n:
        raise ValueError(f"{name} must have one label per sample ({n}); got {y.shape[0]}")
    return y


def _split(data, split):
    """``data['X_<split>'], data['y_<split>']`` as arrays of matching length (no copies)."""
    X_key, y_key = f"X_{split}", f"y_{split}"
    for key in (X_key, y_key):
        if key not in data:
            raise ValueError(f"data is missing key '{key}' (has {sorted(map(str, data))})")
    X = np.asarray(data[X_key])
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(
            f"data['{X_key}'] must be an array of shape (N, ...) with N >= 1; got {X.shape}"
        )
    return X, _labels(f"data['{y_key}']", data[y_key], X.shape[0])


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class _EpochProgress:
    """A text progress bar for one epoch at a time on ``stream`` (stderr).

    On a terminal the bar is redrawn in place with ``\\r`` (at most every 0.1 s) and stays as a
    finished line at the end of the epoch; elsewhere (a file, a pipe, a notebook) only the
    finished line is written, once per epoch.
    """

    WIDTH = 30
    REDRAW_SECONDS = 0.1

    def __init__(self, stream, num_epochs, iterations_per_epoch):
        self.stream = stream
        self.tty = _isatty(stream)
        self.num_epochs = num_epochs
        self.total = iterations_per_epoch
        self.start = self.last_draw = time.perf_counter()
        self.drawn = 0  # length of the partial bar on screen, 0 when none

    def _line(self, epoch, done):
        filled = self.WIDTH * done // self.total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = time.perf_counter() - self.start
        return f"epoch {epoch} / {self.num_epochs} [{bar}] {done}/{self.total} it, {elapsed:.1f}s"

    def update(self, epoch, done):
        """Show that ``done`` of the iterations of ``epoch`` (counted from 1) have run."""
        now = time.perf_counter()
        if done == self.total:
            line = self._line(epoch, done)
            prefix = "\r" if self.drawn else ""
            self.stream.write(f"{prefix}{line}\n")
            self.stream.flush()
            self.drawn = 0
            self.start = self.last_draw = now
        elif self.tty and (not self.drawn or now - self.last_draw >= self.REDRAW_SECONDS):
            line = self._line(epoch, done)
            self.stream.write(f"\r{line}")
            self.stream.flush()
            self.drawn, self.last_draw = len(line), now

    def clear(self):
        """Erase a partial bar so a line printed to the same terminal starts clean."""
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0


class Solver:
    """
    A Solver encapsulates all the logic necessary for training classification
    models. The Solver performs stochastic gradient descent using different
    update rules defined in optim.py.

    The solver accepts both training and validation data and labels so it can
    periodically check classification accuracy on both training and validation
    data to watch out for overfitting.

    To train a model, you will first construct a Solver instance, passing the
    model, dataset, and various options (learning rate, batch size, etc) to the
    constructor. You will then call the train() method to run the optimization
    procedure and train the model.

    After the train() method returns, model.params will contain the parameters
    that performed best on the validation set over the course of training.
    In addition, the instance variable solver.loss_history will contain a list
    of all losses encountered during training and the instance variables
    solver.train_acc_history and solver.val_acc_history will be lists of the
    accuracies of the model on the training and validation set at each epoch.

    Example usage might look something like this::

        data = {
          'X_train': # training data
          'y_train': # training labels
          'X_val': # validation data
          'y_val': # validation labels
        }
        model = MyAwesomeModel(hidden_size=100, reg=10)
        solver = Solver(model, data,
                        update_rule='sgd',
                        optim_config={
                          'learning_rate': 1e-4,
                        },
                        lr_decay=0.95,
                        num_epochs=5, batch_size=200,
                        print_every=100)
        solver.train()

    A Solver works on a model object that must conform to the following API:

    - model.params must be a dictionary mapping string parameter names to numpy
      arrays containing parameter values.

    - model.loss(X, y) must be a function that computes training-time loss and
      gradients, and test-time classification scores, with the following inputs
      and outputs:

      Inputs:

      - X: Array giving a minibatch of input data of shape (N, d_1, ..., d_k)
      - y: Array of labels, of shape (N,) giving labels for X where y[i] is the
        label for X[i].

      Returns:
      If y is None, run a test-time forward pass and return:

      - scores: Array of shape (N, C) giving classification scores for X where
        scores[i, c] gives the score of class c for X[i].

      If y is not None, run a training time forward and backward pass and
      return a tuple of:

      - loss: Scalar giving the loss
      - grads: Dictionary with the same keys as self.params mapping parameter
        names to gradients of the loss with respect to those parameters.

    Parameters
    ----------
    model : object
        A model object conforming to the API described above.
    data : dict
        A dictionary of training and validation data containing:
        'X_train': Array, shape (N_train, d_1, ..., d_k) of training images
        'X_val': Array, shape (N_val, d_1, ..., d_k) of validation images
        'y_train': Array, shape (N_train,) of labels for training images
        'y_val': Array, shape (N_val,) of labels for validation images
        Other keys (e.g. 'X_test') are ignored. The arrays are used as they are, not copied.
    update_rule : str or callable, default 'sgd'
        A string giving the name of an update rule in optim.py (or the rule itself).
    optim_config : dict, default {}
        A dictionary containing hyperparameters that will be passed to the chosen update
        rule. Each update rule requires different hyperparameters (see optim.py) but all
        update rules require a 'learning_rate' parameter so that should always be present.
        Each parameter gets its own (deep) copy; the dict passed in is not modified.
    lr_decay : float, default 1.0
        A scalar for learning rate decay; after each epoch the learning rate is multiplied
        by this value (a finite number >= 0).
    batch_size : int, default 100
        Size of minibatches used to compute loss and gradient during training.
    num_epochs : int, default 10
        The number of epochs to run for during training.
    num_train_samples : int or None, default 1000
        Number of training samples used to check training accuracy; set to None to use
        the entire training set.
    num_val_samples : int or None, default None
        Number of validation samples to use to check val accuracy; None uses the entire
        validation set.
    checkpoint_name : str or os.PathLike or None, default None
        If not None, then save model checkpoints here every epoch, to
        ``f"{checkpoint_name}_epoch_{epoch}.pkl"``.
    print_every : int, default 10
        Training losses will be printed every print_every iterations (checked only when
        verbose).
    verbose : bool, default True
        If set to false then no output will be printed during training.
    seed : int or None, default None, keyword-only
        If given, minibatches and accuracy subsamples are drawn from
        ``np.random.default_rng(seed)`` (re-created by ``_reset``), so two runs from the
        same initial parameters give the same results. None uses ``np.random`` as the
        course does.
    lr_schedule : callable or None, default None, keyword-only
        Beyond the course: a schedule of :mod:`cs231n_fast.schedules` (or any callable
        ``epoch -> learning rate``). Every parameter's ``learning_rate`` is set to
        ``lr_schedule(0)`` at the start (overriding ``optim_config``'s) and to
        ``lr_schedule(e)`` after epoch ``e``. A schedule with a ``step(metric)`` method
        (:class:`~cs231n_fast.schedules.ReduceOnPlateau`) is instead given each epoch's
        validation accuracy and sets the next epoch's rate to what ``step`` returns. Not
        together with ``lr_decay`` != 1.
    max_norm : float or None, default None, keyword-only
        Beyond the course: after every update, each unit's incoming weight vector is rescaled
        to L2 norm at most ``max_norm`` (:mod:`cs231n_fast.regularization`): the columns of
        affine weights ``W*`` (D, M), each filter of conv weights (F, C, HH, WW), each piece's
        column of Maxout weights; parameters whose name (after the last ``.``) does not start
        with ``W``/``w`` (biases, ``gamma``, ``beta``) are untouched. Axes a layer declares
        (``max_norm_axes``) come first: each output channel ``w[:, f]`` of a
        ``ConvTranspose2D``, each row of an ``Embedding``.
    average : {None, "polyak", "ema"}, default None, keyword-only
        Beyond the course: keep a running average of the parameters after every update
        (:class:`~cs231n_fast.ensemble.ParameterAverage`). The epoch checks then evaluate the
        *averaged* parameters (``train_acc_history``, ``val_acc_history``), ``best_params``
        are copies of the averaged parameters of the best check, and the model ends with
        them. Batch-normalisation running statistics are not averaged (they come from the
        raw trajectory).
    ema_decay : float, default 0.999, keyword-only
        The decay of ``average="ema"``, in [0, 1).

    Raises
    ------
    ValueError
        "Unrecognized arguments" listing unknown options; an unknown ``update_rule``; a
        missing data key; labels that are not 1-D or whose number differs from the images';
        ``batch_size``, ``num_epochs``, a sample count or (when verbose) ``print_every`` < 1;
        ``lr_decay`` not a finite number >= 0; a negative ``seed``; ``lr_schedule`` with
        ``lr_decay`` != 1; ``max_norm`` not a finite number > 0; an unknown ``average`` or an
        ``ema_decay`` outside [0, 1).
    TypeError
        A model without ``params`` (dict) or ``loss``; ``data`` or ``optim_config`` not a
        dict; non-integer counts or ``seed``; non-numeric labels.

    Attributes
    ----------
    epoch : int
        Epochs completed.
    loss_history : list
        The loss of every iteration.
    train_acc_history, val_acc_history : list of float
        Accuracies at each check (first iteration, end of each epoch, last iteration).
    best_val_acc : float
        The best validation accuracy seen.
    best_params : dict
        Copies of the parameters at that check.
    optim_configs : dict
        The update rule's config (and state) of each parameter.
    lr_history : list of float
        The learning rate of each epoch (``lr_history[e]``: during epoch ``e + 1``), read from
        the first parameter's config at the end of the epoch (None if it has none).
    averaged_params : dict or None
        The averaged parameters (``average=``), None without averaging.
    """

    def __init__(self, model, data, **kwargs):
        """
        Construct a new Solver instance; see the class docstring for the arguments.
        """
        _check_model(model)
        if not isinstance(data, Mapping):
            raise TypeError(
                "data must be a dict with keys X_train, y_train, X_val, y_val; got "
                f"{type(data).__name__}"
            )
        self.model = model
        self.X_train, self.y_train = _split(data, "train")
        self.X_val, self.y_val = _split(data, "val")

        # Throw an error if there are extra keyword arguments
        extra = [k for k in kwargs if k not in _DEFAULTS]
        if extra:
            raise ValueError("Unrecognized arguments %s" % ", ".join('"%s"' % k for k in extra))
        options = {**_DEFAULTS, **kwargs}

        optim_config = options["optim_config"]
        if not isinstance(optim_config, Mapping):
            raise TypeError(f"optim_config must be a dict; got {type(optim_config).__name__}")
        self.optim_config = copy.deepcopy(dict(optim_config))
        self.lr_decay = _check_lr_decay(options["lr_decay"])
        self.batch_size = positive_int("batch_size", options["batch_size"])
        self.num_epochs = positive_int("num_epochs", options["num_epochs"])
        self.num_train_samples = _optional_count("num_train_samples", options["num_train_samples"])
        self.num_val_samples = _optional_count("num_val_samples", options["num_val_samples"])
        checkpoint_name = options["checkpoint_name"]
        if checkpoint_name is not None and not isinstance(checkpoint_name, (str, os.PathLike)):
            raise TypeError(f"checkpoint_name must be None or a path; got {checkpoint_name!r}")
        self.checkpoint_name = checkpoint_name
        self.verbose = bool(options["verbose"])
        self.print_every = _check_print_every(options["print_every"], self.verbose)
        self.seed = options["seed"]
        make_rng(self.seed)  # check it now, not at the first step

        # Make sure the update rule exists, then replace the string
        # name with the actual function
        self.update_rule = _resolve_update_rule(options["update_rule"])

        # Beyond the course: schedules, max-norm, parameter averaging
        self.lr_schedule = _check_lr_schedule(options["lr_schedule"], self.lr_decay)
        self.max_norm = _check_max_norm(options["max_norm"])
        average = options["average"]
        if average is None:
            ParameterAverage("ema", options["ema_decay"])  # checks ema_decay
            self._averager = None
        else:
            self._averager = ParameterAverage(average, options["ema_decay"])
        self.average = average
        self.ema_decay = self._averager.decay if average is not None else options["ema_decay"]

        self._progress = None
        self._reset()

    def _reset(self):
        """
        Set up some book-keeping variables for optimization. Don't call this
        manually.
        """
        # Set up some variables for book-keeping
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self._rng = None if self.seed is None else make_rng(self.seed)

        # Make a deep copy of the optim_config for each parameter
        self.optim_configs = {p: copy.deepcopy(self.optim_config) for p in self.model.params}

        # Beyond the course: the learning rate of each epoch, the schedule's first rate, the
        # parameter average
        self.lr_history = []
        if self.lr_schedule is not None:
            reset = getattr(self.lr_schedule, "reset", None)
            if callable(reset):
                reset()
            self._set_learning_rate(self.lr_schedule(0))
        if self._averager is not None:
            self._averager.reset()

    def _set_learning_rate(self, lr):
        """Every parameter's learning rate := ``lr`` (from ``lr_schedule``)."""
        lr = _learning_rate("lr_schedule", lr)
        for config in self.optim_configs.values():
            config["learning_rate"] = lr

    def _current_learning_rate(self):
        """The learning rate in the first parameter's config (None if it has none)."""
        for config in self.optim_configs.values():
            return config.get("learning_rate")
        return None

    @property
    def averaged_params(self):
        """The averaged parameters (``average=``): new arrays; None without averaging."""
        return None if self._averager is None else self._averager.params

    @contextmanager
    def _params_swapped(self, new):
        """The model runs with the parameters ``new`` inside the block, its own after it."""
        params = self.model.params
        current = {k: params[k] for k in new}
        for k, v in new.items():
            self.model.params[k] = v
        try:
            yield
        finally:
            for k, v in current.items():
                self.model.params[k] = v

    def _choice(self, n, size):
        """``size`` indices drawn with replacement from ``range(n)``, as ``np.random.choice``."""
        return (np.random if self._rng is None else self._rng).choice(n, size)

    def _print(self, message):
        if self._progress is not None:
            self._progress.clear()
        print(message, flush=True)

    def _step(self):
        """
        Make a single gradient update. This is called by train() and should not
        be called manually.
        """
        # Make a minibatch of training data
        num_train = self.X_train.shape[0]
        batch_mask = self._choice(num_train, self.batch_size)
        X_batch = self.X_train[batch_mask]
        y_batch = self.y_train[batch_mask]

        # Compute loss and gradient
        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(loss)

        # Perform a parameter update
        missing = [p for p in self.model.params if p not in grads]
        if missing:
            raise ValueError(
                f"model.loss returned no gradient for parameter(s) {missing}; grads must have "
                "the keys of model.params"
            )
        # axes declared by the layers (transposed convolutions, embeddings) before the name rule
        declared = layer_max_norm_axes(self.model) if self.max_norm is not None else {}
        for p, w in self.model.params.items():
            dw = grads[p]
            config = self.optim_configs[p]
            next_w, next_config = self.update_rule(w, dw, config)
            if self.max_norm is not None:
                axis = declared[p] if p in declared else max_norm_axis(p, next_w)
                if axis is not None:
                    next_w = np.asarray(next_w)
                    if not next_w.flags.writeable:
                        next_w = next_w.copy()
                    max_norm_(next_w, self.max_norm, axis)
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config
        if self._averager is not None:
            self._averager.update(self.model.params)

    def _decay_learning_rates(self):
        """Multiply every parameter's learning rate by ``lr_decay`` (end of an epoch)."""
        if self.lr_decay == 1.0:
            return
        for p, config in self.optim_configs.items():
            if "learning_rate" not in config:
                raise ValueError(
                    f"lr_decay = {self.lr_decay} needs a 'learning_rate' in the config of "
                    f"parameter {p!r}; the update rule did not set one (keys: {sorted(config)})"
                )
            config["learning_rate"] *= self.lr_decay

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = "%s_epoch_%d.pkl" % (os.fspath(self.checkpoint_name), self.epoch)
        if self.verbose:
            self._print('Saving checkpoint to "%s"' % filename)
        directory = os.path.dirname(os.path.abspath(filename))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(filename), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(checkpoint, f)
            os.replace(tmp, filename)
        except BaseException:
            os.unlink(tmp)
            raise

    def check_accuracy(self, X, y, num_samples=None, batch_size=100, *, averaged=False):
        """
        Check accuracy of the model on the provided data.

        Inputs:

        - X: Array of data, of shape (N, d_1, ..., d_k)
        - y: Array of labels, of shape (N,)
        - num_samples: If not None, subsample the data and only test the model
          on num_samples datapoints (drawn with replacement, as the course does).
        - batch_size: Split X and y into batches of this size to avoid using
          too much memory.
        - averaged (keyword-only, beyond the course): evaluate the averaged parameters
          (``average=``) instead of the model's own; ValueError without averaging.

        Returns:

        - acc: Scalar giving the fraction of instances that were correctly
          classified by the model.
        """
        num_samples = _optional_count("num_samples", num_samples)
        batch_size = positive_int("batch_size", batch_size)
        if averaged:
            if self._averager is None:
                raise ValueError("averaged=True needs a Solver made with average='polyak' or 'ema'")
            if self._averager.count:
                with self._params_swapped(self._averager.params):
                    return self.check_accuracy(X, y, num_samples, batch_size)
        X = np.asarray(X)
        if X.ndim == 0 or X.shape[0] == 0:
            raise ValueError(f"X must be an array of shape (N, ...) with N >= 1; got {X.shape}")
        y = _labels("y", y, X.shape[0])

        # Maybe subsample the data
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = self._choice(N, num_samples)
            N = num_samples
            X = X[mask]
            y = y[mask]

        # Compute predictions in batches
        y_pred = []
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            y_pred.append(np.argmax(scores, axis=1))
        y_pred = np.hstack(y_pred)
        return float(np.mean(y_pred == y))

    def train(self):
        """
        Run optimization to train the model.
        """
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        if self.verbose:
            self._progress = _EpochProgress(sys.stderr, self.num_epochs, iterations_per_epoch)
        try:
            for t in range(num_iterations):
                self._iteration(t, num_iterations, iterations_per_epoch)
        finally:
            if self._progress is not None:
                self._progress.clear()
                self._progress = None

        # At the end of training swap the best params into the model (as copies, so that
        # training on cannot write into best_params)
        self.model.params = {k: v.copy() for k, v in self.best_params.items()}

    def _iteration(self, t, num_iterations, iterations_per_epoch):
        """Iteration ``t`` of :meth:`train`: one step, then the epoch's book-keeping."""
        self._step()

        # Maybe print training loss
        if self.verbose and t % self.print_every == 0:
            self._print(
                "(Iteration %d / %d) loss: %f" % (t + 1, num_iterations, self.loss_history[-1])
            )
        if self._progress is not None:
            self._progress.update(self.epoch + 1, t % iterations_per_epoch + 1)

        # At the end of every epoch, increment the epoch counter and decay
        # the learning rate.
        epoch_end = (t + 1) % iterations_per_epoch == 0
        if epoch_end:
            self.epoch += 1
            self.lr_history.append(self._current_learning_rate())
            if self.lr_schedule is None:
                self._decay_learning_rates()
            elif not callable(getattr(self.lr_schedule, "step", None)):
                self._set_learning_rate(self.lr_schedule(self.epoch))

        # Check train and val accuracy on the first iteration, the last
        # iteration, and at the end of each epoch.
        first_it = t == 0
        last_it = t == num_iterations - 1
        if first_it or last_it or epoch_end:
            averaged = self._averager is not None
            train_acc = self.check_accuracy(
                self.X_train, self.y_train, num_samples=self.num_train_samples, averaged=averaged
            )
            val_acc = self.check_accuracy(
                self.X_val, self.y_val, num_samples=self.num_val_samples, averaged=averaged
            )
            self.train_acc_history.append(train_acc)
            self.val_acc_history.append(val_acc)
            self._save_checkpoint()

            if self.verbose:
                self._print(
                    "(Epoch %d / %d) train acc: %f; val_acc: %f"
                    % (self.epoch, self.num_epochs, train_acc, val_acc)
                )

            # Keep track of the best model (and always keep the first, so that a run
            # whose validation accuracy never exceeds 0 still ends with parameters)
            if val_acc > self.best_val_acc or not self.best_params:
                self.best_val_acc = val_acc
                if averaged:
                    self.best_params = self._averager.params  # new arrays
                else:
                    self.best_params = {
                        k: np.array(v, copy=True) for k, v in self.model.params.items()
                    }

            # A metric-driven schedule (ReduceOnPlateau) gets the epoch's validation accuracy
            # and sets the rate of the next epoch
            step = getattr(self.lr_schedule, "step", None)
            if epoch_end and callable(step):
                self._set_learning_rate(step(val_acc))
