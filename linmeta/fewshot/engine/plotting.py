"""The learning-curve figure of a training run; it draws results and never computes them.

The caller saves the :class:`matplotlib.figure.Figure` (:func:`linmeta.io.atomic_savefig`).
"""

from __future__ import annotations

from matplotlib.figure import Figure


def plot_learning_curve(rows: list, title: str) -> Figure:
    """Accuracy and loss against the outer step, train and validation, from ``metrics.csv``
    rows (:func:`linmeta.fewshot.engine.train.read_metrics`; ``""`` marks a missing value)."""
    fig = Figure(figsize=(9, 3.5))
    axes = fig.subplots(1, 2)
    steps = [r["step"] for r in rows]
    for ax, key in zip(axes, ("acc", "loss"), strict=True):
        for split, style in (("train", "-"), ("val", "o-")):
            vals = [r[f"{split}_{key}"] for r in rows]
            pts = [(s, v) for s, v in zip(steps, vals, strict=True) if v != ""]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, ms=3, label=split)
        ax.set_xlabel("outer step")
        ax.set_ylabel(f"query {key}")
        ax.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
