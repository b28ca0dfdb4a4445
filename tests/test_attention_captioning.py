"""cs231n_fast.classifiers.attention_rnn (soft-attention captioning, "Show, Attend and Tell") and
the attention plots of cs231n_fast.vis_utils.

The model's loss is checked against a plain-NumPy forward written here from the equations (float64,
1e-10), its gradients numerically for every parameter (float64), its sampler against the same
forward fed the sampled words; the CaptioningSolver overfits 50 captions with it.

Tolerances: float64 loss vs the reference forward rtol 1e-10; gradient checks
``max|analytic - numeric| / max|numeric| < 1e-6`` (measured ~1e-8 at h = 1e-6); float32 vs float64
on the same parameters rtol 1e-4 for the loss and 1e-5 * max for the attention weights.
"""

import math
import sys

import numpy as np
import pytest

from cs231n_fast.captioning_solver import CaptioningSolver
from cs231n_fast.classifiers import attention_rnn
from cs231n_fast.classifiers.attention_rnn import AttentionCaptioningRNN
from cs231n_fast.vis_utils import show_attention, upsample_attention
from helpers import grad_error, numerical_grad
from test_coco_utils import VOCAB, make_coco

WORDS = {w: i for i, w in enumerate(VOCAB)}  # <NULL> 0, <START> 1, <END> 2, 9 more words
CONFIGS = [("lstm", "additive"), ("lstm", "dot"), ("rnn", "additive"), ("rnn", "dot")]


def _model(cell="lstm", attention="additive", dtype=np.float64, attn_reg=0.0, seed=0, d=4,
           w=3, h=5, a=6, jitter=None):
    m = AttentionCaptioningRNN(WORDS, input_dim=d, wordvec_dim=w, hidden_dim=h, attn_dim=a,
                               cell_type=cell, attention=attention, attn_reg=attn_reg,
                               dtype=dtype, seed=seed)
    if jitter is not None:  # non-zero biases and larger weights: every path carries gradient
        for k, val in m.params.items():
            m.params[k] = (val + 0.3 * jitter.standard_normal(val.shape)).astype(dtype)
    return m


def _captions(rng, n, t):
    """(n, t) captions: <START>, words, <END>, <NULL> padding (some rows padded)."""
    c = np.zeros((n, t), dtype=np.int64)
    for row in c:
        length = int(rng.integers(1, t - 1))
        row[0] = WORDS["<START>"]
        row[1 : 1 + length] = rng.integers(3, len(VOCAB), size=length)
        row[1 + length] = WORDS["<END>"]
    return c


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_forward(model, features, captions):
    """The model's loss, attention weights (N, T, L) and best-scoring words (N, T) straight from
    the equations (float64)."""
    p = {k: np.asarray(val, np.float64) for k, val in model.params.items()}
    f = np.asarray(features, np.float64)
    n, length, d = f.shape
    cin, cout = captions[:, :-1], captions[:, 1:]
    mask = cout != WORDS["<NULL>"]
    mean = f.mean(axis=1)
    h = mean @ p["W_init_h"] + p["b_init_h"]
    c = mean @ p["W_init_c"] + p["b_init_c"] if model.cell_type == "lstm" else None
    hd = h.shape[1]
    loss = 0.0
    alphas, best = [], []
    for t in range(cin.shape[1]):
        if model.attention == "additive":
            e = np.tanh(f @ p["W_att_f"] + p["b_att"] + (h @ p["W_att_h"])[:, None, :]) @ p["v_att"]
        else:
            e = np.einsum("nld,nd->nl", f, h @ p["W_att_h"]) / math.sqrt(d)
        alpha = np.exp(e - e.max(axis=1, keepdims=True))
        alpha /= alpha.sum(axis=1, keepdims=True)
        alphas.append(alpha)
        z = np.einsum("nl,nld->nd", alpha, f)
        x = np.concatenate([p["W_embed"][cin[:, t]], z], axis=1)
        act = x @ p["Wx"] + h @ p["Wh"] + p["b"]
        if c is not None:
            i, fg, o, g = (act[:, k * hd : (k + 1) * hd] for k in range(4))
            c = _sigmoid(fg) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
        else:
            h = np.tanh(act)
        s = h @ p["W_vocab"] + p["b_vocab"]
        best.append(np.argmax(s, axis=1))
        logp = s - s.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        loss -= np.sum(logp[np.arange(n), cout[:, t]] * mask[:, t])
    alphas = np.stack(alphas, axis=1)
    loss /= n
    if model.attn_reg:
        gap = 1.0 - np.sum(alphas * mask[:, :, None], axis=1)
        loss += model.attn_reg * np.sum(gap**2) / n
    return loss, alphas, np.stack(best, axis=1)


