"""``linmeta sweep``: a grid over config fields × seeds, one result directory per point.

A sweep is a list of :class:`Point` (a name and a full :class:`~linmeta.experiment.Config`)
expanded from a base config, a grid and seeds. Each point runs :func:`linmeta.experiment.run`
and writes its own result directory ``OUT/points/<name>`` with
:func:`linmeta.results.save_result`, whose writes are atomic and whose ``config.json`` (written
last) marks the point finished. Running the same sweep again skips every finished point, so a
sweep stopped by Ctrl-C, a crash or a lost machine resumes where it stopped and loses nothing
that had finished. The summary (``OUT/summary.csv``) is built from the result directories, never
from the run that produced them, so a resumed sweep and an uninterrupted one give the same table.

Points are handed to any :class:`concurrent.futures.Executor` (:mod:`linmeta.executors`: local
processes or a Dask cluster; a ``ProcessPoolExecutor`` or ``Client.get_executor()`` drops in).
The command line is ``linmeta sweep`` in :mod:`linmeta.cli`.

Grid syntax: ``FIELD=V1,V2,…`` for a Config field; ``F1+F2=V1,V2`` sets several fields to the
same value (``m_in+m_out=5,10``). A TOML sweep file holds ``[base]`` (fields), ``[grid]``
(field -> list of values) and optionally ``seeds`` (a list) at top level.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .budget import check_linear
from .config import Config, load_config
from .executors import LocalExecutor
from .io import atomic_write_text, read_table, write_csv
from .results import (
    ResultError,
    is_complete,
    make_dir,
    read_config,
    read_metrics,
)

SUMMARY_METRICS = ("dist", "outside_norm", "loss", "risk_subspace", "risk_ls", "risk_oracle")
MAX_POINTS = 100_000  # a larger sweep is refused before its points are built


class SweepError(ValueError):
    """An invalid sweep specification or an inconsistent sweep directory."""


# ---------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Point:
    """One grid point: its directory name, the values that vary, and its full config."""

    name: str
    values: dict
    config: Config


def parse_value(text: str):
    """A command-line value: int, float, true/false, none, or the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_grid(entries: Iterable[str]) -> dict:
    """``["n_tasks=10,100", "m_in+m_out=5,10"]`` -> ``{"n_tasks": [10, 100], …}``.

    A field in two entries is refused (which values would run is not obvious).
    """
    grid = {}
    for entry in entries:
        key, sep, values = entry.partition("=")
        parsed = [parse_value(v) for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not parsed:
            raise SweepError(f"grid entry {entry!r} is not FIELD=V1,V2,…")
        _refuse_overlap(grid, key.strip(), "--grid")
        grid[key.strip()] = parsed
    return grid


def grid_fields(grid: dict) -> set:
    """The config fields a grid varies (``"m_in+m_out"`` varies two)."""
    return {name.strip() for key in grid for name in key.split("+")}


def _refuse_overlap(grid: dict, key: str, where: str) -> None:
    both = grid_fields(grid) & grid_fields({key: None})
    if both:
        raise SweepError(f"{', '.join(sorted(both))} is in two {where} entries; give each "
                         "field once")


def parse_assignments(entries: Iterable[str]) -> dict:
    """``["mode=finite", "steps=300"]`` -> ``{"mode": "finite", "steps": 300}``."""
    out = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SweepError(f"setting {entry!r} is not FIELD=VALUE")
        value = value.strip() if key == "methods" else parse_value(value)
        if key in out and out[key] != value:
            raise SweepError(f"--set {key} is given twice ({out[key]!r} and {value!r})")
        out[key] = value
    return out


def parse_seeds(text: str | None) -> list[int] | None:
    """``"0-9"`` (inclusive range), ``"0,3,7"`` or ``"5"`` (that one seed)."""
    if text is None:
        return None
    try:
        if re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", text):
            lo, hi = (int(p) for p in text.split("-"))
            seeds = range(lo, hi + 1)
        else:
            seeds = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        seeds = []
    if len(seeds) > MAX_POINTS:
        raise SweepError(f"--seeds {text} gives {len(seeds)} seeds; a sweep has at most "
                         f"{MAX_POINTS} points")
    seeds = list(seeds)
    if not seeds or min(seeds) < 0:
        raise SweepError(f"seeds must be A-B or a comma-separated list of integers >= 0, "
                         f"got {text!r}")
    return seeds


def read_sweep_file(path) -> tuple[dict, dict, list[int] | None]:
    """``(base, grid, seeds)`` from a TOML sweep file with ``[base]`` and ``[grid]`` tables."""
    spec = read_table(path, SweepError, what="sweep file")
    unknown = set(spec) - {"base", "grid", "seeds"}
    if unknown:
        raise SweepError(f"sweep file {path}: unknown key(s) {', '.join(sorted(unknown))}; "
                         "expected [base], [grid], seeds")
    grid = spec.get("grid", {})
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"sweep file {path}: grid.{key} must be a non-empty list")
    seeds = spec.get("seeds")
    if seeds is not None and not (isinstance(seeds, list)
                                  and all(isinstance(s, int) for s in seeds)):
        raise SweepError(f"sweep file {path}: seeds must be a list of integers")
    return dict(spec.get("base", {})), grid, seeds


