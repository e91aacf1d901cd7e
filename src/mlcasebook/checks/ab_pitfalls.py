"""Checks for the A/B-test pitfalls case: peeking, novelty, heterogeneous effects, clustering.

Each check declares its misconceptions as a :class:`~mlcasebook.checks.ladder.Ladder` (most specific
first). Reference values are computed here from simulations or from the generator's truth, never typed
in: the hidden tests pass seeds and data the learner has not seen. Two-proportion statistics come from
:mod:`mlcasebook.checks.reference`.

Peeking model: an experiment looked at ``K`` times at equally spaced sample sizes. Under the null
each new batch of users adds an independent standard-normal increment to the running sum, so the
z-statistic at look ``k`` is ``S_k / sqrt(k)`` (a scaled random walk). Stopping at the first look
with ``|z_k| > c_k`` declares a (false) winner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mlcasebook.checks import reference as ref
from mlcasebook.checks.cases_cache import shared
from mlcasebook.checks.decisions import decide, decision_ladder, normalise_choice
from mlcasebook.checks.ladder import Evidence, Ladder, Misconception
from mlcasebook.checks.result import CheckResult, check, passed

ALPHA = 0.05
Z_975 = ref.z_critical(ALPHA)  # 1.95996...


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


@shared(maxsize=64)
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


def obrien_fleming_shape(looks: int, final: float = 2.04) -> np.ndarray:
    """A boundary that falls from look to look, c * sqrt(K / k) (O'Brien-Fleming's shape; ~alpha 0.05 at 2.04)."""
    return final * np.sqrt(looks / np.arange(1, looks + 1))


def _mc_tolerance(p: float, n_learner: int, n_reference: int, k: float = 4.0) -> float:
    """k standard errors of the difference of two independent Monte-Carlo estimates of a rate p."""
    return k * float(np.sqrt(p * (1 - p) * (1 / n_learner + 1 / n_reference)))


@shared(maxsize=32)
def _one_sided(looks: int) -> float:
    z = null_z_paths(looks, 200_000, np.random.default_rng(0))
    return float((z > Z_975).any(axis=1).mean())


_FPR_MISTAKES = {
    "final_look_only": lambda k: ALPHA,
    "independent_looks": lambda k: 1 - (1 - ALPHA) ** k,
    "one_sided": _one_sided,
}


def _fpr_mistake(key: str):
    return lambda e: key in e.matched


FALSE_POSITIVE_RATE = Ladder(
    Misconception("final_look_only", _fpr_mistake("final_look_only"),
                  "Your simulated false-positive rate is that of testing the final look only, but a team that peeks "
                  "stops at the first look whose |z| crosses the boundary, so every earlier look is a chance to "
                  "stop."),
    Misconception("independent_looks", _fpr_mistake("independent_looks"),
                  "Your simulated false-positive rate treats each look as an independent test, but the looks share "
                  "the users seen so far, so their z-statistics are correlated."),
    Misconception("one_sided", _fpr_mistake("one_sided"),
                  "Your simulation counts only z above the boundary, but a two-sided test declares a winner (or a "
                  "loser) when |z| crosses it."),
    Misconception("too_few_users_per_look", lambda e: e.coarse,
                  "Your simulated false-positive rate is below what peeking gives{e.coarse_where}: too few users per "
                  "look make the z-test coarse (and undefined before anyone converts); the notebook asks for 500 "
                  "users per arm at each look."),
    Misconception("ignores_boundary", lambda e: e.ignores_boundary,
                  "Given a stricter boundary your function still returns the rate of 1.96 at every look: it ignores "
                  "its `boundary` argument."),
    Misconception("boundary_not_per_look", lambda e: e.not_per_look,
                  "Given a boundary that changes from look to look, your rate is not that boundary's (one constant "
                  "boundary works): each look's |z| must be compared with that look's own value."),
    Misconception("wrong_rate", None,
                  "Your simulated false-positive rate is not what stopping at the first crossing gives on no-effect "
                  "experiments{e.where}."),
    passed="Your simulation reproduces the false-positive rate of peeking for every number of looks and every "
           "boundary tried.",
)


@check("false-positive rate under peeking",
       stub_hint="write `false_positive_rate(looks, boundary, n_sims, rng)` that simulates no-effect experiments",
       ladder=FALSE_POSITIVE_RATE)
def false_positive_rate(name: str, false_positive_rate, *, seed: int = 12345, n_sims: int = 20_000,
                        looks_grid=(2, 5, 10, 20), boundary_looks: int = 5) -> CheckResult:
    """Call the learner's simulator with ``n_sims`` runs and generators seeded from ``seed``: at 1.96 for every
    K in ``looks_grid``, then at ``boundary_looks`` looks with Pocock's boundary (one value per look) and with a
    boundary that falls from look to look (O'Brien-Fleming's shape).

    Tolerance: 4 standard errors of the difference between the learner's estimate (``n_sims`` runs) and the
    reference (200,000 runs), e.g. +-0.013 at K=20 (rate 0.25) with 20,000 runs. Batches of 500 users per arm
    at 10 % (50 conversions) land within it; batches of 10-20 users fall below it (e.g. 0.045 instead of 0.083 at
    K=2 with 10 users, 0.039 instead of 0.05 with Pocock's boundary and 20 users), which a misconception fitted to
    one look alone would misname, so a named mistake must match at every look of the grid.
    """
    rng = np.random.default_rng(seed)
    seeds = [int(rng.integers(2**32)) for _ in range(len(looks_grid) + 3)]
    got = {looks: float(false_positive_rate(looks, Z_975, n_sims, np.random.default_rng(s)))
           for looks, s in zip(looks_grid, seeds, strict=False)}
    want = {looks: reference_fpr(looks) for looks in looks_grid}
    tol = {looks: _mc_tolerance(want[looks], n_sims, 200_000) for looks in looks_grid}
    off = [looks for looks in looks_grid if abs(got[looks] - want[looks]) > tol[looks]]
    e = Evidence(matched=set(), coarse=False, coarse_where="", ignores_boundary=False, not_per_look=False, where="")
    if off:
        for key, value in _FPR_MISTAKES.items():
            telling = [k for k in looks_grid if abs(value(k) - want[k]) > tol[k]]
            if telling and all(abs(got[k] - value(k)) <= _mc_tolerance(value(k), n_sims, 200_000) for k in telling):
                e.matched.add(key)
        rates = [got[k] for k in sorted(looks_grid)]
        e.coarse = all(got[k] < want[k] for k in off) and bool(np.all(np.diff(rates) > 0)) and rates[0] > 0
        e.coarse_where = ", although it does grow with the looks"
        return FALSE_POSITIVE_RATE.judge(name, e)
    looks = boundary_looks
    pocock = np.full(looks, reference_pocock(looks))
    got_pocock = float(false_positive_rate(looks, pocock, n_sims, np.random.default_rng(seeds[-3])))
    want_pocock = reference_fpr(looks, pocock)
    if abs(got_pocock - want_pocock) > _mc_tolerance(want_pocock, n_sims, 200_000):
        e.ignores_boundary = abs(got_pocock - reference_fpr(looks)) <= _mc_tolerance(reference_fpr(looks), n_sims,
                                                                                    200_000)
        scalar = float(false_positive_rate(looks, float(pocock[0]), n_sims, np.random.default_rng(seeds[-3])))
        e.coarse = got_pocock < want_pocock and scalar == got_pocock
        e.coarse_where = " with Pocock's boundary"
        e.where = " when given a boundary of one value per look"
        return FALSE_POSITIVE_RATE.judge(name, e)
    falling = obrien_fleming_shape(looks)
    got_falling = float(false_positive_rate(looks, falling, n_sims, np.random.default_rng(seeds[-2])))
    want_falling = reference_fpr(looks, falling)
    if abs(got_falling - want_falling) > _mc_tolerance(want_falling, n_sims, 200_000):
        e.not_per_look = True
        return FALSE_POSITIVE_RATE.judge(name, e)
    return passed(name, FALSE_POSITIVE_RATE.passed)


SEQUENTIAL_BOUNDARY = Ladder(
    Misconception("not_a_boundary", lambda e: e.nan,
                  "Your boundary contains NaN values, which no z-statistic can be compared with."),
    Misconception("naive_peeking", lambda e: e.naive,
                  "Your boundary is 1.96 at every look, so you declare a winner at the first significant peek and "
                  "far more than alpha of no-effect experiments 'win'."),
    Misconception("ignores_looks", lambda e: e.same_for_every_k,
                  "Your boundary is the same number whatever the number of looks, but the more looks a team takes, "
                  "the more chances chance has: the boundary must depend on `looks`."),
    Misconception("bonferroni_looks", lambda e: e.bonferroni,
                  "Your boundary splits alpha equally over the looks (Bonferroni). That keeps the false-positive "
                  "rate below alpha, but the looks share their users, so it spends only part of alpha and loses "
                  "power; the task asks for a boundary whose overall rate is alpha itself."),
    Misconception("alpha_not_controlled", lambda e: e.loose,
                  "Your boundary lets more than alpha of no-effect experiments cross at some look{e.where}."),
    Misconception("never_stops_early", lambda e: e.late,
                  "Your boundary almost never allows stopping before the last look, so it is a fixed-horizon test "
                  "in disguise and the interim looks are useless."),
    Misconception("too_conservative", lambda e: e.strict,
                  "Your boundary keeps the false-positive rate well below alpha{e.where}, which wastes power: the "
                  "task asks for a boundary whose overall rate is alpha itself."),
    Misconception("ignores_alpha", lambda e: e.ignores_alpha,
                  "Asked for another alpha, your function returns the same boundary: it ignores its `alpha` "
                  "argument."),
    passed="Your boundary brings the false-positive rate of a peeking team back to alpha, for every number of "
           "looks and alpha tried.",
)


@check("sequential boundary",
       stub_hint="write `sequential_boundary(looks, alpha, n_sims, rng)` returning one z boundary per look",
       ladder=SEQUENTIAL_BOUNDARY)
def sequential_boundary(name: str, sequential_boundary, *, seed: int = 2024, looks_grid=(5,), alpha: float = ALPHA,
                        other_alpha: float = 0.10, n_sims: int = 100_000, n_eval: int = 200_000,
                        min_early_alpha: float = 0.005) -> CheckResult:
    """Evaluate the learner's boundary for each K in ``looks_grid`` at ``alpha``, then at ``other_alpha`` for the
    largest K, on fresh null paths (``n_eval`` of them).

    Accepted: any boundary whose overall false-positive rate is alpha within tolerance (Pocock's constant
    boundary, O'Brien-Fleming or any alpha-spending boundary). Refused on purpose, as the notebook says:
    Bonferroni's alpha / K per look, which controls the rate but spends only 0.033 of 0.05 at K = 5 (0.039 at
    K = 3). Tolerance: 4 standard errors of a rate estimated from the learner's ``n_sims`` calibration runs plus
    the ``n_eval`` evaluation runs (+-0.0034 at 100,000 and 200,000).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for looks in looks_grid:
        b = _as_boundary(sequential_boundary(looks, alpha, n_sims, np.random.default_rng(rng.integers(2**32))), looks)
        eval_seed = int(rng.integers(2**31))
        if np.any(np.isnan(b)):
            return SEQUENTIAL_BOUNDARY.fail(name, "not_a_boundary")
        fpr, early = _reference_fpr(looks, tuple(b.tolist()), n_eval, eval_seed)
        rows.append(dict(looks=looks, b=b, fpr=fpr, early=early))
    tol = _mc_tolerance(alpha, n_sims, n_eval)
    constants = [float(r["b"][0]) for r in rows if np.allclose(r["b"], r["b"][0])]
    e = Evidence(
        nan=False, where="",
        naive=any(np.allclose(r["b"], Z_975, atol=0.02) for r in rows),
        bonferroni=any(np.allclose(r["b"], stats.norm.isf(alpha / (2 * r["looks"])), atol=0.02)
                       and r["fpr"] < alpha - tol for r in rows),
        loose=any(r["fpr"] > alpha + tol for r in rows), strict=any(r["fpr"] < alpha - tol for r in rows),
        late=any(r["early"] < min_early_alpha for r in rows), ignores_alpha=False)
    e.same_for_every_k = (len(rows) > 1 and len(constants) == len(rows) and np.ptp(constants) < 1e-9
                          and (e.loose or e.strict))
    if e.naive or e.bonferroni or e.same_for_every_k or e.loose or e.late or e.strict:
        return SEQUENTIAL_BOUNDARY.judge(name, e)
    looks = max(looks_grid)
    b = _as_boundary(sequential_boundary(looks, other_alpha, n_sims, np.random.default_rng(rng.integers(2**32))),
                     looks)
    if np.any(np.isnan(b)):
        return SEQUENTIAL_BOUNDARY.fail(name, "not_a_boundary")
    fpr, _ = _reference_fpr(looks, tuple(b.tolist()), n_eval, int(rng.integers(2**31)))
    tol = _mc_tolerance(other_alpha, n_sims, n_eval)
    if abs(fpr - other_alpha) <= tol:
        return passed(name, SEQUENTIAL_BOUNDARY.passed)
    # the same boundary as at alpha, or one whose rate is still alpha (calibrated at alpha again, other draws)
    same = (np.allclose(b, next(r["b"] for r in rows if r["looks"] == looks), atol=0.02)
            or abs(fpr - alpha) <= _mc_tolerance(alpha, n_sims, n_eval))
    e.ignores_alpha, e.loose, e.strict = same, fpr > other_alpha + tol, fpr < other_alpha - tol
    e.where = " when asked for another alpha"
    if same:
        e.loose = e.strict = False
    return SEQUENTIAL_BOUNDARY.judge(name, e)


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
    out["se"] = ref.two_proportion_se(out["treatment"], out["n_treatment"], out["control"], out["n_control"])
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


def _interval_evidence(low, high, estimate, se) -> dict:
    """Which kind of interval ``low, high`` is around ``estimate``, in standard errors (see reference bands)."""
    half, centre = ref.interval_in_se(low, high, estimate, se)
    centred = bool(np.all(centre < 0.25))  # Wilson/Newcombe intervals are asymmetric by up to ~0.25 SE
    return dict(one_se=centred and ref.within(half, ref.HALF_WIDTH_1SE),
                ninety=centred and ref.within(half, ref.HALF_WIDTH_90),
                interval_ok=centred and ref.within(half, ref.HALF_WIDTH_95))


_ONE_SE = "Your {e.what} intervals are the lift plus or minus one standard error, which covers the truth only " \
          "about 68 % of the time, not the 95 % asked for."
_NINETY = "Your {e.what} intervals are 90 % intervals (the z of a one-sided test, or of alpha 0.10), narrower than " \
          "the 95 % asked for, so they miss the true lift twice as often."


# --------------------------------------------------------------------------------------- novelty
LIFT_BY_DAY = Ladder(
    Misconception("wrong_shape", lambda e: e.problem is not None, "{e.problem}."),
    Misconception("cumulative_lift", lambda e: e.cumulative,
                  "Your daily lift is the running (cumulative) estimate a dashboard shows, which mixes all earlier "
                  "days into every point and hides the decay."),
    Misconception("relative_lift", lambda e: e.relative,
                  "Your lift is relative (divided by the control rate), but the task asks for the absolute "
                  "difference in conversion rates."),
    Misconception("wrong_lift", lambda e: not e.lift_ok,
                  "Your daily lift is not each day's treatment-minus-control conversion rate."),
    Misconception("standard_error_as_interval", lambda e: e.one_se, _ONE_SE),
    Misconception("ninety_percent_interval", lambda e: e.ninety, _NINETY),
    Misconception("wrong_interval", lambda e: not e.interval_ok,
                  "Your daily intervals are not 95 % intervals for a difference in two proportions: their width or "
                  "their centre does not match each day's rates and counts."),
    passed="Your daily lifts and 95 % intervals match each day's treatment-minus-control difference.",
)


@check("lift by day", stub_hint="write `lift_by_day(frame)` returning one row per day with lift, ci_low, ci_high",
       ladder=LIFT_BY_DAY)
def lift_by_day(name: str, lift_by_day, frame: pd.DataFrame) -> CheckResult:
    """Each day's lift must equal that day's treatment-minus-control conversion rate (exact). The 95 %
    interval's half-width must be 1.80-2.12 unpooled SEs (``reference.HALF_WIDTH_95``: pooled vs unpooled SE and
    z vs t); Wilson/Newcombe intervals are asymmetric, so the midpoint may sit up to 0.25 SE from the lift.
    """
    table = lift_by_day(frame.copy())
    problem = _columns(table, ("lift", "ci_low", "ci_high"), "lift_by_day")
    want = _lift_table(frame, "day")
    if problem is None and len(table) != len(want):
        problem = ("lift_by_day returned a different number of rows than the frame it was given has days; build "
                   "the table from the frame passed in, one row per day")
    if problem:
        return LIFT_BY_DAY.fail(name, "wrong_shape", Evidence(problem=problem))
    table = table.sort_index() if table.index.isin(want.index).all() else table
    got = table["lift"].to_numpy(float)
    e = Evidence(problem=None, what="daily", lift_ok=bool(np.allclose(got, want["lift"], atol=1e-6)))
    if not e.lift_ok:
        counts = want[["n_control", "n_treatment"]].to_numpy()
        conversions = (want[["control", "treatment"]].to_numpy() * counts).cumsum(axis=0)
        running = conversions[:, 1] / counts[:, 1].cumsum() - conversions[:, 0] / counts[:, 0].cumsum()
        e.cumulative = bool(np.allclose(got, running, atol=1e-6))
        e.relative = bool(np.allclose(got, want["lift"] / want["control"], atol=1e-6))
        return LIFT_BY_DAY.judge(name, e)
    e.cumulative = e.relative = False
    e.__dict__.update(_interval_evidence(table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float), got,
                                         want["se"].to_numpy()))
    return LIFT_BY_DAY.judge(name, e)


