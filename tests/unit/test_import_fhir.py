"""FHIR R4 import (data-contract §4) on real third-party files (tests/fixtures/fhir, see SOURCES.md there)."""

import datetime as dt
import json
import subprocess
import sys

import pytest

from kdash import settings
from kdash.importers import importing
from kdash.store import clinic_store
from tests.conftest import ROOT

CFG = settings.load()
FIXTURES = ROOT / "tests" / "fixtures" / "fhir"


@pytest.fixture
def store(tmp_path):
    path = str(tmp_path / "f.duckdb")
    con = clinic_store.create(path)      # a clinic's own store, as init makes it
    yield con
    con.close()


def counts(con, sql):
    return con.execute(sql).fetchall()


def test_us_core_phq9_total_as_string_and_questionnaire_summed_from_answer_codes(store, tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "patients.csv").write_text("patient_id,birth_date,sex\nexample,1970-01-01,F\n")   # US Core's patient
    assert importing.run(store, CFG, [str(folder)]).ok
    rep = importing.run(store, CFG, [str(FIXTURES / "us_core_phq9")])
    assert rep.ok, rep.problems
    # the total Observation (valueString "12") and the questionnaire (items from LOINC answer codes) are
    # the same PHQ-9: one assessment, total 12, with the items that sum to it
    rows = counts(store, "SELECT scale, total, items FROM assessments WHERE patient_id = 'example'")
    assert len(rows) == 1 and rows[0][:2] == ("PHQ9", 12) and sum(rows[0][2]) == 12 and len(rows[0][2]) == 9
    assert rep.skipped == {"Observation (a code kdash does not read)": 1}      # the 44249-1 panel
    assert rep.fhir["unmapped"] == [{"resource": "Observation", "system": "LOINC", "code": "44249-1",
                                     "display": rep.fhir["unmapped"][0]["display"], "count": 1}]


def test_synthea_bundle_urn_uuid_offsets_bp_panels(store):
    rep = importing.run(store, CFG, [str(FIXTURES / "synthea_auc_fhir")])
    assert rep.ok, rep.problems
    pid = counts(store, "SELECT patient_id FROM patients WHERE family_name LIKE 'MacGyver%'")[0][0]
    assert dict(counts(store, f"SELECT scale, count(*) FROM assessments WHERE patient_id = '{pid}' GROUP BY scale")) \
        == {"PHQ2": 4, "GAD7": 3, "PHQ9": 1}
    assert counts(store, f"SELECT count(*) FROM vitals WHERE patient_id = '{pid}' AND session_id IS NULL") == [(5,)]
    # +10:00 offsets keep their own wall-clock time
    assert counts(store, f"SELECT min(hour(measured_at)) >= 0 FROM vitals WHERE patient_id = '{pid}'") == [(True,)]


def test_cms159_impossible_values_and_non_final_statuses_are_rejected_with_reasons(store):
    before = counts(store, "SELECT count(*) FROM assessments")
    today = dt.date(2026, 12, 3)                  # the test cases' measurement period runs into 2027
    rep = importing.run(store, CFG, [str(FIXTURES / "cms159_fhir_testcases")], today=today)
    assert not rep.ok
    assert sorted(p.split(": ", 2)[2] for p in rep.problems) == [
        "PHQ-9 value 300 is outside 0–27", "PHQ-9 value 300 is outside 0–27",
        "a reading dated 2027-02-19 is in the future",
        "status 'unknown' is not final, amended or corrected", "status 'unknown' is not final, amended or corrected"]
    assert counts(store, "SELECT count(*) FROM assessments") == before          # all or nothing
    rep = importing.run(store, CFG, [str(FIXTURES / "cms159_fhir_testcases")], skip_invalid=True, today=today)
    assert rep.written["patients"] == 67 and rep.written["assessments"] == 114
    assert counts(store, "SELECT count(*) FROM patients WHERE primary_diagnosis = 'mdd'")[0][0] >= 40


