"""The kao-omniglot tier: Kao22's Omniglot settings, and the test-time-zeroing measurement checked
against a hand-made one (a checkpoint's head zeroed by hand, adapted and scored without the
engine's inner loop, evaluation or zeroing code)."""

import dataclasses
import json

import numpy as np
import pytest

from linmeta.fewshot.claims import grid
from linmeta.fewshot.data.episodes import sample_episodes, stream
from linmeta.fewshot.engine.layers import accuracy
from linmeta.fewshot.engine.network import (
    conv4,
    forward,
    head_index,
    init_params,
    loss_and_grad,
    unflatten_tree,
)
from linmeta.fewshot.engine.train import build

KAO = grid.TIERS["kao-omniglot"]


def test_tier_is_kao22s_omniglot_script():
    """The values of Kao22's ``omniglot/train_main.py`` (argparse defaults and
    ``utils.get_config``), written out here independently of the tier."""
    c = KAO.base
    assert (c.algorithm, c.n_way, c.k_shot, c.n_query, c.meta_batch, c.steps) == \
        ("fo_maml", 5, 1, 15, 32, 3000)
    assert (c.inner_lr, c.inner_steps, c.inner_steps_test, c.outer_lr) == (0.4, 2, 3, 1e-3)
    assert (c.channels, c.block_order, c.downsample, c.image_size) == (64, "kao", "stride", 28)
    assert KAO.test_tasks == 600 and 1 in KAO.test_steps and 3 in KAO.test_steps
    assert c.ckpt_every == 500  # test-time zeroing scored every 500 steps
    heads = {s.name: s for s in grid.settings(KAO)}
    assert {n: s.seeds for n, s in heads.items()} == {
        "omni-fo-random": 4, "omni-fo-zeroing": 4, "omni-fo-zeroinit": 3, "omni-fo-half": 3,
        "omni-fo-zeroing-7": 3, "omni-fo-random-7": 3}
    for name in ("omni-fo-random", "omni-fo-zeroinit", "omni-fo-half"):
        assert "test_zeroed" in heads[name].measures
    cfgs = {n: s.config(c, 0) for n, s in heads.items()}
    assert cfgs["omni-fo-zeroing"].zeroing and cfgs["omni-fo-zeroinit"].head_init == "zero"
    # --initvar multiplies a Kaiming head's weight: ×0.5 is half the random head's scale
    assert cfgs["omni-fo-half"].head_scale == pytest.approx(0.5 * cfgs["omni-fo-random"].head_scale)


def test_reference_head_has_kaiming_scale():
    """PyTorch's ``kaiming_normal_`` on a (5, 64) weight: std √(2/64) (fan-in, gain √2)."""
    net = conv4(5, 64, 28, 1, block_order="kao", downsample="stride")
    hi = head_index(net)
    assert dict(net[hi].opts)["f_in"] == 64  # 28 → 13 → 6 → 2 → 1 pixel, 64 channels
    w = np.concatenate([init_params(net, np.random.default_rng(s), head_scale=grid.KAIMING,
                                    dtype=np.float64)["head"]["w"].ravel() for s in range(200)])
    # 64 000 draws: the sample sd is within 2% of the true one with overwhelming probability
    assert w.std() == pytest.approx(np.sqrt(2 / 64), rel=0.02)


TINY = dataclasses.replace(
    KAO, name="tiny-kao",
    base=dataclasses.replace(KAO.base, dataset="glyphs", n_classes=60, channels=6, meta_batch=2,
                             n_query=3, steps=4, eval_every=2, ckpt_every=2, val_tasks=4),
    test_tasks=12, probe_tasks=2)


@pytest.fixture(scope="module")
def random_point(tmp_path_factory):
    root = tmp_path_factory.mktemp("kao")
    setting = next(s for s in grid.settings(TINY) if s.name == "omni-fo-random")
    doc = grid.run_point(setting, 0, TINY, root / "results", root / "work")
    return doc, setting.config(TINY.base, 0), root / "work" / setting.name / "seed0"


def _checkpoint_params(path):
    with np.load(path) as f:
        return unflatten_tree({k: f[k] for k in f.files}, "params/")


def _test_tasks(cfg, pool):
    """The tier's test tasks, drawn as :func:`evaluate_predictor` draws them (one batch)."""
    return sample_episodes(pool, stream(grid.TEST_SEED, "eval"), TINY.test_tasks, cfg.n_way,
                           cfg.k_shot, cfg.n_query, dtype=np.float32)


