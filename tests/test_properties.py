"""Property tests over the config spaces of ``linmeta run`` and ``linmeta fewshot train``.

Each field is drawn from small valid values or, now and then, an invalid one. Whether the whole
config is valid is decided here, from the documented rules (README "Options", the option help),
not by the code under test. Every invalid config must give exit code 2 and one ``Error:`` line;
every valid one must run to the end (``"complete": true``, ``results.json``).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linmeta.cli import cli

NAN, INF = math.nan, math.inf
ITERATIVE = ["maml", "fo_maml", "anil", "fo_anil", "erm"]  # README: chunking applies to these
OTHERS = ["mom", "mt_erm", "altmin", "fedrep", "reptile"]
SETTINGS = dict(deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def maybe_bad(good, bad, p_bad: float):
    """``good`` (a strategy) mostly; one of the ``bad`` values with probability ≈ p_bad."""
    if p_bad == 0:
        return good
    return st.one_of(good, st.sampled_from(bad)) if p_bad >= 0.5 else st.integers(
        0, round(1 / p_bad) - 1).flatmap(lambda i: st.sampled_from(bad) if i == 0 else good)


def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def linear_configs(draw, p_bad=0.04):
    d = draw(maybe_bad(st.integers(2, 6), [0, -1], p_bad))
    c = {"d": d}
    kmax = max(d, 1)
    c["k"] = draw(maybe_bad(st.integers(1, kmax), [0, kmax + 1], p_bad))
    c["k_learner"] = draw(maybe_bad(st.integers(0, kmax), [-1, kmax + 1], p_bad))
    c["n_tasks"] = draw(maybe_bad(st.integers(1, 4), [0, -2], p_bad))
    c["steps"] = draw(maybe_bad(st.integers(0, 3), [-1], p_bad))
    c["tau"] = draw(maybe_bad(st.integers(1, 2), [0], p_bad))
    c["trials"] = draw(maybe_bad(st.integers(1, 2), [0], p_bad))
    c["seed"] = draw(maybe_bad(st.integers(0, 50), [-1], p_bad))
    c["log_every"] = draw(maybe_bad(st.integers(1, 3), [0, -1], p_bad))
    c["m_in"] = draw(maybe_bad(st.integers(1, 4), [0], p_bad))
    c["m_out"] = draw(maybe_bad(st.integers(1, 4), [0], p_bad))
    c["n_test_tasks"] = draw(maybe_bad(st.integers(0, 2), [-1], p_bad))
    c["m_test"] = draw(maybe_bad(st.integers(0, 3), [-1], p_bad))
    c["chunk_tasks"] = draw(maybe_bad(st.integers(0, 3), [-1], p_bad))
    for name, hi in (("alpha", 0.4), ("beta", 0.4), ("sigma", 0.5), ("w0_scale", 1.0),
                     ("head_mean", 1.0), ("head_mu", 2.0)):
        c[name] = draw(maybe_bad(_floats(0, hi), [-0.5, NAN, INF], p_bad))
    c["memory_mb"] = draw(maybe_bad(st.sampled_from([0.0, 0.01, 1.0]), [-1.0, NAN, INF], p_bad))
    c["head_kappa"] = draw(maybe_bad(st.one_of(st.none(), _floats(1, 10)), [0.5, NAN, INF],
                                     p_bad))
    c["x_cov_cond"] = draw(maybe_bad(_floats(1, 10), [0.5, 0.0, NAN, INF], p_bad))
    c["mode"] = draw(maybe_bad(st.sampled_from(["population", "finite"]), ["bogus"], p_bad))
    c["init"] = draw(maybe_bad(st.sampled_from(["collins", "random"]), ["bogus"], p_bad))
    methods = draw(st.lists(st.sampled_from(ITERATIVE + OTHERS), min_size=1, max_size=3,
                            unique=True))
    c["methods"] = ",".join(draw(maybe_bad(st.just(methods), [["bogus"], [""]], p_bad)))
    if p_bad == 0 and set(methods) & set(OTHERS):  # not chunkable
        c["chunk_tasks"], c["memory_mb"] = 0, 0.0
    c["dtype"] = draw(maybe_bad(st.sampled_from(["float64", "float32"]), ["float16"], p_bad))
    c["reduce"] = draw(st.booleans())
    c["task_pool"] = draw(st.booleans())
    return c


def linear_valid(c) -> bool:
    """The documented rules of a linear config."""
    ints_pos = ("d", "k", "n_tasks", "tau", "m_in", "m_out", "trials", "log_every")
    ints_nonneg = ("steps", "k_learner", "n_test_tasks", "m_test", "seed", "chunk_tasks")
    rates = ("alpha", "beta", "sigma", "w0_scale", "head_mean", "head_mu", "memory_mb")
    methods = [m for m in c["methods"].split(",") if m]
    return (all(c[n] >= 1 for n in ints_pos) and all(c[n] >= 0 for n in ints_nonneg)
            and all(math.isfinite(c[n]) and c[n] >= 0 for n in rates)
            and c["k"] <= c["d"] and (c["k_learner"] or c["k"]) <= c["d"]
            and (c["head_kappa"] is None or (math.isfinite(c["head_kappa"])
                                             and c["head_kappa"] >= 1))
            and math.isfinite(c["x_cov_cond"]) and c["x_cov_cond"] >= 1
            and c["mode"] in ("population", "finite") and c["init"] in ("collins", "random")
            and c["dtype"] in ("float64", "float32") and bool(methods)
            and all(m in ITERATIVE + OTHERS for m in methods)
            and (not (c["chunk_tasks"] or c["memory_mb"]) or all(m in ITERATIVE for m in methods)))


def linear_argv(c, out) -> list:
    argv = ["run", "--no-plot", "--out", str(out)]
    for name, value in c.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + name.replace("_", "-"))
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def check_outcome(res, valid: bool, what: str):
    assert res.exception is None or isinstance(res.exception, SystemExit), (what, res.exception)
    if valid:
        assert res.exit_code == 0, (what, res.output)
    else:
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert res.exit_code == 2, (what, res.output)
        assert len(lines) == 1 and lines[0].startswith("Error: "), (what, res.stderr)


@settings(max_examples=60, **SETTINGS)
@given(linear_configs())
def test_linear_config_space(c):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r"
        valid = linear_valid(c)
        res = CliRunner().invoke(cli, linear_argv(c, out))
        check_outcome(res, valid, c)
        if valid:
            meta = json.loads((out / "config.json").read_text())
            assert meta["complete"] is True
        else:
            assert not out.exists()


@settings(max_examples=15, **SETTINGS)
@given(linear_configs(p_bad=0))
def test_every_small_valid_linear_config_completes(c):
    assert linear_valid(c)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r"
        check_outcome(CliRunner().invoke(cli, linear_argv(c, out)), True, c)
        assert json.loads((out / "config.json").read_text())["complete"] is True


@st.composite
def fewshot_configs(draw, p_bad=0.05):
    c = {}
    c["algorithm"] = draw(maybe_bad(st.sampled_from(["maml", "fomaml", "anil", "foanil"]),
                                    ["reptile"], p_bad))
    c["n-way"] = draw(maybe_bad(st.integers(2, 3), [0, 1], p_bad))
    c["k-shot"] = draw(maybe_bad(st.integers(1, 2), [0, 25], p_bad))
    c["n-query"] = draw(maybe_bad(st.integers(1, 2), [0], p_bad))
    c["meta-batch"] = draw(maybe_bad(st.integers(1, 2), [0], p_bad))
    c["steps"] = draw(maybe_bad(st.integers(0, 2), [-1], p_bad))
    c["inner-lr"] = draw(maybe_bad(_floats(0, 0.5), [-0.1, NAN, INF], p_bad))
    c["outer-lr"] = draw(maybe_bad(_floats(1e-4, 1e-2), [0.0, -1.0, NAN, INF], p_bad))
    c["inner-steps"] = draw(maybe_bad(st.integers(0, 2), [-1], p_bad))
    c["inner-steps-test"] = draw(maybe_bad(st.integers(0, 2), [-1], p_bad))
    c["loss"] = draw(maybe_bad(st.sampled_from(["ce", "mse"]), ["hinge"], p_bad))
    c["head-init"] = draw(maybe_bad(st.sampled_from(["random", "zero"]), ["ones"], p_bad))
    c["head-scale"] = draw(maybe_bad(_floats(0, 2), [-1.0, NAN, INF], p_bad))
    c["channels"] = draw(maybe_bad(st.integers(2, 4), [0], p_bad))
    c["image-size"] = draw(maybe_bad(st.just(16), [0, 8, -16], p_bad))
    c["n-classes"] = draw(maybe_bad(st.sampled_from([30, 40]), [0, 5], p_bad))
    c["seed"] = draw(maybe_bad(st.integers(0, 3), [-1], p_bad))
    c["eval-every"] = draw(maybe_bad(st.integers(1, 3), [0], p_bad))
    c["val-tasks"] = draw(maybe_bad(st.integers(1, 2), [0], p_bad))
    c["ckpt-every"] = draw(maybe_bad(st.integers(1, 3), [0], p_bad))
    c["test-tasks"] = draw(maybe_bad(st.integers(0, 2), [-1], p_bad))
    c["workers"] = draw(maybe_bad(st.integers(1, 2), [0], p_bad))
    c["zeroing"] = draw(st.booleans())
    return c


def fewshot_valid(c) -> bool:
    """The documented rules; glyph classes are split ≈ 68/6/26 % with >= n_way in each, and a
    glyph class has 20 images (README "Data")."""
    positive = ("n-way", "k-shot", "n-query", "meta-batch", "channels", "eval-every",
                "val-tasks", "ckpt-every", "workers", "n-classes")
    nonneg = ("steps", "inner-steps", "inner-steps-test", "test-tasks", "seed")
    if not (all(c[n] >= 1 for n in positive) and all(c[n] >= 0 for n in nonneg)
            and c["n-way"] >= 2):  # a 1-way task is trivial
        return False
    if not (c["algorithm"] in ("maml", "fomaml", "anil", "foanil") and c["loss"] in ("ce", "mse")
            and c["head-init"] in ("random", "zero") and c["image-size"] >= 16):
        return False
    if not (math.isfinite(c["inner-lr"]) and c["inner-lr"] >= 0 and math.isfinite(c["outer-lr"])
            and c["outer-lr"] > 0 and math.isfinite(c["head-scale"]) and c["head-scale"] >= 0):
        return False
    n, way = c["n-classes"], c["n-way"]
    n_val, n_test = max(way, round(0.06 * n)), max(way, round(0.26 * n))
    return n - n_val - n_test >= way and c["k-shot"] + c["n-query"] <= 20


def fewshot_argv(c, out) -> list:
    argv = ["fewshot", "train", "-o", str(out), "-q"]
    for name, value in c.items():
        if isinstance(value, bool):
            argv.append(f"--{name}" if value else f"--no-{name}")
        else:
            argv += [f"--{name}", str(value)]
    return argv


@pytest.mark.slow
@settings(max_examples=30, **SETTINGS)
@given(fewshot_configs())
def test_fewshot_config_space(c):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r"
        valid = fewshot_valid(c)
        res = CliRunner().invoke(cli, fewshot_argv(c, out))
        check_outcome(res, valid, c)
        if valid:
            summary = json.loads((out / "results.json").read_text())
            assert summary["step"] == c["steps"]
        else:
            assert not out.exists()


@pytest.mark.slow
@settings(max_examples=5, **SETTINGS)
@given(fewshot_configs(p_bad=0))
def test_every_small_valid_fewshot_config_completes(c):
    assert fewshot_valid(c)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r"
        check_outcome(CliRunner().invoke(cli, fewshot_argv(c, out)), True, c)
        assert json.loads((out / "results.json").read_text())["step"] == c["steps"]
