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

LOINC = "http://loinc.org"
GENDER = {"female": "F", "male": "M", "other": "X", "unknown": "X"}
SCORES = {"44261-6": "PHQ9", "55758-7": "PHQ2", "70274-6": "GAD7", "44260-8": "PHQ9_I9"}
FINAL = ("final", "amended", "corrected")
# LOINC answer codes of the PHQ-9 items: not at all, several days, more than half the days, nearly every day
ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}
PHQ9_ITEMS = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
# depression diagnoses → primary_diagnosis (ICD-10 prefixes and SNOMED CT codes)
ICD10 = (("F32", "mdd"), ("F33", "mdd"), ("F34.1", "pdd"), ("F31.3", "bipolar_depression"),
         ("F31.4", "bipolar_depression"), ("F31.5", "bipolar_depression"))
SNOMED = {"35489007": "mdd", "370143000": "mdd", "36923009": "mdd", "191616006": "mdd", "66344007": "mdd",
          "73867007": "mdd", "15193003": "mdd", "268621008": "mdd", "191611001": "mdd", "78667006": "pdd",
          "1153575004": "pdd", "13746004": "bipolar_depression"}
ANTIDEPRESSANTS = ("sertraline", "fluoxetine", "escitalopram", "citalopram", "paroxetine", "venlafaxine",
                   "desvenlafaxine", "duloxetine", "bupropion", "mirtazapine", "vortioxetine", "nortriptyline",
                   "amitriptyline", "desipramine", "imipramine", "clomipramine", "trazodone", "vilazodone",
                   "fluvoxamine", "levomilnacipran", "phenelzine", "tranylcypromine", "doxepin", "protriptyline",
                   "trimipramine", "maprotiline", "nefazodone", "isocarboxazid", "selegiline", "amoxapine")


