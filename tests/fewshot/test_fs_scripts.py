"""The issue-5 experiment scripts end to end on the reduced (--quick) configuration, and the
``contrastive`` CLI command on a real (tiny) training run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from linmeta.fewshot.analysis_cli import contrastive_cmd
from linmeta.fewshot.train import TrainConfig, run

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def quick_all(tmp_path_factory):
    root = tmp_path_factory.mktemp("fewshot_all")
    figs, md = root / "figures", root / "docs" / "fewshot_results.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "fewshot_all.py"), "--quick", "--quiet",
         "--figures", str(figs), "--work", str(root / "work"), "--out", str(md)],
        capture_output=True, text=True, timeout=240, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, figs, md


def test_all_scripts_write_their_figures_and_json(quick_all):
    _, figs, _ = quick_all
    for name in ("fewshot_zeroing_curves.png", "fewshot_zeroing_steps.png",
                 "fewshot_contrastive_identities.png", "fewshot_contrastive_shares.png",
                 "fewshot_heatmaps.png", "fewshot_reuse_freeze.png",
                 "fewshot_reuse_similarity.png", "fewshot_reuse_nil.png"):
        assert (figs / name).stat().st_size > 1000, name
    z = json.loads((figs / "fewshot_zeroing.json").read_text())
    assert set(z["regimes"]) == {"random", "×0.5", "zero init", "zeroing"}
    for v in z["regimes"].values():
        assert 0.0 <= v["test_tau1"]["mean"] <= 1.0 and v["test_tau1"]["n"] == 2
    c = json.loads((figs / "fewshot_contrastive.json").read_text())
    assert c["exact_max_rel_error"] < 1e-10  # identities on a trained float64 state
    assert c["neg_share_final"]["zeroing trick"]["mean"] == 0.0
    r = json.loads((figs / "fewshot_reuse.json").read_text())
    assert set(r["freeze"]) == {"none (MAML)", "1", "1–2", "1–3", "1–4"}
    assert all(r["similarity"]["0"][b]["cka"]["mean"] <= 1 + 1e-9 for b in r["similarity"]["0"])


def test_results_table_is_generated(quick_all):
    _, _, md = quick_all
    text = md.read_text()
    assert "do not edit by hand" in text and "--quick" in text
    for heading in ("## 1.", "## 2.", "## 3.", "## 4."):
        assert heading in text
    assert text.count("| ") > 40


def test_a_script_reruns_from_the_cache(quick_all):
    root, figs, _ = quick_all
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "fewshot_heatmaps.py"), "--quick", "--figures",
         str(root / "again"), "--work", str(root / "work")],
        capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained" not in proc.stderr  # every run came from the cache
    a = json.loads((figs / "fewshot_heatmaps.json").read_text())
    b = json.loads((root / "again" / "fewshot_heatmaps.json").read_text())
    assert a == b


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
    assert "no such checkpoint" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    res = CliRunner().invoke(contrastive_cmd, ["--out", str(tmp_path / "o"), "--steps", "x"])
    assert res.exit_code == 2
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
