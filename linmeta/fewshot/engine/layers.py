"""Layers of the few-shot ConvNet as pure functions: forward, VJP, JVP and the JVP of the VJP.

Every layer works on a leading task axis: activations are ``(T, N, H, W, C)`` (channels last)
or ``(T, N, F)``. A parameter is either *shared* (no task axis, e.g. ``w`` of shape
``(3, 3, C_in, C_out)``) or *per task* (leading axis ``T``, e.g. ``(T, 3, 3, C_in, C_out)``):
the inner loop of MAML gives every task its own copy, while the initial point is shared.

A layer is four functions (collected in :data:`LAYERS`):

``forward(p, x, **opts) -> (y, cache)``
    the layer's map ``y = f(p, x)``.
``vjp(p, cache, gy, *, per_task, need_gx, **opts) -> (gp, gx)``
    the pull-back ``(∂f/∂p)ᵀ gy, (∂f/∂x)ᵀ gy``. ``per_task=True`` keeps the task axis on the
    parameter gradients (what an inner step needs); ``False`` sums it (a shared parameter's
    gradient). ``need_gx=False`` skips the input cotangent (first layer).
``jvp(p, cache, dp, dx, **opts) -> (dy, tcache)``
    the tangent ``dy = ∂f/∂p dp + ∂f/∂x dx``; ``None`` stands for a zero tangent.
``vjp_jvp(p, cache, tcache, gy, dp, dgy, *, per_task, need_gx, **opts) -> (dgp, dgx)``
    the tangent of ``vjp`` along ``(dp, dx, dgy)`` (forward mode over the backward pass). Chained
    through a network and started from the loss's Hessian-vector product, it gives the exact
    Hessian-vector product of the loss — the quantity the exact MAML pull-back
    ``v ← v − α H v`` needs (Finn17; docs/theory.md §2.2).

ReLU and max-pool are piecewise linear: their second derivatives vanish almost everywhere, so
their ``vjp_jvp`` applies the same mask as their ``vjp``.

Losses (:data:`LOSSES`) map logits ``z (T, N, K)`` and integer labels ``y (T, N)`` to the
per-task loss ``(T,)``; the gradient returned is that of the *sum* over tasks, so each task's
slice is the gradient of its own loss.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from linmeta.backend import array_module


class LayerOps(NamedTuple):
    """The four pure functions that define a layer (see the module docstring)."""

    forward: object
    vjp: object
    jvp: object
    vjp_jvp: object


class LossOps(NamedTuple):
    """A loss: ``value_and_grad(z, y) -> (loss (T,), grad (T,N,K))``; ``hvp(z, y, dz)``."""

    value_and_grad: object
    hvp: object


# ---------------------------------------------------------------------------- helpers


def _add(a, b):
    """Sum of two optional arrays (``None`` is zero)."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _bc(a, ndim):
    """Broadcast a per-channel parameter, shared ``(C,)`` or per task ``(T, C)``, to ``ndim``."""
    if a.ndim == 1:
        return a
    return a.reshape((a.shape[0],) + (1,) * (ndim - 2) + (a.shape[-1],))


def _matmul_w(x2, w2):
    """``x2 @ w2`` for ``x2 (T, M, K)`` and ``w2`` shared ``(K, J)`` or per task ``(T, K, J)``.

    A shared weight folds the tasks into one GEMM ``(T·M, K) @ (K, J)``.
    """
    if w2.ndim == 2:
        t, m, k = x2.shape
        return (x2.reshape(t * m, k) @ w2).reshape(t, m, w2.shape[-1])
    return x2 @ w2


def _outer_grad(a2, g2, per_task):
    """``a2ᵀ g2`` per task ``(T, K, J)`` or summed over tasks ``(K, J)``.

    ``a2 (T, M, K)``, ``g2 (T, M, J)``.
    """
    if per_task:
        return a2.transpose(0, 2, 1) @ g2
    t, m, k = a2.shape
    return a2.reshape(t * m, k).T @ g2.reshape(t * m, g2.shape[-1])


