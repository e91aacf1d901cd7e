"""checks.ab_design: every planted mistake yields its misconception id, every correct approach passes.

Also reproduces the curriculum figures of ab_test_design and the numbers its narrative states.
"""

import math

import matplotlib
import numpy as np
import pytest
from scipy.stats import binomtest, chisquare, norm, power_divergence
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize

from mlcasebook import plots_experiments
from mlcasebook.checks import ab_design as ab
from mlcasebook.datasets import make_ab_experiment
from planted import expect_misconception

matplotlib.use("Agg")

HIDDEN_CASES = [(0.15, 0.17, 0.05, 0.80), (0.40, 0.37, 0.01, 0.95), (0.03, 0.036, 0.10, 0.90), (0.5, 0.52, 0.05, 0.8)]


# ---------------------------------------------------------------- figures


def test_curriculum_sample_sizes_and_srm():
    assert ab.reference_sample_size(0.10, 0.11) == pytest.approx(14_744, abs=1)
    assert ab.reference_sample_size(0.10, 0.11, alternative="larger") == pytest.approx(11_614, abs=1)
    small = ab.reference_sample_size(0.05, 0.055)
    assert small == pytest.approx(31_217, abs=1)
    assert 2 * small / 2_000 == pytest.approx(31.2, abs=0.05)  # weeks at 2,000 users a week
    p = ab.reference_srm_pvalue([50_500, 49_500])
    assert p == pytest.approx(0.0016, abs=0.00005)
    assert 550 < 1 / p < 700  # "about 1 in 600"
    assert p < ab.SRM_THRESHOLD


