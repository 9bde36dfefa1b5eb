"""The multi-task linear regression environment of Collins22 (docs/theory.md §1.1).

Ground truth ``B*`` (d, k) with orthonormal columns; task i has head ``w*_i`` and parameter
``θ*_i = B* w*_i``; data ``x ~ N(0, Σ)``, ``y = <θ*_i, x> + z``, ``z ~ N(0, σ²)``.

A task's data enter the algorithms only through two maps (see :mod:`linmeta.losses`):
``resid(u) = Σ̂ u − ĥ`` and ``sig(u) = Σ̂ u`` with ``Σ̂ = XᵀX/m``, ``ĥ = Xᵀy/m`` in
finite-sample mode and ``Σ̂ = Σ``, ``ĥ = Σ θ*`` in population mode. ``Σ̂`` is never formed:
``Σ̂ u = Xᵀ(X u)/m`` costs O(m·d) per task instead of O(d²).

Randomness comes from separate ``numpy.random.Generator`` streams (problem, heads, inner data,
outer data, test tasks) spawned from one ``SeedSequence``, so every method of a run sees the
same tasks and samples. Batched draws put the task axis first, so drawing the tasks of a round
in chunks gives the same numbers as drawing them at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .backend import array_module
from .errors import DataError

STREAMS = ("problem", "heads", "inner_x", "inner_noise", "outer_x", "outer_noise", "test",
           "batches")


class ProblemError(ValueError):
    """A malformed or inconsistent problem file."""


# ---------------------------------------------------------------- data statistics


@dataclass(frozen=True)
class PopulationData:
    """Exact expected losses: ``Σ̂ = Σ``, ``ĥ = Σ θ*``.

    theta : (T, n, d) task parameters; sigma_diag : (d,) diagonal of Σ, or None for Σ = I;
    noise_var : σ², which only shifts the loss; members : the tasks this one is the mean of
    (see :meth:`task_mean`), else None.
    """

    theta: object
    sigma_diag: object = None
    noise_var: float = 0.0
    members: PopulationData | None = None
    sig_shared = True  # Σ̂ = Σ for every task (not a field)

    def task_mean(self) -> PopulationData:
        """The round's tasks as one task at their mean ``θ̄*`` (for ERM).

        With nothing adapted a task's loss ``½‖u‖²_Σ − θ*ᵀΣu + const`` is linear in θ*, so the
        mean gradient over the tasks is the gradient at θ̄* (derived, docs/theory.md §1.2), and a
        step costs one pass over the tasks. The loss keeps the spread term (see
        :meth:`resid_and_loss`).
        """
        n = self.theta.shape[-2]
        mean = self.theta.sum(-2, keepdims=True) / n  # sum/n: np.mean is slower
        return PopulationData(mean, self.sigma_diag, self.noise_var, self)

    def trials(self, index) -> PopulationData:
        """The same data for the trials ``index`` (a slice keeps the trial axis)."""
        members = None if self.members is None else self.members.trials(index)
        return PopulationData(self.theta[index], self.sigma_diag, self.noise_var, members)

    def sig(self, u):
        return u if self.sigma_diag is None else u * self.sigma_diag

    def resid(self, u):
        return self.sig(u - self.theta)

    def resid_and_loss(self, u):
        """``(Σ(u − θ*), mean_i f_i)``; the loss ``½‖u − θ*‖²_Σ + σ²/2`` has shape (T,).

        For a mean task, u is shared by its members and ``mean_i ½‖u − θ*_i‖²_Σ =
        ½‖u − θ̄*‖²_Σ + mean_i ½‖θ*_i − θ̄*‖²_Σ``.
        """
        diff = u - self.theta
        r = self.sig(diff)
        loss = self._half_mean_sq(diff, r) + 0.5 * self.noise_var
        if self.members is not None:
            spread = self.members.theta - self.theta
            loss = loss + self._half_mean_sq(spread, self.sig(spread))
        return r, loss

    @staticmethod
    def _half_mean_sq(x, sx):
        """``mean_i ½ x_iᵀ (Σ x_i)`` over the tasks, shape (T,)."""
        return (0.5 / x.shape[-2]) * array_module(x).einsum("tnd,tnd->t", x, sx)


class HeadData(PopulationData):
    """:class:`PopulationData` of tasks given by their heads, ``θ*_i = B* w*_i``.

    W : (T, n, k) heads; Bs : (T, d, k) B* in the run's coordinates. ``theta`` (T, n, d) is
    formed on first use; :meth:`task_mean` (ERM) needs only the mean head, O(n·k) per step.
    """

    def __init__(self, W, Bs, sigma_diag=None, noise_var: float = 0.0):
        for name, value in (("W", W), ("Bs", Bs), ("sigma_diag", sigma_diag),
                            ("noise_var", noise_var)):
            object.__setattr__(self, name, value)

    @functools.cached_property
    def theta(self):
        return _thetas(self.Bs, self.W)

    def trials(self, index) -> HeadData:
        return HeadData(self.W[index], self.Bs[index], self.sigma_diag, self.noise_var)

    def task_mean(self) -> PopulationData:
        n = self.W.shape[-2]
        # a product, not W.sum: the task axis of W is its slow one, and a sum over it runs
        # inner loops of length k (five times slower)
        ones = array_module(self.W).full((n, 1), 1 / n)
        mean = (self.W.swapaxes(-1, -2) @ ones).swapaxes(-1, -2)  # (T, 1, k)
        return PopulationData(_thetas(self.Bs, mean), self.sigma_diag, self.noise_var, self)


def _thetas(Bs, W):
    """``θ*_i = B* w*_i`` for heads W (T, n, k): shape (T, n, d), the task axis fastest."""
    return (Bs @ W.swapaxes(-1, -2)).swapaxes(-1, -2)


@dataclass(frozen=True)
class SampleData:
    """Finite samples: ``X`` (T, n, m, d) and either the simulator's ``noise = σ z`` (T, n, m)
    and ``theta`` (T, n, d), or labels ``y`` (T, n, m) (data whose θ* is unknown: a fixed
    dataset, a user's data).

    Simulated data keep ``y = X θ* + noise`` implicit: the residual ``X u − y = X (u − θ*) −
    noise``. Data given by labels (``theta`` None) use ``X u − y``. ``counts`` (T, n), when
    given, is each task's number of samples: its rows beyond that are zeros (X and y), and
    every per-task mean divides by the task's own count, so tasks of different sizes share
    one array.
    """

    X: object
    noise: object = None
    theta: object = None
    y: object = None
    counts: object = None
    sig_shared = False  # each task has its own Σ̂ (not a field)

    @property
    def m(self):
        """Samples per task: an int, or (T, n, 1) counts for tasks of different sizes."""
        return self.X.shape[-2] if self.counts is None else self.counts[..., None]

    @property
    def labels(self):
        """``y`` (T, n, m)."""
        if self.y is not None:
            return self.y
        return (self.X @ self.theta[..., None])[..., 0] + self.noise

    def trials(self, index) -> SampleData:
        """The same data for the trials ``index`` (a slice keeps the trial axis)."""
        return SampleData(*(None if a is None else a[index]
                            for a in (self.X, self.noise, self.theta, self.y, self.counts)))

    def _xt(self, c):
        """``X_iᵀ c_i`` for c (T, n, m); shape (T, n, d).

        A stack of small transposed products is slow once the samples outgrow the cache
        (2.6 against 2.0 ms for 20 MB here); einsum streams them, but costs more per call."""
        if self.X.size > 2**20:
            return array_module(c).einsum("tnmd,tnm->tnd", self.X, c)
        return (self.X.swapaxes(-1, -2) @ c[..., None])[..., 0]

    def sig(self, u):
        return self._xt((self.X @ u[..., None])[..., 0] / self.m)

    def sig_sum(self, u):
        """``Σ_i Σ̂_i u_i = Σ_i X_iᵀ (X_i u_i) / m`` over the tasks, shape (T, d).

        The second product runs over all tasks' samples at once: one matrix-vector product
        instead of one per task (when a trial's samples are one block in memory)."""
        c = (self.X @ u[..., None])[..., 0]  # (T, n, m)
        T, n, m, d = self.X.shape
        scale = m
        if self.counts is not None:  # per-task counts: divide the m-vectors, then sum
            c, scale = c / self.m, 1
        if self.X[0].flags.c_contiguous:
            return (c.reshape(T, 1, n * m) @ self.X.reshape(T, n * m, d))[:, 0] / scale
        return array_module(c).einsum("tnmd,tnm->td", self.X, c) / scale

    def _residual(self, u):
        if self.theta is None:
            return (self.X @ u[..., None])[..., 0] - self.y  # (T, n, m)
        return (self.X @ (u - self.theta)[..., None])[..., 0] - self.noise  # (T, n, m)

    def resid(self, u):
        return self._xt(self._residual(u) / self.m)  # 1/m on the m-vectors, not the d-vectors

    def resid_and_loss(self, u):
        """``(Σ̂ u − ĥ, mean_i L_i)`` with ``L_i = (1/2m) ‖X_i u − y_i‖²``; loss shape (T,)."""
        res = self._residual(u)
        if self.counts is None:
            return self._xt(res / self.m), 0.5 * (res * res).mean((-1, -2))
        scaled = res / self.m
        return self._xt(scaled), 0.5 * (scaled * res).sum(-1).mean(-1)


def pooled(a: SampleData, b: SampleData) -> SampleData:
    """One dataset per task holding the samples of both (ERM sees all of a task's data)."""
    xp = array_module(a.X)
    X = xp.concatenate([a.X, b.X], axis=-2)
    counts = None
    if a.counts is not None or b.counts is not None:
        counts = _counts(a) + _counts(b)
    if a.theta is None:
        return SampleData(X, y=xp.concatenate([a.y, b.y], axis=-1), counts=counts)
    return SampleData(X, xp.concatenate([a.noise, b.noise], axis=-1), a.theta, counts=counts)


def _counts(data: SampleData):
    if data.counts is not None:
        return data.counts
    return array_module(data.X).full(data.X.shape[:-2], float(data.X.shape[-2]))


# ---------------------------------------------------------------- the environment


@dataclass(frozen=True)
class Problem:
    """The fixed part of an environment, NumPy arrays with a leading trial axis.

    B_star : (T, d, k) orthonormal; B0 : (T, d, k'); w0 : (T, k');
    W_pool : (T, n, k) fixed task heads, or None for fresh heads every round;
    sigma_diag : (d,) diagonal of Σ, or None for Σ = I.
    """

    B_star: np.ndarray
    B0: np.ndarray
    w0: np.ndarray
    W_pool: np.ndarray | None = None
    sigma_diag: np.ndarray | None = None


def random_orthonormal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Haar-random matrices with orthonormal columns, shape (…, d, k)."""
    q, r = np.linalg.qr(rng.standard_normal(shape))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def head_distribution(k: int, mu: float, kappa: float | None, mean: float):
    """Mean (k,) and standard deviations (k,) of the task heads ``w*``.

    Collins22's heads are ``N(0, diag(1, …, 1, μ²))``; with ``kappa`` the variances instead run
    geometrically from 1 to 1/κ, so the condition number of ``Ψ* = E[w* w*ᵀ]`` is κ (zero mean).
    ``mean`` is the norm of an optional mean along ``1_k/√k``.
    """
    if kappa is not None:
        std = np.sqrt(np.geomspace(1.0, 1.0 / kappa, k)) if k > 1 else np.ones(1)
    else:
        std = np.ones(k)
        std[-1] = mu
    return np.full(k, mean / np.sqrt(k)), std


def sigma_diagonal(d: int, cond: float) -> np.ndarray | None:
    """Diagonal of Σ with eigenvalues geometric from 1 down to 1/cond; None when cond = 1."""
    if cond == 1.0:
        return None
    return np.geomspace(1.0, 1.0 / cond, d)


def make_problem(rng: np.random.Generator, *, trials: int, d: int, k: int,
                 k_learner: int | None = None, init: str = "collins", alpha: float = 0.5,
                 w0_scale: float = 0.0, heads: HeadLaw | None = None, pool: int = 0,
                 x_cov_cond: float = 1.0) -> Problem:
    """Draw B* (T, d, k), the initialisation and, if ``pool`` > 0, that many fixed task heads
    from ``heads`` (default :class:`HeadLaw` ``(k)``), in this order from ``rng``.

    Initialisation ``"collins"`` (Collins22): ``w0 = 0`` and ``B0`` orthonormal scaled so that
    ``α B0ᵀ B0 = I`` (unscaled when α = 0); ``"random"``: Gaussian ``B0`` with entries of
    variance 1/d and Gaussian ``w0`` with variance ``w0_scale²/k'`` (k′ = ``k_learner`` or k).
    ``x_cov_cond``: the condition number of a diagonal input covariance Σ (1: Σ = I).
    """
    kl = k_learner or k
    B_star = random_orthonormal(rng, (trials, d, k))
    B0, w0 = draw_init(rng, trials, d, kl, init, alpha, w0_scale)
    W_pool = (heads or HeadLaw(k)).draw(rng, pool, trials) if pool else None
    return Problem(B_star, B0, w0, W_pool, sigma_diagonal(d, x_cov_cond))


def draw_init(rng: np.random.Generator, T: int, d: int, kl: int, init: str, alpha: float,
              w0_scale: float):
    """The initial ``(B0 (T, d, k′), w0 (T, k′))`` (see :func:`make_problem`)."""
    if init == "collins":
        scale = 1.0 / np.sqrt(alpha) if alpha > 0 else 1.0
        B0 = scale * random_orthonormal(rng, (T, d, kl))
    else:
        B0 = rng.standard_normal((T, d, kl)) / np.sqrt(d)
    w0 = w0_scale * rng.standard_normal((T, kl)) / np.sqrt(kl)
    return B0, w0


@dataclass(frozen=True)
class HeadLaw:
    """The distribution of the task heads ``w*`` (see :func:`head_distribution`): width k,
    diversity μ or condition number κ, and the norm of their mean."""

    k: int
    mu: float = 1.0
    kappa: float | None = None
    mean: float = 0.0

    def draw(self, rng: np.random.Generator, n: int, T: int) -> np.ndarray:
        """Task heads, shape (T, n, k), drawn task-major."""
        scale, shift = _head_affine(self.k, self.mu, self.kappa, self.mean)
        W = rng.standard_normal((n, T, self.k))
        if scale is not None:
            W *= scale
        if shift is not None:
            W += shift
        return W.swapaxes(0, 1)


@functools.lru_cache(maxsize=64)
def _head_affine(k: int, mu: float, kappa: float | None, mean: float):
    """``(std, mean)`` of the heads, each None where it is trivial (all ones, all zeros)."""
    m, std = head_distribution(k, mu, kappa, mean)
    return (None if (std == 1).all() else std), (m if m.any() else None)


def draw_inputs(rng_x, rng_noise, n: int, T: int, m: int, d: int, sigma_diag, noise_std):
    """Inputs ``X`` (T, n, m, d) with covariance diag(sigma_diag) and noise ``σ z`` (T, n, m).

    X and z come from separate streams, task-major, so that drawing n tasks in chunks gives
    the same numbers as drawing them at once.
    """
    X = rng_x.standard_normal((n, T, m, d))
    if sigma_diag is not None:
        X *= np.sqrt(sigma_diag)
    z = rng_noise.standard_normal((n, T, m))
    z *= noise_std
    return np.moveaxis(X, 0, 1), np.moveaxis(z, 0, 1)


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


def split_tasks(data: SampleData, m_in: int):
    """``(inner, outer)`` sample sets of each task: its first ``m_in`` samples and the rest.

    For tasks of different sizes (``counts``) a task with m_i samples gives
    ``min(m_in, m_i − 1)`` to the inner side (at least one outer sample when m_i ≥ 2)."""
    xp = array_module(data.X)
    if data.counts is None:
        X_in, X_out = data.X[..., :m_in, :], data.X[..., m_in:, :]
        return (SampleData(xp.ascontiguousarray(X_in), y=xp.ascontiguousarray(data.y[..., :m_in])),
                SampleData(xp.ascontiguousarray(X_out), y=xp.ascontiguousarray(data.y[..., m_in:])))
    counts = to_host(data.counts)
    c_in = np.maximum(np.minimum(m_in, counts - 1), np.minimum(counts, 1))
    c_out = counts - c_in
    if (c_out < 1).any():
        raise DataError("every task needs at least 2 samples for an inner/outer split")
    X, y = to_host(data.X), to_host(data.y)
    T, n, _, d = X.shape
    sides = []
    for c, lo in ((c_in, np.zeros_like(c_in)), (c_out, c_in)):
        M = int(c.max())
        Xs, ys = np.zeros((T, n, M, d)), np.zeros((T, n, M))
        for t in range(T):
            for i in range(n):
                a, b = int(lo[t, i]), int(lo[t, i] + c[t, i])
                Xs[t, i, : b - a], ys[t, i, : b - a] = X[t, i, a:b], y[t, i, a:b]
        sides.append(SampleData(xp.asarray(Xs), y=xp.asarray(ys), counts=xp.asarray(c)))
    return tuple(sides)


def select_tasks(data: SampleData, index) -> SampleData:
    """The tasks ``index`` (an integer array) of every trial."""
    index = array_module(data.X).asarray(index)  # a host index for device data
    counts = None if data.counts is None else data.counts[:, index]
    return SampleData(data.X[:, index], y=data.y[:, index], counts=counts)


def to_host(a) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)


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