def _sum_param(a, per_task):
    """Sum ``a (T, ..., C)`` over all axes but the last (and the first when ``per_task``)."""
    if per_task:
        return a.sum(axis=tuple(range(1, a.ndim - 1)))
    return a.sum(axis=tuple(range(a.ndim - 1)))


# ---------------------------------------------------------------------------- conv2d


def _im2col(x, k, stride, padding):
    """Patches of ``x (T, N, H, W, C)`` as ``(T, N·Ho·Wo, k·k·C)``, ordered ``(kh, kw, c)``.

    With NumPy and C > 1 one strided copy from a sliding-window view; otherwise k² slice copies
    (C = 1 and CuPy).
    """
    xp = array_module(x)
    t, n, h, w, c = x.shape
    ho = (h + 2 * padding - k) // stride + 1
    wo = (w + 2 * padding - k) // stride + 1
    if padding:
        xpad = xp.zeros((t, n, h + 2 * padding, w + 2 * padding, c), dtype=x.dtype)
        xpad[:, :, padding : padding + h, padding : padding + w, :] = x
    else:
        xpad = x
    if xp is np and c > 1:
        v = np.lib.stride_tricks.sliding_window_view(xpad, (k, k), axis=(2, 3))
        v = v[:, :, : stride * (ho - 1) + 1 : stride, : stride * (wo - 1) + 1 : stride]
        cols = np.ascontiguousarray(v.transpose(0, 1, 2, 3, 5, 6, 4))  # (T, N, Ho, Wo, k, k, C)
        return cols.reshape(t, n * ho * wo, k * k * c), (ho, wo)
    cols = xp.empty((t, n, ho, wo, k * k, c), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, :, i * k + j, :] = xpad[
                :, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride
            ]
    return cols.reshape(t, n * ho * wo, k * k * c), (ho, wo)


def _input_grad(g, w, x_shape, hw, k, stride, padding):
    """``(∂ conv / ∂x)ᵀ g`` for ``g (T, N, Ho, Wo, C_out)``, weight ``w`` shared or per task.

    Stride 1: a correlation of ``g`` zero-padded by ``k−1−P`` with the flipped, transposed kernel
    (one im2col and one GEMM). Other strides: ``col2im(g wᵀ)``.
    """
    t, n, ho, wo, co = g.shape
    if stride == 1 and padding <= k - 1:
        wf = w[..., ::-1, ::-1, :, :]
        wf = _swap_io(wf)  # (…, k, k, C_out, C_in)
        cols, _ = _im2col(g, k, 1, k - 1 - padding)
        gx = _matmul_w(cols, _w2(wf))
        return gx.reshape(x_shape)
    g2 = g.reshape(t, -1, co)
    return _col2im(_matmul_w(g2, _w2t(_w2(w))), x_shape, hw, k, stride, padding)


def _swap_io(w):
    """Swap the last two axes (C_in, C_out) of a conv weight, as a contiguous array."""
    xp = array_module(w)
    return xp.ascontiguousarray(xp.swapaxes(w, -1, -2))


def _col2im(gcols, x_shape, out_hw, k, stride, padding):
    """Adjoint of :func:`_im2col`: scatter-add ``gcols (T, N·Ho·Wo, k·k·C)`` back to ``x_shape``."""
    xp = array_module(gcols)
    t, n, h, w, c = x_shape
    ho, wo = out_hw
    g = gcols.reshape(t, n, ho, wo, k * k, c)
    gpad = xp.zeros((t, n, h + 2 * padding, w + 2 * padding, c), dtype=gcols.dtype)
    for i in range(k):
        for j in range(k):
            gpad[
                :, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride
            ] += g[:, :, :, :, i * k + j, :]
    return gpad[:, :, padding : padding + h, padding : padding + w, :]


def _w2(w):
    """Conv weight ``(k, k, C_in, C_out)`` or ``(T, k, k, C_in, C_out)`` as a matrix (stack)."""
    if w.ndim == 4:
        return w.reshape(-1, w.shape[-1])
    return w.reshape(w.shape[0], -1, w.shape[-1])


