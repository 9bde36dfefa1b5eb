"""``linmeta fewshot``: meta-train a Conv-4 on few-shot tasks and evaluate checkpoints.

Bad input gives a one-line error on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from linmeta.backend import BackendError
from linmeta.cli_group import LinmetaGroup, UsageError
from linmeta.datafiles import check_npz

from .analysis_cli import COMMANDS as ANALYSIS_COMMANDS
from .data import DataError
from .engine.budget import check_evaluation
from .engine.meta import ALGORITHMS, ALIASES
from .engine.train import (
    RunError,
    TrainConfig,
    build,
    eval_kwargs,
    latest_checkpoint,
    load_checkpoint,
    read_run_config,
)

_INPUT_ERRORS = (DataError, BackendError, RunError, ValueError, OSError)


def _one_line(err: Exception) -> str:
    msg = str(err).strip().splitlines()
    return msg[0] if msg else type(err).__name__


@click.group("fewshot", cls=LinmetaGroup)
def fewshot():
    """Few-shot classification with MAML / FO-MAML / ANIL / FO-ANIL on a NumPy Conv-4
    (Finn17, Raghu20, Kao22). Data: procedural glyphs or the Omniglot-sized omniglyphs (no
    download), Omniglot, mini-ImageNet, or an .npz of images and labels."""


#: Click types the field's default does not give: ALIASES, the old spellings of the algorithms,
#: are still accepted; the other choices are those of the field's check.
_TYPES = {"algorithm": click.Choice(sorted([*ALGORITHMS, *ALIASES])), "data_path": click.Path(),
          "image_size": int}


def _train_option(f: dataclasses.Field):
    """The option of a :class:`TrainConfig` field, described by its metadata
    (:func:`linmeta.fields.field`); unset (``None``) keeps the default."""
    name = f.name.replace("_", "-")
    if isinstance(f.default, bool):
        default = name if f.default else f"no-{name}"
        return click.option(f"--{name}/--no-{name}", default=None,
                            help=f"{f.metadata['help']}  [default: {default}]")
    if f.name in _TYPES:
        kind = _TYPES[f.name]
    elif f.metadata["choices"] is not None:
        kind = click.Choice(f.metadata["choices"])
    else:
        kind = type(f.default)
    return click.option(f"--{name}", default=None, show_default=str(f.default),
                        help=f.metadata["help"], type=kind)


_TRAIN_OPTIONS = [_train_option(f) for f in dataclasses.fields(TrainConfig) if f.metadata["help"]]


def _apply(options):
    def deco(f):
        for o in reversed(options):
            f = o(f)
        return f

    return deco


@fewshot.command("train")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Run directory (config.json, metrics.csv, learning_curve.png, checkpoints/).")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its latest checkpoint, bit for bit; "
                   "only --steps may change.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_apply(_TRAIN_OPTIONS)
def train_cmd(out, resume, quiet, **opts):
    """Meta-train; defaults: MAML, 5-way 1-shot glyphs, a few minutes on 2 CPU cores."""
    from .engine.train import run

    given = {k: v for k, v in opts.items() if v is not None}
    out = Path(out)
    try:
        if resume:
            saved = read_run_config(out)
            extra = set(given) - {"steps"}
            if extra:
                raise click.BadParameter(
                    f"with --resume only --steps may be given, not {sorted(extra)}")
            config = dataclasses.replace(saved, **given).validate()
        else:
            config = TrainConfig(**given).validate()
        check_data_file(config)
        summary = _run_with_bar(run, config, out, resume, quiet)
    except click.ClickException:
        raise
    except _INPUT_ERRORS as err:
        raise UsageError(_one_line(err)) from None
    if "test_acc" in summary:
        click.echo(f"test accuracy {summary['test_acc']:.4f} ± {summary['test_ci95']:.4f} "
                   f"(95%, {summary['test_tasks']} tasks); run in {out}")
    else:
        click.echo(f"trained to step {summary['step']}; run in {out}")


def check_data_file(config: TrainConfig) -> None:
    """Refuse an ``--dataset npz`` path that is not an .npz file, in one line."""
    if config.dataset == "npz":
        check_npz(config.data_path, DataError)


def _run_with_bar(run, config, out, resume, quiet):
    """Run with a progress bar on stderr, opened at the first step (after data loading)."""
    if quiet:
        return run(config, out, resume=resume)
    bar = None

    def progress(step, info):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=config.steps, label="meta-training", file=sys.stderr,
                                    show_pos=True, item_show_func=lambda s: s)
            bar.__enter__()
            bar.update(step - 1)
        bar.current_item = f"loss {info['loss']:.3f} acc {info['acc']:.3f}"
        bar.update(1)

    try:
        return run(config, out, resume=resume, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@fewshot.command("eval")
@click.argument("checkpoint", type=click.Path())
@click.option("--tasks", default=600, show_default=True, type=click.IntRange(min=1),
              help="Test tasks.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "val"]))
@click.option("--inner-steps", default=None, type=int,
              help="Test-time inner steps  [default: the run's inner_steps_test]")
@click.option("--zeroing/--no-zeroing", default=None,
              help="Zero the head before adaptation  [default: as trained]")
@click.option("--seed", default=1, show_default=True, type=click.IntRange(min=0),
              help="Seed of the test tasks.")
@click.option("--data-path", default=None, type=click.Path(),
              help="Data location, if it moved since training.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def eval_cmd(checkpoint, tasks, split, inner_steps, zeroing, seed, data_path, as_json):
    """Evaluate CHECKPOINT (a .npz, or a run directory: its latest checkpoint) on held-out
    classes: mean accuracy over --tasks tasks with the 95% interval 1.96·sd/√tasks."""
    from .engine.evaluate import evaluate

    try:
        path = Path(checkpoint)
        if path.is_dir():
            found = latest_checkpoint(path)
            if found is None:
                raise RunError(f"no checkpoints in {path}")
            path = found
        check_npz(path, RunError)
        _, config = load_checkpoint(path)
        changes = {"data_path": data_path, "zeroing": zeroing, "inner_steps_test": inner_steps}
        config = dataclasses.replace(
            config, **{k: v for k, v in changes.items() if v is not None}).validate()
        check_data_file(config)
        check_evaluation(config, tasks)
        net, data, xp, dtype = build(config)
        state, _ = load_checkpoint(path, xp)
        res = evaluate(net, state.params, data[split], tasks=tasks, seed=seed, dtype=dtype,
                       xp=xp, **eval_kwargs(config))
    except click.ClickException:
        raise
    except _INPUT_ERRORS as err:
        raise UsageError(_one_line(err)) from None
    if as_json:
        click.echo(json.dumps({"checkpoint": str(path), "step": state.step, "split": split,
                               **res._asdict()}))
    else:
        click.echo(f"{split} accuracy {res.acc:.4f} ± {res.ci95:.4f} (95%, {res.tasks} tasks, "
                   f"{config.n_way}-way {config.k_shot}-shot, step {state.step})")


for _cmd in ANALYSIS_COMMANDS:
    fewshot.add_command(_cmd)


def main():  # pragma: no cover - convenience entry point: python -m linmeta.fewshot.cli
    fewshot(prog_name="linmeta fewshot")


if __name__ == "__main__":  # pragma: no cover
    main()
