"""Thin layer classes over the kernels: ``forward``/``backward``, ``params`` and ``grads``."""

from .layers import Conv2D, MaxPool2D

__all__ = ["Conv2D", "MaxPool2D"]
