"""Training-step cases: the whole step of a course network against the same network in PyTorch.

One step is what the Solver does per minibatch: ``loss, grads = model.loss(X, y)``, then
``cs231n_fast.optim.adam`` on every parameter with its own config dict (learning rate 1e-3,
the course's defaults otherwise), each result written back into ``model.params``.

``fast``
    The course's own model classes (:class:`~cs231n_fast.classifiers.ThreeLayerConvNet`,
    :class:`~cs231n_fast.classifiers.FullyConnectedNet`,
    :class:`~cs231n_fast.classifiers.CaptioningRNN`,
    :class:`~cs231n_fast.classifiers.transformer.CaptioningTransformer`) or an
    :class:`cs231n_fast.nn.Sequential`.
``torch``
    The same network as ``torch.nn`` modules holding the same initial parameters (linear
    weights transposed to ``(out, in)``, LSTM gate rows reordered to torch's i, f, g, o with a
    zero ``bias_hh``), ``nn.CrossEntropyLoss`` (the captioning loss: per-step cross entropy
    times the mask, summed, divided by N, as the course's) plus the course's L2 term
    ``0.5 * reg * sum(W ** 2)`` over the same weights, ``loss.backward()`` and
    ``torch.optim.Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8).step()``; batch normalisation
    with ``momentum = 1 - 0.9`` and ``eps = 1e-5``; inputs do not require grad (the course
    networks discard the input gradient; torch does not compute it). The Transformer
    captioner is the course's own PyTorch model (:func:`torch_course_modules`, parameters
    named and shaped as ours, the positional table set to ours), with the course's
    ``transformer_temporal_softmax_loss`` (masked cross entropy averaged over N·T).

Initial parameters come from the course constructors (fixed seed) rounded to float32, so the
float32 and float64 runs and torch start from the same numbers, and one float64 oracle (torch
in float64, or ours in float64 without torch) checks every dtype: the loss and every gradient
of the first step. Dropout masks cannot agree between two libraries: the network with dropout
is checked with dropout disabled (keep ratio 1) and timed with its keep ratio of 0.5; the
Transformer captioner is checked in eval mode (no dropout) and timed in training mode
(dropout 0.1 everywhere, as the course trains it), both sides.

The L2 strength is ``REG`` (1e-3, as the course notebooks train with) for the convolutional
and fully connected networks; the captioning network has none.
"""

import math
from dataclasses import dataclass

import numpy as np

from ._common import (
    DTYPES,
    MODEL_IMPLS,
    _as_numpy,
    _import_torch,
    _normal_maker,
    _require_torch,
)
from .layers import _check_scalars_and_arrays
from .lstm import _gate_swap

#: Tolerance of the check per dtype, relative to each gradient's largest magnitude. float64 is
#: held to the layer tolerance; a float32 gradient several layers below the loss sums tens of
#: thousands of rounded terms that largely cancel (the first convolution's filters): torch's
#: own float32 step differs from float64 there by up to ~3e-3, ours (today) by up to ~1e-2.
#: A wrong gradient differs by O(1).
MODEL_RTOL = {"float32": 5e-2, "float64": 1e-9}
#: Gradients the network makes zero up to rounding (the bias of a layer followed by batch
#: normalisation) are measured against this fraction of the step's largest gradient.
ZERO_GRADIENT_FLOOR = 1e-3

#: The networks.
MODEL_NETS = ("three_layer_convnet", "vgg", "vgg_bn", "fc_bn_dropout", "captioning_lstm",
              "captioning_transformer")
