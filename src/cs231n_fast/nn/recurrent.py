"""Recurrent and sequence layer classes: RNN, LSTM, word embedding, temporal affine.

The same pattern as :mod:`cs231n_fast.nn.layers`: hyperparameters checked in ``__init__``,
parameters in ``params`` (named as in the course's ``CaptioningRNN``), their gradients in
``grads`` (same keys, filled by ``backward``). ``backend="fast"`` calls the functional API of
:mod:`cs231n_fast.rnn_layers` (compiled recurrent kernels); ``backend="reference"`` calls its
plain-NumPy twin :mod:`cs231n_fast.reference.rnn`. Both accept each other's caches.

Shapes follow the course: sequences ``x`` are (N, T, D), hidden states (N, T, H), word ids
(N, T). Computations follow the package's dtype policy (float32 if every input is float32,
else float64), so a float32 layer fed float32 data stays float32 throughout.
"""

import numpy as np

from .. import rnn_layers
from .._model import float_dtype
from .._validation import positive_int
from ..reference import rnn as reference_rnn
from .layers import _Layer

__all__ = ["RNN", "LSTM", "Embedding", "TemporalAffine"]

class _SequenceLayer(_Layer):
    """A :class:`_Layer` whose backends are the recurrent/temporal function modules
    (``cs231n_fast.ops`` does not re-export them, so the modules that do are named here)."""

    _backends = {"fast": rnn_layers, "reference": reference_rnn}
    _runs_kernels = False  # Embedding and TemporalAffine: NumPy either way

    @property
    def dtype(self):
        """The parameters' dtype."""
        return next(iter(self.params.values())).dtype


class _Recurrent(_SequenceLayer):
    """Shared code of :class:`RNN` and :class:`LSTM` (``_gates`` blocks of H columns)."""

    _runs_kernels = True
    _gates = 1
    _forward_name = "rnn_forward"
    _backward_name = "rnn_backward"

    def __init__(self, input_dim, hidden_dim, *, dtype=np.float32, seed=None, backend="fast",
                 n_threads=None):
        super().__init__(backend, n_threads)
        d = positive_int("input_dim", input_dim)
        h = positive_int("hidden_dim", hidden_dim)
        dtype = float_dtype(dtype)
        g = self._gates * h
        rng = np.random.default_rng(seed)
        # CaptioningRNN's initialisation: Wx ~ N(0, 1/D), Wh ~ N(0, 1/H), b = 0.
        self.params = {
            "Wx": (rng.standard_normal((d, g)) / np.sqrt(d)).astype(dtype),
            "Wh": (rng.standard_normal((h, g)) / np.sqrt(h)).astype(dtype),
            "b": np.zeros(g, dtype=dtype),
        }
        self.grads = {"Wx": None, "Wh": None, "b": None}

    @property
    def input_dim(self):
        return self.params["Wx"].shape[0]

    @property
    def hidden_dim(self):
        return self.params["Wh"].shape[0]

    def _h0(self, x, h0):
        if h0 is not None:
            return h0
        x = np.asarray(x)
        n = x.shape[0] if x.ndim == 3 else 1  # a bad x is reported by the functional API
        return np.zeros((n, self.hidden_dim), dtype=self.dtype)

    def backward(self, dh):
        """dh of shape (N, T, H) -> ``(dx, dh0)``; fills ``grads["Wx"]``, ``["Wh"]``, ``["b"]``."""
        cache = self._take_cache()
        dx, dh0, dWx, dWh, db = getattr(self._ops, self._backward_name)(
            dh, cache, n_threads=self.n_threads
        )
        self.grads["Wx"], self.grads["Wh"], self.grads["b"] = dWx, dWh, db
        return dx, dh0

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.input_dim}, {self.hidden_dim}, dtype={self.dtype}, "
            f"backend={self.backend!r})"
        )


class RNN(_Recurrent):
    """Vanilla (Elman) RNN over a sequence: ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.

    Parameters
    ----------
    input_dim, hidden_dim : int
        D and H.
    dtype : numpy dtype, default float32
        float32 or float64.
    seed : int or numpy Generator, optional
    backend : {"fast", "reference"}
    n_threads : int, optional
        Passed to the kernels.

    Attributes
    ----------
    params : dict with ``"Wx"`` (D, H), ``"Wh"`` (H, H) and ``"b"`` (H,), initialised as the
        course's ``CaptioningRNN`` does: ``N(0, 1) / sqrt(D)``, ``N(0, 1) / sqrt(H)``, zeros
    grads : dict with the same keys, set by :meth:`backward`
    """

    def forward(self, x, h0=None):
        """x of shape (N, T, D), h0 of shape (N, H) (default zeros) -> h of shape (N, T, H)."""
        h, self._cache = self._ops.rnn_forward(
            x, self._h0(x, h0), self.params["Wx"], self.params["Wh"], self.params["b"],
            n_threads=self.n_threads,
        )
        return h

    def __call__(self, x, h0=None):
        return self.forward(x, h0)


