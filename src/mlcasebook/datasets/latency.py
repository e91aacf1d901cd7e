"""Serving latency: scoring data for models of different sizes, per-stage request logs, canary streams, and a
stand-in model whose predict path takes a known time.

Four generators, each returning its ground truth:

* :func:`make_scoring_data` — the churn generator's customers (:mod:`mlcasebook.datasets.churn`) with a churn
  label whose log-odds hold thresholds and interactions, so that tree ensembles beat a linear model offline;
* :func:`make_stage_log` — one row per request with the milliseconds spent in each stage of the predict path
  (feature fetch, model, post-processing), from lognormal stage times plus rare slow events;
* :func:`make_canary_stream` — per-window request, error and p99 counts of a canary and the baseline it is
  compared with, with or without a regression;
* :class:`ScriptedModel` — a model whose ``predict_proba`` sleeps for a scripted time (cold first calls, a cost
  per row, a periodic pause), so a timing procedure can be judged without trusting any machine's speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm
from sklearn.metrics import roc_auc_score
from sklearn.utils import Bunch

from mlcasebook.datasets.churn import _features

__all__ = ["ScoringTruth", "make_scoring_data", "Stage", "StageTruth", "NOTEBOOK_STAGES", "make_stage_log",
           "stage_frame", "CanaryTruth", "make_canary_stream", "ScriptedModel"]

# ---------------------------------------------------------------- scoring data

#: the terms of the true log-odds (the generative story in plain numbers): name -> (effect, description)
SCORING_TERMS = {
    "intercept": (-2.0, "baseline log-odds"),
    "new_customer": (2.0, "tenure under 6 months"),
    "fibre_month_to_month": (1.6, "fibre internet on a month-to-month contract"),
    "pays_a_lot_for_little": (2.0, "monthly charges above 90 with at most two services"),
    "unhappy_newish": (2.2, "two or more support calls, tenure under 18 months, month-to-month"),
    "two_year": (-1.5, "a two-year contract"),
    "echeck_high_bill": (1.0, "electronic cheque and monthly charges above 70"),
}


def scoring_log_odds(X: pd.DataFrame) -> np.ndarray:
    """The true log-odds of churning for rows of churn features (:data:`SCORING_TERMS`, added up)."""
    t = X["tenure_months"].to_numpy()
    charges = X["monthly_charges"].to_numpy()
    m2m = (X["contract"] == "month_to_month").to_numpy()
    indicators = {
        "new_customer": t < 6,
        "fibre_month_to_month": (X["internet_service"] == "fiber").to_numpy() & m2m,
        "pays_a_lot_for_little": (charges > 90) & (X["num_services"].to_numpy() <= 2),
        "unhappy_newish": (X["support_calls_90d"].to_numpy() >= 2) & (t < 18) & m2m,
        "two_year": (X["contract"] == "two_year").to_numpy(),
        "echeck_high_bill": (X["payment_method"] == "electronic_check").to_numpy() & (charges > 70),
    }
    eta = np.full(len(X), SCORING_TERMS["intercept"][0])
    for name, on in indicators.items():
        eta = eta + SCORING_TERMS[name][0] * on
    return eta


@dataclass(frozen=True)
class ScoringTruth:
    """Ground truth of :func:`make_scoring_data`: every row's true churn probability and the terms behind it."""

    probability: np.ndarray
    terms: dict = field(default_factory=lambda: dict(SCORING_TERMS))

    def oracle_auc(self, y_true, index=None) -> float:
        """ROC AUC of ranking by the true probability on the rows ``index`` (labels or positions; all by default)."""
        p = self.probability if index is None else self.probability[np.asarray(index)]
        return float(roc_auc_score(np.asarray(y_true), p))


