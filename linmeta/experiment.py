"""Config -> run() -> Result, and the result directory (config.json, metrics.csv, arrays.npz).

A run simulates every requested method on the same environment and the same random stream
(common random numbers: each method reopens the streams from the seed), for all trials at once
as one array computation of shape (trials, tasks, …). In population mode with Σ = I every
iterate stays in span(B0, B*) (all updates are combinations of ``B w − B* w*`` and their
products with heads), so the simulation runs in an orthonormal basis U of that span, of
dimension ≤ k + k′; the distance and the losses are unchanged by the change of basis, and
B = U B_c is rebuilt for the test-time metrics and the saved parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .algorithms import get_method
from .backend import array_module, get_dtype, get_xp, to_numpy
from .budget import check_linear, tasks_per_chunk
from .config import INITS, MODES, SAMPLES, Config, ConfigError, load_config
from .environment import STREAMS, HeadLaw, Problem, draw_inputs, generator, make_problem, streams
from .metrics import (
    HeldOutTasks,
    heldout_mse,
    least_squares_risk,
    orthonormal_basis,
    outside_norm,
    principal_angles,
    subspace_head_risk,
)
from .samples import HeadData, SampleData, pooled, select_tasks, split_tasks

#: The config names stay importable from here (``from linmeta.experiment import Config``).
__all__ = ["Config", "ConfigError", "FixedSampler", "INITS", "MODES", "MethodRun", "Result",
           "RoundSampler", "SAMPLES", "draw_problem", "load_config", "run",
           "simulate", "streams", "train"]

# ---------------------------------------------------------------- results


@dataclass
class MethodRun:
    """One method's trajectories. metrics: name -> (T, L) with NaN after divergence."""

    name: str
    steps: np.ndarray
    metrics: dict
    diverged_at: np.ndarray
    B: np.ndarray
    w: np.ndarray
    seconds: float
    samples: np.ndarray | None = None  # (L,) samples seen by each logged step (finite mode)


@dataclass
class Result:
    """``data``: the fixed dataset every method used (fixed samples, a data file), else None."""

    config: Config
    problem: Problem
    runs: dict = field(default_factory=dict)
    problem_file: str | None = None
    data: SampleData | None = None


def head_law(cfg: Config) -> HeadLaw:
    """The task-head distribution of ``cfg``."""
    return HeadLaw(cfg.k, cfg.head_mu, cfg.head_kappa, cfg.head_mean)


def draw_problem(cfg: Config, rng: np.random.Generator, heads: bool = True) -> Problem:
    """The environment of ``cfg``: B*, the initialisation, and the fixed task heads when the
    tasks are a fixed pool (``task_pool``, or fixed samples).

    ``heads=False`` leaves the heads out (tasks given as data); the heads are drawn last, so
    B* and the initialisation are the same numbers either way."""
    fixed_tasks = heads and (cfg.task_pool or cfg.samples == "fixed")
    return make_problem(rng, trials=cfg.trials, d=cfg.d, k=cfg.k, k_learner=cfg.learner_k,
                        init=cfg.init, alpha=cfg.alpha, w0_scale=cfg.w0_scale,
                        heads=head_law(cfg), pool=cfg.n_tasks if fixed_tasks else 0,
                        x_cov_cond=cfg.x_cov_cond)


def make_test_tasks(cfg: Config, problem: Problem, seq) -> HeldOutTasks | None:
    """Fresh test tasks drawn once per run (the same for every method and logged step)."""
    if cfg.n_test_tasks == 0:
        return None
    rng = generator(seq)
    T, nt, m = cfg.trials, cfg.n_test_tasks, cfg.test_samples
    W = head_law(cfg).draw(rng, nt, T)
    theta = W @ problem.B_star.swapaxes(-1, -2)  # (T, nt, d)
    X, z = draw_inputs(rng, rng, nt, T, m, cfg.d, problem.sigma_diag, cfg.sigma)
    y = (X @ theta[..., None])[..., 0] + z
    return HeldOutTasks(X, y, theta, problem.sigma_diag)


