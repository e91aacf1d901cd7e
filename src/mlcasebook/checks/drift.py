"""Checks for the drift detection case (04_monitoring/drift_detection).

The case: a churn model scored weekly on ``datasets.make_production_stream(20, reference_windows=4,
drifts="drift_detection", random_state=0)``. Reference figures: for a Gaussian mean shift of mu standard
deviations, PSI ~ mu^2 (10 reference-quantile bins keep 95 % of it at mu = 0.5, 93 % at mu = 1), KS = 2 Phi(mu/2) - 1,
W1 = |mu|; at n = 10^6 per sample a shift of 0.02 SD has KS p ~ 1e-29 but PSI ~ 0.0004.

The learner writes procedures (``psi``, ``shift_statistics``, ``drift_table`` + ``alert_rule``, ``domain_auc``);
hidden tests call them on inputs built here from a seed the hidden cell passes, each input built so that a known
bug gives a visibly different answer. Messages name the mistake, never a hidden input, seed or expected value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from scipy.stats import norm

from mlcasebook.checks.cases_cache import shared
from mlcasebook.checks.decisions import decide, decision_ladder, normalise_choice
from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, check, is_stub, not_attempted

CASE = {"n_windows": 20, "reference_windows": 4, "drifts": "drift_detection", "random_state": 0}
PSI_EPS = 1e-4  # the reference implementation's floor for an empty bin's share

# ---------------------------------------------------------------- reference PSI (the check's own, several schemes)


def _is_numeric(values) -> bool:
    return pd.api.types.is_numeric_dtype(pd.Series(values))


def _shares(counts: np.ndarray) -> np.ndarray:
    return counts / max(counts.sum(), 1)


def _psi_from_shares(r: np.ndarray, c: np.ndarray, eps: float = PSI_EPS) -> float:
    r, c = np.clip(r, eps, None), np.clip(c, eps, None)
    return float(np.sum((c - r) * np.log(c / r)))


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin for interior ``edges`` (outer bins open: nothing falls outside)."""
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def _edges(basis: np.ndarray, bins: int, scheme: str) -> np.ndarray:
    if scheme == "quantile":
        return np.unique(np.quantile(basis, np.linspace(0, 1, bins + 1))[1:-1])
    return np.linspace(basis.min(), basis.max(), bins + 1)[1:-1]


def reference_psi(reference, current, bins: int = 10, scheme: str = "quantile") -> float:
    """PSI with bins fixed on the reference (``quantile`` or ``equal`` width, outer bins open); categories by label."""
    r, c = pd.Series(reference).dropna(), pd.Series(current).dropna()
    if not _is_numeric(r):
        labels = sorted(set(r.astype(str)) | set(c.astype(str)))
        rc = r.astype(str).value_counts().reindex(labels, fill_value=0).to_numpy()
        cc = c.astype(str).value_counts().reindex(labels, fill_value=0).to_numpy()
        return _psi_from_shares(_shares(rc), _shares(cc))
    r, c = r.to_numpy(float), c.to_numpy(float)
    edges = _edges(r, bins, scheme)
    return _psi_from_shares(_shares(_bin(r, edges)), _shares(_bin(c, edges)))


def _recomputed_variants(r: np.ndarray, c: np.ndarray, bins: int) -> list[float]:
    """What PSI gives when the bins move with the current data: each sample its own bins, or edges from the
    current sample, or from the pooled data."""
    out = []
    for scheme in ("quantile", "equal"):
        own = _psi_from_shares(_shares(_bin(r, _edges(r, bins, scheme))), _shares(_bin(c, _edges(c, bins, scheme))))
        out.append(own)
        for basis in (c, np.r_[r, c]):
            edges = _edges(basis, bins, scheme)
            out.append(_psi_from_shares(_shares(_bin(r, edges)), _shares(_bin(c, edges))))
    for basis in (c, np.r_[r, c]):  # np.histogram with the range of the current or pooled data
        lo, hi = basis.min(), basis.max()
        rc, _ = np.histogram(r, bins=bins, range=(lo, hi))
        cc, _ = np.histogram(c, bins=bins, range=(lo, hi))
        out.append(_psi_from_shares(_shares(rc), _shares(cc)))
    return out


def _dropped_variants(r: np.ndarray, c: np.ndarray, bins: int) -> list[float]:
    """Equal-width bins over the reference range, with the current values outside it not counted."""
    counts_r, edges = np.histogram(r, bins=bins)
    counts_c, _ = np.histogram(c, bins=edges)
    return [_psi_from_shares(_shares(counts_r), _shares(counts_c)),
            _psi_from_shares(_shares(counts_r), counts_c / len(c))]


