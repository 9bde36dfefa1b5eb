"""Fingerprint what linmeta computes, to show that a refactor changes no result.

Runs a fixed set of small jobs (the default ``linmeta run``, every method in both modes, fixed
samples, a task pool, ``--data``, a sweep, few-shot training, evaluation and analysis, and one
point of each few-shot grid family with every measurement) in a scratch directory, and writes one
SHA-256 per result: every array of every ``.npz``, every ``.csv`` without its wall-clock columns,
every ``.json`` without its timings, dates and provenance. Run it before and after a refactor and
compare the two files::

    python scripts/reference_hashes.py --out /tmp/before.json
    ... refactor ...
    python scripts/reference_hashes.py --out /tmp/after.json --compare /tmp/before.json

Exit code 1 when ``--compare`` finds a difference. Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# keys whose values are wall-clock times, dates, or the machine: not results
VOLATILE = {"created", "provenance", "seconds", "timings", "elapsed_s", "train_s", "measure_s",
            "step_s_median", "t", "timing", "host", "version", "python", "numpy"}

LINEAR = {
    "default": [],
    "population": ["--methods", "maml,fo_maml,anil,fo_anil,erm,reptile", "--trials", "2",
                   "--steps", "30", "--save-params"],
    "finite": ["--mode", "finite", "--m-in", "6", "--m-out", "6", "--steps", "20", "--trials",
               "2", "--methods", "maml,fo_maml,anil,fo_anil,erm,mom,mt_erm,altmin,fedrep,reptile",
               "--save-params", "--n-test-tasks", "5"],
    "fixed": ["--mode", "finite", "--m-in", "5", "--m-out", "5", "--samples", "fixed",
              "--n-tasks", "40", "--batch-tasks", "10", "--steps", "20", "--save-data",
              "--methods", "fo_anil,mom,altmin"],
    "pool": ["--mode", "finite", "--m-in", "8", "--m-out", "8", "--task-pool", "--head-kappa",
             "4", "--x-cov-cond", "3", "--init", "random", "--tau", "2", "--steps", "20",
             "--methods", "maml,anil,fo_anil"],
}


def _json_clean(obj):
    if isinstance(obj, dict):
        return {k: _json_clean(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_json_clean(v) for v in obj]
    return obj


def fingerprint(path: Path, root: Path) -> dict:
    """``{name: sha256}`` for one result file (several entries for an ``.npz``); the scratch
    directory ``root`` is left out of the paths that results record."""
    h = lambda b: hashlib.sha256(b).hexdigest()[:20]  # noqa: E731
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {f"{path.name}:{k}": h(f"{z[k].dtype}{z[k].shape}".encode()
                                          + np.ascontiguousarray(z[k]).tobytes())
                    for k in sorted(z.files)}
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        keep = [[v for k, v in r.items() if k not in VOLATILE] for r in rows]
        return {path.name: h(json.dumps(keep).encode())}
    if path.suffix == ".json":
        doc = _json_clean(json.loads(path.read_text().replace(str(root), "<root>")))
        return {path.name: h(json.dumps(doc, sort_keys=True).encode())}
    return {}


def fingerprint_tree(root: Path) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            for k, v in fingerprint(p, root).items():
                out[f"{p.parent.relative_to(root)}/{k}"] = v
    return out


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "linmeta.cli", *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(args)}\n{r.stderr[-2000:]}")


def record(tmp: Path) -> dict:
    for name, args in LINEAR.items():
        _cli("run", "--out", str(tmp / "linear" / name), "--no-plot", *args)
    _cli("run", "--out", str(tmp / "linear" / "data"), "--no-plot", "--data",
         str(tmp / "linear" / "fixed" / "data.npz"), "--steps", "20", "--methods",
         "fo_anil,mom,altmin", "--save-data")
    _cli("sweep", "--out", str(tmp / "sweep"), "--set", "steps=20", "--grid", "n_tasks=10,20",
         "--seeds", "0-1", "--jobs", "1")
    tiny = ["--image-size", "16", "--n-classes", "40", "--channels", "4", "--meta-batch", "2",
            "--n-query", "2", "--steps", "6", "--eval-every", "3", "--ckpt-every", "3",
            "--val-tasks", "4", "--test-tasks", "4"]
    fs = tmp / "fewshot"
    _cli("fewshot", "train", "--out", str(fs / "maml"), *tiny)
    _cli("fewshot", "train", "--out", str(fs / "anil"), "--algorithm", "fo_anil",
         "--block-order", "kao", "--downsample", "stride", "--zeroing", "--workers", "2", *tiny,
         "--image-size", "28")
    _cli("fewshot", "contrastive", str(fs / "maml"), "--out", str(fs / "contrastive"),
         "--tasks", "2", "--share-tasks", "2")
    r = subprocess.run([sys.executable, "-m", "linmeta.cli", "fewshot", "eval", str(fs / "maml"),
                        "--tasks", "5", "--json"], capture_output=True, text=True, check=True)
    out = fingerprint_tree(tmp)
    ev = _json_clean(json.loads(r.stdout.replace(str(tmp), "<root>")))
    out["fewshot/eval"] = hashlib.sha256(json.dumps(ev, sort_keys=True).encode()).hexdigest()[:20]
    out.update(grid_points(tmp / "grid"))
    return out


def grid_points(root: Path) -> dict:
    """One tiny point of every setting kind of every grid family, every measurement on."""
    from linmeta.fewshot.claims import grid

    out = {}
    for tier in (grid.PROTOCOL, grid.KAO_OMNIGLOT, grid.KAO_ABLATION):
        tiny = dataclasses.replace(
            tier, name="tiny-" + tier.name,
            base=dataclasses.replace(tier.base, dataset="glyphs", steps=4, eval_every=2,
                                     ckpt_every=2, val_tasks=2, n_classes=40, image_size=28,
                                     channels=4, meta_batch=2, n_query=2),
            test_tasks=4, probe_tasks=2, timing_repeats=1)
        for s in grid.settings(tiny)[:4]:
            doc = grid.run_point(s, 0, tiny, root / "results" / tier.name, root / "work")
            doc = _json_clean(doc)
            out[f"grid/{tier.name}/{s.name}"] = hashlib.sha256(
                json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="where to write the hashes (JSON)")
    ap.add_argument("--compare", type=Path, help="an earlier file: report every difference")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hashes = record(Path(tmp))
    args.out.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    print(f"{len(hashes)} hashes -> {args.out}")
    if args.compare:
        old = json.loads(args.compare.read_text())
        diff = sorted(k for k in old.keys() | hashes.keys() if old.get(k) != hashes.get(k))
        for k in diff:
            print(f"differs: {k}  {old.get(k)} -> {hashes.get(k)}")
        print("identical" if not diff else f"{len(diff)} differences")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
