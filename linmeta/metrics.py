"""Principal angles, the subspace distance, and test-time excess risk (docs/theory.md §1.5, §1.6).

All functions take NumPy arrays with a leading trial axis and compute in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RANK_RTOL = 1e-10


def orthonormal_basis(B: np.ndarray, rtol: float = RANK_RTOL):
    """Orthonormal basis of col(B) for B of shape (…, d, k).

    Returns ``(Q, rank)``: Q (…, d, k) whose columns beyond the numerical rank are zero, so
    ``Q Qᵀ`` is the projector onto col(B) even when B is rank-deficient; rank (…,).
    """
    U, s, _ = np.linalg.svd(np.asarray(B, dtype=np.float64), full_matrices=False)
    keep = s > rtol * np.maximum(s[..., :1], np.finfo(np.float64).tiny)
    return U * keep[..., None, :], keep.sum(-1)


def principal_angles(B: np.ndarray, B_star: np.ndarray):
    """Principal angles between col(B*) (k-dim) and col(B) (k'-dim), and the distance.

    ``dist(B, B*) = ‖(I − Q Qᵀ) Q*‖₂``: the sine of the largest angle, the part of col(B*)
    outside col(B). The sines are the singular values of the projection residual, which keeps
    them accurate down to ~1e-16 (``sqrt(1 − cos²)`` cannot go below ~1e-8).

    Parameters
    ----------
    B : (…, d, k'); B_star : (…, d, k).

    Returns
    -------
    dict with ``dist`` (…,), ``sines`` (…, k) descending, ``angles`` (…, k) ascending in
    radians, and ``rank`` (…,) the numerical rank of B. Angles beyond k' are π/2.
    """
    Q, rank = orthonormal_basis(B)
    Qs, _ = orthonormal_basis(B_star)
    k = Qs.shape[-1]
    P = Qs - Q @ (Q.swapaxes(-1, -2) @ Qs)  # (…, d, k)
    sines = np.linalg.svd(P, compute_uv=False)  # descending
    cos = np.linalg.svd(Q.swapaxes(-1, -2) @ Qs, compute_uv=False)  # descending, min(k', k)
    cos_full = np.zeros(sines.shape)
    cos_full[..., : min(cos.shape[-1], k)] = cos[..., :k]
    angles = np.arctan2(sines[..., ::-1], np.clip(cos_full, 0.0, 1.0))
    dist = np.clip(sines[..., 0], 0.0, 1.0)
    return {"dist": dist, "sines": sines, "angles": angles, "rank": rank}


def subspace_distance(B: np.ndarray, B_star: np.ndarray) -> np.ndarray:
    """Sine of the largest principal angle: ``‖(I − Q Qᵀ) Q*‖₂``, shape (…,)."""
    return principal_angles(B, B_star)["dist"]


def outside_norm(B: np.ndarray, B_star: np.ndarray) -> np.ndarray:
    """``‖(I − Q* Q*ᵀ) B‖₂``: the size of the learner's part outside col(B*), shape (…,).

    With a wider learner (k′ > k) the distance can vanish while these extra directions decay
    only slowly (Yüksel, Boursier and Flammarion 2024); this measures them.
    """
    Qs, _ = orthonormal_basis(B_star)
    B = np.asarray(B, dtype=np.float64)
    P = B - Qs @ (Qs.swapaxes(-1, -2) @ B)
    return np.linalg.svd(P, compute_uv=False)[..., 0]


@dataclass(frozen=True)
class HeldOutTasks:
    """Fresh tasks for test-time adaptation: X (T, nt, m, d), y (T, nt, m), theta (T, nt, d)."""

    X: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    sigma_diag: np.ndarray | None = None

    def risk(self, theta_hat: np.ndarray) -> np.ndarray:
        """Excess risk ``(θ̂ − θ*)ᵀ Σ (θ̂ − θ*)`` averaged over the test tasks, shape (T,)."""
        diff = theta_hat - self.theta
        sd = diff if self.sigma_diag is None else diff * self.sigma_diag
        return (diff * sd).sum(-1).mean(-1)


def subspace_head_risk(B: np.ndarray, tests: HeldOutTasks) -> np.ndarray:
    """Excess risk after fitting a head by least squares in col(B) from each test task's m samples.

    ``ŵ = argmin ‖X Q w − y‖`` (minimum norm), ``θ̂ = Q ŵ``; B of shape (T, d, k'). Returns (T,).
    """
    Q, _ = orthonormal_basis(B)
    Z = tests.X @ Q[:, None]  # (T, nt, m, k')
    w_hat = np.linalg.pinv(Z) @ tests.y[..., None]  # (T, nt, k', 1)
    return tests.risk((Q[:, None] @ w_hat)[..., 0])


def least_squares_risk(tests: HeldOutTasks) -> np.ndarray:
    """Excess risk of minimum-norm least squares in all d dimensions, shape (T,)."""
    theta_hat = (np.linalg.pinv(tests.X) @ tests.y[..., None])[..., 0]
    return tests.risk(theta_hat)


def heldout_mse(B: np.ndarray, X_fit, y_fit, X_eval, y_eval) -> np.ndarray:
    """Prediction error on held-out tasks whose θ* is unknown (a user's data).

    Each task's head is fitted by least squares in col(B) on its samples ``(X_fit, y_fit)``
    (T, h, m₁, d), (T, h, m₁), and scored by the mean squared error on its other samples
    ``(X_eval, y_eval)`` (T, h, m₂, d), (T, h, m₂). B of shape (T, d, k'). Returns (T,).
    """
    Q, _ = orthonormal_basis(B)
    w_hat = np.linalg.pinv(X_fit @ Q[:, None]) @ y_fit[..., None]  # (T, h, k', 1)
    pred = (X_eval @ Q[:, None] @ w_hat)[..., 0]  # (T, h, m₂)
    return ((pred - y_eval) ** 2).mean((-1, -2))