def test_narrative_power_figures():
    # power at half the MDE with the design's sample (~0.29), and at the MDE with half the sample (~0.5)
    assert plots_experiments.power_of_test(0.10, [0.005], 14_744)[0] == pytest.approx(0.29, abs=0.01)
    assert plots_experiments.power_of_test(0.10, [0.01], 14_744)[0] == pytest.approx(0.80, abs=0.002)
    assert plots_experiments.power_of_test(0.10, [0.01], 14_744 // 2)[0] == pytest.approx(0.51, abs=0.02)
    # the closed-form formulas agree with statsmodels' Cohen's h answer "within a fraction of a percent"
    for fn in (_closed_form, _unpooled):
        assert fn(0.10, 0.11) == pytest.approx(_statsmodels(0.10, 0.11), rel=0.005)
        assert fn(0.05, 0.055) == pytest.approx(_statsmodels(0.05, 0.055), rel=0.005)
    # a one-sided test needs about a fifth fewer users
    assert 1 - 11_614 / 14_744 == pytest.approx(0.21, abs=0.01)
    # follow-up: a 10/90 split needs 2.78 times the total of a 50/50 split
    h = proportion_effectsize(0.11, 0.10)
    small_arm = NormalIndPower().solve_power(h, alpha=0.05, power=0.8, ratio=9.0)
    assert 10 * small_arm / (2 * 14_744.1) == pytest.approx(2.78, abs=0.01)


def test_notebook_data_figures():
    # SEED 2 of the notebook: CI excludes 0 and is centred near the MDE; CUPED narrows it by ~8 % (sqrt(0.84)).
    data = make_ab_experiment(42_000, baseline_rate=0.10, lift=0.01, daily_traffic=3_000, covariate_corr=0.4,
                              random_state=2)
    d, lo, hi = ab.reference_ci(data.frame)
    assert lo > 0 and abs(d - 0.01) < 0.001
    y, x = data.frame["converted"].to_numpy(float), data.frame["pre_metric"].to_numpy(float)
    adj = _cuped(y, x)
    t = data.frame["arm"].to_numpy() == "treatment"
    se_adj = math.sqrt(adj[t].var(ddof=1) / t.sum() + adj[~t].var(ddof=1) / (~t).sum())
    assert 2 * 1.96 * se_adj / (hi - lo) == pytest.approx(math.sqrt(0.84), abs=0.01)
    # the brief's shipping rule (CI excludes 0 and its upper end reaches the 1 pp target) gives "ship" whichever
    # interval the learner uses: Wald, Newcombe, Agresti-Caffo or CUPED
    d_adj = adj[t].mean() - adj[~t].mean()
    intervals = [(lo, hi), (d_adj - 1.96 * se_adj, d_adj + 1.96 * se_adj)]
    conv = data.frame.groupby("arm")["converted"].agg(["sum", "count"])
    for method in ("newcomb", "agresti-caffo"):
        intervals.append(confint_proportions_2indep(conv.loc["treatment", "sum"], conv.loc["treatment", "count"],
                                                    conv.loc["control", "sum"], conv.loc["control", "count"],
                                                    method=method))
    for low, high in intervals:
        assert low > 0.002 and high > 0.012, (low, high)


def test_small_site_weeks_by_sidedness():
    # "two-sided: more than half a year; one-sided: about a fifth fewer users, still five to six months"
    two = 2 * ab.reference_sample_size(0.05, 0.055) / 2_000
    one = 2 * ab.reference_sample_size(0.05, 0.055, alternative="larger") / 2_000
    assert two > 52 / 2 and 5 * 52 / 12 < one < 6 * 52 / 12, (two, one)


# ---------------------------------------------------------------- sample size


def _statsmodels(p0, p1, alpha=0.05, power=0.8, alternative="two-sided"):
    h = abs(proportion_effectsize(p1, p0))
    return NormalIndPower().solve_power(h, alpha=alpha, power=power, ratio=1.0, alternative=alternative)


def _closed_form(p0, p1, alpha=0.05, power=0.8, alternative="two-sided"):
    z_a = norm.ppf(1 - alpha / 2) if alternative == "two-sided" else norm.ppf(1 - alpha)
    z_b = norm.ppf(power)
    pbar = (p0 + p1) / 2
    num = z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return math.ceil(num**2 / (p1 - p0) ** 2)


def _unpooled(p0, p1, alpha=0.05, power=0.8, alternative="two-sided"):
    z_a = norm.ppf(1 - alpha / 2) if alternative == "two-sided" else norm.ppf(1 - alpha)
    return (z_a + norm.ppf(power)) ** 2 * (p0 * (1 - p0) + p1 * (1 - p1)) / (p1 - p0) ** 2


@pytest.mark.parametrize("fn", [_statsmodels, _closed_form, _unpooled])
@pytest.mark.parametrize("alt", ["two-sided", "larger"])
def test_correct_sample_size_functions_pass(fn, alt):
    assert ab.sample_size_function(fn, alternative=alt).passed
    assert ab.sample_size_function(fn, alternative=alt, cases=HIDDEN_CASES).passed


def _one_variance(p0, p1, alpha=0.05, power=0.8, alternative="two-sided"):
    """The one-sample formula with the baseline's variance: a learner's n = (z_a + z_b)^2 p(1-p) / d^2."""
    z_a = norm.ppf(1 - alpha / 2) if alternative == "two-sided" else norm.ppf(1 - alpha)
    return (z_a + norm.ppf(power)) ** 2 * p0 * (1 - p0) / (p1 - p0) ** 2


def _check(fn, alt="two-sided"):
    return ab.sample_size_function(fn, alternative=alt, cases=HIDDEN_CASES)


def test_sample_size_mistakes():
    expect_misconception(_check(lambda p0, p1, a, pw, alt: _statsmodels(p0, p1, a, pw, "larger")),
                         "one_sided_undeclared")
    expect_misconception(_check(lambda p0, p1, a, pw, alt: _statsmodels(p0, p1, a, pw, "two-sided"), "larger"),
                         "two_sided_undeclared")
    expect_misconception(_check(lambda p0, p1, a, pw, alt: 2 * _statsmodels(p0, p1, a, pw, alt)), "total_not_per_arm")
    expect_misconception(_check(lambda p0, p1, a, pw, alt: _statsmodels(p0, p1, a, pw, alt) / 2), "halved_per_arm")
    expect_misconception(_check(_one_variance), "one_arm_variance")
    expect_misconception(_check(lambda p0, p1, a, pw, alt: NormalIndPower().solve_power(
        abs(p1 - p0), alpha=a, power=pw, alternative=alt)), "absolute_effect_as_cohens_h")
    expect_misconception(_check(lambda p0, p1, a, pw, alt: _statsmodels(p0, p1, 0.05, 0.8, alt)),
                         "ignored_alpha_power")
    # reads the notebook's BASELINE and TARGET instead of its arguments
    expect_misconception(_check(lambda p0, p1, a, pw, alt: _statsmodels(0.10, 0.11, a, pw, alt)), "ignored_rates")
    # right for the declared two-sided test, but `alternative` is never read
    expect_misconception(_check(lambda p0, p1, a, pw, alt: _statsmodels(p0, p1, a, pw)), "ignores_alternative")
    expect_misconception(_check(lambda p0, p1, a, pw, alt: -1.0), "not_a_sample_size")
    # the learner review: Cohen's h without its absolute value; one-sided power finds no size for a decrease
    expect_misconception(_check(lambda p0, p1, a, pw, alt: NormalIndPower().solve_power(
        proportion_effectsize(p1, p0), alpha=a, power=pw, alternative=alt)), "fails_on_decrease")
    expect_misconception(_check(lambda p0, p1, a, pw, alt: 1.5 * _statsmodels(p0, p1, a, pw, alt)),
                         "wrong_sample_size")


def test_half_and_one_variance_are_told_apart_and_named_honestly():
    # the pooled one-variance formula is numerically half of the answer: the message gives both causes
    halved = _check(lambda p0, p1, a, pw, alt: _statsmodels(p0, p1, a, pw, alt) / 2)
    assert "split between the arms" in halved.message and "one rate only" in halved.message
    # the baseline's variance is 0.46-0.48 of the answer on the low-rate cases: not "halved"
    assert _check(_one_variance).misconception == "one_arm_variance"
    assert ab.sample_size_function(_one_variance).misconception == "one_arm_variance"  # the public cases too


def test_sample_size_messages_do_not_reveal_the_hidden_answer():
    wrong = ab.sample_size_function(lambda p0, p1, a, pw, alt: 2 * _statsmodels(p0, p1, a, pw, alt),
                                    cases=HIDDEN_CASES)
    truth = f"{_statsmodels(*HIDDEN_CASES[0]):,.0f}"
    assert "per-arm vs total" in wrong.message and truth not in wrong.message


def test_sample_size_stub_and_errors():
    assert ab.sample_size_function(None).status == "not_attempted"

    def stub(*args):
        raise NotImplementedError()

    assert ab.sample_size_function(stub).status == "not_attempted"
    assert ab.sample_size_function(lambda *a: 1 / 0).status == "error"


@pytest.mark.parametrize(
    "n, alt, mistake",
    [
        (14_745, "two-sided", None), (14_744.1, "two-sided", None), (11_614, "larger", None),
        (11_614, "two-sided", "one_sided_undeclared"), (29_490, "two-sided", "total_not_per_arm"),
        (156_977, "two-sided", "absolute_effect_as_cohens_h"), (7_372, "two-sided", "halved_per_arm"),
    ],
)
def test_n_per_arm(n, alt, mistake):
    result = ab.n_per_arm(n, alternative=alt)
    assert result.misconception == mistake and result.passed == (mistake is None), result


def test_n_per_arm_planted():
    expect_misconception(ab.n_per_arm(11_614), "one_sided_undeclared")
    expect_misconception(ab.n_per_arm(14_745, alternative="larger"), "two_sided_undeclared")
    expect_misconception(ab.n_per_arm(29_490), "total_not_per_arm")
    expect_misconception(ab.n_per_arm(7_372), "halved_per_arm")
    expect_misconception(ab.n_per_arm(math.ceil(_one_variance(0.10, 0.11))), "one_arm_variance")
    expect_misconception(ab.n_per_arm(156_977), "absolute_effect_as_cohens_h")
    expect_misconception(ab.n_per_arm(float("nan")), "not_a_sample_size")
    expect_misconception(ab.n_per_arm(20_000), "wrong_sample_size")


@pytest.mark.parametrize(
    "days, alt, mistake",
    [
        (14, "two-sided", None), (21, "two-sided", None), (14, "larger", None), (7, "larger", "per_arm_as_total"),
        (3, "larger", "too_short"),
        (7, "two-sided", "per_arm_as_total"), (3, "two-sided", "too_short"), (10, "two-sided", "partial_week"),
        (28, "two-sided", "too_long"),
    ],
)
def test_duration(days, alt, mistake):
    result = ab.duration(days, alternative=alt)
    assert result.misconception == mistake and result.passed == (mistake is None), result


def test_duration_planted():
    expect_misconception(ab.duration(7), "per_arm_as_total")
    expect_misconception(ab.duration(3), "too_short")
    expect_misconception(ab.duration(10), "partial_week")
    expect_misconception(ab.duration(28), "too_long")


# ---------------------------------------------------------------- design

GOOD_DESIGN = {"randomisation_unit": "user", "primary_metric": "conversion_rate",
               "guardrail_metrics": ["page_load_time", "refund_rate"], "alternative": "two-sided", "mde": 0.01,
               "alpha": 0.05, "power": 0.8}


@pytest.mark.parametrize(
    "change, mistake",
    [
        ({}, None), ({"alternative": "larger"}, None), ({"guardrail_metrics": "refund_rate"}, None),
        ({"randomisation_unit": "page_view"}, "randomise_by_page_view"),
        ({"randomisation_unit": "session"}, "session_unit"),
        ({"randomisation_unit": "country"}, "unknown_choice"),
        ({"primary_metric": "page_views_per_user"}, "wrong_primary_metric"),
        ({"guardrail_metrics": []}, "no_guardrail"),
        ({"guardrail_metrics": ["conversion_rate", "refund_rate"]}, "primary_as_guardrail"),
        ({"alternative": "sideways"}, "undeclared_alternative"),
        ({"mde": 0.1}, "relative_mde"), ({"mde": 0.11}, "wrong_mde"), ({"alpha": 0.1}, "wrong_alpha_power"),
        ({"power": None}, "missing_key"),
    ],
)
def test_design(change, mistake):
    result = ab.design({**GOOD_DESIGN, **change})
    assert result.misconception == mistake and result.passed == (mistake is None), result


def test_design_planted():
    expect_misconception(ab.design({**GOOD_DESIGN, "randomisation_unit": "page_view"}), "randomise_by_page_view")
    expect_misconception(ab.design({**GOOD_DESIGN, "randomisation_unit": "session"}), "session_unit")
    expect_misconception(ab.design({**GOOD_DESIGN, "randomisation_unit": "country"}), "unknown_choice")
    expect_misconception(ab.design({**GOOD_DESIGN, "primary_metric": "revenue_per_user"}), "wrong_primary_metric")
    expect_misconception(ab.design({**GOOD_DESIGN, "guardrail_metrics": ["conversion_rate"]}), "primary_as_guardrail")
    expect_misconception(ab.design({**GOOD_DESIGN, "guardrail_metrics": ["page_views_per_user"]}), "no_guardrail")
    expect_misconception(ab.design({**GOOD_DESIGN, "alternative": "up"}), "undeclared_alternative")
    expect_misconception(ab.design({**GOOD_DESIGN, "mde": 0.1}), "relative_mde")
    expect_misconception(ab.design({**GOOD_DESIGN, "mde": 1.0}), "wrong_mde")
    expect_misconception(ab.design({**GOOD_DESIGN, "power": 0.9}), "wrong_alpha_power")
    expect_misconception(ab.design({**GOOD_DESIGN, "alpha": None}), "missing_key")
    expect_misconception(ab.design(["user"]), "not_a_dict")


def test_design_stub_and_declared_alternative():
    assert ab.design(dict.fromkeys(GOOD_DESIGN)).status == "not_attempted"
    assert ab.design(None).status == "not_attempted"
    assert ab.declared_alternative({**GOOD_DESIGN, "alternative": "one-sided"}) == "larger"
    assert ab.declared_alternative(None) == "two-sided"
    assert ab.declared_alternative({"alternative": "???"}) == "two-sided"


# ---------------------------------------------------------------- SRM


def _srm_chi2(counts, shares):
    c = np.asarray(counts, float)
    return chisquare(c, c.sum() * np.asarray(shares) / np.sum(shares)).pvalue


def _srm_binom(counts, shares):
    return binomtest(int(counts[1]), int(sum(counts)), shares[1] / sum(shares)).pvalue


def _srm_g(counts, shares):
    c = np.asarray(counts, float)
    return power_divergence(c, c.sum() * np.asarray(shares), lambda_="log-likelihood").pvalue


@pytest.mark.parametrize("fn", [_srm_chi2, _srm_binom, _srm_g])
def test_srm_correct_functions_pass(fn):
    assert ab.srm_function(fn).passed


@pytest.mark.parametrize(
    "fn, mistake",
    [
        (lambda counts, shares: chisquare(counts).pvalue, "assumed_equal_split"),
        (lambda counts, shares: _srm_chi2(counts, shares) / 2, "one_sided_pvalue"),
        (lambda counts, shares: chisquare(np.asarray(counts, float),
                                          np.sum(counts) * np.asarray(shares)).statistic, "returned_statistic"),
        (lambda counts, shares: 0.5, "wrong_pvalue"),
    ],
)
def test_srm_mistakes(fn, mistake):
    result = ab.srm_function(fn)
    assert result.misconception == mistake, result


NOTEBOOK_SRM_CASES = [((10_100, 9_900), (0.5, 0.5)), ((70_450, 29_550), (0.7, 0.3)), ((50_250, 49_750), (0.5, 0.5)),
                      ((8_000, 32_400), (0.2, 0.8)), ((1_000, 1_080), (0.5, 0.5)), ((25_600, 24_400), (0.5, 0.5)),
                      ((14_880, 15_120), (0.49, 0.51))]


def test_srm_planted_on_the_hidden_cases():
    cases = NOTEBOOK_SRM_CASES
    expect_misconception(ab.srm_function(lambda c, s: chisquare(c).pvalue, cases=cases), "assumed_equal_split")
    expect_misconception(ab.srm_function(lambda c, s: _srm_chi2(c, s) / 2, cases=cases), "one_sided_pvalue")
    expect_misconception(ab.srm_function(lambda c, s: chisquare(np.asarray(c, float), np.sum(c) * np.asarray(s))
                                         .statistic, cases=cases), "returned_statistic")
    # counts matched with the shares in the wrong order: no known slip, the generic message
    expect_misconception(ab.srm_function(lambda c, s: _srm_chi2(c, s[::-1]), cases=cases), "wrong_pvalue")
    for fn in (_srm_chi2, _srm_binom, _srm_g):
        assert ab.srm_function(fn, cases=cases).passed


@pytest.mark.parametrize(
    "action, counts, mistake",
    [
        ("stop_and_debug", (50_500, 49_500), None), ("analyse_results", (50_500, 49_500), "srm_ignored"),
        ("reweight_arms", (50_500, 49_500), "srm_patched"), ("run_longer", (50_500, 49_500), "srm_patched"),
        ("analyse_results", (50_100, 49_900), None), ("stop_and_debug", (50_100, 49_900), "srm_false_alarm"),
        ("panic", (50_500, 49_500), "unknown_choice"),
    ],
)
def test_srm_decision(action, counts, mistake):
    result = ab.srm_decision(ab.reference_srm_pvalue(counts), action, counts=counts)
    assert result.misconception == mistake and result.passed == (mistake is None), result


def test_srm_decision_planted():
    expect_misconception(ab.srm_decision(0.3, "stop_and_debug"), "wrong_pvalue")
    ignored = ab.srm_decision(0.0016, "analyse_results")
    expect_misconception(ignored, "srm_ignored")
    assert "ignored the SRM" in ignored.message
    assert "0.0016" not in ignored.message and "stop" not in ignored.message.lower()
    patched = ab.srm_decision(0.0016, "reweight_arms")
    expect_misconception(patched, "srm_patched")
    assert "reweight the arms" in patched.message and "stop" not in patched.message.lower()
    assert "stop_and_debug" not in ab.srm_decision(0.0016, "panic").message
    expect_misconception(ab.srm_decision(0.0016, "panic"), "unknown_choice")
    healthy = (50_100, 49_900)
    expect_misconception(ab.srm_decision(ab.reference_srm_pvalue(healthy), "stop_and_debug", counts=healthy),
                         "srm_false_alarm")


# ---------------------------------------------------------------- confidence interval


@pytest.fixture(scope="module")
def experiments():
    sims = [make_ab_experiment(4_000, baseline_rate=b, lift=lift, covariate_corr=0.3, random_state=500 + i)
            for i, (b, lift) in enumerate([(0.2, 0.02), (0.1, 0.0), (0.3, -0.03), (0.05, 0.01)] * 20)]
    return [s.frame for s in sims], [s.truth.lift for s in sims]


def _wald(frame, alpha=0.05):
    return ab.reference_ci(frame, alpha)


def _rates(frame):
    g = frame.groupby("arm")["converted"].agg(["sum", "count", "mean"])
    return g.loc["treatment"], g.loc["control"]


def _newcombe(frame, alpha=0.05, method="newcomb"):
    t, c = _rates(frame)
    lo, hi = confint_proportions_2indep(t["sum"], t["count"], c["sum"], c["count"], method=method, alpha=alpha)
    return t["mean"] - c["mean"], lo, hi


def _with_se(se_fn, z_fn=lambda alpha: norm.ppf(1 - alpha / 2)):
    def diff_ci(frame, alpha=0.05):
        t, c = _rates(frame)
        d = t["mean"] - c["mean"]
        se = se_fn(t["mean"], t["count"], c["mean"], c["count"])
        return d, d - z_fn(alpha) * se, d + z_fn(alpha) * se

    return diff_ci


def _wald_se(p1, n1, p0, n0):
    return math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)


