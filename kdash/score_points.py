"""Score points: every depression score with the sessions given before it (sql/score_points_build.sql),
kept current on each write so the outcome queries read facts instead of re-deriving them per page."""

from __future__ import annotations

import duckdb

from kdash import db


def refresh(cur: duckdb.DuckDBPyConnection, patient_ids: list[str] | None = None) -> None:
    """Rebuild the points of these patients (None: everyone) inside the caller's transaction."""
    if patient_ids is None:
        cur.execute("DELETE FROM score_points").fetchall()
    else:
        cur.execute("DELETE FROM score_points WHERE list_contains($ids, patient_id)", {"ids": patient_ids}).fetchall()
    cur.execute("INSERT INTO score_points SELECT * FROM (" + db.sql("score_points_build")
                + ") ORDER BY patient_id, scale, assessed_on", {"ids": patient_ids}).fetchall()
