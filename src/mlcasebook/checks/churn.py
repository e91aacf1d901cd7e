"""Checks for the churn case study (95 % stay, 5 % churn).

Each check declares what it can detect as a :class:`~mlcasebook.checks.ladder.Ladder` (most specific first).
Business figures of the case: a saved churner is worth VALUE, a contacted churner is saved with
probability SAVE_RATE, every contact costs CONTACT_COST; contacting a customer with churn
probability p pays off when p * VALUE * SAVE_RATE > CONTACT_COST, i.e. above 1/3. The profit and
calibration statistics are shared with the metrics case (:mod:`mlcasebook.checks.reference`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, cross_validate

from mlcasebook.cases.churn import CONTACT_COST, SAVE_RATE, VALUE, best_profit, expected_profit, precision_at_recall  # noqa: F401 - public facts
from mlcasebook.checks import _estimators as est
from mlcasebook.checks import reference as ref
from mlcasebook.checks.decisions import decide, decision_ladder, normalise_choice
from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, check

PROFIT_THRESHOLD = ref.BREAK_EVEN  # = 1/3
calibration_error = ref.calibration_error  # kept importable under its old name

_AP_NAMES = {"average_precision", "ap", "pr_auc", "auprc", "auc_pr", "precision_recall_auc", "area_under_pr_curve"}
_norm = normalise_choice


def _proba(model, X) -> np.ndarray:
    return np.asarray(model.predict_proba(X))[:, 1]


def _fail_unless(ok):
    """Detector of a ladder's last rung: the answer is wrong in a way no earlier rung named."""
    return lambda e: not ok(e)


# ---------------------------------------------------------------- metric and baseline

METRIC = Ladder(
    Misconception("accuracy_on_imbalanced", lambda e: e.m in {"accuracy", "acc"},
                  "You chose accuracy, but predicting 'stay' for everyone already scores 0.95 on 95/5 data, so "
                  "accuracy cannot tell a useful model from one that finds no churner."),
    Misconception("roc_auc_under_imbalance", lambda e: e.m in {"roc_auc", "auc", "auroc", "roc"},
                  "You chose ROC-AUC, which the 95 % easy negatives keep high even when the top of the call list is "
                  "mostly false alarms."),
    Misconception("threshold_metric", lambda e: e.m in {"f1", "f1_score", "precision", "recall", "balanced_accuracy",
                                                        "fbeta"},
                  "You chose {e.metric}, which depends on a decision threshold you have not set yet, so it mixes "
                  "how well the model ranks with where you cut the list."),
    Misconception("unknown_metric", lambda e: e.m not in _AP_NAMES,
                  "'{e.metric}' is not one of the metrics this case offers."),
    passed="Average precision (PR-AUC) rewards ranking the few churners at the top of the list.",
)


@check("metric choice", stub_hint="set `metric` to the name of the metric you will optimise", ladder=METRIC)
def metric_choice(name: str, metric: str) -> CheckResult:
    """The metric the learner will optimise, by name (spelling-tolerant)."""
    return METRIC.judge(name, Evidence(metric=metric, m=_norm(metric)))


BASELINE = Ladder(
    Misconception("minority_as_baseline", lambda e: abs(e.value - e.minority) < 5e-4,
                  "You scored the model that predicts 'churn' for everyone, which is right only about the churners; "
                  "the part asks for the model that predicts 'stay' for everyone."),
    Misconception("wrong_baseline", lambda e: abs(e.value - e.majority) >= 5e-4,
                  "Your baseline accuracy is not the accuracy on y_test of always predicting the majority class."),
    passed="Predicting 'stay' for everyone is right {e.value:.1%} of the time and finds no churner.",
)


@check("majority baseline", stub_hint="set `baseline_accuracy` to the accuracy of always predicting 'stay'",
       ladder=BASELINE)
