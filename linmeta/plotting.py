"""Figures from saved results. Plotting never computes: it reads what runs wrote.

Uses ``matplotlib.figure.Figure`` directly (no pyplot, no global backend state).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

LABELS = {
    "dist": "dist(B_t, B*)  (sine of largest principal angle)",
    "loss": "outer loss",
    "w_norm": "‖w‖",
    "risk_subspace": "test excess risk (head in learned subspace)",
}


def band(values: np.ndarray):
    """Mean over trials and the min–max band, ignoring NaN (diverged) entries; values (T, L)."""
    ok = np.isfinite(values)
    count = ok.sum(0)
    safe = np.where(ok, values, 0.0)
    mean = np.where(count > 0, safe.sum(0) / np.maximum(count, 1), np.nan)
    lo = np.where(count > 0, np.where(ok, values, np.inf).min(0), np.nan)
    hi = np.where(count > 0, np.where(ok, values, -np.inf).max(0), np.nan)
    return mean, lo, hi


def _one_shot(ax, step, mean, lo, hi, label):
    """A one-shot estimator: a marked point at the step it is logged at, its min–max as an
    error bar, and a dotted horizontal line at its mean so that it reads against every step."""
    bar = ax.errorbar([step], [mean], yerr=[[mean - lo], [hi - mean]], fmt="*", markersize=11,
                      capsize=3, label=label)
    color = bar.lines[0].get_color()
    ax.axhline(mean, color=color, linestyle=":", linewidth=1.2)
    ax.annotate(label.split(" (")[0], (step, mean), textcoords="offset points", xytext=(-6, 6),
                ha="right", fontsize=7, color=color)


def convergence_figure(runs, metric: str = "dist", logy: bool = True, title: str | None = None):
    """Metric against step for every method of every run: mean line, min–max band over trials.

    runs : list of ``(label, metrics)`` with ``metrics`` from :func:`linmeta.results.read_metrics`.
    """
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    several = len(runs) > 1
    drawn = 0
    styles = ("-", "--", "-.", ":")
    for label, metrics in runs:
        for (method, name), (steps, values) in sorted(metrics.items()):
            if name != metric:
                continue
            mean, lo, hi = band(values)
            line_label = f"{label}: {method}" if several else method
            if steps.size == 1:  # a one-shot estimate: its value as a level across the axis
                _one_shot(ax, steps[0], mean[0], lo[0], hi[0],
                          f"{line_label} (one-shot, {values.shape[0]} trials)")
            else:
                (line,) = ax.plot(steps, mean, styles[drawn % len(styles)],
                                  label=f"{line_label} ({values.shape[0]} trials)")
                ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
            drawn += 1
    if drawn == 0:
        raise ValueError(f"no metric {metric!r} in the given results")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("outer step t")
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.set_title(title or "mean over trials, band: min–max")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return fig
