"""Outer steps per second of the linear simulator against a per-task Python loop (issue 2).

Population mode: the batched simulator (which runs in span(B0, B*), ≤ 2k dims, when Σ = I)
against a straightforward loop over tasks in all d dimensions, written the way reference
notebooks are, with the τ = 1 closed forms of docs/theory.md §1.2. Both draw the round's heads and
compute the update only (the simulator computes the outer loss, a metric, at logged steps).

Both sides run the simulator's default number of trials (Config.trials, 5) unless ``--trials``
says otherwise; the loop peer runs one trial and its time is multiplied by the trials, since a
loop does the trials one after another. One trial is the strictest setting: the batched step's
fixed cost (some 50 array calls) is then spread over the least work.

Finite-sample mode (m samples per task): a step is timed against the time needed just to draw
its samples (heads, inner and outer inputs and noise), in the same run; the loop peer draws
per task.

    python benchmarks/bench_linear.py                 # the full table (about ten minutes)
    python benchmarks/bench_linear.py --trials 1      # one trial: the strictest comparison
    python benchmarks/bench_linear.py --quick         # n ∈ {10, 100}
    python benchmarks/bench_linear.py --backend cupy  # the same table on a GPU machine
    python benchmarks/bench_linear.py --gpu           # GPU against CPU at large n and d
    python benchmarks/bench_linear.py --repeat 5      # the edge cells, five paired runs each
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import date

import numpy as np

from linmeta.algorithms import METHODS
from linmeta.backend import get_xp, tune_allocator
from linmeta.experiment import Config, RoundSampler, draw_problem, reduction_basis, streams

METHOD_NAMES = ("maml", "fo_maml", "anil", "fo_anil", "erm")


def timeit(fn, min_time=0.5, min_reps=3):
    """Best-of-several mean seconds per call."""
    fn()
    reps, start = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - start < min_time:
        fn()
        reps += 1
    return (time.perf_counter() - start) / reps


def paired(fns, rounds=25, min_time=0.1):
    """Seconds per call of each function, timed alternately ``rounds`` times; the minimum per
    function. Alternating in short rounds keeps a change in machine load from favouring one
    side: this VM's speed drifts by up to 2× within minutes."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], timeit(fn, min_time=min_time, min_reps=1))
    return best


def _sync(xp):
    if xp is not np:
        xp.cuda.Stream.null.synchronize()


# ---------------------------------------------------------------- the batched simulator


class Batched:
    """One simulator step for one method, set up exactly as linmeta.experiment.simulate does."""

    def __init__(self, cfg: Config, name: str):
        self.cfg, self.method = cfg, METHODS[name]
        self.update = self.method.build(alpha=cfg.alpha, beta=cfg.beta, tau=cfg.tau)
        self.xp = get_xp(cfg.backend)
        problem = draw_problem(cfg, np.random.default_rng(0))
        U = reduction_basis(cfg, problem)
        Bs, B = problem.B_star, problem.B0
        if U is not None:
            Bs, B = U.swapaxes(-1, -2) @ Bs, U.swapaxes(-1, -2) @ B
        self.problem = problem
        dev = lambda a: None if a is None else self.xp.asarray(a)  # noqa: E731
        self.B = dev(B)
        self.w = dev(np.random.default_rng(1).standard_normal(problem.w0.shape))
        self.sampler = RoundSampler(cfg, problem, streams(cfg.seed), dev(Bs), dev)

    def draw(self):
        return self.sampler.data(self.sampler.heads(), self.method.pooled)

    def draw_only(self):
        """Draw one round's data and nothing else: the floor of a finite-sample step."""
        self.draw()
        _sync(self.xp)

    def step(self):
        data_in, data_out = self.draw()
        B, w, _ = self.update(data_in, data_out, self.B, self.w, with_loss=False)
        _sync(self.xp)
        return B, w


# ---------------------------------------------------------------- the per-task loop peer


