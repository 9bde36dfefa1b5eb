"""Figure (h): samples per task against the dimension — does "m ≪ d" hold as d grows?

docs/theory.md §1.3 claim 3: FO-ANIL recovers col(B*) with m = O((d/n + 1) k³) samples per task
(Collins22), far fewer than the Ω(d) a single task needs. That is a statement about how m scales
with d, so it is tested by growing d at fixed k: d ∈ {20, 50, 100, 200}, k = 3, n = 2d tasks per
round (d/n + 1 = 1.5 at every d, so the bound does not grow with d), m_in = m_out = m ∈ {1, …, 8},
σ = 0.1, α = 0.1, β = 0.2 as in claim 3, fresh tasks every round. A run's floor is the mean over
trials of dist over the last 100 rounds (``floor_rounds`` of docs/criteria.toml); 600 rounds leave
the largest d 150 rounds at its floor. The smallest m whose floor is at most the criteria's
``recovery_level`` is found per d; the claim holds if it stays flat in d (the bound: slope 0 of
log m in log d) rather than growing like d (slope 1).

n = 2d rather than n ≫ d: the bound depends on n only through d/n + 1, which n = 2d holds
constant; n = 10d would cost 5× more (d = 200: 2000 tasks of up to 2·8 samples in R²⁰⁰ per
round). 2 trials per point: the whole sweep takes a few minutes on one core.
"""

from __future__ import annotations

import figlib
import numpy as np
from matplotlib.figure import Figure

from linmeta.plotting import method_style

NAME = "h_dimension"
METHOD = "fo_anil"


def grid_values(quick: bool):
    """(d values, m values)."""
    if quick:
        return [20, 50], [2, 8]
    return [20, 50, 100, 200], [1, 2, 3, 4, 6, 8]


def points(quick: bool):
    ds, ms = grid_values(quick)
    pts = []
    for d in ds:
        base = dict(d=d, k=3, n_tasks=2 * d, mode="finite", sigma=0.1, alpha=0.1, beta=0.2,
                    steps=300 if quick else 600, log_every=20, trials=2,
                    n_test_tasks=0, methods=[METHOD])
        pts += figlib.grid(base, {"d": [d], "m_in+m_out": ms})
    return pts


def floor(steps: np.ndarray, values: np.ndarray, rounds: int) -> float:
    """Mean over trials and over the logged steps of the last ``rounds`` rounds; NaN when a
    trial diverged there."""
    last = steps >= steps[-1] - rounds
    return float(np.mean(values[:, last]))


def table(out, pts, rounds: int) -> dict:
    """``{d: (m (M,), floor (M,))}``."""
    res: dict = {}
    for p in pts:
        steps, values = figlib.metrics(out, p)[(METHOD, "dist")]
        res.setdefault(p.config.d, []).append((p.config.m_in, floor(steps, values, rounds)))
    return {d: (np.array([m for m, _ in rows]), np.array([f for _, f in rows]))
            for d, rows in sorted(res.items())}


def smallest_m(res: dict, level: float) -> dict:
    """``{d: the smallest m whose floor is at most level, or None}``."""
    out = {}
    for d, (m, f) in res.items():
        ok = np.isfinite(f) & (f <= level)
        out[d] = int(m[ok].min()) if ok.any() else None
    return out


def growth(needed: dict) -> float | None:
    """Slope of log m against log d over the d with an m (None with fewer than two)."""
    pairs = [(d, m) for d, m in needed.items() if m is not None]
    if len(pairs) < 2:
        return None
    d, m = np.array(pairs, dtype=float).T
    return float(np.round(np.polyfit(np.log(d), np.log(m), 1)[0], 12) + 0.0)  # no "-0.00"


def m_scales_slowly(needed: dict, max_slope: float) -> tuple[float | None, bool]:
    """Collins22's "m ≪ d" as a scaling: an m at every d, and log m growing in log d with a
    slope below ``max_slope`` (docs/criteria.toml ``m_growth``). Returns (slope, holds)."""
    slope = growth(needed)
    return slope, bool(slope is not None and all(m is not None for m in needed.values())
                       and slope < max_slope)


def plot(out, pts) -> Figure:
    crit = figlib.criteria()
    level, rounds = figlib.value(crit, "recovery_level"), figlib.value(crit, "floor_rounds")
    res = table(out, pts, rounds)
    needed = smallest_m(res, level)
    slope, _ = m_scales_slowly(needed, figlib.value(crit, "m_growth"))
    c = pts[0].config
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    markers = ["o", "s", "^", "D", "v", "P"]
    diverged = []
    for i, (d, (m, f)) in enumerate(res.items()):
        ok = np.isfinite(f)
        ax.plot(m[ok], f[ok], "-", marker=markers[i % len(markers)], color=f"C{i}",
                label=f"d = {d}, n = {2 * d}")
        diverged += [f"d = {d} at m = {int(x)}" for x in m[~ok]]
    if diverged:
        ax.text(0.03, 0.03, "not drawn, diverged: " + "; ".join(diverged),
                transform=ax.transAxes, fontsize=8)
    ax.axhline(level, color="k", lw=1, ls="--")
    ax.text(res[min(res)][0][-1], level, f"recovery level {level:g} ", ha="right",
            va="bottom", fontsize=8)
    ms = sorted({int(x) for m, _ in res.values() for x in m})
    ax.set_xscale("log")
    ax.set_yscale("log")
    figlib.plain_ticks(ax.xaxis, ms)
    figlib.plain_log(ax.yaxis, 0.02, 1.0)
    ax.set_xlabel("m = m_in = m_out (samples per task and round)")
    ax.set_ylabel(f"floor: dist over the last {rounds} rounds\n(mean over {c.trials} trials)")
    ax.set_title("FO-ANIL's floor against m, one line per d", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper right")

    ds = np.array(list(needed), dtype=float)
    found = np.array([needed[d] if needed[d] is not None else np.nan for d in needed])
    style = method_style(METHOD)
    ax2.plot(ds, found, "-", label=f"smallest m with floor ≤ {level:g}", **style)
    for d in ds[~np.isfinite(found)]:
        ax2.annotate("none on the grid", (d, max(ms)), fontsize=7, ha="center")
    ref = found[np.isfinite(found)][0] if np.isfinite(found).any() else 1.0
    d0 = ds[np.isfinite(found)][0] if np.isfinite(found).any() else ds[0]
    ax2.plot(ds, ref * ds / d0, "k:", label="m ∝ d (a single task needs Ω(d))")
    ax2.plot(ds, np.full(ds.size, ref), "k--", lw=0.8,
             label="m flat in d (Collins22 at n ∝ d)")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    figlib.plain_ticks(ax2.xaxis, [int(d) for d in ds])
    figlib.plain_ticks(ax2.yaxis, [x for x in (1, 2, 4, 8, 16, 32, 64, 128)
                                   if x <= 2 * max(ms + [ref * ds[-1] / d0])])
    ax2.set_xlabel("dimension d (k = 3 fixed, n = 2d)")
    ax2.set_ylabel("samples per task m")
    growth_text = f"slope of log m in log d: {slope:.2f}" if slope is not None else "no slope"
    ax2.set_title(f"samples needed against d; {growth_text}", fontsize=9)
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"(h) m ≪ d as d grows: FO-ANIL, k={c.k}, σ={c.sigma}, α={c.alpha}, "
                 f"β={c.beta}, {c.steps} rounds of fresh tasks", fontsize=10)
    return fig


if __name__ == "__main__":
    import sys

    figlib.main(sys.modules[__name__], __doc__)
