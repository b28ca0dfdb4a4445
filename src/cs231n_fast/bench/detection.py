"""Detection cases: non-maximum suppression and pairwise box IoU
(:mod:`cs231n_fast.detection`) against the vectorised NumPy twin
(:mod:`cs231n_fast.reference.detection`), the baseline of issue 17.

``fast``
    :func:`cs231n_fast.detection.nms` / :func:`~cs231n_fast.detection.box_iou` (the Cython
    kernels; ``box_iou`` rows in parallel at the run's thread count, ``nms`` serial).
``reference``
    The twin: for ``nms``, take the best remaining box, compute its IoU with all remaining
    boxes in one NumPy expression, drop those above the threshold, repeat; for ``box_iou``,
    torchvision's broadcast formula. Single-threaded NumPy.

Issue 17's target: ``nms`` on 10,000 boxes at least 10x faster than the twin
(``speedup_vs_reference`` of the quick case).

Inputs: boxes around 100 random centres in a 1,000 x 1,000 image, each jittered by 15% of
its cluster's size (20-120 pixels a side) and resized by up to 25%, as a detector's raw
proposals around its objects; uniform random scores. Coordinates are whole pixels, so every
area and intersection is exact in float32 and every IoU decision the same as in float64: one
float64 oracle checks both dtypes, ``nms`` exactly (the kept indices), ``box_iou`` within the
dtype's tolerance.
"""

from dataclasses import dataclass

import numpy as np

from ._common import _check_outputs


@dataclass(frozen=True)
class DetectionCase:
    """One detection benchmark: ``op`` ("nms" or "box_iou") on ``n`` boxes (``box_iou``:
    ``n`` x ``m``), IoU threshold ``thr`` for nms."""

    op: str
    n: int
    m: int = 0
    thr: float = 0.5
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)

    kernel = "detection"
    dtypes = ("float32", "float64")
    quick_dtypes = ("float32",)
    impls = ("fast", "reference")
    quick_impls = ("fast", "reference")

    @property
    def id(self):
        if self.op == "nms":
            return f"nms-{self.n}-iou{self.thr:g}"
        return f"box_iou-{self.n}x{self.m}"

    def bytes_moved(self, dtype):
        """Nominal bytes: the boxes read once (nms) or the IoU matrix written (box_iou)."""
        size = np.dtype(dtype).itemsize
        return (self.n * 4 * size if self.op == "nms" else self.n * self.m * size)

    def gemm_flops(self):
        """None: no products."""
        return None

    def work(self, dtype):
        """box_iou: the IoU matrix written (GB/s in the table); nms: no nominal work (its cost
        depends on how many boxes survive), so the ratio to the twin is the figure."""
        return {"bytes": self.bytes_moved(dtype)} if self.op == "box_iou" else {}


DETECTION_CASES = (
    DetectionCase("nms", 10_000, thr=0.5, quick=True),  # issue 17's target
    DetectionCase("nms", 10_000, thr=0.7),
    DetectionCase("box_iou", 1_000, 10_000),
)


def clustered_boxes(n, seed=0, centres=100, image=1000.0):
    """``(boxes, scores)``: float64 boxes (whole pixels) around ``centres`` random objects and
    uniform scores (see the module docstring)."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(0, image, (centres, 2))
    size = rng.uniform(20, 120, (centres, 2))
    k = rng.integers(0, centres, n)
    ctr = c[k] + rng.normal(0, 0.15, (n, 2)) * size[k]
    wh = size[k] * rng.uniform(0.8, 1.25, (n, 2))
    boxes = np.round(np.hstack([ctr - wh / 2, ctr + wh / 2]))
    return boxes, rng.random(n)


def inputs(case, dtype, seed=0):
    """``boxes`` (n, 4) and ``scores`` (n,) of ``dtype``; for box_iou also ``boxes2`` (m, 4)."""
    boxes, scores = clustered_boxes(max(case.n, case.m), seed)
    if case.op == "nms":
        return {"boxes": boxes.astype(dtype), "scores": scores.astype(dtype)}
    return {"boxes": boxes[: case.n].astype(dtype), "boxes2": boxes[: case.m].astype(dtype)}


def runner(case, impl, inputs, n_threads):
    if impl == "fast":
        from .. import detection as mod
    elif impl == "reference":
        from ..reference import detection as mod
    else:
        raise ValueError(f"impl must be one of {case.impls} for {case.id}; got {impl!r}")
    if case.op == "nms":
        boxes, scores, thr = inputs["boxes"], inputs["scores"], case.thr
        return lambda: (mod.nms(boxes, scores, thr, n_threads=n_threads),)
    b1, b2 = inputs["boxes"], inputs["boxes2"]
    return lambda: (mod.box_iou(b1, b2, n_threads=n_threads),)


def oracle(case, inputs):
    """The twin on the float64 cast of ``inputs``."""
    inputs64 = {k: np.asarray(a, dtype=np.float64) for k, a in inputs.items()}
    return tuple(np.asarray(o) for o in runner(case, "reference", inputs64, 1)())


def names(case):
    return ("keep",) if case.op == "nms" else ("iou",)


def check(case, outputs, expected, dtype, impl=None):
    if case.op == "box_iou":
        return _check_outputs(names(case), outputs, expected, dtype)
    got, want = np.asarray(outputs[0]), expected[0]
    if got.dtype != np.int64 or not np.array_equal(got, want):
        return False, float("inf"), (f"keep: {got.dtype} of {got.shape[0]} indices, expected "
                                     f"the oracle's {want.shape[0]} int64 indices exactly")
    return True, 0.0, ""
