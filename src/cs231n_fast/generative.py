"""Generative models on our layers: an autoencoder, a variational autoencoder and a GAN.

The lecture notes tell these as narrative; here they are small models built from the layer
classes of :mod:`cs231n_fast.nn` (:class:`~cs231n_fast.nn.Affine`, :class:`~cs231n_fast.nn.Conv2D`,
:class:`~cs231n_fast.nn.ConvTranspose2D`, ...) with every loss and its gradient written out,
trained with the course's Adam (:func:`cs231n_fast.optim.adam`) on the embedded 8 x 8 digits
(:func:`cs231n_fast.data.load_digits`).

Losses (each returns the loss and its gradients, means over the batch)
    :func:`bce_with_logits`, :func:`discriminator_loss`, :func:`generator_loss` (the course's
    GAN losses, ``GANs-PyTorch.ipynb``), :func:`ls_discriminator_loss`,
    :func:`ls_generator_loss` (least squares GAN), :func:`kl_divergence` (of
    ``N(mu, exp(logvar))`` from ``N(0, 1)``), :func:`bce_reconstruction` and
    :func:`gaussian_reconstruction` (summed over pixels).

Models (``params``/``grads`` keyed ``"<part>.<index>.<name>"``, e.g. ``"encoder.0.W"``)
    :class:`Autoencoder` (``loss(x)``), :class:`VAE` (``loss(x, eps=None)`` with the
    reparameterisation trick ``z = mu + exp(logvar / 2) * eps``, ``sample(n)``) and
    :class:`GAN` (fully connected or DCGAN-style generator and discriminator;
    ``discriminator_step(x, z)``, ``generator_step(z)``, ``sample(n)``).

Training
    :func:`fit` runs Adam over minibatches for any of the three and returns the per-epoch mean
    losses; :func:`sample_grid` and :func:`write_png` turn samples into a PNG image (an own
    ~20-line PNG writer on :mod:`zlib`, so no plotting library is needed).

Examples
--------
>>> import numpy as np
>>> from cs231n_fast import generative
>>> from cs231n_fast.data import load_digits
>>> X, _ = load_digits()
>>> vae = generative.VAE(latent_dim=8, seed=0)
>>> history = generative.fit(vae, X[:200], epochs=2, batch_size=50, seed=0)
>>> len(history["loss"])
2
>>> vae.sample(4, seed=0).shape
(4, 1, 8, 8)
"""

import math
import struct
import zlib

import numpy as np

from . import optim
from ._validation import as_array, check_ndim, make_rng, positive_int, real_number
from .nn import (
    Affine,
    Conv2D,
    ConvTranspose2D,
    Flatten,
    LeakyReLU,
    ReLU,
    Sequential,
)
from .nn.layers import _Layer

__all__ = [
    "bce_with_logits",
    "discriminator_loss",
    "generator_loss",
    "ls_discriminator_loss",
    "ls_generator_loss",
    "kl_divergence",
    "bce_reconstruction",
    "gaussian_reconstruction",
    "sigmoid",
    "Reshape",
    "Autoencoder",
    "VAE",
    "GAN",
    "Adam",
    "fit",
    "sample_grid",
    "write_png",
]


# --- losses ------------------------------------------------------------------------------------