def reduction_basis(cfg: Config, problem: Problem):
    """Orthonormal basis U (T, d, k + k′) of span(B0, B*) when the run can be reduced, else None."""
    exact_span = cfg.mode == "population" and problem.sigma_diag is None
    if not (cfg.reduce and exact_span and cfg.k + cfg.learner_k < cfg.d):
        return None
    U, _, _ = np.linalg.svd(np.concatenate([problem.B0, problem.B_star], -1), full_matrices=False)
    return U


def run(cfg: Config, problem: Problem | None = None, progress=None, problem_file=None,
        data: SampleData | None = None, heldout: tuple | None = None,
        done: dict | None = None, checkpoint=None) -> Result:
    """Simulate every method of ``cfg``; ``progress(method, step, steps)`` is called each step.

    ``data`` (T, n, m, d) with labels: a given fixed dataset (a data file) instead of drawn
    samples; ``problem.B_star`` may then be None (no distance is logged). ``heldout``: tasks
    kept out of training, ``(X_fit, y_fit, X_eval, y_eval)``, scored by
    :func:`linmeta.metrics.heldout_mse` at every logged step.

    ``done``: ``{method: MethodRun}`` already computed (a resumed run,
    :func:`linmeta.results.saved_runs`), kept as given; only the other methods are simulated.
    ``checkpoint(result)`` is called with the result so far (its runs in the order of
    ``cfg.methods``) before the first simulated method and after each one. Every method opens
    the run's random streams afresh from the seed (common random numbers), so a method's
    numbers do not depend on which other methods run or in which order: a run resumed from
    any subset of finished methods equals the uninterrupted one.
    """
    check_linear(cfg)  # refuse before allocating what cannot fit
    seqs = streams(cfg.seed)
    if problem is None:
        problem = draw_problem(cfg, generator(seqs["problem"]))
    if data is None and cfg.samples == "fixed":
        data = draw_fixed_data(cfg, problem, seqs)
    tests = make_test_tasks(cfg, problem, seqs["test"])
    result = Result(cfg, problem, problem_file=problem_file, data=data)
    runs = {name: done[name] for name in cfg.methods if name in (done or {})}

    def ordered():
        return {name: runs[name] for name in cfg.methods if name in runs}

    result.runs = ordered()
    if checkpoint is not None:
        checkpoint(result)
    for name in cfg.methods:
        if name in runs:
            continue
        runs[name] = simulate(cfg, get_method(name), problem, tests, seqs, progress, data,
                              heldout)
        result.runs = ordered()
        if checkpoint is not None:
            checkpoint(result)
    return result


def draw_fixed_data(cfg: Config, problem: Problem, seqs: dict) -> SampleData:
    """The fixed dataset of ``samples='fixed'``: each task of the pool gets ``m_in + m_out``
    samples, drawn once (the inner ones first), with labels ``y = X θ* + σ z``; float64 on the
    host, shape (T, n, m_in + m_out, d). The same numbers as the first round of a fresh run
    with the same task pool."""
    rng = {name: generator(seqs[name])
           for name in ("inner_x", "inner_noise", "outer_x", "outer_noise")}
    theta = (problem.B_star @ problem.W_pool.swapaxes(-1, -2)).swapaxes(-1, -2)  # (T, n, d)
    Xs, ys = [], []
    for side, m in (("inner", cfg.m_in), ("outer", cfg.m_out)):
        X, z = draw_inputs(rng[f"{side}_x"], rng[f"{side}_noise"], cfg.n_tasks, cfg.trials, m,
                           cfg.d, problem.sigma_diag, cfg.sigma)
        Xs.append(X)
        ys.append((X @ theta[..., None])[..., 0] + z)
    return SampleData(np.concatenate(Xs, -2), y=np.concatenate(ys, -1))


