"""Every misconception a check declares is planted: a wrong answer in the tests produces exactly that id.

A check declares its misconceptions as data (:class:`mlcasebook.checks.ladder.Ladder`). A planted answer is a
call ``expect_misconception(result, "<id>")`` in ``tests/test_checks_<checks module>.py`` (the answer a learner
would write, run through the check) or a notebook fixture's ``[expect.misconceptions]`` (graded end to end).
"""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

from mlcasebook import curriculum
from notebook_fixtures import ROOT, fixture_files, load

CASES = curriculum.cases()


def _checks(module):
    return [fn for _, fn in inspect.getmembers(module, callable) if hasattr(fn, "check_name")
            and fn.__module__ == module.__name__]


def _planted_in_tests(case) -> set[str]:
    path = ROOT / "tests" / f"test_checks_{case.checks}.py"
    ids = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "expect_misconception":
            if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                ids.add(node.args[1].value)
    return ids


def _planted_in_fixtures(case) -> set[str]:
    ids = set()
    for fixture in fixture_files():
        if fixture.parent.name == case.notebook:
            ids |= set(load(fixture)["expect"].get("misconceptions", {}).values())
    return ids


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_check_declares_its_misconceptions(case):
    module = importlib.import_module(f"mlcasebook.checks.{case.checks}")
    undeclared = [fn.__name__ for fn in _checks(module) if not fn.misconceptions]
    assert not undeclared, f"checks without a misconception table: {undeclared}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_declared_misconception_is_planted(case):
    module = importlib.import_module(f"mlcasebook.checks.{case.checks}")
    declared = {i for fn in _checks(module) for i in fn.misconceptions}
    planted = _planted_in_tests(case) | _planted_in_fixtures(case)
    assert declared - planted == set(), f"declared but never planted: {sorted(declared - planted)}"
    assert planted - declared - {"raised", "timed_out", "unreadable"} == set(), \
        f"planted but not declared by any check: {sorted(planted - declared)}"
