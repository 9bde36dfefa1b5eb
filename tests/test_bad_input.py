"""Every bad input of every CLI command (``tests/bad_inputs.py``): exit code 2, exactly one
``Error:`` line on stderr, no exception, nothing written, and no time spent computing.

Each case runs under a guard: an alarm after ``GUARD_S`` seconds and an address-space limit a
few GiB above the current size turn a hang or a huge allocation into a failure instead of a
stuck or swapping machine. That is a guard, not a timing test: a refusal takes milliseconds.
"""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from linmeta.backend import cupy_available
from linmeta.cli import cli

from .bad_inputs import CASES, expand, make_fixtures

GUARD_S = 60  # the slowest refusal (importing dask) takes ~1 s on a loaded 2-core machine
GUARD_GIB = 3


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_fixtures(tmp_path_factory.mktemp("bad_inputs"))


class Guard(Exception):
    pass


@pytest.fixture
def guard():
    def alarm(*_):
        raise Guard(f"no answer within {GUARD_S} s")

    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + GUARD_GIB * 2**30
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    old = signal.signal(signal.SIGALRM, alarm)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(GUARD_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("name, argv, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line_and_exit_2(root, guard, tmp_path, name, argv, expected):
    out = tmp_path / "out"
    before = _listing(root)
    res = CliRunner().invoke(cli, expand(argv, root, out))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert expected in lines[0], lines[0]
    assert not out.exists(), "a refused command created its output"
    assert _listing(root) == before, "a refused command changed existing files"


def _listing(root: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and "cache" not in p.parts}


def test_the_cases_cover_every_command_and_option_type():
    commands = {" ".join(c[0].split()[:2]) if c[0].startswith("fewshot") else c[0].split()[0]
                for c in CASES}
    assert commands == {"run", "plot", "sweep", "fewshot train", "fewshot eval",
                        "fewshot contrastive"}
    # every option of `linmeta run` and `fewshot train` that takes a value is exercised
    from linmeta.cli import run_cmd
    from linmeta.fewshot.cli import train_cmd

    for cmd, prefix in ((run_cmd, "run"), (train_cmd, "fewshot train")):
        used = {a for c in CASES if c[0].startswith(prefix) for a in c[1]}
        for param in cmd.params:
            if param.is_flag or not param.opts[0].startswith("--"):
                continue
            if param.name in ("config_file", "problem_file", "out", "data_path", "dataset"):
                continue  # files and paths: covered by their own cases
            assert param.opts[0] in used, f"{prefix} {param.opts[0]} has no bad-input case"


@pytest.mark.skipif(cupy_available(), reason="with a GPU, --backend cupy is valid")
def test_cupy_backend_without_a_gpu_is_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["run", "--backend", "cupy", "--steps", "1", "--trials", "1",
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.stderr.startswith("Error: ")
    assert len(res.stderr.strip().splitlines()) == 1
