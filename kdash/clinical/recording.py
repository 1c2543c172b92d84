"""Recording a session from the clinic floor: validate every field, save in one transaction, audit it,
and bring the patient's safety flags up to date. Deleting keeps the earlier version in the audit log."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from dataclasses import dataclass, field

import duckdb

from kdash import scales
from kdash.access import audit
from kdash.importers.csv_folder import EFFECTS, ROUTES, RowError, _assessment, _whole
from kdash.store import db, derived


@dataclass
class Entry:
    """What the form holds, as typed (numbers may be None)."""
    patient_id: str
    day: dt.date
    route: str
    phase: str = "induction"
    weight_kg: float | None = None
    dose_mg: float | None = None
    chair: str | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    clinician: str | None = None
    acknowledged: str | None = None       # the warnings the clinician read and went ahead despite (to_acknowledge)
    vitals: list[dict] = field(default_factory=list)           # minute, systolic, diastolic, heart_rate, spo2
    scores: dict[str, str] = field(default_factory=dict)       # scale → "3;2;…" items, or a total
    cadss: float | None = None                                  # one rating without a minute (older forms, imports)
    moaas: float | None = None
    side_effects: list[dict] = field(default_factory=list)     # effect, severity
    ratings: list[dict] = field(default_factory=list)          # minute, cadss, moaas: in-session ratings by minute
    rems_form_sent_on: dt.date | None = None                   # esketamine: the REMS monitoring form (§4)


def mg_per_kg(dose_mg: float | None, weight_kg: float | None) -> float | None:
    return round(dose_mg / weight_kg, 2) if dose_mg and weight_kg else None


def validate(con: duckdb.DuckDBPyConnection, e: Entry, today: dt.date | None = None) -> dict[str, str]:
    """Field → what is wrong with it; empty when the entry can be saved."""
    errors: dict[str, str] = {}
    today = today or dt.date.today()
    known = db.row(con, "SELECT coalesce(deceased, FALSE), deceased_on FROM patients WHERE patient_id = $p",
                   {"p": e.patient_id})
    if known is None:
        errors["patient_id"] = f"no patient with ID {e.patient_id!r}"
    elif known[0] and (known[1] is None or known[1] < e.day):
        errors["patient_id"] = "this patient is recorded as deceased" + (f" on {known[1]}" if known[1] else "")
    if e.day > today:
        errors["day"] = "a session is recorded on or after its day, not before"
    if e.route not in ROUTES:
        errors["route"] = f"route must be one of {', '.join(ROUTES)}"
    if e.weight_kg is None or not 20 <= e.weight_kg <= 400:
        errors["weight_kg"] = "weight is required, 20–400 kg"
    if e.dose_mg is None or not 0 < e.dose_mg <= 2000:
        errors["dose_mg"] = "dose is required, above 0 and at most 2000 mg"
    elif e.route == "esketamine" and e.dose_mg not in (28, 56, 84):
        errors["dose_mg"] = "esketamine is given as 28, 56 or 84 mg (1–3 devices)"
    elif e.weight_kg and e.route != "esketamine" and e.dose_mg / e.weight_kg > 2.0:
        errors["dose_mg"] = f"{e.dose_mg / e.weight_kg:.2f} mg/kg is above 2 mg/kg: check the dose and weight"
    if e.start is None or e.end is None:
        errors["times"] = "start and end times are required"
    elif e.end <= e.start:
        errors["times"] = "the session must end after it starts"
    for i, v in enumerate(e.vitals, start=1):
        problems = _reading_problems(v)
        if problems:
            errors[f"vitals:{i}"] = f"reading {i}: " + "; ".join(problems)
    for code, text in e.scores.items():
        if not (text or "").strip():
            continue
        raw = {"patient_id": e.patient_id, "assessed_on": e.day.isoformat(), "scale": code}
        raw.update({"items": text} if ";" in text else {"total": text})
        try:
            _assessment(raw)
        except RowError as exc:
            errors[f"score:{code}"] = str(exc)
    for name, value, scale in (("cadss", e.cadss, "CADSS"), ("moaas", e.moaas, "MOAAS")):
        if value is not None:
            whole = math.isfinite(value) and value == int(value)     # NaN and infinity are not scores
            problem = scales.total_problem(scale, int(value)) if whole else f"{scale} is a whole number"
            if problem:
                errors[name] = problem
    for i, r in enumerate(e.ratings, start=1):
        problems = _rating_problems(r)
        if problems:
            errors[f"ratings:{i}"] = f"rating {i}: " + "; ".join(problems)
    minutes = [r.get("minute") for r in e.ratings if r.get("minute") is not None]
    if len(minutes) != len(set(minutes)):
        errors["ratings"] = "two ratings at the same minute: give each its own minute, or one row per minute"
    if e.rems_form_sent_on is not None:
        if e.route != "esketamine":
            errors["rems_form"] = "the REMS monitoring form belongs to esketamine sessions"
        elif e.rems_form_sent_on < e.day:
            errors["rems_form"] = "the REMS form is sent after the session, not before it"
        elif e.rems_form_sent_on > today:
            errors["rems_form"] = "the REMS form's sent date is in the future"
    for i, s in enumerate(e.side_effects, start=1):
        if s.get("effect") not in EFFECTS:
            errors[f"effect:{i}"] = f"side effect {i}: choose one of the listed effects"
        elif s.get("severity") not in ("mild", "moderate", "severe"):
            errors[f"effect:{i}"] = f"{s['effect']}: severity must be mild, moderate or severe"
    return errors


# What a cuff can plausibly read on a person in a treatment chair; outside it, a typing slip is likelier than a
# reading (checked value by value, so 400/20 names both numbers).
PLAUSIBLE = {"minute": (-240, 1440), "systolic": (60, 260), "diastolic": (30, 160), "heart_rate": (20, 250),
             "spo2": (50, 100)}


def _reading_problems(v: dict) -> list[str]:
    """Every problem of one vitals row, each value checked against its plausible range."""
    problems, values = [], {}
    for name, (low, high) in PLAUSIBLE.items():
        raw = v.get(name)
        if raw is None:
            continue
        try:
            values[name] = _whole(str(raw), name, low, high)
        except RowError as exc:
            problems.append(str(exc))
    missing = [n for n in ("minute", "systolic", "diastolic") if v.get(n) is None]
    if missing:
        problems.append(f"{', '.join(missing)} missing (minute, systolic and diastolic are all needed)")
    if "systolic" in values and "diastolic" in values and values["diastolic"] >= values["systolic"]:
        problems.append(f"diastolic {values['diastolic']} is not below systolic {values['systolic']}")
    return problems


def _rating_problems(r: dict) -> list[str]:
    """Every problem of one row of ratings by minute: a minute, and a CADSS or a MOAA/S in range."""
    problems = []
    try:
        minute = _whole(str(r["minute"]), "minute", -240, 1440) if r.get("minute") is not None else None
    except RowError as exc:
        problems.append(str(exc))
        minute = 0
    if minute is None:
        problems.append("minute missing (minutes from the dose, as for vitals)")
    if r.get("cadss") is None and r.get("moaas") is None:
        problems.append("a CADSS or a MOAA/S is needed on each row")
    for name, scale in (("cadss", "CADSS"), ("moaas", "MOAAS")):
        value = r.get(name)
        if value is not None:
            whole = isinstance(value, (int, float)) and math.isfinite(value) and value == int(value)
            problem = scales.total_problem(scale, int(value)) if whole else f"{scales.SCALES[scale].name} is a whole number"
            if problem:
                problems.append(problem)
    return problems


def to_acknowledge(con: duckdb.DuckDBPyConnection, cfg: dict, patient_id: str, route: str, has_vitals: bool,
                   today: dt.date) -> list[str]:
    """What a clinician must read and confirm before this session is recorded: no eligibility decision for the
    route, an open urgent safety flag, no vitals at all (clinical reference §2 "a clinician may override a
    verdict"; §4 urgent flags; the esketamine label's monitoring)."""
    from kdash.clinical import eligibility, patient, rules, worklist
    needs = []
    found = eligibility.checklist_for(con, cfg, today, [patient_id], route if route in eligibility.ROUTES else None)
    if found and found[0]["override"] is None:
        needs.append(f"no eligibility decision (sign-off or override) is on file for {found[0]['route'].replace('_', ' ')}; "
                     f"the computed verdict is {found[0]['verdict'].replace('_', ' ')}")
    open_rows = worklist.open_rows(con, cfg, today, [patient_id])
    urgent = [f for f in rules.open_flags(patient.flags(con, cfg, patient_id), open_rows) if f.severity == "urgent"]
    if urgent:
        needs.append("open urgent flag: " + "; ".join(f"{f.title} ({f.value}, {f.day:%Y-%m-%d})" for f in urgent[:3]))
    if not has_vitals:
        needs.append("no blood pressure or other vitals are entered for this session")
    return needs


def save(con: duckdb.DuckDBPyConnection, cfg: dict, e: Entry, username: str | None = None,
         replaces: str | None = None) -> str:
    """Write the session and everything measured in it, in one transaction; returns the session ID.
    With `replaces`, that session is edited: its earlier version goes to the audit log, then it is rewritten."""
    problems = validate(con, e)
    if problems:
        raise ValueError("; ".join(problems.values()))
    sid = replaces or "R" + uuid.uuid4().hex[:12].upper()
    with db.transaction(con) as cur:
        if replaces:
            before = _remove(cur, replaces)
            audit.log(cur, "edit_session", username=username, patient_id=e.patient_id,
                      detail=json.dumps({"session_id": replaces, "before": before}, default=str))
        _write(cur, sid, e)
        derived.refresh(cur, [e.patient_id])
        derived.refresh_stamped(con, cur, cfg, [e.patient_id])
        audit.log(cur, "record_session", username=username, patient_id=e.patient_id,
                  detail=sid + (f"; acknowledged: {e.acknowledged}" if e.acknowledged else ""))
    return sid


def _write(cur, sid: str, e: Entry) -> None:
    start = dt.datetime.combine(e.day, e.start)
    cur.execute("INSERT INTO sessions (session_id, patient_id, scheduled_at, status, route, phase, dose_mg, "
                "weight_kg, chair, clinician, started_at, ended_at, acknowledged, rems_form_sent_on) VALUES "
                "($s, $p, $at, 'completed', $r, $ph, $d, $w, $c, $cl, $at, $end, $ack, $rems)",
                {"s": sid, "p": e.patient_id, "at": start, "r": e.route, "ph": e.phase, "d": e.dose_mg,
                 "w": e.weight_kg, "c": e.chair, "cl": e.clinician, "ack": e.acknowledged,
                 "end": dt.datetime.combine(e.day, e.end), "rems": e.rems_form_sent_on}).fetchall()
    for v in e.vitals:
        cur.execute("INSERT INTO vitals VALUES ($s, $m, $p, $at, $sys, $dia, $hr, $o2)",
                    {"s": sid, "m": int(v["minute"]), "p": e.patient_id,
                     "at": start + dt.timedelta(minutes=int(v["minute"])), "sys": int(v["systolic"]),
                     "dia": int(v["diastolic"]), "hr": _opt(v.get("heart_rate")), "o2": _opt(v.get("spo2"))}
                    ).fetchall()
    for code, text in e.scores.items():
        if (text or "").strip():
            raw = {"patient_id": e.patient_id, "assessed_on": e.day.isoformat(), "scale": code}
            raw.update({"items": text} if ";" in text else {"total": text})
            row = _assessment(raw)
            cur.execute("INSERT INTO assessments (patient_id, assessed_on, scale, total, items, session_id) "
                        "VALUES ($p, $d, $sc, $t, $i, $s)",
                        {"p": e.patient_id, "d": e.day, "sc": code, "t": row["total"], "i": row["items"],
                         "s": sid}).fetchall()
    ratings = [(scale, value, None) for scale, value in (("CADSS", e.cadss), ("MOAAS", e.moaas))] + [
        (scale, r.get(key), int(r["minute"])) for r in e.ratings for scale, key in (("CADSS", "cadss"), ("MOAAS", "moaas"))]
    for scale, value, minute in ratings:
        if value is not None:
            cur.execute("INSERT INTO assessments (patient_id, assessed_on, scale, total, items, session_id, minute) "
                        "VALUES ($p, $d, $sc, $t, NULL, $s, $m)",
                        {"p": e.patient_id, "d": e.day, "sc": scale, "t": int(value), "s": sid, "m": minute}).fetchall()
    for s in e.side_effects:
        cur.execute("INSERT INTO side_effects VALUES ($s, $e, $sev, NULL)",
                    {"s": sid, "e": s["effect"], "sev": s["severity"]}).fetchall()


def _remove(cur, session_id: str) -> dict:
    """Delete a session's rows; returns them as they were."""
    before = {t: cur.execute(f"SELECT * FROM {t} WHERE session_id = $s", {"s": session_id}).df().to_dict("records")
              for t in ("sessions", "vitals", "assessments", "side_effects")}
    if not before["sessions"]:
        raise ValueError(f"no session {session_id!r}")
    for t in ("side_effects", "vitals", "assessments", "sessions"):
        cur.execute(f"DELETE FROM {t} WHERE session_id = $s", {"s": session_id}).fetchall()
    return before


def load(con: duckdb.DuckDBPyConnection, session_id: str) -> Entry | None:
    """A recorded session back as a form entry, for editing."""
    cur = con.cursor()
    try:
        row = cur.execute("SELECT patient_id, scheduled_at, route, phase, weight_kg, dose_mg, chair, started_at, "
                          "ended_at, clinician, rems_form_sent_on FROM sessions WHERE session_id = $s",
                          {"s": session_id}).fetchall()
        if not row:
            return None
        pid, at, route, phase, weight, dose, chair, started, ended, clinician, rems = row[0]
        vitals = [dict(zip(("minute", "systolic", "diastolic", "heart_rate", "spo2"), v)) for v in cur.execute(
            "SELECT minute, systolic, diastolic, heart_rate, spo2 FROM vitals WHERE session_id = $s "
            "ORDER BY minute, measured_at, systolic, diastolic, heart_rate, spo2",
            {"s": session_id}).fetchall()]
        scores, cadss, moaas, by_minute = {}, None, None, {}
        # two scores of a scale in the session: the form holds one, the last of this order (the higher); in-session
        # ratings with a minute go to the ratings by minute
        for scale, total, items, minute in cur.execute(
                "SELECT scale, total, items, minute FROM assessments WHERE session_id = $s "
                "ORDER BY scale, minute, total, items", {"s": session_id}).fetchall():
            if scale in ("CADSS", "MOAAS") and minute is not None:
                by_minute.setdefault(minute, {"minute": minute, "cadss": None, "moaas": None})[scale.lower()] = total
            elif scale == "CADSS":
                cadss = total
            elif scale == "MOAAS":
                moaas = total
            else:
                scores[scale] = ";".join(map(str, items)) if items else str(total)
        effects = [{"effect": e, "severity": s} for e, s in cur.execute(
            "SELECT effect, severity FROM side_effects WHERE session_id = $s ORDER BY effect, severity, note",
            {"s": session_id}).fetchall()]
    finally:
        cur.close()
    return Entry(patient_id=pid, day=at.date(), route=route, phase=phase or "induction", weight_kg=weight,
                 dose_mg=dose, chair=chair, start=(started or at).time(), end=(ended or at).time(),
                 clinician=clinician, vitals=vitals, scores=scores, cadss=cadss, moaas=moaas, side_effects=effects,
                 ratings=[by_minute[m] for m in sorted(by_minute)], rems_form_sent_on=rems)


def delete(con: duckdb.DuckDBPyConnection, cfg: dict, session_id: str, username: str | None = None) -> None:
    """Remove a recorded session and what was measured in it; the audit log keeps the earlier version."""
    with db.transaction(con) as cur:
        before = _remove(cur, session_id)
        pid = before["sessions"][0]["patient_id"]
        derived.refresh(cur, [pid])
        derived.refresh_stamped(con, cur, cfg, [pid])
        audit.log(cur, "delete_session", username=username, patient_id=pid,
                  detail=json.dumps({"session_id": session_id, "before": before}, default=str))


def _opt(x):
    return None if x is None or x != x else int(x)
