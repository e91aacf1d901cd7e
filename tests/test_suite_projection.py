"""benchmarks/suite.py: which tests grow with the curriculum, and the arithmetic of the projection."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import suite  # noqa: E402

NOTEBOOKS = ("drift_detection", "churn_imbalance")


@pytest.mark.parametrize("nodeid, grows", [
    ("tests/test_grading.py::test_fixture_scores_what_it_declares[drift_detection/alerts_pvalue_only]", True),
    ("tests/test_checks_drift.py::test_every_allowed_alert_rule_passes[3]", True),
    ("tests/test_datasets_churn.py::test_rate", True),
    ("tests/test_monitoring_claims.py::test_psi", True),
    ("src/mlcasebook/checks/drift.py::mlcasebook.checks.drift.reference_psi", True),
    ("tests/test_notebook_anatomy.py::test_anatomy[churn_imbalance]", True),
    ("tests/hostile/test_hostile_check.py::test_hostile[B-sleep-forever]", False),
    ("tests/test_cohort.py::test_readme_sequence_with_three_learners", False),
    ("tests/browser/test_formgrader.py::test_formgrader_shows_the_rubric_beside_the_written_answer", False),
])
def test_per_notebook_tests_are_told_from_fixed_ones(nodeid, grows):
    assert suite.per_notebook(nodeid, NOTEBOOKS) is grows


def test_split_reads_pytest_durations_and_skips_nbval_cells():
    output = "\n".join([
        "2.50s call     tests/test_grading.py::test_solution_scores_full_marks[drift_detection]",
        "0.50s setup    tests/test_grading.py::test_solution_scores_full_marks[drift_detection]",
        "10.00s call     tests/test_cohort.py::test_readme_sequence_with_three_learners",
        "4.00s call     solutions/04_monitoring/drift_detection.ipynb::Cell 3",
        "========= 3 passed in 12.50s =========",
    ])
    assert suite.split(output, NOTEBOOKS) == {"per_notebook": 3.0, "fixed": 10.0}
    assert [m.group(1) for m in map(suite._SUMMARY.match, output.splitlines()) if m] == ["12.50"]


def test_projection_scales_the_per_notebook_part_only():
    # 10 notebooks -> 20: per-notebook test-seconds double, fixed ones stay; wall scales like the test-seconds
    out = suite.project(nbval_s=30.0, main_s=100.0, rest_s=5.0, seconds={"per_notebook": 150.0, "fixed": 50.0},
                        today=10, target=20)
    assert out["nbval_seconds"] == 60.0
    assert out["main_seconds"] == pytest.approx(100.0 * (300 + 50) / 200)
    assert out["seconds"] == pytest.approx(60.0 + 175.0 + 5.0)
    assert out["within_budget"]
    assert out["per_notebook_test_seconds_today"] == 15.0
    # the room left: (900 - 60 - 5) s of wall is 835 / 100 * 200 = 1670 test-seconds, 1470 more than today's 200
    assert out["allowed_test_seconds_per_new_notebook"] == pytest.approx(147.0)


def test_per_notebook_seconds_are_attributed_to_their_notebook():
    from mlcasebook import curriculum

    cases = curriculum.cases()
    by = {c.checks: c.notebook for c in cases}
    output = "\n".join([
        "3.00s call     tests/test_grading.py::test_fixture_scores_what_it_declares[drift_detection/alerts_pvalue_only]",
        "2.00s call     tests/test_checks_drift.py::test_every_allowed_alert_rule_passes[3]",
        "1.00s call     tests/test_check_messages.py::test_hidden_style_messages_leak_nothing[retraining_policy_cusum]",
        "4.00s call     tests/test_datasets_churn.py::test_rate",  # churn data: shared by two notebooks
        "9.00s call     tests/test_cohort.py::test_readme_sequence_with_three_learners",  # fixed: not counted
    ])
    got = suite.by_notebook(output, cases)
    assert got["drift_detection"] == 5.0 and got[by["retraining"]] == 1.0
    sharing = [c.notebook for c in cases if "churn" in c.datasets]
    assert len(sharing) >= 2 and all(got[nb] == round(4.0 / len(sharing), 1) for nb in sharing)
    assert sum(got.values()) == pytest.approx(10.0, abs=0.2)
