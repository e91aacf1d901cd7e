"""The pitfalls case's data: segments and null slices recover their truth; the curriculum's figures hold."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.formula.api as smf

from mlcasebook import datasets
from mlcasebook.checks.ab_pitfalls import _lift_table


@pytest.fixture(scope="module")
def sliced():
    return datasets.make_sliced_experiment(200_000, random_state=0)


def test_sliced_experiment_has_the_columns_and_truth(sliced):
    frame, truth = sliced.frame, sliced.truth
    assert {"segment", "device", "country", "treated", "converted"} <= set(frame.columns)
    assert set(frame["device"]) == set(datasets.ab_pitfalls.DEVICES)
    assert set(frame["country"]) == set(datasets.ab_pitfalls.COUNTRIES)
    assert truth.experiment.segment_lifts == {"new": 0.03, "returning": -0.02}
    assert truth.helped_segments == ["new"] and truth.harmful_segments == ["returning"]
    # +3 pp for one half, -2 pp for the other: a small positive average
    assert truth.experiment.lift == pytest.approx(0.005)
    assert len(truth.slice_lifts) == 2 + 3 + 5


def test_difference_in_means_recovers_every_slice_lift(sliced):
    for column in ("segment", "device", "country"):
        table = _lift_table(sliced.frame, column)
        for value, row in table.iterrows():
            truth = sliced.truth.slice_lifts[(column, value)]
            assert abs(row["lift"] - truth) < 4 * row["se"], (column, value, row["lift"], truth)


def test_sliced_experiment_is_reproducible():
    a = datasets.make_sliced_experiment(2_000, random_state=7).frame
    b = datasets.make_sliced_experiment(2_000, random_state=7).frame
    assert a.equals(b)
    assert not a.equals(datasets.make_sliced_experiment(2_000, random_state=8).frame)


def test_novelty_figures_of_the_curriculum():
    """lift(t) = 1 % + 7 % e^(-t/5): the naive mean is 2.37 % over 28 days (3.59 % over the first 14)."""
    kwargs = dict(baseline_rate=0.10, lift=0.01, novelty_lift=0.07, novelty_half_life=5 * np.log(2))
    four_weeks = datasets.make_ab_experiment(560_000, daily_traffic=20_000, random_state=1, **kwargs)
    assert four_weeks.truth.naive_lift == pytest.approx(0.02374, abs=5e-5)
    assert np.mean(0.01 + 0.07 * np.exp(-np.arange(14) / 5)) == pytest.approx(0.0359, abs=5e-5)
    frame = four_weeks.frame
    rates = frame.groupby("treated")["converted"].mean()
    se = np.sqrt((rates * (1 - rates) / frame.groupby("treated").size()).sum())
    assert abs(rates[1] - rates[0] - 0.02374) < 4 * se
    first = frame[frame["day"] < 14].groupby("treated")["converted"].mean()
    assert abs(first[1] - first[0] - 0.0359) < 4 * se * np.sqrt(2)
    assert four_weeks.truth.lift_on_day(0) == pytest.approx(0.08)


def test_design_effect_of_the_curriculum():
    """400 clusters of 50 users at ICC 0.02: design effect 1 + 49 * 0.02 = 1.98, measured as a variance ratio.

    The variance ratio of one sample has an SD of ~0.15 across seeds; the mean of 6 seeds is within 0.25.
    """
    ratios = []
    for seed in range(6):
        ab = datasets.make_ab_experiment(20_000, n_clusters=400, icc=0.02, randomise_by="cluster", random_state=seed)
        assert ab.truth.design_effect == pytest.approx(1.98)
        model = smf.ols("converted ~ treated", data=ab.frame)
        robust = model.fit(cov_type="cluster", cov_kwds={"groups": ab.frame["cluster"]})
        ratios.append((robust.bse["treated"] / model.fit().bse["treated"]) ** 2)
    assert abs(np.mean(ratios) - 1.98) < 0.25