def _kl_variants(r, c, bins: int) -> list[float]:
    out = []
    for scheme in ("quantile", "equal"):
        if _is_numeric(r):
            edges = _edges(np.asarray(r, float), bins, scheme)
            rs, cs = _shares(_bin(np.asarray(r, float), edges)), _shares(_bin(np.asarray(c, float), edges))
        else:
            labels = sorted(set(map(str, r)) | set(map(str, c)))
            rs = _shares(pd.Series(r).astype(str).value_counts().reindex(labels, fill_value=0).to_numpy())
            cs = _shares(pd.Series(c).astype(str).value_counts().reindex(labels, fill_value=0).to_numpy())
        rs, cs = np.clip(rs, PSI_EPS, None), np.clip(cs, PSI_EPS, None)
        out += [float(np.sum(cs * np.log(cs / rs))), float(np.sum(rs * np.log(rs / cs)))]
    return out


def _close(got: float, want: float) -> bool:
    """Implementations that bin on the reference differ only in ties at the edges and the empty-bin floor:
    at 5,000 rows a point moving bin changes a share by 0.0002; 8 % relative + 0.003 absolute holds them all."""
    return bool(np.isfinite(got)) and abs(got - want) <= 0.08 * abs(want) + 0.003


def _accepted(r, c, bins: int) -> list[float]:
    if not _is_numeric(r):
        return [reference_psi(r, c, bins)]
    return [reference_psi(r, c, k, scheme) for scheme in ("quantile", "equal") for k in (bins - 1, bins, bins + 1)]


# ---------------------------------------------------------------- psi


def psi_cases(seed: int, n: int = 5_000) -> dict[str, tuple]:
    """Reference/current pairs, each built so that one known bug gives a visibly different PSI."""
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, n)
    mu = rng.uniform(0.5, 0.8)
    beyond = rng.normal(0, 1, n)
    beyond[: int(0.3 * n)] = ref.max() + rng.uniform(0.5, 2.0, int(0.3 * n))  # 30 % beyond the reference's range
    letters = np.array(["alpha", "bravo", "charlie"])
    p = np.array([0.5, 0.3, 0.2])
    cat_ref = rng.choice(letters, n, p=p)
    cat_cur = rng.choice(letters, n, p=p[::-1])  # frequency order reversed
    same_cats = rng.choice(letters, n, p=p)
    new_cur = np.where(rng.random(n) < 0.1, "delta", rng.choice(letters, n, p=p))
    return {
        "no_drift": (ref, rng.normal(0, 1, n)),
        "mean_shift": (ref, rng.normal(mu, 1, n)),
        "beyond_range": (ref, beyond),
        "empty_bins": (ref, rng.normal(3.2, 0.15, n)),
        "categorical": (pd.Series(cat_ref, dtype=object), pd.Series(cat_cur, dtype=object)),
        "category_order": (pd.Series(pd.Categorical(cat_ref, categories=list(letters))),
                           pd.Series(pd.Categorical(same_cats, categories=list(letters[::-1])))),
        "new_category": (pd.Series(cat_ref, dtype=object), pd.Series(new_cur, dtype=object)),
    }


_CATEGORICAL_CASES = ("categorical", "category_order", "new_category")
_FINITE_ONLY = ("empty_bins", "new_category")  # the value depends on the empty-bin floor; it must be finite and large

PSI_FUNCTION = Ladder(
    Misconception("categorical_not_handled", lambda e: e.categorical_raised,
                  "Your psi works on numbers but raises on a categorical feature ({e.raised}): a categorical "
                  "feature has no quantiles or ranges, its bins are its categories."),
    Misconception("zero_bins_inf", lambda e: e.not_finite,
                  "Your psi returns inf or nan when a bin is empty in one of the two samples: an empty bin makes "
                  "the log of a zero share blow up, so one unlucky bin decides the whole statistic; give empty bins "
                  "a small floor (or a smoothed count) before taking logs."),
    Misconception("bins_recomputed", lambda e: e.recomputed,
                  "Your psi moves its bin edges with the current data (its own quantiles or range, or the pooled "
                  "data), so the bins follow the drift they should measure and a clear shift scores near zero or "
                  "changes with every window; compute the edges once from the reference and keep them."),
    Misconception("out_of_range_dropped", lambda e: e.dropped,
                  "Your psi does not count current values that fall outside the reference's range (np.histogram "
                  "drops them), so the most drifted rows vanish from the statistic; make the outer bins open-ended."),
    Misconception("kl_not_psi", lambda e: e.kl,
                  "Your psi sums one direction of the log ratio only (a Kullback-Leibler divergence), which is not "
                  "the population stability index and is smaller than it."),
    Misconception("categories_misaligned", lambda e: e.categories_wrong,
                  "Your psi is right on numeric features but not on categorical ones whose categories come in "
                  "another order: shares must be matched by category label, not by position (value_counts sorts by "
                  "frequency, category codes follow each sample's own category list)."),
    Misconception("new_category_ignored", lambda e: e.new_category_small,
                  "A category the reference never had, carrying a tenth of the current rows, barely moves your "
                  "psi: unseen categories are dropped, so a schema change goes unnoticed."),
    Misconception("wrong_psi", None,
                  "Your psi differs from the population stability index with bins fixed on the reference on {e.what}."),
    passed="Your psi bins on the reference, keeps every current value, handles empty bins and matches categories "
           "by label.",
)


