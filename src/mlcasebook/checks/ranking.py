"""Checks for the recommendation ranking case (03_system_design/recommendation_ranking).

The case: a home page's click log, ``datasets.ranking.make_click_log(random_state=0)``, four weeks of slates of
ten items with position bias (P(click) = P(examined at position) x relevance) and a randomised slice; the last
week (from ``cases.ranking.CUTOFF``) is the holdout.

The learner writes procedures (``recall_at_k`` + ``ndcg_at_k``, ``time_split``, ``generate_candidates``,
``estimate_propensities`` + ``ipw_relevance``, ``training_rows``, ``team_draft``); hidden tests call them on
inputs built here from a seed the hidden cell passes, each built so that a known bug gives a visibly different
answer, and compute the expected values here. Messages name the mistake, never a hidden input, seed or expected
value.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from mlcasebook.cases.ranking import CUTOFF, N_CANDIDATES, SEED
from mlcasebook.checks.cases_cache import shared
from mlcasebook.checks.decisions import decide, decision_ladder, normalise_choice
from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, check, is_stub, not_attempted

CASE = {"random_state": SEED}

# ---------------------------------------------------------------- recall@k and NDCG@k: the check's own references


def _first_k(ranked, k: int) -> list:
    return list(ranked)[: int(k)]


def reference_recall(ranked, relevant, k: int, *, denominator: str = "relevant", dedupe: bool = True,
                     cut: bool = True, empty: float = math.nan) -> float:
    """recall@k = |distinct items of the first k that are relevant| / |relevant|; nan for an empty relevant set.

    The keywords build the known wrong variants (``denominator="k"`` or ``"min"``, ``dedupe=False``, ``cut=False``,
    ``empty=0``).
    """
    relevant = set(relevant)
    if not relevant:
        return empty
    top = _first_k(ranked, k) if cut else list(ranked)
    hits = len(set(top) & relevant) if dedupe else sum(item in relevant for item in top)
    size = {"relevant": len(relevant), "k": int(k), "min": min(int(k), len(relevant))}[denominator]
    return hits / size


def reference_ndcg(ranked, relevance: Mapping, k: int, *, gain: str = "linear", discount: str = "rank_plus_one",
                   ideal: str = "all_relevant", dedupe: bool = True, cut: bool = True, graded: bool = True,
                   empty: float = math.nan) -> float:
    """NDCG@k: DCG of the first k slots (a duplicate fills its slot and earns nothing, discount log2(rank + 1)) over
    the DCG of the best possible list of k items drawn from every item with a positive gain; nan when there is none.

    ``gain`` is ``linear`` (g) or ``exponential`` (2^g - 1); both are accepted. The other keywords build the known
    wrong variants: ``discount="rank"`` (log2(rank), rank 1 undiscounted), ``ideal="ranked_list"`` (the ideal
    re-sorts the retrieved items only), ``ideal="same_list"`` (the ideal is the list itself), ``dedupe=False``,
    ``cut=False``, ``graded=False`` (every relevant item counts 1), ``empty=0``.
    """
    gains = {item: float(g) for item, g in relevance.items() if float(g) > 0}
    if not graded:
        gains = dict.fromkeys(gains, 1.0)
    if not gains:
        return empty

    def value(g: float) -> float:
        return 2.0 ** g - 1.0 if gain == "exponential" else g

    def disc(rank: int) -> float:
        if discount == "rank":
            return 1.0 if rank == 1 else 1.0 / math.log2(rank)
        return 1.0 / math.log2(rank + 1)

    top = _first_k(ranked, k) if cut else list(ranked)
    seen, listed = set(), []
    for item in top:
        listed.append(0.0 if (dedupe and item in seen) else value(gains.get(item, 0.0)))
        seen.add(item)
    dcg = sum(g * disc(r) for r, g in enumerate(listed, start=1))
    if ideal == "same_list":
        best = listed
    elif ideal == "ranked_list":
        best = sorted(listed, reverse=True)
    else:
        best = sorted((value(g) for g in gains.values()), reverse=True)[: (int(k) if cut else len(gains))]
    idcg = sum(g * disc(r) for r, g in enumerate(best, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def metric_cases(seed: int) -> dict[str, tuple]:
    """(ranked list, {item: gain}, k) per case; recall uses the items with a positive gain as the relevant set."""
    rng = np.random.default_rng(seed)
    ids = [int(x) for x in rng.choice(np.arange(1_000, 99_999), 120, replace=False)]
    pool = iter(ids)

    def take(n):
        return [next(pool) for _ in range(n)]

    cases = {}
    ranked = take(10)  # binary gains, hits at 2, 5 and 7, one relevant item not retrieved
    cases["binary"] = (ranked, {ranked[1]: 1, ranked[4]: 1, ranked[6]: 1, take(1)[0]: 1}, 5)
    ranked = take(10)  # graded gains with a tie, the best item not retrieved
    missing = take(1)[0]
    cases["graded"] = (ranked, {ranked[0]: 1, ranked[2]: 2, ranked[3]: 2, ranked[8]: 3, missing: 3}, 5)
    ranked = take(10)  # fewer relevant items than k
    cases["few_relevant"] = (ranked, {ranked[2]: 2, ranked[7]: 1}, 10)
    ranked = take(12)  # more relevant items than k
    extra = take(9)
    cases["many_relevant"] = (ranked, {**{ranked[j]: g for j, g in ((0, 1), (1, 3), (3, 2))},
                                       **{e: int(rng.integers(1, 4)) for e in extra}}, 5)
    ranked = take(4)  # a list shorter than k
    outside = take(4)
    cases["short_list"] = (ranked, {ranked[1]: 2, ranked[3]: 1, **dict.fromkeys(outside, 1)}, 10)
    ranked = take(8)  # a relevant item listed twice in the first k
    ranked = [ranked[0], ranked[1], ranked[0], ranked[2], ranked[3], ranked[4], ranked[5], ranked[6]]
    cases["duplicates"] = (ranked, {ranked[0]: 2, ranked[3]: 1, take(1)[0]: 1}, 5)
    ranked = take(6)  # item ids that are strings, first hit at rank 1
    names = [f"item_{x}" for x in ranked]
    cases["string_ids"] = (names, {names[0]: 1, names[3]: 2, f"item_{take(1)[0]}": 1}, 4)
    cases["no_hit"] = (take(6), {take(1)[0]: 2}, 5)
    cases["empty"] = (take(6), {}, 5)
    return cases


_METRIC_WHAT = {"binary": "a list with binary relevance", "graded": "graded relevance with a tie",
                "few_relevant": "fewer relevant items than k", "many_relevant": "more relevant items than k",
                "short_list": "a list shorter than k", "duplicates": "a list with a repeated item",
                "string_ids": "item ids that are strings", "no_hit": "a list with no relevant item",
                "empty": "a user with no relevant item"}

_RECALL_VARIANTS = {"recall_divided_by_k": {"denominator": "k"}, "recall_capped_denominator": {"denominator": "min"},
                    "recall_duplicates_counted": {"dedupe": False}, "recall_not_cut_at_k": {"cut": False}}
_NDCG_VARIANTS = {"ndcg_wrong_discount": {"discount": "rank"}, "idcg_from_ranked_list": {"ideal": "ranked_list"},
                  "idcg_is_dcg": {"ideal": "same_list"}, "ndcg_not_cut_at_k": {"cut": False},
                  "ndcg_duplicates_counted": {"dedupe": False}, "graded_gains_ignored": {"graded": False}}


def _same(got: float, want: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    return not math.isnan(got) and math.isfinite(got) and abs(got - want) <= 1e-9 + 1e-7 * abs(want)


def _as_float(value) -> float | None:
    if isinstance(value, bool | str | bytes) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _matches(values: dict[str, float], reference: Callable[..., float], cases: dict, keys, **kw) -> bool:
    return all(_same(values[key], reference(cases[key][0], *cases[key][1:], **kw)) for key in keys)


def _recall_inputs(case):
    ranked, gains, k = case
    return ranked, {item for item, g in gains.items() if g > 0}, k


METRICS = Ladder(
    Misconception("not_a_number", lambda e: bool(e.not_number),
                  "Your {e.not_number} must return one number for one list (a float, nan when it is undefined); "
                  "yours returned {e.got}."),
    Misconception("empty_relevant_convention", lambda e: bool(e.empty_wrong),
                  "For a user with no relevant item your {e.empty_wrong} returns {e.empty_got}: the metric is "
                  "undefined there, and a 0 (or a crash) would drag the mean down for users the list could not "
                  "serve; the text's convention is nan, left out of the average."),
    Misconception("recall_divided_by_k", lambda e: e.recall_variant == "recall_divided_by_k",
                  "Your recall_at_k divides the hits by k: that is precision@k, which cannot reach 1 for a user with "
                  "fewer relevant items than k."),
    Misconception("recall_capped_denominator", lambda e: e.recall_variant == "recall_capped_denominator",
                  "Your recall_at_k divides the hits by the smaller of k and the number of relevant items: that is "
                  "the capped recall some papers use, not the recall@k this notebook defines, and it overstates "
                  "recall for users with more relevant items than k."),
    Misconception("recall_duplicates_counted", lambda e: e.recall_variant == "recall_duplicates_counted",
                  "Your recall_at_k counts an item twice when the list repeats it, so a list with duplicates can "
                  "score above 1; a repeat fills a slot and finds nothing new."),
    Misconception("recall_not_cut_at_k", lambda e: e.recall_variant == "recall_not_cut_at_k",
                  "Your recall_at_k counts hits beyond the first k items of the list: only the k slots the user "
                  "sees count."),
    Misconception("wrong_recall", lambda e: not e.recall_ok,
                  "Your recall_at_k differs from recall@k on {e.recall_what}."),
    Misconception("ndcg_wrong_discount", lambda e: e.ndcg_variant == "ndcg_wrong_discount" or e.ndcg_infinite,
                  "Your ndcg_at_k discounts the item at rank r by log2(r): that leaves ranks 1 and 2 undiscounted "
                  "(or divides by log2(1) = 0), so your NDCG cannot tell the first slot from the second."),
    Misconception("idcg_from_ranked_list", lambda e: e.ndcg_variant in ("idcg_from_ranked_list", "idcg_is_dcg"),
                  "Your ndcg_at_k builds the ideal DCG from the list it is scoring (its own order, or its own items "
                  "re-sorted), so a list that misses the best items still scores near 1: the ideal list is the best "
                  "k of every relevant item, retrieved or not."),
    Misconception("ndcg_not_cut_at_k", lambda e: e.ndcg_variant == "ndcg_not_cut_at_k",
                  "Your ndcg_at_k adds up gains beyond the first k slots: NDCG@k scores the k items the user sees."),
    Misconception("ndcg_duplicates_counted", lambda e: e.ndcg_variant == "ndcg_duplicates_counted",
                  "Your ndcg_at_k earns an item's gain again each time the list repeats it, so duplicates raise the "
                  "score; a repeat fills a slot and earns nothing."),
    Misconception("graded_gains_ignored", lambda e: e.ndcg_variant == "graded_gains_ignored",
                  "Your ndcg_at_k treats every relevant item alike: with graded relevance an item of gain 3 must "
                  "count more than one of gain 1, in the list and in the ideal."),
    Misconception("wrong_ndcg", None, "Your ndcg_at_k differs from NDCG@k on {e.ndcg_what}."),
    passed="Your recall_at_k and ndcg_at_k are exact on lists with ties, duplicates, graded relevance, fewer or more "
           "relevant items than k, lists shorter than k and users with nothing relevant.",
)


def _call_metric(fn: Callable, case, recall: bool):
    ranked, target, k = _recall_inputs(case) if recall else case
    return fn(list(ranked), set(target) if recall else dict(target), k)


@check("recall@k and NDCG@k", stub_hint="implement `recall_at_k(recommended, relevant, k)` and "
       "`ndcg_at_k(ranked, relevance, k)`", ladder=METRICS)
def metric_functions(name: str, recall_at_k: Callable, ndcg_at_k: Callable, *, seed: int = 0) -> CheckResult:
    """Call both functions on :func:`metric_cases` and compare with :func:`reference_recall` and
    :func:`reference_ndcg` (linear or exponential gains, the same choice on every case), to 1e-9."""
    if is_stub(ndcg_at_k):
        return not_attempted(name, "Not attempted yet: implement `ndcg_at_k(ranked, relevance, k)`.")
    cases = metric_cases(seed)
    got = {"recall_at_k": {}, "ndcg_at_k": {}}
    raised_on_empty = {}
    for fname, fn in (("recall_at_k", recall_at_k), ("ndcg_at_k", ndcg_at_k)):
        for key, case in cases.items():
            try:
                value = _call_metric(fn, case, fname == "recall_at_k")
            except NotImplementedError:
                raise
            except Exception as exc:  # noqa: BLE001 - raising on the empty case is the evidence
                if key != "empty":
                    raise
                raised_on_empty[fname] = type(exc).__name__
                got[fname][key] = math.nan
                continue
            number = _as_float(value)
            if number is None:
                return METRICS.fail(name, "not_a_number", Evidence(not_number=fname, got=type(value).__name__))
            got[fname][key] = number
    filled = [k for k in cases if k != "empty"]
    e = Evidence(not_number="")
    wrong_empty = []
    for fname in ("recall_at_k", "ndcg_at_k"):
        if fname in raised_on_empty:
            wrong_empty.append((fname, f"an error ({raised_on_empty[fname]})"))
        elif not math.isnan(got[fname]["empty"]):
            wrong_empty.append((fname, "a number"))
    e.empty_wrong = " and ".join(f for f, _ in wrong_empty)
    e.empty_got = " and ".join(g for _, g in wrong_empty)
    rec = {k: got["recall_at_k"][k] for k in filled}
    recall_cases = {k: _recall_inputs(cases[k]) for k in filled}
    e.recall_ok = _matches(rec, reference_recall, recall_cases, filled)
    e.recall_variant = None if e.recall_ok else next(
        (vid for vid, kw in _RECALL_VARIANTS.items() if _matches(rec, reference_recall, recall_cases, filled, **kw)),
        None)
    e.recall_what = next((_METRIC_WHAT[k] for k in filled if not _same(rec[k], reference_recall(*recall_cases[k]))),
                         "no case")
    nd = {k: got["ndcg_at_k"][k] for k in filled}
    # a value that is not finite on a list with relevant items: with IDCG > 0 only a zero discount (log2(1)) does it
    e.ndcg_infinite = any(not math.isfinite(v) for v in nd.values())
    gain = next((g for g in ("linear", "exponential") if _matches(nd, reference_ndcg, cases, filled, gain=g)), None)
    e.ndcg_variant = None
    if gain is None:
        e.ndcg_variant = next((vid for vid, kw in _NDCG_VARIANTS.items() for g in ("linear", "exponential")
                               if _matches(nd, reference_ndcg, cases, filled, gain=g, **kw)), None)
    e.ndcg_what = next((_METRIC_WHAT[k] for k in filled
                        if not any(_same(nd[k], reference_ndcg(*cases[k], gain=g)) for g in ("linear", "exponential"))),
                       "no case")
    e.correct = e.recall_ok and gain is not None and not e.empty_wrong
    return METRICS.judge(name, e)


# ---------------------------------------------------------------- time split


def _at_midnight(log: pd.DataFrame, cutoff: pd.Timestamp, rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Move ``n`` visits to exactly the cutoff moment (a visit logged at midnight belongs to the holdout)."""
    sessions = rng.choice(log["session_id"].unique(), n, replace=False)
    log = log.copy()
    log.loc[log["session_id"].isin(sessions), "timestamp"] = cutoff
    return log


