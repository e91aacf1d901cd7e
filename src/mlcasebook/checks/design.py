"""Checks for the design rounds case (03_system_design/design_rounds): fraud alerts, a moderation cascade, autocomplete.

The learner writes procedures, and the hidden tests call them on inputs built here from a seed the hidden cell
passes, each input built so that a known bug gives a visibly different answer:

* ``daily_alerts(frame, k)`` / ``precision_at_k(frame, k)``: a stream whose days differ in volume, with a
  card-testing attack day and a day without fraud, scores that put half the transactions above 0.5, days numbered
  from an offset, and two capacities;
* ``time_split(frame, as_of, maturity_days, valid_days)``: streams with chargebacks censored at ``as_of``, called
  with two maturities and validation lengths;
* ``stage_loads`` / ``cascade_thresholds``: days where a share of the violations is invisible to the cheap model
  (so precision or loads measured on all items, not on the items a stage receives, visibly differ), two sets of
  budgets and targets, and a day without violations;
* ``build_index`` / ``mean_reciprocal_rank``: a query log with trending and faded queries and a burst of searches
  just after ``now``, two half-lives and two list lengths; ranked lists with hits at every rank, misses and empty
  lists.

Messages name the mistake, never a hidden input, seed or expected value. The reference answers live here only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from mlcasebook.cases import design as case
from mlcasebook.cases.design import *  # noqa: F401,F403 - public facts, as the notebook reads them
from mlcasebook.checks.cases_cache import shared
from mlcasebook.checks.decisions import decide, decision_ladder, normalise_choice
from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, check, is_stub, not_attempted

# ================================================================ round 1: fraud alerts within review capacity


def reference_alerts(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """The k highest-scoring transactions of each day."""
    return frame.sort_values("score", ascending=False, kind="stable").groupby("day", sort=True).head(k)


def reference_precision(frame: pd.DataFrame, k: int) -> pd.Series:
    """Per day, the share of frauds among that day's k alerts."""
    return reference_alerts(frame, k).groupby("day")["fraud"].mean()


@shared(maxsize=24)  # the learner's functions get copies; nothing here changes a case
def alert_cases(seed: int) -> dict:
    """A three-week stream: days of different volume, an attack day, a day without fraud, days numbered from an
    offset, rows not in time order, and scores that are percentile ranks (half the transactions above 0.5)."""
    from mlcasebook.datasets.design import make_transactions

    rng = np.random.default_rng(seed)
    n_days = 21
    attack, quiet = (int(d) for d in rng.choice(np.arange(3, n_days - 2), 2, replace=False))
    data = make_transactions(n_days, per_day=int(rng.integers(300, 500)), fraud_rate=0.02, drift=0.0,
                             attack_day=attack, attack_size=int(rng.integers(30, 60)), quiet_days=(quiet,),
                             random_state=int(rng.integers(2**31)))
    frame = data.frame.drop(columns=["chargeback_day"]).assign(fraud=data.truth.is_fraud.astype(int))
    frame["score"] = frame["score"].rank(pct=True)  # uncalibrated scores, same ranking: half are above 0.5
    offset = int(rng.integers(100, 300))
    frame["day"] = frame["day"] + offset
    frame = frame.sample(frac=1.0, random_state=int(rng.integers(2**31)))
    frame.index = rng.permutation(len(frame)) + 10_000
    ks = (int(rng.integers(5, 9)), int(rng.integers(15, 25)))
    return {"frame": frame, "ks": ks, "quiet_day": quiet + offset, "attack_day": attack + offset}


def _alert_ids(result, frame: pd.DataFrame) -> set | None:
    """The transaction ids a ``daily_alerts`` result names: rows of the frame, or a boolean mask over it."""
    if isinstance(result, pd.DataFrame):
        if "transaction_id" in result.columns:
            return set(result["transaction_id"].tolist())
        if set(result.index) <= set(frame.index):
            return set(frame.loc[result.index, "transaction_id"].tolist())
        return None
    values = np.asarray(result)
    if values.dtype == bool and values.shape == (len(frame),):
        return set(frame.loc[values, "transaction_id"].tolist())
    if isinstance(result, pd.Series) and result.dtype == bool and len(result) == len(frame):
        return set(frame.loc[result.reindex(frame.index).fillna(False).to_numpy(bool), "transaction_id"].tolist())
    return None


def _per_day(result, days) -> pd.Series | None:
    """A ``precision_at_k`` result as floats by day (a Series or a dict keyed by day), or None."""
    if isinstance(result, Mapping) and not isinstance(result, pd.Series):
        result = pd.Series(dict(result))
    if isinstance(result, pd.DataFrame) and result.shape[1] == 1:
        result = result.iloc[:, 0]
    if not isinstance(result, pd.Series):
        return None
    try:
        series = pd.Series(result.to_numpy(float), index=[int(d) for d in result.index])
    except (TypeError, ValueError):
        return None
    if not set(days) <= set(series.index):
        return None
    return series.reindex(days)


def _all_transaction_variants(frame: pd.DataFrame, k: int) -> list[pd.Series]:
    """What "precision" gives when it is measured on every transaction of the day instead of the day's k alerts."""
    alerted = frame["transaction_id"].isin(set(reference_alerts(frame, k)["transaction_id"]))
    by_day = frame.assign(alert=alerted, flag=frame["score"] >= 0.5).groupby("day")
    hits = by_day.apply(lambda d: (d["alert"] & (d["fraud"] == 1)).sum(), include_groups=False)
    flagged = by_day.apply(lambda d: d.loc[d["flag"], "fraud"].mean() if d["flag"].any() else 0.0,
                           include_groups=False)
    return [
        by_day["fraud"].mean(),                                                             # flag everything
        hits / by_day.size(),                                                               # hits over all rows
        by_day.apply(lambda d: (d["alert"] == (d["fraud"] == 1)).mean(), include_groups=False),  # accuracy
        flagged,                                                                            # precision at 0.5
    ]


def _recall(frame: pd.DataFrame, k: int) -> pd.Series:
    frauds = frame.groupby("day")["fraud"].sum()
    return reference_alerts(frame, k).groupby("day")["fraud"].sum() / frauds.replace(0, np.nan)


def _matches(got: pd.Series, want: pd.Series, share: float = 0.9) -> bool:
    both = pd.concat([got, want], axis=1).dropna()
    if len(both) < share * len(want.dropna()):
        return False
    close = np.isclose(both.iloc[:, 0], both.iloc[:, 1], rtol=1e-6, atol=1e-9)
    return bool(close.mean() >= share)


