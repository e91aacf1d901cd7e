"""Each planted mistake of the residuals notebook yields exactly its misconception; correct variants pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import TransformedTargetRegressor, make_column_selector, make_column_transformer
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlcasebook import datasets
from mlcasebook.checks import residuals as R
from mlcasebook.checks.result import FAILED, NOT_ATTEMPTED, PASSED


def _linear():
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", min_frequency=5), make_column_selector(dtype_exclude="number")),
        (StandardScaler(), make_column_selector(dtype_include="number")),
    )
    return make_pipeline(encode, Ridge(alpha=1.0))


def make_features(df):
    X = df.drop(columns=["Sale_Price"])
    X["Total_SF"] = X["Gr_Liv_Area"] + X["Total_Bsmt_SF"]
    return X


def leaky_features(df):
    X = make_features(df)
    X["Price_per_SF"] = df["Sale_Price"] / df["Gr_Liv_Area"]
    return X


def assert_misconception(result, expected):
    assert result.status == FAILED, result
    assert result.misconception == expected, result


@pytest.fixture(scope="module")
def case():
    ames = datasets.load_ames(max_living_area=4000)
    houses = ames.frame.join(ames.target)
    train, test = train_test_split(houses, test_size=0.25, random_state=2026)
    X_train, X_test = make_features(train), make_features(test)
    baseline = _linear().fit(X_train, train["Sale_Price"])
    log_model = TransformedTargetRegressor(_linear(), func=np.log, inverse_func=np.exp)
    log_model.fit(X_train, train["Sale_Price"])
    # a smaller hidden sample keeps the refitting checks fast
    hidden = houses.sample(1000, random_state=5)
    return dict(houses=houses, hidden=hidden, train=train, test=test, X_train=X_train, X_test=X_test,
                baseline=baseline, log_model=log_model)


# ---------------------------------------------------------------- features


def test_features(case):
    houses = case["houses"].iloc[:400]
    assert R.features(make_features, houses).status == PASSED
    assert R.features(None, houses).status == NOT_ATTEMPTED
    assert_misconception(R.features(leaky_features, houses), "target_leak")
    assert_misconception(R.features(lambda df: df.copy(), houses), "target_as_feature")
    everything = case["houses"]

    def lookup(df):  # reads the price from a table outside its argument
        X = make_features(df)
        X["Price_per_SF"] = everything.loc[df.index, "Sale_Price"] / df["Gr_Liv_Area"]
        return X

    assert_misconception(R.features(lookup, houses), "reads_global_data")
    assert_misconception(R.features(lambda df: make_features(df[df["Gr_Liv_Area"] < 2000]), houses), "rows_changed")


# ---------------------------------------------------------------- baseline and log model


def test_baseline(case):
    test, baseline = case["test"], case["baseline"]
    assert R.baseline_model(baseline, make_features, test).status == PASSED
    assert R.baseline_model(None, make_features, test).status == NOT_ATTEMPTED
    on_logs = _linear().fit(case["X_train"], np.log(case["train"]["Sale_Price"]))
    assert_misconception(R.baseline_model(on_logs, make_features, test), "log_scale_predictions")
    leaky = _linear().fit(leaky_features(case["train"]), case["train"]["Sale_Price"])
    assert_misconception(R.baseline_model(leaky, leaky_features, test), "target_leak")
    mean_only = DummyRegressor().fit(case["X_train"], case["train"]["Sale_Price"])
    assert_misconception(R.baseline_model(mean_only, make_features, test), "weak_baseline")


def test_baseline_refit(case):
    hidden = case["hidden"]
    assert R.baseline_model_refit(case["baseline"], make_features, hidden, seed=1).status == PASSED
    leaky = _linear().fit(leaky_features(case["train"]), case["train"]["Sale_Price"])
    assert_misconception(R.baseline_model_refit(leaky, leaky_features, hidden, seed=1), "target_leak")


def test_log_model(case):
    test, baseline = case["test"], case["baseline"]
    assert R.log_target_model(case["log_model"], baseline, make_features, test).status == PASSED
    assert R.log_target_model(None, baseline, make_features, test).status == NOT_ATTEMPTED
    on_logs = _linear().fit(case["X_train"], np.log(case["train"]["Sale_Price"]))
    assert_misconception(R.log_target_model(on_logs, baseline, make_features, test), "no_back_transform")
    assert_misconception(R.log_target_model(baseline, baseline, make_features, test), "no_improvement")


def test_log_model_refit(case):
    hidden, baseline = case["hidden"], case["baseline"]
    assert R.log_target_model_refit(case["log_model"], baseline, make_features, hidden, seed=1).status == PASSED
    # log1p/expm1 through a transformer is an accepted variant
    log1p = TransformedTargetRegressor(_linear(), transformer=FunctionTransformer(np.log1p, np.expm1))
    log1p.fit(case["X_train"], case["train"]["Sale_Price"])
    assert R.log_target_model_refit(log1p, baseline, make_features, hidden, seed=1).status == PASSED
    on_logs = _linear().fit(case["X_train"], np.log(case["train"]["Sale_Price"]))
    assert_misconception(R.log_target_model_refit(on_logs, baseline, make_features, hidden, seed=1),
                         "no_back_transform")
    assert_misconception(R.log_target_model_refit(baseline, baseline, make_features, hidden, seed=1),
                         "no_improvement")


# ---------------------------------------------------------------- residuals and their pattern


def test_heldout_residuals(case):
    b, train, test = case["baseline"], case["train"], case["test"]
    fitted = b.predict(case["X_test"])
    actual = test["Sale_Price"].to_numpy()
    assert R.heldout_residuals(fitted, actual - fitted, b, make_features, train, test).status == PASSED
    assert R.heldout_residuals(None, None, b, make_features, train, test).status == NOT_ATTEMPTED
    fit_train = b.predict(case["X_train"])
    assert_misconception(R.heldout_residuals(fit_train, train["Sale_Price"].to_numpy() - fit_train, b, make_features,
                                             train, test), "training_residuals")
    assert_misconception(R.heldout_residuals(fitted, fitted - actual, b, make_features, train, test), "flipped_sign")
    assert_misconception(R.heldout_residuals(np.log(fitted), np.log(actual) - np.log(fitted), b, make_features,
                                             train, test), "log_scale_residuals")
    assert_misconception(R.heldout_residuals(fitted, actual - fitted + 1000, b, make_features, train, test),
                         "wrong_residuals")


def _synthetic(funnel: bool, curve: bool, n: int = 800, seed: int = 0):
    rng = np.random.default_rng(seed)
    f = rng.uniform(100_000, 400_000, n)
    sd = 20_000 * (f / 250_000 if funnel else 1.0)
    mean = 4e-6 * (f - 250_000) ** 2 - 30_000 if curve else 0.0
    return f, mean + rng.normal(0, 1, n) * sd


@pytest.mark.parametrize("funnel,curve,truth", [(False, False, "random_scatter"), (True, False, "funnel"),
                                                (False, True, "curve"), (True, True, "funnel_and_curve")])
def test_pattern_statistics_recover_the_planted_shape(funnel, curve, truth):
    f, r = _synthetic(funnel, curve)
    assert R.residual_pattern(truth, f, r).status == PASSED
    assert R._pattern_from(R.pattern_statistics(f, r)) == truth


def test_residual_pattern_misreadings(case):
    f, r = _synthetic(True, True)
    assert_misconception(R.residual_pattern("curve", f, r), "missed_funnel")
    assert_misconception(R.residual_pattern("funnel", f, r), "missed_curve")
    assert_misconception(R.residual_pattern("random_scatter", f, r), "missed_funnel")
    f2, r2 = _synthetic(True, False)
    assert_misconception(R.residual_pattern("funnel_and_curve", f2, r2), "imagined_pattern")
    assert_misconception(R.residual_pattern("spiral", f2, r2), "unknown_choice")
    assert R.residual_pattern(None, f2, r2).status == NOT_ATTEMPTED
    assert R.residual_pattern("heteroscedasticity", f2, r2).status == PASSED  # a synonym
    # the real baseline: funnel and curve, on the test split and on hidden folds
    fitted = case["baseline"].predict(case["X_test"])
    resid = case["test"]["Sale_Price"].to_numpy() - fitted
    assert R.residual_pattern("funnel_and_curve", fitted, resid).status == PASSED
    assert_misconception(R.residual_pattern_refit("funnel", case["baseline"], make_features, case["hidden"], seed=1),
                         "missed_curve")


def test_pattern_statistics_reject_stub_input():
    with pytest.raises(ValueError):
        R.pattern_statistics(None, None)


# ---------------------------------------------------------------- reported RMSE


def test_reported_rmse(case):
    b, lm, train, test = case["baseline"], case["log_model"], case["train"], case["test"]
    y, Xte = test["Sale_Price"].to_numpy(), case["X_test"]
    good = {"baseline": R.rmse(y, b.predict(Xte)), "log_model": R.rmse(y, lm.predict(Xte))}
    check = lambda answer: R.reported_rmse(answer, b, lm, make_features, train, test)  # noqa: E731
    assert check(good).status == PASSED
    assert check(None).status == NOT_ATTEMPTED
    assert_misconception(check({**good, "log_model": R.rmse(np.log(y), lm.regressor_.predict(Xte))}),
                         "log_scale_metric")
    assert_misconception(check({**good, "baseline": R.rmse(train["Sale_Price"], b.predict(case["X_train"]))}),
                         "training_metric")
    assert_misconception(check({**good, "baseline": good["baseline"] ** 2}), "mse_not_rmse")
    assert_misconception(check({**good, "log_model": float(np.mean(np.abs(y - lm.predict(Xte))))}), "mae_not_rmse")
    assert_misconception(check({**good, "log_model": good["log_model"] * 1.1}), "wrong_value")
    assert_misconception(check([1, 2]), "not_a_dict")


# ---------------------------------------------------------------- slices and worst cases


def reference_slices(y_true, y_pred, segment):
    errors = pd.DataFrame({"error": np.asarray(y_true, float) - np.asarray(y_pred, float),
                           "segment": np.asarray(segment)})
    g = errors.groupby("segment")["error"]
    table = pd.DataFrame({"n": g.size(), "rmse": g.apply(lambda e: np.sqrt(np.mean(e**2))), "mean_error": g.mean()})
    return table.sort_values("rmse", ascending=False)


def _variant(rmse=None, bias_sign=1, sort=True, n_offset=0):
    def fn(y_true, y_pred, segment):
        errors = pd.DataFrame({"error": np.asarray(y_true, float) - np.asarray(y_pred, float),
                               "segment": np.asarray(segment)})
        g = errors.groupby("segment")["error"]
        value = g.apply(rmse) if rmse else g.apply(lambda e: np.sqrt(np.mean(e**2)))
        table = pd.DataFrame({"n": g.size() + n_offset, "rmse": value, "mean_error": bias_sign * g.mean()})
        return table.sort_values("rmse", ascending=False) if sort else table.sort_index()
    return fn


def test_error_slices_reference_and_alternatives_pass():
    assert R.error_slices(reference_slices, seed=3).status == PASSED
    assert R.error_slices(R.slice_table, seed=3).status == PASSED

    def with_agg(y_true, y_pred, segment):  # named aggregation, extra column, different column order
        e = pd.Series(np.asarray(y_true, float) - np.asarray(y_pred, float))
        out = e.groupby(np.asarray(segment)).agg(mean_error="mean", n="size", mse=lambda v: np.mean(v**2))
        out["rmse"] = np.sqrt(out["mse"])
        return out.sort_values("rmse", ascending=False)

    assert R.error_slices(with_agg, seed=4).status == PASSED
    assert R.error_slices(None, seed=3).status == NOT_ATTEMPTED


@pytest.mark.parametrize("fn,expected", [
    (_variant(rmse=lambda e: np.mean(e**2)), "mse_not_rmse"),
    (_variant(rmse=lambda e: np.mean(np.abs(e))), "mae_not_rmse"),
    (_variant(bias_sign=-1), "bias_sign"),
    (_variant(sort=False), "unsorted"),
    (_variant(n_offset=1), "wrong_counts"),
    (lambda y, p, s: reference_slices(y, p, s).assign(rmse=R.rmse(y, p)), "overall_not_per_segment"),
    (lambda y, p, s: reference_slices(y, p, s).reset_index(drop=True), "wrong_segments"),
    (lambda y, p, s: reference_slices(y, p, s).drop(columns="mean_error"), "missing_columns"),
    (lambda y, p, s: reference_slices(y, p, s).assign(rmse=lambda t: t["rmse"] * 1.01), "wrong_rmse"),
])
def test_error_slices_mistakes(fn, expected):
    assert_misconception(R.error_slices(fn, seed=3), expected)


def good_worst(y_true, y_pred, k=10):
    return (pd.Series(y_true) - np.asarray(y_pred, float)).abs().sort_values(ascending=False).index[:k]


def test_worst_cases():
    assert R.worst_cases(good_worst, seed=3).status == PASSED
    assert R.worst_cases(lambda y, p, k: list(y.index[np.argsort(-np.abs(y.to_numpy() - np.asarray(p)))[:k]]),
                         seed=5).status == PASSED
    assert R.worst_cases(None, seed=3).status == NOT_ATTEMPTED
    signed = lambda y, p, k: (y - np.asarray(p)).sort_values(ascending=False).index[:k]  # noqa: E731
    assert_misconception(R.worst_cases(signed, seed=3), "signed_not_absolute")
    relative = lambda y, p, k: (np.log(y) - np.log(np.asarray(p))).abs().sort_values(ascending=False).index[:k]  # noqa: E731
    assert_misconception(R.worst_cases(relative, seed=3), "log_scale_errors")
    positions = lambda y, p, k: np.argsort(-np.abs(y.to_numpy() - np.asarray(p)))[:k]  # noqa: E731
    assert_misconception(R.worst_cases(positions, seed=3), "positions_not_labels")
    assert_misconception(R.worst_cases(lambda y, p, k: good_worst(y, p, k + 1), seed=3), "wrong_k")
    assert_misconception(R.worst_cases(lambda y, p, k: y.index[:k], seed=3), "wrong_rows")


# ---------------------------------------------------------------- decision

GOOD = {"target": "log_back_transformed", "report_metric_in": "dollars", "residuals_from": "held_out",
        "price_per_sqft_feature": "exclude", "worst_cases": "investigate"}


def test_decision():
    assert R.decision(GOOD).status == PASSED
    assert R.decision(None).status == NOT_ATTEMPTED
    assert R.decision(dict.fromkeys(GOOD)).status == NOT_ATTEMPTED
    for (key, choice) in R._DECISION_MISTAKES:
        assert_misconception(R.decision({**GOOD, key: choice}), f"decision_{key}")
    assert_misconception(R.decision({**GOOD, "worst_cases": None}), "missing_key")
    assert_misconception(R.decision({**GOOD, "target": "sqrt"}), "unknown_choice")
