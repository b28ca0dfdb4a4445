"""Detection primitives (csrc/detection.pyx, cs231n_fast.detection): box_iou, nms and
batched_nms against the NumPy twin (reference.detection, exactly: same operations in the same
dtype) and against a plain-Python port of torchvision's CPU algorithm (a third oracle, small
N: torchvision itself does not load here), their properties, ties, NaN scores, degenerate
boxes, thread counts, layouts, bad input and input immutability.

Tolerances: none. Kernel and twin perform the same IEEE operations per IoU, so IoUs are
compared with assert_array_equal (NaN where both are NaN; the sign of a zero may differ) and
index lists exactly.
"""

import math

import numpy as np
import pytest
from helpers import LAYOUTS, as_layout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cs231n_fast import detection
from cs231n_fast.reference import detection as twin

DTYPES = (np.float32, np.float64)


def fuzz(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --- the third oracle: torchvision's CPU kernel (nms_kernel.cpp) in plain Python ---------------


def torchvision_order(scores):
    """torchvision sorts with scores.sort(0, descending=True); made stable (ties by index),
    NaN first as torch's descending sort ranks it."""
    def key(i):
        s = scores[i]
        return (0, 0.0) if math.isnan(s) else (1, -float(s))

    return sorted(range(len(scores)), key=key)


def torchvision_nms(boxes, scores, thr, dtype):
    """The suppressed-flag loop of torchvision's nms_kernel_impl, in ``dtype`` scalars
    (std::max/min keep their first operand on ties; the threshold is a double)."""
    t = np.dtype(dtype).type
    b = [[t(v) for v in row] for row in np.asarray(boxes, dtype=dtype)]
    area = [(x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in b]
    order = torchvision_order(list(np.asarray(scores)))
    suppressed = [False] * len(b)
    keep = []
    with np.errstate(all="ignore"):
        for _i, i in enumerate(order):
            if suppressed[i]:
                continue
            keep.append(i)
            ix1, iy1, ix2, iy2 = b[i]
            for j in order[_i + 1 :]:
                if suppressed[j]:
                    continue
                xx1 = ix1 if not ix1 < b[j][0] else b[j][0]
                yy1 = iy1 if not iy1 < b[j][1] else b[j][1]
                xx2 = ix2 if not b[j][2] < ix2 else b[j][2]
                yy2 = iy2 if not b[j][3] < iy2 else b[j][3]
                w = xx2 - xx1 if t(0) < xx2 - xx1 else t(0)
                h = yy2 - yy1 if t(0) < yy2 - yy1 else t(0)
                inter = w * h
                ovr = inter / (area[i] + area[j] - inter)
                if float(ovr) > float(thr):
                    suppressed[j] = True
    return np.array(keep, dtype=np.int64)


def torchvision_box_iou(b1, b2, dtype):
    """box_iou entry by entry, in ``dtype`` scalars."""
    t = np.dtype(dtype).type
    b1 = np.asarray(b1, dtype=dtype)
    b2 = np.asarray(b2, dtype=dtype)
    out = np.empty((len(b1), len(b2)), dtype=dtype)
    with np.errstate(all="ignore"):
        for i, a in enumerate(b1):
            for j, c in enumerate(b2):
                w = max(min(a[2], c[2]) - max(a[0], c[0]), t(0))
                h = max(min(a[3], c[3]) - max(a[1], c[1]), t(0))
                inter = w * h
                out[i, j] = inter / ((a[2] - a[0]) * (a[3] - a[1]) + (c[2] - c[0]) * (c[3] - c[1]) - inter)
    return out


# --- input generators -------------------------------------------------------------------------------


def random_boxes(rng, n, dtype, *, grid=None):
    """Boxes around a few centres (real overlaps), with duplicates, zero-width/height and
    zero-area boxes; ``grid`` rounds coordinates to multiples of it (exact ties)."""
    n_centres = max(1, n // 6)
    centres = rng.uniform(0, 50, (n_centres, 2))
    size = rng.uniform(2, 20, (n_centres, 2))
    k = rng.integers(0, n_centres, n)
    c = centres[k] + rng.normal(0, 0.2, (n, 2)) * size[k]
    wh = size[k] * rng.uniform(0.6, 1.4, (n, 2))
    b = np.hstack([c - wh / 2, c + wh / 2])
    if grid:
        b = np.round(b / grid) * grid
    if n >= 4:
        b[rng.random(n) < 0.1] = b[0]  # duplicates
        flat = rng.random(n) < 0.1
        b[flat, 2] = b[flat, 0]  # zero width
        point = rng.random(n) < 0.05
        b[point, 2:] = b[point, :2]  # zero area (a point)
    return b.astype(dtype)


def random_scores(rng, n, dtype, ties, specials=False):
    s = rng.random(n)
    if ties:
        s = np.round(s * 4) / 4  # few distinct values
    if specials and n:  # NaN (ranked first), infinities, signed zeros
        pick = rng.random(n) < 0.3
        s[pick] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0], pick.sum())
    return s.astype(dtype)


# --- equivalence --------------------------------------------------------------------------------------


@fuzz(80)
@given(
    n=st.integers(0, 40),
    dtype=st.sampled_from(DTYPES),
    ties=st.booleans(),
    specials=st.booleans(),
    grid=st.sampled_from([None, 1.0, 0.5]),
    thr=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, -0.5]),
    layouts=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
    seed=st.integers(0, 2**32 - 1),
)
def test_nms_matches_twin_and_torchvision_algorithm(n, dtype, ties, specials, grid, thr, layouts, seed):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, n, dtype, grid=grid)
    scores = random_scores(rng, n, dtype, ties, specials)
    keep = detection.nms(as_layout(boxes, layouts[0]), as_layout(scores, layouts[1]), thr)
    assert keep.dtype == np.int64 and keep.ndim == 1
    np.testing.assert_array_equal(keep, twin.nms(boxes, scores, thr))
    np.testing.assert_array_equal(keep, torchvision_nms(boxes, scores, thr, dtype))


