"""cs231n_fast.transformer_layers and classifiers.transformer: the course's Transformer
captioner in NumPy. Gradient checks (float64, centred differences), the causal mask, equality
with the course's PyTorch modules (written in torch in cs231n_fast.bench.models, loaded with
the same weights; float64 to 1e-9, float32 to 1e-5), training by the CaptioningSolver, bad
inputs.

Tolerances: float64 rtol 1e-9 (atol = 1e-9 * max|reference|), float32 rtol/atol 1e-5 on the
model's scores (as the issue states; the products of 256-long rows in float32 differ by
~1e-6 relative between BLAS kernels), gradient checks relative error < 1e-7.
"""

import numpy as np
import pytest

from cs231n_fast.bench.models import torch_course_modules
from cs231n_fast.captioning_solver import CaptioningSolver
from cs231n_fast.captioning_solver_transformer import CaptioningSolverTransformer
from cs231n_fast.classifiers.transformer import (
    CaptioningTransformer,
    TransformerDecoder,
    TransformerDecoderLayer,
)
from cs231n_fast.transformer_layers import (
    Dropout,
    LayerNorm,
    Linear,
    MultiHeadAttention,
    PositionalEncoding,
    positional_encoding_table,
)
from test_coco_utils import make_coco

VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "cat": 4, "dog": 5, "sits": 6, "runs": 7}


def _close(a, b, dtype):
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    b = np.asarray(b, dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.abs(b).max())))


def _num_grad(f, x, idx, h=1e-5):
    """Centred difference of scalar f() w.r.t. x at flat indices idx (x modified in place)."""
    flat = x.reshape(-1)
    g = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        g[j] = (fp - fm) / (2 * h)
    return g


def _rel_err(a, b):
    """Relative error; below 1e-2 in magnitude the error is absolute / 1e-2 (a gradient that is
    exactly zero, such as the key projection's bias, has a numerical estimate of ~1e-10)."""
    return np.max(np.abs(a - b) / np.maximum(1e-2, np.abs(a) + np.abs(b)))


def _sample_idx(rng, size, k=12):
    return rng.choice(size, size=min(k, size), replace=False)


# --- gradient checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("cross", [False, True])
def test_multihead_attention_backward_gradcheck(rng, cross):
    n, s, t, e, h = 2, 4, (3 if cross else 4), 6, 3
    attn = MultiHeadAttention(e, h, dropout=0.0, dtype=np.float64, seed=1)
    q = rng.standard_normal((n, s, e))
    kv = rng.standard_normal((n, t, e)) if cross else q
    mask = None if cross else np.tril(np.ones((s, s)))
    w = rng.standard_normal((n, s, e))

    def f():
        return float(np.sum(attn.forward(q, kv, kv, attn_mask=mask) * w))

    f()
    dq, dk, dv = attn.backward(w)
    grads = dict(attn.grads)
    dx = dq + (dk + dv if not cross else 0)
    assert _rel_err(_num_grad(f, q, idx := _sample_idx(rng, q.size)), dx.reshape(-1)[idx]) < 1e-7
    if cross:
        assert _rel_err(_num_grad(f, kv, idx := _sample_idx(rng, kv.size)), (dk + dv).reshape(-1)[idx]) < 1e-7
    for name, p in attn.params.items():
        idx = _sample_idx(rng, p.size, 6)
        assert _rel_err(_num_grad(f, p, idx), grads[name].reshape(-1)[idx]) < 1e-7, name


