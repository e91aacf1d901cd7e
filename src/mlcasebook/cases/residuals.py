"""Residuals case: the statistics behind the notebook's reading of a residuals-vs-fitted plot (shown to learners)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["pattern_statistics"]


def pattern_statistics(fitted, residuals) -> dict:
    """Evidence of a funnel and a curve in a residuals-vs-fitted plot.

    funnel_rho: Spearman correlation of fitted values with |residual|; with no funnel its standard
    error is about 1/sqrt(n) (0.037 for 730 houses), so above 3/sqrt(n) counts as a funnel.
    curve_t: t-statistic of the squared term when residuals are regressed on fitted and fitted²,
    with heteroscedasticity-robust (HC1) standard errors; |t| > 3 counts as a curve.
    """
    f = np.asarray(fitted, dtype=float).ravel()
    r = np.asarray(residuals, dtype=float).ravel()
    n = len(f)
    if n != len(r):
        raise ValueError(f"need one fitted value and one residual per house (got {n} and {len(r)})")
    if n < 20 or not (np.isfinite(f).all() and np.isfinite(r).all()):
        raise ValueError("need at least 20 houses, each with a finite fitted value and residual")
    rank_f = pd.Series(f).rank().to_numpy()
    rank_r = pd.Series(np.abs(r)).rank().to_numpy()
    rho = float(np.corrcoef(rank_f, rank_r)[0, 1])
    z = (f - f.mean()) / f.std()
    X = np.column_stack([np.ones(n), z, z**2])
    beta, *_ = np.linalg.lstsq(X, r, rcond=None)
    e = r - X @ beta
    bread = np.linalg.inv(X.T @ X)
    meat = (X * e[:, None] ** 2).T @ X
    cov = bread @ meat @ bread * n / (n - X.shape[1])
    t = float(beta[2] / np.sqrt(cov[2, 2]))
    return {"n": n, "funnel_rho": rho, "funnel": rho > 3 / np.sqrt(n), "curve_t": t, "curve": abs(t) > 3}