@dataclass
class FhirResult:
    rows: dict[str, list[dict]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    diagnoses: dict[str, str] = field(default_factory=dict)

    rejected: list[tuple[str, str]] = field(default_factory=list)     # (where, reason): for the rejects file

    def add(self, table: str, row: dict, where: str = "") -> None:
        self.rows.setdefault(table, []).append({**row, "_where": where})

    def reject(self, where: str, reason: str) -> None:
        """A resource that cannot be used: `file: Kind/id: reason` in the problems, and a row of the rejects file."""
        self.problems.append(f"{where}: {reason}")
        self.rejected.append((where, reason))


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


def convert(resources: list[tuple[str, dict]]) -> FhirResult:
    """Map resources to rows (patients, assessments, vitals, antidepressant_trials)."""
    out = FhirResult()
    urls = {r["_fullUrl"]: r.get("id") for _, r in resources if r.get("_fullUrl") and r.get("resourceType") == "Patient"}
    for origin, r in resources:
        kind, rid = r.get("resourceType"), r.get("id", "?")
        where = f"{origin}: {kind}/{rid}"
        try:
            if kind == "Patient":
                _patient(r, out, where)
            elif kind == "Observation":
                _observation(r, out, where, urls)
            elif kind == "QuestionnaireResponse":
                _questionnaire(r, out, where, urls)
            elif kind == "Condition":
                _condition(r, out, urls)
            elif kind in ("MedicationRequest", "MedicationStatement", "MedicationDispense"):
                _medication(r, out, where, urls)
            else:
                out.skipped[kind] += 1
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            out.reject(where, f"malformed ({type(exc).__name__}: {exc})")
    for row in out.rows.get("patients", []):
        row["primary_diagnosis"] = out.diagnoses.get(row["patient_id"])
    return out


def _patient(r, out, where):
    names = r.get("name") or [{}]
    name = names[0] if isinstance(names, list) and names else {}
    born = r.get("birthDate")
    if not r.get("id"):
        out.reject(where, "a Patient without an id")
        return
    try:
        birth = dt.date.fromisoformat(born) if born else None
    except ValueError:
        birth = None
    if birth is None:
        out.reject(where, f"birthDate {born!r} is missing or not a full date")
        return
    out.add("patients", {"patient_id": r["id"], "given_name": " ".join(name.get("given", []) or []) or None,
                         "family_name": name.get("family"), "birth_date": birth,
                         "sex": GENDER.get(r.get("gender"), "X"), "referral_date": None, "primary_diagnosis": None,
                         "clinician": None, "mrn": None}, where)


def _observation(r, out, where, urls):
    codes = _codes(r.get("code"))
    relevant = [c for c in codes if c in SCORES or c in ("85354-9", "8867-4", "29463-7", "8480-6", "8462-4")]
    if not relevant:
        out.skipped["Observation (other code)"] += 1
        return
    status = r.get("status")
    if status not in FINAL:
        out.reject(where, f"status {status!r} is not final, amended or corrected")
        return
    pid = _ref_id((r.get("subject") or {}).get("reference"), urls)
    when = _when(r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start") or r.get("issued"))
    if pid is None or when is None:
        out.reject(where, "no subject or no effective date")
        return
    code = relevant[0]
    if code in SCORES:
        scale = SCORES[code]
        value = _number(r)
        if value is None:
            out.reject(where, f"no numeric value for {scales.SCALES[scale].name}")
            return
        if value != int(value) or not 0 <= value <= scales.SCALES[scale].total_max:
            out.reject(where, f"{scales.SCALES[scale].name} value {value:g} is outside "
                                f"0–{scales.SCALES[scale].total_max}")
            return
        out.add("assessments", {"patient_id": pid, "assessed_on": when.date(), "scale": scale, "total": int(value),
                                "items": None, "session_id": None}, where)
    elif code in ("85354-9", "8480-6", "8462-4"):
        parts = {(_codes(c.get("code")) or [None])[0]: _number(c) for c in r.get("component", []) or []}
        systolic, diastolic = parts.get("8480-6"), parts.get("8462-4")
        if systolic is None or diastolic is None:
            out.reject(where, "a blood-pressure panel without both systolic and diastolic")
            return
        if not (40 <= systolic <= 300 and 20 <= diastolic <= 200 and diastolic < systolic):
            out.reject(where, f"blood pressure {systolic:g}/{diastolic:g} is not plausible")
            return
        out.add("vitals", {"session_id": None, "minute": None, "patient_id": pid, "measured_at": when,
                           "systolic": int(round(systolic)), "diastolic": int(round(diastolic)), "heart_rate": None,
                           "spo2": None}, where)
    else:   # heart rate or body weight alone: no place for them outside a session yet
        out.skipped["Observation (heart rate or body weight)"] += 1


def _questionnaire(r, out, where, urls):
    items = {}
    total = None

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
        out.skipped["QuestionnaireResponse (not a PHQ-9)"] += 1
        return
    if r.get("status") not in ("completed", "amended"):
        out.reject(where, f"status {r.get('status')!r} is not completed or amended")
        return
    pid = _ref_id((r.get("subject") or {}).get("reference"), urls)
    when = _when(r.get("authored"))
    if pid is None or when is None:
        out.reject(where, "no subject or no authored date")
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


def _condition(r, out, urls):
    pid = _ref_id((r.get("subject") or {}).get("reference"), urls)
    for code in _codes(r.get("code")):
        diagnosis = SNOMED.get(code) or next((d for prefix, d in ICD10 if code.startswith(prefix)), None)
        if diagnosis and pid:
            out.diagnoses.setdefault(pid, diagnosis)
            return
    out.skipped["Condition (not a depressive disorder)"] += 1


def _medication(r, out, where, urls):
    concept = r.get("medicationCodeableConcept") or {}
    text = " ".join([concept.get("text") or ""] + [c.get("display") or "" for c in concept.get("coding", []) or []]).lower()
    drug = next((d for d in ANTIDEPRESSANTS if d in text), None)
    if drug is None:
        out.skipped[f"{r['resourceType']} (not an antidepressant)"] += 1
        return
    pid = _ref_id((r.get("subject") or {}).get("reference"), urls)
    strength = re.search(r"(\d+(?:\.\d+)?)\s*mg\b", text)
    dosage = (r.get("dosageInstruction") or r.get("dosage") or [{}])[0] if isinstance(
        r.get("dosageInstruction") or r.get("dosage"), list) else {}
    repeat = ((dosage or {}).get("timing") or {}).get("repeat") or {}
    per_day = 1
    if repeat.get("frequency") and repeat.get("period") and repeat.get("periodUnit") == "d":
        per_day = repeat["frequency"] / repeat["period"]
    bounds = repeat.get("boundsPeriod") or {}
    start = _when(r.get("whenHandedOver") or bounds.get("start") or (r.get("effectivePeriod") or {}).get("start")
                  or r.get("effectiveDateTime") or r.get("authoredOn"))
    if pid is None or start is None:
        out.reject(where, "no subject or no start date")
        return
    if strength is None:
        out.reject(where, f"{drug} without a strength in mg: the daily dose is unknown")
        return
    end = _when(bounds.get("end") or (r.get("effectivePeriod") or {}).get("end"))
    supply = (r.get("daysSupply") or {}).get("value")
    if end is None and supply:
        end = start + dt.timedelta(days=float(supply))
    out.add("antidepressant_trials", {"patient_id": pid, "drug": drug,
                                      "dose_mg_per_day": float(strength.group(1)) * per_day,
                                      "start_date": start.date(), "end_date": end.date() if end else None,
                                      "outcome": "unknown", "current_episode": True}, where)
