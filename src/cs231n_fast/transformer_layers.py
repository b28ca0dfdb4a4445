"""NumPy counterpart of the course's ``cs231n/transformer_layers.py`` (assignment 3), with
explicit backward passes.

The course writes its Transformer captioner in PyTorch; here every piece is a layer class in
the style of :mod:`cs231n_fast.nn` -- ``forward``, ``backward``, ``params``, ``grads``,
``train()``/``eval()`` -- whose parameters are named and shaped as the course module's
``state_dict()``: a :class:`Linear`'s ``weight`` is (out_features, in_features) and is applied
as ``x @ weight.T + bias``, as ``torch.nn.Linear``. ``load_state_dict`` takes a mapping of
arrays (a PyTorch state dict works too: each entry is read with ``numpy.asarray``; torch is
never imported), so a model trained in the course's notebook loads here and gives the same
outputs.

Layers: :class:`PositionalEncoding` and :class:`MultiHeadAttention` (the course's two), and
the pieces its decoder layer is built of, :class:`Linear`, :class:`LayerNorm`,
:class:`Dropout` and :class:`Embedding`, each over the compiled kernels of
:mod:`cs231n_fast.ops` (layer norm, dropout, word embedding) or one BLAS product.

Conventions, as in PyTorch and the course: ``Dropout(p)`` drops with probability ``p`` (the
course's assignment-2 ``dropout_forward`` takes the *keep* probability); a module is in
training mode after construction (dropout on) and :meth:`eval` turns dropout off. The
attention mask is the course's: ``attn_mask[i, j] == 0`` keeps query ``i`` from attending to
key ``j``.

Examples
--------
>>> import numpy as np
>>> from cs231n_fast.transformer_layers import MultiHeadAttention
>>> attn = MultiHeadAttention(embed_dim=8, num_heads=2, dropout=0.0, seed=0)
>>> x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
>>> mask = np.tril(np.ones((5, 5)))          # token i sees tokens 0..i
>>> out = attn.forward(x, x, x, attn_mask=mask)
>>> out.shape, out.dtype
((2, 5, 8), dtype('float32'))
>>> dq, dk, dv = attn.backward(np.ones_like(out))
>>> sorted(attn.grads) == sorted(attn.params)
True
"""

import copy
import math
from collections.abc import Mapping

import numpy as np

from . import _validation as v
from ._model import float_dtype
from .ops import activations as _act
from .ops import norm as _norm
from .ops import linear as _linear
from .ops import temporal as _temporal

from .ops import attention as _attention

__all__ = [
    "PositionalEncoding",
    "MultiHeadAttention",
    "Linear",
    "LayerNorm",
    "Dropout",
    "Embedding",
]


