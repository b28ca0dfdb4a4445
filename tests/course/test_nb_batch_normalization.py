"""Assignment 2, ``BatchNormalization.ipynb`` (2022): batch and layer normalisation forward
statistics, their gradient checks, batchnorm_backward_alt against batchnorm_backward, the
normalised FullyConnectedNet's gradient check and the training comparisons (see notebook.py).

The notebook prints means and standard deviations ("Means should be close to zero and stds
close to one"); the tests check them at the precision the notebook's numbers show for the
training-time cells (where they are exact up to eps) and as "close" for the test-time cells,
whose running averages are noisy by design.
"""

import numpy as np
import pytest
from notebook import get_cifar10_data, order, rel_error

from cs231n_fast.classifiers.fc_net import *  # noqa: F403  (the notebook's import)
from cs231n_fast.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n_fast.solver import Solver


def _two_layer_activations(N, D1, D2, D3):
    np.random.seed(231)
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    return np.maximum(0, X.dot(W1)).dot(W2)


def test_batchnorm_forward_train_statistics():
    N, D1, D2, D3 = 200, 50, 60, 3
    a = _two_layer_activations(N, D1, D2, D3)
    assert np.all(np.abs(a.mean(axis=0)) > 1) or np.all(a.std(axis=0) > 2)  # not normalised yet

    # "Means should be close to zero and stds close to one."
    gamma = np.ones((D3,))
    beta = np.zeros((D3,))
    a_norm, _ = batchnorm_forward(a, gamma, beta, {'mode': 'train'})
    np.testing.assert_allclose(a_norm.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(a_norm.std(axis=0), 1, atol=1e-6)  # eps = 1e-5 against var ~ 1e2+

    # "Now means should be close to beta and stds close to gamma."
    gamma = np.asarray([1.0, 2.0, 3.0])
    beta = np.asarray([11.0, 12.0, 13.0])
    a_norm, _ = batchnorm_forward(a, gamma, beta, {'mode': 'train'})
    np.testing.assert_allclose(a_norm.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(a_norm.std(axis=0), gamma, rtol=1e-6)


def test_batchnorm_forward_test_time():
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)

    bn_param = {'mode': 'train'}
    gamma = np.ones(D3)
    beta = np.zeros(D3)

    for t in range(50):
        X = np.random.randn(N, D1)
        a = np.maximum(0, X.dot(W1)).dot(W2)
        batchnorm_forward(a, gamma, beta, bn_param)

    bn_param['mode'] = 'test'
    X = np.random.randn(N, D1)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    a_norm, _ = batchnorm_forward(a, gamma, beta, bn_param)

    # "Means should be close to zero and stds close to one, but will be noisier than
    # training-time forward passes." (the course's solution prints means within 0.1 and stds
    # within 0.1 of their targets for this seed)
    np.testing.assert_allclose(a_norm.mean(axis=0), 0, atol=0.2)
    np.testing.assert_allclose(a_norm.std(axis=0), 1, atol=0.2)
    # The running averages are the momentum-0.9 averages of the 50 batches' statistics,
    # started at zero, as the course's docstring specifies.
    np.random.seed(231)
    np.random.randn(D1, D2)
    np.random.randn(D2, D3)
    mean = var = np.zeros(D3)
    for t in range(50):
        a_t = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
        mean = 0.9 * mean + 0.1 * a_t.mean(axis=0)
        var = 0.9 * var + 0.1 * a_t.var(axis=0)
    np.testing.assert_allclose(bn_param['running_mean'], mean, rtol=1e-12)
    np.testing.assert_allclose(bn_param['running_var'], var, rtol=1e-12)


def test_batchnorm_backward():
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)

    bn_param = {'mode': 'train'}
    fx = lambda x: batchnorm_forward(x, gamma, beta, bn_param)[0]  # noqa: E731
    fg = lambda a: batchnorm_forward(x, a, beta, bn_param)[0]  # noqa: E731
    fb = lambda b: batchnorm_forward(x, gamma, b, bn_param)[0]  # noqa: E731

    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(fb, beta.copy(), dout)

    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    # "You should expect to see relative errors between 1e-13 and 1e-8."
    assert rel_error(dx_num, dx) < 1e-8
    assert rel_error(da_num, dgamma) < 1e-8
    assert rel_error(db_num, dbeta) < 1e-8


def test_batchnorm_backward_alt_matches():
    np.random.seed(231)
    N, D = 100, 500
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)

    bn_param = {'mode': 'train'}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx1, dgamma1, dbeta1 = batchnorm_backward(dout, cache)
    dx2, dgamma2, dbeta2 = batchnorm_backward_alt(dout, cache)
    # "Your two implementations should compute nearly identical results"
    assert rel_error(dx1, dx2) < 1e-12
    assert rel_error(dgamma1, dgamma2) < 1e-12
    assert rel_error(dbeta1, dbeta2) < 1e-12


