"""Test-wide settings: the data cache in a temporary folder, not in ``~/.cache/linmeta``."""

import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="linmeta-test-cache-")


def pytest_configure(config):
    os.environ["LINMETA_CACHE"] = _CACHE  # subprocesses of the tests inherit it


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE, ignore_errors=True)
