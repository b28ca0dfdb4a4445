"""Assignment 2, ``ConvolutionalNetworks.ipynb`` (2022): naive and fast convolution and max
pooling against the notebook's expected values and each other, the sandwich layers, the
three-layer convnet's loss, gradient check and training, and spatial batch/group normalisation
(see notebook.py for the CIFAR-10 stand-in and how stated errors become thresholds).
"""

import numpy as np
import pytest
from notebook import get_cifar10_data, order, rel_error

from cs231n_fast.classifiers.cnn import *  # noqa: F403  (the notebook's imports)
from cs231n_fast.fast_layers import *  # noqa: F403
from cs231n_fast.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n_fast.layers import *  # noqa: F403
from cs231n_fast.solver import Solver


def test_conv_forward_naive():
    x_shape = (2, 3, 4, 4)
    w_shape = (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)

    conv_param = {'stride': 2, 'pad': 1}
    out, _ = conv_forward_naive(x, w, b, conv_param)
    correct_out = np.array([[[[-0.08759809, -0.10987781],
                              [-0.18387192, -0.2109216]],
                             [[0.21027089, 0.21661097],
                              [0.22847626, 0.23004637]],
                             [[0.50813986, 0.54309974],
                              [0.64082444, 0.67101435]]],
                            [[[-0.98053589, -1.03143541],
                              [-1.19128892, -1.24695841]],
                             [[0.69108355, 0.66880383],
                              [0.59480972, 0.56776003]],
                             [[2.36270298, 2.36904306],
                              [2.38090835, 2.38247847]]]])
    # "Compare your output to ours; difference should be around e-8"
    assert rel_error(out, correct_out) < order(8)
    # The fast layer computes the same.
    out_fast, _ = conv_forward_fast(x, w, b, conv_param)
    assert rel_error(out_fast, correct_out) < order(8)


def test_image_processing_filters():
    # The notebook's "Aside: Image processing via convolutions", on two synthetic 3-channel
    # images (the notebook reads kitten.jpg and puppy.jpg): a grayscale filter and a Sobel
    # edge detector on the blue channel plus a bias of 128, pad 1.
    rng = np.random.default_rng(17)
    img_size = 20
    x = rng.integers(0, 256, size=(2, 3, img_size, img_size)).astype(float)
    w = np.zeros((2, 3, 3, 3))
    w[0, 0, :, :] = [[0, 0, 0], [0, 0.3, 0], [0, 0, 0]]
    w[0, 1, :, :] = [[0, 0, 0], [0, 0.6, 0], [0, 0, 0]]
    w[0, 2, :, :] = [[0, 0, 0], [0, 0.1, 0], [0, 0, 0]]
    w[1, 2, :, :] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    b = np.array([0, 128])
    out, _ = conv_forward_naive(x, w, b, {'stride': 1, 'pad': 1})
    assert out.shape == (2, 2, img_size, img_size)
    np.testing.assert_allclose(out[:, 0], 0.3 * x[:, 0] + 0.6 * x[:, 1] + 0.1 * x[:, 2], rtol=1e-12)
    blue = np.pad(x[:, 2], ((0, 0), (1, 1), (1, 1)))
    rows = blue[:, :-2, :] - blue[:, 2:, :]  # row above minus row below
    edges = rows[:, :, :-2] + 2 * rows[:, :, 1:-1] + rows[:, :, 2:] + 128
    np.testing.assert_allclose(out[:, 1], edges, rtol=1e-12)


