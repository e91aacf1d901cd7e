"""The design rounds' generators: each truth they claim is recoverable from the data they return."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mlcasebook.datasets.design import (
    SEPARATION,
    WEIGHTS_A,
    WEIGHTS_B,
    _signals,
    make_moderation_days,
    make_query_log,
    make_transactions,
)

# ---------------------------------------------------------------- transactions


@pytest.fixture(scope="module")
def transactions():
    return make_transactions(60, per_day=3_000, attack_day=20, attack_size=50, quiet_days=(33,), random_state=3)


def test_transactions_frame_and_truth_line_up(transactions):
    f, t = transactions.frame, transactions.truth
    assert list(f["transaction_id"]) == list(range(len(f)))
    assert f["timestamp"].is_monotonic_increasing
    assert len(t.is_fraud) == len(t.probability) == len(f)
    assert (f["day"] == (f["timestamp"] - f["timestamp"].min().normalize()).dt.days).all()
    # weekdays carry more transactions than weekends: 1.08 against 0.8 times per_day
    volume = f.groupby("day").size()
    assert volume[volume.index % 7 < 5].mean() / volume[volume.index % 7 >= 5].mean() == pytest.approx(1.35, abs=0.05)


def test_fraud_rate_attack_and_quiet_day(transactions):
    f, t = transactions.frame, transactions.truth
    by_day = pd.Series(t.is_fraud).groupby(f["day"]).agg(["mean", "sum", "size"])
    ordinary = by_day.drop([20, 33])
    # 0.8 % a day on ordinary days: the mean of 58 daily rates has an SE of about 0.0003
    assert ordinary["mean"].mean() == pytest.approx(0.008, abs=0.001)
    assert by_day.loc[33, "sum"] == 0
    attack = f[(f["day"] == 20)]
    assert by_day.loc[20, "sum"] >= 50 and attack["new_device"].mean() > 0.05


def test_chargebacks_arrive_within_maturity_and_are_censored(transactions):
    f, t = transactions.frame, transactions.truth
    arrived = f["chargeback_day"].notna()
    assert not (arrived & ~t.is_fraud).any()                              # only frauds get chargebacks
    delay = f.loc[arrived, "chargeback_day"] - f.loc[arrived, "day"]
    assert delay.min() >= 2 and delay.max() <= t.maturity_days
    matured_delay = delay[f.loc[arrived, "day"] <= t.as_of - t.maturity_days]   # uncensored: every delay seen
    assert matured_delay.mean() == pytest.approx(14, abs=1)                         # "two weeks on average"
    assert f["chargeback_day"].max() <= t.as_of
    matured = f["day"] <= t.as_of - t.maturity_days
    assert (arrived[matured] == t.is_fraud[matured]).all()                # matured labels are final
    recent = f["day"] > t.as_of - 5
    assert arrived[recent].sum() < 0.2 * t.is_fraud[recent].sum()         # recent frauds mostly unlabelled


def test_the_fraud_probability_is_the_stated_logistic_model(transactions):
    """Refitting a logistic regression on the signals of early and late days recovers the drifting weights."""
    f, t = transactions.frame, transactions.truth
    x = _signals(f["hour"].to_numpy(), f["amount"].to_numpy(), f["online"].to_numpy(), f["foreign"].to_numpy(),
                 f["card_age_days"].to_numpy(), f["txns_last_24h"].to_numpy(), f["merchant_risk"].to_numpy(),
                 f["new_device"].to_numpy())
    ordinary = ~f["day"].isin([20, 33]).to_numpy()
    logit = np.log(t.probability[ordinary] / (1 - t.probability[ordinary]))
    tau = (f["day"].to_numpy()[ordinary] / 59 * t.drift)[:, None]
    weights = SEPARATION * ((1 - tau) * WEIGHTS_A + tau * WEIGHTS_B)
    # the log-odds are exactly the weighted signals plus a per-day intercept
    residual = pd.Series(logit - (x[ordinary] * weights).sum(axis=1)).groupby(f["day"].to_numpy()[ordinary]).std()
    assert residual.max() < 1e-6
    # and a logistic regression on the realised labels of the first weeks finds the start weights
    early = ordinary & (f["day"].to_numpy() < 15)
    fitted = LogisticRegression(C=100, max_iter=2_000).fit(x[early], t.is_fraud[early]).coef_[0]
    start = SEPARATION * WEIGHTS_A
    assert np.corrcoef(fitted, start)[0, 1] > 0.9


def test_the_deployed_score_ranks_like_the_truth(transactions):
    f, t = transactions.frame, transactions.truth
    ordinary = ~f["day"].isin([20, 33])
    auc_score = roc_auc_score(t.is_fraud[ordinary], f.loc[ordinary, "score"])
    auc_truth = roc_auc_score(t.is_fraud[ordinary], t.probability[ordinary])
    assert auc_truth > auc_score > auc_truth - 0.03 and auc_score > 0.95


def test_transactions_are_reproducible():
    a = make_transactions(10, per_day=200, random_state=5).frame
    b = make_transactions(10, per_day=200, random_state=5).frame
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------- moderation


def test_moderation_days_blind_share_and_model_strength():
    data = make_moderation_days(3, items_per_day=30_000, violation_rate=0.03, blind_share=0.25, random_state=1)
    f, t = data.frame, data.truth
    assert list(f.groupby("day").size()) == [30_000] * 3
    assert f["violation"].mean() == pytest.approx(0.03, abs=0.002)
    violating = f["violation"] == 1
    assert t.blind[violating.to_numpy()].mean() == pytest.approx(0.25, abs=0.03) and not t.blind[~violating].any()
    # the cheap model cannot tell a blind violation from a benign item; the expensive model still sees it
    blind = t.blind
    benign = ~violating.to_numpy()
    assert ks_2samp(f.loc[blind, "cheap_score"], f.loc[benign, "cheap_score"]).pvalue > 0.001
    assert f.loc[blind, "expensive_score"].median() > f.loc[benign, "expensive_score"].quantile(0.99)
    auc_cheap = roc_auc_score(f["violation"], f["cheap_score"])
    auc_expensive = roc_auc_score(f["violation"], f["expensive_score"])
    assert auc_expensive > 0.98 and auc_cheap < auc_expensive - 0.05
    # the latent visibility is N(3.4, 1) for violations, N(0, 1) otherwise
    assert t.visibility[violating.to_numpy()].mean() == pytest.approx(3.4, abs=0.05)
    assert t.visibility[benign].std() == pytest.approx(1.0, abs=0.02)


def test_a_day_without_violations():
    f = make_moderation_days(1, items_per_day=2_000, violation_rate=0.0, random_state=0).frame
    assert f["violation"].sum() == 0


# ---------------------------------------------------------------- query log


@pytest.fixture(scope="module")
def query_log():
    return make_query_log(28, per_day=6_000, random_state=2)


def test_query_log_columns_and_typed_prefixes(query_log):
    f = query_log.frame
    assert f["timestamp"].is_monotonic_increasing and f["day"].max() == 27
    assert all(q.startswith(p) and 1 <= len(p) <= min(6, len(q)) for q, p in zip(f["query"], f["typed"], strict=True))


def test_popularity_is_zipf(query_log):
    """On the days no trend touches (15-22), the log-log slope of count against popularity rank is about -1.05."""
    f, t = query_log.frame, query_log.truth
    quiet = f[(f["day"] >= 15) & (f["day"] <= 22)]
    counts = quiet["query"].value_counts().reindex(t.popularity.index).fillna(0)
    ranks = np.arange(1, 201)
    top = counts.iloc[:200].to_numpy()
    keep = ~np.isin(t.popularity.index[:200], t.trending + t.fading) & (top > 0)
    slope = np.polyfit(np.log(ranks[keep]), np.log(top[keep]), 1)[0]
    assert slope == pytest.approx(-1.05, abs=0.1)


def test_trending_and_fading_queries(query_log):
    f, t = query_log.frame, query_log.truth
    share = f.groupby(["day", "query"]).size().unstack(fill_value=0)
    share = share.div(share.sum(axis=1), axis=0)
    trending = share[t.trending]
    # the surge: the last day's share is many times the base share (up to 1 + surge before renormalising)
    assert (trending.loc[27] / trending.loc[15:22].mean()).median() > 10
    assert (trending.loc[27] > trending.loc[15:22].mean()).all()
    fading = share[t.fading]
    assert (fading.loc[0:9].mean() / fading.loc[15:22].mean()).median() > 10
