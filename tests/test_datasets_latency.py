"""The latency generators know their truth: a flexible model recovers the scoring data's interactions, the request
log's tail stage is the one its truth names, a canary stream's regression is where and as large as it says, a
window's p99 is distributed as the p99 of its requests, and the scripted model takes the time it is scripted to."""

import time

import numpy as np
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

from mlcasebook.datasets import latency as data


def test_scoring_data_rewards_a_flexible_model_and_knows_the_oracle():
    s = data.make_scoring_data(8_000, random_state=3)
    assert list(s.frame.columns) == s.feature_names and s.target.name == "churned"
    assert 0.25 < s.target.mean() < 0.40 and s.truth.probability.shape == (8_000,)
    enc = make_column_transformer((OneHotEncoder(sparse_output=False), s.categorical_features), remainder="passthrough")
    X = enc.fit_transform(s.frame)
    y = s.target.to_numpy()
    test = slice(5_000, None)
    forest = RandomForestClassifier(100, min_samples_leaf=5, random_state=0).fit(X[:5_000], y[:5_000])
    linear = LogisticRegression(max_iter=2_000).fit(X[:5_000], y[:5_000])
    oracle = s.truth.oracle_auc(y[test], np.arange(5_000, 8_000))
    forest_auc = roc_auc_score(y[test], forest.predict_proba(X[test])[:, 1])
    linear_auc = roc_auc_score(y[test], linear.predict_proba(X[test])[:, 1])
    assert oracle - 0.03 < forest_auc <= oracle + 0.01   # the interactions are learnable
    assert linear_auc < forest_auc - 0.015               # and a straight line misses part of them
    again = data.make_scoring_data(8_000, random_state=3)
    assert again.frame.equals(s.frame) and again.target.equals(s.target)
    with pytest.raises(ValueError, match="positive"):
        data.make_scoring_data(0)


def test_stage_log_truth_is_recovered_from_a_sample():
    log = data.make_stage_log(40_000, random_state=5)
    f, truth = log.frame, log.truth
    assert log.stages == ["feature_fetch_ms", "model_ms", "postprocess_ms"]
    assert np.allclose(f["total_ms"], f[log.stages].sum(axis=1))
    total = f["total_ms"]
    tail = f.loc[total >= total.quantile(0.99), log.stages].mean()
    assert tail.idxmax() == truth.tail_stage
    for column in log.stages:
        assert tail[column] == pytest.approx(truth.tail_mean_ms[column], rel=0.08)
        assert f[column].mean() == pytest.approx(truth.mean_ms[column], rel=0.02)
    assert total.quantile(0.99) == pytest.approx(truth.request_p99_ms, rel=0.03)
    # another path: a stage with no slow events and a large spread eats the tail
    other = (data.Stage("a", 5.0, 0.2), data.Stage("b", 5.0, 0.7))
    assert data.make_stage_log(5_000, stages=other, random_state=1).truth.tail_stage == "b_ms"
    with pytest.raises(ValueError, match="positive"):
        data.make_stage_log(0)


def test_a_good_canary_matches_its_baseline_and_a_regression_shows_where_it_says():
    z = []
    for seed in range(60):
        s = data.make_canary_stream(30, random_state=seed)
        c, b = s.canary, s.baseline
        assert s.truth.onset is None and not s.truth.regression
        p = (c.errors.sum() + b.errors.sum()) / (c.requests.sum() + b.requests.sum())
        z.append((c.errors.sum() / c.requests.sum() - b.errors.sum() / b.requests.sum())
                 / np.sqrt(p * (1 - p) * (1 / c.requests.sum() + 1 / b.requests.sum())))
    assert abs(np.mean(z)) < 0.5 and 0.7 < np.std(z) < 1.3   # no difference beyond binomial noise
    s = data.make_canary_stream(40, requests_per_window=200_000, error_lift=2.0, latency_lift=1.5, onset=20,
                                random_state=7)
    c, b = s.canary, s.baseline
    before, after = c.window < 20, c.window >= 20
    ratio = lambda col, m: (c.loc[m, col] / b.loc[m, col]).median()  # noqa: E731
    assert ratio("error_rate", before) == pytest.approx(1.0, abs=0.1)
    assert ratio("error_rate", after) == pytest.approx(2.0, abs=0.15)
    assert ratio("p99_ms", before) == pytest.approx(1.0, abs=0.03)
    assert ratio("p99_ms", after) == pytest.approx(1.5, abs=0.05)
    assert c.requests.sum() == pytest.approx(0.05 * (c.requests.sum() + b.requests.sum()), rel=0.02)


def test_window_p99_is_the_p99_of_its_requests():
    """The order-statistic draw matches the nearest-rank p99 of simulated lognormal requests."""
    rng = np.random.default_rng(0)
    n, mu, sigma = 1_000, np.log(20.0), 0.5
    direct = [np.percentile(rng.lognormal(mu, sigma, n), 99, method="inverted_cdf") for _ in range(400)]
    drawn = data._window_p99(np.full(400, n), np.full(400, mu), sigma, rng)
    assert np.mean(drawn) == pytest.approx(np.mean(direct), rel=0.02)
    assert np.std(drawn) == pytest.approx(np.std(direct), rel=0.2)


def test_scripted_model_takes_its_scripted_time():
    m = data.ScriptedModel(base_ms=2.0, per_row_ms=0.01, cold_calls=2, cold_ms=15.0, pause_every=3, pause_ms=5.0)
    assert [m.scripted_ms(k, 100) for k in range(1, 8)] == [15.0, 15.0, 3.0, 3.0, 8.0, 3.0, 3.0]
    X = np.zeros((100, 3))
    took = []
    for _ in range(5):
        t0 = time.perf_counter()
        proba = m.predict_proba(X)
        took.append((time.perf_counter() - t0) * 1000)
    assert proba.shape == (100, 2) and m.calls == 5
    assert all(t >= want - 0.05 for t, want in zip(took, [15.0, 15.0, 3.0, 3.0, 8.0], strict=True))
    assert m.predict(X).shape == (100,)
