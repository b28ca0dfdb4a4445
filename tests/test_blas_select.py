"""Which BLAS the kernels' GEMMs call (cs231n_fast._blas): NumPy's bundled ILP64 OpenBLAS when
there is one, else SciPy's cython_blas; ``CS231N_FAST_BLAS`` chooses. Both give the reference's
results within the dtype's tolerance, and each is bitwise reproducible across thread counts."""

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import assert_matches_reference

import cs231n_fast
from cs231n_fast import _blas, knn, ops, reference
from cs231n_fast.ops import rnn as ops_rnn
from cs231n_fast._ext import conv as _conv, distances as _distances, rnn as _rnn

MODULES = (_conv, _distances, _rnn)
NUMPY_OPENBLAS = _blas._numpy_openblas()  # addresses, or the reason there is none


def _run(code, **env):
    full_env = {k: v for k, v in os.environ.items() if k != "CS231N_FAST_BLAS"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full_env, timeout=120)


@pytest.fixture
def restore_selection():
    yield
    _blas.select(MODULES)


def _calls(rng, dtype):
    x = rng.standard_normal((3, 4, 9, 8)).astype(dtype)
    w = rng.standard_normal((5, 4, 3, 2)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    xs = rng.standard_normal((3, 4, 6)).astype(dtype)
    h0 = rng.standard_normal((3, 300)).astype(dtype)
    Wx = (rng.standard_normal((6, 1200)) / 3).astype(dtype)
    Wh = (rng.standard_normal((300, 1200)) / 17).astype(dtype)
    bb = rng.standard_normal(1200).astype(dtype)
    q, t = rng.standard_normal((40, 16)).astype(dtype), rng.standard_normal((700, 16)).astype(dtype)

    def run(fast, **kw):
        conv, rnn = (ops, ops_rnn) if fast else (reference, reference)
        out, cache = conv.conv_forward(x, w, b, 1, 1, **kw)
        h, rcache = rnn.lstm_forward(xs, h0, Wx, Wh, bb, **kw)
        return (out, *conv.conv_backward(out, cache, **kw), h, *rnn.lstm_backward(h, rcache, **kw))

    return run, (q, t)


def test_selected_library_is_named_in_show_config():
    buf = io.StringIO()
    cs231n_fast.show_config(file=buf)
    line = [ln for ln in buf.getvalue().splitlines() if ln.startswith("gemm")]
    assert line == [f"gemm        {_blas.gemm_library()}"]
    if isinstance(NUMPY_OPENBLAS, str):
        assert _blas.gemm_library().startswith("scipy's BLAS") and NUMPY_OPENBLAS in line[0]
    else:
        assert _blas.gemm_library().startswith("numpy's OpenBLAS")


@pytest.mark.parametrize("choice", ["scipy", "auto", "numpy"])
def test_every_library_matches_the_reference(rng, dtype, choice, restore_selection):
    if choice == "numpy" and isinstance(NUMPY_OPENBLAS, str):
        with pytest.raises(ImportError, match="CS231N_FAST_BLAS=numpy"):
            _blas.select(MODULES, choice)
        return
    _blas.select(MODULES, choice)
    run, (q, t) = _calls(rng, dtype)
    got = run(True) + (knn.pairwise_distances(q, t),)
    f64 = run(False) + (reference.pairwise_distances(q.astype(np.float64), t.astype(np.float64)),)
    for i, (g, r) in enumerate(zip(got, f64)):
        assert_matches_reference(g, r, dtype, f"{choice} result {i}")


def test_each_library_is_bitwise_reproducible_across_thread_counts(rng, restore_selection):
    run, (q, t) = _calls(rng, np.float32)
    for choice in ("scipy", "auto"):
        _blas.select(MODULES, choice)
        first = run(True, n_threads=1) + (knn.pairwise_distances(q, t, n_threads=1),)
        for nt in (2, 3):
            again = run(True, n_threads=nt) + (knn.pairwise_distances(q, t, n_threads=nt),)
            for a, b in zip(first, again):
                np.testing.assert_array_equal(a, b, err_msg=f"{choice}, {nt} threads")


def test_environment_variable_chooses_at_import():
    code = "import cs231n_fast._blas as b; print(b.gemm_library())"
    r = _run(code, CS231N_FAST_BLAS="scipy")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "scipy's BLAS (cython_blas)"
    r = _run(code, CS231N_FAST_BLAS="numpy")
    if isinstance(NUMPY_OPENBLAS, str):
        assert r.returncode != 0 and "CS231N_FAST_BLAS=numpy" in r.stderr
    else:
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().startswith("numpy's OpenBLAS")


def test_unknown_choice_fails_the_import_with_the_valid_ones():
    r = _run("import cs231n_fast", CS231N_FAST_BLAS="mkl")
    assert r.returncode != 0
    assert "CS231N_FAST_BLAS must be one of auto, numpy, scipy; got 'mkl'" in r.stderr