def test_decoder_layer_backward_gradcheck(rng):
    n, t, e = 2, 3, 4
    layer = TransformerDecoderLayer(e, 2, dim_feedforward=5, dropout=0.0, dtype=np.float64, seed=2)
    for k, p in layer.params.items():  # move the norms off their identity init
        if ".norm" in "." + k:
            p[...] = rng.uniform(0.5, 1.5, p.shape) if k.endswith("weight") else rng.standard_normal(p.shape)
    tgt = rng.standard_normal((n, t, e))
    mem = rng.standard_normal((n, 2, e))
    mask = np.tril(np.ones((t, t)))
    w = rng.standard_normal((n, t, e))

    def f():
        return float(np.sum(layer.forward(tgt, mem, tgt_mask=mask) * w))

    f()
    dtgt, dmem = layer.backward(w)
    grads = dict(layer.grads)
    assert sorted(grads) == sorted(layer.params)
    for x, dx in ((tgt, dtgt), (mem, dmem)):
        idx = _sample_idx(rng, x.size)
        assert _rel_err(_num_grad(f, x, idx), dx.reshape(-1)[idx]) < 1e-7
    for name, p in layer.params.items():
        idx = _sample_idx(rng, p.size, 4)
        assert _rel_err(_num_grad(f, p, idx), grads[name].reshape(-1)[idx]) < 1e-7, name


def test_captioning_transformer_loss_gradcheck(rng):
    model = CaptioningTransformer(VOCAB, input_dim=5, wordvec_dim=4, num_heads=2, num_layers=2,
                                  max_length=8, dim_feedforward=6, dtype=np.float64, seed=3).eval()
    for k, p in model.params.items():  # larger weights than the course's 0.02 init: visible gradients
        p[...] = rng.standard_normal(p.shape) * 0.5
    features = rng.standard_normal((3, 5))
    captions = np.array([[1, 3, 4, 6, 2, 0], [1, 3, 5, 7, 2, 0], [1, 4, 2, 0, 0, 0]])
    loss, grads = model.loss(features, captions)
    grads = {k: g.copy() for k, g in grads.items()}
    assert sorted(grads) == sorted(model.params)
    assert np.all(grads["embedding.weight"][0] == 0)  # <NULL> is the padding row

    def f():
        return model.loss(features, captions)[0]

    for name, p in model.params.items():
        idx = _sample_idx(rng, p.size, 4)
        assert _rel_err(_num_grad(f, p, idx, h=1e-6), grads[name].reshape(-1)[idx]) < 1e-7, name


def test_dropout_and_positional_encoding_backward(rng):
    x = rng.standard_normal((2, 5, 6))
    pe = PositionalEncoding(6, dropout=0.3, max_len=7, dtype=np.float64, seed=0)
    out = pe.forward(x)
    kept = out != 0
    np.testing.assert_allclose(out[kept], ((x + pe.pe[:, :5]) / 0.7)[kept], rtol=1e-12)
    assert 0.4 < kept.mean() < 0.95
    dx = pe.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx != 0, kept)
    pe.eval()
    np.testing.assert_array_equal(pe.forward(x), x + pe.pe[:, :5])
    assert Dropout(0.0).forward(x) is x


def test_positional_encoding_is_the_courses_table():
    """The Transformer_Captioning notebook's check: embed_dim=6, max_len=12, positions 0..."""
    pe = positional_encoding_table(6, 12)
    i, j = 5, np.arange(6)
    expect = np.where(j % 2 == 0, np.sin(i * 10000.0 ** (-j / 6)), np.cos(i * 10000.0 ** (-(j - 1) / 6)))
    np.testing.assert_allclose(pe[0, i], expect, rtol=1e-14)
    assert pe.shape == (1, 12, 6) and np.all(pe[0, 0, 0::2] == 0) and np.all(pe[0, 0, 1::2] == 1)


