"""checks.drift: every planted mistake yields its misconception id, every correct approach passes on many seeds.

Also reproduces the figures drift_detection's narrative states (the Gaussian mean-shift relations, the n = 10^6
lesson, the case stream's onsets and what each statistic sees there).
"""

from __future__ import annotations

import hashlib

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, energy_distance, ks_2samp, norm, wasserstein_distance
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from mlcasebook import datasets, plots_monitoring
from mlcasebook.checks import drift
from mlcasebook.checks.result import ERROR, NOT_ATTEMPTED, PASSED
from planted import expect_misconception

matplotlib.use("Agg")
SEEDS = range(20)

# ---------------------------------------------------------------- learner-style psi implementations


def _labels_counts(reference, current):
    """Counts of each label (compared as text) in both samples, over the union of their labels."""
    # counted first, then the labels turned into text: converting every row to str is what cost the time
    r, c = (pd.Series(s).value_counts() for s in (reference, current))
    r, c = (v.groupby(v.index.astype(str)).sum() for v in (r, c))
    labels = sorted(set(r.index) | set(c.index))
    return r.reindex(labels, fill_value=0).to_numpy(), c.reindex(labels, fill_value=0).to_numpy()


def _samples(reference, current):
    return pd.Series(reference).dropna(), pd.Series(current).dropna()


def _floored(r, c, floor=1e-4):
    """PSI of two count (or share) vectors with every share floored."""
    r, c = np.clip(r / r.sum(), floor, None), np.clip(c / c.sum(), floor, None)
    return float(np.sum((c - r) * np.log(c / r)))


def _decile_counts(reference, current, bins):
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1))[1:-1])
    return (np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1),
            np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1))


def psi_quantile(reference, current, bins=10):
    """The notebook's answer: reference deciles, open outer bins, a 1e-4 floor."""
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        return _floored(*_decile_counts(reference, current, bins))
    return _floored(*_labels_counts(reference, current))


def psi_equal_width_laplace(reference, current, bins=10):
    """Correct but unusual: equal-width bins over the reference range, current clipped into it, +0.5 pseudo-counts."""
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        lo, hi = reference.min(), reference.max()
        r, edges = np.histogram(reference, bins=bins, range=(lo, hi))
        c, _ = np.histogram(np.clip(current, lo, hi), bins=edges)
    else:
        r, c = _labels_counts(reference, current)
    r, c = (r + 0.5) / (r.sum() + 0.5 * len(r)), (c + 0.5) / (c.sum() + 0.5 * len(c))
    return float(np.sum((c - r) * np.log(c / r)))


def psi_infinite_edges(reference, current, bins=10):
    """Correct but unusual: np.histogram with -inf/inf outer edges, zeros replaced by 1e-6, categories via crosstab."""
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        inner = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.r_[-np.inf, inner, np.inf]
        r, _ = np.histogram(reference, edges)
        c, _ = np.histogram(current, edges)
    else:
        table = pd.crosstab(np.r_[np.zeros(len(reference)), np.ones(len(current))],
                            np.r_[reference.astype(str), current.astype(str)])
        r, c = table.to_numpy()
    r, c = r / r.sum(), c / c.sum()
    r, c = np.where(r == 0, 1e-6, r), np.where(c == 0, 1e-6, c)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_no_floor(reference, current, bins=10):
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        edges = np.quantile(reference, np.linspace(0, 1, bins + 1))
        edges[0], edges[-1] = -np.inf, np.inf
        r, _ = np.histogram(reference, edges)
        c, _ = np.histogram(current, edges)
    else:
        r, c = _labels_counts(reference, current)
    r, c = r / r.sum(), c / c.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum((c - r) * np.log(c / r)))


def psi_own_bins(reference, current, bins=10):
    """Each sample histogrammed on its own range."""
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        r, _ = np.histogram(reference, bins=bins)
        c, _ = np.histogram(current, bins=bins)
    else:
        r, c = _labels_counts(reference, current)
    return _floored(r, c)


