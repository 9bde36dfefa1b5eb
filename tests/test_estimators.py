"""Estimators on given data (linmeta.estimators) and the fixed-dataset mode of the simulator:
the classes reproduce the simulator on its saved data, recover col(B*) without noise, and
reject bad data in one line."""

import inspect
import json

import numpy as np
import pytest
from click.testing import CliRunner

from linmeta import estimators as E
from linmeta.cli import cli
from linmeta.comparators import moment_matrix
from linmeta.datafiles import check_data
from linmeta.environment import random_orthonormal
from linmeta.errors import DataError
from linmeta.experiment import Config, ConfigError, run
from linmeta.metrics import subspace_distance
from linmeta.results import read_metrics
from linmeta.samples import SampleData

CLASSES = {"mom": E.MethodOfMoments, "mt_erm": E.MultiTaskERM, "altmin": E.AltMin,
           "fedrep": E.FedRep, "maml": E.MAML, "fo_maml": E.FOMAML, "anil": E.ANIL,
           "fo_anil": E.FOANIL, "erm": E.ERM, "reptile": E.Reptile}
FIXED = ["--mode", "finite", "--samples", "fixed", "--d", "7", "--k", "2", "--n-tasks", "9",
         "--m-in", "5", "--m-out", "4", "--sigma", "0.1", "--alpha", "0.1", "--beta", "0.1",
         "--tau", "2", "--steps", "12", "--trials", "2", "--n-test-tasks", "0", "--seed", "3"]


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def params_of(cls) -> set:
    return set(inspect.signature(cls).parameters)


def hyper(cls, cfg: dict) -> dict:
    return {k: cfg[k] for k in ("steps", "alpha", "beta", "tau", "batch_tasks", "m_in")
            if k in params_of(cls)}


@pytest.mark.parametrize("batch", [0, 4])
def test_each_estimator_equals_the_simulator_on_its_saved_data(tmp_path, batch):
    """``linmeta run --samples fixed --save-data``, then every class on the saved (X, y) of each
    trial from the run's B0, w0 and seed: the same B to 1e-12 (the same code runs)."""
    out = tmp_path / "r"
    res = invoke(["run", *FIXED, "--batch-tasks", str(batch), "--methods", ",".join(CLASSES),
                  "--save-data", "--save-params", "--no-plot", "--out", str(out)])
    assert res.exit_code == 0, res.output
    with np.load(out / "data.npz") as f:
        data = dict(f)
    with np.load(out / "arrays.npz") as f:
        arrays = dict(f)
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert data["X"].shape == (2, 9, 9, 7) and int(data["m_in"]) == 5
    for name, cls in CLASSES.items():
        for t in range(2):
            est = cls(2, random_state=cfg["seed"], **hyper(cls, cfg))
            est.fit(data["X"][t], data["y"][t], B0=arrays["B0"][t], w0=arrays["w0"][t])
            assert not est.diverged_ and np.isfinite(est.B_).all()
            assert np.abs(est.B_ - arrays[f"{name}.B"][t]).max() < 1e-12, name
            assert est.n_samples_ == arrays[f"{name}.samples"][-1]


def test_a_saved_dataset_reruns_from_its_file(tmp_path):
    """``run --data data.npz`` with the saving run's options gives the same metrics."""
    a, b = tmp_path / "a", tmp_path / "b"
    methods = ["--methods", "mom,fedrep,fo_anil"]
    assert invoke(["run", *FIXED, *methods, "--save-data", "--no-plot", "--out", str(a)]
                  ).exit_code == 0
    res = invoke(["run", *FIXED, *methods, "--data", str(a / "data.npz"), "--no-plot",
                  "--out", str(b)])
    assert res.exit_code == 0, res.output
    ma, mb = read_metrics(a), read_metrics(b)
    for key in ma:
        assert np.array_equal(ma[key][1], mb[key][1], equal_nan=True), key