def sigmoid(x):
    """The logistic function, computed without overflow for any finite ``x``."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _float(name, a):
    a = as_array(name, a)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def bce_with_logits(logits, targets):
    """Binary cross-entropy of ``sigmoid(logits)`` against ``targets``, mean over all entries.

    ``loss = mean(max(s, 0) - s * t + log(1 + exp(-|s|)))`` (stable for any logit ``s``), the
    course's ``bce_loss``; ``dlogits = (sigmoid(s) - t) / size``.

    Parameters
    ----------
    logits : array_like
    targets : array_like of the same shape, values in [0, 1]

    Returns
    -------
    loss : float
    dlogits : ndarray of the shape of ``logits``

    Examples
    --------
    >>> from cs231n_fast.generative import bce_with_logits
    >>> loss, d = bce_with_logits(np.zeros(4), np.ones(4))
    >>> round(loss, 6)
    0.693147
    """
    s, t = _float("logits", logits), _float("targets", targets)
    if s.shape != t.shape:
        raise ValueError(f"targets must have the shape of logits {s.shape}; got {t.shape}")
    if s.size == 0:
        raise ValueError("logits must not be empty")
    loss = np.maximum(s, 0) - s * t + np.log1p(np.exp(-np.abs(s)))
    return float(loss.mean()), ((sigmoid(s) - t) / s.size).astype(s.dtype, copy=False)


def discriminator_loss(logits_real, logits_fake):
    """The course's GAN discriminator loss: BCE of real images against 1 plus fake against 0.

    Parameters
    ----------
    logits_real, logits_fake : array_like of shape (N,) or (N, 1)
        The discriminator's scores (before the sigmoid) of real and generated images.

    Returns
    -------
    loss : float
        ``bce(logits_real, 1) + bce(logits_fake, 0)``, each a mean over its batch.
    dreal, dfake : ndarray
        Gradients with respect to ``logits_real`` and ``logits_fake``.
    """
    real, dreal = bce_with_logits(logits_real, np.ones(np.shape(logits_real)))
    fake, dfake = bce_with_logits(logits_fake, np.zeros(np.shape(logits_fake)))
    return real + fake, dreal, dfake


def generator_loss(logits_fake):
    """The course's (non-saturating) GAN generator loss: BCE of the fakes' scores against 1.

    Returns
    -------
    loss : float
    dfake : ndarray of the shape of ``logits_fake``
    """
    return bce_with_logits(logits_fake, np.ones(np.shape(logits_fake)))


def ls_discriminator_loss(scores_real, scores_fake):
    """Least squares GAN discriminator loss ``mean((real - 1)^2) / 2 + mean(fake^2) / 2``.

    Returns
    -------
    loss : float
    dreal, dfake : ndarray
    """
    r, f = _float("scores_real", scores_real), _float("scores_fake", scores_fake)
    loss = 0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean(f ** 2)
    return float(loss), (r - 1) / r.size, f / f.size


def ls_generator_loss(scores_fake):
    """Least squares GAN generator loss ``mean((fake - 1)^2) / 2``.

    Returns
    -------
    loss : float
    dfake : ndarray
    """
    f = _float("scores_fake", scores_fake)
    return float(0.5 * np.mean((f - 1) ** 2)), (f - 1) / f.size


def kl_divergence(mu, logvar):
    """KL divergence of ``N(mu, diag(exp(logvar)))`` from ``N(0, I)``, summed over the latent
    dimensions and averaged over the batch.

    ``KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar)) / N``.

    Parameters
    ----------
    mu, logvar : array_like of shape (N, Z)

    Returns
    -------
    kl : float
    dmu, dlogvar : ndarray of shape (N, Z)
        ``mu / N`` and ``(exp(logvar) - 1) / (2 N)``.
    """
    mu, logvar = _float("mu", mu), _float("logvar", logvar)
    if mu.ndim != 2 or mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have one shape (N, Z); got {mu.shape} and {logvar.shape}")
    n = mu.shape[0]
    var = np.exp(logvar)
    kl = -0.5 * np.sum(1 + logvar - mu ** 2 - var) / n
    return float(kl), mu / n, (0.5 * (var - 1) / n).astype(logvar.dtype, copy=False)


def bce_reconstruction(logits, x):
    """Bernoulli reconstruction loss: BCE of ``sigmoid(logits)`` against ``x`` in [0, 1],
    summed over each image's pixels and averaged over the batch.

    Returns
    -------
    loss : float
    dlogits : ndarray of the shape of ``logits``
    """
    loss, d = bce_with_logits(logits, x)
    per_image = d.size // d.shape[0]
    return loss * per_image, d * per_image


def gaussian_reconstruction(x_hat, x):
    """Gaussian reconstruction loss (unit variance, constants dropped):
    ``sum((x_hat - x)^2) / (2 N)``.

    Returns
    -------
    loss : float
    dx_hat : ndarray of the shape of ``x_hat``
    """
    xh, xt = _float("x_hat", x_hat), _float("x", x)
    if xh.shape != xt.shape:
        raise ValueError(f"x must have the shape of x_hat {xh.shape}; got {xt.shape}")
    n = xh.shape[0]
    diff = xh - xt
    return float(0.5 * np.sum(diff ** 2) / n), diff / n


# --- building blocks ---------------------------------------------------------------------------


class Reshape(_Layer):
    """``(N, D) -> (N, *shape)``, the inverse of :class:`~cs231n_fast.nn.Flatten` (e.g. from a
    generator's affine layer to the feature maps of its transposed convolutions).

    Parameters
    ----------
    shape : tuple of ints
        The shape of one example; its product must be D.
    """

    _runs_kernels = False

    def __init__(self, *shape):
        super().__init__("fast", None)
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        self.shape = tuple(positive_int("shape", s) for s in shape)

    def forward(self, x):
        """``x`` of shape ``(N, prod(shape))`` -> ``(N, *shape)``."""
        x = as_array("x", x)
        if x.ndim < 1 or math.prod(x.shape[1:]) != math.prod(self.shape):
            raise ValueError(
                f"x must have shape (N, {math.prod(self.shape)}) to reshape to (N, *{self.shape}); "
                f"got {x.shape}"
            )
        self._cache = x.shape
        return x.reshape(x.shape[0], *self.shape)

    def backward(self, dout):
        """``dout`` of shape ``(N, *shape)`` -> ``dx`` of the forward input's shape."""
        shape = self._take_cache()
        return np.asarray(dout).reshape(shape)

    def __repr__(self):
        return f"Reshape{self.shape}"


class _Parts:
    """Parameters of a model made of named :class:`~cs231n_fast.nn.Sequential` parts."""

    #: names of the parts, in order
    _parts = ()

    @property
    def params(self):
        """``"<part>.<index>.<name>"`` -> the layer's array (a fresh dict)."""
        return {f"{part}.{k}": v for part in self._parts
                for k, v in getattr(self, part).params.items()}

    @property
    def grads(self):
        """The gradients of the last loss or step, keyed like :attr:`params`."""
        return {f"{part}.{k}": v for part in self._parts
                for k, v in getattr(self, part).grads.items()}

    def set_param(self, key, value):
        """Write ``value`` into the parameter ``key`` (as ``model.params[key] = value``)."""
        part, rest = key.split(".", 1)
        if part not in self._parts:
            raise ValueError(f"key must start with one of {self._parts}; got {key!r}")
        getattr(self, part).params[rest] = value

    def train(self):
        """Training mode for every part; returns the model."""
        for part in self._parts:
            getattr(self, part).train()
        return self

    def eval(self):
        """Evaluation mode for every part; returns the model."""
        for part in self._parts:
            getattr(self, part).eval()
        return self


def _mlp(sizes, dtype, rng, act=ReLU):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Affine(a, b, dtype=dtype, seed=rng))
        if i < len(sizes) - 2:
            layers.append(act())
    return Sequential(*layers)


