"""MAML, FO-MAML, ANIL and FO-ANIL as one implementation on two axes.

Following learn2learn, the four methods differ only in *which layers the inner loop adapts*
(all of them, or the head) and *whether the outer gradient goes through the inner update*
(docs/theory.md §1.2, §2.2; Finn17, Raghu20). The inner loop on task i is

    θ_{i,j+1} = θ_{i,j} − α M ∇L_S(θ_{i,j}),   j = 0 … τ−1,   θ_{i,0} = θ,

with M the mask of adapted parameters; the meta-objective is ``F(θ) = (1/T) Σ_i L_Q(θ_{i,τ})``.
Its exact gradient is the reverse sweep (docs/theory.md §2.2)

    v ← ∇L_Q(θ_{i,τ}) / T,    v ← v − α H_S(θ_{i,j}) M v   for j = τ−1 … 0,

whose Hessian-vector products come from :func:`linmeta.fewshot.engine.network.hvp`. When only a
suffix of layers adapts (ANIL), the frozen prefix φ runs once per set, and its gradient collects
the query cotangent plus ``−α Σ_j ∇²_{φθ} L_S(θ_{i,j}) M v_{j+1}`` through the support features.
The first-order variants stop after ``v = ∇L_Q(θ_{i,τ}) / T`` (FO-MAML, Finn17 §5.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from linmeta.algorithms import META_LEARNERS, MetaLearner
from linmeta.backend import array_module

from .layers import LOSSES, accuracy
from .network import Network, backward, forward, head_index, hvp, tree_map

#: The four meta-learners of the linear registry, the same records (:class:`MetaLearner`: the
#: axes ``adapts`` ('all' | 'head') and ``exact``), run here on networks.
ALGORITHMS: dict[str, MetaLearner] = {name: META_LEARNERS[name]
                                      for name in ("maml", "fo_maml", "anil", "fo_anil")}

#: Earlier spellings, still accepted (run directories and checkpoints that name them load).
ALIASES = {"fomaml": "fo_maml", "foanil": "fo_anil"}


def canonical_name(name: str) -> str:
    """The registry's spelling of ``name`` (``'fomaml'`` -> ``'fo_maml'``); unknown names pass."""
    return ALIASES.get(name, name)


def get_algorithm(name: str) -> MetaLearner:
    """Look up ``name`` (or an alias) in :data:`ALGORITHMS` with a clear error."""
    try:
        return ALGORITHMS[canonical_name(name)]
    except KeyError:
        raise ValueError(
            f"unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)}"
        ) from None


@dataclass(frozen=True)
class InnerSpec:
    """The inner loop as one record: what adapts, how the pull-back goes, α, τ and the loss.

    ``θ_{j+1} = θ_j − lr · M ∇L_S(θ_j)`` for ``j < steps``, with ``M`` the mask of the layers
    from :func:`first_adapted` (``adapts``: 'all', 'head' or a layer index) on; ``exact``
    selects the second-order pull-back in :func:`meta_gradient` (test-time adaptation ignores
    it). Build one from an algorithm name with :meth:`named`.
    """

    adapts: str | int
    exact: bool
    lr: float
    steps: int
    loss: str = "ce"

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {sorted(LOSSES)}")
        if self.steps < 0:
            raise ValueError(f"inner steps must be >= 0, got {self.steps}")

    @classmethod
    def named(cls, algorithm: str, *, lr: float, steps: int, loss: str = "ce") -> InnerSpec:
        """The inner loop of ``algorithm`` (a key of :data:`ALGORITHMS` or an alias)."""
        alg = get_algorithm(algorithm)
        return cls(alg.adapts, alg.exact, lr, steps, loss)


def first_adapted(net: Network, adapts) -> int:
    """First layer the inner loop adapts: 0 for 'all', the head for 'head', or an int."""
    if adapts == "all":
        return 0
    if adapts == "head":
        return head_index(net)
    return int(adapts)


class InnerResult(NamedTuple):
    """Adapted parameters of layers ``[start, end)`` and what the reverse sweep needs."""

    theta: dict  # adapted sub-tree, task axis once steps > 0
    h: object  # frozen-prefix output on the support set (T, N, ...)
    prefix_caches: list
    trace: list  # per step: (theta_j, caches, cotangents, logits)
    start: int


