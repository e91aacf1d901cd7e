"""datasets.retraining: the replay prices schedules consistently, its oracle is optimal, the campaign's truth holds."""

import itertools

import numpy as np
import pytest

from mlcasebook.datasets import Drift, Replay, make_contact_campaign, make_production_stream


@pytest.fixture(scope="module")
def small():
    stream = make_production_stream(14, rows_per_window=600, reference_windows=4, label_delay=2,
                                    drifts=[Drift("contract", "concept", 6, 1.0)], random_state=3)
    return Replay(stream, lookback=5, cost_per_retrain=600.0, cost_per_error=40.0)


def test_oracle_is_the_cheapest_schedule(small):
    """Brute force over every schedule of at most two retrains: none is cheaper than the dynamic programme."""
    oracle = small.oracle()
    windows = list(small.decision_windows)
    best = min(small.schedule(s).cost for k in range(3) for s in itertools.combinations(windows, k))
    assert oracle.cost <= best + 1e-6
    assert oracle.n_retrains >= 1  # the concept drift is worth a retrain at these costs


def test_schedule_accounting(small):
    result = small.schedule([8])
    assert result.cost == pytest.approx(result.retrain_cost + result.error_cost)
    assert result.retrain_cost == 600.0 and result.error_cost == pytest.approx(40.0 * result.avoidable_errors)
    table = result.table
    assert list(table["window"]) == list(range(4, 14)) and table.loc[table["window"] > 8, "version"].eq(1).all()
    assert result.avoidable_errors == pytest.approx(table["avoidable_errors"].sum())
    assert (table["avoidable_errors"] > -1e-9).all()  # never fewer errors than deciding with the true probability


def test_a_retrain_on_post_change_labels_recovers_the_new_concept(small):
    """After the concept drift of week 6, a model retrained once the lookback holds only post-change weeks (end of
    week 10: weeks 6-8) makes far fewer avoidable errors than the stale one on weeks 11-13."""
    stale = small.schedule([]).table.set_index("window").loc[11:, "avoidable_errors"].sum()
    fresh = small.schedule([10]).table.set_index("window").loc[11:, "avoidable_errors"].sum()
    assert fresh < 0.5 * stale


def test_psi_is_small_without_drift_and_large_with_it():
    quiet = Replay(make_production_stream(10, rows_per_window=800, drifts=[], random_state=1))
    shifted = Replay(make_production_stream(10, rows_per_window=800, drifts=[Drift("monthly_charges", "covariate", 6,
                                                                                     1.0)], random_state=1))
    assert quiet.schedule([]).table["psi"].max() < 0.1
    table = shifted.schedule([]).table.set_index("window")
    assert table.loc[6:, "psi"].min() > 0.25 > table.loc[:5, "psi"].max()


def test_policy_must_answer_true_or_false(small):
    with pytest.raises(TypeError):
        small.run(lambda history: "yes")


def test_contact_campaign_truth():
    stream = make_production_stream(12, rows_per_window=2_000, drifts=[], random_state=5)
    campaign = make_contact_campaign(stream, save_rate=0.4, holdout_share=0.2, random_state=2)
    f, truth = campaign.frame, campaign.truth
    assert (f["flagged"] == (f["score"] >= 0.5)).all() and not (f["holdout"] & f["contacted"]).any()
    assert f.loc[f["flagged"], "holdout"].mean() == pytest.approx(0.2, abs=0.03)
    # only called churners change: the observed churn of the called is (1 - save rate) of their untreated churn
    untreated = truth.untreated
    assert (f["churned"].to_numpy() <= untreated).all() and (f.loc[~f["contacted"], "churned"] ==
                                                             untreated[~f["contacted"].to_numpy()]).all()
    called = f["contacted"].to_numpy()
    assert f.loc[called, "churned"].mean() / untreated[called].mean() == pytest.approx(0.6, abs=0.05)
    held = f["holdout"].to_numpy()
    se = np.sqrt(truth.precision * (1 - truth.precision) / held.sum())
    assert abs(f.loc[held, "churned"].mean() - truth.precision) < 3 * se
