"""Checks for the feature pipelines case (03_system_design/feature_pipelines).

The case: a year of subscription events from ``make_event_log(random_state=0)``, monthly churn snapshots, and a
serving log whose online path fills a missing ``days_since_ticket`` with 0. Reference figures (seed 0, the
notebook's logistic regression on the five features and two attributes, 40 % of the customers held out): the naive
join (today's feature table joined to every snapshot) scores 0.95 on a random split and 0.40 on the holdout;
point-in-time features score 0.80 on the holdout and 0.87 on a random split; counting events stamped at the label
time (``<=``) gives 0.93 on the holdout (tests/test_checks_pipelines.py reproduces them).

The learner writes procedures (``features_as_of``, ``time_split``, ``find_skew``, ``serve``, ``staleness``);
hidden tests call them on inputs built here from a seed the hidden cell passes, each input built so that a known
bug gives a visibly different answer. Messages name the mistake, never a hidden input, seed or expected value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from mlcasebook.cases.pipelines import *  # noqa: F403 - public facts, also readable as checks.pipelines.<NAME>
from mlcasebook.cases.pipelines import (
    ATTRIBUTES,
    BATCH_COST_PER_CUSTOMER,
    CUTOFF,
    FEATURES,
    HORIZON,
    LOG_END,
    ONLINE_COST_PER_REQUEST,
    SAMPLE_RATE,
    WINDOWS,
)
from mlcasebook.checks.cases_cache import shared
from mlcasebook.checks.decisions import decide, decision_ladder, normalise_choice
from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, check, is_stub, not_attempted

CASE_SEED = 0
_COUNTS = [f for f in FEATURES if WINDOWS[f][2] == "count"]
_MAYBE_MISSING = [f for f in FEATURES if f not in _COUNTS]
_US_PER_DAY = 86_400 * 1_000_000

# ---------------------------------------------------------------- the reference: features as of each label time


def _micros(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[us]").astype(np.int64)


def reference_features(events: pd.DataFrame, labels: pd.DataFrame, *, times=None, upper: str = "lt",
                       lower: str = "ge", future: bool = False) -> pd.DataFrame:
    """The five features of every label row, in its order, from the events strictly before its label time.

    ``times`` replaces the label times (the naive join passes ``LOG_END``). The keywords build the known wrong
    variants the checks compare with: ``upper="le"`` also counts events at the label time, ``lower="gt"`` drops
    those exactly at the window's start, ``future=True`` drops the upper bound (events after the label time count).
    """
    ids = pd.Index(pd.unique(np.r_[events["customer_id"].to_numpy(), labels["customer_id"].to_numpy()]))
    e_code = ids.get_indexer(events["customer_id"].to_numpy()).astype(np.int64)
    l_code = ids.get_indexer(labels["customer_id"].to_numpy()).astype(np.int64)
    e_us = _micros(events["timestamp"])
    l_us = _micros(labels["label_time"] if times is None else pd.Series(times, index=labels.index))
    origin = min(e_us.min(initial=0), l_us.min(initial=0)) - 400 * _US_PER_DAY
    span = max(e_us.max(initial=0), l_us.max(initial=0)) - origin + 400 * _US_PER_DAY
    e_key = e_code * span + (e_us - origin)
    side_hi = "right" if upper == "le" else "left"
    side_lo = "right" if lower == "gt" else "left"
    kinds = events["event_type"].astype(str).to_numpy()
    amounts = pd.to_numeric(events["amount"], errors="coerce").to_numpy(float)
    out = {}
    for feature, (kind, days, _) in WINDOWS.items():
        m = kinds == kind
        order = np.argsort(e_key[m], kind="stable")
        keys = e_key[m][order]
        q = l_code * span + (l_us - origin)
        hi = np.searchsorted(keys, (l_code + 1) * span if future else q, side="left" if future else side_hi)
        if days is None:
            last = hi - 1
            ok = (last >= 0) & (keys[np.maximum(last, 0)] // span == l_code)
            if future:  # the last event of the customer at all
                ok = ok & (hi > 0)
            t_last = keys[np.maximum(last, 0)] - l_code * span + origin
            out[feature] = np.where(ok, (l_us - t_last) / _US_PER_DAY, np.nan)
            continue
        lo = np.searchsorted(keys, q - days * _US_PER_DAY, side=side_lo)
        n = (hi - lo).clip(min=0)
        if feature == "avg_payment_90d":
            cum = np.r_[0.0, np.cumsum(amounts[m][order])]
            with np.errstate(invalid="ignore"):
                out[feature] = np.where(n > 0, (cum[np.maximum(hi, lo)] - cum[lo]) / np.maximum(n, 1), np.nan)
        else:
            out[feature] = n.astype(float)
    return pd.DataFrame(out, index=labels.index)[FEATURES]


def naive_features(events: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The naive join: today's feature table (as of ``LOG_END``) joined to every label row on the customer."""
    return reference_features(events, labels, times=pd.Series(LOG_END, index=labels.index))


def _close(a, b) -> np.ndarray:
    """Elementwise agreement of two float arrays, missing on both sides counting as agreement."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.isclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)


def _same(a, b) -> bool:
    return bool(np.all(_close(a, b)))


# ---------------------------------------------------------------- features_as_of: hidden inputs

_DAY, _SEC = pd.Timedelta(days=1), pd.Timedelta(seconds=1)


def _edge_case(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-built customers around their label times: events at, just before and just after the label time and
    at the start of a window; a customer without events; labels before any event; a repeated label row; a
    customer with events and no labels; a refund. Rows unsorted, the labels' index not a range."""
    from mlcasebook.cases.pipelines import LOG_START

    t0 = LOG_START + pd.Timedelta(days=int(rng.integers(110, 240)), hours=int(rng.integers(0, 24)))
    c = [int(v) for v in rng.choice(np.arange(900_000, 999_999), 7, replace=False)]
    ev = []

    def add(customer, kind, at, amount=np.nan):
        ev.append((customer, at, kind, amount))

    for at in (t0, t0 - _SEC, t0 + _SEC, t0 - 30 * _DAY, t0 - 30 * _DAY - _SEC, t0 - 12 * _DAY):
        add(c[0], "login", at)
    for at in (t0, t0 - pd.Timedelta(days=3, hours=7), t0 + 2 * _DAY):
        add(c[0], "support_ticket", at)
    for at in (t0, t0 - 90 * _DAY, t0 + _SEC):
        add(c[0], "payment_failed", at)
    add(c[0], "payment", t0, 70.0), add(c[0], "payment", t0 - 45 * _DAY, 40.0), add(c[0], "payment", t0 + _SEC * 3600, -25.0)
    add(c[0], "cancel_page_visit", t0 + pd.Timedelta(minutes=10)), add(c[0], "cancel_page_visit", t0 - 29 * _DAY)
    for at in (t0 + 41 * _DAY, t0 + 43 * _DAY, t0 - 25 * _DAY):
        add(c[2], "login", at)
    add(c[2], "payment", t0 + 45 * _DAY, 55.0), add(c[2], "support_ticket", t0 + 44 * _DAY)
    for k in range(4):
        add(c[3], "login", t0 - (k + 1) * 5 * _DAY), add(c[4], "login", t0 - k * _DAY)
    add(c[3], "payment", t0 - 20 * _DAY, 81.5), add(c[3], "support_ticket", t0 - 70 * _DAY)
    add(c[5], "payment", t0 - 90 * _DAY, 55.0), add(c[5], "payment", t0 - 30 * _DAY, 60.0)
    add(c[5], "payment", t0 - 2 * _DAY, -20.0), add(c[5], "cancel_page_visit", t0 - 30 * _DAY)
    add(c[6], "login", t0 + 7 * _DAY), add(c[6], "cancel_page_visit", t0 + 7 * _DAY - pd.Timedelta(hours=5))
    events = pd.DataFrame(ev, columns=["customer_id", "timestamp", "event_type", "amount"])
    labels = pd.DataFrame([
        (c[0], t0), (c[0], t0 + pd.Timedelta(days=17, hours=5)), (c[1], t0 + pd.Timedelta(hours=3)),
        (c[2], t0 - 20 * _DAY), (c[2], t0 + 40 * _DAY), (c[3], t0 + _DAY), (c[3], t0 + _DAY), (c[5], t0),
        (c[6], t0 + 7 * _DAY)], columns=["customer_id", "label_time"])
    labels["churned"] = rng.integers(0, 2, len(labels))
    return _shuffled(events, labels, rng)


