"""checks.retraining: every planted mistake yields its misconception id, every correct approach passes.

Also reproduces the figures the retraining_triggers notebook states about its replayed year.
"""

import numpy as np
import pytest
from scipy.stats import binomtest

from mlcasebook.cases import retraining as case
from mlcasebook.checks import retraining as rt
from mlcasebook.datasets import make_contact_campaign
from planted import expect_misconception

# ---------------------------------------------------------------- policies a learner might write


def solution_policy(history):
    current = history[history["version"] == history["version"].iloc[-1]]
    labelled = current.dropna(subset=["error_rate"])
    if len(labelled) < 3:
        return False
    base = labelled["train_error_rate"].iloc[-1]
    z = (labelled["error_rate"] - base) / np.sqrt(base * (1 - base) / labelled["n"])
    return bool((z.tail(3) > 2).all())


def pooled_policy(history, k=2.5, weeks=3):
    """Correct, unusual: one z-test on the errors of the last three labelled weeks pooled."""
    cur = history[history["version"] == history["version"].iloc[-1]].dropna(subset=["error_rate"])
    if len(cur) < weeks:
        return False
    last = cur.tail(weeks)
    base, n = last["train_error_rate"].iloc[-1], last["n"].sum()
    return bool((last["error_rate"] * last["n"]).sum() / n > base + k * np.sqrt(base * (1 - base) / n))


def cusum_policy(history, k=1.0, limit=6.0):
    """Correct, unusual: a one-sided CUSUM of the weekly z-scores of the serving model's error rate."""
    cur = history[history["version"] == history["version"].iloc[-1]].dropna(subset=["error_rate"])
    if len(cur) < 2:
        return False
    base = cur["train_error_rate"].iloc[-1]
    s = 0.0
    for z in (cur["error_rate"] - base) / np.sqrt(base * (1 - base) / cur["n"]):
        s = max(0.0, s + z - k)
    return s > limit


def every_quarter(history):
    return (history["window"].iloc[-1] + 1) % 13 == 0


def never(history):
    return False


def on_drift_alert(history):
    return history["psi"].iloc[-1] > 0.25


def against_first_model(history):
    """Compares any recent labelled week with the deployed model's training error: storms after a change."""
    labelled = history.dropna(subset=["error_rate"])
    if len(labelled) < 2:
        return False
    return labelled["error_rate"].tail(2).mean() > history["train_error_rate"].iloc[0] + 0.02


def hair_trigger(history):
    cur = history[history["version"] == history["version"].iloc[-1]].dropna(subset=["error_rate"])
    return len(cur) > 0 and cur["error_rate"].iloc[-1] > cur["train_error_rate"].iloc[-1]


def twelve_weeks_sure(history):
    """Waits for twelve labelled weeks above the baseline: the right signal, far too late."""
    cur = history[history["version"] == history["version"].iloc[-1]].dropna(subset=["error_rate"])
    if len(cur) < 12:
        return False
    base = cur["train_error_rate"].iloc[-1]
    z = (cur["error_rate"] - base) / np.sqrt(base * (1 - base) / cur["n"])
    return bool((z.tail(12) > 2).all())


# ---------------------------------------------------------------- the notebook's figures


def test_notebook_year_figures():
    replay = rt.notebook_replay()
    never_r, oracle = replay.schedule([]), replay.oracle()
    alert = replay.run(on_drift_alert)
    mine = replay.run(solution_policy)
    # "The oracle retrains twice, each time as soon as the lookback holds labelled weeks from after a change":
    # concept drift at 30, prior shift at 40; with delay 3 and lookback 7 the lookback is post-change from +5/+6
    assert len(oracle.retrains) == 2 and 34 <= oracle.retrains[0] <= 36 and 43 <= oracle.retrains[1] <= 46
    # the drift alarm storms during the price rise (weeks 12-19) and misses the concept drift
    assert 8 <= alert.n_retrains <= 11 and all(12 <= r <= 24 for r in alert.retrains)
    # the model answer's figures: about 1.2 x the oracle for the policy, 1.7 for never, about 2.7 for the alarm
    assert mine.cost / oracle.cost == pytest.approx(1.16, abs=0.1)
    assert never_r.cost / oracle.cost == pytest.approx(1.7, abs=0.1)
    assert 2.5 < alert.cost / oracle.cost < 3.0
    # "the error rate jumps" after the concept drift while PSI stays flat; the price rise moves PSI, not errors
    table = never_r.table.set_index("window")
    assert table.loc[30:33, "error_rate"].mean() - table.loc[24:29, "error_rate"].mean() > 0.04
    assert table.loc[30:33, "psi"].max() - table.loc[24:29, "psi"].max() < 0.1 < table.loc[20, "psi"] - 0.25


