"""Derived tables (score points, session facts) are facts computed from the record; every write refreshes
the patients it touched in the same transaction, so readers never see them out of step."""

from __future__ import annotations

import duckdb

from kdash import score_points, session_facts


def refresh(cur: duckdb.DuckDBPyConnection, patient_ids: list[str] | None = None) -> None:
    """Rebuild the derived rows of these patients (None: everyone) inside the caller's transaction."""
    score_points.refresh(cur, patient_ids)
    session_facts.refresh(cur, patient_ids)
