"""Plot helpers for the feature pipelines case: one customer's timeline, and the leak dashboard.

Each helper draws on the axes it is given, else on a new figure, and returns None (nothing printable below a cell).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

_MARKERS = {"login": ("o", "#4c72b0"), "support_ticket": ("s", "#dd8452"), "payment": ("^", "#55a868"),
            "payment_failed": ("v", "#c44e52"), "cancel_page_visit": ("D", "#8172b3")}


def customer_timeline(events: pd.DataFrame, labels: pd.DataFrame, customer_id, *, churn_time=None,
                      horizon: pd.Timedelta | None = None, ax=None) -> None:
    """One customer's events by type on a time axis, with their snapshot (label) times and the cancellation.

    Parameters
    ----------
    events, labels : DataFrame
        The event log (``customer_id, timestamp, event_type, amount``) and the snapshots (``customer_id,
        label_time, churned``).
    customer_id : the customer to draw.
    churn_time : Timestamp, optional
        When the customer cancelled (a red line).
    horizon : Timedelta, optional
        Shades the label window after the snapshot that is labelled 1.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.2))
    mine = events[events["customer_id"] == customer_id]
    kinds = list(_MARKERS)
    for y, kind in enumerate(kinds):
        t = mine.loc[mine["event_type"] == kind, "timestamp"]
        marker, colour = _MARKERS[kind]
        ax.scatter(t, np.full(len(t), y), marker=marker, color=colour, s=22, label=f"{kind} ({len(t)})", zorder=3)
    snaps = labels[labels["customer_id"] == customer_id]
    for i, row in enumerate(snaps.itertuples()):
        ax.axvline(row.label_time, color="#999999", lw=0.8, ls="--", label="snapshot (label time)" if i == 0 else None)
        if getattr(row, "churned", 0) == 1 and horizon is not None:
            ax.axvspan(row.label_time, row.label_time + horizon, color="#c44e52", alpha=0.08,
                       label="label window of the positive snapshot")
    if churn_time is not None and pd.notna(churn_time):
        ax.axvline(churn_time, color="#c44e52", lw=2, label="cancellation")
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_ylim(-0.7, len(kinds) - 0.3)
    ax.set_xlabel("time (UTC)")
    ax.set_title(f"Customer {customer_id}: events, snapshots and the cancellation")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.figure.tight_layout()


def leak_dashboard(scores: Mapping[str, float], feature_auc: pd.DataFrame | None = None, *, axes=None) -> None:
    """Left: the model's AUC in each setting (e.g. naive join on a random split, on the holdout, as-of features on
    the holdout), with chance at 0.5. Right (when ``feature_auc`` is given): each feature's AUC on its own, one bar
    per column of ``feature_auc`` (e.g. ``as_of`` and ``naive``), features as the index.
    """
    panels = 2 if feature_auc is not None else 1
    if axes is None:
        _, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.6), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(np.atleast_1d(axes))
    ax = axes[0]
    names, values = list(scores), [float(v) for v in scores.values()]
    colours = ["#c44e52" if "naive" in n else "#4c72b0" for n in names]
    bars = ax.bar(range(len(names)), values, color=colours)
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=9)
    ax.axhline(0.5, color="#666666", lw=0.8, ls=":", label="chance")
    ax.set_xticks(range(len(names)), [n.replace("_", "\n") for n in names])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("ROC AUC")
    ax.set_title("The model: offline vs holdout")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    if feature_auc is not None:
        ax = axes[1]
        width = 0.8 / max(len(feature_auc.columns), 1)
        x = np.arange(len(feature_auc))
        for i, col in enumerate(feature_auc.columns):
            ax.barh(x + i * width, feature_auc[col].to_numpy(float), height=width, label=str(col),
                    color="#c44e52" if "naive" in str(col) else "#4c72b0")
        ax.axvline(0.5, color="#666666", lw=0.8, ls=":")
        ax.set_yticks(x + width * (len(feature_auc.columns) - 1) / 2, list(feature_auc.index))
        ax.set_xlim(0, 1)
        ax.set_xlabel("AUC of the feature alone (0.5 = no signal; below 0.5: high values mean staying)")
        ax.set_title("Each feature on its own, all snapshots")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    axes[0].figure.tight_layout()
