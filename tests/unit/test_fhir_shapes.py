"""The shapes a FHIR export takes that the fixtures do not all show (issue 30), hand-built resource by resource:
blood pressure as a 55284-4 panel or as separate systolic and diastolic Observations, units, readings in the future;
Conditions by value set and by ICD-10-CM category with their clinical and verification status; medications with their
status and dates merged into trials; deaths, identifiers and names."""

from __future__ import annotations

import datetime as dt

import pytest

from kdash.importers import fhir

TODAY = dt.date(2026, 12, 3)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def patient(pid="P1", **extra):
    return {"resourceType": "Patient", "id": pid, "birthDate": "1970-01-01", "gender": "female", **extra}


def obs(oid, code, when="2026-05-01T09:30:00+02:00", value=None, unit="mm[Hg]", components=(), status="final"):
    r = {"resourceType": "Observation", "id": oid, "status": status, "subject": {"reference": "Patient/P1"},
         "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": when}
    if value is not None:
        r["valueQuantity"] = {"value": value, "unit": unit, "code": unit}
    if components:
        r["component"] = [{"code": {"coding": [{"system": LOINC, "code": c}]},
                           "valueQuantity": {"value": v, "unit": u, "code": u}} for c, v, u in components]
    return r


def condition(cid, system, code, display, clinical="active", verified=None, onset="2025-01-10", **extra):
    r = {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/P1"},
         "code": {"coding": [{"system": system, "code": code, "display": display}]}, "onsetDateTime": onset, **extra}
    if clinical:
        r["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verified:
        r["verificationStatus"] = {"coding": [{"code": verified}]}
    return r


def order(mid, drug, authored, status="active", supply=None, kind="MedicationRequest"):
    r = {"resourceType": kind, "id": mid, "status": status, "subject": {"reference": "Patient/P1"},
         "medicationCodeableConcept": {"text": f"{drug} 20 MG Oral Tablet"}}
    if kind == "MedicationRequest":
        r["authoredOn"] = authored
        if supply:
            r["dispenseRequest"] = {"expectedSupplyDuration": {"value": supply, "unit": "days", "code": "d"}}
    else:
        r["whenHandedOver"] = authored
        r["daysSupply"] = {"value": supply or 30}
    return r


def convert(*rs):
    return fhir.convert([("t.json", r) for r in rs], TODAY)


def vitals(out):
    return sorted((v["measured_at"], v["systolic"], v["diastolic"], v["heart_rate"], v["spo2"])
                  for v in out.rows.get("vitals", []))


AT = dt.datetime(2026, 5, 1, 9, 30)


@pytest.mark.parametrize("panel", ["85354-9", "55284-4"])
def test_a_blood_pressure_panel_of_either_code_with_its_components(panel):
    out = convert(patient(), obs("bp", panel, components=[("8480-6", 138, "mm[Hg]"), ("8462-4", 86, "mm[Hg]")]))
    assert out.problems == [] and vitals(out) == [(AT, 138, 86, None, None)]


def test_separate_systolic_and_diastolic_are_paired_by_time_and_heart_rate_and_spo2_kept_with_them():
    out = convert(patient(), obs("s", "8480-6", value=141), obs("d", "8462-4", value=92),
                  obs("hr", "8867-4", value=71, unit="/min"), obs("o2", "59408-5", value=97, unit="%"),
                  obs("s2", "8480-6", when="2026-05-02T09:00:00", value=120))          # its diastolic is missing
    assert vitals(out) == [(AT, 141, 92, 71, 97)]
    assert ("t.json: Observation/s2", "one half of a blood pressure without the other at the same time") in out.losses


def test_units_are_checked_kpa_converted_and_weight_named_as_not_kept():
    out = convert(patient(), obs("bp", "85354-9", components=[("8480-6", 18.0, "kPa"), ("8462-4", 12.0, "kPa")]),
                  obs("x", "85354-9", when="2026-05-03T09:00:00", components=[("8480-6", 140, "%"),
                                                                               ("8462-4", 90, "mm[Hg]")]),
                  obs("w", "29463-7", value=81, unit="kg"))
    assert vitals(out) == [(AT, 135, 90, None, None)]                          # 18 kPa = 135 mmHg, 12 kPa = 90
    assert out.problems == ["t.json: Observation/x: systolic unit '%' is not mmHg"]
    assert any(where.endswith("Observation/w") and "body weight" in why for where, why in out.losses)


def test_a_reading_dated_after_tomorrow_is_a_problem_not_data():
    out = convert(patient(), obs("bp", "85354-9", when="2026-12-05T08:00:00",
                                 components=[("8480-6", 130, "mm[Hg]"), ("8462-4", 80, "mm[Hg]")]),
                  obs("ok", "85354-9", when="2026-12-04T08:00:00",
                      components=[("8480-6", 130, "mm[Hg]"), ("8462-4", 80, "mm[Hg]")]))
    assert out.problems == ["t.json: Observation/bp: a reading dated 2026-12-05 is in the future"]
    assert len(out.rows["vitals"]) == 1                                         # tomorrow is still today's work


@pytest.mark.parametrize("resource, diagnosis, items", [
    (condition("c", SNOMED, "370143000", "Major depressive disorder (disorder)"), "mdd", set()),
    (condition("c", ICD, "F33.2", "Major depressive disorder, recurrent severe without psychotic features"), "mdd",
     set()),
    (condition("c", ICD, "F3341", "MDD, recurrent, in partial remission"), "mdd", set()),        # no dot
    (condition("c", ICD, "F34.1", "Dysthymic disorder"), "pdd", set()),
    (condition("c", ICD, "F31.5", "Bipolar disorder, current episode depressed, severe, with psychotic features"),
     "bipolar_depression", {"psychosis_current"}),
    (condition("c", SNOMED, "10875004", "Severe mixed bipolar I disorder with psychotic features, mood-incongruent "
                                        "(disorder)"), "other", {"psychosis_current"}),
    (condition("c", SNOMED, "10875004", "Severe mixed bipolar I disorder with psychotic features, mood-incongruent "
                                        "(disorder)", clinical="resolved"), "other", {"psychotic_disorder_history"}),
    (condition("c", SNOMED, "370143000", "Major depressive disorder (disorder)", verified="refuted"), None, set()),
    (condition("c", ICD, "I67.1", "Cerebral aneurysm, nonruptured"), None, {"aneurysmal_vascular_disease"}),
    (condition("c", ICD, "I61.9", "Nontraumatic intracerebral hemorrhage, unspecified", clinical="resolved"), None,
     {"intracerebral_hemorrhage"}),                                                 # a history counts
    (condition("c", SNOMED, "6525002", "Dependent drug abuse (disorder)"), None, {"substance_use_disorder_3m"}),
    (condition("c", SNOMED, "6525002", "Dependent drug abuse (disorder)", clinical="resolved",
               abatementDateTime="2020-01-01"), None, set()),                       # not in the past 3 months
    (condition("c", ICD, "F20.9", "Schizophrenia, unspecified", clinical=None), None, {"psychotic_disorder_history"}),
])
def test_conditions_by_value_set_category_and_words_with_their_status(resource, diagnosis, items):
    out = convert(patient(), resource)
    assert out.problems == []
    assert out.rows["patients"][0]["primary_diagnosis"] == diagnosis
    found = {r["item"] for r in out.rows.get("screening", [])}
    assert found == items
    for row in out.rows.get("screening", []):
        assert row["status"] == "present" and row["source"].startswith("from the record: Condition '")


def test_an_active_diagnosis_wins_over_a_resolved_one_and_a_ketamine_allergy_is_a_contraindication():
    allergy = {"resourceType": "AllergyIntolerance", "id": "a", "patient": {"reference": "Patient/P1"},
               "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6130",
                                    "display": "ketamine"}]}, "recordedDate": "2019-04-02"}
    out = convert(patient(), condition("old", ICD, "F31.9", "Bipolar disorder, unspecified", clinical="resolved",
                                       onset="2010-01-01"),
                  condition("now", ICD, "F32.2", "Major depressive disorder, single episode, severe"), allergy)
    assert out.rows["patients"][0]["primary_diagnosis"] == "mdd"
    assert [(r["item"], r["source"]) for r in out.rows["screening"] if r["item"] == "ketamine_hypersensitivity"] == \
        [("ketamine_hypersensitivity", "from the record: AllergyIntolerance 'ketamine', 2019-04-02")]