# --- masks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["fortran", "sliced", "readonly", "batch_of_one"])
def test_multihead_attention_layouts_and_no_mutation(rng, layout):
    attn = MultiHeadAttention(6, 3, dropout=0.0, dtype=np.float64, seed=0)
    n = 1 if layout == "batch_of_one" else 2
    q = rng.standard_normal((n, 5, 6))
    kv = rng.standard_normal((n, 3, 6))
    mask = (rng.random((5, 3)) < 0.8).astype(np.float64)
    mask[:, 0] = 1
    expect = attn.forward(q, kv, kv, attn_mask=mask)
    dexp = attn.backward(np.ones_like(expect))
    if layout == "fortran":
        q2, kv2, m2 = np.asfortranarray(q), np.asfortranarray(kv), np.asfortranarray(mask)
    elif layout == "sliced":
        q2, kv2, m2 = (np.repeat(a, 2, axis=-1)[..., ::2] for a in (q, kv, mask))
    else:
        q2, kv2, m2 = q.copy(), kv.copy(), mask.copy()
        for a in (q2, kv2, m2):
            a.flags.writeable = False
    before = [a.copy() for a in (q2, kv2, m2)]
    out = attn.forward(q2, kv2, kv2, attn_mask=m2)
    np.testing.assert_allclose(out, expect, rtol=1e-12, atol=1e-12)
    for a, b in zip(attn.backward(np.ones_like(out)), dexp):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip((q2, kv2, m2), before):
        np.testing.assert_array_equal(a, b)


def test_future_tokens_do_not_influence_earlier_scores(rng):
    model = CaptioningTransformer(VOCAB, input_dim=5, wordvec_dim=8, num_heads=2, max_length=10,
                                  dtype=np.float64, seed=4).eval()
    features = rng.standard_normal((2, 5))
    caps = rng.integers(0, len(VOCAB), (2, 7))
    base = model.forward(features, caps)
    for t in range(7):
        changed = caps.copy()
        changed[:, t] = (changed[:, t] + 1) % len(VOCAB)
        out = model.forward(features, changed)
        np.testing.assert_array_equal(out[:, :t], base[:, :t])  # earlier positions untouched
        assert np.abs(out[:, t:] - base[:, t:]).max() > 0  # later ones (and t itself) do change


def test_attention_mask_zero_blocks_that_key(rng):
    attn = MultiHeadAttention(4, 2, dropout=0.0, dtype=np.float64, seed=0)
    q = rng.standard_normal((1, 3, 4))
    kv = rng.standard_normal((1, 5, 4))
    mask = np.ones((3, 5))
    mask[:, 2] = 0
    out = attn.forward(q, kv, kv, attn_mask=mask)
    kv2 = kv.copy()
    kv2[:, 2] += 10
    np.testing.assert_allclose(attn.forward(q, kv2, kv2, attn_mask=mask), out, rtol=1e-12, atol=1e-12)
    assert np.abs(attn.forward(q, kv2, kv2) - attn.forward(q, kv, kv)).max() > 1e-3


# --- equality with the course's PyTorch modules -----------------------------------------------------


# The course's modules written in torch (transformer_layers.py, classifiers/transformer.py and
# the solver's loss), shared with ``cs231n-fast bench --kernels models``; built on call.
_torch_course_modules = torch_course_modules