def make_scoring_data(n_samples: int = 8_000, *, random_state=None) -> Bunch:
    """Generate customers to score, with a churn label that a flexible model can learn better than a linear one.

    The generative story: the customers are those of :func:`~mlcasebook.datasets.make_churn` (tenure, contract,
    internet service, charges, support calls, payment method, ...). Whether they churn follows thresholds and
    interactions rather than straight lines (:data:`SCORING_TERMS`): the first six months are risky, fibre on a
    month-to-month contract is risky, paying more than 90 a month for at most two services is risky, a customer
    with two or more support calls in the first 18 months on a month-to-month contract is very risky, a two-year
    contract protects. About a third churn. A logistic regression on the raw features misses part of it; tree
    ensembles recover most of it.

    Parameters
    ----------
    n_samples : int
        Number of customers.
    random_state : int or None, keyword-only
        Seed of the one random generator used.

    Returns
    -------
    Bunch with ``frame`` (the features), ``target`` (Series ``churned``, 0/1), ``truth`` (:class:`ScoringTruth`),
    ``feature_names``, ``categorical_features`` and ``numeric_features``.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}.")
    rng = np.random.default_rng(random_state)
    X = _features(int(n_samples), rng)
    p = expit(scoring_log_odds(X))
    y = pd.Series((rng.random(len(X)) < p).astype(int), index=X.index, name="churned")
    categorical = ["contract", "internet_service", "payment_method"]
    return Bunch(frame=X, target=y, truth=ScoringTruth(probability=p), feature_names=list(X.columns),
                 categorical_features=categorical, numeric_features=[c for c in X.columns if c not in categorical])


# ---------------------------------------------------------------- per-stage request logs


@dataclass(frozen=True)
class Stage:
    """One stage of the predict path: a lognormal time (median ``median_ms``, log-SD ``sigma``) plus, with
    probability ``spike_rate``, a slow event adding a uniform ``spike_ms`` = (low, high) milliseconds (a cache
    miss, a garbage-collection pause, a retry)."""

    name: str
    median_ms: float
    sigma: float
    spike_rate: float = 0.0
    spike_ms: tuple[float, float] = (0.0, 0.0)

    @property
    def column(self) -> str:
        return f"{self.name}_ms"

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        base = self.median_ms * np.exp(self.sigma * rng.standard_normal(n))
        spikes = rng.random(n) < self.spike_rate
        extra = rng.uniform(self.spike_ms[0], self.spike_ms[1], n)
        return base + np.where(spikes, extra, 0.0)


#: the notebook's predict path: the feature fetch misses its cache on 0.8 % of requests (a remote read of 30-60
#: ms); the model is the slowest stage on average and pauses (garbage collection) on 0.2 %; post-processing is
#: small and steady
NOTEBOOK_STAGES = (
    Stage("feature_fetch", 6.0, 0.30, 0.008, (30.0, 60.0)),
    Stage("model", 9.0, 0.35, 0.002, (10.0, 20.0)),
    Stage("postprocess", 1.5, 0.25),
)


@dataclass(frozen=True)
class StageTruth:
    """Ground truth of :func:`make_stage_log`, from a large simulation of the same stages (not the sample drawn).

    Attributes
    ----------
    stages : tuple of Stage
    tail_mean_ms : dict column -> float
        Mean time of each stage among the requests at or above the request p99 (what a stage contributes to it).
    tail_stage : str
        The column with the largest ``tail_mean_ms``: the stage that eats the p99.
    mean_ms, p99_ms : dict column -> float
        Each stage's own mean and p99.
    request_p99_ms : float
        p99 of the whole request.
    """

    stages: tuple
    tail_mean_ms: dict
    tail_stage: str
    mean_ms: dict
    p99_ms: dict
    request_p99_ms: float


@lru_cache(maxsize=16)
def _stage_truth(stages: tuple) -> StageTruth:
    rng = np.random.default_rng(20_261_207)
    n = 200_000
    times = {s.column: s.draw(n, rng) for s in stages}
    total = sum(times.values())
    p99 = float(np.percentile(total, 99))
    tail = total >= p99
    tail_mean = {c: float(v[tail].mean()) for c, v in times.items()}
    return StageTruth(stages=stages, tail_mean_ms=tail_mean, tail_stage=max(tail_mean, key=tail_mean.get),
                      mean_ms={c: float(v.mean()) for c, v in times.items()},
                      p99_ms={c: float(np.percentile(v, 99)) for c, v in times.items()}, request_p99_ms=p99)


def make_stage_log(n_requests: int = 20_000, *, stages=NOTEBOOK_STAGES, random_state=None) -> Bunch:
    """Generate a request log with the time spent in each stage of the predict path.

    The generative story: every request passes through the stages in turn; each stage's time is lognormal around
    its median, and now and then (``spike_rate``) something slow happens in it — a feature cache miss that goes to
    the database, a garbage-collection pause in the model server. Stages are independent; the request's time is
    their sum (network and queueing are left out). The truth comes from a 200,000-request simulation of the same
    stages, so it does not depend on the sample.

    Parameters
    ----------
    n_requests : int
        Number of requests (rows).
    stages : sequence of Stage, keyword-only
        The predict path (default :data:`NOTEBOOK_STAGES`).
    random_state : int or None, keyword-only
        Seed of the one random generator used.

    Returns
    -------
    Bunch with ``frame`` (``request_id``, one ``<stage>_ms`` column per stage, ``total_ms``), ``stages`` (the
    stage columns, in order) and ``truth`` (:class:`StageTruth`).
    """
    stages = tuple(stages)
    frame = stage_frame(n_requests, stages, random_state)
    return Bunch(frame=frame, stages=[s.column for s in stages], truth=_stage_truth(stages))


def stage_frame(n_requests: int, stages, random_state=None) -> pd.DataFrame:
    """The log of :func:`make_stage_log` without its truth (which costs a large simulation)."""
    if n_requests < 1:
        raise ValueError(f"n_requests must be positive, got {n_requests}.")
    rng = np.random.default_rng(random_state)
    frame = pd.DataFrame({"request_id": np.arange(int(n_requests))})
    for s in stages:
        frame[s.column] = np.round(s.draw(int(n_requests), rng), 3)
    frame["total_ms"] = frame[[s.column for s in stages]].sum(axis=1)
    return frame


# ---------------------------------------------------------------- canary streams


@dataclass(frozen=True)
class CanaryTruth:
    """Ground truth of :func:`make_canary_stream`: whether the canary regressed, how, and from which window."""

    onset: int | None
    error_lift: float
    latency_lift: float

    @property
    def regression(self) -> bool:
        return self.onset is not None


def _window_p99(n: np.ndarray, mu: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The nearest-rank p99 of ``n`` lognormal(mu, sigma) request times, drawn exactly: the k-th smallest of n
    uniforms is Beta(k, n + 1 - k), mapped through the lognormal quantile function."""
    k = np.ceil(0.99 * n)
    u = rng.beta(k, n + 1 - k)
    return np.exp(mu + sigma * norm.ppf(u))


