"""The comparators of docs/theory.md §1.4: each update against its definition, computed
independently here task by task with dense matrices, and recovery of col(B*) in easy regimes."""

import numpy as np
import pytest

from linmeta.algorithms import METHODS
from linmeta.comparators import COMPARATORS, burer_monteiro, moment_matrix, mt_erm_solve
from linmeta.environment import random_orthonormal
from linmeta.experiment import Config, run
from linmeta.metrics import subspace_distance
from linmeta.results import read_metrics, save_result
from linmeta.samples import PopulationData, SampleData, pooled

from .helpers import central_difference, rel_err

T, N, M, D, K = 2, 4, 6, 7, 3


def sample_data(rng, theta, m=M, noise=0.2):
    X = rng.standard_normal((T, N, m, D))
    z = noise * rng.standard_normal((T, N, m))
    return SampleData(X, z, theta)


def ys(data):
    return np.einsum("tnmd,tnd->tnm", data.X, data.theta) + data.noise


def setup(seed):
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((T, N, D))
    B, w = rng.standard_normal((T, D, K)), rng.standard_normal((T, K))
    cfg = Config(d=D, k=K, alpha=0.2, beta=0.3, tau=2)
    return rng, theta, B, w, cfg


def built(name, cfg):
    """The comparator's update with the config's hyperparameters bound."""
    return COMPARATORS[name].build(alpha=cfg.alpha, beta=cfg.beta, tau=cfg.tau)


def dense_heads(X, y, B):
    """argmin_v ‖X B v − y‖ by numpy's lstsq (minimum norm)."""
    return np.linalg.lstsq(X @ B, y, rcond=None)[0]


def qr_positive(A):
    Q, R = np.linalg.qr(A)
    return Q * np.sign(np.diag(R))


def test_registry_holds_every_comparator():
    for name in ("mom", "mt_erm", "altmin", "fedrep", "reptile"):
        assert METHODS[name] is COMPARATORS[name]
    assert METHODS["mom"].one_shot and METHODS["mt_erm"].one_shot
    assert not any(METHODS[n].one_shot for n in ("altmin", "fedrep", "reptile"))


def test_every_registry_entry_is_a_method_and_builds_an_update():
    """One protocol for meta-learners and comparators: explicit flags, and ``build`` binds the
    hyperparameters once (the update takes no config)."""
    import inspect

    from linmeta.algorithms import Method

    for name, m in METHODS.items():
        assert isinstance(m, Method), name
        assert m.name == name
        for flag in ("one_shot", "pooled", "chunkable"):
            assert isinstance(getattr(m, flag), bool), (name, flag)
        step = m.build(alpha=0.1, beta=0.2, tau=2)
        assert list(inspect.signature(step).parameters)[:4] == ["data_in", "data_out", "B", "w"]
    assert [n for n, m in METHODS.items() if m.chunkable] == ["maml", "fo_maml", "anil",
                                                               "fo_anil", "erm"]


# ---------------------------------------------------------------- single updates


def test_altmin_step_is_its_definition():
    """Heads by least squares on inner data, gradient of the outer loss on B, then QR."""
    rng, theta, B, w, cfg = setup(1)
    d_in, d_out = sample_data(rng, theta), sample_data(rng, theta, m=5)
    y_in, y_out = ys(d_in), ys(d_out)
    B_new, w_new, loss = built("altmin", cfg)(d_in, d_out, B, w)
    for t in range(T):
        grad, losses = np.zeros((D, K)), []
        for i in range(N):
            v = dense_heads(d_in.X[t, i], y_in[t, i], B[t])
            res = d_out.X[t, i] @ B[t] @ v - y_out[t, i]
            grad += np.outer(d_out.X[t, i].T @ res / 5, v) / N
            losses.append(0.5 * np.mean(res**2))
        assert np.allclose(B_new[t], qr_positive(B[t] - cfg.beta * grad), atol=1e-12)
        assert loss[t] == pytest.approx(np.mean(losses), rel=1e-12)
    assert np.array_equal(w_new, w)


