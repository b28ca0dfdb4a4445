"""Drop-in for the course's ``cs231n/image_utils.py`` (assignments 2 and 3).

Utility functions used for viewing and processing images: ``blur_image``,
``preprocess_image``/``deprocess_image`` with the ``SQUEEZENET_MEAN``/``SQUEEZENET_STD``
constants (the ImageNet statistics, as in the course), ``image_from_url``, ``load_image`` and
``imread``, with the course's names, arguments and return values.

The course reads images with ``imageio.imread`` and resizes them with Pillow; neither is a
dependency of cs231n_fast. Here images are decoded by Pillow (which is what imageio uses for
JPEG, PNG and GIF; matplotlib, the ``plot`` extra, depends on it): without Pillow, the
functions that read images raise an ``ImportError`` saying how to install it. Differences, all
in the user's favour:

* ``image_from_url`` never hangs: it gives up after ``timeout`` seconds (default 10, a
  keyword), and, as in the course, prints the error and returns ``None`` when the image
  cannot be fetched (no network, an unknown host, a refused connection, an HTTP error, a
  time-out), so the notebooks' ``if img is None: continue`` skips it. An unreadable image
  (the bytes are no image) prints and returns ``None`` likewise. No temporary file is
  written (the course writes one and leaves it behind when decoding fails);
* ``load_image(filename, size)`` scales to height x width as its docstring says (the course
  passes ``(height, width)`` where Pillow expects ``(width, height)``, a bug its own TODO
  notes, and so returns a transposed aspect ratio for non-square images); the nearest-
  neighbour resampling is kept;
* ``blur_image`` runs the compiled convolution (as the course's ``conv_forward_fast``).
"""

import http.client
import io
import os
import urllib.error
import urllib.request

import numpy as np

from ._validation import positive_int, real_number

__all__ = [
    "blur_image",
    "SQUEEZENET_MEAN",
    "SQUEEZENET_STD",
    "preprocess_image",
    "deprocess_image",
    "image_from_url",
    "load_image",
    "imread",
]

#: Per-channel (RGB) mean of the ImageNet training images, scaled to [0, 1].
SQUEEZENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
#: Per-channel (RGB) standard deviation of the ImageNet training images, scaled to [0, 1].
SQUEEZENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

#: Seconds :func:`image_from_url` waits for a connection or data before giving up.
DEFAULT_URL_TIMEOUT = 10.0


