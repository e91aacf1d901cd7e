"""Checks for the churn case study (95 % stay, 5 % churn).

Each check's docstring lists the misconceptions it detects, most specific first.
Business figures of the case: a saved churner is worth VALUE, a contacted churner is saved with
probability SAVE_RATE, every contact costs CONTACT_COST; contacting a customer with churn
probability p pays off when p * VALUE * SAVE_RATE > CONTACT_COST, i.e. above 1/3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from mlcasebook.cases.churn import CONTACT_COST, SAVE_RATE, VALUE, best_profit, expected_profit  # noqa: F401 - public
from mlcasebook.checks import _estimators as est
from mlcasebook.checks.decisions import judge_decision, normalise_choice
from mlcasebook.checks.result import CheckResult, check, failed, passed

PROFIT_THRESHOLD = CONTACT_COST / (VALUE * SAVE_RATE)  # = 1/3
# The two cost mistakes, named alike by this module's and checks.metrics' profit_threshold.
DEFAULT_THRESHOLD_MESSAGE = ("You kept the default 0.5, which leaves part of the attainable profit on unseen customers "
                             "unearned; contact a customer when p * 500 * 0.3 exceeds the 50 contact cost.")
IGNORED_SAVE_RATE_MESSAGE = ("Your threshold 0.1 assumes every contacted churner is saved; only 30 % are, so a contact "
                             "pays off above 50 / (500 * 0.3).")

_AP_NAMES = {"average_precision", "ap", "pr_auc", "auprc", "auc_pr", "precision_recall_auc", "area_under_pr_curve"}


_norm = normalise_choice


def _proba(model, X) -> np.ndarray:
    return np.asarray(model.predict_proba(X))[:, 1]


@check("metric choice", stub_hint="set `metric` to the name of the metric you will optimise")
def metric_choice(name: str, metric: str) -> CheckResult:
    """Misconceptions: ``accuracy_on_imbalanced``, ``roc_auc_under_imbalance``, ``threshold_metric``."""
    m = _norm(metric)
    if m in _AP_NAMES:
        return passed(name, "Average precision (PR-AUC) rewards ranking the few churners at the top of the list.")
    if m in {"accuracy", "acc", "balanced_accuracy"} and m != "balanced_accuracy":
        return failed(name, "accuracy_on_imbalanced",
                      "You chose accuracy, but predicting 'stay' for everyone already scores 0.95 on 95/5 data; "
                      "optimise average precision, which only rises when churners are ranked first.")
    if m in {"roc_auc", "auc", "auroc", "roc"}:
        return failed(name, "roc_auc_under_imbalance",
                      "You chose ROC-AUC, which the 95 % easy negatives keep high even when the top of the list is "
                      "mostly false alarms; optimise average precision (PR-AUC) instead.")
    if m in {"f1", "f1_score", "precision", "recall", "balanced_accuracy", "fbeta"}:
        return failed(name, "threshold_metric",
                      f"You chose {metric}, which depends on a decision threshold you have not set yet; rank models by "
                      "a threshold-free metric (average precision) and set the threshold from costs later.")
    return failed(name, "unknown_metric",
                  f"'{metric}' is not a metric this case can judge; use 'average_precision' (PR-AUC).")


@check("majority baseline", stub_hint="set `baseline_accuracy` to the accuracy of always predicting 'stay'")
def baseline_accuracy(name: str, baseline_accuracy: float, y_test) -> CheckResult:
    """Misconceptions: ``minority_as_baseline`` (predicting churn for everyone), ``wrong_baseline``."""
    y = np.asarray(y_test)
    majority = max(y.mean(), 1 - y.mean())
    value = float(baseline_accuracy)
    if abs(value - majority) < 5e-4:
        return passed(name, f"Predicting 'stay' for everyone is right {value:.1%} of the time and finds no churner.")
    if abs(value - (1 - majority)) < 5e-4:
        return failed(name, "minority_as_baseline",
                      "You scored the model that predicts 'churn' for everyone; the baseline to beat predicts the "
                      "majority class, 'stay'.")
    return failed(name, "wrong_baseline",
                  "Your baseline accuracy is not that of always predicting the majority class on y_test; "
                  "compute (y_test == 0).mean().")


@check("train/test split", stub_hint="split X, y into X_train, X_test, y_train, y_test")
def split(name: str, X_train, X_test, y_train, y_test, *, population_rate: float) -> CheckResult:
    """Misconceptions: ``resampled_before_split``, ``rows_in_both``, ``not_stratified``, ``test_size``.

    ``population_rate`` is the churn rate of the data before splitting. A stratified split keeps
    both churn rates within one row's worth (1/n) of each other; an unstratified split of 20,000
    rows at 5 % differs by ~0.3 pp (one standard error, sqrt(0.05*0.95/5000)).
    """
    ytr, yte = np.asarray(y_train), np.asarray(y_test)
    n_tr, n_te = len(ytr), len(yte)
    if max(abs(ytr.mean() - population_rate), abs(yte.mean() - population_rate)) > 0.1:
        return failed(name, "resampled_before_split",
                      f"Your test set has {yte.mean():.0%} churners against {population_rate:.0%} in the data: you "
                      "resampled before splitting, so the test set no longer looks like production; split first and "
                      "resample only inside the training pipeline.")
    if isinstance(X_train, pd.DataFrame) and isinstance(X_test, pd.DataFrame):
        shared = X_train.index.intersection(X_test.index)
        if len(shared):
            return failed(name, "rows_in_both",
                          f"{len(shared)} customers are in both X_train and X_test; a test row seen in training "
                          "inflates every score. Use one train_test_split call.")
    if abs(ytr.mean() - yte.mean()) > 1.0 / n_tr + 1.0 / n_te:
        return failed(name, "not_stratified",
                      f"Train and test churn rates differ ({ytr.mean():.2%} vs {yte.mean():.2%}); with only 5 % "
                      "churners pass stratify=y so both sets keep the same rate.")
    share = n_te / (n_tr + n_te)
    if not 0.15 <= share <= 0.4:
        return failed(name, "test_size",
                      f"Your test set holds {share:.0%} of the rows; keep 20-30 % so it has enough churners to "
                      "measure precision.")
    return passed(name, f"Stratified split: {n_tr} training and {n_te} test rows, {yte.mean():.2%} churn in both.")


@check("imbalance handling", stub_hint="build and fit `pipeline` on X_train, y_train")
def pipeline_design(name: str, pipeline, y_train, *, population_rate: float) -> CheckResult:
    """Misconceptions: ``sampler_outside_pipeline`` (the training set itself was resampled).

    Accepted: class_weight on the classifier, any imblearn sampler inside an imblearn Pipeline,
    an imblearn balanced ensemble, or no reweighting at all (ranking barely changes; the threshold
    then does the work).
    """
    rate = float(np.mean(np.asarray(y_train)))
    if abs(rate - population_rate) > 0.05:
        return failed(name, "sampler_outside_pipeline",
                      f"Your y_train has {rate:.0%} churners against {population_rate:.0%} in the data: you resampled "
                      "the training set outside the pipeline, so cross-validation scores copies of training rows; "
                      "put the sampler inside an imblearn Pipeline and fit it on the original X_train.")
    found = est.samplers(pipeline)
    if found:
        return passed(name, f"{type(found[0]).__name__} sits inside the pipeline, so it resamples each training fold only.")
    if est.reweights_classes(pipeline):
        return passed(name, "The classifier reweights the classes, which needs no resampling and cannot leak.")
    return passed(name, "No reweighting or resampling: defensible for ranking (AP barely moves) as long as the "
                  "threshold comes from costs.")


@check("honest cross-validation", stub_hint="set `cv_ap` to your cross-validated average precision")
def honest_cv(name: str, cv_ap: float, pipeline, X_fresh, y_fresh, *, tolerance: float = 0.12) -> CheckResult:
    """Misconceptions: ``leak_in_cv`` (resampling or any fitting before the CV split), ``wrong_cv_metric``.

    Refits a clone of the learner's pipeline with 5-fold CV on fresh data from the same population
    and compares with the reported ``cv_ap``. The tolerance 0.12 is four standard deviations of the
    difference between two AP estimates on ~10,000-row samples at 5 % churn (each ~0.02-0.025 across seeds).
    """
    cv_ap = float(cv_ap)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    honest = float(np.mean(cross_val_score(clone(pipeline), X_fresh, y_fresh, cv=folds, scoring="average_precision")))
    if cv_ap > honest + tolerance:
        if cv_ap > 0.9:
            what = "an AP near 1.0 on 95/5 data means the validation folds held copies of training rows"
        else:
            what = "the validation folds were not like production data"
        return failed(name, "leak_in_cv",
                      f"Your reported CV average precision {cv_ap:.2f} is far above what the same pipeline scores "
                      f"on fresh customers: {what}; resample only inside an imblearn Pipeline passed to cross_val_score.")
    if cv_ap < honest - tolerance:
        return failed(name, "wrong_cv_metric",
                      f"Your reported CV score {cv_ap:.2f} is far below what your pipeline reaches on fresh customers; "
                      "check that you passed scoring='average_precision' and probabilities, not labels.")
    return passed(name, f"Your CV average precision {cv_ap:.2f} matches what the pipeline scores on fresh customers.")


@check("held-out quality", stub_hint="fit `pipeline` on X_train, y_train")
def heldout_quality(name: str, pipeline, X_hidden, y_hidden, *, oracle_ap: float, min_ratio: float = 0.8) -> CheckResult:
    """Misconceptions: ``no_better_than_baseline``, ``weak_model``.

    ``oracle_ap`` is the Bayes oracle's AP on the same rows. A well-specified logistic regression
    reaches ~0.99 of it and tree ensembles ~0.95 on the course's data; 0.8 leaves room for every
    reasonable model while a constant score (AP = churn rate, ~0.12 of the oracle) fails.
    """
    y = np.asarray(y_hidden)
    ap = float(average_precision_score(y, _proba(pipeline, X_hidden)))
    if ap < 2 * y.mean():
        return failed(name, "no_better_than_baseline",
                      "Your model's average precision on unseen customers is about what random ordering gives: it is "
                      "no better than the majority baseline — check it was fitted on the features and predicts "
                      "probabilities.")
    if ap < min_ratio * oracle_ap:
        return failed(name, "weak_model",
                      f"Your model reaches less than {min_ratio:.0%} of the best attainable average precision on "
                      "unseen customers; encode the categorical features and scale the numeric ones in the pipeline.")
    return passed(name, f"On unseen customers your model reaches at least {min_ratio:.0%} of the Bayes-oracle average "
                        "precision.")


@check("test-set average precision", stub_hint="set `test_ap` to the average precision of `pipeline` on X_test")
def reported_ap(name: str, test_ap: float, pipeline, X_test, y_test) -> CheckResult:
    """Misconceptions: ``ap_from_labels`` (hard 0/1 predictions instead of probabilities), ``roc_auc_reported``."""
    y = np.asarray(y_test)
    scores = _proba(pipeline, X_test)
    expected = float(average_precision_score(y, scores))
    value = float(test_ap)
    if abs(value - expected) < 1e-3:
        return passed(name, f"Test average precision {value:.3f}, against {y.mean():.3f} for random ordering.")
    if abs(value - float(average_precision_score(y, pipeline.predict(X_test)))) < 1e-3:
        return failed(name, "ap_from_labels",
                      "You computed average precision from predict()'s 0/1 labels, which throws the ranking away; "
                      "pass predict_proba(X_test)[:, 1].")
    if abs(value - float(roc_auc_score(y, scores))) < 1e-3:
        return failed(name, "roc_auc_reported",
                      "You reported ROC-AUC; the metric you chose is average precision (average_precision_score).")
    return failed(name, "wrong_value",
                  "Your test_ap is not the average precision of pipeline.predict_proba(X_test)[:, 1] against y_test.")


@check("under-sampling correction", stub_hint="implement `correct_undersampling(p_s, beta)`")
def undersampling_correction(name: str, correct_undersampling) -> CheckResult:
    """Misconceptions: ``uncorrected`` (returns p_s), ``inverted_beta`` (uses 1/beta), ``wrong_formula``.

    Checked on a grid of probabilities and three keep-fractions, against
    p = beta * p_s / (beta * p_s - p_s + 1) (Dal Pozzolo et al., 2015).
    """
    p_s = np.linspace(0.01, 0.99, 25)
    for beta in (0.1, 0.25, 1.0):
        got = np.asarray(correct_undersampling(p_s, beta), dtype=float)
        truth = beta * p_s / (beta * p_s - p_s + 1)
        if got.shape != p_s.shape:
            return failed(name, "wrong_shape",
                          f"correct_undersampling returned shape {got.shape} for {p_s.shape[0]} probabilities; "
                          "it must work element-wise on arrays.")
        if np.allclose(got, truth, atol=1e-9):
            continue
        if beta < 1 and np.allclose(got, p_s):
            return failed(name, "uncorrected",
                          "Your function returns the probabilities unchanged; after keeping only a fraction beta of "
                          "the majority class they are too high and must be shrunk.")
        inverted = (p_s / beta) / (p_s / beta - p_s + 1)
        if np.allclose(got, inverted, atol=1e-9):
            return failed(name, "inverted_beta",
                          "Your correction pushes probabilities up instead of down: beta is the fraction of "
                          "non-churners kept, so it multiplies p_s in the numerator.")
        return failed(name, "wrong_formula",
                      f"For beta={beta} your corrected probabilities differ from the prior-shift correction; derive it "
                      "from Bayes' rule with the majority class down-weighted by beta.")
    return passed(name, "Your correction undoes the prior shift of under-sampling for every keep-fraction tried.")


def calibration_error(y, p, bins: int = 10) -> float:
    """Expected calibration error over equal-count bins of the predicted probability."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    return float(sum(len(b) * abs(y[b].mean() - p[b].mean()) for b in np.array_split(order, bins)) / len(p))


