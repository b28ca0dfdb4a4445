"""Drop-in replacement for the CS231n assignment's ``rnn_layers`` module.

Same names, arguments and return values as the course's file (assignment 3, image
captioning); switch with ``from cs231n_fast.rnn_layers import *``. The vanilla-RNN and LSTM
functions run on the compiled kernels of :mod:`cs231n_fast.ops.rnn` (fused gate arithmetic,
BLAS products batched over time steps, OpenMP threads); the word embedding and the temporal
softmax loss on those of ``csrc/embedding.pyx`` and ``csrc/losses.pyx``, and the temporal affine
layer is one BLAS product (:mod:`cs231n_fast.ops.temporal`). Differences, all in the user's
favour:

* ``float32`` in gives ``float32`` out; other real dtypes are computed in ``float64``;
* bad shapes, word ids outside the vocabulary and wrong masks raise a ``ValueError`` or
  ``TypeError`` naming the argument, before any computation;
* caches are small objects (:mod:`cs231n_fast._cache`), not tuples; pass them back unchanged;
* ``lstm_forward`` takes an optional initial cell state ``c0`` (default zeros, as in the course);
* every recurrent function, the word embedding and the temporal softmax loss take a keyword
  ``n_threads``.

``sigmoid`` is the numerically stable logistic function of the course; ``affine_forward`` and
``affine_backward`` (which the course's file defines too) are those of :mod:`cs231n_fast.layers`.
"""

from .layers import affine_backward, affine_forward
from .ops.rnn import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    sigmoid,
)
from .ops.temporal import (
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

__all__ = [
    "affine_forward",
    "affine_backward",
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
    "word_embedding_forward",
    "word_embedding_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
    "sigmoid",
]