def psi_current_quantiles(reference, current, bins=10):
    """Edges from the current window's deciles."""
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        edges = np.quantile(current, np.linspace(0, 1, bins + 1)[1:-1])
        r = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=bins)
        c = np.bincount(np.searchsorted(edges, current, side="right"), minlength=bins)
    else:
        r, c = _labels_counts(reference, current)
    return _floored(r, c)


def psi_histogram_drops(reference, current, bins=10):
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        r, edges = np.histogram(reference, bins=bins)
        c, _ = np.histogram(current, bins=edges)
    else:
        r, c = _labels_counts(reference, current)
    return _floored(r, c)


def psi_kl(reference, current, bins=10):
    reference, current = _samples(reference, current)
    r, c = (_decile_counts(reference, current, bins) if pd.api.types.is_numeric_dtype(reference)
            else _labels_counts(reference, current))
    r, c = np.clip(r / r.sum(), 1e-4, None), np.clip(c / c.sum(), 1e-4, None)
    return float(np.sum(c * np.log(c / r)))


def psi_positional(reference, current, bins=10):
    """Categorical shares compared by position (value_counts sorts by frequency)."""
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        return psi_quantile(reference, current, bins)
    r = reference.value_counts(normalize=True).to_numpy()
    c = current.value_counts(normalize=True).to_numpy()
    k = max(len(r), len(c))
    r, c = np.clip(np.resize(np.r_[r, np.zeros(k)], k), 1e-4, None), np.clip(np.resize(np.r_[c, np.zeros(k)], k), 1e-4, None)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_codes(reference, current, bins=10):
    """Categorical codes of each sample's own category list."""
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        return psi_quantile(reference, current, bins)
    rc, cc = reference.astype("category").cat.codes, current.astype("category").cat.codes
    k = int(max(rc.max(), cc.max())) + 1
    return _floored(np.bincount(rc, minlength=k), np.bincount(cc, minlength=k))


def psi_reference_categories(reference, current, bins=10):
    """Categories of the reference only: a new category disappears."""
    reference, current = _samples(reference, current)
    if pd.api.types.is_numeric_dtype(reference):
        return psi_quantile(reference, current, bins)
    r = reference.astype(str).value_counts(normalize=True)
    c = current.astype(str).value_counts(normalize=True).reindex(r.index, fill_value=0)
    r, c = np.clip(r.to_numpy(), 1e-4, None), np.clip(c.to_numpy() / c.sum(), 1e-4, None)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_numbers_only(reference, current, bins=10):
    edges = np.quantile(np.asarray(reference, dtype=float), np.linspace(0, 1, bins + 1))[1:-1]
    r = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=bins) / len(reference)
    c = np.bincount(np.searchsorted(edges, current, side="right"), minlength=bins) / len(current)
    r, c = np.clip(r, 1e-4, None), np.clip(c, 1e-4, None)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_chi_square(reference, current, bins=10):
    """A chi-square-like distance instead of PSI."""
    reference, current = _samples(reference, current)
    r, c = (_decile_counts(reference, current, bins) if pd.api.types.is_numeric_dtype(reference)
            else _labels_counts(reference, current))
    r, c = np.clip(r / r.sum(), 1e-4, None), np.clip(c / c.sum(), 1e-4, None)
    return float(np.sum((c - r) ** 2 / r))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("psi", [psi_quantile, psi_equal_width_laplace, psi_infinite_edges])
def test_every_allowed_psi_passes(psi, seed):
    assert drift.psi_function(psi, seed=seed).status == PASSED


@pytest.mark.parametrize("psi, misconception", [
    (psi_numbers_only, "categorical_not_handled"),
    (psi_no_floor, "zero_bins_inf"),
    (psi_own_bins, "bins_recomputed"),
    (psi_current_quantiles, "bins_recomputed"),
    (psi_histogram_drops, "out_of_range_dropped"),
    (psi_kl, "kl_not_psi"),
    (psi_positional, "categories_misaligned"),
    (psi_codes, "categories_misaligned"),
    (psi_reference_categories, "new_category_ignored"),
    (psi_chi_square, "wrong_psi"),
])
@pytest.mark.parametrize("seed", [0, 40_417, 3])
def test_psi_mistakes_are_named(psi, misconception, seed):
    expect_misconception(drift.psi_function(psi, seed=seed), misconception)