@shared(maxsize=2)
def split_cases(seed: int) -> dict[str, tuple[pd.DataFrame, pd.Timestamp]]:
    """Hidden logs (rows shuffled, as logs come from many servers) with a cutoff each: a main log with new users
    after the cutoff and visits exactly at it, and a log whose cutoff leaves most rows in the holdout."""
    from mlcasebook.datasets.ranking import make_click_log

    rng = np.random.default_rng(seed)
    out = {}
    for key, days, frac in (("main", 12, 0.6), ("late_cutoff", 10, 0.35)):
        log = make_click_log(int(rng.integers(250, 350)), n_items=int(rng.integers(80, 120)), n_days=days,
                             new_user_share=0.4, start=str(pd.Timestamp("2023-01-02") + pd.Timedelta(
                                 days=int(rng.integers(0, 300)))), random_state=int(rng.integers(2**31))).frame
        cutoff = log["timestamp"].min().normalize() + pd.Timedelta(days=round(days * frac))
        log = _at_midnight(log, cutoff, rng, 15)
        out[key] = (log.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True), cutoff)
    return out


SPLIT = Ladder(
    Misconception("not_two_frames", lambda e: e.bad_shape,
                  "time_split must return two DataFrames, (train, test), with the log's columns; yours returned "
                  "{e.got}."),
    Misconception("split_by_user", lambda e: e.future_in_train and e.disjoint_users,
                  "Your split holds out whole users, so the training rows still include every other user's future: "
                  "a model trained on it has seen next week's popular items, and the holdout score is optimistic."),
    Misconception("random_split", lambda e: e.future_in_train and e.past_in_test,
                  "Your training rows include impressions from after the cutoff and your test rows impressions from "
                  "before it, as a random split gives: the model learns from the future it is then scored on."),
    Misconception("ignores_cutoff", lambda e: e.future_in_train or e.past_in_test,
                  "Your split does not put the cutoff it is given between train and test (rows on the wrong side of "
                  "it): a split by position in the log or a fixed date goes wrong on a log in another order or "
                  "period."),
    Misconception("cold_start_dropped", lambda e: e.cold_dropped,
                  "Your test set leaves out users (or items) that the training rows never saw: the holdout must "
                  "keep the new users a recommender meets after launch, or it hides the cold-start problem."),
    Misconception("boundary_rows", lambda e: e.boundary_wrong,
                  "Your split loses or misplaces the impressions logged exactly at the cutoff moment: 'before the "
                  "cutoff' trains, 'at or after it' tests."),
    Misconception("rows_lost", None,
                  "Your train and test do not add up to the log: rows are missing, duplicated or in both."),
    passed="Your time_split trains on everything before the cutoff and tests on everything at or after it, new "
           "users included, whatever the log's order.",
)


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    return frame["session_id"].astype("int64") * 1_000 + frame["position"].astype("int64")


