"""Checks for error analysis with residuals on Ames housing (regression, prices in dollars).

Each check's docstring lists the misconceptions it detects, most specific first. Residuals are
``actual - predicted`` throughout (positive: the model under-priced the house). Checks that need
rows the learner never fitted on refit a clone of the learner's model on hidden folds of the houses
(``out_of_fold``), always feeding it ``make_features(houses)`` so the learner's feature code is used.

Figures behind the tolerances (5-fold CV over the 2,925 houses of at most 4,000 sq ft, linear
models on one-hot categoricals and scaled numerics, 20 random splits): raw-price baseline RMSE
$22-26k; the same model on log price, back-transformed, $19-23k, 13 % lower on average (ratios
0.81-0.95 on single 25 % splits, so a 5-fold average below 0.95 is a safe bar for a real fix).
"""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold

from mlcasebook.cases.residuals import pattern_statistics  # noqa: F401 - a public fact, shown in the notebook
from mlcasebook.checks.decisions import judge_decision, normalise_choice
from mlcasebook.checks.result import CheckResult, check, failed, passed

TARGET = "Sale_Price"
# A held-out RMSE below this many dollars is a second symptom of a leak (the first: predictions that
# move when only the prices change): honest linear models reach $19-26k on these houses, and a typical
# house's price is not knowable from its listing to within $8k (~5 % of the median price).
LEAK_RMSE = 8_000.0
# Predictions whose median is below this are on the log scale (log of $160k is 12).
LOG_SCALE_BELOW = 1_000.0
MIN_IMPROVEMENT = 0.05

PATTERNS = ("random_scatter", "funnel", "curve", "funnel_and_curve")
_PATTERN_SYNONYMS = {
    "random": "random_scatter", "no_pattern": "random_scatter", "none": "random_scatter",
    "heteroscedasticity": "funnel", "heteroskedasticity": "funnel", "fan": "funnel",
    "nonlinearity": "curve", "non_linearity": "curve", "missing_nonlinearity": "curve",
    "missing_non_linearity": "curve", "u_shape": "curve",
    "both": "funnel_and_curve", "curve_and_funnel": "funnel_and_curve",
    "heteroscedasticity_and_nonlinearity": "funnel_and_curve",
}
SLICE_COLUMNS = ("n", "rmse", "mean_error")
_OOF_CACHE: dict = {}


