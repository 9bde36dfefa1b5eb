"""Meta-gradients of MAML / ANIL (exact) against finite differences of the meta-objective; the
first-order variants against the plain gradient at independently adapted parameters; Adam."""

import numpy as np
import pytest
from fs_problems import ARCHS, tiny_problem

from linmeta.fewshot.layers import LOSSES
from linmeta.fewshot.meta import (
    adam_init,
    adam_update,
    adapt_and_predict,
    inner_loop,
    meta_gradient,
    meta_objective,
    zero_head,
)
from linmeta.fewshot.network import forward, loss_and_grad, tree_map


def _problem(seed=0, loss="ce", arch=ARCHS[0]):
    return tiny_problem(seed, channels=3, image_size=8, blocks=2, n_query=2, arch=arch)


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("algorithm", ["maml", "anil"])
@pytest.mark.parametrize("arch", ARCHS, ids="-".join)
def test_exact_meta_gradient_matches_finite_differences(algorithm, steps, loss, arch):
    net, params, batch = _problem(1, loss, arch)
    kw = dict(algorithm=algorithm, inner_lr=0.3, inner_steps=steps, loss=loss)
    grads, _ = meta_gradient(net, params, batch, **kw)
    rng = np.random.default_rng(7)
    eps = 1e-6  # small enough not to cross ReLU / max-pool kinks on this fixed problem
    for name in params:
        for key in params[name]:
            d = rng.standard_normal(params[name][key].shape)

            def f(s, name=name, key=key, d=d):
                p = {n: dict(v) for n, v in params.items()}
                p[name][key] = params[name][key] + s * d
                return meta_objective(net, p, batch, **kw)

            fd = (f(eps) - f(-eps)) / (2 * eps)
            got = float(np.sum(grads[name][key] * d))
            assert got == pytest.approx(fd, rel=1e-5, abs=1e-8), (name, key)


def test_first_order_terms_are_not_the_exact_gradient():
    # the test above must be able to fail: FO-MAML's gradient differs from the exact one
    net, params, batch = _problem(1)
    kw = dict(inner_lr=0.3, inner_steps=1)
    so, _ = meta_gradient(net, params, batch, algorithm="maml", **kw)
    fo, _ = meta_gradient(net, params, batch, algorithm="fomaml", **kw)
    assert np.abs(so["conv1"]["w"] - fo["conv1"]["w"]).max() > 1e-4


def _adapt_one_task(net, params, x, y, names, lr, steps):
    """Plain gradient steps on one task (T = 1), adapting only the layers in ``names``."""
    p = params
    for _ in range(steps):
        _, g, _ = loss_and_grad(net, p, x[None], y[None])
        p = {n: ({k: p[n][k] - lr * g[n][k] for k in p[n]} if n in names else p[n]) for n in p}
    return p


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("algorithm", ["fomaml", "foanil"])
@pytest.mark.parametrize("arch", ARCHS, ids="-".join)
def test_first_order_equals_plain_gradient_at_adapted_parameters(algorithm, steps, arch):
    net, params, (xs, ys, xq, yq) = _problem(2, arch=arch)
    grads, info = meta_gradient(net, params, (xs, ys, xq, yq), algorithm=algorithm, inner_lr=0.3,
                                inner_steps=steps)
    names = set(params) if algorithm == "fomaml" else {"head"}
    expect = tree_map(np.zeros_like, params)
    for i in range(xs.shape[0]):
        p_i = _adapt_one_task(net, params, xs[i], ys[i], names, 0.3, steps)
        _, g, _ = loss_and_grad(net, p_i, xq[i][None], yq[i][None])
        expect = tree_map(lambda a, b: a + b / xs.shape[0], expect, g)
    for n in params:
        for k in params[n]:
            np.testing.assert_allclose(grads[n][k], expect[n][k], rtol=1e-10, atol=1e-12)


def test_exact_with_zero_steps_is_the_plain_gradient():
    net, params, (xs, ys, xq, yq) = _problem(3)
    grads, _ = meta_gradient(net, params, (xs, ys, xq, yq), algorithm="maml", inner_lr=0.3,
                             inner_steps=0)
    _, g, _ = loss_and_grad(net, params, xq, yq)
    for n in params:
        for k in params[n]:
            np.testing.assert_allclose(grads[n][k], g[n][k] / xs.shape[0], rtol=1e-12)


def test_anil_leaves_encoder_unchanged_in_inner_loop():
    net, params, (xs, ys, xq, yq) = _problem(4)
    res = inner_loop(net, params, xs, ys, adapt="head", lr=0.5, steps=3)
    assert set(res.theta) == {"head"}
    assert res.theta["head"]["w"].shape == (2,) + params["head"]["w"].shape
    assert np.abs(res.theta["head"]["w"] - params["head"]["w"]).max() > 1e-3
    # MAML's inner loop does move the encoder
    res_all = inner_loop(net, params, xs, ys, adapt="all", lr=0.5, steps=3)
    assert np.abs(res_all.theta["conv1"]["w"] - params["conv1"]["w"]).max() > 1e-6


