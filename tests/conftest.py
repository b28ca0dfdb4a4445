import hashlib
import os

import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: reproducible, different for each test."""
    seed = int.from_bytes(hashlib.sha256(request.node.nodeid.encode()).digest()[:4], "little")
    return np.random.default_rng(seed)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=["C", "F", "sliced", "negative", "readonly"])
def layout(request):
    return request.param


@pytest.fixture(params=[1, 2], ids=["t1", "t2"])
def n_threads(request):
    return request.param


def pytest_report_header(config):
    try:
        import cs231n_fast
        from cs231n_fast._threads import effective_n_threads, openmp_enabled

        return (
            f"cs231n_fast {cs231n_fast.__version__} from {os.path.dirname(cs231n_fast.__file__)}; "
            f"OpenMP {'on' if openmp_enabled() else 'off'}, {effective_n_threads()} threads"
        )
    except ImportError as exc:  # the import failure itself is reported by test_build
        return f"cs231n_fast not importable: {exc}"
