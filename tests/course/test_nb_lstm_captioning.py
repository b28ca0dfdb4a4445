"""Assignment 3, ``LSTM_Captioning.ipynb`` (2022): the LSTM layers against the notebook's
expected values and gradient checks, CaptioningRNN with an LSTM (the notebook's
``expected_loss``), and overfitting a small captioning dataset (see notebook.py)."""

import numpy as np
from notebook import coco_like, order, overfit_small_data, rel_error, sample_minibatch

from cs231n_fast.captioning_solver import CaptioningSolver
from cs231n_fast.classifiers.rnn import CaptioningRNN
from cs231n_fast.gradient_check import eval_numerical_gradient_array
from cs231n_fast.rnn_layers import *  # noqa: F403  (the notebook's import)


def test_lstm_step_forward():
    N, D, H = 3, 4, 5
    x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
    prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
    Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.3, 0.7, num=4 * H)

    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)

    expected_next_h = np.asarray([
        [0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
        [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
        [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
    expected_next_c = np.asarray([
        [0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
        [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
        [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
    # "You should see errors on the order of e-8 or less."
    assert rel_error(expected_next_h, next_h) < order(8)
    assert rel_error(expected_next_c, next_c) < order(8)


def test_lstm_step_backward():
    np.random.seed(231)
    N, D, H = 4, 5, 6
    x = np.random.randn(N, D)
    prev_h = np.random.randn(N, H)
    prev_c = np.random.randn(N, H)
    Wx = np.random.randn(D, 4 * H)
    Wh = np.random.randn(H, 4 * H)
    b = np.random.randn(4 * H)

    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    dnext_h = np.random.randn(*next_h.shape)
    dnext_c = np.random.randn(*next_c.shape)

    def f(i):  # the notebook's fx_h ... fb_c: output i of a step, closing over the inputs
        return lambda _: lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)[i]

    num_grad = eval_numerical_gradient_array
    dx_num = num_grad(f(0), x, dnext_h) + num_grad(f(1), x, dnext_c)
    dh_num = num_grad(f(0), prev_h, dnext_h) + num_grad(f(1), prev_h, dnext_c)
    dc_num = num_grad(f(0), prev_c, dnext_h) + num_grad(f(1), prev_c, dnext_c)
    dWx_num = num_grad(f(0), Wx, dnext_h) + num_grad(f(1), Wx, dnext_c)
    dWh_num = num_grad(f(0), Wh, dnext_h) + num_grad(f(1), Wh, dnext_c)
    db_num = num_grad(f(0), b, dnext_h) + num_grad(f(1), b, dnext_c)

    dx, dh, dc, dWx, dWh, db = lstm_step_backward(dnext_h, dnext_c, cache)
    # "You should see errors on the order of e-7 or less."
    assert rel_error(dx_num, dx) < order(7)
    assert rel_error(dh_num, dh) < order(7)
    assert rel_error(dc_num, dc) < order(7)
    assert rel_error(dWx_num, dWx) < order(7)
    assert rel_error(dWh_num, dWh) < order(7)
    assert rel_error(db_num, db) < order(7)


def test_lstm_forward():
    N, D, H, T = 2, 5, 4, 3
    x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.2, 0.7, num=4 * H)

    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    expected_h = np.asarray([
        [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
         [0.11287491, 0.12146228, 0.13018446, 0.13902939],
         [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
        [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
         [0.6704845, 0.69350089, 0.71486014, 0.7346449],
         [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
    # "You should see an error on the order of e-7 or less."
    assert rel_error(expected_h, h) < order(7)


def test_lstm_backward():
    np.random.seed(231)
    N, D, T, H = 2, 3, 10, 6
    x = np.random.randn(N, T, D)
    h0 = np.random.randn(N, H)
    Wx = np.random.randn(D, 4 * H)
    Wh = np.random.randn(H, 4 * H)
    b = np.random.randn(4 * H)

    out, cache = lstm_forward(x, h0, Wx, Wh, b)
    dout = np.random.randn(*out.shape)
    dx, dh0, dWx, dWh, db = lstm_backward(dout, cache)

    fx = lambda x: lstm_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    fh0 = lambda h0: lstm_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    fWx = lambda Wx: lstm_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    fWh = lambda Wh: lstm_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    fb = lambda b: lstm_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731

    dx_num = eval_numerical_gradient_array(fx, x, dout)
    dh0_num = eval_numerical_gradient_array(fh0, h0, dout)
    dWx_num = eval_numerical_gradient_array(fWx, Wx, dout)
    dWh_num = eval_numerical_gradient_array(fWh, Wh, dout)
    db_num = eval_numerical_gradient_array(fb, b, dout)
    # "You should see errors on the order of e-8 or less. (For dWh, it's fine if your error is
    # on the order of e-6 or less)."
    assert rel_error(dx_num, dx) < order(8)
    assert rel_error(dh0_num, dh0) < order(8)
    assert rel_error(dWx_num, dWx) < order(8)
    assert rel_error(dWh_num, dWh) < order(6)
    assert rel_error(db_num, db) < order(8)


def test_captioning_lstm_loss():
    N, D, W, H = 10, 20, 30, 40
    word_to_idx = {'<NULL>': 0, 'cat': 2, 'dog': 3}
    V = len(word_to_idx)
    T = 13

    model = CaptioningRNN(
        word_to_idx,
        input_dim=D,
        wordvec_dim=W,
        hidden_dim=H,
        cell_type='lstm',
        dtype=np.float64
    )

    # Set all model parameters to fixed values
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)

    features = np.linspace(-0.5, 1.7, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)

    loss, grads = model.loss(features, captions)
    expected_loss = 9.82445935443
    # "You should see a difference on the order of e-10 or less."
    assert abs(loss - expected_loss) < order(10)


def test_overfit_small_data_and_sample():
    model, small_data, loss_history = overfit_small_data('lstm', lr_decay=0.995)
    assert len(loss_history) == 100
    # "You should see a final loss less than 0.5."
    assert loss_history[-1] < 0.5

    # "As with the RNN, training results should be very good": the overfit model reproduces
    # training captions word for word (up to and including <END>), then <NULL>.
    gt_captions, features, urls = sample_minibatch(small_data, batch_size=2, split='train')
    sample_captions = model.sample(features)
    for gt, sampled in zip(gt_captions, sample_captions):
        words = gt[1:list(gt).index(2) + 1]
        np.testing.assert_array_equal(sampled[:len(words)], words)
        assert not sampled[len(words):].any()
    assert model.sample(sample_minibatch(small_data, batch_size=2, split='val')[1]).shape == (2, 30)


def test_captioning_solver_overfits_small_data():
    # The same cell through the course's CaptioningSolver, as the notebook runs it.

    np.random.seed(231)
    small_data = coco_like(num_train=50, seed=32)
    small_lstm_model = CaptioningRNN(
        cell_type='lstm',
        word_to_idx=small_data['word_to_idx'],
        input_dim=small_data['train_features'].shape[1],
        hidden_dim=512,
        wordvec_dim=256,
        dtype=np.float32,
    )
    small_lstm_solver = CaptioningSolver(
        small_lstm_model, small_data,
        update_rule='adam',
        num_epochs=50,
        batch_size=25,
        optim_config={'learning_rate': 5e-3},
        lr_decay=0.995,
        verbose=False, print_every=10,
    )
    small_lstm_solver.train()
    assert small_lstm_solver.loss_history[-1] < 0.5
