"""The package's import graph: no cycle, and every arrow points down the layers.

Bottom to top: the core (``linmeta/*.py`` but the command lines), the few-shot data, engine,
probes and claims, and the command lines. Every ``import`` and ``from … import`` counts, at any
depth (inside functions too), relative or absolute, except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "linmeta"

#: Bottom to top: (layer, the modules it holds: a name and everything under it).
LAYERS = (
    ("core", ("linmeta",)),
    ("data", ("linmeta.fewshot", "linmeta.fewshot.data")),
    ("engine", ("linmeta.fewshot.engine",)),
    ("probes", ("linmeta.fewshot.probes",)),
    ("claims", ("linmeta.fewshot.claims",)),
    ("command lines", ("linmeta.cli", "linmeta.cli_group", "linmeta.fewshot.cli",
                       "linmeta.fewshot.analysis_cli")),
)


def module_names(package: Path = PACKAGE) -> dict:
    """``{module name: path}`` of every module under ``package`` (a package is its
    ``__init__.py``)."""
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import and ImportFrom node, at any depth, outside ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if _type_checking_only(node):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        yield from _imports(node)


def imported_modules(source: str, module: str, is_package: bool, known) -> set:
    """The modules of ``known`` that ``source`` (the text of ``module``) imports.

    ``from a import b`` imports ``a.b`` when that is a module, else ``a``; a relative import
    counts from ``module``'s package (``module`` itself when ``is_package``).
    """
    found = set()
    for node in _imports(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = module.split(".")
                if not is_package:
                    package = package[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        for target in targets:
            while target and target not in known:  # `import a.b.attr` style: the module part
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    found.discard(module)
    return found


def import_graph(package: Path = PACKAGE) -> dict:
    """``{module: set of the package's modules it imports}``."""
    names = module_names(package)
    return {name: imported_modules(path.read_text(), name, path.name == "__init__.py", names)
            for name, path in names.items()}


def find_cycle(graph: dict) -> list | None:
    """One cycle ``[a, b, …, a]`` of ``graph`` (``{node: successors}``), or None."""
    state, stack = {}, []  # state: 1 on the current path, 2 done

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer_of(module: str, layers=LAYERS) -> int:
    """Index in ``layers`` of the most specific prefix that holds ``module``."""
    best, index = -1, None
    for i, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, index = len(prefix), i
    if index is None:
        raise ValueError(f"{module} is in no layer")
    return index


def upward_arrows(graph: dict, layers=LAYERS) -> list:
    """``[(importer, imported), …]`` where a module imports one of a higher layer."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if layer_of(b, layers) > layer_of(a, layers))


# ---------------------------------------------------------------- the checks on linmeta


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_import_graph_has_no_cycle(graph):
    assert find_cycle(graph) is None


def test_no_module_imports_a_higher_layer(graph):
    assert upward_arrows(graph) == []


def test_every_module_is_in_a_layer(graph):
    assert len(graph) > 40
    for module in graph:
        layer_of(module)
    assert LAYERS[layer_of("linmeta.budget")][0] == "core"
    assert LAYERS[layer_of("linmeta.fewshot.engine.budget")][0] == "engine"
    assert LAYERS[layer_of("linmeta.cli")][0] == "command lines"


def test_the_budget_halves(graph):
    """The generic check is core; the few-shot estimate sits in the engine and uses it."""
    assert "linmeta.budget" in graph["linmeta.experiment"]
    assert "linmeta.experiment" not in graph["linmeta.budget"]
    assert "linmeta.budget" in graph["linmeta.fewshot.engine.budget"]
    assert "linmeta.fewshot.engine.network" in graph["linmeta.fewshot.engine.budget"]


# ---------------------------------------------------------------- the checks can fail


def test_find_cycle_on_small_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"b"}}) == ["b", "b"]
    assert find_cycle({"x": {"a"}, "a": {"b", "z"}, "b": {"a"}, "z": set()}) == ["a", "b", "a"]


def test_upward_arrows_on_a_small_graph():
    graph = {"linmeta.tasks": {"linmeta.fewshot.engine.network"},
             "linmeta.fewshot.engine.train": {"linmeta.budget", "linmeta.fewshot.data"},
             "linmeta.fewshot.data.glyphs": {"linmeta.fewshot.claims.grid"},
             "linmeta.cli": {"linmeta.fewshot.cli"}}
    assert upward_arrows(graph) == [("linmeta.fewshot.data.glyphs", "linmeta.fewshot.claims.grid"),
                                    ("linmeta.tasks", "linmeta.fewshot.engine.network")]


KNOWN = {"linmeta", "linmeta.budget", "linmeta.experiment", "linmeta.fewshot",
         "linmeta.fewshot.data", "linmeta.fewshot.data.glyphs", "linmeta.fewshot.engine",
         "linmeta.fewshot.engine.train", "linmeta.fewshot.engine.parallel"}


def test_imports_are_resolved_at_any_depth_relative_or_absolute():
    source = '''
from typing import TYPE_CHECKING
import numpy as np
from . import parallel
from ..data import glyphs
from linmeta.budget import check

if TYPE_CHECKING:
    from linmeta.experiment import Config
else:
    import linmeta.fewshot.data


def later():
    import linmeta.experiment.run_thing
'''
    found = imported_modules(source, "linmeta.fewshot.engine.train", False, KNOWN)
    assert found == {"linmeta.fewshot.engine.parallel", "linmeta.fewshot.data.glyphs",
                     "linmeta.budget", "linmeta.fewshot.data", "linmeta.experiment"}
    # in a package's __init__, `.` is the package itself
    found = imported_modules("from .data import glyphs\nfrom .. import budget\n",
                             "linmeta.fewshot", True, KNOWN)
    assert found == {"linmeta.fewshot.data.glyphs", "linmeta.budget"}
    # only the TYPE_CHECKING branch is skipped
    only = imported_modules("if TYPE_CHECKING:\n    import linmeta.experiment\n",
                            "linmeta.budget", False, KNOWN)
    assert only == set()