def _images(name, x, dtype):
    """``x`` as (N, D) rows of ``dtype`` (any (N, ...) input is flattened)."""
    x = as_array(name, x)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (N, ...) with one image per row; got {x.shape}")
    return np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=dtype)


def _dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64; got {dtype}")
    return dtype


# --- autoencoder ------------------------------------------------------------------------------


class Autoencoder(_Parts):
    """A fully connected autoencoder: ``x -> z = encoder(x) -> decoder(z)`` (logits of the
    pixels), trained to reconstruct its input with :func:`bce_reconstruction`.

    Parameters
    ----------
    input_dim : int, default 64
        Pixels of one image (8 x 8 digits), values in [0, 1].
    hidden_dim : int, default 128
    latent_dim : int, default 16
        The bottleneck.
    dtype : float32 or float64, default float32
    seed : int or numpy Generator, optional

    Attributes
    ----------
    encoder, decoder : Sequential
        ``Affine(D, H), ReLU, Affine(H, Z)`` and ``Affine(Z, H), ReLU, Affine(H, D)``.
    """

    _parts = ("encoder", "decoder")

    def __init__(self, input_dim=64, hidden_dim=128, latent_dim=16, *, dtype=np.float32, seed=None):
        d, h, z = (positive_int(n, v) for n, v in
                   (("input_dim", input_dim), ("hidden_dim", hidden_dim), ("latent_dim", latent_dim)))
        self.dtype = _dtype(dtype)
        rng = make_rng(seed)
        self.input_dim, self.latent_dim = d, z
        self.encoder = _mlp([d, h, z], self.dtype, rng)
        self.decoder = _mlp([z, h, d], self.dtype, rng)

    def encode(self, x):
        """x of shape (N, ...) with D pixels per image -> codes (N, Z)."""
        return self.encoder.forward(_images("x", x, self.dtype))

    def decode(self, z):
        """codes (N, Z) -> images (N, D) in [0, 1] (the sigmoid of the decoder's logits)."""
        return sigmoid(self.decoder.forward(np.asarray(z, dtype=self.dtype)))

    def reconstruct(self, x):
        """``decode(encode(x))``, shaped like ``x``."""
        return self.decode(self.encode(x)).reshape(np.shape(x))

    def loss(self, x):
        """Reconstruction loss of a batch and its gradients.

        Parameters
        ----------
        x : array_like of shape (N, ...) with D values in [0, 1] per image

        Returns
        -------
        loss : float
            :func:`bce_reconstruction` of the decoder's logits against ``x``.
        grads : dict
            Keyed like :attr:`params`.
        """
        x = _images("x", x, self.dtype)
        logits = self.decoder.forward(self.encoder.forward(x))
        loss, dlogits = bce_reconstruction(logits, x)
        self.encoder.backward(self.decoder.backward(dlogits))
        return loss, self.grads


