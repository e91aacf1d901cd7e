"""Checks for the A/B-test pitfalls case: peeking, novelty, heterogeneous effects, clustering.

Each check's docstring lists the misconceptions it detects, most specific first. Reference values
are computed here from simulations or from the generator's truth, never typed in: the hidden tests
pass seeds the learner has not seen.

Peeking model: an experiment looked at ``K`` times at equally spaced sample sizes. Under the null
each new batch of users adds an independent standard-normal increment to the running sum, so the
z-statistic at look ``k`` is ``S_k / sqrt(k)`` (a scaled random walk). Stopping at the first look
with ``|z_k| > c_k`` declares a (false) winner.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from mlcasebook.checks.decisions import judge_decision, normalise_choice
from mlcasebook.checks.result import CheckResult, check, failed, passed

ALPHA = 0.05
Z_975 = float(stats.norm.isf(ALPHA / 2))  # 1.95996...


# --------------------------------------------------------------------------------------- peeking
def null_z_paths(looks: int, n_sims: int, rng: np.random.Generator) -> np.ndarray:
    """``n_sims`` null z-statistic paths with ``looks`` equally spaced looks, shape (n_sims, looks)."""
    steps = rng.standard_normal((n_sims, looks))
    return np.cumsum(steps, axis=1) / np.sqrt(np.arange(1, looks + 1))


def _as_boundary(boundary, looks: int) -> np.ndarray:
    b = np.asarray(boundary, dtype=float)
    if b.ndim == 0:
        b = np.full(looks, float(b))
    if b.shape != (looks,):
        raise ValueError("a boundary must be one number, or one number per look")
    return b


@lru_cache(maxsize=64)
def _reference_fpr(looks: int, boundary: tuple, n_sims: int, seed: int) -> tuple[float, float]:
    """(probability of crossing at any look, probability of crossing before the last look)."""
    z = np.abs(null_z_paths(looks, n_sims, np.random.default_rng(seed)))
    crossed = z > np.asarray(boundary)
    return float(crossed.any(axis=1).mean()), float(crossed[:, :-1].any(axis=1).mean())


def reference_fpr(looks: int, boundary=Z_975, *, n_sims: int = 200_000, seed: int = 0) -> float:
    """False-positive rate of stopping at the first look with |z| above ``boundary`` (simulated)."""
    return _reference_fpr(int(looks), tuple(_as_boundary(boundary, int(looks)).tolist()), n_sims, seed)[0]


def reference_pocock(looks: int, alpha: float = ALPHA, *, n_sims: int = 200_000, seed: int = 0) -> float:
    """Pocock's constant boundary: the (1 - alpha) quantile of max_k |z_k| under the null (simulated)."""
    z = np.abs(null_z_paths(int(looks), n_sims, np.random.default_rng(seed)))
    return float(np.quantile(z.max(axis=1), 1 - alpha))


def _mc_tolerance(p: float, n_learner: int, n_reference: int, k: float = 4.0) -> float:
    """k standard errors of the difference of two independent Monte-Carlo estimates of a rate p."""
    return k * float(np.sqrt(p * (1 - p) * (1 / n_learner + 1 / n_reference)))


@check("false-positive rate under peeking",
       stub_hint="write `false_positive_rate(looks, boundary, n_sims, rng)` that simulates no-effect experiments")
