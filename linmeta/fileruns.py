"""Runs on a user's file: what a problem file (``linmeta run --problem``) or a data file
(``linmeta run --data``) fixes of a :class:`~linmeta.config.Config`, for
:func:`linmeta.experiment.run`.

    cfg = problem_config(cfg, "problem.npz", given={"d": 20})
    result = run(cfg, load_problem("problem.npz", cfg.trials), problem_file="problem.npz")

    job = data_run(cfg, "data.npz")
    result = run(job.cfg, job.problem, data=job.data, heldout=job.heldout)
"""

from __future__ import annotations

from typing import NamedTuple

from .config import Config, ConfigError
from .datafiles import load_data, load_problem
from .environment import Problem, generator, streams
from .errors import DataError
from .experiment import draw_problem
from .samples import SampleData


def problem_config(cfg: Config, problem_file, given: dict) -> Config:
    """``cfg`` with the sizes of the problem file; an explicit value that disagrees is refused.

    given : the Config fields the user set explicitly (a config file, the command line); a
    field the file fixes to another value raises :class:`~linmeta.config.ConfigError`."""
    problem = load_problem(problem_file, 1)
    n, k = problem.W_pool.shape[1:]
    d, kl = problem.B0.shape[1:]
    fixed = dict(d=d, k=k, k_learner=kl, n_tasks=n, task_pool=True, x_cov_cond=1.0)
    for name, value in fixed.items():
        if name not in given:
            continue
        mine = given[name]
        if name == "k_learner" and mine == 0:  # 0 means k
            mine = given.get("k", k)
        if mine != value:
            raise ConfigError(f"the problem file {problem_file} fixes {name}={value}, but "
                              f"{name}={given[name]} was given; drop one of them")
    return cfg.replace(**fixed)


class DataRun(NamedTuple):
    """The arguments of :func:`linmeta.experiment.run` for a data file.

    problem : B* of the file (T, d, k) or None, and the drawn B0, w0; data : the training
    tasks (T, n, m, d) with labels; heldout : ``(X_fit, y_fit, X_eval, y_eval)`` of the
    held-out tasks (:func:`linmeta.metrics.heldout_mse`), or None.
    """

    cfg: Config
    problem: Problem
    data: SampleData
    heldout: tuple | None


def data_run(cfg: Config, path, k: int | None = None) -> DataRun:
    """Config, problem, training data and held-out tasks of the data file ``path``.

    With ``B_star`` in the file every task trains and the distance is logged, with the file's
    k. Without it the width to learn is ``k`` (``--k``) or the file's ``k`` entry, and one of
    them is required; the last ⌈n/5⌉ tasks are held out: each fits a head in col(B) on its
    first m_in samples and is scored on the rest (``heldout_mse``). B0 and w0 are those that
    :func:`~linmeta.experiment.draw_problem` draws for the returned config, so the seed of a
    saved run gives its B0. A file that does not fit raises :class:`DataError`.
    """
    data, B_star, m_in, k_file = load_data(path)
    T, n, m, d = data.X.shape
    if m < 2:
        raise DataError(f"data file {path}: each task needs at least 2 samples (inner, outer)")
    m_in = m_in or m // 2
    fixed = B_star.shape[-1] if B_star is not None else k_file
    if fixed is None and k is None:
        raise DataError(f"data file {path} has no B_star: give --k, the width of the "
                        "representation to learn (or store k in the file)")
    if fixed is not None and k is not None and k != fixed:
        raise DataError(f"data file {path} fixes k={fixed}, but k={k} was given; drop one of "
                        "them")
    k = fixed if fixed is not None else k
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
    drawn = draw_problem(cfg, generator(streams(cfg.seed)["problem"]), heads=False)
    return DataRun(cfg, Problem(B_star, drawn.B0, drawn.w0), data, heldout)