def baseline_accuracy(name: str, baseline_accuracy: float, y_test) -> CheckResult:
    """Accuracy of always predicting the majority class on ``y_test`` (exact to rounding, 5e-4)."""
    y = np.asarray(y_test)
    majority = max(y.mean(), 1 - y.mean())
    return BASELINE.judge(name, Evidence(value=float(baseline_accuracy), majority=majority, minority=1 - majority))


# ---------------------------------------------------------------- the split

SPLIT = Ladder(
    Misconception("resampled_before_split", lambda e: e.rate_gap > 0.1,
                  "Your test set has {e.test_rate:.0%} churners against {e.population_rate:.0%} in the data: you "
                  "resampled before splitting, so the test set no longer looks like production and holds copies "
                  "of training rows."),
    Misconception("rows_in_both", lambda e: e.shared > 0,
                  "{e.shared} customers are in both X_train and X_test; a test row seen in training inflates every "
                  "score computed on the test set."),
    Misconception("not_stratified", lambda e: e.train_test_gap > e.one_row,
                  "Train and test churn rates differ ({e.train_rate:.2%} vs {e.test_rate:.2%}): the split was not "
                  "stratified, and with only 5 % churners the test set can end up dozens of churners short."),
    Misconception("test_size", lambda e: not 0.15 <= e.share <= 0.4,
                  "Your test set holds {e.share:.0%} of the rows: too few test churners to measure precision, or "
                  "too few training rows for the model."),
    passed="Stratified split: {e.n_train} training and {e.n_test} test rows, {e.test_rate:.2%} churn in both.",
)


@check("train/test split", stub_hint="split X, y into X_train, X_test, y_train, y_test", ladder=SPLIT)
def split(name: str, X_train, X_test, y_train, y_test, *, population_rate: float) -> CheckResult:
    """``population_rate`` is the churn rate of the data before splitting. A stratified split keeps both churn
    rates within one row's worth (1/n) of each other; an unstratified split of 20,000 rows at 5 % differs by
    ~0.3 pp (one standard error, sqrt(0.05*0.95/5000)).
    """
    ytr, yte = np.asarray(y_train), np.asarray(y_test)
    shared = 0
    if isinstance(X_train, pd.DataFrame) and isinstance(X_test, pd.DataFrame):
        shared = len(X_train.index.intersection(X_test.index))
    return SPLIT.judge(name, Evidence(
        train_rate=ytr.mean(), test_rate=yte.mean(), population_rate=population_rate,
        rate_gap=max(abs(ytr.mean() - population_rate), abs(yte.mean() - population_rate)), shared=shared,
        train_test_gap=abs(ytr.mean() - yte.mean()), one_row=1.0 / len(ytr) + 1.0 / len(yte),
        share=len(yte) / (len(ytr) + len(yte)), n_train=len(ytr), n_test=len(yte)))


# ---------------------------------------------------------------- the pipeline and what it was fitted on


def _pipeline_praise(e) -> str:
    how = (f"{e.sampler} sits inside the pipeline, so it resamples each training fold only" if e.sampler else
           "the classifier reweights the classes, which needs no resampling" if e.reweights else
           "no sampler and no class weights: defensible for ranking (average precision barely moves) as long as "
           "the threshold comes from calibrated probabilities")
    rows = (f"it was fitted on the {e.n_train:,} training rows" if e.rows == e.n_train else
            "no fitted step records how many rows it saw, so that was not checked")
    return f"{how[0].upper()}{how[1:]}; {rows}."


