"""No lost or mixed-up run: directory locks (two writers race), --overwrite, summaries that
agree with each other, plots that warn about incomplete results, file modes, resource refusals."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from linmeta import budget
from linmeta.cli import cli, run_cmd
from linmeta.experiment import Config, run
from linmeta.fewshot.data import cache_dir
from linmeta.fewshot.engine import budget as fewshot_budget
from linmeta.fewshot.engine.train import (
    TrainConfig,
    build,
    latest_checkpoint,
    load_checkpoint,
    read_metrics,
)
from linmeta.fewshot.engine.train import run as train
from linmeta.results import ResultError, exclusive_dir, file_sha256, save_result
from linmeta.sweep import expand, point_dir, read_summary, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--d", "6", "--k", "2", "--steps", "4", "--trials", "2", "--n-test-tasks", "2",
         "--no-plot"]
TINY_FS = ["--n-classes", "40", "--image-size", "16", "--channels", "4", "--meta-batch", "2",
           "--n-query", "2", "--eval-every", "2", "--val-tasks", "2", "--test-tasks", "0", "-q"]


def invoke(args):
    res = CliRunner().invoke(cli, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res


def one_error(res, fragment):
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert fragment in lines[0], lines[0]


# ---------------------------------------------------------------- two writers, one directory


#: One BLAS thread in the racing processes (two of them share the machine) and in the in-process
#: references they are compared with bit for bit: a BLAS may round differently with another
#: number of threads, so the comparison would depend on the machine's core count.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **ONE_THREAD}
    return subprocess.Popen([sys.executable, "-m", "linmeta.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _race(args_a, args_b):
    """Start two commands 0.05 s apart; returns [(returncode, stderr), ...] in start order."""
    first = _cli(*args_a)
    time.sleep(0.05)
    second = _cli(*args_b)
    return [(p.returncode, p.communicate(timeout=900)[1]) for p in (first, second)
            if p.wait(timeout=900) is not None]


def test_two_fewshot_trainings_into_one_directory_one_is_refused(tmp_path):
    out = tmp_path / "run"
    outcomes = _race(["fewshot", "train", "-o", str(out), "--seed", "0", "--steps", "6",
                      *TINY_FS],
                     ["fewshot", "train", "-o", str(out), "--seed", "3", "--steps", "6",
                      *TINY_FS])
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 2], outcomes
    winner = [0, 3][[code for code, _ in outcomes].index(0)]
    refused = next(err for code, err in outcomes if code == 2)
    lines = refused.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "another process is writing" in lines[0] or "already holds a run" in lines[0]
    # the survivor's files all belong to one run: the winner's
    saved = json.loads((out / "config.json").read_text())
    assert saved["seed"] == winner
    state, ckpt_config = load_checkpoint(latest_checkpoint(out))
    assert ckpt_config.seed == winner and state.step == 6
    assert [r["step"] for r in read_metrics(out / "metrics.csv")] == [0, 2, 4, 6]
    reference = tmp_path / "reference"
    with threadpool_limits(limits=1):
        train(TrainConfig.from_dict({**saved, "seed": winner}), reference)
    again, _ = load_checkpoint(latest_checkpoint(reference))
    for layer in state.params:
        for key in state.params[layer]:
            np.testing.assert_array_equal(state.params[layer][key], again.params[layer][key])


def test_two_linear_runs_into_one_directory_one_is_refused(tmp_path):
    out = tmp_path / "run"
    outcomes = _race(["run", *SMALL, "--seed", "0", "--out", str(out)],
                     ["run", *SMALL, "--seed", "3", "--out", str(out)])
    assert sorted(code for code, _ in outcomes) == [0, 2], outcomes
    winner = [0, 3][[code for code, _ in outcomes].index(0)]
    refused = next(err for code, err in outcomes if code == 2).strip().splitlines()
    assert len(refused) == 1 and refused[0].startswith("Error: ")
    meta = json.loads((out / "config.json").read_text())
    assert meta["seed"] == winner and meta["complete"]
    reference = tmp_path / "reference"
    with threadpool_limits(limits=1):
        save_result(run(Config.from_dict(meta["config"])), reference)
    for name in ("metrics.csv",):
        assert (out / name).read_bytes() == (reference / name).read_bytes()


@pytest.mark.parametrize("command", ["run", "sweep", "train", "contrastive"])
def test_a_locked_directory_is_refused_by_every_writer(tmp_path, command):
    out = tmp_path / "busy"
    args = {"run": ["run", *SMALL, "--out", str(out)],
            "sweep": ["sweep", "--set", "d=6", "--set", "k=2", "--set", "steps=2",
                      "--set", "trials=1", "--seeds", "0", "--jobs", "1", "--out", str(out)],
            "train": ["fewshot", "train", "-o", str(out), "--steps", "2", *TINY_FS],
            "contrastive": ["fewshot", "contrastive", "--out", str(out), "--steps", "1",
                            "--tasks", "1", "--share-tasks", "1", "-q"]}[command]
    with exclusive_dir(out):
        res = invoke(args)
    one_error(res, "another process is writing")
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_the_lock_ends_with_its_holder(tmp_path):
    with exclusive_dir(tmp_path / "d"):
        with pytest.raises(ResultError, match="another process"), exclusive_dir(tmp_path / "d"):
            pass
    with exclusive_dir(tmp_path / "d"):  # released: taken again
        pass


# ---------------------------------------------------------------- --overwrite and resume


def test_run_refuses_an_existing_result_unless_overwrite(tmp_path):
    out = tmp_path / "r"
    assert invoke(["run", *SMALL, "--out", str(out), "--plot"]).exit_code == 0
    before = (out / "metrics.csv").read_bytes()
    one_error(invoke(["run", *SMALL, "--seed", "1", "--out", str(out)]), "--overwrite")
    assert (out / "metrics.csv").read_bytes() == before
    assert invoke(["run", *SMALL, "--seed", "1", "--out", str(out), "--overwrite"]).exit_code == 0
    assert json.loads((out / "config.json").read_text())["seed"] == 1
    assert (out / "metrics.csv").read_bytes() != before
    assert not (out / "convergence.png").exists()  # --no-plot: the old figure is not kept


def test_contrastive_refuses_existing_results_unless_overwrite(tmp_path):
    source, out = tmp_path / "run", tmp_path / "c"
    train(TrainConfig(n_classes=40, image_size=16, channels=4, meta_batch=1, n_query=1, steps=1,
                      val_tasks=1, test_tasks=0), source)
    args = ["fewshot", "contrastive", str(source), "--out", str(out), "--steps", "1",
            "--tasks", "1", "--share-tasks", "1", "-q"]
    (out).mkdir()
    (out / "identities.csv").write_text("old\n")
    one_error(invoke(args), "--overwrite")
    assert (out / "identities.csv").read_text() == "old\n"
    assert invoke([*args, "--overwrite"]).exit_code == 0
    assert (out / "identities.csv").read_text() != "old\n"


def test_a_run_stopped_before_its_first_checkpoint_resumes(tmp_path, monkeypatch):
    cfg = TrainConfig(algorithm="fomaml", n_classes=40, image_size=16, channels=4, meta_batch=2,
                      n_query=2, steps=4, eval_every=2, ckpt_every=4, val_tasks=2,
                      test_tasks=0)
    train(cfg, tmp_path / "whole")

    def crash(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("linmeta.fewshot.engine.train.save_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut")
    monkeypatch.undo()
    cut = tmp_path / "cut"
    assert (cut / "metrics.csv").exists() and latest_checkpoint(cut) is None
    res = invoke(["fewshot", "train", "-o", str(cut), *TINY_FS])
    one_error(res, "use --resume")
    res = invoke(["fewshot", "train", "-o", str(cut), "--resume", "-q"])
    assert res.exit_code == 0, res.output
    a, _ = load_checkpoint(latest_checkpoint(tmp_path / "whole"))
    b, _ = load_checkpoint(latest_checkpoint(cut))
    for layer in a.params:
        for key in a.params[layer]:
            np.testing.assert_array_equal(a.params[layer][key], b.params[layer][key])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]  # noqa: E731
    assert strip(read_metrics(cut / "metrics.csv")) == strip(
        read_metrics(tmp_path / "whole" / "metrics.csv"))


# ---------------------------------------------------------------- what results say


def test_summary_csv_agrees_with_summary_json_for_diverged_methods(tmp_path):
    # beta = 40 diverges every trial of the meta-learners; erm at beta 0.5 is a control
    base = dict(d=6, k=2, steps=30, trials=3, n_test_tasks=0, alpha=0.5, methods=["maml", "erm"])
    points = expand(base, {"beta": [0.5, 40.0]})
    run_sweep(points, tmp_path)
    rows = read_summary(tmp_path)
    seen_diverged = 0
    for row in rows:
        point = next(p for p in points if p.name == row["point"])
        summary = json.loads((point_dir(tmp_path, point) / "summary.json").read_text())
        s = summary[row["method"]]
        if s["final_dist_mean"] is None:
            assert row["final_dist"] == ""
            seen_diverged += 1
        else:
            assert float(row["final_dist"]) == pytest.approx(s["final_dist_mean"], rel=1e-12)
        assert int(row["diverged"]) == s["diverged"]
    assert seen_diverged >= 1  # the case the issue reported


def test_plot_warns_about_an_incomplete_result(tmp_path):
    out = tmp_path / "r"
    assert invoke(["run", *SMALL, "--out", str(out)]).exit_code == 0
    res = invoke(["plot", str(out)])
    assert res.exit_code == 0 and "Warning" not in res.stderr
    meta = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**meta, "complete": False}))
    res = invoke(["plot", str(out)])
    assert res.exit_code == 0 and '"complete": false' in res.stderr
    (out / "config.json").write_text(json.dumps(meta))
    lines = (out / "metrics.csv").read_text().splitlines(keepends=True)
    kept = [line for line in lines if not (line.startswith("fo_anil,1,4,"))]
    (out / "metrics.csv").write_text("".join(kept))  # trial 1 of fo_anil stops at step 3
    res = invoke(["plot", str(out)])  # unless config.json describes that file, it is damaged
    one_error(res, "damaged")
    meta["metrics_csv"]["sha256"] = file_sha256(out / "metrics.csv")
    (out / "config.json").write_text(json.dumps(meta))
    res = invoke(["plot", str(out)])
    assert res.exit_code == 0
    assert "fo_anil: trial(s) 1 end before step 4" in res.stderr, res.stderr


def test_overlay_goes_beside_the_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        assert invoke(["run", *SMALL, "--out", str(tmp_path / "res" / name)]).exit_code == 0
    res = invoke(["plot", str(tmp_path / "res" / "a"), str(tmp_path / "res" / "b")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "res" / "overlay.png").stat().st_size > 1000
    assert not (tmp_path / "overlay.png").exists()
    assert invoke(["run", *SMALL, "--out", str(tmp_path / "other" / "c")]).exit_code == 0
    res = invoke(["plot", str(tmp_path / "res" / "a"), str(tmp_path / "other" / "c")])
    one_error(res, "--out")
    target = tmp_path / "new" / "dir" / "both.png"  # a missing folder is created
    res = invoke(["plot", str(tmp_path / "res" / "a"), str(tmp_path / "other" / "c"),
                  "--out", str(target)])
    assert res.exit_code == 0 and target.stat().st_size > 1000


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_files_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert invoke(["run", *SMALL, "--plot", "--out", str(tmp_path / "r")]).exit_code == 0
    finally:
        os.umask(old)
    for name in ("config.json", "metrics.csv", "arrays.npz", "summary.json", "convergence.png"):
        assert (tmp_path / "r" / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_problem_file_with_agreeing_options_runs(tmp_path):
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((8, 2)))
    np.savez(tmp_path / "p.npz", B_star=q, B0=rng.standard_normal((8, 2)),
             w0=rng.standard_normal(2), W_star=rng.standard_normal((5, 2)))
    res = invoke(["run", "--problem", str(tmp_path / "p.npz"), "--d", "8", "--k", "2",
                  "--n-tasks", "5", "--k-learner", "0", "--steps", "2", "--trials", "1",
                  "--n-test-tasks", "0", "--no-plot", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    one_error(invoke(["run", "--problem", str(tmp_path / "p.npz"), "--k", "3", "--d", "8",
                      "--out", str(tmp_path / "s")]), "fixes k=2, but k=3 was given")


def test_run_help_describes_every_option_and_lists_choices():
    for f in dataclasses.fields(Config):
        assert f.metadata["help"], f"Config field {f.name} needs a description (its help)"
    for param in run_cmd.params:
        if param.name != "help":
            text = (param.help or "").split("[default")[0].strip()
            assert text, f"{param.opts[0]} has no description"
    res = CliRunner().invoke(cli, ["run", "--help"], terminal_width=200)
    for choices in ("[population|finite]", "[collins|random]", "[numpy|cupy]",
                    "[float64|float32]"):
        assert choices in res.output, choices


# ---------------------------------------------------------------- resources


@pytest.mark.parametrize("changes", [
    {}, dict(mode="finite", d=30, n_tasks=40, m_in=20, m_out=20, trials=3, steps=5),
    dict(d=50, k=5, steps=40, trials=4, n_test_tasks=50),
    dict(mode="finite", n_tasks=100, chunk_tasks=10, steps=3, methods=("maml", "erm")),
    dict(d=200, k=2, n_tasks=300, steps=2, tau=3, methods=("maml",), reduce=False),
])
def test_the_linear_memory_estimate_is_a_lower_bound(tmp_path, changes):
    cfg = Config(**changes)
    memory, _ = budget.linear_run(cfg)
    tracemalloc.start()
    try:
        save_result(run(cfg), tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(memory.values()) <= peak


@pytest.mark.parametrize("changes", [
    dict(algorithm="maml", inner_steps=3), dict(algorithm="fomaml", val_tasks=30),
    dict(algorithm="anil", k_shot=3, dtype="float64", image_size=24),
])
def test_the_fewshot_memory_estimate_is_a_lower_bound(tmp_path, changes):
    cfg = TrainConfig(**{**dict(n_classes=40, image_size=16, channels=8, meta_batch=3, steps=1,
                                eval_every=1, val_tasks=3, test_tasks=0), **changes})
    memory, _ = fewshot_budget.fewshot_train(cfg)
    build(cfg)  # the glyphs are generated and cached outside the count
    tracemalloc.start()
    try:
        train(cfg, tmp_path / "r")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(memory.values()) - memory["data"] <= peak


def test_the_time_limit_is_set_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(budget.MAX_HOURS_ENV, "1e-9")
    one_error(invoke(["run", *SMALL, "--out", str(tmp_path / "r")]), budget.MAX_HOURS_ENV)
    monkeypatch.setenv(budget.MAX_HOURS_ENV, "soon")
    one_error(invoke(["run", *SMALL, "--out", str(tmp_path / "r")]), "positive number of hours")
    monkeypatch.setenv(budget.MAX_HOURS_ENV, "1")
    assert invoke(["run", *SMALL, "--out", str(tmp_path / "r")]).exit_code == 0


# ---------------------------------------------------------------- environment


def test_the_tests_use_a_temporary_cache():
    assert Path(tempfile.gettempdir()) in cache_dir().parents
    assert Path.home() / ".cache" not in cache_dir().parents


def test_bench_fewshot_without_torch_says_how_to_install():
    code = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = ['bench_fewshot.py']; "
            "runpy.run_path('benchmarks/bench_fewshot.py', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "pip install -e '.[bench]'" in proc.stderr
