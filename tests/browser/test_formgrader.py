"""The instructor's lab (``make instructor``) on a temporary nbgrader course: Formgrader lists the assignment and
the student, shows a graded submission's written answer with its points rubric and model answer, and the lab carries
nbgrader's menu (the learner's lab must not, see test_learner_lab.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab_servers import ROOT, serving

pytestmark = pytest.mark.slow

MODULE, CASE, STUDENT = "02_case_studies", "churn_imbalance", "alice"


@pytest.fixture(scope="module")
def instructor_lab(browser, tmp_path_factory):
    """A course like tests/test_cohort.py's (generated, one student, the solution handed in and autograded), served by
    :func:`mlcasebook.lab.instructor_command`. (``browser`` first: no Chromium, no course.)"""
    from mlcasebook import lab

    tmp = tmp_path_factory.mktemp("instructor")
    course, scratch = tmp / "course", tmp / "scratch"
    scratch.mkdir()
    shutil.copytree(ROOT / "solutions" / MODULE, course / "solutions" / MODULE)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    from mlcasebook.release import _venv_on_path

    _venv_on_path()  # nbgrader runs the venv's `alembic`
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", MODULE], cwd=course, env=env, check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "add", STUDENT, "--first-name", "Alice",
                    "--last-name", "Example"], cwd=course, env=env, check=True, capture_output=True)
    handed_in = course / "submitted" / STUDENT / MODULE
    handed_in.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / MODULE / f"{CASE}.ipynb", handed_in)
    subprocess.run([sys.executable, "-m", "mlcasebook.cli", "autograde", MODULE, "--workers", "1"], cwd=course, env=env,
                   check=True, capture_output=True)
    with serving(lab.instructor_command, course, scratch, "instructor-jupyter.log") as running:
        yield running


def test_formgrader_shows_the_rubric_beside_the_written_answer(instructor_lab, page, shot):
    from nbgrader.api import Gradebook

    course = Path(instructor_lab.root)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="mlcasebook") as gb:
        submission = gb.find_submission_notebook(CASE, MODULE, STUDENT).id
    page.goto(instructor_lab.url(f"/formgrader/submissions/{submission}/"))
    rubric = page.get_by_text("Rubric (5 points)").first
    rubric.wait_for(timeout=180_000)
    rubric.scroll_into_view_if_needed()
    shot(page, "formgrader written answer with rubric")
    text = page.locator("body").inner_text()
    assert "Model answer." in text  # the model answer, in the question's mark scheme


def test_formgrader_lists_the_assignment(instructor_lab, page, shot):
    started = time.monotonic()
    timings: dict[str, float] = {}

    page.goto(instructor_lab.url("/formgrader"))
    row = page.locator("tr", has_text=MODULE)
    row.first.wait_for(timeout=180_000)
    timings["assignments listed"] = round(time.monotonic() - started, 1)
    shot(page, "formgrader assignments")
    text = row.first.inner_text()
    assert MODULE in text
    assert page.locator("h1", has_text="Manage Assignments").count() == 1

    page.goto(instructor_lab.url("/formgrader/manage_students"))
    page.locator("tr", has_text=STUDENT).first.wait_for(timeout=180_000)
    shot(page, "formgrader students")

    page.goto(instructor_lab.url("/lab"))
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.wait_for(timeout=180_000)
    timings["instructor lab open"] = round(time.monotonic() - started, 1)
    shot(page, "instructor lab")

    (shot.folder / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    print(f"formgrader timings (s since start, machine under load): {timings}")