def test_narrative_noise_figures():
    # "on 2,000 customers a model with a 14 % error rate has a standard error of about 0.8 points"
    assert np.sqrt(0.14 * 0.86 / 2_000) == pytest.approx(0.008, abs=0.0005)
    # the interview example: 22 vs 18 disagreements on 1,000 labels -> a win of 0.4 points, paired SE ~0.6 points
    d = np.r_[np.ones(22), -np.ones(18), np.zeros(960)]
    assert d.mean() == pytest.approx(0.004) and d.std(ddof=1) / np.sqrt(1_000) == pytest.approx(0.0063, abs=0.0002)
    assert binomtest(22, 40, 0.5, alternative="greater").pvalue > 0.2
    # the holdout: ~220 flagged a week, 10 % held out -> 22, ~15 churners, ~5 saves forgone; a quarter ~290 -> +-5 pts
    frame = rt.notebook_replay().stream.frame
    served = frame[frame["window"] >= case.REFERENCE_WINDOWS]
    flagged_per_week = (served["score"] >= 0.5).groupby(served["window"]).sum().mean()
    precision = served.loc[served["score"] >= 0.5, "label"].mean()
    assert flagged_per_week == pytest.approx(220, rel=0.05) and precision == pytest.approx(0.7, abs=0.02)
    held = 0.1 * flagged_per_week
    assert held * precision == pytest.approx(15, abs=1) and held * precision * case.SAVE_RATE == pytest.approx(5, abs=0.5)
    assert 1.96 * np.sqrt(0.7 * 0.3 / (13 * held)) == pytest.approx(0.05, abs=0.005)


def test_campaign_figures():
    campaign = make_contact_campaign(rt.notebook_replay().stream, random_state=rt.NOTEBOOK_SEED)
    f = campaign.frame
    observed = f.loc[f.flagged, "churned"].mean()
    holdout = f.loc[f.holdout, "churned"].mean()
    # the calls hide ~30 % of the flagged churners: observed ~0.5 against ~0.7 without calls
    assert observed == pytest.approx(campaign.truth.precision * (1 - 0.9 * case.SAVE_RATE), abs=0.02)
    assert abs(holdout - campaign.truth.precision) < 3 * np.sqrt(0.21 / f.holdout.sum())


# ---------------------------------------------------------------- training rows


def rows_mask(frame, now, lookback):
    return frame[(frame["label_available_at"] <= now) & (frame["window"] > now - lookback)]


def rows_query(frame, now, lookback):
    return frame.query("label_available_at <= @now and window >= @now - @lookback + 1")


def rows_between(frame, now, lookback):
    arrived = frame[frame["label_available_at"].le(now)]
    return arrived[arrived["window"].between(now - lookback + 1, now)]


@pytest.mark.parametrize("fn", [rows_mask, rows_query, rows_between])
def test_correct_training_rows_pass(fn):
    assert rt.training_rows_function(fn).passed
    for seed in range(20):
        assert rt.training_rows_function(fn, hidden_seed=4_000 + seed).passed, seed


def test_training_rows_by_window_trains_on_the_unlabelled_future():
    expect_misconception(rt.training_rows_function(
        lambda f, now, lb: f[(f["window"] <= now) & (f["window"] > now - lb)]), "unlabelled_future")
    # the notebook's delay hard-coded: right on the notebook's stream, wrong where labels come later
    hard = lambda f, now, lb: f[(f["window"] <= now - case.LABEL_DELAY) & (f["window"] > now - lb)]  # noqa: E731
    assert rt.training_rows_function(hard).passed
    expect_misconception(rt.training_rows_function(hard, hidden_seed=4_417), "unlabelled_future")


def test_training_rows_planted_mistakes():
    expect_misconception(rt.training_rows_function(lambda f, now, lb: f[f["label_available_at"] <= now]),
                         "ignores_lookback")
    expect_misconception(rt.training_rows_function(
        lambda f, now, lb: f[(f["label_available_at"] < now) & (f["window"] > now - lb)]), "missed_arrived_labels")
    expect_misconception(rt.training_rows_function(
        lambda f, now, lb: (f["label_available_at"] <= now) & (f["window"] > now - lb)), "not_rows")


# ---------------------------------------------------------------- trigger policy


@pytest.mark.parametrize("fn", [solution_policy, pooled_policy, cusum_policy])
def test_correct_policies_pass_on_the_notebook_and_the_hidden_seed(fn):
    assert rt.trigger_policy(fn).passed
    assert rt.trigger_policy(fn, hidden_seed=8_301).passed


