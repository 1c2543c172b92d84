"""Outcome statistics over query results: Wilson intervals (scipy)."""

from __future__ import annotations

from scipy.stats import binomtest


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion; None when there is no one to count."""
    if n <= 0:
        return None
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def rate(successes: int, n: int) -> float | None:
    return successes / n if n else None