def _slug(value) -> str:
    if isinstance(value, (list, tuple)):
        value = "+".join(str(v) for v in value)
    return re.sub(r"[^A-Za-z0-9.+-]", "-", str(value))


def expand(base: dict, grid: dict, seeds: list[int] | None = None) -> list[Point]:
    """Every combination of the grid's values (in the order given) × seeds.

    A grid key ``"f1+f2"`` sets all its fields to the same value. The point's name lists the
    grid values and the seed, so it does not depend on the order of points or on other points.
    Raises :class:`SweepError` (or ConfigError) for unknown fields or invalid values.
    """
    base = dict(base)
    keys = list(grid)
    if "seed" in grid_fields(grid) and seeds is not None:
        raise SweepError("give seeds either as --seeds or as a grid over 'seed', not both")
    seed_list = seeds if seeds is not None else [base.get("seed", 0)]
    count = math.prod(len(v) for v in grid.values()) * len(seed_list)
    if count > MAX_POINTS:
        raise SweepError(f"this sweep has {count} points; at most {MAX_POINTS} (split it)")
    points, names = [], set()
    for combo in itertools.product(*(grid[k] for k in keys)):
        for seed in seed_list:
            values = dict(zip(keys, combo, strict=True))
            fields = dict(base)
            for key, value in values.items():
                for name in key.split("+"):
                    fields[name.strip()] = value
            if "seed" not in grid:
                fields["seed"] = seed
                values["seed"] = seed
            cfg = Config.from_dict(fields)
            name = "__".join(f"{k.replace('+', '-')}={_slug(v)}" for k, v in values.items())
            if name in names:
                raise SweepError(f"two grid points share the name {name!r}")
            names.add(name)
            points.append(Point(name, values, cfg))
    return points


# ---------------------------------------------------------------- running


def point_dir(out, point: Point) -> Path:
    return Path(out) / "points" / point.name


def run_point(task: tuple) -> tuple[str, float]:
    """Run one point and write its result directory; ``task = (name, config dict, out dir)``.

    Idempotent: a point already finished with this config is not recomputed. Leftover
    temporary files of an interrupted earlier attempt are removed first.
    """
    from .experiment import run
    from .results import save_result

    name, values, out = task
    out = Path(out)
    if is_complete(out) and read_config(out)["config"] == json.loads(json.dumps(values)):
        return name, 0.0  # an earlier attempt finished it (a task re-run after a lost worker)
    for stale in out.glob(".*.tmp") if out.exists() else ():
        stale.unlink(missing_ok=True)
    start = time.perf_counter()
    result = run(Config.from_dict(values))
    save_result(result, out)
    return name, time.perf_counter() - start


def finished(out, point: Point) -> bool:
    """True when the point's directory holds a finished run of exactly this config."""
    path = point_dir(out, point)
    if not is_complete(path):
        return False
    stored = read_config(path)["config"]
    if stored != json.loads(json.dumps(point.config.to_dict())):
        raise SweepError(f"{path} holds a finished run of a different config; "
                         "use another --out or remove it")
    return True


@dataclass
class SweepReport:
    """What one call of :func:`run_sweep` did: names computed now and names skipped."""

    computed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def run_sweep(points: list[Point], out, executor: cf.Executor | None = None,
              progress: Callable | None = None) -> SweepReport:
    """Run every unfinished point on ``executor`` (any :class:`concurrent.futures.Executor`;
    default :class:`~linmeta.executors.LocalExecutor`); ``progress(name, seconds)`` after each
    one finishes.

    At most twice the executor's ``workers`` points are submitted at a time (one at a time for
    one worker; all of them for an executor that does not say), so progress arrives as points
    finish. Writes
    ``OUT/sweep.json`` (the points) first and ``OUT/summary.csv`` at the end — also when
    interrupted, for the points finished so far, after cancelling the rest with
    ``shutdown(cancel_futures=True)`` — and re-raises the interruption. The executor is shut
    down on return.
    """
    out = make_dir(out)
    spec = {"points": [{"name": p.name, "values": p.values, "config": p.config.to_dict()}
                       for p in points]}
    atomic_write_text(out / "sweep.json", json.dumps(spec, indent=1) + "\n")
    report = SweepReport()
    todo = []
    for p in points:
        if finished(out, p):
            report.skipped.append(p.name)
        else:
            todo.append((p.name, p.config.to_dict(), str(point_dir(out, p))))
    executor = executor or LocalExecutor()
    if isinstance(executor, LocalExecutor):
        executor = executor.for_items(len(todo))
    workers = getattr(executor, "workers", len(todo) or 1)
    window = 1 if workers == 1 else 2 * workers  # one at a time: progress as each finishes
    try:
        for name, seconds in _completed(executor, run_point, todo, window):
            report.computed.append(name)
            if progress is not None:
                progress(name, seconds)
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        write_summary(points, out)
        raise
    executor.shutdown()
    write_summary(points, out)
    return report


