"""Assignment 2, ``Dropout.ipynb`` (2022): dropout's train/test statistics, its gradient check,
FullyConnectedNet with dropout, and the regularisation experiment (see notebook.py).

cs231n_fast's dropout masks are not NumPy's ``np.random.rand`` stream (a counter-based hash of
the seed and the element index, reproducible for any thread count): the notebook's statistical
checks hold, and the masks differ from the course's draws for the same seed.
"""

import numpy as np
import pytest
from notebook import get_cifar10_data, order, rel_error

from cs231n_fast.classifiers.fc_net import *  # noqa: F403  (the notebook's import)
from cs231n_fast.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n_fast.solver import Solver


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_forward(p):
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    out, _ = dropout_forward(x, {'mode': 'train', 'p': p})
    out_test, _ = dropout_forward(x, {'mode': 'test', 'p': p})
    # The printed checks: the train-time output keeps the input's mean (inverted dropout),
    # a fraction 1 - p of it is zero; the test-time output is the input.
    # 250 000 elements: the fraction's standard error is below 0.001 and the mean's relative
    # standard error below sqrt((1 - p) / p) / 500 * 1.01 < 0.004.
    assert out.mean() == pytest.approx(x.mean(), rel=0.02)
    assert (out == 0).mean() == pytest.approx(1 - p, abs=0.005)
    np.testing.assert_array_equal(out_test, x)
    assert (out_test == 0).mean() == 0


def test_dropout_backward():
    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)

    dropout_param = {'mode': 'train', 'p': 0.2, 'seed': 123}
    out, cache = dropout_forward(x, dropout_param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda xx: dropout_forward(xx, dropout_param)[0], x, dout)
    # "Error should be around e-10 or less."
    assert rel_error(dx, dx_num) < order(10)
    assert 0 < (dx == 0).mean() < 1  # some units dropped, some kept


@pytest.mark.parametrize("dropout_keep_ratio", [1, 0.75, 0.5])
def test_fully_connected_net_with_dropout(dropout_keep_ratio):
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    model = FullyConnectedNet(
        [H1, H2],
        input_dim=D,
        num_classes=C,
        weight_scale=5e-2,
        dtype=np.float64,
        dropout_keep_ratio=dropout_keep_ratio,
        seed=123
    )
    loss, grads = model.loss(X, y)
    assert np.isfinite(loss)

    # "Relative errors should be around e-6 or less. Note that it's fine if for
    # dropout_keep_ratio=1 you have W2 error be on the order of e-5."
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]  # noqa: E731
        grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        bound = order(5) if (dropout_keep_ratio == 1 and name == 'W2') else order(6)
        assert rel_error(grad_num, grads[name]) < bound, name


def test_regularization_experiment():
    # "Train two identical nets, one with dropout and one without" (10 of the notebook's 25
    # epochs, 200 of its 500 images, on the stand-in with random labels, which only
    # memorisation can fit): dropout
    # regularises, the net without it fits the training set more closely.
    np.random.seed(231)
    data = get_cifar10_data(num_training=200, num_validation=100, num_test=10, seed=13,
                            random_labels=True)
    num_train = 200
    small_data = {
        'X_train': data['X_train'][:num_train],
        'y_train': data['y_train'][:num_train],
        'X_val': data['X_val'],
        'y_val': data['y_val'],
    }
    solvers = {}
    for dropout_keep_ratio in [1, 0.25]:
        model = FullyConnectedNet([500], dropout_keep_ratio=dropout_keep_ratio)
        solver = Solver(
            model,
            small_data,
            num_epochs=10,
            batch_size=100,
            update_rule='adam',
            optim_config={'learning_rate': 5e-4},
            verbose=False,
            print_every=100,
        )
        solver.train()
        solvers[dropout_keep_ratio] = solver
    assert model.use_dropout and model.dropout_param['mode'] == 'test'
    train_accs = {k: s.train_acc_history[-1] for k, s in solvers.items()}
    assert train_accs[1] > train_accs[0.25]
    assert all(len(s.val_acc_history) == 11 for s in solvers.values())
