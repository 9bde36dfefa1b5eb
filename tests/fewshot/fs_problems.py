"""A tiny Conv-4 and one meta-batch of random episodes, shared by the few-shot tests."""

import numpy as np

from linmeta.fewshot.engine.network import conv4, init_params, tree_map

ARCHS = [("finn", "pool"), ("kao", "pool"), ("kao", "stride")]
"""Every Conv-4 variant: (block_order, downsample)."""


def tiny_problem(seed=0, *, channels, image_size, blocks, n_query, head_scale=1.0,
                 perturb=True, dtype=np.float64, arch=("finn", "pool")):
    """``(net, params, (xs, ys, xq, yq))``: 2 tasks, 3-way 2-shot, ``n_query`` queries per class.

    ``arch`` is a ``(block_order, downsample)`` pair of :data:`ARCHS`. ``perturb`` adds N(0, 0.01)
    to every parameter (so biases and BN scales are not at their initial values, which would hide
    errors in their gradients).
    """
    rng = np.random.default_rng(seed)
    order, down = arch
    if down == "stride":  # stride-2 blocks need room: 3 blocks from 13 px (13 → 6 → 2 → 1)
        image_size, blocks = max(image_size, 13), max(blocks, 3)
    net = conv4(n_way=3, channels=channels, image_size=image_size, in_channels=1, blocks=blocks,
                block_order=order, downsample=down)
    params = init_params(net, rng, head_scale=head_scale, dtype=dtype)
    if perturb:
        params = tree_map(lambda a: a + 0.1 * rng.standard_normal(a.shape), params)
    t, n_way, k, s = 2, 3, 2, image_size
    xs = rng.standard_normal((t, n_way * k, s, s, 1)).astype(dtype)
    ys = np.tile(np.repeat(np.arange(n_way), k), (t, 1))
    xq = rng.standard_normal((t, n_way * n_query, s, s, 1)).astype(dtype)
    yq = np.tile(np.repeat(np.arange(n_way), n_query), (t, 1))
    return net, params, (xs, ys, xq, yq)
