"""A churn model's production life: scored batches, late labels, and a truth table of what drifted."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import Bunch
from threadpoolctl import threadpool_limits

from mlcasebook.datasets.churn import CONTRACTS, INTERNET, PAYMENTS, _features, _intercept, log_odds_terms

KINDS = ("covariate", "prior", "concept", "null_rate", "stale_join")
CATEGORICAL = ["contract", "internet_service", "payment_method"]
NUMERIC = ["tenure_months", "monthly_charges", "support_calls_90d", "paperless_billing", "senior_citizen",
           "num_services"]
FEATURES = ["tenure_months", "contract", "internet_service", "monthly_charges", "support_calls_90d",
            "payment_method", "paperless_billing", "senior_citizen", "num_services"]
LEVELS = {"contract": CONTRACTS, "internet_service": INTERNET, "payment_method": PAYMENTS}
BINARY = ("paperless_billing", "senior_citizen")
_INTEGER = ("tenure_months", "support_calls_90d", "paperless_billing", "senior_citizen", "num_services")
_LOWER = {"tenure_months": 1, "monthly_charges": 18.0, "support_calls_90d": 0, "num_services": 1}


@dataclass(frozen=True)
class Drift:
    """One change in the stream, from ``start_window`` on.

    Attributes
    ----------
    feature : str or None
        The feature that changes (``None`` for ``kind="prior"``, which changes the churn rate).
    kind : str
        ``"covariate"`` — the feature's distribution moves, P(churn | features) unchanged:
        a numeric feature is shifted by ``magnitude`` reference standard deviations; for a
        categorical or 0/1 feature a share ``magnitude`` of rows moves to its first level
        (``month_to_month``, ``dsl``, ``electronic_check``) or to 1.
        ``"prior"`` — the churn base rate becomes ``churn_rate + magnitude`` by label shift
        (P(features | churn) unchanged).
        ``"concept"`` — the feature's effect on the log-odds of churning shrinks by the fraction
        ``magnitude`` (1 removes it, 2 reverses it) and the intercept is re-set so the reference
        population's churn rate is unchanged; the features' distribution is unchanged.
        ``"null_rate"`` — pipeline bug: a share ``magnitude`` of the logged values is missing.
        ``"stale_join"`` — pipeline bug: the joined feature stops updating; a share
        ``magnitude`` of rows is served a value from the frozen snapshot (the feature's values in
        the window before ``start_window``) instead of the customer's own. The marginal
        distribution hardly moves; the link to the customer, the other features and churn breaks.
        Pipeline bugs change only what the model sees: true churn probabilities use the real values.
    start_window : int
        First window affected.
    magnitude : float
        Size of the change (units above).
    ramp : int
        Number of windows over which the change grows linearly to ``magnitude`` (0: sudden).
    end_window : int or None
        First window no longer affected (the change is undone, e.g. a bug fixed); ``None``: it stays.
    to : str, int or None
        For a categorical or 0/1 covariate drift, the level rows move to (default: the first level, or 1).
    """

    feature: str | None
    kind: str
    start_window: int
    magnitude: float
    ramp: int = 0
    end_window: int | None = None
    to: object = None

    def strength(self, window: int) -> float:
        """The change's magnitude in ``window`` (0 before it starts and after it ends)."""
        if window < self.start_window or (self.end_window is not None and window >= self.end_window):
            return 0.0
        return float(self.magnitude) * min(1.0, (window - self.start_window + 1) / (self.ramp + 1))


@dataclass(frozen=True)
class StreamTruth:
    """Ground truth of a :func:`make_production_stream`.

    Attributes
    ----------
    drifts : DataFrame
        One row per :class:`Drift`: ``feature, kind, start_window, magnitude, ramp, end_window, to``.
    performance : DataFrame
        One row per window: ``window, start, reference, n, churn_rate, expected_churn_rate,
        mean_score, auc, average_precision, log_loss, accuracy`` (the deployed model against the
        realised labels), their ``expected_*`` counterparts (against the true probabilities: each
        row counts as ``p`` of a churner and ``1 - p`` of a stayer, what the metric converges to
        with many customers) and ``oracle_auc`` (expected AUC of ranking by the true probability).
    probability : ndarray
        True churn probability of every row of ``frame``, in its order.
    reference_windows, label_delay : int
        The stream's settings.
    """

    drifts: pd.DataFrame
    performance: pd.DataFrame
    probability: np.ndarray
    reference_windows: int
    label_delay: int


