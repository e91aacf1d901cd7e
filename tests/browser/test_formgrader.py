"""The instructor's lab (``make instructor``) on a temporary nbgrader course: Formgrader lists the assignment and
the student, and the lab carries nbgrader's menu (the learner's lab must not, see test_learner_lab.py)."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from lab_servers import ROOT, serving

pytestmark = pytest.mark.slow

MODULE, CASE, STUDENT = "02_case_studies", "churn_imbalance", "alice"


@pytest.fixture(scope="module")
def instructor_lab(browser, tmp_path_factory):
    """A course like tests/test_cohort.py's (source, release, the assignment and a student in the gradebook), served by
    :func:`mlcasebook.lab.instructor_command`. (``browser`` first: no Chromium, no course.)"""
    from mlcasebook import lab

    tmp = tmp_path_factory.mktemp("instructor")
    course, scratch = tmp / "course", tmp / "scratch"
    scratch.mkdir()
    shutil.copytree(ROOT / "solutions" / MODULE, course / "solutions" / MODULE)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "notebooks" / MODULE, course / "notebooks" / MODULE)  # the committed release
    from nbgrader.api import Gradebook

    from mlcasebook.release import _venv_on_path

    _venv_on_path()  # a new gradebook runs the venv's `alembic`
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="mlcasebook") as gb:  # nbgrader db ... add, in-process
        gb.add_assignment(MODULE)  # what the Formgrader lists (generate_assignment takes ~20 s more)
        gb.add_student(STUDENT, first_name="Alice", last_name="Example")
    with serving(lab.instructor_command, course, scratch, "instructor-jupyter.log") as running:
        yield running


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