LONG_RUN_LIFT = Ladder(
    Misconception("not_a_number", lambda e: not e.finite, "long_run_lift returned a value that is not a finite number."),
    Misconception("naive_novelty_lift", lambda e: e.naive,
                  "Your estimate is the plain difference over the whole test, which averages in the novelty of the "
                  "first days."),
    Misconception("relative_lift", lambda e: e.relative,
                  "Your estimate looks like a relative lift (divided by the control rate), but the lasting effect "
                  "is asked as an absolute difference in conversion rates."),
    Misconception("novelty_not_removed", lambda e: e.same_side_as_naive,
                  "Your estimate still carries part of the novelty: it is off in the same direction as the naive "
                  "lift, so it includes days before the effect had settled."),
    Misconception("wrong_long_run", None,
                  "Your estimate is further from the lasting effect than sampling error allows, on the side away "
                  "from the novelty: check what your function averages and that it uses the frame it is given."),
    passed="Your long-run lift is within sampling error of the lasting effect.",
)


@check("long-run lift", stub_hint="write `long_run_lift(frame)` returning your estimate of the lasting effect",
       ladder=LONG_RUN_LIFT)
def long_run_lift(name: str, long_run_lift, frame: pd.DataFrame, truth) -> CheckResult:
    """``truth`` is the generator's record (``truth.lift`` the lasting effect). Tolerance: 4 standard errors
    of the plain difference over the last third of the test's days, the precision a sound estimator
    (a fit of lift = L + N * exp(-t / tau) by day, or the mean lift once the daily lift has flattened)
    reaches; ~0.0056 with 20,000 users a day for 28 days, while the naive lift is 1.4 points away. The hidden
    experiments' lasting effects differ from the notebook's 1 % and from each other by more than that, so a
    constant cannot pass them all.
    """
    est = float(long_run_lift(frame.copy()))
    last = frame["day"] >= frame["day"].max() * 2 / 3
    tol = 4 * _diff(frame[last])[1]
    naive = _diff(frame)[0]
    e = Evidence(finite=bool(np.isfinite(est)))
    if e.finite and abs(est - truth.lift) <= tol:
        return passed(name, LONG_RUN_LIFT.passed)
    control = frame.loc[frame["treated"] == 0, "converted"].mean()
    e.lazy(naive=lambda: abs(est - naive) <= 0.5 * tol,
           relative=lambda: any(abs(est - rel) <= 0.2 * abs(rel) for rel in (truth.lift / control, naive / control)
                                if rel),
           same_side_as_naive=lambda: np.sign(est - truth.lift) == np.sign(naive - truth.lift))
    return LONG_RUN_LIFT.judge(name, e)


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


