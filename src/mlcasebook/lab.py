"""Start JupyterLab for a learner (``mlcasebook lab``) or an instructor (``mlcasebook instructor``).

The learner's lab is rooted at ``workspace/`` and has none of nbgrader's tools: its instructor plugins only error
there ("Error fetching courses!") and its Validate button runs nbgrader's tests, not ours, so it said "Success!"
on notebooks that ``mlcasebook check`` scores 14/20. Grading in the lab is ``%check`` (:mod:`mlcasebook.tutor`).
The app object is exposed to the page (``expose_app_in_browser``) so ``%check`` can ask the page to save first.

The instructor's lab is rooted at the course root, where nbgrader's Formgrader finds ``source/`` (``solutions/``),
the release folder and ``gradebook.db``, with every nbgrader extension enabled.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)
LEARNER_CONFIG = Path(__file__).with_name("labconfig") / "learner"


def _jupyter() -> str:
    candidate = Path(sys.executable).with_name("jupyter")
    return str(candidate) if candidate.exists() else "jupyter"


def _root_flag() -> list[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def learner_command(root: Path, extra: list[str] = ()) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the learner's JupyterLab, rooted at ``root``."""
    disabled = ",".join(f"'{name}': False" for name in _NBGRADER_SERVER_EXTENSIONS)
    argv = [_jupyter(), "lab", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
            f"--LabApp.app_settings_dir={LEARNER_CONFIG / 'settings'}",  # overrides.json: no "news?" pop-up
            f"--ServerApp.jpserver_extensions={{{disabled}}}", *_root_flag(), *extra]
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(LEARNER_CONFIG), env.get("JUPYTER_CONFIG_PATH")) if p)
    return argv, env


def instructor_command(course: Path, extra: list[str] = ()) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the instructor's JupyterLab (Formgrader), rooted at the course."""
    enabled = ",".join(f"'{name}': True" for name in _NBGRADER_SERVER_EXTENSIONS)
    argv = [_jupyter(), "lab", f"--ServerApp.root_dir={course}", f"--ServerApp.jpserver_extensions={{{enabled}}}",
            *_root_flag(), *extra]
    return argv, dict(os.environ)


def run(argv: list[str], env: dict[str, str], cwd: Path) -> int:
    """Replace this process with JupyterLab (Ctrl-C then reaches JupyterLab alone)."""
    os.chdir(cwd)
    os.execvpe(argv[0], argv, env)
    return 0  # pragma: no cover
