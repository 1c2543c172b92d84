"""A contract CSV import folder (data-contract §3) made from a demo store: a realistic, large import."""

from __future__ import annotations

from pathlib import Path

import duckdb

QUERIES = {
    "patients": """SELECT patient_id, given_name, family_name, strftime(birth_date, '%Y-%m-%d') AS birth_date, sex,
                          strftime(referral_date, '%Y-%m-%d') AS referral_date, primary_diagnosis, clinician, mrn
                   FROM patients""",
    "sessions": """SELECT session_id, patient_id, strftime(scheduled_at, '%Y-%m-%dT%H:%M') AS scheduled_at, status, route,
                          dose_mg, weight_kg, chair, clinician, strftime(started_at, '%Y-%m-%dT%H:%M') AS started_at,
                          strftime(ended_at, '%Y-%m-%dT%H:%M') AS ended_at,
                          strftime(rems_form_sent_on, '%Y-%m-%d') AS rems_form_sent_on
                   FROM sessions WHERE status IN ('completed', 'cancelled', 'no_show')""",
    "assessments": """SELECT a.patient_id, strftime(a.assessed_on, '%Y-%m-%d') AS assessed_on, a.scale, a.total,
                             array_to_string(a.items, ';') AS items, a.session_id, a.minute
                      FROM assessments a LEFT JOIN sessions s USING (session_id)
                      WHERE a.session_id IS NULL OR s.status IN ('completed', 'cancelled', 'no_show')""",
    "vitals": """SELECT v.session_id, v.minute, v.patient_id, strftime(v.measured_at, '%Y-%m-%dT%H:%M') AS measured_at,
                        v.systolic, v.diastolic, v.heart_rate, v.spo2
                 FROM vitals v LEFT JOIN sessions s USING (session_id)
                 WHERE v.session_id IS NULL OR s.status IN ('completed', 'cancelled', 'no_show')""",
    "side_effects": """SELECT e.session_id, e.effect, e.severity, e.note FROM side_effects e JOIN sessions s USING (session_id)
                       WHERE s.status IN ('completed', 'cancelled', 'no_show')""",
}


def write_folder(store: str, out: Path) -> dict[str, int]:
    """Write the store's clinical rows as a CSV import folder; returns the rows per file."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(store, read_only=True)
    try:
        counts = {}
        for name, query in QUERIES.items():
            con.execute(f"COPY ({query}) TO '{out / (name + '.csv')}' (HEADER, DELIMITER ',')")
            counts[name] = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
        return counts
    finally:
        con.close()
