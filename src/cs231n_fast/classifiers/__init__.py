"""Drop-ins for the CS231n ``cs231n/classifiers`` package.

``from cs231n_fast.classifiers import KNearestNeighbor`` replaces
``from cs231n.classifiers import KNearestNeighbor`` (assignment 1) with the same API, its
``predict`` backed by the compiled exact kNN search of :mod:`cs231n_fast.knn`.
:func:`cross_validate_k` is the notebook's cross-validation loop over ``k``.

``from cs231n_fast.classifiers import CaptioningRNN`` replaces
``from cs231n.classifiers.rnn import CaptioningRNN`` (assignment 3, image captioning), its
recurrent layers backed by :mod:`cs231n_fast.rnn_layers`.

Assignment 1's linear classifiers: ``LinearSVM`` and ``Softmax`` (minibatch SGD through
``LinearClassifier.train``) and their losses, naive and vectorised, importable from the course's
module paths ``cs231n_fast.classifiers.linear_svm`` and ``cs231n_fast.classifiers.softmax``.

Assignment 2's networks: ``TwoLayerNet`` and ``FullyConnectedNet`` (``fc_net``; batchnorm,
layernorm, dropout) and ``ThreeLayerConvNet`` (``cnn``; on the compiled conv and pool kernels).
"""

from .cnn import ThreeLayerConvNet
from .fc_net import FullyConnectedNet, TwoLayerNet
from .k_nearest_neighbor import KNearestNeighbor, cross_validate_k
from .linear_classifier import LinearClassifier, LinearSVM, Softmax
from .linear_svm import svm_loss_naive, svm_loss_vectorized
from .rnn import CaptioningRNN
from .softmax import softmax_loss_naive, softmax_loss_vectorized

__all__ = [
    "KNearestNeighbor",
    "cross_validate_k",
    "LinearClassifier",
    "LinearSVM",
    "Softmax",
    "svm_loss_naive",
    "svm_loss_vectorized",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "TwoLayerNet",
    "FullyConnectedNet",
    "ThreeLayerConvNet",
    "CaptioningRNN",
]
