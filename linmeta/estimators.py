"""Every estimator of col(B*) on a user's data, as scikit-learn estimators.

    >>> est = FOANIL(3, steps=200, random_state=0).fit(X, y)   # X (tasks, m, d), y (tasks, m)
    >>> est.B_.shape, est.heads_.shape                          # (d, 3), (tasks, 3)
    >>> est.fit_head(X_new, y_new).predict(X_query)              # a new task's few samples
    >>> est.score(X_test, y_test)                                # R² on new tasks (see score)
    >>> GridSearchCV(FedRep(1), {"n_components": [1, 2, 3, 4]}).fit(X, y).best_params_

``fit(X, y)`` takes X of shape (tasks, m, d) and y of shape (tasks, m), or lists of per-task
arrays (m_i, d) and (m_i,) of different sizes. The first axis is the tasks, so scikit-learn's
model selection (``GridSearchCV``, ``cross_val_score``) splits tasks, never a task's samples.
Every class runs the simulator's own code on that data (:func:`linmeta.experiment.train` with
a :class:`linmeta.experiment.FixedSampler`, and the registry's update rules), so
``MethodOfMoments(k).fit(X, y).B_`` is the simulator's ``mom`` on the same data, and the
meta-learners are ``linmeta run --samples fixed``:

- one-shot estimators (:class:`MethodOfMoments`, :class:`MultiTaskERM`) pool all samples;
- iterative ones run ``steps`` rounds over the fixed data, all tasks each round or meta-batches
  of ``batch_tasks`` tasks. Meta-learners and AltMin split each task's samples into its first
  ``m_in`` (inner data; default half) and the rest (outer data); ERM, FedRep and Reptile pool.

The classes follow scikit-learn's conventions: ``__init__`` stores the hyperparameters as
given; ``fit`` checks them all, then the data's shapes, the memory and time the fit needs
(:mod:`linmeta.budget`, the CLI's limits) and the data's values, before anything runs, and
raises ``TypeError`` or ``ValueError`` (:class:`linmeta.errors.DataError` for data) naming
the parameter; ``clone``, ``get_params``, ``set_params``, pipelines and model selection work.

Fitted attributes: ``B_`` (d, k) the learned basis (not orthonormalised: a meta-learner's body
as trained), ``w_`` (k,) the shared head, ``heads_`` (tasks, k) each task's least-squares head
in col(B_) on all its samples, ``n_samples_`` the samples the fit saw, ``n_features_in_`` d,
``seed_`` the integer seed drawn from ``random_state``, ``diverged_`` whether the training
diverged (B_ is then the last finite iterate, and a ``ConvergenceWarning`` says at which step
and which rate to lower). The initialisation is Collins22's (``w0 = 0``, ``α B0ᵀB0 = I``)
drawn from ``random_state``, or given as ``fit(X, y, B0=..., w0=...)``.

``random_state``: None (numpy's global ``RandomState``, as in scikit-learn), an integer ≥ 0
(the simulator's ``--seed``: the same meta-batches as ``linmeta run --seed``; its B0 differs,
because the run draws B* first, so pass the run's ``B0=`` and ``w0=`` to ``fit`` for the same
start), a
``numpy.random.RandomState`` or a ``numpy.random.Generator`` (each fit draws a new seed).

Noise-free data (σ = 0): MultiTaskERM, AltMin, FedRep, ANIL and FO-ANIL fit every task exactly
in col(B*), a fixed point they reach to any precision. MAML, FO-MAML and Reptile stop at a
floor set by the finite inner samples (it shrinks as the samples per task grow), MethodOfMoments
at its 1/√N sampling error, and ERM away from col(B*) altogether (Collins22 §5).
"""

from __future__ import annotations

import math
import numbers
import sys
import time
import warnings

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted

from . import budget
from .algorithms import get_method
from .comparators import least_squares_heads
from .config import INITS, Config, ConfigError
from .datafiles import check_data
from .environment import draw_init, generator, streams
from .errors import DataError
from .experiment import FixedSampler, train
from .metrics import orthonormal_basis
from .samples import SampleData

