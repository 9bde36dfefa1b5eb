"""Split a meta-batch over worker threads: task parallelism for the NumPy backend.

NumPy's elementwise operations (batch norm, pooling, im2col) run on one core, and a multi-
threaded BLAS synchronises its threads on every (often small, per-task) GEMM. Every layer acts
on each task separately, so the meta-gradient of T tasks is the task-weighted sum of the
meta-gradients of any partition: ``∇F = Σ_c (T_c / T) ∇F_c``. Running the chunks in threads
(NumPy releases the GIL inside its kernels), each with a single-threaded BLAS, parallelises the
whole step. The result equals the serial one up to floating-point summation order.
"""

from __future__ import annotations

import ctypes
import glob
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .meta import meta_gradient
from .network import tree_map


def _openblas_set_threads_local():
    """OpenBLAS's per-thread ``openblas_set_num_threads_local`` from NumPy's bundle, or None."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
        except OSError:
            continue
        if fn is not None:
            fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
            return fn
    return None


_SET_LOCAL = _openblas_set_threads_local()


def _one_blas_thread(fn, *args, **kw):
    if _SET_LOCAL is None:
        return fn(*args, **kw)
    prev = _SET_LOCAL(1)
    try:
        return fn(*args, **kw)
    finally:
        _SET_LOCAL(max(prev, 1))


def meta_gradient_threads(net, params, batch, *, workers: int = 1, **kw):
    """:func:`~linmeta.fewshot.meta.meta_gradient` with the tasks split over ``workers`` threads.

    ``∇F = Σ_c (T_c/T) ∇F_c`` over contiguous task chunks; deterministic for a given ``workers``.
    ``workers = 1`` is exactly ``meta_gradient``.
    """
    t = batch[0].shape[0]
    workers = max(1, min(int(workers), t))
    if workers == 1:
        return meta_gradient(net, params, batch, **kw)
    bounds = np.linspace(0, t, workers + 1).round().astype(int)
    chunks = [tuple(a[lo:hi] for a in batch) for lo, hi in zip(bounds[:-1], bounds[1:],
                                                                   strict=True)]
    with ThreadPoolExecutor(workers) as ex:
        results = list(ex.map(lambda b: _one_blas_thread(meta_gradient, net, params, b, **kw),
                              chunks))
    weights = [(hi - lo) / t for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    grads = tree_map(lambda *gs: sum(w * g for w, g in zip(weights, gs, strict=True)),
                     *[r[0] for r in results])
    info = {k: float(sum(w * r[1][k] for w, r in zip(weights, results, strict=True)))
            for k in results[0][1]}
    return grads, info
