"""Checks for metrics_and_thresholds (module 01_fundamentals): confusion matrices, metrics under
falling prevalence, and a decision threshold derived from money.

Business figures are those of the churn case (imported from :mod:`mlcasebook.checks.churn`): a saved
churner is worth VALUE = 500, a contact saves SAVE_RATE = 30 % of churners, each contact costs
CONTACT_COST = 50, so a contact pays off above p = 50 / (500 * 0.3) = 1/3 on calibrated probabilities.

Each check's docstring lists the misconceptions it detects, most specific first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from mlcasebook.cases.metrics import labels_from_counts
from mlcasebook.checks.churn import (
    CONTACT_COST,
    DEFAULT_THRESHOLD_MESSAGE,
    IGNORED_SAVE_RATE_MESSAGE,
    PROFIT_THRESHOLD,
    SAVE_RATE,
    VALUE,
    best_profit,
    expected_profit,
)
from mlcasebook.checks.decisions import judge_decision, normalise_choice
from mlcasebook.checks.result import CheckResult, check, failed, not_attempted, passed

__all__ = [
    "CONTACT_COST", "PROFIT_THRESHOLD", "SAVE_RATE", "VALUE", "best_profit", "expected_profit",
    "labels_from_counts", "optimal_threshold", "precision_at_recall",
    "metric_formulas", "counts_from_labels", "prevalence_table", "prevalence_reading", "profit_threshold", "decision",
]

# Metric values are "exact to rounding": a learner who rounds to three decimals is off by at most 5e-4.
ROUNDING = 1e-3


def _close(a, b, tol: float = ROUNDING) -> bool:
    return bool(np.isfinite(a) and abs(float(a) - float(b)) <= tol)


_norm = normalise_choice


def _proba(model, X) -> np.ndarray:
    return np.asarray(model.predict_proba(X))[:, 1]


# ---------------------------------------------------------------- helpers used by the notebook and tests



def precision_at_recall(y_true, scores, recall: float = 0.5) -> float:
    """Precision at the highest threshold whose recall reaches ``recall`` (flag the top of the list until
    that share of the positives is caught)."""
    precision, rec, _ = precision_recall_curve(np.asarray(y_true), np.asarray(scores))
    return float(precision[np.flatnonzero(rec >= recall)[-1]])


def _cumulative(churn, proba) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-np.asarray(proba, float), kind="stable")
    gains = VALUE * SAVE_RATE * np.asarray(churn, float)[order] - CONTACT_COST
    return np.asarray(proba, float)[order], np.cumsum(gains)


def optimal_threshold(churn, proba) -> float:
    """The threshold on ``proba`` that maximises expected profit on these rows.

    ``churn`` holds 0/1 outcomes (the realised optimum) or true probabilities (the expected optimum);
    the returned value is the lowest score still contacted (1.0 when no contact pays off).
    """
    sorted_p, cumulative = _cumulative(churn, proba)
    k = int(np.argmax(cumulative))
    return float(sorted_p[k]) if cumulative[k] > 0 else 1.0


# ---------------------------------------------------------------- 1. the confusion matrix


@check("precision, recall and F1", stub_hint="implement `precision_recall_f1(tp, fn, fp, tn)`")
def metric_formulas(name: str, precision_recall_f1, cases=((30, 20, 5, 40),)) -> CheckResult:
    """Call the learner's ``precision_recall_f1(tp, fn, fp, tn)`` on each ``(tp, fn, fp, tn)`` case.

    Misconceptions: ``precision_recall_swapped`` (precision = tp/(tp+fn), i.e. recall; also what
    mixing up fn and fp gives), ``accuracy_confused`` (a metric that counts true negatives),
    ``f1_arithmetic_mean`` (F1 as (P+R)/2 instead of the harmonic mean), ``wrong_shape``,
    ``wrong_formula``. Values must match to rounding (1e-3); hidden cases use counts where precision
    and recall differ a lot and true negatives dominate, so each bug gives a visibly different answer.
    """
    public = tuple(cases) == ((30, 20, 5, 40),)
    where = "for 30 TP / 20 FN / 5 FP / 40 TN" if public else "for one of the hidden count sets"
    for tp, fn, fp, tn in cases:
        out = precision_recall_f1(tp, fn, fp, tn)
        try:
            got = [float(v) for v in out]
        except (TypeError, ValueError):
            got = []
        if len(got) != 3:
            return failed(name, "wrong_shape",
                          "precision_recall_f1 must return three numbers, (precision, recall, f1), in that order.")
        p, r, f = got
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall)
        if _close(p, precision) and _close(r, recall) and _close(f, f1):
            continue
        if _close(p, recall) and _close(r, precision):
            return failed(name, "precision_recall_swapped",
                          f"{where.capitalize()} your precision is tp / (tp + fn), which is recall: precision and "
                          "recall are swapped (or fn and fp mixed up); precision divides by everything flagged "
                          "(tp + fp), recall by every real positive (tp + fn).")
        accuracy = (tp + tn) / (tp + fn + fp + tn)
        if _close(p, accuracy) or _close(r, accuracy) or _close(r, tn / (tn + fp)):
            return failed(name, "accuracy_confused",
                          f"{where.capitalize()} one of your metrics counts the true negatives; precision, recall "
                          "and F1 only use tp, fp and fn, which is why they stay honest when negatives dominate.")
        if _close(p, precision) and _close(r, recall) and _close(f, (precision + recall) / 2):
            return failed(name, "f1_arithmetic_mean",
                          f"{where.capitalize()} your F1 is the arithmetic mean of precision and recall; F1 is their "
                          "harmonic mean, 2PR / (P + R), which a low recall drags down.")
        wrong = [m for m, ok in (("precision", _close(p, precision)), ("recall", _close(r, recall)),
                                 ("F1", _close(f, f1))) if not ok]
        return failed(name, "wrong_formula",
                      f"{where.capitalize()} your {' and '.join(wrong)} do not match the definition; write each one "
                      "as a ratio of tp, fn and fp.")
    if public:
        return passed(name, "Precision 0.857, recall 0.600, F1 0.706: the model is right when it flags, but misses "
                      "two churners in five.")
    return passed(name, "Your precision, recall and F1 are right on every set of counts tried.")


@check("confusion counts from labels", stub_hint="implement `confusion_counts(y_true, y_pred)`")
def counts_from_labels(name: str, confusion_counts, y_true, y_pred) -> CheckResult:
    """Call the learner's ``confusion_counts(y_true, y_pred)``, expected to return ``(tp, fn, fp, tn)``.

    Misconceptions: ``ravel_order`` (scikit-learn's ``confusion_matrix(...).ravel()`` is
    ``tn, fp, fn, tp``; returning it as ``tp, fn, fp, tn`` reverses the roles), ``true_pred_swapped``
    (``confusion_matrix(y_pred, y_true)``: fn and fp exchanged), ``wrong_shape``, ``wrong_counts``.
    Use labels with four different counts so that every mix-up is visible.
    """
    yt, yp = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    tp, fn = int(((yt == 1) & (yp == 1)).sum()), int(((yt == 1) & (yp == 0)).sum())
    fp, tn = int(((yt == 0) & (yp == 1)).sum()), int(((yt == 0) & (yp == 0)).sum())
    out = confusion_counts(y_true, y_pred)
    try:
        got = tuple(int(v) for v in out)
    except (TypeError, ValueError):
        got = ()
    if len(got) != 4:
        return failed(name, "wrong_shape",
                      "confusion_counts must return four integers, (tp, fn, fp, tn), in that order.")
    if got == (tp, fn, fp, tn):
        return passed(name, "Your four counts match the labels, read from scikit-learn's matrix in the right order.")
    if sorted(got) == sorted((tp, fn, fp, tn)) and got[0] == tn and got[3] == tp:
        return failed(name, "ravel_order",
                      "Your counts come out in scikit-learn's order: confusion_matrix(...).ravel() gives "
                      "tn, fp, fn, tp (rows are the true class 0 then 1, columns the predicted class); "
                      "unpack it in that order.")
    if got == (tp, fp, fn, tn):
        return failed(name, "true_pred_swapped",
                      "Your false negatives and false positives are exchanged: confusion_matrix takes "
                      "(y_true, y_pred) in that order, with true classes as rows.")
    return failed(name, "wrong_counts",
                  "Your four counts do not match the labels; count true positives, false negatives, false positives "
                  "and true negatives with confusion_matrix(y_true, y_pred).")


# ---------------------------------------------------------------- 2. metrics as prevalence falls

TABLE_COLUMNS = ("baseline_accuracy", "roc_auc", "average_precision")


def _row(table: pd.DataFrame, prevalence: float):
    for label in table.index:
        try:
            if abs(float(label) - prevalence) < 1e-9:
                return table.loc[label]
        except (TypeError, ValueError):
            continue
    return None


@check("metrics by prevalence", stub_hint="build the DataFrame `prevalence_table`")
def prevalence_table(name: str, table, scored: dict) -> CheckResult:
    """``table``: one row per prevalence in ``scored`` (index = the prevalence as a float), columns
    ``baseline_accuracy`` (accuracy of predicting "no churn" for everyone), ``roc_auc`` and
    ``average_precision`` of the scores. ``scored`` maps prevalence -> (y_true, scores).

    Misconceptions: ``missing_rows_or_columns``, ``ap_from_labels`` / ``roc_auc_from_labels``
    (hard 0/1 predictions at 0.5 instead of scores), ``roc_ap_swapped``, ``model_accuracy_as_baseline``
    (the model's accuracy at 0.5 instead of the flag-nobody baseline), ``wrong_value``.
    Values must match to rounding (1e-3): they are computed on the same rows.
    """
    df = pd.DataFrame(table)
    missing = [c for c in TABLE_COLUMNS if c not in df.columns]
    if missing:
        return failed(name, "missing_rows_or_columns",
                      f"prevalence_table has no column {', '.join(missing)}; use the columns "
                      f"{', '.join(TABLE_COLUMNS)}, one row per prevalence.")
    for prevalence, (y, s) in sorted(scored.items(), reverse=True):
        row = _row(df, prevalence)
        if row is None:
            return failed(name, "missing_rows_or_columns",
                          f"prevalence_table has no row for prevalence {prevalence}; index the rows by the "
                          "prevalences of `scored`.")
        y, s = np.asarray(y), np.asarray(s, float)
        labels = (s >= 0.5).astype(int)
        roc, ap = roc_auc_score(y, s), average_precision_score(y, s)
        at = f"at {prevalence:.0%} prevalence"
        got_acc, got_roc, got_ap = (float(row[c]) for c in TABLE_COLUMNS)
        if _close(got_roc, ap) and _close(got_ap, roc) and not _close(roc, ap):
            return failed(name, "roc_ap_swapped",
                          f"{at.capitalize()} your roc_auc and average_precision columns are swapped; "
                          "roc_auc_score and average_precision_score each go in their own column.")
        if not _close(got_ap, ap):
            if _close(got_ap, average_precision_score(y, labels)):
                return failed(name, "ap_from_labels",
                              f"{at.capitalize()} your average precision comes from 0/1 predictions at 0.5, which "
                              "throws the ranking away; pass the scores themselves.")
            return failed(name, "wrong_value",
                          f"{at.capitalize()} your average_precision is not average_precision_score(y, scores) "
                          "of that prevalence's rows.")
        if not _close(got_roc, roc):
            if _close(got_roc, roc_auc_score(y, labels)):
                return failed(name, "roc_auc_from_labels",
                              f"{at.capitalize()} your ROC-AUC comes from 0/1 predictions at 0.5, which throws the "
                              "ranking away; pass the scores themselves.")
            return failed(name, "wrong_value",
                          f"{at.capitalize()} your roc_auc is not roc_auc_score(y, scores) of that prevalence's rows.")
        if not (_close(got_acc, 1 - y.mean()) or _close(got_acc, max(y.mean(), 1 - y.mean()))):
            if _close(got_acc, (labels == y).mean()):
                return failed(name, "model_accuracy_as_baseline",
                              f"{at.capitalize()} your baseline_accuracy is the model's accuracy at 0.5; the baseline "
                              "is the accuracy of flagging nobody, (y == 0).mean().")
            return failed(name, "wrong_value",
                          f"{at.capitalize()} your baseline_accuracy is not the accuracy of predicting 'no churn' "
                          "for everyone.")
    return passed(name, "Every value matches: read down the columns to see which metric notices the prevalence.")


READING_CHOICES = {"roc_auc": ("flat", "falls", "rises"), "average_precision": ("flat", "falls", "rises"),
                   "report_at_1pct": ("accuracy", "roc_auc", "average_precision")}
READING_KEYS = ("roc_auc", "average_precision", "precision_at_half_recall", "report_at_1pct")
# Precision at half recall is read off one curve; definitions (first point reaching recall 0.5, or
# the best precision at recall >= 0.5) differ by ~0.001 on 20,000 rows, and 0.02 also absorbs reading a plot.
PRECISION_TOLERANCE = 0.02


def _trend(values: list[float], flat_band: float) -> str:
    """How a metric moves from the highest prevalence (first) to the lowest (last)."""
    if max(values) - min(values) <= flat_band:
        return "flat"
    return "falls" if values[-1] < values[0] else "rises"


@check("reading the prevalence table", stub_hint="fill in every key of `prevalence_reading`")
def prevalence_reading(name: str, reading: dict, scored: dict) -> CheckResult:
    """``reading`` = {"roc_auc": trend, "average_precision": trend, "precision_at_half_recall": float
    (at the lowest prevalence), "report_at_1pct": metric}; trends are "flat", "falls" or "rises" as
    prevalence falls.

    Misconceptions: ``accuracy_at_low_prevalence`` (reporting accuracy, which flagging nobody
    maximises), ``roc_auc_as_proof`` (reporting ROC-AUC, which stays high while most alerts are false),
    ``roc_auc_trend``, ``ap_trend``, ``precision_value``, ``missing_key``, ``unknown_choice``.
    The expected trends are computed from ``scored``: ROC-AUC counts as flat when it moves by at most
    0.05 (its standard error with 200 positives is ~0.01); AP falls with the prevalence, its floor.
    """
    if not isinstance(reading, dict):
        return failed(name, "missing_key",
                      "prevalence_reading must be a dict with the keys " + ", ".join(READING_KEYS) + ".")
    missing = [k for k in READING_KEYS if reading.get(k) is None or reading.get(k) is Ellipsis]
    if len(missing) == len(READING_KEYS):
        return not_attempted(name, "Not attempted yet: fill in every key of `prevalence_reading`.")
    if missing:
        return failed(name, "missing_key", f"prevalence_reading has no answer for {', '.join(missing)}.")
    for key, choices in READING_CHOICES.items():
        if _norm(reading[key]) not in choices:
            return failed(name, "unknown_choice", f"'{reading[key]}' is not one of {', '.join(choices)} for {key}.")
    prevalences = sorted(scored, reverse=True)
    rocs = [roc_auc_score(*scored[r]) for r in prevalences]
    aps = [average_precision_score(*scored[r]) for r in prevalences]
    low = prevalences[-1]
    prec = precision_at_recall(*scored[low], recall=0.5)
    report = _norm(reading["report_at_1pct"])
    if report == "accuracy":
        return failed(name, "accuracy_at_low_prevalence",
                      f"You would report accuracy at {low:.0%} prevalence, where flagging nobody is already "
                      f"{1 - low:.0%} accurate (accuracy at low prevalence); report average precision, whose floor is "
                      "the prevalence itself.")
    if report == "roc_auc":
        return failed(name, "roc_auc_as_proof",
                      f"You would quote ROC-AUC at {low:.0%} prevalence, but it barely moved while precision at half "
                      "recall collapsed: a high ROC-AUC is no proof the alerts are useful; report average precision "
                      "(or precision at the recall you need).")
    if _norm(reading["roc_auc"]) != _trend(rocs, 0.05):
        return failed(name, "roc_auc_trend",
                      "Your reading of ROC-AUC does not match your table; ROC-AUC divides within each class "
                      "(TPR over positives, FPR over negatives), so the class mix alone does not move it.")
    if _norm(reading["average_precision"]) != _trend(aps, 0.05):
        return failed(name, "ap_trend",
                      "Your reading of average precision does not match your table; precision mixes the classes, "
                      "so fewer positives means more false alarms per real one.")
    value = float(reading["precision_at_half_recall"])
    if not _close(value, prec, PRECISION_TOLERANCE):
        hint = " (give it as a share between 0 and 1, not a percentage)" if value > 1 else ""
        return failed(name, "precision_value",
                      f"Your precision at half recall at {low:.0%} prevalence does not match the precision-recall "
                      f"curve of those rows{hint}; lower the threshold until half of the churners are flagged and "
                      "count what share of the flagged are churners.")
    return passed(name, f"ROC-AUC stays near {rocs[-1]:.2f} while precision at half recall falls to {prec:.2f}: "
                  "most alerts are false at this prevalence, which only average precision shows.")


# ---------------------------------------------------------------- 3. a threshold from money

# Threshold tolerance: on 15,000 training rows at 5 % churn, the threshold that maximises realised
# profit has a standard deviation of 0.04 across samples (0.06 on a 3,750-row validation split;
# measured over 40 draws with the notebook's model), so an honestly tuned threshold lands within
# 0.1 (2.5 SD) of the expected-profit optimum; the exact 1/3 is ~0.02 from it, 0.5 and 0.1 are not.
THRESHOLD_TOLERANCE = 0.1
_GRIDS = (0.05, 0.01, 0.005, 0.001)


def _tuned_on(threshold: float, proba, y) -> bool:
    """True when ``threshold`` is where realised profit on these rows peaks (over every score, or over a
    regular grid a learner would sweep), and it is not the cost ratio itself.

    False alarms are rare because an honest threshold must land on the test set's peak exactly: with the
    notebook's data, out-of-fold sweeps (30 CV seeds) and validation-split sweeps (30 seeds) on 0.01 and
    0.005 grids never did (they spread over 0.24-0.38; the test set peaks at 0.40-0.41).
    """
    if abs(threshold - PROFIT_THRESHOLD) < 0.01:
        return False
    p, y = np.asarray(proba, float), np.asarray(y, float)
    realised = expected_profit(y, p >= threshold)
    if abs(realised - best_profit(y, p)) < 1e-6:
        return True
    for step in _GRIDS:
        grid = np.round(np.arange(step, 1.0, step), 6)
        profits = np.array([expected_profit(y, p >= t) for t in grid])
        if np.any(np.abs(grid - threshold) < 1e-9) and abs(realised - profits.max()) < 1e-6:
            return True
    return False


@check("profit threshold", stub_hint="set `threshold` to the churn probability above which you contact a customer")
def profit_threshold(name: str, threshold: float, model, X_hidden, true_proba, *, X_test=None, y_test=None,
                     tolerance: float = THRESHOLD_TOLERANCE, min_share: float = 0.95) -> CheckResult:
    """The learner's threshold applied to ``model``'s probabilities on hidden customers.

    Misconceptions: ``default_threshold`` (0.5), ``tuned_on_test`` (the threshold where realised profit
    on ``X_test, y_test`` peaks: the test set was used for selection), ``ignored_save_rate``
    (50/500 = 0.1), ``threshold_not_from_costs`` (farther than ``tolerance`` from the expected-profit
    optimum on the hidden rows, or earning less than ``min_share`` of the attainable expected profit).
    Profit is the expectation under the generator's true probabilities ``true_proba``, so label noise
    does not move the bar: 1/3 earns ~99 %, 0.5 ~82 % with the notebook's model.
    """
    t = float(threshold)
    if not 0.0 < t < 1.0:
        return failed(name, "not_a_probability", f"Your threshold {t} is not a probability between 0 and 1.")
    p = _proba(model, X_hidden)
    best = best_profit(true_proba, p)
    share = expected_profit(true_proba, p >= t) / best if best > 0 else 1.0
    optimum = optimal_threshold(true_proba, p)
    if abs(t - 0.5) < 1e-9:
        return failed(name, "default_threshold", DEFAULT_THRESHOLD_MESSAGE)
    if X_test is not None and y_test is not None and _tuned_on(t, _proba(model, X_test), y_test):
        return failed(name, "tuned_on_test",
                      "Your threshold matches the peak of realised profit on the test set; if you chose it by "
                      "sweeping the test set, the test profit is now an optimistic estimate (the test set was used "
                      "for selection): derive it from the costs, or tune it on training folds "
                      "(TunedThresholdClassifierCV).")
    if abs(t - CONTACT_COST / VALUE) < 0.01:
        return failed(name, "ignored_save_rate", IGNORED_SAVE_RATE_MESSAGE)
    if abs(t - optimum) > tolerance or share < min_share:
        return failed(name, "threshold_not_from_costs",
                      "Your threshold is far from where expected profit peaks on unseen customers, or earns less "
                      f"than {min_share:.0%} of that peak; derive it from the value of a save, the save rate and the "
                      "contact cost.")
    return passed(name, f"Threshold {t:.2f} earns at least {min_share:.0%} of the attainable profit on unseen customers.")


# ---------------------------------------------------------------- 4. the decision

DECISION_CHOICES = {
    "metric_at_1pct": {"average_precision"},
    "threshold": {"expected_profit"},
    "threshold_tuned_on": {"training_folds", "validation_split"},
    # the notebook's model is trained on the true class balance and its reliability diagram is checked, so
    # the right answer is "checked_calibration" (old spelling "calibrated" still accepted)
    "probabilities": {"checked_calibration", "calibration_checked", "calibrated"},
}
_DECISION_MISTAKES = {
    ("metric_at_1pct", "accuracy"): "flagging nobody is 99 % accurate at 1 % prevalence (accuracy at low prevalence)",
    ("metric_at_1pct", "roc_auc"): "ROC-AUC stayed high while most alerts were false: it is no proof of "
                                   "usefulness at 1 % prevalence",
    ("threshold", "default_0.5"): "0.5 ignores what a contact costs and what a save is worth (the default threshold)",
    ("threshold", "max_f1"): "F1 weighs precision and recall equally, not by money",
    ("threshold_tuned_on", "test_set"): "a threshold tuned on the test set makes the test profit an optimistic "
                                        "estimate (the test set was used for selection)",
    ("probabilities", "unchecked"): "a threshold read as a probability needs probabilities whose calibration you "
                                    "have checked (a reliability diagram); ROC-AUC cannot tell you",
}


@check("decision", stub_hint="fill in the `decision` dict with one choice per key")
def decision(name: str, decision: dict) -> CheckResult:
    """Misconceptions: ``missing_key``, ``unknown_choice``, and one ``decision_<key>`` per wrong choice."""
    return judge_decision(name, decision, DECISION_CHOICES, _DECISION_MISTAKES, _norm,
                          "Your decision reports average precision at 1 %, and sets the threshold from money on "
                  "probabilities whose calibration you checked, tuned away from the test set.")