def _state(module):
    return {k: t.detach().numpy() for k, t in module.state_dict().items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_multihead_attention_matches_course_torch(rng, dtype):
    torch = pytest.importorskip("torch")
    TMHA, _, _ = _torch_course_modules(torch)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    tm = TMHA(16, 4).to(tdt).eval()
    ours = MultiHeadAttention(16, 4, dtype=dtype).eval().load_state_dict(_state(tm))
    q = rng.standard_normal((3, 5, 16)).astype(dtype)
    kv = rng.standard_normal((3, 7, 16)).astype(dtype)
    mask = (rng.random((5, 7)) < 0.7).astype(dtype)
    mask[:, 0] = 1
    tq, tkv = (torch.tensor(a, requires_grad=True) for a in (q, kv))
    tout = tm(tq, tkv, tkv, attn_mask=torch.tensor(mask))
    w = rng.standard_normal(tout.shape).astype(dtype)
    (tout * torch.tensor(w)).sum().backward()
    out = ours.forward(q, kv, kv, attn_mask=mask)
    assert out.dtype == dtype
    _close(out, tout.detach().numpy(), dtype)
    dq, dk, dv = ours.backward(w)
    _close(dq, tq.grad.numpy(), dtype)
    _close(dk + dv, tkv.grad.numpy(), dtype)
    for name, p in tm.named_parameters():
        _close(ours.grads[name], p.grad.numpy(), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_captioning_transformer_matches_course_torch(rng, dtype):
    """Same weights (the torch model's state_dict loaded): scores, loss and every gradient."""
    torch = pytest.importorskip("torch")
    _, TCT, tloss = _torch_course_modules(torch)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    tm = TCT(VOCAB, input_dim=10, wordvec_dim=16, num_heads=4, num_layers=2, max_length=12).to(tdt).eval()
    with torch.no_grad():  # bigger than the course's 0.02 init, so every term matters
        for k, p in tm.named_parameters():
            if "norm" not in k:
                p.mul_(20.0)
    ours = CaptioningTransformer(VOCAB, 10, 16, num_heads=4, num_layers=2, max_length=12, dtype=dtype)
    ours.eval().load_state_dict(_state(tm))
    features = rng.standard_normal((4, 10)).astype(dtype)
    captions = rng.integers(1, len(VOCAB), (4, 9))
    captions[0, 5:] = 0
    captions[2, 3:] = 0
    # forward
    scores = ours.forward(features, captions[:, :-1])
    tf = torch.tensor(features)
    tscores = tm(tf, torch.tensor(captions[:, :-1]))
    _close(scores, tscores.detach().numpy(), dtype)
    # the solver's loss and gradients
    cout = torch.tensor(captions[:, 1:])
    tl = tloss(tscores, cout, (cout != 0).long())
    tl.backward()
    loss, grads = ours.loss(features, captions)
    _close(loss, tl.item(), dtype)
    tgrads = {k: p.grad.numpy() for k, p in tm.named_parameters()}
    assert sorted(grads) == sorted(tgrads) == sorted(ours.params)
    for k, g in tgrads.items():
        assert grads[k].dtype == dtype
        _close(grads[k], g, dtype)


def test_course_torch_model_loads_with_its_initialisation(rng):
    """The course's state_dict (default init, with the buffer pe) loads; eval outputs agree."""
    torch = pytest.importorskip("torch")
    _, TCT, _ = _torch_course_modules(torch)
    torch.manual_seed(1)
    tm = TCT(VOCAB, input_dim=6, wordvec_dim=8, num_heads=2).eval()
    sd = _state(tm)
    assert "positional_encoding.pe" in sd
    ours = CaptioningTransformer(VOCAB, 6, 8, num_heads=2).eval().load_state_dict(sd)
    assert set(ours.state_dict()) == set(sd)
    f = rng.standard_normal((2, 6)).astype(np.float32)
    c = rng.integers(0, len(VOCAB), (2, 5))
    _close(ours.forward(f, c), tm(torch.tensor(f), torch.tensor(c)).detach().numpy(), np.float32)


# --- modes, sampling, training -----------------------------------------------------------------------


def test_dropout_only_in_train_mode(rng):
    model = CaptioningTransformer(VOCAB, 5, 8, num_heads=2, seed=0)
    f = rng.standard_normal((3, 5)).astype(np.float32)
    c = rng.integers(0, len(VOCAB), (3, 6))
    assert model.training
    a, b = model.forward(f, c), model.forward(f, c)
    assert np.abs(a - b).max() > 0
    model.eval()
    assert not model.transformer.layers[1].dropout3.training
    np.testing.assert_array_equal(model.forward(f, c), model.forward(f, c))


def test_seed_makes_training_mode_reproducible(rng):
    f = rng.standard_normal((3, 5)).astype(np.float32)
    c = rng.integers(0, len(VOCAB), (3, 6))
    a, b = (CaptioningTransformer(VOCAB, 5, 8, num_heads=2, dim_feedforward=16, seed=7) for _ in range(2))
    la, ga = a.loss(f, c)
    lb, gb = b.loss(f, c)
    assert la == lb and all(np.array_equal(ga[k], gb[k]) for k in ga)
    layers = a.transformer.layers  # the decoder's copies draw different dropout masks
    assert layers[0].dropout1._rng.integers(2**32) != layers[1].dropout1._rng.integers(2**32)


def test_sample_is_greedy_decoding(rng):
    model = CaptioningTransformer(VOCAB, 5, 8, num_heads=2, seed=0).eval()
    f = rng.standard_normal((3, 5)).astype(np.float32)
    caps = model.sample(f, max_length=4)
    assert caps.shape == (3, 4) and caps.dtype == np.int32
    partial = np.full((3, 1), VOCAB["<START>"])
    for t in range(4):  # the course's loop, re-run here
        word = model.forward(f, partial)[:, -1].argmax(axis=1)
        np.testing.assert_array_equal(caps[:, t], word)
        partial = np.concatenate([partial, word[:, None]], axis=1)


def test_state_dict_round_trip(rng):
    a = CaptioningTransformer(VOCAB, 5, 8, num_heads=2, num_layers=1, seed=0).eval()
    b = CaptioningTransformer(VOCAB, 5, 8, num_heads=2, num_layers=1, seed=1).eval()
    f = rng.standard_normal((2, 5)).astype(np.float32)
    c = rng.integers(0, len(VOCAB), (2, 4))
    assert np.abs(a.forward(f, c) - b.forward(f, c)).max() > 0
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.forward(f, c), b.forward(f, c))


def _overfit_data(rng, n=50):
    data = make_coco(rng, n_train=n, n_train_img=n)
    data["train_image_idxs"] = np.arange(n, dtype=np.int32)  # one caption per image: learnable
    return data


def test_captioning_solver_overfits_50_captions(rng):
    """The notebook's "overfit small data" run, scaled down (W = 32, a 64-wide feed-forward, no
    dropout, 200 Adam steps): the loss falls far."""
    data = _overfit_data(rng)
    model = CaptioningTransformer(data["word_to_idx"], data["train_features"].shape[1], 32,
                                  num_heads=2, num_layers=2, max_length=30, dim_feedforward=64,
                                  dropout=0.0, seed=0)
    solver = CaptioningSolver(model, data, update_rule="adam", num_epochs=100, batch_size=25,
                              optim_config={"learning_rate": 5e-3}, verbose=False, seed=1)
    solver.train()
    losses = np.array(solver.loss_history)
    assert losses.shape == (200,) and np.all(np.isfinite(losses))
    assert losses[-5:].mean() < 0.25 * losses[:2].mean()
    assert all(p.dtype == np.float32 for p in model.params.values())


def test_captioning_solver_transformer_course_options(rng, capsys):
    data = _overfit_data(rng, 20)
    model = CaptioningTransformer(data["word_to_idx"], data["train_features"].shape[1], 16,
                                  num_heads=2, num_layers=1, dim_feedforward=32, seed=0)
    solver = CaptioningSolverTransformer(model, data, idx_to_word=data["idx_to_word"], num_epochs=3,
                                         batch_size=10, learning_rate=1e-3, print_every=2, seed=0)
    assert solver.idx_to_word is data["idx_to_word"] and solver.learning_rate == 1e-3
    solver.train()
    assert len(solver.loss_history) == 6
    assert "(Iteration 1 / 6) loss:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Unrecognized arguments"):
        CaptioningSolverTransformer(model, data, data["idx_to_word"], update_rule="sgd")


