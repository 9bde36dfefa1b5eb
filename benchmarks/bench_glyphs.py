"""Build time of the procedural few-shot sets on one core (cache off).

    python benchmarks/bench_glyphs.py              # omniglyphs at its default size
    python benchmarks/bench_glyphs.py --repeat 5 --n-classes 1623

Prints the minimum and median wall time, and the minimum CPU time, of ``--repeat`` builds of
``omniglyphs`` (1,623 characters × 20 examples at 28 px by default), with one BLAS thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from threadpoolctl import threadpool_limits

from linmeta.fewshot.data import OMNIGLYPH_RENDER, OMNIGLYPH_VERSION, omniglyphs


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--n-classes", type=int, default=1623)
    p.add_argument("--n-per-class", type=int, default=20)
    p.add_argument("--size", type=int, default=28)
    args = p.parse_args(argv)
    times, cpu = [], []
    for _ in range(args.repeat):
        omniglyphs.cache_clear()
        t0, c0 = time.perf_counter(), time.process_time()
        with threadpool_limits(limits=1):
            arr = omniglyphs(args.n_classes, args.n_per_class, args.size, cache=False)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"omniglyphs v{OMNIGLYPH_VERSION}r{OMNIGLYPH_RENDER} {arr.shape} "
          f"({arr.nbytes / 1e6:.1f} MB), one thread, "
          f"{platform.processor() or platform.machine()}, load average "
          f"{os.getloadavg()[0]:.1f}: min {min(times):.2f} s, median "
          f"{statistics.median(times):.2f} s over {args.repeat} builds (CPU time: min "
          f"{min(cpu):.2f} s; on a busy machine it is the better guide)")


if __name__ == "__main__":
    main()
