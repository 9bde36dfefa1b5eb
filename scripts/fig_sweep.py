"""A sweep drawn by ``linmeta plot --x/--y``: final distance against α, and the α × μ phase
diagram, for MAML, ANIL and ERM in population mode.

Population losses, d=20, k=3, n=20 fresh tasks per round, β=0.5, Collins22's initialisation
(so ‖B₀‖² = 1/α per column), 150 outer steps, 3 trials × 2 seeds per grid point;
α ∈ {0.05, …, 1} and heads N(0, diag(1, 1, μ²)) with μ ∈ {0.25, 0.5, 1} (docs/theory.md §1.1).
42 points, ≈ 30 s on one core. ``scripts/make_figures.py`` draws both figures through
:func:`plots`; the same figures from the command line::

    linmeta sweep --set d=20 --set k=3 --set beta=0.5 --set steps=150 --set trials=3 \\
        --set n_test_tasks=0 --set methods=maml,anil,erm \\
        --grid alpha=0.05,0.1,0.2,0.3,0.5,0.7,1 --grid head_mu=0.25,0.5,1 --seeds 0-1 \\
        --jobs 1 --out results/figures/sweep
    linmeta plot results/figures/sweep --x alpha --out figures/sweep_alpha.png
    linmeta plot results/figures/sweep --x alpha --y head_mu --out figures/sweep_phase.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import figlib

from linmeta.plotting import sweep_heatmap_figure, sweep_lines_figure
from linmeta.sweep import expand, read_finals

NAME = "sweep"
BASE = dict(mode="population", d=20, k=3, n_tasks=20, beta=0.5, steps=150, trials=3,
            n_test_tasks=0, methods=["maml", "anil", "erm"])
GRID = {"alpha": [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0], "head_mu": [0.25, 0.5, 1.0]}
QUICK = {"alpha": [0.1, 0.5, 1.0], "head_mu": [0.5, 1.0]}


def points(quick: bool):
    return expand(BASE, QUICK if quick else GRID, [0] if quick else [0, 1])


def plots(out, pts) -> dict:
    """``{file stem: Figure}``: the lines against α and the α × μ phase diagram."""
    finals = read_finals(out, "dist")
    if finals.unfinished:
        print(f"warning: {len(finals.unfinished)} points not finished", file=sys.stderr)
    return {"sweep_alpha": sweep_lines_figure(finals, "alpha"),
            "sweep_phase": sweep_heatmap_figure(finals, "alpha", "head_mu")}


if __name__ == "__main__":
    args = figlib.arguments(__doc__).parse_args()
    pts = points(args.quick)
    out = figlib.run_points(NAME, pts, args.quick, args.jobs or 1, args.results)
    suffix = "-quick" if args.quick else ""
    for name, fig in plots(out, pts).items():
        target = Path(args.figures) / f"{name}{suffix}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=130)
        print(f"wrote {target}", file=sys.stderr)