def test_planted_psi_ids():
    # literal ids for the coverage test (the parametrized cases above run the same answers)
    expect_misconception(drift.psi_function(psi_numbers_only), "categorical_not_handled")
    expect_misconception(drift.psi_function(psi_no_floor), "zero_bins_inf")
    expect_misconception(drift.psi_function(psi_own_bins), "bins_recomputed")
    expect_misconception(drift.psi_function(psi_histogram_drops), "out_of_range_dropped")
    expect_misconception(drift.psi_function(psi_kl), "kl_not_psi")
    expect_misconception(drift.psi_function(psi_positional), "categories_misaligned")
    expect_misconception(drift.psi_function(psi_reference_categories), "new_category_ignored")
    expect_misconception(drift.psi_function(psi_chi_square), "wrong_psi")


def test_psi_stub_and_a_crash():
    assert drift.psi_function(None).status == NOT_ATTEMPTED

    def broken(reference, current, bins=10):
        raise ValueError("oops")
    assert drift.psi_function(broken).status == ERROR


def test_reference_psi_matches_the_narrative():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 1, 200_000)
    for mu, ratio in ((0.5, 0.95), (1.0, 0.93)):
        # analytic 10-decile PSI / mu^2: 0.951 at mu 0.5, 0.926 at mu 1; the 200,000-row estimate is within 0.01
        assert drift.reference_psi(r, rng.normal(mu, 1, 200_000)) / mu**2 == pytest.approx(ratio, abs=0.015)
    # crossing 0.25 needs about half a standard deviation: 0.5 SD gives 0.238, 0.55 SD 0.29
    assert drift.reference_psi(r, rng.normal(0.5, 1, 200_000)) < 0.25 < drift.reference_psi(r, rng.normal(0.55, 1, 200_000))


# ---------------------------------------------------------------- shift statistics


def shift_good(mu, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, n), rng.normal(mu, 1, n)
    return {"psi": psi_quantile(a, b), "ks": ks_2samp(a, b).statistic, "w1": wasserstein_distance(a, b)}


def shift_by_hand(mu, n=100_000, seed=0):
    """Correct but unusual: ECDF gap and the mean of sorted differences by hand, equal-width PSI, a pd.Series."""
    rng = np.random.default_rng(seed)
    a, b = np.sort(rng.normal(0, 1, n)), np.sort(rng.normal(mu, 1, n))
    grid = np.r_[a, b]
    gap = np.abs(np.searchsorted(a, grid, side="right") / n - np.searchsorted(b, grid, side="right") / n).max()
    return pd.Series({"psi": psi_equal_width_laplace(a, b), "ks": gap, "w1": np.mean(np.abs(a - b))})


MU = 0.5


def shift_global_mu(mu, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, n), rng.normal(MU, 1, n)
    return {"psi": psi_quantile(a, b), "ks": ks_2samp(a, b).statistic, "w1": wasserstein_distance(a, b)}


def shift_pvalue(mu, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, n), rng.normal(mu, 1, n)
    return {"psi": psi_quantile(a, b), "ks": ks_2samp(a, b).pvalue, "w1": wasserstein_distance(a, b)}


def shift_energy(mu, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, n), rng.normal(mu, 1, n)
    return {"psi": psi_quantile(a, b), "ks": ks_2samp(a, b).statistic, "w1": energy_distance(a, b)}


def shift_scaled_ks(mu, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, n), rng.normal(mu, 1, n)
    return {"psi": psi_quantile(a, b), "ks": ks_2samp(a, b).statistic * np.sqrt(n / 2),
            "w1": wasserstein_distance(a, b)}


