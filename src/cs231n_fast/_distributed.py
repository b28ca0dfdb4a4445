"""Dask back end of the searches and of kNN: trials as tasks, kNN over a row-chunked dask array.

Imported only when a ``client=`` is given or a ``dask.array`` reaches :func:`cs231n_fast.knn.kneighbors`;
``import cs231n_fast`` never imports dask.

Thread budget. A task sets the OpenMP threads of its own Python thread and the BLAS threads to
its share of the worker's: ``worker.nthreads // (tasks running on the worker)``, at least 1.
A worker started with one thread (``threads_per_worker=1``, one worker process per core)
therefore runs each task single-threaded, and a worker with 8 threads running 2 tasks gives each
4. The kernels' results do not depend on the thread count. OpenMP's limit is per Python thread;
BLAS's is per process, so tasks running at once in one worker process share the last one set
(with one thread per worker process, as recommended, nothing is shared).

Lost workers. A task whose worker dies is rerun by the scheduler on another worker, up to
``distributed.scheduler.allowed-failures`` times (Dask's default 3); after that the task fails
with ``KilledWorker`` and the search submits it again up to ``retries`` times. A trial still
lost is recorded (``on_error="record"``) with the error ``"lost: KilledWorker: ..."``.
Exceptions raised by the objective itself are caught inside the task and never retried: a
deterministic error would fail again.
"""

import contextlib
import pickle
import traceback
import uuid
import warnings

import numpy as np

from . import knn as _knn
from ._threads import _free_blas_control, blas_threads, effective_n_threads
from ._validation import check_k, check_metric, check_working_memory, pairwise_args

__all__ = ["require_distributed", "check_client", "run_on_cluster", "task_threads", "kneighbors_dask"]

#: Partial top-k lists merged per task in the tree reduction of :func:`kneighbors_dask`.
_MERGE_FAN_IN = 8


