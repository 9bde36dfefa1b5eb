"""The ``linmeta`` command line. Progress goes to stderr, summaries to stdout.

Bad input (an invalid option value, a malformed config or problem file) gives a one-line
``Error: …`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import datetime
from pathlib import Path

import click

from . import __version__
from .backend import tune_allocator
from .budget import check_linear
from .cli_group import INPUT_ERRORS, LinmetaGroup  # noqa: F401 (re-exported)
from .config import Config, ConfigError, load_config
from .datafiles import load_problem
from .executors import EXECUTORS, ExecutorError
from .experiment import run as run_experiment
from .fewshot.cli import fewshot
from .fileruns import data_run, problem_config
from .io import atomic_savefig, read_table
from .results import (
    RESULT_FILES,
    ResultError,
    Terminated,
    check_metrics_file,
    exclusive_dir,
    file_sha256,
    incomplete,
    interruptible,
    is_complete,
    mark_complete,
    read_config,
    read_metrics,
    save_data,
    save_result,
    saved_runs,
    signals_deferred,
    summarize,
)
from .sweep import (
    SweepError,
    build_points,
    finished,
    run_sweep,
    summary_rows,
    summary_text,
)


@click.group(cls=LinmetaGroup)
@click.version_option(__version__, prog_name="linmeta")
def cli():
    """linmeta: simulate meta-learning theory (Collins22, Kao22, Raghu20)."""


def _option_for(f: dataclasses.Field):
    """The option of a Config field: its help and choices come from the field's metadata
    (:func:`linmeta.fields.field`)."""
    flag = "--" + f.name.replace("_", "-")
    default = ",".join(f.default) if isinstance(f.default, tuple) else f.default
    doc = f"{f.metadata['help']} [default: {default}]".strip()
    if f.name == "methods":
        return click.option(flag, f.name, type=str, default=None, help=doc)
    if isinstance(f.default, bool):
        no = "--no-" + f.name.replace("_", "-")
        return click.option(f"{flag}/{no}", f.name, default=None, help=doc)
    if f.metadata["choices"] is not None:
        return click.option(flag, f.name, type=click.Choice(f.metadata["choices"]), default=None,
                            help=doc)
    kind = float if f.name == "head_kappa" else type(f.default)
    return click.option(flag, f.name, type=kind, default=None, help=doc)


def config_options(func):
    """One option per Config field; unset options leave the config file's or default value."""
    for f in reversed(dataclasses.fields(Config)):
        func = _option_for(f)(func)
    return func


def resolve_config(config_file, options: dict) -> Config:
    """Defaults < config file (TOML) < command-line options."""
    base = load_config(config_file).to_dict() if config_file else {}
    base.update(given_fields(None, options))
    return Config.from_dict(base)


def given_fields(config_file, options: dict) -> dict:
    """The Config fields set explicitly, by the config file or on the command line."""
    names = {f.name for f in dataclasses.fields(Config)}
    given = read_table(config_file, ConfigError) if config_file else {}
    given.update({k: v for k, v in options.items() if k in names and v is not None})
    return given


class Progress:
    """One click progress bar per method, on stderr."""

    def __init__(self):
        self.bar = None
        self.name = None

    def __call__(self, name, step, steps):
        if name != self.name:
            self.close()
            self.name = name
            self.bar = click.progressbar(length=steps, label=f"{name:>8}", file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3e}"


def summary_table(summary: dict) -> str:
    """The per-method summary as text; with a held-out error (a data file without B*) its
    column ``heldout mse`` (``final_heldout_mse``, mean over trials) follows the distances."""
    heldout = any("final_heldout_mse" in s for s in summary.values())
    lines = [f"{'method':<10} {'final dist mean':>16} {'median':>10} {'max':>10} "
             + (f"{'heldout mse':>12} " if heldout else "") + f"{'diverged':>9} {'time [s]':>9}"]
    for name, s in summary.items():
        lines.append(
            f"{name:<10} {_fmt(s['final_dist_mean']):>16} {_fmt(s['final_dist_median']):>10} "
            f"{_fmt(s['final_dist_max']):>10} "
            + (f"{_fmt(s.get('final_heldout_mse')):>12} " if heldout else "")
            + f"{s['diverged']:>4}/{s['trials']:<4} {s['seconds']:>9.2f}"
        )
    return "\n".join(lines)


