"""Run the few-shot claims grid (Kao22, Raghu20): one JSON file per (setting, seed) point.

    python scripts/fewshot_all.py                 # the protocol tier -> results/fewshot/
    python scripts/fewshot_all.py --jobs 2        # two points at a time (2 cores)
    python scripts/fewshot_all.py --tier kao-omniglot --jobs 2
                                                  # Kao22's Omniglot setting
                                                  # -> results/fewshot_kao_omniglot/
    python scripts/fewshot_all.py --tier kao-long # its random head to 9000 steps, resuming
                                                  # the finished kao-omniglot runs
    python scripts/fewshot_all.py --quick         # the 16 px tier -> runs/fewshot_quick/ only
    python scripts/fewshot_all.py --list          # the grid and what is done
    python scripts/fewshot_all.py --executor dask --scheduler tcp://HOST:8786
                                                  # the points as tasks of a Dask cluster

A rerun skips finished points; an interrupted point resumes from its last checkpoint (kept in
``--work``, outside git). Progress and an estimate of the time left go to stderr. The points run
on linmeta's executors (``linmeta.executors``, as ``linmeta sweep``): local processes with one
BLAS thread each, or a Dask cluster whose workers see the same file system. When the grid (or
what was asked of it) is done, ``scripts/fewshot_report.py`` rebuilds the report and figures
from the point files alone.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

from linmeta.executors import EXECUTORS, ExecutorError
from linmeta.fewshot.claims import grid

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = {"protocol": (ROOT / "results" / "fewshot", ROOT / "runs" / "fewshot_grid"),
            "quick": (ROOT / "runs" / "fewshot_quick" / "results",
                      ROOT / "runs" / "fewshot_quick" / "work"),
            "long": (ROOT / "results" / "fewshot_long", ROOT / "runs" / "fewshot_long"),
            "kao-omniglot": (ROOT / "results" / "fewshot_kao_omniglot",
                             ROOT / "runs" / "fewshot_kao_omniglot"),
            "kao-ablation": (ROOT / "results" / "fewshot_kao_ablation",
                             ROOT / "runs" / "fewshot_kao_ablation"),
            "kao-long": (ROOT / "results" / "fewshot_kao_long", ROOT / "runs" / "fewshot_kao_long")}


def _fmt_s(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _estimate(tier, todo, running, results, work, jobs) -> float:
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
            p = json.loads(grid.progress_path(work, s.name, k).read_text())
            frac = p["step"] / max(p["steps"], 1)
        except (OSError, ValueError, KeyError):
            pass
        left += cost(s.name) * (1 - 0.8 * frac)  # measuring after training: ~20% of a point
    return left / max(jobs, 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", choices=sorted(DEFAULTS), default=None,
                    help="which grid: protocol (default), quick, long, kao-omniglot (Kao22's "
                         "own Omniglot setting -> results/fewshot_kao_omniglot/), or "
                         "kao-ablation (claim e: one factor at a time toward the protocol), or "
                         "kao-long (the kao-omniglot random head to 9000 steps)")
    ap.add_argument("--quick", action="store_true",
                    help="the 16 px tier (--tier quick); writes only under runs/fewshot_quick/")
    ap.add_argument("--long", action="store_true",
                    help="the protocol trained 8000 steps (--tier long), for claims (e), (h), "
                         "(i); one seed of six settings -> results/fewshot_long/")
    ap.add_argument("--jobs", type=int, default=1, help="points computed at a time (processes)")
    ap.add_argument("--executor", choices=sorted(EXECUTORS), default="local",
                    help="where the points run: local processes, or a Dask cluster")
    ap.add_argument("--scheduler", default=None,
                    help="Dask scheduler address for --executor dask (default: a local cluster "
                         "of --jobs workers)")
    ap.add_argument("--results", type=Path, help="point files (default: results/fewshot/)")
    ap.add_argument("--work", type=Path, help="run directories and checkpoints (not in git)")
    ap.add_argument("--start", type=Path, default=None,
                    help="for a tier that continues another (kao-long): that tier's --work, "
                         "whose finished runs are copied in and resumed (default: its default "
                         "--work; a point without one there trains from step 0, to the same "
                         "result)")
    ap.add_argument("--only", nargs="*", default=None, metavar="SETTING",
                    help="run only these settings")
    ap.add_argument("--max-points", type=int, default=None,
                    help="stop after starting this many points")
    ap.add_argument("--list", action="store_true", help="print the grid and what is done")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    chosen = [n for n, on in (("quick", args.quick), ("long", args.long)) if on]
    if args.tier:
        chosen.append(args.tier)
    if len(set(chosen)) > 1:
        print(f"Error: choose one tier, got {', '.join(chosen)}", file=sys.stderr)
        return 2
    tier_name = chosen[0] if chosen else "protocol"
    tier = grid.TIERS[tier_name]
    results = args.results or DEFAULTS[tier_name][0]
    work = args.work or DEFAULTS[tier_name][1]
    start = args.start or (DEFAULTS[tier.extends][1] if tier.extends else None)
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
    def on_term(signum, frame):  # SIGTERM (and SIGINT, which a background job ignores) stop
        raise KeyboardInterrupt  # the grid as Ctrl-C does: workers terminated, points resumable

    signal.signal(signal.SIGTERM, on_term)
    try:  # one BLAS thread per point process: points are the parallelism
        ex = EXECUTORS[args.executor](args.jobs, args.scheduler, in_process=False)
    except ExecutorError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    slots = getattr(ex, "workers", args.jobs)
    t_start = time.time()
    failures = 0
    pending = list(todo)
    running: dict = {}
    n_done = len(done)
    interrupted = False
    try:
        try:
            while pending or running:
                while pending and len(running) < slots:
                    s, k = pending.pop(0)
                    fut = ex.submit(grid.run_named_point, tier_name, s.name, k, str(results),
                                    str(work), str(start) if start else None)
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
                        p = json.loads(grid.progress_path(work, s.name, k).read_text())
                        parts.append(f"{s.name}/s{k} {p['step']}/{p['steps']}")
                    except (OSError, ValueError, KeyError):
                        parts.append(f"{s.name}/s{k} measuring or starting")
                eta = _estimate(tier, pending, list(running.values()), results, work, slots)
                say(f"[{n_done}/{len(pts)} done, {_fmt_s(time.time() - t_start)} elapsed, "
                    f"~{_fmt_s(eta)} left] " + "; ".join(parts))
        except KeyboardInterrupt:
            interrupted = True
            say("interrupted: finished points are kept; a rerun resumes the others from their "
                "last checkpoints")
            return 130
    finally:
        ex.shutdown(wait=not interrupted, cancel_futures=interrupted)
    say(f"{n_done}/{len(pts)} points done in {_fmt_s(time.time() - t_start)}"
        + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
