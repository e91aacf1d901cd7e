"""Retraining triggers case: the business figures of a year of replayed weeks (public facts, no answers).

The churn model of module 04 scores 1,000 customers a week and flags those with a score of at least 0.5 for a
retention call. A wrong decision (a churner not flagged, or a stayer flagged) is an error. Labels (did the customer
churn?) arrive ``LABEL_DELAY`` weeks after the score. A retrain refits the logistic regression on the rows whose
labels have arrived from the last ``LOOKBACK`` weeks, and costs ``COST_PER_RETRAIN`` (a day of two people's time
for data pulls, validation and a staged rollout, plus compute).
"""

from __future__ import annotations

N_WINDOWS = 52             # a year of weekly windows
ROWS_PER_WINDOW = 1_000    # customers scored a week
REFERENCE_WINDOWS = 4      # the deployed model was fitted on weeks 0-3
LABEL_DELAY = 3            # a week's churn labels arrive three weeks after its scores
LOOKBACK = 7               # a retrain uses the arrived labels of the last 7 weeks: 4 labelled weeks at delay 3
THRESHOLD = 0.5            # flag a customer for a call when the score is at least this
COST_PER_RETRAIN = 2_500.0  # dollars per retrain
COST_PER_ERROR = 40.0       # dollars per avoidable error (see the notebook: an error the true probability avoids)
SAVE_RATE = 0.3            # a contacted churner stays with this probability (the churn case's figure)
HOLDOUT_SHARE = 0.1        # share of flagged customers left uncontacted at random

__all__ = ["N_WINDOWS", "ROWS_PER_WINDOW", "REFERENCE_WINDOWS", "LABEL_DELAY", "LOOKBACK", "THRESHOLD",
           "COST_PER_RETRAIN", "COST_PER_ERROR", "SAVE_RATE", "HOLDOUT_SHARE", "scenario"]


def scenario():
    """The notebook's year: a price rise that moves monthly charges over eight weeks from week 12 (covariate
    shift: who churns given their features does not change), the contract's protective effect gone from week 30
    (a competitor matches contract prices: concept drift), and a churn wave from week 40 (the generator's base
    churn rate +10 points, by label shift; about 26 % to 38 % on this year's customers: prior shift)."""
    from mlcasebook.datasets.monitoring import Drift

    return [Drift("monthly_charges", "covariate", 12, 1.0, ramp=8), Drift("contract", "concept", 30, 1.0),
            Drift(None, "prior", 40, 0.1)]
