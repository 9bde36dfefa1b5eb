"""Figure (a): population losses, every method — distance to col(B*) against the step, with
Collins22's predicted contraction beside each meta-learner.

docs/theory.md §1.3 claim 1 (d=20, k=3, n=20, α=β=0.5, σ=0, heads N(0, I_3), Collins22 init).
One panel per meta-learner: its mean and min–max band over trials, and the theorem's
``dist₀ (1 − c αβ μ*²)ᵗ`` with c as fitted on figure (b)'s runs (``REQUIRES``) and with c = 1
(E₀ absorbed, as ``linmeta run``'s convergence.png). The last panel holds ERM and the
comparators. Reptile with τ = 1 is ERM with rate αβ, so it runs with τ = 2; the one-shot
estimators (mom, mt_erm) are drawn as markers at the last step.
"""

from __future__ import annotations

import fig_diversity
import figlib
from matplotlib.figure import Figure

from linmeta.plotting import method_style

NAME = "a_population"
METHODS = ["maml", "fo_maml", "anil", "fo_anil", "erm", "altmin", "fedrep", "mom", "mt_erm"]
META = ["maml", "fo_maml", "anil", "fo_anil"]
REQUIRES = [fig_diversity]  # the fitted c of the theory line


def base(quick: bool) -> dict:
    return dict(d=20, k=3, n_tasks=20, alpha=0.5, beta=0.5, sigma=0.0, mode="population",
                steps=100, trials=4 if quick else figlib.TRIALS, n_test_tasks=0)


def points(quick: bool):
    b = base(quick)
    return (figlib.grid({**b, "methods": METHODS}, {"tau": [1]})
            + figlib.grid({**b, "methods": ["reptile"]}, {"tau": [2]}))


def fitted_c(out, pts) -> float:
    """c fitted on figure (b)'s runs, which lie beside this figure's under the same root."""
    quick = pts == points(True)
    return fig_diversity.fitted_c(out.parent / fig_diversity.NAME, fig_diversity.points(quick))


def plot(out, pts) -> Figure:
    c_fit = fitted_c(out, pts)
    fig = Figure(figsize=(12, 6.6), layout="constrained")
    axes = fig.subplots(2, 3, sharex=True, sharey=True).ravel()
    panels = dict(zip(META + ["others"], axes, strict=False))
    handles = {}
    for p in pts:
        m = figlib.metrics(out, p)
        for method in p.config.methods:
            steps, values = m[(method, "dist")]
            ax = panels.get(method, panels["others"])
            style = method_style(method)
            label = f"{method} (τ=2)" if method == "reptile" else method
            if method == "altmin":
                label = "altmin (= fedrep in population)"
            if steps.size == 1:
                line = ax.errorbar(steps, values.mean(0), fmt=style["marker"], markersize=9,
                                   color=style["color"], label=f"{label} (one-shot)")
            else:
                line = figlib.draw_band(ax, steps, values, label,
                                        ":" if method == "altmin" else "-", style["color"])
            handles.setdefault(line.get_label(), line)
            if method in META:
                ax.set_title(f"{method}: measured and predicted", fontsize=9)
                for th in figlib.draw_theory(ax, method, steps, values, p.config,
                                             figlib.c_labels(c_fit)):
                    handles.setdefault(th.get_label(), th)
    panels["others"].set_title("ERM and the comparators", fontsize=9)
    theory = [k for k in handles if k.startswith("theory")]
    order = [k for k in handles if k not in theory] + theory
    legend_ax = axes[-1]
    legend_ax.axis("off")
    legend_ax.legend([handles[k] for k in order], order, loc="center", fontsize=8,
                     title="measured: mean over trials, band min–max\n"
                           "theory (black): the two c nearly coincide", title_fontsize=8)
    for ax in axes[:-1]:
        ax.set_yscale("log")
        ax.set_ylim(1e-17, 3)
        ax.grid(alpha=0.3)
    figlib.plain_log(axes[0].yaxis, 1e-17, 3)
    for ax in axes[3:5]:
        ax.set_xlabel("outer step t")
        ax.xaxis.set_tick_params(labelbottom=True)
    for ax in (axes[0], axes[3]):
        ax.set_ylabel("dist(B_t, B*)")
    c = pts[0].config
    fig.suptitle(f"(a) population loss: the four meta-learners contract at Collins22's rate, "
                 f"ERM does not recover col(B*)\nd={c.d}, k={c.k}, n={c.n_tasks}, "
                 f"α=β={c.alpha}, heads N(0, I), {c.trials} trials. The lines start at dist₀; "
                 "the measured curves follow a few steps later (w₀ = 0 at first), at the same "
                 "slope", fontsize=10)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
