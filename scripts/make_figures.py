"""Regenerate every figure in figures/ from its sweep: ``python scripts/make_figures.py``.

Each figure's runs live in ``results/figures/<name>`` (``figures-quick`` with ``--quick``) and
are reused when present, so a second call only redraws. ``--only a_population,c_finite``
restricts the set.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import fig_diversity
import fig_finite
import fig_new_task
import fig_population
import fig_samples
import fig_tau
import fig_width
import figlib

MODULES = [fig_population, fig_diversity, fig_finite, fig_new_task, fig_tau, fig_width,
           fig_samples]


def make(module, quick: bool, jobs=None, results=None, figures=None) -> Path:
    points = module.points(quick)
    out = figlib.run_points(module.NAME, points, quick, jobs, results)
    fig = module.plot(out, points)
    suffix = "-quick" if quick else ""
    target = Path(figures or figlib.ROOT / "figures") / f"{module.NAME}{suffix}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=130)
    return target


if __name__ == "__main__":
    parser = figlib.arguments(__doc__)
    parser.add_argument("--only", default=None, help="comma-separated figure names")
    args = parser.parse_args()
    chosen = [m for m in MODULES if args.only is None or m.NAME in args.only.split(",")]
    for module in chosen:
        start = time.perf_counter()
        target = make(module, args.quick, args.jobs, args.results, args.figures)
        print(f"wrote {target} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