def test_zero_head_mse_one_step_is_an_inner_product_predictor():
    # Kao22 Fig. 1 (derived by hand): with w_0 = 0, b_0 = 0, MSE and one step of rate η,
    # w_1 = (η/N) Σ_s φ(s) e_tᵀ and b_1 = (η/N) Σ_s e_t, so z(q) = (η/N) Σ_s e_t (φ(s)ᵀφ(q) + 1).
    net, params, (xs, ys, xq, yq) = _problem(5)
    params = zero_head(net, params)
    eta = 0.7
    z = adapt_and_predict(net, params, xs, ys, xq, adapt="head", inner_lr=eta, inner_steps=1,
                          loss="mse")
    fs, _ = forward(net, params, xs, 0, len(net) - 1)  # (T, N_s, F)
    fq, _ = forward(net, params, xq, 0, len(net) - 1)
    onehot = np.eye(3)[ys]  # (T, N_s, K)
    expect = eta / xs.shape[1] * np.einsum("tsk,tqs->tqk", onehot,
                                           np.einsum("tsf,tqf->tqs", fs, fq) + 1.0)
    np.testing.assert_allclose(z, expect, rtol=1e-10, atol=1e-12)


def test_adam_first_step_moves_every_coordinate_by_lr():
    # with bias correction, step 1 is θ − lr · g/(|g| + ε) = θ − lr · sign(g)
    params = {"a": {"w": np.array([1.0, -2.0, 3.0])}}
    grads = {"a": {"w": np.array([0.5, -4.0, 1e-3])}}
    new, st = adam_update(grads, adam_init(params), params, lr=0.1, eps=1e-12)
    np.testing.assert_allclose(new["a"]["w"], [0.9, -1.9, 2.9], rtol=1e-9)
    assert st.t == 1


def test_meta_loss_decreases_under_adam():
    net, params, batch = _problem(6)
    st = adam_init(params)
    kw = dict(algorithm="maml", inner_lr=0.3, inner_steps=1)
    f0 = meta_objective(net, params, batch, **kw)
    for _ in range(20):
        g, _ = meta_gradient(net, params, batch, **kw)
        params, st = adam_update(g, st, params, lr=1e-2)
    assert meta_objective(net, params, batch, **kw) < 0.8 * f0


@pytest.mark.parametrize("workers, chunk", [(2, None), (2, 3), (1, 1), (2, 1), (1, 2)])
@pytest.mark.parametrize("algorithm", ["maml", "foanil"])
def test_chunks_and_threads_equal_the_serial_meta_gradient(algorithm, workers, chunk):
    from linmeta.fewshot.parallel import meta_gradient_threads

    net, params, (xs, ys, xq, yq) = _problem(8)
    batch = tuple(np.concatenate([a, a[:1]]) for a in (xs, ys, xq, yq))  # T = 3: uneven chunks
    kw = dict(algorithm=algorithm, inner_lr=0.3, inner_steps=2)
    g1, i1 = meta_gradient(net, params, batch, **kw)
    g2, i2 = meta_gradient_threads(net, params, batch, workers=workers, chunk=chunk, **kw)
    for n in g1:
        for k in g1[n]:
            np.testing.assert_allclose(g2[n][k], g1[n][k], rtol=1e-10, atol=1e-13)
    assert i2["loss"] == pytest.approx(i1["loss"], rel=1e-12)
    assert i2["acc"] == pytest.approx(i1["acc"], rel=1e-12)


def test_auto_chunk_keeps_a_chunk_in_cache():
    from linmeta.fewshot.network import conv4
    from linmeta.fewshot.parallel import CACHE_BYTES, auto_chunk, task_bounds

    net = conv4(5, 32, 28, 1)
    xs, xq = np.zeros((8, 5, 28, 28, 1), np.float32), np.zeros((8, 25, 28, 28, 1), np.float32)
    batch = (xs, None, xq, None)
    c = auto_chunk(net, batch)
    assert c == 1 and 30 * 28 * 28 * 32 * 4 <= CACHE_BYTES < 2 * 30 * 28 * 28 * 32 * 4
    assert auto_chunk(conv4(5, 16, 16, 1), (xs[:, :, :16, :16], None, xq[:, :, :16, :16], None)) > 1
    assert task_bounds(7, 3) == [(0, 3), (3, 6), (6, 7)]


def test_losses_registry_has_both():
    assert set(LOSSES) == {"ce", "mse"}
