"""Grading: a learner's notebook against its source in solutions/, hidden tests outside the learner's process.

The entry points live in :mod:`mlcasebook.grading.api` and are loaded on first use, so the modules the
learner's kernel and the verdict process import (``agent``, ``channel``, ``public_checks``, ``jail``) do not
pull in nbclient and nbgrader.
"""

from __future__ import annotations

_API = {"grade", "grade_notebook", "check_timeout", "Report", "Part", "GradingInputError", "GradingAborted",
        "DEFAULT_TIMEOUT", "DEFAULT_MEMORY_MB", "PASSED", "FAILED", "ERROR", "TIMED_OUT", "NOT_ATTEMPTED", "MANUAL"}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        from mlcasebook.grading import api

        return getattr(api, name)
    raise AttributeError(f"module 'mlcasebook.grading' has no attribute {name!r}")