__all__ = ["MethodOfMoments", "MultiTaskERM", "AltMin", "FedRep", "MAML", "FOMAML", "ANIL",
           "FOANIL", "ERM", "Reptile", "DataError"]

#: What bounds each part of a fit's memory (:func:`linmeta.budget.linear_run`'s parts).
BUDGET_OPTIONS = {
    "problem": "n_components or the features of X",
    "test tasks": "the features of X",
    "one step": "the tasks, samples per task or features of X",
    "metrics": "steps",
}


class _Estimator(TransformerMixin, BaseEstimator):
    """Shared machinery: the registry method ``_method`` run on fixed data.

    A subclass defines ``__init__`` with its hyperparameters, stored unchanged; :meth:`fit`
    checks them (:meth:`_checked_params`)."""

    _method = ""

    # ------------------------------------------------------------ scikit-learn protocol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # X is (tasks, m, d): tasks of samples
        tags.input_tags.three_d_array = True
        tags.target_tags.required = True
        tags.target_tags.two_d_labels = True  # y is (tasks, m)
        return tags

    @property
    def _splits(self) -> bool:
        """Whether the method splits each task into inner and outer samples (m ≥ 2)."""
        return not get_method(self._method).pooled

    def fit(self, X, y, B0=None, w0=None):
        """Learn ``B_`` from tasks X (tasks, m, d), y (tasks, m) (or lists of per-task arrays).

        B0 (d, k), w0 (k,): the starting point (default: drawn from ``random_state``).
        Every hyperparameter and the data are checked first, and a fit whose lower-bound
        memory or time exceeds the CLI's limits (:mod:`linmeta.budget`) is refused at once.
        Returns self."""
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, name)  # a failed or new fit leaves nothing of the last one
        if y is None:
            raise ValueError(f"{self._name} requires y to be passed, but the target y is None")
        p = self._checked_params()
        n, m_least, m, d = _peek(X, y)
        cfg = self._config(p, n, m_least, m, d)
        self._check_budget(cfg)
        data = check_data(X, y, cfg.k)  # values: finite, numeric
        seed = _seed(p["random_state"])
        seqs = streams(seed)
        B_init, w_init = draw_init(generator(seqs["problem"]), 1, d, cfg.k, cfg.init,
                                   cfg.alpha, 0.0)
        if B0 is not None:
            B_init = _checked(B0, (d, cfg.k), "B0")[None]
        if w0 is not None:
            w_init = _checked(w0, (cfg.k,), "w0")[None]
        sampler = FixedSampler(data, cfg.m_in, cfg.batch_tasks, generator(seqs["batches"]))
        progress = _Progress(self._name, p["verbose"]) if p["verbose"] else None
        B, w, diverged_at = train(get_method(self._method), sampler, B_init, w_init, cfg,
                                  [cfg.steps], progress=progress)
        if progress is not None:
            progress.close(cfg.steps)
        self.B_, self.w_ = B[0], w[0]
        self.diverged_ = bool(diverged_at[0] >= 0)
        self.n_samples_ = sampler.samples_used
        self.n_features_in_ = d
        self.seed_ = seed
        with np.errstate(all="ignore"):  # a diverged B_ may be of order 1e300
            self.heads_ = least_squares_heads(data, B)[0]
        if self.diverged_:
            warnings.warn(self._divergence(int(diverged_at[0]), p), ConvergenceWarning,
                          stacklevel=2)
        return self

    def transform(self, X):
        """Features ``X B_`` of inputs X (…, d): shape (…, k); a list of per-task arrays
        (m_i, d) gives the list of their features."""
        check_is_fitted(self, "B_")
        if isinstance(X, (list, tuple)) and X and np.ndim(X[0]) == 2:
            return [self.transform(Xi) for Xi in X]
        return self._inputs(X, "X") @ self.B_

    def fit_head(self, X_new, y_new):
        """Fit a new task's head in col(B_) by least squares (minimum norm) on its few samples
        X_new (m, d), y_new (m,); stored as ``head_`` (k,). Returns self."""
        check_is_fitted(self, "B_")
        X_new = self._inputs(X_new, "X_new")
        data = check_data([X_new], [_real(y_new, "y_new")])
        self.head_ = least_squares_heads(data, self.B_[None])[0, 0]
        return self

    def predict(self, X):
        """Predictions ``X B_ head_`` for the task of the last :meth:`fit_head`; X (…, d)."""
        check_is_fitted(self, "B_")
        check_is_fitted(self, "head_", msg="%(name)s has no task head: call fit_head(X_new, "
                                           "y_new) for the new task first")
        return self.transform(X) @ self.head_

    def score(self, X, y):
        """R² on new tasks, each predicted by a head fitted in col(B_) on its first half.

        Task i of X (tasks, m, d), y (tasks, m) (or lists of (m_i, d), (m_i,)) fits its head
        by least squares in col(B_) on its first ``⌊m_i/2⌋`` samples and predicts its other
        ``m_i − ⌊m_i/2⌋``; every task needs m_i ≥ 2. The split is the same for every
        hyperparameter, so scores of different widths and rates compare. Returns
        ``1 − Σ (y − ŷ)² / Σ (y − ȳ)²`` over all tasks' predicted samples (ȳ their mean;
        :func:`sklearn.metrics.r2_score`): 1 is perfect, higher is better.
        """
        check_is_fitted(self, "B_")
        n, m_least, m, d = _peek(X, y)
        if d != self.n_features_in_:
            raise DataError(f"X has {d} features, but {self._name} is expecting "
                            f"{self.n_features_in_} features as input")
        if m_least < 2:
            raise DataError("score needs m >= 2 samples in every task (half fit its head, "
                            "the rest are scored)")
        data = check_data(X, y)
        fit_part, scored = _halves(data)
        Q = orthonormal_basis(self.B_)[0]  # col(B_), well scaled even after divergence
        heads = least_squares_heads(fit_part, Q[None])  # (1, n, k)
        pred = (scored.X @ (heads @ Q.T)[..., None])[..., 0]  # (1, n, m₂)
        rows = np.ones(scored.y.shape, dtype=bool)
        if scored.counts is not None:  # rows beyond a task's count are padding
            rows = np.arange(scored.y.shape[-1]) < scored.counts[..., None]
        return float(r2_score(scored.y[rows], pred[rows]))

    # ------------------------------------------------------------ checks

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _checked_params(self) -> dict:
        """The hyperparameters, each checked for type and range (errors name it)."""
        p = self.get_params(deep=False)
        try:
            _integer(p["n_components"], "n_components", 1)
            for name, low in (("steps", 0), ("tau", 1), ("batch_tasks", 0), ("verbose", 0)):
                if name in p:
                    _integer(p[name], name, low, allow_bool=name == "verbose")
            if p.get("m_in") is not None:
                _integer(p["m_in"], "m_in", 1)
            for name in ("alpha", "beta"):
                if name in p:
                    _rate(p[name], name)
            if "init" in p:
                if not isinstance(p["init"], str):
                    raise TypeError(f"init must be a str, not {type(p['init']).__name__}")
                if p["init"] not in INITS:
                    raise ValueError(f"init must be one of {', '.join(INITS)}; got "
                                     f"{p['init']!r}")
            _check_random_state(p["random_state"])
        except (TypeError, ValueError) as err:
            raise type(err)(f"{self._name}: {err}") from None
        p.setdefault("verbose", 0)
        return p

    def _config(self, p: dict, n: int, m_least: int, m: int, d: int) -> Config:
        """The simulator's Config of this fit; raises for hyperparameters that the data's
        sizes rule out (k ≤ d, m_in < m, batch_tasks ≤ tasks, m ≥ 2 to split)."""
        k = p["n_components"]
        if k > d:
            raise DataError(f"{self._name}: n_components must be <= d, the features of X "
                            f"(k <= d); got n_components={k}, d={d}")
        if self._splits and m_least < 2:
            raise DataError(f"{self._name} splits each task into inner and outer samples: "
                            f"every task needs m >= 2 samples, one has {m_least}")
        m_in = p.get("m_in") or max(1, m // 2)
        if self._splits and m_least == m and m_in >= m:
            raise DataError(f"{self._name}: m_in={m_in} leaves no outer samples of the {m} "
                            "per task (m_in must be < m)")
        if p.get("batch_tasks", 0) > n:
            raise ValueError(f"{self._name}: batch_tasks must be <= the {n} tasks of X, got "
                             f"{p['batch_tasks']}")
        steps = int(p.get("steps", 0))
        try:
            return Config(d=d, k=int(k), n_tasks=n, mode="finite", samples="fixed",
                          m_in=int(m_in), m_out=max(1, m - m_in), steps=steps,
                          alpha=float(p.get("alpha", 0.5)), beta=float(p.get("beta", 0.5)),
                          tau=int(p.get("tau", 1)), batch_tasks=int(p.get("batch_tasks", 0)),
                          init=p.get("init", "collins"), trials=1, n_test_tasks=0,
                          log_every=max(1, steps), methods=(self._method,))
        except ConfigError as err:
            raise ValueError(f"{self._name}: {err}") from None

    def _check_budget(self, cfg: Config) -> None:
        """Refuse a fit whose lower-bound memory or time exceeds the CLI's limits: memory for
        all tasks (the sampler holds them), time for the tasks of one round."""
        memory, _ = budget.linear_run(cfg)
        _, seconds = budget.linear_run(cfg.replace(n_tasks=cfg.batch_tasks or cfg.n_tasks,
                                                   batch_tasks=0))
        lower = "steps" + (" or tau" if "tau" in self.get_params(deep=False) else "")
        try:
            budget.check(memory, seconds, options=BUDGET_OPTIONS,
                         time_options=f"{lower}, or the tasks or samples per task of X")
        except budget.BudgetError as err:
            raise budget.BudgetError(f"{self._name}: {err}") from None

    def _divergence(self, step: int, p: dict) -> str:
        rates = f"beta (the outer rate, now {p['beta']})"
        if "tau" in p:
            rates += f" or alpha (the inner rate, now {p['alpha']})"
        return (f"{self._name} diverged at step {step} of {p['steps']}: B or w overflowed, and "
                f"B_ is the last finite iterate; lower {rates}")

    def _inputs(self, X, name: str) -> np.ndarray:
        """Inputs (…, d) for the fitted basis: real, finite, d features."""
        X = _real(X, name)
        if X.ndim < 1:
            raise DataError(f"{name} must be an array of shape (…, d), got a scalar")
        if X.shape[-1] != self.n_features_in_:
            raise DataError(f"{name} has {X.shape[-1]} features, but {self._name} is expecting "
                            f"{self.n_features_in_} features as input")
        if not np.isfinite(X).all():
            raise DataError(f"{name} holds NaN or infinite values")
        return X


class _Progress:
    """``verbose`` ≥ 1: a line to stderr at most every ``every`` seconds and at the end;
    ``verbose`` ≥ 2: a line every step."""

    def __init__(self, name: str, verbose: int, every: float = 2.0):
        self.name, self.verbose, self.every = name, verbose, every
        self.start = self.last = time.perf_counter()

    def __call__(self, method: str, step: int, steps: int) -> None:
        now = time.perf_counter()
        if self.verbose >= 2 or now - self.last >= self.every:
            self.last = now
            print(f"{self.name}: step {step}/{steps}, {now - self.start:.1f} s", file=sys.stderr,
                  flush=True)

    def close(self, steps: int) -> None:
        print(f"{self.name}: {steps} steps in {time.perf_counter() - self.start:.1f} s",
              file=sys.stderr, flush=True)


def _integer(value, name: str, low: int, allow_bool: bool = False) -> None:
    if isinstance(value, bool) and not allow_bool:
        raise TypeError(f"{name} must be an integer, not a bool")
    check_scalar(value, name, numbers.Integral, min_val=low)


def _rate(value, name: str) -> None:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, not a bool")
    check_scalar(value, name, numbers.Real, min_val=0)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")


def _check_random_state(random_state) -> None:
    if random_state is None or isinstance(random_state, (np.random.RandomState,
                                                         np.random.Generator)):
        return
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError("random_state must be None, an integer, a numpy RandomState or a numpy "
                        f"Generator, not {type(random_state).__name__}")
    if random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state}")


