"""The one reader of config files (linmeta.io.read_table): TOML and JSON, one error mapping."""

from __future__ import annotations

import pytest

from linmeta.io import read_table


class Refused(ValueError):
    pass


@pytest.mark.parametrize("fmt, text, values", [
    ("toml", 'd = 5\nmethods = ["maml"]\n[grid]\nk = [1, 2]\n',
     {"d": 5, "methods": ["maml"], "grid": {"k": [1, 2]}}),
    ("json", '{"d": 5, "config": {"k": null}}', {"d": 5, "config": {"k": None}}),
])
def test_read_table_reads_both_formats(tmp_path, fmt, text, values):
    (tmp_path / "f").write_text(text)
    assert read_table(tmp_path / "f", Refused, fmt) == values


@pytest.mark.parametrize("fmt, content, message", [
    ("toml", None, "config file not found: {path}"),
    ("toml", "dir", "cannot read config file {path}: Is a directory"),
    ("toml", b"d = \n", "malformed config file {path}: unreadable as TOML: Invalid value"),
    ("toml", b"d = '\xff'\n", "malformed config file {path}: unreadable as TOML: 'utf-8'"),
    ("json", b"{not json", "malformed config file {path}: unreadable as JSON: Expecting"),
    ("json", b"[1, 2]", "malformed config file {path}: not a JSON object"),
])
def test_read_table_refuses_in_one_line(tmp_path, fmt, content, message):
    path = tmp_path / "f"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(Refused) as err:
        read_table(path, Refused, fmt)
    assert str(err.value).startswith(message.format(path=path))
    assert "\n" not in str(err.value)


def test_read_table_names_the_file_and_its_absence(tmp_path):
    with pytest.raises(Refused, match="^sweep file not found"):
        read_table(tmp_path / "none.toml", Refused, what="sweep file")
    with pytest.raises(Refused, match="^nothing to resume$"):
        read_table(tmp_path / "config.json", Refused, "json", missing="nothing to resume")
