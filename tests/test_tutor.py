"""The tutor: hints in tiers, model answers only after a try, failure messages that never give the answer."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import tomllib

import pytest

import giveaways
from mlcasebook import curriculum, tutor
from mlcasebook.checks import churn
from mlcasebook.checks import result as check_result
from notebook_fixtures import ROOT

CASES = curriculum.cases(ROOT)


@pytest.fixture(autouse=True)
def fresh_tutor(monkeypatch):
    check_result.SEEN.clear()
    tutor._shown.clear()
    monkeypatch.delenv("MLCASEBOOK_GRADING", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    yield
    check_result.SEEN.clear()
    tutor._shown.clear()


def _parts_of(case):
    return [p for p in tutor.parts().values() if p.case == case and p.kind != "followups"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_answer_cell_has_progressive_hints(case):
    missing = [p.id for p in _parts_of(case) if len(tutor.hints_of(p.id)) < 2]
    assert _parts_of(case), "no answer cells found"
    assert not missing, f"parts with fewer than two hints in src/mlcasebook/hints/{case.notebook}.toml: {missing}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hints_files_name_only_parts_of_their_notebook(case):
    path = tutor.HINTS_DIR / f"{case.notebook}.toml"
    tables = tomllib.loads(path.read_text()) if path.is_file() else {}
    known = {p.id for p in _parts_of(case)}
    assert set(tables) <= known, f"{path.name} has tables for no answer cell: {sorted(set(tables) - known)}"
    for name, table in tables.items():
        assert set(table) <= {"hints", "never"}, f"{name}: unknown keys {sorted(set(table) - {'hints', 'never'})}"
        assert all(isinstance(h, str) and h.strip() for h in table.get("hints", [])), f"{name}: an empty hint"
        # hints are shown as Markdown, where JupyterLab typesets the text between two bare dollars as maths
        assert not any(re.search(r"(?<!\\\\)\$", h) for h in table.get("hints", [])), f"{name}: write money as \\\\$"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_no_hint_and_no_failure_template_gives_the_answer(case):
    """Every sentence a check can fail with (its ladder's templates), and every hint, against its part's answer."""
    module = importlib.import_module(f"mlcasebook.checks.{case.checks}")
    leaks = []
    for _, fn in inspect.getmembers(module, callable):
        if getattr(fn, "ladder", None) is None or fn.__module__ != module.__name__:
            continue
        source = f"{case.checks}.{fn.__name__}"
        for rung in fn.ladder.rungs:
            leaks += [f"{source} / {rung.id}: {hit}" for hit in giveaways.found_in(rung.message, source)]
    for part in _parts_of(case):
        for number, text in enumerate(tutor.hints_of(part.id), start=1):
            leaks += [f"hint {number} of {part.id}: {phrase!r}" for phrase, pattern in giveaways.of_part(part.id, False)
                      if pattern.search(text)]
    assert not leaks, "messages or hints that give the answer away:\n" + "\n".join(leaks)


def test_a_giveaway_is_found_in_a_message_that_states_the_answer():
    """The guard can fail: a sentence that names the right metric is caught, in either spelling."""
    source = "churn.metric_choice"
    assert giveaways.found_in("You should optimise average precision instead.", source)
    assert giveaways.found_in("Use AVERAGE_PRECISION.", source)
    assert not giveaways.found_in("Accuracy rewards the 95 % who stay.", source)


def test_decision_message_names_every_wrong_key_without_the_right_choice():
    result = churn.decision({"metric": "accuracy", "split": "random", "resampling": "inside_pipeline",
                             "probabilities": "raw", "threshold": "nonsense"})
    assert result.misconception == "decision_metric"
    for key in ("metric", "split", "probabilities", "threshold"):
        assert re.search(rf"\b{key}\b", result.message), f"{key} is not named: {result.message}"
    assert "resampling" not in result.message
    assert not giveaways.found_in(result.message, result.source)


def test_hints_come_one_at_a_time_then_stop():
    first, second, third = (tutor.hint("churn_metric") for _ in range(3))
    hints = tutor.hints_of("churn_metric")
    assert first.title.startswith(f"Hint 1 of {len(hints)}") and hints[0] in first.body and hints[1] not in first.body
    assert second.title.startswith(f"Hint 2 of {len(hints)}") and hints[1] in second.body
    if len(hints) == 2:
        assert third.title == second.title and "last hint" in third.body


def test_hint_without_a_part_is_about_the_last_check_run():
    assert "Run a check cell first" in tutor.hint().body
    churn.metric_choice("accuracy")
    assert tutor.hint().title.endswith("churn_metric")


def test_hint_follows_the_last_check_cell_run_even_when_it_failed_before_checking():
    churn.metric_choice("accuracy")  # an earlier check ran ...
    history = ["", "checks.churn.metric_choice(metric)", "checks.churn.split(X_train, X_test, y_train, y_test, "
               "population_rate=y.mean())", "hint()"]  # ... then the split's check cell raised NameError
    assert tutor.part_of_check(tutor._last_check_run(history)) == "churn_split"
    assert tutor._last_check_run(["", "hint()"]) == "churn.metric_choice"  # no check cell in the history
    answer = "best = checks.churn.expected_profit(p, p >= 0.3)"  # an answer cell using a public fact: not a check
    assert tutor._last_check_run(["", "checks.churn.metric_choice(metric)", answer, "hint()"]) == "churn.metric_choice"


def test_an_unknown_part_is_named_with_the_closest_ones():
    note = tutor.hint("churn_metrc")
    assert "no part 'churn_metrc'" in note.body and "'churn_metric'" in note.body


def test_model_answer_only_after_a_try():
    assert tutor.solution("churn_metric").title == "Try churn_metric first"
    churn.metric_choice(None)  # still the stub: not a try
    assert tutor.solution("churn_metric").title == "Try churn_metric first"
    churn.metric_choice("accuracy")
    shown = tutor.solution("churn_metric")
    assert shown.title == "Model answer — churn_metric" and "metric =" in shown.body


def test_a_model_answer_that_is_a_function_body_comes_with_its_def_line():
    churn.undersampling_correction(lambda p_s, beta: p_s)
    shown = tutor.solution("churn_correction")
    assert shown.body.startswith("```python\ndef correct_undersampling(p_s, beta):"), shown.body[:80]


def _saved_copy(tmp_path, edit=None):
    release = ROOT / "notebooks" / "02_case_studies" / "churn_imbalance.ipynb"
    nb = json.loads(release.read_text())
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if edit and gid in edit:
            cell["source"] = edit[gid]
    path = tmp_path / "churn_imbalance.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_written_answer_and_followups_revealed_once_the_saved_answer_was_written(tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(_saved_copy(tmp_path)))
    assert tutor.solution("churn_interview_answer").title.startswith("Try")
    assert tutor.solution("churn_followups").title.startswith("Try")
    monkeypatch.setenv("JPY_SESSION_NAME", str(_saved_copy(tmp_path, {"churn_interview_answer": "I would ..."})))
    assert tutor.solution("churn_interview_answer").title == "Model answer — churn_interview_answer"
    followups = tutor.solution("churn_followups")
    assert followups.title == "Model answer — churn_followups" and "1." in followups.body


def test_no_model_answer_while_grading_or_without_solutions(monkeypatch, tmp_path):
    churn.metric_choice("accuracy")
    monkeypatch.setenv("MLCASEBOOK_GRADING", "1")
    assert tutor.solution("churn_metric").title == "No model answer while grading"
    monkeypatch.delenv("MLCASEBOOK_GRADING")
    monkeypatch.setattr(tutor.paths, "course_root", lambda: tmp_path)  # a cohort's handout: no solutions/
    assert "not part of this installation" in tutor.solution("churn_metric").body


def test_a_failed_check_box_shows_how_to_ask_for_help_and_a_passed_one_does_not():
    failed = churn.metric_choice("accuracy")
    assert 'hint("churn_metric")' in failed._repr_html_() and 'solution("churn_metric")' in failed._repr_html_()
    passed = churn.metric_choice(next(iter(churn.ACCEPTED_METRICS)) if hasattr(churn, "ACCEPTED_METRICS")
                                 else "average_precision")
    assert passed.passed and "hint(" not in passed._repr_html_()
    assert "hint(" not in str(failed)  # the sentence itself stays one sentence
    assert "mathjax_ignore" in failed._repr_html_()  # "$500 ... $50" in a message is not typeset as maths


def test_check_magic_does_nothing_in_a_graded_run_or_outside_a_notebook(monkeypatch, capsys):
    monkeypatch.setenv("MLCASEBOOK_GRADING", "1")
    tutor.check_magic("")
    assert "does nothing while your notebook is being graded" in capsys.readouterr().out
    monkeypatch.delenv("MLCASEBOOK_GRADING")
    tutor.check_magic("")
    assert "cannot tell which notebook this is" in capsys.readouterr().out
