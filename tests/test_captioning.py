"""The course's image-captioning model (cs231n_fast.classifiers.CaptioningRNN)."""

import math

import numpy as np
import pytest
from helpers import numerical_grad

from cs231n_fast import rnn_layers
from cs231n_fast.classifiers import CaptioningRNN

WORDS = ["<NULL>", "<START>", "<END>", "a", "b", "c", "d"]
W2I = {w: i for i, w in enumerate(WORDS)}
NULL, START, END, A, B, C, DD = range(7)
V = len(WORDS)
PARAM_KEYS = {"W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab"}


@pytest.fixture(params=["rnn", "lstm"])
def cell(request):
    return request.param


def tiny(cell, dtype=np.float64, seed=0, **kw):
    args = dict(input_dim=5, wordvec_dim=4, hidden_dim=6, cell_type=cell, dtype=dtype, seed=seed)
    args.update(kw)
    return CaptioningRNN(W2I, **args)


def captions_with_padding(rng, n=2, t=4):
    caps = rng.integers(0, V, size=(n, t))
    caps[:, 0] = START
    caps[0, -1] = NULL  # one masked target
    return caps


# --- construction --------------------------------------------------------------------------


def test_attributes_and_param_shapes(cell):
    m = CaptioningRNN(W2I, input_dim=20, wordvec_dim=8, hidden_dim=10, cell_type=cell, seed=1)
    g = 4 if cell == "lstm" else 1
    assert m.cell_type == cell and m.dtype == np.float32
    assert m._null == NULL and m._start == START and m._end == END
    assert m.word_to_idx is W2I and m.idx_to_word == dict(enumerate(WORDS))
    shapes = {k: p.shape for k, p in m.params.items()}
    assert shapes == {
        "W_embed": (V, 8), "W_proj": (20, 10), "b_proj": (10,), "Wx": (8, g * 10),
        "Wh": (10, g * 10), "b": (g * 10,), "W_vocab": (10, V), "b_vocab": (V,),
    }
    assert all(p.dtype == np.float32 for p in m.params.values())
    for k in ("b_proj", "b", "b_vocab"):
        assert not m.params[k].any()
    again = CaptioningRNN(W2I, input_dim=20, wordvec_dim=8, hidden_dim=10, cell_type=cell, seed=1)
    for k in m.params:
        np.testing.assert_array_equal(m.params[k], again.params[k])
    assert "cell_type='%s'" % cell in repr(m)


def test_initialisation_without_seed_is_the_course_draws(cell):
    # Without a seed the weights come from NumPy's global state in the course's order
    # (np.random.randn for W_embed, W_proj, Wx, Wh, W_vocab), so np.random.seed(231) before
    # the constructor reproduces the course's model, as its notebooks rely on.
    g = 4 if cell == "lstm" else 1
    np.random.seed(231)
    m = CaptioningRNN(W2I, input_dim=5, wordvec_dim=4, hidden_dim=6, cell_type=cell,
                      dtype=np.float64)
    np.random.seed(231)
    want = {
        "W_embed": np.random.randn(V, 4) / 100,
        "W_proj": np.random.randn(5, 6) / np.sqrt(5),
        "Wx": np.random.randn(4, g * 6) / np.sqrt(4),
        "Wh": np.random.randn(6, g * 6) / np.sqrt(6),
        "W_vocab": np.random.randn(6, V) / np.sqrt(6),
    }
    for k, val in want.items():
        np.testing.assert_array_equal(m.params[k], val, err_msg=k)
    np.random.seed(231)
    again = CaptioningRNN(W2I, input_dim=5, wordvec_dim=4, hidden_dim=6, cell_type=cell,
                          dtype=np.float64)
    for k in m.params:
        np.testing.assert_array_equal(m.params[k], again.params[k])


def test_initialisation_scales():
    w2i = {w: i for i, w in enumerate(WORDS + [f"w{i}" for i in range(393)])}  # V = 400
    m = CaptioningRNN(w2i, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type="lstm",
                      dtype=np.float64, seed=0)
    p = m.params
    for k, std in [("W_embed", 0.01), ("W_proj", 1 / math.sqrt(512)), ("Wx", 1 / math.sqrt(128)),
                   ("Wh", 1 / math.sqrt(128)), ("W_vocab", 1 / math.sqrt(128))]:
        assert abs(p[k].std() - std) < 0.05 * std, k


# --- loss ------------------------------------------------------------------------------------


