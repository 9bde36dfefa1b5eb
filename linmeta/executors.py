"""Where the points of a sweep run: any :class:`concurrent.futures.Executor`.

:func:`linmeta.sweep.run_sweep` only submits calls and waits on their futures, so any standard
executor serves: a :class:`~concurrent.futures.ProcessPoolExecutor`, a Dask client's
``Client.get_executor()``, or the two built here for ``linmeta sweep --executor``:

- :class:`LocalExecutor` (``local``): processes on this machine, spawned with one BLAS thread
  each and ignoring Ctrl-C (the parent handles it and terminates them at once); with one job
  the calls run in this process, one at a time.
- :class:`DaskExecutor` (``dask``): a Dask distributed cluster, one task per point; a local
  cluster of one-thread workers, or a running scheduler. The calls always run in the workers,
  never in this process (``in_process=True`` is refused). Dask is an optional extra
  (``pip install 'linmeta[dask]'``), imported only when this executor is built.

Nothing is lost when a worker dies or a sweep is stopped: a point counts as finished only once
its ``config.json`` is on disk (written last, atomically), and the Dask scheduler re-runs the
tasks of a lost worker on the others (up to ``distributed.scheduler.allowed-failures`` times).
A point half-written by a lost worker is simply written again. The sweep directory must be on
a file system every worker can reach. Results are bit for bit those of one process: the same
function runs on the same config with one BLAS thread. On a cluster you start yourself, set
``OMP_NUM_THREADS=1`` (and its OpenBLAS/MKL twins) on the workers for the same guarantee.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Callable

from .backend import single_blas_thread, tune_allocator


class ExecutorError(ValueError):
    """An executor that cannot be built: unknown options, Dask missing or unreachable."""


class DaskUnavailable(ExecutorError):
    """Dask is not installed, or the scheduler cannot be reached."""


def _worker_init():
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    tune_allocator()  # a worker is a fresh process (spawn): see backend.tune_allocator


class LocalExecutor(cf.Executor):
    """Processes on this machine (``jobs`` of them, default: the CPUs; 1 runs each call in
    this process when it is submitted).

    Workers are spawned with one BLAS thread each, so ``jobs`` processes use ``jobs`` cores.
    ``in_process=False`` with one job still runs the calls in a worker process, so that the
    caller stays free (to show progress) while a call runs.
    ``shutdown(cancel_futures=True)`` terminates the workers at once (work in progress is
    lost, which is safe: see the module docstring).
    """

    def __init__(self, jobs: int | None = None, in_process: bool | None = None):
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self._in_process = in_process  # as asked (None: decided by the number of jobs)
        self.in_process = self.jobs == 1 if in_process is None else bool(in_process)
        if self.in_process and self.jobs > 1:
            raise ExecutorError("in_process runs one call at a time: it needs jobs = 1")
        self._pool = None

    @property
    def workers(self) -> int:
        """How many calls run at once."""
        return self.jobs

    def for_items(self, n: int) -> LocalExecutor:
        """An executor of at most ``n`` processes (no idle workers for a short sweep)."""
        return self if n >= self.jobs else LocalExecutor(max(1, n), self._in_process)

    def submit(self, fn: Callable, /, *args, **kwargs) -> cf.Future:
        future = cf.Future()
        if self.in_process:
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as err:  # KeyboardInterrupt and SystemExit propagate at once
                future.set_exception(err)
            return future
        if self._pool is None:
            import multiprocessing as mp

            with single_blas_thread():  # inherited by the spawned workers
                self._pool = mp.get_context("spawn").Pool(self.jobs, _worker_init)
        future.set_running_or_notify_cancel()
        self._pool.apply_async(fn, args, kwargs, callback=future.set_result,
                               error_callback=future.set_exception)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel_futures:
            pool.terminate()
        else:
            pool.close()
        if wait or cancel_futures:
            pool.join()


class DaskExecutor(cf.Executor):
    """Submit every call as a Dask task (through ``Client.get_executor``).

    Parameters
    ----------
    jobs : workers of the local cluster started when no scheduler is given (default: CPUs).
    scheduler : address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    connect_timeout : how long to try to reach it.

    Every call runs in a worker process, never in this one, so unlike :class:`LocalExecutor`
    there is no ``in_process`` (the ``dask`` entry of :data:`EXECUTORS` refuses
    ``in_process=True``). ``client`` is the Dask client; ``shutdown`` closes it (and the local
    cluster).
    """

    def __init__(self, jobs: int | None = None, scheduler: str | None = None,
                 connect_timeout: str = "10s"):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise DaskUnavailable(
                "the dask executor needs dask.distributed: pip install 'linmeta[dask]'"
            ) from None
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=connect_timeout)
            except (OSError, ValueError, TypeError) as err:  # unreachable, or not an address
                raise DaskUnavailable(f"cannot reach the Dask scheduler {scheduler}: {err}") \
                    from None
        else:
            with single_blas_thread():
                self.cluster = LocalCluster(n_workers=max(1, jobs or os.cpu_count() or 1),
                                            threads_per_worker=1, processes=True,
                                            dashboard_address=None)
            self.client = Client(self.cluster)
        self.client.run(tune_allocator)  # each worker process keeps its freed heap (see there)
        # pure=False: every call is its own task (a re-submitted point runs again). The client
        # holds a finished task only as long as its future is referenced, so a result already
        # consumed is not recomputed when the worker that holds it dies.
        self._executor = self.client.get_executor(pure=False)

    @property
    def workers(self) -> int:
        """How many calls run at once: the cluster's threads."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable, /, *args, **kwargs) -> cf.Future:
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait and not cancel_futures)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _local(jobs: int | None = None, scheduler: str | None = None,
           in_process: bool | None = None) -> cf.Executor:
    if scheduler:
        raise ExecutorError("--scheduler needs --executor dask")
    return LocalExecutor(jobs, in_process)


def _dask(jobs: int | None = None, scheduler: str | None = None,
          in_process: bool | None = None) -> cf.Executor:
    if in_process:
        raise ExecutorError("the dask executor runs every call in its workers: in_process "
                            "needs the local executor")
    return DaskExecutor(jobs, scheduler)


#: ``linmeta sweep --executor NAME``: ``factory(jobs, scheduler, in_process=None) -> Executor``.
#: ``in_process`` asks for the calls to run in this process (True) or in workers (False); None
#: leaves it to the executor. ``dask`` always runs them in its workers and refuses True.
EXECUTORS: dict[str, Callable[..., cf.Executor]] = {"local": _local, "dask": _dask}
