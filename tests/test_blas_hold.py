"""Models that mix the kernels with NumPy products hold NumPy's BLAS to one thread meanwhile
(cs231n_fast._threads.holds_blas_single_thread), and put it back afterwards."""

import numpy as np
import pytest
from threadpoolctl import OpenBLASController, threadpool_info, threadpool_limits

import cs231n_fast
from cs231n_fast import _blas, nn
from cs231n_fast.classifiers import CaptioningRNN
from cs231n_fast.classifiers import cnn as cnn_module
from cs231n_fast.classifiers import rnn as rnn_module


def _blas_threads():
    """The thread count of the BLAS the kernels call (every process-wide BLAS when threadpoolctl
    is the limiter), as a sorted list."""
    control = _blas.gemm_thread_control()
    if control is not None:
        return [control[0]()]
    libs = [lib for lib in threadpool_info() if lib["user_api"] == "blas" and lib.get("threading_layer") != "openmp"]
    return sorted({lib["num_threads"] for lib in libs})


@pytest.fixture
def two_blas_threads():
    before = max(_blas_threads())
    threadpool_limits(limits=2, user_api="blas")
    OpenBLASController.clear_controlling_thread(force=True)
    assert _blas_threads() == [2]
    yield
    threadpool_limits(limits=before, user_api="blas")
    OpenBLASController.clear_controlling_thread(force=True)


def _spy(monkeypatch, owner, name, seen):
    """Replace ``owner.name`` by a wrapper that records the BLAS thread count when called."""
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)


def _captioning(rng, cell_type):
    words = ["<NULL>", "<START>", "<END>", "a", "b", "c"]
    model = CaptioningRNN({w: i for i, w in enumerate(words)}, input_dim=6, wordvec_dim=5,
                          hidden_dim=4, cell_type=cell_type, dtype=np.float64, seed=0)
    features = rng.standard_normal((3, 6))
    captions = rng.integers(0, len(words), size=(3, 5))
    return model, features, captions


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_loss_and_sample_hold_blas_to_one_thread(two_blas_threads, monkeypatch, rng, cell_type):
    model, features, captions = _captioning(rng, cell_type)
    want_loss, want_grads = model.loss(features, captions)
    seen = []
    _spy(monkeypatch, rnn_module.rnn_layers, "temporal_affine_forward", seen)
    loss, grads = model.loss(features, captions)
    assert seen == [[1]]
    assert _blas_threads() == [2]
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for k in want_grads:
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=1e-10, atol=1e-12)
    step = "lstm_step_forward" if cell_type == "lstm" else "rnn_step_forward"
    _spy(monkeypatch, rnn_module.rnn_layers, step, seen)
    model.sample(features, max_length=2)
    assert seen[1:] and all(s == [1] for s in seen[1:])
    assert _blas_threads() == [2]


def test_captioning_loss_restores_the_limit_when_it_raises(two_blas_threads, rng):
    model, features, _ = _captioning(rng, "lstm")
    with pytest.raises(ValueError, match="captions"):
        model.loss(features, np.full((3, 5), 99))
    assert _blas_threads() == [2]


@pytest.mark.parametrize("backend, inside", [("fast", [1]), ("reference", [2])])
def test_three_layer_convnet_holds_blas_with_the_fast_backend_only(two_blas_threads, monkeypatch, rng, backend, inside):
    model = cnn_module.ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3,
                                         hidden_dim=4, num_classes=3, dtype=np.float64, seed=0,
                                         backend=backend)
    X, y = rng.standard_normal((2, 2, 6, 6)), np.array([0, 2])
    seen = []
    _spy(monkeypatch, cnn_module, "affine_forward", seen)
    model.loss(X, y)
    assert seen == [inside]
    assert _blas_threads() == [2]


def test_sequential_holds_blas_when_a_layer_runs_the_kernels(two_blas_threads, monkeypatch, rng):
    seen = []
    _spy(monkeypatch, nn.Affine, "forward", seen)
    X, y = rng.standard_normal((2, 1, 4, 4)), np.array([0, 1])
    mixed = nn.Sequential(nn.Conv2D(1, 2, 3, pad=1, dtype=np.float64, seed=0), nn.Flatten(),
                          nn.Affine(32, 2, dtype=np.float64, seed=0))
    plain = nn.Sequential(nn.Flatten(), nn.Affine(16, 2, dtype=np.float64, seed=0))
    slow = nn.Sequential(nn.Conv2D(1, 2, 3, pad=1, dtype=np.float64, seed=0, backend="reference"),
                         nn.Flatten(), nn.Affine(32, 2, dtype=np.float64, seed=0))
    assert [m._uses_kernels() for m in (mixed, plain, slow)] == [True, False, False]
    mixed.loss(X, y)
    plain.loss(X, y)
    slow.loss(X, y)
    assert seen == [[1], [2], [2]]
    assert _blas_threads() == [2]


def test_public_blas_single_thread_nests_and_restores(two_blas_threads):
    with cs231n_fast.blas_single_thread():
        assert _blas_threads() == [1]
        with cs231n_fast.blas_single_thread():
            assert _blas_threads() == [1]
        assert _blas_threads() == [1]
    assert _blas_threads() == [2]


def test_runs_kernels_marks_the_kernel_layers_on_the_fast_backend():
    fast = [nn.Conv2D(1, 2, 3), nn.MaxPool2D(2), nn.RNN(3, 4), nn.LSTM(3, 4)]
    assert all(layer.runs_kernels for layer in fast)
    assert not any(layer.runs_kernels for layer in [
        nn.Conv2D(1, 2, 3, backend="reference"), nn.LSTM(3, 4, backend="reference"),
        nn.Affine(3, 2), nn.ReLU(), nn.Embedding(5, 3), nn.TemporalAffine(3, 2)])


def test_numpy_products_in_other_threads_run_on_one_blas_thread_meanwhile(two_blas_threads, rng):
    # Documented (README "Threads and OpenMP", blas_single_thread): the limit is process-wide,
    # so while a kernel holds it, another Python thread's NumPy products run on one BLAS thread
    # and give the one-thread result, whatever the last bits of the N-thread one.
    import threading

    from cs231n_fast._threads import blas_single_thread

    a, b = rng.standard_normal((45, 77)), rng.standard_normal((77, 300))
    with threadpool_limits(limits=1, user_api="blas"):
        one_thread = a @ b
    OpenBLASController.clear_controlling_thread(force=True)
    seen = {}

    def other():
        seen["threads"] = _blas_threads()
        seen["product"] = a @ b

    with blas_single_thread():  # what every BLAS-calling kernel does around its run
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
    assert seen["threads"] == [1]
    np.testing.assert_array_equal(seen["product"], one_thread)
    assert _blas_threads() == [2]  # restored afterwards