def test_star_imports_give_the_courses_names():
    for module, names in {
        "transformer_layers": {"PositionalEncoding", "MultiHeadAttention"},
        "classifiers.transformer": {"CaptioningTransformer", "TransformerDecoderLayer", "TransformerDecoder",
                                    "PositionalEncoding", "MultiHeadAttention"},
        "captioning_solver_transformer": {"CaptioningSolverTransformer"},
    }.items():
        namespace = {}
        exec(f"from cs231n_fast.{module} import *", namespace)
        assert names <= set(namespace), module


def test_loading_a_submodule_is_not_undone_by_the_next_forward(rng):
    """load_state_dict on a sub-module (a decoder layer's attention, the output layer) must
    hold: the parent's next forward used to hand the sub-module its own older arrays again."""
    model = CaptioningTransformer(VOCAB, 5, 8, num_heads=2, num_layers=2, seed=0).eval()
    f = rng.standard_normal((3, 5)).astype(np.float32)
    c = rng.integers(0, len(VOCAB), (3, 6))

    def expected(sd):  # the same weights loaded into a fresh model at the top
        return CaptioningTransformer(VOCAB, 5, 8, num_heads=2, num_layers=2, seed=1).eval().load_state_dict(sd).forward(f, c)

    attn = model.transformer.layers[1].self_attn
    new_attn = {k: rng.standard_normal(a.shape).astype(np.float32) for k, a in attn.state_dict().items()}
    attn.load_state_dict(new_attn)
    sd = model.state_dict()  # the model's state dict shows the load...
    for k, a in new_attn.items():
        np.testing.assert_array_equal(sd["transformer.layers.1.self_attn." + k], a)
    np.testing.assert_array_equal(model.forward(f, c), expected(sd))  # ...and so does its forward
    np.testing.assert_array_equal(attn.params["query.weight"], new_attn["query.weight"])
    # after an optimiser-style step (the model's arrays replaced), a sub-module's load still holds,
    # and the step's other arrays are handed down
    for k in model.params:
        model.params[k] = model.params[k] * np.float32(0.5)
    new_out = {k: rng.standard_normal(a.shape).astype(np.float32) for k, a in model.output.state_dict().items()}
    model.output.load_state_dict(new_out)
    want = {k: a * np.float32(0.5) for k, a in sd.items() if k != "positional_encoding.pe"}
    want.update({"output." + k: a for k, a in new_out.items()})
    np.testing.assert_array_equal(model.forward(f, c), expected(want))
    # a later load at the top wins over an earlier one below
    model.output.load_state_dict({k: a + 1 for k, a in new_out.items()})
    model.load_state_dict(want)
    np.testing.assert_array_equal(model.forward(f, c), expected(want))
    np.testing.assert_array_equal(model.output.params["weight"], want["output.weight"])
    # a layer loaded before it is cloned into a decoder: the decoder's own later arrays hold
    layer = TransformerDecoderLayer(8, 2, 16, seed=0)
    layer.load_state_dict(layer.state_dict())
    dec = TransformerDecoder(layer, 2).eval()
    for k in dec.params:
        dec.params[k] = np.zeros_like(dec.params[k])
    dec.forward(np.ones((1, 2, 8), np.float32), np.ones((1, 1, 8), np.float32))
    assert not any(a.any() for a in dec.layers[0].params.values())