_norm = normalise_choice


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, in the units of ``y_true``."""
    diff = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
    return float(np.sqrt(np.mean(diff**2)))


def _close(a, b, rel: float = 1e-4, abs_: float = 0.5) -> bool:
    return bool(np.isclose(float(a), float(b), rtol=rel, atol=abs_))


def out_of_fold(model, make_features, houses: pd.DataFrame, *, seed: int, n_splits: int = 5):
    """Refit clones of ``model`` on ``n_splits`` shuffled folds; return (y, out-of-fold predictions).

    ``houses`` holds the features and ``Sale_Price``; the features are ``make_features(houses)``.
    """
    try:  # unpicklable models (lambdas inside) are simply not cached
        code = getattr(getattr(make_features, "__code__", None), "co_code", b"")
        frame_key = (houses.shape, joblib.hash(houses.index.to_numpy()), joblib.hash(houses[TARGET].to_numpy()))
        key = (joblib.hash(clone(model)), id(make_features), code, frame_key, seed, n_splits)
    except Exception:
        key = None
    if key is not None and key in _OOF_CACHE:  # several checks refit the same model on the same hidden folds
        y, pred = _OOF_CACHE[key]
        return y.copy(), pred.copy()
    X = make_features(houses.copy())
    y = houses[TARGET].to_numpy(dtype=float)
    pred = np.empty(len(y))
    for train, test in KFold(n_splits, shuffle=True, random_state=seed).split(X):
        fitted = clone(model).fit(X.iloc[train], y[train])
        pred[test] = np.asarray(fitted.predict(X.iloc[test]), dtype=float).ravel()
    if key is not None:
        _OOF_CACHE[key] = (y, pred)
    while len(_OOF_CACHE) > 4:  # keep only the latest few results
        _OOF_CACHE.pop(next(iter(_OOF_CACHE)))
    return y.copy(), pred.copy()


def _fold_rmse(y, pred, *, seed: int, n_splits: int = 5) -> float:
    """Mean of the per-fold RMSEs (the folds of ``out_of_fold`` with the same seed)."""
    folds = KFold(n_splits, shuffle=True, random_state=seed).split(y)
    return float(np.mean([rmse(y[test], pred[test]) for _, test in folds]))


def _prices_leak(model, make_features, houses: pd.DataFrame, *, n: int = 200, seed: int = 0) -> bool:
    """True if the model's predictions change when only the sale prices of the houses change.

    At serving time the price is unknown, so an honest model's predictions cannot depend on it;
    a feature computed from Sale_Price (price per square foot) makes them move.
    """
    sample = houses.iloc[:n].copy()
    blind = sample.copy()
    blind[TARGET] = np.random.default_rng(seed).permutation(blind[TARGET].to_numpy())
    seen = np.asarray(model.predict(make_features(sample)), dtype=float).ravel()
    unseen = np.asarray(model.predict(make_features(blind)), dtype=float).ravel()
    return not np.allclose(seen, unseen, rtol=1e-9, atol=1e-6)


_LEAK_MESSAGE = ("{who}'s predictions change when only the sale prices of the houses change: a feature is computed "
                 "from the price (like price per square foot), which is unknown when a house is listed — target "
                 "leakage; remove it from make_features.")


# ------------------------------------------------------------------ features


@check("features without the target", stub_hint="write `make_features(df)` returning the feature table")
def features(name: str, make_features, houses: pd.DataFrame, *, seed: int = 0) -> CheckResult:
    """Misconceptions: ``target_as_feature``, ``target_leak`` (a feature computed from Sale_Price, e.g. price
    per square foot), ``reads_global_data`` (features looked up by row label in a table that holds prices),
    ``rows_changed``.

    Calls ``make_features`` three times on the same houses: as given, with the sale prices shuffled
    among the rows, and with new row labels. Features a model may use at prediction time cannot change
    in either case.
    """
    base = make_features(houses.copy())
    if not isinstance(base, pd.DataFrame):
        return failed(name, "not_a_table", f"make_features returned a {type(base).__name__}; return a DataFrame "
                      "with one row per house.")
    if len(base) != len(houses) or not base.index.equals(houses.index):
        return failed(name, "rows_changed",
                      "make_features changed the number of rows or their labels; keep every row and the index so "
                      "features line up with prices — drop outliers outside it.")
    if TARGET in base.columns:
        return failed(name, "target_as_feature",
                      "Your features still contain Sale_Price, the value the model must predict; drop it.")
    rng = np.random.default_rng(seed)
    shuffled = houses.copy()
    shuffled[TARGET] = rng.permutation(shuffled[TARGET].to_numpy())
    other = make_features(shuffled)
    changed = [c for c in base.columns if c not in other.columns or not other[c].equals(base[c])]
    if changed:
        return failed(name, "target_leak",
                      f"Your feature(s) {', '.join(map(str, changed[:3]))} change when only the sale prices change: "
                      "they are computed from the target (like price per square foot), which is unknown when a house "
                      "is listed; that is target leakage — build features from the house's own attributes only.")
    relabelled = houses.copy()
    relabelled.index = pd.RangeIndex(10**6, 10**6 + len(houses))
    try:
        moved = make_features(relabelled)
        same = moved.reset_index(drop=True).equals(base.reset_index(drop=True))
    except (KeyError, IndexError):
        same = False
    if not same:
        return failed(name, "reads_global_data",
                      "Your features differ for the same houses under new row labels: make_features looks rows up "
                      "in a table outside its argument (often one that holds the prices); compute every feature "
                      "from the df it is given.")
    return passed(name, "Your features depend only on each house's own attributes, not on its price.")


# ------------------------------------------------------------------ baseline


def _judge_baseline(name: str, y, pred, error: float, where: str, *, show: bool) -> CheckResult:
    """``show``: quote the RMSE (only for the notebook's own test split; refits on hidden folds never do)."""
    amount = f" of ${error:,.0f}" if show else ""
    if np.median(pred) < LOG_SCALE_BELOW:
        return failed(name, "log_scale_predictions",
                      "Your baseline predicts numbers near 12, log dollars: the baseline models Sale_Price itself so "
                      "its residual plot shows what the raw target does.")
    if error < LEAK_RMSE:
        return failed(name, "target_leak",
                      f"{where} your baseline's RMSE{amount} is below ${LEAK_RMSE:,.0f}, far better than the listing can "
                      "tell: the symptom of a feature built from the price (target leakage); remove it.")
    if error > 0.6 * np.std(y):
        return failed(name, "weak_baseline",
                      f"{where} your baseline's RMSE{amount} is hardly better than predicting the average price; use "
                      "the categorical columns (one-hot encoded) and the numeric ones.")
    if show:
        return passed(name, f"{where} your baseline's RMSE is ${error:,.0f}.")
    return passed(name, f"{where} your baseline's RMSE is that of an honest model of the raw price.")


@check("baseline regression", stub_hint="fit `baseline`, a regression on the raw sale price, on X_train, y_train")
def baseline_model(name: str, baseline, make_features, test: pd.DataFrame) -> CheckResult:
    """Misconceptions: ``log_scale_predictions`` (the baseline predicts log dollars), ``target_leak``
    (predictions move when only the prices of the houses change, or held-out RMSE below LEAK_RMSE),
    ``weak_baseline`` (RMSE above 0.6 x the price's standard deviation, barely better than predicting the
    mean; linear models on the given columns reach 0.3-0.4).
    """
    if _prices_leak(baseline, make_features, test):
        return failed(name, "target_leak", _LEAK_MESSAGE.format(who="Your baseline"))
    y = test[TARGET].to_numpy(dtype=float)
    pred = np.asarray(baseline.predict(make_features(test.copy())), dtype=float).ravel()
    return _judge_baseline(name, y, pred, rmse(y, pred), "On the test houses", show=True)


@check("baseline regression on unseen houses",
       stub_hint="fit `baseline`, a regression on the raw sale price, on X_train, y_train")
def baseline_model_refit(name: str, baseline, make_features, houses: pd.DataFrame, *, seed: int) -> CheckResult:
    """As :func:`baseline_model`, with clones of the baseline refitted on 5 hidden folds of ``houses``."""
    if _prices_leak(baseline, make_features, houses, seed=seed):
        return failed(name, "target_leak", _LEAK_MESSAGE.format(who="Your baseline"))
    y, pred = out_of_fold(baseline, make_features, houses, seed=seed)
    return _judge_baseline(name, y, pred, _fold_rmse(y, pred, seed=seed), "Refitted on houses it never saw,",
                           show=False)


# ------------------------------------------------------------------ residuals


@check("held-out residuals", stub_hint="set `fitted` and `residuals` for the test houses")
def heldout_residuals(name: str, fitted, residuals, baseline, make_features, train: pd.DataFrame,
                      test: pd.DataFrame) -> CheckResult:
    """Misconceptions: ``training_residuals``, ``flipped_sign`` (predicted - actual), ``log_scale_residuals``,
    ``wrong_residuals``.
    """
    y_train, y_test = train[TARGET], test[TARGET]
    X_test = make_features(test.copy())
    f = np.asarray(fitted, dtype=float).ravel()
    r = np.asarray(residuals, dtype=float).ravel()
    if len(r) == len(y_train) and len(r) != len(y_test):
        return failed(name, "training_residuals",
                      "Your residuals are for the training houses; a model fits its own training rows too "
                      "well to show its errors — compute them on X_test, y_test.")
    if len(r) != len(y_test) or len(f) != len(y_test):
        return failed(name, "wrong_residuals",
                      f"Give one fitted value and one residual per test house; you gave {len(f)} fitted values and "
                      f"{len(r)} residuals.")
    pred = np.asarray(baseline.predict(X_test), dtype=float).ravel()
    actual = np.asarray(y_test, dtype=float)
    if not np.allclose(f, pred, rtol=1e-6, atol=0.01):
        if np.allclose(f, np.log(np.clip(pred, 1, None)), rtol=1e-4):
            return failed(name, "log_scale_residuals",
                          "Your fitted values are in log dollars; plot the baseline's predictions in dollars.")
        return failed(name, "wrong_residuals",
                      "Your fitted values are not the baseline's predictions on X_test; use baseline.predict(X_test).")
    if np.allclose(r, actual - pred, rtol=1e-6, atol=0.01):
        return passed(name, "Residuals of the test houses, actual minus fitted, in dollars.")
    if np.allclose(r, pred - actual, rtol=1e-6, atol=0.01):
        return failed(name, "flipped_sign",
                      "Your residuals are fitted minus actual; the convention is actual minus fitted, so a positive "
                      "residual means the model under-priced the house.")
    return failed(name, "wrong_residuals", "Your residuals are not y_test minus the baseline's predictions on X_test.")


def _pattern_from(stats: dict) -> str:
    return {(False, False): "random_scatter", (True, False): "funnel", (False, True): "curve",
            (True, True): "funnel_and_curve"}[(bool(stats["funnel"]), bool(stats["curve"]))]


@check("residual pattern", stub_hint="set `residual_pattern` to one of " + ", ".join(repr(p) for p in PATTERNS))
def residual_pattern(name: str, pattern, fitted, residuals) -> CheckResult:
    """Misconceptions: ``missed_funnel`` (heteroscedasticity not seen), ``missed_curve`` (missing
    non-linearity not seen), ``imagined_pattern``, ``unknown_choice``.

    The right reading is computed from the residuals given (see ``pattern_statistics``).
    """
    choice = _norm(pattern)
    choice = _PATTERN_SYNONYMS.get(choice, choice)
    if choice not in PATTERNS:
        return failed(name, "unknown_choice", f"'{pattern}' is not one of {', '.join(PATTERNS)}.")
    stats = _pattern_from(pattern_statistics(fitted, residuals))
    said_funnel, said_curve = "funnel" in choice, "curve" in choice
    has_funnel, has_curve = "funnel" in stats, "curve" in stats
    if has_funnel and not said_funnel:
        return failed(name, "missed_funnel",
                      "The spread of your residuals grows with the fitted price — a funnel, i.e. heteroscedasticity: "
                      "errors are proportional to price; look at the width of the cloud from left to right.")
    if has_curve and not said_curve:
        return failed(name, "missed_curve",
                      "The residuals' running mean bends (positive at both ends, negative in the middle) — a curve, "
                      "i.e. missing non-linearity: look at the binned mean line, not only the spread.")
    if choice != stats:
        return failed(name, "imagined_pattern",
                      f"You named '{choice}', but part of it is not in these residuals; read the binned mean (curve) "
                      "and the band's width (funnel) separately.")
    meaning = {"funnel_and_curve": "heteroscedasticity and missing non-linearity", "funnel": "heteroscedasticity",
               "curve": "missing non-linearity", "random_scatter": "no systematic error"}[stats]
    return passed(name, f"'{stats}': {meaning}.")


@check("residual pattern on unseen houses", stub_hint="set `residual_pattern` to one of "
       + ", ".join(repr(p) for p in PATTERNS))
def residual_pattern_refit(name: str, pattern, baseline, make_features, houses: pd.DataFrame, *, seed: int
                           ) -> CheckResult:
    """As :func:`residual_pattern`, on out-of-fold residuals of the learner's baseline refitted on hidden folds."""
    if _prices_leak(baseline, make_features, houses, seed=seed):
        return failed(name, "target_leak", _LEAK_MESSAGE.format(who="Your baseline") + " Its residuals cannot be read.")
    y, pred = out_of_fold(baseline, make_features, houses, seed=seed)
    return residual_pattern.__wrapped__(name, pattern, pred, y - pred)


# ------------------------------------------------------------------ log target


def _judge_log(name: str, y, pred_log, pred_base, err_log: float, err_base: float, where: str,
               min_improvement: float, *, show: bool) -> CheckResult:
    """``show``: quote the RMSEs (only for the notebook's own test split; refits on hidden folds never do)."""
    if np.median(pred_log) < LOG_SCALE_BELOW:
        return failed(name, "no_back_transform",
                      f"{where} your log_model predicts numbers near 12, log dollars: make the back-transformation "
                      "part of the model (TransformedTargetRegressor(func=np.log, inverse_func=np.exp)) so it predicts "
                      "prices.")
    if err_log < LEAK_RMSE:
        return failed(name, "target_leak",
                      f"{where} your log model's RMSE{f' of ${err_log:,.0f}' if show else ''} is below "
                      f"${LEAK_RMSE:,.0f}: the symptom of a feature computed from the price (target leakage); remove it.")
    gain = 1 - err_log / err_base
    if gain < min_improvement:
        versus = (f"is ${err_log:,.0f} against ${err_base:,.0f} for the baseline ({gain:+.0%})" if show
                  else f"is not at least {min_improvement:.0%} below the baseline's")
        return failed(name, "no_improvement",
                      f"{where} your log model's RMSE {versus}; fit the same model on np.log(price) and predict "
                      "np.exp of it.")
    if show:
        return passed(name, f"{where} RMSE falls from ${err_base:,.0f} to ${err_log:,.0f} ({gain:.0%} lower) with the "
                      "log target.")
    return passed(name, f"{where} the log target lowers the RMSE in dollars by at least {min_improvement:.0%}.")


@check("log target, back-transformed", stub_hint="fit `log_model`, a model of log price that predicts dollars")
def log_target_model(name: str, log_model, baseline, make_features, test: pd.DataFrame, *,
                     min_improvement: float = MIN_IMPROVEMENT) -> CheckResult:
    """Misconceptions: ``no_back_transform`` (predictions in log dollars), ``target_leak``, ``no_improvement``.

    On the notebook's own test split; see :func:`log_target_model_refit` for the graded version.
    """
    if _prices_leak(log_model, make_features, test):
        return failed(name, "target_leak", _LEAK_MESSAGE.format(who="Your log_model"))
    y = test[TARGET].to_numpy(dtype=float)
    X_test = make_features(test.copy())
    pred_log = np.asarray(log_model.predict(X_test), dtype=float).ravel()
    pred_base = np.asarray(baseline.predict(X_test), dtype=float).ravel()
    return _judge_log(name, y, pred_log, pred_base, rmse(y, pred_log), rmse(y, pred_base), "On the test houses",
                      min_improvement, show=True)


@check("log target on unseen houses", stub_hint="fit `log_model`, a model of log price that predicts dollars")
def log_target_model_refit(name: str, log_model, baseline, make_features, houses: pd.DataFrame, *, seed: int,
                           min_improvement: float = MIN_IMPROVEMENT) -> CheckResult:
    """Misconceptions: ``no_back_transform``, ``target_leak``, ``no_improvement``.

    The learner's fitted ``log_model`` must predict dollars; then clones of it and of the baseline are
    refitted on the same 5 hidden folds, and the log model's mean fold RMSE in dollars must be at least
    ``min_improvement`` (5 %) below the baseline's. A log target on the same linear model gains 13 % on
    average (single-split ratios 0.81-0.95; the 5-fold mean varies far less), so 5 % is a safe bar.
    """
    X_probe = make_features(houses.iloc[:50].copy())
    probe = np.asarray(log_model.predict(X_probe), dtype=float).ravel()
    if np.median(probe) < LOG_SCALE_BELOW:
        y50 = houses[TARGET].to_numpy(dtype=float)[:50]
        return _judge_log(name, y50, probe, probe, 1.0, 1.0, "On houses you did not fit,", min_improvement,
                          show=False)
    if _prices_leak(log_model, make_features, houses, seed=seed):
        return failed(name, "target_leak", _LEAK_MESSAGE.format(who="Your log_model"))
    y, pred_log = out_of_fold(log_model, make_features, houses, seed=seed)
    _, pred_base = out_of_fold(baseline, make_features, houses, seed=seed)
    return _judge_log(name, y, pred_log, pred_base, _fold_rmse(y, pred_log, seed=seed),
                      _fold_rmse(y, pred_base, seed=seed), "On houses neither model saw,", min_improvement,
                      show=False)


@check("test RMSE in dollars", stub_hint="set `test_rmse` to {'baseline': ..., 'log_model': ...} in dollars")
def reported_rmse(name: str, test_rmse, baseline, log_model, make_features, train: pd.DataFrame,
                  test: pd.DataFrame) -> CheckResult:
    """Misconceptions: ``log_scale_metric`` (RMSE of log prices reported as dollars), ``training_metric``,
    ``mse_not_rmse``, ``mae_not_rmse``, ``wrong_value``.
    """
    if not isinstance(test_rmse, dict) or not {"baseline", "log_model"} <= set(test_rmse):
        return failed(name, "not_a_dict", "test_rmse must be a dict with keys 'baseline' and 'log_model'.")
    X_train, y_train = make_features(train.copy()), train[TARGET].to_numpy(dtype=float)
    X_test, y = make_features(test.copy()), test[TARGET].to_numpy(dtype=float)
    for key, model in (("baseline", baseline), ("log_model", log_model)):
        value = float(test_rmse[key])
        pred = np.asarray(model.predict(X_test), dtype=float).ravel()
        if _close(value, rmse(y, pred)):
            continue
        log_rmse = rmse(np.log(y), np.log(np.clip(pred, 1, None)))
        if value < LOG_SCALE_BELOW or _close(value, log_rmse, abs_=1e-4):
            return failed(name, "log_scale_metric",
                          f"Your {key} RMSE {value:.3g} is on the log scale (a typical error of about "
                          f"{np.expm1(value):.0%} of the price, not dollars); back-transform the predictions and "
                          "compute the RMSE on prices.")
        if _close(value, rmse(y_train, model.predict(X_train))):
            return failed(name, "training_metric",
                          f"Your {key} RMSE is measured on the training houses; report it on X_test, y_test, which "
                          "the model never saw.")
        if _close(value, rmse(y, pred) ** 2, rel=1e-3):
            return failed(name, "mse_not_rmse",
                          f"Your {key} value is the mean squared error (dollars squared); take its square root.")
        if _close(value, float(np.mean(np.abs(y - pred)))):
            return failed(name, "mae_not_rmse",
                          f"Your {key} value is the mean absolute error; the question asks for the RMSE.")
        return failed(name, "wrong_value", f"Your {key} RMSE is not the RMSE of {key}.predict(X_test) against y_test.")
    return passed(name, f"Test RMSE ${test_rmse['baseline']:,.0f} for the baseline and "
                  f"${test_rmse['log_model']:,.0f} with the log target.")


# ------------------------------------------------------------------ slices and worst cases


def slice_table(y_true, y_pred, segment) -> pd.DataFrame:
    """Reference error table: per segment n, RMSE and mean error (actual - predicted), worst RMSE first."""
    df = pd.DataFrame({"y": np.asarray(y_true, dtype=float), "p": np.asarray(y_pred, dtype=float),
                       "s": np.asarray(segment)})
    df["e"] = df["y"] - df["p"]
    g = df.groupby("s", sort=False)["e"]
    root_mean_square = g.apply(lambda e: float(np.sqrt(np.mean(e**2))))
    out = pd.DataFrame({"n": g.size(), "rmse": root_mean_square, "mean_error": g.mean()})
    out.index.name = None
    return out.sort_values("rmse", ascending=False, kind="stable")


def _slice_case(rng: np.random.Generator, n: int = 400):
    """Segments built so RMSE, MAE, mean error and size rank them differently; labels shuffled."""
    names = np.array(["A_small_biased", "B_large_noisy", "C_heavy_tail", "D_tight", "E_one_house"])
    sizes = [30, 200, 90, 79, 1]
    seg = np.repeat(names, sizes)
    y = rng.lognormal(12, 0.3, n)
    err = np.concatenate([
        30_000 + rng.normal(0, 5_000, 30),                              # biased, small spread
        rng.normal(0, 25_000, 200),                                     # unbiased, noisy
        np.where(rng.random(90) < 0.05, 150_000, 3_000) * rng.choice([-1, 1], 90),  # a few huge errors
        rng.normal(-2_000, 4_000, 79),
        [-60_000.0],
    ])
    order = rng.permutation(n)
    index = pd.Index(rng.choice(np.arange(10_000, 99_999), n, replace=False))
    y_true = pd.Series(y[order], index=index, name=TARGET)
    y_pred = (y - err)[order]
    segment = pd.Series(seg[order], index=index, name="segment")
    return y_true, y_pred, segment


@check("error slices", stub_hint="write `error_slices(y_true, y_pred, segment)`")
def error_slices(name: str, error_slices, *, seed: int) -> CheckResult:
    """Misconceptions: ``mse_not_rmse``, ``mae_not_rmse``, ``overall_not_per_segment``, ``bias_sign``
    (mean error as predicted - actual), ``unsorted``, ``wrong_counts``, ``wrong_segments``, ``wrong_rmse``.

    Calls the learner's function on built segments where RMSE, MAE, MSE, mean error and size rank the
    segments differently (one segment has a few huge errors, one is biased, one has a single house).
    """
    y_true, y_pred, segment = _slice_case(np.random.default_rng(seed))
    got = error_slices(y_true, y_pred, segment)
    want = slice_table(y_true, y_pred, segment)
    if not isinstance(got, pd.DataFrame):
        return failed(name, "not_a_table", f"error_slices returned a {type(got).__name__}; return a DataFrame indexed "
                      "by segment.")
    missing = [c for c in SLICE_COLUMNS if c not in got.columns]
    if missing:
        return failed(name, "missing_columns", f"Your table has no column(s) {', '.join(missing)}; name them "
                      + ", ".join(SLICE_COLUMNS) + ".")
    if set(map(str, got.index)) != set(want.index):
        return failed(name, "wrong_segments", "Your table's index is not one row per segment value; group by the "
                      "segment and keep it as the index.")
    got = got.copy()
    got.index = got.index.map(str)
    g = got.loc[want.index]
    if not np.allclose(g["n"].to_numpy(dtype=float), want["n"].to_numpy(dtype=float)):
        return failed(name, "wrong_counts", "Your n column does not count the houses in each segment.")
    r = g["rmse"].to_numpy(dtype=float)
    if not np.allclose(r, want["rmse"].to_numpy(), rtol=1e-6):
        e = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
        seg = np.asarray(segment)
        mse = np.array([np.mean(e[seg == s] ** 2) for s in want.index])
        mae = np.array([np.mean(np.abs(e[seg == s])) for s in want.index])
        if np.allclose(r, mse, rtol=1e-6):
            return failed(name, "mse_not_rmse", "Your rmse column is the mean squared error (dollars squared); take "
                          "the square root per segment.")
        if np.allclose(r, mae, rtol=1e-6):
            return failed(name, "mae_not_rmse", "Your rmse column is the mean absolute error, which hides the few huge "
                          "misses RMSE is meant to expose; square, average, then take the root.")
        if np.allclose(r, r[0]):
            return failed(name, "overall_not_per_segment", "Every segment shows the same rmse: you computed the "
                          "overall error, not one per segment.")
        return failed(name, "wrong_rmse", "Your rmse column is not the root mean squared error of actual - predicted "
                      "within each segment.")
    m = g["mean_error"].to_numpy(dtype=float)
    if not np.allclose(m, want["mean_error"].to_numpy(), rtol=1e-6, atol=1e-6):
        if np.allclose(m, -want["mean_error"].to_numpy(), rtol=1e-6, atol=1e-6):
            return failed(name, "bias_sign", "Your mean_error is predicted - actual; use actual - predicted so a "
                          "positive value means the model under-prices the segment.")
        return failed(name, "wrong_bias", "Your mean_error is not the mean of actual - predicted within each segment.")
    if list(got.index) != list(want.index):
        return failed(name, "unsorted", "Sort the table by rmse, largest first, so the worst segment is on top.")
    return passed(name, "Your slice table matches a recomputation on segments you have not seen.")


def worst_case_labels(y_true, y_pred, k: int) -> list:
    err = np.abs(np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float))
    order = np.argsort(-err, kind="stable")[:k]
    return list(pd.Series(y_true).index[order])


