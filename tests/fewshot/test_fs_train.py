"""Training behaviour: zeroing trick, exact resume, learning on glyphs, evaluation, CLI, CuPy."""

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from linmeta.backend import cupy_available
from linmeta.fewshot import data as D
from linmeta.fewshot.cli import fewshot
from linmeta.fewshot.data.episodes import STREAMS, stream
from linmeta.fewshot.engine.evaluate import evaluate, evaluate_predictor
from linmeta.fewshot.engine.meta import adapt_and_predict
from linmeta.fewshot.engine.train import (
    TrainConfig,
    build,
    eval_kwargs,
    init_state,
    load_checkpoint,
    read_metrics,
    run,
    train_loop,
    train_step,
)

TINY = TrainConfig(algorithm="maml", n_classes=40, image_size=16, channels=4, meta_batch=2,
                   n_query=2, steps=4, eval_every=2, ckpt_every=2, val_tasks=4, test_tasks=0)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LINMETA_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.mark.parametrize("algorithm", ["maml", "fo_anil"])
def test_zeroing_trick_keeps_head_exactly_zero(algorithm):
    cfg = dataclasses.replace(TINY, algorithm=algorithm, zeroing=True)
    net, data, xp, dt = build(cfg)
    st = init_state(cfg, net, xp, dt)
    before = st.params["conv1"]["w"].copy()
    for _ in range(3):
        assert all(np.all(a == 0) for a in st.params["head"].values())
        st, _ = train_step(net, st, cfg, data["train"], xp, dt)
    assert all(np.all(a == 0) for a in st.params["head"].values())
    assert np.abs(st.params["conv1"]["w"] - before).max() > 0  # the body still learns
    # without the trick the head moves
    cfg2 = dataclasses.replace(cfg, zeroing=False)
    st2 = init_state(cfg2, net, xp, dt)
    st2, _ = train_step(net, st2, cfg2, data["train"], xp, dt)
    assert np.abs(st2.params["head"]["w"]).max() > 0


def _final(out):
    st, _ = load_checkpoint(sorted((out / "checkpoints").glob("*.npz"))[-1])
    return st


def test_resume_reproduces_uninterrupted_run_bit_for_bit(tmp_path):
    cfg = dataclasses.replace(TINY, steps=5)
    run(cfg, tmp_path / "a")
    run(dataclasses.replace(cfg, steps=2), tmp_path / "b")
    run(cfg, tmp_path / "b", resume=True)
    a, b = _final(tmp_path / "a"), _final(tmp_path / "b")
    assert a.step == b.step == 5 and a.adam.t == b.adam.t == 5
    for tree in ("params",):
        ta, tb = getattr(a, tree), getattr(b, tree)
        for n in ta:
            for k in ta[n]:
                np.testing.assert_array_equal(ta[n][k], tb[n][k])
    for n in a.adam.m:
        for k in a.adam.m[n]:
            np.testing.assert_array_equal(a.adam.v[n][k], b.adam.v[n][k])
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    ra, rb = read_metrics(tmp_path / "a" / "metrics.csv"), read_metrics(tmp_path / "b" /
                                                                          "metrics.csv")
    assert [r["step"] for r in ra] == [0, 2, 4, 5]
    strip = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in ra]
    assert strip == [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rb]
    # and a different seed gives a different run (the comparison can fail)
    run(dataclasses.replace(cfg, seed=1), tmp_path / "c")
    assert not np.array_equal(_final(tmp_path / "c").params["conv1"]["w"],
                              a.params["conv1"]["w"])
    for name in ("config.json", "metrics.csv", "learning_curve.png", "results.json"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    assert not list((tmp_path / "a").rglob("*.tmp*"))


def test_short_training_lifts_heldout_accuracy():
    # ANIL, 5-way 1-shot glyphs at 16×16, 16 channels, meta-batch 4, 50 outer steps with Adam
    # 3e-3: measured 0.26 -> 0.62 held-out accuracy (200 tasks, chance 0.20).
    cfg = TrainConfig(algorithm="anil", n_classes=300, image_size=16, channels=16, meta_batch=4,
                      n_query=5, inner_steps_test=1, outer_lr=3e-3, steps=50)
    net, data, xp, dt = build(cfg)
    st = init_state(cfg, net, xp, dt)
    kw = dict(tasks=200, seed=5, dtype=dt, xp=xp, **eval_kwargs(cfg))
    before = evaluate(net, st.params, data["test"], **kw)
    for _ in range(cfg.steps):
        st, _ = train_step(net, st, cfg, data["train"], xp, dt)
    after = evaluate(net, st.params, data["test"], **kw)
    assert after.acc > 0.45
    assert after.acc > before.acc + 0.15
    assert 0 < after.ci95 < 0.05


def test_evaluate_interval_formula():
    cfg = TINY
    net, data, xp, dt = build(cfg)
    st = init_state(cfg, net, xp, dt)
    res = evaluate(net, st.params, data["test"], tasks=30, batch=7, seed=0, dtype=dt,
                   **eval_kwargs(cfg))
    assert res.tasks == 30 and 0 <= res.acc <= 1
    # recompute acc and interval from per-task accuracies, task by task
    from linmeta.fewshot.data.episodes import sample_episodes
    from linmeta.fewshot.engine.layers import accuracy

    rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(11,)))  # the eval stream
    accs = []
    for t in (7, 7, 7, 7, 2):
        ep = sample_episodes(data["test"], rng, t, 5, 1, cfg.n_query)
        z = adapt_and_predict(net, st.params, ep.xs, ep.ys, ep.xq, cfg.inner(cfg.inner_steps_test))
        accs += list(accuracy(z, ep.yq))
    accs = np.array(accs)
    assert res.acc == pytest.approx(accs.mean())
    assert res.ci95 == pytest.approx(1.96 * accs.std(ddof=1) / np.sqrt(30))