def trials(out):
    return sorted((t["drug"], t["start_date"], t["end_date"], t["outcome"], t["current_episode"])
                  for t in out.rows.get("antidepressant_trials", []))


def test_a_stop_then_a_new_order_eight_days_later_is_one_trial_with_real_dates():
    out = convert(patient(), order("m1", "fluoxetine", "2025-03-01", status="stopped", supply=60),
                  order("m2", "fluoxetine", "2025-05-08", status="completed", supply=30))
    assert trials(out) == [("fluoxetine", dt.date(2025, 3, 1), dt.date(2025, 6, 7), "unknown", True)]


def test_an_active_order_is_ongoing_and_cancelled_or_mistaken_ones_are_no_trial():
    out = convert(patient(), order("a", "sertraline", "2026-10-01", supply=90),
                  order("b", "citalopram", "2026-01-01", status="entered-in-error"),
                  order("c", "bupropion", "2026-01-01", status="cancelled"))
    assert trials(out) == [("sertraline", dt.date(2026, 10, 1), None, "ongoing", True)]
    assert {why for _, why in out.losses} >= {"status entered-in-error: not taken", "status cancelled: not taken"}


def test_impossible_medication_dates_are_problems_with_their_reason():
    out = convert(patient(deceasedDateTime="2020-06-01"),
                  order("before", "sertraline", "1960-01-01"), order("after", "paroxetine", "2021-01-01"),
                  order("future", "citalopram", "2027-01-01"))
    assert sorted(out.problems) == [
        "t.json: MedicationRequest/after: paroxetine starts 2021-01-01 is after the patient's death (2020-06-01)",
        "t.json: MedicationRequest/before: sertraline starts 1960-01-01 is before the patient's birth (1970-01-01)",
        "t.json: MedicationRequest/future: citalopram starts 2027-01-01 is in the future"]


