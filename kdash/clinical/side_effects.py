"""Side-effect frequencies (clinical reference §6) and session safety events, aggregated in SQL."""

from __future__ import annotations

import duckdb
import pandas as pd

from kdash.clinical import outcomes, rules, stats
from kdash.store import db

# Per-patient % in the esketamine trials (clinical reference §6); IV ketamine is similar in kind.
TRIAL_RATES = pd.DataFrame({
    "effect": ["dissociation", "nausea", "dizziness", "vertigo", "headache", "somnolence", "dysgeusia",
               "hypoaesthesia", "paraesthesia", "vomiting", "anxiety", "blood_pressure_increased", "blurred_vision",
               "sedation"],
    "TRANSFORM-1": [26.8, 29.4, 25.1, 20.8, 20.3, 19.5, 16.0, 13.3, 13.0, 9.1, 8.2, 8.2, 7.4, 6.1],
    "ASPIRE 84 mg": [33.9, 26.9, 38.3, None, 20.3, 20.7, 19.8, None, 11.5, 11.5, 10.1, 11.5, 11.9, 10.1],
    "SUSTAIN-1": [23.0, 16.4, 20.4, 25.0, 17.8, 21.1, 27.0, 5.9, 7.2, 6.6, 7.9, 6.6, 15.8, 6.6],
})


def _params(cfg: dict, filters: dict) -> dict:
    f = {k: v for k, v in filters.items() if k not in ("scale", "analysis_set")}
    return outcomes.params(cfg, "MADRS", **f)


def _with_intervals(df: pd.DataFrame) -> pd.DataFrame:
    for unit, n in (("patients", "n_patients"), ("sessions", "n_sessions")):
        rate, low, high = stats.wilson_columns(df[unit], df[n])
        df[f"per_{unit[:-1]}"], df[f"per_{unit[:-1]}_low"], df[f"per_{unit[:-1]}_high"] = rate, low, high
    return df


def rates(con: duckdb.DuckDBPyConnection, cfg: dict, max_k: int = 8, **filters) -> pd.DataFrame:
    """Per-patient and per-session frequency of each effect (with 95 % Wilson intervals): overall (by 'all')
    and by route, dose band and session number (column `by`, group in `grp`)."""
    df = db.query(con, "side_effect_rates", {**_params(cfg, filters), "max_k": max_k})
    return _with_intervals(df.rename(columns={"grouping_by": "by"}))


def cohort_size(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> dict:
    """Treated patients and their completed sessions (from the cohort's course counts, not the session rows)."""
    text = "WITH c AS ({{cohort}}) SELECT count(*), coalesce(sum(n_sessions), 0) FROM c".replace(
        "{{cohort}}", db.sql("cohort"))
    cur = con.cursor()
    try:
        patients, sessions = cur.execute(text, db.bind(text, _params(cfg, filters))).fetchone()
    finally:
        cur.close()
    return {"patients": int(patients), "sessions": int(sessions)}


def excursions(con: duckdb.DuckDBPyConnection, cfg: dict, **filters) -> pd.DataFrame:
    since_today = rules.flag_params(cfg, None, None)
    df = db.query(con, "excursions", {**_params(cfg, filters), **since_today})
    return _with_intervals(df)


