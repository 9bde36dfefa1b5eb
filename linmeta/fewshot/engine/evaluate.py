"""Accuracy on held-out classes with the 95% interval of Finn17 (mean over ≥ 600 tasks).

One evaluation loop, :func:`evaluate_predictor`, scores any ``predict(xs, ys, xq) -> logits``;
:func:`evaluate` is it applied to test-time adaptation. Both draw their tasks from the ``eval``
stream (:data:`~linmeta.fewshot.data.episodes.STREAMS`), so with the same ``seed`` they score the
same tasks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from linmeta.backend import to_numpy

from ..data.episodes import sample_episodes, stream
from .layers import LOSSES, accuracy
from .meta import InnerSpec, adapt_and_predict, zero_head
from .parallel import auto_chunk, map_tasks


class EvalResult(NamedTuple):
    """Mean query accuracy and loss over ``tasks`` tasks; ``ci95 = 1.96 · sd / √tasks``."""

    acc: float
    ci95: float
    loss: float  # nan when no loss was asked for
    tasks: int


def evaluate_predictor(predict: Callable, pool, *, n_way: int, k_shot: int, n_query: int,
                       loss: str | None = None, tasks: int = 600, batch: int = 50, seed: int = 0,
                       dtype=np.float32, xp=np, chunk: int | Callable = 1) -> EvalResult:
    """Accuracy (and ``loss``, if named) of ``predict(xs, ys, xq) -> logits (T, N_q, K)``.

    ``acc = mean_i acc_i``, ``ci95 = 1.96 · sd_i(acc_i) / √tasks`` (Finn17). The tasks come from
    the ``eval`` stream seeded by ``seed``, so the same tasks every call; they are drawn
    ``batch`` at a time and ``predict`` sees ``chunk`` of them at a time (an int, or a function
    of the batch of episodes), which changes no value.
    """
    if tasks < 1:
        raise ValueError("evaluation needs at least one task")
    rng = stream(seed, "eval")
    accs, losses = [], []
    done = 0
    while done < tasks:
        t = min(batch, tasks - done)
        ep = sample_episodes(pool, rng, t, n_way, k_shot, n_query, dtype=dtype, xp=xp)
        z = map_tasks(predict, (ep.xs, ep.ys, ep.xq), chunk(ep) if callable(chunk) else chunk)
        accs.append(to_numpy(accuracy(z, ep.yq)))
        if loss is not None:
            losses.append(to_numpy(LOSSES[loss].value_and_grad(z, ep.yq)[0]))
        done += t
    acc = np.concatenate(accs).astype(np.float64)
    sd = acc.std(ddof=1) if tasks > 1 else 0.0
    mean_loss = float(np.concatenate(losses).mean()) if losses else float("nan")
    return EvalResult(float(acc.mean()), float(1.96 * sd / np.sqrt(tasks)), mean_loss, tasks)


def evaluate(net, params, pool, spec: InnerSpec, *, n_way: int, k_shot: int, n_query: int,
             zeroing: bool = False, tasks: int = 600, batch: int = 50, seed: int = 0,
             dtype=np.float32, xp=np, chunk: int | None = None) -> EvalResult:
    """Adapt on each test task's support set as ``spec`` says, score its queries.

    With ``zeroing`` the head is set to 0 before adaptation (Kao22). Tasks are adapted ``chunk``
    at a time (default :func:`~linmeta.fewshot.engine.parallel.auto_chunk`); see
    :func:`evaluate_predictor` for the tasks and the interval.
    """
    if zeroing:
        params = zero_head(net, params)

    def predict(xs, ys, xq):
        return adapt_and_predict(net, params, xs, ys, xq, spec)

    return evaluate_predictor(predict, pool, n_way=n_way, k_shot=k_shot, n_query=n_query,
                              loss=spec.loss, tasks=tasks, batch=batch, seed=seed, dtype=dtype,
                              xp=xp, chunk=chunk or functools.partial(auto_chunk, net))