def _call_psi(psi: Callable, r, c, bins: int) -> float:
    return float(psi(r.copy(), c.copy(), bins=bins))


_DESCRIBE = {"no_drift": "two samples of one distribution", "mean_shift": "a shifted sample",
             "beyond_range": "a sample partly beyond the reference's range", "empty_bins": "a sample with empty bins",
             "categorical": "a categorical sample", "category_order": "categories listed in another order",
             "new_category": "a sample with a new category"}


@check("PSI function", stub_hint="implement `psi(reference, current, bins=10)`", ladder=PSI_FUNCTION)
def psi_function(name: str, psi: Callable, *, seed: int = 0, bins: int = 10) -> CheckResult:
    """Call ``psi(reference, current, bins=bins)`` on :func:`psi_cases` and name the bug the answers show.

    Accepted: bins from the reference's quantiles or equal-width over its range (bins - 1 .. bins + 1 of them,
    outer bins open or current values clipped into the range), any floor or smoothing for empty bins (the
    empty-bin and new-category cases only need a finite value above 0.25, the rule-of-thumb alert level:
    their true shift is huge).
    """
    cases = psi_cases(seed)
    got, raised = {}, {}
    for key, (r, c) in cases.items():
        try:
            got[key] = _call_psi(psi, r, c, bins)
        except Exception as exc:  # noqa: BLE001 - which cases raise is the evidence
            raised[key] = type(exc).__name__
    numeric_raised = [k for k in raised if k not in _CATEGORICAL_CASES]
    if numeric_raised:  # a numeric failure is the learner's bug: report it as the error it is
        r, c = cases[numeric_raised[0]]
        _call_psi(psi, r, c, bins)
    e = Evidence(categorical_raised=bool(raised), raised=", ".join(sorted(set(raised.values()))))
    if raised:
        return PSI_FUNCTION.judge(name, e)
    ok = {k: _close(v, min(_accepted(*cases[k], bins), key=lambda a, v=v: abs(a - v))) for k, v in got.items()
          if k not in _FINITE_ONLY}
    ok.update({k: bool(np.isfinite(got[k]) and got[k] > 0.25) for k in _FINITE_ONLY})
    numeric_ok = all(ok[k] for k in ("no_drift", "mean_shift", "beyond_range"))
    rb, cb = cases["beyond_range"]
    e.not_finite = not all(np.isfinite(v) for v in got.values())
    e.recomputed = any(not ok[k] and any(_close(got[k], v) for v in _recomputed_variants(*cases[k], bins))
                       for k in ("mean_shift", "beyond_range"))
    e.dropped = ok["mean_shift"] and not ok["beyond_range"] and any(
        _close(got["beyond_range"], v) for v in _dropped_variants(rb, cb, bins))
    e.kl = not numeric_ok and all(any(_close(got[k], v) for v in _kl_variants(*cases[k], bins))
                                  for k in ("mean_shift", "beyond_range"))
    e.categories_wrong = numeric_ok and not (ok["categorical"] and ok["category_order"])
    e.new_category_small = numeric_ok and not ok["new_category"]
    e.correct = all(ok.values())
    wrong = [k for k in cases if not ok[k]]
    e.what = _DESCRIBE[wrong[0]] if wrong else "no case"
    return PSI_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- Gaussian mean shift

def theory(mu: float) -> dict[str, float]:
    """The closed forms for N(mu, 1) against N(0, 1): PSI ~ mu^2 (the symmetric KL divergence), KS, W1."""
    return {"psi": mu * mu, "ks": float(2 * norm.cdf(abs(mu) / 2) - 1), "w1": abs(mu)}


# Tolerances at n = 50,000 per sample. KS: the statistic's SD is below sqrt(2 F(1 - F) / n) <= 0.0032; 0.012 is
# ~4 SD. W1: the SD of the distance between two samples' quantile functions is ~ sqrt(2 / n) = 0.0063; 0.025 is
# ~4 SD. PSI: binning keeps 88-100 % of mu^2 for 8-20 reference-quantile or equal-width bins at mu <= 1 (the
# measured loss is 5 % at 10 quantile bins, mu = 0.5), plus sampling noise (k - 1)(2 / n) ~ 0.0004.
KS_TOL, W1_TOL = 0.012, 0.025
PSI_LOW, PSI_HIGH = 0.80, 1.06


def _stats(result) -> dict[str, float]:
    if isinstance(result, pd.Series):
        result = result.to_dict()
    return {k: float(result[k]) for k in ("psi", "ks", "w1")}


