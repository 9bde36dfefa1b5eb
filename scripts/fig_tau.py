"""Figure (e): τ inner steps, exact against first-order meta-gradients.

Claim-3 setting (finite samples, d=20, k=3, n=100, m_in=m_out=10, σ=0.1, α=0.1, β=0.2):
MAML/FO-MAML and ANIL/FO-ANIL with τ ∈ {1, 2, 4} inner steps. THEORY §1.3 notes the exact
variants are faster early; the left panels show the trajectories, the right one the distance
at t = 150 and at the end against τ.
"""

from __future__ import annotations

import figlib
import numpy as np
from matplotlib.figure import Figure

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


def plot(out, pts) -> Figure:
    fig = Figure(figsize=(13, 4.5), layout="constrained")
    axes = fig.subplots(1, 3)
    for i, p in enumerate(pts):
        m = figlib.metrics(out, p)
        for j, family in enumerate((("maml", "fo_maml"), ("anil", "fo_anil"))):
            for method in family:
                steps, values = m[(method, "dist")]
                style = "--" if method.startswith("fo_") else "-"
                figlib.draw_band(axes[j], steps, values, f"{method}, τ={p.config.tau}", style,
                                 color=f"C{i}")
    for j, name in enumerate(("MAML", "ANIL")):
        axes[j].set_yscale("log")
        axes[j].set_xlabel("outer step t")
        axes[j].set_ylabel("dist(B_t, B*)")
        axes[j].set_title(f"{name}: exact (solid) vs first order (dashed)", fontsize=9)
        axes[j].grid(alpha=0.3)
        axes[j].legend(fontsize=7)
    ax = axes[2]
    early_t = early_step(pts[0].config)
    tau = [p.config.tau for p in pts]
    for k, method in enumerate(METHODS):
        early, last = [], []
        for p in pts:
            steps, values = figlib.metrics(out, p)[(method, "dist")]
            early.append(figlib.at_step(steps, values, early_t))
            last.append(figlib.final(values))
        style = "--" if method.startswith("fo_") else "-"
        figlib.draw_band(ax, tau, np.array(early).T, f"{method}, t={early_t}", style,
                         color=f"C{k}", marker="o")
        figlib.draw_band(ax, tau, np.array(last).T, f"{method}, t={pts[0].config.steps}",
                         style, color=f"C{k}", marker="s")
    ax.set_yscale("log")
    ax.set_xticks(tau)
    ax.set_xlabel("inner steps τ")
    ax.set_ylabel("dist")
    c = pts[0].config
    ax.set_title(f"(e) d={c.d}, k={c.k}, n={c.n_tasks}, m={c.m_in}, σ={c.sigma}, α={c.alpha}, "
                 f"β={c.beta}; {c.trials} trials", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