#: The networks with dropout: checked without it (:func:`check_runner`), timed with it.
DROPOUT_NETS = ("fc_bn_dropout", "captioning_transformer")
#: L2 strength of the convolutional and fully connected networks.
REG = 1e-3
#: The Adam configuration of every parameter (the Solver's ``optim_config``).
LEARNING_RATE = 1e-3
#: Sizes of the networks: image side (3 channels, 10 classes); ThreeLayerConvNet's filters,
#: filter size and hidden units; the output channels of the VGG-style network's four 3x3
#: convolutions (a 2x2 pool after the second and the fourth); the fully connected network's
#: hidden sizes; the captioning networks' vocabulary, word vector, hidden and feature sizes and
#: caption length; the Transformer captioner's decoder layers and positional table length (the
#: course notebook's ``max_length=30``; its feed-forward width is the course's fixed 2048).
SIZES = dict(side=32, filters=32, filter_size=7, hidden=100, vgg=(64, 64, 128, 128),
             fc=(512, 256, 128, 64), vocab=1004, wordvec=256, lstm=512, features=512, steps=16,
             layers=2, max_length=30)
#: The same networks shrunk, for tests (``ModelCase(..., tiny=True)``).
TINY_SIZES = dict(side=8, filters=4, filter_size=3, hidden=10, vgg=(4, 4, 8, 8),
                  fc=(12, 10, 8, 6), vocab=30, wordvec=8, lstm=12, features=10, steps=5,
                  layers=2, max_length=8)


@dataclass(frozen=True)
class ModelCase:
    """One training-step benchmark: network ``net`` (one of :data:`MODEL_NETS`), batch ``n``;
    ``heads``: the attention heads of ``captioning_transformer`` (ignored by the others)."""

    net: str
    n: int
    dtypes: tuple = ("float32",)
    quick: bool = False  # in the quick subset (``--quick`` / ``--bench-quick``)
    tiny: bool = False  # the networks shrunk to :data:`TINY_SIZES` (tests)
    heads: int = 4

    kernel = "models"
    quick_dtypes = ("float32",)
    impls = MODEL_IMPLS
    quick_impls = MODEL_IMPLS

    def __post_init__(self):
        if self.net not in MODEL_NETS:
            raise ValueError(f"net must be one of {MODEL_NETS}; got {self.net!r}")

    @property
    def id(self):
        heads = f"-h{self.heads}" if self.net == "captioning_transformer" else ""
        return f"models-{self.net}-n{self.n}{heads}" + ("-tiny" if self.tiny else "")

    @property
    def sizes(self):
        return TINY_SIZES if self.tiny else SIZES

    def gemm_flops(self):
        return None

    def work(self, dtype):
        return {}


MODEL_CASES = (
    ModelCase("three_layer_convnet", 50, dtypes=DTYPES, quick=True),
    ModelCase("vgg", 64, quick=True),
    ModelCase("vgg_bn", 64, quick=True),
    ModelCase("fc_bn_dropout", 100, dtypes=DTYPES, quick=True),
    ModelCase("captioning_lstm", 50, quick=True),
    # Issue 16: the course notebook's CaptioningTransformer (N=25, T=16, E=256, 2 heads,
    # 2 layers, D=512, V=1004) and a larger batch with 4 heads (full runs only: its two
    # implementations' steps would add several seconds to a quick run).
    ModelCase("captioning_transformer", 25, quick=True, heads=2),
    ModelCase("captioning_transformer", 128, heads=4),
)


# --- inputs and the course networks ----------------------------------------------------------


def _vocabulary(size):
    words = ["<NULL>", "<START>", "<END>", "<UNK>"]
    words += [f"w{i}" for i in range(size - len(words))]
    return {w: i for i, w in enumerate(words)}


