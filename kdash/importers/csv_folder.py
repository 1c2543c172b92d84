"""The CSV import folder of data-contract §3: validate everything, then write in one transaction.

Every problem is reported as `file:line: reason`; by default any problem rejects the whole import and the
store is left exactly as it was. Re-importing the same rows changes nothing (rows are keyed by their IDs,
or by all their key columns where a file has none).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kdash import ids, scales
from kdash.store import db

ROUTES = ("iv_ketamine", "esketamine", "im_ketamine", "sc_ketamine", "oral_ketamine")
EFFECTS = ("dissociation", "nausea", "dizziness", "vertigo", "headache", "somnolence", "dysgeusia", "hypoaesthesia",
           "paraesthesia", "vomiting", "anxiety", "blood_pressure_increased", "blurred_vision", "sedation", "other")
SCREENING_ITEMS = (
    "aneurysmal_vascular_disease", "arteriovenous_malformation", "intracerebral_hemorrhage", "ketamine_hypersensitivity",
    "pregnancy", "psychosis_current", "psychotic_disorder_history", "substance_use_disorder_3m", "ketamine_or_pcp_misuse",
    "unstable_cardiovascular", "sleep_apnea_untreated", "seizures_unexplained", "severe_head_injury",
    "raised_intracranial_pressure",
    "hepatic_impairment_moderate", "hepatic_impairment_severe", "cystitis", "cognitive_impairment", "ecg_done",
    "liver_kidney_tests_done", "stop_bang_done", "pregnancy_test_done", "consent_signed", "rems_enrolled")

# file: (table, columns, required, key columns)
FILES = {
    "patients.csv": ("patients", ["patient_id", "given_name", "family_name", "birth_date", "sex", "referral_date",
                                  "primary_diagnosis", "clinician", "mrn", "deceased", "deceased_on"],
                     {"patient_id", "birth_date", "sex"}, ["patient_id"]),
    "patient_identifiers.csv": ("patient_identifiers", ["patient_id", "system", "value", "type"],
                                {"patient_id", "value"}, ["patient_id", "system", "value"]),
    "antidepressant_trials.csv": ("antidepressant_trials", ["patient_id", "drug", "dose_mg_per_day", "start_date",
                                                            "end_date", "outcome", "current_episode"],
                                  {"patient_id", "drug", "dose_mg_per_day", "start_date", "outcome"},
                                  ["patient_id", "drug", "start_date"]),
    "screening.csv": ("screening", ["patient_id", "item", "status", "assessed_on", "source"],
                      {"patient_id", "item", "status"},
                      ["patient_id", "item", "assessed_on"]),
    "sessions.csv": ("sessions", ["session_id", "patient_id", "scheduled_at", "status", "route", "dose_mg", "weight_kg",
                                  "chair", "clinician", "started_at", "ended_at", "phase", "rems_form_sent_on"],
                     {"session_id", "patient_id", "scheduled_at", "status", "route"}, ["session_id"]),
    "assessments.csv": ("assessments", ["patient_id", "assessed_on", "scale", "total", "items", "session_id", "minute"],
                        {"patient_id", "assessed_on", "scale"}, ["patient_id", "assessed_on", "scale", "minute"]),
    "vitals.csv": ("vitals", ["session_id", "minute", "patient_id", "measured_at", "systolic", "diastolic",
                              "heart_rate", "spo2"], {"systolic", "diastolic"},
                   ["session_id", "minute", "patient_id", "measured_at"]),
    "side_effects.csv": ("side_effects", ["session_id", "effect", "severity", "note"], {"session_id", "effect"},
                         ["session_id", "effect"]),
}
ORDER = list(FILES)   # patients first: later files refer to them


class RowError(ValueError):
    pass


@dataclass
class Report:
    """What an import found and did: rows per table, problems (`file:line: reason`), warnings."""
    rows: dict[str, list[dict]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    rejected_rows: list[tuple[str, int, dict, str]] = field(default_factory=list)
    fhir: dict = field(default_factory=dict)        # the FHIR import report (kdash/importers/fhir.py FhirResult.report)
    losses: list[tuple[str, str]] = field(default_factory=list)   # FHIR resources skipped: (file: Kind/id, reason)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- field parsers: each returns a value or raises RowError with a reason in words -------------------

def _text(v: str) -> str | None:
    v = v.strip()
    return v or None


def _id(v: str, name: str) -> str | None:
    if not v.strip():
        return None
    problem = ids.problem(v, name.replace("_id", " ID"))
    if problem:
        raise RowError(f"{name} {v!r}: {problem}")
    return v


def _date(v: str, name: str) -> dt.date | None:
    v = v.strip()
    if not v:
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise RowError(f"{name} {v!r} is not a date YYYY-MM-DD") from None


def _datetime(v: str, name: str) -> dt.datetime | None:
    v = v.strip()
    if not v:
        return None
    try:
        stamp = dt.datetime.fromisoformat(v)
    except ValueError:
        raise RowError(f"{name} {v!r} is not an ISO 8601 date-time") from None
    # with an offset: kept as the clinic-local wall time it names (the store holds local times)
    return stamp.replace(tzinfo=None)


def _number(v: str, name: str, low: float | None = None, high: float | None = None) -> float | None:
    v = v.strip()
    if not v:
        return None
    try:
        x = float(v)
    except ValueError:
        raise RowError(f"{name} {v!r} is not a number") from None
    if x != x or (low is not None and x < low) or (high is not None and x > high):
        raise RowError(f"{name} {v} is outside {low:g}–{high:g}")
    return x


def _whole(v: str, name: str, low: int, high: int) -> int | None:
    x = _number(v, name, low, high)
    if x is None:
        return None
    if x != int(x):
        raise RowError(f"{name} {v} is not a whole number")
    return int(x)


def _code(v: str, name: str, allowed) -> str | None:
    v = v.strip()
    if not v:
        return None
    if v not in allowed:
        raise RowError(f"{name} {v!r} is not one of {', '.join(allowed)}")
    return v


def _required(row: dict, names) -> None:
    missing = [n for n in names if not (row.get(n) or "").strip()]
    if missing:
        raise RowError("missing " + ", ".join(missing))


# --- per-file row parsers -------------------------------------------------------------------------------

def _patient(r: dict) -> dict:
    _required(r, ["patient_id", "birth_date", "sex"])
    born = _date(r["birth_date"], "birth_date")
    if born > dt.date.today():
        raise RowError(f"birth_date {born} is in the future")
    return {"patient_id": _id(r["patient_id"], "patient_id"), "given_name": _text(r.get("given_name", "")),
            "family_name": _text(r.get("family_name", "")), "birth_date": born,
            "sex": _code(r["sex"], "sex", ("F", "M", "X")), "referral_date": _date(r.get("referral_date", ""), "referral_date"),
            "primary_diagnosis": _code(r.get("primary_diagnosis", ""), "primary_diagnosis",
                                       ("mdd", "bipolar_depression", "pdd", "other")),
            "clinician": _text(r.get("clinician", "")), "mrn": _text(r.get("mrn", "")),
            **_death(r, born)}


def _death(r: dict, born: dt.date) -> dict:
    """deceased (true/false) and deceased_on: a date of death makes the patient deceased."""
    died = _date(r.get("deceased_on", ""), "deceased_on")
    flag = (r.get("deceased") or "").strip().lower()
    if flag not in ("", "true", "false"):
        raise RowError(f"deceased {flag!r} is not true or false")
    if died is not None and died < born:
        raise RowError(f"deceased_on {died} is before birth_date {born}")
    if died is not None and died > dt.date.today():
        raise RowError(f"deceased_on {died} is in the future")
    if died is not None and flag == "false":
        raise RowError("deceased is false but a deceased_on date is given")
    return {"deceased": died is not None or flag == "true", "deceased_on": died}


def _identifier(r: dict) -> dict:
    _required(r, ["patient_id", "value"])
    return {"patient_id": _id(r["patient_id"], "patient_id"), "system": _text(r.get("system", "")),
            "value": r["value"].strip(), "type": _text(r.get("type", ""))}


def _trial(r: dict) -> dict:
    _required(r, ["patient_id", "drug", "dose_mg_per_day", "start_date", "outcome"])
    start, end = _date(r["start_date"], "start_date"), _date(r.get("end_date", ""), "end_date")
    if end is not None and end < start:
        raise RowError(f"end_date {end} is before start_date {start}")
    episode = (r.get("current_episode") or "true").strip().lower()
    if episode not in ("true", "false"):
        raise RowError(f"current_episode {episode!r} is not true or false")
    return {"patient_id": _id(r["patient_id"], "patient_id"), "drug": r["drug"].strip().lower(),
            "dose_mg_per_day": _number(r["dose_mg_per_day"], "dose_mg_per_day", 0.001, 10000),
            "start_date": start, "end_date": end,
            "outcome": _code(r["outcome"], "outcome", ("no_response", "partial_response", "response", "intolerance",
                                                       "ongoing")),
            "current_episode": episode == "true"}


def _screening(r: dict) -> dict:
    _required(r, ["patient_id", "item", "status"])
    return {"patient_id": _id(r["patient_id"], "patient_id"), "item": _code(r["item"], "item", SCREENING_ITEMS),
            "status": _code(r["status"], "status", ("present", "absent", "unknown")),
            "assessed_on": _date(r.get("assessed_on", ""), "assessed_on"), "source": _text(r.get("source", ""))}


def _session(r: dict) -> dict:
    _required(r, ["session_id", "patient_id", "scheduled_at", "status", "route"])
    started, ended = _datetime(r.get("started_at", ""), "started_at"), _datetime(r.get("ended_at", ""), "ended_at")
    if started and ended and ended < started:
        raise RowError(f"ended_at {ended} is before started_at {started}")
    scheduled = _datetime(r["scheduled_at"], "scheduled_at")
    sent = _date(r.get("rems_form_sent_on", ""), "rems_form_sent_on")
    if sent is not None and scheduled is not None and sent < scheduled.date():
        raise RowError(f"rems_form_sent_on {sent} is before the session ({scheduled.date()})")
    return {"session_id": _id(r["session_id"], "session_id"), "patient_id": _id(r["patient_id"], "patient_id"),
            "scheduled_at": _datetime(r["scheduled_at"], "scheduled_at"),
            "status": _code(r["status"], "status", ("completed", "cancelled", "no_show", "scheduled")),
            "route": _code(r["route"], "route", ROUTES),
            "dose_mg": _number(r.get("dose_mg", ""), "dose_mg", 0, 2000),
            "weight_kg": _number(r.get("weight_kg", ""), "weight_kg", 20, 400),
            "chair": _text(r.get("chair", "")), "clinician": _text(r.get("clinician", "")),
            "started_at": started, "ended_at": ended,
            "phase": _code(r.get("phase", ""), "phase", ("induction", "maintenance")),
            "rems_form_sent_on": _date(r.get("rems_form_sent_on", ""), "rems_form_sent_on")}


def _assessment(r: dict) -> dict:
    _required(r, ["patient_id", "assessed_on", "scale"])
    code = _code(r["scale"], "scale", tuple(scales.SCALES))
    total = _whole(r.get("total", ""), "total", -10**6, 10**6)
    items = None
    if (r.get("items") or "").strip():
        try:
            items = [int(x) for x in r["items"].split(";")]
        except ValueError:
            raise RowError(f"items {r['items']!r} are not whole numbers separated by ';'") from None
        problem = scales.item_problem(code, items)
        if problem:
            raise RowError(problem)
        from_items = scales.total_from_items(code, items)
        if total is not None and total != from_items:
            raise RowError(f"total {total} does not match the items, which give {from_items}")
        total = from_items
    if total is None:
        raise RowError("neither total nor items given")
    problem = scales.total_problem(code, total)
    if problem:
        raise RowError(problem)
    minute = _whole(r.get("minute", ""), "minute", -240, 1440)
    session_id = _id(r.get("session_id", ""), "session_id")
    on = _date(r["assessed_on"], "assessed_on")
    if on > dt.date.today() + dt.timedelta(days=1):
        raise RowError(f"assessed_on {on} is in the future")
    if minute is not None and session_id is None:
        raise RowError("a minute is counted from a session's dose: give the session_id too")
    return {"patient_id": _id(r["patient_id"], "patient_id"), "assessed_on": _date(r["assessed_on"], "assessed_on"),
            "scale": code, "total": total, "items": items, "session_id": session_id, "minute": minute}


def _vital(r: dict) -> dict:
    _required(r, ["systolic", "diastolic"])
    row = {"session_id": _id(r.get("session_id", ""), "session_id"), "minute": _whole(r.get("minute", ""), "minute", -240, 1440),
           "patient_id": _id(r.get("patient_id", ""), "patient_id"),
           "measured_at": _datetime(r.get("measured_at", ""), "measured_at"),
           "systolic": _whole(r["systolic"], "systolic", 40, 300), "diastolic": _whole(r["diastolic"], "diastolic", 20, 200),
           "heart_rate": _whole(r.get("heart_rate", ""), "heart_rate", 20, 250),
           "spo2": _whole(r.get("spo2", ""), "spo2", 50, 100)}
    if row["measured_at"] is not None and row["measured_at"].date() > dt.date.today() + dt.timedelta(days=1):
        raise RowError(f"measured_at {row['measured_at']} is in the future")
    in_session = row["session_id"] is not None and row["minute"] is not None
    outside = row["patient_id"] is not None and row["measured_at"] is not None
    if not (in_session or outside):
        raise RowError("a reading names either a session_id and a minute, or a patient_id and a measured_at")
    if row["diastolic"] >= row["systolic"]:
        raise RowError(f"diastolic {row['diastolic']} is not below systolic {row['systolic']}")
    return row


def _side_effect(r: dict) -> dict:
    _required(r, ["session_id", "effect"])
    return {"session_id": _id(r["session_id"], "session_id"), "effect": _code(r["effect"], "effect", EFFECTS),
            "severity": _code(r.get("severity", ""), "severity", ("mild", "moderate", "severe")),
            "note": _text(r.get("note", ""))}


PARSERS = {"patients.csv": _patient, "patient_identifiers.csv": _identifier, "antidepressant_trials.csv": _trial, "screening.csv": _screening,
           "sessions.csv": _session, "assessments.csv": _assessment, "vitals.csv": _vital,
           "side_effects.csv": _side_effect}


class FileProblem(ValueError):
    """A file that cannot be read at all (not UTF-8 text, unreadable), with the reason."""


def read_file(path: Path) -> str:
    """One CSV file as text: UTF-8, a BOM tolerated; anything else is a FileProblem naming the byte."""
    try:
        return path.read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(f"{path.name}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                          f"{exc.start}); save it as UTF-8 CSV") from None
    except OSError as exc:
        raise FileProblem(f"{path.name}: cannot be read ({exc.strerror})") from None


def read_folder(folder: Path) -> dict[str, str]:
    """The known CSV files of a folder, as text (UTF-8, a BOM tolerated)."""
    return {name: read_file(folder / name) for name in ORDER if (folder / name).is_file()}


def validate(con: duckdb.DuckDBPyConnection, files: dict[str, str], extra: dict[str, list[dict]] | None = None) -> Report:
    """Parse and check every row of every file (and rows already typed, from FHIR), and every reference,
    without writing anything."""
    rep = Report()
    for table, rows in (extra or {}).items():
        rep.rows.setdefault(table, []).extend(rows)
    if not files and not extra:
        rep.problems.append("no known CSV file (" + ", ".join(ORDER) + ")")
        return rep
    for name in ORDER:
        if name not in files:
            continue
        table, columns, required, _ = FILES[name]
        try:
            reader = csv.DictReader(io.StringIO(files[name]))
            header = [(h or "").strip() for h in (reader.fieldnames or [])]
        except csv.Error as exc:
            rep.problems.append(f"{name}: not readable as CSV ({exc})")
            continue
        reader.fieldnames = header
        missing = sorted(required - set(header))
        if missing:
            rep.problems.append(f"{name}:1: missing required column{'s' if len(missing) > 1 else ''} "
                                + ", ".join(missing))
            continue
        unknown = [h for h in header if h not in columns]
        if unknown:
            rep.warnings.append(f"{name}:1: unknown column{'s' if len(unknown) > 1 else ''} ignored: "
                                + ", ".join(unknown))
        rows = rep.rows.setdefault(table, [])
        try:
            for line, raw in enumerate(reader, start=2):
                if raw.get(None):
                    _reject(rep, name, line, raw, "more fields than the header names")
                    continue
                try:
                    row = PARSERS[name]({k: (v or "") for k, v in raw.items() if k is not None})
                except RowError as exc:
                    _reject(rep, name, line, raw, str(exc))
                    continue
                row["_line"] = line
                rows.append(row)
        except csv.Error as exc:
            rep.problems.append(f"{name}: not readable as CSV ({exc})")
    _check_references(con, rep)
    return rep


def _reject(rep: Report, name: str, line: int, raw: dict, reason: str) -> None:
    rep.problems.append(f"{name}:{line}: {reason}")
    rep.rejected_rows.append((name, line, {k: v for k, v in raw.items() if k is not None}, reason))


def _known(con, table: str, column: str) -> set[str]:
    return {r[0] for r in con.cursor().execute(f"SELECT {column} FROM {table}").fetchall()}


def _check_references(con: duckdb.DuckDBPyConnection, rep: Report) -> None:
    """A row's patient and session must exist, in the store or in this import; duplicates in a file are errors."""
    patients = _known(con, "patients", "patient_id") | {r["patient_id"] for r in rep.rows.get("patients", [])}
    sessions = {sid: (pid, start) for sid, pid, start in con.cursor().execute(
        "SELECT session_id, patient_id, coalesce(started_at, scheduled_at) FROM sessions").fetchall()}
    sessions.update({r["session_id"]: (r["patient_id"], r.get("started_at") or r.get("scheduled_at"))
                     for r in rep.rows.get("sessions", [])})
    file_of = {FILES[n][0]: n for n in FILES}
    for table, rows in rep.rows.items():
        name, keys = file_of[table], FILES[file_of[table]][3]
        seen: dict[tuple, object] = {}
        kept = []
        first: dict[tuple, dict] = {}
        for row in rows:
            reason = None
            if table == "vitals" and row.get("session_id") in sessions:
                _place_reading(row, *sessions[row["session_id"]])
            key = tuple(row.get(k) for k in keys)
            if key in seen and row.get("_where") and _same_reading(first[key], row):
                if row.get("items") is not None:          # FHIR: one PHQ-9 as a total and as a questionnaire
                    first[key]["items"] = row["items"]
                continue
            bad_id = row.get("_where") and next(filter(None, (ids.problem(row[k], k.replace("_id", " ID"))
                                                             for k in ("patient_id", "session_id")
                                                             if row.get(k) is not None)), None)
            if bad_id:      # FHIR ids (CSV cells are checked as they are parsed)
                reason = bad_id
            elif key in seen:
                at = seen[key] if isinstance(seen[key], str) else f"line {seen[key]}"
                reason = f"the same {', '.join(keys)} as {at}"
            elif row.get("patient_id") is not None and table != "patients" and row["patient_id"] not in patients:
                reason = f"unknown patient {row['patient_id']!r}"
            elif row.get("session_id") is not None and table in ("vitals", "side_effects", "assessments") \
                    and row["session_id"] not in sessions:
                reason = f"unknown session {row['session_id']!r}"
            elif row.get("session_id") in sessions and row.get("patient_id") is not None \
                    and table in ("vitals", "assessments") and sessions[row["session_id"]][0] != row["patient_id"]:
                reason = f"session {row['session_id']!r} is another patient's"
            if reason and row.get("_where"):       # a FHIR resource: named by its file and id
                rep.problems.append(f"{row['_where']}: {reason}")
                rep.rejected_rows.append((row["_where"], 0, {k: v for k, v in row.items() if not k.startswith("_")},
                                          reason))
            elif reason:
                _reject(rep, name, row["_line"], {k: v for k, v in row.items() if k != "_line"}, reason)
            else:
                seen[key] = row.get("_where") or row["_line"]
                first[key] = row
                kept.append(row)
        rep.rows[table] = kept


