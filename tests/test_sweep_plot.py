"""`linmeta plot SWEEP --x F [--y G]`: a sweep's final metric against its grid fields.

The expected numbers are computed here from the point directories with the csv module, not
with linmeta's readers, so that the figure is checked against the files themselves.
"""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from linmeta.cli import cli
from linmeta.executors import LocalExecutor
from linmeta.plotting import sweep_heatmap_figure, sweep_lines_figure
from linmeta.sweep import SweepError, expand, read_finals, run_sweep

BASE = dict(d=6, k=2, n_tasks=5, steps=8, trials=2, n_test_tasks=0, beta=0.5,
            methods=["maml", "anil", "erm"])
ALPHAS = [0.1, 0.3, 1.0]
MUS = [0.5, 1.0]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps")
    one = expand(BASE, {"alpha": ALPHAS}, [0, 1])
    two = expand(BASE, {"alpha": ALPHAS, "head_mu": MUS}, [0, 1])
    run_sweep(one, root / "one", LocalExecutor(1))
    run_sweep(two, root / "two", LocalExecutor(1))
    return root


def expected_means(out: Path, metric: str = "dist") -> dict:
    """{(method, alpha, head_mu): mean over seeds and trials of the value at the last step},
    straight from each point's config.json and metrics.csv."""
    pooled: dict = {}
    for point in sorted((out / "points").iterdir()):
        if not (point / "config.json").exists():  # not finished
            continue
        config = json.loads((point / "config.json").read_text())["config"]
        with open(point / "metrics.csv", newline="") as f:
            for row in csv.DictReader(f):
                if row["metric"] == metric and int(row["step"]) == config["steps"]:
                    key = (row["method"], config["alpha"], config["head_mu"])
                    pooled.setdefault(key, []).append(float(row["value"]))
    return {key: float(np.mean(values)) for key, values in pooled.items()}


def test_line_plot_has_one_line_per_method_at_the_grid_values_with_the_mean(sweeps):
    finals = read_finals(sweeps / "one")
    fig = sweep_lines_figure(finals, "alpha")
    (ax,) = [a for a in fig.axes if a.get_visible()]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert sorted(lines) == sorted(BASE["methods"])
    want = expected_means(sweeps / "one")
    assert len(want) == 3 * len(ALPHAS)
    for method, line in lines.items():
        x = list(line.get_xdata())
        assert x == [a for a in ALPHAS if (method, a, 1.0) in want]
        np.testing.assert_allclose(line.get_ydata(), [want[(method, a, 1.0)] for a in x],
                                   rtol=1e-12)
    assert ax.get_xscale() == "log"  # 0.1 to 1: a decade
    colours = {line.get_color() for line in lines.values()}
    markers = {line.get_marker() for line in lines.values()}
    assert len(colours) == len(markers) == len(lines)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["0.1", "0.3", "1"]
    assert "mean over 2 seeds × 2 trials" in ax.get_ylabel()
    assert fig.legends and not ax.get_legend()  # the legend is outside the axes


def test_line_plot_gets_a_panel_per_value_of_the_other_grid_field(sweeps):
    fig = sweep_lines_figure(read_finals(sweeps / "two"), "alpha")
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == [f"μ (task diversity) = {m:g}" for m in MUS]
    want = expected_means(sweeps / "two")
    for ax, mu in zip(axes, MUS, strict=True):
        for line in ax.get_lines():
            y = [want[(line.get_label(), a, mu)] for a in line.get_xdata()]
            np.testing.assert_allclose(line.get_ydata(), y, rtol=1e-12)


def test_heat_map_array_is_the_grid_of_final_means(sweeps):
    finals = read_finals(sweeps / "two")
    fig = sweep_heatmap_figure(finals, "alpha", "head_mu")
    panels = [a for a in fig.axes if a.get_title() in BASE["methods"]]
    assert [a.get_title() for a in panels] == BASE["methods"]
    want = expected_means(sweeps / "two")
    meshes = []
    for ax in panels:
        mesh = ax.collections[0]
        meshes.append(mesh)
        grid = np.array([[want.get((ax.get_title(), a, m), np.nan) for a in ALPHAS]
                         for m in MUS])
        got = np.ma.filled(mesh.get_array().astype(float), np.nan).reshape(grid.shape)
        np.testing.assert_allclose(got, grid, rtol=1e-12)
    assert len({id(m.norm) for m in meshes}) == 1  # one colour scale for every panel
    assert type(meshes[0].norm).__name__ == "LogNorm"
    assert len(fig.axes) == len(panels) + 1  # one shared colour bar


def test_cli_writes_both_figures_and_warns_about_unfinished_points(sweeps, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(sweeps / "two", partial)
    (partial / "points" / "alpha=1.0__head_mu=0.5__seed=1" / "config.json").unlink()
    res = CliRunner().invoke(cli, ["plot", str(partial), "--x", "alpha", "--y", "head_mu"])
    assert res.exit_code == 0, res.output
    assert (partial / "sweep_alpha_head_mu.png").stat().st_size > 0
    warnings = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("Warning: 1 of 12 points")
    finals, full = read_finals(partial), read_finals(sweeps / "two")
    assert finals.unfinished == ["alpha=1.0__head_mu=0.5__seed=1"]
    kept = expected_means(partial)[("erm", 1.0, 0.5)]  # from the seed that is left
    assert finals.cells[("erm", (1.0, 0.5))].mean() == pytest.approx(kept, rel=1e-12)
    assert finals.cells[("erm", (1.0, 0.5))].size == full.cells[("erm", (1.0, 0.5))].size // 2
    res = CliRunner().invoke(cli, ["plot", str(sweeps / "one"), "--x", "alpha", "--out",
                                   str(tmp_path / "a.png")])
    assert res.exit_code == 0 and not res.stderr and (tmp_path / "a.png").stat().st_size > 0


def test_fields_are_resolved_or_refused(sweeps):
    finals = read_finals(sweeps / "two")
    assert finals.key("alpha") == "alpha" and finals.key("head_mu") == "head_mu"
    for field, message in (("d", "not in this sweep's grid"), ("bogus", "not a config field"),
                           ("seed", "replicate")):
        with pytest.raises(SweepError, match=message):
            finals.key(field)
    with pytest.raises(SweepError, match="no metric 'bogus'"):
        read_finals(sweeps / "two", "bogus")


def test_a_linked_grid_key_is_found_by_any_of_its_fields():
    from linmeta.sweep import SweepFinals

    finals = SweepFinals("dist", {"m_in+m_out": [5, 10], "n_tasks": [4]}, {},
                         {"m_in": 5, "n_tasks": 4}, [], [0], [1], 2, [])
    assert finals.key("m_in") == finals.key("m_out") == finals.key("m_in+m_out") == "m_in+m_out"
    with pytest.raises(SweepError, match="one value"):
        finals.key("n_tasks")


def test_make_figures_draws_the_sweep_figures(tmp_path):
    """scripts/fig_sweep.py fits make_figures' pattern through ``plots``: one sweep, two
    figures."""
    import sys
    from pathlib import Path

    scripts = Path(__file__).resolve().parent.parent / "scripts"
    sys.path.insert(0, str(scripts))
    try:
        import fig_sweep
        import make_figures
    finally:
        sys.path.remove(str(scripts))
    targets = make_figures.make(fig_sweep, quick=True, jobs=1, results=tmp_path / "runs",
                                figures=tmp_path / "figs")
    assert sorted(t.name for t in targets) == ["sweep_alpha-quick.png", "sweep_phase-quick.png"]
    assert all(t.stat().st_size > 10_000 for t in targets)