# --- VAE ------------------------------------------------------------------------------------------


class VAE(_Parts):
    """Variational autoencoder with a Gaussian encoder and the reparameterisation trick.

    The encoder maps x to ``(mu, logvar)`` of ``q(z | x)``; a code is drawn as
    ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` (so the randomness sits in
    ``eps`` and gradients flow through ``mu`` and ``logvar``); the decoder maps z to the
    pixels. The loss is the negative evidence lower bound, reconstruction plus
    :func:`kl_divergence`, per image.

    Parameters
    ----------
    input_dim : int, default 64
    hidden_dim : int, default 256
    latent_dim : int, default 16
    reconstruction : {"bce", "gaussian"}, default "bce"
        Bernoulli pixels (:func:`bce_reconstruction` of the decoder's logits; samples are their
        sigmoid) or unit-variance Gaussian pixels (:func:`gaussian_reconstruction` of the
        decoder's output itself).
    beta : float, default 1.0
        Weight of the KL term (1 is the ELBO).
    dtype : float32 or float64, default float32
    seed : int or numpy Generator, optional
        Initial weights, and the default stream of ``eps``.

    Attributes
    ----------
    encoder : Sequential
        ``Affine(D, H), ReLU, Affine(H, 2 Z)``: the first Z outputs are ``mu``, the rest
        ``logvar``.
    decoder : Sequential
        ``Affine(Z, H), ReLU, Affine(H, D)``.

    Examples
    --------
    >>> from cs231n_fast.generative import VAE
    >>> vae = VAE(latent_dim=4, dtype=np.float64, seed=0)
    >>> x = np.random.default_rng(0).random((5, 64))
    >>> loss, grads = vae.loss(x, eps=np.zeros((5, 4)))
    >>> sorted(grads)[:2]
    ['decoder.0.W', 'decoder.0.b']
    """

    _parts = ("encoder", "decoder")

    def __init__(self, input_dim=64, hidden_dim=256, latent_dim=16, *, reconstruction="bce",
                 beta=1.0, dtype=np.float32, seed=None):
        d, h, z = (positive_int(n, v) for n, v in
                   (("input_dim", input_dim), ("hidden_dim", hidden_dim), ("latent_dim", latent_dim)))
        if reconstruction not in ("bce", "gaussian"):
            raise ValueError(f"reconstruction must be 'bce' or 'gaussian'; got {reconstruction!r}")
        self.reconstruction = reconstruction
        self.beta = real_number("beta", beta, 0.0)
        self.dtype = _dtype(dtype)
        self._rng = make_rng(seed)
        self.input_dim, self.latent_dim = d, z
        self.encoder = _mlp([d, h, 2 * z], self.dtype, self._rng)
        self.decoder = _mlp([z, h, d], self.dtype, self._rng)

    def encode(self, x):
        """x -> ``(mu, logvar)``, each of shape (N, Z)."""
        out = self.encoder.forward(_images("x", x, self.dtype))
        return out[:, : self.latent_dim], out[:, self.latent_dim :]

    def _output(self, out):
        return sigmoid(out) if self.reconstruction == "bce" else out

    def decode(self, z):
        """codes (N, Z) -> images (N, D): the sigmoid of the logits ("bce") or the means."""
        return self._output(self.decoder.forward(np.asarray(z, dtype=self.dtype)))

    def sample(self, n, seed=None):
        """``n`` images decoded from ``z ~ N(0, I)``, of shape (n, 1, 8, 8) for the digits
        (``(n, D)`` unless D is a square)."""
        n = positive_int("n", n)
        z = make_rng(seed).standard_normal((n, self.latent_dim)).astype(self.dtype)
        out = self.decode(z)
        side = math.isqrt(self.input_dim)
        return out.reshape(n, 1, side, side) if side * side == self.input_dim else out

    def loss(self, x, eps=None):
        """Negative ELBO of a batch and its gradients, all written out.

        Parameters
        ----------
        x : array_like of shape (N, ...) with D pixel values per image
        eps : array_like of shape (N, Z), optional
            The noise of the reparameterisation; default a draw from the model's generator.
            Fixing it makes the loss a deterministic function of the parameters (gradient
            checks).

        Returns
        -------
        loss : float
            ``reconstruction + beta * KL``, per image (averaged over the batch).
        grads : dict
            Keyed like :attr:`params`.

        Notes
        -----
        Backward: ``dz = decoder.backward(drecon)``; ``z = mu + sigma * eps`` with
        ``sigma = exp(logvar / 2)`` gives ``dmu = dz + beta * dKL/dmu`` and
        ``dlogvar = dz * eps * sigma / 2 + beta * dKL/dlogvar``.
        """
        x = _images("x", x, self.dtype)
        n, z_dim = x.shape[0], self.latent_dim
        if eps is None:
            eps = self._rng.standard_normal((n, z_dim))
        eps = as_array("eps", eps)
        if eps.shape != (n, z_dim):
            raise ValueError(f"eps must have shape (N, Z) = ({n}, {z_dim}); got {eps.shape}")
        eps = eps.astype(self.dtype, copy=False)
        stats = self.encoder.forward(x)
        mu, logvar = stats[:, :z_dim], stats[:, z_dim:]
        sigma = np.exp(0.5 * logvar)
        z = mu + sigma * eps
        out = self.decoder.forward(z)
        if self.reconstruction == "bce":
            recon, dout = bce_reconstruction(out, x)
        else:
            recon, dout = gaussian_reconstruction(out, x)
        kl, dmu_kl, dlogvar_kl = kl_divergence(mu, logvar)
        dz = self.decoder.backward(dout.astype(self.dtype, copy=False))
        dstats = np.concatenate(
            [dz + self.beta * dmu_kl, dz * eps * 0.5 * sigma + self.beta * dlogvar_kl], axis=1
        ).astype(self.dtype, copy=False)
        self.encoder.backward(dstats)
        self.last_terms = {"reconstruction": recon, "kl": kl}
        return recon + self.beta * kl, self.grads