def _w2t(w2):
    return w2.T if w2.ndim == 2 else w2.transpose(0, 2, 1)


def conv_forward(p, x, stride=1, padding=1):
    """Cross-correlation ``y[n, i, j, :] = Σ_{a,b,c} x[n, s·i+a−P, s·j+b−P, c] w[a, b, c, :] + b``.

    Parameters
    ----------
    p : dict
        ``w`` ``(k, k, C_in, C_out)`` or ``(T, k, k, C_in, C_out)``; optional ``b`` ``(C_out,)`` or
        ``(T, C_out)``.
    x : array ``(T, N, H, W, C_in)``
    stride, padding : int
        Zero padding ``P`` on each side; output ``Ho = (H + 2P − k) // s + 1``.

    Implemented as one GEMM over im2col patches, tasks folded into the row axis when ``w`` is
    shared (Finn17's Conv-4 uses k = 3, P = 1, s = 1).
    """
    w = p["w"]
    k = w.shape[-3]
    t, n = x.shape[:2]
    cols, (ho, wo) = _im2col(x, k, stride, padding)  # (T, N·Ho·Wo, k·k·C_in)
    y = _matmul_w(cols, _w2(w))  # (T, N·Ho·Wo, C_out)
    y = y.reshape(t, n, ho, wo, w.shape[-1])
    if "b" in p:
        y += _bc(p["b"], 5)
    return y, (x.shape, cols, (ho, wo))


def conv_vjp(p, cache, gy, *, per_task, need_gx, stride=1, padding=1):
    """Pull-back of :func:`conv_forward`: ``gw = colsᵀ gy``, ``gb = Σ gy``,
    ``gx = col2im(gy wᵀ)``."""
    x_shape, cols, hw = cache
    w = p["w"]
    k = w.shape[-3]
    t = gy.shape[0]
    g2 = gy.reshape(t, -1, gy.shape[-1])  # (T, M, C_out)
    per = per_task or w.ndim == 5
    gp = {"w": _outer_grad(cols, g2, per).reshape((t,) * per + w.shape[-4:])}
    if "b" in p:
        gp["b"] = _sum_param(g2, per)
    gx = _input_grad(gy, w, x_shape, hw, k, stride, padding) if need_gx else None
    return gp, gx


def conv_jvp(p, cache, dp, dx, stride=1, padding=1):
    """Tangent ``dy = conv(dx; w) + conv(x; dw) + db`` of :func:`conv_forward`."""
    x_shape, cols, (ho, wo) = cache
    w = p["w"]
    k = w.shape[-3]
    t, n = x_shape[:2]
    dy = dcols = None
    if dx is not None:
        dcols, _ = _im2col(dx, k, stride, padding)
        dy = _matmul_w(dcols, _w2(w))
    if dp is not None:
        dy = _add(dy, _matmul_w(cols, _w2(dp["w"])))
    if dy is None:
        return None, None
    dy = dy.reshape(t, n, ho, wo, w.shape[-1])
    if dp is not None and "b" in dp:
        dy = dy + _bc(dp["b"], 5)
    return dy, dcols


def conv_vjp_jvp(p, cache, tcache, gy, dp, dgy, *, per_task, need_gx, stride=1, padding=1):
    """Tangent of :func:`conv_vjp`: ``dgw = dcolsᵀ gy + colsᵀ dgy``,
    ``dgx = col2im(dgy wᵀ + gy dwᵀ)``."""
    x_shape, cols, hw = cache
    dcols = tcache
    w = p["w"]
    k = w.shape[-3]
    t = gy.shape[0]
    if dcols is None and dp is None and dgy is None:
        return None, None
    g2 = gy.reshape(t, -1, gy.shape[-1])
    dg2 = None if dgy is None else dgy.reshape(t, -1, dgy.shape[-1])
    per = per_task or w.ndim == 5
    dgw = None
    if dcols is not None:
        dgw = _outer_grad(dcols, g2, per)
    if dg2 is not None:
        dgw = _add(dgw, _outer_grad(cols, dg2, per))
    dgp = {}
    if dgw is not None:
        dgp["w"] = dgw.reshape((t,) * per + w.shape[-4:])
    else:
        dgp["w"] = None
    if "b" in p:
        dgp["b"] = None if dg2 is None else _sum_param(dg2, per)
    dgx = None
    if need_gx:
        if dgy is not None:
            dgx = _input_grad(dgy, w, x_shape, hw, k, stride, padding)
        if dp is not None:
            dgx = _add(dgx, _input_grad(gy, dp["w"], x_shape, hw, k, stride, padding))
    return dgp, dgx


