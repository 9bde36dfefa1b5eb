"""Figure (a): population losses, every method — distance to col(B*) against the step.

docs/theory.md §1.3 claim 1 (d=20, k=3, n=20, α=β=0.5, σ=0, heads N(0, I_3), Collins22 init).
Reptile with τ = 1 is ERM with rate αβ, so it runs with τ = 2; the one-shot estimators
(mom, mt_erm) are drawn as markers at the last step.
"""

from __future__ import annotations

import figlib
from matplotlib.figure import Figure

NAME = "a_population"
METHODS = ["maml", "fo_maml", "anil", "fo_anil", "erm", "altmin", "fedrep", "mom", "mt_erm"]


def base(quick: bool) -> dict:
    return dict(d=20, k=3, n_tasks=20, alpha=0.5, beta=0.5, sigma=0.0, mode="population",
                steps=100, trials=4 if quick else figlib.TRIALS, n_test_tasks=0)


def points(quick: bool):
    b = base(quick)
    return (figlib.grid({**b, "methods": METHODS}, {"tau": [1]})
            + figlib.grid({**b, "methods": ["reptile"]}, {"tau": [2]}))


def plot(out, pts) -> Figure:
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for p in pts:
        m = figlib.metrics(out, p)
        for method in p.config.methods:
            steps, values = m[(method, "dist")]
            label = f"{method} (τ=2)" if method == "reptile" else method
            if steps.size == 1:
                ax.plot(steps, values.mean(0), "*", markersize=11, label=f"{label} (one-shot)")
            else:
                style = "--" if method.startswith("fo_") else ":" if method == "altmin" else "-"
                if method == "altmin":
                    label = "altmin (= fedrep in population)"
                figlib.draw_band(ax, steps, values, label, style)
    ax.set_yscale("log")
    ax.set_ylim(1e-17, 3)
    ax.set_xlabel("outer step t")
    ax.set_ylabel("dist(B_t, B*)")
    c = pts[0].config
    ax.set_title(f"(a) population loss, d={c.d}, k={c.k}, n={c.n_tasks}, α=β={c.alpha}; "
                 f"mean, band min–max over {c.trials} trials", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
