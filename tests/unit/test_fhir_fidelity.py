"""FHIR fidelity on real third-party exports (issue 30): what each source file says, read here independently of the
importer (blood pressures, diagnoses with their status, antidepressants with their dates, deaths, MRNs), is either in
the store or named in the import's report with its reason. A silent loss fails."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict

import pytest

from kdash import settings
from kdash.importers import importing
from kdash.store import clinic_store
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "fhir"
SOURCES = ["cms128_fhir_testcases", "cms159_fhir_testcases", "cms165_fhir_testcases", "cms177_fhir_testcases",
           "cms2_fhir_testcases", "synthea_auc_fhir", "synthea_auc_more", "us_core_phq9"]
TODAY = dt.date(2026, 12, 3)          # pinned: the measure test cases run into 2027
CFG = settings.load()
FINAL = {"final", "amended", "corrected"}
ANTIDEPRESSANT = re.compile(r"\b(sertraline|fluoxetine|escitalopram|citalopram|paroxetine|venlafaxine|desvenlafaxine|"
                            r"duloxetine|bupropion|mirtazapine|vortioxetine|nortriptyline|amitriptyline|trazodone|"
                            r"vilazodone|fluvoxamine|imipramine|desipramine|clomipramine|doxepin|phenelzine)\b", re.I)


def resources(folder: str):
    """(file, resource) for every resource of a source, Bundles opened, patient references resolved."""
    out = []
    for f in sorted((FIXTURES / folder).rglob("*.json")):
        doc = json.loads(f.read_text("utf-8-sig"))
        found = [e["resource"] for e in doc.get("entry", [])] if doc.get("resourceType") == "Bundle" else [doc]
        urls = {e.get("fullUrl"): e["resource"].get("id") for e in doc.get("entry", []) or []} \
            if doc.get("resourceType") == "Bundle" else {}
        for r in found:
            out.append((f.name, r, urls))
    return out


def subject(r: dict, urls: dict) -> str | None:
    ref = (r.get("subject") or r.get("patient") or {}).get("reference")
    return urls.get(ref) or (ref.split("/")[-1] if ref else None)


def wall(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fidelity") / "clinic.duckdb")
    con = clinic_store.create(path)
    rep = importing.run(con, CFG, [str(FIXTURES / s) for s in SOURCES], skip_invalid=True, today=TODAY)
    yield con, rep
    con.close()


def accounted(rep) -> dict[str, str]:
    """file: Kind/id → why it was left out (rejected or skipped)."""
    named = {where: reason for where, _, _, reason in rep.rejected_rows}
    named.update(dict(rep.losses))
    return named


def test_every_blood_pressure_is_in_the_store_or_named(imported):
    con, rep = imported
    stored = {(p, m, s, d) for p, m, s, d in con.execute(
        "SELECT patient_id, measured_at, systolic, diastolic FROM vitals").fetchall()}
    why, seen = accounted(rep), 0
    for folder in SOURCES:
        for name, r, urls in resources(folder):
            if r.get("resourceType") != "Observation":
                continue
            codes = {c.get("code") for c in (r.get("code") or {}).get("coding", [])}
            if not codes & {"85354-9", "55284-4"}:
                continue
            seen += 1
            parts = {c.get("code"): (comp.get("valueQuantity") or {}).get("value")
                     for comp in r.get("component", []) for c in comp["code"]["coding"]}
            key = (subject(r, urls), wall(r["effectiveDateTime"]), round(parts.get("8480-6") or -1),
                   round(parts.get("8462-4") or -1))
            where = f"{name}: Observation/{r['id']}"
            assert key in stored or where in why, f"silently lost: {where} {key}"
            if r.get("status") in FINAL and key[1].date() <= TODAY and None not in parts.values():
                assert key in stored, f"a valid reading not stored: {where} ({why.get(where)})"
    assert seen >= 20


def test_depression_diagnoses_with_their_status_and_psychotic_features(imported):
    con, rep = imported
    diagnosis = dict(con.execute("SELECT patient_id, primary_diagnosis FROM patients").fetchall())
    screening = defaultdict(set)
    for pid, item, source in con.execute("SELECT patient_id, item, source FROM screening").fetchall():
        screening[pid].add(item)
        assert source.startswith("from the record: Condition") or source.startswith("from the record: Allergy")
    checked = psychotic = 0
    why = accounted(rep)
    for folder in SOURCES:
        for name, r, urls in resources(folder):
            if r.get("resourceType") != "Condition":
                continue
            verified = ((r.get("verificationStatus") or {}).get("coding") or [{}])[0].get("code")
            words = " ".join(c.get("display") or "" for c in r["code"].get("coding", []))
            icd = [c["code"] for c in r["code"].get("coding", []) if "icd-10" in c.get("system", "")]
            depressive = any(re.match(r"F3[23]|F34\.1|F31\.[345]", c) for c in icd) or \
                re.search(r"major depress|depressive disorder|bipolar", words, re.I)
            pid = subject(r, urls)
            if verified in ("refuted", "entered-in-error") or f"{name}: Condition/{r['id']}" in why:
                continue          # named in the report (refuted, dated in the future, …)
            if depressive and pid in diagnosis:
                checked += 1
                assert diagnosis[pid] is not None, f"{name}: '{words}' gave no diagnosis"
            if re.search(r"with psychotic features", words, re.I) and pid in diagnosis:
                psychotic += 1
                assert screening[pid] & {"psychosis_current", "psychotic_disorder_history"}, f"{name}: '{words}'"
    assert checked >= 60 and psychotic >= 3


def test_antidepressants_become_trials_with_their_dates(imported):
    con, rep = imported
    trials = defaultdict(list)
    for pid, drug, start, end in con.execute(
            "SELECT patient_id, drug, start_date, end_date FROM antidepressant_trials").fetchall():
        trials[(pid, drug)].append((start, end))
    why, checked = accounted(rep), 0
    for folder in SOURCES:
        for name, r, urls in resources(folder):
            kind = r.get("resourceType")
            if kind not in ("MedicationRequest", "MedicationDispense", "MedicationStatement"):
                continue
            concept = r.get("medicationCodeableConcept") or {}
            words = " ".join([concept.get("text") or ""] + [c.get("display") or "" for c in concept.get("coding", [])])
            found = ANTIDEPRESSANT.search(words)
            if not found:
                continue
            where = f"{name}: {kind}/{r['id']}"
            day = (r.get("whenHandedOver") or r.get("authoredOn") or (r.get("effectivePeriod") or {}).get("start"))
            start = wall(day).date()
            course = trials.get((subject(r, urls), found.group(1).lower()), [])
            covered = any(s <= start and (e is None or start <= e) for s, e in course)
            assert covered or where in why, f"silently lost: {where} ({found.group(1)} from {start})"
            checked += 1
    assert checked >= 60


def test_deaths_and_medical_record_numbers_arrive(imported):
    con, rep = imported
    stored = {p: (dead, on, mrn) for p, dead, on, mrn in con.execute(
        "SELECT patient_id, deceased, deceased_on, mrn FROM patients").fetchall()}
    deaths = mrns = 0
    for folder in SOURCES:
        for name, r, urls in resources(folder):
            if r.get("resourceType") != "Patient" or r["id"] not in stored:
                continue
            dead, on, mrn = stored[r["id"]]
            if r.get("deceasedDateTime"):
                deaths += 1
                assert dead and on == wall(r["deceasedDateTime"]).date(), name
            elif r.get("deceasedBoolean"):
                assert dead, name
            else:
                assert not dead, name
            mr = [i["value"] for i in r.get("identifier", []) if "MR" in json.dumps(i.get("type", {}))]
            if mr:
                mrns += 1
                assert mrn == mr[0], name
    assert deaths >= 1 and mrns >= 50


def test_the_report_names_every_kind_of_loss_and_the_unmapped_codes(imported):
    con, rep = imported
    rows = {(r["resource"], r["code"]): r for r in rep.fhir["by_resource"]}
    weight = rows[("Observation", "29463-7")]
    assert weight["imported"] == 0 and "body weight" in next(iter(weight["skipped"]))
    assert rep.fhir["unmapped"] and all({"resource", "system", "code", "display", "count"} <= set(u)
                                        for u in rep.fhir["unmapped"])
    counts = [u["count"] for u in rep.fhir["unmapped"]]
    assert counts == sorted(counts, reverse=True)
    assert any(r["resource"] == "Condition" and r["imported"] for r in rep.fhir["by_resource"])
