"""Training runs for ``cs231n-fast train``: datasets, models, defaults, timing and report lines.

Not a course module: this is the logic behind the command line's ``train`` subcommand, kept
here so that it can be imported and tested without parsing arguments. A run trains one of the
course's networks (:class:`~cs231n_fast.classifiers.cnn.ThreeLayerConvNet` or
:class:`~cs231n_fast.classifiers.fc_net.FullyConnectedNet`) with the course's
:class:`~cs231n_fast.solver.Solver` (Adam) on the embedded handwritten digits or on CIFAR-10,
times every epoch, and evaluates the best parameters on the test set::

    from cs231n_fast import training

    data = training.load_data("digits")
    model = training.build_model("convnet", "digits", data["X_train"].shape[1:], seed=0)
    d = training.DEFAULTS["digits"]
    with training.limit_threads(d.n_threads):
        result = training.train(model, data, epochs=d.epochs, batch_size=d.batch_size,
                                learning_rate=d.learning_rate, lr_decay=d.lr_decay)
    print(training.format_summary(result))

Defaults (:data:`DEFAULTS`, :data:`ARCHITECTURES`)
    digits: 10 epochs, batch size 50, Adam with learning rate 3e-3 decayed by 0.9 per epoch,
    one thread; the convnet has 32 3x3 filters and 100 hidden units, weight scale 0.1 (the
    end-to-end test of ``tests/test_networks.py``: about 0.97 validation accuracy in 1-2 s).
    CIFAR-10: the course's training cell of ``ConvolutionalNetworks.ipynb`` (one epoch, batch
    size 50, Adam with learning rate 1e-3; ``ThreeLayerConvNet(weight_scale=0.001,
    hidden_dim=500, reg=0.001)``, otherwise the class defaults: 32 7x7 filters), all usable
    CPUs. The fc model is ``FullyConnectedNet([100, 100], normalization="batchnorm")`` (weight
    scale 0.1 on the digits, 2e-2 on CIFAR-10, as the course's batch normalisation notebook).

Threads
    The digits are 8 x 8 images: every product in a step is tiny (the largest, the hidden
    layer's, multiplies 50 x 512 by 512 x 100), so a second BLAS or OpenMP thread costs more
    in hand-over than it saves. Measured on a 2-core machine shared with other jobs (load
    1-3): the default run takes 1.2-1.6 s on one thread and 18-43 s on two; BLAS and OpenMP
    both contribute (either alone at two threads makes it about 10x slower). Hence one
    thread by default for the digits. CIFAR-10 keeps the kernels' default (all usable CPUs)
    for its larger products, meant for an otherwise idle machine (not measured there); a step
    of CIFAR-10 size on the shared machine ran 3-4x faster on one thread, so try
    ``--threads 1`` when the cores are busy.

Timing
    An epoch's time is its wall time: the Solver's steps (forward, backward, update) plus the
    accuracy check at its end; the first epoch also includes the check before training. Its
    step time counts the steps alone; samples/s is the number of training images stepped
    through divided by the total step time. The backend comparison of ``--compare``
    (:func:`compare_backends`) runs after the main run, so that neither backend pays for
    first-call costs (imports, allocations, BLAS start-up) the other does not: it trains a
    fresh model for one epoch on each backend, with the same initial weights and minibatches,
    and compares the step times, best of :attr:`Defaults.compare_rounds` interleaved rounds
    (3 for the digits, whose epochs last a fraction of a second, 1 for CIFAR-10).
"""

import contextlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .classifiers.cnn import ThreeLayerConvNet
from .classifiers.fc_net import FullyConnectedNet
from .data import get_CIFAR10_data, get_digits_data, load_digits
from .solver import Solver

__all__ = [
    "DATASETS",
    "MODELS",
    "BACKENDS",
    "Defaults",
    "DEFAULTS",
    "ARCHITECTURES",
    "EpochStats",
    "TrainResult",
    "available_train",
    "load_data",
    "build_model",
    "limit_threads",
    "train",
    "compare_backends",
    "has_backends",
    "format_header",
    "format_epoch",
    "format_summary",
    "format_comparison",
]

DATASETS = ("digits", "cifar10")
MODELS = ("convnet", "fc")
BACKENDS = ("fast", "reference")


@dataclass(frozen=True)
class Defaults:
    """The training options a dataset uses unless told otherwise."""

    epochs: int
    batch_size: int
    learning_rate: float
    lr_decay: float
    #: BLAS and OpenMP threads; None keeps the kernels' default (all usable CPUs).
    n_threads: int | None
    #: Rounds of ``--compare`` (:func:`compare_backends`); each backend's best is kept.
    compare_rounds: int