def shift_own_bins(mu, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, n), rng.normal(mu, 1, n)
    return {"psi": psi_own_bins(a, b), "ks": ks_2samp(a, b).statistic, "w1": wasserstein_distance(a, b)}


def shift_tuple(mu, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, n), rng.normal(mu, 1, n)
    return psi_quantile(a, b), ks_2samp(a, b).statistic, wasserstein_distance(a, b)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fn", [shift_good, shift_by_hand])
def test_every_allowed_shift_statistics_passes(fn, seed):
    assert drift.shift_function(fn, mus=(0.3, 0.7, 1.0), seed=1_000 * seed).status == PASSED


def test_shift_mistakes_are_named():
    expect_misconception(drift.shift_function(shift_tuple), "missing_statistic")
    expect_misconception(drift.shift_function(shift_global_mu), "ignores_mu")
    expect_misconception(drift.shift_function(shift_pvalue), "ks_pvalue_not_statistic")
    expect_misconception(drift.shift_function(shift_energy), "w1_off")
    expect_misconception(drift.shift_function(shift_scaled_ks), "ks_off")
    expect_misconception(drift.shift_function(shift_own_bins), "psi_off")


def test_closed_forms():
    assert drift.theory(0.5)["ks"] == pytest.approx(0.1974, abs=1e-4)
    assert drift.theory(1.0) == {"psi": 1.0, "ks": pytest.approx(2 * norm.cdf(0.5) - 1), "w1": 1.0}
    # the symmetric KL divergence of N(mu, 1) and N(0, 1) is mu^2: check by numerical integration
    x = np.linspace(-12, 12, 200_001)
    p, q = norm.pdf(x, 0.7), norm.pdf(x)
    assert np.trapezoid((p - q) * np.log(p / q), x) == pytest.approx(0.49, abs=1e-6)


# ---------------------------------------------------------------- n = 10^6


def test_big_n_figures_and_mistakes():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 1_000_000), rng.normal(0.02, 1, 1_000_000)
    ks = ks_2samp(a, b, method="asymp")
    assert ks.pvalue < 1e-20 and 0.006 < ks.statistic < 0.011
    v = psi_quantile(a, b)
    assert v < 0.001
    assert drift.big_n({"ks_pvalue": ks.pvalue, "psi": v, "alert": False}).status == PASSED
    assert drift.big_n({"ks_pvalue": None, "psi": None, "alert": None}).status == NOT_ATTEMPTED
    expect_misconception(drift.big_n([ks.pvalue, v, False]), "not_a_dict")
    expect_misconception(drift.big_n({"ks_pvalue": ks.statistic, "psi": v, "alert": False}), "statistic_as_pvalue")
    expect_misconception(drift.big_n({"ks_pvalue": ks.pvalue, "psi": v, "alert": True}), "pvalue_alarm")
    expect_misconception(drift.big_n({"ks_pvalue": 0.31, "psi": v, "alert": False}), "wrong_pvalue")
    expect_misconception(drift.big_n({"ks_pvalue": ks.pvalue, "psi": 0.4, "alert": False}), "wrong_big_n_psi")


# ---------------------------------------------------------------- drift table and alert rule


def _pvalue(r, c):
    if pd.api.types.is_numeric_dtype(r):
        return ks_2samp(r, c, method="asymp").pvalue
    return chi2_contingency(np.array(_labels_counts(r, c))).pvalue


_TABLES: dict[tuple, pd.DataFrame] = {}


