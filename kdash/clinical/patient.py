"""One patient's record for the progress page: header, sessions, scores, vitals, side effects, flags."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pandas as pd

from kdash import ids
from kdash.clinical import rules
from kdash.store import db


def id_problem(text: str | None) -> str | None:
    """Why a patient ID from a link or a form cannot be one, or None (the importers' rule, kdash/ids.py)."""
    return ids.problem(text)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def plain(text) -> str:
    """Text from the record shown inside Streamlit markdown as the characters it is, never as markup or a link."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def identity(h: dict) -> str:
    """The two identifiers a clinician checks before any decision (name with birth date and age, and the ID, with
    the MRN where known), as markdown-safe text: "Ada Lovelace · born 1980-05-01 (46) · ID P000001 · MRN 12345";
    a deceased patient's death comes after the birth date (the age is the age at death)."""
    name = " ".join(str(x) for x in (h.get("given_name"), h.get("family_name")) if pd.notna(x) and str(x).strip())
    born = h.get("birth_date")
    parts = [plain(name) if name else "Name not recorded",
             f"born {pd.Timestamp(born):%Y-%m-%d} ({h['age']})" if pd.notna(born) else "birth date not recorded",
             f"ID {plain(h['patient_id'])}"]
    if h.get("deceased") is True or (h.get("deceased") and not pd.isna(h.get("deceased"))):
        died = h.get("deceased_on")
        parts.insert(2, f"died {pd.Timestamp(died):%Y-%m-%d}" if died is not None and pd.notna(died) else "deceased")
    if pd.notna(h.get("mrn")) and str(h["mrn"]).strip():
        parts.append(f"MRN {plain(h['mrn'])}")
    return " · ".join(parts)


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
    scores = db.query(con, "patient_assessments", p)
    # NULLs as None, not pandas' NA (whose truth value raises): a total without items, a score outside a session
    scores["items"] = [rules.item_scores(x) for x in scores["items"]]
    scores["session_id"] = scores["session_id"].astype(object).where(scores["session_id"].notna(), None)
    return rules.PatientRecord(
        sessions=db.query(con, "patient_sessions", p),
        assessments=scores,
        vitals=db.query(con, "patient_vitals", p),
        main_scale=cfg["clinic"]["main_scale"],
        induction=cfg["induction"])


def current_antidepressants(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str,
                            today: dt.date) -> list[str]:
    """'sertraline 150 mg/day (since 2026-01-05)': what the trial history says the patient takes on `today`."""
    rows = db.query(con, "current_antidepressants", {"patient_id": patient_id, "today": today})
    return [f"{r.drug} {r.dose_mg_per_day:g} mg/day" + (f" (since {pd.Timestamp(r.start_date):%Y-%m-%d})"
                                                        if pd.notna(r.start_date) else "")
            for r in rows.itertuples()]


def dose_text(route: str | None, dose_mg, mg_per_kg) -> str:
    """A session's dose in its route's unit: mg/kg (and mg) for weight-based ketamine, mg and 28 mg devices for
    esketamine (a fixed dose, never mg/kg)."""
    if dose_mg is None or pd.isna(dose_mg):
        return "dose not recorded"
    if route == "esketamine":
        return f"{dose_mg:g} mg ({dose_mg / 28:.0f} devices)"
    return (f"{mg_per_kg:.2f} mg/kg ({dose_mg:g} mg)" if mg_per_kg is not None and pd.notna(mg_per_kg)
            else f"{dose_mg:g} mg (no weight recorded)")


def side_effects(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str) -> pd.DataFrame:
    return db.query(con, "patient_side_effects", {"patient_id": patient_id})


def flags(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str) -> list[rules.Flag]:
    return rules.evaluate(record(con, cfg, patient_id), cfg)


def phase(h: dict, today: dt.date, cfg: dict) -> str:
    """Course phase, by the same rule as sql/roster.sql."""
    if h.get("deceased"):
        return "deceased"
    if not h.get("n_sessions"):
        return "waiting" if pd.notna(h.get("next_session")) else "referred"
    if pd.notna(h.get("next_session")):
        return h["current_phase"]
    if (today - h["last_day"].date()).days <= 21:
        return h["last_phase"] if h.get("last_phase") else h["current_phase"]
    planned = cfg["induction"].get(h["route"], 6)
    return "finished" if h["n_induction"] >= planned else "stopped"


def scale_scores(rec: rules.PatientRecord, scale: str) -> pd.DataFrame:
    a = rec.assessments
    # of two scores on one day the higher is the later, as in rules.py and the course scores
    return a[a["scale"] == scale].sort_values(["assessed_on", "total"], kind="stable").reset_index(drop=True)


def completed_sessions(rec: rules.PatientRecord) -> pd.DataFrame:
    s = rec.sessions
    return s[s["status"] == "completed"].reset_index(drop=True)


def judged_after(route: str, cfg: dict) -> int:
    """Sessions after which non-response is judged: 4 IV infusions, the end of induction otherwise (§4)."""
    if route == "iv_ketamine":
        return cfg["safety"]["iv_nonresponse_sessions"]
    if route == "esketamine":
        return cfg["induction"]["esketamine"]
    return cfg["induction"].get(route, 6)


def status_line(rec: rules.PatientRecord, scale, cfg: dict) -> tuple[str, str]:
    """(status, sentence) for one scale, by clinical reference §1: e.g. ("responder",
    "Responder since session 4: MADRS 34 → 14, −59 %")."""
    done = completed_sessions(rec)
    if done.empty:
        return "not treated", "No completed session yet."
    base = rules.baseline(rec, scale.code, cfg)
    if base is None or base[0] == 0:
        why = "no baseline" if base is None else "a baseline of 0"
        return "not evaluable", (f"Not evaluable on {scale.name}: {why} within "
                                 f"{cfg['outcomes']['baseline_lookback_days']} days before the first session.")
    first = done["day"].iloc[0]
    later = scale_scores(rec, scale.code)
    later = later[later["assessed_on"] > first]
    if later.empty:
        return "too early", f"Too early: {scale.name} baseline {base[0]:g}, no score since the first session yet."
    remission = cfg["remission"].get(scale.code)
    response = cfg["outcomes"]["response_pct"] / 100
    partial = cfg["outcomes"]["partial_response_pct"] / 100

    def status_of(total: float) -> str:
        fall = (base[0] - total) / base[0]
        if remission is not None and total <= remission:
            return "remitter"
        if fall >= response:
            return "responder"
        if fall >= partial:
            return "partial"
        return "worsening" if total > base[0] else "non-responder"

    statuses = [status_of(t) for t in later["total"]]
    now = statuses[-1]
    judge_at = judged_after(done["route"].iloc[0], cfg)
    if now in ("non-responder", "partial") and len(done) < judge_at:
        latest = later["total"].iloc[-1]
        return "too early", (f"Too early to judge ({len(done)} of {judge_at} sessions): {scale.name} "
                             f"{base[0]:g} → {latest:g}")
    i = len(statuses) - 1
    while i > 0 and statuses[i - 1] == now:
        i -= 1
    since = int(later["after_session"].iloc[i])
    latest = later["total"].iloc[-1]
    change = (latest - base[0]) / base[0]
    numbers = f"{scale.name} {base[0]:g} → {latest:g}, {'−' if change < 0 else '+'}{abs(change):.0%}"
    words = {"remitter": f"Remitter since session {since}", "responder": f"Responder since session {since}",
             "partial": f"Partial response since session {since}", "worsening": "Worsening",
             "non-responder": f"No response after {int(later['after_session'].iloc[-1])} sessions"}
    undefined = "" if remission is not None else f"; remission not defined for {scale.name}"
    return now, f"{words[now]}: {numbers}{undefined}"


def bp_by_session(rec: rules.PatientRecord) -> pd.DataFrame:
    """Session BP readings labelled before dosing, ~40 min or discharge, with the session number."""
    done = completed_sessions(rec)[["session_id", "session_number", "day"]]
    v = rec.vitals.merge(done, on="session_id")
    if v.empty:
        return v.assign(point=pd.Series(dtype=str))
    last = v.groupby("session_id")["minute"].transform("max")
    v["point"] = [("before dosing" if m < 0 else "~40 min" if 30 <= m <= 60 else
                   "discharge" if m == mx else "other") for m, mx in zip(v["minute"], last)]
    return v.sort_values(["session_number", "minute"]).reset_index(drop=True)


def session_scale(rec: rules.PatientRecord, code: str) -> pd.DataFrame:
    """One row per completed session with a rating of the scale: its worst rating (the peak CADSS, the deepest
    MOAA/S) where it was rated several times by minute, with how many ratings there were."""
    done = completed_sessions(rec)[["session_id", "session_number"]]
    rated = scale_scores(rec, code).merge(done, on="session_id")
    if rated.empty:
        return rated.assign(ratings=pd.Series(dtype=int))
    worst = "min" if code == "MOAAS" else "max"
    out = rated.groupby(["session_id", "session_number"], as_index=False).agg(
        total=("total", worst), assessed_on=("assessed_on", "first"), ratings=("total", "size"))
    return out.sort_values("session_number", kind="stable").reset_index(drop=True)


