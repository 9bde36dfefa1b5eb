"""Figure (d): a new task's excess risk against its number of samples m_test.

docs/theory.md §1.3 claim 4: a new task adapted in the learned k-dim subspace from O(k) samples
reaches low excess risk, while least squares in d dims needs ≥ d samples. The subspace is learned by
FO-ANIL (and, for comparison, the method of moments) in the claim-3 setting (finite samples,
n=100, m_in=m_out=10, σ=0.1, α=0.1, β=0.2, t=400); each new task fits a head by least squares
in col(B) (``risk_subspace``), all d coordinates by minimum-norm least squares (``risk_ls``),
or a head in col(B*) (``risk_oracle``). Excess risk ``(θ̂ − θ*)ᵀ Σ (θ̂ − θ*)``, mean over 100
new tasks, then mean and min–max band over trials.
"""

from __future__ import annotations

import figlib
import numpy as np
from matplotlib.figure import Figure

NAME = "d_new_task"
METHODS = ["fo_anil", "mom"]
D = 20


def m_tests(quick: bool):
    return [3, 6, 30] if quick else [3, 4, 6, 8, 12, 16, 24, 30, 40, 60]


def points(quick: bool):
    steps = 60 if quick else 400
    base = dict(d=D, k=3, mode="finite", n_tasks=100, m_in=10, m_out=10, sigma=0.1,
                alpha=0.1, beta=0.2, steps=steps, log_every=steps, n_test_tasks=100,
                trials=4 if quick else figlib.TRIALS, methods=METHODS)
    return figlib.grid(base, {"m_test": m_tests(quick)})


def table(out, pts) -> dict:
    """{curve: (m_test (P,), final risk (P, T))} for the learned subspaces, LS and the oracle."""
    curves = {}
    for p in pts:
        m = figlib.metrics(out, p)
        for method in METHODS:
            curves.setdefault(f"{method} subspace", []).append(
                figlib.final(m[(method, "risk_subspace")][1]))
        curves.setdefault("least squares (d dims)", []).append(
            figlib.final(m[("fo_anil", "risk_ls")][1]))
        curves.setdefault("oracle B*", []).append(figlib.final(m[("fo_anil", "risk_oracle")][1]))
    mt = np.array([p.config.m_test for p in pts])
    return {name: (mt, np.array(v)) for name, v in curves.items()}


def plot(out, pts) -> Figure:
    curves = table(out, pts)
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    styles = {"fo_anil subspace": "-o", "mom subspace": "-.*", "least squares (d dims)": "--s",
              "oracle B*": ":^"}
    for name, (mt, v) in curves.items():
        figlib.draw_band(ax, mt, v.T, name, styles[name][:-1], marker=styles[name][-1])
    c = pts[0].config
    ax.axvline(c.d, color="k", lw=0.8, alpha=0.5)
    ax.axvline(c.k, color="k", lw=0.8, alpha=0.3)
    ax.text(c.d, ax.get_ylim()[1], " m_test = d", fontsize=8, va="top")
    ax.text(c.k, ax.get_ylim()[1], " k", fontsize=8, va="top")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("m_test (samples of the new task)")
    ax.set_ylabel("excess risk on the new task")
    ax.set_title(f"(d) new-task risk; subspace learned with n={c.n_tasks}, m={c.m_in}, "
                 f"t={c.steps}, d={c.d}, k={c.k}, σ={c.sigma}; {c.trials} trials", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
