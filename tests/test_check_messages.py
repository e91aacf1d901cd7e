"""Hidden-test messages leak nothing: no hidden input, no number computed from hidden data, no count of cases.

A learner reads the message of every hidden test in their grading report. Each case below calls a check the
way a hidden test cell does, but with sentinel inputs (sizes, seeds, rates, look grids and segment names found
nowhere in the checks) and a learner function with one planted mistake (or none), then asserts that the message

* quotes no sentinel, in any of the formats a message would print it (``0.123``, ``12.3%``, ``3,217``),
* states no count of hidden cases, simulations, seeds, looks, slices, rows or days,
* holds only numbers that are constants of the course (alpha 0.05, the 500/0.3/50 business figures, a check's
  own documented tolerance), listed per case in ``allowed``: a number computed from the hidden data, or the
  learner's output on it, fails the test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.compose import TransformedTargetRegressor, make_column_transformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlcasebook import datasets
from mlcasebook.checks import ab_design, ab_pitfalls, bias_variance, churn, metrics, residuals
from test_checks_ab_design import _cuped, _one_sided_interval, _wald, _with_se
from test_checks_ab_pitfalls import (
    clustered_robust,
    fpr_final_only,
    fpr_ignores_boundary,
    fpr_independent,
    fpr_walk,
    lift_by_day,
    lift_by_day_cumulative,
    naive,
    pocock,
    segment_effects,
)
from test_checks_bias_variance import fit_and_report, make_ridge, make_ridge_unscaled
from test_checks_residuals import _linear, make_features

SEED = 987_654  # a hidden seed
N = 3_217  # a hidden sample size

COUNT = re.compile(r"\b\d[\d,]* (?:hidden )?(?:cases|simulations|experiments|seeds|splits|looks|slices|rows|days"
                   r"|folds|count sets|sets of counts)\b", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?(?![\w])")


def forms(value) -> set[str]:
    """The ways a message could print ``value``."""
    if isinstance(value, str):
        return {value}
    v = float(value)
    out = {repr(value), f"{v:g}", f"{v:.3g}"}
    if abs(v) >= 100:
        out |= {f"{v:,.0f}", f"{v:.0f}"}
    elif v != 0:
        out |= {f"{v:.3f}", f"{v:.4f}", f"{v:.1%}", f"{v:.2%}", f"{v:+.2%}", f"{abs(v):.1%}", f"{abs(v):.2%}"}
    return out


@dataclass
class Case:
    result: object
    status: str
    misconception: str | None = None
    sentinels: list = field(default_factory=list)
    allowed: set = field(default_factory=set)


CASES: dict[str, callable] = {}


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


# ------------------------------------------------------------------------------------ A/B design

SIZE_CASES = [(0.1234567, 0.1434567, 0.0432, 0.8321), (0.4321987, 0.4021987, 0.0123, 0.9345)]
SIZE_NUMBERS = {"1", "2", "0.05", "0.8", "3", "10", "11"}  # 1 - alpha/2, the brief's alpha and power, 3 %, 10 % -> 11 %


def _size_case(fn, alternative, status, misconception):
    outputs = [fn(*c, alternative) for c in SIZE_CASES]
    result = ab_design.sample_size_function(fn, alternative=alternative, cases=SIZE_CASES)
    return Case(result, status, misconception, [x for c in SIZE_CASES for x in c] + outputs, SIZE_NUMBERS)


def _ref(p0, p1, a, pw, alt):
    return ab_design.reference_sample_size(p0, p1, a, pw, alt)


for _name, _fn, _alt, _status, _mis in [
    ("right", _ref, "two-sided", "passed", None),
    ("total", lambda p0, p1, a, pw, alt: 2 * _ref(p0, p1, a, pw, alt), "two-sided", "failed", "total_not_per_arm"),
    ("halved", lambda p0, p1, a, pw, alt: _ref(p0, p1, a, pw, alt) / 2, "two-sided", "failed", "halved_per_arm"),
    ("one_sided", lambda p0, p1, a, pw, alt: _ref(p0, p1, a, pw, "larger"), "two-sided", "failed",
     "one_sided_undeclared"),
    ("absolute_h", lambda p0, p1, a, pw, alt: ab_design._absolute_as_h(p0, p1, a, pw, alt), "two-sided", "failed",
     "absolute_effect_as_cohens_h"),
    ("ignored_alpha", lambda p0, p1, a, pw, alt: _ref(p0, p1, 0.05, 0.8, alt), "larger", "failed",
     "ignored_alpha_power"),
    ("negative", lambda p0, p1, a, pw, alt: -_ref(p0, p1, a, pw, alt), "two-sided", "failed", "not_a_sample_size"),
    ("off", lambda p0, p1, a, pw, alt: 1.5 * _ref(p0, p1, a, pw, alt), "two-sided", "failed", "wrong_sample_size"),
]:
    case(f"sample_size_{_name}")(lambda fn=_fn, alt=_alt, s=_status, m=_mis: _size_case(fn, alt, s, m))

SRM_CASES = [((12_345, 12_111), (0.5, 0.5)), ((70_123, 29_877), (0.7013, 0.2987)), ((12_345, 11_789), (0.5123, 0.4877))]


def _srm_case(fn, status, misconception):
    result = ab_design.srm_function(fn, cases=SRM_CASES)
    sentinels = [x for counts, shares in SRM_CASES for x in (*counts, *shares)] + [fn(*map(list, c)) for c in SRM_CASES]
    return Case(result, status, misconception, sentinels, {"2"})


def _chi2(counts, shares):
    return stats.chisquare(counts, np.sum(counts) * np.asarray(shares)).pvalue


for _name, _fn, _status, _mis in [
    ("right", _chi2, "passed", None),
    ("equal_split", lambda counts, shares: stats.chisquare(counts).pvalue, "failed", "assumed_equal_split"),
    ("statistic", lambda counts, shares: stats.chisquare(counts, np.sum(counts) * np.asarray(shares)).statistic,
     "failed", "returned_statistic"),
    ("halved", lambda counts, shares: _chi2(counts, shares) / 2, "failed", "one_sided_pvalue"),
    ("off", lambda counts, shares: min(1.0, 0.3 + _chi2(counts, shares)), "failed", "wrong_pvalue"),
]:
    case(f"srm_{_name}")(lambda fn=_fn, s=_status, m=_mis: _srm_case(fn, s, m))


@cache
def _experiments():
    sims = [datasets.make_ab_experiment(N, baseline_rate=0.1234, lift=0.0321, covariate_corr=0.3,
                                        random_state=SEED + i) for i in range(23)]
    return [s.frame for s in sims], [s.truth.lift for s in sims]


CI_NUMBERS = {"95", "5", "10", "1", "0", "2", "90", "0.05", "0.10"}  # levels, alphas, the 10 % width tolerance


def _ci_case(fn, status, misconception):
    frames, lifts = _experiments()
    result = ab_design.ci_function(fn, frames, lifts)
    return Case(result, status, misconception, [N, 0.1234, 0.0321, *lifts], CI_NUMBERS)


case("ci_right")(lambda: _ci_case(_wald, "passed", None))
case("ci_narrow")(lambda: _ci_case(
    _with_se(lambda p1, n1, p0, n0: np.sqrt(p1 * (1 - p1) / (n1 + n0) + p0 * (1 - p0) / (n1 + n0))),
    "failed", "ci_too_narrow"))
case("ci_coverage")(lambda: _ci_case(_one_sided_interval, "failed", "low_coverage"))


@cache
def _cuped_data():
    return datasets.make_ab_experiment(N * 10, baseline_rate=0.1234, lift=0.0321, covariate_corr=0.4321,
                                       random_state=SEED)


def _cuped_case(fn, status, misconception):
    data = _cuped_data()
    y, x = data.frame["converted"].to_numpy(float), data.frame["pre_metric"].to_numpy(float)
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    result = ab_design.cuped_function(fn, data.frame, rho=data.truth.covariate_corr)
    return Case(result, status, misconception, [N * 10, N * 10 - 1, 0.4321, 1 - r2, r2, 0.4321**2, 1 - 0.4321**2],
                {"1", "2"})


case("cuped_right")(lambda: _cuped_case(_cuped, "passed", None))
case("cuped_shape")(lambda: _cuped_case(lambda y, x: _cuped(y, x)[:-1], "failed", "wrong_shape"))
case("cuped_sign")(lambda: _cuped_case(lambda y, x: 2 * y - _cuped(y, x), "failed", "variance_increased"))
case("cuped_half")(lambda: _cuped_case(lambda y, x: (y + _cuped(y, x)) / 2, "failed", "theta_not_cov_over_var"))

# ------------------------------------------------------------------------------------ A/B pitfalls

LOOKS = (3, 7, 13)  # a hidden look grid


def _fpr_case(fn, status, misconception):
    result = ab_pitfalls.false_positive_rate(fn, seed=SEED, looks_grid=LOOKS)
    outputs = [fn(k, 1.96, 20_000, np.random.default_rng(0)) for k in LOOKS]
    return Case(result, status, misconception, [SEED, *outputs], {"1.96", "500"})


for _name, _fn, _status, _mis in [
    ("right", fpr_walk, "passed", None),
    ("final_only", fpr_final_only, "failed", "final_look_only"),
    ("independent", fpr_independent, "failed", "independent_looks"),
    ("ignores_boundary", fpr_ignores_boundary, "failed", "ignores_boundary"),
    ("constant", lambda looks, boundary, n_sims, rng: 0.2345, "failed", "wrong_rate"),
]:
    case(f"fpr_{_name}")(lambda fn=_fn, s=_status, m=_mis: _fpr_case(fn, s, m))


def _boundary_case(fn, status, misconception):
    result = ab_pitfalls.sequential_boundary(fn, seed=SEED, looks_grid=LOOKS[:2])
    shown = [v for k in LOOKS[:2] for v in np.broadcast_to(fn(k, 0.05, 1, None), (k,)) if abs(v - 1.96) > 1e-9]
    return Case(result, status, misconception, [SEED, *shown], {"1.96"})


for _name, _fn, _status, _mis in [
    ("right", pocock, "passed", None),
    ("naive", lambda looks, alpha, n_sims, rng: np.full(looks, 1.96), "failed", "naive_peeking"),
    ("bonferroni", lambda looks, alpha, n_sims, rng: np.full(looks, stats.norm.isf(alpha / (2 * looks))), "failed",
     "bonferroni_looks"),
    ("loose", lambda looks, alpha, n_sims, rng: np.full(looks, 1.6543 + 0.0101 * looks), "failed",
     "alpha_not_controlled"),
    ("constant", lambda looks, alpha, n_sims, rng: np.full(looks, 2.4321), "failed", "ignores_looks"),
    ("late", lambda looks, alpha, n_sims, rng: np.r_[np.full(looks - 1, 9.87), 1.96], "failed", "never_stops_early"),
    ("nan", lambda looks, alpha, n_sims, rng: np.full(looks, np.nan), "failed", "not_a_boundary"),
]:
    case(f"boundary_{_name}")(lambda fn=_fn, s=_status, m=_mis: _boundary_case(fn, s, m))


@case("boundary_wrong_length")
def _():
    result = ab_pitfalls.sequential_boundary(lambda looks, alpha, n_sims, rng: np.full(looks + 1, 2.4), seed=SEED,
                                             looks_grid=LOOKS[:2])
    return Case(result, "error", "raised", [SEED, *LOOKS[:2], LOOKS[0] + 1, LOOKS[1] + 1])


DAILY = 12_345  # a hidden daily traffic, over 7 hidden days


@cache
def _novelty():
    return datasets.make_ab_experiment(7 * DAILY, daily_traffic=DAILY, n_days=7, baseline_rate=0.1234, lift=0.0321,
                                       novelty_lift=0.0876, novelty_half_life=1.5, random_state=SEED)


NOVELTY_SENTINELS = [7 * DAILY, DAILY, 0.0321, 0.0876]
case("lift_by_day_right")(lambda: Case(ab_pitfalls.lift_by_day(lift_by_day, _novelty().frame), "passed", None,
                                       NOVELTY_SENTINELS, {"95"}))
case("lift_by_day_short")(lambda: Case(ab_pitfalls.lift_by_day(lambda f: lift_by_day(f).iloc[:-1], _novelty().frame),
                                       "failed", "wrong_shape", [*NOVELTY_SENTINELS, "7", "6"]))
case("lift_by_day_cumulative")(lambda: Case(ab_pitfalls.lift_by_day(lift_by_day_cumulative, _novelty().frame),
                                            "failed", "cumulative_lift", NOVELTY_SENTINELS))


def _long_run_case(fn, misconception):
    data = _novelty()
    result = ab_pitfalls.long_run_lift(fn, data.frame, data.truth)
    return Case(result, "failed", misconception, [*NOVELTY_SENTINELS, fn(data.frame), naive(data.frame)])


case("long_run_naive")(lambda: _long_run_case(naive, "naive_novelty_lift"))
case("long_run_early")(lambda: _long_run_case(lambda f: naive(f[f["day"] < 2]), "novelty_not_removed"))
case("long_run_off")(lambda: _long_run_case(lambda f: -0.0765, "wrong_long_run"))

SEGMENTS = {"zeta_new": (0.3, 0.04), "omega_back": (0.5, -0.01), "kappa_again": (0.2, 0.0)}
SLICE_COLUMNS = ["segment", "device", "country"]


def _segments_case(fn, status, misconception):
    data = datasets.make_sliced_experiment(N * 10, segments=SEGMENTS, devices=("kiosk", "tv"),
                                           countries=("qq", "vv", "zz"), random_state=SEED)
    result = ab_pitfalls.segment_effects(fn, data.frame, SLICE_COLUMNS)
    return Case(result, status, misconception, [*SEGMENTS, "kiosk", "qq", "zz", N * 10, "8", 0.4], {"95", "5"})


case("segments_right")(lambda: _segments_case(segment_effects, "passed", None))
case("segments_short")(lambda: _segments_case(lambda f, c: segment_effects(f, c).iloc[:2], "failed", "wrong_shape"))
case("segments_raw")(lambda: _segments_case(lambda f, c: segment_effects(f, c).assign(p_adjusted=lambda t: t["p_value"]),
                                            "failed", "no_multiple_comparison_correction"))


def _clustered_case(fn, status, misconception):
    data = datasets.make_ab_experiment(N * 5, baseline_rate=0.1234, lift=0.0321, n_clusters=321, icc=0.0432,
                                       randomise_by="cluster", random_state=SEED)
    deff = clustered_robust(data.frame)["design_effect"]
    result = ab_pitfalls.clustered_ci(fn, data.frame)
    return Case(result, status, misconception, [N * 5, 321, 0.0432, deff, f"{deff:.2f}", "5.43"], {"1", "2"})


case("clustered_right")(lambda: _clustered_case(clustered_robust, "passed", None))
case("clustered_deff")(lambda: _clustered_case(lambda f: {**clustered_robust(f), "design_effect": 5.4321}, "failed",
                                               "wrong_design_effect"))

# ------------------------------------------------------------------------------------ bias-variance


@cache
def _days():
    data = datasets.make_temperature_demand(173, random_state=SEED)
    return data.frame.iloc[:131], data.target.iloc[:131], data.frame.iloc[131:], data.target.iloc[131:], data.truth


BV_SENTINELS = [173, 131, 42, SEED]


def _degree_case(degree, status, misconception):
    X, y, *_ = _days()
    result = bias_variance.degree_choice(lambda X, y: degree, X, y)
    return Case(result, status, misconception, BV_SENTINELS + ([str(degree)] if degree not in (1, 15) else []),
                {"1", "15"})


case("degree_training_error")(lambda: _degree_case(15, "failed", "picked_by_training_error"))
case("degree_underfit")(lambda: _degree_case(1, "failed", "underfit_choice"))
case("degree_not_a_degree")(lambda: _degree_case(2.5, "failed", "not_a_degree"))


def _alpha_case(alpha, status, misconception):
    X, y, *_ = _days()
    result = bias_variance.alpha_choice(lambda X, y: alpha, make_ridge, X, y)
    return Case(result, status, misconception, BV_SENTINELS + [alpha], {"15"})


case("alpha_training_error")(lambda: _alpha_case(1e-8, "failed", "picked_by_training_error"))
case("alpha_overregularized")(lambda: _alpha_case(1234.5, "failed", "overregularized"))
case("alpha_not_an_alpha")(lambda: _alpha_case(-0.321, "failed", "not_an_alpha"))


@case("ridge_unscaled")
def _():
    X, y, *_, truth = _days()
    result = bias_variance.ridge_pipeline(make_ridge_unscaled, X, y, sigma=truth.sigma)
    return Case(result, "failed", "scaler_outside_pipeline", BV_SENTINELS)


def _line(X_train, y_train, X_test, y_test):
    model = LinearRegression().fit(X_train, y_train)
    return model, mean_squared_error(y_test, model.predict(X_test))


def _on_test(X_train, y_train, X_test, y_test):
    """Alpha chosen by test-set error: the model follows the test set."""
    fits = [make_ridge(a).fit(X_train, y_train) for a in bias_variance.ALPHAS]
    model = min(fits, key=lambda m: mean_squared_error(y_test, m.predict(X_test)))
    return model, mean_squared_error(y_test, model.predict(X_test))


case("heldout_right")(lambda: Case(bias_variance.heldout_error(fit_and_report, *_days()), "passed", None, BV_SENTINELS,
                                   {"2"}))
case("heldout_line")(lambda: Case(bias_variance.heldout_error(_line, *_days()), "failed", "poor_heldout_error",
                                  BV_SENTINELS, {"2", "15"}))
case("test_set_selection")(lambda: Case(bias_variance.test_set_untouched(_on_test, *_days()[:4], sigma=1.5), "failed",
                                        "test_set_selection", BV_SENTINELS))

# ------------------------------------------------------------------------------------ churn and metrics

CHURN_NUMBERS = {"0.5", "500", "0.3", "50", "95", "80", "70", "0.33", "0.90"}  # the business figures, the checks' bars


@cache
def _churn():
    public = datasets.make_churn(6_000, random_state=0)
    hidden = datasets.make_churn(N * 2, churn_rate=0.05, random_state=SEED)
    pre = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), public.categorical_features),
                                  (StandardScaler(), public.numeric_features))
    models = {"plain": make_pipeline(pre, LogisticRegression(max_iter=1000)),
              "weighted": make_pipeline(pre, LogisticRegression(class_weight="balanced", max_iter=1000)),
              "dummy": DummyClassifier(strategy="prior")}
    return hidden, {k: m.fit(public.frame, public.target) for k, m in models.items()}


def _churn_case(run, status, misconception):
    hidden, models = _churn()
    result = run(hidden, models)
    sentinels = [SEED, N * 2, hidden.target.mean(), int(hidden.target.sum())]
    return Case(result, status, misconception, sentinels, CHURN_NUMBERS)


for _name, _run, _status, _mis in [
    ("quality_right", lambda h, m: churn.heldout_quality(m["plain"], h.frame, h.target,
                                                         oracle_ap=h.truth.oracle_average_precision(h.target)),
     "passed", None),
    ("quality_dummy", lambda h, m: churn.heldout_quality(m["dummy"], h.frame, h.target,
                                                         oracle_ap=h.truth.oracle_average_precision(h.target)),
     "failed", "no_better_than_baseline"),
    ("calibration_right", lambda h, m: churn.calibration(m["plain"], h.frame, h.target), "passed", None),
    ("calibration_weighted", lambda h, m: churn.calibration(m["weighted"], h.frame, h.target), "failed",
     "uncorrected_probabilities"),
    ("threshold_right", lambda h, m: churn.profit_threshold(1 / 3, m["plain"], h.frame, h.truth), "passed", None),
    ("threshold_default", lambda h, m: churn.profit_threshold(0.5, m["plain"], h.frame, h.truth), "failed",
     "default_threshold"),
    ("threshold_uncalibrated", lambda h, m: churn.profit_threshold(1 / 3, m["weighted"], h.frame, h.truth), "failed",
     "uncalibrated_for_threshold"),
    ("threshold_far", lambda h, m: churn.profit_threshold(0.9, m["plain"], h.frame, h.truth), "failed",
     "threshold_not_from_costs"),
    ("metrics_threshold_default", lambda h, m: metrics.profit_threshold(
        lambda *_: 0.5, m["plain"], [(h.frame, h.target)], h.frame, h.truth.probability), "failed", "default_threshold"),
    ("metrics_threshold_far", lambda h, m: metrics.profit_threshold(
        lambda *_: 0.9, m["plain"], [(h.frame, h.target)], h.frame, h.truth.probability), "failed",
     "threshold_not_from_costs"),
    ("metrics_threshold_right", lambda h, m: metrics.profit_threshold(
        lambda *_: 1 / 3, m["plain"], [(h.frame, h.target)], h.frame, h.truth.probability), "passed", None),
]:
    case(f"churn_{_name}")(lambda run=_run, s=_status, m=_mis: _churn_case(run, s, m))


@case("telco_dummy")
def _():
    other = datasets.load_telco_churn(churn_rate=0.0612, random_state=SEED)
    result = churn.telco_quality(DummyClassifier(strategy="prior"), other.frame, other.target)
    return Case(result, "failed", "no_better_than_baseline", [0.0612, len(other.target)], {"2"})


COUNTS = [(23, 11, 37, 191), (41, 7, 3, 555)]


def _confusion(y_true, y_pred):
    tp, fn = int(((y_true == 1) & (y_pred == 1)).sum()), int(((y_true == 1) & (y_pred == 0)).sum())
    fp, tn = int(((y_true == 0) & (y_pred == 1)).sum()), int(((y_true == 0) & (y_pred == 0)).sum())
    return tp, fn, fp, tn


def _counts_case(fn, status, misconception):
    y_true, y_pred = metrics.labels_from_counts(*COUNTS[0], random_state=SEED)
    result = metrics.counts_from_labels(fn, y_true, y_pred)
    return Case(result, status, misconception, list(COUNTS[0]))


case("counts_right")(lambda: _counts_case(_confusion, "passed", None))
case("counts_swapped")(lambda: _counts_case(lambda t, p: _confusion(p, t), "failed", "true_pred_swapped"))


def _prf(tp, fn, fp, tn):
    p, r = tp / (tp + fp), tp / (tp + fn)
    return p, r, 2 * p * r / (p + r)


def _formulas_case(fn, status, misconception):
    result = metrics.metric_formulas(fn, cases=COUNTS)
    return Case(result, status, misconception, [x for c in COUNTS for x in (*c, *_prf(*c))], {"1", "2"})


case("formulas_right")(lambda: _formulas_case(_prf, "passed", None))
case("formulas_swapped")(lambda: _formulas_case(lambda tp, fn, fp, tn: _prf(tp, fp, fn, tn), "failed",
                                                "precision_recall_swapped"))
case("formulas_mean")(lambda: _formulas_case(lambda *c: (*_prf(*c)[:2], sum(_prf(*c)[:2]) / 2), "failed",
                                             "f1_arithmetic_mean"))

# ------------------------------------------------------------------------------------ residuals

RESID_NUMBERS = {"8,000", "5", "12", "6"}  # the leak bar, the 5 % improvement bar, log dollars near 12, k = 6


@cache
def _houses():
    ames = datasets.load_ames(max_living_area=4000)
    return ames.frame.join(ames.target).sample(1_234, random_state=SEED)


@cache
def _fit(kind):
    model = {"linear": _linear(), "dummy": DummyRegressor(),
             "log": TransformedTargetRegressor(_linear(), func=np.log, inverse_func=np.exp)}[kind]
    return model.fit(make_features(_houses()), _houses()["Sale_Price"])


def _mae_slices(y_true, y_pred, segment):
    errors = pd.DataFrame({"e": y_true - y_pred, "s": segment}).groupby("s")["e"]
    table = errors.agg(n="size", rmse=lambda e: e.abs().mean(), mean_error="mean")
    return table.sort_values("rmse", ascending=False)


for _name, _run, _status, _mis in [
    ("features_drop_row", lambda: residuals.features(lambda df: make_features(df).iloc[1:], _houses(), seed=SEED),
     "failed", "rows_changed"),
    ("features_right", lambda: residuals.features(make_features, _houses(), seed=SEED), "passed", None),
    ("baseline_right", lambda: residuals.baseline_model_refit(_fit("linear"), make_features, _houses(), seed=SEED),
     "passed", None),
    ("baseline_dummy", lambda: residuals.baseline_model_refit(_fit("dummy"), make_features, _houses(), seed=SEED),
     "failed", "weak_baseline"),
    ("log_right", lambda: residuals.log_target_model_refit(_fit("log"), _fit("linear"), make_features, _houses(),
                                                           seed=SEED), "passed", None),
    ("log_no_gain", lambda: residuals.log_target_model_refit(_fit("linear"), _fit("linear"), make_features, _houses(),
                                                             seed=SEED), "failed", "no_improvement"),
    ("worst_k", lambda: residuals.worst_cases(lambda y, p, k: list(y.index[: k + 3]), seed=SEED), "failed", "wrong_k"),
    ("slices_mae", lambda: residuals.error_slices(_mae_slices, seed=SEED), "failed", "mae_not_rmse"),
]:
    case(f"residuals_{_name}")(lambda run=_run, s=_status, m=_mis: Case(run(), s, m, [SEED, 1_234, 1_233],
                                                                        RESID_NUMBERS))


# ------------------------------------------------------------------------------------ the test


@pytest.mark.parametrize("name", sorted(CASES))
def test_hidden_style_messages_leak_nothing(name):
    c = CASES[name]()
    result = c.result
    assert result.status == c.status and result.misconception == c.misconception, result
    message = result.message
    for sentinel in c.sentinels:
        for text in forms(sentinel):
            assert not re.search(rf"(?<![\w.]){re.escape(text)}(?![\w])", message), (text, message)
    assert not COUNT.search(message), message
    numbers = {n.rstrip(",") for n in NUMBER.findall(message)}
    assert numbers <= c.allowed, (numbers - c.allowed, message)
