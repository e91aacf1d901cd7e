"""Silent degradation: the production stream scored by a model whose scores rank well but are not probabilities.

A thin layer over :func:`mlcasebook.datasets.make_production_stream`: the same customers, drifts, labels and truth,
with the deployed model's ``score`` replaced by a miscalibrated one, and the kind of change active in each window.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.base import clone
from sklearn.utils import Bunch

from mlcasebook.datasets.monitoring import FEATURES, Drift, make_production_stream, window_performance

REFERENCE_WINDOWS = 4   # the model is fitted on windows 0-3
VALIDATION_WINDOWS = 2  # windows 4-5: labelled, before any change; the offline validation set

#: which kind of change a window shows, by the drift kinds active in it (concept wins over covariate)
WINDOW_KINDS = ("none", "covariate_shift", "concept_drift")


def degradation_drifts() -> list[Drift]:
    """The notebook's scenario over 20 weekly windows.

    Weeks 7-12: a promotion for month-to-month DSL plans (covariate shift: 90 % of new customers moved to
    month-to-month, 60 % to DSL, ramped over two weeks, over in week 13). Week 15 on: a competitor pays its new
    customers' early-termination fees, so a long contract no longer keeps a customer (concept drift: the contract
    effect on churn is removed, the customers are those of the control).
    """
    return [
        Drift("contract", "covariate", 7, 0.9, ramp=1, end_window=13),
        Drift("internet_service", "covariate", 7, 0.6, ramp=1, end_window=13),
        Drift("contract", "concept", 15, 1.0),
    ]


def window_kinds(drifts: list[Drift], n_windows: int) -> pd.Series:
    """The kind of change active in each window: ``none``, ``covariate_shift`` or ``concept_drift``.

    Only covariate and concept drifts are named (the scenarios of this case use no other kind); a window with both
    is ``concept_drift``, since the model's probabilities no longer hold there.
    """
    kinds = []
    for w in range(n_windows):
        active = {d.kind for d in drifts if d.strength(w) != 0}
        unknown = active - {"covariate", "concept"}
        if unknown:
            raise ValueError(f"window_kinds names covariate and concept drift only, got {sorted(unknown)}.")
        kinds.append("concept_drift" if "concept" in active else "covariate_shift" if active else "none")
    return pd.Series(kinds, index=pd.RangeIndex(n_windows, name="window"), name="kind")


def make_degradation_stream(n_windows: int = 20, *, rows_per_window: int = 2_000, drifts: list[Drift] | None = None,
                            scores: str | tuple[float, float] = "balanced", threshold: float = 0.5,
                            random_state=0) -> Bunch:
    """Generate the production stream of a churn model whose scores are not calibrated probabilities.

    The generative story is :func:`~mlcasebook.datasets.make_production_stream`'s (weekly batches of the churn
    generator's customers, churn rate 0.2, the model fitted on windows 0-3, labels two windows late). Then the
    scores are replaced. ``scores="balanced"``: the deployed logistic regression is refitted on the same reference
    windows with ``class_weight="balanced"``, the usual cure for imbalance (module 02): it ranks customers as well,
    but each score's odds are about four times too high. ``scores=(slope, shift)``: the calibrated score's
    log-odds become ``slope * logit(score) + shift`` (slope below 1: under-confident, above 1: over-confident), a
    monotone change that leaves every ranking metric as it was. ``scores="calibrated"`` keeps the stream's own.

    Parameters
    ----------
    n_windows : int
        Number of weekly windows (at least 7: 4 reference, 2 validation, 1 live).
    rows_per_window : int, keyword-only
        Customers scored per window.
    drifts : list of Drift or None, keyword-only
        The scenario; ``None`` is :func:`degradation_drifts`, ``[]`` the no-drift control. Only covariate and
        concept drifts.
    scores : "balanced", "calibrated" or (slope, shift), keyword-only
        How the served scores are miscalibrated.
    threshold : float, keyword-only
        The model flags a customer as a churner when ``score >= threshold`` (the ``accuracy`` columns of the truth).
    random_state : int or None, keyword-only
        Seed.

    Returns
    -------
    Bunch with
        frame : DataFrame as in make_production_stream, ``score`` being the served (miscalibrated) score.
        target : Series, the ``label`` column.
        model : the fitted pipeline that serves the scores (``None`` for a (slope, shift) transform).
        features, categorical_features, numeric_features : lists of column names.
        reference_windows, validation_windows : lists of window numbers (fitting; labelled validation).
        kinds : Series, the kind of change active in each window (:func:`window_kinds`).
        truth : :class:`~mlcasebook.datasets.StreamTruth` with the performance table recomputed for the served
            scores: ``auc``, ``accuracy`` (realised labels) and ``expected_auc``, ``expected_accuracy`` (the
            true probabilities: what the metric converges to on that window's customers).
    """
    n_windows = int(n_windows)
    if n_windows < REFERENCE_WINDOWS + VALIDATION_WINDOWS + 1:
        raise ValueError(f"n_windows must be at least {REFERENCE_WINDOWS + VALIDATION_WINDOWS + 1}, got {n_windows}.")
    drifts = degradation_drifts() if drifts is None else list(drifts)
    kinds = window_kinds(drifts, n_windows)
    stream = make_production_stream(n_windows, rows_per_window=rows_per_window, reference_windows=REFERENCE_WINDOWS,
                                    drifts=drifts, threshold=threshold, random_state=random_state)
    frame = stream.frame
    model = stream.model
    if isinstance(scores, str):
        if scores == "balanced":
            ref = frame["window"].to_numpy() < REFERENCE_WINDOWS
            model = clone(stream.model).set_params(logreg__class_weight="balanced")
            model.fit(frame.loc[ref, FEATURES], frame.loc[ref, "label"])
            frame["score"] = model.predict_proba(frame[FEATURES])[:, 1]
        elif scores != "calibrated":
            raise ValueError(f"scores must be 'balanced', 'calibrated' or (slope, shift), got {scores!r}.")
    else:
        slope, shift = (float(v) for v in scores)
        frame["score"] = expit(slope * logit(np.clip(frame["score"].to_numpy(), 1e-12, 1 - 1e-12)) + shift)
        model = None
    truth = dataclasses.replace(stream.truth, performance=window_performance(frame, stream.truth.probability, threshold,
                                                                       REFERENCE_WINDOWS))
    return Bunch(frame=frame, target=frame["label"], model=model, features=stream.features,
                 categorical_features=stream.categorical_features, numeric_features=stream.numeric_features,
                 reference_windows=list(range(REFERENCE_WINDOWS)),
                 validation_windows=list(range(REFERENCE_WINDOWS, REFERENCE_WINDOWS + VALIDATION_WINDOWS)),
                 kinds=kinds, truth=truth)


__all__ = ["REFERENCE_WINDOWS", "VALIDATION_WINDOWS", "WINDOW_KINDS", "degradation_drifts", "make_degradation_stream",
           "window_kinds"]
