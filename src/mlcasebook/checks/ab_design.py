"""Checks for the A/B test design case (05_experimentation/ab_test_design).

The case: a checkout redesign, control conversion 10 %, the product team cares about +1 pp
(10 % -> 11 %), alpha 0.05, power 0.8, 3,000 eligible users a day. Reference figures
(statsmodels ``NormalIndPower`` on Cohen's h): 14,744 users per arm two-sided, 11,614 one-sided;
an SRM of 50,500 vs 49,500 has chi-square p = 0.0016; a small site at 5 % -> 5.5 % needs 31,217 per
arm, ~31 weeks at 2,000 users a week.

Each check's docstring lists the misconceptions it detects, most specific first. Checks never
reveal the expected number of a hidden case.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import chisquare, norm

from mlcasebook.checks.decisions import judge_decision, normalise_choice
from mlcasebook.checks.result import CheckResult, check, failed, not_attempted, passed

BASELINE, TARGET, ALPHA, POWER = 0.10, 0.11, 0.05, 0.80
DAILY_TRAFFIC = 3_000  # eligible users a day in the case
SMALL_SITE = {"p0": 0.05, "p1": 0.055, "users_per_week": 2_000}
# Alarm threshold of the SRM test. Platforms use 0.01 down to 0.0005 (Kohavi, Tang & Xu, Trustworthy Online
# Controlled Experiments, ch. 21; Fabijan et al., KDD 2019); the course uses 0.01, so 50,500 vs 49,500 (p = 0.0016)
# is an SRM while chance imbalances of a healthy split (p uniform on [0, 1]) raise a false alarm 1 % of the time.
SRM_THRESHOLD = 0.01

# Tolerance for a sample size: 3 %. Closed-form formulas (pooled or unpooled variance) land within
# 0.2 % of statsmodels' arcsine (Cohen's h) answer at these rates; the common mistakes are off by
# 21 % (one-sided instead of two-sided), 100 % (total instead of per arm) or ~10x (absolute effect as h).
SAMPLE_SIZE_RTOL = 0.03

TWO_SIDED, ONE_SIDED = "two-sided", "larger"
_ALTERNATIVES = {
    "two-sided": TWO_SIDED, "two_sided": TWO_SIDED, "2-sided": TWO_SIDED, "two sided": TWO_SIDED, "2s": TWO_SIDED,
    "larger": ONE_SIDED, "greater": ONE_SIDED, "one-sided": ONE_SIDED, "one_sided": ONE_SIDED,
    "1-sided": ONE_SIDED, "one sided": ONE_SIDED, "smaller": ONE_SIDED, "less": ONE_SIDED,
}


_norm = normalise_choice


def normalise_alternative(alternative) -> str | None:
    """``"two-sided"`` or ``"larger"`` (any one-sided spelling), or ``None`` when not recognised."""
    if alternative is None:
        return None
    return _ALTERNATIVES.get(str(alternative).strip().lower())


def declared_alternative(design) -> str:
    """The sidedness a learner declared in ``design["alternative"]``; two-sided when missing or unreadable."""
    if isinstance(design, dict):
        alt = normalise_alternative(design.get("alternative"))
        if alt:
            return alt
    return TWO_SIDED


def reference_sample_size(p0: float, p1: float, alpha: float = ALPHA, power: float = POWER,
                          alternative: str = TWO_SIDED) -> float:
    """Users per arm for a two-proportion z-test, statsmodels NormalIndPower on Cohen's h (not rounded up).

    One-sided means "in the direction of the change" (``larger`` for an increase, ``smaller`` for a decrease).
    """
    from statsmodels.stats.power import NormalIndPower  # imported here: statsmodels takes seconds to import
    from statsmodels.stats.proportion import proportion_effectsize

    h = abs(float(proportion_effectsize(p1, p0)))
    alt = normalise_alternative(alternative) or TWO_SIDED
    return float(NormalIndPower().solve_power(h, alpha=alpha, power=power, ratio=1.0, alternative=alt))


def _absolute_as_h(p0, p1, alpha, power, alternative) -> float:
    from statsmodels.stats.power import NormalIndPower

    return float(NormalIndPower().solve_power(abs(p1 - p0), alpha=alpha, power=power, ratio=1.0,
                                              alternative=normalise_alternative(alternative) or TWO_SIDED))


def _close(got: float, ref: float, rtol: float = SAMPLE_SIZE_RTOL) -> bool:
    return bool(np.isfinite(got) and abs(got / ref - 1.0) <= rtol)


def _diagnose_sample_size(name: str, got: float, p0: float, p1: float, alpha: float, power: float,
                          alternative: str, what: str) -> CheckResult | None:
    """None when ``got`` is right for the declared sidedness, else the failed result naming the mistake."""
    alt = normalise_alternative(alternative) or TWO_SIDED
    ref = reference_sample_size(p0, p1, alpha, power, alt)
    if not np.isfinite(got) or got <= 0:
        return failed(name, "not_a_sample_size", f"{what} is not a positive number of users; return how many users "
                                                 "each arm needs.")
    if _close(got, ref):
        return None
    other = TWO_SIDED if alt == ONE_SIDED else ONE_SIDED
    ref_other = reference_sample_size(p0, p1, alpha, power, other)
    if _close(got, ref_other):
        if alt == TWO_SIDED:
            return failed(name, "one_sided_undeclared",
                          f"{what} matches a one-sided test, but your design declares a two-sided one: a one-sided "
                          "test without saying so makes the experiment look cheaper than it is; use z at 1 - alpha/2, "
                          "or declare design['alternative'] = 'larger' and defend why a drop does not matter.")
        return failed(name, "two_sided_undeclared",
                      f"{what} matches a two-sided test, but your design declares a one-sided one; compute the "
                      "sample size for the test you declared.")
    if (alpha, power) != (ALPHA, POWER) and _close(got, reference_sample_size(p0, p1, ALPHA, POWER, alt)):
        return failed(name, "ignored_alpha_power",
                      f"{what} is the answer for alpha 0.05 and power 0.8 although other values were asked for; "
                      "pass alpha and power through to the calculation.")
    for r, sided in ((ref, alt), (ref_other, other)):
        if _close(got, 2 * r):
            return failed(name, "total_not_per_arm",
                          f"{what} is the total for both arms, not the number per arm: per-arm vs total sample size "
                          "confused; report the users each arm needs (the total is twice that).")
        if _close(got, r / 2):
            return failed(name, "halved_per_arm",
                          f"{what} is half of what each arm needs: per-arm vs total sample size confused (you split "
                          "a per-arm figure between the arms); each arm needs the full per-arm number.")
        if _close(got, _absolute_as_h(p0, p1, alpha, power, sided)):
            return failed(name, "absolute_effect_as_cohens_h",
                          f"{what} comes from passing the absolute difference p1 - p0 as the effect size: power "
                          "functions for proportions expect Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)); use "
                          "proportion_effectsize(p1, p0).")
    return failed(name, "wrong_sample_size",
                  f"{what} is more than 3 % away from the per-arm sample size of a two-proportion z-test at this "
                  "alpha and power; check the effect size (Cohen's h), the z values and that the result is per arm.")


DEFAULT_CASES = ((BASELINE, TARGET, ALPHA, POWER), (0.30, 0.27, 0.01, 0.90), (0.02, 0.025, 0.10, 0.80))


def _case_kind(p0: float, p1: float, alpha: float, power: float) -> str:
    """Describe a sample-size case by its kind, never its values (hidden cases must not leak into messages)."""
    if (p0, p1, alpha, power) == (BASELINE, TARGET, ALPHA, POWER):
        return "for the case's 10 % -> 11 %"
    change = "an increase" if p1 > p0 else "a decrease"
    base = "a higher" if p0 > BASELINE else "a lower" if p0 < BASELINE else "the case's"
    level = "the brief's" if (alpha, power) == (ALPHA, POWER) else "another"
    return f"for {change} from {base} baseline at {level} alpha and power"


@check("sample-size function", stub_hint="implement `sample_size(p0, p1, alpha, power, alternative)`")
def sample_size_function(name: str, sample_size: Callable, *, alternative: str = TWO_SIDED,
                         cases: Sequence[tuple[float, float, float, float]] = DEFAULT_CASES) -> CheckResult:
    """Call ``sample_size(p0, p1, alpha, power, alternative)`` on each case, for the declared sidedness.

    Misconceptions: ``one_sided_undeclared`` (one-sided z while two-sided is declared),
    ``two_sided_undeclared``, ``total_not_per_arm``, ``halved_per_arm``, ``absolute_effect_as_cohens_h``,
    ``ignored_alpha_power``, ``not_a_sample_size``, ``wrong_sample_size``. Accepts statsmodels power
    or any closed-form formula (pooled or unpooled variance), rounded up or not: within 3 %.
    """
    alt = normalise_alternative(alternative) or TWO_SIDED
    for p0, p1, alpha, power in cases:
        got = float(sample_size(p0, p1, alpha, power, alt))
        what = f"Your sample_size {_case_kind(p0, p1, alpha, power)} ({alt})"
        bad = _diagnose_sample_size(name, got, p0, p1, alpha, power, alt, what)
        if bad is not None:
            return bad
    return passed(name, f"Your sample_size agrees with the two-proportion power calculation ({alt}) on every case "
                        "tried, increases and decreases included.")


@check("users per arm", stub_hint="set `n_per_arm` with your sample_size function")
def n_per_arm(name: str, n_per_arm: float, *, alternative: str = TWO_SIDED, p0: float = BASELINE,
              p1: float = TARGET, alpha: float = ALPHA, power: float = POWER) -> CheckResult:
    """Misconceptions: as :func:`sample_size_function` (for the case's 10 % -> 11 %)."""
    got = float(n_per_arm)
    bad = _diagnose_sample_size(name, got, p0, p1, alpha, power, alternative, f"Your n_per_arm of {got:,.0f}")
    if bad is not None:
        return bad
    return passed(name, f"{math.ceil(got):,} users per arm detect {p0:.0%} -> {p1:.0%} with power {power:.0%} "
                        f"at alpha {alpha} ({normalise_alternative(alternative) or TWO_SIDED}).")


@check("test duration", stub_hint="set `duration_days` to how long the test must run")
def duration(name: str, duration_days: float, *, alternative: str = TWO_SIDED, daily_traffic: int = DAILY_TRAFFIC,
             p0: float = BASELINE, p1: float = TARGET, alpha: float = ALPHA, power: float = POWER) -> CheckResult:
    """Misconceptions: ``per_arm_as_total`` (enrols one arm's worth of users), ``too_short``,
    ``partial_week`` (weekly cycles: run whole weeks), ``too_long`` (more than one extra week).

    Needed days = 2 * n_per_arm / daily_traffic for the declared sidedness, rounded up to whole weeks.
    """
    days = float(duration_days)
    n = reference_sample_size(p0, p1, alpha, power, alternative)
    needed = 2 * n / daily_traffic
    weeks = math.ceil(needed / 7)
    if days * daily_traffic < needed * daily_traffic * 0.97:
        if days * daily_traffic >= 0.97 * n:
            return failed(name, "per_arm_as_total",
                          f"In {days:g} days only {days * daily_traffic:,.0f} users arrive, enough for one arm but "
                          "not both: per-arm vs total sample size confused; divide twice the per-arm number by the "
                          "daily traffic.")
        return failed(name, "too_short",
                      f"In {days:g} days too few users arrive to reach your sample size in both arms; divide "
                      "2 x n_per_arm by the daily traffic.")
    if abs(days / 7 - round(days / 7)) > 1e-9:
        return failed(name, "partial_week",
                      f"{days:g} days is not a whole number of weeks: weekday and weekend users convert differently, "
                      "so round the duration up to whole weeks.")
    if days > 7 * (weeks + 1):
        return failed(name, "too_long",
                      f"{days:g} days is more than a week longer than the sample size needs; every extra week delays "
                      "the decision and exposes users to a possibly worse version.")
    return passed(name, f"{days:g} days enrol about {days * daily_traffic:,.0f} users, enough for both arms, in "
                        "whole weeks.")


# ---------------------------------------------------------------- design choices

DESIGN_KEYS = ("randomisation_unit", "primary_metric", "guardrail_metrics", "alternative", "mde", "alpha", "power")
UNITS_GOOD = {"user"}
METRICS_GOOD = {"conversion_rate"}
GUARDRAILS = {"page_load_time", "refund_rate", "revenue_per_user", "unsubscribe_rate", "support_tickets",
              "checkout_errors", "crash_rate"}


@check("experiment design", stub_hint="fill in every key of the `design` dict")
def design(name: str, design: dict) -> CheckResult:
    """Misconceptions: ``randomise_by_page_view`` (randomising page views while analysing users),
    ``session_unit``, ``wrong_primary_metric``, ``no_guardrail``, ``primary_as_guardrail``,
    ``undeclared_alternative``, ``relative_mde`` (0.1 = 10 % relative given as the absolute MDE),
    ``wrong_mde``, ``wrong_alpha_power``, ``missing_key``, ``unknown_choice``.
    """
    if not isinstance(design, dict):
        return failed(name, "not_a_dict", "Your design must be a dict with the keys " + ", ".join(DESIGN_KEYS) + ".")
    missing = [k for k in DESIGN_KEYS if design.get(k) is None or design.get(k) is Ellipsis]
    if len(missing) == len(DESIGN_KEYS):
        return not_attempted(name, "Not attempted yet: fill in every key of the `design` dict")
    if missing:
        return failed(name, "missing_key", f"Your design has no value for {', '.join(missing)}.")
    unit = _norm(design["randomisation_unit"])
    if unit in {"page_view", "pageview", "page_views", "view", "request", "impression"}:
        return failed(name, "randomise_by_page_view",
                      "You randomise by page view but analyse conversion per user: one user then sees both versions, "
                      "their views are not independent and the per-user comparison is contaminated; randomise by "
                      "user, the unit you analyse.")
    if unit in {"session", "sessions", "visit"}:
        return failed(name, "session_unit",
                      "You randomise by session, so a returning user can see both checkouts; randomise by user, the "
                      "unit the conversion metric counts.")
    if unit not in UNITS_GOOD:
        return failed(name, "unknown_choice", f"'{design['randomisation_unit']}' is not one of the listed units.")
    metric = _norm(design["primary_metric"])
    if metric not in METRICS_GOOD:
        return failed(name, "wrong_primary_metric",
                      f"Your primary metric '{design['primary_metric']}' is not what the redesign is meant to move; "
                      "the brief's goal is the share of users who buy (conversion_rate).")
    guards = design["guardrail_metrics"]
    guards = [guards] if isinstance(guards, str) else list(guards)
    guards_n = {_norm(g) for g in guards}
    if metric in guards_n:
        return failed(name, "primary_as_guardrail",
                      "Your guardrails include the primary metric; a guardrail watches something you must not "
                      "break (load time, refunds, revenue per user) while optimising the primary.")
    if not guards_n & GUARDRAILS:
        return failed(name, "no_guardrail",
                      "Name at least one guardrail metric from the list (e.g. page_load_time or refund_rate): a "
                      "checkout that converts more but refunds more is not a win.")
    alt = normalise_alternative(design["alternative"])
    if alt is None:
        return failed(name, "undeclared_alternative",
                      f"'{design['alternative']}' is not a test direction; declare 'two-sided' or 'larger'.")
    mde = float(design["mde"])
    if abs(mde - 0.1) < 1e-9:
        return failed(name, "relative_mde",
                      "Your MDE 0.1 is the relative lift (10 % of 10 %); the design works in absolute conversion, "
                      "so the MDE is the difference 0.11 - 0.10.")
    if abs(mde - (TARGET - BASELINE)) > 1e-9:
        return failed(name, "wrong_mde",
                      "Your MDE is not the smallest absolute change in conversion the product team said matters.")
    if abs(float(design["alpha"]) - ALPHA) > 1e-12 or abs(float(design["power"]) - POWER) > 1e-12:
        return failed(name, "wrong_alpha_power", "Use the brief's significance level and power.")
    return passed(name, f"Randomised by user, conversion as primary with guardrails, {alt} test of an absolute "
                        f"{mde:.0%} MDE.")


# ---------------------------------------------------------------- sample-ratio mismatch


def reference_srm_pvalue(counts, shares=None) -> float:
    counts = np.asarray(counts, dtype=float)
    shares = np.full(len(counts), 1 / len(counts)) if shares is None else np.asarray(shares, float) / np.sum(shares)
    return float(chisquare(counts, counts.sum() * shares).pvalue)


def _p_close(got: float, ref: float) -> bool:
    """Chi-square, G-test and exact binomial p-values agree to within 5 % of each other at these counts
    (e.g. 0.0794 vs 0.0832 at 2,080 users); accept 10 % relative, or 0.005 absolute for p above 0.05,
    so a tiny p-value is never "close" to a merely small one."""
    if not np.isfinite(got) or got < 0:
        return False
    if ref > 0.05 and abs(got - ref) <= 0.005:
        return True
    if ref < 1e-12:
        return got < 1e-9
    return got > 0 and abs(math.log(got / ref)) <= 0.1


SRM_CASES = (((50_500, 49_500), (0.5, 0.5)), ((20_000, 20_000), (0.5, 0.5)),
             ((30_100, 19_900), (0.6, 0.4)), ((10_050, 39_950), (0.2, 0.8)))


@check("SRM test", stub_hint="implement `srm_pvalue(counts, shares)`")
def srm_function(name: str, srm_pvalue: Callable, *, cases=SRM_CASES) -> CheckResult:
    """Call ``srm_pvalue(counts, shares)`` on each case (counts per arm, designed shares).

    Misconceptions: ``assumed_equal_split`` (the designed shares ignored: a planned 60/40 looks like an
    SRM), ``returned_statistic`` (the chi-square statistic instead of the p-value), ``one_sided_pvalue``
    (half of the p-value), ``wrong_pvalue``. Accepts chi-square goodness of fit, G-test or an exact binomial test.
    """
    for counts, shares in cases:
        got = float(srm_pvalue(list(counts), list(shares)))
        ref = reference_srm_pvalue(counts, shares)
        if _p_close(got, ref):
            continue
        c = np.asarray(counts, float)
        unequal = not np.allclose(shares, shares[0])
        if unequal and _p_close(got, reference_srm_pvalue(counts)):
            return failed(name, "assumed_equal_split",
                          "For an unequal planned split your function tests against an equal split: you ignored the "
                          "designed shares; compare the counts with total x planned share.")
        stat = float(chisquare(c, c.sum() * np.asarray(shares) / np.sum(shares)).statistic)
        if abs(got - stat) < 1e-6 * max(1.0, stat) or got > 1:
            return failed(name, "returned_statistic",
                          "Your function returns the chi-square statistic, not a p-value; return .pvalue.")
        if _p_close(2 * got, ref):
            return failed(name, "one_sided_pvalue",
                          "Your p-value is half the two-sided one: a ratio can be off in either direction, so the "
                          "SRM test is two-sided.")
        return failed(name, "wrong_pvalue",
                      f"For an {'unequal' if unequal else 'equal'} planned split your p-value is not that of a "
                      "chi-square goodness-of-fit test of the counts against the planned split; use "
                      "scipy.stats.chisquare(counts, total x planned shares).")
    return passed(name, "Your srm_pvalue agrees with a chi-square goodness-of-fit test on every split tried, "
                        "unequal designs included.")


SRM_ACTIONS = {"analyse_results", "stop_and_debug", "run_longer", "reweight_arms"}


@check("SRM decision", stub_hint="set `srm_p` and `srm_action`")
def srm_decision(name: str, srm_p: float, srm_action: str, *, counts=(50_500, 49_500), shares=(0.5, 0.5),
                 threshold: float = SRM_THRESHOLD) -> CheckResult:
    """Misconceptions: ``srm_ignored`` (reading the result despite p below the SRM threshold),
    ``srm_false_alarm`` (stopping a healthy split), ``srm_patched`` (reweighting or waiting instead of
    finding the assignment bug), ``wrong_pvalue``, ``unknown_choice``."""
    ref = reference_srm_pvalue(counts, shares)
    if not _p_close(float(srm_p), ref):
        return failed(name, "wrong_pvalue",
                      f"Your srm_p is not the chi-square p-value of the counts {list(counts)} against the planned "
                      "split; use your srm_pvalue function.")
    action = _norm(srm_action)
    if action not in SRM_ACTIONS:
        return failed(name, "unknown_choice", f"'{srm_action}' is not one of: " + ", ".join(sorted(SRM_ACTIONS)) + ".")
    if ref < threshold:
        if action == "analyse_results":
            return failed(name, "srm_ignored",
                          f"A split this unlikely (p = {ref:.4f}) means assignment or logging is broken, and the "
                          "users who went missing are rarely random: you ignored the SRM; stop and debug assignment "
                          "before reading any metric.")
        if action in {"reweight_arms", "run_longer"}:
            return failed(name, "srm_patched",
                          "Reweighting or running longer keeps the broken assignment: the lost users differ from "
                          "those kept, so the bias stays; stop and find the bug first.")
        return passed(name, f"p = {ref:.4f} is below {threshold}: stop, find the assignment or logging bug, re-run.")
    if action == "analyse_results":
        return passed(name, f"p = {ref:.3f}: the split is consistent with the design, so the results can be read.")
    return failed(name, "srm_false_alarm",
                  f"p = {ref:.3f} is well above the SRM threshold {threshold}; this split is normal chance variation.")


# ---------------------------------------------------------------- analysis


def reference_ci(frame: pd.DataFrame, alpha: float = ALPHA) -> tuple[float, float, float]:
    """Difference in conversion (treatment - control) with a Wald (unpooled) confidence interval."""
    g = frame.groupby("arm")["converted"].agg(["mean", "count"])
    p1, n1 = g.loc["treatment"]
    p0, n0 = g.loc["control"]
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = norm.ppf(1 - alpha / 2)
    d = float(p1 - p0)
    return d, d - z * se, d + z * se


def _triple(result) -> tuple[float, float, float]:
    vals = [float(v) for v in result]
    if len(vals) != 3:
        raise ValueError(f"diff_ci must return (difference, lower, upper), got {len(vals)} values")
    return vals[0], vals[1], vals[2]


@check("difference with a confidence interval", stub_hint="implement `diff_ci(frame, alpha)`")
def ci_function(name: str, diff_ci: Callable, experiments: Sequence[pd.DataFrame], true_lifts: Sequence[float],
                *, min_coverage: float = 0.88) -> CheckResult:
    """Call ``diff_ci(frame, alpha)`` on simulated experiments whose true lift is known.

    Misconceptions: ``control_minus_treatment`` (sign reversed), ``estimate_outside_ci``,
    ``ci_too_narrow`` (e.g. one arm's SE, the total n, or z = 1), ``ci_too_wide`` (e.g. SEs added instead
    of variances, ratio sqrt(2)), ``fixed_z`` (1.96 whatever alpha), ``low_coverage``, ``wrong_difference``.

    Accepts any interval whose width is within 15 % of the Wald interval's (Newcombe, Agresti-Caffo,
    statsmodels' confint_proportions_2indep differ by < 2 % at these sizes). Coverage: over k experiments
    a 95 % interval's coverage has SE sqrt(0.95 * 0.05 / k), 2.4 pp at k = 80; 0.88 is ~3 SE below.
    """
    covered = 0
    for frame, lift in zip(experiments, true_lifts, strict=True):
        d, lo, hi = _triple(diff_ci(frame, ALPHA))
        rd, rlo, rhi = reference_ci(frame, ALPHA)
        if abs(d - rd) > 1e-6:
            if abs(d + rd) < 1e-6:
                return failed(name, "control_minus_treatment",
                              "Your difference has the wrong sign: report treatment minus control, so a positive "
                              "number means the new version converts more.")
            return failed(name, "wrong_difference",
                          "Your difference is not the treatment conversion rate minus the control one.")
        if not lo <= d <= hi:
            return failed(name, "estimate_outside_ci", "Your interval does not contain your own estimate; return "
                                                       "(difference, lower, upper).")
        ratio = (hi - lo) / (rhi - rlo)
        if ratio < 0.85:
            return failed(name, "ci_too_narrow",
                          "Your interval is more than 15 % narrower than a two-proportion interval: the standard "
                          "error of a difference is sqrt(p1(1-p1)/n1 + p0(1-p0)/n0), with each arm's own n.")
        if ratio > 1.15:
            return failed(name, "ci_too_wide",
                          "Your interval is more than 15 % wider than a two-proportion interval: add the two "
                          "variances, then take the square root (not the sum of standard errors).")
        covered += lo <= lift <= hi
    d, lo, hi = _triple(diff_ci(experiments[0], 0.10))
    rd, rlo, rhi = reference_ci(experiments[0], 0.10)
    if abs((hi - lo) / (rhi - rlo) - 1) > 0.15:
        return failed(name, "fixed_z",
                      "Asked for alpha = 0.10, your interval keeps the 95 % width: compute z from alpha "
                      "(norm.ppf(1 - alpha / 2)).")
    coverage = covered / len(experiments)
    if coverage < min_coverage:
        return failed(name, "low_coverage",
                      "Your 95 % interval misses the true lift of simulated experiments far more often than 5 % of "
                      "the time although its width is right; centre it on the difference: difference +- z x SE.")
    if len(experiments) == 1:
        return passed(name, "Your difference and interval have the right sign, width and alpha, and the interval "
                            + ("covers" if covered else "misses (it happens 5 % of the time)") + " the true lift.")
    return passed(name, "Your interval covers the true lift of simulated experiments about as often as a 95 % "
                        "interval should.")


# ---------------------------------------------------------------- CUPED


@check("CUPED adjustment", stub_hint="implement `cuped_adjust(y, x)`")
def cuped_function(name: str, cuped_adjust: Callable, frame: pd.DataFrame, *, rho: float,
                   metric: str = "converted", covariate: str = "pre_metric", tolerance: float = 0.02) -> CheckResult:
    """Apply ``cuped_adjust(y, x)`` to a frame with a pre-period covariate whose true correlation is ``rho``.

    Misconceptions: ``variance_increased`` (theta with the wrong sign or the inverse scale),
    ``theta_not_cov_over_var`` (a theta other than the regression slope, e.g. half of it),
    ``wrong_shape``, ``off_theory`` (the ratio is far from the theoretical 1 - rho^2 of the covariate).

    The variance ratio Var(adjusted) / Var(y) of the optimal theta is 1 - r^2 exactly, r the sample
    correlation; r^2 differs from the population rho^2 by ~2 rho (1 - rho^2) / sqrt(n) (0.004 at rho 0.4,
    n = 40,000), so ``tolerance`` 0.02 is > 4 SE. Regression adjustment (OLS residuals + mean) also passes.
    """
    y = frame[metric].to_numpy(dtype=float)
    x = frame[covariate].to_numpy(dtype=float)
    adj = np.asarray(cuped_adjust(y.copy(), x.copy()), dtype=float).ravel()
    if adj.shape != y.shape:
        return failed(name, "wrong_shape", "cuped_adjust returned a different number of values than there are "
                                           "users; return one adjusted value per user.")
    ratio = float(adj.var() / y.var())
    r = float(np.corrcoef(x, y)[0, 1])
    if ratio > 1.0 + 1e-9:
        return failed(name, "variance_increased",
                      "Your adjusted metric varies more than the raw one: theta has the wrong sign or "
                      "scale; use theta = cov(y, x) / var(x) and subtract theta * (x - mean(x)).")
    if abs(ratio - (1 - r * r)) > 0.01:
        return failed(name, "theta_not_cov_over_var",
                      "Your adjustment removes less of the variance than the optimal theta would; "
                      "use theta = cov(y, x) / var(x), the regression slope, not the correlation.")
    if abs(ratio - (1 - rho**2)) > tolerance:
        return failed(name, "off_theory",
                      "Your variance ratio is far from the theoretical 1 - rho^2 for this covariate; adjust each "
                      "user's metric with that same user's pre-period covariate.")
    return passed(name, "CUPED keeps the share 1 - rho^2 of the variance, as theory predicts, so the same test needs "
                        "proportionally fewer users.")


@check("CUPED variance reduction", stub_hint="set `variance_reduction` to 1 - Var(adjusted) / Var(raw)")
def cuped_reduction(name: str, variance_reduction: float, cuped_adjust: Callable, frame: pd.DataFrame, *,
                    metric: str = "converted", covariate: str = "pre_metric") -> CheckResult:
    """Misconceptions: ``ratio_not_reduction`` (reported Var(adj)/Var(y), ~0.84, instead of 1 minus it),
    ``sd_not_variance`` (reduction of the standard deviation), ``wrong_reduction``."""
    y = frame[metric].to_numpy(dtype=float)
    adj = np.asarray(cuped_adjust(y.copy(), frame[covariate].to_numpy(dtype=float)), dtype=float).ravel()
    ratio = float(adj.var() / y.var())
    v = float(variance_reduction)
    if abs(v - (1 - ratio)) < 0.005:
        return passed(name, f"CUPED removes {v:.1%} of the metric's variance.")
    if abs(v - ratio) < 0.005:
        return failed(name, "ratio_not_reduction",
                      "You reported the share of variance that remains, not the share removed; the reduction is "
                      "1 - Var(adjusted) / Var(raw).")
    if abs(v - (1 - math.sqrt(ratio))) < 0.005:
        return failed(name, "sd_not_variance",
                      "You reported the reduction of the standard deviation; report the variance reduction "
                      "(it is what sample size scales with).")
    return failed(name, "wrong_reduction",
                  "Your variance_reduction is not 1 - Var(adjusted) / Var(raw) of your own cuped_adjust on this data.")


# ---------------------------------------------------------------- when not to test


@check("small-site duration", stub_hint="set `weeks_needed` for the 5 % -> 5.5 % test")
def weeks_needed(name: str, weeks_needed: float, *, alternative: str = TWO_SIDED) -> CheckResult:
    """Misconceptions: ``per_arm_as_total`` (half the weeks), ``one_sided_undeclared``, ``wrong_weeks``.

    2 x n_per_arm / users_per_week, n_per_arm for 5 % -> 5.5 % at alpha 0.05, power 0.8; 3 % tolerance.
    """
    p0, p1, traffic = SMALL_SITE["p0"], SMALL_SITE["p1"], SMALL_SITE["users_per_week"]
    alt = normalise_alternative(alternative) or TWO_SIDED
    ref = 2 * reference_sample_size(p0, p1, ALPHA, POWER, alt) / traffic
    w = float(weeks_needed)
    if abs(w / ref - 1) <= SAMPLE_SIZE_RTOL:
        return passed(name, f"About {w:.0f} weeks of all the site's traffic: far too long to wait for one decision.")
    if abs(w / (ref / 2) - 1) <= SAMPLE_SIZE_RTOL:
        return failed(name, "per_arm_as_total",
                      "Your weeks enrol one arm's users only: per-arm vs total sample size confused; both arms "
                      "need n_per_arm users.")
    other = ONE_SIDED if alt == TWO_SIDED else TWO_SIDED
    if abs(w / (2 * reference_sample_size(p0, p1, ALPHA, POWER, other) / traffic) - 1) <= SAMPLE_SIZE_RTOL:
        return failed(name, "one_sided_undeclared",
                      "Your weeks use the other test direction than the one you declared in design; be consistent.")
    return failed(name, "wrong_weeks",
                  "Your weeks_needed is not 2 x the per-arm sample size for 5 % -> 5.5 % divided by 2,000 users "
                  "a week.")


DECISION_CHOICES = {
    "srm_50500_vs_49500": {"stop_and_debug"},
    "checkout_redesign": {"ship"},
    "small_site_5_to_5_5": {"staged_rollout", "other_evidence"},
    "safety_feature": {"rollout"},
}
_DECISION_MISTAKES = {
    ("srm_50500_vs_49500", "analyse_results"): "a split this unlikely means assignment is broken: you ignored the "
                                               "SRM",
    ("checkout_redesign", "do_not_ship"): "by the shipping rule agreed in the brief, an interval that excludes zero "
                                          "and whose upper end reaches the one-point target means ship; compare "
                                          "your interval with both",
    ("checkout_redesign", "extend_test"): "the planned sample is reached and the brief's rule forbids extending the "
                                          "test; extending it after looking is peeking",
    ("small_site_5_to_5_5", "ab_test"): "31 weeks of all traffic for one answer: do not A/B test, roll out in "
                                        "stages and watch the metric",
    ("safety_feature", "ab_test"): "withholding a safety feature from a control group to measure it is unethical; "
                                   "roll it out to everyone (staged, monitored)",
}


@check("decision", stub_hint="fill in the `decision` dict with one choice per key")
def decision(name: str, decision: dict) -> CheckResult:
    """Misconceptions: ``missing_key``, ``unknown_choice``, one ``decision_<key>`` per wrong choice
    (``decision_small_site_5_to_5_5`` and ``decision_safety_feature`` are the "do not test" mistakes).

    ``checkout_redesign`` follows the rule stated in the notebook's brief: ship if the 95 % interval of the lift
    excludes zero and its upper end reaches the 1 pp target; do not ship if it contains zero or lies below 1 pp;
    never extend. The notebook's data give +1.04 pp, 95 % CI [+0.46, +1.62] (CUPED: +0.91 pp, [+0.4, +1.4]), so
    "ship" is the only answer under the rule whichever estimator the learner uses."""
    return judge_decision(name, decision, DECISION_CHOICES, _DECISION_MISTAKES, _norm,
                          "Debug the SRM first, ship the redesign on its interval, and skip the A/B test where it "
                        "cannot answer in time or would withhold safety.")
