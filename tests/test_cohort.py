"""An instructor's cohort with plain nbgrader: generate, three submissions, autograde, gradebook scores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_fixtures import build_submission, expected_points, load

ROOT = Path(__file__).resolve().parents[1]
MODULE, CASE = "02_case_studies", "churn_imbalance"
pytestmark = pytest.mark.slow


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)


def test_generate_autograde_and_gradebook(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / MODULE, course / "solutions" / MODULE)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    done = nbgrader(course, "generate_assignment", MODULE, "--force")
    assert done.returncode == 0, done.stderr[-2000:]
    released = course / "notebooks" / MODULE / f"{CASE}.ipynb"
    assert released.is_file()

    fixture = ROOT / "tests" / "submissions" / MODULE / CASE / "resample_before_split.toml"
    learners = {
        "alice": ROOT / "solutions" / MODULE / f"{CASE}.ipynb",
        "bob": released,
        "carol": build_submission(fixture, tmp_path / "carol"),
    }
    for student, notebook in learners.items():
        dest = course / "submitted" / student / MODULE / f"{CASE}.ipynb"
        dest.parent.mkdir(parents=True)
        shutil.copy(notebook, dest)
        (dest.parent / "timestamp.txt").write_text("2026-11-25 12:00:00.000000 UTC")
        assert nbgrader(course, "db", "student", "add", student).returncode == 0

    done = nbgrader(course, "autograde", MODULE)
    assert done.returncode == 0, done.stderr[-3000:]

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="mlcasebook") as gb:
        def part(student, grade_id):
            return gb.find_grade(grade_id, CASE, MODULE, student).score

        alice = gb.find_submission_notebook(CASE, MODULE, "alice")
        bob = gb.find_submission_notebook(CASE, MODULE, "bob")
        assert alice.max_score == 25  # 20 auto-graded + 5 for the written answer
        assert alice.score == 20 and alice.needs_manual_grade  # the written answer waits for the formgrader
        assert bob.score == 0
        expected = expected_points(load(fixture))
        assert {gid: part("carol", gid) for gid in expected} == expected