@check("calibration", stub_hint="set `calibrated` to a fitted model whose probabilities you trust")
def calibration(name: str, calibrated, X_hidden, y_hidden, *, max_gap: float = 0.01, max_ece: float = 0.02) -> CheckResult:
    """Misconceptions: ``uncorrected_probabilities`` (reweighted/under-sampled scores used as probabilities),
    ``miscalibrated``.

    Tolerances for 10,000 hidden customers at 5 % churn: the observed churn rate has a standard
    error of sqrt(0.05*0.95/10000) = 0.0022, so a calibrated model's mean prediction stays within
    0.01 (4.5 SE); the ECE of a calibrated model over 10 bins of 1,000 is ~0.006, and 0.02 leaves
    three times that while an uncalibrated balanced model scores ~0.2.
    """
    y = np.asarray(y_hidden)
    p = _proba(calibrated, X_hidden)
    gap = float(p.mean() - y.mean())
    ece = calibration_error(y, p)
    if gap > 3 * max_gap:
        return failed(name, "uncorrected_probabilities",
                      "On unseen customers your probabilities average well above the share who churn: training on "
                      "rebalanced data inflates them; calibrate on the original class balance "
                      "(CalibratedClassifierCV) or apply the under-sampling correction.")
    if abs(gap) > max_gap or ece > max_ece:
        return failed(name, "miscalibrated",
                      "On unseen customers your probabilities do not match how often customers churn (overall or "
                      "within bins of the predicted probability): they are miscalibrated; calibrate them with "
                      "CalibratedClassifierCV on training folds.")
    return passed(name, "Your probabilities are calibrated on unseen customers.")