# --- GAN ------------------------------------------------------------------------------------------


_GAN_LOSSES = {
    "bce": (discriminator_loss, generator_loss),
    "ls": (ls_discriminator_loss, ls_generator_loss),
}


class GAN(_Parts):
    """A generative adversarial network for small square grey-scale images (8 x 8 digits).

    The generator maps noise ``z ~ U(-1, 1)^Z`` (the course's ``sample_noise``) to images in
    [-1, 1] (tanh output); the discriminator scores images with one logit. Trained by
    alternating :meth:`discriminator_step` and :meth:`generator_step`.

    Parameters
    ----------
    image_size : int, default 8
        Side of the square images (a multiple of 4 for ``"dcgan"``).
    latent_dim : int, default 32
    kind : {"fc", "dcgan"}, default "fc"
        ``"fc"``: the course's fully connected GAN (generator ``Affine(Z, H), ReLU, Affine(H,
        H), ReLU, Affine(H, S^2), Tanh``; discriminator ``Affine(S^2, H), LeakyReLU(0.01),
        Affine(H, H), LeakyReLU(0.01), Affine(H, 1)``). ``"dcgan"``: generator
        ``Affine(Z, 4 C S/4 S/4), ReLU, Reshape, ConvTranspose2D(4C, 2C, 4, stride 2, pad 1),
        ReLU, ConvTranspose2D(2C, 1, 4, stride 2, pad 1), Tanh``; discriminator
        ``Conv2D(1, C, 4, stride 2, pad 1), LeakyReLU(0.2), Conv2D(C, 2C, 4, stride 2, pad 1),
        LeakyReLU(0.2), Flatten, Affine(2C S/4 S/4, 1)``.
    hidden_dim : int, default 256
        H of ``"fc"``.
    channels : int, default 32
        C of ``"dcgan"``.
    loss : {"bce", "ls"}, default "bce"
        The course's BCE losses (:func:`discriminator_loss`, :func:`generator_loss`) or the
        least squares ones.
    dtype : float32 or float64, default float32
    seed : int or numpy Generator, optional

    Attributes
    ----------
    generator, discriminator : Sequential
    """

    _parts = ("generator", "discriminator")

    def __init__(self, image_size=8, latent_dim=32, *, kind="fc", hidden_dim=256, channels=32,
                 loss="bce", dtype=np.float32, seed=None):
        from .nn import Tanh

        s = positive_int("image_size", image_size)
        z = positive_int("latent_dim", latent_dim)
        h = positive_int("hidden_dim", hidden_dim)
        c = positive_int("channels", channels)
        if kind not in ("fc", "dcgan"):
            raise ValueError(f"kind must be 'fc' or 'dcgan'; got {kind!r}")
        if kind == "dcgan" and s % 4:
            raise ValueError(f"image_size must be a multiple of 4 for kind 'dcgan'; got {s}")
        if loss not in _GAN_LOSSES:
            raise ValueError(f"loss must be one of {sorted(_GAN_LOSSES)}; got {loss!r}")
        self.kind, self.loss_type = kind, loss
        self.image_size, self.latent_dim = s, z
        self.dtype = _dtype(dtype)
        self._rng = make_rng(seed)
        rng, dt = self._rng, self.dtype
        if kind == "fc":
            self.generator = Sequential(
                Affine(z, h, dtype=dt, seed=rng), ReLU(), Affine(h, h, dtype=dt, seed=rng), ReLU(),
                Affine(h, s * s, dtype=dt, seed=rng), Tanh(),
            )
            self.discriminator = Sequential(
                Affine(s * s, h, dtype=dt, seed=rng), LeakyReLU(0.01),
                Affine(h, h, dtype=dt, seed=rng), LeakyReLU(0.01), Affine(h, 1, dtype=dt, seed=rng),
            )
        else:
            q = s // 4
            self.generator = Sequential(
                Affine(z, 4 * c * q * q, dtype=dt, seed=rng), ReLU(), Reshape(4 * c, q, q),
                ConvTranspose2D(4 * c, 2 * c, 4, stride=2, pad=1, dtype=dt, seed=rng), ReLU(),
                ConvTranspose2D(2 * c, 1, 4, stride=2, pad=1, dtype=dt, seed=rng), Tanh(),
            )
            self.discriminator = Sequential(
                Conv2D(1, c, 4, stride=2, pad=1, dtype=dt, seed=rng), LeakyReLU(0.2),
                Conv2D(c, 2 * c, 4, stride=2, pad=1, dtype=dt, seed=rng), LeakyReLU(0.2),
                Flatten(), Affine(2 * c * q * q, 1, dtype=dt, seed=rng),
            )

    def _as_images(self, flat):
        """Generator output -> the discriminator's input layout."""
        s = self.image_size
        return flat.reshape(flat.shape[0], s * s) if self.kind == "fc" else flat

    def _real(self, x):
        x = as_array("x", x)
        s = self.image_size
        if x.ndim < 2 or math.prod(x.shape[1:]) != s * s:
            raise ValueError(f"x must hold {s * s} pixels per image (N, 1, {s}, {s}); got {x.shape}")
        shape = (x.shape[0], s * s) if self.kind == "fc" else (x.shape[0], 1, s, s)
        return np.ascontiguousarray(x.reshape(shape), dtype=self.dtype)

    def sample_noise(self, n, seed=None):
        """``n`` latent vectors uniform in [-1, 1), shape (n, Z) (the course's ``sample_noise``)."""
        rng = self._rng if seed is None else make_rng(seed)
        return rng.uniform(-1, 1, (positive_int("n", n), self.latent_dim)).astype(self.dtype)

    def generate(self, z):
        """Noise (N, Z) -> images (N, 1, S, S) in [-1, 1]."""
        z = np.asarray(z, dtype=self.dtype)
        s = self.image_size
        return self.generator.forward(z).reshape(z.shape[0], 1, s, s)

    def sample(self, n, seed=None):
        """``n`` generated images, shape (n, 1, S, S), rescaled to [0, 1]."""
        return (self.generate(self.sample_noise(n, seed)) + 1) / 2

    def discriminator_step(self, x, z):
        """Discriminator loss on real ``x`` and fakes ``G(z)``, and its gradients.

        Parameters
        ----------
        x : array_like of shape (N, 1, S, S) (or (N, S*S)), values in [-1, 1]
        z : array_like of shape (M, Z)

        Returns
        -------
        loss : float
        grads : dict
            The discriminator's gradients, keyed like :attr:`params` (``"discriminator.*"``).

        Real and fake images go through the discriminator as one batch (it has no batch
        normalisation, so this equals two passes).
        """
        real = self._real(x)
        fake = self._as_images(self.generator.forward(np.asarray(z, dtype=self.dtype)))
        scores = self.discriminator.forward(np.concatenate([real, fake]))
        n = real.shape[0]
        d_loss, _ = _GAN_LOSSES[self.loss_type]
        loss, dreal, dfake = d_loss(scores[:n], scores[n:])
        self.discriminator.backward(np.concatenate([dreal, dfake]).astype(self.dtype, copy=False))
        return loss, {f"discriminator.{k}": v for k, v in self.discriminator.grads.items()}

    def generator_step(self, z):
        """Generator loss on fakes ``G(z)`` and its gradients (through the discriminator).

        Returns
        -------
        loss : float
        grads : dict
            The generator's gradients, keyed like :attr:`params` (``"generator.*"``). The
            discriminator's ``grads`` are overwritten along the way and must not be applied.
        """
        fake = self._as_images(self.generator.forward(np.asarray(z, dtype=self.dtype)))
        scores = self.discriminator.forward(fake)
        _, g_loss = _GAN_LOSSES[self.loss_type]
        loss, dscores = g_loss(scores)
        dfake = self.discriminator.backward(dscores.astype(self.dtype, copy=False))
        self.generator.backward(dfake.reshape(dfake.shape[0], -1) if self.kind == "fc" else dfake)
        return loss, {f"generator.{k}": v for k, v in self.generator.grads.items()}


