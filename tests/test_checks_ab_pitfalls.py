"""Checks of the A/B-test pitfalls case: every planted mistake is named, every sound approach passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from scipy.optimize import curve_fit
from scipy.stats import chi2_contingency
from statsmodels.stats.multitest import multipletests

from mlcasebook import datasets
from mlcasebook.checks import ab_pitfalls as C
from planted import expect_misconception

# ------------------------------------------------------------------------------------ peeking


def walk(n_sims, looks, rng):
    return rng.standard_normal((n_sims, looks)).cumsum(axis=1) / np.sqrt(np.arange(1, looks + 1))


def fpr_binomial(looks, boundary=1.96, n_sims=20_000, rng=None):
    rng = np.random.default_rng(rng)
    bound = np.broadcast_to(np.asarray(boundary, dtype=float), (looks,))
    conv = rng.binomial(500, 0.1, size=(2, n_sims, looks)).cumsum(axis=2)
    n = 500 * np.arange(1, looks + 1)
    a, b = conv[0] / n, conv[1] / n
    pooled = (a + b) / 2
    z = (b - a) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    return float((np.abs(z) > bound).any(axis=1).mean())


def fpr_walk(looks, boundary=1.96, n_sims=20_000, rng=None):
    z = walk(n_sims, looks, np.random.default_rng(rng))
    return float((np.abs(z) > np.asarray(boundary, dtype=float)).any(axis=1).mean())


def fpr_final_only(looks, boundary=1.96, n_sims=20_000, rng=None):
    z = walk(n_sims, looks, np.random.default_rng(rng))
    return float((np.abs(z[:, -1]) > np.broadcast_to(boundary, (looks,))[-1]).mean())


def fpr_independent(looks, boundary=1.96, n_sims=20_000, rng=None):
    z = np.random.default_rng(rng).standard_normal((n_sims, looks))
    return float((np.abs(z) > np.asarray(boundary, dtype=float)).any(axis=1).mean())


def fpr_one_sided(looks, boundary=1.96, n_sims=20_000, rng=None):
    z = walk(n_sims, looks, np.random.default_rng(rng))
    return float((z > np.asarray(boundary, dtype=float)).any(axis=1).mean())


def fpr_ignores_boundary(looks, boundary=1.96, n_sims=20_000, rng=None):
    return fpr_walk(looks, 1.96, n_sims, rng)


def fpr_not_implemented(looks, boundary=1.96, n_sims=20_000, rng=None):
    raise NotImplementedError()


@pytest.mark.parametrize("fn", [fpr_binomial, fpr_walk])
def test_false_positive_rate_accepts_sound_simulations(fn):
    assert C.false_positive_rate(fn).passed


@pytest.mark.parametrize("fn, misconception", [
    (fpr_final_only, "final_look_only"),
    (fpr_independent, "independent_looks"),
    (fpr_one_sided, "one_sided"),
    (fpr_ignores_boundary, "ignores_boundary"),
    (lambda looks, boundary=1.96, n_sims=20_000, rng=None: 0.5, "wrong_rate"),
])
def test_false_positive_rate_names_the_mistake(fn, misconception):
    result = C.false_positive_rate(fn)
    assert result.status == "failed" and result.misconception == misconception, result


def fpr_first_boundary_value(looks, boundary=1.96, n_sims=20_000, rng=None):
    """Reads the boundary as one number (its first value): right for a constant boundary only."""
    return fpr_walk(looks, float(np.atleast_1d(boundary)[0]), n_sims, rng)


HIDDEN_LOOKS = (3, 4, 8, 15)  # the notebook's hidden grid: none of the looks its text quotes rates for


def test_false_positive_rate_planted():
    expect_misconception(C.false_positive_rate(fpr_final_only, looks_grid=HIDDEN_LOOKS), "final_look_only")
    expect_misconception(C.false_positive_rate(fpr_independent, looks_grid=HIDDEN_LOOKS), "independent_looks")
    expect_misconception(C.false_positive_rate(fpr_one_sided, looks_grid=HIDDEN_LOOKS), "one_sided")
    expect_misconception(C.false_positive_rate(fpr_ignores_boundary, looks_grid=HIDDEN_LOOKS), "ignores_boundary")
    expect_misconception(C.false_positive_rate(fpr_first_boundary_value, looks_grid=HIDDEN_LOOKS),
                         "boundary_not_per_look")
    expect_misconception(C.false_positive_rate(fpr_batches_of(10), looks_grid=HIDDEN_LOOKS), "too_few_users_per_look")
    # the notebook's rates typed in as a table: right on the looks the text quotes, wrong on any other
    table = {1: 0.05, 2: 0.083, 5: 0.142, 10: 0.193, 20: 0.248}
    expect_misconception(C.false_positive_rate(lambda looks, boundary, n_sims, rng: table.get(looks, 0.2),
                                               looks_grid=HIDDEN_LOOKS), "wrong_rate")
    assert C.false_positive_rate(lambda looks, boundary, n_sims, rng: table[looks]).status == "failed"


@pytest.mark.parametrize("fn", [fpr_binomial, fpr_walk])
def test_false_positive_rate_sound_simulations_pass_on_many_seeds(fn):
    # 20 hidden seeds at 5,000 runs a call (the tolerance scales with the runs): a sound simulator always passes
    for seed in range(20):
        result = C.false_positive_rate(fn, seed=1_000 + seed, n_sims=5_000, looks_grid=HIDDEN_LOOKS)
        assert result.passed, (seed, result)


def fpr_batches_of(batch):
    def fpr(looks, boundary=1.96, n_sims=20_000, rng=None):
        rng = np.random.default_rng(rng)
        bound = np.broadcast_to(np.asarray(boundary, dtype=float), (looks,))
        conv = rng.binomial(batch, 0.1, size=(2, n_sims, looks)).cumsum(axis=2)
        n = batch * np.arange(1, looks + 1)
        a, b = conv[0] / n, conv[1] / n
        pooled = (a + b) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (b - a) / np.sqrt(pooled * (1 - pooled) * 2 / n)
        return float((np.abs(z) > bound).any(axis=1).mean())
    return fpr


@pytest.mark.parametrize("seed", [12345, 774_201])
@pytest.mark.parametrize("batch", [5, 10, 20])
def test_false_positive_rate_names_batches_that_are_too_small(batch, seed):
    # a sound simulation with a handful of users per look must not be told it tests only the final look or
    # ignores the boundary array: the message names the batch size the notebook asks for
    result = C.false_positive_rate(fpr_batches_of(batch), seed=seed)
    assert result.status == "failed" and result.misconception == "too_few_users_per_look", result
    assert "500 users per arm" in result.message


def test_false_positive_rate_accepts_the_notebooks_batches():
    assert C.false_positive_rate(fpr_batches_of(500), seed=774_201).passed


def test_false_positive_rate_stub_is_not_attempted():
    assert C.false_positive_rate(None).status == "not_attempted"
    assert C.false_positive_rate(fpr_not_implemented).status == "not_attempted"


def pocock(looks, alpha=0.05, n_sims=100_000, rng=None):
    z = np.abs(walk(n_sims, looks, np.random.default_rng(rng)))
    return np.full(looks, np.quantile(z.max(axis=1), 1 - alpha))


def obrien_fleming_spending(looks, alpha=0.05, n_sims=100_000, rng=None):
    z = np.abs(walk(n_sims, looks, np.random.default_rng(rng)))
    spent = 2 * stats.norm.sf(stats.norm.isf(alpha / 2) / np.sqrt(np.arange(1, looks + 1) / looks))
    alive, bounds = np.ones(n_sims, dtype=bool), []
    for k in range(looks):
        allowed = int(round(spent[k] * n_sims)) - int((~alive).sum())
        ranked = np.sort(z[alive, k])[::-1]
        bounds.append(ranked[allowed] if allowed > 0 else np.inf)
        alive &= ~(z[:, k] > bounds[-1])
    return np.array(bounds)


def bonferroni(looks, alpha=0.05, n_sims=0, rng=None):
    return np.full(looks, stats.norm.isf(alpha / 2 / looks))


@pytest.mark.parametrize("fn", [pocock, obrien_fleming_spending])
def test_sequential_boundary_accepts_pocock_and_alpha_spending(fn):
    assert C.sequential_boundary(fn, looks_grid=(3, 5, 8)).passed


@pytest.mark.parametrize("fn, accepted", [(pocock, True), (obrien_fleming_spending, True), (bonferroni, False)])
def test_sequential_boundary_rule_holds_on_many_seeds(fn, accepted):
    # the rule the notebook states: the overall rate must be alpha itself. Pocock and alpha spending pass on every
    # seed, Bonferroni (rate 0.039 at K = 3, 0.033 at K = 5, below 0.05 - 4 SE = 0.043) is refused on every seed.
    for seed in range(20):
        result = C.sequential_boundary(fn, seed=seed, looks_grid=(3, 5), n_sims=20_000, n_eval=40_000)
        assert result.passed == accepted, (seed, result)
        if not accepted:
            expect_misconception(result, "bonferroni_looks")


@pytest.mark.parametrize("fn, misconception", [
    (lambda looks, alpha=0.05, n_sims=0, rng=None: np.full(looks, 1.96), "naive_peeking"),
    (lambda looks, alpha=0.05, n_sims=0, rng=None: np.full(looks, stats.norm.isf(alpha / 2 / looks)),
     "bonferroni_looks"),
    (lambda looks, alpha=0.05, n_sims=0, rng=None: np.r_[np.full(looks - 1, np.inf), 1.96], "never_stops_early"),
    (lambda looks, alpha=0.05, n_sims=0, rng=None: 2.2, "alpha_not_controlled"),
    (lambda looks, alpha=0.05, n_sims=0, rng=None: 2.8, "too_conservative"),
])
def test_sequential_boundary_names_the_mistake(fn, misconception):
    result = C.sequential_boundary(fn)
    assert result.status == "failed" and result.misconception == misconception, result


def test_sequential_boundary_planted():
    grid = (3, 5, 8)
    expect_misconception(C.sequential_boundary(lambda looks, alpha, n_sims, rng: np.full(looks, 1.96),
                                               looks_grid=grid), "naive_peeking")
    expect_misconception(C.sequential_boundary(bonferroni, looks_grid=grid), "bonferroni_looks")
    # Pocock's constant for 5 looks, typed in from the notebook's text, used whatever `looks` is
    expect_misconception(C.sequential_boundary(lambda looks, alpha, n_sims, rng: np.full(looks, 2.413),
                                               looks_grid=grid), "ignores_looks")
    expect_misconception(C.sequential_boundary(lambda looks, alpha, n_sims, rng: np.r_[np.full(looks - 1, np.inf),
                                                                                       1.96], looks_grid=grid),
                         "never_stops_early")
    expect_misconception(C.sequential_boundary(lambda looks, alpha, n_sims, rng: 2.2), "alpha_not_controlled")
    expect_misconception(C.sequential_boundary(lambda looks, alpha, n_sims, rng: 2.8), "too_conservative")
    expect_misconception(C.sequential_boundary(lambda looks, alpha, n_sims, rng: np.full(looks, np.nan)),
                         "not_a_boundary")
    # Pocock calibrated at alpha 0.05 whatever alpha it is asked for
    expect_misconception(C.sequential_boundary(lambda looks, alpha, n_sims, rng: pocock(looks, 0.05, n_sims, rng),
                                               looks_grid=grid), "ignores_alpha")


def test_reference_simulation_reproduces_the_curriculum_figures():
    # exact values for Gaussian increments (Armitage, McPherson & Rowe 1969): 0.083, 0.142, 0.193, 0.248;
    # the curriculum's Monte-Carlo figures 0.081, 0.145, 0.193, 0.249. 200,000 runs: SE <= 0.001.
    for looks, exact, curriculum in ((2, 0.083, 0.081), (5, 0.142, 0.145), (10, 0.193, 0.193), (20, 0.248, 0.249)):
        rate = C.reference_fpr(looks)
        assert abs(rate - exact) < 0.004
        assert abs(rate - curriculum) < 0.006
    assert abs(C.reference_fpr(1) - 0.05) < 0.003
    assert abs(C.reference_pocock(5) - 2.413) < 0.02  # quantile of max |z|: SE ~0.006 at 200,000 runs
    assert abs(C.reference_fpr(5, C.reference_pocock(5), seed=1) - 0.05) < 0.003


# ------------------------------------------------------------------------------------ novelty


@pytest.fixture(scope="module")
def novelty():
    return datasets.make_ab_experiment(560_000, daily_traffic=20_000, baseline_rate=0.10, lift=0.01,
                                       novelty_lift=0.07, novelty_half_life=5 * np.log(2), random_state=11)


def lift_by_day(frame):
    g = frame.groupby(["day", "treated"])["converted"].agg(["mean", "count"]).unstack("treated")
    p_c, p_t, n_c, n_t = g[("mean", 0)], g[("mean", 1)], g[("count", 0)], g[("count", 1)]
    lift = p_t - p_c
    se = np.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    return pd.DataFrame({"lift": lift, "ci_low": lift - 1.96 * se, "ci_high": lift + 1.96 * se, "se": se})


def lift_by_day_pooled(frame):
    out = lift_by_day(frame)
    pooled = frame.groupby("day")["converted"].mean()
    n = frame.groupby(["day", "treated"]).size().unstack("treated")
    se = np.sqrt(pooled * (1 - pooled) * (1 / n[0] + 1 / n[1]))
    return out.assign(ci_low=out["lift"] - 1.96 * se, ci_high=out["lift"] + 1.96 * se)


def lift_by_day_cumulative(frame):
    totals = frame.groupby(["day", "treated"])["converted"].agg(["sum", "count"]).unstack("treated").cumsum()
    lift = totals[("sum", 1)] / totals[("count", 1)] - totals[("sum", 0)] / totals[("count", 0)]
    return pd.DataFrame({"lift": lift, "ci_low": lift - 0.01, "ci_high": lift + 0.01})


def lift_by_day_relative(frame):
    g = frame.groupby(["day", "treated"])["converted"].mean().unstack("treated")
    out = lift_by_day(frame)
    return out.assign(lift=out["lift"] / g[0])


def lift_by_day_one_se(frame):
    out = lift_by_day(frame)
    return out.assign(ci_low=out["lift"] - out["se"], ci_high=out["lift"] + out["se"])


def lift_by_day_90(frame):
    out = lift_by_day(frame)
    return out.assign(ci_low=out["lift"] - 1.645 * out["se"], ci_high=out["lift"] + 1.645 * out["se"])


@pytest.mark.parametrize("fn", [lift_by_day, lift_by_day_pooled])
def test_lift_by_day_accepts_pooled_and_unpooled(novelty, fn):
    assert C.lift_by_day(fn, novelty.frame).passed


@pytest.mark.parametrize("fn, misconception", [
    (lift_by_day_cumulative, "cumulative_lift"),
    (lift_by_day_relative, "relative_lift"),
    (lift_by_day_one_se, "standard_error_as_interval"),
    (lift_by_day_90, "ninety_percent_interval"),
    (lambda frame: lift_by_day(frame).drop(columns="ci_low"), "wrong_shape"),
    (lambda frame: lift_by_day(frame).assign(lift=lambda t: t["lift"] + 0.01), "wrong_lift"),
])
def test_lift_by_day_names_the_mistake(novelty, fn, misconception):
    result = C.lift_by_day(fn, novelty.frame)
    assert result.status == "failed" and result.misconception == misconception, result


def test_lift_by_day_planted(novelty):
    f = novelty.frame
    expect_misconception(C.lift_by_day(lift_by_day_cumulative, f), "cumulative_lift")
    expect_misconception(C.lift_by_day(lift_by_day_relative, f), "relative_lift")
    expect_misconception(C.lift_by_day(lift_by_day_one_se, f), "standard_error_as_interval")
    # z of a one-sided 5 % test: a 90 % interval, named as such (not a wrong standard error)
    expect_misconception(C.lift_by_day(lift_by_day_90, f), "ninety_percent_interval")
    expect_misconception(C.lift_by_day(lambda frame: lift_by_day(frame).assign(ci_high=lambda t: t["ci_high"] + 0.01),
                                       f), "wrong_interval")
    expect_misconception(C.lift_by_day(lambda frame: lift_by_day(frame).iloc[:-1], f), "wrong_shape")
    expect_misconception(C.lift_by_day(lambda frame: lift_by_day(frame).assign(lift=lambda t: t["lift"] + 0.01), f),
                         "wrong_lift")


def long_run_fit(frame):
    daily = lift_by_day(frame)
    late = daily["lift"].iloc[-7:].mean()
    params, _ = curve_fit(lambda t, a, b, tau: a + b * np.exp(-t / tau), daily.index.to_numpy(float), daily["lift"],
                          p0=[late, daily["lift"].iloc[0] - late, 3.0], sigma=daily["se"], absolute_sigma=True,
                          bounds=([-1, -1, 0.1], [1, 1, 100]))
    return float(params[0])


def long_run_late(frame):
    settled = frame[frame["day"] >= frame["day"].max() * 2 / 3]
    rates = settled.groupby("treated")["converted"].mean()
    return float(rates[1] - rates[0])


def naive(frame):
    rates = frame.groupby("treated")["converted"].mean()
    return float(rates[1] - rates[0])


@pytest.mark.parametrize("fn", [long_run_fit, long_run_late])
def test_long_run_lift_accepts_a_fit_or_the_settled_days(novelty, fn):
    assert C.long_run_lift(fn, novelty.frame, novelty.truth).passed


@pytest.mark.parametrize("fn, misconception", [
    (naive, "naive_novelty_lift"),
    (lambda frame: naive(frame[frame["day"] < 7]), "novelty_not_removed"),
    (lambda frame: long_run_late(frame) / frame.loc[frame["treated"] == 0, "converted"].mean(), "relative_lift"),
    (lambda frame: -0.02, "wrong_long_run"),
    (lambda frame: float("nan"), "not_a_number"),
])
def test_long_run_lift_names_the_mistake(novelty, fn, misconception):
    result = C.long_run_lift(fn, novelty.frame, novelty.truth)
    assert result.status == "failed" and result.misconception == misconception, result


def test_long_run_lift_planted(novelty):
    f, truth = novelty.frame, novelty.truth
    expect_misconception(C.long_run_lift(naive, f, truth), "naive_novelty_lift")
    expect_misconception(C.long_run_lift(lambda frame: naive(frame[frame["day"] < 7]), f, truth), "novelty_not_removed")
    expect_misconception(C.long_run_lift(lambda frame: long_run_late(frame) / frame.loc[frame["treated"] == 0,
                                                                                        "converted"].mean(), f, truth),
                         "relative_lift")
    expect_misconception(C.long_run_lift(lambda frame: -0.02, f, truth), "wrong_long_run")
    expect_misconception(C.long_run_lift(lambda frame: float("nan"), f, truth), "not_a_number")


# the notebook's hidden experiments: lasting effects 2.5 % (novelty +5 pp) and 0 (a primacy effect, -4 pp),
# both further than the tolerance (~0.0056) from the notebook's 1 % and from each other
HIDDEN_NOVELTY = (dict(lift=0.025, novelty_lift=0.05, novelty_half_life=3.0),
                  dict(lift=0.0, novelty_lift=-0.04, novelty_half_life=4.0))


@pytest.mark.parametrize("fn", [long_run_fit, long_run_late])
def test_long_run_sound_methods_pass_on_many_seeds(fn):
    # smaller experiments than the notebook's (3,000 users a day; the tolerance scales with them): a fit of the
    # decay and the settled days pass on every seed, for both hidden kinds of novelty
    for seed in range(10):
        for kwargs in HIDDEN_NOVELTY:
            data = datasets.make_ab_experiment(84_000, daily_traffic=3_000, baseline_rate=0.10, random_state=seed,
                                               **kwargs)
            assert C.long_run_lift(fn, data.frame, data.truth).passed, (seed, kwargs)


def test_long_run_constant_cannot_pass_the_hidden_experiments():
    # at the notebook's size (tolerance ~0.0056) no single number is within tolerance of both lasting effects;
    # before, the hidden effects were 1.5 % and 1 % and the notebook's 1 % typed in passed both
    for kwargs, seed in zip(HIDDEN_NOVELTY, (91_237, 55_104), strict=True):
        data = datasets.make_ab_experiment(560_000, daily_traffic=20_000, baseline_rate=0.10, random_state=seed,
                                           **kwargs)
        assert not C.long_run_lift(lambda f: 0.01, data.frame, data.truth).passed
        assert C.long_run_lift(long_run_fit, data.frame, data.truth).passed


# ------------------------------------------------------------------------------ heterogeneity
SLICES = ["segment", "device", "country"]


@pytest.fixture(scope="module")
def sliced():
    return datasets.make_sliced_experiment(40_000, random_state=3)


def segment_effects(frame, columns, method="holm", per_column=False, test="z"):
    rows = []
    for column in columns:
        for value, d in frame.groupby(column):
            t, c = d.loc[d["treated"] == 1, "converted"], d.loc[d["treated"] == 0, "converted"]
            lift = t.mean() - c.mean()
            se = np.sqrt(t.var(ddof=0) / len(t) + c.var(ddof=0) / len(c))
            if test == "z":
                p = 2 * stats.norm.sf(abs(lift) / se)
            else:
                p = chi2_contingency([[t.sum(), len(t) - t.sum()], [c.sum(), len(c) - c.sum()]], correction=False)[1]
            rows.append({"column": column, "value": str(value), "lift": lift, "ci_low": lift - 1.96 * se,
                         "ci_high": lift + 1.96 * se, "p_value": p})
    out = pd.DataFrame(rows)
    adjust = adjusted  # statsmodels' Holm calls gc.collect() (~0.5 s); C._adjustments matches it (tested below)
    if per_column:
        out["p_adjusted"] = out.groupby("column")["p_value"].transform(lambda p: adjust(p.to_numpy(), method))
    else:
        out["p_adjusted"] = adjust(out["p_value"].to_numpy(), method)
    return out


def adjusted(p, method):
    return C._adjustments(p)[method]


def test_adjustments_match_statsmodels():
    rng = np.random.default_rng(0)
    for _ in range(2):
        p = rng.uniform(0, 1, 10) ** 3
        for method, values in C._adjustments(p).items():
            np.testing.assert_allclose(values, multipletests(p, method=method)[1], atol=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"method": "fdr_bh", "test": "chi2"}, {"method": "bonferroni"},
                                    {"method": "holm-sidak"}])
def test_segment_effects_accepts_standard_adjustments(sliced, kwargs):
    assert C.segment_effects(lambda f, cols: segment_effects(f, cols, **kwargs), sliced.frame, SLICES).passed


HIDDEN_SEGMENTS = {"new": (0.3, 0.04), "returning": (0.5, -0.01), "reactivated": (0.2, 0.0)}


def test_segment_adjustment_rule_holds_on_many_seeds():
    # the notebook asks for p-values adjusted over the whole table: Holm or BH over all slices pass on every
    # seed, Holm within each column (it controls errors per column only) is refused on every seed
    for seed in range(20):
        data = datasets.make_sliced_experiment(6_000, segments=HIDDEN_SEGMENTS, devices=("desktop", "mobile"),
                                               countries=("fr", "jp", "mx", "us"), random_state=seed)
        for kwargs in ({"method": "holm"}, {"method": "fdr_bh", "test": "chi2"}):
            sound = C.segment_effects(lambda f, c, kw=kwargs: segment_effects(f, c, **kw), data.frame, SLICES)
            assert sound.passed, (seed, kwargs, sound)
        per_column = C.segment_effects(lambda f, c: segment_effects(f, c, per_column=True), data.frame, SLICES)
        expect_misconception(per_column, "adjusted_within_column")


def _planted(change):
    def fn(frame, columns):
        return change(segment_effects(frame, columns), frame)
    return fn


def _relative(t, frame):
    control = pd.concat([frame.loc[frame["treated"] == 0].groupby(c)["converted"].mean() for c in SLICES])
    return t.assign(lift=t["lift"].to_numpy() / control.to_numpy())


@pytest.mark.parametrize("change, misconception", [
    (lambda t, f: t.assign(p_adjusted=t["p_value"]), "no_multiple_comparison_correction"),
    (lambda t, f: t.assign(p_adjusted=np.minimum(1, 3 * t["p_value"])), "unknown_adjustment"),
    (lambda t, f: t.assign(p_value=t["p_value"] / 2, p_adjusted=adjusted(t["p_value"].to_numpy() / 2, "holm")),
     "wrong_p_value"),
    (_relative, "relative_lift"),
    (lambda t, f: t.assign(ci_low=t["lift"] - (t["ci_high"] - t["lift"]) / 1.96,
                           ci_high=t["lift"] + (t["ci_high"] - t["lift"]) / 1.96), "standard_error_as_interval"),
    (lambda t, f: t.iloc[:2], "wrong_shape"),
    (lambda t, f: t.drop(columns="p_adjusted"), "wrong_shape"),
    (lambda t, f: t.assign(lift=t["lift"] * 0), "wrong_lift"),
])
def test_segment_effects_names_the_mistake(sliced, change, misconception):
    result = C.segment_effects(_planted(change), sliced.frame, SLICES)
    assert result.status == "failed" and result.misconception == misconception, result


def test_segment_effects_planted(sliced):
    f = sliced.frame

    def check(change):
        return C.segment_effects(_planted(change), f, SLICES)

    expect_misconception(check(lambda t, _: t.assign(p_adjusted=t["p_value"])), "no_multiple_comparison_correction")
    expect_misconception(C.segment_effects(lambda fr, cols: segment_effects(fr, cols, per_column=True), f, SLICES),
                         "adjusted_within_column")
    expect_misconception(check(lambda t, _: t.assign(p_adjusted=np.minimum(1, 3 * t["p_value"]))),
                         "unknown_adjustment")
    expect_misconception(check(lambda t, _: t.assign(p_value=t["p_value"] / 2,
                                                     p_adjusted=adjusted(t["p_value"].to_numpy() / 2, "holm"))),
                         "wrong_p_value")
    expect_misconception(check(_relative), "relative_lift")
    half = lambda t: t["ci_high"] - t["lift"]  # noqa: E731
    expect_misconception(check(lambda t, _: t.assign(ci_low=t["lift"] - half(t) / 1.96, ci_high=t["lift"] + half(t)
                                                     / 1.96)), "standard_error_as_interval")
    expect_misconception(check(lambda t, _: t.assign(ci_low=t["lift"] - half(t) * 1.645 / 1.96,
                                                     ci_high=t["lift"] + half(t) * 1.645 / 1.96)),
                         "ninety_percent_interval")
    expect_misconception(check(lambda t, _: t.assign(ci_high=t["ci_high"] + 0.05)), "wrong_interval")
    expect_misconception(check(lambda t, _: t.iloc[:2]), "wrong_shape")
    expect_misconception(check(lambda t, _: t.assign(lift=t["lift"] * 0)), "wrong_lift")


def test_ship_plan(sliced):
    lifts = sliced.truth.experiment.segment_lifts
    assert C.ship_plan({"new": "ship", "returning": "hold"}, lifts).passed
    assert C.ship_plan({"new": "Ship", "returning": "do not ship"}, lifts).passed
    cases = [({"new": "ship", "returning": "ship"}, "averaged_away_harmful_segment"),
             ({"new": "hold", "returning": "hold"}, "held_back_winners"),
             ({"new": "ship"}, "missing_segment"),
             ({"new": "ship", "returning": "maybe"}, "unknown_choice")]
    for plan, misconception in cases:
        result = C.ship_plan(plan, lifts)
        assert result.status == "failed" and result.misconception == misconception, (plan, result)
    assert C.ship_plan(None, lifts).status == "not_attempted"
    # shipping to every segment (or to none) is told the mistake, not which segment to hold or ship
    for plan in ({"new": "ship", "returning": "ship"}, {"new": "hold", "returning": "hold"}):
        message = C.ship_plan(plan, lifts).message.lower()
        assert "new" not in message.split() and "returning" not in message and "segment_effects" not in message
    expect_misconception(C.ship_plan({"new": "ship", "returning": "ship"}, lifts), "averaged_away_harmful_segment")
    expect_misconception(C.ship_plan({"new": "hold", "returning": "hold"}, lifts), "held_back_winners")
    expect_misconception(C.ship_plan({"new": "ship"}, lifts), "missing_segment")
    expect_misconception(C.ship_plan({"new": "ship", "returning": "maybe"}, lifts), "unknown_choice")
    expect_misconception(C.ship_plan(["new"], lifts), "not_a_dict")


# --------------------------------------------------------------------------------- clustering


@pytest.fixture(scope="module")
def clustered():
    return datasets.make_ab_experiment(20_000, lift=0.01, n_clusters=400, icc=0.02, randomise_by="cluster",
                                       random_state=4)


def clustered_robust(frame):
    model = smf.ols("converted ~ treated", data=frame)
    robust, iid = model.fit(cov_type="cluster", cov_kwds={"groups": frame["cluster"]}), model.fit()
    lift, se = robust.params["treated"], robust.bse["treated"]
    return {"lift": lift, "ci_low": lift - 1.96 * se, "ci_high": lift + 1.96 * se,
            "design_effect": (se / iid.bse["treated"]) ** 2}


def clustered_means(frame):
    means = frame.groupby(["cluster", "treated"], as_index=False)["converted"].mean()
    a, b = means.loc[means["treated"] == 1, "converted"], means.loc[means["treated"] == 0, "converted"]
    lift, se = a.mean() - b.mean(), np.sqrt(a.var() / len(a) + b.var() / len(b))
    q = stats.t.ppf(0.975, len(a) + len(b) - 2)
    resid = frame["converted"] - frame.groupby("treated")["converted"].transform("mean")
    m, k = frame.groupby("cluster").size().mean(), frame["cluster"].nunique()
    cm = resid.groupby(frame["cluster"]).mean()
    msb = m * (cm**2).sum() / (k - 2)
    msw = ((resid - frame["cluster"].map(cm)) ** 2).sum() / (len(frame) - k)
    icc = (msb - msw) / (msb + (m - 1) * msw)
    return {"lift": lift, "ci_low": lift - q * se, "ci_high": lift + q * se, "design_effect": 1 + (m - 1) * icc}


def _iid(frame):
    fit = smf.ols("converted ~ treated", data=frame).fit()
    lift, se = fit.params["treated"], fit.bse["treated"]
    return {"lift": lift, "ci_low": lift - 1.96 * se, "ci_high": lift + 1.96 * se, "design_effect": 1.0}


@pytest.mark.parametrize("fn", [clustered_robust, clustered_means])
def test_clustered_ci_accepts_robust_errors_and_cluster_means(clustered, fn):
    assert C.clustered_ci(fn, clustered.frame).passed


@pytest.mark.parametrize("fn, misconception", [
    (_iid, "iid_standard_error"),
    (lambda f: {**clustered_robust(f), "design_effect": np.sqrt(clustered_robust(f)["design_effect"])},
     "sqrt_design_effect"),
    (lambda f: {**clustered_robust(f), "design_effect": 1.0}, "no_design_effect"),
    (lambda f: {**clustered_robust(f), "design_effect": 5.0}, "wrong_design_effect"),
    (lambda f: {**clustered_robust(f), "lift": 0.1}, "wrong_lift"),
    (lambda f: {**clustered_robust(f), "ci_high": clustered_robust(f)["ci_high"] + 0.05}, "wrong_interval"),
    (lambda f: (0.01, 0.0, 0.02), "wrong_shape"),
])
def test_clustered_ci_names_the_mistake(clustered, fn, misconception):
    result = C.clustered_ci(fn, clustered.frame)
    assert result.status == "failed" and result.misconception == misconception, result


def test_clustered_ci_planted(clustered):
    f = clustered.frame
    robust = clustered_robust(f)

    def with_z(z):
        half = (robust["ci_high"] - robust["lift"]) * z / 1.96
        return lambda frame: {**robust, "ci_low": robust["lift"] - half, "ci_high": robust["lift"] + half}

    expect_misconception(C.clustered_ci(_iid, f), "iid_standard_error")
    expect_misconception(C.clustered_ci(with_z(1.645), f), "ninety_percent_interval")
    expect_misconception(C.clustered_ci(with_z(2.6), f), "wrong_interval")
    expect_misconception(C.clustered_ci(lambda fr: {**robust, "design_effect": np.sqrt(robust["design_effect"])}, f),
                         "sqrt_design_effect")
    expect_misconception(C.clustered_ci(lambda fr: {**robust, "design_effect": 1.0}, f), "no_design_effect")
    expect_misconception(C.clustered_ci(lambda fr: {**robust, "design_effect": 5.0}, f), "wrong_design_effect")
    expect_misconception(C.clustered_ci(lambda fr: {**robust, "lift": 0.1}, f), "wrong_lift")
    expect_misconception(C.clustered_ci(lambda fr: (0.01, 0.0, 0.02), f), "wrong_shape")


def test_clustered_ci_cluster_means_pass_on_many_seeds():
    # the implied-SE band 0.90-1.12 and the design-effect tolerance 0.2 on the notebook's hidden settings, for the
    # method that is not the reference itself (a t-test on cluster means with an ANOVA estimate of the ICC)
    fn = clustered_means
    for seed in range(20):
        kwargs = dict(n_clusters=400, icc=0.02) if seed % 2 else dict(n_clusters=600, icc=0.05)
        data = datasets.make_ab_experiment(24_000, baseline_rate=0.12, lift=0.015, randomise_by="cluster",
                                           random_state=seed, **kwargs)
        assert C.clustered_ci(fn, data.frame).passed, seed


def test_clustered_ci_reports_learner_errors(clustered):
    def broken(frame):
        return {"lift": frame["nope"].mean()}
    assert C.clustered_ci(broken, clustered.frame).status == "error"


# ----------------------------------------------------------------------------------- decision
GOOD = {"peeking": "alpha_spending", "novelty": "long_run_estimate", "segments": "ship_to_new_only",
        "many_slices": "holm", "standard_error": "cluster_robust"}


def test_decision_accepts_every_sound_choice():
    assert C.decision(GOOD).passed
    assert C.decision({**GOOD, "peeking": "Pocock", "many_slices": "benjamini-hochberg"}).passed


@pytest.mark.parametrize("key, choice", [
    ("peeking", "stop_at_first_significant"), ("peeking", "fixed_horizon"), ("novelty", "report_naive"),
    ("novelty", "first_week"), ("segments", "ship_to_all"), ("segments", "ship_to_none"),
    ("many_slices", "no_correction"), ("standard_error", "per_user"),
])
def test_decision_names_each_wrong_choice(key, choice):
    result = C.decision({**GOOD, key: choice})
    assert result.status == "failed" and result.misconception == f"decision_{key}", result


@pytest.mark.parametrize("key, choice", [("segments", "ship_to_all"), ("segments", "ship_to_none"),
                                         ("peeking", "fixed_horizon"), ("many_slices", "no_correction")])
def test_decision_messages_do_not_name_the_answer(key, choice):
    message = C.decision({**GOOD, key: choice}).message.lower()
    for answer in ("new", "returning", "pocock", "alpha_spending", "alpha spending", "holm", "bonferroni",
                   "benjamini"):
        assert answer not in message.replace(",", " ").split() and answer.replace("_", " ") not in message, message


def test_decision_planted():
    expect_misconception(C.decision({**GOOD, "peeking": "stop_at_first_significant"}), "decision_peeking")
    expect_misconception(C.decision({**GOOD, "novelty": "report_naive"}), "decision_novelty")
    expect_misconception(C.decision({**GOOD, "segments": "ship_to_all"}), "decision_segments")
    expect_misconception(C.decision({**GOOD, "many_slices": "no_correction"}), "decision_many_slices")
    expect_misconception(C.decision({**GOOD, "standard_error": "per_user"}), "decision_standard_error")
    expect_misconception(C.decision({**GOOD, "novelty": None}), "missing_key")
    expect_misconception(C.decision({**GOOD, "novelty": "vibes"}), "unknown_choice")
    expect_misconception(C.decision(["pocock"]), "not_a_dict")


def test_decision_incomplete_or_unknown():
    assert C.decision(None).status == "not_attempted"
    assert C.decision({k: None for k in GOOD}).status == "not_attempted"
    assert C.decision({**GOOD, "novelty": None}).misconception == "missing_key"
    assert C.decision({**GOOD, "novelty": "vibes"}).misconception == "unknown_choice"
    assert C.decision(["pocock"]).misconception == "not_a_dict"