@check("profit threshold", stub_hint="set `threshold` to the churn probability above which you contact a customer")
def profit_threshold(name: str, threshold: float, calibrated, X_hidden, truth, *, min_share: float = 0.95) -> CheckResult:
    """Misconceptions: ``default_threshold`` (0.5), ``ignored_save_rate`` (50/500 = 0.1),
    ``uncalibrated_for_threshold`` (1/3 applied to uncalibrated scores), ``threshold_not_from_costs``.

    The learner's threshold, applied to their own probabilities on hidden customers, must earn at
    least 95 % of the best expected profit any threshold on the same probabilities earns there.
    Profit is the expectation under the generator's true churn probabilities (``truth``: a
    :class:`ChurnTruth`, indexed by ``X_hidden.index``, or an array aligned with ``X_hidden``), so label
    noise does not move the bar; the exact 1/3 on calibrated scores earns ~99 %, 0.5 ~75 %.
    """
    t = float(threshold)
    p = _proba(calibrated, X_hidden)
    if hasattr(truth, "probability"):
        true_proba = np.asarray(truth.probability)[np.asarray(X_hidden.index)]
    else:
        true_proba = np.asarray(truth, dtype=float)
    best = best_profit(true_proba, p)
    share = expected_profit(true_proba, p >= t) / best if best > 0 else 1.0
    if abs(t - 0.5) < 1e-9:
        return failed(name, "default_threshold", DEFAULT_THRESHOLD_MESSAGE)
    if abs(t - CONTACT_COST / VALUE) < 0.01:
        return failed(name, "ignored_save_rate", IGNORED_SAVE_RATE_MESSAGE)
    if share < min_share and abs(t - PROFIT_THRESHOLD) < 0.02:
        return failed(name, "uncalibrated_for_threshold",
                      f"Your threshold is the break-even point for calibrated probabilities, but applied to the "
                      f"probabilities of `calibrated` it earns less than {min_share:.0%} of the attainable profit: "
                      "calibrate them first.")
    if share < min_share:
        return failed(name, "threshold_not_from_costs",
                      f"Your threshold earns less than {min_share:.0%} of the attainable profit on unseen customers; "
                      "derive it from the value of a save, the save rate and the contact cost.")
    return passed(name, f"Threshold {t:.2f} earns at least {min_share:.0%} of the attainable profit on unseen customers.")


