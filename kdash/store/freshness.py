"""Whether a settings-stamped derived table was built with the clinic's current settings.

The course scores (kdash/store/course_scores.py) depend on the outcome settings; a query reading them learns
here whether the stored rows may be used or must be computed live (kdash/store/queries.py binds it). Below both,
so the query layer and the table's builder never import each other."""

from __future__ import annotations

import hashlib
import json

import duckdb

from kdash.store import reads


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
    return reads.meta(con, META_KEY) == stamp(params)
