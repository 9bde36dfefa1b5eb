"""Kao22's contrastive form of MAML's encoder gradient against the engine's backprop.

The references are the engine's :func:`meta_gradient` (itself checked against finite
differences in test_fs_meta.py), a finite difference of :func:`meta_objective`, and Kao22's
coefficient written out with softmax probabilities computed here.
"""

import numpy as np
import pytest
from fs_problems import tiny_problem

from linmeta.fewshot.engine.meta import InnerSpec, meta_objective, zero_head
from linmeta.fewshot.engine.network import backward, head_index
from linmeta.fewshot.probes.contrastive import (
    REFERENCE,
    backprop_encoder_grad,
    coefficient_signs,
    decompose,
    features,
    identity_table,
    is_exact,
    tree_rel_error,
)

LR = 0.3


def _problem(seed=0, head_scale=1.0):
    return tiny_problem(seed, channels=4, image_size=8, blocks=2, n_query=3,
                        head_scale=head_scale)


def _spec(order="fo", steps=1, loss="ce", efil=True):
    """The inner loop whose gradient the ``order`` form is compared with (FO: first order)."""
    return InnerSpec.named(REFERENCE[(order, efil)], lr=LR, steps=steps, loss=loss)


EXACT = [  # (order, steps, zeroing, efil)
    ("fo", 1, False, True), ("fo", 3, False, True), ("fo", 1, True, True),
    ("fo", 3, True, True), ("so", 1, True, True), ("fo", 1, True, False),
    ("so", 1, True, False),
]


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("case", EXACT)
def test_exact_identities_to_1e10(case, loss):
    order, steps, zeroing, efil = case
    net, params, batch = _problem(1)
    if zeroing:
        params = zero_head(net, params)
    assert is_exact(order, steps, zeroing, efil)
    spec = _spec(order, steps, loss, efil)
    form = decompose(net, params, batch, spec)
    bp = backprop_encoder_grad(net, params, batch, spec)
    assert set(form.grads) == set(bp)
    assert tree_rel_error(form.grads, bp) < 1e-10


@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("steps", [1, 3])
def test_so_with_nonzero_head_is_only_approximate(steps, loss, record_property):
    """The residual is reported (record_property), not asserted zero: it must be clearly > 0."""
    net, params, batch = _problem(2)
    assert not is_exact("so", steps, False, True)
    form = decompose(net, params, batch, _spec("so", steps, loss))
    bp = backprop_encoder_grad(net, params, batch, _spec("so", steps, loss))
    res = tree_rel_error(form.grads, bp)
    record_property(f"so_residual_{loss}_{steps}", res)
    assert np.isfinite(res) and res > 1e-4


def test_so_multistep_with_zeroing_is_only_approximate(record_property):
    net, params, batch = _problem(3)
    params = zero_head(net, params)
    form = decompose(net, params, batch, _spec("so", 3))
    bp = backprop_encoder_grad(net, params, batch, _spec("so", 3))
    res = tree_rel_error(form.grads, bp)
    record_property("so_zeroing_3step_residual", res)
    assert res > 1e-6


