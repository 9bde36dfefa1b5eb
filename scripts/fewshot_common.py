"""Shared settings, cached meta-training and summaries for the ``fewshot_*`` experiment scripts.

Every script trains through :func:`train` (the engine's ``init_state`` / ``train_step``), which
caches each run (snapshots of the parameters and a validation curve) under ``--work`` so that the
scripts share runs: the random-init and zeroing FO-MAML runs serve the zeroing table, the
contrastive shares and the heatmaps. OpenBLAS is limited to one thread (set before NumPy loads):
on a small shared machine a multi-threaded BLAS is several times slower for these small
matrices.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from linmeta.fewshot.data import atomic_save_npz, cache_dir  # noqa: E402
from linmeta.fewshot.evaluate import evaluate  # noqa: E402
from linmeta.fewshot.network import flatten_tree, unflatten_tree  # noqa: E402
from linmeta.fewshot.train import (  # noqa: E402
    TrainConfig,
    build,
    eval_kwargs,
    init_state,
    train_step,
)

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "figures"


@dataclass(frozen=True)
class Setting:
    """The shared experimental setting (5-way 1-shot glyphs unless overridden)."""

    n_way: int = 5
    k_shot: int = 1
    n_query: int = 5
    meta_batch: int = 4
    steps: int = 300
    channels: int = 16
    image_size: int = 16
    n_classes: int = 400
    inner_lr: float = 0.4
    outer_lr: float = 3e-3
    seeds: tuple = (0, 1, 2)
    val_every: int = 50
    val_tasks: int = 30
    test_tasks: int = 100
    snapshots: int = 6
    sweep: tuple = (1, 4, 7)
    dataset: str = "glyphs"
    data_path: str | None = None

    def describe(self) -> str:
        data = (f"procedural glyphs ({self.n_classes} classes, {self.image_size}×{self.image_size})"
                if self.dataset == "glyphs" else f"{self.dataset} at {self.data_path}")
        return (f"{self.n_way}-way {self.k_shot}-shot, {self.n_query} queries/class, {data}, "
                f"Conv-4 with {self.channels} channels, meta-batch {self.meta_batch}, "
                f"{self.steps} outer steps (Adam {self.outer_lr:g}), inner rate "
                f"{self.inner_lr:g}, seeds {list(self.seeds)}, {self.test_tasks} test tasks "
                f"per seed")


FULL = Setting()
QUICK = Setting(steps=6, channels=8, seeds=(0, 1), val_every=3, val_tasks=4, test_tasks=8,
                snapshots=3, sweep=(1, 2), n_classes=60)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="Tiny configuration (tests, smoke runs).")
    p.add_argument("--data", default=None,
                   help="Omniglot folder or mini-ImageNet folder / .npz (default: glyphs).")
    p.add_argument("--dataset", default=None, choices=["omniglot", "miniimagenet", "npz"],
                   help="Kind of --data (default: guessed from the path name).")
    p.add_argument("--figures", default=str(FIGURES), help="Output folder for PNG/CSV/JSON.")
    p.add_argument("--work", default=None,
                   help="Cache of trained runs (default: $LINMETA_CACHE/fewshot_runs).")
    p.add_argument("--quiet", action="store_true", help="No progress lines.")
    return p


def setting_from(args) -> Setting:
    s = QUICK if args.quick else FULL
    if args.data:
        kind = args.dataset or ("miniimagenet" if "mini" in str(args.data).lower()
                                else "npz" if str(args.data).endswith(".npz") else "omniglot")
        size = 84 if kind == "miniimagenet" else 28
        s = dataclasses.replace(s, dataset=kind, data_path=str(args.data), image_size=size,
                                channels=max(s.channels, 32) if not args.quick else s.channels)
    return s


def work_dir(args) -> Path:
    return Path(args.work) if args.work else cache_dir() / "fewshot_runs"


def log(args, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(msg, file=sys.stderr, flush=True)


def config(s: Setting, seed: int, **kw) -> TrainConfig:
    """A TrainConfig for setting ``s``; ``kw`` overrides (algorithm, zeroing, head_init, ...)."""
    base = dict(n_way=s.n_way, k_shot=s.k_shot, n_query=s.n_query, meta_batch=s.meta_batch,
                steps=s.steps, channels=s.channels, image_size=s.image_size,
                n_classes=s.n_classes, inner_lr=s.inner_lr, outer_lr=s.outer_lr, seed=seed,
                dataset=s.dataset, data_path=s.data_path, algorithm="fomaml",
                test_tasks=s.test_tasks, val_tasks=s.val_tasks, eval_every=s.val_every)
    base.update(kw)
    return TrainConfig(**base).validate()


_DATA: dict = {}


def setup(cfg: TrainConfig):
    """``(net, data, xp, dtype)`` with the class pools memoised per (data, split seed)."""
    key = (cfg.dataset, cfg.data_path, cfg.image_size, cfg.n_classes, cfg.split_seed,
           cfg.rotations, cfg.channels, cfg.n_way)
    if key not in _DATA:
        _DATA[key] = build(cfg)
    return _DATA[key]


def snapshot_steps(s: Setting) -> list:
    return sorted({round(i * s.steps / (s.snapshots - 1)) for i in range(s.snapshots)})


@dataclass
class Run:
    config: TrainConfig
    net: tuple
    data: dict
    params: dict
    snapshots: dict  # step -> params
    curve: list  # [(step, val_acc)]
    sec_per_step: float


def train(cfg: TrainConfig, s: Setting, work: Path, *, curve: bool = True, args=None) -> Run:
    """Meta-train ``cfg`` (cached): parameter snapshots and, if ``curve``, validation accuracy."""
    net, data, xp, dtype = setup(cfg)
    snaps = snapshot_steps(s)
    key = json.dumps({"cfg": dataclasses.asdict(cfg), "snaps": snaps, "curve": curve,
                      "every": s.val_every, "v": 1}, sort_keys=True)
    path = Path(work) / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path) as f:
            flat = {k: f[k] for k in f.files}
        meta = json.loads(str(flat["meta"]))
        snapshots = {st: unflatten_tree(flat, f"s{st}/") for st in meta["snaps"]}
        return Run(cfg, net, data, snapshots[max(snapshots)], snapshots,
                   [tuple(c) for c in meta["curve"]], meta["sec_per_step"])
    state = init_state(cfg, net, xp, dtype)
    snapshots, points, t_train = {}, [], 0.0
    kw = eval_kwargs(cfg)
    for step in range(cfg.steps + 1):
        if step in snaps:
            snapshots[step] = {n: {k: a.copy() for k, a in d.items()}
                               for n, d in state.params.items()}
        if curve and (step % s.val_every == 0 or step == cfg.steps):
            ev = evaluate(net, state.params, data["val"], tasks=s.val_tasks, seed=cfg.seed,
                          dtype=dtype, xp=xp, **kw)
            points.append((step, ev.acc))
        if step == cfg.steps:
            break
        t0 = time.perf_counter()
        state, _ = train_step(net, state, cfg, data["train"], xp, dtype)
        t_train += time.perf_counter() - t0
    meta = {"snaps": sorted(snapshots), "curve": points,
            "sec_per_step": t_train / max(cfg.steps, 1)}
    arrays = {"meta": np.array(json.dumps(meta))}
    for st, p in snapshots.items():
        arrays.update(flatten_tree(p, f"s{st}/"))
    atomic_save_npz(path, **arrays)
    if args is not None:
        log(args, f"  trained {cfg.algorithm} seed={cfg.seed} zeroing={cfg.zeroing} "
                  f"head={cfg.head_init}×{cfg.head_scale:g} N={cfg.inner_steps}: "
                  f"{t_train:.1f} s")
    return Run(cfg, net, data, state.params, snapshots, points, meta["sec_per_step"])


def test_acc(run: Run, *, zeroing: bool | None = None, inner_steps: int | None = None,
             params=None, s: Setting | None = None) -> float:
    """Mean held-out (test split) accuracy; the tasks depend only on the seed."""
    cfg = run.config
    if zeroing is not None:
        cfg = dataclasses.replace(cfg, zeroing=zeroing)
    _, _, xp, dtype = setup(run.config)
    ev = evaluate(run.net, run.params if params is None else params, run.data["test"],
                  tasks=cfg.test_tasks, seed=1000 + cfg.seed, dtype=dtype, xp=xp,
                  **eval_kwargs(cfg, inner_steps))
    return ev.acc


def summary(values) -> dict:
    """Mean and 95% Student-t half-width over seeds: ``t_{.975, n−1} · sd / √n``."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean": float(v.mean()), "ci95": half, "n": int(n), "values": [float(x) for x in v]}


def fmt(sm: dict, pct: bool = True) -> str:
    k = 100.0 if pct else 1.0
    return f"{k * sm['mean']:.1f} ± {k * sm['ci95']:.1f}" if pct else \
        f"{sm['mean']:.3g} ± {sm['ci95']:.2g}"


def save_json(path: Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def save_fig(fig, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.png")
    os.close(fd)
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def mean_curve(runs: list) -> tuple:
    """Steps and mean ± t-interval of the validation curves of several seeds."""
    steps = [st for st, _ in runs[0].curve]
    accs = np.array([[a for _, a in r.curve] for r in runs])
    sms = [summary(accs[:, i]) for i in range(len(steps))]
    return (np.array(steps), np.array([m["mean"] for m in sms]),
            np.array([m["ci95"] for m in sms]))
