"""Recommendation-ranking case: the notebook's log, split dates and list sizes (public facts, no answers).

The home page shows a slate of ``K`` items. The log covers four weeks (``make_click_log(random_state=0)``); the
last week, from ``CUTOFF`` on, is the holdout. The ranker learns its labels from the week before the cutoff, with
features computed only from the data before ``RANKER_CUTOFF``. The retrieval stage hands the ranker
``N_CANDIDATES`` items per user.
"""

from __future__ import annotations

import pandas as pd

SEED = 0
K = 10                                       # slate size: positions 1..K, and the k of NDCG@K
N_CANDIDATES = 50                            # items per user from the retrieval stage (recall@N_CANDIDATES)
CUTOFF = pd.Timestamp("2024-03-25")          # holdout: every impression at or after this moment
RANKER_CUTOFF = pd.Timestamp("2024-03-18")   # the ranker's features use data before this, its labels the week after

__all__ = ["SEED", "K", "N_CANDIDATES", "CUTOFF", "RANKER_CUTOFF"]