def test_empty_batch_and_sequence_as_the_course(rng):
    """N = 0 images or T = 0 words: the course's torch modules give empty scores (and sample an
    empty batch); so do ours, with zero gradients through the layers; the loss (a mean over
    N * T) needs N >= 1."""
    model = CaptioningTransformer(VOCAB, 5, 8, num_heads=2, num_layers=2, seed=0).eval()
    f = rng.standard_normal((3, 5)).astype(np.float32)
    c = rng.integers(0, len(VOCAB), (3, 4))
    for feats, caps, shape in ((f[:0], c[:0], (0, 4, len(VOCAB))), (f, c[:, :0], (3, 0, len(VOCAB)))):
        scores = model.forward(feats, caps)
        assert scores.shape == shape and scores.dtype == np.float32
    words = model.sample(f[:0], max_length=4)
    assert words.shape == (0, 4) and words.dtype == np.int32
    with pytest.raises(ValueError, match="features must hold N >= 1"):
        model.loss(f[:0], c[:0])
    # the layers' backward passes on empty inputs: right shapes, zero parameter gradients
    layer = TransformerDecoderLayer(8, 2, 16, seed=0).eval()
    for n, t in ((0, 3), (2, 0)):
        out = layer.forward(np.zeros((n, t, 8), np.float32), np.ones((n, 1, 8), np.float32), tgt_mask=np.tri(t))
        assert out.shape == (n, t, 8)
        dtgt, dmem = layer.backward(np.ones_like(out))
        assert dtgt.shape == (n, t, 8) and dmem.shape == (n, 1, 8) and not dmem.any()
        assert sorted(layer.grads) == sorted(layer.params)
        assert not any(g.any() for g in layer.grads.values())
    norm = LayerNorm(4, dtype=np.float64)
    assert norm.forward(np.zeros((2, 0, 4), np.float32)).shape == (2, 0, 4)
    assert norm.backward(np.zeros((2, 0, 4))).shape == (2, 0, 4)
    assert not norm.grads["weight"].any() and norm.grads["bias"].shape == (4,)
    with pytest.raises(ValueError, match="dout must have shape"):
        norm.backward(np.zeros((1, 4)))


