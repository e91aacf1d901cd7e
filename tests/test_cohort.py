"""An instructor's cohort, exactly as the README says: three learners, generate, hand in, autograde, feedback, export.

The commands come from the README's instructor block (a test keeps the two identical). Two lines cannot run here
and are replaced by what they stand for: `nbgrader collect` by putting files in submitted/ (the README's own
alternative), `make instructor` by reading what the Formgrader shows (the autograded notebook; the browser test
opens the Formgrader itself).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_fixtures import build_submission, expected_points, load

ROOT = Path(__file__).resolve().parents[1]
MODULE, CASE = "02_case_studies", "churn_imbalance"
LEARNERS = ("alice", "bob", "carol")
pytestmark = pytest.mark.slow

README_SEQUENCE = [
    'export PATH="$PWD/.venv/bin:$PATH"',
    "nbgrader db student add alice",
    "nbgrader generate_assignment 02_case_studies",
    "nbgrader collect 02_case_studies",
    "mlcasebook autograde 02_case_studies",
    "make instructor",
    "nbgrader generate_feedback 02_case_studies",
    "nbgrader export",
]


def readme_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Instructors"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_instructor_block_is_the_tested_sequence():
    assert readme_block() == README_SEQUENCE


def run(course: Path, command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(command, shell=True, cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{command}\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}"
    return done


def test_readme_sequence_with_three_learners(tmp_path):
    course = tmp_path / "course"  # what a fresh clone holds that nbgrader reads
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copytree(ROOT / "notebooks", course / "notebooks")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    fixture = ROOT / "tests" / "submissions" / MODULE / CASE / "resample_before_split.toml"
    handed_in = {"alice": ROOT / "solutions" / MODULE / f"{CASE}.ipynb",
                 "bob": ROOT / "notebooks" / MODULE / f"{CASE}.ipynb",
                 "carol": build_submission(fixture, tmp_path / "carol")}
    logs = {}
    for command in README_SEQUENCE:
        if command.startswith("export PATH"):
            continue  # run() puts this interpreter's scripts first
        if command == "nbgrader db student add alice":
            for learner in LEARNERS:
                run(course, f"nbgrader db student add {learner}")
        elif command.startswith("nbgrader collect"):
            for learner, notebook in handed_in.items():
                dest = course / "submitted" / learner / MODULE
                dest.mkdir(parents=True)
                shutil.copy(notebook, dest / f"{CASE}.ipynb")
                (dest / "timestamp.txt").write_text("2026-12-01 12:00:00.000000 UTC")
        elif command == "make instructor":
            shown = (course / "autograded" / "carol" / MODULE / f"{CASE}.ipynb").read_text()
            assert "BEGIN MARK SCHEME" in shown and "Rubric (" in shown and "Model answer" in shown
        else:
            logs[command] = run(course, command)
        if command.startswith("nbgrader generate_assignment"):
            assert (course / "release" / MODULE / f"{CASE}.ipynb").is_file()
            assert not subprocess.run(["diff", "-rq", ROOT / "notebooks", course / "notebooks"]).returncode, \
                "generate_assignment changed notebooks/"

    assert "checksum" not in logs["mlcasebook autograde 02_case_studies"].stderr
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="mlcasebook") as gb:
        alice = gb.find_submission_notebook(CASE, MODULE, "alice")
        bob = gb.find_submission_notebook(CASE, MODULE, "bob")
        assert alice.max_score == 25  # 20 auto-graded + 5 for the written answer
        assert alice.score == 20 and alice.needs_manual_grade
        assert [g.name for g in alice.grades if g.needs_manual_grade] == ["churn_interview_answer"]
        assert bob.score == 0 and not bob.needs_manual_grade  # blank: nothing for a grader, follow-ups included
        carol = {gid: gb.find_grade(gid, CASE, MODULE, "carol").score for gid in expected_points(load(fixture))}
        assert carol == expected_points(load(fixture))

    feedback = (course / "feedback" / "carol" / MODULE / f"{CASE}.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in feedback and "Model answer" not in feedback and "Rubric (" not in feedback
    with (course / "grades.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["student_id"] for r in rows) == sorted(LEARNERS)
    assert {r["student_id"]: float(r["raw_score"]) for r in rows}["alice"] == 20

    again = run(course, "mlcasebook autograde 02_case_studies")
    assert again.stdout.strip().splitlines()[-1] == "3 skipped", again.stdout  # nothing changed: nothing regraded


def test_nbgrader_autograde_gives_the_same_grades(tmp_path):
    """Plain `nbgrader autograde` on the same course: identical per-cell scores and flags, no checksum warnings."""
    courses = {}
    for grader in ("nbgrader", "mlcasebook"):
        course = tmp_path / grader
        shutil.copytree(ROOT / "solutions" / MODULE, course / "solutions" / MODULE)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        run(course, f"nbgrader generate_assignment {MODULE}")
        for learner, notebook in (("alice", ROOT / "solutions" / MODULE / f"{CASE}.ipynb"),
                                  ("bob", course / "release" / MODULE / f"{CASE}.ipynb")):
            dest = course / "submitted" / learner / MODULE
            dest.mkdir(parents=True)
            shutil.copy(notebook, dest / f"{CASE}.ipynb")
        courses[grader] = course
    plain = run(courses["nbgrader"], f"nbgrader autograde {MODULE}")
    assert "checksum" not in plain.stderr and "SAWarning" not in plain.stderr
    run(courses["mlcasebook"], f"mlcasebook autograde {MODULE} --workers 1")

    from nbgrader.api import Gradebook

    def grades(course):
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="mlcasebook") as gb:
            return {(s, g.name): (g.score, g.needs_manual_grade, g.auto_score)
                    for s in ("alice", "bob") for g in gb.find_submission_notebook(CASE, MODULE, s).grades}

    assert grades(courses["mlcasebook"]) == grades(courses["nbgrader"])