@cli.command("run")
@config_options
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file of config fields; command-line options override it.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Result directory [default: results/run-<date>-<time>].")
@click.option("--problem", "problem_file", type=click.Path(dir_okay=False), default=None,
              help="NPZ with B_star (d,k), B0 (d,k'), w0 (k',), W_star (n,k) [, Sigma_diag (d,)].")
@click.option("--save-params", is_flag=True,
              help="Store final B (trials,d,k') and w in arrays.npz.")
@click.option("--plot/--no-plot", default=None, help="Write convergence.png [default: on].")
@click.option("--data", "data_file", type=click.Path(dir_okay=False), default=None,
              help="NPZ with X (n,m,d), y (n,m) [, B_star (d,k), m_in, k]: run the methods on "
                   "these samples (fixed data); distance when B_star is given, else held-out "
                   "error (then --k, or k in the file, is required).")
@click.option("--save-data", "save_data_", is_flag=True,
              help="Store the fixed dataset (--samples fixed or --data) as data.npz.")
@click.option("--overwrite", is_flag=True, help="Replace a result already in --out.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              metavar="DIR", help="Finish the interrupted run in DIR: compute only the methods "
                                  "it lacks, with the options it was started with.")
def run_cmd(config_file, out, problem_file, save_params, plot, data_file, save_data_, overwrite,
            resume_dir, **options):
    """Simulate the methods and write a result directory.

    With no arguments: the headline comparison of docs/theory.md §1.3 claim 1 (MAML, FO-MAML, ANIL,
    FO-ANIL, ERM in population mode, d=20, k=3, n=20, α=β=0.5, 5 trials).

    Each method's results are saved as soon as it finishes ("complete": false in config.json
    until the end), so Ctrl-C or SIGTERM leaves the finished methods as a valid result, which
    `linmeta run --resume DIR` completes (the same files as an uninterrupted run).
    """
    if resume_dir:
        flags = {"--config": config_file, "--out": out, "--problem": problem_file,
                 "--save-params": save_params, "--plot/--no-plot": plot is not None,
                 "--data": data_file, "--save-data": save_data_, "--overwrite": overwrite,
                 **{"--" + k.replace("_", "-"): v is not None for k, v in options.items()}}
        given = [flag for flag, value in flags.items() if value]
        if given:
            raise click.UsageError(f"--resume takes every option from {resume_dir}/config.json; "
                                   f"drop {', '.join(given)}")
        out = Path(resume_dir)
        if not (out / "config.json").is_file():
            raise ResultError(f"{out} holds no run to resume (no config.json)")
        _resume_options(out)  # refused before the lock is taken; read again under it
        check_metrics_file(out)
        job = None
    else:
        job = _new_job(config_file, problem_file, save_params, plot, data_file, save_data_,
                       options)
        out = Path(out or f"results/run-{datetime.now():%Y%m%d-%H%M%S}")
        _refuse_result(out, overwrite)
    with exclusive_dir(out, "run"):
        if job is None:
            job = _resume_job(out)
        else:
            _refuse_result(out, overwrite)  # again, now that no other process can write here
            for stale in ("convergence.png", "data.npz"):  # of a run being replaced
                (out / stale).unlink(missing_ok=True)
        result = _execute(job, out)
    click.echo(summary_table(summarize(result)))
    click.echo(f"results in {out}")


@dataclasses.dataclass
class RunJob:
    """What ``linmeta run`` computes and writes: ``options`` is recorded in config.json as
    ``run_options`` (the data file, its SHA-256, the flags) so that ``--resume`` can go on;
    ``done``: the methods a resumed run already holds."""

    cfg: Config
    problem: object = None
    problem_file: str | None = None
    data: object = None
    heldout: object = None
    options: dict = dataclasses.field(default_factory=dict)
    done: dict | None = None