def make_canary_stream(n_windows: int = 30, *, requests_per_window: int = 21_000, canary_share: float = 0.05,
                       error_rate: float = 0.02, p99_ms: float = 40.0, sigma: float = 0.5, error_lift: float = 1.0,
                       latency_lift: float = 1.0, onset: int | None = None, trend: float = 0.3,
                       random_state=None) -> Bunch:
    """Generate a canary rollout: per-window counts of the canary and of the baseline serving the rest.

    The generative story: every window (say five minutes) about ``requests_per_window`` requests arrive (Poisson);
    each goes to the canary with probability ``canary_share``. Each request fails with the arm's error rate and
    takes a lognormal time (log-SD ``sigma``) whose p99 is ``p99_ms``. Both arms share the traffic's rhythm: the
    error rate and the latency rise and fall together over the stream by a factor of up to ``1 +/- trend`` (a
    daily peak). From window ``onset`` on (``None``: never) the canary's error rate is multiplied by
    ``error_lift`` and its request times by ``latency_lift``. A window's ``p99_ms`` is the nearest-rank p99 of
    its requests, drawn exactly from the order statistics.

    Parameters
    ----------
    n_windows : int
        Number of windows.
    requests_per_window, canary_share, error_rate, p99_ms, sigma : keyword-only
        Traffic, the canary's share of it, the baseline's error rate and p99 (ms), the latency's log-SD.
    error_lift, latency_lift : float, keyword-only
        The regression's size (1.0: none).
    onset : int or None, keyword-only
        First regressed window.
    trend : float, keyword-only
        Amplitude of the shared rhythm.
    random_state : int or None, keyword-only
        Seed of the one random generator used.

    Returns
    -------
    Bunch with ``canary`` and ``baseline`` (DataFrames with ``window``, ``requests``, ``errors``, ``error_rate``,
    ``p99_ms``, one row per window) and ``truth`` (:class:`CanaryTruth`).
    """
    if n_windows < 1:
        raise ValueError(f"n_windows must be positive, got {n_windows}.")
    if not 0 < canary_share < 1:
        raise ValueError(f"canary_share must be between 0 and 1, got {canary_share}.")
    rng = np.random.default_rng(random_state)
    w = np.arange(int(n_windows))
    phase = rng.uniform(0, 2 * np.pi)
    rhythm = 1 + trend * np.sin(2 * np.pi * w / max(n_windows, 2) + phase)
    total = rng.poisson(requests_per_window, len(w))
    canary_n = rng.binomial(total, canary_share)
    arms = {"baseline": total - canary_n, "canary": canary_n}
    regressed = np.zeros(len(w), bool) if onset is None else w >= onset
    mu = np.log(p99_ms) - sigma * norm.ppf(0.99)
    frames = {}
    for arm, n in arms.items():
        n = np.maximum(n, 1)
        rate = np.clip(error_rate * rhythm, 0, 1)
        log_scale = mu + np.log(1 + 0.5 * (rhythm - 1))
        if arm == "canary":
            rate = np.clip(np.where(regressed, rate * error_lift, rate), 0, 1)
            log_scale = np.where(regressed, log_scale + np.log(latency_lift), log_scale)
        errors = rng.binomial(n, rate)
        frames[arm] = pd.DataFrame({"window": w, "requests": n, "errors": errors, "error_rate": errors / n,
                                    "p99_ms": np.round(_window_p99(n, log_scale, sigma, rng), 3)})
    truth = CanaryTruth(onset=None if onset is None else int(onset), error_lift=float(error_lift),
                        latency_lift=float(latency_lift))
    return Bunch(canary=frames["canary"], baseline=frames["baseline"], truth=truth)


