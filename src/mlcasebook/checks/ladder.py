"""Misconception tables: what a check can detect, declared as data, most specific first.

A check gathers its *evidence* (what the learner's answer did on the hidden data: values, flags, fitted sizes)
and hands it to its :class:`Ladder`. The first :class:`Misconception` whose detector is true names the mistake;
when none is, the check passes. The last rung may be a generic fallback (``detect=None``), so an answer that is
wrong in a way nobody foresaw still fails, with a sentence that claims no cause: it fires when reached unless
the evidence says ``correct=True`` (or the check returned its pass before judging).

    PIPELINE = Ladder(
        Misconception("resampled_outside_cv", lambda e: e.fitted_rows > e.train_rows,
                      "Your pipeline was fitted on {e.fitted_rows} rows, more than the training split has ..."),
        Misconception("wrong_value", None, "Your value is not ..."),
        passed="Your pipeline was fitted on the {e.train_rows} training rows only.",
    )

    @check("pipeline", stub_hint="...", ladder=PIPELINE)
    def pipeline(name, model, X_train):
        rows = ...
        return PIPELINE.judge(name, Evidence(fitted_rows=rows, train_rows=len(X_train), correct=...))

Messages are ``str.format`` templates over the evidence as ``e``. Detectors run in order and may rely on the
earlier ones having been false. ``Ladder.ids`` lists what the check declares; the tests prove each id has a
planted answer that produces exactly it (tests/test_misconception_coverage.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from mlcasebook.checks.result import CheckResult, failed, passed


class Evidence(SimpleNamespace):
    """What a check saw, by name. Fields may be computed lazily with :meth:`lazy` (run at first use)."""

    def __getattr__(self, name: str):
        thunks = self.__dict__.get("_lazy", {})
        if name in thunks:
            value = thunks.pop(name)()
            setattr(self, name, value)
            return value
        raise AttributeError(name)

    def lazy(self, **thunks: Callable[[], object]) -> Evidence:
        self.__dict__.setdefault("_lazy", {}).update(thunks)
        return self


@dataclass(frozen=True)
class Misconception:
    """One mistake a check can name: its id, how it is recognised, and the sentence the learner reads."""

    id: str
    detect: Callable[[Evidence], bool] | None
    message: str

    def sentence(self, evidence: Evidence) -> str:
        return self.message.format(e=evidence)


class Ladder:
    """An ordered table of misconceptions and the passing sentence of one check."""

    def __init__(self, *rungs: Misconception, passed: str):
        ids = [m.id for m in rungs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"a misconception id appears twice: {ids}")
        if any(m.detect is None for m in rungs[:-1]):
            raise ValueError("only the last rung may be a fallback (detect=None)")
        self.rungs, self.passed = rungs, passed

    @functools.cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.rungs)

    def find(self, evidence: Evidence) -> Misconception | None:
        """The first misconception the evidence shows, or None when it shows none."""
        for rung in self.rungs:
            if rung.detect is None:
                return None if getattr(evidence, "correct", False) else rung
            if rung.detect(evidence):
                return rung
        return None

    def judge(self, name: str, evidence: Evidence) -> CheckResult:
        found = self.find(evidence)
        if found is None:
            return passed(name, self.passed.format(e=evidence))
        return failed(name, found.id, found.sentence(evidence))

    def __getitem__(self, misconception_id: str) -> Misconception:
        for rung in self.rungs:
            if rung.id == misconception_id:
                return rung
        raise KeyError(misconception_id)

    def fail(self, name: str, misconception_id: str, evidence: Evidence | None = None) -> CheckResult:
        """Fail with a declared misconception directly (for a check that finds it before gathering the rest)."""
        return failed(name, misconception_id, self[misconception_id].sentence(evidence or Evidence()))
