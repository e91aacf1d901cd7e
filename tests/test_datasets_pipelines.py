"""datasets.pipelines.make_event_log: the truth it claims is in the data it returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlcasebook.cases import pipelines as case
from mlcasebook.checks.pipelines import naive_features, reference_features
from mlcasebook.datasets.pipelines import SKEWS, make_event_log


@pytest.fixture(scope="module")
def log():
    return make_event_log(random_state=0)


@pytest.fixture(scope="module")
def features(log):
    return reference_features(log.events, log.labels), naive_features(log.events, log.labels)


def test_shapes_types_and_determinism(log):
    assert list(log.events.columns) == ["customer_id", "timestamp", "event_type", "amount"]
    assert set(log.events["event_type"]) == set(case.EVENT_TYPES)
    assert log.events["timestamp"].is_monotonic_increasing
    assert log.events["timestamp"].min() >= case.LOG_START and log.events["timestamp"].max() < case.LOG_END
    assert str(log.events["timestamp"].dtype) == str(log.labels["label_time"].dtype) == "datetime64[us]"
    assert list(log.labels.columns) == ["customer_id", "label_time", "churned", *case.ATTRIBUTES]
    assert log.frame is log.labels
    again = make_event_log(300, n_requests=50, random_state=5)
    same = make_event_log(300, n_requests=50, random_state=5)
    pd.testing.assert_frame_equal(again.events, same.events)
    pd.testing.assert_frame_equal(again.serving_log, same.serving_log)
    with pytest.raises(ValueError, match="skew"):
        make_event_log(10, skew="typo")


def test_labels_follow_the_churn_times(log):
    churn = log.truth.churn_time.reindex(log.labels["customer_id"]).to_numpy()
    t = log.labels["label_time"].to_numpy()
    assert np.all(pd.isna(churn) | (churn > t))       # a snapshot only of customers still subscribed
    positive = ~pd.isna(churn) & (churn < t + np.timedelta64(30, "D"))
    np.testing.assert_array_equal(positive, log.labels["churned"].to_numpy() == 1)
    assert set(log.labels["label_time"].dt.day) == {1} and log.labels["label_time"].dt.month.min() == 2


def test_no_event_after_the_cancellation_except_its_refund(log):
    churn = log.truth.churn_time.reindex(log.events["customer_id"]).to_numpy()
    after = ~pd.isna(churn) & (log.events["timestamp"].to_numpy() >= churn)
    refunds = (log.events["event_type"] == "payment") & (log.events["amount"] < 0)
    assert after.any() and np.array_equal(after, refunds.to_numpy() & log.truth.caused_by_churn)


def test_churn_caused_events_lie_after_the_label_time_of_the_snapshot_they_are_about(log):
    caused = log.events[log.truth.caused_by_churn]
    kinds = log.truth.churn_kind.reindex(caused["customer_id"]).to_numpy()
    assert set(kinds) == {"voluntary"} and set(caused["event_type"]) == {"cancel_page_visit", "payment"}
    last_positive = log.labels[log.labels["churned"] == 1].groupby("customer_id")["label_time"].max()
    when = last_positive.reindex(caused["customer_id"]).to_numpy()
    before = ~pd.isna(when) & (caused["timestamp"].to_numpy() <= when)
    # the only exception: the visit minutes before a cancellation that comes minutes after a snapshot
    assert before.mean() < 0.01 and set(caused.loc[before, "event_type"]) <= {"cancel_page_visit"}
    assert np.all(caused["timestamp"].to_numpy()[before] > when[before] - np.timedelta64(30, "m"))


def test_involuntary_churn_follows_a_failed_payment_at_the_snapshot(log):
    """The failure that ends a subscription is stamped at the first of the month: visible only with <=."""
    kind = log.truth.churn_kind
    invol = kind[kind == "involuntary"].index
    failed = log.events[log.events["event_type"] == "payment_failed"]
    last_fail = failed.groupby("customer_id")["timestamp"].max().reindex(invol)
    gap = (log.truth.churn_time[invol] - last_fail) / pd.Timedelta(days=1)
    assert gap.between(3, 12).all() and (last_fail.dt.day == 1).all() and (last_fail.dt.hour == 0).all()


def test_the_leaky_features_are_the_ones_the_naive_join_inflates(log, features):
    """Each feature alone: the naive join gains more than 0.1 of AUC distance from chance exactly on the features
    the truth lists."""
    asof, naive = features
    y = log.labels["churned"].to_numpy()

    def strength(x):
        return abs(roc_auc_score(y, x.fillna(-1)) - 0.5)

    gain = {f: strength(naive[f]) - strength(asof[f]) for f in case.FEATURES}
    assert {f for f, g in gain.items() if g > 0.1} == set(log.truth.leaky_features)


def test_the_pre_churn_signal_is_recoverable(log, features):
    """As of the snapshot, churners-to-be log in less, visit the cancellation page more and filed tickets lately."""
    asof, _ = features
    pos = log.labels["churned"].to_numpy() == 1
    voluntary = log.truth.churn_kind.reindex(log.labels["customer_id"]).to_numpy() == "voluntary"
    assert asof.loc[pos & voluntary, "logins_30d"].mean() < 0.7 * asof.loc[~pos, "logins_30d"].mean()
    assert asof.loc[pos & voluntary, "cancel_visits_30d"].mean() > 3 * asof.loc[~pos, "cancel_visits_30d"].mean()
    assert asof.loc[pos & voluntary, "days_since_ticket"].median() < asof.loc[~pos, "days_since_ticket"].median()


@pytest.mark.parametrize("kind", [*SKEWS, None])
def test_the_serving_log_differs_from_training_exactly_in_its_skew(kind):
    log = make_event_log(400, n_requests=300, skew=kind, random_state=11)
    served = log.serving_log
    offline = reference_features(log.events, served.rename(columns={"request_time": "label_time"}))
    disagree = {f for f in case.FEATURES if not np.isclose(served[f], offline[f], equal_nan=True).all()}
    assert disagree == ({SKEWS[kind]} if kind else set())
    assert (log.truth.skew or {}).get("feature") == (SKEWS[kind] if kind else None)
    # floats are logged with fewer digits: exactly equal on few rows, equal within np.isclose on all
    exact = (served["days_since_ticket"] == offline["days_since_ticket"]).mean()
    assert kind in ("null_fill", "timezone") or exact < 0.2


def test_serving_requests_come_from_subscribed_customers_and_the_cancellation_page(log):
    s = log.serving_log
    churn = log.truth.churn_time.reindex(s["customer_id"]).to_numpy()
    assert np.all(pd.isna(churn) | (churn > s["request_time"].to_numpy()))
    assert s["request_time"].min() >= pd.Timestamp("2024-12-01") and s["request_time"].is_monotonic_increasing
    visits = log.events[(log.events["event_type"] == "cancel_page_visit")
                        & (log.events["timestamp"] >= pd.Timestamp("2024-12-01"))]
    assert (s["page"] == "cancel").sum() == len(visits)
    evening = s.loc[s["page"] == "home", "request_time"].dt.hour.between(18, 22).mean()
    assert evening > 5 / 24 * 1.3      # more requests in the evening than a flat day would give
