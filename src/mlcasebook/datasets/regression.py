"""Data with a known noise level: a smooth curve plus Gaussian noise, and a classifier that needs regularization."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.utils import Bunch

TEMPERATURE_RANGE = (-10.0, 35.0)  # daily mean temperature, degrees Celsius
NOISE_GW = 1.5  # default standard deviation of the demand noise, GW


def demand_curve(temperature_c) -> np.ndarray:
    """True expected peak electricity demand (GW) at a daily mean temperature (degrees Celsius).

    Heating below about 16 degrees and cooling above it give a U shape (the quadratic term); a
    gentle wave (the sine term) means no low-degree polynomial is exact, so the best polynomial
    degree grows with the sample size.
    """
    t = np.asarray(temperature_c, dtype=float)
    return 30.0 + 0.03 * (t - 16.0) ** 2 + 1.5 * np.sin(t / 5.0)


@dataclass(frozen=True)
class RegressionTruth:
    """Ground truth of a :func:`make_temperature_demand` sample.

    Attributes
    ----------
    sigma : float
        Standard deviation of the Gaussian noise (GW).
    noise_variance : float
        ``sigma**2``, the irreducible error: the lowest mean squared error any model can reach.
    temperature_range : tuple
        The interval the temperatures are drawn from, uniformly.
    """

    sigma: float
    noise_variance: float
    temperature_range: tuple[float, float] = TEMPERATURE_RANGE

    @staticmethod
    def function(temperature_c) -> np.ndarray:
        """The true expected demand, :func:`demand_curve`."""
        return demand_curve(temperature_c)

    def expected_mse(self, predict, n_grid: int = 4001) -> float:
        """Exact expected squared error of ``predict`` on new days: sigma**2 + mean (prediction - truth)**2.

        ``predict`` maps a one-column DataFrame ``temperature_c`` to predictions (e.g. ``model.predict``);
        the mean runs over an even grid of the temperature range, i.e. the uniform temperature distribution.
        """
        grid = np.linspace(*self.temperature_range, n_grid)
        frame = pd.DataFrame({"temperature_c": grid})
        pred = np.asarray(predict(frame), dtype=float).ravel()
        return float(self.noise_variance + np.mean((pred - demand_curve(grid)) ** 2))


def make_temperature_demand(n_samples: int = 160, *, noise: float = NOISE_GW, random_state=None) -> Bunch:
    """Generate days of peak electricity demand against temperature, with noise of known size.

    The generative story: each day's mean temperature is drawn uniformly between -10 and 35 degrees
    Celsius; the expected peak demand is a smooth U-shaped curve of temperature (:func:`demand_curve`,
    about 28-51 GW), and the observed demand adds independent Gaussian noise with standard deviation
    ``noise`` (1.5 GW by default). Because the noise is known, so is the irreducible error
    ``noise**2``: no model's expected squared error on new days can fall below it.

    Parameters
    ----------
    n_samples : int
        Number of days.
    noise : float, keyword-only
        Standard deviation of the noise, in GW.
    random_state : int or None, keyword-only
        Seed for the one random generator used.

    Returns
    -------
    Bunch with
        frame : DataFrame with one column ``temperature_c``.
        target : Series ``demand_gw``, same index.
        truth : :class:`RegressionTruth` (``sigma``, ``noise_variance``, ``function``, ``expected_mse``).
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}.")
    if noise <= 0:
        raise ValueError(f"noise must be positive, got {noise}.")
    rng = np.random.default_rng(random_state)
    t = np.round(rng.uniform(*TEMPERATURE_RANGE, int(n_samples)), 2)
    frame = pd.DataFrame({"temperature_c": t})
    target = pd.Series(demand_curve(t) + rng.normal(0.0, noise, len(t)), index=frame.index, name="demand_gw")
    return Bunch(frame=frame, target=target,
                 truth=RegressionTruth(sigma=float(noise), noise_variance=float(noise) ** 2),
                 feature_names=["temperature_c"])


@dataclass(frozen=True)
class ClassificationTruth:
    """Ground truth of a :func:`make_sparse_classification` sample.

    Attributes
    ----------
    coef : ndarray
        True log-odds effect of one standard deviation of each feature (zero for noise features).
    intercept : float
        True intercept of the log-odds.
    probability : ndarray
        The true probability of class 1 for every row.
    informative : list of str
        Names of the features with a non-zero effect.
    """

    coef: np.ndarray
    intercept: float
    probability: np.ndarray
    informative: list[str]


def make_sparse_classification(n_samples: int = 200, *, n_features: int = 40, n_informative: int = 4,
                               random_state=None) -> Bunch:
    """Generate a binary task where only a few of many features matter, so regularization pays.

    The generative story: every feature is an independent Gaussian measured in its own unit (each
    column's standard deviation is drawn log-uniformly between 0.01 and 100, so an unscaled
    penalty treats them very unequally); the first ``n_informative`` features move the log-odds by
    +/-1.5 per standard deviation, the rest not at all; labels are drawn from the resulting
    probabilities. With 200 rows and 40 features an unpenalised logistic regression overfits, and
    a moderate L2 (or L1) penalty chosen by cross-validation predicts better.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int, keyword-only
        Number of features.
    n_informative : int, keyword-only
        Number of features with a real effect (the first ones).
    random_state : int or None, keyword-only
        Seed for the one random generator used.

    Returns
    -------
    Bunch with ``frame`` (features ``x00``, ``x01``, ...), ``target`` (Series ``y`` of 0/1) and
    ``truth`` (:class:`ClassificationTruth`).
    """
    if not 0 < n_informative <= n_features:
        raise ValueError("n_informative must be between 1 and n_features.")
    rng = np.random.default_rng(random_state)
    names = [f"x{j:02d}" for j in range(n_features)]
    z = rng.normal(size=(int(n_samples), n_features))
    unit = np.exp(np.random.default_rng(12345).uniform(np.log(0.01), np.log(100.0), n_features))
    coef = np.zeros(n_features)
    coef[:n_informative] = 1.5 * np.where(np.arange(n_informative) % 2 == 0, 1.0, -1.0)
    p = expit(z @ coef)
    y = (rng.random(len(z)) < p).astype(int)
    frame = pd.DataFrame(z * unit, columns=names)
    return Bunch(frame=frame, target=pd.Series(y, index=frame.index, name="y"),
                 truth=ClassificationTruth(coef=coef, intercept=0.0, probability=p, informative=names[:n_informative]),
                 feature_names=names)
