"""Assertions for planted wrong answers: the check must fail with exactly the misconception planted.

``tests/test_misconception_coverage.py`` reads the calls of :func:`expect_misconception` (with a literal id)
in ``tests/test_checks_<case>.py`` and the ``[expect.misconceptions]`` of the notebook fixtures, and proves that
every id a check declares is planted somewhere. Every planted message is also checked against its part's answer
(tests/giveaways.py): a failure message names the mistake, never the right choice, value or formula.
"""

from __future__ import annotations

import giveaways
from mlcasebook.checks.result import FAILED


def expect_misconception(result, misconception_id: str) -> None:
    """Assert that ``result`` failed and named ``misconception_id`` (not a neighbouring mistake)."""
    assert result.status == FAILED and result.misconception == misconception_id, (
        f"expected {misconception_id!r}, got {result.status} / {result.misconception!r}: {result.message}")
    leaked = giveaways.found_in(result.message, result.source)
    assert not leaked, f"the message of {misconception_id!r} gives the answer away ({leaked}): {result.message}"
