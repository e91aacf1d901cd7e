"""An A/B test sliced many ways: real segment effects plus slices that carry no extra effect.

Built on :func:`mlcasebook.datasets.ab.make_ab_experiment`, which knows the true effect of every
user segment; this module adds the other columns an analyst slices by (device, country) whose
levels have no effect of their own, so a table of per-slice lifts mixes real differences with
chance ones: the setting in which slicing needs a multiple-comparison correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import Bunch

from mlcasebook.datasets.ab import ABTruth, make_ab_experiment

DEVICES = ("android", "ios", "web")
COUNTRIES = ("br", "de", "in", "uk", "us")


@dataclass(frozen=True)
class SlicedTruth:
    """Ground truth of a :func:`make_sliced_experiment` sample.

    Attributes
    ----------
    experiment : ABTruth
        The truth of the underlying experiment (``segment_lifts``, ``lift``, ...).
    slice_lifts : dict
        ``{(column, value): true lift}`` for every slice. Segments carry their own lift; device and
        country levels are assigned independently of everything, so each has the average lift.
    """

    experiment: ABTruth
    slice_lifts: dict

    @property
    def harmful_segments(self) -> list[str]:
        return [s for s, v in self.experiment.segment_lifts.items() if v < 0]

    @property
    def helped_segments(self) -> list[str]:
        return [s for s, v in self.experiment.segment_lifts.items() if v > 0]


def make_sliced_experiment(
    n_users: int = 40_000,
    *,
    segments: dict | None = None,
    baseline_rate: float = 0.10,
    devices=DEVICES,
    countries=COUNTRIES,
    random_state=None,
) -> Bunch:
    """Simulate an A/B test whose segments react differently, with extra columns that do not matter.

    The generative story: users are randomised 50/50; a new user's conversion rises by 3 points
    under treatment and a returning user's falls by 2 (defaults), so the average effect is a small
    positive. Each user also has a device and a country, drawn uniformly and independently of
    everything else: their levels have no effect of their own, so any lift that looks different in a
    device or country slice is chance.

    Parameters
    ----------
    n_users : int
        Users in the experiment.
    segments : dict or None, keyword-only
        ``{name: (population_share, lift)}`` as in :func:`make_ab_experiment`; default
        ``{"new": (0.5, 0.03), "returning": (0.5, -0.02)}`` (average +0.5 pp).
    baseline_rate : float, keyword-only
        Control conversion probability (default 0.10).
    devices, countries : sequence of str, keyword-only
        Levels of the two effect-free slicing columns.
    random_state : int or None, keyword-only
        Seed of the random generator.

    Returns
    -------
    Bunch with ``frame`` (the experiment's columns plus ``device`` and ``country``), ``target``
    (``converted``) and ``truth`` (:class:`SlicedTruth`).
    """
    if segments is None:
        segments = {"new": (0.5, 0.03), "returning": (0.5, -0.02)}
    rng = np.random.default_rng(random_state)
    ab = make_ab_experiment(int(n_users), baseline_rate=baseline_rate, segments=segments, covariate_corr=0.0,
                            random_state=rng.integers(2**32))
    frame = ab.frame.copy()
    frame["device"] = np.asarray(devices, dtype=object)[rng.integers(len(devices), size=len(frame))]
    frame["country"] = np.asarray(countries, dtype=object)[rng.integers(len(countries), size=len(frame))]
    truth = ab.truth
    lifts = {("segment", s): v for s, v in truth.segment_lifts.items()}
    lifts.update({("device", d): truth.lift for d in devices})
    lifts.update({("country", c): truth.lift for c in countries})
    return Bunch(frame=frame, target=frame["converted"], truth=SlicedTruth(truth, lifts))
