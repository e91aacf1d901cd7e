"""checks.reference, section "proportions": the shared two-proportion statistics agree with statsmodels.

The checks of ab_design and ab_pitfalls compute their right answers from these functions only, so a wrong
formula here would silently move every verdict that uses it.
"""

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize

from mlcasebook.checks import reference as ref


@pytest.mark.parametrize("p0, p1, alpha, power", [(0.10, 0.11, 0.05, 0.8), (0.40, 0.37, 0.01, 0.95),
                                                  (0.03, 0.036, 0.10, 0.90), (0.05, 0.055, 0.05, 0.8)])
@pytest.mark.parametrize("alternative", ["two-sided", "larger"])
def test_sample_size_per_arm_is_statsmodels_power_on_cohens_h(p0, p1, alpha, power, alternative):
    h = abs(proportion_effectsize(p1, p0))
    assert ref.cohens_h(p1, p0) == pytest.approx(h, rel=1e-12)
    want = NormalIndPower().solve_power(h, alpha=alpha, power=power, ratio=1.0, alternative=alternative)
    # statsmodels' two-sided power adds the far tail's (~1e-9) probability: 1e-5 relative at these powers
    assert ref.sample_size_per_arm(p0, p1, alpha, power, alternative) == pytest.approx(want, rel=1e-5)
    # the absolute difference passed as h: the mistake the checks reproduce
    wrong = NormalIndPower().solve_power(abs(p1 - p0), alpha=alpha, power=power, alternative=alternative)
    assert ref.sample_size_per_arm(p0, p1, alpha, power, alternative, effect=p1 - p0) == pytest.approx(wrong, rel=1e-5)


def test_one_variance_formula_is_about_half_the_two_sample_size():
    n = ref.sample_size_per_arm(0.10, 0.11)
    assert ref.one_variance_sample_size(0.10, 0.10, 0.11) / n == pytest.approx(0.479, abs=0.002)
    assert ref.one_variance_sample_size(0.105, 0.10, 0.11) / n == pytest.approx(0.5, abs=0.003)


def test_two_proportion_se_and_wald_interval_match_statsmodels():
    x1, n1, x0, n0 = 230, 2_010, 190, 1_990
    d, lo, hi = ref.wald_interval(x1 / n1, n1, x0 / n0, n0, alpha=0.10)
    want = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff", alpha=0.10)
    assert (lo, hi) == pytest.approx(want, rel=1e-9)
    assert d == pytest.approx(x1 / n1 - x0 / n0)
    se = ref.two_proportion_se(np.array([0.2, 0.1]), np.array([100, 400]), np.array([0.1, 0.1]), np.array([100, 400]))
    assert se == pytest.approx([np.sqrt(0.16 / 100 + 0.09 / 100), np.sqrt(0.09 / 400 * 2)])


def test_interval_bands_are_disjoint_and_hold_the_levels_they_name():
    bands = sorted([ref.HALF_WIDTH_1SE, ref.HALF_WIDTH_90, ref.HALF_WIDTH_95])
    assert all(a[1] < b[0] for a, b in zip(bands, bands[1:], strict=False))
    for z, band in ((ref.z_critical(0.05), ref.HALF_WIDTH_95), (ref.z_critical(0.10), ref.HALF_WIDTH_90),
                    (1.0, ref.HALF_WIDTH_1SE)):
        # pooled vs unpooled SE: up to 3 % either way
        assert ref.within([0.97 * z, z, 1.03 * z], band)
    assert ref.z_critical(0.05, "larger") == pytest.approx(ref.z_critical(0.10))
    half, centre = ref.interval_in_se([0.0], [0.4], [0.25], [0.1])
    assert half[0] == pytest.approx(2.0) and centre[0] == pytest.approx(0.5)
    assert ref.rel_close(102.9, 100, 0.03) and not ref.rel_close(103.1, 100, 0.03) and not ref.rel_close(np.nan, 1, 1)
