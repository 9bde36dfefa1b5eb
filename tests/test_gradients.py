"""Each method's outer gradient against float64 central differences of its meta-objective.

The reference below is written independently of linmeta.losses/adapt: it forms every task's
Σ̂ and ĥ as dense matrices and runs the inner loop task by task.
"""

import zlib

import numpy as np
import pytest

from linmeta.adapt import meta_gradient
from linmeta.algorithms import METHODS, MetaLearner
from linmeta.losses import TaskMatrix, hvp, hvp_task_sum
from linmeta.samples import HeadData, PopulationData, SampleData, pooled

from .helpers import central_difference, rel_err

D, K, N = 6, 2, 3


def make_data(mode, rng, theta, sigma_diag=None):
    if mode == "population":
        sd = sigma_diag
        S = np.diag(np.ones(D) if sd is None else sd)
        stats = [(S, S @ theta[0, i]) for i in range(N)]
        return PopulationData(theta, sd, 0.01), stats
    m = 4
    X = rng.standard_normal((1, N, m, D))
    noise = 0.1 * rng.standard_normal((1, N, m))
    y = (X @ theta[..., None])[..., 0] + noise
    stats = [(X[0, i].T @ X[0, i] / m, X[0, i].T @ y[0, i] / m) for i in range(N)]
    return SampleData(X, noise, theta), stats


def dense_loss(S, h, B, w):
    u = B @ w
    return 0.5 * u @ S @ u - h @ u


def dense_grad(S, h, B, w):
    e = S @ B @ w - h
    return np.outer(e, w), B.T @ e


def adapt(S, h, B, w, alpha, tau, adapts):
    for _ in range(tau):
        gB, gw = dense_grad(S, h, B, w)
        if adapts == "all":
            B = B - alpha * gB
        w = w - alpha * gw
    return B, w


def meta_objective(method, stats_in, stats_out, alpha, tau, B0=None, w0=None):
    """F(B, w) = mean_i L_out(Adapt_i(B, w)); for first-order methods the displacement
    Adapt_i(B0, w0) − (B0, w0) is held fixed (a stop-gradient), so F's gradient at (B0, w0)
    is the gradient at the adapted point."""

    def f(B, w):
        total = 0.0
        for (Si, hi), (So, ho) in zip(stats_in, stats_out, strict=True):
            if method.adapts == "none":
                total += dense_loss(So, ho, B, w)
                continue
            if method.exact:
                Ba, wa = adapt(Si, hi, B, w, alpha, tau, method.adapts)
            else:
                Bf, wf = adapt(Si, hi, B0, w0, alpha, tau, method.adapts)
                Ba, wa = B + (Bf - B0), w + (wf - w0)
            total += dense_loss(So, ho, Ba, wa)
        return total / len(stats_in)

    return f


@pytest.mark.parametrize("name", [n for n, m in METHODS.items() if isinstance(m, MetaLearner)])
@pytest.mark.parametrize("mode", ["population", "finite"])
@pytest.mark.parametrize("tau", [1, 2, 3])
def test_outer_gradient_matches_central_difference(name, mode, tau):
    method = METHODS[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}-{mode}-{tau}".encode()))  # fixed per case
    sigma_diag = rng.uniform(0.5, 2.0, D) if mode == "population" else None
    theta = rng.standard_normal((1, N, D))
    data_in, stats_in = make_data(mode, rng, theta, sigma_diag)
    data_out, stats_out = make_data(mode, rng, theta, sigma_diag)
    if method.pooled and mode == "finite":
        data_out = pooled(data_in, data_out)
        m1, m2 = data_in.m, data_out.m - data_in.m
        stats_out = [
            ((m1 * Si + m2 * So) / (m1 + m2), (m1 * hi + m2 * ho) / (m1 + m2))
            for (Si, hi), (So, ho) in zip(stats_in, stats_out, strict=True)
        ]
    B = rng.standard_normal((D, K))
    w = rng.standard_normal(K)  # w != 0
    alpha = 0.1  # inner steps that stay bounded (at 0.15 some draws blow up to 1e15)
    gB, gw, _ = method.gradient(data_in, data_out, B[None], w[None], alpha, tau)
    f = meta_objective(method, stats_in, stats_out, alpha, tau, B, w)
    fdB = central_difference(lambda x: f(x, w), B)
    fdw = central_difference(lambda x: f(B, x), w)
    assert rel_err(gB[0], fdB) <= 1e-6
    assert rel_err(gw[0], fdw) <= 1e-6


