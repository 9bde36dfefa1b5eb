"""Interrupted runs keep what finished, and ``linmeta run --resume DIR`` completes them.

A real ``linmeta run`` process is interrupted (SIGINT or SIGTERM) once the files of its first
methods appear; the partial result must read cleanly, plot with warnings, and resume to the
files of an uninterrupted run. Which keys may differ: ``created`` and ``provenance`` in
config.json (when and from which checkout), ``seconds`` in summary.json (time spent).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from linmeta.cli import cli
from linmeta.experiment import Config, run
from linmeta.results import incomplete, load_result, read_metrics, save_result, saved_runs

ROOT = Path(__file__).resolve().parents[1]
#: erm first (cheap), then two exact second-order methods with three inner steps (slower).
ARGS = ["--methods", "erm,maml,anil", "--tau", "3", "--alpha", "0.2", "--trials", "2",
        "--n-test-tasks", "3", "--log-every", "50"]
FILES = ("metrics.csv", "arrays.npz", "summary.json", "config.json", "convergence.png")


def invoke(args):
    res = CliRunner().invoke(cli, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res


def default_sigint():
    """In the child: SIGINT's default action, even when the tests run in a background job
    (which ignores it, and Python would then never raise KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finished_methods(out: Path) -> int:
    """How many methods the saved result in ``out`` holds (-1: none saved yet)."""
    try:
        return len(json.loads((out / "summary.json").read_text()))
    except (OSError, ValueError):
        return -1


def interrupt(out: Path, sig, after: int, steps: int = 1000, tries: int = 4) -> list:
    """Start ``linmeta run``, send ``sig`` once ``after`` methods are saved (polling, no fixed
    wait), and return the options of the interrupted run. On a machine fast enough to finish
    every method before the signal lands the run is repeated with 4× the steps."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # BLAS threads as in this process
    for _ in range(tries):
        shutil.rmtree(out, ignore_errors=True)
        args = [*ARGS, "--steps", str(steps)]
        proc = subprocess.Popen([sys.executable, "-m", "linmeta.cli", "run", *args,
                                 "--out", str(out)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
        while proc.poll() is None and finished_methods(out) < after:
            time.sleep(0.005)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=600)  # a hang guard, not a timing
        if proc.returncode != 0:
            assert proc.returncode == 128 + sig, err
            lines = [line for line in err.splitlines() if line.startswith("Error: ")]
            assert len(lines) == 1 and f"linmeta run --resume {out}" in lines[0], err
            assert "Traceback" not in err
            if finished_methods(out) < 3:
                return args
        steps *= 4  # it finished (or finished every method) before the signal landed
    pytest.fail(f"the run always finished before the signal ({tries} tries)")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same runs uninterrupted, per step count (computed when first asked for)."""
    root, made = tmp_path_factory.mktemp("reference"), {}

    def get(args):
        key = " ".join(args)
        if key not in made:
            made[key] = root / f"r{len(made)}"
            assert invoke(["run", *args, "--out", str(made[key])]).exit_code == 0
        return made[key]

    return get


def assert_same_result(a: Path, b: Path):
    """The files of two results agree byte for byte, except the keys that record when, where
    and how long."""
    for name in ("metrics.csv", "arrays.npz", "convergence.png"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (a, b))
    for meta in (ca, cb):
        del meta["created"], meta["provenance"]
    assert ca == cb
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for summary in (sa, sb):
        for entry in summary.values():
            del entry["seconds"]
    assert sa == sb


@pytest.mark.parametrize("sig, after", [(signal.SIGINT, 1), (signal.SIGTERM, 0)],
                         ids=["sigint-after-one-method", "sigterm-before-any"])
def test_an_interrupted_run_keeps_what_finished_and_resumes(tmp_path, reference, sig, after):
    out = tmp_path / "r"
    args = interrupt(out, sig, after)
    meta = json.loads((out / "config.json").read_text())
    assert meta["complete"] is False and not (out / "convergence.png").exists()
    done = finished_methods(out)
    assert after <= done < 3
    metrics = read_metrics(out)  # its checksum matches: the partial result reads cleanly
    assert {method for method, _ in metrics} == set(["erm", "maml", "anil"][:done])
    assert load_result(out)["config"]["complete"] is False
    problems = incomplete(out, metrics)
    assert '"complete": false' in problems[0] and "no rows for anil" in problems[-1]
    res = invoke(["plot", str(out)])
    if done:  # drawn, with its warnings
        assert res.exit_code == 0 and (out / "convergence.png").exists()
        assert res.stderr.count("Warning:") == len(problems), res.stderr
        (out / "convergence.png").unlink()
    else:
        assert res.exit_code == 2 and "no method has finished yet" in res.stderr
    res = invoke(["run", *args, "--out", str(out)])  # not silently restarted
    assert res.exit_code == 2 and "--resume" in res.stderr
    res = invoke(["run", "--resume", str(out)])
    assert res.exit_code == 0, res.output
    assert all(name in res.stdout for name in ("erm", "maml", "anil"))
    assert_same_result(out, reference(args))
    res = invoke(["run", "--resume", str(out)])
    assert res.exit_code == 2 and "nothing to resume" in res.stderr


def test_resuming_from_any_finished_subset_gives_the_same_files(tmp_path):
    """Every partial state a run saves (one per finished method) resumes to the whole result:
    finite samples of a fixed dataset, held-out metrics, the parameters and the sample counts."""
    cfg = Config(mode="finite", samples="fixed", d=6, k=2, n_tasks=6, m_in=3, m_out=3,
                 sigma=0.1, steps=6, trials=2, n_test_tasks=3, batch_tasks=4, alpha=0.1,
                 beta=0.1, methods=("fo_anil", "mom", "maml"))
    partial = tmp_path / "partial"
    snapshots = []

    def checkpoint(result):
        save_result(result, partial, save_params=True, complete=False)
        snapshots.append(tmp_path / f"after{len(result.runs)}")
        shutil.copytree(partial, snapshots[-1])

    whole = run(cfg, checkpoint=checkpoint)
    save_result(whole, tmp_path / "whole", save_params=True)
    assert len(snapshots) == 4  # before the first method, then after each
    for snap in snapshots:
        done = saved_runs(snap)
        assert list(done) == list(cfg.methods)[:len(done)]
        resumed = run(cfg, done=done)
        save_result(resumed, snap, save_params=True)
        for name in ("metrics.csv", "arrays.npz"):
            assert (snap / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
        a, b = (json.loads((d / "summary.json").read_text()) for d in (snap, tmp_path / "whole"))
        for name in cfg.methods:  # the finished methods keep their recorded time
            if name not in done:
                del a[name]["seconds"], b[name]["seconds"]
        assert a == b


def test_a_data_file_run_resumes_and_a_changed_input_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 6, 5))
    y = X @ rng.standard_normal(5)
    np.savez(tmp_path / "d.npz", X=X, y=y, k=np.int64(2))  # no B_star: k from the file
    out = tmp_path / "r"
    res = invoke(["run", "--data", str(tmp_path / "d.npz"), "--methods", "fo_anil,erm",
                  "--steps", "5", "--save-data", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "heldout mse" in res.stdout.splitlines()[0]
    reference = tmp_path / "reference"
    shutil.copytree(out, reference)
    meta = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**meta, "complete": False}))
    for name in ("convergence.png", "data.npz"):
        (out / name).unlink()
    assert invoke(["run", "--resume", str(out)]).exit_code == 0
    assert_same_result(out, reference)
    assert (out / "data.npz").read_bytes() == (reference / "data.npz").read_bytes()
    (out / "config.json").write_text(json.dumps({**meta, "complete": False}))
    np.savez(tmp_path / "d.npz", X=X, y=y + 1, k=np.int64(2))
    res = invoke(["run", "--resume", str(out)])
    assert res.exit_code == 2 and "changed since the run started" in res.stderr


def test_resume_takes_no_other_options(tmp_path):
    res = invoke(["run", "--resume", str(tmp_path), "--steps", "3", "--no-plot"])
    assert res.exit_code == 2 and "drop --plot/--no-plot, --steps" in res.stderr, res.stderr
    res = invoke(["run", "--resume", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no run to resume" in res.stderr
