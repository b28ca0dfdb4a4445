"""cs231n_fast.generative: the losses' gradients, the models' gradients (float64, small),
training lowers the losses, the PNG writer, and ``cs231n-fast train --model vae|gan``.

Gradient checks: centred differences (h = 1e-6) on float64, error < 1e-7 relative to the
gradient's largest entry (helpers.grad_error); inputs drawn so no ReLU/LeakyReLU kink lies
within the step (checked by the result: a kink would show as an O(1) error).
"""

import re
import struct
import zlib

import numpy as np
import pytest
from helpers import grad_error, numerical_grad
from threadpoolctl import threadpool_limits

from cs231n_fast import generative as g
from cs231n_fast.__main__ import main
from cs231n_fast.data import load_digits


@pytest.fixture(autouse=True)
def one_thread():
    # The digits' products are tiny: one thread is faster (see cs231n_fast.training).
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    return load_digits()[0]


def _scalar_grad(f, x):
    return numerical_grad(lambda v: np.array(f(v)), x, np.array(1.0))


# --- losses ----------------------------------------------------------------------------------


def test_bce_with_logits_value_and_gradient(rng):
    s = rng.standard_normal((5, 3)) * 3
    t = rng.random((5, 3))
    loss, ds = g.bce_with_logits(s, t)
    p = 1 / (1 + np.exp(-s))
    np.testing.assert_allclose(loss, np.mean(-t * np.log(p) - (1 - t) * np.log(1 - p)), rtol=1e-12)
    assert grad_error(ds, _scalar_grad(lambda v: g.bce_with_logits(v, t)[0], s)) < 1e-7
    # stable for huge logits
    big, d = g.bce_with_logits(np.array([1000.0, -1000.0]), np.array([0.0, 1.0]))
    assert np.isfinite(big) and big == pytest.approx(1000.0)
    np.testing.assert_allclose(d, [0.5, -0.5])


def test_gan_losses_gradients(rng):
    real, fake = rng.standard_normal((6, 1)), rng.standard_normal((4, 1))
    loss, dreal, dfake = g.discriminator_loss(real, fake)
    expected = (g.bce_with_logits(real, np.ones_like(real))[0]
                + g.bce_with_logits(fake, np.zeros_like(fake))[0])
    assert loss == pytest.approx(expected)
    assert grad_error(dreal, _scalar_grad(lambda v: g.discriminator_loss(v, fake)[0], real)) < 1e-7
    assert grad_error(dfake, _scalar_grad(lambda v: g.discriminator_loss(real, v)[0], fake)) < 1e-7
    gl, dg = g.generator_loss(fake)
    assert gl == pytest.approx(g.bce_with_logits(fake, np.ones_like(fake))[0])
    assert grad_error(dg, _scalar_grad(lambda v: g.generator_loss(v)[0], fake)) < 1e-7
    ll, lr_, lf = g.ls_discriminator_loss(real, fake)
    assert ll == pytest.approx(0.5 * np.mean((real - 1) ** 2) + 0.5 * np.mean(fake ** 2))
    assert grad_error(lr_, _scalar_grad(lambda v: g.ls_discriminator_loss(v, fake)[0], real)) < 1e-7
    assert grad_error(lf, _scalar_grad(lambda v: g.ls_discriminator_loss(real, v)[0], fake)) < 1e-7
    lg, dlg = g.ls_generator_loss(fake)
    assert grad_error(dlg, _scalar_grad(lambda v: g.ls_generator_loss(v)[0], fake)) < 1e-7


