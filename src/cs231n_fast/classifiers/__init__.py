"""Drop-ins for the CS231n ``cs231n/classifiers`` package.

``from cs231n_fast.classifiers import KNearestNeighbor`` replaces
``from cs231n.classifiers import KNearestNeighbor`` (assignment 1) with the same API, its
``predict`` backed by the compiled exact kNN search of :mod:`cs231n_fast.knn`.
:func:`cross_validate_k` is the notebook's cross-validation loop over ``k``.
"""

from .k_nearest_neighbor import KNearestNeighbor, cross_validate_k

__all__ = ["KNearestNeighbor", "cross_validate_k"]
