"""Data for the case studies: generators that return their ground truth, and shipped real data.

Every generator returns a Bunch with ``frame``, ``target`` and ``truth``; every loader verifies
its file's checksum and says how to restore a missing or damaged file.
"""

from mlcasebook.datasets._files import DataFileError, data_file
from mlcasebook.datasets.ab import ABTruth, make_ab_experiment
from mlcasebook.datasets.ab_pitfalls import SlicedTruth, make_sliced_experiment
from mlcasebook.datasets.churn import ChurnTruth, load_telco_churn, make_churn
from mlcasebook.datasets.degradation import make_degradation_stream
from mlcasebook.datasets.housing import load_ames
from mlcasebook.datasets.monitoring import Drift, StreamTruth, default_drifts, deployed_model, make_production_stream
from mlcasebook.datasets.regression import (
    ClassificationTruth,
    RegressionTruth,
    make_sparse_classification,
    make_temperature_demand,
)
from mlcasebook.datasets.retraining import Replay, ReplayResult, make_contact_campaign, make_retraining_replay

__all__ = [
    "DataFileError", "data_file",
    "ABTruth", "make_ab_experiment", "SlicedTruth", "make_sliced_experiment",
    "ChurnTruth", "load_telco_churn", "make_churn", "load_ames",
    "Drift", "StreamTruth", "default_drifts", "deployed_model", "make_production_stream",
    "make_degradation_stream",
    "Replay", "ReplayResult", "make_contact_campaign", "make_retraining_replay",
    "ClassificationTruth", "RegressionTruth", "make_sparse_classification", "make_temperature_demand",
]