def _place_reading(row: dict, patient_id: str, start) -> None:
    """A reading named by its session and minute (data-contract §3) belongs to the session's patient and is taken
    at the session's start (else its scheduled time) plus the minute, as the record form stores it."""
    if row.get("patient_id") is None:
        row["patient_id"] = patient_id
    if row.get("measured_at") is None and row.get("minute") is not None and start is not None:
        row["measured_at"] = start + dt.timedelta(minutes=row["minute"])


def _same_reading(a: dict, b: dict) -> bool:
    """Two FHIR resources that record the same score (same total, compatible items)."""
    return a.get("total") == b.get("total") and (a.get("items") is None or b.get("items") is None
                                                 or a.get("items") == b.get("items"))


def write(cur: duckdb.DuckDBPyConnection, rep: Report) -> dict[str, int]:
    """Insert the rows the store does not hold yet (by key), inside the caller's transaction."""
    written = {}
    for name in ORDER:
        table, columns, _, keys = FILES[name]
        rows = rep.rows.get(table, [])
        if not rows:
            continue
        cols = columns
        db.stage(cur, "incoming", rows, cols, like=table)
        match = " AND ".join(f"t.{k} IS NOT DISTINCT FROM i.{k}" for k in keys)
        before = cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        cur.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join('i.' + c for c in cols)} "
                    f"FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})").fetchall()
        written[table] = cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before
        db.unstage(cur, "incoming")
    return written


def touched_patients(rep: Report) -> list[str]:
    return sorted({r["patient_id"] for rows in rep.rows.values() for r in rows if r.get("patient_id")})
