"""Rapid learning or feature reuse (Raghu20): layer freezing, CKA / CCA, the NIL classifier.

Everything composes the engine's public functions: :func:`~linmeta.fewshot.engine.meta.inner_loop`
with an integer ``adapts`` (the first adapted layer) freezes a prefix of the network, and
:func:`~linmeta.fewshot.engine.network.forward` over layer ranges gives each block's activations.
Classifiers are scored with :func:`linmeta.fewshot.engine.evaluate.evaluate_predictor`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from linmeta.backend import array_module, to_numpy

from ..engine.meta import InnerSpec, inner_loop
from ..engine.network import Network, forward, head_index

# ---------------------------------------------------------------------------- freezing


def conv_blocks(net: Network) -> list:
    """Layer indices of the conv layers, i.e. where each Conv-4 block starts."""
    return [i for i, layer in enumerate(net) if layer.kind == "conv"]


def first_unfrozen(net: Network, frozen: int) -> int:
    """First adapted layer when conv blocks ``1 … frozen`` are frozen (Raghu20 §4.1).

    ``frozen = 0`` adapts everything (MAML); ``frozen = #blocks`` adapts the head only.
    """
    blocks = conv_blocks(net)
    if not 0 <= frozen <= len(blocks):
        raise ValueError(f"frozen must be in 0..{len(blocks)}, got {frozen}")
    return blocks[frozen] if frozen < len(blocks) else head_index(net)


def frozen_spec(net: Network, spec: InnerSpec, frozen: int | None) -> InnerSpec:
    """``spec`` with conv blocks ``1 … frozen`` frozen (:func:`first_unfrozen`); ``None`` keeps
    what ``spec`` adapts."""
    if frozen is None:
        return spec
    return dataclasses.replace(spec, adapts=first_unfrozen(net, frozen))


def adapt_frozen(net: Network, params: dict, xs, ys, spec: InnerSpec, *,
                 frozen: int | None = None) -> dict:
    """Test-time inner loop with blocks ``1 … frozen`` frozen: ``θ_{j+1} = θ_j − α M ∇L_S(θ_j)``.

    ``M`` masks out the frozen blocks, which are returned as the very same arrays (bitwise
    unchanged); the adapted layers carry a task axis. ``spec`` gives α, τ and the loss (and
    what adapts when ``frozen`` is None). ``xs (T, N_s, H, W, C)``, ``ys (T, N_s)``.
    """
    inner = inner_loop(net, params, xs, ys, frozen_spec(net, spec, frozen))
    return {**params, **inner.theta}


def predict_frozen(net: Network, params: dict, xs, ys, xq, spec: InnerSpec, *,
                   frozen: int | None = None):
    """Query logits ``(T, N_q, K)`` after :func:`adapt_frozen`."""
    return forward(net, adapt_frozen(net, params, xs, ys, spec, frozen=frozen), xq)[0]


# ---------------------------------------------------------------------------- NIL


def nil_logits(net: Network, params: dict, xs, ys, xq, n_way: int):
    """Raghu20's NIL: no head, no inner loop; cosine similarity of penultimate features.

    ``logit_k(q) = mean_{s: t_s = k} cos(φ(q), φ(s))`` with ``φ`` every layer before the head.
    ``xs (T, N_s, ...)``, ``ys (T, N_s)``, ``xq (T, N_q, ...)``; returns ``(T, N_q, n_way)``.
    """
    hi = head_index(net)
    hs = forward(net, params, xs, 0, hi)[0]
    hq = forward(net, params, xq, 0, hi)[0]
    xp = array_module(hs)
    hs = hs / xp.maximum(xp.linalg.norm(hs, axis=-1, keepdims=True), 1e-12)
    hq = hq / xp.maximum(xp.linalg.norm(hq, axis=-1, keepdims=True), 1e-12)
    cos = xp.einsum("tqf,tsf->tqs", hq, hs)  # (T, N_q, N_s)
    onehot = (ys[..., None] == xp.arange(n_way)).astype(hs.dtype)  # (T, N_s, K)
    return xp.einsum("tqs,tsk->tqk", cos, onehot) / onehot.sum(axis=1)[:, None, :]


# ---------------------------------------------------------------------------- similarity


def _center(x):
    x = np.asarray(to_numpy(x), dtype=np.float64)
    return x - x.mean(axis=0, keepdims=True)


def linear_cka(x, y) -> float:
    """Linear CKA (Kornblith et al. 2019; Raghu20 §4.1) of ``x (n, p1)`` and ``y (n, p2)``.

    ``CKA(X, Y) = ‖YᵀX‖_F² / (‖XᵀX‖_F ‖YᵀY‖_F)`` on column-centred ``X``, ``Y``, computed with
    the ``n × n`` Gram matrices (``‖YᵀX‖_F² = ⟨XXᵀ, YYᵀ⟩``). Invariant to orthogonal maps and
    isotropic scaling of either argument; 1 for ``x = y``. Rows are examples.
    """
    xc, yc = _center(x), _center(y)
    kx, ky = xc @ xc.T, yc @ yc.T
    den = np.linalg.norm(kx) * np.linalg.norm(ky)
    return float(np.sum(kx * ky) / den) if den > 0 else float("nan")


def canonical_correlations(x, y, dims: int | None = None, tol: float = 1e-10):
    """Canonical correlations of ``x (n, p1)`` and ``y (n, p2)``, largest first.

    Centre, keep each side's top ``dims`` singular directions (SVCCA, Raghu et al. 2017; all
    directions with singular value above ``tol`` relative to the largest when ``dims`` is
    ``None``), then the correlations are the singular values of ``U_xᵀ U_y`` for orthonormal
    bases ``U`` of the two reduced column spaces. With ``n`` examples, keep ``dims`` well below
    ``n``: directions beyond it are spuriously correlated.
    """

    def basis(a):
        u, s, _ = np.linalg.svd(_center(a), full_matrices=False)
        r = int(np.sum(s > tol * s[0])) if s.size and s[0] > 0 else 0
        return u[:, : r if dims is None else min(dims, r)]

    ux, uy = basis(x), basis(y)
    return np.clip(np.linalg.svd(ux.T @ uy, compute_uv=False), 0.0, 1.0)


def cca_similarity(x, y, dims: int | None = None) -> float:
    """Mean canonical correlation (Raghu20's CCA similarity) of ``x`` and ``y``."""
    rho = canonical_correlations(x, y, dims)
    return float(rho.mean()) if rho.size else float("nan")


def block_outputs(net: Network, params: dict, x) -> dict:
    """Activations ``{name: (T, N, D)}`` after each Conv-4 block (its ReLU) and of the head.

    ``params`` may carry a task axis on any layer (adapted parameters).
    """
    cuts = conv_blocks(net)[1:] + [head_index(net), len(net)]
    names = [f"block{i + 1}" for i in range(len(cuts) - 1)] + ["head"]
    out, h, start = {}, x, 0
    for name, stop in zip(names, cuts, strict=True):
        h, _ = forward(net, params, h, start, stop)
        out[name] = h.reshape(h.shape[0], h.shape[1], -1)
        start = stop
    return out


def representation_similarity(net: Network, params: dict, xs, ys, xq, spec: InnerSpec, *,
                              frozen: int | None = None, cca_dims: int = 10) -> dict:
    """Per-layer similarity of query activations before vs after the test-time inner loop.

    The test-time inner loop is ``spec`` with blocks ``1 … frozen`` frozen (:func:`frozen_spec`).
    For each task, ``CKA(A_ℓ(θ; x_q), A_ℓ(θ_τ; x_q))`` and the mean of the top-``cca_dims``
    SVCCA correlations, averaged over tasks (Raghu20 Fig. 2). Returns
    ``{layer: {"cka": float, "cca": float}}``.
    """
    adapted = adapt_frozen(net, params, xs, ys, spec, frozen=frozen)
    before = block_outputs(net, params, xq)
    after = block_outputs(net, adapted, xq)
    res = {}
    for name in before:
        a, b = to_numpy(before[name]), to_numpy(after[name])
        res[name] = {
            "cka": float(np.mean([linear_cka(a[i], b[i]) for i in range(a.shape[0])])),
            "cca": float(np.mean([cca_similarity(a[i], b[i], cca_dims)
                                  for i in range(a.shape[0])])),
        }
    return res


def feature_cosines(net: Network, params: dict, x):
    """Cosine-similarity matrix ``(N, N)`` of the penultimate features of one batch ``x (N, ...)``.

    The batch is run as one task (batch norm uses its statistics).
    """
    h = to_numpy(forward(net, params, x[None], 0, head_index(net))[0][0]).astype(np.float64)
    h = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
    return h @ h.T


def same_class_contrast(cos, labels) -> dict:
    """Mean cosine of same-class and of different-class pairs (diagonal excluded)."""
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    return {"same": float(cos[same & off].mean()), "diff": float(cos[~same].mean())}

