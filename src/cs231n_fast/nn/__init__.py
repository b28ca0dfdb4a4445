"""Layer classes: ``forward``/``backward``, ``params`` and ``grads``, ``train()``/``eval()``.

``Conv2D``, ``MaxPool2D`` and the recurrent layers run the compiled kernels (or, with
``backend="reference"``, the NumPy twin); the others wrap the course's functional layers of
:mod:`cs231n_fast.layers`. ``Sequential`` composes them into a model the Solver trains.
"""

from . import course_layers
from .course_layers import *  # noqa: F401,F403  (its __all__: the course layers)
from .layers import Conv2D, MaxPool2D
from .recurrent import LSTM, RNN, Embedding, TemporalAffine
from .sequential import Sequential

__all__ = ["Conv2D", "MaxPool2D", "RNN", "LSTM", "Embedding", "TemporalAffine"]
__all__ += course_layers.__all__ + ["Sequential"]
