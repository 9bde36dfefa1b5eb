"""Figure (e): τ inner steps, exact against first-order meta-gradients.

Claim-3 setting (finite samples, d=20, k=3, n=100, m_in=m_out=10, σ=0.1, α=0.1, β=0.2):
MAML/FO-MAML and ANIL/FO-ANIL with τ ∈ {1, 2, 4} inner steps. docs/theory.md §1.3 notes the exact
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
    fig = Figure(figsize=(14, 5.2), layout="constrained")
    gs = fig.add_gridspec(2, 3)
    axes = [fig.add_subplot(gs[:, 0]), fig.add_subplot(gs[:, 1])]
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
    c = pts[0].config
    early_t = early_step(c)
    tau = [p.config.tau for p in pts]
    top = fig.add_subplot(gs[0, 2])
    bottom = fig.add_subplot(gs[1, 2], sharex=top, sharey=top)
    for ax, when in ((top, "early"), (bottom, "final")):
        for k, method in enumerate(METHODS):
            vals = []
            for p in pts:
                steps, values = figlib.metrics(out, p)[(method, "dist")]
                vals.append(figlib.at_step(steps, values, early_t) if when == "early"
                            else figlib.final(values))
            x = np.arange(len(tau)) + (k - 1.5) * 0.17  # side by side, never on top
            med = np.array([np.nanmedian(v) for v in vals])
            q1 = np.array([np.nanpercentile(v, 25) for v in vals])
            q3 = np.array([np.nanpercentile(v, 75) for v in vals])
            exact = not method.startswith("fo_")
            ax.errorbar(x, med, yerr=[med - q1, q3 - med], fmt="o" if exact else "s",
                        mfc=f"C{k}" if exact else "white", color=f"C{k}", capsize=2,
                        markersize=5, label=method)
        ax.set_yscale("log")
        ax.grid(alpha=0.3, axis="y", which="both")
        ax.set_ylabel(f"dist at t={early_t if when == 'early' else c.steps}")
    bottom.set_xticks(range(len(tau)), [str(t) for t in tau])
    bottom.set_xlabel("inner steps τ (median, bar: quartiles over trials)")
    top.tick_params(labelbottom=False)
    top.set_title(f"(e) d={c.d}, k={c.k}, n={c.n_tasks}, m={c.m_in}, σ={c.sigma}, α={c.alpha}, "
                  f"β={c.beta}; {c.trials} trials\nearly (t={early_t}): exact (filled) below "
                  "first order (open)", fontsize=9)
    bottom.set_title(f"end of the run (t={c.steps})", fontsize=9)
    top.legend(fontsize=7, ncol=4, loc="lower center")
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
