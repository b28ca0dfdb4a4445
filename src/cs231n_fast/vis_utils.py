"""Drop-in for the course's ``cs231n/vis_utils.py`` (assignments 1 and 2): image grids.

Beyond the course's file: :func:`show_attention` draws a captioner's attention weights over
the image, one panel per word
(:class:`~cs231n_fast.classifiers.attention_rnn.AttentionCaptioningRNN`),
on :func:`upsample_attention` (pure NumPy); it needs matplotlib (the ``plot`` extra).

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

__all__ = ["visualize_grid", "vis_grid", "vis_nn", "upsample_attention", "show_attention"]


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


# --- attention maps (beyond the course's file) --------------------------------------------------


def _grid_shape(grid_shape, n_regions):
    """``grid_shape`` as ``(gh, gw)`` with ``gh * gw == n_regions``; default the square grid."""
    if grid_shape is None:
        side = int(round(sqrt(n_regions)))
        if side * side != n_regions:
            raise ValueError(
                f"grid_shape must be given when the number of regions L = {n_regions} is not a "
                "square (the regions are laid out row by row on a (gh, gw) grid, gh * gw = L)"
            )
        return side, side
    if not isinstance(grid_shape, (tuple, list)) or len(grid_shape) != 2:
        raise ValueError(f"grid_shape must be a pair (gh, gw); got {grid_shape!r}")
    gh = positive_int("grid_shape[0]", grid_shape[0])
    gw = positive_int("grid_shape[1]", grid_shape[1])
    if gh * gw != n_regions:
        raise ValueError(
            f"grid_shape {(gh, gw)} holds {gh * gw} regions; the attention weights have L = "
            f"{n_regions}"
        )
    return gh, gw


def _interpolation_matrix(out_size, in_size, smooth):
    """(out_size, in_size) matrix resampling a length-``in_size`` signal at the centres of
    ``out_size`` equal cells: nearest cell, or linear between the two nearest cell centres."""
    centres = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    m = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if not smooth:
        m[rows, np.clip(np.floor(centres + 0.5), 0, in_size - 1).astype(np.intp)] = 1.0
        return m
    pos = np.clip(centres, 0, in_size - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = pos - lo
    np.add.at(m, (rows, lo), 1.0 - frac)
    np.add.at(m, (rows, hi), frac)
    return m


def upsample_attention(alphas, grid_shape, out_shape, smooth=True):
    """Attention weights over a grid of image regions, resampled to the image's pixels.

    Parameters
    ----------
    alphas : array_like of shape (T, L) or (L,)
        Weights over L regions laid out row by row on a ``grid_shape`` grid (the order of
        ``features.reshape(N, D, h * w)``, and of a (N, L, D) grid read row by row).
    grid_shape : (int, int) or None
        ``(gh, gw)`` with ``gh * gw = L``; None for the square grid.
    out_shape : (int, int)
        ``(height, width)`` of the image in pixels.
    smooth : bool, default True
        Bilinear interpolation between the regions' centres; False repeats each region's
        weight over its block of pixels (nearest).

    Returns
    -------
    maps : float64 ndarray of shape (T, height, width), or (height, width) for 1-D ``alphas``

    Examples
    --------
    >>> from cs231n_fast.vis_utils import upsample_attention
    >>> upsample_attention([1.0, 0.0, 0.0, 0.0], (2, 2), (4, 4), smooth=False)
    array([[1., 1., 0., 0.],
           [1., 1., 0., 0.],
           [0., 0., 0., 0.],
           [0., 0., 0., 0.]])
    """
    a = np.asarray(alphas)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"alphas must be a real numeric array; got dtype {a.dtype}")
    single = a.ndim == 1
    if single:
        a = a[None]
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(
            f"alphas must have shape (T, L) or (L,) with L >= 1; got shape {np.shape(alphas)}"
        )
    gh, gw = _grid_shape(grid_shape, a.shape[1])
    if not isinstance(out_shape, (tuple, list)) or len(out_shape) != 2:
        raise ValueError(f"out_shape must be a pair (height, width); got {out_shape!r}")
    height = positive_int("out_shape[0]", out_shape[0])
    width = positive_int("out_shape[1]", out_shape[1])
    ry = _interpolation_matrix(height, gh, smooth)
    rx = _interpolation_matrix(width, gw, smooth)
    maps = ry @ a.astype(np.float64).reshape(-1, gh, gw) @ rx.T
    return maps[0] if single else maps


def _display_image(image):
    """``image`` as imshow shows it: (H, W) or (H, W, 3|4); floats outside [0, 1] rescaled."""
    img = np.asarray(image)
    if img.dtype.kind not in "fiub":
        raise TypeError(f"image must be a real numeric array; got dtype {img.dtype}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3, 4))) or img.size == 0:
        raise ValueError(
            "image must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
            f"got shape {img.shape}"
        )
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.dtype.kind == "f" and (img.min() < 0 or img.max() > 1):
        img = _normalise(img.astype(np.float64))
    return img


def show_attention(image, caption_words, alphas, grid_shape=None, *, ncols=5, smooth=True,
                   overlay_alpha=0.6, panel_size=2.5, fig=None):
    """Draw where a captioner looked for each word: the image under its attention map.

    One panel per word, titled by the word: the image with that word's attention weights,
    upsampled to the image (:func:`upsample_attention`) and each scaled to its own maximum,
    laid over it in grey (bright where the model looked), as in Xu et al. (2015), figure 3.

    Parameters
    ----------
    image : array_like of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)
        The picture (uint8, or floats; floats outside [0, 1] are rescaled to it).
    caption_words : str or sequence of str
        The caption, a string split on whitespace (``decode_captions``'s output) or a list
        of words: word ``t`` is drawn with ``alphas[t]``.
    alphas : array_like of shape (T, L)
        Attention weights over the L regions, one row per word, as ``sample`` returns them
        for one image (``alphas[n]``); T >= the number of words (extra rows, such as those
        after ``<END>``, are not drawn).
    grid_shape : (int, int), optional
        ``(gh, gw)`` with ``gh * gw = L``: how the regions tile the image (row by row); the
        square grid by default.
    ncols : int, default 5
        Panels per row.
    smooth : bool, default True
        Bilinear upsampling; False draws each region as a block.
    overlay_alpha : float in [0, 1], default 0.6
        Opacity of the attention map.
    panel_size : float, default 2.5
        Width and height of a panel in inches (when the figure is made here).
    fig : matplotlib Figure, optional
        Draw into this figure (for example a ``matplotlib.figure.Figure`` to save without
        pyplot); by default a new figure from ``matplotlib.pyplot.figure``.

    Returns
    -------
    fig : matplotlib Figure
        With one axes per word.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install "cs231n_fast[plot]"``).
    ValueError, TypeError
        For an image, caption, weights or grid of the wrong shape or type.
    """
    img = _display_image(image)
    if isinstance(caption_words, str):
        words = caption_words.split()
    else:
        words = list(caption_words)
        if not all(isinstance(w, str) for w in words):
            raise TypeError("caption_words must be a string or a sequence of strings")
    a = np.asarray(alphas)
    if a.ndim != 2:
        raise ValueError(f"alphas must have shape (T, L), one row per word; got shape {a.shape}")
    if not words or len(words) > a.shape[0]:
        raise ValueError(
            f"caption_words must hold 1 to T = {a.shape[0]} words (one row of alphas each); "
            f"got {len(words)}"
        )
    ncols = positive_int("ncols", ncols)
    overlay_alpha = real_number("overlay_alpha", overlay_alpha, 0.0, 1.0)
    panel_size = real_number("panel_size", panel_size, 0.0, low_open=True)
    maps = upsample_attention(a[: len(words)], grid_shape, img.shape[:2], smooth)
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "show_attention needs matplotlib, which is not installed: "
            'pip install "cs231n_fast[plot]"'
        ) from None
    ncols = min(ncols, len(words))
    nrows = int(ceil(len(words) / ncols))
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(panel_size * ncols, panel_size * nrows))
    elif not isinstance(fig, matplotlib.figure.Figure):
        raise TypeError(f"fig must be a matplotlib Figure or None; got {type(fig).__name__}")
    gray = "gray" if img.ndim == 2 else None
    for t, (word, m) in enumerate(zip(words, maps)):
        ax = fig.add_subplot(nrows, ncols, t + 1)
        ax.imshow(img, cmap=gray)
        top = m.max()
        ax.imshow(m, cmap="gray", alpha=overlay_alpha, vmin=0.0, vmax=top if top > 0 else 1.0)
        ax.set_title(word)
        ax.axis("off")
    return fig