def inner_loop(net, params, xs, ys, spec: InnerSpec, keep: bool = False) -> InnerResult:
    """τ = ``spec.steps`` gradient steps of rate α = ``spec.lr`` on each task's support loss.

    ``θ_{i,j+1} = θ_{i,j} − α ∇_θ L_S(θ_{i,j})`` for the layers from :func:`first_adapted` on;
    the frozen prefix runs once. ``xs (T, N_s, H, W, C)``, ``ys (T, N_s)``. ``keep`` stores the
    forward caches and cotangents of every step for the exact pull-back.
    """
    start = first_adapted(net, spec.adapts)
    h, pre = forward(net, params, xs, 0, start)
    names = [layer.name for layer in net[start:] if layer.name in params]
    theta = {n: params[n] for n in names}
    trace = []
    for _ in range(spec.steps):
        p = {**params, **theta}
        z, caches = forward(net, p, h, start)
        _, gz = LOSSES[spec.loss].value_and_grad(z, ys)
        g, _, cots = backward(net, p, caches, gz, start, per_task=True, keep_cotangents=keep)
        if keep:
            trace.append((theta, caches, cots, z))
        theta = tree_map(lambda a, b: a - spec.lr * b, theta, g)
    return InnerResult(theta, h, pre, trace, start)


def meta_gradient(net, params, batch, spec: InnerSpec):
    """Gradient of the meta-objective ``F(θ) = (1/T) Σ_i L_Q(θ_{i,τ})`` for one meta-batch.

    Parameters
    ----------
    net, params : the network and its (shared) parameters.
    batch : tuple ``(xs (T, N_s, H, W, C), ys (T, N_s), xq (T, N_q, H, W, C), yq (T, N_q))``.
    spec : the inner loop (:class:`InnerSpec`: what adapts, exact or first order, α, τ, loss).

    Returns
    -------
    grads : dict, same structure and shapes as ``params``.
    info : dict with the mean query ``loss`` and ``acc`` after adaptation (floats).
    """
    xs, ys, xq, yq = batch
    t = xs.shape[0]
    inner = inner_loop(net, params, xs, ys, spec, keep=spec.exact)
    start = inner.start
    hq, pre_q = forward(net, params, xq, 0, start)
    p_tau = {**params, **inner.theta}
    zq, cq = forward(net, p_tau, hq, start)
    lq, gzq = LOSSES[spec.loss].value_and_grad(zq, yq)
    v, ghq, _ = backward(net, p_tau, cq, gzq / t, start, per_task=True, need_gx=start > 0)
    ghs = None
    if spec.exact:
        lr = spec.lr
        for theta_j, caches, cots, z in reversed(inner.trace):
            hv, dgh = hvp(net, {**params, **theta_j}, caches, cots, z, ys, spec.loss, v, start,
                          need_gx=start > 0)
            v = tree_map(lambda a, b: a - lr * b, v, hv)
            if dgh is not None:
                ghs = -lr * dgh if ghs is None else ghs - lr * dgh
    grads = {n: {k: (a.sum(axis=0) if a.ndim > params[n][k].ndim else a) for k, a in d.items()}
             for n, d in v.items()}
    if start > 0:
        gpre, _, _ = backward(net, params, pre_q, ghq, 0, start, per_task=False)
        if ghs is not None:
            gs, _, _ = backward(net, params, inner.prefix_caches, ghs, 0, start, per_task=False)
            gpre = tree_map(lambda a, b: a + b, gpre, gs)
        grads.update(gpre)
    info = {"loss": float(lq.mean()), "acc": float(accuracy(zq, yq).mean())}
    return grads, info


def meta_objective(net, params, batch, spec: InnerSpec) -> float:
    """``F(θ) = (1/T) Σ_i L_Q(θ_{i,τ})`` (for finite-difference checks)."""
    xs, ys, xq, yq = batch
    inner = inner_loop(net, params, xs, ys, spec)
    zq, _ = forward(net, {**params, **inner.theta}, xq)
    lq, _ = LOSSES[spec.loss].value_and_grad(zq, yq)
    return float(lq.mean())


def adapt_and_predict(net, params, xs, ys, xq, spec: InnerSpec):
    """Test-time adaptation on the support set, then logits ``(T, N_q, K)`` on the queries."""
    inner = inner_loop(net, params, xs, ys, spec)
    hq, _ = forward(net, params, xq, 0, inner.start)
    zq, _ = forward(net, {**params, **inner.theta}, hq, inner.start)
    return zq


def zero_head(net: Network, params: dict) -> dict:
    """The zeroing trick (Kao22): the same parameters with the head set to exactly 0."""
    name = net[head_index(net)].name
    xp = array_module(params[name]["w"])
    return {**params, name: {k: xp.zeros_like(a) for k, a in params[name].items()}}
