"""A run's configuration: :class:`Config`, its validation and coercion, and TOML files.

A Config is plain data: every field is a number, a string or a tuple of method names, so it
round-trips through TOML and JSON (:meth:`Config.to_dict`, :meth:`Config.from_dict`). The
simulator (:mod:`linmeta.experiment`) turns it into the explicit arguments of the environment
(:mod:`linmeta.environment`) and of the methods (:meth:`linmeta.algorithms.Method.build`);
neither of those sees a Config.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .algorithms import METHODS
from .fields import Check, check_fields, field, one_of
from .io import read_table

MODES = ("population", "finite")
INITS = ("collins", "random")
SAMPLES = ("fresh", "fixed")


class ConfigError(ValueError):
    """An invalid configuration value."""


def _positive(name: str, value) -> str | None:
    return f"{name} must be a positive integer, got {value}" if value < 1 else None


def _count(name: str, value) -> str | None:
    return f"{name} must be >= 0, got {value}" if value < 0 else None


def _finite(low: int, optional: bool = False) -> Check:
    """A finite number >= ``low`` (None too, if ``optional``)."""

    def check(name: str, value) -> str | None:
        if (optional and value is None) or (math.isfinite(value) and value >= low):
            return None
        return f"{name} must be a finite number >= {low}, got {value}"

    return check


def _methods(name: str, value) -> str | None:
    if not value:
        return "no methods given"
    unknown = [m for m in value if m not in METHODS]
    if unknown:
        return f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}"
    return None


@dataclass(frozen=True)
class Config:
    """Everything that defines a run (docs/theory.md §1.1). Defaults: the claim-1 setting of
    docs/theory.md §1.3.

    d, k : ambient dimension and true representation width; k_learner : learner width k′
    (0 means k); n_tasks : tasks per round; steps : outer steps; alpha, beta : inner and outer
    rates; tau : inner steps; mode : 'population' (exact losses) or 'finite' (m_in inner and
    m_out outer samples per task); sigma : label noise std; head_mu / head_kappa / head_mean :
    task-head distribution (see :func:`linmeta.environment.head_distribution`); task_pool : a fixed
    pool of n_tasks heads instead of fresh heads every round; x_cov_cond : condition number of a
    diagonal Σ (1 means Σ = I); init : 'collins' (w0 = 0, α B0ᵀB0 = I) or 'random';
    w0_scale : std scale of a random w0; n_test_tasks, m_test : fresh tasks and samples for the
    test-time excess risk (m_test 0 means 2k′); log_every : metric logging period;
    reduce : simulate population mode with Σ = I in span(B0, B*) (exact; off for checks);
    chunk_tasks, memory_mb : process a round's tasks in chunks (0: all at once), sized so that
    a step's working memory stays under memory_mb (see :func:`linmeta.budget.tasks_per_chunk`);
    samples : 'fresh' (new tasks and samples every round) or 'fixed' (a pool of n_tasks tasks
    whose m_in + m_out samples are drawn once; every method uses exactly those, see
    :class:`linmeta.experiment.FixedSampler`); batch_tasks : with fixed samples, the tasks of
    one round (a meta-batch cycling through the pool; 0 means all tasks every round).
    """

    d: int = field(20, "Ambient dimension d.", _positive)
    k: int = field(3, "True representation width k (<= d).", _positive)
    k_learner: int = field(0, "Learner width k' (0: k).", _count)
    n_tasks: int = field(20, "Tasks per round n.", _positive)
    steps: int = field(100, "Outer steps.", _count)
    alpha: float = field(0.5, "Inner learning rate α (>= 0).", _finite(0))
    beta: float = field(0.5, "Outer learning rate β (>= 0).", _finite(0))
    tau: int = field(1, "Inner steps τ.", _positive)
    mode: str = field("population", "population: exact expected losses; finite: --m-in/--m-out "
                      "samples per task.", one_of(MODES))
    m_in: int = field(10, "Inner samples per task (finite mode).", _positive)
    m_out: int = field(10, "Outer samples per task (finite mode).", _positive)
    sigma: float = field(0.0, "Label-noise standard deviation σ.", _finite(0))
    head_mu: float = field(1.0, "Task diversity μ: heads N(0, diag(1,…,1,μ²)).", _finite(0))
    head_kappa: float | None = field(None, "Instead of μ: head variances geometric with "
                                     "cond(Ψ*) = κ >= 1.", _finite(1, optional=True))
    head_mean: float = field(0.0, "Norm of the heads' mean.", _finite(0))
    task_pool: bool = field(False, "A fixed pool of n heads instead of fresh heads every round.")
    x_cov_cond: float = field(1.0, "Condition number of a diagonal input covariance Σ (1: Σ = I).",
                              _finite(1, optional=True))
    init: str = field("collins", "collins: w0 = 0 and α B0ᵀB0 = I (Collins22); random: Gaussian "
                      "B0 and w0.", one_of(INITS))
    w0_scale: float = field(0.0, "Standard-deviation scale of a random w0.", _finite(0))
    methods: tuple = field(("maml", "fo_maml", "anil", "fo_anil", "erm"),
                           f"Comma-separated methods, from: {', '.join(METHODS)}.", _methods)
    trials: int = field(5, "Independent trials (one array computation).", _positive)
    seed: int = field(0, "Seed of the run (>= 0).", _count)
    backend: str = field("numpy", "Array backend (cupy: a CUDA GPU).",
                         one_of(("numpy", "cupy"), "unknown {name} {value!r}; choose 'numpy' or "
                                "'cupy'"))
    dtype: str = field("float64", "Compute dtype (float32 for speed).",
                       one_of(("float64", "float32"), "unknown {name} {value!r}; choose "
                              "'float64' or 'float32'"))
    log_every: int = field(1, "Log the metrics every N steps (and at the last).", _positive)
    n_test_tasks: int = field(100, "Held-out tasks for the test-time risks (0: none).", _count)
    m_test: int = field(0, "Samples per held-out task (0: 2k').", _count)
    reduce: bool = field(True, "Population mode with Σ = I in span(B0, B*): exact; --no-reduce "
                         "for checks.")
    chunk_tasks: int = field(0, "Process a round's tasks this many at a time (0: all).", _count)
    memory_mb: float = field(0.0, "Size the chunks to this working memory in MiB (0: off).",
                             _finite(0))
    samples: str = field("fresh", "fresh: new tasks and samples every round; fixed: a pool of "
                         "n-tasks tasks whose samples are drawn once and reused by every method "
                         "(finite mode).", one_of(SAMPLES))
    batch_tasks: int = field(0, "With --samples fixed: tasks per round, cycling through the pool "
                             "(0: all).")  # checked against n_tasks below

    def __post_init__(self):
        if isinstance(self.methods, str):
            object.__setattr__(self, "methods", tuple(_split(self.methods)))
        object.__setattr__(self, "methods", tuple(self.methods))
        check_fields(self, ConfigError)
        if self.k > self.d:
            raise ConfigError(f"k must be <= d, got k={self.k} > d={self.d}")
        if self.learner_k > self.d:
            raise ConfigError(f"k_learner must be <= d, got {self.learner_k} > d={self.d}")
        if self.chunk_tasks or self.memory_mb:
            plain = [m for m in self.methods if not METHODS[m].chunkable]
            if plain:
                raise ConfigError(
                    f"chunked runs (chunk_tasks, memory_mb) need a per-task meta-gradient; "
                    f"not available for {', '.join(plain)}"
                )
        if self.samples == "fixed" and self.mode != "finite":
            raise ConfigError("samples='fixed' needs mode='finite' (population losses have no "
                              "samples)")
        if self.batch_tasks < 0 or self.batch_tasks > self.n_tasks:
            raise ConfigError(f"batch_tasks must be in [0, n_tasks={self.n_tasks}], got "
                              f"{self.batch_tasks}")
        if self.batch_tasks and self.samples != "fixed":
            raise ConfigError("batch_tasks needs samples='fixed' (fresh rounds draw n_tasks tasks)")

    @property
    def learner_k(self) -> int:
        return self.k_learner or self.k

    @property
    def test_samples(self) -> int:
        return self.m_test or 2 * self.learner_k

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["methods"] = list(self.methods)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Build a Config from plain values (a TOML or JSON table), rejecting unknown keys."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(fields)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        clean = {}
        for key, value in values.items():
            clean[key] = _coerce(key, fields[key].default, value)
        return cls(**clean)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _coerce(key, default, value):
    if key == "methods":
        if isinstance(value, str):
            return tuple(_split(value))
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError("methods must be a list of names or a comma-separated string")
    if key == "head_kappa":
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return None if value is None else float(value)
        raise ConfigError(f"head_kappa must be a number, got {value!r}")
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"{key} must be of type {kind.__name__}, got {value!r}")


def load_config(path) -> Config:
    """Read a Config from a TOML file (top-level keys are Config fields)."""
    return Config.from_dict(read_table(path, ConfigError))