def _features(net, params, x):
    """Penultimate features of one task's images ``x (N, ...)`` as one batch-norm batch."""
    h, _ = forward(net, params, x[None], 0, head_index(net))
    return np.asarray(h[0], dtype=np.float64)


@pytest.mark.parametrize("step_index", [0, 1])
def test_zeroed_one_step_equals_nearest_support_by_inner_product(random_point, step_index):
    """With the head at 0, one inner step on a balanced support set moves only the head, to
    ``w_k ∝ φ(s_k) − mean_j φ(s_j)`` with zero bias; so a query goes to the support class with the
    largest ``φ(q)·φ(s_k)``. Scored by hand from the checkpoint file, it must give the accuracy
    the tier recorded for that checkpoint with its head zeroed."""
    doc, cfg, work = random_point
    col = doc["test_zeroed"][step_index]
    params = _checkpoint_params(work / "checkpoints" / f"step_{col['step']:07d}.npz")
    params["head"] = {k: np.zeros_like(v) for k, v in params["head"].items()}  # by hand
    net, data, _, _ = build(cfg)
    ep = _test_tasks(cfg, data["test"])
    hits = []
    for i in range(TINY.test_tasks):
        fs, fq = _features(net, params, ep.xs[i]), _features(net, params, ep.xq[i])
        proto = np.stack([fs[ep.ys[i] == k].mean(0) for k in range(cfg.n_way)])
        hits.append(np.argmax(fq @ proto.T, axis=1) == ep.yq[i])
    by_hand = float(np.mean([h.mean() for h in hits]))
    queries = cfg.n_way * cfg.n_query * TINY.test_tasks
    assert abs(col["zeroed"]["1"]["acc"] - by_hand) <= 1.5 / queries


def test_zeroed_three_steps_by_a_hand_written_sgd_loop(random_point):
    """Three plain SGD steps on every parameter (no inner-loop code of the engine), from the last
    checkpoint with its head zeroed by hand, score the accuracy the tier recorded."""
    doc, cfg, work = random_point
    col = doc["test_zeroed"][-1]
    theta0 = _checkpoint_params(work / "checkpoints" / f"step_{col['step']:07d}.npz")
    theta0["head"] = {k: np.zeros_like(v) for k, v in theta0["head"].items()}
    net, data, _, _ = build(cfg)
    ep = _test_tasks(cfg, data["test"])
    accs = []
    for i in range(TINY.test_tasks):
        p = {n: dict(d) for n, d in theta0.items()}
        for _ in range(3):
            _, g, _ = loss_and_grad(net, p, ep.xs[i:i + 1], ep.ys[i:i + 1])
            p = {n: {k: a - np.float32(cfg.inner_lr) * g[n][k] for k, a in d.items()}
                 for n, d in p.items()}
        z, _ = forward(net, p, ep.xq[i:i + 1])
        accs.append(float(np.asarray(accuracy(z, ep.yq[i:i + 1]))[0]))
    queries = cfg.n_way * cfg.n_query * TINY.test_tasks
    assert abs(col["zeroed"]["3"]["acc"] - np.mean(accs)) <= 1.5 / queries
    # and the head as trained is scored as well, at the same checkpoints
    assert [c["step"] for c in doc["test_zeroed"]] == [2, 4]
    assert json.dumps(col["model"])  # present and serialisable


def test_zeroed_score_differs_from_the_trained_head(random_point):
    """The two scores of a checkpoint are separate measurements: a random Kaiming head gives
    different predictions than the zeroed one on at least one of the 12 tasks' queries."""
    doc, _, _ = random_point
    assert any(c["zeroed"][s]["acc"] != c["model"][s]["acc"]
               for c in doc["test_zeroed"] for s in ("1", "3"))


