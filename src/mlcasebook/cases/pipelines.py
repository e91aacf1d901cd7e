"""Feature pipelines case: the public facts of the event log and the serving setup (no answers).

A subscription service logs what its customers do (logins, support tickets, card payments, visits to the
cancellation page). A churn model is trained on monthly snapshots: at midnight on the first of each month, each
active customer is a row whose label says whether they cancel within ``HORIZON``. The features are aggregates of the
customer's events in a window that ends at the snapshot (``FEATURES``, defined in ``WINDOWS``), plus two attributes
known since signup (``ATTRIBUTES``). Billing runs at midnight on the first of each month, the same instant as the
snapshot.

In production the model is called when a customer opens the app (``serving_log``). Its features can be computed
by a nightly batch job that runs at ``BATCH_HOUR`` UTC, or online at each request; the costs below are per unit.
"""

from __future__ import annotations

import pandas as pd

LOG_START = pd.Timestamp("2024-01-01")   # the first event of the log (UTC)
LOG_END = pd.Timestamp("2025-01-01")     # the day the data were pulled: no event at or after it
HORIZON = pd.Timedelta(days=30)          # a snapshot's label: the customer cancels within 30 days of it
CUTOFF = pd.Timestamp("2024-09-15")      # the training data were pulled on this day: the holdout starts here

#: feature -> (event type it aggregates, window in days, aggregate); the window is [label_time - days, label_time)
WINDOWS = {
    "logins_30d": ("login", 30, "count"),
    "days_since_ticket": ("support_ticket", None, "days since the last one (missing if none)"),
    "failed_payments_90d": ("payment_failed", 90, "count"),
    "cancel_visits_30d": ("cancel_page_visit", 30, "count"),
    "avg_payment_90d": ("payment", 90, "mean amount in dollars (missing if none; refunds are negative)"),
}
FEATURES = list(WINDOWS)
ATTRIBUTES = ["contract", "payment_method"]   # known since signup, never change
MODEL_COLUMNS = FEATURES + ATTRIBUTES
EVENT_TYPES = ("login", "support_ticket", "payment", "payment_failed", "cancel_page_visit")

BATCH_HOUR = 2                            # the nightly feature job runs at 02:00 UTC
SAMPLE_RATE = 0.001                       # the log is a 0.1 % sample of the customers: one stands for 1,000
BATCH_COST_PER_CUSTOMER = 0.00002         # dollars per customer per nightly run (all features, warehouse SQL)
ONLINE_COST_PER_REQUEST = 0.002           # dollars per request computed online (stream state + low-latency store)

__all__ = ["LOG_START", "LOG_END", "HORIZON", "CUTOFF", "WINDOWS", "FEATURES", "ATTRIBUTES", "MODEL_COLUMNS",
           "EVENT_TYPES", "BATCH_HOUR", "SAMPLE_RATE", "BATCH_COST_PER_CUSTOMER", "ONLINE_COST_PER_REQUEST"]
