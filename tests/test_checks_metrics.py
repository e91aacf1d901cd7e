"""Checks of metrics_and_thresholds: each planted mistake yields exactly its misconception, each accepted
alternative passes, and the curriculum's figures are reproduced from the generator."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    make_scorer,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlcasebook import datasets, plots_fundamentals
from mlcasebook.checks import metrics
from mlcasebook.checks.churn import best_profit, expected_profit

HIDDEN_CASES = [(12, 36, 4, 948), (45, 5, 60, 390), (7, 1, 1, 91), (30, 20, 5, 40)]
PREVALENCES = [0.5, 0.2, 0.05, 0.01]


def _right(tp, fn, fp, tn):
    p, r = tp / (tp + fp), tp / (tp + fn)
    return p, r, 2 * p * r / (p + r)


# ---------------------------------------------------------------- the confusion matrix


def test_curriculum_confusion_figures_with_scikit_learn():
    y_true, y_pred = metrics.labels_from_counts(30, 20, 5, 40, random_state=1)
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred).ravel()
    assert (tp, fn, fp, tn) == (30, 20, 5, 40)
    assert round(precision_score(y_true, y_pred), 3) == 0.857
    assert round(recall_score(y_true, y_pred), 3) == 0.600
    assert round(f1_score(y_true, y_pred), 3) == 0.706


@pytest.mark.parametrize("cases", [((30, 20, 5, 40),), HIDDEN_CASES])
def test_metric_formulas_accepts_right_and_rounded_answers(cases):
    assert metrics.metric_formulas(_right, cases=cases).passed
    rounded = metrics.metric_formulas(lambda *c: tuple(round(v, 3) for v in _right(*c)), cases=cases)
    assert rounded.passed
    f1_direct = metrics.metric_formulas(lambda tp, fn, fp, tn: (tp / (tp + fp), tp / (tp + fn),
                                                                2 * tp / (2 * tp + fp + fn)), cases=cases)
    assert f1_direct.passed


@pytest.mark.parametrize(
    ("wrong", "misconception"),
    [
        (lambda tp, fn, fp, tn: (*_right(tp, fn, fp, tn)[1::-1], _right(tp, fn, fp, tn)[2]),
         "precision_recall_swapped"),
        (lambda tp, fn, fp, tn: _right(tp, fp, fn, tn), "precision_recall_swapped"),  # fn and fp mixed up
        (lambda tp, fn, fp, tn: (*_right(tp, fn, fp, tn)[:2], sum(_right(tp, fn, fp, tn)[:2]) / 2),
         "f1_arithmetic_mean"),
        (lambda tp, fn, fp, tn: ((tp + tn) / (tp + fn + fp + tn), *_right(tp, fn, fp, tn)[1:]), "accuracy_confused"),
        (lambda tp, fn, fp, tn: _right(tp, fn, fp, tn)[:2], "wrong_shape"),
        (lambda tp, fn, fp, tn: (0.857, 0.6, 0.706), "wrong_formula"),  # hard-coded public answer
    ],
)
def test_metric_formulas_names_each_mistake_on_hidden_cases(wrong, misconception):
    result = metrics.metric_formulas(wrong, cases=HIDDEN_CASES)
    assert result.status == "failed"
    assert result.misconception == misconception


def test_swapped_precision_recall_is_caught_on_the_public_counts_too():
    swapped = metrics.metric_formulas(lambda tp, fn, fp, tn: (tp / (tp + fn), tp / (tp + fp), 0.706))
    assert swapped.misconception == "precision_recall_swapped"
    assert "0.6" not in swapped.message  # never prints the expected values


def test_metric_formulas_stub_is_not_attempted():
    def stub(tp, fn, fp, tn):
        raise NotImplementedError()

    assert metrics.metric_formulas(stub).status == "not_attempted"
    assert metrics.metric_formulas(None).status == "not_attempted"


def test_counts_from_labels():
    y_true, y_pred = metrics.labels_from_counts(17, 9, 26, 148, random_state=3)

    def right(t, p):
        tn, fp, fn, tp = confusion_matrix(t, p, labels=[0, 1]).ravel()
        return tp, fn, fp, tn

    def boolean_sums(t, p):
        t, p = np.asarray(t) == 1, np.asarray(p) == 1
        return (t & p).sum(), (t & ~p).sum(), (~t & p).sum(), (~t & ~p).sum()

    assert metrics.counts_from_labels(right, y_true, y_pred).passed
    assert metrics.counts_from_labels(boolean_sums, pd.Series(y_true), pd.Series(y_pred)).passed
    cases = {
        "ravel_order": lambda t, p: tuple(confusion_matrix(t, p).ravel()),
        "true_pred_swapped": lambda t, p: right(p, t),
        "wrong_shape": lambda t, p: confusion_matrix(t, p),
        "wrong_counts": lambda t, p: (1, 2, 3, 4),
    }
    for misconception, fn in cases.items():
        assert metrics.counts_from_labels(fn, y_true, y_pred).misconception == misconception, misconception


# ---------------------------------------------------------------- one model, four prevalences


@pytest.fixture(scope="module")
def case():
    """The notebook's data: a logistic regression fitted at 5 % churn, scored at four prevalences."""
    data = datasets.make_churn(20_000, churn_rate=0.05, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(data.frame, data.target, test_size=0.25,
                                                        stratify=data.target, random_state=0)
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), data.categorical_features),
                                (StandardScaler(), data.numeric_features)),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    scored = {}
    for i, r in enumerate(PREVALENCES):
        pop = datasets.make_churn(20_000, churn_rate=r, random_state=10 + i)
        scored[r] = (pop.target.to_numpy(), model.predict_proba(pop.frame)[:, 1])
    hidden = datasets.make_churn(20_000, churn_rate=0.05, random_state=4711)
    return {"data": data, "model": model, "X_train": X_train, "y_train": y_train, "X_test": X_test,
            "y_test": y_test, "scored": scored, "hidden": hidden}


