"""Rebuild the notebook to grade from its source, and say which process runs each cell.

Answer cells keep the learner's text under the source's metadata; locked and test cells come from
solutions/ (hidden tests included): edited ones are restored, deleted ones re-inserted in their original
place, and each repair is said in a note.
"""

from __future__ import annotations

import ast
import copy

import nbformat

ANSWER, KERNEL, TEST, SKIP, TEXT = "answer", "kernel", "test", "skip", "text"


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def kind_of(cell) -> str:
    """Where a cell runs when graded: ``answer``/``kernel`` in the learner's kernel, ``test`` in the verdict
    process, ``skip`` for public check cells (they only show a check's result and cannot change a score)."""
    if cell.get("cell_type") != "code":
        return TEXT
    meta = nbgrader_meta(cell)
    if meta.get("solution"):
        return ANSWER
    if meta.get("grade"):
        return TEST
    if meta.get("locked") and _public_check(cell.get("source", "")):
        return SKIP
    return KERNEL


def _public_check(source: str) -> bool:
    """Only expressions (no assignment, import or definition) and at least one call of ``checks.…``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body or not all(isinstance(stmt, ast.Expr) for stmt in tree.body):
        return False
    return any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "checks"
               for n in ast.walk(tree))


def rebuild(source_nb, learner_nb, release_nb=None) -> tuple[nbformat.NotebookNode, list[str]]:
    """Return the notebook to execute and the notes on what was repaired."""
    source_cells = {grade_id(c): c for c in source_nb.cells if grade_id(c)}
    order = [g for g in (grade_id(c) for c in source_nb.cells) if g]
    released = {grade_id(c): c for c in release_nb.cells if grade_id(c)} if release_nb is not None else {}
    notes: list[str] = []
    out, seen = [], set()
    for cell in learner_nb.cells:
        gid = grade_id(cell)
        if gid is None or gid not in source_cells:
            fresh = copy.deepcopy(cell)
            if isinstance(fresh.get("metadata"), dict):
                fresh["metadata"].pop("nbgrader", None)
            out.append(fresh)
            continue
        if gid in seen:
            notes.append(f"Cell {gid} appears twice in your notebook; only the first copy was graded.")
            continue
        seen.add(gid)
        src = source_cells[gid]
        if nbgrader_meta(src).get("solution"):
            new = copy.deepcopy(src)
            new.source = cell.get("source", "")
            if new.cell_type != cell.get("cell_type"):
                notes.append(f"Answer cell {gid} changed type to {cell.get('cell_type')}; it was graded as {new.cell_type}.")
            out.append(new)
        else:
            text = cell.get("source", "").strip()
            if gid in released and text not in (released[gid].source.strip(), src.source.strip()):
                notes.append(f"Locked cell {gid} was edited; it was restored from the course before grading.")
            out.append(copy.deepcopy(src))
    for position, gid in enumerate(order):
        if gid in seen:
            continue
        src = source_cells[gid]
        new = copy.deepcopy(src)
        if nbgrader_meta(src).get("solution"):
            new.source = released[gid].source if gid in released else ""
            notes.append(f"Answer cell {gid} was missing; the empty release cell was put back, so its part scores 0.")
        else:
            notes.append(f"Cell {gid} was deleted; it was re-inserted from the course and graded.")
        previous = order[:position]
        index = 0
        for i, cell in enumerate(out):
            if grade_id(cell) in previous:
                index = i + 1
        out.insert(index, new)
        seen.add(gid)
    nb = copy.deepcopy(source_nb)
    nb.cells = out
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, notes


def setup_source(source_nb) -> str:
    """The source notebook's ``setup`` cell: the verdict process runs it too, so hidden tests use its names."""
    for cell in source_nb.cells:
        if grade_id(cell) == "setup" and cell.cell_type == "code":
            return cell.source
    return ""
