"""Feedback in tiers: a check names the mistake, ``hint()`` nudges, ``solution()`` shows the model answer.

Every notebook's setup cell imports ``hint`` and ``solution``; importing this module in IPython also registers
``%check`` (save and grade this notebook, as ``mlcasebook check`` does) and ``%progress`` (the course's table).

* A *part* is an answer cell, named by its nbgrader grade id (``"churn_metric"``). Its check cell is the cell
  ``<part>_check``; the checks it calls are read from the release notebook, so a check result knows its part.
* ``hint(part)`` shows the part's hints one at a time (``src/mlcasebook/hints/<notebook>.toml``); without an
  argument it is about the last check that ran.
* ``solution(part)`` shows the model answer from ``solutions/`` (the ``BEGIN SOLUTION`` region; for the
  follow-up questions, the ``BEGIN MARK SCHEME`` region) only once the part was attempted: its check ran on an
  answer in this kernel, or the saved notebook's cell differs from the release stub.
"""

from __future__ import annotations

import functools
import html
import os
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mlcasebook import curriculum, paths
from mlcasebook.checks import result as check_result

HINTS_DIR = Path(__file__).with_name("hints")
_CALL = re.compile(r"\bchecks\.(\w+)\.(\w+)\s*\(")
_REGION = re.compile(r"### BEGIN (SOLUTION|MARK SCHEME)\n(.*?)### END \1", re.S)
_shown: dict[str, int] = {}  # part -> hints shown so far in this kernel


class TutorError(LookupError):
    """A part the tutor does not know, or a course folder it cannot read."""


@dataclass(frozen=True)
class Part:
    id: str
    case: curriculum.Case
    kind: str            # "code", "written" (a markdown answer) or "followups"
    stub: str            # the release cell's source
    checks: tuple[str, ...]  # "churn.metric_choice", the checks its check cell calls
    hidden_checks: tuple[str, ...] = ()  # the checks its hidden test calls (known only where solutions/ is)


class Note:
    """What the tutor shows: a titled block, Markdown in the notebook, plain text elsewhere."""

    def __init__(self, title: str, body: str, *, kind: str = "hint"):
        self.title, self.body, self.kind = title, body, kind

    def _repr_markdown_(self) -> str:
        return f"**{self.title}**\n\n{self.body}"

    def __repr__(self) -> str:
        return f"{self.title}\n{self.body}"


def _region(source: str) -> str | None:
    found = _REGION.search(source)
    return found.group(2).strip("\n") if found else None


