"""Reference statistics of the hidden tests, written once and used by every checks module that needs them.

This module lives under ``mlcasebook.checks``, which the learner's kernel cannot import: the verdict process
computes the right answers here, the learner never sees them. Each section holds one family of statistics;
append a section for a new family rather than re-deriving a formula inside a checks module.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

# ---------------------------------------------------------------- proportions
# Two-proportion comparisons of the A/B cases (ab_design, ab_pitfalls): the standard error of a difference in
# conversion rates, the Wald interval, z quantiles and the per-arm sample size of a two-proportion z-test.

TWO_SIDED, ONE_SIDED = "two-sided", "larger"


def z_critical(alpha: float, alternative: str = TWO_SIDED) -> float:
    """The z a test at ``alpha`` compares |z| with: z at 1 - alpha/2 two-sided, at 1 - alpha one-sided."""
    return float(norm.isf(alpha / 2 if alternative == TWO_SIDED else alpha))


def proportion_se(p, n):
    """Standard error of one arm's conversion rate, sqrt(p(1 - p)/n), element-wise on arrays."""
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    return np.sqrt(p * (1 - p) / n)


def two_proportion_se(p1, n1, p0, n0):
    """Unpooled standard error of p1 - p0: sqrt(p1(1 - p1)/n1 + p0(1 - p0)/n0), element-wise on arrays."""
    return np.hypot(proportion_se(p1, n1), proportion_se(p0, n0))


def wald_interval(p1: float, n1: float, p0: float, n0: float, alpha: float = 0.05) -> tuple[float, float, float]:
    """(p1 - p0, lower, upper): the Wald 1 - alpha interval with the unpooled standard error."""
    d = float(p1 - p0)
    half = z_critical(alpha) * float(two_proportion_se(p1, n1, p0, n0))
    return d, d - half, d + half


def cohens_h(p1: float, p0: float) -> float:
    """|2 asin(sqrt(p1)) - 2 asin(sqrt(p0))|, the effect size statsmodels' power classes take for proportions."""
    return abs(2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0)))


def sample_size_per_arm(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8,
                        alternative: str = TWO_SIDED, *, effect: float | None = None) -> float:
    """Users per arm of a two-proportion z-test on Cohen's h (as statsmodels' NormalIndPower, not rounded up).

    n = ((z_crit + z_power) / h)^2 * 2 with equal arms; one-sided means "in the direction of the change".
    ``effect`` replaces h (used to reproduce the mistake of passing p1 - p0 as the effect size).
    """
    h = cohens_h(p1, p0) if effect is None else abs(float(effect))
    return 2 * ((z_critical(alpha, alternative) + float(norm.ppf(power))) / h) ** 2


def one_variance_sample_size(p: float, p0: float, p1: float, alpha: float = 0.05, power: float = 0.8,
                             alternative: str = TWO_SIDED) -> float:
    """The one-sample formula (z_crit + z_power)^2 p(1 - p) / (p1 - p0)^2: one rate's variance, not the two arms'."""
    return (z_critical(alpha, alternative) + float(norm.ppf(power))) ** 2 * p * (1 - p) / (p1 - p0) ** 2


def rel_close(got: float, ref: float, rtol: float) -> bool:
    """True when ``got`` is a finite number within ``rtol`` (relative) of ``ref``."""
    return bool(np.isfinite(got) and ref != 0 and abs(got / ref - 1.0) <= rtol)


def interval_in_se(low, high, estimate, se) -> tuple[np.ndarray, np.ndarray]:
    """(half-width, distance of the midpoint from the estimate), both in standard errors, element-wise."""
    low, high, estimate, se = (np.asarray(v, dtype=float) for v in (low, high, estimate, se))
    return (high - low) / 2 / se, np.abs((high + low) / 2 - estimate) / se


