"""Accuracy on held-out classes with the 95% interval of Finn17 (mean over ≥ 600 tasks)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from linmeta.backend import to_numpy

from .episodes import sample_episodes
from .layers import LOSSES, accuracy
from .meta import adapt_and_predict, get_algorithm, zero_head
from .parallel import auto_chunk, map_tasks


class EvalResult(NamedTuple):
    """Mean query accuracy and loss over ``tasks`` tasks; ``ci95 = 1.96 · sd / √tasks``."""

    acc: float
    ci95: float
    loss: float
    tasks: int


def evaluate(net, params, pool, *, algorithm, n_way, k_shot, n_query, inner_lr, inner_steps,
             loss="ce", zeroing=False, tasks=600, batch=50, seed=0, dtype=np.float32,
             xp=np, chunk: int | None = None) -> EvalResult:
    """Adapt on each test task's support set, score its queries.

    ``acc = mean_i acc_i``, ``ci95 = 1.96 · sd_i(acc_i) / √tasks`` (Finn17). With ``zeroing`` the
    head is set to 0 before adaptation (Kao22). The inner loop adapts what ``algorithm`` adapts.
    Tasks come from their own generator seeded by ``seed``, so the same tasks every call; they
    are drawn ``batch`` at a time and adapted ``chunk`` at a time (default
    :func:`~linmeta.fewshot.parallel.auto_chunk`), which changes no value.
    """
    if tasks < 1:
        raise ValueError("evaluation needs at least one task")
    alg = get_algorithm(algorithm)
    if zeroing:
        params = zero_head(net, params)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(11,)))
    accs, losses = [], []
    done = 0
    while done < tasks:
        t = min(batch, tasks - done)
        ep = sample_episodes(pool, rng, t, n_way, k_shot, n_query, dtype=dtype, xp=xp)
        z = map_tasks(lambda xs, ys, xq: adapt_and_predict(
            net, params, xs, ys, xq, adapt=alg.adapt, inner_lr=inner_lr,
            inner_steps=inner_steps, loss=loss), (ep.xs, ep.ys, ep.xq),
            chunk or auto_chunk(net, ep))
        accs.append(to_numpy(accuracy(z, ep.yq)))
        losses.append(to_numpy(LOSSES[loss].value_and_grad(z, ep.yq)[0]))
        done += t
    acc = np.concatenate(accs).astype(np.float64)
    sd = acc.std(ddof=1) if tasks > 1 else 0.0
    return EvalResult(float(acc.mean()), float(1.96 * sd / np.sqrt(tasks)),
                      float(np.concatenate(losses).mean()), tasks)
