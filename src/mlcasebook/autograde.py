"""``mlcasebook autograde ASSIGNMENT``: grade a cohort's submissions in parallel and fill nbgrader's gradebook.

Run at the course root, like ``nbgrader autograde``, with the same ``nbgrader_config.py``: it reads
``submitted/<student>/<assignment>/*.ipynb``, grades each notebook on Dask workers (:mod:`mlcasebook.grading.pool`)
exactly as ``mlcasebook check`` and nbgrader's ``SandboxedExecute`` do, then writes what ``nbgrader autograde`` would:
``autograded/<student>/<assignment>/`` (the notebook with nbgrader's cell metadata, hidden tests, mark schemes and
each test's verdict, plus the other submitted files) and the gradebook — the submission and its timestamp, every
cell's automatic score, which cells need a grader (written answers that were answered; nothing else), "No response."
on untouched answers, zero for a notebook not handed in. Formgrader, ``generate_feedback`` and ``export`` then work
unchanged.

A bad submission (corrupt file, a kernel that cannot start) is reported for its learner; the others are graded. A
rerun skips each notebook whose submission, source and release are unchanged since it was graded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

STATE = ".mlcasebook-autograde.json"
ENGINE = "1"  # bump when grading changes, so reruns regrade


class AutogradeError(RuntimeError):
    """The command cannot run as asked (no gradebook entry, no submissions, not a course folder)."""


@dataclass
class Outcome:
    student: str
    notebook: str
    status: str  # "graded" | "skipped" | "missing" | "error"
    score: float = 0.0
    max_score: float = 0.0
    manual: int = 0
    seconds: float = 0.0
    message: str = ""
    extra: dict = field(default_factory=dict)


def course(root: Path):
    """nbgrader's CourseDirectory for ``root``, configured from its ``nbgrader_config.py``."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from mlcasebook.release import _venv_on_path

    _venv_on_path()  # nbgrader's Gradebook runs the venv's `alembic`

    if not (root / "nbgrader_config.py").is_file():
        raise AutogradeError(f"{root} has no nbgrader_config.py: run `mlcasebook autograde` at the course root.")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(root)
    prefix = "sqlite:///"
    if coursedir.db_url.startswith(prefix) and not coursedir.db_url[len(prefix):].startswith("/"):
        coursedir.db_url = prefix + str(root / coursedir.db_url[len(prefix):])  # relative to the course, not the cwd
    return coursedir, config


def _digest(*texts: str) -> str:
    h = hashlib.sha256(ENGINE.encode())
    for text in texts:
        h.update(b"\0" + text.encode())
    return h.hexdigest()


def _released_text(coursedir, assignment: str, notebook: str, source_text: str) -> str | None:
    """The learner's release of this notebook: nbgrader's release folder, else the course's notebooks/."""
    for folder in (coursedir.release_directory, "notebooks"):
        path = Path(coursedir.format_path(folder, ".", assignment)) / f"{notebook}.ipynb"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def _submissions(coursedir, assignment: str, students: list[str] | None) -> dict[str, Path]:
    base = Path(coursedir.root) / coursedir.submitted_directory
    found = {p.parent.name: p for p in sorted(base.glob(f"*/{assignment}")) if p.is_dir()}
    if students:
        unknown = [s for s in students if s not in found]
        if unknown:
            raise AutogradeError(f"no submission of {assignment} for {', '.join(unknown)} in {base}/<student>/{assignment}/.")
        found = {s: found[s] for s in students}
    if not found:
        raise AutogradeError(f"no submissions of {assignment}: expected {base}/<student>/{assignment}/*.ipynb "
                             f"(`nbgrader collect {assignment}`, or copy them there).")
    return found


