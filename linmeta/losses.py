"""The bilinear regression loss, its gradient and Hessian-vector product (docs/theory.md §1.1).

This module is the only home of these equations. For one task with data statistics
(Σ̂, ĥ) the loss of the learner ``ŷ = <B w, x>`` is

    L(B, w) = ½ (Bw)ᵀ Σ̂ (Bw) − ĥᵀ (Bw) + const,     e = Σ̂ B w − ĥ,
    ∇_B L = e wᵀ,   ∇_w L = Bᵀ e,
    H (V, v) = (δe wᵀ + e vᵀ,  Vᵀ e + Bᵀ δe),      δe = Σ̂ (V w + B v)      (derived).

The data enter only through two maps on vectors, supplied by :mod:`linmeta.samples`:
``resid(u) = Σ̂ u − ĥ`` and ``sig(u) = Σ̂ u``. Per-task matrices are never formed: a task's
matrix is a shared base plus a short sum of outer products (:class:`TaskMatrix`), since every
inner step and every pull-back adds only rank-one terms. A step then costs O(n·d·k) with a
handful of dense matrix products, whatever the number of tasks.

Shapes: T trials, n tasks, d ambient dimension, k learner width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backend import array_module

_VECDOT = getattr(np, "vecdot", None)  # NumPy ≥ 2.0


def rowdot(a, b):
    """Row-wise inner product over the last axis: ``(…, n, p), (…, n, p) -> (…, n)``.

    Either side may have n = 1 (one row for all tasks); that case is a matrix-vector product.
    """
    if b.shape[-2] == 1 and a.shape[-2] != 1:
        a, b = b, a
    if a.shape[-2] == 1 and b.shape[-2] != 1:
        return (b @ a.swapaxes(-1, -2))[..., 0]
    if a.size <= 2048 and _VECDOT is not None and isinstance(a, np.ndarray):
        return _VECDOT(a, b)  # less call overhead than einsum; einsum streams long rows
    return array_module(a).einsum("...i,...i->...", a, b)


def _tasks_fastest(M, x):
    """``x_i ↦ M x_i`` for x of shape (T, n, p), as ``(M xᵀ)ᵀ`` so that the result (T, n, q) has
    the task axis fastest in memory. Row-wise scalings and row-dots over a short last axis then
    run as long contiguous loops (several times faster than ``x @ Mᵀ`` for n ≫ d)."""
    if x.shape[-2] < M.shape[-2]:  # fewer tasks than rows (and shared x): the plain layout
        return x @ M.swapaxes(-1, -2)
    return (M @ x.swapaxes(-1, -2)).swapaxes(-1, -2)


def _scale(x, s):
    """``s_i x_i`` for x (T, n, p) or (T, 1, p) and per-task scalars s (T, n), tasks fastest.

    A shared x is scaled on the transposed views: the plain broadcast would give an inner loop
    of length p (three times slower) and a layout that mismatches the other per-task arrays."""
    if x.shape[-2] != 1:
        return x * s[..., None]
    return (x.swapaxes(-1, -2) * s[..., None, :]).swapaxes(-1, -2)


def _outer_sum(a, b):
    """``Σ_i a_i b_iᵀ`` for a (T, n, d) and b (T, n, k) or (T, 1, k); shape (T, d, k)."""
    if b.shape[-2] == 1:  # one b for all tasks: (Σ_i a_i) bᵀ
        return a.sum(-2)[..., :, None] * b
    return a.swapaxes(-1, -2) @ b


def _add(total, term):
    """``total + term`` in place where possible; ``total`` None means zero."""
    if total is None:
        return term
    if total.shape == term.shape:
        total += term
        return total
    return total + term


def _weighted_sum(a, s):
    """``Σ_i s_i a_i`` for a (T, n, p) or (T, 1, p) and s (T, n) or (T, 1), at most one of them
    shared (both shared would need n); shape (T, p)."""
    if a.shape[-2] == 1 or s.shape[-1] == 1:  # one of the two is shared: (Σ s) a or (Σ a) s
        return a.sum(-2) * s.sum(-1)[..., None] if a.shape[-2] == 1 else a.sum(-2) * s
    return (a.swapaxes(-1, -2) @ s[..., None])[..., 0]


@dataclass(slots=True)  # not frozen: a frozen __init__ costs three times as much, per step
class TaskMatrix:
    """Per-task matrices ``M_i = base + Σ_p a_{p,i} b_{p,i}ᵀ`` held in factored form.

    Attributes
    ----------
    base : array (T, d, k) or None
        Shared by all tasks of a trial (None means zero).
    terms : tuple of (a, b)
        Rank-one terms, ``a`` of shape (T, n, d) and ``b`` of shape (T, n, k) or (T, 1, k)
        (the same b for every task).
    """

    base: object
    terms: tuple = ()

    def mv(self, x):
        """``M_i x_i`` for x of shape (T, n, k); returns (T, n, d)."""
        out = None if self.base is None else _tasks_fastest(self.base, x)
        for a, b in self.terms:
            out = _add(out, _scale(a, rowdot(b, x)))
        return out

    def rmv(self, y):
        """``M_iᵀ y_i`` for y of shape (T, n, d); returns (T, n, k)."""
        out = None if self.base is None else _tasks_fastest(self.base.swapaxes(-1, -2), y)
        for a, b in self.terms:
            out = _add(out, _scale(b, rowdot(a, y)))
        return out

    def sum_mv(self, x):
        """``Σ_i M_i x_i`` over the tasks for x (T, 1, k) shared; shape (T, d). Base None."""
        assert self.base is None
        out = None
        for a, b in self.terms:
            out = _add(out, _weighted_sum(a, rowdot(b, x)))
        return out

    def sum_rmv(self, y):
        """``Σ_i M_iᵀ y_i`` over the tasks for y (T, n, d); shape (T, k)."""
        out = None if self.base is None else (y.sum(-2)[..., None, :] @ self.base)[..., 0, :]
        for a, b in self.terms:
            out = _add(out, _weighted_sum(b, rowdot(a, y)))
        return out

    def plus(self, a, b) -> TaskMatrix:
        """``M_i + a_i b_iᵀ`` as a new TaskMatrix (a: (T, n, d), b: (T, n, k))."""
        return TaskMatrix(self.base, self.terms + ((a, b),))

    def task_sum(self, n: int):
        """``Σ_i M_i`` over the n tasks, shape (T, d, k)."""
        out = None if self.base is None else n * self.base
        for a, b in self.terms:
            out = _add(out, _outer_sum(a, b))
        return out

    def dense(self):
        """Every task's matrix, shape (T, n, d, k). For tests and small problems only."""
        out = 0 if self.base is None else self.base[:, None]
        for a, b in self.terms:
            out = out + a[..., :, None] * b[..., None, :]
        return out


