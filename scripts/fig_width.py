"""Figure (f): a wider learner, k′ > k — FO-ANIL and ANIL.

Yüksel, Boursier and Flammarion (2024): with k′ > k, FO-ANIL still learns col(B*) while the
extra directions are unlearned only slowly. We measure both: dist(B_t, B*) (the part of col(B*)
outside col(B_t)) and ``outside_norm`` = ‖(I − P*) B_t‖₂ (the learner's part outside col(B*)),
in finite samples (n=50, m_in=m_out=10, σ=0.1, α=0.1, β=0.2) and, dashed, in population mode,
where the extra directions receive no gradient at all and stay where they started.
"""

from __future__ import annotations

import figlib
import numpy as np
from matplotlib.figure import Figure

NAME = "f_width"
METHODS = ["fo_anil", "anil"]


def points(quick: bool):
    base = dict(d=20, k=3, n_tasks=50, m_in=10, m_out=10, sigma=0.1, alpha=0.1, beta=0.2,
                steps=200 if quick else 2000, log_every=10 if quick else 20,
                trials=4 if quick else figlib.TRIALS, n_test_tasks=0, methods=METHODS)
    return figlib.grid(base, {"mode": ["finite", "population"], "k_learner": [3, 6]})


def decay_exponent(steps, values, start=None) -> float:
    """Slope of log(mean outside_norm) against log t over the second half of the run."""
    mean = np.nanmean(values, 0)
    ok = (steps >= (start or steps[-1] // 2)) & np.isfinite(mean) & (mean > 0)
    return float(np.polyfit(np.log(steps[ok]), np.log(mean[ok]), 1)[0])


def plot(out, pts) -> Figure:
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    for p in pts:
        m = figlib.metrics(out, p)
        c = p.config
        for j, method in enumerate(METHODS):
            color = f"C{2 * (c.learner_k > c.k) + j}"
            style = "-" if c.mode == "finite" else "--"
            label = f"{method}, k′={c.learner_k}, {c.mode}"
            steps, values = m[(method, "dist")]
            figlib.draw_band(ax, steps, values, label, style, color)
            steps, values = m[(method, "outside_norm")]
            if c.mode == "finite" and c.learner_k > c.k:
                label += f" (∝ t^{decay_exponent(steps, values):.2f} at the end)"
            figlib.draw_band(ax2, np.maximum(steps, 1), values, label, style, color)
    c = pts[0].config
    ax.set_yscale("log")
    ax.set_xlabel("outer step t")
    ax.set_ylabel("dist(B_t, B*)  (col(B*) outside col(B_t))")
    ax.set_title(f"(f) k={c.k}, d={c.d}, n={c.n_tasks}, m={c.m_in}, σ={c.sigma}, α={c.alpha}, "
                 f"β={c.beta}; {c.trials} trials", fontsize=9)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("outer step t")
    ax2.set_ylabel("‖(I − P*) B_t‖₂  (learner outside col(B*))")
    ax2.set_title("extra directions: unlearned slowly (finite), never (population)", fontsize=9)
    for a in (ax, ax2):
        a.grid(alpha=0.3, which="both")
        a.legend(fontsize=7)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
