"""The production stream keeps its truth table: each kind of drift does what it says, from when it says, and
nothing moves in the no-drift control beyond sampling error."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from mlcasebook import datasets
from mlcasebook.datasets import Drift, make_production_stream
from mlcasebook.datasets.churn import _intercept, log_odds_terms

N_WINDOWS, REF = 14, 4


@pytest.fixture(scope="module")
def control():
    return make_production_stream(N_WINDOWS, reference_windows=REF, drifts=[], random_state=7)


def _stream(*drifts, seed=7):
    return make_production_stream(N_WINDOWS, reference_windows=REF, drifts=list(drifts), random_state=seed)


def _window(bunch, w):
    return bunch.frame[bunch.frame["window"] == w]


def test_frame_columns_label_delay_and_timestamps():
    s = make_production_stream(8, reference_windows=3, label_delay=3, random_state=1)
    f = s.frame
    assert list(f.columns) == ["timestamp", "window", *s.features, "score", "label", "label_available_at"]
    assert (f["label_available_at"] == f["window"] + 3).all()
    assert f.groupby("window").size().eq(2_000).all() and f["window"].is_monotonic_increasing
    assert f["timestamp"].is_monotonic_increasing
    starts = pd.Timestamp("2025-01-06") + f["window"] * pd.Timedelta("7D")
    assert ((f["timestamp"] >= starts) & (f["timestamp"] < starts + pd.Timedelta("7D"))).all()
    assert f["score"].between(0, 1).all() and set(f["label"].unique()) == {0, 1}
    assert s.target.equals(f["label"]) and len(s.truth.probability) == len(f)
    assert list(s.truth.drifts.columns)[:4] == ["feature", "kind", "start_window", "magnitude"]
    assert set(s.truth.drifts["kind"]) == {"covariate", "null_rate", "concept"}  # the default mixed scenario
    assert (s.truth.drifts["start_window"] >= 3).all()


def test_seeds_reproduce_and_differ():
    a, b = make_production_stream(6, random_state=3), make_production_stream(6, random_state=3)
    assert a.frame.equals(b.frame) and a.truth.performance.equals(b.truth.performance)
    assert not a.frame["label"].equals(make_production_stream(6, random_state=4).frame["label"])


def test_true_probability_is_the_churn_generators(control):
    # the stream reuses make_churn's story: intercept for the churn rate plus the same log-odds terms
    X = control.frame[control.features]
    eta = _intercept(0.2) + sum(log_odds_terms(X).values())
    np.testing.assert_allclose(control.truth.probability, expit(eta), rtol=1e-12)
    churn = datasets.make_churn(2_000, random_state=0)
    eta = _intercept(0.05) + sum(log_odds_terms(churn.frame).values())
    np.testing.assert_allclose(churn.truth.probability, expit(eta), rtol=1e-12)


def test_performance_table_matches_sklearn(control):
    perf = control.truth.performance
    assert len(perf) == N_WINDOWS and perf["reference"].sum() == REF
    for w in (0, 9):
        g, p = _window(control, w), control.truth.probability[control.frame["window"].to_numpy() == w]
        row = perf.loc[perf["window"] == w].iloc[0]
        assert row["auc"] == pytest.approx(roc_auc_score(g["label"], g["score"]), abs=1e-12)
        assert row["average_precision"] == pytest.approx(average_precision_score(g["label"], g["score"]), abs=1e-12)
        assert row["log_loss"] == pytest.approx(log_loss(g["label"], g["score"]), abs=1e-9)
        assert row["accuracy"] == pytest.approx(((g["score"] >= 0.5) == g["label"]).mean())
        assert row["expected_churn_rate"] == pytest.approx(p.mean())
        # expected AUC: every row as p of a churner and 1 - p of a stayer (duplicated, weighted)
        y2, s2, w2 = np.r_[np.ones(len(p)), np.zeros(len(p))], np.r_[g["score"], g["score"]], np.r_[p, 1 - p]
        assert row["expected_auc"] == pytest.approx(roc_auc_score(y2, s2, sample_weight=w2), abs=1e-9)
        assert row["expected_average_precision"] == pytest.approx(
            average_precision_score(y2, s2, sample_weight=w2), abs=1e-9)


def test_no_drift_control_moves_nothing_beyond_sampling_error(control):
    f, perf = control.frame, control.truth.performance
    ref = f[f["window"] < REF]
    pvalues = [stats.ks_2samp(ref[c], _window(control, w)[c]).pvalue
               for c in ["tenure_months", "monthly_charges"] for w in range(REF, N_WINDOWS)]
    # 20 tests of a true null: P(any p < 0.001) <= 2 %
    assert min(pvalues) > 1e-3
    assert f[control.features].notna().all().all()
    # AUC of one window (2,000 customers, ~400 churners) has SE ~ 0.007; allow 4 SE around the reference mean
    ref_auc = perf.loc[perf["reference"], "auc"].mean()
    assert (perf["auc"] - ref_auc).abs().max() < 0.03
    # churn rate per window: SE sqrt(.2*.8/2000) = 0.009; 4 SE
    assert (perf["churn_rate"] - 0.2).abs().max() < 0.036
    # the model is calibrated on the reference population: mean score within 2 points of the mean truth
    assert (perf["mean_score"] - perf["expected_churn_rate"]).abs().max() < 0.02


def test_covariate_drift_moves_the_feature_from_its_start_and_keeps_p_y_given_x(control):
    start, m = 8, 0.6
    s = _stream(Drift("monthly_charges", "covariate", start, m))
    f, cf = s.frame, control.frame
    before = f["window"] < start
    # same customers until the drift starts (per-window random streams), identical scores too
    assert f[before].equals(cf[before])
    moved = f.loc[~before, "monthly_charges"].mean() - cf.loc[~before, "monthly_charges"].mean()
    sd = cf.loc[cf["window"] < REF, "monthly_charges"].std()
    # the same customers shifted by 0.6 SD; clipping at the floor only matters for the control's rows at 18
    assert moved == pytest.approx(m * sd, rel=0.05)
    ref = f[f["window"] < REF]["monthly_charges"]
    assert all(stats.ks_2samp(ref, _window(s, w)["monthly_charges"]).pvalue < 1e-10 for w in range(start, N_WINDOWS))
    # P(y | x) unchanged: the true probability is still the churn generator's function of the (shifted) features
    eta = _intercept(0.2) + sum(log_odds_terms(f[s.features]).values())
    np.testing.assert_allclose(s.truth.probability, expit(eta), rtol=1e-12)


def test_categorical_covariate_drift_moves_mass_to_the_first_level(control):
    s = _stream(Drift("payment_method", "covariate", 6, 0.25))
    share = s.frame.groupby("window")["payment_method"].apply(lambda c: (c == "electronic_check").mean())
    base = control.frame.groupby("window")["payment_method"].apply(lambda c: (c == "electronic_check").mean())
    assert (share[:6] == base[:6]).all()
    # 0.35 + 0.25 * 0.65 = 0.51; per-window SE sqrt(.25*.75/2000)*.65 < 0.01, 4 SE
    assert (share[6:] - (0.35 + 0.25 * 0.65)).abs().max() < 0.04
    # `to` picks the level: 0.20 + 0.4 * 0.80 = 0.52 of "none" (same SE bound)
    s = _stream(Drift("internet_service", "covariate", 6, 0.4, to="none"))
    none = s.frame.groupby("window")["internet_service"].apply(lambda c: (c == "none").mean())
    assert (none[6:] - 0.52).abs().max() < 0.045 and (none[:6] < 0.25).all()
    with pytest.raises(ValueError, match="to"):
        _stream(Drift("internet_service", "covariate", 6, 0.4, to="cable"))


def test_concept_drift_lowers_real_auc_while_features_are_unchanged(control):
    start = 8
    s = _stream(Drift("contract", "concept", start, 1.0))
    feats = s.features
    assert s.frame[feats].equals(control.frame[feats])  # P(x) unchanged: the very same customers
    perf, cperf = s.truth.performance, control.truth.performance
    assert (perf["auc"][:start] == cperf["auc"][:start]).all()
    # per-window AUC SE ~ 0.007; the drop is many SE in every window, and the expected AUC agrees
    assert (perf["auc"][start:] < cperf["auc"][start:] - 0.04).all()
    assert (perf["expected_auc"][start:] < cperf["expected_auc"][start:] - 0.04).all()
    # the intercept is re-set to keep the churn rate: within 4 SE (0.036) of 0.2
    assert (perf["expected_churn_rate"][start:] - 0.2).abs().max() < 0.036


def test_prior_drift_changes_the_base_rate_not_p_x_given_y(control):
    start, m = 7, 0.15
    s = _stream(Drift(None, "prior", start, m))
    perf = s.truth.performance
    # realised churn rate per window: SE sqrt(.35*.65/2000) = 0.011; 4 SE
    assert (perf["churn_rate"][start:] - 0.35).abs().max() < 0.045
    assert (perf["expected_churn_rate"][start:] - 0.35).abs().max() < 0.02
    assert (perf["churn_rate"][:start] == control.truth.performance["churn_rate"][:start]).all()
    # label shift: among churners the contract mix is the reference churners' (χ² test, a true null)
    f = s.frame[s.frame["label"] == 1]
    table = pd.crosstab(f["window"] >= start, f["contract"])
    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_null_rate_raises_that_features_nulls_only(control):
    start, m = 6, 0.3
    s = _stream(Drift("support_calls_90d", "null_rate", start, m, end_window=11))
    null = s.frame.groupby("window")["support_calls_90d"].apply(lambda c: c.isna().mean())
    assert (null[:start] == 0).all() and (null[11:] == 0).all()
    # share of 2,000 rows: SE sqrt(.3*.7/2000) = 0.010; 4 SE
    assert (null[start:11] - m).abs().max() < 0.041
    others = [c for c in s.features if c != "support_calls_90d"]
    assert s.frame[others].notna().all().all() and s.frame[others].equals(control.frame[others])
    # a pipeline bug: the customers, their true churn probabilities and labels are the control's
    np.testing.assert_array_equal(s.truth.probability, control.truth.probability)
    assert s.frame["label"].equals(control.frame["label"])


def test_stale_join_keeps_the_marginal_but_breaks_the_link(control):
    start = 8
    s = _stream(Drift("support_calls_90d", "stale_join", start, 1.0))
    np.testing.assert_array_equal(s.truth.probability, control.truth.probability)
    frozen = set(_window(control, start - 1)["support_calls_90d"])
    corr = s.frame.groupby("window").apply(
        lambda g: np.corrcoef(g["support_calls_90d"], g["internet_service"] == "fiber")[0, 1])
    # fibre customers call more (corr ~ 0.2); a stale value is another customer's: corr 0 with SE 1/sqrt(2000)
    assert (corr[:start] > 0.12).all() and (corr[start:].abs() < 0.09).all()
    assert set(s.frame.loc[s.frame["window"] >= start, "support_calls_90d"]) <= frozen
    # marginal: mean calls per window stay within 4 SE (SD ~1.0 -> SE 0.03 per window, pooled reference)
    means = s.frame.groupby("window")["support_calls_90d"].mean()
    assert (means[start:] - means[:REF].mean()).abs().max() < 0.12
    # the model loses the feature's information: real AUC falls
    assert s.truth.performance["auc"][start:].mean() < control.truth.performance["auc"][start:].mean() - 0.01


def test_ramped_drift_grows_linearly():
    d = Drift("monthly_charges", "covariate", 5, 1.0, ramp=3, end_window=12)
    assert [d.strength(w) for w in (4, 5, 6, 7, 8, 11, 12)] == [0, 0.25, 0.5, 0.75, 1.0, 1.0, 0]


def test_invalid_scenarios_are_refused():
    with pytest.raises(ValueError, match="kind"):
        make_production_stream(6, drifts=[Drift("contract", "label", 4, 0.1)])
    with pytest.raises(ValueError, match="feature"):
        make_production_stream(6, drifts=[Drift("age", "covariate", 4, 0.1)])
    with pytest.raises(ValueError, match="share"):
        make_production_stream(6, drifts=[Drift("contract", "null_rate", 4, 1.5)])
    with pytest.raises(ValueError, match="prior"):
        make_production_stream(6, drifts=[Drift(None, "prior", 4, 0.9)])
    with pytest.raises(ValueError, match="reference_windows"):
        make_production_stream(4, reference_windows=4)


def test_a_year_of_weekly_windows_is_fast():
    make_production_stream(6, random_state=0)  # warm the cached reference sample and intercept
    t0 = time.perf_counter()
    s = make_production_stream(52, rows_per_window=2_000, random_state=1)
    elapsed = time.perf_counter() - t0
    assert len(s.frame) == 104_000
    assert elapsed < 3.0  # 0.4 s measured on an idle 2-core machine, 1.2-1.5 s with four agents on it; 2x margin
