"""The result directory: ``config.json``, ``metrics.csv``, ``arrays.npz``, ``summary.json``.

Every file is written atomically (:mod:`linmeta.io`: a temporary name in the same directory,
moved into place with ``os.replace``), so an interrupted run never leaves a half-written file
under a final name.
``config.json`` is written last, with the checksum of the ``metrics.csv`` beside it. A result
is saved whole after each method finishes (:func:`save_result` with ``complete=False``), so an
interrupted run leaves the methods it finished as a valid result marked ``"complete": false``;
:func:`saved_runs` reads them back exactly, for ``linmeta run --resume``. A directory without
``config.json`` holds no result.

metrics.csv is tidy: one row per (method, trial, step, metric, value). Values are written with
``repr`` (shortest round-trip form), so a reload gives the same float64 bits. A diverged trial
gets one row ``metric = diverged_at`` whose step and value are the step at which it stopped.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from . import __version__
from .io import atomic_savez, atomic_write_text, read_table, write_csv
from .provenance import provenance


class ResultError(ValueError):
    """A missing or unreadable result directory, or one that cannot be written now."""


RESULT_FILES = ("config.json", "metrics.csv", "arrays.npz", "summary.json", "convergence.png")
LOCK_NAME = ".lock"


def make_dir(path) -> Path:
    """Create directory ``path`` (and its parents); an impossible path raises ResultError."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ResultError(f"cannot create directory {path}: {err.strerror or err}") from None
    return path


class DirectoryBusy(ResultError):
    """Another process holds the lock of a directory (:func:`exclusive_dir`)."""


