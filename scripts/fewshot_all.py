"""Run the few-shot claims grid (Kao22, Raghu20): one JSON file per (setting, seed) point.

    python scripts/fewshot_all.py                 # the protocol tier -> results/fewshot/
    python scripts/fewshot_all.py --jobs 2        # two points at a time (2 cores)
    python scripts/fewshot_all.py --quick         # the 16 px tier -> runs/fewshot_quick/ only
    python scripts/fewshot_all.py --list          # the grid and what is done

A rerun skips finished points; an interrupted point resumes from its last checkpoint (kept in
``--work``, outside git). Progress and an estimate of the time left go to stderr. When the grid
(or what was asked of it) is done, ``scripts/fewshot_report.py`` rebuilds the report and figures
from the point files alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = {"protocol": (ROOT / "results" / "fewshot", ROOT / "runs" / "fewshot_grid"),
            "quick": (ROOT / "runs" / "fewshot_quick" / "results",
                      ROOT / "runs" / "fewshot_quick" / "work"),
            "long": (ROOT / "results" / "fewshot_long", ROOT / "runs" / "fewshot_long")}


def _progress_file(work: Path, name: str, seed: int) -> Path:
    return Path(work) / name / f"seed{seed}.progress"


def _child(name: str, seed: int, tier_name: str, results: str, work: str) -> str:
    """Run one point in a worker process; return its name (or raise)."""
    from linmeta.fewshot import grid

    tier = grid.TIERS[tier_name]
    setting = next(s for s in grid.settings(tier) if s.name == name)
    pf = _progress_file(Path(work), name, seed)
    pf.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    def progress(_name, _seed, step, steps):
        if step % 10 == 0 or step == steps:
            tmp = pf.with_suffix(".tmp")
            tmp.write_text(json.dumps({"step": step, "steps": steps, "t": time.time() - t0}))
            os.replace(tmp, pf)

    doc = grid.run_point(setting, seed, tier, Path(results), Path(work), progress=progress)
    pf.unlink(missing_ok=True)
    return "busy" if doc is None else "done"


def _fmt_s(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _estimate(grid, tier, todo, running, results, work, jobs) -> float:
    """Seconds left: finished points' measured durations per setting (else the mean of all
    finished points, else a guess), the running points' remaining fraction, over ``jobs``."""
    durations: dict = {}
    for path in Path(results).glob("*/seed*.json"):
        try:
            d = json.loads(path.read_text())
            t = d["timings"]["train_s"] + d["timings"]["measure_s"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        durations.setdefault(d["setting"], []).append(t)
    every = [t for v in durations.values() for t in v]
    fallback = sum(every) / len(every) if every else tier.base.steps * 0.3 + 120

    def cost(name):
        v = durations.get(name)
        return sum(v) / len(v) if v else fallback

    left = sum(cost(s.name) for s, _ in todo)
    for s, k in running:
        frac = 0.0
        try:
            p = json.loads(_progress_file(work, s.name, k).read_text())
            frac = p["step"] / max(p["steps"], 1)
        except (OSError, ValueError, KeyError):
            pass
        left += cost(s.name) * (1 - 0.8 * frac)  # measuring after training: ~20% of a point
    return left / max(jobs, 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="the 16 px tier; writes only under runs/fewshot_quick/")
    ap.add_argument("--long", action="store_true",
                    help="the protocol trained 8000 steps, for claims (e), (h), (i); one seed "
                         "of three settings -> results/fewshot_long/")
    ap.add_argument("--jobs", type=int, default=1, help="points computed at a time (processes)")
    ap.add_argument("--results", type=Path, help="point files (default: results/fewshot/)")
    ap.add_argument("--work", type=Path, help="run directories and checkpoints (not in git)")
    ap.add_argument("--only", nargs="*", default=None, metavar="SETTING",
                    help="run only these settings")
    ap.add_argument("--max-points", type=int, default=None,
                    help="stop after starting this many points")
    ap.add_argument("--list", action="store_true", help="print the grid and what is done")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    from linmeta.fewshot import grid

    if args.quick and args.long:
        print("Error: give --quick or --long, not both", file=sys.stderr)
        return 2
    tier_name = "quick" if args.quick else "long" if args.long else "protocol"
    tier = grid.TIERS[tier_name]
    results = args.results or DEFAULTS[tier_name][0]
    work = args.work or DEFAULTS[tier_name][1]
    pts = grid.points(tier)
    names = {s.name for s, _ in pts}
    if args.only is not None:
        unknown = sorted(set(args.only) - names)
        if unknown:
            print(f"Error: unknown setting(s) {', '.join(unknown)}; choose from "
                  f"{', '.join(sorted(names))}", file=sys.stderr)
            return 2
        pts = [(s, k) for s, k in pts if s.name in args.only]
    if args.jobs < 1:
        print("Error: --jobs must be >= 1", file=sys.stderr)
        return 2
    done = [(s, k) for s, k in pts if grid.is_done(grid.point_path(results, s, k))]
    todo = [(s, k) for s, k in pts if (s, k) not in done]
    if args.list:
        for s, k in pts:
            mark = "done" if (s, k) in done else "todo"
            print(f"{mark}  {s.name:18s} seed {k}  claims {s.claims}")
        print(f"{len(done)}/{len(pts)} points done; results in {results}")
        return 0
    if args.max_points is not None:
        todo = todo[: args.max_points]

    def say(msg):
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    say(f"{tier_name} tier: {len(done)}/{len(pts)} points done, {len(todo)} to run with "
        f"{args.jobs} job(s); results in {results}, work in {work}")
    if not todo:
        return 0
    # one BLAS thread per point process: points are the parallelism
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    t_start = time.time()
    failures = 0
    pending = list(todo)
    running: dict = {}
    n_done = len(done)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as ex:
        try:
            while pending or running:
                while pending and len(running) < args.jobs:
                    s, k = pending.pop(0)
                    fut = ex.submit(_child, s.name, k, tier_name, str(results), str(work))
                    running[fut] = (s, k)
                finished, _ = wait(list(running), timeout=20, return_when=FIRST_COMPLETED)
                for fut in finished:
                    s, k = running.pop(fut)
                    try:
                        status = fut.result()
                    except Exception as err:  # a failed point is reported; the grid goes on
                        failures += 1
                        say(f"FAILED {s.name} seed {k}: {type(err).__name__}: {err}")
                        continue
                    if status == "done":
                        n_done += 1
                        say(f"done {s.name} seed {k} ({n_done}/{len(pts)})")
                    else:
                        say(f"skipped {s.name} seed {k}: another process holds it")
                parts = []
                for s, k in running.values():
                    try:
                        p = json.loads(_progress_file(work, s.name, k).read_text())
                        parts.append(f"{s.name}/s{k} {p['step']}/{p['steps']}")
                    except (OSError, ValueError, KeyError):
                        parts.append(f"{s.name}/s{k} measuring or starting")
                eta = _estimate(grid, tier, pending, list(running.values()), results, work,
                                args.jobs)
                say(f"[{n_done}/{len(pts)} done, {_fmt_s(time.time() - t_start)} elapsed, "
                    f"~{_fmt_s(eta)} left] " + "; ".join(parts))
        except KeyboardInterrupt:
            say("interrupted: finished points are kept; a rerun resumes the others from their "
                "last checkpoints")
            for fut in running:
                fut.cancel()
            ex.shutdown(wait=False, cancel_futures=True)
            return 130
    say(f"{n_done}/{len(pts)} points done in {_fmt_s(time.time() - t_start)}"
        + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
