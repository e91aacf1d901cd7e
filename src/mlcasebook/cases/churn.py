"""Churn case: the business figures and the profit of a contact list (also used by metrics_and_thresholds)."""

from __future__ import annotations

import numpy as np

VALUE = 500.0        # a saved churner is worth this much
SAVE_RATE = 0.3      # a contacted churner stays with this probability
CONTACT_COST = 50.0  # every contact costs this much

__all__ = ["VALUE", "SAVE_RATE", "CONTACT_COST", "expected_profit", "best_profit", "precision_at_recall"]


def expected_profit(churn, contacted) -> float:
    """Expected profit of a contact list.

    ``churn`` holds 0/1 outcomes or true churn probabilities; each contacted churner brings
    VALUE * SAVE_RATE, each contact costs CONTACT_COST.
    """
    p, c = np.asarray(churn, float), np.asarray(contacted, bool)
    return float(VALUE * SAVE_RATE * p[c].sum() - CONTACT_COST * c.sum())


def best_profit(churn, proba) -> float:
    """The highest expected profit any threshold on ``proba`` attains on these rows (``churn`` as in expected_profit)."""
    y = np.asarray(churn, float)
    order = np.argsort(-np.asarray(proba), kind="stable")
    cumulative = np.cumsum(VALUE * SAVE_RATE * y[order] - CONTACT_COST)
    return float(max(0.0, cumulative.max()))


def precision_at_recall(y_true, scores, recall: float = 0.5) -> float:
    """Precision at the highest threshold whose recall reaches ``recall`` (flag the top of the list until
    that share of the positives is caught)."""
    from sklearn.metrics import precision_recall_curve

    precision, rec, _ = precision_recall_curve(np.asarray(y_true), np.asarray(scores))
    return float(precision[np.flatnonzero(rec >= recall)[-1]])