SHIFT_FUNCTION = Ladder(
    Misconception("missing_statistic", lambda e: e.missing,
                  "shift_statistics must return a dict with the keys psi, ks and w1; yours returned {e.got}."),
    Misconception("ignores_mu", lambda e: e.constant,
                  "Your shift_statistics returns the same numbers for different mean shifts: it does not draw the "
                  "current sample from the mu it is given."),
    Misconception("ks_pvalue_not_statistic", lambda e: e.ks_is_p,
                  "Your ks is the KS test's p-value, not its statistic: the relation with the mean shift is about "
                  "the largest gap between the two distribution functions, an effect size."),
    Misconception("w1_off", lambda e: not e.w1_ok,
                  "Your w1 does not follow the mean shift: for two samples that differ by a shift, the Wasserstein "
                  "distance is the size of the shift in the feature's own units."),
    Misconception("ks_off", lambda e: not e.ks_ok,
                  "Your ks does not follow the shift the way a two-sample Kolmogorov-Smirnov statistic does."),
    Misconception("psi_off", lambda e: not e.psi_ok,
                  "Your psi on the Gaussian samples strays from the closed-form relation by more than binning "
                  "explains: check the bins and the formula your shift_statistics uses."),
    passed="PSI, KS and W1 follow the closed forms on every shift tried.",
)


@check("Gaussian mean shift", stub_hint="implement `shift_statistics(mu, n, seed)`", ladder=SHIFT_FUNCTION)
def shift_function(name: str, shift_statistics: Callable, *, mus=(0.25, 0.5), n: int = 50_000,
                   seed: int = 0) -> CheckResult:
    """Call ``shift_statistics(mu, n=n, seed=...)`` for each mu (<= 1) and compare with :func:`theory`."""
    got = []
    for i, mu in enumerate(mus):
        out = shift_statistics(float(mu), n=int(n), seed=int(seed) + i)
        if not isinstance(out, Mapping | pd.Series) or any(k not in out for k in ("psi", "ks", "w1")):
            return SHIFT_FUNCTION.fail(name, "missing_statistic", Evidence(got=type(out).__name__ if not isinstance(
                out, Mapping) else "the keys " + ", ".join(map(str, out))))
        got.append(_stats(out))
    want = [theory(mu) for mu in mus]
    ks = np.array([g["ks"] for g in got])
    spread = np.ptp([w["w1"] for w in want])
    e = Evidence(missing=False, constant=len(mus) > 1 and spread > 0 and all(
        np.ptp([g[k] for g in got]) < 0.1 * np.ptp([w[k] for w in want]) for k in ("ks", "w1")),
        ks_is_p=bool(np.all(ks < 1e-3)),
        w1_ok=all(abs(g["w1"] - w["w1"]) <= W1_TOL for g, w in zip(got, want, strict=True)),
        ks_ok=all(abs(g["ks"] - w["ks"]) <= KS_TOL for g, w in zip(got, want, strict=True)),
        psi_ok=all(PSI_LOW * w["psi"] - 0.003 <= g["psi"] <= PSI_HIGH * w["psi"] + 0.003
                   for g, w in zip(got, want, strict=True)))
    e.correct = e.w1_ok and e.ks_ok and e.psi_ok
    return SHIFT_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- effect size vs significance at n = 10^6

# N(0, 1) vs N(0.02, 1), 10^6 each: KS D ~ 0.008 (SD 0.0007), p = exp(-2 (n/2) D^2) ~ 1e-28; even at D = 0.005
# (4 SD low) p < 1e-10, so 1e-6 holds. PSI ~ 0.0004 + (k - 1)(2 / n) ~ 0.0004; below 0.01 whatever the bins.
BIG_N = Ladder(
    Misconception("not_a_dict", lambda e: not e.is_dict,
                  "big_n must be a dict with the keys ks_pvalue, psi and alert."),
    Misconception("statistic_as_pvalue", lambda e: 0.005 < e.p < 0.011,  # D within 4 SD of 0.008 (above)
                  "Your ks_pvalue looks like the KS statistic (the gap between the two distribution functions), "
                  "not the test's p-value."),
    Misconception("pvalue_alarm", lambda e: e.alert,
                  "You would alert on this shift because its p-value is tiny, but the shift itself is trivial: at a "
                  "million rows a test detects differences far too small to matter, so significance alone is not "
                  "a reason to act."),
    Misconception("wrong_pvalue", lambda e: not e.p < 1e-6,
                  "Your ks_pvalue is not the two-sample KS p-value of the two samples drawn for this section."),
    Misconception("wrong_big_n_psi", lambda e: not 0 <= e.psi < 0.01,
                  "Your psi for this trivial shift is not the small number the two samples give."),
    passed="A p-value of {e.p:.0e} and a PSI of {e.psi:.4f}: certain, and too small to act on.",
)


@check("effect size vs significance", stub_hint="fill in `big_n` with the KS p-value, the PSI and your alert choice",
       ladder=BIG_N)
