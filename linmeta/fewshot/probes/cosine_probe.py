"""Kao22's cosine probe: how MAML's features of one task separate the classes as it trains.

Kao22 (``cos_sim_analysis/`` of their code) train FO-MAML on **one** 5-way task, 20 support and 20
query images per class, with the labels permuted afresh at every outer step, and watch the
cosine similarity of the query features to the support features, class pair by class pair. With
the zeroing trick the different-class cosine falls faster and lower than with a random head: the
random head's noise (the interference term of the contrastive form) mixes the classes.

Settings read from their code (``contrastivemess_visualization.py``, ``mini_meta_feature.py``,
``visualization_utils.py``): FO-MAML with 5 inner steps at 0.01, Adam 1e-3, about 100 outer
steps, labels re-permuted every step (support and query alike), features taken just before the
head at the meta-parameters (no inner adaptation), support and query run as separate batch-norm
batches, the mean cosine over all (query, support) pairs of each class pair, 10 seeds. Their net
is Conv-4 with 32 channels, each block conv → ReLU → BN → maxpool (features max-pooled, not
centred); their data the mini-ImageNet test split at 84 px. Here the same net runs on 28 px
procedural glyphs (:func:`~linmeta.fewshot.data.omniglyphs` with 40 images per class), so the
feature is 32-dimensional instead of 800.

Heads: ``random`` (Kaiming, Kao22's ``RandInit``), ``zeroinit`` (zero once, ``ZeroInit``) and
``zeroing`` (zero at the start and after every outer step, ``ZeroIter1``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..data.episodes import stream
from ..engine.meta import InnerSpec, meta_gradient, zero_head
from ..engine.network import KAIMING, conv4, forward, head_index, init_params
from ..engine.optim import adam

HEADS = ("random", "zeroinit", "zeroing")


@dataclass(frozen=True)
class ProbeConfig:
    """One run of the probe (defaults: Kao22's settings, on 28 px glyphs)."""

    head: str = "random"
    seed: int = 0
    n_way: int = 5
    n_support: int = 20
    n_query: int = 20
    inner_steps: int = 5
    inner_lr: float = 0.01
    outer_steps: int = 100
    outer_lr: float = 1e-3
    every: int = 10  # cosines after outer steps 0, 1, every, 2·every, …, outer_steps
    channels: int = 32
    head_scale: float = KAIMING

    def validate(self) -> ProbeConfig:
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose one of {', '.join(HEADS)}")
        for name in ("n_way", "n_support", "n_query", "inner_steps", "outer_steps", "every",
                     "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_way < 2:
            raise ValueError("n_way must be >= 2: the probe compares different classes")
        return self


def class_pair_cosines(h_query, y_query, h_support, y_support, n_way: int):
    """``M[i, j]``: mean cosine over all (query of class i, support of class j) pairs.

    ``h_query (Nq, F)``, ``h_support (Ns, F)``; labels in ``0 … n_way−1``.
    """
    def unit(h):
        h = np.asarray(h, dtype=np.float64)
        return h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-300)

    c = unit(h_query) @ unit(h_support).T
    yq, ys = np.asarray(y_query), np.asarray(y_support)
    return np.array([[c[np.ix_(yq == i, ys == j)].mean() for j in range(n_way)]
                     for i in range(n_way)])


def summary(m) -> dict:
    """Same-class (diagonal) and different-class (off-diagonal) means of a class-pair matrix,
    their ratio and their gap."""
    m = np.asarray(m)
    same = float(np.mean(np.diag(m)))
    diff = float(m[~np.eye(len(m), dtype=bool)].mean())
    return {"same": same, "diff": diff, "ratio": same / diff if diff != 0 else float("nan"),
            "gap": same - diff}


def probe_task(pool, cfg: ProbeConfig):
    """The one task of a run: ``n_way`` classes of ``pool (C, K, H, W, 1)`` uint8 and
    ``n_support + n_query`` images of each, as float32 in [0, 1]; labels by class."""
    rng = stream(cfg.seed, "cosine_probe")
    need = cfg.n_support + cfg.n_query
    if pool.shape[1] < need:
        raise ValueError(f"the probe needs {need} images per class, the pool has {pool.shape[1]}")
    classes = rng.choice(len(pool), cfg.n_way, replace=False)
    xs, xq = [], []
    for c in classes:
        idx = rng.choice(pool.shape[1], need, replace=False)
        xs.append(pool[c, idx[:cfg.n_support]])
        xq.append(pool[c, idx[cfg.n_support:]])
    xs = np.concatenate(xs).astype(np.float32) / np.float32(255)
    xq = np.concatenate(xq).astype(np.float32) / np.float32(255)
    ys = np.repeat(np.arange(cfg.n_way), cfg.n_support)
    yq = np.repeat(np.arange(cfg.n_way), cfg.n_query)
    return xs, ys, xq, yq, rng


def run_probe(pool, cfg: ProbeConfig, progress=None) -> dict:
    """Train FO-MAML on one task with permuted labels; the class-pair cosines over training.

    Returns ``{"config", "steps", "matrices", "same", "diff", "ratio", "gap"}``: the outer steps
    at which the features were taken (0 = the initial parameters), the query-by-support
    matrices (:func:`class_pair_cosines`) and their :func:`summary` at each.
    ``progress(step, total)`` is called after every outer step.
    """
    cfg.validate()
    xs, ys, xq, yq, rng = probe_task(pool, cfg)
    size = xs.shape[1]
    net = conv4(cfg.n_way, cfg.channels, size, xs.shape[-1], block_order="kao", bn_last=False)
    hi = head_index(net)
    params = init_params(net, stream(cfg.seed, "init"), "zero" if cfg.head == "zeroinit"
                         else "random", cfg.head_scale, np.float32)
    if cfg.head == "zeroing":
        params = zero_head(net, params)
    opt = adam(cfg.outer_lr)
    state = opt.init(params)
    spec = InnerSpec.named("fo_maml", lr=cfg.inner_lr, steps=cfg.inner_steps)
    out = {"config": dataclasses.asdict(cfg), "steps": [], "matrices": []}

    def snapshot(step):
        h_s = forward(net, params, xs[None], 0, hi)[0][0]  # support: one batch-norm batch
        h_q = forward(net, params, xq[None], 0, hi)[0][0]  # query: another
        out["steps"].append(step)
        out["matrices"].append(class_pair_cosines(h_q, yq, h_s, ys, cfg.n_way).tolist())

    snapshot(0)
    for step in range(1, cfg.outer_steps + 1):
        perm = rng.permutation(cfg.n_way)  # new labels for the same classes, every step
        batch = (xs[None], perm[ys][None], xq[None], perm[yq][None])
        grads, _ = meta_gradient(net, params, batch, spec)
        params, state = opt.update(grads, state, params)
        if cfg.head == "zeroing":
            params = zero_head(net, params)
        if step == 1 or step % cfg.every == 0 or step == cfg.outer_steps:
            snapshot(step)
        if progress is not None:
            progress(step, cfg.outer_steps)
    for key in ("same", "diff", "ratio", "gap"):
        out[key] = [summary(m)[key] for m in out["matrices"]]
    return out