# --- training -------------------------------------------------------------------------------------


class Adam:
    """Adam over a model's parameters: one :func:`cs231n_fast.optim.adam` config per key.

    Parameters
    ----------
    learning_rate : float, default 1e-3
    beta1, beta2 : float, default 0.9 and 0.999
        The course's DCGAN uses ``beta1 = 0.5``.
    """

    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999):
        self.defaults = dict(
            learning_rate=real_number("learning_rate", learning_rate, 0.0, low_open=True),
            beta1=real_number("beta1", beta1, 0.0, 1.0, high_open=True),
            beta2=real_number("beta2", beta2, 0.0, 1.0, high_open=True),
        )
        self.configs = {}

    def step(self, model, grads):
        """Update each parameter of ``model`` named in ``grads`` by its gradient."""
        params = model.params
        for key, dw in grads.items():
            config = self.configs.setdefault(key, dict(self.defaults))
            next_w, self.configs[key] = optim.adam(params[key], dw, config)
            model.set_param(key, next_w)


def fit(model, X, *, epochs=10, batch_size=64, learning_rate=1e-3, beta1=None, seed=0,
        on_epoch=None, n_threads=1):
    """Train an :class:`Autoencoder`, :class:`VAE` or :class:`GAN` with Adam on images ``X``.

    Parameters
    ----------
    model : Autoencoder, VAE or GAN
    X : array_like of shape (N, 1, S, S) (or (N, D)), values in [0, 1]
        Training images (for the GAN rescaled to [-1, 1] here).
    epochs : int, default 10
    batch_size : int, default 64
    learning_rate : float, default 1e-3
    beta1 : float, optional
        Adam's beta1; default 0.9, and 0.5 for the GAN (as the course's DCGAN).
    seed : int, default 0
        Seed of the minibatch order (and of the GAN's noise).
    on_epoch : callable, optional
        Called after each epoch with ``(epoch, losses)``, ``losses`` the epoch's mean losses.
    n_threads : int or None, default 1
        BLAS and OpenMP threads for the run (:func:`cs231n_fast.training.limit_threads`); None
        leaves them alone. One by default: the products of these small models on 8 x 8 images
        are too small to share, and a second thread made an epoch 10-50x slower on a 2-core
        machine shared with other jobs (as for the digits classifiers, see
        :mod:`cs231n_fast.training`). Pass None for larger images.

    Returns
    -------
    history : dict of lists
        Per-epoch mean losses: ``{"loss": [...]}`` for the autoencoders, ``{"d_loss": [...],
        "g_loss": [...]}`` for the GAN.

    Notes
    -----
    One pass over a shuffled copy of ``X`` per epoch; a GAN step updates the discriminator
    on one minibatch of real images and as many fakes, then the generator on fresh noise.
    """
    if not isinstance(model, (Autoencoder, VAE, GAN)):
        raise TypeError(f"model must be an Autoencoder, VAE or GAN; got {type(model).__name__}")
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    X = as_array("X", X)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (N, ...) with N >= 1 images; got {X.shape}")
    if n_threads is not None:
        n_threads = positive_int("n_threads", n_threads)
    from .training import limit_threads

    with limit_threads(n_threads):
        return _fit(model, X, epochs, batch_size, learning_rate, beta1, seed, on_epoch)