def big_n(name: str, big_n: dict) -> CheckResult:
    """The n = 10^6 lesson: a tiny p-value, a tiny PSI, and no alert."""
    if not isinstance(big_n, dict):
        return BIG_N.fail(name, "not_a_dict")
    if all(is_stub(big_n.get(k)) for k in ("ks_pvalue", "psi", "alert")):
        return not_attempted(name, "Not attempted yet: fill in `big_n`.")
    if any(is_stub(big_n.get(k)) for k in ("ks_pvalue", "psi", "alert")):
        return BIG_N.fail(name, "not_a_dict")
    return BIG_N.judge(name, Evidence(is_dict=True, p=float(big_n["ks_pvalue"]), psi=float(big_n["psi"]),
                                      alert=bool(big_n["alert"])))


# ---------------------------------------------------------------- drift table and alert rule

@shared(maxsize=2)
def alert_streams(seed: int) -> dict[str, object]:
    """A no-drift control; a stream with a sudden numeric shift, a categorical shift that changes the categories'
    frequency order and a gradual (ramped) shift; a stream of 20,000 rows a window with trivial shifts."""
    rng = np.random.default_rng(seed)
    s = [int(v) for v in rng.integers(0, 2**31, 4)]
    from mlcasebook.datasets import Drift, make_production_stream

    return {
        "control": make_production_stream(8, reference_windows=4, drifts=[], random_state=s[0]),
        "drifted": make_production_stream(11, reference_windows=4, random_state=s[1], drifts=[
            Drift("monthly_charges", "covariate", 6, float(rng.uniform(0.9, 1.2))),
            Drift("internet_service", "covariate", 7, float(rng.uniform(0.35, 0.45)), to="none"),
            Drift("tenure_months", "covariate", 5, -1.0, ramp=3)]),
        "large_n": make_production_stream(5, rows_per_window=20_000, reference_windows=2, random_state=s[2], drifts=[
            Drift("monthly_charges", "covariate", 2, 0.06), Drift("num_services", "covariate", 2, 0.08)]),
        # small windows, nothing drifting: a 10-bin PSI of 1,000 rows against 4,000 has a null mean of about
        # (bins - 1)(1/4,000 + 1/1,000) = 0.011 (SD ~0.005), so a threshold near the noise fires on most pairs
        "noisy_control": make_production_stream(16, rows_per_window=1_000, reference_windows=4, drifts=[],
                                                random_state=s[3]),
    }


def _alert_pairs(out, table) -> set[tuple[str, int]] | None:
    """(feature, window) pairs the learner's rule flags, from a frame with an ``alert`` column or a boolean mask."""
    if isinstance(out, pd.DataFrame):
        if not {"feature", "window", "alert"} <= set(out.columns):
            return None
        flagged = out[out["alert"].fillna(False).astype(bool)]
    else:
        mask = np.asarray(out, dtype=bool).ravel()
        if not isinstance(table, pd.DataFrame) or len(mask) != len(table) or not {"feature", "window"} <= set(table):
            return None
        flagged = table[mask]
    return {(str(f), int(w)) for f, w in zip(flagged["feature"], flagged["window"], strict=True)}


def _must_alert(stream, threshold: float = 0.3) -> set[tuple[str, int]]:
    """(feature, window) pairs whose drift is large: reference PSI >= 0.3 on the window's data."""
    f, ref_w = stream.frame, stream.truth.reference_windows
    ref = f[f["window"] < ref_w]
    out = set()
    for feature in stream.truth.drifts["feature"].dropna().unique():
        for w, cur in f[f["window"] >= ref_w].groupby("window"):
            if reference_psi(ref[feature], cur[feature]) >= threshold:
                out.add((feature, int(w)))
    return out


@shared(maxsize=2)
def _needed_alerts(seed: int) -> frozenset[tuple[str, int]]:
    """:func:`_must_alert` of the drifted stream of :func:`alert_streams` (fixed per seed: built once)."""
    return frozenset(_must_alert(alert_streams(seed)["drifted"]))


ALERT_FUNCTION = Ladder(
    Misconception("no_alert_table", lambda e: e.unusable,
                  "alert_rule(drift_table(...)) must give a table with the columns feature, window and a boolean "
                  "alert (or a boolean mask over the table's rows); yours gave {e.got}."),
    Misconception("pvalues_alone", lambda e: e.large_n_alerts > 0 and e.noise_rate < 0.1,
                  "On a stream with many rows a window, your rule raised alerts for shifts too small to matter: it "
                  "lets statistical significance decide, and at large n everything is significant; make the alert "
                  "depend on the size of the drift."),
    Misconception("compared_with_previous", lambda e: e.onset_only,
                  "Your alerts fire when a drift starts and then stop although the data stay drifted (a gradual "
                  "drift is never flagged): each window is compared with the window before it instead of with the "
                  "fixed reference period."),
    Misconception("categories_misaligned", lambda e: e.categorical_missed,
                  "Your rule catches the numeric drifts but misses a categorical feature whose category shares "
                  "changed order: its categories are matched by position, not by label."),
    Misconception("false_alarms", lambda e: e.false_alarms > 1,
                  "Your rule raised several alerts on features that did not drift (one is tolerated as chance): the "
                  "threshold is too loose for the noise of a window's sample."),
    Misconception("missed_drift", lambda e: e.recall < 0.9,
                  "Your rule missed more than one in ten of the windows in which a feature had clearly drifted (PSI "
                  "well above the rule-of-thumb alert level): the threshold is too strict, or the table does not "
                  "measure every feature against the reference."),
    passed="Your rule flags every clearly drifted feature-window, from the onset on, and stays quiet on noise and "
           "on trivial shifts at large n.",
)