def _runner(*args, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "fewshot_all.py"
    return subprocess.run([sys.executable, str(script), *args, "--results", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)


def test_runner_lists_the_kao_tier_heads_first(tmp_path):
    proc = _runner("--tier", "kao-omniglot", "--list", tmp_path=tmp_path)
    assert proc.returncode == 0 and "0/20 points done" in proc.stdout
    names = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("todo")]
    assert names[:4] == ["omni-fo-random", "omni-fo-zeroing", "omni-fo-zeroinit",
                         "omni-fo-half"]
    assert set(names[14:]) == {"omni-fo-zeroing-7", "omni-fo-random-7"}  # phase 1: claim (c)


def test_runner_refuses_two_tiers_and_a_scheduler_without_dask(tmp_path):
    proc = _runner("--quick", "--tier", "kao-omniglot", tmp_path=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("Error: choose one tier")
    proc = _runner("--tier", "kao-ablation", "--scheduler", "tcp://127.0.0.1:1",
                   tmp_path=tmp_path)
    assert proc.returncode == 2 and "--scheduler needs --executor dask" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ablation_moves_one_factor_each_then_the_architecture_together():
    base = grid.KAO_ABLATION.base
    assert base.steps == 1000 and base.head_scale == grid.KAIMING
    moved = []
    for s in grid.settings(grid.KAO_ABLATION):
        cfg = s.config(base, 0)
        changed = {f for f in ("meta_batch", "n_query", "inner_steps", "head_scale", "channels",
                               "downsample") if getattr(cfg, f) != getattr(base, f)}
        assert "test_zeroed" in s.measures
        moved.append((s.phase, changed))
    singles = [c for phase, c in moved if phase == 0]
    assert len(singles) == 6 and all(len(c) == 1 for c in singles)
    assert set().union(*singles) == {"meta_batch", "n_query", "inner_steps", "head_scale",
                                     "channels", "downsample"}
    assert [c for phase, c in moved if phase == 1] == [{"channels", "downsample"}]
    data = [s.config(base, 0).dataset for s in grid.settings(grid.KAO_ABLATION) if s.phase == 2]
    assert data == ["glyphs"] and base.dataset == "omniglyphs"


def test_long_tier_continues_the_kao_tiers_random_head():
    long = grid.TIERS["kao-long"]
    assert long.extends == "kao-omniglot" and long.base.steps == 9000
    assert [s.name for s in grid.settings(long)] == ["omni-fo-random"]
    # the same run but for its length, so a finished kao-omniglot run can be resumed
    for seed in range(3):
        short = grid.settings(KAO)[0].config(KAO.base, seed)
        assert dataclasses.replace(short, steps=9000) == grid.settings(long)[0].config(
            long.base, seed)


TINY_LONG = dataclasses.replace(TINY, name="tiny-long",
                                base=dataclasses.replace(TINY.base, steps=6),
                                only=("omni-fo-random",), extends="tiny-kao", zeroed_every=4)


def test_a_continued_run_is_the_run_trained_from_step_0(random_point, tmp_path):
    """The tier that extends another copies its finished run in and resumes it; the point must
    equal the same point trained from step 0 with no run to start from, measurement for
    measurement. Test-time zeroing is scored only at multiples of ``zeroed_every``."""
    _, _, short_run = random_point
    setting = grid.settings(TINY_LONG)[0]
    start = short_run.parents[1]  # the work directory of the tier it extends
    steps = []
    continued = grid.run_point(setting, 0, TINY_LONG, tmp_path / "a" / "res",
                               tmp_path / "a" / "work", start=start,
                               progress=lambda _n, _k, step, _s: steps.append(step))
    assert steps == [5, 6]  # resumed after the shorter run's last step, 4
    fresh = grid.run_point(setting, 0, TINY_LONG, tmp_path / "b" / "res", tmp_path / "b" / "work")
    assert [c["step"] for c in continued["test_zeroed"]] == [4]
    for key in ("test", "test_zeroed", "diagnosis", "curve"):
        assert continued[key] == fresh[key], key


def test_nothing_is_copied_from_an_unfinished_or_different_run(random_point, tmp_path):
    _, _, short_run = random_point
    setting = grid.settings(TINY_LONG)[0]
    fake = tmp_path / "start" / setting.name / "seed0"
    (fake / "checkpoints").mkdir(parents=True)
    for name in ("step_0000002.npz",):  # stopped at step 2 of 4: unfinished
        (fake / "checkpoints" / name).write_bytes(
            (short_run / "checkpoints" / name).read_bytes())
    out = tmp_path / "work" / setting.name / "seed0"
    assert not grid.start_from(setting, 0, TINY_LONG, out, tmp_path / "start")
    other = dataclasses.replace(TINY_LONG, base=dataclasses.replace(TINY_LONG.base, outer_lr=2e-3))
    assert not grid.start_from(setting, 0, other, out, short_run.parents[1])
    assert not out.exists()
    assert grid.start_from(setting, 0, TINY_LONG, out, short_run.parents[1])
    assert not grid.start_from(setting, 0, TINY_LONG, out, short_run.parents[1])  # has one now