def _fit(model, X, epochs, batch_size, learning_rate, beta1, seed, on_epoch):
    rng = make_rng(seed)
    is_gan = isinstance(model, GAN)
    if beta1 is None:
        beta1 = 0.5 if is_gan else 0.9
    model.train()
    if is_gan:
        X = 2 * np.asarray(X, dtype=model.dtype) - 1
        noise = make_rng(rng.integers(2**63))
        opt_d, opt_g = Adam(learning_rate, beta1), Adam(learning_rate, beta1)
        history = {"d_loss": [], "g_loss": []}
    else:
        opt = Adam(learning_rate, beta1)
        history = {"loss": []}
    n = X.shape[0]
    for epoch in range(epochs):
        order = rng.permutation(n)
        sums = {k: 0.0 for k in history}
        steps = 0
        for start in range(0, n, batch_size):
            xb = X[order[start : start + batch_size]]
            if is_gan:
                m = xb.shape[0]
                d_loss, d_grads = model.discriminator_step(xb, model.sample_noise(m, noise))
                opt_d.step(model, d_grads)
                g_loss, g_grads = model.generator_step(model.sample_noise(m, noise))
                opt_g.step(model, g_grads)
                sums["d_loss"] += d_loss
                sums["g_loss"] += g_loss
            else:
                loss, grads = model.loss(xb)
                opt.step(model, grads)
                sums["loss"] += loss
            steps += 1
        means = {k: s / steps for k, s in sums.items()}
        for k, v in means.items():
            history[k].append(v)
        if on_epoch is not None:
            on_epoch(epoch + 1, means)
    model.eval()
    return history


