"""Kao22's contrastive form of MAML's encoder gradient on trained Conv-4 states, and its noise.

Writes ``fewshot_contrastive_identities.csv`` / ``.png`` (relative error of the contrastive form
against backprop for FO/SO, N = 1 and 3, CE/MSE, with and without zeroing, ANIL and MAML
references, in float64, at initialisation and after training), ``fewshot_contrastive_shares.csv``
/ ``.png`` (share of different-class pairs with a negative coefficient across training, random
head vs zeroing trick) and ``fewshot_contrastive.json`` into ``--figures``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import fewshot_common as fc
import numpy as np
from matplotlib.figure import Figure

from linmeta.fewshot.contrastive import coefficient_signs, identity_table, plot_identities
from linmeta.fewshot.episodes import sample_episodes
from linmeta.fewshot.meta import zero_head


def _f64(tree):
    return {n: {k: np.asarray(a, dtype=np.float64) for k, a in d.items()} for n, d in tree.items()}


def _batch(run, tasks, seed):
    c = run.config
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(5,)))
    return tuple(sample_episodes(run.data["val"], rng, tasks, c.n_way, c.k_shot, c.n_query,
                                 dtype=np.float64))


def _write_csv(path: Path, rows: list) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def run(args) -> dict:
    s = fc.setting_from(args)
    work = fc.work_dir(args)
    figs = Path(args.figures)
    figs.mkdir(parents=True, exist_ok=True)
    rand = [fc.train(fc.config(s, seed), s, work, args=args) for seed in s.seeds]
    zero = [fc.train(fc.config(s, seed, zeroing=True), s, work, args=args) for seed in s.seeds]
    fc.log(args, "contrastive: identities (float64)")
    steps = (1, 3) if not args.quick else (1, 2)
    id_rows = []
    r0 = rand[0]
    batch = _batch(r0, 4, 0)
    for when, params in (("init", r0.snapshots[0]), ("trained", r0.params)):
        st = 0 if when == "init" else s.steps
        for r in identity_table(r0.net, _f64(params), batch, inner_lr=s.inner_lr, steps=steps):
            id_rows.append({"state": when, "step": st, **r})
    _write_csv(figs / "fewshot_contrastive_identities.csv", id_rows)
    fc.save_fig(plot_identities([r for r in id_rows if r["state"] == "trained"],
                                f"FO-MAML-trained Conv-4 (step {s.steps}), one meta-batch of 4 "
                                "tasks: contrastive form vs backprop"),
                figs / "fewshot_contrastive_identities.png")
    fc.log(args, "contrastive: coefficient signs across training")
    share_rows = []
    tasks = 50 if not args.quick else 4
    for label, runs, zero_at_analysis in (("random init, head as trained", rand, False),
                                          ("random init, head zeroed", rand, True),
                                          ("zeroing trick", zero, False)):
        for r in runs:
            b = _batch(r, tasks, 1 + r.config.seed)
            for st, p in sorted(r.snapshots.items()):
                p = _f64(zero_head(r.net, p) if zero_at_analysis else p)
                sg = coefficient_signs(r.net, p, b, inner_lr=s.inner_lr, steps=1)
                share_rows.append({"label": label, "seed": r.config.seed, "step": st, **sg})
    _write_csv(figs / "fewshot_contrastive_shares.csv", share_rows)
    fc.save_fig(plot_shares(share_rows, s), figs / "fewshot_contrastive_shares.png")
    exact = [r["rel_error"] for r in id_rows if r["exact_expected"]]
    approx = {f"{r['state']} {'ANIL' if r['efil'] else 'MAML'} {r['order']} N={r['steps']} "
              f"{r['loss']}{' zeroing' if r['zeroing'] else ''}": r["rel_error"]
              for r in id_rows if not r["exact_expected"]}
    final = {label: fc.summary([r["neg_share_diff"] for r in share_rows
                                if r["label"] == label and r["step"] == s.steps])
             for label in dict.fromkeys(r["label"] for r in share_rows)}
    initial = {label: fc.summary([r["neg_share_diff"] for r in share_rows
                                  if r["label"] == label and r["step"] == 0])
               for label in final}
    out = {"setting": s.describe(), "exact_max_rel_error": max(exact), "exact_cases": len(exact),
           "approx_rel_error": approx, "neg_share_final": final, "neg_share_init": initial}
    fc.save_json(figs / "fewshot_contrastive.json", out)
    return out


def plot_shares(rows: list, s) -> Figure:
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for label in dict.fromkeys(r["label"] for r in rows):
        steps = sorted({r["step"] for r in rows if r["label"] == label})
        sms = [fc.summary([r["neg_share_diff"] for r in rows
                           if r["label"] == label and r["step"] == st]) for st in steps]
        m = np.array([x["mean"] for x in sms])
        c = np.array([x["ci95"] for x in sms])
        ax.plot(steps, m, "o-", ms=3, label=label)
        ax.fill_between(steps, m - c, m + c, alpha=0.15)
    ax.set_xlabel("outer step")
    ax.set_ylabel("share of different-class pairs with c(s,q) < 0")
    ax.set_title(f"Kao22's noise in the contrastive coefficient (FO-MAML, {len(s.seeds)} seeds)",
                 fontsize=8)
    ax.legend(fontsize=8)
    return fig


def main(argv=None) -> dict:
    args = fc.parser(__doc__.splitlines()[0]).parse_args(argv)
    return run(args)


if __name__ == "__main__":
    main()
