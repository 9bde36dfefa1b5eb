"""The ``contrastive`` CLI command on a real (tiny) training run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from linmeta.cli import cli
from linmeta.fewshot.analysis_cli import OUTPUTS, contrastive_cmd
from linmeta.fewshot.engine.train import TrainConfig, run


def test_contrastive_cli_on_a_training_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LINMETA_CACHE", str(tmp_path / "cache"))
    cfg = TrainConfig(algorithm="fomaml", channels=4, image_size=16, n_classes=40, steps=2,
                      meta_batch=2, eval_every=1, ckpt_every=1, val_tasks=2, test_tasks=0)
    run(cfg, tmp_path / "run")
    out = tmp_path / "out"
    res = CliRunner().invoke(contrastive_cmd, [str(tmp_path / "run"), "--out", str(out),
                                               "--steps", "1,2", "--tasks", "2",
                                               "--share-tasks", "3", "-q"])
    assert res.exit_code == 0, res.output
    assert "max relative error" in res.output
    rows = (out / "identities.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 * 2 * 2 * 2  # zeroing × loss × steps × order × reference
    ident = json.loads((out / "identities.json").read_text())
    assert max(r["rel_error"] for r in ident if r["exact_expected"]) < 1e-10
    shares = (out / "coefficients.csv").read_text().splitlines()
    assert len(shares) == 1 + 2 * 2 * 2  # checkpoints 1, 2 × (as trained, zeroed) × N = 1, 2
    assert (out / "identities.png").exists() and (out / "coefficients.png").exists()


def test_contrastive_cli_bad_input_is_one_line(tmp_path):
    res = CliRunner().invoke(contrastive_cmd, [str(tmp_path / "nope"), "--out",
                                               str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "no such checkpoint" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(contrastive_cmd, ["--out", str(tmp_path / "o"), "--steps", "x"])
    assert res.exit_code == 2


def _saved_parts(out: Path) -> int:
    try:
        return len(json.loads((out / "analysis.json").read_text())["done"])
    except (OSError, ValueError, KeyError):
        return -1


def test_an_interrupted_analysis_keeps_its_parts_and_resumes(tmp_path):
    """A real process is interrupted once its first part (the identity table) is saved; the
    tables read cleanly, and --resume gives the files of an uninterrupted analysis."""
    src = tmp_path / "run"
    run(TrainConfig(algorithm="fomaml", channels=4, image_size=16, n_classes=40, steps=2,
                    meta_batch=2, eval_every=1, ckpt_every=1, val_tasks=2, test_tasks=0), src)
    out, share_tasks = tmp_path / "out", 20
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for _ in range(4):  # a machine that finishes before the signal lands gets 4× the work
        shutil.rmtree(out, ignore_errors=True)
        args = [str(src), "--steps", "1,2", "--tasks", "2", "--share-tasks", str(share_tasks),
                "-q"]
        proc = subprocess.Popen([sys.executable, "-m", "linmeta.cli", "fewshot", "contrastive",
                                 *args, "--out", str(out)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        while proc.poll() is None and _saved_parts(out) < 1:
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=600)  # a hang guard, not a timing
        if proc.returncode != 0 and _saved_parts(out) < 3:
            break
        share_tasks *= 4
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "contrastive --resume --out" in err
    state = json.loads((out / "analysis.json").read_text())
    assert state["complete"] is False and 1 <= len(state["done"]) < 3
    ident = json.loads((out / "identities.json").read_text())
    assert len(ident) == 32 and len((out / "identities.csv").read_text().splitlines()) == 33
    shares = len(state["done"]) - 1  # checkpoints whose shares are saved: 4 rows each
    assert not shares or len((out / "coefficients.csv").read_text().splitlines()) == 1 + 4 * shares
    assert not (out / "identities.png").exists()
    res = CliRunner().invoke(cli, ["fewshot", "contrastive", *args, "--out", str(out)])
    assert res.exit_code == 2 and "--resume" in res.stderr
    res = CliRunner().invoke(cli, ["fewshot", "contrastive", "--resume", "--out", str(out)])
    assert res.exit_code == 0, res.output
    reference = tmp_path / "reference"
    res = CliRunner().invoke(cli, ["fewshot", "contrastive", *args, "--out", str(reference)])
    assert res.exit_code == 0, res.output
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    res = CliRunner().invoke(cli, ["fewshot", "contrastive", "--resume", "--out", str(out)])
    assert res.exit_code == 2 and "nothing to resume" in res.stderr
