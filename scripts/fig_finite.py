"""Figure (c): finite samples — final distance against the samples per task m, for several n.

Collins22's claim (docs/theory.md §1.3 claim 3): ANIL/FO-ANIL recover col(B*) up to a
statistical floor with m = O((d/n + 1) k³) samples per task, far fewer than the Ω(d) one task
needs. Every method sees m_in = m_out = m samples per task; the iterative methods (ANIL, FO-ANIL,
altmin, fedrep) see fresh tasks and samples every round for t = 400 rounds, the one-shot estimators
(mom, mt_erm) see one round (n tasks × 2m samples). The right panel puts m / (d/n + 1) on the
x axis: if the floor depends on m and n only through it, the curves of different n coincide.
"""

from __future__ import annotations

import figlib
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from linmeta.plotting import method_style

NAME = "c_finite"
METHODS = ["fo_anil", "anil", "altmin", "fedrep", "mom", "mt_erm"]
D = 20


def grid_values(quick: bool):
    if quick:
        return [5, 100], [4, 10]
    return [5, 20, 100], [4, 6, 10, 16, 25]


def points(quick: bool):
    ns, ms = grid_values(quick)
    base = dict(d=D, k=3, mode="finite", sigma=0.1, alpha=0.1, beta=0.2,
                steps=60 if quick else 400, trials=4 if quick else figlib.TRIALS,
                n_test_tasks=0, log_every=20, methods=METHODS)
    return figlib.grid(base, {"n_tasks": ns, "m_in+m_out": ms})


def table(out, pts) -> dict:
    """{method: {n: (m (M,), final dist (M, T))}}."""
    res = {}
    for method in METHODS:
        by_n = {}
        for p in pts:
            _, values = figlib.metrics(out, p)[(method, "dist")]
            by_n.setdefault(p.config.n_tasks, []).append((p.config.m_in, figlib.final(values)))
        res[method] = {n: (np.array([m for m, _ in rows]), np.array([v for _, v in rows]))
                       for n, rows in sorted(by_n.items())}
    return res


def collapse_r2(res: dict, method: str, d: int = D) -> tuple[float, float, float]:
    """R² of log(final dist) regressed on log(m/(d/n+1)) and on log m alone, and the slope of
    the former: the (d/n + 1) scaling holds when normalising by it explains more."""
    x_norm, x_m, y = [], [], []
    for n, (m, v) in res[method].items():
        mean = np.nanmean(v, 1)
        x_norm += list(np.log(m / (d / n + 1)))
        x_m += list(np.log(m))
        y += list(np.log(mean))
    y = np.array(y)

    def r2(x):
        coef = np.polyfit(x, y, 1)
        return 1 - np.sum((np.polyval(coef, x) - y) ** 2) / np.sum((y - y.mean()) ** 2), coef[0]

    (a, slope), (b, _) = r2(np.array(x_norm)), r2(np.array(x_m))
    return float(a), float(b), float(slope)


def plot(out, pts) -> Figure:
    res = table(out, pts)
    ns = sorted(res["fo_anil"])
    c = pts[0].config
    fig = Figure(figsize=(15, 5.0), layout="constrained")
    axes = fig.subplots(1, len(ns) + 1, sharey=True)
    every = []
    for ax, n in zip(axes, ns, strict=False):
        for method, by_n in res.items():
            m, v = by_n[n]
            style = method_style(method)
            label = method + (" (one-shot: one round)" if method in ("mom", "mt_erm") else "")
            figlib.draw_band(ax, m, v.T, label, "--" if method in ("mom", "mt_erm") else "-",
                             style["color"], style["marker"])
            every.append(v[np.isfinite(v)])
        ax.set_title(f"n = {n} tasks per round (d/n + 1 = {D / n + 1:g})", fontsize=9)
        ax.set_xlabel("m = m_in = m_out per task")
    ms = sorted({int(x) for by_n in res.values() for m, _ in by_n.values() for x in m})
    collapse = axes[-1]
    colors = {n: colormaps["viridis"](0.85 * i / max(1, len(ns) - 1)) for i, n in enumerate(ns)}
    for method, ls, mk in (("fo_anil", "-", "o"), ("anil", "--", "s")):
        for n, (m, v) in res[method].items():
            figlib.draw_band(collapse, m / (D / n + 1), v.T, f"{method}, n = {n}", ls,
                             colors[n], mk)
    r2n, r2m, slope = collapse_r2(res, "fo_anil")
    collapse.set_xlabel("m / (d/n + 1)")
    collapse.set_title(f"FO-ANIL (solid), ANIL (dashed) against m/(d/n + 1)\nR² {r2n:.2f} on "
                       f"log m/(d/n+1) against {r2m:.2f} on log m alone", fontsize=9)
    collapse.legend(fontsize=7, loc="lower left", ncol=2)
    every = np.concatenate(every)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in axes[:-1]:
        figlib.plain_ticks(ax.xaxis, ms)
    figlib.plain_ticks(collapse.xaxis, [x for x in (1, 2, 5, 10, 20) if
                                        min(ms) / (D / min(ns) + 1) / 2 <= x <= max(ms) * 2])
    figlib.plain_log(axes[0].yaxis, max(every.min(), 1e-3), 1.0)
    axes[0].set_ylabel(f"dist(B_t, B*) at t = {c.steps}\n(mean, band min–max over "
                       f"{c.trials} trials)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", fontsize=8, ncol=len(labels))
    fig.suptitle(f"(c) finite samples: distance after {c.steps} rounds of fresh tasks against "
                 f"the samples per task m, one panel per n; d={c.d}, k={c.k}, σ={c.sigma}, "
                 f"α={c.alpha}, β={c.beta}", fontsize=10)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