# ---------------------------------------------------------------- a model that takes a known time


class ScriptedModel:
    """A stand-in classifier whose ``predict_proba`` takes a scripted time (it sleeps), for testing a timing
    procedure on any machine.

    Call ``k`` (counting from 1) sleeps ``cold_ms`` while ``k <= cold_calls`` (a cold start: lazy loading, empty
    caches); after that ``base_ms + per_row_ms * len(X)``, plus ``pause_ms`` on every ``pause_every``-th call (a
    pause such as garbage collection). It returns probability 0.5 for every row.
    """

    def __init__(self, *, base_ms: float = 1.0, per_row_ms: float = 0.02, cold_calls: int = 0, cold_ms: float = 30.0,
                 pause_every: int = 0, pause_ms: float = 0.0):
        self.base_ms, self.per_row_ms = float(base_ms), float(per_row_ms)
        self.cold_calls, self.cold_ms = int(cold_calls), float(cold_ms)
        self.pause_every, self.pause_ms = int(pause_every), float(pause_ms)
        self.calls = 0
        self.classes_ = np.array([0, 1])

    def scripted_ms(self, call: int, rows: int) -> float:
        """The time call number ``call`` (from 1) with ``rows`` rows is scripted to take."""
        if call <= self.cold_calls:
            return self.cold_ms
        ms = self.base_ms + self.per_row_ms * rows
        if self.pause_every and (call - self.cold_calls) % self.pause_every == 0:
            ms += self.pause_ms
        return ms

    def predict_proba(self, X) -> np.ndarray:
        rows = len(X)
        self.calls += 1
        time.sleep(self.scripted_ms(self.calls, rows) / 1000.0)
        return np.full((rows, 2), 0.5)

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)

    def __repr__(self) -> str:
        return "ScriptedModel()"
