"""Meta-gradients of MAML / ANIL (exact) against finite differences of the meta-objective; the
first-order variants against the plain gradient at independently adapted parameters; Adam."""

import numpy as np
import pytest
from fs_problems import ARCHS, tiny_problem

from linmeta.fewshot.engine.layers import LOSSES
from linmeta.fewshot.engine.meta import (
    ALGORITHMS,
    ALIASES,
    InnerSpec,
    adapt_and_predict,
    get_algorithm,
    inner_loop,
    meta_gradient,
    meta_objective,
    zero_head,
)
from linmeta.fewshot.engine.network import forward, loss_and_grad, tree_map
from linmeta.fewshot.engine.optim import adam
from linmeta.fewshot.engine.parallel import meta_gradient_threads


def _problem(seed=0, loss="ce", arch=ARCHS[0]):
    return tiny_problem(seed, channels=3, image_size=8, blocks=2, n_query=2, arch=arch)


def _spec(algorithm, steps, loss="ce", lr=0.3):
    return InnerSpec.named(algorithm, lr=lr, steps=steps, loss=loss)


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("algorithm", ["maml", "anil"])
@pytest.mark.parametrize("arch", ARCHS, ids="-".join)
def test_exact_meta_gradient_matches_finite_differences(algorithm, steps, loss, arch):
    net, params, batch = _problem(1, loss, arch)
    spec = _spec(algorithm, steps, loss)
    grads, _ = meta_gradient(net, params, batch, spec)
    rng = np.random.default_rng(7)
    eps = 1e-6  # small enough not to cross ReLU / max-pool kinks on this fixed problem
    for name in params:
        for key in params[name]:
            d = rng.standard_normal(params[name][key].shape)

            def f(s, name=name, key=key, d=d):
                p = {n: dict(v) for n, v in params.items()}
                p[name][key] = params[name][key] + s * d
                return meta_objective(net, p, batch, spec)

            fd = (f(eps) - f(-eps)) / (2 * eps)
            got = float(np.sum(grads[name][key] * d))
            assert got == pytest.approx(fd, rel=1e-5, abs=1e-8), (name, key)


def test_first_order_terms_are_not_the_exact_gradient():
    # the test above must be able to fail: FO-MAML's gradient differs from the exact one
    net, params, batch = _problem(1)
    so, _ = meta_gradient(net, params, batch, _spec("maml", 1))
    fo, _ = meta_gradient(net, params, batch, _spec("fo_maml", 1))
    assert np.abs(so["conv1"]["w"] - fo["conv1"]["w"]).max() > 1e-4


def _adapt_one_task(net, params, x, y, names, lr, steps):
    """Plain gradient steps on one task (T = 1), adapting only the layers in ``names``."""
    p = params
    for _ in range(steps):
        _, g, _ = loss_and_grad(net, p, x[None], y[None])
        p = {n: ({k: p[n][k] - lr * g[n][k] for k in p[n]} if n in names else p[n]) for n in p}
    return p


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("algorithm", ["fo_maml", "fo_anil"])
@pytest.mark.parametrize("arch", ARCHS, ids="-".join)
def test_first_order_equals_plain_gradient_at_adapted_parameters(algorithm, steps, arch):
    net, params, (xs, ys, xq, yq) = _problem(2, arch=arch)
    grads, info = meta_gradient(net, params, (xs, ys, xq, yq), _spec(algorithm, steps))
    names = set(params) if algorithm == "fo_maml" else {"head"}
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
    grads, _ = meta_gradient(net, params, (xs, ys, xq, yq), _spec("maml", 0))
    _, g, _ = loss_and_grad(net, params, xq, yq)
    for n in params:
        for k in params[n]:
            np.testing.assert_allclose(grads[n][k], g[n][k] / xs.shape[0], rtol=1e-12)


def test_anil_leaves_encoder_unchanged_in_inner_loop():
    net, params, (xs, ys, xq, yq) = _problem(4)
    res = inner_loop(net, params, xs, ys, _spec("anil", 3, lr=0.5))
    assert set(res.theta) == {"head"}
    assert res.theta["head"]["w"].shape == (2,) + params["head"]["w"].shape
    assert np.abs(res.theta["head"]["w"] - params["head"]["w"]).max() > 1e-3
    # MAML's inner loop does move the encoder
    res_all = inner_loop(net, params, xs, ys, _spec("maml", 3, lr=0.5))
    assert np.abs(res_all.theta["conv1"]["w"] - params["conv1"]["w"]).max() > 1e-6


def test_zero_head_mse_one_step_is_an_inner_product_predictor():
    # Kao22 Fig. 1 (derived by hand): with w_0 = 0, b_0 = 0, MSE and one step of rate η,
    # w_1 = (η/N) Σ_s φ(s) e_tᵀ and b_1 = (η/N) Σ_s e_t, so z(q) = (η/N) Σ_s e_t (φ(s)ᵀφ(q) + 1).
    net, params, (xs, ys, xq, yq) = _problem(5)
    params = zero_head(net, params)
    eta = 0.7
    z = adapt_and_predict(net, params, xs, ys, xq, _spec("anil", 1, "mse", lr=eta))
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
    opt = adam(lr=0.1, eps=1e-12)
    new, st = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(new["a"]["w"], [0.9, -1.9, 2.9], rtol=1e-9)
    assert st.t == 1
    # the factory captures its hyperparameters: another rate, another step
    new2, _ = adam(lr=0.2, eps=1e-12).update(grads, opt.init(params), params)
    np.testing.assert_allclose(new2["a"]["w"], [0.8, -1.8, 2.8], rtol=1e-9)


