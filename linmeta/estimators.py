"""Every estimator of col(B*) on a user's data, in the scikit-learn manner.

    >>> est = FOANIL(3, steps=200, random_state=0).fit(X, y)   # X (tasks, m, d), y (tasks, m)
    >>> est.B_.shape, est.heads_.shape                          # (d, 3), (tasks, 3)
    >>> est.fit_head(X_new, y_new).predict(X_query)              # a new task's few samples

``fit(X, y)`` takes X of shape (tasks, m, d) and y of shape (tasks, m), or lists of per-task
arrays (m_i, d) and (m_i,) of different sizes. Every class runs the simulator's own code on
that data (:func:`linmeta.experiment.train` with a :class:`linmeta.experiment.FixedSampler`,
and the registry's update rules), so ``MethodOfMoments(k).fit(X, y).B_`` is the simulator's
``mom`` on the same data, and the meta-learners are ``linmeta run --samples fixed``:

- one-shot estimators (:class:`MethodOfMoments`, :class:`MultiTaskERM`) pool all samples;
- iterative ones run ``steps`` rounds over the fixed data, all tasks each round or meta-batches
  of ``batch_tasks`` tasks. Meta-learners and AltMin split each task's samples into its first
  ``m_in`` (inner data; default half) and the rest (outer data); ERM, FedRep and Reptile pool.

Fitted attributes: ``B_`` (d, k) the learned basis (not orthonormalised: a meta-learner's body
as trained), ``w_`` (k,) the shared head, ``heads_`` (tasks, k) each task's least-squares head
in col(B_) on all its samples, ``n_samples_`` the samples the fit saw, ``diverged_`` whether
the training diverged (B_ is then the last finite iterate).
The initialisation is Collins22's (``w0 = 0``, ``α B0ᵀB0 = I``) drawn from ``random_state``,
or given as ``fit(X, y, B0=..., w0=...)``.

Noise-free data (σ = 0): MultiTaskERM, AltMin, FedRep, ANIL and FO-ANIL fit every task exactly
in col(B*), a fixed point they reach to any precision. MAML, FO-MAML and Reptile stop at a
floor set by the finite inner samples (it shrinks as the samples per task grow), MethodOfMoments
at its 1/√N sampling error, and ERM away from col(B*) altogether (Collins22 §5).
"""

from __future__ import annotations

import numpy as np

from .algorithms import get_method
from .comparators import least_squares_heads
from .config import Config, ConfigError
from .experiment import FixedSampler, _rng, streams, train
from .tasks import DataError, SampleData, check_data, draw_init

__all__ = ["MethodOfMoments", "MultiTaskERM", "AltMin", "FedRep", "MAML", "FOMAML", "ANIL",
           "FOANIL", "ERM", "Reptile", "DataError"]


