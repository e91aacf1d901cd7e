"""Where the course lives on disk: the repository root, its data, solutions and releases.

The package is installed in editable mode from the repository, so the course root is
two levels above this file. ``MLCASEBOOK_ROOT`` and ``MLCASEBOOK_DATA`` override it
(nbgrader runs kernels in ``autograded/<learner>/<assignment>/``, so nothing here may
depend on the working directory).
"""

from __future__ import annotations

import os
from pathlib import Path


class CourseNotFoundError(RuntimeError):
    """The course repository (solutions/, notebooks/, data/) cannot be located."""


def course_root() -> Path:
    """Return the repository root holding ``nbgrader_config.py``."""
    env = os.environ.get("MLCASEBOOK_ROOT")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / "nbgrader_config.py").is_file():
            raise CourseNotFoundError(
                f"MLCASEBOOK_ROOT={env} has no nbgrader_config.py; point it at the mlcasebook repository."
            )
        return root
    root = Path(__file__).resolve().parents[2]
    if (root / "nbgrader_config.py").is_file():
        return root
    raise CourseNotFoundError(
        "Cannot find the mlcasebook repository next to the installed package; install it with "
        "`pip install -e .` from a clone, or set MLCASEBOOK_ROOT to the clone's path."
    )


def data_dir() -> Path:
    """Return the folder with the shipped data files (``MLCASEBOOK_DATA`` overrides)."""
    env = os.environ.get("MLCASEBOOK_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return course_root() / "data"


def solutions_dir() -> Path:
    return course_root() / "solutions"


def release_dir() -> Path:
    return course_root() / "notebooks"


def workspace_dir() -> Path:
    return course_root() / "workspace"
