"""Inner loops and their pull-backs: the two axes on which MAML's variants differ.

The inner loop adapts all parameters (MAML), the head only (ANIL) or nothing (ERM), for τ
gradient steps of rate α on each task's inner data (docs/theory.md §1.2)::

    θ_{j+1} = θ_j − α ∇L_in(θ_j).

The pull-back carries the outer gradient back to the initial parameters. The exact one is the
reverse sweep ``v ← v − α H_in(θ_j) v`` through the steps (for a head-only inner loop the
direction's B-part is zero, but the B-part of ``H v`` is kept); the first-order one is the
identity. Both return per-task gradients; the caller averages them over tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from .losses import TaskMatrix, gradient, hvp, hvp_task_sum


@dataclass(slots=True)
class InnerStep:
    """One inner step's point (B_j, w_j) and residual e_j, kept for the exact pull-back."""

    B: TaskMatrix
    w: object
    e: object


def inner_loop(data, B, w, alpha: float, tau: int, adapts: str):
    """Run τ inner steps on every task.

    Parameters
    ----------
    data : inner-data statistics with ``resid``/``sig`` (batch (T, n)).
    B : (T, d, k) shared body; w : (T, k) shared head.
    adapts : 'all' (B and w), 'head' (w only) or 'none'.

    Returns
    -------
    (B_τ, w_τ, steps): adapted per-task body (TaskMatrix), head (T, n, k) — (T, 1, k) when
    nothing is adapted — and the visited points.
    """
    w_i = w[:, None, :]  # (T, 1, k): the same head for every task until the first step
    B_i = TaskMatrix(B)
    steps = []
    if adapts == "none":
        return B_i, w_i, steps
    for _ in range(tau):
        e, g = gradient(data, B_i, w_i)
        steps.append(InnerStep(B_i, w_i, e))
        if adapts == "all":
            B_i = B_i.plus(e, -alpha * w_i)  # scale the k-vector, not the d-vector
        w_i = w_i - alpha * g
    return B_i, w_i, steps


def pullback(data, steps, alpha: float, V: TaskMatrix, v, adapts: str, exact: bool):
    """Carry the cotangent (V, v) at the adapted point back through the inner steps.

    Exact: ``(V, v) ← (V, v) − α H_in(θ_j) (V', v)`` for j = τ−1 … 0, with ``V' = V`` when the
    body is adapted and ``V' = 0`` when only the head is. First order: unchanged.
    """
    if not exact:
        return V, v
    for step in reversed(steps):
        (b1, b2), hw = hvp(data, step.B, step.w, step.e, V if adapts == "all" else None, v)
        V = V.plus(b1[0], -alpha * b1[1]).plus(b2[0], -alpha * b2[1])
        v = v - alpha * hw
    return V, v


def meta_gradient(data_in, data_out, B, w, alpha: float, tau: int, adapts: str, exact: bool,
                  with_loss: bool = True):
    """Per-trial meta-gradient averaged over tasks, and the mean outer loss.

    ``g_i`` is the gradient of ``L_out(Adapt_i(B, w))`` (exact) or of ``L_out`` at the adapted
    point (first order); returns ``(∇_B, ∇_w, loss)`` of shapes (T, d, k), (T, k), (T,)
    (loss None unless ``with_loss``).

    Only task sums leave this function, so per-task vectors are formed only where a later step
    needs them: without a pull-back ``Σ_i B_iᵀ r_i`` is summed directly, and the pull-back's
    last HVP, at the first inner step's point shared by all tasks, is summed as it is formed
    (:func:`linmeta.losses.hvp_task_sum`).
    """
    B_i, w_i, steps = inner_loop(data_in, B, w, alpha, tau, adapts)
    u = B_i.mv(w_i)
    r, loss = data_out.resid_and_loss(u) if with_loss else (data_out.resid(u), None)
    V = TaskMatrix(None, ((r, w_i),))
    n = r.shape[-2]
    if not (exact and steps):  # nothing to pull back through: only task sums are needed
        return V.task_sum(n) / n, B_i.sum_rmv(r) / n, loss
    v = B_i.rmv(r)
    # the first inner step is at the shared (B, w): its HVP is summed over tasks as it is formed
    V, v = pullback(data_in, steps[1:], alpha, V, v, adapts, exact)
    hB, hw = hvp_task_sum(data_in, B, steps[0].w, steps[0].e, V if adapts == "all" else None, v)
    return (V.task_sum(n) - alpha * hB) / n, (v.sum(-2) - alpha * hw) / n, loss  # not np.mean
