"""The claims grid: point files, resume, locks, and the report rebuilt from the point files."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from linmeta.fewshot.claims import grid, report
from linmeta.fewshot.engine.train import run

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

TINY = dataclasses.replace(
    grid.QUICK, name="tiny",
    base=dataclasses.replace(grid.QUICK.base, steps=6, eval_every=3, ckpt_every=3, val_tasks=4,
                             n_classes=40, image_size=16, channels=4, meta_batch=2, n_query=2),
    test_tasks=6, test_steps=(1, 3, 10), probe_tasks=2, timing_repeats=1, headline_seeds=2,
    other_seeds=1)


def _setting(name):
    return next(s for s in grid.settings(TINY) if s.name == name)


@pytest.fixture(scope="module")
def tiny_points(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    res, work = root / "results", root / "work"
    for name in ("kao-fo-zeroing", "kao-fo-random", "finn-maml", "finn-anil"):
        for seed in range(2):
            assert grid.run_point(_setting(name), seed, TINY, res, work)["complete"] is True
    return res, work


def test_point_files_hold_every_measurement(tiny_points):
    res, _ = tiny_points
    for name in ("kao-fo-zeroing", "kao-fo-random", "finn-maml", "finn-anil"):
        d = json.loads((res / name / "seed0.json").read_text())
        s = _setting(name)
        assert d["complete"] is True and d["setting"] == name and d["seed"] == 0
        assert d["config"]["block_order"] == s.overrides["block_order"]
        for m in s.measures:
            assert m in d, (name, m)
        assert set(d["test"]) == {"1", "3", "10"}
        assert all(0 <= v["acc"] <= 1 for v in d["test"].values())
        assert [c["step"] for c in d["curve"]] == [0, 3, 6]
    z = json.loads((res / "kao-fo-zeroing" / "seed0.json").read_text())
    # with the zeroing trick the trained head is 0, so no different-class pair has c < 0
    assert all(r["model"]["neg_share_diff"] == 0 for r in z["contrastive"]["shares"])
    assert max(r["rel_error"] for r in z["contrastive"]["identities"]
               if r["exact_expected"]) < 1e-10
    m = json.loads((res / "finn-maml" / "seed0.json").read_text())
    assert set(m["freeze"]["3"]) == {"0", "1", "2", "3", "4"}
    assert [c["step"] for c in m["cka"]] == [0, 3, 6]


def test_a_finished_point_is_not_recomputed(tiny_points):
    res, work = tiny_points
    path = res / "finn-anil" / "seed1.json"
    before = path.read_bytes(), path.stat().st_mtime_ns
    grid.run_point(_setting("finn-anil"), 1, TINY, res, work)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_an_interrupted_point_resumes_to_the_same_result(tiny_points, tmp_path):
    res, _ = tiny_points
    s = _setting("kao-fo-random")
    work = tmp_path / "work"
    cfg = s.config(TINY.base, 0)
    run(dataclasses.replace(cfg, steps=3), work / s.name / "seed0")  # "killed" after step 3
    d = grid.run_point(s, 0, TINY, tmp_path / "res", work)
    ref = json.loads((res / s.name / "seed0.json").read_text())
    for key in ("test", "test_zeroed", "contrastive", "cosine", "curve"):
        assert d[key] == ref[key] or json.loads(json.dumps(grid._round(d[key]))) == ref[key], key


def test_a_point_held_by_a_live_process_is_skipped_and_a_stale_lock_taken(tmp_path):
    s = _setting("kao-fo-zeroinit")
    work, res = tmp_path / "work", tmp_path / "res"
    lock = grid.point_lock_path(work, s.name, 0)
    lock.parent.mkdir(parents=True)
    # an old pid-file lock naming a live process (this one) is not this lock
    (lock.parent / "seed0.lock").write_text(str(os.getpid()))
    holder = subprocess.Popen(  # another process takes the point's flock and keeps it
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(120)",
         str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert grid.run_point(s, 0, TINY, res, work) is None
        assert not (res / s.name / "seed0.json").exists()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert lock.exists()  # left behind by its dead holder: free
    d = grid.run_point(s, 0, TINY, res, work)
    assert d["complete"] is True and (res / s.name / "seed0.json").exists()


def test_a_setting_names_only_registered_measurements():
    assert grid.MEASURES == tuple(grid.MEASUREMENTS)
    for tier in grid.TIERS.values():
        assert all(set(s.measures) <= set(grid.MEASURES) for s in grid.settings(tier))
    with pytest.raises(ValueError, match="unknown measurement.*tset"):
        grid.Setting("typo", {}, 1, ("test", "tset"))


def test_points_run_seed_by_seed():
    pts = grid.points(grid.PROTOCOL)
    assert len(pts) == 6 * 5 + 5 * 3
    first = {s.name for s, k in pts[:10]}
    assert len(first) == 10 and all(k == 0 for _, k in pts[:10])


def test_interval_is_the_student_t_interval():
    iv = report.interval([1.0, 2.0, 3.0])
    assert iv["mean"] == 2.0 and iv["n"] == 3
    assert iv["half"] == pytest.approx(4.302652729911275 / 3 ** 0.5)  # t(0.975, 2) · 1 / √3


def test_verdicts():
    up = {"n": 3, "lo": 0.01, "hi": 0.05}
    down = {"n": 3, "lo": -0.05, "hi": -0.01}
    span = {"n": 3, "lo": -0.01, "hi": 0.01}
    assert report.direction(up) == report.HOLDS
    assert report.direction(down) == report.FAILS
    assert report.direction(span) == report.OPEN
    assert report.within(span, 0.02) == report.HOLDS
    assert report.within({"n": 3, "lo": 0.03, "hi": 0.05}, 0.02) == report.FAILS
    assert report.within({"n": 3, "lo": 0.01, "hi": 0.05}, 0.02) == report.OPEN
    assert report.both(report.HOLDS, report.OPEN) == report.OPEN
    assert report.both(report.HOLDS, report.FAILS) == report.FAILS


def test_report_has_twelve_rows_and_rebuilds_byte_for_byte(tiny_points, tmp_path):
    res, _ = tiny_points
    out, figs = tmp_path / "docs" / "r.md", tmp_path / "figs"
    cmd = [sys.executable, str(SCRIPTS / "fewshot_report.py"), "--results", str(res), "--out",
           str(out), "--figures", str(figs)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    first = {p.name: p.read_bytes() for p in [out, *sorted(figs.iterdir())]}
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    again = {p.name: p.read_bytes() for p in [out, *sorted(figs.iterdir())]}
    assert first == again
    text = out.read_text()
    for cid in "abcdefghijkl":
        assert f"| ({cid}) |" in text
    assert "Points done: 8/45" in text
    assert len([n for n in first if n.endswith(".png")]) == 6


def test_runner_refuses_an_unknown_setting_and_lists_the_grid(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / "fewshot_all.py"), "--only", "nope",
                           "--results", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("Error: unknown setting")
    proc = subprocess.run([sys.executable, str(SCRIPTS / "fewshot_all.py"), "--list",
                           "--results", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "0/45 points done" in proc.stdout


def test_readings_quote_the_point_files(tiny_points):
    """The reading beside a claim is computed from the points: change a measured share in the
    loaded points and the reading's number changes with it."""
    res, _ = tiny_points
    pts = report.load_points(res)
    body = report.interval(d["diagnosis"][-1]["body_share"]
                           for d in pts["kao-fo-random"].values())["mean"]
    text = report.readings(pts)
    assert f"random {body:.2f}" in text["b"] and f"body share {body:.2f}" in text["e"]
    nil = report.interval(d["nil"]["acc"] for d in pts["finn-anil"].values())
    assert nil["n"] == 2
    for d in pts["kao-fo-random"].values():
        d["diagnosis"][-1]["body_share"] = 0.123
    assert "random 0.12" in report.readings(pts)["b"]
    md = report.render(pts, "figs")
    rows_not_holding = [r["id"] for r in report.claims(pts) if r["verdict"] != report.HOLDS]
    for cid in set(rows_not_holding) & set(text):
        assert f"- ({cid}) " in md and "**Reading:**" in md


def test_the_long_tier_is_three_settings_and_its_section_appears_only_with_its_points(
        tiny_points):
    long_tier = grid.TIERS["long"]
    assert {s.name for s in grid.settings(long_tier)} == {"kao-fo-random", "kao-maml", "kao-anil",
                                                          "kao-fo-zeroing", "finn-maml",
                                                          "finn-anil"}
    assert len(grid.points(long_tier)) == 6 and long_tier.base.steps == 8000
    res, _ = tiny_points
    pts = report.load_points(res)
    assert "## Longer training" not in report.render(pts, "figs")
    one = pts["kao-fo-random"][0]
    md = report.render(pts, "figs", long={"kao-fo-random": {0: one}})
    assert "## Longer training" in md and "1/6 points done" in md
    rows = [line for line in md.splitlines() if line.startswith("| (e) | zeroed")]
    assert len(rows) == len(one["test_zeroed"])
    last = one["test_zeroed"][-1]
    gain = last["zeroed"]["1"]["acc"] - last["model"]["1"]["acc"]
    assert rows[-1].endswith(f"| {100 * gain:+.1f} |")