ALERTS_FUNCTION = Ladder(
    Misconception("alerts_not_rows", lambda e: e.unusable,
                  "daily_alerts must return the alerted rows of the frame it is given (a DataFrame with their "
                  "transaction_id) or a boolean mask over it; yours returned {e.got}."),
    Misconception("threshold_ignores_capacity", lambda e: e.counts_vary,
                  "Your daily alerts do not match the analysts' capacity: on some days you raise more alerts than k "
                  "and on others fewer (a score threshold, or a top k over the whole period, ignores that the "
                  "capacity is per day, and an attack day floods the queue)."),
    Misconception("ignores_k", lambda e: e.k_ignored,
                  "Your functions give the same answer for two different review capacities: they do not use the k "
                  "they are given (a capacity hard-coded from the notebook, or read from a global)."),
    Misconception("not_top_scores", lambda e: e.wrong_rows,
                  "Your daily alerts have the right number of rows each day, but not the day's highest scores: check "
                  "the sort order and that each day is ranked on its own."),
    Misconception("not_per_day", lambda e: e.not_per_day,
                  "precision_at_k must return one precision per day (a Series indexed by the day, for every day of "
                  "the frame); yours returned {e.got}."),
    Misconception("precision_over_all", lambda e: e.over_all,
                  "Your precision is measured on every transaction of the day, not on the alerts: what matters is "
                  "the share of fraud among the k transactions the analysts review."),
    Misconception("recall_not_precision", lambda e: e.recall,
                  "Your precision divides the day's caught frauds by the day's frauds: that is recall at k (undefined "
                  "on a day without fraud), not the share of the analysts' reviews that find fraud."),
    Misconception("wrong_precision", lambda e: not e.precision_ok,
                  "Your precision per day differs from the share of fraud among the day's alerts on {e.wrong_days} "
                  "of the days."),
    passed="Your alerts are each day's k highest scores, whatever the day's volume, and your precision is the share "
           "of fraud among them, day by day.",
)


@check("alerts within review capacity", stub_hint="implement `daily_alerts(frame, k)` and `precision_at_k(frame, k)`",
       ladder=ALERTS_FUNCTION)
def alerts_function(name: str, daily_alerts: Callable, precision_at_k: Callable, *, seed: int = 0) -> CheckResult:
    """Call both functions on :func:`alert_cases` with two capacities.

    Accepted: alerts as rows (with or without the original index) or a boolean mask; precision as a Series or a
    dict keyed by day. Exact: scores have no ties, so each day's top k is unique.
    """
    if is_stub(precision_at_k):
        return not_attempted(name, "Not attempted yet: implement `precision_at_k(frame, k)`.")
    cases = alert_cases(seed)
    frame, ks = cases["frame"], cases["ks"]
    days = sorted(frame["day"].unique())
    got_ids, counts = {}, {}
    for k in ks:
        result = daily_alerts(frame.copy(), k)
        ids = _alert_ids(result, frame)
        if ids is None:
            return ALERTS_FUNCTION.fail(name, "alerts_not_rows", Evidence(got=_kind(result)))
        got_ids[k] = ids
        per_day = frame.loc[frame["transaction_id"].isin(ids)].groupby("day").size()
        counts[k] = per_day.reindex(days, fill_value=0)
    e = Evidence(unusable=False, got="")
    want_ids = {k: set(reference_alerts(frame, k)["transaction_id"]) for k in ks}
    e.counts_vary = any(counts[k].nunique() > 1 for k in ks)
    e.k_ignored = not e.counts_vary and any(counts[k].iloc[0] != k for k in ks)  # the same number every day, not k
    e.wrong_rows = any(got_ids[k] != want_ids[k] for k in ks)
    if e.k_ignored or e.counts_vary or e.wrong_rows:
        return ALERTS_FUNCTION.judge(name, e)
    got, want = {}, {}
    for k in ks:
        result = precision_at_k(frame.copy(), k)
        series = _per_day(result, days)
        if series is None:
            e.not_per_day, e.got = True, _kind(result)
            return ALERTS_FUNCTION.judge(name, e)
        got[k], want[k] = series, reference_precision(frame, k).reindex(days)
    e.not_per_day = False
    ok = {k: _matches(got[k], want[k], share=1.0) for k in ks}
    e.precision_ok = all(ok.values())
    e.over_all = not e.precision_ok and any(_matches(got[k], v) for k in ks for v in _all_transaction_variants(frame, k))
    e.recall = not e.precision_ok and all(_matches(got[k], _recall(frame, k), share=0.85) for k in ks)
    e.k_ignored = (not (e.over_all or e.recall) and np.allclose(got[ks[0]].fillna(-1), got[ks[1]].fillna(-1))
                   and not np.allclose(want[ks[0]], want[ks[1]]))  # the same precision for both capacities
    wrong = sum(int((~np.isclose(got[k].fillna(-1), want[k], rtol=1e-6, atol=1e-9)).sum()) for k in ks)
    e.wrong_days = "some" if wrong < len(days) else "most"
    return ALERTS_FUNCTION.judge(name, e)


def _kind(value) -> str:
    if isinstance(value, pd.DataFrame | pd.Series | np.ndarray):
        return f"a {type(value).__name__}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


# ================================================================ round 1: time-based validation, matured labels


@shared(maxsize=24)  # the learner's functions get copies; nothing here changes a case
def split_cases(seed: int) -> dict:
    """Streams censored at their last day, and two (maturity, validation length) settings to call the split with."""
    from mlcasebook.datasets.design import make_transactions

    rng = np.random.default_rng(seed)
    settings = [(int(rng.integers(15, 22)), int(rng.integers(6, 10))), (int(rng.integers(24, 31)), int(rng.integers(11, 16)))]
    data = make_transactions(int(rng.integers(70, 80)), per_day=150, fraud_rate=0.02, maturity_days=max(settings)[0],
                             random_state=int(rng.integers(2**31)))
    frame = data.frame.assign(fraud=data.frame["chargeback_day"].notna().astype(int))  # as the notebook's frame
    frame.index = frame.index + 50_000  # an index that no reset_index() reproduces: rows are told by their label
    return {"frame": frame, "as_of": int(frame["day"].max()), "settings": settings}


SPLIT_FUNCTION = Ladder(
    Misconception("not_two_frames", lambda e: e.unusable,
                  "time_split must return two DataFrames, (train, valid), made of rows of the frame it is given; "
                  "yours returned {e.got}."),
    Misconception("rows_in_both", lambda e: e.overlap,
                  "Some transactions are in both your training and your validation rows (a boundary day counted on "
                  "both sides?): the model is then validated on rows it was trained on."),
    Misconception("random_split", lambda e: e.interleaved,
                  "Your training rows include days after some of your validation days: the split is not in time "
                  "order (a random split of rows or days), so the model trains on the weeks after the days it is "
                  "judged on, which it never can in production."),
    Misconception("immature_labels", lambda e: e.immature,
                  "Your split uses transactions too recent for their labels to be final: a fraud's chargeback can "
                  "arrive up to maturity_days after it, so a recent transaction without one may still be fraud; use "
                  "only transactions at least maturity_days old, for training and for validation."),
    Misconception("wrong_validation_window", lambda e: e.window_off,
                  "Your validation rows are not the last valid_days days of matured data: validate on the matured "
                  "days right before the labels stop being final."),
    Misconception("history_dropped", lambda e: e.dropped,
                  "Your training rows leave out much of the matured history before the validation days: train on "
                  "every matured transaction before them."),
    passed="Your split trains on the matured past and validates on the matured days after it, for any maturity and "
           "validation length.",
)


@check("time-based validation with matured labels",
       stub_hint="implement `time_split(frame, as_of, maturity_days, valid_days)`", ladder=SPLIT_FUNCTION)
