"""Figures from results: every method that has a value is drawn."""

import numpy as np

from linmeta.plotting import convergence_figure


def test_one_shot_methods_are_drawn_as_a_level_and_a_marked_point():
    rng = np.random.default_rng(0)
    steps = np.arange(0, 11)
    metrics = {("fo_anil", "dist"): (steps, rng.uniform(0.1, 1, (3, steps.size))),
               ("mom", "dist"): (np.array([10]), np.array([[0.2], [0.3], [0.4]]))}
    ax = convergence_figure([("run", metrics)]).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "mom (one-shot, 3 trials)" in labels
    levels = [line for line in ax.get_lines() if np.allclose(line.get_ydata(), 0.3)]
    assert any(np.ptp(line.get_xdata()) > 0 for line in levels)  # the horizontal level
    assert any(list(line.get_xdata()) == [10] for line in levels)  # the marked point
