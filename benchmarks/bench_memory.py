"""Peak memory of large finite-sample runs, with and without a memory budget (issue 6).

Each configuration runs in a fresh subprocess; its peak resident memory (``ru_maxrss``) and
wall time per outer step are reported beside the budget and the chunk size the rule picked
(:func:`linmeta.budget.tasks_per_chunk`).

    python benchmarks/bench_memory.py            # n = 10,000, d = 1,000, k = 10, 10 trials
    python benchmarks/bench_memory.py --quick    # n = 1,000, d = 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date

CHILD = r"""
import json, resource, sys, time
from linmeta.budget import tasks_per_chunk
from linmeta.experiment import Config, run
cfg = Config(**json.loads(sys.argv[1]))
start = time.perf_counter()
result = run(cfg)
wall = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
dist = float(result.runs[cfg.methods[0]].metrics["dist"][:, -1].mean())
print(json.dumps({"peak_mib": peak_kib / 1024, "seconds": wall, "chunk": tasks_per_chunk(cfg),
                  "dist": dist}))
"""


def measure(cfg: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=1,
                        help="outer steps (0: one round, the gradient and metrics at step 0)")
    parser.add_argument("--budgets", default=None,
                        help="comma-separated memory_mb values (0 = no budget)")
    args = parser.parse_args()
    if args.quick:
        base = dict(d=200, k=10, n_tasks=1000, trials=10)
        budgets = (0, 64, 256)
    else:
        base = dict(d=1000, k=10, n_tasks=10_000, trials=10)
        budgets = (256, 1024, 4096)
    if args.budgets:
        budgets = tuple(float(b) for b in args.budgets.split(","))
    base.update(mode="finite", m_in=10, m_out=10, sigma=0.1, alpha=0.1, beta=0.1,
                steps=args.steps, methods=["fo_anil"], n_test_tasks=5,
                log_every=max(1, args.steps))
    print(f"# memory benchmark — {date.today()} — n={base['n_tasks']}, d={base['d']}, "
          f"k={base['k']}, trials={base['trials']}, m_in=m_out=10, FO-ANIL, {args.steps} step(s)")
    print("\n| memory_mb budget | tasks per chunk | peak RSS (MiB) | seconds per round |")
    print("|---:|---:|---:|---:|")
    for budget in budgets:
        r = measure(dict(base, memory_mb=budget))
        label = "none" if budget == 0 else f"{budget:g}"
        print(f"| {label} | {r['chunk']} | {r['peak_mib']:.0f} | "
              f"{r['seconds'] / (args.steps + 1):.1f} |", flush=True)


if __name__ == "__main__":
    main()