class _Estimator:
    """Shared machinery: the registry method ``_method`` run on fixed data.

    Subclasses list their hyperparameters in ``_params`` (name -> default)."""

    _method = ""
    _params: dict = {}

    def __init__(self, n_components: int, **params):
        unknown = set(params) - set(self._params)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameter(s) "
                            f"{', '.join(sorted(unknown))}")
        self.n_components = n_components
        for name, default in self._params.items():
            setattr(self, name, params.get(name, default))

    def get_params(self) -> dict:
        return {"n_components": self.n_components,
                **{name: getattr(self, name) for name in self._params}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _config(self, data: SampleData) -> Config:
        _, n, m, d = data.X.shape
        p = self.get_params()
        m_in = p.get("m_in") or max(1, m // 2)
        try:
            return Config(d=d, k=self.n_components, n_tasks=n, mode="finite", samples="fixed",
                          m_in=m_in, m_out=max(1, m - m_in), steps=p.get("steps", 0),
                          alpha=p.get("alpha", 0.5), beta=p.get("beta", 0.5), tau=p.get("tau", 1),
                          batch_tasks=p.get("batch_tasks", 0), init=p.get("init", "collins"),
                          trials=1, seed=_seed(p.get("random_state")), n_test_tasks=0,
                          methods=(self._method,))
        except ConfigError as err:
            raise ValueError(f"{type(self).__name__}: {err}") from None

    def fit(self, X, y, B0=None, w0=None):
        """Learn ``B_`` from tasks X (tasks, m, d), y (tasks, m) (or lists of per-task arrays).

        B0 (d, k), w0 (k,): the starting point (default: drawn from ``random_state``)."""
        data = check_data(X, y, self.n_components)
        cfg = self._config(data)
        if data.counts is None and "m_in" in self._params and cfg.m_in >= data.X.shape[2]:
            raise DataError(f"m_in={cfg.m_in} leaves no outer samples of the {data.X.shape[2]} "
                            "per task")
        seqs = streams(cfg.seed)
        B_init, w_init = draw_init(_rng(seqs["problem"]), 1, cfg.d, cfg.k, cfg.init, cfg.alpha,
                                   0.0)
        if B0 is not None:
            B_init = _checked(B0, (cfg.d, cfg.k), "B0")[None]
        if w0 is not None:
            w_init = _checked(w0, (cfg.k,), "w0")[None]
        sampler = FixedSampler(data, cfg.m_in, cfg.batch_tasks, _rng(seqs["batches"]))
        method = get_method(self._method)
        logged = [cfg.steps]
        B, w, diverged_at = train(method, sampler, B_init, w_init, cfg, logged)
        self.B_, self.w_ = B[0], w[0]
        self.diverged_ = bool(diverged_at[0] >= 0)
        self.n_samples_ = sampler.samples_used
        self.heads_ = least_squares_heads(data, B)[0]
        return self

    def _check_fitted(self):
        if not hasattr(self, "B_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(X, y)")

    def transform(self, X):
        """Features ``X B_`` of inputs X (…, d): shape (…, k)."""
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.shape[-1] != self.B_.shape[0]:
            raise DataError(f"X has {X.shape[-1]} features, the fit had {self.B_.shape[0]}")
        return X @ self.B_

    def fit_head(self, X_new, y_new):
        """Fit a new task's head in col(B_) by least squares (minimum norm) on its few samples
        X_new (m, d), y_new (m,); stored as ``head_`` (k,)."""
        self._check_fitted()
        data = check_data([X_new], [y_new])
        if data.X.shape[-1] != self.B_.shape[0]:
            raise DataError(f"X_new has {data.X.shape[-1]} features, the fit had "
                            f"{self.B_.shape[0]}")
        self.head_ = least_squares_heads(data, self.B_[None])[0, 0]
        return self

    def predict(self, X):
        """Predictions ``X B_ head_`` for the task of the last :meth:`fit_head`; X (…, d)."""
        if not hasattr(self, "head_"):
            raise ValueError("call fit_head(X_new, y_new) for the new task first")
        return self.transform(X) @ self.head_


def _seed(random_state) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(random_state, (int, np.integer)) and random_state >= 0:
        return int(random_state)
    raise ValueError(f"random_state must be None or an integer >= 0, got {random_state!r}")


def _checked(a, shape, name) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape != shape or not np.isfinite(a).all():
        raise DataError(f"{name} must be finite of shape {shape}, got {a.shape}")
    return a


_ITERATIVE = {"steps": 100, "beta": 0.5, "batch_tasks": 0, "random_state": None}
_META = {**_ITERATIVE, "alpha": 0.5, "tau": 1, "m_in": None, "init": "collins"}


class MethodOfMoments(_Estimator):
    """Tripuraneni21's method of moments: top-k eigenvectors of ``(1/N) Σ_j y_j² x_j x_jᵀ``
    over all N samples (one-shot)."""

    _method = "mom"
    _params = {"random_state": None}


class MultiTaskERM(_Estimator):
    """Multi-task ERM (Du et al. 2021): ``min_{B, v_i} Σ_i (1/2m_i)‖y_i − X_i B v_i‖²`` with
    the balancing term, by L-BFGS from B0 (one-shot)."""

    _method = "mt_erm"
    _params = {"init": "collins", "random_state": None}


class AltMin(_Estimator):
    """AltMinGD (Thekumparampil21): least-squares heads on each task's inner samples, a
    gradient step of rate ``beta`` on B on its outer samples, QR."""

    _method = "altmin"
    _params = {**_ITERATIVE, "m_in": None, "init": "collins"}


class FedRep(_Estimator):
    """FedRep (Collins21): exact least-squares heads, a gradient step of rate ``beta`` on B on
    the same samples, QR."""

    _method = "fedrep"
    _params = {**_ITERATIVE, "init": "collins"}


class MAML(_Estimator):
    """MAML (Finn17): ``tau`` inner steps of rate ``alpha`` on (B, w), exact meta-gradient."""

    _method = "maml"
    _params = _META


class FOMAML(MAML):
    """First-order MAML."""

    _method = "fo_maml"


class ANIL(MAML):
    """ANIL (Raghu20): the inner loop adapts the head only; exact meta-gradient."""

    _method = "anil"


class FOANIL(MAML):
    """First-order ANIL: Collins22's analysed recursion."""

    _method = "fo_anil"


class ERM(_Estimator):
    """Average-loss minimisation: gradient descent of rate ``beta`` on the pooled loss of all
    tasks with one shared (B, w) (Collins22 §5)."""

    _method = "erm"
    _params = {**_ITERATIVE, "alpha": 0.5, "init": "collins"}


class Reptile(_Estimator):
    """Reptile (Nichol et al. 2018): ``tau`` inner steps of rate ``alpha`` on (B, w) per task,
    then a move of ``beta`` toward the tasks' mean."""

    _method = "reptile"
    _params = {**_ITERATIVE, "alpha": 0.5, "tau": 2, "init": "collins"}
