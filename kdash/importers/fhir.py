"""FHIR R4 import (data-contract §4): Bundles, NDJSON bulk exports, single resources, or folders of them,
mapped onto the same rows the CSV importer writes, so validation and the one write path are shared.

Every resource that cannot be used is reported by its id and reason; resources of other types are counted
and skipped. Dates keep the wall time of their own offset (the clinic's local time).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kdash import scales
from kdash.importers import terminology

LOINC = "http://loinc.org"
GENDER = {"female": "F", "male": "M", "other": "X", "unknown": "X"}
SCORES = {"44261-6": "PHQ9", "55758-7": "PHQ2", "70274-6": "GAD7", "44260-8": "PHQ9_I9"}
FINAL = ("final", "amended", "corrected")
# LOINC answer codes of the PHQ-9 items: not at all, several days, more than half the days, nearly every day
ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}
PHQ9_ITEMS = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
# The vital-signs profile (US Core / FHIR vitalsigns): blood pressure as a panel with components, or systolic and
# diastolic as Observations of their own; heart rate and SpO2, which kdash keeps with a blood pressure reading of the
# same time; body weight, which it keeps per session only.
BP_PANELS = {"85354-9", "55284-4", "35094-2", "55417-0"}
MEAN_BP = {"8478-0"}
SYSTOLIC = {"8480-6", "8459-0", "8460-8", "8461-6", "76534-7", "89268-7"}
DIASTOLIC = {"8462-4", "8453-3", "8454-1", "8455-8", "76535-4", "89267-9"}
HEART_RATE = {"8867-4", "8889-8", "69000-8", "68999-2"}
SPO2 = {"59408-5", "2708-6", "2710-2", "20564-1"}
WEIGHT = {"29463-7", "3141-9", "8350-1"}
VITALS = BP_PANELS | SYSTOLIC | DIASTOLIC | HEART_RATE | SPO2 | WEIGHT | MEAN_BP
MMHG = {"mm[hg]", "mmhg", "mm hg"}
ACTIVE = {"active", "recurrence", "relapse"}
NOT_TRUE = {"refuted", "entered-in-error"}
ANTIDEPRESSANTS = terminology.ANTIDEPRESSANTS
MERGE_GAP_DAYS = 30       # successive orders of a drug this close together are one trial


@dataclass
class FhirResult:
    """What the resources became: rows for the one write path, problems (invalid data: the import is rejected unless
    --skip-invalid), and a ledger of every resource by type and code, imported, skipped with its reason (the store has
    no place for it, or it is not for kdash) or rejected, with the codes kdash could not map."""
    rows: dict[str, list[dict]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    rejected: list[tuple[str, str]] = field(default_factory=list)     # (where, reason): for the rejects file
    ledger: Counter = field(default_factory=Counter)                  # (type, code, display, outcome, reason) → n
    unmapped: Counter = field(default_factory=Counter)                # (type, system, code, display) → n
    losses: list[tuple[str, str]] = field(default_factory=list)       # (where, reason) of every resource skipped
    concept: tuple[str, str, str] = ("", "", "")                      # the resource being converted: type, code, display

    def add(self, table: str, row: dict, where: str = "") -> None:
        self.rows.setdefault(table, []).append({**row, "_where": where})

    def imported(self, n: int = 1) -> None:
        self.ledger[(*self.concept, "imported", "")] += n

    def reject(self, where: str, reason: str) -> None:
        """A resource that cannot be used: `file: Kind/id: reason` in the problems, and a row of the rejects file."""
        self.problems.append(f"{where}: {reason}")
        self.rejected.append((where, reason))
        self.ledger[(*self.concept, "rejected", reason)] += 1

    def skip(self, where: str, reason: str, unmapped: bool = False, system: str = "") -> None:
        """A resource kdash leaves out, named with its reason (never silently): the store keeps no such thing, or it
        is not what kdash reads; unmapped: a code kdash could not place, listed in the report's top codes."""
        kind, code, display = self.concept
        self.ledger[(kind, code, display, "skipped", reason)] += 1
        self.skipped[f"{kind} ({reason})"] += 1
        self.losses.append((where, reason))
        if unmapped:
            self.unmapped[(kind, system, code, display)] += 1

    def report(self, top: int = 20) -> dict:
        """The import report (data-contract §4 "every loss named"): per resource type and code, how many were
        imported, skipped (by reason) and rejected (by reason); the commonest codes kdash could not map."""
        rows: dict[tuple, dict] = {}
        for (kind, code, display, outcome, reason), n in sorted(self.ledger.items()):
            row = rows.setdefault((kind, code), {"resource": kind, "code": code, "display": display, "imported": 0,
                                                 "skipped": {}, "rejected": {}})
            if outcome == "imported":
                row["imported"] += n
            else:
                row[outcome][reason] = row[outcome].get(reason, 0) + n
        unmapped = [{"resource": k, "system": terminology.system_name(s) if s else "", "code": c, "display": d,
                     "count": n} for (k, s, c, d), n in self.unmapped.most_common(top)]
        return {"by_resource": list(rows.values()), "unmapped": unmapped}


