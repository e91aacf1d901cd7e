"""Customer churn: a generator whose true churn probabilities are known, and the real Telco data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.metrics import average_precision_score
from sklearn.utils import Bunch

from mlcasebook.datasets._files import DataFileError, data_file

CONTRACTS = ("month_to_month", "one_year", "two_year")
PAYMENTS = ("electronic_check", "credit_card", "bank_transfer", "mailed_check")
INTERNET = ("dsl", "fiber", "none")

# Effects on the log-odds of churning (the generative story, in plain numbers).
_CONTRACT_EFFECT = {"month_to_month": 0.0, "one_year": -2.0, "two_year": -4.0}
_PAYMENT_EFFECT = {"electronic_check": 1.0, "credit_card": 0.0, "bank_transfer": 0.0, "mailed_check": 0.18}
_INTERNET_EFFECT = {"dsl": 0.0, "fiber": 0.63, "none": -0.72}
_TENURE_PER_MONTH = -0.054
_CHARGES_PER_DOLLAR = 0.0216
_SUPPORT_CALL = 0.81
_SENIOR = 0.54
_PAPERLESS = 0.36
_PER_EXTRA_SERVICE = -0.27


@dataclass(frozen=True)
class ChurnTruth:
    """Ground truth of a :func:`make_churn` sample.

    Attributes
    ----------
    probability : ndarray
        The true churn probability of every row, in the frame's row order.
    churn_rate : float
        The population churn rate the generator was calibrated to.
    """

    probability: np.ndarray
    churn_rate: float

    def oracle_average_precision(self, y_true, index=None) -> float:
        """Average precision of the Bayes oracle (ranking by the true probability).

        ``index`` selects rows (labels or positions of the generated frame), e.g. a test split's
        ``X_test.index``; the realised labels ``y_true`` must be for the same rows.
        """
        p = self.probability if index is None else self.probability[np.asarray(index)]
        return float(average_precision_score(np.asarray(y_true), p))


def _lookup(values, effects: dict[str, float]) -> np.ndarray:
    """``effects[value]`` for every value, NaN for a value without one: what ``Series.map(effects)`` gives, without
    its overhead (a production stream maps four columns in each of its windows)."""
    values = np.asarray(values)
    out = np.full(len(values), np.nan)
    for level, effect in effects.items():
        out[values == level] = effect
    return out


def _features(n: int, rng: np.random.Generator) -> pd.DataFrame:
    new = rng.random(n) < 0.35
    tenure = np.where(new, rng.exponential(7.0, n), rng.uniform(1, 72, n))
    tenure = np.clip(np.round(tenure), 1, 72).astype(int)
    # Longer-tenured customers hold longer contracts more often.
    long_share = np.clip(0.15 + tenure / 100, 0, 0.85)
    u = rng.random(n)
    contract = np.where(u < 1 - long_share, "month_to_month", np.where(u < 1 - long_share / 2, "one_year", "two_year"))
    internet = rng.choice(INTERNET, size=n, p=[0.35, 0.45, 0.20])
    base_charge = _lookup(internet, {"dsl": 55.0, "fiber": 85.0, "none": 25.0})
    monthly = np.clip(np.round(base_charge + rng.normal(0, 12, n), 2), 18.0, 120.0)
    support = rng.poisson(np.where(internet == "fiber", 1.2, 0.7))
    payment = rng.choice(PAYMENTS, size=n, p=[0.35, 0.22, 0.22, 0.21])
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "contract": contract,
            "internet_service": internet,
            "monthly_charges": monthly,
            "support_calls_90d": support,
            "payment_method": payment,
            "paperless_billing": (rng.random(n) < 0.6).astype(int),
            "senior_citizen": (rng.random(n) < 0.16).astype(int),
            "num_services": 1 + rng.binomial(5, 0.35, n),
        }
    )


def log_odds_terms(X: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each feature's contribution to the log-odds of churning (without the intercept).

    The keys are the feature names, in the order the generator adds them up; the values are
    arrays aligned with ``X``'s rows. Their sum plus the intercept is the true log-odds that
    :func:`make_churn` draws labels from (the production stream reuses it to change one
    feature's effect).
    """
    return {
        "tenure_months": _TENURE_PER_MONTH * X["tenure_months"].to_numpy(),
        "contract": _lookup(X["contract"], _CONTRACT_EFFECT),
        "internet_service": _lookup(X["internet_service"], _INTERNET_EFFECT),
        "monthly_charges": _CHARGES_PER_DOLLAR * (X["monthly_charges"].to_numpy() - 65.0),
        "support_calls_90d": _SUPPORT_CALL * X["support_calls_90d"].to_numpy(),
        "payment_method": _lookup(X["payment_method"], _PAYMENT_EFFECT),
        "senior_citizen": _SENIOR * X["senior_citizen"].to_numpy(),
        "paperless_billing": _PAPERLESS * X["paperless_billing"].to_numpy(),
        "num_services": _PER_EXTRA_SERVICE * (X["num_services"].to_numpy() - 1),
    }


