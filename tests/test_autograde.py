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