@check("time split", stub_hint="implement `time_split(log, cutoff)`", ladder=SPLIT)
def split_function(name: str, time_split: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``time_split(log, cutoff)`` on :func:`split_cases`; compare its rows with the exact split."""
    e = Evidence(bad_shape=False, future_in_train=False, past_in_test=False, disjoint_users=False,
                 cold_dropped=False, boundary_wrong=False, correct=True)
    for _key, (log, cutoff) in split_cases(seed).items():
        out = time_split(log.copy(), cutoff)
        if not (isinstance(out, tuple | list) and len(out) == 2 and all(isinstance(p, pd.DataFrame) for p in out)
                and all({"session_id", "position", "timestamp", "user_id"} <= set(p.columns) for p in out)):
            return SPLIT.fail(name, "not_two_frames", Evidence(got=type(out).__name__ if not isinstance(
                out, tuple | list) else f"a {type(out).__name__} that is not two DataFrames"))
        train, test = out
        ts_train, ts_test = pd.to_datetime(train["timestamp"]), pd.to_datetime(test["timestamp"])
        e.future_in_train |= bool((ts_train > cutoff).any())
        e.past_in_test |= bool((ts_test < cutoff).any())
        e.disjoint_users |= bool(len(train)) and bool(len(test)) and not (set(train["user_id"]) & set(test["user_id"]))
        want_test = log[log["timestamp"] >= cutoff]
        keys_train, keys_test = set(_row_keys(train)), set(_row_keys(test))
        wanted = set(_row_keys(want_test))
        missing = wanted - keys_test
        if missing:
            gone = want_test[_row_keys(want_test).isin(missing)]
            new_users = ~gone["user_id"].isin(log.loc[log["timestamp"] < cutoff, "user_id"])
            new_items = ~gone["item_id"].isin(log.loc[log["timestamp"] < cutoff, "item_id"])
            e.cold_dropped |= bool(len(gone)) and bool((new_users | new_items).all()) and not bool(
                keys_train & set(_row_keys(gone)))
        at = log[log["timestamp"] == cutoff]
        e.boundary_wrong |= not set(_row_keys(at)) <= keys_test
        exact = (len(train) + len(test) == len(log) and keys_test == wanted
                 and keys_train == set(_row_keys(log)) - wanted)
        e.correct &= exact
    return SPLIT.judge(name, e)


# ---------------------------------------------------------------- candidate generation


def time_split_log(log: pd.DataFrame, cutoff) -> tuple[pd.DataFrame, pd.DataFrame]:
    before = log["timestamp"] < cutoff
    return log[before], log[~before]


def clicked_sets(frame: pd.DataFrame) -> dict:
    """user id -> set of the item ids the user clicked in ``frame``."""
    out: dict = {}
    clicks = frame[frame["clicked"] == 1]
    for user, item in zip(clicks["user_id"].to_numpy().tolist(), clicks["item_id"].to_numpy().tolist(), strict=True):
        out.setdefault(user, set()).add(item)
    return out


def popularity_candidates(train: pd.DataFrame, users, k: int, *, exclude_seen: bool = True) -> dict:
    clicks = train[train["clicked"] == 1]
    ranking = clicks["item_id"].value_counts().index.tolist()
    seen = clicked_sets(train) if exclude_seen else {}
    out = {}
    for user in users:
        mine = seen.get(user, set())
        out[user] = [item for item in ranking[: k + len(mine)] if item not in mine][:k]
    return out


def mean_recall(candidates: Mapping, holdout: pd.DataFrame, k: int, users=None) -> float:
    relevant = clicked_sets(holdout)
    if users is not None:
        wanted = set(users)
        relevant = {u: items for u, items in relevant.items() if u in wanted}
    return float(np.mean([reference_recall(candidates.get(u, []), items, k) for u, items in relevant.items()]))


@shared(maxsize=2)
def candidate_log(seed: int) -> tuple[pd.DataFrame, pd.Timestamp]:
    """A hidden log (its own ids, dates and catalogue) and its cutoff, for the candidate generator."""
    from mlcasebook.datasets.ranking import make_click_log

    rng = np.random.default_rng(seed)
    log = make_click_log(900, n_items=220, n_days=21, sessions_per_user=8.0,
                         start=str(pd.Timestamp("2023-05-01") + pd.Timedelta(days=int(rng.integers(0, 200)))),
                         random_state=int(rng.integers(2**31))).frame
    return log, log["timestamp"].min().normalize() + pd.Timedelta(days=14)


@shared(maxsize=1)
def case_log() -> pd.DataFrame:
    from mlcasebook.datasets.ranking import make_click_log

    return make_click_log(**CASE).frame


# A personalised generator must beat popularity clearly: on the hidden logs item-to-item co-occurrence and matrix
# factorisation reach 1.3-1.5 times popularity's recall@20 (measured over 20 seeds in tests/test_checks_ranking.py);
# a popularity list reaches 1.0. 1.12 sits between with room on both sides.
BEATS_POPULARITY = 1.12
# The reported recall is compared with the check's recomputation on the notebook's holdout (about 1,450 users): a
# generator seeded or not moves it by < 0.01; training-click or random-split evaluation moves it by > 0.05.
REPORT_TOL = 0.02
_HIDDEN_K = 20
# Share of the warm users' training clicks that come back among their candidates: 0 for a generator that leaves
# them out; a reconstruction (matrix factorisation, co-occurrence) that keeps them returns most of them.
SEEN_SHARE = 0.3

CANDIDATES = Ladder(
    Misconception("not_a_mapping", lambda e: e.bad_shape,
                  "generate_candidates must return a dict: user id -> list of item ids, best first; yours returned "
                  "{e.got}."),
    Misconception("cold_users_missing", lambda e: e.cold_short,
                  "For users who are not in the training log your generate_candidates returns no list or a short "
                  "one: every user needs k items, and a new user gets the fallback (the most popular items)."),
    Misconception("uses_notebook_data", lambda e: e.foreign_items,
                  "Your candidates contain items that the training log you were given never shows: the function "
                  "reads the notebook's data (a global) instead of its argument."),
    Misconception("wrong_length", lambda e: e.bad_length,
                  "Your candidate lists are not k distinct items long for every user."),
    Misconception("seen_items_repeated", lambda e: e.seen_share > SEEN_SHARE,
                  "Your candidates are full of items the user already clicked in the training period (a matrix "
                  "reconstruction scores them highest): nobody is shown them again, so those slots are wasted; leave "
                  "each user's clicked items out."),
    Misconception("no_better_than_popularity", lambda e: e.ratio < BEATS_POPULARITY,
                  "On a hidden log your candidates' recall is not clearly better than the popularity baseline's: the "
                  "generator does not use what each user clicked."),
    Misconception("report_missing", lambda e: e.report_bad,
                  "candidate_report must be a dict with the numbers candidate_recall and popularity_recall."),
    Misconception("recall_on_training_or_random_split", lambda e: e.report_high,
                  "The recall you report is higher than your candidates reach on the notebook's clicks after the "
                  "cutoff: measured on the training clicks or on a random split, a recommender looks better than it "
                  "will be."),
    Misconception("reported_recall_wrong", lambda e: e.report_off,
                  "The recall you report is not what your candidates (or the popularity baseline) reach on the "
                  "holdout: average recall@N_CANDIDATES over the test users with at least one click after the "
                  "cutoff, new users included."),
    passed="Your candidates beat popularity on a hidden log, skip what users already clicked, serve new users, and "
           "your reported recalls are the holdout's.",
)


def _lists_ok(cands, users, k: int) -> tuple[bool, bool]:
    """(every user has a list of k items, every list is k distinct items)"""
    present = all(u in cands and hasattr(cands[u], "__len__") and len(cands[u]) >= k for u in users)
    distinct = all(len(list(cands[u])) == k and len(set(cands[u])) == k for u in users if u in cands)
    return present, distinct


@check("candidate generation", stub_hint="implement `generate_candidates(train, users, k)` and fill "
       "`candidate_report`", ladder=CANDIDATES)
def candidate_function(name: str, generate_candidates: Callable, candidate_report: Mapping, *,
                       seed: int = 0) -> CheckResult:
    """Run the learner's generator on a hidden log's time split and on the notebook's.

    Hidden log: recall@20 over warm test users must reach BEATS_POPULARITY times the popularity baseline's (which
    skips each user's clicked items); cold users must get k items; no item outside the training log; fewer than a
    fifth of the slots on items the user already clicked. Notebook log: ``candidate_report`` must hold the holdout's
    mean recall@N_CANDIDATES of the learner's candidates and of popularity (with or without the user's clicked
    items), within REPORT_TOL.
    """
    log, cutoff = candidate_log(seed)
    train, test = time_split_log(log, cutoff)
    users = list(test["user_id"].unique())
    cands = generate_candidates(train.copy(), list(users), _HIDDEN_K)
    if not isinstance(cands, Mapping):
        return CANDIDATES.fail(name, "not_a_mapping", Evidence(got=type(cands).__name__))
    cands = {u: list(v) for u, v in dict(cands).items()}
    trained = set(train["user_id"])
    warm = [u for u in users if u in trained]
    cold = [u for u in users if u not in trained]
    e = Evidence(bad_shape=False)
    e.cold_short = not _lists_ok(cands, cold, _HIDDEN_K)[0]
    present, distinct = _lists_ok(cands, warm, _HIDDEN_K)
    known = set(train["item_id"])
    e.foreign_items = any(item not in known for u in warm if u in cands for item in cands[u])
    e.bad_length = not (present and distinct)
    clicked = clicked_sets(train)
    their_clicks = sum(len(clicked.get(u, set())) for u in warm if u in cands)
    e.seen_share = sum(len(set(cands[u]) & clicked.get(u, set())) for u in warm if u in cands) / max(their_clicks, 1)
    ours = mean_recall(cands, test, _HIDDEN_K, warm)
    baseline = mean_recall(popularity_candidates(train, warm, _HIDDEN_K), test, _HIDDEN_K, warm)
    e.ratio = ours / baseline if baseline > 0 else 0.0
    e.report_bad = not isinstance(candidate_report, Mapping) or any(
        _as_float(candidate_report.get(key)) is None for key in ("candidate_recall", "popularity_recall"))
    e.report_high = e.report_off = False
    if not (e.cold_short or e.foreign_items or e.bad_length or e.seen_share > SEEN_SHARE or e.ratio < BEATS_POPULARITY
            or e.report_bad):
        nb_train, nb_test = time_split_log(case_log(), CUTOFF)
        nb_users = list(nb_test["user_id"].unique())
        mine = generate_candidates(nb_train.copy(), list(nb_users), N_CANDIDATES)
        want = mean_recall({u: list(v) for u, v in dict(mine).items()}, nb_test, N_CANDIDATES)
        pops = [mean_recall(popularity_candidates(nb_train, nb_users, N_CANDIDATES, exclude_seen=x), nb_test,
                            N_CANDIDATES) for x in (True, False)]
        got = float(candidate_report["candidate_recall"])
        got_pop = float(candidate_report["popularity_recall"])
        e.report_high = got > want + REPORT_TOL or got_pop > max(pops) + REPORT_TOL
        e.report_off = abs(got - want) > REPORT_TOL or min(abs(got_pop - p) for p in pops) > REPORT_TOL
    return CANDIDATES.judge(name, e)


# ---------------------------------------------------------------- position bias: propensities and IPW


def randomised_propensities(log: pd.DataFrame) -> np.ndarray:
    shuffled = log[log["randomised"]]
    ctr = shuffled.groupby("position")["clicked"].mean().sort_index()
    return (ctr / ctr.iloc[0]).to_numpy()


def all_traffic_propensities(log: pd.DataFrame) -> np.ndarray:
    ctr = log.groupby("position")["clicked"].mean().sort_index()
    return (ctr / ctr.iloc[0]).to_numpy()


def reference_ipw(log: pd.DataFrame, propensities, *, use: str = "ipw") -> pd.Series:
    """Per item: ``ipw`` = sum(click / theta_pos) / impressions; ``coec`` = clicks / sum(theta_pos) (clicks over
    expected examinations; both accepted). Known wrong variants: ``raw`` CTR, ``multiplied`` (click * theta),
    ``shifted`` (theta of the next position), ``self_normalised`` (sum(click / theta) / sum(1 / theta)),
    ``randomised_only`` (IPW on the randomised visits only)."""
    theta = np.asarray(propensities, float)
    pos = log["position"].to_numpy() - 1
    clicks = log["clicked"].to_numpy(float)
    items = log["item_id"].to_numpy()
    shown = pd.Series(1.0, index=items).groupby(level=0).sum()
    if use == "raw":
        return pd.Series(clicks, index=items).groupby(level=0).sum() / shown
    if use == "multiplied":
        return pd.Series(clicks * theta[pos], index=items).groupby(level=0).sum() / shown
    if use == "shifted":
        nxt = np.r_[theta[1:], np.nan][pos]
        return pd.Series(clicks / nxt, index=items).groupby(level=0).sum(min_count=1) / shown
    if use == "self_normalised":
        return (pd.Series(clicks / theta[pos], index=items).groupby(level=0).sum()
                / pd.Series(1 / theta[pos], index=items).groupby(level=0).sum())
    if use == "coec":
        return pd.Series(clicks, index=items).groupby(level=0).sum() / pd.Series(theta[pos], index=items).groupby(
            level=0).sum()
    if use == "randomised_only":
        return reference_ipw(log[log["randomised"]], theta)
    return pd.Series(clicks / theta[pos], index=items).groupby(level=0).sum() / shown


@shared(maxsize=2)
def bias_cases(seed: int) -> dict[str, tuple]:
    """Hidden logs for the propensity estimate (a steep and a flat examination curve, each with a relevance-sorted
    policy and half the visits randomised) and for IPW (a log whose items sit at very different positions)."""
    from mlcasebook.datasets.ranking import make_click_log, power_law_examination

    rng = np.random.default_rng(seed)
    eta = float(rng.uniform(0.7, 1.2))
    steep = make_click_log(1_500, n_items=150, n_days=14, slate_size=8, examination=power_law_examination(8, eta),
                           randomised_share=0.5, base=-2.6, policy_noise=0.6, random_state=int(rng.integers(2**31)))
    flat = make_click_log(1_500, n_items=150, n_days=14, slate_size=8, examination=np.ones(8),
                          randomised_share=0.5, base=-3.2, policy_noise=0.6, random_state=int(rng.integers(2**31)))
    theta = power_law_examination(6, float(rng.uniform(0.8, 1.3)))
    ipw_log = make_click_log(400, n_items=90, n_days=10, slate_size=6, examination=theta, randomised_share=0.3,
                             policy_noise=0.8, random_state=int(rng.integers(2**31)))
    return {"steep": steep, "flat": flat, "ipw": (ipw_log.frame, ipw_log.truth.examination)}


def _propensity_tolerance(log: pd.DataFrame, theta: np.ndarray) -> np.ndarray:
    """4 standard errors of CTR_k / CTR_1 on the randomised visits (delta method, binomial counts), + 0.02."""
    shuffled = log[log["randomised"]]
    n = shuffled.groupby("position").size().sort_index().to_numpy()
    p = shuffled.groupby("position")["clicked"].mean().sort_index().to_numpy()
    p = np.maximum(p, 1e-3)
    rel = np.sqrt((1 - p) / (n * p) + (1 - p[0]) / (n[0] * p[0]))
    return 4 * rel * theta / theta[0] + 0.02


def _as_vector(value, k: int) -> np.ndarray | None:
    if isinstance(value, pd.Series):
        value = value.sort_index().to_numpy()
    try:
        out = np.asarray(value, float).ravel()
    except (TypeError, ValueError):
        return None
    return out if out.shape == (k,) else None


def _as_item_series(value) -> pd.Series | None:
    if isinstance(value, pd.DataFrame) and value.shape[1] == 1:
        value = value.iloc[:, 0]
    if isinstance(value, Mapping) and not isinstance(value, pd.Series):
        value = pd.Series(dict(value))
    if not isinstance(value, pd.Series):
        return None
    try:
        return value.astype(float)
    except (TypeError, ValueError):
        return None


def _series_close(got: pd.Series, want: pd.Series) -> bool:
    want = want.dropna()
    if not set(want.index) <= set(got.index):
        return False
    g = got.reindex(want.index).to_numpy(float)
    return bool(np.all(np.isfinite(g)) and np.allclose(g, want.to_numpy(float), rtol=1e-6, atol=1e-9))


BIAS = Ladder(
    Misconception("propensities_wrong_shape", lambda e: e.bad_shape,
                  "estimate_propensities must return one examination probability per position (an array of length "
                  "k, position 1 first); yours returned {e.got}."),
    Misconception("propensities_not_normalised", lambda e: e.not_normalised,
                  "Your propensities are not relative to position 1 (which the text takes as always examined): raw "
                  "click-through rates per position mix the examination probability with how relevant the shown "
                  "items were."),
    Misconception("propensities_from_all_traffic", lambda e: e.all_traffic,
                  "Your propensities fall with position even on a log with no position bias at all: clicks per "
                  "position on the whole log also fall because the old ranker puts its best items on top; only the "
                  "randomised visits separate where an item was shown from how good it is."),
    Misconception("wrong_propensities", lambda e: not e.propensities_ok,
                  "Your propensities are not the examination curve of the hidden logs within their sampling error."),
    Misconception("ipw_not_a_series", lambda e: e.ipw_bad,
                  "ipw_relevance must return a Series of relevance estimates indexed by item id; yours returned "
                  "{e.ipw_got}."),
    Misconception("raw_ctr_as_relevance", lambda e: e.ipw_variant == "raw",
                  "Your ipw_relevance is each item's raw click-through rate: it ignores the propensities, so an item "
                  "the old ranker kept at the bottom looks irrelevant because nobody looked at it."),
    Misconception("multiplied_by_propensity", lambda e: e.ipw_variant == "multiplied",
                  "Your ipw_relevance multiplies clicks by the propensity instead of dividing: the clicks at low "
                  "positions, the rarest and most informative, count least, and the bias gets worse."),
    Misconception("position_off_by_one", lambda e: e.ipw_variant == "shifted",
                  "Your ipw_relevance weights each click with the propensity of the next position down: positions "
                  "are numbered from 1, the propensity array from 0."),
    Misconception("self_normalised_ipw", lambda e: e.ipw_variant == "self_normalised",
                  "Your ipw_relevance divides the weighted clicks by the summed weights of all impressions: a "
                  "non-click carries no examination to correct, so this shrinks the items shown low back towards "
                  "their raw click-through rate."),
    Misconception("randomised_slice_only", lambda e: e.ipw_variant == "randomised_only",
                  "Your ipw_relevance uses only the randomised visits: with the propensities known, inverse "
                  "propensity weighting de-biases every impression, so throwing the rest away only adds noise."),
    Misconception("wrong_ipw", None,
                  "Your ipw_relevance differs from the inverse-propensity-weighted click rate per item on a hidden "
                  "log."),
    passed="Your propensities recover the examination curve from the randomised visits (and stay flat where there is "
           "no bias), and your ipw_relevance de-biases every impression.",
)


@check("position bias", stub_hint="implement `estimate_propensities(log)` and `ipw_relevance(log, propensities)`",
       ladder=BIAS)
def bias_functions(name: str, estimate_propensities: Callable, ipw_relevance: Callable, *,
                   seed: int = 0) -> CheckResult:
    """Propensities on :func:`bias_cases`' steep and flat logs (within :func:`_propensity_tolerance` of the true
    curve, normalised to position 1); IPW relevance on the IPW log with its true propensities, equal to the per-item
    IPW click rate or to clicks over expected examinations (rtol 1e-6)."""
    if is_stub(ipw_relevance):
        return not_attempted(name, "Not attempted yet: implement `ipw_relevance(log, propensities)`.")
    cases = bias_cases(seed)
    e = Evidence(bad_shape=False, not_normalised=False, all_traffic=False, propensities_ok=True, ipw_bad=False)
    for key in ("steep", "flat"):
        bunch = cases[key]
        theta = bunch.truth.examination
        raw = estimate_propensities(bunch.frame.copy())
        est = _as_vector(raw, len(theta))
        if est is None or not np.all(np.isfinite(est)):
            got = type(raw).__name__ if est is None else "values that are not finite"
            return BIAS.fail(name, "propensities_wrong_shape", Evidence(got=got))
        if abs(est[0] - 1) > 0.02:
            e.not_normalised = True
            est = est / est[0] if est[0] > 0 else est
        tol = _propensity_tolerance(bunch.frame, theta)
        ok = bool(np.all(np.abs(est - theta / theta[0]) <= tol))
        if not ok:
            everywhere = all_traffic_propensities(bunch.frame)
            closer = np.abs(est - everywhere).sum() < np.abs(est - theta / theta[0]).sum()
            e.all_traffic |= bool(key == "flat" and closer)
        e.propensities_ok &= ok
    log, theta = cases["ipw"]
    raw = ipw_relevance(log.copy(), theta.copy())
    got = _as_item_series(raw)
    if got is None:
        e.ipw_bad, e.ipw_got = True, type(raw).__name__
        return BIAS.judge(name, e)
    accepted = any(_series_close(got, reference_ipw(log, theta, use=u)) for u in ("ipw", "coec"))
    e.ipw_variant = None if accepted else next(
        (u for u in ("raw", "multiplied", "shifted", "self_normalised", "randomised_only")
         if _series_close(got, reference_ipw(log, theta, use=u))), None)
    e.correct = accepted and e.propensities_ok and not e.not_normalised
    return BIAS.judge(name, e)


# ---------------------------------------------------------------- training rows for the ranker


@shared(maxsize=2)
def rows_case(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    from mlcasebook.datasets.ranking import make_click_log, power_law_examination

    rng = np.random.default_rng(seed)
    theta = power_law_examination(8, float(rng.uniform(0.7, 1.2)))
    log = make_click_log(300, n_items=120, n_days=7, slate_size=8, examination=theta,
                         random_state=int(rng.integers(2**31))).frame
    return log.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True), theta


ROWS = Ladder(
    Misconception("rows_missing_columns", lambda e: bool(e.missing),
                  "training_rows must return a DataFrame with the columns session_id, user_id, item_id, label and "
                  "weight; yours {e.missing}."),
    Misconception("random_negatives", lambda e: e.unshown_negatives,
                  "Your negatives include items that were never shown in that visit (sampled from the catalogue): "
                  "they teach the model to tell a click from a random item, mostly popularity, not to choose among "
                  "the plausible items a ranker actually has to order."),
    Misconception("clicked_as_negative", lambda e: e.clicked_negatives,
                  "Some of your negatives are impressions that were clicked."),
    Misconception("positives_missing", lambda e: e.positives_wrong,
                  "Your positives are not every clicked impression once."),
    Misconception("too_few_negatives", lambda e: e.few_negatives,
                  "You keep far fewer negatives than positives: the shown-but-not-clicked impressions are most of what "
                  "the log says."),
    Misconception("no_propensity_weights", lambda e: e.flat_positive_weights,
                  "All your clicks carry the same weight: a click low in the slate was made by one of the few users who "
                  "looked that far, so it stands for several clicks that would have happened at the top; weight each "
                  "click by the inverse of its position's propensity."),
    Misconception("weights_inverted", lambda e: e.inverted,
                  "Your click weights fall with position (proportional to the propensity): the bias is doubled, "
                  "not removed."),
    Misconception("negatives_weighted", lambda e: e.negative_weights_vary,
                  "Your negatives are weighted by position too: inverse propensity weighting corrects the clicks "
                  "that examination hid; a non-click at a low position is mostly 'not looked at', and up-weighting it "
                  "teaches the model that low-shown items are bad."),
    Misconception("wrong_weights", None,
                  "Your weights do not de-bias the clicks: compare how a click's weight should change from one position "
                  "to the next (section 5) with what yours do."),
    passed="Your training rows pair every click, weighted by its inverse propensity, with shown-but-not-clicked "
           "negatives of equal weight.",
)


@check("ranker training rows", stub_hint="implement `training_rows(log, propensities)`", ladder=ROWS)
def rows_function(name: str, training_rows: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``training_rows(log, propensities)`` on :func:`rows_case` (rows shuffled, true propensities).

    Accepted: every clicked impression once as a positive, weight c / theta_position for one constant c; negatives
    any subset of the shown-but-not-clicked impressions (all of them, a sample, or the skip-above ones) at least half
    as many as the positives, one common weight (a subsample may be up-weighted by the inverse sampling rate).
    """
    log, theta = rows_case(seed)
    rows = training_rows(log.copy(), theta.copy())
    need = ["session_id", "user_id", "item_id", "label", "weight"]
    if not isinstance(rows, pd.DataFrame):
        return ROWS.fail(name, "rows_missing_columns", Evidence(missing=f"returned a {type(rows).__name__}"))
    missing = [c for c in need if c not in rows.columns]
    if missing:
        return ROWS.fail(name, "rows_missing_columns", Evidence(missing="lack " + ", ".join(missing)))
    key = lambda f: f["session_id"].astype("int64").astype(str) + ":" + f["item_id"].astype("int64").astype(str)  # noqa: E731
    label = pd.to_numeric(rows["label"].astype(float), errors="coerce").fillna(-1).to_numpy()
    weight = pd.to_numeric(rows["weight"], errors="coerce").to_numpy(float)
    keys = key(rows).to_numpy()
    clicked = set(key(log[log["clicked"] == 1]))
    unclicked = set(key(log[log["clicked"] == 0]))
    pos, neg = label == 1, label == 0
    position = log.assign(k=key(log)).set_index("k")["position"]
    e = Evidence(missing="")
    e.unshown_negatives = any(k not in clicked and k not in unclicked for k in keys[neg])
    e.clicked_negatives = any(k in clicked for k in keys[neg])
    e.positives_wrong = (not (pos | neg).all()) or sorted(keys[pos]) != sorted(clicked)
    e.few_negatives = neg.sum() < 0.5 * pos.sum()   # skip-above keeps about 1-1.4 negatives per click here
    w_pos, w_neg = weight[pos], weight[neg]
    e.flat_positive_weights = e.inverted = e.negative_weights_vary = False
    if not (e.unshown_negatives or e.clicked_negatives or e.positives_wrong or e.few_negatives):
        if not (np.all(np.isfinite(weight)) and np.all(weight > 0)):
            return ROWS.judge(name, e)
        th_pos = theta[position.reindex(keys[pos]).to_numpy() - 1]
        th_neg = theta[position.reindex(keys[neg]).to_numpy() - 1]
        flat = lambda w: np.ptp(w) <= 1e-9 * np.abs(w).max()  # noqa: E731
        e.flat_positive_weights = bool(flat(w_pos))
        e.inverted = bool(flat(w_pos / th_pos))
        e.negative_weights_vary = bool(not flat(w_neg) and flat(w_neg * th_neg))
        e.correct = bool(flat(w_pos * th_pos) and flat(w_neg))
    return ROWS.judge(name, e)