def false_positive_rate(name: str, false_positive_rate, *, seed: int = 12345, n_sims: int = 20_000,
                        looks_grid=(2, 5, 10, 20)) -> CheckResult:
    """Misconceptions: ``final_look_only`` (only the last look is tested), ``independent_looks`` (each look
    simulated as a fresh independent test, 1 - 0.95^K), ``one_sided`` (z > 1.96 instead of |z| > 1.96),
    ``ignores_boundary`` (the boundary argument has no effect), ``too_few_users_per_look`` (batches much smaller
    than the 500 users per arm per look the notebook asks for: with a handful of conversions per look the z-test is
    coarse, undefined before anyone converts, and crosses a boundary less often than the normal theory says),
    ``wrong_rate``.

    The learner's function is called with ``n_sims`` simulations and a generator seeded with ``seed``
    for every K in ``looks_grid``, then once with a Pocock boundary array. Tolerance: 4 standard errors
    of the difference between the learner's estimate (``n_sims`` runs) and the reference (200,000 runs),
    e.g. +-0.013 at K=20 (rate 0.25) with 20,000 runs. Batches of 500 users per arm at 10 % (50 conversions)
    land within it; batches of 10-20 users fall below it (e.g. 0.045 instead of 0.083 at K=2 with 10 users,
    0.039 instead of 0.05 with Pocock's boundary and 20 users), which a misconception fitted to one look alone
    would misname, so a named mistake must match at every look of the grid.
    """
    rng = np.random.default_rng(seed)
    seeds = [int(rng.integers(2**32)) for _ in range(len(looks_grid) + 1)]
    got = {looks: float(false_positive_rate(looks, Z_975, n_sims, np.random.default_rng(s)))
           for looks, s in zip(looks_grid, seeds[:-1], strict=True)}
    ref = {looks: reference_fpr(looks) for looks in looks_grid}
    tol = {looks: _mc_tolerance(ref[looks], n_sims, 200_000) for looks in looks_grid}
    off = [looks for looks in looks_grid if abs(got[looks] - ref[looks]) > tol[looks]]
    if off:
        candidates = {
            "final_look_only": (lambda k: ALPHA, "you only test the final look, but a team that peeks stops at the "
                                "first look with |z| > 1.96; stop each simulated experiment at its first crossing"),
            "independent_looks": (lambda k: 1 - (1 - ALPHA) ** k, "you treat each look as an independent test, but "
                                  "looks share the users seen so far; accumulate the data so z at look k uses all "
                                  "users up to k"),
            "one_sided": (_one_sided, "you count only z > 1.96; a two-sided test declares a winner (or loser) when "
                          "|z| > 1.96"),
        }
        for key, (value, why) in candidates.items():
            telling = [k for k in looks_grid if abs(value(k) - ref[k]) > tol[k]]
            if telling and all(abs(got[k] - value(k)) <= _mc_tolerance(value(k), n_sims, 200_000) for k in telling):
                return failed(name, key, f"Your simulated false-positive rate is off: {why}.")
        rates = [got[k] for k in sorted(looks_grid)]
        if all(got[k] < ref[k] for k in off) and all(np.diff(rates) > 0) and rates[0] > 0:
            return failed(name, "too_few_users_per_look",
                          "Your simulated false-positive rate is below what peeking gives, although it does grow "
                          "with the looks: too few users per look make the z-test coarse (and undefined before anyone "
                          "converts); add 500 users per arm at each look.")
        return failed(name, "wrong_rate",
                      "Your simulated false-positive rate is not what stopping at the first look with |z| above the "
                      "boundary gives on no-effect experiments; simulate the running z-statistic at each look and "
                      "count the experiments that cross at least once.")
    looks = 5
    pocock = reference_pocock(looks)
    got_5 = float(false_positive_rate(looks, np.full(looks, pocock), n_sims, np.random.default_rng(seeds[-1])))
    if abs(got_5 - ALPHA) > _mc_tolerance(ALPHA, n_sims, 200_000) + 0.002:
        if abs(got_5 - reference_fpr(looks)) <= _mc_tolerance(0.14, n_sims, 200_000):
            return failed(name, "ignores_boundary",
                          "Given a stricter boundary your function still returns the rate of 1.96 at every look: it "
                          "ignores `boundary`; compare |z| with the boundary passed in (a number or one value per "
                          "look).")
        scalar = float(false_positive_rate(looks, pocock, n_sims, np.random.default_rng(seeds[-1])))
        if got_5 < ALPHA and scalar == got_5:
            return failed(name, "too_few_users_per_look",
                          "Given Pocock's boundary your function's rate falls below alpha: with few users per look "
                          "the z-statistic is coarse and rarely clears a high bar; add 500 users per arm at each look.")
        return failed(name, "wrong_rate",
                      "Given a boundary of one value per look your function does not return the rate that boundary "
                      "gives; accept an array with one boundary per look.")
    return passed(name, "Your simulation reproduces the false-positive rate of peeking for every number of looks "
                        "tried.")


