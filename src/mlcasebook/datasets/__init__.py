"""Data for the case studies: generators that return their ground truth, and shipped real data.

Every generator returns a Bunch with ``frame``, ``target`` and ``truth``; every loader verifies
its file's checksum and says how to restore a missing or damaged file.
"""

from mlcasebook.datasets._files import DataFileError, data_file
from mlcasebook.datasets.churn import ChurnTruth, load_telco_churn, make_churn

__all__ = ["ChurnTruth", "DataFileError", "data_file", "load_telco_churn", "make_churn"]
