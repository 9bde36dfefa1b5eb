"""A run's memory and time, estimated from its config before anything is allocated.

Every estimate is a lower bound: the arrays a run must hold at the same time, and the time its
loops take at a generous rate (``FLOPS`` per second, ``normals`` per second, and a small fixed
cost per Python-level step that every numpy call sequence exceeds). A run is refused only when
even the lower bound does not fit, so a refusal is never a false alarm of the estimate:

- memory: more than this process can get, ``MemAvailable + SwapFree`` (Linux) or the physical
  memory, capped by an address-space limit (``ulimit -v``);
- time: more than ``LINMETA_MAX_HOURS`` (default 48) hours.

The message names what the run needs, what the machine has, and the options that bound it.
"""

from __future__ import annotations

import math
import os

from .config import Config

MAX_HOURS_ENV = "LINMETA_MAX_HOURS"
DEFAULT_MAX_HOURS = 48.0
FLOPS = 1e11  # arithmetic rate of the estimates (above what 2–16 cores sustain in numpy)
NORMALS = 1e9  # standard normals drawn per second
STEP_SECONDS = 2e-5  # fixed cost of one Python-level update (a few numpy calls)


class BudgetError(ValueError):
    """A run whose memory or time cannot fit on this machine (one-line message)."""


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None when the platform does not say."""
    have = None
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
        have = info.get("MemAvailable", info.get("MemFree", 0)) + info.get("SwapFree", 0)
    except (OSError, ValueError, IndexError):
        try:
            have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            have = None
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit != resource.RLIM_INFINITY:
            have = limit if have is None else min(have, limit)
    except (ImportError, OSError, ValueError):
        pass
    return have


def max_seconds() -> float:
    """The time limit: ``$LINMETA_MAX_HOURS`` hours (a positive number), else 48 hours."""
    text = os.environ.get(MAX_HOURS_ENV)
    if text is None or not text.strip():
        return DEFAULT_MAX_HOURS * 3600
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not (hours > 0):
        raise BudgetError(f"{MAX_HOURS_ENV} must be a positive number of hours, got {text!r}")
    return hours * 3600


def fmt_bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def fmt_seconds(s: float) -> str:
    if s >= 86400 * 365:
        return f"{s / (86400 * 365):.3g} years"
    if s >= 2 * 86400:
        return f"{s / 86400:.3g} days"
    if s >= 3600:
        return f"{s / 3600:.3g} hours"
    return f"{s / 60:.3g} minutes"


def check(memory: dict, seconds: float, *, options: dict, time_options: str) -> None:
    """Raise :class:`BudgetError` when the lower bounds do not fit.

    memory : part -> bytes, the parts that must be held at once; seconds : time lower bound;
    options : part -> the options that bound it; time_options : those that bound the time.
    """
    need = sum(memory.values())
    have = available_memory()
    if have is not None and need > have:
        parts = sorted(((v, k) for k, v in memory.items() if v >= 0.05 * need), reverse=True)
        detail = ", ".join(f"{k} {fmt_bytes(v)}" for v, k in parts)
        raise BudgetError(f"this run needs at least {fmt_bytes(need)} of memory ({detail}) but "
                          f"this machine has {fmt_bytes(have)} available; lower "
                          f"{options[parts[0][1]]}")
    limit = max_seconds()
    if seconds > limit:
        raise BudgetError(f"this run needs at least {fmt_seconds(seconds)} but the limit is "
                          f"{fmt_seconds(limit)} (set {MAX_HOURS_ENV} to change it); lower "
                          f"{time_options}")


# ---------------------------------------------------------------- the linear simulator


def tasks_per_chunk(cfg: Config) -> int:
    """How many tasks one chunk holds: ``chunk_tasks`` if set, capped by ``memory_mb``.

    The rule: a task costs ``bytes = 8 · T · [(m_in + m_out) · (d + 1) · 2 + (4τ + 8) · (d + k′)]``
    in finite-sample mode (its samples, drawn in float64 and held once more on the device or in
    the compute dtype, plus the per-task vectors of the inner loop and pull-back; ×2 on the
    samples again for pooled methods is covered by the first factor 2), and
    ``8 · T · (4τ + 8) · (d + k′)`` in population mode. A chunk holds
    ``max(1, ⌊memory_mb · 2²⁰ / bytes⌋)`` tasks.
    """
    n = cfg.n_tasks
    chunk = min(cfg.chunk_tasks or n, n)
    if cfg.memory_mb > 0:
        chunk = min(chunk, max(1, int(cfg.memory_mb * 2**20 // task_bytes(cfg))))
    return chunk


def task_bytes(cfg: Config) -> int:
    """Estimated working memory of one task in one step (see :func:`tasks_per_chunk`)."""
    vectors = (4 * cfg.tau + 8) * (cfg.d + cfg.learner_k)
    samples = 0 if cfg.mode == "population" else (cfg.m_in + cfg.m_out) * (cfg.d + 1) * 2
    return 8 * cfg.trials * (samples + vectors)


def linear_run(cfg: Config) -> tuple[dict, float]:
    """Lower bounds ``(memory parts in bytes, seconds)`` of :func:`linmeta.experiment.run`."""
    T, n, d, k, kl = cfg.trials, cfg.n_tasks, cfg.d, cfg.k, cfg.learner_k
    methods, tau = len(cfg.methods), cfg.tau
    columns = cfg.steps // cfg.log_every + 2
    nt = cfg.n_test_tasks
    mt = cfg.test_samples if nt else 0
    metrics = (k + 4 + 3 * (nt > 0)) * T * columns * methods
    finite = cfg.mode == "finite"  # population mode with Σ = I runs in span(B0, B*)
    dim = k + kl if (cfg.reduce and not finite and cfg.x_cov_cond == 1 and k + kl < d) else d
    memory = {
        "problem": 8.0 * T * (d * k + d * kl + kl + (n * k if cfg.task_pool else 0)),
        "test tasks": 8.0 * T * nt * (mt * d + d + mt),
        # the heads, and per task of a chunk its samples (finite) or one vector (population)
        "one step": 8.0 * T * (n * k + tasks_per_chunk(cfg) * (
            (cfg.m_in + cfg.m_out) * (d + 1) if finite else dim + kl)),
        "metrics": 48.0 * metrics,  # float64 values and their CSV text
    }
    samples = (cfg.m_in + cfg.m_out) if finite else 1
    flops = 4.0 * T * n * samples * dim * kl * (tau + 1)
    normals = T * n * (cfg.m_in + cfg.m_out) * (d + 1) if finite else 0
    log_flops = 2.0 * T * nt * mt * d * kl
    rate = FLOPS * (100 if cfg.backend == "cupy" else 1)
    seconds = methods * (cfg.steps * (STEP_SECONDS * (tau + 1) + flops / rate + normals / NORMALS)
                         + columns * log_flops / rate)
    return memory, seconds


def check_linear(cfg: Config) -> None:
    """Refuse a linear run that cannot fit (see :func:`check`)."""
    memory, seconds = linear_run(cfg)
    check(memory, seconds, options=LINEAR_OPTIONS,
          time_options="--steps, --tau, --n-tasks, --trials or --m-in/--m-out")


LINEAR_OPTIONS = {
    "problem": "--d, --k/--k-learner, --n-tasks or --trials",
    "test tasks": "--n-test-tasks, --m-test, --d or --trials",
    "one step": "--n-tasks, --tau, --m-in/--m-out, --d or --trials, or bound a step with "
                "--memory-mb (or --chunk-tasks)",
    "metrics": "--steps or --trials, or raise --log-every",
}
