"""Assignment 1, ``svm.ipynb`` (2022): the linear SVM's naive and vectorised loss and gradient,
their gradient checks, and SGD training with LinearSVM, on a small CIFAR-10 stand-in prepared
as the notebook prepares CIFAR-10 (rows, mean image subtracted, bias column; see notebook.py).
"""

import numpy as np
import pytest
from notebook import NUM_DEV, PRINTED_ZERO, prepared_linear_cifar

from cs231n_fast.classifiers import LinearSVM
from cs231n_fast.classifiers.linear_svm import svm_loss_naive, svm_loss_vectorized
from cs231n_fast.gradient_check import grad_check_sparse

@pytest.fixture(scope="module")
def data():
    return prepared_linear_cifar()


def _W():
    np.random.seed(231)
    return np.random.randn(3073, 10) * 0.0001


def test_svm_loss_naive(data):
    W = _W()
    X_dev, y_dev = data["X_dev"], data["y_dev"]
    loss, grad = svm_loss_naive(W, X_dev, y_dev, 0.000005)
    # The notebook prints the loss (about 9 on CIFAR-10); here it is checked against the
    # multiclass hinge loss written out (margin 1, mean over samples, reg * sum(W ** 2)).
    scores = X_dev @ W
    correct = scores[np.arange(NUM_DEV), y_dev][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(NUM_DEV), y_dev] = 0
    assert loss == pytest.approx(margins.sum() / NUM_DEV + 0.000005 * np.sum(W * W), rel=1e-12)
    assert grad.shape == W.shape


@pytest.mark.parametrize("reg", [0.0, 5e1])
def test_svm_loss_naive_gradient_check(data, reg):
    # "compare them with your analytically computed gradient. The numbers should match almost
    # exactly along all dimensions." The hinge has kinks: a check whose +-h step crosses one
    # differs (the notebook's inline question); this data has none within h of the 10 entries
    # checked. grad_check_sparse is seeded (the course's draws from Python's random).
    W = _W()
    X_dev, y_dev = data["X_dev"], data["y_dev"]
    loss, grad = svm_loss_naive(W, X_dev, y_dev, reg)
    f = lambda w: svm_loss_naive(w, X_dev, y_dev, reg)[0]  # noqa: E731
    errors = grad_check_sparse(f, W, grad, seed=0)
    assert len(errors) == 10
    assert max(errors) < 1e-7


def test_svm_loss_vectorized_matches_naive(data):
    W = _W()
    X_dev, y_dev = data["X_dev"], data["y_dev"]
    loss_naive, grad_naive = svm_loss_naive(W, X_dev, y_dev, 0.000005)
    loss_vectorized, _ = svm_loss_vectorized(W, X_dev, y_dev, 0.000005)
    # "The losses should match" (printed with %f)
    assert abs(loss_naive - loss_vectorized) < PRINTED_ZERO
    _, grad_vectorized = svm_loss_vectorized(W, X_dev, y_dev, 0.000005)
    difference = np.linalg.norm(grad_naive - grad_vectorized, ord='fro')
    assert difference < PRINTED_ZERO


def test_linear_svm_training(data):
    # The notebook's learning rate and regularisation; 300 of its 1500 iterations (the
    # stand-in is learned sooner, and the suite stays quick).
    np.random.seed(231)
    svm = LinearSVM()
    loss_hist = svm.train(data["X_train"], data["y_train"], learning_rate=1e-7, reg=2.5e4,
                          num_iters=300, verbose=False)
    assert len(loss_hist) == 300
    assert np.mean(loss_hist[-100:]) < loss_hist[0]
    y_train_pred = svm.predict(data["X_train"])
    y_val_pred = svm.predict(data["X_val"])
    assert y_train_pred.shape == data["y_train"].shape
    # "you should be able to get a classification accuracy of about 0.39 (> 0.385) on the
    # validation set" (CIFAR-10, after tuning); the stand-in is easier.
    assert np.mean(data["y_val"] == y_val_pred) > 0.385
    assert np.mean(data["y_train"] == y_train_pred) > 0.385


def test_validation_sweep_keeps_best(data):
    # The notebook's tuning cell, on a small grid; best_svm is the one with the best
    # validation accuracy, and its test accuracy is computed as in the notebook.
    results = {}
    best_val = -1
    best_svm = None
    np.random.seed(0)
    for lr in [1e-7, 5e-5]:
        for reg in [2.5e4, 5e4]:
            svm = LinearSVM()
            svm.train(data["X_train"], data["y_train"], learning_rate=lr, reg=reg, num_iters=30)
            train_acc = np.mean(data["y_train"] == svm.predict(data["X_train"]))
            val_acc = np.mean(data["y_val"] == svm.predict(data["X_val"]))
            results[(lr, reg)] = (train_acc, val_acc)
            if val_acc > best_val:
                best_val, best_svm = val_acc, svm
    assert best_val == max(v for _, v in results.values())
    test_accuracy = np.mean(data["y_test"] == best_svm.predict(data["X_test"]))
    assert 0.0 <= test_accuracy <= 1.0
    w = best_svm.W[:-1, :]  # strip out the bias
    assert w.reshape(32, 32, 3, 10).shape == (32, 32, 3, 10)
