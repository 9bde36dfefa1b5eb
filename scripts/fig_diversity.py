"""Figure (b): task diversity — the linear convergence rate against μ, with the theory's form.

Heads N(0, diag(1, 1, μ²)) (Collins22), so μ*² = λ_min(Ψ*) = μ²; population losses, d=20, k=3,
n=20, α=β=0.5. The measured rate is −slope of log dist(B_t, B*) per step, fitted per trial
inside the ``rate_window`` of docs/criteria.toml (1e-10 < dist < 1e-2, the exponential phase).
The theory's rate form ``dist_t ∝ (1 − c β α E_0 μ*²)^t`` (Collins22) is overlaid as
``−log(1 − c αβ μ²)`` with E_0 absorbed in c, c fitted by least squares on log rates over all
methods and μ (the c that docs/reproduction.md judges claims 1 and 2 with).
"""

from __future__ import annotations

import math

import figlib
import numpy as np
from matplotlib import colormaps, ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from linmeta.plotting import band, method_style, plain

NAME = "b_diversity"
METHODS = ["maml", "fo_maml", "anil", "fo_anil"]


def window(crit: dict | None = None) -> tuple[float, float]:
    """The distances a rate is fitted over (``rate_window`` of docs/criteria.toml)."""
    lo, hi = figlib.value(crit or figlib.criteria(), "rate_window")
    return float(lo), float(hi)


def mus(quick: bool):
    return [0.3, 0.5, 1.0] if quick else [0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0]


def steps_for(mu: float, alpha=0.5, beta=0.5) -> int:
    """Enough steps to cross the fitting window at the expected rate ≈ αβμ²."""
    return max(300, min(6000, math.ceil(30 / (alpha * beta * mu**2) / 100) * 100))