def test_fedrep_step_is_its_definition():
    """Exact least-squares heads and the gradient step on B on the same (pooled) samples."""
    rng, theta, B, w, cfg = setup(2)
    data = pooled(sample_data(rng, theta), sample_data(rng, theta))
    y = ys(data)
    B_new, _, loss = built("fedrep", cfg)(None, data, B, w)
    m = data.m
    for t in range(T):
        grad, losses = np.zeros((D, K)), []
        for i in range(N):
            v = dense_heads(data.X[t, i], y[t, i], B[t])
            res = data.X[t, i] @ B[t] @ v - y[t, i]
            grad += np.outer(data.X[t, i].T @ res / m, v) / N
            losses.append(0.5 * np.mean(res**2))
        assert np.allclose(B_new[t], qr_positive(B[t] - cfg.beta * grad), atol=1e-12)
        assert loss[t] == pytest.approx(np.mean(losses), rel=1e-12)


def test_fedrep_step_in_population_mode():
    """Population heads (BᵀΣB)⁻¹BᵀΣθ*; gradient Σ(B ŵ − θ*) ŵᵀ averaged over tasks."""
    rng, theta, B, w, cfg = setup(3)
    sd = rng.uniform(0.5, 2.0, D)
    data = PopulationData(theta, sd, 0.0)
    B_new, _, _ = built("fedrep", cfg)(data, data, B, w)
    S = np.diag(sd)
    for t in range(T):
        grad = np.zeros((D, K))
        for i in range(N):
            v = np.linalg.solve(B[t].T @ S @ B[t], B[t].T @ S @ theta[t, i])
            grad += np.outer(S @ (B[t] @ v - theta[t, i]), v) / N
        assert np.allclose(B_new[t], qr_positive(B[t] - cfg.beta * grad), atol=1e-12)


@pytest.mark.parametrize("mode", ["population", "finite"])
def test_reptile_step_is_its_definition(mode):
    """τ plain gradient steps on (B, w) per task, then move β of the way to the tasks' mean."""
    rng, theta, B, w, cfg = setup(4)
    if mode == "population":
        data = PopulationData(theta, None, 0.0)
        stats = [[(np.eye(D), theta[t, i]) for i in range(N)] for t in range(T)]
    else:
        data = sample_data(rng, theta, m=9)
        y = ys(data)
        stats = [[(data.X[t, i].T @ data.X[t, i] / 9, data.X[t, i].T @ y[t, i] / 9)
                  for i in range(N)] for t in range(T)]
    B_new, w_new, _ = built("reptile", cfg)(None, data, B, w)
    for t in range(T):
        Bs, ws = [], []
        for S, h in stats[t]:
            Bi, wi = B[t].copy(), w[t].copy()
            for _ in range(cfg.tau):
                e = S @ Bi @ wi - h
                Bi, wi = Bi - cfg.alpha * np.outer(e, wi), wi - cfg.alpha * Bi.T @ e
            Bs.append(Bi)
            ws.append(wi)
        assert np.allclose(B_new[t], B[t] + cfg.beta * (np.mean(Bs, 0) - B[t]), atol=1e-12)
        assert np.allclose(w_new[t], w[t] + cfg.beta * (np.mean(ws, 0) - w[t]), atol=1e-12)


def test_mom_estimate_is_top_eigenvectors_of_the_moment_matrix():
    rng, theta, B, w, cfg = setup(5)
    data = pooled(sample_data(rng, theta), sample_data(rng, theta))
    y = ys(data)
    B_hat, _, _ = built("mom", cfg)(None, data, B, w)
    for t in range(T):
        Mt = np.zeros((D, D))
        for i in range(N):
            for j in range(data.m):
                x = data.X[t, i, j]
                Mt += y[t, i, j] ** 2 * np.outer(x, x)
        Mt /= N * data.m
        vals, vecs = np.linalg.eigh(Mt)
        top = vecs[:, np.argsort(vals)[::-1][:K]]
        assert np.allclose(B_hat[t].T @ B_hat[t], np.eye(K), atol=1e-12)
        assert np.allclose(B_hat[t] @ B_hat[t].T, top @ top.T, atol=1e-10)


