"""One patient's record for the progress page: header, sessions, scores, vitals, side effects, flags."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pandas as pd

from kdash import ids
from kdash.clinical import rules, worklist
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
    """(status, sentence) for one scale, by clinical-reference §1: e.g. ("responder",
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


def view(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, today: dt.date, by: str = "session") -> dict | None:
    """Everything the patient page draws, built once per (patient, day, axis) so the page can cache it."""
    from kdash import scales
    from kdash.clinical import deid
    from kdash.clinical.sections import guarded

    h = header(con, cfg, patient_id, today)
    if h is None:
        return None
    rec = record(con, cfg, patient_id)
    flags = rules.evaluate(rec, cfg)
    done = completed_sessions(rec)
    open_rows = worklist.open_rows(con, cfg, today, [patient_id])
    return {
        "header": h, "case": deid.pseudonym(con, patient_id), "phase": phase(h, today, cfg), "flags": flags,
        "open": rules.open_flags(flags, open_rows),
        "newer": {r["rule"]: text for r in open_rows.to_dict("records") if (text := worklist.newer_text(r))},
        "acks": worklist.history(con, patient_id),
        "eligibility": guarded("eligibility", _eligibility, con, cfg, today, patient_id),
        "trends": [guarded(f"{scales.SCALES[code].name} trend", _trend, rec, done, code, cfg, by)
                   for code in scales.DEPRESSION_SCALES if not scale_scores(rec, code).empty],
        "safety": guarded("session safety", _session_safety, con, cfg, rec, done, patient_id),
        "sessions": rec.sessions[["scheduled_at", "status", "route", "phase", "dose_mg", "mg_per_kg", "chair",
                                  "chair_minutes", "session_number"]],
    }


def _eligibility(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, patient_id: str) -> dict | None:
    from kdash.clinical import eligibility
    checked = eligibility.checklist_for(con, cfg, today, [patient_id])
    return {k: checked[0][k] for k in ("route", "verdict", "override")} if checked else None


def _trend(rec: rules.PatientRecord, done: pd.DataFrame, code: str, cfg: dict, by: str) -> dict:
    from kdash import scales
    from kdash.present import charts
    scores = scale_scores(rec, code)
    scale = scales.SCALES[code]
    base = rules.baseline(rec, code, cfg)
    status, sentence = status_line(rec, scale, cfg)
    with_items = scores[scores["items"].notna()]
    return {
        "code": code, "name": scale.name, "status": status, "sentence": sentence,
        "trend": charts.mood_trend(scores, done, scale, base[0] if base else None, cfg["remission"].get(code),
                                   cfg["outcomes"]["response_pct"], by).to_dict(),
        "items": charts.item_heatmap(with_items, scale, by).to_dict() if scale.n_items and len(with_items) else None,
        "totals_only": int(len(scores) - len(with_items)),
        "table": scores[["assessed_on", "after_session", "total"]].rename(
            columns={"assessed_on": "date", "after_session": "sessions before"}),
    }


def _session_safety(con: duckdb.DuckDBPyConnection, cfg: dict, rec: rules.PatientRecord, done: pd.DataFrame,
                    patient_id: str) -> dict:
    from kdash.present import charts
    s = cfg["safety"]
    bp = bp_by_session(rec)
    cadss, moaas = session_scale(rec, "CADSS"), session_scale(rec, "MOAAS")
    effects = side_effects(con, cfg, patient_id).merge(done[["session_id", "session_number"]], on="session_id")
    return {
        "bp": bp[["session_number", "day", "minute", "point", "systolic", "diastolic", "heart_rate", "spo2"]],
        "bp_chart": charts.session_bp(bp, s).to_dict() if len(bp) else None,
        "alertness": charts.session_alertness(cadss, moaas, s).to_dict() if len(cadss) or len(moaas) else None,
        "effects": effects[["session_number", "day", "effect", "severity"]],
        "effects_chart": charts.side_effect_grid(effects).to_dict() if len(effects) else None,
    }
