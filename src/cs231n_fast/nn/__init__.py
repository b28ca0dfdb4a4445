"""Thin layer classes over the kernels: ``forward``/``backward``, ``params`` and ``grads``."""

from .layers import Conv2D, MaxPool2D
from .recurrent import LSTM, RNN, Embedding, TemporalAffine

__all__ = ["Conv2D", "MaxPool2D", "RNN", "LSTM", "Embedding", "TemporalAffine"]