@pytest.mark.parametrize("reg", [0, 3.14])
def test_batchnorm_fully_connected_net_gradient_check(reg):
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    if reg:  # the notebook's loop built (and drew) the reg = 0 model first
        FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=0, weight_scale=5e-2,
                          dtype=np.float64, normalization='batchnorm')

    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C,
                              reg=reg, weight_scale=5e-2, dtype=np.float64,
                              normalization='batchnorm')
    loss, grads = model.loss(X, y)
    assert np.isfinite(loss)

    # "You should expect losses between 1e-4~1e-10 for W, losses between 1e-08~1e-10 for b,
    # and losses between 1e-08~1e-09 for beta and gammas." Read as orders of magnitude (the
    # course's own solution prints W1 1.10e-04 for reg = 0, as this library does: the centred
    # difference loses digits through a batch of two): W below 1e-3, b3 and the gammas and
    # betas below 1e-7.
    # b1 and b2 feed a batchnorm, which removes any shift: their true gradient is exactly 0
    # and rel_error (with its 1e-8 floor) would only measure rounding noise of order 1e-15
    # (the course's solution prints 1.93e-07 for b2), which depends on the summation order of
    # the BLAS kernel. They are checked as zeros instead, both gradients.
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]  # noqa: E731
        grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        if name in ('b1', 'b2'):
            assert np.max(np.abs(grad_num)) < 1e-9 and np.max(np.abs(grads[name])) < 1e-12, name
            continue
        bound = order(4) if name.startswith('W') else order(8)
        assert rel_error(grad_num, grads[name]) < bound, name


@pytest.fixture(scope="module")
def small_data():
    data = get_cifar10_data(num_training=200, num_validation=100, num_test=10, seed=11)
    return {k: data[k] for k in ('X_train', 'y_train', 'X_val', 'y_val')}


def test_batchnorm_deep_net_trains_faster(small_data):
    # "You should find that using batch normalization helps the network to converge much
    # faster." Six layers, the notebook's weight scale and Adam settings (2 of its 10 epochs):
    # at this weight scale the baseline's signal fades through the layers and its loss stays
    # near log(10) at first, while the batchnorm network's drops from the first steps.
    np.random.seed(231)
    hidden_dims = [100, 100, 100, 100, 100]
    weight_scale = 2e-2
    bn_model = FullyConnectedNet(hidden_dims, weight_scale=weight_scale, normalization='batchnorm')
    model = FullyConnectedNet(hidden_dims, weight_scale=weight_scale, normalization=None)
    solvers = []
    for m in (bn_model, model):
        solver = Solver(m, small_data, num_epochs=2, batch_size=50, update_rule='adam',
                        optim_config={'learning_rate': 1e-3}, verbose=False)
        solver.train()
        solvers.append(solver)
    bn_solver, solver = solvers
    for i in range(1, 5):
        assert bn_solver.loss_history[i] < solver.loss_history[i] - 0.1, i


def test_layernorm_forward_statistics():
    N, D1, D2, D3 = 4, 50, 60, 3
    a = _two_layer_activations(N, D1, D2, D3)

    # "Means should be close to zero and stds close to one" (per data point)
    gamma = np.ones(D3)
    beta = np.zeros(D3)
    a_norm, _ = layernorm_forward(a, gamma, beta, {'mode': 'train'})
    np.testing.assert_allclose(a_norm.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(a_norm.std(axis=1), 1, atol=1e-5)

    # "Now means should be close to beta and stds close to gamma."
    gamma = np.asarray([3.0, 3.0, 3.0])
    beta = np.asarray([5.0, 5.0, 5.0])
    a_norm, _ = layernorm_forward(a, gamma, beta, {'mode': 'train'})
    np.testing.assert_allclose(a_norm.mean(axis=1), 5, atol=1e-12)
    np.testing.assert_allclose(a_norm.std(axis=1), 3, rtol=1e-5)


def test_layernorm_backward():
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)

    ln_param = {}
    fx = lambda x: layernorm_forward(x, gamma, beta, ln_param)[0]  # noqa: E731
    fg = lambda a: layernorm_forward(x, a, beta, ln_param)[0]  # noqa: E731
    fb = lambda b: layernorm_forward(x, gamma, b, ln_param)[0]  # noqa: E731

    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(fb, beta.copy(), dout)

    _, cache = layernorm_forward(x, gamma, beta, ln_param)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    # "You should expect to see relative errors between 1e-12 and 1e-8."
    assert rel_error(dx_num, dx) < 1e-8
    assert rel_error(da_num, dgamma) < 1e-8
    assert rel_error(db_num, dbeta) < 1e-8


@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
def test_batch_size_experiment(small_data, normalization):
    # The notebook's run_batchsize_experiments (2 of its 10 epochs, 200 training images):
    # every batch size trains, the normalised networks as well as the baseline.
    np.random.seed(231)
    hidden_dims = [100, 100, 100, 100, 100]
    weight_scale = 2e-2
    lr = 10 ** (-3.5)
    for b_size, norm in [(5, None), (5, normalization), (10, normalization), (50, normalization)]:
        model = FullyConnectedNet(hidden_dims, weight_scale=weight_scale, normalization=norm)
        solver = Solver(model, small_data, num_epochs=2, batch_size=b_size, update_rule='adam',
                        optim_config={'learning_rate': lr}, verbose=False)
        solver.train()
        assert np.all(np.isfinite(solver.loss_history))
        assert solver.train_acc_history[-1] > solver.train_acc_history[0], (b_size, norm)