def _course_model(case, dtype, keep=0.5):
    """The course network of ``case`` in ``dtype`` (its constructor's initialisation).

    ``keep`` is the keep ratio of the network with dropout; the Transformer captioner is in
    eval mode (no dropout) for ``keep == 1``, else in training mode (its dropout 0.1).
    """
    s = case.sizes
    if case.net == "captioning_transformer":
        from ..classifiers.transformer import CaptioningTransformer

        model = CaptioningTransformer(_vocabulary(s["vocab"]), s["features"], s["wordvec"],
                                      num_heads=case.heads, num_layers=s["layers"],
                                      max_length=s["max_length"], dtype=dtype, seed=0)
        return model.eval() if keep == 1 else model.train()
    if case.net == "three_layer_convnet":
        from ..classifiers import ThreeLayerConvNet

        return ThreeLayerConvNet(input_dim=(3, s["side"], s["side"]), num_filters=s["filters"],
                                 filter_size=s["filter_size"], hidden_dim=s["hidden"],
                                 num_classes=10, reg=REG, dtype=dtype, seed=0)
    if case.net == "fc_bn_dropout":
        from ..classifiers import FullyConnectedNet

        model = FullyConnectedNet(list(s["fc"]), input_dim=3 * s["side"] ** 2, num_classes=10,
                                  dropout_keep_ratio=keep, normalization="batchnorm", reg=REG,
                                  dtype=dtype, seed=0)
        # A seed would make every step draw the same mask; a training run draws new ones.
        model.dropout_param.pop("seed", None)
        return model
    if case.net == "captioning_lstm":
        from ..classifiers import CaptioningRNN

        return CaptioningRNN(_vocabulary(s["vocab"]), input_dim=s["features"],
                             wordvec_dim=s["wordvec"], hidden_dim=s["lstm"],
                             cell_type="lstm", dtype=dtype, seed=0)
    from ..nn import Affine, Conv2D, Flatten, MaxPool2D, ReLU, Sequential, SpatialBatchNorm

    layers, c = [], 3
    for i, f in enumerate(s["vgg"]):
        layers.append(Conv2D(c, f, 3, pad=1, dtype=dtype, seed=i))
        if case.net == "vgg_bn":
            layers.append(SpatialBatchNorm(f, dtype=dtype))
        layers.append(ReLU())
        if i % 2 == 1:
            layers.append(MaxPool2D(2))
        c = f
    side = s["side"] // 4
    layers += [Flatten(), Affine(c * side * side, 10, dtype=dtype, seed=len(s["vgg"]))]
    return Sequential(*layers, reg=REG)


