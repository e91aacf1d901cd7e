"""Split markdown cells so that every heading starts its own cell (CONVENTIONS.md: "a heading starts its cell").

    python tools/split_headings.py solutions/01_fundamentals/bias_variance_regularization.ipynb ...

Only plain markdown cells are split (cells with nbgrader metadata keep their shape); text before a heading stays
in the cell it was in. Run `mlcasebook release` afterwards.
"""

from __future__ import annotations

import sys
import uuid

import nbformat

from mlcasebook.authoring import HEADING


def split(source: str) -> list[str]:
    parts, current, fenced = [], [], False
    for line in source.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and HEADING.match(line) and any(x.strip() for x in current):
            parts.append("\n".join(current).strip("\n"))
            current = []
        current.append(line)
    parts.append("\n".join(current).strip("\n"))
    return [p for p in parts if p.strip()]


def main(paths: list[str]) -> int:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = []
        for cell in nb.cells:
            if cell.cell_type != "markdown" or "nbgrader" in cell.metadata:
                cells.append(cell)
                continue
            pieces = split(cell.source)
            cell.source = pieces[0] if pieces else cell.source
            cells.append(cell)
            for piece in pieces[1:]:
                new = nbformat.v4.new_markdown_cell(piece)
                new.id = uuid.uuid4().hex[:8]
                cells.append(new)
        added = len(cells) - len(nb.cells)
        nb.cells = cells
        nbformat.write(nb, path)
        print(f"{path}: {added} cell(s) added")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
