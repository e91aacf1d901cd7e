"""Grade a learner's notebook against its source in solutions/, without touching the learner's file.

The steps mirror ``nbgrader autograde`` and reuse its rules:

1. read the learner's notebook (a specific error for corrupt JSON or a foreign notebook);
2. rebuild it from the source: locked and test cells come from solutions/ (hidden tests included),
   edited ones are restored and deleted ones re-inserted in their original place, and each of
   these repairs is reported;
3. execute the rebuilt copy in a temporary folder, cell by cell, with a per-cell timeout. A cell
   that runs past the timeout is interrupted; one that ignores the interrupt, or kills the
   kernel, is replaced by a cell that raises and the copy is run again, so every other part is
   still graded (plain nbgrader leaves the whole assignment ungraded in both cases);
4. score each test cell with ``nbgrader.utils.determine_grade`` and explain it with the check's
   one-sentence message, never with the hidden test's code or traceback.
"""

from __future__ import annotations

import ast
import copy
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.reader import NotJSONError

from mlcasebook import paths

PASSED, FAILED, ERROR, TIMED_OUT, NOT_ATTEMPTED, MANUAL = (
    "passed", "failed", "error", "timed out", "not attempted", "manual")
DEFAULT_TIMEOUT = 60.0
_LOG = logging.getLogger("mlcasebook.grading")


class GradingInputError(Exception):
    """The notebook cannot be graded (missing, corrupt, or not from this course); nothing was changed."""


@dataclass
class Part:
    grade_id: str
    points: float | None
    max_points: float
    status: str
    message: str


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

    def to_json(self) -> dict:
        return {
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "parts": [
                {k: v for k, v in asdict(p).items() if k in ("grade_id", "points", "max_points", "status", "message")}
                for p in self.parts
            ],
            "notes": self.notes,
        }


