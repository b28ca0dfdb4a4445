"""Drop-in for the course's ``cs231n/captioning_solver.py`` (assignment 3).

Same class, constructor options and defaults, attributes, methods and printed lines as the
course's ``CaptioningSolver``; it trains :class:`cs231n_fast.classifiers.rnn.CaptioningRNN`
(or any model with ``params`` and ``loss(features, captions)``) on the dict
:func:`cs231n_fast.coco_utils.load_coco_data` returns, with the update rules of
:mod:`cs231n_fast.optim`. Differences, all in the user's favour:

* options and data are checked up front: an unknown option, a missing data key, a
  non-positive ``batch_size``/``num_epochs`` (or ``print_every`` when verbose) or a model without
  ``params``/``loss`` raise ``ValueError``/``TypeError`` naming them;
* ``seed=`` (keyword) makes a run reproducible: minibatches then come from a private
  ``np.random.Generator`` instead of NumPy's global state;
* ``update_rule`` may also be a callable ``rule(w, dw, config) -> (next_w, config)``; each
  parameter gets a deep copy of ``optim_config`` (the course's shallow copy shares arrays
  placed in it);
* ``verbose`` also shows a progress bar of each epoch on stderr, as :class:`~cs231n_fast.solver.Solver`.

As in the course, ``check_accuracy`` is a placeholder returning 0.0 and ``train`` does not
check accuracies (``train_acc_history``/``val_acc_history`` stay empty, ``best_params`` is
``{}``): the notebooks judge a captioning model by its loss and its sampled captions.
"""

import copy
import sys
from collections.abc import Mapping

import numpy as np

from ._validation import make_rng, positive_int
from .coco_utils import sample_coco_minibatch
from .solver import _check_model as _check_model_api
from .solver import _EpochProgress, _check_lr_decay, _check_print_every, _resolve_update_rule

__all__ = ["CaptioningSolver", "sample_coco_minibatch"]

#: The course's options and defaults, in the course's order (``seed`` is ours).
_DEFAULTS = {
    "update_rule": "sgd",
    "optim_config": {},
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "print_every": 10,
    "verbose": True,
    "seed": None,
}

_DATA_KEYS = ("train_captions", "train_image_idxs", "train_features", "train_urls")


def _check_model(model):
    try:
        _check_model_api(model)
    except TypeError as exc:
        raise TypeError(str(exc).replace("loss(X, y=None)", "loss(features, captions)")) from None