@lru_cache(maxsize=32)
def _one_sided(looks: int) -> float:
    z = null_z_paths(looks, 200_000, np.random.default_rng(0))
    return float((z > Z_975).any(axis=1).mean())


@check("sequential boundary",
       stub_hint="write `sequential_boundary(looks, alpha, n_sims, rng)` returning one z boundary per look")
def sequential_boundary(name: str, sequential_boundary, *, seed: int = 2024, looks_grid=(5,), alpha: float = ALPHA,
                        n_sims: int = 100_000, n_eval: int = 200_000, min_early_alpha: float = 0.005) -> CheckResult:
    """Misconceptions: ``naive_peeking`` (1.96 at every look: a winner declared at the first significant peek),
    ``bonferroni_looks`` (alpha / K per look: valid but far too strict, it ignores that looks are correlated),
    ``never_stops_early`` (no chance to stop before the last look), ``alpha_not_controlled``, ``too_conservative``.

    Accepted: any boundary whose overall false-positive rate, evaluated here on ``n_eval`` fresh null
    paths, is alpha within tolerance (Pocock's constant boundary, O'Brien-Fleming or any alpha-spending
    boundary). Tolerance: 4 standard errors of a rate of 0.05 estimated from the learner's ``n_sims``
    calibration runs plus the ``n_eval`` evaluation runs (+-0.0034 at 100,000 and 200,000).
    """
    rng = np.random.default_rng(seed)
    for looks in looks_grid:
        b = _as_boundary(sequential_boundary(looks, alpha, n_sims, np.random.default_rng(rng.integers(2**32))), looks)
        if np.any(np.isnan(b)):
            return failed(name, "alpha_not_controlled",
                          "Your boundary contains NaN values, so it cannot control alpha; return one finite z value "
                          "per look.")
        fpr, early = _reference_fpr(looks, tuple(b.tolist()), n_eval, int(rng.integers(2**31)))
        tol = _mc_tolerance(alpha, n_sims, n_eval)
        if np.allclose(b, Z_975, atol=0.02):
            return failed(name, "naive_peeking",
                          "Your boundary is 1.96 at every look, so you declare a winner at the first significant peek "
                          "and far more than alpha of no-effect experiments 'win'; raise the bar at each look (Pocock "
                          "or alpha spending) so the overall rate is alpha.")
        if np.allclose(b, stats.norm.isf(alpha / (2 * looks)), atol=0.02) and fpr < alpha - tol:
            return failed(name, "bonferroni_looks",
                          "Your boundary splits alpha equally over the looks (Bonferroni), which keeps the "
                          "false-positive rate well below alpha: the looks share data, so a Pocock or alpha-spending "
                          "boundary can be lower and keep more power.")
        if fpr > alpha + tol:
            return failed(name, "alpha_not_controlled",
                          "Your boundary lets more than alpha of no-effect experiments cross at some look; calibrate "
                          "it on simulated no-effect paths so the overall rate is alpha.")
        if early < min_early_alpha:
            return failed(name, "never_stops_early",
                          "Your boundary almost never allows stopping before the last look, so it is a fixed-horizon "
                          "test in disguise; spend part of alpha at the interim looks.")
        if fpr < alpha - tol:
            return failed(name, "too_conservative",
                          "Your boundary keeps the false-positive rate well below alpha, which wastes power; calibrate "
                          "it so the overall rate equals alpha.")
    return passed(name, "Your boundary brings the false-positive rate of a peeking team back to alpha.")


# --------------------------------------------------------------------------------------- helpers
def _lift_table(frame: pd.DataFrame, by) -> pd.DataFrame:
    """Per group: control and treatment rates and counts, absolute lift and its unpooled standard error."""
    g = frame.groupby([*([by] if isinstance(by, str) else by), "treated"])["converted"].agg(["mean", "count"])
    g = g.unstack("treated")
    out = pd.DataFrame({
        "control": g[("mean", 0)], "treatment": g[("mean", 1)],
        "n_control": g[("count", 0)], "n_treatment": g[("count", 1)],
    })
    out["lift"] = out["treatment"] - out["control"]
    out["se"] = np.sqrt(out["control"] * (1 - out["control"]) / out["n_control"]
                        + out["treatment"] * (1 - out["treatment"]) / out["n_treatment"])
    return out