PIPELINE = Ladder(
    Misconception("sampler_outside_pipeline", lambda e: abs(e.train_rate - e.population_rate) > 0.05,
                  "Your y_train has {e.train_rate:.0%} churners against {e.population_rate:.0%} in the data: the "
                  "training set itself was resampled outside the pipeline, so every cross-validation fold scores "
                  "resampled rows instead of customers as they come."),
    Misconception("fitted_on_test_rows", lambda e: e.rows is not None and (
                  e.rows > e.most_resampled or (e.n_test is not None and e.rows in (e.n_test, e.n_train + e.n_test))),
                  "Your pipeline was fitted on {e.rows:,} rows, {e.which}: the test rows took part in training, so "
                  "every score on the test set is optimistic."),
    Misconception("fitted_on_resampled_rows", lambda e: e.rows is not None and e.rows > e.n_train,
                  "Your pipeline was fitted on {e.rows:,} rows, more than the {e.n_train:,} of X_train: it was fitted "
                  "on rows resampled outside the pipeline (copies or synthetic churners), so nothing cross-validated "
                  "on them is an honest estimate."),
    Misconception("fitted_on_other_rows", lambda e: e.rows is not None and e.rows != e.n_train,
                  "Your pipeline was fitted on {e.rows:,} rows, not on the {e.n_train:,} rows of X_train."),
    passed="{e.praise}",
)


@check("imbalance handling", stub_hint="build and fit `pipeline` on X_train, y_train", ladder=PIPELINE)
def pipeline_design(name: str, pipeline, X_train, y_train, X_test=None, *, population_rate: float) -> CheckResult:
    """How the pipeline handles the imbalance, and what it was fitted on.

    Accepted: class_weight on the classifier, any imblearn sampler inside an imblearn Pipeline, an imblearn
    balanced ensemble, or no reweighting at all (ranking barely changes; the threshold then does the work).
    The rows the fitted pipeline saw are read from its fitted steps (:func:`_estimators.rows_seen`, e.g. a
    scaler's ``n_samples_seen_``) and must be exactly ``len(X_train)``; when no step records them, the passing
    sentence says that this was not checked.
    """
    n_train, n_test = len(X_train), (None if X_test is None else len(X_test))
    rows = est.rows_seen(pipeline)
    found = est.samplers(pipeline)
    e = Evidence(train_rate=float(np.mean(np.asarray(y_train))), population_rate=population_rate, rows=rows,
                 n_train=n_train, n_test=n_test, sampler=type(found[0]).__name__ if found else None,
                 reweights=est.reweights_classes(pipeline))
    majority = int(max(np.sum(np.asarray(y_train) == 1), np.sum(np.asarray(y_train) == 0)))
    e.most_resampled = 2 * majority  # what balancing X_train by over-sampling gives at most
    e.which = ("as many as X_test holds" if rows == n_test else
               "the training and test rows together" if n_test is not None and rows == n_train + n_test else
               "more than any resampling of X_train gives: rows from outside the training split were resampled "
               "into it")
    e.praise = _pipeline_praise(e)
    return PIPELINE.judge(name, e)


HELDOUT = Ladder(
    Misconception("no_better_than_baseline", lambda e: e.ap < 2 * e.rate,
                  "Your model's average precision on unseen customers is about what random ordering gives: it is no "
                  "better than the majority baseline, as if it saw no usable feature or returned a constant score."),
    Misconception("weak_model", lambda e: e.ap < e.min_ratio * e.oracle_ap,
                  "Your model reaches less than {e.min_ratio:.0%} of the best attainable average precision on unseen "
                  "customers: some features are not reaching it in a usable form (unencoded categories, unscaled "
                  "numbers for a linear model, or columns left out)."),
    passed="On unseen customers your model reaches at least {e.min_ratio:.0%} of the Bayes-oracle average precision.",
)


@check("held-out quality", stub_hint="fit `pipeline` on X_train, y_train", ladder=HELDOUT)
def heldout_quality(name: str, pipeline, X_hidden, y_hidden, *, oracle_ap: float, min_ratio: float = 0.8) -> CheckResult:
    """``oracle_ap`` is the Bayes oracle's AP on the same rows. A well-specified logistic regression reaches ~0.99
    of it and tree ensembles ~0.95 on the course's data; 0.8 leaves room for every reasonable model while a
    constant score (AP = churn rate, ~0.12 of the oracle) fails.
    """
    y = np.asarray(y_hidden)
    return HELDOUT.judge(name, Evidence(ap=float(average_precision_score(y, _proba(pipeline, X_hidden))),
                                        rate=y.mean(), oracle_ap=oracle_ap, min_ratio=min_ratio))


