"""Each bias-variance check names the misconception planted in front of it, and accepts every correct approach.

The choosers are judged on the hidden tests' samples (HIDDEN_DEGREE, HIDDEN_ALPHA: the same calls as the notebook's
hidden test cells); the bands are measured here against honest procedures on many fold seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, PolynomialFeatures, StandardScaler

from mlcasebook import datasets
from mlcasebook.checks import NotAttempted
from mlcasebook.checks import bias_variance as B
from planted import expect_misconception

# the samples of the notebook's hidden tests (bv_degree_test, bv_alpha_test)
HIDDEN_DEGREE = [dict(n=50, shape="cubic", noise=1.0, random_state=10), dict(n=200, noise=0.08, random_state=19)]
HIDDEN_ALPHA = [dict(n=200, noise=0.08, random_state=19), dict(n=30, noise=10.0, random_state=2)]


def days(spec):
    spec = dict(spec)
    return B.hidden_days(spec.pop("n"), **spec)


def split(seed, n=160, n_train=120):
    data = datasets.make_temperature_demand(n, random_state=seed)
    return (data.frame.iloc[:n_train], data.target.iloc[:n_train], data.frame.iloc[n_train:],
            data.target.iloc[n_train:], data.truth)


def poly_model(d):
    return make_pipeline(StandardScaler(), PolynomialFeatures(d, include_bias=False), LinearRegression())


def make_ridge(alpha):
    return make_pipeline(StandardScaler(), PolynomialFeatures(15, include_bias=False), StandardScaler(),
                         Ridge(alpha=alpha))


def make_ridge_unscaled(alpha):
    return make_pipeline(PolynomialFeatures(15, include_bias=False), Ridge(alpha=alpha))


def choose_alpha(X, y):
    search = GridSearchCV(make_ridge(1.0), {"ridge__alpha": B.ALPHAS}, scoring="neg_mean_squared_error",
                          cv=KFold(5, shuffle=True, random_state=0)).fit(X, y)
    return search.best_params_["ridge__alpha"]


def choose_alpha_ridgecv(X, y):
    pipe = make_pipeline(StandardScaler(), PolynomialFeatures(15, include_bias=False), StandardScaler(),
                         RidgeCV(alphas=B.ALPHAS))
    return float(pipe.fit(X, y)[-1].alpha_)


def fit_and_report(X_train, y_train, X_test, y_test):
    """The honest procedure, with RidgeCV (efficient leave-one-out) choosing alpha: fast for tests."""
    model = make_pipeline(StandardScaler(), PolynomialFeatures(15, include_bias=False), StandardScaler(),
                          RidgeCV(alphas=B.ALPHAS)).fit(X_train, y_train)
    return model, mean_squared_error(y_test, model.predict(X_test))


def fit_and_report_gridsearch(X_train, y_train, X_test, y_test):
    model = make_ridge(choose_alpha(X_train, y_train)).fit(X_train, y_train)
    return model, mean_squared_error(y_test, model.predict(X_test))


@pytest.fixture(scope="module")
def degree_samples():
    return [days(s) for s in HIDDEN_DEGREE]


@pytest.fixture(scope="module")
def alpha_samples():
    return [days(s) for s in HIDDEN_ALPHA]


@pytest.fixture()
def memo_bands(monkeypatch):
    """The bands are deterministic and measured by the tests above; the planted answers reuse them."""
    degree_band, alpha_band, cache = B.degree_band, B.alpha_band, {}

    def memo(fn, key, *args):
        if key not in cache:
            cache[key] = fn(*args)
        return cache[key]

    monkeypatch.setattr(B, "degree_band", lambda X, y, degrees=B.DEGREES: memo(degree_band, ("d", id(X)), X, y))
    monkeypatch.setattr(B, "alpha_band", lambda builder, X, y, alphas=B.ALPHAS: memo(
        alpha_band, ("a", id(builder), id(X)), builder, X, y))
    training = B.training_error_alpha
    monkeypatch.setattr(B, "training_error_alpha", lambda builder, X, y, alphas=B.ALPHAS: memo(
        training, ("t", id(builder), id(X)), builder, X, y))


def judge_degree(fn, samples):
    (X, y), *rest = samples
    return B.degree_choice(fn, X, y, also=rest)


def judge_alpha(fn, samples, builder=make_ridge):
    (X, y), *rest = samples
    return B.alpha_choice(fn, builder, X, y, also=rest)


# ---------------------------------------------------------------- degree: the band against honest procedures


def _degree_runs(x, y, folds):
    errors = np.array([B._poly_cv_errors(x, y, d, folds) for d in B.DEGREES])
    best, one_se = B._choices(errors, folds, simplest_first=True)
    return [B.DEGREES[best]] + [B.DEGREES[i] for i in one_se]


def test_degree_bands_hold_every_honest_choice_on_20_seeds(degree_samples):
    """5-, 10- and 3-fold CV on 20 shuffles each, argmin and both one-SE rules, and leave-one-out: all inside."""
    outside, total = [], 0
    for X, y in degree_samples:
        x, yy = X["temperature_c"].to_numpy(), y.to_numpy()
        low, high = B.degree_band(X, y)
        choices = [d for k in (5, 10, 3) for s in range(20) for d in _degree_runs(x, yy, B._kfold(len(x), k, 7000 + s))]
        loo = np.array([B._poly_loo_errors(x, yy, d) for d in B.DEGREES]).mean(axis=1)
        choices.append(B.DEGREES[int(np.argmin(loo))])
        total += len(choices)
        outside += [d for d in choices if not low <= d <= high]
    assert not outside, (outside, total)


def test_degree_bands_separate_the_neighbouring_wrong_answers(degree_samples):
    bands = [B.degree_band(X, y) for X, y in degree_samples]
    assert bands == [(3, 5), (7, 9)], bands  # the figures quoted in hidden_days' docstring
    assert bands[0][1] < bands[1][0], bands  # disjoint: no constant degree passes both
    assert all(high < max(B.DEGREES) == B.training_error_degree(X, y) for (X, y), (_, high) in
               zip(degree_samples, bands, strict=True))
    # the honest argmin sits on the band's lower end, so its position in DEGREES (one less) falls below it
    for (X, y), (low, _) in zip(degree_samples, bands, strict=True):
        x, yy = X["temperature_c"].to_numpy(), y.to_numpy()
        minima = [_degree_runs(x, yy, B._kfold(len(x), 5, 9000 + s))[0] for s in range(10)]
        assert np.mean([m - 1 < low for m in minima]) >= 0.9, minima


def test_loo_closed_form_matches_refitting():
    X, y, *_ = split(0, n=40, n_train=40)
    x, yy = np.asarray(X, float).ravel(), np.asarray(y, float)
    refit = B._poly_cv_errors(x, yy, 4, [np.array([i]) for i in range(len(x))])
    np.testing.assert_allclose(B._poly_loo_errors(x, yy, 4), refit, rtol=1e-6)


# ---------------------------------------------------------------- degree: the learner's chooser


def choose_degree(X, y):  # the notebook's solution
    _, val = __import__("sklearn.model_selection", fromlist=["validation_curve"]).validation_curve(
        poly_model(1), X, y, param_name="polynomialfeatures__degree", param_range=B.DEGREES,
        cv=KFold(5, shuffle=True, random_state=0), scoring="neg_mean_squared_error")
    return B.DEGREES[int(np.argmax(val.mean(axis=1)))]


def test_degree_choice_accepts_the_solution_and_unusual_honest_choosers(degree_samples, memo_bands):
    assert judge_degree(choose_degree, degree_samples).passed

    # the one-SE rule and other fold counts: test_degree_bands_hold_every_honest_choice_on_20_seeds and the
    # notebook fixture alt_one_se_rule_unseeded_shuffle


def test_degree_choice_names_each_planted_mistake(degree_samples, memo_bands):
    notebook_X, notebook_y, *_ = split(0)
    honest = {id(X): choose_degree(X, y) for X, y in degree_samples}
    notebook_degree = choose_degree(notebook_X, notebook_y)

    def training_error(X, y):
        errors = [mean_squared_error(y, poly_model(d).fit(X, y).predict(X)) for d in B.DEGREES]
        return B.DEGREES[int(np.argmin(errors))]

    expect_misconception(judge_degree(training_error, degree_samples), "picked_by_training_error")
    expect_misconception(judge_degree(lambda X, y: 6, degree_samples), "ignores_its_data")
    expect_misconception(judge_degree(lambda X, y: notebook_degree, degree_samples), "ignores_its_data")

    # np.argmax(scores) returned as it is: the solution's position in DEGREES
    expect_misconception(judge_degree(lambda X, y: B.DEGREES.index(honest[id(X)]), degree_samples), "index_not_value")
    expect_misconception(judge_degree(lambda X, y: "six", degree_samples), "not_a_degree")
    expect_misconception(judge_degree(lambda X, y: 6.5, degree_samples), "not_a_degree")
    # a chooser that adds four degrees "to be safe", and one that keeps the simplest curve
    expect_misconception(judge_degree(lambda X, y: honest[id(X)] + 4, degree_samples), "overfit_choice")
    expect_misconception(judge_degree(lambda X, y: 2 if len(X) < 100 else 5, degree_samples), "underfit_choice")
    assert B.degree_choice(None, *degree_samples[0]).status == "not_attempted"

    def stub(X, y):
        raise NotImplementedError()

    with pytest.raises(NotAttempted):
        B.degree_choice(stub, *degree_samples[0]).require()


# ---------------------------------------------------------------- Ridge pipeline


def test_ridge_pipeline_accepts_scaled_variants_and_names_each_mistake():
    X, y, *_, truth = split(4242)
    check = lambda builder: B.ridge_pipeline(builder, X, y, sigma=truth.sigma)  # noqa: E731
    assert check(make_ridge).passed
    # powers first, then scaling; a ColumnTransformer by name: also unit-free, degree 15
    assert check(lambda a: make_pipeline(PolynomialFeatures(15, include_bias=False), StandardScaler(),
                                         Ridge(alpha=a))).passed
    assert check(lambda a: make_pipeline(ColumnTransformer([("t", make_pipeline(
        StandardScaler(), PolynomialFeatures(15), StandardScaler()), ["temperature_c"])]), Ridge(alpha=a))).passed
    expect_misconception(check(make_ridge_unscaled), "scaler_outside_pipeline")
    expect_misconception(check(lambda a: "ridge"), "not_a_pipeline")
    expect_misconception(check(lambda a: make_pipeline(StandardScaler(), PolynomialFeatures(15, include_bias=False),
                                                       StandardScaler(), Ridge())), "alpha_ignored")
    expect_misconception(check(lambda a: make_pipeline(StandardScaler(), PolynomialFeatures(), StandardScaler(),
                                                       Ridge(alpha=a))), "wrong_degree")


# ---------------------------------------------------------------- alpha: the band against honest procedures


def _ridge_cv_errors(x, y, folds):
    """Per-row squared CV errors of scaler -> degree 15 -> scaler -> Ridge(alpha) for every alpha (numpy)."""
    n, errors = len(x), np.empty((len(B.ALPHAS), len(x)))
    for test in folds:
        train = np.setdiff1d(np.arange(n), test)
        centre, scale = x[train].mean(), x[train].std()
        P, Pt = (np.vander((x[idx] - centre) / scale, 16, increasing=True)[:, 1:] for idx in (train, test))
        mu, sd = P.mean(axis=0), P.std(axis=0)
        A, At = (P - mu) / sd, (Pt - mu) / sd
        y_mean = y[train].mean()
        for i, a in enumerate(B.ALPHAS):
            # what Ridge's cholesky solver does (a plain LU solve differs where the powers are nearly collinear)
            beta = scipy.linalg.solve(A.T @ A + a * np.eye(A.shape[1]), A.T @ (y[train] - y_mean), assume_a="pos")
            errors[i, test] = (y[test] - y_mean - At @ beta) ** 2
    return errors


def test_alpha_bands_hold_every_honest_choice_on_20_seeds(alpha_samples):
    """GridSearchCV-like argmin and both one-SE rules with 5-, 10- and 3-fold CV on 20 shuffles, and RidgeCV."""
    outside, total = [], 0
    for X, y in alpha_samples:
        x, yy = X["temperature_c"].to_numpy(), y.to_numpy()
        low, high = B.alpha_band(make_ridge, X, y)
        for k in (5, 10, 3):
            for s in range(20):
                folds = B._kfold(len(x), k, 5000 + s)
                best, one_se = B._choices(_ridge_cv_errors(x, yy, folds), folds, simplest_first=False)
                chosen = [B.ALPHAS[best]] + [B.ALPHAS[i] for i in one_se]
                total += len(chosen)
                outside += [a for a in chosen if not low <= a <= high]
        a = choose_alpha_ridgecv(X, y)
        total += 1
        outside += [a] if not low <= a <= high else []
    assert not outside, (outside, total)


def test_alpha_bands_separate_the_neighbouring_wrong_answers(alpha_samples):
    (lo0, hi0), (lo1, hi1) = [B.alpha_band(make_ridge, X, y) for X, y in alpha_samples]
    assert hi0 < lo1  # disjoint: no constant alpha passes both
    assert min(B.ALPHAS) < lo0 / 100  # the training-error choice is two decades below
    assert not any(lo0 <= i <= hi0 for i in range(len(B.ALPHAS)))  # an argmax position cannot pass the first


def test_alpha_choice_accepts_gridsearch_and_ridgecv(alpha_samples, memo_bands):
    assert judge_alpha(choose_alpha, alpha_samples).passed
    assert judge_alpha(choose_alpha_ridgecv, alpha_samples).passed


def test_alpha_choice_names_each_planted_mistake(alpha_samples, memo_bands):
    def training_error(X, y):
        errors = [mean_squared_error(y, make_ridge(a).fit(X, y).predict(X)) for a in B.ALPHAS]
        return B.ALPHAS[int(np.argmin(errors))]

    expect_misconception(judge_alpha(training_error, alpha_samples), "picked_by_training_error")

    def linear_grid(X, y):  # evenly spaced penalties: only one point below 10
        grid = np.linspace(1e-8, 100, 11)
        search = GridSearchCV(make_ridge(1.0), {"ridge__alpha": grid}, scoring="neg_mean_squared_error",
                              cv=KFold(3, shuffle=True, random_state=0)).fit(X, y)
        return search.best_params_["ridge__alpha"]

    expect_misconception(judge_alpha(linear_grid, alpha_samples), "grid_misses_optimum")

    honest = {id(X): choose_alpha(X, y) for X, y in alpha_samples}
    # np.argmax(search.cv_results_["mean_test_score"]) returned as it is: a position in ALPHAS
    expect_misconception(judge_alpha(lambda X, y: B.ALPHAS.index(honest[id(X)]), alpha_samples), "index_not_value")
    notebook_X, notebook_y, *_ = split(0)
    notebook_alpha = choose_alpha(notebook_X, notebook_y)
    expect_misconception(judge_alpha(lambda X, y: notebook_alpha, alpha_samples), "ignores_its_data")
    expect_misconception(judge_alpha(lambda X, y: 0.01, alpha_samples), "ignores_its_data")
    expect_misconception(judge_alpha(lambda X, y: 1e-6 if len(X) > 100 else 10.0, alpha_samples), "underregularized")
    expect_misconception(judge_alpha(lambda X, y: 1.0 if len(X) > 100 else 100.0, alpha_samples), "overregularized")
    expect_misconception(judge_alpha(lambda X, y: -1, alpha_samples), "not_an_alpha")


# ---------------------------------------------------------------- the procedure


@pytest.fixture(scope="module")
def hidden():
    return split(4242)


def test_heldout_error_passes_the_solution_and_names_each_mistake(hidden):
    X_tr, y_tr, X_te, y_te, truth = hidden
    assert B.heldout_error(fit_and_report, X_tr, y_tr, X_te, y_te, truth).passed
    assert B.heldout_error(fit_and_report_gridsearch, X_tr, y_tr, X_te, y_te, truth).passed

    def prescaled(X_train, y_train, X_test, y_test):
        scaler = StandardScaler().fit(pd.concat([X_train, X_test]))
        model = make_ridge_unscaled(1e-3).fit(scaler.transform(X_train), y_train)
        return model, mean_squared_error(y_test, model.predict(scaler.transform(X_test)))

    expect_misconception(B.heldout_error(prescaled, X_tr, y_tr, X_te, y_te, truth), "scaler_outside_pipeline")

    def straight_line(X_train, y_train, X_test, y_test):
        model = poly_model(1).fit(X_train, y_train)
        return model, mean_squared_error(y_test, model.predict(X_test))

    expect_misconception(B.heldout_error(straight_line, X_tr, y_tr, X_te, y_te, truth), "poor_heldout_error")

    def rmse(X_train, y_train, X_test, y_test):
        model, mse = fit_and_report(X_train, y_train, X_test, y_test)
        return model, np.sqrt(mse)

    expect_misconception(B.heldout_error(rmse, X_tr, y_tr, X_te, y_te, truth), "rmse_reported")

    def train_mse(X_train, y_train, X_test, y_test):
        model, _ = fit_and_report(X_train, y_train, X_test, y_test)
        return model, mean_squared_error(y_train, model.predict(X_train))

    expect_misconception(B.heldout_error(train_mse, X_tr, y_tr, X_te, y_te, truth), "test_mse_not_of_model")
    assert B.heldout_error(lambda *a: None, X_tr, y_tr, X_te, y_te, truth).status == "error"


def test_heldout_factor_separates_cv_choices_from_lines():
    for seed in (4242, 7, 11, 2026):
        X_tr, y_tr, X_te, y_te, truth = split(seed)
        model, _ = fit_and_report(X_tr, y_tr, X_te, y_te)
        assert truth.expected_mse(model.predict) / truth.noise_variance < B.HELDOUT_FACTOR * 0.9, seed
        line = poly_model(1).fit(X_tr, y_tr)
        assert truth.expected_mse(line.predict) / truth.noise_variance > 3 * B.HELDOUT_FACTOR, seed


def test_test_set_untouched_detects_selection_and_test_fitting(hidden):
    X_tr, y_tr, X_te, y_te, truth = hidden
    check = lambda fn: B.test_set_untouched(fn, X_tr, y_tr, X_te, y_te, sigma=truth.sigma)  # noqa: E731
    assert check(fit_and_report).passed

    def unseeded(X_train, y_train, X_test, y_test):  # an unseeded shuffle must not look like test-set use
        search = GridSearchCV(make_ridge(1.0), {"ridge__alpha": B.ALPHAS}, cv=KFold(5, shuffle=True),
                              scoring="neg_mean_squared_error").fit(X_train, y_train)
        return search.best_estimator_, mean_squared_error(y_test, search.predict(X_test))

    assert check(unseeded).passed

    def on_test(X_train, y_train, X_test, y_test):
        fits = [make_ridge(a).fit(X_train, y_train) for a in B.ALPHAS]
        errors = [mean_squared_error(y_test, m.predict(X_test)) for m in fits]
        return fits[int(np.argmin(errors))], min(errors)

    expect_misconception(check(on_test), "test_set_selection")

    def scaler_on_test(X_train, y_train, X_test, y_test):  # "the scaler should know the data it will score"
        scaler = StandardScaler().fit(X_test)
        inner = make_pipeline(PolynomialFeatures(15, include_bias=False), StandardScaler(), Ridge(alpha=0.1))
        model = make_pipeline(scaler, inner)
        inner.fit(scaler.transform(X_train), y_train)
        return model, mean_squared_error(y_test, model.predict(X_test))

    expect_misconception(check(scaler_on_test), "fitted_on_test_rows")

    def manual_scaling_on_all(X_train, y_train, X_test, y_test):  # mean and sd of every temperature, by hand
        both = pd.concat([X_train, X_test])
        mu, sd = both.mean(), both.std()
        features = FunctionTransformer(lambda X: (X - mu) / sd)
        model = make_pipeline(features, PolynomialFeatures(15, include_bias=False), StandardScaler(), Ridge(alpha=0.1))
        return model.fit(X_train, y_train), 0.0

    expect_misconception(check(manual_scaling_on_all), "fitted_on_test")

    def scaler_on_all(X_train, y_train, X_test, y_test):
        scaler = StandardScaler().fit(pd.concat([X_train, X_test]))
        inner = make_pipeline(PolynomialFeatures(15, include_bias=False), StandardScaler(), Ridge(alpha=0.1))
        model = make_pipeline(scaler, inner)
        inner.fit(scaler.transform(X_train), y_train)
        return model, mean_squared_error(y_test, model.predict(X_test))

    expect_misconception(check(scaler_on_all), "fitted_on_train_and_test")

    def refit_on_everything(X_train, y_train, X_test, y_test):  # "use all the data for the final model"
        model = make_ridge(choose_alpha_ridgecv(X_train, y_train))
        model.fit(pd.concat([X_train, X_test]), pd.concat([y_train, y_test]))
        return model, mean_squared_error(y_test, model.predict(X_test))

    expect_misconception(check(refit_on_everything), "fitted_on_train_and_test")


# ---------------------------------------------------------------- more data, decision


def test_more_data_answers():
    truth = datasets.make_temperature_demand(10, random_state=0).truth
    assert B.more_data({"high_bias": "won't help", "high_variance": "helps"}, truth).passed
    assert B.more_data({"high_bias": "no", "high_variance": "yes"}, truth).passed
    expect_misconception(B.more_data({"high_bias": "helps", "high_variance": "won't_help"}, truth),
                         "bias_variance_swapped")
    expect_misconception(B.more_data({"high_bias": "helps", "high_variance": "helps"}, truth),
                         "more_data_always_helps")
    expect_misconception(B.more_data({"high_bias": "won't_help", "high_variance": "won't_help"}, truth),
                         "more_data_never_helps")
    assert B.more_data({"high_bias": None, "high_variance": None}, truth).status == "not_attempted"
    expect_misconception(B.more_data({"high_bias": "maybe", "high_variance": "helps"}, truth), "missing_answer")


def test_more_data_gains_quoted_in_the_docstring():
    truth = datasets.make_temperature_demand(10, random_state=0).truth
    assert B.more_data_gain(truth, 1) < 0.1  # the straight line keeps about 94 % of its excess error
    assert B.more_data_gain(truth, 15) > 0.99  # the degree-15 polynomial loses nearly all of it


GOOD = {"choose_complexity_by": "cross_validation", "scaler": "inside_pipeline", "test_set": "once_at_the_end",
        "high_bias_fix": "more_features", "high_variance_fix": "stronger_regularization"}


def test_decision():
    assert B.decision(GOOD).passed
    assert B.decision({**GOOD, "high_bias_fix": "weaker_regularization", "high_variance_fix": "more_data"}).passed
    expect_misconception(B.decision({**GOOD, "choose_complexity_by": "test_error"}), "decision_choose_complexity_by")
    expect_misconception(B.decision({**GOOD, "scaler": "fit_on_all_data"}), "decision_scaler")
    expect_misconception(B.decision({**GOOD, "test_set": "for_model_selection"}), "decision_test_set")
    expect_misconception(B.decision({**GOOD, "high_bias_fix": "more_data"}), "decision_high_bias_fix")
    # (a wrong fix of one key is often a right fix of the other: the message repeats the learner's own choice, so the
    # planted one is a choice the model answer does not use)
    expect_misconception(B.decision({**GOOD, "high_variance_fix": "weaker_regularization"}),
                         "decision_high_variance_fix")
    expect_misconception(B.decision({**GOOD, "scaler": "sometimes"}), "unknown_choice")
    expect_misconception(B.decision({**GOOD, "scaler": None}), "missing_key")
    expect_misconception(B.decision(["cross_validation"]), "not_a_dict")
    assert B.decision({k: None for k in GOOD}).status == "not_attempted"
