"""MAML, FO-MAML, ANIL and FO-ANIL as one implementation on two axes, plus Adam.

Following learn2learn, the four methods differ only in *which layers the inner loop adapts*
(all of them, or the head) and *whether the outer gradient goes through the inner update*
(THEORY.md §1.1 table; Finn17, Raghu20). The inner loop on task i is

    θ_{i,j+1} = θ_{i,j} − α M ∇L_S(θ_{i,j}),   j = 0 … τ−1,   θ_{i,0} = θ,

with M the mask of adapted parameters; the meta-objective is ``F(θ) = (1/T) Σ_i L_Q(θ_{i,τ})``.
Its exact gradient is the reverse sweep (THEORY.md §1.1, "τ > 1 inner steps")

    v ← ∇L_Q(θ_{i,τ}) / T,    v ← v − α H_S(θ_{i,j}) M v   for j = τ−1 … 0,

whose Hessian-vector products come from :func:`linmeta.fewshot.network.hvp`. When only a
suffix of layers adapts (ANIL), the frozen prefix φ runs once per set, and its gradient collects
the query cotangent plus ``−α Σ_j ∇²_{φθ} L_S(θ_{i,j}) M v_{j+1}`` through the support features.
The first-order variants stop after ``v = ∇L_Q(θ_{i,τ}) / T`` (FO-MAML, Finn17 §5.2).
"""

from __future__ import annotations

from typing import NamedTuple

from linmeta.backend import array_module

from .layers import LOSSES, accuracy
from .network import Network, backward, forward, head_index, hvp, tree_map


class Algorithm(NamedTuple):
    """A point on learn2learn's two axes: ``adapt`` ('all' | 'head'), ``exact`` (second order)."""

    adapt: str
    exact: bool


ALGORITHMS: dict[str, Algorithm] = {
    "maml": Algorithm("all", True),
    "fomaml": Algorithm("all", False),
    "anil": Algorithm("head", True),
    "foanil": Algorithm("head", False),
}