@functools.cache
def parts() -> dict[str, Part]:
    """Every part of every notebook in the manifest whose release exists, by grade id."""
    import nbformat

    root = paths.course_root()
    found: dict[str, Part] = {}
    for case in curriculum.cases(root):
        path = case.release(root) if case.release(root).is_file() else case.source(root)
        if not path.is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        calls = _calls(nb, "_check")
        hidden = _calls(nbformat.read(case.source(root), as_version=4), "_test") if case.source(root).is_file() else {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            grade_id = meta.get("grade_id")
            if meta.get("solution"):
                kind = "code" if cell.cell_type == "code" else "written"
                found[grade_id] = Part(grade_id, case, kind, cell.source, calls.get(grade_id, ()), hidden.get(grade_id, ()))
            elif meta.get("task") and grade_id.endswith("_followups"):
                found[grade_id] = Part(grade_id, case, "followups", cell.source, ())
    return found


def _calls(nb, suffix: str) -> dict[str, tuple[str, ...]]:
    """{part: checks called} from the cells whose grade id is ``<part><suffix>``."""
    calls = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.endswith(suffix):
            calls[grade_id[: -len(suffix)]] = tuple(f"{m}.{f}" for m, f in _CALL.findall(cell.source))
    return calls


def part_of_check(source: str | None) -> str | None:
    """The part whose check cell calls the check ``source`` (``"churn.metric_choice"``), if exactly one does."""
    owners = [p.id for p in parts().values() if source in p.checks]
    return owners[0] if len(owners) == 1 else None


def _last_check_run(history: list[str] | None = None) -> str | None:
    """The check of the last check cell the learner ran: read from the kernel's input history (so a check cell
    that failed before its check could run, e.g. on a NameError, still counts), else the last check that ran."""
    if history is None:
        try:
            from IPython import get_ipython

            shell = get_ipython()
            history = list(shell.user_ns.get("In", [])) if shell is not None else []
        except ImportError:  # pragma: no cover
            history = []
    for source in reversed(history[:-1] if history else []):  # the last input is the hint() call itself
        for module, function in reversed(_CALL.findall(source)):
            if part_of_check(f"{module}.{function}") is not None:  # a check, not a public fact like expected_profit
                return f"{module}.{function}"
    return check_result.SEEN.get("__last__")


def _part(part: str | None) -> Part:
    if part is None:
        part = part_of_check(_last_check_run())
        if part is None:
            raise TutorError('Run a check cell first, or name the part, e.g. hint("churn_metric") '
                             "(the grade id printed under each check).")
    known = parts()
    if part not in known:
        import difflib

        close = difflib.get_close_matches(str(part), known, n=3, cutoff=0.5)
        also = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise TutorError(f"There is no part {part!r} in this course.{also}")
    return known[part]


@functools.cache
def _hints_file(notebook: str) -> dict:
    path = HINTS_DIR / f"{notebook}.toml"
    return tomllib.loads(path.read_text()) if path.is_file() else {}


def hints_of(part: str) -> list[str]:
    return list(_hints_file(parts()[part].case.notebook).get(part, {}).get("hints", []))


def never_of(part: str) -> list[str]:
    """Phrases that would give the part's answer away (no failure message of the part may contain them)."""
    return list(_hints_file(parts()[part].case.notebook).get(part, {}).get("never", []))


def _show(note: Note):
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the course
        return note
    if get_ipython() is None:
        return note
    display(note)
    return None


def hint(part: str | None = None):
    """Show the next hint for ``part`` (an answer cell's grade id; default: the part of the last check you ran)."""
    try:
        found = _part(part)
    except TutorError as exc:
        return _show(Note("No hint yet", str(exc)))
    hints = hints_of(found.id)
    if not hints:
        return _show(Note(f"No hints for {found.id}", "This part has no hints; reread the text above its answer cell."))
    level = min(_shown.get(found.id, 0) + 1, len(hints))
    _shown[found.id] = level
    lines = [f"{i}. {text}" for i, text in enumerate(hints[:level], start=1)]
    if level == len(hints):
        lines.append(f'\nThat was the last hint. After a try, `solution("{found.id}")` shows the model answer.')
    else:
        lines.append(f'\nStill stuck? `hint("{found.id}")` again gives a sharper hint.')
    return _show(Note(f"Hint {level} of {len(hints)} — {found.id}", "\n".join(lines)))


def _notebook_file() -> Path | None:
    """The learner's notebook file, as JupyterLab told the kernel (``__session__`` / ``JPY_SESSION_NAME``)."""
    name = os.environ.get("JPY_SESSION_NAME")
    try:
        from IPython import get_ipython

        shell = get_ipython()
        name = (shell.user_ns.get("__session__") if shell is not None else None) or name
    except ImportError:  # pragma: no cover
        pass
    if not name:
        return None
    path = Path(name)
    for candidate in (path, Path.cwd() / path.name):
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return candidate.resolve()
    return None


def _saved_cell(part: Part) -> str | None:
    import nbformat

    path = _notebook_file()
    if path is None:
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return None
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == part.id:
            return cell.source
    return None


def attempted(part: Part) -> bool:
    """True once the part's check ran on an answer in this kernel, or its saved cell differs from the stub."""
    if any(check_result.SEEN.get(source) not in (None, check_result.NOT_ATTEMPTED) for source in part.checks):
        return True
    target = part
    if part.kind == "followups":  # answered out loud: revealed once the written answer above was tried
        written = [p for p in parts().values() if p.case == part.case and p.kind == "written"]
        if not written:
            return True
        target = written[-1]
    saved = _saved_cell(target)
    return saved is not None and saved.strip() != target.stub.strip()


def model_answer(part: Part) -> str:
    """The model answer of ``part`` from the solution notebook; TutorError when the course has no solutions."""
    import nbformat

    path = part.case.source(paths.course_root())
    if not path.is_file():
        raise TutorError("The model answers are not part of this installation (your instructor has them).")
    # a written answer's model answer sits with its points rubric in the mark scheme of the question above it
    # (``<id>_rubric``, a task cell the Formgrader shows graders); code parts and follow-ups keep theirs in place
    wanted = [f"{part.id}_rubric", part.id] if part.kind == "written" else [part.id]
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in nbformat.read(path, as_version=4).cells}
    for gid in wanted:
        cell = cells.get(gid)
        text = _region(cell.source) if cell is not None else None
        if text is not None:
            return _with_signature(cell.source, text) if part.kind == "code" else text
    raise TutorError(f"The solution notebook has no model answer for {part.id}.")