# ---------------------------------------------------------------- cross-validation

# ROC-AUC of the same pipeline on fresh data has a standard error of ~0.01 on 10,000 rows at 5 % churn; a reported
# number within 0.03 of it may be ROC-AUC (or a leaky AP, which lands there too).
ROC_TOLERANCE = 0.03

HONEST_CV = Ladder(
    Misconception("roc_auc_reported", lambda e: e.cv_ap > e.honest + e.tolerance and e.is_train_roc,
                  "Your reported cv_ap {e.cv_ap:.2f} is exactly the cross-validated ROC-AUC of your pipeline on the "
                  "training split: the scoring passed to cross-validation was ROC-AUC, not average precision."),
    Misconception("leak_in_cv", lambda e: e.cv_ap > e.honest + e.tolerance,
                  "Your reported CV average precision {e.cv_ap:.2f} is far above what the same pipeline scores when "
                  "cross-validated on fresh customers: your validation folds were easier than production, which is "
                  "what resampling before the folds are cut does (copies or synthetic churners in the validation "
                  "folds, and far more than 5 % churners){e.also}."),
    Misconception("wrong_cv_metric", lambda e: e.cv_ap < e.honest - e.tolerance,
                  "Your reported CV score {e.cv_ap:.2f} is far below what your pipeline reaches on fresh customers: "
                  "it is not average precision of probabilities (a different scoring, or 0/1 labels scored)."),
    Misconception("cv_on_all_data", lambda e: e.on_all_data,
                  "Your cv_ap is exactly what cross-validating your pipeline on all customers, test rows included, "
                  "gives: the test customers took part in model selection, so the test set is no longer a fresh "
                  "estimate."),
    passed="Your CV average precision {e.cv_ap:.2f} matches what the pipeline scores on fresh customers.",
)
# The fold scheme the notebook's cross-validation cell builds, StratifiedKFold(5, shuffle=True, random_state=SEED):
# a learner who runs that cell on X, y instead of X_train, y_train reproduces it exactly. Each scheme costs one
# cross-validation on 20,000 rows in every grading, so only this one is tried.
_ALL_DATA_FOLDS = (lambda: StratifiedKFold(5, shuffle=True, random_state=0),)


def _matches_cv_on(cv_ap: float, pipeline, X, y, scoring: str = "average_precision") -> bool:
    for folds in _ALL_DATA_FOLDS:
        scores = cross_val_score(clone(pipeline), X, y, cv=folds(), scoring=scoring)
        if abs(float(np.mean(scores)) - cv_ap) < 1e-6:
            return True
    return False


@check("honest cross-validation", stub_hint="set `cv_ap` to your cross-validated average precision",
       ladder=HONEST_CV)
