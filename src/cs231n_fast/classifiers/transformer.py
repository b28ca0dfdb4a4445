"""NumPy counterpart of the course's ``cs231n/classifiers/transformer.py`` (assignment 3):
the Transformer image captioner, with explicit backward passes.

:class:`CaptioningTransformer` has the course's constructor, sub-modules, parameter names
(its ``params`` are keyed and shaped as the course model's ``state_dict()``), initialisation,
``forward`` and ``sample``; in addition ``loss(features, captions) -> (loss, grads)`` computes
the loss of the course's ``CaptioningSolverTransformer`` (inputs ``captions[:, :-1]``, targets
``captions[:, 1:]``, softmax cross-entropy masked where the target is ``<NULL>``, averaged over
all N * T positions) and its gradients, so :class:`cs231n_fast.captioning_solver.CaptioningSolver`
and :class:`cs231n_fast.captioning_solver_transformer.CaptioningSolverTransformer` train it.
A model trained in the course's PyTorch notebook loads with ``load_state_dict`` (arrays only)
and gives the same scores.

Examples
--------
>>> import numpy as np
>>> from cs231n_fast.classifiers.transformer import CaptioningTransformer
>>> vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4}
>>> model = CaptioningTransformer(vocab, input_dim=6, wordvec_dim=8, num_heads=2,
...                               num_layers=1, max_length=10, seed=0)
>>> rng = np.random.default_rng(0)
>>> features = rng.standard_normal((3, 6)).astype(np.float32)
>>> captions = np.array([[1, 3, 2, 0], [1, 4, 4, 2], [1, 2, 0, 0]])
>>> loss, grads = model.loss(features, captions)
>>> sorted(grads) == sorted(model.params)
True
>>> model.eval().sample(features, max_length=4).shape
(3, 4)
"""

import copy

import numpy as np

from .. import _validation as v
from .._model import float_dtype
from ..ops import temporal as _temporal
from ..transformer_layers import (
    Dropout,
    Embedding,
    LayerNorm,
    Linear,
    MultiHeadAttention,
    PositionalEncoding,
    _Module,
    _rng,
)
from .rnn import _check_vocabulary

# the course's module star-imports transformer_layers: its two layers are re-exported here
__all__ = ["CaptioningTransformer", "TransformerDecoderLayer", "TransformerDecoder", "PositionalEncoding",
           "MultiHeadAttention"]


