"""Outcome statistics over query results: Wilson intervals (scipy)."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest, norm


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion; None when there is no one to count."""
    if n <= 0:
        return None
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def wilson_columns(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate, low and high of the Wilson interval for whole columns at once (NaN where n is 0): the same
    closed form binomtest(...).proportion_ci(method="wilson") computes, without a scipy call per row."""
    k, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, np.nan)
        denominator = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return p, centre - half, centre + half


def rate(successes: int, n: int) -> float | None:
    return successes / n if n else None


def mean_ci(mean: float, sd: float, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """A t interval for a mean from its summary (scipy's t quantile)."""
    from scipy.stats import t
    if n < 2 or sd != sd:
        return None
    half = t.ppf(0.5 + confidence / 2, n - 1) * sd / n ** 0.5
    return mean - half, mean + half


def kaplan_meier(durations, observed) -> dict:
    """Kaplan–Meier estimate of 'not yet responded' (scipy.stats.ecdf on right-censored data).

    Returns the step times, the survival and its 95 % interval at those times, and the
    cumulative share responded (1 − S)."""
    import numpy as np
    from scipy.stats import CensoredData, ecdf
    durations = np.asarray(durations, dtype=float)
    observed = np.asarray(observed, dtype=bool)
    data = CensoredData(uncensored=durations[observed], right=durations[~observed])
    import warnings
    res = ecdf(data)
    sf = res.sf
    with warnings.catch_warnings():   # undefined where S = 0 or 1: scipy says so and returns NaN there
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = sf.confidence_interval(0.95)
    return {"time": sf.quantiles, "survival": sf.probabilities, "low": ci.low.probabilities,
            "high": ci.high.probabilities}


def at_risk(durations, times) -> list[int]:
    """Patients still followed (time ≥ t) at each t: the number at risk under a KM curve."""
    import numpy as np
    d = np.asarray(durations, dtype=float)
    return [int((d >= t).sum()) for t in times]