def test_cli_train_eval_and_errors(tmp_path):
    r = CliRunner()
    out = tmp_path / "run"
    args = ["train", "-o", str(out), "--n-classes", "40", "--image-size", "16", "--channels",
            "4", "--meta-batch", "2", "--n-query", "2", "--steps", "3", "--eval-every", "3",
            "--val-tasks", "4", "--test-tasks", "10", "--algorithm", "fomaml"]
    res = r.invoke(fewshot, args)
    assert res.exit_code == 0, res.output
    assert "test accuracy" in res.output
    # the old spelling is accepted and stored as the registry's
    assert json.loads((out / "config.json").read_text())["algorithm"] == "fo_maml"
    res = r.invoke(fewshot, ["eval", str(out), "--tasks", "10", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["tasks"] == 10
    res = r.invoke(fewshot, ["train", "-o", str(out), "--resume", "--steps", "4", "-q"])
    assert res.exit_code == 0, res.output
    # bad input: exit code 2, one line, no traceback
    for bad in (args,  # run exists
                ["train", "-o", str(tmp_path / "x"), "--n-way", "0"],
                ["train", "-o", str(tmp_path / "y"), "--dataset", "npz"],
                ["train", "-o", str(tmp_path / "z"), "--resume"],
                ["train", "-o", str(out), "--resume", "--channels", "8"],
                ["eval", str(tmp_path / "missing.npz")],
                ["train", "-o", str(tmp_path / "w"), "--algorithm", "reptile"]):
        res = r.invoke(fewshot, bad)
        assert res.exit_code == 2, (bad, res.output)
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (bad, res.stderr)
    (tmp_path / "corrupt.npz").write_bytes(b"junk")
    res = r.invoke(fewshot, ["eval", str(tmp_path / "corrupt.npz")])
    assert res.exit_code == 2 and "corrupt.npz is not an .npz file" in res.output
    ckpt = next((out / "checkpoints").glob("*.npz")).read_bytes()
    (tmp_path / "cut.npz").write_bytes(ckpt[: len(ckpt) // 2])  # a zip archive, cut
    res = r.invoke(fewshot, ["eval", str(tmp_path / "cut.npz")])
    assert res.exit_code == 2 and "cannot read checkpoint" in res.output


def test_cli_trains_on_an_npz_dataset(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", images=rng.random((200, 16, 16)), labels=np.repeat(
        np.arange(40), 5))
    res = CliRunner().invoke(fewshot, [
        "train", "-o", str(tmp_path / "r"), "--dataset", "npz", "--data-path",
        str(tmp_path / "d.npz"), "--channels", "4", "--meta-batch", "2", "--n-query", "2",
        "--steps", "2", "--val-tasks", "2", "--test-tasks", "4", "--n-way", "2", "-q"])
    assert res.exit_code == 0, res.output


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA device")
def test_cupy_matches_numpy():  # pragma: no cover - needs a GPU
    import cupy

    from linmeta.fewshot.engine.meta import meta_gradient
    from linmeta.fewshot.engine.network import conv4, init_params, tree_map

    net = conv4(3, 4, 16, 1)
    p = init_params(net, np.random.default_rng(0), dtype=np.float64)
    rng = np.random.default_rng(1)
    batch = (rng.random((2, 3, 16, 16, 1)), np.tile(np.arange(3), (2, 1)),
             rng.random((2, 6, 16, 16, 1)), np.tile(np.repeat(np.arange(3), 2), (2, 1)))
    for alg in ("maml", "anil"):
        g_np, _ = meta_gradient(net, p, batch, algorithm=alg, inner_lr=0.3, inner_steps=2)
        g_cp, _ = meta_gradient(net, tree_map(cupy.asarray, p),
                                tuple(cupy.asarray(a) for a in batch), algorithm=alg,
                                inner_lr=0.3, inner_steps=2)
        for n in g_np:
            for k in g_np[n]:
                np.testing.assert_allclose(cupy.asnumpy(g_cp[n][k]), g_np[n][k], rtol=1e-9)


def test_data_error_is_a_value_error():
    assert issubclass(D.DataError, ValueError)


@pytest.mark.parametrize("chunk", [1, 3, 50])
def test_evaluation_in_task_chunks_changes_no_value(chunk):
    cfg = TINY
    net, data, xp, dt = build(cfg)
    st = init_state(cfg, net, xp, dt)
    kw = dict(tasks=12, batch=5, seed=0, dtype=dt, **eval_kwargs(cfg))
    ref = evaluate(net, st.params, data["test"], chunk=10**6, **kw)
    assert evaluate(net, st.params, data["test"], chunk=chunk, **kw) == ref


def test_train_loop_yields_every_step_and_calls_the_snapshot_hook_when_due():
    cfg = dataclasses.replace(TINY, steps=5, eval_every=2, ckpt_every=3)
    net, data, xp, dt = build(cfg)
    calls = []

    def snapshot(st, kind):
        calls.append((kind, st.step, st.running[2]))

    yielded = list(train_loop(net, init_state(cfg, net, xp, dt), cfg, data["train"], xp, dt,
                              snapshot))
    assert [st.step for st, _ in yielded] == [1, 2, 3, 4, 5]
    # metrics rows at 2, 4 and the last step; checkpoints at 3 and the last, each holding the
    # running sums since the last row (1 step at step 3; 0 at 5, just after its row)
    assert calls == [("metrics", 2, 2), ("checkpoint", 3, 1), ("metrics", 4, 2),
                     ("metrics", 5, 1), ("checkpoint", 5, 0)]
    # the states are those of train_step, and the hook changes nothing
    st = init_state(cfg, net, xp, dt)
    for got, _ in yielded:
        st, _ = train_step(net, st, cfg, data["train"], xp, dt)
        np.testing.assert_array_equal(got.params["conv1"]["w"], st.params["conv1"]["w"])
    bare = list(train_loop(net, init_state(cfg, net, xp, dt), cfg, data["train"], xp, dt))
    np.testing.assert_array_equal(bare[-1][0].params["head"]["w"],
                                  yielded[-1][0].params["head"]["w"])


def test_evaluate_is_evaluate_predictor_on_test_time_adaptation():
    cfg = TINY
    net, data, xp, dt = build(cfg)
    params = init_state(cfg, net, xp, dt).params
    kw = eval_kwargs(cfg)
    spec = kw["spec"]
    got = evaluate(net, params, data["test"], tasks=9, batch=4, seed=3, dtype=dt, **kw)
    want = evaluate_predictor(
        lambda xs, ys, xq: adapt_and_predict(net, params, xs, ys, xq, spec), data["test"],
        n_way=cfg.n_way, k_shot=cfg.k_shot, n_query=cfg.n_query, loss=cfg.loss, tasks=9,
        batch=4, seed=3, dtype=dt)
    assert got == want
    assert np.isnan(evaluate_predictor(
        lambda xs, ys, xq: adapt_and_predict(net, params, xs, ys, xq, spec), data["test"],
        n_way=cfg.n_way, k_shot=cfg.k_shot, n_query=cfg.n_query, tasks=2).loss)


def test_streams_are_distinct_and_init_train_are_the_seeds_two_children():
    assert len(set(STREAMS.values())) == len(STREAMS)
    init_ss, train_ss = np.random.SeedSequence(4).spawn(2)
    assert stream(4, "init").random() == np.random.default_rng(init_ss).random()
    assert stream(4, "train").random() == np.random.default_rng(train_ss).random()
    assert stream(4, "eval").random() != stream(4, "train").random()


def test_old_algorithm_spelling_loads_and_resumes(tmp_path):
    assert TrainConfig(algorithm="fomaml") == TrainConfig(algorithm="fo_maml")
    assert TrainConfig.from_dict({"algorithm": "foanil"}).algorithm == "fo_anil"
    with pytest.raises(ValueError, match="unknown algorithm"):
        TrainConfig(algorithm="fo-maml").validate()
    # a run written before the rename: "fomaml" in config.json and in its checkpoint
    cfg = dataclasses.replace(TINY, algorithm="fo_maml", steps=2)
    out = tmp_path / "old"
    run(cfg, out)
    ckpt = sorted((out / "checkpoints").glob("*.npz"))[-1]
    with np.load(ckpt) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["config"] = np.array(str(arrays["config"]).replace('"fo_maml"', '"fomaml"'))
    np.savez(ckpt, **arrays)
    (out / "config.json").write_text((out / "config.json").read_text().replace(
        '"fo_maml"', '"fomaml"'))
    assert load_checkpoint(ckpt)[1] == cfg
    run(dataclasses.replace(cfg, steps=4), out, resume=True)
    assert _final(out).step == 4
    res = CliRunner().invoke(fewshot, ["train", "-o", str(out), "--resume", "--steps", "5", "-q"])
    assert res.exit_code == 0, res.output
    assert _final(out).step == 5


# the options of `linmeta fewshot train` before they were generated from TrainConfig:
# (name, type or choices, default)
_OPTIONS = [
    ("algorithm", ["anil", "foanil", "fomaml", "maml"], "maml"), ("n_way", "integer", "5"),
    ("k_shot", "integer", "1"), ("n_query", "integer", "5"), ("meta_batch", "integer", "8"),
    ("steps", "integer", "300"), ("inner_lr", "float", "0.4"), ("inner_steps", "integer", "1"),
    ("inner_steps_test", "integer", "3"), ("outer_lr", "float", "0.001"),
    ("loss", ["ce", "mse"], "ce"), ("zeroing", "boolean", None),
    ("head_init", ["random", "zero"], "random"), ("head_scale", "float", "1.0"),
    ("channels", "integer", "32"), ("block_order", ["finn", "kao"], "finn"),
    ("downsample", ["pool", "stride"], "pool"),
    ("dataset", ["glyphs", "omniglyphs", "omniglot", "miniimagenet", "npz"], "glyphs"),
    ("data_path", "path", "None"), ("image_size", "integer", "None"),
    ("n_classes", "integer", "1623"), ("split_seed", "integer", "0"),
    ("rotations", "boolean", None), ("invert", "boolean", None), ("seed", "integer", "0"),
    ("eval_every", "integer", "25"),
    ("val_tasks", "integer", "100"), ("ckpt_every", "integer", "100"),
    ("test_tasks", "integer", "600"), ("backend", ["numpy", "cupy"], "numpy"),
    ("workers", "integer", "1"),
]


def test_train_options_are_those_of_before():
    from linmeta.fewshot.cli import train_cmd

    params = [p for p in train_cmd.params if p.name not in ("out", "resume", "quiet")]
    assert [p.name for p in params] == [name for name, _, _ in _OPTIONS]
    for p, (name, kind, default) in zip(params, _OPTIONS, strict=True):
        assert p.default is None, name  # unset keeps the config's value
        if isinstance(kind, list):
            choices = list(p.type.choices)
            if name == "algorithm":  # the registry's spellings join the old ones
                assert choices == sorted(kind + ["fo_anil", "fo_maml"])
            else:
                assert choices == kind, name
        else:
            assert p.type.name == kind, name
        if kind == "boolean":
            assert p.secondary_opts == [f"--no-{name}"] and "[default: no-" in p.help
        else:
            assert p.show_default == default, name
    res = CliRunner().invoke(fewshot, ["train", "--help"])
    assert res.exit_code == 0
    for name, _, _ in _OPTIONS:
        assert f"--{name.replace('_', '-')}" in res.output
