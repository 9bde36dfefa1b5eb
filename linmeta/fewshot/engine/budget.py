"""A few-shot run's memory and time, estimated from the Conv-4 its config builds.

The sizes per image (forward flops, the floats a backward pass keeps, the feature dimension,
the parameters) are counted on the network :func:`~linmeta.fewshot.engine.network.conv4` makes
for the config, so every variant (block order, pooling or stride-2 downsampling) is counted
as it runs. The estimates are lower bounds, checked against this machine by the generic
:func:`linmeta.budget.check` (memory available, ``LINMETA_MAX_HOURS``).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from linmeta.budget import FLOPS, STEP_SECONDS, check

from .network import Network, conv4
from .parallel import CACHE_BYTES

#: (classes, images per class, channels, side) of the on-disk datasets of known size.
DATASET_SIZES = {"omniglot": (1623, 20, 1, 28), "miniimagenet": (100, 600, 3, 84)}


class ImageCost(NamedTuple):
    """What one image costs a network: ``flops`` of a forward pass, the floats ``cache`` that a
    backward pass needs kept (each conv's im2col columns and output), the ``features`` the head
    reads, and the network's ``parameters``."""

    flops: float
    cache: float
    features: int
    parameters: int


def image_cost(net: Network, image_size: int, in_channels: int) -> ImageCost:
    """The :class:`ImageCost` of ``net`` on ``image_size``² images of ``in_channels`` channels.

    A conv of ``k×k`` filters, stride ``s`` and padding ``P`` maps ``(H, C_in)`` to
    ``(H_o, C_out)``, ``H_o = (H + 2P − k) // s + 1``, in ``2 k² C_in C_out H_o²`` flops, and
    keeps ``H_o² (k² C_in + C_out)`` floats; a 2×2 max-pool halves ``H`` (floor).
    """
    flops = cache = 0.0
    size, c, features, parameters = image_size, in_channels, 0, 0
    for layer in net:
        o = dict(layer.opts)
        if layer.kind == "conv":
            k, c_out = o["k"], o["c_out"]
            size = (size + 2 * o["padding"] - k) // o["stride"] + 1
            flops += 2.0 * k * k * c * c_out * size * size
            cache += size * size * (k * k * c + c_out)
            parameters += k * k * c * c_out + (c_out if o.get("bias") else 0)
            c = c_out
        elif layer.kind == "bn":
            parameters += 2 * o["c"]
        elif layer.kind == "maxpool":
            size //= 2
        elif layer.kind == "flatten":
            features = c * size * size
        elif layer.kind == "linear":
            parameters += o["f_in"] * o["f_out"] + (o["f_out"] if o.get("bias") else 0)
    return ImageCost(flops, cache, features, parameters)


def _geometry(config):
    """``(classes, images per class, channels, side)`` of the config's data, before loading:
    known sizes for the on-disk datasets, 28-pixel grey images otherwise."""
    classes, per_class, c_in, side = DATASET_SIZES.get(config.dataset, (0, 0, 1, 28))
    if config.dataset == "glyphs":
        classes, per_class = config.n_classes, 20
    size = config.image_size or side
    return classes, per_class, c_in, size


def network(config) -> Network:
    """The Conv-4 that :func:`linmeta.fewshot.engine.train.build` makes for ``config``, on the
    image size and channels of :func:`_geometry`."""
    _, _, c_in, size = _geometry(config)
    return conv4(config.n_way, config.channels, size, c_in, block_order=config.block_order,
                 downsample=config.downsample)


def fewshot_episodes(config, tasks: int, inner_steps: int, *, train: bool, trace: bool = False,
                     passes: int = 1) -> tuple[dict, float]:
    """Lower bounds for ``passes`` rounds of ``tasks`` tasks adapted ``inner_steps`` times.

    Memory: the episodes' images and the forward caches of the support set (and, in training,
    of the query set, which the meta-gradient differentiates); with ``trace`` (exact
    second-order through all layers) the caches of every inner step. The caches are those of one
    chunk of tasks (:func:`linmeta.fewshot.engine.parallel.auto_chunk`): the tasks are
    computed a chunk at a time.
    """
    _, _, c_in, size = _geometry(config)
    cost = image_cost(network(config), size, c_in)
    item = 8 if config.dtype == "float64" else 4
    support = config.n_way * config.k_shot
    images = config.n_way * (config.k_shot + config.n_query)
    kept = (images if train else support) * cost.cache
    first = images * size * size * config.channels * item  # auto_chunk's widest activation
    chunk = min(tasks, max(1, CACHE_BYTES // max(first, 1)))
    memory = {"episodes": (float(tasks) * images * size * size * c_in + chunk * kept) * item}
    if trace and inner_steps > 1:
        memory["inner-loop trace"] = float(chunk) * support * cost.cache * item * (inner_steps - 1)
    work = 3.0 * float(tasks) * (support * inner_steps + images) * cost.flops
    rate = FLOPS * (100 if config.backend == "cupy" else 1)
    seconds = passes * (STEP_SECONDS * 20 * (inner_steps + 1) + work / rate)
    return memory, seconds


def fewshot_train(config) -> tuple[dict, float]:
    """Lower bounds for :func:`linmeta.fewshot.engine.train.run` of ``config``."""
    classes, per_class, c_in, size = _geometry(config)
    cost = image_cost(network(config), size, c_in)
    memory, seconds = fewshot_episodes(config, config.meta_batch, config.inner_steps,
                                       train=True, trace=config.algorithm == "maml",
                                       passes=config.steps)
    memory["data"] = float(classes) * per_class * size * size * c_in
    memory["parameters and Adam"] = 4.0 * cost.parameters * 8
    rows = config.steps // config.eval_every + 2
    for tasks, passes in ((config.val_tasks, rows), (config.test_tasks, 1)):
        if tasks:  # evaluation runs between training steps: its episodes replace those
            m, s = fewshot_episodes(config, min(tasks, 50), config.inner_steps_test,
                                    train=False, passes=passes * -(-tasks // 50))
            memory["episodes"] = max(memory["episodes"], m["episodes"])
            seconds += s
    return memory, seconds


_EPISODE = "--n-way/--k-shot/--n-query, --channels or --image-size"
FEWSHOT_OPTIONS = {
    "episodes": f"--meta-batch (tasks), {_EPISODE}",
    "inner-loop trace": f"--inner-steps, --meta-batch (tasks), {_EPISODE}",
    "data": "--n-classes or --image-size",
    "parameters and Adam": "--channels or --image-size",
    "coefficients": "--steps or --share-tasks",
}
FEWSHOT_TIME = "--steps, --inner-steps, --meta-batch, --val-tasks/--eval-every or --test-tasks"


def check_fewshot(config) -> None:
    """Refuse a few-shot training run that cannot fit (see :func:`linmeta.budget.check`)."""
    memory, seconds = fewshot_train(config)
    check(memory, seconds, options=FEWSHOT_OPTIONS, time_options=FEWSHOT_TIME)


def check_evaluation(config, tasks: int) -> None:
    """Refuse an evaluation of ``tasks`` tasks (in batches of 50) that cannot fit."""
    memory, seconds = fewshot_episodes(config, min(tasks, 50), config.inner_steps_test,
                                       train=False, passes=-(-tasks // 50))
    check(memory, seconds, options=FEWSHOT_OPTIONS, time_options="--tasks or --inner-steps")


def check_contrastive(config, checkpoints: int, steps: tuple, tasks: int, share_tasks: int) -> None:
    """Refuse a ``fewshot contrastive`` analysis that cannot fit: 16 identity cases per inner
    step count on ``tasks`` tasks (exact second order), and the coefficient shares of every
    checkpoint on ``share_tasks`` tasks."""
    config = dataclasses.replace(config, dtype="float64")  # the analysis runs in float64
    n = max(steps)
    ident, s1 = fewshot_episodes(config, tasks, n, train=True, trace=True,
                                 passes=16 * len(steps))
    share, s2 = fewshot_episodes(config, share_tasks, n, train=False,
                                 passes=2 * checkpoints * len(steps))
    support = config.n_way * config.k_shot
    queries = config.n_way * config.n_query
    memory = {"inner-loop trace": ident.get("inner-loop trace", 0.0),
              "episodes": max(ident["episodes"], share["episodes"]),
              "coefficients": 8.0 * n * max(tasks, share_tasks) * support * queries}
    check(memory, s1 + s2, options=FEWSHOT_OPTIONS,
          time_options="--steps, --tasks or --share-tasks")
