"""Rebuild ``docs/fewshot_results.md`` and ``figures/fewshot_*.png`` from the grid's point files.

    python scripts/fewshot_report.py            # results/fewshot/ -> docs/, figures/
    python scripts/fewshot_report.py --quick    # runs/fewshot_quick/ only

Reads only the committed point files (seconds); rebuilding from the same files changes no byte.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from linmeta.fewshot.report import interval, load_points, render
from linmeta.io import atomic_savefig, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
COLORS = {"kao": "C0", "finn": "C3"}
KAO_SETTINGS = [("kao-fo-random", "random head"), ("kao-fo-half", "×0.5 head"),
                ("kao-fo-zeroinit", "zero init"), ("kao-fo-zeroing", "zeroing trick"),
                ("kao-fo-zeroing-7", "zeroing, 7 inner steps"),
                ("kao-so-zeroing", "zeroing, second order")]


def _save(fig: Figure, path: Path) -> None:
    atomic_savefig(fig, path, dpi=110, metadata={"Software": None})


def _bars(ax, labels, ivs, color=None):
    means = [100 * iv["mean"] for iv in ivs]
    errs = [100 * iv["half"] if np.isfinite(iv["half"]) else 0 for iv in ivs]
    ax.bar(range(len(labels)), means, yerr=errs, capsize=3, color=color)
    ax.set_xticks(range(len(labels)), labels, rotation=25, ha="right", fontsize=8)


def fig_kao(pts) -> Figure:
    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 3, sharey=True)
    present = [(k, lab) for k, lab in KAO_SETTINGS if pts.get(k)]
    for ax, steps in zip(axes, ("1", "3", "10"), strict=True):
        ivs = [interval(d["test"][steps]["acc"] for d in pts[k].values()) for k, _ in present]
        _bars(ax, [lab for _, lab in present], ivs, color=[f"C{i}" for i in range(len(ivs))])
        ax.set_title(f"{steps} test step{'s' if steps != '1' else ''}", fontsize=9)
        lo = min((100 * iv["mean"] for iv in ivs), default=20)
        ax.set_ylim(max(0, lo - 15), 100)
    axes[0].set_ylabel("test accuracy (%)\nmean ± 95% t-interval over seeds")
    fig.suptitle("Kao22 (a)–(d): zeroing ≥ zero init ≥ ×0.5 ≥ random; 1 ≈ 7 inner steps; "
                 "SO > FO (FO-MAML, kao blocks)", fontsize=10)
    fig.tight_layout()
    return fig


def _mean_curve(runs, get):
    steps = [r["step"] for r in next(iter(runs)).get("curve", [])]
    vals = np.array([[get(row) for row in r["curve"]] for r in runs], dtype=float)
    return np.array(steps), vals


def fig_zeroing_curves(pts) -> Figure:
    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    for key, lab, c in (("kao-fo-zeroing", "zeroing trick", "C3"),
                        ("kao-fo-random", "random head", "C0")):
        runs = list(pts.get(key, {}).values())
        if not runs:
            continue
        steps, v = _mean_curve(runs, lambda r: r["val_acc"])
        m = 100 * v.mean(0)
        n = len(runs)
        ax1.plot(steps, m, color=c, label=f"{lab} ({n} seed{'s' if n != 1 else ''})")
        ax1.fill_between(steps, 100 * v.min(0), 100 * v.max(0), color=c, alpha=0.2, lw=0)
    ax1.set_xlabel("outer step")
    ax1.set_ylabel("validation accuracy (%), 3 test steps\nmean, band = min–max over seeds")
    ax1.set_title("(a) zeroing trick vs random head during training", fontsize=9)
    ax1.legend(fontsize=8)
    runs = list(pts.get("kao-fo-random", {}).values())
    if runs:
        steps = [c["step"] for c in runs[0]["test_zeroed"]]
        for s, ls in (("1", "-"), ("3", "--")):
            diff = np.array([[100 * (c["zeroed"][s]["acc"] - c["model"][s]["acc"])
                              for c in r["test_zeroed"]] for r in runs])
            ax2.errorbar(steps, diff.mean(0), yerr=diff.std(0), ls=ls, marker="o", capsize=3,
                         label=f"{s} test step{'s' if s != '1' else ''}")
        ax2.axhline(0, color="grey", lw=0.8)
        ax2.legend(fontsize=8)
    ax2.set_xlabel("outer step of the random-head model's checkpoint")
    ax2.set_ylabel("accuracy with head zeroed at test\nminus as trained (points), mean ± sd")
    ax2.set_title("(e) zeroing the head at test time only", fontsize=9)
    fig.suptitle("Kao22 (a), (e): the zeroing trick, in training and at test time only",
                 fontsize=10)
    fig.tight_layout()
    return fig


def fig_contrastive_shares(pts) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    styles = [("kao-fo-random", "model", "random head, its own head", "C0", "-", "o"),
              ("kao-fo-random", "zeroed", "random head, head set to 0", "C0", ":", "s"),
              ("kao-fo-zeroing", "model", "zeroing trick (its head is 0)", "C3", "-", "^"),
              ("kao-fo-zeroing", "zeroed", "zeroing trick, head set to 0 (same)", "C1", "--",
               "x")]
    for i, (key, which, lab, c, ls, mk) in enumerate(styles):
        runs = list(pts.get(key, {}).values())
        if not runs:
            continue
        steps = np.array([r["step"] for r in runs[0]["contrastive"]["shares"]], dtype=float)
        v = np.array([[100 * r2[which]["neg_share_diff"] for r2 in r["contrastive"]["shares"]]
                      for r in runs])
        # a small offset so that coinciding lines stay visible
        ax.plot(steps, v.mean(0) + 0.4 * (i % 2), color=c, ls=ls, marker=mk, ms=5, label=lab)
    ax.set_xlabel("outer step (checkpoint)")
    ax.set_ylabel("different-class pairs with c(s, q) < 0 (%)\n(mean over seeds; dotted/"
                  "dashed lines offset by +0.4)")
    ax.set_title("Kao22 (f): a random head makes some contrastive coefficients wrong-signed "
                 "(noise);\nzeroing removes them", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_freeze(pts) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for order in ("kao", "finn"):
        runs = list(pts.get(f"{order}-maml", {}).values())
        if not runs:
            continue
        for s, ls in (("3", "-"), ("10", "--")):
            fs = sorted(runs[0]["freeze"][s], key=int)
            ivs = [interval(r["freeze"][s][f]["acc"] for r in runs) for f in fs]
            ax.errorbar([int(f) for f in fs], [100 * iv["mean"] for iv in ivs],
                        yerr=[100 * iv["half"] if np.isfinite(iv["half"]) else 0 for iv in ivs],
                        color=COLORS[order], ls=ls, marker="o", capsize=3,
                        label=f"{order} blocks, {s} test steps")
    ax.set_xticks(range(5), ["none\n(MAML)", "1", "1–2", "1–3", "1–4\n(head only)"])
    ax.set_xlabel("conv blocks frozen in the test-time inner loop")
    ax.set_ylabel("test accuracy (%), mean ± 95% t-interval")
    ax.set_title("Raghu20 (i): freezing the body at test time barely hurts a MAML model",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_cka(pts) -> Figure:
    fig = Figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, order in zip(axes, ("kao", "finn"), strict=True):
        runs = list(pts.get(f"{order}-maml", {}).values())
        if not runs:
            continue
        layers = list(runs[0]["cka"][-1]["layers"])
        steps = [c["step"] for c in runs[0]["cka"]]
        for j, layer in enumerate(layers):
            v = np.array([[c["layers"][layer]["cka"] for c in r["cka"]] for r in runs])
            ax.plot(steps, v.mean(0), marker="o", color=f"C{j}", label=layer)
        ax.set_title(f"{order} blocks", fontsize=9)
        ax.set_xlabel("outer step (checkpoint)")
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("linear CKA, query activations\nbefore vs after the inner loop")
    axes[0].legend(fontsize=8)
    fig.suptitle("Raghu20 (j): the body's representation barely changes in the inner loop; "
                 "the head's does", fontsize=10)
    fig.tight_layout()
    return fig


def fig_anil_maml(pts) -> Figure:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    labels, ivs, colors = [], [], []
    for order in ("kao", "finn"):
        ma, an = pts.get(f"{order}-maml", {}), pts.get(f"{order}-anil", {})
        for lab, vals in (("MAML", [d["test"]["3"]["acc"] for d in ma.values()]),
                          ("ANIL", [d["test"]["3"]["acc"] for d in an.values()]),
                          ("NIL", [d["nil"]["acc"] for d in an.values()])):
            labels.append(f"{lab}\n{order}")
            ivs.append(interval(vals))
            colors.append(COLORS[order])
    _bars(ax, labels, ivs, color=colors)
    lo = min((100 * iv["mean"] for iv in ivs if iv["n"]), default=20)
    ax.set_ylim(max(0, lo - 15), 100)
    ax.set_ylabel("test accuracy (%), 3 test steps\nmean ± 95% t-interval over seeds")
    ax.set_title("Raghu20 (h), (k): ANIL ≈ MAML and NIL ≈ ANIL, under both block orders",
                 fontsize=9)
    fig.tight_layout()
    return fig


FIGURES = {"fewshot_kao_accuracy.png": fig_kao, "fewshot_zeroing_curves.png": fig_zeroing_curves,
           "fewshot_contrastive_shares.png": fig_contrastive_shares,
           "fewshot_reuse_freeze.png": fig_freeze, "fewshot_reuse_cka.png": fig_cka,
           "fewshot_anil_maml.png": fig_anil_maml}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the 16 px tier's own directory")
    ap.add_argument("--results", type=Path)
    ap.add_argument("--out", type=Path, help="the Markdown file")
    ap.add_argument("--figures", type=Path, help="the figure directory")
    args = ap.parse_args(argv)
    base = ROOT / "runs" / "fewshot_quick" if args.quick else ROOT
    results = args.results or (base / "results" if args.quick else ROOT / "results" / "fewshot")
    out = args.out or base / "docs" / "fewshot_results.md"
    figs = args.figures or base / "figures"
    if not results.is_dir():
        print(f"Error: no point files: {results} is not a directory (run "
              "scripts/fewshot_all.py first)", file=sys.stderr)
        return 2
    pts = load_points(results)
    made = []
    for name, make in FIGURES.items():
        fig = make(pts)
        _save(fig, figs / name)
        made.append(name)
    rel = os.path.relpath(figs.resolve(), out.resolve().parent)
    long_dir = ROOT / "results" / "fewshot_long"
    long = load_points(long_dir) if not args.quick and long_dir.is_dir() else None
    text = render(pts, rel, "quick" if args.quick else "protocol", tuple(made), long)
    atomic_write_text(out, text)
    n = sum(len(v) for v in pts.values())
    print(f"{out}: {n} points; figures in {figs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
