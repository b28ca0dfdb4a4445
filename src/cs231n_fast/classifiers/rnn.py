"""Drop-in for the course's ``cs231n/classifiers/rnn.py`` (assignment 3, image captioning).

Same class name, constructor arguments, attributes, parameter names and initialisation, and
the same ``loss`` and ``sample`` as the course's ``CaptioningRNN``, so ``CaptioningSolver`` and
the notebooks run unchanged. The recurrent layers run on :mod:`cs231n_fast.rnn_layers`
(compiled kernels). Differences, all in the user's favour:

* ``sample`` writes ``<NULL>`` at every position after a row's first ``<END>`` (the course
  leaves whatever the network keeps producing there), so each row reads as one caption
  followed by padding; it stops early once every row has ended;
* a float32 model computes in float32 throughout (features are cast to the model's dtype),
  and its gradients are float32;
* bad arguments raise ``ValueError``/``TypeError`` naming the argument, before any
  computation: ``cell_type``, a ``word_to_idx`` that is not a dict or has no ``<NULL>``,
  ``features`` of the wrong shape, ``captions`` that are not an integer (N, T >= 2) array of
  word ids in [0, V); ``sample`` without a ``<START>`` word id in [0, V) (the course's
  sampler crashes there). As in the course, the vocabulary needs only ``<NULL>`` for the
  loss (``<START>`` and ``<END>`` are read with ``.get``) and its other ids are not checked:
  the RNN_Captioning notebook's check builds the model with
  ``{'<NULL>': 0, 'cat': 2, 'dog': 3}``;
* ``seed`` (keyword) makes the initialisation reproducible without NumPy's global state
  (without it the weights are the course's ``np.random.randn`` draws); ``n_threads`` (keyword) is passed
  to the recurrent kernels.
"""

import numbers
from collections.abc import Mapping

import numpy as np

from .. import _validation as v
from .. import rnn_layers
from .._model import float_dtype
from ..rnn_layers import *  # noqa: F403  (re-exported, as the course's module does)
from .._threads import effective_n_threads, holds_blas_single_thread
from ..ops import linear as _linear

__all__ = ["CaptioningRNN"] + rnn_layers.__all__

_CELL_TYPES = {"rnn": 1, "lstm": 4}  # gate blocks per hidden unit


def _token_id(word_to_idx, token):
    """The id of ``token`` (None when absent, as the course's ``.get``); TypeError unless an int."""
    i = word_to_idx.get(token)
    if i is not None and (isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral)):
        raise TypeError(f"word_to_idx[{token!r}] must be an int word id; got {i!r}")
    return None if i is None else int(i)


def _check_vocabulary(word_to_idx):
    """The ids of ``<NULL>``, ``<START>`` and ``<END>`` (the last two None when absent).

    What the course's constructor needs: a dict with ``<NULL>`` (it reads ``word_to_idx["<NULL>"]``
    and the other two with ``.get``). The other words' ids are used only by ``idx_to_word``.
    """
    if not isinstance(word_to_idx, Mapping):
        raise TypeError(
            f"word_to_idx must be a dict of words to ids; got {type(word_to_idx).__name__}"
        )
    if "<NULL>" not in word_to_idx:
        raise ValueError(
            "word_to_idx must contain the padding word '<NULL>' (masked out of the loss); "
            f"got {len(word_to_idx)} words without it"
        )
    return tuple(_token_id(word_to_idx, t) for t in ("<NULL>", "<START>", "<END>"))


def _weight_draw(seed):
    """The Gaussian draw of the course's initialisation, ``draw(*shape)``: NumPy's global state
    without a seed (as the course's ``np.random.randn``, so that ``np.random.seed(231)`` before
    the constructor gives the course's weights), else ``default_rng(seed)``."""
    if seed is None:
        return np.random.randn
    rng = np.random.default_rng(seed)
    return lambda *shape: rng.standard_normal(shape)


def _check_captions(captions, n, vocab_size):
    """``captions`` as checked word ids of shape (n, T), T >= 2."""
    captions = v.word_ids("captions", captions, vocab_size, 2, "(N, T)")
    if captions.shape[0] != n or captions.shape[1] < 2:
        raise ValueError(
            f"captions must have shape (N, T) with N = {n} rows as in features and T >= 2 "
            f"(a caption is fed in and scored shifted by one word); got shape {captions.shape}"
        )
    return captions


def _check_start(start, vocab_size):
    """ValueError unless the ``<START>`` id ``start`` (None when absent) is in [0, V): what
    sampling feeds in first."""
    if start is None or not 0 <= start < vocab_size:
        got = "has no '<START>'" if start is None else f"gives '<START>' id {start}"
        raise ValueError(
            f"sample needs the word '<START>' with an id in [0, V) = [0, {vocab_size}) in "
            f"word_to_idx (the first word fed to the network); word_to_idx {got}"
        )


