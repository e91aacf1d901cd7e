"""Plot helpers for module 04_monitoring: every figure gets a title, labelled axes and units.

Each helper draws on the axes it is given, else on a new figure, and returns None (nothing printable below a
cell). ``monitoring_dashboard`` is shared by the three notebooks of the module; drift_detection's own helpers
follow it, and silent_degradation's and retraining_triggers' go below their own headings at the end of the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats


def _columns(spec) -> list[str]:
    if spec is None:
        return []
    return [spec] if isinstance(spec, str) else list(spec)


def _alert_groups(alerts) -> dict[str, list]:
    if alerts is None:
        return {}
    if isinstance(alerts, Mapping):
        return {str(k): sorted(v) for k, v in alerts.items()}
    return {"alert": sorted(alerts)}


# ---------------------------------------------------------------- shared: the monitoring dashboard


def monitoring_dashboard(table: pd.DataFrame, *, drift: str | Sequence[str] | None = None,
                         performance: str | Sequence[str] | None = None, window: str = "window",
                         alerts: Sequence | Mapping[str, Sequence] | None = None,
                         reference_windows: int | None = None, thresholds: Mapping[str, float] | None = None,
                         events: Mapping[str, float] | None = None, drift_label: str = "Drift statistic",
                         performance_label: str = "Model performance", title: str | None = None,
                         axes=None) -> None:
    """Drift and performance per window on a shared time axis, with alert markers.

    Parameters
    ----------
    table : DataFrame
        One row per window: a ``window`` column (or the column named by ``window``: ints or timestamps) and
        metric columns. Missing values (e.g. performance before labels arrive) leave gaps.
    drift : str or list of str
        Columns drawn in the upper panel (PSI per feature, a domain-classifier AUC, a null rate, ...).
    performance : str or list of str
        Columns drawn in the lower panel (real AUC, an estimated AUC, a cost, ...). With only one of
        ``drift`` and ``performance`` given, one panel is drawn.
    alerts : list of windows, or dict label -> list of windows
        Windows where a rule fired: a marker on top of the upper panel and a light vertical line through both
        panels, one colour per label (e.g. ``{"drift alert": [...], "retrain": [...]}``).
    reference_windows : int
        Windows ``0 .. reference_windows - 1`` are shaded as the reference period.
    thresholds : dict label -> value
        Horizontal lines on the upper panel (e.g. ``{"PSI 0.25 (rule of thumb)": 0.25}``).
    events : dict label -> window
        Known changes drawn as dotted vertical lines (e.g. the truth table's onsets), labelled.
    axes : pair of Axes (or one Axes for a single panel)
        Where to draw; default a new figure.
    """
    drift_cols, perf_cols = _columns(drift), _columns(performance)
    missing = [c for c in [window, *drift_cols, *perf_cols] if c not in table.columns]
    if missing:
        raise KeyError(f"monitoring_dashboard: the table has no column {missing}; it has {list(table.columns)}.")
    if not drift_cols and not perf_cols:
        raise ValueError("monitoring_dashboard: name at least one column in `drift` or `performance`.")
    panels = [(cols, label) for cols, label in ((drift_cols, drift_label), (perf_cols, performance_label)) if cols]
    if axes is None:
        _, axes = plt.subplots(len(panels), 1, figsize=(9, 2.8 * len(panels) + 0.6), sharex=True, squeeze=False)
        axes = list(axes[:, 0])
    else:
        axes = list(np.atleast_1d(axes))
    x = table[window]
    for ax, (cols, label) in zip(axes, panels, strict=True):
        for i, col in enumerate(cols):
            ax.plot(x, table[col], marker="o", ms=3, lw=1.4, color=f"C{i}", label=col)
        ax.set_ylabel(label)
        if reference_windows:
            numeric = np.issubdtype(x.dtype, np.number)
            ax.axvspan(x.iloc[0] - 0.5 if numeric else x.iloc[0],
                       reference_windows - 0.5 if numeric else x.iloc[min(reference_windows, len(x) - 1)],
                       color="grey", alpha=0.12, lw=0,
                       label="reference period" if ax is axes[0] else None)
        for name, at in (events or {}).items():
            ax.axvline(at, color="k", ls=":", lw=1, alpha=0.7)
            if ax is axes[0]:
                ax.annotate(name, (at, 1), xycoords=("data", "axes fraction"), rotation=90, va="top",
                            ha="right", fontsize=7, xytext=(-2, -2), textcoords="offset points")
    for value_label, value in (thresholds or {}).items():
        axes[0].axhline(value, color="C3", ls="--", lw=1, label=value_label)
    markers = "v^sDP*"
    for k, (name, windows) in enumerate(_alert_groups(alerts).items()):
        colour = f"C{(k + 3) % 10}"
        for ax in axes:
            for w in windows:
                ax.axvline(w, color=colour, lw=4, alpha=0.12)
        if windows:
            axes[0].plot(windows, np.ones(len(windows)), ls="none", marker=markers[k % len(markers)], ms=8,
                         color=colour, transform=axes[0].get_xaxis_transform(), clip_on=False, label=name)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes[-1].set_xlabel("Window" if window == "window" else window)
    axes[0].set_title(title or "Monitoring: drift and performance per window", pad=14)
    axes[0].figure.tight_layout()


# ---------------------------------------------------------------- drift_detection


def gaussian_shift(mus, psi, ks, w1, *, ax=None, title: str | None = None) -> None:
    """Measured PSI, KS and W1 of N(mu, 1) against N(0, 1) next to the closed forms mu², 2Φ(mu/2) − 1 and |mu|."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    mus = np.asarray(mus, dtype=float)
    grid = np.linspace(0, mus.max(), 200)
    for values, theory, label, colour in ((psi, grid**2, "PSI", "C0"),
                                          (ks, 2 * stats.norm.cdf(grid / 2) - 1, "KS statistic", "C1"),
                                          (w1, grid, "Wasserstein W1", "C2")):
        ax.plot(mus, values, "o", color=colour, label=f"{label} (measured)")
        ax.plot(grid, theory, "-", color=colour, alpha=0.6)
    ax.axhline(0.25, color="grey", ls="--", lw=1, label="PSI 0.25 (rule of thumb)")
    ax.set(xlabel="Mean shift μ (in reference standard deviations)", ylabel="Statistic",
           title=title or "Gaussian mean shift: measured (dots) vs closed form (lines)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def drift_heatmap(table: pd.DataFrame, *, value: str = "psi", feature: str = "feature", window: str = "window",
                  alerts: pd.DataFrame | None = None, vmax: float = 0.5, ax=None, title: str | None = None) -> None:
    """A feature × window heatmap of a drift statistic from a long table; alert cells outlined."""
    wide = table.pivot(index=feature, columns=window, values=value)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.35 * len(wide) + 1.5))
    im = ax.imshow(wide.to_numpy(dtype=float), aspect="auto", cmap="Reds", vmin=0, vmax=vmax)
    ax.set_yticks(range(len(wide)), wide.index)
    ax.set_xticks(range(len(wide.columns)), wide.columns)
    if alerts is not None:
        flagged = alerts.pivot(index=feature, columns=window, values="alert").reindex_like(wide).fillna(False)
        for i, j in zip(*np.nonzero(flagged.to_numpy(dtype=bool)), strict=True):
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="k", lw=1.5))
    ax.figure.colorbar(im, ax=ax, label=value)
    ax.set(xlabel="Window", title=title or f"{value} per feature and window (outlined: alert)")
