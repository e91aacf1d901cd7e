"""The nbgrader plugin's pieces without running nbgrader: what test cells hold after autograde, and feedback."""

from __future__ import annotations

import nbformat
import pytest
from nbgrader.utils import determine_grade

from mlcasebook import authoring as A
from mlcasebook.grading.nbgrader_plugin import SafeFeedback, copy_back, verdict_outputs
from mlcasebook.grading.score import ERROR, FAILED, NOT_ATTEMPTED, PASSED, TIMED_OUT, Part


def graded(points=2, outputs=(), gid="q_test"):
    cell = A.test(gid, "assert q == 1, 'q is wrong'", points=points)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


ERR = {"output_type": "error", "ename": "CheckFailed", "evalue": "raw", "traceback": []}
STDERR = {"output_type": "stream", "name": "stderr", "text": "FutureWarning: noise\n"}
TICK = {"output_type": "stream", "name": "stdout", "text": "✔ q: fine\n"}


@pytest.mark.parametrize("executed,part,expected", [
    ([TICK, STDERR], Part("q_test", 2.0, 2.0, PASSED, "fine"), 2.0),          # stderr never costs points
    ([], Part("q_test", 2.0, 2.0, PASSED, ""), 2.0),
    ([ERR], Part("q_test", 0.0, 2.0, FAILED, "q is wrong", "m"), 0.0),
    ([], Part("q_test", 0.0, 2.0, TIMED_OUT, "ran longer than the limit"), 0.0),  # replaced test: no outputs
    ([], Part("q_test", 0.0, 2.0, ERROR, "crashed the Python kernel"), 0.0),
    ([ERR], Part("q_test", 0.0, 2.0, NOT_ATTEMPTED, "Not attempted yet: replace ..."), 0.0),
    ([{"output_type": "execute_result", "execution_count": None, "metadata": {}, "data": {"text/plain": "0.5"}}],
     Part("q_test", 0.5, 2.0, FAILED, "half of it"), 0.5),
])
def test_verdict_outputs_score_as_the_part_under_nbgrader(executed, part, expected):
    cell = graded(outputs=executed)
    cell.outputs = verdict_outputs(cell, part)
    nbformat.validate(A.notebook([cell]))
    assert determine_grade(cell)[0] == expected
    if expected < 2.0 and part.message:
        text = "".join(str(o.get("evalue", "")) + str(o.get("text", "")) for o in cell.outputs)
        assert part.message in text


def test_copy_back_keeps_nbgrader_cells_and_maps_by_id_and_source():
    answer = A.answer("q", "q = None\n### BEGIN SOLUTION\nq = 1\n### END SOLUTION")
    theirs = [A.md("intro"), A.code("print('mine')"), answer, graded(), A.code("x = 1")]
    for cell in theirs:
        cell.metadata.setdefault("nbgrader", {})
        if cell.metadata["nbgrader"]:
            cell.metadata["nbgrader"]["checksum"] = "abc"
    nb = A.notebook(theirs)
    executed = A.notebook([A.md("intro"), A.code("print('mine')"), A.answer("q", "q = 1\n### BEGIN SOLUTION\n### END SOLUTION"),
                           graded(outputs=[ERR]), A.code("x = 1")])
    executed.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="mine\n")]
    executed.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="answer\n")]
    copy_back(nb, executed, [Part("q_test", 0.0, 2.0, FAILED, "q is wrong", "m")])
    assert [c.outputs[0]["text"] for c in nb.cells[1:3]] == ["mine\n", "answer\n"]
    assert nb.cells[3].outputs[0]["evalue"] == "q is wrong" and determine_grade(nb.cells[3])[0] == 0
    assert nb.cells[3].metadata["nbgrader"]["checksum"] == "abc"  # nbgrader's metadata is kept
    assert nb.cells[4].outputs == []


def test_safe_feedback_hides_test_code_and_tracebacks():
    failed = graded(outputs=[{"output_type": "error", "ename": "CheckFailed", "evalue": "q is wrong",
                                 "traceback": ["Traceback (most recent call last)", "assert q == 1"]}])
    passed = graded(outputs=[TICK], gid="r_test")
    learner = A.code("1/0")
    learner.outputs = [nbformat.from_dict({"output_type": "error", "ename": "ZeroDivisionError",
                                           "evalue": "division by zero", "traceback": ["Traceback ...", "1/0"]})]
    nb = A.notebook([failed, passed, learner])
    nb, _ = SafeFeedback().preprocess(nb, {})
    assert "assert" not in nb.cells[0].source and "q_test" in nb.cells[0].source
    assert nb.cells[0].outputs[0]["text"] == "✘ q is wrong\n"
    assert nb.cells[1].outputs[0]["text"] == "✔ q: fine\n"
    assert nb.cells[2].outputs[0]["traceback"] == ["ZeroDivisionError: division by zero"]