class RoundSampler:
    """Draws each round's tasks and samples from the run's streams, on the run's device.

    ``Bs`` is B* in the coordinates the run computes in (reduced or not). Heads are drawn for
    all n tasks at once; samples per chunk of tasks, in task order, so that any chunking
    gives the same numbers.
    """

    def __init__(self, cfg: Config, problem: Problem, seqs: dict, Bs, dev):
        self.cfg, self.problem, self.Bs, self.dev = cfg, problem, Bs, dev
        self.law = head_law(cfg)
        self.sigma_diag, self.W_pool = dev(problem.sigma_diag), dev(problem.W_pool)
        self.rng = {name: generator(seqs[name]) for name in STREAMS
                    if name not in ("problem", "test", "batches")}
        finite = cfg.mode == "finite"
        self.samples_used = 0 if finite else None  # samples drawn so far (every round new)
        self._per_round = cfg.n_tasks * (cfg.m_in + cfg.m_out) if finite else 0

    def heads(self, all_tasks: bool = False):
        """The round's task heads, shape (T, n, k) (every round uses all n tasks)."""
        if self.samples_used is not None:
            self.samples_used += self._per_round
        if self.W_pool is not None:
            return self.W_pool
        return self.dev(self.law.draw(self.rng["heads"], self.cfg.n_tasks, self.cfg.trials))

    def data(self, W, pool: bool = False):
        """``(data_in, data_out)`` for the tasks with heads W (T, c, k); ``pool`` hands the
        outer side each task's inner and outer samples as one dataset."""
        cfg = self.cfg
        if cfg.mode == "population":
            data = HeadData(W, self.Bs, self.sigma_diag, cfg.sigma**2)
            return data, data
        theta = (self.Bs @ W.swapaxes(-1, -2)).swapaxes(-1, -2)  # (T, c, d), tasks fastest
        sides = []
        for side, m in (("inner", cfg.m_in), ("outer", cfg.m_out)):
            X, z = draw_inputs(self.rng[f"{side}_x"], self.rng[f"{side}_noise"], W.shape[1],
                               cfg.trials, m, cfg.d, self.problem.sigma_diag, cfg.sigma)
            sides.append(SampleData(self.dev(X), self.dev(z), theta))
        data_in, data_out = sides
        return data_in, pooled(data_in, data_out) if pool else data_out


class FixedSampler:
    """A fixed dataset: the same samples round after round (``samples='fixed'``, data files,
    the estimators of :mod:`linmeta.estimators`).

    data : (T, n, m, d) with labels; a task's first ``m_in`` samples are its inner data, the
    rest its outer data, and methods that pool see all of them. A round holds all n tasks, or
    a meta-batch of ``batch`` tasks: each pass through the pool visits the tasks in a new
    random order (from ``rng``, the same order for every trial), cut into batches of ``batch``
    (the last of a pass may be smaller). :meth:`heads` returns the round's task indices
    (1, b) in place of heads, so the chunked step slices them like heads.
    """

    def __init__(self, data: SampleData, m_in: int, batch: int, rng: np.random.Generator):
        self.full, self.m_in = data, m_in
        self._split = None  # (inner, outer), formed when a method that splits asks for it
        n = data.X.shape[1]
        self.n, self.batch, self.rng = n, batch or n, rng
        self.all = np.arange(n)[None]
        self.queue = np.empty(0, dtype=np.int64)
        counts = data.counts[0] if data.counts is not None else np.full(n, data.X.shape[-2])
        self.task_samples = to_numpy(counts).astype(np.int64)
        self.seen = np.zeros(n, dtype=bool)
        self.samples_used = 0  # distinct samples seen so far

    def heads(self, all_tasks: bool = False):
        """The round's tasks: indices of shape (1, b)."""
        if all_tasks or self.batch >= self.n:
            index = self.all
        else:
            if self.queue.size == 0:
                self.queue = self.rng.permutation(self.n)
            index, self.queue = self.queue[None, : self.batch], self.queue[self.batch:]
        self.seen[index[0]] = True
        self.samples_used = int(self.task_samples[self.seen].sum())
        return index

    def data(self, index, pool: bool = False):
        """``(data_in, data_out)`` of the tasks ``index`` (1, c); ``pool``: ``(None, each
        task's whole sample)`` (methods that pool use only the outer side)."""
        if pool:
            return None, self.full if index is self.all else select_tasks(self.full, index[0])
        if self._split is None:
            self._split = split_tasks(self.full, self.m_in)
        inner, outer = self._split
        if index is self.all:
            return inner, outer
        return select_tasks(inner, index[0]), select_tasks(outer, index[0])


