"""Inside the grading sandbox ``mlcasebook.checks`` is a stub with public facts only (mlcasebook.cases).

Every fact the learner-side cells of a notebook read from ``checks`` must be public, or the graded copy breaks;
no reference answer may be public, or a learner's code could import it while graded.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import nbformat
import pytest

from mlcasebook import curriculum
from mlcasebook.grading import public_checks
from mlcasebook.grading.rebuild import ANSWER, KERNEL, kind_of

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [case.source(ROOT) for case in curriculum.cases(ROOT)]


def _facts_used(source: str) -> set[tuple[str, str]]:
    used = set()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "checks"):
            used.add((node.value.attr, node.attr))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlcasebook.checks."):
            used.update((node.module.rsplit(".", 1)[1], alias.name) for alias in node.names)
    return used


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_learner_side_cells_read_only_public_facts(source):
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if kind_of(cell) not in (KERNEL, ANSWER):
            continue
        for module, name in _facts_used(cell.source):
            if module not in public_checks.CHECK_MODULES:
                continue
            case = importlib.import_module(f"mlcasebook.cases.{module}")
            assert name in case.__all__, f"{source.stem}: checks.{module}.{name} is not a public fact in mlcasebook.cases"


@pytest.mark.parametrize("answer", ["PROFIT_THRESHOLD", "reference_sample_size", "DECISION_CHOICES",
                                    "optimal_threshold", "DEGREE_BAND"])
def test_no_reference_answer_is_public(answer):
    for module in public_checks.CHECK_MODULES:
        try:
            case = importlib.import_module(f"mlcasebook.cases.{module}")
        except ImportError:
            continue
        assert answer not in vars(case), f"mlcasebook.cases.{module} exposes {answer}"


def test_stub_modules_import_and_stand_in_for_checks(tmp_path, monkeypatch):
    """The stub package imports, carries every public fact of mlcasebook.cases and answers any check with a skip."""
    package = "mlcasebook_checks_stub"
    stub = tmp_path / package
    stub.mkdir()
    for name, text in public_checks.stub_modules().items():
        (stub / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        checks = importlib.import_module(package)
        for module in public_checks.CHECK_MODULES:
            part = getattr(checks, module)
            try:
                case = importlib.import_module(f"mlcasebook.cases.{module}")
            except ImportError:
                continue
            for fact in case.__all__:
                assert getattr(part, fact) is getattr(case, fact), f"stub checks.{module}.{fact} is not the public fact"
        assert checks.churn.VALUE == 500.0 and checks.bias_variance.DEGREES is not None
        result = checks.metrics.metric_choice("accuracy")
        assert isinstance(result, public_checks.SkippedCheck)
        assert result.passed and "do not run in a graded copy" in repr(result)
        assert isinstance(checks.churn.PROFIT_THRESHOLD(), public_checks.SkippedCheck)  # no reference answer
        assert checks.quiet is public_checks.quiet
    finally:
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