@check("drift table and alert rule", stub_hint="implement `drift_table(frame, features, reference_windows)` and "
       "`alert_rule(table)`", ladder=ALERT_FUNCTION)
def alert_function(name: str, drift_table: Callable, alert_rule: Callable, *, seed: int = 0) -> CheckResult:
    """Run the learner's table and rule on :func:`alert_streams`.

    Must alert: (feature, window) pairs with reference PSI >= 0.3 (a drift well past the 0.1-0.25 rule of thumb);
    recall >= 0.9. Must not alert: features that did not drift, in the two controls and the drifted stream (one
    alert tolerated: a p < 0.01 rule sees ~1 chance alert in 100 pairs), and every pair of the large-n stream,
    whose shifts have PSI < 0.01 but KS p-values below 1e-10. Alerts at large n from a rule that stays quiet on the
    small-window control's noise (PSI ~0.011) come from p-values; a rule that fires on that noise is too loose.
    """
    if is_stub(alert_rule):
        return not_attempted(name, "Not attempted yet: implement `alert_rule(table)`.")
    pairs, needed = {}, set()
    for key, stream in alert_streams(seed).items():
        table = drift_table(stream.frame.copy(), list(stream.features), stream.truth.reference_windows)
        got = _alert_pairs(alert_rule(table), table)
        if got is None:
            return ALERT_FUNCTION.fail(name, "no_alert_table", Evidence(got=type(table).__name__))
        ref_w = stream.truth.reference_windows
        pairs[key] = {(f, w) for f, w in got if w >= ref_w}
        if key == "noisy_control":
            noise_pairs = len(stream.features) * (int(stream.frame["window"].max()) + 1 - ref_w)
        if key == "drifted":
            needed = set(_needed_alerts(seed))
            drifted_features = set(stream.truth.drifts["feature"])
    false = (len(pairs["control"]) + len(pairs["noisy_control"])
             + len({p for p in pairs["drifted"] if p[0] not in drifted_features}))
    hits = pairs["drifted"] & needed
    numeric_needed = {p for p in needed if p[0] != "internet_service"}
    cat_needed = needed - numeric_needed
    charges = sorted(w for f, w in pairs["drifted"] if f == "monthly_charges")
    charges_needed = sorted(w for f, w in needed if f == "monthly_charges")
    onset_only = bool(charges) and len(charges) <= 2 and len(charges_needed) >= 4 and charges[0] == charges_needed[0]
    e = Evidence(unusable=False, large_n_alerts=len(pairs["large_n"]), onset_only=onset_only,
                 noise_rate=len(pairs["noisy_control"]) / noise_pairs,
                 categorical_missed=bool(cat_needed) and len(pairs["drifted"] & numeric_needed) >= 0.9 * len(
                     numeric_needed) and len(pairs["drifted"] & cat_needed) < 0.5 * len(cat_needed),
                 false_alarms=false, recall=len(hits) / max(len(needed), 1), missed=len(needed - hits),
                 needed=len(needed))
    return ALERT_FUNCTION.judge(name, e)


# ---------------------------------------------------------------- findings: drift or pipeline bug


@shared(maxsize=1)
def case_truth() -> pd.DataFrame:
    from mlcasebook.datasets import make_production_stream

    return make_production_stream(**CASE).truth.drifts


_KINDS = {
    "drift": "drift", "covariate": "drift", "covariate_shift": "drift", "real_drift": "drift", "data_drift": "drift",
    "pipeline_bug": "bug", "bug": "bug", "data_quality": "bug", "null_rate": "bug", "stale_join": "bug",
    "pipeline": "bug", "quality": "bug",
}
_TRUE_KIND = {"covariate": "drift", "prior": "drift", "null_rate": "bug", "stale_join": "bug"}


def expected_findings() -> dict[str, tuple[str, int]]:
    t = case_truth()
    return {r.feature: (_TRUE_KIND[r.kind], int(r.start_window)) for r in t.itertuples() if r.kind in _TRUE_KIND}