# Half-widths, in unpooled standard errors, of intervals learners return for "a 95 % interval of a difference in
# proportions". Pooled vs unpooled SEs differ by up to ~3 % at the course's rates and a t quantile by less, so a
# 95 % interval lands in 1.80-2.12; a 90 % one (z 1.645, the z of a one-sided 5 % test) in 1.55-1.74; lift +- 1 SE
# in 0.92-1.08. The bands do not overlap, so each names one mistake.
HALF_WIDTH_95 = (1.80, 2.12)
HALF_WIDTH_90 = (1.55, 1.74)
HALF_WIDTH_1SE = (0.92, 1.08)


def within(values, band: tuple[float, float]) -> bool:
    """True when every value lies strictly inside ``band``."""
    v = np.asarray(values, dtype=float)
    return bool(np.all((v > band[0]) & (v < band[1])))


# ---------------------------------------------------------------- profit
# The contact-list economics shared by the metrics and churn cases (figures in mlcasebook.cases.churn): a
# contacted churner brings VALUE * SAVE_RATE, every contact costs CONTACT_COST, so contacting pays off above
# the break-even probability CONTACT_COST / (VALUE * SAVE_RATE) = 1/3 on calibrated probabilities.

from mlcasebook.cases.churn import CONTACT_COST, SAVE_RATE, VALUE, best_profit, expected_profit  # noqa: E402,F401

BREAK_EVEN = CONTACT_COST / (VALUE * SAVE_RATE)  # = 1/3
NAIVE_BREAK_EVEN = CONTACT_COST / VALUE          # = 0.1, the save rate forgotten


def _profit_curve(scores, churn):
    """Scores sorted from high to low, and the profit of contacting the top k rows for k = 0..n."""
    s, c = np.asarray(scores, float), np.asarray(churn, float)
    order = np.argsort(-s, kind="stable")
    return s[order], np.concatenate([[0.0], np.cumsum(VALUE * SAVE_RATE * c[order] - CONTACT_COST)])


def _profit_on(curve, thresholds) -> np.ndarray:
    ordered, cumulative = curve
    return cumulative[np.searchsorted(-ordered, -np.asarray(thresholds, float), side="right")]


def profit_at(thresholds, scores, churn) -> np.ndarray:
    """Expected profit of contacting every row with ``scores >= t``, for each t in ``thresholds`` (vectorised).

    ``churn`` holds 0/1 outcomes (realised profit) or true probabilities (expected profit), as in expected_profit.
    """
    return _profit_on(_profit_curve(scores, churn), thresholds)


def profit_share(threshold: float, scores, true_proba) -> float:
    """Share of the best expected profit any threshold on ``scores`` attains that ``threshold`` earns (1 if none pays)."""
    best = best_profit(true_proba, scores)
    return float(profit_at([threshold], scores, true_proba)[0] / best) if best > 0 else 1.0


def optimal_threshold(churn, scores) -> float:
    """The threshold on ``scores`` that maximises profit on these rows: the lowest score still contacted
    (1.0 when no contact pays off)."""
    s = np.asarray(scores, float)
    order = np.argsort(-s, kind="stable")
    cumulative = np.cumsum(VALUE * SAVE_RATE * np.asarray(churn, float)[order] - CONTACT_COST)
    k = int(np.argmax(cumulative))
    return float(s[order][k]) if cumulative[k] > 0 else 1.0


# Grids a learner sweeps: np.arange(a, b, step) or np.linspace(a, b, n) with the usual ends, a round step from 0.05
# down to 0.001 or a round number of points from 20 up. Coarser grids are left out on purpose: on a 0.1 grid the
# test set's peak is also where an honest threshold rounded to one decimal lands, so the number cannot tell them apart.
_GRID_STARTS, _GRID_ENDS = (0.0, 0.01, 0.05, 0.1), (1.0, 0.99, 0.95, 0.9)
_GRID_STEPS = (0.05, 0.025, 0.02, 0.01, 0.005, 0.0025, 0.002, 0.001)
_GRID_POINTS = (20, 25, 30, 40, 50, 100, 200, 500, 1000)