# ---------------------------------------------------------------------------- batch norm


def _mean(a, axes):
    return a.mean(axis=axes, keepdims=True)


def _chan_sum(a, b=None):
    """``Σ a`` (or ``Σ a ⊙ b``) over all axes but the first and last, keepdims: ``(T, 1, …, C)``."""
    xp = array_module(a)
    t, c = a.shape[0], a.shape[-1]
    a2 = a.reshape(t, -1, c)
    s = xp.einsum("tmc->tc", a2) if b is None else xp.einsum("tmc,tmc->tc", a2, b.reshape(t, -1, c))
    return s.reshape((t,) + (1,) * (a.ndim - 2) + (c,))


def bn_forward(p, x, eps=1e-5):
    """Batch norm with the batch's statistics, per task (Finn17, Ioffe & Szegedy 2015).

    ``x̂ = (x − μ) / √(σ² + ε)``, ``y = γ x̂ + β``, with ``μ, σ²`` the mean and biased variance of
    each channel over all axes but the task axis and the channel axis.

    Parameters
    ----------
    p : dict
        ``g`` (γ) and ``b`` (β), each ``(C,)`` or ``(T, C)``.
    x : array ``(T, N, H, W, C)`` or ``(T, N, C)``

    The cache holds the centred input ``x − μ`` and ``1/σ`` (σ = √(σ² + ε)); ``x̂`` is formed
    only where needed, which saves a pass and an allocation over the whole activation.
    """
    xp = array_module(x)
    m = x.size // (x.shape[0] * x.shape[-1])
    xc = x - _chan_sum(x) / m
    inv = 1.0 / xp.sqrt(_chan_sum(xc, xc) / m + eps)  # (T, 1, ..., 1, C)
    y = xc * (_bc(p["g"], x.ndim) * inv)
    y += _bc(p["b"], x.ndim)
    return y, (xc, inv)


def _xh(cache):
    xc, inv = cache
    return xc * inv


def _bn_proj(u, xh, axes):
    """``P(u) = u − mean(u) − x̂ · mean(u x̂)``: the projection in batch norm's Jacobian."""
    return u - _mean(u, axes) - xh * _mean(u * xh, axes)


def bn_vjp(p, cache, gy, *, per_task, need_gx, eps=1e-5):
    """``gγ = Σ gy x̂``, ``gβ = Σ gy``, ``gx = γ/σ · P(gy)`` (σ = √(σ² + ε)).

    Computed as ``gx = k gy − (k/σ² · mean(gy (x−μ))) (x−μ) − k mean(gy)`` with ``k = γ/σ``:
    per-channel coefficients and two passes over the activation.
    """
    xc, inv = cache
    nd = xc.ndim
    m = xc.size // (xc.shape[0] * xc.shape[-1])
    s_gy = _chan_sum(gy)  # (T, 1, ..., C)
    s_gyxc = _chan_sum(gy, xc)
    per = per_task or p["g"].ndim == 2
    t, c = xc.shape[0], xc.shape[-1]
    gg, gb = (inv * s_gyxc).reshape(t, c), s_gy.reshape(t, c)
    gp = {"g": gg if per else gg.sum(0), "b": gb if per else gb.sum(0)}
    gx = None
    if need_gx:
        k = _bc(p["g"], nd) * inv
        gx = gy * k
        gx -= xc * (k * inv * inv * s_gyxc / m)
        gx -= k * s_gy / m
    return gp, gx


