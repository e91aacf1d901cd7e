"""Plain nbgrader with the repository's config grades in the sandbox and gives feedback without hidden tests.

A small course of its own (one notebook, three parts) and three learners: a correct one, a blank one, and a
hostile one whose answer cell reads the gradebook and the solutions, makes every ``with checks.quiet():``
swallow its failure, and answers with an object equal to everything. ``nbgrader autograde`` must score the
hostile parts 0 and keep the files out of reach; ``nbgrader generate_feedback`` must show each part's message
and never a hidden test's code or a traceback; the gradebook must agree with ``mlcasebook check``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from mlcasebook import authoring as A
from mlcasebook import cli
from mlcasebook.grading.sandbox import _unshare_works

ROOT = Path(__file__).resolve().parents[1]
MODULE, CASE = "00_demo", "mini"
HIDDEN_SEED = "918273645"  # appears only inside a hidden test region
MESSAGE = "value is not the answer to everything"
pytestmark = pytest.mark.slow

MINI = [
    A.md("# Mini case"),
    A.setup("from mlcasebook import checks"),
    A.answer("mini_value", "value = None\n### BEGIN SOLUTION\nvalue = 42\n### END SOLUTION"),
    A.test("mini_value_test", f"_seed = {HIDDEN_SEED}\nwith checks.quiet():\n    assert value == 42, {MESSAGE!r}",
           points=1),
    A.answer("mini_double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
    A.test("mini_double_test", 'with checks.quiet():\n    assert double(21) == 42, "double(21) should be 42"', points=2),
    A.answer("mini_word", "word = None\n### BEGIN SOLUTION\nword = 'sandbox'\n### END SOLUTION"),
    A.test("mini_word_test", 'with checks.quiet():\n    assert word == "sandbox", "word is not the word"', points=1),
]
PARTS = {"mini_value_test": 1, "mini_double_test": 2, "mini_word_test": 1}


def hostile_answers(course: Path) -> dict[str, str]:
    targets = {
        "gradebook": course / "gradebook.db",
        "course_solution": course / "solutions" / MODULE / f"{CASE}.ipynb",
        "repo_solution": ROOT / "solutions" / "05_experimentation" / "ab_test_design.ipynb",
    }
    value = f"""
class _Swallow:
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return True          # every `with checks.quiet():` now hides its failure
checks.quiet = lambda *a, **k: _Swallow()
import mlcasebook.checks as _real_checks
_real_checks.quiet = checks.quiet
found = {{}}
for label, path in {({k: str(v) for k, v in targets.items()})!r}.items():
    try:
        with open(path, "rb") as fh:
            found[label] = "READ " + fh.read(300).decode("latin-1")
    except Exception as exc:
        found[label] = "blocked: " + type(exc).__name__
print("FOUND", found)
value = found
"""
    double = """
class _EqualsEverything:
    def __eq__(self, other):
        return True
def double(x):
    return _EqualsEverything()
