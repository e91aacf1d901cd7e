"""What ``mlcasebook.checks`` looks like inside the grading sandbox: public facts only, checks stood in for.

In a graded copy public check cells are not run (they cannot change a score, and their reference answers
must not be importable by the learner's code). The notebooks' visible cells still import ``checks`` and read
its public facts (``checks.churn.VALUE``; they live in :mod:`mlcasebook.cases`), and a learner may call a check
from an answer cell: such a call returns :class:`SkippedCheck`, which says so, instead of failing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import warnings

CHECK_MODULES = (
    "ab_design", "ab_pitfalls", "bias_variance", "churn", "metrics", "residuals", "decisions",
    "drift", "degradation", "retraining", "pipelines", "latency", "ranking", "design",
)


class SkippedCheck:
    """The result of a public check called in a graded copy: not run; the hidden tests decide."""

    status, passed, misconception = "skipped", True, None
    message = "public checks do not run in a graded copy; the hidden tests decide this part"

    def __bool__(self) -> bool:
        return True

    def require(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"… check skipped: {self.message}"


def _skipped(*_args, **_kwargs) -> SkippedCheck:
    return SkippedCheck()


def stand_in(name: str):
    """Module ``__getattr__`` of the stub modules: any name that is not a public fact is a skipped check."""
    if name.startswith("__"):
        raise AttributeError(name)
    return _skipped


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def stub_modules() -> dict[str, str]:
    """Source of each module of the stub package, by module name (``__init__`` included)."""
    header = '"""Grading sandbox: the public face of mlcasebook.checks (see mlcasebook.grading.public_checks)."""\n'
    modules = {}
    for name in CHECK_MODULES:
        text = header + "from mlcasebook.grading.public_checks import stand_in as __getattr__  # noqa: F401\n"
        if importlib.util.find_spec(f"mlcasebook.cases.{name}") is not None:
            text += f"from mlcasebook.cases.{name} import *  # noqa: F401,F403\n"
        modules[name] = text
    modules["__init__"] = (header + f"from . import {', '.join(CHECK_MODULES)}  # noqa: F401\n"
                           "from mlcasebook.grading.public_checks import SkippedCheck, quiet  # noqa: F401\n"
                           "from mlcasebook.grading.public_checks import stand_in as __getattr__  # noqa: F401\n")
    return modules