def _naive_rnn_loss(m, features, captions):
    """The course's forward pass for a vanilla RNN, written out with plain NumPy loops."""
    p = m.params
    cin, cout = captions[:, :-1], captions[:, 1:]
    h = features @ p["W_proj"] + p["b_proj"]
    loss = 0.0
    for t in range(cin.shape[1]):
        h = np.tanh(p["W_embed"][cin[:, t]] @ p["Wx"] + h @ p["Wh"] + p["b"])
        s = h @ p["W_vocab"] + p["b_vocab"]
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        for i in range(cin.shape[0]):
            if cout[i, t] != NULL:
                loss -= logp[i, cout[i, t]]
    return loss / cin.shape[0]


def test_rnn_loss_matches_plain_numpy(rng):
    m = tiny("rnn")
    for k in m.params:
        m.params[k] = rng.standard_normal(m.params[k].shape)
    features = rng.standard_normal((3, 5))
    captions = captions_with_padding(rng, 3, 6)
    loss, _ = m.loss(features, captions)
    assert float(loss) == pytest.approx(_naive_rnn_loss(m, features, captions), rel=1e-12)


def test_loss_at_uniform_scores_is_log_v(cell, rng):
    m = tiny(cell)
    m.params["W_vocab"][...] = 0  # every score 0: a uniform distribution over V words
    features = rng.standard_normal((3, 5))
    captions = rng.integers(0, V, size=(3, 7))
    captions[1, 3:] = NULL
    unmasked = int((captions[:, 1:] != NULL).sum())
    assert 0 < unmasked < captions[:, 1:].size
    loss, grads = m.loss(features, captions)
    assert float(loss) == pytest.approx(math.log(V) * unmasked / 3, rel=1e-12)
    # The hidden states do not reach the scores, so nothing before W_vocab gets a gradient.
    for k in ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b"):
        assert not grads[k].any(), k


def test_loss_gradients_match_numerical(cell, rng):
    m = tiny(cell)
    for k in m.params:  # non-trivial biases and larger weights than the initialisation
        m.params[k] = m.params[k] + 0.3 * rng.standard_normal(m.params[k].shape)
    features = rng.standard_normal((2, 5))
    captions = captions_with_padding(rng, 2, 4)
    loss, grads = m.loss(features, captions)
    assert set(grads) == PARAM_KEYS
    for k, param in m.params.items():
        def f(value, k=k):
            m.params[k] = value
            return m.loss(features, captions)[0]

        num = numerical_grad(f, param, 1.0, h=1e-5)
        m.params[k] = param
        assert grads[k].shape == param.shape
        # Relative error of the whole array: elements with near-zero gradients are dominated by
        # the centred difference's rounding noise (~1e-16 * loss / h), so the course's
        # element-wise rel_error is checked with an absolute floor at the array's scale.
        err = np.linalg.norm(grads[k] - num) / (np.linalg.norm(grads[k]) + np.linalg.norm(num))
        assert err < 1e-6, (k, err)
        scale = np.abs(num).max()
        assert np.abs(grads[k] - num).max() < 1e-6 * scale, k
    assert float(m.loss(features, captions)[0]) == float(loss)  # parameters restored


def test_float32_model_stays_float32(cell, rng):
    m = tiny(cell, dtype=np.float32)
    features = rng.standard_normal((2, 5))  # float64 features are cast to the model's dtype
    captions = captions_with_padding(rng, 2, 4)
    loss, grads = m.loss(features, captions)
    assert np.isfinite(loss) and float(loss) > 0
    assert set(grads) == PARAM_KEYS
    for k, g in grads.items():
        assert g.dtype == np.float32 and g.shape == m.params[k].shape, k
    m64 = tiny(cell, dtype=np.float64)
    m64.params = {k: p.astype(np.float64) for k, p in m.params.items()}
    loss64, grads64 = m64.loss(features.astype(np.float32).astype(np.float64), captions)
    assert float(loss) == pytest.approx(float(loss64), rel=1e-5)
    for k in grads:
        scale = np.abs(grads64[k]).max()
        np.testing.assert_allclose(grads[k], grads64[k], rtol=1e-3, atol=1e-4 * scale, err_msg=k)


def test_loss_uses_current_params(rng):
    m = tiny("rnn")
    features, captions = rng.standard_normal((2, 5)), captions_with_padding(rng)
    loss0, grads = m.loss(features, captions)
    m.params["W_vocab"] = m.params["W_vocab"] - 1e-2 * grads["W_vocab"]  # a solver's update
    assert float(m.loss(features, captions)[0]) < float(loss0)