def plan(root: Path, assignment: str, students: list[str] | None = None):
    """What to grade: (coursedir, its config, {notebook: source text}, {student: folder})."""
    from nbgrader.api import Gradebook, MissingEntry

    coursedir, config = course(root)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            notebooks = [nb.name for nb in gb.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise AutogradeError(f"the gradebook has no assignment {assignment!r}: run `nbgrader generate_assignment "
                                 f"{assignment}` first.") from None
    sources = {}
    for name in notebooks:
        path = Path(coursedir.format_path(coursedir.source_directory, ".", assignment)) / f"{name}.ipynb"
        if not path.is_file():
            raise AutogradeError(f"the gradebook lists {assignment}/{name} but {path} does not exist.")
        sources[name] = path.read_text(encoding="utf-8")
    return coursedir, config, sources, _submissions(coursedir, assignment, students)


def _hidden_folders(coursedir) -> list[str]:
    from mlcasebook.grading.nbgrader_plugin import _sqlite_file

    hide = [str(Path(coursedir.root).resolve())]
    db = _sqlite_file(coursedir.db_url)
    if db is not None:
        hide.append(str(db.resolve().parent))
    return hide


def _dest(coursedir, student: str, assignment: str) -> Path:
    return Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))


def _load_state(dest: Path) -> dict:
    try:
        return json.loads((dest / STATE).read_text())
    except (OSError, ValueError):
        return {}


# ------------------------------------------------------------------ writing what nbgrader autograde writes

def _timestamp(coursedir, folder: Path):
    return coursedir.get_existing_timestamp(str(folder))


def _copy_other_files(folder: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for item in folder.iterdir():
        if item.is_file() and not item.is_symlink() and item.suffix != ".ipynb":
            shutil.copy(item, dest / item.name)


def _unchanged_answers(submission: nbformat.NotebookNode | None, release: nbformat.NotebookNode | None) -> set[str]:
    """Answer cells the learner left as released (nbgrader's "No response.")."""
    if submission is None or release is None:
        return set()
    given = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in release.cells}
    return {gid for c in submission.cells
            if (gid := c.metadata.get("nbgrader", {}).get("grade_id")) and c.metadata["nbgrader"].get("solution")
            and gid in given and c.source.strip() == given[gid].strip()}


def record(gb, coursedir, assignment: str, student: str, notebook: str, result: dict | None,
           unchanged: set[str], late=None) -> tuple[float, float, int, float | None]:
    """Write one notebook's grades as SaveAutoGrades (and :class:`~mlcasebook.grading.nbgrader_plugin.SaveGrades`)
    would, and its late penalty as ``late`` sets it; ``result`` None means not handed in (every grade 0, nothing to
    grade by hand). Returns score, max, manual, late penalty."""
    from nbgrader.api import TaskCell

    submitted = gb.find_submission_notebook(notebook, assignment, student)
    parts = {p["grade_id"]: p for p in (result or {}).get("parts", [])}
    for grade in submitted.grades:
        name = grade.name
        part = parts.get(name)
        if result is None:
            grade.auto_score, grade.needs_manual_grade = 0.0, False
        elif isinstance(grade.cell, TaskCell):  # a rubric or the follow-ups (0 points), or a graded task
            if float(grade.max_score) == 0:
                grade.auto_score, grade.needs_manual_grade = 0.0, grade.manual_score is not None
            else:
                grade.auto_score, grade.needs_manual_grade = None, True
        elif part is not None and part["points"] is None:  # a written answer
            answered = name not in unchanged and part["status"] != "not attempted"
            grade.auto_score = None if answered else 0.0
            grade.needs_manual_grade = answered or grade.manual_score is not None
        else:
            grade.auto_score = float(part["points"]) if part is not None else 0.0
            grade.needs_manual_grade = grade.manual_score is not None
    for comment in submitted.comments:
        comment.auto_comment = "No response." if comment.name in unchanged else None  # nbgrader: None when not handed in
    if late is not None:
        late(submitted)
    gb.db.commit()
    manual = sum(1 for g in submitted.grades if g.needs_manual_grade)
    return float(submitted.score), float(submitted.max_score), manual, submitted.late_submission_penalty


