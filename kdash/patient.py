"""One patient's record for the progress page: header, sessions, scores, vitals, side effects, flags."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pandas as pd

from kdash import db, rules

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def id_problem(text: str | None) -> str | None:
    """Why a patient ID from a link or a form cannot be one, or None."""
    if text is None or not text.strip():
        return "no patient ID was given"
    if not _ID.match(text.strip()):
        return "a patient ID is 1–64 letters, digits, '.', '_', ':' or '-'"
    return None


def header(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, today: dt.date) -> dict | None:
    df = db.query(con, "patient_header", {"patient_id": patient_id, "today": today})
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    route = row["route"]
    row["planned_induction"] = cfg["induction"].get(route) if isinstance(route, str) else None
    row["days_since_first"] = (today - row["first_day"].date()).days if pd.notna(row["first_day"]) else None
    return row


def record(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str) -> rules.PatientRecord:
    p = {"patient_id": patient_id}
    return rules.PatientRecord(
        sessions=db.query(con, "patient_sessions", p),
        assessments=db.query(con, "patient_assessments", p),
        vitals=db.query(con, "patient_vitals", p),
        main_scale=cfg["clinic"]["main_scale"],
        induction=cfg["induction"])


def side_effects(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str) -> pd.DataFrame:
    return db.query(con, "patient_side_effects", {"patient_id": patient_id})


def flags(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str) -> list[rules.Flag]:
    return rules.evaluate(record(con, cfg, patient_id), cfg)