def _one_sided_interval(frame, alpha=0.05):
    """Right width, but all of it above the estimate: misses every true lift below the estimate."""
    d, lo, hi = _wald(frame, alpha)
    return d, d, d + (hi - lo)


@pytest.mark.parametrize("fn", [_wald, _newcombe, lambda f, a=0.05: _newcombe(f, a, "agresti-caffo")])
def test_correct_intervals_pass(fn, experiments):
    assert ab.ci_function(fn, *experiments).passed


def test_interval_planted(experiments):
    # 20 of the 80 experiments: every named mistake below shows on each of them (coverage aside)
    few = experiments[0][:20], experiments[1][:20]

    def shifted(frame, alpha=0.05):
        d, lo, hi = _wald(frame, alpha)
        return d, lo + (hi - lo), hi + (hi - lo)

    def reads_the_notebook_frame(frame, alpha=0.05):
        return _wald(experiments[0][0], alpha)  # a global instead of the argument

    def scaled(factor):
        def diff_ci(frame, alpha=0.05):
            d, lo, hi = _wald(frame, alpha)
            return d, d - factor * (d - lo), d + factor * (hi - d)
        return diff_ci

    expect_misconception(ab.ci_function(shifted, *few), "estimate_outside_ci")
    expect_misconception(ab.ci_function(reads_the_notebook_frame, *few), "ignores_frame")
    expect_misconception(ab.ci_function(lambda f, a=0.05: tuple(-v for v in _wald(f, a)[::-1][::-1]), *few),
                         "control_minus_treatment")
    expect_misconception(ab.ci_function(lambda f, a=0.05: (_wald(f, a)[0] + 0.5, *_wald(f, a)[1:]), *few),
                         "wrong_difference")
    # z of a one-sided test at 0.05 (norm.ppf(1 - alpha)), or a hard-coded 1.645: a 90 % interval, not a wrong SE
    expect_misconception(ab.ci_function(_with_se(_wald_se, z_fn=lambda alpha: norm.ppf(1 - alpha)), *few),
                         "ninety_percent_interval")
    expect_misconception(ab.ci_function(_with_se(_wald_se, z_fn=lambda alpha: 1.645), *few),
                         "ninety_percent_interval")
    expect_misconception(ab.ci_function(_with_se(lambda p1, n1, p0, n0: math.sqrt(p1 * (1 - p1) / n1) + math.sqrt(
        p0 * (1 - p0) / n0)), *few), "standard_errors_added")
    expect_misconception(ab.ci_function(_with_se(lambda p1, n1, p0, n0: math.sqrt(p1 * (1 - p1) / n1)), *few),
                         "ci_too_narrow")
    expect_misconception(ab.ci_function(scaled(1.3), *few), "ci_too_wide")
    expect_misconception(ab.ci_function(_with_se(_wald_se, z_fn=lambda alpha: 1.96), *few), "fixed_z")
    expect_misconception(ab.ci_function(_one_sided_interval, *experiments), "low_coverage")
    # widths within 10 % pass (Newcombe and Agresti-Caffo are within 1 % here); 12 % off does not
    assert ab.ci_function(scaled(1.05), *experiments).passed
    assert not ab.ci_function(scaled(0.88), *few).passed
    assert ab.ci_function(lambda f, a=0.05: (1.0, 2.0), *few).status == "error"


