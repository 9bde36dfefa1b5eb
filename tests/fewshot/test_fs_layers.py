"""Every layer's VJP, JVP and JVP-of-VJP (the HVP building block) against float64 central
differences, and the whole network's gradient and Hessian-vector product."""

import numpy as np
import pytest

from linmeta.fewshot.engine.layers import LAYERS, LOSSES
from linmeta.fewshot.engine.network import backward, conv4, forward, hvp, init_params, tree_map

EPS = 1e-6
RTOL = 1e-6


def _rng(seed=0):
    return np.random.default_rng(seed)


def _case(kind, per_task, rng, t=2):
    """Parameters, input and options for one layer on tiny float64 shapes."""
    pt = (t,) if per_task else ()
    if kind == "conv":
        p = {"w": rng.standard_normal(pt + (3, 3, 2, 3)), "b": rng.standard_normal(pt + (3,))}
        return p, rng.standard_normal((t, 2, 5, 6, 2)), {}
    if kind == "conv_s2":
        p = {"w": rng.standard_normal(pt + (3, 3, 2, 3))}
        return p, rng.standard_normal((t, 2, 7, 6, 2)), {"stride": 2, "padding": 1}
    if kind == "conv_p0":
        p = {"w": rng.standard_normal(pt + (3, 3, 2, 3)), "b": rng.standard_normal(pt + (3,))}
        return p, rng.standard_normal((t, 2, 5, 5, 2)), {"stride": 1, "padding": 0}
    if kind == "bn":
        p = {"g": rng.standard_normal(pt + (3,)), "b": rng.standard_normal(pt + (3,))}
        return p, rng.standard_normal((t, 3, 2, 2, 3)), {}
    if kind == "linear":
        p = {"w": rng.standard_normal(pt + (4, 3)), "b": rng.standard_normal(pt + (3,))}
        return p, rng.standard_normal((t, 5, 4)), {}
    return {}, rng.standard_normal((t, 2, 5, 4, 3)), {}


KINDS = ["conv", "conv_s2", "conv_p0", "bn", "relu", "maxpool", "flatten", "linear"]


def _ops(kind):
    return LAYERS[kind.split("_")[0]]


def _perturb(p, x, dp, dx, s):
    return ({k: p[k] + s * dp[k] for k in p}, x + s * dx)


def _dot(a, b):
    return float(np.sum(a * b))


