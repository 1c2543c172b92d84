"""Clinic-wide outcomes (clinical-reference §1; data-contract §6): the page and the CLI both call this."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash import db, scales, stats

SETS = ("itt", "completers")


def params(cfg: dict, scale: str, route: str = "all", analysis_set: str = "itt",
           start: dt.date | None = None, end: dt.date | None = None) -> dict:
    if scale not in scales.DEPRESSION_SCALES:
        raise ValueError(f"unknown outcome scale {scale!r}; choose one of {', '.join(scales.DEPRESSION_SCALES)}")
    if analysis_set not in SETS:
        raise ValueError(f"unknown analysis set {analysis_set!r}; choose itt or completers")
    ind = cfg["induction"]
    return {
        "scale": scale, "route": route, "set": analysis_set, "start": start, "end": end,
        "lookback": cfg["outcomes"]["baseline_lookback_days"], "window": cfg["outcomes"]["after_session_window_days"],
        "response": cfg["outcomes"]["response_pct"] / 100, "partial": cfg["outcomes"]["partial_response_pct"] / 100,
        "remission": cfg["remission"].get(scale, 0),
        "ind_iv": ind["iv_ketamine"], "ind_esk": ind["esketamine"], "ind_sc": ind["sc_ketamine"],
        "ind_other": ind["im_ketamine"], "patient_ids": None,
    }


def per_patient(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    """One row per patient in the analysis set: baseline, last observation, % change, status."""
    return db.query(con, "course_outcomes", params(cfg, **filters))


_SUMMARY = """
WITH po AS ({body})
SELECT count(*) AS n_treated, count(*) FILTER (WHERE evaluable) AS n_evaluable,
       count(*) FILTER (WHERE responder) AS responders, count(*) FILTER (WHERE remitter) AS remitters,
       avg(baseline) FILTER (WHERE evaluable) AS mean_baseline,
       avg(last_score - baseline) FILTER (WHERE evaluable) AS mean_change
FROM po
"""


def summary(con: duckdb.DuckDBPyConnection, cfg: dict, scale: str = "MADRS", route: str = "all",
            analysis_set: str = "itt", start: dt.date | None = None, end: dt.date | None = None) -> dict:
    """Response and remission with Wilson intervals, shaped as data-contract §6."""
    p = params(cfg, scale, route, analysis_set, start, end)
    cur = con.cursor()
    try:
        row = cur.execute(_SUMMARY.format(body=db.sql("course_outcomes")), p).fetchone()
    finally:
        cur.close()
    n_treated, n_eval, resp, remit, mean_base, mean_change = row
    r_ci, m_ci = stats.wilson(resp, n_eval), stats.wilson(remit, n_eval)
    return {
        "scale": scale, "route": route, "set": analysis_set,
        "n_treated": int(n_treated), "n_evaluable": int(n_eval),
        "responders": int(resp), "response_rate": _round(stats.rate(resp, n_eval)),
        "response_ci95": [_round(x) for x in r_ci] if r_ci else None,
        "remitters": int(remit), "remission_rate": _round(stats.rate(remit, n_eval)),
        "remission_ci95": [_round(x) for x in m_ci] if m_ci else None,
        "mean_baseline": _round(mean_base, 1), "mean_change": _round(mean_change, 1),
    }


def _round(x, digits: int = 3):
    return None if x is None else round(float(x), digits)
