"""Regenerate every figure in figures/ from its sweep: ``python scripts/make_figures.py``.

Each figure's runs live in ``results/figures/<name>`` (``figures-quick`` with ``--quick``) and
are reused when present, so a second call only redraws. ``--only a_population,c_finite``
restricts the set. A module's ``plot(out, points)`` gives ``figures/<NAME>.png``; a module
that draws several figures from one sweep (``fig_sweep``) gives ``plots(out, points)``, a dict
``{file stem: Figure}``. Runs that a plot reads from another figure (``REQUIRES``) are run
first.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import fig_dimension
import fig_diversity
import fig_finite
import fig_new_task
import fig_population
import fig_samples
import fig_sweep
import fig_tau
import fig_width
import figlib

MODULES = [fig_population, fig_diversity, fig_finite, fig_new_task, fig_tau, fig_width,
           fig_samples, fig_dimension, fig_sweep]


def make(module, quick: bool, jobs=None, results=None, figures=None) -> list[Path]:
    for needed in getattr(module, "REQUIRES", ()):
        figlib.run_points(needed.NAME, needed.points(quick), quick, jobs, results)
    points = module.points(quick)
    out = figlib.run_points(module.NAME, points, quick, jobs, results)
    drawn = (module.plots(out, points) if hasattr(module, "plots")
             else {module.NAME: module.plot(out, points)})
    suffix = "-quick" if quick else ""
    targets = []
    for name, fig in drawn.items():
        target = Path(figures or figlib.ROOT / "figures") / f"{name}{suffix}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=130)
        targets.append(target)
    return targets


if __name__ == "__main__":
    parser = figlib.arguments(__doc__)
    parser.add_argument("--only", default=None, help="comma-separated figure names")
    args = parser.parse_args()
    chosen = [m for m in MODULES if args.only is None or m.NAME in args.only.split(",")]
    for module in chosen:
        start = time.perf_counter()
        targets = make(module, args.quick, args.jobs, args.results, args.figures)
        print(f"wrote {', '.join(map(str, targets))} ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr)
