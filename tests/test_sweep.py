"""`linmeta sweep`: grid expansion, resumption after an interruption, the summary table."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from linmeta.cli import cli
from linmeta.executors import EXECUTORS, ExecutorError, LocalExecutor
from linmeta.experiment import Config, ConfigError
from linmeta.results import is_complete, read_config
from linmeta.sweep import (
    SweepError,
    expand,
    finished,
    parse_grid,
    parse_seeds,
    point_dir,
    read_summary,
    run_sweep,
)

BASE = dict(d=8, k=2, mode="finite", n_tasks=10, m_in=5, m_out=5, steps=20, trials=2,
            n_test_tasks=3, methods=["fo_anil", "mom"], alpha=0.2, beta=0.3, sigma=0.1)


def test_grid_expansion_names_linked_fields_and_seeds():
    points = expand(BASE, parse_grid(["n_tasks=4,8", "m_in+m_out=3,6"]), parse_seeds("1-2"))
    assert len(points) == 2 * 2 * 2
    names = [p.name for p in points]
    assert len(set(names)) == 8 and "n_tasks=8__m_in-m_out=3__seed=2" in names
    p = next(p for p in points if p.name == "n_tasks=8__m_in-m_out=3__seed=2")
    assert (p.config.n_tasks, p.config.m_in, p.config.m_out, p.config.seed) == (8, 3, 3, 2)
    assert p.config.steps == 20 and p.config.methods == ("fo_anil", "mom")
    assert parse_seeds("0,3,7") == [0, 3, 7] and parse_seeds("5") == [5]
    assert parse_grid(["alpha=0.1,1", "reduce=false"]) == {"alpha": [0.1, 1], "reduce": [False]}


def test_bad_grids_are_rejected():
    with pytest.raises(ConfigError, match="unknown config field"):
        expand(BASE, {"n_task": [1]})
    with pytest.raises(ConfigError):
        expand(BASE, {"n_tasks": [0]})
    with pytest.raises(SweepError):
        parse_grid(["n_tasks"])
    with pytest.raises(SweepError):
        parse_seeds("9-3")


def mtimes(out, points):
    return {p.name: os.stat(point_dir(out, p) / "metrics.csv").st_mtime_ns
            for p in points if is_complete(point_dir(out, p))}


def test_interrupted_sweep_resumes_without_recomputing_and_gives_the_same_summary(tmp_path):
    points = expand(BASE, parse_grid(["n_tasks=4,8,12"]), [0, 1])
    serial = LocalExecutor(1)

    class Stop(KeyboardInterrupt):
        pass

    def stop_after_two(name, seconds, seen=[]):  # noqa: B006
        seen.append(name)
        if len(seen) == 2:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(points, tmp_path / "a", serial, progress=stop_after_two)
    done = [p for p in points if is_complete(point_dir(tmp_path / "a", p))]
    assert len(done) == 2
    partial = read_summary(tmp_path / "a")  # written on interruption, for what had finished
    assert {r["point"] for r in partial} == {p.name for p in done}
    before = mtimes(tmp_path / "a", points)

    report = run_sweep(points, tmp_path / "a", serial)
    assert sorted(report.skipped) == sorted(p.name for p in done)
    assert sorted(report.computed) == sorted(p.name for p in points if p not in done)
    after = mtimes(tmp_path / "a", points)
    assert all(after[name] == t for name, t in before.items())  # not rewritten
    assert len(after) == len(points)

    run_sweep(points, tmp_path / "b", serial)
    a, b = (tmp_path / x / "summary.csv" for x in "ab")
    assert a.read_text() == b.read_text()
    assert len(read_summary(tmp_path / "a")) == len(points) * 2  # two methods per point


def test_finished_point_of_another_config_is_an_error(tmp_path):
    (p,) = expand(BASE, {"n_tasks": [4]})
    run_sweep([p], tmp_path, LocalExecutor(1))
    assert finished(tmp_path, p)
    (q,) = expand({**BASE, "steps": 21}, {"n_tasks": [4]})
    assert q.name == p.name
    with pytest.raises(SweepError, match="different config"):
        finished(tmp_path, q)


def test_unfinished_point_is_recomputed_and_stale_temporaries_removed(tmp_path):
    (p,) = expand(BASE, {"n_tasks": [4]})
    d = point_dir(tmp_path, p)
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("half a file")
    (d / ".arrays.npz.x1.tmp").write_text("debris of a killed worker")
    report = run_sweep([p], tmp_path, LocalExecutor(1))
    assert report.computed == [p.name]
    assert is_complete(d) and not list(d.glob(".*.tmp"))
    assert read_config(d)["config"] == json.loads(json.dumps(p.config.to_dict()))


def test_sweep_file_and_command_line(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('seeds = [0, 1]\n[base]\nd = 8\nk = 2\nsteps = 5\ntrials = 2\n'
                    'n_test_tasks = 0\nmethods = ["fo_anil", "altmin"]\n'
                    '[grid]\nn_tasks = [4, 6]\n')
    out = tmp_path / "sw"
    r = CliRunner().invoke(cli, ["sweep", "--sweep", str(spec), "--set", "alpha=0.3",
                                 "--out", str(out), "--jobs", "1"])
    assert r.exit_code == 0, r.output
    assert "4 computed, 0 skipped" in r.output
    rows = read_summary(out)
    assert len(rows) == 8 and {r["method"] for r in rows} == {"fo_anil", "altmin"}
    cfg = Config.from_dict(read_config(point_dir(out, expand(
        {"d": 8, "k": 2, "steps": 5, "trials": 2, "n_test_tasks": 0, "alpha": 0.3,
         "methods": ["fo_anil", "altmin"]}, {"n_tasks": [6]}, [1])[0]))["config"])
    assert (cfg.alpha, cfg.n_tasks, cfg.seed) == (0.3, 6, 1)
    again = CliRunner().invoke(cli, ["sweep", "--sweep", str(spec), "--set", "alpha=0.3",
                                     "--out", str(out), "--jobs", "1"])
    assert "0 computed, 4 skipped" in again.output


@pytest.mark.parametrize("args", [
    ["--grid", "n_tasks"],
    ["--grid", "bogus=1,2"],
    ["--grid", "n_tasks=0"],
    ["--seeds", "x"],
    [],
    ["--sweep", "missing.toml"],
])
def test_bad_sweep_input_is_one_line_and_exit_2(args, tmp_path):
    r = CliRunner().invoke(cli, ["sweep", "--out", str(tmp_path / "o"), *args])
    assert r.exit_code == 2
    assert r.output.strip().startswith("Error:") and len(r.output.strip().splitlines()) == 1


SLOW = ["--set", "d=20", "--set", "k=3", "--set", "mode=finite", "--set", "n_tasks=50",
        "--set", "trials=2", "--set", "n_test_tasks=0",
        "--set", "methods=fo_anil", "--set", "alpha=0.1", "--set", "beta=0.2",
        "--set", "sigma=0.1", "--grid", "m_in+m_out=8,9,10,11,12,13,14,15"]


def sweep_process(out, steps):
    cmd = [sys.executable, "-c", "from linmeta.cli import main; main()", "sweep", *SLOW,
           "--set", f"steps={steps}", "--out", str(out), "--jobs", "2"]
    # the default SIGINT action even when this test runs in a background job (which ignores it)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_ctrl_c_on_a_parallel_sweep_loses_nothing_finished(tmp_path):
    """Ctrl-C once two points are done (polled for, however long the workers take to start):
    nothing finished is lost and a rerun computes the rest. A machine fast enough to finish
    the whole sweep before the signal lands repeats it with 4× the steps."""
    out = tmp_path / "sw"
    points = lambda: sorted(p.parent.name for p in (out / "points").glob("*/config.json"))  # noqa: E731
    for steps in (120, 480, 1920):
        shutil.rmtree(out, ignore_errors=True)
        proc = sweep_process(out, steps)
        deadline = time.monotonic() + 600  # a hang guard: a loaded machine starts workers slowly
        while len(points()) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=600)  # a hang guard, not a timing
        if proc.returncode == 130 and len(points()) < 8:
            break
        assert proc.returncode in (0, 130), err  # finished before the signal: more steps
    else:
        pytest.fail("the sweep always finished before it could be interrupted")
    done = points()
    assert 2 <= len(done) < 8, "the sweep must have been stopped part-way"
    assert all(is_complete(out / "points" / name) for name in done)
    stamps = {n: os.stat(out / "points" / n / "metrics.csv").st_mtime_ns for n in done}

    resumed = sweep_process(out, steps)
    stdout, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert f"{8 - len(done)} computed, {len(done)} skipped" in stdout
    assert all(os.stat(out / "points" / n / "metrics.csv").st_mtime_ns == t
               for n, t in stamps.items())

    fresh = sweep_process(tmp_path / "fresh", steps)
    assert fresh.communicate(timeout=600)[0] and fresh.returncode == 0
    assert Path(out / "summary.csv").read_text() == (tmp_path / "fresh" / "summary.csv").read_text()


def test_any_standard_executor_runs_a_sweep(tmp_path):
    """run_sweep takes a plain concurrent.futures.Executor: a ProcessPoolExecutor gives the
    same points and summary as linmeta's own executor."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    points = expand(BASE, parse_grid(["n_tasks=4,8"]), [0])
    run_sweep(points, tmp_path / "own", LocalExecutor(1))
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    report = run_sweep(points, tmp_path / "std", pool)
    assert sorted(report.computed) == sorted(p.name for p in points)
    assert (tmp_path / "own" / "summary.csv").read_text() == \
        (tmp_path / "std" / "summary.csv").read_text()
    with pytest.raises(RuntimeError):  # run_sweep shut it down
        pool.submit(print)


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_local_workers_run_one_blas_thread():
    """Each worker process of a parallel sweep computes with one BLAS thread, so a point's
    numbers do not depend on which worker ran it (nor on the machine's core count)."""
    executor = LocalExecutor(2)
    try:
        threads = [executor.submit(_blas_threads).result(timeout=120) for _ in range(2)]
    finally:
        executor.shutdown()
    assert all(t and set(t) == {1} for t in threads), threads


def test_the_dask_executor_refuses_to_run_calls_in_this_process():
    """``in_process=True`` cannot be honoured on a Dask cluster: refused before Dask is
    imported; False (what the grid scripts pass) is what it does anyway."""
    with pytest.raises(ExecutorError, match="in_process needs the local executor"):
        EXECUTORS["dask"](1, None, in_process=True)
