"""Shared plumbing of the figure scripts: arguments, running a sweep, reading its points.

Every figure script defines ``NAME``, ``points(quick) -> list[Point]`` and
``plot(results, points) -> Figure``, and ``REQUIRES`` (figure modules) when its plot also reads
another figure's runs; :func:`main` runs the sweeps (resumable, in
``results/figures[-quick]/NAME``) and writes ``figures/NAME.png``. The reproduction report
imports the same scripts, so it reads the very runs the figures show.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib import ticker

from linmeta.executors import LocalExecutor
from linmeta.plotting import band, collins_rate, plain, plain_log_axis, theory_line
from linmeta.results import read_metrics
from linmeta.sweep import expand, point_dir, run_sweep

ROOT = Path(__file__).resolve().parent.parent
TRIALS = 10
CRITERIA = ROOT / "docs" / "criteria.toml"


def criteria(path=None) -> dict:
    """The linear criteria, ``{name: {value, rows, whose, reason}}`` (``[linear.*]`` of
    ``docs/criteria.toml``; the file's other tables are the few-shot report's)."""
    import tomllib

    with open(path or CRITERIA, "rb") as f:
        return tomllib.load(f)["linear"]


def value(crit: dict, name: str):
    return crit[name]["value"]


def results_root(quick: bool, root=None) -> Path:
    if root is not None:
        return Path(root)
    return ROOT / "results" / ("figures-quick" if quick else "figures")


def run_points(name: str, points, quick: bool, jobs=None, root=None, quiet=False) -> Path:
    """Run (or resume) a figure's sweep; progress on stderr. Returns its results directory."""
    out = results_root(quick, root) / name
    start = time.perf_counter()
    done = []

    def progress(point, seconds):
        done.append(point)
        if not quiet:
            print(f"  [{name}] {len(done)} done: {point} ({seconds:.1f} s)", file=sys.stderr)

    report = run_sweep(points, out, LocalExecutor(jobs or os.cpu_count()), progress=progress)
    if not quiet:
        print(f"[{name}] {len(report.computed)} computed, {len(report.skipped)} reused, "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return out


def grid(base: dict, grid_: dict, seed: int = 0):
    """Points of one base config over a grid (one seed: trials are the replicates)."""
    return expand(base, grid_, [seed])


def metrics(out, point) -> dict:
    return read_metrics(point_dir(out, point))


def final(values: np.ndarray) -> np.ndarray:
    """Each trial's last finite value, shape (T,)."""
    out = np.full(values.shape[0], np.nan)
    for t, row in enumerate(values):
        ok = np.isfinite(row)
        if ok.any():
            out[t] = row[ok][-1]
    return out


def at_step(steps: np.ndarray, values: np.ndarray, step: int) -> np.ndarray:
    """Values (T,) at a logged step."""
    j = int(np.searchsorted(steps, step))
    if j >= steps.size or steps[j] != step:
        raise ValueError(f"step {step} was not logged")
    return values[:, j]


def draw_band(ax, x, values, label, style="-", color=None, marker=None):
    """Mean over trials with a min–max band; values (T, L)."""
    mean, lo, hi = band(values)
    (line,) = ax.plot(x, mean, style, label=label, color=color, marker=marker, markersize=4)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)
    return line


def draw_theory(ax, method, steps, values, config, c_values, color="black") -> list:
    """Collins22's predicted contraction beside one method's measured distance: the lines
    ``dist₀ (1 − c αβ μ*²)ᵗ`` for each c in ``c_values`` (``{c: label}``), dist₀ the mean
    distance at the first logged step, αβμ*² from :func:`linmeta.plotting.collins_rate`
    (c = 1) and the line from :func:`linmeta.plotting.theory_line`. values (T, L).
    Returns the lines drawn (none outside the theorem's setting)."""
    rate = collins_rate(config.to_dict())
    if rate is None:
        return []
    lines = []
    for (c, label), style in zip(c_values.items(), ("--", ":"), strict=False):
        drawn = theory_line({(method, "dist"): (steps, values)}, 1 - c * (1 - rate))
        if drawn is not None:
            lines += ax.plot(*drawn, style, color=color, lw=1.3, label=label)
    return lines


def c_labels(c_fit: float, where: str = "fitted on (b)") -> dict:
    """``{c: legend label}`` of the theory lines: c as fitted on figure (b) and c = 1."""
    out = {c_fit: f"theory, c = {c_fit:.3f} ({where}): dist₀ (1 − c αβμ*²)ᵗ"}
    out[1.0] = "theory, c = 1 (E₀ absorbed): dist₀ (1 − αβμ*²)ᵗ"
    return out


def plain_ticks(axis, values) -> None:
    """Ticks at ``values`` with plain labels (4, 0.5, 1e-05), no minor labels: for the log axes
    of the figures, whose default labels read "4×10⁰"."""
    axis.set_major_locator(ticker.FixedLocator(values))
    axis.set_major_formatter(ticker.FuncFormatter(plain))
    axis.set_minor_locator(ticker.NullLocator())


#: a log axis with plain labels (decades, or 1-2-5 ticks under two decades), as linmeta plot draws
plain_log = plain_log_axis


def arguments(description: str):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="reduced grid (a smoke test)")
    parser.add_argument("--jobs", type=int, default=None, help="processes [default: all CPUs]")
    parser.add_argument("--results", default=None,
                        help="results root [default: results/figures or figures-quick]")
    parser.add_argument("--figures", default=str(ROOT / "figures"), help="output folder")
    return parser


def main(module, description: str):
    """Run a figure script: sweep, then plot to FIGURES/NAME.png (NAME-quick.png if --quick)."""
    args = arguments(description).parse_args()
    for needed in getattr(module, "REQUIRES", ()):
        run_points(needed.NAME, needed.points(args.quick), args.quick, args.jobs, args.results)
    points = module.points(args.quick)
    out = run_points(module.NAME, points, args.quick, args.jobs, args.results)
    fig = module.plot(out, points)
    target = Path(args.figures) / f"{module.NAME}{'-quick' if args.quick else ''}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=130)
    print(f"wrote {target}", file=sys.stderr)
