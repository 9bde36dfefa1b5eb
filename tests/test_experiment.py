"""Runs: the claim-1 reproduction, reproducibility, divergence handling, the options."""

import platform
import sys

import numpy as np
import pytest

from linmeta.backend import tune_allocator
from linmeta.experiment import Config, ConfigError, draw_problem, run
from linmeta.results import read_metrics, save_result

META = ("maml", "fo_maml", "anil", "fo_anil")


def test_claim1_meta_methods_recover_the_subspace_and_erm_does_not():
    """docs/theory.md §1.3 claim 1: d=20, k=3, n=20, α=β=0.5, σ=0, fresh N(0, I) heads,
    Collins init."""
    cfg = Config()  # the defaults are this setting
    assert (cfg.d, cfg.k, cfg.n_tasks, cfg.alpha, cfg.beta, cfg.trials) == (20, 3, 20, .5, .5, 5)
    result = run(cfg.replace(n_test_tasks=0))
    for name in META:
        dist = result.runs[name].metrics["dist"]
        assert dist[:, 100].mean() < 1e-8, name
        assert dist[:, 50].mean() < 1e-3, name  # exponentially fast, not only eventually
    assert result.runs["erm"].metrics["dist"][:, 100].mean() > 0.9


def test_same_seed_gives_identical_metrics(tmp_path):
    cfg = Config(steps=15, trials=3, mode="finite", d=12, n_tasks=8, alpha=0.1, beta=0.2,
                 sigma=0.1)
    a, b = run(cfg), run(cfg)
    for name in cfg.methods:
        for metric, values in a.runs[name].metrics.items():
            assert np.array_equal(values, b.runs[name].metrics[metric], equal_nan=True)
    save_result(a, tmp_path / "a")
    save_result(b, tmp_path / "b")
    assert (tmp_path / "a/metrics.csv").read_bytes() == (tmp_path / "b/metrics.csv").read_bytes()
    c = run(cfg.replace(seed=1))
    assert not np.array_equal(a.runs["maml"].metrics["dist"], c.runs["maml"].metrics["dist"])


def test_metrics_csv_round_trips_exactly(tmp_path):
    cfg = Config(steps=5, trials=2, n_test_tasks=4)
    result = run(cfg)
    save_result(result, tmp_path)
    loaded = read_metrics(tmp_path)
    steps, values = loaded[("anil", "dist")]
    assert np.array_equal(steps, np.arange(6))
    assert np.array_equal(values, result.runs["anil"].metrics["dist"])


def test_a_diverging_trial_stops_and_the_others_go_on(tmp_path):
    cfg = Config(d=10, k=2, n_tasks=6, steps=30, trials=3, methods=("fo_anil",), n_test_tasks=3)
    problem = draw_problem(cfg, np.random.default_rng(0))
    B0 = problem.B0.copy()
    B0[1] *= 10.0  # α BᵀB = 100 I in trial 1: the inner step overshoots and blows up
    problem = type(problem)(problem.B_star, B0, problem.w0, None, None)
    res = run(cfg, problem=problem).runs["fo_anil"]
    assert res.diverged_at[1] > 0
    assert res.diverged_at[0] == -1 and res.diverged_at[2] == -1
    dist = res.metrics["dist"]
    assert np.isfinite(dist[[0, 2]]).all()
    assert np.isnan(dist[1, res.diverged_at[1]:]).all()
    assert np.isfinite(dist[1, : res.diverged_at[1]]).all()
    assert dist[[0, 2], -1].max() < 0.05  # the others kept learning
    save_result(run(cfg, problem=problem), tmp_path)
    text = (tmp_path / "metrics.csv").read_text()
    assert f"fo_anil,1,{res.diverged_at[1]},diverged_at," in text


