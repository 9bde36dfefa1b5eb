"""The click group class of ``linmeta`` and ``linmeta fewshot``: every error is one line
``Error: …`` on stderr with exit code 2 (usage errors too, without the usage text), never a
traceback."""

from __future__ import annotations

import sys

import click

from .backend import BackendError
from .budget import BudgetError
from .config import ConfigError
from .datafiles import ProblemError
from .errors import DataError
from .results import ResultError

INPUT_ERRORS = (ConfigError, ProblemError, ResultError, BackendError, BudgetError,
                DataError)


class UsageError(click.ClickException):
    """A one-line usage or input error of a command (exit code 2)."""

    exit_code = 2


class LinmetaGroup(click.Group):
    """A click group whose errors are one line on stderr with exit code 2."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            return _exit(130, standalone_mode)
        except click.ClickException as err:
            click.echo(f"Error: {err.format_message()}", err=True)
            return _exit(2, standalone_mode)
        except INPUT_ERRORS as err:
            click.echo(f"Error: {err}", err=True)
            return _exit(2, standalone_mode)
        except OSError as err:  # a path that cannot be read or written
            where = f": {err.filename}" if err.filename else ""
            click.echo(f"Error: {err.strerror or err}{where}", err=True)
            return _exit(2, standalone_mode)
        return _exit(rv if isinstance(rv, int) else 0, standalone_mode)


def _exit(code: int, standalone_mode: bool):
    if standalone_mode:
        sys.exit(code)
    return code
