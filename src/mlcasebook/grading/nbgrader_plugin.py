"""nbgrader preprocessors: ``nbgrader autograde`` grades with the sandbox and the verdict process, feedback is safe.

:class:`SandboxedExecute` takes the place of ``nbgrader.preprocessors.Execute`` in
``c.Autograde.autograde_preprocessors`` (see ``nbgrader_config.py``). nbgrader has already cleared outputs,
restored locked and test cells from its gradebook and re-inserted deleted ones (``OverwriteCells``); this
preprocessor grades that notebook with :func:`mlcasebook.grading.grade_notebook` — learner cells in the
sandboxed kernel, which cannot see nbgrader's course folder or its gradebook, hidden tests in the verdict
process — and copies the outputs back cell by cell, keeping nbgrader's cells, their order and metadata. Each
test cell then holds outputs that ``nbgrader.utils.determine_grade`` (what ``SaveAutoGrades`` calls) scores
exactly as ``mlcasebook check`` does: an error output whose text is the part's one safe sentence when it
failed, a ``✔`` line when it passed.

:class:`SafeFeedback` runs in ``c.GenerateFeedback.preprocessors`` after ``ClearHiddenTests``: every test cell
shows a one-line placeholder instead of its code and the part's message instead of its outputs, and every
traceback is cut to its last line, so the feedback HTML never holds a hidden test's code or a traceback.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import stat
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, OverwriteCells, SaveAutoGrades
from traitlets import Bool, Integer, Unicode

from mlcasebook.grading.rebuild import TEST, grade_id, kind_of, nbgrader_meta
from mlcasebook.grading.sandbox import DEFAULT_MEMORY_MB, LIMITS, NAMESPACES, Limits, Sandbox
from mlcasebook.grading.score import NOT_ATTEMPTED, PASSED, TIMED_OUT

#: nbgrader's ``timeout = None`` or ``-1`` (no limit) still gets one: a stuck cell must not hold the grader forever
NO_LIMIT_TIMEOUT = 3600.0
MAX_EXTRA_FILE_BYTES = 50 * 2**20

_ENAME = {TIMED_OUT: "TimedOut", NOT_ATTEMPTED: "NotAttempted"}


class SandboxUnavailable(RuntimeError):
    """This machine cannot hide the course from the learner's code, and weaker isolation was not allowed."""