# --- sampling --------------------------------------------------------------------------------


def _naive_sample(m, features, max_length):
    """The course's greedy sampler (tokens after <END> kept), with plain NumPy arithmetic."""
    p = m.params
    n, hd = features.shape[0], p["Wh"].shape[0]
    h = features @ p["W_proj"] + p["b_proj"]
    c = np.zeros_like(h)
    word = np.full(n, START)
    out = np.empty((n, max_length), dtype=np.int64)
    for t in range(max_length):
        a = p["W_embed"][word] @ p["Wx"] + h @ p["Wh"] + p["b"]
        if m.cell_type == "rnn":
            h = np.tanh(a)
        else:
            sig = 1 / (1 + np.exp(-a[:, : 3 * hd]))
            i, f, o = sig[:, :hd], sig[:, hd : 2 * hd], sig[:, 2 * hd :]
            c = f * c + i * np.tanh(a[:, 3 * hd :])
            h = o * np.tanh(c)
        word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
        out[:, t] = word
    return out


def _null_after_end(raw):
    out = raw.copy()
    for row in out:
        ends = np.flatnonzero(row == END)
        if ends.size:
            row[ends[0] + 1 :] = NULL
    return out


def test_sample_shape_and_dtype(cell, rng):
    m = tiny(cell, dtype=np.float32)
    caps = m.sample(rng.standard_normal((3, 5)).astype(np.float32), max_length=9)
    assert caps.shape == (3, 9) and caps.dtype.kind == "i"
    assert caps.min() >= 0 and caps.max() < V
    assert m.sample(rng.standard_normal((2, 5))).shape == (2, 30)  # the course's default
    assert m.sample(rng.standard_normal((1, 5)), max_length=1).shape == (1, 1)


def test_sample_matches_course_then_nulls_after_end(cell):
    # Random models with a bias towards <END>: rows end at different steps, and the course's
    # sampler goes on producing words after <END>, which must become <NULL>.
    checked = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        m = tiny(cell, seed=seed)
        for k in m.params:
            m.params[k] = 2.0 * rng.standard_normal(m.params[k].shape)
        m.params["b_vocab"][END] += 2.0
        features = rng.standard_normal((6, 5))
        raw = _naive_sample(m, features, 12)
        expected = _null_after_end(raw)
        np.testing.assert_array_equal(m.sample(features, max_length=12), expected)
        first_end = [np.flatnonzero(r == END)[0] if (r == END).any() else 12 for r in raw]
        if len(set(first_end)) > 1 and (expected != raw).any():
            checked += 1
    assert checked >= 3  # enough cases with rows ending at different steps and words after <END>


def _chain_model(cell, transitions, n_features=5):
    """A model whose next word depends only on the previous one: ``transitions[prev]``.

    Word vectors are scaled one-hot vectors, the input weights copy them into the hidden state
    (``Wh = 0``), and ``W_vocab`` maps hidden unit ``prev`` to the score of ``transitions[prev]``.
    """
    m = CaptioningRNN(W2I, input_dim=n_features, wordvec_dim=V, hidden_dim=V, cell_type=cell,
                      dtype=np.float64, seed=0)
    p = m.params
    p["W_embed"] = 5.0 * np.eye(V)
    p["Wh"][...] = 0
    p["W_vocab"] = np.zeros((V, V))
    for prev, nxt in transitions.items():
        p["W_vocab"][prev, nxt] = 1.0
    if cell == "rnn":
        p["Wx"] = np.eye(V)
    else:  # i = o = sigmoid(10) ~ 1, f ~ 0, g = tanh(word vector): h ~ tanh(tanh(5 e_prev))
        p["Wx"] = np.concatenate([np.zeros((V, V))] * 3 + [np.eye(V)], axis=1)
        p["b"] = np.concatenate([np.full(V, 10.0), np.full(V, -10.0), np.full(V, 10.0), np.zeros(V)])
    return m


def test_chain_model_ends_and_stays_ended(cell, rng):
    # <START> -> a -> b -> <END> -> a -> ...: the course's sampler would write a, b, <END>, a, b, ...
    m = _chain_model(cell, {START: A, A: B, B: END, END: A, NULL: C, C: DD, DD: C})
    features = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(_naive_sample(m, features, 8)[0], [A, B, END, A, B, END, A, B])
    caps = m.sample(features, max_length=8)
    np.testing.assert_array_equal(caps, np.tile([A, B, END, NULL, NULL, NULL, NULL, NULL], (4, 1)))
    np.testing.assert_array_equal(m.sample(features, max_length=3), np.tile([A, B, END], (4, 1)))
    np.testing.assert_array_equal(m.sample(features, max_length=2), np.tile([A, B], (4, 1)))


