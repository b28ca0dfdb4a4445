"""Detection primitives: box areas, pairwise IoU and non-maximum suppression.

The functions every detector needs (region proposals are scored, overlapping ones suppressed),
with the semantics of ``torchvision.ops`` (``box_area``, ``box_iou``, ``nms``,
``batched_nms``), on the compiled kernels of ``cs231n_fast._ext.detection``; the NumPy twin is
:mod:`cs231n_fast.reference.detection`. torch and torchvision are never imported.

Boxes are arrays of shape (N, 4) holding ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and
``y1 <= y2`` (as torchvision, this is not checked: a box with ``x2 < x1`` has a negative
area and its IoUs follow the formulas below). The IoU of two boxes ``a`` and ``b`` is computed
with torchvision's operations, in its order and in the boxes' dtype::

    w = max(0, min(a.x2, b.x2) - max(a.x1, b.x1)),  h likewise,  inter = w * h
    iou = inter / ((area(a) + area(b)) - inter),     area = (x2 - x1) * (y2 - y1)

so the IoU of two zero-area boxes is ``0 / 0 = NaN``, as in torchvision (a NaN IoU never
exceeds a threshold: such boxes do not suppress each other).

Non-maximum suppression. Boxes are visited in decreasing score order; a box is kept unless a
box kept before it overlaps it with IoU **strictly greater** than ``iou_threshold``. The kept
indices come back as int64 in decreasing score order. Order of equal scores: torchvision sorts
with ``scores.sort(0, descending=True)``, which does not ask for a stable sort (its CPU kernel
uses ``std::sort`` or x86-simd-sort), so its order among equal scores is unspecified. Here the
sort is stable: among equal scores the box with the **smaller index comes first** (what
torchvision gives with a stable sort, ``torch.sort(stable=True)``), and so it is the one kept
when two tied boxes overlap. NaN scores: ranked **above every number** (``+inf`` included), as
torch's descending sort ranks NaN, ties among them by index as well. ``-0.0`` and ``0.0`` are
equal scores.

The threshold is compared as a double (torchvision's ``iou_threshold`` is a C ``double``):
``iou > iou_threshold`` is decided exactly even when the IoU is float32 (the kernels compare
with the largest float32 not above the threshold, which gives the same answer).

Dtypes. Boxes in float32 are computed in float32 (all boxes float32 for :func:`box_iou`);
everything else -- float64, float16, integers -- in float64. Scores may be any real dtype
(only their order matters; they are never converted). Coordinates must be finite (NaN or
infinite coordinates raise ``ValueError``); scores may hold NaN and infinities.

Threads and determinism. :func:`box_iou` computes its rows in parallel (``n_threads``);
:func:`batched_nms` runs the classes in parallel; :func:`nms` itself is one greedy sequence
(serial). Results are bitwise identical for any thread count and equal to the twin's.

Cost. ``nms`` of N boxes keeping K of them costs a stable radix sort of the scores (O(N) for
float32 and float64 scores; other dtypes take NumPy's stable sort) plus, for each kept box,
one vectorised pass over the boxes still alive after it (suppressed boxes are dropped
from the scan once they make up a quarter of it): O(N K) in the worst case, with no memory
beyond a few arrays of length N. ``box_iou`` is O(N M) and returns an N x M array.

Examples
--------
>>> import numpy as np
>>> from cs231n_fast import detection
>>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=np.float32)
>>> scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
>>> detection.box_iou(boxes[:1], boxes).round(3)
array([[1.   , 0.681, 0.   ]], dtype=float32)
>>> detection.nms(boxes, scores, 0.5)
array([0, 2])
>>> detection.batched_nms(boxes, scores, np.array([0, 1, 0]), 0.5)
array([0, 1, 2])
"""

import numpy as np

from ._ext import detection as _k
from ._threads import effective_n_threads, work_threads
from ._validation import as_array, real_number

__all__ = ["box_area", "box_iou", "nms", "batched_nms"]


# --- validation, shared with the twin (reference/detection.py) ----------------------------------


def _boxes_arg(name, boxes):
    """``boxes`` as an (N, 4) real array with finite values (not converted)."""
    b = as_array(name, boxes)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(
            f"{name} must be a 2-D array of shape (N, 4) holding (x1, y1, x2, y2); got shape {b.shape}"
        )
    if b.dtype.kind == "f" and b.size and not np.isfinite(b).all():
        raise ValueError(f"{name} must hold finite coordinates; got NaN or infinite values")
    return b


def _compute_dtype(*boxes):
    """float32 when every boxes array is float32, else float64 (integers, float16, mixes)."""
    return np.dtype(np.float32) if all(b.dtype == np.float32 for b in boxes) else np.dtype(np.float64)


def _scores_arg(scores, n):
    s = as_array("scores", scores)
    if s.ndim != 1 or s.shape[0] != n:
        raise ValueError(f"scores must be a 1-D array of shape ({n},), one score per box; got shape {s.shape}")
    return s


