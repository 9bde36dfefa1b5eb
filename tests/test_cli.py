"""The command line end to end, in a temporary directory."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from linmeta.cli import cli
from linmeta.io import atomic_write_text
from linmeta.results import is_complete

SMALL = ["--steps", "8", "--trials", "2", "--n-test-tasks", "4"]


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_default_run_writes_a_result_directory_and_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke(["run", "--out", "default"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "default"
    for name in ("config.json", "metrics.csv", "arrays.npz", "summary.json", "convergence.png"):
        assert (out / name).stat().st_size > 0, name
    meta = json.loads((out / "config.json").read_text())
    assert meta["complete"] and meta["seed"] == 0 and meta["linmeta_version"]
    assert meta["config"]["methods"] == ["maml", "fo_maml", "anil", "fo_anil", "erm"]
    for name in ("maml", "fo_maml", "anil", "fo_anil", "erm"):
        assert name in res.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fo_anil"]["final_dist_mean"] < 1e-8
    assert summary["erm"]["final_dist_mean"] > 0.9
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert header == "method,trial,step,metric,value"


def test_plot_redraws_and_overlays(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke(["run", *SMALL, "--out", str(a), "--no-plot"]).exit_code == 0
    assert invoke(["run", *SMALL, "--out", str(b), "--no-plot", "--tau", "2"]).exit_code == 0
    assert not (a / "convergence.png").exists()
    res = invoke(["plot", str(a)])
    assert res.exit_code == 0 and (a / "convergence.png").stat().st_size > 1000
    target = tmp_path / "both.png"
    res = invoke(["plot", str(a), str(b), "--metric", "loss", "--out", str(target)])
    assert res.exit_code == 0 and target.stat().st_size > 1000


def test_config_file_and_command_line_override(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('d = 12\nk = 2\nsteps = 4\ntrials = 2\nmethods = ["anil", "erm"]\n'
                    'n_test_tasks = 3\nalpha = 0.25\n')
    out = tmp_path / "r"
    res = invoke(["run", "--config", str(toml), "--alpha", "0.4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert (cfg["d"], cfg["k"], cfg["steps"], cfg["alpha"]) == (12, 2, 4, 0.4)
    assert cfg["methods"] == ["anil", "erm"]


def write_problem(path, rng, d=8, k=2, n=5, **extra):
    q, _ = np.linalg.qr(rng.standard_normal((d, k)))
    arrays = dict(B_star=q, B0=rng.standard_normal((d, k)), w0=rng.standard_normal(k),
                  W_star=rng.standard_normal((n, k)))
    arrays.update(extra)
    np.savez(path, **arrays)


def test_problem_file_runs_are_identical_and_save_params(tmp_path):
    rng = np.random.default_rng(1)
    prob = tmp_path / "p.npz"
    write_problem(prob, rng, Sigma_diag=np.linspace(1, 2, 8))
    outs = []
    for name in ("one", "two"):
        out = tmp_path / name
        res = invoke(["run", "--problem", str(prob), "--mode", "finite", "--sigma", "0.1",
                      "--alpha", "0.1", "--beta", "0.1", "--save-params", "--no-plot",
                      *SMALL, "--out", str(out)])
        assert res.exit_code == 0, res.output
        outs.append(np.load(out / "arrays.npz"))
    one, two = outs
    assert set(one.files) == set(two.files)
    for key in one.files:
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)  # NaN == NaN here
    assert one["maml.B"].shape == (2, 8, 2) and one["maml.w"].shape == (2, 2)
    assert np.array_equal(one["B_star"][0], np.load(prob)["B_star"])
    cfg = json.loads((tmp_path / "one/config.json").read_text())
    assert cfg["config"]["n_tasks"] == 5 and cfg["config"]["task_pool"] is True


BAD = [
    (["--k", "30"], "k must be <= d"),
    (["--n-tasks", "0"], "n_tasks must be a positive integer"),
    (["--steps", "-1"], "steps must be >= 0"),
    (["--m-in", "0"], "m_in must be a positive integer"),
    (["--methods", "maml,bogus"], "unknown method 'bogus'"),
    (["--beta", "-0.5"], "beta must be a finite number >= 0"),
    (["--alpha", "-1"], "alpha must be a finite number >= 0"),
    (["--d", "x"], "not a valid integer"),
    (["--backend", "tpu"], "'tpu' is not one of 'numpy', 'cupy'"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_options_give_one_line_and_exit_2(tmp_path, args, message):
    res = invoke(["run", *args, "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], res.stderr
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        ("d = \n", "malformed config file"),
        ("dd = 3\n", "unknown config field"),
        ('d = "ten"\n', "d must be of type int"),
        ("k = 50\n", "k must be <= d"),
    ],
)
def test_malformed_config_file(tmp_path, content, message):
    toml = tmp_path / "bad.toml"
    toml.write_text(content)
    res = invoke(["run", "--config", str(toml), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_missing_config_file(tmp_path):
    res = invoke(["run", "--config", str(tmp_path / "none.toml")])
    assert res.exit_code == 2 and "config file not found" in res.stderr


@pytest.mark.parametrize("case", ["garbage", "missing", "shapes", "not_orthonormal", "absent"])
def test_malformed_problem_file(tmp_path, case):
    rng = np.random.default_rng(2)
    prob = tmp_path / "p.npz"
    if case == "garbage":
        prob.write_bytes(b"this is not an npz file")
    elif case == "missing":
        np.savez(prob, B_star=np.eye(4)[:, :2])
    elif case == "shapes":
        write_problem(prob, rng)
        data = dict(np.load(prob))
        data["W_star"] = rng.standard_normal((5, 3))
        np.savez(prob, **data)
    elif case == "not_orthonormal":
        write_problem(prob, rng)
        data = dict(np.load(prob))
        data["B_star"] = 2 * data["B_star"]
        np.savez(prob, **data)
    res = invoke(["run", "--problem", str(prob), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "problem" in lines[0]


def test_plot_of_a_missing_result_is_a_clear_error(tmp_path):
    res = invoke(["plot", str(tmp_path)])
    assert res.exit_code == 2 and "not a finished linmeta result" in res.stderr


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def boom(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_an_interrupted_rewrite_is_not_marked_complete(tmp_path, monkeypatch):
    out = tmp_path / "r"
    assert invoke(["run", *SMALL, "--no-plot", "--out", str(out)]).exit_code == 0
    assert is_complete(out)

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("linmeta.results.atomic_savez", interrupted)
    res = CliRunner().invoke(cli, ["run", *SMALL, "--no-plot", "--out", str(out), "--overwrite"])
    assert res.exit_code != 0
    assert not is_complete(out)