@pytest.mark.parametrize(("fn", "misconception"), [
    (every_quarter, "fixed_schedule"), (never, "never_retrains"), (on_drift_alert, "retrains_on_every_alert"),
    (against_first_model, "retrains_before_new_labels"), (hair_trigger, "retrains_on_noise"),
    (twelve_weeks_sure, "too_costly")])
def test_policy_planted_mistakes(fn, misconception):
    expect_misconception(rt.trigger_policy(fn, hidden_seed=8_301), misconception)


def test_policy_planted_mistakes_in_the_notebook():
    expect_misconception(rt.trigger_policy(every_quarter), "fixed_schedule")
    expect_misconception(rt.trigger_policy(never), "never_retrains")
    expect_misconception(rt.trigger_policy(on_drift_alert), "retrains_on_every_alert")
    expect_misconception(rt.trigger_policy(hair_trigger), "retrains_on_noise")


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1_000, 1_020))
def test_allowed_policies_pass_on_20_hidden_seeds(seed):
    """MAX_COST_RATIO's comment: the solution and the alternatives stay under it on 20 seeds of the hidden scenarios;
    never retraining and retraining on every alert stay above it, a calendar is named by its own rung.
    One test per seed (each ~2 s), so the suite's workers share them."""
    for fn in (solution_policy, pooled_policy, cusum_policy):
        result = rt.trigger_policy(fn, hidden_seed=seed)
        assert result.passed, (fn.__name__, result.message)
    replays = rt.hidden_replays(seed)
    drifting = [r for k, r in replays.items() if k != "quiet"]
    oracle = sum(r.oracle().cost for r in drifting)
    # never retraining and retraining on alerts cost more than the multiple (each also has its own rung); a
    # calendar can come in under it (1.5-2.1), so its rung is what names it
    assert sum(r.run(never).cost for r in drifting) / oracle > 0.95 * rt.MAX_COST_RATIO
    assert sum(r.run(on_drift_alert).cost for r in drifting) / oracle > rt.MAX_COST_RATIO
    assert rt.trigger_policy(every_quarter, hidden_seed=seed).misconception == "fixed_schedule"
    rt.hidden_replays.cache_clear()


def test_history_holds_only_the_past():
    """A policy never sees the error rate of a week whose labels have not arrived, nor any future week."""
    replay = rt.notebook_replay()
    seen = []

    def spy(history):
        seen.append(history.copy())
        return len(seen) == 20

    replay.run(spy)
    for history in seen:
        now = history["window"].iloc[-1]
        assert history["window"].max() == now
        late = history["window"] > now - replay.label_delay
        assert history.loc[late, "error_rate"].isna().all() and history.loc[~late, "error_rate"].notna().all()
    assert seen[20]["version"].iloc[-1] == 1 and seen[20]["since_retrain"].iloc[-1] == 0


# ---------------------------------------------------------------- gate


def paired_errors(y, a, b, z=1.645):
    y = np.asarray(y) == 1
    d = ((np.asarray(a) >= 0.5) != y).astype(float) - ((np.asarray(b) >= 0.5) != y)
    se = d.std(ddof=1) / np.sqrt(len(d))
    return bool(se > 0 and d.mean() > z * se)


def mcnemar(y, a, b):
    y = np.asarray(y) == 1
    ea, eb = (np.asarray(a) >= 0.5) != y, (np.asarray(b) >= 0.5) != y
    only_a, only_b = int((ea & ~eb).sum()), int((~ea & eb).sum())
    return only_a + only_b > 0 and binomtest(only_a, only_a + only_b, 0.5, alternative="greater").pvalue < 0.05


def bootstrap_log_loss(y, a, b, draws=300):
    y = np.asarray(y, float)
    a, b = np.clip(a, 1e-9, 1 - 1e-9), np.clip(b, 1e-9, 1 - 1e-9)
    d = -(y * np.log(a) + (1 - y) * np.log(1 - a)) + (y * np.log(b) + (1 - y) * np.log(1 - b))
    idx = np.random.default_rng(0).integers(0, len(d), (draws, len(d)))
    return bool(np.quantile(d[idx].mean(axis=1), 0.05) > 0)


@pytest.mark.parametrize("fn", [paired_errors, mcnemar, bootstrap_log_loss])
def test_correct_gates_pass_on_20_seeds(fn):
    assert rt.gate(fn).passed and rt.gate(fn, seed=9_127).passed
    for seed in range(20):
        assert rt.gate(fn, seed=500 + seed).passed, seed