def _idxs_arg(idxs, n):
    c = np.asarray(idxs)
    if c.dtype.kind not in "iu":
        raise TypeError(f"idxs must be an array of integer class indices; got dtype {c.dtype}")
    if c.ndim != 1 or c.shape[0] != n:
        raise ValueError(f"idxs must be a 1-D array of shape ({n},), one class per box; got shape {c.shape}")
    return c


def _threshold_arg(iou_threshold):
    return real_number("iou_threshold", iou_threshold)


def _nms_args(boxes, scores, iou_threshold):
    """Validated ``(boxes, scores, threshold, compute dtype)`` of nms and batched_nms."""
    b = _boxes_arg("boxes", boxes)
    s = _scores_arg(scores, b.shape[0])
    return b, s, _threshold_arg(iou_threshold), _compute_dtype(b)


def _descending_order(scores):
    """Indices of ``scores`` in decreasing order: stable (equal scores by increasing index),
    NaN first. A stable ascending sort of the reversed array, reversed: any real dtype, no
    negation (unsigned integers), NumPy's NaN-last order becoming NaN-first. (The twin's
    sort; the kernels' is :func:`_kernel_order`.)"""
    n = scores.shape[0]
    return (n - 1) - np.argsort(scores[::-1], kind="stable")[::-1]


def _kernel_order(scores):
    """:func:`_descending_order`, by the kernel's radix sort for float32 and float64 scores
    (float16 and integer scores take NumPy's sort)."""
    if scores.dtype not in (np.float32, np.float64):
        return _descending_order(scores)
    n = scores.shape[0]
    order = np.empty(n, dtype=np.int64)
    _k.descending_order(np.ascontiguousarray(scores), order, np.empty(n, np.uint64),
                        np.empty(n, np.uint64), np.empty(n, np.int64))
    return order


def _threshold_below(thr, dtype):
    """The largest value of ``dtype`` not above ``thr``: for a value x of that dtype,
    ``x > result`` exactly when ``x > thr`` (compared exactly)."""
    with np.errstate(over="ignore"):
        t = dtype.type(thr)
    if float(t) > thr:
        t = np.nextafter(t, dtype.type(-np.inf))
    return t


# --- the functions --------------------------------------------------------------------------------


def box_area(boxes):
    """Areas of boxes, ``(x2 - x1) * (y2 - y1)`` (``torchvision.ops.box_area``).

    Parameters
    ----------
    boxes : array_like of shape (N, 4)
        Boxes ``(x1, y1, x2, y2)``, finite; float32, float64 or integers.

    Returns
    -------
    area : ndarray of shape (N,)
        float32 for float32 boxes, else float64.

    Raises
    ------
    TypeError
        If ``boxes`` is not a real numeric array.
    ValueError
        If ``boxes`` is not of shape (N, 4) or holds NaN or infinities.

    Examples
    --------
    >>> from cs231n_fast.detection import box_area
    >>> box_area([[0, 0, 2, 3], [1, 1, 1, 5]])
    array([6., 0.])
    """
    b = _boxes_arg("boxes", boxes)
    b = b.astype(_compute_dtype(b), copy=False)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(boxes1, boxes2, *, n_threads=None):
    """Intersection over union of every pair of boxes (``torchvision.ops.box_iou``).

    Parameters
    ----------
    boxes1 : array_like of shape (N, 4)
        Boxes ``(x1, y1, x2, y2)``, finite; float32, float64 or integers.
    boxes2 : array_like of shape (M, 4)
        Boxes likewise.
    n_threads : int, optional
        Threads for the rows (default: see :func:`cs231n_fast._threads.effective_n_threads`).

    Returns
    -------
    iou : ndarray of shape (N, M)
        ``iou[i, j]`` is the IoU of ``boxes1[i]`` and ``boxes2[j]`` (NaN for two zero-area
        boxes, see the module docstring); float32 when both inputs are float32, else float64.

    Raises
    ------
    TypeError
        If an input is not a real numeric array, or ``n_threads`` not an int.
    ValueError
        If an input is not of shape (K, 4) or holds NaN or infinities; ``n_threads < 1``.

    Notes
    -----
    Rows in parallel, each by one thread with the same operations: bitwise identical for any
    thread count, and equal to the twin (:func:`cs231n_fast.reference.detection.box_iou`).

    Examples
    --------
    >>> from cs231n_fast.detection import box_iou
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]])
    array([[0.33333333, 0.        ]])
    """
    b1 = _boxes_arg("boxes1", boxes1)
    b2 = _boxes_arg("boxes2", boxes2)
    dtype = _compute_dtype(b1, b2)
    n, m = b1.shape[0], b2.shape[0]
    threads = work_threads(n_threads, 12 * n * m)
    b1 = np.ascontiguousarray(b1, dtype=dtype)
    b2 = np.ascontiguousarray(b2, dtype=dtype)
    out = np.empty((n, m), dtype=dtype)
    soa = np.empty((5, m), dtype=dtype)
    _k.box_iou(b1, b2, soa, out, min(threads, max(n, 1)))
    return out


