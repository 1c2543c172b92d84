"""The audit trail: append-only rows of who did what to which patient, written inside the caller's
transaction so that an action and its audit row land together or not at all."""

from __future__ import annotations

import contextvars
import datetime as dt

import duckdb

# Who is acting in this script run (set by the app frame after sign-in): rows without an explicit user get it.
_actor: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar("actor", default=(None, None))


def act_as(username: str | None, role: str | None) -> None:
    _actor.set((username, role))


def actor() -> tuple[str | None, str | None]:
    return _actor.get()


def log(cur: duckdb.DuckDBPyConnection, action: str, username: str | None = None, role: str | None = None,
        patient_id: str | None = None, detail: str | None = None, at: dt.datetime | None = None) -> None:
    """Append one audit row (the app never updates or deletes them)."""
    if username is None and role is None:
        username, role = _actor.get()
    cur.execute("INSERT INTO audit_log (logged_at, username, role, action, patient_id, detail) "
                "VALUES ($at, $u, $r, $a, $p, $d)",
                {"at": at or dt.datetime.now(), "u": username, "r": role, "a": action, "p": patient_id, "d": detail})