def _completed(executor: cf.Executor, fn: Callable, items: list, window: int) -> Iterator:
    """``fn(item)`` for every item on ``executor``, at most ``window`` submitted at a time;
    yields the results as they finish (in any order)."""
    queue = iter(items)
    pending = {executor.submit(fn, item) for item in itertools.islice(queue, window)}
    while pending:
        done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for future in done:
            yield future.result()
            for item in itertools.islice(queue, 1):
                pending.add(executor.submit(fn, item))


# ---------------------------------------------------------------- the summary


def summary_rows(points: list[Point], out) -> list[dict]:
    """One row per (finished point, method): the grid values, then the mean over the trials
    that reached the final step of each metric's value there (``final_<metric>``; NaN when no
    trial did, as ``null`` in the point's summary.json), divergences and trials."""
    keys = []
    for p in points:
        keys += [k for k in p.values if k not in keys]
    rows = []
    for p in points:
        path = point_dir(out, p)
        if not is_complete(path):
            continue
        metrics = read_metrics(path)
        summary = json.loads((path / "summary.json").read_text())
        for method, s in summary.items():
            row = {"point": p.name, **{k: _cell(p.values.get(k)) for k in keys},
                   "method": method}
            for metric in SUMMARY_METRICS:
                if (method, metric) in metrics:
                    steps, values = metrics[(method, metric)]
                    # a diverged trial's rows stop before the final step: not a final value
                    last = values[:, -1] if steps[-1] == s["steps"] else np.array([])
                    last = last[np.isfinite(last)]
                    row[f"final_{metric}"] = float(last.mean()) if last.size else math.nan
            row.update(diverged=s["diverged"], trials=s["trials"], steps=s["steps"])
            rows.append(row)
    return rows


def _cell(value):
    return "+".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def write_summary(points: list[Point], out) -> Path:
    """Write ``OUT/summary.csv`` (atomically) from the finished points' directories."""
    rows = summary_rows(points, out)
    columns = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    path = Path(out) / "summary.csv"
    write_csv(path, columns, ([_fmt_csv(row.get(c, "")) for c in columns] for row in rows))
    return path


def _fmt_csv(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)  # empty, as summary.json's null
    return value


