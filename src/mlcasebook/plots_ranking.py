"""Plot helpers for recommendation_ranking (03_system_design): position bias, retrieval recall, experiment power.

Each helper draws on the axes it is given, else on a new figure, and returns None (nothing printable below a
cell). ``ranking_dashboard`` puts the three on one figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd

_STYLES = ("-o", "--s", ":^", "-.d", "-v")


def _table(data) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        return pd.DataFrame(dict(data))
    raise TypeError("pass a DataFrame (one column per curve) or a dict name -> values")


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def position_bias(curves, *, ax=None, title: str = "Examination probability by position") -> None:
    """Estimated P(examined | position), relative to position 1: one curve per column, positions as the index."""
    table, ax = _table(curves), _axes(ax)
    for style, (name, values) in zip(_STYLES * 2, table.items(), strict=False):
        ax.plot(table.index, values, style, label=str(name), markersize=4)
    ax.set(xlabel="Position in the slate", ylabel="Relative to position 1", title=title, ylim=(0, 1.1))
    ax.set_xticks(list(table.index))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def recall_curves(curves, *, ax=None, title: str = "Retrieval: recall@k on the time-split holdout") -> None:
    """Recall@k against k: one curve per candidate generator (columns), k as the index."""
    table, ax = _table(curves), _axes(ax)
    for style, (name, values) in zip(_STYLES * 2, table.items(), strict=False):
        ax.plot(table.index, values, style, label=str(name), markersize=4)
    ax.set(xlabel="k (candidates per user)", ylabel="Mean recall@k", title=title, ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def power_curves(curves, *, target: float = 0.8, simulated: Mapping | None = None, ax=None,
                 title: str = "Finding the better ranker: power against users") -> None:
    """Power (the share of experiments that detect the better ranker) against users per experiment (the index), one
    line per design (columns); ``simulated`` maps a design to ``(users, simulated power)``, drawn as a marker."""
    table, ax = _table(curves), _axes(ax)
    for (name, values), colour in zip(table.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False):
        ax.plot(table.index, values, "-", color=colour, label=str(name))
        if simulated and name in simulated:
            n, share = simulated[name]
            ax.plot([n], [share], "o", color=colour, markersize=7, markerfacecolor="white",
                    label=f"{name}: simulated at {n:,.0f} users")
    ax.axhline(target, color="grey", lw=1, ls="--")
    ax.text(table.index.min(), target + 0.02, f"{target:.0%} power", fontsize=8, color="grey")
    ax.set_xscale("log")
    ax.set(xlabel="Users in the experiment (log scale)", ylabel="Power (share of experiments that find it)",
           title=title, ylim=(0, 1.05))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def ranking_dashboard(propensities, recall, power, *, target: float = 0.8, simulated: Mapping | None = None,
                      title: str = "Home-page recommender: position bias, retrieval, and how to compare rankers") -> None:
    """The three diagnostics side by side: :func:`position_bias`, :func:`recall_curves`, :func:`power_curves`."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    position_bias(propensities, ax=axes[0], title="Position bias: P(examined) by position")
    recall_curves(recall, ax=axes[1], title="Retrieval: recall@k on the holdout")
    power_curves(power, target=target, simulated=simulated, ax=axes[2], title="Interleaving vs A/B: power")
    fig.suptitle(title)
    fig.tight_layout()


__all__ = ["position_bias", "recall_curves", "power_curves", "ranking_dashboard"]
