"""make_click_log keeps its truth: the examination curve is recoverable from the randomised visits (and flat when
there is no bias), clicks follow theta_k * r(u, i), IPW recovers item relevance where raw click rates do not, the log
obeys its own rules (slates, no re-shown clicks, launches and arrivals), and there is personal signal to learn."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from mlcasebook.datasets.ranking import (
    COLUMNS,
    ClickTruth,
    expected_clicks,
    make_click_log,
    power_law_examination,
    simulate_clicks,
)


@pytest.fixture(scope="module")
def bunch():
    return make_click_log(random_state=3)


def test_frame_shape_and_rules(bunch):
    f, truth = bunch.frame, bunch.truth
    assert list(f.columns) == COLUMNS and isinstance(truth, ClickTruth)
    assert f["timestamp"].is_monotonic_increasing
    slates = f.groupby("session_id")
    assert slates.size().eq(10).all()
    assert slates["position"].apply(lambda p: sorted(p) == list(range(1, 11))).all()
    assert slates["item_id"].nunique().eq(10).all()                      # no item twice in a slate
    assert slates[["user_id", "timestamp", "randomised"]].nunique().eq(1).all().all()
    assert f["randomised"].groupby(f["session_id"]).first().mean() == pytest.approx(0.2, abs=0.02)
    # ids are distinct random integers, not 0..n-1
    assert len(truth.user_ids) == 2_000 and truth.user_ids.min() >= 100_000
    assert len(set(truth.item_ids)) == 500 and truth.item_ids.min() >= 10_000


def test_clicked_items_are_never_shown_again_and_launches_and_arrivals_hold(bunch):
    f, truth = bunch.frame, bunch.truth
    first_click = f[f["clicked"] == 1].groupby(["user_id", "item_id"])["timestamp"].min()
    shown = f.set_index(["user_id", "item_id"])["timestamp"]
    later = shown[shown.index.isin(first_click.index)]
    assert (later <= first_click.reindex(later.index)).all()              # nothing shown after the user clicked it
    launch = pd.Series(truth.item_launch, index=truth.item_ids)
    arrival = pd.Series(truth.user_first_seen, index=truth.user_ids)
    assert (f["timestamp"] >= f["item_id"].map(launch)).all()
    assert (f["timestamp"] >= f["user_id"].map(arrival)).all()
    assert (launch > launch.min()).mean() == pytest.approx(0.15, abs=0.04)   # new items launch during the period
    assert (arrival > arrival.min()).mean() == pytest.approx(0.25, abs=0.03)  # new users arrive during it


def test_clicks_follow_examination_times_relevance(bunch):
    f, truth = bunch.frame, bunch.truth
    p = truth.examination[f["position"].to_numpy() - 1] * truth.relevance_of(f["user_id"], f["item_id"])
    # calibration per position: observed click rate within 4 SE of the model's expectation
    by_pos = pd.DataFrame({"clicked": f["clicked"], "p": p, "position": f["position"]}).groupby("position")
    observed, expected, n = by_pos["clicked"].mean(), by_pos["p"].mean(), by_pos.size()
    assert (np.abs(observed - expected) <= 4 * np.sqrt(expected * (1 - expected) / n)).all()


def test_examination_is_recovered_from_the_randomised_visits(bunch):
    f, theta = bunch.frame, bunch.truth.examination
    shuffled = f[f["randomised"]]
    ctr = shuffled.groupby("position")["clicked"].mean()
    est = (ctr / ctr.iloc[0]).to_numpy()
    n = shuffled.groupby("position").size().to_numpy()
    se = theta * np.sqrt((1 - ctr.to_numpy()) / (n * ctr.to_numpy()) + (1 - ctr.iloc[0]) / (n[0] * ctr.iloc[0]))
    assert (np.abs(est - theta) <= 4 * se).all()
    everywhere = f.groupby("position")["clicked"].mean()
    assert (everywhere / everywhere.iloc[0]).iloc[-1] < 0.8 * theta[-1]   # all traffic confounds position and relevance


def test_no_position_bias_means_a_flat_randomised_curve():
    b = make_click_log(1_000, n_items=200, examination=np.ones(10), randomised_share=0.5, random_state=4)
    shuffled = b.frame[b.frame["randomised"]]
    ctr = shuffled.groupby("position")["clicked"].mean()
    assert (ctr / ctr.iloc[0]).between(0.8, 1.2).all()
    everywhere = b.frame[~b.frame["randomised"]].groupby("position")["clicked"].mean()
    assert everywhere.iloc[-1] < 0.7 * everywhere.iloc[0]                  # the policy still sorts by relevance


def test_ipw_recovers_item_relevance_where_raw_ctr_does_not(bunch):
    f, truth = bunch.frame, bunch.truth
    theta = truth.examination
    true_item = pd.Series(truth.relevance_of(f["user_id"], f["item_id"]), index=f.index).groupby(f["item_id"]).mean()
    raw = f.groupby("item_id")["clicked"].mean()
    ipw = (f["clicked"] / theta[f["position"] - 1]).groupby(f["item_id"]).mean()
    assert abs((ipw - true_item).mean()) < 0.01 < abs((raw - true_item).mean())
    assert (ipw - true_item).abs().mean() < 0.6 * (raw - true_item).abs().mean()


def test_there_is_personal_signal():
    """Users differ: each user's own top items are far more relevant to them than the globally best items are."""
    truth = make_click_log(500, n_items=200, random_state=5).truth
    r = truth.relevance
    own_best = np.sort(r, axis=1)[:, -10:].mean()
    global_best = r[:, np.argsort(-r.mean(axis=0))[:10]].mean()
    assert own_best > 1.5 * global_best


def test_simulated_clicks_match_their_expectation(bunch):
    truth = bunch.truth
    users = truth.user_ids[:300]
    slates = np.tile(truth.item_ids[:10], (300, 1))
    slates[:5, -2:] = -1                                                  # padding is never clicked
    draws = np.mean([simulate_clicks(truth, users, slates, random_state=s) for s in range(40)], axis=0)
    expected = expected_clicks(truth, users, slates)
    assert draws[:5, -2:].sum() == 0 and expected[:5, -2:].sum() == 0
    assert np.abs(draws.sum(axis=1) - expected.sum(axis=1)).mean() < 0.1
    with pytest.raises(ValueError):
        simulate_clicks(truth, users, np.tile(truth.item_ids[:11], (300, 1)))


def test_same_seed_same_log_and_bad_settings_raise():
    a, b = make_click_log(200, n_items=60, random_state=9), make_click_log(200, n_items=60, random_state=9)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    with pytest.raises(ValueError):
        make_click_log(100, n_items=50, examination=[1.0, 0.5])
    assert power_law_examination(3, 1.0) == pytest.approx([1.0, 0.5, 1 / 3])


def test_the_notebook_log_is_fast():
    start = time.process_time()
    make_click_log(random_state=0)
    assert time.process_time() - start < 2.0