def _table(scored, ap=average_precision_score, roc=roc_auc_score, acc=lambda y: 1 - y.mean()):
    return pd.DataFrame({r: {"baseline_accuracy": acc(y), "roc_auc": roc(y, s), "average_precision": ap(y, s)}
                         for r, (y, s) in scored.items()}).T


def test_prevalence_table_accepts_right_rounded_and_majority_class_tables(case):
    scored = case["scored"]
    assert metrics.prevalence_table(_table(scored), scored).passed
    assert metrics.prevalence_table(_table(scored).round(3), scored).passed
    majority = _table(scored, acc=lambda y: max(y.mean(), 1 - y.mean()))
    assert metrics.prevalence_table(majority, scored).passed


def test_prevalence_table_names_each_mistake(case):
    scored = case["scored"]
    labels = lambda f: lambda y, s: f(y, (s >= 0.5).astype(int))  # noqa: E731
    swapped = _table(scored).rename(columns={"roc_auc": "average_precision", "average_precision": "roc_auc"})
    planted = {
        "ap_from_labels": _table(scored, ap=labels(average_precision_score)),
        "roc_auc_from_labels": _table(scored, roc=labels(roc_auc_score)),
        "roc_ap_swapped": swapped,
        "model_accuracy_as_baseline": pd.DataFrame(
            {r: {"baseline_accuracy": ((s >= 0.5) == y).mean(), "roc_auc": roc_auc_score(y, s),
                 "average_precision": average_precision_score(y, s)} for r, (y, s) in scored.items()}).T,
        "missing_rows_or_columns": _table(scored).drop(index=0.01),
        "wrong_value": _table(scored, acc=lambda y: 0.5),
    }
    for misconception, table in planted.items():
        assert metrics.prevalence_table(table, scored).misconception == misconception, misconception
    assert metrics.prevalence_table(_table(scored).drop(columns="roc_auc"), scored).misconception == \
        "missing_rows_or_columns"


def test_curriculum_roc_auc_flat_while_ap_collapses(case):
    """The notebook's figures: ROC-AUC within 0.05 across 50 % -> 1 %, AP at 1 % below a fifth of AP at 50 %."""
    table = _table(case["scored"])
    assert table["roc_auc"].max() - table["roc_auc"].min() < 0.05
    assert table.loc[0.01, "average_precision"] < 0.2 * table.loc[0.5, "average_precision"]
    assert metrics.precision_at_recall(*case["scored"][0.01], recall=0.5) < 0.15  # "nine in ten flagged stay"
    # the same holds for the Bayes oracle over several samples (the generator's truth, not one lucky draw)
    for seed in range(2):
        rocs, aps = [], []
        for r in PREVALENCES:
            pop = datasets.make_churn(20_000, churn_rate=r, random_state=100 + seed)
            rocs.append(roc_auc_score(pop.target, pop.truth.probability))
            aps.append(average_precision_score(pop.target, pop.truth.probability))
        assert max(rocs) - min(rocs) < 0.05
        assert aps[-1] < 0.3 * aps[0]


