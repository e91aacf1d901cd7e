"""Serving latency case: the product's budgets and the notebook's settings (public facts, no answers).

The product asks for an answer within ``REQUEST_BUDGET_MS`` at p99. The request passes through three stages (feature
fetch, model, post-processing); the platform team gives the model's predict call ``MODEL_BUDGET_MS`` at p99 for one
request on the serving hardware. Percentiles take ``q`` in percent (0-100), as :func:`numpy.percentile` does.
"""

from __future__ import annotations

REQUEST_BUDGET_MS = 50.0   # the product's p99 for a whole request
MODEL_BUDGET_MS = 4.0      # the model's predict call, one request (batch of one), at p99
BATCH_SIZES = (1, 8, 64, 512)
MIN_CALLS = 100            # timed calls behind a p99 at least (fewer: the p99 is the maximum, or undefined)
N_CALLS, P_SLOW = 100, 0.01  # the fan-out: a request waits for 100 parallel calls, each slow 1 % of the time
SLOW_MS = 100.0            # a request (or a call) slower than this is "slow" in the fan-out section
CANARY_SHARE = 0.05        # share of traffic the canary serves

__all__ = ["REQUEST_BUDGET_MS", "MODEL_BUDGET_MS", "BATCH_SIZES", "MIN_CALLS", "N_CALLS", "P_SLOW", "SLOW_MS",
           "CANARY_SHARE"]