def _shuffled(events, labels, rng):
    events = events.sample(frac=1, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    labels = labels.sample(frac=1, random_state=int(rng.integers(2**31)))
    labels.index = pd.Index(rng.permutation(len(labels)) * 7 + 1_000)
    for frame, col in ((events, "timestamp"), (labels, "label_time")):
        frame[col] = frame[col].astype("datetime64[us]")
    return events, labels[["label_time", "churned", "customer_id"]]


@shared(maxsize=4)
def feature_cases(seed: int) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """A generated log (monthly snapshots and label times at any second, several labels per customer) and the
    hand-built edge cases, both unsorted."""
    from mlcasebook.datasets.pipelines import make_event_log

    rng = np.random.default_rng(seed)
    log = make_event_log(250, n_requests=0, skew=None, random_state=int(rng.integers(2**31)))
    labels = log.labels.sample(frac=0.5, random_state=int(rng.integers(2**31)))[["customer_id", "label_time",
                                                                                   "churned"]]
    extra = log.labels.sample(150, random_state=int(rng.integers(2**31)))[["customer_id", "label_time", "churned"]]
    extra["label_time"] = extra["label_time"] + pd.to_timedelta(rng.integers(0, 28 * 86_400, len(extra)), unit="s")
    generated = _shuffled(log.events.copy(), pd.concat([labels, extra], ignore_index=True), rng)
    return {"generated": generated, "edges": _edge_case(rng)}


def _as_features(out, labels: pd.DataFrame) -> pd.DataFrame | None:
    """The learner's output as a float frame aligned with ``labels`` (by index when it carries the labels' index,
    else by position); None when it is not a frame with the features."""
    if not isinstance(out, pd.DataFrame) or any(f not in out.columns for f in FEATURES):
        return None
    out = out[FEATURES]
    if len(out) == len(labels) and out.index.is_unique and labels.index.is_unique and \
            set(out.index) == set(labels.index) and not out.index.equals(pd.RangeIndex(len(out))):
        out = out.loc[labels.index]
    return pd.DataFrame({f: pd.to_numeric(out[f], errors="coerce").to_numpy(float) for f in FEATURES})


def _variants(events, labels) -> dict[str, pd.DataFrame]:
    reset = labels.reset_index(drop=True)
    return {"reference": reference_features(events, reset), "le": reference_features(events, reset, upper="le"),
            "le_gt": reference_features(events, reset, upper="le", lower="gt"),
            "gt": reference_features(events, reset, lower="gt"), "future": reference_features(events, reset, future=True),
            "naive": naive_features(events, reset)}


@shared(maxsize=8)
def _case_variants(seed: int, key: str) -> dict[str, pd.DataFrame]:
    return _variants(*feature_cases(seed)[key])


@shared(maxsize=8)
def _sorted_case(seed: int, key: str):
    """The same case with the events in time order and the labels sorted by time, and its variants."""
    events, labels = feature_cases(seed)[key]
    ordered = labels.sort_values(["label_time", "customer_id"], kind="stable")
    sorted_events = events.sort_values("timestamp", kind="stable")
    return ordered, sorted_events, _variants(sorted_events, ordered)


def _constant_per_customer(got: pd.DataFrame, feature: str, labels: pd.DataFrame) -> bool:
    g = pd.Series(got[feature].to_numpy(), index=labels["customer_id"].to_numpy())
    counts = g.groupby(level=0).size()
    several = counts[counts > 1].index
    if len(several) == 0:
        return False
    return bool((g.loc[several].groupby(level=0).nunique(dropna=False) <= 1).all())


_WHERE = {"generated": "a generated log with several labels per customer", "edges": "events near the label times"}

FEATURES_FUNCTION = Ladder(
    Misconception("missing_columns", lambda e: e.unusable,
                  "features_as_of must return a DataFrame with one column per feature of the text; yours returned "
                  "{e.got}."),
    Misconception("wrong_row_count", lambda e: e.row_count,
                  "Your features_as_of returned more or fewer rows than it was given labels: a merge that drops the "
                  "customers without events (an inner join) or repeats rows breaks the one-row-per-label shape."),
    Misconception("naive_all_events", lambda e: e.naive,
                  "Your features are the same for every label of a customer: they aggregate the customer's whole log, "
                  "events after the label time included (the naive join), so each snapshot sees its own future."),
    Misconception("future_events", lambda e: e.future,
                  "Your features count events that happened after the label time (a window without an upper bound, "
                  "or merge_asof looking forward or to the nearest event): a model scoring at that moment cannot "
                  "know them."),
    Misconception("includes_label_time", lambda e: e.le,
                  "Your features count events stamped exactly at the label time (<= instead of <): the notebook's "
                  "convention keeps only events strictly before it, because the snapshot and the billing run share "
                  "that instant and a model scoring then has not seen the billing's outcome."),
    Misconception("rows_misaligned", lambda e: e.misaligned,
                  "Your feature values are right but sit on the wrong rows: you sorted for the join (merge_asof needs "
                  "it) and returned the rows in that order, not in the order of the labels you were given."),
    Misconception("assumes_sorted_input", lambda e: e.sorted_only,
                  "Your features_as_of is right when the events and labels come in time order but not when they do "
                  "not ({e.how}): a log is not promised to be ordered, so sort inside the function."),
    Misconception("counts_missing", lambda e: e.counts_nan,
                  "A customer without events of a kind gets a missing count from your features_as_of, but no event in "
                  "the window is a count of 0."),
    Misconception("missing_filled", lambda e: e.filled,
                  "Your features put a number where there is no event to compute a recency or an average from: leave "
                  "it missing, so that one fitted pipeline decides how to fill it, in training and at serving alike."),
    Misconception("window_start", lambda e: e.gt,
                  "Your windows leave out events exactly at their start (the label time minus the window's length); "
                  "the text's windows include their start and stop just before the label time."),
    Misconception("wrong_values", None,
                  "Your {e.feature} differs from the feature defined in the text on {e.where}."),
    passed="Your features use only events strictly before each label time, one row per label in the labels' order, "
           "whatever the order of the input.",
)


def _run_features(features_as_of, events, labels):
    return features_as_of(events.copy(), labels.copy())


def _judge_output(got, labels, variants) -> dict:
    """Per-feature status of one output against the reference and the known wrong variants."""
    ref = variants["reference"]
    status = {}
    for f in FEATURES:
        g = got[f].to_numpy()
        if _same(g, ref[f]):
            status[f] = "ok"
            continue
        matches = [k for k in ("naive", "future", "le", "gt", "le_gt") if _same(g, variants[k][f])]
        r = ref[f].to_numpy()
        if matches:
            status[f] = matches[0]
        elif _constant_per_customer(got, f, labels) and not _constant_per_customer(ref, f, labels):
            status[f] = "naive"
        elif _same(np.sort(g), np.sort(r)):
            status[f] = "misaligned"
        elif f in _COUNTS and np.all(_close(np.where(np.isnan(g) & (r == 0), 0, g), r)) and np.isnan(g).any():
            status[f] = "counts_nan"
        elif f in _MAYBE_MISSING and np.all(_close(np.where(np.isnan(r), np.nan, g), r)):
            status[f] = "filled"
        else:
            status[f] = "wrong"
    return status


@check("features as of the label time", stub_hint="implement `features_as_of(events, labels)`",
       ladder=FEATURES_FUNCTION)
def features_function(name: str, features_as_of: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``features_as_of(events, labels)`` on :func:`feature_cases` and name the bug its answers show.

    Accepted: any way of computing the text's features (merge_asof on cumulative counts, a merge and a filter, a
    loop), rows returned in the labels' order or carrying the labels' index, values within 1e-6 relative.
    """
    e = Evidence(unusable=False, row_count=False, naive=False, future=False, le=False, misaligned=False,
                 sorted_only=False, counts_nan=False, filled=False, gt=False, feature="", where="", how="")
    statuses = {}
    for key, (events, labels) in feature_cases(seed).items():
        variants = _case_variants(seed, key)
        try:
            out = _run_features(features_as_of, events, labels)
            raised = None
        except Exception as exc:  # noqa: BLE001 - may be an unsorted-input failure; decided below
            out, raised = None, exc
        if raised is None:
            got = _as_features(out, labels)
            if got is None:
                e.unusable, e.got = True, type(out).__name__ if not isinstance(out, pd.DataFrame) else \
                    "a frame without " + ", ".join(f for f in FEATURES if f not in out.columns)
                return FEATURES_FUNCTION.judge(name, e)
            if len(got) != len(labels):
                e.row_count = True
                return FEATURES_FUNCTION.judge(name, e)
            status = _judge_output(got, labels, variants)
        if raised is not None or any(s in ("wrong", "misaligned") for s in status.values()):
            ordered, sorted_events, sorted_variants = _sorted_case(seed, key)
            try:
                again = _as_features(_run_features(features_as_of, sorted_events, ordered), ordered)
            except Exception:  # noqa: BLE001
                if raised is not None:
                    raise raised from None
                again = None
            if again is not None and len(again) == len(ordered) and \
                    all(s == "ok" for s in _judge_output(again, ordered, sorted_variants).values()):
                if raised is not None or not any(s == "misaligned" for s in status.values()):
                    e.sorted_only, e.how = True, "it raised" if raised is not None else "it counted wrongly"
                    return FEATURES_FUNCTION.judge(name, e)
            elif raised is not None:
                raise raised
        statuses[key] = status
    flat = [(key, f, s) for key, status in statuses.items() for f, s in status.items()]
    e.naive = any(s == "naive" for _, _, s in flat)
    e.future = any(s == "future" for _, _, s in flat)
    e.le = any(s in ("le", "le_gt") for _, _, s in flat)
    e.misaligned = any(s == "misaligned" for _, _, s in flat)
    e.counts_nan = any(s == "counts_nan" for _, _, s in flat)
    e.filled = any(s == "filled" for _, _, s in flat)
    e.gt = any(s == "gt" for _, _, s in flat)
    wrong = [(key, f) for key, f, s in flat if s != "ok"]
    e.correct = not wrong
    if wrong:
        e.feature, e.where = wrong[0][1], _WHERE[wrong[0][0]]
    return FEATURES_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- time_split

@shared(maxsize=4)
def split_cases(seed: int) -> list[tuple[pd.DataFrame, pd.Timestamp, pd.Timedelta]]:
    """Label tables with label times at any second, a cutoff at any second and another horizon."""
    from mlcasebook.cases.pipelines import LOG_START
    from mlcasebook.datasets.pipelines import make_event_log

    rng = np.random.default_rng(seed)
    out = []
    for horizon_days in (int(rng.choice([21, 45])), 30):
        labels = make_event_log(400, n_requests=0, skew=None, random_state=int(rng.integers(2**31))).labels
        labels = labels[["customer_id", "label_time", "churned"]].copy()
        labels["label_time"] = (labels["label_time"] + pd.to_timedelta(
            rng.integers(0, 20 * 86_400, len(labels)), unit="s")).astype("datetime64[us]")
        labels = labels.sample(frac=1, random_state=int(rng.integers(2**31)))
        labels.index = pd.Index(rng.permutation(len(labels)) + 50_000)
        cutoff = LOG_START + pd.Timedelta(days=int(rng.integers(190, 270)), seconds=int(rng.integers(1, 86_399)))
        out.append((labels, cutoff, pd.Timedelta(days=horizon_days)))
    return out


def _masks(out, labels: pd.DataFrame):
    """(train, test) as boolean arrays aligned with ``labels``, or None."""
    if not isinstance(out, tuple | list) or len(out) != 2:
        return None
    masks = []
    for m in out:
        if isinstance(m, pd.Series):
            if not m.index.equals(labels.index) and m.index.is_unique and set(m.index) == set(labels.index):
                m = m.loc[labels.index]  # a mask that carries the labels' index, in another order
            if str(m.dtype) == "boolean" and not m.isna().any():
                m = m.astype(bool)
        arr = np.asarray(m)
        if arr.dtype != bool or arr.shape != (len(labels),):
            return None
        masks.append(arr)
    return masks


SPLIT_FUNCTION = Ladder(
    Misconception("not_masks", lambda e: e.unusable,
                  "time_split must return two boolean masks over the label rows, (train, test); yours returned {e.got}."),
    Misconception("rows_in_both", lambda e: e.both,
                  "Some label rows are in both your training and your test set."),
    Misconception("random_split", lambda e: e.time_mixed,
                  "Your split mixes time: the training set holds snapshots from after the cutoff and the test set "
                  "snapshots from before it (a random split), so the model is scored on a past it may have learned "
                  "from the future of."),
    Misconception("customers_overlap", lambda e: e.overlap,
                  "Your split is right in time but the same customers appear in training and test: their rows are "
                  "alike from month to month, so the test rewards remembering customers; keep each customer on one "
                  "side."),
    Misconception("train_after_cutoff", lambda e: e.train_late,
                  "Your training set holds snapshots from after the cutoff: at the cutoff they do not exist yet."),
    Misconception("test_before_cutoff", lambda e: e.test_early,
                  "Your test set holds snapshots from before the cutoff: the holdout is meant to be the future of the "
                  "training data."),
    Misconception("label_window_overlap", lambda e: e.immature,
                  "Your training set keeps snapshots whose label was not known yet at the cutoff: a label looks "
                  "ahead for the horizon, so a snapshot less than a horizon before the cutoff is labelled with what "
                  "happened after it."),
    Misconception("too_small", lambda e: e.small,
                  "Your split leaves too few rows on one side (the training set should keep most customers' usable "
                  "rows, the test set a sizeable group of customers)."),
    passed="Your split trains on snapshots whose labels were known at the cutoff and tests on later snapshots of "
           "other customers.",
)


@check("time- and customer-grouped split", stub_hint="implement `time_split(labels, cutoff, horizon)`",
       ladder=SPLIT_FUNCTION)
def split_function(name: str, time_split: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``time_split(labels, cutoff, horizon)`` on :func:`split_cases`.

    Accepted: any grouping of customers (a random draw, a hash, GroupShuffleSplit) with the training side keeping
    at least 30 % of the snapshots whose label was known at the cutoff and the test side at least 10 % of the
    snapshots at or after it; the boundaries compared with either of < and <= (no label time lies on them).
    """
    e = Evidence(unusable=False, both=False, time_mixed=False, overlap=False, train_late=False, test_early=False,
                 immature=False, small=False)
    for labels, cutoff, horizon in split_cases(seed):
        out = time_split(labels.copy(), cutoff, horizon)
        masks = _masks(out, labels)
        if masks is None:
            parts = out if isinstance(out, tuple | list) else [out]
            e.unusable, e.got = True, "a " + type(out).__name__ + " of " + ", ".join(
                sorted({type(p).__name__ for p in parts})) if isinstance(out, tuple | list) else type(out).__name__
            return SPLIT_FUNCTION.judge(name, e)
        train, test = masks
        t = labels["label_time"].to_numpy()
        cust = labels["customer_id"].to_numpy()
        late, early = t >= np.datetime64(cutoff), t < np.datetime64(cutoff)
        known = (labels["label_time"] + horizon).to_numpy() <= np.datetime64(cutoff)
        e.both |= bool((train & test).any())
        e.train_late |= bool((train & late).any())
        e.test_early |= bool((test & early).any())
        e.time_mixed |= bool((train & late).any() and (test & early).any())
        e.overlap |= bool(len(set(cust[train]) & set(cust[test])))
        e.immature |= bool((train & ~known).any())
        e.small |= bool(train.sum() < 0.3 * known.sum() or test.sum() < 0.1 * late.sum())
    return SPLIT_FUNCTION.judge(name, e)


def reference_split(labels: pd.DataFrame, cutoff=CUTOFF, horizon=HORIZON, test_share: float = 0.4,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A split that passes: a random 40 % of customers held out; train on known labels, test after the cutoff."""
    ids = np.sort(labels["customer_id"].unique())
    held = np.random.default_rng(seed).random(len(ids)) < test_share
    test_customer = labels["customer_id"].isin(ids[held]).to_numpy()
    t = labels["label_time"]
    return (~test_customer) & (t + horizon <= cutoff).to_numpy(), test_customer & (t >= cutoff).to_numpy()


# ---------------------------------------------------------------- leak: offline score vs holdout

@shared(maxsize=1)
def case_data():
    from mlcasebook.datasets.pipelines import make_event_log

    return make_event_log(random_state=CASE_SEED)


@shared(maxsize=1)
def case_rows() -> dict[str, object]:
    """The case's model rows: as-of and naive features with the attributes, and the labels."""
    data = case_data()
    labels = data.labels

    def rows(features):
        return pd.concat([features.reset_index(drop=True), labels[ATTRIBUTES].reset_index(drop=True)], axis=1)

    return {"labels": labels, "y": labels["churned"].to_numpy(), "asof": rows(reference_features(data.events, labels)),
            "naive": rows(naive_features(data.events, labels))}


def _auc(model, X_train, y_train, X_test, y_test) -> float:
    return float(roc_auc_score(y_test, model.fit(X_train, y_train).predict_proba(X_test)[:, 1]))


_LEAK_CACHE: dict[str, dict[str, float]] = {}


def reference_leak_scores(pipeline, train: np.ndarray, test: np.ndarray, *, variants: bool = False) -> dict[str, float]:
    """The three scores of the text for ``pipeline`` (cloned) on the case; with ``variants``, also the known wrong
    ones (the naive model scored on the naive holdout, the as-of rows on the random split). Cached per pipeline
    configuration and split, so a check cell and its hidden test do not refit the same models."""
    import joblib

    key = joblib.hash((clone(pipeline), np.asarray(train), np.asarray(test)))
    done = _LEAK_CACHE.setdefault(key, {})
    r = case_rows()
    y, asof, naive = r["y"], r["asof"], r["naive"]
    tr, te = train_test_split(np.arange(len(y)), test_size=0.25, random_state=CASE_SEED, stratify=y)
    plan = {
        "naive_offline": lambda: _auc(clone(pipeline), naive.iloc[tr], y[tr], naive.iloc[te], y[te]),
        "naive_holdout": lambda: _auc(clone(pipeline), naive[train], y[train], asof[test], y[test]),
        "honest_holdout": lambda: _auc(clone(pipeline), asof[train], y[train], asof[test], y[test]),
    }
    if variants:
        plan["naive_on_naive_holdout"] = lambda: _auc(clone(pipeline), naive[train], y[train], naive[test], y[test])
        plan["asof_random"] = lambda: _auc(clone(pipeline), asof.iloc[tr], y[tr], asof.iloc[te], y[te])
    for name, fit in plan.items():
        if name not in done:
            done[name] = fit()
    return {name: done[name] for name in plan}


LEAK_KEYS = ("naive_offline", "naive_holdout", "honest_holdout")
# The holdout scores are refits of the learner's own pipeline on the learner's own split: deterministic for the
# usual models; 0.02 covers a model with unseeded randomness (a gradient-boosting model's early-stopping split moves
# its AUC by up to ~0.01 from refit to refit on the ~3,000 holdout rows, ~120 positives). The random split's score:
# 0.04 is ~3 SD of the AUC over random 25 % test sets (~8,000 rows, ~300 positives), for a learner who drew another
# random split. The wrong variants they are told apart from differ by 0.08 (as-of rows on the random split) and
# 0.19 (the naive holdout scored on naive features).
HOLDOUT_TOL, OFFLINE_TOL = 0.02, 0.04

LEAK = Ladder(
    Misconception("not_a_dict", lambda e: not e.is_dict,
                  "leak_scores must be a dict with the keys naive_offline, naive_holdout and honest_holdout, each an "
                  "AUC."),
    Misconception("not_an_estimator", lambda e: e.not_estimator,
                  "pipeline must be a scikit-learn estimator with fit and predict_proba (a Pipeline of a "
                  "ColumnTransformer and a classifier)."),
    Misconception("pipeline_not_fitted", lambda e: e.unfitted,
                  "Your pipeline is not fitted: fit it on the as-of rows of your split's training set; it is the "
                  "model the serving section ships."),
    Misconception("holdout_with_naive_features", lambda e: e.naive_holdout_naive,
                  "Your naive_holdout scores the holdout with the naive join's features, so the leak is still in it: "
                  "in production the model only gets features as of the moment it scores, so score the holdout on "
                  "the as-of features."),
    Misconception("offline_with_asof_features", lambda e: e.offline_asof,
                  "Your naive_offline is what the as-of features give on a random split, not the naive join's score: "
                  "the optimistic number to reproduce is the one the team saw with today's feature table."),
    Misconception("pipeline_fitted_elsewhere", lambda e: e.elsewhere,
                  "The pipeline you fitted does not score the holdout like one fitted on the as-of rows of your "
                  "training set: it was fitted on other rows or on the naive features."),
    Misconception("scores_off", lambda e: bool(e.off),
                  "Your {e.off} is not what your pipeline gives when it is computed as the text says, on features "
                  "as of each label time (if the features check does not pass yet, fix that first)."),
    passed="The naive join looks excellent on a random split and collapses on the holdout; the as-of features hold "
           "up, and the pipeline to serve is fitted on the training rows.",
)


@check("offline score vs holdout", stub_hint="fit `pipeline` and fill in `leak_scores`", ladder=LEAK)
def leak(name: str, leak_scores: dict, pipeline, time_split: Callable) -> CheckResult:
    """Refit the learner's pipeline on the case as the text prescribes and compare with the reported scores.

    The learner's own ``time_split`` decides the holdout (its correctness is judged by :func:`split_function`;
    a split that is not two usable masks falls back to :func:`reference_split`).
    """
    e = Evidence(is_dict=isinstance(leak_scores, Mapping), not_estimator=False, unfitted=False,
                 naive_holdout_naive=False, offline_asof=False, elsewhere=False, off="")
    if not e.is_dict:
        return LEAK.judge(name, e)
    if all(is_stub(leak_scores.get(k)) for k in LEAK_KEYS):
        return not_attempted(name, "Not attempted yet: fill in `leak_scores`.")
    try:
        got = {k: float(leak_scores[k]) for k in LEAK_KEYS}
    except (KeyError, TypeError, ValueError):
        e.is_dict = False
        return LEAK.judge(name, e)
    if not (hasattr(pipeline, "fit") and hasattr(pipeline, "predict_proba")):
        e.not_estimator = True
        return LEAK.judge(name, e)
    r = case_rows()
    masks = None
    try:
        masks = _masks(time_split(r["labels"].copy(), CUTOFF, HORIZON), r["labels"])
    except Exception:  # noqa: BLE001 - the split part reports it
        masks = None
    train, test = masks if masks is not None and masks[0].any() and masks[1].any() else reference_split(r["labels"])
    want = reference_leak_scores(pipeline, train, test)
    off = [k for k in LEAK_KEYS if abs(got[k] - want[k]) > (OFFLINE_TOL if k == "naive_offline" else HOLDOUT_TOL)]
    if off:  # which known mistake: fit the wrong variants too
        want = reference_leak_scores(pipeline, train, test, variants=True)
    try:
        check_is_fitted(pipeline)
        own = float(roc_auc_score(r["y"][test], pipeline.predict_proba(r["asof"][test])[:, 1]))
    except Exception:  # noqa: BLE001 - not fitted, or fitted on other columns
        e.unfitted = True
        return LEAK.judge(name, e)
    seen = [getattr(step, "n_samples_seen_", None) for step in _steps(pipeline)]
    seen = [int(np.max(s)) for s in seen if s is not None]
    e.elsewhere = abs(own - want["honest_holdout"]) > HOLDOUT_TOL or any(s != int(train.sum()) for s in seen)
    if off:
        e.naive_holdout_naive = abs(got["naive_holdout"] - want["naive_on_naive_holdout"]) <= HOLDOUT_TOL < abs(
            want["naive_on_naive_holdout"] - want["naive_holdout"]) - HOLDOUT_TOL
        e.offline_asof = abs(got["naive_offline"] - want["asof_random"]) <= OFFLINE_TOL / 2 < abs(
            want["asof_random"] - want["naive_offline"]) - OFFLINE_TOL
    e.off = " and ".join(off)
    return LEAK.judge(name, e)


def _steps(estimator):
    """Every estimator inside a (possibly nested) Pipeline / ColumnTransformer."""
    yield estimator
    for attr in ("steps", "transformers_"):
        for item in getattr(estimator, attr, None) or []:
            inner = item[1]
            if hasattr(inner, "fit"):
                yield from _steps(inner)


# ---------------------------------------------------------------- train/serve skew: find the feature

_KEYS = ["customer_id", "request_time"]


@shared(maxsize=2)
def skew_cases(seed: int) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, str]]:
    """One serving log per kind of skew (:data:`mlcasebook.datasets.pipelines.SKEWS`), each with its offline
    recomputation (keys and the five features, rows in another order) and the feature that is skewed."""
    from mlcasebook.datasets.pipelines import SKEWS, make_event_log

    rng = np.random.default_rng(seed)
    out = {}
    for kind in SKEWS:
        log = make_event_log(400, n_requests=300, skew=kind, random_state=int(rng.integers(2**31)))
        served = log.serving_log
        offline = reference_features(log.events, served.rename(columns={"request_time": "label_time"}))
        offline = pd.concat([served[_KEYS], offline], axis=1)
        offline = offline.sample(frac=1, random_state=int(rng.integers(2**31))).reset_index(drop=True)
        out[kind] = (served, offline, SKEWS[kind])
    return out