def test_gate_planted_mistakes():
    def raw(y, a, b):
        y = np.asarray(y) == 1
        return ((np.asarray(b) >= 0.5) != y).mean() < ((np.asarray(a) >= 0.5) != y).mean()

    expect_misconception(rt.gate(raw, seed=9_127), "promotes_on_noise")
    expect_misconception(rt.gate(lambda y, a, b: paired_errors(y, b, a), seed=9_127), "promotes_worse")
    two_sided = lambda y, a, b: paired_errors(y, a, b) or paired_errors(y, b, a)  # noqa: E731
    expect_misconception(rt.gate(two_sided, seed=9_127), "promotes_worse")

    def five_points(y, a, b):
        y = np.asarray(y) == 1
        return ((np.asarray(a) >= 0.5) != y).mean() - ((np.asarray(b) >= 0.5) != y).mean() > 0.05

    expect_misconception(rt.gate(five_points, seed=9_127), "never_promotes")


# ---------------------------------------------------------------- honest precision


def holdout_rate(campaign):
    return campaign.loc[campaign["holdout"], "churned"].mean()


def weekly_holdout_rate(campaign):
    """Correct, unusual: the average of the weekly holdout churn rates."""
    return campaign[campaign["holdout"]].groupby("window")["churned"].mean().mean()


def groupby_rate(campaign):
    return campaign.groupby(["flagged", "holdout"])["churned"].mean().loc[(True, True)]


@pytest.mark.parametrize("seed", [None, *range(6_000, 6_020)])
def test_correct_holdout_estimates_pass(seed):
    """The notebook's campaign and 20 hidden seeds; the three estimators share each seed's campaigns."""
    for fn in (holdout_rate, weekly_holdout_rate, groupby_rate):
        assert rt.honest_precision_function(fn, hidden_seed=seed).passed, fn.__name__


def test_holdout_planted_mistakes():
    expect_misconception(rt.honest_precision_function(lambda c: c.loc[c["flagged"], "churned"].mean(),
                                                      hidden_seed=6_203), "used_treated_labels")
    expect_misconception(rt.honest_precision_function(lambda c: c.loc[c["contacted"], "churned"].mean(),
                                                      hidden_seed=6_203), "used_treated_labels")
    expect_misconception(rt.honest_precision_function(lambda c: c.loc[~c["flagged"], "churned"].mean(),
                                                      hidden_seed=6_203), "wrong_population")
    # corrected with the notebook's save rate: right on the notebook, biased where calls save more or fewer
    corrected = lambda c: c.loc[c["contacted"], "churned"].mean() / (1 - case.SAVE_RATE)  # noqa: E731
    expect_misconception(rt.honest_precision_function(corrected, hidden_seed=6_203), "biased_estimate")


# ---------------------------------------------------------------- decision

RIGHT = {"alert_with_flat_errors": "keep_monitoring", "concept_drift_seen_by": "labelled_error_rate",
         "challenger_small_win": "keep_champion", "labels_for_retraining": "unflagged_and_holdout",
         "errors_jump_with_null_spike": "fix_pipeline"}


def test_decision():
    assert rt.decision(RIGHT).passed
    assert rt.decision({**RIGHT, "challenger_small_win": "Keep champion"}).passed
    assert rt.decision({k: None for k in RIGHT}).status == "not_attempted"
    wrong = {"alert_with_flat_errors": "retrain", "concept_drift_seen_by": "drift_statistics",
             "challenger_small_win": "promote", "labels_for_retraining": "all_observed",
             "errors_jump_with_null_spike": "retrain"}
    planted = {key: rt.decision({**RIGHT, key: choice}) for key, choice in wrong.items()}
    expect_misconception(planted["alert_with_flat_errors"], "decision_alert_with_flat_errors")
    expect_misconception(planted["concept_drift_seen_by"], "decision_concept_drift_seen_by")
    expect_misconception(planted["challenger_small_win"], "decision_challenger_small_win")
    expect_misconception(planted["labels_for_retraining"], "decision_labels_for_retraining")
    expect_misconception(planted["errors_jump_with_null_spike"], "decision_errors_jump_with_null_spike")
    expect_misconception(rt.decision({**RIGHT, "labels_for_retraining": "unflagged_only"}), "decision_labels_for_retraining")
    expect_misconception(rt.decision(["keep_monitoring"]), "not_a_dict")
    expect_misconception(rt.decision({**RIGHT, "challenger_small_win": None}), "missing_key")
    expect_misconception(rt.decision({**RIGHT, "challenger_small_win": "flip_a_coin"}), "unknown_choice")