DEFAULTS = {
    "digits": Defaults(epochs=10, batch_size=50, learning_rate=3e-3, lr_decay=0.9, n_threads=1,
                       compare_rounds=3),
    "cifar10": Defaults(epochs=1, batch_size=50, learning_rate=1e-3, lr_decay=1.0,
                        n_threads=None, compare_rounds=1),
}

#: (model, dataset) -> keyword arguments of the model's class besides input_dim, seed, backend.
ARCHITECTURES = {
    ("convnet", "digits"): dict(num_filters=32, filter_size=3, hidden_dim=100, weight_scale=0.1),
    ("convnet", "cifar10"): dict(weight_scale=1e-3, hidden_dim=500, reg=1e-3),
    ("fc", "digits"): dict(hidden_dims=[100, 100], normalization="batchnorm", weight_scale=0.1),
    ("fc", "cifar10"): dict(hidden_dims=[100, 100], normalization="batchnorm", weight_scale=2e-2),
}

#: Validation and test images of each dataset (the loaders' defaults).
_HELD_OUT = {"digits": (250, 250), "cifar10": (1000, 1000)}
_CIFAR10_TRAIN_IMAGES = 50_000


def _check_dataset(data_name):
    if data_name not in DATASETS:
        raise ValueError(f"data_name must be one of {DATASETS}; got {data_name!r}")


def available_train(data_name):
    """The number of training images of ``data_name`` (the most ``num_train`` can be).

    Digits: all 1797 images but the validation and test sets; CIFAR-10: the 50000 training
    images but the validation set. Nothing is read from disk.
    """
    _check_dataset(data_name)
    num_val, num_test = _HELD_OUT[data_name]
    if data_name == "digits":
        return load_digits()[1].shape[0] - num_val - num_test
    return _CIFAR10_TRAIN_IMAGES - num_val


def load_data(data_name, *, root=None, num_train=None):
    """The training, validation and test splits of a dataset, images as float32.

    Parameters
    ----------
    data_name : {"digits", "cifar10"}
        The embedded digits (:func:`~cs231n_fast.data.get_digits_data`, split with seed 0:
        1297 / 250 / 250 images of shape (1, 8, 8)) or CIFAR-10
        (:func:`~cs231n_fast.data.get_CIFAR10_data`: 49000 / 1000 / 1000 images of shape
        (3, 32, 32)).
    root : str or os.PathLike, optional
        The CIFAR-10 directory (default: ``CS231N_CIFAR10_ROOT``, else the course's
        ``cs231n/datasets/cifar-10-batches-py``). Not used for the digits.
    num_train : int, optional
        Keep only the first ``num_train`` training images (default: all of them).

    Returns
    -------
    data : dict
        ``X_train, y_train, X_val, y_val, X_test, y_test``; images float32, channels first,
        the training mean subtracted.

    Raises
    ------
    ValueError
        For an unknown ``data_name``, ``num_train`` < 1 or above :func:`available_train`; a
        damaged CIFAR-10 batch.
    FileNotFoundError
        If the CIFAR-10 directory or one of its batches does not exist (the message says how
        to download it).
    """
    _check_dataset(data_name)
    available = available_train(data_name)
    if num_train is not None and not 1 <= num_train <= available:
        raise ValueError(
            f"num_train must be between 1 and {available} (the {data_name} training images); "
            f"got {num_train}"
        )
    num_val, num_test = _HELD_OUT[data_name]
    if data_name == "digits":
        data = get_digits_data(num_validation=num_val, num_test=num_test, seed=0)
        if num_train is not None:  # the mean stays that of all training images
            data["X_train"] = data["X_train"][:num_train]
            data["y_train"] = data["y_train"][:num_train]
        return data
    data = get_CIFAR10_data(
        num_training=available if num_train is None else num_train,
        num_validation=num_val,
        num_test=num_test,
        root=root,
    )
    for split in ("train", "val", "test"):  # float64 from the loader; the models run float32
        data[f"X_{split}"] = data[f"X_{split}"].astype(np.float32)
    return data