def default_drifts(n_windows: int = 20, reference_windows: int = 4) -> list[Drift]:
    """The default mixed scenario, spread over the windows after the reference period.

    A price rise (``monthly_charges`` +0.6 SD, covariate) a quarter of the way in; a logging bug
    (``support_calls_90d`` 30 % missing) at 40 %; a payment mix moving to electronic cheques
    (20 % of customers, covariate) at 55 %; the contract effect weakening by 80 % (concept) at 75 %.
    """
    span = n_windows - reference_windows

    def at(frac: float) -> int:
        return min(n_windows - 1, reference_windows + int(round(frac * span)))

    return [
        Drift("monthly_charges", "covariate", at(0.25), 0.6),
        Drift("support_calls_90d", "null_rate", at(0.40), 0.3),
        Drift("payment_method", "covariate", at(0.55), 0.2),
        Drift("contract", "concept", at(0.75), 0.8),
    ]


def drift_detection_drifts(n_windows: int = 20, reference_windows: int = 4) -> list[Drift]:
    """The drift_detection case: two real drifts, two pipeline bugs and a concept drift, one after the other.

    A sign-up campaign brings newer customers (``tenure_months`` −0.5 SD, covariate) at 20 % of the way; a
    logging change drops 30 % of ``support_calls_90d`` (null_rate) at 30 %; a promotion moves half the longer
    contracts to month-to-month (``contract``, covariate, share 0.5) at 45 %; the billing join freezes
    (``monthly_charges``, stale_join) at 55 %; fibre stops raising churn and starts lowering it
    (``internet_service`` effect reversed, concept) at 75 %.
    """
    span = n_windows - reference_windows

    def at(frac: float) -> int:
        return min(n_windows - 1, reference_windows + int(round(frac * span)))

    return [
        Drift("tenure_months", "covariate", at(0.2), -0.5),
        Drift("support_calls_90d", "null_rate", at(0.3), 0.3),
        Drift("contract", "covariate", at(0.45), 0.5),
        Drift("monthly_charges", "stale_join", at(0.55), 1.0),
        Drift("internet_service", "concept", at(0.75), 2.0),
    ]


#: named scenarios ``drifts=`` accepts: name -> function of (n_windows, reference_windows)
SCENARIOS = {"mixed": default_drifts, "drift_detection": drift_detection_drifts}


@lru_cache(maxsize=1)
def _reference_sample() -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Standard deviations of the numeric features and the log-odds terms of a fixed large sample."""
    X = _features(50_000, np.random.default_rng(20261125))
    return {c: float(X[c].std()) for c in NUMERIC}, log_odds_terms(X)


@lru_cache(maxsize=256)
def _concept_offset(changes: tuple[tuple[str, float], ...], churn_rate: float) -> float:
    """Intercept change that keeps the reference population's churn rate when the ``changes`` weaken effects."""
    terms = _reference_sample()[1]
    eta = _intercept(churn_rate) + sum(terms.values())
    changed = eta - sum(m * terms[f] for f, m in changes)
    return float(brentq(lambda b: expit(changed + b).mean() - churn_rate, -30.0, 30.0))


def deployed_model() -> Pipeline:
    """An unfitted copy of the deployed model: median/mode imputation, scaling and one-hot, logistic regression."""
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    pre = ColumnTransformer([("num", numeric, NUMERIC), ("cat", categorical, CATEGORICAL)])
    return Pipeline([("prep", pre), ("logreg", LogisticRegression(max_iter=1000))])


def _validate(drifts: list[Drift], n_windows: int, churn_rate: float) -> None:
    for d in drifts:
        if not isinstance(d, Drift):
            raise TypeError(f"drifts must be Drift objects, got {type(d).__name__}.")
        if d.kind not in KINDS:
            raise ValueError(f"Drift kind must be one of {KINDS}, got {d.kind!r}.")
        if d.kind == "prior":
            if d.feature is not None:
                raise ValueError("A prior drift changes the churn rate; give feature=None.")
            if not 0 < churn_rate + d.magnitude < 1:
                raise ValueError(f"A prior drift must keep the churn rate in (0, 1), got {churn_rate + d.magnitude}.")
        elif d.feature not in FEATURES:
            raise ValueError(f"Drift feature must be one of {FEATURES}, got {d.feature!r}.")
        if d.kind in ("null_rate", "stale_join") and not 0 <= d.magnitude <= 1:
            raise ValueError(f"A {d.kind} magnitude is a share of rows in [0, 1], got {d.magnitude}.")
        if d.to is not None and (d.kind != "covariate" or d.to not in LEVELS.get(d.feature, (0, 1) if d.feature in BINARY
                                                                          else ())):
            raise ValueError(f"Drift `to` must be a level of a categorical or 0/1 feature's covariate drift, got {d}.")
        if d.kind == "covariate" and (d.feature in LEVELS or d.feature in BINARY) and not 0 <= d.magnitude <= 1:
            raise ValueError(f"A covariate drift of {d.feature} moves a share of rows in [0, 1], got {d.magnitude}.")
        if d.start_window < 0 or d.ramp < 0:
            raise ValueError(f"Drift start_window and ramp must be >= 0, got {d}.")