def get_algorithm(name: str) -> Algorithm:
    """Look up ``name`` in :data:`ALGORITHMS` with a clear error."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(
            f"unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)}"
        ) from None


def first_adapted(net: Network, adapt) -> int:
    """First layer the inner loop adapts: 0 for 'all', the head for 'head', or an int."""
    if adapt == "all":
        return 0
    if adapt == "head":
        return head_index(net)
    return int(adapt)


class InnerResult(NamedTuple):
    """Adapted parameters of layers ``[start, end)`` and what the reverse sweep needs."""

    theta: dict  # adapted sub-tree, task axis once steps > 0
    h: object  # frozen-prefix output on the support set (T, N, ...)
    prefix_caches: list
    trace: list  # per step: (theta_j, caches, cotangents, logits)
    start: int


def inner_loop(net, params, xs, ys, *, adapt, lr, steps, loss="ce", keep=False) -> InnerResult:
    """τ = ``steps`` gradient steps of rate α = ``lr`` on each task's support loss.

    ``θ_{i,j+1} = θ_{i,j} − α ∇_θ L_S(θ_{i,j})`` for the layers from :func:`first_adapted` on;
    the frozen prefix runs once. ``xs (T, N_s, H, W, C)``, ``ys (T, N_s)``. ``keep`` stores the
    forward caches and cotangents of every step for the exact pull-back.
    """
    start = first_adapted(net, adapt)
    h, pre = forward(net, params, xs, 0, start)
    names = [layer.name for layer in net[start:] if layer.name in params]
    theta = {n: params[n] for n in names}
    trace = []
    for _ in range(steps):
        p = {**params, **theta}
        z, caches = forward(net, p, h, start)
        _, gz = LOSSES[loss].value_and_grad(z, ys)
        g, _, cots = backward(net, p, caches, gz, start, per_task=True, keep_cotangents=keep)
        if keep:
            trace.append((theta, caches, cots, z))
        theta = tree_map(lambda a, b: a - lr * b, theta, g)
    return InnerResult(theta, h, pre, trace, start)


def meta_gradient(net, params, batch, *, algorithm, inner_lr, inner_steps, loss="ce"):
    """Gradient of the meta-objective ``F(θ) = (1/T) Σ_i L_Q(θ_{i,τ})`` for one meta-batch.

    Parameters
    ----------
    net, params : the network and its (shared) parameters.
    batch : tuple ``(xs (T, N_s, H, W, C), ys (T, N_s), xq (T, N_q, H, W, C), yq (T, N_q))``.
    algorithm : a key of :data:`ALGORITHMS`.
    inner_lr, inner_steps : α and τ.
    loss : 'ce' or 'mse'.

    Returns
    -------
    grads : dict, same structure and shapes as ``params``.
    info : dict with the mean query ``loss`` and ``acc`` after adaptation (floats).
    """
    alg = get_algorithm(algorithm)
    xs, ys, xq, yq = batch
    t = xs.shape[0]
    inner = inner_loop(net, params, xs, ys, adapt=alg.adapt, lr=inner_lr, steps=inner_steps,
                       loss=loss, keep=alg.exact)
    start = inner.start
    hq, pre_q = forward(net, params, xq, 0, start)
    p_tau = {**params, **inner.theta}
    zq, cq = forward(net, p_tau, hq, start)
    lq, gzq = LOSSES[loss].value_and_grad(zq, yq)
    v, ghq, _ = backward(net, p_tau, cq, gzq / t, start, per_task=True, need_gx=start > 0)
    ghs = None
    if alg.exact:
        for theta_j, caches, cots, z in reversed(inner.trace):
            hv, dgh = hvp(net, {**params, **theta_j}, caches, cots, z, ys, loss, v, start,
                          need_gx=start > 0)
            v = tree_map(lambda a, b: a - inner_lr * b, v, hv)
            if dgh is not None:
                ghs = -inner_lr * dgh if ghs is None else ghs - inner_lr * dgh
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


def meta_objective(net, params, batch, *, algorithm, inner_lr, inner_steps, loss="ce") -> float:
    """``F(θ) = (1/T) Σ_i L_Q(θ_{i,τ})`` (for finite-difference checks)."""
    xs, ys, xq, yq = batch
    alg = get_algorithm(algorithm)
    inner = inner_loop(net, params, xs, ys, adapt=alg.adapt, lr=inner_lr, steps=inner_steps,
                       loss=loss)
    zq, _ = forward(net, {**params, **inner.theta}, xq)
    lq, _ = LOSSES[loss].value_and_grad(zq, yq)
    return float(lq.mean())


def adapt_and_predict(net, params, xs, ys, xq, *, adapt, inner_lr, inner_steps, loss="ce"):
    """Test-time adaptation on the support set, then logits ``(T, N_q, K)`` on the queries."""
    inner = inner_loop(net, params, xs, ys, adapt=adapt, lr=inner_lr, steps=inner_steps, loss=loss)
    hq, _ = forward(net, params, xq, 0, inner.start)
    zq, _ = forward(net, {**params, **inner.theta}, hq, inner.start)
    return zq


def zero_head(net: Network, params: dict) -> dict:
    """The zeroing trick (Kao22): the same parameters with the head set to exactly 0."""
    name = net[head_index(net)].name
    xp = array_module(params[name]["w"])
    return {**params, name: {k: xp.zeros_like(a) for k, a in params[name].items()}}


# ---------------------------------------------------------------------------- Adam


class AdamState(NamedTuple):
    """Adam's state: step count ``t`` and the moment trees ``m``, ``v``."""

    t: int
    m: dict
    v: dict


def adam_init(params: dict) -> AdamState:
    """Zero moments, ``t = 0``."""
    zeros = tree_map(lambda a: array_module(a).zeros_like(a), params)
    return AdamState(0, zeros, tree_map(lambda a: a.copy(), zeros))


def adam_update(grads, state: AdamState, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam step (Kingma & Ba 2015, as in PyTorch):

    ``m ← β1 m + (1−β1) g``, ``v ← β2 v + (1−β2) g²``,
    ``θ ← θ − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)``.
    Returns ``(params, state)``.
    """
    t = state.t + 1
    m = tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, state.m, grads)
    v = tree_map(lambda v_, g: b2 * v_ + (1 - b2) * (g * g), state.v, grads)
    c1, c2 = 1 - b1**t, 1 - b2**t

    def step(p, m_, v_):
        xp = array_module(p)
        return (p - lr * (m_ / c1) / (xp.sqrt(v_ / c2) + eps)).astype(p.dtype, copy=False)

    return tree_map(step, params, m, v), AdamState(t, m, v)
