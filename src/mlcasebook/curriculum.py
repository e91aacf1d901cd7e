"""The curriculum manifest (``curriculum.toml`` at the course root): one entry per case study.

Everything that lists the course — ``mlcasebook progress``, the README's curriculum table, the tests — reads
it, so adding a notebook is one entry plus its files (see the manifest's header).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlcasebook import paths

FIELDS = ("id", "module", "notebook", "title", "question", "minutes", "checks", "datasets", "prefix")


class ManifestError(RuntimeError):
    """curriculum.toml is missing a field, repeats a name, or has a wrong type."""


@dataclass(frozen=True)
class Case:
    id: str
    module: str
    notebook: str
    title: str
    question: str
    minutes: int
    checks: str
    datasets: tuple[str, ...]
    prefix: str

    @property
    def key(self) -> str:
        """``module/notebook``, as the progress table and the fixtures name a case."""
        return f"{self.module}/{self.notebook}"

    def source(self, root: Path | None = None) -> Path:
        return (root or paths.course_root()) / "solutions" / self.module / f"{self.notebook}.ipynb"

    def release(self, root: Path | None = None) -> Path:
        return (root or paths.course_root()) / "notebooks" / self.module / f"{self.notebook}.ipynb"


def manifest_path(root: Path | None = None) -> Path:
    return (root or paths.course_root()) / "curriculum.toml"


def parse(text: str, where: str = "curriculum.toml") -> list[Case]:
    try:
        entries = tomllib.loads(text).get("case", [])
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{where} is not valid TOML: {exc}") from None
    cases = []
    for number, entry in enumerate(entries, 1):
        missing = [f for f in FIELDS if f not in entry]
        if missing:
            raise ManifestError(f"{where}: case {number} has no {', '.join(missing)}")
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise ManifestError(f"{where}: case {entry['id']!r} has unknown fields {unknown}")
        if not isinstance(entry["minutes"], int) or not isinstance(entry["datasets"], list):
            raise ManifestError(f"{where}: case {entry['id']!r}: minutes is a whole number, datasets a list")
        cases.append(Case(**{**entry, "datasets": tuple(entry["datasets"])}))
    for field in ("id", "notebook", "checks", "prefix"):
        names = [getattr(c, field) for c in cases]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ManifestError(f"{where}: two cases share the {field} {repeated}")
    return cases


@cache
def _cached(path: Path, mtime: float) -> tuple[Case, ...]:
    return tuple(parse(path.read_text(encoding="utf-8"), str(path)))


def cases(root: Path | None = None) -> tuple[Case, ...]:
    """The cases, in the order a learner takes them."""
    path = manifest_path(root)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        raise ManifestError(f"the course has no curriculum manifest at {path}") from None
    return _cached(path, mtime)


def readme_table(root: Path | None = None) -> str:
    """The README's curriculum table (a test keeps the README identical to it)."""
    rows = ["| module | notebook | the interview question | time |", "|---|---|---|---|"]
    rows += [f"| {c.module} | {c.notebook} | {c.question} | {c.minutes} min |" for c in cases(root)]
    return "\n".join(rows)