def honest_cv(name: str, cv_ap: float, pipeline, X_fresh, y_fresh, *, X_all=None, y_all=None, X_train=None,
              y_train=None, tolerance: float = 0.12) -> CheckResult:
    """Refits a clone of the learner's pipeline with 5-fold CV on fresh data from the same population and compares
    with the reported ``cv_ap`` (and with the pipeline's ROC-AUC there). The tolerance 0.12 is four standard
    deviations of the difference between two AP estimates on ~10,000-row samples at 5 % churn (each ~0.02-0.025
    across seeds). With ``X_all, y_all`` (the notebook's whole data set), a ``cv_ap`` reproduced exactly by
    cross-validating on all of it with the notebook's folds is named (an exact match: the same computation; other
    fold schemes cannot be told from cross-validation on the training split, and are not named). ROC-AUC is named
    when ``cv_ap`` is exactly the pipeline's cross-validated ROC-AUC on ``X_train, y_train`` (same fold schemes): a
    leaky average precision and an honest ROC-AUC are both ~0.9 here, so closeness alone cannot tell them apart,
    and the leak's sentence then only adds that the number is also close to the pipeline's ROC-AUC.
    """
    cv_ap = float(cv_ap)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_validate(clone(pipeline), X_fresh, y_fresh, cv=folds, scoring=("average_precision", "roc_auc"))
    e = Evidence(cv_ap=cv_ap, honest=float(np.mean(scores["test_average_precision"])),
                 roc=float(np.mean(scores["test_roc_auc"])), tolerance=tolerance)
    e.also = (" (it is also close to your pipeline's ROC-AUC: if you scored ROC-AUC, the number is not average "
              "precision)" if abs(cv_ap - e.roc) < ROC_TOLERANCE else "")
    e.lazy(on_all_data=lambda: X_all is not None and _matches_cv_on(cv_ap, pipeline, X_all, y_all),
           is_train_roc=lambda: X_train is not None and _matches_cv_on(cv_ap, pipeline, X_train, y_train, "roc_auc"))
    return HONEST_CV.judge(name, e)


# ---------------------------------------------------------------- the test set, once

REPORTED_AP = Ladder(
    Misconception("ap_from_labels", lambda e: abs(e.value - e.from_labels) < 1e-3,
                  "You computed average precision from predict()'s 0/1 labels, which throws the ranking away."),
    Misconception("roc_auc_reported", lambda e: abs(e.value - e.roc) < 1e-3,
                  "You reported ROC-AUC, not the average precision this part asks for."),
    Misconception("wrong_value", lambda e: abs(e.value - e.expected) >= 1e-3,
                  "Your test_ap is not the average precision of your pipeline's churn probabilities on X_test "
                  "against y_test."),
    passed="Test average precision {e.value:.3f}, against {e.rate:.3f} for random ordering.",
)


@check("test-set average precision", stub_hint="set `test_ap` to the average precision of `pipeline` on X_test",
       ladder=REPORTED_AP)
def reported_ap(name: str, test_ap: float, pipeline, X_test, y_test) -> CheckResult:
    """The learner's ``test_ap`` against the AP of the pipeline's probabilities on the test rows (to rounding)."""
    y = np.asarray(y_test)
    scores = _proba(pipeline, X_test)
    e = Evidence(value=float(test_ap), expected=float(average_precision_score(y, scores)), rate=y.mean())
    e.lazy(from_labels=lambda: float(average_precision_score(y, pipeline.predict(X_test))),
           roc=lambda: float(roc_auc_score(y, scores)))
    return REPORTED_AP.judge(name, e)


# ---------------------------------------------------------------- probabilities

CORRECTION = Ladder(
    Misconception("wrong_shape", lambda e: e.shape != e.expected_shape,
                  "correct_undersampling returned shape {e.shape} for {e.n} probabilities; it must work element-wise "
                  "on arrays."),
    Misconception("uncorrected", lambda e: e.unchanged,
                  "Your function returns the probabilities unchanged; after keeping only a fraction beta of the "
                  "non-churners the model's scores are too high."),
    Misconception("inverted_beta", lambda e: e.inverted,
                  "Your correction pushes probabilities up instead of down: beta is the fraction of non-churners "
                  "kept, so the odds the model sees are too high, not too low."),
    Misconception("wrong_formula", lambda e: not e.right,
                  "For beta={e.beta} your corrected probabilities differ from the prior-shift correction."),
    passed="Your correction undoes the prior shift of under-sampling for every keep-fraction tried.",
)


