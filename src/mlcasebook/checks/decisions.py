"""Judge a learner's ``decision`` dict: one fixed choice per key, each wrong choice named.

Every notebook ends with a decision dict. The rules are the same everywhere, so they live here:
an all-empty dict is "not attempted"; a missing key, an unknown choice and each known wrong choice
(``decision_<key>``, with the reason written in the notebook's check module) get their own sentence, and one
message holds the sentences of every wrong key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, is_stub, not_attempted


def normalise_choice(text) -> str:
    """Spelling-tolerant form of a learner's choice: "PR-AUC" and "pr auc" both become "pr_auc"."""
    return str(text).strip().lower().replace("-", "_").replace(" ", "_")


def decision_ladder(choices: Mapping[str, set], mistakes: Mapping[tuple[str, str], str], praise: str) -> Ladder:
    """The misconception table of a decision check: ``not_a_dict``, ``missing_key``, one ``decision_<key>`` per key
    that has a named wrong choice, ``unknown_choice``. The id is the first wrong key's; the message names every
    wrong key at once (a learner fixes them together, not one run at a time). Judge with :func:`decide`."""
    keys = list(dict.fromkeys(key for key, _ in mistakes))
    rungs = [Misconception("not_a_dict", lambda e: not e.is_dict, "Your decision must be a dict with the keys {e.keys}."),
             Misconception("missing_key", lambda e: bool(e.missing), "Your decision has no choice for {e.missing}.")]
    rungs += [Misconception(f"decision_{key}", lambda e, key=key: e.key == key and e.why is not None, "{e.wrong}")
              for key in keys]
    rungs.append(Misconception("unknown_choice", lambda e: e.key is not None, "{e.wrong}"))
    return Ladder(*rungs, passed=praise)


def _sentence(key: str, choice: str, raw, why: str | None) -> str:
    if why is None:
        return f"'{raw}' is not one of the choices listed for {key}."
    return f"For {key} you chose '{choice}', but {why}."


def decide(name: str, ladder: Ladder, decision, choices: Mapping[str, set], mistakes: Mapping[tuple[str, str], str],
           norm: Callable[[object], str]) -> CheckResult:
    """Judge ``decision`` with a :func:`decision_ladder` table: every key whose choice is not accepted is named."""
    evidence = Evidence(is_dict=isinstance(decision, dict), keys=", ".join(choices), missing="", key=None,
                        choice=None, raw=None, why=None, wrong="")
    if evidence.is_dict:
        missing = [k for k in choices if is_stub(decision.get(k))]
        if len(missing) == len(choices):
            return not_attempted(name, "Not attempted yet: fill in one choice per key of `decision`.")
        evidence.missing = ", ".join(missing)
        wrong = []
        for key, good in ([] if missing else choices.items()):
            choice = norm(decision[key])
            if choice not in good:
                wrong.append((key, choice, decision[key], mistakes.get((key, choice))))
        if wrong:
            evidence.key, evidence.choice, evidence.raw, evidence.why = wrong[0]
            evidence.wrong = " ".join(_sentence(*w) for w in wrong)
    return ladder.judge(name, evidence)