MAX_DEPTH = 64     # FHIR resources nest a dozen levels; Python's JSON parser recurses once a level


def nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text, strings skipped (a linear scan, no recursion)."""
    import re
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        t = token.group(0)
        if t in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif t in "]}":
            depth -= 1
    return deepest


def load(paths: list[Path]) -> tuple[list[tuple[str, dict]], list[str]]:
    """(origin, resource) for every resource in the sources; Bundles flattened."""
    found, problems = [], []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".json", ".ndjson")) if path.is_dir() else [path]
        for f in files:
            try:
                text = f.read_text("utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{f.name}: cannot be read ({exc})")
                continue
            docs = []
            deepest = nesting_depth(text)
            if deepest > MAX_DEPTH:
                problems.append(f"{f.name}: nested {deepest} levels deep, more than the {MAX_DEPTH} a FHIR resource "
                                "needs; not read")
                continue
            try:
                if f.suffix.lower() == ".ndjson":
                    docs = [json.loads(line) for line in text.splitlines() if line.strip()]
                else:
                    docs = [json.loads(text)]
            except json.JSONDecodeError as exc:
                problems.append(f"{f.name}: not JSON ({exc.msg} at line {exc.lineno})")
                continue
            except RecursionError:      # cannot happen below MAX_DEPTH; kept so no upload ends in a traceback
                problems.append(f"{f.name}: nested too deeply to read")
                continue
            for doc in docs:
                _flatten(doc, f.name, found, problems)
    return found, problems


def _flatten(doc, origin: str, found: list, problems: list) -> None:
    if not isinstance(doc, dict) or "resourceType" not in doc:
        problems.append(f"{origin}: not a FHIR resource (no resourceType)")
        return
    if doc["resourceType"] == "Bundle":
        for entry in doc.get("entry", []) or []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict):
                if entry.get("fullUrl"):
                    res = {**res, "_fullUrl": entry["fullUrl"]}
                _flatten(res, origin, found, problems)
        return
    found.append((origin, doc))


def _ref_id(ref: str | None, urls: dict[str, str]) -> str | None:
    """Patient/123 or urn:uuid:… → the patient's id."""
    if not ref:
        return None
    if ref in urls:
        return urls[ref]
    return ref.split("/")[-1] if "/" in ref else ref


def _when(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            stamp = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())
        except ValueError:
            return None
    return stamp.replace(tzinfo=None)            # the wall time in its own offset


def _number(obs: dict) -> float | None:
    if "valueInteger" in obs:
        return obs["valueInteger"]
    if "valueDecimal" in obs:
        return obs["valueDecimal"]
    if "valueQuantity" in obs:
        return (obs["valueQuantity"] or {}).get("value")
    if "valueString" in obs:
        m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*", str(obs["valueString"]))
        return float(m.group(1)) if m else None
    return None


def _codes(concept: dict | None) -> list[str]:
    return [c.get("code") for c in (concept or {}).get("coding", []) if c.get("code")]


def convert(resources: list[tuple[str, dict]], today: dt.date | None = None) -> FhirResult:
    """Map resources to rows (patients, identifiers, assessments, vitals, screening, antidepressant_trials), every
    resource accounted for in the result's ledger."""
    out = FhirResult()
    ctx = _Context(resources, today or dt.date.today())
    ordered = sorted(resources, key=lambda x: x[1].get("resourceType") != "Patient")   # patients first: their dates
    for origin, r in ordered:
        kind, rid = r.get("resourceType"), r.get("id", "?")
        where = f"{origin}: {kind}/{rid}"
        out.concept = (kind or "?", "", "")
        try:
            handler = HANDLERS.get(kind)
            if handler is None:
                out.skip(where, "not a resource kdash reads")
            else:
                handler(r, out, where, ctx)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            out.reject(where, f"malformed ({type(exc).__name__}: {exc})")
    _pair_readings(out, ctx)
    _trials(out, ctx)
    for row in out.rows.get("patients", []):
        row["primary_diagnosis"] = _diagnosis(ctx.diagnoses.get(row["patient_id"], []))
    return out