def test_population_moment_matrix_matches_monte_carlo():
    """E[y² x xᵀ] = (θᵀΣθ + σ²) Σ + 2 Σθθᵀ Σ (derived): check against 4·10⁵ samples."""
    rng = np.random.default_rng(6)
    d, n, m = 4, 2, 200_000
    sd, sigma = rng.uniform(0.5, 1.5, d), 0.7
    theta = rng.standard_normal((1, n, d))
    X = rng.standard_normal((1, n, m, d)) * np.sqrt(sd)
    mc = moment_matrix(SampleData(X, sigma * rng.standard_normal((1, n, m)), theta))
    exact = moment_matrix(PopulationData(theta, sd, sigma**2))
    assert rel_err(mc, exact) < 0.02
    assert rel_err(exact[0], np.diag(sd)) > 0.5  # the θ-dependent part matters


def test_burer_monteiro_gradient_matches_central_difference():
    rng, theta, B, _, _ = setup(7)
    data = sample_data(rng, theta)
    y = ys(data)
    V = rng.standard_normal((T, N, K))

    def objective(Bt, Vt, t):
        fit = sum(np.sum((y[t, i] - data.X[t, i] @ Bt @ Vt[i]) ** 2) for i in range(N)) / (2 * M)
        return fit + np.sum((Bt.T @ Bt - Vt.T @ Vt) ** 2) / 8

    F, gB, gV = burer_monteiro(data, B, V)
    for t in range(T):
        assert F[t] == pytest.approx(objective(B[t], V[t], t), rel=1e-12)
        assert rel_err(gB[t], central_difference(lambda x, t=t: objective(x, V[t], t), B[t])) < 1e-7
        assert rel_err(gV[t], central_difference(lambda x, t=t: objective(B[t], x, t), V[t])) < 1e-7


def test_mt_erm_solution_is_a_balanced_global_minimum_without_noise():
    """Noise-free, m ≥ d: min F = 0 exactly when B v_i = θ*_i, so col(B̂) = col(Θ*), and every
    critical point is balanced, B̂ᵀB̂ = V̂ᵀV̂."""
    rng = np.random.default_rng(8)
    B_star = random_orthonormal(rng, (T, D, K))
    theta = rng.standard_normal((T, N, K)) @ B_star.swapaxes(-1, -2)
    data = sample_data(rng, theta, m=D + 3, noise=0.0)
    B0 = rng.standard_normal((T, D, K))
    V0 = rng.standard_normal((T, N, K))
    B_hat, V_hat = mt_erm_solve(data, B0, V0)
    F0, F = burer_monteiro(data, B0, V0)[0], burer_monteiro(data, B_hat, V_hat)[0]
    assert (F < 1e-12 * F0).all()
    BtB, VtV = B_hat.swapaxes(-1, -2) @ B_hat, V_hat.swapaxes(-1, -2) @ V_hat
    assert rel_err(BtB, VtV) < 1e-5
    assert (subspace_distance(B_hat, B_star) < 1e-6).all()