@check("under-sampling correction", stub_hint="implement `correct_undersampling(p_s, beta)`", ladder=CORRECTION)
def undersampling_correction(name: str, correct_undersampling) -> CheckResult:
    """Checked on a grid of probabilities and three keep-fractions, against
    p = beta * p_s / (beta * p_s - p_s + 1) (Dal Pozzolo et al., 2015)."""
    p_s = np.linspace(0.01, 0.99, 25)
    e = Evidence(expected_shape=p_s.shape, n=p_s.shape[0])
    for beta in (0.1, 0.25, 1.0):
        got = np.asarray(correct_undersampling(p_s, beta), dtype=float)
        truth = beta * p_s / (beta * p_s - p_s + 1)
        inverted = (p_s / beta) / (p_s / beta - p_s + 1)
        e.beta, e.shape = beta, got.shape
        e.right = got.shape == p_s.shape and np.allclose(got, truth, atol=1e-9)
        e.unchanged = not e.right and beta < 1 and got.shape == p_s.shape and np.allclose(got, p_s)
        e.inverted = not e.right and got.shape == p_s.shape and np.allclose(got, inverted, atol=1e-9)
        if not e.right:
            break
    return CORRECTION.judge(name, e)


CALIBRATION = Ladder(
    Misconception("calibrated_on_test_rows", lambda e: e.on_test,
                  "Your calibrated model {e.how}: the test rows were used to fit it, so whatever it reports on the "
                  "test set is optimistic."),
    Misconception("uncorrected_probabilities", lambda e: e.gap > 3 * e.max_gap,
                  "On unseen customers your probabilities average well above the share who churn: scores of a model "
                  "trained on rebalanced data (class weights or resampling) are inflated, not probabilities."),
    Misconception("miscalibrated", lambda e: abs(e.gap) > e.max_gap or e.ece > e.max_ece,
                  "On unseen customers your probabilities do not match how often customers churn (overall or within "
                  "bins of the predicted probability): they are miscalibrated."),
    passed="Your probabilities are calibrated on unseen customers.",
)


def _calibrated_on(calibrated, X_train, X_test, y_test) -> str | None:
    """How the calibrated model used the test rows, if it visibly did (None otherwise)."""
    rows = est.rows_seen(calibrated)
    if X_test is not None and rows == len(X_test) and (X_train is None or rows != len(X_train)):
        return f"was fitted on {rows:,} rows, as many as X_test holds"
    if X_test is not None and X_train is not None and rows == len(X_train) + len(X_test):
        return f"was fitted on {rows:,} rows, the training and test rows together"
    if not isinstance(calibrated, CalibratedClassifierCV):
        return None
    base = est._attr(calibrated, "estimator")
    if X_test is not None and y_test is not None and isinstance(base, FrozenEstimator):
        refit = CalibratedClassifierCV(FrozenEstimator(base.estimator), method=calibrated.method).fit(X_test, y_test)
        probe = X_test.iloc[:500] if hasattr(X_test, "iloc") else X_test[:500]
        if np.allclose(refit.predict_proba(probe), calibrated.predict_proba(probe), atol=1e-9):
            return "maps scores to probabilities exactly as a calibrator fitted on X_test, y_test does"
    return None


@check("calibration", stub_hint="set `calibrated` to a fitted model whose probabilities you trust", ladder=CALIBRATION)
def calibration(name: str, calibrated, X_hidden, y_hidden, *, X_train=None, X_test=None, y_test=None,
                max_gap: float = 0.01, max_ece: float = 0.02) -> CheckResult:
    """Calibration on hidden customers, and whether the calibrator was fitted on test rows.

    Tolerances for 10,000 hidden customers at 5 % churn: the observed churn rate has a standard error of
    sqrt(0.05*0.95/10000) = 0.0022, so a calibrated model's mean prediction stays within 0.01 (4.5 SE); the ECE
    of a calibrated model over 10 bins of 1,000 is ~0.006, and 0.02 leaves three times that while an uncalibrated
    balanced model scores ~0.2. Test-row use is seen from the rows a cross-validated calibrator was fitted on
    (:func:`_estimators.rows_seen` against ``len(X_train)``, ``len(X_test)``), or, for a calibrator around a
    frozen model, from a refit on ``X_test, y_test`` that reproduces it exactly.
    """
    y = np.asarray(y_hidden)
    p = _proba(calibrated, X_hidden)
    how = _calibrated_on(calibrated, X_train, X_test, y_test)
    return CALIBRATION.judge(name, Evidence(on_test=how is not None, how=how, gap=float(p.mean() - y.mean()),
                                            ece=ref.calibration_error(y, p), max_gap=max_gap, max_ece=max_ece))