def _with_signature(source: str, region: str) -> str:
    """A model answer that is a function body, with the ``def`` line (and docstring) above it, so it can be pasted."""
    first = next((line for line in region.splitlines() if line.strip()), "")
    if not first[:1].isspace():
        return region
    before = source[: source.index("### BEGIN SOLUTION")].rstrip(" ").splitlines()
    starts = [i for i, line in enumerate(before) if line.startswith(("def ", "class "))]
    return "\n".join(before[starts[-1]:]) + "\n" + region if starts else region


def solution(part: str | None = None):
    """Show the model answer of ``part`` once you have tried it (default: the part of the last check you ran)."""
    try:
        found = _part(part)
    except TutorError as exc:
        return _show(Note("No model answer yet", str(exc), kind="solution"))
    if os.environ.get("MLCASEBOOK_GRADING"):
        return _show(Note("No model answer while grading", "Model answers are not shown in a graded run.", kind="solution"))
    if not attempted(found):
        what = ("write your answer in the cell above and save the notebook" if found.kind != "code"
                else "put your answer in its cell and run the check cell below it")
        if found.kind == "followups":
            what = "write your interview answer first and save the notebook"
        return _show(Note(f"Try {found.id} first", f"The model answer is shown once you have tried: {what}, then ask "
                                                   f'again. `hint("{found.id}")` helps in the meantime.',
                          kind="solution"))
    try:
        text = model_answer(found)
    except TutorError as exc:
        return _show(Note(f"No model answer for {found.id}", str(exc), kind="solution"))
    if found.kind == "code":
        body = f"```python\n{text}\n```\n\nCompare it with yours: other correct approaches pass the hidden tests too."
    else:
        body = text + "\n\nCompare it with yours, point by point against the rubric."
    return _show(Note(f"Model answer — {found.id}", body, kind="solution"))


def footer_html(result) -> str:
    """The line under a failed or unattempted check in the notebook: how to ask for a hint, then the solution."""
    if result.status == check_result.PASSED:
        return ""
    try:
        part = part_of_check(getattr(result, "source", None))
    except Exception:  # no course folder (a copied notebook): the check still shows its sentence
        return ""
    if part is None:
        return ""
    return (f'<div style="color:#57606a;font-size:90%;margin-top:2px">Stuck? <code>hint("{html.escape(part)}")</code>'
            f' — after a try, <code>solution("{html.escape(part)}")</code></div>')


# ---------------------------------------------------------------- %check and %progress


def report_html(report) -> str:
    """A grading report as the table ``mlcasebook check`` prints: part, points, status, message."""
    from mlcasebook.cli import _STATUS_MARK, _fmt_points

    left = 'style="text-align:left"'  # JupyterLab right-aligns table cells; sentences read from the left
    rows = "".join(
        f"<tr><td {left}><code>{html.escape(p.grade_id)}</code></td><td>{_fmt_points(p.points, p.max_points)}</td>"
        f"<td {left}>{_STATUS_MARK.get(p.status, '?')} {html.escape(p.status)}</td>"
        f"<td {left}>{html.escape(p.message)}</td></tr>" for p in report.parts)
    notes = "".join(f"<p>note: {html.escape(n)}</p>" for n in report.notes)
    manual = (f" (+{report.manual_points:g} points for written answers, graded by hand against the rubric)"
              if report.manual_points else "")
    head = (f"<tr><th {left}>part</th><th>points</th><th {left}>status</th><th {left}>message</th></tr>")
    return (f"<div class='mlcasebook-report tex2jax_ignore mathjax_ignore'><p><b>{html.escape(Path(report.notebook).name)}"
            f"</b> graded against {html.escape(report.source)}</p>{notes}<table><thead>{head}</thead><tbody>{rows}</tbody>"
            f"</table><p><b>total: {report.score:g}/{report.max_score:g}</b>{manual} [{report.seconds:.1f} s]</p></div>")