class _Context:
    """What one resource needs from the others: Patient and Medication references, patients' birth and death, the
    halves of blood pressure readings, medication events and diagnoses collected before rows are made."""

    def __init__(self, resources: list[tuple[str, dict]], today: dt.date):
        self.today, self.tomorrow = today, today + dt.timedelta(days=1)
        self.urls = {r["_fullUrl"]: r.get("id") for _, r in resources
                     if r.get("_fullUrl") and r.get("resourceType") == "Patient"}
        self.medications = {}
        for _, r in resources:
            if r.get("resourceType") == "Medication":
                for key in filter(None, (r.get("_fullUrl"), f"Medication/{r.get('id')}", r.get("id"))):
                    self.medications[key] = r
        self.lives: dict[str, tuple[dt.date, dt.date | None]] = {}      # patient → (born, died)
        self.readings: dict[tuple[str, dt.datetime], dict] = {}         # (patient, time) → halves and extras
        self.events: dict[tuple[str, str], list[dict]] = {}             # (patient, drug) → medication events
        self.diagnoses: dict[str, list[tuple]] = {}                     # patient → (active, depressive, day, code)
        self.episodes: dict[str, dt.date] = {}                          # patient → current episode's onset

    def patient(self, r: dict) -> str | None:
        return _ref_id((r.get("subject") or r.get("patient") or {}).get("reference"), self.urls)

    def date_problem(self, pid: str, day: dt.date | dt.datetime, what: str) -> str | None:
        """Why a dated fact cannot be the patient's: before birth, after death, or in the future (after tomorrow)."""
        d = day.date() if isinstance(day, dt.datetime) else day
        if d > self.tomorrow:
            return f"{what} {d:%Y-%m-%d} is in the future"
        born, died = self.lives.get(pid, (None, None))
        if born is not None and d < born:
            return f"{what} {d:%Y-%m-%d} is before the patient's birth ({born:%Y-%m-%d})"
        if died is not None and d > died:
            return f"{what} {d:%Y-%m-%d} is after the patient's death ({died:%Y-%m-%d})"
        return None


def _ref_id(ref: str | None, urls: dict[str, str]) -> str | None:
    """Patient/123 or urn:uuid:… → the patient's id."""
    if not ref:
        return None
    if ref in urls:
        return urls[ref]
    return ref.split("/")[-1] if "/" in ref else ref


def _when(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            stamp = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())
        except ValueError:
            try:                                 # a year-month (1992-03) or a year (1992): its first day
                parts = [int(x) for x in value[:7].split("-")]
                stamp = dt.datetime(parts[0], parts[1] if len(parts) > 1 else 1, 1)
            except (ValueError, IndexError):
                return None
    return stamp.replace(tzinfo=None)            # the wall time in its own offset


def _quantity(q: dict | None) -> tuple[float | None, str]:
    q = q or {}
    return q.get("value"), str(q.get("code") or q.get("unit") or "").strip().lower()


def _number(obs: dict) -> float | None:
    if "valueInteger" in obs:
        return obs["valueInteger"]
    if "valueDecimal" in obs:
        return obs["valueDecimal"]
    if "valueQuantity" in obs:
        return (obs["valueQuantity"] or {}).get("value")
    if "valueString" in obs:
        m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*", str(obs["valueString"]))
        return float(m.group(1)) if m else None
    return None


def _codes(concept: dict | None) -> list[str]:
    return [c.get("code") for c in (concept or {}).get("coding", []) if c.get("code")]


def _codings(concept: dict | None) -> list[dict]:
    return [c for c in (concept or {}).get("coding", []) or [] if isinstance(c, dict)]


def _display(concept: dict | None) -> str:
    concept = concept or {}
    return concept.get("text") or next((c.get("display") for c in _codings(concept) if c.get("display")), "") or ""


# --- Patient -----------------------------------------------------------------------------------------------------

NAME_USE = {"official": 0, "usual": 1, None: 2, "temp": 3, "nickname": 4, "anonymous": 5, "old": 6, "maiden": 7}


