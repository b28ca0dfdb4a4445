"""Thin layer classes over the kernels: ``forward``/``backward``, ``params`` and ``grads``."""

from .course_layers import (
    ELU,
    Affine,
    BatchNorm,
    Dropout,
    Flatten,
    LayerNorm,
    LeakyReLU,
    Maxout,
    PReLU,
    ReLU,
    Sigmoid,
    SpatialBatchNorm,
    SpatialGroupNorm,
    Tanh,
)
from .layers import Conv2D, MaxPool2D
from .recurrent import LSTM, RNN, Embedding, TemporalAffine
from .sequential import Sequential

__all__ = ["Conv2D", "MaxPool2D", "RNN", "LSTM", "Embedding", "TemporalAffine"]
__all__ += [
    "Affine",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Maxout",
    "BatchNorm",
    "LayerNorm",
    "SpatialBatchNorm",
    "SpatialGroupNorm",
    "Dropout",
    "Flatten",
    "Sequential",
]