def test_conv_backward_naive():
    np.random.seed(231)
    x = np.random.randn(4, 3, 5, 5)
    w = np.random.randn(2, 3, 3, 3)
    b = np.random.randn(2,)
    dout = np.random.randn(4, 2, 5, 5)
    conv_param = {'stride': 1, 'pad': 1}

    dx_num = eval_numerical_gradient_array(lambda x: conv_forward_naive(x, w, b, conv_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: conv_forward_naive(x, w, b, conv_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: conv_forward_naive(x, w, b, conv_param)[0], b, dout)

    out, cache = conv_forward_naive(x, w, b, conv_param)
    dx, dw, db = conv_backward_naive(dout, cache)
    # "Your errors should be around e-8 or less."
    assert rel_error(dx, dx_num) < order(8)
    assert rel_error(dw, dw_num) < order(8)
    assert rel_error(db, db_num) < order(8)


def test_max_pool_forward_naive():
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    pool_param = {'pool_width': 2, 'pool_height': 2, 'stride': 2}

    out, _ = max_pool_forward_naive(x, pool_param)
    correct_out = np.array([[[[-0.26315789, -0.24842105],
                              [-0.20421053, -0.18947368]],
                             [[-0.14526316, -0.13052632],
                              [-0.08631579, -0.07157895]],
                             [[-0.02736842, -0.01263158],
                              [0.03157895, 0.04631579]]],
                            [[[0.09052632, 0.10526316],
                              [0.14947368, 0.16421053]],
                             [[0.20842105, 0.22315789],
                              [0.26736842, 0.28210526]],
                             [[0.32631579, 0.34105263],
                              [0.38526316, 0.4]]]])
    # "Difference should be on the order of e-8."
    assert rel_error(out, correct_out) < order(8)
    out_fast, _ = max_pool_forward_fast(x, pool_param)
    assert rel_error(out_fast, correct_out) < order(8)


def test_max_pool_backward_naive():
    np.random.seed(231)
    x = np.random.randn(3, 2, 8, 8)
    dout = np.random.randn(3, 2, 4, 4)
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}

    dx_num = eval_numerical_gradient_array(lambda x: max_pool_forward_naive(x, pool_param)[0], x, dout)
    out, cache = max_pool_forward_naive(x, pool_param)
    dx = max_pool_backward_naive(dout, cache)
    # "Your error should be on the order of e-12"
    assert rel_error(dx, dx_num) < order(12)


def test_conv_fast_matches_naive():
    np.random.seed(231)
    x = np.random.randn(100, 3, 31, 31)
    w = np.random.randn(25, 3, 3, 3)
    b = np.random.randn(25,)
    dout = np.random.randn(100, 25, 16, 16)
    conv_param = {'stride': 2, 'pad': 1}

    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    # "Rel errors should be around e-9 or less."
    assert rel_error(out_naive, out_fast) < order(9)

    dx_naive, dw_naive, db_naive = conv_backward_naive(dout, cache_naive)
    dx_fast, dw_fast, db_fast = conv_backward_fast(dout, cache_fast)
    assert rel_error(dx_naive, dx_fast) < order(9)
    assert rel_error(dw_naive, dw_fast) < order(9)
    assert rel_error(db_naive, db_fast) < order(9)


def test_max_pool_fast_matches_naive():
    np.random.seed(231)
    x = np.random.randn(100, 3, 32, 32)
    dout = np.random.randn(100, 3, 16, 16)
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}

    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    # "Relative errors should be close to 0.0." (a maximum is one of its inputs: exact)
    assert rel_error(out_naive, out_fast) == 0.0

    dx_naive = max_pool_backward_naive(dout, cache_naive)
    dx_fast = max_pool_backward_fast(dout, cache_fast)
    assert rel_error(dx_naive, dx_fast) == 0.0


def test_conv_relu_pool():
    from cs231n_fast.layer_utils import conv_relu_pool_backward, conv_relu_pool_forward

    np.random.seed(231)
    x = np.random.randn(2, 3, 16, 16)
    w = np.random.randn(3, 3, 3, 3)
    b = np.random.randn(3,)
    dout = np.random.randn(2, 3, 8, 8)
    conv_param = {'stride': 1, 'pad': 1}
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}

    out, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    dx, dw, db = conv_relu_pool_backward(dout, cache)

    dx_num = eval_numerical_gradient_array(lambda x: conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0], b, dout)
    # "Relative errors should be around e-8 or less"
    assert rel_error(dx_num, dx) < order(8)
    assert rel_error(dw_num, dw) < order(8)
    assert rel_error(db_num, db) < order(8)


