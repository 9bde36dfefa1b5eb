"""The method registry: name -> (which parameters the inner loop adapts, exact or first-order
pull-back). ERM is the degenerate case that adapts nothing and sees each task's pooled data.

=========  ===========  ========  =====================================================
method     adapts       exact     reference
=========  ===========  ========  =====================================================
maml       B and w      yes       Finn17; Collins22 Alg. 1
fo_maml    B and w      no        Finn17 (first-order approximation)
anil       w only       yes       Raghu20; Collins22
fo_anil    w only       no        Collins22 (the analysed recursion)
erm        nothing      —         average-loss minimisation, Collins22 §5
=========  ===========  ========  =====================================================

Every method's outer update is ``(B, w) ← (B, w) − β ∇`` with ∇ its meta-gradient averaged
over the round's tasks (THEORY §1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from .adapt import meta_gradient
from .tasks import PopulationData


@dataclass(frozen=True)
class Method:
    """A meta-learning method as a point on the two axes (adapts × exact).

    pooled : the method sees each task's inner and outer samples as one dataset (ERM).
    """

    name: str
    adapts: str
    exact: bool
    pooled: bool = False
    description: str = ""

    def gradient(self, data_in, data_out, B, w, alpha: float, tau: int, with_loss: bool = True):
        """``(∇_B, ∇_w, outer loss)`` for shared (B, w) of shapes (T, d, k), (T, k)."""
        if self.adapts == "none":
            if isinstance(data_out, PopulationData):
                data_out = data_out.task_mean()  # exact: ERM's loss is linear in θ*
            return meta_gradient(data_out, data_out, B, w, alpha, 0, "none", False, with_loss)
        return meta_gradient(data_in, data_out, B, w, alpha, tau, self.adapts, self.exact,
                             with_loss)

    def step(self, data_in, data_out, B, w, cfg, with_loss: bool = True):
        """One outer step ``(B, w) ← (B, w) − β ∇``; returns ``(B, w, loss at the old point)``.

        Every method in the registry has this signature, so the simulator treats them alike.
        The loss (a metric, not needed for the update) is None unless ``with_loss``.
        """
        gB, gw, loss = self.gradient(data_in, data_out, B, w, cfg.alpha, cfg.tau, with_loss)
        return B - cfg.beta * gB, w - cfg.beta * gw, loss


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("maml", "all", True, description="MAML, exact through all inner steps"),
        Method("fo_maml", "all", False, description="first-order MAML"),
        Method("anil", "head", True, description="ANIL, exact through the head adaptation"),
        Method("fo_anil", "head", False, description="first-order ANIL"),
        Method("erm", "none", False, pooled=True, description="average-loss minimisation"),
    )
}


def get_method(name: str) -> Method:
    """Look up a method by name; ValueError with the known names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(
            f"unknown method {name!r}; choose from {', '.join(METHODS)}"
        ) from None


# Comparators from the wider literature share the registry (THEORY §1.4, linmeta.comparators).
from .comparators import COMPARATORS  # noqa: E402

METHODS.update(COMPARATORS)