def _covariate(X: pd.DataFrame, feature: str, m: float, rng: np.random.Generator, to=None) -> None:
    if feature in LEVELS or feature in BINARY:
        target = to if to is not None else LEVELS[feature][0] if feature in LEVELS else 1
        move = rng.random(len(X)) < m
        X.loc[move, feature] = target
        return
    shifted = X[feature].to_numpy(dtype=float) + m * _reference_sample()[0][feature]
    if feature in _INTEGER:
        shifted = np.round(shifted)
    shifted = np.maximum(shifted, _LOWER.get(feature, -np.inf))
    X[feature] = shifted.astype(int) if feature in _INTEGER else np.round(shifted, 2)


def _window(w: int, n: int, drifts: list[Drift], churn_rate: float, intercept: float, snapshots: dict,
            seed: np.random.SeedSequence):
    """Real features, served (logged) features, true probabilities and labels of window ``w``.

    ``snapshots[(feature, start_window)]`` holds the values a stale join keeps serving.
    """
    s_feat, s_drift, s_label, s_bug = (np.random.default_rng(s) for s in seed.spawn(4))
    active = [(d, d.strength(w)) for d in drifts]
    active = [(d, m) for d, m in active if m != 0]
    prior = sum(m for d, m in active if d.kind == "prior")
    if prior:  # label shift by acceptance sampling: keep churners and stayers at rates w1, w0
        r_new = churn_rate + prior
        w1, w0 = r_new / churn_rate, (1 - r_new) / (1 - churn_rate)
        accept = (churn_rate * w1 + (1 - churn_rate) * w0) / max(w1, w0)
        pool = int(np.ceil(n / accept * 1.15)) + 50
    else:
        w1 = w0 = 1.0
        pool = n
    while True:
        X = _features(pool, s_feat)
        for d, m in active:
            if d.kind == "covariate":
                _covariate(X, d.feature, m, s_drift, d.to)
        terms = log_odds_terms(X)
        eta = intercept + sum(terms.values())
        concept = tuple((d.feature, m) for d, m in active if d.kind == "concept")
        if concept:
            eta = eta - sum(m * terms[f] for f, m in concept) + _concept_offset(concept, churn_rate)
        p = expit(eta)
        y = (s_label.random(pool) < p).astype(int)
        if not prior:
            break
        keep = s_label.random(pool) < np.where(y == 1, w1, w0) / max(w1, w0)
        if keep.sum() >= n:
            idx = np.flatnonzero(keep)[:n]
            X, y = X.iloc[idx].reset_index(drop=True), y[idx]
            p = p[idx] * w1 / (p[idx] * w1 + (1 - p[idx]) * w0)
            break
        pool *= 2  # pragma: no cover - the pool is sized with a 15 % margin
    served = X.copy()
    for d, m in active:
        if d.kind == "stale_join":
            stale = s_bug.random(n) < m
            frozen = snapshots.get((d.feature, d.start_window), X[d.feature].to_numpy())
            values = served[d.feature].to_numpy().copy()
            values[stale] = frozen[s_bug.integers(0, len(frozen), stale.sum())]
            served[d.feature] = values
        elif d.kind == "null_rate":
            missing = s_bug.random(n) < m
            col = served[d.feature].astype(object if d.feature in LEVELS else float)
            col[missing] = np.nan
            served[d.feature] = col
    return X, served, p, y