def test_conv_relu():
    from cs231n_fast.layer_utils import conv_relu_backward, conv_relu_forward

    np.random.seed(231)
    x = np.random.randn(2, 3, 8, 8)
    w = np.random.randn(3, 3, 3, 3)
    b = np.random.randn(3,)
    dout = np.random.randn(2, 3, 8, 8)
    conv_param = {'stride': 1, 'pad': 1}

    out, cache = conv_relu_forward(x, w, b, conv_param)
    dx, dw, db = conv_relu_backward(dout, cache)

    dx_num = eval_numerical_gradient_array(lambda x: conv_relu_forward(x, w, b, conv_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: conv_relu_forward(x, w, b, conv_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: conv_relu_forward(x, w, b, conv_param)[0], b, dout)
    # "Relative errors should be around e-8 or less"
    assert rel_error(dx_num, dx) < order(8)
    assert rel_error(dw_num, dw) < order(8)
    assert rel_error(db_num, db) < order(8)


def test_three_layer_convnet_sanity_loss():
    np.random.seed(231)
    model = ThreeLayerConvNet()

    N = 50
    X = np.random.randn(N, 3, 32, 32)
    y = np.random.randint(10, size=N)

    # "we expect the loss for random weights (and no regularization) to be about log(C) for C
    # classes. When we add regularization the loss should go up slightly."
    loss, grads = model.loss(X, y)
    assert round(loss, 1) == round(np.log(10), 1)
    model.reg = 0.5
    loss_reg, grads = model.loss(X, y)
    assert loss < loss_reg < loss + 0.5


def test_three_layer_convnet_gradient_check():
    num_inputs = 2
    input_dim = (3, 16, 16)
    reg = 0.0
    num_classes = 10
    np.random.seed(231)
    X = np.random.randn(num_inputs, *input_dim)
    y = np.random.randint(num_classes, size=num_inputs)

    model = ThreeLayerConvNet(
        num_filters=3,
        filter_size=3,
        input_dim=input_dim,
        hidden_dim=7,
        dtype=np.float64
    )
    loss, grads = model.loss(X, y)
    # "Errors should be small, but correct implementations may have relative errors up to the
    # order of e-2"
    for param_name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]  # noqa: E731
        param_grad_num = eval_numerical_gradient(f, model.params[param_name], verbose=False, h=1e-6)
        assert rel_error(param_grad_num, grads[param_name]) < order(2), param_name


@pytest.fixture(scope="module")
def data():
    return get_cifar10_data(num_training=1000, num_validation=100, num_test=10, seed=19)


def test_overfit_small_data():
    # "You should be able to overfit small datasets, which will result in very high training
    # accuracy and comparatively low validation accuracy." On 100 distinct noise images with
    # random labels (nothing to learn but memorisation; the CIFAR-10 stand-in's images of a
    # class look alike): training accuracy reaches 0.9 and more (the course's run prints 0.99
    # at epoch 15), validation stays at chance.
    rng = np.random.default_rng(29)
    X, y = 20 * rng.standard_normal((200, 3, 32, 32)), rng.integers(0, 10, 200)
    np.random.seed(231)
    num_train = 100
    small_data = {
        'X_train': X[:num_train],
        'y_train': y[:num_train],
        'X_val': X[num_train:],
        'y_val': y[num_train:],
    }
    model = ThreeLayerConvNet(weight_scale=1e-2)
    solver = Solver(
        model,
        small_data,
        num_epochs=15,
        batch_size=50,
        update_rule='adam',
        optim_config={'learning_rate': 1e-3},
        verbose=False,
        print_every=1
    )
    solver.train()
    assert len(solver.loss_history) == 30
    assert max(solver.train_acc_history) >= 0.9
    assert max(solver.val_acc_history) < 0.3
    assert solver.check_accuracy(small_data['X_val'], small_data['y_val']) < 0.3


def test_train_one_epoch(data):
    # "By training the three-layer convolutional network for one epoch, you should achieve
    # greater than 40% accuracy on the training set" (1 000 stand-in images).
    np.random.seed(231)
    model = ThreeLayerConvNet(weight_scale=0.001, hidden_dim=500, reg=0.001)
    solver = Solver(
        model,
        {k: data[k] for k in ('X_train', 'y_train', 'X_val', 'y_val')},
        num_epochs=1,
        batch_size=50,
        update_rule='adam',
        optim_config={'learning_rate': 1e-3},
        verbose=False,
        print_every=20
    )
    solver.train()
    assert solver.check_accuracy(data['X_train'], data['y_train']) > 0.4
    assert solver.check_accuracy(data['X_val'], data['y_val']) > 0.4


def test_spatial_batchnorm_forward_train():
    np.random.seed(231)
    N, C, H, W = 2, 3, 4, 5
    x = 4 * np.random.randn(N, C, H, W) + 10

    # "Means should be close to zero and stds close to one"
    gamma, beta = np.ones(C), np.zeros(C)
    bn_param = {'mode': 'train'}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-5)

    # "Means should be close to beta and stds close to gamma"
    gamma, beta = np.asarray([3, 4, 5]), np.asarray([6, 7, 8])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-5)