# --- forward and gradients ---------------------------------------------------------------------


@pytest.mark.parametrize("attn_reg", [0.0, 0.7])
@pytest.mark.parametrize("cell, attention", CONFIGS)
def test_attention_loss_matches_equations(rng, cell, attention, attn_reg):
    model = _model(cell, attention, attn_reg=attn_reg, jitter=rng)
    features = rng.standard_normal((3, 5, 4))
    captions = _captions(rng, 3, 6)
    loss, _ = model.loss(features, captions)
    expected, _, _ = reference_forward(model, features, captions)
    assert np.isfinite(loss) and loss > 0
    np.testing.assert_allclose(loss, expected, rtol=1e-10)


def test_attention_regulariser_adds_its_term(rng):
    features = rng.standard_normal((3, 5, 4))
    captions = _captions(rng, 3, 6)
    plain = _model(jitter=np.random.default_rng(3))
    reg = _model(attn_reg=0.5, jitter=np.random.default_rng(3))
    _, alphas, _ = reference_forward(plain, features, captions)
    mask = captions[:, 1:] != 0
    term = 0.5 * np.sum((1 - np.sum(alphas * mask[:, :, None], axis=1)) ** 2) / 3
    assert term > 1e-3  # the check can fail
    np.testing.assert_allclose(reg.loss(features, captions)[0] - plain.loss(features, captions)[0],
                               term, rtol=1e-9)


@pytest.mark.parametrize("cell, attention, attn_reg", [
    ("lstm", "additive", 0.0), ("lstm", "dot", 0.0), ("rnn", "additive", 0.0),
    ("lstm", "additive", 0.7), ("rnn", "dot", 0.7),
])  # fmt: skip
def test_attention_loss_gradcheck_every_parameter(rng, cell, attention, attn_reg):
    model = _model(cell, attention, attn_reg=attn_reg, jitter=rng)
    features = rng.standard_normal((3, 4, 4))
    captions = _captions(rng, 3, 5)
    _, grads = model.loss(features, captions)
    assert sorted(grads) == sorted(model.params)
    for name, value in model.params.items():
        assert grads[name].shape == value.shape and grads[name].dtype == np.float64

        def f(x, name=name):
            saved = model.params[name]
            model.params[name] = x
            try:
                return model.loss(features, captions)[0]
            finally:
                model.params[name] = saved

        num = numerical_grad(f, value, 1.0)
        assert grad_error(grads[name], num) < 1e-6, name


def test_attention_masked_steps_give_no_gradient(rng):
    """Words fed only at masked steps (<END> and <NULL>: their targets are <NULL>) and words never
    fed get exactly no gradient; the words fed at scored steps do."""
    model = _model(jitter=rng)
    features = rng.standard_normal((2, 4, 4))
    captions = np.array([[1, 5, 2, 0, 0], [1, 6, 7, 2, 0]])
    _, grads = model.loss(features, captions)
    silent = [i for i in range(len(VOCAB)) if i not in (1, 5, 6, 7)]
    assert 0 in silent and 2 in silent
    assert np.all(grads["W_embed"][silent] == 0)
    assert np.all(np.any(grads["W_embed"][[1, 5, 6, 7]] != 0, axis=1))


# --- sampling and attention weights ---------------------------------------------------------------


@pytest.mark.parametrize("cell, attention", CONFIGS)
def test_attention_sample_returns_weights_that_sum_to_one(rng, cell, attention):
    model = _model(cell, attention, jitter=rng)
    features = rng.standard_normal((6, 9, 4))
    captions, alphas = model.sample(features, max_length=7)
    assert captions.shape == (6, 7) and captions.dtype == np.int32
    assert alphas.shape == (6, 7, 9) and alphas.dtype == np.float64
    assert np.all(alphas >= 0)
    end = WORDS["<END>"]
    for row, a in zip(captions, alphas):
        stop = int(np.argmax(row == end)) + 1 if end in row else len(row)
        np.testing.assert_allclose(a[:stop].sum(axis=1), 1.0, rtol=1e-12)
        assert np.all(a[stop:] == 0) and np.all(row[stop:] == WORDS["<NULL>"])


