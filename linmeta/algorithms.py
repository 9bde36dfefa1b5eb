"""The method registry: every estimator the simulator runs, meta-learners and comparators alike.

A meta-learner is a point on two axes: which parameters the inner loop adapts, and whether the
pull-back is exact or first-order. ERM is the degenerate case that adapts nothing and sees
each task's pooled data. The few-shot module (:mod:`linmeta.fewshot.engine.meta`) reuses these
records for its networks.

=========  ===========  ========  =====================================================
method     adapts       exact     reference
=========  ===========  ========  =====================================================
maml       B and w      yes       Finn17; Collins22 Alg. 1
fo_maml    B and w      no        Finn17 (first-order approximation)
anil       w only       yes       Raghu20; Collins22
fo_anil    w only       no        Collins22 (the analysed recursion)
erm        nothing      —         average-loss minimisation, Collins22 §5
=========  ===========  ========  =====================================================

Every meta-learner's outer update is ``(B, w) ← (B, w) − β ∇`` with ∇ its meta-gradient
averaged over the round's tasks (docs/theory.md §1.2). The comparators of the wider literature
(:mod:`linmeta.comparators`) share the registry.

Every entry satisfies :class:`Method`: it says whether it is a one-shot estimator, whether it
sees each task's samples pooled, and whether its update is a mean of per-task gradients (so a
round can be computed a chunk of tasks at a time); and it is turned into an update by
``build(alpha=, beta=, tau=)`` once, in the manner of optax. The update never reads a config::

    step = get_method("fo_anil").build(alpha=0.5, beta=0.5, tau=1)
    B, w, loss = step(data_in, data_out, B, w)        # one outer step
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .adapt import meta_gradient
from .comparators import COMPARATORS
from .samples import PopulationData

#: An update: ``step(data_in, data_out, B (T, d, k′), w (T, k′), with_loss=True)`` returns
#: ``(B, w, loss (T,) or None)``; for a one-shot estimator, its estimate and the loss of its fit.
Step = Callable


@runtime_checkable
class Method(Protocol):
    """What the registry holds and the simulator runs.

    one_shot : an estimator computed once from all tasks' data, not an update per round.
    pooled : the simulator hands it each task's inner and outer samples as one dataset.
    chunkable : its update is a mean of per-task gradients, so a round can be computed a
        chunk of tasks at a time (``chunk_tasks``, ``memory_mb``); the built step then has
        ``gradient`` and ``apply``.
    """

    name: str
    one_shot: bool
    pooled: bool
    chunkable: bool
    description: str

    def build(self, *, alpha: float, beta: float, tau: int) -> Step: ...


@dataclass(frozen=True)
class MetaLearner:
    """A meta-learning method as a point on the two axes (adapts × exact).

    adapts : 'all' (B and w), 'head' (w only) or 'none' (ERM).
    exact : the pull-back goes through the inner loop (second order) or stops (first order).
    pooled : the method sees each task's inner and outer samples as one dataset (ERM).
    """

    name: str
    adapts: str
    exact: bool
    pooled: bool = False
    description: str = ""
    one_shot: bool = False
    chunkable: bool = True

    def gradient(self, data_in, data_out, B, w, alpha: float, tau: int, with_loss: bool = True):
        """``(∇_B, ∇_w, outer loss)`` for shared (B, w) of shapes (T, d, k), (T, k)."""
        if self.adapts == "none":
            if isinstance(data_out, PopulationData):
                data_out = data_out.task_mean()  # exact: ERM's loss is linear in θ*
            return meta_gradient(data_out, data_out, B, w, alpha, 0, "none", False, with_loss)
        return meta_gradient(data_in, data_out, B, w, alpha, tau, self.adapts, self.exact,
                             with_loss)

    def build(self, *, alpha: float, beta: float, tau: int) -> MetaStep:
        """The outer step with inner rate ``alpha``, outer rate ``beta`` and ``tau`` inner steps."""
        return MetaStep(self, alpha, beta, tau)


@dataclass(frozen=True)
class MetaStep:
    """A meta-learner with its hyperparameters: ``(B, w) ← (B, w) − β ∇`` per call."""

    method: MetaLearner
    alpha: float
    beta: float
    tau: int

    def gradient(self, data_in, data_out, B, w, with_loss: bool = True):
        """The meta-gradient ``(∇_B, ∇_w, loss)`` averaged over the given tasks."""
        return self.method.gradient(data_in, data_out, B, w, self.alpha, self.tau, with_loss)

    def apply(self, B, w, gB, gw):
        """The outer update of (B, w) by a gradient (gB, gw)."""
        return B - self.beta * gB, w - self.beta * gw

    def __call__(self, data_in, data_out, B, w, with_loss: bool = True):
        """One outer step; returns ``(B, w, loss at the old point)`` (loss None unless
        ``with_loss``: a metric, not needed for the update)."""
        gB, gw, loss = self.gradient(data_in, data_out, B, w, with_loss)
        return (*self.apply(B, w, gB, gw), loss)


META_LEARNERS: dict[str, MetaLearner] = {
    m.name: m
    for m in (
        MetaLearner("maml", "all", True, description="MAML, exact through all inner steps"),
        MetaLearner("fo_maml", "all", False, description="first-order MAML"),
        MetaLearner("anil", "head", True, description="ANIL, exact through the head adaptation"),
        MetaLearner("fo_anil", "head", False, description="first-order ANIL"),
        MetaLearner("erm", "none", False, pooled=True, description="average-loss minimisation"),
    )
}

METHODS: dict[str, Method] = {**META_LEARNERS, **COMPARATORS}


def get_method(name: str) -> Method:
    """Look up a method by name; ValueError with the known names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(
            f"unknown method {name!r}; choose from {', '.join(METHODS)}"
        ) from None
