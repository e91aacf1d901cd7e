"""The regression errors shared by the bias_variance and residuals checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import mean_squared_error

from mlcasebook.checks.reference import rmse


def test_rmse_is_the_root_of_scikit_learns_mse_whatever_the_shapes():
    rng = np.random.default_rng(0)
    y, p = rng.normal(100, 10, 50), rng.normal(100, 10, 50)
    assert np.isclose(rmse(y, p), np.sqrt(mean_squared_error(y, p)))
    assert np.isclose(rmse(pd.Series(y), p.reshape(-1, 1)), rmse(y, p))  # a column of predictions is flattened
    assert rmse(y, y) == 0.0