@check("real-data model", stub_hint="build `telco_pipeline` for the Telco data")
def telco_quality(name: str, telco_pipeline, X, y, *, n_splits: int = 3, min_lift: float = 2.0) -> CheckResult:
    """Misconceptions: ``no_better_than_baseline`` (e.g. a dummy or a model on no usable features), ``pipeline_fails``.

    Refits a clone of the learner's pipeline on ``n_splits`` stratified folds of data they have not
    fitted on and requires the mean AP to reach ``min_lift`` times the churn rate. A logistic
    regression reaches ~5 times the rate on Telco at 5 % churn; a constant score gets 1 time.
    """
    y = np.asarray(y)
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=2026)
    ap = float(np.mean(cross_val_score(clone(telco_pipeline), X, y, cv=folds, scoring="average_precision")))
    if np.isnan(ap):
        return failed(name, "pipeline_fails",
                      "Your telco_pipeline fails when refitted on other Telco customers; make it handle every column "
                      "of the frame, including the missing total_charges.")
    lift = ap / y.mean()
    if lift < min_lift:
        return failed(name, "no_better_than_baseline",
                      f"Refitted on other Telco customers your pipeline's average precision is less than {min_lift:g} "
                      "times that of random ordering: barely better than the majority baseline; build it on the "
                      "customers' features, encoded and scaled inside the pipeline.")
    return passed(name, f"Refitted on other Telco customers your pipeline ranks churners at least {min_lift:g} times "
                        "better than random.")


