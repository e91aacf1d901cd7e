"""Plot helpers for 03_system_design/serving_latency: every figure gets a title, labelled axes and units.

Each helper draws on the axes it is given, else on a new figure, and returns None (nothing printable below a cell).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def batch_curves(measurements: pd.DataFrame, *, budget_ms: float | None = None, axes=None,
                 title: str | None = None) -> None:
    """Latency per call (p50 dashed, p99 solid) and throughput against batch size, one colour per model.

    Parameters
    ----------
    measurements : DataFrame
        One row per (model, batch size) with ``model``, ``batch_size``, ``p50_ms``, ``p99_ms`` and ``rows_per_s``.
    budget_ms : float, optional
        Drawn as a horizontal line on the latency panel (a budget for one request: it applies at batch size 1).
    axes : two matplotlib axes, optional
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4))
    lat, thr = axes
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (model, rows) in enumerate(measurements.sort_values("batch_size").groupby("model", sort=False)):
        c = colours[i % len(colours)]
        lat.plot(rows["batch_size"], rows["p99_ms"], "o-", color=c, label=f"{model} p99")
        lat.plot(rows["batch_size"], rows["p50_ms"], "o--", color=c, alpha=0.6, label=f"{model} p50")
        thr.plot(rows["batch_size"], rows["rows_per_s"], "o-", color=c, label=str(model))
    if budget_ms is not None:
        lat.axhline(budget_ms, color="black", lw=1, ls=":", label=f"budget {budget_ms:g} ms (one request)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size (rows per call)")
        ax.grid(True, which="both", alpha=0.3)
    lat.set_ylabel("latency per call (ms)")
    lat.set_title("Latency per call")
    thr.set_ylabel("throughput (rows per second)")
    thr.set_title("Throughput")
    lat.legend(fontsize=7, ncol=2)
    thr.legend(fontsize=8)
    lat.figure.suptitle(title or "Latency and throughput against batch size")
    lat.figure.tight_layout()


def stage_tails(log: pd.DataFrame, stages: Sequence[str], *, q: float = 99.0, total: str | None = None,
                ax=None, title: str | None = None) -> None:
    """Survival curves P(time > x) of each stage and of the whole request, on log axes, with the q-th percentile
    marked: a curve crosses the dotted line at its own percentile, and a tail that bends up late (a rare slow
    event) shows as a shoulder.

    Parameters
    ----------
    log : DataFrame
        One row per request, one column of milliseconds per stage.
    stages : list of str
        The stage columns.
    total : str, optional
        The request's column; by default the sum of the stages.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    series = {s: log[s].to_numpy(float) for s in stages}
    series["request (sum)" if total is None else total] = (log[list(stages)].sum(axis=1) if total is None
                                                         else log[total]).to_numpy(float)
    for name, x in series.items():
        x = np.sort(x)
        survival = 1 - np.arange(1, len(x) + 1) / len(x)
        keep = np.unique(np.geomspace(1, len(x) - 1, 600).astype(int)) if len(x) > 1_000 else np.arange(len(x) - 1)
        keep = len(x) - 1 - keep[::-1]  # dense in the tail, sparse in the body
        ax.step(x[keep], survival[keep], where="post", lw=2.2 if name == list(series)[-1] else 1.4,
                label=f"{name}: p{q:g} = {np.percentile(x, q):.1f} ms")
    ax.axhline(1 - q / 100, color="black", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("share of requests slower than x")
    ax.set_title(title or "Where the slow requests come from")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()


def canary_dashboard(canary: pd.DataFrame, baseline: pd.DataFrame, *, rollback_at=None, onset=None, axes=None,
                     title: str | None = None) -> None:
    """The canary against the baseline per window: error rate (top) and p99 (bottom), with the rollback (and, when
    known, the true onset of a regression) marked.

    Parameters
    ----------
    canary, baseline : DataFrame
        One row per window with ``window``, ``error_rate`` (or ``errors`` and ``requests``) and ``p99_ms``.
    rollback_at : window, optional
        Where a rule rolled back.
    onset : window, optional
        Where a regression really started (known in a simulation).
    """
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    top, bottom = axes
    for frame, label, style in ((baseline, "baseline", "-"), (canary, "canary", "o-")):
        rate = frame["error_rate"] if "error_rate" in frame else frame["errors"] / frame["requests"]
        top.plot(frame["window"], 100 * rate, style, ms=3, label=label)
        bottom.plot(frame["window"], frame["p99_ms"], style, ms=3, label=label)
    for ax in axes:
        if onset is not None:
            ax.axvline(onset, color="grey", ls="--", lw=1, label="regression starts")
        if rollback_at is not None:
            ax.axvline(rollback_at, color="#cf222e", lw=2, label="rollback")
        ax.grid(True, alpha=0.3)
    top.set_ylabel("error rate (%)")
    bottom.set_ylabel("p99 (ms)")
    bottom.set_xlabel("window")
    top.legend(fontsize=8)
    top.set_title(title or "Canary against baseline")
    top.figure.tight_layout()