def _new_job(config_file, problem_file, save_params, plot, data_file, save_data_,
             options) -> RunJob:
    cfg = resolve_config(config_file, options)
    given = given_fields(config_file, options)
    problem = data = heldout = None
    if data_file:
        if problem_file:
            raise click.UsageError("--data and --problem exclude each other")
        cfg, problem, data, heldout = data_run(cfg, data_file, given.get("k"))
    if problem_file:
        cfg = problem_config(cfg, problem_file, given)
    check_linear(cfg)  # before the problem's trials are allocated
    if problem_file:
        problem = load_problem(problem_file, cfg.trials)
    if save_data_ and cfg.samples != "fixed":
        raise click.UsageError("--save-data needs --samples fixed or --data")
    source = data_file or problem_file
    options = {"data_file": data_file, "input_sha256": file_sha256(source) if source else None,
               "save_params": save_params, "save_data": save_data_,
               "plot": True if plot is None else plot}
    return RunJob(cfg, problem, problem_file, data, heldout, options)


def _resume_job(out: Path) -> RunJob:
    """The job of the interrupted run in ``out``, with the methods it finished."""
    meta, options = _resume_options(out)
    cfg = Config.from_dict(meta["config"])
    problem_file, data_file = meta.get("problem_file"), options.get("data_file")
    source = data_file or problem_file
    if source:
        try:
            same = file_sha256(source) == options.get("input_sha256")
        except OSError as err:
            raise ResultError(f"cannot resume {out}: its input file {source} cannot be read "
                              f"({err.strerror or err})") from None
        if not same:
            raise ResultError(f"cannot resume {out}: its input file {source} changed since the "
                              "run started; start it again with --overwrite")
    problem = data = heldout = None
    if data_file:
        _, problem, data, heldout = data_run(cfg, data_file, cfg.k)
    if problem_file:
        problem = load_problem(problem_file, cfg.trials)
    return RunJob(cfg, problem, problem_file, data, heldout, options, saved_runs(out))


def _resume_options(out: Path):
    """``(config.json, its run_options)`` of a run that ``--resume`` can finish."""
    meta = read_config(out)
    if meta.get("complete"):
        raise ResultError(f"{out} holds a finished run: nothing to resume")
    options = meta.get("run_options")
    if not isinstance(options, dict) or not isinstance(meta.get("config"), dict):
        raise ResultError(f"{out} cannot be resumed: its config.json has no run_options (not "
                          "written by `linmeta run`); start it again with --overwrite")
    return meta, options


def _execute(job: RunJob, out: Path):
    """Run ``job`` into ``out``, saving the result after each method; on Ctrl-C or SIGTERM
    say what was saved and exit 130 or 143."""
    options, total = job.options, len(job.cfg.methods)
    saved = [None if job.done is None else len(job.done)]  # methods in the saved result

    def checkpoint(result):
        with signals_deferred():  # metrics.csv and its checksum are saved together
            save_result(result, out, save_params=options["save_params"], complete=False,
                        run_options=options)
            saved[0] = len(result.runs)

    progress = Progress()
    try:
        with interruptible():
            try:
                result = run_experiment(job.cfg, job.problem, progress=progress,
                                        problem_file=job.problem_file, data=job.data,
                                        heldout=job.heldout, done=job.done,
                                        checkpoint=checkpoint)
            finally:
                progress.close()
            if options["save_data"]:
                save_data(result, out)
            if options["plot"]:
                from .plotting import collins_rate, convergence_figure

                metric = "dist" if result.problem.B_star is not None else "heldout_mse"
                theory = collins_rate(job.cfg.to_dict(), job.problem_file)
                fig = convergence_figure([(out.name, read_metrics(out))], metric=metric,
                                         theory=theory)
                atomic_savefig(fig, out / "convergence.png", dpi=120)
            else:
                (out / "convergence.png").unlink(missing_ok=True)
            mark_complete(out)
    except KeyboardInterrupt as err:
        what = "terminated" if isinstance(err, Terminated) else "interrupted"
        if saved[0] is None:
            click.echo(f"Error: {what} before anything was saved in {out}", err=True)
        else:
            click.echo(f"Error: {what}; {saved[0]} of {total} methods are saved in {out} "
                       f"(\"complete\": false); finish with: linmeta run --resume {out}",
                       err=True)
        raise click.exceptions.Exit(143 if isinstance(err, Terminated) else 130) from None
    return result


