"""N-way K-shot episodes with Q queries per class, batched over tasks (Finn17 §5.1)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: The few-shot module's random streams: ``SeedSequence(seed, spawn_key=STREAMS[name])``.
#: ``init`` and ``train`` are the two children of ``SeedSequence(seed).spawn(2)`` (a run's
#: initial parameters and its training episodes). The glyph sets draw their images from keys
#: that start with their version number (:mod:`linmeta.fewshot.data`).
STREAMS: dict[str, tuple] = {
    "init": (0,),  # initial parameters of a run
    "train": (1,),  # a run's training episodes
    "contrastive": (5,),  # episodes of the contrastive command
    "split": (7,),  # the train / val / test class split (seeded by split_seed)
    "eval": (11,),  # validation and test tasks
    "probe": (23,),  # the grid's probe and timing meta-batches
    "cosine": (29,),  # the grid's feature-cosine classes
    "cosine_probe": (31,),  # the cosine probe's task and its label permutations
}


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` of :data:`STREAMS` under ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=STREAMS[name]))


class Episodes(NamedTuple):
    """A meta-batch of T tasks (arrays of the chosen backend, images scaled to [0, 1]).

    ``xs (T, N·K, H, W, C)``, ``ys (T, N·K)``, ``xq (T, N·Q, H, W, C)``, ``yq (T, N·Q)``.
    """

    xs: object
    ys: object
    xq: object
    yq: object


def sample_episodes(pool: np.ndarray, rng: np.random.Generator, n_tasks: int, n_way: int,
                    k_shot: int, n_query: int, *, dtype=np.float32, xp=np) -> Episodes:
    """Draw ``n_tasks`` tasks from a class pool ``uint8 (n_classes, n_per_class, H, W, C)``.

    Each task picks ``n_way`` distinct classes in random order — label ``j`` goes to the ``j``-th
    pick, a fresh label permutation per task — and ``k_shot + n_query`` distinct samples of each.
    Deterministic given the generator's state.
    """
    n_classes, n_per = pool.shape[:2]
    if n_way > n_classes:
        raise ValueError(f"{n_way}-way tasks need {n_way} classes; the pool has {n_classes}")
    if k_shot + n_query > n_per:
        raise ValueError(f"{k_shot} shots + {n_query} queries exceed the {n_per} samples per class")
    if min(n_tasks, n_way, k_shot, n_query) < 1:
        raise ValueError("n_tasks, n_way, k_shot and n_query must be >= 1")
    cls = np.argsort(rng.random((n_tasks, n_classes)), axis=1)[:, :n_way]  # (T, N)
    idx = np.argsort(rng.random((n_tasks, n_way, n_per)), axis=2)[:, :, : k_shot + n_query]
    imgs = pool[cls[:, :, None], idx]  # (T, N, K+Q, H, W, C)
    scale = 1.0 / 255.0 if pool.dtype == np.uint8 else 1.0
    imgs = xp.asarray(imgs).astype(dtype) * dtype(scale)
    shape = imgs.shape[3:]
    labels = xp.arange(n_way)
    xs = imgs[:, :, :k_shot].reshape((n_tasks, n_way * k_shot) + shape)
    xq = imgs[:, :, k_shot:].reshape((n_tasks, n_way * n_query) + shape)
    ys = xp.broadcast_to(xp.repeat(labels, k_shot), (n_tasks, n_way * k_shot))
    yq = xp.broadcast_to(xp.repeat(labels, n_query), (n_tasks, n_way * n_query))
    return Episodes(xs, ys, xq, yq)