def points(quick: bool):
    out = []
    for mu in mus(quick):
        steps = min(steps_for(mu), 400) if quick else steps_for(mu)
        base = dict(d=20, k=3, n_tasks=20, alpha=0.5, beta=0.5, mode="population",
                    steps=steps, trials=figlib.TRIALS if not quick else 4, n_test_tasks=0,
                    log_every=max(1, steps // 300), methods=METHODS)
        out += figlib.grid(base, {"head_mu": [mu]})
    return out


def rates(steps: np.ndarray, values: np.ndarray, within: tuple[float, float]) -> np.ndarray:
    """Per-trial rate −d log(dist)/dt over the distances ``within`` (lo, hi); NaN with fewer
    than 4 points there. values (T, L)."""
    out = np.full(values.shape[0], np.nan)
    for t, row in enumerate(values):
        ok = np.isfinite(row) & (row > within[0]) & (row < within[1])
        if ok.sum() >= 4:
            out[t] = -np.polyfit(steps[ok], np.log(row[ok]), 1)[0]
    return out


def measure(out, pts, within: tuple[float, float] | None = None) -> dict:
    """{method: (mu (P,), rates (P, T))} for the points of the sweep."""
    within = within or window()
    res = {}
    for method in METHODS:
        mu, r = [], []
        for p in pts:
            steps, values = figlib.metrics(out, p)[(method, "dist")]
            mu.append(p.config.head_mu)
            r.append(rates(steps, values, within))
        res[method] = (np.array(mu), np.array(r))
    return res


def theory_rate(mu, c, alpha=0.5, beta=0.5):
    return -np.log1p(-np.minimum(c * alpha * beta * np.asarray(mu) ** 2, 1 - 1e-12))


def fit_c(res: dict, alpha=0.5, beta=0.5) -> tuple[float, float]:
    """c minimising Σ (log r_measured − log r_theory(c))² over methods, μ and trials; returns
    (c, largest relative deviation of the mean rate from the fitted form)."""
    mu = np.concatenate([np.repeat(m, r.shape[1]) for m, r in res.values()])
    r = np.concatenate([r.ravel() for _, r in res.values()])
    ok = np.isfinite(r)
    grid = np.geomspace(0.05, 3.9, 4000)
    err = [np.sum((np.log(r[ok]) - np.log(theory_rate(mu[ok], c))) ** 2) for c in grid]
    c = float(grid[int(np.argmin(err))])
    dev = 0.0
    for m, rr in res.values():
        mean = np.nanmean(rr, 1)
        dev = max(dev, float(np.nanmax(np.abs(mean / theory_rate(m, c) - 1))))
    return c, dev


def fitted_c(out, pts) -> float:
    """The c of the rate form fitted on this figure's runs (:func:`fit_c`)."""
    return fit_c(measure(out, pts))[0]


def plot(out, pts) -> Figure:
    res = measure(out, pts)
    c, dev = fit_c(res)
    labels = figlib.c_labels(c, "fitted")
    fig = Figure(figsize=(14, 6.4), layout="constrained")
    grid = fig.add_gridspec(2, 3, width_ratios=[1.25, 1, 1])
    ax = fig.add_subplot(grid[:, 0])
    for method, (mu, r) in res.items():
        style = method_style(method)
        figlib.draw_band(ax, mu, r.T, method, "-" if method.startswith("fo_") else "--",
                         style["color"], style["marker"])
    line_mu = np.geomspace(min(p.config.head_mu for p in pts), 1.0, 200)
    for (cc, label), ls in zip(labels.items(), ("--", ":"), strict=False):
        ax.plot(line_mu, theory_rate(line_mu, cc), ls, color="black", lw=1.5,
                label=label.replace("dist₀ (1 − c αβμ*²)ᵗ", "−log(1 − c αβμ²)")
                .replace("dist₀ (1 − αβμ*²)ᵗ", "−log(1 − αβμ²)"))
    mus_ = sorted({p.config.head_mu for p in pts})
    ax.set_xscale("log")
    ax.set_yscale("log")
    figlib.plain_ticks(ax.xaxis, mus_)
    every = np.concatenate([r[np.isfinite(r)] for _, r in res.values()])
    figlib.plain_ticks(ax.yaxis, [x for x in (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
                                  if every.min() / 2 <= x <= every.max() * 2])
    ax.set_xlabel("μ  (λ_min(Ψ*) = μ²)")
    ax.set_ylabel("rate per step, −d log dist / dt (mean, band min–max over trials)")
    ax.set_title(f"rate against task diversity; the fitted form deviates ≤ {100 * dev:.0f}%",
                 fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left")

    colors = {mu: colormaps["viridis"](i / max(1, len(mus_) - 1) * 0.9)
              for i, mu in enumerate(mus_)}
    within = window()
    axes = [fig.add_subplot(grid[i, j]) for i in range(2) for j in (1, 2)]
    for a in axes[1:]:
        a.sharex(axes[0])
        a.sharey(axes[0])
    for a, method in zip(axes, METHODS, strict=True):
        for p in pts:
            steps, values = figlib.metrics(out, p)[(method, "dist")]
            mean = band(values)[0]
            a.plot(steps, mean, "-", color=colors[p.config.head_mu], lw=1.5)
            figlib.draw_theory(a, method, steps, values, p.config, {c: labels[c]},
                               color=colors[p.config.head_mu])
        a.axhspan(*within, color="grey", alpha=0.08)
        a.set_title(method, fontsize=9)
        a.set_yscale("log")
        a.set_xscale("symlog", linthresh=100, linscale=0.6)
        a.set_xlim(0, None)
        a.set_ylim(1e-11, 2)
        a.grid(alpha=0.3)
    figlib.plain_log(axes[0].yaxis, 1e-11, 2)
    axes[0].xaxis.set_major_formatter(ticker.FuncFormatter(plain))
    for a in axes[2:]:
        a.set_xlabel("outer step t (linear to 100, then log)")
    for a in axes[::2]:
        a.set_ylabel("dist(B_t, B*), mean")
    handles = [Line2D([], [], color=colors[mu], lw=2, label=f"μ = {mu:g}") for mu in mus_]
    handles += [Line2D([], [], color="0.3", lw=1.5, label="measured (mean over trials)"),
                Line2D([], [], color="0.3", lw=1.3, ls="--",
                       label=f"theory, c = {c:.3f}: dist₀ (1 − c αβμ²)ᵗ"),
                Patch(color="grey", alpha=0.15, label="rate-fit window")]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    c0 = pts[0].config
    fig.suptitle(f"(b) task diversity sets the rate: measured against Collins22's "
                 f"(1 − c αβ μ*²)ᵗ, c fitted = {c:.3f}\npopulation, d={c0.d}, k={c0.k}, "
                 f"n={c0.n_tasks}, α=β={c0.alpha}, heads N(0, diag(1, 1, μ²)), "
                 f"{c0.trials} trials", fontsize=10)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