# ---------------------------------------------------------------- reading


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _gid(cell) -> str | None:
    return _nbgrader(cell).get("grade_id")


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook, turning every way it can be unreadable into one clear GradingInputError."""
    if not path.exists():
        raise GradingInputError(f"{path} does not exist; give the path of your notebook, e.g. "
                                "workspace/02_case_studies/churn_imbalance.ipynb.")
    if path.is_dir():
        raise GradingInputError(f"{path} is a folder; give the path of one .ipynb notebook inside it.")
    if path.suffix != ".ipynb":
        raise GradingInputError(f"{path} is not a Jupyter notebook (.ipynb).")
    try:
        nb = nbformat.read(path, as_version=4)
    except (NotJSONError, ValueError) as exc:
        raise GradingInputError(
            f"{path} is not valid notebook JSON ({' '.join(str(exc).split())[:120]}). Your file was left as it is; "
            "restore it with JupyterLab's File > Revert Notebook to Checkpoint, or start again from notebooks/.") from exc
    except UnicodeDecodeError as exc:
        raise GradingInputError(f"{path} is not a text notebook (it is not UTF-8); your file was left as it is.") from exc
    if not isinstance(nb.get("cells"), list):
        raise GradingInputError(f"{path} has no list of cells; it is not a notebook this course can grade.")
    return nb


def find_source(learner: nbformat.NotebookNode, path: Path) -> Path:
    """Find the solution notebook the learner's notebook was released from.

    First by name (``<module>/<case>.ipynb``), then by the graded cell ids it shares with a source,
    so a renamed copy (``churn_imbalance-Copy1.ipynb``) is still recognised.
    """
    root = paths.solutions_dir()
    candidate = root / path.parent.name / path.name
    if candidate.is_file():
        return candidate
    ids = {_gid(c) for c in learner.cells} - {None}
    best, best_overlap = None, 0
    for src in sorted(root.glob("*/*.ipynb")):
        src_ids = {_gid(c) for c in nbformat.read(src, as_version=4).cells} - {None, "setup"}
        overlap = len(ids & src_ids)
        if overlap > best_overlap:
            best, best_overlap = src, overlap
    if best is None:
        raise GradingInputError(
            f"{path} has none of the graded cells of any notebook in solutions/, so it is not a notebook from this "
            "course (or its nbgrader cell metadata was removed); grade the copy you opened from workspace/ or notebooks/.")
    return best


def release_of(source: Path) -> Path:
    return paths.release_dir() / source.parent.name / source.name


# ---------------------------------------------------------------- rebuilding


def rebuild(source_nb, learner_nb, release_nb=None) -> tuple[nbformat.NotebookNode, list[str]]:
    """Return the notebook to execute and the notes on what was repaired.

    Learner cells without nbgrader metadata stay where they are; answer cells keep the learner's
    text under the source's metadata; locked and test cells are taken from the source.
    """
    source_cells = {_gid(c): c for c in source_nb.cells if _gid(c)}
    order = [g for g in (_gid(c) for c in source_nb.cells) if g]
    released = {_gid(c): c for c in release_nb.cells if _gid(c)} if release_nb is not None else {}
    notes: list[str] = []
    out, seen = [], set()
    for cell in learner_nb.cells:
        gid = _gid(cell)
        if gid is None or gid not in source_cells:
            fresh = copy.deepcopy(cell)
            fresh.get("metadata", {}).pop("nbgrader", None)
            out.append(fresh)
            continue
        if gid in seen:
            notes.append(f"Cell {gid} appears twice in your notebook; only the first copy was graded.")
            continue
        seen.add(gid)
        src = source_cells[gid]
        meta = _nbgrader(src)
        if meta.get("solution"):
            new = copy.deepcopy(src)
            new.source = cell.get("source", "")
            if new.cell_type != cell.get("cell_type"):
                notes.append(f"Answer cell {gid} changed type to {cell.get('cell_type')}; it was graded as {new.cell_type}.")
            out.append(new)
        else:
            text = cell.get("source", "").strip()
            if gid in released and text not in (released[gid].source.strip(), src.source.strip()):
                notes.append(f"Locked cell {gid} was edited; it was restored from the course before grading.")
            out.append(copy.deepcopy(src))
    for position, gid in enumerate(order):
        if gid in seen:
            continue
        src = source_cells[gid]
        new = copy.deepcopy(src)
        if _nbgrader(src).get("solution"):
            new.source = released[gid].source if gid in released else ""
            notes.append(f"Answer cell {gid} was missing; the empty release cell was put back, so its part scores 0.")
        else:
            notes.append(f"Cell {gid} was deleted; it was re-inserted from the course and graded.")
        previous = order[:position]
        index = 0
        for i, cell in enumerate(out):
            if _gid(cell) in previous:
                index = i + 1
        out.insert(index, new)
        seen.add(gid)
    nb = copy.deepcopy(source_nb)
    nb.cells = [cell for cell in out if not _display_only(cell)]
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, notes


def _display_only(cell) -> bool:
    """A locked public check cell that only displays a check's result: a single call, no assignment.

    It cannot change any score (checks are pure functions), so grading skips it and saves its cost.
    """
    meta = _nbgrader(cell)
    if cell.get("cell_type") != "code" or not meta.get("locked") or meta.get("grade") or meta.get("solution"):
        return False
    try:
        tree = ast.parse(cell.get("source", ""))
    except SyntaxError:
        return False
    return (len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Call)
            and ast.unparse(tree.body[0].value.func).startswith(("checks.", "display")))


# ---------------------------------------------------------------- executing


@dataclass
class _Run:
    timed_out: set[int] = field(default_factory=set)
    replaced: dict[int, str] = field(default_factory=dict)  # index -> "timed out" | "crashed"


def _stand_in(cell, why: str, timeout: float):
    stub = copy.deepcopy(cell)
    if why == TIMED_OUT:
        stub.source = f"raise TimeoutError('This cell ran longer than {timeout:g} s and ignored the interrupt; it was stopped.')"
    else:
        stub.source = "raise RuntimeError('This cell crashed the Python kernel; it was skipped so the rest could be graded.')"
    return stub


def execute(nb: nbformat.NotebookNode, timeout: float, workdir: Path) -> tuple[nbformat.NotebookNode, _Run]:
    """Execute ``nb`` in ``workdir``; re-run with stand-ins for cells that hang past an interrupt or kill the kernel."""
    run = _Run()
    for _attempt in range(len(nb.cells) + 1):
        work = copy.deepcopy(nb)
        for index, why in run.replaced.items():
            work.cells[index] = _stand_in(work.cells[index], why, timeout)
        # one thread per kernel: OpenMP models (HistGradientBoosting) thrash when parallel graders share 2 cores
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MPLBACKEND": "Agg"}
        client = NotebookClient(work, timeout=timeout, interrupt_on_timeout=False, allow_errors=True,
                                kernel_name="python3", resources={"metadata": {"path": str(workdir)}},
                                shutdown_kernel="immediate", extra_arguments=["--IPKernelApp.log_level=ERROR"])
        failure = None
        with client.setup_kernel(env=env):
            for index, cell in enumerate(work.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    run.timed_out.add(index)
                    cell.outputs.append(nbformat.v4.new_output(
                        "error", ename="TimeoutError", evalue=f"cell stopped after {timeout:g} s", traceback=[]))
                    if not _interrupted(client, index):
                        failure = (index, TIMED_OUT)
                        break
                except DeadKernelError:
                    failure = (index, "crashed")
                    break
        if failure is None:
            return work, run
        run.replaced[failure[0]] = failure[1]
    raise RuntimeError("grading could not finish: every cell had to be replaced")  # pragma: no cover


def _interrupted(client: NotebookClient, index: int, grace: float = 10.0) -> bool:
    """Interrupt the kernel after a timeout; True if it answers again within ``grace`` seconds.

    nbclient's own interrupt-on-timeout waits forever for code that ignores SIGINT, so the
    interrupt and the liveness probe are done here.
    """
    from jupyter_core.utils import run_sync

    try:
        run_sync(client.km.interrupt_kernel)()
    except Exception:  # the kernel may already be gone
        return False
    probe = nbformat.v4.new_code_cell("pass")
    saved = client.timeout
    client.timeout = grace
    try:
        client.execute_cell(probe, index)
        return True
    except (CellTimeoutError, DeadKernelError):
        return False
    finally:
        client.timeout = saved


def _error(cell) -> tuple[str, str] | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename", ""), " ".join(str(out.get("evalue", "")).split())
    return None


# ---------------------------------------------------------------- scoring


def _answer_status(cell, index: int, run: _Run, timeout: float) -> tuple[str, str] | None:
    """Explain a failing test through its answer cell, if that cell is what went wrong."""
    gid = _gid(cell)
    if index in run.timed_out or run.replaced.get(index) == TIMED_OUT:
        return TIMED_OUT, f"Your cell {gid} ran longer than the {timeout:g} s limit and was stopped; look for an endless loop."
    if run.replaced.get(index) == "crashed":
        return ERROR, f"Your cell {gid} crashed the Python kernel (it exited or ran out of memory); it was skipped."
    err = _error(cell)
    if err is None:
        return None
    ename, evalue = err
    if ename == "NotImplementedError":
        return NOT_ATTEMPTED, f"Not attempted yet: replace `raise NotImplementedError()` in cell {gid} with your answer."
    return ERROR, f"Your cell {gid} raised {ename}: {evalue[:400]}"


def score(nb: nbformat.NotebookNode, run: _Run, timeout: float) -> list[Part]:
    from nbgrader.utils import determine_grade  # nbgrader's own scoring rule (imports take ~2 s)

    answers = {}
    for index, cell in enumerate(nb.cells):
        if _nbgrader(cell).get("solution"):
            answers[_gid(cell)] = (index, cell)
    parts = []
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        if not meta.get("grade"):
            continue
        gid, max_points = meta["grade_id"], float(meta.get("points", 0))
        if meta.get("solution"):  # a written answer graded by hand
            parts.append(Part(gid, None, max_points, MANUAL, "Graded by hand in a cohort; compare your answer with the rubric headings."))
            continue
        scored = copy.deepcopy(cell)  # stderr noise (warnings) never costs points in a self-check
        scored.outputs = [o for o in scored.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        points, _ = determine_grade(scored, _LOG)
        points = float(points or 0.0)
        status, message = PASSED, _passed_message(cell)
        if index in run.timed_out or run.replaced.get(index) == TIMED_OUT:
            status, message = TIMED_OUT, f"This test ran longer than the {timeout:g} s limit and was stopped."
        elif run.replaced.get(index) == "crashed":
            status, message = ERROR, "This test crashed the Python kernel while running your code."
        elif points < max_points:
            status, message = _explain(cell, _answer_for(gid, answers), run, timeout)
        parts.append(Part(gid, points, max_points, status, message))
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


def _explain(cell, answer, run: _Run, timeout: float) -> tuple[str, str]:
    err = _error(cell)
    ename, evalue = err if err else ("", "")
    if answer is not None:  # a broken or untouched answer cell is the root cause: say so first
        explained = _answer_status(answer[1], answer[0], run, timeout)
        if explained:
            return explained
    if ename == "NotAttempted":
        return NOT_ATTEMPTED, evalue
    if ename in ("CheckFailed", "AssertionError"):
        return FAILED, evalue or "A hidden test of this part failed."
    if ename == "NotImplementedError":
        return NOT_ATTEMPTED, "Not attempted yet: a function this part calls still raises NotImplementedError."
    if ename:
        return ERROR, f"Running this part raised {ename}: {evalue[:400]}"
    return FAILED, "This part wrote to stderr or returned a partial score."


# ---------------------------------------------------------------- entry point


def grade(path: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Grade a copy of the notebook at ``path``; the file itself is only read."""
    started = time.monotonic()
    path = Path(path).expanduser()
    learner = read_notebook(path)
    source_path = find_source(learner, path)
    source = nbformat.read(source_path, as_version=4)
    shared = ({_gid(c) for c in learner.cells} & {_gid(c) for c in source.cells}) - {None}
    if not shared:
        raise GradingInputError(
            f"{path} has none of the graded cells of {source_path.relative_to(paths.course_root())}; it is not a copy "
            "of that course notebook (was its nbgrader cell metadata removed?).")
    release_path = release_of(source_path)
    release = nbformat.read(release_path, as_version=4) if release_path.is_file() else None
    nb, notes = rebuild(source, learner, release)
    with tempfile.TemporaryDirectory(prefix="mlcasebook-check-") as tmp:
        executed, run = execute(nb, timeout, Path(tmp))
    parts = score(executed, run, timeout)
    auto = [p for p in parts if p.status != MANUAL]
    return Report(
        notebook=str(path),
        source=str(source_path.relative_to(paths.course_root())),
        score=round(sum(p.points or 0.0 for p in auto), 2),
        max_score=sum(p.max_points for p in auto),
        parts=parts,
        notes=notes,
        manual_points=sum(p.max_points for p in parts if p.status == MANUAL),
        seconds=round(time.monotonic() - started, 2),
    )
