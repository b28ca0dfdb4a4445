"""Readable NumPy twin of ``cs231n_fast.ops``, and the oracle for the tests.

``conv`` and ``pool`` hold vectorised NumPy versions with the same names, signatures,
validation, dtype policy and cache types as ``cs231n_fast.ops`` (``n_threads`` is accepted and
ignored), so either backward accepts either forward's cache and a benchmark can swap one for
the other. They are written to be read, not to be fast.

``naive`` holds the course's plain-loop versions (CS231n assignment 2 signatures: parameter
dicts, tuple caches), against which the vectorised versions are themselves tested.

``knn`` holds the twin of ``cs231n_fast.knn`` (``pairwise_distances``, ``kneighbors``: exact,
float64 arithmetic from row differences) and the course's three L2 distance functions of
assignment 1 (``compute_distances_two_loops``, ``_one_loop``, ``_no_loops``).

``rnn`` holds the layers of assignment 3 (``rnn_layers.py`` names and signatures): the vanilla
RNN and LSTM, step and sequence, forward and backward (the sequence versions loop over time
calling the step functions; ``n_threads`` is accepted and ignored), ``sigmoid``, and the word
embedding, temporal affine and temporal softmax loss layers; the twin of
``cs231n_fast.ops.rnn`` and ``cs231n_fast.ops.temporal``, with the same caches.

``losses`` holds ``softmax_loss`` and ``svm_loss`` (the course's vectorised versions), the twin
of ``cs231n_fast.ops.losses``.
"""

from .conv import (
    col2im,
    conv_backward,
    conv_forward,
    conv_transpose_backward,
    conv_transpose_forward,
    im2col,
)
from .knn import (
    compute_distances_no_loops,
    compute_distances_one_loop,
    compute_distances_two_loops,
    kneighbors,
    pairwise_distances,
)
from .naive import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from .losses import softmax_loss, svm_loss
from .pool import maxpool_backward, maxpool_forward
from .rnn import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    sigmoid,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

__all__ = [
    "im2col",
    "col2im",
    "conv_forward",
    "conv_backward",
    "conv_transpose_forward",
    "conv_transpose_backward",
    "maxpool_forward",
    "maxpool_backward",
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "pairwise_distances",
    "kneighbors",
    "compute_distances_two_loops",
    "compute_distances_one_loop",
    "compute_distances_no_loops",
    "sigmoid",
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
    "softmax_loss",
    "svm_loss",
]