def inputs(case, dtype, seed=0):
    """The minibatch and the initial parameters (``param:<name>``), float32-representable."""
    rng = np.random.default_rng(seed)
    normal = _normal_maker(rng, dtype)
    s = case.sizes
    if case.net in ("captioning_lstm", "captioning_transformer"):
        n, t, v = case.n, s["steps"], s["vocab"]
        captions = rng.integers(4, v, size=(n, t + 1))
        captions[:, 0] = 1  # <START>
        lengths = rng.integers(t // 2, t + 2, size=n)  # some rows padded with <NULL>
        captions[np.arange(t + 1)[None, :] >= lengths[:, None]] = 0
        data = {"features": normal(n, s["features"]), "captions": captions}
    elif case.net == "fc_bn_dropout":
        data = {"X": normal(case.n, 3 * s["side"] ** 2), "y": rng.integers(0, 10, size=case.n)}
    else:
        data = {"X": normal(case.n, 3, s["side"], s["side"]),
                "y": rng.integers(0, 10, size=case.n)}
    params = _course_model(case, np.float64).params
    for name, value in params.items():
        data[f"param:{name}"] = np.asarray(value).astype(np.float32).astype(dtype)
    return data


def _params_of(inputs):
    return {k.split(":", 1)[1]: a for k, a in inputs.items() if k.startswith("param:")}


def _course_runner(case, inputs, keep=0.5):
    """One Solver step of the course network: loss, gradients, Adam on every parameter.

    Returns ``(loss, *grads)`` in the order of ``model.params``.
    """
    from ..optim import adam

    start = _params_of(inputs)
    dtype = next(iter(start.values())).dtype
    model = _course_model(case, dtype, keep)
    for name, value in start.items():
        model.params[name] = value.copy()
    names = list(model.params)
    configs = {name: {"learning_rate": LEARNING_RATE} for name in names}
    args = ((inputs["features"], inputs["captions"]) if case.net.startswith("captioning")
            else (inputs["X"], inputs["y"]))

    def call():
        loss, grads = model.loss(*args)
        params = model.params
        for name in names:
            next_w, configs[name] = adam(params[name], grads[name], configs[name])
            params[name] = next_w
        return (loss,) + tuple(grads[name] for name in names)

    return call


# --- torch -----------------------------------------------------------------------------------


def torch_course_modules(torch):
    """The course's Transformer captioner written in PyTorch, for the benchmark and the tests.

    The course's ``transformer_layers.py`` (``PositionalEncoding``, ``MultiHeadAttention``)
    and ``classifiers/transformer.py`` (``TransformerDecoderLayer``, ``CaptioningTransformer``)
    as the assignment's solution computes them, and its solver's
    ``transformer_temporal_softmax_loss``. Built on call, so the package imports no torch.

    Parameters
    ----------
    torch : module
        The imported ``torch``.

    Returns
    -------
    MultiHeadAttention, CaptioningTransformer : type
        ``torch.nn.Module`` classes with the course's constructors, forwards and parameter
        names (the state dict of a ``CaptioningTransformer`` loads into
        :class:`cs231n_fast.classifiers.transformer.CaptioningTransformer`).
    loss : callable
        ``loss(scores, targets, mask)``: cross entropy of ``scores`` (N, T, V) against
        ``targets`` (N, T) times ``mask`` (N, T), averaged over N·T.
    """
    nn = torch.nn
    F = torch.nn.functional

    class TPositionalEncoding(nn.Module):
        def __init__(self, embed_dim, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = torch.zeros(1, max_len, embed_dim)
            i = torch.arange(max_len)[:, None]
            pows = torch.pow(10000, -torch.arange(0, embed_dim, 2) / embed_dim)
            pe[0, :, 0::2] = torch.sin(i * pows)
            pe[0, :, 1::2] = torch.cos(i * pows)
            self.register_buffer("pe", pe)

        def forward(self, x):
            return self.dropout(x + self.pe[:, : x.shape[1], :])

    class TMultiHeadAttention(nn.Module):
        def __init__(self, embed_dim, num_heads, dropout=0.1):
            super().__init__()
            self.key = nn.Linear(embed_dim, embed_dim)
            self.query = nn.Linear(embed_dim, embed_dim)
            self.value = nn.Linear(embed_dim, embed_dim)
            self.proj = nn.Linear(embed_dim, embed_dim)
            self.attn_drop = nn.Dropout(dropout)
            self.n_head = num_heads
            self.head_dim = embed_dim // num_heads

        def forward(self, query, key, value, attn_mask=None):
            N, S, E = query.shape
            _, T, _ = value.shape
            H, D = self.n_head, self.head_dim
            q = self.query(query).view(N, S, H, D).transpose(1, 2)
            k = self.key(key).view(N, T, H, D).transpose(1, 2)
            v = self.value(value).view(N, T, H, D).transpose(1, 2)
            scores = q @ k.transpose(2, 3) / math.sqrt(D)
            if attn_mask is not None:
                scores = scores.masked_fill(attn_mask == 0, float("-inf"))
            y = self.attn_drop(F.softmax(scores, dim=-1)) @ v
            return self.proj(y.transpose(1, 2).reshape(N, S, E))

    class TDecoderLayer(nn.Module):
        def __init__(self, input_dim, num_heads, dim_feedforward=2048, dropout=0.1):
            super().__init__()
            self.self_attn = TMultiHeadAttention(input_dim, num_heads, dropout)
            self.multihead_attn = TMultiHeadAttention(input_dim, num_heads, dropout)
            self.linear1 = nn.Linear(input_dim, dim_feedforward)
            self.dropout = nn.Dropout(dropout)
            self.linear2 = nn.Linear(dim_feedforward, input_dim)
            self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(input_dim) for _ in range(3))
            self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))
            self.activation = nn.ReLU()

        def forward(self, tgt, memory, tgt_mask=None):
            tgt = self.norm1(tgt + self.dropout1(self.self_attn(tgt, tgt, tgt, attn_mask=tgt_mask)))
            tgt = self.norm2(tgt + self.dropout2(self.multihead_attn(tgt, memory, memory)))
            tgt2 = self.linear2(self.dropout(self.activation(self.linear1(tgt))))
            return self.norm3(tgt + self.dropout3(tgt2))

    class TDecoder(nn.Module):
        def __init__(self, layer, num_layers):
            super().__init__()
            import copy

            self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])

        def forward(self, tgt, memory, tgt_mask=None):
            for mod in self.layers:
                tgt = mod(tgt, memory, tgt_mask=tgt_mask)
            return tgt

    class TCaptioningTransformer(nn.Module):
        def __init__(self, word_to_idx, input_dim, wordvec_dim, num_heads=4, num_layers=2,
                     max_length=50):
            super().__init__()
            vocab_size = len(word_to_idx)
            self._null = word_to_idx["<NULL>"]
            self.visual_projection = nn.Linear(input_dim, wordvec_dim)
            self.embedding = nn.Embedding(vocab_size, wordvec_dim, padding_idx=self._null)
            self.positional_encoding = TPositionalEncoding(wordvec_dim, max_len=max_length)
            self.transformer = TDecoder(TDecoderLayer(wordvec_dim, num_heads), num_layers)
            self.apply(self._init_weights)
            self.output = nn.Linear(wordvec_dim, vocab_size)

        def _init_weights(self, module):
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.data.normal_(mean=0.0, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    module.bias.data.zero_()
            elif isinstance(module, nn.LayerNorm):
                module.bias.data.zero_()
                module.weight.data.fill_(1.0)

        def forward(self, features, captions):
            N, T = captions.shape
            x = self.positional_encoding(self.embedding(captions))
            memory = self.visual_projection(features).unsqueeze(1)
            mask = torch.tril(torch.ones(T, T, device=x.device, dtype=x.dtype))
            return self.output(self.transformer(x, memory, tgt_mask=mask))

    def loss(x, y, mask):  # CaptioningSolverTransformer.transformer_temporal_softmax_loss
        N, T, V = x.shape
        out = F.cross_entropy(x.reshape(N * T, V), y.reshape(N * T), reduction="none")
        return torch.mean(out * mask.reshape(N * T))

    return TMultiHeadAttention, TCaptioningTransformer, loss




def _torch_modules(case, torch, keep):
    """``(module, named, extra)``: ``named`` lists ``(course name, torch parameter,
    (to_course, from_course))`` in the course's order, the pair mapping a torch-layout array
    to the course's layout and back; ``extra`` holds what the loss needs."""
    nn = torch.nn
    s = case.sizes
    # (to the course's layout, from it); both are their own inverses but the gates'.
    same, transpose = (lambda a: a, lambda a: a), (lambda a: a.T, lambda a: a.T)
    if case.net == "captioning_transformer":
        _, captioner, loss = torch_course_modules(torch)
        model = captioner(_vocabulary(s["vocab"]), s["features"], s["wordvec"],
                          num_heads=case.heads, num_layers=s["layers"],
                          max_length=s["max_length"])
        # Ours keys and shapes its parameters as the course's state_dict: no conversion.
        params = dict(model.named_parameters())
        named = [(k, params[k], same) for k in _param_names(case, prefix="")]
        return model, named, {"loss": loss}
    if case.net == "captioning_lstm":
        h = s["lstm"]
        order = _gate_swap(h)  # swaps blocks: its own inverse
        embed = nn.Embedding(s["vocab"], s["wordvec"])
        proj = nn.Linear(s["features"], h)
        lstm = nn.LSTM(s["wordvec"], h, batch_first=True)
        vocab = nn.Linear(h, s["vocab"])
        modules = nn.ModuleList([embed, proj, lstm, vocab])
        gates = (lambda a: a[order].T, lambda a: a.T[order])
        gate_bias = (lambda a: a[order], lambda a: a[order])
        named = [("W_embed", embed.weight, same), ("W_proj", proj.weight, transpose),
                 ("b_proj", proj.bias, same), ("Wx", lstm.weight_ih_l0, gates),
                 ("Wh", lstm.weight_hh_l0, gates), ("b", lstm.bias_ih_l0, gate_bias),
                 ("W_vocab", vocab.weight, transpose), ("b_vocab", vocab.bias, same)]
        return modules, named, {"order": order, "embed": embed, "proj": proj, "lstm": lstm,
                                "vocab": vocab}
    if case.net == "three_layer_convnet":
        f, k, half = s["filters"], s["filter_size"], s["side"] // 2
        conv = nn.Conv2d(3, f, k, padding=(k - 1) // 2)
        fc1, fc2 = nn.Linear(f * half * half, s["hidden"]), nn.Linear(s["hidden"], 10)
        net = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), fc1, nn.ReLU(), fc2)
        named = [("W1", conv.weight, same), ("b1", conv.bias, same), ("W2", fc1.weight, transpose),
                 ("b2", fc1.bias, same), ("W3", fc2.weight, transpose), ("b3", fc2.bias, same)]
        return net, named, {"weights": [conv.weight, fc1.weight, fc2.weight]}
    if case.net == "fc_bn_dropout":
        dims = (3 * s["side"] ** 2,) + tuple(s["fc"])
        layers, named, weights = [], [], []
        for i in range(1, len(dims)):
            linear = nn.Linear(dims[i - 1], dims[i])
            bn = nn.BatchNorm1d(dims[i], eps=1e-5, momentum=0.1)
            layers += [linear, bn, nn.ReLU()]
            if keep != 1:
                layers.append(nn.Dropout(p=1 - keep))
            named += [(f"W{i}", linear.weight, transpose), (f"b{i}", linear.bias, same),
                      (f"gamma{i}", bn.weight, same), (f"beta{i}", bn.bias, same)]
            weights.append(linear.weight)
        last = nn.Linear(dims[-1], 10)
        layers.append(last)
        named += [(f"W{len(dims)}", last.weight, transpose), (f"b{len(dims)}", last.bias, same)]
        weights.append(last.weight)
        # The course's parameter order: W1, b1, gamma1, beta1, ..., W5, b5.
        return nn.Sequential(*layers), named, {"weights": weights}
    # vgg, vgg_bn: the Sequential's keys "<index>.w" etc. follow the layer indices.
    layers, named, weights, c, index = [], [], [], 3, 0
    for i, f in enumerate(s["vgg"]):
        conv = nn.Conv2d(c, f, 3, padding=1)
        layers.append(conv)
        named += [(f"{index}.w", conv.weight, same), (f"{index}.b", conv.bias, same)]
        weights.append(conv.weight)
        index += 1
        if case.net == "vgg_bn":
            bn = nn.BatchNorm2d(f, eps=1e-5, momentum=0.1)
            layers.append(bn)
            named += [(f"{index}.gamma", bn.weight, same), (f"{index}.beta", bn.bias, same)]
            index += 1
        layers.append(nn.ReLU())
        index += 1
        if i % 2 == 1:
            layers.append(nn.MaxPool2d(2))
            index += 1
        c = f
    head = nn.Linear(c * (s["side"] // 4) ** 2, 10)
    layers += [nn.Flatten(), head]
    index += 1
    named += [(f"{index}.W", head.weight, transpose), (f"{index}.b", head.bias, same)]
    weights.append(head.weight)
    return nn.Sequential(*layers), named, {"weights": weights}


def _torch_runner(case, inputs, keep=0.5):
    """One step of the same network in torch; returns ``(loss, *grads)`` in torch's layout,
    in the course's parameter order."""
    torch = _require_torch()
    F = torch.nn.functional
    start = _params_of(inputs)
    dtype = torch.from_numpy(next(iter(start.values()))[:0]).dtype
    module, named, extra = _torch_modules(case, torch, keep)
    module.to(dtype)
    # The Transformer captioner's dropout is on in training mode only.
    module.train(keep != 1 or case.net != "captioning_transformer")
    with torch.no_grad():
        for name, param, (_, from_course) in named:
            param.copy_(torch.from_numpy(np.ascontiguousarray(from_course(start[name]))))
        if case.net == "captioning_lstm":
            extra["lstm"].bias_hh_l0.zero_()
        if case.net == "captioning_transformer":  # the course's table is made in float32
            from ..transformer_layers import positional_encoding_table

            pe = module.positional_encoding.pe
            pe.copy_(torch.from_numpy(positional_encoding_table(pe.shape[2], pe.shape[1])))
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999),
                                 eps=1e-8)
    params = [param for _, param, _ in named]

    if case.net == "captioning_lstm":
        features = torch.from_numpy(inputs["features"])
        captions = torch.from_numpy(inputs["captions"].astype(np.int64))
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        n, t = captions_out.shape
        mask = (captions_out != 0).reshape(n * t).to(dtype)
        targets = captions_out.reshape(n * t)
        embed, proj, lstm, vocab = extra["embed"], extra["proj"], extra["lstm"], extra["vocab"]

        def loss_of():
            h0 = proj(features).unsqueeze(0)
            h, _ = lstm(embed(captions_in), (h0, torch.zeros_like(h0)))
            scores = vocab(h).reshape(n * t, -1)
            return (F.cross_entropy(scores, targets, reduction="none") * mask).sum() / n
    elif case.net == "captioning_transformer":
        features = torch.from_numpy(inputs["features"])
        captions = torch.from_numpy(inputs["captions"].astype(np.int64))
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = (captions_out != 0).long()
        course_loss = extra["loss"]

        def loss_of():
            return course_loss(module(features, captions_in), captions_out, mask)
    else:
        X = torch.from_numpy(inputs["X"])
        y = torch.from_numpy(inputs["y"].astype(np.int64))
        weights = extra["weights"]
        criterion = torch.nn.CrossEntropyLoss()

        def loss_of():
            loss = criterion(module(X), y)
            return loss + 0.5 * REG * sum((w * w).sum() for w in weights)

    def call():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        optimizer.step()
        return (loss.detach(),) + tuple(p.grad for p in params)

    return call


