"""Time one meta-iteration of linmeta.fewshot against an equivalent PyTorch CPU implementation.

Both sides: Conv-4 (4 × [conv3×3 C, BN with batch statistics, ReLU, maxpool2], linear head), the
same episode sizes, meta-batch and algorithm, float32, the same number of threads. One
meta-iteration = inner loop on every task's support set + meta-gradient of the query loss
(no optimiser step, no data sampling). PyTorch is only used here; linmeta never imports it.

linmeta with T threads splits the meta-batch over T worker threads, each with a single-threaded
OpenBLAS (``linmeta.fewshot.parallel``); PyTorch gets ``torch.set_num_threads(T)``.

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


def _linmeta_params(channels, n_way, size, c_in, dtype="float32"):
    import numpy as np

    from linmeta.fewshot.network import conv4, init_params

    return init_params(conv4(n_way, channels, size, c_in), np.random.default_rng(0),
                       dtype=np.dtype(dtype))


def linmeta_step(algorithm, channels, n_way, size, c_in, inner_lr, steps, dtype="float32",
                 workers=1):
    from linmeta.fewshot.network import conv4
    from linmeta.fewshot.parallel import meta_gradient_threads

    net = conv4(n_way, channels, size, c_in)
    params = _linmeta_params(channels, n_way, size, c_in, dtype)

    def step(batch):
        return meta_gradient_threads(net, params, batch, algorithm=algorithm,
                                     inner_lr=inner_lr, inner_steps=steps, workers=workers)

    return step


# ---------------------------------------------------------------------------- PyTorch


def torch_step(algorithm, channels, n_way, size, c_in, inner_lr, steps, dtype="float32"):
    import torch
    import torch.nn.functional as F

    lm = _linmeta_params(channels, n_way, size, c_in, dtype)  # the same point as linmeta
    params = {}
    for i in range(4):
        params[f"w{i}"] = torch.tensor(lm[f"conv{i + 1}"]["w"].transpose(3, 2, 0, 1).copy())
        params[f"g{i}"] = torch.tensor(lm[f"bn{i + 1}"]["g"])
        params[f"b{i}"] = torch.tensor(lm[f"bn{i + 1}"]["b"])
    params["hw"] = torch.tensor(lm["head"]["w"].T.copy())
    params = {k: v.to(getattr(torch, dtype)) for k, v in params.items()}
    params["hb"] = torch.tensor(lm["head"]["b"])
    for v in params.values():
        v.requires_grad_()
    head_keys = ["hw", "hb"]
    exact = algorithm in ("maml", "anil")
    adapt_keys = head_keys if algorithm in ("anil", "foanil") else list(params)

    def body(p, x):
        for i in range(4):
            x = F.conv2d(x, p[f"w{i}"], padding=1)
            x = F.batch_norm(x, None, None, p[f"g{i}"], p[f"b{i}"], training=True)
            x = F.max_pool2d(F.relu(x), 2)
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
    PyTorch's OpenMP thread pools busy-wait and slow each other down inside one process."""
    import subprocess
    import sys

    cmd = [sys.executable, __file__, "--side", side, "--algorithms", alg]
    for k in ("threads", "meta_batch", "n_way", "k_shot", "n_query", "channels", "image_size",
              "in_channels", "inner_steps", "inner_lr", "repeats"):
        cmd += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
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

    from linmeta.fewshot.meta import meta_gradient
    from linmeta.fewshot.network import conv4, tree_map

    net = conv4(args.n_way, args.channels, args.image_size, args.in_channels)
    params = tree_map(cupy.asarray, _linmeta_params(args.channels, args.n_way, args.image_size,
                                                    args.in_channels))
    batch = tuple(cupy.asarray(a) for a in _batch(args))
    print(f"# GPU {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()} against "
          f"{args.threads} CPU threads; meta-batch {args.meta_batch}, {args.channels} channels")
    print("| algorithm | CPU iter/s | GPU iter/s | GPU / CPU |")
    print("|---|---:|---:|---:|")
    for alg in args.algorithms.split(","):
        def step(b, alg=alg):
            meta_gradient(net, params, b, algorithm=alg, inner_lr=args.inner_lr,
                          inner_steps=args.inner_steps)
            cupy.cuda.Stream.null.synchronize()

        t_gpu = time_it(step, batch, args.repeats)
        t_cpu = _time_side("linmeta", args, alg)
        print(f"| {alg} | {1 / t_cpu:.2f} | {1 / t_gpu:.2f} | {t_cpu / t_gpu:.1f}× |", flush=True)


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
    ap.add_argument("--algorithms", default="fomaml,foanil,anil,maml")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--check", action="store_true",
                    help="first compare both sides' meta-gradients in float64 (same point)")
    ap.add_argument("--gpu", action="store_true",
                    help="CuPy against the CPU instead of PyTorch (prints how, without a GPU)")
    ap.add_argument("--side", choices=["linmeta", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    _set_threads(args.threads)
    if args.gpu:
        gpu_table(args)
        return

    import numpy as np

    kw = (args.channels, args.n_way, args.image_size, args.in_channels, args.inner_lr,
          args.inner_steps)
    if args.side:  # child process: time one side, print seconds
        if args.side == "torch":
            import torch

            torch.set_num_threads(args.threads)
        if args.side == "linmeta":  # T worker threads over the tasks, one BLAS thread each
            fn = linmeta_step(args.algorithms, *kw, workers=args.threads)
        else:
            fn = torch_step(args.algorithms, *kw)
        print(time_it(fn, _batch(args), args.repeats))
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
    print(f"# {platform.processor() or platform.machine()}, threads={args.threads}, "
          f"numpy {np.__version__}, torch {tv}")
    print(f"# {args.n_way}-way {args.k_shot}-shot, {args.n_query} queries/class, "
          f"meta-batch {args.meta_batch}, {args.image_size}x{args.image_size}x"
          f"{args.in_channels}, {args.channels} channels, {args.inner_steps} inner step(s)")
    if args.check and not args.skip_torch:
        torch.set_default_dtype(torch.float64)
        small = argparse.Namespace(**{**vars(args), "meta_batch": min(4, args.meta_batch)})
        for alg in args.algorithms.split(","):
            err = check(linmeta_step(alg, *kw, dtype="float64"),
                        torch_step(alg, *kw, dtype="float64"), _batch(small, "float64"))
            print(f"# check {alg}: max relative difference of the meta-gradients in float64 "
                  f"(meta-batch {small.meta_batch}): {err:.1e}")
        torch.set_default_dtype(torch.float32)
    print(f"# load average before timing: {_load()}; times are the minimum of {args.repeats} "
          "iterations after one warm-up, each side in its own process")
    print("| algorithm | linmeta (s/iter) | PyTorch (s/iter) | ratio linmeta/PyTorch |")
    print("|---|---|---|---|")
    for alg in args.algorithms.split(","):
        t_lm = _time_side("linmeta", args, alg)
        if args.skip_torch:
            print(f"| {alg} | {t_lm:.3f} | - | - |", flush=True)
            continue
        t_pt = _time_side("torch", args, alg)
        print(f"| {alg} | {t_lm:.3f} | {t_pt:.3f} | {t_lm / t_pt:.2f} |", flush=True)
    print(f"# load average after timing: {_load()}")


if __name__ == "__main__":
    main()