def _refuse_result(out: Path, overwrite: bool) -> None:
    found = [name for name in RESULT_FILES if (out / name).exists()]
    if found and not overwrite:
        if (out / "config.json").exists() and not is_complete(out):
            raise ResultError(f"{out} holds an interrupted run; finish it with --resume {out}, "
                              "or use --overwrite to replace it, or another --out")
        raise ResultError(f"{out} already holds a result ({found[0]}); use --overwrite to "
                          "replace it, or another --out")


@cli.command("plot")
@click.argument("result_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--metric", default="dist", show_default=True,
              help="Metric to draw: dist, angle_j, loss, w_norm, risk_subspace, …")
@click.option("--linear", is_flag=True,
              help="Linear instead of log y axis (colour scale of a heat map).")
@click.option("--x", "x_field", default=None, metavar="FIELD",
              help="Draw a sweep (one SWEEP_DIR): the final metric against this grid field, "
                   "one line per method.")
@click.option("--y", "y_field", default=None, metavar="FIELD",
              help="With --x: a heat map of the final metric over the two grid fields, one "
                   "panel per method.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Image file [default: DIR/convergence.png for one result; for several, "
                   "overlay.png in their folder; for a sweep, SWEEP_DIR/sweep_X[_Y].png].")
def plot_cmd(result_dirs, metric, linear, x_field, y_field, out):
    """Redraw from saved results without recomputing; several results are overlaid.

    An incomplete result (an interrupted run: the methods it finished) is drawn with a warning
    per missing piece; a damaged metrics.csv is refused. One result in Collins22's population
    setting gets the theory line (linmeta.plotting.collins_rate).

    With --x, the one directory is a sweep (`linmeta sweep --out`): its final metric against a
    grid field, one line per method, mean over seeds and trials; with --x and --y, a heat map
    per method. Unfinished points are left out with a warning.
    """
    from matplotlib.figure import Figure

    from .plotting import collins_rate, convergence_figure

    if y_field and not x_field:
        raise click.UsageError("--y needs --x: a heat map is drawn over --x and --y")
    if x_field and len(result_dirs) != 1:
        raise click.UsageError(f"--x draws one sweep directory; got {len(result_dirs)}")
    if x_field:
        name = "_".join(f.replace("+", "-") for f in (x_field, y_field) if f)
        target = Path(out) if out else Path(result_dirs[0]) / f"sweep_{name}.png"
    else:
        target = Path(out) if out else _plot_target([Path(d) for d in result_dirs])
    kind = target.suffix.lstrip(".").lower()
    if kind not in Figure().canvas.get_supported_filetypes():
        raise click.BadParameter(f"{target}: not an image type matplotlib writes (use .png, "
                                 ".pdf or .svg)", param_hint="--out")
    if x_field:
        fig = _sweep_figure(Path(result_dirs[0]), metric, linear, x_field, y_field)
        atomic_savefig(fig, target, dpi=120)
        click.echo(f"wrote {target}")
        return
    runs = []
    for d in result_dirs:
        if (Path(d) / "sweep.json").is_file() and not (Path(d) / "config.json").exists():
            raise click.UsageError(f"{d} is a sweep: give --x FIELD (and --y FIELD for a "
                                   "heat map)")
        meta = read_config(d)
        metrics = read_metrics(d)
        if not metrics:  # an interrupted run saved before its first method finished
            raise ResultError(f"nothing to draw in {d}: no method has finished yet (finish the "
                              f"run with: linmeta run --resume {d})")
        for problem in incomplete(d, metrics):
            click.echo(f"Warning: {d} is incomplete: {problem}", err=True)
        runs.append((Path(d).name, metrics))
    theory = None
    if len(runs) == 1:
        theory = collins_rate(meta.get("config", {}), meta.get("problem_file"))
    try:
        fig = convergence_figure(runs, metric=metric, logy=not linear, theory=theory)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--metric") from None
    atomic_savefig(fig, target, dpi=120)
    click.echo(f"wrote {target}")