def test_so_zeroing_matches_finite_difference_of_meta_objective():
    """Independent of meta_gradient: directional derivative of ANIL's meta-objective."""
    net, params, batch = _problem(4)
    params = zero_head(net, params)
    g = decompose(net, params, batch, _spec("so", 1)).grads
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in g:
        for key in g[name]:
            d = rng.standard_normal(params[name][key].shape)

            def f(s, name=name, key=key, d=d):
                p = {n: dict(v) for n, v in params.items()}
                p[name][key] = params[name][key] + s * d
                return meta_objective(net, p, batch, _spec("so", 1))

            fd = (f(eps) - f(-eps)) / (2 * eps)
            assert float(np.sum(g[name][key] * d)) == pytest.approx(fd, rel=1e-5, abs=1e-9)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_one_step_ce_coefficient_is_kao22s_formula():
    """c(s,q) = −Σ_j q_j s_j + s_u + q_t − 1_{t=u} with s, q from softmaxes computed here."""
    net, params, batch = _problem(5)
    xs, ys, xq, yq = batch
    head = params[net[head_index(net)].name]
    w0, b0 = head["w"], head["b"]
    hs, _ = features(net, params, xs)
    hq, _ = features(net, params, xq)
    s = _softmax(hs @ w0 + b0)  # (T, N_s, K)
    onehot_s = np.eye(3)[ys]
    n_s = hs.shape[1]
    w1 = w0 + LR / n_s * np.einsum("tsf,tsk->tfk", hs, onehot_s - s)
    b1 = b0 + LR / n_s * (onehot_s - s).sum(1)
    q = _softmax(np.einsum("tqf,tfk->tqk", hq, w1) + b1[:, None, :])
    t_idx, u_idx = ys[:, :, None], yq[:, None, :]
    expect = (-np.einsum("tqj,tsj->tsq", q, s)
              + np.take_along_axis(s, np.broadcast_to(u_idx, (2, 6, 9)), axis=2)
              + np.take_along_axis(q.transpose(0, 2, 1), np.broadcast_to(t_idx, (2, 6, 9)),
                                   axis=1)
              - (t_idx == u_idx))
    got = decompose(net, params, batch, _spec()).coeff
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-13)


def test_eq26_printed_sign_gives_the_wrong_gradient():
    """Flipping the multi-step coefficient (Eq. 26 as printed is −∂L) must break the identity."""
    net, params, batch = _problem(6)
    xs, ys, xq, yq = batch
    dec = decompose(net, params, batch, _spec(steps=3))
    t, n_q = xq.shape[:2]
    flipped = (dec.interference - dec.contrast_q) / (t * n_q)
    _, cache_q = features(net, params, xq)
    g, _, _ = backward(net, params, cache_q, flipped, 0, head_index(net), per_task=False)
    bp = backprop_encoder_grad(net, params, batch, _spec(steps=3))
    assert tree_rel_error(dec.grads, bp) < 1e-10
    assert tree_rel_error(g, bp) > 1e-3


def test_zeroing_makes_every_coefficient_the_right_sign():
    net, params, batch = _problem(7, head_scale=3.0)
    zeroed = coefficient_signs(net, zero_head(net, params), batch, _spec())
    assert zeroed["neg_share_diff"] == 0.0 and zeroed["pos_share_same"] == 0.0
    assert zeroed["mean_c_same"] < 0 < zeroed["mean_c_diff"]
    noisy = coefficient_signs(net, params, batch, _spec())
    assert noisy["neg_share_diff"] > 0.0  # a large random head flips some pairs (the noise)


def test_identity_table_flags_match_measurements():
    net, params, batch = _problem(8)
    rows = identity_table(net, params, batch, inner_lr=LR, steps=(1, 2), losses=("ce",))
    assert len(rows) == 2 * 2 * 2 * 2
    for r in rows:
        if r["exact_expected"]:
            assert r["rel_error"] < 1e-10, r
    # the non-exact cases are genuinely approximate at this (random, w_0 != 0) point
    assert all(r["rel_error"] > 1e-6 for r in rows if not r["exact_expected"])
    with pytest.raises(ValueError, match="orders"):
        identity_table(net, params, batch, inner_lr=LR, orders=("fo", "third"))


def test_the_form_follows_the_specs_order():
    # one spec, one form: a first-order spec gives the FO form (no support cotangent), an exact
    # one the SO form; the head-only and all-layer specs of one order give the same form
    net, params, batch = _problem(9)
    fo = decompose(net, params, batch, _spec("fo"))
    so = decompose(net, params, batch, _spec("so"))
    assert fo.cot_s is None and so.cot_s is not None
    assert tree_rel_error(so.grads, fo.grads) > 1e-6
    fo_maml = decompose(net, params, batch, _spec("fo", efil=False))
    assert tree_rel_error(fo_maml.grads, fo.grads) == 0.0