@contextlib.contextmanager
def exclusive_dir(path, what: str = "run", lock: str = LOCK_NAME):
    """Hold an exclusive lock on directory ``path`` (created if missing) for the block.

    A second process that asks for the same lock gets :class:`DirectoryBusy` (a
    :class:`ResultError`) at once instead of writing into the directory too. The lock is the
    kernel's ``flock`` on the file ``path / lock`` (``.lock`` by default; another name gives
    the directory another, independent lock), so it ends with the process however the process
    ends (no stale lock after a kill), and a lock file no process holds is free whatever it
    contains.
    The file is never removed (removing it would let two processes lock two different files of
    the same name). Where ``fcntl`` does not exist (Windows) the block runs unlocked.
    """
    path = make_dir(path)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield path
        return
    try:
        fd = os.open(path / lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise ResultError(f"cannot write to {path}: {err.strerror or err}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DirectoryBusy(f"another process is writing a {what} into {path}; wait for "
                                "it or use another directory") from None
        yield path
    finally:
        os.close(fd)  # closing releases the lock


def metrics_rows(result):
    """Yield tidy rows ``(method, trial, step, metric, value)`` of a Result."""
    for name, run in result.runs.items():
        for metric, values in run.metrics.items():
            for trial in range(values.shape[0]):
                for j, step in enumerate(run.steps):
                    value = values[trial, j]
                    if np.isfinite(value):
                        yield name, trial, int(step), metric, float(value)
        for trial, step in enumerate(run.diverged_at):
            if step >= 0:
                yield name, trial, int(step), "diverged_at", float(step)


def summarize(result) -> dict:
    """Per method: final distance (mean, median, max over surviving trials), divergences, time."""
    out = {}
    for name, run in result.runs.items():
        final = run.metrics["dist"][:, -1] if "dist" in run.metrics else np.empty(0)
        final = final[np.isfinite(final)]
        out[name] = {
            "final_dist_mean": float(final.mean()) if final.size else None,
            "final_dist_median": float(np.median(final)) if final.size else None,
            "final_dist_max": float(final.max()) if final.size else None,
            "diverged": int((run.diverged_at >= 0).sum()),
            "trials": int(run.diverged_at.size),
            "steps": int(run.steps[-1]),
            "seconds": round(run.seconds, 4),
        }
        if getattr(run, "samples", None) is not None:  # finite samples: how many it saw
            out[name]["samples"] = int(run.samples[-1])
        if "heldout_mse" in run.metrics:  # a data file without B*: the held-out error
            mse = run.metrics["heldout_mse"][:, -1]
            ok = np.isfinite(mse)  # over the finite values, as metrics.csv holds them
            out[name]["final_heldout_mse"] = float(np.nanmean(np.where(ok, mse, np.nan))) \
                if ok.any() else None
    return out


def save_result(result, out_dir, save_params: bool = False, complete: bool | None = None,
                run_options: dict | None = None) -> Path:
    """Write a Result to ``out_dir``; returns the directory.

    ``complete`` (default: every method of the config has run) is recorded in ``config.json``;
    a result saved after each method with ``complete=False`` reads cleanly at every moment
    (:func:`read_metrics`, :func:`incomplete`). ``run_options``: what ``linmeta run`` needs to
    resume the run (its files and flags), recorded as given.
    """
    out = make_dir(out_dir)
    if complete is None:
        complete = set(result.runs) >= set(result.config.methods)
    marker = out / "config.json"
    if marker.exists():  # an old complete run is being replaced: mark it incomplete first
        marker.unlink()
    rows = list(metrics_rows(result))
    write_csv(out / "metrics.csv", ["method", "trial", "step", "metric", "value"],
              (row[:4] + (repr(row[4]),) for row in rows))
    per_method: dict = {}
    for row in rows:
        per_method[row[0]] = per_method.get(row[0], 0) + 1

    p = result.problem
    arrays = {"B_star": p.B_star, "B0": p.B0, "w0": p.w0}
    if p.B_star is None:  # a data file without B*
        del arrays["B_star"]
    if p.W_pool is not None:
        arrays["W_star"] = p.W_pool
    if p.sigma_diag is not None:
        arrays["Sigma_diag"] = p.sigma_diag
    for name, run in result.runs.items():
        arrays[f"{name}.steps"] = run.steps
        if "dist" in run.metrics:
            arrays[f"{name}.dist"] = run.metrics["dist"]
        arrays[f"{name}.diverged_at"] = run.diverged_at
        if getattr(run, "samples", None) is not None:
            arrays[f"{name}.samples"] = run.samples
        if save_params:
            arrays[f"{name}.B"] = run.B
            arrays[f"{name}.w"] = run.w
    atomic_savez(out / "arrays.npz", arrays)
    atomic_write_text(out / "summary.json", json.dumps(summarize(result), indent=2) + "\n")
    meta = {
        "config": result.config.to_dict(),
        "seed": result.config.seed,
        "linmeta_version": __version__,
        "problem_file": result.problem_file,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance": provenance(),
        "metrics_csv": {"sha256": file_sha256(out / "metrics.csv"), "rows": per_method},
    }
    if run_options is not None:
        meta["run_options"] = run_options
    meta["complete"] = bool(complete)
    atomic_write_text(marker, json.dumps(meta, indent=2) + "\n")
    return out


def mark_complete(out_dir) -> None:
    """Set ``"complete": true`` in the ``config.json`` of a result saved with ``complete=False``
    once everything else of the run (its figure, its data file) is written."""
    path = Path(out_dir) / "config.json"
    meta = read_config(out_dir)
    meta["complete"] = True
    atomic_write_text(path, json.dumps(meta, indent=2) + "\n")


def saved_runs(out_dir) -> dict:
    """The methods a (partial) result directory holds, as :class:`~linmeta.experiment.MethodRun`
    objects that :func:`save_result` writes back to the same bytes.

    A method is there when ``summary.json`` lists it; its steps, ``diverged_at``, distance,
    samples and (with ``--save-params``) B and w come from ``arrays.npz``, its other metrics from
    ``metrics.csv`` (checked against its checksum; non-finite values are not stored, so they
    come back as NaN, as ``metrics.csv`` and the summary treat them), its time from
    ``summary.json``. Raises :class:`ResultError` for a damaged or inconsistent directory.
    """
    from .experiment import MethodRun

    out = Path(out_dir)
    meta = read_config(out)
    metrics = read_metrics(out)
    try:
        summary = json.loads((out / "summary.json").read_text())
        with np.load(out / "arrays.npz", allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise ResultError(f"{out}: unreadable result ({err})") from None
    methods = meta.get("config", {}).get("methods", [])
    trials = meta.get("config", {}).get("trials")
    runs = {}
    for name in methods:
        if name not in summary:
            continue
        if f"{name}.steps" not in arrays or f"{name}.diverged_at" not in arrays:
            raise ResultError(f"{out}: arrays.npz lacks {name}, which summary.json lists; "
                              "rerun with --overwrite")
        steps = arrays[f"{name}.steps"]
        values = {}
        for (method, metric), (at, v) in metrics.items():
            if method != name or metric == "diverged_at":
                continue
            full = np.full((trials, steps.size), np.nan)
            full[: v.shape[0], np.searchsorted(steps, at)] = v
            values[metric] = full
        if f"{name}.dist" in arrays:
            values["dist"] = arrays[f"{name}.dist"]
        if "final_heldout_mse" in summary[name]:
            values.setdefault("heldout_mse", np.full((trials, steps.size), np.nan))
        runs[name] = MethodRun(name, steps, values, arrays[f"{name}.diverged_at"],
                               arrays.get(f"{name}.B"), arrays.get(f"{name}.w"),
                               float(summary[name]["seconds"]), arrays.get(f"{name}.samples"))
    return runs


def save_data(result, out_dir) -> Path:
    """Write the fixed dataset every method of ``result`` used to ``out_dir/data.npz``: ``X``
    (T, n, m, d), ``y`` (T, n, m), ``m_in`` (a task's first m_in samples are its inner data)
    and ``B_star`` (T, d, k) when known, else ``k``; ``linmeta run --data`` reads the same
    format."""
    if result.data is None:
        raise ResultError("no fixed dataset to save: use --samples fixed (or --data)")
    data = result.data
    if data.counts is not None:
        raise ResultError("tasks of different sizes cannot be saved as data.npz")
    arrays = {"X": np.asarray(data.X), "y": np.asarray(data.y),
              "m_in": np.asarray(result.config.m_in)}
    if result.problem.B_star is not None:
        arrays["B_star"] = result.problem.B_star
    else:  # the width to learn, which run --data cannot read off B_star
        arrays["k"] = np.asarray(result.config.k)
    path = Path(out_dir) / "data.npz"
    atomic_savez(path, arrays)
    return path


def load_result(out_dir) -> dict:
    """A saved result directory as plain data.

    Returns ``{"config": …, "summary": …, "metrics": …, "arrays": …}``: ``config.json``,
    ``summary.json``, :func:`read_metrics` of ``metrics.csv`` and the arrays of ``arrays.npz``.

    Example
    -------
    >>> import linmeta, tempfile
    >>> out = tempfile.mkdtemp()
    >>> _ = linmeta.save_result(linmeta.run(linmeta.Config(steps=3, trials=1)), out)
    >>> r = linmeta.load_result(out)
    >>> r["config"]["complete"], sorted(r["summary"])[:2]
    (True, ['anil', 'erm'])
    """
    out = Path(out_dir)
    meta = read_config(out)
    try:
        summary = json.loads((out / "summary.json").read_text())
        with np.load(out / "arrays.npz") as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise ResultError(f"{out}: unreadable result ({err})") from None
    return {"config": meta, "summary": summary, "metrics": read_metrics(out), "arrays": arrays}


def is_complete(out_dir) -> bool:
    """True when ``out_dir`` holds a finished run."""
    try:
        return bool(read_config(out_dir).get("complete"))
    except ResultError:
        return False


def read_config(out_dir) -> dict:
    """The ``config.json`` of a result directory (:func:`linmeta.io.read_table`)."""
    return read_table(Path(out_dir) / "config.json", ResultError, "json",
                      missing=f"{out_dir} is not a finished linmeta result (no config.json)")


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_metrics_file(out_dir) -> None:
    """Raise :class:`ResultError` when ``metrics.csv`` is not the file its ``config.json``
    describes (its SHA-256, written with it): any truncation or edit, wherever it falls.

    Results written before the checksum existed (no ``metrics_csv`` entry) are not checked.
    """
    out = Path(out_dir)
    try:
        meta = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return  # read_config reports a missing or unreadable config.json
    want = meta.get("metrics_csv", {}).get("sha256") if isinstance(meta, dict) else None
    if want and file_sha256(out / "metrics.csv") != want:
        raise ResultError(f"{out / 'metrics.csv'} is damaged: it does not match the checksum "
                          "in config.json (truncated or edited); rerun to regenerate it")


def read_metrics(out_dir) -> dict:
    """Load metrics.csv as ``{(method, metric): (steps (L,), values (T, L))}`` with NaN gaps.

    The file is first checked against the checksum its ``config.json`` records
    (:func:`check_metrics_file`), so a damaged file is refused, never read as a shorter one.
    """
    path = Path(out_dir) / "metrics.csv"
    if not path.exists():
        raise ResultError(f"{out_dir} has no metrics.csv")
    cells: dict = {}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["method", "trial", "step", "metric", "value"]:
            raise ResultError(f"{path} is not a linmeta metrics file")
        check_metrics_file(out_dir)
        for line, row in enumerate(reader, start=2):
            try:
                method, trial, step, metric, value = row
                cell = (int(trial), int(step), float(value))
            except ValueError:
                raise ResultError(f"{path}: malformed row {line} {','.join(row)!r} (a truncated "
                                  "or edited file; rerun to regenerate it)") from None
            cells.setdefault((method, metric), []).append(cell)
    out = {}
    for key, rows in cells.items():
        arr = np.array(rows)
        steps = np.unique(arr[:, 1]).astype(int)
        trials = int(arr[:, 0].max()) + 1
        values = np.full((trials, steps.size), np.nan)
        values[arr[:, 0].astype(int), np.searchsorted(steps, arr[:, 1])] = arr[:, 2]
        out[key] = (steps, values)
    return out


def incomplete(out_dir, metrics: dict | None = None) -> list[str]:
    """Why ``out_dir`` is not a whole result, as short phrases (empty when it is).

    Checks ``"complete"`` in ``config.json`` and that ``metrics.csv`` holds, for every method
    of the config, every trial up to the final step (a trial that diverged stops earlier and
    has its ``diverged_at`` row).
    """
    meta = read_config(out_dir)
    problems = [] if meta.get("complete") else ['config.json says "complete": false']
    cfg = meta.get("config", {})
    metrics = read_metrics(out_dir) if metrics is None else metrics
    final, trials = cfg.get("steps"), cfg.get("trials")
    for method in cfg.get("methods", []):
        if (method, "dist") not in metrics:
            problems.append(f"no rows for {method}")
            continue
        steps, values = metrics[(method, "dist")]
        stopped = set()
        if (method, "diverged_at") in metrics:
            _, when = metrics[(method, "diverged_at")]
            stopped = {t for t in range(when.shape[0]) if np.isfinite(when[t]).any()}
        short = [t for t in range(trials or values.shape[0])
                 if t not in stopped and (t >= values.shape[0] or steps[-1] != final
                                          or not np.isfinite(values[t, -1]))]
        if short:
            problems.append(f"{method}: trial(s) {_ranges(short)} end before step {final}")
    return problems


def _ranges(items: list[int]) -> str:
    return ",".join(map(str, items[:5])) + ("…" if len(items) > 5 else "")


# ---------------------------------------------------------------- interrupted writers


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the same clean-up runs."""


@contextlib.contextmanager
def _handlers(handlers: dict):
    """Install the signal ``handlers`` (``{signal: handler}``) for the block, then put the old
    ones back. Yields the old handlers, or None outside the main thread, where handlers cannot
    be set: there the block runs with the signals as they were."""
    try:
        old = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    except ValueError:  # not the main thread
        yield None
        return
    try:
        yield old
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def interruptible():
    """For the block, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) instead of
    ending the process at once, so an interrupted writer saves nothing half-way and releases
    its lock through the usual clean-up. Outside the main thread the block runs unchanged."""
    def terminated(signum, frame):
        raise Terminated()

    with _handlers({signal.SIGTERM: terminated}):
        yield


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM back during the block: they take effect when it ends.

    A result is several files (metrics.csv and the checksum in config.json); saving them
    under this guard means Ctrl-C or SIGTERM never falls between them, so an interrupted run
    always leaves a result whose files agree. The handlers are swapped (not the signal mask,
    which other threads, such as BLAS's, do not share). Outside the main thread the block runs
    unguarded.
    """
    caught = []

    def hold(signum, frame):
        caught.append(signum)

    old = None
    try:
        with _handlers(dict.fromkeys((signal.SIGINT, signal.SIGTERM), hold)) as old:
            yield
    finally:
        if caught:  # only possible where the handlers were swapped, so ``old`` is set
            handler = old[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(caught[0])