def _log_odds_without_intercept(X: pd.DataFrame) -> np.ndarray:
    terms = iter(log_odds_terms(X).values())
    total = next(terms)
    for term in terms:  # left to right, the same additions as a written-out sum
        total = total + term
    return total


@lru_cache(maxsize=16)
def _intercept(churn_rate: float) -> float:
    """Intercept that makes the population churn rate equal ``churn_rate`` (fixed reference sample)."""
    eta = _log_odds_without_intercept(_features(100_000, np.random.default_rng(20261125)))
    return float(brentq(lambda b: expit(eta + b).mean() - churn_rate, -30.0, 30.0))


def make_churn(n_samples: int = 20_000, *, churn_rate: float = 0.05, random_state=0) -> Bunch:
    """Generate subscription customers whose true churn probability is known.

    The generative story: a third of customers are new (tenure drawn from an exponential with
    a 7-month mean), the rest spread evenly over six years; longer-tenured customers hold longer
    contracts more often; fibre customers pay more and call support more. The log-odds of
    churning fall with tenure and with longer contracts, and rise with monthly charges, support
    calls, paying by electronic cheque, being a senior citizen and paperless billing. The
    intercept is set so the population churn rate equals ``churn_rate``. Labels are drawn from
    the true probabilities, so no model can beat the Bayes oracle that ranks by them.

    Parameters
    ----------
    n_samples : int
        Number of customers.
    churn_rate : float, keyword-only
        Population share of churners (default 0.05, the 95/5 case).
    random_state : int or None, keyword-only
        Seed for the one random generator used.

    Returns
    -------
    Bunch with
        frame : DataFrame of the features (no target column).
        target : Series ``churned`` of 0/1 labels, same index.
        truth : :class:`ChurnTruth` with the true probabilities and
            ``oracle_average_precision(y_true, index)`` for any split.
        feature_names, categorical_features, numeric_features : lists of column names.
    """
    if not 0 < churn_rate < 1:
        raise ValueError(f"churn_rate must be between 0 and 1, got {churn_rate}.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}.")
    rng = np.random.default_rng(random_state)
    X = _features(int(n_samples), rng)
    p = expit(_log_odds_without_intercept(X) + _intercept(float(churn_rate)))
    y = pd.Series((rng.random(len(X)) < p).astype(int), index=X.index, name="churned")
    categorical = ["contract", "internet_service", "payment_method"]
    numeric = [c for c in X.columns if c not in categorical]
    return Bunch(
        frame=X,
        target=y,
        truth=ChurnTruth(probability=p, churn_rate=float(churn_rate)),
        feature_names=list(X.columns),
        categorical_features=categorical,
        numeric_features=numeric,
    )


TELCO_FILE = "telco_churn.csv"


def load_telco_churn(churn_rate: float | None = None, *, random_state: int = 0) -> Bunch:
    """Load the IBM Telco customer churn data (7,043 customers, 26.5 % churn).

    Parameters
    ----------
    churn_rate : float or None
        ``None`` returns all rows. A rate below the data's own (e.g. ``0.05``) keeps every
        customer who stayed and a deterministic random subset of churners, so that churners
        make up ``churn_rate`` of the result.
    random_state : int
        Seed of that subset (default 0, the one the notebooks use).

    Returns
    -------
    Bunch with ``frame`` (features), ``target`` (Series ``churned``, 0/1), ``feature_names``,
    ``categorical_features``, ``numeric_features``. ``total_charges`` is missing for 11 customers
    in their first month, as in the original data.
    """
    path = data_file(TELCO_FILE)
    try:
        df = pd.read_csv(path)
    except Exception as exc:  # pragma: no cover - damaged files are caught by the checksum first
        raise DataFileError(f"Data file {path} cannot be read as CSV ({exc}).") from exc
    y = (df.pop("churn") == "Yes").astype(int).rename("churned")
    if churn_rate is not None:
        base = float(y.mean())
        if not 0 < churn_rate <= base:
            raise ValueError(f"churn_rate must be in (0, {base:.3f}] (the data's own rate), got {churn_rate}.")
        n_stay = int((y == 0).sum())
        n_churn = int(round(churn_rate * n_stay / (1 - churn_rate)))
        churners = y[y == 1].sample(n=n_churn, random_state=random_state).index
        keep = y.index[(y == 0).to_numpy()].union(churners)
        df, y = df.loc[keep].reset_index(drop=True), y.loc[keep].reset_index(drop=True)
    categorical = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    numeric = [c for c in df.columns if c not in categorical]
    return Bunch(frame=df, target=y, feature_names=list(df.columns), categorical_features=categorical,
                 numeric_features=numeric)