def test_never_ending_model_fills_every_position(cell, rng):
    m = _chain_model(cell, {START: A, A: B, B: C, C: A, END: A, NULL: A, DD: A})
    caps = m.sample(rng.standard_normal((3, 5)), max_length=10)
    np.testing.assert_array_equal(caps, np.tile([A, B, C, A, B, C, A, B, C, A], (3, 1)))


def test_end_at_first_step_stops_early(cell, rng, monkeypatch):
    m = tiny(cell)
    m.params["W_vocab"][...] = 0
    m.params["b_vocab"][END] = 1.0  # <END> is the argmax from the first step on
    name = "lstm_step_forward" if cell == "lstm" else "rnn_step_forward"
    batch_sizes = []
    step = getattr(rnn_layers, name)

    def counting_step(x, *args, **kw):
        batch_sizes.append(x.shape[0])
        return step(x, *args, **kw)

    monkeypatch.setattr(rnn_layers, name, counting_step)
    caps = m.sample(rng.standard_normal((3, 5)), max_length=30)
    expected = np.full((3, 30), NULL)
    expected[:, 0] = END
    np.testing.assert_array_equal(caps, expected)
    assert batch_sizes == [3]  # one step, then every row had ended


def test_ended_rows_are_dropped_from_the_batch(cell, monkeypatch):
    rng = np.random.default_rng(7)
    m = tiny(cell, seed=7)
    for k in m.params:
        m.params[k] = 2.0 * rng.standard_normal(m.params[k].shape)
    m.params["b_vocab"][END] += 2.0
    features = rng.standard_normal((8, 5))
    name = "lstm_step_forward" if cell == "lstm" else "rnn_step_forward"
    batch_sizes = []
    step = getattr(rnn_layers, name)

    def counting_step(x, *args, **kw):
        batch_sizes.append(x.shape[0])
        return step(x, *args, **kw)

    monkeypatch.setattr(rnn_layers, name, counting_step)
    caps = m.sample(features, max_length=15)
    ended_before = [int(sum((row[:t] == END).any() for row in caps)) for t in range(15)]
    expected = [8 - e for e in ended_before if e < 8]
    assert batch_sizes == expected
    assert len(set(batch_sizes)) > 1  # rows did end at different steps


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(cell_type="gru"), ValueError, "cell_type"),
        (dict(word_to_idx={"<START>": 0, "<END>": 1, "a": 2}), ValueError, "word_to_idx.*<NULL>"),
        (dict(word_to_idx={"<NULL>": 0.0, "<START>": 1, "a": 2}), TypeError, "word_to_idx.*<NULL>"),
        (dict(word_to_idx={"<NULL>": 0, "<START>": "1", "a": 2}), TypeError, "word_to_idx.*<START>"),
        (dict(word_to_idx={"<NULL>": 0, "<END>": True, "a": 2}), TypeError, "word_to_idx.*<END>"),
        (dict(word_to_idx=["<NULL>", "<START>", "<END>"]), TypeError, "word_to_idx"),
        (dict(input_dim=0), ValueError, "input_dim"),
        (dict(wordvec_dim=-3), ValueError, "wordvec_dim"),
        (dict(hidden_dim=2.0), TypeError, "hidden_dim"),
        (dict(dtype=np.int32), TypeError, "dtype"),
        (dict(n_threads=0), ValueError, "n_threads"),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, match):
    args = dict(word_to_idx=W2I, input_dim=5, wordvec_dim=4, hidden_dim=6)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        CaptioningRNN(**args)


def test_vocabulary_needs_only_null_for_the_loss(cell):
    # The RNN_Captioning notebook's loss check: no <START>/<END>, and ids that are not 0 .. V-1
    # ('dog' is 3 with V = 3). The course's constructor reads only <NULL> (the others with .get).
    rng = np.random.default_rng(0)
    w2i = {"<NULL>": 0, "cat": 2, "dog": 3}
    m = CaptioningRNN(w2i, input_dim=5, wordvec_dim=4, hidden_dim=6, cell_type=cell,
                      dtype=np.float64, seed=0)
    assert (m._null, m._start, m._end) == (0, None, None)
    assert m.idx_to_word == {0: "<NULL>", 2: "cat", 3: "dog"}
    assert m.params["W_embed"].shape[0] == 3
    captions = (np.arange(2 * 6) % 3).reshape(2, 6)
    loss, grads = m.loss(rng.standard_normal((2, 5)), captions)
    assert np.isfinite(loss) and loss > 0 and set(grads) == PARAM_KEYS