def test_kl_and_reconstruction_gradients(rng):
    mu, logvar = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)) * 0.5
    kl, dmu, dlv = g.kl_divergence(mu, logvar)
    # closed form against the per-dimension KL of two Gaussians
    var = np.exp(logvar)
    assert kl == pytest.approx(np.sum(0.5 * (var + mu ** 2 - 1 - logvar)) / 4)
    assert kl >= 0 and g.kl_divergence(np.zeros((2, 3)), np.zeros((2, 3)))[0] == 0
    assert grad_error(dmu, _scalar_grad(lambda v: g.kl_divergence(v, logvar)[0], mu)) < 1e-7
    assert grad_error(dlv, _scalar_grad(lambda v: g.kl_divergence(mu, v)[0], logvar)) < 1e-7
    s, x = rng.standard_normal((4, 6)), rng.random((4, 6))
    loss, ds = g.bce_reconstruction(s, x)
    assert loss == pytest.approx(6 * g.bce_with_logits(s, x)[0])
    assert grad_error(ds, _scalar_grad(lambda v: g.bce_reconstruction(v, x)[0], s)) < 1e-7
    loss, dxh = g.gaussian_reconstruction(s, x)
    assert loss == pytest.approx(np.sum((s - x) ** 2) / 8)
    assert grad_error(dxh, _scalar_grad(lambda v: g.gaussian_reconstruction(v, x)[0], s)) < 1e-7


