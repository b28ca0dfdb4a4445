"""The Dask back end: searches with ``client=`` and kNN over a row-chunked ``dask.array``.

One ``LocalCluster`` of 2 worker processes with 1 thread each serves the module. Every
distributed result is compared, exactly, with the same call run locally (the kernels give the
same bits for any thread count, and the workers run single-threaded while the local calls use
every core). Objectives defined here are pickled by value, so the workers need not import this
file.
"""

import logging
import os
import sys
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
import cloudpickle  # noqa: E402  (a dependency of distributed)
import dask  # noqa: E402

from cs231n_fast import knn  # noqa: E402
from cs231n_fast._threads import effective_n_threads  # noqa: E402
from cs231n_fast.classifiers import KNearestNeighbor, cross_validate_k  # noqa: E402
from cs231n_fast.model_selection import (  # noqa: E402
    LogUniform,
    cross_val_score,
    grid_search,
    random_search,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    # No rerun by the scheduler of a task whose worker died (Dask's default is 3): it fails at
    # once with KilledWorker, so the searches' own resubmission (retries=) is what the killed-
    # worker tests exercise, and they need few worker restarts.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _ready(client, timeout=60):
    """The client once both workers are up (a killed worker is restarted by its nanny)."""
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the LocalCluster did not get its 2 workers back")
        time.sleep(0.1)
    return client


def _same_rows(a, b):
    """Rows equal, NaN scores equal to NaN."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        ra, rb = dict(ra), dict(rb)
        sa, sb = ra.pop("score"), rb.pop("score")
        assert (np.isnan(sa) and np.isnan(sb)) or sa == sb
        assert ra == rb


# --- data and objectives ---------------------------------------------------------------------------

_rng = np.random.default_rng(1234)
_X = _rng.standard_normal((240, 12)).astype(np.float32)
_y = (_X[:, 0] + 0.5 * _X[:, 1] > 0).astype(np.int64) + (_X[:, 2] > 1)


def _knn_accuracy(params):
    """A deterministic trial on the package's kernels: kNN accuracy on a seeded split plus a
    seeded noise term (the trial's own randomness, seeded from its params)."""
    rng = np.random.default_rng(params.get("seed", 0))
    order = rng.permutation(len(_X))
    tr, va = order[:180], order[180:]
    scale = np.float32(params.get("scale", 1.0))
    _, idx = knn.kneighbors(_X[va] * scale, _X[tr] * scale, params["k"], params.get("metric", "l2"))
    votes = np.array([np.bincount(_y[tr][row], minlength=3).argmax() for row in idx])
    acc = float(np.mean(votes == _y[va]))
    return {"score": acc + 1e-3 * rng.standard_normal(), "acc": acc}


def _sometimes_fails(params):
    if params["k"] == 3:
        raise ValueError(f"k = {params['k']} is unlucky")
    return _knn_accuracy(params)


def _split_accuracy(X_train, y_train, X_val, y_val):
    _, idx = knn.kneighbors(X_val, X_train, 5)
    votes = np.array([np.bincount(y_train[row], minlength=3).argmax() for row in idx])
    return float(np.mean(votes == y_val))


# --- searches --------------------------------------------------------------------------------------


def test_grid_search_distributed_equals_local(client):
    space = {"k": [1, 3, 5, 9], "metric": ["l2", "l1"], "seed": [0, 1]}
    local = grid_search(_knn_accuracy, space)
    dist = grid_search(_knn_accuracy, space, client=_ready(client))
    assert dist.rows == local.rows
    assert str(dist) == str(local)


def test_random_search_distributed_equals_local(client):
    space = {"k": [1, 2, 3, 5, 7], "scale": LogUniform(1e-2, 1e2), "seed": [0, 1, 2]}
    local = random_search(_knn_accuracy, space, 12, seed=7)
    dist = random_search(_knn_accuracy, space, 12, seed=7, client=_ready(client))
    assert dist.rows == local.rows
    other = random_search(_knn_accuracy, space, 12, seed=8, client=client)
    assert [r["params"] for r in other.rows] != [r["params"] for r in dist.rows]


def test_search_progress_reports_each_trial(client, capsys):
    calls = []
    space = {"k": [1, 3, 5], "seed": [0, 1]}
    res = grid_search(_knn_accuracy, space, client=_ready(client),
                      progress=lambda done, total, row: calls.append((done, total, row)))
    assert [c[0] for c in calls] == list(range(1, 7)) and {c[1] for c in calls} == {6}
    assert sorted(map(repr, (c[2] for c in calls))) == sorted(map(repr, res.rows))
    grid_search(_knn_accuracy, space, client=client, progress=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and lines[-1].startswith("[6/6] score=")


def test_failed_trial_recorded_distributed_and_local(client):
    space = {"k": [1, 3, 5]}
    with pytest.raises(ValueError, match="unlucky"):  # local default: raise, as before
        grid_search(_sometimes_fails, space)
    local = grid_search(_sometimes_fails, space, on_error="record")
    dist = grid_search(_sometimes_fails, space, client=_ready(client))  # default: record
    _same_rows(dist.rows, local.rows)
    failed = dist.rows[-1]  # NaN sorts last
    assert failed["params"] == {"k": 3} and np.isnan(failed["score"])
    assert failed["error"] == "ValueError: k = 3 is unlucky"
    assert "error" in str(dist).splitlines()[0]
    with pytest.raises(ValueError, match="unlucky"):
        grid_search(_sometimes_fails, space, client=client, on_error="raise")


def test_thread_budget_per_worker(client):
    def threads(params):
        from threadpoolctl import threadpool_info

        blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        return {"score": 0.0, "omp": effective_n_threads(), "blas": max(blas, default=1)}

    res = grid_search(threads, {"i": [0, 1, 2, 3]}, client=_ready(client))
    assert {r["omp"] for r in res} == {1} and {r["blas"] for r in res} == {1}


def _killer(marker):
    def fit_score(params):
        if params["k"] == 5 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies mid-trial, once
        return _knn_accuracy(params)

    return fit_score


def test_worker_killed_mid_search_trial_rerun(client, tmp_path):
    # The killed trial, and any trial queued on the same worker, come back as KilledWorker
    # and are submitted again (retries=2 by default).
    space = {"k": [1, 3, 5, 7], "seed": [0, 1]}
    local = grid_search(_knn_accuracy, space)
    dist = grid_search(_killer(str(tmp_path / "died")), space, client=_ready(client))
    assert (tmp_path / "died").exists()  # a worker did die
    assert [r.get("error") for r in dist.rows] == [None] * 8
    assert dist.rows == local.rows


def test_trial_lost_for_good_is_reported(client):
    def always_dies(params):
        if params["k"] == 5:
            os._exit(1)
        return _knn_accuracy(params)

    # allowed-failures = 0: one worker death per submission; retries=1: one resubmission.
    # (The trial runs alone: a trial queued on the dying worker is lost with it too, and is
    # resubmitted; alone, the death count is certain.)
    seen = []
    res = grid_search(always_dies, {"k": [5]}, client=_ready(client), retries=1,
                      progress=lambda done, total, row: seen.append(row))
    [row] = res.rows
    assert seen == [row]
    assert row["params"] == {"k": 5} and np.isnan(row["score"])
    assert row["error"].startswith("lost: KilledWorker")
    # The cluster is whole again and searches as before.
    assert grid_search(_knn_accuracy, {"k": [1, 3]}, client=_ready(client)).rows == \
        grid_search(_knn_accuracy, {"k": [1, 3]}).rows


def test_cross_val_score_distributed_equals_local(client):
    local = cross_val_score(_split_accuracy, _X, _y, k=4, seed=3)
    dist = cross_val_score(_split_accuracy, _X, _y, k=4, seed=3, client=_ready(client))
    assert dist == local

    def bad(*args):
        raise ArithmeticError("fold went wrong")

    with pytest.raises(ArithmeticError, match="fold went wrong"):
        cross_val_score(bad, _X, _y, k=3, client=client)


def test_cross_validate_k_distributed_equals_local(client):
    local = cross_validate_k(_X, _y, [1, 3, 5, 8, 3], num_folds=5)
    dist = cross_validate_k(_X, _y, [1, 3, 5, 8, 3], num_folds=5, client=_ready(client))
    assert dist == local and list(dist) == [1, 3, 5, 8]


def test_bad_client_and_options():
    with pytest.raises(TypeError, match="client must be None or a dask.distributed.Client"):
        grid_search(_knn_accuracy, {"k": [1]}, client="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="on_error"):
        grid_search(_knn_accuracy, {"k": [1]}, on_error="ignore")
    with pytest.raises(TypeError, match="progress"):
        grid_search(_knn_accuracy, {"k": [1]}, progress="yes")


def test_bad_retries(client):
    with pytest.raises(ValueError, match="retries must be an int >= 0; got -1"):
        grid_search(_knn_accuracy, {"k": [1]}, client=client, retries=-1)
    with pytest.raises(TypeError, match="retries"):
        random_search(_knn_accuracy, {"k": [1]}, 1, client=client, retries=1.5)


@pytest.mark.parametrize("call", ["grid", "random", "cv", "cvk"])
def test_missing_dask_clear_error(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "distributed", None)  # its import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install \"cs231n_fast\[dask\]\""):
        if call == "grid":
            grid_search(_knn_accuracy, {"k": [1]}, client=object())
        elif call == "random":
            random_search(_knn_accuracy, {"k": [1]}, 2, seed=0, client=object())
        elif call == "cv":
            cross_val_score(_split_accuracy, _X, _y, k=3, client=object())
        else:
            cross_validate_k(_X, _y, [1], num_folds=3, client=object())


# --- kNN over a dask array -------------------------------------------------------------------------


def _knn_data(n_train, n_query, d, dtype, ties, seed):
    rng = np.random.default_rng(seed)
    if ties:  # small integers and duplicated rows: many equal distances
        Xt = rng.integers(0, 3, size=(n_train, d)).astype(dtype)
        Xt[n_train // 2 :: 7] = Xt[1]
        Xq = rng.integers(0, 3, size=(n_query, d)).astype(dtype)
    else:
        Xt = rng.standard_normal((n_train, d)).astype(dtype)
        Xq = rng.standard_normal((n_query, d)).astype(dtype)
    return Xq, Xt


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("metric", ["l2", "l1"])
@pytest.mark.parametrize(
    "chunks, k, ties",
    [
        ((400,), 7, False),                 # one chunk
        ((100, 37, 200, 1, 62), 5, False),  # uneven chunks, one of a single row
        ((100, 37, 200, 1, 62), 5, True),   # ties broken by global index
        ((9,) * 11 + (4,), 25, True),       # k larger than every chunk, 12 partial lists
        ((150, 250), 400, False),           # k = all rows
    ],
    ids=["one-chunk", "uneven", "ties", "k>chunk", "k=n"],
)
def test_kneighbors_dask_equals_local(client, dtype, metric, chunks, k, ties):
    _ready(client)
    Xq, Xt = _knn_data(sum(chunks), 23, 6, dtype, ties, seed=len(chunks) + k)
    d0, i0 = knn.kneighbors(Xq, Xt, k, metric)
    d1, i1 = knn.kneighbors(Xq, da.from_array(Xt, chunks=(chunks, 6)), k, metric)
    assert isinstance(d1, np.ndarray) and isinstance(i1, np.ndarray)
    assert d1.dtype == d0.dtype == dtype and i1.dtype == np.int64
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_array_equal(d1, d0)


def test_kneighbors_dask_mixed_dtypes_column_chunks_and_threaded_scheduler(client):
    Xq, Xt = _knn_data(300, 17, 10, np.float64, False, seed=5)
    Xq32 = Xq.astype(np.float32)
    d0, i0 = knn.kneighbors(Xq32, Xt, 6)
    dt = da.from_array(Xt, chunks=(70, 4))  # chunked along the features too: rechunked by rows
    d1, i1 = knn.kneighbors(Xq32, dt, 6)
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_array_equal(d1, d0)
    assert d1.dtype == np.float64
    with dask.config.set(scheduler="threads"):  # no cluster: dask's local scheduler
        d2, i2 = knn.kneighbors(da.from_array(Xq32, chunks=5), dt, 6)
    np.testing.assert_array_equal(i2, i0)
    np.testing.assert_array_equal(d2, d0)


def test_kneighbors_dask_errors_match_local(client):
    Xq, Xt = _knn_data(120, 5, 4, np.float64, False, seed=9)
    Xt[77, 2] = np.nan
    with pytest.raises(ValueError) as local:
        knn.kneighbors(Xq, Xt, 3)
    with pytest.raises(ValueError) as dist:
        knn.kneighbors(Xq, da.from_array(Xt, chunks=30), 3)
    assert str(dist.value) == str(local.value) and "row 77" in str(dist.value)
    with pytest.raises(ValueError, match="k must be <="):
        knn.kneighbors(Xq, da.from_array(Xt, chunks=30), 121)
    with pytest.raises(ValueError, match="same number of features"):
        knn.kneighbors(Xq[:, :3], da.from_array(Xt, chunks=30), 3)
    with pytest.raises(TypeError):
        knn.kneighbors(Xq, da.from_array(Xt.astype(np.complex128), chunks=30), 3)
    unknown = da.from_array(Xt, chunks=30)
    unknown = unknown[unknown[:, 0] > -10]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        knn.kneighbors(Xq, unknown, 3)


def test_knn_classifier_with_dask_train(client):
    _ready(client)
    local = KNearestNeighbor()
    local.train(_X[:180], _y[:180])
    dist = KNearestNeighbor()
    dist.train(da.from_array(_X[:180], chunks=50), _y[:180])
    for k in (1, 4, 9):
        np.testing.assert_array_equal(dist.predict(_X[180:], k=k), local.predict(_X[180:], k=k))
    with pytest.raises(TypeError, match="dask array"):
        dist.compute_distances_no_loops(_X[180:])
    with pytest.raises(TypeError, match="dask array"):
        dist.predict(_X[180:], k=1, num_loops=2)


def test_package_does_not_import_dask():
    import subprocess

    code = ("import sys, cs231n_fast, cs231n_fast.knn, cs231n_fast.model_selection, "
            "cs231n_fast.classifiers; import numpy as np; "
            "cs231n_fast.knn.kneighbors(np.ones((2, 3)), np.ones((4, 3)), 2); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
