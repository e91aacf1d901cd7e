"""The result of a check: a status, one sentence for the learner, and the misconception found.

A check returns a :class:`CheckResult`; a public check cell displays it, a hidden test cell calls
:meth:`CheckResult.require`, which raises :class:`CheckFailed` (an ``AssertionError``) with the same
sentence, or :class:`NotAttempted` when the answer is still the stub.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import io
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass

PASSED, FAILED, NOT_ATTEMPTED, ERROR = "passed", "failed", "not_attempted", "error"
#: True in the verdict process (hidden tests): an exception's text is never quoted there, only its class
IN_VERDICT = False

_ICONS = {PASSED: "✔", FAILED: "✘", NOT_ATTEMPTED: "…", ERROR: "⚠"}
_COLOURS = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_ATTEMPTED: "#9a6700", ERROR: "#cf222e"}


class CheckFailed(AssertionError):
    """Raised by :meth:`CheckResult.require` when a check failed or the learner's code raised."""


class NotAttempted(AssertionError):
    """Raised by :meth:`CheckResult.require` when the answer is still the release stub."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check.

    Attributes
    ----------
    check : str
        What was checked, e.g. ``"metric choice"``.
    status : str
        ``passed``, ``failed``, ``not_attempted`` or ``error`` (the learner's code raised).
    message : str
        One second-person sentence: what we saw, the mistake's name, the fix.
    misconception : str or None
        Identifier of the misconception found (``None`` when passed or not attempted).
    source : str or None
        The check that produced it, as ``"<module>.<function>"`` (``"churn.metric_choice"``): the tutor finds the
        part it belongs to from it.
    """

    check: str
    status: str
    message: str
    misconception: str | None = None
    source: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{_ICONS[self.status]} {self.check}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = _COLOURS[self.status]
        label = self.status.replace("_", " ")
        return (
            # MathJax would typeset the text between two dollar amounts ("$500 ... $50") as a formula
            f'<div class="tex2jax_ignore mathjax_ignore" style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">'
            f'<b style="color:{colour}">{_ICONS[self.status]} {html.escape(self.check)} — {label}</b><br>'
            f"{html.escape(self.message)}{_footer(self)}</div>"
        )

    def require(self) -> None:
        """Raise with this result's message unless the check passed (for hidden test cells)."""
        if self.status == NOT_ATTEMPTED:
            raise NotAttempted(self.message)
        if self.status != PASSED:
            exc = CheckFailed(self.message)
            exc.misconception = self.misconception  # travels to the grading report and the gradebook
            raise exc
        print(str(self))  # the grader quotes the passing sentence in its report


@contextlib.contextmanager
def quiet():
    """Silence warnings and stderr inside a test cell: nbgrader scores any stderr output as 0."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _footer(result: CheckResult) -> str:
    """The tutor's "Stuck? hint(...)" line under a check that did not pass (nothing if the tutor cannot tell the part)."""
    if result.status == PASSED or IN_VERDICT:
        return ""
    try:
        from mlcasebook import tutor

        return tutor.footer_html(result)
    except Exception:
        return ""


#: the last status of every check run in this process, by source, and the last source under "__last__"
SEEN: dict[str, str] = {}


def passed(check: str, message: str) -> CheckResult:
    return CheckResult(check, PASSED, message)


def failed(check: str, misconception: str, message: str) -> CheckResult:
    return CheckResult(check, FAILED, message, misconception)


def not_attempted(check: str, message: str) -> CheckResult:
    return CheckResult(check, NOT_ATTEMPTED, message)


def is_stub(value) -> bool:
    """True for the placeholders release notebooks start with (``None`` or ``...``)."""
    return value is None or value is Ellipsis


def check(name: str, *, stub_hint: str, ladder=None) -> Callable:
    """Decorate a check function: stubs become "not attempted", learner exceptions become "error".

    ``stub_hint`` completes the sentence "Not attempted yet: ..." shown when the learner's code raises
    ``NotImplementedError`` (the release stub) or when the first argument is still ``None``/``...``.
    The wrapped function receives ``name`` as its first argument so it can build results. ``ladder`` is the
    check's misconception table (:mod:`mlcasebook.checks.ladder`); its ids are listed on the wrapper as
    ``misconceptions``.
    """

    def decorate(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        source = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

        def run(*args, **kwargs) -> CheckResult:
            if args and is_stub(args[0]):
                return not_attempted(name, f"Not attempted yet: {stub_hint}.")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return fn(name, *args, **kwargs)
            except NotImplementedError:
                return not_attempted(name, f"Not attempted yet: {stub_hint}.")
            except Exception as exc:  # the learner's object raised while we used it
                return CheckResult(name, ERROR, _raised_sentence(exc), "raised")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs) -> CheckResult:
            result = dataclasses.replace(run(*args, **kwargs), source=source)
            SEEN[source], SEEN["__last__"] = result.status, source
            return result

        wrapper.check_name = name  # type: ignore[attr-defined]
        wrapper.ladder = ladder  # type: ignore[attr-defined]
        wrapper.misconceptions = ladder.ids if ladder is not None else ()  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _raised_sentence(exc: Exception) -> str:
    """One sentence for an exception met while checking: in a hidden test, its class and the learner's line only."""
    sentence = getattr(exc, "sentence", None)
    if callable(sentence):  # LearnerError from the grading channel: already stripped of its text
        return f"{sentence()} — fix it and run the cell again."
    if IN_VERDICT:
        return f"The hidden test could not use your answer ({type(exc).__name__}) — check what your code returns."
    return f"Your code raised {type(exc).__name__}: {_short(exc)}{_learner_frame(exc)} — fix it and run the cell again."


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _learner_frame(exc: BaseException) -> str:
    """Name the learner's function that raised, when the exception came from notebook code."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if frame.filename.startswith("<ipython-input") or "ipykernel_" in frame.filename:
            return f" (in your function {frame.name})" if frame.name != "<module>" else ""
    return ""
