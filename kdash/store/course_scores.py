"""Course scores: each treated patient's baseline, last observation, timepoint scores and first response on
each depression scale (sql/course_scores_build.sql), so the outcome statistics read one row per patient.

They depend on the clinic's outcome settings (baseline look-back, window after the last session, response
threshold, planned induction lengths), so the table is stamped with a hash of those. Like the flag log: each
write refreshes the patients it touched while the stamp is current; the dashboard rebuilds a stale table on
opening the store; a reader that finds it stale computes the same rows live (cohort_scores.sql)."""

from __future__ import annotations

import hashlib
import json

import duckdb

from kdash.store import db

META_KEY = "course_scores_settings"
SETTINGS = ("lookback", "window", "response", "ind_iv", "ind_esk", "ind_sc", "ind_other")
# Raise when course_scores_build.sql changes what a row means, so stores built before are rebuilt on opening.
# 2: time to response counts only the score that counts for a session (the timepoint definition).
# 3: observed timepoints (obs_*) and the first scored session, for the analysis sets said as they are.
DEFINITIONS = 3


def settings_params(cfg: dict) -> dict:
    ind, out = cfg["induction"], cfg["outcomes"]
    return {"lookback": out["baseline_lookback_days"], "window": out["after_session_window_days"],
            "response": out["response_pct"] / 100, "ind_iv": ind["iv_ketamine"], "ind_esk": ind["esketamine"],
            "ind_sc": ind["sc_ketamine"], "ind_other": ind["im_ketamine"]}


def stamp(params: dict) -> str:
    """A hash of the settings the rows were built with (from any parameter set that names them) and of the
    version of their definitions."""
    named = {**{k: params[k] for k in SETTINGS}, "definitions": DEFINITIONS}   # stamps before 2: settings alone
    return hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:16]


def is_current(con: duckdb.DuckDBPyConnection, params: dict) -> bool:
    return db.meta(con, META_KEY) == stamp(params)


def refresh(cur: duckdb.DuckDBPyConnection, cfg: dict, patient_ids: list[str] | None = None) -> None:
    """Rebuild these patients' rows (None: everyone, and stamp the table) inside the caller's transaction."""
    params = {**settings_params(cfg), "patient_ids": patient_ids, "ids": patient_ids, "as_of": None}
    if patient_ids is None:
        cur.execute("DELETE FROM course_scores").fetchall()
    else:
        cur.execute("DELETE FROM course_scores WHERE list_contains($ids, patient_id)", {"ids": patient_ids}).fetchall()
    text = db.sql("course_scores_build")
    cur.execute(f"INSERT INTO course_scores SELECT * FROM ({text}) ORDER BY patient_id, scale",
                db.bind(text, params)).fetchall()
    if patient_ids is None:
        cur.execute("INSERT OR REPLACE INTO meta VALUES ($k, $v)", {"k": META_KEY, "v": stamp(params)}).fetchall()
