"""Bias-variance case: the grids of polynomial degrees and Ridge penalties the notebook searches."""

from __future__ import annotations

import numpy as np

DEGREES = tuple(range(1, 16))
ALPHAS = tuple(float(a) for a in np.logspace(-8, 2, 11))

__all__ = ["DEGREES", "ALPHAS"]