# ---------------------------------------------------------------- team-draft interleaving


def interleave_cases(seed: int) -> dict[str, tuple[list, list, int]]:
    rng = np.random.default_rng(seed)
    ids = [int(x) for x in rng.choice(np.arange(100, 9_999), 40, replace=False)]
    overlap = ids[:12]
    other = overlap[:3] + ids[12:15] + overlap[3:6] + ids[15:21]
    return {"disjoint": (ids[21:33], ids[:12], 6), "overlap": (overlap, other, 8), "identical": (overlap, overlap, 6)}


INTERLEAVE = Ladder(
    Misconception("not_items_and_teams", lambda e: e.bad_shape,
                  "team_draft must return (items, teams): the interleaved list and, for each item, the team that "
                  "picked it, 'A' or 'B'; yours returned {e.got}."),
    Misconception("duplicates_in_list", lambda e: e.duplicates,
                  "Your interleaved list shows an item twice: when both rankers want the same item, the second "
                  "team takes its next unshown item instead."),
    Misconception("wrong_length", lambda e: e.bad_length, "Your interleaved list is not k items long."),
    Misconception("not_each_teams_best", lambda e: e.not_best,
                  "A team's pick is not its ranker's highest-ranked item still missing from the list: each pick "
                  "must follow its own ranker's order."),
    Misconception("teams_unbalanced", lambda e: e.unbalanced,
                  "One team gets ahead of the other by more than one pick: team-draft alternates picks round by "
                  "round, so clicks are credited fairly."),
    Misconception("ignores_rng", lambda e: e.not_reproducible or e.constant,
                  "Your team_draft does not take its coin flips from the rng it is given: it returns the same list "
                  "whatever rng it gets (a fixed order, or the global generator, which the grader reseeds before "
                  "every call), or different lists for the same rng, so an experiment cannot be replayed."),
    Misconception("no_coin_flip", lambda e: e.first_share < 0.3 or e.first_share > 0.7,
                  "The same team (almost) always picks first: the top slot, which gets most clicks, then goes to one "
                  "ranker, and the comparison is biased towards it; flip a fair coin in every round, the first "
                  "included."),
    passed="Your team_draft interleaves without duplicates, follows each ranker's order, keeps the teams balanced "
           "and flips a fair coin from the rng it is given.",
)


