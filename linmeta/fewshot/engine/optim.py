"""Adam as a pair of pure functions built from its hyperparameters (in the manner of optax)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from linmeta.backend import array_module

from .network import tree_map


class AdamState(NamedTuple):
    """Adam's state: step count ``t`` and the moment trees ``m``, ``v``."""

    t: int
    m: dict
    v: dict


class Optimizer(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params) -> (params, state)``.

    Unlike optax's ``update``, which returns the updates, this one returns the new parameters,
    cast back to each parameter's dtype.
    """

    init: Callable
    update: Callable


def adam(lr: float = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma & Ba 2015, as in PyTorch) with the given hyperparameters:

    ``m ← β1 m + (1−β1) g``, ``v ← β2 v + (1−β2) g²``,
    ``θ ← θ − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε)``, starting from ``m = v = 0``,
    ``t = 0``.
    """

    def init(params: dict) -> AdamState:
        zeros = tree_map(lambda a: array_module(a).zeros_like(a), params)
        return AdamState(0, zeros, tree_map(lambda a: a.copy(), zeros))

    def update(grads: dict, state: AdamState, params: dict):
        t = state.t + 1
        m = tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, state.m, grads)
        v = tree_map(lambda v_, g: b2 * v_ + (1 - b2) * (g * g), state.v, grads)
        c1, c2 = 1 - b1**t, 1 - b2**t

        def step(p, m_, v_):
            xp = array_module(p)
            return (p - lr * (m_ / c1) / (xp.sqrt(v_ / c2) + eps)).astype(p.dtype, copy=False)

        return tree_map(step, params, m, v), AdamState(t, m, v)

    return Optimizer(init, update)