def make_table(psi=psi_quantile, previous=False):
    """A learner's drift_table. It is a pure function of the stream it is given, so each hidden stream's table is
    computed once per test process and handed out as a copy: the tests below try several rules on the same
    tables, and the table, not the rule, is what costs (~0.6 s a seed)."""
    def drift_table(frame, features, reference_windows):
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame).to_numpy().tobytes()).hexdigest()
        key = (psi, previous, digest, tuple(frame.columns), tuple(features), reference_windows)
        if key not in _TABLES:
            _TABLES[key] = compute(frame, features, reference_windows)
        return _TABLES[key].copy()

    def compute(frame, features, reference_windows):
        rows = []
        windows = sorted(frame["window"].unique())
        reference = frame[frame["window"] < reference_windows]
        for window in windows:
            if window < reference_windows:
                continue
            ref = frame[frame["window"] == window - 1] if previous else reference
            cur = frame[frame["window"] == window]
            for f in features:
                r, c = ref[f].dropna(), cur[f].dropna()
                rows.append({"feature": f, "window": window, "psi": psi(r, c), "pvalue": _pvalue(r, c)})
        return pd.DataFrame(rows)
    return drift_table


def rule_solution(table):
    return table.assign(alert=(table["psi"] >= 0.1) & (table["pvalue"] < 0.01))


def rule_psi_only(table):
    """Correct but unusual: effect size alone at the 0.2 level, returned as a boolean mask."""
    return table["psi"] > 0.2


def rule_pvalue(table):
    return table.assign(alert=table["pvalue"] < 0.01)


def rule_loose(table):
    return table.assign(alert=table["psi"] > 0.009)


def rule_strict(table):
    return table.assign(alert=table["psi"] > 1.5)


def rule_features(table):
    return sorted(table.loc[table["psi"] > 0.1, "feature"].unique())


@pytest.mark.parametrize("seed", SEEDS)
def test_every_allowed_alert_rule_passes(seed):
    table = make_table()
    assert drift.alert_function(table, rule_solution, seed=seed).status == PASSED
    assert drift.alert_function(make_table(psi_equal_width_laplace), rule_psi_only, seed=seed).status == PASSED


def rule_loose_psi_only(table):
    """An effect-size rule with its threshold at the noise level: it fires at large n as well, but not because of
    p-values."""
    return table.assign(alert=table["psi"] > 0.005)


@pytest.mark.parametrize("seed", [0, 9_173, 246_813, 5])
def test_a_threshold_at_the_noise_level_is_called_loose_on_every_seed(seed):
    table = make_table()
    expect_misconception(drift.alert_function(table, rule_loose, seed=seed), "false_alarms")
    expect_misconception(drift.alert_function(table, rule_loose_psi_only, seed=seed), "false_alarms")
    expect_misconception(drift.alert_function(table, rule_pvalue, seed=seed), "pvalues_alone")


def test_alert_mistakes_are_named():
    table = make_table()
    expect_misconception(drift.alert_function(table, rule_features), "no_alert_table")
    expect_misconception(drift.alert_function(table, rule_pvalue), "pvalues_alone")
    expect_misconception(drift.alert_function(make_table(previous=True), rule_solution), "compared_with_previous")
    expect_misconception(drift.alert_function(make_table(psi_positional), rule_solution), "categories_misaligned")
    expect_misconception(drift.alert_function(table, rule_loose), "false_alarms")
    expect_misconception(drift.alert_function(table, rule_strict), "missed_drift")
    assert drift.alert_function(None, None).status == NOT_ATTEMPTED


# ---------------------------------------------------------------- findings


GOOD_FINDINGS = {
    "tenure_months": {"kind": "drift", "onset": 7},
    "support_calls_90d": {"kind": "pipeline_bug", "onset": 9},
    "contract": {"kind": "drift", "onset": 11},
    "monthly_charges": {"kind": "pipeline_bug", "onset": 13},
}


def _with(**changes):
    out = {k: dict(v) for k, v in GOOD_FINDINGS.items()}
    for key, value in changes.items():
        if value is None:
            out.pop(key)
        else:
            out[key] = value
    return out


