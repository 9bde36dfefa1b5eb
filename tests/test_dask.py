"""Sweeps on a Dask cluster: identical to local execution, and nothing lost with a worker."""

import os
import signal

import pytest

from linmeta.backend import single_blas_thread
from linmeta.executors import DaskExecutor, DaskUnavailable, LocalExecutor
from linmeta.sweep import (
    expand,
    parse_grid,
    parse_seeds,
    point_dir,
    read_summary,
    run_sweep,
)

distributed = pytest.importorskip("distributed")  # the executor imports it only when built

BASE = dict(d=10, k=2, mode="finite", n_tasks=12, m_in=6, m_out=6, steps=40, trials=2,
            n_test_tasks=3, methods=["fo_anil", "maml"], alpha=0.2, beta=0.3, sigma=0.1)


def points(grid=("n_tasks=6,12",), seeds="0-1"):
    return expand(BASE, parse_grid(list(grid)), parse_seeds(seeds))


def metrics_bytes(out, pts):
    return {p.name: (point_dir(out, p) / "metrics.csv").read_bytes() for p in pts}


@pytest.fixture(scope="module")
def cluster():
    with single_blas_thread():
        c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None)
    with c:
        yield c


def test_dask_sweep_equals_local_bit_for_bit(tmp_path, cluster):
    pts = points()
    local = run_sweep(pts, tmp_path / "local", LocalExecutor(jobs=2))
    dask = run_sweep(pts, tmp_path / "dask", DaskExecutor(scheduler=cluster.scheduler_address))
    assert sorted(local.computed) == sorted(dask.computed) == sorted(p.name for p in pts)
    assert metrics_bytes(tmp_path / "local", pts) == metrics_bytes(tmp_path / "dask", pts)
    assert read_summary(tmp_path / "local") == read_summary(tmp_path / "dask")


def test_a_killed_worker_loses_no_point(tmp_path, cluster):
    pts = points(grid=("n_tasks=6,12,18",), seeds="0-1")
    reference = tmp_path / "reference"
    run_sweep(pts, reference, LocalExecutor(jobs=2))
    out = tmp_path / "killed"
    executor = DaskExecutor(scheduler=cluster.scheduler_address)
    killed, first_done = [], {}

    def kill_one_worker(name, seconds):
        if killed:
            return
        first_done[name] = os.stat(point_dir(out, next(p for p in pts if p.name == name))
                                   / "config.json").st_mtime_ns
        pids = executor.client.run(os.getpid)  # worker address -> pid
        victim = sorted(pids)[0]
        os.kill(pids[victim], signal.SIGKILL)  # the nanny restarts it; its task is re-run
        killed.append(victim)

    report = run_sweep(pts, out, executor, progress=kill_one_worker)
    assert killed
    assert sorted(report.computed) == sorted(p.name for p in pts)  # each point reported once
    assert metrics_bytes(out, pts) == metrics_bytes(reference, pts)
    assert read_summary(out) == read_summary(reference)
    (name, mtime), = first_done.items()
    done = next(p for p in pts if p.name == name)
    assert os.stat(point_dir(out, done) / "config.json").st_mtime_ns == mtime  # not recomputed


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(DaskUnavailable, match="cannot reach the Dask scheduler"):
        DaskExecutor(scheduler="tcp://127.0.0.1:9", connect_timeout="1s")
