"""Misconception detectors, one module per topic.

Each check is a pure function of the learner's objects that returns a :class:`CheckResult`:
displayed in a public check cell, ``.require()``-d in a hidden test cell.
"""

from mlcasebook.checks import (
    ab_design,
    ab_pitfalls,
    bias_variance,
    churn,
    degradation,
    design,
    drift,
    latency,
    metrics,
    pipelines,
    ranking,
    residuals,
    retraining,
)
from mlcasebook.checks.result import CheckFailed, CheckResult, NotAttempted, quiet

__all__ = [
    "CheckFailed", "CheckResult", "NotAttempted", "quiet",
    "ab_design", "ab_pitfalls", "bias_variance", "churn", "metrics", "residuals",
    "drift", "degradation", "retraining",
    "pipelines", "latency", "ranking", "design",
]
