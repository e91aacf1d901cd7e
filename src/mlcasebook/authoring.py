"""Build solution notebooks with correct nbgrader metadata (for course authors).

A solution notebook is a list of cells made with these helpers, written once to
``solutions/<module>/<case>.ipynb`` and edited in JupyterLab from then on:

>>> nb = notebook([md("# Title"), setup("from mlcasebook import checks"),
...                answer("case_metric", "metric = None\\n### BEGIN SOLUTION\\nmetric = 'ap'\\n### END SOLUTION"),
...                public_check("case_metric_check", "checks.case.metric_choice(metric)"),
...                test("case_metric_test", "checks.case.metric_choice(metric).require()", points=1)])
>>> [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
['setup', 'case_metric', 'case_metric_check', 'case_metric_test']

Answer cells carry the ``raises-exception`` tag (their release stub raises), so nbval can run
the release; tags survive ``nbgrader generate_assignment``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

_ID = re.compile(r"^[a-z0-9_]+$")
#: a markdown heading line (nbgrader's region markers, "### BEGIN SOLUTION" and the like, are not headings)
HEADING = re.compile(r"^#{1,6} (?!(BEGIN|END) (SOLUTION|MARK SCHEME|HIDDEN TESTS))")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
HIDDEN_NOTE = "# Hidden tests for this part run when you use `mlcasebook check` (or when your instructor grades)."


def _meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None, task=False) -> dict:
    if not _ID.match(grade_id):
        raise ValueError(f"grade_id {grade_id!r} must be snake_case ([a-z0-9_]+)")
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if task:
        meta["task"] = True
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text: str):
    """Narrative markdown, not part of grading."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(source: str):
    """An ordinary code cell the learner may edit or re-run (demonstrations, plots)."""
    return nbformat.v4.new_code_cell(source.strip("\n"))


def setup(source: str, grade_id: str = "setup"):
    """The locked setup cell: imports and the seed."""
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=_meta(grade_id, locked=True))


def locked(grade_id: str, source: str):
    """A read-only code cell (data loading, public checks)."""
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=_meta(grade_id, locked=True))


def answer(grade_id: str, source: str):
    """An autograded answer cell: the solution between ### BEGIN/END SOLUTION."""
    if "### BEGIN SOLUTION" not in source:
        raise ValueError(f"answer cell {grade_id} has no ### BEGIN SOLUTION region")
    cell = nbformat.v4.new_code_cell(source.strip("\n"), metadata=_meta(grade_id, solution=True))
    cell.metadata["tags"] = ["raises-exception"]
    return cell


def public_check(grade_id: str, source: str):
    """A locked cell that displays a check's result; it never raises."""
    return locked(grade_id, source)


def test(grade_id: str, hidden: str, *, points: int, visible: str = ""):
    """A locked, graded test cell; ``hidden`` is wrapped in ### BEGIN/END HIDDEN TESTS."""
    if not grade_id.endswith("_test"):
        raise ValueError(f"test cell id {grade_id} must end with _test")
    body = "\n".join(
        part for part in (HIDDEN_NOTE, visible.strip("\n"), "### BEGIN HIDDEN TESTS", hidden.strip("\n"),
                          "### END HIDDEN TESTS") if part
    )
    return nbformat.v4.new_code_cell(body, metadata=_meta(grade_id, grade=True, locked=True, points=points))


def written(grade_id: str, model_answer: str, *, points: int):
    """A manually graded markdown answer; the model answer is stripped from the release."""
    source = f"### BEGIN SOLUTION\n{model_answer.strip()}\n### END SOLUTION"
    return nbformat.v4.new_markdown_cell(source, metadata=_meta(grade_id, solution=True, grade=True, points=points))


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]
    ids = [i for i in ids if i]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate grade ids: {sorted(dupes)}")
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs of regenerated notebooks small
        cell["id"] = f"c{i:03d}"
    nbformat.validate(nb)
    return nb


def write(nb: nbformat.NotebookNode, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def followups(grade_id: str, questions: list[str], model_answers: list[str]):
    """Follow-up questions an interviewer asks next; the model answers stay in solutions/ only.

    An nbgrader task cell worth 0 points: the release keeps the questions, and nbgrader strips the
    model answers (a MARK SCHEME region) from the release and from feedback.
    """
    if len(questions) != len(model_answers):
        raise ValueError("one model answer per follow-up question")
    asked = "\n".join(f"{i}. {q}" for i, q in enumerate(questions, 1))
    answered = "\n".join(f"{i}. {a}" for i, a in enumerate(model_answers, 1))
    source = (f"## Follow-up questions\n\nAnswer each out loud (or in a cell of your own) before you move on.\n\n{asked}\n\n"
              f"### BEGIN MARK SCHEME\n**Model answers**\n\n{answered}\n### END MARK SCHEME")
    return nbformat.v4.new_markdown_cell(source, metadata=_meta(grade_id, locked=True, task=True, points=0))
