"""What a failure message must never say: its part's answer.

A part's giveaways are the phrases its hints file lists under ``never`` (the right choice in its spellings, the
right value as printed, the formula) and every string the model answer assigns (``metric = "average_precision"``,
a decision dict's values). A phrase matches as whole words, case-insensitively, with ``_`` and a space alike.
"""

from __future__ import annotations

import ast
import re
from functools import cache

from mlcasebook import paths, tutor


def _solution_strings(part: tutor.Part) -> set[str]:
    if part.kind != "code":
        return set()
    try:
        code = tutor.model_answer(part)
        tree = ast.parse(code)
    except (tutor.TutorError, SyntaxError):
        return set()
    found = set()
    for node in ast.walk(tree):
        values = []
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            values = [node.value]
        if isinstance(node, ast.Dict):
            values = list(node.values)
        found |= {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str) and len(v.value) >= 3}
    return found


def _pattern(phrase: str) -> re.Pattern:
    words = [re.escape(w) for w in re.split(r"[_\s]+", phrase.strip()) if w]
    body = r"[_\s]+".join(words)
    left = r"\b" if re.match(r"\w", phrase.strip()) else ""
    right = r"\b" if re.search(r"\w$", phrase.strip()) else ""
    return re.compile(left + body + right, re.I)


@cache
def of_part(part_id: str, solution_strings: bool = True) -> tuple[tuple[str, re.Pattern], ...]:
    """The giveaways of a part; a hint is held to its ``never`` list only (it may say "ship" to ask whether to)."""
    part = tutor.parts()[part_id]
    phrases = set(tutor.never_of(part_id)) | (_solution_strings(part) if solution_strings else set())
    return tuple((p, _pattern(p)) for p in sorted(phrases))


def of_check(source: str | None) -> list[tuple[str, str, re.Pattern]]:
    """(part, phrase, pattern) for every part whose check cell or hidden test calls the check ``source``."""
    return [(part.id, phrase, pattern) for part in tutor.parts().values()
            if source in part.checks + part.hidden_checks for phrase, pattern in of_part(part.id)]


#: a decision message quotes the learner's own choice ("you chose 'more_features'"); that echo tells nothing new
_ECHO = re.compile(r"you chose '[^']*'", re.I)


def found_in(message: str, source: str | None) -> list[str]:
    message = _ECHO.sub("you chose …", message)
    return [f"{part}: {phrase!r}" for part, phrase, pattern in of_check(source) if pattern.search(message)]


assert paths.course_root()  # the tutor reads the course's notebooks