@fuzz(60)
@given(
    n=st.integers(0, 25),
    m=st.integers(0, 25),
    dtype=st.sampled_from(DTYPES),
    grid=st.sampled_from([None, 1.0]),
    layouts=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
    n_threads=st.sampled_from([None, 1, 2, 3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_box_iou_matches_twin_and_torchvision_formula(n, m, dtype, grid, layouts, n_threads, seed):
    rng = np.random.default_rng(seed)
    b1 = random_boxes(rng, n, dtype, grid=grid)
    b2 = np.concatenate([b1[: m // 2], random_boxes(rng, m - m // 2, dtype, grid=grid)])
    iou = detection.box_iou(as_layout(b1, layouts[0]), as_layout(b2, layouts[1]), n_threads=n_threads)
    assert iou.dtype == dtype and iou.shape == (n, len(b2)) and iou.flags.c_contiguous
    np.testing.assert_array_equal(iou, twin.box_iou(b1, b2))
    np.testing.assert_array_equal(iou, torchvision_box_iou(b1, b2, dtype))


@fuzz(50)
@given(
    n=st.integers(0, 60),
    n_classes=st.integers(1, 6),
    dtype=st.sampled_from(DTYPES),
    ties=st.booleans(),
    thr=st.sampled_from([0.0, 0.3, 0.5, 0.8]),
    n_threads=st.sampled_from([None, 1, 2, 3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_batched_nms_matches_twin_and_per_class_nms(n, n_classes, dtype, ties, thr, n_threads, seed):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, n, dtype)
    scores = random_scores(rng, n, dtype, ties, specials=seed % 2 == 0)
    idxs = rng.integers(-2, n_classes - 2, n)
    keep = detection.batched_nms(boxes, scores, idxs, thr, n_threads=n_threads)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, twin.batched_nms(boxes, scores, idxs, thr))
    # The union of per-class nms (the torchvision oracle), in decreasing score order.
    union = np.concatenate([np.flatnonzero(idxs == c)[torchvision_nms(boxes[idxs == c], scores[idxs == c], thr, dtype)]
                            for c in np.unique(idxs)] + [np.empty(0, np.int64)])
    np.testing.assert_array_equal(keep, np.array(torchvision_order(list(scores)))[
        np.isin(torchvision_order(list(scores)), union)])


def test_nms_large_matches_twin(rng, dtype):
    # Enough boxes for the compaction of suppressed boxes (>= 32 ahead) to run many times.
    boxes = random_boxes(rng, 3000, dtype)
    scores = random_scores(rng, 3000, dtype, ties=True)
    for thr in (0.2, 0.5, 0.95):
        keep = detection.nms(boxes, scores, thr)
        np.testing.assert_array_equal(keep, twin.nms(boxes, scores, thr))
        assert 0 < len(keep) < 3000


# --- properties ------------------------------------------------------------------------------------


@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_properties(rng, dtype, thr):
    boxes = random_boxes(rng, 400, dtype)
    scores = random_scores(rng, 400, dtype, ties=True)
    keep = detection.nms(boxes, scores, thr)
    iou = detection.box_iou(boxes, boxes)
    # kept boxes come in decreasing score order and never overlap each other above thr
    assert np.all(np.diff(scores[keep].astype(np.float64)) <= 0)
    pair = iou[np.ix_(keep, keep)]
    off_diag = ~np.eye(len(keep), dtype=bool)
    assert not np.any(pair[off_diag] > thr)
    # every suppressed box overlaps, above thr, a kept box ranked before it
    rank = np.empty(len(scores), int)
    rank[twin._descending_order(scores)] = np.arange(len(scores))
    suppressed = np.setdiff1d(np.arange(len(scores)), keep)
    assert len(suppressed) > 0
    for j in suppressed:
        earlier = keep[rank[keep] < rank[j]]
        assert np.any(iou[earlier, j] > thr), j


def test_nms_threshold_is_strict_and_exact():
    # IoU exactly 1/2: suppressed only by a threshold below it.
    boxes = np.array([[0, 0, 2, 1], [0, 0, 1, 1]], dtype=np.float64)
    scores = np.array([0.9, 0.8])
    assert detection.nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert detection.nms(boxes, scores, np.nextafter(0.5, 0)).tolist() == [0]
    # float32: IoU 1/3 rounds to 0.33333334f > the double 1/3, so 1/3 suppresses (compared as
    # a double, as torchvision does); rounding the threshold to float32 would keep the box.
    b32 = np.array([[0, 0, 3, 1], [0, 0, 1, 1]], dtype=np.float32)
    assert detection.box_iou(b32[:1], b32[1:])[0, 0] == np.float32(1 / 3)
    for impl in (detection, twin):
        assert impl.nms(b32, scores, 1 / 3).tolist() == [0]
        assert impl.nms(b32, scores, float(np.float32(1 / 3))).tolist() == [0, 1]


def test_nms_ties_keep_the_smaller_index():
    boxes = np.array([[0, 0, 10, 10]] * 4, dtype=np.float32)
    for impl in (detection, twin):
        assert impl.nms(boxes, np.array([0.5, 0.7, 0.7, 0.5]), 0.5).tolist() == [1]
        assert impl.nms(boxes, np.zeros(4), 0.5).tolist() == [0]
        assert impl.nms(boxes, np.array([-0.0, 0.0, -0.0, 0.0]), 0.5).tolist() == [0]
        far = boxes + 20 * np.arange(4)[:, None]
        assert impl.nms(far, np.array([1, 2, 2, 1]), 0.5).tolist() == [1, 2, 0, 3]


def test_nms_nan_scores_rank_first():
    boxes = np.array([[0, 0, 1, 1], [5, 5, 6, 6], [10, 10, 11, 11], [0, 0, 1, 1], [20, 20, 21, 21]], float)
    scores = np.array([np.inf, np.nan, 0.5, np.nan, -np.inf])
    for impl in (detection, twin):
        assert impl.nms(boxes, scores, 0.5).tolist() == [1, 3, 2, 4]  # 3 (NaN) suppresses 0
        assert impl.nms(boxes, scores.astype(np.float32), 0.5).tolist() == [1, 3, 2, 4]


def test_kernel_sort_matches_numpy_stable(rng):
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 5e-324, 3.4e38])
    for dtype in DTYPES:
        s = np.concatenate([rng.random(500), np.round(rng.standard_normal(500), 1), specials,
                            rng.choice(specials, 200)])
        s = rng.permutation(s).astype(dtype)
        want = detection._descending_order(s)
        np.testing.assert_array_equal(detection._kernel_order(s), want)
        np.testing.assert_array_equal(want, torchvision_order(list(s)))


def test_degenerate_boxes():
    point = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 2, 2]], dtype=np.float64)
    iou = detection.box_iou(point, point)
    assert np.isnan(iou[0, 1]) and np.isnan(iou[0, 0])  # 0 / 0, as torchvision
    assert iou[0, 2] == 0 and iou[2, 2] == 1
    # zero-area duplicates never suppress each other
    assert detection.nms(point, np.array([0.3, 0.2, 0.1]), 0.0).tolist() == [0, 1, 2]
    # inverted boxes (x2 < x1) follow the formula: negative area, no intersection
    inv = np.array([[2, 2, 0, 0], [0, 0, 2, 2]], dtype=np.float32)
    np.testing.assert_array_equal(detection.box_iou(inv, inv), twin.box_iou(inv, inv))
    np.testing.assert_array_equal(detection.nms(inv, [1, 2], -1.0), twin.nms(inv, [1, 2], -1.0))


def test_negative_threshold_suppresses_every_finite_overlap():
    boxes = np.array([[0, 0, 1, 1], [5, 5, 6, 6], [9, 9, 10, 10]], dtype=np.float32)
    assert detection.nms(boxes, [3, 2, 1], -0.1).tolist() == [0]  # IoU 0 > -0.1


# --- dtypes, shapes, empty inputs ----------------------------------------------------------------


def test_empty_inputs(dtype):
    e = np.empty((0, 4), dtype)
    for impl in (detection, twin):
        k = impl.nms(e, np.empty(0, dtype), 0.5)
        assert k.dtype == np.int64 and k.shape == (0,)
        k = impl.batched_nms(e, np.empty(0, dtype), np.empty(0, np.int64), 0.5)
        assert k.dtype == np.int64 and k.shape == (0,)
        assert impl.box_iou(e, np.ones((3, 4), dtype)).shape == (0, 3)
        assert impl.box_iou(np.ones((3, 4), dtype), e).dtype == dtype
        assert impl.box_area(e).shape == (0,) and impl.box_area(e).dtype == dtype
    assert detection.nms(np.ones((1, 4), dtype), [0.3], 0.5).tolist() == [0]


def test_dtype_policy():
    b_int = np.array([[0, 0, 2, 2], [1, 1, 3, 3]])
    assert detection.box_iou(b_int, b_int).dtype == np.float64
    assert detection.box_iou(b_int.astype(np.float32), b_int.astype(np.float32)).dtype == np.float32
    assert detection.box_iou(b_int.astype(np.float32), b_int.astype(np.float64)).dtype == np.float64
    assert detection.box_iou(b_int.astype(np.float16), b_int.astype(np.float16)).dtype == np.float64
    assert detection.box_area(b_int).dtype == np.float64
    np.testing.assert_array_equal(detection.box_area(b_int), [4.0, 4.0])
    # integer and unsigned scores, without conversion (a float64 cast would merge 2**53 + 1)
    big = np.array([2**53, 2**53 + 1], dtype=np.int64)
    assert detection.nms(b_int, big, 0.0).tolist() == [1]
    assert detection.nms(b_int, np.array([1, 2], np.uint8), 0.9).tolist() == [1, 0]
    assert detection.nms(b_int, np.array([1, 2], np.float16), 0.9).tolist() == [1, 0]


def test_box_iou_bitwise_across_threads(rng, dtype):
    b1 = random_boxes(rng, 301, dtype)
    b2 = random_boxes(rng, 257, dtype)
    ref = detection.box_iou(b1, b2, n_threads=1)
    for t in (2, 3, 4):
        out = detection.box_iou(b1, b2, n_threads=t)
        assert out.tobytes() == ref.tobytes()
    np.testing.assert_array_equal(ref, twin.box_iou(b1, b2))


def test_batched_nms_bitwise_across_threads(rng, dtype):
    boxes = random_boxes(rng, 2000, dtype)
    scores = random_scores(rng, 2000, dtype, ties=True)
    idxs = rng.integers(0, 7, 2000)
    ref = detection.batched_nms(boxes, scores, idxs, 0.5, n_threads=1)
    for t in (2, 3):
        np.testing.assert_array_equal(detection.batched_nms(boxes, scores, idxs, 0.5, n_threads=t), ref)
    np.testing.assert_array_equal(ref, twin.batched_nms(boxes, scores, idxs, 0.5))


# --- bad input and immutability ----------------------------------------------------------------------

GOOD_B = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], dtype=np.float64)
GOOD_S = np.array([0.5, 0.4])

