"""Reading the audit trail (admin): search by user, action, patient and period; newest first."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash.store import db


def search(con: duckdb.DuckDBPyConnection, cfg: dict, username: str | None = None, action: str | None = None,
           patient_id: str | None = None, start: dt.date | None = None, end: dt.date | None = None,
           limit: int | None = 500) -> pd.DataFrame:
    """Matching rows, newest first (every match when limit is None, for the CSV). Text is matched exactly,
    as a bound parameter: whatever is typed is only ever a value."""
    return db.query(con, "audit_search", {"username": username or None, "action": action or None,
                                          "patient_id": patient_id or None, "start": start, "end": end,
                                          "limit": limit})


def actions(con: duckdb.DuckDBPyConnection, cfg: dict) -> list[str]:
    return list(db.query(con, "audit_actions")["action"])


def total(con: duckdb.DuckDBPyConnection, cfg: dict) -> int:
    return int(db.scalar(con, "SELECT count(*) FROM audit_log") or 0)
