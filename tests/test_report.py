"""The reproduction report and the figure scripts on their reduced (--quick) grids."""

import importlib
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from linmeta.config import Config

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def script(name: str):
    """A module of scripts/ (they import each other by bare name)."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))

EXPECTED_ROWS = [
    "1. maml →", "1. fo_maml →", "1. anil →", "1. fo_anil →", "1. ERM does not",
    "2. rate increases", "2. rate form",
    "3. ANIL/FO-ANIL recover col(B*) up to a floor", "3. m ≪ d", "3. the floor scales",
    "3. exact variants",
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
        [sys.executable, str(SCRIPTS / "reproduction_report.py"), "--quick", "--jobs", "1",
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
    table = text.split("## The criteria")[0]
    lines = [ln for ln in table.splitlines()
             if ln.startswith("| ") and not ln.startswith("| claim")]
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
    """The measured numbers are read from the runs on disk, not made up: recompute two."""
    root, text = quick_report
    from linmeta.results import read_metrics
    from linmeta.sweep import point_dir

    fig = script("fig_population")
    p = fig.points(True)[0]
    steps, v = read_metrics(point_dir(root / "results" / fig.NAME, p))[("fo_anil", "dist")]
    mean100 = v[:, list(steps).index(100)].mean()
    div = script("fig_diversity")
    rate = np.nanmean(div.rates(steps, v, div.window()))
    row = next(r for r in table_rows(text) if r[0].startswith("1. fo_anil"))
    assert printed(row[2], "t=100 ") == pytest.approx(mean100, rel=0.05)
    assert printed(row[2], "rate/step: mean ") == pytest.approx(rate, rel=0.01)
    assert np.isfinite(mean100) and 0 < rate


@pytest.mark.parametrize("name", ["fig_population", "fig_diversity", "fig_finite",
                                  "fig_new_task", "fig_tau", "fig_width", "fig_samples",
                                  "fig_dimension"])
def test_every_figure_draws_from_the_quick_runs(quick_report, name, tmp_path):
    root, _ = quick_report
    sys.path.insert(0, str(SCRIPTS))
    try:
        module = importlib.import_module(name)
        points = module.points(True)
        fig = module.plot(root / "results" / module.NAME, points)
    finally:
        sys.path.remove(str(SCRIPTS))
    drawn = [ax for ax in fig.axes if ax.axison]  # not a panel that only holds the legend
    assert drawn and all(ax.lines for ax in drawn)
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_population_figures_draw_the_predicted_contraction(quick_report):
    """Figures (a) and (b) draw dist₀ (1 − c αβμ²)ᵗ beside each meta-learner's measured mean,
    with c as fitted on figure (b)'s runs and (figure a) with c = 1."""
    root, _ = quick_report
    figlib, pop, div = script("figlib"), script("fig_population"), script("fig_diversity")
    out_a, out_b = root / "results" / pop.NAME, root / "results" / div.NAME
    c_fit = div.fitted_c(out_b, div.points(True))
    assert 0.5 < c_fit < 2
    pts = pop.points(True)
    fig = pop.plot(out_a, pts)
    cfg = pts[0].config
    step = cfg.alpha * cfg.beta * cfg.head_mu ** 2
    m = figlib.metrics(out_a, pts[0])
    for method in pop.META:
        ax = next(a for a in fig.axes if a.get_title().startswith(f"{method}:"))
        theory = [x for x in ax.get_lines() if x.get_label().startswith("theory")]
        assert len(theory) == 2
        dist0 = m[(method, "dist")][1][:, 0].mean()
        for line, c in zip(theory, (c_fit, 1.0), strict=True):
            assert f"c = {c:.3f}" in line.get_label() or (c == 1 and "c = 1 " in
                                                           line.get_label())
            t = np.asarray(line.get_xdata())
            assert t[0] == 0 and t[-1] == cfg.steps
            np.testing.assert_allclose(line.get_ydata(), dist0 * (1 - c * step) ** t,
                                       rtol=1e-10)
    pts_b = div.points(True)
    fig = div.plot(out_b, pts_b)
    for method in div.METHODS:
        ax = next(a for a in fig.axes if a.get_title() == method)
        theory = [x for x in ax.get_lines() if x.get_label().startswith("theory")]
        assert len(theory) == len(pts_b)
        for line, p in zip(theory, pts_b, strict=True):
            c = p.config
            dist0 = figlib.metrics(out_b, p)[(method, "dist")][1][:, 0].mean()
            t = np.asarray(line.get_xdata())
            np.testing.assert_allclose(
                line.get_ydata(), dist0 * (1 - c_fit * c.alpha * c.beta * c.head_mu ** 2) ** t,
                rtol=1e-10)