def _run_nms(b, order, bounds, thr, dtype, n_threads):
    """The kernel over the segments ``order[bounds[s]:bounds[s + 1]]``; the kept indices,
    segment after segment."""
    n = b.shape[0]
    b = np.ascontiguousarray(b, dtype=dtype)
    keep = np.empty(n, dtype=np.int64)
    count = np.zeros(len(bounds) - 1, dtype=np.int64)
    _k.nms(b, order, bounds, _threshold_below(thr, dtype), np.empty((5, n), dtype),
           np.empty(n, np.int64), np.zeros(n, dtype), keep, count, n_threads)
    return np.concatenate([keep[s : s + c] for s, c in zip(bounds[:-1], count)])


def nms(boxes, scores, iou_threshold, *, n_threads=None):
    """Greedy non-maximum suppression (``torchvision.ops.nms``).

    Visit the boxes by decreasing score; keep a box unless a box kept before it overlaps it
    with IoU strictly greater than ``iou_threshold``.

    Parameters
    ----------
    boxes : array_like of shape (N, 4)
        Boxes ``(x1, y1, x2, y2)``, finite; float32, float64 or integers.
    scores : array_like of shape (N,)
        One score per box, any real dtype; NaN ranks above every number.
    iou_threshold : float
        Finite; overlaps above it suppress.
    n_threads : int, optional
        Accepted for symmetry and validated; one greedy sequence runs on one thread.

    Returns
    -------
    keep : ndarray of int64, shape (K,)
        Indices of the kept boxes, in decreasing score order (equal scores: smaller index
        first; see the module docstring for the comparison with torchvision's).

    Raises
    ------
    TypeError
        If ``boxes`` or ``scores`` is not a real numeric array, or ``iou_threshold`` not a
        real number.
    ValueError
        If ``boxes`` is not (N, 4) or not finite, ``scores`` not of shape (N,), or
        ``iou_threshold`` not finite.

    Examples
    --------
    >>> from cs231n_fast.detection import nms
    >>> nms([[0, 0, 4, 4], [0, 0, 4, 3], [0, 0, 1, 1]], [0.5, 0.9, 0.5], 0.7)
    array([1, 2])
    """
    b, s, thr, dtype = _nms_args(boxes, scores, iou_threshold)
    effective_n_threads(n_threads)  # validated; a single sequence is serial
    n = b.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    order = _kernel_order(s)
    return _run_nms(b, order, np.array([0, n], dtype=np.int64), thr, dtype, 1)


def batched_nms(boxes, scores, idxs, iou_threshold, *, n_threads=None):
    """Non-maximum suppression within each class (``torchvision.ops.batched_nms``).

    Boxes of different classes (``idxs``) never suppress each other: the result is the union
    of :func:`nms` run on each class, in decreasing score order.

    Parameters
    ----------
    boxes : array_like of shape (N, 4)
        Boxes ``(x1, y1, x2, y2)``, finite; float32, float64 or integers.
    scores : array_like of shape (N,)
        One score per box, any real dtype; NaN ranks above every number.
    idxs : array_like of int, shape (N,)
        The class of each box (any integers).
    iou_threshold : float
        Finite; overlaps above it suppress.
    n_threads : int, optional
        Threads over the classes (each class is one serial greedy sequence).

    Returns
    -------
    keep : ndarray of int64, shape (K,)
        Indices of the kept boxes in decreasing score order, equal scores by smaller index.

    Raises
    ------
    TypeError
        As :func:`nms`, and if ``idxs`` does not hold integers.
    ValueError
        As :func:`nms`, and if ``idxs`` is not of shape (N,).

    Notes
    -----
    torchvision computes this by offsetting each class's boxes (the "coordinate trick") for
    small inputs and by a loop over the classes for large ones; the offset boxes' IoUs can
    differ from the originals' in the last bits. Here each class is suppressed on its own
    boxes, as the loop does, so the answer is exactly the per-class one.

    Examples
    --------
    >>> from cs231n_fast.detection import batched_nms
    >>> batched_nms([[0, 0, 4, 4], [0, 0, 4, 3], [0, 0, 4, 4]], [0.5, 0.9, 0.7], [0, 0, 1], 0.5)
    array([1, 2])
    """
    b, s, thr, dtype = _nms_args(boxes, scores, iou_threshold)
    c = _idxs_arg(idxs, b.shape[0])
    n = b.shape[0]
    threads = effective_n_threads(n_threads)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    desc = _kernel_order(s)
    cls = c[desc]
    by_class = np.argsort(cls, kind="stable")  # classes together, each in score order
    order = desc[by_class]
    cls = cls[by_class]
    bounds = np.concatenate([[0], np.flatnonzero(cls[1:] != cls[:-1]) + 1, [n]]).astype(np.int64)
    kept = _run_nms(b, order, bounds, thr, dtype, min(threads, len(bounds) - 1))
    rank = np.empty(n, dtype=np.int64)
    rank[desc] = np.arange(n)
    return kept[np.argsort(rank[kept])]