def loop_step(name, B, w, B_star, rng, n, alpha, beta, mode, m, sigma):
    """One outer step written task by task in d dimensions (the τ = 1 closed forms of
    docs/theory.md §1.2)."""
    d, k = B.shape
    gB, gw = np.zeros_like(B), np.zeros_like(w)
    Sigma = np.eye(d)  # the environment's covariance, formed once
    for _ in range(n):
        ws = rng.standard_normal(k)
        theta = B_star @ ws
        if mode == "population":
            S_in = S_out = Sigma
            h_in = h_out = theta
        else:
            X_in, X_out = rng.standard_normal((m, d)), rng.standard_normal((m, d))
            y_in = X_in @ theta + sigma * rng.standard_normal(m)
            y_out = X_out @ theta + sigma * rng.standard_normal(m)
            S_in, h_in = X_in.T @ X_in / m, X_in.T @ y_in / m
            S_out, h_out = X_out.T @ X_out / m, X_out.T @ y_out / m
        if name == "erm":
            if mode == "finite":
                S_out, h_out = (S_in + S_out) / 2, (h_in + h_out) / 2
            e = S_out @ B @ w - h_out
            gB += np.outer(e, w)
            gw += B.T @ e
            continue
        e = S_in @ B @ w - h_in
        w_i = w - alpha * B.T @ e
        B_i = B - alpha * np.outer(e, w) if name in ("maml", "fo_maml") else B
        r = S_out @ B_i @ w_i - h_out
        G, g = np.outer(r, w_i), B_i.T @ r
        if name == "maml":
            u = S_in @ (G @ w + B @ g)
            G, g = G - alpha * (np.outer(u, w) + np.outer(e, g)), g - alpha * (G.T @ e + B.T @ u)
        elif name == "anil":
            sbg = S_in @ B @ g
            G = G - alpha * (np.outer(e, g) + np.outer(sbg, w))
            g = g - alpha * B.T @ sbg
        gB += G
        gw += g
    return B - beta * gB / n, w - beta * gw / n


def loop_peer(sim: Batched, name: str, mode: str, m: int):
    """One step of the per-task loop on the same environment as ``sim`` (trial 0)."""
    rng = np.random.default_rng(0)
    B, Bs = sim.problem.B0[0], sim.problem.B_star[0]
    w = np.random.default_rng(1).standard_normal(B.shape[1])
    sigma = 0.0 if mode == "population" else 0.1
    return lambda: loop_step(name, B, w, Bs, rng, sim.cfg.n_tasks, 0.1, 0.1, mode, m, sigma)


# ---------------------------------------------------------------- the table


GPU_HOWTO = """No usable CuPy/CUDA device here. To measure the GPU path on a GPU machine:
    pip install -e ".[cuda12]"        # or ".[cuda13]", matching the driver
    OMP_NUM_THREADS=2 python benchmarks/bench_linear.py --gpu
and copy the table into BENCHMARKS.md with the machine and the date."""


