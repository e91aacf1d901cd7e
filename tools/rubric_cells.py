"""Put each written answer's points rubric and model answer where nbgrader's Formgrader shows them.

nbgrader keeps a mark scheme only in a task cell (``ClearMarkScheme.enforce_metadata``), and the Formgrader shows a
locked cell's source from the gradebook, mark scheme included, beside every learner's answer. So the question above
each manually graded answer becomes a 0-point task cell ``<answer id>_rubric`` whose mark scheme holds the points
rubric and the model answer; the answer cell keeps only a pointer in its solution region. ``tutor.solution`` reads
the model answer from there. Idempotent: a notebook already converted is left as it is.

    python tools/rubric_cells.py solutions/*/*.ipynb
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
POINTER = ('*The model answer and its points rubric are in the mark scheme of the question above: the Formgrader shows '
           'them beside each answer, and `solution("{gid}")` shows the model answer once yours is saved.*')


def generated_rubric(points: float) -> str:
    return (f"**Rubric ({points:g} points).** Start from {points:g}; take one point off for each rubric heading above "
            "that the answer misses or gets wrong, down to 0. A figure that contradicts this notebook's results "
            "loses the point of its heading.")


def convert(nb) -> list[str]:
    done = []
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "markdown" or not (meta.get("solution") and meta.get("grade")) or index == 0:
            continue
        prompt = nb.cells[index - 1]
        gid = meta["grade_id"]
        if prompt.metadata.get("nbgrader", {}).get("task"):
            continue
        found = REGION.search(cell.source)
        if prompt.cell_type != "markdown" or prompt.metadata.get("nbgrader") or found is None:
            raise SystemExit(f"{gid}: expected a plain markdown question above and a solution region in the answer")
        model = found.group(1).strip("\n")
        scheme = model if "**Rubric" in model else generated_rubric(float(meta["points"])) + "\n\n" + model
        prompt.source = prompt.source.rstrip("\n") + "\n\n### BEGIN MARK SCHEME\n" + scheme + "\n### END MARK SCHEME"
        prompt.metadata["nbgrader"] = {"grade": False, "grade_id": f"{gid}_rubric", "locked": True, "points": 0,
                                       "schema_version": 3, "solution": False, "task": True}
        cell.source = "### BEGIN SOLUTION\n" + POINTER.format(gid=gid) + "\n### END SOLUTION"
        done.append(gid)
    return done


def main(argv: list[str]) -> int:
    for name in argv:
        path = Path(name)
        nb = nbformat.read(path, as_version=4)
        done = convert(nb)
        if done:
            nbformat.write(nb, path)
            print(f"{path}: {', '.join(done)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
