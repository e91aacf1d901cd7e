"""Score each graded cell with nbgrader's own rule and explain it in one safe sentence.

A test cell's points come from ``nbgrader.utils.determine_grade`` on the outputs the verdict process
recorded. Its status and message come from the verdict (the check's sentence and misconception id) or, when
the answer cell the test grades is what went wrong, from that cell: not attempted, timed out, crashed, or the
class of the exception it raised and the learner's own line — never an exception's text, a hidden input or a
hidden test's code.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, field

from mlcasebook.grading.execute import CRASHED, TIMED_OUT, Run
from mlcasebook.grading.rebuild import grade_id, nbgrader_meta

PASSED, FAILED, ERROR, NOT_ATTEMPTED, MANUAL = "passed", "failed", "error", "not attempted", "manual"
_LOG = logging.getLogger("mlcasebook.grading")


@dataclass
class Part:
    grade_id: str
    points: float | None
    max_points: float
    status: str
    message: str
    misconception: str | None = None


@dataclass
class Report:
    notebook: str
    source: str
    score: float
    max_score: float
    parts: list[Part]
    notes: list[str] = field(default_factory=list)
    manual_points: float = 0.0
    seconds: float = 0.0
    sandbox: str = ""

    def to_json(self) -> dict:
        return {
            "notebook": self.notebook,
            "source": self.source,
            "score": self.score,
            "max_score": self.max_score,
            "parts": [asdict(p) for p in self.parts],
            "notes": self.notes,
            "sandbox": self.sandbox,
        }


def _error(cell) -> tuple[str, str] | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename", ""), " ".join(str(out.get("evalue", "")).split())
    return None


def _learner_line(cell) -> str:
    """``(line N: `code`)`` of the learner's own cell, from its traceback, without the exception's text."""
    import re

    for out in cell.get("outputs", []):
        if out.get("output_type") != "error":
            continue
        for frame in reversed(out.get("traceback", [])):
            plain = re.sub(r"\x1b\[[0-9;]*m", "", frame)
            match = re.search(r"^(?:-*>|\s*)\s*(\d+)\s(.*)$", plain, re.M)
            marked = re.search(r"^-+>\s*(\d+)\s(.*)$", plain, re.M)
            match = marked or match
            if match and ("Cell In[" in plain or "Input In" in plain or "ipykernel" in plain):
                return f" (line {match.group(1)}: `{match.group(2).strip()[:100]}`)"
    return ""


def answer_status(cell, index: int, run: Run, timeout: float) -> tuple[str, str, str | None] | None:
    """Explain a failing test through its answer cell, if that cell is what went wrong."""
    gid = grade_id(cell)
    if run.replaced.get(index) == TIMED_OUT:
        return TIMED_OUT, f"Your cell {gid} ran longer than the {timeout:g} s limit and was stopped; look for an endless loop.", "timed_out"
    if run.replaced.get(index) == CRASHED:
        return ERROR, f"Your cell {gid} crashed the Python kernel (it exited or ran out of memory); it was skipped.", "crashed"
    err = _error(cell)
    if err is None:
        return None
    ename, evalue = err
    if ename == "DataFileError" and "git checkout -- data/" in evalue:  # the course's own message: safe to quote
        return ERROR, f"Your cell {gid} could not load its data: {evalue[:300]}", "missing_data"
    if ename == "NotImplementedError":
        return NOT_ATTEMPTED, f"Not attempted yet: replace `raise NotImplementedError()` in cell {gid} with your answer.", None
    return ERROR, f"Your cell {gid} raised {ename}{_learner_line(cell)}; fix it and run it again.", "raised"


def score(nb, run: Run, timeout: float) -> list[Part]:
    from nbgrader.utils import determine_grade  # nbgrader's own scoring rule

    answers = {grade_id(c): (i, c) for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("solution")}
    parts = []
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if not meta.get("grade"):
            continue
        gid, max_points = meta["grade_id"], float(meta.get("points", 0) or 0)
        if meta.get("solution"):  # a written answer graded by hand
            written = cell.source.strip() not in ("", "YOUR ANSWER HERE")
            parts.append(Part(gid, None, max_points, MANUAL if written else NOT_ATTEMPTED,
                              "Graded by hand in a cohort; compare your answer with the rubric headings." if written
                              else "Not attempted yet: write your answer in this cell."))
            continue
        if run.replaced.get(index) in (TIMED_OUT, CRASHED):
            why = run.replaced[index]
            message = (f"This part's hidden test ran longer than the {timeout:g} s limit while using your code, and was stopped."
                       if why == TIMED_OUT else "Your code crashed the Python kernel while this part's hidden test used it.")
            parts.append(Part(gid, 0.0, max_points, TIMED_OUT if why == TIMED_OUT else ERROR, message,
                              "timed_out" if why == TIMED_OUT else "crashed"))
            continue
        scored = copy.deepcopy(cell)  # stderr noise never costs points
        scored.outputs = [o for o in scored.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        points, _ = determine_grade(scored, _LOG)
        points = max(0.0, min(float(points or 0.0), max_points))
        verdict = run.verdicts.get(index, {})
        if points >= max_points:
            parts.append(Part(gid, points, max_points, PASSED, _passed_message(cell)))
            continue
        status, message, misconception = _explain(cell, verdict, _answer_for(gid, answers), run, timeout)
        parts.append(Part(gid, points, max_points, status, message, misconception))
    return parts


def _answer_for(test_id: str, answers: dict):
    """The answer cell a test grades: ``<answer>_test`` or ``<answer>_<aspect>_test`` (longest matching id)."""
    stem = test_id.removesuffix("_test")
    matches = [a for a in answers if stem == a or stem.startswith(a + "_")]
    return answers[max(matches, key=len)] if matches else None


def _passed_message(cell) -> str:
    for out in reversed(cell.get("outputs", [])):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            lines = [ln for ln in out.get("text", "").splitlines() if ln.startswith("✔")]
            if lines:
                return lines[-1].split(": ", 1)[-1]
    return ""


def _explain(cell, verdict: dict, answer, run: Run, timeout: float) -> tuple[str, str, str | None]:
    ename, evalue = _error(cell) or ("", "")
    if answer is not None:  # a broken or untouched answer cell is the root cause: say so first
        explained = answer_status(answer[1], answer[0], run, timeout)
        if explained:
            return explained
    misconception = verdict.get("misconception")
    message = verdict.get("message") or evalue
    if ename == "NotAttempted":
        return NOT_ATTEMPTED, message, None
    if ename == "NotImplementedError":
        return NOT_ATTEMPTED, "Not attempted yet: a function this part calls still raises NotImplementedError.", None
    if ename in ("CheckFailed", "AssertionError"):
        return FAILED, message or "A hidden test of this part failed.", misconception
    if ename:
        return ERROR, message or f"Running this part raised {ename}.", misconception
    return FAILED, "This part returned a partial score.", misconception
