"""``linmeta fewshot contrastive``: Kao22's contrastive form measured on real network states.

Attach to the ``fewshot`` click group with ``fewshot.add_command(contrastive_cmd)``. Bad input
gives a one-line error and exit code 2, as the other ``fewshot`` commands do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
from pathlib import Path

import click
import numpy as np

from linmeta.backend import BackendError
from linmeta.cli_group import UsageError
from linmeta.datafiles import check_npz
from linmeta.io import atomic_savefig, atomic_write_text, write_records
from linmeta.results import (
    Terminated,
    exclusive_dir,
    file_sha256,
    interruptible,
    signals_deferred,
)

from .data import DataError
from .data.episodes import sample_episodes, stream
from .engine.budget import check_contrastive
from .engine.network import tree_float64
from .engine.train import RunError, TrainConfig, build, init_state, load_checkpoint

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
              help="Output folder: identities.csv/.json, coefficients.csv, two PNGs, "
                   "analysis.json.")
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
@click.option("--resume", is_flag=True,
              help="Finish the interrupted analysis in --out: only the parts it lacks are "
                   "computed, with the sources and options it was started with.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
def contrastive_cmd(sources, out, steps_text, tasks, share_tasks, inner_lr, seed, overwrite,
                    resume, quiet):
    """Kao22's contrastive form of MAML's encoder gradient against backprop (float64).

    SOURCES are run directories of `linmeta fewshot train` or checkpoint files; with none, a
    freshly initialised Conv-4 (TrainConfig defaults) is analysed. For the last checkpoint of each
    source, every case (FO/SO, N inner steps, CE/MSE, with and without zeroing, ANIL and MAML
    as reference) is compared and the relative error written to identities.csv: identities
    (FO under EFIL; everything with w_0 = 0 and N = 1) come out at round-off, approximations
    at their measured residual. For every checkpoint, the share of different-class pairs with a
    negative coefficient C(s, q) (Kao22's noise) is written to coefficients.csv, with the head as
    trained and with the head zeroed.

    The tables are saved after each part (a source's identities, a checkpoint's shares), with
    "complete": false in analysis.json until the end; Ctrl-C or SIGTERM leaves them valid, and
    --resume finishes them to the files of an uninterrupted analysis.
    """
    def say(msg):
        if not quiet:
            click.echo(msg, err=True)

    try:
        out = Path(out)
        if resume:
            _refuse_options_with_resume(sources)
            options = _read_state(out)["options"]
            sources, steps = tuple(options["sources"]), tuple(options["steps"])
            tasks, share_tasks = options["tasks"], options["share_tasks"]
            inner_lr, seed = options["inner_lr"], options["seed"]
        else:
            steps = _steps_list(steps_text)
            if tasks < 1 or share_tasks < 1:
                raise click.BadParameter("--tasks and --share-tasks must be >= 1")
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
        options = {"sources": list(sources), "steps": list(steps), "tasks": tasks,
                   "share_tasks": share_tasks, "inner_lr": inner_lr, "seed": seed}
        inputs = [[[str(c), file_sha256(c)] for c in ckpts] if src is not None else []
                  for src, ckpts, _ in loaded]
        with exclusive_dir(out, "contrastive analysis"):
            if resume:
                state = _read_state(out)
                if state.get("inputs") != inputs:
                    raise UsageError(f"cannot resume {out}: the checkpoints of its sources "
                                        "changed since it started; start it again with "
                                        "--overwrite")
            else:
                _refuse_existing(out, overwrite)
                for name in OUTPUTS:  # of an analysis being replaced
                    (out / name).unlink(missing_ok=True)
                state = {"command": "fewshot contrastive", "options": options,
                         "inputs": inputs, "done": {}}
            with interruptible():
                id_rows, share_rows, runs = _analyse(loaded, out, steps, tasks, share_tasks,
                                                     inner_lr, seed, say, state)
    except click.ClickException:
        raise
    except KeyboardInterrupt as err:
        what = "terminated" if isinstance(err, Terminated) else "interrupted"
        if (Path(out) / STATE).exists():
            click.echo(f"Error: {what}; the finished parts are saved in {out} (\"complete\": "
                       f"false); finish with: linmeta fewshot contrastive --resume --out {out}",
                       err=True)
        else:
            click.echo(f"Error: {what} before anything was saved in {out}", err=True)
        raise click.exceptions.Exit(143 if isinstance(err, Terminated) else 130) from None
    except _INPUT_ERRORS as err:
        msg = str(err).strip().splitlines()
        raise UsageError(msg[0] if msg else type(err).__name__) from None
    exact = [r["rel_error"] for r in id_rows if r["exact_expected"]]
    approx = [r["rel_error"] for r in id_rows if not r["exact_expected"]]
    click.echo(f"identities: max relative error {max(exact):.2e} over {len(exact)} exact cases"
               + (f"; approximations {min(approx):.2e} .. {max(approx):.2e}" if approx else "")
               + f"; results in {out}")


#: What ``contrastive`` writes into --out (analysis.json last: its options, and whether the
#: tables are complete).
OUTPUTS = ("identities.csv", "identities.json", "coefficients.csv", "identities.png",
           "coefficients.png", "analysis.json")
STATE = "analysis.json"


def _refuse_options_with_resume(sources) -> None:
    """``--resume`` takes the sources and options from analysis.json: refuse any other."""
    ctx = click.get_current_context()
    given = [p.opts[0] for p in ctx.command.params
             if p.name not in ("out", "resume", "quiet", "sources")
             and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE]
    if sources:
        given.insert(0, "SOURCES")
    if given:
        raise click.UsageError(f"--resume takes the sources and options from {STATE}; drop "
                               f"{', '.join(given)}")


def _read_state(out: Path) -> dict:
    """The analysis.json of an interrupted analysis in ``out`` (refused when there is none,
    or when it is complete)."""
    try:
        state = json.loads((out / STATE).read_text())
    except FileNotFoundError:
        raise UsageError(f"{out} holds no analysis to resume (no {STATE})") from None
    except (OSError, ValueError) as err:
        raise UsageError(f"unreadable {out / STATE}: {err}") from None
    if not isinstance(state, dict) or not isinstance(state.get("options"), dict):
        raise UsageError(f"unreadable {out / STATE}: not an analysis record")
    if state.get("complete"):
        raise UsageError(f"{out} holds a finished analysis: nothing to resume")
    return state


def _refuse_existing(out: Path, overwrite: bool) -> None:
    found = [name for name in OUTPUTS if (out / name).exists()]
    if found and not overwrite:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if json.loads((out / STATE).read_text()).get("complete") is False:
                raise UsageError(f"{out} holds an interrupted analysis; finish it with "
                                    "--resume, or use --overwrite to replace it, or another "
                                    "--out")
        raise UsageError(f"{out} already holds results ({found[0]}); use --overwrite to "
                            "replace them, or another --out")


def _analyse(loaded, out, steps, tasks, share_tasks, inner_lr, seed, say, state):
    """Identity rows and coefficient-share rows of every source; writes the files to ``out``.

    The work comes in parts (a source's identity table, a checkpoint's shares); after each
    the tables so far are saved, with the parts' rows in ``state["done"]`` (analysis.json,
    ``"complete": false``), and a part already there (``--resume``) is not computed again.
    """
    from .probes.plotting import plot_identities, plot_negative_share

    runs = []  # (label, [(step, params)], config, net, data)
    for src, ckpts, config in loaded:
        net, data, _, _ = build(config)
        if src is None:
            st = init_state(config, net, np, np.float64)
            runs.append(("fresh init", [(0, st.params)], config, net, data))
            continue
        states = []
        for c in ckpts:
            st, _ = load_checkpoint(c)
            states.append((st.step, tree_float64(st.params)))
        label = f"{Path(src).name}{' (zeroing)' if config.zeroing else ''}"
        runs.append((label, states, config, net, data))
    done = state["done"]
    parts = []  # (key, table, rows) in the order of an uninterrupted analysis

    def part(key, table, compute):
        if key not in done:
            done[key] = compute()
            _save_tables(out, parts + [(key, table, done[key])], state)
        parts.append((key, table, done[key]))

    for i, (label, states, config, net, data) in enumerate(runs):
        eta = config.inner_lr if inner_lr is None else inner_lr
        step, params = states[-1]
        part(f"{i}/identities", "identities", functools.partial(
            _identity_rows, label, step, params, config, net, data, eta, tasks, steps, seed, say))
        share_batch = _episodes(config, data["val"], share_tasks, seed + 1)
        for step_c, params_c in states:
            part(f"{i}/shares/{step_c}", "shares", functools.partial(
                _share_rows, label, step_c, params_c, config, net, share_batch, eta, steps))
    id_rows, share_rows = _save_tables(out, parts, state)
    _save_fig(plot_identities(id_rows), out / "identities.png")
    _save_fig(plot_negative_share(share_rows), out / "coefficients.png")
    final = {k: v for k, v in state.items() if k != "done"}
    atomic_write_text(out / STATE, json.dumps({**final, "complete": True}, indent=1) + "\n")
    return id_rows, share_rows, runs


def _identity_rows(label, step, params, config, net, data, eta, tasks, steps, seed, say):
    """The identity table of one source at its last checkpoint."""
    from .probes.contrastive import identity_table

    say(f"{label}: identities at step {step}")
    batch = _episodes(config, data["val"], tasks, seed)
    return [{"source": label, "step": step, "inner_lr": eta, **r}
            for r in identity_table(net, tree_float64(params), batch, inner_lr=eta, steps=steps)]


def _share_rows(label, step, params, config, net, share_batch, eta, steps):
    """The coefficient-sign shares of one checkpoint, with the head as trained and zeroed."""
    from .engine.meta import zero_head
    from .probes.contrastive import coefficient_signs

    rows = []
    heads = [("as trained", params)]
    if not config.zeroing:
        heads.append(("zeroed", zero_head(net, params)))
    for head, p in heads:
        for n in steps:
            spec = dataclasses.replace(config.inner(n), lr=eta)
            s = coefficient_signs(net, p, share_batch, spec)
            rows.append({"source": label, "step": step, "head": head, "inner_steps": n,
                         "label": f"{label}, head {head}, N={n}", **s})
    return rows


def _save_tables(out: Path, parts: list, state: dict):
    """Write the tables of ``parts`` (those with rows yet) and, last, analysis.json marked
    incomplete (Ctrl-C and SIGTERM held back meanwhile, so the files always agree); returns
    the two row lists."""
    id_rows = [r for _, table, rows in parts if table == "identities" for r in rows]
    share_rows = [r for _, table, rows in parts if table == "shares" for r in rows]
    with signals_deferred():
        if id_rows:
            write_records(out / "identities.csv", id_rows)
            atomic_write_text(out / "identities.json", json.dumps(id_rows, indent=1) + "\n")
        if share_rows:
            write_records(out / "coefficients.csv", share_rows)
        atomic_write_text(out / STATE, json.dumps({**state, "complete": False}, indent=1)
                          + "\n")
    return id_rows, share_rows


COMMANDS = [contrastive_cmd]


def main():  # pragma: no cover - python -m linmeta.fewshot.analysis_cli
    contrastive_cmd(prog_name="linmeta fewshot contrastive")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