def _matches_any(adjusted: np.ndarray, candidates) -> bool:
    return any(np.allclose(c, adjusted, atol=1e-6) for c in candidates)


def _within_groups(p_values: np.ndarray, groups: np.ndarray) -> list[np.ndarray]:
    """Each standard adjustment applied separately within each group (e.g. each column sliced)."""
    per_group = {g: _adjustments(p_values[groups == g]) for g in np.unique(groups)}
    out = []
    for method in next(iter(per_group.values())):
        adj = np.empty_like(p_values)
        for g, by_method in per_group.items():
            adj[groups == g] = by_method[method]
        out.append(adj)
    return out


SEGMENT_EFFECTS = Ladder(
    Misconception("wrong_shape", lambda e: e.problem is not None, "{e.problem}."),
    Misconception("relative_lift", lambda e: e.relative,
                  "Your slice lifts are relative (divided by the control rate); absolute differences in conversion "
                  "rate are what compare segments of different base rates on one scale."),
    Misconception("wrong_lift", lambda e: not e.lift_ok,
                  "Your slice lifts are not each slice's treatment-minus-control conversion rate."),
    Misconception("standard_error_as_interval", lambda e: e.one_se, _ONE_SE),
    Misconception("ninety_percent_interval", lambda e: e.ninety, _NINETY),
    Misconception("wrong_interval", lambda e: not e.interval_ok,
                  "Your slice intervals are not 95 % intervals for a difference in proportions: their width or "
                  "centre does not match each slice's own rates and counts."),
    Misconception("wrong_p_value", lambda e: not e.p_ok,
                  "Your p-values do not match a two-sided test of each slice's lift against zero."),
    Misconception("no_multiple_comparison_correction", lambda e: e.raw_as_adjusted,
                  "Your adjusted p-values equal the raw ones, but across many slices about one in twenty looks "
                  "significant at 5 % by chance alone."),
    Misconception("adjusted_within_column", lambda e: e.within_column,
                  "Your p-values are adjusted within each column separately, but the table's slices are one family: "
                  "the chance of at least one false alarm grows with every slice in the table, whichever column it "
                  "comes from."),
    Misconception("unknown_adjustment", lambda e: not e.adjusted_ok,
                  "Your p_adjusted column is not a standard multiple-comparison adjustment (family-wise or "
                  "false-discovery rate) of your p-values over the whole table."),
    passed="Your slice table has exact lifts, 95 % intervals and p-values adjusted over the whole table.",
)