def _worst_case(rng: np.random.Generator, n: int = 300):
    """Prices where the biggest dollar misses include over-predictions and exclude big relative misses."""
    y = rng.lognormal(12, 0.35, n)
    rel = rng.normal(0, 0.08, n)
    cheap = np.argsort(y)[:6]
    rel[cheap] = rng.choice([-1, 1], 6) * 0.6            # large relative error on cheap houses: small in dollars
    dear = np.argsort(y)[-12:]
    rel[dear[:4]] = -0.35                                 # over-predicted expensive houses: big negative residuals
    rel[dear[4:7]] = 0.3
    pred = y * np.exp(-rel)
    index = pd.Index(rng.choice(np.arange(100_000, 999_999), n, replace=False))
    order = rng.permutation(n)
    return pd.Series(y[order], index=index, name=TARGET), pd.Series(pred[order], index=index)


@check("worst cases", stub_hint="write `worst_cases(y_true, y_pred, k)`")
def worst_cases(name: str, worst_cases, *, seed: int, k: int = 6) -> CheckResult:
    """Misconceptions: ``signed_not_absolute`` (largest positive residuals only), ``log_scale_errors`` (largest
    relative errors, not dollars), ``positions_not_labels``, ``wrong_rows``.
    """
    y_true, y_pred = _worst_case(np.random.default_rng(seed))
    want = worst_case_labels(y_true, y_pred, k)
    got = list(worst_cases(y_true, y_pred, k))
    if len(got) != k:
        return failed(name, "wrong_k", f"Asked for k={k} houses, your function returned a different number; return "
                      "exactly k row labels.")
    got_set = {int(g) if isinstance(g, (int, np.integer)) else g for g in got}
    if got_set == set(want):
        return passed(name, "Your function finds the houses with the largest dollar errors, by their row labels.")
    positions = np.argsort(-np.abs(y_true.to_numpy() - y_pred.to_numpy()), kind="stable")[:k]
    if got_set == set(positions.tolist()):
        return failed(name, "positions_not_labels", "You returned positions (0..n-1), not the houses' row labels; "
                      "return y_true.index[...] so the rows can be looked up with .loc.")
    signed = list((y_true - y_pred).sort_values(ascending=False).index[:k])
    if got_set == set(signed):
        return failed(name, "signed_not_absolute", "You ranked by the signed residual, so over-priced houses (big "
                      "negative residuals) never appear; rank by the absolute error.")
    log_err = (np.log(y_true) - np.log(y_pred)).abs().sort_values(ascending=False)
    if got_set == set(log_err.index[:k]):
        return failed(name, "log_scale_errors", "You ranked by the error in log price, which surfaces cheap houses "
                      "with big relative misses; rank by the absolute error in dollars.")
    return failed(name, "wrong_rows", "Your rows are not the k with the largest |actual - predicted| in dollars.")