# ---------------------------------------------------------------- a threshold from money

# The profit bar. A threshold tuned on one validation split of the training data (a quarter of it: ~190 churners)
# follows a noisy realised-profit curve: over 40 split seeds and four sweep grids (160 sweeps) with the notebook's
# calibrated model it landed between 0.24 and 0.42 and earned 72-100 % of the attainable expected profit on hidden
# customers (5th percentile 80 %; 36 % of sweeps earned less than 95 %, the bar this check used to have). The
# notebook accepts that method, so the bar sits below all of them, at 70 %; 1/3 earns ~99 %, 0.25 ~78 %, 0.2 ~45 %,
# 0.6 ~61 %. The default 0.5 (~80 %) and 0.1 are refused by name: they are not chosen from the costs at all.
MIN_PROFIT_SHARE = 0.70

THRESHOLD = Ladder(
    Misconception("not_a_probability", lambda e: not 0.0 < e.t < 1.0,
                  "Your threshold {e.t} is not a probability between 0 and 1."),
    Misconception("default_threshold", lambda e: abs(e.t - 0.5) < 1e-9,
                  "You kept the default 0.5, which is not chosen from what a contact costs and what a save is worth: "
                  "it leaves uncontacted customers whose expected save is worth more than the contact."),
    Misconception("tuned_on_test", lambda e: e.on_test_peak,
                  "Your threshold sits exactly where realised profit on the test set peaks: it was chosen by "
                  "sweeping the test set, so the test profit is now an optimistic estimate (the test set was used "
                  "for selection)."),
    Misconception("ignored_save_rate", lambda e: abs(e.t - ref.NAIVE_BREAK_EVEN) < 0.01,
                  "Your threshold is the break-even of a contact that saves every churner it reaches; only 30 % of "
                  "contacted churners stay, so most contacts near it lose money."),
    Misconception("uncalibrated_for_threshold", lambda e: e.share < e.min_share and abs(e.t - ref.BREAK_EVEN) < 0.02,
                  "Your threshold is the break-even point for calibrated probabilities, but applied to the "
                  "probabilities of `calibrated` it earns less than {e.min_share:.0%} of the attainable profit on "
                  "unseen customers: those probabilities are not calibrated."),
    Misconception("threshold_not_from_costs", lambda e: e.share < e.min_share,
                  "Your threshold earns less than {e.min_share:.0%} of the attainable profit on unseen customers: it "
                  "does not follow from the value of a save, the save rate and the contact cost."),
    passed="Threshold {e.t:.2f} earns at least {e.min_share:.0%} of the attainable profit on unseen customers.",
)


def _true_proba(truth, X) -> np.ndarray:
    if hasattr(truth, "probability"):
        return np.asarray(truth.probability)[np.asarray(X.index)]
    return np.asarray(truth, dtype=float)


@check("profit threshold", stub_hint="set `threshold` to the churn probability above which you contact a customer",
       ladder=THRESHOLD)