def late_penalties(config):
    """What nbgrader's ``AssignLatePenalties`` step does, with the plugin ``nbgrader_config.py`` names
    (``c.AssignLatePenalties.plugin_class``; nbgrader's default gives no penalty): a callable that sets one
    submitted notebook's ``late_submission_penalty`` from its submission's ``total_seconds_late``."""
    from nbgrader.preprocessors import AssignLatePenalties

    step = AssignLatePenalties(config=config)
    step.init_plugin()

    def assign(notebook) -> None:
        submission = notebook.assignment
        notebook.late_submission_penalty = None
        if submission.total_seconds_late > 0:
            penalty = step.plugin_inst.late_submission_penalty(submission.student.id, notebook.score,
                                                               submission.total_seconds_late)
            if penalty is not None:
                notebook.late_submission_penalty = step._check_late_penalty(notebook, penalty)

    return assign


def source_checksums(gb, assignment: str, notebook: str) -> dict[str, str]:
    """Each graded cell's checksum in the gradebook (the same for every student: read once per notebook, not once
    per cell and submission — 640 queries, 0.4 s, for 20 submissions, measured)."""
    return {cell.name: cell.checksum for cell in gb.find_notebook(notebook, assignment).source_cells}


def autograded_notebook(checksums: dict[str, str], executed_text: str) -> str:
    """The executed notebook with nbgrader's checksums on graded cells, as ``nbgrader autograde`` leaves it."""
    nb = nbformat.reads(executed_text, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta and meta.get("grade_id") in checksums:
            meta["checksum"] = checksums[meta["grade_id"]]
    return nbformat.writes(nb)


# ------------------------------------------------------------------ the run

class Progress:
    """One line on stderr, rewritten in place: a bar, done/total, the last notebook graded."""

    def __init__(self, total: int, stream=None):
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.started = time.monotonic()

    def step(self, label: str) -> None:
        self.done += 1
        width = 24
        filled = int(width * self.done / max(1, self.total))
        line = (f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"{time.monotonic() - self.started:5.1f} s  {label[:50]:<50}")
        self.stream.write(line)
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def run(root: Path, assignment: str, *, students: list[str] | None = None, workers: int | None = None,
        scheduler: str | None = None, timeout: float | None = None, memory_mb: int | None = None,
        force: bool = False, client=None, progress: bool = True) -> list[Outcome]:
    """Grade ``assignment`` for every (or the given) student; returns one outcome per (student, notebook)."""
    from mlcasebook.grading import pool
    from mlcasebook.grading.sandbox import DEFAULT_MEMORY_MB

    if client is None and not scheduler:
        pool.prestart()
    coursedir, config, sources, folders = plan(root, assignment, students)
    if timeout is None:
        configured = config.get("ExecutePreprocessor", {}).get("timeout", 120)
        timeout = float(configured) if configured and configured > 0 else 3600.0
    memory_mb = memory_mb or int(config.get("SandboxedExecute", {}).get("memory_mb", DEFAULT_MEMORY_MB))
    sandbox = config.get("SandboxedExecute", {}).get("sandbox", "") or None
    releases = {name: _released_text(coursedir, assignment, name, text) for name, text in sources.items()}
    hide = _hidden_folders(coursedir)

    outcomes: list[Outcome] = []
    tasks, state = [], {}
    for student, folder in folders.items():
        dest = _dest(coursedir, student, assignment)
        state[student] = _load_state(dest)
        for name, source_text in sources.items():
            path = folder / f"{name}.ipynb"
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            key = _digest(text, source_text, releases[name] or "")
            if not force and state[student].get(name) == key and (dest / f"{name}.ipynb").is_file():
                outcomes.append(Outcome(student, name, "skipped", message="unchanged since it was graded"))
                continue
            tasks.append(({"student": student, "notebook": name, "submission": text, "source": source_text,
                           "release": releases[name], "timeout": timeout, "memory_mb": memory_mb,
                           "sandbox": sandbox, "hide": hide}, key))

    own_client = client is None and bool(tasks)
    if own_client:
        client = pool.start(workers, scheduler, memory_mb)
    bar = Progress(len(tasks)) if progress and tasks else None
    results: dict[tuple[str, str], dict] = {}
    try:
        if tasks:
            from dask.distributed import as_completed

            futures = {client.submit(pool.grade_task, task, pure=False, key=f"grade-{task['student']}-{task['notebook']}-{i}"): task
                       for i, (task, _key) in enumerate(tasks)}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # a worker died (out of memory, killed): this learner only
                    result = {"student": task["student"], "notebook": task["notebook"],
                              "error": f"its worker stopped ({type(exc).__name__}: {str(exc)[:200]})"}
                results[(task["student"], task["notebook"])] = result
                if bar:
                    bar.step(f"{task['student']}/{task['notebook']}" + (" (error)" if "error" in result else ""))
    except BaseException:
        if own_client:
            _close(client)
        raise
    # the workers shut down (0.6 s, measured) while the gradebook is written
    closing = threading.Thread(target=_close, args=(client,)) if own_client else None
    if closing is not None:
        closing.start()
    try:
        return _write(coursedir, config, assignment, sources, releases, folders, tasks, results, state, outcomes)
    finally:
        if closing is not None:
            closing.join()


def _close(client) -> None:
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def _write(coursedir, config, assignment, sources, releases, folders, tasks, results, state, outcomes) -> list[Outcome]:
    """The gradebook, autograded/ and each student's rerun state, as ``nbgrader autograde`` leaves them."""
    from nbgrader.api import Gradebook

    keys = {(t["student"], t["notebook"]): k for t, k in tasks}
    late = late_penalties(config)
    checksums: dict[str, dict[str, str]] = {}
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for student, folder in folders.items():
            graded_here = [name for name in sources if (student, name) in results]
            if not graded_here and any(o.student == student for o in outcomes):
                continue  # every notebook unchanged: nothing to write
            gb.update_or_create_student(student)
            stamp = _timestamp(coursedir, folder)
            gb.update_or_create_submission(assignment, student, **({"timestamp": stamp} if stamp else {}))
            dest = _dest(coursedir, student, assignment)
            _copy_other_files(folder, dest)
            for name in sources:
                path = folder / f"{name}.ipynb"
                if not path.is_file():
                    score, top, _manual, _penalty = record(gb, coursedir, assignment, student, name, None, set(), late)
                    outcomes.append(Outcome(student, name, "missing", score, top, 0, 0.0, "not handed in: 0 points"))
                    continue
                result = results.get((student, name))
                if result is None:
                    continue  # skipped above
                if "error" in result:
                    outcomes.append(Outcome(student, name, "error", message=result["error"]))
                    state[student].pop(name, None)
                    continue
                release = nbformat.reads(releases[name], as_version=4) if releases[name] else None
                try:
                    submitted_nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
                except Exception:
                    submitted_nb = None
                unchanged = _unchanged_answers(submitted_nb, release)
                score, top, manual, penalty = record(gb, coursedir, assignment, student, name, result, unchanged, late)
                if name not in checksums:
                    checksums[name] = source_checksums(gb, assignment, name)
                (dest / f"{name}.ipynb").write_text(autograded_notebook(checksums[name], result["executed"]),
                                                    encoding="utf-8")
                state[student][name] = keys[(student, name)]
                notes = [*result.get("notes", []), *([f"late: {penalty:g} points off"] if penalty else [])]
                outcomes.append(Outcome(student, name, "graded", score, top, manual, result.get("seconds", 0.0),
                                        "; ".join(notes),
                                        {k: result.get(k) for k in ("worker_peak_mb", "kernel_peak_mb", "zygotes_mb", "worker_pid")}))
            dest.mkdir(parents=True, exist_ok=True)
            (dest / STATE).write_text(json.dumps(state[student], indent=1))
    return sorted(outcomes, key=lambda o: (o.student, o.notebook))


def table(outcomes: list[Outcome]) -> str:
    rows = [("student", "notebook", "score", "to grade by hand", "status", "seconds", "note")]
    for o in outcomes:
        score = f"{o.score:g}/{o.max_score:g}" if o.status in ("graded", "missing") else "-"
        rows.append((o.student, o.notebook, score, str(o.manual) if o.status == "graded" else "-", o.status,
                     f"{o.seconds:.1f}" if o.status == "graded" else "-", o.message[:90]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("graded", "skipped", "missing", "error")}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to grade")
    return "\n".join(lines)
