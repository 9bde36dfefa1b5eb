"""Where a result came from: the git commit of the code and the versions of its libraries."""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path


@lru_cache(maxsize=1)
def provenance() -> dict:
    """``{git_commit, git_dirty, python, numpy, scipy, cupy}`` of this process.

    ``git_commit`` is the commit of the checkout linmeta runs from, or ``None`` outside a git
    checkout (an installed wheel) or without git; ``git_dirty`` says whether tracked files had
    uncommitted changes. A library that is not installed is ``None``; CuPy is looked up, not
    imported.
    """
    root = Path(__file__).resolve().parent.parent
    commit = dirty = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip() or None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True, timeout=10, check=True)
        dirty = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    out = {"git_commit": commit, "git_dirty": dirty, "python": platform.python_version()}
    for name, dist in (("numpy", "numpy"), ("scipy", "scipy"), ("cupy", None)):
        out[name] = _version(dist) if dist else next(
            (v for v in (_version(d) for d in ("cupy-cuda12x", "cupy-cuda13x", "cupy")) if v),
            None)
    return out


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