def _picks_ok(items: list, teams: list, a: list, b: list) -> bool:
    shown: list = []
    for item, team in zip(items, teams, strict=True):
        ranking = a if team == "A" else b
        best = next((x for x in ranking if x not in shown), None)
        if item != best:
            return False
        shown.append(item)
    return True


@check("team-draft interleaving", stub_hint="implement `team_draft(ranking_a, ranking_b, k, rng)`", ladder=INTERLEAVE)
def interleave_function(name: str, team_draft: Callable, *, seed: int = 0, calls: int = 40) -> CheckResult:
    """Call ``team_draft`` ``calls`` times per case of :func:`interleave_cases`, each with a generator from a seed
    derived here, plus one repeat with the same seed. NumPy's and Python's global generators are reseeded before
    every call, as the grading agent does, so a team_draft that draws from them repeats itself in a public check as in
    a hidden test (``ignores_rng`` either way). First-pick share must lie in [0.3, 0.7]: with 40 fair coins per case
    (120 in all) its SD is 0.046, so the band is > 4 SD wide each side."""
    e = Evidence(bad_shape=False, duplicates=False, bad_length=False, not_best=False, unbalanced=False,
                 not_reproducible=False, constant=True)
    first = []

    def call(a, b, k, seed_):
        np.random.seed(0)
        random.seed(0)
        return team_draft(list(a), list(b), k, np.random.default_rng(seed_))

    for c, (_key, (a, b, k)) in enumerate(interleave_cases(seed).items()):
        outputs = set()
        for j in range(calls):
            child = int(np.random.default_rng([seed, c, j]).integers(2**31))
            out = call(a, b, k, child)
            if not (isinstance(out, tuple | list) and len(out) == 2):
                return INTERLEAVE.fail(name, "not_items_and_teams", Evidence(got=type(out).__name__))
            items, teams = list(out[0]), [str(t).upper() for t in out[1]]
            if len(items) != len(teams) or not set(teams) <= {"A", "B"}:
                return INTERLEAVE.fail(name, "not_items_and_teams", Evidence(got="lists of different lengths or "
                                                                             "teams other than 'A' and 'B'"))
            e.duplicates |= len(set(items)) != len(items)
            e.bad_length |= len(items) != k
            e.not_best |= not _picks_ok(items, teams, a, b)
            counts = np.cumsum([1 if t == "A" else -1 for t in teams])
            e.unbalanced |= bool(len(counts)) and bool(np.abs(counts).max() > 1)
            if teams:
                first.append(teams[0] == "A")
            outputs.add((tuple(items), tuple(teams)))
            if j == 0:
                again = call(a, b, k, child)
                e.not_reproducible |= list(again[0]) != items or [str(t).upper() for t in again[1]] != teams
        e.constant &= len(outputs) == 1
    e.first_share = float(np.mean(first)) if first else 0.0
    return INTERLEAVE.judge(name, e)