FINDINGS = Ladder(
    Misconception("not_a_dict", lambda e: not e.is_dict,
                  "findings must be a dict: feature -> {{'kind': one of the two kinds in the text, 'onset': window}}."),
    Misconception("unknown_kind", lambda e: bool(e.unknown),
                  "For {e.unknown} the kind is not one of the two the text lists."),
    Misconception("bug_called_drift", lambda e: bool(e.bug_as_drift),
                  "You put the change in {e.bug_as_drift} down to the customers, but what the data-quality checks "
                  "show there (missing values, or values copied from an older week) is the data failing to describe "
                  "them: that is repaired where the data are produced, not by retraining."),
    Misconception("stale_join_missed", lambda e: e.stale_missed,
                  "One feature whose distribution looks unchanged was served frozen values from some week on, and "
                  "your findings miss it: PSI cannot see it; a freshness check (values repeated from an earlier "
                  "week) or the domain classifier on the features without alerts can."),
    Misconception("drift_called_bug", lambda e: bool(e.drift_as_bug),
                  "You blame the data for the change in {e.drift_as_bug}, but its values are complete, in range and "
                  "fresh: the customers themselves changed."),
    Misconception("missed_feature", lambda e: e.missed,
                  "Your findings miss a feature whose logged input clearly changed: look again at your alerts."),
    Misconception("unchanged_feature_listed", lambda e: bool(e.extra),
                  "Your findings list {e.extra}, whose logged input did not change (a change in how a feature relates "
                  "to churn does not show in the inputs)."),
    Misconception("wrong_onset", lambda e: bool(e.late),
                  "The onset you give for {e.late} is more than one week away from when the change shows."),
    passed="Two changes in the customers and two in the data, each with its onset.",
)


@check("drift or pipeline bug", stub_hint="fill in `findings`, one entry per feature whose input changed",
       ladder=FINDINGS)
def findings(name: str, findings: dict) -> CheckResult:
    """The case stream's changed inputs: kind (drift vs pipeline bug) and onset (within one window)."""
    if not isinstance(findings, dict):
        return FINDINGS.fail(name, "not_a_dict")
    if not findings:
        return not_attempted(name, "Not attempted yet: fill in `findings`.")
    want = expected_findings()
    got, unknown = {}, []
    for feature, entry in findings.items():
        if not isinstance(entry, Mapping) or "kind" not in entry or "onset" not in entry:
            return FINDINGS.fail(name, "not_a_dict")
        kind = _KINDS.get(normalise_choice(entry["kind"]))
        if kind is None:
            unknown.append(str(feature))
        got[str(feature)] = (kind, entry["onset"])
    truth = case_truth()
    stale = list(truth.loc[truth["kind"] == "stale_join", "feature"])
    e = Evidence(is_dict=True, unknown=", ".join(unknown),
                 bug_as_drift=", ".join(f for f, (k, _) in want.items() if k == "bug" and got.get(f, (None,))[0] == "drift"),
                 stale_missed=any(f not in got for f in stale),
                 drift_as_bug=", ".join(f for f, (k, _) in want.items() if k == "drift" and got.get(f, (None,))[0] == "bug"),
                 missed=any(f not in got for f in want if f not in stale),
                 extra=", ".join(f for f in got if f not in want),
                 late=", ".join(f for f, (_, w) in want.items() if f in got and not _onset_ok(got[f][1], w)))
    return FINDINGS.judge(name, e)


def _onset_ok(got, want: int) -> bool:
    try:
        return abs(float(got) - want) <= 1
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------- domain classifier


@shared(maxsize=2)
def domain_cases(seed: int) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, list[str]]]:
    """Reference and current frames (2,000 rows each, with the stream's timestamp, window, score and label columns
    left in): no drift; a mean shift; a stale join that keeps every marginal but breaks how features go together.
    Cached: the learner's function gets copies of the frames."""
    from mlcasebook.datasets import Drift, make_production_stream

    rng = np.random.default_rng(seed)
    s = [int(v) for v in rng.integers(0, 2**31, 4)]

    def split(stream, cur_window=1):
        f = stream.frame
        return f[f["window"] == 0].reset_index(drop=True), f[f["window"] == cur_window].reset_index(drop=True), \
            list(stream.features)

    return {
        "no_drift": split(make_production_stream(2, reference_windows=1, drifts=[], random_state=s[0])),
        "mean_shift": split(make_production_stream(2, reference_windows=1, random_state=s[1],
                                                   drifts=[Drift("monthly_charges", "covariate", 1, 0.5)])),
        "joint_shift": split(make_production_stream(2, reference_windows=1, random_state=s[2],
                                                    drifts=[Drift("monthly_charges", "stale_join", 1, 1.0)])),
    }


# AUC of a classifier that cannot tell the samples apart: 0.5 with SD sqrt((n1 + n2 + 1) / (12 n1 n2)) = 0.0065 at
# 2,000 + 2,000 rows, plus the noise of fitting; 0.56 is ~9 SD. A 0.5 SD mean shift gives ~0.64; a stale join of
# monthly_charges (its link with internet_service broken) gives 0.70-0.80 to trees, ~0.5 to an additive model.
NO_DRIFT_MAX, DRIFT_MIN = 0.56, 0.58