def test_findings_match_the_case_truth():
    assert drift.findings(GOOD_FINDINGS).status == PASSED
    spelled = {"tenure_months": {"kind": "covariate shift", "onset": 7.0},
               "support_calls_90d": {"kind": "Data quality", "onset": 9},
               "contract": {"kind": "drift", "onset": 12},
               "monthly_charges": {"kind": "stale join", "onset": 13}}
    assert drift.findings(spelled).status == PASSED
    assert drift.findings({}).status == NOT_ATTEMPTED
    expect_misconception(drift.findings(["tenure_months"]), "not_a_dict")
    expect_misconception(drift.findings(_with(contract={"kind": "shift", "onset": 11})), "unknown_kind")
    expect_misconception(drift.findings(_with(support_calls_90d={"kind": "drift", "onset": 9})), "bug_called_drift")
    expect_misconception(drift.findings(_with(monthly_charges=None)), "stale_join_missed")
    expect_misconception(drift.findings(_with(contract={"kind": "pipeline_bug", "onset": 11})), "drift_called_bug")
    expect_misconception(drift.findings(_with(tenure_months=None)), "missed_feature")
    expect_misconception(drift.findings(_with(internet_service={"kind": "drift", "onset": 16})),
                         "unchanged_feature_listed")
    expect_misconception(drift.findings(_with(tenure_months={"kind": "drift", "onset": 4})), "wrong_onset")


def test_case_stream_shows_what_the_narrative_says():
    s = datasets.make_production_stream(**drift.CASE)
    f = s.frame
    table = make_table()(f, s.features, 4)
    alerts = rule_solution(table)
    flagged = alerts[alerts["alert"]].groupby("feature")["window"].agg(["min", "max", "count"])
    assert flagged.to_dict("index") == {"contract": {"min": 11, "max": 19, "count": 9},
                                        "tenure_months": {"min": 7, "max": 19, "count": 13}}
    # support calls: 30 % missing from week 9 (SE 0.01 per week); monthly charges: every value repeats week 12's
    null = f.groupby("window")["support_calls_90d"].apply(lambda c: c.isna().mean())
    assert (null[:9] == 0).all() and (null[9:] - 0.3).abs().max() < 0.04
    charges = [set(g) for _, g in f.groupby("window")["monthly_charges"]]
    repeated = [pd.Series(list(charges[w])).isin(charges[w - 1]).mean() for w in range(1, 20)]
    assert max(repeated[:11]) < 0.35 and repeated[12] == 1.0  # repeated[i] is week i + 1: week 13 is index 12
    perf = s.truth.performance.set_index("window")["auc"]
    # AUC holds through the tenure drift (within 4 SE ~ 0.03 of the reference), falls at 13 and again at 16
    assert abs(perf[7:9].mean() - perf[:4].mean()) < 0.03
    assert perf[13:16].mean() < perf[4:11].mean() - 0.05 and perf[16:].mean() < perf[13:16].mean() - 0.02


def test_dashboard_returns_none_and_names_missing_columns():
    s = datasets.make_production_stream(8, random_state=1)
    perf = s.truth.performance
    assert plots_monitoring.monitoring_dashboard(perf, drift="mean_score", performance=["auc", "expected_auc"],
                                                 alerts={"alert": [5, 6]}, reference_windows=4,
                                                 thresholds={"x": 0.2}, events={"onset": 5}) is None
    assert plots_monitoring.monitoring_dashboard(perf, performance="auc", alerts=[6]) is None
    with pytest.raises(KeyError, match="no column"):
        plots_monitoring.monitoring_dashboard(perf, drift="psi")
    with pytest.raises(ValueError):
        plots_monitoring.monitoring_dashboard(perf)


# ---------------------------------------------------------------- domain classifier


def domain_tree(reference, current, features, seed=0):
    X = pd.get_dummies(pd.concat([reference[features], current[features]], ignore_index=True), dtype=float).fillna(-1)
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    proba = cross_val_predict(DecisionTreeClassifier(max_depth=5, min_samples_leaf=50, random_state=seed), X, y,
                              cv=StratifiedKFold(5, shuffle=True, random_state=seed), method="predict_proba")[:, 1]
    return roc_auc_score(y, proba)


