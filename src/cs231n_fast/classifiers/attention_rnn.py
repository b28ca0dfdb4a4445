"""Image captioning with soft attention over image regions ("Show, Attend and Tell").

The notes' captioner with attention, in the style of
:class:`~cs231n_fast.classifiers.rnn.CaptioningRNN`:
instead of one feature vector per image, the model sees a grid of ``L`` region features
(``(N, L, D)``, for example the ``14 x 14 x 512`` last convolutional maps of a VGG net) and,
at every time step, looks at a weighted average of them chosen by the previous hidden state.
Forward and backward are written out by hand (backpropagation through time over one step
at a time), on the compiled pieces of :mod:`cs231n_fast.rnn_layers` (LSTM/RNN steps, word
embedding, temporal affine layer, temporal softmax loss) and :mod:`cs231n_fast.layers`
(affine); the attention itself is vectorised NumPy, written to be read. The equations are in
the user guide (``docs/guide/attention_captioning.rst``).

Reference: K. Xu, J. Ba, R. Kiros, K. Cho, A. Courville, R. Salakhutdinov, R. Zemel,
Y. Bengio, "Show, Attend and Tell: Neural Image Caption Generation with Visual Attention",
ICML 2015 (soft attention, section 4.2; the doubly stochastic regulariser, section 4.2.1).
"""

import math

import numpy as np

from .. import _validation as v
from .. import layers as _layers
from .. import rnn_layers
from .._model import float_dtype
from .._threads import effective_n_threads, holds_blas_single_thread
from .rnn import (
    _CELL_TYPES,
    _check_captions,
    _check_start,
    _check_vocabulary,
    _weight_draw,
)

__all__ = ["AttentionCaptioningRNN"]

_ATTENTIONS = ("additive", "dot")