class _Html:
    def __init__(self, html_text: str, text: str):
        self.html, self.text = html_text, text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


_SAVE_JS = """
(function () {
  var app = window.jupyterapp;
  if (app && app.commands.hasCommand('docmanager:save')) { app.commands.execute('docmanager:save'); }
})();
"""


def _save_and_wait(path: Path, seconds: float = 10.0) -> bool:
    """Ask the page to save the notebook (JupyterLab exposes its app in the learner's lab) and wait for the file."""
    from IPython.display import Javascript, display

    before = path.stat().st_mtime_ns
    display(Javascript(_SAVE_JS))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if path.stat().st_mtime_ns != before:
            time.sleep(0.2)  # let the write finish
            return True
    return False


def check_magic(line: str = ""):
    """%check — save this notebook and grade it with the hidden tests, exactly as `mlcasebook check` does."""
    import io
    from contextlib import redirect_stdout

    from IPython.display import display

    from mlcasebook import cli, grading, progress

    if os.environ.get("MLCASEBOOK_GRADING"):
        print("%check does nothing while your notebook is being graded.")
        return None
    path = _notebook_file()
    if path is None:
        print("%check cannot tell which notebook this is (open it in JupyterLab); in a terminal run: "
              "mlcasebook check <path to your notebook>")
        return None
    saved = _save_and_wait(path)
    when = time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime))
    handle = display(_Html(f"<p>Grading {html.escape(path.name)} (saved at {when}) …</p>", "grading …"),
                     display_id=True)
    try:
        report = grading.grade(path)
    except (grading.GradingInputError, grading.GradingAborted) as exc:
        handle.update(_Html(f"<p>%check: {html.escape(str(exc))}</p>", f"%check: {exc}"))
        return None
    try:
        progress.record(report)
    except OSError:
        pass
    text = io.StringIO()
    with redirect_stdout(text):
        cli.print_report(report)
    note = "" if saved else (f"<p>The page did not save the notebook: this is the version saved at {when}; "
                             "press Ctrl-S and run %check again if you changed it since.</p>")
    handle.update(_Html(note + report_html(report), text.getvalue()))
    return None


def progress_magic(line: str = ""):
    """%progress — latest and best score of every notebook of the course."""
    from mlcasebook import progress

    rows = progress.summary()
    body = []
    for r in rows:
        latest = f"{r['latest']['score']:g}/{r['latest']['max_score']:g}" if r["latest"] else "—"
        best = f"{r['best']['score']:g}/{r['best']['max_score']:g}" if r["best"] else "—"
        when = r["latest"]["when"].replace("T", " ")[:16] if r["latest"] else "not checked yet"
        body.append(f"<tr><td>{html.escape(r['notebook'])}</td><td>{latest}</td><td>{best}</td><td>{when}</td></tr>")
    done = sum(1 for r in rows if r["best"] and r["best"]["score"] == r["best"]["max_score"])
    table = ("<table><thead><tr><th>notebook</th><th>latest</th><th>best</th><th>when (UTC)</th></tr></thead>"
             f"<tbody>{''.join(body)}</tbody></table><p>{done} of {len(rows)} notebooks at full marks</p>")
    text = "\n".join(f"{r['notebook']}: " + (f"{r['latest']['score']:g}/{r['latest']['max_score']:g}"
                                               if r["latest"] else "not checked yet") for r in rows)
    from IPython.display import display

    display(_Html(table, text))


def _register_magics() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "register_magic_function"):
        shell.register_magic_function(check_magic, "line", "check")
        shell.register_magic_function(progress_magic, "line", "progress")


_register_magics()
