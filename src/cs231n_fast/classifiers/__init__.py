"""Drop-ins for the CS231n ``cs231n/classifiers`` package.

``from cs231n_fast.classifiers import KNearestNeighbor`` replaces
``from cs231n.classifiers import KNearestNeighbor`` (assignment 1) with the same API, its
``predict`` backed by the compiled exact kNN search of :mod:`cs231n_fast.knn`.
:func:`cross_validate_k` is the notebook's cross-validation loop over ``k``.

``from cs231n_fast.classifiers import CaptioningRNN`` replaces
``from cs231n.classifiers.rnn import CaptioningRNN`` (assignment 3, image captioning), its
recurrent layers backed by :mod:`cs231n_fast.rnn_layers`.
"""

from .k_nearest_neighbor import KNearestNeighbor, cross_validate_k
from .rnn import CaptioningRNN

__all__ = ["KNearestNeighbor", "cross_validate_k", "CaptioningRNN"]
