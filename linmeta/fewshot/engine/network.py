"""A network is a tuple of :class:`Layer` specs plus a parameter tree; passes run over layer ranges.

Parameters are a two-level dict ``{layer_name: {param_name: array}}`` (layers without parameters
have no entry). Every pass accepts a layer range ``[start, stop)`` so that an inner loop that
adapts only a suffix of the network (ANIL: the head; Raghu20's layer freezing) runs the frozen
prefix once and the adapted suffix at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linmeta.backend import array_module

from .layers import LAYERS, LOSSES


@dataclass(frozen=True)
class Layer:
    """One layer: ``kind`` (a key of :data:`~linmeta.fewshot.engine.layers.LAYERS`), a unique
    ``name``, and its options as a tuple of ``(key, value)`` pairs (shapes and hyperparameters)."""

    kind: str
    name: str
    opts: tuple = ()

    def kw(self) -> dict:
        """Keyword options passed to the layer functions (shape entries excluded)."""
        return {k: v for k, v in self.opts if k in _FUNC_OPTS}

    def opt(self, key, default=None):
        return dict(self.opts).get(key, default)


_FUNC_OPTS = {"stride", "padding", "eps"}

Network = tuple  # tuple[Layer, ...]


BLOCK_ORDERS = ("finn", "kao")
#: Kaiming-normal std of a linear head, ``√(2/F)`` (PyTorch's ``kaiming_normal_`` defaults: fan-in,
#: gain √2), as a multiple of the ``√(1/F)`` of :func:`init_params`: Kao22's head.
KAIMING = float(np.sqrt(2.0))
DOWNSAMPLES = ("pool", "stride")


def conv4(
    n_way: int = 5,
    channels: int = 64,
    image_size: int = 28,
    in_channels: int = 1,
    blocks: int = 4,
    conv_bias: bool | None = None,
    head_bias: bool = True,
    block_order: str = "finn",
    downsample: str = "pool",
    bn_last: bool = True,
) -> Network:
    """Conv-4: ``blocks`` conv blocks of ``channels`` 3×3 filters, flatten, a linear head.

    ``block_order`` chooses the layers of a block:

    ``'finn'`` (Finn17, Raghu20): conv → BN → ReLU → maxpool2, run as conv, BN, maxpool, ReLU —
        the same function (max commutes with the monotone ReLU), with ReLU on a 4× smaller array.
        The features end in ReLU, so they are non-negative.
    ``'kao'`` (Kao22's code): conv → ReLU → BN → maxpool2, the last block as conv → ReLU →
        maxpool2 → BN, so that the features end in a batch norm and are centred per task.

    ``bn_last=False`` under ``'kao'`` with pooling keeps the last block as the others (conv →
    ReLU → BN → maxpool2): Kao22's mini-ImageNet net of ``cos_sim_analysis/`` (their
    ``mini_utils.get_config``), whose features are max-pooled, not centred.

    ``downsample='stride'`` is Kao22's Omniglot variant under ``'kao'``: no pooling, 3×3 convs of
    stride 2 without padding, and a last conv whose kernel covers what is left (28 → 13 → 6 → 2
    → 1 pixel with a 2×2 kernel).

    Omniglot 28×28×1 with 64 channels gives a 64-dimensional feature (28→14→7→3→1);
    mini-ImageNet 84×84×3 with 32 channels gives 32·5·5 = 800. A conv bias is redundant before a
    batch norm with batch statistics, so ``conv_bias=None`` turns it on only under ``'kao'``,
    where a ReLU sits between the conv and the batch norm (Kao22's convs have a bias).
    """
    if min(n_way, channels, image_size, in_channels, blocks) < 1:
        raise ValueError("conv4: n_way, channels, image_size, in_channels and blocks must be >= 1")
    if block_order not in BLOCK_ORDERS:
        raise ValueError(f"unknown block order {block_order!r}; choose one of {BLOCK_ORDERS}")
    if downsample not in DOWNSAMPLES:
        raise ValueError(f"unknown downsample {downsample!r}; choose one of {DOWNSAMPLES}")
    if downsample == "stride" and block_order != "kao":
        raise ValueError("conv4: downsample='stride' is Kao22's variant; use block_order='kao'")
    if conv_bias is None:
        conv_bias = block_order == "kao"
    layers = []
    c_in, size = in_channels, image_size
    for i in range(1, blocks + 1):
        last = i == blocks
        if downsample == "stride":
            k, stride = (size if last else 3), (1 if last else 2)
            if size < k or (not last and size < 5):
                raise ValueError(f"conv4: image size {image_size} is too small for {blocks} "
                                 "stride-2 blocks")
            size = (size - k) // stride + 1
        else:
            k, stride = 3, 1
            if size < 2:
                raise ValueError(f"conv4: image size {image_size} is too small for {blocks} "
                                 "blocks")
            size //= 2
        conv = Layer("conv", f"conv{i}", (("c_in", c_in), ("c_out", channels), ("k", k),
                                          ("stride", stride), ("padding", int(k == 3 and
                                                                              stride == 1)),
                                          ("bias", conv_bias)))
        bn = Layer("bn", f"bn{i}", (("c", channels),))
        pool = Layer("maxpool", f"pool{i}")
        relu = Layer("relu", f"relu{i}")
        if block_order == "finn":
            layers += [conv, bn, pool, relu]  # maxpool∘relu = relu∘maxpool; relu on 4× fewer
        elif downsample == "stride":
            layers += [conv, relu, bn]
        else:
            layers += [conv, relu, pool, bn] if last and bn_last else [conv, relu, bn, pool]
        c_in = channels
    layers += [
        Layer("flatten", "flatten"),
        Layer("linear", "head", (("f_in", channels * size * size), ("f_out", n_way),
                                 ("bias", head_bias))),
    ]
    return tuple(layers)


def head_index(net: Network) -> int:
    """Index of the last layer with parameters (the head)."""
    return max(i for i, layer in enumerate(net) if layer.kind in ("conv", "bn", "linear"))


def init_params(
    net: Network,
    rng: np.random.Generator,
    head_init: str = "random",
    head_scale: float = 1.0,
    dtype=np.float32,
    xp=np,
) -> dict:
    """He initialisation for the body; the head random ``N(0, 1/F)·s``, or zero.

    Conv weights ``N(0, 2/(9·C_in))`` (He et al. 2015), BN ``γ = 1, β = 0``, biases 0. The head's
    weights are ``s · N(0, 1/F)`` for ``head_init='random'`` (Kao22 compares s = 1, 0.5, 0) or
    exactly 0 for ``'zero'``; its bias starts at 0.
    """
    if head_init not in ("random", "zero"):
        raise ValueError(f"unknown head_init {head_init!r}; choose 'random' or 'zero'")
    params = {}
    for layer in net:
        o = dict(layer.opts)
        if layer.kind == "conv":
            k, ci, co = o["k"], o["c_in"], o["c_out"]
            p = {"w": rng.standard_normal((k, k, ci, co)) * np.sqrt(2.0 / (k * k * ci))}
            if o.get("bias"):
                p["b"] = np.zeros(co)
        elif layer.kind == "bn":
            p = {"g": np.ones(o["c"]), "b": np.zeros(o["c"])}
        elif layer.kind == "linear":
            f, k = o["f_in"], o["f_out"]
            w = rng.standard_normal((f, k)) / np.sqrt(f) * head_scale
            p = {"w": w if head_init == "random" else np.zeros((f, k))}
            if o.get("bias"):
                p["b"] = np.zeros(k)
        else:
            continue
        params[layer.name] = {k: xp.asarray(v, dtype=dtype) for k, v in p.items()}
    return params


# ---------------------------------------------------------------------------- tree helpers


def tree_map(f, *trees):
    """Apply ``f`` leaf-wise to two-level dicts of the same structure."""
    return {
        name: {k: f(*(t[name][k] for t in trees)) for k in trees[0][name]} for name in trees[0]
    }


def tree_float64(tree: dict) -> dict:
    """The parameters as float64 NumPy arrays on the host (for exact checks and probes)."""
    return tree_map(lambda a: np.asarray(a, dtype=np.float64), tree)


def flatten_tree(tree: dict, prefix: str = "") -> dict:
    """``{"conv1": {"w": a}}`` -> ``{"conv1.w": a}`` (for ``.npz`` checkpoints)."""
    return {f"{prefix}{n}.{k}": v for n, d in tree.items() for k, v in d.items()}


def unflatten_tree(flat: dict, prefix: str = "") -> dict:
    """Inverse of :func:`flatten_tree` for keys starting with ``prefix``."""
    out: dict = {}
    for key, v in flat.items():
        if key.startswith(prefix):
            n, k = key[len(prefix):].rsplit(".", 1)
            out.setdefault(n, {})[k] = v
    return out


# ---------------------------------------------------------------------------- passes


def forward(net: Network, params: dict, x, start: int = 0, stop: int | None = None):
    """Run layers ``[start, stop)`` on ``x (T, N, ...)``; returns ``(output, caches)``."""
    caches = []
    for layer in net[start:stop]:
        x, c = LAYERS[layer.kind].forward(params.get(layer.name, {}), x, **layer.kw())
        caches.append(c)
    return x, caches


def backward(net, params, caches, gy, start=0, stop=None, *, per_task, need_gx=False,
             keep_cotangents=False):
    """Reverse pass over ``[start, stop)`` from the output cotangent ``gy``.

    Returns ``(grads, gx, cotangents)``: parameter gradients (with a task axis when ``per_task``),
    the input cotangent (``None`` unless ``need_gx``), and, when ``keep_cotangents``, the list of
    each layer's output cotangent (what :func:`hvp` needs).
    """
    layers = net[start:stop]
    grads, cots = {}, [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        if keep_cotangents:
            cots[i] = gy
        gp, gy = LAYERS[layer.kind].vjp(
            params.get(layer.name, {}), caches[i], gy, per_task=per_task,
            need_gx=need_gx or i > 0, **layer.kw(),
        )
        if gp:
            grads[layer.name] = gp
    return grads, gy, cots


def hvp(net, params, caches, cots, z, y, loss: str, dparams: dict, start=0, stop=None, *,
        need_gx=False):
    """Exact Hessian-vector product of the summed per-task loss, forward mode over reverse mode.

    For ``L(θ, h) = Σ_i ℓ(f_{[start,stop)}(θ_i; h_i), y_i)`` at the point of the given ``caches``
    (forward) and ``cots`` (each layer's output cotangent from :func:`backward` with
    ``keep_cotangents``), and a tangent ``dθ = dparams`` (per task), returns
    ``(∇²_θθ L · dθ, ∇²_hθ L · dθ)``: the tangent of the parameter gradient (task axis kept) and,
    when ``need_gx``, of the input cotangent (for a frozen prefix under ANIL).
    """
    layers = net[start:stop]
    dx, tcaches = None, []
    for layer, cache in zip(layers, caches, strict=True):
        dx, tc = LAYERS[layer.kind].jvp(
            params.get(layer.name, {}), cache, dparams.get(layer.name), dx, **layer.kw()
        )
        tcaches.append(tc)
    dg = LOSSES[loss].hvp(z, y, dx) if dx is not None else None
    out = {}
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        p = params.get(layer.name, {})
        dgp, dg = LAYERS[layer.kind].vjp_jvp(
            p, caches[i], tcaches[i], cots[i], dparams.get(layer.name), dg,
            per_task=True, need_gx=need_gx or i > 0, **layer.kw(),
        )
        if p:
            t = cots[i].shape[0]
            xp = array_module(cots[i])
            dgp = dgp or {}
            out[layer.name] = {
                k: dgp.get(k) if dgp.get(k) is not None
                else xp.zeros((t,) + p[k].shape[-_param_ndim(layer, k):], dtype=p[k].dtype)
                for k in p
            }
    return out, dg


def _param_ndim(layer: Layer, key: str) -> int:
    """Rank of a parameter without the task axis."""
    if layer.kind == "conv":
        return 4 if key == "w" else 1
    if layer.kind == "linear":
        return 2 if key == "w" else 1
    return 1


def loss_and_grad(net, params, x, y, loss="ce", per_task=False):
    """Summed per-task loss, its gradient, logits: a plain forward and backward pass.

    Returns ``(losses (T,), grads, logits (T, N, K))``.
    """
    z, caches = forward(net, params, x)
    ls, gz = LOSSES[loss].value_and_grad(z, y)
    grads, _, _ = backward(net, params, caches, gz, per_task=per_task)
    return ls, grads, z
