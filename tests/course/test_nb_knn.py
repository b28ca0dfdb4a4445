"""Assignment 1, ``knn.ipynb`` (2022): the kNN classifier's three distance computations, label
prediction and the cross-validation over k, on a small CIFAR-10 stand-in (see notebook.py).

The notebook's accuracies (about 27% at k = 1 on CIFAR-10) are properties of the data; here the
predictions are compared with the notebook's algorithm written out in NumPy (the course's
``np.argsort`` + ``np.bincount`` vote), and the distance matrices with each other as the
notebook does (Frobenius norm of the difference below 0.001).
"""

import numpy as np
import pytest
from notebook import load_cifar10

from cs231n_fast.classifiers import KNearestNeighbor

NUM_TRAINING, NUM_TEST = 250, 25


@pytest.fixture(scope="module")
def cifar():
    X_train, y_train, X_test, y_test = load_cifar10(NUM_TRAINING, NUM_TEST, seed=3)
    # "Reshape the image data into rows"
    X_train = np.reshape(X_train, (X_train.shape[0], -1))
    X_test = np.reshape(X_test, (X_test.shape[0], -1))
    assert X_train.shape == (NUM_TRAINING, 3072) and X_test.shape == (NUM_TEST, 3072)
    return X_train, y_train, X_test, y_test


@pytest.fixture(scope="module")
def trained(cifar):
    X_train, y_train, X_test, _ = cifar
    classifier = KNearestNeighbor()
    classifier.train(X_train, y_train)
    dists = classifier.compute_distances_two_loops(X_test)
    return classifier, dists


def course_predict(dists, y_train, k):
    """The course's predict_labels: the k nearest labels, the most common one (smallest on
    ties) by np.argmax(np.bincount(...))."""
    y_pred = np.zeros(dists.shape[0])
    for i in range(dists.shape[0]):
        closest_y = y_train[np.argsort(dists[i])[:k]]
        y_pred[i] = np.argmax(np.bincount(closest_y))
    return y_pred


def test_compute_distances_two_loops(cifar, trained):
    X_train, _, X_test, _ = cifar
    _, dists = trained
    assert dists.shape == (NUM_TEST, NUM_TRAINING)
    expected = np.sqrt(((X_test[:, None, :] - X_train[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_allclose(dists, expected, rtol=1e-12)


@pytest.mark.parametrize("k", [1, 5])
def test_predict_labels(cifar, trained, k):
    _, y_train, _, y_test = cifar
    classifier, dists = trained
    y_test_pred = classifier.predict_labels(dists, k=k)
    np.testing.assert_array_equal(y_test_pred, course_predict(dists, y_train, k))
    num_correct = np.sum(y_test_pred == y_test)
    accuracy = float(num_correct) / NUM_TEST
    assert 0.0 <= accuracy <= 1.0


@pytest.mark.parametrize("method", ["compute_distances_one_loop", "compute_distances_no_loops"])
def test_vectorised_distances_match(cifar, trained, method):
    _, _, X_test, _ = cifar
    classifier, dists = trained
    dists_other = getattr(classifier, method)(X_test)
    difference = np.linalg.norm(dists - dists_other, ord='fro')
    assert difference < 0.001, 'Uh-oh! The distance matrices are different'


def test_cross_validation(cifar):
    # The notebook's TODO cell, in its usual form: np.array_split folds, train on the others.
    X_train, y_train, _, _ = cifar
    num_folds = 5
    k_choices = [1, 3, 5, 8, 10, 12, 15, 20, 50, 100]
    X_train_folds = np.array_split(X_train, num_folds)
    y_train_folds = np.array_split(y_train, num_folds)
    k_to_accuracies = {}
    for k in k_choices:
        k_to_accuracies[k] = []
        for i in range(num_folds):
            classifier = KNearestNeighbor()
            classifier.train(np.concatenate(X_train_folds[:i] + X_train_folds[i + 1:]),
                             np.concatenate(y_train_folds[:i] + y_train_folds[i + 1:]))
            y_val_pred = classifier.predict(X_train_folds[i], k=k)
            k_to_accuracies[k].append(float(np.mean(y_val_pred == y_train_folds[i])))
    assert sorted(k_to_accuracies) == sorted(k_choices)
    assert all(len(a) == num_folds for a in k_to_accuracies.values())

    # Each fold's accuracy is that of the course's algorithm on the same split.
    for i in range(num_folds):
        X_tr = np.concatenate(X_train_folds[:i] + X_train_folds[i + 1:])
        y_tr = np.concatenate(y_train_folds[:i] + y_train_folds[i + 1:])
        dists = np.sqrt(((X_train_folds[i][:, None, :] - X_tr[None]) ** 2).sum(axis=2))
        for k in (1, 8, 100):
            want = np.mean(course_predict(dists, y_tr, k) == y_train_folds[i])
            assert k_to_accuracies[k][i] == pytest.approx(want, abs=1e-15), (k, i)

    # The library's one-call version gives the same table.
    from cs231n_fast.classifiers import cross_validate_k

    assert cross_validate_k(X_train, y_train, k_choices, num_folds) == k_to_accuracies


def test_best_k_on_test_data(cifar):
    X_train, y_train, X_test, y_test = cifar
    best_k = 10
    classifier = KNearestNeighbor()
    classifier.train(X_train, y_train)
    y_test_pred = classifier.predict(X_test, k=best_k)
    dists = np.sqrt(((X_test[:, None, :] - X_train[None]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(y_test_pred, course_predict(dists, y_train, best_k))
    # The stand-in is learnable: far above the notebook's "above 28%" on CIFAR-10.
    assert np.mean(y_test_pred == y_test) > 0.28
