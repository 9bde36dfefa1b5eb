"""A tiny Conv-4 and one meta-batch of random episodes, shared by the few-shot tests."""

import numpy as np

from linmeta.fewshot.network import conv4, init_params, tree_map


def tiny_problem(seed=0, *, channels, image_size, blocks, n_query, head_scale=1.0,
                 perturb=True, dtype=np.float64):
    """``(net, params, (xs, ys, xq, yq))``: 2 tasks, 3-way 2-shot, ``n_query`` queries per class.

    ``perturb`` adds N(0, 0.01) to every parameter (so biases and BN scales are not at their
    initial values, which would hide errors in their gradients).
    """
    rng = np.random.default_rng(seed)
    net = conv4(n_way=3, channels=channels, image_size=image_size, in_channels=1, blocks=blocks)
    params = init_params(net, rng, head_scale=head_scale, dtype=dtype)
    if perturb:
        params = tree_map(lambda a: a + 0.1 * rng.standard_normal(a.shape), params)
    t, n_way, k, s = 2, 3, 2, image_size
    xs = rng.standard_normal((t, n_way * k, s, s, 1)).astype(dtype)
    ys = np.tile(np.repeat(np.arange(n_way), k), (t, 1))
    xq = rng.standard_normal((t, n_way * n_query, s, s, 1)).astype(dtype)
    yq = np.tile(np.repeat(np.arange(n_way), n_query), (t, 1))
    return net, params, (xs, ys, xq, yq)
