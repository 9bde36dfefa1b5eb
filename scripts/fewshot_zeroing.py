"""Kao22's zeroing trick, measured: head initialisation, inner steps, FO vs SO, test-time zeroing.

FO-MAML on 5-way 1-shot glyphs (``--data`` for Omniglot / mini-ImageNet). Writes
``fewshot_zeroing.json`` (test accuracy, mean ± 95% t-interval over seeds),
``fewshot_zeroing_curves.png`` (validation accuracy during training per head regime) and
``fewshot_zeroing_steps.png`` (inner-step sweep; FO vs SO; test-time zeroing) into ``--figures``.

Kao22 predicts: zeroing trick > zero init > ×0.5 > random init; with zeroing, 1 inner step ≈ 7;
zeroing the head at test time alone helps a random-init model; SO > FO.
"""

from __future__ import annotations

from pathlib import Path

import fewshot_common as fc
import numpy as np
from matplotlib.figure import Figure

REGIMES = {  # name -> TrainConfig overrides
    "random": dict(head_init="random", head_scale=1.0),
    "×0.5": dict(head_init="random", head_scale=0.5),
    "zero init": dict(head_init="zero"),
    "zeroing": dict(head_init="random", zeroing=True),
}


def run(args) -> dict:
    s = fc.setting_from(args)
    work = fc.work_dir(args)
    out = {"setting": s.describe(), "regimes": {}, "sweep": {}, "order": {},
           "test_time_zeroing": {}}
    curves = {}
    fc.log(args, "zeroing: head regimes (FO-MAML, N=1 train)")
    for name, kw in REGIMES.items():
        runs = [fc.train(fc.config(s, seed, **kw), s, work, args=args) for seed in s.seeds]
        curves[name] = fc.mean_curve(runs)
        out["regimes"][name] = {
            f"test_tau{tau}": fc.summary([fc.test_acc(r, inner_steps=tau) for r in runs])
            for tau in (1, 3)}
        if name == "random":
            out["test_time_zeroing"] = {
                f"test_tau{tau}": fc.summary([fc.test_acc(r, zeroing=True, inner_steps=tau)
                                              for r in runs]) for tau in (1, 3)}
    fc.log(args, f"zeroing: inner-step sweep N in {list(s.sweep)} (train N, test N)")
    for n in s.sweep:
        out["sweep"][str(n)] = {}
        for z in (False, True):
            runs = [fc.train(fc.config(s, seed, inner_steps=n, inner_steps_test=n, zeroing=z),
                             s, work, curve=False, args=args) for seed in s.seeds]
            out["sweep"][str(n)]["zeroing" if z else "no zeroing"] = fc.summary(
                [fc.test_acc(r) for r in runs])
    fc.log(args, "zeroing: FO vs SO (N=1 train)")
    for alg in ("fomaml", "maml"):
        for z in (False, True):
            runs = [fc.train(fc.config(s, seed, algorithm=alg, zeroing=z), s, work,
                             curve=alg == "fomaml", args=args) for seed in s.seeds]
            out["order"][f"{alg}{', zeroing' if z else ''}"] = {
                "test_tau1": fc.summary([fc.test_acc(r, inner_steps=1) for r in runs])}
    figs = Path(args.figures)
    fc.save_json(figs / "fewshot_zeroing.json", out)
    fc.save_fig(plot_curves(curves, s), figs / "fewshot_zeroing_curves.png")
    fc.save_fig(plot_steps(out, s), figs / "fewshot_zeroing_steps.png")
    return out


def plot_curves(curves: dict, s) -> Figure:
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for name, (steps, mean, ci) in curves.items():
        ax.plot(steps, mean, "o-", ms=3, label=name)
        ax.fill_between(steps, mean - ci, mean + ci, alpha=0.15)
    ax.set_xlabel("outer step")
    ax.set_ylabel("validation accuracy (3 test-time steps)")
    ax.set_title(f"Head regimes, FO-MAML, {s.n_way}-way {s.k_shot}-shot {s.dataset} "
                 f"(mean ± 95% over {len(s.seeds)} seeds)", fontsize=8)
    ax.legend(fontsize=8)
    return fig


def _bar(ax, labels, sms, title):
    x = np.arange(len(labels))
    ax.bar(x, [100 * m["mean"] for m in sms], yerr=[100 * m["ci95"] for m in sms], capsize=3,
           color="tab:blue", alpha=0.7)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=8)


def plot_steps(out: dict, s) -> Figure:
    fig = Figure(figsize=(13, 4), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ns = [int(n) for n in out["sweep"]]
    for key, style in (("no zeroing", "o-"), ("zeroing", "s-")):
        m = np.array([out["sweep"][str(n)][key]["mean"] for n in ns])
        c = np.array([out["sweep"][str(n)][key]["ci95"] for n in ns])
        ax1.errorbar(ns, 100 * m, yerr=100 * c, fmt=style, capsize=3, label=key)
    ax1.set_xlabel("inner steps N (train and test)")
    ax1.set_ylabel("test accuracy (%)")
    ax1.set_title("FO-MAML: inner steps, with / without zeroing", fontsize=8)
    ax1.legend(fontsize=8)
    names = list(out["order"])
    _bar(ax2, names, [out["order"][n]["test_tau1"] for n in names],
         "FO vs SO (test τ=1)")
    tz = out["test_time_zeroing"]
    labels = ["random, τ=1", "random + test zeroing, τ=1", "random, τ=3",
              "random + test zeroing, τ=3"]
    sms = [out["regimes"]["random"]["test_tau1"], tz["test_tau1"],
           out["regimes"]["random"]["test_tau3"], tz["test_tau3"]]
    _bar(ax3, labels, sms, "zeroing only at test time (random-init model)")
    return fig


def main(argv=None) -> dict:
    args = fc.parser(__doc__.splitlines()[0]).parse_args(argv)
    return run(args)


if __name__ == "__main__":
    main()