def test_interval_coverage_bar_rejects_a_right_interval_rarely():
    # coverage is the check's only random verdict: a 95 % interval over 80 experiments falls below 0.88 with
    # probability P(Binom(80, 0.95) < 70.4) < 1 %; the hidden experiments are fixed, so the verdict is the same
    # for every interval method whose bounds agree with Wald's (Newcombe, Agresti-Caffo: < 1 % apart)
    from scipy.stats import binom

    assert binom.cdf(math.ceil(0.88 * 80) - 1, 80, 0.95) < 0.01


# ---------------------------------------------------------------- CUPED


def _cuped(y, x):
    theta = np.cov(y, x)[0, 1] / np.var(x, ddof=1)
    return y - theta * (x - x.mean())


def _ols_residual(y, x):
    X = np.column_stack([np.ones_like(x), x])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return y - X @ beta + y.mean()


@pytest.fixture(scope="module")
def cuped_data():
    return make_ab_experiment(40_000, baseline_rate=0.2, lift=0.02, covariate_corr=0.3, random_state=41)


@pytest.mark.parametrize("fn", [_cuped, _ols_residual, lambda y, x: y - (np.cov(y, x)[0, 1] / np.var(x)) * x])
def test_cuped_correct_functions_pass(fn, cuped_data):
    result = ab.cuped_function(fn, cuped_data.frame, rho=cuped_data.truth.covariate_corr)
    assert result.passed, result


