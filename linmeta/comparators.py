"""Estimators of col(B*) from the wider literature, beside the meta-learning methods
(docs/theory.md §1.4).

=========  =========  ======  ===========================================================
method     kind       data    reference
=========  =========  ======  ===========================================================
mom        one-shot   pooled  Tripuraneni21: top-k′ eigenvectors of (1/N) Σ y² x xᵀ
mt_erm     one-shot   pooled  Du et al. 2021 / Tripuraneni21: Burer–Monteiro + balancing
altmin     iterative  split   Thekumparampil21: LS heads on inner data, GD on B (outer), QR
fedrep     iterative  pooled  Collins21: exact LS heads, then one GD step on B, QR
reptile    iterative  pooled  Nichol et al. 2018 on the linear model (Saunshi et al. 2020)
=========  =========  ======  ===========================================================

Every comparator is a :class:`Comparator`: a name plus one pure rule
``rule(data_in, data_out, B, w, **hyper) -> (B, w, loss)`` whose keyword arguments are the
hyperparameters it uses (``alpha``, ``beta``, ``tau``); :meth:`Comparator.build` binds them
once and gives the simulator's common update signature (:class:`linmeta.algorithms.Method`).
Iterative rules are called once per round; one-shot rules once, on one round's data (n tasks,
each with all its ``m_in + m_out`` samples), and their estimate is logged at the last step.
"pooled" comparators see each task's inner and outer samples as one dataset (the simulator
pools them, as for ERM); AltMinGD splits them.

Every rule uses only the data maps ``resid``/``sig`` (and, for the moment matrix and the
least-squares heads, the samples themselves), so all of them run in finite-sample and in
population mode. In population mode with Σ = I every update is a combination of B and the
task parameters θ*_i, so the simulator's reduced basis of span(B0, B*) stays exact.

The shared head ``w`` is not used by the comparators that fit per-task heads (mom, mt_erm,
altmin, fedrep); they return it unchanged. The reported ``loss`` is the mean task loss of the
rule's own fit at the incoming B (iterative) or at the estimate (one-shot).

Shapes: T trials, n tasks, m samples, d ambient dimension, k′ learner width.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .adapt import inner_loop
from .backend import array_module, to_numpy
from .samples import PopulationData, SampleData


@dataclass(frozen=True)
class Comparator:
    """A non-meta-learning estimator in the method registry.

    rule : ``(data_in, data_out, B (T, d, k′), w (T, k′), **hyper) -> (B, w, loss (T,))``.
    hyper : the names of the hyperparameters ``rule`` takes (a subset of alpha, beta, tau).
    one_shot : the rule is an estimator run once, not an update per round.
    pooled : the simulator passes each task's inner and outer samples pooled as ``data_out``.
    """

    name: str
    rule: Callable
    hyper: tuple = ()
    one_shot: bool = False
    pooled: bool = True
    description: str = ""
    chunkable: bool = False  # no rule is a mean of per-task gradients (QR, eigh, L-BFGS)

    def build(self, *, alpha: float, beta: float, tau: int) -> Callable:
        """The update ``step(data_in, data_out, B, w, with_loss=True) -> (B, w, loss)`` with
        the hyperparameters bound (the rules compute their loss in any case)."""
        given = {"alpha": alpha, "beta": beta, "tau": tau}
        bound = functools.partial(self.rule, **{name: given[name] for name in self.hyper})

        def step(data_in, data_out, B, w, with_loss: bool = True):
            return bound(data_in, data_out, B, w)

        step.__doc__ = f"{self.name}: {self.description}"
        return step


# ---------------------------------------------------------------- shared pieces


def labels(data: SampleData):
    """``y = X θ* + noise`` (or the data's own labels), shape (T, n, m)."""
    return data.labels


def _task_count(data) -> int:
    return (data.X if isinstance(data, SampleData) else data.theta).shape[1]


def _sigma_times(data: PopulationData, B):
    """``Σ B`` for B of shape (T, d, k′) (Σ = I when ``sigma_diag`` is None)."""
    return B if data.sigma_diag is None else B * data.sigma_diag[:, None]


def least_squares_heads(data, B):
    """Per-task least-squares heads ``ŵ_i = argmin_w L_i(B, w) = (Bᵀ Σ̂_i B)⁺ Bᵀ ĥ_i``.

    Finite samples: the minimum-norm solution of ``X_i B w ≈ y_i`` (so m < k′ is allowed);
    population: ``(Bᵀ Σ B)⁺ Bᵀ Σ θ*_i``. B of shape (T, d, k′); returns (T, n, k′).
    """
    xp = array_module(B)
    if isinstance(data, PopulationData):
        SB = _sigma_times(data, B)  # (T, d, k′)
        G = B.swapaxes(-1, -2) @ SB  # (T, k′, k′)
        return data.theta @ SB @ xp.linalg.pinv(G)  # (T, n, k′); G symmetric
    Z = data.X @ B[:, None]  # (T, n, m, k′)
    return (xp.linalg.pinv(Z) @ labels(data)[..., None])[..., 0]


def heads_residual(data, B, W):
    """Residuals ``r_i = Σ̂_i B ŵ_i − ĥ_i`` (T, n, d) and the mean task loss (T,) for heads W."""
    return data.resid_and_loss(W @ B.swapaxes(-1, -2))


def body_gradient(r, W):
    """``∇_B (1/n) Σ_i L_i(B, w_i) = (1/n) Σ_i r_i w_iᵀ`` for r (T, n, d), W (T, n, k′)."""
    return r.swapaxes(-1, -2) @ W / W.shape[-2]


def orthonormalize(B):
    """The Q factor of ``B = Q R`` with diag(R) ≥ 0 (a continuous choice), shape (T, d, k′)."""
    xp = array_module(B)
    Q, R = xp.linalg.qr(B)
    signs = xp.sign(xp.diagonal(R, axis1=-2, axis2=-1))
    return Q * xp.where(signs == 0, 1.0, signs)[..., None, :]


def moment_matrix(data):
    """``M = (1/N) Σ_j y_j² x_j x_jᵀ`` over all N = n·m samples of a trial, shape (T, d, d).

    Population (Gaussian x, derived from Isserlis' theorem): ``E[y² x xᵀ] = (θᵀΣθ + σ²) Σ
    + 2 Σ θ θᵀ Σ``, averaged over the n tasks (Tripuraneni21 §3).
    """
    xp = array_module(data.theta)
    if isinstance(data, PopulationData):
        T, n, d = data.theta.shape
        St = data.sig(data.theta)  # (T, n, d)
        scale = (data.theta * St).sum(-1).mean(-1) + data.noise_var  # (T,)
        diag = xp.ones(d) if data.sigma_diag is None else data.sigma_diag
        return scale[:, None, None] * xp.diag(diag) + 2.0 * St.swapaxes(-1, -2) @ St / n
    T, n, m, d = data.X.shape
    X = data.X.reshape(T, n * m, d)
    y2 = labels(data).reshape(T, n * m) ** 2
    # tasks of different sizes: their zero rows add nothing, N counts the real samples
    N = n * m if data.counts is None else data.counts.sum(-1)[:, None, None]
    return (X * y2[..., None]).swapaxes(-1, -2) @ X / N


# ---------------------------------------------------------------- the rules


def mom_rule(data_in, data_out, B, w):
    """Method of moments (Tripuraneni21): ``B̂`` = top-k′ eigenvectors of ``M`` (pooled data).

    Returns ``(B̂ (T, d, k′) orthonormal, w, loss)`` with the loss of least-squares heads in
    col(B̂).
    """
    xp = array_module(B)
    M = moment_matrix(data_out)
    _, vecs = xp.linalg.eigh(M)  # ascending eigenvalues
    B_hat = vecs[..., ::-1][..., : B.shape[-1]]
    _, loss = heads_residual(data_out, B_hat, least_squares_heads(data_out, B_hat))
    return B_hat, w, loss


def burer_monteiro(data, B, V):
    """Objective and gradient of multi-task ERM with per-task heads, per trial
    (docs/theory.md §1.4).

    ``F(B, V) = (1/2m) Σ_i ‖y_i − X_i B v_i‖² + (1/8) ‖BᵀB − VᵀV‖_F²`` (population: the first
    term is ``Σ_i f_i(B, v_i)``), V (T, n, k′) with rows ``v_iᵀ``. With ``D = BᵀB − VᵀV`` and
    ``r_i = Σ̂_i B v_i − ĥ_i``: ``∇_B F = Σ_i r_i v_iᵀ + ½ B D``, ``∇_V F = R B − ½ V D``.
    Returns ``(F (T,), ∇_B (T, d, k′), ∇_V (T, n, k′))``.
    """
    n = V.shape[-2]
    r, loss = heads_residual(data, B, V)
    D = B.swapaxes(-1, -2) @ B - V.swapaxes(-1, -2) @ V  # (T, k′, k′)
    F = n * loss + 0.125 * (D * D).sum((-1, -2))
    return F, r.swapaxes(-1, -2) @ V + 0.5 * B @ D, r @ B - 0.5 * V @ D


MT_ERM_MAXITER = 1000


def mt_erm_solve(data, B, V, maxiter: int = MT_ERM_MAXITER):
    """Minimise :func:`burer_monteiro` by L-BFGS from (B (T, d, k′), V (T, n, k′)), one solve
    per trial.

    Each trial is its own problem with its own iteration count and stopping test, so a trial's
    estimate does not depend on the others (one L-BFGS over the summed objectives would share
    one line search and one iteration cap). The objective of a trial is vectorised over its
    tasks. Returns the minimiser ``(B̂, V̂)``; at any critical point ``B̂ᵀB̂ = V̂ᵀV̂`` (derived:
    ``Bᵀ∇_B − ∇_VᵀV = ½(BᵀB D + D VᵀV) = 0`` forces ``(BᵀB)² = (VᵀV)²``).
    """
    xp = array_module(B)
    solved = [_lbfgs_one_trial(data.trials(slice(t, t + 1)), B[t:t + 1], V[t:t + 1], maxiter)
              for t in range(B.shape[0])]
    return xp.concatenate([b for b, _ in solved]), xp.concatenate([v for _, v in solved])


def _lbfgs_one_trial(data, B, V, maxiter: int):
    """:func:`mt_erm_solve` for one trial: B (1, d, k′), V (1, n, k′)."""
    from scipy.optimize import minimize

    xp = array_module(B)
    dtype = to_numpy(B).dtype
    split = int(np.prod(B.shape))

    def unpack(x):
        x = xp.asarray(x.astype(dtype))
        return x[:split].reshape(B.shape), x[split:].reshape(V.shape)

    def fun(x):
        F, gB, gV = burer_monteiro(data, *unpack(x))
        g = np.concatenate([to_numpy(gB).ravel(), to_numpy(gV).ravel()]).astype(np.float64)
        return float(to_numpy(F)[0]), g

    x0 = np.concatenate([to_numpy(B).ravel(), to_numpy(V).ravel()]).astype(np.float64)
    sol = minimize(fun, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": maxiter, "maxfun": 2 * maxiter, "gtol": 1e-12,
                            "ftol": 1e-15, "maxcor": 20})
    return unpack(sol.x)


