"""The course's NumPy im2col helpers (cs231n_fast.im2col) against the compiled kernels and a loop.

im2col only gathers, so it is compared bit for bit; col2im sums overlapping windows, in another
order than the kernel, so it is compared bit for bit on integer-valued inputs (sums exact) and
within the per-dtype tolerance of tests/helpers.py on random ones.
"""

import itertools

import numpy as np
import pytest

from cs231n_fast import ops
from cs231n_fast.im2col import col2im_indices, get_im2col_indices, im2col_indices
from helpers import LAYOUTS, as_layout, assert_matches_reference

# (x shape, field_height, field_width, padding, stride): non-square fields (swapping them
# changes the answer), strides 1-3, pads 0-3, windows that do not tile, overlapping windows,
# ones everywhere, a batch of one.
GEOMETRIES = [
    ((2, 3, 7, 6), 3, 3, 1, 1),
    ((2, 3, 7, 6), 2, 3, 0, 2),
    ((2, 3, 7, 6), 3, 2, 0, 2),
    ((1, 2, 5, 8), 3, 2, 2, 3),
    ((3, 1, 4, 4), 4, 4, 0, 1),
    ((1, 1, 1, 1), 1, 1, 0, 1),
    ((2, 2, 6, 5), 1, 1, 3, 2),
    ((1, 4, 9, 9), 5, 3, 1, 3),  # (9 + 2 - 5) / 3 tiles, (9 + 2 - 3) / 3 does not
]


def _course_layout(cols):
    """ops.im2col's (N, K, P) as the course's (K, P * N), columns ordered (window, image)."""
    n, k, p = cols.shape
    return cols.transpose(1, 2, 0).reshape(k, p * n)


def _im2col_loop(x, fh, fw, pad, stride):
    """The definition, one element at a time."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    cols = np.zeros((c * fh * fw, oh * ow * n), dtype=x.dtype)
    for ci, ii, jj, oy, ox, ni in itertools.product(
        range(c), range(fh), range(fw), range(oh), range(ow), range(n)
    ):
        cols[(ci * fh + ii) * fw + jj, (oy * ow + ox) * n + ni] = xp[ni, ci, oy * stride + ii, ox * stride + jj]
    return cols


@pytest.mark.parametrize("shape, fh, fw, pad, stride", GEOMETRIES)
def test_im2col_indices_equals_kernel_and_loop(rng, dtype, shape, fh, fw, pad, stride):
    x = rng.standard_normal(shape).astype(dtype)
    cols = im2col_indices(x, fh, fw, pad, stride)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(cols, _course_layout(ops.im2col(x, fh, fw, stride, pad)))
    np.testing.assert_array_equal(cols, _im2col_loop(x, fh, fw, pad, stride))


@pytest.mark.parametrize("shape, fh, fw, pad, stride", GEOMETRIES)
def test_col2im_indices_equals_kernel(rng, dtype, shape, fh, fw, pad, stride):
    n, c, h, w = shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    k, p = c * fh * fw, oh * ow
    per_image = rng.standard_normal((n, k, p)).astype(dtype)
    cols = _course_layout(per_image)
    x = col2im_indices(cols, shape, fh, fw, pad, stride)
    assert x.shape == shape and x.dtype == dtype
    expected = ops.col2im(per_image.astype(np.float64), shape, fh, fw, stride, pad)
    assert_matches_reference(x, expected, dtype, "col2im_indices")

    # integer-valued columns: every sum is exact, so any summation order gives the same bits
    ints = rng.integers(-50, 50, size=(n, k, p)).astype(dtype)
    x = col2im_indices(_course_layout(ints), shape, fh, fw, pad, stride)
    np.testing.assert_array_equal(x, ops.col2im(ints, shape, fh, fw, stride, pad))


@pytest.mark.parametrize("shape, fh, fw, pad, stride", GEOMETRIES[:4])
def test_col2im_indices_is_adjoint_of_im2col_indices(rng, shape, fh, fw, pad, stride):
    x = rng.standard_normal(shape)
    cols = im2col_indices(x, fh, fw, pad, stride)
    c = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * col2im_indices(c, shape, fh, fw, pad, stride))
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs))


def test_im2col_indices_keeps_any_dtype(rng):
    """Nothing is cast, as in the course: integers stay integers, bools stay bools."""
    x = rng.integers(-9, 9, size=(2, 2, 5, 4)).astype(np.int16)
    cols = im2col_indices(x, 3, 2, 1, 1)
    assert cols.dtype == np.int16
    np.testing.assert_array_equal(cols, _im2col_loop(x, 3, 2, 1, 1))
    b = x > 0
    np.testing.assert_array_equal(im2col_indices(b, 3, 2, 1, 1), cols > 0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_im2col_indices_layouts_and_no_mutation(rng, layout):
    x0 = rng.standard_normal((2, 3, 6, 5))
    x = as_layout(x0, layout)
    cols = im2col_indices(x, 3, 2, 1, 2)
    np.testing.assert_array_equal(cols, im2col_indices(x0, 3, 2, 1, 2))
    np.testing.assert_array_equal(x, x0)
    c = as_layout(cols, layout)
    before = np.array(c)
    np.testing.assert_array_equal(
        col2im_indices(c, x.shape, 3, 2, 1, 2), col2im_indices(np.ascontiguousarray(cols), x.shape, 3, 2, 1, 2)
    )
    np.testing.assert_array_equal(c, before)


def test_get_im2col_indices_shapes_are_integers():
    """The course's file fails under NumPy 2: it sizes np.arange with a float from `/`."""
    k, i, j = get_im2col_indices((2, 3, 8, 7), 3, 2, padding=1, stride=2)
    oh, ow = (8 + 2 - 3) // 2 + 1, (7 + 2 - 2) // 2 + 1
    assert k.shape == (3 * 3 * 2, 1) and i.shape == j.shape == (3 * 3 * 2, oh * ow)
    assert k.dtype.kind == i.dtype.kind == j.dtype.kind == "i"
    # row (c * fh + ii) * fw + jj, window oy * OW + ox
    row, win = (1 * 3 + 2) * 2 + 1, 2 * ow + 3
    assert (k[row, 0], i[row, win], j[row, win]) == (1, 2 * 2 + 2, 3 * 2 + 1)


