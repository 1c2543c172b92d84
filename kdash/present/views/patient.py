"""The patient page's view: one patient's record, flags and eligibility (kdash.clinical.patient) with their charts."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from kdash import vocab
from kdash.clinical import deid, rules, worklist
from kdash.clinical.patient import (
    bp_by_session,
    completed_sessions,
    current_antidepressants,
    dose_text,
    header,
    phase,
    record,
    scale_scores,
    session_scale,
    side_effects,
    status_line,
)
from kdash.present import charts


def view(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, today: dt.date, by: str = "session") -> dict | None:
    """Everything the patient page draws, built once per (patient, day, axis) so the page can cache it. by="auto":
    by session once the patient has one, else by date (scores with no session would all stand at "session 0")."""
    from kdash import scales
    from kdash.clinical.sections import guarded

    h = header(con, cfg, patient_id, today)
    if h is None:
        return None
    if by == "auto":
        by = "session" if int(h["n_sessions"] or 0) else "date"
    rec = record(con, cfg, patient_id)
    flags = rules.evaluate(rec, cfg)
    done = completed_sessions(rec)
    open_rows = worklist.open_rows(con, cfg, today, [patient_id])
    last = done.iloc[-1] if len(done) else None
    return {
        "medication": {"antidepressants": current_antidepressants(con, cfg, patient_id, today),
                       "last_dose": None if last is None else
                       f"{dose_text(last['route'], last['dose_mg'], last['mg_per_kg'])} "
                       f"{vocab.ROUTES.get(last['route'], '')} on {pd.Timestamp(last['scheduled_at']):%Y-%m-%d}"},
        "header": h, "by": by, "case": deid.pseudonym(con, patient_id), "phase": phase(h, today, cfg), "flags": flags,
        "open": rules.open_flags(flags, open_rows),
        "newer": {r["rule"]: text for r in open_rows.to_dict("records") if (text := worklist.newer_text(r))},
        "acks": worklist.history(con, patient_id),
        "eligibility": guarded("eligibility", _eligibility, con, cfg, today, patient_id),
        "trends": [guarded(f"{scales.SCALES[code].name} trend", _trend, rec, done, code, cfg, by)
                   for code in scales.DEPRESSION_SCALES if not scale_scores(rec, code).empty],
        "other_scales": [guarded(f"{scales.SCALES[code].name} scores", _other_scale, rec, code)
                         for code in OTHER_SCALES if not scale_scores(rec, code).empty],
        "outside_bp": guarded("blood pressure outside sessions", _outside_bp, rec, cfg),
        "safety": guarded("session safety", _session_safety, con, cfg, rec, done, patient_id),
        "sessions": rec.sessions[["scheduled_at", "status", "route", "phase", "dose_mg", "mg_per_kg", "chair",
                                  "chair_minutes", "session_number"]].assign(   # esketamine: a fixed dose, no mg/kg
            mg_per_kg=lambda s: s["mg_per_kg"].where(s["route"] != "esketamine")),
    }


def _eligibility(con: duckdb.DuckDBPyConnection, cfg: dict, today: dt.date, patient_id: str) -> dict | None:
    from kdash.clinical import eligibility
    checked = eligibility.checklist_for(con, cfg, today, [patient_id])
    return {k: checked[0][k] for k in ("route", "verdict", "override")} if checked else None


SOURCE_WORDS = {"self_report": "patient (self-reported)", None: "staff or record"}


def _reported_by(scores: pd.DataFrame) -> list[str]:
    """Who gave each score, in words: the patient at a check-in, or staff / the record."""
    return [SOURCE_WORDS.get(x, SOURCE_WORDS[None]) for x in scores.get("source", [None] * len(scores))]


def _trend(rec: rules.PatientRecord, done: pd.DataFrame, code: str, cfg: dict, by: str) -> dict:
    from kdash import scales
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
            columns={"assessed_on": "date", "after_session": "sessions before"}).assign(
            **{"reported by": _reported_by(scores)}),
    }


# Scales a patient may have besides the depression outcomes: screens and anxiety, shown by date on their bands
OTHER_SCALES = ("PHQ2", "GAD7", "CSSRS")


def _other_scale(rec: rules.PatientRecord, code: str) -> dict:
    from kdash import scales
    scale, scores = scales.SCALES[code], scale_scores(rec, code)
    return {"code": code, "name": scale.name, "chart": charts.scale_by_date(scores, scale).to_dict(),
            "table": pd.DataFrame({"date": scores["assessed_on"], "total": scores["total"],
                                   "band": [scale.band(t) for t in scores["total"]],
                                   "reported by": _reported_by(scores)})}


def _outside_bp(rec: rules.PatientRecord, cfg: dict) -> dict | None:
    """Readings outside any session (screening, imported), by date: eligibility reads the latest before treatment."""
    v = rec.vitals
    bp = v[v["session_id"].isna() & v["measured_at"].notna() & v["systolic"].notna()].sort_values("measured_at")
    if bp.empty:
        return None
    e = cfg["eligibility"]
    return {"chart": charts.bp_outside_sessions(bp, {"systolic": e["bp_systolic_max"],
                                                     "diastolic": e["bp_diastolic_max"]}).to_dict(),
            "table": bp[["measured_at", "systolic", "diastolic", "heart_rate", "spo2"]].rename(
                columns={"measured_at": "measured"})}


def _session_safety(con: duckdb.DuckDBPyConnection, cfg: dict, rec: rules.PatientRecord, done: pd.DataFrame,
                    patient_id: str) -> dict:
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
