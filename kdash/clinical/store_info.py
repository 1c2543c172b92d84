"""What a store holds (data-contract §2 `info`) and how the demo compares with its targets."""

from __future__ import annotations

import datetime as dt

import duckdb

from kdash.clinical import outcomes
from kdash.store import db


def info(con: duckdb.DuckDBPyConnection, path: str) -> dict:
    cur = con.cursor()
    try:
        sessions = dict(cur.execute("SELECT status, count(*) FROM sessions GROUP BY status").fetchall())
        assessments = dict(cur.execute(
            "SELECT scale, count(*) FROM assessments GROUP BY scale ORDER BY scale").fetchall())
        counts = {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("patients", "vitals", "side_effects")}
    finally:
        cur.close()
    return {
        "store": path, "schema_version": db.schema_version(con), "demo": db.meta(con, "demo") == "true",
        "patients": counts["patients"],
        "sessions": {s: int(sessions.get(s, 0)) for s in ("completed", "cancelled", "no_show", "scheduled")},
        "assessments": {k: int(v) for k, v in assessments.items()},
        "vitals": counts["vitals"], "side_effects": counts["side_effects"],
    }


def calibration(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date | None = None) -> dict:
    """The demo's figures beside the published targets they were tuned to."""
    today = today or dt.date.fromisoformat(db.meta(con, "demo_as_of") or dt.date.today().isoformat())
    row = db.query(con, "calibration", {"today": today, "ind_iv": cfg["induction"]["iv_ketamine"],
                                        "ind_esk": cfg["induction"]["esketamine"]}).iloc[0]
    completers = outcomes.summary(con, cfg, "MADRS", analysis_set="completers")
    itt = outcomes.summary(con, cfg, "MADRS", analysis_set="itt")
    effects = db.query(con, "side_effect_patient_rates")
    return {
        "response_completers": completers["response_rate"], "remission_completers": completers["remission_rate"],
        "response_itt": itt["response_rate"], "remission_itt": itt["remission_rate"],
        "stopped_after_first": round(float(row.stopped_after_first), 3),
        "not_completing_induction": round(float(row.not_completing_induction), 3),
        "no_show_rate": round(float(row.no_show_rate), 3),
        "side_effects_per_patient": {r.effect: round(float(r.rate), 3) for r in effects.itertuples()},
    }
