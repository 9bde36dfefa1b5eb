"""The multi-task linear regression environment of Collins22 (docs/theory.md §1.1): drawing it.

Ground truth ``B*`` (d, k) with orthonormal columns; task i has head ``w*_i`` and parameter
``θ*_i = B* w*_i``; data ``x ~ N(0, Σ)``, ``y = <θ*_i, x> + z``, ``z ~ N(0, σ²)``. The drawn
tasks' data become the statistics of :mod:`linmeta.samples`.

Randomness comes from separate ``numpy.random.Generator`` streams (problem, heads, inner data,
outer data, test tasks, meta-batches) spawned from one ``SeedSequence`` (:func:`streams`,
:func:`generator`), so every method of a run sees the same tasks and samples. Batched draws put
the task axis first, so drawing the tasks of a round in chunks gives the same numbers as
drawing them at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

STREAMS = ("problem", "heads", "inner_x", "inner_noise", "outer_x", "outer_noise", "test",
           "batches")


def streams(seed: int) -> dict:
    """Independent seed sequences, one per name of :data:`STREAMS`, spawned from ``seed``."""
    return dict(zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)), strict=True))


def generator(seq: np.random.SeedSequence) -> np.random.Generator:
    """The random generator of one stream (PCG64)."""
    return np.random.Generator(np.random.PCG64(seq))


@dataclass(frozen=True)
class Problem:
    """The fixed part of an environment, NumPy arrays with a leading trial axis.

    B_star : (T, d, k) orthonormal; B0 : (T, d, k'); w0 : (T, k');
    W_pool : (T, n, k) fixed task heads, or None for fresh heads every round;
    sigma_diag : (d,) diagonal of Σ, or None for Σ = I.
    """

    B_star: np.ndarray
    B0: np.ndarray
    w0: np.ndarray
    W_pool: np.ndarray | None = None
    sigma_diag: np.ndarray | None = None


def random_orthonormal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Haar-random matrices with orthonormal columns, shape (…, d, k)."""
    q, r = np.linalg.qr(rng.standard_normal(shape))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def head_distribution(k: int, mu: float, kappa: float | None, mean: float):
    """Mean (k,) and standard deviations (k,) of the task heads ``w*``.

    Collins22's heads are ``N(0, diag(1, …, 1, μ²))``; with ``kappa`` the variances instead run
    geometrically from 1 to 1/κ, so the condition number of ``Ψ* = E[w* w*ᵀ]`` is κ (zero mean).
    ``mean`` is the norm of an optional mean along ``1_k/√k``.
    """
    if kappa is not None:
        std = np.sqrt(np.geomspace(1.0, 1.0 / kappa, k)) if k > 1 else np.ones(1)
    else:
        std = np.ones(k)
        std[-1] = mu
    return np.full(k, mean / np.sqrt(k)), std


def sigma_diagonal(d: int, cond: float) -> np.ndarray | None:
    """Diagonal of Σ with eigenvalues geometric from 1 down to 1/cond; None when cond = 1."""
    if cond == 1.0:
        return None
    return np.geomspace(1.0, 1.0 / cond, d)


def make_problem(rng: np.random.Generator, *, trials: int, d: int, k: int,
                 k_learner: int | None = None, init: str = "collins", alpha: float = 0.5,
                 w0_scale: float = 0.0, heads: HeadLaw | None = None, pool: int = 0,
                 x_cov_cond: float = 1.0) -> Problem:
    """Draw B* (T, d, k), the initialisation and, if ``pool`` > 0, that many fixed task heads
    from ``heads`` (default :class:`HeadLaw` ``(k)``), in this order from ``rng``.

    Initialisation ``"collins"`` (Collins22): ``w0 = 0`` and ``B0`` orthonormal scaled so that
    ``α B0ᵀ B0 = I`` (unscaled when α = 0); ``"random"``: Gaussian ``B0`` with entries of
    variance 1/d and Gaussian ``w0`` with variance ``w0_scale²/k'`` (k′ = ``k_learner`` or k).
    ``x_cov_cond``: the condition number of a diagonal input covariance Σ (1: Σ = I).
    """
    kl = k_learner or k
    B_star = random_orthonormal(rng, (trials, d, k))
    B0, w0 = draw_init(rng, trials, d, kl, init, alpha, w0_scale)
    W_pool = (heads or HeadLaw(k)).draw(rng, pool, trials) if pool else None
    return Problem(B_star, B0, w0, W_pool, sigma_diagonal(d, x_cov_cond))


def draw_init(rng: np.random.Generator, T: int, d: int, kl: int, init: str, alpha: float,
              w0_scale: float):
    """The initial ``(B0 (T, d, k′), w0 (T, k′))`` (see :func:`make_problem`)."""
    if init == "collins":
        scale = 1.0 / np.sqrt(alpha) if alpha > 0 else 1.0
        B0 = scale * random_orthonormal(rng, (T, d, kl))
    else:
        B0 = rng.standard_normal((T, d, kl)) / np.sqrt(d)
    w0 = w0_scale * rng.standard_normal((T, kl)) / np.sqrt(kl)
    return B0, w0


@dataclass(frozen=True)
class HeadLaw:
    """The distribution of the task heads ``w*`` (see :func:`head_distribution`): width k,
    diversity μ or condition number κ, and the norm of their mean."""

    k: int
    mu: float = 1.0
    kappa: float | None = None
    mean: float = 0.0

    def draw(self, rng: np.random.Generator, n: int, T: int) -> np.ndarray:
        """Task heads, shape (T, n, k), drawn task-major."""
        scale, shift = _head_affine(self.k, self.mu, self.kappa, self.mean)
        W = rng.standard_normal((n, T, self.k))
        if scale is not None:
            W *= scale
        if shift is not None:
            W += shift
        return W.swapaxes(0, 1)


@functools.lru_cache(maxsize=64)
def _head_affine(k: int, mu: float, kappa: float | None, mean: float):
    """``(std, mean)`` of the heads, each None where it is trivial (all ones, all zeros)."""
    m, std = head_distribution(k, mu, kappa, mean)
    return (None if (std == 1).all() else std), (m if m.any() else None)


def draw_inputs(rng_x, rng_noise, n: int, T: int, m: int, d: int, sigma_diag, noise_std):
    """Inputs ``X`` (T, n, m, d) with covariance diag(sigma_diag) and noise ``σ z`` (T, n, m).

    X and z come from separate streams, task-major, so that drawing n tasks in chunks gives
    the same numbers as drawing them at once.
    """
    X = rng_x.standard_normal((n, T, m, d))
    if sigma_diag is not None:
        X *= np.sqrt(sigma_diag)
    z = rng_noise.standard_normal((n, T, m))
    z *= noise_std
    return np.moveaxis(X, 0, 1), np.moveaxis(z, 0, 1)
