"""Run Kao22's cosine probe (claim g) for every head and seed; one JSON file per run.

    python scripts/fewshot_cosine_probe.py                 # -> results/fewshot_cosine/
    python scripts/fewshot_cosine_probe.py --jobs 2 --seeds 10 --heads random zeroing zeroinit

Each run trains FO-MAML on one 5-way task (20 support, 20 query images per class, labels
re-permuted every step) for 100 outer steps and records the query-by-support class-pair cosines
of the features before the head (``linmeta.fewshot.probes.cosine_probe``). A rerun skips finished
runs; files are written atomically. ``scripts/fewshot_report.py`` reads them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

from linmeta.executors import EXECUTORS, ExecutorError
from linmeta.fewshot.probes.cosine_probe import HEADS, ProbeConfig, run_probe
from linmeta.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
POOL = dict(n_classes=100, n_per_class=40, size=28)  # 40 images per class: 20 + 20


def _path(out: Path, head: str, seed: int) -> Path:
    return out / head / f"seed{seed}.json"


def run_one(head: str, seed: int, out: str) -> str:
    """One run, written to ``out/<head>/seed<k>.json`` (a picklable call for an executor)."""
    from threadpoolctl import threadpool_limits

    from linmeta.fewshot.data import omniglyphs

    pool = omniglyphs(**POOL)
    t0 = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):  # runs are the parallelism, as grid points
        res = run_probe(pool, ProbeConfig(head=head, seed=seed))
    res.update(data={"dataset": "omniglyphs", **POOL}, seconds=round(time.perf_counter() - t0, 1),
               complete=True)
    res["matrices"] = [[[round(v, 6) for v in row] for row in m] for m in res["matrices"]]
    for key in ("same", "diff", "ratio", "gap"):
        res[key] = [round(v, 6) for v in res[key]]
    atomic_write_text(_path(Path(out), head, seed), json.dumps(res, indent=1, sort_keys=True)
                      + "\n")
    return f"{head} seed {seed}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "fewshot_cosine")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per head (Kao22: 10)")
    ap.add_argument("--heads", nargs="+", default=list(HEADS), choices=HEADS)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--executor", choices=sorted(EXECUTORS), default="local")
    ap.add_argument("--scheduler", default=None)
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1:
        print("Error: --seeds and --jobs must be >= 1", file=sys.stderr)
        return 2
    todo = [(h, k) for k in range(args.seeds) for h in args.heads
            if not _path(args.out, h, k).exists()]
    print(f"cosine probe: {args.seeds * len(args.heads) - len(todo)} runs done, {len(todo)} to "
          f"run; results in {args.out}", file=sys.stderr)
    if not todo:
        return 0
    try:
        ex = EXECUTORS[args.executor](args.jobs, args.scheduler, in_process=False)
    except ExecutorError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    t0, n = time.time(), 0
    slots = getattr(ex, "workers", args.jobs)
    try:  # bounded submission: progress arrives as runs finish (one job runs at submit)
        pending, running = list(todo), set()
        while pending or running:
            while pending and len(running) < slots:
                running.add(ex.submit(run_one, *pending.pop(0), str(args.out)))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                n += 1
                print(f"[{n}/{len(todo)}, {time.time() - t0:.0f}s] {f.result()}",
                      file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        ex.shutdown(wait=False, cancel_futures=True)
        print("interrupted: finished runs are kept; a rerun does the rest", file=sys.stderr)
        return 130
    ex.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