class TransformerDecoderLayer(_Module):
    """One post-norm Transformer decoder layer, as the course's.

    ``x = norm1(tgt + dropout1(self_attn(tgt, tgt, tgt, tgt_mask)))``,
    ``x = norm2(x + dropout2(multihead_attn(x, memory, memory)))``,
    ``out = norm3(x + dropout3(linear2(dropout(relu(linear1(x))))))``.

    Parameters
    ----------
    input_dim : int
        E.
    num_heads : int
    dim_feedforward : int, default 2048
    dropout : float, default 0.1
        Drop probability of every dropout of the layer.
    dtype : float32 or float64 (keyword)
    seed : int or numpy Generator, optional (keyword)

    Attributes
    ----------
    params : dict
        ``self_attn.*``, ``multihead_attn.*`` (see :class:`MultiHeadAttention`),
        ``linear1.weight`` (dim_feedforward, E), ``linear1.bias``, ``linear2.weight``
        (E, dim_feedforward), ``linear2.bias``, ``norm{1,2,3}.weight`` and ``.bias`` (E,).
    """

    _children = ("self_attn", "multihead_attn", "linear1", "linear2", "norm1", "norm2", "norm3",
                 "dropout", "dropout1", "dropout2", "dropout3")

    def __init__(self, input_dim, num_heads, dim_feedforward=2048, dropout=0.1, *, dtype=np.float32,
                 seed=None):
        super().__init__()
        rng = _rng(seed)
        dt = float_dtype(dtype)
        self.input_dim = v.positive_int("input_dim", input_dim)
        self.dim_feedforward = v.positive_int("dim_feedforward", dim_feedforward)
        self.self_attn = MultiHeadAttention(input_dim, num_heads, dropout, dtype=dt, seed=rng)
        self.multihead_attn = MultiHeadAttention(input_dim, num_heads, dropout, dtype=dt, seed=rng)
        self.linear1 = Linear(input_dim, dim_feedforward, dtype=dt, seed=rng)
        self.dropout = Dropout(dropout, seed=rng)
        self.linear2 = Linear(dim_feedforward, input_dim, dtype=dt, seed=rng)
        self.norm1 = LayerNorm(input_dim, dtype=dt)
        self.norm2 = LayerNorm(input_dim, dtype=dt)
        self.norm3 = LayerNorm(input_dim, dtype=dt)
        self.dropout1 = Dropout(dropout, seed=rng)
        self.dropout2 = Dropout(dropout, seed=rng)
        self.dropout3 = Dropout(dropout, seed=rng)
        self._adopt()

    def forward(self, tgt, memory, tgt_mask=None):
        """``tgt`` (N, T, E), ``memory`` (N, S, E) -> (N, T, E)."""
        self._push()
        a = self.self_attn.forward(tgt, tgt, tgt, attn_mask=tgt_mask)
        x = self.norm1.forward(tgt + self.dropout1.forward(a))
        a = self.multihead_attn.forward(x, memory, memory)
        x = self.norm2.forward(x + self.dropout2.forward(a))
        h = self.linear1.forward(x, relu=True)
        f = self.linear2.forward(self.dropout.forward(h))
        self._cache = True
        return self.norm3.forward(x + self.dropout3.forward(f))

    def backward(self, dout):
        """Returns ``(dtgt, dmemory)``; the parameters' gradients go to ``grads``."""
        self._take_cache()
        dr = self.norm3.backward(dout)
        dh = self.linear2.backward(self.dropout3.backward(dr))
        dx = dr + self.linear1.backward(self.dropout.backward(dh))
        dr = self.norm2.backward(dx)
        dq, dk, dv = self.multihead_attn.backward(self.dropout2.backward(dr))
        dx = dr + dq
        dmemory = dk + dv
        dr = self.norm1.backward(dx)
        dq, dk, dv = self.self_attn.backward(self.dropout1.backward(dr))
        dtgt = dr + dq
        dtgt += dk
        dtgt += dv
        self._gather()
        return dtgt, dmemory

    def _describe(self):
        return (f"input_dim={self.input_dim}, num_heads={self.self_attn.num_heads}, "
                f"dim_feedforward={self.dim_feedforward}, dropout={self.dropout.p}")


class TransformerDecoder(_Module):
    """``num_layers`` copies of ``decoder_layer`` applied in turn (the course's ``clones``:
    each copy starts with the layer's weights).

    Attributes
    ----------
    params : dict
        ``layers.{i}.<name>`` for every parameter of every layer.
    """

    _children = ("layers",)

    def __init__(self, decoder_layer, num_layers):
        super().__init__()
        if not isinstance(decoder_layer, TransformerDecoderLayer):
            raise TypeError(f"decoder_layer must be a TransformerDecoderLayer; got {type(decoder_layer).__name__}")
        self.num_layers = v.positive_int("num_layers", num_layers)
        self.layers = [copy.deepcopy(decoder_layer) for _ in range(self.num_layers)]
        # the copies' dropout generators would repeat each other's masks: give each its own
        src = decoder_layer.self_attn._drop_rng  # seeded from the layer's seed, when it had one
        seeds = np.random.SeedSequence(int(src.integers(0, 2**63))).spawn(6 * self.num_layers)
        for i, layer in enumerate(self.layers):
            gens = [np.random.default_rng(s) for s in seeds[6 * i: 6 * i + 6]]
            for name, g in zip(("dropout", "dropout1", "dropout2", "dropout3"), gens):
                if getattr(layer, name)._rng is not None:
                    getattr(layer, name)._rng = g
            layer.self_attn._drop_rng, layer.multihead_attn._drop_rng = gens[4], gens[5]
        self._adopt()

    def forward(self, tgt, memory, tgt_mask=None):
        self._push()
        out = tgt
        for layer in self.layers:
            out = layer.forward(out, memory, tgt_mask=tgt_mask)
        self._cache = True
        return out

    def backward(self, dout):
        """Returns ``(dtgt, dmemory)``."""
        self._take_cache()
        dmemory = None
        for layer in reversed(self.layers):
            dout, dm = layer.backward(dout)
            dmemory = dm if dmemory is None else dmemory + dm
        self._gather()
        return dout, dmemory

    def _describe(self):
        return f"num_layers={self.num_layers}"


