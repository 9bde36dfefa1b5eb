"""Raghu20's feature reuse, measured: layer freezing, CKA / CCA before vs after the inner loop,
NIL vs ANIL vs MAML, and ANIL vs MAML time per iteration.

Writes ``fewshot_reuse.json``, ``fewshot_reuse_freeze.png``, ``fewshot_reuse_similarity.png``
and ``fewshot_reuse_nil.png`` into ``--figures``. Raghu20 predicts: freezing layers 1–4 at test
time barely changes accuracy; body layers have CKA ≈ 1 before vs after the inner loop, the head
much lower; NIL ≈ ANIL ≈ MAML; ANIL is faster per iteration.
"""

from __future__ import annotations

import time
from pathlib import Path

import fewshot_common as fc
import numpy as np
from matplotlib.figure import Figure

from linmeta.fewshot.episodes import sample_episodes
from linmeta.fewshot.meta import meta_gradient
from linmeta.fewshot.reuse import (
    evaluate_predictor,
    nil_logits,
    predict_frozen,
    representation_similarity,
)

TEST_STEPS = 3


def _score(run, predict) -> float:
    c = run.config
    _, _, xp, dtype = fc.setup(c)
    return evaluate_predictor(predict, run.data["test"], n_way=c.n_way, k_shot=c.k_shot,
                              n_query=c.n_query, tasks=c.test_tasks, seed=1000 + c.seed,
                              dtype=dtype, xp=xp).acc


def freeze_scores(run, frozen: int) -> float:
    c = run.config

    def predict(xs, ys, xq):
        return predict_frozen(run.net, run.params, xs, ys, xq, frozen=frozen,
                              inner_lr=c.inner_lr, steps=TEST_STEPS, loss=c.loss)

    return _score(run, predict)


def nil_score(run) -> float:
    return _score(run, lambda xs, ys, xq: nil_logits(run.net, run.params, xs, ys, xq,
                                                     run.config.n_way))


def similarity(run, params, tasks: int, n_query: int) -> dict:
    c = run.config
    _, _, xp, dtype = fc.setup(c)
    rng = np.random.default_rng(np.random.SeedSequence(c.seed, spawn_key=(9,)))
    ep = sample_episodes(run.data["test"], rng, tasks, c.n_way, c.k_shot, n_query,
                         dtype=dtype, xp=xp)
    return representation_similarity(run.net, params, ep.xs, ep.ys, ep.xq, frozen=0,
                                     inner_lr=c.inner_lr, steps=TEST_STEPS, loss=c.loss)


def time_per_iteration(run, repeats: int) -> dict:
    """Median wall time of one meta-gradient (MAML vs ANIL, same batch, interleaved)."""
    c = run.config
    _, _, xp, dtype = fc.setup(c)
    rng = np.random.default_rng(0)
    batch = tuple(sample_episodes(run.data["train"], rng, c.meta_batch, c.n_way, c.k_shot,
                                  c.n_query, dtype=dtype, xp=xp))
    times = {"maml": [], "anil": []}
    for _ in range(repeats):
        for alg in times:
            t0 = time.perf_counter()
            meta_gradient(run.net, run.params, batch, algorithm=alg, inner_lr=c.inner_lr,
                          inner_steps=c.inner_steps, loss=c.loss)
            times[alg].append(time.perf_counter() - t0)
    return {alg: float(np.median(v)) for alg, v in times.items()}


def run(args) -> dict:
    s = fc.setting_from(args)
    work = fc.work_dir(args)
    maml = [fc.train(fc.config(s, seed, algorithm="maml"), s, work, curve=False, args=args)
            for seed in s.seeds]
    anil = [fc.train(fc.config(s, seed, algorithm="anil"), s, work, curve=False, args=args)
            for seed in s.seeds]
    out = {"setting": s.describe() + f"; {TEST_STEPS} test-time inner steps",
           "freeze": {}, "similarity": {}, "nil": {}, "time": {}}
    fc.log(args, "reuse: freezing")
    for k in range(5):
        name = "none (MAML)" if k == 0 else f"1–{k}" if k > 1 else "1"
        out["freeze"][name] = fc.summary([freeze_scores(r, k) for r in maml])
    fc.log(args, "reuse: CKA / CCA at the snapshots")
    tasks, nq = (10, 15) if not args.quick else (2, 3)
    for st in sorted(maml[0].snapshots):
        per = [similarity(r, r.snapshots[st], tasks, nq) for r in maml]
        out["similarity"][str(st)] = {
            layer: {m: fc.summary([p[layer][m] for p in per]) for m in ("cka", "cca")}
            for layer in per[0]}
    fc.log(args, "reuse: NIL / ANIL / MAML")
    out["nil"] = {
        "MAML": fc.summary([freeze_scores(r, 0) for r in maml]),
        "ANIL": fc.summary([freeze_scores(r, 4) for r in anil]),
        "NIL (MAML encoder)": fc.summary([nil_score(r) for r in maml]),
        "NIL (ANIL encoder)": fc.summary([nil_score(r) for r in anil]),
    }
    fc.log(args, "reuse: time per iteration")
    reps = 10 if not args.quick else 2
    t = [time_per_iteration(r, reps) for r in maml]
    out["time"] = {"maml_s": fc.summary([x["maml"] for x in t]),
                   "anil_s": fc.summary([x["anil"] for x in t]),
                   "ratio": fc.summary([x["maml"] / x["anil"] for x in t]),
                   "train_loop_ratio": fc.summary([m.sec_per_step / a.sec_per_step
                                                   for m, a in zip(maml, anil, strict=True)])}
    figs = Path(args.figures)
    fc.save_json(figs / "fewshot_reuse.json", out)
    fc.save_fig(plot_bars(out["freeze"], "MAML model: blocks frozen in the test-time inner loop"),
                figs / "fewshot_reuse_freeze.png")
    fc.save_fig(plot_bars(out["nil"], "NIL vs ANIL vs MAML"), figs / "fewshot_reuse_nil.png")
    fc.save_fig(plot_similarity(out["similarity"]), figs / "fewshot_reuse_similarity.png")
    return out


def plot_bars(d: dict, title: str) -> Figure:
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    names = list(d)
    x = np.arange(len(names))
    ax.bar(x, [100 * d[n]["mean"] for n in names], yerr=[100 * d[n]["ci95"] for n in names],
           capsize=3, color="tab:blue", alpha=0.7)
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title + " (mean ± 95% over seeds)", fontsize=8)
    return fig


def plot_similarity(sim: dict) -> Figure:
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("cka", "cca"), strict=True):
        for st, layers in sim.items():
            names = list(layers)
            ax.errorbar(range(len(names)), [layers[n][metric]["mean"] for n in names],
                        yerr=[layers[n][metric]["ci95"] for n in names], fmt="o-", ms=3,
                        capsize=2, label=f"step {st}")
            ax.set_xticks(range(len(names)), names)
        ax.set_ylabel(f"{'linear CKA' if metric == 'cka' else 'mean SVCCA (top 10)'}")
        ax.set_title(f"{metric.upper()} of query activations before vs after the inner loop "
                     "(MAML)", fontsize=8)
        ax.set_ylim(None, 1.02)
        ax.legend(fontsize=7)
    return fig


def main(argv=None) -> dict:
    args = fc.parser(__doc__.splitlines()[0]).parse_args(argv)
    return run(args)


if __name__ == "__main__":
    main()