@pytest.mark.parametrize("call, exc, match", [
    (lambda: g.bce_with_logits(np.zeros(3), np.zeros(4)), ValueError, "targets must have the shape"),
    (lambda: g.bce_with_logits(np.zeros(0), np.zeros(0)), ValueError, "logits must not be empty"),
    (lambda: g.bce_with_logits(np.zeros(3, complex), np.zeros(3)), TypeError, "logits"),
    (lambda: g.kl_divergence(np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "mu and logvar"),
    (lambda: g.gaussian_reconstruction(np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "x must have"),
    (lambda: g.VAE(reconstruction="l1"), ValueError, "reconstruction"),
    (lambda: g.VAE(latent_dim=0), ValueError, "latent_dim"),
    (lambda: g.VAE(dtype=np.int32), TypeError, "dtype"),
    (lambda: g.VAE(beta=-1), ValueError, "beta"),
    (lambda: g.VAE(input_dim=4, latent_dim=2).loss(np.zeros((3, 4)), eps=np.zeros((3, 3))),
     ValueError, "eps must have shape"),
    (lambda: g.GAN(kind="wgan"), ValueError, "kind"),
    (lambda: g.GAN(loss="hinge"), ValueError, "loss"),
    (lambda: g.GAN(kind="dcgan", image_size=6), ValueError, "image_size"),
    (lambda: g.GAN().discriminator_step(np.zeros((2, 1, 7, 7)), np.zeros((2, 32))), ValueError, "x must hold 64"),
    (lambda: g.fit(object(), np.zeros((2, 64))), TypeError, "model must be"),
    (lambda: g.fit(g.VAE(), np.zeros((0, 64))), ValueError, "X must have shape"),
    (lambda: g.fit(g.VAE(), np.zeros((2, 64)), epochs=0), ValueError, "epochs"),
    (lambda: g.fit(g.VAE(), np.zeros((2, 64)), n_threads=0), ValueError, "n_threads"),
    (lambda: g.Adam(learning_rate=0), ValueError, "learning_rate"),
    (lambda: g.sample_grid(np.zeros((2, 3, 8, 8))), ValueError, "one channel"),
    (lambda: g.write_png("x.png", np.zeros((4, 4))), TypeError, "uint8"),
    (lambda: g.write_png("x.png", np.zeros((4, 4, 3), np.uint8)), ValueError, "image must be a 2-D"),
    (lambda: g.Reshape(2, 3).forward(np.zeros((4, 5))), ValueError, "x must have shape"),
])
def test_generative_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- models' gradients -----------------------------------------------------------------------


def _check_model_grads(model, loss_fn, grads, keys=None):
    """Every parameter's analytic gradient against centred differences of ``loss_fn()``."""
    params = model.params
    keys = list(grads) if keys is None else keys
    assert keys
    for key in keys:
        p = params[key]  # the layer's own array: perturbed in place and restored

        def f(v, p=p):
            p[...] = v
            return loss_fn()

        original = p.copy()
        num = _scalar_grad(f, original)  # perturbs a copy of original, written into p
        p[...] = original
        assert grad_error(grads[key], num) < 1e-7, key


def test_autoencoder_gradcheck(rng):
    model = g.Autoencoder(input_dim=6, hidden_dim=5, latent_dim=3, dtype=np.float64, seed=1)
    x = rng.random((4, 6))
    loss, grads = model.loss(x)
    grads = {k: v.copy() for k, v in grads.items()}
    assert set(grads) == set(model.params) and len(grads) == 8
    _check_model_grads(model, lambda: model.loss(x)[0], grads)


@pytest.mark.parametrize("reconstruction", ["bce", "gaussian"])
def test_vae_gradcheck(rng, reconstruction):
    model = g.VAE(input_dim=6, hidden_dim=5, latent_dim=3, reconstruction=reconstruction,
                  beta=0.7, dtype=np.float64, seed=2)
    x = rng.random((4, 6))
    eps = rng.standard_normal((4, 3))
    loss, grads = model.loss(x, eps=eps)
    grads = {k: v.copy() for k, v in grads.items()}
    assert loss == pytest.approx(model.last_terms["reconstruction"] + 0.7 * model.last_terms["kl"])
    _check_model_grads(model, lambda: model.loss(x, eps=eps)[0], grads)


@pytest.mark.parametrize("kind, loss_type", [("fc", "bce"), ("fc", "ls"), ("dcgan", "bce")])
def test_gan_gradcheck(rng, kind, loss_type):
    model = g.GAN(image_size=8 if kind == "dcgan" else 3, latent_dim=3, kind=kind, hidden_dim=5,
                  channels=2, loss=loss_type, dtype=np.float64, seed=3)
    s = model.image_size
    x = rng.uniform(-1, 1, (3, 1, s, s))
    z = rng.uniform(-1, 1, (2, 3))
    d_loss, d_grads = model.discriminator_step(x, z)
    d_grads = {k: v.copy() for k, v in d_grads.items()}
    assert all(k.startswith("discriminator.") for k in d_grads)
    _check_model_grads(model, lambda: model.discriminator_step(x, z)[0], d_grads)
    g_loss, g_grads = model.generator_step(z)
    g_grads = {k: v.copy() for k, v in g_grads.items()}
    assert all(k.startswith("generator.") for k in g_grads)
    assert set(d_grads) | set(g_grads) == set(model.params)
    _check_model_grads(model, lambda: model.generator_step(z)[0], g_grads)


def test_reshape_layer(rng):
    layer = g.Reshape(2, 3)
    x = rng.standard_normal((4, 6))
    out = layer.forward(x)
    assert out.shape == (4, 2, 3)
    np.testing.assert_array_equal(layer.backward(out), x)
    assert g.Reshape((2, 3)).shape == (2, 3) and repr(layer) == "Reshape(2, 3)"


# --- training --------------------------------------------------------------------------------


def test_vae_and_autoencoder_losses_decrease(digits):
    X = digits[:400]
    for model in (g.VAE(seed=0), g.Autoencoder(seed=0)):
        history = g.fit(model, X, epochs=4, batch_size=50, seed=0)
        losses = history["loss"]
        assert len(losses) == 4 and np.all(np.isfinite(losses))
        assert losses[-1] < 0.8 * losses[0], (type(model).__name__, losses)
    rec = model.reconstruct(X[:5])
    assert rec.shape == X[:5].shape and rec.min() >= 0 and rec.max() <= 1
    s = g.VAE(seed=0).sample(3, seed=0)
    assert s.shape == (3, 1, 8, 8) and s.dtype == np.float32 and 0 <= s.min() and s.max() <= 1


@pytest.mark.parametrize("kind", ["fc", "dcgan"])
def test_gan_steps_lower_their_losses(digits, kind):
    model = g.GAN(kind=kind, seed=0)
    x = 2 * digits[:64] - 1
    z = model.sample_noise(64, seed=1)
    opt_d, opt_g = g.Adam(1e-3, 0.5), g.Adam(1e-3, 0.5)
    before, grads = model.discriminator_step(x, z)
    for _ in range(5):
        opt_d.step(model, model.discriminator_step(x, z)[1])
    assert model.discriminator_step(x, z)[0] < before
    before = model.generator_step(z)[0]
    for _ in range(5):
        opt_g.step(model, model.generator_step(z)[1])
    assert model.generator_step(z)[0] < before
    history = g.fit(model, digits[:128], epochs=2, batch_size=64, seed=0)
    assert set(history) == {"d_loss", "g_loss"} and all(np.isfinite(history["d_loss"]))
    s = model.sample(5, seed=0)
    assert s.shape == (5, 1, 8, 8) and 0 <= s.min() and s.max() <= 1


def test_fit_is_reproducible(digits):
    a = g.fit(g.VAE(seed=4), digits[:100], epochs=2, batch_size=32, seed=5)
    b = g.fit(g.VAE(seed=4), digits[:100], epochs=2, batch_size=32, seed=5)
    assert a == b


# --- pictures and the command line -----------------------------------------------------------


def _read_png(path):
    """Parse our PNG: check signature and CRCs, return the (H, W) uint8 image."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = body
        pos += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 0)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, w + 1)
    assert not rows[:, 0].any()  # filter type 0
    return rows[:, 1:]


def test_sample_grid_and_png_roundtrip(tmp_path, rng):
    images = rng.random((10, 1, 8, 8))
    grid = g.sample_grid(images, nrow=4, scale=3, padding=1)
    assert grid.shape == (3 * 10 * 3, 4 * 10 * 3) and grid.dtype == np.uint8
    # image 5 sits at row 1, column 1; its pixel (0, 0) is scaled to a 3 x 3 block
    assert grid[(10 + 1) * 3, (10 + 1) * 3] == np.round(images[5, 0, 0, 0] * 255)
    assert not grid[-30:, -30:].any()  # empty cells are black
    path = tmp_path / "grid.png"
    g.write_png(path, grid)
    np.testing.assert_array_equal(_read_png(path), grid)
    try:
        import matplotlib.image as mpimg
    except ImportError:
        return
    np.testing.assert_allclose(mpimg.imread(path), grid / 255, atol=1e-6)


@pytest.mark.parametrize("model", ["vae", "gan"])
def test_cli_train_generative_writes_png(tmp_path, capsys, model):
    out = tmp_path / f"{model}.png"
    argv = ["train", "--model", model, "--epochs", "2", "--num-train", "200", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}: 64 samples, 320x320 pixels" in text
    assert text.count("epoch ") == 2
    image = _read_png(out)
    assert image.shape == (320, 320) and image.max() > 0
    # losses are printed per epoch, finite, and the VAE's falls (the GAN's two losses need not)
    assert "nan" not in text.lower()
    if model == "vae":
        losses = [float(v) for v in re.findall(r"^epoch +\d+/2: loss ([\d.]+),", text, re.M)]
        assert len(losses) == 2 and losses[1] < losses[0], losses


def test_cli_train_generative_bad_arguments(tmp_path, capsys):
    for argv, match in (
        (["--model", "convnet", "--out", str(tmp_path / "a.png")], "--out: only used with"),
        (["--model", "vae", "--data", "cifar10"], "--data: not used with --model vae"),
        (["--model", "gan", "--compare"], "--compare: not used"),
        (["--model", "vae", "--out", str(tmp_path / "a.jpg")], "must name a .png"),
        (["--model", "vae", "--out", str(tmp_path / "nowhere" / "a.png")], "cannot write"),
        (["--model", "vae", "--num-train", "5000"], "--num-train: at most 1797"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(["train", *argv])
        assert exc.value.code == 2
        assert match in capsys.readouterr().err