def test_cms128_dispenses_become_trials_of_unknown_outcome(store):
    rep = importing.run(store, CFG, [str(FIXTURES / "cms128_fhir_testcases")])
    assert rep.ok, rep.problems
    assert {t: n for t, n in rep.written.items() if t in ("patients", "antidepressant_trials")} == \
        {"patients": 29, "antidepressant_trials": 52}
    assert counts(store, "SELECT DISTINCT outcome FROM antidepressant_trials t JOIN patients p USING (patient_id) "
                         "WHERE p.mrn IS NULL") == [("unknown",)]
    again = importing.run(store, CFG, [str(FIXTURES / "cms128_fhir_testcases")])
    assert sum(again.written.values()) == 0                                    # re-import adds nothing


def test_ndjson_and_malformed_resources(store, tmp_path):
    f = tmp_path / "export.ndjson"
    f.write_text('{"resourceType": "Patient", "id": "N1", "birthDate": "1980-02-02", "gender": "male"}\n'
                 '{"resourceType": "Observation", "id": "o1", "status": "preliminary", "code": {"coding": '
                 '[{"system": "http://loinc.org", "code": "44261-6"}]}, "subject": {"reference": "Patient/N1"}, '
                 '"effectiveDateTime": "2026-01-01", "valueInteger": 5}\n'
                 '{"resourceType": "Observation", "id": "o2", "status": "final", "code": {"coding": '
                 '[{"system": "http://loinc.org", "code": "44261-6"}]}, "subject": {"reference": "Patient/N1"}, '
                 '"effectiveDateTime": "2026-01-02", "valueString": "seven"}\n')
    rep = importing.run(store, CFG, [str(f)])
    assert any("Observation/o1: status 'preliminary' is not final" in p for p in rep.problems)
    assert any("Observation/o2: no numeric value for PHQ-9" in p for p in rep.problems)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rep = importing.run(store, CFG, [str(bad)])
    assert any("bad.json: not JSON" in p for p in rep.problems)


def test_cli_imports_fhir_folder(tmp_path):
    path = str(tmp_path / "c.duckdb")
    clinic_store.create(path).close()
    out = subprocess.run([sys.executable, "-m", "kdash", "import", "--db", path, str(FIXTURES / "cms128_fhir_testcases"),
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "added 29 patients, 29 patient_identifiers, 52 antidepressant_trials" in out.stderr


def test_skip_invalid_imports_the_rest_exits_0_and_names_every_rejected_resource_in_the_rejects_file(tmp_path):
    """data-contract §2: with --skip-invalid the valid rows are imported (exit 0) and every resource left out is a
    row of --rejects FILE, FHIR as CSV; without it, nothing is written and the exit code is 1."""
    import csv
    path = str(tmp_path / "c.duckdb")
    clinic_store.create(path).close()
    source = str(FIXTURES / "cms159_fhir_testcases")

    def kdash(*args):
        return subprocess.run([sys.executable, "-m", "kdash", "import", "--db", path, source, *args, "--json"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    refused = kdash()
    assert refused.returncode == 1 and "nothing written" in refused.stderr
    assert duckdb_count(path, "patients") == 0
    rejects = tmp_path / "rejected.csv"
    out = kdash("--skip-invalid", "--rejects", str(rejects))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    rows = list(csv.DictReader(rejects.open(encoding="utf-8")))
    assert doc["rejects_file"] == str(rejects) and doc["rejected"] == len(rows) == len(doc["problems"]) > 0
    assert {f"{r['file']}: {r['reason']}" for r in rows} == set(doc["problems"])
    assert all("Observation/" in r["file"] and r["line"] == "" for r in rows)
    assert f"listed in {rejects}" in out.stderr and "counted and skipped" in out.stderr
    assert duckdb_count(path, "patients") == doc["written"]["patients"] > 0


def duckdb_count(path: str, table: str) -> int:
    import duckdb
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()