@pytest.mark.parametrize(
    "changes",
    [
        dict(mode="finite", sigma=0.1, m_in=15, m_out=15),
        dict(x_cov_cond=4.0),
        dict(task_pool=True),
        dict(dtype="float32"),
        dict(head_kappa=3.0, head_mean=0.5),
        dict(init="random", w0_scale=0.5, alpha=0.2, beta=0.2),
        dict(k_learner=5),
    ],
)
def test_options_run_and_meta_learning_still_recovers(changes):
    cfg = Config(d=10, k=2, n_tasks=25, steps=150, trials=2, methods=("fo_anil", "anil"),
                 n_test_tasks=5, log_every=10, **changes)
    result = run(cfg)
    for name in cfg.methods:
        dist = result.runs[name].metrics["dist"]
        assert dist.shape == (2, 16)
        assert (result.runs[name].diverged_at == -1).all()
        assert dist[:, -1].max() < 0.3, (name, changes, dist[:, -1])
        assert dist[:, -1].mean() < dist[:, 0].mean()


def test_finite_samples_reach_a_floor_set_by_the_noise():
    """docs/theory.md §1.3 claim 3 (shortened): n=100, m=10, σ=0.1, α=0.1, β=0.2 ends near ~3e-2."""
    cfg = Config(mode="finite", n_tasks=100, m_in=10, m_out=10, sigma=0.1, alpha=0.1, beta=0.2,
                 steps=400, trials=2, methods=("fo_anil",), n_test_tasks=0, log_every=50)
    dist = run(cfg).runs["fo_anil"].metrics["dist"]
    assert 3e-3 < dist[:, -1].mean() < 0.1


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(k=30), "k must be <= d"),
        (dict(n_tasks=0), "n_tasks must be a positive"),
        (dict(d=-3), "d must be a positive"),
        (dict(methods=("maml", "nope")), "unknown method 'nope'"),
        (dict(beta=-0.1), "beta must be"),
        (dict(alpha=float("nan")), "alpha must be"),
        (dict(mode="exact"), "unknown mode"),
        (dict(dtype="float16"), "unknown dtype"),
    ],
)
def test_bad_config_is_rejected_with_a_message(bad, message):
    with pytest.raises(ConfigError, match=message):
        Config(**bad)


def test_config_from_dict_rejects_unknown_and_mistyped_fields():
    with pytest.raises(ConfigError, match="unknown config field"):
        Config.from_dict({"dd": 3})
    with pytest.raises(ConfigError, match="d must be of type int"):
        Config.from_dict({"d": "twenty"})
    assert Config.from_dict({"methods": "maml, erm", "alpha": 1}).methods == ("maml", "erm")


def test_tune_allocator_applies_on_glibc_and_leaves_results_unchanged():
    """The CLI's malloc setting is applied where glibc is, and a run gives the same numbers."""
    cfg = Config(d=12, k=2, n_tasks=8, steps=5, trials=2, n_test_tasks=3)
    before = run(cfg).runs["maml"].metrics["dist"]
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert tune_allocator() is glibc
    assert tune_allocator() is glibc  # idempotent
    assert np.array_equal(run(cfg).runs["maml"].metrics["dist"], before)


def test_the_environment_is_drawn_from_explicit_arguments():
    """environment.make_problem takes the environment's numbers, not a Config; draw_problem is the
    one place that maps a Config onto them (the pool of heads only for fixed tasks)."""
    from linmeta.environment import HeadLaw, make_problem

    cfg = Config(d=9, k=2, k_learner=3, n_tasks=4, trials=2, task_pool=True, head_kappa=4.0,
                 init="random", w0_scale=0.5, x_cov_cond=3.0)
    a = draw_problem(cfg, np.random.default_rng(7))
    b = make_problem(np.random.default_rng(7), trials=2, d=9, k=2, k_learner=3, init="random",
                     alpha=cfg.alpha, w0_scale=0.5, heads=HeadLaw(2, kappa=4.0), pool=4,
                     x_cov_cond=3.0)
    for name in ("B_star", "B0", "w0", "W_pool", "sigma_diag"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.W_pool.shape == (2, 4, 2) and a.B0.shape == (2, 9, 3)
    assert draw_problem(cfg.replace(task_pool=False), np.random.default_rng(7)).W_pool is None
    # without the heads (tasks given as data) B* and the initialisation are the same numbers
    c = draw_problem(cfg, np.random.default_rng(7), heads=False)
    assert c.W_pool is None
    for name in ("B_star", "B0", "w0", "sigma_diag"):
        assert np.array_equal(getattr(a, name), getattr(c, name)), name
