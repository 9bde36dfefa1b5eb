"""The public face: every exported name resolves, and the docstring examples run."""

import doctest

import linmeta
import linmeta.results


def test_every_exported_name_resolves():
    for name in linmeta.__all__:
        assert getattr(linmeta, name) is not None, name


def test_docstring_examples_run():
    for module in (linmeta, linmeta.results):
        res = doctest.testmod(module)
        assert res.attempted > 0 and res.failed == 0, module.__name__