# --- bad inputs -------------------------------------------------------------------------------------


def test_bad_inputs(rng):
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim must be even"):
        PositionalEncoding(5)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(4, 2, dropout=1.5)
    attn = MultiHeadAttention(4, 2)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="attn_mask"):
        attn.forward(x, x, x, attn_mask=np.ones((3, 4)))
    with pytest.raises(ValueError, match="attn_mask"):
        attn.forward(x, x, x, attn_mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match="query"):
        attn.forward(x[..., :3], x, x)
    with pytest.raises(ValueError, match="key and value"):
        attn.forward(x, x, x[:, :2])
    with pytest.raises(RuntimeError, match="before forward"):
        MultiHeadAttention(4, 2).backward(x)
    model = CaptioningTransformer(VOCAB, 5, 8, num_heads=2, num_layers=1)
    sd = model.state_dict()
    with pytest.raises(KeyError, match="transformer.layers.0.norm2.bias"):
        model.load_state_dict({k: a for k, a in sd.items() if k != "transformer.layers.0.norm2.bias"})
    bad = dict(sd)
    bad["transformer.layers.0.self_attn.query.weight"] = np.zeros((8, 4))
    with pytest.raises(ValueError, match=r"self_attn\.query\.weight.*\(8, 8\)"):
        model.load_state_dict(bad)
    with pytest.raises(KeyError, match="unexpected entry 'extra'"):
        model.load_state_dict({**sd, "extra": np.zeros(1)})
    f = rng.standard_normal((2, 5))
    with pytest.raises(ValueError, match="features"):
        model.loss(f[:, :4], np.ones((2, 3), int))
    with pytest.raises(ValueError, match="captions"):
        model.loss(f, np.full((2, 3), len(VOCAB)))
    with pytest.raises(TypeError, match="captions"):
        model.loss(f, np.ones((2, 3)))
    with pytest.raises(ValueError, match="captions"):
        model.loss(f, np.ones((2, 1), int))
    with pytest.raises(ValueError, match="max_len"):
        model.forward(f, np.ones((2, 51), int))
    with pytest.raises(ValueError, match="<NULL>"):
        CaptioningTransformer({"a": 0}, 5, 8)
    with pytest.raises(TypeError, match="decoder_layer"):
        TransformerDecoder(Linear(2, 2), 2)
    with pytest.raises(ValueError, match="x must have shape"):
        LayerNorm(4).forward(x[..., :3])


def test_float_attn_mask_reads_as_the_course_nonzero_attends():
    """The course's masked_fill(attn_mask == 0, -inf): any nonzero entry attends, -inf too
    (ops.attention refuses such a float mask as a likely additive mask; the module does not)."""
    rng = np.random.default_rng(5)
    mha = MultiHeadAttention(8, 2, dropout=0.0, dtype=np.float64, seed=0).eval()
    x = rng.standard_normal((2, 4, 8))
    keep = np.tril(np.ones((4, 4), bool))
    as_float = np.where(keep, -np.inf, 0.0)  # nonzero (-inf) where the course attends
    np.testing.assert_array_equal(mha.forward(x, x, x, attn_mask=as_float),
                                  mha.forward(x, x, x, attn_mask=keep))
    scaled = np.where(keep, 0.5, 0.0)
    np.testing.assert_array_equal(mha.forward(x, x, x, attn_mask=scaled),
                                  mha.forward(x, x, x, attn_mask=keep))
