"""cs231n_fast.vis_utils: the course's image grids, checked cell by cell against their
definition (scaling, placement, separators, normalisation)."""

import math

import numpy as np
import pytest

from cs231n_fast.vis_utils import vis_grid, vis_nn, visualize_grid


def _cell(grid, r, c, H, W, padding):
    y0, x0 = r * (H + padding), c * (W + padding)
    return grid[y0 : y0 + H, x0 : x0 + W]


@pytest.mark.parametrize("N, padding", [(1, 1), (3, 1), (4, 0), (5, 3), (10, 2)])
def test_visualize_grid_places_and_scales_each_image(rng, N, padding):
    H, W, C = 3, 4, 3
    Xs = rng.standard_normal((N, H, W, C))
    grid = visualize_grid(Xs, padding=padding)
    G = math.ceil(math.sqrt(N))
    assert grid.shape == (G * H + (G - 1) * padding, G * W + (G - 1) * padding, C)
    assert grid.dtype == np.float64
    covered = np.zeros(grid.shape[:2], dtype=bool)
    for n in range(N):
        r, c = divmod(n, G)
        img = Xs[n]
        expected = 255.0 * (img - img.min()) / (img.max() - img.min())
        np.testing.assert_allclose(_cell(grid, r, c, H, W, padding), expected, rtol=1e-12, atol=1e-12)
        _cell(covered, r, c, H, W, padding)[...] = True
    # separators and empty cells are zero; each image spans exactly [0, 255]
    assert np.all(grid[~covered] == 0)
    for n in range(N):
        r, c = divmod(n, G)
        cell = _cell(grid, r, c, H, W, padding)
        assert cell.min() == 0.0 and cell.max() == pytest.approx(255.0, rel=1e-12)


def test_visualize_grid_ubound_and_integer_input():
    Xs = np.arange(2 * 2 * 2 * 1, dtype=np.uint8).reshape(2, 2, 2, 1)
    grid = visualize_grid(Xs, ubound=1.0, padding=0)
    # image 0 holds 0..3, image 1 holds 4..7: both scale to 0, 1/3, 2/3, 1
    expected = np.array([0, 1, 2, 3], dtype=np.float64).reshape(2, 2, 1) / 3
    np.testing.assert_allclose(grid[0:2, 0:2], expected, rtol=1e-15)
    np.testing.assert_allclose(grid[0:2, 2:4], expected, rtol=1e-15)
    assert np.all(grid[2:] == 0)  # the second grid row has no image


def test_visualize_grid_constant_image_is_zero_not_nan():
    """A zero-initialised filter: the course divides by zero and draws NaN."""
    Xs = np.zeros((2, 3, 3, 3))
    Xs[1] = np.arange(27).reshape(3, 3, 3)
    grid = visualize_grid(Xs, padding=1)
    assert np.all(np.isfinite(grid))
    assert np.all(grid[0:3, 0:3] == 0)
    assert grid[0:3, 4:7].max() == 255.0


def test_visualize_grid_does_not_modify_input(rng):
    Xs = rng.standard_normal((3, 2, 2, 3))
    before = Xs.copy()
    visualize_grid(Xs)
    np.testing.assert_array_equal(Xs, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_vis_grid_layout_and_normalisation(rng, dtype):
    N, H, W, C = 5, 2, 3, 2
    Xs = (rng.random((N, H, W, C)) * 200 + 10).astype(dtype)
    G = vis_grid(Xs)
    A = 3  # ceil(sqrt(5))
    assert G.shape == (A * H + A, A * W + A, C)
    # floating inputs keep their dtype, integers give float64 (the course's division)
    assert G.dtype == (np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.float64)
    lo, hi = float(Xs.min()), float(Xs.max())
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for n in range(N):
        y, x = divmod(n, A)
        cell = G[y * H + y : (y + 1) * H + y, x * W + x : (x + 1) * W + x]
        np.testing.assert_allclose(cell, (Xs[n].astype(np.float64) - lo) / (hi - lo), rtol=tol, atol=tol)
    # separators and empty cells hold the minimum, so 0 after normalisation
    mask = np.ones(G.shape[:2], dtype=bool)
    for n in range(N):
        y, x = divmod(n, A)
        mask[y * H + y : (y + 1) * H + y, x * W + x : (x + 1) * W + x] = False
    assert np.all(G[mask] == 0)


def test_vis_nn_layout_and_normalisation(rng):
    H, W, C = 2, 2, 3
    rows = [[rng.random((H, W, C)) * 0.5 + 0.25 for _ in range(3)] for _ in range(2)]
    G = vis_nn(rows)
    assert G.shape == (2 * H + 2, 3 * W + 3, C)
    # separators are 1 before normalisation, the images in [0.25, 0.75): the max is a separator
    lo = min(float(img.min()) for row in rows for img in row)
    for y in range(2):
        for x in range(3):
            cell = G[y * H + y : (y + 1) * H + y, x * W + x : (x + 1) * W + x]
            np.testing.assert_allclose(cell, (rows[y][x] - lo) / (1.0 - lo), rtol=1e-12)
    assert G[H, 0, 0] == 1.0 and G[0, W, 0] == 1.0


def test_constant_grids_are_zero():
    assert np.all(vis_grid(np.ones((2, 2, 2, 1))) == 0)
    assert np.all(vis_nn([[np.ones((2, 2, 1))]]) == 0)


BAD = [
    ("Xs", lambda: visualize_grid(np.zeros((3, 3, 3))), ValueError),
    ("Xs", lambda: visualize_grid(np.zeros((0, 3, 3, 3))), ValueError),
    ("padding", lambda: visualize_grid(np.zeros((1, 3, 3, 3)), padding=-1), ValueError),
    ("padding", lambda: visualize_grid(np.zeros((1, 3, 3, 3)), padding=1.5), TypeError),
    ("ubound", lambda: visualize_grid(np.zeros((1, 3, 3, 3)), ubound="255"), TypeError),
    ("Xs", lambda: vis_grid(np.zeros((3, 3))), ValueError),
    ("rows", lambda: vis_nn([]), ValueError),
    (r"rows\[1\]", lambda: vis_nn([[np.zeros((2, 2, 1))] * 2, [np.zeros((2, 2, 1))]]), ValueError),
    (r"rows\[0\]\[1\]", lambda: vis_nn([[np.zeros((2, 2, 1)), np.zeros((3, 2, 1))]]), ValueError),
]


@pytest.mark.parametrize("name, call, exc", BAD, ids=[f"{i}" for i in range(len(BAD))])
def test_bad_input(name, call, exc):
    with pytest.raises(exc, match=name):
        call()
