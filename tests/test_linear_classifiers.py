"""The course's linear classifiers: SVM and softmax losses (naive and vectorised) and
LinearClassifier / LinearSVM / Softmax trained by minibatch SGD."""

import math

import numpy as np
import pytest
from helpers import ATOL, RTOL, as_layout, grad_error, numerical_grad

from cs231n_fast.classifiers.linear_classifier import LinearClassifier, LinearSVM, Softmax
from cs231n_fast.classifiers.linear_svm import regularization, svm_loss_naive, svm_loss_vectorized
from cs231n_fast.classifiers.softmax import softmax_loss_naive, softmax_loss_vectorized

PENALTIES = [("l2", 0.5), ("l1", 0.5), ("elastic", 0.3)]
SVM = [svm_loss_naive, svm_loss_vectorized]
SOFTMAX = [softmax_loss_naive, softmax_loss_vectorized]
ALL_LOSSES = SVM + SOFTMAX


def _problem(rng, n=12, d=5, c=4, dtype=np.float64):
    W = (0.5 * rng.standard_normal((d, c))).astype(dtype)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    return W, X, y


def _kink_free_problem(rng, n=8, d=5, c=4, gap=1e-3):
    """A float64 problem with every SVM margin s_j - s_{y_i} + 1 (j != y_i) and every weight
    at least ``gap`` from 0, so the hinge and |W| are smooth within a 1e-6 finite-difference
    step (a step of h moves a margin by at most h * sum|X[i]| < 1e-5)."""
    for _ in range(100):
        W, X, y = _problem(rng, n, d, c)
        scores = X @ W
        margins = scores - scores[np.arange(n), y][:, None] + 1
        margins[np.arange(n), y] = np.inf
        if np.abs(margins).min() > gap and np.abs(W).min() > gap:
            return W, X, y
    raise AssertionError("no kink-free problem found in 100 draws")


def _blobs(rng, n_per_class=60, c=3, d=4, sep=6.0):
    """Linearly separable Gaussian blobs (unit variance, centres ``sep`` apart) with a bias
    column of ones appended, as the course's bias trick; labels 0 .. c-1, shuffled."""
    centres = sep * np.eye(c, d)
    X = np.vstack([centres[k] + rng.standard_normal((n_per_class, d)) for k in range(c)])
    X = np.hstack([X, np.ones((len(X), 1))])
    y = np.repeat(np.arange(c), n_per_class)
    p = rng.permutation(len(y))
    return X[p], y[p]


# --- naive == vectorised ---------------------------------------------------------------------------