def test_a_data_file_without_B_star_reports_the_held_out_error(tmp_path):
    X, y, _ = noise_free_tasks(0, n=20, m=10, d=6, k=2)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = tmp_path / "r"
    res = invoke(["run", "--data", str(tmp_path / "d.npz"), "--k", "2", "--methods", "fedrep",
                  "--steps", "100", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())["fedrep"]
    assert summary["final_dist_mean"] is None and summary["samples"] == 16 * 10  # 4 held out
    steps, mse = read_metrics(out)[("fedrep", "heldout_mse")]
    # noise-free: once col(B*) is learned, 5 samples fit a held-out task's head exactly
    assert summary["final_heldout_mse"] == mse[0, -1] < 1e-6 * mse[0, 0]


def test_fixed_samples_are_used_every_round_and_counted():
    cfg = Config(mode="finite", samples="fixed", d=5, k=2, n_tasks=6, m_in=3, m_out=2,
                 steps=4, trials=2, n_test_tasks=0, batch_tasks=4, methods=("fo_anil", "mom"))
    res = run(cfg)
    assert res.data.X.shape == (2, 6, 5, 5)
    # batches of 4 from a pass of 6 tasks: 4, then the other 2, then a new pass
    assert list(res.runs["fo_anil"].samples) == [0, 20, 30, 30, 30]
    assert list(res.runs["mom"].samples) == [30]
    fresh = run(cfg.replace(samples="fresh", batch_tasks=0))
    assert list(fresh.runs["fo_anil"].samples) == [0, 30, 60, 90, 120]


def test_chunked_fixed_data_equals_unchunked():
    cfg = Config(mode="finite", samples="fixed", d=6, k=2, n_tasks=10, m_in=4, m_out=3,
                 steps=6, trials=2, n_test_tasks=0, batch_tasks=7, tau=2, alpha=0.1, beta=0.1,
                 methods=("maml", "fo_anil", "erm"))
    plain, chunked = run(cfg), run(cfg.replace(chunk_tasks=3))
    for name in cfg.methods:
        assert np.allclose(plain.runs[name].B, chunked.runs[name].B, rtol=1e-10, atol=1e-12)


def test_fixed_samples_need_finite_mode_and_batches_need_fixed_samples():
    with pytest.raises(ConfigError, match="finite"):
        Config(samples="fixed")
    with pytest.raises(ConfigError, match="batch_tasks"):
        Config(mode="finite", batch_tasks=3)
    with pytest.raises(ConfigError, match="batch_tasks"):
        Config(mode="finite", samples="fixed", n_tasks=4, batch_tasks=5)


# ---------------------------------------------------------------- recovery


def noise_free_tasks(seed, n, m, d, k):
    rng = np.random.default_rng(seed)
    B_star = random_orthonormal(rng, (d, k))
    W = rng.standard_normal((n, k))
    X = rng.standard_normal((n, m, d))
    return X, np.einsum("nmd,dk,nk->nm", X, B_star, W), B_star


@pytest.mark.parametrize("cls, params, m", [
    (E.MultiTaskERM, {}, 100),
    (E.AltMin, dict(steps=100, beta=0.5), 100),
    (E.FedRep, dict(steps=100, beta=0.5), 100),
    (E.ANIL, dict(steps=200, tau=12, alpha=0.25, beta=1.0), 400),
    (E.FOANIL, dict(steps=200, tau=12, alpha=0.25, beta=1.0), 400),
])
def test_noise_free_fixed_data_is_recovered_below_1e_6(cls, params, m):
    """σ = 0: every task is fitted exactly in col(B*), which is then a fixed point. For ANIL
    only once the τ inner steps nearly solve each task's head (error ~ ρ^τ with
    ρ = ‖I − α BᵀΣ̂B‖, small for many samples per task)."""
    X, y, B_star = noise_free_tasks(1, n=40, m=m, d=4, k=2)
    est = cls(2, random_state=0, **params).fit(X, y)
    assert subspace_distance(est.B_, B_star) < 1e-6


def test_mom_error_is_statistical_even_without_noise():
    """MoM's moment matrix converges at 1/√N: noise-free data leave an error that shrinks
    with the samples (Tripuraneni21), not one below 1e-6."""
    dist = [subspace_distance(E.MethodOfMoments(2).fit(*noise_free_tasks(s, 40, m, 6, 2)[:2]).B_,
                              noise_free_tasks(s, 40, m, 6, 2)[2])
            for m in (10, 1000) for s in range(3)]
    assert np.mean(dist[3:]) < np.mean(dist[:3]) / 4


@pytest.mark.parametrize("cls, params", [
    (E.MAML, dict(tau=1, alpha=0.25, beta=0.5)),
    (E.FOMAML, dict(tau=1, alpha=0.5, beta=1.0)),
    (E.Reptile, {}),
])
def test_maml_and_reptile_stop_at_a_sampling_floor_that_shrinks_with_m(cls, params):
    """σ = 0 on fixed data: the adapted (B, w) of MAML, FO-MAML and Reptile cannot fit every
    task exactly with a finite-sample inner step, so the minimiser of the empirical objective
    sits off col(B*) by a floor that does not move with more steps and shrinks with the samples
    per task (measured: about ×6–18 for 16× the samples), not a distance below 1e-6."""
    dist = {}
    for m in (100, 1600):
        X, y, B_star = noise_free_tasks(1, n=40, m=m, d=4, k=2)
        dist[m] = [subspace_distance(cls(2, random_state=0, steps=s, **params).fit(X, y).B_,
                                     B_star) for s in (300, 900)]
    for short, long in dist.values():
        assert abs(short - long) < 1e-3 * long      # converged: a floor, not slow training
    assert dist[1600][1] < dist[100][1] / 4 and dist[100][1] > 1e-4


def test_average_loss_erm_does_not_recover_the_subspace_even_without_noise():
    """Collins22 §5: one shared (B, w) fits the average task, not col(B*)."""
    for m in (100, 1600):
        X, y, B_star = noise_free_tasks(1, n=40, m=m, d=4, k=2)
        assert subspace_distance(E.ERM(2, random_state=0, steps=300).fit(X, y).B_, B_star) > 0.5


def test_a_new_task_is_predicted_from_k_samples_in_the_learned_subspace():
    X, y, B_star = noise_free_tasks(2, n=20, m=30, d=8, k=2)
    est = E.FedRep(2, steps=80, random_state=0).fit(X, y)
    rng = np.random.default_rng(5)
    w_new = rng.standard_normal(2)
    X_new, X_query = rng.standard_normal((2, 8)), rng.standard_normal((50, 8))
    pred = est.fit_head(X_new, X_new @ B_star @ w_new).predict(X_query)
    assert np.allclose(pred, X_query @ B_star @ w_new, atol=1e-8)
    assert est.heads_.shape == (20, 2) and est.transform(X_query).shape == (50, 2)


# ---------------------------------------------------------------- tasks of different sizes


def ragged(seed):
    rng = np.random.default_rng(seed)
    sizes = [3, 7, 5, 9]
    return ([rng.standard_normal((m, 6)) for m in sizes], [rng.standard_normal(m) for m in sizes])


def test_tasks_of_different_sizes_match_their_definitions():
    """Padded with per-task counts: the moment matrix pools all N samples equally, and the
    loss and residual of each task divide by its own m_i."""
    Xs, ys = ragged(0)
    data = check_data(Xs, ys)
    X_all, y_all = np.concatenate(Xs), np.concatenate(ys)
    M = (X_all * y_all[:, None] ** 2).T @ X_all / len(y_all)
    assert np.allclose(moment_matrix(data)[0], M, rtol=1e-13)
    u = np.random.default_rng(1).standard_normal((1, 4, 6))
    r, loss = data.resid_and_loss(u)
    for i, (Xi, yi) in enumerate(zip(Xs, ys, strict=True)):
        assert np.allclose(r[0, i], Xi.T @ (Xi @ u[0, i] - yi) / len(yi), rtol=1e-13)
        assert np.allclose(data.sig(u)[0, i], Xi.T @ Xi @ u[0, i] / len(yi), rtol=1e-13)
    expected = np.mean([0.5 * np.mean((Xi @ u[0, i] - yi) ** 2)
                        for i, (Xi, yi) in enumerate(zip(Xs, ys, strict=True))])
    assert loss[0] == pytest.approx(expected, rel=1e-13)
    total = sum(Xi.T @ Xi @ u[0, i] / len(yi)
                for i, (Xi, yi) in enumerate(zip(Xs, ys, strict=True)))
    assert np.allclose(data.sig_sum(u)[0], total, rtol=1e-13)


def test_every_estimator_fits_tasks_of_different_sizes():
    Xs, ys = ragged(2)
    for cls in CLASSES.values():
        params = {"steps": 3} if "steps" in params_of(cls) else {}
        est = cls(2, random_state=0, **params).fit(Xs, ys)
        assert est.B_.shape == (6, 2) and np.isfinite(est.B_).all()
        assert est.n_samples_ == sum(len(y) for y in ys)


# ---------------------------------------------------------------- bad data


@pytest.mark.parametrize("X, y, k, message", [
    (np.ones((3, 4)), np.ones((3, 4)), 2, "shape"),
    (np.ones((3, 4, 5)), np.ones((3, 5)), 2, "shape"),
    (np.full((3, 4, 5), np.nan), np.ones((3, 4)), 2, "NaN"),
    (np.ones((3, 4, 5)), np.array([[1, 2, np.nan, 4]] * 3), 2, "NaN"),
    (np.ones((3, 0, 5)), np.ones((3, 0)), 2, "no samples"),
    ([np.ones((2, 5)), np.ones((0, 5))], [np.ones(2), np.ones(0)], 2, "no samples"),
    ([np.ones((2, 5)), np.ones((2, 4))], [np.ones(2), np.ones(2)], 2, "task 1"),
    (np.ones((3, 4, 5)), np.ones((3, 4)), 6, "k <= d"),
])
def test_bad_data_gives_one_clear_error(X, y, k, message):
    with pytest.raises(DataError, match=message) as err:
        E.FedRep(k).fit(X, y)
    assert "\n" not in str(err.value)


def test_a_bad_data_file_exits_2_in_one_line(tmp_path):
    np.savez(tmp_path / "bad.npz", X=np.ones((3, 4, 5)), y=np.full((3, 4), np.nan))
    res = CliRunner().invoke(cli, ["run", "--data", str(tmp_path / "bad.npz"),
                                   "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "NaN" in res.output


def test_unfitted_and_mismatched_use_is_refused():
    with pytest.raises(ValueError, match="not fitted"):
        E.MAML(2).transform(np.ones((3, 5)))
    X, y, _ = noise_free_tasks(0, 5, 6, 5, 2)
    est = E.MethodOfMoments(2).fit(X, y)
    with pytest.raises(ValueError, match="fit_head"):
        est.predict(np.ones((3, 5)))
    with pytest.raises(DataError, match="features"):
        est.fit_head(np.ones((3, 4)), np.ones(3))
    with pytest.raises(TypeError, match="unexpected keyword"):
        E.MAML(2, gamma=1)
    assert isinstance(check_data(X, y), SampleData)
