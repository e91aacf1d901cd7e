"""``mlcasebook reset NOTEBOOK [PART]``: put one answer cell, or the whole notebook, back to the release.

Nothing is lost: the file as it was is first copied to ``.backups/<name>.<UTC time>.ipynb`` next to it. A part
is an answer cell's grade id (``churn_metric``; the case's prefix may be left out: ``metric``). A deleted answer
cell is put back where the release has it. A notebook that cannot be read (corrupt JSON) can still be reset whole.
"""

from __future__ import annotations

import copy
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from mlcasebook import curriculum, paths
from mlcasebook.grading.read import GradingInputError, find_source, read_notebook, release_of
from mlcasebook.grading.rebuild import grade_id, nbgrader_meta
from mlcasebook.release import learner_copy


class ResetError(Exception):
    """Nothing was reset (bad path, unknown part, no release): the learner's file is unchanged."""


def backup(path: Path) -> Path:
    """Copy ``path`` to ``.backups/`` beside it, stamped with the time; return the copy's path."""
    folder = path.parent / ".backups"
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{path.stem}.{stamp}{path.suffix}"
    shutil.copy2(path, target)
    return target


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.reset-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # atomic: an interrupted reset leaves the old file or the new one, never half of one


def _release_for(path: Path, nb) -> Path:
    if nb is not None:
        try:
            source, _ = find_source(nb, path)
            return release_of(source)
        except GradingInputError:
            pass
    root = paths.course_root()
    for case in curriculum.cases(root):  # an unreadable file: known by its name
        if case.notebook == path.stem and case.release(root).is_file():
            return case.release(root)
    raise ResetError(f"{path} is not a notebook of this course (no release has its name or its graded cells).")


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ResetError(f"{path} does not exist; give the path of your notebook, e.g. "
                         "workspace/02_case_studies/churn_imbalance.ipynb.")
    if path.is_dir() or path.suffix != ".ipynb":
        raise ResetError(f"{path} is not a notebook file (.ipynb).")
    if paths.release_dir() in path.resolve().parents:
        raise ResetError(f"{path} is a release file in notebooks/; reset your own copy in workspace/.")


def reset(path: Path, part: str | None = None) -> tuple[Path, str]:
    """Reset ``part`` (or everything) of the notebook at ``path``; return the backup and what was reset."""
    path = Path(path)
    _check_path(path)
    try:
        learner = read_notebook(path)
    except GradingInputError:
        learner = None
    release = _release_for(path, learner)
    if part is None:
        saved = backup(path)
        _write(path, learner_copy(release))
        return saved, f"the whole notebook (from {release.relative_to(paths.course_root())})"
    if learner is None:
        raise ResetError(f"{path} cannot be read, so one part cannot be reset; reset the whole notebook with "
                         f"`mlcasebook reset {path}` (your file is kept in .backups/ first).")
    release_nb = read_notebook(release)
    answers = [c for c in release_nb.cells if nbgrader_meta(c).get("solution")]
    wanted = _resolve(part, [grade_id(c) for c in answers])
    fresh = copy.deepcopy(next(c for c in answers if grade_id(c) == wanted))
    cells = learner.cells
    at = next((i for i, c in enumerate(cells) if grade_id(c) == wanted), None)
    if at is not None:
        fresh["id"] = cells[at].get("id", fresh.get("id"))
        cells[at] = fresh
    else:  # deleted: insert before the first later release cell the learner still has
        order = [grade_id(c) for c in release_nb.cells]
        later = order[order.index(wanted) + 1:]
        positions = {grade_id(c): i for i, c in enumerate(cells) if grade_id(c)}
        at = next((positions[g] for g in later if g in positions), len(cells))
        taken = {c.get("id") for c in cells}
        if fresh.get("id") in taken:
            fresh["id"] = f"{wanted}-reset"
        cells.insert(at, fresh)
    saved = backup(path)
    _write(path, nbformat.writes(learner, version=4) + "\n")
    return saved, f"part {wanted}"


def _resolve(part: str, known: list[str]) -> str:
    if part in known:
        return part
    matches = [g for g in known if g.endswith(f"_{part}")]
    if len(matches) == 1:
        return matches[0]
    raise ResetError(f"{part!r} is not an answer cell of this notebook; its parts are: {', '.join(known)}.")
