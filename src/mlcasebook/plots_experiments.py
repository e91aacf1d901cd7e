"""Plot helpers for module 05_experimentation: every figure gets a title, labelled axes and units.

Each plot helper draws on the ``ax`` it is given, else on a new figure, and returns None (nothing printable
below a cell). Sections: ab_test_design (power curves, sample size against MDE, effect intervals). Helpers for
ab_test_pitfalls may be added below their own heading.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from mlcasebook.plots import plain_dollars


def _axes(ax, size=(6, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


# ---------------------------------------------------------------- ab_test_design


def power_of_test(p0: float, lifts, n_per_arm: float, alpha: float = 0.05, alternative: str = "two-sided"):
    """Power of a two-proportion z-test (Cohen's h, statsmodels) for absolute ``lifts`` at ``n_per_arm``."""
    lifts = np.atleast_1d(np.asarray(lifts, dtype=float))
    h = np.abs(proportion_effectsize(p0 + lifts, p0))
    power = NormalIndPower()
    return np.array([power.power(e, nobs1=n_per_arm, alpha=alpha, ratio=1.0, alternative=alternative) if e > 0
                     else alpha for e in h])


def power_curve(p0: float, n_per_arm: dict, *, mde: float | None = None, alpha: float = 0.05,
                alternative: str = "two-sided", target_power: float = 0.8, max_lift: float | None = None, ax=None,
                title: str | None = None) -> None:
    """Power against the true absolute lift, one curve per sample size.

    ``n_per_arm`` maps a label to users per arm, e.g. ``{"14,744 per arm": 14_744}``. The target
    power and the MDE are drawn as reference lines; the shaded band shows where power falls short.
    """
    ax = _axes(ax)
    top = max_lift if max_lift is not None else 2.5 * (mde if mde else 0.01)
    lifts = np.linspace(0, top, 121)
    for label, n in n_per_arm.items():
        ax.plot(100 * lifts, power_of_test(p0, lifts, n, alpha, alternative), label=label)
    ax.axhline(target_power, color="grey", ls="--", lw=1, label=f"target power {target_power:.0%}")
    ax.axhspan(0, target_power, color="grey", alpha=0.06)
    if mde is not None:
        ax.axvline(100 * mde, color="C3", ls=":", label=f"MDE {100 * mde:g} pp")
    ax.set(xlabel=f"True lift in conversion (percentage points, from {p0:.0%})",
           ylabel="Power (chance of a significant result)", ylim=(0, 1.02), xlim=(0, 100 * top),
           title=title or f"Power of a {alternative} test at alpha {alpha}")
    ax.legend(fontsize=8, loc="lower right")


def sample_size_curve(p0: float, lifts, sample_size, *, users_per_day: float | None = None, ax=None,
                      title: str = "Users per arm needed against the minimum detectable effect") -> None:
    """Users per arm (log scale) against the absolute MDE, computed with the learner's ``sample_size(p0, p1)``.

    With ``users_per_day`` a second axis shows the days needed for both arms.
    """
    ax = _axes(ax)
    lifts = np.asarray(lifts, dtype=float)
    n = np.array([float(sample_size(p0, p0 + d)) for d in lifts])
    ax.plot(100 * lifts, n, "o-", ms=3)
    ax.set_yscale("log")
    ax.set(xlabel=f"Minimum detectable effect (percentage points, from {p0:.0%})", ylabel="Users per arm (log scale)",
           title=title)
    if users_per_day:
        sec = ax.secondary_yaxis("right", functions=(lambda v: 2 * v / users_per_day,
                                                     lambda d: d * users_per_day / 2))
        sec.set_ylabel("Days of traffic for both arms")
    ax.grid(alpha=0.3, which="both")


def effect_intervals(intervals: dict, *, truth: float | None = None, ax=None, unit: str = "percentage points",
                     title: str = "Estimated lift with 95 % confidence intervals") -> None:
    """Forest plot: one horizontal interval per entry of ``intervals`` ({label: (estimate, lower, upper)}).

    Values are absolute differences in proportions, drawn in percentage points; zero and the true lift
    (when known) are marked.
    """
    ax = _axes(ax, size=(6, 0.8 + 0.6 * len(intervals)))
    labels = list(intervals)
    for i, label in enumerate(labels):
        est, lo, hi = (100 * float(v) for v in intervals[label])
        ax.errorbar(est, i, xerr=[[est - lo], [hi - est]], fmt="o", capsize=4, color=f"C{i}")
        ax.annotate(f"{est:+.2f} [{lo:+.2f}, {hi:+.2f}]", (est, i), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=8)
    ax.axvline(0, color="grey", lw=1, label="no effect")
    if truth is not None:
        ax.axvline(100 * truth, color="C3", ls=":", label=f"true lift {100 * truth:+.2f}")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.set(xlabel=f"Treatment minus control ({plain_dollars(unit)})", title=title)
    ax.legend(fontsize=8, loc="lower right")


# ---------------------------------------------------------------- ab_test_pitfalls


def false_positive_by_looks(rates: dict, *, n_sims: int, alpha: float = 0.05, corrected: dict | None = None, ax=None,
                            title: str = "Peeking: share of no-effect tests declared a winner") -> None:
    """False-positive rate against the number of looks, with 95 % Monte-Carlo intervals.

    ``rates`` maps a number of looks to a simulated rate (from ``n_sims`` no-effect experiments);
    ``corrected`` (same shape) adds the rates under a corrected boundary. The nominal alpha is marked.
    """
    ax = _axes(ax)
    for i, (label, series) in enumerate((("stop at first |z| > 1.96", rates), ("corrected boundary", corrected or {}))):
        if not series:
            continue
        k = np.array(sorted(series), dtype=float)
        p = np.array([series[j] for j in sorted(series)], dtype=float)
        half = 1.96 * np.sqrt(p * (1 - p) / n_sims)
        ax.errorbar(k, 100 * p, yerr=100 * half, fmt="o-", capsize=4, color=f"C{3 if i == 0 else 0}", label=label)
    ax.axhline(100 * alpha, color="grey", ls="--", lw=1, label=f"nominal alpha {alpha:.0%}")
    ax.set_xscale("log")
    ticks = sorted(set(rates) | set(corrected or {}))
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set(xlabel="Number of equally spaced looks at the data (log scale)",
           ylabel="False-positive rate (% of no-effect tests)", ylim=(0, None), title=title)
    ax.legend(fontsize=8, loc="upper left")


def lift_over_time(tables: dict, *, truth=None, long_run: float | None = None, ax=None,
                   xlabel: str = "Day of the experiment (day 0 = launch)",
                   title: str = "Lift by day with 95 % confidence intervals") -> None:
    """Absolute lift (percentage points) by day, one series per table, each with its 95 % interval band.

    ``tables`` maps a label to a DataFrame indexed by day with ``lift``, ``ci_low``, ``ci_high``
    (differences in proportions). ``truth`` (a callable of the day, e.g. ``truth.lift_on_day``) draws the
    true curve; ``long_run`` a horizontal line at an estimated lasting effect.
    """
    ax = _axes(ax, size=(7, 4))
    for i, (label, table) in enumerate(tables.items()):
        days = np.asarray(table.index, dtype=float)
        ax.plot(days, 100 * table["lift"], "o-", ms=3, color=f"C{i}", label=label)
        ax.fill_between(days, 100 * table["ci_low"], 100 * table["ci_high"], color=f"C{i}", alpha=0.15,
                        label=f"{label}: 95 % interval")
    if truth is not None:
        first = next(iter(tables.values()))
        grid = np.linspace(float(first.index.min()), float(first.index.max()), 200)
        ax.plot(grid, 100 * np.asarray(truth(grid)), color="black", ls=":", label="true lift (generator)")
    if long_run is not None:
        ax.axhline(100 * long_run, color="C3", ls="--", lw=1.2,
                   label=f"estimated long-run lift {100 * long_run:+.2f} pp")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel=xlabel, ylabel="Treatment minus control (percentage points)", title=title)
    ax.legend(fontsize=8, loc="upper right")