@check("segment effects", stub_hint="write `segment_effects(frame, columns)` returning one row per slice",
       ladder=SEGMENT_EFFECTS)
def segment_effects(name: str, segment_effects, frame: pd.DataFrame, columns=("segment", "device", "country")
                    ) -> CheckResult:
    """The table must hold one row per (column, value) slice with ``column``, ``value``, ``lift``,
    ``ci_low``, ``ci_high``, ``p_value`` and ``p_adjusted``. Lifts must be exact; intervals as
    :func:`lift_by_day`; p-values within 0.02 or 25 % of the unpooled two-sided z-test (a pooled z or
    chi-square test differs by less); adjusted p-values must be a standard family-wise or false-discovery-rate
    adjustment (statsmodels ``multipletests``) of the learner's own p-values over all the slices of the table, as
    the notebook asks. Adjusting within each column is refused on purpose (it controls errors per column only).
    """
    columns = list(columns)
    table = segment_effects(frame.copy(), columns)
    needed = ("column", "value", "lift", "ci_low", "ci_high", "p_value", "p_adjusted")
    problem = _columns(table, needed, "segment_effects")
    if problem:
        return SEGMENT_EFFECTS.fail(name, "wrong_shape", Evidence(problem=problem))
    table = table.reset_index(drop=True)
    refs = []
    for col in columns:
        r = _lift_table(frame, col)
        r.index = pd.MultiIndex.from_product([[col], r.index.astype(str)])
        refs.append(r)
    want = pd.concat(refs)
    keys = list(zip(table["column"].astype(str), table["value"].astype(str), strict=True))
    if sorted(keys) != sorted(want.index.tolist()):
        return SEGMENT_EFFECTS.fail(name, "wrong_shape", Evidence(
            problem="Your table does not hold one row per slice of the columns given; return one row per "
                    "(column, value), with the column name and the value as text"))
    want = want.loc[keys]
    got = table["lift"].to_numpy(float)
    se = want["se"].to_numpy()
    p = table["p_value"].to_numpy(float)
    adj = table["p_adjusted"].to_numpy(float)
    groups = table["column"].astype(str).to_numpy()
    p_ref = 2 * stats.norm.sf(np.abs(want["lift"].to_numpy() / se))
    e = Evidence(problem=None, what="slice", lift_ok=bool(np.allclose(got, want["lift"], atol=1e-6)))
    e.lazy(relative=lambda: bool(np.allclose(got, want["lift"] / want["control"], atol=1e-6)),
           p_ok=lambda: bool(np.all((np.abs(p - p_ref) <= 0.02) | (np.abs(p - p_ref) <= 0.25 * p_ref))),
           raw_as_adjusted=lambda: bool(np.allclose(adj, p, atol=1e-12)),
           adjusted_ok=lambda: _matches_any(adj, _adjustments(p).values()),
           within_column=lambda: not _matches_any(adj, _adjustments(p).values())
           and _matches_any(adj, _within_groups(p, groups)))
    if e.lift_ok:
        e.__dict__.update(_interval_evidence(table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float), got,
                                             se))
    else:
        e.one_se = e.ninety = False
        e.interval_ok = True
    return SEGMENT_EFFECTS.judge(name, e)


