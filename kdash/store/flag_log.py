"""The flag log: every safety flag of the record, written by the rules' SQL (sql/open_flags.sql run
over all time) and kept current on each write, with the latest observation that clears each rule (severity
'clear', one row per patient and rule). kdash/clinical/worklist.py reads it with the acknowledgements to know which flags
are open.

It is stamped with a hash of the settings the rules used; when a clinic changes a threshold the log
is stale and is rebuilt by the dashboard on opening the store (derived.ensure_current). A reader that finds
it stale evaluates the rules live instead, so a flag is never hidden by an old threshold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import pandas as pd

from kdash import rulebook
from kdash.store import queries, reads

ALL_TIME = (dt.date(1900, 1, 1), dt.date(2200, 1, 1))
META_KEY = "flag_log_settings"


def settings_stamp(cfg: dict) -> str:
    p = rulebook.flag_params(cfg, *ALL_TIME)
    # the rules' own text too: an upgrade that changes a rule or its wording rebuilds the log (derived.ensure_current)
    return hashlib.sha256((json.dumps(p, sort_keys=True, default=str) + queries.sql("open_flags")).encode()
                          ).hexdigest()[:16]


def is_fresh(con: duckdb.DuckDBPyConnection, cfg: dict) -> bool:
    return reads.meta(con, META_KEY) == settings_stamp(cfg)


def refresh(cur: duckdb.DuckDBPyConnection, cfg: dict, patient_ids: list[str] | None = None) -> int:
    """Re-evaluate every rule for these patients (None: everyone) inside the caller's transaction."""
    if patient_ids is None:
        cur.execute("DELETE FROM flag_log")
    else:
        cur.execute("DELETE FROM flag_log WHERE list_contains($ids, patient_id)", {"ids": patient_ids})
    text, params = _live(cfg, *ALL_TIME, patient_ids)
    cur.execute(f"INSERT INTO flag_log SELECT patient_id, rule, severity, day, value, evidence_at FROM ({text}) "
                "ORDER BY patient_id, day", params).fetchall()
    if patient_ids is None:
        cur.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)", {"k": META_KEY, "v": settings_stamp(cfg)})
    return cur.execute("SELECT count(*) FROM flag_log").fetchall()[0][0]


def _live(cfg: dict, since: dt.date, today: dt.date, patient_ids: list[str] | None) -> tuple[str, dict]:
    """The rules evaluated on the record: every piece of evidence, and each rule's latest clearing observation (of
    two on one day, the one with the later evidence time, then the greater text: never the order rows were written)."""
    params = {**rulebook.flag_params(cfg, since, today), "flag_patients": patient_ids, "with_clears": True}
    text = queries.sql("open_flags")
    return (f"WITH f AS ({text}) SELECT * FROM f WHERE severity <> 'clear' UNION ALL "
            "SELECT patient_id, rule, 'clear', max(day), arg_max(value, (day, evidence_at, value)), max(evidence_at) "
            "FROM f WHERE severity = 'clear' GROUP BY patient_id, rule"), queries.bind(text, params)


def logged_query(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date,
                 patient_ids: list[str] | None = None) -> tuple[str, dict]:
    """SQL and parameters for the evidence and clears up to today: read from the log when it is current, else
    evaluated live (the same rules, so the rows are the same)."""
    if is_fresh(con, cfg):
        return queries.sql("flag_log_window"), {"since": ALL_TIME[0], "today": today, "ids": patient_ids}
    return _live(cfg, ALL_TIME[0], today, patient_ids)


def window_query(con: duckdb.DuckDBPyConnection, cfg: dict, since: dt.date, today: dt.date,
                 patient_ids: list[str] | None = None) -> tuple[str, dict]:
    """SQL and parameters for the evidence (no clears) with days in [since, today]."""
    if is_fresh(con, cfg):
        text = queries.sql("flag_log_window")
        return (f"SELECT * FROM ({text}) WHERE severity <> 'clear'",
                {"since": since, "today": today, "ids": patient_ids})
    return queries.sql("open_flags"), {**rulebook.flag_params(cfg, since, today), "flag_patients": patient_ids}


def evidence(con: duckdb.DuckDBPyConnection, cfg: dict, since: dt.date, today: dt.date,
             patient_ids: list[str] | None = None) -> pd.DataFrame:
    text, params = window_query(con, cfg, since, today, patient_ids)
    cur = con.cursor()
    try:
        return cur.execute(text, params).df()
    finally:
        cur.close()
