"""Input from outside the simulator: problem and data files (.npz) and ``(X, y)`` arrays.

Each reader checks what it is given and turns it into the simulator's containers
(:class:`linmeta.environment.Problem`, :class:`linmeta.samples.SampleData`), or raises an
error with a one-line message (:class:`ProblemError`, :class:`linmeta.errors.DataError`).
"""

from __future__ import annotations

import numpy as np

from .environment import Problem
from .errors import DataError
from .samples import SampleData


class ProblemError(ValueError):
    """A malformed or inconsistent problem file."""


PROBLEM_KEYS = {"B_star", "B0", "w0", "W_star", "Sigma_diag"}
#: The first bytes of a zip archive, which an .npz is (an empty archive starts with the second).
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def check_npz(path, error: type[Exception] = ValueError, what: str = "") -> None:
    """Raise ``error("{what}{path} is not an .npz file")`` when the file ``path`` exists but
    is not a zip archive (NumPy would read it as a pickle or an .npy and say something else).

    A missing file or a directory is left to the reader, which reports it in its own words.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return
    if head not in ZIP_MAGIC:
        raise error(f"{what}{path} is not an .npz file")


def load_problem(path, trials: int) -> Problem:
    """Read a fixed environment from ``.npz``: ``B_star`` (d, k), ``B0`` (d, k'), ``w0`` (k',),
    ``W_star`` (n, k) as a fixed task pool, optionally ``Sigma_diag`` (d,).

    The same environment is used for every trial. Raises :class:`ProblemError` with a one-line
    message for a missing, unreadable or inconsistent file.
    """
    check_npz(path, ProblemError, "problem file ")
    try:
        # our own handle: NumPy leaves a path it opened unclosed when the archive is broken
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {key: np.asarray(f[key], dtype=np.float64) for key in f.files}
    except FileNotFoundError:
        raise ProblemError(f"problem file not found: {path}") from None
    except Exception as err:
        raise ProblemError(f"cannot read problem file {path}: {err}") from None
    missing = {"B_star", "B0", "w0", "W_star"} - arrays.keys()
    if missing:
        raise ProblemError(f"problem file {path} lacks {', '.join(sorted(missing))}")
    unknown = arrays.keys() - PROBLEM_KEYS
    if unknown:
        raise ProblemError(f"problem file {path} has unknown arrays {', '.join(sorted(unknown))}")
    B_star, B0, w0, W = arrays["B_star"], arrays["B0"], arrays["w0"], arrays["W_star"]
    if B_star.ndim != 2 or B0.ndim != 2 or w0.ndim != 1 or W.ndim != 2:
        raise ProblemError("problem arrays must be B_star (d,k), B0 (d,k'), w0 (k',), W_star (n,k)")
    d, k = B_star.shape
    if B0.shape[0] != d or w0.shape[0] != B0.shape[1] or W.shape[1] != k:
        raise ProblemError(
            f"inconsistent problem shapes: B_star {B_star.shape}, B0 {B0.shape}, "
            f"w0 {w0.shape}, W_star {W.shape}"
        )
    if k > d or W.shape[0] < 1:
        raise ProblemError(f"problem needs 1 <= k <= d and n >= 1: d={d}, k={k}, n={W.shape[0]}")
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise ProblemError(f"problem file {path} holds non-finite values")
    if not np.allclose(B_star.T @ B_star, np.eye(k), atol=1e-8):
        raise ProblemError(f"problem file {path}: B_star must have orthonormal columns")
    sigma_diag = arrays.get("Sigma_diag")
    if sigma_diag is not None and (sigma_diag.shape != (d,) or (sigma_diag <= 0).any()):
        raise ProblemError(f"Sigma_diag must be {d} positive numbers")

    def rep(a):
        return np.repeat(a[None], trials, axis=0)

    return Problem(rep(B_star), rep(B0), rep(w0), rep(W), sigma_diag)


# ---------------------------------------------------------------- data given as (X, y)


def check_data(X, y, k: int | None = None) -> SampleData:
    """One trial of tasks given by samples: ``SampleData`` of shape (1, n, m, d) with labels.

    X : (n, m, d) and y : (n, m), or lists of n arrays (m_i, d) and (m_i,) for tasks of
    different sizes (stored zero-padded with per-task ``counts``). Raises :class:`DataError`
    in one line for wrong shapes, non-finite values, a task without samples or k > d.
    """
    if isinstance(X, (list, tuple)) or isinstance(y, (list, tuple)):
        Xs, ys = _task_list(X, "X"), _task_list(y, "y")
        if len(Xs) != len(ys):
            raise DataError(f"X has {len(Xs)} tasks but y has {len(ys)}")
    else:
        X, y = _as_float(X, "X"), _as_float(y, "y")
        if X.ndim != 3 or y.ndim != 2 or X.shape[:2] != y.shape:
            raise DataError(f"X must have shape (tasks, m, d) and y (tasks, m); got X "
                            f"{X.shape}, y {y.shape}")
        Xs, ys = list(X), list(y)
    if not Xs:
        raise DataError("no tasks given")
    d = Xs[0].shape[-1] if Xs[0].ndim == 2 else None
    for i, (Xi, yi) in enumerate(zip(Xs, ys, strict=True)):
        if Xi.ndim != 2 or yi.ndim != 1 or Xi.shape[0] != yi.shape[0] or Xi.shape[1] != d:
            raise DataError(f"task {i}: X must be (m, d) with d={d} and y (m,); got X "
                            f"{Xi.shape}, y {yi.shape}")
        if Xi.shape[0] < 1:
            raise DataError(f"task {i} has no samples (m must be >= 1)")
        for name, a in (("X", Xi), ("y", yi)):
            if not np.isfinite(a).all():
                raise DataError(f"{name} of task {i} holds NaN or infinite values")
    if d < 1:
        raise DataError("X has no features (d must be >= 1)")
    if k is not None and not 1 <= k <= d:
        raise DataError(f"need 1 <= k <= d, got k={k}, d={d}")
    counts = np.array([len(yi) for yi in ys], dtype=np.float64)
    M = int(counts.max())
    if (counts == M).all():
        return SampleData(np.stack(Xs)[None], y=np.stack(ys)[None])
    Xp, yp = np.zeros((1, len(Xs), M, d)), np.zeros((1, len(Xs), M))
    for i, (Xi, yi) in enumerate(zip(Xs, ys, strict=True)):
        Xp[0, i, : len(yi)], yp[0, i, : len(yi)] = Xi, yi
    return SampleData(Xp, y=yp, counts=counts[None])


def _as_float(a, name: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be numeric arrays: {err}") from None


def _task_list(a, name: str) -> list:
    if not isinstance(a, (list, tuple)):
        a = list(_as_float(a, name))
    return [_as_float(t, f"{name}[{i}]") for i, t in enumerate(a)]


DATA_KEYS = {"X", "y", "B_star", "m_in", "k"}


def load_data(path):
    """Read a dataset from ``.npz``: ``X`` (n, m, d) or (T, n, m, d), ``y`` (n, m) or (T, n, m),
    optionally ``B_star`` (d, k) or (T, d, k), ``m_in`` (the inner samples of a task) and ``k``
    (the width to learn, for data without ``B_star``).

    Returns ``(data SampleData (T, n, m, d), B_star (T, d, k) or None, m_in or None, k or
    None)``; a missing, unreadable or inconsistent file raises :class:`DataError` in one line.
    """
    check_npz(path, DataError, "data file ")
    try:
        # our own handle: NumPy leaves a path it opened unclosed when the archive is broken
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {key: np.asarray(f[key]) for key in f.files}
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except Exception as err:
        raise DataError(f"cannot read data file {path}: {err}") from None
    missing = {"X", "y"} - arrays.keys()
    if missing:
        raise DataError(f"data file {path} lacks {', '.join(sorted(missing))}")
    unknown = arrays.keys() - DATA_KEYS
    if unknown:
        raise DataError(f"data file {path} has unknown arrays {', '.join(sorted(unknown))}")
    X, y = _as_float(arrays["X"], "X"), _as_float(arrays["y"], "y")
    if X.ndim == 3:
        X, y = X[None], y[None]
    if X.ndim != 4 or y.shape != X.shape[:3]:
        raise DataError(f"data file {path}: X must be (n, m, d) or (T, n, m, d) and y (n, m) or "
                        f"(T, n, m); got X {arrays['X'].shape}, y {arrays['y'].shape}")
    trials = [check_data(X[t], y[t]) for t in range(X.shape[0])]
    data = SampleData(np.concatenate([a.X for a in trials]),
                      y=np.concatenate([a.y for a in trials]))
    B_star = arrays.get("B_star")
    if B_star is not None:
        B_star = _as_float(B_star, "B_star")
        if B_star.ndim == 2:
            B_star = np.repeat(B_star[None], X.shape[0], axis=0)
        if B_star.ndim != 3 or B_star.shape[:2] != (X.shape[0], X.shape[-1]) \
                or B_star.shape[-1] > X.shape[-1] or not np.isfinite(B_star).all():
            raise DataError(f"B_star must be finite, of shape (d, k) with k <= d = {X.shape[-1]}; "
                            f"got {arrays['B_star'].shape}")
    m_in = arrays.get("m_in")
    if m_in is not None:
        m_in = int(m_in)
        if not 1 <= m_in < X.shape[2]:
            raise DataError(f"m_in must be in [1, m) = [1, {X.shape[2]}), got {m_in}")
    k = arrays.get("k")
    if k is not None:
        if k.shape != () or k.dtype.kind not in "iu" or not 1 <= int(k) <= X.shape[-1]:
            raise DataError(f"data file {path}: k must be one integer in [1, d = {X.shape[-1]}], "
                            f"got {k.tolist()!r}")
        k = int(k)
        if B_star is not None and k != B_star.shape[-1]:
            raise DataError(f"data file {path}: k = {k} but B_star has {B_star.shape[-1]} "
                            "columns")
    return data, B_star, m_in, k