class CaptioningRNN:
    """An image-captioning recurrent network, as in CS231n assignment 3.

    Image features (N, D) are projected to the initial hidden state; captions are embedded word
    by word and fed to a vanilla RNN or an LSTM whose hidden states are scored against the
    vocabulary at every time step. No regularisation.

    Parameters
    ----------
    word_to_idx : dict
        A vocabulary of V words mapped to the ids 0 .. V-1. Must contain ``"<NULL>"`` (the
        padding masked out of the loss); ``sample`` needs ``"<START>"`` too and stops rows at
        ``"<END>"`` when there is one. Integer ids; the other words' ids are not checked.
    input_dim : int, default 512
        D, the dimension of the image features.
    wordvec_dim : int, default 128
        W, the dimension of the word vectors.
    hidden_dim : int, default 128
        H, the dimension of the hidden state.
    cell_type : {"rnn", "lstm"}
    dtype : float32 or float64
        The parameters' dtype; float32 for training, float64 for gradient checks (another
        floating dtype, such as float16, is taken as in the course: stored in it, computed
        with in float64).
    seed : int or numpy Generator, optional (keyword)
        Seeds the initialisation (``np.random.default_rng(seed)``). Without it the weights
        are drawn from NumPy's global state with ``np.random.randn``, as the course draws
        them: ``np.random.seed(231)`` before the constructor gives the course's weights.
    n_threads : int, optional (keyword)
        Passed to the recurrent kernels.

    Attributes
    ----------
    params : dict
        ``W_embed`` (V, W), ``W_proj`` (D, H), ``b_proj`` (H,), ``Wx`` (W, G*H), ``Wh``
        (H, G*H), ``b`` (G*H,), ``W_vocab`` (H, V), ``b_vocab`` (V,), with G = 1 for "rnn" and
        4 for "lstm"; initialised as in the course (Gaussian weights scaled by 1/100 for the
        embedding and 1/sqrt(fan_in) otherwise, zero biases).
    cell_type, dtype, word_to_idx, idx_to_word
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32, *, seed=None, n_threads=None):
        if cell_type not in _CELL_TYPES:
            raise ValueError(f"cell_type must be one of {sorted(_CELL_TYPES)}; got {cell_type!r}")
        null, start, end = _check_vocabulary(word_to_idx)
        d = v.positive_int("input_dim", input_dim)
        w = v.positive_int("wordvec_dim", wordvec_dim)
        h = v.positive_int("hidden_dim", hidden_dim)
        dt = float_dtype(dtype, any_float=True)
        if n_threads is not None:
            effective_n_threads(n_threads)  # validate now, not at the first call

        self.cell_type = cell_type
        self.dtype = dt
        self.n_threads = n_threads
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: word for word, i in word_to_idx.items()}
        self.params = {}

        vocab_size = len(word_to_idx)
        self._null = null
        self._start = start
        self._end = end

        # The course's initialisation, drawn in the course's order.
        draw = _weight_draw(seed)
        g = _CELL_TYPES[cell_type] * h
        p = self.params
        p["W_embed"] = draw(vocab_size, w) / 100
        p["W_proj"] = draw(d, h) / np.sqrt(d)
        p["b_proj"] = np.zeros(h)
        p["Wx"] = draw(w, g) / np.sqrt(w)
        p["Wh"] = draw(h, g) / np.sqrt(h)
        p["b"] = np.zeros(g)
        p["W_vocab"] = draw(h, vocab_size) / np.sqrt(h)
        p["b_vocab"] = np.zeros(vocab_size)
        for k, val in p.items():
            p[k] = val.astype(self.dtype)

    # --- validation ------------------------------------------------------------------------

    def _features(self, features):
        features = v.as_array("features", features)
        d = self.params["W_proj"].shape[0]
        if features.ndim != 2 or features.shape[1] != d or features.shape[0] == 0:
            raise ValueError(
                f"features must have shape (N, input_dim) = (N, {d}) with N >= 1; "
                f"got shape {features.shape}"
            )
        return np.ascontiguousarray(features, dtype=self.dtype)

    def _captions(self, captions, n):
        return _check_captions(captions, n, self.params["W_embed"].shape[0])

    # --- training --------------------------------------------------------------------------

    @holds_blas_single_thread()
    def loss(self, features, captions):
        """Training loss and gradients for a minibatch of images and their captions.

        NumPy's products here (the projections) run on one BLAS thread beside the recurrent
        kernels' threads (see :func:`cs231n_fast.blas_single_thread`).

        Parameters
        ----------
        features : array of shape (N, D)
            Image features; cast to the model's dtype.
        captions : integer array of shape (N, T), T >= 2
            Ground-truth captions as word ids in [0, V). Each row is fed in as
            ``captions[:, :-1]`` and scored against ``captions[:, 1:]``; ``<NULL>`` targets
            are masked out of the loss.

        Returns
        -------
        loss : scalar
            Summed over unmasked time steps, averaged over the minibatch.
        grads : dict
            The gradient of ``loss`` for each entry of ``params`` (same keys, shapes, dtypes).
        """
        features = self._features(features)
        captions = self._captions(captions, features.shape[0])
        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = captions_out != self._null

        p = self.params
        lstm = self.cell_type == "lstm"
        nt = self.n_threads
        # Forward: projection -> embedding -> RNN/LSTM -> vocabulary scores -> softmax loss.
        # The projection on the affine kernel; its backward computes dW_proj and db_proj only
        # (the features' gradient is never needed).
        _, feats, w_proj, b_proj = _linear._affine_args(features, p["W_proj"], p["b_proj"])
        h0 = _linear._forward(feats, w_proj, b_proj, False, nt)
        x, cache_embed = rnn_layers.word_embedding_forward(captions_in, p["W_embed"])
        if lstm:
            h, cache_rnn = rnn_layers.lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"], n_threads=nt)
        else:
            h, cache_rnn = rnn_layers.rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"], n_threads=nt)
        scores, cache_vocab = rnn_layers.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = rnn_layers.temporal_softmax_loss(scores, captions_out, mask)

        # Backward, in reverse.
        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = rnn_layers.temporal_affine_backward(
            dscores, cache_vocab
        )
        backward = rnn_layers.lstm_backward if lstm else rnn_layers.rnn_backward
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, cache_rnn, n_threads=nt)
        grads["W_embed"] = rnn_layers.word_embedding_backward(dx, cache_embed)
        _, grads["W_proj"], grads["b_proj"], _ = _linear._backward(
            np.ascontiguousarray(dh0, feats.dtype), feats, w_proj, None, False, None, nt
        )
        return loss, {k: grads[k] for k in p}

    # --- test time -------------------------------------------------------------------------

    @holds_blas_single_thread()
    def sample(self, features, max_length=30):
        """Greedy captions for a minibatch of images.

        Starting from the ``<START>`` word and the projected features as the initial hidden
        state (and a zero cell state for an LSTM), each step feeds in the previous step's
        highest-scoring word.

        Unlike the course's version, a row stops at its first ``<END>``: that ``<END>`` is
        kept and every later position of the row is ``<NULL>`` (a vocabulary without
        ``<END>`` samples ``max_length`` words in every row). Sampling stops as soon as
        every row has ended; ended rows are not computed further.

        Parameters
        ----------
        features : array of shape (N, D)
        max_length : int, default 30
            The number of words to sample per row (``<END>`` included); 0 gives an empty
            (N, 0) array, as in the course.

        Returns
        -------
        captions : int32 array of shape (N, max_length)
            Word ids; the first word is the one predicted after ``<START>``.
        """
        features = self._features(features)
        max_length = v.positive_int("max_length", max_length, minimum=0)
        _check_start(self._start, self.params["W_embed"].shape[0])
        n = features.shape[0]
        captions = np.full((n, max_length), self._null, dtype=np.int32)

        p = self.params
        lstm = self.cell_type == "lstm"
        nt = self.n_threads
        h = features @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h) if lstm else None
        rows = np.arange(n)  # the rows still sampling, and the row of h (and c) for each
        word = p["W_embed"][np.full(n, self._start)]
        for t in range(max_length):
            if lstm:
                h, c, _ = rnn_layers.lstm_step_forward(
                    word, h, c, p["Wx"], p["Wh"], p["b"], n_threads=nt
                )
            else:
                h, _ = rnn_layers.rnn_step_forward(word, h, p["Wx"], p["Wh"], p["b"], n_threads=nt)
            scores = h @ p["W_vocab"] + p["b_vocab"]
            idx = np.argmax(scores, axis=1)
            captions[rows, t] = idx
            going = None if self._end is None else idx != self._end  # no <END>: never ends
            if going is not None and not going.all():  # drop the rows that just ended
                rows, idx, h = rows[going], idx[going], h[going]
                if lstm:
                    c = c[going]
                if rows.size == 0:
                    break
            word = p["W_embed"][idx]
        return captions

    def __repr__(self):
        d, h = self.params["W_proj"].shape
        vocab_size, w = self.params["W_embed"].shape
        return (
            f"CaptioningRNN(V={vocab_size}, input_dim={d}, wordvec_dim={w}, hidden_dim={h}, "
            f"cell_type={self.cell_type!r}, dtype={self.dtype})"
        )
