"""make_ab_experiment: simple estimators recover the truth it claims.

Tolerances are stated in standard errors (SE) of the estimator at the sample size used; 4 SE
keeps a false failure below 1 in 10,000 per assertion.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare

from mlcasebook.datasets import ABTruth, make_ab_experiment


def _rates(frame: pd.DataFrame, by=("arm",)) -> pd.DataFrame:
    return frame.groupby(list(by))["converted"].agg(["mean", "count"])


def _diff_and_se(frame: pd.DataFrame) -> tuple[float, float]:
    r = _rates(frame)
    p1, n1 = r.loc["treatment"]
    p0, n0 = r.loc["control"]
    return p1 - p0, float(np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0))


def test_frame_layout_and_reproducibility():
    ab = make_ab_experiment(5_000, random_state=3)
    assert isinstance(ab.truth, ABTruth)
    assert list(ab.frame.columns) == ["user_id", "day", "segment", "arm", "treated", "pre_metric", "converted",
                                      "revenue"]
    assert len(ab.frame) == 5_000
    assert set(ab.frame["arm"]) == {"control", "treatment"}
    assert (ab.frame["treated"] == (ab.frame["arm"] == "treatment")).all()
    assert ab.target.equals(ab.frame["converted"])
    assert (ab.frame.loc[ab.frame["converted"] == 0, "revenue"] == 0).all()
    pd.testing.assert_frame_equal(ab.frame, make_ab_experiment(5_000, random_state=3).frame)
    assert not ab.frame.equals(make_ab_experiment(5_000, random_state=4).frame)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_difference_in_proportions_recovers_lift(seed):
    # 240,000 users: SE of the difference ~0.00125, so the 1 pp lift is 8 SE from zero and a generator that
    # ignored ``lift`` fails every seed, not one in two.
    ab = make_ab_experiment(240_000, baseline_rate=0.10, lift=0.01, random_state=seed)
    diff, se = _diff_and_se(ab.frame)
    assert se < 0.0013
    assert abs(diff - 0.01) < 4 * se
    control = _rates(ab.frame).loc["control"]
    assert abs(control["mean"] - 0.10) < 4 * np.sqrt(0.09 / control["count"])
    assert ab.truth.lift == pytest.approx(0.01) and ab.truth.relative_lift == pytest.approx(0.1)


def test_no_effect_gives_no_difference_and_nominal_ci_coverage():
    # 200 null experiments: the 95 % CI of the difference covers 0 about 95 % of the time
    # (binomial SE of the coverage over 200 runs is 1.5 pp; accept 0.90-0.99).
    cover = 0
    for seed in range(200):
        ab = make_ab_experiment(4_000, lift=0.0, random_state=seed)
        diff, se = _diff_and_se(ab.frame)
        cover += abs(diff) <= 1.96 * se
    assert 0.90 <= cover / 200 <= 0.99


def test_covariate_correlation_and_cuped_variance_ratio():
    ab = make_ab_experiment(80_000, covariate_corr=0.4, random_state=5)
    f = ab.frame
    control = f[f["arm"] == "control"]
    r = np.corrcoef(control["pre_metric"], control["converted"])[0, 1]
    # SE of a correlation ~ (1 - rho^2) / sqrt(n) = 0.84 / 200 = 0.004
    assert abs(r - ab.truth.covariate_corr) < 0.02
    theta = np.cov(f["pre_metric"], f["converted"])[0, 1] / f["pre_metric"].var()
    adjusted = f["converted"] - theta * (f["pre_metric"] - f["pre_metric"].mean())
    ratio = adjusted.var() / f["converted"].var()
    assert ab.truth.cuped_variance_ratio == pytest.approx(1 - 0.4**2)
    assert abs(ratio - ab.truth.cuped_variance_ratio) < 0.02
    treated = f[f["arm"] == "treatment"]
    r_t = np.corrcoef(treated["pre_metric"], treated["converted"])[0, 1]
    assert abs(r_t - ab.truth.covariate_corr_treatment) < 0.02


def test_unrelated_covariate_and_impossible_correlation():
    ab = make_ab_experiment(40_000, covariate_corr=0.0, random_state=6)
    assert abs(np.corrcoef(ab.frame["pre_metric"], ab.frame["converted"])[0, 1]) < 0.02
    with pytest.raises(ValueError, match="covariate_corr"):
        make_ab_experiment(100, covariate_corr=0.9)


def test_segments_have_their_own_lift():
    segs = {"new": (0.5, 0.03), "returning": (0.5, -0.02)}
    ab = make_ab_experiment(120_000, segments=segs, random_state=7)
    assert ab.truth.lift == pytest.approx(0.005)
    for name, (share, seg_lift) in segs.items():
        part = ab.frame[ab.frame["segment"] == name]
        assert abs(len(part) / len(ab.frame) - share) < 0.01
        diff, se = _diff_and_se(part)
        assert abs(diff - seg_lift) < 4 * se


def test_daily_traffic_sets_duration():
    ab = make_ab_experiment(10_500, daily_traffic=2_000, random_state=8)
    assert ab.truth.n_days == 6 and ab.truth.daily_traffic == 2_000
    counts = ab.frame["day"].value_counts().sort_index()
    assert counts.tolist() == [2_000] * 5 + [500]


def test_novelty_by_user_enrolment_day():
    half = 5 * np.log(2)  # e^(-t/5)
    ab = make_ab_experiment(280_000, lift=0.01, novelty_lift=0.07, novelty_half_life=half, random_state=9)
    t = np.arange(14)
    assert ab.truth.lift_on_day(t) == pytest.approx(0.01 + 0.07 * np.exp(-t / 5))
    assert ab.truth.naive_lift == pytest.approx(0.01 + 0.07 * np.exp(-t / 5).mean())
    diff, se = _diff_and_se(ab.frame)
    assert abs(diff - ab.truth.naive_lift) < 4 * se
    by_day = ab.frame.groupby(["day", "arm"])["converted"].mean().unstack()
    observed = (by_day["treatment"] - by_day["control"]).to_numpy()
    # each day ~20,000 users: SE of a daily difference ~0.0045; the fitted decay is clear.
    assert np.max(np.abs(observed - ab.truth.lift_on_day(t))) < 4 * 0.0046
    assert observed[:3].mean() > observed[-3:].mean() + 0.03


def test_novelty_by_exposure_day_in_user_day_panel():
    ab = make_ab_experiment(30_000, unit="user_day", baseline_rate=0.2, lift=0.01, novelty_lift=0.07,
                            novelty_half_life=3.0, random_state=10)
    f = ab.frame
    assert {"first_day", "exposure_day"} <= set(f.columns)
    assert (f["day"] == f["first_day"] + f["exposure_day"]).all()
    assert len(f) == sum(14 - d for d in (np.arange(30_000) * 14) // 30_000)
    by_t = f.groupby(["exposure_day", "arm"])["converted"].agg(["mean", "count"]).unstack()
    diff = (by_t["mean"]["treatment"] - by_t["mean"]["control"]).to_numpy()
    n_t = by_t["count"].sum(axis=1).to_numpy()
    se = np.sqrt(2 * 0.2 * 0.8 * 2 / n_t) * 1.5  # x1.5: days of a user are correlated
    truth = ab.truth.lift_on_day(np.arange(len(diff)))
    assert np.all(np.abs(diff - truth) < 4 * se)
    d_all, _ = _diff_and_se(f)
    assert abs(d_all - ab.truth.naive_lift) < 0.006


def test_sample_ratio_mismatch_is_detectable_and_biases_the_naive_lift():
    ab = make_ab_experiment(100_000, srm_drop=0.02, lift=0.0, random_state=11)
    counts = ab.frame["arm"].value_counts()
    share = counts["treatment"] / counts.sum()
    assert abs(share - ab.truth.observed_treatment_share) < 4 * np.sqrt(0.25 / counts.sum())
    assert chisquare([counts["control"], counts["treatment"]]).pvalue < 1e-3
    # A heavier loss (10 % of treated users, mostly low-propensity) makes a no-effect change look like a win:
    # the bias is ~+0.7 pp, more than 4 SE (0.0019 each at 100,000 users).
    lossy = make_ab_experiment(100_000, srm_drop=0.1, lift=0.0, random_state=11)
    diff, se = _diff_and_se(lossy.frame)
    assert diff > 2 * se
    balanced = make_ab_experiment(100_000, lift=0.0, random_state=11)["frame"]["arm"].value_counts()
    assert chisquare([balanced["control"], balanced["treatment"]]).pvalue > 1e-3


def test_cluster_design_effect_matches_curriculum_figure():
    # 10,000 clusters of 50 users, ICC 0.02: design effect 1 + 49 * 0.02 = 1.98.
    ab = make_ab_experiment(500_000, lift=0.0, n_clusters=10_000, icc=0.02, randomise_by="cluster", random_state=12)
    assert ab.truth.design_effect == pytest.approx(1.98)
    f = ab.frame
    p = f["converted"].mean()
    means = f.groupby("cluster")["converted"].mean()
    # Variance of cluster means over that of 50 independent users; the estimate's relative SE
    # with 10,000 clusters is ~sqrt(2/10,000) = 1.4 %, so 6 % is > 4 SE.
    assert means.var() / (p * (1 - p) / 50) == pytest.approx(1.98, rel=0.06)
    assert f.groupby("cluster")["arm"].nunique().max() == 1


def test_invalid_settings_are_named():
    with pytest.raises(ValueError, match="randomise_by"):
        make_ab_experiment(100, randomise_by="page_view")
    with pytest.raises(ValueError, match="n_clusters"):
        make_ab_experiment(100, randomise_by="cluster")
    with pytest.raises(ValueError, match="between 0 and 1"):
        make_ab_experiment(100, baseline_rate=0.1, lift=-0.2)
    with pytest.raises(ValueError, match="half_life"):
        make_ab_experiment(100, novelty_lift=0.05)
    with pytest.raises(ValueError, match="shares"):
        make_ab_experiment(100, segments={"a": (0.3, 0.01), "b": (0.3, 0.0)})
