"""Each churn check names the misconception planted in front of it, and accepts every correct approach."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.ensemble import BalancedRandomForestClassifier
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import make_column_transformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlcasebook import datasets
from mlcasebook.checks import CheckFailed, NotAttempted
from mlcasebook.checks import churn as C


@pytest.fixture(scope="module")
def case():
    data = datasets.make_churn(12_000, random_state=0)
    X, y = data.frame, data.target
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    pre = make_column_transformer((OneHotEncoder(handle_unknown="ignore", sparse_output=False), data.categorical_features),
                                  (StandardScaler(), data.numeric_features))
    weighted = make_pipeline(pre, LogisticRegression(class_weight="balanced", max_iter=1000)).fit(X_tr, y_tr)
    plain = make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)
    calibrated = CalibratedClassifierCV(weighted, cv=3).fit(X_tr, y_tr)
    hidden = datasets.make_churn(10_000, random_state=77)
    return dict(data=data, X=X, y=y, X_tr=X_tr, X_te=X_te, y_tr=y_tr, y_te=y_te, pre=pre,
                weighted=weighted, plain=plain, calibrated=calibrated, hidden=hidden)


def mis(result):
    return result.misconception


@pytest.mark.parametrize("metric", ["average_precision", "PR-AUC", "pr auc", "AP"])
def test_metric_accepts_average_precision_spellings(metric):
    assert C.metric_choice(metric).passed


@pytest.mark.parametrize("metric,expected", [("accuracy", "accuracy_on_imbalanced"), ("roc_auc", "roc_auc_under_imbalance"),
                                             ("f1", "threshold_metric"), ("mse", "unknown_metric")])
def test_metric_names_each_wrong_choice(metric, expected):
    assert mis(C.metric_choice(metric)) == expected


def test_stub_is_not_attempted_and_require_says_so():
    result = C.metric_choice(None)
    assert result.status == "not_attempted"
    with pytest.raises(NotAttempted, match="set `metric`"):
        result.require()


def test_failed_check_raises_assertion_with_its_message():
    result = C.metric_choice("accuracy")
    with pytest.raises(CheckFailed) as info:
        result.require()
    assert isinstance(info.value, AssertionError) and str(info.value) == result.message


def test_baseline(case):
    y_te = case["y_te"]
    assert C.baseline_accuracy((y_te == 0).mean(), y_te).passed
    assert mis(C.baseline_accuracy(y_te.mean(), y_te)) == "minority_as_baseline"
    assert mis(C.baseline_accuracy(0.5, y_te)) == "wrong_baseline"


def test_split(case):
    X, y = case["X"], case["y"]
    rate = y.mean()
    assert C.split(case["X_tr"], case["X_te"], case["y_tr"], case["y_te"], population_rate=rate).passed
    Xr, yr = RandomOverSampler(random_state=0).fit_resample(X, y)
    parts = train_test_split(Xr, yr, test_size=0.25, stratify=yr, random_state=0)
    assert mis(C.split(*parts, population_rate=rate)) == "resampled_before_split"
    parts = train_test_split(X, y, test_size=0.25, random_state=3)
    assert mis(C.split(*parts, population_rate=rate)) == "not_stratified"
    overlap = X.iloc[:9000], X.iloc[8000:], y.iloc[:9000], y.iloc[8000:]
    assert mis(C.split(*overlap, population_rate=rate)) == "rows_in_both"
    parts = train_test_split(X, y, test_size=0.6, stratify=y, random_state=0)
    assert mis(C.split(*parts, population_rate=rate)) == "test_size"


def test_pipeline_design_accepts_every_correct_approach(case):
    pre, y_tr, rate = case["pre"], case["y_tr"], case["y"].mean()
    accepted = [
        case["weighted"],
        case["plain"],
        make_imb_pipeline(pre, SMOTE(random_state=0), LogisticRegression()),
        make_imb_pipeline(pre, RandomUnderSampler(random_state=0), LogisticRegression()),
        make_pipeline(pre, BalancedRandomForestClassifier(n_estimators=5, random_state=0)),
        CalibratedClassifierCV(make_imb_pipeline(pre, RandomOverSampler(), LogisticRegression())),
    ]
    for model in accepted:
        assert C.pipeline_design(model, y_tr, population_rate=rate).passed, model


def test_pipeline_design_catches_resampled_training_set(case):
    _, y_over = RandomOverSampler(random_state=0).fit_resample(case["X_tr"], case["y_tr"])
    result = C.pipeline_design(case["plain"], y_over, population_rate=case["y"].mean())
    assert mis(result) == "sampler_outside_pipeline" and "inside an imblearn Pipeline" in result.message


def test_honest_cv_catches_the_leak_and_accepts_honest_estimates(case):
    h = case["hidden"]
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    honest = cross_val_score(case["weighted"], case["X_tr"], case["y_tr"], cv=folds, scoring="average_precision").mean()
    assert C.honest_cv(honest, case["weighted"], h.frame, h.target).passed
    Xo, yo = RandomOverSampler(random_state=0).fit_resample(case["X_tr"], case["y_tr"])
    leaky = cross_val_score(case["plain"], Xo, yo, cv=folds, scoring="average_precision").mean()
    assert leaky > 0.8
    assert mis(C.honest_cv(leaky, case["weighted"], h.frame, h.target)) == "leak_in_cv"
    assert mis(C.honest_cv(0.05, case["weighted"], h.frame, h.target)) == "wrong_cv_metric"


def test_heldout_quality(case):
    h = case["hidden"]
    oracle = h.truth.oracle_average_precision(h.target)
    assert C.heldout_quality(case["weighted"], h.frame, h.target, oracle_ap=oracle).passed
    dummy = make_pipeline(DummyClassifier(strategy="prior")).fit(case["X_tr"], case["y_tr"])
    assert mis(C.heldout_quality(dummy, h.frame, h.target, oracle_ap=oracle)) == "no_better_than_baseline"
    one_feature = make_pipeline(make_column_transformer((StandardScaler(), ["num_services"])),
                                LogisticRegression()).fit(case["X_tr"], case["y_tr"])
    assert mis(C.heldout_quality(one_feature, h.frame, h.target, oracle_ap=oracle)) in {"weak_model", "no_better_than_baseline"}


def test_unfitted_pipeline_is_explained_not_crashed(case):
    h = case["hidden"]
    unfitted = make_pipeline(case["pre"], LogisticRegression())
    result = C.heldout_quality(unfitted, h.frame, h.target, oracle_ap=0.4)
    assert result.status == "error" and "NotFittedError" in result.message


def test_reported_ap(case):
    m, X_te, y_te = case["weighted"], case["X_te"], case["y_te"]
    right = average_precision_score(y_te, m.predict_proba(X_te)[:, 1])
    assert C.reported_ap(right, m, X_te, y_te).passed
    assert mis(C.reported_ap(average_precision_score(y_te, m.predict(X_te)), m, X_te, y_te)) == "ap_from_labels"
    from sklearn.metrics import roc_auc_score
    assert mis(C.reported_ap(roc_auc_score(y_te, m.predict_proba(X_te)[:, 1]), m, X_te, y_te)) == "roc_auc_reported"


def test_undersampling_correction():
    def right(p, b):
        p = np.asarray(p, float)
        return b * p / (b * p - p + 1)

    def odds_form(p, b):  # algebraically the same: correct the odds, convert back
        odds = b * np.asarray(p) / (1 - np.asarray(p))
        return odds / (1 + odds)

    assert C.undersampling_correction(right).passed
    assert C.undersampling_correction(odds_form).passed
    assert mis(C.undersampling_correction(lambda p, b: np.asarray(p))) == "uncorrected"
    assert mis(C.undersampling_correction(lambda p, b: right(p, 1 / b))) == "inverted_beta"
    assert mis(C.undersampling_correction(lambda p, b: np.asarray(p) * b)) == "wrong_formula"
    assert mis(C.undersampling_correction(lambda p, b: float(np.mean(p)))) == "wrong_shape"

    def stub(p, b):
        raise NotImplementedError()

    assert C.undersampling_correction(stub).status == "not_attempted"


def test_calibration(case):
    h = case["hidden"]
    assert C.calibration(case["calibrated"], h.frame, h.target).passed
    assert C.calibration(case["plain"], h.frame, h.target).passed
    assert mis(C.calibration(case["weighted"], h.frame, h.target)) == "uncorrected_probabilities"


def test_profit_threshold(case):
    h, cal = case["hidden"], case["calibrated"]
    truth = h.truth.probability
    for t in (1 / 3, 0.3, 0.36):
        assert C.profit_threshold(t, cal, h.frame, truth).passed, t
    assert mis(C.profit_threshold(0.5, cal, h.frame, truth)) == "default_threshold"
    assert mis(C.profit_threshold(0.1, cal, h.frame, truth)) == "ignored_save_rate"
    assert mis(C.profit_threshold(0.2, cal, h.frame, truth)) == "threshold_not_from_costs"
    assert mis(C.profit_threshold(1 / 3, case["weighted"], h.frame, truth)) == "uncalibrated_for_threshold"
    assert C.profit_threshold(1 / 3, cal, h.frame, h.truth).passed  # a ChurnTruth is indexed by the frame's index


def test_profit_arithmetic():
    # two contacts, one churner: 500*0.3 - 2*50 = 50
    assert C.expected_profit([1, 0, 1], [True, True, False]) == pytest.approx(50.0)
    assert C.best_profit([0, 0], [0.9, 0.8]) == 0.0  # contacting nobody is always allowed
    assert C.PROFIT_THRESHOLD == pytest.approx(1 / 3)


def test_telco_quality():
    t = datasets.load_telco_churn(churn_rate=0.05, random_state=31)
    from sklearn.impute import SimpleImputer
    good = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), t.categorical_features),
                                                 (make_pipeline(SimpleImputer(), StandardScaler()), t.numeric_features)),
                         LogisticRegression(max_iter=2000))
    assert C.telco_quality(good, t.frame, t.target).passed
    assert mis(C.telco_quality(DummyClassifier(), t.frame, t.target)) == "no_better_than_baseline"
    no_imputer = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), t.categorical_features),
                                                       (StandardScaler(), t.numeric_features)), LogisticRegression())
    assert C.telco_quality(no_imputer, t.frame, t.target).status in {"error", "failed"}


def test_decision():
    good = {"metric": "average_precision", "split": "stratified", "resampling": "inside_pipeline",
            "probabilities": "calibrated", "threshold": "expected_profit"}
    assert C.decision(good).passed
    assert C.decision({**good, "resampling": "none"}).passed
    assert mis(C.decision({**good, "threshold": "default_0.5"})) == "decision_threshold"
    assert mis(C.decision({**good, "resampling": "before_split"})) == "decision_resampling"
    assert mis(C.decision({**good, "metric": "accuracy"})) == "decision_metric"
    assert mis(C.decision({k: None for k in good})) is None and C.decision({k: None for k in good}).status == "not_attempted"
    assert mis(C.decision({**good, "split": None})) == "missing_key"
    assert mis(C.decision({**good, "split": "by_month"})) == "unknown_choice"
    assert mis(C.decision(["average_precision"])) == "not_a_dict"


def test_results_render_for_jupyter_and_text():
    result = C.metric_choice("accuracy")
    assert "✘ metric choice" in str(result)
    html = result._repr_html_()
    assert "failed" in html and "accuracy" in html