def test_square_root_keeps_roc_auc_but_moves_a_fixed_threshold(case):
    """The notebook's claim: sqrt keeps ROC-AUC, while the share flagged at 0.5 more than triples."""
    y, s = case["scored"][0.05]
    assert roc_auc_score(y, np.sqrt(s)) == pytest.approx(roc_auc_score(y, s))
    assert (np.sqrt(s) >= 0.5).mean() > 3 * (s >= 0.5).mean()


def _reading(scored, **changes):
    y, s = scored[0.01]
    reading = {"roc_auc": "flat", "average_precision": "falls",
               "precision_at_half_recall": metrics.precision_at_recall(y, s), "report_at_1pct": "average_precision"}
    reading.update(changes)
    return reading


def test_prevalence_reading(case):
    scored = case["scored"]
    assert metrics.prevalence_reading(_reading(scored), scored).passed
    assert metrics.prevalence_reading(_reading(scored, roc_auc="Flat", report_at_1pct="Average precision"),
                                      scored).passed
    y, s = scored[0.01]
    precision = (np.cumsum(y[np.argsort(-s)]) / np.arange(1, len(y) + 1))
    k = int(np.searchsorted(np.cumsum(y[np.argsort(-s)]), 0.5 * y.sum()))
    assert metrics.prevalence_reading(_reading(scored, precision_at_half_recall=precision[k]), scored).passed
    planted = {
        "accuracy_at_low_prevalence": {"report_at_1pct": "accuracy"},
        "roc_auc_as_proof": {"report_at_1pct": "roc_auc"},
        "roc_auc_trend": {"roc_auc": "falls"},
        "ap_trend": {"average_precision": "flat"},
        "precision_value": {"precision_at_half_recall": 0.9},
        "missing_key": {"precision_at_half_recall": None},
        "unknown_choice": {"roc_auc": "wobbles"},
    }
    for misconception, change in planted.items():
        result = metrics.prevalence_reading(_reading(scored, **change), scored)
        assert result.misconception == misconception, misconception
    percent = metrics.prevalence_reading(_reading(scored, precision_at_half_recall=100 * precision[k]), scored)
    assert percent.misconception == "precision_value" and "percentage" in percent.message
    stub = {k: None for k in metrics.READING_KEYS}
    assert metrics.prevalence_reading(stub, scored).status == "not_attempted"
    assert metrics.prevalence_reading(None, scored).status == "not_attempted"


# ---------------------------------------------------------------- a threshold from money


def _threshold(case, t):
    h = case["hidden"]
    return metrics.profit_threshold(t, case["model"], h.frame, h.truth.probability,
                                    X_test=case["X_test"], y_test=case["y_test"])


def test_curriculum_profit_figures_on_true_probabilities():
    """Break-even 1/3 is optimal on calibrated probabilities; 0.5 loses ~26 % (25 % +- 3 over seeds)."""
    assert metrics.PROFIT_THRESHOLD == pytest.approx(1 / 3)
    losses = []
    for seed in range(5):
        p = datasets.make_churn(20_000, churn_rate=0.05, random_state=200 + seed).truth.probability
        best = best_profit(p, p)
        assert expected_profit(p, p >= 1 / 3) == pytest.approx(best)
        assert metrics.optimal_threshold(p, p) == pytest.approx(1 / 3, abs=0.005)
        losses.append(1 - expected_profit(p, p >= 0.5) / best)
    assert np.mean(losses) == pytest.approx(0.26, abs=0.03)


def test_notebook_model_is_calibrated_on_the_test_set(case):
    """The notebook reads the threshold off calibrated probabilities: the reliability diagram hugs the diagonal."""
    from mlcasebook.checks.churn import calibration_error

    p = case["model"].predict_proba(case["X_test"])[:, 1]
    assert abs(p.mean() - case["y_test"].mean()) < 0.005
    assert calibration_error(case["y_test"], p) < 0.02


def test_log_loss_punishes_over_confidence_more_than_brier(case):
    """The notebook's claim: doubling the log-odds keeps ROC-AUC, worsens Brier, and worsens log loss far more."""
    from scipy.special import expit, logit
    from sklearn.metrics import brier_score_loss, log_loss

    y, p = case["y_test"], case["model"].predict_proba(case["X_test"])[:, 1]
    over = expit(2 * logit(p))
    assert roc_auc_score(y, over) == pytest.approx(roc_auc_score(y, p))
    brier_rise = brier_score_loss(y, over) / brier_score_loss(y, p) - 1
    log_rise = log_loss(y, over) / log_loss(y, p) - 1
    assert 0 < brier_rise < log_rise / 2


