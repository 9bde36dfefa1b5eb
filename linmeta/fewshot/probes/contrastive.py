"""MAML's encoder gradient as a supervised contrastive loss (Kao22), checked against backprop.

Notation (docs/theory.md §2.3). The encoder φ is every layer before the linear head ``w`` (with an
optional bias ``b``); ``φ(s)``, ``φ(q)`` are the support / query features ``(T, N, F)``. For a
loss ``ℓ(z, y)`` on the logits ``z = φᵀw + b`` write the per-example *residual*

    r(z, y) = ∂ℓ/∂z,    CE: r = softmax(z) − e_y,    MSE: r = z − e_y,

so that Kao22's ``s_k − 1_{k=t}`` and ``q_k − 1_{k=u}`` are ``r_s`` and ``r_q`` for CE. Under EFIL
(the encoder frozen in the inner loop: ANIL) the head takes ``N`` steps of rate ``η`` on
``L_S = E_S ℓ``:

    w_p = w_{p−1} − η E_S φ(s) r_sᵀ^{(p−1)},    p = 1 … N,

hence ``w_N = w_0 − η Σ_p E_S φ(s) r_sᵀ^{(p−1)}`` and the gradient of ``L_Q = E_Q ℓ(z_q^{(N)})``
with respect to a query feature is exactly (any ``w_0``, any ``N``)

    ∂ℓ_q/∂φ(q) = w_0 r_q^{(N)} + η E_S C(s, q) φ(s),
    C(s, q) = Σ_{p=1..N} c_p(s, q),    c_p(s, q) = −⟨r_s^{(p−1)}, r_q^{(N)}⟩.

For CE, ``c_p = −Σ_j q_j^{(N)} s_j^{(p−1)} + s_u^{(p−1)} + q_t^{(N)} − 1_{t=u}``: Kao22 App. C
Eq. 26 (its printed sign is that of ``−∂L``; derived here, checked in the tests). With ``N = 1``
it is Kao22's ``c(s, q)``. The first term ``w_0 r_q = Σ_j (q_j − 1_{j=u}) w_0^j`` is the
*interference* term.

Kao22's contrastive losses put a stop-gradient (sg) on ``C`` and, for FO, on ``φ(s)``:

    FO:  L = E_Q [ r_qᵀ sg(w_0)ᵀ φ(q) + η E_S sg(C(s,q) φ(s))ᵀ φ(q) ],
    SO:  L = E_Q [ r_qᵀ sg(w_0)ᵀ φ(q) + η E_S sg(C(s,q)) φ(s)ᵀ φ(q) ].

Their encoder gradients are the pull-backs through φ of the feature cotangents

    G_q = (w_0 r_q + η E_S C φ(s)) / (T N_q),    G_s = η E_Q C φ(q) / (T N_s)   (SO only),

(``1/T`` averages the meta-batch, as :func:`~linmeta.fewshot.engine.meta.meta_gradient` does).
The FO form equals FO-ANIL's encoder gradient for any ``w_0`` and ``N``. The SO form drops the path
through ``r_s``'s dependence on ``φ(s)`` (via ``w_0`` and, for ``N > 1``, via ``w_1 … w_{N−1}``):
it equals ANIL's encoder gradient when ``w_0 = 0`` and ``N = 1`` (Kao22 Corollary 1, with the
zeroing trick) and is an approximation otherwise, whose residual :func:`identity_table`
measures. For MAML (the encoder adapts too) EFIL itself is an approximation, measured the same
way; with ``w_0 = 0`` and ``N = 1`` it is exact again (ours: the first inner step cannot move
the encoder, whose support gradient ``w_0 r_s`` vanishes).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from linmeta.backend import array_module, to_numpy

from ..engine.layers import LOSSES
from ..engine.meta import InnerSpec, inner_loop, meta_gradient, zero_head
from ..engine.network import Network, backward, forward, head_index, tree_map

#: The algorithm whose encoder gradient each form is compared with: (order, EFIL) -> name.
REFERENCE = {("fo", True): "fo_anil", ("so", True): "anil",
             ("fo", False): "fo_maml", ("so", False): "maml"}



def residual(z, y, loss: str = "ce"):
    """Per-example logit residual ``r = ∂ℓ/∂z`` ``(T, N, K)``: ``softmax(z) − e_y`` or ``z − e_y``.

    The engine's loss gradients are those of the mean over the ``N`` examples, so ``r = N·∂L/∂z``.
    """
    _, gz = LOSSES[loss].value_and_grad(z, y)
    return gz * z.shape[1]


def features(net: Network, params: dict, x):
    """Encoder output ``φ(x) (T, N, F)`` (all layers before the head) and its forward caches."""
    return forward(net, params, x, 0, head_index(net))


class Decomposition(NamedTuple):
    """Kao22's contrastive form of one meta-batch (see the module docstring for the equations).

    ``coeff_steps (N, T, N_s, N_q)``: ``c_p(s, q)``; ``coeff (T, N_s, N_q)``: ``C = Σ_p c_p``;
    ``interference (T, N_q, F)``: ``w_0 r_q^{(N)}``; ``contrast_q (T, N_q, F)``:
    ``η E_S C φ(s)``; ``cot_q``, ``cot_s``: the feature cotangents ``G_q``, ``G_s`` (``G_s`` is
    ``None`` for FO); ``grads``: the encoder gradient (pull-back of the cotangents through φ).
    """

    coeff_steps: object
    coeff: object
    interference: object
    contrast_q: object
    cot_q: object
    cot_s: object
    grads: dict


def head_residuals(net: Network, params: dict, hs, ys, hq, yq, spec: InnerSpec):
    """Residuals of an EFIL inner loop (head only; α, τ and the loss of ``spec``) on features
    ``hs (T, N_s, F)``.

    Returns ``(r_s (N, T, N_s, K), r_q (T, N_q, K))``: the support residuals
    ``r_s^{(p−1)}`` at the head ``w_{p−1}`` for ``p = 1 … N``, and the query residual at ``w_N``.
    """
    head = net[head_index(net):]  # the head as a network of its own, fed the features
    xp = array_module(hs)
    inner = inner_loop(head, params, hs, ys, dataclasses.replace(spec, adapts="all"), keep=True)
    rs = [residual(z, ys, spec.loss) for _, _, _, z in inner.trace]
    zq, _ = forward(head, {**params, **inner.theta}, hq)
    return xp.stack(rs) if rs else None, residual(zq, yq, spec.loss)


def decompose(net: Network, params: dict, batch, spec: InnerSpec) -> Decomposition:
    """The contrastive form's encoder gradient for a meta-batch (Kao22 §3, App. C Eq. 26).

    Parameters
    ----------
    net, params : the network and the initial point θ = {ϕ, w_0} (the head is used as given;
        apply :func:`~linmeta.fewshot.engine.meta.zero_head` first for the zeroing trick).
    batch : ``(xs (T, N_s, H, W, C), ys (T, N_s), xq (T, N_q, H, W, C), yq (T, N_q))``.
    spec : the inner loop: η = ``spec.lr``, N = ``spec.steps`` (N ≥ 1) and the loss of the
        head's inner loop; the FO form (sg on ``C φ(s)``) for a first-order ``spec``, the SO
        form (sg on ``C`` only) for an exact one. The form is EFIL's whatever ``spec.adapts``
        says; ``spec`` names the gradient it is compared with.

    Returns
    -------
    Decomposition
        with ``grads`` the encoder gradient ``{layer: {param: array}}`` of the averaged query
        loss, computed from ``G_q = (w_0 r_q + η E_S C φ(s)) / (T N_q)`` and, for SO,
        ``G_s = η E_Q C φ(q) / (T N_s)``.
    """
    if spec.steps < 1:
        raise ValueError("the contrastive form needs at least one inner step")
    inner_lr = spec.lr
    xs, ys, xq, yq = batch
    hi = head_index(net)
    hs, cache_s = features(net, params, xs)  # (T, N_s, F)
    hq, cache_q = features(net, params, xq)  # (T, N_q, F)
    xp = array_module(hs)
    rs, rq = head_residuals(net, params, hs, ys, hq, yq, spec)
    t, n_s, n_q = hs.shape[0], hs.shape[1], hq.shape[1]
    coeff_steps = -xp.einsum("ptsk,tqk->ptsq", rs, rq)  # c_p(s, q)
    coeff = coeff_steps.sum(axis=0)  # C(s, q)  (T, N_s, N_q)
    w0 = params[net[hi].name]["w"]  # (F, K)
    interference = xp.einsum("fk,tqk->tqf", w0, rq)  # Σ_j r_{q,j} w_0^j
    contrast_q = inner_lr / n_s * xp.einsum("tsq,tsf->tqf", coeff, hs)
    cot_q = (interference + contrast_q) / (t * n_q)
    g, _, _ = backward(net, params, cache_q, cot_q, 0, hi, per_task=False)
    cot_s = None
    if spec.exact:
        cot_s = inner_lr / (t * n_s * n_q) * xp.einsum("tsq,tqf->tsf", coeff, hq)
        gs, _, _ = backward(net, params, cache_s, cot_s, 0, hi, per_task=False)
        g = tree_map(lambda a, b: a + b, g, gs)
    return Decomposition(coeff_steps, coeff, interference, contrast_q, cot_q, cot_s, g)


def backprop_encoder_grad(net: Network, params: dict, batch, spec: InnerSpec) -> dict:
    """The engine's meta-gradient of ``spec`` restricted to the encoder (every layer before
    the head): FO-ANIL / ANIL is the setting of Kao22's derivation, FO-MAML / MAML the EFIL
    approximation."""
    grads, _ = meta_gradient(net, params, batch, spec)
    head = net[head_index(net)].name
    return {n: d for n, d in grads.items() if n != head}


def tree_rel_error(a: dict, b: dict) -> float:
    """``‖a − b‖ / ‖b‖`` over all leaves of two parameter trees (Frobenius norms, float64)."""
    num = sum(float(np.sum((to_numpy(a[n][k]).astype(np.float64)
                            - to_numpy(b[n][k]).astype(np.float64)) ** 2))
              for n in b for k in b[n])
    den = sum(float(np.sum(to_numpy(b[n][k]).astype(np.float64) ** 2)) for n in b for k in b[n])
    return float(np.sqrt(num / den)) if den > 0 else float(np.sqrt(num))


def tree_cosine(a: dict, b: dict) -> float:
    """Cosine similarity of two parameter trees flattened to vectors."""
    va = np.concatenate([to_numpy(a[n][k]).ravel() for n in b for k in b[n]]).astype(np.float64)
    vb = np.concatenate([to_numpy(b[n][k]).ravel() for n in b for k in b[n]]).astype(np.float64)
    den = np.linalg.norm(va) * np.linalg.norm(vb)
    return float(va @ vb / den) if den > 0 else float("nan")


def is_exact(order: str, steps: int, zero_w0: bool, efil: bool) -> bool:
    """Whether the contrastive form is an identity (derived; module docstring).

    With ``w_0 = 0`` and one inner step every case is exact: the SO form's dropped path through
    ``r_s`` vanishes, and MAML's first inner step leaves the encoder unchanged (its support
    gradient is ``∂ℓ/∂φ = w_0 r = 0``), so MAML = ANIL. Otherwise only FO under EFIL is exact.
    """
    return (zero_w0 and steps == 1) or (order == "fo" and efil)


def identity_table(net: Network, params: dict, batch, *, inner_lr: float, steps=(1, 3),
                   losses=("ce", "mse"), orders=("fo", "so"), zeroing=(False, True),
                   efil=(True, False)) -> list:
    """Compare the contrastive form with backprop over a grid of cases.

    Each row: ``order, steps, loss, zeroing, efil, reference`` (the engine algorithm),
    ``exact_expected`` (:func:`is_exact`), ``rel_error = ‖g_form − g_bp‖ / ‖g_bp‖`` and
    ``cosine`` over the encoder's parameters, and ``w0_norm`` (Frobenius norm of the head).
    """
    if not set(orders) <= {"fo", "so"}:
        raise ValueError(f"orders must be 'fo' or 'so', got {orders!r}")
    rows = []
    for z in zeroing:
        p = zero_head(net, params) if z else params
        w0 = float(np.linalg.norm(to_numpy(p[net[head_index(net)].name]["w"])))
        for loss in losses:
            for n in steps:
                for order in orders:
                    specs = {e: InnerSpec.named(REFERENCE[(order, e)], lr=inner_lr, steps=n,
                                                loss=loss) for e in efil}
                    form = decompose(net, p, batch, next(iter(specs.values()))).grads
                    for e, spec in specs.items():
                        bp = backprop_encoder_grad(net, p, batch, spec)
                        rows.append(dict(
                            order=order, steps=n, loss=loss, zeroing=bool(z), efil=bool(e),
                            reference=REFERENCE[(order, e)],
                            exact_expected=is_exact(order, n, w0 == 0.0, e),
                            rel_error=tree_rel_error(form, bp), cosine=tree_cosine(form, bp),
                            w0_norm=w0))
    return rows


def pair_masks(ys, yq):
    """``same (T, N_s, N_q)``: support and query share a class; ``diff`` its complement."""
    same = ys[:, :, None] == yq[:, None, :]
    return same, ~same


def coefficient_signs(net: Network, params: dict, batch, spec: InnerSpec) -> dict:
    """Signs of ``C(s, q)`` by pair type (Kao22 §3: the noise of a random or learnt ``w_0``).

    With the zeroing trick and CE, ``C = q_t − 1_{t=u}`` after one step: negative on same-class
    pairs, positive on different-class pairs. Returns ``neg_share_diff`` (share of
    different-class pairs with ``C < 0``: the "wrong-sign" pairs), ``pos_share_same`` (share of
    same-class pairs with ``C > 0``), and the mean ``C`` of each pair type. ``C`` depends on
    ``spec``'s α, τ and loss only.
    """
    xs, ys, xq, yq = batch
    hs, _ = features(net, params, xs)
    hq, _ = features(net, params, xq)
    rs, rq = head_residuals(net, params, hs, ys, hq, yq, spec)
    xp = array_module(hs)
    c = to_numpy(-xp.einsum("ptsk,tqk->tsq", rs, rq))
    same, diff = pair_masks(to_numpy(ys), to_numpy(yq))
    return {"neg_share_diff": float((c[diff] < 0).mean()),
            "pos_share_same": float((c[same] > 0).mean()),
            "mean_c_diff": float(c[diff].mean()), "mean_c_same": float(c[same].mean())}
