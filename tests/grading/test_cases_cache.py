"""Hidden data a warm verdict process builds once per zygote (mlcasebook.checks.cases_cache)."""

from __future__ import annotations

import numpy as np

from mlcasebook import datasets
from mlcasebook.checks import cases_cache

ARGS = dict(daily_traffic=2_000, baseline_rate=0.10, random_state=91_237, lift=0.02, novelty_lift=0.05,
            novelty_half_life=3.0)


def test_a_generator_with_plain_arguments_is_built_once_and_each_call_gets_a_fresh_copy(tmp_path, monkeypatch):
    monkeypatch.setenv(cases_cache.ENV, str(tmp_path))
    view = cases_cache.Generators(datasets)
    first = view.make_ab_experiment(28_000, **ARGS)
    assert len(list(tmp_path.glob("*.pickle"))) == 1
    second = view.make_ab_experiment(28_000, **ARGS)
    assert second.frame is not first.frame and second.frame.equals(first.frame)  # a hidden test may edit its copy
    assert second.frame.dtypes.equals(datasets.make_ab_experiment(28_000, **ARGS).frame.dtypes)
    assert second.truth == first.truth
    view.make_ab_experiment(28_000, **{**ARGS, "random_state": 7})  # other arguments, other data
    assert len(list(tmp_path.glob("*.pickle"))) == 2


def test_what_is_not_a_plain_generator_call_is_the_module_itself(tmp_path, monkeypatch):
    monkeypatch.setenv(cases_cache.ENV, str(tmp_path))
    view = cases_cache.Generators(datasets)
    assert view.ABTruth is datasets.ABTruth and view.load_ames is datasets.load_ames
    rng = np.random.default_rng(3)  # its repr names no state: never a key
    view.make_ab_experiment(28_000, **{**ARGS, "random_state": rng})
    assert list(tmp_path.glob("*.pickle")) == []


def test_without_the_shared_folder_nothing_is_stored(tmp_path, monkeypatch):
    monkeypatch.delenv(cases_cache.ENV, raising=False)
    view = cases_cache.Generators(datasets)
    assert view.make_ab_experiment(28_000, **ARGS).frame.equals(datasets.make_ab_experiment(28_000, **ARGS).frame)
    assert list(tmp_path.iterdir()) == []
