"""Every file linmeta writes goes through here: atomic writers and the one CSV writer; and the
one reader of config files (TOML and ``config.json``).

A file is written to a temporary name in its own directory and moved into place with
``os.replace``, so an interrupted process never leaves a half-written file under a final name:
a reader sees the old file or the new one. Files get the permissions of the process umask.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def _umask() -> int:
    """The process umask, read without changing it where /proc says it (Linux >= 4.7)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    If the block raises (or the process is interrupted), ``path`` is left as it was and the
    temporary file is removed, so no half-written file ever stands under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # mkstemp gives 0600, for secrets; results follow the umask
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode())


def atomic_savez(path, arrays: dict) -> None:
    """``np.savez`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def atomic_savefig(fig, path, **kwargs) -> None:
    """``fig.savefig`` to ``path`` atomically (the format from the file name's suffix)."""
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format=Path(path).suffix.lstrip(".") or "png", **kwargs)


def write_csv(path, header: Sequence, rows: Iterable[Sequence]) -> None:
    """A CSV file (atomic, ``\\n`` line ends): the ``header`` row, then ``rows``; every cell as
    ``str`` gives it (format floats before, e.g. with ``repr`` for exact round trips)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def write_records(path, records: list[dict], fields: Sequence | None = None) -> None:
    """Dicts to a CSV file with :func:`write_csv`: columns ``fields`` (default: every key, in
    first-seen order); a key a record lacks gives an empty cell."""
    if fields is None:
        fields = list(dict.fromkeys(k for r in records for k in r))
    write_csv(path, fields, ([r.get(f, "") for f in fields] for r in records))


#: The parsers of :func:`read_table`: ``fmt -> (parse text, its error)``.
_PARSERS = {
    "json": (json.loads, json.JSONDecodeError),
    "toml": (tomllib.loads, tomllib.TOMLDecodeError),
}


def read_table(path, error: type[Exception], fmt: str = "toml", *, what: str = "config file",
               missing: str | None = None) -> dict:
    """The top-level table of a TOML or JSON (``fmt``) file, or ``error`` with a one-line message.

    A missing file gives ``missing`` (default ``"<what> not found: <path>"``), one that cannot
    be read ``"cannot read <what> <path>: <reason>"``, and one that cannot be parsed, or whose
    top level is not a table, ``"malformed <what> <path>: unreadable as <FMT>: <reason>"``.
    """
    parse, malformed = _PARSERS[fmt]
    try:
        with open(path, "rb") as f:
            values = parse(f.read().decode())
    except FileNotFoundError:
        raise error(missing or f"{what} not found: {path}") from None
    except OSError as err:  # a directory, no permission, ...
        raise error(f"cannot read {what} {path}: {err.strerror or err}") from None
    except (malformed, UnicodeDecodeError) as err:
        raise error(f"malformed {what} {path}: unreadable as {fmt.upper()}: {err}") from None
    if not isinstance(values, dict):
        raise error(f"malformed {what} {path}: not a JSON object")
    return values
