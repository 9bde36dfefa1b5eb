"""Time one meta-iteration of linmeta.fewshot against an equivalent PyTorch CPU implementation.

Both sides: Conv-4 (4 × [conv3×3 C, BN with batch statistics, ReLU, maxpool2], linear head), the
same episode sizes, meta-batch and algorithm, float32, the same number of threads. One
meta-iteration = inner loop on every task's support set + meta-gradient of the query loss
(no optimiser step, no data sampling). PyTorch is only used here; linmeta never imports it.

linmeta with T threads splits the meta-batch over T worker threads, each with a single-threaded
OpenBLAS (``linmeta.fewshot.engine.parallel``); PyTorch gets ``torch.set_num_threads(T)``.

The PyTorch side is written the way MAML is usually written in PyTorch (learn2learn, Finn17's
port): a loop over the tasks of the meta-batch, ``autograd.grad(..., create_graph=True)`` for
the exact second-order variants, ``F.batch_norm(training=True)``.

    python benchmarks/bench_fewshot.py --threads 2 --meta-batch 32 --n-query 1
    python benchmarks/bench_fewshot.py --gpu       # CuPy against the CPU, on a GPU machine
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def make_batch(rng, t, n_way, k, q, size, c_in):
    import numpy as np

    xs = rng.random((t, n_way * k, size, size, c_in), dtype=np.float32)
    xq = rng.random((t, n_way * q, size, size, c_in), dtype=np.float32)
    ys = np.tile(np.repeat(np.arange(n_way), k), (t, 1))
    yq = np.tile(np.repeat(np.arange(n_way), q), (t, 1))
    return xs, ys, xq, yq


# ---------------------------------------------------------------------------- linmeta


def _net(channels, n_way, size, c_in, order="finn", downsample="pool"):
    from linmeta.fewshot.engine.network import conv4

    return conv4(n_way, channels, size, c_in, block_order=order, downsample=downsample)


def _linmeta_params(channels, n_way, size, c_in, dtype="float32", order="finn",
                    downsample="pool"):
    import numpy as np

    from linmeta.fewshot.engine.network import init_params

    params = init_params(_net(channels, n_way, size, c_in, order, downsample),
                         np.random.default_rng(0), dtype=np.dtype(dtype))
    rng = np.random.default_rng(1)  # nonzero biases, so that a missing one shows in --check
    for d in params.values():
        if "b" in d:
            d["b"] = (d["b"] + 0.1 * rng.standard_normal(d["b"].shape)).astype(d["b"].dtype)
    return params


def linmeta_step(algorithm, channels, n_way, size, c_in, inner_lr, steps, dtype="float32",
                 workers=1, order="finn", downsample="pool"):
    from linmeta.fewshot.engine.meta import InnerSpec
    from linmeta.fewshot.engine.parallel import meta_gradient_threads

    net = _net(channels, n_way, size, c_in, order, downsample)
    params = _linmeta_params(channels, n_way, size, c_in, dtype, order, downsample)
    spec = InnerSpec.named(algorithm, lr=inner_lr, steps=steps)

    def step(batch):
        return meta_gradient_threads(net, params, batch, spec, workers=workers)

    return step


# ---------------------------------------------------------------------------- PyTorch


def torch_step(algorithm, channels, n_way, size, c_in, inner_lr, steps, dtype="float32",
               order="finn", downsample="pool"):
    import torch
    import torch.nn.functional as F

    lm = _linmeta_params(channels, n_way, size, c_in, dtype, order, downsample)  # same point
    params = {}
    for i in range(4):
        params[f"w{i}"] = torch.tensor(lm[f"conv{i + 1}"]["w"].transpose(3, 2, 0, 1).copy())
        if "b" in lm[f"conv{i + 1}"]:
            params[f"cb{i}"] = torch.tensor(lm[f"conv{i + 1}"]["b"])
        params[f"g{i}"] = torch.tensor(lm[f"bn{i + 1}"]["g"])
        params[f"b{i}"] = torch.tensor(lm[f"bn{i + 1}"]["b"])
    params["hw"] = torch.tensor(lm["head"]["w"].T.copy())
    params = {k: v.to(getattr(torch, dtype)) for k, v in params.items()}
    params["hb"] = torch.tensor(lm["head"]["b"])
    for v in params.values():
        v.requires_grad_()
    from linmeta.fewshot.engine.meta import get_algorithm

    head_keys = ["hw", "hb"]
    exact = get_algorithm(algorithm).exact
    adapt_keys = head_keys if get_algorithm(algorithm).adapts == "head" else list(params)

    def bn(p, x, i):
        return F.batch_norm(x, None, None, p[f"g{i}"], p[f"b{i}"], training=True)

    def body(p, x):
        for i in range(4):
            if downsample == "stride":  # Kao22's Omniglot net: conv(stride 2) → ReLU → BN
                x = F.conv2d(x, p[f"w{i}"], p.get(f"cb{i}"), stride=1 if i == 3 else 2)
                x = bn(p, F.relu(x), i)
                continue
            x = F.conv2d(x, p[f"w{i}"], p.get(f"cb{i}"), padding=1)
            if order == "finn":  # conv → BN → ReLU → pool (Finn17)
                x = F.max_pool2d(F.relu(bn(p, x, i)), 2)
            elif i < 3:  # conv → ReLU → BN → pool (Kao22)
                x = F.max_pool2d(bn(p, F.relu(x), i), 2)
            else:  # the last block ends in BN
                x = bn(p, F.max_pool2d(F.relu(x), 2), i)
        return x.flatten(1)

    def head(p, h):
        return F.linear(h, p["hw"], p["hb"])

    def step(batch):
        xs, ys, xq, yq = batch
        t = xs.shape[0]
        xs_t = torch.from_numpy(xs).permute(0, 1, 4, 2, 3).contiguous()
        xq_t = torch.from_numpy(xq).permute(0, 1, 4, 2, 3).contiguous()
        ys_t, yq_t = torch.from_numpy(ys), torch.from_numpy(yq)
        total_loss = 0.0
        for i in range(t):
            p = dict(params)
            if adapt_keys is head_keys:
                hs, hq = body(p, xs_t[i]), body(p, xq_t[i])
                for _ in range(steps):
                    ls = F.cross_entropy(head(p, hs if exact else hs.detach()), ys_t[i])
                    gr = torch.autograd.grad(ls, [p[k] for k in head_keys], create_graph=exact)
                    p.update({k: p[k] - inner_lr * gk for k, gk in zip(head_keys, gr,
                                                                          strict=True)})
                lq = F.cross_entropy(head(p, hq), yq_t[i])
            else:
                for _ in range(steps):
                    ls = F.cross_entropy(head(p, body(p, xs_t[i])), ys_t[i])
                    gr = torch.autograd.grad(ls, [p[k] for k in adapt_keys], create_graph=exact)
                    if not exact:
                        gr = [x.detach() for x in gr]
                    p.update({k: p[k] - inner_lr * gk for k, gk in zip(adapt_keys, gr,
                                                                          strict=True)})
                lq = F.cross_entropy(head(p, body(p, xq_t[i])), yq_t[i])
            (lq / t).backward()
            total_loss += float(lq.detach())
        grads = {k: v.grad.clone() for k, v in params.items()}
        for v in params.values():
            v.grad = None
        return grads, total_loss / t

    return step


# ---------------------------------------------------------------------------- timing


def check(lm_step, pt_step, batch):
    """Largest ``‖g_linmeta − g_torch‖ / ‖g_torch‖`` over the parameter tensors."""
    import numpy as np

    g_lm, _ = lm_step(batch)
    g_pt, _ = pt_step(batch)
    pairs = [(g_lm["head"]["w"], g_pt["hw"].numpy().T), (g_lm["head"]["b"], g_pt["hb"].numpy())]
    pairs += [(g_lm[f"conv{i + 1}"]["b"], g_pt[f"cb{i}"].numpy()) for i in range(4)
              if f"cb{i}" in g_pt]
    for i in range(4):
        pairs += [(g_lm[f"conv{i + 1}"]["w"], g_pt[f"w{i}"].numpy().transpose(2, 3, 1, 0)),
                  (g_lm[f"bn{i + 1}"]["g"], g_pt[f"g{i}"].numpy()),
                  (g_lm[f"bn{i + 1}"]["b"], g_pt[f"b{i}"].numpy())]
    return max(float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)) for a, b in pairs)


def time_it(fn, batch, repeats):
    fn(batch)  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(batch)
        ts.append(time.perf_counter() - t0)
    return min(ts)  # the least disturbed run: the machine may be shared


def _time_side(side, args, alg):
    """Fastest seconds per meta-iteration, measured in a fresh process: NumPy's OpenBLAS and
    PyTorch's OpenMP thread pools busy-wait and slow each other down inside one process.

    The linmeta side also returns the GEMM floating-point operations of one iteration."""
    import subprocess

    cmd = [sys.executable, __file__, "--side", side, "--algorithms", alg]
    for k in ("threads", "meta_batch", "n_way", "k_shot", "n_query", "channels", "image_size",
              "in_channels", "inner_steps", "inner_lr", "repeats", "block_order", "downsample"):
        cmd += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    vals = [float(v) for v in out.strip().splitlines()[-1].split()]
    return vals[0], (vals[1] if len(vals) > 1 else None)


def count_gemm_flops(fn, batch) -> float:
    """Floating-point operations ``2·M·K·N`` of every GEMM in one call of a linmeta step."""
    import linmeta.fewshot.engine.layers as L

    total = [0.0]
    mm, og = L._matmul_w, L._outer_grad

    def matmul_w(x2, w2):
        total[0] += 2.0 * x2.shape[0] * x2.shape[1] * x2.shape[2] * w2.shape[-1]
        return mm(x2, w2)

    def outer_grad(a2, g2, per_task):
        total[0] += 2.0 * a2.shape[0] * a2.shape[1] * a2.shape[2] * g2.shape[-1]
        return og(a2, g2, per_task)

    L._matmul_w, L._outer_grad = matmul_w, outer_grad
    try:
        fn(batch)
    finally:
        L._matmul_w, L._outer_grad = mm, og
    return total[0]


def gemm_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an ``n × n`` float32 GEMM with ``threads`` BLAS threads, in a fresh process."""
    import subprocess

    code = (f"import time, numpy as np; a = np.ones(({n}, {n}), np.float32); a @ a; ts = []\n"
            f"for _ in range({repeats}):\n t0 = time.perf_counter(); a @ a; "
            f"ts.append(time.perf_counter() - t0)\nprint(2 * {n} ** 3 / min(ts) / 1e9)")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=env).stdout
    return float(out.strip().splitlines()[-1])