_SHIP = {"ship", "launch", "treatment", "yes", "roll_out", "rollout"}
_HOLD = {"hold", "do_not_ship", "dont_ship", "control", "no", "keep_control", "investigate"}


def _norm(text) -> str:
    return normalise_choice(text).replace("'", "")


SHIP_PLAN = Ladder(
    Misconception("not_a_dict", lambda e: e.not_dict,
                  "ship_to must be a dict with one choice per value of `segment`, as the text above the cell asks."),
    Misconception("missing_segment", lambda e: bool(e.missing), "Your plan says nothing about the segment(s) "
                                                                "{e.missing}."),
    Misconception("unknown_choice", lambda e: e.unknown is not None,
                  "'{e.unknown}' for {e.segment} is not one of the two choices the text above the cell offers."),
    Misconception("averaged_away_harmful_segment", lambda e: e.harmed is not None,
                  "Your plan ships the change to a segment whose conversion it lowers: a small positive average "
                  "over all users hides a harmful segment."),
    Misconception("held_back_winners", lambda e: e.held is not None,
                  "Your plan holds the change back from a segment whose conversion it clearly raises, so those "
                  "users lose a gain the test measured."),
    passed="You ship to the segment the change helps and protect the one it hurts.",
)


@check("who gets the change", stub_hint="fill `ship_to` with 'ship' or 'hold' for every segment", ladder=SHIP_PLAN)
def ship_plan(name: str, ship_to: dict, segment_lifts: dict) -> CheckResult:
    """``segment_lifts`` is the generator's truth; a segment must get "ship" when its true lift is positive
    and "hold" when negative (the notebook's data estimate both at more than 4 standard errors).
    """
    if not isinstance(ship_to, dict):
        return SHIP_PLAN.fail(name, "not_a_dict")
    e = Evidence(not_dict=False, missing=", ".join(s for s in segment_lifts if s not in ship_to), unknown=None,
                 segment=None, harmed=None, held=None)
    if e.missing:
        return SHIP_PLAN.judge(name, e)
    for seg, lift in segment_lifts.items():
        choice = _norm(ship_to[seg])
        if choice not in _SHIP | _HOLD:
            e.unknown, e.segment = ship_to[seg], seg
        elif lift < 0 and choice in _SHIP:
            e.harmed = seg
        elif lift > 0 and choice in _HOLD:
            e.held = seg
        else:
            continue
        return SHIP_PLAN.judge(name, e)
    return passed(name, SHIP_PLAN.passed)


