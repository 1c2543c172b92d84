"""The home page's clinic at a glance: the same functions serve the page and tests."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash import rulebook
from kdash.clinical import outcomes, roster, rules, worklist
from kdash.store import db


def at_a_glance(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date) -> dict:
    row = db.query(con, "glance", {"today": today}).iloc[0]
    phases = roster.phase_counts(con, cfg, today)
    scale = cfg["clinic"]["main_scale"]
    recent = outcomes.summary(con, cfg, scale, start=today - dt.timedelta(days=365), end=today)
    flags = rules.open_flag_counts(con, cfg, today)
    totals = flags[flags["rule"].isna()]
    by_severity = dict(zip(totals["severity"], totals["patients"]))
    return {
        "active_patients": sum(phases[p] for p in rulebook.ACTIVE_PHASES),
        "phases": phases,
        "sessions_this_week": int(row.sessions_this_week),
        "sessions_last_week": int(row.sessions_last_week),
        "outcomes": recent,
        "flags": {**{sev: int(by_severity.get(sev, 0)) for sev in rules.SEVERITY_ORDER},
                  "overdue": worklist.counts(con, cfg, today)["overdue"]},
        "flag_rules": flags[flags["rule"].notna()].to_dict("records"),
    }


def sessions_per_week(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, weeks: int = 12) -> pd.DataFrame:
    return db.query(con, "sessions_per_week", {"today": today, "weeks": weeks})
