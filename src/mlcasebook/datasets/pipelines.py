"""An event log of subscription customers, monthly churn snapshots and a serving log, with the truth of what leaks.

The customers are the churn generator's (:mod:`mlcasebook.datasets.churn`): the same contracts, payment methods,
charges and effects on the log-odds of cancelling. Around them the generator writes a year of timestamped events
(:data:`mlcasebook.cases.pipelines.EVENT_TYPES`), the snapshots a churn model is trained on, and a serving log: the
features an online path sent to the model at each request, one of them computed differently from training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.utils import Bunch

from mlcasebook.cases.pipelines import ATTRIBUTES, FEATURES, HORIZON, LOG_END, LOG_START
from mlcasebook.datasets.churn import _features, log_odds_terms

#: the ways the online path can differ from training, and the feature each one hits
SKEWS = {
    "null_fill": "days_since_ticket",      # a missing value (no ticket yet) is sent as 0: "a ticket just now"
    "window": "cancel_visits_30d",         # the online counter keeps 7 days, training counts 30
    "units": "avg_payment_90d",            # the payments service answers in cents
    "timezone": "days_since_ticket",       # the ticket store keeps local time (UTC-5): every value 5 hours off
    "wrong_join": "logins_30d",            # the online join takes another request's customer: values shuffled
}

_US_PER_DAY = 86_400 * 1_000_000
_KEY = 10**14          # customer code * _KEY + microseconds since LOG_START: one sorted key per event
_N_DAYS = (LOG_END - LOG_START).days
_STATIC_TERMS = ("tenure_months", "contract", "internet_service", "monthly_charges", "payment_method",
                 "senior_citizen", "paperless_billing", "num_services")
_MONTHLY_CHURN_INTERCEPT = -2.2      # sets the voluntary monthly churn rate near 5 %
_ENGAGEMENT_EFFECT = -0.6            # per SD of login rate, on the log-odds of cancelling
_FAIL_RATE = {"electronic_check": 0.04, "credit_card": 0.01, "bank_transfer": 0.01, "mailed_check": 0.02}
_INVOLUNTARY = 0.4                   # share of failed payments that end the subscription (3-12 days later)


@dataclass(frozen=True)
class EventLogTruth:
    """Ground truth of a :func:`make_event_log`.

    Attributes
    ----------
    churn_time : Series
        When each customer cancelled (indexed by ``customer_id``; ``NaT`` if they had not by ``LOG_END``).
    churn_kind : Series
        ``"voluntary"`` (the customer decided: fewer logins, more tickets, visits to the cancellation page in the
        weeks before), ``"involuntary"`` (a failed card payment on the first of a month ended it) or ``"none"``.
    caused_by_churn : ndarray of bool
        Aligned with ``events``: the events that exist *because* the customer cancelled — the cancellation-page
        visit of the cancellation itself (minutes before it) and the prorated refund (days after it). They all lie
        after the label time of the snapshot whose label they are about.
    leaky_features : tuple of str
        The features a naive join (today's feature table, joined to every snapshot) turns into signs of a
        cancellation that already happened: a customer who left has no logins in the last 30 days, no payments in
        the last 90 (or a refund), and a last ticket that only gets older. ``test_datasets_pipelines`` measures each
        feature's gain in AUC over its value as of the label time.
    skew : dict or None
        ``{"feature": ..., "kind": ...}``: how the serving log's online path differs from training (:data:`SKEWS`).
    horizon : Timedelta
        A snapshot is labelled 1 when the customer cancels within it.
    """

    churn_time: pd.Series
    churn_kind: pd.Series
    caused_by_churn: np.ndarray
    leaky_features: tuple[str, ...]
    skew: dict | None
    horizon: pd.Timedelta


class _Index:
    """Events of one type as one sorted key per event (customer code, time), with cumulative sums of amounts."""

    def __init__(self, codes: np.ndarray, us: np.ndarray, amounts: np.ndarray | None = None):
        order = np.lexsort((us, codes))
        self.codes, self.us = codes[order], us[order]
        self.keys = self.codes * _KEY + self.us
        self.cum = None if amounts is None else np.r_[0.0, np.cumsum(amounts[order])]

    def before(self, codes: np.ndarray, us: np.ndarray) -> np.ndarray:
        """Position of the first event of each customer at or after ``us`` (= number of keys strictly before)."""
        return np.searchsorted(self.keys, codes * _KEY + us, side="left")

    def window(self, codes, us, days: float) -> tuple[np.ndarray, np.ndarray]:
        hi = self.before(codes, us)
        lo = self.before(codes, us - int(days * _US_PER_DAY))
        return lo, hi

    def count(self, codes, us, days: float) -> np.ndarray:
        lo, hi = self.window(codes, us, days)
        return (hi - lo).astype(float)

    def mean(self, codes, us, days: float) -> np.ndarray:
        lo, hi = self.window(codes, us, days)
        n = hi - lo
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (self.cum[hi] - self.cum[lo]) / np.maximum(n, 1), np.nan)

    def days_since_last(self, codes, us) -> np.ndarray:
        i = self.before(codes, us) - 1
        ok = (i >= 0) & (self.codes[np.maximum(i, 0)] == codes)
        return np.where(ok, (us - self.us[np.maximum(i, 0)]) / _US_PER_DAY, np.nan)


def _indexes(codes, us, types, amounts) -> dict[str, _Index]:
    out = {}
    for kind in ("login", "support_ticket", "payment_failed", "cancel_page_visit", "payment"):
        m = types == kind
        out[kind] = _Index(codes[m], us[m], amounts[m] if kind == "payment" else None)
    return out


def _aggregate(idx: dict[str, _Index], codes: np.ndarray, us: np.ndarray, *, cancel_days: float = 30) -> pd.DataFrame:
    return pd.DataFrame({
        "logins_30d": idx["login"].count(codes, us, 30),
        "days_since_ticket": idx["support_ticket"].days_since_last(codes, us),
        "failed_payments_90d": idx["payment_failed"].count(codes, us, 90),
        "cancel_visits_30d": idx["cancel_page_visit"].count(codes, us, cancel_days),
        "avg_payment_90d": idx["payment"].mean(codes, us, 90),
    })


def _poisson_times(rng, rates: np.ndarray, stop_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Event (customer code, microseconds) of a Poisson process with daily ``rates`` (customers x days)."""
    counts = rng.poisson(rates)
    code, day = np.nonzero(counts)
    reps = counts[code, day]
    code, day = np.repeat(code, reps), np.repeat(day, reps)
    us = ((day + rng.random(len(day))) * _US_PER_DAY).astype(np.int64)
    keep = us < stop_day[code] * _US_PER_DAY
    return code[keep], us[keep]


def _month_starts(n: int = 12) -> list[pd.Timestamp]:
    return [LOG_START + pd.DateOffset(months=m) for m in range(n)]


def _us(t: pd.Timestamp) -> int:
    return int((t - LOG_START) / pd.Timedelta(microseconds=1))


def _to_time(us: np.ndarray) -> pd.Series:
    return pd.Series(LOG_START + pd.to_timedelta(us, unit="us")).astype("datetime64[us]")


def make_event_log(n_customers: int = 4_000, *, n_requests: int = 3_000, skew: str | None = "null_fill",
                   random_state=None) -> Bunch:
    """Generate a year of customer events, monthly churn snapshots and a serving log.

    The generative story: ``n_customers`` churn-generator customers, all subscribed on ``LOG_START``. Each has a
    login rate (log-normal around one login a week; more engaged customers cancel less) and a monthly
    risk of deciding to cancel from the churn generator's effects (contract, tenure, charges, payment method, ...).
    A customer who decides does so over 20-60 days: logins fall to a quarter, support tickets come six times as
    often, the cancellation page is visited again and again in the last three weeks, and at the cancellation
    itself they visit it once more; a prorated refund follows 1-5 days later (a negative ``payment``). Billing
    runs at midnight on the first of each month: a card can fail (most often by electronic cheque), and half the
    failures end the subscription 3-12 days later (an involuntary churn, preceded by nothing but the failure).

    Snapshots are taken at midnight on the first of February to December for every customer still subscribed;
    ``churned`` is 1 when the customer cancels within ``HORIZON`` (30 days). The serving log holds December's
    requests — ``n_requests`` app opens (more in the evening) and one request seconds after each visit to the
    cancellation page — with the features an online path sent to the model: computed like training's except for
    ``skew`` (see :data:`SKEWS`).

    Parameters
    ----------
    n_customers : int
        Number of customers.
    n_requests : int, keyword-only
        Number of app opens in the serving log (the cancellation page's requests come on top).
    skew : str or None, keyword-only
        How the online path differs from training (a key of :data:`SKEWS`, or ``None`` for no skew).
    random_state : int or None, keyword-only
        Seed of the one random generator used.

    Returns
    -------
    Bunch with
        frame, labels : DataFrame of the snapshots: ``customer_id, label_time, churned`` and the attributes
            ``contract, payment_method`` (the same frame under two names).
        events : DataFrame ``customer_id, timestamp, event_type, amount`` in time order (``amount`` in dollars for
            payments, missing otherwise).
        customers : DataFrame ``customer_id, contract, payment_method, monthly_charges``.
        serving_log : DataFrame ``customer_id, request_time, page`` (``"home"``: the app was opened; ``"cancel"``:
            the cancellation page asks for a retention offer seconds after the customer opened it), the five
            features as served, the attributes. Floats
            are logged as the services send them: ``avg_payment_90d`` in float32, the others with 12
            significant digits, so they agree with a recomputation to about 7 and 12 digits.
        truth : :class:`EventLogTruth`.
        features, attributes : lists of column names.
    """
    if skew is not None and skew not in SKEWS:
        raise ValueError(f"skew must be one of {sorted(SKEWS)} or None, got {skew!r}.")
    if n_customers < 1 or n_requests < 0:
        raise ValueError("n_customers must be positive and n_requests not negative.")
    rng = np.random.default_rng(random_state)
    n = int(n_customers)
    X = _features(n, rng)
    ids = np.sort(rng.choice(np.arange(10_000, 10_000 + 10 * n), n, replace=False))
    engagement = rng.normal(0, 1, n)
    login_rate = 0.15 * np.exp(0.7 * engagement - 0.245)
    terms = log_odds_terms(X)
    eta = sum(terms[k] for k in _STATIC_TERMS) + _ENGAGEMENT_EFFECT * engagement + _MONTHLY_CHURN_INTERCEPT
    daily = -np.log1p(-expit(eta)) / 30.4
    voluntary = rng.exponential(1 / daily)                     # days from LOG_START to the decision's end
    onset = rng.uniform(30, 75, n)
    payment = X["payment_method"].to_numpy()
    charges = X["monthly_charges"].to_numpy()
    fail_p = pd.Series(payment).map(_FAIL_RATE).to_numpy()

    # billing on the first of each month, month by month (a failure may end the subscription)
    churn = voluntary.copy()
    kind = np.where(voluntary < _N_DAYS, "voluntary", "none").astype(object)
    bill_codes, bill_us, bill_amount, fail_codes, fail_us = [], [], [], [], []
    for start in _month_starts():
        day = (start - LOG_START).days
        active = np.flatnonzero(churn > day)
        failed = rng.random(len(active)) < fail_p[active]
        ok = active[~failed]
        bill_codes.append(ok), bill_us.append(np.full(len(ok), day * _US_PER_DAY)), bill_amount.append(charges[ok])
        f = active[failed]
        fail_codes.append(f), fail_us.append(np.full(len(f), day * _US_PER_DAY))
        ends = rng.random(len(f)) < _INVOLUNTARY
        later = day + rng.uniform(3, 12, len(f))
        first = ends & (later < churn[f])
        churn[f[first]], kind[f[first]] = later[first], "involuntary"
        retry = f[~ends]
        retry_day = day + rng.uniform(1, 4, len(retry))
        paid = retry_day < churn[retry]
        bill_codes.append(retry[paid]), bill_us.append((retry_day[paid] * _US_PER_DAY).astype(np.int64))
        bill_amount.append(charges[retry[paid]])
    kind[churn >= _N_DAYS] = "none"
    stop = np.minimum(churn, _N_DAYS)
    decided = kind == "voluntary"

    # behaviour: daily Poisson rates, customers x days
    days = np.arange(_N_DAYS)[None, :] + 0.5
    to_churn = churn[:, None] - days                            # days left before the cancellation
    in_onset = decided[:, None] & (to_churn > 0) & (to_churn < onset[:, None])
    decline = np.where(in_onset, 0.15 + 0.85 * to_churn / onset[:, None], 1.0)
    ticket_rate = 0.004 * np.where(X["internet_service"].to_numpy() == "fiber", 1.5, 1.0)
    rates = {
        "login": login_rate[:, None] * decline,
        "support_ticket": ticket_rate[:, None] * np.where(in_onset, 6.0, 1.0),
        "cancel_page_visit": np.where(decided[:, None] & (to_churn > 0) & (to_churn < 28), 0.08, 0.003)
        * np.ones_like(days),
    }
    codes, us, types, amounts, caused = [], [], [], [], []

    def add(c, u, t, a=None, cause=False):
        codes.append(c), us.append(u), types.append(np.full(len(c), t, dtype=object))
        amounts.append(np.full(len(c), np.nan) if a is None else a), caused.append(np.full(len(c), cause))

    for event_type, rate in rates.items():
        add(*_poisson_times(rng, rate, stop), event_type)
    add(np.concatenate(bill_codes), np.concatenate(bill_us), "payment", np.concatenate(bill_amount))
    add(np.concatenate(fail_codes), np.concatenate(fail_us), "payment_failed")
    # the cancellation itself: a visit minutes before it, a prorated refund days after it
    c = np.flatnonzero(decided)
    add(c, ((churn[c] - rng.uniform(2, 30, len(c)) / 1440) * _US_PER_DAY).astype(np.int64), "cancel_page_visit",
        cause=True)
    refund_day = churn[c] + rng.uniform(1, 5, len(c))
    month_left = 1 - (churn[c] % 30.4) / 30.4
    r = refund_day < _N_DAYS
    add(c[r], (refund_day[r] * _US_PER_DAY).astype(np.int64), "payment", -np.round(charges[c[r]] * month_left[r], 2),
        cause=True)
    codes, us = np.concatenate(codes), np.concatenate(us).astype(np.int64)
    types, amounts, caused = np.concatenate(types), np.concatenate(amounts), np.concatenate(caused)
    order = np.argsort(us, kind="stable")
    codes, us, types, amounts, caused = codes[order], us[order], types[order], amounts[order], caused[order]
    events = pd.DataFrame({"customer_id": ids[codes], "timestamp": _to_time(us), "event_type": types,
                           "amount": amounts})
    churn_time = _to_time((stop * _US_PER_DAY).astype(np.int64)).where(kind != "none")
    churn_time.index, churn_time.name = pd.Index(ids, name="customer_id"), "churn_time"

    customers = pd.DataFrame({"customer_id": ids, "contract": X["contract"].to_numpy(), "payment_method": payment,
                              "monthly_charges": charges})
    rows = []
    for start in _month_starts()[1:]:
        day = (start - LOG_START).days
        active = np.flatnonzero(churn > day)
        rows.append(pd.DataFrame({"customer_id": ids[active], "label_time": start,
                                  "churned": (churn[active] < day + HORIZON.days).astype(int)}))
    labels = pd.concat(rows, ignore_index=True)
    labels["label_time"] = labels["label_time"].astype("datetime64[us]")
    labels = labels.merge(customers[["customer_id", *ATTRIBUTES]], on="customer_id", how="left")

    serving = _serving_log(rng, int(n_requests), ids, churn, _indexes(codes, us, types, amounts), skew)
    serving = serving.merge(customers[["customer_id", *ATTRIBUTES]], on="customer_id", how="left")
    truth = EventLogTruth(
        churn_time=churn_time, churn_kind=pd.Series(kind, index=churn_time.index, name="churn_kind"),
        caused_by_churn=caused, leaky_features=("logins_30d", "days_since_ticket", "avg_payment_90d"),
        skew=None if skew is None else {"feature": SKEWS[skew], "kind": skew}, horizon=HORIZON)
    return Bunch(frame=labels, labels=labels, events=events, customers=customers, serving_log=serving, truth=truth,
                 features=list(FEATURES), attributes=list(ATTRIBUTES))


def _serving_log(rng, n: int, ids, churn, idx, skew) -> pd.DataFrame:
    """December requests: ``n`` app opens (more in the evening) by customers subscribed at that moment, and one
    request seconds after every visit to the cancellation page (``page`` says which)."""
    first = (pd.Timestamp("2024-12-01") - LOG_START).days
    hours = np.arange(24)
    weight = 1 + 1.5 * np.exp(-0.5 * ((hours - 20) / 2.5) ** 2) + 0.5 * np.exp(-0.5 * ((hours - 8) / 1.5) ** 2)
    hour = rng.choice(hours, n, p=weight / weight.sum())
    day = first + rng.integers(0, 31, n)
    t_days = day + (hour + rng.random(n)) / 24
    codes = np.empty(n, dtype=np.int64)
    for i, t in enumerate(t_days):   # a customer subscribed at that moment
        active = np.flatnonzero(churn > t)
        codes[i] = active[rng.integers(len(active))]
    us = (t_days * _US_PER_DAY).astype(np.int64)
    # the cancellation page asks the model for a retention offer 5-60 seconds after the customer opens it
    visits = idx["cancel_page_visit"]
    december = visits.us >= first * _US_PER_DAY
    codes = np.r_[codes, visits.codes[december]]
    us = np.r_[us, visits.us[december] + rng.integers(5_000_000, 60_000_000, int(december.sum()))]
    page = np.r_[np.full(n, "home", dtype=object), np.full(int(december.sum()), "cancel", dtype=object)]
    order = np.argsort(us, kind="stable")
    codes, us, page = codes[order], us[order], page[order]
    served = _aggregate(idx, codes, us, cancel_days=7 if skew == "window" else 30)
    if skew == "timezone":   # ticket times read as local time (UTC-5): every value five hours too long
        served["days_since_ticket"] = served["days_since_ticket"] + 5 / 24
    elif skew == "null_fill":
        served["days_since_ticket"] = served["days_since_ticket"].fillna(0.0)
    elif skew == "units":
        served["avg_payment_90d"] = (served["avg_payment_90d"] * 100).round(0)
    elif skew == "wrong_join":
        served["logins_30d"] = rng.permutation(served["logins_30d"].to_numpy())
    # the log's formats: the payments service answers in float32, the other services write 12 significant digits
    served["avg_payment_90d"] = served["avg_payment_90d"].astype(np.float32).astype(float)
    served["days_since_ticket"] = [float(f"{v:.12g}") for v in served["days_since_ticket"]]
    out = pd.DataFrame({"customer_id": ids[codes], "request_time": _to_time(us), "page": page})
    return pd.concat([out, served], axis=1)