# ---------------------------------------------------------------- decision

DECISION_CHOICES = {
    "holdout": {"time_split"},
    "position_bias": {"ipw_with_randomised_propensities"},
    "new_user": {"popularity_fallback"},
    "compare_rankers": {"interleaving_then_ab_test"},
    "ship_on": {"online_metric"},
}
_DECISION_MISTAKES = {
    ("holdout", "random_split"): "a random split trains on the future it is scored on; section 3 measured how much "
                                 "that flatters the recall",
    ("holdout", "user_split"): "holding out users still trains on every other user's future",
    ("position_bias", "raw_ctr"): "raw click-through rates mix relevance with where the old ranker put each item",
    ("position_bias", "top_positions_only"): "keeping the top slots only keeps the items the old ranker already "
                                             "liked, and their clicks are still biased by position",
    ("new_user", "matrix_factorisation"): "a user with no history has no row to factorise",
    ("new_user", "no_recommendations"): "a new user's first visit is when a recommendation matters most",
    ("compare_rankers", "offline_ndcg_only"): "offline NDCG on logged clicks only scores the items the old ranker "
                                              "chose to show",
    ("compare_rankers", "ab_test_only"): "an A/B test compares two groups of different users and needs many times "
                                         "more of them to see the same difference (section 7)",
    ("ship_on", "offline_ndcg"): "offline NDCG is a proxy measured on the old ranker's exposure; the decision is "
                                 "about what users do",
}
DECISION = decision_ladder(DECISION_CHOICES, _DECISION_MISTAKES,
                           "Split by time, de-bias clicks with propensities from randomised traffic, serve new users a "
                           "fallback, screen rankers by interleaving and ship on the online metric.")


@check("decision", stub_hint="fill in the `decision` dict with one choice per key", ladder=DECISION)
def decision(name: str, decision: dict) -> CheckResult:
    """One fixed choice per key; ``decision_<key>`` names each known wrong choice."""
    return decide(name, DECISION, decision, DECISION_CHOICES, _DECISION_MISTAKES, normalise_choice)