BAD = [
    # (function, args, kwargs, exception, match)
    ("nms", (GOOD_B[:, :3], GOOD_S, 0.5), {}, ValueError, "boxes"),
    ("nms", (GOOD_B.ravel(), GOOD_S, 0.5), {}, ValueError, "boxes"),
    ("nms", (GOOD_B.astype(complex), GOOD_S, 0.5), {}, TypeError, "boxes"),
    ("nms", (GOOD_B.astype(bool), GOOD_S, 0.5), {}, TypeError, "boxes"),
    ("nms", ([["a", "b", "c", "d"]], [1], 0.5), {}, TypeError, "boxes"),
    ("nms", (np.where(GOOD_B == 2, np.nan, GOOD_B), GOOD_S, 0.5), {}, ValueError, "boxes"),
    ("nms", (np.where(GOOD_B == 2, np.inf, GOOD_B), GOOD_S, 0.5), {}, ValueError, "boxes"),
    ("nms", (GOOD_B, GOOD_S[:1], 0.5), {}, ValueError, "scores"),
    ("nms", (GOOD_B, GOOD_S[:, None], 0.5), {}, ValueError, "scores"),
    ("nms", (GOOD_B, GOOD_S.astype(object), 0.5), {}, TypeError, "scores"),
    ("nms", (GOOD_B, GOOD_S, np.nan), {}, ValueError, "iou_threshold"),
    ("nms", (GOOD_B, GOOD_S, np.inf), {}, ValueError, "iou_threshold"),
    ("nms", (GOOD_B, GOOD_S, "0.5"), {}, TypeError, "iou_threshold"),
    ("nms", (GOOD_B, GOOD_S, None), {}, TypeError, "iou_threshold"),
    ("nms", (GOOD_B, GOOD_S, 0.5), {"n_threads": 0}, ValueError, "n_threads"),
    ("batched_nms", (GOOD_B, GOOD_S, [0.0, 1.0], 0.5), {}, TypeError, "idxs"),
    ("batched_nms", (GOOD_B, GOOD_S, [0], 0.5), {}, ValueError, "idxs"),
    ("batched_nms", (GOOD_B, GOOD_S, [0, 1], float("nan")), {}, ValueError, "iou_threshold"),
    ("box_iou", (GOOD_B, GOOD_B[:, :2]), {}, ValueError, "boxes2"),
    ("box_iou", (GOOD_B[None], GOOD_B), {}, ValueError, "boxes1"),
    ("box_iou", (GOOD_B, GOOD_B), {"n_threads": -1}, ValueError, "n_threads"),
    ("box_iou", (GOOD_B, GOOD_B), {"n_threads": 1.5}, TypeError, "n_threads"),
    ("box_area", (GOOD_B.T,), {}, ValueError, "boxes"),
]


# The twin accepts and ignores n_threads: it gets the other rows.
BAD_CASES = [pytest.param(detection, *row, id=f"fast-{row[0]}-{i}") for i, row in enumerate(BAD)] + [
    pytest.param(twin, *row, id=f"twin-{row[0]}-{i}") for i, row in enumerate(BAD) if "n_threads" not in row[2]]


@pytest.mark.parametrize("impl, fn, args, kwargs, exc, match", BAD_CASES)
def test_bad_input(impl, fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(impl, fn)(*args, **kwargs)


def test_inputs_unchanged(rng, layout):
    boxes = as_layout(random_boxes(rng, 200, np.float32), layout)
    scores = as_layout(random_scores(rng, 200, np.float32, ties=True), layout)
    idxs = as_layout(rng.integers(0, 3, 200), layout)
    copies = [boxes.copy(), scores.copy(), idxs.copy()]
    detection.nms(boxes, scores, 0.5)
    detection.batched_nms(boxes, scores, idxs, 0.5)
    detection.box_iou(boxes, boxes)
    detection.box_area(boxes)
    for a, c in zip((boxes, scores, idxs), copies):
        np.testing.assert_array_equal(a, c)
