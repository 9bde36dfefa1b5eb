"""The errors that name bad input, shared by both halves of linmeta.

Each carries a one-line message that the command lines print as ``Error: …`` with exit code 2.
"""

from __future__ import annotations


class DataError(ValueError):
    """Data that cannot be used: a missing, unreadable or corrupt file, wrong shapes,
    non-finite values, too few samples or classes (linear tasks and few-shot images alike)."""
