"""Grading is valid: the solution scores full marks, the blank release scores 0 without crashing,
and every fixture submission scores exactly what it declares, with feedback naming the mistake."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlcasebook import curriculum, grading
from notebook_fixtures import ROOT, build_submission, expected_points, fixture_files, load, release_of

SOLUTIONS = [case.source(ROOT) for case in curriculum.cases(ROOT)]
pytestmark = pytest.mark.slow


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_scores_full_marks(source):
    before = _digest(source)
    report = grading.grade(source)
    failing = [(p.grade_id, p.status, p.message) for p in report.parts if p.status not in ("passed", "manual")]
    assert not failing, failing
    assert report.score == report.max_score > 0
    assert _digest(source) == before, "grading changed the graded file"


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_blank_release_scores_zero_without_crashing(source):
    release = release_of(source)
    report = grading.grade(release)
    assert report.max_score > 0
    assert report.score == 0
    # the automatic total counts test cells only, also when a written answer is still blank
    import nbformat

    meta = [c.metadata.get("nbgrader", {}) for c in nbformat.read(source, as_version=4).cells]
    assert report.max_score == sum(m.get("points", 0) for m in meta if m.get("grade") and not m.get("solution"))
    auto = [p for p in report.parts if p.status != "manual"]
    assert all(p.status == "not attempted" for p in auto), [(p.grade_id, p.status, p.message) for p in auto]


@pytest.mark.parametrize("fixture", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_scores_what_it_declares(fixture, tmp_path):
    spec = load(fixture)
    submission = build_submission(fixture, tmp_path)
    before = _digest(submission)
    report = grading.grade(submission, timeout=float(spec.get("timeout", grading.DEFAULT_TIMEOUT)))
    parts = {p.grade_id: p for p in report.parts}
    expected = expected_points(spec)
    unknown = set(expected) - set(parts)
    assert not unknown, f"fixture names unknown test cells {unknown}"
    detail = {gid: (parts[gid].points, parts[gid].status, parts[gid].message) for gid in expected}
    assert {gid: parts[gid].points for gid in expected} == expected, detail
    for gid, needle in spec["expect"].get("messages", {}).items():
        assert needle.lower() in parts[gid].message.lower(), (gid, parts[gid].message)
    for gid, misconception in spec["expect"].get("misconceptions", {}).items():
        assert parts[gid].misconception == misconception, (gid, parts[gid].misconception, parts[gid].message)
    if "total" in spec:
        assert report.score == spec["total"], (report.score, detail)
    for note in spec.get("notes", []):
        assert any(note.lower() in n.lower() for n in report.notes), report.notes
    assert _digest(submission) == before, "grading changed the learner's file"