def _stdout(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _error(ename: str, message: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def _first_error(outputs) -> tuple[str, str] | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return str(out.get("ename", "")), str(out.get("evalue", ""))
    return None


def verdict_outputs(executed_cell, part) -> list:
    """The outputs a test cell keeps in nbgrader: what ``determine_grade`` must score as ``part.points``."""
    kept = [copy.deepcopy(o) for o in executed_cell.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stdout"]
    kept = [o for o in kept if o.get("text", "").strip()]
    points, max_points = float(part.points or 0.0), float(part.max_points)
    if part.status == PASSED and points >= max_points:
        return kept or [_stdout(f"✔ {part.message or 'This part passed.'}\n")]
    found = _first_error(executed_cell.get("outputs", []))
    ename = found[0] if found and found[0] else _ENAME.get(part.status, "Failed")
    message = part.message or (found[1] if found else "") or "This part did not pass."
    if points <= 0:
        return [*kept, _error(ename, message)]
    # partial credit: determine_grade reads a number from the first execute_result
    return [*kept, _stdout(f"✘ {message}\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": repr(points)}, execution_count=None)]


def copy_back(nb, executed, parts, log=None) -> None:
    """Put the executed outputs into nbgrader's notebook ``nb``: by grade id for graded and locked cells, in order
    and by source for the rest. nbgrader's cells, order and metadata are kept."""
    from nbgrader.utils import determine_grade, is_grade, is_solution

    by_part = {p.grade_id: p for p in parts}
    by_id = {grade_id(c): c for c in executed.cells if grade_id(c)}
    free = [c for c in executed.cells if c.cell_type == "code" and not grade_id(c)]
    position = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        match = by_id.get(gid) if gid else None
        if match is None and not gid:
            for offset, candidate in enumerate(free[position:]):
                if candidate.source == cell.source:
                    match, position = candidate, position + offset + 1
                    break
        if match is None:
            cell.outputs, cell.execution_count = [], None
            continue
        part = by_part.get(gid) if gid else None
        if part is not None and kind_of(match) == TEST and is_grade(cell) and not is_solution(cell):
            cell.outputs = verdict_outputs(match, part)
            cell.execution_count = None
            points, _ = determine_grade(cell, log)
            if log is not None and not math.isclose(float(points or 0.0), float(part.points or 0.0)):
                log.warning("%s: nbgrader scores %s, the grader %s", gid, points, part.points)
        else:
            cell.outputs = [nbformat.from_dict(copy.deepcopy(o)) for o in match.get("outputs", [])]
            cell.execution_count = match.get("execution_count")


def _coursedir(pre):
    """nbgrader's CourseDirectory of the running converter (the exporter's parent), or one built from config."""
    node = pre
    while node is not None:
        found = getattr(node, "coursedir", None)
        if found is not None:
            return found
        node = getattr(node, "parent", None)
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=pre.config)


def _sqlite_file(db_url: str) -> Path | None:
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        return None
    name = db_url[len(prefix):].split("?", 1)[0]
    if not name or name == ":memory:":
        return None
    path = Path(name)
    return path if path.is_absolute() else Path.cwd() / path


def _extra_files(folder: Path | None) -> Path | None:
    """A copy of the regular files next to the submission (no links, no notebooks, none too large)."""
    if folder is None or not folder.is_dir():
        return None
    dest = Path(tempfile.mkdtemp(prefix="mlcasebook-files-"))
    for item in folder.iterdir():
        try:
            info = item.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or item.suffix == ".ipynb" or info.st_size > MAX_EXTRA_FILE_BYTES:
            continue
        try:
            fd = os.open(item, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as src, open(dest / item.name, "wb") as out:
            shutil.copyfileobj(src, out)
    return dest


class SandboxedExecute(Execute):
    """Replaces nbgrader's ``Execute``: runs the submission in the grading sandbox and scores it with the verdict
    process. ``timeout`` (per cell) comes from ``c.ExecutePreprocessor.timeout`` like nbgrader's own."""

    memory_mb = Integer(DEFAULT_MEMORY_MB, help="Memory limit of the learner's kernel, in MB.").tag(config=True)
    sandbox = Unicode("", help=("Sandbox mechanism: '' (the strongest this machine allows), 'namespaces' or "
                                "'limits' (resource limits only; course files not hidden).")).tag(config=True)
    allow_weak_sandbox = Bool(False, help=(
        "Grade even when this machine forbids namespaces, so the learner's code could read the course folder "
        "and the gradebook. Off by default: autograding then stops with an error.")).tag(config=True)

    def _timeout(self) -> float:
        value = self.timeout
        if value is None or value <= 0:
            return NO_LIMIT_TIMEOUT
        return float(value)

    def _check_isolation(self) -> None:
        wanted = self.sandbox or None
        box = Sandbox.choose(Path(tempfile.gettempdir()), Limits(), wanted)
        explicit = (wanted or os.environ.get("MLCASEBOOK_SANDBOX")) == LIMITS
        if box.mechanism != NAMESPACES and not explicit and not self.allow_weak_sandbox:
            raise SandboxUnavailable(
                f"cannot hide the course and gradebook from submissions on this machine ({box.why_weaker}); "
                "fix that, or accept weaker isolation with --SandboxedExecute.allow_weak_sandbox=True "
                "(or MLCASEBOOK_SANDBOX=limits).")

    def _compare_with_gradebook(self, nb, source: Path, student) -> None:
        """Tests are graded from ``source``; say so if it changed since ``generate_assignment`` stored its copy."""
        stored = {grade_id(c): c.source for c in nb.cells if grade_id(c) and kind_of(c) == TEST}
        current = {grade_id(c): c.source for c in nbformat.read(source, as_version=4).cells
                   if grade_id(c) and kind_of(c) == TEST}
        changed = sorted(g for g in stored.keys() & current.keys() if stored[g] != current[g])
        if changed:
            self.log.warning("%s: test cells %s differ between %s and the gradebook; graded with %s (run "
                             "`nbgrader generate_assignment` again to update the gradebook)", student,
                             ", ".join(changed), source, source)

    def preprocess(self, nb, resources, retries=None):
        from mlcasebook.grading import grade_notebook

        info = resources.get("nbgrader", {})
        coursedir = _coursedir(self)
        assignment, notebook = info["assignment"], info["notebook"]
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment)) / f"{notebook}.ipynb"
        if not source.is_file():
            raise FileNotFoundError(f"no source notebook {source} for {assignment}/{notebook}")
        self._check_isolation()
        self._compare_with_gradebook(nb, source, info.get("student"))
        hide = [Path(coursedir.root).resolve(), source.parent.parent.resolve()]
        db = _sqlite_file(info.get("db_url") or coursedir.db_url)
        if db is not None:
            hide.append(db.resolve().parent)
        extra = _extra_files(Path(resources.get("metadata", {}).get("path") or "."))
        try:
            executed, parts, notes, mechanism = grade_notebook(
                copy.deepcopy(nb), source, timeout=self._timeout(), memory_mb=self.memory_mb,
                sandbox_kind=self.sandbox or None, workdir=extra, hide=tuple(str(h) for h in hide))
        finally:
            if extra is not None:
                shutil.rmtree(extra, ignore_errors=True)
        for note in notes:
            self.log.warning("%s/%s: %s", info.get("student"), notebook, note)
        copy_back(nb, executed, parts, self.log)
        resources.setdefault("mlcasebook", {})["sandbox"] = mechanism
        auto = [p for p in parts if p.points is not None]
        self.log.info("%s/%s graded in the %s sandbox: %s/%s auto-graded points", info.get("student"), notebook,
                      mechanism, round(sum(p.points for p in auto), 2), sum(p.max_points for p in auto))
        return nb, resources