def _grids_through(threshold: float):
    for a in _GRID_STARTS:
        for b in _GRID_ENDS:
            sizes = {round((b - a) / step) + 1 for step in _GRID_STEPS} | set(_GRID_POINTS)
            sizes |= {n + 1 for n in _GRID_POINTS}
            for n in sorted(sizes):
                step = (b - a) / (n - 1)
                k = round((threshold - a) / step)
                if 0 <= k < n and abs(a + k * step - threshold) < 1e-9:
                    yield np.linspace(a, b, n)


def is_realised_peak(threshold: float, scores, y, *, grids: bool = True) -> bool:
    """True when ``threshold`` is where realised profit on these rows (``scores`` and 0/1 outcomes ``y``) peaks:
    over every possible threshold or, with ``grids``, over a regular grid through it that a learner would sweep.

    The fingerprint of a threshold chosen by sweeping these rows; the break-even probability itself is never
    flagged (it comes from the costs). A threshold tuned on other rows lands on the exact peak rarely (0 of 540
    honest validation-split sweeps on the metrics notebook's test set), but on a grid's peak often (~5 %: the
    realised curve of 5,000 rows has a plateau a 0.01 grid cannot resolve), so ``grids`` is only for thresholds
    already known not to come from a tuning procedure (a function that returns it whatever data it is given).
    """
    t = float(threshold)
    if abs(t - BREAK_EVEN) < 0.01:
        return False
    curve = _profit_curve(scores, y)
    realised = float(_profit_on(curve, [t])[0])
    if abs(realised - max(0.0, curve[1].max())) < 1e-6 and realised > 0:
        return True
    return grids and any(abs(realised - _profit_on(curve, grid).max()) < 1e-6 for grid in _grids_through(t))


def f1_optimum(y, scores) -> float:
    """The threshold on ``scores`` where F1 of the positive class peaks on these rows (what an F1 sweep finds)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(np.asarray(y), np.asarray(scores, float))
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def shares_of(thresholds, scores, true_proba) -> np.ndarray:
    """profit_share of each threshold (vectorised): expected profit over the best any threshold on ``scores`` attains."""
    curve = _profit_curve(scores, true_proba)
    best = max(0.0, float(curve[1].max()))
    earned = _profit_on(curve, thresholds)
    return earned / best if best > 0 else np.ones_like(earned)


# ---------------------------------------------------------------- calibration
# How far predicted probabilities are from observed frequencies (churn and metrics cases).


def calibration_error(y, p, bins: int = 10) -> float:
    """Expected calibration error over equal-count bins of the predicted probability.

    On 10,000 rows at 5 % churn a calibrated model scores ~0.006 (each bin of 1,000 has a churn-rate standard error
    of ~0.007 where its rate is near 5 %, less where it is lower); a class-weighted model's raw scores ~0.2.
    """
    y, p = np.asarray(y, float), np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    return float(sum(len(b) * abs(y[b].mean() - p[b].mean()) for b in np.array_split(order, bins)) / len(p))


# ---------------------------------------------------------------- exact values
# Values a learner computes on the same rows as the reference: equal up to the rounding a learner applies.

ROUNDING = 1e-3  # a value rounded to three decimals is off by at most 5e-4


def close(a, b, tol: float = ROUNDING) -> bool:
    """True when ``a`` is a finite number within ``tol`` (absolute) of ``b``."""
    try:
        a = float(a)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(a) and abs(a - float(b)) <= tol)


# ---------------------------------------------------------------- regression errors
# Errors of a regression in the units of its target (bias_variance and residuals cases).


def rmse(y_true, y_pred) -> float:
    """Root mean squared error of ``y_pred`` against ``y_true``, in the units of ``y_true`` (both flattened)."""
    diff = np.asarray(y_true, dtype=float).ravel() - np.asarray(y_pred, dtype=float).ravel()
    return float(np.sqrt(np.mean(diff**2)))