def test_sample_needs_start(cell):
    features = np.zeros((2, 5))
    m = CaptioningRNN({"<NULL>": 0, "a": 1, "<END>": 2}, input_dim=5, wordvec_dim=4,
                      hidden_dim=6, cell_type=cell, seed=0)
    with pytest.raises(ValueError, match="<START>"):
        m.sample(features)
    m = CaptioningRNN({"<NULL>": 0, "a": 1, "<START>": 3}, input_dim=5, wordvec_dim=4,
                      hidden_dim=6, cell_type=cell, seed=0)
    with pytest.raises(ValueError, match=r"<START>.*\[0, 3\)"):
        m.sample(features)  # id 3 is no row of W_embed (V = 3)


def test_sample_without_end_runs_to_max_length(cell):
    # No <END> word: nothing ends a row, so every row is the course's greedy caption in full.
    rng = np.random.default_rng(3)
    w2i = {"<NULL>": NULL, "<START>": START, "x": END, "a": A, "b": B, "c": C, "d": DD}
    m = CaptioningRNN(w2i, input_dim=5, wordvec_dim=4, hidden_dim=6, cell_type=cell,
                      dtype=np.float64, seed=4)
    m.params["b_vocab"][END] = 3.0  # 'x' (id 2, <END> in W2I) is often the argmax
    features = rng.standard_normal((4, 5))
    caps = m.sample(features, max_length=7)
    np.testing.assert_array_equal(caps, _naive_sample(m, features, 7))
    assert (caps == END).any()  # the word at <END>'s id did not end the rows


def test_float16_model_computes_in_float64(cell):
    # The course casts its parameters with astype(dtype) for any float dtype.
    rng = np.random.default_rng(2)
    half = tiny(cell, dtype=np.float16)
    assert half.dtype == np.float16 and all(p.dtype == np.float16 for p in half.params.values())
    wide = tiny(cell, dtype=np.float64)
    wide.params = {k: p.astype(np.float64) for k, p in half.params.items()}
    features, captions = rng.standard_normal((2, 5)), captions_with_padding(rng)
    loss, grads = half.loss(features, captions)
    want, want_grads = wide.loss(features.astype(np.float16).astype(np.float64), captions)
    assert float(loss) == pytest.approx(float(want), rel=1e-12)
    for k in PARAM_KEYS:
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=1e-10, atol=1e-12)
    assert half.sample(features, max_length=4).shape == (2, 4)


def test_sample_max_length_zero(cell):
    caps = tiny(cell).sample(np.zeros((3, 5)), max_length=0)
    assert caps.shape == (3, 0) and caps.dtype == np.int32


@pytest.mark.parametrize(
    "features, captions, exc, match",
    [
        (np.zeros((2, 4)), np.ones((2, 4), int), ValueError, "features"),
        (np.zeros((2, 5, 1)), np.ones((2, 4), int), ValueError, "features"),
        (np.zeros((0, 5)), np.ones((0, 4), int), ValueError, "features"),
        (np.array([["x"] * 5] * 2), np.ones((2, 4), int), TypeError, "features"),
        (np.zeros((2, 5)), np.ones((2, 4)), TypeError, "captions"),
        (np.zeros((2, 5)), np.ones(4, int), ValueError, "captions"),
        (np.zeros((2, 5)), np.ones((2, 1), int), ValueError, "captions"),
        (np.zeros((2, 5)), np.ones((3, 4), int), ValueError, "captions"),
        (np.zeros((2, 5)), np.full((2, 4), V), ValueError, "captions"),
        (np.zeros((2, 5)), np.full((2, 4), -1), ValueError, "captions"),
    ],
)
def test_loss_bad_inputs(features, captions, exc, match):
    with pytest.raises(exc, match=match):
        tiny("rnn").loss(features, captions)


@pytest.mark.parametrize(
    "features, max_length, exc, match",
    [
        (np.zeros((2, 6)), 5, ValueError, "features"),
        (np.zeros(5), 5, ValueError, "features"),
        (np.zeros((2, 5)), -1, ValueError, "max_length"),
        (np.zeros((2, 5)), 2.5, TypeError, "max_length"),
    ],
)
def test_sample_bad_inputs(features, max_length, exc, match):
    with pytest.raises(exc, match=match):
        tiny("lstm").sample(features, max_length=max_length)
