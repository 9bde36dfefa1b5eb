"""Array-backend selection: NumPy by default, CuPy on request, through the same code path.

CuPy is imported lazily, never at import time, so linmeta works without it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys

import numpy as np

_DTYPES = {"float64": np.float64, "float32": np.float32}


class BackendError(ValueError):
    """An unknown or unavailable backend or dtype."""


def get_xp(name: str = "numpy"):
    """Return the array module for ``name`` ('numpy' or 'cupy')."""
    if name == "numpy":
        return np
    if name == "cupy":
        try:
            import cupy
        except ImportError as err:  # pragma: no cover - depends on the machine
            raise BackendError(
                "backend 'cupy' needs CuPy: pip install 'linmeta[cuda12]' or 'linmeta[cuda13]'"
            ) from err
        try:
            cupy.cuda.runtime.getDeviceCount()
        except Exception as err:  # pragma: no cover - depends on the machine
            raise BackendError(f"backend 'cupy' found no usable CUDA device: {err}") from err
        return cupy
    raise BackendError(f"unknown backend {name!r}; choose 'numpy' or 'cupy'")


def get_dtype(name: str = "float64"):
    """Return the NumPy dtype for 'float64' or 'float32'."""
    try:
        return _DTYPES[name]
    except KeyError:
        raise BackendError(f"unknown dtype {name!r}; choose 'float64' or 'float32'") from None


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        get_xp("cupy")
    except BackendError:
        return False
    return True


def to_numpy(a):
    """Copy an array of either backend to a NumPy array (no copy for NumPy input)."""
    if isinstance(a, np.ndarray) or np.isscalar(a):
        return np.asarray(a)
    get = getattr(a, "get", None)
    if get is not None:
        return get()
    return np.asarray(a)


def array_module(a):
    """The array module (numpy or cupy) that owns ``a``."""
    if isinstance(a, np.ndarray):
        return np
    mod = type(a).__module__.split(".")[0]
    if mod == "cupy":
        import cupy

        return cupy
    return np


BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def single_blas_thread():
    """Set the BLAS thread variables to 1 for processes started inside the block.

    Worker processes then use one core each, and every worker computes with the same BLAS
    threading, so results do not depend on which worker ran a task. The variables are read
    when a process loads its BLAS, so this does not change the current process; for that,
    ``threadpoolctl.threadpool_limits`` (see :mod:`linmeta.fewshot.engine.parallel`).
    """
    saved = {k: os.environ.get(k) for k in BLAS_THREAD_VARIABLES}
    os.environ.update({k: "1" for k in BLAS_THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def tune_allocator(trim_mb: int = 1024, mmap_mb: int = 32) -> bool:
    """Keep freed heap memory in the process (glibc only); True when it was applied.

    A simulator step makes and frees arrays of tens to hundreds of KB. When they sit at the
    top of the heap, glibc gives the freed top back to the OS on every step (above 128 KB, its
    default trim threshold) and the next step faults the pages back in. Measured on a MAML
    population step at n = 1000: 690k page faults instead of 12k in the same benchmark, and
    the step 1.8× slower. Whether it happens depends on what the process allocated before.
    This raises the trim threshold to ``trim_mb`` MiB. Arrays above ``mmap_mb`` MiB (glibc's
    own ceiling for its moving threshold) are still mapped and unmapped on their own, so
    large sample chunks still go back to the OS when freed.

    It changes the whole process, so the applications call it once (the ``linmeta`` command,
    sweep workers, the benchmarks); the library itself never does. Elsewhere it does nothing.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, mmap_mb * 2**20) == 1
    return mallopt(_M_TRIM_THRESHOLD, trim_mb * 2**20) == 1 and ok