@pytest.mark.parametrize("cell, attention", CONFIGS)
def test_attention_sample_weights_are_those_of_the_forward(rng, cell, attention):
    """Feeding the sampled words back as a caption gives the sampler's attention weights."""
    model = _model(cell, attention, jitter=rng)
    model.params["b_vocab"][WORDS["<END>"]] = -50.0  # no row ends: compare every step
    features = rng.standard_normal((4, 6, 4))
    captions, alphas = model.sample(features, max_length=5)
    fed = np.concatenate([np.full((4, 1), WORDS["<START>"]), captions], axis=1)
    _, expected, best = reference_forward(model, features, fed)
    np.testing.assert_allclose(alphas, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(captions, best)  # greedy: each word the best-scoring one


def test_attention_sample_stops_rows_at_end(rng):
    model = _model(jitter=rng)
    model.params["b_vocab"][:] = -50.0
    model.params["b_vocab"][WORDS["<END>"]] = 50.0  # every row ends at once
    captions, alphas = model.sample(rng.standard_normal((3, 4, 4)), max_length=4)
    assert np.all(captions[:, 0] == WORDS["<END>"]) and np.all(captions[:, 1:] == 0)
    np.testing.assert_allclose(alphas[:, 0].sum(axis=1), 1.0)
    assert np.all(alphas[:, 1:] == 0)
    assert model.sample(rng.standard_normal((3, 4, 4)), max_length=0)[1].shape == (3, 0, 4)


def test_attention_conv_map_features_are_regions(rng):
    """(N, D, h, w) conv maps are read as L = h * w regions, row by row."""
    model = _model(jitter=rng)
    maps = rng.standard_normal((2, 4, 2, 3))
    regions = maps.reshape(2, 4, 6).transpose(0, 2, 1)
    captions = _captions(rng, 2, 5)
    assert model.loss(maps, captions)[0] == model.loss(regions, captions)[0]
    for a, b in zip(model.sample(maps, 4), model.sample(regions, 4)):
        np.testing.assert_array_equal(a, b)


# --- dtypes, threads, inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["additive", "dot"])
def test_attention_float32_computes_in_float32(rng, monkeypatch, attention):
    m64 = _model(attention=attention, jitter=rng)
    m32 = _model(attention=attention, dtype=np.float32)
    m32.params = {k: val.astype(np.float32) for k, val in m64.params.items()}
    seen = []
    step_backward = attention_rnn.rnn_layers.lstm_step_backward

    def spy(dh, dc, cache, **kwargs):
        seen.append((dh.dtype, dc.dtype))
        return step_backward(dh, dc, cache, **kwargs)

    monkeypatch.setattr(attention_rnn.rnn_layers, "lstm_step_backward", spy)
    features = rng.standard_normal((3, 5, 4))  # float64 in: cast to the model's dtype
    captions = _captions(rng, 3, 6)
    loss32, g32 = m32.loss(features, captions)
    assert seen and all(d == (np.float32, np.float32) for d in seen)
    loss64, g64 = m64.loss(features, captions)
    assert all(g.dtype == np.float32 for g in g32.values())
    np.testing.assert_allclose(loss32, loss64, rtol=1e-4)
    for k in g64:
        scale = float(np.max(np.abs(g64[k])))
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-4 * scale, err_msg=k)
    c32, a32 = m32.sample(features, 4)
    c64, a64 = m64.sample(features, 4)
    assert a32.dtype == np.float32
    np.testing.assert_allclose(a32, a64, rtol=1e-4, atol=1e-5 * float(a64.max()))


def test_attention_same_result_for_any_thread_count(rng):
    model = _model(jitter=rng, h=300, d=8)  # more than one block of hidden units
    features = rng.standard_normal((4, 5, 8))
    captions = _captions(rng, 4, 5)
    model.n_threads = 1
    loss1, g1 = model.loss(features, captions)
    model.n_threads = 2
    loss2, g2 = model.loss(features, captions)
    assert loss1 == loss2
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k], err_msg=k)


def test_attention_inputs_not_mutated(rng):
    model = _model(jitter=rng)
    features = rng.standard_normal((3, 5, 4))
    captions = _captions(rng, 3, 6)
    f0, c0 = features.copy(), captions.copy()
    p0 = {k: val.copy() for k, val in model.params.items()}
    for arr in (features, captions):
        arr.setflags(write=False)  # a write would raise
    model.loss(features, captions)
    model.sample(features, 5)
    model.loss(np.asfortranarray(features), captions)
    np.testing.assert_array_equal(features, f0)
    np.testing.assert_array_equal(captions, c0)
    for k in p0:
        np.testing.assert_array_equal(model.params[k], p0[k])