def test_a_trial_ended_before_the_current_episode_began_is_of_an_earlier_episode():
    out = convert(patient(), condition("dx", ICD, "F33.1", "MDD, recurrent, moderate", onset="2025-01-10"),
                  order("old", "sertraline", "2023-01-01", status="completed", supply=90, kind="MedicationDispense"),
                  order("new", "duloxetine", "2025-02-01", status="completed", supply=60, kind="MedicationDispense"))
    assert trials(out) == [("duloxetine", dt.date(2025, 2, 1), dt.date(2025, 4, 2), "unknown", True),
                           ("sertraline", dt.date(2023, 1, 1), dt.date(2023, 4, 1), "unknown", False)]


def test_a_death_the_mrn_other_identifiers_and_the_official_name():
    out = convert(patient(deceasedBoolean=True, name=[{"use": "old", "family": "Before", "given": ["Ada"]},
                                                      {"use": "official", "family": "Lovelace", "given": ["Ada"]}],
                          identifier=[{"type": {"coding": [{"code": "MR"}]}, "system": "urn:h", "value": "M-7"},
                                      {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-00-1111"}]))
    row = out.rows["patients"][0]
    assert (row["deceased"], row["deceased_on"], row["mrn"], row["family_name"]) == (True, None, "M-7", "Lovelace")
    assert sorted((i["system"], i["value"], i["type"]) for i in out.rows["patient_identifiers"]) == [
        ("http://hl7.org/fhir/sid/us-ssn", "999-00-1111", None), ("urn:h", "M-7", "MR")]
    dead = convert(patient(deceasedDateTime="1960-01-01"))
    assert dead.problems == ["t.json: Patient/P1: deceasedDateTime 1960-01-01 is before birthDate 1970-01-01"]
