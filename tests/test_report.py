"""The reproduction report and the figure scripts on their reduced (--quick) grids."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

EXPECTED_ROWS = [
    "1. maml →", "1. fo_maml →", "1. anil →", "1. fo_anil →", "1. ERM does not",
    "2. μ = 0.3", "2. rate increases", "2. rate form",
    "3. ANIL/FO-ANIL reach a floor", "3. m ≪ d", "3. the floor scales", "3. exact variants",
    "4. a new task",
    "comparator altmin, population", "comparator fedrep, population",
    "comparator mom, population", "comparator mt_erm, population",
    "comparator reptile, population",
    "comparator altmin, finite samples at equal data", "comparator fedrep, finite samples at equal",
    "comparator mom, finite samples at equal data", "comparator mt_erm, finite samples at equal",
    "sample efficiency, d=20, k=3: the most efficient", "sample efficiency: iterative methods",
    "sample efficiency, d=20, k=3: fresh-sample",
    "width k′=6 > k=3 (fo_anil)", "width k′=6 > k=3 (anil)",
]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    out = root / "reproduction.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "reproduction_report.py"), "--quick", "--jobs", "2",
         "--results", str(root / "results"), "--out", str(out)],
        capture_output=True, text=True, timeout=1800)  # a hang guard, not a timing
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, out.read_text()


def printed(cell: str, label: str) -> float:
    """The number the report prints after ``label`` in a table cell (two significant digits:
    compare it with a 5 % tolerance, not by its digits, which a last-bit change can flip)."""
    found = re.search(re.escape(label) + r"([-+0-9.e]+)", cell)
    assert found, (label, cell)
    return float(found.group(1))


def table_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| claim")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines]


def test_report_has_every_row_with_numbers_and_a_verdict(quick_report):
    _, text = quick_report
    rows = table_rows(text)
    assert len(rows) == len(EXPECTED_ROWS)
    for prefix, cells in zip(EXPECTED_ROWS, rows, strict=True):
        assert cells[0].startswith(prefix), (prefix, cells[0])
        assert len(cells) == 5
        claim, config, measured, criterion, holds = cells
        assert config and criterion
        assert holds in ("yes", "no")
        assert re.search(r"\d", measured) and "nan" not in measured, measured
    held = sum(cells[4] == "yes" for cells in rows)
    assert f"{held} of {len(rows)} rows hold." in text
    assert "do not edit by hand" in text and "--quick" in text
    assert "## Sample efficiency (figure g)" in text


def test_sample_rows_agree_with_the_runs_of_figure_g(quick_report):
    """The equal-data rows are computed from figure g's runs: recompute MoM's distance."""
    root, text = quick_report
    sys.path.insert(0, str(SCRIPTS))
    try:
        import numpy as np

        fig = importlib.import_module("fig_samples")
        pts = fig.points(True)
        rows = fig.collect(root / "results" / fig.NAME, pts)
        N, last, _ = fig.final_table(rows, 20)["mom"]
    finally:
        sys.path.remove(str(SCRIPTS))
    mid = int(N[len(N) // 2])
    row = next(r for r in table_rows(text) if r[0].startswith("comparator mom, finite"))
    assert f"N={mid} " in row[2]
    assert printed(row[2], "mom ") == pytest.approx(np.nanmean(last[len(N) // 2]), rel=0.05)


def test_report_claim1_row_agrees_with_the_stored_run(quick_report):
    """The measured numbers are read from the runs on disk, not made up: recompute one."""
    root, text = quick_report
    sys.path.insert(0, str(SCRIPTS))
    try:
        import numpy as np

        from linmeta.results import read_metrics
        from linmeta.sweep import point_dir

        fig = importlib.import_module("fig_population")
        p = fig.points(True)[0]
        steps, v = read_metrics(point_dir(root / "results" / fig.NAME, p))[("fo_anil", "dist")]
        mean100 = v[:, list(steps).index(100)].mean()
    finally:
        sys.path.remove(str(SCRIPTS))
    row = next(r for r in table_rows(text) if r[0].startswith("1. fo_anil"))
    assert printed(row[2], "t=100: mean ") == pytest.approx(mean100, rel=0.05)
    assert np.isfinite(mean100)


@pytest.mark.parametrize("name", ["fig_population", "fig_diversity", "fig_finite",
                                  "fig_new_task", "fig_tau", "fig_width", "fig_samples"])
def test_every_figure_draws_from_the_quick_runs(quick_report, name, tmp_path):
    root, _ = quick_report
    sys.path.insert(0, str(SCRIPTS))
    try:
        module = importlib.import_module(name)
        points = module.points(True)
        fig = module.plot(root / "results" / module.NAME, points)
    finally:
        sys.path.remove(str(SCRIPTS))
    assert fig.axes and all(ax.lines for ax in fig.axes)
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000