@pytest.mark.parametrize(
    "fn, rho, mistake",
    [
        (lambda y, x: y + np.cov(y, x)[0, 1] / np.var(x) * (x - x.mean()), None, "variance_increased"),
        (lambda y, x: y - np.corrcoef(y, x)[0, 1] * (x - x.mean()), None, "variance_increased"),
        (lambda y, x: y - 0.5 * np.cov(y, x)[0, 1] / np.var(x) * (x - x.mean()), None, "theta_not_cov_over_var"),
        (lambda y, x: _cuped(y, x)[:100], None, "wrong_shape"),
        (_cuped, 0.5, "off_theory"),
    ],
)
def test_cuped_mistakes(fn, rho, mistake, cuped_data):
    result = ab.cuped_function(fn, cuped_data.frame, rho=rho if rho is not None else cuped_data.truth.covariate_corr)
    assert result.misconception == mistake, result


def test_cuped_planted(cuped_data):
    f, rho = cuped_data.frame, cuped_data.truth.covariate_corr
    expect_misconception(ab.cuped_function(lambda y, x: y + np.cov(y, x)[0, 1] / np.var(x) * (x - x.mean()), f,
                                           rho=rho), "variance_increased")
    # theta from the notebook's data (another baseline and rho) applied to the hidden data
    notebook = make_ab_experiment(42_000, baseline_rate=0.10, lift=0.01, covariate_corr=0.4, random_state=2).frame
    theta = np.cov(notebook["converted"], notebook["pre_metric"])[0, 1] / np.var(notebook["pre_metric"], ddof=1)
    expect_misconception(ab.cuped_function(lambda y, x: y - theta * (x - x.mean()), f, rho=rho),
                         "theta_not_from_data")
    expect_misconception(ab.cuped_function(lambda y, x: y - 0.5 * np.cov(y, x)[0, 1] / np.var(x) * (x - x.mean()), f,
                                           rho=rho), "theta_not_cov_over_var")
    expect_misconception(ab.cuped_function(lambda y, x: _cuped(y, x)[:100], f, rho=rho), "wrong_shape")
    expect_misconception(ab.cuped_function(_cuped, f, rho=0.5), "off_theory")


