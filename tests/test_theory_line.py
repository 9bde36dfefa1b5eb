"""Collins22's predicted contraction on `linmeta run`'s convergence figure: drawn in the
theorem's setting (docs/theory.md §1.3, claims 1 and 2), absent outside it, and equal to
dist₀ (1 − αβμ*²)ᵗ."""

import numpy as np
import pytest
from click.testing import CliRunner

import linmeta.cli
from linmeta.cli import cli
from linmeta.config import Config
from linmeta.plotting import collins_rate, convergence_figure

SMALL = ["--d", "8", "--k", "2", "--steps", "12", "--trials", "2", "--n-test-tasks", "0"]


def drawn(monkeypatch, tmp_path, *args):
    """The figure `linmeta run` saves as convergence.png, and its theory line (or None)."""
    figures = []
    real = linmeta.cli.atomic_savefig
    monkeypatch.setattr(linmeta.cli, "atomic_savefig",
                        lambda fig, path, **kw: (figures.append(fig), real(fig, path, **kw)))
    res = CliRunner().invoke(cli, ["run", *SMALL, *args, "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    (fig,) = figures
    lines = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("theory")]
    return fig, (lines[0] if lines else None)


def test_run_draws_the_theory_line_in_the_theorems_setting(monkeypatch, tmp_path):
    alpha, beta, mu = 0.4, 0.5, 0.7
    fig, line = drawn(monkeypatch, tmp_path, "--methods", "fo_anil,maml,erm", "--alpha",
                      str(alpha), "--beta", str(beta), "--head-mu", str(mu))
    assert line is not None and line.get_label().startswith("theory (c = 1)")
    from linmeta.results import read_metrics

    metrics = read_metrics(tmp_path / "r")
    dist0 = np.mean([metrics[(m, "dist")][1][:, 0] for m in ("fo_anil", "maml")])
    t = np.asarray(line.get_xdata())
    assert list(t) == list(range(13))
    np.testing.assert_allclose(line.get_ydata(), dist0 * (1 - alpha * beta * mu**2) ** t,
                               rtol=1e-12)


@pytest.mark.parametrize("args", [["--init", "random"], ["--mode", "finite"], ["--tau", "2"],
                                  ["--methods", "erm,fedrep"]])
def test_run_draws_no_theory_line_outside_it(monkeypatch, tmp_path, args):
    assert drawn(monkeypatch, tmp_path, *args)[1] is None


@pytest.mark.parametrize("change", [dict(x_cov_cond=10.0), dict(task_pool=True),
                                    dict(k_learner=4), dict(alpha=0.0), dict(head_mu=0.0),
                                    dict(alpha=2.0, beta=1.0)])
def test_rate_is_none_outside_the_setting(change):
    assert collins_rate(Config(**change).to_dict()) is None
    assert collins_rate(Config().to_dict(), problem_file="p.npz") is None


def test_rate_is_one_minus_alpha_beta_times_the_smallest_head_variance():
    assert collins_rate(Config().to_dict()) == pytest.approx(1 - 0.25)
    assert collins_rate(Config(head_mu=0.3).to_dict()) == pytest.approx(1 - 0.25 * 0.09)
    assert collins_rate(Config(head_mu=2.0).to_dict()) == pytest.approx(1 - 0.25)  # λ_min = 1
    assert collins_rate(Config(head_kappa=4.0).to_dict()) == pytest.approx(1 - 0.25 / 4)


def test_the_line_stops_at_the_distances_accuracy():
    steps = np.arange(0, 201)
    metrics = {("anil", "dist"): (steps, np.ones((1, steps.size)))}
    fig = convergence_figure([("r", metrics)], theory=0.5)
    (line,) = [x for x in fig.axes[0].get_lines() if x.get_label().startswith("theory")]
    assert line.get_ydata().min() >= 1e-16 and line.get_xdata()[-1] == 53


def test_the_figure_scripts_draw_the_rate_with_each_c(tmp_path):
    """scripts/figlib.draw_theory, which figures (a) and (b) use: one line per c, equal to
    dist₀ (1 − c αβμ*²)ᵗ with dist₀ the method's mean first distance; none outside the
    theorem's setting."""
    import sys
    from pathlib import Path

    from matplotlib.figure import Figure

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    try:
        import figlib
    finally:
        sys.path.pop(0)
    steps = np.arange(0, 41, 2)
    values = np.array([[0.9] * steps.size, [0.7] * steps.size])
    cfg = Config(alpha=0.4, beta=0.5, head_mu=0.6)
    ax = Figure().add_subplot()
    lines = figlib.draw_theory(ax, "anil", steps, values, cfg, {0.8: "theory, c = 0.8",
                                                                1.0: "theory, c = 1"})
    assert [line.get_label() for line in lines] == ["theory, c = 0.8", "theory, c = 1"]
    for line, c in zip(lines, (0.8, 1.0), strict=True):
        t = np.asarray(line.get_xdata())
        assert list(t) == list(range(41))
        np.testing.assert_allclose(line.get_ydata(), 0.8 * (1 - c * 0.4 * 0.5 * 0.36) ** t,
                                   rtol=1e-12)
    finite = Config(mode="finite", alpha=0.4, beta=0.5)
    assert figlib.draw_theory(ax, "anil", steps, values, finite, {1.0: "theory"}) == []
    assert figlib.draw_theory(ax, "erm", steps, values, cfg, {1.0: "theory"}) == []
