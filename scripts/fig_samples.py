"""Figure (g): sample efficiency — distance to col(B*) against the number of samples used.

Every method gets the same data per point. On a fixed dataset of N = n·m samples (n tasks,
m = m_in + m_out samples each, ``--samples fixed``) the one-shot estimators (mom, mt_erm) pool
all N samples and the iterative methods (altmin, fedrep and the meta-learners) train on the
same N samples, all tasks every round, to convergence: AltMin and FedRep with β = 0.2 for
2000 rounds at d = 20 and 400 at d = 100, the meta-learners for 600 rounds with β = 0.5 (at
β = 0.2 they reach the same fixed-data floor, but not within 400 rounds); the distance at the
last two logged steps is
recorded to check convergence. The grid spans N from d·k to 100·d·k, at d = 20, k = 3 (m = 10)
and at d = 100, k = 5 (m = 20); σ = 0.1 and α = 0.1 as in claim 3.

The second regime is the meta-learners' usual one, claim 3's: fresh tasks and samples every
round (10·d·k samples per round, β = 0.2, 400 rounds), the distance drawn against the
samples drawn so far.

The figure is drawn from ``figures/g_samples.csv`` (written from the runs, one row per
setting, regime, method, dataset size, logged step and trial), which the reproduction report
reads too, so both regenerate in seconds once the CSV exists.
"""

from __future__ import annotations

import csv
from pathlib import Path

import figlib
import numpy as np
from matplotlib.figure import Figure

from linmeta.io import write_records
from linmeta.plotting import band, method_style

NAME = "g_samples"
ONE_SHOT = ["mom", "mt_erm"]
META = ["fo_anil", "anil", "fo_maml", "maml"]
ITERATIVE = ["altmin", "fedrep"] + META
SETTINGS = [dict(d=20, k=3, m=10), dict(d=100, k=5, m=20)]
RATIOS = [1, 3, 10, 30, 100]  # N / (d k)
EXTRA_N = {20: [1000]}  # the dataset size of claim 3 (n = 100 tasks, m = 10)
STEPS, META_STEPS, FRESH_STEPS = 400, 600, 400
COLUMNS = ["d", "k", "m", "regime", "method", "n_tasks", "samples", "step", "trial", "dist"]


def sizes(s: dict, quick: bool) -> list[int]:
    """Task counts n of the grid: N = n·m from d·k to 100·d·k."""
    ratios = [1, 10, 100] if quick else RATIOS
    ns = {max(1, round(r * s["d"] * s["k"] / s["m"])) for r in ratios}
    ns |= {N // s["m"] for N in EXTRA_N.get(s["d"], []) if not quick}
    return sorted(ns)


def points(quick: bool):
    pts = []
    for s in SETTINGS[:1] if quick else SETTINGS:
        base = dict(d=s["d"], k=s["k"], m_in=s["m"] // 2, m_out=s["m"] // 2, mode="finite",
                    sigma=0.1, alpha=0.1, n_test_tasks=0, trials=2 if quick or s["d"] > 20 else 3)
        fixed = {"d": [s["d"]], "samples": ["fixed"], "n_tasks": sizes(s, quick)}
        comparator_steps = STEPS if s["d"] > 20 else 5 * STEPS  # AltMin settles slowly near
        for beta, methods, steps in ((0.2, ONE_SHOT + ["altmin", "fedrep"], comparator_steps),
                                     (0.5, META, META_STEPS)):  # the threshold (d=20, N=600)
            pts += figlib.grid({**base, "steps": 60 if quick else steps,
                                "log_every": 30 if quick else 100, "methods": methods},
                               {**fixed, "beta": [beta]})
        per_round = 10 * s["d"] * s["k"] // s["m"]
        pts += figlib.grid({**base, "beta": 0.2, "steps": 60 if quick else FRESH_STEPS,
                            "log_every": 10, "methods": ITERATIVE},
                           {"d": [s["d"]], "samples": ["fresh"], "n_tasks": [per_round]})
    return pts


def collect(out, pts) -> list[dict]:
    """Tidy rows from the runs (``arrays.npz``: every logged step, NaN where a trial diverged):
    fixed data at the last two logged steps, fresh data at all."""
    rows = []
    for p in pts:
        c = p.config
        arrays = np.load(figlib.point_dir(out, p) / "arrays.npz")
        for method in c.methods:
            steps, dist = arrays[f"{method}.steps"], arrays[f"{method}.dist"]
            seen = arrays[f"{method}.samples"]
            keep = range(len(steps)) if c.samples == "fresh" else range(max(0, len(steps) - 2),
                                                                          len(steps))
            for j in keep:
                for trial in range(dist.shape[0]):
                    rows.append(dict(d=c.d, k=c.k, m=c.m_in + c.m_out, regime=c.samples,
                                     method=method, n_tasks=c.n_tasks, samples=int(seen[j]),
                                     step=int(steps[j]), trial=trial, dist=float(dist[trial, j])))
    return rows


def write_csv(rows: list[dict], path) -> None:
    write_records(path, [{**r, "dist": repr(r["dist"])} for r in rows], COLUMNS)


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: (v if k in ("regime", "method") else float(v) if k == "dist" else int(v))
                 for k, v in r.items()} for r in csv.DictReader(f)]


