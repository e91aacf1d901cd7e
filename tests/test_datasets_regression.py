"""The regression and classification generators deliver the truth they claim, and the curriculum figures hold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from mlcasebook import datasets
from mlcasebook.checks import bias_variance as B
from mlcasebook.datasets.regression import demand_curve


def poly(d, last=None):
    return make_pipeline(StandardScaler(), PolynomialFeatures(d, include_bias=False), last or LinearRegression())


def test_shape_reproducibility_and_errors():
    a = datasets.make_temperature_demand(50, random_state=3)
    b = datasets.make_temperature_demand(50, random_state=3)
    assert list(a.frame.columns) == ["temperature_c"] and a.target.name == "demand_gw"
    assert a.frame.equals(b.frame) and a.target.equals(b.target)
    assert a.frame["temperature_c"].between(-10, 35).all()
    assert a.truth.noise_variance == pytest.approx(a.truth.sigma**2) == pytest.approx(2.25)
    with pytest.raises(ValueError):
        datasets.make_temperature_demand(0)
    with pytest.raises(ValueError):
        datasets.make_temperature_demand(10, noise=0)


def test_noise_has_the_claimed_sigma():
    data = datasets.make_temperature_demand(40_000, random_state=1)
    resid = data.target.to_numpy() - demand_curve(data.frame["temperature_c"].to_numpy())
    # SE of a variance estimate from 40,000 Gaussian draws: sigma^2 * sqrt(2/40000) = 0.016 GW^2
    assert resid.var() == pytest.approx(2.25, abs=4 * 0.016)
    assert abs(resid.mean()) < 4 * 1.5 / np.sqrt(40_000)


def test_a_simple_model_recovers_the_truth_and_the_noise_floor():
    data = datasets.make_temperature_demand(20_000, random_state=2)
    model = poly(8).fit(data.frame, data.target)
    expected = data.truth.expected_mse(model.predict)
    assert data.truth.noise_variance <= expected < 1.01 * data.truth.noise_variance
    # expected_mse agrees with a Monte Carlo estimate on fresh days (SE ~ 2.25*sqrt(2/20000) = 0.022)
    fresh = datasets.make_temperature_demand(20_000, random_state=3)
    mc = np.mean((fresh.target - model.predict(fresh.frame)) ** 2)
    assert mc == pytest.approx(expected, abs=4 * 0.025)


def test_training_error_falls_with_degree_while_new_day_error_turns_up():
    data = datasets.make_temperature_demand(120, random_state=0)
    train = [np.mean((data.target - poly(d).fit(data.frame, data.target).predict(data.frame)) ** 2) for d in (1, 6, 15)]
    new = [data.truth.expected_mse(poly(d).fit(data.frame, data.target).predict) for d in (1, 6, 15)]
    assert train[0] > train[1] > train[2]
    assert train[2] < data.truth.noise_variance  # degree 15 fits the noise
    assert new[1] < new[0] and new[1] < new[2]


def test_more_data_helps_variance_not_bias():
    truth = datasets.make_temperature_demand(10, random_state=0).truth
    assert B.more_data_gain(truth, 1) < 0.2  # bias: the line keeps >80 % of its excess error
    assert B.more_data_gain(truth, 15) > 0.8  # variance: 8x more days remove >80 % of it
    assert B.more_data_gain(truth, 15, random_state=1) > 0.8


def test_lasso_zeroes_weights_ridge_only_shrinks():
    data = datasets.make_sparse_classification(2000, random_state=0)
    X = StandardScaler().fit_transform(data.frame)
    y = data.target.to_numpy().astype(float)
    lasso, ridge = Lasso(alpha=0.02).fit(X, y), Ridge(alpha=50.0).fit(X, y)
    assert np.sum(lasso.coef_ == 0) >= 30
    assert np.sum(ridge.coef_ == 0) == 0
    informative = np.abs(lasso.coef_[:4]).min()
    assert informative > 5 * np.abs(lasso.coef_[4:]).max(initial=1e-12) or np.all(lasso.coef_[4:] == 0)


def test_logistic_regression_recovers_the_informative_features_and_beats_no_penalty():
    data = datasets.make_sparse_classification(20_000, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(data.frame, data.target)
    coef = model[-1].coef_.ravel()
    np.testing.assert_allclose(coef[:4], data.truth.coef[:4], atol=0.15)
    assert np.abs(coef[4:]).max() < 0.1
    # a near-oracle model: log loss close to that of the true probabilities (difference ~0.01 nats)
    p = model.predict_proba(data.frame)[:, 1]
    assert log_loss(data.target, p) < log_loss(data.target, data.truth.probability) + 0.01

    small = datasets.make_sparse_classification(200, random_state=0)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)

    def cv_loss(C):
        pipe = make_pipeline(StandardScaler(), LogisticRegression(C=C, solver="liblinear"))
        return -cross_val_score(pipe, small.frame, small.target, cv=folds, scoring="neg_log_loss").mean()

    assert cv_loss(0.1) < 0.7 * cv_loss(1000.0)  # notebook section 7: a moderate penalty wins clearly
