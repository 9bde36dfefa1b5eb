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
from .backend import BackendError, get_dtype

MODES = ("population", "finite")
INITS = ("collins", "random")
SAMPLES = ("fresh", "fixed")


class ConfigError(ValueError):
    """An invalid configuration value."""


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

    d: int = 20
    k: int = 3
    k_learner: int = 0
    n_tasks: int = 20
    steps: int = 100
    alpha: float = 0.5
    beta: float = 0.5
    tau: int = 1
    mode: str = "population"
    m_in: int = 10
    m_out: int = 10
    sigma: float = 0.0
    head_mu: float = 1.0
    head_kappa: float | None = None
    head_mean: float = 0.0
    task_pool: bool = False
    x_cov_cond: float = 1.0
    init: str = "collins"
    w0_scale: float = 0.0
    methods: tuple = ("maml", "fo_maml", "anil", "fo_anil", "erm")
    trials: int = 5
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float64"
    log_every: int = 1
    n_test_tasks: int = 100
    m_test: int = 0
    reduce: bool = True
    chunk_tasks: int = 0
    memory_mb: float = 0.0
    samples: str = "fresh"
    batch_tasks: int = 0

    def __post_init__(self):
        if isinstance(self.methods, str):
            object.__setattr__(self, "methods", tuple(_split(self.methods)))
        object.__setattr__(self, "methods", tuple(self.methods))
        for name in ("d", "k", "n_tasks", "tau", "m_in", "m_out", "trials", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("steps", "k_learner", "n_test_tasks", "m_test", "seed", "chunk_tasks"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.k > self.d:
            raise ConfigError(f"k must be <= d, got k={self.k} > d={self.d}")
        if self.learner_k > self.d:
            raise ConfigError(f"k_learner must be <= d, got {self.learner_k} > d={self.d}")
        for name in ("alpha", "beta", "sigma", "w0_scale", "head_mean", "memory_mb"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {value}")
        if not (math.isfinite(self.head_mu) and self.head_mu >= 0):
            raise ConfigError(f"head_mu must be a finite number >= 0, got {self.head_mu}")
        for name in ("head_kappa", "x_cov_cond"):  # condition numbers
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 1):
                raise ConfigError(f"{name} must be a finite number >= 1, got {value}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        if self.init not in INITS:
            raise ConfigError(f"unknown init {self.init!r}; choose from {', '.join(INITS)}")
        if not self.methods:
            raise ConfigError("no methods given")
        for name in self.methods:
            if name not in METHODS:
                raise ConfigError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
        if self.chunk_tasks or self.memory_mb:
            plain = [m for m in self.methods if not METHODS[m].chunkable]
            if plain:
                raise ConfigError(
                    f"chunked runs (chunk_tasks, memory_mb) need a per-task meta-gradient; "
                    f"not available for {', '.join(plain)}"
                )
        if self.samples not in SAMPLES:
            raise ConfigError(f"unknown samples {self.samples!r}; choose from {', '.join(SAMPLES)}")
        if self.samples == "fixed" and self.mode != "finite":
            raise ConfigError("samples='fixed' needs mode='finite' (population losses have no "
                              "samples)")
        if self.batch_tasks < 0 or self.batch_tasks > self.n_tasks:
            raise ConfigError(f"batch_tasks must be in [0, n_tasks={self.n_tasks}], got "
                              f"{self.batch_tasks}")
        if self.batch_tasks and self.samples != "fixed":
            raise ConfigError("batch_tasks needs samples='fixed' (fresh rounds draw n_tasks tasks)")
        try:
            get_dtype(self.dtype)
        except BackendError as err:
            raise ConfigError(str(err)) from None
        if self.backend not in ("numpy", "cupy"):
            raise ConfigError(f"unknown backend {self.backend!r}; choose 'numpy' or 'cupy'")

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


def read_toml(path, error=ConfigError, what: str = "config file") -> dict:
    """The tables of a TOML file; a missing or malformed file raises ``error`` in one line."""
    import tomllib

    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise error(f"malformed {what} {path}: {err}") from None


def load_config(path) -> Config:
    """Read a Config from a TOML file (top-level keys are Config fields)."""
    return Config.from_dict(read_toml(path))
