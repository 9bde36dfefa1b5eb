"""Probe the CLI with every bad input of ``tests/bad_inputs.py``, each in its own process.

Each case runs ``python -m linmeta.cli ARGS`` with a timeout and an address-space limit (so a
huge allocation fails fast instead of taking the machine) and is classified:

- clean: exit code 2, exactly one line on stderr, starting with ``Error:``;
- traceback: a Python traceback, or any other non-zero exit;
- hang: still running at the timeout;
- accepted: exit code 0 (the bad input was silently accepted or ignored).

    python scripts/probe_bad_input.py [--timeout 30] [--json counts.json] [--only run]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bad_inputs():
    """The module ``tests/bad_inputs.py`` (the cases the test suite also runs)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "tests" / "bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BAD = _bad_inputs()
CASES, expand, make_fixtures = _BAD.CASES, _BAD.expand, _BAD.make_fixtures

KINDS = ("clean", "traceback", "hang", "accepted")


def _limit_memory(gib: float):
    def apply():
        limit = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def classify(argv, root, out, timeout, memory_gib) -> tuple[str, str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LINMETA_CACHE": str(root / "cache"),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "linmeta.cli", *expand(argv, root, out)],
                              capture_output=True, text=True, timeout=timeout, env=env,
                              preexec_fn=_limit_memory(memory_gib), cwd=root)
    except subprocess.TimeoutExpired:
        return "hang", "", time.perf_counter() - start
    seconds = time.perf_counter() - start
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode == 0:
        return "accepted", (proc.stdout.strip().splitlines() or [""])[-1], seconds
    if (proc.returncode == 2 and len(err) == 1 and err[0].startswith("Error:")
            and "Traceback" not in proc.stderr + proc.stdout):
        return "clean", err[0], seconds
    return "traceback", (err[-1] if err else f"exit {proc.returncode}"), seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a case is a hang")
    ap.add_argument("--memory-gib", type=float, default=4.0, help="address-space limit per case")
    ap.add_argument("--only", default=None, help="cases whose id starts with this")
    ap.add_argument("--json", default=None, help="write every case's outcome here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="linmeta-probe-") as tmp:
        root = Path(tmp)
        os.environ["LINMETA_CACHE"] = str(root / "cache")
        make_fixtures(root)
        outcomes = []
        for i, (name, argv, _) in enumerate(CASES):
            if args.only and not name.startswith(args.only):
                continue
            kind, line, seconds = classify(argv, root, root / "outs" / f"case{i}", args.timeout,
                                           args.memory_gib)
            outcomes.append({"case": name, "kind": kind, "line": line,
                             "seconds": round(seconds, 2)})
            print(f"{kind:>9} {seconds:6.1f}s  {name}  |  {line[:110]}", file=sys.stderr)
    by_command = {}
    for o in outcomes:
        cmd = " ".join(o["case"].split()[:2]) if o["case"].startswith("fewshot") \
            else o["case"].split()[0]
        by_command.setdefault(cmd, Counter())[o["kind"]] += 1
    total = Counter(o["kind"] for o in outcomes)
    print(f"{'command':<22}{'tried':>6}" + "".join(f"{k:>11}" for k in KINDS))
    for cmd, counts in [*by_command.items(), ("all", total)]:
        print(f"{cmd:<22}{sum(counts.values()):>6}" + "".join(f"{counts[k]:>11}" for k in KINDS))
    if args.json:
        Path(args.json).write_text(json.dumps({"counts": dict(total), "cases": outcomes},
                                              indent=1) + "\n")


if __name__ == "__main__":
    main()