# ---------------------------------------------------------------- the criteria file


def verdicts(root, crit) -> dict:
    """{row title: verdict} judged from the quick runs under ``root`` (reused, not rerun)."""
    rep = script("reproduction_report")
    runs = rep.run_all(True, jobs=1, root=root / "results", quiet=True)
    samples = rep.sample_table(True, 1, root / "results", quiet=True)
    return {r["claim"]: r["holds"] for r in rep.judge(runs, samples, crit)}


def test_a_criterion_read_from_the_file_decides_the_verdict(quick_report, tmp_path):
    """The report's thresholds come from docs/criteria.toml: a copy with ERM's bound and the
    comparators' recovery bound moved beyond what any run reaches flips those rows."""
    root, _ = quick_report
    figlib = script("figlib")
    text = figlib.CRITERIA.read_text()
    changed = tmp_path / "criteria.toml"
    for name, new in (("erm_final", "0.99999"), ("comparator_population", "1e-30")):
        text, n = re.subn(rf"(\[linear\.{name}\]\nvalue = )\S+", rf"\g<1>{new}", text)
        assert n == 1, name
    changed.write_text(text)
    before = verdicts(root, figlib.criteria())
    after = verdicts(root, figlib.criteria(changed))
    flipped = {k for k in before if before[k] != after[k]}
    erm = [k for k in before if k.startswith("1. ERM")]
    comparators = [k for k in before if k.endswith(", population")]
    assert len(comparators) == 5 and all(before[k] == "yes" for k in erm + comparators)
    assert flipped == set(erm + comparators)
    assert all(after[k] == "no" for k in flipped)


def test_the_report_prints_every_criterion_it_applies(quick_report):
    _, text = quick_report
    figlib = script("figlib")
    printed_part = text.split("## The criteria")[1]
    for name, c in figlib.criteria().items():
        line = next(ln for ln in printed_part.splitlines() if ln.startswith(f"| `{name}` |"))
        assert c["whose"] in line and " ".join(c["reason"].split())[:60] in line


def test_the_few_shot_tables_of_the_criteria_file_are_untouched():
    """The linear section is one more top-level table; the few-shot report's loader still
    finds exactly its rules, sources and bands."""
    from linmeta.fewshot.claims.report import load_criteria

    crit = load_criteria()
    assert {"rules", "sources", "bands"} <= set(crit) and "linear" in crit
    assert crit["bands"]["kao_tie"]["value"] == pytest.approx(0.010)


def test_no_best_is_named_where_nothing_recovers(quick_report):
    """At a dataset size where every method's mean distance is above the recovery level, the
    most-efficient row says so instead of naming a method."""
    root, text = quick_report
    fig = script("fig_samples")
    level = script("figlib").value(script("figlib").criteria(), "recovery_level")
    rows = fig.collect(root / "results" / fig.NAME, fig.points(True))
    table = fig.final_table(rows, 20)
    sizes = sorted(table["mom"][0].tolist())
    mean = script("reproduction_report").row_means
    lowest = {N: np.nanmin([mean(last)[list(Ns).index(N)] for Ns, last, _ in table.values()
                            if N in Ns]) for N in sizes}
    row = next(r for r in table_rows(text) if "the most efficient" in r[0])
    none = [N for N in sizes if lowest[N] > level]
    assert none, "the quick grid should have a size where nothing recovers"
    parts = dict(p.split(": ", 1) for p in
                 row[2].split("col(B*) (mean dist ≤ ", 1)[1].split("): ", 1)[1]
                 .split(". Meta")[0].split("; "))
    assert len(parts) == len(sizes)
    for N in sizes:
        assert parts[f"{N / 60:g}"].startswith("none recovers") == (N in none), parts