def read_summary(out) -> list[dict]:
    """``OUT/summary.csv`` as a list of dicts of strings."""
    path = Path(out) / "summary.csv"
    if not path.exists():
        raise ResultError(f"{out} has no summary.csv")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary_text(rows: list[dict]) -> str:
    """A fixed-width table of the summary rows for the terminal."""
    if not rows:
        return "(no finished points)"
    columns = [c for c in rows[0] if c != "point"]
    for row in rows:
        columns += [c for c in row if c not in columns and c != "point"]
    cells = [[_fmt_text(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _fmt_text(value) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.3e}"
    return str(value)


# ---------------------------------------------------------------- reading a sweep back


@dataclass
class SweepFinals:
    """One metric's final values in a sweep, per method and grid point (:func:`read_finals`).

    grid : grid key -> its values (numbers ascending, others in the sweep's order). ``seed``
        is not a key: seeds are replicates, pooled in the cells.
    cells : ``(method, values)`` -> final values (N,) of every trial that reached the final
        step, over every finished seed of the grid point ``values`` (a tuple in the order of
        ``grid``); a diverged trial has none, so N may be 0.
    base : the config of the sweep's first point; the fields that ``grid`` does not vary
        have these values at every point.
    methods : in the order the configs list them. seeds, trials : the distinct seeds and trials
        per point among the finished points. points : how many the sweep has.
    unfinished : names of the points without a finished result.
    """

    metric: str
    grid: dict
    cells: dict
    base: dict
    methods: list
    seeds: list
    trials: list
    points: int
    unfinished: list

    def key(self, field: str) -> str:
        """The grid key that varies ``field`` (``m_in`` is varied by ``m_in+m_out``).

        Raises :class:`SweepError` for the seed, a field the grid does not vary, and a grid
        key with one value (nothing to draw against).
        """
        if field == "seed":
            raise SweepError("seed is a sweep's replicate axis: the figure pools the seeds")
        key = next((k for k in self.grid if field in (k, *grid_fields({k: None}))), None)
        varied = ", ".join(self.grid) or "nothing besides the seed"
        if key is None:
            if field in self.base:
                raise SweepError(f"{field} is not in this sweep's grid (it is "
                                 f"{self.base[field]!r} at every point); the grid varies "
                                 f"{varied}")
            raise SweepError(f"{field} is not a config field; this sweep's grid varies {varied}")
        if len(self.grid[key]) < 2:
            raise SweepError(f"{key} has one value in this sweep ({self.grid[key][0]!r}): "
                             "nothing to draw against")
        return key


def read_finals(out, metric: str = "dist") -> SweepFinals:
    """Read the final value of ``metric`` of every finished point of the sweep in ``out``.

    The points come from ``OUT/sweep.json``; each finished point's values from its
    ``metrics.csv`` (:func:`linmeta.results.read_metrics`, which checks its checksum). A
    trial's final value is its value at the config's last step, as in ``summary.csv``.
    Raises :class:`SweepError` for a directory that is not a sweep, a sweep with no finished
    point, or a metric that no finished point logged; :class:`ResultError` for a damaged point.
    """
    out = Path(out)
    try:
        spec = json.loads((out / "sweep.json").read_text())
        listed = spec["points"]
        points = [(p["name"], dict(p["values"]), dict(p["config"])) for p in listed]
    except FileNotFoundError:
        one = "; it holds one run's result, drawn without --x" \
            if (out / "config.json").is_file() else ""
        raise SweepError(f"{out} is not a linmeta sweep (no sweep.json){one}") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SweepError(f"{out}/sweep.json is not a sweep's point list ({err})") from None
    if not points:
        raise SweepError(f"{out}/sweep.json lists no points")
    grid: dict = {}
    for _, values, _ in points:
        for key, value in values.items():
            if key != "seed" and _cell(value) not in grid.setdefault(key, []):
                grid[key].append(_cell(value))
    for key, values in grid.items():
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            grid[key] = sorted(values)
    methods: list = []
    cells: dict = {}
    seeds, trials, unfinished, logged = set(), set(), [], set()
    for name, values, config in points:
        path = out / "points" / name
        if not is_complete(path):
            unfinished.append(name)
            continue
        metrics = read_metrics(path)
        at = tuple(_cell(values[k]) for k in grid)
        seeds.add(config.get("seed"))
        trials.add(config.get("trials"))
        logged |= {m for _, m in metrics}
        for method in config.get("methods", []):
            methods += [] if method in methods else [method]
            finals = cells.setdefault((method, at), np.empty(0))
            if (method, metric) in metrics:
                steps, v = metrics[(method, metric)]
                last = v[:, -1] if steps[-1] == config.get("steps") else np.empty(0)
                cells[(method, at)] = np.concatenate([finals, last[np.isfinite(last)]])
    if len(unfinished) == len(points):
        raise SweepError(f"no point of the sweep in {out} has finished yet: nothing to draw")
    if metric not in logged:
        known = ", ".join(sorted(logged - {"diverged_at"}))
        raise SweepError(f"no metric {metric!r} in this sweep's points; they log {known}")
    return SweepFinals(metric, grid, cells, points[0][2], methods, sorted(seeds),
                       sorted(trials), len(points), unfinished)


# ---------------------------------------------------------------- command line

def build_points(config_file, sweep_file, grid_entries, settings, seeds_text) -> list[Point]:
    """Defaults < --config < sweep file [base] < --set; grid = sweep file [grid] + --grid."""
    base = load_config(config_file).to_dict() if config_file else {}
    grid, seeds = {}, None
    if sweep_file:
        file_base, grid, seeds = read_sweep_file(sweep_file)
        base.update(file_base)
    fixed = parse_assignments(settings)
    base.update(fixed)
    for key, values in parse_grid(grid_entries).items():
        _refuse_overlap(grid, key, "grid (sweep file and --grid)")
        grid[key] = values
    both = set(fixed) & grid_fields(grid)
    if both:
        raise SweepError(f"{', '.join(sorted(both))} is both fixed (--set) and varied (grid); "
                         "give it once")
    cli_seeds = parse_seeds(seeds_text)
    if cli_seeds is not None:
        seeds = cli_seeds
    if not grid and seeds is None:
        raise SweepError("nothing to sweep: give --grid, --seeds or a sweep file with [grid]")
    points = expand(base, grid, seeds)
    checked = set()
    for p in points:  # the resources of each distinct config (seeds do not change them)
        key = json.dumps(p.config.replace(seed=0).to_dict(), sort_keys=True)
        if key not in checked:
            checked.add(key)
            check_linear(p.config)
    return points
