"""The project's theory document, docs/theory.md, and the citations of it.

Code, scripts and documents cite sections as ``docs/theory.md §N.M``. These tests keep every such
citation pointing at a section that exists. They also keep out references to a theory file that the
repository does not contain.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "theory.md"
SUFFIXES = {".py", ".md", ".toml"}
SKIP_DIRS = {".git", "runs", "results", "build", "dist", "node_modules", "__pycache__", ".venv",
             "venv", ".ruff_cache", ".pytest_cache", ".hypothesis"}

#: Citations of a file the repository does not ship. The patterns are assembled from pieces so
#: that this file does not match them itself.
_OLD = "THE" "ORY"
STALE = [re.compile(p) for p in (r"\b" + _OLD + r"\.md", r"\b" + _OLD + r"\s*§",
                                 "/work/" + "shared", "project's " + "shared notes")]
SECTION = r"§\s*(\d+(?:\.\d+)*)"
#: ``docs/theory.md §1.5`` and its run of further sections: ``docs/theory.md §1.5, §1.6``.
CITATION = re.compile(r"docs/theory\.md`?\s*((?:" + SECTION + r"(?:\s*(?:,|and)\s*)?)+)")
#: A section of a paper, ``Raghu20 §4.1`` or ``raghu20` §4.1``: not a section of this document.
PAPER_SECTION = re.compile(r"[A-Za-z]+\d\d`?\s*$")


def repo_files():
    """Every .py, .md and .toml file of the repository, outside run outputs and caches."""
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
            continue
        if path.suffix in SUFFIXES and path.is_file():
            yield path


def sections() -> list[str]:
    """The numbers of the document's sections, in order: ``['1', '1.1', …]``."""
    heads = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", DOC.read_text(encoding="utf-8"),
                       flags=re.MULTILINE)
    return heads


def cited(text: str) -> list[str]:
    """The sections of docs/theory.md that ``text`` cites."""
    return [n for run in CITATION.finditer(text) for n in re.findall(SECTION, run.group(1))]


def test_the_theory_document_has_unique_numbered_sections():
    numbers = sections()
    assert "1.3" in numbers and "2.3" in numbers
    assert len(numbers) == len(set(numbers)), "a section number is used twice"
    for n in numbers:  # a subsection sits under its section
        assert "." not in n or n.split(".")[0] in numbers, n


def test_citation_parser_reads_runs_of_sections():
    text = "see docs/theory.md §1.5, §1.6 and `docs/theory.md` §2.3; Raghu20 §4.1"
    assert cited(text) == ["1.5", "1.6", "2.3"]


@pytest.mark.parametrize("path", list(repo_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_citation_of_a_file_outside_the_repository(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    for pattern in STALE:
        hit = pattern.search(text)
        assert hit is None, f"{path.relative_to(ROOT)} cites {hit.group(0)!r}: cite docs/theory.md"


def test_every_citation_names_an_existing_section():
    known = set(sections())
    bad = [f"{path.relative_to(ROOT)}: §{n}" for path in repo_files()
           for n in cited(path.read_text(encoding="utf-8", errors="replace")) if n not in known]
    assert not bad, "citations of sections docs/theory.md does not have: " + ", ".join(bad)


def test_the_code_cites_the_theory_document():
    """The citations exist at all (a parser that found none would pass the test above)."""
    sources = [p for p in repo_files() if p.suffix == ".py" and "linmeta" in p.parts]
    assert sum(len(cited(p.read_text(encoding="utf-8"))) for p in sources) >= 10


def test_cross_references_inside_the_document_exist():
    text = DOC.read_text(encoding="utf-8")
    known = set(sections())
    bad = [m.group(1) for m in re.finditer(SECTION, text)
           if not PAPER_SECTION.search(text[max(0, m.start() - 12):m.start()])
           and m.group(1) not in known]
    assert not bad, f"docs/theory.md refers to sections it does not have: {bad}"