def split_function(name: str, time_split: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``time_split`` on :func:`split_cases` with two settings.

    Matured: day <= as_of - maturity_days (one day of tolerance either way at each boundary: ``<`` or ``<=``).
    Validation: the last ``valid_days`` matured days; training: every matured day before them (95 % of the rows).
    """
    cases = split_cases(seed)
    frame, as_of = cases["frame"], cases["as_of"]
    e = Evidence(unusable=False, got="", overlap=False, interleaved=False, immature=False, window_off=False,
                 dropped=False)
    for maturity, valid_days in cases["settings"]:
        result = time_split(frame.copy(), as_of, maturity, valid_days)
        ids = [_alert_ids(r, frame) if isinstance(r, pd.DataFrame) else None for r in result] \
            if isinstance(result, tuple | list) and len(result) == 2 else [None]
        if any(i is None for i in ids):
            return SPLIT_FUNCTION.fail(name, "not_two_frames", Evidence(got=_kind(result)))
        ids_t, ids_v = ids
        if not ids_t or not ids_v:
            return SPLIT_FUNCTION.fail(name, "not_two_frames", Evidence(got="an empty DataFrame"))
        days = frame.set_index("transaction_id")["day"]
        d_t, d_v = days.reindex(list(ids_t)).dropna(), days.reindex(list(ids_v)).dropna()
        last_mature = as_of - maturity
        first_valid = last_mature - valid_days + 1
        e.overlap |= bool(ids_t & ids_v)
        e.interleaved |= bool((d_v < d_t.max()).any() or (d_t > d_v.min()).any())
        e.immature |= bool((pd.concat([d_t, d_v]) > last_mature + 1).any())
        e.window_off |= not (abs(d_v.min() - first_valid) <= 1 and abs(d_v.max() - last_mature) <= 1)
        history = frame["day"] < first_valid - 1
        e.dropped |= bool(frame.loc[history, "transaction_id"].isin(ids_t).mean() < 0.95)
    return SPLIT_FUNCTION.judge(name, e)


# ================================================================ round 2: the moderation cascade

STAGES = ("cheap_model", "expensive_model", "auto_removed", "human_review")
THRESHOLD_KEYS = ("cheap", "auto", "review")


def apply_cascade(thresholds: Mapping, cheap, expensive) -> dict[str, np.ndarray]:
    """Masks of the items at each stage: all items meet the cheap model; those with cheap >= thresholds["cheap"]
    meet the expensive model; of those, expensive >= "auto" are removed and "review" <= expensive < "auto" reviewed."""
    cheap, expensive = np.asarray(cheap, float), np.asarray(expensive, float)
    t_c, t_a, t_r = (float(thresholds[key]) for key in THRESHOLD_KEYS)
    passed = cheap >= t_c
    return {"cheap_model": np.ones(len(cheap), bool), "expensive_model": passed,
            "auto_removed": passed & (expensive >= t_a), "human_review": passed & (expensive >= t_r) & (expensive < t_a)}


def reference_loads(cheap, expensive, thresholds: Mapping) -> dict[str, int]:
    return {stage: int(mask.sum()) for stage, mask in apply_cascade(thresholds, cheap, expensive).items()}


def reference_thresholds(cheap, expensive, labels, precision_target: float, review_budget: int,
                         expensive_budget: int) -> dict[str, float]:
    """The expensive model gets the ``expensive_budget`` highest cheap scores; the lowest removal threshold whose
    removals (among the items passed on) are at least ``precision_target`` violations (none: remove nothing); the
    ``review_budget`` highest remaining expensive scores go to review."""
    cheap, expensive, labels = np.asarray(cheap, float), np.asarray(expensive, float), np.asarray(labels, int)
    ranked = np.sort(cheap)[::-1]
    t_c = float(ranked[expensive_budget - 1]) if expensive_budget < len(cheap) else -math.inf
    passed = cheap >= t_c
    order = np.argsort(-expensive[passed], kind="stable")
    scores, hits = expensive[passed][order], labels[passed][order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    meeting = np.nonzero(precision >= precision_target)[0]
    n_auto = int(meeting[-1]) + 1 if len(meeting) else 0
    t_a = float(scores[n_auto - 1]) if n_auto else math.inf
    rest = scores[n_auto:]
    t_r = float(rest[review_budget - 1]) if review_budget < len(rest) else -math.inf
    return {"cheap": t_c, "auto": t_a, "review": t_r}


def cascade_outcome(thresholds: Mapping, cheap, expensive, labels) -> dict[str, float]:
    masks = apply_cascade(thresholds, cheap, expensive)
    labels = np.asarray(labels, int).astype(bool)
    caught = masks["auto_removed"] | masks["human_review"]
    return {**{stage: int(m.sum()) for stage, m in masks.items()},
            "auto_precision": float(labels[masks["auto_removed"]].mean()) if masks["auto_removed"].any() else math.nan,
            "recall": float(labels[caught].sum() / labels.sum()) if labels.any() else math.nan}


@shared(maxsize=24)  # the learner's functions get copies; nothing here changes a case
def loads_cases(seed: int) -> list[tuple]:
    """(cheap, expensive, thresholds) triples: a third of the violations invisible to the cheap model, thresholds
    drawn at random (never equal to a score)."""
    from mlcasebook.datasets.design import make_moderation_days

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        f = make_moderation_days(1, items_per_day=int(rng.integers(5_000, 7_000)), violation_rate=0.04,
                                 blind_share=0.35, random_state=int(rng.integers(2**31))).frame
        thresholds = {"cheap": rng.uniform(0.03, 0.15), "auto": rng.uniform(0.6, 0.9), "review": rng.uniform(0.02, 0.3)}
        out.append((f["cheap_score"].to_numpy(), f["expensive_score"].to_numpy(), thresholds))
    return out


def _load_variants(cheap, expensive, thresholds) -> dict[str, dict[str, int]]:
    """Loads as known mistakes count them."""
    t_c, t_a, t_r = (float(thresholds[k]) for k in THRESHOLD_KEYS)
    cheap, expensive = np.asarray(cheap), np.asarray(expensive)
    passed = cheap >= t_c
    return {
        "all_items": {"auto_removed": int((expensive >= t_a).sum()),
                      "human_review": int(((expensive >= t_r) & (expensive < t_a)).sum())},
        "review_counts_auto": {"human_review": int((passed & (expensive >= t_r)).sum())},
    }


def _loads_dict(result) -> dict | None:
    if isinstance(result, pd.Series):
        result = result.to_dict()
    if not isinstance(result, Mapping):
        return None
    try:
        return {k: float(result[k]) for k in STAGES if k in result}
    except (TypeError, ValueError):
        return None


LOADS_FUNCTION = Ladder(
    Misconception("loads_missing_stage", lambda e: bool(e.missing),
                  "stage_loads must return a dict with the items a day at each stage ({e.stages}); yours has no "
                  "{e.missing}."),
    Misconception("loads_ignore_cascade", lambda e: e.all_items,
                  "Your loads count a later stage over every item: only the items the cheap model passes on ever "
                  "reach the expensive model, so only they can be removed or reviewed."),
    Misconception("review_counts_auto", lambda e: e.review_with_auto,
                  "Your review load also counts the items the expensive model removes automatically: an item above "
                  "the removal threshold is removed, not reviewed."),
    Misconception("wrong_loads", lambda e: bool(e.wrong),
                  "Your loads are off at the {e.wrong} stage."),
    passed="Your loads follow the cascade: every item meets the cheap model, only what it passes on meets the "
           "expensive one, and each item ends in one place.",
)


@check("cascade stage loads", stub_hint="implement `stage_loads(cheap_scores, expensive_scores, thresholds)`",
       ladder=LOADS_FUNCTION)
def loads_function(name: str, stage_loads: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``stage_loads`` on :func:`loads_cases`; counts must be exact (no score equals a threshold)."""
    e = Evidence(missing="", stages=", ".join(STAGES), all_items=False, review_with_auto=False, wrong="")
    wrong = []
    for cheap, expensive, thresholds in loads_cases(seed):
        got = _loads_dict(stage_loads(cheap.copy(), expensive.copy(), dict(thresholds)))
        if got is None or len(got) < len(STAGES):
            e.missing = ", ".join(s for s in STAGES if got is None or s not in got)
            return LOADS_FUNCTION.judge(name, e)
        want = reference_loads(cheap, expensive, thresholds)
        variants = _load_variants(cheap, expensive, thresholds)
        off = [s for s in STAGES if got[s] != want[s]]
        e.all_items |= any(got[s] == v for s, v in variants["all_items"].items() if s in off)
        e.review_with_auto |= "human_review" in off and got["human_review"] == variants["review_counts_auto"]["human_review"]
        wrong += [s for s in off if s not in wrong]
    e.wrong = " and ".join(s.replace("_", " ") for s in wrong)
    return LOADS_FUNCTION.judge(name, e)


@shared(maxsize=24)  # the learner's functions get copies; nothing here changes a case
def threshold_cases(seed: int) -> list[dict]:
    """Tuning days for ``cascade_thresholds``: two settings of target and budgets, and a day without violations."""
    from mlcasebook.datasets.design import make_moderation_days

    rng = np.random.default_rng(seed)
    settings = [(0.9, int(rng.integers(90, 130)), int(rng.integers(1_100, 1_400))),
                (0.97, int(rng.integers(35, 60)), int(rng.integers(600, 800)))]
    out = []
    for target, review, expensive in settings:
        f = make_moderation_days(1, items_per_day=8_000, violation_rate=0.03, blind_share=0.35,
                                 random_state=int(rng.integers(2**31))).frame
        out.append({"frame": f, "target": target, "review": review, "expensive": expensive, "control": False})
    f = make_moderation_days(1, items_per_day=4_000, violation_rate=0.0, random_state=int(rng.integers(2**31))).frame
    out.append({"frame": f, "target": 0.95, "review": 80, "expensive": 600, "control": True})
    return out


def _thresholds_dict(result) -> dict | None:
    if isinstance(result, pd.Series):
        result = result.to_dict()
    if not isinstance(result, Mapping) or any(k not in result for k in THRESHOLD_KEYS):
        return None
    try:
        out = {k: float(result[k]) for k in THRESHOLD_KEYS}
    except (TypeError, ValueError):
        return None
    return None if any(math.isnan(v) for v in out.values()) else out


def _call_thresholds(fn: Callable, frame: pd.DataFrame, target, review, expensive):
    return fn(frame["cheap_score"].to_numpy(copy=True), frame["expensive_score"].to_numpy(copy=True),
              frame["violation"].to_numpy(copy=True), target, review, expensive)


def _same(a: Mapping, b: Mapping) -> bool:
    return all(a[k] == b[k] or (math.isfinite(a[k]) and math.isfinite(b[k]) and math.isclose(a[k], b[k], rel_tol=1e-9,
                                                                                               abs_tol=1e-12))
               for k in THRESHOLD_KEYS)


# Slack on a capacity: a quantile-based threshold may let one or two items more through (interpolation between
# two scores); 0.5 % + 2 items holds that and nothing that ignores the budget (a fixed threshold is off by far more).
# Recall: the same procedure written another way (a removal threshold from a 0.01 grid, a quantile for the budget,
# sklearn's precision_recall_curve) loses at most 0.008 of recall against the exact optimum on these days, over 20
# seeds (tests/test_checks_design.py); a review band sized on every item instead of the items passed on loses 0.03
# (median). One violation is ~0.004 of recall here (about 240 violations a day); 0.015 is between the two.
CAPACITY_SLACK, RECALL_TOLERANCE = 0.005, 0.015


def _over(load: float, budget: int) -> bool:
    return load > budget * (1 + CAPACITY_SLACK) + 2


THRESHOLDS_FUNCTION = Ladder(
    Misconception("thresholds_not_a_dict", lambda e: e.unusable,
                  "cascade_thresholds must return a dict with the three thresholds, keys 'cheap', 'auto' and "
                  "'review' (numbers, math.inf allowed); yours returned {e.got}."),
    Misconception("expensive_overflow", lambda e: e.expensive_over,
                  "Your cheap-model threshold passes more items to the expensive model than it can score a day: the "
                  "expensive stage's capacity is a hard limit."),
    Misconception("review_overflow", lambda e: e.review_over,
                  "Your thresholds send more items to human review than the reviewers can handle a day: the review "
                  "band must be sized to the budget, counting only items that reach the expensive model and are not "
                  "removed automatically."),
    Misconception("precision_wrong_population", lambda e: e.precision_low,
                  "On the items your cascade removes automatically, fewer than the target share are violations: "
                  "precision must be measured on the items that reach the expensive model and score above the "
                  "removal threshold (not on every item, and not as accuracy over all items)."),
    Misconception("below_best_recall", lambda e: e.low_recall,
                  "Your thresholds meet the precision target and both capacities but catch clearly fewer violations "
                  "than they allow: lower the removal threshold as far as the precision target lets you, and fill "
                  "the expensive model's and the reviewers' capacity."),
    Misconception("acts_without_evidence", lambda e: e.control_acts,
                  "On a day without a single violation your cascade_thresholds {e.control_what}: when no removal "
                  "threshold meets the precision target, nothing may be removed without a human, and the other two "
                  "thresholds must still work (check what your search returns when no threshold qualifies: np.argmax "
                  "of an all-False array is 0, and the list of qualifying thresholds is empty)."),
    Misconception("tuned_on_test", lambda e: e.on_test,
                  "Your `thresholds` are what your cascade_thresholds gives on the test day: thresholds tuned on the "
                  "test day make its precision and loads look exactly on target; tune on the tuning day and report "
                  "the test day."),
    Misconception("thresholds_not_from_tuning_day", lambda e: e.not_from_tuning,
                  "Your `thresholds` are not what your cascade_thresholds gives on the tuning day: compute them "
                  "with your function on the tuning day's scores and labels."),
    passed="Your thresholds meet the precision target within both capacities, catch about as many violations as "
           "the budgets allow, remove nothing on a day without violations, and come from the tuning day.",
)


@shared(maxsize=1)
def moderation_case() -> pd.DataFrame:
    from mlcasebook.datasets.design import make_moderation_days

    return make_moderation_days(**case.MODERATION).frame


@check("cascade thresholds",
       stub_hint="implement `cascade_thresholds(cheap_scores, expensive_scores, labels, precision_target, "
                 "review_budget, expensive_budget)` and set `thresholds` from the tuning day",
       ladder=THRESHOLDS_FUNCTION)
def thresholds_function(name: str, cascade_thresholds: Callable, thresholds=None, *, seed: int = 0) -> CheckResult:
    """Call ``cascade_thresholds`` on :func:`threshold_cases`, judge the thresholds by the cascade's outcome on the
    same day (precision of the removals >= target, loads within the budgets, recall within ``RECALL_TOLERANCE`` of
    :func:`reference_thresholds`), then compare the notebook's ``thresholds`` with the learner's function on the
    case's tuning and test days."""
    e = Evidence(unusable=False, got="", control_acts=False, control_what="", expensive_over=False,
                 review_over=False, precision_low=False, low_recall=False, on_test=False, not_from_tuning=False)
    for item in threshold_cases(seed):
        f = item["frame"]
        if item["control"]:  # last: an error here is this case's finding, not a broken function
            try:
                got = _thresholds_dict(_call_thresholds(cascade_thresholds, f, item["target"], item["review"],
                                                        item["expensive"]))
            except NotImplementedError:
                raise
            except Exception as exc:  # noqa: BLE001 - raising on this day is the mistake found
                kind = getattr(exc, "ename", type(exc).__name__)  # the grading channel's LearnerError keeps the class
                e.control_acts, e.control_what = True, f"raises {kind}"
                continue
            if got is None:
                return THRESHOLDS_FUNCTION.fail(name, "thresholds_not_a_dict", Evidence(got="something else"))
            removed = cascade_outcome(got, f["cheap_score"], f["expensive_score"], f["violation"])["auto_removed"]
            e.control_acts, e.control_what = removed > 0, "still removes items automatically"
            continue
        got = _thresholds_dict(_call_thresholds(cascade_thresholds, f, item["target"], item["review"],
                                                item["expensive"]))
        if got is None:
            return THRESHOLDS_FUNCTION.fail(name, "thresholds_not_a_dict", Evidence(got="something else"))
        out = cascade_outcome(got, f["cheap_score"], f["expensive_score"], f["violation"])
        best = cascade_outcome(reference_thresholds(f["cheap_score"], f["expensive_score"], f["violation"],
                                                    item["target"], item["review"], item["expensive"]),
                               f["cheap_score"], f["expensive_score"], f["violation"])
        e.expensive_over |= _over(out["expensive_model"], item["expensive"])
        e.review_over |= _over(out["human_review"], item["review"])
        e.precision_low |= out["auto_removed"] > 0 and out["auto_precision"] < item["target"] - 1e-9
        e.low_recall |= out["recall"] < best["recall"] - RECALL_TOLERANCE
    if any((e.control_acts, e.expensive_over, e.review_over, e.precision_low, e.low_recall)):
        return THRESHOLDS_FUNCTION.judge(name, e)
    if is_stub(thresholds) or (isinstance(thresholds, Mapping) and all(is_stub(v) for v in thresholds.values())):
        return not_attempted(name, "Not attempted yet: set `thresholds` with your function on the tuning day.")
    mine = _thresholds_dict(thresholds)
    if mine is None:
        return THRESHOLDS_FUNCTION.fail(name, "thresholds_not_a_dict", Evidence(got=_kind(thresholds)))
    frame = moderation_case()
    args = (case.PRECISION_TARGET, case.REVIEW_BUDGET, case.EXPENSIVE_BUDGET)
    on_tune = _thresholds_dict(_call_thresholds(cascade_thresholds, frame[frame["day"] == case.TUNE_DAY], *args))
    if on_tune is not None and _same(mine, on_tune):
        return THRESHOLDS_FUNCTION.judge(name, e)
    on_test = _thresholds_dict(_call_thresholds(cascade_thresholds, frame[frame["day"] == case.TEST_DAY], *args))
    e.on_test = on_test is not None and _same(mine, on_test)
    e.not_from_tuning = True
    return THRESHOLDS_FUNCTION.judge(name, e)


# ================================================================ round 3: autocomplete


def decayed_counts(log: pd.DataFrame, now, half_life_days: float, *, until=None, time_constant: bool = False) -> pd.Series:
    """Each query's searches before ``now`` (or ``until``), each weighted 0.5 ** (age / half-life) (or
    exp(-age / half-life) with ``time_constant``); an infinite half-life counts every search once."""
    until = now if until is None else until
    past = log[log["timestamp"] < until]
    age = (pd.Timestamp(now) - past["timestamp"]) / pd.Timedelta(days=1)
    if math.isinf(half_life_days):
        weight = np.ones(len(past))
    elif time_constant:
        weight = np.exp(-age.to_numpy() / half_life_days)
    else:
        weight = 0.5 ** (age.to_numpy() / half_life_days)
    return pd.Series(weight, index=past.index).groupby(past["query"]).sum()


def reference_index(log: pd.DataFrame, now, half_life_days: float, k: int) -> dict[str, list[str]]:
    """Every prefix of every query searched before ``now``, with its k queries of largest decayed count."""
    counts = decayed_counts(log, now, half_life_days).sort_values(ascending=False, kind="stable")
    index: dict[str, list[str]] = {}
    for query in counts.index:
        for end in range(1, len(query) + 1):
            best = index.setdefault(query[:end], [])
            if len(best) < k:
                best.append(query)
    return index


@shared(maxsize=24)  # the learner's functions get copies; nothing here changes a case
def index_cases(seed: int) -> dict:
    """A two-week log with trends and fades, ``now`` at a day's start, and a burst of one query right after it."""
    from mlcasebook.datasets.design import make_query_log

    rng = np.random.default_rng(seed)
    data = make_query_log(14, per_day=1_500, n_queries=400, n_trending=8, n_fading=8, trend_days=3,
                          random_state=int(rng.integers(2**31)))
    log = data.frame
    now = log["timestamp"].min().normalize() + pd.Timedelta(days=int(rng.integers(11, 13)))
    counts = decayed_counts(log, now, math.inf)
    burst = str(rng.choice(counts[counts < counts.quantile(0.5)].index))
    times = now + pd.to_timedelta(np.sort(rng.uniform(60, 3 * 3600, 250)), unit="s")
    log = pd.concat([log, pd.DataFrame({"timestamp": times, "day": int((now - log["timestamp"].min().normalize()).days),
                                        "query": burst})]).sort_values("timestamp", kind="stable")
    log = log.reset_index(drop=True)
    queries = list(rng.choice(counts.index, 60, replace=False)) + data.truth.trending + data.truth.fading + [burst]
    prefixes = sorted({q[:end] for q in queries for end in range(1, min(len(q), 7) + 1)})
    return {"log": log, "now": now, "prefixes": prefixes, "calls": ((1.5, 4), (6.0, 7))}


class _Pools:
    """For each prefix, which of the log's queries start with it (computed once, shared by every weighting)."""

    def __init__(self, queries, prefixes):
        self.queries = np.asarray(sorted(set(queries)), dtype=object)
        self.position = {q: i for i, q in enumerate(self.queries)}
        as_str = self.queries.astype(str)
        self.masks = {p: np.char.startswith(as_str, p) for p in prefixes}

    def weights(self, counts: pd.Series) -> np.ndarray:
        return counts.reindex(self.queries).fillna(0.0).to_numpy(float)

    def agrees(self, got, weights: np.ndarray, prefix: str, k: int) -> bool:
        """``got`` lists the k queries with the largest weights among those starting with ``prefix`` (ties either
        way; a query with no search before now has weight 0 and is never a completion)."""
        mask = self.masks[prefix] & (weights > 0)
        top = np.sort(weights[mask])[::-1][:k]
        if len(got) != len(top) or len(set(got)) != len(got):
            return False
        index = [self.position.get(q) for q in got]
        if any(i is None or not mask[i] for i in index):
            return False
        return bool(np.allclose(weights[index], top, rtol=1e-9, atol=1e-12))

    def agreement(self, lists: Mapping[str, list], counts: pd.Series, k: int) -> float:
        """The share of prefixes whose list is the top k under ``counts``."""
        weights = self.weights(counts)
        return float(np.mean([self.agrees(v, weights, p, k) for p, v in lists.items()]))


def _lists(index, prefixes) -> dict[str, list] | None:
    try:
        return {p: [str(q) for q in index[p]] if p in index else None for p in prefixes}
    except (TypeError, KeyError):
        return None


INDEX_FUNCTION = Ladder(
    Misconception("index_not_a_dict", lambda e: e.unusable,
                  "build_index must return a dict from each prefix to its list of completions, best first; yours "
                  "returned {e.got}."),
    Misconception("more_than_k", lambda e: e.too_long,
                  "Some of your lists hold more than k completions: the box shows k, and serving must not sort more."),
    Misconception("not_prefix_match", lambda e: e.not_prefix,
                  "Some of your completions do not start with their prefix (a substring match?): a completion "
                  "continues what the user typed."),
    Misconception("missing_prefixes", lambda e: e.missing,
                  "Your index has no entry for some prefixes of queries searched before now (every prefix of every "
                  "query needs one, from the first character on), or no completions in it."),
    Misconception("future_events_used", lambda e: e.future,
                  "Your index counts searches made after now: a query that is searched in a burst just after now "
                  "ranks high in your lists, which an index built at now cannot know (keep only timestamps before "
                  "now)."),
    Misconception("ignores_recency", lambda e: e.raw_counts,
                  "Your lists rank queries by how often they were searched, whatever the age of the searches: the "
                  "half-life is ignored, so last month's fads outrank what is trending now."),
    Misconception("time_constant_not_half_life", lambda e: e.time_constant,
                  "Your decay weighs a search exp(-age / half_life): its weight then halves every 0.69 half-lives, so "
                  "searches fade faster than the half-life you are given says."),
    Misconception("wrong_ranking", lambda e: not e.ranking_ok,
                  "Your lists do not rank the completions by their decayed count on some prefixes."),
    passed="Your index holds every prefix with its k best completions by decayed count, from searches before now "
           "only.",
)


@check("autocomplete index", stub_hint="implement `build_index(log, now, half_life_days, k)`", ladder=INDEX_FUNCTION)
def index_function(name: str, build_index: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``build_index`` on :func:`index_cases` with two half-lives and list lengths; compare the lists of the
    chosen prefixes with the reference weights (ties in either order)."""
    cases = index_cases(seed)
    log, now = cases["log"], cases["now"]
    e = Evidence(unusable=False, got="", too_long=False, not_prefix=False, missing=False, future=False,
                 raw_counts=False, time_constant=False, ranking_ok=True)
    for half_life, k in cases["calls"]:
        index = build_index(log.copy(), now, half_life, k)
        if not isinstance(index, Mapping):
            return INDEX_FUNCTION.fail(name, "index_not_a_dict", Evidence(got=_kind(index)))
        want = decayed_counts(log, now, half_life)
        known = [p for p in cases["prefixes"] if want.index.str.startswith(p).any()]
        lists = _lists(index, known)
        if lists is None:
            return INDEX_FUNCTION.fail(name, "index_not_a_dict", Evidence(got="a mapping that cannot be read"))
        present = {p: v for p, v in lists.items() if v}
        e.missing |= len(present) < len(known)
        e.too_long |= any(len(v) > k for v in present.values())
        e.not_prefix |= any(not q.startswith(p) for p, v in present.items() for q in v)
        if e.too_long or e.not_prefix or e.missing:
            continue
        pools = _Pools(log["query"], list(present))
        right = pools.agreement(present, want, k)
        if right < 1.0:  # which known mistake do the lists follow instead?
            e.ranking_ok = False
            bar = max(right, 0.9)
            until = log["timestamp"].max() + pd.Timedelta(seconds=1)
            e.future |= pools.agreement(present, decayed_counts(log, now, half_life, until=until), k) > bar
            e.raw_counts |= pools.agreement(present, decayed_counts(log, now, math.inf), k) > bar
            e.time_constant |= pools.agreement(present, decayed_counts(log, now, half_life, time_constant=True), k) > bar
    return INDEX_FUNCTION.judge(name, e)


def reference_mrr(suggested, targets) -> float:
    """Mean over all typed prefixes of 1 / (1-based position of the searched query in the list), 0 when absent."""
    ranks = [1.0 / (list(s).index(t) + 1) if t in list(s) else 0.0 for s, t in zip(suggested, targets, strict=True)]
    return float(np.mean(ranks)) if ranks else math.nan


@shared(maxsize=24)  # the learner's functions get copies; nothing here changes a case
def mrr_cases(seed: int) -> tuple[list[list[str]], list[str]]:
    """Ranked lists with the target at every position 1..5, absent, or the list empty."""
    rng = np.random.default_rng(seed)
    words = [f"query {i}" for i in range(60)]
    suggested, targets = [], []
    for _ in range(int(rng.integers(180, 240))):
        lst = list(rng.choice(words, int(rng.integers(3, 6)), replace=False))
        outcome = rng.choice(["hit", "miss", "empty"], p=[0.6, 0.3, 0.1])
        if outcome == "hit":
            target = lst[int(rng.choice(len(lst), p=np.r_[0.4, np.full(len(lst) - 1, 0.6 / (len(lst) - 1))]))]
        else:
            target = str(rng.choice([w for w in words if w not in lst]))
            lst = [] if outcome == "empty" else lst
        suggested.append([str(q) for q in lst])
        targets.append(str(target))
    return suggested, targets


def _mrr_variants(suggested, targets) -> dict[str, float]:
    ranks = np.array([1.0 / (s.index(t) + 1) if t in s else 0.0 for s, t in zip(suggested, targets, strict=True)])
    hit = ranks > 0
    return {"misses_dropped": float(ranks[hit].mean()), "success": float(hit.mean()),
            "first_only": float((ranks == 1).mean()), "sum": float(ranks.sum())}


MRR_FUNCTION = Ladder(
    Misconception("mrr_not_a_number", lambda e: e.not_number,
                  "mean_reciprocal_rank must return one number; yours returned {e.got}."),
    Misconception("misses_dropped", lambda e: e.close("misses_dropped"),
                  "Your MRR averages over the prefixes whose searched query was in the list only: a prefix whose "
                  "list missed the query scores 0 and still counts, or a box that never suggests the right query "
                  "looks perfect."),
    Misconception("not_reciprocal_rank", lambda e: e.close("success") or e.close("first_only"),
                  "Your MRR counts a hit the same wherever it sits in the list (or only at the top): that is "
                  "success@k (or hit@1), not a reciprocal rank."),
    Misconception("sum_not_mean", lambda e: e.close("sum"),
                  "Your MRR adds the reciprocal ranks up instead of averaging them: it grows with the number of "
                  "prefixes."),
    Misconception("wrong_mrr", lambda e: not e.ok,
                  "Your MRR differs from the mean reciprocal rank of these lists: check how you find the position and "
                  "what a miss or an empty list scores."),
    passed="Your MRR averages one over the searched query's position over every prefix, misses and empty lists "
           "included.",
)


@check("mean reciprocal rank", stub_hint="implement `mean_reciprocal_rank(suggested, targets)`", ladder=MRR_FUNCTION)
def mrr_function(name: str, mean_reciprocal_rank: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``mean_reciprocal_rank`` on :func:`mrr_cases`; exact to 1e-9."""
    suggested, targets = mrr_cases(seed)
    value = mean_reciprocal_rank([list(s) for s in suggested], list(targets))
    try:
        got = float(value)
    except (TypeError, ValueError):
        return MRR_FUNCTION.fail(name, "mrr_not_a_number", Evidence(got=_kind(value)))
    variants = _mrr_variants(suggested, targets)
    want = reference_mrr(suggested, targets)
    e = Evidence(not_number=False, got="", ok=math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12))
    e.close = lambda key: not e.ok and math.isclose(got, variants[key], rel_tol=1e-9, abs_tol=1e-12)
    return MRR_FUNCTION.judge(name, e)


# ================================================================ the three design answers

FRAUD_CHOICES = {
    "requirements": {"top_k_within_review_capacity"},
    "data": {"matured_chargebacks_and_analyst_labels"},
    "features": {"point_in_time_behaviour_aggregates"},
    "model": {"gradient_boosted_trees", "logistic_regression"},
    "validation": {"time_split_matured_labels"},
    "offline_metric": {"precision_at_k_per_day", "fraud_amount_caught_at_k"},
    "online_metric": {"fraud_losses_prevented", "analyst_hit_rate"},
    "serving": {"real_time_scoring_at_authorisation"},
    "monitoring": {"score_drift_and_matured_precision"},
    "feedback_loop": {"random_audit_of_unalerted"},
}
_FRAUD_MISTAKES = {
    ("requirements", "flag_above_fixed_score"): "a fixed score threshold raises as many alerts as the day happens to "
        "produce: more than the analysts can review on an attack day, fewer than they could on a quiet one",
    ("requirements", "maximise_accuracy"): "calling every transaction legitimate is right on more than 99 % of them "
        "and catches no fraud",
    ("requirements", "catch_every_fraud"): "the analysts review a fixed number a day, and what they cannot review is "
        "not caught either; the requirement has to be stated within that capacity",
    ("data", "chargebacks_received_so_far"): "a recent transaction without a chargeback may still get one: counting "
        "it legitimate teaches the model that recent fraud is fine and makes every recent day look clean",
    ("data", "analyst_verdicts_only"): "the analysts only see what the current system alerted on, so those labels "
        "hold none of the fraud it missed",
    ("data", "rules_engine_flags"): "a model trained on the old rules' flags learns to imitate the rules, their "
        "mistakes included",
    ("features", "aggregates_over_whole_table"): "aggregates over the whole table include transactions after the one "
        "being scored: offline they see the fraud spree that follows, at scoring time they cannot",
    ("features", "card_number_one_hot"): "a card-number column memorises the cards seen in training and says nothing "
        "about a new card (and a card is cancelled after its fraud)",
    ("features", "chargeback_status"): "the chargeback is the label itself, arriving weeks after the decision: a "
        "model that needs it cannot score a transaction when it happens",
    ("model", "unsupervised_anomaly_detector"): "labels exist, late but plenty, and unusual is not the same as "
        "fraudulent: a large legitimate purchase is unusual, a card-testing burst looks ordinary",
    ("model", "sequence_model_as_first_version"): "a first version should be a strong tabular model you can ship, "
        "explain and monitor within the latency budget; a sequence model is a later step once the data pipeline "
        "exists",
    ("validation", "random_split"): "a random split puts the days around each validation day in training, so the "
        "model is judged on weeks whose fraud it has already seen",
    ("validation", "latest_days_labelled_today"): "the most recent transactions have not had their chargebacks yet: "
        "their fraud counts as legitimate and the measured precision is far too low",
    ("validation", "shuffled_k_fold"): "shuffled folds mix past and future just as a random split does",
    ("offline_metric", "accuracy"): "at 0.8 % fraud, calling everything legitimate scores 99.2 %",
    ("offline_metric", "roc_auc_all_transactions"): "AUC averages the ranking over every transaction, mostly ones "
        "the analysts never see; two models with the same AUC can put very different transactions in the daily "
        "queue",
    ("online_metric", "alerts_per_day"): "the number of alerts is set by the capacity, so it says nothing about the "
        "model: it is a load to watch, not an outcome",
    ("online_metric", "daily_production_auc"): "a daily AUC needs labels that arrive weeks later and scores the "
        "ranking of transactions nobody reviews; it is not what the business gains",
    ("serving", "nightly_batch_scoring"): "a stolen card is used again within hours: a batch that runs overnight "
        "finds the fraud after the money is gone and can never hold a payment",
    ("serving", "weekly_batch_scoring"): "a week is far longer than a fraud spree lasts: the card is empty by the "
        "time it is scored",
    ("monitoring", "precision_on_latest_days"): "yesterday's fraud has no chargebacks yet, so that number falls "
        "every day whatever the model does, and a real decay hides in it",
    ("monitoring", "accuracy_dashboard"): "accuracy stays above 99 % whether the model works or not",
    ("feedback_loop", "retrain_on_reviewed_alerts_only"): "the model then learns only from what it already flags, "
        "and the fraud it misses never enters its training data",
    ("feedback_loop", "model_scores_as_labels"): "training on the model's own output reinforces its mistakes",
    ("feedback_loop", "no_loop_to_worry_about"): "a transaction the model blocks never gets a chargeback, so blocked "
        "fraud vanishes from the labels, and fraudsters adapt to what gets blocked",
}
FRAUD_DESIGN = decision_ladder(FRAUD_CHOICES, _FRAUD_MISTAKES,
                               "A fraud design built around the analysts' capacity, matured labels and a "
                               "time-based validation, scored as payments happen, with labels that keep covering "
                               "what the model misses.")

MODERATION_CHOICES = {
    "requirements": {"precision_floor_and_review_budget"},
    "data": {"reviewer_decisions_plus_random_audit"},
    "features": {"content_embeddings_and_account_signals"},
    "model": {"cheap_then_expensive_cascade"},
    "offline_metric": {"recall_at_precision_target_within_budgets"},
    "online_metric": {"prevalence_of_violating_views", "overturned_appeals_rate"},
    "serving": {"cheap_at_upload_rest_asynchronous"},
    "monitoring": {"stage_loads_and_audited_precision"},
    "feedback_loop": {"audits_and_appeals_into_training"},
    "rollout": {"offline_shadow_canary_ab_full"},
}
_MODERATION_MISTAKES = {
    ("requirements", "remove_above_fixed_score"): "a fixed threshold ignores both what a wrong removal costs and how "
        "many items the reviewers and the expensive model can take",
    ("requirements", "human_review_of_every_flag"): "the reviewers handle a few hundred items a day, and flags on a "
        "few percent of 20,000 uploads overflow the queue on the first day",
    ("requirements", "maximise_accuracy"): "with 2 % violations, allowing everything is 98 % accurate",
    ("data", "user_reports_only"): "users report what they dislike, not what breaks the policy, and never report "
        "what the system already removed",
    ("data", "reviewed_items_only"): "the current cascade decides what gets reviewed, so those labels hold none of "
        "the violations it lets through, and thresholds tuned on them are biased",
    ("data", "keyword_matches"): "keyword matches label what the keyword list already catches, not what violates "
        "the policy",
    ("features", "reports_received_by_end_of_day"): "an item has no reports at upload, when it is scored: counts "
        "from later in the day leak the future into training",
    ("features", "author_id_one_hot"): "an author-id column memorises the authors seen in training and says nothing "
        "about a new account, which is where abuse comes from",
    ("model", "expensive_model_on_everything"): "the expensive model's capacity is a few thousand items a day, far "
        "fewer than the uploads",
    ("model", "keyword_and_hash_rules_only"): "rules catch known content (hashes are great for known images) but "
        "miss new wording and new images; they belong inside the system, not instead of a model",
    ("offline_metric", "accuracy"): "with 2 % violations, allowing everything is 98 % accurate",
    ("offline_metric", "roc_auc_of_each_model"): "each model's AUC ranks all items, but what the system achieves "
        "depends on what reaches each stage and on the thresholds, which AUC does not see",
    ("online_metric", "removals_per_day"): "more removals can mean more wrong removals; the count does not say "
        "whether users see less harmful content",
    ("online_metric", "review_queue_length"): "the queue length is a load to keep within capacity, not an outcome",
    ("serving", "nightly_batch_all_stages"): "harmful content gets most of its views in its first hours, so a "
        "nightly batch removes it after the harm is done",
    ("serving", "expensive_model_blocks_upload"): "every upload, benign or not, would wait for the slowest model, "
        "and the expensive stage would see every item",
    ("monitoring", "removal_count_only"): "the count says neither whether the removals are right nor what the "
        "system misses",
    ("monitoring", "precision_on_reviewed_items"): "the reviewed items are the uncertain band, not the population: "
        "they say nothing about what is let through or removed",
    ("feedback_loop", "auto_removals_as_positives"): "counting the model's own removals as violations reinforces its "
        "mistakes",
    ("feedback_loop", "no_loop_to_worry_about"): "uploaders adapt to what gets removed (new spellings, altered "
        "images), and the model decides which items ever get a human label",
    ("rollout", "everyone_after_offline"): "a wrong removal threshold removes thousands of legitimate posts before "
        "anyone notices, when its decisions could first have been logged on live traffic without acting on them",
    ("rollout", "ab_test_from_day_one"): "half the traffic is exposed before anyone knows whether the live loads fit "
        "the capacities or the model misbehaves on live data; cheaper steps come first",
}
MODERATION_DESIGN = decision_ladder(MODERATION_CHOICES, _MODERATION_MISTAKES,
                                    "A moderation design with a precision floor and budgets, audited labels, a "
                                    "cascade that fits its capacities, and a rollout that proves it on live traffic "
                                    "before it acts.")

AUTOCOMPLETE_CHOICES = {
    "requirements": {"top_k_per_keystroke_within_latency"},
    "data": {"query_logs_with_timestamps"},
    "features": {"decayed_frequency_with_trending"},
    "model": {"frequency_ranker_then_learned_reranker"},
    "offline_metric": {"mrr_and_success_at_k_next_day"},
    "online_metric": {"acceptance_rate_and_keystrokes_saved"},
    "serving": {"precomputed_prefix_index_plus_streaming_trends"},
    "monitoring": {"latency_percentiles_and_acceptance"},
    "feedback_loop": {"log_impressions_and_discount_shown_position"},
    "cold_start": {"fresh_counts_and_global_fallback"},
}
_AUTOCOMPLETE_MISTAKES = {
    ("requirements", "best_completions_whatever_the_latency"): "a suggestion that arrives after the next keystroke "
        "is useless: the user has typed on",
    ("requirements", "single_most_frequent_completion"): "one suggestion leaves the user nowhere to go when it is "
        "wrong, and the box has room for several",
    ("data", "editorial_query_list"): "a hand-made list cannot follow what millions of users search today and goes "
        "stale at once",
    ("data", "web_crawl_phrases"): "web text is not what people type into a search box",
    ("features", "all_time_frequency"): "counts over all time keep suggesting last month's fads and bury what people "
        "search this week",
    ("features", "query_length"): "short is not the same as likely",
    ("model", "generative_model_per_keystroke"): "a generative model at every keystroke blows the latency budget and "
        "can suggest queries nobody searches, or offensive ones",
    ("model", "alphabetical_completion"): "alphabetical order puts the likely queries anywhere in the list",
    ("offline_metric", "next_character_accuracy"): "users choose whole queries from a list; a per-character score "
        "measures nothing they see",
    ("offline_metric", "mrr_on_random_sample_of_log"): "a random sample puts the evaluation day's searches into the "
        "counts that rank them: the future leaks in and trending queries look predicted",
    ("online_metric", "suggestions_shown_per_day"): "showing more suggestions is not better; what matters is whether "
        "one is chosen and saves typing",
    ("online_metric", "index_size"): "the index size is a cost, not an outcome",
    ("serving", "scan_all_queries_per_keystroke"): "scanning every known query at every keystroke costs time in "
        "proportion to millions of queries, far over a budget of milliseconds",
    ("serving", "nightly_index_rebuild_only"): "a nightly index is up to a day late for a query that trends now, "
        "exactly when people search it most",
    ("monitoring", "average_latency_only"): "a mean hides the slow tail that users feel on every keystroke",
    ("monitoring", "index_build_success_only"): "a build can succeed and still serve stale, slow or offensive "
        "suggestions",
    ("feedback_loop", "accepted_suggestions_as_organic_queries"): "a suggestion that is shown gets chosen more, and "
        "counting those choices as free demand makes the popular more popular forever",
    ("feedback_loop", "no_loop_to_worry_about"): "users pick what is shown to them, so today's suggestions shape "
        "tomorrow's counts",
    ("cold_start", "wait_for_a_month_of_history"): "by the time a query has a month of history its trend is over",
    ("cold_start", "personal_history_only"): "a new user has no history, so the box would stay empty",
}
AUTOCOMPLETE_DESIGN = decision_ladder(AUTOCOMPLETE_CHOICES, _AUTOCOMPLETE_MISTAKES,
                                      "An autocomplete design within a per-keystroke latency budget: a precomputed "
                                      "index of fresh counts, judged by MRR on the next day, with an eye on the loop "
                                      "its own suggestions create.")


@check("fraud design", stub_hint="fill in `fraud_design` with one choice per key", ladder=FRAUD_DESIGN)
def fraud_design(name: str, design: dict) -> CheckResult:
    """One choice per key from ``FRAUD_MENU``; ``decision_<key>`` names each known wrong choice."""
    return decide(name, FRAUD_DESIGN, design, FRAUD_CHOICES, _FRAUD_MISTAKES, normalise_choice)


@check("moderation design", stub_hint="fill in `moderation_design` with one choice per key", ladder=MODERATION_DESIGN)
def moderation_design(name: str, design: dict) -> CheckResult:
    """One choice per key from ``MODERATION_MENU``."""
    return decide(name, MODERATION_DESIGN, design, MODERATION_CHOICES, _MODERATION_MISTAKES, normalise_choice)


@check("autocomplete design", stub_hint="fill in `autocomplete_design` with one choice per key",
       ladder=AUTOCOMPLETE_DESIGN)
def autocomplete_design(name: str, design: dict) -> CheckResult:
    """One choice per key from ``AUTOCOMPLETE_MENU``."""
    return decide(name, AUTOCOMPLETE_DESIGN, design, AUTOCOMPLETE_CHOICES, _AUTOCOMPLETE_MISTAKES, normalise_choice)
