"""Generate learner releases (notebooks/) from the sources (solutions/) with nbgrader.

Each release notebook carries a stamp (``metadata.mlcasebook.release_sha256``): the hash of its own
content. A release file whose content still matches its stamp was written by this command and
may be regenerated; one that does not (hand-edited, or used as a workspace) is left alone unless
``force`` is given.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlcasebook import paths


class ReleaseError(RuntimeError):
    """nbgrader could not generate a release (e.g. duplicate grade ids in a source notebook)."""


@dataclass
class Outcome:
    path: Path
    action: str  # "unchanged" | "written" | "refused"
    reason: str = ""


def _content_hash(nb: nbformat.NotebookNode) -> str:
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.metadata.pop("mlcasebook", None)
    return hashlib.sha256(nbformat.writes(nb).encode()).hexdigest()


def stamp(nb: nbformat.NotebookNode) -> str:
    nb.metadata["mlcasebook"] = {"release_sha256": _content_hash(nb)}
    return nbformat.writes(nb) + "\n"


def is_untouched(path: Path) -> bool:
    """True if a release file still matches the stamp it was written with."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return False
    recorded = nb.metadata.get("mlcasebook", {}).get("release_sha256")
    return recorded is not None and recorded == _content_hash(nb)


def assignments() -> list[str]:
    return sorted(p.name for p in paths.solutions_dir().iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _venv_on_path() -> None:
    """nbgrader runs `alembic` as a subprocess: make the interpreter's own scripts folder findable."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def generate(assignment_ids: list[str] | None = None, notebooks: list[str] | None = None) -> dict[Path, str]:
    """Run nbgrader generate_assignment in a scratch course; return {release path: file text}.

    ``notebooks`` (names without ``.ipynb``) limits each module to those notebooks."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    _venv_on_path()
    ids = assignment_ids or assignments()
    with tempfile.TemporaryDirectory(prefix="mlcasebook-release-") as tmp:
        root = Path(tmp)
        for aid in ids:
            src = paths.solutions_dir() / aid
            if not src.is_dir():
                raise FileNotFoundError(f"no module folder solutions/{aid}")
            dest = root / "source" / aid
            dest.mkdir(parents=True)
            for nb_path in sorted(src.glob("*.ipynb")):
                if notebooks is None or nb_path.stem in notebooks:
                    shutil.copy2(nb_path, dest / nb_path.name)
            if not any(dest.iterdir()):
                raise FileNotFoundError(f"no notebook {', '.join(notebooks or [])} in solutions/{aid}")
        config = Config()
        config.CourseDirectory.root = str(root)
        config.CourseDirectory.course_id = "mlcasebook"
        config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
        config.GenerateAssignment.create_assignment = True
        config.Exchange.root = str(root / "exchange")  # unused, but nbgrader complains if the default is unwritable
        api = NbGraderAPI(config=config)
        out: dict[Path, str] = {}
        for aid in ids:
            result = api.generate_assignment(aid, force=True)
            if not result.get("success"):
                raise ReleaseError(f"nbgrader generate_assignment {aid} failed:\n{result.get('log', '')}\n{result.get('error', '')}")
            for nb_path in sorted((root / "release" / aid).glob("*.ipynb")):
                nb = nbformat.read(nb_path, as_version=4)
                tag_cells_that_need_answers(nb)
                out[paths.release_dir() / aid / nb_path.name] = stamp(nb)
    return out


NEEDS_ANSWER_TAG = "raises-exception"  # nbval: this cell may raise (in the release, an answer it uses is a stub)


def _assigned(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _loaded(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def tag_cells_that_need_answers(nb: nbformat.NotebookNode) -> None:
    """Let nbval run the release: a demo cell that uses a name an answer cell defines may raise there (the answer
    is still a stub), so it gets the ``raises-exception`` tag. The source carries no such tag, so nbval on
    solutions/ runs every demo cell strictly."""
    answers: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            answers |= _assigned(cell.source)
        elif not meta and _loaded(cell.source) & answers:  # a plain demo cell (check cells must cope with stubs)
            tags = cell.metadata.setdefault("tags", [])
            if NEEDS_ANSWER_TAG not in tags:
                tags.append(NEEDS_ANSWER_TAG)


def release(*, force: bool = False, assignment_ids: list[str] | None = None,
            notebooks: list[str] | None = None) -> list[Outcome]:
    outcomes = []
    for path, text in generate(assignment_ids, notebooks).items():
        if path.is_file() and path.read_text() == text:
            outcomes.append(Outcome(path, "unchanged"))
            continue
        if path.is_file() and not force and not is_untouched(path):
            outcomes.append(Outcome(path, "refused", "it was edited by hand since it was generated; "
                                    "move your edits to solutions/ or pass --force to overwrite"))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        outcomes.append(Outcome(path, "written"))
    return outcomes


def learner_copy(release_path: Path) -> str:
    """A release notebook as the learner's copy: with this interpreter's full ``language_info``.

    Releases carry ``{"name": "python"}`` (they are the same on every machine); JupyterLab replaces it with the
    kernel's full record (version, mimetype, ...) when the kernel starts, which marked every freshly opened
    notebook as modified. The learner's kernel runs on this interpreter, so the copy gets its record up front.
    """
    from ipykernel.ipkernel import IPythonKernel

    nb = nbformat.read(release_path, as_version=4)
    nb.metadata["language_info"] = dict(IPythonKernel.language_info)
    return nbformat.writes(nb) + "\n"


def sync_workspace() -> list[Path]:
    """Copy each release notebook into workspace/ where the learner has no copy yet; return the new copies."""
    added = []
    for src in sorted(paths.release_dir().glob("*/*.ipynb")):
        dest = paths.workspace_dir() / src.parent.name / src.name
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(learner_copy(src), encoding="utf-8")
        shutil.copystat(src, dest)
        added.append(dest)
    return added