def test_course_defaults():
    """padding=1, stride=1 for im2col; 3 x 3, padding=1, stride=1 for col2im, as the course."""
    x = np.arange(2 * 1 * 4 * 4, dtype=np.float64).reshape(2, 1, 4, 4)
    np.testing.assert_array_equal(im2col_indices(x, 3, 3), im2col_indices(x, 3, 3, 1, 1))
    cols = im2col_indices(x, 3, 3)
    np.testing.assert_array_equal(col2im_indices(cols, x.shape), col2im_indices(cols, x.shape, 3, 3, 1, 1))


BAD = [
    ("x", lambda: im2col_indices(np.zeros((2, 3, 4)), 2, 2), ValueError),
    ("field_height", lambda: im2col_indices(np.zeros((1, 1, 3, 3)), 6, 2, 1, 1), ValueError),
    ("field_width", lambda: im2col_indices(np.zeros((1, 1, 3, 3)), 2, 6, 1, 1), ValueError),
    ("field_height", lambda: im2col_indices(np.zeros((1, 1, 3, 3)), 0, 2), ValueError),
    ("field_width", lambda: im2col_indices(np.zeros((1, 1, 3, 3)), 2, 2.5), TypeError),
    ("padding", lambda: im2col_indices(np.zeros((1, 1, 3, 3)), 2, 2, -1), ValueError),
    ("stride", lambda: im2col_indices(np.zeros((1, 1, 3, 3)), 2, 2, 0, 0), ValueError),
    ("x_shape", lambda: get_im2col_indices((1, 3, 3), 2, 2), ValueError),
    ("x_shape", lambda: get_im2col_indices(None, 2, 2), TypeError),
    ("x_shape", lambda: col2im_indices(np.zeros((4, 4)), (1, 0, 3, 3), 2, 2, 0, 1), ValueError),
    ("cols", lambda: col2im_indices(np.zeros((4, 5)), (1, 1, 3, 3), 2, 2, 0, 1), ValueError),
]


@pytest.mark.parametrize("name, call, exc", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input(name, call, exc):
    with pytest.raises(exc, match=name):
        call()
