"""Data for the case studies: generators that return their ground truth, and shipped real data.

Every generator returns a Bunch with ``frame``, ``target`` and ``truth``; every loader verifies
its file's checksum and says how to restore a missing or damaged file.
"""

from mlcasebook.datasets._files import DataFileError, data_file
from mlcasebook.datasets.ab import ABTruth, make_ab_experiment
from mlcasebook.datasets.ab_pitfalls import SlicedTruth, make_sliced_experiment
from mlcasebook.datasets.churn import ChurnTruth, load_telco_churn, make_churn
from mlcasebook.datasets.housing import load_ames
from mlcasebook.datasets.regression import (
    ClassificationTruth,
    RegressionTruth,
    make_sparse_classification,
    make_temperature_demand,
)

__all__ = [
    "DataFileError", "data_file",
    "ABTruth", "make_ab_experiment", "SlicedTruth", "make_sliced_experiment",
    "ChurnTruth", "load_telco_churn", "make_churn", "load_ames",
    "ClassificationTruth", "RegressionTruth", "make_sparse_classification", "make_temperature_demand",
]