def test_cuped_reduction(cuped_data):
    f = cuped_data.frame
    y = f["converted"].to_numpy(float)
    ratio = _cuped(y, f["pre_metric"].to_numpy(float)).var() / y.var()
    assert ab.cuped_reduction(1 - ratio, _cuped, f).passed
    assert 1 - ratio == pytest.approx(0.3**2, abs=0.02)
    expect_misconception(ab.cuped_reduction(ratio, _cuped, f), "ratio_not_reduction")
    expect_misconception(ab.cuped_reduction(1 - math.sqrt(ratio), _cuped, f), "sd_not_variance")
    expect_misconception(ab.cuped_reduction(0.5, _cuped, f), "wrong_reduction")
    assert ab.cuped_reduction(None, _cuped, f).status == "not_attempted"


# ---------------------------------------------------------------- when not to test, decision


@pytest.mark.parametrize(
    "weeks, alt, mistake",
    [
        (31.2, "two-sided", None), (31.5, "two-sided", None), (24.6, "larger", None),
        (15.6, "two-sided", "per_arm_as_total"), (24.6, "two-sided", "one_sided_undeclared"),
        (100, "two-sided", "wrong_weeks"),
    ],
)
def test_weeks_needed(weeks, alt, mistake):
    result = ab.weeks_needed(weeks, alternative=alt)
    assert result.misconception == mistake and result.passed == (mistake is None), result