def _softmax_rows(s):
    """Softmax over the last axis, computed stably (the row maximum subtracted first)."""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class AttentionCaptioningRNN:
    """An LSTM (or vanilla RNN) captioner with soft attention over L image regions.

    At step t, with the previous hidden state ``h[t-1]`` (``h[-1] = h0``), the model scores
    every region ``l`` of the image, turns the scores into weights ``alpha[t]`` (a softmax
    over the L regions), and feeds the recurrent cell the word vector of the current word
    concatenated with the context ``z[t] = sum_l alpha[t, l] * a[l]``::

        h0 = mean_l(a) W_init_h + b_init_h      c0 = mean_l(a) W_init_c + b_init_c   (LSTM)
        e[t, l] = v_att . tanh(a[l] W_att_f + b_att + h[t-1] W_att_h)     (additive)
        e[t, l] = a[l] . (h[t-1] W_att_h) / sqrt(D)                       (dot)
        alpha[t] = softmax_l(e[t])       z[t] = sum_l alpha[t, l] a[l]
        h[t], c[t] = LSTM([W_embed[w[t]], z[t]], h[t-1], c[t-1])
        scores[t] = h[t] W_vocab + b_vocab

    Parameters
    ----------
    word_to_idx : dict
        A vocabulary of V words mapped to the ids 0 .. V-1; must contain ``"<NULL>"`` (the
        padding masked out of the loss); ``sample`` needs ``"<START>"`` and stops a row at
        ``"<END>"`` when there is one. As in :class:`CaptioningRNN`.
    input_dim : int, default 512
        D, the dimension of each region's feature vector.
    wordvec_dim : int, default 128
        W, the dimension of the word vectors.
    hidden_dim : int, default 128
        H, the dimension of the hidden (and cell) state.
    attn_dim : int, default 128
        A, the dimension of the additive attention's hidden layer (unused by ``"dot"``).
    cell_type : {"lstm", "rnn"}, default "lstm"
    dtype : float32 or float64
        The parameters' dtype, and the dtype everything is computed in (features are cast
        to it); float64 for gradient checks.
    attention : {"additive", "dot"}, default "additive"
        The score function: Bahdanau's additive score (the paper's) or a scaled bilinear
        dot product between the regions and a projection of the hidden state.
    attn_reg : float, default 0.0
        lambda >= 0, the weight of the paper's doubly stochastic regulariser
        ``lambda * sum_l (1 - sum_t alpha[t, l]) ** 2``, summed over the time steps that are
        scored (target word not ``<NULL>``) and averaged over the minibatch like the loss.
        0 turns it off.
    seed : int or numpy Generator, optional (keyword)
        Seeds the initialisation; without it the weights come from ``np.random.randn`` (as
        :class:`CaptioningRNN`).
    n_threads : int, optional (keyword)
        Passed to the compiled kernels.

    Attributes
    ----------
    params : dict
        ``W_embed`` (V, W); ``W_init_h`` (D, H), ``b_init_h`` (H,) and, for an LSTM,
        ``W_init_c`` (D, H), ``b_init_c`` (H,); the attention's ``W_att_f`` (D, A),
        ``b_att`` (A,), ``W_att_h`` (H, A), ``v_att`` (A,) (additive) or ``W_att_h`` (H, D)
        (dot); the cell's ``Wx`` (W + D, G*H), ``Wh`` (H, G*H), ``b`` (G*H,) with G = 4 for
        an LSTM and 1 for an RNN (the first W rows of ``Wx`` take the word vector, the last D
        the context); ``W_vocab`` (H, V), ``b_vocab`` (V,). Gaussian weights scaled by
        1/sqrt(fan_in) (the embedding by 1/100), zero biases, as :class:`CaptioningRNN`.
    cell_type, attention, attn_reg, dtype, word_to_idx, idx_to_word

    Examples
    --------
    >>> import numpy as np
    >>> from cs231n_fast.classifiers.attention_rnn import AttentionCaptioningRNN
    >>> vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4}
    >>> model = AttentionCaptioningRNN(vocab, input_dim=8, wordvec_dim=6, hidden_dim=10,
    ...                                attn_dim=5, seed=0)
    >>> features = np.random.default_rng(0).standard_normal((2, 9, 8))  # N=2, L=3x3, D=8
    >>> captions = np.array([[1, 3, 2, 0], [1, 4, 3, 2]])
    >>> loss, grads = model.loss(features, captions)
    >>> sorted(grads) == sorted(model.params)
    True
    >>> words, alphas = model.sample(features, max_length=5)
    >>> words.shape, alphas.shape
    ((2, 5), (2, 5, 9))
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 attn_dim=128, cell_type="lstm", dtype=np.float32, attention="additive",
                 attn_reg=0.0, *, seed=None, n_threads=None):
        if cell_type not in _CELL_TYPES:
            raise ValueError(f"cell_type must be one of {sorted(_CELL_TYPES)}; got {cell_type!r}")
        if attention not in _ATTENTIONS:
            raise ValueError(f"attention must be one of {list(_ATTENTIONS)}; got {attention!r}")
        null, start, end = _check_vocabulary(word_to_idx)
        d = v.positive_int("input_dim", input_dim)
        w = v.positive_int("wordvec_dim", wordvec_dim)
        h = v.positive_int("hidden_dim", hidden_dim)
        a = v.positive_int("attn_dim", attn_dim)
        self.attn_reg = v.real_number("attn_reg", attn_reg, 0.0)
        dt = float_dtype(dtype)
        if n_threads is not None:
            effective_n_threads(n_threads)  # validate now, not at the first call

        self.cell_type = cell_type
        self.attention = attention
        self.dtype = dt
        self.n_threads = n_threads
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: word for word, i in word_to_idx.items()}
        self._null, self._start, self._end = null, start, end

        draw = _weight_draw(seed)
        vocab_size = len(word_to_idx)
        g = _CELL_TYPES[cell_type] * h
        p = {}
        p["W_embed"] = draw(vocab_size, w) / 100
        p["W_init_h"] = draw(d, h) / np.sqrt(d)
        p["b_init_h"] = np.zeros(h)
        if cell_type == "lstm":
            p["W_init_c"] = draw(d, h) / np.sqrt(d)
            p["b_init_c"] = np.zeros(h)
        if attention == "additive":
            p["W_att_f"] = draw(d, a) / np.sqrt(d)
            p["b_att"] = np.zeros(a)
            p["W_att_h"] = draw(h, a) / np.sqrt(h)
            p["v_att"] = draw(a) / np.sqrt(a)
        else:
            p["W_att_h"] = draw(h, d) / np.sqrt(h)
        p["Wx"] = draw(w + d, g) / np.sqrt(w + d)
        p["Wh"] = draw(h, g) / np.sqrt(h)
        p["b"] = np.zeros(g)
        p["W_vocab"] = draw(h, vocab_size) / np.sqrt(h)
        p["b_vocab"] = np.zeros(vocab_size)
        self.params = {k: val.astype(dt) for k, val in p.items()}

    # --- validation ------------------------------------------------------------------------

    def _features(self, features):
        """Region features as a C-contiguous (N, L, D) array of the model's dtype."""
        features = v.as_array("features", features)
        d = self.params["W_init_h"].shape[0]
        if features.ndim == 4 and features.shape[1] == d:  # conv maps (N, D, h, w)
            n, _, height, width = features.shape
            features = features.reshape(n, d, height * width).transpose(0, 2, 1)
        elif features.ndim != 3 or features.shape[2] != d:
            raise ValueError(
                f"features must have shape (N, L, input_dim) = (N, L, {d}) (L image regions) "
                f"or (N, input_dim, height, width) = (N, {d}, h, w) (a conv feature map); "
                f"got shape {features.shape}"
            )
        if features.shape[0] == 0 or features.shape[1] == 0:
            raise ValueError(
                f"features must hold N >= 1 images of L >= 1 regions; got shape "
                f"{features.shape} as (N, L, D)"
            )
        return np.ascontiguousarray(features, dtype=self.dtype)

    def _captions(self, captions, n):
        return _check_captions(captions, n, self.params["W_embed"].shape[0])

    # --- the pieces ------------------------------------------------------------------------

    def _init_state(self, features):
        """h0 (and c0), the affine images of the mean region feature, with their caches."""
        p = self.params
        mean = features.mean(axis=1)
        h0, cache_h = _layers.affine_forward(mean, p["W_init_h"], p["b_init_h"])
        if self.cell_type != "lstm":
            return h0, None, (cache_h, None)
        c0, cache_c = _layers.affine_forward(mean, p["W_init_c"], p["b_init_c"])
        return h0, c0, (cache_h, cache_c)

    def _keys(self, features):
        """The part of the additive score that does not depend on time:
        ``a[l] W_att_f + b_att`` (N, L, A); None for the dot score."""
        if self.attention != "additive":
            return None
        p = self.params
        n, length, d = features.shape
        keys = features.reshape(n * length, d) @ p["W_att_f"] + p["b_att"]
        return keys.reshape(n, length, -1)

    def _attend(self, features, keys, h):
        """Attention weights (N, L) and context (N, D) from the previous hidden state h."""
        p = self.params
        if keys is not None:
            q = h @ p["W_att_h"]  # (N, A)
            e = np.tanh(keys + q[:, None, :])  # (N, L, A)
            scores = e @ p["v_att"]  # (N, L)
        else:
            q = h @ p["W_att_h"]  # (N, D)
            scores = np.matmul(features, q[:, :, None])[:, :, 0]
            scores *= 1.0 / math.sqrt(features.shape[2])  # a Python float keeps float32
        alpha = _softmax_rows(scores)
        context = np.matmul(alpha[:, None, :], features)[:, 0, :]
        return alpha, context

    def _attend_backward(self, dalpha, alpha, features, keys, h, grads, dkeys):
        """Backward of :meth:`_attend` for the weights' gradient ``dalpha`` (N, L): adds the
        attention parameters' gradients to ``grads`` (and the keys' to ``dkeys``) and returns
        the gradient of the previous hidden state h."""
        p = self.params
        dscores = alpha * (dalpha - np.sum(alpha * dalpha, axis=1, keepdims=True))
        if keys is not None:
            q = h @ p["W_att_h"]
            e = np.tanh(keys + q[:, None, :])  # recomputed: (N, L, A) per step is not kept
            a = e.shape[2]
            grads["v_att"] += e.reshape(-1, a).T @ dscores.reshape(-1)
            dpre = (dscores[:, :, None] * p["v_att"]) * (1.0 - e * e)  # (N, L, A)
            dkeys += dpre
            dq = dpre.sum(axis=1)
        else:
            scale = 1.0 / math.sqrt(features.shape[2])
            dq = np.matmul(dscores[:, None, :], features)[:, 0, :] * scale  # (N, D)
        grads["W_att_h"] += h.T @ dq
        return dq @ p["W_att_h"].T

    def _step(self, x, h, c):
        p, nt = self.params, self.n_threads
        if self.cell_type == "lstm":
            return rnn_layers.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"], n_threads=nt)
        h, cache = rnn_layers.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"], n_threads=nt)
        return h, None, cache

    # --- training --------------------------------------------------------------------------

    @holds_blas_single_thread()
    def loss(self, features, captions):
        """Training loss and gradients for a minibatch of images and their captions.

        Parameters
        ----------
        features : array of shape (N, L, D), or (N, D, h, w) read as L = h * w regions
            Region features of each image; cast to the model's dtype, never modified.
        captions : integer array of shape (N, T + 1), T >= 1
            Ground-truth captions as word ids in [0, V): fed in as ``captions[:, :-1]``,
            scored against ``captions[:, 1:]``; ``<NULL>`` targets are masked out.

        Returns
        -------
        loss : scalar
            The cross-entropy summed over the unmasked time steps and averaged over the
            minibatch (as :meth:`CaptioningRNN.loss`), plus the doubly stochastic
            regulariser when ``attn_reg > 0``.
        grads : dict
            The gradient of ``loss`` for each entry of ``params`` (same keys, shapes, dtypes).
        """
        features = self._features(features)
        captions = self._captions(captions, features.shape[0])
        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = captions_out != self._null
        p = self.params
        n, length, d = features.shape
        t_steps = captions_in.shape[1]
        hd = p["Wh"].shape[0]
        wd = p["W_embed"].shape[1]
        lstm = self.cell_type == "lstm"

        # Forward, one step at a time: the cell's input at step t depends on h[t-1].
        h0, c0, cache_init = self._init_state(features)
        words, cache_embed = rnn_layers.word_embedding_forward(
            captions_in, p["W_embed"], n_threads=self.n_threads
        )
        keys = self._keys(features)
        hs = np.empty((n, t_steps, hd), dtype=self.dtype)
        alphas = np.empty((n, t_steps, length), dtype=self.dtype)
        step_caches = []
        h, c = h0, c0
        for t in range(t_steps):
            alphas[:, t], context = self._attend(features, keys, h)
            h, c, cache = self._step(np.concatenate([words[:, t], context], axis=1), h, c)
            hs[:, t] = h
            step_caches.append(cache)
        scores, cache_vocab = rnn_layers.temporal_affine_forward(hs, p["W_vocab"], p["b_vocab"])
        loss, dscores = rnn_layers.temporal_softmax_loss(
            scores, captions_out, mask, n_threads=self.n_threads
        )
        dalphas = None
        if self.attn_reg > 0:
            # lambda * sum_l (1 - sum_t alpha[t, l])^2 per caption, over the scored steps
            m = mask[:, :, None].astype(self.dtype)
            gap = 1.0 - np.sum(alphas * m, axis=1)  # (N, L)
            loss = loss + self.attn_reg * float(np.sum(gap * gap)) / n
            dalphas = (-2.0 * self.attn_reg / n) * gap[:, None, :] * m

        # Backward through time.
        grads = {k: np.zeros_like(val) for k, val in p.items()}
        dhs, grads["W_vocab"], grads["b_vocab"] = rnn_layers.temporal_affine_backward(
            dscores, cache_vocab
        )
        dwords = np.empty((n, t_steps, wd), dtype=self.dtype)
        dkeys = None if keys is None else np.zeros_like(keys)
        dh = np.zeros((n, hd), dtype=self.dtype)
        dc = np.zeros((n, hd), dtype=self.dtype) if lstm else None
        nt = self.n_threads
        for t in reversed(range(t_steps)):
            dh = dh + dhs[:, t]
            if lstm:
                dx, dh, dc, dWx, dWh, db = rnn_layers.lstm_step_backward(
                    dh, dc, step_caches[t], n_threads=nt
                )
            else:
                dx, dh, dWx, dWh, db = rnn_layers.rnn_step_backward(
                    dh, step_caches[t], n_threads=nt
                )
            grads["Wx"] += dWx
            grads["Wh"] += dWh
            grads["b"] += db
            dwords[:, t] = dx[:, :wd]
            dcontext = dx[:, wd:]
            dalpha = np.matmul(features, dcontext[:, :, None])[:, :, 0]  # (N, L)
            if dalphas is not None:
                dalpha += dalphas[:, t]
            h_prev = h0 if t == 0 else hs[:, t - 1]
            dh = dh + self._attend_backward(
                dalpha, alphas[:, t], features, keys, h_prev, grads, dkeys
            )
        step_caches.clear()
        if dkeys is not None:
            a = dkeys.shape[2]
            grads["W_att_f"] = features.reshape(n * length, d).T @ dkeys.reshape(n * length, a)
            grads["b_att"] = dkeys.sum(axis=(0, 1))
        grads["W_embed"] = rnn_layers.word_embedding_backward(dwords, cache_embed, n_threads=nt)
        cache_h, cache_c = cache_init
        _, grads["W_init_h"], grads["b_init_h"] = _layers.affine_backward(dh, cache_h)
        if lstm:
            _, grads["W_init_c"], grads["b_init_c"] = _layers.affine_backward(dc, cache_c)
        grads = {k: np.asarray(grads[k], dtype=self.dtype) for k in p}
        return loss, grads

    # --- test time -------------------------------------------------------------------------

    @holds_blas_single_thread()
    def sample(self, features, max_length=30):
        """Greedy captions for a minibatch of images, with the attention weights of each word.

        Starting from ``<START>`` and the initial state of the mean region feature, each step
        attends over the regions, then feeds the cell the previous step's highest-scoring
        word and the context. A row stops at its first ``<END>`` (kept); its later words are
        ``<NULL>`` and their attention weights zero. Sampling stops once every row has ended.

        Parameters
        ----------
        features : array of shape (N, L, D), or (N, D, h, w)
        max_length : int, default 30
            The number of words to sample per row (``<END>`` included), >= 0.

        Returns
        -------
        captions : int32 array of shape (N, max_length)
            Word ids; the first is the word predicted after ``<START>``.
        alphas : array of shape (N, max_length, L), the model's dtype
            ``alphas[n, t]`` are the weights over the L regions with which word
            ``captions[n, t]`` was predicted (each row sums to 1 up to the row's ``<END>``).
        """
        features = self._features(features)
        max_length = v.positive_int("max_length", max_length, minimum=0)
        _check_start(self._start, self.params["W_embed"].shape[0])
        p = self.params
        n, length, _ = features.shape
        captions = np.full((n, max_length), self._null, dtype=np.int32)
        alphas = np.zeros((n, max_length, length), dtype=self.dtype)
        h, c, _ = self._init_state(features)
        keys = self._keys(features)
        rows = np.arange(n)  # the rows still sampling
        idx = np.full(n, self._start)
        for t in range(max_length):
            alpha, context = self._attend(features, keys, h)
            h, c, _ = self._step(np.concatenate([p["W_embed"][idx], context], axis=1), h, c)
            idx = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
            captions[rows, t] = idx
            alphas[rows, t] = alpha
            if self._end is not None:
                going = idx != self._end
                if not going.all():  # drop the rows that just ended
                    rows, idx, h, features = rows[going], idx[going], h[going], features[going]
                    c = None if c is None else c[going]
                    keys = None if keys is None else keys[going]
                    if rows.size == 0:
                        break
        return captions, alphas

    def __repr__(self):
        d, h = self.params["W_init_h"].shape
        vocab_size, w = self.params["W_embed"].shape
        a = self.params["W_att_f"].shape[1] if self.attention == "additive" else None
        return (
            f"AttentionCaptioningRNN(V={vocab_size}, input_dim={d}, wordvec_dim={w}, "
            f"hidden_dim={h}, attn_dim={a}, cell_type={self.cell_type!r}, "
            f"attention={self.attention!r}, attn_reg={self.attn_reg}, dtype={self.dtype})"
        )
