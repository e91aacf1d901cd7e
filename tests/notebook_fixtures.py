"""Build learner submissions from fixture files (tests/submissions/<module>/<case>/<name>.toml).

A fixture lists the answer cells it changes (by grade_id) on top of a base notebook — the solution
(default) or the blank release (``base = "release"``) — and the points each test cell must score:

    description = "..."
    base = "solution"            # or "release"
    timeout = 60                 # optional per-cell timeout for grading
    delete_cells = ["..._test"]  # optional: cells the learner deleted
    [cells.<answer grade_id>]
    source = '''...'''
    [expect]
    <test grade_id> = <points>
    [expect.messages]
    <test grade_id> = "substring the feedback must contain"
    [expect.misconceptions]
    <test grade_id> = "the misconception id the part must report"
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat

from mlcasebook.grading import zygote

# The suite grades as a cohort worker does: kernels and verdict processes fork from pre-imported zygotes
# (mlcasebook.grading.zygote), one pair per test process, started by the first grading that needs them.
# The subprocess cases of the hostile catalogue and the CLI tests start theirs cold, as `mlcasebook check` does.
zygote.enable()

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"


def fixture_files() -> list[Path]:
    return sorted(SUBMISSIONS.glob("*/*/*.toml"))


def source_of(fixture: Path) -> Path:
    return ROOT / "solutions" / fixture.parent.parent.name / f"{fixture.parent.name}.ipynb"


def release_of(source: Path) -> Path:
    return ROOT / "notebooks" / source.parent.name / source.name


def load(fixture: Path) -> dict:
    with fixture.open("rb") as fh:
        spec = tomllib.load(fh)
    if "expect" not in spec or not spec["expect"]:
        raise ValueError(f"{fixture}: a fixture must declare [expect] points")
    return spec


def expected_points(spec: dict) -> dict[str, float]:
    """The points each test cell must score (``[expect]`` without its messages and misconceptions tables)."""
    return {k: float(v) for k, v in spec["expect"].items() if k not in ("messages", "misconceptions")}


def build_submission(fixture: Path, dest: Path) -> Path:
    """Write the learner notebook a fixture describes into ``dest`` (same module/case layout)."""
    spec = load(fixture)
    source = source_of(fixture)
    base = release_of(source) if spec.get("base", "solution") == "release" else source
    nb = nbformat.read(base, as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    for gid, change in spec.get("cells", {}).items():
        if gid not in by_id:
            raise KeyError(f"{fixture.name}: no cell with grade_id {gid} in {base}")
        if not by_id[gid].metadata["nbgrader"].get("solution"):
            raise ValueError(f"{fixture.name}: {gid} is not an answer cell; fixtures change answers only")
        by_id[gid].source = change["source"].strip("\n")
    drop = set(spec.get("delete_cells", []))
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in drop]
    out = dest / source.parent.name / source.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out