def bn_jvp(p, cache, dp, dx, eps=1e-5):
    """``dx̂ = P(dx)/σ``, ``d(1/σ) = −mean(x̂ dx)/σ²``, ``dy = γ dx̂ + dγ x̂ + dβ``."""
    xh, inv = _xh(cache), cache[1]
    nd = xh.ndim
    axes = tuple(range(1, nd - 1))
    dy = dxh = dinv = None
    if dx is not None:
        dxh = inv * _bn_proj(dx, xh, axes)
        dinv = -inv * inv * _mean(xh * dx, axes)
        dy = _bc(p["g"], nd) * dxh
    if dp is not None:
        dy = _add(dy, _bc(dp["g"], nd) * xh + _bc(dp["b"], nd))
    return dy, (dxh, dinv)


def bn_vjp_jvp(p, cache, tcache, gy, dp, dgy, *, per_task, need_gx, eps=1e-5):
    """Tangent of :func:`bn_vjp`.

    ``dgx = (dγ/σ + γ d(1/σ)) P(gy) + γ/σ [P(dgy) − dx̂ mean(gy x̂) − x̂ mean(gy dx̂)]``,
    ``dgγ = Σ (dgy x̂ + gy dx̂)``, ``dgβ = Σ dgy`` (derived; checked against finite differences).
    """
    xh, inv = _xh(cache), cache[1]
    dxh, dinv = tcache if tcache is not None else (None, None)
    nd = xh.ndim
    axes = tuple(range(1, nd - 1))
    per = per_task or p["g"].ndim == 2
    if dxh is None and dp is None and dgy is None:
        return None, None
    dgg = None if dgy is None else dgy * xh
    if dxh is not None:
        dgg = _add(dgg, gy * dxh)
    dgp = {
        "g": None if dgg is None else _sum_param(dgg, per),
        "b": None if dgy is None else _sum_param(dgy, per),
    }
    dgx = None
    if need_gx:
        g = _bc(p["g"], nd)
        coef = None  # d(γ/σ)
        if dp is not None:
            coef = _bc(dp["g"], nd) * inv
        if dinv is not None:
            coef = _add(coef, g * dinv)
        if coef is not None:
            dgx = coef * _bn_proj(gy, xh, axes)
        inner = None  # d P(gy)
        if dgy is not None:
            inner = _bn_proj(dgy, xh, axes)
        if dxh is not None:
            inner = _add(inner, -dxh * _mean(gy * xh, axes) - xh * _mean(gy * dxh, axes))
        if inner is not None:
            dgx = _add(dgx, g * inv * inner)
    return dgp, dgx


# ---------------------------------------------------------------------------- relu


def relu_forward(p, x):
    """``y = max(x, 0)``."""
    mask = x > 0
    return x * mask, mask


def relu_vjp(p, cache, gy, *, per_task, need_gx):
    """``gx = gy · 1[x > 0]``."""
    return {}, gy * cache


def relu_jvp(p, cache, dp, dx):
    """``dy = dx · 1[x > 0]``."""
    return (None if dx is None else dx * cache), None


def relu_vjp_jvp(p, cache, tcache, gy, dp, dgy, *, per_task, need_gx):
    """``dgx = dgy · 1[x > 0]`` (the second derivative vanishes almost everywhere)."""
    return {}, (None if dgy is None else dgy * cache)


# ---------------------------------------------------------------------------- max-pool 2x2


def _quadrants(x, ho, wo):
    return (
        x[:, :, 0 : 2 * ho : 2, 0 : 2 * wo : 2],
        x[:, :, 0 : 2 * ho : 2, 1 : 2 * wo : 2],
        x[:, :, 1 : 2 * ho : 2, 0 : 2 * wo : 2],
        x[:, :, 1 : 2 * ho : 2, 1 : 2 * wo : 2],
    )


