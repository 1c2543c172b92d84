"""Derived tables are facts computed from the record, kept current so pages read them instead of re-deriving
them per view; every write refreshes the patients it touched in the same transaction, so readers never see
them out of step. Each is built by sql/<name>_build.sql (which takes $ids: the patients to build, or NULL).

- score_points: every depression score with the sessions given before it (the outcome statistics);
- session_facts: each completed session's number, dose band and measured extremes (side effects, excursions);
- course_facts: each treated patient's course so far, first route, first and last day, session counts
  (every clinic-wide cohort)."""

from __future__ import annotations

import duckdb

from kdash import db

# table → the order its rows are stored in (so a patient's rows sit together for the readers)
TABLES = {"score_points": "patient_id, scale, assessed_on",
          "session_facts": "patient_id, scheduled_at",
          "course_facts": "patient_id"}


def refresh(cur: duckdb.DuckDBPyConnection, patient_ids: list[str] | None = None) -> None:
    """Rebuild the derived rows of these patients (None: everyone) inside the caller's transaction."""
    for table, order in TABLES.items():
        if patient_ids is None:
            cur.execute(f"DELETE FROM {table}").fetchall()
        else:
            cur.execute(f"DELETE FROM {table} WHERE list_contains($ids, patient_id)", {"ids": patient_ids}).fetchall()
        cur.execute(f"INSERT INTO {table} SELECT * FROM ({db.sql(table + '_build')}) ORDER BY {order}",
                    {"ids": patient_ids}).fetchall()
