"""``linmeta fewshot contrastive``: Kao22's contrastive form measured on real network states.

Attach to the ``fewshot`` click group with ``fewshot.add_command(contrastive_cmd)``. Bad input
gives a one-line error and exit code 2, as the other ``fewshot`` commands do.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click
import numpy as np

from linmeta.backend import BackendError
from linmeta.budget import check_contrastive
from linmeta.io import atomic_savefig, atomic_write_text, write_records
from linmeta.results import exclusive_dir
from linmeta.tasks import check_npz

from .data import DataError
from .episodes import sample_episodes, stream
from .network import tree_float64
from .train import RunError, TrainConfig, build, init_state, load_checkpoint


class AnalysisError(click.ClickException):
    """A one-line usage or input error (exit code 2)."""

    exit_code = 2


_INPUT_ERRORS = (DataError, BackendError, RunError, ValueError, OSError)


def _save_fig(fig, path: Path) -> None:
    atomic_savefig(fig, path, dpi=110)


def _checkpoints(source: Path) -> list:
    if source.is_dir():
        ckpts = sorted((source / "checkpoints").glob("step_*.npz"))
        if not ckpts:
            raise RunError(f"no checkpoints in {source}")
        return ckpts
    if not source.exists():
        raise RunError(f"no such checkpoint or run directory: {source}")
    check_npz(source, RunError)
    return [source]


def _episodes(config, pool, tasks, seed):
    rng = stream(seed, "contrastive")
    return tuple(sample_episodes(pool, rng, tasks, config.n_way, config.k_shot, config.n_query,
                                 dtype=np.float64))


def _steps_list(text: str) -> tuple:
    try:
        steps = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise click.BadParameter(f"--steps: comma-separated integers, not {text!r}") from None
    if not steps or min(steps) < 1:
        raise click.BadParameter("--steps needs integers >= 1")
    return steps


@click.command("contrastive")
@click.argument("sources", nargs=-1, type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Output folder: identities.csv/.json, coefficients.csv, two PNGs.")
@click.option("--steps", "steps_text", default="1,3", show_default=True,
              help="Inner steps N to check (comma-separated).")
@click.option("--tasks", default=4, show_default=True, type=int,
              help="Tasks in the meta-batch of the identity check.")
@click.option("--share-tasks", default=50, show_default=True, type=int,
              help="Tasks per checkpoint for the coefficient-sign shares.")
@click.option("--inner-lr", default=None, type=float,
              help="Inner rate η  [default: the run's inner_lr]")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of the analysed episodes (and of the network when no SOURCE).")
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
def contrastive_cmd(sources, out, steps_text, tasks, share_tasks, inner_lr, seed, overwrite,
                    quiet):
    """Kao22's contrastive form of MAML's encoder gradient against backprop (float64).

    SOURCES are run directories of `linmeta fewshot train` or checkpoint files; with none, a
    freshly initialised Conv-4 (TrainConfig defaults) is analysed. For the last checkpoint of each
    source, every case (FO/SO, N inner steps, CE/MSE, with and without zeroing, ANIL and MAML
    as reference) is compared and the relative error written to identities.csv: identities
    (FO under EFIL; everything with w_0 = 0 and N = 1) come out at round-off, approximations
    at their measured residual. For every checkpoint, the share of different-class pairs with a
    negative coefficient C(s, q) (Kao22's noise) is written to coefficients.csv, with the head as
    trained and with the head zeroed.
    """
    def say(msg):
        if not quiet:
            click.echo(msg, err=True)

    try:
        steps = _steps_list(steps_text)
        if tasks < 1 or share_tasks < 1:
            raise click.BadParameter("--tasks and --share-tasks must be >= 1")
        out = Path(out)
        _refuse_existing(out, overwrite)
        loaded = []  # (source, [checkpoint paths], config)
        if not sources:
            loaded.append((None, [None], TrainConfig(seed=seed).validate()))
        for src in sources:
            ckpts = _checkpoints(Path(src))
            loaded.append((src, ckpts, load_checkpoint(ckpts[-1])[1]))
        for _, ckpts, config in loaded:
            if inner_lr is not None:
                dataclasses.replace(config, inner_lr=inner_lr).validate()
            check_contrastive(config, len(ckpts), steps, tasks, share_tasks)
        with exclusive_dir(out, "contrastive analysis"):
            _refuse_existing(out, overwrite)
            id_rows, share_rows, runs = _analyse(loaded, out, steps, tasks, share_tasks,
                                                 inner_lr, seed, say)
    except click.ClickException:
        raise
    except _INPUT_ERRORS as err:
        msg = str(err).strip().splitlines()
        raise AnalysisError(msg[0] if msg else type(err).__name__) from None
    exact = [r["rel_error"] for r in id_rows if r["exact_expected"]]
    approx = [r["rel_error"] for r in id_rows if not r["exact_expected"]]
    click.echo(f"identities: max relative error {max(exact):.2e} over {len(exact)} exact cases"
               + (f"; approximations {min(approx):.2e} .. {max(approx):.2e}" if approx else "")
               + f"; results in {out}")


#: What ``contrastive`` writes into --out.
OUTPUTS = ("identities.csv", "identities.json", "coefficients.csv", "identities.png",
           "coefficients.png")


def _refuse_existing(out: Path, overwrite: bool) -> None:
    found = [name for name in OUTPUTS if (out / name).exists()]
    if found and not overwrite:
        raise AnalysisError(f"{out} already holds results ({found[0]}); use --overwrite to "
                            "replace them, or another --out")


def _analyse(loaded, out, steps, tasks, share_tasks, inner_lr, seed, say):
    """Identity rows and coefficient-share rows of every source; writes the files to ``out``."""
    from .contrastive import coefficient_signs, identity_table
    from .meta import zero_head
    from .plotting import plot_identities, plot_negative_share

    runs = []  # (label, [(step, params)], config, net, data)
    for src, ckpts, config in loaded:
        net, data, _, _ = build(config)
        if src is None:
            st = init_state(config, net, np, np.float64)
            runs.append(("fresh init", [(0, st.params)], config, net, data))
            continue
        states = []
        for c in ckpts:
            state, _ = load_checkpoint(c)
            states.append((state.step, tree_float64(state.params)))
        label = f"{Path(src).name}{' (zeroing)' if config.zeroing else ''}"
        runs.append((label, states, config, net, data))
    id_rows, share_rows = [], []
    for label, states, config, net, data in runs:
        eta = config.inner_lr if inner_lr is None else inner_lr
        step, params = states[-1]
        say(f"{label}: identities at step {step}")
        batch = _episodes(config, data["val"], tasks, seed)
        for r in identity_table(net, tree_float64(params), batch, inner_lr=eta, steps=steps):
            id_rows.append({"source": label, "step": step, "inner_lr": eta, **r})
        share_batch = _episodes(config, data["val"], share_tasks, seed + 1)
        for step, params in states:
            heads = [("as trained", params)]
            if not config.zeroing:
                heads.append(("zeroed", zero_head(net, params)))
            for head, p in heads:
                for n in steps:
                    spec = dataclasses.replace(config.inner(n), lr=eta)
                    s = coefficient_signs(net, p, share_batch, spec)
                    share_rows.append({"source": label, "step": step, "head": head,
                                       "inner_steps": n, "label": f"{label}, head {head}, "
                                       f"N={n}", **s})
    write_records(out / "identities.csv", id_rows)
    atomic_write_text(out / "identities.json", json.dumps(id_rows, indent=1) + "\n")
    write_records(out / "coefficients.csv", share_rows)
    _save_fig(plot_identities(id_rows), out / "identities.png")
    _save_fig(plot_negative_share(share_rows), out / "coefficients.png")
    return id_rows, share_rows, runs


COMMANDS = [contrastive_cmd]


def main():  # pragma: no cover - python -m linmeta.fewshot.analysis_cli
    contrastive_cmd(prog_name="linmeta fewshot contrastive")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
