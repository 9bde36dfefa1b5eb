"""Invariants of the methods with known analytic answers (docs/theory.md §1.2)."""

import numpy as np
import pytest

from linmeta.adapt import inner_loop, meta_gradient
from linmeta.algorithms import METHODS
from linmeta.environment import random_orthonormal
from linmeta.experiment import Config, run
from linmeta.samples import PopulationData, SampleData

RNG = np.random.default_rng(7)
T, N, D, K = 2, 5, 9, 3


def built(name, cfg):
    return METHODS[name].build(alpha=cfg.alpha, beta=cfg.beta, tau=cfg.tau)


def population(sigma_diag=None):
    B_star = random_orthonormal(RNG, (T, D, K))
    W = RNG.standard_normal((T, N, K))
    return B_star, W, PopulationData(W @ B_star.swapaxes(-1, -2), sigma_diag, 0.0)


def test_fo_anil_population_step_is_collins22_recursion():
    """B⁺ = B (I − (β/n) Σ w_i w_iᵀ) + B* (β/n) Σ w*_i w_iᵀ, w_i = (I − αBᵀB) w + α Bᵀ B* w*_i."""
    B_star, W, data = population()
    B, w = RNG.standard_normal((T, D, K)), RNG.standard_normal((T, K))
    cfg = Config(d=D, k=K, alpha=0.3, beta=0.7)
    B_new, w_new, _ = built("fo_anil", cfg)(data, data, B, w)
    for t in range(T):
        a, b = cfg.alpha, cfg.beta
        Wi = np.array([(np.eye(K) - a * B[t].T @ B[t]) @ w[t] + a * B[t].T @ B_star[t] @ W[t, i]
                       for i in range(N)])
        expect_B = B[t] @ (np.eye(K) - b / N * Wi.T @ Wi) + B_star[t] @ (b / N * W[t].T @ Wi)
        expect_w = w[t] - b / N * sum(B[t].T @ (B[t] @ Wi[i] - B_star[t] @ W[t, i])
                                      for i in range(N))
        assert np.allclose(B_new[t], expect_B, rtol=1e-13, atol=1e-13)
        assert np.allclose(w_new[t], expect_w, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", ["maml", "fo_maml", "anil", "fo_anil"])
@pytest.mark.parametrize("tau", [1, 3])
def test_alpha_zero_is_erm_in_population_mode(name, tau):
    _, _, data = population(sigma_diag=RNG.uniform(0.5, 2, D))
    B, w = RNG.standard_normal((T, D, K)), RNG.standard_normal((T, K))
    cfg = Config(d=D, k=K, alpha=0.0, beta=0.4, tau=tau)
    got = built(name, cfg)(data, data, B, w)
    erm = built("erm", cfg)(data, data, B, w)
    for a, b in zip(got, erm, strict=True):  # the same sums in another order: 1e-12, not the
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)  # 1e-14 that left 17× over round-off


@pytest.mark.parametrize("mode", ["population", "finite"])
def test_anil_never_changes_B_in_the_inner_loop(mode):
    B_star, W, data = population()
    if mode == "finite":
        X = RNG.standard_normal((T, N, 4, D))
        data = SampleData(X, 0.1 * RNG.standard_normal((T, N, 4)), data.theta)
    B, w = RNG.standard_normal((T, D, K)), RNG.standard_normal((T, K))
    B_i, w_i, steps = inner_loop(data, B, w, alpha=0.3, tau=4, adapts="head")
    assert B_i.terms == () and B_i.base is B
    assert all(np.array_equal(s.B.dense(), B[:, None]) for s in steps)
    assert not np.allclose(w_i, w[:, None])  # the head did move
    B_m, _, _ = inner_loop(data, B, w, alpha=0.3, tau=4, adapts="all")
    assert not np.allclose(B_m.dense(), B[:, None])  # while MAML's body moves


def test_first_order_and_exact_agree_to_first_order_in_alpha():
    """‖∇_exact − ∇_FO‖ = O(α): halving α halves the gap."""
    _, _, data = population()
    B, w = RNG.standard_normal((T, D, K)), RNG.standard_normal((T, K))
    gaps = []
    for alpha in (1e-5, 5e-6):
        ex = meta_gradient(data, data, B, w, alpha, 2, "all", True)
        fo = meta_gradient(data, data, B, w, alpha, 2, "all", False)
        gaps.append(np.linalg.norm(ex[0] - fo[0]))
    assert gaps[0] / gaps[1] == pytest.approx(2.0, rel=1e-2)


def test_reduced_simulation_equals_full_dimension():
    """Population mode with Σ = I runs in span(B0, B*); the result must not depend on it."""
    cfg = Config(d=30, k=3, n_tasks=10, steps=40, trials=2, tau=2, alpha=0.3, beta=0.3,
                 n_test_tasks=5)
    reduced, full = run(cfg), run(cfg.replace(reduce=False))
    for name in cfg.methods:
        a, b = reduced.runs[name], full.runs[name]
        for metric in ("dist", "loss", "w_norm", "risk_subspace"):
            assert np.allclose(a.metrics[metric], b.metrics[metric], rtol=1e-7, atol=1e-12), metric
        assert np.allclose(a.B, b.B, rtol=1e-8, atol=1e-10)
        assert (a.diverged_at == -1).all()