def _pillow():
    """``PIL.Image``, or an ImportError saying how to get it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "reading images needs Pillow, which cs231n_fast does not install by itself (the "
            "course reads images with imageio, which uses Pillow): `pip install pillow`, or "
            "`pip install cs231n_fast[plot]` (matplotlib depends on Pillow)"
        ) from None
    return Image


def _as_array(Image, im):
    """Pixels of an opened Pillow image as imageio returns them: palette images expanded."""
    im.load()
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    return np.asarray(im)


def imread(uri):
    """Read an image file into a NumPy array, as ``imageio.imread`` does for the course.

    Parameters
    ----------
    uri : str, os.PathLike or binary file object
        An image file (JPEG, PNG, GIF, BMP, ... anything Pillow reads).

    Returns
    -------
    img : ndarray
        ``(H, W)`` for grey-scale images, ``(H, W, 3)`` for RGB, ``(H, W, 4)`` with an alpha
        channel; uint8 for 8-bit images (palette images are expanded to RGB or RGBA).

    Raises
    ------
    ImportError
        If Pillow is not installed.
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not an image Pillow can read (the message names it).
    """
    Image = _pillow()
    name = uri if isinstance(uri, (str, os.PathLike)) else getattr(uri, "name", "the file")
    try:
        with Image.open(uri) as im:
            return _as_array(Image, im)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file {os.fspath(name)!r} not found") from None
    except (Image.UnidentifiedImageError, OSError, SyntaxError) as exc:
        # Pillow raises OSError (or SyntaxError in some decoders) for truncated/damaged files
        raise ValueError(f"{os.fspath(name)!r} is not an image Pillow can read ({exc})") from None


def blur_image(X):
    """
    A very gentle image blurring operation, to be used as a regularizer for
    image generation.

    Parameters
    ----------
    X : array_like of shape (N, 3, H, W)
        Image data.

    Returns
    -------
    X_blur : ndarray of shape (N, 3, H, W)
        Blurred version of X: each channel convolved with ``[[1, 2, 1], [2, 188, 2],
        [1, 2, 1]] / 200`` (zero padding 1). float64, as in the course (its filter is
        float64).

    Raises
    ------
    ValueError
        If ``X`` is not 4-D with 3 channels.
    """
    from .fast_layers import conv_forward_fast

    w_blur = np.zeros((3, 3, 3, 3))
    b_blur = np.zeros(3)
    blur_param = {"stride": 1, "pad": 1}
    for i in range(3):
        w_blur[i, i] = np.asarray([[1, 2, 1], [2, 188, 2], [1, 2, 1]], dtype=np.float32)
    w_blur /= 200.0
    return conv_forward_fast(X, w_blur, b_blur, blur_param)[0]


def preprocess_image(img):
    """Preprocess an image for squeezenet.

    Subtracts the pixel mean and divides by the standard deviation.

    Parameters
    ----------
    img : array_like of shape (..., 3)
        RGB pixel values in 0..255.

    Returns
    -------
    ndarray of the same shape, float32
        ``(img / 255 - SQUEEZENET_MEAN) / SQUEEZENET_STD``.
    """
    return (np.asarray(img).astype(np.float32) / 255.0 - SQUEEZENET_MEAN) / SQUEEZENET_STD


def deprocess_image(img, rescale=False):
    """Undo preprocessing on an image and convert back to uint8.

    Parameters
    ----------
    img : array_like of shape (..., 3)
        A preprocessed image (:func:`preprocess_image`).
    rescale : bool, default False
        Stretch the de-normalised values to [0, 1] before scaling to 0..255.

    Returns
    -------
    ndarray of the same shape, uint8
        ``clip(255 * (img * SQUEEZENET_STD + SQUEEZENET_MEAN), 0, 255)``, truncated.
    """
    img = np.asarray(img) * SQUEEZENET_STD + SQUEEZENET_MEAN
    if rescale:
        vmin, vmax = img.min(), img.max()
        img = (img - vmin) / (vmax - vmin)
    return np.clip(255 * img, 0.0, 255.0).astype(np.uint8)


def image_from_url(url, *, timeout=DEFAULT_URL_TIMEOUT):
    """
    Read an image from a URL. Returns a numpy array with the pixel data.

    Parameters
    ----------
    url : str
        An ``http(s)://`` (or ``file://``) address of an image.
    timeout : float, default 10, keyword-only
        Seconds to wait for the connection and for each read before giving up.

    Returns
    -------
    img : ndarray or None
        The pixels as :func:`imread` returns them; ``None`` (after printing the reason and
        the URL, as the course does) when the image cannot be fetched or decoded.

    Raises
    ------
    ImportError
        If Pillow is not installed (checked before any download).
    TypeError, ValueError
        If ``url`` is not a string, or is not a URL at all (``unknown url type``, as in the
        course), or ``timeout`` is not a finite number > 0.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a string; got {type(url).__name__}")
    timeout = real_number("timeout", timeout, 0.0, low_open=True)
    Image = _pillow()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as f:
            data = f.read()
    except urllib.error.HTTPError as e:  # a subclass of URLError: test it first
        print("HTTP Error: ", e.code, url)
        return None
    except urllib.error.URLError as e:
        print("URL Error: ", e.reason, url)
        return None
    except (OSError, http.client.HTTPException) as e:  # a read time-out, a reset, a cut-off body
        print("URL Error: ", e, url)
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            return _as_array(Image, im)
    except (Image.UnidentifiedImageError, OSError, SyntaxError) as e:
        print("Image Error: ", e, url)
        return None


def load_image(filename, size=None):
    """Load and resize an image from disk.

    Parameters
    ----------
    filename : str or os.PathLike
        Path to file.
    size : int, optional
        Size of shortest dimension after rescaling (nearest-neighbour resampling, as in the
        course); None keeps the image as it is.

    Returns
    -------
    img : ndarray
        As :func:`imread` returns it; of height x width ``round_down(H * s), round_down(W * s)``
        with ``s = size / min(H, W)`` when ``size`` is given.

    Raises
    ------
    ImportError, FileNotFoundError, ValueError
        As :func:`imread`; ``ValueError`` also when ``size`` < 1.
    """
    img = imread(filename)
    if size is not None:
        size = positive_int("size", size)
        Image = _pillow()
        orig_shape = np.array(img.shape[:2])
        min_idx = np.argmin(orig_shape)
        scale_factor = float(size) / orig_shape[min_idx]
        new_height, new_width = np.maximum((orig_shape * scale_factor).astype(int), 1)
        # Pillow takes (width, height)
        resized = Image.fromarray(img).resize((int(new_width), int(new_height)), resample=Image.NEAREST)
        img = np.array(resized)
    return img