def test_adam_second_step_by_hand():
    # g = 1 then g = 3, β1 = 0.5, β2 = 0.75: after bias correction m = (0.25 + 1.5) / 0.75 = 7/3
    # and v = (0.1875 + 2.25) / 0.4375 = 39/7, so the second step moves θ by lr · (7/3) / √(39/7)
    b1, b2, lr = 0.5, 0.75, 0.1
    opt = adam(lr=lr, b1=b1, b2=b2, eps=0.0)
    p = {"a": {"w": np.array([0.0])}}
    p1, st = opt.update({"a": {"w": np.array([1.0])}}, opt.init(p), p)
    p2, st = opt.update({"a": {"w": np.array([3.0])}}, st, p1)
    m_hat = (b1 * (1 - b1) * 1.0 + (1 - b1) * 3.0) / (1 - b1**2)
    v_hat = (b2 * (1 - b2) * 1.0 + (1 - b2) * 9.0) / (1 - b2**2)
    assert (m_hat, v_hat) == pytest.approx((7 / 3, 39 / 7))
    np.testing.assert_allclose(p2["a"]["w"], p1["a"]["w"] - lr * m_hat / np.sqrt(v_hat))
    assert st.t == 2


def test_meta_loss_decreases_under_adam():
    net, params, batch = _problem(6)
    opt = adam(lr=1e-2)
    st = opt.init(params)
    spec = _spec("maml", 1)
    f0 = meta_objective(net, params, batch, spec)
    for _ in range(20):
        g, _ = meta_gradient(net, params, batch, spec)
        params, st = opt.update(g, st, params)
    assert meta_objective(net, params, batch, spec) < 0.8 * f0


@pytest.mark.parametrize("workers, chunk", [(2, None), (2, 3), (1, 1), (2, 1), (1, 2)])
@pytest.mark.parametrize("algorithm", ["maml", "fo_anil"])
def test_chunks_and_threads_equal_the_serial_meta_gradient(algorithm, workers, chunk):
    net, params, (xs, ys, xq, yq) = _problem(8)
    batch = tuple(np.concatenate([a, a[:1]]) for a in (xs, ys, xq, yq))  # T = 3: uneven chunks
    spec = _spec(algorithm, 2)
    g1, i1 = meta_gradient(net, params, batch, spec)
    g2, i2 = meta_gradient_threads(net, params, batch, spec, workers=workers, chunk=chunk)
    for n in g1:
        for k in g1[n]:
            np.testing.assert_allclose(g2[n][k], g1[n][k], rtol=1e-10, atol=1e-13)
    assert i2["loss"] == pytest.approx(i1["loss"], rel=1e-12)
    assert i2["acc"] == pytest.approx(i1["acc"], rel=1e-12)


def test_auto_chunk_keeps_a_chunk_in_cache():
    from linmeta.fewshot.engine.network import conv4
    from linmeta.fewshot.engine.parallel import CACHE_BYTES, auto_chunk, task_bounds

    net = conv4(5, 32, 28, 1)
    xs, xq = np.zeros((8, 5, 28, 28, 1), np.float32), np.zeros((8, 25, 28, 28, 1), np.float32)
    batch = (xs, None, xq, None)
    c = auto_chunk(net, batch)
    assert c == 1 and 30 * 28 * 28 * 32 * 4 <= CACHE_BYTES < 2 * 30 * 28 * 28 * 32 * 4
    assert auto_chunk(conv4(5, 16, 16, 1), (xs[:, :, :16, :16], None, xq[:, :, :16, :16], None)) > 1
    assert task_bounds(7, 3) == [(0, 3), (3, 6), (6, 7)]


def test_losses_registry_has_both():
    assert set(LOSSES) == {"ce", "mse"}


def test_algorithm_names_are_the_linear_registrys_and_aliases_still_load():
    from linmeta.algorithms import METHODS

    for name, alg in ALGORITHMS.items():
        assert alg is METHODS[name]  # one record, one spelling
        assert alg.adapts in ("all", "head")
    for alias, name in ALIASES.items():
        assert get_algorithm(alias) == get_algorithm(name)
    with pytest.raises(ValueError, match="unknown algorithm 'reptile'"):
        get_algorithm("reptile")


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_an_alias_gives_the_very_same_meta_gradient(alias):
    net, params, batch = _problem(9, arch=ARCHS[1])
    g1, i1 = meta_gradient(net, params, batch, _spec(alias, 2))
    g2, i2 = meta_gradient(net, params, batch, _spec(ALIASES[alias], 2))
    assert i1 == i2
    for n in g1:
        for k in g1[n]:
            np.testing.assert_array_equal(g1[n][k], g2[n][k])


def test_inner_spec_rejects_a_bad_loss_or_step_count():
    with pytest.raises(ValueError, match="unknown loss"):
        _spec("maml", 1, loss="hinge")
    with pytest.raises(ValueError, match="inner steps"):
        _spec("maml", -1)
