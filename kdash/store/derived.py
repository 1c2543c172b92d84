"""Derived tables are facts computed from the record, kept current so pages read them instead of re-deriving
them per view; every write refreshes the patients it touched in the same transaction, so readers never see
them out of step. Each is built by sql/<name>_build.sql (which takes $ids: the patients to build, or NULL).

- score_points: every depression score with the sessions given before it (the outcome statistics);
- session_facts: each completed session's number, dose band and measured extremes (side effects, excursions),
  flagged when it is the patient's first of its route or dose band;
- course_facts: each treated patient's course so far, first route, first and last day, session counts
  (every clinic-wide cohort);
- effect_facts: each side-effect report with its session's route, dose band and number, flagged when it is the
  patient's first report of the effect overall / in the route / dose band / session (side-effect rates).

Two more depend on the clinic's settings as well as the record and are stamped with them (flag_log.py,
course_scores.py): a write refreshes them while the stamp is current, and the dashboard rebuilds a stale one
when it opens the store."""

from __future__ import annotations

import json

import duckdb

from kdash.store import course_scores, flag_log, queries, reads, writer

# table → the order its rows are stored in (so a patient's rows sit together for the readers)
TABLES = {"score_points": "patient_id, scale, assessed_on",
          "session_facts": "patient_id, scheduled_at",
          "course_facts": "patient_id",
          "effect_facts": "patient_id, k"}        # built from session_facts, so after it


def refresh(cur: duckdb.DuckDBPyConnection, patient_ids: list[str] | None = None) -> None:
    """Rebuild the derived rows of these patients (None: everyone) inside the caller's transaction."""
    if writer.is_record(cur):        # PostgreSQL: the read model's pull after the commit rebuilds them
        return
    for table, order in TABLES.items():
        if patient_ids is None:
            cur.execute(f"DELETE FROM {table}").fetchall()
        else:
            cur.execute(f"DELETE FROM {table} WHERE list_contains($ids, patient_id)", {"ids": patient_ids}).fetchall()
        text = queries.sql(table + "_build")
        cur.execute(f"INSERT INTO {table} SELECT * FROM ({text}) ORDER BY {order}",
                    queries.bind(text, {"ids": patient_ids, "as_of": None})).fetchall()


PHASES_KEY = "derived_phase_settings"


def _phase_params(cfg: dict) -> dict:
    ind = cfg["induction"]
    return {"iv": ind["iv_ketamine"], "esk": ind["esketamine"], "sc": ind["sc_ketamine"], "im": ind["im_ketamine"],
            "oral": ind["oral_ketamine"]}


def derive_phases(cur: duckdb.DuckDBPyConnection, cfg: dict, patient_ids: list[str] | None = None) -> None:
    """Give every session whose source left its phase blank (or whose phase was derived before) the phase its
    place in the course implies, inside the caller's transaction; before refresh(), which counts phases."""
    if writer.is_record(cur):        # derived phases belong to each read model
        return
    cur.execute("UPDATE sessions SET phase = d.phase, phase_derived = TRUE FROM ("
                + queries.sql("derive_phases") + ") d WHERE sessions.session_id = d.session_id "
                "AND (sessions.phase IS NULL OR d.phase_derived) AND sessions.phase IS DISTINCT FROM d.phase",
                {**_phase_params(cfg), "ids": patient_ids}).fetchall()
    stamped = cur.execute("SELECT count(*) FROM meta WHERE key = $k", {"k": PHASES_KEY}).fetchall()[0][0]
    if patient_ids is None or not stamped:    # a partial derivation stamps only a store that had none
        cur.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)",
                    {"k": PHASES_KEY, "v": json.dumps(_phase_params(cfg), sort_keys=True)}).fetchall()


def _phases_current(con: duckdb.DuckDBPyConnection, cfg: dict) -> bool:
    """Derived phases follow the induction lengths they were derived with, and no session lacks a phase."""
    if reads.scalar(con, "SELECT count(*) FROM sessions WHERE phase IS NULL"):
        return False
    stamp = reads.meta(con, PHASES_KEY)
    if stamp is None:        # nothing was ever derived (a demo store, or only recorded sessions)
        return not reads.scalar(con, "SELECT count(*) FROM sessions WHERE phase_derived")
    return stamp == json.dumps(_phase_params(cfg), sort_keys=True)


def refresh_stamped(con: duckdb.DuckDBPyConnection, cur: duckdb.DuckDBPyConnection, cfg: dict,
                    patient_ids: list[str] | None) -> None:
    """These patients' rows in the settings-stamped tables (None: all rows, stamping them), where the stamp is
    current (a stale table is rebuilt whole by ensure_current instead), in the caller's transaction; after
    refresh()."""
    if writer.is_record(cur):
        return
    whole = patient_ids is None
    if whole or flag_log.is_fresh(con, cfg):
        flag_log.refresh(cur, cfg, patient_ids)
    if whole or course_scores.is_current(con, course_scores.settings_params(cfg)):
        course_scores.refresh(cur, cfg, patient_ids)


def ensure_current(con: duckdb.DuckDBPyConnection, cfg: dict) -> bool:
    """Rebuild each settings-stamped table whose stamp is not the current settings (after an upgrade or a
    threshold change); True when anything was rebuilt."""
    if not _phases_current(con, cfg):     # an import from before phases were derived, or new induction lengths
        with writer.local_transaction(con) as cur:
            derive_phases(cur, cfg)
            refresh(cur)
            refresh_stamped(con, cur, cfg, None)
        return True
    stale_flags = not flag_log.is_fresh(con, cfg)
    stale_scores = not course_scores.is_current(con, course_scores.settings_params(cfg))
    if stale_flags or stale_scores:
        with writer.local_transaction(con) as cur:
            if stale_flags:
                flag_log.refresh(cur, cfg)
            if stale_scores:
                course_scores.refresh(cur, cfg)
    return stale_flags or stale_scores
