"""Grade a learner's notebook against its source in solutions/, without touching the learner's file (the entry points).

1. :mod:`~mlcasebook.grading.read` reads the notebook without trusting it and finds its case by graded ids;
2. :mod:`~mlcasebook.grading.rebuild` restores locked and test cells from solutions/ and says what it repaired;
3. :mod:`~mlcasebook.grading.execute` runs learner cells in a sandboxed kernel (:mod:`~mlcasebook.grading.sandbox`)
   and hidden tests in the verdict process (:mod:`~mlcasebook.grading.verdict`), which reaches learner objects
   only through :mod:`~mlcasebook.grading.channel`; time-outs and crashes are replayed, never read past;
4. :mod:`~mlcasebook.grading.score` scores each test cell with nbgrader's own ``determine_grade`` and explains it
   with the check's one sentence and misconception id, never with hidden code, inputs or tracebacks.
"""

from __future__ import annotations

import importlib
import math
import shutil
import threading
import time
from pathlib import Path

import nbformat

from mlcasebook import paths
from mlcasebook.grading.execute import GradingAborted, Verdict, execute
from mlcasebook.grading.read import GradingInputError, find_source, read_notebook, release_of
from mlcasebook.grading.rebuild import rebuild, setup_source
from mlcasebook.grading.sandbox import DEFAULT_MEMORY_MB, Limits, Sandbox, scratch
from mlcasebook.grading.score import ERROR, FAILED, MANUAL, NOT_ATTEMPTED, PASSED, TIMED_OUT, Part, Report, score

DEFAULT_TIMEOUT = 60.0

__all__ = ["grade", "grade_notebook", "Report", "Part", "GradingInputError", "GradingAborted", "DEFAULT_TIMEOUT",
           "DEFAULT_MEMORY_MB", "PASSED", "FAILED", "ERROR", "TIMED_OUT", "NOT_ATTEMPTED", "MANUAL"]

_announced: set[str] = set()


def check_timeout(timeout) -> float:
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise GradingInputError(f"--timeout must be a positive number of seconds, not {timeout!r}.")
    return value


def grade_notebook(nb: nbformat.NotebookNode, source_path: Path, *, timeout: float = DEFAULT_TIMEOUT,
                   memory_mb: int = DEFAULT_MEMORY_MB, sandbox_kind: str | None = None,
                   workdir: Path | None = None, hide=(), source_nb=None, release_nb=None,
                   ) -> tuple[nbformat.NotebookNode, list, list[str], str]:
    """Grade an already read learner notebook against ``source_path``.

    Returns the executed notebook (test cells hold the verdict outputs nbgrader scores), the parts, the notes,
    and the sandbox mechanism used. Shared by ``mlcasebook check`` and the nbgrader preprocessor, which passes
    in ``hide`` the folders the sandbox must also hide (nbgrader's course root and gradebook). ``source_nb`` and
    ``release_nb``, when given, are used instead of reading ``source_path`` and its release (``mlcasebook
    autograde`` sends them with each submission, so a Dask worker grades exactly the instructor's version).
    """
    timeout = check_timeout(timeout)
    # nbgrader's scoring rule is needed only at the end; its import (~1.5 s) overlaps the notebook's execution
    threading.Thread(target=importlib.import_module, args=("nbgrader.utils",), daemon=True).start()
    source = source_nb if source_nb is not None else nbformat.read(source_path, as_version=4)
    if release_nb is not None or source_path is None:  # a task of `mlcasebook autograde` carries its release
        release = release_nb
    else:
        release_path = release_of(source_path)
        release = nbformat.read(release_path, as_version=4) if release_path.is_file() else None
    rebuilt, notes = rebuild(source, nb, release)
    base = scratch()
    verdict = None
    try:
        work = base / "work"
        work.mkdir()
        if workdir is not None:  # nbgrader: files next to the submission (none are needed by our notebooks)
            for item in workdir.iterdir():
                if item.is_file() and item.suffix != ".ipynb":
                    shutil.copy(item, work / item.name)
        n_code = sum(1 for c in rebuilt.cells if c.cell_type == "code")
        limits = Limits(memory_mb=memory_mb, cpu_seconds=int(min(6 * 3600, 60 + 3 * timeout * max(1, n_code))))
        box = Sandbox.choose(work, limits, sandbox_kind, hide)
        box.prepare()
        verdict = Verdict(setup_source(source), base, memory_mb=max(4096, 2 * memory_mb))
        executed, run = execute(rebuilt, timeout, box, verdict)
        notice = box.notice()
        if notice and notice not in _announced:  # said once per process, in one line
            _announced.add(notice)
            notes.append(notice)
    finally:
        if verdict is not None:
            verdict.stop()
        shutil.rmtree(base, ignore_errors=True)
    parts = score(executed, run, timeout)
    if run.truncated:
        notes.append(f"{len(run.truncated)} cell(s) printed more than 1 MB; the rest of their output was dropped.")
    return executed, parts, notes, box.mechanism


def grade(path: str | Path, *, timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB,
          sandbox_kind: str | None = None) -> Report:
    """Grade a copy of the notebook at ``path``; the file itself is only read."""
    started = time.monotonic()
    timeout = check_timeout(timeout)
    path = Path(path).expanduser()
    learner = read_notebook(path)
    source_path, note = find_source(learner, path)
    _executed, parts, notes, mechanism = grade_notebook(learner, source_path, timeout=timeout, memory_mb=memory_mb,
                                                        sandbox_kind=sandbox_kind)
    if note:
        notes.insert(0, note)
    auto = [p for p in parts if p.points is not None]  # written answers (points None) are graded by hand
    return Report(
        notebook=str(path),
        source=str(source_path.relative_to(paths.course_root())),
        score=round(sum(p.points or 0.0 for p in auto), 2),
        max_score=sum(p.max_points for p in auto),
        parts=parts,
        notes=notes,
        manual_points=sum(p.max_points for p in parts if p.points is None),
        seconds=round(time.monotonic() - started, 2),
        sandbox=mechanism,
    )

