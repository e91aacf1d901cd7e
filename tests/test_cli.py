"""`mlcasebook check | progress | release | workspace` on good and bad input, on a small course of its own.

The small course (one notebook, three graded parts) keeps each grading run to a couple of seconds, so
every way a learner's notebook can go wrong is tried without executing the big case studies.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from mlcasebook import authoring as A
from mlcasebook import cli

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

MINI = [
    A.md("# Mini case"),
    A.setup("import warnings, sys\nfrom mlcasebook import checks, datasets"),
    A.answer("mini_value", "value = None\n### BEGIN SOLUTION\nvalue = 42\n### END SOLUTION"),
    A.test("mini_value_test", 'with checks.quiet():\n    assert value == 42, "value is not the answer to everything"', points=1),
    A.answer("mini_double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
    A.test("mini_double_test", 'with checks.quiet():\n    assert double(21) == 42, "double(21) should be 42"', points=2),
    A.answer("mini_rows", "n_rows = None\n### BEGIN SOLUTION\nn_rows = len(datasets.load_telco_churn().frame)\n### END SOLUTION"),
    A.test("mini_rows_test", 'with checks.quiet():\n    assert n_rows == 7043, "n_rows is not the number of Telco customers"', points=1),
]


MINI_MANIFEST = """
[[case]]
id = "mini"
module = "00_demo"
notebook = "mini"
title = "A mini case"
question = "Does grading work?"
minutes = 5
checks = "churn"
datasets = ["churn"]
prefix = "mini"
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    (root / "curriculum.toml").write_text(MINI_MANIFEST)
    A.write(A.notebook(MINI), root / "solutions" / "00_demo" / "mini.ipynb")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLCASEBOOK_ROOT", str(root))
    mp.setenv("MLCASEBOOK_DATA", str(ROOT / "data"))
    mp.setenv("MLCASEBOOK_PROGRESS", str(root / "progress.jsonl"))
    assert cli.main(["release"]) == 0
    yield root
    mp.undo()


@pytest.fixture()
def env(course, monkeypatch):
    monkeypatch.setenv("MLCASEBOOK_ROOT", str(course))
    monkeypatch.setenv("MLCASEBOOK_DATA", str(ROOT / "data"))
    monkeypatch.setenv("MLCASEBOOK_PROGRESS", str(course / "progress.jsonl"))
    return course


def learner(course: Path, tmp_path: Path, answers: dict[str, str] | None = None, drop=(), edit=None) -> Path:
    nb = nbformat.read(course / "notebooks" / "00_demo" / "mini.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if answers and gid in answers:
            cell.source = answers[gid]
        if edit and gid in edit:
            cell.source = edit[gid]
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in drop]
    path = tmp_path / "00_demo" / "mini.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


GOOD = {"mini_value": "value = 42", "mini_double": "def double(x):\n    return x + x",
        "mini_rows": "n_rows = len(datasets.load_telco_churn().frame)"}


def check_json(path: Path, capsys, *extra) -> dict:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert cli.main(["check", str(path), "--json", *extra]) == 0
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, "the learner's file was changed"
    out = json.loads(capsys.readouterr().out)
    out["by_id"] = {p["grade_id"]: p for p in out["parts"]}
    return out


def test_full_marks_json_shape_and_table(env, tmp_path, capsys):
    path = learner(env, tmp_path, GOOD)
    out = check_json(path, capsys)
    assert (out["score"], out["max_score"]) == (4, 4)
    assert set(out) >= {"notebook", "score", "max_score", "parts"}
    assert set(out["parts"][0]) == {"grade_id", "points", "max_points", "status", "message", "misconception"}
    assert cli.main(["check", str(path)]) == 0
    table = capsys.readouterr().out
    assert "mini_double_test" in table and "total: 4/4" in table


def test_blank_release_is_not_attempted(env, capsys):
    out = check_json(env / "notebooks" / "00_demo" / "mini.ipynb", capsys)
    assert out["score"] == 0
    assert {p["status"] for p in out["parts"]} == {"not attempted"}


def test_wrong_answer_fails_with_the_test_message_but_never_the_hidden_code(env, tmp_path, capsys):
    path = learner(env, tmp_path, {**GOOD, "mini_value": "value = 41"})
    out = check_json(path, capsys)
    part = out["by_id"]["mini_value_test"]
    assert (part["points"], part["status"]) == (0, "failed")
    assert part["message"] == "value is not the answer to everything"
    assert "assert value == 42" not in json.dumps(out)


def test_corrupt_json_exits_2_and_leaves_file_alone(env, tmp_path, capsys):
    path = tmp_path / "mini.ipynb"
    path.write_text('{"cells": [ {"cell_type": "code", ')
    before = path.read_bytes()
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not valid notebook JSON" in err and "Revert Notebook to Checkpoint" in err
    assert path.read_bytes() == before


@pytest.mark.parametrize("make,needle", [
    (lambda p: p / "missing.ipynb", "does not exist"),
    (lambda p: p, "is a folder"),
    (lambda p: (p / "notes.txt").write_text("hi") and p / "notes.txt", "not a Jupyter notebook"),
])
def test_wrong_paths_exit_2(env, tmp_path, capsys, make, needle):
    assert cli.main(["check", str(make(tmp_path))]) == 2
    assert needle in capsys.readouterr().err


def test_notebook_not_from_this_course(env, tmp_path, capsys):
    path = tmp_path / "holiday_photos.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hi')")]), path)
    assert cli.main(["check", str(path)]) == 2
    assert "not a notebook from this course" in capsys.readouterr().err


