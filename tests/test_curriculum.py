"""The curriculum manifest is the one list of cases: files, names and the README follow it."""

from __future__ import annotations

import importlib

import nbformat
import pytest

from mlcasebook import curriculum
from notebook_fixtures import ROOT, SUBMISSIONS

CASES = curriculum.cases(ROOT)


def test_every_course_notebook_is_in_the_manifest_and_back():
    on_disk = {f"{p.parent.name}/{p.stem}" for p in (ROOT / "solutions").glob("*/*.ipynb")}
    assert on_disk == {c.key for c in CASES}
    released = {f"{p.parent.name}/{p.stem}" for p in (ROOT / "notebooks").glob("*/*.ipynb")}
    assert released == on_disk


def test_fixture_folders_are_cases():
    folders = {f"{p.parent.name}/{p.name}" for p in SUBMISSIONS.glob("*/*") if p.is_dir()}
    assert folders <= {c.key for c in CASES}, folders - {c.key for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_names_line_up(case):
    importlib.import_module(f"mlcasebook.checks.{case.checks}")
    for name in case.datasets:
        importlib.import_module(f"mlcasebook.datasets.{name}")
    assert (ROOT / "tests" / f"test_checks_{case.checks}.py").is_file()
    nb = nbformat.read(case.source(ROOT), as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
    off = [i for i in ids if i != "setup" and not i.startswith(case.prefix + "_")]
    assert not off, f"grade ids without the prefix {case.prefix}_: {off}"
    used = {line.split("checks.")[1].split(".")[0] for c in nb.cells for line in c.source.splitlines()
            if "checks." in line and line.split("checks.")[1].split(".")[0].isidentifier()}
    assert used - {"quiet", case.checks} == set(), f"{case.notebook} uses other cases' checks: {used}"


def test_readme_table_is_the_manifest():
    readme = (ROOT / "README.md").read_text()
    assert curriculum.readme_table(ROOT) in readme, "regenerate the README's curriculum table from curriculum.toml"


@pytest.mark.parametrize("text, message", [
    ('[[case]]\nid = "x"\n', "has no module"),
    ("[[case]\n", "not valid TOML"),
])
def test_a_broken_manifest_names_the_problem(text, message):
    with pytest.raises(curriculum.ManifestError, match=message):
        curriculum.parse(text)


def test_a_repeated_name_is_refused():
    entry = ('[[case]]\nid = "a"\nmodule = "m"\nnotebook = "n"\ntitle = "t"\nquestion = "q"\nminutes = 1\n'
             'checks = "c"\ndatasets = []\nprefix = "p"\n')
    with pytest.raises(curriculum.ManifestError, match="share the id"):
        curriculum.parse(entry + entry)