def gpu_table(trials: int):
    """GPU (CuPy) against the CPU (NumPy, the threads this process has) at large n and d."""
    from linmeta.backend import cupy_available

    if not cupy_available():
        print(GPU_HOWTO)
        return
    print("\n## GPU against CPU: steps/s (FO-ANIL and MAML, τ = 1)\n")
    print("| mode | n | d | k | method | CPU steps/s | GPU steps/s | GPU / CPU |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for mode, n, d, k in (("population", 10_000, 1000, 10), ("finite", 2000, 1000, 10)):
        for name in ("fo_anil", "maml"):
            rates = []
            for backend in ("numpy", "cupy"):
                cfg = Config(d=d, k=k, n_tasks=n, trials=trials, mode=mode, m_in=25, m_out=25,
                             sigma=0.1, alpha=0.1, beta=0.1, backend=backend, reduce=False)
                rates.append(1 / timeit(Batched(cfg, name).step, min_time=1.0))
            print(f"| {mode} | {n} | {d} | {k} | {name} | {rates[0]:.1f} | {rates[1]:.1f} | "
                  f"{rates[1] / rates[0]:.1f}× |", flush=True)


def repeated(runs: int, trials: int, backend: str, m: int):
    """The two edge cells of the targets, ``runs`` paired runs each, one row per method:
    population at n = 1000 against the loop, and finite samples at n = 10 against the draw."""
    print(f"\n## Population mode at n = 1000, {runs} paired runs: speed-up per run\n")
    print("| method | batched µs/step (min–max) | loop ms/step (min–max) | speed-up per run "
          "| lowest |")
    print("|---|---:|---:|---|---:|")
    for name in METHOD_NAMES:
        cfg = Config(d=100, k=5, n_tasks=1000, trials=trials, alpha=0.1, beta=0.1,
                     backend=backend)
        sim = Batched(cfg, name)
        peer = loop_peer(sim, name, "population", 0)
        times = [paired([sim.step, peer]) for _ in range(runs)]
        tb = [t[0] * 1e6 for t in times]
        tl = [t[1] * trials * 1e3 for t in times]
        ratios = [loop * 1e3 / b for b, loop in zip(tb, tl, strict=True)]
        print(f"| {name} | {min(tb):.0f}–{max(tb):.0f} | {min(tl):.0f}–{max(tl):.0f} | "
              f"{', '.join(f'{r:.0f}×' for r in ratios)} | {min(ratios):.0f}× |", flush=True)
    print(f"\n## Finite samples (m = {m}) at n = 10, {runs} paired runs: step / draw per run\n")
    print("| method | draw ms (min–max) | step ms (min–max) | step / draw per run | highest |")
    print("|---|---:|---:|---|---:|")
    for name in METHOD_NAMES:
        cfg = Config(d=100, k=5, n_tasks=10, trials=trials, alpha=0.1, beta=0.1, mode="finite",
                     m_in=m, m_out=m, sigma=0.1, backend=backend)
        sim = Batched(cfg, name)
        times = [paired([sim.draw_only, sim.step]) for _ in range(runs)]
        td = [t[0] * 1e3 for t in times]
        ts = [t[1] * 1e3 for t in times]
        ratios = [b / a for a, b in zip(td, ts, strict=True)]
        print(f"| {name} | {min(td):.2f}–{max(td):.2f} | {min(ts):.2f}–{max(ts):.2f} | "
              f"{', '.join(f'{r:.2f}' for r in ratios)} | {max(ratios):.2f} |", flush=True)


def main():
    tune_allocator()  # as the linmeta command does (see linmeta.backend.tune_allocator)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n in {10, 100} only")
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--trials", type=int, default=Config().trials,
                        help="trials per step (default: the simulator's default)")
    parser.add_argument("--m", type=int, default=25)
    parser.add_argument("--gpu", action="store_true",
                        help="only the GPU-against-CPU table (prints how to run it without a GPU)")
    parser.add_argument("--repeat", type=int, default=0, metavar="R",
                        help="only the two edge cells (population n = 1000, finite n = 10), "
                        "R paired runs each")
    args = parser.parse_args()
    if args.repeat:
        repeated(args.repeat, args.trials, args.backend, args.m)
        return
    if args.gpu:
        gpu_table(args.trials)
        return
    ns = (10, 100) if args.quick else (10, 100, 1000)
    d, k = 100, 5
    print(f"# linear simulator benchmark — {date.today()} — {platform.processor() or 'cpu'}, "
          f"numpy {np.__version__}, backend {args.backend}, trials {args.trials}, d={d}, k={k}")
    print("\n## Population mode: steps/s, batched vs per-task loop\n")
    print("| method | n | batched steps/s | loop steps/s | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name in METHOD_NAMES:
        for n in ns:
            cfg = Config(d=d, k=k, n_tasks=n, trials=args.trials, alpha=0.1, beta=0.1,
                         backend=args.backend)
            sim = Batched(cfg, name)
            t_batched, t_loop = paired([sim.step, loop_peer(sim, name, "population", 0)])
            t_loop *= args.trials
            print(f"| {name} | {n} | {1 / t_batched:,.0f} | {1 / t_loop:,.1f} | "
                  f"{t_loop / t_batched:,.0f}× |", flush=True)
    print(f"\n## Finite-sample mode (m_in = m_out = {args.m}): step time vs drawing its samples\n")
    print("| method | n | draw ms | step ms | step / draw | loop ms | speed-up vs loop |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in METHOD_NAMES:
        for n in ns:
            cfg = Config(d=d, k=k, n_tasks=n, trials=args.trials, alpha=0.1, beta=0.1,
                         mode="finite", m_in=args.m, m_out=args.m, sigma=0.1,
                         backend=args.backend)
            sim = Batched(cfg, name)
            t_draw, t_step, t_loop = paired([sim.draw_only, sim.step,
                                             loop_peer(sim, name, "finite", args.m)], rounds=15)
            t_loop *= args.trials
            print(f"| {name} | {n} | {t_draw * 1e3:.2f} | {t_step * 1e3:.2f} | "
                  f"{t_step / t_draw:.2f} | {t_loop * 1e3:.1f} | {t_loop / t_step:.1f}× |",
                  flush=True)


if __name__ == "__main__":
    main()
