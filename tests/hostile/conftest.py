"""Fixtures of the hostile-input catalogue: see hostile_support.py."""

from hostile_support import course, graded, shared_dir  # noqa: F401