def mt_erm_rule(data_in, data_out, B, w):
    """Multi-task ERM (Du et al. 2021; Tripuraneni21's baseline) on each task's pooled data.

    Starts from the incoming B and its least-squares heads; returns ``(B̂ (T, d, k′), w,
    loss)`` with the loss of least-squares heads in col(B̂).
    """
    B_hat, _ = mt_erm_solve(data_out, B, least_squares_heads(data_out, B))
    _, loss = heads_residual(data_out, B_hat, least_squares_heads(data_out, B_hat))
    return B_hat, w, loss


def altmin_rule(data_in, data_out, B, w, *, beta: float):
    """AltMinGD (Thekumparampil21): heads on one batch, a gradient step on B on another, QR.

    ``ŵ_i = argmin_w L_in,i(B, w)``, ``B ← QR(B − (β/n) Σ_i ∇_B L_out,i(B, ŵ_i))``.
    Returns ``(B (T, d, k′) orthonormal, w, loss)``, loss the outer loss at (B, ŵ_i).
    """
    W = least_squares_heads(data_in, B)  # (T, n, k′)
    r, loss = heads_residual(data_out, B, W)
    return orthonormalize(B - beta * body_gradient(r, W)), w, loss


def fedrep_rule(data_in, data_out, B, w, *, beta: float):
    """FedRep (Collins21): exact least-squares heads per task, then one gradient step on B.

    ``ŵ_i = argmin_w L_i(B, w)``, ``B ← QR(B − (β/n) Σ_i ∇_B L_i(B, ŵ_i))`` with heads and
    step on the same samples (each task's pooled data; AltMinGD splits them). By the envelope
    theorem the step is gradient descent on ``(1/n) Σ_i min_w L_i(B, w)``, which depends on
    col(B) only; the QR of Collins21's linear-case algorithm keeps the step size independent
    of the scale of B.
    """
    W = least_squares_heads(data_out, B)
    r, loss = heads_residual(data_out, B, W)
    return orthonormalize(B - beta * body_gradient(r, W)), w, loss


