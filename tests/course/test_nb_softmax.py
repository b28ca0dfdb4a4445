"""Assignment 1, ``softmax.ipynb`` (2022): the softmax classifier's naive and vectorised loss and
gradient, their gradient checks, and the tuning of Softmax by SGD, on the CIFAR-10 stand-in
prepared as the notebook prepares CIFAR-10 (see notebook.py and test_nb_svm.py)."""

import numpy as np
import pytest
from notebook import NUM_DEV, PRINTED_ZERO, prepared_linear_cifar

from cs231n_fast.classifiers import Softmax
from cs231n_fast.classifiers.softmax import softmax_loss_naive, softmax_loss_vectorized
from cs231n_fast.gradient_check import grad_check_sparse


@pytest.fixture(scope="module")
def data():
    return prepared_linear_cifar()


def _W():
    np.random.seed(231)
    return np.random.randn(3073, 10) * 0.0001


def test_softmax_loss_naive(data):
    W = _W()
    X_dev, y_dev = data["X_dev"], data["y_dev"]
    loss, grad = softmax_loss_naive(W, X_dev, y_dev, 0.0)
    # The notebook prints the loss next to -log(0.1) ("As a rough sanity check, our loss should
    # be something close to -log(0.1)"): with all scores equal it is exactly that.
    scores = X_dev @ W
    scores -= scores.max(axis=1, keepdims=True)
    log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-log_probs[np.arange(NUM_DEV), y_dev].mean(), rel=1e-12)
    assert grad.shape == W.shape
    zero_loss, _ = softmax_loss_naive(np.zeros_like(W), X_dev, y_dev, 0.0)
    assert zero_loss == pytest.approx(-np.log(0.1), rel=1e-12)


@pytest.mark.parametrize("reg", [0.0, 5e1])
def test_softmax_loss_naive_gradient_check(data, reg):
    # "The numeric gradient should be close to the analytic gradient." (seeded indices)
    W = _W()
    X_dev, y_dev = data["X_dev"], data["y_dev"]
    loss, grad = softmax_loss_naive(W, X_dev, y_dev, reg)
    f = lambda w: softmax_loss_naive(w, X_dev, y_dev, reg)[0]  # noqa: E731
    errors = grad_check_sparse(f, W, grad, 10, seed=1)
    assert len(errors) == 10
    assert max(errors) < 1e-7


def test_softmax_loss_vectorized_matches_naive(data):
    W = _W()
    X_dev, y_dev = data["X_dev"], data["y_dev"]
    loss_naive, grad_naive = softmax_loss_naive(W, X_dev, y_dev, 0.000005)
    loss_vectorized, grad_vectorized = softmax_loss_vectorized(W, X_dev, y_dev, 0.000005)
    # "The two versions should compute the same results" (printed with %f)
    grad_difference = np.linalg.norm(grad_naive - grad_vectorized, ord='fro')
    assert np.abs(loss_naive - loss_vectorized) < PRINTED_ZERO
    assert grad_difference < PRINTED_ZERO


def test_softmax_tuning(data):
    # The notebook's tuning cell with its reference grid ("Provided as a reference") and fewer
    # iterations than 1500 (the stand-in is learned sooner): "if you are careful you should be
    # able to get a classification accuracy of over 0.35 on the validation set".
    results = {}
    best_val = -1
    best_softmax = None
    np.random.seed(231)
    for lr in [1e-7, 5e-7]:
        for reg in [2.5e4, 5e4]:
            softmax = Softmax()
            loss_hist = softmax.train(data["X_train"], data["y_train"], learning_rate=lr, reg=reg,
                                      num_iters=100)
            assert len(loss_hist) == 100 and loss_hist[-1] < loss_hist[0]
            train_accuracy = np.mean(data["y_train"] == softmax.predict(data["X_train"]))
            val_accuracy = np.mean(data["y_val"] == softmax.predict(data["X_val"]))
            results[(lr, reg)] = (train_accuracy, val_accuracy)
            if val_accuracy > best_val:
                best_val = val_accuracy
                best_softmax = softmax
    assert best_val > 0.35
    y_test_pred = best_softmax.predict(data["X_test"])
    assert np.mean(data["y_test"] == y_test_pred) > 0.35
    w = best_softmax.W[:-1, :].reshape(32, 32, 3, 10)  # strip out the bias
    assert np.isfinite(w).all()
