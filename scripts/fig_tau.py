"""Figure (e): τ inner steps, exact against first-order meta-gradients.

Claim-3 setting (finite samples, d=20, k=3, n=100, m_in=m_out=10, σ=0.1, α=0.1, β=0.2):
MAML/FO-MAML and ANIL/FO-ANIL with τ ∈ {1, 2, 4} inner steps. docs/theory.md §1.3 notes the exact
variants are faster early. One panel per family (MAML, ANIL) and τ, exact and first order side
by side in each, with their means at t = 150 marked.
"""

from __future__ import annotations

import figlib
import numpy as np
from matplotlib.figure import Figure

from linmeta.plotting import band, method_style

NAME = "e_tau"
METHODS = ["maml", "fo_maml", "anil", "fo_anil"]
EARLY = 150


def early_step(cfg) -> int:
    """The "early" step compared across τ: 150, or half the run if shorter."""
    return min(EARLY, cfg.steps // 2)


def taus(quick: bool):
    return [1, 3] if quick else [1, 2, 4]


def points(quick: bool):
    base = dict(d=20, k=3, mode="finite", n_tasks=100, m_in=10, m_out=10, sigma=0.1,
                alpha=0.1, beta=0.2, steps=100 if quick else 400, log_every=10,
                trials=4 if quick else figlib.TRIALS, n_test_tasks=0, methods=METHODS)
    return figlib.grid(base, {"tau": taus(quick)})


FAMILIES = (("MAML", "maml", "fo_maml"), ("ANIL", "anil", "fo_anil"))


def plot(out, pts) -> Figure:
    c = pts[0].config
    early_t = early_step(c)
    fig = Figure(figsize=(13, 6.4), layout="constrained")
    axes = fig.subplots(2, len(pts), sharex=True, sharey=True, squeeze=False)
    for j, p in enumerate(pts):
        m = figlib.metrics(out, p)
        for i, (family, exact, first) in enumerate(FAMILIES):
            ax = axes[i, j]
            lost = []
            for method, ls in ((exact, "-"), (first, "--")):
                steps, values = m[(method, "dist")]
                style = method_style(method)
                kind = "exact" if method == exact else "first order"
                figlib.draw_band(ax, steps, values, f"{method} ({kind})", ls, style["color"])
                at = band(figlib.at_step(steps, values, early_t)[:, None])[0]
                ax.plot([early_t], at, style["marker"], color=style["color"], markersize=6)
                gone = int((~np.isfinite(values[:, -1])).sum())
                if gone:
                    lost.append(f"{method} {gone}/{values.shape[0]}")
            if lost:
                ax.text(0.02, 0.03, "diverged: " + ", ".join(lost), transform=ax.transAxes,
                        fontsize=8, va="bottom")
            ax.axvline(early_t, color="k", lw=0.8, alpha=0.4)
            ax.set_title(f"{family}, τ = {p.config.tau} inner step{'s' * (p.config.tau > 1)}",
                         fontsize=9)
            ax.set_yscale("log")
            ax.grid(alpha=0.3)
    low = min(line.get_ydata().min() for ax in axes.ravel() for line in ax.get_lines()
              if len(line.get_ydata()) > 2)
    figlib.plain_log(axes[0, 0].yaxis, low, 1.0)
    for ax in axes[-1]:
        ax.set_xlabel("outer step t")
    for ax in axes[:, 0]:
        ax.set_ylabel("dist(B_t, B*), mean and min–max\nover the trials not diverged")
    handles, labels = [], []
    for row in axes[:, 0]:
        h, lab = row.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="outside right upper", fontsize=8,
               title=f"marker: mean at t = {early_t}", title_fontsize=8)
    fig.suptitle(f"(e) exact (solid) against first-order (dashed) meta-gradients, one panel per "
                 f"family and number of inner steps τ\nd={c.d}, k={c.k}, n={c.n_tasks}, "
                 f"m={c.m_in}, σ={c.sigma}, α={c.alpha}, β={c.beta}, {c.trials} trials",
                 fontsize=10)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