def pool_forward(p, x):
    """2×2 max-pool, stride 2, floor mode: ``y[i, j] = max_{a,b ∈ {0,1}} x[2i+a, 2j+b]``.

    ``x (T, N, H, W, C) -> (T, N, H//2, W//2, C)``; ties go to the first of (00, 01, 10, 11).
    """
    xp = array_module(x)
    ho, wo = x.shape[2] // 2, x.shape[3] // 2
    a, b, c, d = _quadrants(x, ho, wo)
    m1 = a >= b
    m2 = c >= d
    y = xp.maximum(a, b)
    cd = xp.maximum(c, d)
    m3 = y >= cd
    xp.maximum(y, cd, out=y)
    return y, (x.shape, m1, m2, m3)


def _pool_scatter(g, cache):
    x_shape, m1, m2, m3 = cache
    xp = array_module(g)
    ho, wo = g.shape[2], g.shape[3]
    even = x_shape[2] == 2 * ho and x_shape[3] == 2 * wo
    gx = (xp.empty if even else xp.zeros)(x_shape, dtype=g.dtype)
    qa, qb, qc, qd = _quadrants(gx, ho, wo)
    top = g * m3
    bot = g - top
    xp.multiply(top, m1, out=qa)
    xp.subtract(top, qa, out=qb)
    xp.multiply(bot, m2, out=qc)
    xp.subtract(bot, qc, out=qd)
    return gx


def pool_vjp(p, cache, gy, *, per_task, need_gx):
    """Route ``gy`` to the arg-max of each window."""
    return {}, _pool_scatter(gy, cache)


def pool_jvp(p, cache, dp, dx):
    """Gather ``dx`` at the arg-max of each window."""
    if dx is None:
        return None, None
    xp = array_module(dx)
    _, m1, m2, m3 = cache
    a, b, c, d = _quadrants(dx, m1.shape[2], m1.shape[3])
    return xp.where(m3, xp.where(m1, a, b), xp.where(m2, c, d)), None


def pool_vjp_jvp(p, cache, tcache, gy, dp, dgy, *, per_task, need_gx):
    """Route ``dgy`` like :func:`pool_vjp` (piecewise linear: no second-order term)."""
    return {}, (None if dgy is None else _pool_scatter(dgy, cache))


# ---------------------------------------------------------------------------- flatten


def flatten_forward(p, x):
    """``(T, N, H, W, C) -> (T, N, H·W·C)``."""
    return x.reshape(x.shape[0], x.shape[1], -1), x.shape


def flatten_vjp(p, cache, gy, *, per_task, need_gx):
    return {}, gy.reshape(cache)


def flatten_jvp(p, cache, dp, dx):
    return (None if dx is None else dx.reshape(dx.shape[0], dx.shape[1], -1)), None


def flatten_vjp_jvp(p, cache, tcache, gy, dp, dgy, *, per_task, need_gx):
    return {}, (None if dgy is None else dgy.reshape(cache))


# ---------------------------------------------------------------------------- linear


def linear_forward(p, x):
    """``z = x w + b``; ``x (T, N, F)``, ``w (F, K)`` or ``(T, F, K)``, ``b (K,)`` or ``(T, K)``.

    The linear head of Conv-4 (Finn17); Kao22 writes its columns as ``w^k``.
    """
    y = _matmul_w(x, p["w"])
    if "b" in p:
        b = p["b"]
        y = y + (b if b.ndim == 1 else b[:, None, :])
    return y, x


def linear_vjp(p, cache, gy, *, per_task, need_gx):
    """``gw = xᵀ gy``, ``gb = Σ_n gy``, ``gx = gy wᵀ``."""
    x = cache
    w = p["w"]
    per = per_task or w.ndim == 3
    gp = {"w": _outer_grad(x, gy, per)}
    if "b" in p:
        gp["b"] = _sum_param(gy, per)
    gx = _matmul_w(gy, _w2t(w)) if need_gx else None
    return gp, gx


def linear_jvp(p, cache, dp, dx):
    """``dz = dx w + x dw + db``."""
    x = cache
    dy = None if dx is None else _matmul_w(dx, p["w"])
    if dp is not None:
        dy = _add(dy, _matmul_w(x, dp["w"]))
        if "b" in dp:
            b = dp["b"]
            dy = dy + (b if b.ndim == 1 else b[:, None, :])
    return dy, dx