class CaptioningTransformer(_Module):
    """The course's Transformer image captioner.

    Image features (N, D) are projected to one "memory" token of dimension W; the caption's
    word embeddings plus position codes run through ``num_layers`` decoder layers (causal
    self-attention, attention to the memory token, feed-forward), and a linear layer scores
    every position against the vocabulary.

    Parameters
    ----------
    word_to_idx : dict
        Vocabulary of V words, ids 0 .. V-1; must contain ``"<NULL>"`` (padding, masked out
        of the loss and given no embedding gradient); ``sample`` needs ``"<START>"``.
    input_dim : int
        D.
    wordvec_dim : int
        W, divisible by ``num_heads`` and even.
    num_heads : int, default 4
    num_layers : int, default 2
    max_length : int, default 50
        Longest sequence the positional encoding covers.
    dim_feedforward : int, default 2048 (keyword)
        Hidden size of the decoder layers' feed-forward networks (fixed at 2048 in the course).
    dropout : float, default 0.1 (keyword)
        Drop probability of every dropout (0.1 in the course).
    dtype : float32 or float64, default float32 (keyword)
    seed : int or numpy Generator, optional (keyword)
        Initialisation and dropout masks.

    Attributes
    ----------
    params : dict
        Keyed and shaped as the course model's ``state_dict()`` (without the buffer
        ``positional_encoding.pe``, which :meth:`state_dict` includes):
        ``visual_projection.weight`` (W, D), ``visual_projection.bias``, ``embedding.weight``
        (V, W), ``transformer.layers.{i}.*`` (see :class:`TransformerDecoderLayer`, with
        ``dim_feedforward = 2048`` and dropout 0.1 as in the course), ``output.weight`` (V, W),
        ``output.bias`` (V,). Initialised as the course does: N(0, 0.02) weights and zero
        biases for every linear and embedding layer but ``output`` (PyTorch's default
        uniform), layer norms at ones and zeros.
    grads : dict
        Same keys, filled by :meth:`loss`.
    training : bool
        Dropout is on in training mode (after construction and :meth:`train`), off after
        :meth:`eval`.

    Notes
    -----
    As in the course, :meth:`sample` runs in the current mode: call :meth:`eval` first for
    deterministic greedy captions.
    """

    _children = ("visual_projection", "embedding", "positional_encoding", "transformer", "output")

    def __init__(self, word_to_idx, input_dim, wordvec_dim, num_heads=4, num_layers=2, max_length=50,
                 *, dim_feedforward=2048, dropout=0.1, dtype=np.float32, seed=None):
        super().__init__()
        self._null, self._start, self._end = _check_vocabulary(word_to_idx)
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        vocab_size = len(word_to_idx)
        self.vocab_size = vocab_size
        if not 0 <= self._null < vocab_size:
            raise ValueError(f"word_to_idx['<NULL>'] must be in [0, {vocab_size}); got {self._null}")
        d = v.positive_int("input_dim", input_dim)
        w = v.positive_int("wordvec_dim", wordvec_dim)
        self.dtype = dt = float_dtype(dtype)
        rng = _rng(seed)
        self.visual_projection = Linear(d, w, dtype=dt, seed=rng)
        self.embedding = Embedding(vocab_size, w, padding_idx=self._null, dtype=dt, seed=rng)
        self.positional_encoding = PositionalEncoding(w, dropout, max_len=max_length, dtype=dt, seed=rng)
        layer = TransformerDecoderLayer(w, num_heads, dim_feedforward, dropout, dtype=dt, seed=rng)
        self.transformer = TransformerDecoder(layer, num_layers)
        self.output = Linear(w, vocab_size, dtype=dt, seed=rng)
        self._adopt()
        # the course's _init_weights (applied before `output` exists)
        for k, a in self.params.items():
            if k.startswith("output."):
                continue
            if k.endswith(".bias"):
                a[...] = 0
            elif ".norm" in k:
                a[...] = 1
            else:
                a[...] = rng.normal(0.0, 0.02, a.shape)
        self.input_dim, self.wordvec_dim = d, w
        self.num_heads, self.num_layers, self.max_length = num_heads, num_layers, max_length

    # --- validation
    def _features(self, features):
        f = np.asarray(features)
        if f.dtype.kind not in "biuf":
            raise TypeError(f"features must be a real numeric array; got dtype {f.dtype}")
        if f.ndim != 2 or f.shape[1] != self.input_dim:
            raise ValueError(f"features must have shape (N, {self.input_dim}); got {f.shape}")
        return f.astype(self.dtype, copy=False)

    def _captions(self, captions, n, min_t=1):
        c = np.asarray(captions)
        if c.dtype.kind not in "iu":
            raise TypeError(f"captions must be an integer array of word ids; got dtype {c.dtype}")
        if c.ndim != 2 or c.shape[0] != n or c.shape[1] < min_t:
            raise ValueError(f"captions must have shape (N, T) with N = {n} and T >= {min_t}; got {c.shape}")
        if c.size and (c.min() < 0 or c.max() >= self.vocab_size):
            raise ValueError(f"captions must hold word ids in [0, {self.vocab_size}); got values in "
                             f"[{c.min()}, {c.max()}]")
        return c

    # --- passes
    def forward(self, features, captions):
        """Scores (N, T, V) for every position of ``captions`` (N, T) given ``features`` (N, D);
        position t sees the words up to t only."""
        f = self._features(features)
        c = self._captions(captions, f.shape[0], min_t=0)  # N = 0 or T = 0: empty scores, as the course's
        return self._forward(f, c)

    def _forward(self, f, c):
        self._push()
        t = c.shape[1]
        x = self.positional_encoding.forward(self.embedding.forward(c))
        memory = self.visual_projection.forward(f)[:, None, :]
        mask = np.tri(t, t, dtype=self.dtype)
        h = self.transformer.forward(x, memory, tgt_mask=mask)
        self._cache = True
        return self.output.forward(h)

    def backward(self, dscores):
        """Gradients of all parameters into ``grads`` from the gradient of the scores."""
        self._take_cache()
        dh = self.output.backward(dscores)
        dx, dmemory = self.transformer.backward(dh)
        self.visual_projection.backward(dmemory[:, 0, :], need_dx=False)
        self.embedding.backward(self.positional_encoding.backward(dx))
        self.grads = {}
        self._gather()
        return self.grads

    def loss(self, features, captions):
        """The course's training loss and its gradients.

        Parameters
        ----------
        features : array_like of shape (N, D)
        captions : array_like of int, shape (N, T + 1)
            Word ids; the model reads ``captions[:, :-1]`` and predicts ``captions[:, 1:]``.

        Returns
        -------
        loss : float
            ``sum(mask * cross_entropy) / (N * T)``, mask = target is not ``<NULL>`` (the
            course's ``transformer_temporal_softmax_loss``: a mean over all N * T positions).
        grads : dict
            Gradients keyed like ``params``.
        """
        f = self._features(features)
        if f.shape[0] == 0:
            raise ValueError(f"features must hold N >= 1 images (the loss is a mean over N * T); got shape {f.shape}")
        c = self._captions(captions, f.shape[0], min_t=2)
        cin, cout = c[:, :-1], c[:, 1:]
        scores = self._forward(f, cin)
        t = cin.shape[1]
        loss, dscores = _temporal.temporal_softmax_loss(scores, cout, cout != self._null)
        dscores *= dscores.dtype.type(1.0 / t)
        return loss / t, self.backward(dscores)

    def sample(self, features, max_length=30):
        """Greedy decoding, as the course's: ``(N, max_length)`` int32 word ids.

        Each step runs the model on ``<START>`` and the words chosen so far and appends the
        highest-scoring word of the last position.
        """
        f = self._features(features)
        max_length = v.positive_int("max_length", max_length, minimum=0)
        if self._start is None or not 0 <= self._start < self.vocab_size:
            raise ValueError("sample needs a '<START>' word id in [0, V) in word_to_idx")
        n = f.shape[0]
        captions = np.full((n, max_length), self._null, dtype=np.int32)
        partial = np.full((n, 1), self._start, dtype=np.int64)
        for t in range(max_length):
            logits = self._forward(f, partial)[:, -1, :]
            word = np.argmax(logits, axis=1)
            captions[:, t] = word
            partial = np.concatenate([partial, word[:, None]], axis=1)
        self._cache = None
        return captions

    def _describe(self):
        return (f"V={self.vocab_size}, input_dim={self.input_dim}, wordvec_dim={self.wordvec_dim}, "
                f"num_heads={self.num_heads}, num_layers={self.num_layers}, max_length={self.max_length}")
