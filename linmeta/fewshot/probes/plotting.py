"""Figures of the contrastive analysis (Kao22); they draw results and never compute them.

Each function returns a :class:`matplotlib.figure.Figure`; the caller saves it
(:func:`linmeta.io.atomic_savefig`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch


def plot_identities(rows: list, title: str = "") -> Figure:
    """Relative error ``‖g_form − g_bp‖ / ‖g_bp‖`` per case on a log axis, one panel per source.

    Green bars are the cases the derivation says are identities (round-off expected), orange the
    approximations (their residual is the measured size of the dropped terms). ``rows`` are those
    of :func:`linmeta.fewshot.contrastive.identity_table`, each with an optional ``source`` and
    ``step``.
    """
    sources = list(dict.fromkeys(r.get("source", "") for r in rows)) or [""]
    fig = Figure(figsize=(11, 3.2 * len(sources) + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(sources), 1, squeeze=False)[:, 0])
    for ax, src in zip(axes, sources, strict=True):
        sub = [r for r in rows if r.get("source", "") == src]
        labels = [f"{'MAML' if not r['efil'] else 'ANIL'} {r['order'].upper()} N={r['steps']} "
                  f"{r['loss']}{' zero' if r['zeroing'] else ''}" for r in sub]
        vals = [max(r["rel_error"], 1e-17) for r in sub]
        colors = ["tab:green" if r["exact_expected"] else "tab:orange" for r in sub]
        ax.bar(range(len(sub)), vals, color=colors, bottom=1e-17)
        ax.set_yscale("log")
        ax.set_ylim(1e-17, 10)
        ax.axhline(1e-10, color="k", lw=0.8, ls="--")
        ax.set_xticks(range(len(sub)), labels, rotation=90, fontsize=6)
        ax.set_ylabel("relative error of the\nencoder gradient")
        step = sub[0].get("step") if sub else None
        ax.set_title(f"{src}" + (f" (step {step})" if step is not None else ""), fontsize=8)
    fig.legend(handles=[Patch(color="tab:green", label="identity (exact by derivation)"),
                        Patch(color="tab:orange", label="approximation (terms dropped)")],
               fontsize=7, loc="outside upper right", ncols=2)
    fig.suptitle(title or "Kao22: the contrastive form of the encoder gradient against backprop "
                 "(dashed: 1e-10)", fontsize=9)
    return fig


def plot_negative_share(rows: list, title: str = "") -> Figure:
    """Share of different-class pairs with ``C(s, q) < 0`` against the outer step, per run."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for label in dict.fromkeys(r["label"] for r in rows):
        pts = sorted((r["step"], r["neg_share_diff"]) for r in rows if r["label"] == label)
        ax.plot(*zip(*pts, strict=True), "o-", ms=3, label=label)
    ax.set_xlabel("outer step")
    ax.set_ylabel("share of different-class pairs with c(s,q) < 0")
    ax.set_ylim(-0.02, None)
    ax.legend(fontsize=7)
    ax.set_title(title or "Kao22's noise: wrong-sign contrastive coefficients", fontsize=9)
    return fig
