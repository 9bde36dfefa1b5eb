"""Instructions per step of the linear simulator and its peers, counted with Linux ``perf``.

Wall-clock ratios on a shared VM move with the neighbours' load, and not equally for the two
sides: the batched step is array code, the loop peer is interpreter code. Retired
instructions do not depend on the load, so their ratios are a noise-free complement to the
timed tables of ``bench_linear.py`` (the same settings: d = 100, k = 5, one trial, τ = 1;
one BLAS thread so that no spinning worker thread is counted). They are not a substitute for
time: the two sides retire instructions at different rates.

Each count is the difference between a process that makes R calls and one that makes none,
divided by R; user-space instructions only (``instructions:u``), so that page faults and other
kernel work do not blur it.

    python benchmarks/bench_instructions.py            # needs `perf` (linux-tools)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date

METHOD_NAMES = ("maml", "fo_maml", "anil", "fo_anil", "erm")

CHILD = """
import sys
sys.path.insert(0, {bench!r})
from bench_linear import Batched, loop_peer
from linmeta.backend import tune_allocator
from linmeta.experiment import Config
tune_allocator()
name, what, reps, n, mode = sys.argv[1:6]
reps, n = int(reps), int(n)
cfg = Config(d=100, k=5, n_tasks=n, trials=1, alpha=0.1, beta=0.1, mode=mode, m_in=25, m_out=25,
             sigma=0.1)
sim = Batched(cfg, name)
fn = {{"step": sim.step, "draw": sim.draw, "loop": loop_peer(sim, name, mode, 25)}}[what]
fn()
for _ in range(reps):
    fn()
"""


def instructions(name: str, what: str, reps: int, n: int, mode: str) -> float:
    """Instructions retired per call of ``what`` ('step', 'draw' or 'loop')."""
    code = CHILD.format(bench=os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")

    def count(r: int) -> int:
        out = subprocess.run(
            ["perf", "stat", "-x,", "-e", "instructions:u", sys.executable, "-c", code,
             name, what, str(r), str(n), mode],
            capture_output=True, text=True, env=env, check=True,
        ).stderr
        for line in out.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("instructions"):
                return int(fields[0])
        raise RuntimeError(f"perf printed no instruction count:\n{out}")

    return (count(reps) - count(0)) / reps


def main():
    if shutil.which("perf") is None:
        print("needs Linux perf (package linux-tools / linux-perf)")
        return
    print(f"# instructions per call — {date.today()} — d=100, k=5, one trial, one BLAS thread")
    print("\n## Population mode, n = 1000: batched step against the per-task loop\n")
    print("| method | batched k instr/step | loop M instr/step | ratio |")
    print("|---|---:|---:|---:|")
    for name in METHOD_NAMES:
        b = instructions(name, "step", 2000, 1000, "population")
        loop = instructions(name, "loop", 10, 1000, "population")
        print(f"| {name} | {b / 1e3:.0f} | {loop / 1e6:.1f} | {loop / b:.0f}× |", flush=True)
    print("\n## Finite samples (m = 25), n = 10: step against drawing its samples\n")
    print("| method | draw k instr | step k instr | step / draw |")
    print("|---|---:|---:|---:|")
    for name in METHOD_NAMES:
        d = instructions(name, "draw", 2000, 10, "finite")
        s = instructions(name, "step", 2000, 10, "finite")
        print(f"| {name} | {d / 1e3:.0f} | {s / 1e3:.0f} | {s / d:.2f} |", flush=True)


if __name__ == "__main__":
    main()
