"""Session facts: each completed session's number, dose band and measured extremes
(sql/session_facts_build.sql), kept current on each write so the side-effect page reads one row per session
instead of grouping every vital sign and assessment of the clinic per view."""

from __future__ import annotations

import duckdb

from kdash import db


def refresh(cur: duckdb.DuckDBPyConnection, patient_ids: list[str] | None = None) -> None:
    """Rebuild the facts of these patients' sessions (None: everyone) inside the caller's transaction."""
    if patient_ids is None:
        cur.execute("DELETE FROM session_facts").fetchall()
    else:
        cur.execute("DELETE FROM session_facts WHERE list_contains($ids, patient_id)", {"ids": patient_ids}).fetchall()
    cur.execute("INSERT INTO session_facts SELECT * FROM (" + db.sql("session_facts_build")
                + ") ORDER BY patient_id, scheduled_at", {"ids": patient_ids}).fetchall()
