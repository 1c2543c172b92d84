"""The Import page: a dry-run report first, then one transaction; a rejected file changes nothing."""

import pytest

from kdash import demo
from kdash.store import db
from tests.app.session import signed_in
from tests.conftest import ROOT, use_store

SAMPLE = ROOT / "data" / "sample_import"


@pytest.fixture
def own_store(tmp_path, monkeypatch):
    """A clinic's own store, as init makes it, holding 30 patients of an earlier import: these tests write."""
    import streamlit as st
    from kdash import settings
    from kdash.importers import importing
    from kdash.store import clinic_store
    from tests.reliability.clinic_csv import write_folder
    demo_path = str(tmp_path / "source.duckdb")
    demo.build(demo_path, patients=30, seed=4)
    path = str(tmp_path / "own.duckdb")
    con = clinic_store.create(path)
    write_folder(demo_path, tmp_path / "earlier")
    assert importing.run(con, settings.load(path), [str(tmp_path / "earlier")]).ok
    con.close()
    yield use_store(path, monkeypatch)
    st.cache_resource.clear()


def open_page(files):
    at = signed_in("admin").run()
    at.switch_page("pages/import_data.py").run()
    at.file_uploader[0].set_value([(name, data, "text/csv") for name, data in files])
    return at.run()


def sample_files():
    return [(f.name, f.read_bytes()) for f in sorted(SAMPLE.glob("*.csv"))]


def count(path, table):
    con = db.connect(path, create=False)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_page_offers_templates_and_asks_for_files(own_store):
    at = signed_in("admin").run()
    at.switch_page("pages/import_data.py").run()
    assert not at.exception
    assert "Choose files" in at.info[0].value


def test_import_report_and_confirm(own_store):
    from kdash import settings
    from kdash.importers import importing
    con = db.connect(own_store, create=False)
    try:
        report = importing.run(con, settings.load(own_store), [str(SAMPLE)], dry_run=True)
        assert report.written["patients"] == 2
        assert count(own_store, "patients") == 30            # a dry run writes nothing
    finally:
        con.close()


def test_upload_shows_the_report_then_imports_in_one_go(own_store):
    at = open_page(sample_files())
    assert not at.exception
    report = at.dataframe[0].value.set_index("table")
    assert report.loc["patients", "new (would be added)"] == 2
    assert count(own_store, "patients") == 30
    at.button[0].click().run()
    assert not at.exception
    assert "Imported: 2 patients" in at.success[0].value
    assert count(own_store, "patients") == 32


def test_a_rejected_file_is_explained_and_nothing_is_written(own_store):
    files = sample_files() + [("assessments.csv", b"patient_id,assessed_on,scale,total\nC001,2026-10-09,MADRS,75\n")]
    files = [f for f in files if f[0] != "assessments.csv" or b"75" in f[1]]
    at = open_page(files)
    assert not at.exception
    assert "problem(s) found" in at.error[0].value
    problems = at.dataframe[1].value["problem"].tolist()
    assert problems == ["assessments.csv:2: MADRS total 75 is outside 0–60"]
    assert at.button[0].disabled
    assert count(own_store, "patients") == 30


def test_a_demo_store_takes_an_import_only_as_a_marked_trial(writable_app_store):
    path = writable_app_store(30, 4)
    at = open_page(sample_files())
    assert not at.exception
    assert any("synthetic demo store" in w.value and "kdash init" in w.value for w in at.warning)
    assert "synthetic demo store" in at.dataframe[1].value["problem"].tolist()[0]
    assert at.button[0].disabled and count(path, "patients") == 30
    at.checkbox[1].check().run()                          # "Import into this demo store anyway, as a trial"
    assert not at.exception and not at.error
    at.button[0].click().run()
    assert "Imported: 2 patients" in at.success[0].value and count(path, "patients") == 32
    con = db.connect(path, create=False)         # as the app's own connection is configured
    assert db.is_demo(con)
    con.close()


def test_a_fhir_upload_shows_what_each_kind_of_record_became_and_the_unmapped_codes(own_store):
    """Issue 30: the Import page names every loss: per resource type and code, imported / left out and why /
    rejected, and the codes kdash could not map."""
    import json
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "F1", "birthDate": "1980-01-01", "gender": "female"}},
        {"resource": {"resourceType": "Observation", "id": "w", "status": "final", "subject": {"reference": "Patient/F1"},
                      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
                      "effectiveDateTime": "2026-01-05", "valueQuantity": {"value": 70, "unit": "kg"}}},
        {"resource": {"resourceType": "Observation", "id": "rr", "status": "final", "subject": {"reference": "Patient/F1"},
                      "code": {"coding": [{"system": "http://loinc.org", "code": "9279-1",
                                           "display": "Respiratory rate"}]},
                      "effectiveDateTime": "2026-01-05", "valueQuantity": {"value": 14, "unit": "/min"}}}]}
    at = signed_in("admin").run()
    at.switch_page("pages/import_data.py").run()
    at.file_uploader[0].set_value([("export.json", json.dumps(bundle).encode(), "application/json")])
    at.run()
    assert not at.exception
    tables = [d.value for d in at.dataframe]
    by_resource = next(t for t in tables if "left out, and why" in t.columns).set_index("code")
    assert "body weight" in by_resource.loc["29463-7", "left out, and why"]
    assert by_resource.loc["9279-1", "left out, and why"].startswith("a code kdash does not read")
    unmapped = next(t for t in tables if "count" in t.columns)
    assert list(unmapped["code"]) == ["9279-1"] and list(unmapped["display"]) == ["Respiratory rate"]


def test_an_unknown_header_is_shown_as_the_text_it_is_never_as_markup(own_store):
    """Issue 31: the Import page put an unknown CSV header into a warning as markdown (a link, bold, HTML)."""
    header = "patient_id,birth_date,sex,**bold** [click](http://x.example) <b>tag</b>\n"
    at = open_page([("patients.csv", (header + "Q1,1980-01-01,F,1\n").encode())])
    assert not at.exception
    warning = next(w.value for w in at.warning if "unknown column" in w.value)
    assert "\\*\\*bold\\*\\*" in warning and "\\[click\\]\\(http" in warning and "\\<b\\>" in warning