def final_table(rows: list[dict], d: int) -> dict:
    """Fixed data, last step: ``{method: (N (P,), dist (P, trials), dist one log earlier)}``."""
    out = {}
    for method in ONE_SHOT + ITERATIVE:
        sel = [r for r in rows if r["d"] == d and r["regime"] == "fixed" and r["method"] == method]
        if not sel:
            continue
        Ns = sorted({r["samples"] for r in sel})
        last, before = [], []
        for N in Ns:
            at = [r for r in sel if r["samples"] == N]
            steps = sorted({r["step"] for r in at})
            ordered = sorted(at, key=lambda r: r["trial"])
            last.append([r["dist"] for r in ordered if r["step"] == steps[-1]])
            before.append([r["dist"] for r in ordered if r["step"] == steps[0]])
        out[method] = (np.array(Ns), np.array(last), np.array(before))
    return out


def fresh_curves(rows: list[dict], d: int) -> dict:
    """Fresh samples: ``{method: (samples drawn (L,), dist (L, trials))}``."""
    out = {}
    for method in ITERATIVE:
        sel = [r for r in rows if r["d"] == d and r["regime"] == "fresh" and r["method"] == method]
        if not sel:
            continue
        steps = sorted({r["step"] for r in sel})
        N = np.array([next(r["samples"] for r in sel if r["step"] == s) for s in steps])
        dist = np.array([[r["dist"] for r in sorted(sel, key=lambda r: r["trial"])
                          if r["step"] == s] for s in steps])
        out[method] = (N, dist)
    return out


def slope(N, dist) -> float:
    """Slope of log(mean dist) in log N between the two largest sizes (30·d·k and 100·d·k on
    the full grid): the rate once the distance has left its plateau near 1."""
    mean = np.nanmean(dist[-2:], 1)
    return float(np.log(mean[1] / mean[0]) / np.log(N[-1] / N[-2]))


PANELS = (("per-task-head estimators and MoM, fixed data", ["mom", "mt_erm", "altmin", "fedrep"]),
          ("meta-learners, fixed data", META),
          ("fresh tasks and samples every round", ITERATIVE))
OPEN = ("mt_erm", "fo_maml", "maml")  # drawn as rings over their twins (fedrep, fo_anil, anil)


def _draw(ax, x, values, label, method, ls="-", every=1):
    """Mean over trials with a min–max band, a marker at every ``every``-th point; values
    (T, L)."""
    mean, lo, hi = band(values)
    style = method_style(method)
    ring = method in OPEN
    ax.plot(x, mean, ls, color=style["color"], marker=style["marker"],
            markersize=9 if ring else 5, mfc="none" if ring else style["color"],
            mew=1.5, markevery=every, label=label)
    ax.fill_between(x, lo, hi, color=style["color"], alpha=0.12, linewidth=0)


def plot_rows(rows: list[dict]) -> Figure:
    settings = sorted({(r["d"], r["k"], r["m"]) for r in rows})
    fig = Figure(figsize=(14, 4.2 * len(settings) + 0.8), layout="constrained")
    axes = fig.subplots(len(settings), len(PANELS), sharex=True, sharey=True, squeeze=False)
    for i, (d, k, m) in enumerate(settings):
        fixed, fresh = final_table(rows, d), fresh_curves(rows, d)
        for j, (title, methods) in enumerate(PANELS):
            ax = axes[i, j]
            for method in methods:
                if j < 2 and method in fixed:
                    N, last, _ = fixed[method]
                    ok = np.isfinite(last).any(1)  # a size where every trial diverged is left out
                    _draw(ax, N[ok] / (d * k), last[ok].T, method, method)
                elif j == 2 and method in fresh:
                    N, dist = fresh[method]
                    ok = N > 0
                    _draw(ax, N[ok] / (d * k), dist[ok].T, method, method, ":", every=8)
            if j == 0:
                ref = np.array([1.0, 100.0])
                ax.plot(ref, 0.5 * ref ** -0.5, "k--", lw=0.8, label="∝ N^(-1/2)")
            if j < 2:
                ax.axvspan(1, 100, color="0.93", zorder=0)
            ax.set_title(f"{title}\nd={d}, k={k}, m={m} per task", fontsize=9)
            ax.grid(alpha=0.3)
            if i == 0:
                ax.legend(fontsize=8, loc="lower left")
    ax = axes[0, 0]
    ax.set_xscale("log")
    ax.set_yscale("log")
    figlib.plain_log(ax.xaxis, 1, 1e4)
    figlib.plain_log(ax.yaxis, 1e-3, 1)
    for ax in axes[-1]:
        ax.set_xlabel("samples N / (d k): used (fixed data) or drawn so far (fresh)")
    for ax in axes[:, 0]:
        ax.set_ylabel("dist(B, B*)\n(mean, band min–max over trials)")
    fig.suptitle("(g) sample efficiency: every method on the same fixed N samples (shaded: the "
                 "fixed-data grid; iterative methods trained to convergence), and fresh samples "
                 "every round (right)\nrings: mt_erm, fo_maml and maml, which land on fedrep "
                 "(the same minimiser), fo_anil and anil; σ=0.1", fontsize=10)
    return fig


def csv_path(figures=None) -> Path:
    return Path(figures or figlib.ROOT / "figures") / f"{NAME}.csv"


def rows_for(out, pts, quick: bool) -> list[dict]:
    """The comparison's rows: collected from the runs, and for the full grid written to
    ``figures/g_samples.csv`` and read back (the figure and the report draw on that file)."""
    rows = collect(out, pts)
    if quick:
        return rows
    write_csv(rows, csv_path())
    return read_csv(csv_path())


def plot(out, pts) -> Figure:
    """Draw the figure from the runs' rows (full grid: through ``figures/g_samples.csv``)."""
    return plot_rows(rows_for(out, pts, quick=pts[0].config.steps < STEPS))


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
