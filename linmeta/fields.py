"""Config fields that carry their own help and check: one table for validation and the CLI.

Both configs (:class:`linmeta.config.Config`, :class:`linmeta.fewshot.engine.train.TrainConfig`)
declare every field with :func:`field`: its default, its one line of ``--help`` and its check,
a function ``check(name, value)`` that returns the one-line message for a bad value and None for
a good one. :func:`check_fields` runs the checks in the order of the fields (checks across
fields follow it in each config); the command lines read the help and the choices of a
:func:`one_of` check from the field's metadata.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

#: ``check(name, value)``: the one-line message for a bad value, None for a good one.
Check = Callable[[str, Any], str | None]


def field(default, help: str = "", check: Check | None = None) -> Any:
    """A dataclass field with its metadata: ``help`` (the description of its command-line
    option; "" for a field without one), ``check`` and ``choices`` (the values a :func:`one_of`
    check accepts, which the command line offers; None for any other check)."""
    return dataclasses.field(default=default, metadata={
        "help": help, "check": check, "choices": getattr(check, "choices", None)})


def one_of(choices: Sequence[str],
           message: str = "unknown {name} {value!r}; choose from {choices}") -> Check:
    """A check that the value is one of ``choices``; the refusal is ``message`` formatted with
    ``name``, ``value`` and ``choices`` (comma-separated). The check's ``choices`` attribute
    holds them for :func:`field`."""
    choices = tuple(choices)

    def check(name: str, value) -> str | None:
        if value in choices:
            return None
        return message.format(name=name, value=value, choices=", ".join(choices))

    check.choices = choices
    return check


def check_fields(config, error: type[Exception]) -> None:
    """Raise ``error`` with the message of the first field (in declaration order) whose check
    refuses its value."""
    for f in dataclasses.fields(config):
        check = f.metadata.get("check")
        message = check(f.name, getattr(config, f.name)) if check is not None else None
        if message:
            raise error(message)