def _seed(random_state) -> int:
    """The integer seed of the fit's streams: an integer as given (the simulator's seed),
    else drawn from the Generator or RandomState (None: numpy's global one)."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63 - 1))
    return int(check_random_state(random_state).randint(2**63 - 1, dtype=np.int64))


def _dense(a, name: str) -> np.ndarray:
    """``a`` as an array, refusing sparse matrices and complex values (whose imaginary part
    would be lost)."""
    if issparse(a):
        raise TypeError(f"Sparse data was passed for {name}, but dense data is required; use "
                        f"{name}.toarray()")
    a = np.asarray(a)
    if np.iscomplexobj(a):
        raise DataError(f"Complex data not supported: {name} is complex; give the real and "
                        "imaginary parts as separate features")
    return a


def _real(a, name: str) -> np.ndarray:
    """``a`` as a float64 array (see :func:`_dense`)."""
    a = _dense(a, name)
    try:
        return a.astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be numeric arrays: {err}") from None


def _peek(X, y) -> tuple[int, int, int, int]:
    """``(tasks, fewest samples, most samples, features)`` from the shapes alone, without
    copying or reading the values (a huge X is refused by the budget, not by a copy); sparse
    or complex data are refused here, malformed shapes by :func:`check_data`."""
    if isinstance(X, (list, tuple)) or isinstance(y, (list, tuple)):
        Xs = [_dense(a, f"X[{i}]") for i, a in enumerate(X)]
        for i, a in enumerate(y if isinstance(y, (list, tuple)) else [y]):
            _dense(a, f"y[{i}]")
        if Xs and all(a.ndim == 2 for a in Xs):
            sizes, widths = [a.shape[0] for a in Xs], {a.shape[1] for a in Xs}
            if min(sizes) >= 1 and len(widths) == 1 and min(widths) >= 1:
                return len(Xs), min(sizes), max(sizes), Xs[0].shape[1]
    else:
        shape = _dense(X, "X").shape
        _dense(y, "y")
        if len(shape) == 3 and min(shape) >= 1:
            return shape[0], shape[1], shape[1], shape[2]
    check_data(X, y)  # raises its one-line error for the malformed shapes
    raise DataError("X must have shape (tasks, m, d) or be a list of (m_i, d) arrays")


def _halves(data: SampleData) -> tuple[SampleData, SampleData]:
    """Each task's first ``⌊m_i/2⌋`` samples and the rest, as two datasets (1, n, ·, d)."""
    if data.counts is None:
        h = data.X.shape[2] // 2
        return (SampleData(data.X[:, :, :h], y=data.y[:, :, :h]),
                SampleData(data.X[:, :, h:], y=data.y[:, :, h:]))
    counts = data.counts[0].astype(int)
    tasks = [(data.X[0, i, :c], data.y[0, i, :c]) for i, c in enumerate(counts)]
    first = check_data([X[: len(y) // 2] for X, y in tasks], [y[: len(y) // 2] for _, y in tasks])
    rest = check_data([X[len(y) // 2:] for X, y in tasks], [y[len(y) // 2:] for _, y in tasks])
    return first, rest


def _checked(a, shape, name) -> np.ndarray:
    a = _real(a, name)
    if a.shape != shape or not np.isfinite(a).all():
        raise DataError(f"{name} must be finite of shape {shape}, got {a.shape}")
    return a


# ---------------------------------------------------------------- the classes


class MethodOfMoments(_Estimator):
    """Tripuraneni21's method of moments: top-k eigenvectors of ``(1/N) Σ_j y_j² x_j x_jᵀ``
    over all N samples (one-shot).

    n_components : the width k of B_; random_state : kept for a uniform interface (the
    estimate is deterministic)."""

    _method = "mom"

    def __init__(self, n_components, *, random_state=None):
        self.n_components = n_components
        self.random_state = random_state


class MultiTaskERM(_Estimator):
    """Multi-task ERM (Du et al. 2021): ``min_{B, v_i} Σ_i (1/2m_i)‖y_i − X_i B v_i‖²`` with
    the balancing term, by L-BFGS from B0 (one-shot).

    init : 'collins' or 'random', B0's law; random_state : the seed of B0."""

    _method = "mt_erm"

    def __init__(self, n_components, *, init="collins", random_state=None):
        self.n_components = n_components
        self.init = init
        self.random_state = random_state


class AltMin(_Estimator):
    """AltMinGD (Thekumparampil21): least-squares heads on each task's inner samples, a
    gradient step of rate ``beta`` on B on its outer samples, QR.

    steps : rounds; beta : the rate on B; batch_tasks : tasks per round (0: all);
    m_in : each task's inner samples (None: half); init : B0's law; verbose : progress to
    stderr (1: every 2 s, 2: every step)."""

    _method = "altmin"

    def __init__(self, n_components, *, steps=100, beta=0.5, batch_tasks=0, m_in=None,
                 init="collins", random_state=None, verbose=0):
        self.n_components = n_components
        self.steps = steps
        self.beta = beta
        self.batch_tasks = batch_tasks
        self.m_in = m_in
        self.init = init
        self.random_state = random_state
        self.verbose = verbose


class FedRep(_Estimator):
    """FedRep (Collins21): exact least-squares heads, a gradient step of rate ``beta`` on B on
    the same samples, QR. Parameters as :class:`AltMin` (no split: no ``m_in``)."""

    _method = "fedrep"

    def __init__(self, n_components, *, steps=100, beta=0.5, batch_tasks=0, init="collins",
                 random_state=None, verbose=0):
        self.n_components = n_components
        self.steps = steps
        self.beta = beta
        self.batch_tasks = batch_tasks
        self.init = init
        self.random_state = random_state
        self.verbose = verbose


class MAML(_Estimator):
    """MAML (Finn17): ``tau`` inner steps of rate ``alpha`` on (B, w), exact meta-gradient,
    outer rate ``beta``. Other parameters as :class:`AltMin`."""

    _method = "maml"

    def __init__(self, n_components, *, steps=100, alpha=0.5, beta=0.5, tau=1, batch_tasks=0,
                 m_in=None, init="collins", random_state=None, verbose=0):
        self.n_components = n_components
        self.steps = steps
        self.alpha = alpha
        self.beta = beta
        self.tau = tau
        self.batch_tasks = batch_tasks
        self.m_in = m_in
        self.init = init
        self.random_state = random_state
        self.verbose = verbose


class FOMAML(MAML):
    """First-order MAML (parameters as :class:`MAML`)."""

    _method = "fo_maml"


class ANIL(MAML):
    """ANIL (Raghu20): the inner loop adapts the head only; exact meta-gradient (parameters
    as :class:`MAML`)."""

    _method = "anil"


class FOANIL(MAML):
    """First-order ANIL: Collins22's analysed recursion (parameters as :class:`MAML`)."""

    _method = "fo_anil"


class ERM(_Estimator):
    """Average-loss minimisation: gradient descent of rate ``beta`` on the pooled loss of all
    tasks with one shared (B, w) (Collins22 §5). ``alpha`` only scales Collins22's B0."""

    _method = "erm"

    def __init__(self, n_components, *, steps=100, alpha=0.5, beta=0.5, batch_tasks=0,
                 init="collins", random_state=None, verbose=0):
        self.n_components = n_components
        self.steps = steps
        self.alpha = alpha
        self.beta = beta
        self.batch_tasks = batch_tasks
        self.init = init
        self.random_state = random_state
        self.verbose = verbose


class Reptile(_Estimator):
    """Reptile (Nichol et al. 2018): ``tau`` inner steps of rate ``alpha`` on (B, w) per task,
    then a move of ``beta`` toward the tasks' mean."""

    _method = "reptile"

    def __init__(self, n_components, *, steps=100, alpha=0.5, beta=0.5, tau=2, batch_tasks=0,
                 init="collins", random_state=None, verbose=0):
        self.n_components = n_components
        self.steps = steps
        self.alpha = alpha
        self.beta = beta
        self.tau = tau
        self.batch_tasks = batch_tasks
        self.init = init
        self.random_state = random_state
        self.verbose = verbose