def _diff(frame: pd.DataFrame) -> tuple[float, float]:
    """Difference in conversion rates (treatment - control) and its unpooled standard error."""
    t = _lift_table(frame.assign(_all=0), "_all").iloc[0]
    return float(t["lift"]), float(t["se"])


def _columns(table, needed: tuple[str, ...], what: str) -> str | None:
    if not isinstance(table, pd.DataFrame):
        return f"{what} must return a pandas DataFrame, got {type(table).__name__}"
    missing = [c for c in needed if c not in table.columns]
    if missing:
        return f"{what} must return the columns {', '.join(needed)}; missing {', '.join(missing)}"
    return None


# --------------------------------------------------------------------------------------- novelty
@check("lift by day", stub_hint="write `lift_by_day(frame)` returning one row per day with lift, ci_low, ci_high")
def lift_by_day(name: str, lift_by_day, frame: pd.DataFrame) -> CheckResult:
    """Misconceptions: ``cumulative_lift`` (the dashboard's running estimate instead of each day's own),
    ``relative_lift`` (lift divided by the control rate), ``standard_error_as_interval`` (ci = lift +- SE),
    ``wrong_interval``, ``wrong_lift``, ``wrong_shape``.

    Each day's lift must equal that day's treatment-minus-control conversion rate (exact). The 95 %
    interval's half-width must be 1.96 standard errors: the pooled and unpooled standard errors differ
    by up to ~3 % at these rates and a t quantile by less, so a half-width between 1.80 and 2.12
    unpooled SEs is accepted; Wilson/Newcombe intervals are asymmetric, so the midpoint may sit up
    to 0.25 SE from the lift.
    """
    table = lift_by_day(frame.copy())
    problem = _columns(table, ("lift", "ci_low", "ci_high"), "lift_by_day")
    ref = _lift_table(frame, "day")
    if problem is None and len(table) != len(ref):
        problem = "lift_by_day returned a different number of rows than there are days; return one row per day"
    if problem:
        return failed(name, "wrong_shape", problem + ".")
    table = table.sort_index() if table.index.isin(ref.index).all() else table
    got = table["lift"].to_numpy(float)
    if not np.allclose(got, ref["lift"], atol=1e-6):
        counts = ref[["n_control", "n_treatment"]].to_numpy()
        conversions = (ref[["control", "treatment"]].to_numpy() * counts).cumsum(axis=0)
        running = conversions[:, 1] / counts[:, 1].cumsum() - conversions[:, 0] / counts[:, 0].cumsum()
        if np.allclose(got, running, atol=1e-6):
            return failed(name, "cumulative_lift",
                          "Your daily lift is the running (cumulative) estimate a dashboard shows, which mixes all "
                          "earlier days into every point and hides the decay; compute each day's lift from that "
                          "day's users only.")
        if np.allclose(got, ref["lift"] / ref["control"], atol=1e-6):
            return failed(name, "relative_lift",
                          "Your lift is relative (divided by the control rate); report the absolute difference in "
                          "conversion rates, in percentage points, treatment minus control.")
        return failed(name, "wrong_lift",
                      "Your daily lift is not each day's treatment-minus-control conversion rate; group by day and "
                      "arm, then subtract the control rate from the treatment rate.")
    low, high = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    se = ref["se"].to_numpy()
    half = (high - low) / 2 / se
    centre = np.abs((high + low) / 2 - got) / se
    if np.all(np.abs(half - 1) < 0.08) and np.all(centre < 0.25):
        return failed(name, "standard_error_as_interval",
                      "Your interval is the lift plus or minus one standard error, which covers the truth only about "
                      "68 % of the time; use 1.96 standard errors for a 95 % interval.")
    if not (np.all((half > 1.80) & (half < 2.12)) and np.all(centre < 0.25)):
        return failed(name, "wrong_interval",
                      "Your daily intervals are not 95 % intervals for a difference in proportions; use lift +- 1.96 * "
                      "sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c) with each day's rates and counts.")
    return passed(name, "Your daily lifts and 95 % intervals match each day's treatment-minus-control difference.")


