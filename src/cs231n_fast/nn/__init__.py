"""Layer classes: ``forward``/``backward``, ``params`` and ``grads``, ``train()``/``eval()``.

``Conv2D``, ``MaxPool2D`` and the recurrent layers run the compiled kernels (or, with
``backend="reference"``, the NumPy twin); the others wrap the course's functional layers of
:mod:`cs231n_fast.layers`. ``Sequential`` composes them into a model the Solver trains;
``Residual`` and ``Parallel`` (:mod:`cs231n_fast.nn.graph`) add skip connections and branches,
and :mod:`cs231n_fast.nn.models` builds LeNet-5, VGG, ResNet and Inception-style networks.
"""

from . import course_layers
from .course_layers import *  # noqa: F401,F403  (its __all__: the course layers)
from .layers import Conv2D, ConvTranspose2D, ConvTranspose2d, MaxPool2D
from .graph import GlobalAvgPool2D, Parallel, Residual, ZeroPad2D
from .recurrent import LSTM, RNN, Embedding, TemporalAffine
from .sequential import Sequential

__all__ = ["Conv2D", "ConvTranspose2D", "ConvTranspose2d", "MaxPool2D", "RNN", "LSTM", "Embedding", "TemporalAffine"]
__all__ += course_layers.__all__ + ["Sequential"]
__all__ += ["Residual", "Parallel", "GlobalAvgPool2D", "ZeroPad2D"]

from . import models  # noqa: E402  (builds on the names above)
