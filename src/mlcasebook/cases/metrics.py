"""Metrics case: labels with a given confusion matrix, and the contact economics (shared with the churn case)."""

from __future__ import annotations

import numpy as np

from mlcasebook.cases.churn import CONTACT_COST, SAVE_RATE, VALUE, best_profit, expected_profit

__all__ = ["labels_from_counts", "VALUE", "SAVE_RATE", "CONTACT_COST", "expected_profit", "best_profit"]


def labels_from_counts(tp: int, fn: int, fp: int, tn: int, *, random_state=0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled 0/1 arrays ``(y_true, y_pred)`` whose confusion matrix has exactly these counts."""
    y_true = np.array([1] * tp + [1] * fn + [0] * fp + [0] * tn)
    y_pred = np.array([1] * tp + [0] * fn + [1] * fp + [0] * tn)
    order = np.random.default_rng(random_state).permutation(len(y_true))
    return y_true[order], y_pred[order]
