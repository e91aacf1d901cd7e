"""`mlcasebook reset`: one answer cell or the whole notebook back to the release, after a backup that loses nothing."""

from __future__ import annotations

import json

import pytest

from mlcasebook import cli, lab
from mlcasebook.release import learner_copy
from notebook_fixtures import ROOT

RELEASE = ROOT / "notebooks" / "02_case_studies" / "churn_imbalance.ipynb"


def _ids(nb):
    return [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]]


def _cell(nb, grade_id):
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.fixture
def worked(tmp_path):
    """A learner's copy with two answers written and one answer cell deleted."""
    nb = json.loads(RELEASE.read_text())
    _cell(nb, "churn_metric")["source"] = ['metric = "accuracy"\n']
    _cell(nb, "churn_split")["source"] = ["X_train, X_test, y_train, y_test = my_split()\n"]
    nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "churn_baseline"]
    path = tmp_path / "churn_imbalance.ipynb"
    path.write_text(json.dumps(nb, indent=1))
    return path


def test_one_part_is_reset_and_the_rest_is_kept(worked, capsys):
    before = worked.read_bytes()
    assert cli.main(["reset", str(worked), "metric"]) == 0  # the case prefix may be left out
    nb = json.loads(worked.read_text())
    assert _source(_cell(nb, "churn_metric")) == _source(_cell(json.loads(RELEASE.read_text()), "churn_metric"))
    assert "my_split()" in _source(_cell(nb, "churn_split"))
    backups = list((worked.parent / ".backups").iterdir())
    assert len(backups) == 1 and backups[0].read_bytes() == before
    assert str(backups[0].name) in capsys.readouterr().out


def test_a_deleted_answer_cell_is_put_back_where_the_release_has_it(worked):
    assert cli.main(["reset", str(worked), "churn_baseline"]) == 0
    ids = _ids(json.loads(worked.read_text()))
    assert ids.index("churn_baseline") == ids.index("churn_baseline_check") - 1


def test_the_whole_notebook_is_reset_even_when_it_is_corrupt(worked):
    worked.write_text('{"cells": [')
    assert cli.main(["reset", str(worked), "churn_metric"]) == 2  # one part of an unreadable file: refused
    assert worked.read_text() == '{"cells": ['
    assert cli.main(["reset", str(worked)]) == 0
    assert worked.read_text() == learner_copy(RELEASE)  # the release, with this interpreter's language_info
    assert [b.read_text() for b in (worked.parent / ".backups").iterdir()] == ['{"cells": [']


@pytest.mark.parametrize("args, says", [
    (["nowhere.ipynb"], "does not exist"),
    (["{tmp}/churn_imbalance.ipynb", "nonsense"], "is not an answer cell of this notebook; its parts are: churn_split"),
    ([str(RELEASE)], "is a release file in notebooks/"),
])
def test_bad_input_is_refused_and_changes_nothing(worked, capsys, args, says):
    before = worked.read_bytes()
    args = [a.replace("{tmp}", str(worked.parent)) for a in args]
    assert cli.main(["reset", *args]) == 2
    assert says in capsys.readouterr().err
    assert worked.read_bytes() == before and not (worked.parent / ".backups").exists()
    assert RELEASE.read_text() == (ROOT / "notebooks" / "02_case_studies" / "churn_imbalance.ipynb").read_text()


def test_the_learner_lab_has_no_nbgrader_tools_and_the_instructor_lab_has_them(tmp_path):
    argv, env = lab.learner_command(tmp_path, ["--no-browser"])
    assert f"--ServerApp.root_dir={tmp_path}" in argv and "--LabApp.expose_app_in_browser=True" in argv
    assert "'nbgrader.server_extensions.formgrader': False" in next(a for a in argv if "jpserver_extensions" in a)
    page = json.loads((lab.LEARNER_CONFIG / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {"@jupyter/nbgrader": True}
    assert env["JUPYTER_CONFIG_PATH"].split(":")[0] == str(lab.LEARNER_CONFIG)
    argv, _ = lab.instructor_command(ROOT, [])
    assert "'nbgrader.server_extensions.formgrader': True" in next(a for a in argv if "jpserver_extensions" in a)


def test_lab_passes_jupyter_options_through_but_other_commands_refuse_unknown_ones(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["progress", "--no-browser"])
    assert stop.value.code == 2 and "unrecognized arguments: --no-browser" in capsys.readouterr().err