def profit_threshold(name: str, threshold: float, calibrated, X_hidden, truth, *, X_test=None, y_test=None,
                     min_share: float = MIN_PROFIT_SHARE) -> CheckResult:
    """The learner's threshold, applied to their own probabilities on hidden customers, must earn at least
    ``min_share`` of the best expected profit any threshold on the same probabilities earns there (see
    MIN_PROFIT_SHARE). Profit is the expectation under the generator's true churn probabilities (``truth``: a
    :class:`ChurnTruth`, indexed by ``X_hidden.index``, or an array aligned with ``X_hidden``), so label noise does
    not move the bar. With ``X_test, y_test``, a threshold on the exact peak of realised test profit is named
    (:func:`reference.is_realised_peak` without grids: never reached by 160 honest validation sweeps).
    """
    t = float(threshold)
    e = Evidence(t=t, min_share=min_share)
    if not 0.0 < t < 1.0:
        return THRESHOLD.fail(name, "not_a_probability", e)
    e.lazy(share=lambda: ref.profit_share(t, _proba(calibrated, X_hidden), _true_proba(truth, X_hidden)),
           on_test_peak=lambda: X_test is not None and y_test is not None
           and ref.is_realised_peak(t, _proba(calibrated, X_test), np.asarray(y_test), grids=False))
    return THRESHOLD.judge(name, e)


# ---------------------------------------------------------------- real data

TELCO = Ladder(
    Misconception("pipeline_fails", lambda e: e.error is not None,
                  "Your telco_pipeline raised {e.error} when refitted on other Telco customers: it does not cope with "
                  "every column of the frame as it comes (missing values in total_charges, text categories)."),
    Misconception("no_better_than_baseline", lambda e: e.lift < e.min_lift,
                  "Refitted on other Telco customers your pipeline's average precision is less than {e.min_lift:g} "
                  "times that of random ordering: barely better than the majority baseline, as if it used no "
                  "usable feature."),
    passed="Refitted on other Telco customers your pipeline ranks churners at least {e.min_lift:g} times better than "
           "random.",
)


@check("real-data model", stub_hint="build `telco_pipeline` for the Telco data", ladder=TELCO)
def telco_quality(name: str, telco_pipeline, X, y, *, n_splits: int = 3, min_lift: float = 2.0) -> CheckResult:
    """Refits a clone of the learner's pipeline on ``n_splits`` stratified folds of data they have not fitted on
    and requires the mean AP to reach ``min_lift`` times the churn rate. A logistic regression reaches ~5 times
    the rate on Telco at 5 % churn; a constant score gets 1 time. A pipeline that raises on a fold is named with
    the exception's class (scikit-learn raises when every fold fails, so a NaN score is never seen).
    """
    y = np.asarray(y)
    e = Evidence(error=None, lift=0.0, min_lift=min_lift)
    aps = []
    for train, test in StratifiedKFold(n_splits, shuffle=True, random_state=2026).split(X, y):
        model = clone(telco_pipeline)
        try:
            model.fit(X.iloc[train], y[train])
            scores = _proba(model, X.iloc[test])
        except NotImplementedError:
            raise
        except Exception as exc:  # the learner's pipeline failed on these rows
            e.error = getattr(exc, "ename", type(exc).__name__)
            return TELCO.judge(name, e)
        aps.append(average_precision_score(y[test], scores))
    e.lift = float(np.mean(aps)) / y.mean()
    return TELCO.judge(name, e)


# ---------------------------------------------------------------- the decision

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
    ("split", "random"): "a split that ignores the labels can leave the test set dozens of churners short",
    ("resampling", "before_split"): "resampling before the split copies rows into the test folds",
    ("probabilities", "raw"): "rebalanced training inflates raw probabilities",
    ("threshold", "default_0.5"): "0.5 ignores what a contact costs and earns",
    ("threshold", "max_f1"): "F1 weighs precision and recall equally, not by money",
}
DECISION = decision_ladder(DECISION_CHOICES, _DECISION_MISTAKES,
                           "Your decision names the metric, the split, the imbalance handling, calibration and a "
                           "cost-based threshold.")


@check("decision", stub_hint="fill in the `decision` dict with one choice per key", ladder=DECISION)
def decision(name: str, decision: dict) -> CheckResult:
    """One fixed choice per key; each known wrong choice is named (``decision_<key>``)."""
    return decide(name, DECISION, decision, DECISION_CHOICES, _DECISION_MISTAKES, _norm)