def test_spatial_batchnorm_forward_test_time():
    np.random.seed(231)
    N, C, H, W = 10, 4, 11, 12

    bn_param = {'mode': 'train'}
    gamma = np.ones(C)
    beta = np.zeros(C)
    for t in range(50):
        x = 2.3 * np.random.randn(N, C, H, W) + 13
        spatial_batchnorm_forward(x, gamma, beta, bn_param)
    bn_param['mode'] = 'test'
    x = 2.3 * np.random.randn(N, C, H, W) + 13
    a_norm, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)

    # "Means should be close to zero and stds close to one, but will be noisier than
    # training-time forward passes." (the running averages start at zero and keep 0.9 ** 50 of
    # it; the course's run prints means within 0.09 and stds within 0.04)
    np.testing.assert_allclose(a_norm.mean(axis=(0, 2, 3)), 0, atol=0.2)
    np.testing.assert_allclose(a_norm.std(axis=(0, 2, 3)), 1, atol=0.2)
    # The running averages: momentum 0.9 from zeros over the 50 batches' channel statistics.
    np.random.seed(231)
    mean = var = np.zeros(C)
    for t in range(50):
        x_t = 2.3 * np.random.randn(N, C, H, W) + 13
        mean = 0.9 * mean + 0.1 * x_t.mean(axis=(0, 2, 3))
        var = 0.9 * var + 0.1 * x_t.var(axis=(0, 2, 3))
    np.testing.assert_allclose(bn_param['running_mean'], mean, rtol=1e-12)
    np.testing.assert_allclose(bn_param['running_var'], var, rtol=1e-12)


def test_spatial_batchnorm_backward():
    np.random.seed(231)
    N, C, H, W = 2, 3, 4, 5
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma = np.random.randn(C)
    beta = np.random.randn(C)
    dout = np.random.randn(N, C, H, W)

    bn_param = {'mode': 'train'}
    fx = lambda x: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0]  # noqa: E731
    fg = lambda a: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0]  # noqa: E731
    fb = lambda b: spatial_batchnorm_forward(x, gamma, beta, bn_param)[0]  # noqa: E731

    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma, dout)
    db_num = eval_numerical_gradient_array(fb, beta, dout)

    # "You should expect errors of magnitudes between 1e-12~1e-06"
    _, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    assert rel_error(dx_num, dx) < 1e-6
    assert rel_error(da_num, dgamma) < 1e-6
    assert rel_error(db_num, dbeta) < 1e-6


def test_spatial_groupnorm_forward():
    np.random.seed(231)
    N, C, H, W = 2, 6, 4, 5
    G = 2
    x = 4 * np.random.randn(N, C, H, W) + 10

    # "Means should be close to zero and stds close to one" (per group of each image)
    gamma, beta = np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1))
    bn_param = {'mode': 'train'}
    out, _ = spatial_groupnorm_forward(x, gamma, beta, G, bn_param)
    out_g = out.reshape((N * G, -1))
    assert out.shape == x.shape
    np.testing.assert_allclose(out_g.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out_g.std(axis=1), 1, atol=1e-5)


def test_spatial_groupnorm_backward():
    np.random.seed(231)
    N, C, H, W = 2, 6, 4, 5
    G = 2
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma = np.random.randn(1, C, 1, 1)
    beta = np.random.randn(1, C, 1, 1)
    dout = np.random.randn(N, C, H, W)

    gn_param = {}
    fx = lambda x: spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[0]  # noqa: E731
    fg = lambda a: spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[0]  # noqa: E731
    fb = lambda b: spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[0]  # noqa: E731

    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma, dout)
    db_num = eval_numerical_gradient_array(fb, beta, dout)

    _, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    # "You should expect errors of magnitudes between 1e-12 and 1e-07."
    assert rel_error(dx_num, dx) < 1e-7
    assert rel_error(da_num, dgamma) < 1e-7
    assert rel_error(db_num, dbeta) < 1e-7