@pytest.mark.parametrize("mode", ["population", "finite"])
def test_outer_loss_is_the_mean_task_loss(mode):
    rng = np.random.default_rng(3)
    data, _ = make_data(mode, rng, rng.standard_normal((1, N, D)))
    B, w = rng.standard_normal((D, K)), rng.standard_normal(K)
    u = np.broadcast_to(B @ w, (1, N, D))
    _, loss = data.resid_and_loss(u)
    if mode == "population":
        expected = np.mean([0.5 * np.sum((B @ w - data.theta[0, i]) ** 2) for i in range(N)])
        expected += 0.005
    else:
        y = (data.X @ data.theta[..., None])[..., 0] + data.noise
        expected = np.mean([np.mean((data.X[0, i] @ B @ w - y[0, i]) ** 2) / 2 for i in range(N)])
    assert loss[0] == pytest.approx(expected, rel=1e-12)


def test_task_mean_keeps_erm_loss_and_gradient():
    """ERM in population mode uses the mean task; its loss keeps the spread of the tasks, and
    its gradient equals the mean of the per-task gradients, for an anisotropic Σ."""
    rng = np.random.default_rng(11)
    sd = rng.uniform(0.5, 2.0, D)
    data = PopulationData(rng.standard_normal((2, 7, D)), sd, 0.01)
    mean = data.task_mean()
    u = rng.standard_normal((2, 1, D))
    _, loss = mean.resid_and_loss(u)
    _, expected = data.resid_and_loss(np.broadcast_to(u, data.theta.shape))
    assert np.allclose(loss, expected, rtol=1e-13)
    B, w = rng.standard_normal((2, D, K)), rng.standard_normal((2, K))
    gB, gw, _ = meta_gradient(data, data, B, w, 0.1, 0, "none", False)  # every task
    mB, mw, mloss = METHODS["erm"].gradient(data, data, B, w, 0.1, 1)  # the mean task
    assert np.allclose(gB, mB, rtol=1e-12) and np.allclose(gw, mw, rtol=1e-12)
    assert mB.shape == gB.shape and mloss.shape == (2,)


@pytest.mark.parametrize("mode", ["population", "finite"])
@pytest.mark.parametrize("body", [True, False])
def test_hvp_task_sum_is_the_sum_of_per_task_hvps(body, mode):
    """The summed HVP at a shared point equals the task sum of the per-task HVPs."""
    rng = np.random.default_rng(5 + body)
    T, n = 2, 6
    theta = rng.standard_normal((T, n, D))
    if mode == "population":  # one Σ for all tasks
        data = PopulationData(theta, rng.uniform(0.5, 2.0, D))
    else:  # each task its own Σ̂
        data = SampleData(rng.standard_normal((T, n, 4, D)), rng.standard_normal((T, n, 4)), theta)
    B, w = rng.standard_normal((T, D, K)), rng.standard_normal((T, 1, K))
    e = data.resid(np.broadcast_to((B @ w.swapaxes(-1, -2)).swapaxes(-1, -2), (T, n, D)))
    per_task = (rng.standard_normal((T, n, D)), rng.standard_normal((T, n, K)))
    V = TaskMatrix(None, (per_task, (rng.standard_normal((T, n, D)), w)))  # one b shared
    V = V if body else None
    v = rng.standard_normal((T, n, K))
    (b1, b2), hw = hvp(data, TaskMatrix(B), w, e, V, v)
    H_B = TaskMatrix(None, (b1, b2)).task_sum(n)
    sB, sw = hvp_task_sum(data, B, w, e, V, v)
    assert np.allclose(sB, H_B, rtol=1e-12, atol=1e-12)
    assert np.allclose(sw, hw.sum(-2), rtol=1e-12, atol=1e-12)


def test_head_data_is_population_data_of_its_thetas():
    """HeadData forms θ*_i = B* w*_i on first use, and its mean task (from the mean head)
    equals the mean task of the formed θ*: same gradient, same loss."""
    rng = np.random.default_rng(13)
    W, Bs = rng.standard_normal((2, 9, K)), rng.standard_normal((2, D, K))
    sd = rng.uniform(0.5, 2.0, D)
    heads = HeadData(W, Bs, sd, 0.01)
    dense = PopulationData(np.einsum("tdk,tnk->tnd", Bs, W), sd, 0.01)
    assert np.allclose(heads.theta, dense.theta, rtol=1e-13)
    B, w = rng.standard_normal((2, D, K)), rng.standard_normal((2, K))
    fresh = HeadData(W, Bs, sd, 0.01)  # θ* not yet formed
    a = METHODS["erm"].gradient(fresh, fresh, B, w, 0.1, 1)
    b = METHODS["erm"].gradient(dense, dense, B, w, 0.1, 1)
    for x, y in zip(a, b, strict=True):
        assert np.allclose(x, y, rtol=1e-12)