def reptile_rule(data_in, data_out, B, w, *, alpha: float, beta: float, tau: int):
    """Reptile (Nichol et al. 2018) on the linear model.

    Each task runs τ gradient steps of rate α on (B, w) from the shared point (its pooled
    data), reaching ``(B_i, w_i)``; then ``(B, w) ← (B, w) + (β/n) Σ_i ((B_i, w_i) − (B, w))``.
    With τ = 1 this is ERM with rate αβ; the representation is learned from τ ≥ 2 on.
    """
    n = _task_count(data_out)
    B_i, w_i, _ = inner_loop(data_out, B, w, alpha, tau, "all")
    xp = array_module(B)
    u = (B @ w[..., None])[..., 0][:, None]  # (T, 1, d): the shared point, every task
    _, loss = data_out.resid_and_loss(xp.broadcast_to(u, (u.shape[0], n, u.shape[-1])))
    B_mean, w_mean = B_i.task_sum(n) / n, w_i.mean(-2)
    return B + beta * (B_mean - B), w + beta * (w_mean - w), loss


COMPARATORS: dict[str, Comparator] = {
    c.name: c
    for c in (
        Comparator("mom", mom_rule, one_shot=True,
                   description="method of moments, top-k′ eigenvectors of (1/N) Σ y² x xᵀ"),
        Comparator("mt_erm", mt_erm_rule, one_shot=True,
                   description="multi-task ERM, Burer–Monteiro with balancing, L-BFGS"),
        Comparator("altmin", altmin_rule, ("beta",), pooled=False,
                   description="AltMinGD: LS heads (inner data), GD on B (outer data), QR"),
        Comparator("fedrep", fedrep_rule, ("beta",),
                   description="FedRep: exact LS heads, one gradient step on B, QR"),
        Comparator("reptile", reptile_rule, ("alpha", "beta", "tau"),
                   description="Reptile: τ inner steps on (B, w), move toward the mean"),
    )
}