def gradient(data, B: TaskMatrix, w):
    """Gradient of each task's loss at (B_i, w_i).

    ``e = Σ̂ B w − ĥ``; returns ``(e, g)`` with ``∇_B L = e wᵀ`` (left factored) and
    ``g = ∇_w L = Bᵀ e`` of shape (T, n, k). ``e`` has shape (T, n, d).
    """
    e = data.resid(B.mv(w))
    return e, B.rmv(e)


def hvp(data, B: TaskMatrix, w, e, V: TaskMatrix | None, v):
    """Hessian-vector product of the bilinear loss at (B, w) in direction (V, v).

    ``δe = Σ̂ (V w + B v)``, ``H (V, v) = (δe wᵀ + e vᵀ, Vᵀ e + Bᵀ δe)``; ``V = None`` means
    V = 0 (the head-only direction used by ANIL). ``e`` is the residual at (B, w).
    Returns the B-part as its two rank-one factors ``((δe, w), (e, v))`` and the w-part.
    """
    u = B.mv(v)
    if V is not None:
        u = u + V.mv(w)
    de = data.sig(u)
    hw = B.rmv(de)
    if V is not None:
        hw = hw + V.rmv(e)
    return ((de, w), (e, v)), hw


def hvp_task_sum(data, B, w, e, V: TaskMatrix | None, v):
    """``Σ_i H_i (V_i, v_i)``: the task sum of :func:`hvp` at a point that every task shares.

    At the first inner step all tasks sit at the same (B, w); only the residuals e_i differ, so
    the Hessian's B-row and the ``Bᵀ δe`` term need only the task sum of ``δe_i``::

        Σ_i H_B = (Σ_i δe_i) wᵀ + Σ_i e_i v_iᵀ,     Σ_i H_w = Σ_i V_iᵀ e_i + Bᵀ Σ_i δe_i,

    and when Σ̂ is the same for every task (population mode) ``Σ_i δe_i = Σ (Σ_i V_i w +
    B Σ_i v_i)`` needs no per-task vector at all (derived, docs/theory.md §1.1).

    B : (T, d, k) array; w : (T, 1, k); e : (T, n, d); V : TaskMatrix without base, or None
    for V = 0; v : (T, n, k). Returns the B-part (T, d, k) and the w-part (T, k).
    """
    if data.sig_shared:
        u = (B @ v.sum(-2)[..., None])[..., 0]  # (T, d)
        if V is not None:
            u = u + V.sum_mv(w)
        de = data.sig(u)
    else:
        u = _tasks_fastest(B, v)  # (T, n, d)
        if V is not None:
            u = _add(u, V.mv(w))
        de = data.sig_sum(u)
    hB = de[..., :, None] * w + _outer_sum(e, v)
    hw = (de[..., None, :] @ B)[..., 0, :]
    if V is not None:
        hw = hw + V.sum_rmv(e)
    return hB, hw