def test_mt_erm_trials_are_solved_independently():
    """A trial's estimate is the same whether it is solved alone or beside other trials (one
    L-BFGS per trial, not one over the summed objectives, which would differ at O(1)). To
    round-off, not bit for bit: a BLAS may round a batch of matrices differently from one
    (MKL by alignment); a 1e-15 change of the start moves the estimate by ~5e-15 here."""
    rng = np.random.default_rng(9)
    theta = rng.standard_normal((T, N, D))
    data = sample_data(rng, theta, m=3, noise=0.3)  # m < d: a hard, slow problem per trial
    B0, V0 = rng.standard_normal((T, D, K)), rng.standard_normal((T, N, K))
    B_all, V_all = mt_erm_solve(data, B0, V0, maxiter=40)
    for t in range(T):
        one = slice(t, t + 1)
        B_one, V_one = mt_erm_solve(data.trials(one), B0[one], V0[one], maxiter=40)
        np.testing.assert_allclose(B_one, B_all[one], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(V_one, V_all[one], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- recovery


def final_dist(cfg, name):
    res = run(cfg.replace(methods=(name,)))
    return res.runs[name].metrics["dist"][:, -1]


EASY = Config(d=10, k=2, n_tasks=100, m_in=20, m_out=20, mode="finite", sigma=0.05,
              alpha=0.5, beta=0.5, steps=60, trials=3, n_test_tasks=0, tau=1)


@pytest.mark.parametrize("name, changes", [
    ("mom", dict(n_tasks=2000, m_in=25, m_out=25)),
    ("mt_erm", {}),
    ("altmin", {}),
    ("fedrep", {}),
    ("reptile", dict(tau=3, alpha=0.4, beta=1.0, steps=150, m_in=40, m_out=40)),
])
def test_each_comparator_recovers_the_subspace_from_samples(name, changes):
    dist = final_dist(EASY.replace(**changes), name)
    assert (dist < 0.1).all(), dist


@pytest.mark.parametrize("name, changes, tol", [
    ("mom", {}, 1e-12),
    ("mt_erm", {}, 1e-6),
    ("altmin", {}, 1e-10),
    ("fedrep", {}, 1e-10),
    ("reptile", dict(tau=2), 1e-6),
])
def test_each_comparator_is_exact_in_population_mode(name, changes, tol):
    cfg = Config(d=20, k=3, n_tasks=20, steps=150, trials=3, n_test_tasks=0, **changes)
    assert (final_dist(cfg, name) < tol).all()


def test_erm_stays_far_in_population_mode():
    cfg = Config(d=20, k=3, n_tasks=20, steps=150, trials=3, n_test_tasks=0)
    assert (final_dist(cfg, "erm") > 0.9).all()


def test_reptile_with_one_inner_step_is_erm_at_rate_alpha_beta():
    """τ = 1: (B_i − B) = −α ∇L_i, so Reptile is ERM with outer rate αβ — and fails like it."""
    cfg = Config(d=12, k=2, n_tasks=6, steps=30, trials=2, n_test_tasks=0, mode="finite",
                 tau=1, alpha=0.5, beta=0.6, init="random", w0_scale=1.0)
    rep = run(cfg.replace(methods=("reptile",))).runs["reptile"]
    erm = run(cfg.replace(methods=("erm",), alpha=1.0, beta=0.3)).runs["erm"]
    assert np.allclose(rep.B, erm.B, atol=1e-12)
    assert (rep.metrics["dist"][:, -1] > 0.9).all()


# ---------------------------------------------------------------- simulator integration


def test_reduced_simulation_equals_full_dimension_for_comparators():
    cfg = Config(d=25, k=2, n_tasks=8, steps=20, trials=2, tau=2, alpha=0.4, beta=0.4,
                 n_test_tasks=5, methods=("mom", "mt_erm", "altmin", "fedrep", "reptile"))
    reduced, full = run(cfg), run(cfg.replace(reduce=False))
    for name in cfg.methods:
        a, b = reduced.runs[name], full.runs[name]
        assert np.allclose(a.metrics["dist"], b.metrics["dist"], rtol=1e-5, atol=1e-9), name
        assert np.allclose(a.metrics["loss"], b.metrics["loss"], rtol=1e-6, atol=1e-12), name


def test_one_shot_result_has_one_column_at_the_last_step(tmp_path):
    cfg = Config(d=8, k=2, n_tasks=30, steps=17, trials=2, mode="finite", n_test_tasks=4,
                 methods=("mom", "altmin"))
    result = run(cfg)
    mom = result.runs["mom"]
    assert mom.steps.tolist() == [17]
    assert mom.metrics["dist"].shape == (2, 1)
    assert np.allclose(mom.metrics["dist"][:, 0], subspace_distance(mom.B, result.problem.B_star))
    assert result.runs["altmin"].steps.tolist() == list(range(18))
    metrics = read_metrics(save_result(result, tmp_path / "r"))
    steps, values = metrics[("mom", "risk_subspace")]
    assert steps.tolist() == [17] and np.isfinite(values).all()


def test_one_shot_estimators_do_not_depend_on_steps():
    cfg = Config(d=8, k=2, n_tasks=30, trials=2, mode="finite", n_test_tasks=0,
                 methods=("mom",))
    a = run(cfg.replace(steps=3)).runs["mom"].B
    b = run(cfg.replace(steps=40)).runs["mom"].B
    assert np.array_equal(a, b)
    assert subspace_distance(a, random_orthonormal(np.random.default_rng(0), a.shape)).min() > 0