def _load():
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def _batch(args, dtype="float32"):
    import numpy as np

    xs, ys, xq, yq = make_batch(np.random.default_rng(0), args.meta_batch, args.n_way,
                                args.k_shot, args.n_query, args.image_size, args.in_channels)
    return xs.astype(dtype), ys, xq.astype(dtype), yq


GPU_HOWTO = """No usable CuPy/CUDA device here. To measure the ConvNet on a GPU machine
(Finn17 Omniglot 5-way 1-shot, meta-batch 32) against 2 CPU cores:
    pip install -e ".[cuda12]"        # or ".[cuda13]", matching the driver
    python benchmarks/bench_fewshot.py --gpu --threads 2
and copy the table into BENCHMARKS.md with the machine and the date."""


def gpu_table(args) -> None:
    """Meta-iterations per second on CuPy against linmeta on ``--threads`` CPU threads."""
    from linmeta.backend import cupy_available

    if not cupy_available():
        print(GPU_HOWTO)
        return
    import cupy

    from linmeta.fewshot.engine.meta import InnerSpec, meta_gradient
    from linmeta.fewshot.engine.network import conv4, tree_map

    net = conv4(args.n_way, args.channels, args.image_size, args.in_channels)
    params = tree_map(cupy.asarray, _linmeta_params(args.channels, args.n_way, args.image_size,
                                                    args.in_channels))
    batch = tuple(cupy.asarray(a) for a in _batch(args))
    print(f"# GPU {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()} against "
          f"{args.threads} CPU threads; meta-batch {args.meta_batch}, {args.channels} channels")
    print("| algorithm | CPU iter/s | GPU iter/s | GPU / CPU |")
    print("|---|---:|---:|---:|")
    for alg in args.algorithms.split(","):
        spec = InnerSpec.named(alg, lr=args.inner_lr, steps=args.inner_steps)

        def step(b, spec=spec):
            meta_gradient(net, params, b, spec)
            cupy.cuda.Stream.null.synchronize()

        t_gpu = time_it(step, batch, args.repeats)
        t_cpu = _time_side("linmeta", args, alg)
        print(f"| {alg} | {1 / t_cpu:.2f} | {1 / t_gpu:.2f} | {t_cpu / t_gpu:.1f}× |", flush=True)


