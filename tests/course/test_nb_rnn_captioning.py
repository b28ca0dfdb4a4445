"""Assignment 3, ``RNN_Captioning.ipynb`` (2022): the vanilla RNN layers, the word embedding,
temporal affine and temporal softmax layers, CaptioningRNN's loss (the notebook's
``expected_loss``) and gradient check, and overfitting a small captioning dataset (see
notebook.py for the COCO stand-in and how stated errors become thresholds).
"""

import numpy as np
from notebook import coco_like, order, overfit_small_data, rel_error, sample_minibatch

from cs231n_fast import coco_utils
from cs231n_fast.captioning_solver import CaptioningSolver
from cs231n_fast.classifiers.rnn import CaptioningRNN
from cs231n_fast.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n_fast.rnn_layers import *  # noqa: F403  (the notebook's import)


def test_rnn_step_forward():
    N, D, H = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
    b = np.linspace(-0.2, 0.4, num=H)

    next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
    expected_next_h = np.asarray([
        [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
        [0.66854692, 0.79562378, 0.87755553, 0.92795967],
        [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    # "You should see errors on the order of e-8 or less."
    assert rel_error(expected_next_h, next_h) < order(8)


def test_rnn_step_backward():
    np.random.seed(231)
    N, D, H = 4, 5, 6
    x = np.random.randn(N, D)
    h = np.random.randn(N, H)
    Wx = np.random.randn(D, H)
    Wh = np.random.randn(H, H)
    b = np.random.randn(H)

    out, cache = rnn_step_forward(x, h, Wx, Wh, b)
    dnext_h = np.random.randn(*out.shape)

    fx = lambda x: rnn_step_forward(x, h, Wx, Wh, b)[0]  # noqa: E731
    fh = lambda prev_h: rnn_step_forward(x, h, Wx, Wh, b)[0]  # noqa: E731
    fWx = lambda Wx: rnn_step_forward(x, h, Wx, Wh, b)[0]  # noqa: E731
    fWh = lambda Wh: rnn_step_forward(x, h, Wx, Wh, b)[0]  # noqa: E731
    fb = lambda b: rnn_step_forward(x, h, Wx, Wh, b)[0]  # noqa: E731

    dx_num = eval_numerical_gradient_array(fx, x, dnext_h)
    dprev_h_num = eval_numerical_gradient_array(fh, h, dnext_h)
    dWx_num = eval_numerical_gradient_array(fWx, Wx, dnext_h)
    dWh_num = eval_numerical_gradient_array(fWh, Wh, dnext_h)
    db_num = eval_numerical_gradient_array(fb, b, dnext_h)

    dx, dprev_h, dWx, dWh, db = rnn_step_backward(dnext_h, cache)
    # "You should see errors on the order of e-8 or less."
    assert rel_error(dx_num, dx) < order(8)
    assert rel_error(dprev_h_num, dprev_h) < order(8)
    assert rel_error(dWx_num, dWx) < order(8)
    assert rel_error(dWh_num, dWh) < order(8)
    assert rel_error(db_num, db) < order(8)


def test_rnn_forward():
    N, T, D, H = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
    b = np.linspace(-0.7, 0.1, num=H)

    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    expected_h = np.asarray([
        [
            [-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
            [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
            [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525],
        ],
        [
            [-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
            [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
            [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    # "You should see errors on the order of e-7 or less."
    assert rel_error(expected_h, h) < order(7)


def test_rnn_backward():
    np.random.seed(231)
    N, D, T, H = 2, 3, 10, 5
    x = np.random.randn(N, T, D)
    h0 = np.random.randn(N, H)
    Wx = np.random.randn(D, H)
    Wh = np.random.randn(H, H)
    b = np.random.randn(H)

    out, cache = rnn_forward(x, h0, Wx, Wh, b)
    dout = np.random.randn(*out.shape)
    dx, dh0, dWx, dWh, db = rnn_backward(dout, cache)

    fx = lambda x: rnn_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    fh0 = lambda h0: rnn_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    fWx = lambda Wx: rnn_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    fWh = lambda Wh: rnn_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    fb = lambda b: rnn_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731

    dx_num = eval_numerical_gradient_array(fx, x, dout)
    dh0_num = eval_numerical_gradient_array(fh0, h0, dout)
    dWx_num = eval_numerical_gradient_array(fWx, Wx, dout)
    dWh_num = eval_numerical_gradient_array(fWh, Wh, dout)
    db_num = eval_numerical_gradient_array(fb, b, dout)
    # "You should see errors on the order of e-6 or less."
    assert rel_error(dx_num, dx) < order(6)
    assert rel_error(dh0_num, dh0) < order(6)
    assert rel_error(dWx_num, dWx) < order(6)
    assert rel_error(dWh_num, dWh) < order(6)
    assert rel_error(db_num, db) < order(6)


def test_word_embedding_forward():
    N, T, V, D = 2, 4, 5, 3
    x = np.asarray([[0, 3, 1, 2], [2, 1, 0, 3]])
    W = np.linspace(0, 1, num=V * D).reshape(V, D)

    out, _ = word_embedding_forward(x, W)
    expected_out = np.asarray([
        [[0., 0.07142857, 0.14285714],
         [0.64285714, 0.71428571, 0.78571429],
         [0.21428571, 0.28571429, 0.35714286],
         [0.42857143, 0.5, 0.57142857]],
        [[0.42857143, 0.5, 0.57142857],
         [0.21428571, 0.28571429, 0.35714286],
         [0., 0.07142857, 0.14285714],
         [0.64285714, 0.71428571, 0.78571429]]])
    # "You should see an error on the order of e-8 or less."
    assert rel_error(expected_out, out) < order(8)


def test_word_embedding_backward():
    np.random.seed(231)
    N, T, V, D = 50, 3, 5, 6
    x = np.random.randint(V, size=(N, T))
    W = np.random.randn(V, D)

    out, cache = word_embedding_forward(x, W)
    dout = np.random.randn(*out.shape)
    dW = word_embedding_backward(dout, cache)

    f = lambda W: word_embedding_forward(x, W)[0]  # noqa: E731
    dW_num = eval_numerical_gradient_array(f, W, dout)
    # "You should see an error on the order of e-11 or less."
    assert rel_error(dW, dW_num) < order(11)


def test_temporal_affine():
    np.random.seed(231)
    N, T, D, M = 2, 3, 4, 5
    x = np.random.randn(N, T, D)
    w = np.random.randn(D, M)
    b = np.random.randn(M)

    out, cache = temporal_affine_forward(x, w, b)
    dout = np.random.randn(*out.shape)

    fx = lambda x: temporal_affine_forward(x, w, b)[0]  # noqa: E731
    fw = lambda w: temporal_affine_forward(x, w, b)[0]  # noqa: E731
    fb = lambda b: temporal_affine_forward(x, w, b)[0]  # noqa: E731

    dx_num = eval_numerical_gradient_array(fx, x, dout)
    dw_num = eval_numerical_gradient_array(fw, w, dout)
    db_num = eval_numerical_gradient_array(fb, b, dout)

    dx, dw, db = temporal_affine_backward(dout, cache)
    # "You should see errors on the order of e-9 or less."
    assert rel_error(dx_num, dx) < order(9)
    assert rel_error(dw_num, dw) < order(9)
    assert rel_error(db_num, db) < order(9)


def test_temporal_softmax_loss():
    np.random.seed(231)  # the notebook's cell draws from the unseeded global state

    def check_loss(N, T, V, p):
        x = 0.001 * np.random.randn(N, T, V)
        y = np.random.randint(V, size=(N, T))
        mask = np.random.rand(N, T) <= p
        return temporal_softmax_loss(x, y, mask)[0]

    assert round(check_loss(100, 1, 10, 1.0), 1) == 2.3  # Should be about 2.3
    assert round(check_loss(100, 10, 10, 1.0)) == 23  # Should be about 23
    assert 2.2 <= check_loss(5000, 10, 10, 0.1) <= 2.4  # Should be within 2.2-2.4

    # Gradient check for temporal softmax loss
    N, T, V = 7, 8, 9
    x = np.random.randn(N, T, V)
    y = np.random.randint(V, size=(N, T))
    mask = (np.random.rand(N, T) > 0.5)

    loss, dx = temporal_softmax_loss(x, y, mask, verbose=False)
    dx_num = eval_numerical_gradient(lambda x: temporal_softmax_loss(x, y, mask)[0], x, verbose=False)
    # "You should see an error for dx on the order of e-7 or less."
    assert rel_error(dx, dx_num) < order(7)


def test_captioning_rnn_loss():
    N, D, W, H = 10, 20, 30, 40
    word_to_idx = {'<NULL>': 0, 'cat': 2, 'dog': 3}
    V = len(word_to_idx)
    T = 13

    model = CaptioningRNN(
        word_to_idx,
        input_dim=D,
        wordvec_dim=W,
        hidden_dim=H,
        cell_type='rnn',
        dtype=np.float64
    )

    # Set all model parameters to fixed values
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)

    features = np.linspace(-1.5, 0.3, num=(N * D)).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)

    loss, grads = model.loss(features, captions)
    expected_loss = 9.83235591003
    # "you should see error on the order of e-10 or less."
    assert abs(loss - expected_loss) < order(10)


def test_captioning_rnn_gradient_check():
    np.random.seed(231)
    batch_size = 2
    timesteps = 3
    input_dim = 4
    wordvec_dim = 5
    hidden_dim = 6
    word_to_idx = {'<NULL>': 0, 'cat': 2, 'dog': 3}
    vocab_size = len(word_to_idx)

    captions = np.random.randint(vocab_size, size=(batch_size, timesteps))
    features = np.random.randn(batch_size, input_dim)

    model = CaptioningRNN(
        word_to_idx,
        input_dim=input_dim,
        wordvec_dim=wordvec_dim,
        hidden_dim=hidden_dim,
        cell_type='rnn',
        dtype=np.float64,
    )
    loss, grads = model.loss(features, captions)
    # "you should see errors around the order of e-6 or less."
    for param_name in sorted(grads):
        f = lambda _: model.loss(features, captions)[0]  # noqa: E731
        param_grad_num = eval_numerical_gradient(f, model.params[param_name], verbose=False, h=1e-6)
        assert rel_error(param_grad_num, grads[param_name]) < order(6), param_name


def test_overfit_small_data_and_sample():
    model, small_data, loss_history = overfit_small_data('rnn', lr_decay=0.95)
    assert len(loss_history) == 100
    # "You should see a final loss of less than 0.1."
    assert loss_history[-1] < 0.1

    # Sampling: "The samples on training data should be very good." An overfit model
    # reproduces the training captions word for word (up to and including <END>).
    gt_captions, features, urls = sample_minibatch(small_data, batch_size=2, split='train')
    sample_captions = model.sample(features)
    assert sample_captions.shape == (2, 30)
    for gt, sampled in zip(gt_captions, sample_captions):
        words = gt[1:list(gt).index(2) + 1]  # after <START>, up to <END>
        np.testing.assert_array_equal(sampled[:len(words)], words)
        assert not sampled[len(words):].any()  # <NULL> after <END>
    val_captions = model.sample(sample_minibatch(small_data, batch_size=2, split='val')[1])
    assert val_captions.shape == (2, 30)


def test_captioning_solver_overfits_small_data():
    # The same cell through the course's CaptioningSolver and coco_utils, as the notebook runs
    # it (decode_captions and sample_coco_minibatch for the sampling cell).

    np.random.seed(231)
    small_data = coco_like(num_train=50, seed=32)
    small_rnn_model = CaptioningRNN(
        cell_type='rnn',
        word_to_idx=small_data['word_to_idx'],
        input_dim=small_data['train_features'].shape[1],
        hidden_dim=512,
        wordvec_dim=256,
    )
    small_rnn_solver = CaptioningSolver(
        small_rnn_model, small_data,
        update_rule='adam',
        num_epochs=50,
        batch_size=25,
        optim_config={'learning_rate': 5e-3},
        lr_decay=0.95,
        verbose=False, print_every=10,
    )
    small_rnn_solver.train()
    assert small_rnn_solver.loss_history[-1] < 0.1
    gt_captions, features, urls = coco_utils.sample_coco_minibatch(small_data, split='train', batch_size=2)
    decoded = coco_utils.decode_captions(small_rnn_model.sample(features), small_data['idx_to_word'])
    assert decoded == [c.replace('<START> ', '') for c in coco_utils.decode_captions(gt_captions, small_data['idx_to_word'])]
