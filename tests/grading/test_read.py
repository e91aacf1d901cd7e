"""Which course notebook a learner's file is graded against, and when that deserves a note."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlcasebook.grading.read import find_source, read_notebook

ROOT = Path(__file__).resolve().parents[2]

RELEASE = ROOT / "notebooks" / "02_case_studies" / "churn_imbalance.ipynb"
SOURCE = ROOT / "solutions" / "02_case_studies" / "churn_imbalance.ipynb"


def test_a_copy_keeping_its_name_outside_a_module_folder_gets_no_note(tmp_path):
    path = shutil.copy(RELEASE, tmp_path / "churn_imbalance.ipynb")
    assert find_source(read_notebook(path), path) == (SOURCE, None)


def test_a_renamed_copy_is_graded_by_its_cells_and_says_so(tmp_path):
    path = shutil.copy(RELEASE, tmp_path / "churn_imbalance-Copy1.ipynb")
    source, note = find_source(read_notebook(path), path)
    assert source == SOURCE and note == "Graded as 02_case_studies/churn_imbalance, the case whose graded cells your notebook has."
