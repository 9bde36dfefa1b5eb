"""Run sweep points on a Dask distributed cluster (``linmeta sweep --executor dask``).

Dask is an optional extra (``pip install 'linmeta[dask]'``) and is imported only here, only
when this executor is chosen. Each point is one Dask task that runs
:func:`linmeta.sweep.run_point`, which writes the point's result directory itself; so the
sweep directory must be on a file system every worker can reach (any machine for a
``LocalCluster``, a shared disk for a real cluster).

Why nothing is lost when a worker dies: a point counts as finished only once its
``config.json`` is on disk (written last, atomically), and the scheduler re-runs the tasks
of a lost worker on the others (up to ``distributed.scheduler.allowed-failures`` times). A
point that was half-written by the lost worker is simply written again.

Results are bit for bit those of the local executor: the same function runs on the same
config, and workers of a cluster this executor starts run one BLAS thread each, as local
workers do. On a cluster you start yourself, set ``OMP_NUM_THREADS=1`` (and its OpenBLAS/MKL
twins) on the workers for the same guarantee.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from .backend import single_blas_thread, tune_allocator


class DaskUnavailable(ValueError):
    """Dask is not installed, or the scheduler cannot be reached."""


class DaskExecutor:
    """Submit every item as a Dask task and yield results as they complete.

    Parameters
    ----------
    jobs : workers of the local cluster started when no scheduler is given (default: CPUs).
    scheduler : address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    connect_timeout : how long to try to reach it.
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
        self.futures = []
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

    def imap_unordered(self, fn: Callable, items: list) -> Iterator:
        from distributed import as_completed

        try:
            if items:
                self.futures = self.client.map(fn, items, pure=False)
                pending = as_completed(self.futures)
                for future in pending:
                    result = future.result()
                    # Release the finished task: a result the client still references is
                    # recomputed when the worker holding it dies.
                    self.futures.remove(future)
                    future.release()
                    del future
                    yield result
        finally:
            self.close()

    def abort(self) -> None:
        if self.futures:
            self.client.cancel(self.futures)
        self.close()

    def close(self) -> None:
        self.futures = []
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