class CaptioningSolver:
    """
    A CaptioningSolver encapsulates all the logic necessary for training
    image captioning models. The CaptioningSolver performs stochastic gradient
    descent using different update rules defined in optim.py.

    To train a model, you will first construct a CaptioningSolver instance,
    passing the model, dataset, and various options (learning rate, batch size,
    etc) to the constructor. You will then call the train() method to run the
    optimization procedure and train the model.

    After the train() method returns, model.params holds the trained parameters
    and the instance variable solver.loss_history contains a list of all losses
    encountered during training.

    Example usage might look something like this::

        data = load_coco_data()
        model = MyAwesomeModel(hidden_dim=100)
        solver = CaptioningSolver(model, data,
                        update_rule='sgd',
                        optim_config={
                          'learning_rate': 1e-3,
                        },
                        lr_decay=0.95,
                        num_epochs=10, batch_size=100,
                        print_every=100)
        solver.train()

    A CaptioningSolver works on a model object that must conform to the following
    API:

    - model.params must be a dictionary mapping string parameter names to numpy
      arrays containing parameter values.

    - model.loss(features, captions) must be a function that computes
      training-time loss and gradients, with the following inputs and outputs:

      Inputs:
      - features: Array giving a minibatch of features for images, of shape (N, D)
      - captions: Array of captions for those images, of shape (N, T) where
        each element is in the range [0, V).

      Returns:
      - loss: Scalar giving the loss
      - grads: Dictionary with the same keys as self.params mapping parameter
        names to gradients of the loss with respect to those parameters.

    Parameters
    ----------
    model : object
        A model object conforming to the API described above.
    data : dict
        A dictionary of training and validation data from load_coco_data; training reads
        ``train_captions``, ``train_image_idxs``, ``train_features`` and ``train_urls``.
    update_rule : str or callable, default 'sgd'
        A string giving the name of an update rule in optim.py (or the rule itself).
    optim_config : dict, default {}
        A dictionary containing hyperparameters that will be passed to the chosen update
        rule. Each update rule requires different hyperparameters (see optim.py) but all
        update rules require a 'learning_rate' parameter so that should always be present.
    lr_decay : float, default 1.0
        A scalar for learning rate decay; after each epoch the learning rate is multiplied
        by this value.
    batch_size : int, default 100
        Size of minibatches used to compute loss and gradient during training.
    num_epochs : int, default 10
        The number of epochs to run for during training.
    print_every : int, default 10
        Training losses will be printed every print_every iterations.
    verbose : bool, default True
        If set to false then no output will be printed during training.
    seed : int or None, default None, keyword-only
        If given, minibatches are drawn from ``np.random.default_rng(seed)`` (re-created by
        ``_reset``); None draws from ``np.random`` as the course does.

    Raises
    ------
    ValueError
        "Unrecognized arguments" listing unknown options; an unknown ``update_rule``; a
        missing data key; ``batch_size`` or ``num_epochs`` < 1 (``print_every`` too when
        verbose, as ``Solver``); ``lr_decay`` not a finite number >= 0; a negative ``seed``.
    TypeError
        A model without ``params`` (dict) or ``loss``; ``data`` or ``optim_config`` not a
        dict; non-integer counts or ``seed``.

    Attributes
    ----------
    epoch : int
        Epochs completed.
    loss_history : list
        The loss of every iteration.
    train_acc_history, val_acc_history : list
        Empty, as in the course.
    best_val_acc : float
        0, as in the course.
    best_params : dict
        Empty, as in the course.
    optim_configs : dict
        The update rule's config (and state) of each parameter.
    """

    def __init__(self, model, data, **kwargs):
        """
        Construct a new CaptioningSolver instance; see the class docstring for the arguments.
        """
        _check_model(model)
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a dict from load_coco_data; got {type(data).__name__}")
        missing = [k for k in _DATA_KEYS if k not in data]
        if missing:
            raise ValueError(
                f"data is missing key '{missing[0]}' (has {sorted(map(str, data))}); pass the "
                "dict load_coco_data returns"
            )
        captions = data["train_captions"]
        if np.ndim(captions) != 2 or np.shape(captions)[0] == 0:
            raise ValueError(
                "data['train_captions'] must be an array of shape (N, T) with N >= 1; got shape "
                f"{np.shape(captions)}"
            )
        self.model = model
        self.data = data

        # Throw an error if there are extra keyword arguments
        extra = [k for k in kwargs if k not in _DEFAULTS]
        if extra:
            raise ValueError("Unrecognized arguments %s" % ", ".join('"%s"' % k for k in extra))
        options = {**_DEFAULTS, **kwargs}

        optim_config = options["optim_config"]
        if not isinstance(optim_config, Mapping):
            raise TypeError(f"optim_config must be a dict; got {type(optim_config).__name__}")
        self.optim_config = optim_config
        self.lr_decay = _check_lr_decay(options["lr_decay"])
        self.batch_size = positive_int("batch_size", options["batch_size"])
        self.num_epochs = positive_int("num_epochs", options["num_epochs"])
        self.verbose = bool(options["verbose"])
        self.print_every = _check_print_every(options["print_every"], self.verbose)
        self.seed = options["seed"]
        make_rng(self.seed)  # check it now, not at the first step

        # Make sure the update rule exists, then replace the string
        # name with the actual function
        self.update_rule = _resolve_update_rule(options["update_rule"])

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
        self.optim_configs = {p: copy.deepcopy(dict(self.optim_config)) for p in self.model.params}

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
        minibatch = sample_coco_minibatch(
            self.data, batch_size=self.batch_size, split="train", rng=self._rng
        )
        captions, features, urls = minibatch

        # Compute loss and gradient
        loss, grads = self.model.loss(features, captions)
        self.loss_history.append(loss)

        # Perform a parameter update
        missing = [p for p in self.model.params if p not in grads]
        if missing:
            raise ValueError(
                f"model.loss returned no gradient for parameter(s) {missing}; grads must have "
                "the keys of model.params"
            )
        for p, w in self.model.params.items():
            dw = grads[p]
            config = self.optim_configs[p]
            next_w, next_config = self.update_rule(w, dw, config)
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """
        Check accuracy of the model on the provided data.

        A placeholder, as in the course (whose code after its ``return 0.0`` never runs):
        captioning has no single right answer to count.

        Returns
        -------
        acc : float
            0.0.
        """
        return 0.0

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

    def train(self):
        """
        Run optimization to train the model.
        """
        num_train = self.data["train_captions"].shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        if self.verbose:
            self._progress = _EpochProgress(sys.stderr, self.num_epochs, iterations_per_epoch)
        try:
            for t in range(num_iterations):
                self._step()

                # Maybe print training loss
                if self.verbose and t % self.print_every == 0:
                    self._print(
                        "(Iteration %d / %d) loss: %f"
                        % (t + 1, num_iterations, self.loss_history[-1])
                    )
                if self._progress is not None:
                    self._progress.update(self.epoch + 1, t % iterations_per_epoch + 1)

                # At the end of every epoch, increment the epoch counter and decay the
                # learning rate.
                epoch_end = (t + 1) % iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    self._decay_learning_rates()
        finally:
            if self._progress is not None:
                self._progress.clear()
                self._progress = None
