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

from linmeta.fewshot.claims.report import (
    KAO22_COSINE,
    KAO22_OMNIGLOT,
    freeze_drop,
    interval,
    load_criteria,
    load_points,
    load_probe,
    lookup,
    nil_gain,
    paired,
    render,
    test_zeroing_gain,
    zeroed_acc,
    zeroed_gain,
)
from linmeta.io import atomic_savefig, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
COLORS = {"kao": "C0", "finn": "C3"}
KAO_SETTINGS = [("kao-fo-random", "random head"), ("kao-fo-half", "×0.5 head"),
                ("kao-fo-zeroinit", "zero init"), ("kao-fo-zeroing", "zeroing trick"),
                ("kao-fo-zeroing-7", "zeroing, 7 inner steps"),
                ("kao-so-zeroing", "zeroing, second order")]


def _mean(pts, name, get) -> float:
    """Mean over seeds (nan where the setting has no points)."""
    return interval(get(d) for d in pts.get(name, {}).values())["mean"]


def _p(v, signed=False) -> str:
    if not np.isfinite(v):
        return "–"
    return f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}"


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
    def a3(name):
        return _p(_mean(pts, name, lambda d: d["test"]["3"]["acc"]))

    fig.suptitle(f"Protocol tier, kao blocks: the zeroing trick scores {a3('kao-fo-zeroing')}% "
                 f"at 3 test steps; zero init {a3('kao-fo-zeroinit')}, ×0.5 {a3('kao-fo-half')}, "
                 f"random {a3('kao-fo-random')}%", fontsize=10)
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
            diff = np.array([[100 * zeroed_gain(c, int(s)) for c in r["test_zeroed"]]
                             for r in runs])
            ax2.errorbar(steps, diff.mean(0), yerr=diff.std(0), ls=ls, marker="o", capsize=3,
                         label=f"{s} test step{'s' if s != '1' else ''}")
        ax2.axhline(0, color="grey", lw=0.8)
        ax2.legend(fontsize=8)
    ax2.set_xlabel("outer step of the random-head model's checkpoint")
    ax2.set_ylabel("accuracy with head zeroed at test\nminus as trained (points), mean ± sd")
    ax2.set_title("(e) zeroing the head at test time only", fontsize=9)
    g = _mean(pts, "kao-fo-random", test_zeroing_gain())
    fig.suptitle(f"Protocol tier: the zeroing trick trains better, but zeroing a random head at "
                 f"test time only changes its accuracy by {_p(g, True)} points (1 test step)",
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
    share = _mean(pts, "kao-fo-random",
                  lambda d: d["contrastive"]["shares"][-1]["model"]["neg_share_diff"])
    ax.set_title(f"(f) {_p(share)}% of different-class coefficients are wrong-signed with a "
                 "random head\nat the end of training; none with the zeroing trick", fontsize=9)
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
    drops = {o: _p(_mean(pts, f"{o}-maml", freeze_drop(3))) for o in COLORS}
    ax.set_title(f"(i) freezing blocks 1–4 at test time costs MAML {drops['kao']} (kao) and "
                 f"{drops['finn']} (finn) points at 3 test steps", fontsize=9)
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
    def lowest(order):
        runs = list(pts.get(f"{order}-maml", {}).values())
        if not runs:
            return "–"
        layers = [k for k in runs[0]["cka"][-1]["layers"] if k != "head"]
        low = min(np.mean([r["cka"][-1]["layers"][k]["cka"] for r in runs]) for k in layers)
        return f"{low:.2f}"

    fig.suptitle(f"(j) CKA before vs after the inner loop: the lowest body block is at "
                 f"{lowest('kao')} (kao) and {lowest('finn')} (finn); the head far lower",
                 fontsize=10)
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
    def diff(order):
        return _p(paired(pts.get(f"{order}-anil", {}), pts.get(f"{order}-maml", {}),
                         lambda d: d["test"]["3"]["acc"])["mean"], True)

    nil = {o: _p(_mean(pts, f"{o}-anil", nil_gain), True) for o in COLORS}
    ax.set_title(f"(h), (k) ANIL − MAML: {diff('kao')} (kao), {diff('finn')} (finn) points;\n"
                 f"NIL − ANIL: {nil['kao']} (kao), {nil['finn']} (finn)", fontsize=9)
    fig.tight_layout()
    return fig


def fig_kao_omniglot(kao) -> Figure:
    """Kao22's Omniglot setting: the test-time-zeroing gain over training beside theirs, and
    each head's accuracy as trained and zeroed."""
    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    heads = [("omni-fo-random", "C0"), ("omni-fo-half", "C1"), ("omni-fo-zeroinit", "C2")]
    for name, c in heads:
        ref = KAO22_OMNIGLOT[name]
        ks = sorted(ref["gain_1"])
        ax1.plot(ks, [ref["gain_1"][k][0] for k in ks], color=c, ls="--", marker="x",
                 label=f"Kao22, {ref['label']}")
        runs = list(kao.get(name, {}).values())
        if runs:
            steps = [col["step"] for col in runs[0]["test_zeroed"]]
            g = np.array([[100 * zeroed_gain(col) for col in r["test_zeroed"]] for r in runs])
            ax1.errorbar(steps, g.mean(0), yerr=g.std(0) if len(runs) > 1 else None, color=c,
                         marker="o", capsize=3,
                         label=f"linmeta, {ref['label'].split(' (')[0]} ({len(runs)} seeds)")
    ax1.axhline(0, color="grey", lw=0.8)
    ax1.set_xlabel("outer step of the checkpoint")
    ax1.set_ylabel("accuracy with the head zeroed at test time\nminus as trained "
                   "(points, 1 test step), mean ± sd")
    ax1.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    labels = []
    x = np.arange(4)
    for j, (key, lab, c) in enumerate((("acc", "as trained", "C0"),
                                       ("zeroed", "head zeroed at test", "C3"))):
        ours, theirs = [], []
        for name in ("omni-fo-zeroing", "omni-fo-zeroinit", "omni-fo-half", "omni-fo-random"):
            ref = KAO22_OMNIGLOT[name]
            if j == 0:
                labels.append(ref["label"].split(" (")[0])
            runs = kao.get(name, {}).values()
            if key == "acc" or name == "omni-fo-zeroing":  # the trick's head is 0 already
                ours.append(interval(d["test"]["1"]["acc"] for d in runs))
                theirs.append(ref["acc"]["1"][0])
            else:
                ours.append(interval(zeroed_acc()(d) for d in runs))
                theirs.append(ref["zeroed"]["1"][0])
        xs = x + (j - 0.5) * 0.38
        ax2.bar(xs, [100 * iv["mean"] if iv["n"] else 0 for iv in ours], width=0.38,
                yerr=[100 * iv["half"] if np.isfinite(iv["half"]) else np.nan for iv in ours],
                capsize=3, color=c, label=f"linmeta, {lab}")
        ax2.plot(xs, [100 * t for t in theirs], "kx", ms=8,
                 label="Kao22 (their logs, step 2970)" if j == 0 else None)
    ax2.set_xticks(x, labels, fontsize=8)
    ax2.set_ylim(50, 100)
    ax2.set_ylabel("test accuracy (%), 1 test step\nmean ± 95% t-interval over seeds")
    ax2.legend(fontsize=7, loc="lower left")
    rd = kao.get("omni-fo-random", {})
    g_end = interval(test_zeroing_gain()(d) for d in rd.values())
    found = (f"test-time zeroing changes a random head by {_p(g_end['mean'], True)} points at "
             f"the last checkpoint (n={g_end['n']}); Kao22: +4.9") if rd else "no points yet"
    fig.suptitle(f"Kao22's Omniglot setting: {found}", fontsize=10)
    fig.tight_layout()
    return fig


def fig_kao_ablation(abl, kao, pts) -> Figure:
    """Claim (e): the test-time-zeroing gain at step 1000 for each factor moved toward the
    protocol tier, between the two tiers' own values."""
    from linmeta.fewshot.claims.grid import ABLATION_COMBINED, ABLATION_DATA, ABLATION_FACTORS

    rows = [("kao-omniglot tier", kao.get("omni-fo-random", {}), "C2")]
    rows += [(label, abl.get(name, {}), "C0") for name, _, label in ABLATION_FACTORS]
    rows += [(label, abl.get(name, {}), "C4") for name, _, label in ABLATION_COMBINED]
    rows += [(label, abl.get(name, {}), "C5") for name, _, label in ABLATION_DATA]
    rows.append(("protocol tier", pts.get("kao-fo-random", {}), "C3"))
    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    gain = test_zeroing_gain(step=1000)
    ivs = [interval(lookup(gain, d) for d in runs.values()) for _, runs, _ in rows]
    y = np.arange(len(rows))[::-1]
    ax.barh(y, [100 * iv["mean"] if iv["n"] else 0 for iv in ivs],
            xerr=[100 * iv["half"] if np.isfinite(iv["half"]) else np.nan for iv in ivs],
            color=[c for _, _, c in rows], capsize=3)
    ax.set_yticks(y, [f"{lab} (n={iv['n']})" for (lab, _, _), iv in zip(rows, ivs,
                                                                         strict=True)], fontsize=8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("accuracy with the head zeroed at test time minus as trained\n(points, 1 test "
                  "step, step 1000), mean ± 95% t-interval")
    neg = [lab for (lab, _, _), iv in zip(rows[1:-1], ivs[1:-1], strict=True)
           if iv["n"] > 1 and iv["hi"] < 0]
    found = ("no single factor flips the sign yet" if not neg else
             "the sign flips with: " + ", ".join(neg))
    ax.set_title(f"(e) one factor at a time from Kao22's setting toward the protocol:\n{found}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def fig_kao_long(klong, kao, long) -> Figure:
    """The kao-long tier: the random head's test-time-zeroing gain to 9000 steps, per seed,
    beside Kao22's (to step 2970) and the protocol tier's long run."""
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    ref = KAO22_OMNIGLOT["omni-fo-random"]["gain_1"]
    ks = sorted(ref)
    ax.plot(ks, [ref[k][0] for k in ks], "k--x", label="Kao22, random head (their logs)")
    for k, d in sorted(klong.get("omni-fo-random", {}).items()):
        short = kao.get("omni-fo-random", {}).get(k)  # every 500 steps up to 3000
        cols = {c["step"]: c for c in (short["test_zeroed"] if short else [])}
        cols.update({c["step"]: c for c in d["test_zeroed"]})
        steps = sorted(cols)
        ax.plot(steps, [100 * zeroed_gain(cols[s]) for s in steps], marker="o", ms=3,
                color=f"C{k}", label=f"linmeta, seed {k}")
    for d in (long or {}).get("kao-fo-random", {}).values():
        col = d["test_zeroed"][-1]
        ax.plot([col["step"]], [100 * zeroed_gain(col)], "s", color="C3", ms=8,
                label="protocol tier, 8000 steps (one seed)")
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(3000, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("outer step of the checkpoint")
    ax.set_ylabel("accuracy with the head zeroed at test time\nminus as trained (points, "
                  "1 test step)")
    ax.legend(fontsize=7)
    end = interval(lookup(test_zeroing_gain(step=9000), d)
                   for d in klong.get("omni-fo-random", {}).values())
    found = (f"at step 9000 the gain is {_p(end['mean'], True)} points (n={end['n']})"
             if end["n"] else "no run has reached step 9000 yet")
    ax.set_title(f"Kao22's Omniglot setting trained 3× longer: {found}", fontsize=9)
    fig.tight_layout()
    return fig


def fig_cosine_probe(probe) -> Figure:
    """Different-class cosine and the same − different gap over the probe's outer steps (the
    ratio is undefined once a different-class cosine reaches 0)."""
    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    ends = {}
    for head, c in (("random", "C0"), ("zeroinit", "C2"), ("zeroing", "C3")):
        runs = list(probe.get(head, {}).values())
        if runs:
            steps = runs[0]["steps"]
            for ax, key in ((ax1, "diff"), (ax2, "gap")):
                v = np.array([r[key] for r in runs])
                ax.plot(steps, v.mean(0), color=c, marker="o", ms=3,
                        label=f"linmeta, {head} ({len(runs)} seeds)")
                ax.fill_between(steps, v.min(0), v.max(0), color=c, alpha=0.15, lw=0)
            ends[head] = float(np.mean([r["diff"][-1] for r in runs]))
            ref = KAO22_COSINE[head]  # Kao22's curve beside each head linmeta ran
            for ax, key in ((ax1, "diff"), (ax2, "gap")):
                ax.plot(list(ref), [r[key] for r in ref.values()], color=c, ls="--",
                        marker="x", label=f"Kao22, {head}")
    ax1.set_ylabel("different-class query–support cosine\n(mean, band = min–max over seeds)")
    ax2.set_ylabel("same-class − different-class cosine (gap)")
    for ax in (ax1, ax2):
        ax.set_xlabel("outer step on the one task")
    ax2.legend(fontsize=7, loc="upper left")
    theirs = {h: KAO22_COSINE[h][101]["diff"] for h in ("random", "zeroing")}
    found = (f"different-class cosine after the last step: random {ends['random']:.3f}, zeroing "
             f"{ends['zeroing']:.3f} (Kao22: {theirs['random']:.3f}, {theirs['zeroing']:.3f})"
             if "random" in ends and "zeroing" in ends else "no runs yet")
    fig.suptitle(f"(g) Kao22's cosine probe: {found}", fontsize=10)
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

    def side(load, name):
        """The other tiers' files, beside the protocol's own results only."""
        d = ROOT / "results" / name
        return load(d) if not args.quick and args.results is None and d.is_dir() else None

    long = side(load_points, "fewshot_long")
    kao = side(load_points, "fewshot_kao_omniglot")
    probe = side(load_probe, "fewshot_cosine")
    abl = side(load_points, "fewshot_kao_ablation")
    klong = side(load_points, "fewshot_kao_long")
    if kao:
        _save(fig_kao_omniglot(kao), figs / "fewshot_kao_omniglot.png")
        made.append("fewshot_kao_omniglot.png")
    if abl:
        _save(fig_kao_ablation(abl, kao or {}, pts), figs / "fewshot_kao_ablation.png")
        made.append("fewshot_kao_ablation.png")
    if klong:
        _save(fig_kao_long(klong, kao or {}, long), figs / "fewshot_kao_long.png")
        made.append("fewshot_kao_long.png")
    if probe:
        _save(fig_cosine_probe(probe), figs / "fewshot_cosine_probe.png")
        made.append("fewshot_cosine_probe.png")
    rel = os.path.relpath(figs.resolve(), out.resolve().parent)
    text = render(pts, rel, "quick" if args.quick else "protocol", tuple(made), long,
                  crit=load_criteria(ROOT / "docs" / "criteria.toml"), probe=probe, kao=kao,
                  ablation=abl, kao_long=klong)
    atomic_write_text(out, text)
    n = sum(len(v) for v in pts.values())
    print(f"{out}: {n} points; figures in {figs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
