"""notebooks/ is exactly what solutions/ generates, and no solution, hidden test or mark scheme leaks into it."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from mlcasebook import curriculum, release

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [case.source(ROOT) for case in curriculum.cases(ROOT)]
pytestmark = pytest.mark.slow


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@pytest.fixture(scope="module")
def generated():
    return release.generate()


def test_every_source_has_a_committed_release_equal_to_what_it_generates(generated):
    committed = sorted((ROOT / "notebooks").glob("*/*.ipynb"))
    assert sorted(generated) == committed, "run `make release` and commit notebooks/"
    stale = [str(p.relative_to(ROOT)) for p, text in generated.items() if p.read_text() != text]
    assert not stale, f"out of date (run `make release`): {stale}"


def _solution_lines(source: nbformat.NotebookNode) -> set[str]:
    inside, outside = set(), set()
    for cell in source.cells:
        region = None
        for line in cell.source.splitlines():
            text = line.strip()
            if re.match(r"### BEGIN (SOLUTION|HIDDEN TESTS|MARK SCHEME)", text):
                region = True
                continue
            if re.match(r"### END (SOLUTION|HIDDEN TESTS|MARK SCHEME)", text):
                region = None
                continue
            (inside if region else outside).add(text)
    return {line for line in inside - outside if len(line) > 15}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_release_hides_solutions_hidden_tests_and_mark_schemes(source):
    rel = ROOT / "notebooks" / source.parent.name / source.name
    text = rel.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME"):
        assert marker not in text
    nb = nbformat.read(rel, as_version=4)
    released_lines = {line.strip() for c in nb.cells for line in c.source.splitlines()}
    leaked = sorted(_solution_lines(nbformat.read(source, as_version=4)) & released_lines)
    assert not leaked, leaked[:5]
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "release carries outputs"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_source_follows_the_grading_conventions(source):
    nb = nbformat.read(source, as_version=4)
    ids = [_gid(c) for c in nb.cells if _gid(c)]
    assert len(ids) == len(set(ids)), "duplicate grade ids"
    assert all(re.fullmatch(r"[a-z0-9_]+", i) for i in ids)
    answers = {_gid(c) for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}
    graded_code = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded_code) >= 5, "a case study has at least five auto-graded parts"
    for cell in graded_code:
        gid = _gid(cell)
        stem = gid.removesuffix("_test")
        assert gid.endswith("_test") and any(stem == a or stem.startswith(a + "_") for a in answers), \
            f"{gid} is not named <answer>_test or <answer>_<aspect>_test"
        assert cell.metadata["nbgrader"].get("locked"), f"{gid} is not locked"
        assert "BEGIN HIDDEN TESTS" in cell.source, f"{gid} has no hidden test"
        assert "quiet()" in cell.source or "catch_warnings" in cell.source, f"{gid} does not silence warnings"
        last = cell.source.strip().splitlines()[-1].strip()
        assert not re.fullmatch(r"[-+.\d\s()]+", last), f"{gid} ends with a bare number (read as partial credit)"
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            assert "raises-exception" in cell.metadata.get("tags", []), f"{_gid(cell)} lacks the raises-exception tag"
    markdown_answers = [c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]
    assert markdown_answers, "the notebook ends with a written interview answer"
