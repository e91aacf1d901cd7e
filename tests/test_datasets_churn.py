"""The churn generator keeps its promises, and the shipped Telco data is found, verified and explained."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlcasebook import datasets
from mlcasebook.datasets import DataFileError


@pytest.fixture(scope="module")
def churn():
    return datasets.make_churn(20_000, random_state=0)


def test_churn_rate_and_determinism(churn):
    # 20,000 draws at 5 %: standard error sqrt(.05*.95/20000) = 0.0015; 4 SE = 0.006
    assert abs(churn.target.mean() - 0.05) < 0.006
    again = datasets.make_churn(20_000, random_state=0)
    assert churn.frame.equals(again.frame) and churn.target.equals(again.target)
    assert not churn.target.equals(datasets.make_churn(20_000, random_state=1).target)


def test_true_probabilities_are_calibrated(churn):
    p, y = churn.truth.probability, churn.target.to_numpy()
    top = p > np.quantile(p, 0.9)
    # top decile: ~2,000 customers, churn rate SE <= 0.011; allow 4 SE
    assert abs(y[top].mean() - p[top].mean()) < 0.045
    assert abs(y.mean() - p.mean()) < 0.006


def test_oracle_average_precision_matches_curriculum_figure():
    # CURRICULUM: Bayes-oracle AP ≈ 0.413. Across seeds the AP of 20,000 customers varies with SD ≈ 0.02;
    # the mean over 5 seeds has SE ≈ 0.01, allow 3 SE.
    aps = [datasets.make_churn(20_000, random_state=s).truth.oracle_average_precision(
        datasets.make_churn(20_000, random_state=s).target) for s in range(5)]
    assert abs(np.mean(aps) - 0.413) < 0.03


def test_logistic_regression_recovers_near_oracle_ranking(churn):
    X_tr, X_te, y_tr, y_te = train_test_split(churn.frame, churn.target, test_size=0.25,
                                              stratify=churn.target, random_state=0)
    model = make_pipeline(make_column_transformer((OneHotEncoder(), churn.categorical_features),
                                                  (StandardScaler(), churn.numeric_features)),
                          LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)
    ap = average_precision_score(y_te, model.predict_proba(X_te)[:, 1])
    oracle = churn.truth.oracle_average_precision(y_te, X_te.index)
    assert ap >= 0.9 * oracle
    assert ap <= oracle + 0.03  # a model cannot beat the oracle by more than sampling noise


def test_undersampling_shifts_probabilities_by_the_prior_correction(churn):
    """The notebook's claim: after keeping a fraction beta of non-churners, p = beta*p_s/(beta*p_s - p_s + 1)."""
    rng = np.random.default_rng(12345)  # not the generator's seed: its first draws shaped the features
    y = churn.target.to_numpy()
    beta = 0.2
    keep = (y == 1) | (rng.random(len(y)) < beta)
    Xs, ys = churn.frame[keep], y[keep]
    model = make_pipeline(make_column_transformer((OneHotEncoder(), churn.categorical_features),
                                                  (StandardScaler(), churn.numeric_features)),
                          LogisticRegression(max_iter=1000)).fit(Xs, ys)
    p_s = model.predict_proba(churn.frame)[:, 1]
    corrected = beta * p_s / (beta * p_s - p_s + 1)
    assert p_s.mean() > 2 * y.mean()                 # the shifted scores are far too high ...
    assert abs(corrected.mean() - y.mean()) < 0.006  # ... and the correction restores the base rate (4 SE)


def test_default_threshold_gives_up_about_a_quarter_of_profit_on_true_probabilities():
    """The notebook's claim: with perfectly calibrated probabilities, 0.5 instead of 1/3 loses about a quarter."""
    from mlcasebook.checks import churn as C

    losses = []
    for seed in range(3):
        p = datasets.make_churn(20_000, random_state=seed).truth.probability
        best = C.expected_profit(p, p >= C.PROFIT_THRESHOLD)
        losses.append(1 - C.expected_profit(p, p >= 0.5) / best)
    # each 20,000-customer sample gives 25-27 %; "about a quarter" allows 20-30 %
    assert 0.20 < float(np.mean(losses)) < 0.30


def test_telco_full_and_down_sampled():
    full = datasets.load_telco_churn()
    assert full.frame.shape == (7043, 19)
    assert round(full.target.mean(), 3) == 0.265
    five = datasets.load_telco_churn(churn_rate=0.05)
    assert len(five.frame) == 5446 and abs(five.target.mean() - 0.05) < 0.001
    assert five.frame.equals(datasets.load_telco_churn(churn_rate=0.05).frame)
    assert "contract" in five.categorical_features and "tenure" in five.numeric_features
    with pytest.raises(ValueError, match="churn_rate"):
        datasets.load_telco_churn(churn_rate=0.5)


def test_missing_data_file_names_it_and_how_to_restore(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCASEBOOK_DATA", str(tmp_path))
    with pytest.raises(DataFileError, match=r"telco_churn\.csv.*git checkout -- data/telco_churn\.csv"):
        datasets.load_telco_churn()


def test_damaged_data_file_is_refused(tmp_path, monkeypatch):
    from mlcasebook.datasets import _files

    (tmp_path / "telco_churn.csv").write_text("churn,tenure\nYes,1\n")
    monkeypatch.setenv("MLCASEBOOK_DATA", str(tmp_path))
    monkeypatch.setattr(_files, "_verified", set())
    with pytest.raises(DataFileError, match="damaged or edited"):
        datasets.load_telco_churn()


def test_data_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLCASEBOOK_DATA", raising=False)
    assert len(datasets.load_telco_churn().frame) == 7043