DECISION_CHOICES = {
    "metric": _AP_NAMES,
    "split": {"stratified"},
    "resampling": {"inside_pipeline", "class_weight", "none"},
    "probabilities": {"calibrated"},
    "threshold": {"expected_profit"},
}
_DECISION_MISTAKES = {
    ("metric", "accuracy"): "accuracy is 0.95 for a model that finds no churner",
    ("metric", "roc_auc"): "ROC-AUC hides false alarms at 5 % prevalence",
    ("split", "random"): "an unstratified split can leave the test set with too few churners",
    ("resampling", "before_split"): "resampling before the split copies rows into the test folds",
    ("probabilities", "raw"): "rebalanced training inflates raw probabilities",
    ("threshold", "default_0.5"): "0.5 ignores what a contact costs and earns",
    ("threshold", "max_f1"): "F1 weighs precision and recall equally, not by money",
}


@check("decision", stub_hint="fill in the `decision` dict with one choice per key")
def decision(name: str, decision: dict) -> CheckResult:
    """Misconceptions: ``missing_key``, ``unknown_choice``, and one ``decision_<key>`` per wrong choice."""
    return judge_decision(name, decision, DECISION_CHOICES, _DECISION_MISTAKES, _norm,
                          "Your decision names the metric, the split, the imbalance handling, calibration and a cost-based threshold.")