KAO_TIER = dict(meta_batch=32, n_way=5, k_shot=1, n_query=15, channels=64, image_size=28,
                in_channels=1, inner_steps=2, inner_lr=0.4, block_order="kao",
                downsample="stride", algorithms="fo_maml,maml")
"""The kao-omniglot tier of the claims grid (Kao22's Omniglot script): 28 px, Conv-4 with 64
channels and stride-2 convs, meta-batch 32, 5-way 1-shot, 15 queries per class, 2 inner steps."""

PROTOCOL = dict(meta_batch=8, n_way=5, k_shot=1, n_query=5, channels=32, image_size=28,
                in_channels=1, inner_steps=1, inner_lr=0.4)
"""The protocol tier of the claims grid: 28 px, Conv-4 with 32 channels, meta-batch 8, 5-way
1-shot, 5 queries per class, float32."""

TORCH_HOWTO = """PyTorch, the peer this benchmark compares against, is not installed. Install the
benchmark extra (PyTorch for the CPU):
    pip install -e ".[bench]"
or run linmeta alone with --skip-torch."""


def table(args, rows: list) -> None:
    """Time every algorithm of ``args`` on both sides; print a Markdown table; append rows."""
    peak = gemm_peak(args.threads)
    print(f"# block order {args.block_order}, {args.downsample}, threads={args.threads}; "
          f"{args.n_way}-way "
          f"{args.k_shot}-shot, {args.n_query} queries/class, meta-batch {args.meta_batch}, "
          f"{args.image_size}x{args.image_size}x{args.in_channels}, {args.channels} channels, "
          f"{args.inner_steps} inner step(s); float32 GEMM peak {peak:.0f} GFLOP/s")
    print(f"# load average before timing: {_load()}; times are the minimum of {args.repeats} "
          "iterations after one warm-up, each side in its own process")
    print("| algorithm | linmeta (s/iter) | PyTorch (s/iter) | ratio linmeta/PyTorch "
          "| linmeta GFLOP/s | share of GEMM peak |")
    print("|---|---|---|---|---|---|")
    for alg in args.algorithms.split(","):
        t_lm, flops = _time_side("linmeta", args, alg)
        t_pt = None if args.skip_torch else _time_side("torch", args, alg)[0]
        gf = flops / t_lm / 1e9
        ratio = None if t_pt is None else t_lm / t_pt
        print(f"| {alg} | {t_lm:.3f} | {'-' if t_pt is None else f'{t_pt:.3f}'} | "
              f"{'-' if ratio is None else f'{ratio:.2f}'} | {gf:.0f} | {gf / peak:.0%} |",
              flush=True)
        rows.append(dict(algorithm=alg, block_order=args.block_order,
                         downsample=args.downsample, threads=args.threads,
                         linmeta_s=t_lm, torch_s=t_pt, ratio=ratio, gflops=gf,
                         gemm_flop=flops, gemm_peak_gflops=peak))
    print(f"# load average after timing: {_load()}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--meta-batch", type=int, default=32)
    ap.add_argument("--n-way", type=int, default=5)
    ap.add_argument("--k-shot", type=int, default=1)
    ap.add_argument("--n-query", type=int, default=1)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--in-channels", type=int, default=1)
    ap.add_argument("--inner-steps", type=int, default=1)
    ap.add_argument("--inner-lr", type=float, default=0.4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--block-order", choices=["finn", "kao"], default="finn")
    ap.add_argument("--downsample", choices=["pool", "stride"], default="pool",
                    help="stride: Kao22's stride-2 Omniglot net (needs --block-order kao)")
    ap.add_argument("--algorithms", default="fo_maml,fo_anil,anil,maml")
    ap.add_argument("--protocol", action="store_true",
                    help="the claims grid's tier (28 px, 32 channels, meta-batch 8, 5 queries), "
                         "both block orders, 1 and 2 threads")
    ap.add_argument("--kao-tier", action="store_true",
                    help="the claims grid's kao-omniglot tier (Kao22's Omniglot script: stride "
                         "net, 64 channels, meta-batch 32, 15 queries, 2 inner steps), FO-MAML "
                         "and MAML, 1 and 2 threads")
    ap.add_argument("--json", metavar="FILE",
                    help="also write per algorithm linmeta_s, torch_s, ratio, gflops to FILE")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--check", action="store_true",
                    help="first compare both sides' meta-gradients in float64 (same point)")
    ap.add_argument("--gpu", action="store_true",
                    help="CuPy against the CPU instead of PyTorch (prints how, without a GPU)")
    ap.add_argument("--side", choices=["linmeta", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.protocol and args.kao_tier:
        raise SystemExit("bench_fewshot: give --protocol or --kao-tier, not both")
    for flag, preset in ((args.protocol, PROTOCOL), (args.kao_tier, KAO_TIER)):
        if flag:
            for k, v in preset.items():
                setattr(args, k, v)
    _set_threads(args.threads)
    if args.gpu:
        gpu_table(args)
        return

    import numpy as np

    kw = (args.channels, args.n_way, args.image_size, args.in_channels, args.inner_lr,
          args.inner_steps)
    if args.side:  # child process: time one side, print seconds (and GEMM flops)
        if args.side == "torch":
            import torch

            torch.set_num_threads(args.threads)
            fn = torch_step(args.algorithms, *kw, order=args.block_order,
                            downsample=args.downsample)
            print(time_it(fn, _batch(args), args.repeats))
            return
        # T worker threads over the tasks, one BLAS thread each
        fn = linmeta_step(args.algorithms, *kw, workers=args.threads, order=args.block_order,
                          downsample=args.downsample)
        flops = count_gemm_flops(fn, _batch(args))
        print(time_it(fn, _batch(args), args.repeats), flops)
        return
    tv = "-"
    if not args.skip_torch:
        try:
            import torch
        except ImportError:
            raise SystemExit("bench_fewshot: the comparison needs PyTorch, which is not "
                             "installed: pip install -e '.[bench]' (or pass --skip-torch to "
                             "time linmeta alone)") from None
        tv = torch.__version__
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}, torch {tv}, {time.strftime('%Y-%m-%d %H:%M')}")
    if args.check and not args.skip_torch:
        torch.set_default_dtype(torch.float64)
        small = argparse.Namespace(**{**vars(args), "meta_batch": min(4, args.meta_batch)})
        for order in (("finn", "kao") if args.protocol else (args.block_order,)):
            for alg in args.algorithms.split(","):
                ds = args.downsample
                err = check(linmeta_step(alg, *kw, dtype="float64", order=order, downsample=ds),
                            torch_step(alg, *kw, dtype="float64", order=order, downsample=ds),
                            _batch(small, "float64"))
                print(f"# check {alg} ({order}): max relative difference of the meta-gradients "
                      f"in float64 (meta-batch {small.meta_batch}): {err:.1e}")
        torch.set_default_dtype(torch.float32)
    rows: list = []
    settings = ([(o, t) for o in ("finn", "kao") for t in (1, 2)] if args.protocol
                else [("kao", t) for t in (1, 2)] if args.kao_tier
                else [(args.block_order, args.threads)])
    for order, threads in settings:
        args.block_order, args.threads = order, threads
        table(args, rows)
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump(dict(machine=platform.processor() or platform.machine(),
                           cpus=os.cpu_count(), date=time.strftime("%Y-%m-%d %H:%M"),
                           numpy=np.__version__, torch=tv, tier=PROTOCOL if args.protocol
                           else KAO_TIER if args.kao_tier else None, rows=rows), fh, indent=2)


if __name__ == "__main__":
    main()
