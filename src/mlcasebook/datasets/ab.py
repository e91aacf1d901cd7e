"""A/B experiments with a known truth: conversion, novelty, segments, CUPED covariate, SRM, clusters.

One generator, :func:`make_ab_experiment`, serves both notebooks of module 05_experimentation
(``ab_test_design`` and ``ab_test_pitfalls``). Every statistic the notebooks teach has an exact
population value in the returned ``truth`` record, derived in closed form (no Monte Carlo), so
tests can ask "does a simple estimator recover it?".

The model behind it (a probit model with a user-level latent propensity)::

    z_i ~ N(0, 1)                      user propensity (drives both periods)
    u_c ~ N(0, sigma_u^2)              cluster effect (0 unless clustered)
    latent_i = a + b * z_i + u_c + d_i + e_i,   e_i ~ N(0, 1)
    converted_i = 1[latent_i > 0]

so P(converted) in control equals Phi(a / s) with s = sqrt(1 + b^2 + sigma_u^2), and ``a`` is set so
that this is exactly ``baseline_rate``. A treated user's shift ``d_i`` is solved, per segment and
per day, so the *average* treated rate is exactly ``baseline_rate + lift`` (the effect on the
probability scale is therefore exact on average and naturally heterogeneous across users).
The pre-period covariate is ``pre_metric = 30 + 6 * (c * z_i + sqrt(1 - c^2) * noise)``, with ``c``
chosen so that corr(pre_metric, converted) in the control population equals ``covariate_corr``
(Stein's lemma gives cov(z, converted) = (b / s) * phi(a / s)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import owens_t
from scipy.stats import norm
from sklearn.utils import Bunch

ARMS = ("control", "treatment")
PRE_MEAN, PRE_SD = 30.0, 6.0  # pre_metric: engagement minutes a week in the 4 weeks before the test


@dataclass(frozen=True)
class ABTruth:
    """Ground truth of a :func:`make_ab_experiment` sample (all rates and lifts are absolute probabilities).

    Attributes
    ----------
    baseline_rate : float
        Conversion probability of a control user (population value).
    lift : float
        True long-run average treatment effect, treated minus control conversion probability
        (share-weighted over segments; novelty excluded). ``0.01`` means +1 percentage point.
    relative_lift : float
        ``lift / baseline_rate``.
    segment_lifts, segment_shares : dict
        True long-run lift and population share of every segment.
    novelty_lift : float
        Extra lift on the first day of exposure; decays as ``novelty_lift * 0.5 ** (t / novelty_half_life)``.
    novelty_half_life : float or None
        Half-life of the novelty component in days (``None``: no novelty). A decay written
        ``e^(-t/tau)`` has half-life ``tau * ln 2``.
    naive_lift : float
        Expected value of the plain difference in conversion rates over all rows of this sample
        (long-run lift plus the novelty averaged over the rows' exposure times). Equal to ``lift``
        without novelty. With ``srm_drop > 0`` the plain difference is further biased (the lost users
        are not random); ``naive_lift`` ignores that bias.
    covariate_corr : float
        Population correlation between ``pre_metric`` and ``converted`` among control users (ρ).
    covariate_corr_treatment : float
        The same among (long-run, average-segment) treated users; close to ``covariate_corr``.
    cuped_variance_ratio : float
        Theoretical Var(CUPED-adjusted metric) / Var(metric) = 1 − ρ², with ρ = ``covariate_corr``.
    treatment_share : float
        Designed probability of assignment to treatment.
    observed_treatment_share : float
        Expected share of treated rows in the frame after ``srm_drop`` (equals ``treatment_share``
        when nothing is lost): the sample-ratio-mismatch truth.
    srm_drop : float
        Share of treated users silently missing from the frame (lost preferentially among
        low-propensity users, so the surviving treatment arm converts more: a biased comparison).
    icc : float
        Intra-cluster correlation of ``converted`` on the 0/1 scale (0 when not clustered).
    cluster_size : float
        Mean number of users per cluster (1 when not clustered).
    design_effect : float
        ``1 + (cluster_size - 1) * icc``: the variance inflation of a mean when whole clusters are
        randomised (equal cluster sizes; Kish).
    randomise_by : str
        ``"user"`` or ``"cluster"``.
    n_days, daily_traffic : int
        Length of the experiment and the number of new users enrolled per day.
    unit : str
        ``"user"`` (one row per user) or ``"user_day"`` (one row per user and day).
    """

    baseline_rate: float
    lift: float
    relative_lift: float
    segment_lifts: dict = field(default_factory=dict)
    segment_shares: dict = field(default_factory=dict)
    novelty_lift: float = 0.0
    novelty_half_life: float | None = None
    naive_lift: float = 0.0
    covariate_corr: float = 0.0
    covariate_corr_treatment: float = 0.0
    cuped_variance_ratio: float = 1.0
    treatment_share: float = 0.5
    observed_treatment_share: float = 0.5
    srm_drop: float = 0.0
    icc: float = 0.0
    cluster_size: float = 1.0
    design_effect: float = 1.0
    randomise_by: str = "user"
    n_days: int = 14
    daily_traffic: int = 0
    unit: str = "user"

    def novelty_on_day(self, t) -> np.ndarray:
        """Novelty part of the lift ``t`` days after exposure (array-like ``t``)."""
        t = np.asarray(t, dtype=float)
        if not self.novelty_half_life or self.novelty_lift == 0:
            return np.zeros_like(t)
        return self.novelty_lift * 0.5 ** (t / self.novelty_half_life)

    def lift_on_day(self, t) -> np.ndarray:
        """Average lift ``t`` days after exposure: the long-run ``lift`` plus the novelty part."""
        return self.lift + self.novelty_on_day(t)


def _binary_icc(h: float, r: float, p: float) -> float:
    """ICC of 0/1 outcomes whose probit latent has cluster share ``r`` of its variance.

    Var_c(P(Y=1 | cluster)) = Phi2(h, h; r) - p^2, with Phi2(h, h; r) = Phi(h) - 2 T(h, sqrt((1-r)/(1+r)))
    (Owen's T), h = Phi^-1(p).
    """
    both = norm.cdf(h) - 2.0 * owens_t(h, np.sqrt((1.0 - r) / (1.0 + r)))
    return float((both - p * p) / (p * (1.0 - p)))


def _cluster_variance(icc: float, p: float, b: float) -> float:
    """sigma_u^2 that makes the 0/1 outcome's ICC equal ``icc`` at base rate ``p`` (user spread ``b``)."""
    if icc <= 0:
        return 0.0
    h = norm.ppf(p)

    def gap(log_var: float) -> float:
        v = np.exp(log_var)
        return _binary_icc(h, v / (1.0 + b * b + v), p) - icc

    return float(np.exp(brentq(gap, -20.0, 10.0)))


def _parse_segments(segments, lift: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    if segments is None:
        return ["all"], np.array([1.0]), np.array([float(lift)])
    names, shares, lifts = [], [], []
    for name, spec in segments.items():
        share, seg_lift = spec
        names.append(str(name))
        shares.append(float(share))
        lifts.append(float(seg_lift))
    shares_arr = np.array(shares)
    if np.any(shares_arr <= 0) or abs(shares_arr.sum() - 1.0) > 1e-9:
        raise ValueError(f"segment shares must be positive and sum to 1, got {shares}.")
    return names, shares_arr, np.array(lifts)


def make_ab_experiment(
    n_users: int = 20_000,
    *,
    baseline_rate: float = 0.10,
    lift: float = 0.01,
    n_days: int = 14,
    daily_traffic: int | None = None,
    segments: dict | None = None,
    novelty_lift: float = 0.0,
    novelty_half_life: float | None = None,
    covariate_corr: float = 0.4,
    treatment_share: float = 0.5,
    srm_drop: float = 0.0,
    n_clusters: int | None = None,
    icc: float = 0.0,
    randomise_by: str = "user",
    unit: str = "user",
    random_state=None,
) -> Bunch:
    """Simulate a conversion A/B test whose true effects are known exactly.

    The generative story: ``daily_traffic`` new users arrive each day for ``n_days`` days and are
    randomised to control or treatment (by user, or by whole cluster, e.g. city or household). Each
    user has a hidden propensity that drives both their engagement in the four weeks before the test
    (``pre_metric``, the CUPED covariate) and whether they convert during it. Control users convert
    with probability ``baseline_rate``. Treatment raises the average conversion probability by
    ``lift`` in the long run; with ``segments`` each segment has its own lift (e.g. +3 pp for new
    users, −2 pp for returning ones). On top, an optional novelty effect adds ``novelty_lift`` on the
    day of first exposure, halving every ``novelty_half_life`` days. Clusters (``n_clusters``) share a
    random effect so outcomes within a cluster are correlated (``icc``). With ``srm_drop`` a
    logging bug silently loses that share of treated users, mostly low-propensity ones: the arms'
    sizes no longer match the design (sample-ratio mismatch) and the naive comparison is biased.

    Parameters
    ----------
    n_users : int
        Number of users enrolled (before any ``srm_drop`` loss).
    baseline_rate : float, keyword-only
        Control conversion probability (default 0.10).
    lift : float, keyword-only
        True long-run treatment effect on the conversion probability, absolute (0.01 = +1 pp).
        Ignored when ``segments`` is given.
    n_days : int, keyword-only
        Days of enrolment (default 14); users are spread evenly over them. Ignored when
        ``daily_traffic`` is given.
    daily_traffic : int or None, keyword-only
        New users per day; when given, ``n_days = ceil(n_users / daily_traffic)``.
    segments : dict or None, keyword-only
        ``{name: (population_share, lift)}``, shares summing to 1, e.g.
        ``{"new": (0.5, 0.03), "returning": (0.5, -0.02)}``. All segments share ``baseline_rate``;
        ``truth.lift`` is the share-weighted average.
    novelty_lift : float, keyword-only
        Extra absolute lift on the day of first exposure (0 = none).
    novelty_half_life : float or None, keyword-only
        Half-life of the novelty in days. ``e^(-t/5)`` is ``novelty_half_life=5 * np.log(2)``.
        With ``unit="user"`` ``t`` is the user's enrolment day (days since launch); with
        ``unit="user_day"`` it is the days since the user's own first exposure.
    covariate_corr : float, keyword-only
        Target correlation ρ between ``pre_metric`` and ``converted`` among control users
        (default 0.4; CUPED then removes ρ² = 16 % of the variance). Its ceiling depends on
        ``baseline_rate`` (about 0.49 at 10 %, 0.39 at 5 %); a larger value raises ValueError.
        0 gives an unrelated covariate.
    treatment_share : float, keyword-only
        Designed probability of assignment to treatment (default 0.5).
    srm_drop : float, keyword-only
        Share of treated users missing from the frame (0 to 0.5), lost with probability
        proportional to ``2 * Phi(-z)`` (low-propensity users more often).
    n_clusters : int or None, keyword-only
        Number of equal-size clusters users belong to (column ``cluster``); ``None``: no clusters.
    icc : float, keyword-only
        Intra-cluster correlation of ``converted`` (0/1 scale) when clustered, e.g. 0.02 with
        50 users per cluster gives a design effect of 1 + 49 * 0.02 = 1.98.
    randomise_by : {"user", "cluster"}, keyword-only
        Unit of randomisation ("cluster" needs ``n_clusters``).
    unit : {"user", "user_day"}, keyword-only
        ``"user"``: one row per user, the outcome on the enrolment day. ``"user_day"``: one row per
        user and day from enrolment to the last day (daily conversions; repeated rows of a user are
        correlated through the user's propensity); novelty then decays with days since exposure.
    random_state : int or None, keyword-only
        Seed of the one random generator used.

    Returns
    -------
    Bunch with
        frame : DataFrame with columns ``user_id``, ``day`` (0-based day of the experiment),
            ``segment``, ``cluster`` (when clustered), ``arm`` ("control"/"treatment"), ``treated``
            (0/1), ``pre_metric`` (pre-period engagement, minutes a week), ``converted`` (0/1) and
            ``revenue`` (0 unless converted; right-skewed, lognormal, unaffected by treatment beyond
            conversion). With ``unit="user_day"`` also ``first_day`` and ``exposure_day``
            (days since the user's first exposure).
        target : Series ``converted`` (same index as ``frame``).
        truth : :class:`ABTruth`.

    Examples
    --------
    >>> ab = make_ab_experiment(40_000, random_state=0)
    >>> g = ab.frame.groupby("arm")["converted"].mean()
    >>> float(round(g["treatment"] - g["control"], 2))   # truth.lift = 0.01
    0.01
    """
    n = int(n_users)
    if n < 2:
        raise ValueError(f"n_users must be at least 2, got {n_users}.")
    p0 = float(baseline_rate)
    if not 0 < p0 < 1:
        raise ValueError(f"baseline_rate must be between 0 and 1, got {baseline_rate}.")
    if randomise_by not in ("user", "cluster"):
        raise ValueError(f"randomise_by must be 'user' or 'cluster', got {randomise_by!r}.")
    if unit not in ("user", "user_day"):
        raise ValueError(f"unit must be 'user' or 'user_day', got {unit!r}.")
    if randomise_by == "cluster" and not n_clusters:
        raise ValueError("randomise_by='cluster' needs n_clusters.")
    if not 0 < treatment_share < 1:
        raise ValueError(f"treatment_share must be between 0 and 1, got {treatment_share}.")
    if not 0 <= srm_drop <= 0.5:
        raise ValueError(f"srm_drop must be between 0 and 0.5, got {srm_drop}.")
    if novelty_lift and not novelty_half_life:
        raise ValueError("novelty_lift needs a positive novelty_half_life (days).")
    if not 0 <= icc < 1:
        raise ValueError(f"icc must be in [0, 1), got {icc}.")
    if icc > 0 and not n_clusters:
        raise ValueError("icc > 0 needs n_clusters.")

    if daily_traffic is not None:
        daily = int(daily_traffic)
        if daily < 1:
            raise ValueError(f"daily_traffic must be positive, got {daily_traffic}.")
        days_total = -(-n // daily)
        enrol_day = np.arange(n) // daily
    else:
        days_total = int(n_days)
        if days_total < 1:
            raise ValueError(f"n_days must be positive, got {n_days}.")
        enrol_day = (np.arange(n) * days_total) // n
        daily = -(-n // days_total)

    names, shares, seg_lifts = _parse_segments(segments, lift)
    avg_lift = float(shares @ seg_lifts)
    half = float(novelty_half_life) if novelty_half_life else None

    def novelty(t):
        t = np.asarray(t, dtype=float)
        return float(novelty_lift) * 0.5 ** (t / half) if half else np.zeros_like(t)

    peak = seg_lifts + float(max(novelty_lift, 0.0))
    low = seg_lifts + float(min(novelty_lift, 0.0))
    if np.any(p0 + peak >= 1) or np.any(p0 + low <= 0):
        raise ValueError("baseline_rate plus every segment's lift (and novelty) must stay between 0 and 1.")

    # Latent scale: user spread b, cluster variance, intercept a so that P(convert | control) = p0.
    b = 1.5
    sigma_u2 = _cluster_variance(float(icc), p0, b) if n_clusters else 0.0
    s = np.sqrt(1.0 + b * b + sigma_u2)
    a = norm.ppf(p0) * s
    rho_max = (b / s) * norm.pdf(a / s) / np.sqrt(p0 * (1 - p0))
    if abs(covariate_corr) > rho_max:
        raise ValueError(f"covariate_corr must be at most {rho_max:.3f} in size at baseline_rate {p0}.")
    c = float(covariate_corr) / rho_max

    rng = np.random.default_rng(random_state)
    z = rng.standard_normal(n)
    pre = PRE_MEAN + PRE_SD * (c * z + np.sqrt(1.0 - c * c) * rng.standard_normal(n))
    seg_idx = rng.choice(len(names), size=n, p=shares) if len(names) > 1 else np.zeros(n, dtype=int)

    cols: dict = {"user_id": np.arange(n), "day": enrol_day, "segment": np.asarray(names, dtype=object)[seg_idx]}
    u = np.zeros(n)
    if n_clusters:
        k = int(n_clusters)
        if not 1 <= k <= n:
            raise ValueError(f"n_clusters must be between 1 and n_users, got {n_clusters}.")
        cluster = rng.permutation(np.arange(n) % k)
        u = (np.sqrt(sigma_u2) * rng.standard_normal(k))[cluster]
        cols["cluster"] = cluster
    if randomise_by == "cluster":
        treated = (rng.random(int(n_clusters)) < treatment_share)[cluster]
    else:
        treated = rng.random(n) < treatment_share

    # Users lost to the logging bug (sample-ratio mismatch): treated, more often low-propensity.
    keep = np.ones(n, dtype=bool)
    if srm_drop > 0:
        keep = ~(treated & (rng.random(n) < 2.0 * srm_drop * norm.cdf(-z)))

    def shift(t_exposed: np.ndarray, idx: np.ndarray, tr: np.ndarray) -> np.ndarray:
        """Latent shift giving average treated rate p0 + segment lift + novelty(t)."""
        target = p0 + seg_lifts[idx] + novelty(t_exposed)
        return np.where(tr, s * norm.ppf(np.clip(target, 1e-12, 1 - 1e-12)) - a, 0.0)

    if unit == "user":
        d = shift(enrol_day, seg_idx, treated)
        converted = (a + b * z + u + d + rng.standard_normal(n) > 0).astype(int)
        frame = pd.DataFrame(cols)
        frame.insert(frame.columns.get_loc("segment") + 1, "arm", np.where(treated, ARMS[1], ARMS[0]))
        frame["treated"] = treated.astype(int)
        frame["pre_metric"] = np.round(pre, 2)
        frame["converted"] = converted
        frame = frame[keep]
        exposure_t = enrol_day[keep]
    else:
        reps = days_total - enrol_day
        row_user = np.repeat(np.arange(n), reps)
        first = enrol_day[row_user]
        exposure = np.arange(len(row_user)) - np.repeat(np.cumsum(reps) - reps, reps)
        d = shift(exposure, seg_idx[row_user], treated[row_user])
        m = len(row_user)
        converted = (a + b * z[row_user] + u[row_user] + d + rng.standard_normal(m) > 0).astype(int)
        frame = pd.DataFrame({key: val[row_user] for key, val in cols.items()})
        frame["day"] = first + exposure
        frame.insert(frame.columns.get_loc("segment") + 1, "arm", np.where(treated[row_user], ARMS[1], ARMS[0]))
        frame["treated"] = treated[row_user].astype(int)
        frame["first_day"] = first
        frame["exposure_day"] = exposure
        frame["pre_metric"] = np.round(pre[row_user], 2)
        frame["converted"] = converted
        frame = frame[keep[row_user]]
        exposure_t = frame["exposure_day"].to_numpy()
    revenue = np.where(frame["converted"].to_numpy() == 1, np.round(np.exp(rng.normal(3.0, 1.0, len(frame))), 2), 0.0)
    frame["revenue"] = revenue
    frame = frame.reset_index(drop=True)

    p1 = p0 + avg_lift
    rho_t = c * (b / s) * norm.pdf(norm.ppf(p1)) / np.sqrt(p1 * (1 - p1))
    kept_t = treatment_share * (1 - srm_drop)
    size = n / n_clusters if n_clusters else 1.0
    truth = ABTruth(
        baseline_rate=p0,
        lift=avg_lift,
        relative_lift=avg_lift / p0,
        segment_lifts=dict(zip(names, map(float, seg_lifts), strict=True)),
        segment_shares=dict(zip(names, map(float, shares), strict=True)),
        novelty_lift=float(novelty_lift),
        novelty_half_life=half,
        naive_lift=float(avg_lift + np.mean(novelty(exposure_t))) if len(exposure_t) else avg_lift,
        covariate_corr=float(covariate_corr),
        covariate_corr_treatment=float(rho_t),
        cuped_variance_ratio=float(1 - covariate_corr**2),
        treatment_share=float(treatment_share),
        observed_treatment_share=float(kept_t / (kept_t + 1 - treatment_share)),
        srm_drop=float(srm_drop),
        icc=float(icc) if n_clusters else 0.0,
        cluster_size=float(size),
        design_effect=float(1 + (size - 1) * icc) if n_clusters else 1.0,
        randomise_by=randomise_by,
        n_days=int(days_total),
        daily_traffic=int(daily),
        unit=unit,
    )
    return Bunch(frame=frame, target=frame["converted"], truth=truth)
