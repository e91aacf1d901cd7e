"""The anatomy every course notebook shares (CONVENTIONS.md): checked on the source and the release.

Rules about the text (dollar signs, headings, stubs, names the text refers to) live in test_notebook_lint.py.
"""

from __future__ import annotations

import nbformat
import pytest

from mlcasebook import curriculum
from notebook_fixtures import ROOT

NOTEBOOKS = [p for case in curriculum.cases(ROOT) for p in (case.source(ROOT), case.release(ROOT))]
SKIPPING_TAGS = {"nbval-skip", "skip-execution"}


def _ids(path):
    return f"{path.parent.parent.name}/{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_every_demo_cell_runs_under_nbval(path):
    """No cell is skipped. In the source only answer cells may raise (nbval runs every demo cell strictly there);
    in the release, a demo cell may also raise when it uses a name an answer cell defines (added by `release`)."""
    nb = nbformat.read(path, as_version=4)
    is_source = path.is_relative_to(ROOT / "solutions")
    bad = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        is_answer = cell.metadata.get("nbgrader", {}).get("solution", False)
        if tags & SKIPPING_TAGS or ("raises-exception" in tags and not is_answer and is_source):
            bad.append((i, cell.metadata.get("nbgrader", {}).get("grade_id"), sorted(tags)))
    assert not bad, f"demo cells that nbval would not run, or may let fail: {bad}"