def _weighted_auc(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC where row i counts ``pos[i]`` as a positive and ``neg[i]`` as a negative (ties count half)."""
    order = np.argsort(-score, kind="mergesort")
    s, wp, wn = score[order], pos[order], neg[order]
    cut = np.r_[np.flatnonzero(np.diff(s)) + 1, len(s)]
    gp, gn = np.add.reduceat(wp, np.r_[0, cut[:-1]]), np.add.reduceat(wn, np.r_[0, cut[:-1]])
    neg_below = gn.sum() - np.cumsum(gn)
    total = gp.sum() * gn.sum()
    return float(np.sum(gp * (neg_below + 0.5 * gn)) / total) if total > 0 else float("nan")


def _weighted_ap(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """Average precision (sklearn's step definition) with the same weighting as :func:`_weighted_auc`."""
    order = np.argsort(-score, kind="mergesort")
    s, wp, wn = score[order], pos[order], neg[order]
    cut = np.r_[np.flatnonzero(np.diff(s)) + 1, len(s)]
    tp, fp = np.cumsum(wp)[cut - 1], np.cumsum(wn)[cut - 1]
    if tp[-1] <= 0:
        return float("nan")
    precision = tp / np.maximum(tp + fp, 1e-300)
    recall_step = np.diff(np.r_[0.0, tp]) / tp[-1]
    return float(np.sum(recall_step * precision))


def window_performance(frame: pd.DataFrame, p: np.ndarray, threshold: float, reference_windows: int) -> pd.DataFrame:
    """The model's real performance per window of ``frame`` (sorted by window): on the drawn labels (``auc``,
    ``accuracy``, ...) and in expectation over the true churn probabilities ``p`` (``expected_*``, free of label
    noise), with ``oracle_auc`` the AUC the true probabilities themselves would reach."""
    rows = []
    score_all = frame["score"].to_numpy()
    y_all = frame["label"].to_numpy().astype(float)
    windows = frame["window"].to_numpy()
    bounds = np.r_[0, np.flatnonzero(np.diff(windows)) + 1, len(frame)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        s, y, q = score_all[a:b], y_all[a:b], p[a:b]
        sc = np.clip(s, 1e-12, 1 - 1e-12)
        pred = s >= threshold
        rows.append({
            "window": int(windows[a]),
            "start": frame["timestamp"].iloc[a].floor("D"),
            "reference": bool(windows[a] < reference_windows),
            "n": int(b - a),
            "churn_rate": float(y.mean()),
            "expected_churn_rate": float(q.mean()),
            "mean_score": float(s.mean()),
            "auc": _weighted_auc(s, y, 1 - y),
            "average_precision": _weighted_ap(s, y, 1 - y),
            "log_loss": float(-np.mean(y * np.log(sc) + (1 - y) * np.log(1 - sc))),
            "accuracy": float(np.mean(pred == (y == 1))),
            "expected_auc": _weighted_auc(s, q, 1 - q),
            "expected_average_precision": _weighted_ap(s, q, 1 - q),
            "expected_log_loss": float(-np.mean(q * np.log(sc) + (1 - q) * np.log(1 - sc))),
            "expected_accuracy": float(np.mean(np.where(pred, q, 1 - q))),
            "oracle_auc": _weighted_auc(q, q, 1 - q),
        })
    return pd.DataFrame(rows)


def make_production_stream(n_windows: int = 20, *, rows_per_window: int = 2_000, reference_windows: int = 4,
                           drifts: list[Drift] | str | None = None, label_delay: int = 2, churn_rate: float = 0.2,
                           threshold: float = 0.5, start: str = "2025-01-06", window_length: str = "7D",
                           random_state=0) -> Bunch:
    """Generate a churn model's production life: weekly scored batches, late labels and what drifted.

    The generative story: every window (a week by default) a fresh batch of the churn generator's
    customers (:func:`mlcasebook.datasets.make_churn`'s features and log-odds, with the intercept set
    for ``churn_rate``) is scored by a deployed model — imputation, scaling and one-hot encoding,
    then a logistic regression fitted once on the ``reference_windows`` first windows. From its
    ``start_window`` each :class:`Drift` changes the customers (covariate), the churn rate (prior),
    a feature's effect on churn (concept), or only what the pipeline logs and the model sees
    (null_rate, stale_join: a bug, the customers are unchanged). Labels are drawn from the true
    probabilities and arrive ``label_delay`` windows after the score. Each window has its own
    random streams spawned from ``random_state``, so a scenario and the no-drift control
    (``drifts=[]``) with the same seed serve the same customers until the first change starts.

    Parameters
    ----------
    n_windows : int
        Number of windows (e.g. 52 for a year of weeks).
    rows_per_window : int, keyword-only
        Customers scored per window.
    reference_windows : int, keyword-only
        Windows ``0 .. reference_windows - 1`` are the reference period the model is fitted on.
    drifts : list of Drift, str or None, keyword-only
        The scenario; ``None`` (or ``"mixed"``) is :func:`default_drifts` (covariate, null_rate, a categorical
        covariate, concept), ``"drift_detection"`` is :func:`drift_detection_drifts`, ``[]`` the no-drift
        control.
    label_delay : int, keyword-only
        Windows between a score and its label.
    churn_rate : float, keyword-only
        Churn rate of the reference population (default 0.2).
    threshold : float, keyword-only
        Score threshold of the ``accuracy`` columns.
    start, window_length : str, keyword-only
        Timestamp of window 0's start and each window's length (pandas offsets).
    random_state : int or None, keyword-only
        Seed.

    Returns
    -------
    Bunch with
        frame : DataFrame, one row per scored customer: ``timestamp``, ``window``, the features
            as logged (missing values where a pipeline bug drops them), ``score`` (the deployed
            model's calibrated churn probability), ``label`` (0/1, realised churn) and
            ``label_available_at`` (``window + label_delay``).
        target : Series, the ``label`` column.
        model : the deployed, fitted scikit-learn Pipeline (``deployed_model()`` gives an unfitted copy).
        features, categorical_features, numeric_features : lists of column names.
        truth : :class:`StreamTruth` with the drift table, per-window performance and true probabilities.
    """
    n_windows, n = int(n_windows), int(rows_per_window)
    if not 0 < reference_windows < n_windows:
        raise ValueError(f"reference_windows must be in [1, n_windows), got {reference_windows}.")
    if n < 2 or label_delay < 0 or not 0 < churn_rate < 1:
        raise ValueError("rows_per_window must be >= 2, label_delay >= 0 and churn_rate in (0, 1).")
    if drifts is None or isinstance(drifts, str):
        name = "mixed" if drifts is None else drifts
        if name not in SCENARIOS:
            raise ValueError(f"drifts must be a list of Drift, None or one of {sorted(SCENARIOS)}, got {drifts!r}.")
        drifts = SCENARIOS[name](n_windows, reference_windows)
    drifts = list(drifts)
    _validate(drifts, n_windows, churn_rate)
    intercept = _intercept(float(churn_rate))
    seeds = np.random.SeedSequence(random_state).spawn(n_windows + 1)
    snapshots: dict = {}
    stale = {(d.feature, d.start_window) for d in drifts if d.kind == "stale_join"}
    parts, probs = [], []
    length = pd.Timedelta(window_length)
    t0 = pd.Timestamp(start)
    for w in range(n_windows):
        X, served, p, y = _window(w, n, drifts, churn_rate, intercept, snapshots, seeds[w])
        for f, s0 in stale:  # the last refresh before the join goes stale: its values are served from then on
            if w == s0 - 1:
                snapshots[(f, s0)] = X[f].to_numpy().copy()
        offsets = np.sort(np.random.default_rng(seeds[-1].spawn(n_windows)[w]).random(n))
        served.insert(0, "timestamp", t0 + w * length + pd.to_timedelta(offsets * length.total_seconds(), unit="s"))
        served.insert(1, "window", w)
        served["label"] = y
        parts.append(served)
        probs.append(p)
    frame = pd.concat(parts, ignore_index=True)
    for f in CATEGORICAL:
        frame[f] = frame[f].astype(object)
    ref = frame["window"].to_numpy() < reference_windows
    with threadpool_limits(1):  # a small fit: BLAS threads only contend (3x slower on a busy 2-core machine)
        model = deployed_model().fit(frame.loc[ref, FEATURES], frame.loc[ref, "label"])
        frame.insert(frame.columns.get_loc("label"), "score", model.predict_proba(frame[FEATURES])[:, 1])
    frame["label_available_at"] = frame["window"] + int(label_delay)
    probability = np.concatenate(probs)
    table = pd.DataFrame([{"feature": d.feature, "kind": d.kind, "start_window": d.start_window,
                           "magnitude": d.magnitude, "ramp": d.ramp, "end_window": d.end_window, "to": d.to}
                          for d in drifts],
                         columns=["feature", "kind", "start_window", "magnitude", "ramp", "end_window", "to"])
    truth = StreamTruth(drifts=table, performance=window_performance(frame, probability, threshold, reference_windows),
                        probability=probability, reference_windows=int(reference_windows),
                        label_delay=int(label_delay))
    return Bunch(frame=frame, target=frame["label"], model=model, features=list(FEATURES),
                 categorical_features=list(CATEGORICAL), numeric_features=list(NUMERIC), truth=truth)


__all__ = ["Drift", "StreamTruth", "KINDS", "SCENARIOS", "default_drifts", "drift_detection_drifts", "deployed_model",
           "make_production_stream"]
