"""Checks for the silent-degradation case (04_monitoring/silent_degradation).

The case: the churn model of module 02, trained with balanced class weights, scores weekly batches of customers
(:func:`mlcasebook.datasets.make_degradation_stream`). Its validation AUC stays near 0.91 while live performance
falls twice: a promotion changes the customer mix (covariate shift: the model's probabilities still hold, AUC falls
to about 0.86) and later a competitor makes long contracts worthless (concept drift: AUC about 0.80). The learner
estimates performance without labels from calibrated probabilities (the idea of NannyML's CBPE), shows that the
estimate follows the covariate shift and cannot see the concept drift, and classifies each window's change.

Reference figures of the notebook's stream (seed 0), means over the windows of each kind, expected values
(against the true probabilities): covariate weeks 8-12 estimate 0.863 vs real 0.854; concept weeks 15-19 estimate
0.909 vs real 0.806 (see tests/test_checks_degradation.py, which recomputes them).

Each check declares its misconceptions as a :class:`~mlcasebook.checks.ladder.Ladder`, most specific first.
Messages name the mistake; they never state the expected performance of a hidden window or the rule that
classifies it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from mlcasebook.checks.decisions import decide, decision_ladder, normalise_choice
from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, check

#: the deployed decision: a customer is flagged as a churner when the model's (served) score reaches it
THRESHOLD = 0.5
#: a second threshold the estimate is asked for, so a function that ignores its threshold shows it
OTHER_THRESHOLD = 0.7

# Tolerance of a label-free estimate, AUC and accuracy alike: 0.025 around the window's expected value (the
# metric against the true probabilities, i.e. with no label noise). The estimate's own error comes from the
# calibrator, fitted on the labelled validation weeks: over 20 seeds x 2 miscalibrations x 3 live windows of the
# hidden streams (10,000 validation rows) its SD is 0.003-0.0045 and its largest error 0.013 for isotonic, Platt
# and 20-bin histogram calibrators, so 0.025 is > 5 SD of each. Using the raw scores as probabilities is off by
# 0.04-0.10 there, so it cannot pass.
ESTIMATE_TOL = 0.025
#: a covariate window "loses" AUC when its expected AUC is this far below the validation weeks'
BIG_DROP = 0.03

KINDS = ("none", "covariate_shift", "concept_drift")
_KIND_SPELLINGS = {
    "none": "none", "no_drift": "none", "no_change": "none", "stable": "none", "ok": "none",
    "covariate_shift": "covariate_shift", "covariate": "covariate_shift", "covariate_drift": "covariate_shift",
    "data_drift": "covariate_shift",
    "concept_drift": "concept_drift", "concept": "concept_drift", "concept_shift": "concept_drift",
}


def normalise_kind(kind) -> str | None:
    """One of :data:`KINDS` for any usual spelling ("Covariate shift", "concept"), or ``None``."""
    if not isinstance(kind, str):
        return None
    return _KIND_SPELLINGS.get(normalise_choice(kind))


# ---------------------------------------------------------------- reference statistics (verdict side)


def expected_auc(scores, probabilities) -> float:
    """ROC AUC of ``scores`` when row i counts ``p_i`` as a churner and ``1 - p_i`` as a stayer (ties count half)."""
    s, p = np.asarray(scores, dtype=float), np.asarray(probabilities, dtype=float)
    order = np.argsort(s, kind="mergesort")
    s, p = s[order], p[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    pos, neg = np.add.reduceat(p, starts), np.add.reduceat(1 - p, starts)
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum()))


def expected_accuracy(scores, probabilities, threshold: float) -> float:
    """Accuracy of the decisions ``score >= threshold`` when row i is a churner with probability ``p_i``."""
    s, p = np.asarray(scores, dtype=float), np.asarray(probabilities, dtype=float)
    return float(np.mean(np.where(s >= threshold, p, 1 - p)))


def calibrate(reference_scores, reference_labels) -> Callable[[np.ndarray], np.ndarray]:
    """Isotonic calibration of the scores on labelled reference rows."""
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(np.asarray(reference_scores, dtype=float), np.asarray(reference_labels, dtype=float))
    return iso.predict


def windows_of(stream, kinds: tuple[str, ...] = KINDS) -> list[int]:
    """The live windows of a degradation stream (after the validation weeks) whose change is one of ``kinds``."""
    first = max(stream.validation_windows) + 1
    return [int(w) for w, k in stream.kinds.items() if w >= first and k in kinds]


def reference_frame(stream) -> pd.DataFrame:
    """The labelled validation weeks of a stream: what the learner calibrates on and compares with."""
    return stream.frame[stream.frame["window"].isin(stream.validation_windows)]


# ---------------------------------------------------------------- the label-free estimate


def _metrics(value) -> tuple[float, float] | None:
    """(auc, accuracy) from the learner's returned mapping (a dict, or a pandas Series indexed by name), or None
    when it is not one."""
    if isinstance(value, pd.Series) and value.index.is_unique:
        value = value.to_dict()
    if not isinstance(value, Mapping):
        return None
    keys = {normalise_choice(k): v for k, v in value.items()}
    auc = next((keys[k] for k in ("auc", "roc_auc", "auroc", "roc_auc_score") if k in keys), None)
    acc = next((keys[k] for k in ("accuracy", "acc") if k in keys), None)
    try:
        auc, acc = float(auc), float(acc)
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(auc) and np.isfinite(acc) and 0 <= auc <= 1 and 0 <= acc <= 1):
        return None
    return auc, acc


def _close(a, b, tol: float = ESTIMATE_TOL) -> bool:
    return bool(np.all(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) <= tol))


ESTIMATE = Ladder(
    Misconception("bad_output", lambda e: e.bad,
                  "Your estimate_performance did not return a dict with an 'auc' and an 'accuracy' between 0 and 1 "
                  "for every window it was given."),
    Misconception("predictions_as_labels", lambda e: e.perfect,
                  "Your estimates are perfect scores on every window: the model's own predictions were used as if "
                  "they were the labels, so they always agree with themselves and measure nothing."),
    Misconception("ignores_scores", lambda e: e.constant,
                  "Your estimate is the same for every window although the windows' scores differ: it does not come "
                  "from the scores it is given (the reference's measured performance, or a fixed number?)."),
    Misconception("uncalibrated_scores", lambda e: e.like_raw,
                  "Your estimates match the raw scores read as probabilities, but this model's scores are not "
                  "calibrated: an estimate without labels is only as good as the probabilities it weighs, so they "
                  "must first be calibrated on the labelled reference."),
    Misconception("calibrated_threshold", lambda e: e.auc_ok and e.like_calibrated_threshold,
                  "Your AUC estimate is right, but your accuracy is that of decisions taken on the calibrated "
                  "probability: the deployed model flags a customer when its own score reaches the threshold, so "
                  "those are the decisions whose accuracy you are estimating."),
    Misconception("ignores_threshold", lambda e: e.auc_ok and e.acc_main_ok and e.same_for_both_thresholds,
                  "Asked for another threshold, your accuracy estimate does not change: estimate_performance ignores "
                  "its `threshold` argument."),
    Misconception("auc_estimate_off", lambda e: not e.auc_ok,
                  "Your AUC estimate is more than {e.tol} away from the model's real AUC on {e.where}, where the "
                  "model's calibrated probabilities still hold, and no common slip explains it."),
    Misconception("accuracy_estimate_off", None,
                  "Your accuracy estimate is more than {e.tol} away from the real accuracy of the model's decisions "
                  "on {e.where}, where the model's calibrated probabilities still hold."),
    passed="Your label-free estimates are within {e.tol} of the real AUC and accuracy on every window where only the "
           "customer mix changed or nothing did, at both thresholds tried.",
)


def _describe(kinds: list[str]) -> str:
    if "covariate_shift" in kinds:
        return "a window where only the customer mix changed"
    return "a window where nothing changed"


@check("label-free performance estimate",
       stub_hint="implement `estimate_performance(scores, reference_scores, reference_labels, threshold)`",
       ladder=ESTIMATE)
def estimate_function(name: str, estimate_performance: Callable, stream, *,
                      thresholds: tuple[float, float] = (THRESHOLD, OTHER_THRESHOLD)) -> CheckResult:
    """Call ``estimate_performance(scores, reference_scores, reference_labels, threshold)`` on every live window
    of ``stream`` without concept drift (calibration on the stream's validation weeks), at two thresholds.

    The right answer of a window is its *expected* AUC and accuracy (against the true probabilities, see
    ``ESTIMATE_TOL``), which differ from window to window and from the raw-score estimate (the miscalibrated
    hidden streams are built so). Accepts any calibrator fitted on the reference (isotonic, Platt, histogram
    bins) and any way to the expected metrics (pairs weighted by p_i (1 - p_j), expected ROC curve, or the mean
    AUC of labels simulated from the calibrated probabilities).
    """
    ref = reference_frame(stream)
    rs, rl = ref["score"].to_numpy(dtype=float), ref["label"].to_numpy(dtype=float)
    live = windows_of(stream, ("none", "covariate_shift"))
    cal = calibrate(rs, rl)
    frame, q_all = stream.frame, stream.truth.probability
    got_auc, got_acc, got_other = [], [], []
    true_auc, true_acc, raw_auc, raw_acc, calthr = [], [], [], [], []
    for w in live:
        rows = np.flatnonzero(frame["window"].to_numpy() == w)
        s, q = frame["score"].to_numpy(dtype=float)[rows], q_all[rows]
        for t, sink in ((thresholds[0], "main"), (thresholds[1], "other")):
            out = _metrics(estimate_performance(s.copy(), rs.copy(), rl.copy(), t))
            if out is None:
                return ESTIMATE.fail(name, "bad_output")
            if sink == "main":
                got_auc.append(out[0])
                got_acc.append(out[1])
            else:
                got_other.append(out[1])
        true_auc.append(expected_auc(s, q))
        true_acc.append(expected_accuracy(s, q, thresholds[0]))
        raw_auc.append(expected_auc(s, s))
        raw_acc.append(expected_accuracy(s, s, thresholds[0]))
        p = cal(s)
        calthr.append(expected_accuracy(p, p, thresholds[0]))
    true_other = [expected_accuracy(frame["score"].to_numpy(dtype=float)[frame["window"].to_numpy() == w],
                                    q_all[frame["window"].to_numpy() == w], thresholds[1]) for w in live]
    err_auc = np.abs(np.array(got_auc) - true_auc)
    err_acc = np.maximum(np.abs(np.array(got_acc) - true_acc), np.abs(np.array(got_other) - true_other))
    auc_ok, acc_main_ok = bool(np.all(err_auc <= ESTIMATE_TOL)), _close(got_acc, true_acc)
    first_bad = int(np.argmax(err_auc > ESTIMATE_TOL)) if not auc_ok else int(np.argmax(err_acc > ESTIMATE_TOL))
    e = Evidence(bad=False, tol=ESTIMATE_TOL, auc_ok=auc_ok, acc_main_ok=acc_main_ok,
                 correct=auc_ok and bool(np.all(err_acc <= ESTIMATE_TOL)),
                 where=_describe([stream.kinds[live[first_bad]]]),
                 perfect=bool(np.all(np.array(got_auc) > 0.995) or np.all(np.array(got_acc) > 0.995)),
                 constant=len(live) > 1 and bool(np.ptp(got_auc) < 1e-9 and np.ptp(got_acc) < 1e-9))
    e.like_raw = not e.correct and _close(got_auc, raw_auc) and _close(got_acc, raw_acc) and not (
        _close(raw_auc, true_auc) and _close(raw_acc, true_acc))
    e.like_calibrated_threshold = not acc_main_ok and _close(got_acc, calthr)
    e.same_for_both_thresholds = bool(np.allclose(got_acc, got_other, atol=1e-9))
    return ESTIMATE.judge(name, e)


# ---------------------------------------------------------------- the kind of change


KIND = Ladder(
    Misconception("not_a_kind", lambda e: e.unknown,
                  "Your drift_kind returned {e.raw}, which is not one of 'none', 'covariate_shift', "
                  "'concept_drift'."),
    Misconception("constant_kind", lambda e: e.constant,
                  "Your drift_kind gives every window the same answer, so it cannot tell any two kinds of change "
                  "apart."),
    Misconception("concept_without_labels", lambda e: e.concept_never_found,
                  "On windows where what drives churn changed but the customers did not, your drift_kind never "
                  "names concept drift: the inputs, the scores and the label-free estimate all look normal there, "
                  "so only the labelled performance, set against what the estimate predicted, can show it."),
    Misconception("input_drift_means_concept", lambda e: e.every_covariate_concept,
                  "Your drift_kind calls every change of the customer mix concept drift: a change in the inputs "
                  "alone leaves P(churn | features) and the model's probabilities intact; it is the kind of change "
                  "the label-free estimate follows."),
    Misconception("drop_means_concept", lambda e: e.big_drop_concept,
                  "Your drift_kind calls a window concept drift because its labelled AUC fell, although the "
                  "label-free estimate predicted that fall: a drop the calibrated probabilities foresee comes from "
                  "the customer mix, not from a change in what drives churn."),
    Misconception("false_alarm", lambda e: e.false_alarm,
                  "On a window where nothing changed, your drift_kind reports a change: its alarms fire on sampling "
                  "noise (a p-value at thousands of rows, or a tolerance tighter than a window's AUC varies?)."),
    Misconception("covariate_missed", lambda e: e.covariate_missed,
                  "On a window whose customer mix clearly moved, your drift_kind reports no change: it does not "
                  "look at the inputs or the scores, or its drift threshold is too loose."),
    Misconception("wrong_kind", None,
                  "Your drift_kind names the wrong kind of change on some windows, and no common slip explains it."),
    passed="Your drift_kind tells the windows where nothing changed, where the customer mix moved and where what "
           "drives churn changed apart, on every window tried.",
)


def _shown(raw) -> str:
    """How a message quotes a returned value that is not a kind: a word as written, anything else (a number from
    the hidden window?) by its type only."""
    if raw is None or (isinstance(raw, str) and not any(ch.isdigit() for ch in raw)):
        return repr(raw)
    return f"a {type(raw).__name__}"


@check("kind of change per window", stub_hint="implement `drift_kind(reference, window)`", ladder=KIND)
def kind_function(name: str, drift_kind: Callable, stream) -> CheckResult:
    """Call ``drift_kind(reference, window)`` on every live window of ``stream`` (reference: its labelled
    validation weeks; each a DataFrame with the features, ``score`` and ``label``) and compare with the stream's
    kinds. A covariate window "with a big drop" loses more than ``BIG_DROP`` of expected AUC against the
    validation weeks, so "a labelled drop means concept drift" shows there and not on the small-drop ones.
    """
    ref = reference_frame(stream).copy()
    frame = stream.frame
    live = windows_of(stream)
    perf = stream.truth.performance.set_index("window")
    base = float(perf.loc[stream.validation_windows, "expected_auc"].mean())
    truth = [stream.kinds[w] for w in live]
    raw = [drift_kind(ref.copy(), frame[frame["window"] == w].copy()) for w in live]
    got = [normalise_kind(r) for r in raw]
    unknown = [r for r, g in zip(raw, got, strict=True) if g is None]
    cov = [i for i, k in enumerate(truth) if k == "covariate_shift"]
    big = [i for i in cov if perf.loc[live[i], "expected_auc"] < base - BIG_DROP]
    small = [i for i in cov if i not in big]
    concept = [i for i, k in enumerate(truth) if k == "concept_drift"]
    e = Evidence(unknown=bool(unknown), raw=_shown(unknown[0]) if unknown else None, correct=got == truth,
                 constant=len(set(got)) == 1 and len(set(truth)) > 1,
                 concept_never_found=bool(concept) and not any(got[i] == "concept_drift" for i in concept),
                 every_covariate_concept=bool(cov) and all(got[i] == "concept_drift" for i in cov),
                 big_drop_concept=bool(big) and any(got[i] == "concept_drift" for i in big)
                 and not any(got[i] == "concept_drift" for i in small),
                 false_alarm=any(g != "none" for g, k in zip(got, truth, strict=True) if k == "none"),
                 covariate_missed=any(got[i] == "none" for i in cov))
    return KIND.judge(name, e)


# ---------------------------------------------------------------- what to monitor beyond accuracy


MONITOR_CHOICES = {
    "column_renamed_upstream": {"input_schema"},
    "flagged_share_doubles_overnight": {"prediction_distribution"},
    "new_feature_service_is_slow": {"latency"},
    "offers_go_to_customers_who_stay": {"business_kpi"},
    "contracts_stop_protecting": {"labelled_performance"},
}
MONITORS = ("input_schema", "prediction_distribution", "latency", "business_kpi", "labelled_performance",
            "estimated_performance")
_MONITOR_MISTAKES = {
    ("column_renamed_upstream", "labelled_performance"): "labels arrive weeks later, while the missing column is "
        "visible in the first batch it reaches the model",
    ("column_renamed_upstream", "estimated_performance"): "the imputer fills the missing values quietly, so the "
        "scores still look like probabilities; the break is in the data itself, before any model",
    ("column_renamed_upstream", "prediction_distribution"): "the score distribution may move a little or not at "
        "all when a column is imputed, and it cannot say which input broke; the data's own checks can",
    ("flagged_share_doubles_overnight", "labelled_performance"): "the labels of those customers are weeks away, "
        "and the jump is visible today",
    ("flagged_share_doubles_overnight", "business_kpi"): "the campaign's results come long after the model's "
        "outputs moved, which is visible today",
    ("new_feature_service_is_slow", "labelled_performance"): "slow answers are not wrong answers: no accuracy "
        "measure sees a timeout, while requests fail now",
    ("new_feature_service_is_slow", "input_schema"): "the features arrive with the right columns and types, only "
        "too late",
    ("offers_go_to_customers_who_stay", "labelled_performance"): "the scenario says the model's AUC and "
        "calibration hold; what fails is the value the decisions create, which no model metric measures",
    ("offers_go_to_customers_who_stay", "estimated_performance"): "the model's probabilities are fine in this "
        "scenario; what fails is the value the decisions create",
    ("contracts_stop_protecting", "estimated_performance"): "the customers and their scores do not change when "
        "what drives churn changes, so an estimate from the scores keeps reporting the old performance",
    ("contracts_stop_protecting", "prediction_distribution"): "the customers and their scores do not change when "
        "what drives churn changes, so the score distribution stays where it was",
    ("contracts_stop_protecting", "input_schema"): "the inputs are as valid as before; only their link to churn "
        "changed",
}
MONITOR = decision_ladder(MONITOR_CHOICES, _MONITOR_MISTAKES,
                          "Each failure is caught by the signal that sees it first: data checks, the outputs, the "
                          "service, the money, and the labels for what only labels can show.")


@check("first alarm per failure", stub_hint="fill in `first_alarm` with one monitor per scenario", ladder=MONITOR)
def first_alarm(name: str, first_alarm: dict) -> CheckResult:
    """One monitor per scenario, the one that raises the alarm first; ``decision_<key>`` names each known wrong
    choice (the fixed choices are :data:`MONITORS`)."""
    return decide(name, MONITOR, first_alarm, MONITOR_CHOICES, _MONITOR_MISTAKES, normalise_choice)


# ---------------------------------------------------------------- decision


DECISION_CHOICES = {
    "estimate_under_concept_drift": {"misses_the_drop"},
    "confirm_concept_drift_with": {"delayed_labels"},
    "offline_winner_lost_online_because": {"miscalibrated_scores"},
    "labels_of_contacted_customers": {"keep_a_random_holdout"},
}
_DECISION_MISTAKES = {
    ("estimate_under_concept_drift", "tracks_the_drop"): "the estimate weighs the model's own probabilities, which "
        "are exactly what stopped holding; your own table shows the estimate and the labelled AUC part ways there",
    ("confirm_concept_drift_with", "feature_drift"): "the customers did not change in a concept drift, so the "
        "inputs show nothing",
    ("confirm_concept_drift_with", "estimated_performance"): "an estimate from the scores assumes the very "
        "relation between features and churn that changed",
    ("confirm_concept_drift_with", "prediction_distribution"): "the scores of unchanged customers do not move "
        "when what drives churn changes",
    ("offline_winner_lost_online_because", "overfitting"): "both models score the same validation AUC, so there "
        "is no gap between training and validation to explain",
    ("offline_winner_lost_online_because", "covariate_shift"): "the comparison in the notebook is on weeks where "
        "the customers did not change",
    ("labels_of_contacted_customers", "use_them_as_labelled"): "a customer the campaign kept would have been a "
        "churner without it: the model's own actions rewrite the labels it is judged and retrained on",
    ("labels_of_contacted_customers", "drop_them"): "the contacted customers are the riskiest ones, so dropping "
        "them leaves labels only where the model was sure",
}
DECISION = decision_ladder(DECISION_CHOICES, _DECISION_MISTAKES,
                           "Label-free estimates for covariate shift, labels for concept drift, probabilities that "
                           "are probabilities, and a holdout that keeps the labels honest.")


@check("decision", stub_hint="fill in the `decision` dict with one choice per key", ladder=DECISION)
def decision(name: str, decision: dict) -> CheckResult:
    """One fixed choice per key; ``decision_<key>`` names each known wrong choice."""
    return decide(name, DECISION, decision, DECISION_CHOICES, _DECISION_MISTAKES, normalise_choice)