def test_weeks_needed_planted():
    expect_misconception(ab.weeks_needed(15.6), "per_arm_as_total")
    expect_misconception(ab.weeks_needed(62.4), "total_not_per_arm")
    expect_misconception(ab.weeks_needed(24.6), "one_sided_undeclared")
    expect_misconception(ab.weeks_needed(31.2, alternative="larger"), "two_sided_undeclared")
    expect_misconception(ab.weeks_needed(100), "wrong_weeks")


GOOD_DECISION = {"srm_50500_vs_49500": "stop_and_debug", "checkout_redesign": "ship",
                 "small_site_5_to_5_5": "staged_rollout", "safety_feature": "rollout"}


@pytest.mark.parametrize(
    "change, mistake",
    [
        ({}, None), ({"small_site_5_to_5_5": "other_evidence"}, None),
        ({"small_site_5_to_5_5": "ab_test"}, "decision_small_site_5_to_5_5"),
        ({"safety_feature": "ab_test"}, "decision_safety_feature"),
        ({"srm_50500_vs_49500": "analyse_results"}, "decision_srm_50500_vs_49500"),
        ({"checkout_redesign": "extend_test"}, "decision_checkout_redesign"),
        ({"checkout_redesign": "do_not_ship"}, "decision_checkout_redesign"),
        ({"checkout_redesign": "yolo"}, "unknown_choice"),
        ({"safety_feature": None}, "missing_key"),
    ],
)
def test_decision(change, mistake):
    result = ab.decision({**GOOD_DECISION, **change})
    assert result.misconception == mistake and result.passed == (mistake is None), result


