"""make_degradation_stream keeps the production stream's customers and truth and changes only what it says: the
served scores (miscalibrated, same ranking for a (slope, shift) transform) and the kind of change per window."""

import numpy as np
import pytest
from scipy.special import logit
from scipy.stats import spearmanr

from mlcasebook.datasets import Drift, make_degradation_stream, make_production_stream
from mlcasebook.datasets.degradation import degradation_drifts, window_kinds


def test_balanced_scores_rank_alike_and_overstate_churn():
    s = make_degradation_stream(8, drifts=[], random_state=3)
    base = make_production_stream(8, drifts=[], random_state=3)
    val = s.frame["window"].isin(s.validation_windows)
    assert s.validation_windows == [4, 5] and s.reference_windows == [0, 1, 2, 3]
    assert (s.frame["label"] == base.frame["label"]).all()
    assert spearmanr(s.frame["score"], base.frame["score"]).statistic > 0.99  # the same ranking, nearly
    # balanced class weights at a 20 % churn rate add about log(0.8 / 0.2) = 1.39 to the log-odds
    shift = np.median(logit(s.frame.loc[val, "score"]) - logit(base.frame.loc[val, "score"]))
    assert shift == pytest.approx(np.log(4), abs=0.2)
    assert s.frame.loc[val, "score"].mean() > 1.5 * s.frame.loc[val, "label"].mean()


def test_a_slope_and_shift_keep_the_ranking_and_recompute_the_truth():
    s = make_degradation_stream(8, drifts=[], scores=(0.6, 0.8), random_state=3)
    base = make_production_stream(8, drifts=[], random_state=3)
    perf, ref = s.truth.performance, base.truth.performance
    assert np.allclose(perf["auc"], ref["auc"]) and np.allclose(perf["expected_auc"], ref["expected_auc"])
    assert not np.allclose(perf["expected_accuracy"], ref["expected_accuracy"])
    assert s.model is None
    assert np.allclose(logit(s.frame["score"]), 0.6 * logit(np.clip(base.frame["score"], 1e-12, 1 - 1e-12)) + 0.8)


def test_kinds_follow_the_scenario():
    kinds = window_kinds(degradation_drifts(), 20)
    assert list(kinds[:7]) == ["none"] * 7
    assert set(kinds[7:13]) == {"covariate_shift"} and list(kinds[13:15]) == ["none", "none"]
    assert set(kinds[15:]) == {"concept_drift"}
    both = window_kinds([Drift("contract", "covariate", 2, 0.5), Drift("contract", "concept", 3, 1.0)], 5)
    assert list(both) == ["none", "none", "covariate_shift", "concept_drift", "concept_drift"]
    with pytest.raises(ValueError, match="scores must be"):
        make_degradation_stream(8, drifts=[], scores="platt")
    with pytest.raises(ValueError, match="at least 7"):
        make_degradation_stream(6, drifts=[])