def _from_torch(case, outputs):
    torch = _require_torch()
    _, named, _ = _torch_modules(case, torch, 1)
    loss, *grads = (_as_numpy(o) for o in outputs)
    return (loss,) + tuple(to_course(g) for (_, _, (to_course, _)), g in zip(named, grads))


# --- the family's interface ------------------------------------------------------------------


def runner(case, impl, inputs, n_threads):
    """One training step; ``n_threads`` is not passed (the course models take none)."""
    if impl == "torch":
        return _torch_runner(case, inputs)
    return _course_runner(case, inputs)


def check_runner(case, impl, inputs, n_threads):
    """The step as checked: without dropout for the networks with dropout (masks differ; the
    Transformer captioner in eval mode)."""
    if case.net not in DROPOUT_NETS:
        return None
    if impl == "torch":
        return _torch_runner(case, inputs, keep=1)
    return _course_runner(case, inputs, keep=1)


def oracle(case, inputs):
    """The loss and gradients of the first step (dropout off) in float64: torch's, or ours
    without torch, in the course's layout."""
    inputs64 = {k: (a.astype(np.float64) if a.dtype.kind == "f" else a) for k, a in inputs.items()}
    if _import_torch() is not None:
        outputs = _from_torch(case, _torch_runner(case, inputs64, keep=1)())
    else:
        outputs = _course_runner(case, inputs64, keep=1)()
    return tuple(np.asarray(_as_numpy(o), dtype=np.float64) for o in outputs)


def names(case):
    return ("loss",) + tuple(k.split(":", 1)[1] for k in _param_names(case))


def _param_names(case, prefix="param:"):
    return [f"{prefix}{k}" for k in _course_model(case, np.float32, keep=1).params]


def check(case, outputs, expected, dtype, impl=None):
    """Loss and gradients of the first step against the oracle, within :data:`MODEL_RTOL`;
    each gradient's error relative to ``max(its max|ref|, ZERO_GRADIENT_FLOOR x the largest
    gradient's)``."""
    if impl == "torch":
        outputs = _from_torch(case, outputs)
    return _check_scalars_and_arrays(names(case), outputs, expected, dtype,
                                     rtol=MODEL_RTOL[np.dtype(dtype).name],
                                     floor=ZERO_GRADIENT_FLOOR)
