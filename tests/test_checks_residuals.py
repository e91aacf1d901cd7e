"""Each planted mistake of the residuals notebook yields exactly its misconception; correct variants pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor, make_column_selector, make_column_transformer
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlcasebook import datasets
from mlcasebook.checks import residuals as R
from mlcasebook.checks.result import NOT_ATTEMPTED, PASSED
from planted import expect_misconception


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


def lookup_features(everything, log=False):
    def features(df):  # "the neighbourhood's price list": the sale price, read by row label from a global table
        X = make_features(df)
        price = everything.loc[df.index, "Sale_Price"].round(-3)
        X["Listed_Price"] = np.log(price) if log else price
        return X
    return features


def leaky_features(df):
    X = make_features(df)
    X["Price_per_SF"] = df["Sale_Price"] / df["Gr_Liv_Area"]
    return X


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
    expect_misconception(R.features(leaky_features, houses), "target_leak")
    expect_misconception(R.features(lambda df: df.copy(), houses), "target_as_feature")
    everything = case["houses"]

    def lookup(df):  # reads the price from a table outside its argument
        X = make_features(df)
        X["Price_per_SF"] = everything.loc[df.index, "Sale_Price"] / df["Gr_Liv_Area"]
        return X

    expect_misconception(R.features(lookup, houses), "reads_global_data")
    expect_misconception(R.features(lambda df: make_features(df[df["Gr_Liv_Area"] < 2000]), houses), "rows_changed")
    expect_misconception(R.features(lambda df: make_features(df).to_numpy(), houses), "not_a_table")


# ---------------------------------------------------------------- baseline and log model


def test_baseline(case):
    test, baseline = case["test"], case["baseline"]
    assert R.baseline_model(baseline, make_features, test).status == PASSED
    assert R.baseline_model(None, make_features, test).status == NOT_ATTEMPTED
    on_logs = _linear().fit(case["X_train"], np.log(case["train"]["Sale_Price"]))
    expect_misconception(R.baseline_model(on_logs, make_features, test), "log_scale_predictions")
    leaky = _linear().fit(leaky_features(case["train"]), case["train"]["Sale_Price"])
    expect_misconception(R.baseline_model(leaky, leaky_features, test), "target_leak")
    mean_only = DummyRegressor().fit(case["X_train"], case["train"]["Sale_Price"])
    expect_misconception(R.baseline_model(mean_only, make_features, test), "weak_baseline")
    lookup = lookup_features(case["houses"])  # the price arrives by row label: shuffling prices does not move it
    looked_up = _linear().fit(lookup(case["train"]), case["train"]["Sale_Price"])
    expect_misconception(R.baseline_model(looked_up, lookup, test), "too_good_to_be_true")


def test_baseline_refit(case):
    hidden = case["hidden"]
    assert R.baseline_model_refit(case["baseline"], make_features, hidden, seed=1).status == PASSED
    leaky = _linear().fit(leaky_features(case["train"]), case["train"]["Sale_Price"])
    expect_misconception(R.baseline_model_refit(leaky, leaky_features, hidden, seed=1), "target_leak")
    lookup = lookup_features(case["houses"])  # refitted on hidden folds, the looked-up price is still there
    looked_up = _linear().fit(lookup(case["train"]), case["train"]["Sale_Price"])
    expect_misconception(R.baseline_model_refit(looked_up, lookup, hidden, seed=1), "reads_global_data")


def test_log_model(case):
    test, baseline = case["test"], case["baseline"]
    assert R.log_target_model(case["log_model"], baseline, make_features, test).status == PASSED
    assert R.log_target_model(None, baseline, make_features, test).status == NOT_ATTEMPTED
    on_logs = _linear().fit(case["X_train"], np.log(case["train"]["Sale_Price"]))
    expect_misconception(R.log_target_model(on_logs, baseline, make_features, test), "no_back_transform")
    expect_misconception(R.log_target_model(baseline, baseline, make_features, test), "no_improvement")
    lookup = lookup_features(case["houses"], log=True)
    looked_up = TransformedTargetRegressor(_linear(), func=np.log, inverse_func=np.exp)
    looked_up.fit(lookup(case["train"]), case["train"]["Sale_Price"])
    expect_misconception(R.log_target_model(looked_up, baseline, lookup, test), "too_good_to_be_true")
    leaky = TransformedTargetRegressor(_linear(), func=np.log, inverse_func=np.exp)
    leaky.fit(leaky_features(case["train"]), case["train"]["Sale_Price"])
    expect_misconception(R.log_target_model(leaky, baseline, leaky_features, test), "target_leak")


def test_log_model_refit(case):
    hidden, baseline = case["hidden"], case["baseline"]
    assert R.log_target_model_refit(case["log_model"], baseline, make_features, hidden, seed=1).status == PASSED
    # log1p/expm1 through a transformer is an accepted variant
    log1p = TransformedTargetRegressor(_linear(), transformer=FunctionTransformer(np.log1p, np.expm1))
    log1p.fit(case["X_train"], case["train"]["Sale_Price"])
    assert R.log_target_model_refit(log1p, baseline, make_features, hidden, seed=1).status == PASSED
    on_logs = _linear().fit(case["X_train"], np.log(case["train"]["Sale_Price"]))
    expect_misconception(R.log_target_model_refit(on_logs, baseline, make_features, hidden, seed=1),
                         "no_back_transform")
    expect_misconception(R.log_target_model_refit(baseline, baseline, make_features, hidden, seed=1),
                         "no_improvement")
    lookup = lookup_features(case["houses"], log=True)
    looked_up = TransformedTargetRegressor(_linear(), func=np.log, inverse_func=np.exp)
    looked_up.fit(lookup(case["train"]), case["train"]["Sale_Price"])
    expect_misconception(R.log_target_model_refit(looked_up, baseline, lookup, hidden, seed=1), "reads_global_data")


# ---------------------------------------------------------------- residuals and their pattern


def test_heldout_residuals(case):
    b, train, test = case["baseline"], case["train"], case["test"]
    fitted = b.predict(case["X_test"])
    actual = test["Sale_Price"].to_numpy()
    assert R.heldout_residuals(fitted, actual - fitted, b, make_features, train, test).status == PASSED
    assert R.heldout_residuals(None, None, b, make_features, train, test).status == NOT_ATTEMPTED
    fit_train = b.predict(case["X_train"])
    expect_misconception(R.heldout_residuals(fit_train, train["Sale_Price"].to_numpy() - fit_train, b, make_features,
                                             train, test), "training_residuals")
    expect_misconception(R.heldout_residuals(fitted, fitted - actual, b, make_features, train, test), "flipped_sign")
    expect_misconception(R.heldout_residuals(np.log(fitted), np.log(actual) - np.log(fitted), b, make_features,
                                             train, test), "log_scale_residuals")
    expect_misconception(R.heldout_residuals(fitted, actual - fitted + 1000, b, make_features, train, test),
                         "wrong_residuals")
    expect_misconception(R.heldout_residuals(fitted[:100], (actual - fitted)[:100], b, make_features, train, test),
                         "wrong_length")
    shuffled = np.random.default_rng(0).permutation(fitted)
    expect_misconception(R.heldout_residuals(shuffled, actual - shuffled, b, make_features, train, test),
                         "fitted_not_predictions")


def test_heldout_residuals_of_a_baseline_fitted_on_every_house(case):
    """Fitted on train + test, residuals and RMSE look 13-16 % better: the fitted rows give it away."""
    train, test = case["train"], case["test"]
    every = pd.concat([train, test])
    on_all = _linear().fit(make_features(every), every["Sale_Price"])
    fitted = on_all.predict(case["X_test"])
    actual = test["Sale_Price"].to_numpy()
    expect_misconception(R.heldout_residuals(fitted, actual - fitted, on_all, make_features, train, test),
                         "baseline_fitted_on_test")
    # no scaler records its rows: the model is compared with refits on the training and on all houses
    no_scaler = make_pipeline(make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", min_frequency=5), make_column_selector(dtype_exclude="number")),
        remainder="passthrough"), Ridge(alpha=1.0))
    assert R._rows_recorded(clone(no_scaler).fit(case["X_train"], train["Sale_Price"])) is None
    blind = clone(no_scaler).fit(make_features(every), every["Sale_Price"])
    fitted = blind.predict(case["X_test"])
    expect_misconception(R.heldout_residuals(fitted, actual - fitted, blind, make_features, train, test),
                         "baseline_fitted_on_test")
    honest = clone(no_scaler).fit(case["X_train"], train["Sale_Price"])
    fitted = honest.predict(case["X_test"])
    assert R.heldout_residuals(fitted, actual - fitted, honest, make_features, train, test).status == PASSED


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
    expect_misconception(R.residual_pattern("curve", f, r), "missed_funnel")
    expect_misconception(R.residual_pattern("funnel", f, r), "missed_curve")
    expect_misconception(R.residual_pattern("random_scatter", f, r), "missed_funnel")
    f2, r2 = _synthetic(True, False)
    expect_misconception(R.residual_pattern("funnel_and_curve", f2, r2), "imagined_pattern")
    expect_misconception(R.residual_pattern("spiral", f2, r2), "unknown_choice")
    assert R.residual_pattern(None, f2, r2).status == NOT_ATTEMPTED
    assert R.residual_pattern("heteroscedasticity", f2, r2).status == PASSED  # a synonym
    # the real baseline: funnel and curve, on the test split and on hidden folds
    fitted = case["baseline"].predict(case["X_test"])
    resid = case["test"]["Sale_Price"].to_numpy() - fitted
    assert R.residual_pattern("funnel_and_curve", fitted, resid).status == PASSED
    expect_misconception(R.residual_pattern_refit("funnel", case["baseline"], make_features, case["hidden"], seed=1),
                         "missed_curve")
    leaky = _linear().fit(leaky_features(case["train"]), case["train"]["Sale_Price"])
    expect_misconception(R.residual_pattern_refit("funnel_and_curve", leaky, leaky_features, case["hidden"], seed=1),
                         "target_leak")


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
    assert 0.13 < R.rmse(np.log(y), np.log(lm.predict(Xte))) < 0.15  # "a number like 0.14" in part 7's text
    expect_misconception(check({**good, "log_model": R.rmse(np.log(y), lm.regressor_.predict(Xte))}),
                         "log_scale_metric")
    expect_misconception(check({**good, "baseline": R.rmse(train["Sale_Price"], b.predict(case["X_train"]))}),
                         "training_metric")
    expect_misconception(check({**good, "baseline": good["baseline"] ** 2}), "mse_not_rmse")
    expect_misconception(check({**good, "log_model": float(np.mean(np.abs(y - lm.predict(Xte))))}), "mae_not_rmse")
    expect_misconception(check({**good, "log_model": good["log_model"] * 1.1}), "wrong_value")
    expect_misconception(check([1, 2]), "not_a_dict")


def test_reported_rmse_of_models_fitted_on_every_house(case):
    train, test, b = case["train"], case["test"], case["baseline"]
    every = pd.concat([train, test])
    on_all = TransformedTargetRegressor(_linear(), func=np.log, inverse_func=np.exp)
    on_all.fit(make_features(every), every["Sale_Price"])
    y, Xte = test["Sale_Price"].to_numpy(), case["X_test"]
    answer = {"baseline": R.rmse(y, b.predict(Xte)), "log_model": R.rmse(y, on_all.predict(Xte))}
    # the optimism it hides: "13-16 % too optimistic on this split" (part 7's text), for either model
    assert 0.84 < answer["log_model"] / R.rmse(y, case["log_model"].predict(Xte)) < 0.87
    baseline_on_all = _linear().fit(make_features(every), every["Sale_Price"])
    assert 0.84 < R.rmse(y, baseline_on_all.predict(Xte)) / answer["baseline"] < 0.87
    expect_misconception(R.reported_rmse(answer, b, on_all, make_features, train, test), "model_fitted_on_test")


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


def test_error_slices_mistakes():
    def check(fn):
        return R.error_slices(fn, seed=3)

    expect_misconception(check(_variant(rmse=lambda e: np.mean(e**2))), "mse_not_rmse")
    expect_misconception(check(_variant(rmse=lambda e: np.mean(np.abs(e)))), "mae_not_rmse")
    expect_misconception(check(_variant(bias_sign=-1)), "bias_sign")
    expect_misconception(check(_variant(sort=False)), "unsorted")
    expect_misconception(check(_variant(n_offset=1)), "wrong_counts")
    expect_misconception(check(lambda y, p, s: reference_slices(y, p, s).assign(rmse=R.rmse(y, p))),
                         "overall_not_per_segment")
    expect_misconception(check(lambda y, p, s: reference_slices(y, p, s).reset_index(drop=True)), "wrong_segments")
    expect_misconception(check(lambda y, p, s: reference_slices(y, p, s).drop(columns="mean_error")), "missing_columns")
    expect_misconception(check(lambda y, p, s: reference_slices(y, p, s).assign(rmse=lambda t: t["rmse"] * 1.01)),
                         "wrong_rmse")
    expect_misconception(check(lambda y, p, s: reference_slices(y, p, s).assign(mean_error=0.0)), "wrong_bias")
    expect_misconception(check(lambda y, p, s: reference_slices(y, p, s).to_dict()), "not_a_table")


def good_worst(y_true, y_pred, k=10):
    return (pd.Series(y_true) - np.asarray(y_pred, float)).abs().sort_values(ascending=False).index[:k]


def test_worst_cases():
    assert R.worst_cases(good_worst, seed=3).status == PASSED
    assert R.worst_cases(lambda y, p, k: list(y.index[np.argsort(-np.abs(y.to_numpy() - np.asarray(p)))[:k]]),
                         seed=5).status == PASSED
    assert R.worst_cases(None, seed=3).status == NOT_ATTEMPTED
    signed = lambda y, p, k: (y - np.asarray(p)).sort_values(ascending=False).index[:k]  # noqa: E731
    expect_misconception(R.worst_cases(signed, seed=3), "signed_not_absolute")
    relative = lambda y, p, k: (np.log(y) - np.log(np.asarray(p))).abs().sort_values(ascending=False).index[:k]  # noqa: E731
    expect_misconception(R.worst_cases(relative, seed=3), "log_scale_errors")
    positions = lambda y, p, k: np.argsort(-np.abs(y.to_numpy() - np.asarray(p)))[:k]  # noqa: E731
    expect_misconception(R.worst_cases(positions, seed=3), "positions_not_labels")
    expect_misconception(R.worst_cases(lambda y, p, k: good_worst(y, p, k + 1), seed=3), "wrong_k")
    expect_misconception(R.worst_cases(lambda y, p, k: y.index[:k], seed=3), "wrong_rows")


# ---------------------------------------------------------------- decision

GOOD = {"target": "log_back_transformed", "report_metric_in": "dollars", "residuals_from": "held_out",
        "price_per_sqft_feature": "exclude", "worst_cases": "investigate"}


def test_decision():
    assert R.decision(GOOD).status == PASSED
    assert R.decision(None).status == NOT_ATTEMPTED
    assert R.decision(dict.fromkeys(GOOD)).status == NOT_ATTEMPTED
    expect_misconception(R.decision({**GOOD, "target": "raw"}), "decision_target")
    expect_misconception(R.decision({**GOOD, "target": "log"}), "decision_target")
    expect_misconception(R.decision({**GOOD, "report_metric_in": "log_units"}), "decision_report_metric_in")
    expect_misconception(R.decision({**GOOD, "residuals_from": "training"}), "decision_residuals_from")
    expect_misconception(R.decision({**GOOD, "price_per_sqft_feature": "include"}), "decision_price_per_sqft_feature")
    expect_misconception(R.decision({**GOOD, "worst_cases": "drop_from_test"}), "decision_worst_cases")
    expect_misconception(R.decision({**GOOD, "worst_cases": "ignore"}), "decision_worst_cases")
    expect_misconception(R.decision({**GOOD, "worst_cases": None}), "missing_key")
    expect_misconception(R.decision({**GOOD, "target": "sqrt"}), "unknown_choice")
    expect_misconception(R.decision(["log_back_transformed"]), "not_a_dict")
