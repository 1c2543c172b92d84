"""Outcome statistics over query results: Wilson intervals (scipy), the cumulative incidence of response with a
competing event (statsmodels' Aalen–Johansen estimator)."""

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


def at_risk(durations, times) -> list[int]:
    """Patients still followed (time ≥ t) at each t: the number at risk under a KM curve."""
    import numpy as np
    d = np.asarray(durations, dtype=float)
    return [int((d >= t).sum()) for t in times]


CENSORED, RESPONDED, STOPPED = 0, 1, 2     # the outcome codes of sql/time_to_response.sql


def cumulative_incidence(durations, outcome, confidence: float = 0.95) -> dict:
    """The cumulative incidence of response (outcome 1) with stopping (2) as a competing event and censoring (0),
    by the Aalen–Johansen estimator (statsmodels CumIncidenceRight), with a pointwise interval on the log(−log)
    scale, as lifelines' AalenJohansenFitter gives it. lifelines itself needs pandas < 3, which kdash does not run.

    Returns the event times and, at each, the share responded (with low and high) and the share who stopped."""
    import warnings

    from statsmodels.duration.survfunc import CumIncidenceRight
    durations = np.asarray(durations, dtype=float)
    outcome = np.asarray(outcome, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = CumIncidenceRight(durations, outcome)
    times = np.asarray(fit.times, dtype=float)
    response = np.asarray(fit.cinc[RESPONDED - 1], dtype=float)
    se = np.asarray(fit.cinc_se[RESPONDED - 1], dtype=float)
    stopped = (np.asarray(fit.cinc[STOPPED - 1], dtype=float) if len(fit.cinc) >= STOPPED
               else np.zeros_like(response))
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = z * se / (response * np.log(response))
        low = np.where((response > 0) & (response < 1), response ** np.exp(-spread), response)
        high = np.where((response > 0) & (response < 1), response ** np.exp(spread), response)
    low, high = np.minimum(low, high), np.maximum(low, high)
    return {"time": times, "response": response, "low": np.clip(low, 0, 1), "high": np.clip(high, 0, 1),
            "stopped_share": stopped}