def _aligned_and_clean(served: pd.DataFrame, offline: pd.DataFrame, skewed: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same case with the offline rows in the served order and every value logged exactly, except where the
    skew changed it."""
    offline = served[_KEYS].merge(offline, on=_KEYS, how="left")
    clean = served.copy()
    for f in FEATURES:
        keep = ~_close(served[f], offline[f]) if f == skewed else np.zeros(len(served), bool)
        clean[f] = np.where(keep, served[f].to_numpy(float), offline[f].to_numpy(float))
    return clean, offline


SKEW_FUNCTION = Ladder(
    Misconception("not_a_feature", lambda e: e.not_feature,
                  "find_skew must return the name of one feature (a string from `features`); yours returned {e.got}."),
    Misconception("rows_misaligned", lambda e: e.misaligned,
                  "Your find_skew is right when the two frames list the requests in the same order and wrong when "
                  "they do not: it compares rows by position; match them on customer_id and request_time first."),
    Misconception("exact_float_comparison", lambda e: e.exact,
                  "Your find_skew names a feature whose logged values differ from the recomputation only in the last "
                  "digits (the log stores floats with fewer digits): compare with a tolerance for rounding, not with "
                  "==."),
    Misconception("nan_never_equal", lambda e: e.nan_unequal,
                  "Your find_skew counts a value missing on both sides as a disagreement (NaN != NaN), so a feature "
                  "that is often missing looks skewed: treat missing on both sides as agreement."),
    Misconception("nans_ignored", lambda e: e.nans_ignored,
                  "Your find_skew misses a skew in which the serving path sends a number where training has a "
                  "missing value: a comparison that skips missing values (a mean of differences, dropna) cannot "
                  "see it; count missing-against-a-value as a disagreement."),
    Misconception("compared_distributions", lambda e: e.distributions,
                  "Your find_skew misses a skew that leaves the feature's distribution unchanged (values joined to "
                  "the wrong requests): compare each logged value with its own recomputation, row by row, not the "
                  "two distributions."),
    Misconception("tolerance_too_loose", lambda e: e.loose,
                  "Your find_skew misses a skew of a few hours in a feature counted in days: a tolerance should "
                  "cover float rounding, not a clock that is off."),
    Misconception("wrong_feature", lambda e: e.wrong,
                  "Your find_skew named another feature than the one whose logged values disagree with their "
                  "recomputation on {e.where}."),
    Misconception("wrong_case_feature", lambda e: e.case_wrong,
                  "Your find_skew works, but the feature you named for the notebook's serving log is not the one "
                  "it finds there: run it on the log and your recomputation."),
    passed="Your find_skew matches each request with its recomputation and finds the skewed feature, whatever the "
           "skew.",
)

_SKEW_WHERE = {"null_fill": "a log where a missing value is sent as a number",
               "window": "a log where one counter uses a shorter window",
               "units": "a log where one feature is in other units", "timezone": "a log with a clock that is off",
               "wrong_join": "a log where one feature was joined to the wrong requests"}


def _named(find_skew, served, offline) -> str:
    got = find_skew(served.copy(), offline.copy(), list(FEATURES))
    return got if isinstance(got, str) else repr(type(got).__name__)


@check("train/serve skew", stub_hint="implement `find_skew(served, offline, features)` and name `skewed_feature`",
       ladder=SKEW_FUNCTION)
def skew_function(name: str, find_skew: Callable, skewed_feature=None, *, seed: int = 0) -> CheckResult:
    """Call ``find_skew(served, offline, features)`` on :func:`skew_cases` (rows in different orders, floats logged
    with fewer digits); ``skewed_feature`` must be the case's skewed feature (``None``: not checked, e.g. in tests
    of the function alone)."""
    e = Evidence(not_feature=False, misaligned=False, exact=False, nan_unequal=False, nans_ignored=False,
                 distributions=False, loose=False, wrong=False, case_wrong=False, where="")
    cases = skew_cases(seed)
    got = {}
    for kind, (served, offline, _) in cases.items():
        got[kind] = _named(find_skew, served, offline)
        if got[kind] not in FEATURES:
            e.not_feature, e.got = True, got[kind] if len(got[kind]) < 40 else "something else"
            return SKEW_FUNCTION.judge(name, e)
    wrong = [k for k in cases if got[k] != cases[k][2]]
    if wrong:
        aligned = {k: _named(find_skew, served, served[_KEYS].merge(offline, on=_KEYS, how="left"))
                   for k, (served, offline, _) in cases.items()}
        clean = {k: _named(find_skew, *_aligned_and_clean(*cases[k])) for k in cases}
        clean_right = all(clean[k] == cases[k][2] for k in cases)
        e.misaligned = all(aligned[k] == cases[k][2] for k in cases)
        # == picks a float feature (all its rows differ in the last digits) over a counter skewed on a few rows
        e.exact = clean_right and "window" in wrong
        e.nan_unequal = not clean_right and any(got[k] in _MAYBE_MISSING and cases[k][2] in _COUNTS for k in wrong)
        e.nans_ignored = wrong == ["null_fill"]
        e.distributions = "wrong_join" in wrong and "units" not in wrong
        e.loose = wrong == ["timezone"]
        e.wrong, e.where = True, _SKEW_WHERE[wrong[0]]
        return SKEW_FUNCTION.judge(name, e)
    if skewed_feature is not None:
        truth = case_data().truth.skew["feature"]
        e.case_wrong = str(skewed_feature) != truth
    return SKEW_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- serving with the shared fitted pipeline

@shared(maxsize=2)
def serving_rows(seed: int) -> dict[str, pd.DataFrame]:
    """Model rows the pipeline never saw: a batch with missing values, a small batch of very active customers
    (their statistics differ from any training batch), and single rows."""
    from mlcasebook.datasets.pipelines import make_event_log

    rng = np.random.default_rng(seed)
    log = make_event_log(300, n_requests=0, skew=None, random_state=int(rng.integers(2**31)))
    rows = pd.concat([reference_features(log.events, log.labels).reset_index(drop=True),
                      log.labels[ATTRIBUTES].reset_index(drop=True)], axis=1)
    batch = rows.sample(200, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    active = rows.nlargest(40, "logins_30d").sample(frac=1, random_state=int(rng.integers(2**31)))
    missing = batch.index[batch["days_since_ticket"].isna()][:2].tolist()
    present = batch.index[batch["days_since_ticket"].notna()][:2].tolist()
    singles = [batch.loc[[i]].reset_index(drop=True) for i in missing + present]
    return {"batch": batch, "active": active.reset_index(drop=True), **{f"single_{i}": s for i, s in enumerate(singles)}}


def _columns_for(pipeline) -> list[str]:
    names = getattr(pipeline, "feature_names_in_", None)
    return [str(c) for c in names] if names is not None else list(FEATURES + ATTRIBUTES)


SERVING = Ladder(
    Misconception("pipeline_not_fitted", lambda e: e.unfitted,
                  "Your pipeline is not fitted, so there are no batch scores to serve: fit it on the training rows "
                  "first (the leak section does)."),
    Misconception("not_scores", lambda e: e.bad_shape,
                  "serve(rows) must return one churn probability per row (a 1-D array); yours returned {e.got}."),
    Misconception("labels_not_probabilities", lambda e: e.labels,
                  "Your serve returns 0/1 decisions (predict) where the batch path scores probabilities "
                  "(predict_proba): the two paths must return the same thing."),
    Misconception("refit_at_serving", lambda e: e.batch_dependent,
                  "Your serve gives a row another score alone than in a batch: it fits its own transformer on the "
                  "rows it is asked about (their means, medians or categories), so a score depends on who else is in "
                  "the request; load the transformer fitted in training and only transform."),
    Misconception("null_fill_at_serving", lambda e: e.nulls_only,
                  "Your serve differs from the batch scores exactly on the rows with a missing value: it fills them "
                  "itself before the pipeline does, which is the skew you found; pass them on and let the fitted "
                  "imputer fill them."),
    Misconception("different_model", lambda e: e.mismatch,
                  "Your serve scores rows differently from your fitted pipeline's batch predictions: it loads or "
                  "builds another model (refitted, or persisted before fitting), not the one trained."),
    passed="Your served scores equal the batch scores of your fitted pipeline on every row, alone or in a batch, "
           "missing values included.",
)


@check("served = batch predictions", stub_hint="persist your fitted pipeline and implement `serve(rows)`",
       ladder=SERVING)
def serving_function(name: str, serve: Callable, pipeline, *, seed: int = 0) -> CheckResult:
    """Compare ``serve(rows)`` with ``pipeline.predict_proba(rows)[:, 1]`` on :func:`serving_rows` (1e-6)."""
    e = Evidence(unfitted=False, bad_shape=False, labels=False, batch_dependent=False, nulls_only=False,
                 mismatch=False)
    try:
        check_is_fitted(pipeline)
    except Exception:  # noqa: BLE001 - not an estimator, or not fitted
        e.unfitted = True
        return SERVING.judge(name, e)
    cols = _columns_for(pipeline)
    served, batch = {}, {}
    for key, rows in serving_rows(seed).items():
        rows = rows[cols]
        batch[key] = pipeline.predict_proba(rows)[:, 1]
        if key == "batch":
            out = serve(rows.copy())
        else:  # a serve that works on a large batch and raises on a small one fits something on the request
            try:
                out = serve(rows.copy())
            except Exception:  # noqa: BLE001 - the evidence is that it raised
                e.batch_dependent = True
                return SERVING.judge(name, e)
        try:
            arr = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 1 or len(arr) != len(rows):
            e.bad_shape = True
            e.got = type(out).__name__ if arr is None else f"a {arr.ndim}-D array" if arr.ndim != 1 else \
                "an array of another length than the rows"
            return SERVING.judge(name, e)
        served[key] = arr
    every = np.concatenate(list(served.values()))
    e.labels = bool(np.isin(every, (0.0, 1.0)).all())
    full = serving_rows(seed)["batch"]
    singles = [k for k in served if k.startswith("single_")]
    index = full.index[full["days_since_ticket"].isna()][:2].tolist() + \
        full.index[full["days_since_ticket"].notna()][:2].tolist()
    e.batch_dependent = any(abs(served[k][0] - served["batch"][i]) > 1e-6 for k, i in zip(singles, index, strict=False))
    e.labels = e.labels and not np.isin(np.concatenate(list(batch.values())), (0.0, 1.0)).all()
    diff = {k: np.abs(served[k] - batch[k]) > 1e-6 for k in served}
    rows = serving_rows(seed)
    has_nan = {k: rows[k][FEATURES].isna().any(axis=1).to_numpy() for k in served}
    any_diff = any(d.any() for d in diff.values())
    e.nulls_only = any_diff and all(np.array_equal(diff[k], diff[k] & has_nan[k]) for k in served) and \
        all(diff[k][has_nan[k]].all() for k in served)
    e.mismatch = any_diff
    return SERVING.judge(name, e)


# ---------------------------------------------------------------- batch vs online: staleness and cost

def last_run(times, run_hour: int) -> pd.Series:
    """The latest daily run at ``run_hour``:00 at or before each time."""
    t = pd.to_datetime(pd.Series(times)).reset_index(drop=True)
    shift = pd.Timedelta(hours=int(run_hour))
    return (t - shift).dt.floor("D") + shift


def reference_staleness(requests: pd.DataFrame, events: pd.DataFrame, run_hour: int, event_type: str,
                        *, any_type: bool = False) -> dict[str, float]:
    """Mean age (hours) of the nightly snapshot at each request, and the share of requests whose customer had an
    event of ``event_type`` between that snapshot and the request (the batch value misses it)."""
    t = pd.to_datetime(requests["request_time"]).reset_index(drop=True)
    run = last_run(t, run_hour)
    age = (t - run) / pd.Timedelta(hours=1)
    e = events if any_type else events[events["event_type"] == event_type]
    q = pd.DataFrame({"customer_id": requests["customer_id"].to_numpy(), "t": t, "run": run, "row": np.arange(len(t))})
    m = q.merge(e[["customer_id", "timestamp"]], on="customer_id")
    stale = m.loc[(m["timestamp"] >= m["run"]) & (m["timestamp"] < m["t"]), "row"].nunique()
    return {"mean_age_hours": float(age.mean()), "stale_share": float(stale / max(len(t), 1))}


@shared(maxsize=2)
def freshness_cases(seed: int) -> list[tuple[pd.DataFrame, pd.DataFrame, int, str]]:
    """A generated serving log with another run hour, and requests bunched in a few hours of the day."""
    from mlcasebook.datasets.pipelines import make_event_log

    rng = np.random.default_rng(seed)
    out = []
    for run_hour, event_type, bunched in ((int(rng.integers(4, 8)), "login", False),
                                          (int(rng.integers(20, 23)), "cancel_page_visit", True)):
        log = make_event_log(300, n_requests=400, skew=None, random_state=int(rng.integers(2**31)))
        requests = log.serving_log[["customer_id", "request_time", "page"]].copy()
        if bunched:  # move every request into a three-hour band of its own day
            day = requests["request_time"].dt.floor("D")
            start = int(rng.integers(9, 15))
            requests["request_time"] = (day + pd.Timedelta(hours=start) + pd.to_timedelta(
                rng.integers(0, 3 * 3600, len(requests)), unit="s")).astype("datetime64[us]")
        requests = requests.sample(frac=1, random_state=int(rng.integers(2**31))).reset_index(drop=True)
        out.append((requests, log.events, run_hour, event_type))
    return out


def expected_costs() -> dict[str, float]:
    data = case_data()
    subscribed = int((data.labels["label_time"] == pd.Timestamp("2024-12-01")).sum())
    per_day = len(data.serving_log) / 31
    return {"batch_per_day": subscribed / SAMPLE_RATE * BATCH_COST_PER_CUSTOMER,
            "online_per_day": per_day / SAMPLE_RATE * ONLINE_COST_PER_REQUEST,
            # the mistake: only the customers who made a request that day
            "batch_requested_only": data.serving_log.groupby(data.serving_log["request_time"].dt.floor("D"))[
                "customer_id"].nunique().mean() / SAMPLE_RATE * BATCH_COST_PER_CUSTOMER}


# Ages: exact up to how a learner reads the clock (seconds dropped: < 1/60 h). Stale share: exact up to events
# on a boundary (none in the hidden logs: event times are random to the microsecond).
AGE_TOL, SHARE_TOL, COST_REL = 0.02, 0.002, 0.01

FRESHNESS = Ladder(
    Misconception("not_a_dict", lambda e: not e.is_dict,
                  "staleness must return a dict with mean_age_hours and stale_share, and serving_costs must be a dict "
                  "with batch_per_day and online_per_day."),
    Misconception("assumed_uniform", lambda e: e.uniform,
                  "Your mean age is the same whatever the requests: it assumes requests spread evenly over the day "
                  "(12 hours), but the age is the time from the last run to each request, averaged over the "
                  "requests you are given."),
    Misconception("age_from_midnight", lambda e: e.midnight,
                  "Your ages are counted from midnight, not from the nightly run: a request just before the run sees "
                  "a snapshot almost a day old."),
    Misconception("age_to_next_run", lambda e: e.next_run,
                  "Your ages are the time until the next run, not the time since the last one: the value a request "
                  "sees was computed at the run before it."),
    Misconception("wrong_age", lambda e: e.age_off,
                  "Your mean age is not the mean time between each request and the latest run at or before it."),
    Misconception("stale_any_event_type", lambda e: e.any_type,
                  "Your stale share counts every kind of event since the run; a feature goes stale only with events "
                  "of the kind it aggregates."),
    Misconception("wrong_stale_share", lambda e: e.share_off,
                  "Your stale share is not the share of requests whose customer had an event of that kind after the "
                  "last run and before the request."),
    Misconception("sample_rate_ignored", lambda e: e.unscaled,
                  "Your serving costs are those of the sample, not of the service: each customer of the log stands "
                  "for 1 / SAMPLE_RATE real ones."),
    Misconception("batch_for_requested_only", lambda e: e.requested_only,
                  "Your batch cost counts only the customers who made a request, but a nightly job computes every "
                  "subscribed customer, requested or not: that is its cost."),
    Misconception("wrong_costs", lambda e: e.costs_off,
                  "Your serving costs are not the nightly job's cost (every subscribed customer) and the online "
                  "path's (every request) per day."),
    passed="Staleness and costs as numbers: the mean age of a nightly snapshot, the share of requests it misses "
           "an event for, and what each way costs a day.",
)


@check("batch vs online features", stub_hint="implement `staleness(requests, events, run_hour, event_type)` and "
       "fill in `serving_costs`", ladder=FRESHNESS)
def freshness(name: str, staleness: Callable, serving_costs: dict | None = None, *, seed: int = 0) -> CheckResult:
    """Call ``staleness`` on :func:`freshness_cases`; compare ``serving_costs`` with :func:`expected_costs`
    (``None``: not checked)."""
    e = Evidence(is_dict=True, uniform=False, midnight=False, next_run=False, age_off=False, any_type=False,
                 share_off=False, unscaled=False, requested_only=False, costs_off=False)
    ages, refs = [], []
    for requests, events, run_hour, event_type in freshness_cases(seed):
        out = staleness(requests.copy(), events.copy(), run_hour, event_type)
        try:
            got = {k: float(out[k]) for k in ("mean_age_hours", "stale_share")}
        except (KeyError, TypeError, ValueError, IndexError):
            e.is_dict = False
            return FRESHNESS.judge(name, e)
        ref = reference_staleness(requests, events, run_hour, event_type)
        t = pd.to_datetime(requests["request_time"])
        midnight = float(((t - t.dt.floor("D")) / pd.Timedelta(hours=1)).mean())
        any_type = reference_staleness(requests, events, run_hour, event_type, any_type=True)["stale_share"]
        ages.append(got["mean_age_hours"]), refs.append(ref["mean_age_hours"])
        age_ok = abs(got["mean_age_hours"] - ref["mean_age_hours"]) <= AGE_TOL
        e.midnight |= not age_ok and abs(got["mean_age_hours"] - midnight) <= AGE_TOL
        e.next_run |= not age_ok and abs(got["mean_age_hours"] - (24 - ref["mean_age_hours"])) <= AGE_TOL
        e.age_off |= not age_ok
        share_ok = abs(got["stale_share"] - ref["stale_share"]) <= SHARE_TOL
        e.any_type |= not share_ok and abs(got["stale_share"] - any_type) <= SHARE_TOL
        e.share_off |= not share_ok
    e.uniform = e.age_off and max(ages) - min(ages) < AGE_TOL and max(refs) - min(refs) > 1
    if serving_costs is not None:
        if not isinstance(serving_costs, Mapping) or any(is_stub(serving_costs.get(k))
                                                         for k in ("batch_per_day", "online_per_day")):
            e.is_dict = False
            return FRESHNESS.judge(name, e)
        want = expected_costs()
        got_b, got_o = float(serving_costs["batch_per_day"]), float(serving_costs["online_per_day"])

        def near(a, b):
            return abs(a - b) <= COST_REL * abs(b)

        e.unscaled = near(got_b, want["batch_per_day"] * SAMPLE_RATE) or near(got_o, want["online_per_day"] * SAMPLE_RATE)
        e.requested_only = near(got_b, want["batch_requested_only"])
        e.costs_off = not (near(got_b, want["batch_per_day"]) and near(got_o, want["online_per_day"]))
    return FRESHNESS.judge(name, e)


# ---------------------------------------------------------------- decision

DECISION_CHOICES = {
    "event_at_label_time": {"exclude"},
    "validation_split": {"time_and_customer"},
    "skew_fix": {"share_fitted_pipeline"},
    "logins_30d_serving": {"batch"},
    "cancel_visits_serving": {"online"},
}
_DECISION_MISTAKES = {
    ("event_at_label_time", "include"): "an event stamped at the instant of the snapshot (the billing run) is not "
                                        "known to a model scoring at that instant; counting it let the honest "
                                        "holdout look far better than production can be",
    ("validation_split", "random_rows"): "a random split scores the model on months it has seen the future of, and "
                                         "on customers it has seen",
    ("validation_split", "random_customers"): "grouping by customer alone still mixes time: the model learns from "
                                              "later months and is scored on earlier ones",
    ("validation_split", "time_only"): "with the same customers on both sides the test rewards remembering them "
                                       "from their earlier months",
    ("skew_fix", "refit_on_serving_batch"): "a transformer fitted on the rows of each request makes a customer's "
                                            "score depend on who else is in it",
    ("skew_fix", "retrain_on_serving_logs"): "a model retrained on the skewed logs learns the serving bug and breaks "
                                             "again the day the bug is fixed",
    ("skew_fix", "fill_zero_in_training"): "two copies of the preprocessing drift apart again at the next change, "
                                           "and 0 days since the last ticket means a ticket just now, not no ticket",
    ("logins_30d_serving", "online"): "a count over 30 days changes by a fraction of a login between the nightly "
                                      "run and a request; paying per request to compute it fresh buys almost "
                                      "nothing",
    ("cancel_visits_serving", "batch"): "the requests from the cancellation page come seconds after the visit, so a "
                                        "count computed the night before misses the visit on nearly every one of "
                                        "them, exactly when it matters",
}
DECISION = decision_ladder(DECISION_CHOICES, _DECISION_MISTAKES,
                           "Events strictly before the label time, a split in time and by customer, one fitted "
                           "pipeline for training and serving, and fresh features only where freshness pays.")


@check("decision", stub_hint="fill in the `decision` dict with one choice per key", ladder=DECISION)
def decision(name: str, decision: dict) -> CheckResult:
    """One fixed choice per key; ``decision_<key>`` names each known wrong choice."""
    return decide(name, DECISION, decision, DECISION_CHOICES, _DECISION_MISTAKES, normalise_choice)
