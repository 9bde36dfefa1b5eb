"""Bad inputs to every CLI command, shared by ``tests/test_bad_input.py`` (in process, after
the fix: every case exit 2 with one ``Error:`` line) and ``scripts/probe_bad_input.py`` (each case
in its own process with a timeout: counts clean errors, tracebacks, hangs and silent accepts).

A case is ``(id, argv, expected)``: ``argv`` is the command line after ``linmeta`` with the
placeholders ``{root}`` (the fixture folder of :func:`make_fixtures`) and ``{out}`` (a fresh path
per case, which a refused command must not create); ``expected`` is a fragment of the error line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

RUN = ["run", "--steps", "3", "--trials", "1", "--n-test-tasks", "2", "--no-plot",
       "--out", "{out}"]
SWEEP = ["sweep", "--set", "steps=2", "--set", "trials=1", "--set", "n_test_tasks=0", "--jobs", "1",
         "--out", "{out}"]
TRAIN = ["fewshot", "train", "-o", "{out}", "-q", "--n-classes", "40", "--image-size", "16",
         "--channels", "4", "--meta-batch", "2", "--n-query", "2", "--steps", "2", "--eval-every",
         "2", "--val-tasks", "2", "--test-tasks", "2"]
EVAL = ["fewshot", "eval", "{root}/fsrun", "--tasks", "2"]
CONTRASTIVE = ["fewshot", "contrastive", "{root}/fsrun", "--out", "{out}", "-q", "--steps", "1",
               "--tasks", "2", "--share-tasks", "2"]
HUGE = "1000000000"  # 1e9
VAST = "1000000000000"  # 1e12


def _cases():
    c = []

    def add(prefix, args, expected, name=None):
        c.append((name or " ".join(args), prefix + list(args), expected))

    # ---------------------------------------------------------------- linmeta run
    for args in (["--d", "10000000", "--trials", "5", "--n-test-tasks", "100"],
                 ["--d", HUGE], ["--steps", VAST], ["--n-tasks", HUGE],
                 ["--trials", "100000000"], ["--mode", "finite", "--m-in", HUGE],
                 ["--mode", "finite", "--m-out", HUGE], ["--n-test-tasks", HUGE],
                 ["--m-test", HUGE], ["--tau", HUGE], ["--steps", VAST, "--log-every", VAST],
                 ["--d", "100000", "--k", "100000"]):
        add(["run"] + RUN[1:], args, "needs", "run huge " + " ".join(args))
    for name, values in (("--x-cov-cond", ["inf", "nan", "0.5"]),
                         ("--head-kappa", ["inf", "nan", "0.5"]),
                         ("--head-mu", ["nan", "inf", "-1"]),
                         ("--alpha", ["inf", "nan", "-1"]), ("--beta", ["inf", "nan", "-1"]),
                         ("--sigma", ["inf", "nan", "-1"]), ("--w0-scale", ["nan", "inf", "-1"]),
                         ("--head-mean", ["nan", "inf", "-1"]),
                         ("--memory-mb", ["nan", "inf", "-1"])):
        field = name[2:].replace("-", "_")
        for v in values:
            add(RUN, [name, v], field, f"run {name} {v}")
    for name, values in (("--d", ["0", "-1"]), ("--k", ["0", "-1", "30"]),
                         ("--k-learner", ["-1", "30"]), ("--n-tasks", ["0", "-1"]),
                         ("--steps", ["-1"]), ("--tau", ["0"]), ("--trials", ["0"]),
                         ("--log-every", ["0", "-1"]), ("--n-test-tasks", ["-1"]),
                         ("--m-test", ["-1"]), ("--seed", ["-1"]), ("--chunk-tasks", ["-1"])):
        field = name[2:].replace("-", "_")
        for v in values:
            add(RUN, [name, v], field, f"run {name} {v}")
    for args, expected in (
        (["--mode", "finite", "--m-in", "0"], "m_in"),
        (["--mode", "finite", "--m-out", "0"], "m_out"),
        (["--mode", "bogus"], "bogus"), (["--init", "bogus"], "bogus"),
        (["--backend", "tpu"], "tpu"), (["--dtype", "float16"], "float16"),
        (["--methods", ""], "method"), (["--methods", ","], "method"),
        (["--methods", "maml,bogus"], "bogus"),
        (["--d", "x"], "not a valid integer"), (["--alpha", "x"], "not a valid float"),
        (["--steps", "1.5"], "not a valid integer"), (["--seed", "1e3"], "not a valid integer"),
        (["--task-pool", "yes"], "unexpected extra argument"),
        (["--bogus", "1"], "No such option"),
        (["--chunk-tasks", "2", "--methods", "mom"], "chunked"),
        (["--samples", "bogus"], "bogus"), (["--samples", "fixed"], "finite"),
        (["--mode", "finite", "--samples", "fixed", "--batch-tasks", "100"], "batch_tasks"),
        (["--batch-tasks", "-1"], "batch_tasks"),
        (["--data", "{root}/missing.npz"], "missing.npz"),
        (["--data", "{root}/garbage.npz"], "garbage.npz is not an .npz file"),
        (["--data", "{root}/truncated.npz"], "cannot read data file"),
        (["--data", "{root}/data_nok.npz"], "--k"),
        (["--data", "{root}/data_bstar.npz", "--k", "3"], "fixes k=2"),
        (["--data", "{root}/data_badk.npz"], "k must be one integer"),
        (["--config", "{root}/missing.toml"], "not found"),
        (["--config", "{root}/malformed.toml"], "malformed"),
        (["--config", "{root}/unknown.toml"], "unknown config field"),
        (["--config", "{root}/type.toml"], "d must be of type int"),
        (["--config", "{root}/k50.toml"], "k must be <= d"),
        (["--config", "{root}/inf.toml"], "x_cov_cond"),
        (["--config", "{root}/methods.toml"], "methods"),
        (["--config", "{root}"], "directory"),
        (["--problem", "{root}/missing.npz"], "not found"),
        (["--problem", "{root}/garbage.npz"], "problem file"),
        (["--problem", "{root}/garbage.npz"], "garbage.npz is not an .npz file"),
        (["--problem", "{root}/problem_nan.npz"], "non-finite"),
        (["--problem", "{root}/problem.npz", "--d", "9"], "d=9"),
        (["--problem", "{root}/problem.npz", "--n-tasks", "7"], "n_tasks=7"),
        (["--problem", "{root}/problem.npz", "--k", "3"], "k=3"),
        (["--problem", "{root}/problem.npz", "--k-learner", "3"], "k_learner=3"),
        (["--problem", "{root}/problem.npz", "--x-cov-cond", "10"], "x_cov_cond"),
        (["--problem", "{root}/problem.npz", "--no-task-pool"], "task_pool"),
        (["--problem", "{root}/problem.npz", "--config", "{root}/d12.toml"], "d=12"),
    ):
        add(RUN, args, expected, "run " + " ".join(args))
    for out, expected in (("{root}/file/x", "file"), ("/proc/linmeta-probe/x", "/proc"),
                          ("{root}/result", "--overwrite"), ("{root}/partial", "--resume")):
        add(["run"] + RUN[1:-2], ["--out", out], expected, f"run --out {out}")
    for args, expected in (
        (["{root}/result"], "nothing to resume"), (["{root}/missing"], "no run to resume"),
        (["{root}/empty"], "no run to resume"), (["{root}/badjson"], "unreadable"),
        (["{root}/nometrics"], "nothing to resume"),
        (["{root}/partial", "--steps", "5"], "drop --steps"),
        (["{root}/partial", "--out", "{out}"], "drop --out"),
        (["{root}/partial_damaged"], "damaged"),
        (["{root}/partial_norecord"], "run_options"),
    ):
        add(["run", "--resume"], args, expected, "run --resume " + " ".join(args))

    # ---------------------------------------------------------------- linmeta plot
    for args, expected in (
        (["{root}/missing"], "not a finished"), (["{root}/empty"], "not a finished"),
        (["{root}/badjson"], "unreadable"), (["{root}/nometrics"], "metrics.csv"),
        (["{root}/badheader"], "not a linmeta metrics file"),
        (["{root}/truncated"], "damaged"), (["{root}/cut_at_line"], "damaged"),
        (["{root}/edited"], "damaged"),
        (["{root}/result", "--metric", "bogus"], "bogus"),
        (["{root}/result", "--metric", "angle_9"], "angle_9"),
        (["{root}/result", "--out", "{root}/file/x.png"], "file"),
        (["{root}/result", "--out", "/proc/linmeta-probe.png"], "/proc"),
        (["{root}/result", "--out", "{root}/empty"], "directory"),
        (["{root}/result", "--out", "{root}/result/plot.txt"], "png"),
        ([], "Missing argument"), (["{root}/file"], "file"),
        (["{root}/sweep", "--x", "d"], "not in this sweep's grid"),
        (["{root}/sweep", "--x", "bogus"], "not a config field"),
        (["{root}/sweep", "--x", "seed"], "replicate"),
        (["{root}/sweep_one", "--x", "alpha"], "one value"),
        (["{root}/sweep", "--x", "alpha", "--metric", "bogus"], "no metric 'bogus'"),
        (["{root}/sweep", "--x", "alpha", "--y", "alpha"], "same grid field"),
        (["{root}/sweep", "--y", "alpha"], "--y needs --x"),
        (["{root}/sweep", "{root}/result", "--x", "alpha"], "one sweep directory"),
        (["{root}/sweep"], "is a sweep: give --x"),
        (["{root}/result", "--x", "alpha"], "not a linmeta sweep"),
        (["{root}/empty", "--x", "alpha"], "not a linmeta sweep"),
        (["{root}/sweep_unfinished", "--x", "alpha"], "no point"),
        (["{root}/sweep_damaged", "--x", "alpha"], "damaged"),
        (["{root}/sweep_badjson", "--x", "alpha"], "not a sweep's point list"),
        (["{root}/sweep", "--x", "alpha", "--out", "{root}/sweep/plot.txt"], "png"),
    ):
        add(["plot"], args, expected, "plot " + " ".join(args))

    # ---------------------------------------------------------------- linmeta sweep
    for args, expected in (
        (["--grid", "n_tasks"], "FIELD=V1"), (["--grid", "bogus=1,2"], "bogus"),
        (["--grid", "n_tasks=0"], "n_tasks"), (["--grid", "n_tasks="], "FIELD=V1"),
        (["--seeds", "x"], "seeds"), (["--seeds", "5-2"], "seeds"), (["--seeds", "-1"], "seeds"),
        ([], "nothing to sweep"),
        (["--sweep", "{root}/missing.toml"], "not found"),
        (["--sweep", "{root}/malformed.toml"], "malformed"),
        (["--sweep", "{root}/sweep_keys.toml"], "unknown key"),
        (["--sweep", "{root}/sweep_grid.toml"], "non-empty list"),
        (["--sweep", "{root}/sweep_seeds.toml"], "seeds"),
        (["--grid", "n_tasks=5,6", "--grid", "n_tasks=7"], "n_tasks"),
        (["--grid", "n_tasks=5,6", "--set", "n_tasks=9"], "n_tasks"),
        (["--grid", "m_in+m_out=5", "--grid", "m_in=6"], "m_in"),
        (["--set", "n_tasks=5", "--set", "n_tasks=6", "--seeds", "0"], "n_tasks"),
        (["--sweep", "{root}/sweep_ok.toml", "--grid", "n_tasks=7"], "n_tasks"),
        (["--set", "bogus=1", "--seeds", "0"], "bogus"),
        (["--set", "d", "--seeds", "0"], "FIELD=VALUE"),
        (["--set", "alpha=nan", "--seeds", "0"], "alpha"),
        (["--grid", "x_cov_cond=inf"], "x_cov_cond"),
        (["--grid", "methods=bogus"], "bogus"),
        (["--grid", "seed=1,2", "--seeds", "0-1"], "seeds"),
        (["--executor", "dask", "--scheduler", "notanaddress", "--seeds", "0"], "scheduler"),
        (["--scheduler", "tcp://x:1", "--seeds", "0"], "--executor dask"),
        (["--executor", "bogus", "--seeds", "0"], "bogus"),
        (["--jobs", "0", "--seeds", "0"], "jobs"),
        (["--config", "{root}/missing.toml", "--seeds", "0"], "not found"),
        (["--grid", f"d={HUGE}"], "needs"),
        (["--grid", f"tau={HUGE}"], "needs"),
        (["--grid", f"n_tasks={HUGE}"], "needs"),
        (["--grid", "n_tasks=4,5", "--seeds", f"0-{VAST}"], "points"),
    ):
        add(SWEEP, args, expected, "sweep " + " ".join(args))
    for out, expected in (("{root}/file/x", "file"), ("/proc/linmeta-probe/x", "/proc")):
        add(SWEEP[:-2], ["--seeds", "0", "--out", out], expected, f"sweep --out {out}")

    # ---------------------------------------------------------------- fewshot train
    for name, values in (("--inner-lr", ["inf", "nan", "-1"]),
                         ("--outer-lr", ["inf", "nan", "0", "-1"]),
                         ("--head-scale", ["nan", "inf", "-1"]),
                         ("--n-way", ["0", "1"]), ("--k-shot", ["0"]), ("--n-query", ["0"]),
                         ("--meta-batch", ["0"]), ("--channels", ["0"]), ("--eval-every", ["0"]),
                         ("--val-tasks", ["0"]), ("--ckpt-every", ["0"]), ("--workers", ["0"]),
                         ("--steps", ["-1"]), ("--inner-steps", ["-1"]),
                         ("--inner-steps-test", ["-1"]), ("--test-tasks", ["-1"]),
                         ("--image-size", ["0", "-1"]), ("--n-classes", ["0"]), ("--seed", ["-1"])):
        field = name[2:].replace("-", "_")
        for v in values:
            add(TRAIN, [name, v], field, f"fewshot train {name} {v}")
    for args, expected in (
        (["--image-size", "100000"], "needs"), (["--channels", "1000000"], "needs"),
        (["--meta-batch", HUGE], "needs"), (["--n-classes", "100000000"], "needs"),
        (["--steps", VAST], "needs"), (["--inner-steps", HUGE], "needs"),
        (["--val-tasks", VAST], "needs"), (["--test-tasks", VAST], "needs"),
        (["--k-shot", "30"], "per class"), (["--n-query", "30"], "per class"),
        (["--n-way", "100000"], "classes"),
        (["--dataset", "npz"], "--data-path"),
        (["--dataset", "omniglot", "--data-path", "{root}/missing"], "missing"),
        (["--dataset", "npz", "--data-path", "{root}/garbage.npz"],
         "garbage.npz is not an .npz file"),
        (["--data-path", "{root}/garbage.npz"], "glyphs"),
        (["--dataset", "bogus"], "bogus"), (["--algorithm", "reptile"], "reptile"),
        (["--loss", "hinge"], "hinge"), (["--head-init", "x"], "'x'"),
        (["--backend", "tpu"], "tpu"), (["--bogus"], "No such option"),
        (["--channels", "x"], "not a valid integer"),
        (["--block-order", "resnet"], "resnet"), (["--downsample", "avg"], "avg"),
        (["--downsample", "stride"], "block_order"), (["--split-seed", "-1"], "split_seed"),
    ):
        add(TRAIN, args, expected, "fewshot train " + " ".join(args))
    for args, expected in (
        (["-o", "{root}/fsrun", "--n-classes", "40", "--image-size", "16"], "already holds"),
        (["-o", "{out}", "--resume"], "nothing to resume"),
        (["-o", "{root}/fsrun", "--resume", "--channels", "8"], "only --steps"),
        (["-o", "{root}/fsrun", "--resume", "--steps", "-1"], "steps"),
        (["-o", "{root}/fs_badcfg", "--resume"], "config.json"),
        (["-o", "{root}/file/x"], "file"), (["-o", "/proc/linmeta-probe/x"], "/proc"),
        ([], "Missing option"),
    ):
        add(["fewshot", "train", "-q"], args, expected, "fewshot train " + " ".join(args))

    # ---------------------------------------------------------------- fewshot eval
    for args, expected in (
        (["{root}/missing.npz"], "no such checkpoint"),
        (["{root}/corrupt.npz"], "corrupt.npz is not an .npz file"),
        (["{root}/garbage.npz"], "garbage.npz is not an .npz file"),
        (["{root}/truncated.npz"], "cannot read"),
        (["{root}/empty"], "no checkpoints"),
        (["{root}/fsrun", "--tasks", "0"], "tasks"), (["{root}/fsrun", "--tasks", "-1"], "tasks"),
        (["{root}/fsrun", "--tasks", VAST], "needs"),
        (["{root}/fsrun", "--inner-steps", "-1"], "inner_steps"),
        (["{root}/fsrun", "--inner-steps", HUGE], "needs"),
        (["{root}/fsrun", "--split", "bogus"], "bogus"),
        (["{root}/fsrun", "--seed", "-1"], "seed"),
        (["{root}/fsrun", "--data-path", "{root}/missing"], "glyphs"),
        ([], "Missing argument"),
    ):
        add(["fewshot", "eval"], args, expected, "fewshot eval " + " ".join(args))

    # ---------------------------------------------------------------- fewshot contrastive
    for args, expected in (
        (["--steps", "x"], "--steps"), (["--steps", "0"], "--steps"),
        (["--steps", "1,-1"], "--steps"), (["--steps", "1000000"], "needs"),
        (["--tasks", "0"], "--tasks"), (["--tasks", "10000000"], "needs"),
        (["--share-tasks", "0"], "--share-tasks"), (["--share-tasks", HUGE], "needs"),
        (["--inner-lr", "nan"], "inner_lr"), (["--inner-lr", "inf"], "inner_lr"),
        (["--inner-lr", "-1"], "inner_lr"), (["--seed", "-1"], "seed"),
    ):
        add(CONTRASTIVE, args, expected, "fewshot contrastive " + " ".join(args))
    for args, expected in (
        (["{root}/missing", "--out", "{out}"], "no such checkpoint"),
        (["{root}/garbage.npz", "--out", "{out}"], "garbage.npz is not an .npz file"),
        (["{root}/fsrun", "--out", "{root}/ctr_out"], "--overwrite"),
        (["{root}/fsrun", "--out", "{root}/file/x"], "file"),
        (["{root}/fsrun"], "Missing option"),
        (["{root}/fsrun", "--out", "{root}/ctr_partial"], "--resume"),
        (["--resume", "--out", "{root}/ctr_out"], "no analysis to resume"),
        (["--resume", "--out", "{root}/missing"], "no analysis to resume"),
        (["--resume", "--out", "{root}/ctr_done"], "nothing to resume"),
        (["--resume", "--out", "{root}/ctr_bad"], "not an analysis record"),
        (["{root}/fsrun", "--resume", "--out", "{out}"], "drop SOURCES"),
        (["--resume", "--steps", "2", "--out", "{out}"], "drop --steps"),
    ):
        add(["fewshot", "contrastive", "-q"], args, expected,
            "fewshot contrastive " + " ".join(args))
    return c


CASES = _cases()


def expand(argv: list, root, out) -> list:
    return [a.replace("{root}", str(root)).replace("{out}", str(out)) for a in argv]


def make_fixtures(root) -> Path:
    """The files the cases refer to, under ``root`` (a finished linear result, a tiny few-shot
    run, malformed config and problem files, a regular file to write under, ...)."""
    from linmeta.experiment import Config
    from linmeta.experiment import run as run_linear
    from linmeta.fewshot.engine.train import TrainConfig
    from linmeta.fewshot.engine.train import run as run_fewshot
    from linmeta.results import save_result

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "file").write_text("a regular file\n")
    (root / "empty").mkdir(exist_ok=True)
    for name, text in (("malformed.toml", "d = \n"), ("unknown.toml", "dd = 3\n"),
                       ("type.toml", 'd = "ten"\n'), ("k50.toml", "k = 50\n"),
                       ("inf.toml", "x_cov_cond = inf\n"), ("methods.toml", "methods = 3\n"),
                       ("d12.toml", "d = 12\n"),
                       ("sweep_keys.toml", "bogus = 1\n[grid]\nn_tasks = [4]\n"),
                       ("sweep_grid.toml", "[grid]\nn_tasks = 4\n"),
                       ("sweep_seeds.toml", 'seeds = ["a"]\n[grid]\nn_tasks = [4]\n'),
                       ("sweep_ok.toml", "[grid]\nn_tasks = [4, 5]\n")):
        (root / name).write_text(text)
    (root / "garbage.npz").write_bytes(b"this is not an npz file")
    (root / "corrupt.npz").write_bytes(b"junk")
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 4, 5)), rng.standard_normal((6, 4))
    np.savez(root / "data_nok.npz", X=X, y=y)  # no B_star, no k: --k is needed
    np.savez(root / "data_badk.npz", X=X, y=y, k=np.float64(2.5))
    B_star = np.linalg.qr(rng.standard_normal((5, 2)))[0]
    np.savez(root / "data_bstar.npz", X=X, y=y, B_star=B_star)
    (root / "truncated.npz").write_bytes((root / "data_nok.npz").read_bytes()[:60])  # a zip cut
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((8, 2)))
    problem = dict(B_star=q, B0=rng.standard_normal((8, 2)), w0=rng.standard_normal(2),
                   W_star=rng.standard_normal((5, 2)))
    np.savez(root / "problem.npz", **problem)
    np.savez(root / "problem_nan.npz", **{**problem, "w0": np.array([np.nan, 1.0])})

    result = root / "result"
    if not (result / "config.json").exists():
        save_result(run_linear(Config(d=6, k=2, steps=3, trials=1, n_test_tasks=2,
                                      methods=("fo_anil", "erm"))), result)
    for name in ("truncated", "cut_at_line", "edited", "badheader", "badjson", "nometrics"):
        shutil.copytree(result, root / name, dirs_exist_ok=True)
    text = (result / "metrics.csv").read_text()
    lines = text.splitlines(keepends=True)
    half = sum(len(x) for x in lines[: len(lines) // 2])  # a line boundary
    (root / "truncated" / "metrics.csv").write_text(text[: half + 5])  # inside a line
    (root / "cut_at_line" / "metrics.csv").write_text(text[:half])  # a valid, shorter CSV
    last = lines[-1].rstrip("\n")
    digit = next(i for i in range(len(last) - 1, -1, -1) if last[i].isdigit())
    changed = last[:digit] + str((int(last[digit]) + 1) % 10) + last[digit + 1:]
    (root / "edited" / "metrics.csv").write_text("".join(lines[:-1]) + changed + "\n")
    (root / "badheader" / "metrics.csv").write_text("a,b\n1,2\n")
    for name in ("partial", "partial_damaged", "partial_norecord"):  # interrupted runs
        shutil.copytree(result, root / name, dirs_exist_ok=True)
        meta = json.loads((result / "config.json").read_text())
        meta.update(complete=False, run_options={"data_file": None, "input_sha256": None,
                                                 "save_params": False, "save_data": False,
                                                 "plot": False})
        if name == "partial_norecord":
            del meta["run_options"]
        (root / name / "config.json").write_text(json.dumps(meta))
    (root / "partial_damaged" / "metrics.csv").write_text(text[:half])
    (root / "badjson" / "config.json").write_text("{not json")
    (root / "nometrics" / "metrics.csv").unlink()

    _sweep_fixtures(root)

    fsrun = root / "fsrun"
    if not (fsrun / "results.json").exists():
        shutil.rmtree(fsrun, ignore_errors=True)
        run_fewshot(TrainConfig(algorithm="fomaml", n_classes=40, image_size=16, channels=4,
                                meta_batch=2, n_query=2, steps=2, eval_every=2, val_tasks=2,
                                test_tasks=2), fsrun)
    (root / "fs_badcfg").mkdir(exist_ok=True)
    (root / "fs_badcfg" / "config.json").write_text("junk")
    (root / "ctr_out").mkdir(exist_ok=True)
    (root / "ctr_out" / "identities.csv").write_text("source,step\nx,1\n")
    (root / "ctr_out" / "identities.json").write_text(json.dumps([]))
    for name, state in (("ctr_partial", {"options": {}, "done": {}, "complete": False}),
                        ("ctr_done", {"options": {}, "complete": True}), ("ctr_bad", [])):
        (root / name).mkdir(exist_ok=True)
        (root / name / "analysis.json").write_text(json.dumps(state))
    return root


def _sweep_fixtures(root: Path) -> None:
    """Sweeps for ``linmeta plot --x``: a finished one over alpha, one whose grid field has one
    value, and copies with no finished point, a damaged point and a damaged sweep.json."""
    from linmeta.executors import LocalExecutor
    from linmeta.sweep import expand, run_sweep

    base = dict(d=6, k=2, steps=3, trials=1, n_test_tasks=0, methods=["fo_anil", "erm"])
    for name, grid, seeds in (("sweep", {"alpha": [0.1, 0.2]}, [0]),
                              ("sweep_one", {"alpha": [0.1]}, [0, 1])):
        if not (root / name / "summary.csv").exists():
            run_sweep(expand(base, grid, seeds), root / name, LocalExecutor(1))
    for name in ("sweep_unfinished", "sweep_damaged", "sweep_badjson"):
        shutil.copytree(root / "sweep", root / name, dirs_exist_ok=True)
    for point in (root / "sweep_unfinished" / "points").iterdir():
        (point / "config.json").unlink(missing_ok=True)
    damaged = sorted((root / "sweep_damaged" / "points").iterdir())[0] / "metrics.csv"
    text = damaged.read_text()
    damaged.write_text(text[: len(text) // 2])
    (root / "sweep_badjson" / "sweep.json").write_text('{"points": 3}')
