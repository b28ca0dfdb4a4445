"""Drop-in for the CS231n assignment's ``layers`` module (the convolutional part).

The plain-loop reference layers ``conv_forward_naive``, ``conv_backward_naive``,
``max_pool_forward_naive`` and ``max_pool_backward_naive`` with the course's signatures. The
rest of the course's ``layers`` (affine, ReLU, normalisation, dropout, losses) arrives with a
later release.
"""

from .reference.naive import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

__all__ = [
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
]
