"""The anatomy every course notebook shares (CONVENTIONS.md): checked on the source and the release.

Rules about the text (dollar signs, headings, stubs, names the text refers to) live in test_notebook_lint.py.
"""

from __future__ import annotations

import nbformat
import pytest

from mlcasebook import curriculum
from notebook_fixtures import ROOT

NOTEBOOKS = [p for case in curriculum.cases(ROOT) for p in (case.source(ROOT), case.release(ROOT))]
SKIPPING_TAGS = {"nbval-skip", "skip-execution"}


def _ids(path):
    return f"{path.parent.parent.name}/{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_every_demo_cell_runs_under_nbval(path):
    """No cell is skipped. In the source only answer cells may raise (nbval runs every demo cell strictly there);
    in the release, a demo cell may also raise when it uses a name an answer cell defines (added by `release`)."""
    nb = nbformat.read(path, as_version=4)
    is_source = path.is_relative_to(ROOT / "solutions")
    bad = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        is_answer = cell.metadata.get("nbgrader", {}).get("solution", False)
        if tags & SKIPPING_TAGS or ("raises-exception" in tags and not is_answer and is_source):
            bad.append((i, cell.metadata.get("nbgrader", {}).get("grade_id"), sorted(tags)))
    assert not bad, f"demo cells that nbval would not run, or may let fail: {bad}"


SOURCES = [case.source(ROOT) for case in curriculum.cases(ROOT)]


@pytest.mark.parametrize("path", SOURCES, ids=_ids)
def test_every_written_answer_has_its_rubric_where_the_formgrader_shows_it(path):
    """The question above a written answer is a 0-point task whose mark scheme holds the points rubric (summing to the
    answer's points) and the model answer; follow-ups are 0-point tasks too, so nothing blank waits for a grader."""
    import re

    nb = nbformat.read(path, as_version=4)
    written = 0
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("task"):
            assert float(meta.get("points", 0)) == 0, f"{meta['grade_id']}: a task with points waits for a grader"
        if cell.cell_type != "markdown" or not (meta.get("solution") and meta.get("grade")):
            continue
        written += 1
        question = nb.cells[index - 1]
        qmeta = question.metadata.get("nbgrader", {})
        assert qmeta.get("task") and qmeta.get("grade_id") == f"{meta['grade_id']}_rubric", meta["grade_id"]
        scheme = re.search(r"### BEGIN MARK SCHEME\n(.*?)### END MARK SCHEME", question.source, re.S)
        assert scheme, f"{meta['grade_id']}: no mark scheme above the answer"
        stated = re.search(r"\*\*Rubric \((\d+(?:\.\d+)?) points?\b", scheme.group(1))
        assert stated and float(stated.group(1)) == float(meta["points"]), f"{meta['grade_id']}: rubric points"
        assert len(scheme.group(1).split()) > 80, f"{meta['grade_id']}: the mark scheme holds no model answer"
    assert written, "every notebook ends with a written answer"