# ---------------------------------------------------------------------------------- clustering
def cluster_robust(frame: pd.DataFrame, cluster: str = "cluster") -> tuple[float, float, float]:
    """(lift, cluster-robust SE, iid SE) of treated-minus-control conversion, by OLS with clustered errors."""
    import statsmodels.formula.api as smf

    fit = smf.ols("converted ~ treated", frame)
    robust = fit.fit(cov_type="cluster", cov_kwds={"groups": frame[cluster]})
    lift, se_iid = _diff(frame)
    return float(robust.params["treated"]), float(robust.bse["treated"]), se_iid


# The implied SE (half-width / 1.96) of sound clustered intervals: cluster-robust OLS is the reference; a t-test on
# cluster means comes within 0.5 % of it on 400-600 clusters (20 seeds, tests), so 0.90-1.12 is wide. A 90 %
# clustered interval sits at 0.84 (0.80-0.88), the iid interval at sqrt(1 / design effect), 0.58-0.71 here.
CLUSTER_SE_BAND = (0.90, 1.12)

CLUSTERED_CI = Ladder(
    Misconception("wrong_shape", lambda e: e.shape_wrong,
                  "clustered_ci must return a dict with the keys lift, ci_low, ci_high, design_effect."),
    Misconception("wrong_lift", lambda e: not e.lift_ok,
                  "Your lift is not the treatment-minus-control difference in conversion rates; clustering changes "
                  "the standard error, not the point estimate."),
    Misconception("iid_standard_error", lambda e: e.iid,
                  "Your interval treats every user as independent, but whole clusters were randomised and users in "
                  "a cluster resemble each other, so it is too narrow."),
    Misconception("ninety_percent_interval", lambda e: e.ninety,
                  "Your interval has the width of a 90 % clustered interval, narrower than the 95 % asked for."),
    Misconception("wrong_interval", lambda e: not e.interval_ok,
                  "Your interval's width does not match the clustered standard error of the lift."),
    Misconception("sqrt_design_effect", lambda e: e.sqrt_deff,
                  "You reported how much the interval widens (the square root of the design effect); the design "
                  "effect is a ratio of variances."),
    Misconception("no_design_effect", lambda e: e.deff_one,
                  "Your design effect is 1, which says clustering costs nothing, although users in a cluster "
                  "resemble each other."),
    Misconception("wrong_design_effect", lambda e: not e.deff_ok,
                  "Your design effect does not match the data: it should measure how much the clustering inflates "
                  "the variance of the lift in the frame given."),
    passed="Your clustered interval is right and your design effect matches the data.",
)


