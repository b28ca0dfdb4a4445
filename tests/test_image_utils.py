"""cs231n_fast.image_utils: the course's image helpers. Images are written with Pillow (an
optional dependency; the reading tests skip without it) and URLs served from the loopback
interface only, so nothing leaves the machine."""

import contextlib
import http.server
import socket
import sys
import threading
import time

import numpy as np
import pytest

from cs231n_fast.image_utils import (
    SQUEEZENET_MEAN,
    SQUEEZENET_STD,
    blur_image,
    deprocess_image,
    image_from_url,
    imread,
    load_image,
    preprocess_image,
)
from helpers import RTOL


def _pil():
    return pytest.importorskip("PIL.Image")


def _save(path, array):
    _pil().fromarray(array).save(path)
    return path


# --- constants, preprocessing --------------------------------------------------------------------


def test_squeezenet_constants():
    np.testing.assert_array_equal(SQUEEZENET_MEAN, np.array([0.485, 0.456, 0.406], dtype=np.float32))
    np.testing.assert_array_equal(SQUEEZENET_STD, np.array([0.229, 0.224, 0.225], dtype=np.float32))
    assert SQUEEZENET_MEAN.dtype == SQUEEZENET_STD.dtype == np.float32


def test_preprocess_image_formula(rng):
    img = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    out = preprocess_image(img)
    assert out.dtype == np.float32 and out.shape == img.shape
    expected = (img.astype(np.float64) / 255.0 - SQUEEZENET_MEAN.astype(np.float64)) / SQUEEZENET_STD.astype(
        np.float64
    )
    np.testing.assert_allclose(out, expected, rtol=RTOL[np.dtype(np.float32)], atol=1e-6)


def test_deprocess_undoes_preprocess_within_one_level(rng):
    img = rng.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    back = deprocess_image(preprocess_image(img))
    assert back.dtype == np.uint8
    assert np.max(np.abs(back.astype(int) - img.astype(int))) <= 1  # truncation by astype


def test_deprocess_clips_and_rescales():
    img = np.zeros((1, 2, 3), dtype=np.float32)
    img[0, 0] = 100.0  # far above 255 after de-normalisation
    img[0, 1] = -100.0
    out = deprocess_image(img)
    assert np.all(out[0, 0] == 255) and np.all(out[0, 1] == 0)
    out = deprocess_image(img, rescale=True)  # stretched to [0, 1] first: the extremes map to 0 and 255
    assert out.max() == 255 and out.min() == 0


# --- blur ---------------------------------------------------------------------------------------


def test_blur_image_equals_its_stencil(rng):
    X = rng.standard_normal((2, 3, 5, 6))
    out = blur_image(X)
    assert out.shape == X.shape and out.dtype == np.float64
    k = np.array([[1, 2, 1], [2, 188, 2], [1, 2, 1]], dtype=np.float64) / 200.0
    Xp = np.pad(X, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros_like(X)
    for di in range(3):
        for dj in range(3):
            expected += k[di, dj] * Xp[:, :, di : di + 5, dj : dj + 6]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_blur_image_keeps_a_constant_interior():
    X = np.full((1, 3, 5, 5), 7.0)
    out = blur_image(X)
    np.testing.assert_allclose(out[:, :, 1:-1, 1:-1], 7.0, rtol=1e-14)  # the weights sum to 1


# --- reading images -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rgb", "grey", "rgba", "palette"])
def test_imread_png(tmp_path, rng, kind):
    Image = _pil()
    if kind == "rgb":
        a = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
        im, expected = Image.fromarray(a), a
    elif kind == "grey":
        a = rng.integers(0, 256, size=(5, 4), dtype=np.uint8)
        im, expected = Image.fromarray(a), a
    elif kind == "rgba":
        a = rng.integers(0, 256, size=(5, 4, 4), dtype=np.uint8)
        im, expected = Image.fromarray(a), a
    else:  # a palette image is expanded to RGB, as imageio does
        a = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
        a[:, :2] = [10, 20, 30]
        im = Image.fromarray(a).quantize(colors=256)
        expected = np.asarray(im.convert("RGB"))
    path = tmp_path / "img.png"
    im.save(path)
    out = imread(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(imread(str(path)), expected)


def test_imread_errors_name_the_file(tmp_path):
    _pil()
    with pytest.raises(FileNotFoundError, match="nope.png"):
        imread(tmp_path / "nope.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not a JPEG")
    with pytest.raises(ValueError, match="bad.jpg"):
        imread(bad)


def test_without_pillow_reading_raises_importerror(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    for call in (lambda: imread(tmp_path / "x.png"), lambda: image_from_url("file:///x.png")):
        with pytest.raises(ImportError, match="pip install pillow"):
            call()


def test_load_image_resizes_height_by_width(tmp_path, rng):
    """A 2 x 3 image with size=4 becomes 4 x 6 (each pixel a 2 x 2 block, nearest neighbour).
    The course hands Pillow (height, width) as (width, height) and gets 6 x 4."""
    a = rng.integers(0, 256, size=(2, 3, 3), dtype=np.uint8)
    path = _save(tmp_path / "small.png", a)
    np.testing.assert_array_equal(load_image(path), a)
    out = load_image(path, size=4)
    assert out.shape == (4, 6, 3)
    np.testing.assert_array_equal(out, np.repeat(np.repeat(a, 2, axis=0), 2, axis=1))
    with pytest.raises(ValueError, match="size"):
        load_image(path, size=0)


# --- image_from_url -----------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    files = {}

    def do_GET(self):
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@contextlib.contextmanager
def _server(files):
    _Handler.files = files
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_image_from_url_http_and_file(tmp_path, rng):
    a = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    path = _save(tmp_path / "img.png", a)
    np.testing.assert_array_equal(image_from_url(path.as_uri()), a)
    with _server({"/img.png": path.read_bytes(), "/junk.jpg": b"not an image"}) as base:
        np.testing.assert_array_equal(image_from_url(base + "/img.png", timeout=5), a)
        assert image_from_url(base + "/missing.png", timeout=5) is None
        assert image_from_url(base + "/junk.jpg", timeout=5) is None


def test_image_from_url_refused_connection_returns_none(capsys):
    _pil()
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.jpg"
    assert image_from_url(url, timeout=5) is None
    assert url in capsys.readouterr().out  # the course prints the error and the URL


def test_image_from_url_never_hangs(capsys):
    """A server that accepts the connection and never answers: the read times out."""
    _pil()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)  # the kernel completes the handshake; nobody ever reads or writes
        url = f"http://127.0.0.1:{s.getsockname()[1]}/slow.jpg"
        start = time.monotonic()
        assert image_from_url(url, timeout=0.3) is None
        assert time.monotonic() - start < 10
    assert url in capsys.readouterr().out


BAD = [
    ("url", lambda: image_from_url(b"http://x"), TypeError),
    ("timeout", lambda: image_from_url("http://127.0.0.1/x", timeout=0), ValueError),
    ("timeout", lambda: image_from_url("http://127.0.0.1/x", timeout=float("inf")), ValueError),
    ("unknown url type", lambda: image_from_url("not a url"), ValueError),
]


@pytest.mark.parametrize("name, call, exc", BAD, ids=[b[0] for b in BAD])
def test_bad_input(name, call, exc):
    _pil()
    with pytest.raises(exc, match=name):
        call()

