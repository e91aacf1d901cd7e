"""Data for the design rounds: card transactions with late chargebacks, a moderation queue, a query log.

Three generators, one per round of 03_system_design/design_rounds, each returning a Bunch with ``frame`` (what the
learner sees) and ``truth`` (what the generator knows: eventual labels, probabilities, which queries trend).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.utils import Bunch

START = pd.Timestamp("2024-01-01")

# ---------------------------------------------------------------- fraud: transactions, scores, late chargebacks

#: the fraud log-odds per unit of each signal, at the start of the period (A) and where the drift leads (B):
#: fraud moves from large, foreign, night-time card-present spending towards small online card-testing bursts on
#: new devices
SIGNALS = ("log_amount", "night", "foreign", "online", "log_card_age", "txns_last_24h", "merchant_risk", "new_device")
WEIGHTS_A = np.array([1.8, 2.5, 2.5, 0.5, -0.8, 0.1, 6.0, 0.5])
WEIGHTS_B = np.array([-1.0, 0.3, 0.5, 2.5, -0.3, 0.9, 6.0, 3.5])
SEPARATION = 1.8  # scales every weight: how far apart fraud and legitimate transactions are
SCORE_NOISE = 0.5  # SD of the deployed model's error on the log-odds scale


@dataclass(frozen=True)
class FraudTruth:
    """Ground truth of :func:`make_transactions`.

    Attributes
    ----------
    is_fraud : ndarray of bool
        The eventual label of every row of ``frame`` (a chargeback arrives for each fraud, ``maturity_days`` at most
        after the transaction), in its order.
    probability : ndarray
        The true fraud probability of every row.
    as_of : int
        The day the data was extracted: chargebacks arriving after it are not in ``frame``.
    maturity_days : int
        Every chargeback arrives at most this many days after its transaction.
    attack_day : int or None
        The day of a card-testing attack (``attack_size`` extra frauds), if any.
    quiet_days : tuple of int
        Days without a single fraud.
    drift : float
        How far the fraud pattern moved from ``WEIGHTS_A`` towards ``WEIGHTS_B`` by the last day (0: stationary).
    """

    is_fraud: np.ndarray
    probability: np.ndarray
    as_of: int
    maturity_days: int
    attack_day: int | None
    quiet_days: tuple[int, ...]
    drift: float


def _signals(hour, amount, online, foreign, card_age, txns, risk, new_device) -> np.ndarray:
    return np.c_[np.log(amount) - 3.6, hour < 6, foreign, online, np.log1p(card_age) - 6.0, txns, risk, new_device]


def make_transactions(n_days: int = 90, *, per_day: int = 2_000, fraud_rate: float = 0.008, maturity_days: int = 30,
                      drift: float = 0.55, attack_day: int | None = None, attack_size: int = 60,
                      quiet_days=(), random_state=None) -> Bunch:
    """Card transactions scored by a deployed fraud model, with chargebacks that arrive weeks later.

    The generative story: every day about ``per_day`` transactions happen (a fifth fewer at weekends), each with
    an amount, an hour, whether it was online or abroad, the card's age, the card's number of transactions in the
    previous 24 hours, the merchant's risk score and whether the device is new to the card. A transaction is
    fraudulent with a probability that is logistic in these signals; the weights move linearly over the period
    by the fraction ``drift`` from ``WEIGHTS_A`` towards ``WEIGHTS_B`` (fraudsters adapt), and each day's
    intercept keeps its fraud rate at ``fraud_rate``. The deployed model's ``score`` is the true probability seen
    through noise on the log-odds scale (SD ``SCORE_NOISE``), so its quality does not change over the period. On
    ``attack_day`` a card-testing ring adds ``attack_size`` frauds (small online payments in bursts on new devices);
    on ``quiet_days`` nothing is fraudulent. A fraud's chargeback arrives 2 to ``maturity_days`` days later (mean
    about two weeks); the data are extracted on the last day, so chargebacks due after it are missing.

    Parameters
    ----------
    n_days : int
        Days of transactions, numbered 0 .. n_days - 1; the data are as of day ``n_days - 1``.
    per_day : int
        Mean transactions on a weekday (Poisson).
    fraud_rate : float
        Share of fraudulent transactions on an ordinary day.
    maturity_days : int
        The longest chargeback delay: a transaction this many days old has its final label.
    drift : float
        Fraction of the way from pattern A to pattern B reached by the last day.
    attack_day, attack_size : int or None, int
        A day with an extra burst of card-testing fraud, and its size.
    quiet_days : iterable of int
        Days without fraud (the control).
    random_state : int, Generator or None

    Returns
    -------
    Bunch
        ``frame``: one row per transaction, in time order: ``transaction_id, timestamp, day, hour, amount, online,
        foreign, card_age_days, txns_last_24h, merchant_risk, new_device, score, chargeback_day`` (the day the
        chargeback arrived, NaN when none had arrived by the last day). ``truth``: :class:`FraudTruth`.
    """
    rng = np.random.default_rng(random_state)
    quiet = tuple(int(d) for d in quiet_days)
    weekday = np.arange(n_days) % 7 < 5
    volume = rng.poisson(per_day * np.where(weekday, 1.08, 0.8))
    day = np.repeat(np.arange(n_days), volume)
    n = len(day)
    hour = np.where(rng.random(n) < 0.85, rng.normal(14, 4, n) % 24, rng.uniform(0, 24, n))
    amount = np.round(np.exp(rng.normal(3.6, 1.0, n)), 2) + 0.5
    online = (rng.random(n) < 0.35).astype(int)
    foreign = (rng.random(n) < 0.05).astype(int)
    card_age = rng.exponential(700, n).round()
    txns = rng.poisson(1.5, n)
    risk = rng.beta(2, 8, n)
    new_device = (rng.random(n) < 0.04).astype(int)
    attack = np.zeros(n, bool)
    if attack_day is not None:
        m = int(attack_size)
        day = np.r_[day, np.full(m, attack_day)]
        hour = np.r_[hour, rng.uniform(0, 24, m)]
        amount = np.r_[amount, np.round(np.exp(rng.normal(1.5, 0.5, m)), 2) + 0.5]
        online = np.r_[online, np.ones(m, int)]
        foreign = np.r_[foreign, (rng.random(m) < 0.3).astype(int)]
        card_age = np.r_[card_age, rng.exponential(700, m).round()]
        txns = np.r_[txns, rng.poisson(9, m)]
        risk = np.r_[risk, rng.beta(6, 4, m)]
        new_device = np.r_[new_device, np.ones(m, int)]
        attack = np.r_[attack, np.ones(m, bool)]
        order = np.argsort(day, kind="stable")
        day, hour, amount, online, foreign, card_age, txns, risk, new_device, attack = (
            a[order] for a in (day, hour, amount, online, foreign, card_age, txns, risk, new_device, attack))
        n = len(day)
    x = _signals(hour, amount, online, foreign, card_age, txns, risk, new_device)
    tau = (day / max(n_days - 1, 1))[:, None] * drift
    logit = SEPARATION * (x * ((1 - tau) * WEIGHTS_A + tau * WEIGHTS_B)).sum(axis=1)
    intercept = np.zeros(n)
    for d in range(n_days):
        rows = (day == d) & ~attack
        if rows.any():
            intercept[day == d] = brentq(lambda b, z=logit[rows]: expit(b + z).mean() - fraud_rate, -40, 10)
    probability = expit(intercept + logit)
    probability[np.isin(day, quiet)] = 0.0
    probability[attack] = 1.0
    is_fraud = rng.random(n) < probability
    score = expit(intercept + logit + rng.normal(0, SCORE_NOISE, n))
    delay = np.minimum(2 + rng.gamma(3.0, 4.0, n).round(), maturity_days)
    as_of = n_days - 1
    arrived = np.where(is_fraud, day + delay, np.nan)
    arrived[arrived > as_of] = np.nan
    frame = pd.DataFrame({
        "transaction_id": np.arange(n), "timestamp": START + pd.to_timedelta(day + hour / 24, unit="D"),
        "day": day, "hour": hour, "amount": amount, "online": online, "foreign": foreign,
        "card_age_days": card_age, "txns_last_24h": txns, "merchant_risk": risk, "new_device": new_device,
        "score": score, "chargeback_day": arrived,
    })
    order = np.argsort(frame["timestamp"].to_numpy(), kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    frame["transaction_id"] = np.arange(n)
    truth = FraudTruth(is_fraud=is_fraud[order], probability=probability[order], as_of=as_of,
                       maturity_days=maturity_days, attack_day=attack_day, quiet_days=quiet, drift=drift)
    return Bunch(frame=frame, truth=truth)


# ---------------------------------------------------------------- moderation: two models' scores on a day's items


@dataclass(frozen=True)
class ModerationTruth:
    """Ground truth of :func:`make_moderation_days`.

    Attributes
    ----------
    visibility : ndarray
        The latent signal both models read (higher: more obviously violating), per row of ``frame``.
    blind : ndarray of bool
        Violations the cheap model cannot see (an image-only violation a text model misses): their cheap score is
        drawn like a benign item's.
    violation_rate, blind_share : float
        The settings.
    """

    visibility: np.ndarray
    blind: np.ndarray
    violation_rate: float
    blind_share: float


def make_moderation_days(n_days: int = 2, *, items_per_day: int = 20_000, violation_rate: float = 0.02,
                         blind_share: float = 0.2, random_state=None) -> Bunch:
    """A platform's uploads, each scored by a cheap and an expensive classifier, labelled by a full audit.

    The generative story: each item violates the policy with probability ``violation_rate``. A latent visibility
    is N(0, 1) for benign items and N(3.4, 1) for violations. The cheap model (a small text model, run on every
    item) reads it through noise of SD 1.0, the expensive model (a large multimodal model) through noise of SD
    0.35, both returned as probabilities (logistic in what they read). A share ``blind_share`` of the violations
    is invisible to the cheap model (image-only content): its cheap score is drawn as for a benign item, while the
    expensive model still sees it. Both scores are given for every item (the expensive one as an offline audit),
    but in production only the items the cheap model passes on reach the expensive model.

    Returns
    -------
    Bunch
        ``frame``: ``item_id, day, cheap_score, expensive_score, violation`` (0/1); ``truth``:
        :class:`ModerationTruth`.
    """
    rng = np.random.default_rng(random_state)
    n = n_days * items_per_day
    day = np.repeat(np.arange(n_days), items_per_day)
    violation = rng.random(n) < violation_rate
    visibility = rng.normal(0, 1, n) + np.where(violation, 3.4, 0.0)
    blind = violation & (rng.random(n) < blind_share)
    cheap_reads = np.where(blind, rng.normal(0, 1, n), visibility) + rng.normal(0, 1.0, n)
    cheap = expit(1.2 * cheap_reads - 4.0)
    expensive = expit(2.5 * (visibility + rng.normal(0, 0.35, n)) - 9.0)
    frame = pd.DataFrame({"item_id": np.arange(n), "day": day, "cheap_score": cheap, "expensive_score": expensive,
                          "violation": violation.astype(int)})
    truth = ModerationTruth(visibility=visibility, blind=blind, violation_rate=violation_rate, blind_share=blind_share)
    return Bunch(frame=frame, truth=truth)


# ---------------------------------------------------------------- autocomplete: a query log with trends

HEADS = ("weather", "pizza", "flights to", "hotels in", "how to", "best", "cheap", "news", "football", "python",
         "iphone", "restaurants", "train to", "recipes", "movies", "jobs", "car", "apartment", "tickets", "coffee",
         "laptop", "shoes", "bank", "gym", "doctor", "concert", "election", "world cup", "tax", "mortgage", "paris",
         "london", "new york", "berlin", "tokyo", "nba", "premier league", "music", "translate", "maps")
TAILS = ("near me", "today", "tomorrow", "2024", "online", "deals", "review", "price", "reviews", "open now",
         "for sale", "free", "rome", "madrid", "berlin", "london", "paris", "cheap", "results", "schedule", "live",
         "score", "app", "download", "jobs", "recipe", "easy", "best", "weekend", "sale", "black friday",
         "prime day", "tickets", "hours", "delivery", "login", "update", "news", "forecast", "calculator")


@dataclass(frozen=True)
class QueryTruth:
    """Ground truth of :func:`make_query_log`.

    Attributes
    ----------
    popularity : Series
        Each query's base share of searches (a Zipf law over a random order), by query.
    trending : list of str
        Queries that surge over the last ``trend_days`` days (up to ``1 + surge`` times their base rate).
    fading : list of str
        Queries that were in fashion in the first weeks and are back to their base rate by day ``fade_end``.
    surge, fade_end, trend_days : float, int, int
    """

    popularity: pd.Series
    trending: list
    fading: list
    surge: float
    fade_end: int
    trend_days: int


def make_query_log(n_days: int = 28, *, per_day: int = 4_000, n_queries: int = 1_500, n_trending: int = 12,
                   n_fading: int = 12, surge: float = 60.0, trend_days: int = 4, zipf: float = 1.05,
                   random_state=None) -> Bunch:
    """A search engine's query log: a stable Zipf head, queries that trend at the end, others that faded.

    The generative story: ``n_queries`` distinct queries ("weather tomorrow", "flights to rome", ...) have base
    shares following a Zipf law with exponent ``zipf`` in a random order. Every day about ``per_day`` searches
    are drawn from the day's shares, at uniform times of day. ``n_trending`` queries of middling popularity
    surge over the last ``trend_days`` days: their rate grows linearly up to ``1 + surge`` times its base by the
    last day (a news event). ``n_fading`` others were ``1 + 40`` times as popular until day 10 and fall back to
    their base rate by day 14 (an event that is over). For each search, ``typed`` is what the user had typed when
    the suggestions were shown for the last time: the query's first 1 to 6 characters (uniformly; fewer for a
    shorter query). The last day of the log is the one to predict.

    Returns
    -------
    Bunch
        ``frame``: ``timestamp, day, query, typed``, one row per search, in time order; ``truth``: :class:`QueryTruth`.
    """
    rng = np.random.default_rng(random_state)
    combos = list(dict.fromkeys([f"{h} {t}" for h in HEADS for t in TAILS if h != t] + list(HEADS)))
    vocab = np.array([combos[i] for i in rng.choice(len(combos), n_queries, replace=False)])
    base = 1.0 / np.arange(1, n_queries + 1) ** zipf
    rng.shuffle(base)
    base /= base.sum()
    by_rank = np.argsort(-base)
    middle = by_rank[min(80, n_queries // 4): min(600, n_queries)]
    trending = rng.choice(middle, n_trending, replace=False)
    fading = rng.choice(np.setdiff1d(middle, trending), n_fading, replace=False)
    parts = []
    for d in range(n_days):
        share = base.copy()
        share[trending] *= 1 + surge * np.clip((d - (n_days - 1 - trend_days)) / trend_days, 0, 1)
        share[fading] *= 1 + 40 * np.clip(1 - (d - 10) / 4, 0, 1)
        share /= share.sum()
        picked = rng.choice(n_queries, rng.poisson(per_day), p=share)
        parts.append(pd.DataFrame({"t": d + np.sort(rng.random(len(picked))), "query": vocab[picked]}))
    log = pd.concat(parts, ignore_index=True)
    queries = log["query"].to_numpy()
    lengths = np.array([len(q) for q in queries])
    typed_length = np.floor(rng.random(len(queries)) * np.minimum(lengths, 6)).astype(int) + 1
    frame = pd.DataFrame({"timestamp": START + pd.to_timedelta(log["t"], unit="D"),
                          "day": log["t"].astype(int), "query": queries,
                          "typed": [q[:n] for q, n in zip(queries, typed_length, strict=True)]})
    truth = QueryTruth(popularity=pd.Series(base, index=vocab).sort_values(ascending=False),
                       trending=sorted(vocab[trending]), fading=sorted(vocab[fading]), surge=surge, fade_end=14,
                       trend_days=trend_days)
    return Bunch(frame=frame, truth=truth)
