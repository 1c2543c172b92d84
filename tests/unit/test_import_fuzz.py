"""Property-based: malformed CSV rows and FHIR resources never raise, always import or report, and a failed
import leaves every table's content exactly as it was."""

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from kdash import settings
from kdash import demo
from kdash.importers import importing
from kdash.store import db
from tests import builders
from tests.conftest import ROOT

CFG = settings.load()
SAMPLE = ROOT / "data" / "sample_import"
TABLES = ["patients", "antidepressant_trials", "screening", "sessions", "assessments", "vitals", "side_effects"]


def fingerprint(con):
    return builders.fingerprint(con, TABLES)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuzz") / "f.duckdb")
    demo.build(path, patients=15, seed=9)
    con = db.connect(path)
    yield con
    con.close()


cell = st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6).map(str), st.just(""),
                 st.sampled_from(["2026-02-30", "F", "M", "mdd", "MADRS", "PHQ9", "completed", "iv_ketamine",
                                  "4;4;4", "nan", "1e309", "C001", "CS001", "-5", "1;2;3;4;5;6;7;8;9;10"]))


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=st.sampled_from(sorted(p.name for p in SAMPLE.glob("*.csv"))),
       cells=st.lists(cell, min_size=1, max_size=12))
def test_malformed_csv_row(store, tmp_path_factory, file, cells):
    folder = tmp_path_factory.mktemp("in")
    shutil.copy(SAMPLE / file, folder / file)
    with open(folder / file, "a", newline="") as fh:
        fh.write(",".join(c.replace(",", " ").replace("\n", " ").replace("\r", " ") for c in cells) + "\n")
    before = fingerprint(store)
    rep = importing.run(store, CFG, [str(folder)], into_demo=True)
    if rep.problems:
        assert fingerprint(store) == before
        assert all(isinstance(p, str) and p for p in rep.problems)


resource = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["Patient", "Observation", "QuestionnaireResponse", "MedicationDispense",
                                      "Condition", "Bundle"])},
    optional={"id": st.text(max_size=8), "status": st.sampled_from(["final", "preliminary", "completed", ""]),
              "birthDate": st.sampled_from(["1980-01-01", "1980", "not a date", ""]),
              "gender": st.text(max_size=6),
              "subject": st.one_of(st.none(), st.fixed_dictionaries({"reference": st.text(max_size=12)})),
              "code": st.one_of(st.none(), st.just({"coding": [{"code": "44261-6"}]}),
                                st.just({"coding": [{"code": "85354-9"}]}), st.just("oops")),
              "valueInteger": st.one_of(st.integers(-100, 400), st.none()),
              "valueString": st.text(max_size=5), "effectiveDateTime": st.sampled_from(["2026-01-01T10:00:00+10:00",
                                                                                         "bad", ""]),
              "component": st.lists(st.dictionaries(st.text(max_size=6), st.integers()), max_size=2),
              "item": st.lists(st.dictionaries(st.sampled_from(["linkId", "answer"]), st.text(max_size=4)), max_size=3),
              "entry": st.lists(st.dictionaries(st.just("resource"), st.dictionaries(st.text(max_size=4),
                                                                                     st.text(max_size=4))), max_size=2),
              "medicationCodeableConcept": st.one_of(st.none(), st.just({"text": "sertraline 50 mg"}), st.just([]))})


@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resources=st.lists(resource, min_size=1, max_size=4))
def test_malformed_fhir_resources(store, tmp_path_factory, resources):
    f = tmp_path_factory.mktemp("fhir") / "export.ndjson"
    f.write_text("\n".join(json.dumps(r) for r in resources))
    before = fingerprint(store)
    rep = importing.run(store, CFG, [str(f)], into_demo=True)
    if rep.problems:
        assert fingerprint(store) == before
    else:                                   # a clean import can be repeated without adding anything
        again = importing.run(store, CFG, [str(f)], into_demo=True)
        assert sum(again.written.values()) == 0