def _patient(r, out, where, ctx):
    out.concept = ("Patient", "", "")
    if not r.get("id"):
        out.reject(where, "a Patient without an id")
        return
    born = r.get("birthDate")
    try:
        birth = dt.date.fromisoformat(born) if born else None
    except ValueError:
        birth = None
    if birth is None:
        out.reject(where, f"birthDate {born!r} is missing or not a full date")
        return
    if birth > ctx.today:
        out.reject(where, f"birthDate {birth} is in the future")
        return
    deceased = bool(r.get("deceasedBoolean")) or bool(r.get("deceasedDateTime"))
    died = _when(r.get("deceasedDateTime"))
    died = died.date() if died else None
    if died is not None and died < birth:
        out.reject(where, f"deceasedDateTime {died} is before birthDate {birth}")
        return
    names = [n for n in (r.get("name") or []) if isinstance(n, dict)]
    name = min(names, key=lambda n: NAME_USE.get(n.get("use"), 2)) if names else {}
    identifiers = [i for i in (r.get("identifier") or []) if isinstance(i, dict) and i.get("value")]
    mrn = next((i["value"] for i in identifiers if "MR" in _codes(i.get("type"))), None)
    ctx.lives[r["id"]] = (birth, died)
    out.add("patients", {"patient_id": r["id"], "given_name": " ".join(name.get("given", []) or []) or None,
                         "family_name": name.get("family"), "birth_date": birth,
                         "sex": GENDER.get(r.get("gender"), "X"), "referral_date": None, "primary_diagnosis": None,
                         "clinician": None, "mrn": mrn, "deceased": deceased, "deceased_on": died}, where)
    for i in identifiers:
        out.add("patient_identifiers", {"patient_id": r["id"], "system": i.get("system"), "value": str(i["value"]),
                                        "type": (_codes(i.get("type")) or [None])[0]}, where)
    out.imported()


# --- Observation -------------------------------------------------------------------------------------------------

def _observation(r, out, where, ctx):
    codings = _codings(r.get("code"))
    codes = [c.get("code") for c in codings if c.get("code")]
    relevant = [c for c in codes if c in SCORES or c in VITALS]
    code = relevant[0] if relevant else (codes[0] if codes else "")
    out.concept = ("Observation", code, _display(r.get("code")))
    if not relevant:
        system = next((c.get("system") for c in codings if c.get("code") == code), "")
        out.skip(where, "a code kdash does not read", unmapped=True, system=system or "")
        return
    status = r.get("status")
    if status not in FINAL:
        out.reject(where, f"status {status!r} is not final, amended or corrected")
        return
    pid = ctx.patient(r)
    when = _when(r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start") or r.get("issued")
                 or r.get("effectiveInstant"))
    if pid is None or when is None:
        out.reject(where, "no subject or no effective date")
        return
    problem = ctx.date_problem(pid, when, "dated")
    if problem:
        out.reject(where, f"a reading {problem}")
        return
    if code in SCORES:
        _score(r, out, where, pid, when, code)
    elif code in WEIGHT:
        out.skip(where, "body weight: kdash keeps weight with a treatment session only")
    elif code in MEAN_BP:
        out.skip(where, "mean blood pressure: kdash keeps systolic and diastolic")
    elif code in HEART_RATE or code in SPO2:
        value = _number(r)
        if value is None:
            out.reject(where, "no numeric value")
            return
        what = "heart_rate" if code in HEART_RATE else "spo2"
        ctx.readings.setdefault((pid, when), {}).setdefault("extras", []).append((what, value, where))
    else:
        _blood_pressure(r, out, where, ctx, pid, when, code)


def _score(r, out, where, pid, when, code):
    scale = SCORES[code]
    value = _number(r)
    if value is None:
        out.reject(where, f"no numeric value for {scales.SCALES[scale].name}")
        return
    if value != int(value) or not 0 <= value <= scales.SCALES[scale].total_max:
        out.reject(where, f"{scales.SCALES[scale].name} value {value:g} is outside 0–{scales.SCALES[scale].total_max}")
        return
    out.add("assessments", {"patient_id": pid, "assessed_on": when.date(), "scale": scale, "total": int(value),
                            "items": None, "session_id": None}, where)
    out.imported()


def _mmhg(q: dict | None) -> tuple[float | None, str | None]:
    """A pressure in mmHg, or why not (kPa converted)."""
    value, unit = _quantity(q)
    if value is None:
        return None, "no value"
    if unit in MMHG or unit == "":
        return float(value), None
    if unit == "kpa":
        return float(value) * 7.50062, None
    return None, f"unit {unit!r} is not mmHg"


