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
from .backend import BackendError, tune_allocator
from .experiment import Config, ConfigError, load_config
from .experiment import run as run_experiment
from .results import ResultError, read_config, read_metrics, save_data, save_result, summarize
from .tasks import DataError, ProblemError, load_problem

INPUT_ERRORS = (ConfigError, ProblemError, ResultError, BackendError, DataError)


class LinmetaGroup(click.Group):
    """A click group whose errors are one line on stderr with exit code 2."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            return _exit(130, standalone_mode)
        except click.ClickException as err:
            click.echo(f"Error: {err.format_message()}", err=True)
            return _exit(2, standalone_mode)
        except INPUT_ERRORS as err:
            click.echo(f"Error: {err}", err=True)
            return _exit(2, standalone_mode)
        return _exit(rv if isinstance(rv, int) else 0, standalone_mode)


def _exit(code: int, standalone_mode: bool):
    if standalone_mode:
        sys.exit(code)
    return code


@click.group(cls=LinmetaGroup)
@click.version_option(__version__, prog_name="linmeta")
def cli():
    """linmeta: simulate meta-learning theory (Collins22, Kao22, Raghu20)."""


def _option_for(f: dataclasses.Field):
    flag = "--" + f.name.replace("_", "-")
    doc = f"[default: {f.default if not isinstance(f.default, tuple) else ','.join(f.default)}]"
    if f.name == "methods":
        return click.option(flag, f.name, type=str, default=None,
                            help=f"Comma-separated methods. {doc}")
    if isinstance(f.default, bool):
        no = "--no-" + f.name.replace("_", "-")
        return click.option(f"{flag}/{no}", f.name, default=None, help=doc)
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
    names = {f.name for f in dataclasses.fields(Config)}
    base.update({k: v for k, v in options.items() if k in names and v is not None})
    return Config.from_dict(base)


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
    lines = [f"{'method':<10} {'final dist mean':>16} {'median':>10} {'max':>10} "
             f"{'diverged':>9} {'time [s]':>9}"]
    for name, s in summary.items():
        lines.append(
            f"{name:<10} {_fmt(s['final_dist_mean']):>16} {_fmt(s['final_dist_median']):>10} "
            f"{_fmt(s['final_dist_max']):>10} {s['diverged']:>4}/{s['trials']:<4} "
            f"{s['seconds']:>9.2f}"
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
@click.option("--plot/--no-plot", default=True, help="Write convergence.png [default: on].")
@click.option("--data", "data_file", type=click.Path(dir_okay=False), default=None,
              help="NPZ with X (n,m,d), y (n,m) [, B_star (d,k), m_in]: run the methods on these "
                   "samples (fixed data); distance when B_star is given, else held-out error.")
@click.option("--save-data", "save_data_", is_flag=True,
              help="Store the fixed dataset (--samples fixed or --data) as data.npz.")
def run_cmd(config_file, out, problem_file, save_params, plot, data_file, save_data_, **options):
    """Simulate the methods and write a result directory.

    With no arguments: the headline comparison of THEORY §1.3 claim 1 (MAML, FO-MAML, ANIL,
    FO-ANIL, ERM in population mode, d=20, k=3, n=20, α=β=0.5, 5 trials).
    """
    cfg = resolve_config(config_file, options)
    problem = data = heldout = None
    if data_file:
        if problem_file:
            raise click.UsageError("--data and --problem exclude each other")
        cfg, problem, data, heldout = _data_run(cfg, data_file)
    if problem_file:
        problem = load_problem(problem_file, cfg.trials)
        n, k = problem.W_pool.shape[1:]
        d, kl = problem.B0.shape[1:]
        cfg = cfg.replace(d=d, k=k, k_learner=kl, n_tasks=n, task_pool=True,
                          x_cov_cond=1.0)
    out = Path(out or f"results/run-{datetime.now():%Y%m%d-%H%M%S}")
    progress = Progress()
    if save_data_ and cfg.samples != "fixed":
        raise click.UsageError("--save-data needs --samples fixed or --data")
    try:
        result = run_experiment(cfg, problem, progress=progress, problem_file=problem_file,
                                data=data, heldout=heldout)
    finally:
        progress.close()
    save_result(result, out, save_params=save_params)
    if save_data_:
        save_data(result, out)
    if plot:
        from .plotting import convergence_figure

        metric = "dist" if result.problem.B_star is not None else "heldout_mse"
        fig = convergence_figure([(out.name, read_metrics(out))], metric=metric)
        fig.savefig(out / "convergence.png", dpi=120)
    click.echo(summary_table(summarize(result)))
    click.echo(f"results in {out}")


def _data_run(cfg: Config, path):
    """Config, problem, training data and held-out tasks of ``run --data FILE``.

    With ``B_star`` in the file every task trains and the distance is logged. Without it the
    last ⌈n/5⌉ tasks are held out: each fits a head in col(B) on its first m_in samples and is
    scored on the rest (``heldout_mse``)."""
    from .experiment import _rng, streams
    from .tasks import Problem, SampleData, draw_init, load_data, random_orthonormal

    data, B_star, m_in = load_data(path)
    T, n, m, d = data.X.shape
    if m < 2:
        raise DataError(f"data file {path}: each task needs at least 2 samples (inner, outer)")
    m_in = m_in or m // 2
    k = B_star.shape[-1] if B_star is not None else cfg.k
    heldout = None
    if B_star is None:
        h = -(-n // 5)
        if n - h < 1:
            raise DataError(f"data file {path}: without B_star at least 2 tasks are needed "
                            "(some are held out)")
        X, y = data.X[:, n - h:], data.y[:, n - h:]
        heldout = (X[:, :, :m_in], y[:, :, :m_in], X[:, :, m_in:], y[:, :, m_in:])
        data = SampleData(data.X[:, : n - h], y=data.y[:, : n - h])
        n -= h
    try:
        cfg = cfg.replace(d=d, k=k, n_tasks=n, m_in=m_in, m_out=m - m_in, trials=T,
                          mode="finite", samples="fixed", n_test_tasks=0, task_pool=False,
                          x_cov_cond=1.0)
    except ConfigError as err:
        raise DataError(f"data file {path}: {err}") from None
    rng = _rng(streams(cfg.seed)["problem"])
    random_orthonormal(rng, (T, d, k))  # as make_problem: the seed of a saved run gives its B0
    B0, w0 = draw_init(rng, T, d, cfg.learner_k, cfg.init, cfg.alpha, cfg.w0_scale)
    return cfg, Problem(B_star, B0, w0), data, heldout


@cli.command("plot")
@click.argument("result_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--metric", default="dist", show_default=True,
              help="Metric to draw: dist, angle_j, loss, w_norm, risk_subspace, …")
@click.option("--linear", is_flag=True, help="Linear instead of log y axis.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="PNG file [default: DIR/convergence.png for one result, overlay.png otherwise].")
def plot_cmd(result_dirs, metric, linear, out):
    """Redraw from saved results without recomputing; several results are overlaid."""
    from .plotting import convergence_figure

    runs = []
    for d in result_dirs:
        read_config(d)
        runs.append((Path(d).name, read_metrics(d)))
    try:
        fig = convergence_figure(runs, metric=metric, logy=not linear)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--metric") from None
    target = Path(out) if out else (
        Path(result_dirs[0]) / "convergence.png" if len(result_dirs) == 1 else Path("overlay.png")
    )
    fig.savefig(target, dpi=120)
    click.echo(f"wrote {target}")


from .fewshot.cli import fewshot  # noqa: E402
from .sweep import sweep_cmd  # noqa: E402

cli.add_command(sweep_cmd)
cli.add_command(fewshot)


def main():
    tune_allocator()  # a process-wide setting, so here and not in the library
    cli()


if __name__ == "__main__":
    main()
