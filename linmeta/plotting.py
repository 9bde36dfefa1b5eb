"""Figures from saved results. Plotting never computes: it reads what runs wrote.

Uses ``matplotlib.figure.Figure`` directly (no pyplot, no global backend state).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps, colors, ticker
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from .sweep import SweepFinals

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


def convergence_figure(runs, metric: str = "dist", logy: bool = True, title: str | None = None,
                       theory: float | None = None):
    """Metric against step for every method of every run: mean line, min–max band over trials.

    runs : list of ``(label, metrics)`` with ``metrics`` from :func:`linmeta.results.read_metrics`.
    theory : the contraction factor ρ of :func:`collins_rate` (None: no theory line). With the
        distance, the line ``dist₀ ρᵗ`` is drawn beside the measured curves, from the mean
        step-0 distance of the first run's methods that the theorem covers (:func:`theory_line`).
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
    if theory is not None and metric == "dist":
        line = theory_line(runs[0][1], theory)
        if line is not None:
            ax.plot(*line, ":", color="black", linewidth=2,
                    label=f"theory (c = 1): dist₀ (1 − αβμ*²)ᵗ, αβμ*² = {1 - theory:.3g}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("outer step t")
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.set_title(title or "mean over trials, band: min–max")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


# ---------------------------------------------------------------- Collins22's rate

#: The methods Collins22's population theorem covers (docs/theory.md §1.3, claims 1 and 2).
THEOREM_METHODS = ("maml", "fo_maml", "anil", "fo_anil")
DIST_FLOOR = 1e-16  # the distance is accurate to about this (docs/theory.md §1.5)


def collins_rate(config: dict, problem_file: str | None = None) -> float | None:
    """Contraction factor ``ρ = 1 − c β α E₀ μ*²`` per outer step of Collins22's population
    theorem, with ``c E₀ = 1``; None when the run is outside the theorem's setting.

    Collins22: ``dist(B_t, B*)`` falls like ``(1 − c β α E₀ μ*²)ᵗ`` (docs/theory.md §1.3
    claim 2). No fitted c is available without figure (b)'s runs, so c = 1 with E₀ absorbed,
    as figure (b) writes the form (its fit gave c ≈ 1: docs/reproduction.md).
    The setting, all of: population losses (``mode = "population"``) with Σ = I
    (``x_cov_cond = 1``); Collins22's initialisation (``init = "collins"``, no problem file:
    w₀ = 0, α B₀ᵀB₀ = I); one inner step (τ = 1); fresh tasks every round (no ``task_pool``);
    learner width k′ = k; α > 0, β > 0; at least one of MAML, FO-MAML, ANIL, FO-ANIL among
    the methods; and ``0 < αβμ*² < 1``, where μ*² = λ_min(E[w* w*ᵀ]) of the head law (μ²
    for Collins22's heads N(0, diag(1, …, 1, μ²)) with μ ≤ 1; the large-n value of
    λ_min(Ψ*), as in figure (b)).

    config : a run's config as ``config.json`` stores it (:meth:`Config.to_dict`).
    """
    from .environment import head_distribution

    c = config
    setting = (c.get("mode") == "population" and c.get("x_cov_cond") == 1
               and c.get("init") == "collins" and problem_file is None and c.get("tau") == 1
               and not c.get("task_pool") and c.get("k_learner") in (0, c.get("k"))
               and c.get("alpha", 0) > 0 and c.get("beta", 0) > 0
               and any(m in THEOREM_METHODS for m in c.get("methods", ())))
    if not setting:
        return None
    mean, std = head_distribution(c["k"], c["head_mu"], c.get("head_kappa"),
                                  c.get("head_mean", 0.0))
    mu2 = float(np.linalg.eigvalsh(np.diag(std**2) + np.outer(mean, mean))[0])
    step = c["alpha"] * c["beta"] * mu2
    return 1.0 - step if 0 < step < 1 else None


def theory_line(metrics: dict, rate: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(t, dist₀ ρᵗ)`` at every step from the first logged one to the last, while it is above
    the distance's accuracy (1e-16). dist₀ is the mean distance at the first logged step of the
    methods :func:`collins_rate` covers; None when none of them has a distance."""
    found = [(steps, values) for (method, name), (steps, values) in sorted(metrics.items())
             if name == "dist" and method in THEOREM_METHODS and steps.size > 1]
    if not found:
        return None
    steps = found[0][0]
    start = np.nanmean(np.concatenate([v[:, 0] for s, v in found if s[0] == steps[0]]))
    t = np.arange(steps[0], steps[-1] + 1)
    y = start * rate ** (t - steps[0])
    keep = y >= DIST_FLOOR
    return t[keep], y[keep]


# ---------------------------------------------------------------- sweeps

#: Axis names of the fields a sweep usually varies; any other field is named as it is.
FIELD_LABELS = {
    "alpha": "α (inner rate)", "beta": "β (outer rate)", "head_mu": "μ (task diversity)",
    "head_kappa": "κ = cond(Ψ*)", "n_tasks": "n (tasks per round)", "d": "d (dimension)",
    "k": "k (true width)", "k_learner": "k′ (learner width)", "tau": "τ (inner steps)",
    "m_in": "m_in (inner samples)", "m_out": "m_out (outer samples)",
    "m_in+m_out": "m_in = m_out (samples per task)", "sigma": "σ (label noise)",
    "steps": "outer steps", "x_cov_cond": "cond(Σ)",
}
SHORT = {"dist": "dist(B, B*)", "outside_norm": "‖(I − P*) B‖₂", "loss": "outer loss",
         "risk_subspace": "new-task risk (learned subspace)",
         "risk_ls": "new-task risk (least squares)", "risk_oracle": "new-task risk (oracle)"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")
MAX_PANELS = 24


def method_style(method: str) -> dict:
    """A fixed colour and marker per method (the registry's order), the same in every figure."""
    from .algorithms import METHODS

    names = list(METHODS)
    i = names.index(method) if method in names else len(names)
    return {"color": f"C{i % 10}", "marker": MARKERS[i % len(MARKERS)]}


def plain(value: float, _pos=None) -> str:
    """A tick label without a power of ten in front: 0.5, 20, 1e-05."""
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:g}"
    return f"{value:.0e}"


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def plain_log_axis(axis, lo: float, hi: float) -> None:
    """Plain labels on a log axis: decades, or 1-2-5 ticks when it spans under two decades."""
    few = not (lo > 0 and hi / lo >= 100)
    axis.set_major_locator(ticker.LogLocator(10, subs=(1, 2, 5) if few else (1,)))
    axis.set_major_formatter(ticker.FuncFormatter(plain))
    axis.set_minor_formatter(ticker.NullFormatter())


def _replicates(finals) -> str:
    """'3 seeds × 5 trials' (the trials as a range when points differ)."""
    seeds, t = len(finals.seeds), finals.trials
    trials = str(t[0]) if len(t) == 1 else f"{t[0]}–{t[-1]}"
    return f"{seeds} seed{'' if seeds == 1 else 's'} × {trials} trial{'' if t == [1] else 's'}"


def _setting(finals, varied: set) -> str:
    """The fixed part of the config, for a title."""
    b = finals.base
    parts = [b.get("mode", "")]
    for name, text in (("d", "d={}"), ("k", "k={}"), ("n_tasks", "n={}"), ("alpha", "α={}"),
                       ("beta", "β={}"), ("head_mu", "μ={}"), ("tau", "τ={}"),
                       ("steps", "{} steps")):
        if name not in varied and name in b:
            parts.append(text.format(b[name]))
    if b.get("mode") == "finite" and not varied & {"m_in", "m_out"}:
        parts.append(f"m={b.get('m_in')}+{b.get('m_out')}")
    return ", ".join(p for p in parts if p)


def _panels(finals, keys: list) -> list:
    """Every combination of the values of the grid keys ``keys``: one panel each."""
    combos = list(itertools.product(*(finals.grid[k] for k in keys)))
    return [dict(zip(keys, combo, strict=True)) for combo in combos]


def _cell(finals, method: str, where: dict):
    """A cell's final values (N,), empty when it has none or is not in the sweep."""
    at = tuple(where[k] for k in finals.grid)
    return finals.cells.get((method, at), np.empty(0))


def _gaps(finals) -> str:
    """Why a cell may have no value: every trial diverged, the point is not finished."""
    why = []
    if any(v.size == 0 for v in finals.cells.values()):
        why.append("every trial diverged")
    if finals.unfinished:
        why.append(f"{len(finals.unfinished)} of {finals.points} points not finished")
    return " or ".join(why)


def _varied(finals) -> set:
    return {name for key in finals.grid for name in key.split("+")} | set(finals.grid)


def sweep_lines_figure(finals: SweepFinals, x: str, logy: bool = True) -> Figure:
    """A sweep's final metric against one grid key, one line per method: the mean over every
    finished seed and trial at each value, and a min–max band.

    finals : :func:`linmeta.sweep.read_finals`; x : a key of its grid
    (:meth:`~linmeta.sweep.SweepFinals.key`). Every other grid key gets a panel per value
    (small multiples, shared axes). The x axis is logarithmic when the values are positive and
    span a decade or more, categorical when they are not numbers.
    """
    others = [k for k in finals.grid if k != x]
    panels = _panels(finals, others)
    if len(panels) > MAX_PANELS:
        raise ValueError(f"the grid also varies {', '.join(others)}: {len(panels)} panels; "
                         f"at most {MAX_PANELS} (give one of them as --y for a heat map)")
    xs = finals.grid[x]
    numeric = _numeric(xs)
    pos = np.array(xs, float) if numeric else np.arange(len(xs), dtype=float)
    logx = numeric and pos.min() > 0 and pos.max() / pos.min() >= 10
    cols = len(panels) if len(panels) <= 3 else min(3, math.ceil(math.sqrt(len(panels))))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(1.6 + 3.9 * cols, 0.9 + 3.1 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False))
    axes = axes.ravel()
    values = []
    for ax, where in zip(axes, panels, strict=False):
        for method in finals.methods:
            cells = [_cell(finals, method, {**where, x: v}) for v in xs]
            ok = np.array([c.size > 0 for c in cells])
            if not ok.any():
                continue
            mean = np.array([c.mean() if c.size else np.nan for c in cells])
            lo = np.array([c.min() if c.size else np.nan for c in cells])
            hi = np.array([c.max() if c.size else np.nan for c in cells])
            style = method_style(method)
            ax.plot(pos[ok], mean[ok], "-", label=method, markersize=6, **style)
            ax.fill_between(pos[ok], lo[ok], hi[ok], color=style["color"], alpha=0.15,
                            linewidth=0)
            values += [lo[ok], hi[ok]]
        ax.set_title(", ".join(f"{_name(k)} = {plain(v) if _numeric([v]) else v}"
                               for k, v in where.items()), fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if not values:
        raise ValueError(f"no finite final {finals.metric} in the finished points")
    values = np.concatenate(values)
    logy = logy and bool((values > 0).all())
    ax = axes[0]
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
        plain_log_axis(ax.yaxis, values.min(), values.max())
    ax.set_xticks(pos, [plain(v) if numeric else str(v) for v in xs])
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    for i, a in enumerate(axes[:len(panels)]):
        if i + cols >= len(panels):  # nothing drawn below it
            a.set_xlabel(_name(x))
            a.xaxis.set_tick_params(labelbottom=True)
        if a.get_subplotspec().is_first_col():
            a.set_ylabel(f"final {SHORT.get(finals.metric, finals.metric)}\n"
                         f"mean over {_replicates(finals)}; band: min–max")
    handles, labels = axes[0].get_legend_handles_labels()
    for a in axes[1:len(panels)]:
        for h, lab in zip(*a.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside right upper", title="method")
    gaps = f"; no marker: {_gaps(finals)}" if _gaps(finals) else ""
    fig.suptitle(f"Final {SHORT.get(finals.metric, finals.metric)} against {_name(x)}\n"
                 f"({_setting(finals, _varied(finals))}{gaps})", fontsize=10)
    return fig


def sweep_heatmap_figure(finals: SweepFinals, x: str, y: str, logc: bool = True) -> Figure:
    """A phase diagram: the sweep's final metric (mean over every finished seed and trial) over
    two grid keys, one panel per method (and per value of any further grid key), one shared
    colour bar, logarithmic when every value is positive. Cells are equal-sized, ordered by
    value; a cell with no value (an unfinished point, every trial diverged) is grey.

    finals : :func:`linmeta.sweep.read_finals`; x, y : two keys of its grid. The panels'
    arrays (``ax.collections[0].get_array()``, shape (len(y values), len(x values))) hold the
    means.
    """
    if x == y:
        raise ValueError(f"--x and --y are both {x}; give two different grid fields")
    others = [k for k in finals.grid if k not in (x, y)]
    rows_of = _panels(finals, others)
    methods = finals.methods
    if len(rows_of) * len(methods) > MAX_PANELS:
        raise ValueError(f"{len(rows_of) * len(methods)} panels ({len(methods)} methods × "
                         f"{len(rows_of)} values of {', '.join(others)}); at most {MAX_PANELS}")
    xs, ys = finals.grid[x], finals.grid[y]
    grids = {}
    for r, where in enumerate(rows_of):
        for method in methods:
            grids[(r, method)] = np.array(
                [[_mean(_cell(finals, method, {**where, x: vx, y: vy})) for vx in xs]
                 for vy in ys])
    every = np.concatenate([g.ravel() for g in grids.values()])
    every = every[np.isfinite(every)]
    if not every.size:
        raise ValueError(f"no finite final {finals.metric} in the finished points")
    if logc and (every > 0).all():
        norm = colors.LogNorm(every.min(), max(every.max(), every.min() * 1.001))
    else:
        norm = colors.Normalize(every.min(), every.max())
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    nrows, ncols = len(rows_of), len(methods)
    fig = Figure(figsize=(1.8 + 2.9 * ncols, 1.0 + 2.7 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    mesh = None
    for (r, method), g in grids.items():
        ax = axes[r, methods.index(method)]
        mesh = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5,
                             np.ma.masked_invalid(g), cmap=cmap, norm=norm)
        for (i, j), v in np.ndenumerate(g):
            if np.isfinite(v):
                dark = np.mean(cmap(norm(v))[:3]) < 0.5
                ax.text(j, i, plain(float(f"{v:.2g}")), ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
        title = method + "".join(f"\n{_name(k)} = {v}" for k, v in rows_of[r].items())
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(xs)), [plain(v) if _numeric([v]) else str(v) for v in xs])
        ax.set_yticks(range(len(ys)), [plain(v) if _numeric([v]) else str(v) for v in ys])
        if r == nrows - 1:
            ax.set_xlabel(_name(x))
        if methods.index(method) == 0:
            ax.set_ylabel(_name(y))
    bar = fig.colorbar(mesh, ax=axes, shrink=0.9)
    bar.set_label(f"final {SHORT.get(finals.metric, finals.metric)}, "
                  f"mean over {_replicates(finals)}")
    if isinstance(norm, colors.LogNorm):
        plain_log_axis(bar.ax.yaxis, norm.vmin, norm.vmax)
    grey = any(np.isnan(g).any() for g in grids.values())
    missing = f" (grey: {_gaps(finals)})" if grey else ""
    fig.suptitle(f"Final {SHORT.get(finals.metric, finals.metric)} over {_name(x)} and "
                 f"{_name(y)}, per method{missing}\n({_setting(finals, _varied(finals))})",
                 fontsize=10)
    return fig


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _name(key: str) -> str:
    return FIELD_LABELS.get(key, key)