def test_decision_planted():
    expect_misconception(ab.decision({**GOOD_DECISION, "small_site_5_to_5_5": "ab_test"}), "decision_small_site_5_to_5_5")
    expect_misconception(ab.decision({**GOOD_DECISION, "safety_feature": "ab_test"}), "decision_safety_feature")
    expect_misconception(ab.decision({**GOOD_DECISION, "srm_50500_vs_49500": "analyse_results"}),
                         "decision_srm_50500_vs_49500")
    expect_misconception(ab.decision({**GOOD_DECISION, "checkout_redesign": "extend_test"}),
                         "decision_checkout_redesign")
    expect_misconception(ab.decision({**GOOD_DECISION, "checkout_redesign": "yolo"}), "unknown_choice")
    expect_misconception(ab.decision({**GOOD_DECISION, "safety_feature": None}), "missing_key")
    expect_misconception(ab.decision("ship"), "not_a_dict")


def test_decision_messages_do_not_name_the_answer():
    for change in ({"checkout_redesign": "do_not_ship"}, {"checkout_redesign": "extend_test"},
                   {"small_site_5_to_5_5": "ab_test"}, {"safety_feature": "ab_test"},
                   {"srm_50500_vs_49500": "analyse_results"}):
        message = ab.decision({**GOOD_DECISION, **change}).message.lower()
        for answer in ("stop_and_debug", "stop and debug", "'ship'", "staged", "other_evidence", "other evidence",
                       "31 weeks"):
            assert answer not in message, (change, message)


def test_decision_stub():
    assert ab.decision(dict.fromkeys(GOOD_DECISION)).status == "not_attempted"


# ---------------------------------------------------------------- plots


def test_plots_have_titles_and_labels():
    import matplotlib.pyplot as plt

    # each helper draws on the axes it is given (whether it returns them or nothing)
    _, ax = plt.subplots()
    plots_experiments.power_curve(0.10, {"design": 14_744, "half": 7_372}, mde=0.01, ax=ax)
    assert ax.get_title() and "percentage points" in ax.get_xlabel() and "Power" in ax.get_ylabel()
    _, ax = plt.subplots()
    plots_experiments.effect_intervals({"plain": (0.01, 0.004, 0.016), "CUPED": (0.01, 0.005, 0.015)}, truth=0.01,
                                       ax=ax)
    assert ax.get_title() and "percentage points" in ax.get_xlabel()
    _, ax = plt.subplots()
    plots_experiments.sample_size_curve(0.10, [0.005, 0.01, 0.02], _statsmodels, users_per_day=3_000, ax=ax)
    assert ax.get_title() and "Users per arm" in ax.get_ylabel()
    plt.close("all")
