"""The ``contrastive`` CLI command on a real (tiny) training run."""

import json

from click.testing import CliRunner

from linmeta.fewshot.analysis_cli import contrastive_cmd
from linmeta.fewshot.train import TrainConfig, run


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
