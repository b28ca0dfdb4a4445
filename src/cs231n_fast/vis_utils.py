"""Drop-in for the course's ``cs231n/vis_utils.py`` (assignments 1 and 2): image grids.

``visualize_grid``, ``vis_grid`` and ``vis_nn`` keep the course's names, arguments, defaults,
layouts and values; pure NumPy, as in the course. Typical use, as in the notebooks::

    plt.imshow(visualize_grid(W1, padding=3).astype('uint8'))
    plt.imshow(visualize_grid(model.params['W1'].transpose(0, 2, 3, 1)))

Differences, all in the user's favour:

* an image whose pixels are all equal (a zero-initialised filter, say) is drawn as zeros;
  the course divides by ``max - min = 0`` and draws NaNs (with a RuntimeWarning); likewise
  ``vis_grid`` and ``vis_nn`` return zeros for an all-equal input;
* inputs of the wrong rank, empty inputs and ``vis_nn`` rows of unequal length or images of
  unequal shape raise a ``ValueError`` naming the argument.
"""

from math import ceil, sqrt

import numpy as np

from ._validation import positive_int, real_number

__all__ = ["visualize_grid", "vis_grid", "vis_nn"]


def _images(name, Xs):
    Xs = np.asarray(Xs)
    if Xs.ndim != 4 or Xs.shape[0] == 0:
        raise ValueError(f"{name} must be a 4-D array of shape (N, H, W, C) with N >= 1; got shape {Xs.shape}")
    return Xs


def _normalise(G):
    """``(G - min) / (max - min)`` (the course's dtype), or zeros when ``G`` is constant."""
    maxg = G.max()
    ming = G.min()
    if maxg == ming:
        return (G - ming) * 0.0
    return (G - ming) / (maxg - ming)


def visualize_grid(Xs, ubound=255.0, padding=1):
    """
    Reshape a 4D tensor of image data to a grid for easy visualization.

    Each image is scaled on its own to ``[0, ubound]``; the images fill a square grid of
    ``ceil(sqrt(N))`` rows and columns, row by row, separated by ``padding`` zero pixels.

    Parameters
    ----------
    Xs : array_like of shape (N, H, W, C)
        Image data.
    ubound : float, default 255.0
        Output grid will have values scaled to the range [0, ubound].
    padding : int, default 1
        The number of blank pixels between elements of the grid, >= 0.

    Returns
    -------
    grid : ndarray of shape (G * H + (G - 1) * padding, G * W + (G - 1) * padding, C), float64
        With ``G = ceil(sqrt(N))``; cells without an image are zero.

    Raises
    ------
    ValueError
        If ``Xs`` is not 4-D or holds no image, or ``padding`` is negative.
    TypeError
        If ``padding`` is not an int or ``ubound`` not a real number.
    """
    Xs = _images("Xs", Xs)
    ubound = real_number("ubound", ubound)
    padding = positive_int("padding", padding, 0)
    (N, H, W, C) = Xs.shape
    grid_size = int(ceil(sqrt(N)))
    grid_height = H * grid_size + padding * (grid_size - 1)
    grid_width = W * grid_size + padding * (grid_size - 1)
    grid = np.zeros((grid_height, grid_width, C))
    for n in range(N):
        y, x = divmod(n, grid_size)
        y0, x0 = y * (H + padding), x * (W + padding)
        img = Xs[n]
        low, high = np.min(img), np.max(img)
        if high > low:
            grid[y0 : y0 + H, x0 : x0 + W] = ubound * (img - low) / (high - low)
    return grid


def vis_grid(Xs):
    """visualize a grid of images

    Parameters
    ----------
    Xs : array_like of shape (N, H, W, C)
        Image data.

    Returns
    -------
    G : ndarray of shape (A * H + A, A * W + A, C)
        With ``A = ceil(sqrt(N))``: the images row by row, each followed by one separator
        pixel (row and column), the separators and empty cells at ``Xs.min()``; the whole grid
        normalised to [0, 1]. Integer inputs give float64, floating inputs keep their dtype.

    Raises
    ------
    ValueError
        If ``Xs`` is not 4-D or holds no image.
    """
    Xs = _images("Xs", Xs)
    (N, H, W, C) = Xs.shape
    A = int(ceil(sqrt(N)))
    G = np.full((A * H + A, A * W + A, C), np.min(Xs), dtype=Xs.dtype)
    for n in range(N):
        y, x = divmod(n, A)
        G[y * H + y : (y + 1) * H + y, x * W + x : (x + 1) * W + x, :] = Xs[n, :, :, :]
    # normalize to [0,1]
    return _normalise(G)


def vis_nn(rows):
    """visualize array of arrays of images

    Parameters
    ----------
    rows : sequence of N sequences of D images, each of shape (H, W, C)
        ``rows[y][x]`` is drawn in grid row ``y``, column ``x``.

    Returns
    -------
    G : ndarray of shape (N * H + N, D * W + D, C)
        The images, each followed by one separator pixel (row and column) of value 1 before
        normalisation, the whole grid normalised to [0, 1]. Integer images give float64,
        floating images keep the dtype of ``rows[0][0]``.

    Raises
    ------
    ValueError
        If ``rows`` is empty, its rows differ in length, or an image is not of the shape
        ``(H, W, C)`` of ``rows[0][0]``.
    """
    N = len(rows)
    if N == 0 or len(rows[0]) == 0:
        raise ValueError("rows must be a non-empty sequence of non-empty sequences of images")
    D = len(rows[0])
    Xs = np.asarray(rows[0][0])
    if Xs.ndim != 3:
        raise ValueError(f"rows[0][0] must be an image of shape (H, W, C); got shape {Xs.shape}")
    H, W, C = Xs.shape
    G = np.ones((N * H + N, D * W + D, C), Xs.dtype)
    for y in range(N):
        if len(rows[y]) != D:
            raise ValueError(f"rows[{y}] has {len(rows[y])} images; rows[0] has {D}")
        for x in range(D):
            img = np.asarray(rows[y][x])
            if img.shape != (H, W, C):
                raise ValueError(
                    f"rows[{y}][{x}] must have the shape {(H, W, C)} of rows[0][0]; got {img.shape}"
                )
            G[y * H + y : (y + 1) * H + y, x * W + x : (x + 1) * W + x, :] = img
    # normalize to [0,1]
    return _normalise(G)