DOMAIN_FUNCTION = Ladder(
    Misconception("not_an_auc", lambda e: e.bad_value,
                  "domain_auc must return an AUC, a number between 0 and 1; yours returned {e.got}."),
    Misconception("used_time_columns", lambda e: e.auc["no_drift"] > NO_DRIFT_MAX and e.needs_other_columns,
                  "On two samples of the same population your domain classifier scores an AUC near 1: it uses "
                  "columns that say when a row was scored (window, timestamp) or its score and label, not only the "
                  "features it is given."),
    Misconception("in_sample_auc", lambda e: e.auc["no_drift"] > NO_DRIFT_MAX,
                  "On two samples of the same population your domain classifier finds a difference: its AUC is "
                  "measured on the rows it was trained on, so it rewards memorising noise; score rows the "
                  "classifier did not see (cross-validation or a held-out split)."),
    Misconception("misses_shift", lambda e: e.auc["mean_shift"] < DRIFT_MIN,
                  "Your domain classifier's AUC on a plain shift of one feature's mean is no better than chance, or "
                  "below it (is it scoring the probability of the wrong class?)."),
    Misconception("misses_joint_shift", lambda e: e.auc["joint_shift"] < DRIFT_MIN,
                  "Your domain classifier misses a change in how two features go together while each one's "
                  "distribution stays the same: a model that adds up one effect per feature cannot see it, one that "
                  "combines features (trees, interactions) can."),
    passed="Your domain classifier stays near 0.5 on no drift and sees both a shift and a broken joint distribution.",
)


@check("domain classifier", stub_hint="implement `domain_auc(reference, current, features)`", ladder=DOMAIN_FUNCTION)
def domain_function(name: str, domain_auc: Callable, *, seed: int = 0) -> CheckResult:
    """Call ``domain_auc(reference, current, features)`` on :func:`domain_cases`."""
    auc = {}
    for key, (r, c, features) in domain_cases(seed).items():
        value = domain_auc(r.copy(), c.copy(), list(features))
        try:
            auc[key] = float(value)
        except (TypeError, ValueError):
            return DOMAIN_FUNCTION.fail(name, "not_an_auc", Evidence(got=type(value).__name__))
        if not 0 <= auc[key] <= 1 or math.isnan(auc[key]):
            return DOMAIN_FUNCTION.fail(name, "not_an_auc", Evidence(  # the value, from hidden data, is not quoted
                got="nan" if math.isnan(auc[key]) else "a number outside that range"))
    e = Evidence(bad_value=False, auc=auc)
    e.lazy(needs_other_columns=lambda: _needs_other_columns(domain_auc, *domain_cases(seed)["no_drift"]))
    return DOMAIN_FUNCTION.judge(name, e)


def _needs_other_columns(domain_auc: Callable, r: pd.DataFrame, c: pd.DataFrame, features: list[str]) -> bool:
    """True when the no-drift AUC falls back to chance (or the function fails) once the frames hold only features."""
    try:
        return float(domain_auc(r[features].copy(), c[features].copy(), list(features))) <= NO_DRIFT_MAX
    except Exception:  # noqa: BLE001 - it cannot work without the other columns
        return True


# ---------------------------------------------------------------- decision

DECISION_CHOICES = {
    "support_calls_nulls": {"fix_pipeline"},
    "tenure_shift": {"check_performance"},
    "auc_drop_window_16": {"concept_drift"},
    "alert_basis": {"effect_size_and_significance", "effect_size"},
}
_DECISION_MISTAKES = {
    ("support_calls_nulls", "retrain_model"): "the customers did not change, the logging did: a model retrained on "
                                              "the broken column learns the bug and breaks again when it is fixed",
    ("support_calls_nulls", "ignore"): "the imputer hides the missing values from the model, but it now scores "
                                       "three in ten customers without one of its inputs",
    ("tenure_shift", "retrain_immediately"): "a shift in who the customers are does not by itself make the model "
                                             "wrong; whether it costs accuracy is what the labels (or a label-free "
                                             "estimate) tell you",
    ("tenure_shift", "ignore"): "the model now scores a population it saw little of; whether it still holds has to "
                                "be checked, not assumed",
    ("tenure_shift", "roll_back"): "there is no earlier model that knows these customers better, and nothing is "
                                   "broken",
    ("auc_drop_window_16", "covariate_shift"): "no feature's distribution moved at that window",
    ("auc_drop_window_16", "pipeline_bug"): "the data-quality checks are quiet at that window: values are complete, "
                                            "in range and fresh",
    ("alert_basis", "p_value"): "at a million rows a p-value flags shifts far too small to matter, and at a hundred "
                                "rows it misses large ones",
}
DECISION = decision_ladder(DECISION_CHOICES, _DECISION_MISTAKES,
                           "Fix bugs in the pipeline, check performance before retraining on a shift, recognise a "
                           "change that input monitoring cannot see, and alert on the size of a drift.")


@check("decision", stub_hint="fill in the `decision` dict with one choice per key", ladder=DECISION)
def decision(name: str, decision: dict) -> CheckResult:
    """One fixed choice per key; ``decision_<key>`` names each known wrong choice."""
    return decide(name, DECISION, decision, DECISION_CHOICES, _DECISION_MISTAKES, normalise_choice)
