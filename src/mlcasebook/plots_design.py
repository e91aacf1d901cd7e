"""Plot helpers for 03_system_design/design_rounds: every figure gets a title, labelled axes and units.

Each helper draws on the axes it is given, else on a new figure, and returns None (nothing printable below a cell).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _need(table: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(f"the table has no column {', '.join(missing)} (it has {', '.join(map(str, table.columns))})")


def alert_dashboard(table: pd.DataFrame, *, capacity: int, matured_until: int | None = None,
                    attack_day: int | None = None, axes=None) -> None:
    """Alerts a day and precision@k per day on a shared day axis.

    Parameters
    ----------
    table : DataFrame
        One row per day: ``day``, ``threshold_alerts`` (alerts a fixed score threshold would raise), and
        ``precision_today`` (precision@k with the labels known today); optionally ``precision_eventual`` (with the
        labels once every chargeback has arrived).
    capacity : int
        The analysts' reviews a day, drawn as a line on the upper panel.
    matured_until : int
        Last day whose labels are final: the days after it are shaded.
    attack_day : int
        Marked on both panels.
    """
    _need(table, ["day", "threshold_alerts", "precision_today"])
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top, bottom = axes
    top.bar(table["day"], table["threshold_alerts"], color="#8c96a8", width=0.8, label="alerts at a fixed score threshold")
    top.axhline(capacity, color="#cf222e", lw=2, label=f"review capacity ({capacity} a day)")
    top.set_ylabel("alerts a day")
    top.set_title("Fraud alerts: a fixed threshold against the analysts' capacity, and precision@k per day")
    bottom.plot(table["day"], table["precision_today"], color="#0969da", lw=1.5, label="precision@k, labels known today")
    if "precision_eventual" in table.columns:
        bottom.plot(table["day"], table["precision_eventual"], color="#1a7f37", lw=1.5, ls="--",
                    label="precision@k, eventual labels")
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_ylabel("precision@k")
    bottom.set_xlabel("day")
    for ax in axes:
        if matured_until is not None:
            ax.axvspan(matured_until + 0.5, table["day"].max() + 0.5, color="#f6e05e", alpha=0.25, lw=0,
                       label="labels not final yet" if ax is bottom else None)
        if attack_day is not None:
            ax.axvline(attack_day, color="#9a6700", lw=1, ls=":", label="attack day" if ax is top else None)
        ax.legend(loc="upper left", fontsize=8)
    plt.tight_layout()


STAGE_LABELS = {"cheap_model": "cheap model", "expensive_model": "expensive model", "auto_removed": "removed automatically",
                "human_review": "human review"}


def cascade_funnel(loads: Mapping[str, Mapping[str, float]], budgets: Mapping[str, float], *, ax=None,
                   title: str = "Moderation cascade: items a day at each stage") -> None:
    """Items a day at each stage of a cascade, for one or more settings, with each stage's capacity.

    ``loads`` maps a setting's name to its loads by stage (``cheap_model, expensive_model, auto_removed,
    human_review``); ``budgets`` maps a stage to its capacity (drawn as a red tick over its bars).
    """
    if not loads:
        raise ValueError("loads is empty: give at least one setting's loads by stage")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    stages = list(STAGE_LABELS)
    width = 0.8 / len(loads)
    x = np.arange(len(stages))
    for i, (name, by_stage) in enumerate(loads.items()):
        values = [float(by_stage.get(s, np.nan)) for s in stages]
        bars = ax.bar(x + (i - (len(loads) - 1) / 2) * width, values, width, label=name)
        ax.bar_label(bars, labels=[f"{v:,.0f}" if not math.isnan(v) else "" for v in values], fontsize=7)
    for j, stage in enumerate(stages):
        if stage in budgets:
            ax.hlines(budgets[stage], j - 0.45, j + 0.45, color="#cf222e", lw=2.5,
                      label="capacity" if j == min(stages.index(s) for s in budgets if s in stages) else None)
    ax.set_xticks(x, [STAGE_LABELS[s] for s in stages])
    ax.set_yscale("log")
    ax.set_ylabel("items a day (log scale)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    plt.tight_layout()


def half_life_curve(table: pd.DataFrame, *, best: float | None = None, ax=None) -> None:
    """MRR of the suggestions against the half-life of the counts; an infinite half-life (all-time counts) is drawn
    at the right end. ``table``: ``half_life`` and one column per evaluation day (e.g. ``validation_mrr``)."""
    _need(table, ["half_life"])
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    finite = table["half_life"].replace(np.inf, np.nan)
    right = float(finite.max()) * 4 if finite.notna().any() else 1.0
    x = table["half_life"].where(np.isfinite(table["half_life"]), right)
    for column in [c for c in table.columns if c != "half_life"]:
        ax.plot(x, table[column], marker="o", label=column.replace("_", " ").replace("mrr", "MRR"))
    if best is not None:
        ax.axvline(best if math.isfinite(best) else right, color="#9a6700", ls=":", label=f"chosen half-life ({best:g} days)")
    ax.set_xscale("log")
    ticks = list(x)
    ax.set_xticks(ticks, [f"{h:g}" if math.isfinite(h) else "all time" for h in table["half_life"]])
    ax.set_xlabel("half-life of the counts (days)")
    ax.set_ylabel("MRR of the suggestions")
    ax.set_title("Autocomplete: fresher counts against all-time counts")
    ax.legend(fontsize=8)
    plt.tight_layout()