def build_model(model_name, data_name, input_dim, *, backend="fast", seed=0):
    """A freshly initialised network for a dataset (:data:`ARCHITECTURES`), float32.

    Parameters
    ----------
    model_name : {"convnet", "fc"}
        :class:`~cs231n_fast.classifiers.cnn.ThreeLayerConvNet` or
        :class:`~cs231n_fast.classifiers.fc_net.FullyConnectedNet`.
    data_name : {"digits", "cifar10"}
        Whose architecture to use.
    input_dim : tuple (C, H, W)
        The shape of one image.
    backend : {"fast", "reference"}, keyword-only
        The convnet's conv and pool kernels (see :func:`has_backends`); the fc model has one.
    seed : int, keyword-only
        Seed of the initial weights.

    Raises
    ------
    ValueError
        For an unknown model, dataset or backend, or ``backend="reference"`` with the fc model.
    """
    _check_dataset(data_name)
    if model_name not in MODELS:
        raise ValueError(f"model_name must be one of {MODELS}; got {model_name!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    options = ARCHITECTURES[model_name, data_name]
    if model_name == "convnet":
        return ThreeLayerConvNet(tuple(input_dim), **options, seed=seed, backend=backend)
    if backend != "fast":
        raise ValueError(
            f"backend must be 'fast' for model_name 'fc', which has no convolution or pooling; "
            f"got {backend!r}"
        )
    return FullyConnectedNet(input_dim=math.prod(input_dim), **options, seed=seed)


def has_backends(model_name):
    """Whether the fast and reference backends run different code for ``model_name``.

    Only the convnet's convolution and pooling have two implementations; the fc model's
    affine, batch normalisation and ReLU layers are plain NumPy whatever the backend.
    """
    return model_name == "convnet"


def limit_threads(n_threads):
    """A context manager limiting every BLAS and OpenMP library to ``n_threads`` threads.

    None leaves the thread counts alone. Uses threadpoolctl, so it acts on the libraries
    already loaded (``import cs231n_fast`` loads the kernels' OpenMP runtime and NumPy's BLAS).
    """
    if n_threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads)


@dataclass(frozen=True)
class EpochStats:
    """One epoch of a run."""

    epoch: int  #: counted from 1
    num_epochs: int
    loss: float  #: mean training loss of the epoch's steps
    train_acc: float
    val_acc: float
    seconds: float  #: wall time: steps and the accuracy check(s)
    step_seconds: float  #: the steps alone


@dataclass
class TrainResult:
    """A finished run: the epochs, the best validation accuracy and the test accuracy."""

    epochs: list = field(default_factory=list)  #: EpochStats of each epoch
    best_val_acc: float = 0.0
    best_epoch: int = 0  #: 0 when the accuracy before training was never beaten
    test_acc: float | None = None  #: of the best parameters; None without a test set
    seconds: float = 0.0  #: wall time of training and testing
    samples: int = 0  #: training images stepped through (steps x batch size)

    @property
    def step_seconds(self):
        return sum(e.step_seconds for e in self.epochs)

    @property
    def samples_per_second(self):
        return self.samples / self.step_seconds if self.step_seconds > 0 else math.inf


class _EpochTimingSolver(Solver):
    """A :class:`Solver` that times each epoch and hands it to ``on_epoch`` as EpochStats.

    The course's printed lines (losses, accuracies) are dropped: the caller reports epochs
    itself. With ``verbose=True`` the Solver's progress bar (stderr) is kept.
    """

    def __init__(self, model, data, *, on_epoch, **options):
        self._on_epoch = on_epoch
        self._step_seconds = 0.0
        self._epoch_start = 0.0
        super().__init__(model, data, **options)

    def _print(self, message):
        pass

    def _step(self):
        start = time.perf_counter()
        super()._step()
        self._step_seconds += time.perf_counter() - start

    def _iteration(self, t, num_iterations, iterations_per_epoch):
        if t % iterations_per_epoch == 0:
            self._epoch_start, self._step_seconds = time.perf_counter(), 0.0
        epoch = self.epoch
        super()._iteration(t, num_iterations, iterations_per_epoch)
        if self.epoch > epoch:  # the epoch ended and its accuracies were checked
            self._on_epoch(
                EpochStats(
                    epoch=self.epoch,
                    num_epochs=self.num_epochs,
                    loss=float(np.mean(self.loss_history[-iterations_per_epoch:])),
                    train_acc=self.train_acc_history[-1],
                    val_acc=self.val_acc_history[-1],
                    seconds=time.perf_counter() - self._epoch_start,
                    step_seconds=self._step_seconds,
                )
            )


def train(model, data, *, epochs, batch_size, learning_rate, lr_decay=1.0, seed=0,
          progress=True, on_epoch=None):
    """Train ``model`` on ``data`` with the Solver (Adam), then test its best parameters.

    Parameters
    ----------
    model : object
        A course model (``params``, ``loss``); it ends with the best parameters.
    data : dict
        ``X_train, y_train, X_val, y_val`` and optionally ``X_test, y_test``.
    epochs, batch_size : int
    learning_rate : float
        Adam's learning rate, multiplied by ``lr_decay`` after every epoch.
    lr_decay : float, default 1.0
    seed : int, default 0
        Seed of the minibatches and of the training accuracy subsample (1000 images).
    progress : bool, default True
        Show the Solver's progress bar on stderr.
    on_epoch : callable, optional
        Called with the :class:`EpochStats` of each epoch when it ends.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError, TypeError
        As :class:`~cs231n_fast.solver.Solver` for bad options or data.
    """
    result = TrainResult()

    def record(stats):
        result.epochs.append(stats)
        if on_epoch is not None:
            on_epoch(stats)

    start = time.perf_counter()
    solver = _EpochTimingSolver(
        model, data, on_epoch=record, update_rule="adam",
        optim_config={"learning_rate": learning_rate}, lr_decay=lr_decay, num_epochs=epochs,
        batch_size=batch_size, verbose=progress, seed=seed,
    )  # fmt: skip
    solver.train()
    if "X_test" in data:
        result.test_acc = solver.check_accuracy(data["X_test"], data["y_test"])
    result.seconds = time.perf_counter() - start
    history = solver.val_acc_history
    result.best_val_acc = solver.best_val_acc
    result.best_epoch = history.index(max(history))  # the Solver keeps the first best
    result.samples = len(solver.loss_history) * solver.batch_size
    return result