def _sweep_figure(sweep_dir: Path, metric: str, linear: bool, x_field: str, y_field):
    """The line plot (--x) or heat map (--x, --y) of a sweep; a warning for unfinished points."""
    from .plotting import sweep_heatmap_figure, sweep_lines_figure
    from .sweep import read_finals

    try:
        finals = read_finals(sweep_dir, metric)
        x = finals.key(x_field)
        y = finals.key(y_field) if y_field else None
        if y == x:
            raise SweepError(f"--x {x_field} and --y {y_field} are the same grid field ({x})")
        fig = (sweep_heatmap_figure(finals, x, y, logc=not linear) if y
               else sweep_lines_figure(finals, x, logy=not linear))
    except ValueError as err:  # SweepError, and a figure that cannot be drawn
        if isinstance(err, ResultError):
            raise
        raise click.ClickException(str(err)) from None
    if finals.unfinished:
        done = finals.points - len(finals.unfinished)
        click.echo(f"Warning: {len(finals.unfinished)} of {finals.points} points of {sweep_dir} "
                   f"are not finished; drawn from the {done} that are", err=True)
    return fig


def _plot_target(dirs: list[Path]) -> Path:
    """DIR/convergence.png for one result; for several, overlay.png beside them."""
    if len(dirs) == 1:
        return dirs[0] / "convergence.png"
    parents = {d.resolve().parent for d in dirs}
    if len(parents) > 1:
        raise click.UsageError("the results are in different folders; give --out FILE.png")
    return dirs[0].parent / "overlay.png"


@cli.command("sweep")
@click.option("--grid", "grid_entries", multiple=True, metavar="FIELD=V1,V2,…",
              help="Grid over a Config field (repeatable); F1+F2=… sets several fields alike.")
@click.option("--set", "settings", multiple=True, metavar="FIELD=VALUE",
              help="Fix a Config field for every point (repeatable).")
@click.option("--seeds", "seeds_text", default=None, metavar="A-B|S1,S2,…",
              help="Seeds per grid point, e.g. 0-9 [default: the base seed].")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file of base Config fields.")
@click.option("--sweep", "sweep_file", type=click.Path(dir_okay=False), default=None,
              help="TOML sweep file with [base], [grid] and seeds = [...].")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Sweep directory; run again with the same --out to resume "
                   "[default: results/sweep-<date>-<time>].")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Parallel processes [default: number of CPUs].")
@click.option("--scheduler", default=None,
              help="Dask scheduler address for --executor dask [default: a local cluster].")
@click.option("--executor", type=click.Choice(sorted(EXECUTORS)), default="local",
              show_default=True, help="Where the points run.")
def sweep_cmd(grid_entries, settings, seeds_text, config_file, sweep_file, out, jobs, scheduler,
              executor):
    """Run a grid of configs × seeds; one result directory per point, and a summary table.

    Finished points are skipped, so the same command resumes an interrupted sweep. Example:

        linmeta sweep --set mode=finite --grid n_tasks=10,100 --grid m_in+m_out=5,10 --seeds 0-2
    """
    out = Path(out or f"results/sweep-{datetime.now():%Y%m%d-%H%M%S}")
    try:
        points = build_points(config_file, sweep_file, grid_entries, settings, seeds_text)
        for p in points:
            finished(out, p)  # refuses a directory that holds other configs' points
        runner = EXECUTORS[executor](jobs, scheduler)
    except (SweepError, ExecutorError) as err:
        raise click.ClickException(str(err)) from None
    with exclusive_dir(out, "sweep"):
        todo = sum(not finished(out, p) for p in points)
        click.echo(f"{len(points)} points, {len(points) - todo} already finished, {todo} to "
                   f"run; results in {out}", err=True)
        with click.progressbar(length=todo, label="sweep", file=sys.stderr, show_pos=True,
                               show_eta=True) as bar:
            report = run_sweep(points, out, runner,
                               progress=lambda name, seconds: bar.update(1))
    click.echo(summary_text(summary_rows(points, out)))
    click.echo(f"{len(report.computed)} computed, {len(report.skipped)} skipped; "
               f"summary in {out / 'summary.csv'}")


cli.add_command(fewshot)


def main():
    tune_allocator()  # a process-wide setting, so here and not in the library
    cli()


if __name__ == "__main__":
    main()
