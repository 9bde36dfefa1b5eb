"""Split a meta-batch into task chunks (cache blocking) and over worker threads (parallelism).

NumPy's elementwise operations (batch norm, pooling, im2col) run on one core, and a multi-
threaded BLAS synchronises its threads on every (often small, per-task) GEMM. Every layer acts
on each task separately, so the meta-gradient of T tasks is the task-weighted sum of the
meta-gradients of any partition: ``∇F = Σ_c (T_c / T) ∇F_c``. Running the chunks in threads
(NumPy releases the GIL inside its kernels), each with a single-threaded BLAS, parallelises the
whole step. The result equals the serial one up to floating-point summation order.

BLAS threads are limited with ``threadpoolctl`` for the duration of the threaded region. Its
limit is process-wide, not per thread: every BLAS call in the process (the worker threads' and
any other) runs on one thread while the region lasts, which is what the region wants, and the
previous setting is restored after it.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from linmeta.backend import array_module

from .meta import InnerSpec, meta_gradient
from .network import tree_map


@functools.cache
def _blas():
    """The BLAS libraries loaded in this process, inspected once, at the first threaded step
    (not at import: the command line starts without it)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


CACHE_BYTES = 4 << 20  # the activation of one chunk's widest layer should stay in cache


def auto_chunk(net, batch) -> int:
    """Tasks per chunk so that one chunk's widest activation, the first conv's output over its
    support and query images, takes at most :data:`CACHE_BYTES` (and at least one task).

    Every layer acts on each task separately, so a meta-batch can be computed a few tasks at a
    time: the activations of a chunk stay in the CPU's cache instead of streaming through memory
    (at 28 px and 32 channels one task's first activation is 3 MB; eight tasks' are 24 MB).
    """
    xs, _, xq, _ = batch
    c_out = next((dict(layer.opts)["c_out"] for layer in net if layer.kind == "conv"), 1)
    per_task = (xs[0].size + xq[0].size) // max(xs.shape[-1], 1) * c_out * xs.dtype.itemsize
    return max(1, CACHE_BYTES // max(per_task, 1))


def task_bounds(t: int, chunk: int) -> list:
    """``[(lo, hi), ...]``: consecutive chunks of at most ``chunk`` tasks covering ``0 … t``."""
    return [(lo, min(lo + chunk, t)) for lo in range(0, t, chunk)]


def meta_gradient_threads(net, params, batch, spec: InnerSpec, *, workers: int = 1,
                          chunk: int | None = None):
    """:func:`~linmeta.fewshot.engine.meta.meta_gradient` over task chunks, split over ``workers``.

    ``∇F = Σ_c (T_c/T) ∇F_c`` over consecutive chunks of at most ``chunk`` tasks (default
    :func:`auto_chunk`); each of the ``workers`` threads sums its own consecutive run of chunks
    in order, and the threads' sums are added in order, so the result is deterministic for a
    given ``(workers, chunk)``. One worker and ``chunk >= T`` is exactly ``meta_gradient``.
    """
    t = batch[0].shape[0]
    chunk = max(1, int(chunk or auto_chunk(net, batch)))
    bounds = task_bounds(t, chunk)
    workers = max(1, min(int(workers), len(bounds)))
    if workers == 1 and len(bounds) == 1:
        return meta_gradient(net, params, batch, spec)
    cuts = np.linspace(0, len(bounds), workers + 1).round().astype(int)
    groups = [bounds[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]

    def run(group):
        acc = None
        for lo, hi in group:
            g, info = meta_gradient(net, params, tuple(a[lo:hi] for a in batch), spec)
            w = (hi - lo) / t
            part = (tree_map(lambda a, w=w: w * a, g), {k: w * v for k, v in info.items()})
            acc = part if acc is None else (tree_map(lambda a, b: a + b, acc[0], part[0]),
                                             {k: acc[1][k] + part[1][k] for k in acc[1]})
        return acc

    if workers == 1:
        results = [run(groups[0])]
    else:
        with _blas().limit(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as ex:
            results = list(ex.map(run, groups))
    grads = results[0][0]
    info = dict(results[0][1])
    for g, i in results[1:]:
        grads = tree_map(lambda a, b: a + b, grads, g)
        info = {k: info[k] + i[k] for k in info}
    return grads, {k: float(v) for k, v in info.items()}


def map_tasks(fn, arrays, chunk: int):
    """``fn(*arrays)`` computed ``chunk`` tasks at a time and concatenated on the task axis.

    For per-task computations (adaptation and prediction at test time), so that a large batch of
    evaluation tasks runs in cache-sized pieces; the values are those of one call.
    """
    t = arrays[0].shape[0]
    if chunk >= t:
        return fn(*arrays)
    outs = [fn(*(a[lo:hi] for a in arrays)) for lo, hi in task_bounds(t, chunk)]
    xp = array_module(outs[0])
    return xp.concatenate(outs, axis=0)
