"""Proportions and their Wilson score intervals (pure Python + numpy, no Django)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np


def wilson_interval(successes: float, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (same as statsmodels' ``method='wilson'``).

    `successes` may be fractional (a sum of per-image fractions): the interval then treats the mean as a
    proportion of `total` trials, which is conservative, since values in [0, 1] with mean p vary at most
    as much as 0/1 outcomes with mean p.
    """
    if total <= 0:
        raise ValueError("total must be positive")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def ratio(numerator: float, denominator: int) -> float | None:
    """numerator / denominator as a float, None when the denominator is zero."""
    return float(numerator / denominator) if denominator else None


def interval(successes: float, total: int, confidence: float) -> list[float] | None:
    """The Wilson interval as a JSON-ready list, None when there is nothing to estimate from."""
    return list(wilson_interval(successes, total, confidence)) if total else None