def test_edited_and_deleted_test_cells_are_restored_and_said_so(env, tmp_path, capsys):
    path = learner(env, tmp_path, {**GOOD, "mini_value": "value = 7"}, drop=["mini_double_test"],
                   edit={"mini_value_test": "pass  # looks fine to me"})
    out = check_json(path, capsys)
    assert out["by_id"]["mini_value_test"]["points"] == 0          # the edit did not help
    assert out["by_id"]["mini_double_test"]["points"] == 2         # the deleted test was put back and graded
    notes = " ".join(out["notes"])
    assert "mini_value_test was edited" in notes and "mini_double_test was deleted" in notes


# Time-outs (a looping cell, a loop that ignores interrupts) are proven by tests/hostile (B-loop-*, with the
# "timed out" status, the message and the other parts' points asserted), not repeated here.


def test_kernel_crash_is_reported_and_the_rest_graded(env, tmp_path, capsys):
    path = learner(env, tmp_path, {**GOOD, "mini_value": "import os\nos._exit(1)"})
    out = check_json(path, capsys)
    value = out["by_id"]["mini_value_test"]
    assert value["points"] == 0 and "crashed the Python kernel" in value["message"]
    assert out["by_id"]["mini_double_test"]["points"] == 2


def test_missing_data_file_names_the_file(env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLCASEBOOK_DATA", str(tmp_path / "nowhere"))
    out = check_json(learner(env, tmp_path, GOOD), capsys)
    rows = out["by_id"]["mini_rows_test"]
    assert rows["points"] == 0 and rows["status"] == "error"
    assert "telco_churn.csv" in rows["message"] and "git checkout" in rows["message"]
    assert out["by_id"]["mini_double_test"]["points"] == 2


def test_warnings_and_stderr_in_a_test_cell_cost_nothing(env, tmp_path, capsys):
    noisy = ("def double(x):\n    warnings.warn('deprecated, will change', FutureWarning)\n"
             "    print('log line', file=sys.stderr)\n    return 2 * x")
    out = check_json(learner(env, tmp_path, {**GOOD, "mini_double": noisy}), capsys)
    assert out["by_id"]["mini_double_test"]["points"] == 2


def test_progress_shows_latest_and_best(env, tmp_path, capsys):
    check_json(learner(env, tmp_path / "a", GOOD), capsys)
    check_json(learner(env, tmp_path / "b", {**GOOD, "mini_value": "value = 1"}), capsys)
    assert cli.main(["progress", "--json"]) == 0
    rows = {r["notebook"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["00_demo/mini"]["latest"]["score"] == 3
    assert rows["00_demo/mini"]["best"]["score"] == 4
    assert cli.main(["progress"]) == 0
    assert "00_demo/mini" in capsys.readouterr().out


def test_progress_without_a_manifest_says_so(env, capsys, monkeypatch, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", bare)
    monkeypatch.setenv("MLCASEBOOK_ROOT", str(bare))
    assert cli.main(["progress"]) == 2
    assert "no curriculum manifest" in capsys.readouterr().err


def test_release_is_idempotent_and_refuses_to_overwrite_hand_edits(env, capsys):
    release = env / "notebooks" / "00_demo" / "mini.ipynb"
    assert cli.main(["release"]) == 0
    assert "unchanged" in capsys.readouterr().out
    original = release.read_text()
    nb = nbformat.read(release, as_version=4)
    nb.cells[0].source += "\nA note typed into the release by hand."
    nbformat.write(nb, release)
    assert cli.main(["release"]) == 1
    assert "edited by hand" in capsys.readouterr().err
    assert "typed into the release by hand" in release.read_text()
    assert cli.main(["release", "--force"]) == 0
    assert release.read_text() == original


def test_release_of_one_named_notebook_and_of_a_missing_one(env, capsys):
    release = env / "notebooks" / "00_demo" / "mini.ipynb"
    hand_edited = release.read_text().replace("Mini", "Mini, edited by hand", 1)
    release.write_text(hand_edited)
    assert cli.main(["release", "00_demo", "--notebook", "no_such_case"]) == 1
    assert "no notebook no_such_case in solutions/00_demo" in capsys.readouterr().err
    assert release.read_text() == hand_edited
    assert cli.main(["release", "00_demo", "--notebook", "mini", "--force"]) == 0
    assert "edited by hand" not in release.read_text()


def test_release_contains_no_solution_or_hidden_test(env):
    text = (env / "notebooks" / "00_demo" / "mini.ipynb").read_text()
    for secret in ("value = 42", "return 2 * x", "assert value == 42", "BEGIN SOLUTION", "HIDDEN TESTS"):
        assert secret not in text


def test_workspace_copies_new_notebooks_and_never_overwrites(env, capsys):
    assert cli.main(["workspace"]) == 0
    mine = env / "workspace" / "00_demo" / "mini.ipynb"
    mine.write_text(mine.read_text().replace("Mini case", "Mini case — my notes"))
    assert cli.main(["workspace"]) == 0
    assert "my notes" in mine.read_text()
    assert "0 new notebook" in capsys.readouterr().out


def test_help_for_every_command(capsys):
    for command in ("check", "progress", "release", "workspace"):
        with pytest.raises(SystemExit) as info:
            cli.main([command, "--help"])
        assert info.value.code == 0
    assert "hidden tests" in capsys.readouterr().out