# --- pictures -------------------------------------------------------------------------------------


def sample_grid(images, nrow=8, scale=4, padding=1):
    """Tile images into one grey-scale picture.

    Parameters
    ----------
    images : array_like of shape (N, 1, H, W) or (N, H, W), values in [0, 1]
        Values outside are clipped.
    nrow : int, default 8
        Images per row.
    scale : int, default 4
        Each pixel becomes a ``scale x scale`` block (8 x 8 digits are tiny).
    padding : int, default 1
        Black pixels (before scaling) around each image.

    Returns
    -------
    grid : ndarray of uint8, shape (rows * (H + 2p) * scale, nrow * (W + 2p) * scale)
        ``rows = ceil(N / nrow)``; empty cells are black.

    Examples
    --------
    >>> from cs231n_fast.generative import sample_grid
    >>> sample_grid(np.ones((10, 1, 8, 8)), nrow=5, scale=2).shape
    (40, 100)
    """
    a = as_array("images", images)
    if a.ndim == 4:
        if a.shape[1] != 1:
            raise ValueError(f"images must have one channel (N, 1, H, W); got {a.shape}")
        a = a[:, 0]
    check_ndim("images", a, 3, "(N, H, W) or (N, 1, H, W)")
    if a.shape[0] == 0:
        raise ValueError("images must not be empty")
    nrow = positive_int("nrow", nrow)
    scale = positive_int("scale", scale)
    padding = positive_int("padding", padding, 0)
    n, h, w = a.shape
    rows = -(-n // nrow)
    ch, cw = h + 2 * padding, w + 2 * padding
    grid = np.zeros((rows * ch, nrow * cw), dtype=np.float64)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[r * ch + padding : r * ch + padding + h, c * cw + padding : c * cw + padding + w] = a[i]
    grid = np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)
    return np.kron(grid, np.ones((scale, scale), dtype=np.uint8))


def write_png(path, image):
    """Write a grey-scale (H, W) uint8 image as an 8-bit PNG, with :mod:`zlib` only.

    Parameters
    ----------
    path : str or path-like
    image : array_like of uint8, shape (H, W)

    Notes
    -----
    The PNG format's minimum: signature, IHDR (bit depth 8, colour type 0), one IDAT of the
    zlib-compressed scanlines (each prefixed by filter type 0), IEND; every chunk with its
    CRC-32. Readable by any image viewer, matplotlib and Pillow.
    """
    a = as_array("image", image)
    check_ndim("image", a, 2, "(H, W)")
    if a.dtype != np.uint8:
        raise TypeError(f"image must be uint8; got {a.dtype}")
    if a.size == 0:
        raise ValueError(f"image must not be empty; got shape {a.shape}")
    h, w = a.shape

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(a)], axis=1).tobytes()
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


# --- the command line's runs: ``cs231n-fast train --model vae|gan`` ---------------------------

#: The models ``cs231n-fast train`` trains here.
MODELS = ("vae", "gan")

#: Training options per model unless told otherwise (a VAE with a 16-D code; the course's
#: fully connected GAN with its Adam settings, learning rate 2e-4 and beta1 0.5).
DEFAULTS = {
    "vae": dict(epochs=60, batch_size=64, learning_rate=1e-3),
    "gan": dict(epochs=100, batch_size=64, learning_rate=2e-4),
}


def build_model(model_name, *, seed=0):
    """The network ``cs231n-fast train --model vae|gan`` trains: ``VAE()`` or ``GAN()`` with
    their defaults, float32, seeded."""
    if model_name not in MODELS:
        raise ValueError(f"model_name must be one of {MODELS}; got {model_name!r}")
    return VAE(seed=seed) if model_name == "vae" else GAN(seed=seed)


def format_epoch(epoch, epochs, losses, seconds):
    """One line per epoch: its mean losses and wall time."""
    width = len(str(epochs))
    parts = ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in losses.items())
    return f"epoch {epoch:>{width}}/{epochs}: {parts}, {seconds:.2f} s"
