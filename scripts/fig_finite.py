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
from matplotlib.figure import Figure

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


STYLE = {"fo_anil": ("-", "o"), "anil": ("--", "s"), "altmin": (":", "^"),
         "fedrep": ("-.", "v"), "mom": ("-", "*"), "mt_erm": ("--", "D")}


def plot(out, pts) -> Figure:
    res = table(out, pts)
    fig = Figure(figsize=(13.5, 4.8), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    ns = sorted(res["fo_anil"])
    colors = {n: f"C{i}" for i, n in enumerate(ns)}
    for method, by_n in res.items():
        ls, mk = STYLE[method]
        for n, (m, v) in by_n.items():
            figlib.draw_band(ax, m, v.T, f"{method}, n={n}", ls, colors[n], mk)
    ax.axvline(D, color="k", lw=0.8, alpha=0.5)
    ax.text(D, 1.2, " m = d", fontsize=8)
    for n, (m, v) in res["fo_anil"].items():
        figlib.draw_band(ax2, m / (D / n + 1), v.T, f"fo_anil, n={n}", "-", colors[n], "o")
    for n, (m, v) in res["anil"].items():
        figlib.draw_band(ax2, m / (D / n + 1), v.T, f"anil, n={n}", "--", colors[n], "s")
    r2n, r2m, slope = collapse_r2(res, "fo_anil")
    c = pts[0].config
    for a in (ax, ax2):
        a.set_xscale("log")
        a.set_yscale("log")
        a.grid(alpha=0.3, which="both")
    ax.set_xlabel("m = m_in = m_out (samples per task and round)")
    ax.set_ylabel(f"dist(B_t, B*) at t = {c.steps}")
    ax.set_title(f"(c) finite samples, d={c.d}, k={c.k}, σ={c.sigma}, α={c.alpha}, "
                 f"β={c.beta}; colour = n; {c.trials} trials", fontsize=9)
    # one legend entry per method (line style and marker) and per n (colour), beside the data
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="0.3", linestyle=STYLE[m][0], marker=STYLE[m][1],
                      label=m + (" (one-shot: one round)" if m in ("mom", "mt_erm") else ""))
               for m in res]
    handles += [Line2D([], [], color=colors[n], linewidth=6, label=f"n = {n}") for n in ns]
    fig.legend(handles=handles, loc="outside right upper", fontsize=7,
               title="method / tasks per round", title_fontsize=7)
    ax2.set_xlabel("m / (d/n + 1)")
    ax2.set_ylabel("final dist (FO-ANIL solid, ANIL dashed)")
    ax2.set_title(f"collapse: R² {r2n:.2f} on m/(d/n+1) vs {r2m:.2f} on m alone "
                  f"(FO-ANIL, slope {slope:.2f})", fontsize=9)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
