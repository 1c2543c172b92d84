"""Course scores: each treated patient's baseline, last observation, timepoint scores and first response on
each depression scale (sql/course_scores_build.sql), so the outcome statistics read one row per patient.

They depend on the clinic's outcome settings (baseline look-back, window after the last session, response
threshold, planned induction lengths), so the table is stamped with a hash of those. Like the flag log: each
write refreshes the patients it touched while the stamp is current; the dashboard rebuilds a stale table on
opening the store; a reader that finds it stale computes the same rows live (cohort_scores.sql)."""

from __future__ import annotations

import duckdb

from kdash.store import queries
from kdash.store.freshness import (DEFINITIONS, META_KEY, SETTINGS, is_current,  # noqa: F401
                                   settings_params, stamp)


def refresh(cur: duckdb.DuckDBPyConnection, cfg: dict, patient_ids: list[str] | None = None) -> None:
    """Rebuild these patients' rows (None: everyone, and stamp the table) inside the caller's transaction."""
    params = {**settings_params(cfg), "patient_ids": patient_ids, "ids": patient_ids, "as_of": None}
    if patient_ids is None:
        cur.execute("DELETE FROM course_scores").fetchall()
    else:
        cur.execute("DELETE FROM course_scores WHERE list_contains($ids, patient_id)", {"ids": patient_ids}).fetchall()
    text = queries.sql("course_scores_build")
    cur.execute(f"INSERT INTO course_scores SELECT * FROM ({text}) ORDER BY patient_id, scale",
                queries.bind(text, params)).fetchall()
    if patient_ids is None:
        cur.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)", {"k": META_KEY, "v": stamp(params)}).fetchall()
