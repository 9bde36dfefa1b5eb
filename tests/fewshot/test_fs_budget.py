"""The few-shot estimate counts the network that training builds: every Conv-4 variant, stride
included."""

import numpy as np
import pytest
from fs_problems import ARCHS

from linmeta.fewshot.engine import budget
from linmeta.fewshot.engine.network import conv4, forward, init_params
from linmeta.fewshot.engine.train import TrainConfig, build


def test_kao22_stride_net_worked_example():
    """Kao22's Omniglot net by hand: 28 → 13 → 6 → 2 px under 3×3 stride-2 convs without
    padding, then a 2×2 conv to 1 px; 64 channels."""
    net = conv4(5, 64, 28, 1, block_order="kao", downsample="stride")
    # (k, C_in, H_out) per conv: flops 2 k² C_in 64 H², cache H² (k² C_in + 64)
    convs = [(3, 1, 13), (3, 64, 6), (3, 64, 2), (2, 64, 1)]
    flops = sum(2 * k * k * c * 64 * h * h for k, c, h in convs)
    cache = sum(h * h * (k * k * c + 64) for k, c, h in convs)
    assert (flops, cache) == (3_176_576, 38_257)
    # weights and biases of the convs, 4 batch norms (γ, β), a 64 → 5 head with bias
    parameters = sum(k * k * c * 64 + 64 for k, c, _ in convs) + 4 * 2 * 64 + 64 * 5 + 5
    assert budget.image_cost(net, 28, 1) == (flops, cache, 64, parameters)


def test_stride_and_pool_nets_cost_differently():
    """The same config with pooling (28 → 14 → 7 → 3 → 1 px at padded 3×3 convs of stride 1)
    costs what its own layers do, not the stride net's."""
    base = dict(channels=64, image_size=28, block_order="kao")
    pool = budget.network(TrainConfig(**base))
    stride = budget.network(TrainConfig(**base, downsample="stride"))
    sides = [28, 14, 7, 3]
    flops = sum(2 * 9 * c * 64 * h * h for c, h in zip([1, 64, 64, 64], sides, strict=True))
    assert budget.image_cost(pool, 28, 1).flops == flops == 19_630_080
    assert budget.image_cost(stride, 28, 1).flops == 3_176_576
    assert budget.image_cost(pool, 28, 1).cache != budget.image_cost(stride, 28, 1).cache


@pytest.mark.parametrize("arch", ARCHS, ids="-".join)
@pytest.mark.parametrize("size", [28, 84])
def test_image_cost_is_what_a_forward_pass_allocates(arch, size):
    """Every conv's output and im2col columns, read off a forward pass of one image; the
    features off the flatten; the parameters off :func:`init_params`."""
    order, down = arch
    net = conv4(5, 8, size, 3, block_order=order, downsample=down)
    params = init_params(net, np.random.default_rng(0), dtype=np.float64)
    x = np.zeros((1, 1, size, size, 3))
    flops = cache = 0
    for layer in net:
        y, c = forward((layer,), params, x)
        if layer.kind == "conv":
            _, cols, _ = c[0]
            flops += 2 * cols.size * y.shape[-1]
            cache += cols.size + y.size
        if layer.kind == "flatten":
            features = y.shape[-1]
        x = y
    parameters = sum(a.size for p in params.values() for a in p.values())
    assert budget.image_cost(net, size, 3) == (flops, cache, features, parameters)


@pytest.mark.parametrize("arch", ARCHS, ids="-".join)
def test_the_estimate_builds_the_network_of_training(arch):
    order, down = arch
    cfg = TrainConfig(n_classes=40, image_size=28, channels=4, block_order=order, downsample=down)
    assert budget.network(cfg) == build(cfg)[0]


def test_stride_estimate_follows_the_stride_net():
    """Kao22's stride net runs on 13 px after its first conv, the pool net on 28: the
    estimate's time and inner-loop caches follow each net's own count."""
    base = dict(channels=64, image_size=28, block_order="kao", steps=10, val_tasks=0,
                test_tasks=0, inner_steps=3)
    pool, stride = TrainConfig(**base), TrainConfig(**base, downsample="stride")
    mp, sp = budget.fewshot_train(pool)
    ms, ss = budget.fewshot_train(stride)
    cp = budget.image_cost(budget.network(pool), 28, 1)
    cs = budget.image_cost(budget.network(stride), 28, 1)
    assert ss < sp
    # the same chunk of tasks (set by the input), so the traces scale as the caches per image
    assert ms["inner-loop trace"] / mp["inner-loop trace"] == pytest.approx(cs.cache / cp.cache)