def require_distributed(what):
    """Import and return ``distributed``, or raise an ImportError saying how to install it."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError as e:
        raise ImportError(
            f"{what} needs dask.distributed, which is not installed; install it with "
            "pip install \"cs231n_fast[dask]\" (or pip install \"dask[distributed]>=2024.1\")"
        ) from e
    return distributed


def check_client(client, what):
    """``client`` as a ``dask.distributed.Client`` (ImportError without dask, TypeError for others)."""
    distributed = require_distributed(what)
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be None or a dask.distributed.Client; got {type(client).__name__}")
    return client


def check_retries(retries):
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)):
        raise TypeError(f"retries must be an int >= 0; got {retries!r}")
    if retries < 0:
        raise ValueError(f"retries must be an int >= 0; got {retries}")
    return int(retries)


# --- thread budget --------------------------------------------------------------------------------


def task_threads():
    """This task's share of its worker's threads (None outside a Dask worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    running = max(1, len(worker.state.executing))
    return max(1, int(worker.state.nthreads) // running)


@contextlib.contextmanager
def thread_budget(n):
    """Hold OpenMP (this thread's teams, so the kernels' default ``n_threads``) and BLAS to ``n``."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="openmp"):
        _free_blas_control()  # threadpoolctl >= 3.6 obeys only the first thread that limited
        blas = blas_threads(n)
        _free_blas_control()
        try:
            yield
        finally:
            _free_blas_control()
            blas.restore_original_limits()
            _free_blas_control()


# --- trials as tasks ------------------------------------------------------------------------------


def _error_record(e):
    """``(exception or None, "Type: message", traceback)``; the exception only if it pickles."""
    message = f"{type(e).__name__}: {e}"
    try:
        pickle.dumps(e)
    except Exception:  # an exception that cannot travel back: its text still does
        e = None
    return e, message, traceback.format_exc()


def _task(func, shared, args, threads):
    """Run ``func(shared, *args)`` under the thread budget; never raises an Exception."""
    try:
        with thread_budget(threads if threads is not None else task_threads()):
            return True, func(shared, *args)
    except Exception as e:
        return False, _error_record(e)


def _identity(x):
    return x


def run_on_cluster(client, func, shared, arg_list, *, retries, on_outcome, label, threads=None):
    """Run ``func(shared, *args)`` for each ``args`` in ``arg_list`` as Dask tasks.

    ``shared`` (the objective and data common to all tasks) is sent once. As each task
    finishes, ``on_outcome(i, outcome)`` is called with its position ``i`` in ``arg_list`` and
    ``("ok", value)``, ``("error", exception or None, message, traceback)`` for an exception
    raised by ``func``, or ``("lost", exception, message, "")`` for a task lost with its workers
    ``retries`` + 1 times (or failing in Dask itself). An exception from ``on_outcome`` cancels
    the tasks still pending and propagates.
    """
    from distributed import KilledWorker, as_completed

    token = uuid.uuid4().hex[:12]
    # Not client.scatter: scattered data dies with the worker holding it. A task returning
    # ``shared`` keeps it in the graph, so the scheduler rebuilds it after a worker loss.
    with warnings.catch_warnings():  # by design the objective's data travel once, in the graph
        warnings.filterwarnings("ignore", message="Sending large graph")
        shared_f = client.submit(_identity, shared, key=f"{label}-{token}-shared", pure=False)
    # A copy on every worker before the trials are placed: otherwise the scheduler, weighing
    # the transfer of ``shared``, runs most of them on the one worker that holds it.
    try:
        from distributed import wait

        wait(shared_f)
        if shared_f.status == "finished":
            client.replicate([shared_f])
    except Exception:  # only a matter of speed; a failure shows in the trials
        pass

    def submit(i, attempt):
        key = f"{label}-{token}-{i}" + (f"-retry{attempt}" if attempt else "")
        return client.submit(_task, func, shared_f, tuple(arg_list[i]), threads, key=key, pure=False)

    futures = {}
    for i in range(len(arg_list)):
        futures[submit(i, 0)] = i
    attempts = [0] * len(arg_list)
    pending = set(futures)
    try:
        ac = as_completed(list(futures))
        for fut in ac:
            i = futures[fut]
            pending.discard(fut)
            try:
                # result(), not status: a result lost with its worker is recomputed and
                # result() waits for it.
                ok, payload = fut.result()
                outcome = ("ok", payload) if ok else ("error", *payload)
            except Exception as exc:  # the task never raises: Dask lost or cancelled it
                if isinstance(exc, KilledWorker) and attempts[i] < retries:
                    attempts[i] += 1
                    nf = submit(i, attempts[i])
                    futures[nf] = i
                    pending.add(nf)
                    ac.add(nf)
                    continue
                outcome = ("lost", exc, f"lost: {type(exc).__name__}: {exc}", "")
            fut.release()
            on_outcome(i, outcome)
    finally:
        if pending:
            client.cancel(list(pending))
        shared_f.release()


# --- kNN over a dask array ------------------------------------------------------------------------


def _is_dask_array(a):
    return _knn._is_dask_array(a)


def _chunk_topk(Xq, chunk, offset, k, metric, n_threads, working_memory):
    """The best ``min(k, rows)`` of one train chunk: ``(keys, distances, global indices)``."""
    budget = task_threads() if n_threads is None else n_threads
    with thread_budget(budget):
        Xq, Xt = pairwise_args(Xq, chunk, metric, "X_query", "X_train", check_finite_values=False)
        kc = min(k, Xt.shape[0])
        d, i, keys = _knn._kneighbors(Xq, Xt, kc, metric == "l2", effective_n_threads(budget),
                                      working_memory, row_offset=offset, check_overflow=False)
    return keys, d, i + offset


def _merge_parts(k, *parts):
    """Merge partial answers into the best ``k`` by (exact value, global index)."""
    keys = np.concatenate([p[0] for p in parts], axis=1)
    d = np.concatenate([p[1] for p in parts], axis=1)
    i = np.concatenate([p[2] for p in parts], axis=1)
    order = np.lexsort((i, keys), axis=-1)[:, :k]
    return (np.take_along_axis(keys, order, 1), np.take_along_axis(d, order, 1),
            np.take_along_axis(i, order, 1))


def _local_scheduler_threads(n_parts):
    """Threads per chunk task when dask's local scheduler runs the graph (None on a cluster,
    where each task takes its share of its worker's threads)."""
    import dask
    import dask.local

    scheduler = dask.base.get_scheduler()
    if type(getattr(scheduler, "__self__", None)).__name__ == "Client":
        return None
    total = effective_n_threads()
    if scheduler is dask.local.get_sync:
        return total
    return max(1, total // max(1, min(n_parts, total)))  # tasks run side by side


def kneighbors_dask(X_query, X_train, k, metric="l2", *, n_threads=None, working_memory=None):
    """:func:`cs231n_fast.knn.kneighbors` for a ``dask.array`` training set chunked by rows.

    Every chunk's top-k runs where the chunk is (on the cluster of the current
    ``dask.distributed`` client, or dask's default scheduler without one); the query set is one
    shared input of the graph, so each worker receives it once; the partial answers are merged
    in a tree by (exact double distance, global index), which gives exactly the answer of the
    NumPy call on the same data. Memory per task: its chunk, the queries and the kernel's
    ``working_memory``.
    """
    import dask

    metric = check_metric(metric)
    if _is_dask_array(X_query):
        X_query = X_query.compute()
    if not _is_dask_array(X_train):
        return _knn.kneighbors(X_query, X_train, k, metric, n_threads=n_threads, working_memory=working_memory)
    if X_train.ndim != 2:
        raise ValueError(f"X_train must be 2-D (n_samples, n_features); got shape {X_train.shape}")
    if any(np.isnan(c) for c in X_train.chunks[0]):
        raise ValueError(
            "X_train has unknown chunk sizes (NaN in X_train.chunks); call X_train.compute_chunk_sizes() first"
        )
    m, d = X_train.shape
    if m == 0 or d == 0:
        raise ValueError(f"X_train must be non-empty (n_samples, n_features); got shape {X_train.shape}")
    # The query checked and cast on the client; X_train's dtype through a one-row stand-in.
    Xq, _ = pairwise_args(X_query, np.zeros((1, d), dtype=X_train.dtype), metric, "X_query", "X_train",
                          check_finite_values=False)
    k = check_k(k, m)
    wm = check_working_memory(working_memory, _knn.DEFAULT_WORKING_MEMORY)
    effective_n_threads(n_threads)
    _knn._norms("X_query", Xq, 1, metric == "l2")  # NaN/Inf in the queries: the local message
    if X_train.numblocks[1] != 1:
        X_train = X_train.rechunk({1: -1})

    n_parts = sum(1 for c in X_train.chunks[0] if c > 0)
    if n_threads is None:
        n_threads = _local_scheduler_threads(n_parts)

    xq = dask.delayed(Xq, pure=True, name=f"cs231n-knn-query-{dask.base.tokenize(Xq)}")
    topk = dask.delayed(_chunk_topk, pure=True)
    merge = dask.delayed(_merge_parts, pure=True)
    offsets = np.concatenate([[0], np.cumsum(X_train.chunks[0])]).astype(np.int64)
    parts = [
        topk(xq, block, int(offsets[j]), k, metric, n_threads, wm)
        for j, block in enumerate(X_train.to_delayed().ravel())
        if X_train.chunks[0][j] > 0
    ]
    while len(parts) > 1:
        parts = [merge(k, *parts[j : j + _MERGE_FAN_IN]) for j in range(0, len(parts), _MERGE_FAN_IN)]
    (_, out_d, out_i), = dask.compute(parts[0])
    if metric == "l2" and out_d.dtype == np.float64 and np.isinf(out_d[:, -1]).any():
        row = int(np.flatnonzero(np.isinf(out_d[:, -1]))[0])
        raise ValueError(
            "X_query and X_train have values too large for squared distances in float64 (the "
            f"squared distance between X_query row {row} and its k-th nearest X_train row "
            "overflows); rescale the data"
        )
    return np.ascontiguousarray(out_d), np.ascontiguousarray(out_i)
