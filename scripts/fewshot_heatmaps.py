"""Cosine similarity of penultimate features, same vs different class, for three head regimes
(random init, zero init, zeroing trick) of FO-MAML (Kao22's feature heatmaps).

Writes ``fewshot_heatmaps.png`` (seed 0: 5 held-out classes × 6 samples, sorted by class) and
``fewshot_heatmaps.json`` (mean same-class and different-class cosine, over seeds).
"""

from __future__ import annotations

from pathlib import Path

import fewshot_common as fc
import numpy as np
from matplotlib.figure import Figure

from linmeta.fewshot.reuse import feature_cosines, same_class_contrast

REGIMES = {"random init": dict(head_init="random"), "zero init": dict(head_init="zero"),
           "zeroing trick": dict(zeroing=True)}


def batch(run, n_cls: int, per: int):
    pool = run.data["test"]
    rng = np.random.default_rng(np.random.SeedSequence(run.config.seed, spawn_key=(13,)))
    cls = rng.choice(pool.shape[0], n_cls, replace=False)
    imgs = np.concatenate([pool[c, rng.choice(pool.shape[1], per, replace=False)] for c in cls])
    labels = np.repeat(np.arange(n_cls), per)
    _, _, _, dtype = fc.setup(run.config)
    return (imgs.astype(dtype) / 255.0).astype(dtype), labels


def run(args) -> dict:
    s = fc.setting_from(args)
    work = fc.work_dir(args)
    out = {"setting": s.describe(), "regimes": {}}
    mats = {}
    for name, kw in REGIMES.items():
        runs = [fc.train(fc.config(s, seed, **kw), s, work, args=args) for seed in s.seeds]
        stats = []
        for r in runs:
            x, labels = batch(r, 5, 6)
            cos = feature_cosines(r.net, r.params, x)
            stats.append(same_class_contrast(cos, labels))
            if r.config.seed == s.seeds[0]:
                mats[name] = cos
        out["regimes"][name] = {
            "same": fc.summary([st["same"] for st in stats]),
            "diff": fc.summary([st["diff"] for st in stats]),
            "gap": fc.summary([st["same"] - st["diff"] for st in stats])}
    figs = Path(args.figures)
    fc.save_json(figs / "fewshot_heatmaps.json", out)
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, len(mats))
    for ax, (name, cos) in zip(axes, mats.items(), strict=True):
        im = ax.imshow(cos, vmin=-1, vmax=1, cmap="RdBu_r")
        g = out["regimes"][name]
        ax.set_title(f"{name}: same {g['same']['mean']:.2f}, diff {g['diff']['mean']:.2f}",
                     fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.8, label="cosine similarity of features")
    fig.suptitle("Penultimate-feature cosine similarity, 5 held-out classes × 6 samples "
                 "(sorted by class); titles: means over seeds", fontsize=9)
    fc.save_fig(fig, figs / "fewshot_heatmaps.png")
    return out


def main(argv=None) -> dict:
    args = fc.parser(__doc__.splitlines()[0]).parse_args(argv)
    return run(args)


if __name__ == "__main__":
    main()
