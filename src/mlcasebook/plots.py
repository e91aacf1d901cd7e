"""Plot helpers for the notebooks: every figure gets a title, labelled axes and units."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    return ax


def pr_curve(y_true, scores: dict, ax=None, title: str = "Precision-recall curve on the test set"):
    """Draw one precision-recall curve per entry of ``scores`` ({label: probabilities}) and the random baseline."""
    ax = _axes(ax)
    y = np.asarray(y_true)
    for label, s in scores.items():
        precision, recall, _ = precision_recall_curve(y, s)
        ax.step(recall, precision, where="post", label=f"{label} (AP {average_precision_score(y, s):.2f})")
    ax.axhline(y.mean(), color="grey", ls="--", label=f"random ordering (AP {y.mean():.2f})")
    ax.set(xlabel="Recall (share of churners found)", ylabel="Precision (share of contacts who churn)",
           title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(fontsize=8)
    return ax


def reliability(y_true, probas: dict, ax=None, bins: int = 10, title: str = "Calibration on the test set"):
    """Reliability diagram: mean predicted probability vs observed churn rate, equal-count bins."""
    ax = _axes(ax)
    for label, p in probas.items():
        frac, mean_pred = calibration_curve(y_true, p, n_bins=bins, strategy="quantile")
        ax.plot(mean_pred, frac, "o-", label=label)
    top = max(float(np.max(p)) for p in probas.values())
    ax.plot([0, top], [0, top], color="grey", ls="--", label="perfectly calibrated")
    ax.set(xlabel="Mean predicted churn probability", ylabel="Observed churn rate", title=title)
    ax.legend(fontsize=8)
    return ax


def profit_curve(thresholds, profits, ax=None, chosen: float | None = None,
                 title: str = "Expected profit by contact threshold", unit: str = "$"):
    """Profit (in ``unit``) against the decision threshold, with the chosen threshold marked."""
    ax = _axes(ax)
    ax.plot(thresholds, profits, label="expected profit")
    if chosen is not None:
        ax.axvline(chosen, color="C3", ls="--", label=f"chosen threshold {chosen:.2f}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="Contact a customer when churn probability ≥ threshold", ylabel=f"Expected profit ({unit})", title=title)
    ax.legend(fontsize=8)
    return ax