def compare_backends(model_name, data_name, data, *, batch_size, learning_rate, seed=0,
                     rounds=1, progress=False):
    """The step time of one training epoch on each backend, best of ``rounds``.

    Each round trains a fresh :func:`build_model` (seed ``seed``) for one epoch with
    :func:`train` (minibatches of ``seed``, no test set) on ``"fast"`` and then on
    ``"reference"``, so both backends see the same weights and minibatches; interleaving the
    rounds and keeping each backend's fastest spreads a busy spell of the machine over both.

    Returns
    -------
    seconds : dict
        Backend -> the smallest step time of its epochs.

    Raises
    ------
    ValueError
        If the model has no backends to compare (:func:`has_backends`), or as
        :func:`build_model` and :func:`train`.
    """
    if not has_backends(model_name):
        raise ValueError(
            f"model_name {model_name!r} runs the same code on every backend; nothing to compare"
        )
    no_test = {k: v for k, v in data.items() if not k.endswith("_test")}
    seconds = {backend: math.inf for backend in BACKENDS}
    for _ in range(rounds):
        for backend in BACKENDS:
            model = build_model(model_name, data_name, data["X_train"].shape[1:],
                                backend=backend, seed=seed)
            run = train(model, no_test, epochs=1, batch_size=batch_size,
                        learning_rate=learning_rate, seed=seed, progress=progress)
            seconds[backend] = min(seconds[backend], run.epochs[0].step_seconds)
    return seconds


# --- report lines -------------------------------------------------------------------------------


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_header(model, data_name, data, *, backend, n_threads, epochs, batch_size,
                  learning_rate, lr_decay, seed):
    """Two lines saying what a run trains, on what, and how."""
    shape = "x".join(map(str, data["X_train"].shape[1:]))
    sizes = " / ".join(
        f"{data[f'X_{split}'].shape[0]} {split}" for split in ("train", "val", "test")
    )
    engine = f"backend {backend}" if has_backends(model) else "no conv/pool (backend n/a)"
    decay = f", x{lr_decay:g} per epoch" if lr_decay != 1.0 else ""
    return (
        f"train {model} on {data_name}: {sizes} images of {shape}; {engine}; "
        f"{_plural(n_threads, 'thread')}\n"
        f"adam, learning rate {learning_rate:g}{decay}; batch size {batch_size}; "
        f"{_plural(epochs, 'epoch')}; seed {seed}"
    )


def format_epoch(stats):
    """One line per epoch: mean loss, train and validation accuracy, wall time."""
    width = len(str(stats.num_epochs))
    return (
        f"epoch {stats.epoch:>{width}}/{stats.num_epochs}: loss {stats.loss:.4f}, "
        f"train acc {stats.train_acc:.4f}, val acc {stats.val_acc:.4f}, "
        f"{stats.seconds:.2f} s"
    )


def format_summary(result):
    """The end of a run: best validation accuracy, test accuracy, total time, samples/s."""
    test = "n/a" if result.test_acc is None else f"{result.test_acc:.4f}"
    return (
        f"best val acc {result.best_val_acc:.4f} (epoch {result.best_epoch}), "
        f"test acc {test} (best params)\n"
        f"total {result.seconds:.2f} s, {result.samples_per_second:.0f} samples/s "
        f"({result.samples} training samples in {result.step_seconds:.2f} s of steps)"
    )


def format_comparison(seconds, rounds=1):
    """The step time of one epoch on each backend (``{"fast": s, "reference": s}``, best of
    ``rounds``) and the speed-up of fast over reference."""
    best = f", best of {rounds} rounds" if rounds > 1 else ""
    lines = [f"compare backends (one epoch's steps, same initial weights and minibatches{best}):"]
    lines += [f"  {backend:<9} {seconds[backend]:.3f} s" for backend in BACKENDS]
    lines.append(f"  speed-up  {seconds['reference'] / seconds['fast']:.1f}x (reference / fast)")
    return "\n".join(lines)
