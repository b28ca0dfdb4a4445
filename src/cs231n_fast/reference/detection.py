"""NumPy twin of :mod:`cs231n_fast.detection`: box areas, pairwise IoU and non-maximum
suppression, vectorised and written to be read.

Same names, signatures, validation and dtype policy as :mod:`cs231n_fast.detection`
(``n_threads`` is accepted and ignored); the formulas are torchvision's, in its order of
operations and in the boxes' dtype, so the compiled kernels agree with this module exactly.

:func:`nms` is the textbook vectorised loop: take the best remaining box, compute its IoU with
all remaining boxes in one NumPy expression, drop those above the threshold, repeat. It is the
baseline of ``benchmarks/bench_detection.py``. :func:`batched_nms` is torchvision's
per-class loop (``_batched_nms_vanilla``) over :func:`nms`.

Examples
--------
>>> import numpy as np
>>> from cs231n_fast.reference import detection as twin
>>> twin.nms(np.array([[0., 0, 10, 10], [1, 1, 11, 11]]), np.array([0.8, 0.9]), 0.5)
array([1])
"""

import numpy as np

from ..detection import (
    _boxes_arg,
    _compute_dtype,
    _descending_order,
    _idxs_arg,
    _nms_args,
)

__all__ = ["box_area", "box_iou", "nms", "batched_nms"]


def box_area(boxes):
    """Areas ``(x2 - x1) * (y2 - y1)``, shape (N,); see :func:`cs231n_fast.detection.box_area`."""
    b = _boxes_arg("boxes", boxes)
    b = b.astype(_compute_dtype(b), copy=False)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(boxes1, boxes2, *, n_threads=None):
    """IoU of every pair, shape (N, M); see :func:`cs231n_fast.detection.box_iou`.

    torchvision's ``_box_inter_union`` with broadcasting: corners of the intersections
    (N, M, 2), their clamped sides, intersection and union areas, their ratio.
    """
    b1 = _boxes_arg("boxes1", boxes1)
    b2 = _boxes_arg("boxes2", boxes2)
    dtype = _compute_dtype(b1, b2)
    b1 = b1.astype(dtype, copy=False)
    b2 = b2.astype(dtype, copy=False)
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = np.maximum(b1[:, None, :2], b2[:, :2])
    rb = np.minimum(b1[:, None, 2:], b2[:, 2:])
    wh = np.maximum(rb - lt, 0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 for two zero-area boxes
        return inter / ((area1[:, None] + area2) - inter)


def nms(boxes, scores, iou_threshold, *, n_threads=None):
    """Greedy NMS, kept indices (int64) by decreasing score; see
    :func:`cs231n_fast.detection.nms`."""
    b, s, thr, dtype = _nms_args(boxes, scores, iou_threshold)
    b = b.astype(dtype, copy=False)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    area = (x2 - x1) * (y2 - y1)
    thr = np.float64(thr)  # a float32 IoU is compared with the threshold exactly, as a double
    order = _descending_order(s)
    keep = []
    with np.errstate(invalid="ignore", divide="ignore"):
        while order.size:
            i, rest = order[0], order[1:]
            keep.append(i)
            w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0)
            h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0)
            inter = w * h
            iou = inter / ((area[i] + area[rest]) - inter)
            order = rest[~(iou > thr)]
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold, *, n_threads=None):
    """NMS within each class, kept indices by decreasing score; see
    :func:`cs231n_fast.detection.batched_nms`."""
    b, s, thr, _ = _nms_args(boxes, scores, iou_threshold)
    c = _idxs_arg(idxs, b.shape[0])
    keep_mask = np.zeros(b.shape[0], dtype=bool)
    for cls in np.unique(c):
        members = np.flatnonzero(c == cls)
        keep_mask[members[nms(b[members], s[members], thr)]] = True
    kept = np.flatnonzero(keep_mask)
    return kept[_descending_order(s[kept])]