def chunked_step(step, pooled: bool, sampler: RoundSampler, W, B, w, chunk: int,
                 with_loss: bool = True):
    """One outer step of a chunkable method's built ``step`` with the tasks processed ``chunk``
    at a time.

    The meta-gradient is a mean over tasks, so it is accumulated chunk by chunk:
    ``∇ = Σ_c (n_c / n) ∇_c``; the result equals the unchunked step up to round-off.
    """
    n = W.shape[1]  # the round's tasks (heads (T, n, k) or fixed-data indices (1, n))
    gB = gw = loss = 0
    for lo in range(0, n, chunk):
        Wc = W[:, lo:lo + chunk]
        gBc, gwc, lossc = step.gradient(*sampler.data(Wc, pooled), B, w, with_loss)
        share = Wc.shape[1] / n
        gB, gw = gB + share * gBc, gw + share * gwc
        loss = loss + share * lossc if with_loss else None
    return (*step.apply(B, w, gB, gw), loss)


def simulate(cfg: Config, method, problem: Problem, tests, seqs, progress=None,
             data: SampleData | None = None, heldout: tuple | None = None) -> MethodRun:
    """One method, all trials at once. Diverged trials are frozen and recorded, not fatal.

    ``data``: a fixed dataset (T, n, m, d) used every round (see :class:`FixedSampler`)."""
    xp, dtype = get_xp(cfg.backend), get_dtype(cfg.dtype)
    start = time.perf_counter()
    T = cfg.trials
    U = reduction_basis(cfg, problem)
    if U is None:
        Bs_c, B_c = problem.B_star, problem.B0
    else:
        Bs_c, B_c = U.swapaxes(-1, -2) @ problem.B_star, U.swapaxes(-1, -2) @ problem.B0

    def dev(a):
        return None if a is None else xp.asarray(a, dtype=dtype)

    B, w, Bs = dev(B_c), dev(problem.w0), dev(Bs_c)
    if data is None:
        sampler = RoundSampler(cfg, problem, seqs, Bs, dev)
    else:
        sampler = FixedSampler(SampleData(dev(data.X), y=dev(data.y), counts=data.counts),
                               cfg.m_in, cfg.batch_tasks, generator(seqs["batches"]))

    logged = [t for t in range(cfg.steps + 1) if t % cfg.log_every == 0 or t == cfg.steps]
    if method.one_shot:  # an estimator: one round's data, one column
        logged = [cfg.steps]
    names = _metric_names(cfg, tests, Bs is not None, heldout is not None)
    baselines = _baseline_risks(problem, tests)
    metrics = {name: np.full((T, len(logged)), np.nan) for name in names}
    samples = np.zeros(len(logged), dtype=np.int64) if sampler.samples_used is not None else None
    Bs_host = None if Bs is None else to_numpy(Bs).astype(np.float64)

    def on_log(column, alive, B, w, loss, used):
        B_host = to_numpy(B).astype(np.float64)
        with np.errstate(all="ignore"):  # a trial about to diverge may overflow here
            _log(metrics, column, alive, B_host, to_numpy(w), to_numpy(loss), Bs_host, U, tests,
                 baselines, heldout)
        if samples is not None:
            samples[column] = used

    B, w, diverged_at = train(method, sampler, B, w, cfg, logged, on_log, progress)
    B_full = to_numpy(B).astype(np.float64)
    if U is not None:
        B_full = U @ B_full
    return MethodRun(method.name, np.array(logged), metrics, diverged_at, B_full,
                     to_numpy(w).astype(np.float64), time.perf_counter() - start, samples)