@pytest.mark.parametrize("penalty, l1_ratio", PENALTIES)
@pytest.mark.parametrize("naive, vectorized", [SVM, SOFTMAX], ids=["svm", "softmax"])
def test_loss_naive_matches_vectorized(rng, dtype, naive, vectorized, penalty, l1_ratio):
    W, X, y = _problem(rng, dtype=dtype)
    loss_n, dW_n = naive(W, X, y, 0.1, penalty=penalty, l1_ratio=l1_ratio)
    loss_v, dW_v = vectorized(W, X, y, 0.1, penalty=penalty, l1_ratio=l1_ratio)
    assert isinstance(loss_n, float) and isinstance(loss_v, float)
    assert dW_n.dtype == dW_v.dtype == dtype and dW_n.shape == dW_v.shape == W.shape
    assert loss_v == pytest.approx(loss_n, rel=RTOL[dtype])
    np.testing.assert_allclose(dW_v, dW_n, rtol=RTOL[dtype], atol=ATOL[np.dtype(dtype)] * np.abs(dW_n).max())


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_loss_float32_matches_float64(rng, loss_fn):
    W, X, y = _problem(rng)
    loss64, dW64 = loss_fn(W, X, y, 0.05)
    loss32, dW32 = loss_fn(W.astype(np.float32), X.astype(np.float32), y, 0.05)
    assert dW32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(dW32, dW64, rtol=1e-4, atol=1e-5 * np.abs(dW64).max())


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_loss_mixed_and_integer_inputs_compute_in_float64(rng, loss_fn):
    W, X, y = _problem(rng)
    _, dW = loss_fn(W.astype(np.float32), X, y, 0.0)
    assert dW.dtype == np.float64
    _, dW = loss_fn(W, rng.integers(-3, 4, X.shape), y, 0.0)
    assert dW.dtype == np.float64


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_loss_inputs_unchanged(rng, loss_fn, layout):
    W, X, y = _problem(rng)
    W_in, X_in, y_in = as_layout(W, layout), as_layout(X, layout), y.copy()
    expected = loss_fn(W, X, y, 0.1)
    loss, dW = loss_fn(W_in, X_in, y_in, 0.1)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(dW, expected[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(W_in, W)
    np.testing.assert_array_equal(X_in, X)
    np.testing.assert_array_equal(y_in, y)
    assert not np.shares_memory(dW, W_in)


# --- gradient checks ----------------------------------------------------------------------------


@pytest.mark.parametrize("penalty, l1_ratio", PENALTIES)
@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_loss_gradcheck(rng, loss_fn, penalty, l1_ratio):
    # The hinge (SVM) and |W| (l1, elastic) have kinks: the data keep every margin and weight
    # at least 1e-3 from them, far outside the 1e-6 step, so the centred difference is exact
    # up to rounding and the course's bound of 1e-7 holds.
    W, X, y = _kink_free_problem(rng)
    reg = 0.3
    _, dW = loss_fn(W, X, y, reg, penalty=penalty, l1_ratio=l1_ratio)
    num = numerical_grad(lambda w: loss_fn(w, X, y, reg, penalty=penalty, l1_ratio=l1_ratio)[0], W, 1.0)
    assert grad_error(dW, num) < 1e-7  # vs the gradient's scale (helpers.grad_error)


# --- known values -------------------------------------------------------------------------------


@pytest.mark.parametrize("loss_fn", SVM)
def test_svm_loss_notes_example(loss_fn):
    # The notes' example (Linear classification, "Multiclass SVM loss"): W = I makes the rows
    # of X the scores for the classes cat, car, frog.
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    y = np.array([0, 1, 2])  # cat, car, frog
    W = np.eye(3)
    for i, expected in enumerate([2.9, 0.0, 12.9]):
        loss, _ = loss_fn(W, scores[i : i + 1], y[i : i + 1], 0.0)
        assert loss == pytest.approx(expected, abs=1e-12)
    loss, _ = loss_fn(W, scores, y, 0.0)
    assert loss == pytest.approx((2.9 + 0.0 + 12.9) / 3, abs=1e-12)


@pytest.mark.parametrize("loss_fn", SVM)
def test_svm_loss_zero_weights_is_num_classes_minus_one(rng, loss_fn):
    # Every score is 0, so each of the C - 1 wrong classes has margin exactly delta = 1.
    _, X, y = _problem(rng, c=5)
    W = np.zeros((X.shape[1], 5))
    loss, dW = loss_fn(W, X, y, 1.0)
    assert loss == pytest.approx(4.0, rel=1e-15)
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(dW, X.T @ (1.0 - 5.0 * onehot) / len(y), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss_fn", SOFTMAX)
def test_softmax_loss_zero_weights_is_log_num_classes(rng, loss_fn):
    _, X, y = _problem(rng, c=10)
    W = np.zeros((X.shape[1], 10))
    loss, dW = loss_fn(W, X, y, 5.0)
    assert loss == pytest.approx(math.log(10), rel=1e-14)
    onehot = np.eye(10)[y]
    np.testing.assert_allclose(dW, X.T @ (0.1 - onehot) / len(y), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss_fn", SOFTMAX)
def test_softmax_loss_large_scores_do_not_overflow(loss_fn):
    # Softmax is invariant to adding a constant to a row of scores; exp(1000) overflows.
    scores = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    y = np.array([2, 0])
    small, dW_small = loss_fn(np.eye(3), scores, y, 0.0)
    big, dW_big = loss_fn(np.eye(3), scores + 1000.0, y, 0.0)
    expected = np.mean([math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3,
                        math.log(math.exp(0.5) + math.exp(-1) + 1) - 0.5])
    assert small == pytest.approx(expected, rel=1e-12)
    assert big == pytest.approx(expected, rel=1e-9)
    assert np.isfinite(dW_big).all()


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
def test_loss_regularization_adds_penalty(rng, loss_fn):
    W, X, y = _problem(rng)
    W[0, 0] = 0.0  # sign(0) = 0: the L1 subgradient is 0 there
    data_loss, data_dW = loss_fn(W, X, y, 0.0)
    reg = 0.7
    cases = {
        ("l2", 0.5): (reg * np.sum(W**2), 2 * reg * W),
        ("l1", 0.5): (reg * np.sum(np.abs(W)), reg * np.sign(W)),
        ("elastic", 0.25): (reg * (0.25 * np.sum(np.abs(W)) + 0.75 * np.sum(W**2)),
                            reg * (0.25 * np.sign(W) + 1.5 * W)),
    }
    for (penalty, l1_ratio), (r_loss, r_grad) in cases.items():
        loss, dW = loss_fn(W, X, y, reg, penalty=penalty, l1_ratio=l1_ratio)
        assert loss == pytest.approx(data_loss + r_loss, rel=1e-13), penalty
        np.testing.assert_allclose(dW, data_dW + r_grad, rtol=1e-13, atol=1e-15, err_msg=penalty)
    default, other_ratio = loss_fn(W, X, y, reg), loss_fn(W, X, y, reg, penalty="l2", l1_ratio=0.9)
    assert default[0] == other_ratio[0]  # l1_ratio only matters for "elastic"
    np.testing.assert_array_equal(default[1], other_ratio[1])


def test_regularization_elastic_endpoints(rng):
    W = rng.standard_normal((4, 3))
    W[1, 2] = 0.0
    for l1_ratio, same_as in [(0.0, "l2"), (1.0, "l1")]:
        loss, dW = regularization(W, 0.2, penalty="elastic", l1_ratio=l1_ratio)
        ref_loss, ref_dW = regularization(W, 0.2, penalty=same_as)
        assert loss == pytest.approx(ref_loss, rel=1e-15)
        np.testing.assert_array_equal(dW, ref_dW)
    _, dW = regularization(W, 0.2, penalty="l1")
    assert dW[1, 2] == 0.0
    assert regularization(W.astype(np.float32), 0.2)[1].dtype == np.float32


# --- bad inputs ---------------------------------------------------------------------------------


def _bad_loss_cases():
    W = np.zeros((5, 3))
    X = np.zeros((4, 5))
    y = np.array([0, 1, 2, 1])
    return [
        (ValueError, "W", dict(W=np.zeros(5))),
        (ValueError, "W", dict(W=np.zeros((5, 0)))),
        (TypeError, "W", dict(W=np.zeros((5, 3), dtype=complex))),
        (ValueError, "X", dict(X=np.zeros((4, 6)))),
        (ValueError, "X", dict(X=np.zeros(5))),
        (ValueError, "X", dict(X=np.zeros((0, 5)), y=np.zeros(0, int))),
        (TypeError, "X", dict(X=np.full((4, 5), "a"))),
        (TypeError, "y", dict(y=np.array([0.0, 1.0, 2.0, 1.0]))),
        (ValueError, "y", dict(y=np.array([0, 1, 2]))),
        (ValueError, "y", dict(y=np.array([[0, 1, 2, 1]]))),
        (ValueError, "y", dict(y=np.array([0, 1, 3, 1]))),
        (ValueError, "y", dict(y=np.array([0, -1, 2, 1]))),
        (ValueError, "reg", dict(reg=-1.0)),
        (ValueError, "reg", dict(reg=float("nan"))),
        (ValueError, "reg", dict(reg=float("inf"))),
        (TypeError, "reg", dict(reg="0.1")),
        (TypeError, "reg", dict(reg=None)),
        (ValueError, "penalty", dict(penalty="l3")),
        (ValueError, "penalty", dict(penalty=None)),
        (ValueError, "l1_ratio", dict(penalty="elastic", l1_ratio=1.5)),
        (ValueError, "l1_ratio", dict(penalty="elastic", l1_ratio=-0.1)),
        (TypeError, "l1_ratio", dict(l1_ratio="half")),
    ], dict(W=W, X=X, y=y, reg=0.1)


_BAD_LOSS, _GOOD_LOSS_ARGS = _bad_loss_cases()


@pytest.mark.parametrize("loss_fn", ALL_LOSSES)
@pytest.mark.parametrize("exc, match, bad", _BAD_LOSS, ids=[f"{m}-{i}" for i, (_, m, _) in enumerate(_BAD_LOSS)])
def test_loss_bad_input(loss_fn, exc, match, bad):
    args = {**_GOOD_LOSS_ARGS, **bad}
    kwargs = {k: args.pop(k) for k in ("penalty", "l1_ratio") if k in args}
    with pytest.raises(exc, match=match):
        loss_fn(args["W"], args["X"], args["y"], args["reg"], **kwargs)


# --- training -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, lr", [(LinearSVM, 1e-2), (Softmax, 5e-2)])
def test_linear_classifier_train_separable(rng, cls, lr):
    X, y = _blobs(rng)
    clf = cls()
    history = clf.train(X, y, learning_rate=lr, reg=1e-4, num_iters=200, batch_size=32, seed=0)
    assert len(history) == 200 and all(isinstance(h, float) for h in history)
    assert np.mean(history[-20:]) < 0.5 * np.mean(history[:20])
    assert clf.W.shape == (X.shape[1], 3) and clf.W.dtype == np.float64
    y_pred = clf.predict(X)
    assert y_pred.shape == y.shape
    assert np.mean(y_pred == y) >= 0.95
    X_test, y_test = _blobs(rng, n_per_class=30)
    assert np.mean(clf.predict(X_test) == y_test) >= 0.9


@pytest.mark.parametrize("cls", [LinearSVM, Softmax])
def test_linear_classifier_train_seed_reproducible(rng, cls):
    X, y = _blobs(rng, n_per_class=20)
    runs = []
    for seed in (7, 7, 8):
        clf = cls()
        runs.append((clf.train(X, y, num_iters=5, batch_size=10, seed=seed), clf.W))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]
    clf = cls()
    clf.train(X, y, num_iters=5, batch_size=10, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(clf.W, runs[0][1])


def _course_sgd(draw_normal, draw_batch, X, y, loss_fn, lr, reg, num_iters, batch_size, **penalty):
    """The course's train loop, written out: lazy 0.001 * randn init, batches with replacement."""
    W = 0.001 * draw_normal((X.shape[1], int(y.max()) + 1))
    history = []
    for _ in range(num_iters):
        idx = draw_batch(X.shape[0], batch_size)
        loss, grad = loss_fn(W, X[idx], y[idx], reg, **penalty)
        history.append(loss)
        W = W - lr * grad
    return W, history


@pytest.mark.parametrize("cls, loss_fn", [(LinearSVM, svm_loss_vectorized), (Softmax, softmax_loss_vectorized)])
def test_linear_classifier_train_global_state_as_course(rng, cls, loss_fn):
    # seed=None draws from np.random's global state exactly as the course's train does, so
    # a notebook's np.random.seed(...) gives the course's numbers.
    X, y = _blobs(rng, n_per_class=10)
    state = np.random.get_state()
    try:
        np.random.seed(231)
        W, history = _course_sgd(lambda s: np.random.randn(*s), lambda n, b: np.random.choice(n, b),
                                 X, y, loss_fn, 1e-3, 1e-2, 4, 8)
        np.random.seed(231)
        clf = cls()
        got = clf.train(X, y, learning_rate=1e-3, reg=1e-2, num_iters=4, batch_size=8)
    finally:
        np.random.set_state(state)
    assert got == history
    np.testing.assert_array_equal(clf.W, W)


@pytest.mark.parametrize("penalty, l1_ratio", PENALTIES)
def test_linear_classifier_train_seed_and_penalty_as_written_loop(rng, penalty, l1_ratio):
    X, y = _blobs(rng, n_per_class=10)
    gen = np.random.default_rng(5)
    W, history = _course_sgd(gen.standard_normal, lambda n, b: gen.choice(n, b, replace=True), X, y,
                             svm_loss_vectorized, 1e-2, 0.5, 3, 50, penalty=penalty, l1_ratio=l1_ratio)
    clf = LinearSVM()
    got = clf.train(X, y, learning_rate=1e-2, reg=0.5, num_iters=3, batch_size=50, penalty=penalty,
                    l1_ratio=l1_ratio, seed=5)
    assert got == history
    np.testing.assert_array_equal(clf.W, W)


def test_linear_classifier_train_batch_larger_than_data_and_continues(rng):
    X, y = _blobs(rng, n_per_class=3)
    clf = Softmax()
    assert len(clf.train(X, y, num_iters=2, batch_size=100, seed=0)) == 2
    W1 = clf.W
    clf.train(X, y, num_iters=1, batch_size=4, seed=1)
    assert clf.W.shape == W1.shape and not np.array_equal(clf.W, W1)
    assert W1 is not clf.W  # updates make new arrays, a W set by the caller is not modified


def test_linear_classifier_train_float32_keeps_float32(rng):
    X, y = _blobs(rng, n_per_class=10)
    clf = LinearSVM()
    history = clf.train(X.astype(np.float32), y, num_iters=3, batch_size=10, seed=0)
    assert clf.W.dtype == np.float32 and all(np.isfinite(history))


def test_linear_classifier_train_verbose_prints_every_100(rng, capsys):
    X, y = _blobs(rng, n_per_class=5)
    LinearSVM().train(X, y, num_iters=201, batch_size=5, verbose=True, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"iteration {i} / 201" for i in (0, 100, 200)]


def test_linear_classifier_predict_argmax_of_scores():
    clf = LinearSVM()
    clf.W = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -1.0]])
    X = np.array([[3.0, 1.0, 0.0], [1.0, 1.0, 0.0], [-1.0, -1.0, -5.0], [1.0, 0.5, 0.0]])
    # scores: [3, 2, 0], [1, 2, 0], [-1, -2, 5], [1, 1, 0] (a tie: the smaller class)
    np.testing.assert_array_equal(clf.predict(X), [0, 1, 2, 0])


def test_linear_classifier_base_loss_is_abstract(rng):
    X, y = _blobs(rng, n_per_class=2)
    with pytest.raises(NotImplementedError, match="loss"):
        LinearClassifier().train(X, y, num_iters=1, seed=0)


def test_linear_classifier_predict_before_train():
    with pytest.raises(RuntimeError, match=r"call train\(X, y\)"):
        Softmax().predict(np.zeros((2, 3)))


_BAD_TRAIN = [
    (ValueError, "X", dict(X=np.zeros(6))),
    (ValueError, "X", dict(X=np.zeros((0, 3)), y=np.zeros(0, int))),
    (TypeError, "X", dict(X=np.zeros((6, 3), dtype=complex))),
    (ValueError, "y", dict(y=np.array([0, 1, 2]))),
    (TypeError, "y", dict(y=np.zeros(6))),
    (ValueError, "y", dict(y=np.array([0, 1, 2, -1, 0, 1]))),
    (ValueError, "learning_rate", dict(learning_rate=-1e-3)),
    (TypeError, "learning_rate", dict(learning_rate="fast")),
    (ValueError, "reg", dict(reg=-1.0)),
    (ValueError, "num_iters", dict(num_iters=-1)),
    (TypeError, "num_iters", dict(num_iters=10.0)),
    (ValueError, "batch_size", dict(batch_size=0)),
    (ValueError, "penalty", dict(penalty="L2")),
    (ValueError, "l1_ratio", dict(l1_ratio=2.0)),
]


@pytest.mark.parametrize("exc, match, bad", _BAD_TRAIN, ids=[f"{m}-{i}" for i, (_, m, _) in enumerate(_BAD_TRAIN)])
def test_linear_classifier_train_bad_input(exc, match, bad):
    args = {"X": np.ones((6, 3)), "y": np.array([0, 1, 2, 0, 1, 2]), **bad}
    with pytest.raises(exc, match=match):
        LinearSVM().train(**args)


def test_linear_classifier_train_accepts_what_the_course_runs(rng):
    # The course's train loop runs with learning_rate = 0 (W stays at its initialisation) and
    # num_iters = 0 (only the lazy initialisation of W, an empty history).
    X, y = _blobs(rng, n_per_class=4)
    clf = LinearSVM()
    assert clf.train(X, y, num_iters=0, seed=0) == []
    assert clf.W.shape == (X.shape[1], 3)
    W0 = clf.W.copy()
    history = clf.train(X, y, learning_rate=0, num_iters=3, seed=1)
    assert len(history) == 3
    np.testing.assert_array_equal(clf.W, W0)


def test_linear_classifier_bad_data_after_training(rng):
    X, y = _blobs(rng, n_per_class=4)
    clf = LinearSVM()
    clf.train(X, y, num_iters=1, seed=0)
    with pytest.raises(ValueError, match="X must have shape"):
        clf.predict(X[:, :-1])
    with pytest.raises(ValueError, match="X must have shape"):
        clf.train(X[:, :-1], y, num_iters=1, seed=0)
    with pytest.raises(ValueError, match="y must hold labels in"):
        clf.train(X, np.where(y == 2, 3, y), num_iters=1, seed=0)
    with pytest.raises(ValueError, match="X must be a 2-D"):
        clf.predict(X[0])