# ---------------------------------------------------------------- the rows' logic


def test_m_growth_flat_holds_and_proportional_does_not():
    fig = script("fig_dimension")
    flat = {20: 4, 50: 4, 100: 6, 200: 4}
    proportional = {20: 2, 50: 5, 100: 10, 200: 20}
    slope, holds = fig.m_scales_slowly(flat, 0.5)
    assert holds and abs(slope) < 0.2
    slope, holds = fig.m_scales_slowly(proportional, 0.5)
    assert not holds and slope == pytest.approx(1.0, abs=0.05)
    assert not fig.m_scales_slowly({**flat, 200: None}, 0.5)[1]  # no m at the largest d
    assert not fig.m_scales_slowly(flat, 0.0)[1]  # the bound is read from the argument


def test_smallest_m_is_the_first_floor_at_or_below_the_level():
    fig = script("fig_dimension")
    m = np.array([1, 2, 4, 8])
    res = {20: (m, np.array([np.nan, 0.3, 0.09, 0.05])), 200: (m, np.array([0.9, 0.5, 0.2,
                                                                           0.12]))}
    assert fig.smallest_m(res, 0.1) == {20: 4, 200: None}
    assert fig.smallest_m(res, 0.5) == {20: 2, 200: 2}


def test_floor_averages_the_last_rounds():
    fig = script("fig_dimension")
    steps = np.arange(0, 601, 20)
    values = np.tile(np.where(steps >= 500, 0.1, 1.0), (2, 1))
    assert fig.floor(steps, values, 100) == pytest.approx(0.1)
    assert fig.floor(steps, values, 200) > 0.1


def test_prediction_interval_is_wider_than_the_mean_s():
    rep = script("reproduction_report")
    v = np.array([1.0, 1.2, 0.9, 1.1, np.nan])
    mean, lo, hi, n = rep.interval(v, 0.95)
    _, plo, phi, _ = rep.interval(v, 0.95, predict=True)
    assert n == 4 and mean == pytest.approx(1.05)
    assert (phi - plo) / (hi - lo) == pytest.approx(np.sqrt(n + 1))
    assert np.isnan(rep.interval([1.0], 0.95)[1])


def rate_rows(form, crit):
    """Claim 2's rows on made-up rates: μ ↦ form(μ) per step, 10 trials with 2 % scatter."""
    rep = script("reproduction_report")
    rng = np.random.default_rng(0)
    mu = np.array([0.2, 0.3, 0.5, 0.7, 1.0])
    res = {m: (mu, form(mu)[:, None] * (1 + 0.02 * rng.standard_normal((mu.size, 10))))
           for m in rep.META}
    c = script("fig_diversity").fit_c(res)[0]
    pts = [SimpleNamespace(config=Config(trials=10))]
    return {r["claim"]: r["holds"] for r in rep.claim2(res, c, pts, crit)}


def test_rate_form_holds_for_the_theorems_form_and_not_for_another():
    fig = script("fig_diversity")
    crit = script("figlib").criteria()
    right = rate_rows(lambda mu: fig.theory_rate(mu, 0.8), crit)
    wrong = rate_rows(lambda mu: 0.1 * mu, crit)  # linear in μ, not in μ²
    form = "2. rate form (1 − c β α E_0 μ*²)^t"
    assert right[form] == "yes" and wrong[form] == "no"
    assert right["2. rate increases with task diversity μ"] == "yes"