def _blood_pressure(r, out, where, ctx, pid, when, code):
    """A panel with systolic and diastolic components, or one half of a reading recorded on its own (paired with
    the other half of the same patient and time once every resource is read)."""
    slot = ctx.readings.setdefault((pid, when), {})
    if code in BP_PANELS:
        parts = {}
        for comp in r.get("component", []) or []:
            comp_codes = set(_codes(comp.get("code")))
            half = "systolic" if comp_codes & SYSTOLIC else "diastolic" if comp_codes & DIASTOLIC else None
            if half:
                value, why = _mmhg(comp.get("valueQuantity") or ({"value": _number(comp)} if _number(comp) is not None
                                                                 else None))
                if why:
                    out.reject(where, f"{half} {why}")
                    return
                parts[half] = value
        if not parts and r.get("hasMember"):
            out.skip(where, "a panel whose readings are its members (each read on its own)")
            return
        if "systolic" not in parts or "diastolic" not in parts:
            out.reject(where, "a blood-pressure panel without both systolic and diastolic")
            return
        slot.setdefault("panels", []).append((parts["systolic"], parts["diastolic"], where))
    else:
        value, why = _mmhg(r.get("valueQuantity") or ({"value": _number(r)} if _number(r) is not None else None))
        if why:
            out.reject(where, why)
            return
        slot.setdefault("systolic" if code in SYSTOLIC else "diastolic", []).append((value, where))


def _pair_readings(out: FhirResult, ctx: _Context) -> None:
    """Readings as vitals rows: each panel; systolic and diastolic Observations of one patient at one time paired;
    heart rate and SpO2 kept with the reading of their time. What cannot be kept is named in the ledger."""
    for (pid, when), slot in sorted(ctx.readings.items(), key=lambda x: (x[0][0], x[0][1])):
        rows = [(s, d, [w]) for s, d, w in slot.get("panels", [])]
        sys_, dia = slot.get("systolic", []), slot.get("diastolic", [])
        for (s, ws), (d, wd) in zip(sys_, dia):
            rows.append((s, d, [ws, wd]))
        for value, w in sys_[len(dia):] + dia[len(sys_):]:
            out.concept = ("Observation", "8480-6" if (value, w) in sys_ else "8462-4", "blood pressure, one half")
            out.skip(w, "one half of a blood pressure without the other at the same time")
        extras, kept_extras = slot.get("extras", []), False
        for s, d, wheres in rows:
            out.concept = ("Observation", "blood pressure", "")
            if not (40 <= s <= 300 and 20 <= d <= 200 and d < s):
                for w in wheres:
                    out.reject(w, f"blood pressure {s:g}/{d:g} is not plausible")
                continue
            with_it = {} if kept_extras else {what: value for what, value, _ in extras}
            kept_extras = True
            out.add("vitals", {"session_id": None, "minute": None, "patient_id": pid, "measured_at": when,
                               "systolic": int(round(s)), "diastolic": int(round(d)),
                               "heart_rate": _plausible(with_it.get("heart_rate"), 20, 250),
                               "spo2": _plausible(with_it.get("spo2"), 50, 100)}, wheres[0])
            out.imported(len(wheres))
        for what, value, w in extras:
            words = "heart rate" if what == "heart_rate" else "SpO2"
            out.concept = ("Observation", words, "")
            if kept_extras:
                out.imported()
            else:
                out.skip(w, f"{words}: kdash keeps it with a blood pressure reading of the same time, and there is "
                            "none")


def _plausible(value, low, high):
    return int(round(value)) if value is not None and low <= value <= high else None


# --- QuestionnaireResponse ---------------------------------------------------------------------------------------