# --- module machinery ---------------------------------------------------------------------------


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class _Module:
    """Parameters in a flat dict keyed like the course module's ``state_dict()``.

    A composite module owns the arrays of its children under dotted names (``"query.weight"``);
    before each forward it hands every child the current arrays (so an optimiser may replace
    ``params[name]`` between steps, as the ``CaptioningSolver`` does), and after each backward
    it gathers the children's gradients under the same names. Arrays that ``load_state_dict``
    on a sub-module replaced are taken up first, so such a load holds.
    """

    #: names of child-module attributes, in state_dict order
    _children = ()
    #: names of buffers (arrays in the state dict that are not parameters)
    _buffers = ()

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True
        self._cache = None
        #: keys of ``params`` that load_state_dict replaced since the parent last took them
        self._loaded = set()

    # modes
    def train(self, mode=True):
        """Training mode (dropout on); returns self."""
        self.training = bool(mode)
        for _, child in self._named_children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    # tree
    def _named_children(self):
        for name in self._children:
            child = getattr(self, name)
            if isinstance(child, (list, tuple)):
                for i, c in enumerate(child):
                    yield f"{name}.{i}", c
            else:
                yield name, child

    def _adopt(self):
        """Collect the children's parameters into ``self.params`` under dotted names."""
        for cname, child in self._named_children():
            child._adopt()
            for k, a in child.params.items():
                self.params[f"{cname}.{k}"] = a
            child._loaded.clear()  # taken now

    def _push(self):
        """Hand each child the current arrays of ``self.params`` (after taking those a
        sub-module's ``load_state_dict`` replaced, :meth:`_pull`)."""
        self._pull()
        self._push_down()

    def _pull(self):
        """Take into ``self.params`` the arrays that ``load_state_dict`` on a sub-module (at any
        depth) replaced since the last call, so that the next :meth:`_push` does not undo the
        load with this module's older arrays."""
        for cname, child in self._named_children():
            child._pull()
            if child._loaded:
                for k in child._loaded:
                    self.params[f"{cname}.{k}"] = child.params[k]
                    self._loaded.add(f"{cname}.{k}")
                child._loaded.clear()

    def _push_down(self):
        for cname, child in self._named_children():
            pre = cname + "."
            for k in child.params:
                child.params[k] = self.params[pre + k]
            child._push_down()

    def _gather(self):
        """Collect the children's gradients into ``self.grads``."""
        for cname, child in self._named_children():
            child._gather()
            for k, g in child.grads.items():
                self.grads[f"{cname}.{k}"] = g

    def _take_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    # state dict
    def _buffer_items(self, prefix=""):
        for b in self._buffers:
            yield prefix + b, getattr(self, b)
        for cname, child in self._named_children():
            yield from child._buffer_items(f"{prefix}{cname}.")

    def state_dict(self):
        """A dict of copies of the parameters and buffers, keyed and shaped as the course
        module's ``state_dict()``."""
        self._pull()
        out = {k: a.copy() for k, a in self.params.items()}
        out.update((k, a.copy()) for k, a in self._buffer_items())
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy parameters (and buffers) from a mapping of arrays.

        Parameters
        ----------
        state_dict : mapping of str to array_like
            Keyed and shaped as the course module's ``state_dict()`` (a PyTorch state dict
            works: each entry is read with ``numpy.asarray``). Buffers (the positional
            encoding's ``pe``) are optional; when present they are loaded.
        strict : bool, default True
            Refuse keys this module does not have.

        Raises
        ------
        TypeError
            If ``state_dict`` is not a mapping or an entry is not real numeric.
        KeyError
            If a parameter is missing, or (``strict``) an entry is not one of this module's.
        ValueError
            If an entry has the wrong shape (the message names it).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a mapping of names to arrays; got {type(state_dict).__name__}")
        self._pull()
        buffers = dict(self._buffer_items())
        missing = [k for k in self.params if k not in state_dict]
        if missing:
            raise KeyError(f"state_dict is missing {missing[0]!r} (missing: {missing})")
        if strict:
            extra = [k for k in state_dict if k not in self.params and k not in buffers]
            if extra:
                raise KeyError(f"state_dict has unexpected entry {extra[0]!r} (unexpected: {extra})")
        new = {}
        for k, cur in list(self.params.items()) + [(k, b) for k, b in buffers.items() if k in state_dict]:
            a = np.asarray(state_dict[k])
            if a.dtype.kind not in "biuf":
                raise TypeError(f"state_dict[{k!r}] must be a real numeric array; got dtype {a.dtype}")
            if k in buffers and a.ndim == 3 and a.shape[0] == 1 and a.shape[2] == cur.shape[2]:
                pass  # a positional encoding of any max_len
            elif a.shape != cur.shape:
                raise ValueError(f"state_dict[{k!r}] must have shape {cur.shape}; got {a.shape}")
            new[k] = np.array(a, dtype=cur.dtype, order="C", copy=True)
        for k, a in new.items():
            if k in self.params:
                self.params[k] = a
                self._loaded.add(k)  # for a parent module to take (_pull)
            else:
                self._set_buffer(k, a)
        self._push_down()
        return self

    def _set_buffer(self, key, a):
        mod, name = self, key
        while "." in name:
            head, name = name.split(".", 1)
            if head.isdigit():
                mod = mod[int(head)]
            else:
                mod = getattr(mod, head)
        mod._load_buffer(name, a)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __repr__(self):
        return f"{type(self).__name__}({self._describe()})"

    def _describe(self):
        return ""


# --- basic layers -------------------------------------------------------------------------------


class Linear(_Module):
    """``x @ weight.T + bias`` over the last axis, as ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    dtype : float32 or float64, default float32
    seed : int or numpy Generator, optional
        Initialisation (PyTorch's default: ``U(-1/sqrt(in), 1/sqrt(in))`` for both).

    Attributes
    ----------
    params : dict
        ``weight`` (out_features, in_features), ``bias`` (out_features,).
    """

    #: Output unit j's incoming weights are the row ``weight[j]`` (torch's layout): the axis of
    #: the Solver's ``max_norm`` (:mod:`cs231n_fast.regularization`), not the name rule's columns.
    max_norm_axes = {"weight": 1}

    def __init__(self, in_features, out_features, *, dtype=np.float32, seed=None):
        super().__init__()
        self.in_features = v.positive_int("in_features", in_features)
        self.out_features = v.positive_int("out_features", out_features)
        self.dtype = float_dtype(dtype)
        rng = _rng(seed)
        bound = 1.0 / math.sqrt(self.in_features)
        self.params["weight"] = rng.uniform(-bound, bound, (self.out_features, self.in_features)).astype(self.dtype)
        self.params["bias"] = rng.uniform(-bound, bound, self.out_features).astype(self.dtype)

    def forward(self, x, relu=False):
        """``x (..., in_features) -> (..., out_features)``; ``relu=True`` also applies a ReLU
        (fused into the product's output pass).

        The product runs on :func:`cs231n_fast.ops.linear.affine_forward` (our OpenMP threads,
        each calling a single-threaded BLAS on its block; a copy of ``weight.T`` is its (D, M)
        operand), so that the whole step uses one pool of threads: NumPy's ``@`` would run
        OpenBLAS's own threads, which spin against our kernels' OpenMP threads between calls
        (measured: the CaptioningTransformer step 1.3x torch's time with ``@``, 0.8x with one
        pool).
        """
        w, b = self.params["weight"], self.params["bias"]
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have shape (..., {self.in_features}); got {x.shape}")
        if x.dtype != w.dtype:
            x = x.astype(w.dtype)
        x2 = x.reshape(-1, self.in_features)
        wt = np.ascontiguousarray(w.T)
        if x2.shape[0] == 0:
            out = x2 @ wt + b
            if relu:
                np.maximum(out, 0, out=out)
            cache = None
        else:
            op = _linear.affine_relu_forward if relu else _linear.affine_forward
            out, cache = op(x2, wt, b)
        self._cache = (x2, x.shape, cache, relu)
        return out.reshape(x.shape[:-1] + (self.out_features,))

    def backward(self, dout, need_dx=True):
        """Gradients of ``weight`` and ``bias`` into ``grads``; returns dx (None unless
        ``need_dx``)."""
        x2, xshape, cache, relu = self._take_cache()
        w = self.params["weight"]
        d2 = np.asarray(dout, dtype=w.dtype).reshape(-1, self.out_features)
        if d2.shape[0] != x2.shape[0]:
            raise ValueError(f"dout must have shape {xshape[:-1] + (self.out_features,)}; got {np.shape(dout)}")
        if cache is None:  # an empty batch
            self.grads["weight"] = np.zeros_like(w)
            self.grads["bias"] = np.zeros_like(self.params["bias"])
            return np.zeros(xshape, w.dtype) if need_dx else None
        op = _linear.affine_relu_backward if relu else _linear.affine_backward
        dx, dwt, db = op(d2, cache, need_dx=need_dx)
        self.grads["weight"] = np.ascontiguousarray(dwt.T)
        self.grads["bias"] = db
        if not need_dx:
            return None
        return dx.reshape(xshape)

    def _describe(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class LayerNorm(_Module):
    """Layer normalisation over the last axis, as ``torch.nn.LayerNorm(normalized_shape)``,
    on the compiled kernels of :func:`cs231n_fast.ops.norm.layernorm_forward`.

    Parameters
    ----------
    normalized_shape : int
    eps : float, default 1e-5
    dtype : float32 or float64

    Attributes
    ----------
    params : dict
        ``weight`` (ones) and ``bias`` (zeros), shape (normalized_shape,).
    """

    def __init__(self, normalized_shape, eps=1e-5, *, dtype=np.float32):
        super().__init__()
        self.normalized_shape = v.positive_int("normalized_shape", normalized_shape)
        self.eps = v.real_number("eps", eps, 0.0, low_open=True)
        self.dtype = float_dtype(dtype)
        self.params["weight"] = np.ones(self.normalized_shape, self.dtype)
        self.params["bias"] = np.zeros(self.normalized_shape, self.dtype)

    def forward(self, x):
        x = np.asarray(x)
        d = self.normalized_shape
        if x.ndim < 1 or x.shape[-1] != d:
            raise ValueError(f"x must have shape (..., {d}); got {x.shape}")
        w, b = self.params["weight"], self.params["bias"]
        if x.size == 0:  # no rows (an empty batch or sequence): torch.nn.LayerNorm gives an empty result
            out = _norm.layernorm_forward(np.zeros((1, d), x.dtype), w, b, eps=self.eps)[0][:0]
            self._cache = (None, x.shape, out.dtype)
            return out.reshape(x.shape)
        out, cache = _norm.layernorm_forward(x.reshape(-1, d), w, b, eps=self.eps)
        self._cache = (cache, x.shape, out.dtype)
        return out.reshape(x.shape)

    def backward(self, dout):
        cache, shape, dt = self._take_cache()
        if cache is None:  # the forward had no rows
            dout = np.asarray(dout)
            if dout.shape != shape:
                raise ValueError(f"dout must have shape {shape}; got {dout.shape}")
            d = self.normalized_shape
            self.grads["weight"], self.grads["bias"] = np.zeros(d, dt), np.zeros(d, dt)
            return np.zeros(shape, dt)
        dx, dg, db = _norm.layernorm_backward(np.asarray(dout).reshape(-1, self.normalized_shape), cache)
        self.grads["weight"], self.grads["bias"] = dg, db
        return dx.reshape(shape)

    def _describe(self):
        return f"{self.normalized_shape}, eps={self.eps}"


def _drop_p(p):
    return v.real_number("dropout", p, 0.0, 1.0)


class Dropout(_Module):
    """Inverted dropout with drop probability ``p`` (PyTorch's convention), on the compiled
    kernel of :func:`cs231n_fast.ops.activations.dropout_forward`; the identity in eval mode.

    Parameters
    ----------
    p : float in [0, 1], default 0.5
        Probability of zeroing an element; the kept ones are scaled by ``1 / (1 - p)``.
    seed : int or numpy Generator, optional
        Seeds the masks (each call draws a new key from it); without it the keys come from
        NumPy's global random state.
    """

    def __init__(self, p=0.5, *, seed=None):
        super().__init__()
        self.p = _drop_p(p)
        self._rng = None if seed is None else _rng(seed)

    def _key(self):
        return None if self._rng is None else int(self._rng.integers(0, 2**32))

    def active(self):
        """True when a forward call drops elements (training mode and p > 0)."""
        return self.training and self.p > 0

    def forward(self, x):
        if not self.active():
            self._cache = ("identity",)
            return x
        if self.p >= 1:
            self._cache = ("zero",)
            return np.zeros_like(x)
        out, cache = _act.dropout_forward(x, 1.0 - self.p, "train", self._key())
        self._cache = ("mask", cache)
        return out

    def backward(self, dout):
        cache = self._take_cache()
        if cache[0] == "identity":
            return dout
        if cache[0] == "zero":
            return np.zeros_like(dout)
        return _act.dropout_backward(dout, cache[1])

    def _describe(self):
        return f"p={self.p}"


class Embedding(_Module):
    """Word embedding ``weight[x]``, as ``torch.nn.Embedding(num_embeddings, embedding_dim,
    padding_idx)``: the row ``padding_idx`` gets no gradient.

    Attributes
    ----------
    params : dict
        ``weight`` (num_embeddings, embedding_dim), standard normal as PyTorch's default.
    """

    #: One vector per word, a row of ``weight`` (as torch's ``Embedding(max_norm=)``): the axis
    #: of the Solver's ``max_norm``.
    max_norm_axes = {"weight": 1}

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, *, dtype=np.float32, seed=None):
        super().__init__()
        self.num_embeddings = v.positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = v.positive_int("embedding_dim", embedding_dim)
        if padding_idx is not None:
            padding_idx = int(padding_idx)
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"padding_idx must be in [0, {self.num_embeddings}); got {padding_idx}")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        self.dtype = float_dtype(dtype)
        w = _rng(seed).standard_normal((self.num_embeddings, self.embedding_dim)).astype(self.dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.params["weight"] = w

    def forward(self, x):
        w = self.params["weight"]
        ids = np.asarray(x)
        if ids.size == 0 and ids.ndim == 2 and ids.dtype.kind in "iu":
            # no words (an empty batch or sequence): torch.nn.Embedding gives an empty result
            self._cache = ("empty", ids.shape)
            return np.zeros(ids.shape + (self.embedding_dim,), np.float32 if w.dtype == np.float32 else np.float64)
        out, cache = _temporal.word_embedding_forward(x, w)
        self._cache = cache
        return out

    def backward(self, dout):
        cache = self._take_cache()
        if isinstance(cache, tuple) and cache[0] == "empty":
            dout = np.asarray(dout)
            if dout.shape != cache[1] + (self.embedding_dim,):
                raise ValueError(f"dout must have shape {cache[1] + (self.embedding_dim,)}; got {dout.shape}")
            self.grads["weight"] = np.zeros_like(self.params["weight"])
            return
        dw = _temporal.word_embedding_backward(dout, cache)
        if self.padding_idx is not None:
            dw[self.padding_idx] = 0
        self.grads["weight"] = dw

    def _describe(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, padding_idx={self.padding_idx}"


# --- the course's layers ------------------------------------------------------------------------


def positional_encoding_table(embed_dim, max_len, dtype=np.float64):
    """The course's sinusoidal table, of shape (1, max_len, embed_dim).

    ``pe[0, i, j] = sin(i * 10000 ** (-j / d))`` for even ``j`` and
    ``cos(i * 10000 ** (-(j - 1) / d))`` for odd ``j``.
    """
    i = np.arange(max_len, dtype=np.float64)[:, None]
    freq = np.power(10000.0, -np.arange(0, embed_dim, 2, dtype=np.float64) / embed_dim)
    pe = np.zeros((1, max_len, embed_dim))
    pe[0, :, 0::2] = np.sin(i * freq)
    pe[0, :, 1::2] = np.cos(i * freq)
    return pe.astype(dtype)


class PositionalEncoding(_Module):
    """Adds the course's sinusoidal position codes to a sequence, then dropout.

    Parameters
    ----------
    embed_dim : int
        D, even.
    dropout : float, default 0.1
        Drop probability.
    max_len : int, default 5000
        Longest sequence.
    dtype : float32 or float64 (keyword)
    seed : int or numpy Generator, optional (keyword)
        Seeds the dropout masks.

    Attributes
    ----------
    pe : ndarray of shape (1, max_len, embed_dim)
        The table (a buffer: in ``state_dict`` as ``"pe"``, not a parameter).
    """

    _buffers = ("pe",)

    def __init__(self, embed_dim, dropout=0.1, max_len=5000, *, dtype=np.float32, seed=None):
        super().__init__()
        self.embed_dim = v.positive_int("embed_dim", embed_dim)
        if self.embed_dim % 2:
            raise ValueError(f"embed_dim must be even (sines and cosines in pairs); got {embed_dim}")
        self.max_len = v.positive_int("max_len", max_len)
        self.dtype = float_dtype(dtype)
        self.dropout = Dropout(dropout, seed=seed)
        self.pe = positional_encoding_table(self.embed_dim, self.max_len, self.dtype)

    _children = ("dropout",)

    def _load_buffer(self, name, a):
        self.pe = a
        self.max_len = a.shape[1]

    def forward(self, x):
        """``x`` (N, S, D) -> ``dropout(x + pe[:, :S])``."""
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != self.embed_dim:
            raise ValueError(f"x must have shape (N, S, {self.embed_dim}); got {x.shape}")
        if x.shape[1] > self.max_len:
            raise ValueError(f"x has {x.shape[1]} positions, more than max_len = {self.max_len}")
        out = x + self.pe[:, : x.shape[1]]
        self._cache = True
        return self.dropout.forward(out)

    def backward(self, dout):
        self._take_cache()
        return self.dropout.backward(dout)

    def _describe(self):
        return f"{self.embed_dim}, dropout={self.dropout.p}, max_len={self.max_len}"


def _check_mask(attn_mask, n, h, s, t):
    m = np.asarray(attn_mask)
    if m.dtype.kind not in "biuf":
        raise TypeError(f"attn_mask must be a boolean or numeric array; got dtype {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, (n, h, s, t))
    except ValueError:
        raise ValueError(
            f"attn_mask must have shape (S, T) = ({s}, {t}) (or one that broadcasts to "
            f"(N, num_heads, S, T) = {(n, h, s, t)}); got {m.shape}"
        ) from None
    if m.ndim > 4:
        raise ValueError(f"attn_mask must have at most 4 dimensions (N, num_heads, S, T); got {m.shape}")
    # The course applies masked_fill(attn_mask == 0, -inf): every nonzero entry (-inf and NaN
    # included) attends. ops.attention refuses a float mask holding -inf (an additive mask
    # passed by mistake); the course module reads it as it reads any number, and so do we.
    return m if m.dtype.kind == "b" else m != 0


class MultiHeadAttention(_Module):
    """The course's multi-head attention, with its backward pass.

    ``query`` (N, S, E), ``key`` and ``value`` (N, T, E) are projected by the ``query``,
    ``key`` and ``value`` linear layers, split into ``num_heads`` heads of ``E / num_heads``
    features, attended (``softmax(q k^T / sqrt(E / num_heads))`` with the masked positions at
    ``-inf``, dropout on the attention weights), merged and projected by ``proj``.

    Parameters
    ----------
    embed_dim : int
        E, divisible by ``num_heads``.
    num_heads : int
    dropout : float, default 0.1
        Drop probability of the attention weights (training mode only).
    dtype : float32 or float64 (keyword)
    seed : int or numpy Generator, optional (keyword)
        Initialisation (PyTorch's ``nn.Linear`` default) and dropout masks.

    Attributes
    ----------
    params : dict
        ``query.weight``, ``key.weight``, ``value.weight``, ``proj.weight`` (E, E) and the four
        ``.bias`` (E,): the course module's ``state_dict()`` names.

    Notes
    -----
    The attention itself runs on :func:`cs231n_fast.ops.attention.sdpa_forward` (compiled,
    parallel over batch and heads). One difference from the course's module: a query whose
    every key is masked gets a zero output row where the course's softmax gives NaN.
    """

    _children = ("key", "query", "value", "proj")

    def __init__(self, embed_dim, num_heads, dropout=0.1, *, dtype=np.float32, seed=None):
        super().__init__()
        self.embed_dim = v.positive_int("embed_dim", embed_dim)
        self.num_heads = v.positive_int("num_heads", num_heads)
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim must be divisible by num_heads; got embed_dim={embed_dim}, num_heads={num_heads}"
            )
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = _drop_p(dropout)
        self.dtype = float_dtype(dtype)
        rng = _rng(seed)
        # the course's order of construction: key, query, value, proj
        self.key = Linear(embed_dim, embed_dim, dtype=self.dtype, seed=rng)
        self.query = Linear(embed_dim, embed_dim, dtype=self.dtype, seed=rng)
        self.value = Linear(embed_dim, embed_dim, dtype=self.dtype, seed=rng)
        self.proj = Linear(embed_dim, embed_dim, dtype=self.dtype, seed=rng)
        self._drop_rng = rng
        self._adopt()

    def _split(self, x, n, length):
        # a view (N, H, L, Dh) of the (N, L, E) rows: ops.attention reads it in place, and lays
        # its results out the same way, so merging the heads back copies nothing either
        return x.reshape(n, length, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def forward(self, query, key, value, attn_mask=None):
        """Attention output (N, S, E).

        Parameters
        ----------
        query : array_like of shape (N, S, E)
        key, value : array_like of shape (N, T, E)
        attn_mask : array_like of shape (S, T), optional
            ``attn_mask[i, j] == 0`` keeps query ``i`` from attending to key ``j`` (any shape
            that broadcasts to (N, num_heads, S, T) is accepted, as in the course).
        """
        self._push()
        e = self.embed_dim
        arrs = []
        for name, a in (("query", query), ("key", key), ("value", value)):
            a = np.asarray(a)
            if a.ndim != 3 or a.shape[2] != e:
                raise ValueError(f"{name} must have shape (N, L, {e}); got {a.shape}")
            arrs.append(a)
        q_in, k_in, v_in = arrs
        n, s, _ = q_in.shape
        if k_in.shape[0] != n or v_in.shape[:2] != k_in.shape[:2]:
            raise ValueError(
                f"key and value must have shape (N, T, E) with the N = {n} of query; got key "
                f"{k_in.shape} and value {v_in.shape}"
            )
        t = k_in.shape[1]
        causal = False
        mask = None
        if attn_mask is not None:
            mask = _check_mask(attn_mask, n, self.num_heads, s, t)
            if mask.shape == (s, t) and s == t and np.array_equal(mask != 0, np.tri(s, t, dtype=bool)):
                causal, mask = True, None
        self_attn = query is key and key is value
        # One key and no mask (the captioner's attention to its image token): the softmax is 1
        # whatever the query, so the output and every gradient are those of any query; the query
        # projection (and its backward) is skipped and its gradients are exactly zero, as
        # PyTorch's (the softmax's derivative over one element is 0).
        one_key = t == 1 and mask is None and not causal
        if one_key:
            q = np.zeros((n, self.num_heads, s, self.head_dim), self.query.params["weight"].dtype)
        else:
            q = self._split(self.query.forward(q_in), n, s)
        if self_attn:
            k = self._split(self.key.forward(q_in), n, t)
            vv = self._split(self.value.forward(q_in), n, t)
        else:
            k = self._split(self.key.forward(k_in), n, t)
            vv = self._split(self.value.forward(v_in), n, t)
        p = self.dropout if self.training else 0.0
        seed = int(self._drop_rng.integers(0, 2**32)) if p > 0 else None
        out, cache = _attention.sdpa_forward(q, k, vv, mask, causal=causal, dropout_p=p, rng=seed)
        y = out.transpose(0, 2, 1, 3).reshape(n, s, e)
        self._cache = (cache, n, s, t, one_key)
        return self.proj.forward(y)

    def backward(self, dout):
        """Returns ``(dquery, dkey, dvalue)``; the parameters' gradients go to ``grads``.

        When the forward's ``query``, ``key`` and ``value`` were the same array, each of the
        three is the total gradient of that array divided into its three uses (add them).
        """
        cache, n, s, t, one_key = self._take_cache()
        e = self.embed_dim
        dy = self.proj.backward(dout)
        dout_h = self._split(dy, n, s)
        dq, dk, dv = _attention.sdpa_backward(dout_h, cache)
        merge = lambda a, length: a.transpose(0, 2, 1, 3).reshape(n, length, e)  # noqa: E731
        if one_key:
            dquery = np.zeros((n, s, e), dq.dtype)
            self.query.grads = {k: np.zeros_like(a) for k, a in self.query.params.items()}
        else:
            dquery = self.query.backward(merge(dq, s))
        dkey = self.key.backward(merge(dk, t))
        dvalue = self.value.backward(merge(dv, t))
        self._gather()
        return dquery, dkey, dvalue

    def _describe(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
