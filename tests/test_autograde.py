"""`mlcasebook autograde`: bad input gets one sentence and exit 2; a bad submission is reported for its learner only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULE, CASE = "05_experimentation", "ab_test_design"
pytestmark = pytest.mark.slow


def mlcasebook(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "mlcasebook.cli", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("autograde") / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / MODULE, course / "solutions" / MODULE)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", MODULE, "--notebook", CASE], cwd=course,
                   check=True, capture_output=True, env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    return course


def hand_in(course: Path, student: str, text: str) -> Path:
    dest = course / "submitted" / student / MODULE
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{CASE}.ipynb").write_text(text)
    return dest / f"{CASE}.ipynb"


def test_bad_input_exits_2_with_one_sentence(course, tmp_path):
    done = mlcasebook(course, "autograde", "06_nothing")
    assert done.returncode == 2 and "no assignment '06_nothing'" in done.stderr and "generate_assignment" in done.stderr
    done = mlcasebook(course, "autograde", MODULE)
    assert done.returncode == 2 and "no submissions of 05_experimentation" in done.stderr
    done = mlcasebook(tmp_path, "autograde", MODULE)
    assert done.returncode == 2 and "no nbgrader_config.py" in done.stderr
    done = mlcasebook(course, "autograde", MODULE, "--workers", "0")
    assert done.returncode == 2 and "positive whole number" in done.stderr


def test_a_corrupt_submission_is_reported_and_the_others_are_graded(course):
    good = hand_in(course, "dana", (ROOT / "solutions" / MODULE / f"{CASE}.ipynb").read_text())
    bad = hand_in(course, "eve", '{"cells": [ {"cell_type": "code", "sour')
    before = bad.read_bytes(), good.read_bytes()
    done = mlcasebook(course, "autograde", MODULE, "--workers", "1")
    assert done.returncode == 1, done.stderr[-2000:]
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith(("dana", "eve"))}
    assert "19/24" in lines["dana"] and "graded" in lines["dana"]
    assert "error" in lines["eve"] and "not a readable notebook" in lines["eve"]
    assert (bad.read_bytes(), good.read_bytes()) == before, "autograde changed a submitted file"
    assert (course / "autograded" / "dana" / MODULE / f"{CASE}.ipynb").is_file()

    done = mlcasebook(course, "autograde", MODULE, "--student", "dana")
    assert done.returncode == 0 and "skipped" in done.stdout  # unchanged since graded
    done = mlcasebook(course, "autograde", MODULE, "--student", "zed")
    assert done.returncode == 2 and "zed" in done.stderr


LATE_PLUGIN = """
from nbgrader.plugins import LateSubmissionPlugin


class PointPerDay(LateSubmissionPlugin):
    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return float(-(-total_seconds_late // 86_400))
"""


def test_the_configured_late_penalty_is_assigned_as_nbgrader_does(course):
    """nbgrader_config.py's late-submission plugin sets the notebook's penalty in the gradebook (nbgrader's default
    plugin gives none); a submission on time gets none."""
    (course / "late_plugin.py").write_text(LATE_PLUGIN)
    config = course / "nbgrader_config.py"
    original = config.read_text()
    config.write_text(original + '\nc.AssignLatePenalties.plugin_class = "late_plugin.PointPerDay"\n')
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    try:
        subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add", MODULE,
                        "--duedate=2026-01-10 12:00:00 UTC"], cwd=course, check=True, capture_output=True, env=env)
        solution = (ROOT / "solutions" / MODULE / f"{CASE}.ipynb").read_text()
        for student, stamp in (("late_lou", "2026-01-12 09:00:00 UTC"), ("timely_tim", "2026-01-10 11:00:00 UTC")):
            hand_in(course, student, solution).with_name("timestamp.txt").write_text(stamp)
        done = mlcasebook(course, "autograde", MODULE, "--student", "late_lou", "--student", "timely_tim",
                          "--workers", "1")
        assert done.returncode == 0, done.stderr[-2000:]
        assert "late: 2 points off" in done.stdout  # 44.9 hours late: two started days
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            late = gb.find_submission_notebook(CASE, MODULE, "late_lou")
            timely = gb.find_submission_notebook(CASE, MODULE, "timely_tim")
            assert late.late_submission_penalty == 2.0 and late.score == timely.score > 0
            assert timely.late_submission_penalty is None
    finally:
        config.write_text(original)
        for student in ("late_lou", "timely_tim"):
            shutil.rmtree(course / "submitted" / student, ignore_errors=True)