def linear_vjp_jvp(p, cache, tcache, gy, dp, dgy, *, per_task, need_gx):
    """``dgw = dxᵀ gy + xᵀ dgy``, ``dgb = Σ_n dgy``, ``dgx = dgy wᵀ + gy dwᵀ``."""
    x, dx = cache, tcache
    w = p["w"]
    per = per_task or w.ndim == 3
    if dx is None and dp is None and dgy is None:
        return None, None
    dgw = None if dx is None else _outer_grad(dx, gy, per)
    if dgy is not None:
        dgw = _add(dgw, _outer_grad(x, dgy, per))
    dgp = {"w": dgw}
    if "b" in p:
        dgp["b"] = None if dgy is None else _sum_param(dgy, per)
    dgx = None
    if need_gx:
        if dgy is not None:
            dgx = _matmul_w(dgy, _w2t(w))
        if dp is not None:
            dgx = _add(dgx, _matmul_w(gy, _w2t(dp["w"])))
    return dgp, dgx


LAYERS: dict[str, LayerOps] = {
    "conv": LayerOps(conv_forward, conv_vjp, conv_jvp, conv_vjp_jvp),
    "bn": LayerOps(bn_forward, bn_vjp, bn_jvp, bn_vjp_jvp),
    "relu": LayerOps(relu_forward, relu_vjp, relu_jvp, relu_vjp_jvp),
    "maxpool": LayerOps(pool_forward, pool_vjp, pool_jvp, pool_vjp_jvp),
    "flatten": LayerOps(flatten_forward, flatten_vjp, flatten_jvp, flatten_vjp_jvp),
    "linear": LayerOps(linear_forward, linear_vjp, linear_jvp, linear_vjp_jvp),
}


# ---------------------------------------------------------------------------- losses


def _onehot(y, k, dtype):
    xp = array_module(y)
    return (y[..., None] == xp.arange(k)).astype(dtype)


def _softmax(z):
    xp = array_module(z)
    e = xp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ce_value_and_grad(z, y):
    """Softmax cross-entropy ``L_i = −(1/N) Σ_n log softmax(z_n)[y_n]`` per task.

    ``z (T, N, K)``, ``y (T, N)`` integer labels. Returns ``(L (T,), ∂(Σ_i L_i)/∂z = (p − e_y)/N)``.
    """
    xp = array_module(z)
    n, k = z.shape[1], z.shape[2]
    zm = z - z.max(axis=-1, keepdims=True)
    lse = xp.log(xp.exp(zm).sum(axis=-1))  # (T, N)
    picked = xp.take_along_axis(zm, y[..., None], axis=-1)[..., 0]
    loss = (lse - picked).mean(axis=1)
    p = _softmax(z)
    return loss, (p - _onehot(y, k, z.dtype)) / n


def ce_hvp(z, y, dz):
    """``d(∂L/∂z) = (p ⊙ dz − p (pᵀ dz)) / N`` (the softmax Jacobian times dz)."""
    p = _softmax(z)
    pdz = p * dz
    return (pdz - p * pdz.sum(axis=-1, keepdims=True)) / z.shape[1]


def mse_value_and_grad(z, y):
    """Squared error on one-hot targets, ``L_i = (1/2N) Σ_n ‖z_n − e_{y_n}‖²`` (Kao22 Fig. 1)."""
    n, k = z.shape[1], z.shape[2]
    r = z - _onehot(y, k, z.dtype)
    return 0.5 * (r * r).sum(axis=(1, 2)) / n, r / n


def mse_hvp(z, y, dz):
    """``d(∂L/∂z) = dz / N``."""
    return dz / z.shape[1]


LOSSES: dict[str, LossOps] = {
    "ce": LossOps(ce_value_and_grad, ce_hvp),
    "mse": LossOps(mse_value_and_grad, mse_hvp),
}


def accuracy(z, y):
    """Per-task accuracy ``(T,)`` of the arg-max of ``z (T, N, K)`` against ``y (T, N)``."""
    return (z.argmax(axis=-1) == y).mean(axis=1)