def test_threshold_accepts_closed_form_and_honest_tuning(case):
    assert _threshold(case, 1 / 3).passed
    assert _threshold(case, 0.33).passed
    scorer = make_scorer(lambda y, pred: expected_profit(y, pred))
    tuned = TunedThresholdClassifierCV(case["model"], scoring=scorer, cv=5).fit(case["X_train"], case["y_train"])
    assert tuned.best_threshold_ == pytest.approx(1 / 3, abs=0.05)  # curriculum: lands at ~0.33
    assert _threshold(case, tuned.best_threshold_).passed
    oof = cross_val_predict(case["model"], case["X_train"], case["y_train"], method="predict_proba",
                            cv=StratifiedKFold(3, shuffle=True, random_state=0))[:, 1]
    grid = np.linspace(0.05, 0.95, 181)
    t_oof = grid[int(np.argmax([expected_profit(case["y_train"], oof >= t) for t in grid]))]
    assert _threshold(case, t_oof).passed


def test_threshold_names_each_mistake(case):
    assert _threshold(case, 0.5).misconception == "default_threshold"
    assert _threshold(case, 0.1).misconception == "ignored_save_rate"
    assert _threshold(case, 0.2).misconception == "threshold_not_from_costs"
    assert _threshold(case, 0.6).misconception == "threshold_not_from_costs"
    assert _threshold(case, 1.5).misconception == "not_a_probability"
    p_test, y_test = case["model"].predict_proba(case["X_test"])[:, 1], case["y_test"]
    # exact sweep over the test scores, and a grid sweep a learner would write
    exact = metrics.optimal_threshold(y_test, p_test)
    grid = np.linspace(0.01, 0.99, 99)
    on_grid = float(grid[int(np.argmax([expected_profit(y_test, p_test >= t) for t in grid]))])
    for t in (exact, on_grid):
        assert abs(t - 1 / 3) > 0.02  # the test set's peak is not the break-even here, so the check can tell
        assert _threshold(case, t).misconception == "tuned_on_test"
    # the same thresholds pass the profit bar: only the tuned_on_test rule catches them
    h = case["hidden"]
    p = case["model"].predict_proba(h.frame)[:, 1]
    share = expected_profit(h.truth.probability, p >= on_grid) / best_profit(h.truth.probability, p)
    assert share > 0.95


def test_profit_bar_and_tolerance_match_the_docstring(case):
    h = case["hidden"]
    p = case["model"].predict_proba(h.frame)[:, 1]
    best = best_profit(h.truth.probability, p)
    share = lambda t: expected_profit(h.truth.probability, p >= t) / best  # noqa: E731
    assert share(1 / 3) > 0.98
    assert 0.75 < share(0.5) < 0.9
    assert abs(metrics.optimal_threshold(h.truth.probability, p) - 1 / 3) < 0.05


# ---------------------------------------------------------------- decision and plots

GOOD = {"metric_at_1pct": "average_precision", "threshold": "expected_profit",
        "threshold_tuned_on": "training_folds", "probabilities": "checked_calibration"}


def test_decision():
    assert metrics.decision(GOOD).passed
    assert metrics.decision({**GOOD, "threshold_tuned_on": "Validation split"}).passed
    assert metrics.decision({**GOOD, "probabilities": "Checked calibration"}).passed
    for key, choice in [("metric_at_1pct", "accuracy"), ("metric_at_1pct", "roc_auc"), ("threshold", "default_0.5"),
                        ("threshold", "max_f1"), ("threshold_tuned_on", "test_set"), ("probabilities", "unchecked")]:
        assert metrics.decision({**GOOD, key: choice}).misconception == f"decision_{key}"
    assert metrics.decision({**GOOD, "threshold": "vibes"}).misconception == "unknown_choice"
    assert metrics.decision({**GOOD, "threshold": None}).misconception == "missing_key"
    assert metrics.decision(dict.fromkeys(GOOD)).status == "not_attempted"
    assert metrics.decision(None).status == "not_attempted"


def test_plots_have_titles_and_labelled_axes(case):
    y_true, y_pred = metrics.labels_from_counts(30, 20, 5, 40)
    axes = [plots_fundamentals.confusion_counts_plot(y_true, y_pred),
            plots_fundamentals.metrics_by_prevalence(_table(case["scored"])),
            *plots_fundamentals.roc_pr_by_prevalence(case["scored"])]
    for ax in axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert "(" in axes[1].get_xlabel()  # units or scale named