PLACEHOLDER = "# Hidden test for part {gid} ({points}): its code is not shown; its result is below."


def feedback_lines(cell) -> list[str]:
    """The part's message, from the outputs :class:`SandboxedExecute` recorded (never a traceback)."""
    lines = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "error":
            message = " ".join(str(out.get("evalue", "")).split()) or "This part did not pass."
            lines.append(f"✘ {message}")
        elif kind == "stream" and out.get("name") == "stdout":
            lines += [ln.strip() for ln in out.get("text", "").splitlines() if ln.strip().startswith(("✔", "✘"))]
        elif kind == "execute_result":
            lines.append(f"Partial credit: {out.get('data', {}).get('text/plain', '')} points.")
    if not any(ln.startswith("✘") for ln in lines) and not any(ln.startswith("✔") for ln in lines):
        lines.insert(0, "✔ This part passed.")
    return lines


def one_line(out) -> str:
    ename, evalue = str(out.get("ename", "")), " ".join(str(out.get("evalue", "")).split())
    return f"{ename}: {evalue}" if evalue else ename


class SafeFeedback(NbGraderPreprocessor):
    """Feedback without hidden tests: each test cell shows a placeholder and its part's message; tracebacks are cut."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            points = float(meta.get("points", 0) or 0)
            cell.source = PLACEHOLDER.format(gid=meta.get("grade_id", "?"),
                                             points=f"{points:g} point" + ("" if points == 1 else "s"))
            cell.outputs = [_stdout("\n".join(feedback_lines(cell)) + "\n")]
            cell.execution_count = None
            return cell, resources
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [one_line(out)]
        return cell, resources


def released_source(source: str) -> str:
    """A cell's source as ``generate_assignment`` releases it: hidden tests and mark schemes removed."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme

    cell = nbformat.v4.new_markdown_cell(source)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    ClearMarkScheme()._remove_mark_scheme_region(cell)
    return cell.source


class ReleasedCellsAreUnchanged(OverwriteCells):
    """nbgrader's ``OverwriteCells`` without its false alarm (jupyter/nbgrader#1961).

    nbgrader stores each locked cell's checksum as it is in the source, hidden tests and mark scheme included, then
    compares it with the submitted cell, which never holds them: every untouched test cell was reported as
    "checksum has changed". A locked cell whose submitted source is exactly the released one is restored from the
    gradebook without that warning; a cell the learner did edit is still reported and restored, as before."""

    def preprocess_cell(self, cell, resources, cell_index):
        gid = nbgrader_meta(cell).get("grade_id")
        if gid and nbgrader_meta(cell).get("locked"):
            try:
                stored = self.gradebook.find_source_cell(gid, self.notebook_id, self.assignment_id)
            except Exception:  # a cell the gradebook does not know: nbgrader's own handling says so
                stored = None
            if stored is not None and stored.locked and cell.source == released_source(stored.source):
                cell.source = stored.source
        return super().preprocess_cell(cell, resources, cell_index)


class SaveGrades(SaveAutoGrades):
    """nbgrader's ``SaveAutoGrades``, except that a 0-point task (the follow-up questions, a rubric) is scored 0 of 0
    instead of waiting for a grader: nbgrader saves no score for a task cell, so its grade keeps the gradebook's
    default "needs manual grade" and every submission, even a blank one, waited for a grader."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        meta = nbgrader_meta(cell)
        if meta.get("task") and float(meta.get("points", 0) or 0) == 0:
            grade = self.gradebook.find_grade(meta["grade_id"], self.notebook_id, self.assignment_id, self.student_id)
            grade.auto_score = 0.0
            grade.needs_manual_grade = grade.manual_score is not None
            self.gradebook.db.commit()
        return cell, resources