def test_attention_seeded_initialisation(rng):
    a, b = _model(seed=5), _model(seed=5)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert any(not np.array_equal(a.params[k], _model(seed=6).params[k]) for k in a.params)
    np.random.seed(1)
    c = _model(seed=None)
    np.random.seed(1)
    np.testing.assert_array_equal(c.params["Wx"], _model(seed=None).params["Wx"])
    m = _model(attention="dot", cell="rnn")
    assert "W_att_f" not in m.params and "W_init_c" not in m.params
    assert m.params["W_att_h"].shape == (5, 4) and m.params["Wx"].shape == (7, 5)
    assert "attention='dot'" in repr(m)


@pytest.mark.parametrize("features, error, match", [
    (np.zeros((3, 4)), ValueError, r"features must have shape \(N, L, input_dim\)"),
    (np.zeros((3, 5, 7)), ValueError, r"\(N, L, 4\)"),
    (np.zeros((3, 7, 2, 2)), ValueError, r"\(N, 4, h, w\)"),
    (np.zeros((3, 0, 4)), ValueError, "L >= 1"),
    (np.zeros((0, 5, 4)), ValueError, "N >= 1"),
    (np.zeros((0, 4, 2, 2)), ValueError, "N >= 1"),
    (np.zeros((3, 4, 0, 2)), ValueError, "L >= 1"),
    (np.zeros((3, 5, 4), dtype=complex), TypeError, "features must be a real numeric array"),
    (np.zeros((2, 5, 4)), ValueError, "N = 2 rows as in features"),
])  # fmt: skip
def test_attention_bad_features(rng, features, error, match):
    model = _model()
    with pytest.raises(error, match=match):
        model.loss(features, _captions(rng, 3, 5))
    if "rows as in features" not in match:  # sample takes no captions
        with pytest.raises(error, match=match):
            model.sample(features)


@pytest.mark.parametrize("captions, error, match", [
    (np.zeros((3, 5), dtype=np.float64), TypeError, "captions must be an integer array"),
    (np.zeros((3, 5, 1), dtype=np.int64), ValueError, r"captions must be a 2-D array"),
    (np.zeros((3, 1), dtype=np.int64), ValueError, "T >= 2"),
    (np.full((3, 5), 99), ValueError, "outside the vocabulary"),
    (np.full((3, 5), -1), ValueError, "outside the vocabulary"),
])  # fmt: skip
def test_attention_bad_captions(rng, captions, error, match):
    with pytest.raises(error, match=match):
        _model().loss(rng.standard_normal((3, 5, 4)), captions)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"cell_type": "gru"}, ValueError, "cell_type"),
    ({"attention": "hard"}, ValueError, "attention must be one of"),
    ({"attn_reg": -1.0}, ValueError, "attn_reg"),
    ({"attn_reg": "0.1"}, TypeError, "attn_reg"),
    ({"attn_dim": 0}, ValueError, "attn_dim"),
    ({"dtype": np.float16}, TypeError, "dtype"),
    ({"word_to_idx": {"a": 0}}, ValueError, "<NULL>"),
])  # fmt: skip
def test_attention_bad_constructor_arguments(kwargs, error, match):
    args = {"word_to_idx": WORDS, "input_dim": 4, **kwargs}
    with pytest.raises(error, match=match):
        AttentionCaptioningRNN(**args)


def test_attention_sample_needs_start_and_a_length(rng):
    model = AttentionCaptioningRNN({"<NULL>": 0, "x": 1}, input_dim=4, seed=0)
    with pytest.raises(ValueError, match="<START>"):
        model.sample(rng.standard_normal((1, 3, 4)))
    with pytest.raises(ValueError, match="max_length"):
        _model().sample(rng.standard_normal((1, 3, 4)), max_length=-1)