# ------------------------------------------------------------------ decision

DECISION_CHOICES = {
    "target": {"log_back_transformed"},
    "report_metric_in": {"dollars"},
    "residuals_from": {"held_out"},
    "price_per_sqft_feature": {"exclude"},
    "worst_cases": {"investigate"},
}
_DECISION_MISTAKES = {
    ("target", "raw"): "a raw target keeps the funnel: errors grow with price",
    ("target", "log"): "a log model must be back-transformed before it can be judged in dollars",
    ("report_metric_in", "log_units"): "an RMSE of 0.12 log units is not a dollar amount anyone can act on",
    ("residuals_from", "training"): "training residuals show how well the model memorised, not how it fails",
    ("price_per_sqft_feature", "include"): "price per square foot is computed from the sale price, a target leak",
    ("worst_cases", "drop_from_test"): "dropping hard test houses flatters the metric without fixing the model",
    ("worst_cases", "ignore"): "the worst cases show where the model fails and are where the next fix comes from",
}


@check("decision", stub_hint="fill in the `decision` dict with one choice per key")
def decision(name: str, decision: dict) -> CheckResult:
    """Misconceptions: ``missing_key``, ``unknown_choice``, and one ``decision_<key>`` per wrong choice."""
    return judge_decision(name, decision, DECISION_CHOICES, _DECISION_MISTAKES, _norm,
                          "Log target judged in dollars on held-out houses, no target-derived features, worst cases "
                  "investigated.")