"""
    return {"mini_value": value, "mini_double": double, "mini_word": "word = 'sandbox'"}


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    for name in ("MLCASEBOOK_ROOT", "MLCASEBOOK_DATA"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture()
def course_dir():
    # Not under /tmp: the sandbox lays an empty /tmp over everything there, which would hide a course in /tmp
    # whether or not the plugin asks for it. /var/tmp shows that nbgrader's course folder itself is hidden.
    base = Path("/var/tmp") if os.access("/var/tmp", os.W_OK) else None
    top = Path(tempfile.mkdtemp(prefix="mlcasebook-nbgrader-", dir=base))
    yield top / "course"
    shutil.rmtree(top, ignore_errors=True)


def mlcasebook_check(course: Path, notebook: Path, tmp_path: Path, monkeypatch, capsys) -> dict:
    monkeypatch.setenv("MLCASEBOOK_ROOT", str(course))
    monkeypatch.setenv("MLCASEBOOK_DATA", str(ROOT / "data"))
    monkeypatch.setenv("MLCASEBOOK_PROGRESS", str(tmp_path / "progress.jsonl"))
    capsys.readouterr()
    assert cli.main(["check", str(notebook), "--json"]) == 0
    return {p["grade_id"]: p["points"] for p in json.loads(capsys.readouterr().out)["parts"]}


def feedback(course: Path, student: str) -> str:
    """The feedback page without its style sheets (Pygments' CSS names a `Generic.Traceback` token class)."""
    html = (course / "feedback" / student / MODULE / f"{CASE}.html").read_text()
    return re.sub(r"<style[^>]*>.*?</style>", "", html, flags=re.S)


def test_autograde_in_sandbox_and_safe_feedback(course_dir, tmp_path, monkeypatch, capsys):
    why = _unshare_works(os.geteuid() == 0)
    if why:
        pytest.skip(f"the grading sandbox needs namespaces: {why}")
    course = course_dir
    A.write(A.notebook(MINI), course / "solutions" / MODULE / f"{CASE}.ipynb")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    done = nbgrader(course, "generate_assignment", MODULE, "--force")
    assert done.returncode == 0, done.stderr[-2000:]
    released = course / "release" / MODULE / f"{CASE}.ipynb"

    hostile = nbformat.read(released, as_version=4)
    answers = hostile_answers(course)
    for cell in hostile.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    nbformat.write(hostile, tmp_path / "mallory.ipynb")
    learners = {"alice": course / "solutions" / MODULE / f"{CASE}.ipynb", "bob": released,
                "mallory": tmp_path / "mallory.ipynb"}
    submitted = {}
    for student, notebook in learners.items():
        dest = course / "submitted" / student / MODULE / f"{CASE}.ipynb"
        dest.parent.mkdir(parents=True)
        shutil.copy(notebook, dest)
        (dest.parent / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")
        submitted[student] = dest  # autograde adds the students to the gradebook (Autograde.create_student)

    done = nbgrader(course, "autograde", MODULE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "graded in the namespaces sandbox" in done.stderr, done.stderr[-3000:]
    assert "differ between" not in done.stderr  # the gradebook's tests are the ones in solutions/

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="mlcasebook") as gb:
        scores = {s: {gid: gb.find_grade(gid, CASE, MODULE, s).score for gid in PARTS} for s in learners}
    assert scores["alice"] == PARTS
    assert scores["bob"] == {gid: 0 for gid in PARTS}
    assert scores["mallory"] == {"mini_value_test": 0, "mini_double_test": 0, "mini_word_test": 1}

    # the hostile cell ran, and found nothing: the gradebook and both solutions folders were out of reach
    graded = nbformat.read(course / "autograded" / "mallory" / MODULE / f"{CASE}.ipynb", as_version=4)
    cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "mini_value")
    printed = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    assert "FOUND" in printed, cell.outputs
    for label in ("gradebook", "course_solution", "repo_solution"):
        assert f"'{label}': 'blocked: " in printed, printed
    assert "READ" not in printed and "SQLite format" not in printed and HIDDEN_SEED not in printed

    # the same scores as `mlcasebook check` on the same files
    for student, path in submitted.items():
        assert mlcasebook_check(course, path, tmp_path, monkeypatch, capsys) == scores[student], student

    done = nbgrader(course, "generate_feedback", MODULE)
    assert done.returncode == 0, done.stderr[-3000:]
    html = feedback(course, "mallory")
    assert MESSAGE in html
    assert HIDDEN_SEED not in html and "BEGIN HIDDEN TESTS" not in html and "assert value == 42" not in html
    assert "Traceback" not in html
    blank = feedback(course, "bob")
    assert "Not attempted yet" in blank and "Traceback" not in blank and HIDDEN_SEED not in blank
    good = feedback(course, "alice")
    assert "✔" in good and HIDDEN_SEED not in good
