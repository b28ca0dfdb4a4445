"""Assignment 2, ``FullyConnectedNets.ipynb`` (2022): FullyConnectedNet's gradient check, the
overfitting checks, the update rules against the notebook's expected values, and training with
each rule (see notebook.py for the CIFAR-10 stand-in and how stated errors become thresholds).
"""

import numpy as np
import pytest
from notebook import get_cifar10_data, order, rel_error

from cs231n_fast.classifiers.fc_net import *  # noqa: F403  (the notebook's import)
from cs231n_fast.gradient_check import eval_numerical_gradient
from cs231n_fast.solver import Solver


@pytest.fixture(scope="module")
def data():
    return get_cifar10_data(num_training=1000, num_validation=200, num_test=200, seed=7)


@pytest.mark.parametrize("reg", [0, 3.14])
def test_fully_connected_net_gradient_check(reg):
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    if reg:  # the notebook's loop built (and drew) the reg = 0 model first
        FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=0, weight_scale=5e-2,
                          dtype=np.float64)

    model = FullyConnectedNet(
        [H1, H2],
        input_dim=D,
        num_classes=C,
        reg=reg,
        weight_scale=5e-2,
        dtype=np.float64
    )
    loss, grads = model.loss(X, y)
    assert np.isfinite(loss)

    # "Most of the errors should be on the order of e-7 or smaller. NOTE: It is fine however to
    # see an error for W2 on the order of e-5 for the check when reg = 0.0"
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]  # noqa: E731
        grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        bound = order(5) if (reg == 0 and name == "W2") else order(7)
        assert rel_error(grad_num, grads[name]) < bound, name


@pytest.mark.parametrize(
    "hidden_dims, weight_scale, learning_rate",
    [
        # "tweak the learning rate and weight initialization scale to overfit and achieve 100%
        # training accuracy within 20 epochs": a three-layer net, then a five-layer net.
        ([100, 100], 1e-2, 1e-2),
        ([100, 100, 100, 100], 1e-1, 1e-3),
    ],
    ids=["three_layer", "five_layer"],
)
def test_overfit_small_data(data, hidden_dims, weight_scale, learning_rate):
    np.random.seed(231)
    num_train = 50
    small_data = {
        "X_train": data["X_train"][:num_train],
        "y_train": data["y_train"][:num_train],
        "X_val": data["X_val"],
        "y_val": data["y_val"],
    }
    model = FullyConnectedNet(hidden_dims, weight_scale=weight_scale, dtype=np.float64)
    solver = Solver(
        model,
        small_data,
        print_every=10,
        num_epochs=20,
        batch_size=25,
        update_rule="sgd",
        optim_config={"learning_rate": learning_rate},
        verbose=False,
    )
    solver.train()
    assert max(solver.train_acc_history) == 1.0
    assert len(solver.loss_history) == 40


def test_sgd_momentum():
    from cs231n_fast.optim import sgd_momentum

    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)

    config = {"learning_rate": 1e-3, "velocity": v}
    next_w, _ = sgd_momentum(w, dw, config=config)

    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    # "Should see relative errors around e-8 or less" (the markdown: "errors less than e-8")
    assert rel_error(next_w, expected_next_w) < 1e-8
    assert rel_error(expected_velocity, config["velocity"]) < 1e-8


def test_rmsprop():
    from cs231n_fast.optim import rmsprop

    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)

    config = {'learning_rate': 1e-2, 'cache': cache}
    next_w, _ = rmsprop(w, dw, config=config)

    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    # "You should see relative errors around e-7 or less"
    assert rel_error(expected_next_w, next_w) < order(7)
    assert rel_error(expected_cache, config['cache']) < order(7)


def test_adam():
    from cs231n_fast.optim import adam

    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)

    config = {'learning_rate': 1e-2, 'm': m, 'v': v, 't': 5}
    next_w, _ = adam(w, dw, config=config)

    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    # "You should see relative errors around e-7 or less"
    assert rel_error(expected_next_w, next_w) < order(7)
    assert rel_error(expected_v, config['v']) < order(7)
    assert rel_error(expected_m, config['m']) < order(7)


def _train_six_layer(small_data, update_rule, learning_rate):
    np.random.seed(231)
    model = FullyConnectedNet([100, 100, 100, 100, 100], weight_scale=5e-2)
    solver = Solver(
        model,
        small_data,
        num_epochs=5,
        batch_size=100,
        update_rule=update_rule,
        optim_config={'learning_rate': learning_rate},
        verbose=False,
    )
    solver.train()
    return solver


def test_update_rules_train_six_layer_net(data):
    # The notebook's comparison of update rules on a six-layer net (the learning rates of its
    # cells); "You should see the SGD+momentum update rule converge faster", and Adam and
    # RMSProp train as well.
    num_train = 400
    small_data = {
        'X_train': data['X_train'][:num_train],
        'y_train': data['y_train'][:num_train],
        'X_val': data['X_val'],
        'y_val': data['y_val'],
    }
    rates = {'sgd': 5e-3, 'sgd_momentum': 5e-3, 'rmsprop': 1e-4, 'adam': 1e-3}
    solvers = {rule: _train_six_layer(small_data, rule, lr) for rule, lr in rates.items()}
    for rule, solver in solvers.items():
        assert len(solver.loss_history) == 20 and len(solver.val_acc_history) == 6, rule
        assert np.all(np.isfinite(solver.loss_history)), rule
        assert np.mean(solver.loss_history[-4:]) < solver.loss_history[0], rule
    last = {rule: np.mean(s.loss_history[-4:]) for rule, s in solvers.items()}
    assert last['sgd_momentum'] < last['sgd']


def test_best_model_validation_accuracy(data):
    # "Train the best fully connected model that you can ... at least 50% accuracy on the
    # validation set", then the notebook's evaluation cell.
    np.random.seed(231)
    best_model = FullyConnectedNet([128, 128], weight_scale=1e-2, reg=1e-3,
                                   normalization='batchnorm')
    solver = Solver(best_model, data, num_epochs=3, batch_size=100, update_rule='adam',
                    optim_config={'learning_rate': 1e-3}, verbose=False)
    solver.train()
    y_test_pred = np.argmax(best_model.loss(data['X_test']), axis=1)
    y_val_pred = np.argmax(best_model.loss(data['X_val']), axis=1)
    assert (y_val_pred == data['y_val']).mean() >= 0.5
    assert (y_test_pred == data['y_test']).mean() >= 0.5