def domain_forest_holdout(reference, current, features):
    """Correct but unusual: a random forest scored on a held-out 30 %."""
    X = pd.get_dummies(pd.concat([reference[features], current[features]], ignore_index=True), dtype=float).fillna(-1)
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    forest = RandomForestClassifier(n_estimators=60, min_samples_leaf=20, n_jobs=1, random_state=0).fit(X_tr, y_tr)
    return roc_auc_score(y_te, forest.predict_proba(X_te)[:, 1])


def domain_all_columns(reference, current, features):
    X = pd.get_dummies(pd.concat([reference, current], ignore_index=True).drop(columns="timestamp"), dtype=float)
    return domain_tree(X.iloc[: len(reference)], X.iloc[len(reference):], list(X.columns))


def domain_in_sample(reference, current, features):
    X = pd.get_dummies(pd.concat([reference[features], current[features]], ignore_index=True), dtype=float).fillna(-1)
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    tree = DecisionTreeClassifier(max_depth=12, random_state=0).fit(X, y)
    return roc_auc_score(y, tree.predict_proba(X)[:, 1])


def domain_wrong_class(reference, current, features):
    X = pd.get_dummies(pd.concat([reference[features], current[features]], ignore_index=True), dtype=float).fillna(-1)
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    proba = cross_val_predict(DecisionTreeClassifier(max_depth=5, min_samples_leaf=50, random_state=0), X, y, cv=5,
                              method="predict_proba")[:, 0]
    return roc_auc_score(y, proba)


def domain_logistic(reference, current, features):
    X = pd.get_dummies(pd.concat([reference[features], current[features]], ignore_index=True), dtype=float).fillna(0)
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    proba = cross_val_predict(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                              method="predict_proba")[:, 1]
    return roc_auc_score(y, proba)


def domain_model(reference, current, features):
    return DecisionTreeClassifier()


@pytest.mark.parametrize("seed", SEEDS)
def test_every_allowed_domain_classifier_passes(seed):
    assert drift.domain_function(domain_tree, seed=seed).status == PASSED
    assert drift.domain_function(domain_forest_holdout, seed=seed).status == PASSED


def test_domain_mistakes_are_named():
    expect_misconception(drift.domain_function(domain_model), "not_an_auc")
    expect_misconception(drift.domain_function(domain_all_columns), "used_time_columns")
    expect_misconception(drift.domain_function(domain_in_sample), "in_sample_auc")
    expect_misconception(drift.domain_function(domain_wrong_class), "misses_shift")
    expect_misconception(drift.domain_function(domain_logistic), "misses_joint_shift")


# ---------------------------------------------------------------- decision


GOOD_DECISION = {"support_calls_nulls": "fix_pipeline", "tenure_shift": "check_performance",
                 "auc_drop_window_16": "concept_drift", "alert_basis": "effect_size_and_significance"}


def test_decision():
    assert drift.decision(GOOD_DECISION).status == PASSED
    assert drift.decision({**GOOD_DECISION, "alert_basis": "effect size"}).status == PASSED
    assert drift.decision(dict.fromkeys(GOOD_DECISION)).status == NOT_ATTEMPTED
    expect_misconception(drift.decision(["fix_pipeline"]), "not_a_dict")
    expect_misconception(drift.decision({**GOOD_DECISION, "tenure_shift": None}), "missing_key")
    expect_misconception(drift.decision({**GOOD_DECISION, "support_calls_nulls": "retrain_model"}),
                         "decision_support_calls_nulls")
    expect_misconception(drift.decision({**GOOD_DECISION, "tenure_shift": "retrain_immediately"}),
                         "decision_tenure_shift")
    expect_misconception(drift.decision({**GOOD_DECISION, "auc_drop_window_16": "covariate_shift"}),
                         "decision_auc_drop_window_16")
    expect_misconception(drift.decision({**GOOD_DECISION, "alert_basis": "p_value"}), "decision_alert_basis")
    expect_misconception(drift.decision({**GOOD_DECISION, "alert_basis": "gut_feeling"}), "unknown_choice")