def _questionnaire(r, out, where, ctx):
    items = {}
    total = None
    out.concept = ("QuestionnaireResponse", "PHQ-9", "")

    def walk(entries):
        nonlocal total
        for it in entries or []:
            link = str(it.get("linkId", "")).strip("/").split("/")[-1]
            for ans in it.get("answer", []) or []:
                coding = ans.get("valueCoding") or {}
                if link in PHQ9_ITEMS and coding.get("code") in ANSWERS:
                    items[link] = ANSWERS[coding["code"]]
                elif link in PHQ9_ITEMS and "valueInteger" in ans:
                    items[link] = ans["valueInteger"]
                elif link == "44261-6" and ("valueInteger" in ans or "valueDecimal" in ans):
                    total = ans.get("valueInteger", ans.get("valueDecimal"))
            walk(it.get("item"))
    walk(r.get("item"))
    if not items and total is None:
        out.concept = ("QuestionnaireResponse", str(r.get("questionnaire") or ""), "")
        out.skip(where, "not a PHQ-9", unmapped=True)
        return
    if r.get("status") not in ("completed", "amended"):
        out.reject(where, f"status {r.get('status')!r} is not completed or amended")
        return
    pid = ctx.patient(r)
    when = _when(r.get("authored"))
    if pid is None or when is None:
        out.reject(where, "no subject or no authored date")
        return
    problem = ctx.date_problem(pid, when, "authored")
    if problem:
        out.reject(where, f"a PHQ-9 {problem}")
        return
    ordered = [items.get(code) for code in PHQ9_ITEMS]
    full = all(v is not None for v in ordered)
    if total is None:
        if not full:
            out.reject(where, f"PHQ-9 with {len(items)} of 9 items answered and no total")
            return
        total = sum(ordered)
    elif full and sum(ordered) != total:
        out.reject(where, f"PHQ-9 total {total} does not match its items ({sum(ordered)})")
        return
    if not 0 <= total <= 27 or (full and any(not 0 <= v <= 3 for v in ordered)):
        out.reject(where, "PHQ-9 score out of range")
        return
    out.add("assessments", {"patient_id": pid, "assessed_on": when.date(), "scale": "PHQ9", "total": int(total),
                            "items": ordered if full else None, "session_id": None}, where)
    out.imported()


# --- Condition and AllergyIntolerance ----------------------------------------------------------------------------

def _status(r: dict, field: str) -> str | None:
    return next(iter(_codes(r.get(field))), None)