@pytest.mark.parametrize("per_task", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_layer_vjp_jvp_hvp_match_central_differences(kind, per_task):
    rng = _rng(1)
    ops = _ops(kind)
    p, x, opts = _case(kind, per_task, rng)
    y, cache = ops.forward(p, x, **opts)
    gy = rng.standard_normal(y.shape)
    dp = {k: rng.standard_normal(v.shape) for k, v in p.items()}
    dx = rng.standard_normal(x.shape)
    dgy = rng.standard_normal(y.shape)

    def fwd(s):
        pp, xx = _perturb(p, x, dp, dx, s)
        return ops.forward(pp, xx, **opts)

    # JVP: dy = lim (y(+) - y(-)) / 2ε
    dy, tcache = ops.jvp(p, cache, dp or None, dx, **opts)
    fd_dy = (fwd(EPS)[0] - fwd(-EPS)[0]) / (2 * EPS)
    np.testing.assert_allclose(dy, fd_dy, rtol=RTOL, atol=1e-7)

    # VJP: <gp, dp> + <gx, dx> = d/ds <gy, y(s)>
    gp, gx = ops.vjp(p, cache, gy, per_task=True, need_gx=True, **opts)
    lhs = _dot(gx, dx) + sum(_dot(gp[k], dp[k]) for k in p)
    rhs = (_dot(gy, fwd(EPS)[0]) - _dot(gy, fwd(-EPS)[0])) / (2 * EPS)
    assert lhs == pytest.approx(rhs, rel=RTOL, abs=1e-7)

    # per_task=False sums the task axis of shared parameters
    if p and not per_task:
        gp_sum, _ = ops.vjp(p, cache, gy, per_task=False, need_gx=False, **opts)
        for k in p:
            np.testing.assert_allclose(gp_sum[k], gp[k].sum(axis=0), rtol=1e-12, atol=1e-12)

    # JVP of VJP: tangent of (gp, gx) along (dp, dx, dgy)
    dgp, dgx = ops.vjp_jvp(p, cache, tcache, gy, dp or None, dgy, per_task=True, need_gx=True,
                           **opts)

    def pull(s):
        pp, xx = _perturb(p, x, dp, dx, s)
        _, c = ops.forward(pp, xx, **opts)
        return ops.vjp(pp, c, gy + s * dgy, per_task=True, need_gx=True, **opts)

    (gpp, gxp), (gpm, gxm) = pull(EPS), pull(-EPS)
    np.testing.assert_allclose(dgx, (gxp - gxm) / (2 * EPS), rtol=RTOL, atol=1e-6)
    for k in p:
        np.testing.assert_allclose(dgp[k], (gpp[k] - gpm[k]) / (2 * EPS), rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_loss_gradient_and_hvp(loss):
    rng = _rng(2)
    z = rng.standard_normal((2, 6, 4))
    y = rng.integers(0, 4, size=(2, 6))
    dz = rng.standard_normal(z.shape)
    vg, h = LOSSES[loss]
    ls, g = vg(z, y)
    fd = (vg(z + EPS * dz, y)[0].sum() - vg(z - EPS * dz, y)[0].sum()) / (2 * EPS)
    assert _dot(g, dz) == pytest.approx(fd, rel=RTOL)
    fd_g = (vg(z + EPS * dz, y)[1] - vg(z - EPS * dz, y)[1]) / (2 * EPS)
    np.testing.assert_allclose(h(z, y, dz), fd_g, rtol=RTOL, atol=1e-8)


def test_cross_entropy_worked_example():
    # two classes, logits (0, log 3): p = (1/4, 3/4); label 1 -> loss = log(4/3), grad = (1/4, -1/4)
    z = np.array([[[0.0, np.log(3.0)]]])
    ls, g = LOSSES["ce"].value_and_grad(z, np.array([[1]]))
    assert ls[0] == pytest.approx(np.log(4 / 3))
    np.testing.assert_allclose(g[0, 0], [0.25, -0.25])


def _tiny_net(arch=("finn", "pool")):
    size = 13 if arch[1] == "stride" else 8
    net = conv4(n_way=3, channels=3, image_size=size, in_channels=2, blocks=2, conv_bias=True,
                block_order=arch[0], downsample=arch[1])
    params = init_params(net, _rng(3), dtype=np.float64)
    rng = _rng(4)
    params = tree_map(lambda a: a + 0.1 * rng.standard_normal(a.shape), params)
    x = rng.standard_normal((2, 6, size, size, 2))
    y = rng.integers(0, 3, size=(2, 6))
    return net, params, x, y


def _total_loss(net, params, x, y, loss):
    z, _ = forward(net, params, x)
    return float(LOSSES[loss].value_and_grad(z, y)[0].sum())


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("arch", [("finn", "pool"), ("kao", "pool"), ("kao", "stride")],
                         ids="-".join)
def test_network_gradient_and_hvp(loss, arch):
    net, params, x, y = _tiny_net(arch)
    rng = _rng(5)
    z, caches = forward(net, params, x)
    _, gz = LOSSES[loss].value_and_grad(z, y)
    grads, _, cots = backward(net, params, caches, gz, per_task=False, keep_cotangents=True)
    # every parameter, coordinate by coordinate
    for name, d in params.items():
        for k, a in d.items():
            for idx in np.ndindex(a.shape):
                old = a[idx]
                a[idx] = old + EPS
                lp = _total_loss(net, params, x, y, loss)
                a[idx] = old - EPS
                lm = _total_loss(net, params, x, y, loss)
                a[idx] = old
                assert grads[name][k][idx] == pytest.approx((lp - lm) / (2 * EPS), rel=1e-5,
                                                            abs=1e-7), (name, k, idx)
    # Hessian-vector product (task axis kept) along a per-task direction
    v = tree_map(lambda a: rng.standard_normal((2,) + a.shape), params)
    hv, _ = hvp(net, params, caches, cots, z, y, loss, v)

    def grad_at(s):
        p = tree_map(lambda a, b: a + s * b, params, v)  # per-task parameters
        zz, cc = forward(net, p, x)
        _, g = LOSSES[loss].value_and_grad(zz, y)
        return backward(net, p, cc, g, per_task=True)[0]

    gp, gm = grad_at(EPS), grad_at(-EPS)
    for name in params:
        for k in params[name]:
            np.testing.assert_allclose(hv[name][k], (gp[name][k] - gm[name][k]) / (2 * EPS),
                                       rtol=1e-5, atol=1e-7)
