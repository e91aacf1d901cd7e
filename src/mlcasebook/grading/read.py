"""Read a learner's notebook without trusting it, and find the course notebook it was released from."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from mlcasebook import paths
from mlcasebook.grading.rebuild import grade_id

_RESTORE = ("Your file was left as it is; restore it with JupyterLab's File > Revert Notebook to Checkpoint, "
            "or start again from notebooks/.")


class GradingInputError(Exception):
    """The notebook cannot be graded (missing, corrupt, or not from this course); nothing was changed."""


def _shape_error(data) -> str | None:
    """Why ``data`` (parsed JSON) is not a version-4 notebook, or None."""
    if not isinstance(data, dict):
        return f"its top level is a JSON {type(data).__name__}, not an object with cells"
    if not isinstance(data.get("cells"), list):
        return "it has no list of cells"
    if data.get("nbformat") != 4:
        return f"it is not a version-4 notebook (nbformat = {data.get('nbformat')!r})"
    if not isinstance(data.get("metadata", {}), dict):
        return "its metadata is not an object"
    for number, cell in enumerate(data["cells"], 1):
        if not isinstance(cell, dict):
            return f"cell {number} is not an object"
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            return f"cell {number} has no valid cell_type"
        source = cell.get("source", "")
        if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))):
            return f"the source of cell {number} is not text"
        if not isinstance(cell.get("metadata", {}), dict):
            return f"the metadata of cell {number} is not an object"
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not isinstance(meta, dict):
            return f"the nbgrader metadata of cell {number} is not an object"
    return None


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook, turning every way it can be unreadable into one clear GradingInputError."""
    if not path.exists():
        raise GradingInputError(f"{path} does not exist; give the path of your notebook, e.g. "
                                "workspace/02_case_studies/churn_imbalance.ipynb.")
    if path.is_dir():
        raise GradingInputError(f"{path} is a folder; give the path of one .ipynb notebook inside it.")
    if path.suffix != ".ipynb":
        raise GradingInputError(f"{path} is not a Jupyter notebook (.ipynb).")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GradingInputError(f"{path} cannot be read ({exc.strerror}).") from exc
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark, as some editors write, is fine
    except UnicodeDecodeError as exc:
        raise GradingInputError(f"{path} is not a text notebook (it is not UTF-8). {_RESTORE}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GradingInputError(f"{path} is not valid notebook JSON ({' '.join(str(exc).split())[:120]}). {_RESTORE}") from exc
    problem = _shape_error(data)
    if problem:
        raise GradingInputError(f"{path} is JSON but not a Jupyter notebook: {problem}. {_RESTORE}")
    for cell in data["cells"]:
        cell.setdefault("metadata", {})
        cell.setdefault("source", "")
        if cell["cell_type"] == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    try:
        return nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # pragma: no cover - the checks above cover what nbformat needs
        raise GradingInputError(f"{path} is not a readable notebook ({type(exc).__name__}). {_RESTORE}") from exc


def graded_ids(nb) -> set[str]:
    return {g for g in (grade_id(c) for c in nb.cells) if g} - {"setup"}


def _source_ids(path: Path) -> set[str]:
    """Graded ids of a course notebook, read as plain JSON (nbformat's validation is not needed for our own files)."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return graded_ids(nbformat.from_dict({"cells": cells}))


def find_source(learner, path: Path) -> tuple[Path, str | None]:
    """The solution notebook the learner's notebook was released from, and a note if it was not found by name.

    The graded cell ids decide: a notebook saved under another case's name, or renamed
    (``churn_imbalance-Copy1.ipynb``), is graded against the case whose ids it shares. A notebook that shares
    no graded id with any case (only ``setup``, or none) is refused.
    """
    root = paths.solutions_dir()
    ids = graded_ids(learner)
    if not ids:
        raise GradingInputError(
            f"{path} has none of the graded cells of any notebook in solutions/, so it is not a notebook from this "
            "course (or its nbgrader cell metadata was removed); grade the copy you opened from workspace/ or notebooks/.")
    by_name = root / path.parent.name / path.name
    best, best_overlap = None, 0
    for src in sorted(root.glob("*/*.ipynb")):
        overlap = len(ids & _source_ids(src))
        if overlap > best_overlap or (overlap == best_overlap and overlap and src == by_name):
            best, best_overlap = src, overlap
    if best is None:
        raise GradingInputError(
            f"{path} has none of the graded cells of any notebook in solutions/, so it is not a notebook from this "
            "course; grade the copy you opened from workspace/ or notebooks/.")
    note = None
    other = next(iter(sorted(root.glob(f"*/{path.name}"))), None)
    if best != by_name and best != other:  # (a copy outside workspace/<module>/ keeps its name: nothing to say)
        rel = best.relative_to(root).with_suffix("")
        note = (f"Graded as {rel}: your notebook's graded cells are that case's, although it is saved as "
                f"{other.relative_to(root).with_suffix('')}." if other is not None
                else f"Graded as {rel}, the case whose graded cells your notebook has.")
    return best, note


def release_of(source: Path) -> Path:
    return paths.release_dir() / source.parent.name / source.name