# --- training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["additive", "dot"])
def test_attention_captioning_solver_overfits_50_captions(rng, attention):
    """50 captions of 50 images (4 regions each, random features): the loss falls far."""
    data = make_coco(rng, n_train=50, n_train_img=50)
    data["train_image_idxs"] = np.arange(50, dtype=np.int32)  # one caption per image: learnable
    data["train_features"] = rng.standard_normal((50, 4, 8)).astype(np.float32)
    model = AttentionCaptioningRNN(data["word_to_idx"], input_dim=8, wordvec_dim=16,
                                   hidden_dim=64, attn_dim=16, attention=attention, seed=0,
                                   n_threads=1)  # tiny products: threads only add overhead
    solver = CaptioningSolver(
        model, data, update_rule="adam", num_epochs=40, batch_size=25,
        optim_config={"learning_rate": 2e-2}, lr_decay=0.995, verbose=False, seed=1,
    )  # fmt: skip
    solver.train()
    losses = np.array(solver.loss_history, dtype=np.float64)
    assert losses.shape == (40 * 2,) and np.all(np.isfinite(losses))
    assert losses[-6:].mean() < 0.05 * losses[:2].mean()  # measured: 12.6 -> 0.06-0.08
    assert model.params["Wx"].dtype == np.float32
    # the trained model reproduces most of its training captions
    length = data["train_captions"].shape[1] - 1
    captions, alphas = model.sample(data["train_features"], max_length=length)
    target = data["train_captions"][:, 1:]
    scored = target != 0
    assert np.mean((captions == target)[scored]) > 0.9  # measured: 1.0


# --- plots ----------------------------------------------------------------------------------------


def test_upsample_attention_nearest_and_bilinear(rng):
    a = rng.random((3, 6))
    near = upsample_attention(a, (2, 3), (4, 9), smooth=False)
    assert near.shape == (3, 4, 9)
    np.testing.assert_array_equal(near, np.kron(a.reshape(3, 2, 3), np.ones((2, 3))))
    smooth = upsample_attention(a, (2, 3), (10, 15))
    assert smooth.shape == (3, 10, 15)
    assert np.all(smooth >= a.min() - 1e-12) and np.all(smooth <= a.max() + 1e-12)
    const = upsample_attention(np.full(16, 0.25), None, (7, 5))
    np.testing.assert_allclose(const, 0.25, rtol=1e-12)  # rows of the resampling sum to 1
    with pytest.raises(ValueError, match="grid_shape must be given"):
        upsample_attention(a, None, (4, 4))
    with pytest.raises(ValueError, match="holds 4 regions"):
        upsample_attention(a, (2, 2), (4, 4))


@pytest.fixture
def figure_cls():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    return Figure


@pytest.mark.parametrize("image", [
    np.zeros((16, 20, 3), np.uint8), np.linspace(-3, 3, 320).reshape(16, 20), np.ones((16, 20, 1)),
])  # fmt: skip
def test_show_attention_draws_one_panel_per_word(rng, figure_cls, image):
    fig = figure_cls()
    alphas = rng.random((6, 12))
    out = show_attention(image, "a cat sits on the", alphas, (3, 4), ncols=3, fig=fig)
    assert out is fig
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == ["a", "cat", "sits", "on", "the"]
    assert all(len(ax.get_images()) == 2 for ax in fig.axes)  # the image, the map over it
    overlay = fig.axes[1].get_images()[1].get_array()
    np.testing.assert_allclose(overlay, upsample_attention(alphas[1], (3, 4), (16, 20)))


def test_show_attention_with_pyplot_agg(rng):
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    if matplotlib.get_backend().lower() != "agg":
        plt.switch_backend("Agg")
    fig = show_attention(rng.random((14, 14, 3)), ["a", "dog"], rng.random((5, 49)))
    try:
        assert len(fig.axes) == 2
        assert fig.canvas.get_width_height()[0] > 0
    finally:
        plt.close(fig)


def test_show_attention_bad_inputs(rng, figure_cls):
    img = rng.random((8, 8, 3))
    with pytest.raises(ValueError, match="1 to T = 2 words"):
        show_attention(img, "too many words", rng.random((2, 4)), fig=figure_cls())
    with pytest.raises(ValueError, match=r"alphas must have shape \(T, L\)"):
        show_attention(img, "a", rng.random(4), fig=figure_cls())
    with pytest.raises(ValueError, match="image must have shape"):
        show_attention(rng.random((8, 8, 2)), "a", rng.random((1, 4)), fig=figure_cls())
    with pytest.raises(TypeError, match="strings"):
        show_attention(img, [1, 2], rng.random((2, 4)), fig=figure_cls())
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        show_attention(img, "a", rng.random((1, 4)), fig="figure")


def test_show_attention_without_matplotlib(rng, monkeypatch):
    for name in ["matplotlib"] + [m for m in sys.modules if m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'pip install "cs231n_fast\[plot\]"'):
        show_attention(rng.random((8, 8, 3)), "a", rng.random((1, 4)))