@check("clustered interval", stub_hint="write `clustered_ci(frame)` returning lift, ci_low, ci_high, design_effect",
       ladder=CLUSTERED_CI)
def clustered_ci(name: str, clustered_ci, frame: pd.DataFrame, *, deff_tolerance: float = 0.2) -> CheckResult:
    """Reference: OLS of converted on treated with cluster-robust errors on the same frame. Sound estimators
    (cluster-robust OLS, a t-test on cluster means, ICC from one-way ANOVA) agree within ~0.5 % on the standard
    error and ~0.05 on the design effect on 400-600 clusters, so the implied SE must be in ``CLUSTER_SE_BAND``
    and the design effect within ``deff_tolerance`` of the reference's (cluster-robust / iid variance ratio).
    """
    result = clustered_ci(frame.copy())
    keys = ("lift", "ci_low", "ci_high", "design_effect")
    if not isinstance(result, dict) or any(k not in result for k in keys):
        return CLUSTERED_CI.fail(name, "wrong_shape")
    lift, se_ref, se_iid = cluster_robust(frame)
    deff_ref = (se_ref / se_iid) ** 2
    got, low, high = float(result["lift"]), float(result["ci_low"]), float(result["ci_high"])
    ratio = (high - low) / 2 / ref.z_critical(ALPHA) / se_ref
    iid = abs(ratio - se_iid / se_ref) < 0.05 and se_iid / se_ref < 0.85
    deff = float(result["design_effect"])
    e = Evidence(shape_wrong=False, lift_ok=abs(got - lift) <= 0.25 * se_ref, iid=iid,
                 ninety=not iid and abs(ratio / (ref.z_critical(0.10) / ref.z_critical(ALPHA)) - 1) <= 0.05,
                 interval_ok=CLUSTER_SE_BAND[0] <= ratio <= CLUSTER_SE_BAND[1] and low <= got <= high,
                 deff_ok=abs(deff - deff_ref) <= deff_tolerance,
                 sqrt_deff=abs(deff - np.sqrt(deff_ref)) <= deff_tolerance / 2, deff_one=abs(deff - 1) < 0.05)
    if e.deff_ok:
        e.sqrt_deff = e.deff_one = False
    return CLUSTERED_CI.judge(name, e)


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
    ("peeking", "fixed_horizon"): "the team wants to look every week and stop early when the result is clear, which "
                                  "a fixed-horizon test forbids",
    ("novelty", "report_naive"): "the whole-test average includes the novelty of the first days",
    ("novelty", "first_week"): "the first week is when the novelty is strongest",
    ("segments", "ship_to_all"): "the small positive average hides a segment whose conversion the change lowers",
    ("segments", "ship_to_none"): "one segment clearly gains from the change, and holding it back from everyone "
                                  "gives that gain away",
    ("many_slices", "no_correction"): "with 10 slices the chance that at least one looks significant by chance "
                                      "alone is far above 5 %",
    ("standard_error", "per_user"): "users in a cluster are not independent when whole clusters are randomised",
}
DECISION = decision_ladder(DECISION_CHOICES, _DECISION_MISTAKES,
                           "Your decision controls peeking, removes the novelty, protects the harmed segment, "
                           "corrects for many slices and respects the clusters.")


@check("decision", stub_hint="fill in the `decision` dict with one choice per key", ladder=DECISION)
def decision(name: str, decision: dict) -> CheckResult:
    """One fixed choice per key; ``decision_<key>`` names each known wrong choice."""
    return decide(name, DECISION, decision, DECISION_CHOICES, _DECISION_MISTAKES, _norm)
