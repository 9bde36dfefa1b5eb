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

import dataclasses
import math
import os

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


def linear_run(cfg) -> tuple[dict, float]:
    """Lower bounds ``(memory parts in bytes, seconds)`` of :func:`linmeta.experiment.run`."""
    from .experiment import tasks_per_chunk

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


def check_linear(cfg) -> None:
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


# ---------------------------------------------------------------- the few-shot Conv-4

#: (classes, images per class, channels, side) of the on-disk datasets of known size.
DATASET_SIZES = {"omniglot": (1623, 20, 1, 28), "miniimagenet": (100, 600, 3, 84)}


def _conv4(channels: int, size: int, c_in: int, blocks: int = 4):
    """Per image: forward flops, the floats a backward pass needs kept (each block's im2col
    columns and conv output), and the feature dimension."""
    flops = cache = 0.0
    for _ in range(blocks):
        flops += 2.0 * 9 * c_in * channels * size * size
        cache += size * size * (9 * c_in + channels)
        c_in, size = channels, size // 2
    return flops, cache, channels * max(size, 1) ** 2


def _geometry(config):
    classes, per_class, c_in, side = DATASET_SIZES.get(config.dataset, (0, 0, 1, 28))
    if config.dataset == "glyphs":
        classes, per_class = config.n_classes, 20
    size = config.image_size or side
    return classes, per_class, c_in, size


def fewshot_episodes(config, tasks: int, inner_steps: int, *, train: bool, trace: bool = False,
                     passes: int = 1) -> tuple[dict, float]:
    """Lower bounds for ``passes`` rounds of ``tasks`` tasks adapted ``inner_steps`` times.

    Memory: the episodes' images and the forward caches of the support set (and, in training,
    of the query set, which the meta-gradient differentiates); with ``trace`` (exact
    second-order through all layers) the caches of every inner step. The caches are those of one
    chunk of tasks (:func:`linmeta.fewshot.engine.parallel.auto_chunk`): the tasks are
    computed a chunk at a time.
    """
    from .fewshot.engine.parallel import CACHE_BYTES

    _, _, c_in, size = _geometry(config)
    flops, cache, _ = _conv4(config.channels, size, c_in)
    item = 8 if config.dtype == "float64" else 4
    support = config.n_way * config.k_shot
    images = config.n_way * (config.k_shot + config.n_query)
    kept = (images if train else support) * cache
    first = images * size * size * config.channels * item  # one task's widest activation
    chunk = min(tasks, max(1, CACHE_BYTES // max(first, 1)))
    memory = {"episodes": (float(tasks) * images * size * size * c_in + chunk * kept) * item}
    if trace and inner_steps > 1:
        memory["inner-loop trace"] = float(chunk) * support * cache * item * (inner_steps - 1)
    work = 3.0 * float(tasks) * (support * inner_steps + images) * flops
    rate = FLOPS * (100 if config.backend == "cupy" else 1)
    seconds = passes * (STEP_SECONDS * 20 * (inner_steps + 1) + work / rate)
    return memory, seconds


def fewshot_train(config) -> tuple[dict, float]:
    """Lower bounds for :func:`linmeta.fewshot.engine.train.run` of ``config``."""
    classes, per_class, c_in, size = _geometry(config)
    _, _, features = _conv4(config.channels, size, c_in)
    n_params = 9.0 * c_in * config.channels + 3 * 9.0 * config.channels**2
    n_params += features * config.n_way
    memory, seconds = fewshot_episodes(config, config.meta_batch, config.inner_steps,
                                       train=True, trace=config.algorithm == "maml",
                                       passes=config.steps)
    memory["data"] = float(classes) * per_class * size * size * c_in
    memory["parameters and Adam"] = 4.0 * n_params * 8
    rows = config.steps // config.eval_every + 2
    for tasks, passes in ((config.val_tasks, rows), (config.test_tasks, 1)):
        if tasks:  # evaluation runs between training steps: its episodes replace those
            m, s = fewshot_episodes(config, min(tasks, 50), config.inner_steps_test,
                                    train=False, passes=passes * -(-tasks // 50))
            memory["episodes"] = max(memory["episodes"], m["episodes"])
            seconds += s
    return memory, seconds


_EPISODE = "--n-way/--k-shot/--n-query, --channels or --image-size"
FEWSHOT_OPTIONS = {
    "episodes": f"--meta-batch (tasks), {_EPISODE}",
    "inner-loop trace": f"--inner-steps, --meta-batch (tasks), {_EPISODE}",
    "data": "--n-classes or --image-size",
    "parameters and Adam": "--channels or --image-size",
    "coefficients": "--steps or --share-tasks",
}
FEWSHOT_TIME = "--steps, --inner-steps, --meta-batch, --val-tasks/--eval-every or --test-tasks"


def check_fewshot(config) -> None:
    """Refuse a few-shot training run that cannot fit (see :func:`check`)."""
    memory, seconds = fewshot_train(config)
    check(memory, seconds, options=FEWSHOT_OPTIONS, time_options=FEWSHOT_TIME)


def check_evaluation(config, tasks: int) -> None:
    """Refuse an evaluation of ``tasks`` tasks (in batches of 50) that cannot fit."""
    memory, seconds = fewshot_episodes(config, min(tasks, 50), config.inner_steps_test,
                                       train=False, passes=-(-tasks // 50))
    check(memory, seconds, options=FEWSHOT_OPTIONS, time_options="--tasks or --inner-steps")


def check_contrastive(config, checkpoints: int, steps: tuple, tasks: int, share_tasks: int) -> None:
    """Refuse a ``fewshot contrastive`` analysis that cannot fit: 16 identity cases per inner
    step count on ``tasks`` tasks (exact second order), and the coefficient shares of every
    checkpoint on ``share_tasks`` tasks."""
    config = dataclasses.replace(config, dtype="float64")  # the analysis runs in float64
    n = max(steps)
    ident, s1 = fewshot_episodes(config, tasks, n, train=True, trace=True,
                                 passes=16 * len(steps))
    share, s2 = fewshot_episodes(config, share_tasks, n, train=False,
                                 passes=2 * checkpoints * len(steps))
    support = config.n_way * config.k_shot
    queries = config.n_way * config.n_query
    memory = {"inner-loop trace": ident.get("inner-loop trace", 0.0),
              "episodes": max(ident["episodes"], share["episodes"]),
              "coefficients": 8.0 * n * max(tasks, share_tasks) * support * queries}
    check(memory, s1 + s2, options=FEWSHOT_OPTIONS,
          time_options="--steps, --tasks or --share-tasks")