@check("long-run lift", stub_hint="write `long_run_lift(frame)` returning your estimate of the lasting effect")
def long_run_lift(name: str, long_run_lift, frame: pd.DataFrame, truth) -> CheckResult:
    """Misconceptions: ``naive_novelty_lift`` (the plain difference over the whole test, inflated by the
    novelty), ``relative_lift``, ``novelty_not_removed`` (moved towards the truth but still inflated),
    ``wrong_long_run``.

    ``truth`` is the generator's record (``truth.lift`` the lasting effect). Tolerance: 4 standard errors
    of the plain difference over the last third of the test's days, the precision a sound estimator
    (a fit of lift = L + N * exp(-t / tau) by day, or the mean lift once the daily lift has flattened)
    reaches; ~0.006 with 20,000 users a day for 28 days, while the naive lift is 1.4 points away.
    """
    est = float(long_run_lift(frame.copy()))
    if not np.isfinite(est):
        return failed(name, "wrong_long_run", "long_run_lift returned a value that is not a finite number.")
    last = frame["day"] >= frame["day"].max() * 2 / 3
    tol = 4 * _diff(frame[last])[1]
    naive = _diff(frame)[0]
    if abs(est - truth.lift) <= tol:
        return passed(name, "Your long-run lift is within sampling error of the lasting effect.")
    if abs(est - naive) <= 0.5 * tol:
        return failed(name, "naive_novelty_lift",
                      "Your estimate is the plain difference over the whole test, which averages in the "
                      "novelty of the first days; estimate the lasting effect from the lift once it has flattened, "
                      "or fit the decay by day and keep its plateau.")
    control = frame.loc[frame["treated"] == 0, "converted"].mean()
    if any(abs(est - rel) <= 0.2 * abs(rel) for rel in (truth.lift / control, naive / control) if rel):
        return failed(name, "relative_lift",
                      "Your estimate looks like a relative lift (divided by the control rate); report the absolute "
                      "difference in conversion rates.")
    if np.sign(est - truth.lift) == np.sign(naive - truth.lift):
        return failed(name, "novelty_not_removed",
                      "Your estimate still carries part of the novelty: it is off in the same direction as "
                      "the naive lift; use only days after the effect has settled, or the plateau "
                      "of a fitted decay.")
    return failed(name, "wrong_long_run",
                  "Your estimate is further from the lasting effect than sampling error allows; plot the "
                  "daily lift and check what your function averages.")


