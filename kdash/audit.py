"""The audit trail: append-only rows of who did what to which patient, written inside the caller's
transaction so that an action and its audit row land together or not at all."""

from __future__ import annotations

import datetime as dt

import duckdb


def log(cur: duckdb.DuckDBPyConnection, action: str, username: str | None = None, role: str | None = None,
        patient_id: str | None = None, detail: str | None = None, at: dt.datetime | None = None) -> None:
    cur.execute("INSERT INTO audit_log (logged_at, username, role, action, patient_id, detail) "
                "VALUES ($at, $u, $r, $a, $p, $d)",
                {"at": at or dt.datetime.now(), "u": username, "r": role, "a": action, "p": patient_id, "d": detail})
