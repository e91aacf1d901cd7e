"""The misconception table: first matching rung names the mistake; the fallback fires only on a wrong answer."""

from __future__ import annotations

import pytest

from mlcasebook.checks.ladder import Evidence, Ladder, Misconception

LADDER = Ladder(
    Misconception("too_big", lambda e: e.value > 10, "Your value {e.value} is too big."),
    Misconception("negative", lambda e: e.value < 0, "Your value {e.value} is negative."),
    Misconception("wrong_value", None, "Your value {e.value} is not the expected one."),
    passed="Your value {e.value} is right.",
)


@pytest.mark.parametrize("value, correct, status, misconception", [
    (11, False, "failed", "too_big"),
    (11, True, "failed", "too_big"),  # a named mistake is named even when the number happens to be close
    (-1, False, "failed", "negative"),
    (3, False, "failed", "wrong_value"),
    (3, True, "passed", None),
])
def test_first_matching_rung_then_fallback(value, correct, status, misconception):
    result = LADDER.judge("value", Evidence(value=value, correct=correct))
    assert (result.status, result.misconception) == (status, misconception)
    assert str(value) in result.message


def test_lazy_evidence_is_computed_once_and_only_when_asked():
    calls = []
    e = Evidence(value=3).lazy(expensive=lambda: calls.append(1) or 42)
    assert calls == []
    assert e.expensive == 42 and e.expensive == 42
    assert calls == [1]


def test_a_table_is_refused_when_ids_repeat_or_the_fallback_is_not_last():
    with pytest.raises(ValueError, match="twice"):
        Ladder(Misconception("a", lambda e: True, ""), Misconception("a", None, ""), passed="")
    with pytest.raises(ValueError, match="last rung"):
        Ladder(Misconception("a", None, ""), Misconception("b", lambda e: True, ""), passed="")


def test_ids_and_direct_failure():
    assert LADDER.ids == ("too_big", "negative", "wrong_value")
    result = LADDER.fail("value", "negative", Evidence(value=-5))
    assert (result.misconception, result.message) == ("negative", "Your value -5 is negative.")