# ------------------------------------------------------------------------------- heterogeneity
def _adjustments(p: np.ndarray) -> dict[str, np.ndarray]:
    """Standard multiple-comparison adjustments of p-values (as statsmodels' ``multipletests`` computes them).

    Written out here because statsmodels' Holm branch calls ``gc.collect()``, which costs ~0.5 s a call.
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    ps = p[order]
    rank = np.arange(1, m + 1)
    sorted_adj = {
        "bonferroni": np.minimum(1, m * ps),
        "sidak": 1 - (1 - ps) ** m,
        "holm": np.minimum(1, np.maximum.accumulate((m - rank + 1) * ps)),
        "holm-sidak": np.maximum.accumulate(1 - (1 - ps) ** (m - rank + 1)),
        "simes-hochberg": np.minimum(1, np.minimum.accumulate(((m - rank + 1) * ps)[::-1])[::-1]),
        "fdr_bh": np.minimum(1, np.minimum.accumulate((m / rank * ps)[::-1])[::-1]),
        "fdr_by": np.minimum(1, np.minimum.accumulate((m / rank * ps * np.sum(1 / rank))[::-1])[::-1]),
    }
    out = {}
    for method, values in sorted_adj.items():
        adj = np.empty(m)
        adj[order] = values
        out[method] = adj
    return out


def _is_adjustment(p_values: np.ndarray, adjusted: np.ndarray, groups: np.ndarray) -> bool:
    """True if ``adjusted`` is a standard adjustment of ``p_values`` over all rows, or within each group."""
    candidates = list(_adjustments(p_values).values())
    per_group = {g: _adjustments(p_values[groups == g]) for g in np.unique(groups)}
    for method in next(iter(per_group.values())):
        adj = np.empty_like(p_values)
        for g, by_method in per_group.items():
            adj[groups == g] = by_method[method]
        candidates.append(adj)
    return any(np.allclose(c, adjusted, atol=1e-6) for c in candidates)


@check("segment effects", stub_hint="write `segment_effects(frame, columns)` returning one row per slice")
def segment_effects(name: str, segment_effects, frame: pd.DataFrame, columns=("segment", "device", "country")
                    ) -> CheckResult:
    """Misconceptions: ``no_multiple_comparison_correction`` (adjusted p-values equal the raw ones),
    ``relative_lift``, ``standard_error_as_interval``, ``wrong_p_value``, ``unknown_adjustment``,
    ``wrong_lift``, ``wrong_shape``.

    The table must hold one row per (column, value) slice with ``column``, ``value``, ``lift``,
    ``ci_low``, ``ci_high``, ``p_value`` and ``p_adjusted``. Lifts must be exact; intervals within
    1.80-2.12 unpooled standard errors (pooled vs unpooled SE and z vs t quantiles); p-values within
    0.02 or 25 % of the unpooled two-sided z-test (a pooled z or chi-square test differs by less);
    adjusted p-values must be a standard family-wise or false-discovery-rate adjustment (statsmodels
    ``multipletests``) of the learner's own p-values, over all slices or within each column.
    """
    columns = list(columns)
    table = segment_effects(frame.copy(), columns)
    needed = ("column", "value", "lift", "ci_low", "ci_high", "p_value", "p_adjusted")
    problem = _columns(table, needed, "segment_effects")
    if problem:
        return failed(name, "wrong_shape", problem + ".")
    table = table.reset_index(drop=True)
    refs = []
    for col in columns:
        r = _lift_table(frame, col)
        r.index = pd.MultiIndex.from_product([[col], r.index.astype(str)])
        refs.append(r)
    ref = pd.concat(refs)
    keys = list(zip(table["column"].astype(str), table["value"].astype(str), strict=True))
    if sorted(keys) != sorted(ref.index.tolist()):
        return failed(name, "wrong_shape",
                      "Your table does not hold one row per slice of the columns given; return one row per "
                      "(column, value), with the column name and the value as text.")
    ref = ref.loc[keys]
    got = table["lift"].to_numpy(float)
    if not np.allclose(got, ref["lift"], atol=1e-6):
        if np.allclose(got, ref["lift"] / ref["control"], atol=1e-6):
            return failed(name, "relative_lift",
                          "Your slice lifts are relative (divided by the control rate); report absolute differences in "
                          "conversion rate so segments of different base rates compare on one scale.")
        return failed(name, "wrong_lift",
                      "Your slice lifts are not each slice's treatment-minus-control conversion rate; filter the "
                      "slice, then compare its two arms.")
    se = ref["se"].to_numpy()
    low, high = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    half, centre = (high - low) / 2 / se, np.abs((high + low) / 2 - got) / se
    if np.all(np.abs(half - 1) < 0.08):
        return failed(name, "standard_error_as_interval",
                      "Your slice intervals are the lift plus or minus one standard error; a 95 % interval is 1.96 "
                      "standard errors each side.")
    if not (np.all((half > 1.80) & (half < 2.12)) and np.all(centre < 0.25)):
        return failed(name, "wrong_interval",
                      "Your slice intervals are not 95 % intervals for a difference in proportions; use "
                      "lift +- 1.96 SE with each slice's own rates and counts.")
    p = table["p_value"].to_numpy(float)
    p_ref = 2 * stats.norm.sf(np.abs(ref["lift"].to_numpy() / se))
    if not np.all((np.abs(p - p_ref) <= 0.02) | (np.abs(p - p_ref) <= 0.25 * p_ref)):
        return failed(name, "wrong_p_value",
                      "Your p-values do not match a two-sided test of each slice's lift against zero; use "
                      "2 * norm.sf(|lift| / SE) or a two-proportion z-test.")
    adj = table["p_adjusted"].to_numpy(float)
    if np.allclose(adj, p, atol=1e-12):
        return failed(name, "no_multiple_comparison_correction",
                      "Your adjusted p-values equal the raw ones, but across many slices about one in twenty looks "
                      "significant at 5 % by chance alone; adjust them (Holm, "
                      "Bonferroni or Benjamini-Hochberg).")
    if not _is_adjustment(p, adj, table["column"].astype(str).to_numpy()):
        return failed(name, "unknown_adjustment",
                      "Your p_adjusted column is not a standard multiple-comparison adjustment of your p-values; use "
                      "statsmodels.stats.multitest.multipletests (e.g. method='holm').")
    return passed(name, "Your slice table has exact lifts, 95 % intervals and adjusted p-values.")


_SHIP = {"ship", "launch", "treatment", "yes", "roll_out", "rollout"}
_HOLD = {"hold", "do_not_ship", "dont_ship", "control", "no", "keep_control", "investigate"}


def _norm(text) -> str:
    return normalise_choice(text).replace("'", "")


@check("who gets the change", stub_hint="fill `ship_to` with 'ship' or 'hold' for every segment")
def ship_plan(name: str, ship_to: dict, segment_lifts: dict) -> CheckResult:
    """Misconceptions: ``averaged_away_harmful_segment`` (ship to a segment the change hurts because the
    average is positive), ``held_back_winners`` (withhold the change from a segment it helps),
    ``missing_segment``, ``unknown_choice``.

    ``segment_lifts`` is the generator's truth; a segment must get "ship" when its true lift is positive
    and "hold" when negative (the notebook's data estimate both at more than 4 standard errors).
    """
    if not isinstance(ship_to, dict):
        return failed(name, "unknown_choice", "ship_to must be a dict {segment: 'ship' or 'hold'}.")
    missing = [s for s in segment_lifts if s not in ship_to]
    if missing:
        return failed(name, "missing_segment", f"Your plan says nothing about the segment(s) {', '.join(missing)}.")
    for seg, lift in segment_lifts.items():
        choice = _norm(ship_to[seg])
        if choice not in _SHIP | _HOLD:
            return failed(name, "unknown_choice", f"'{ship_to[seg]}' for {seg} is neither 'ship' nor 'hold'.")
        if lift < 0 and choice in _SHIP:
            return failed(name, "averaged_away_harmful_segment",
                          f"You ship to {seg} users although the change lowers their conversion: the small positive "
                          "average hides a harmful segment; keep that segment on control and investigate why.")
        if lift > 0 and choice in _HOLD:
            return failed(name, "held_back_winners",
                          f"You hold the change back from {seg} users although it clearly raises their conversion; "
                          "ship to the segments it helps.")
    return passed(name, "You ship to the segment the change helps and protect the one it hurts.")


# ---------------------------------------------------------------------------------- clustering
def cluster_robust(frame: pd.DataFrame, cluster: str = "cluster") -> tuple[float, float, float]:
    """(lift, cluster-robust SE, iid SE) of treated-minus-control conversion, by OLS with clustered errors."""
    import statsmodels.formula.api as smf

    fit = smf.ols("converted ~ treated", frame)
    robust = fit.fit(cov_type="cluster", cov_kwds={"groups": frame[cluster]})
    lift, se_iid = _diff(frame)
    return float(robust.params["treated"]), float(robust.bse["treated"]), se_iid


@check("clustered interval", stub_hint="write `clustered_ci(frame)` returning lift, ci_low, ci_high, design_effect")
def clustered_ci(name: str, clustered_ci, frame: pd.DataFrame, *, deff_tolerance: float = 0.2) -> CheckResult:
    """Misconceptions: ``iid_standard_error`` (clustering ignored: the interval is ~1/sqrt(design effect) too
    narrow), ``sqrt_design_effect`` (reported the interval-widening factor sqrt(deff) as the design
    effect), ``no_design_effect`` (design effect 1), ``wrong_design_effect``, ``wrong_interval``,
    ``wrong_lift``, ``wrong_shape``.

    Reference: OLS of converted on treated with cluster-robust errors on the same frame. Different
    sound estimators (cluster-robust OLS, a t-test on cluster means, ICC from one-way ANOVA) agree
    within ~5 % on the standard error and ~0.05 on the design effect on 400 clusters of 50, so the
    implied SE must be within 0.85-1.18 of the reference (the iid SE is 0.71 of it at deff 1.98) and the
    design effect within ``deff_tolerance`` of the reference's (cluster-robust / iid variance ratio).
    """
    result = clustered_ci(frame.copy())
    keys = ("lift", "ci_low", "ci_high", "design_effect")
    if not isinstance(result, dict) or any(k not in result for k in keys):
        return failed(name, "wrong_shape", "clustered_ci must return a dict with the keys " + ", ".join(keys) + ".")
    lift, se_ref, se_iid = cluster_robust(frame)
    deff_ref = (se_ref / se_iid) ** 2
    got = float(result["lift"])
    if abs(got - lift) > 0.25 * se_ref:
        return failed(name, "wrong_lift",
                      "Your lift is not the treatment-minus-control difference in conversion rates; clustering changes "
                      "the standard error, not the point estimate.")
    low, high = float(result["ci_low"]), float(result["ci_high"])
    ratio = (high - low) / 2 / 1.96 / se_ref
    if abs(ratio - se_iid / se_ref) < 0.05 and se_iid / se_ref < 0.85:
        return failed(name, "iid_standard_error",
                      "Your interval treats every user as independent, but whole clusters were randomised and users in "
                      "a cluster resemble each other, so it is too narrow; use cluster-robust standard errors or "
                      "analyse cluster means.")
    if not (0.85 <= ratio <= 1.18 and low <= got <= high):
        return failed(name, "wrong_interval",
                      "Your interval's width does not match the clustered standard error of the lift; use "
                      "lift +- 1.96 * cluster-robust SE (or a t-test on cluster-level means).")
    deff = float(result["design_effect"])
    if abs(deff - deff_ref) <= deff_tolerance:
        return passed(name, "Your clustered interval is right and your design effect matches the data.")
    if abs(deff - np.sqrt(deff_ref)) <= deff_tolerance / 2:
        return failed(name, "sqrt_design_effect",
                      "You reported how much the interval widens (the square root of the design effect); the design "
                      "effect is the variance ratio, clustered over independent, i.e. that factor squared.")
    if abs(deff - 1) < 0.05:
        return failed(name, "no_design_effect",
                      "Your design effect is 1, which says clustering costs nothing; it is 1 + (m - 1) * ICC, the "
                      "ratio of the clustered to the independent variance.")
    return failed(name, "wrong_design_effect",
                  "Your design effect does not match the data; estimate it as (clustered SE / independent "
                  "SE)^2 or 1 + (m - 1) * ICC.")


# ------------------------------------------------------------------------------------ decision
DECISION_CHOICES = {
    "peeking": {"pocock", "alpha_spending"},
    "novelty": {"long_run_estimate"},
    "segments": {"ship_to_new_only"},
    "many_slices": {"holm", "bonferroni", "benjamini_hochberg"},
    "standard_error": {"cluster_robust"},
}
_DECISION_MISTAKES = {
    ("peeking", "stop_at_first_significant"): "stopping at the first look with p < 0.05 declares a winner in about a "
                                              "seventh of no-effect tests with 5 looks",
    ("peeking", "fixed_horizon"): "the team wants to look every week; a sequential boundary lets them stop early "
                                  "safely",
    ("novelty", "report_naive"): "the whole-test average includes the novelty of the first days",
    ("novelty", "first_week"): "the first week is when the novelty is strongest",
    ("segments", "ship_to_all"): "the positive average hides the returning users the change hurts",
    ("segments", "ship_to_none"): "new users clearly gain from the change",
    ("many_slices", "no_correction"): "with 10 slices, one or two look significant by chance",
    ("standard_error", "per_user"): "users in a cluster are not independent when whole clusters are randomised",
}


@check("decision", stub_hint="fill in the `decision` dict with one choice per key")
def decision(name: str, decision: dict) -> CheckResult:
    """Misconceptions: ``missing_key``, ``unknown_choice`` and one ``decision_<key>`` per wrong choice."""
    return judge_decision(name, decision, DECISION_CHOICES, _DECISION_MISTAKES, _norm,
                          "Your decision controls peeking, removes the novelty, protects the harmed segment, corrects "
                  "for many slices and respects the clusters.")
