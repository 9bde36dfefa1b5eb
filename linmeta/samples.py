"""What the algorithms see of a task's data: its statistics ``(Σ̂, ĥ)``, batched over trials.

A task's data enter the algorithms only through two maps (see :mod:`linmeta.losses`):
``resid(u) = Σ̂ u − ĥ`` and ``sig(u) = Σ̂ u`` with ``Σ̂ = XᵀX/m``, ``ĥ = Xᵀy/m`` in
finite-sample mode (:class:`SampleData`) and ``Σ̂ = Σ``, ``ĥ = Σ θ*`` in population mode
(:class:`PopulationData`, :class:`HeadData`). ``Σ̂`` is never formed: ``Σ̂ u = Xᵀ(X u)/m``
costs O(m·d) per task instead of O(d²). Arrays put the trial axis first, then the tasks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .backend import array_module, to_numpy
from .errors import DataError


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


def split_tasks(data: SampleData, m_in: int):
    """``(inner, outer)`` sample sets of each task: its first ``m_in`` samples and the rest.

    For tasks of different sizes (``counts``) a task with m_i samples gives
    ``min(m_in, m_i − 1)`` to the inner side (at least one outer sample when m_i ≥ 2)."""
    xp = array_module(data.X)
    if data.counts is None:
        X_in, X_out = data.X[..., :m_in, :], data.X[..., m_in:, :]
        return (SampleData(xp.ascontiguousarray(X_in), y=xp.ascontiguousarray(data.y[..., :m_in])),
                SampleData(xp.ascontiguousarray(X_out), y=xp.ascontiguousarray(data.y[..., m_in:])))
    counts = to_numpy(data.counts)
    c_in = np.maximum(np.minimum(m_in, counts - 1), np.minimum(counts, 1))
    c_out = counts - c_in
    if (c_out < 1).any():
        raise DataError("every task needs at least 2 samples for an inner/outer split")
    X, y = to_numpy(data.X), to_numpy(data.y)
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