def _condition(r, out, where, ctx):
    codings = _codings(r.get("code"))
    code = next((c.get("code") for c in codings if c.get("code")), "")
    display = _display(r.get("code"))
    out.concept = ("Condition", code, display)
    verified = _status(r, "verificationStatus")
    if verified in NOT_TRUE:
        out.skip(where, f"verification status {verified}")
        return
    pid = ctx.patient(r)
    if pid is None:
        out.reject(where, "no subject")
        return
    findings = terminology.classify_condition(codings, (r.get("code") or {}).get("text"))
    if not findings:
        system = next((c.get("system") for c in codings if c.get("code") == code), "")
        out.skip(where, "not a diagnosis or screening item kdash reads", unmapped=True, system=system or "")
        return
    clinical = _status(r, "clinicalStatus")
    abated = _when(r.get("abatementDateTime") or (r.get("abatementPeriod") or {}).get("start"))
    active = clinical in ACTIVE or (clinical is None and abated is None)
    onset = _when(r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start"))
    recorded = _when(r.get("recordedDate"))
    day = (onset or recorded or abated)
    day = day.date() if day else None
    if day is not None and (problem := ctx.date_problem(pid, day, "dated")):
        out.reject(where, f"a Condition {problem}")
        return
    named = f"Condition '{display or code}'"
    kept = False
    for f in findings:
        if f.kind == "diagnosis":
            ctx.diagnoses.setdefault(pid, []).append((active, f.value in terminology.DEPRESSIVE, day or dt.date.min,
                                                      f.value))
            if f.value in terminology.DEPRESSIVE and active and onset is not None:
                ctx.episodes[pid] = max(ctx.episodes.get(pid, dt.date.min), onset.date())
            kept = True
            continue
        item = f.value
        if f.current and not active:
            recent = abated is not None and (ctx.today - abated.date()).days <= 90
            if item == "psychosis_current":
                item = "psychotic_disorder_history"          # psychotic features in an earlier episode
            elif not (item == "substance_use_disorder_3m" and recent):
                out.ledger[("Condition", code, display, "skipped", f"{item}: resolved, not current")] += 1
                continue
        if item == "pregnancy" and day is not None and (ctx.today - day).days > 300:
            out.ledger[("Condition", code, display, "skipped", "pregnancy: more than 300 days ago")] += 1
            continue
        out.add("screening", {"patient_id": pid, "item": item, "status": "present", "assessed_on": day,
                              "source": f"from the record: {named}" + (f", {day:%Y-%m-%d}" if day else "")
                                        + (f", {clinical}" if clinical else "")}, where)
        kept = True
    if kept:
        out.imported()
    else:
        out.skip(where, "resolved, and only current conditions count for it")


def _allergy(r, out, where, ctx):
    codings = _codings(r.get("code"))
    words = " ".join(dict.fromkeys(w for w in [_display(r.get("code"))] + [c.get("display") or "" for c in codings]
                                   if w)).lower()
    out.concept = ("AllergyIntolerance", next((c.get("code") for c in codings if c.get("code")), ""),
                   _display(r.get("code")))
    if not ("ketamine" in words or {"6130"} & set(_codes(r.get("code")))):
        out.skip(where, "an allergy kdash does not screen for")
        return
    if _status(r, "verificationStatus") in NOT_TRUE:
        out.skip(where, f"verification status {_status(r, 'verificationStatus')}")
        return
    pid = ctx.patient(r)
    if pid is None:
        out.reject(where, "no patient")
        return
    day = _when(r.get("recordedDate") or r.get("onsetDateTime"))
    day = day.date() if day else None
    out.add("screening", {"patient_id": pid, "item": "ketamine_hypersensitivity", "status": "present",
                          "assessed_on": day, "source": f"from the record: AllergyIntolerance '{words.strip()}'"
                                                        + (f", {day:%Y-%m-%d}" if day else "")}, where)
    out.imported()


def _diagnosis(found: list[tuple]) -> str | None:
    """The primary diagnosis from the patient's diagnostic Conditions: an active one over an inactive one, a
    depressive one over another, then the latest."""
    return max(found)[3] if found else None


# --- MedicationRequest, MedicationStatement, MedicationDispense ---------------------------------------------------

DROPPED = {"MedicationRequest": {"cancelled", "entered-in-error", "draft"},
           "MedicationStatement": {"entered-in-error", "not-taken", "intended"},
           "MedicationDispense": {"cancelled", "entered-in-error", "declined", "stopped", "preparation"}}
ONGOING = {"active", "on-hold", "in-progress"}


def _medication(r, out, where, ctx):
    kind = r["resourceType"]
    concept = r.get("medicationCodeableConcept")
    if concept is None and r.get("medicationReference"):
        ref = r["medicationReference"].get("reference") or ""
        med = next((c for c in r.get("contained", []) or [] if f"#{c.get('id')}" == ref), None) \
            or ctx.medications.get(ref) or ctx.medications.get(ref.split("/")[-1])
        concept = (med or {}).get("code")
        ingredients = (med or {}).get("ingredient") or []
    else:
        ingredients = []
    codings = _codings(concept)
    out.concept = (kind, next((c.get("code") for c in codings if c.get("code")), ""), _display(concept))
    found = terminology.antidepressant(codings, (concept or {}).get("text"))
    if found is None:
        out.skip(where, "not an antidepressant" if concept else "no medication code")
        return
    drug, words = found
    status = r.get("status")
    if status in DROPPED.get(kind, ()):
        out.skip(where, f"status {status}: not taken")
        return
    pid = ctx.patient(r)
    start, end = _period(r, kind)
    if pid is None or start is None:
        out.reject(where, "no subject or no start date")
        return
    if problem := ctx.date_problem(pid, start, "starts"):
        out.reject(where, f"{drug} {problem}")
        return
    died = ctx.lives.get(pid, (None, None))[1]
    if end is not None and died is not None and end > died:
        end = died                                               # an order running on past a death ends with it
    dose = _daily_mg(r, words, ingredients)
    if dose is None:
        out.reject(where, f"{drug} without a strength in mg: the daily dose is unknown")
        return
    ongoing = status in ONGOING and (end is None or end >= ctx.today) and died is None
    ctx.events.setdefault((pid, drug), []).append({"start": start, "end": end, "ongoing": ongoing, "dose": dose,
                                                   "where": where, "concept": out.concept})


def _period(r: dict, kind: str) -> tuple[dt.date | None, dt.date | None]:
    """When the medication was taken: a request's validity period or dosage bounds (else its authoring day, with
    the supply it allows), a statement's effective period, a dispense's hand-over with its days' supply."""
    dosage = (r.get("dosageInstruction") or r.get("dosage") or [{}])
    repeat = (((dosage[0] if isinstance(dosage, list) and dosage else {}) or {}).get("timing") or {}).get("repeat") or {}
    bounds = repeat.get("boundsPeriod") or {}
    supply_days = None
    if kind == "MedicationRequest":
        dispense = r.get("dispenseRequest") or {}
        validity = dispense.get("validityPeriod") or {}
        start = _when(validity.get("start") or bounds.get("start") or r.get("authoredOn"))
        end = _when(validity.get("end") or bounds.get("end"))
        duration = dispense.get("expectedSupplyDuration") or {}
        if duration.get("value") is not None:
            supply_days = float(duration["value"]) * {"wk": 7, "mo": 30, "a": 365}.get(duration.get("code") or
                                                                                         duration.get("unit"), 1)
            supply_days *= 1 + int(dispense.get("numberOfRepeatsAllowed") or 0)
    elif kind == "MedicationStatement":
        period = r.get("effectivePeriod") or {}
        start = _when(period.get("start") or r.get("effectiveDateTime") or bounds.get("start") or r.get("dateAsserted"))
        end = _when(period.get("end") or bounds.get("end"))
    else:
        start = _when(r.get("whenHandedOver") or r.get("whenPrepared") or bounds.get("start"))
        end = None
        if (r.get("daysSupply") or {}).get("value") is not None:
            supply_days = float(r["daysSupply"]["value"])
    if end is None and start is not None and supply_days:
        end = start + dt.timedelta(days=supply_days)
    return (start.date() if start else None), (end.date() if end else None)


def _daily_mg(r: dict, words: str, ingredients: list) -> float | None:
    """mg a day: the strength (from the concept's words, or the Medication's ingredient) × doses a day."""
    dosage = (r.get("dosageInstruction") or r.get("dosage") or [{}])
    first = (dosage[0] if isinstance(dosage, list) and dosage else {}) or {}
    repeat = ((first.get("timing") or {}).get("repeat") or {})
    per_day = 1.0
    if repeat.get("frequency") and repeat.get("period"):
        unit_days = {"d": 1, "h": 1 / 24, "wk": 7, "mo": 30}.get(repeat.get("periodUnit"), None)
        if unit_days:
            per_day = repeat["frequency"] / (repeat["period"] * unit_days)
    dose_quantity = next((d.get("doseQuantity") for d in first.get("doseAndRate", []) or [] if d.get("doseQuantity")),
                         None)
    value, unit = _quantity(dose_quantity)
    if value is not None and unit == "mg":
        return float(value) * per_day
    strength = re.search(r"(\d+(?:\.\d+)?)\s*mg\b", words)
    mg = float(strength.group(1)) if strength else None
    if mg is None:
        for ing in ingredients:
            numerator = ((ing.get("strength") or {}).get("numerator") or {})
            if str(numerator.get("unit") or numerator.get("code") or "").lower() == "mg":
                mg = float(numerator["value"])
    if mg is None:
        return None
    units = float(value) if value is not None and unit in ("", "1", "{tbl}", "tablet", "tab", "capsule", "{cap}") else 1
    return mg * units * per_day


def _trials(out: FhirResult, ctx: _Context) -> None:
    """Medication events as trials: successive orders, statements and dispenses of a drug within 30 days of the last
    one's end are one trial (a stop then a new order 8 days later is one course), at its highest daily dose; it ends
    with the last event's end, and is ongoing while its last order is active; a trial that ended before the onset of
    the current depressive episode (the latest active depression diagnosis) is of an earlier episode."""
    for (pid, drug), events in sorted(ctx.events.items()):
        events.sort(key=lambda e: (e["start"], e["end"] or e["start"]))
        course = [events[0]]
        for e in events[1:] + [None]:
            last_end = max((x["end"] or x["start"]) for x in course)
            if e is not None and (e["start"] - last_end).days <= MERGE_GAP_DAYS:
                course.append(e)
                continue
            ongoing = course[-1]["ongoing"] or any(x["ongoing"] and x["end"] is None for x in course)
            end = None if ongoing else max((x["end"] or x["start"]) for x in course)
            onset = ctx.episodes.get(pid)
            out.add("antidepressant_trials", {
                "patient_id": pid, "drug": drug, "dose_mg_per_day": max(x["dose"] for x in course),
                "start_date": course[0]["start"], "end_date": end, "outcome": "ongoing" if ongoing else "unknown",
                "current_episode": not (onset is not None and end is not None and end < onset)}, course[0]["where"])
            for x in course:
                out.concept = x["concept"]
                out.imported()
            if e is not None:
                course = [e]


HANDLERS = {"Patient": _patient, "Observation": _observation, "QuestionnaireResponse": _questionnaire,
            "Condition": _condition, "AllergyIntolerance": _allergy, "MedicationRequest": _medication,
            "MedicationStatement": _medication, "MedicationDispense": _medication,
            "Medication": lambda r, out, where, ctx: out.imported()}    # read through the references to it