def train(method, sampler, B, w, cfg: Config, logged: list, on_log=None, progress=None):
    """The outer loop that every method runs, in the simulator and in the estimators.

    Each round takes its tasks from ``sampler`` (:class:`RoundSampler` or
    :class:`FixedSampler`) and applies one step of ``method`` (a registry entry, built here
    with the config's α, β, τ); a one-shot method estimates once from all tasks. At each step
    of ``logged``, ``on_log(column, alive, B, w, loss, samples)`` gets the current point
    (``samples``: the samples it has seen). A trial whose B or w turns non-finite is frozen
    where it was and its step recorded. B (T, d, k′), w (T, k′) on the device; returns the
    final ``(B, w, diverged_at (T,))``.
    """
    xp = array_module(B)
    T = B.shape[0]
    chunk = tasks_per_chunk(cfg)
    one_shot, pool = method.one_shot, method.pooled
    step = method.build(alpha=cfg.alpha, beta=cfg.beta, tau=cfg.tau)
    diverged_at = np.full(T, -1, dtype=np.int64)
    alive = np.ones(T, dtype=bool)
    column = 0
    for t in logged if one_shot else range(cfg.steps + 1):
        used = sampler.samples_used  # by the current point: the rounds before this one
        W = sampler.heads(all_tasks=one_shot)
        log_now = t == logged[column]
        with np.errstate(all="ignore"):
            if one_shot:
                B, _, loss = step(*sampler.data(W, pool), B, w)
                used = sampler.samples_used
            elif chunk < W.shape[1]:
                B_new, w_new, loss = chunked_step(step, pool, sampler, W, B, w, chunk, log_now)
            else:
                B_new, w_new, loss = step(*sampler.data(W, pool), B, w, with_loss=log_now)
        if log_now:
            if on_log is not None:
                on_log(column, alive, B, w, loss, used)
            column += 1
        if t == cfg.steps:
            break
        finite = to_numpy(xp.isfinite(B_new).all((-1, -2)) & xp.isfinite(w_new).all(-1))
        newly = alive & ~finite
        diverged_at[newly] = t + 1
        alive &= finite
        keep = xp.asarray(alive)
        B = xp.where(keep[:, None, None], B_new, B)
        w = xp.where(keep[:, None], w_new, w)
        if progress is not None:
            progress(method.name, t + 1, cfg.steps)
    return B, w, diverged_at


def _metric_names(cfg: Config, tests, with_dist: bool = True, with_heldout: bool = False):
    names = []
    if with_dist:
        names += ["dist"] + [f"angle_{j + 1}" for j in range(cfg.k)]
    names += ["rank", "outside_norm", "loss", "w_norm"] if with_dist else ["rank", "loss",
                                                                            "w_norm"]
    if tests is not None:
        names += ["risk_subspace", "risk_ls", "risk_oracle"]
    if with_heldout:
        names += ["heldout_mse"]
    return names


def _baseline_risks(problem: Problem, tests) -> dict:
    """Test-time risks that do not depend on the learner: d-dim least squares and the oracle B*."""
    if tests is None:
        return {}
    return {
        "risk_ls": least_squares_risk(tests),
        "risk_oracle": subspace_head_risk(problem.B_star, tests),
    }


def _log(metrics, column, alive, B, w, loss, Bs, U, tests, baselines, heldout=None):
    """Fill one logged column for the trials that have not diverged (Bs None: no B* known)."""
    values = {"loss": loss, "w_norm": np.linalg.norm(w, axis=-1)}
    if Bs is not None:
        pa = principal_angles(B, Bs)
        values.update({"dist": pa["dist"], "rank": pa["rank"], "outside_norm": outside_norm(B, Bs)})
        for j in range(pa["angles"].shape[-1]):
            values[f"angle_{j + 1}"] = pa["angles"][..., j]
    else:
        values["rank"] = orthonormal_basis(B)[1]
    if tests is not None:
        B_full = B if U is None else U @ B
        values["risk_subspace"] = subspace_head_risk(B_full, tests)
        values.update(baselines)
    if heldout is not None:
        values["heldout_mse"] = heldout_mse(B, *heldout)
    for name, value in values.items():
        metrics[name][alive, column] = np.asarray(value, dtype=np.float64)[alive]
