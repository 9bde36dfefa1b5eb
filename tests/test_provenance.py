"""Results record where they came from: the git commit and the library versions."""

import json
import subprocess
from pathlib import Path

import numpy as np
import scipy

from linmeta.experiment import Config, run
from linmeta.fewshot.engine.train import TrainConfig, read_run_config
from linmeta.fewshot.engine.train import run as train
from linmeta.provenance import provenance
from linmeta.results import save_result

ROOT = Path(__file__).resolve().parents[1]


def _head():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def test_provenance_names_the_commit_and_the_versions():
    # computed afresh between two looks at HEAD: the process's cached value is from whenever
    # it was first asked for, and a commit made since (a long session) would fail the test
    before = _head()
    provenance.cache_clear()
    p = provenance()
    assert p["numpy"] == np.__version__ and p["scipy"] == scipy.__version__
    assert p["git_commit"] in {before, _head()}


def test_linear_and_fewshot_results_record_it(tmp_path):
    save_result(run(Config(steps=2, trials=1, n_test_tasks=0)), tmp_path / "lin")
    meta = json.loads((tmp_path / "lin" / "config.json").read_text())
    assert meta["provenance"] == json.loads(json.dumps(provenance()))
    cfg = TrainConfig(algorithm="fo_maml", channels=4, image_size=16, n_classes=40, steps=1,
                      meta_batch=2, eval_every=1, ckpt_every=1, val_tasks=2, test_tasks=0)
    train(cfg, tmp_path / "fs")
    written = json.loads((tmp_path / "fs" / "config.json").read_text())
    assert written["provenance"]["numpy"] == np.__version__
    assert read_run_config(tmp_path / "fs") == cfg  # the record does not disturb the config
