"""Plot helpers for the notebooks: every figure gets a title, labelled axes and units.

Every public helper draws on ``ax`` when given (else on a new figure) and returns None, so a helper
call as the last line of a cell shows the figure without an ``<Axes: ...>`` line above it.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    return ax


def plain_dollars(text: str) -> str:
    """``text`` with every unescaped ``$`` written ``\\$``, so matplotlib never reads a ``$...$`` pair as mathtext.

    Matplotlib shows ``\\$`` as a literal dollar sign in text that holds no maths, so this is safe on any label.
    """
    return re.sub(r"(?<!\\)\$", r"\\$", text)


def pr_curve(y_true, scores: dict, ax=None, title: str = "Precision-recall curve on the test set") -> None:
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


def reliability(y_true, probas: dict, ax=None, bins: int = 10, title: str = "Calibration on the test set") -> None:
    """Reliability diagram: mean predicted probability vs observed churn rate, equal-count bins."""
    ax = _axes(ax)
    for label, p in probas.items():
        frac, mean_pred = calibration_curve(y_true, p, n_bins=bins, strategy="quantile")
        ax.plot(mean_pred, frac, "o-", label=label)
    top = max(float(np.max(p)) for p in probas.values())
    ax.plot([0, top], [0, top], color="grey", ls="--", label="perfectly calibrated")
    ax.set(xlabel="Mean predicted churn probability", ylabel="Observed churn rate", title=title)
    ax.legend(fontsize=8)


def _money(amount: float, unit: str) -> str:
    """An amount as the notebooks print it: "$4,009" (a currency symbol first), "4,009 GW" (a unit after)."""
    if unit.lstrip("\\") in ("$", "€", "£"):
        return f"{'−' if amount < 0 else ''}{unit}{abs(amount):,.0f}"
    return f"{amount:,.0f} {unit}"


def profit_curve(thresholds, profits, ax=None, chosen: float | None = None,
                 title: str = "Expected profit by contact threshold", unit: str = "$") -> None:
    """Profit (in ``unit``) against the decision threshold, with the chosen and the best threshold marked.

    The y-axis shows the range that matters, from a little below zero (or below the chosen threshold's
    profit, if lower) to a little above the best profit; the steep losses of thresholds near 0 (contact
    everyone) leave the frame, and a note gives the lowest profit and its threshold. When no threshold makes
    money the whole curve is shown.
    """
    ax = _axes(ax)
    t = np.asarray(thresholds, dtype=float).ravel()
    y = np.asarray(profits, dtype=float).ravel()
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    u = plain_dollars(unit)
    ax.plot(t, y, label="expected profit")
    i_best = int(np.argmax(y))
    best = float(y[i_best])
    ax.axvline(t[i_best], color="C2", ls=":", label=f"best threshold on this grid {t[i_best]:.2f}: {_money(best, u)}")
    floor = 0.0
    if chosen is not None:
        at_chosen = float(np.interp(chosen, t, y))
        ax.axvline(chosen, color="C3", ls="--", label=f"chosen threshold {chosen:.2f}: {_money(at_chosen, u)}")
        floor = min(floor, at_chosen)
    ax.axhline(0, color="grey", lw=0.8)
    if best > 0:
        margin = 0.08 * (best - floor)
        low, high = floor - margin, best + margin
        ax.set_ylim(low, high)
        if y.min() < low:
            i_low = int(np.argmin(y))
            # in the legend, where it cannot cover the curve or the legend cover it
            ax.plot([], [], " ", label=f"off the axis: down to {_money(y[i_low], u)} at threshold {t[i_low]:.2f}")
    ax.set(xlabel="Contact a customer when churn probability ≥ threshold", ylabel=f"Expected profit ({u})",
           title=title)
    ax.legend(fontsize=8)