class LSTM(_Recurrent):
    """Long short-term memory over a sequence (the course's gate order i, f, o, g).

    Parameters
    ----------
    input_dim, hidden_dim : int
        D and H.
    dtype : numpy dtype, default float32
        float32 or float64.
    seed : int or numpy Generator, optional
    backend : {"fast", "reference"}
    n_threads : int, optional
        Passed to the kernels.

    Attributes
    ----------
    params : dict with ``"Wx"`` (D, 4H), ``"Wh"`` (H, 4H) and ``"b"`` (4H,), initialised as the
        course's ``CaptioningRNN`` does: ``N(0, 1) / sqrt(D)``, ``N(0, 1) / sqrt(H)``, zeros
    grads : dict with the same keys, set by :meth:`backward`

    :meth:`backward` returns ``(dx, dh0)``: like the course's ``lstm_backward`` it gives no
    gradient for the initial cell state.
    """

    _gates = 4
    _forward_name = "lstm_forward"
    _backward_name = "lstm_backward"

    def forward(self, x, h0=None, c0=None):
        """x (N, T, D), h0 (N, H) and c0 (N, H) (both default zeros) -> h of shape (N, T, H)."""
        h, self._cache = self._ops.lstm_forward(
            x, self._h0(x, h0), self.params["Wx"], self.params["Wh"], self.params["b"], c0,
            n_threads=self.n_threads,
        )
        return h

    def __call__(self, x, h0=None, c0=None):
        return self.forward(x, h0, c0)


class Embedding(_SequenceLayer):
    """Word embedding: integer word ids (N, T) -> their rows of ``W``, (N, T, D).

    Parameters
    ----------
    vocab_size, embed_dim : int
        V and D.
    dtype : numpy dtype, default float32
    seed : int or numpy Generator, optional
    backend : {"fast", "reference"}
    n_threads : int, optional
        Accepted for a uniform constructor; the embedding is vectorised NumPy.

    Attributes
    ----------
    params : dict with ``"W"`` (V, D), initialised ``N(0, 1) / 100`` as in the course
    grads : dict with the same key, set by :meth:`backward`
    """

    #: One vector per word, a row of ``W``: the axis of the Solver's ``max_norm`` (as torch's
    #: ``Embedding(max_norm=)``), not the name rule's columns.
    max_norm_axes = {"W": 1}

    def __init__(self, vocab_size, embed_dim, *, dtype=np.float32, seed=None, backend="fast",
                 n_threads=None):
        super().__init__(backend, n_threads)
        v = positive_int("vocab_size", vocab_size)
        d = positive_int("embed_dim", embed_dim)
        dtype = float_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.params = {"W": (rng.standard_normal((v, d)) / 100).astype(dtype)}
        self.grads = {"W": None}

    def forward(self, x):
        """Word ids x of shape (N, T), each in [0, V) -> out of shape (N, T, D)."""
        out, self._cache = self._ops.word_embedding_forward(x, self.params["W"])
        return out

    def backward(self, dout):
        """dout of shape (N, T, D) -> None (ids have no gradient); fills ``grads["W"]``."""
        self.grads["W"] = self._ops.word_embedding_backward(dout, self._take_cache())
        return None

    def __repr__(self):
        v, d = self.params["W"].shape
        return f"Embedding({v}, {d}, dtype={self.dtype}, backend={self.backend!r})"


class TemporalAffine(_SequenceLayer):
    """The same affine map at every time step: (N, T, D) -> (N, T, M), ``x @ w + b``.

    Parameters
    ----------
    input_dim, output_dim : int
        D and M.
    dtype : numpy dtype, default float32
    seed : int or numpy Generator, optional
    backend : {"fast", "reference"}
    n_threads : int, optional
        Accepted for a uniform constructor; the layer is one BLAS product.

    Attributes
    ----------
    params : dict with ``"w"`` (D, M), initialised ``N(0, 1) / sqrt(D)``, and ``"b"`` (M,) zeros
    grads : dict with the same keys, set by :meth:`backward`
    """

    def __init__(self, input_dim, output_dim, *, dtype=np.float32, seed=None, backend="fast",
                 n_threads=None):
        super().__init__(backend, n_threads)
        d = positive_int("input_dim", input_dim)
        m = positive_int("output_dim", output_dim)
        dtype = float_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.params = {
            "w": (rng.standard_normal((d, m)) / np.sqrt(d)).astype(dtype),
            "b": np.zeros(m, dtype=dtype),
        }
        self.grads = {"w": None, "b": None}

    def forward(self, x):
        """x of shape (N, T, D) -> out of shape (N, T, M)."""
        out, self._cache = self._ops.temporal_affine_forward(x, self.params["w"], self.params["b"])
        return out

    def backward(self, dout):
        """dout of shape (N, T, M) -> dx of shape (N, T, D); fills ``grads["w"]``, ``["b"]``."""
        dx, dw, db = self._ops.temporal_affine_backward(dout, self._take_cache())
        self.grads["w"], self.grads["b"] = dw, db
        return dx

    def __repr__(self):
        d, m = self.params["w"].shape
        return f"TemporalAffine({d}, {m}, dtype={self.dtype}, backend={self.backend!r})"
